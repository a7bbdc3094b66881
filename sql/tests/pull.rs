//! `mailstate pull` against local servers playing each provider's paging contract.
//!
//! The server is a plain `TcpListener` in a thread answering one HTTP/1.1 GET per connection.
//! It keeps a list of events with their times, serves the ones in the requested range in
//! pages the way each API documents (Mailgun `paging.next` URLs and an empty last page,
//! SparkPost `links.next` cursors, Postmark `count`/`offset`, SendGrid one request), and can
//! be told to answer a given request with a 429 or a 500, or to serve a page twice.

#![allow(
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    reason = "small counters and test times far inside every range"
)]

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use mailstate_sql::store::Store;
use serde_json::{Value, json};

const KEY: &str = "key-FAKE-0123456789abcdef";
const DOMAIN: &str = "mg.example.com";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Api {
    Mailgun,
    Sparkpost,
    Postmark,
    Sendgrid,
}

/// One canned answer for the n-th request.
struct Fault {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

#[derive(Default)]
struct State {
    /// (time in ms, event object in the API's shape)
    events: Vec<(i64, Value)>,
    page_size: usize,
    faults: HashMap<usize, Fault>,
    /// Serve the second page twice (its next link points at itself under another name).
    repeat_second_page: bool,
    requests: Vec<(String, Option<String>)>,
}

struct Server {
    base: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    fn start(api: Api, page_size: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State { page_size, ..State::default() }));
        let (st, b) = (Arc::clone(&state), base.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                handle(api, &b, &st, conn);
            }
        });
        Server { base, state }
    }

    fn add(&self, ms: i64, event: Value) {
        self.state.lock().unwrap().events.push((ms, event));
    }

    fn fault(&self, nth: usize, status: u16, headers: Vec<(&'static str, String)>, body: &str) {
        let f = Fault { status, headers, body: body.to_owned() };
        self.state.lock().unwrap().faults.insert(nth, f);
    }

    fn requests(&self) -> Vec<(String, Option<String>)> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn handle(api: Api, base: &str, state: &Mutex<State>, mut conn: TcpStream) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "authorization" || k == "x-postmark-server-token" {
                auth = Some(v.trim().to_owned());
            }
        }
    }
    let mut st = state.lock().unwrap();
    st.requests.push((target.clone(), auth));
    let n = st.requests.len();
    let (status, headers, body) = match st.faults.remove(&n) {
        Some(f) => (f.status, f.headers, f.body),
        None => (200, Vec::new(), page(api, base, &mut st, &target).to_string()),
    };
    drop(st);
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body.as_bytes());
}

