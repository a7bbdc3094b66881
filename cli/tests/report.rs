//! `mailstate report`: the page in headless Chromium (every chart drawn with its title, a
//! screenshot that is not blank, no console error, no request), its numbers against the SQL
//! files run through `mailstate sql`, empty and one-provider stores, the optional columns,
//! and the errors a user can make.
//!
//! Chromium is the Debian package `chromium` (`scripts/test.sh` installs it when missing).
//! Without it these tests fail, saying so: they are part of the suite, not optional.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::float_cmp,
    reason = "test arithmetic on small counts; rates compared exactly because both sides are the same SQL value"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use datafusion::datasource::MemTable;
use mailstate_cli::report;
use mailstate_cli::store::{Body, Store};
use mailstate_core::{Automated, BounceCategory, Event, EventType, Provider, Timestamp};
use serde_json::{Value, json};

use crate::queries::ingest_demo;
use crate::util::{repo, temp_dir};

fn mailstate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailstate"))
        .args(args)
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run mailstate")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `mailstate report` over `store`, with `extra` arguments; the page's text.
fn report_page(store: &Path, extra: &[&str]) -> String {
    let out = store.join("report.html");
    let mut args =
        vec!["report", "--events", store.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let said = ok(&mailstate(&args));
    assert!(said.starts_with("wrote "), "{said}");
    std::fs::read_to_string(out).unwrap()
}

/// The demo store's page, with the demo's send log.
fn demo_page(dir: &Path) -> String {
    ingest_demo(dir);
    let sends = repo().join("examples/demo/sends.csv");
    report_page(dir, &["--table", &format!("sends={}", sends.display())])
}

/// The page's JSON data block.
fn data_block(html: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"report-data\">";
    let start = html.find(open).expect("a #report-data block") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

/// Every chart of the page's data.
fn charts(data: &Value) -> Vec<&Value> {
    data["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["charts"].as_array().unwrap())
        .collect()
}

fn chart<'a>(data: &'a Value, id: &str) -> &'a Value {
    charts(data).into_iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no chart {id}"))
}

/// The values of `series` in chart `id`, by x label.
fn series(data: &Value, id: &str, name: &str) -> Vec<(String, Option<f64>)> {
    let c = chart(data, id);
    let s = c["series"].as_array().unwrap().iter().find(|s| s["name"] == name);
    let s = s.unwrap_or_else(|| panic!("chart {id} has no series {name}: {}", c["series"]));
    c["x"]
        .as_array()
        .unwrap()
        .iter()
        .zip(s["values"].as_array().unwrap())
        .map(|(x, v)| (x.as_str().unwrap().to_owned(), v.as_f64()))
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

// ---------------------------------------------------------------------------------------
// Chromium

/// The Chromium binary, or a failure that says how to get it.
fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("sh").args(["-c", &format!("command -v {name}")]).output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        }
    }
    panic!(
        "chromium not found: the report tests need headless Chromium (Debian: apt-get install \
         chromium; scripts/test.sh installs it when missing)"
    );
}

/// Run headless Chromium on `page` with `args`, in a fresh profile, with every host name
/// resolving to nothing (so a request the page might make cannot reach anything).
fn run_chromium(page: &Path, args: &[&str]) -> Output {
    let profile = temp_dir();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Chromium logs what the page writes to the console as `CONSOLE(line)`; a page without
    // scripts writes nothing, and a refused request (CSP, a failed load) logs there too.
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages:\n{}", console.join("\n"));
    out
}

/// The DOM Chromium built from `page`.
fn dump_dom(page: &Path) -> String {
    String::from_utf8(run_chromium(page, &["--dump-dom"]).stdout).unwrap()
}

/// The distinct colors of a screenshot of `page` at 1280 px.
fn screenshot_colors(page: &Path, png_path: &Path) -> usize {
    run_chromium(
        page,
        &[&format!("--screenshot={}", png_path.display()), "--window-size=1280,2000"],
    );
    let (width, height, pixels) = png::decode(&std::fs::read(png_path).unwrap());
    assert_eq!((width, height), (1280, 2000));
    pixels.iter().collect::<std::collections::HashSet<_>>().len()
}

