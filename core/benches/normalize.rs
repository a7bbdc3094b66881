//! Normalizing throughput against the floor of merely parsing the same bytes.
//!
//! Each group normalizes one realistic body and, in the same run, parses it with serde_json
//! into `IgnoredAny` (the least any JSON reader can do). Both report MB/s; the ratio is the
//! cost of normalizing. Target: within 2x of the floor. `output_floor` clones the events
//! normalize returned, which measures what allocating and dropping the owned output costs on its
//! own.
//!
//! `cargo bench -p mailstate-core --bench normalize -- --warm-up-time 1 --measurement-time 3`

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailstate_core::{Headers, Payload, Provider, normalize, normalize_borrowed};

/// One group: `normalize(provider, body)` next to `serde_json` into `IgnoredAny`.
/// Other providers add a line to [`benches`] with their own body.
fn compare(c: &mut Criterion, name: &str, provider: Provider, body: &[u8]) {
    let headers = Headers::new();
    let check = normalize(provider, Payload { body, headers: &headers }).expect("bench body");
    assert!(check.errors.is_empty() && !check.events.is_empty(), "bench body must normalize");
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("normalize", |b| {
        b.iter(|| normalize(provider, Payload { body: black_box(body), headers: &headers }));
    });
    g.bench_function("normalize_borrowed", |b| {
        b.iter(|| {
            normalize_borrowed(provider, Payload { body: black_box(body), headers: &headers })
        });
    });
    g.bench_function("parse_floor", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body)));
    });
    // Not a floor criterion asks for, but the other half of the cost: allocating (and dropping)
    // the owned events normalize returns, measured by cloning them.
    g.bench_function("output_floor", |b| b.iter(|| black_box(&check.events).clone()));
    g.finish();
}

/// A SendGrid Event Webhook batch of `n` events cycling through the event types, with
/// categories, custom args and SMTP responses as real batches carry them.
fn sendgrid_batch(n: usize) -> Vec<u8> {
    let kinds = ["processed", "delivered", "open", "click", "deferred", "bounce", "dropped"];
    let mut s = String::from("[");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let kind = kinds[i % kinds.len()];
        let ts = 1_767_225_600 + i;
        write!(
            s,
            r#"{{"email":"user{i}@example.com","timestamp":{ts},"event":"{kind}","smtp-id":"<Tq9fR2mWx0aZyB4cD5e{i:04}@geopod-ismtpd-2>","sg_event_id":"ZXZlbnQtaWQtMDAwMDAwMDA{i:06}","sg_message_id":"Tq9fR2mWx0aZyB4cD5e{i:04}.recvd-6b7c8d9e0-abcd1-1-695A3C00-3.0","category":["invoice","eu"],"tenant":"acme","order_id":"{i}""#
        )
        .expect("write to string");
        match kind {
            "delivered" => s.push_str(r#","response":"250 2.0.0 OK","tls":1,"ip":"149.72.1.2""#),
            "open" => s.push_str(r#","useragent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","ip":"17.58.0.1","sg_machine_open":false"#),
            "click" => s.push_str(r#","url":"https://example.com/pay?ref=mail","url_offset":{"index":0,"type":"html"},"useragent":"Mozilla/5.0","ip":"17.58.0.1""#),
            "deferred" => s.push_str(r#","attempt":"3","response":"421 4.7.0 Try again later""#),
            "bounce" => s.push_str(r#","type":"bounce","status":"5.1.1","reason":"550 5.1.1 user unknown","bounce_classification":"Invalid Address""#),
            "dropped" => s.push_str(r#","reason":"Bounced Address","status":"5.0.0""#),
            _ => {}
        }
        s.push('}');
    }
    s.push(']');
    s.into_bytes()
}

/// A Mailgun Events API page of `n` items, cycling through the event types.
fn mailgun_page(n: usize) -> Vec<u8> {
    let kinds = ["accepted", "delivered", "opened", "clicked", "failed"];
    let mut s = String::from(r#"{"items":["#);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let kind = kinds[i % kinds.len()];
        let ts = 1_767_299_998.412 + f64::from(u32::try_from(i).expect("small index"));
        write!(
            s,
            r#"{{"event":"{kind}","id":"Qw3rTyU1oP2aS3dF{i:06}","timestamp":{ts},"recipient":"user{i}@example.com","recipient-domain":"example.com","log-level":"info","envelope":{{"sender":"app@mg.example.net","transport":"smtp","targets":"user{i}@example.com"}},"message":{{"headers":{{"message-id":"20260101201958.{i:06}@mg.example.net","to":"user{i}@example.com","from":"app@mg.example.net","subject":"Your receipt"}},"size":2048}},"tags":["receipt"],"user-variables":{{"uid":"{i}"}},"flags":{{"is-routed":false,"is-authenticated":true}}"#
        )
        .expect("write to string");
        match kind {
            "delivered" => s.push_str(r#","delivery-status":{"code":250,"message":"OK","attempt-no":1,"tls":true,"mx-host":"mx.example.com"}"#),
            "opened" => s.push_str(r#","ip":"203.0.113.5","client-info":{"client-type":"browser","user-agent":"Mozilla/5.0"}"#),
            "clicked" => s.push_str(r#","url":"https://example.com/start","ip":"203.0.113.5","client-info":{"user-agent":"Mozilla/5.0"}"#),
            "failed" => s.push_str(r#","severity":"permanent","reason":"bounce","delivery-status":{"code":550,"enhanced-code":"5.1.1","message":"5.1.1 mailbox does not exist","attempt-no":1}"#),
            _ => s.push_str(r#","delivery-status":null"#),
        }
        s.push('}');
    }
    s.push_str(r#"],"paging":{"next":"https://api.mailgun.net/v3/mg.example.net/events/W3siYiI6MX1d","previous":"https://api.mailgun.net/v3/mg.example.net/events/W3siYiI6MH1d"}}"#);
    s.into_bytes()
}

fn benches(c: &mut Criterion) {
    compare(c, "sendgrid_batch_1000", Provider::Sendgrid, &sendgrid_batch(1000));
    compare(c, "mailgun_events_page_1000", Provider::Mailgun, &mailgun_page(1000));
    // SparkPost batch: compare(c, "sparkpost_batch_1000", Provider::Sparkpost, &body);
}

criterion_group!(normalize_benches, benches);
criterion_main!(normalize_benches);
