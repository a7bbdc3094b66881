//! `mailstate verify`, run as a user runs it, on requests from the signature vectors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A scratch folder for one test's files (bodies, secrets, keys), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("mailstate-verify-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn vector(path: &str) -> Value {
    let path = conformance::vectors_dir().join("signature").join(path);
    conformance::load_file(&path).doc
}

/// Write the vector's body to `dir/body`, and return `--header` arguments for its headers.
fn body_and_headers(v: &Value, dir: &Path) -> (PathBuf, Vec<String>) {
    let body = dir.join("body");
    std::fs::write(&body, v["input"]["body"].as_str().unwrap()).unwrap();
    let mut args = Vec::new();
    for (name, value) in v["input"]["headers"].as_object().into_iter().flatten() {
        args.push("--header".to_owned());
        args.push(format!("{name}: {}", value.as_str().unwrap()));
    }
    (body, args)
}

fn run(args: &[String], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailstate"));
    cmd.arg("verify").args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn a_valid_mailersend_request_exits_0_and_says_which_scheme() {
    let dir = Scratch::new("valid");
    let v = vector("mailersend/valid.json");
    let (body, mut args) = body_and_headers(&v, &dir);
    let secret = dir.join("secret");
    // A trailing newline, as `echo secret > file` leaves, is not part of the secret.
    std::fs::write(&secret, format!("{}\n", v["input"]["secrets"][0].as_str().unwrap())).unwrap();
    args.extend(["--provider", "mailersend", "--secret-file"].map(String::from));
    args.push(secret.display().to_string());
    args.push(body.display().to_string());
    let out = run(&args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let row: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(row["valid"], true);
    assert_eq!(row["scheme"], "mailersend_hmac_sha256");
}

#[test]
fn a_tampered_body_exits_1_with_the_reason_and_no_secret() {
    let dir = Scratch::new("tampered");
    let v = vector("mailersend/valid.json");
    let (body, mut args) = body_and_headers(&v, &dir);
    std::fs::write(&body, "{\"type\":\"activity.delivered\"}").unwrap();
    let secret = v["input"]["secrets"][0].as_str().unwrap();
    args.extend(["--provider", "mailersend", "--secret-env", "MS_TEST_SECRET"].map(String::from));
    args.push(body.display().to_string());
    let out = run(&args, &[("MS_TEST_SECRET", secret)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("rejected: signature_mismatch"), "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");
}

#[test]
fn sendgrid_checks_time_against_now_and_tolerance() {
    let dir = Scratch::new("sendgrid");
    let v = vector("sendgrid/valid.json");
    let (body, mut args) = body_and_headers(&v, &dir);
    let key = dir.join("key.b64");
    std::fs::write(&key, v["input"]["keys"][0].as_str().unwrap()).unwrap();
    args.extend(["--provider", "sendgrid", "--key-file"].map(String::from));
    args.push(key.display().to_string());
    args.push(body.display().to_string());
    let at = |now: &str, tolerance: &str| {
        let mut a = args.clone();
        a.extend(["--now", now, "--tolerance", tolerance].map(String::from));
        run(&a, &[])
    };
    let ok = at("1767225600", "300");
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&ok.stdout).unwrap()["timestamp"],
        "2025-12-31T23:59:00.000Z"
    );
    let late = at("1767229200", "300");
    assert_eq!(late.status.code(), Some(1));
    assert!(text(&late.stderr).contains("rejected: stale_timestamp"), "{}", text(&late.stderr));
    assert_eq!(at("1767229200", "7200").status.code(), Some(0));
}

#[test]
fn configuration_errors_exit_2() {
    let dir = Scratch::new("usage");
    let body = dir.join("body");
    std::fs::write(&body, "{}").unwrap();
    let b = body.display().to_string();
    let empty = dir.join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let e = empty.display().to_string();
    let cases: [&[&str]; 6] = [
        // A secret file holding only a newline.
        &["--provider", "mailersend", "--secret-file", &e, &b],
        // No key material at all (clap).
        &["--provider", "mailersend", &b],
        // An unset variable.
        &["--provider", "mailersend", "--secret-env", "MAILSTATE_SURELY_UNSET_VARIABLE", &b],
        // A key file that is not a key.
        &["--provider", "postal", "--key-file", &b, &b],
        // Mandrill signs the URL: without it nothing can be checked.
        &["--provider", "mandrill", "--secret-file", &b, &b],
        // No such provider.
        &["--provider", "sendgird", "--secret-file", &b, &b],
    ];
    for args in cases {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let out = run(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn secrets_cannot_be_given_on_the_command_line() {
    let out =
        run(&["--provider", "mailersend", "--secret", "s3cret", "body"].map(String::from), &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn loops_standard_webhooks_verify_with_a_whsec_secret_or_a_whpk_key() {
    let dir = Scratch::new("loops");
    for (case, flag, scheme) in [
        ("loops/valid.json", "--secret-env", "standard_webhooks_hmac_sha256"),
        ("loops/ed25519-valid.json", "--key-file", "standard_webhooks_ed25519"),
    ] {
        let v = vector(case);
        let (body, mut args) = body_and_headers(&v, &dir);
        let key = match flag {
            "--key-file" => {
                let file = dir.join("key");
                std::fs::write(&file, v["input"]["keys"][0].as_str().unwrap()).unwrap();
                file.display().to_string()
            }
            _ => "LOOPS_TEST_SECRET".to_owned(),
        };
        let now = v["input"]["now"].to_string();
        args.extend(["--provider", "loops", flag, &key, "--now", &now].map(String::from));
        args.push(body.display().to_string());
        let secret = v["input"]["secrets"][0].as_str().unwrap_or_default();
        let out = run(&args, &[("LOOPS_TEST_SECRET", secret)]);
        assert_eq!(out.status.code(), Some(0), "{case}: {}", text(&out.stderr));
        let row: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(row["scheme"], scheme, "{case}");
    }
}

#[test]
fn standard_webhooks_flag_verifies_any_provider_that_way() {
    let dir = Scratch::new("standard-webhooks-flag");
    let v = vector("postmark/standard-webhooks-scheme.json");
    let (body, mut args) = body_and_headers(&v, &dir);
    let now = v["input"]["now"].to_string();
    args.extend(
        ["--provider", "postmark", "--secret-env", "SW_TEST_SECRET", "--now", &now]
            .map(String::from),
    );
    args.push(body.display().to_string());
    let secret = v["input"]["secrets"][0].as_str().unwrap();
    // Postmark's own check looks for credentials and finds none.
    let out = run(&args, &[("SW_TEST_SECRET", secret)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("rejected: unauthorized"), "{}", text(&out.stderr));
    args.insert(0, "--standard-webhooks".to_owned());
    let out = run(&args, &[("SW_TEST_SECRET", secret)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let row: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(row["scheme"], "standard_webhooks_hmac_sha256");
}

/// The arguments that give `mailstate verify` a signature vector's whole input: its secrets
/// through environment variables, its keys through files, its URL, token header and `now`.
fn vector_args(v: &Value, dir: &Path) -> (Vec<String>, Vec<(String, String)>) {
    let input = &v["input"];
    let (body, mut args) = body_and_headers(v, dir);
    args.extend(["--provider".to_owned(), input["provider"].as_str().unwrap().to_owned()]);
    let mut env = Vec::new();
    for (i, s) in input["secrets"].as_array().into_iter().flatten().enumerate() {
        let name = format!("MAILSTATE_VECTOR_SECRET_{i}");
        args.extend(["--secret-env".to_owned(), name.clone()]);
        env.push((name, s.as_str().unwrap().to_owned()));
    }
    for (i, k) in input["keys"].as_array().into_iter().flatten().enumerate() {
        let path = dir.join(format!("key{i}.pem"));
        std::fs::write(&path, k.as_str().unwrap()).unwrap();
        args.extend(["--key-file".to_owned(), path.display().to_string()]);
    }
    for (i, a) in input["trust_anchors"].as_array().into_iter().flatten().enumerate() {
        let path = dir.join(format!("anchor{i}.pem"));
        std::fs::write(&path, a.as_str().unwrap()).unwrap();
        args.extend(["--trust-anchor-file".to_owned(), path.display().to_string()]);
    }
    for (field, flag) in [("url", "--url"), ("token_header", "--token-header")] {
        if let Some(value) = input[field].as_str() {
            args.extend([flag.to_owned(), value.to_owned()]);
        }
    }
    if let Some(now) = input["now"].as_i64() {
        args.extend(["--now".to_owned(), now.to_string()]);
    }
    args.push(body.display().to_string());
    (args, env)
}

#[test]
fn issue_19_schemes_verify_from_the_command_line() {
    // See: issue 19 (Scaleway's SNS signatures, Unisender Go's MD5, and the credentials of the
    // senders that do not sign: a header, basic auth, or a secret in the URL's query).
    let cases = [
        "scaleway/notification-v1.json",
        "scaleway/aws-cert-host-is-refused.json",
        "scaleway/certificate-not-issued-by-the-ca.json",
        "unisender_go/valid.json",
        "unisender_go/tampered-body.json",
        "ses_eventbridge/api-key-header.json",
        "ses_eventbridge/wrong-api-key.json",
        "azure_acs/query-string-secret.json",
        "elastic_email/secret-in-the-query-string.json",
        "elastic_email/wrong-secret.json",
    ];
    for case in cases {
        let dir = Scratch::new(&case.replace(['/', '.'], "-"));
        let v = vector(case);
        let (args, env) = vector_args(&v, &dir);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = run(&args, &env);
        let stderr = text(&out.stderr);
        if let Some(scheme) = v["expect"]["output"]["scheme"].as_str() {
            assert_eq!(out.status.code(), Some(0), "{case}: {stderr}");
            let row: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(row["scheme"], scheme, "{case}");
        } else {
            let code = v["expect"]["error"]["code"].as_str().unwrap();
            assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
            assert!(stderr.contains(&format!("rejected: {code}")), "{case}: {stderr}");
            for (_, secret) in &env {
                assert!(!stderr.contains(secret), "{case}: {stderr}");
            }
        }
    }
}
