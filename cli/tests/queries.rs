//! Every file of `sql/queries/` run against the demo data, with its result asserted row by row.
//!
//! The demo data is what `mailstate demo` ingests: the provider payloads under
//! `examples/demo/<provider>/` (SendGrid webhook batches, one of them retried; SES event
//! notifications through SNS and a Firehose export; a Mailgun webhook and an Events API page
//! that repeats it; Postmark bounce webhooks; a SparkPost webhook batch), plus
//! `examples/demo/sends.csv`. The expected rows were worked out from those payloads and
//! DESIGN.md's rules by hand; the comment above each table says how.

use datafusion::prelude::CsvReadOptions;
use mailstate_cli::store::{Body, IngestSummary, Store};
use mailstate_core::{Event, Provider};
use serde_json::{Value, json};

use crate::util::{TestExecution, events_from_json, repo, shuffle, temp_dir};

/// The text of `sql/queries/<name>.sql`.
fn query(name: &str) -> String {
    std::fs::read_to_string(repo().join("sql/queries").join(format!("{name}.sql"))).unwrap()
}

/// Ingest every provider folder of examples/demo (in name order, files in name order, as
/// `mailstate demo` does) into a store at `dir`; the summary of each provider.
pub(crate) fn ingest_demo(dir: &std::path::Path) -> Vec<(Provider, IngestSummary)> {
    let store = Store::open(dir).unwrap();
    let demo = repo().join("examples/demo");
    let mut folders: Vec<(Provider, std::path::PathBuf)> = std::fs::read_dir(&demo)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap().to_str().unwrap().parse::<Provider>().unwrap(), p))
        .collect();
    folders.sort();
    folders
        .into_iter()
        .map(|(provider, folder)| {
            let mut files: Vec<_> =
                std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            let bodies = files.into_iter().map(|p| Body {
                source: p.display().to_string(),
                bytes: std::fs::read(&p).unwrap(),
            });
            (provider, store.ingest(provider, bodies, |_| {}).unwrap())
        })
        .collect()
}

/// A session over the ingested demo store (`events`) and `sends`.
async fn demo_session(dir: &std::path::Path) -> TestExecution {
    let t = TestExecution::new(4);
    mailstate_sql::register_events(&t.ctx, "events", &dir.join("events")).await.unwrap();
    let sends = repo().join("examples/demo/sends.csv");
    t.ctx.register_csv("sends", sends.to_str().unwrap(), CsvReadOptions::new()).await.unwrap();
    t
}

/// The rows `sql` answers over a freshly ingested demo store.
async fn demo_rows(sql: &str) -> Vec<Value> {
    let dir = temp_dir();
    ingest_demo(dir.path());
    demo_session(dir.path()).await.rows(sql).await
}

/// Equal row lists, reported row by row.
fn assert_rows(actual: &[Value], expected: &Value) {
    let expected = expected.as_array().unwrap();
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(a, e, "row {i} differs:\n actual   {a}\n expected {e}");
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "row count differs; actual rows:\n{}",
        actual.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
    );
}

// Message ids, as each provider's normalizer derives them (providers.md, "message_id").
/// SendGrid: the X-Message-Id part of `sg_message_id` (fall sale to ann and bob).
const SG_FALL: &str = "Fa11Sa1eQ3x7Lm2Np8Rt0w";
/// SendGrid: the receipt to ann.
const SG_RECEIPT: &str = "Rcpt4nnK9vB2xY6zQ1wE5t";
/// SES: `mail.messageId` (carol's receipt, dave's and ivan's fall sale).
const SES_CAROL: &str = "010001a4c1f2d3e4-5b6a7c8d-1111-2222-3333-444455556666-000000";
const SES_DAVE: &str = "010001a4c1f2d3e5-6c7b8d9e-1111-2222-3333-444455557777-000000";
const SES_IVAN: &str = "010001a4d9e8f7a6-7d8c9eaf-1111-2222-3333-444455558888-000000";
/// Mailgun: `message.headers.message-id`.
const MG_ERIN: &str = "20251103120000.4f2a9c1e7b3d5a60@mg.example.com";
const MG_FRANK: &str = "20251103120000.8e1d3b5c7a9f2e40@mg.example.com";
/// SparkPost: `transmission_id`, shared by uma and wes.
const SP_FALL: &str = "30189227474651234";
/// Postmark: `MessageID` (gina's three, hank's receipt).
const PM_GINA_1: &str = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e01";
const PM_GINA_2: &str = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e02";
const PM_GINA_3: &str = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e03";
const PM_HANK: &str = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e04";

