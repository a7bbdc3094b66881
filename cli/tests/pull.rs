//! `mailstate pull` against local servers playing each provider's paging contract.
//!
//! The server is a plain `TcpListener` in a thread answering one HTTP/1.1 GET per connection.
//! It keeps a list of events with their times, serves the ones in the requested range in
//! pages the way each API documents (Mailgun `paging.next` URLs and an empty last page,
//! SparkPost `links.next` cursors, Postmark `count`/`offset`, SendGrid one request), and can
//! be told to answer a given request with a 429 or a 500, or to serve a page twice. For the
//! APIs that list messages (Postmark's Messages API, SendGrid's Email Activity) it also keeps
//! messages with their events: the list filters on the message's send time (Postmark, newest
//! first) or last event time (SendGrid), and each message's details answer with its events.

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
use mailstate_cli::store::Store;
use serde_json::{Value, json};

use crate::STATE_FIELDS;

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
    /// Messages of the APIs that list messages (Postmark Messages API, SendGrid activity).
    messages: Vec<Msg>,
    /// Added to Postmark's `TotalCount`: a message counted but gone by the time its page is
    /// read, so the last page comes back empty.
    total_bias: usize,
    /// A message sent while the pages are read: added once the first list page is served.
    insert_after_first_list: Option<Msg>,
    page_size: usize,
    faults: HashMap<usize, Fault>,
    /// Serve the second page twice (its next link points at itself under another name).
    repeat_second_page: bool,
    requests: Vec<(String, Option<String>)>,
}

/// One message and its events, in the API's shape.
#[derive(Clone)]
struct Msg {
    id: String,
    sent_ms: i64,
    recipient: String,
    /// (time in ms, `MessageEvents` / `events` entry)
    events: Vec<(i64, Value)>,
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

    fn add_message(&self, m: Msg) {
        self.state.lock().unwrap().messages.push(m);
    }

    /// Add an event to message `id` (an event that happens after it was first listed).
    fn add_message_event(&self, id: &str, ms: i64, entry: Value) {
        let mut st = self.state.lock().unwrap();
        st.messages.iter_mut().find(|m| m.id == id).unwrap().events.push((ms, entry));
    }

