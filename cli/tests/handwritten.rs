//! `message_state` over a generated dataset equals, row by row, an independent formulation of
//! the same state in built-in SQL (`sql/bench/message_state_handwritten.sql`).

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::util::{TestExecution, repo, temp_dir};

#[tokio::test]
async fn message_state_equals_handwritten_sql_on_generated_data() {
    let dir = temp_dir();
    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_mailstate"))
        .args(["generate", "--messages", "20000", "--seed", "42", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));

    let t = TestExecution::new(4);
    mailstate_sql::register_events(&t.ctx, "events", &dir.path().join("events")).await.unwrap();
    let read = |name: &str| std::fs::read_to_string(repo().join("sql/bench").join(name)).unwrap();
    let order = " ORDER BY message_id, recipient";
    let udaf =
        t.run(&format!("{}{order}", read("message_state_udaf.sql").trim_end())).await.unwrap();
    let hand = t
        .run(&format!(
            "SELECT * FROM ({}){order}",
            read("message_state_handwritten.sql").trim_end()
        ))
        .await
        .unwrap();

    assert_eq!(udaf[0].schema().fields().len(), 21);
    let udaf_rows: usize = udaf.iter().map(RecordBatch::num_rows).sum();
    let hand_rows: usize = hand.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(udaf_rows, hand_rows);
    assert!(udaf_rows >= 20_000);
    // Compare the rendered rows: every value, in the same types (a type difference would
    // render differently too).
    let a = pretty_format_batches(&udaf).unwrap().to_string();
    let b = pretty_format_batches(&hand).unwrap().to_string();
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        assert_eq!(x, y, "line {i} differs");
    }
    assert_eq!(a.lines().count(), b.lines().count());

    // The dataset exercises every status and the interesting fields.
    let mix = t
        .rows(&format!(
            "SELECT status, COUNT(*) AS n, SUM(late_event_count) AS late FROM ({}) GROUP BY status ORDER BY status",
            read("message_state_udaf.sql").trim_end()
        ))
        .await;
    let statuses: Vec<&str> = mix.iter().map(|r| r["status"].as_str().unwrap()).collect();
    for s in [
        "accepted",
        "click",
        "complaint",
        "delivered",
        "hard_bounce",
        "open",
        "rejected",
        "soft_bounce",
        "unsubscribe",
    ] {
        assert!(statuses.contains(&s), "no {s} in {statuses:?}");
    }
    let late: i64 = mix.iter().map(|r| r["late"].as_i64().unwrap()).sum();
    assert!(late > 0, "no late events in the generated data");
}