#[tokio::test]
async fn demo_payloads_ingest_with_retries_and_repeats_skipped() {
    let dir = temp_dir();
    let summaries = ingest_demo(dir.path());
    let got: Vec<(&str, u64, u64, u64, u64, u64)> = summaries
        .iter()
        .map(|(p, s)| (p.as_str(), s.bodies, s.new_bodies, s.events, s.duplicates, s.errors))
        .collect();
    assert_eq!(
        got,
        [
            // 7 batches; the 10:33 one is a byte-for-byte retry of the 10:32 one (stored
            // once, its 2 events skipped), and the 12:01 batch repeats bob's bounce.
            ("sendgrid", 7, 6, 11, 3, 0),
            // 4 SNS notifications (carol) and a Firehose export of 5 records (dave, ivan).
            ("ses", 5, 5, 9, 0, 0),
            // 2 webhooks, then an Events API page of 6 items that repeats both.
            ("mailgun", 3, 3, 6, 2, 0),
            ("postmark", 4, 4, 4, 0, 0),
            ("sparkpost", 1, 1, 8, 0, 0),
        ]
    );
}

/// A `message_states` row's facts: (status, terminal, events, late, opens, machine opens,
/// bounce class and category).
type Facts<'a> = (&'a str, bool, u64, u64, u64, u64, Option<(&'a str, &'a str)>);

/// One row per (message_id, recipient):
/// - carol (SES): Send, Delivery, Complaint 11-04 07:00, Open 08:00: complaint (rank 10), and
///   the open after terminal_at is late;
/// - dave (SES): Send, DeliveryDelay, Delivery, DeliveryDelay: deferred after delivered changes
///   nothing, so delivered;
/// - ivan (SES): Send only: accepted;
/// - erin (Mailgun): failed/temporary (deferred), delivered, opened with `client-info.bot`
///   `apple` (Apple's privacy proxy): delivered, not open; the open counts (opens 1,
///   machine_opens 1); the page's copies of the webhook events are not counted again;
/// - frank (Mailgun): delivered, unsubscribed 14:00, clicked 14:05: unsubscribe outranks click,
///   the click is late;
/// - uma (SparkPost): injection, delivery, initial_open and open (two opens), click: click;
/// - wes (SparkPost): injection, delay, delivery: delivered;
/// - gina (Postmark): one bounce per message, SoftBounce, SoftBounce, Blocked: soft_bounce with
///   classes soft, soft, block; categories from the text ("mailbox full", TypeCode 4096 has
///   no row) and from TypeCode 100006 (blocked);
/// - hank (Postmark): ManuallyDeactivated is rejected (terminal);
/// - ann, fall sale (SendGrid): processed, delivered, open, click, group_unsubscribe 11-04
///   18:00, group_resubscribe 11-05: resubscribe never sets status, so unsubscribe; the
///   resubscribe comes after terminal_at, so it is late;
/// - bob (SendGrid): processed, bounce (sent twice, counted once), open at 12:00: hard_bounce,
///   the open is late;
/// - ann, receipt (SendGrid): processed, delivered.
#[tokio::test]
async fn message_states_query() {
    let rows = demo_rows(&query("message_states")).await;
    let row = |m: &str, r: &str, f: Facts<'_>| {
        let (status, terminal, events, late, opens, machine_opens, bounce) = f;
        json!({"message_id": m, "recipient": r, "status": status, "terminal": terminal,
               "events": events, "late": late, "opens": opens, "machine_opens": machine_opens,
               "bounce_class": bounce.map(|b| b.0), "bounce_category": bounce.map(|b| b.1)})
    };
    assert_rows(
        &rows,
        &json!([
            row(SES_CAROL, "carol@example.org", ("complaint", true, 4, 1, 1, 0, None)),
            row(SES_DAVE, "dave@example.com", ("delivered", false, 4, 0, 0, 0, None)),
            row(SES_IVAN, "ivan@example.com", ("accepted", false, 1, 0, 0, 0, None)),
            row(MG_ERIN, "erin@example.com", ("delivered", false, 3, 0, 1, 1, None)),
            row(MG_FRANK, "frank@example.net", ("unsubscribe", true, 3, 1, 0, 0, None)),
            row(SP_FALL, "uma@example.com", ("click", false, 5, 0, 2, 0, None)),
            row(SP_FALL, "wes@example.org", ("delivered", false, 3, 0, 0, 0, None)),
            row(
                PM_GINA_1,
                "gina@example.org",
                ("soft_bounce", false, 1, 0, 0, 0, Some(("soft", "mailbox_full")))
            ),
            row(
                PM_GINA_2,
                "gina@example.org",
                ("soft_bounce", false, 1, 0, 0, 0, Some(("soft", "mailbox_full")))
            ),
            row(
                PM_GINA_3,
                "gina@example.org",
                ("soft_bounce", false, 1, 0, 0, 0, Some(("block", "blocked")))
            ),
            row(PM_HANK, "hank@example.com", ("rejected", true, 1, 0, 0, 0, None)),
            row(SG_FALL, "ann@example.com", ("unsubscribe", true, 6, 1, 1, 0, None)),
            row(
                SG_FALL,
                "bob@example.net",
                ("hard_bounce", true, 3, 1, 1, 0, Some(("hard", "invalid_recipient")))
            ),
            row(SG_RECEIPT, "ann@example.com", ("delivered", false, 2, 0, 0, 0, None)),
        ]),
    );
}

