//! One aggregation phase instead of two for `message_state` GROUP BY.
//!
//! DataFusion plans every hash GROUP BY in two phases: each input partition aggregates its
//! rows into partial states (`Partial`), the states are hash-repartitioned by the group key,
//! and each output partition merges them (`FinalPartitioned`). The first phase pays when it
//! collapses many rows into few groups. A message's events do not collapse that way: a group
//! holds a handful of distinct events, spread over the input partitions, so the partial phase
//! keeps nearly every group in every partition, encodes each state only for the final phase to
//! decode it, and holds a second copy of every group key.
//!
//! [`SinglePhaseMessageState`] rewrites that plan shape, when every aggregate of the GROUP BY is
//! `message_state`, into one `SinglePartitioned` aggregate over the raw rows repartitioned by
//! the same key: the plan DataFusion itself uses when its input is already partitioned by the
//! group key. The answer is the same (each group still sees all of its rows, in one partition);
//! under a memory limit the aggregate still spills its partial states (core's encoding).
//!
//! That aggregate (and a one-phase aggregate DataFusion planned itself, over one partition or
//! input already split by the key) then runs as `MessageStateExec`, an operator of this crate:
//! DataFusion's hash aggregate builds a partition's whole output at once when its input ends
//! (every group's key and struct together, beside the states), where `MessageStateExec`
//! numbers the groups itself (text keys stored as their bytes) and makes each output batch
//! from the next groups only when it is asked for one. Under a memory pool with a limit it
//! runs DataFusion's aggregate, which spills; a group column of a type it does not store (a
//! dictionary, a nested type) keeps DataFusion's aggregate too.

mod exec;
mod keys;

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, InputOrderMode, Partitioning};

/// The aggregates whose partial phase is dropped (see the module documentation).
const SINGLE_PHASE_AGGREGATES: [&str; 1] = ["message_state"];

/// The physical optimizer rule of this module; [`crate::context_with`] adds it before
/// DataFusion's final plan check.
#[derive(Debug, Default)]
pub struct SinglePhaseMessageState;

impl PhysicalOptimizerRule for SinglePhaseMessageState {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_down(|node| {
            Ok(single_phase(&node)?.map_or_else(|| Transformed::no(node), Transformed::yes))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &'static str {
        "single_phase_message_state"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether every aggregate of `aggregate` is a plain `message_state` call (no DISTINCT, no
/// ORDER BY argument: those bring requirements of their own) over a GROUP BY without grouping
/// sets or a limit.
fn plain_message_state(aggregate: &AggregateExec) -> bool {
    let group_by = aggregate.group_expr();
    aggregate.aggr_expr().iter().all(|a| {
        SINGLE_PHASE_AGGREGATES.contains(&a.fun().name())
            && !a.is_distinct()
            && a.order_bys().is_empty()
    }) && !group_by.is_empty()
        && !group_by.has_grouping_set()
        && aggregate.limit_options().is_none()
}

/// `FinalPartitioned ← Hash repartition ← Partial` of `message_state` aggregates, as one
/// `SinglePartitioned` aggregate over the hash-repartitioned input; a one-phase aggregate
/// DataFusion planned itself (one input partition, or input already split by the key) as it
/// is. Either runs as `MessageStateExec` when it can. `None` for any other node.
fn single_phase(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(last) = node.downcast_ref::<AggregateExec>() else { return Ok(None) };
    if matches!(last.mode(), AggregateMode::Single | AggregateMode::SinglePartitioned) {
        // Over input in key order DataFusion emits groups as they end: kept as it is.
        if !plain_message_state(last) || *last.input_order_mode() != InputOrderMode::Linear {
            return Ok(None);
        }
        let exec = exec::MessageStateExec::try_new(Arc::new(last.clone()))?;
        return Ok(exec.map(|e| Arc::new(e) as Arc<dyn ExecutionPlan>));
    }
    if *last.mode() != AggregateMode::FinalPartitioned {
        return Ok(None);
    }
    let Some(shuffle) = last.input().downcast_ref::<RepartitionExec>() else {
        return Ok(None);
    };
    let &Partitioning::Hash(_, partitions) = shuffle.partitioning() else { return Ok(None) };
    let Some(first) = shuffle.input().downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    let group_by = first.group_expr();
    if *first.mode() != AggregateMode::Partial
        || !plain_message_state(first)
        || last.limit_options().is_some()
        || shuffle.preserve_order()
    {
        return Ok(None);
    }
    let by_key = RepartitionExec::try_new(
        Arc::clone(first.input()),
        Partitioning::Hash(group_by.input_exprs(), partitions),
    )?;
    let single = AggregateExec::try_new(
        AggregateMode::SinglePartitioned,
        group_by.clone(),
        first.aggr_expr().to_vec(),
        first.filter_expr().to_vec(),
        Arc::new(by_key),
        first.input_schema(),
    )?;
    // The rewrite must not change what the node returns (names, types, nullability).
    if single.schema() != last.schema() {
        return Ok(None);
    }
    let single = Arc::new(single);
    Ok(Some(match exec::MessageStateExec::try_new(Arc::clone(&single))? {
        Some(batched) => Arc::new(batched),
        None => single,
    }))
}