fn params(target: &str) -> HashMap<String, String> {
    let q = target.split_once('?').map_or("", |(_, q)| q);
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// `YYYY-MM-DDTHH:MM:SS[Z]` to epoch ms, reading it at `offset_hours` from UTC.
fn parse_iso(s: &str, offset_hours: i64) -> i64 {
    let t = mailstate_core::Timestamp::parse_rfc3339(&format!("{}Z", s.trim_end_matches('Z')));
    t.unwrap().as_millis() - offset_hours * 3_600_000
}

/// The events in `[from, until)` ordered by time, and the page at `offset`.
fn slice(st: &State, from: i64, until: i64, offset: usize, size: usize) -> (Vec<Value>, usize) {
    let mut all: Vec<&(i64, Value)> =
        st.events.iter().filter(|(t, _)| *t >= from && *t < until).collect();
    all.sort_by_key(|(t, _)| *t);
    let total = all.len();
    let page = all.into_iter().skip(offset).take(size).map(|(_, e)| e.clone()).collect();
    (page, total)
}

fn page(api: Api, base: &str, st: &mut State, target: &str) -> Value {
    let p = params(target);
    match api {
        Api::Mailgun => {
            // First page: ?begin=&end=&limit=; later pages: /events/<from>.<until>.<offset>[.r]
            let path = target.split('?').next().unwrap();
            let (from, until, offset, again) =
                if let Some(tok) = path.strip_prefix(&format!("/v3/{DOMAIN}/events/")) {
                    let parts: Vec<&str> = tok.split('.').collect();
                    (
                        parts[0].parse().unwrap(),
                        parts[1].parse().unwrap(),
                        parts[2].parse().unwrap(),
                        parts.len() > 3,
                    )
                } else {
                    assert_eq!(path, format!("/v3/{DOMAIN}/events"));
                    assert_eq!(p["ascending"], "yes");
                    let s = |k: &str| p[k].parse::<i64>().unwrap() * 1000;
                    (s("begin"), s("end"), 0usize, false)
                };
            let size = st.page_size;
            let (items, _) = slice(st, from, until, offset, size);
            let next_offset = if offset == size && st.repeat_second_page && !again {
                offset // serve this page once more
            } else {
                offset + items.len()
            };
            let mark = if next_offset == offset && !items.is_empty() { ".r" } else { "" };
            json!({"items": items, "paging": {
                "next": format!("{base}/v3/{DOMAIN}/events/{from}.{until}.{next_offset}{mark}"),
                "previous": format!("{base}/v3/{DOMAIN}/events/{from}.{until}.0"),
                "first": format!("{base}/v3/{DOMAIN}/events/{from}.{until}.0"),
                "last": format!("{base}/v3/{DOMAIN}/events/{from}.{until}.0")}})
        }
        Api::Sparkpost => {
            let (from, until, offset) = if p["cursor"] == "initial" {
                (parse_iso(&p["from"], 0), parse_iso(&p["to"], 0), 0usize)
            } else {
                let parts: Vec<&str> = p["cursor"].split('.').collect();
                (parts[0].parse().unwrap(), parts[1].parse().unwrap(), parts[2].parse().unwrap())
            };
            let size: usize = p["per_page"].parse().unwrap();
            let (results, total) = slice(st, from, until, offset, size);
            let next = offset + results.len();
            // A full page always has a next link, so an exact multiple ends with an empty page.
            let links = if results.len() == size {
                json!({"next": format!("/api/v1/events/message?cursor={from}.{until}.{next}&per_page={size}")})
            } else {
                json!({})
            };
            json!({"results": results, "total_count": total, "links": links})
        }
        Api::Postmark => {
            // Postmark reads dates as US Eastern time; the server plays EST (UTC-5).
            let from = parse_iso(&p["fromdate"], -5);
            let until = parse_iso(&p["todate"], -5);
            let count: usize = p["count"].parse().unwrap();
            let offset: usize = p["offset"].parse().unwrap();
            let (bounces, total) = slice(st, from, until, offset, count);
            json!({"TotalCount": total, "Bounces": bounces})
        }
        Api::Sendgrid => {
            let q = &p["query"];
            let times: Vec<&str> = q.split('"').filter(|s| s.ends_with('Z')).collect();
            let (from, until) = (parse_iso(times[0], 0), parse_iso(times[1], 0));
            let limit: usize = p["limit"].parse().unwrap();
            let (messages, _) = slice(st, from, until, 0, limit);
            json!({"messages": messages})
        }
    }
}

fn now_ms() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

fn iso(ms: i64) -> String {
    mailstate_core::Timestamp::from_millis(ms).unwrap().to_string()
}

/// A Mailgun event-data object.
fn mailgun_event(i: usize, ms: i64, event: &str) -> Value {
    let mut e = json!({
        "id": format!("evt{i:04}"),
        "event": event,
        "timestamp": ms as f64 / 1000.0,
        "recipient": format!("user{}@example.com", i % 4),
        "message": {"headers": {"message-id": format!("msg{}@mg.example.com", i % 4)}},
    });
    if event == "failed" {
        e["severity"] = json!("permanent");
        e["reason"] = json!("bounce");
        e["delivery-status"] = json!({"code": 550, "message": "5.1.1 no such user"});
    }
    e
}

fn sparkpost_event(i: usize, ms: i64) -> Value {
    let kind = ["delivery", "open", "bounce", "click"][i % 4];
    let mut e = json!({
        "type": kind,
        "event_id": format!("{}", 900_000 + i),
        "message_id": format!("sp-msg-{}", i % 3),
        "transmission_id": format!("{}", 7000 + i % 3),
        "rcpt_to": format!("user{}@example.com", i % 3),
        "timestamp": iso(ms),
    });
    if kind == "bounce" {
        e["bounce_class"] = json!("10");
        e["raw_reason"] = json!("550 5.1.1 no such user");
    }
    e
}

fn pull(api: &str, server: &Server, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailstate"));
    cmd.args(["pull", "--provider", api, "--out"]).arg(out);
    cmd.args(["--base-url", &server.base]).args(extra);
    cmd.env_remove("MAILSTATE_API_KEY").env("MAILSTATE_API_KEY", KEY);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    let (so, se) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!so.contains(KEY) && !se.contains(KEY), "the key leaked: {so}{se}");
    out
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "pull failed: {:?}\n{err}", out.status);
    err
}