/// Under the default policy:
/// - bob: his hard bounce, scope all;
/// - carol: her complaint, scope all;
/// - frank: his unsubscribe; Mailgun has no stream, so scope all;
/// - gina: three soft bounces (11-03 09:00:00.123, the Postmark time truncated to ms; 11-04;
///   11-05) within 7 days with no delivery between: scope all from the third;
/// - ann: not listed: her unsubscribe from SendGrid group 21 was lifted by a later
///   resubscribe in the same group;
/// - hank: not listed: a rejection suppresses nobody.
#[tokio::test]
async fn suppression_list_query() {
    let rows = demo_rows(&query("suppression_list")).await;
    assert_rows(
        &rows,
        &json!([
            {"recipient": "bob@example.net", "scope": "all", "reason": "hard_bounce",
             "since": "2025-11-03T10:00:05.000Z", "event_key": "sendgrid:Ym91bmNlLWJvYi0x"},
            {"recipient": "carol@example.org", "scope": "all", "reason": "complaint",
             "since": "2025-11-04T07:00:00.000Z",
             "event_key": "ses:6f1d0c2e-5a4b-4c3d-9e8f-000000000103"},
            {"recipient": "frank@example.net", "scope": "all", "reason": "unsubscribe",
             "since": "2025-11-03T14:00:00.000Z",
             "event_key": "mailgun:Un5uBfRaNk00aaaaaaaaaa:1762178400000"},
            {"recipient": "gina@example.org", "scope": "all", "reason": "soft_bounces",
             "since": "2025-11-05T09:00:00.000Z", "event_key": "postmark:4100000003"},
        ]),
    );
}

