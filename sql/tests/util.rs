//! Test helpers: a context with mailstate's functions, tables from events, and results as JSON.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use mailstate_core::{Event, Timestamp};
use mailstate_sql::SqlRules;
use serde_json::{Map, Value};

/// A session with every mailstate function registered.
pub(crate) struct TestExecution {
    pub(crate) ctx: SessionContext,
}

impl TestExecution {
    pub(crate) fn new(target_partitions: usize) -> TestExecution {
        TestExecution::with_rules(target_partitions, &SqlRules::native())
    }

    /// A session whose functions run `rules`.
    pub(crate) fn with_rules(target_partitions: usize, rules: &SqlRules) -> TestExecution {
        TestExecution { ctx: mailstate_sql::context_with(Some(target_partitions), rules).unwrap() }
    }

    /// A session of DataFusion's own planning (every GROUP BY in a partial and a final
    /// phase, as any program that calls `register_all_with` on its own context gets) whose
    /// functions run `rules`.
    pub(crate) fn two_phase(target_partitions: usize, rules: &SqlRules) -> TestExecution {
        let config =
            datafusion::prelude::SessionConfig::new().with_target_partitions(target_partitions);
        let ctx = SessionContext::new_with_config(config);
        mailstate_sql::register_all_with(&ctx, rules).unwrap();
        TestExecution { ctx }
    }

    /// The physical plan of `sql`, as EXPLAIN prints it.
    pub(crate) async fn plan(&self, sql: &str) -> String {
        let plan = self.ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
        datafusion::physical_plan::displayable(plan.as_ref()).indent(false).to_string()
    }

    /// Register `events` as table `events`, spread round-robin over `partitions` partitions.
    pub(crate) fn with_events(self, events: &[Event], partitions: usize) -> TestExecution {
        let mut parts: Vec<Vec<Event>> = vec![Vec::new(); partitions.max(1)];
        let n = parts.len();
        for (i, e) in events.iter().enumerate() {
            parts[i % n].push(e.clone());
        }
        let batches: Vec<Vec<RecordBatch>> =
            parts.iter().map(|p| vec![mailstate_sql::events_to_batch(p).unwrap()]).collect();
        let table = MemTable::try_new(mailstate_sql::event_schema(), batches).unwrap();
        self.ctx.register_table("events", Arc::new(table)).unwrap();
        self
    }

    pub(crate) async fn run(&self, sql: &str) -> datafusion::error::Result<Vec<RecordBatch>> {
        self.ctx.sql(sql).await?.collect().await
    }

    /// Run `sql` and return its rows as JSON objects.
    pub(crate) async fn rows(&self, sql: &str) -> Vec<Value> {
        rows_json(&self.run(sql).await.unwrap_or_else(|e| panic!("{sql}\n{e}")))
    }
}

/// The wasm rules plugin built by `scripts/build-wasm.sh` (or `$MAILSTATE_PLUGIN`), loaded
/// once. Its absence fails the test: the plugin column is part of the suite, not optional.
pub(crate) fn plugin_rules() -> SqlRules {
    static RULES: OnceLock<SqlRules> = OnceLock::new();
    RULES
        .get_or_init(|| {
            let path = std::env::var_os("MAILSTATE_PLUGIN").map_or_else(
                || repo().join("wasm").join("dist").join("mailstate_plugin.wasm"),
                PathBuf::from,
            );
            SqlRules::plugin(&path).unwrap_or_else(|e| {
                panic!("{e}: build the plugin first with scripts/build-wasm.sh")
            })
        })
        .clone()
}

/// Both rules: native, and the plugin.
pub(crate) fn both_rules() -> [(&'static str, SqlRules); 2] {
    [("native", SqlRules::native()), ("plugin", plugin_rules())]
}

/// A fresh temporary folder, removed when dropped.
pub(crate) fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every row of `batches` as a JSON object; struct columns are flattened into the row (their
/// fields join the row's own), times are RFC 3339 strings as in the vectors.
pub(crate) fn rows_json(batches: &[RecordBatch]) -> Vec<Value> {
    let mut out = Vec::new();
    for b in batches {
        for row in 0..b.num_rows() {
            let mut obj = Map::new();
            for (field, col) in b.schema().fields().iter().zip(b.columns()) {
                match col.data_type() {
                    DataType::Struct(_) => {
                        let s = col.as_struct();
                        for (f, c) in s.fields().iter().zip(s.columns()) {
                            obj.insert(f.name().clone(), value(c, row));
                        }
                    }
                    _ => {
                        obj.insert(field.name().clone(), value(col, row));
                    }
                }
            }
            out.push(Value::Object(obj));
        }
    }
    out
}

/// One cell as JSON.
pub(crate) fn value(col: &ArrayRef, row: usize) -> Value {
    if col.is_null(row) {
        return Value::Null;
    }
    match col.data_type() {
        DataType::Utf8 => Value::from(col.as_string::<i32>().value(row)),
        DataType::Utf8View => Value::from(col.as_string_view().value(row)),
        DataType::Boolean => Value::from(col.as_boolean().value(row)),
        DataType::Int64 => {
            Value::from(col.as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(row))
        }
        DataType::Int32 => {
            Value::from(col.as_primitive::<datafusion::arrow::datatypes::Int32Type>().value(row))
        }
        DataType::UInt64 => {
            Value::from(col.as_primitive::<datafusion::arrow::datatypes::UInt64Type>().value(row))
        }
        DataType::Float64 => {
            Value::from(col.as_primitive::<datafusion::arrow::datatypes::Float64Type>().value(row))
        }
        DataType::Date32 => {
            // Days since the epoch, rendered as the civil date of their midnight.
            let days = col.as_primitive::<datafusion::arrow::datatypes::Date32Type>().value(row);
            let ms = i64::from(days) * 86_400_000;
            Value::from(Timestamp::from_millis(ms).unwrap().to_string()[..10].to_owned())
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let ms = col
                .as_primitive::<datafusion::arrow::datatypes::TimestampMillisecondType>()
                .value(row);
            Value::from(Timestamp::from_millis(ms).unwrap().to_string())
        }
        DataType::Struct(_) => {
            let s = col.as_struct();
            let mut obj = Map::new();
            for (f, c) in s.fields().iter().zip(s.columns()) {
                obj.insert(f.name().clone(), value(c, row));
            }
            Value::Object(obj)
        }
        DataType::List(_) => {
            let l = col.as_list::<i32>().value(row);
            Value::Array((0..l.len()).map(|i| value(&l, i)).collect())
        }
        other => panic!("no JSON form for {other} in tests"),
    }
}

/// Events from a JSON array of canonical events.
pub(crate) fn events_from_json(v: &Value) -> Result<Vec<Event>, mailstate_core::Error> {
    v.as_array().map_or_else(
        || Ok(Vec::new()),
        |a| a.iter().map(|e| Event::from_json(e.to_string().as_bytes())).collect(),
    )
}

/// Shuffle deterministically.
pub(crate) fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = conformance::synthetic::Rng::new(seed);
    for i in (1..items.len()).rev() {
        let j = usize::try_from(rng.below(i as u64 + 1)).unwrap();
        items.swap(i, j);
    }
}
