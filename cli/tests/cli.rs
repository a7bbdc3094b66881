//! The `mailstate` binary, run as a user runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::STATE_FIELDS;
use crate::util::repo;

fn mailstate(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailstate"));
    cmd.args(args).current_dir(repo()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("run mailstate");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn find<'a>(rows: &'a [Value], message_id: &str, recipient: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["message_id"] == message_id && r["recipient"] == recipient)
        .unwrap_or_else(|| panic!("no state for {message_id}/{recipient}"))
}

#[test]
fn state_of_the_examples_follows_design_to_the_letter() {
    let out = mailstate(&["state", "examples/events.ndjson"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = lines(&out);
    for row in &rows {
        let keys: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = STATE_FIELDS.to_vec();
        want.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, want);
    }
    // A hard bounce retried five times, then two proxy opens: terminal, counted once, 2 late.
    let bob = find(&rows, "ses-0100-B", "bob@example.com");
    assert_eq!(bob["status"], "hard_bounce");
    assert_eq!(bob["terminal"], true);
    assert_eq!(bob["terminal_at"], "2025-11-03T20:01:00.000Z");
    assert_eq!(bob["event_count"], 4);
    assert_eq!(bob["open_count"], 2);
    assert_eq!(bob["late_event_count"], 2);
    assert_eq!(bob["bounce_class"], "hard");
    assert_eq!(bob["diagnostic"], "smtp; 550 5.1.1 user unknown");
    assert_eq!(bob["accepted_at"], "2025-11-03T20:00:59.000Z");
    // The click arrived first in the file and was retried: status click, delivered recorded.
    let ann = find(&rows, "sgA1", "ann@example.com");
    assert_eq!(ann["status"], "click");
    assert_eq!(ann["delivered_at"], "2025-11-03T20:00:02.000Z");
    assert_eq!(ann["click_count"], 1);
    assert_eq!(ann["event_count"], 4);
    // Deferred after delivered changes nothing.
    let eve = find(&rows, "sp-e-1", "eve@example.com");
    assert_eq!(eve["status"], "delivered");
    assert_eq!(eve["deferred_count"], 1);
    // States come out sorted by (message_id, recipient), null first.
    let keys: Vec<(String, String)> =
        rows.iter().map(|r| (r["message_id"].to_string(), r["recipient"].to_string())).collect();
    assert_eq!(rows[0]["message_id"], Value::Null);
    assert!(keys[1..].windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn bad_lines_name_their_line_and_field_and_the_rest_is_processed() {
    let input = concat!(
        r#"{"event_key":"k1","provider":"ses","type":"delivered","provider_type":"Delivery","message_id":"m1","recipient":"ann@example.com"}"#,
        "\n",
        r#"{"event_key":"k2","provider":"ses","type":"open","provider_type":"Open","message_id":"m1","recipient":"ann@example.com","occurred_at":"yesterday"}"#,
        "\n",
        "not json\n",
        r#"{"event_key":"k3","provider":"ses","type":"open","provider_type":"Open","message_id":"m2","recipient":"ann@example.com"}"#,
        "\n",
    );
    let out = mailstate(&["state", "-"], Some(input.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(stderr.contains("<stdin>:2:") && stderr.contains("occurred_at"), "{stderr}");
    assert!(stderr.contains("<stdin>:3:"), "{stderr}");
    assert_eq!(lines(&out).len(), 2);
}

#[test]
fn no_file_argument_reads_stdin() {
    let input = br#"{"event_key":"k1","provider":"ses","type":"complaint","provider_type":"Complaint","message_id":"m1","recipient":"ann@example.com"}"#;
    let out = mailstate(&["suppressions"], Some(input));
    assert!(out.status.success());
    let rows = lines(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["reason"], "complaint");
}

#[test]
fn suppressions_of_the_examples_follow_the_default_policy() {
    let out = mailstate(&["suppressions", "examples/events.ndjson"], None);
    assert!(out.status.success());
    let got: Vec<(String, String, String)> = lines(&out)
        .iter()
        .map(|r| {
            (
                r["recipient"].as_str().unwrap().to_owned(),
                r["scope"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("bob@example.com", "all", "hard_bounce"),
        ("cara@example.com", "all", "complaint"),
        // dan unsubscribed from newsletter, resubscribed later; product is still off.
        ("dan@example.com", "stream:product", "unsubscribe"),
        ("fay@example.com", "all", "soft_bounces"),
    ];
    let want: Vec<(String, String, String)> =
        want.iter().map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into())).collect();
    assert_eq!(got, want);
}

#[test]
fn a_policy_file_changes_suppression_scope() {
    let dir = std::env::temp_dir().join(format!("mailstate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.json");
    std::fs::write(&policy, br#"{"complaint":"stream","soft_bounce":null}"#).unwrap();
    let out = mailstate(
        &["suppressions", "--policy", policy.to_str().unwrap(), "examples/events.ndjson"],
        None,
    );
    assert!(out.status.success());
    let rows = lines(&out);
    let cara = rows.iter().find(|r| r["recipient"] == "cara@example.com").unwrap();
    assert_eq!(cara["scope"], "stream:broadcast");
    assert!(rows.iter().all(|r| r["reason"] != "soft_bounces"));

    std::fs::write(&policy, br#"{"complaint":"sometimes"}"#).unwrap();
    let out = mailstate(
        &["suppressions", "--policy", policy.to_str().unwrap(), "examples/events.ndjson"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("mailstate: ") && stderr.contains("complaint"), "{stderr}");
}

#[test]
fn route_drops_retries_and_sends_terminal_events_to_suppress() {
    let out = mailstate(&["route", "examples/events.ndjson"], None);
    assert!(out.status.success());
    let rows = lines(&out);
    assert_eq!(rows.len(), 26);
    let bounces: Vec<&str> = rows
        .iter()
        .filter(|r| r["event"]["event_key"] == "ses:8d1f-bounce:bob@example.com")
        .map(|r| r["route"].as_str().unwrap())
        .collect();
    assert_eq!(bounces, ["suppress", "drop", "drop", "drop", "drop"]);
    let click = rows.iter().find(|r| r["event"]["type"] == "click").unwrap();
    assert_eq!(click["route"], "analytics");
}

#[test]
fn normalize_passes_valid_canonical_events_through() {
    let out = mailstate(&["normalize", "--provider", "ndjson", "examples/events.ndjson"], None);
    assert!(out.status.success());
    let rows = lines(&out);
    assert_eq!(rows.len(), 26);
    let original: Vec<Value> = std::fs::read_to_string(repo().join("examples/events.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Same events; absent optional fields are written out explicitly as null / [] / {}.
    for (a, b) in rows.iter().zip(&original) {
        for (k, v) in b.as_object().unwrap() {
            assert_eq!(&a[k], v, "field {k}");
        }
    }
}

#[test]
fn unknown_provider_is_a_clear_error() {
    let out = mailstate(&["normalize", "--provider", "sendgird", "examples/events.ndjson"], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("unknown provider \"sendgird\"") && stderr.contains("sendgrid"),
        "{stderr}"
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = mailstate(&["state", "no/such/file.ndjson"], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("mailstate: cannot open no/such/file.ndjson"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let out = mailstate(&["state", "--frobnicate"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_subcommand_explains_itself_with_an_example() {
    for sub in ["state", "suppressions", "route", "normalize", "verify"] {
        let out = mailstate(&[sub, "--help"], None);
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains("Example:") && help.contains(&format!("mailstate {sub}")),
            "{sub}: {help}"
        );
    }
}

#[test]
fn normalize_auto_recognizes_the_provider_and_says_so() {
    let out = mailstate(
        &["normalize", "--provider", "auto", "examples/payloads/sparkpost-webhook-batch.json"],
        None,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(stderr.contains("recognized as sparkpost"), "{stderr}");
    let rows = lines(&out);
    assert!(!rows.is_empty() && rows.iter().all(|r| r["provider"] == "sparkpost"));

    let out = mailstate(&["normalize", "--provider", "auto", "-"], Some(b"[]"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("name the provider explicitly"), "{stderr}");
}

#[test]
fn provider_payloads_normalize_and_reduce_end_to_end() {
    let out = mailstate(
        &[
            "normalize",
            "--provider",
            "ses",
            "--header",
            "x-amz-sns-message-type: Notification",
            "--header",
            "x-amz-sns-message-id: 6b1a2c3d-0000-4000-8000-000000000001",
            "examples/payloads/ses-sns-permanent-bounce.json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let states = mailstate(&["state", "-"], Some(&out.stdout));
    assert!(states.status.success());
    let rows = lines(&states);
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["status"] == "hard_bounce" && r["terminal"] == true), "{rows:?}");
}

fn plugin_path() -> String {
    std::env::var("MAILSTATE_PLUGIN").unwrap_or_else(|_| {
        repo().join("wasm/dist/mailstate_plugin.wasm").to_string_lossy().into_owned()
    })
}

#[test]
fn state_with_the_wasm_plugin_prints_the_same_bytes_and_says_which_rules_ran() {
    let events = repo().join("examples/events.ndjson");
    let events = events.to_str().unwrap();
    let native = mailstate(&["state", "--verbose", events], None);
    let plugin_file = plugin_path();
    let plugin = mailstate(&["state", "--rules", &plugin_file, "--verbose", events], None);
    assert!(native.status.success() && plugin.status.success());
    assert!(!native.stdout.is_empty());
    assert_eq!(String::from_utf8_lossy(&plugin.stdout), String::from_utf8_lossy(&native.stdout));
    let said = String::from_utf8_lossy(&native.stderr);
    assert!(said.contains("rules: native (mailstate "), "{said}");
    let said = String::from_utf8_lossy(&plugin.stderr);
    assert!(said.contains(&format!("rules: plugin {plugin_file} (abi 1, sha256 ")), "{said}");
}

#[test]
fn sql_with_the_wasm_plugin_gives_the_native_answer() {
    let events = repo().join("examples/events.ndjson");
    let query = format!(
        "SELECT message_id, recipient,
                get_field(message_state(type, occurred_at, event_key, bounce_class, diagnostic),
                          'status') AS status,
                max(event_rank(type)) AS top_rank
         FROM provider_events('ndjson', '{}')
         GROUP BY message_id, recipient ORDER BY message_id, recipient",
        events.display()
    );
    let plugin_file = plugin_path();
    let native = mailstate(&["sql", "--format", "csv", &query], None);
    let plugin = mailstate(&["sql", "--rules", &plugin_file, "--format", "csv", &query], None);
    assert!(native.status.success(), "{}", String::from_utf8_lossy(&native.stderr));
    assert!(plugin.status.success(), "{}", String::from_utf8_lossy(&plugin.stderr));
    assert!(String::from_utf8_lossy(&native.stdout).lines().count() > 3);
    assert_eq!(native.stdout, plugin.stdout);
}

#[test]
fn a_file_that_is_not_a_plugin_is_a_clear_error() {
    let out = mailstate(&["state", "--rules", "README.md", "examples/events.ndjson"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot load the rules plugin README.md"), "{err}");
}

#[test]
fn demo_ingests_every_bundled_provider_and_prints_the_sql_results() {
    let out = mailstate(&["demo"], None);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // One summary line per provider folder of examples/demo (the counts are explained in
    // tests/queries.rs, which checks every query's rows).
    for line in [
        "sendgrid   7 bodies (6 new), 11 events, 3 duplicates skipped, 0 errors",
        "ses        5 bodies (5 new), 9 events, 0 duplicates skipped, 0 errors",
        "mailgun    3 bodies (3 new), 6 events, 2 duplicates skipped, 0 errors",
        "postmark   4 bodies (4 new), 4 events, 0 duplicates skipped, 0 errors",
        "sparkpost  1 bodies (1 new), 8 events, 0 duplicates skipped, 0 errors",
    ] {
        assert!(stdout.lines().any(|l| l == line), "no line {line:?} in\n{stdout}");
    }
    for section in [
        "== message states",
        "== suppression list",
        "== deliverability by provider, recipient domain and day",
        "== revenue by campaign (sends.csv joined to message state)",
    ] {
        assert!(stdout.contains(section), "no {section:?} in\n{stdout}");
    }
    assert!(stdout.contains("| gina@example.org  | all   | soft_bounces |"), "{stdout}");
    assert!(stdout.contains("| fall-sale | 10    | 6         | 3       | 292.5   |"), "{stdout}");
}

#[test]
fn bench_sql_variants_agree_on_a_small_generated_store() {
    let out = mailstate(
        &[
            "bench",
            "sql",
            "--events",
            "5000",
            "--variant",
            "message_state",
            "--variant",
            "handwritten-datafusion",
            "--variant",
            "message_state-plugin",
            "--plugin",
            &plugin_path(),
        ],
        None,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("seed 1: 1000 messages, "), "{stdout}");
    assert!(stdout.contains("| message_state |"), "{stdout}");
    assert!(stdout.contains("| message_state-plugin |"), "{stdout}");
    assert!(stdout.contains("rules: plugin "), "the plugin run says which rules ran: {stdout}");
    assert!(stdout.contains("| handwritten-datafusion |"), "{stdout}");
    assert!(stdout.contains("all variants agree"), "{stdout}");

    let out = mailstate(&["bench", "sql", "--variant", "nope"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_query_error_names_its_cause_once() {
    // A table without a `type` column: DataFusion's planner error carries its cause's text
    // inside its own, so a plain error chain would print it two or three times.
    let out = mailstate(
        &["sql", "SELECT message_state(type, occurred_at, event_key) FROM (VALUES (1)) AS t(x)"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("mailstate: "), "{stderr}");
    assert_eq!(stderr.matches("No field named type").count(), 1, "{stderr}");
}

/// `ingest --provider arf DIR` reads a folder of .eml feedback reports (an ISP's, Microsoft
/// JMRP's, Yahoo CFL's), one complaint each; a message that is not a report is refused with
/// the part named. See issue 18.
#[test]
fn r18_ingest_arf_reads_a_folder_of_feedback_reports() {
    let dir = std::env::temp_dir().join(format!("mailstate-arf-{}", std::process::id()));
    let store = dir.to_string_lossy().into_owned();
    let out =
        mailstate(&["ingest", "--provider", "arf", "--out", &store, "examples/payloads/arf"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.trim(), "3 bodies (3 new), 3 events, 0 duplicates skipped, 0 errors");
    let out = mailstate(
        &[
            "sql",
            "--events",
            &store,
            "--format",
            "json",
            "SELECT recipient, type FROM events ORDER BY recipient",
        ],
        None,
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(
        rows,
        serde_json::json!([
            {"recipient": "kim@outlook.example", "type": "complaint"},
            {"recipient": "lee@yahoo.example", "type": "complaint"},
            {"recipient": "tom@isp.example", "type": "complaint"},
        ]),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let not_a_report = b"From: a@example.com\nContent-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b--\n";
    let out = mailstate(&["normalize", "--provider", "arf"], Some(not_a_report));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("arf: invalid value at part[2]: expected a message/feedback-report part"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sql --memory-limit` runs the query in a bounded memory pool and gives the unlimited
/// answer; its spill folder is gone afterwards. See issue 15.
#[test]
fn r15_sql_under_a_memory_limit_gives_the_unlimited_answer_and_cleans_up() {
    let dir = std::env::temp_dir().join(format!("mailstate-r15-{}", std::process::id()));
    let store = dir.to_string_lossy().into_owned();
    let out = mailstate(&["generate", "--messages", "3000", "--out", &store], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let query = "SELECT message_id, recipient, message_state(type, occurred_at, event_key, \
                 bounce_class, diagnostic, automated, bounce_category) AS s FROM events \
                 GROUP BY message_id, recipient ORDER BY message_id, recipient";
    let args = ["sql", "--events", &store, "--format", "json", query];
    let unlimited = mailstate(&args, None);
    assert!(unlimited.status.success(), "{}", String::from_utf8_lossy(&unlimited.stderr));

    let child = Command::new(env!("CARGO_BIN_EXE_mailstate"))
        .args(args)
        .args(["--memory-limit", "16M", "--partitions", "2"])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let limited = child.wait_with_output().unwrap();
    assert!(limited.status.success(), "{}", String::from_utf8_lossy(&limited.stderr));
    assert_eq!(limited.stdout, unlimited.stdout);
    assert!(unlimited.stdout.len() > 3000 * 50);
    let spill = std::env::temp_dir().join(format!("mailstate-spill-{pid}"));
    assert!(!spill.exists(), "{} left behind", spill.display());

    let bad = mailstate(&["sql", "--memory-limit", "lots", "SELECT 1"], None);
    assert_eq!(bad.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}