/// bob's timeline: processed (sets accepted), bounce (sets hard_bounce; its second copy was
/// skipped at ingest), then the link scanner's open at 12:00: no change, and late.
#[tokio::test]
async fn recipient_timeline_query() {
    let rows = demo_rows(&query("recipient_timeline")).await;
    let row = |at: &str, ty: &str, pt: &str, after: &str, changed: bool, late: bool| {
        json!({"occurred_at": at, "message_id": SG_FALL, "provider": "sendgrid", "type": ty,
               "provider_type": pt, "status_after": after, "changed_state": changed,
               "retry": false, "late": late})
    };
    assert_rows(
        &rows,
        &json!([
            row("2025-11-03T10:00:00.000Z", "accepted", "processed", "accepted", true, false),
            row("2025-11-03T10:00:05.000Z", "hard_bounce", "bounce", "hard_bounce", true, false),
            row("2025-11-03T12:00:00.000Z", "open", "open", "hard_bounce", false, true),
        ]),
    );

    // ann's: two messages interleaved in time. On the fall sale each event up to the
    // unsubscribe raises the status; the resubscribe changes no message status and comes after
    // terminal_at (the unsubscribe), so it is late.
    let ann = query("recipient_timeline");
    assert!(ann.contains("'bob@example.net'"));
    let rows = demo_rows(&ann.replace("'bob@example.net'", "'ann@example.com'")).await;
    let row = |at: &str, m: &str, ty: &str, pt: &str, after: &str, changed: bool, late: bool| {
        json!({"occurred_at": at, "message_id": m, "provider": "sendgrid", "type": ty,
               "provider_type": pt, "status_after": after, "changed_state": changed,
               "retry": false, "late": late})
    };
    assert_rows(
        &rows,
        &json!([
            row(
                "2025-11-03T10:00:00.000Z",
                SG_FALL,
                "accepted",
                "processed",
                "accepted",
                true,
                false
            ),
            row(
                "2025-11-03T10:00:02.000Z",
                SG_FALL,
                "delivered",
                "delivered",
                "delivered",
                true,
                false
            ),
            row("2025-11-03T10:30:00.000Z", SG_FALL, "open", "open", "open", true, false),
            row("2025-11-03T10:31:00.000Z", SG_FALL, "click", "click", "click", true, false),
            row(
                "2025-11-04T09:00:00.000Z",
                SG_RECEIPT,
                "accepted",
                "processed",
                "accepted",
                true,
                false
            ),
            row(
                "2025-11-04T09:00:03.000Z",
                SG_RECEIPT,
                "delivered",
                "delivered",
                "delivered",
                true,
                false
            ),
            row(
                "2025-11-04T18:00:00.000Z",
                SG_FALL,
                "unsubscribe",
                "group_unsubscribe",
                "unsubscribe",
                true,
                false
            ),
            row(
                "2025-11-05T08:00:00.000Z",
                SG_FALL,
                "resubscribe",
                "group_resubscribe",
                "unsubscribe",
                false,
                true
            ),
        ]),
    );
}

