//! The SQL functions on the wasm rules plugin (`SqlRules::plugin`): the same answers as the
//! native rules on a million generated events across partitions, and a clear error naming
//! the plugin — with the session still usable — when a plugin traps, runs out of fuel or
//! answers garbage.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use conformance::synthetic::{GenerateOptions, Rng, message_events};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::datasource::MemTable;
use mailstate_core::Event;
use mailstate_sql::SqlRules;

use crate::util::{TestExecution, plugin_rules, rows_json, temp_dir};

const STATES: &str = "SELECT message_id, recipient,
        message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
    FROM events GROUP BY message_id, recipient
    ORDER BY message_id NULLS FIRST, recipient NULLS FIRST";

/// `events` as a table of `partitions` partitions of 8,192-row batches, round robin.
fn table(events: &[Event], partitions: usize) -> Arc<MemTable> {
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
    for (i, chunk) in events.chunks(8192).enumerate() {
        parts[i % partitions].push(mailstate_sql::events_to_batch(chunk).unwrap());
    }
    Arc::new(MemTable::try_new(mailstate_sql::event_schema(), parts).unwrap())
}

async fn collect(t: &TestExecution, sql: &str) -> RecordBatch {
    let batches = t.run(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}"));
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

#[tokio::test]
async fn plugin_and_native_give_identical_states_on_a_million_generated_events() {
    let opts = GenerateOptions::new(220_000, 8);
    let mut rng = Rng::new(8);
    let events: Vec<Event> =
        (0..opts.messages).flat_map(|n| message_events(&mut rng, &opts, n)).collect();
    assert!(events.len() >= 1_000_000, "only {} events", events.len());
    let events_table = table(&events, 4);
    drop(events);

    let mut results = Vec::new();
    for rules in [SqlRules::native(), plugin_rules()] {
        let t = TestExecution::with_rules(4, &rules);
        t.ctx.register_table("events", events_table.clone()).unwrap();
        results.push(collect(&t, STATES).await);
    }
    let (native, plugin) = (&results[0], &results[1]);
    assert!(native.num_rows() >= 200_000, "{} groups", native.num_rows());
    assert_eq!(native.num_rows(), plugin.num_rows());
    // Column by column, so a difference names its field.
    for (i, field) in native.schema().fields().iter().enumerate() {
        assert!(native.column(i) == plugin.column(i), "column {} differs", field.name());
    }
}

#[tokio::test]
async fn event_rank_and_is_terminal_come_from_the_plugin_table_and_equal_native() {
    let sql = "SELECT t, event_rank(t) AS rank, is_terminal(t) AS terminal FROM (VALUES
        ('complaint'), ('hard_bounce'), ('unsubscribe'), ('rejected'), ('click'), ('open'),
        ('delivered'), ('soft_bounce'), ('deferred'), ('accepted'), ('unknown'),
        ('resubscribe'), (NULL)) AS v(t)";
    let native = TestExecution::new(1).rows(sql).await;
    let plugin = TestExecution::with_rules(1, &plugin_rules()).rows(sql).await;
    assert_eq!(native.len(), 13);
    assert_eq!(native, plugin);
    let err = TestExecution::with_rules(1, &plugin_rules())
        .run("SELECT event_rank('bounced')")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid_value"), "{err}");
}

#[tokio::test]
async fn provider_events_and_suppressions_run_on_the_plugin() {
    let payloads = crate::util::repo().join("examples").join("payloads");
    let sendgrid = payloads.join("sendgrid-event-webhook-batch.json");
    let sql = format!(
        "SELECT recipient, recipient_suppressions(type, occurred_at, stream, event_key) AS s,
                count(*) AS events
         FROM provider_events('sendgrid', '{}')
         GROUP BY recipient ORDER BY recipient",
        sendgrid.display()
    );
    let native = TestExecution::new(2).rows(&sql).await;
    let plugin = TestExecution::with_rules(2, &plugin_rules()).rows(&sql).await;
    assert!(!native.is_empty());
    assert_eq!(native, plugin);
}