/// What the page may not contain: anything that loads from elsewhere.
fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for needle in ["http:", "https:", "src=", "url(", "@import", "<link", "<img", "<iframe"] {
        assert!(!lower.contains(needle), "the page contains {needle:?}");
    }
    for (i, _) in lower.match_indices("href=\"") {
        let target = &lower[i + 6..];
        assert!(target.starts_with('#'), "a link out of the page: {}", &html[i..i + 60]);
    }
    // The only script is the data block, which is not executed.
    assert_eq!(lower.matches("<script").count(), 1);
    assert!(lower.contains("<script type=\"application/json\" id=\"report-data\">"));
    assert!(lower.contains("default-src 'none'"), "the page sets a Content-Security-Policy");
}

#[test]
fn demo_report_renders_every_chart_in_chromium() {
    let dir = temp_dir();
    let html = demo_page(dir.path());
    assert_self_contained(&html);
    let data = data_block(&html);
    let page = dir.path().join("report.html");
    let dom = dump_dom(&page);
    let all = charts(&data);
    assert!(all.len() >= 14, "{} charts", all.len());
    for c in &all {
        let id = c["id"].as_str().unwrap();
        let title = html_escape(c["title"].as_str().unwrap());
        assert!(dom.contains(&format!("<svg id=\"chart-{id}\"")), "no svg for {id}");
        assert!(
            dom.contains(&format!("<title id=\"chart-{id}-title\">{title}</title>")),
            "no title for {id}"
        );
        assert!(dom.contains(&format!("<h3>{title}</h3>")), "no heading for {id}");
    }
    // Drawn, not empty: the demo has data for every chart but the optional ones.
    for id in [
        "delivery-rate",
        "complaint-rate",
        "worst-domains-bounce",
        "top-diagnostics",
        "suppressions",
        "absorbed",
        "revenue",
    ] {
        assert!(
            !dom.contains(&format!(
                "<svg id=\"chart-{id}\" class=\"chart\" viewBox=\"0 0 720 90\""
            )),
            "{id} is drawn empty"
        );
    }
    let colors = screenshot_colors(&page, &dir.path().join("shot.png"));
    assert!(colors > 20, "the screenshot has {colors} colors: blank?");
}

