//! Ingest: raw bodies first, idempotent by event key, bad bodies kept aside.

use mailstate_cli::store::{Body, Store, split_lines};
use mailstate_core::Provider;

use crate::util::{TestExecution, repo, temp_dir};

/// The SendGrid webhook batches of the demo: 7 bodies, one a byte-for-byte retry of another,
/// and one repeating an event of an earlier batch.
fn demo_bodies() -> Vec<Body> {
    let dir = repo().join("examples/demo/sendgrid");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .map(|p| Body { source: p.display().to_string(), bytes: std::fs::read(&p).unwrap() })
        .collect()
}

#[tokio::test]
async fn ingesting_the_same_input_twice_adds_no_event() {
    let dir = temp_dir();
    let store = Store::open(dir.path()).unwrap();
    let first = store.ingest(Provider::Sendgrid, demo_bodies(), |_| {}).unwrap();
    assert_eq!(first.bodies, 7);
    assert_eq!(first.new_bodies, 6, "the retried batch is the same body");
    assert_eq!(first.errors, 0);
    // The retried batch's 2 events, and bob's bounce repeated in a later batch.
    assert_eq!(first.duplicates, 3);
    assert_eq!(first.events, 11);
    let raw: Vec<_> = std::fs::read_dir(dir.path().join("raw/sendgrid")).unwrap().collect();
    assert_eq!(raw.len(), 6, "every distinct body is stored raw");

    let files_before = store.event_files().unwrap();
    let second = store.ingest(Provider::Sendgrid, demo_bodies(), |_| {}).unwrap();
    assert_eq!(second.new_bodies, 0);
    assert_eq!(second.events, 0);
    assert_eq!(second.duplicates, first.events + first.duplicates);
    assert_eq!(store.event_files().unwrap(), files_before, "no new Parquet file");

    let t = TestExecution::new(2);
    mailstate_sql::register_events(&t.ctx, "events", &store.events_dir()).await.unwrap();
    let rows = t.rows("SELECT COUNT(*) AS n, COUNT(DISTINCT event_key) AS keys FROM events").await;
    assert_eq!(rows[0]["n"], rows[0]["keys"]);
    assert_eq!(rows[0]["n"].as_u64().unwrap(), first.events);
    let days = t.rows("SELECT DISTINCT day FROM events ORDER BY day").await;
    let days: Vec<&str> = days.iter().map(|r| r["day"].as_str().unwrap()).collect();
    assert_eq!(days, ["2025-11-03", "2025-11-04", "2025-11-05"]);
}

#[test]
fn bad_bodies_and_bad_lines_are_reported_and_kept_aside() {
    let dir = temp_dir();
    let store = Store::open(dir.path()).unwrap();
    let good = r#"{"event_key":"ses:1","provider":"ses","type":"delivered","provider_type":"Delivery","message_id":"m1","recipient":"ann@example.com","occurred_at":"2025-11-03T10:00:00Z"}"#;
    let bodies = vec![
        Body {
            source: "mixed.ndjson".into(),
            bytes: format!("{good}\n{{\"event_key\":\"x\"}}\n").into_bytes(),
        },
        Body { source: "garbage.ndjson".into(), bytes: b"\xff\xfe not utf-8".to_vec() },
    ];
    let s = store.ingest(Provider::Ndjson, bodies, |_| {}).unwrap();
    assert_eq!(s.events, 1, "the good line still comes out");
    assert_eq!(s.errors, 2);
    assert_eq!(s.rejected.len(), 2);
    for r in &s.rejected {
        assert!(r.kept_at.is_file(), "{} kept at {}", r.source, r.kept_at.display());
        let report = r.kept_at.with_extension("errors.json");
        assert!(report.is_file(), "{}", report.display());
    }
    assert!(s.rejected[0].errors[0].starts_with("missing_field"), "{:?}", s.rejected[0].errors);
    assert!(s.line().contains("2 errors"));
}

#[test]
fn large_exports_split_at_line_ends() {
    let text = "a\nbb\nccc\ndddd\n".repeat(10);
    let bodies = split_lines("f", text.clone().into_bytes(), 7);
    assert!(bodies.len() > 1);
    let joined: Vec<u8> = bodies.iter().flat_map(|b| b.bytes.clone()).collect();
    assert_eq!(joined, text.as_bytes());
    for b in &bodies {
        assert_eq!(b.bytes.last(), Some(&b'\n'));
    }
}

#[test]
fn temporary_files_of_dead_writers_are_removed_and_live_ones_kept() {
    let dir = temp_dir();
    Store::open(dir.path()).unwrap();
    // A writer killed with `kill -9` between creating and renaming its file: a process that
    // has exited, so its pid names no running process.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let raw = dir.path().join("raw/sendgrid");
    let day = dir.path().join("events/day=2025-11-03");
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::create_dir_all(&day).unwrap();
    let orphan_body = raw.join(format!(".abc123.body.{dead}.tmp"));
    let orphan_events = day.join(format!(".part-1.parquet.{dead}.tmp"));
    let live = raw.join(format!(".def456.body.{}.tmp", std::process::id()));
    let stored = raw.join("abc123.body");
    for p in [&orphan_body, &orphan_events, &live, &stored] {
        std::fs::write(p, b"{}").unwrap();
    }

    let store = Store::open(dir.path()).unwrap();
    assert!(!orphan_body.exists() && !orphan_events.exists(), "a dead writer's files go");
    assert!(live.exists(), "a running writer's file stays");
    assert!(stored.exists(), "stored bodies are never touched");
    assert_eq!(store.remove_orphans().unwrap(), 0, "nothing is left to remove");
}