/// The timeline over a raw table that still holds retries, out-of-order rows, an event about
/// no message, over several partitions: a retry is marked and changes nothing; a delivery
/// after a click (clock skew) does not change the status; a deferral after delivery neither.
#[tokio::test]
async fn recipient_timeline_marks_retries_and_keeps_events_without_a_message() {
    let ev = |key: &str, ty: &str, m: Option<&str>, at: &str| {
        json!({"event_key": key, "provider": "test", "type": ty, "provider_type": ty,
               "message_id": m, "recipient": "pat@example.com", "occurred_at": at})
    };
    let mut events: Vec<Event> = events_from_json(&json!([
        ev("k1", "accepted", Some("m1"), "2025-11-03T10:00:00Z"),
        ev("k2", "click", Some("m1"), "2025-11-03T10:01:00Z"),
        ev("k3", "delivered", Some("m1"), "2025-11-03T10:02:00Z"),
        ev("k4", "complaint", Some("m1"), "2025-11-03T11:00:00Z"),
        ev("k4", "complaint", Some("m1"), "2025-11-03T11:00:00Z"),
        ev("k5", "open", Some("m1"), "2025-11-03T12:00:00Z"),
        ev("k6", "delivered", Some("m2"), "2025-11-03T09:00:00Z"),
        ev("k7", "deferred", Some("m2"), "2025-11-03T09:05:00Z"),
        ev("k8", "unknown", None, "2025-11-03T09:30:00Z"),
        ev("other", "hard_bounce", Some("m1"), "2025-11-03T10:00:30Z"),
    ]))
    .unwrap();
    // The last event is another recipient's: the timeline must not show it.
    events[9].recipient = Some("someone@example.com".into());
    shuffle(&mut events, 11);
    let t = TestExecution::new(3).with_events(&events, 3);
    let sql = query("recipient_timeline").replace("'bob@example.net'", "'pat@example.com'");
    let rows = t.rows(&sql).await;
    let row = |at: &str, m: Option<&str>, ty: &str, after: &str, changed, retry, late| {
        json!({"occurred_at": at, "message_id": m, "provider": "test", "type": ty,
               "provider_type": ty, "status_after": after, "changed_state": changed,
               "retry": retry, "late": late})
    };
    assert_rows(
        &rows,
        &json!([
            row(
                "2025-11-03T09:00:00.000Z",
                Some("m2"),
                "delivered",
                "delivered",
                true,
                false,
                false
            ),
            row(
                "2025-11-03T09:05:00.000Z",
                Some("m2"),
                "deferred",
                "delivered",
                false,
                false,
                false
            ),
            row("2025-11-03T09:30:00.000Z", None, "unknown", "unknown", true, false, false),
            row("2025-11-03T10:00:00.000Z", Some("m1"), "accepted", "accepted", true, false, false),
            row("2025-11-03T10:01:00.000Z", Some("m1"), "click", "click", true, false, false),
            row("2025-11-03T10:02:00.000Z", Some("m1"), "delivered", "click", false, false, false),
            row(
                "2025-11-03T11:00:00.000Z",
                Some("m1"),
                "complaint",
                "complaint",
                true,
                false,
                false
            ),
            row(
                "2025-11-03T11:00:00.000Z",
                Some("m1"),
                "complaint",
                "complaint",
                false,
                true,
                false
            ),
            row("2025-11-03T12:00:00.000Z", Some("m1"), "open", "complaint", false, false, true),
        ]),
    );
}

/// ann's messages, oldest first: the fall sale (SendGrid stream = asm_group_id 21; one open
/// and one click, counted once although the batch carrying them was retried; 6 events; ended
/// by her unsubscribe) and the receipt (no unsubscribe group, so no stream).
#[tokio::test]
async fn customer_timeline_query() {
    let rows = demo_rows(&query("customer_timeline")).await;
    assert_rows(
        &rows,
        &json!([
            {"first_event_at": "2025-11-03T10:00:00.000Z", "message_id": SG_FALL,
             "provider": "sendgrid", "stream": "21", "status": "unsubscribe",
             "delivered_at": "2025-11-03T10:00:02.000Z", "opens": 1, "clicks": 1, "events": 6},
            {"first_event_at": "2025-11-04T09:00:00.000Z", "message_id": SG_RECEIPT,
             "provider": "sendgrid", "stream": null, "status": "delivered",
             "delivered_at": "2025-11-04T09:00:03.000Z", "opens": 0, "clicks": 0, "events": 2},
        ]),
    );
}

