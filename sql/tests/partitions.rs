//! Partial and final aggregation agree: any partitioning and order of the input, with or
//! without the partial stage, gives exactly core's answer — with the native rules and with
//! the wasm plugin.

use conformance::synthetic::{GenerateOptions, Rng, message_events};
use datafusion::arrow::array::RecordBatch;
use mailstate_core::{Event, MessageState, reduce};
use mailstate_sql::SqlRules;
use serde_json::Value;

use crate::util::{TestExecution, both_rules, shuffle};

const STATES: &str = "SELECT message_id, recipient,
        message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
    FROM events GROUP BY message_id, recipient
    ORDER BY message_id NULLS FIRST, recipient NULLS FIRST";

fn generated(messages: u64, seed: u64) -> Vec<Event> {
    let opts = GenerateOptions::new(messages, seed);
    let mut rng = Rng::new(seed);
    (0..messages).flat_map(|n| message_events(&mut rng, &opts, n)).collect()
}

/// Core's answer, as the JSON the wire would give.
fn expected(events: &[Event]) -> Vec<Value> {
    reduce(events)
        .iter()
        .map(MessageState::view)
        .map(|v| serde_json::to_value(v).unwrap())
        .collect()
}

#[tokio::test]
async fn any_partitioning_and_order_gives_cores_states() {
    let events = generated(1_500, 11);
    let want = expected(&events);
    assert!(want.len() >= 1_500);
    for (name, rules) in both_rules() {
        for (target, parts, seed) in [(1, 1, 0), (4, 7, 1), (8, 3, 2), (3, 16, 3)] {
            let mut shuffled = events.clone();
            shuffle(&mut shuffled, seed);
            for (plan, t) in [
                ("one phase", TestExecution::with_rules(target, &rules)),
                ("two phases", TestExecution::two_phase(target, &rules)),
            ] {
                let t = t.with_events(&shuffled, parts);
                let got = t.rows(STATES).await;
                let at = format!("{name} rules, {plan}, target_partitions={target}, parts={parts}");
                assert_eq!(got.len(), want.len(), "{at}");
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g, w, "{at}");
                }
            }
        }
    }
}

#[tokio::test]
async fn skipping_the_partial_stage_gives_the_same_states() {
    // Thresholds of 0 make every partial aggregation switch to `convert_to_state` at once,
    // as DataFusion does by itself on high-cardinality input.
    let events = generated(800, 5);
    let want = expected(&events);
    for (name, rules) in both_rules() {
        let t = TestExecution::two_phase(4, &rules).with_events(&events, 5);
        for sql in [
            "SET datafusion.execution.skip_partial_aggregation_probe_rows_threshold = 0",
            "SET datafusion.execution.skip_partial_aggregation_probe_ratio_threshold = 0.0",
        ] {
            t.run(sql).await.unwrap();
        }
        let got = t.rows(STATES).await;
        assert_eq!(got, want, "{name} rules");
    }
}

#[tokio::test]
async fn repartitioned_input_by_other_keys_agrees() {
    // Repartition explicitly on a key that splits each group across partitions.
    let events = generated(600, 9);
    let want = expected(&events);
    for (name, rules) in both_rules() {
        let t = TestExecution::with_rules(6, &rules).with_events(&events, 6);
        let got = t
            .rows(
                "SELECT message_id, recipient,
                        message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
                 FROM (SELECT * FROM events ORDER BY event_key DESC)
                 GROUP BY message_id, recipient
                 ORDER BY message_id NULLS FIRST, recipient NULLS FIRST",
            )
            .await;
        assert_eq!(got, want, "{name} rules");
    }
}

#[tokio::test]
async fn the_mailstate_context_groups_message_state_in_one_phase_over_rows_split_by_key() {
    let t = TestExecution::new(4).with_events(&generated(50, 2), 3);
    let plan = t.plan(STATES).await;
    assert!(plan.contains("MessageStateExec") && plan.contains("mode=SinglePartitioned"), "{plan}");
    assert!(plan.contains("RepartitionExec: partitioning=Hash([message_id@"), "{plan}");
    assert!(!plan.contains("mode=Partial"), "{plan}");

    // DataFusion's own planning of the same query: a partial and a final phase.
    let two = TestExecution::two_phase(4, &SqlRules::native()).with_events(&generated(50, 2), 3);
    let plan = two.plan(STATES).await;
    assert!(plan.contains("mode=Partial") && plan.contains("mode=FinalPartitioned"), "{plan}");
}

#[tokio::test]
async fn a_group_by_with_other_aggregates_keeps_its_partial_phase() {
    // Only GROUP BYs whose every aggregate is message_state lose their partial phase: a
    // COUNT beside it (or alone) still collapses rows where they are read.
    let t = TestExecution::new(4).with_events(&generated(50, 2), 3);
    for sql in [
        "SELECT message_id, recipient, COUNT(*) AS n,
                message_state(type, occurred_at, event_key) AS s
         FROM events GROUP BY message_id, recipient",
        "SELECT type, COUNT(*) AS n FROM events GROUP BY type",
    ] {
        let plan = t.plan(sql).await;
        assert!(plan.contains("mode=Partial"), "{sql}\n{plan}");
        assert!(!plan.contains("SinglePartitioned"), "{sql}\n{plan}");
    }
}