/// Every stored event key, with repeats (a doubled event shows up twice).
fn stored_keys(dir: &Path) -> Vec<String> {
    let store = Store::open(dir).unwrap();
    let mut keys = Vec::new();
    for path in store.event_files().unwrap() {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let col = batch.column(batch.schema().index_of("event_key").unwrap());
            let col = datafusion::arrow::compute::cast(col, &DataType::Utf8).unwrap();
            let col = col.as_string::<i32>();
            keys.extend(
                (0..col.len()).filter(|i| col.is_valid(*i)).map(|i| col.value(i).to_owned()),
            );
        }
    }
    keys.sort();
    keys
}

fn assert_no_doubles(keys: &[String]) {
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "doubled events: {keys:?}");
}

fn checkpoint(dir: &Path, provider: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(format!("pull-{provider}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn mailgun_pages_retries_a_repeated_page_and_an_empty_last_page() {
    let server = Server::start(Api::Mailgun, 3);
    let t0 = now_ms() - 3 * 3_600_000;
    for i in 0..7 {
        server.add(t0 + i as i64 * 60_000, mailgun_event(i, t0 + i as i64 * 60_000, "delivered"));
    }
    server.state.lock().unwrap().repeat_second_page = true;
    server.fault(1, 429, vec![("Retry-After", "1".into())], r#"{"message":"slow down"}"#);
    server.fault(3, 500, vec![], "oops");
    let dir = tempfile::tempdir().unwrap();
    let until = iso(t0 + 3_600_000);
    let out = pull(
        "mailgun",
        &server,
        dir.path(),
        &["--domain", DOMAIN, "--page-size", "3", "--since", &iso(t0 - 60_000), "--until", &until],
        &[],
    );
    let err = ok(&out);
    assert!(err.contains("HTTP 429"), "{err}");
    assert!(err.contains("HTTP 500"), "{err}");
    let keys = stored_keys(dir.path());
    assert_eq!(keys.len(), 7, "{keys:?}");
    assert_no_doubles(&keys);
    // pages: 3, 3, the same 3 again, 1, then the empty page; plus the 429 and the 500.
    let reqs = server.requests();
    assert_eq!(reqs.len(), 7, "{reqs:?}");
    assert!(reqs.iter().any(|(t, _)| t.ends_with(".3.r")), "the second page was not repeated");
    let expected_auth = format!("Basic {}", b64(&format!("api:{KEY}")));
    assert!(reqs.iter().all(|(_, a)| a.as_deref() == Some(expected_auth.as_str())));
    let cp = checkpoint(dir.path(), "mailgun");
    assert_eq!(cp["watermark"], json!(until));
    assert!(cp["in_progress"].is_null());
    assert!(String::from_utf8_lossy(&out.stdout).contains("7 new events"));
}

#[test]
fn late_events_are_picked_up_by_the_overlap_and_nothing_doubles() {
    let server = Server::start(Api::Mailgun, 4);
    let t0 = now_ms() - 5 * 3_600_000;
    let add = |i: usize, ms: i64, ev: &str| server.add(ms, mailgun_event(i, ms, ev));
    for i in 0..6 {
        add(i, t0 + i as i64 * 60_000, "delivered");
    }
    let dir = tempfile::tempdir().unwrap();
    let t1 = t0 + 3_600_000;
    let args = ["--domain", DOMAIN, "--page-size", "4", "--overlap-secs", "3600"];
    let (since, until) = (iso(t0), iso(t1));
    let first = [&args[..], &["--since", &since, "--until", &until]].concat();
    ok(&pull("mailgun", &server, dir.path(), &first, &[]));
    assert_eq!(stored_keys(dir.path()).len(), 6);
    // Indexed late: 10 minutes before the watermark, after the first pull read that range.
    add(6, t1 - 600_000, "failed");
    add(7, t1 + 600_000, "delivered");
    let until2 = iso(t1 + 3_600_000);
    let second = [&args[..], &["--until", &until2]].concat();
    let before = server.requests().len();
    let out = pull("mailgun", &server, dir.path(), &second, &[]);
    ok(&out);
    // The second pull began an hour (the overlap) before the first one's end, so it read the
    // first pull's six events again: they dedupe by key.
    let first_of_second = params(&server.requests()[before].0);
    assert_eq!(first_of_second["begin"], (t1 / 1000 - 3600).to_string());
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("2 new events, 6 duplicates skipped"), "{summary}");
    let keys = stored_keys(dir.path());
    assert_eq!(keys.len(), 8, "{keys:?}");
    assert_no_doubles(&keys);
}

#[test]
fn sparkpost_killed_between_store_and_checkpoint_resumes_without_loss_or_doubles() {
    let server = Server::start(Api::Sparkpost, 0);
    let t0 = now_ms() - 2 * 86_400_000;
    for i in 0..10 {
        server.add(t0 + i as i64 * 1000, sparkpost_event(i, t0 + i as i64 * 1000));
    }
    let dir = tempfile::tempdir().unwrap();
    let until = iso(t0 + 86_400_000);
    let args = ["--page-size", "5", "--since", &iso(t0 - 1000), "--until", &until];
    let killed =
        pull("sparkpost", &server, dir.path(), &args, &[("MAILSTATE_PULL_CRASH_AFTER_PAGES", "2")]);
    assert!(!killed.status.success());
    // Page 2 is stored; the checkpoint still points at it.
    assert_eq!(stored_keys(dir.path()).len(), 10);
    let cp = checkpoint(dir.path(), "sparkpost");
    let cursor = cp["in_progress"]["cursor"].as_str().unwrap().to_owned();
    assert!(cursor.contains("cursor=") && !cursor.contains("initial"), "{cp}");
    let out = pull("sparkpost", &server, dir.path(), &args, &[]);
    let err = ok(&out);
    let keys = stored_keys(dir.path());
    assert_eq!(keys.len(), 10, "{err}");
    assert_no_doubles(&keys);
    let reqs = server.requests();
    // Resumed at page 2's cursor (not the first page), then the empty third page.
    assert_eq!(reqs.len(), 4, "{reqs:?}");
    assert!(reqs[2].0.ends_with(&cursor[server.base.len()..]), "{reqs:?}");
    assert!(reqs.iter().all(|(_, a)| a.as_deref() == Some(KEY)));
    assert!(String::from_utf8_lossy(&out.stdout).contains("5 duplicates skipped"));
    let cp = checkpoint(dir.path(), "sparkpost");
    assert_eq!(cp["watermark"], json!(until));
    assert!(cp["in_progress"].is_null());
}

#[test]
fn a_sync_beyond_retention_warns_and_a_4xx_stops_with_the_providers_message() {
    let server = Server::start(Api::Sparkpost, 0);
    let dir = tempfile::tempdir().unwrap();
    let since = iso(now_ms() - 20 * 86_400_000);
    let out = pull("sparkpost", &server, dir.path(), &["--since", &since], &[]);
    let err = ok(&out);
    assert!(err.contains("may be missing") && err.contains("10 days"), "{err}");

    let server = Server::start(Api::Sparkpost, 0);
    server.fault(1, 401, vec![], r#"{"errors":[{"message":"Unauthorized."}]}"#);
    let dir = tempfile::tempdir().unwrap();
    let out = pull("sparkpost", &server, dir.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 401") && err.contains("Unauthorized."), "{err}");
    assert_eq!(server.requests().len(), 1, "a 4xx is not retried");
    assert!(!dir.path().join("pull-sparkpost.json").exists());

    // A next link to another host is not followed with the key.
    let server = Server::start(Api::Sparkpost, 0);
    let t = now_ms() - 3_600_000;
    server.add(t, sparkpost_event(0, t));
    let evil =
        json!({"results": [sparkpost_event(0, t)], "links": {"next": "http://203.0.113.9/steal"}});
    server.fault(1, 200, vec![], &evil.to_string());
    let dir = tempfile::tempdir().unwrap();
    let out = pull("sparkpost", &server, dir.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside"));
}

#[test]
fn postmark_bounces_page_by_offset_in_eastern_time() {
    let server = Server::start(Api::Postmark, 0);
    let t0 = now_ms() - 86_400_000;
    for i in 0..5u64 {
        let ms = t0 + i as i64 * 60_000;
        server.add(
            ms,
            json!({"ID": 5_550_000 + i, "Type": "HardBounce", "TypeCode": 1,
                   "MessageID": format!("0f1e2d3c-0000-4000-8000-00000000000{i}"),
                   "Email": format!("pm{i}@example.com"), "BouncedAt": iso(ms),
                   "Details": "smtp;550 5.1.1 no such user", "MessageStream": "outbound"}),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    // The first bounce lies 30 min after --since: read as Eastern time it must still be inside.
    let args =
        ["--page-size", "2", "--since", &iso(t0 - 1_800_000), "--until", &iso(t0 + 3_600_000)];
    let out = pull("postmark", &server, dir.path(), &args, &[]);
    ok(&out);
    let keys = stored_keys(dir.path());
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("postmark:")), "{keys:?}");
    let reqs = server.requests();
    let offsets: Vec<String> = reqs.iter().map(|(t, _)| params(t)["offset"].clone()).collect();
    assert_eq!(offsets, ["0", "2", "4"]);
    assert!(reqs.iter().all(|(_, a)| a.as_deref() == Some(KEY)));
}

#[test]
fn sendgrid_activity_summaries_are_stored_raw_without_events() {
    let server = Server::start(Api::Sendgrid, 0);
    let t = now_ms() - 3_600_000;
    server.add(
        t,
        json!({"msg_id": "sgmsg1.filter0001", "to_email": "a@example.com",
        "status": "delivered", "opens_count": 1, "clicks_count": 0, "last_event_time": iso(t)}),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = pull("sendgrid", &server, dir.path(), &[], &[]);
    ok(&out);
    assert!(stored_keys(dir.path()).is_empty());
    let raw: Vec<_> = std::fs::read_dir(dir.path().join("raw/sendgrid")).unwrap().collect();
    assert_eq!(raw.len(), 1);
    let (_, auth) = &server.requests()[0];
    assert_eq!(auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
}

/// The same events pulled from the Events API and pushed as webhooks give the same states.
#[test]
fn pull_and_webhooks_give_the_same_message_states() {
    let server = Server::start(Api::Mailgun, 3);
    let t0 = now_ms() - 4 * 3_600_000;
    let kinds = ["accepted", "delivered", "opened", "failed", "clicked", "delivered", "complained"];
    let webhooks = tempfile::tempdir().unwrap();
    for (i, kind) in kinds.iter().cycle().take(12).enumerate() {
        let ms = t0 + i as i64 * 90_000;
        let e = mailgun_event(i, ms, kind);
        let body = json!({"signature": {"timestamp": "1", "token": "t", "signature": "s"}, "event-data": e});
        std::fs::write(webhooks.path().join(format!("{i:02}.json")), body.to_string()).unwrap();
        server.add(ms, e);
    }
    let pulled = tempfile::tempdir().unwrap();
    let args = ["--domain", DOMAIN, "--page-size", "3", "--since", &iso(t0 - 1000)];
    ok(&pull("mailgun", &server, pulled.path(), &args, &[]));
    let pushed = tempfile::tempdir().unwrap();
    let ingest = Command::new(env!("CARGO_BIN_EXE_mailstate"))
        .args(["ingest", "--provider", "mailgun", "--out"])
        .arg(pushed.path())
        .arg(webhooks.path())
        .output()
        .unwrap();
    assert!(ingest.status.success(), "{}", String::from_utf8_lossy(&ingest.stderr));
    let states = |dir: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_mailstate"))
            .args(["sql", "--format", "csv", "--events"])
            .arg(dir)
            .arg(
                "SELECT message_id, recipient, \
                 get_field(message_state(type, occurred_at, event_key, bounce_class, diagnostic), 'status') AS status, \
                 count(*) AS events \
                 FROM events GROUP BY message_id, recipient ORDER BY message_id, recipient",
            )
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let (a, b) = (states(pulled.path()), states(pushed.path()));
    assert_eq!(a, b);
    assert_eq!(a.lines().count(), 5, "{a}");
    assert!(a.contains("complaint") || a.contains("hard_bounce"), "{a}");
}

fn b64(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = c.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= c.len() {
                char::from(A[(n >> (18 - 6 * i)) as usize & 63])
            } else {
                '='
            });
        }
    }
    out
}
