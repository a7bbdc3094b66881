//! The SQL column of the conformance matrix: the reduce and suppress vectors of
//! `tests/vectors`, played through `message_state` and `recipient_suppressions`, and the
//! normalize vectors of the wave-2 providers through `provider_events`.
//!
//! Each area is played twice: with the native rules and with the wasm plugin.
//!
//! Each vector's events are written as canonical NDJSON and read with `provider_events`
//! (so invalid events fail with core's error code), and, for vectors that expect an output,
//! also as one Parquet file per event in shuffled order, read with 4 partitions.

use std::path::{Path, PathBuf};

use datafusion::parquet::arrow::ArrowWriter;
use serde_json::Value;

use mailstate_sql::SqlRules;

use crate::util::{TestExecution, events_from_json, plugin_rules, rows_json, shuffle, temp_dir};

/// The vectors of `area` (loaded by `conformance`, which fails on an empty area) as their
/// path and document.
fn vectors(area: &str) -> Vec<(PathBuf, Value)> {
    conformance::load(area).into_iter().map(|v| (v.path, v.doc)).collect()
}

/// Write the vector's events as NDJSON (one line each, as given).
fn write_ndjson(dir: &Path, events: &Value) -> PathBuf {
    let path = dir.join("events.ndjson");
    let mut text = String::new();
    for e in events.as_array().into_iter().flatten() {
        text.push_str(&e.to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Write each event to its own Parquet file, in shuffled order; returns the folder.
fn write_parquet_per_event(dir: &Path, events: &Value, seed: u64) -> PathBuf {
    let mut events = events_from_json(events).unwrap();
    shuffle(&mut events, seed);
    let folder = dir.join("parquet");
    std::fs::create_dir_all(&folder).unwrap();
    for (i, e) in events.iter().enumerate() {
        let batch = mailstate_sql::events_to_batch(std::slice::from_ref(e)).unwrap();
        let f = std::fs::File::create(folder.join(format!("{i:03}.parquet"))).unwrap();
        let mut w = ArrowWriter::try_new(f, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }
    folder
}

fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Check one vector's outcome: `result` is the query's rows or its error text.
fn check(path: &Path, encoding: &str, expect: &Value, result: Result<Vec<Value>, String>) {
    let name = path.file_name().unwrap().to_string_lossy();
    match (&expect["error"]["code"], result) {
        (Value::String(code), Err(msg)) => assert!(
            msg.contains(&format!("({code})")),
            "{name} [{encoding}]: expected error code {code}, got: {msg}"
        ),
        (Value::String(code), Ok(rows)) => {
            panic!("{name} [{encoding}]: expected error {code}, got rows {rows:#?}")
        }
        (_, Err(msg)) => panic!("{name} [{encoding}]: unexpected error: {msg}"),
        (_, Ok(rows)) => assert_eq!(
            Value::Array(rows),
            expect["output"],
            "{name} [{encoding}]: output differs from the vector"
        ),
    }
}

async fn reduce_rows(t: &TestExecution, from: &str) -> Result<Vec<Value>, String> {
    let sql = format!(
        "SELECT message_id, recipient,
                message_state(type, occurred_at, event_key, bounce_class, diagnostic,
                              automated, bounce_category) AS s
         FROM {from}
         GROUP BY message_id, recipient
         ORDER BY message_id NULLS FIRST, recipient NULLS FIRST"
    );
    t.run(&sql).await.map(|b| rows_json(&b)).map_err(|e| e.to_string())
}

#[tokio::test]
async fn reduce_vectors_through_message_state() {
    play_reduce(&SqlRules::native()).await;
}

#[tokio::test]
async fn reduce_vectors_through_message_state_on_the_wasm_plugin() {
    play_reduce(&plugin_rules()).await;
}

async fn play_reduce(rules: &SqlRules) {
    let all = vectors("reduce");
    for (i, (path, v)) in all.iter().enumerate() {
        assert_eq!(v["op"], "reduce", "{}", path.display());
        let dir = temp_dir();
        let ndjson = write_ndjson(dir.path(), &v["input"]["events"]);
        let t = TestExecution::with_rules(1, rules);
        let from = format!("provider_events('ndjson', {})", sql_literal(&ndjson.to_string_lossy()));
        check(path, "ndjson", &v["expect"], reduce_rows(&t, &from).await);

        if v["expect"].get("output").is_some()
            && !v["input"]["events"].as_array().unwrap().is_empty()
        {
            let folder = write_parquet_per_event(dir.path(), &v["input"]["events"], i as u64);
            let t = TestExecution::with_rules(4, rules);
            t.ctx
                .register_parquet(
                    "events",
                    folder.to_str().unwrap(),
                    datafusion::prelude::ParquetReadOptions::default(),
                )
                .await
                .unwrap();
            check(
                path,
                "parquet, one file per event, 4 partitions",
                &v["expect"],
                reduce_rows(&t, "events").await,
            );
        }
    }
}

#[tokio::test]
async fn suppress_vectors_through_recipient_suppressions() {
    play_suppress(&SqlRules::native()).await;
}

#[tokio::test]
async fn suppress_vectors_through_recipient_suppressions_on_the_wasm_plugin() {
    play_suppress(&plugin_rules()).await;
}

async fn play_suppress(rules: &SqlRules) {
    for (path, v) in vectors("suppress") {
        assert_eq!(v["op"], "suppressions", "{}", path.display());
        let dir = temp_dir();
        let ndjson = write_ndjson(dir.path(), &v["input"]["events"]);
        let policy = match v["input"].get("policy") {
            Some(p) => format!(", {}", sql_literal(&p.to_string())),
            None => String::new(),
        };
        let sql = format!(
            "SELECT recipient,
                    recipient_suppressions(type, occurred_at, stream, event_key{policy}) AS s
             FROM provider_events('ndjson', {})
             WHERE recipient IS NOT NULL
             GROUP BY recipient
             ORDER BY recipient",
            sql_literal(&ndjson.to_string_lossy())
        );
        for partitions in [1, 3] {
            let t = TestExecution::with_rules(partitions, rules);
            let result = t.run(&sql).await.map_err(|e| e.to_string()).map(|batches| {
                // Flatten to the wire's shape: one object per suppression, with its recipient.
                let mut out = Vec::new();
                for row in rows_json(&batches) {
                    for s in row["s"].as_array().unwrap() {
                        let mut s = s.clone();
                        s["recipient"] = row["recipient"].clone();
                        out.push(s);
                    }
                }
                out
            });
            check(&path, &format!("ndjson, {partitions} partitions"), &v["expect"], result);
        }
    }
}

/// The normalize vectors of the wave-2 providers (issue 19) through `provider_events`: each
/// body written as a file is one payload, and the rows carry the vector's events (vectors that
/// need request headers, or expect element errors, which the strict function turns into a
/// failed query, are left to the other runtimes).
#[tokio::test]
async fn wave_two_normalize_vectors_through_provider_events() {
    play_wave_two_normalize(&SqlRules::native()).await;
}

#[tokio::test]
async fn wave_two_normalize_vectors_through_provider_events_on_the_wasm_plugin() {
    play_wave_two_normalize(&plugin_rules()).await;
}

async fn play_wave_two_normalize(rules: &SqlRules) {
    const PROVIDERS: [&str; 5] = ["mailtrap", "smtp2go", "zeptomail", "loops", "ahasend"];
    let mut played = 0;
    for (path, v) in vectors("normalize") {
        let provider = v["input"]["provider"].as_str().unwrap_or_default();
        let has_headers = v["input"].get("headers").is_some_and(|h| !h.is_null());
        let element_errors =
            v["expect"]["output"]["errors"].as_array().is_some_and(|e| !e.is_empty());
        if !PROVIDERS.contains(&provider) || has_headers || element_errors {
            continue;
        }
        let Some(body) = v["input"]["body"].as_str() else { continue };
        let dir = temp_dir();
        let file = dir.path().join("payload");
        std::fs::write(&file, body).unwrap();
        let sql = format!(
            "SELECT event_key, type, provider_type, message_id, recipient, stream,
                    bounce_class, bounce_category, automated, url
             FROM provider_events({}, {})",
            sql_literal(provider),
            sql_literal(&file.to_string_lossy())
        );
        let t = TestExecution::with_rules(1, rules);
        let result = t.run(&sql).await.map(|b| rows_json(&b)).map_err(|e| e.to_string());
        let fields = [
            "event_key",
            "type",
            "provider_type",
            "message_id",
            "recipient",
            "stream",
            "bounce_class",
            "bounce_category",
            "automated",
            "url",
        ];
        let expect = match v["expect"]["output"]["events"].as_array() {
            Some(events) => serde_json::json!({ "output": events
                .iter()
                .map(|e| fields.iter().map(|f| ((*f).to_owned(), e[*f].clone())).collect())
                .collect::<Vec<serde_json::Map<String, Value>>>() }),
            None => v["expect"].clone(),
        };
        check(&path, "one file", &expect, result);
        played += 1;
    }
    assert!(played >= 40, "only {played} wave-2 normalize vectors played");
}

/// Every normalize vector whose body reads alone (no headers) and normalizes cleanly, read back
/// through `provider_events(provider, file)` with the native rules and the plugin: the same
/// events, in order, as the vector expects (issue 19: every provider reaches SQL).
#[tokio::test]
async fn normalize_vectors_through_provider_events() {
    let mut played = 0;
    for (name, rules) in crate::util::both_rules() {
        let t = TestExecution::with_rules(1, &rules);
        for (path, v) in vectors("normalize") {
            let input = &v["input"];
            let output = &v["expect"]["output"];
            let headerless = input["headers"].as_object().is_none_or(serde_json::Map::is_empty);
            let clean = output["errors"].as_array().is_some_and(Vec::is_empty)
                && output["control"].is_null()
                && output["events"].as_array().is_some_and(|e| !e.is_empty());
            let Some(body) = input["body"].as_str() else { continue };
            if !headerless || !clean {
                continue;
            }
            let dir = temp_dir();
            let file = dir.path().join("body");
            std::fs::write(&file, body).unwrap();
            let provider = input["provider"].as_str().unwrap();
            let sql = format!(
                "SELECT event_key, type, recipient, bounce_category FROM provider_events({}, {})",
                sql_literal(provider),
                sql_literal(&file.to_string_lossy())
            );
            let got = t.rows(&sql).await;
            let want: Vec<Value> = output["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "event_key": e["event_key"], "type": e["type"],
                        "recipient": e["recipient"], "bounce_category": e["bounce_category"],
                    })
                })
                .collect();
            assert_eq!(got, want, "{} [{name}]", path.display());
            played += 1;
        }
    }
    assert!(played > 100, "only {played} normalize vectors were played through provider_events");
}