/// By provider, recipient domain and day of the message's first event (each group here holds
/// one message, so each rate is 0 or 1):
/// - mailgun: erin (example.com) delivered after a temporary failure (deferred), and only
///   Apple's privacy proxy opened it (open rate 0, one machine open, machine share 1.0); frank
///   (example.net) delivered and clicked (after unsubscribing: a person's click);
/// - postmark: hank (example.com) rejected: nothing; gina (example.org) bounced on three days;
/// - sendgrid: ann's fall sale (11-03) and receipt (11-04) delivered; bob (example.net) bounced;
/// - ses: dave (example.com, 11-03) deferred then delivered; ivan (11-05) only accepted; carol
///   (example.org) delivered and complained;
/// - sparkpost: uma (example.com) delivered, two opens (initial_open and open) and a click;
///   wes (example.org) deferred then delivered.
///
/// Opens and clicks: ann (sendgrid, 11-03) opened and clicked; bob's late open is a link
/// scanner's, but SendGrid flags only Apple's prefetch (`sg_machine_open`), so it counts as a
/// person's; carol (ses) opened. No provider here flags a click.
#[tokio::test]
async fn deliverability_query() {
    let rows = demo_rows(&query("deliverability")).await;
    // rates: delivery, bounce, complaint, deferral, open, click; then people's and machines'
    // opens and clicks, with the machine shares (NULL without opens or clicks).
    let row = |p: &str, d: &str, day: &str, rates: [f64; 6], engagement: [u64; 4]| {
        let [people_opens, machine_opens, people_clicks, machine_clicks] = engagement;
        #[expect(clippy::cast_precision_loss, reason = "counts of a handful")]
        let share = |machines: u64, people: u64| {
            if machines + people == 0 {
                Value::Null
            } else {
                json!(machines as f64 / (machines + people) as f64)
            }
        };
        json!({"provider": p, "domain": d, "day": day, "messages": 1,
               "delivery_rate": rates[0], "bounce_rate": rates[1],
               "complaint_rate": rates[2], "deferral_rate": rates[3],
               "open_rate": rates[4], "click_rate": rates[5],
               "people_opens": people_opens, "machine_opens": machine_opens,
               "machine_open_share": share(machine_opens, people_opens),
               "people_clicks": people_clicks, "machine_clicks": machine_clicks,
               "machine_click_share": share(machine_clicks, people_clicks)})
    };
    let none = [0, 0, 0, 0];
    assert_rows(
        &rows,
        &json!([
            row(
                "mailgun",
                "example.com",
                "2025-11-03",
                [1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
                [0, 1, 0, 0]
            ),
            row(
                "mailgun",
                "example.net",
                "2025-11-03",
                [1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
                [0, 0, 1, 0]
            ),
            row("postmark", "example.com", "2025-11-03", [0.0; 6], none),
            row("postmark", "example.org", "2025-11-03", [0.0, 1.0, 0.0, 0.0, 0.0, 0.0], none),
            row("postmark", "example.org", "2025-11-04", [0.0, 1.0, 0.0, 0.0, 0.0, 0.0], none),
            row("postmark", "example.org", "2025-11-05", [0.0, 1.0, 0.0, 0.0, 0.0, 0.0], none),
            row(
                "sendgrid",
                "example.com",
                "2025-11-03",
                [1.0, 0.0, 0.0, 0.0, 1.0, 1.0],
                [1, 0, 1, 0]
            ),
            row("sendgrid", "example.com", "2025-11-04", [1.0, 0.0, 0.0, 0.0, 0.0, 0.0], none),
            row(
                "sendgrid",
                "example.net",
                "2025-11-03",
                [0.0, 1.0, 0.0, 0.0, 1.0, 0.0],
                [1, 0, 0, 0]
            ),
            row("ses", "example.com", "2025-11-03", [1.0, 0.0, 0.0, 1.0, 0.0, 0.0], none),
            row("ses", "example.com", "2025-11-05", [0.0; 6], none),
            row("ses", "example.org", "2025-11-03", [1.0, 0.0, 1.0, 0.0, 1.0, 0.0], [1, 0, 0, 0]),
            row(
                "sparkpost",
                "example.com",
                "2025-11-05",
                [1.0, 0.0, 0.0, 0.0, 1.0, 1.0],
                [2, 0, 1, 0]
            ),
            row("sparkpost", "example.org", "2025-11-05", [1.0, 0.0, 0.0, 1.0, 0.0, 0.0], none),
        ]),
    );
}

/// Bounced messages by provider and category: gina's three Postmark bounces (two SoftBounce
/// whose Details say "mailbox full", one Blocked, TypeCode 100006) and bob's SendGrid bounce
/// (`bounce_classification` "Invalid Address").
#[tokio::test]
async fn bounce_categories_query() {
    let rows = demo_rows(&query("bounce_categories")).await;
    assert_rows(
        &rows,
        &json!([
            {"provider": "postmark", "bounce_category": "blocked", "messages": 1, "share": 0.333},
            {"provider": "postmark", "bounce_category": "mailbox_full", "messages": 2, "share": 0.667},
            {"provider": "sendgrid", "bounce_category": "invalid_recipient", "messages": 1, "share": 1.0},
        ]),
    );
}

/// A store written before `automated` and `bounce_category` existed (`mailstate ingest
/// --provider sendgrid` of examples/demo/sendgrid by the binary of commit 7cb7151, committed
/// under `cli/tests/fixtures/store-before-automated`) still reads: the missing columns are
/// NULL, every open counts as a person's, and a bounce has a class but no category. See
/// issue 18.
#[tokio::test]
async fn r18_store_written_before_automated_and_bounce_category_still_reads() {
    let store = repo().join("cli/tests/fixtures/store-before-automated");
    let t = TestExecution::new(4);
    mailstate_sql::register_events(&t.ctx, "events", &store.join("events")).await.unwrap();
    let nulls = t
        .rows(
            "SELECT COUNT(*) AS events, COUNT(automated) AS automated,
                    COUNT(bounce_category) AS categories FROM events",
        )
        .await;
    assert_rows(&nulls, &json!([{"events": 11, "automated": 0, "categories": 0}]));
    let states = t.rows(&query("message_states")).await;
    let bob = states.iter().find(|r| r["recipient"] == "bob@example.net").unwrap();
    assert_eq!(
        (&bob["status"], &bob["opens"], &bob["machine_opens"]),
        (&json!("hard_bounce"), &json!(1), &json!(0))
    );
    assert_eq!((&bob["bounce_class"], &bob["bounce_category"]), (&json!("hard"), &Value::Null));
    let categories = t.rows(&query("bounce_categories")).await;
    assert_rows(
        &categories,
        &json!([{"provider": "sendgrid", "bounce_category": null, "messages": 1, "share": 1.0}]),
    );
}

/// sends.csv against the states:
/// - fall-sale, 10 sends: delivered ann, dave, erin, frank, uma, wes (6; bob bounced, gina's
///   first bounced, ivan is only accepted, zoe has no event); clicked ann (120.00), frank
///   (80.00, after unsubscribing) and uma (42.00): 242.00 of 292.50 (those three plus dave's
///   35.50 and zoe's 15.00); zoe's send has no stored event;
/// - receipt, 3 sends: ann and carol delivered, hank rejected;
/// - weekly, 2 sends: gina's two, both bounced.
#[tokio::test]
async fn revenue_attribution_query() {
    let rows = demo_rows(&query("revenue_attribution")).await;
    assert_rows(
        &rows,
        &json!([
            {"campaign": "fall-sale", "sends": 10, "delivered": 6, "clicked": 3,
             "revenue": 292.5, "clicked_revenue": 242.0, "without_events": 1},
            {"campaign": "receipt", "sends": 3, "delivered": 2, "clicked": 0,
             "revenue": 0.0, "clicked_revenue": 0.0, "without_events": 0},
            {"campaign": "weekly", "sends": 2, "delivered": 0, "clicked": 0,
             "revenue": 0.0, "clicked_revenue": 0.0, "without_events": 0},
        ]),
    );
}

/// Every file of sql/queries has a test above, or in report.rs for the files `mailstate
/// report` runs (their rows against the page, and against message_states.sql and
/// suppression_list.sql): a new file fails here until it gets one.
#[test]
fn every_query_file_is_tested() {
    let mut files: Vec<String> = std::fs::read_dir(repo().join("sql/queries"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "bounce_categories.sql",
            "customer_timeline.sql",
            "deliverability.sql",
            "domain_rates_over_time.sql",
            "late_and_duplicate_events.sql",
            "message_states.sql",
            "rates_over_time.sql",
            "recipient_timeline.sql",
            "revenue_attribution.sql",
            "suppression_list.sql",
            "suppressions_over_time.sql",
            "top_diagnostics.sql",
            "worst_domains.sql",
        ],
        "a new query file needs a test here"
    );
}