    /// The request targets whose path ends with `suffix`.
    fn paths_ending(&self, suffix: &str) -> Vec<String> {
        let reqs = self.requests();
        reqs.into_iter()
            .map(|(t, _)| t)
            .filter(|t| t.split('?').next().unwrap().ends_with(suffix))
            .collect()
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
    let (status, headers, body) = if let Some(f) = st.faults.remove(&n) {
        (f.status, f.headers, f.body)
    } else {
        let (status, body) = page(api, base, &mut st, &target);
        (status, Vec::new(), body.to_string())
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

fn page(api: Api, base: &str, st: &mut State, target: &str) -> (u16, Value) {
    let path = target.split('?').next().unwrap();
    if matches!(api, Api::Postmark | Api::Sendgrid)
        && (path.starts_with("/messages/outbound") || path.starts_with("/v3/messages"))
    {
        return messages_api(api, st, target);
    }
    (200, events_api(api, base, st, target))
}

fn events_api(api: Api, base: &str, st: &mut State, target: &str) -> Value {
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
        Api::Sendgrid => unreachable!("sendgrid lists messages"),
    }
}

/// Postmark's Messages API and SendGrid's Email Activity: a list of messages, or one
/// message's details.
fn messages_api(api: Api, st: &mut State, target: &str) -> (u16, Value) {
    let p = params(target);
    let path = target.split('?').next().unwrap();
    let last_event = |m: &Msg| m.events.iter().map(|(t, _)| *t).max().unwrap_or(m.sent_ms);
    let entries = |m: &Msg| {
        let mut ev = m.events.clone();
        ev.sort_by_key(|(t, _)| *t);
        ev.into_iter().map(|(_, e)| e).collect::<Vec<Value>>()
    };
    let listed = match (api, path) {
        (Api::Postmark, "/messages/outbound") => {
            let from = parse_iso(&p["fromdate"], -5);
            let until = parse_iso(&p["todate"], -5);
            let (count, offset): (usize, usize) =
                (p["count"].parse().unwrap(), p["offset"].parse().unwrap());
            let mut all: Vec<&Msg> =
                st.messages.iter().filter(|m| m.sent_ms >= from && m.sent_ms < until).collect();
            all.sort_by_key(|m| std::cmp::Reverse(m.sent_ms));
            let total = all.len() + st.total_bias;
            let page: Vec<Value> = all
                .iter()
                .skip(offset)
                .take(count)
                .map(|m| {
                    json!({"MessageID": m.id, "Recipients": [m.recipient], "Status": "Sent",
                           "ReceivedAt": iso(m.sent_ms), "MessageStream": "outbound",
                           "Subject": "Your receipt", "From": "shop@example.com"})
                })
                .collect();
            json!({"TotalCount": total, "Messages": page})
        }
        (Api::Sendgrid, "/v3/messages") => {
            let q = &p["query"];
            assert!(q.starts_with("last_event_time BETWEEN TIMESTAMP"), "{q}");
            let times: Vec<&str> = q.split('"').filter(|s| s.ends_with('Z')).collect();
            let (from, until) = (parse_iso(times[0], 0), parse_iso(times[1], 0));
            let limit: usize = p["limit"].parse().unwrap();
            let page: Vec<Value> = st
                .messages
                .iter()
                .filter(|m| (from..until).contains(&last_event(m)))
                .take(limit)
                .map(|m| {
                    json!({"msg_id": m.id, "to_email": m.recipient, "from_email": "shop@example.com",
                           "subject": "Your receipt", "status": "delivered", "opens_count": 0,
                           "clicks_count": 0, "last_event_time": iso(last_event(m))})
                })
                .collect();
            json!({"messages": page})
        }
        _ => {
            let id = match api {
                Api::Postmark => path
                    .strip_prefix("/messages/outbound/")
                    .and_then(|r| r.strip_suffix("/details"))
                    .unwrap(),
                _ => path.strip_prefix("/v3/messages/").unwrap(),
            };
            let id = decode(id);
            // A message whose id starts with `gone-` aged out between the list and its details.
            let found = st.messages.iter().find(|m| m.id == id && !id.starts_with("gone-"));
            let Some(m) = found else {
                return (404, json!({"ErrorCode": 701, "Message": "not found"}));
            };
            let body = match api {
                Api::Postmark => json!({
                    "MessageID": m.id, "MessageStream": "outbound", "Tag": "receipt",
                    "Metadata": {"order": "9001"}, "Recipients": [m.recipient], "Status": "Sent",
                    "ReceivedAt": iso(m.sent_ms), "TextBody": "Thanks.", "HtmlBody": "<p>Thanks.</p>",
                    "MessageEvents": entries(m)}),
                _ => json!({
                    "msg_id": m.id, "to_email": m.recipient, "from_email": "shop@example.com",
                    "status": "delivered", "asm_group_id": 7, "categories": ["invoice"],
                    "unique_args": "{\"tenant\": \"acme\"}", "events": entries(m)}),
            };
            return (200, body);
        }
    };
    if let Some(m) = st.insert_after_first_list.take() {
        st.messages.push(m);
    }
    (200, listed)
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
    // No messages in the window: one empty Messages API page, then the bounces.
    assert_eq!(server.paths_ending("/messages/outbound").len(), 1, "{reqs:?}");
    let bounces = server.paths_ending("/bounces");
    let offsets: Vec<String> = bounces.iter().map(|t| params(t)["offset"].clone()).collect();
    assert_eq!(offsets, ["0", "2", "4"]);
    assert!(reqs.iter().all(|(_, a)| a.as_deref() == Some(KEY)));
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
    let pushed = ingest_webhooks("mailgun", webhooks.path());
    let states = |dir: &Path| {
        sql_csv(
            dir,
            "SELECT message_id, recipient, \
             get_field(message_state(type, occurred_at, event_key, bounce_class, diagnostic), 'status') AS status, \
             count(*) AS events \
             FROM events GROUP BY message_id, recipient ORDER BY message_id, recipient",
        )
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

/// A `MessageEvents` entry of Postmark's message details.
fn pm_entry(kind: &str, ms: i64, rcpt: &str) -> Value {
    let details = match kind {
        "Delivered" | "Transient" => json!({"DeliveryMessage": "smtp;250 2.0.0 OK",
            "DestinationServer": "mx.example.com", "DestinationIP": "192.0.2.25"}),
        "LinkClicked" => json!({"Summary": "clicked", "Link": "https://example.com/track",
            "ClickLocation": "HTML"}),
        _ => json!({"Summary": kind}),
    };
    json!({"Recipient": rcpt, "Type": kind, "ReceivedAt": iso(ms), "Details": details})
}

/// A Postmark message sent at `sent` and delivered two seconds later.
fn pm_msg(i: usize, sent: i64) -> Msg {
    let rcpt = format!("pm{i}@example.com");
    Msg {
        id: format!("0f1e2d3c-0000-4000-8000-{i:012}"),
        sent_ms: sent,
        events: vec![(sent + 2000, pm_entry("Delivered", sent + 2000, &rcpt))],
        recipient: rcpt,
    }
}

/// An `events` entry of SendGrid's message details.
fn sg_entry(name: &str, ms: i64) -> Value {
    let mut e = json!({"event_name": name, "processed": iso(ms), "mx_server": "mx.example.org"});
    match name {
        "delivered" => e["reason"] = json!("250 2.0.0 OK"),
        "bounced" => {
            e["reason"] = json!("550 5.1.1 user unknown");
            e["bounce_type"] = json!("hard");
        }
        "clicked" => e["url"] = json!("https://example.org/pay"),
        _ => {}
    }
    e
}

/// A SendGrid message processed at `ms` and delivered a second later.
fn sg_msg(i: usize, ms: i64) -> Msg {
    Msg {
        id: format!("sgmsg{i:03}.filter0001.16648.5515E0B88.{i}"),
        sent_ms: ms,
        recipient: format!("sg{i}@example.com"),
        events: vec![
            (ms, sg_entry("processed", ms)),
            (ms + 1000, sg_entry("delivered", ms + 1000)),
        ],
    }
}

fn details_requests(server: &Server, api: Api) -> Vec<String> {
    let reqs = server.requests();
    reqs.into_iter()
        .map(|(t, _)| t)
        .filter(|t| match api {
            Api::Postmark => t.ends_with("/details"),
            _ => t.starts_with("/v3/messages/"),
        })
        .collect()
}

#[test]
fn postmark_messages_api_pages_by_offset_through_a_500_a_429_and_an_empty_last_page() {
    let server = Server::start(Api::Postmark, 0);
    let t0 = now_ms() - 86_400_000;
    for i in 0..5 {
        server.add_message(pm_msg(i, t0 + i as i64 * 60_000));
    }
    // Message 3 was opened and clicked; message 4 bounced: its MessageEvents entry points at
    // the bounce record, which the Bounces API serves.
    let m3 = pm_msg(3, 0).id;
    server.add_message_event(
        &m3,
        t0 + 600_000,
        pm_entry("Opened", t0 + 600_000, "pm3@example.com"),
    );
    server.add_message_event(
        &m3,
        t0 + 660_000,
        pm_entry("LinkClicked", t0 + 660_000, "pm3@example.com"),
    );
    let m4 = pm_msg(4, 0).id;
    let bounce_ms = t0 + 300_000;
    let mut bounced = pm_entry("Bounced", bounce_ms, "pm4@example.com");
    bounced["Details"]["BounceID"] = json!("5550000004");
    server.add_message_event(&m4, bounce_ms, bounced);
    server.add(
        bounce_ms,
        json!({"ID": 5_550_000_004u64, "Type": "HardBounce", "TypeCode": 1, "MessageID": m4,
               "Email": "pm4@example.com", "BouncedAt": iso(bounce_ms),
               "Details": "smtp;550 5.1.1 no such user", "MessageStream": "outbound"}),
    );
    // One message was counted but aged out before its page was read: the last page is empty.
    server.state.lock().unwrap().total_bias = 1;
    server.fault(1, 500, vec![], r#"{"ErrorCode":100,"Message":"oops"}"#);
    server.fault(4, 429, vec![("Retry-After", "1".into())], r#"{"Message":"slow down"}"#);
    let dir = tempfile::tempdir().unwrap();
    let until = iso(t0 + 3_600_000);
    let args = ["--page-size", "2", "--since", &iso(t0 - 60_000), "--until", &until];
    let out = pull("postmark", &server, dir.path(), &args, &[]);
    let err = ok(&out);
    assert!(err.contains("HTTP 500") && err.contains("HTTP 429"), "{err}");
    let lists = server.paths_ending("/messages/outbound");
    let offsets: Vec<String> = lists.iter().map(|t| params(t)["offset"].clone()).collect();
    // The 500 is retried (two requests at offset 0), then 2, 4 and the empty page at 5.
    assert_eq!(offsets, ["0", "0", "2", "4", "5"], "{lists:?}");
    // Five details (one of them retried after the 429), then the bounces of the same window.
    assert_eq!(details_requests(&server, Api::Postmark).len(), 6);
    assert_eq!(server.paths_ending("/bounces").len(), 1);
    let keys = stored_keys(dir.path());
    // 5 deliveries, an open, a click, the Bounced entry and the bounce record.
    assert_eq!(keys.len(), 9, "{keys:?}");
    assert_no_doubles(&keys);
    assert!(keys.contains(&"postmark:5550000004".to_owned()), "{keys:?}");
    assert!(server.requests().iter().all(|(_, a)| a.as_deref() == Some(KEY)));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("5 message details, 9 new events"), "{summary}");
    let cp = checkpoint(dir.path(), "postmark");
    assert_eq!(cp["watermark"], json!(until));
    assert!(cp["in_progress"].is_null());
}

#[test]
fn postmark_message_sent_while_paging_repeats_one_and_the_next_pull_reads_it() {
    let server = Server::start(Api::Postmark, 0);
    let t0 = now_ms() - 6 * 3_600_000;
    for i in 0..4 {
        server.add_message(pm_msg(i, t0 + i as i64 * 60_000));
    }
    let t1 = t0 + 3_600_000;
    // Sent after the window's end, but inside the todate Postmark reads as Eastern time: it
    // lands on top of the newest-first list while the pull is on page 1.
    server.state.lock().unwrap().insert_after_first_list = Some(pm_msg(9, t1 + 60_000));
    let dir = tempfile::tempdir().unwrap();
    let args = ["--page-size", "2", "--since", &iso(t0 - 60_000), "--until", &iso(t1)];
    let out = pull("postmark", &server, dir.path(), &args, &[]);
    ok(&out);
    let details = details_requests(&server, Api::Postmark);
    // Pages: [3, 2], then [2, 1] (shifted by the new message), then [0].
    assert_eq!(details.len(), 5, "{details:?}");
    let m2 = format!("/messages/outbound/{}/details", pm_msg(2, 0).id);
    assert_eq!(details.iter().filter(|d| **d == m2).count(), 2, "{details:?}");
    let keys = stored_keys(dir.path());
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_no_doubles(&keys);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 duplicates skipped"));
    // The next window starts an overlap before t1 and reaches the new message.
    let out = pull("postmark", &server, dir.path(), &["--until", &iso(t1 + 3_600_000)], &[]);
    ok(&out);
    let keys = stored_keys(dir.path());
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_no_doubles(&keys);
}

#[test]
fn postmark_late_events_need_the_overlap_or_the_lookback() {
    let server = Server::start(Api::Postmark, 0);
    let t0 = now_ms() - 20 * 3_600_000;
    let t1 = t0 + 8 * 3_600_000;
    // `early` was sent long before the first window's end, `recent` inside its overlap.
    let (early, recent) = (pm_msg(1, t0 + 300_000), pm_msg(2, t1 - 600_000));
    let (early_id, recent_id) = (early.id.clone(), recent.id.clone());
    server.add_message(early);
    server.add_message(recent);
    let dir = tempfile::tempdir().unwrap();
    ok(&pull("postmark", &server, dir.path(), &["--since", &iso(t0), "--until", &iso(t1)], &[]));
    assert_eq!(stored_keys(dir.path()).len(), 2);
    // Both are opened after the first pull read them.
    server.add_message_event(
        &early_id,
        t1 + 60_000,
        pm_entry("Opened", t1 + 60_000, "pm1@example.com"),
    );
    server.add_message_event(
        &recent_id,
        t1 + 60_000,
        pm_entry("Opened", t1 + 60_000, "pm2@example.com"),
    );
    let t2 = t1 + 3_600_000;
    let out = pull("postmark", &server, dir.path(), &["--until", &iso(t2)], &[]);
    ok(&out);
    // Only `recent` was listed again (the overlap), so only its open is read.
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("1 message details, 1 new events, 1 duplicates skipped"), "{summary}");
    // A lookback of ten hours lists `early` again too.
    let t3 = t2 + 3_600_000;
    let out = pull(
        "postmark",
        &server,
        dir.path(),
        &["--until", &iso(t3), "--lookback-secs", "36000"],
        &[],
    );
    ok(&out);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("2 message details, 1 new events, 3 duplicates skipped"), "{summary}");
    let keys = stored_keys(dir.path());
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_no_doubles(&keys);
}

#[test]
fn postmark_killed_between_store_and_checkpoint_resumes_without_loss_or_doubles() {
    let server = Server::start(Api::Postmark, 0);
    let t0 = now_ms() - 86_400_000;
    for i in 0..6 {
        server.add_message(pm_msg(i, t0 + i as i64 * 60_000));
    }
    let dir = tempfile::tempdir().unwrap();
    let until = iso(t0 + 3_600_000);
    let args = ["--page-size", "2", "--since", &iso(t0 - 60_000), "--until", &until];
    let killed =
        pull("postmark", &server, dir.path(), &args, &[("MAILSTATE_PULL_CRASH_AFTER_PAGES", "2")]);
    assert!(!killed.status.success());
    // Pages 1 and 2 and their details are stored; the checkpoint still points at page 2.
    assert_eq!(stored_keys(dir.path()).len(), 4);
    let cp = checkpoint(dir.path(), "postmark");
    let cursor = cp["in_progress"]["cursor"].as_str().unwrap().to_owned();
    assert!(cursor.contains("/messages/outbound?") && cursor.contains("offset=2"), "{cp}");
    let before = server.requests().len();
    let out = pull("postmark", &server, dir.path(), &args, &[]);
    ok(&out);
    let keys = stored_keys(dir.path());
    assert_eq!(keys.len(), 6, "{keys:?}");
    assert_no_doubles(&keys);
    let resumed = &server.requests()[before].0;
    assert!(resumed.ends_with(&cursor[server.base.len()..]), "{resumed}");
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("4 message details, 2 new events, 2 duplicates skipped"), "{summary}");
    let cp = checkpoint(dir.path(), "postmark");
    assert_eq!(cp["watermark"], json!(until));
}

#[test]
fn sendgrid_activity_details_become_events_through_a_500_and_a_429() {
    let server = Server::start(Api::Sendgrid, 0);
    let t0 = now_ms() - 3_600_000;
    for i in 0..3 {
        server.add_message(sg_msg(i, t0 + i as i64 * 60_000));
    }
    let m1 = sg_msg(1, 0).id;
    server.add_message_event(&m1, t0 + 300_000, sg_entry("opened", t0 + 300_000));
    server.add_message_event(&m1, t0 + 310_000, sg_entry("clicked", t0 + 310_000));
    server.fault(1, 500, vec![], r#"{"errors":[{"message":"internal server error"}]}"#);
    server.fault(
        3,
        429,
        vec![("Retry-After", "1".into())],
        r#"{"errors":[{"message":"too many requests"}]}"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let until = iso(t0 + 1_800_000);
    let out = pull(
        "sendgrid",
        &server,
        dir.path(),
        &["--since", &iso(t0 - 60_000), "--until", &until],
        &[],
    );
    let err = ok(&out);
    assert!(err.contains("HTTP 500") && err.contains("HTTP 429"), "{err}");
    let keys = stored_keys(dir.path());
    assert_eq!(keys.len(), 8, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("sendgrid:sha256:")), "{keys:?}");
    assert_no_doubles(&keys);
    // The list (once more after its 500), three details (one more after its 429).
    assert_eq!(server.requests().len(), 6);
    let expected_auth = format!("Bearer {KEY}");
    assert!(server.requests().iter().all(|(_, a)| a.as_deref() == Some(expected_auth.as_str())));
    // The message's id is the X-Message-Id: the part before `.filter`.
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("3 message details, 8 new events"), "{summary}");
    assert_eq!(checkpoint(dir.path(), "sendgrid")["watermark"], json!(until));
    // A window without messages: an empty list, no details, the watermark moves on.
    let until2 = iso(t0 + 3_000_000);
    let out =
        pull("sendgrid", &server, dir.path(), &["--until", &until2, "--overlap-secs", "0"], &[]);
    ok(&out);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("1 pages, 0 message details, 0 new events"), "{summary}");
    assert_eq!(checkpoint(dir.path(), "sendgrid")["watermark"], json!(until2));
}

#[test]
fn sendgrid_killed_pull_resumes_and_late_events_come_back_with_their_message() {
    let server = Server::start(Api::Sendgrid, 0);
    let t0 = now_ms() - 2 * 3_600_000;
    for i in 0..4 {
        server.add_message(sg_msg(i, t0 + i as i64 * 60_000));
    }
    let dir = tempfile::tempdir().unwrap();
    let t1 = t0 + 1_800_000;
    let args = ["--since", &iso(t0 - 60_000), "--until", &iso(t1)];
    let killed =
        pull("sendgrid", &server, dir.path(), &args, &[("MAILSTATE_PULL_CRASH_AFTER_PAGES", "1")]);
    assert!(!killed.status.success());
    // The page and its details are stored; no checkpoint was written.
    assert_eq!(stored_keys(dir.path()).len(), 8);
    assert!(!dir.path().join("pull-sendgrid.json").exists());
    let out = pull("sendgrid", &server, dir.path(), &args, &[]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 new events, 8 duplicates skipped"));
    assert_no_doubles(&stored_keys(dir.path()));
    // A bounce reaches message 0 after the window that listed it: its last event time moves
    // into the next window, which lists it again.
    let m0 = sg_msg(0, 0).id;
    server.add_message_event(&m0, t1 + 600_000, sg_entry("bounced", t1 + 600_000));
    let out = pull("sendgrid", &server, dir.path(), &["--until", &iso(t1 + 1_800_000)], &[]);
    ok(&out);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("1 message details, 1 new events, 2 duplicates skipped"), "{summary}");
    let keys = stored_keys(dir.path());
    assert_eq!(keys.len(), 9, "{keys:?}");
    assert_no_doubles(&keys);
}

/// `mailstate sql` over a store: one row per message and recipient with every state field
/// but `event_count` (printed apart), as CSV.
fn message_states(dir: &Path) -> (String, String) {
    // Every state field but the keys and `event_count` (printed apart).
    let fields =
        STATE_FIELDS.iter().filter(|f| !matches!(**f, "message_id" | "recipient" | "event_count"));
    let cols: Vec<String> = fields.map(|f| format!("get_field(s, '{f}') AS {f}")).collect();
    let run = |sql: String| sql_csv(dir, &sql);
    let inner = "SELECT message_id, recipient, \
        message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s \
        FROM events GROUP BY message_id, recipient";
    let states = run(format!(
        "SELECT message_id, recipient, {} FROM ({inner}) ORDER BY message_id, recipient",
        cols.join(", ")
    ));
    let counts = run(format!(
        "SELECT message_id, recipient, get_field(s, 'event_count') AS n FROM ({inner}) \
         ORDER BY message_id, recipient"
    ));
    (states, counts)
}

/// `mailstate sql --format csv` over the store in `dir`: its output, which must be a success.
fn sql_csv(dir: &Path, sql: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mailstate"))
        .args(["sql", "--format", "csv", "--events"])
        .arg(dir)
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn ingest_webhooks(provider: &str, dir: &Path) -> tempfile::TempDir {
    let store = tempfile::tempdir().unwrap();
    let ingest = Command::new(env!("CARGO_BIN_EXE_mailstate"))
        .args(["ingest", "--provider", provider, "--out"])
        .arg(store.path())
        .arg(dir)
        .output()
        .unwrap();
    assert!(ingest.status.success(), "{}", String::from_utf8_lossy(&ingest.stderr));
    store
}

/// The same Postmark facts pulled (Messages API details and Bounces API) and pushed as
/// webhooks give the same states; deliveries, opens and clicks even share their keys.
#[test]
fn postmark_pull_and_webhooks_give_the_same_message_states() {
    let server = Server::start(Api::Postmark, 0);
    let t0 = now_ms() - 10 * 3_600_000;
    let webhooks = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut push = |body: Value| {
        std::fs::write(webhooks.path().join(format!("{n:02}.json")), body.to_string()).unwrap();
        n += 1;
    };
    let mut bounced_entries = 0;
    for i in 0..6usize {
        let sent = t0 + i as i64 * 600_000;
        let mut m = pm_msg(i, sent);
        let (id, rcpt) = (m.id.clone(), m.recipient.clone());
        let base = json!({"MessageID": id, "MessageStream": "outbound", "Tag": "receipt",
                          "Metadata": {"order": "9001"}});
        let with = |extra: Value| {
            let mut b = base.clone();
            b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            b
        };
        let delivered = sent + 2000;
        push(with(
            json!({"RecordType": "Delivery", "Recipient": rcpt, "DeliveredAt": iso(delivered),
                         "Details": "smtp;250 2.0.0 OK"}),
        ));
        if i % 2 == 1 {
            let t = sent + 60_000;
            m.events.push((t, pm_entry("Opened", t, &rcpt)));
            push(with(
                json!({"RecordType": "Open", "Recipient": rcpt, "ReceivedAt": iso(t), "FirstOpen": true}),
            ));
            let t = sent + 90_000;
            m.events.push((t, pm_entry("LinkClicked", t, &rcpt)));
            push(with(json!({"RecordType": "Click", "Recipient": rcpt, "ReceivedAt": iso(t),
                             "OriginalLink": "https://example.com/track"})));
        }
        if i % 3 == 2 {
            let t = sent + 120_000;
            let bounce_id = 5_560_000_000u64 + i as u64;
            let mut entry = pm_entry("Bounced", t, &rcpt);
            entry["Details"]["BounceID"] = json!(bounce_id.to_string());
            m.events.push((t, entry));
            bounced_entries += 1;
            let (kind, code) = if i == 2 { ("HardBounce", 1) } else { ("Blocked", 100_006) };
            let record = json!({"ID": bounce_id, "Type": kind, "TypeCode": code, "MessageID": id,
                "Email": rcpt, "BouncedAt": iso(t), "Details": "smtp;550 5.1.1 no such user",
                "MessageStream": "outbound", "Tag": "receipt", "Metadata": {"order": "9001"}});
            server.add(t, record.clone());
            let mut webhook = record;
            webhook["RecordType"] = json!("Bounce");
            push(webhook);
        }
        if i == 5 {
            let t = sent + 180_000;
            m.events.push((t, json!({"Recipient": rcpt, "Type": "SubscriptionChanged", "ReceivedAt": iso(t),
                "Details": {"Origin": "Recipient", "SuppressSending": true, "SuppressionReason": "ManualSuppression"}})));
            push(with(
                json!({"RecordType": "SubscriptionChange", "Recipient": rcpt, "ChangedAt": iso(t),
                "Origin": "Recipient", "SuppressSending": true, "SuppressionReason": "ManualSuppression"}),
            ));
        }
        server.add_message(m);
    }
    let pulled = tempfile::tempdir().unwrap();
    let args = ["--page-size", "4", "--since", &iso(t0 - 60_000)];
    ok(&pull("postmark", &server, pulled.path(), &args, &[]));
    let pushed = ingest_webhooks("postmark", webhooks.path());
    let ((a, a_counts), (b, b_counts)) =
        (message_states(pulled.path()), message_states(pushed.path()));
    assert_eq!(a, b);
    assert_eq!(a.lines().count(), 7, "{a}");
    assert!(a.contains("hard_bounce") && a.contains("block") && a.contains("unsubscribe"), "{a}");
    // Deliveries, opens, clicks and bounces share their keys across both paths; the pull adds
    // one `unknown` event per Bounced entry (it cannot say the bounce type).
    let (pk, wk) = (stored_keys(pulled.path()), stored_keys(pushed.path()));
    assert!(wk.iter().all(|k| pk.contains(k)), "{wk:?}\n{pk:?}");
    assert_eq!(pk.len(), wk.len() + bounced_entries);
    assert_ne!(a_counts, b_counts);
}

/// The same SendGrid facts pulled from the Email Activity API and pushed as Event Webhook
/// batches give the same states (keys differ: the activity API has no `sg_event_id`).
#[test]
fn sendgrid_pull_and_webhooks_give_the_same_message_states() {
    let server = Server::start(Api::Sendgrid, 0);
    // Whole seconds: the Event Webhook's `timestamp` has no fraction.
    let t0 = (now_ms() - 3_600_000) / 1000 * 1000;
    let kinds = [
        "processed",
        "delivered",
        "opened",
        "clicked",
        "bounced",
        "deferred",
        "spam_report",
        "dropped",
    ];
    let webhook_name = |k: &str| {
        match k {
            "opened" => "open",
            "clicked" => "click",
            "bounced" => "bounce",
            "spam_report" => "spamreport",
            other => other,
        }
        .to_owned()
    };
    let mut batch = Vec::new();
    for i in 0..5usize {
        let ms = t0 + i as i64 * 120_000;
        let mut m = sg_msg(i, ms);
        m.events.clear();
        let x_message_id = format!("sgmsg{i:03}");
        for (j, kind) in kinds.iter().enumerate().filter(|(j, _)| (j + i) % 3 != 0 || *j < 2) {
            let t = ms + j as i64 * 1000;
            m.events.push((t, sg_entry(kind, t)));
            let entry = sg_entry(kind, t);
            let mut e = json!({"email": m.recipient, "timestamp": t / 1000, "event": webhook_name(kind),
                "sg_event_id": format!("ev-{i}-{j}"), "sg_message_id": m.id, "asm_group_id": 7,
                "category": ["invoice"], "tenant": "acme"});
            for (k, w) in [("reason", "reason"), ("url", "url")] {
                if let Some(v) = entry.get(k) {
                    e[w] = v.clone();
                }
            }
            if *kind == "bounced" {
                e["type"] = json!("bounce");
            }
            if *kind == "delivered" || *kind == "deferred" {
                e["response"] = e["reason"].take();
            }
            batch.push(e);
        }
        assert!(m.id.starts_with(&x_message_id));
        server.add_message(m);
    }
    let webhooks = tempfile::tempdir().unwrap();
    std::fs::write(webhooks.path().join("batch.json"), Value::Array(batch).to_string()).unwrap();
    let pulled = tempfile::tempdir().unwrap();
    ok(&pull("sendgrid", &server, pulled.path(), &["--since", &iso(t0 - 60_000)], &[]));
    let pushed = ingest_webhooks("sendgrid", webhooks.path());
    let ((a, a_counts), (b, b_counts)) =
        (message_states(pulled.path()), message_states(pushed.path()));
    assert_eq!(a, b);
    assert_eq!(a_counts, b_counts);
    assert_eq!(a.lines().count(), 6, "{a}");
    assert!(a.contains("complaint") && a.contains("hard_bounce"), "{a}");
}

#[test]
fn a_message_gone_before_its_details_are_read_is_skipped_with_a_warning() {
    let server = Server::start(Api::Sendgrid, 0);
    let t0 = now_ms() - 3_600_000;
    server.add_message(sg_msg(0, t0));
    let mut gone = sg_msg(1, t0 + 1000);
    gone.id = "gone-sgmsg001".into();
    server.add_message(gone);
    let dir = tempfile::tempdir().unwrap();
    let out = pull("sendgrid", &server, dir.path(), &["--since", &iso(t0 - 60_000)], &[]);
    let err = ok(&out);
    assert!(err.contains("/v3/messages/gone-sgmsg001 is gone (HTTP 404)"), "{err}");
    assert_eq!(stored_keys(dir.path()).len(), 2);
    // A 404 is not retried.
    assert_eq!(server.requests().len(), 3);
}
