//! `message_state` under a memory limit: a GROUP BY larger than the limit spills its partial
//! states to disk and merges them back, with exactly the unlimited answer.

use std::sync::Arc;

use conformance::synthetic::{GenerateOptions, Rng, message_events};
use datafusion::physical_plan::{ExecutionPlan, collect};
use mailstate_core::Event;

use crate::util::{TestExecution, both_rules, rows_json, temp_dir};

const STATES: &str = "SELECT message_id, recipient,
        message_state(type, occurred_at, event_key, bounce_class, diagnostic, automated,
                      bounce_category) AS s
    FROM events GROUP BY message_id, recipient";

/// Rows in (message_id, recipient) order: sorting in the query would add a second consumer of
/// the small pool, and the aggregate's spilling is what is tested.
fn sorted(mut rows: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    rows.sort_by_key(|r| (r["message_id"].to_string(), r["recipient"].to_string()));
    rows
}

fn generated(messages: u64, seed: u64) -> Vec<Event> {
    let opts = GenerateOptions::new(messages, seed);
    let mut rng = Rng::new(seed);
    (0..messages).flat_map(|n| message_events(&mut rng, &opts, n)).collect()
}

/// Spill files written by the aggregations of `plan` (it and every operator below it).
fn aggregate_spills(plan: &Arc<dyn ExecutionPlan>) -> usize {
    let own = if ["AggregateExec", "MessageStateExec"].contains(&plan.name()) {
        plan.metrics().and_then(|m| m.spill_count()).unwrap_or(0)
    } else {
        0
    };
    own + plan.children().into_iter().map(aggregate_spills).sum::<usize>()
}

#[tokio::test]
async fn a_group_by_larger_than_the_memory_limit_spills_and_gives_the_same_states() {
    let events = generated(4_000, 3);
    for (name, rules) in both_rules() {
        let unlimited = TestExecution::with_rules(2, &rules).with_events(&events, 4);
        let want = sorted(unlimited.rows(STATES).await);
        assert!(want.len() >= 4_000);

        let spill_root = temp_dir();
        let ctx = mailstate_sql::context_with_memory_limit(
            Some(2),
            &rules,
            1024 * 1024,
            spill_root.path(),
        )
        .unwrap();
        let limited = TestExecution { ctx }.with_events(&events, 32);
        // Small batches: the aggregate can only spill between batches, so one batch's groups
        // must fit in its share of the pool.
        limited.run("SET datafusion.execution.batch_size = 256").await.unwrap();
        let plan = limited.ctx.sql(STATES).await.unwrap().create_physical_plan().await.unwrap();
        let batches = collect(Arc::clone(&plan), limited.ctx.task_ctx())
            .await
            .unwrap_or_else(|e| panic!("{name} rules: {e}"));
        assert_eq!(sorted(rows_json(&batches)), want, "{name} rules");
        assert!(aggregate_spills(&plan) > 0, "{name} rules: the query should have spilled");

        drop(plan);
        drop(limited);
        let left: Vec<_> = std::fs::read_dir(spill_root.path()).unwrap().collect();
        assert!(left.is_empty(), "{name} rules: spill folder left behind: {left:?}");
    }
}

#[tokio::test]
async fn the_accumulator_reports_the_memory_its_groups_hold() {
    // A limit far below what the groups need, and nowhere to spill: the query must fail
    // with a resources error rather than silently use more (the size it reports is real).
    let events = generated(2_000, 4);
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_memory_limit(64 * 1024, 1.0)
        .with_disk_manager_builder(
            datafusion::execution::disk_manager::DiskManagerBuilder::default()
                .with_mode(datafusion::execution::disk_manager::DiskManagerMode::Disabled),
        )
        .build_arc()
        .unwrap();
    let ctx = datafusion::prelude::SessionContext::new_with_config_rt(
        datafusion::prelude::SessionConfig::new().with_target_partitions(1),
        runtime,
    );
    mailstate_sql::register_all(&ctx).unwrap();
    let t = TestExecution { ctx }.with_events(&events, 1);
    let err = t.run(STATES).await.unwrap_err().to_string();
    assert!(err.contains("Resources exhausted"), "{err}");
}
