//! [`MessageStateExec`]: a `message_state` GROUP BY over rows already hash-partitioned by its
//! key, whose output is built a batch at a time.
//!
//! DataFusion's hash aggregate builds the whole output of a partition at once when its input
//! ends (every group's key and every group's struct, then sliced into batches), so at that
//! moment a partition holds its states, its keys and its complete output together. Here the
//! groups are numbered by this operator (each key stored once, [`super::keys`]), the
//! states are the function's own store, and each output batch is made from the next
//! `batch_size` groups only when the consumer asks for it: the output never exists whole.
//!
//! It answers exactly what the `SinglePartitioned` aggregate it replaces answers (same
//! schema, same groups, same rows per group; only the order of groups may differ, as it may
//! between any two runs of a hash aggregate). It does not spill: under a memory pool with a
//! limit it runs the aggregate it replaces, which does.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{OrderingRequirements, PhysicalExpr};
use datafusion::physical_expr_common::utils::evaluate_expressions_to_arrays;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan,
    InputDistributionRequirements, PlanProperties, ReplaceChildrenOptions,
};
use futures::{StreamExt, TryStreamExt};

use super::keys::{self, Keys};
use crate::udaf::message_state::{ViewGroups, view_groups};

/// The operator (see the module documentation). It keeps the `SinglePartitioned` aggregate it
/// stands for: its expressions, output schema and plan properties are this node's.
#[derive(Debug)]
pub(crate) struct MessageStateExec {
    aggregate: Arc<AggregateExec>,
    metrics: ExecutionPlanMetricsSet,
}

impl MessageStateExec {
    /// The operator for `aggregate` (a `SinglePartitioned` aggregate without grouping sets),
    /// or `None` when it cannot run it: an aggregate that is not `message_state`, or a group
    /// column of a type this operator does not store.
    pub(crate) fn try_new(aggregate: Arc<AggregateExec>) -> Result<Option<MessageStateExec>> {
        let ours = aggregate.aggr_expr().iter().all(|a| view_groups(a.fun()).is_some());
        let schema = aggregate.input_schema();
        let group_types = aggregate
            .group_expr()
            .expr()
            .iter()
            .map(|(e, _)| e.data_type(&schema))
            .collect::<Result<Vec<_>>>()?;
        if !ours || !group_types.iter().all(keys::stored) {
            return Ok(None);
        }
        Ok(Some(MessageStateExec { aggregate, metrics: ExecutionPlanMetricsSet::new() }))
    }
}

impl DisplayAs for MessageStateExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageStateExec: output by batch, in place of ")?;
        self.aggregate.fmt_as(t, f)
    }
}

impl ExecutionPlan for MessageStateExec {
    fn name(&self) -> &'static str {
        "MessageStateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.aggregate.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.aggregate.input()]
    }

    // What the aggregate requires of its input, this node requires: every group's rows in
    // one partition.
    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.aggregate.input_distribution_requirements()
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        self.aggregate.required_input_ordering()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.aggregate.apply_expressions(f)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let aggregate = Arc::clone(&self.aggregate).replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )?;
        let Some(aggregate) = aggregate.downcast_ref::<AggregateExec>() else {
            return Err(DataFusionError::Internal(
                "MessageStateExec: the aggregate's new children made another node".into(),
            ));
        };
        let exec = MessageStateExec::try_new(Arc::new(aggregate.clone()))?.ok_or_else(|| {
            DataFusionError::Internal("MessageStateExec: new children changed the key".into())
        })?;
        Ok(Arc::new(exec))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if !matches!(context.memory_pool().memory_limit(), MemoryLimit::Infinite) {
            // Under a limit, DataFusion's aggregate: it spills.
            return self.aggregate.execute(partition, context);
        }
        let input = self.aggregate.input().execute(partition, Arc::clone(&context))?;
        let reservation = MemoryConsumer::new(format!("MessageStateExec[{partition}]"))
            .register(context.memory_pool());
        let table = GroupTable::new(&self.aggregate, reservation)?;
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let batch_size = context.session_config().batch_size();
        let schema = self.schema();
        let output = futures::stream::once(table.fill(input, metrics.clone()))
            .map_ok(move |table| {
                futures::stream::iter(Output { table, batch_size, metrics: metrics.clone() })
            })
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, output)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        // Its own, and the aggregate's when that ran (under a memory limit: spills show).
        let mut metrics = self.metrics.clone_inner();
        for m in self.aggregate.metrics().iter().flat_map(MetricsSet::iter) {
            metrics.push(Arc::clone(m));
        }
        Some(metrics)
    }
}