#[test]
fn report_numbers_equal_the_sql_files() {
    let dir = temp_dir();
    let html = demo_page(dir.path());
    let data = data_block(&html);
    let store = dir.path().to_str().unwrap();
    let sends = format!("sends={}", repo().join("examples/demo/sends.csv").display());
    let sql = |file: &str| -> Vec<Value> {
        let out = mailstate(&[
            "sql", "--events", store, "--table", &sends, "-f", file, "--format", "json",
        ]);
        serde_json::from_str(&ok(&out)).unwrap()
    };
    let queries = data["queries"].as_object().unwrap();
    for file in [
        "sql/queries/rates_over_time.sql",
        "sql/queries/worst_domains.sql",
        "sql/queries/top_diagnostics.sql",
        "sql/queries/suppressions_over_time.sql",
        "sql/queries/late_and_duplicate_events.sql",
        "sql/queries/revenue_attribution.sql",
    ] {
        assert_eq!(queries[file], Value::Array(sql(file)), "{file}: the page's rows differ");
    }
    // The trend keeps the rows of the ranked domains only.
    let trend = sql("sql/queries/domain_rates_over_time.sql");
    for row in queries["sql/queries/domain_rates_over_time.sql"].as_array().unwrap() {
        assert!(trend.contains(row), "{row} is not a row of domain_rates_over_time.sql");
    }

    // The charts draw those rows: each rate chart's point is its row's rate.
    let rates = sql("sql/queries/rates_over_time.sql");
    for (id, key) in [
        ("delivery-rate", "delivery_rate"),
        ("hard-bounce-rate", "hard_bounce_rate"),
        ("soft-bounce-rate", "soft_bounce_rate"),
        ("block-rate", "block_rate"),
        ("complaint-rate", "complaint_rate"),
        ("deferral-rate", "deferral_rate"),
    ] {
        let mut points = 0;
        for row in &rates {
            let provider = row["provider"].as_str().unwrap();
            let day = &row["bucket"].as_str().unwrap()[..10];
            let got = series(&data, id, provider).into_iter().find(|(x, _)| x == day).unwrap().1;
            assert_eq!(got, row[key].as_f64(), "{id} {provider} {day}");
            points += 1;
        }
        let drawn: usize = chart(&data, id)["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["values"].as_array().unwrap().iter().filter(|v| !v.is_null()).count())
            .sum();
        assert_eq!(drawn, points, "{id}: points without a row");
    }
    let revenue = sql("sql/queries/revenue_attribution.sql");
    let drawn = series(&data, "revenue", "revenue");
    assert_eq!(drawn.len(), revenue.len());
    for (row, (campaign, value)) in revenue.iter().zip(drawn) {
        assert_eq!(row["campaign"], campaign.as_str());
        assert_eq!(row["revenue"].as_f64(), value);
    }

    // Independent of the new files: the messages per provider are message_states.sql's rows,
    // the suppressions are suppression_list.sql's, the late events its `late` column.
    let states = sql("sql/queries/message_states.sql");
    let absorbed = sql("sql/queries/late_and_duplicate_events.sql");
    let total = |rows: &[Value], key: &str| {
        rows.iter().map(|r| r[key].as_f64().unwrap_or(0.0)).sum::<f64>()
    };
    assert_eq!(total(&rates, "messages") as usize, states.len());
    assert_eq!(total(&absorbed, "late_events"), total(&states, "late"));
    let listed = sql("sql/queries/suppression_list.sql");
    let over_time = sql("sql/queries/suppressions_over_time.sql");
    assert_eq!(total(&over_time, "suppressions") as usize, listed.len());
    assert_eq!(queries["suppression list size"][0]["suppressions"], json!(listed.len()));

    // Worked out by hand from the demo payloads (queries.rs says how): late events are
    // carol's open after her complaint (ses), frank's event after his unsubscribe (mailgun),
    // ann's resubscribe and bob's open (sendgrid); the raw bodies repeat bob's bounce once
    // (sendgrid; the byte-identical retry is stored once) and both Mailgun webhooks (the
    // Events API page).
    assert_eq!(
        series(&data, "absorbed", "late events"),
        [
            ("mailgun".to_owned(), Some(1.0)),
            ("postmark".to_owned(), Some(0.0)),
            ("sendgrid".to_owned(), Some(2.0)),
            ("ses".to_owned(), Some(1.0)),
            ("sparkpost".to_owned(), Some(0.0)),
        ]
    );
    assert_eq!(
        series(&data, "absorbed", "duplicates skipped at ingest"),
        [
            ("mailgun".to_owned(), Some(2.0)),
            ("postmark".to_owned(), Some(0.0)),
            ("sendgrid".to_owned(), Some(1.0)),
            ("ses".to_owned(), Some(0.0)),
            ("sparkpost".to_owned(), Some(0.0)),
        ]
    );
    let reasons: Vec<String> = chart(&data, "suppressions")["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons, ["complaint", "hard_bounce", "soft_bounces", "unsubscribe all"]);
}

#[test]
fn weekly_buckets_start_on_monday() {
    let dir = temp_dir();
    ingest_demo(dir.path());
    let data = data_block(&report_page(dir.path(), &["--by", "week"]));
    // The demo runs from Monday 2025-11-03 to Wednesday 11-05: one week.
    assert_eq!(chart(&data, "delivery-rate")["x"], json!(["2025-11-03"]));
    assert_eq!(data["report"]["by"], "week");
}

#[test]
fn since_and_until_keep_the_period() {
    let dir = temp_dir();
    ingest_demo(dir.path());
    let data = data_block(&report_page(
        dir.path(),
        &["--since", "2025-11-04", "--until", "2025-11-05T00:00:00Z"],
    ));
    let days: Vec<&str> = chart(&data, "delivery-rate")["x"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(days, ["2025-11-04"]);
    assert!(data["report"]["first_event_at"].as_str().unwrap().starts_with("2025-11-04"));
    // The list at the end of the period counts the suppressions that began before it.
    let size = &data["queries"]["suppression list size"][0];
    // bob, carol (11-04 07:00) and frank for all mail; ann for stream 21 (her unsubscribe of
    // 11-04 18:00 is lifted by the resubscribe of 11-05 08:00, after the period); gina's third
    // soft bounce is on 11-05.
    assert_eq!(size["recipients"], 4);
    assert_eq!(size["recipients_suppressed_everywhere"], 3);
}

#[test]
fn an_empty_store_gives_a_clear_page() {
    let dir = temp_dir();
    Store::open(dir.path()).unwrap();
    let html = report_page(dir.path(), &[]);
    assert_self_contained(&html);
    assert!(html.contains("No messages in this period."));
    assert!(html.contains("No recipient is suppressed."));
    let data = data_block(&html);
    assert!(charts(&data).iter().all(|c| c["x"].as_array().unwrap().is_empty()));
    let dom = dump_dom(&dir.path().join("report.html"));
    assert!(dom.contains("<svg id=\"chart-delivery-rate\""));
}

#[test]
fn a_one_provider_store_gives_one_line_per_chart() {
    let dir = temp_dir();
    let store = Store::open(dir.path()).unwrap();
    let folder = repo().join("examples/demo/postmark");
    let mut files: Vec<_> =
        std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let bodies = files
        .into_iter()
        .map(|p| Body { source: p.display().to_string(), bytes: std::fs::read(&p).unwrap() });
    store.ingest(Provider::Postmark, bodies, |_| {}).unwrap();
    let html = report_page(dir.path(), &[]);
    assert_self_contained(&html);
    let data = data_block(&html);
    let lines = chart(&data, "soft-bounce-rate")["series"].as_array().unwrap().len();
    assert_eq!(lines, 1);
    assert_eq!(
        series(&data, "soft-bounce-rate", "postmark").len(),
        3,
        "three days of Postmark bounces"
    );
    assert!(html.contains("No send log given"));
    dump_dom(&dir.path().join("report.html"));
}

#[tokio::test]
async fn without_the_optional_columns_the_page_says_so() {
    // A table of events as schemas before `automated` and `bounce_category` had them (a
    // store registered through `register_events` always has both, null for old files).
    let t = "2025-11-03T10:00:00Z";
    let events = [
        event(EventType::Delivered, "a", "1", t),
        event(EventType::Open, "a", "2", t),
        event(EventType::HardBounce, "b", "3", t),
    ];
    let batch = mailstate_sql::events_to_batch(&events).unwrap();
    let keep: Vec<usize> = (0..batch.num_columns())
        .filter(|&i| {
            !matches!(batch.schema().field(i).name().as_str(), "automated" | "bounce_category")
        })
        .collect();
    let old = batch.project(&keep).unwrap();
    let table = MemTable::try_new(old.schema(), vec![vec![old]]).unwrap();
    let ctx = mailstate_sql::context(Some(2)).unwrap();
    ctx.register_table("events", Arc::new(table)).unwrap();
    let built = report::build(&ctx, &report::Options { title: "t".into(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(built.columns(), report::Columns { automated: false, bounce_category: false });
    let html = built.html();
    assert!(html.contains("This store&#39;s events carry no <code>automated</code> flag"));
    assert!(html.contains("This store&#39;s events carry no <code>bounce_category</code>"));
    assert!(!html.contains("chart-people-machines"));
    assert!(!html.contains("chart-bounce-categories"));
}

#[test]
fn the_demo_page_splits_people_and_machines() {
    // The demo's Mailgun open came through Apple's privacy proxy.
    let dir = temp_dir();
    let html = demo_page(dir.path());
    let data = data_block(&html);
    assert_eq!(data["columns"], json!({"automated": true, "bounce_category": true}));
    assert!(html.contains("chart-people-machines"));
    assert!(html.contains("chart-bounce-categories"));
    assert!(!html.contains("carry no <code>automated</code>"));
}

/// A table of canonical events with their `automated` and `bounce_category` set.
fn events_with_optional_columns(
    events: &[(Event, Option<Automated>, Option<BounceCategory>)],
) -> MemTable {
    let events: Vec<Event> = events
        .iter()
        .map(|(e, a, c)| {
            let mut e = e.clone();
            e.automated = *a;
            e.bounce_category = *c;
            e
        })
        .collect();
    let batch = mailstate_sql::events_to_batch(&events).unwrap();
    MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap()
}

fn event(kind: EventType, message: &str, key: &str, at: &str) -> Event {
    let mut e = Event::new("sendgrid", kind);
    e.event_key = format!("sendgrid:{key}");
    e.message_id = Some(message.to_owned());
    e.recipient = Some(format!("{message}@example.com"));
    e.occurred_at = Some(Timestamp::parse_rfc3339(at).unwrap());
    e
}

#[tokio::test]
async fn with_the_optional_columns_people_and_machines_are_split() {
    use EventType::{Delivered, HardBounce, Open, SoftBounce};
    let t = "2025-11-03T10:00:00Z";
    let table = events_with_optional_columns(&[
        (event(Delivered, "a", "1", t), None, None),
        (event(Open, "a", "2", t), Some(Automated::PrivacyProxy), None),
        (event(Open, "a", "3", "2025-11-03T11:00:00Z"), None, None),
        (event(Open, "a", "3", "2025-11-03T11:00:00Z"), None, None),
        (event(HardBounce, "b", "4", t), None, Some(BounceCategory::InvalidRecipient)),
        (event(SoftBounce, "c", "5", t), None, Some(BounceCategory::MailboxFull)),
        (event(SoftBounce, "d", "6", t), None, Some(BounceCategory::MailboxFull)),
    ]);
    let ctx = mailstate_sql::context(Some(2)).unwrap();
    ctx.register_table("events", Arc::new(table)).unwrap();
    let built = report::build(&ctx, &report::Options { title: "t".into(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(built.columns(), report::Columns { automated: true, bounce_category: true });
    let data = built.data_json();
    assert_eq!(
        series(&data, "people-machines", "people opens"),
        [("2025-11-03".to_owned(), Some(1.0))]
    );
    assert_eq!(
        series(&data, "people-machines", "machine opens"),
        [("2025-11-03".to_owned(), Some(1.0))]
    );
    assert_eq!(
        series(&data, "machine-open-share", "machine share"),
        [("sendgrid".to_owned(), Some(0.5))]
    );
    assert_eq!(
        series(&data, "bounce-categories", "bounces"),
        [("mailbox_full".to_owned(), Some(2.0)), ("invalid_recipient".to_owned(), Some(1.0)),]
    );
    let html = built.html();
    assert!(!html.contains("carry no"), "the notes are for stores without the columns");
    assert!(html.contains("<svg id=\"chart-machine-open-share\""));
}

// ---------------------------------------------------------------------------------------
// Errors

fn fails(args: &[&str], code: i32, message: &str) {
    let out = mailstate(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert!(stderr.contains(message), "{args:?}: expected {message:?} in {stderr}");
}

#[test]
fn report_errors_say_what_is_wrong() {
    let dir = temp_dir();
    Store::open(dir.path()).unwrap();
    let store = dir.path().to_str().unwrap();
    let out = dir.path().join("r.html");
    let out = out.to_str().unwrap();
    fails(
        &["report", "--events", "/no/such/store", "--out", out],
        1,
        "--events /no/such/store: no such folder",
    );
    fails(
        &["report", "--events", store, "--since", "yesterday", "--out", out],
        2,
        "--since yesterday: expected a date",
    );
    fails(
        &["report", "--events", store, "--until", "2025-13-01", "--out", out],
        2,
        "--until 2025-13-01",
    );
    fails(
        &[
            "report",
            "--events",
            store,
            "--since",
            "2025-11-05",
            "--until",
            "2025-11-01",
            "--out",
            out,
        ],
        2,
        "is not before --until",
    );
    fails(
        &["report", "--events", store, "--out", "/no/such/folder/r.html"],
        1,
        "--out /no/such/folder/r.html: cannot write",
    );
    fails(
        &["report", "--events", store, "--table", "orders=x.csv", "--out", out],
        2,
        "expected sends=PATH",
    );
    let help = ok(&mailstate(&["report", "--help"]));
    assert!(
        help.contains("Example:") && help.contains("mailstate report --events store"),
        "{help}"
    );
}

#[test]
fn demo_writes_its_report() {
    let dir = temp_dir();
    let page = dir.path().join("demo.html");
    let said = ok(&mailstate(&["demo", "--report", page.to_str().unwrap()]));
    assert!(said.contains(&format!("wrote {}", page.display())), "{said}");
    let data = data_block(&std::fs::read_to_string(&page).unwrap());
    assert!(
        data["queries"]["sql/queries/revenue_attribution.sql"]
            .as_array()
            .is_some_and(|r| r.len() == 3)
    );
}

// ---------------------------------------------------------------------------------------
// A PNG reader, as small as the check needs

mod png {
    use std::io::Read;

    /// Width, height and the RGBA pixels of an 8-bit RGB or RGBA, non-interlaced PNG (what
    /// Chromium's screenshots are).
    pub(super) fn decode(bytes: &[u8]) -> (usize, usize, Vec<[u8; 4]>) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
        let (mut pos, mut idat) = (8, Vec::new());
        let (mut width, mut height, mut channels) = (0, 0, 0);
        while pos + 8 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            let kind = &bytes[pos + 4..pos + 8];
            let body = &bytes[pos + 8..pos + 8 + len];
            match kind {
                b"IHDR" => {
                    width = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
                    height = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
                    assert_eq!(body[8], 8, "bit depth");
                    channels = match body[9] {
                        2 => 3,
                        6 => 4,
                        t => panic!("color type {t}"),
                    };
                    assert_eq!(body[12], 0, "interlaced");
                }
                b"IDAT" => idat.extend_from_slice(body),
                _ => {}
            }
            pos += 12 + len;
        }
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
        let stride = width * channels;
        let mut prev = vec![0u8; stride];
        let mut pixels = Vec::with_capacity(width * height);
        for row in raw.chunks(stride + 1).take(height) {
            let (filter, data) = (row[0], &row[1..]);
            let mut cur = data.to_vec();
            for i in 0..stride {
                let a = if i >= channels { cur[i - channels] } else { 0 };
                let b = prev[i];
                let c = if i >= channels { prev[i - channels] } else { 0 };
                let add = match filter {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => a.midpoint(b),
                    4 => paeth(a, b, c),
                    f => panic!("filter {f}"),
                };
                cur[i] = cur[i].wrapping_add(add);
            }
            for px in cur.chunks(channels) {
                pixels.push([px[0], px[1], px[2], if channels == 4 { px[3] } else { 255 }]);
            }
            prev = cur;
        }
        (width, height, pixels)
    }

    fn paeth(a: u8, b: u8, c: u8) -> u8 {
        let p = i16::from(a) + i16::from(b) - i16::from(c);
        let (pa, pb, pc) =
            ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
        if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        }
    }
}
