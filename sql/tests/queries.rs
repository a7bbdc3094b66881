//! Every file of `sql/queries/` against the demo data (examples/demo), results asserted.

use datafusion::arrow::util::pretty::pretty_format_batches;
use mailstate_core::Provider;
use mailstate_sql::store::{Body, Store};

use crate::util::{TestExecution, repo, temp_dir};

async fn demo() -> (tempfile::TempDir, TestExecution) {
    let dir = temp_dir();
    let store = Store::open(dir.path()).unwrap();
    let samples = repo().join("examples/demo/ndjson");
    let mut files: Vec<_> =
        std::fs::read_dir(&samples).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let bodies = files
        .into_iter()
        .map(|p| Body { source: p.display().to_string(), bytes: std::fs::read(&p).unwrap() });
    store.ingest(Provider::Ndjson, bodies, |_| {}).unwrap();
    let t = TestExecution::new(3);
    mailstate_sql::store::register_events(&t.ctx, "events", &store.events_dir()).await.unwrap();
    t.ctx
        .register_csv(
            "sends",
            repo().join("examples/demo/sends.csv").to_str().unwrap(),
            datafusion::prelude::CsvReadOptions::new(),
        )
        .await
        .unwrap();
    (dir, t)
}

async fn run(name: &str) -> Vec<String> {
    let (_dir, t) = demo().await;
    let sql = std::fs::read_to_string(repo().join("sql/queries").join(name)).unwrap();
    let batches = t.run(&sql).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    pretty_format_batches(&batches).unwrap().to_string().lines().map(str::to_owned).collect()
}

fn assert_lines(name: &str, got: &[String], want: &[&str]) {
    let got: Vec<&str> = got.iter().map(String::as_str).collect();
    assert_eq!(got, want, "{name}:\n{}", got.join("\n"));
}