/// A plugin in the text format that answers `types` like core (so it registers) and does
/// `body` for every other op.
fn wat_plugin(dir: &Path, name: &str, body: &str) -> PathBuf {
    let types = mailstate_core::wire::call("types", b"{}");
    let escaped = types.iter().fold(String::new(), |mut s, b| {
        write!(s, "\\{b:02x}").unwrap();
        s
    });
    let wat = format!(
        r#"(module
          (memory (export "memory") 16)
          (data (i32.const 1024) "{escaped}")
          (data (i32.const 8192) "\07garbage")
          (func (export "abi_version") (result i32) i32.const 1)
          (func (export "alloc") (param i32) (result i32) i32.const 16384)
          (func (export "dealloc") (param i32 i32))
          (func (export "call") (param i32 i32 i32 i32) (result i64)
            (if (result i64) (i32.eq (local.get 1) (i32.const 5))
              (then (i64.const {types_answer}))
              (else {body}))))"#,
        types_answer = (1024u64 << 32) | types.len() as u64,
    );
    let path = dir.join(format!("{name}.wat"));
    std::fs::write(&path, wat).unwrap();
    path
}

async fn fails_and_session_survives(rules: &SqlRules, plugin: &Path, expect: &str) {
    let t = TestExecution::with_rules(2, rules);
    t.run(
        "CREATE TABLE events AS SELECT * FROM (VALUES
            ('delivered', TIMESTAMP '2025-11-03T10:00:00Z', 'ses:1', 'm1', 'a@example.com'),
            ('open',      TIMESTAMP '2025-11-03T11:00:00Z', 'ses:2', 'm1', 'a@example.com'))
         AS e(type, occurred_at, event_key, message_id, recipient)",
    )
    .await
    .unwrap();
    let err = t
        .run(
            "SELECT message_id, message_state(type, occurred_at, event_key) FROM events
             GROUP BY message_id",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&plugin.display().to_string()), "the error names the plugin: {err}");
    assert!(err.contains(expect), "expected {expect:?} in: {err}");
    // The session goes on: the next query runs.
    let rows = rows_json(&t.run("SELECT count(*) AS n FROM events").await.unwrap());
    assert_eq!(rows[0]["n"], 2);
}

#[tokio::test]
async fn a_trapping_plugin_fails_the_query_with_its_name_and_the_session_survives() {
    let dir = temp_dir();
    let path = wat_plugin(dir.path(), "traps", "unreachable");
    let rules = SqlRules::plugin(&path).unwrap();
    fails_and_session_survives(&rules, &path, "trapped").await;
}

#[tokio::test]
async fn a_plugin_out_of_fuel_fails_the_query_with_its_name_and_the_session_survives() {
    let dir = temp_dir();
    let path = wat_plugin(dir.path(), "spins", "(loop $l (br $l)) i64.const 0");
    let builder = mailstate_host::Plugin::builder().with_fuel(10_000_000);
    let rules = SqlRules::plugin_with(builder, &path).unwrap();
    fails_and_session_survives(&rules, &path, "out of fuel").await;
}

#[tokio::test]
async fn a_plugin_answering_garbage_fails_the_query_with_its_name() {
    let dir = temp_dir();
    // An envelope of 8 bytes whose tag byte is 7: neither output (0) nor error (1).
    let path = wat_plugin(dir.path(), "garbage", "i64.const 0x0000200000000008");
    let rules = SqlRules::plugin(&path).unwrap();
    fails_and_session_survives(&rules, &path, "tag byte").await;
}

#[test]
fn describe_names_the_plugin_file_its_abi_and_hash() {
    let rules = plugin_rules();
    let text = rules.describe();
    assert!(text.starts_with("plugin ") && text.contains("mailstate_plugin.wasm"), "{text}");
    assert!(text.contains("(abi 1, sha256 "), "{text}");
    assert_eq!(
        SqlRules::native().describe(),
        format!("native (mailstate {})", env!("CARGO_PKG_VERSION"))
    );
    assert_ne!(rules, SqlRules::native());
}