#[tokio::test]
async fn one_phase_keeps_filters_and_computed_keys() {
    // FILTER goes with the aggregate and a computed key is hashed as computed: the one-phase
    // plan answers what DataFusion's two phases answer.
    let events = generated(300, 7);
    let sql = "SELECT lower(recipient) AS who, message_id,
                      message_state(type, occurred_at, event_key, bounce_class, diagnostic)
                          FILTER (WHERE type <> 'open') AS s
               FROM events GROUP BY lower(recipient), message_id
               ORDER BY who NULLS FIRST, message_id NULLS FIRST";
    for (name, rules) in both_rules() {
        let one = TestExecution::with_rules(3, &rules).with_events(&events, 4);
        assert!(one.plan(sql).await.contains("mode=SinglePartitioned"), "{name} rules");
        let two = TestExecution::two_phase(3, &rules).with_events(&events, 4);
        let want = two.rows(sql).await;
        assert!(want.len() >= 300);
        assert_eq!(one.rows(sql).await, want, "{name} rules");
    }
}

#[tokio::test]
async fn an_ordered_message_state_gives_cores_answer() {
    // An ORDER BY inside the call: DataFusion plans the ordered aggregate itself (one phase,
    // nothing for the rewrite to do), and order does not change a state.
    let events = generated(200, 8);
    let want = expected(&events);
    let t = TestExecution::new(3).with_events(&events, 4);
    let sql = "SELECT message_id, recipient,
                      message_state(type, occurred_at, event_key, bounce_class, diagnostic
                                    ORDER BY occurred_at DESC) AS s
               FROM events GROUP BY message_id, recipient
               ORDER BY message_id NULLS FIRST, recipient NULLS FIRST";
    assert_eq!(t.rows(sql).await, want);
}

#[tokio::test]
async fn the_one_phase_group_by_makes_its_output_a_batch_at_a_time() {
    // MessageStateExec builds each output batch from the next groups only when it is asked
    // for one: no batch is larger than the session's batch size, and together they are
    // DataFusion's answer.
    let events = generated(700, 12);
    let sql = "SELECT message_id, recipient,
                      message_state(type, occurred_at, event_key, bounce_class, diagnostic) AS s
               FROM events GROUP BY message_id, recipient";
    let sorted = |mut rows: Vec<Value>| {
        rows.sort_by_key(|r| (r["message_id"].to_string(), r["recipient"].to_string()));
        rows
    };
    for (name, rules) in both_rules() {
        let one = TestExecution::with_rules(2, &rules).with_events(&events, 3);
        one.run("SET datafusion.execution.batch_size = 64").await.unwrap();
        assert!(one.plan(sql).await.contains("MessageStateExec"), "{name} rules");
        let batches = one.run(sql).await.unwrap();
        let sizes: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
        assert!(sizes.iter().all(|&n| n <= 64), "{name} rules: {sizes:?}");
        assert!(sizes.len() >= 700 / 64, "{name} rules: {sizes:?}");
        let two = TestExecution::two_phase(2, &rules).with_events(&events, 3);
        let want = sorted(two.rows(sql).await);
        assert!(want.len() >= 700);
        assert_eq!(sorted(crate::util::rows_json(&batches)), want, "{name} rules");
    }
}

#[tokio::test]
async fn group_keys_of_other_types_and_null_keys_give_datafusions_answer() {
    // Numbers, timestamps and NULL keys are stored as rows by MessageStateExec; a dictionary
    // key is not (Arrow's row format gives back its values), so DataFusion's aggregate runs
    // it. Every one answers what DataFusion's two phases answer.
    let events = generated(400, 13);
    let keyed = |key: &str| {
        format!(
            "SELECT CAST(k AS VARCHAR) AS k, s FROM (
                 SELECT {key} AS k, message_state(type, occurred_at, event_key) AS s
                 FROM events GROUP BY {key}
             ) ORDER BY k NULLS FIRST"
        )
    };
    let cases = [
        ("length(recipient)", true),
        ("date_trunc('hour', occurred_at)", true),
        ("CASE WHEN type = 'open' THEN NULL ELSE message_id END", true),
        ("arrow_cast(recipient, 'Dictionary(Int32, Utf8)')", false),
    ];
    let one = TestExecution::new(3).with_events(&events, 4);
    let two = TestExecution::two_phase(3, &SqlRules::native()).with_events(&events, 4);
    for (key, batched) in cases {
        let sql = keyed(key);
        let plan = one.plan(&sql).await;
        assert!(plan.contains("mode=SinglePartitioned"), "{key}\n{plan}");
        assert_eq!(plan.contains("MessageStateExec"), batched, "{key}\n{plan}");
        let want = two.rows(&sql).await;
        assert!(want.len() > 1, "{key}");
        assert_eq!(one.rows(&sql).await, want, "{key}");
    }
}

#[tokio::test]
async fn a_group_by_datafusion_plans_in_one_phase_runs_batch_by_batch_too() {
    // With one partition DataFusion plans a single aggregate itself; the rule runs it as
    // MessageStateExec all the same, and the states are core's.
    let events = generated(300, 14);
    let t = TestExecution::new(1).with_events(&events, 1);
    let plan = t.plan(STATES).await;
    assert!(plan.contains("MessageStateExec") && plan.contains("mode=Single"), "{plan}");
    assert_eq!(t.rows(STATES).await, expected(&events));
}
