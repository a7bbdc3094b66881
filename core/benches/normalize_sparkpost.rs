//! Normalizing a 1,000-event SparkPost webhook batch, against the floor of merely parsing the
//! same bytes with serde_json into `IgnoredAny`. Run with
//! `cargo bench -p mailstate-core --bench normalize_sparkpost`.

#![expect(clippy::unwrap_used, reason = "a benchmark: a failure should stop it loudly")]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailstate_core::{Headers, Payload, Provider, normalize, normalize_borrowed};

/// A realistic batch: the mix of a transactional stream (injections, deliveries, opens,
/// clicks, a few delays, bounces, complaints and unsubscribes), with the fields SparkPost
/// really sends (string numbers, metadata, tags, user agents, geo).
fn batch(n: usize) -> String {
    let mut s = String::from("[");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let ts = 1_767_400_000 + i;
        let rcpt = format!("user{}@example.com", i % 97);
        let common = format!(
            r#""event_id":"{eid}","timestamp":"{ts}","transmission_id":"84123456789{tx:06}","message_id":"0004a1b2c3d4{i:08x}","rcpt_to":"{rcpt}","raw_rcpt_to":"{rcpt}","customer_id":"1234","subaccount_id":"0","campaign_id":"onboarding","template_id":"welcome-v3","template_version":"7","friendly_from":"app@example.com","msg_from":"msprvs1=abc=bounces-1234@sparkpostmail.com","sending_domain":"example.com","recipient_domain":"example.com","ip_pool":"default","sending_ip":"192.0.2.10","subject":"Welcome aboard","rcpt_meta":{{"plan":"pro","user_id":"{i}"}},"rcpt_tags":["welcome","new"],"rcpt_type":"to""#,
            eid = 84_123_456_789_000_000u64 + i as u64,
            tx = i / 10,
        );
        let (class, body) = match i % 20 {
            0..=5 => (
                "message_event",
                format!(
                    r#""type":"injection","msg_size":"2345","injection_time":"2026-01-03T00:26:40.000Z",{common}"#
                ),
            ),
            6..=11 => (
                "message_event",
                format!(
                    r#""type":"delivery","queue_time":"1234","num_retries":"0","delv_method":"esmtp","mailbox_provider":"Gmail","mailbox_provider_region":"Global","raw_reason":"250 2.0.0 OK 1767400000 fake.123 - gsmtp",{common}"#
                ),
            ),
            12..=14 => (
                "track_event",
                format!(
                    r#""type":"open","user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15","ip_address":"198.51.100.{o}","geo_ip":{{"country":"US","region":"CA","city":"San Francisco","latitude":37.77,"longitude":-122.41}},{common}"#,
                    o = i % 250
                ),
            ),
            15 | 16 => (
                "track_event",
                format!(
                    r#""type":"click","target_link_url":"https://example.com/start?utm_source=welcome&i={i}","target_link_name":"cta","user_agent":"Mozilla/5.0","ip_address":"198.51.100.7",{common}"#
                ),
            ),
            17 => (
                "message_event",
                format!(
                    r#""type":"delay","bounce_class":"21","error_code":"451","raw_reason":"451 4.4.0 DNS lookup failed, will retry","num_retries":"2",{common}"#
                ),
            ),
            18 => (
                "message_event",
                format!(
                    r#""type":"bounce","bounce_class":"10","error_code":"550","reason":"550 5.1.1 ...@... unknown user","raw_reason":"550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",{common}"#
                ),
            ),
            _ => (
                "unsubscribe_event",
                format!(r#""type":"list_unsubscribe","mailfrom":"bounces@example.com",{common}"#),
            ),
        };
        write!(s, r#"{{"msys":{{"{class}":{{{body}}}}},"cust":{{"id":1234}}}}"#).unwrap();
    }
    s.push(']');
    s
}

fn bench(c: &mut Criterion) {
    let body = batch(1_000);
    let headers = Headers::new();
    // Sanity: every element normalizes.
    let out = normalize(Provider::Sparkpost, Payload { body: body.as_bytes(), headers: &headers })
        .unwrap();
    assert_eq!((out.events.len(), out.errors.len()), (1_000, 0));

    let mut g = c.benchmark_group("sparkpost_batch_1000");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("serde_json_ignored_any", |b| {
        b.iter(|| {
            let v: serde::de::IgnoredAny =
                serde_json::from_slice(black_box(body.as_bytes())).unwrap();
            black_box(v)
        });
    });
    g.bench_function("normalize", |b| {
        b.iter(|| {
            let out = normalize(
                Provider::Sparkpost,
                Payload { body: black_box(body.as_bytes()), headers: &headers },
            )
            .unwrap();
            black_box(out)
        });
    });
    // SparkPost's reader builds owned events; the borrowed API wraps them without copying.
    g.bench_function("normalize_borrowed", |b| {
        b.iter(|| {
            let out = normalize_borrowed(
                Provider::Sparkpost,
                Payload { body: black_box(body.as_bytes()), headers: &headers },
            )
            .unwrap();
            black_box(out)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