/// The groups of one partition: their keys, numbered in order of arrival, and the states of
/// each `message_state` call.
struct GroupTable {
    schema: SchemaRef,
    group_exprs: Vec<Arc<dyn PhysicalExpr>>,
    calls: Vec<Call>,
    keys: Keys,
    /// The group of each row of the batch being read.
    indices: Vec<usize>,
    /// Groups emitted so far.
    emitted: usize,
    reservation: MemoryReservation,
}

impl GroupTable {
    fn new(aggregate: &AggregateExec, reservation: MemoryReservation) -> Result<GroupTable> {
        let input_schema = aggregate.input_schema();
        let group_exprs: Vec<_> =
            aggregate.group_expr().expr().iter().map(|(e, _)| Arc::clone(e)).collect();
        let types =
            group_exprs.iter().map(|e| e.data_type(&input_schema)).collect::<Result<Vec<_>>>()?;
        let calls = aggregate
            .aggr_expr()
            .iter()
            .zip(aggregate.filter_expr())
            .map(|(a, filter)| {
                let states = view_groups(a.fun()).ok_or_else(|| {
                    DataFusionError::Internal(format!("MessageStateExec: {} is not ours", a.name()))
                })?;
                Ok(Call { args: a.expressions(), filter: filter.clone(), states })
            })
            .collect::<Result<_>>()?;
        Ok(GroupTable {
            schema: aggregate.schema(),
            group_exprs,
            calls,
            keys: Keys::new(types)?,
            indices: Vec::new(),
            emitted: 0,
            reservation,
        })
    }

    /// Every batch of `input` read into the groups.
    async fn fill(
        mut self,
        mut input: SendableRecordBatchStream,
        metrics: BaselineMetrics,
    ) -> Result<GroupTable> {
        while let Some(batch) = input.next().await {
            let batch = batch?;
            let _timer = metrics.elapsed_compute().timer();
            self.update(&batch)?;
        }
        // Lookups are over: the hash table goes before the output is made.
        self.keys.end_input();
        self.reservation.try_resize(self.size())?;
        Ok(self)
    }

    fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        let key_columns = evaluate_expressions_to_arrays(&self.group_exprs, batch)?;
        self.keys.intern(&key_columns, &mut self.indices)?;
        let total = self.keys.len();
        for Call { args, filter, states } in &mut self.calls {
            let values = evaluate_expressions_to_arrays(args.iter(), batch)?;
            let filter = evaluate_expressions_to_arrays(filter.iter(), batch)?;
            let filter = match filter.first() {
                None => None,
                Some(f) => Some(f.as_boolean_opt().ok_or_else(|| {
                    DataFusionError::Internal("MessageStateExec: FILTER is not boolean".into())
                })?),
            };
            states.update_batch(&values, &self.indices, filter, total)?;
        }
        self.reservation.try_resize(self.size())
    }

    /// The next output batch (the next `n` groups), or `None` when every group is out.
    fn next_batch(&mut self, n: usize) -> Result<Option<RecordBatch>> {
        let n = n.min(self.keys.len().saturating_sub(self.emitted));
        if n == 0 {
            self.keys.release();
            self.calls.clear();
            self.reservation.free();
            return Ok(None);
        }
        let mut columns = self.keys.columns(self.emitted..self.emitted + n)?;
        for call in &mut self.calls {
            let column = call.states.next_column(n)?;
            if column.len() != n {
                return Err(DataFusionError::Internal(format!(
                    "MessageStateExec: {} states for {n} groups",
                    column.len()
                )));
            }
            columns.push(column);
        }
        self.emitted += n;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        self.reservation.try_resize(self.size())?;
        Ok(Some(batch))
    }

    fn size(&self) -> usize {
        self.keys.size()
            + self.calls.iter().map(|c| c.states.size()).sum::<usize>()
            + self.indices.capacity() * size_of::<usize>()
    }
}

/// One `message_state` call of the GROUP BY.
struct Call {
    args: Vec<Arc<dyn PhysicalExpr>>,
    filter: Option<Arc<dyn PhysicalExpr>>,
    states: Box<dyn ViewGroups>,
}

/// The output, pulled a batch at a time.
struct Output {
    table: GroupTable,
    batch_size: usize,
    metrics: BaselineMetrics,
}

impl Iterator for Output {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let _timer = self.metrics.elapsed_compute().timer();
        let batch = self.table.next_batch(self.batch_size).transpose()?;
        if let Ok(b) = &batch {
            self.metrics.record_output(b.num_rows());
        }
        Some(batch)
    }
}
