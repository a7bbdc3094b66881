//! `message_state(type, occurred_at, event_key [, bounce_class [, diagnostic]])`.
//!
//! The state of one message to one recipient, as a struct with DESIGN.md's fields. Every rule
//! (precedence, dedupe by `event_key`, times, counts, which bounce names the class) is
//! `mailstate_core::MessageState`'s: this file only moves values between Arrow and core.
//! The partial state is core's compact binary encoding, and merging partial states is core's
//! `merge`, a join-semilattice, so any partitioning of the input gives the same answer.
//!
//! Rows whose `type` or `event_key` is NULL carry no event and are skipped, as SQL aggregates
//! skip NULLs (a LEFT JOIN of sends to events gives such rows for sends without events).
//! A `type` that is not a canonical name is an error (`invalid_value`).
//!
//! The group columns (`message_id`, `recipient`) are the query's GROUP BY columns, so the
//! struct holds the other fields of DESIGN.md's state, in its order.

use std::mem::size_of;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, BooleanArray, Int64Array, StringArray,
    StructArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use datafusion::scalar::ScalarValue;
use mailstate_core::{
    BounceClass, EventFacts, MessageState, StateView, Timestamp,
    batch::{EventBatch, ReduceBatch, StateBatch},
};

use super::{
    Arg, check_arity, coerce, core_error, event_type, opt_str, opt_time, passes, text, time,
};
use mailstate_core::batch::chunk_ranges;

use crate::rules::SqlRules;
use crate::schema::{UTC, timestamp_type};

const NAME: &str = "message_state";
const ARGS: [Arg; 5] = [Arg::Text, Arg::Time, Arg::Text, Arg::Text, Arg::Text];

/// The fields of the struct `message_state` returns, in DESIGN.md's order.
pub(crate) fn state_struct_fields() -> Fields {
    let ts = |n: &str| Field::new(n, timestamp_type(), true);
    let count = |n: &str| Field::new(n, DataType::Int64, false);
    Fields::from(vec![
        Field::new("status", DataType::Utf8, false),
        Field::new("terminal", DataType::Boolean, false),
        ts("terminal_at"),
        ts("first_event_at"),
        ts("last_event_at"),
        ts("accepted_at"),
        ts("delivered_at"),
        ts("first_open_at"),
        ts("first_click_at"),
        ts("bounced_at"),
        ts("complained_at"),
        ts("unsubscribed_at"),
        count("open_count"),
        count("click_count"),
        count("deferred_count"),
        count("event_count"),
        count("late_event_count"),
        Field::new("bounce_class", DataType::Utf8, true),
        Field::new("diagnostic", DataType::Utf8, true),
    ])
}

/// The `message_state` aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct MessageStateUdaf {
    signature: Signature,
    rules: SqlRules,
}

impl MessageStateUdaf {
    fn new(rules: SqlRules) -> Self {
        MessageStateUdaf { signature: Signature::user_defined(Volatility::Immutable), rules }
    }
}

static INSTANCE: LazyLock<Arc<AggregateUDF>> =
    LazyLock::new(|| Arc::new(AggregateUDF::from(MessageStateUdaf::new(SqlRules::native()))));

/// The shared `message_state` function with the native rules.
pub(crate) fn udaf() -> Arc<AggregateUDF> {
    Arc::clone(&INSTANCE)
}

/// `message_state` running `rules`.
pub(crate) fn udaf_with(rules: &SqlRules) -> Arc<AggregateUDF> {
    if rules.is_native() {
        udaf()
    } else {
        Arc::new(AggregateUDF::from(MessageStateUdaf::new(rules.clone())))
    }
}

impl AggregateUDFImpl for MessageStateUdaf {
    fn name(&self) -> &'static str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, arg_types.len(), &[3, 4, 5])?;
        coerce(NAME, &ARGS, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(state_struct_fields()))
    }

    fn return_field(&self, _arg_fields: &[FieldRef]) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(NAME, DataType::Struct(state_struct_fields()), false)))
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        ScalarValue::try_from_array(&views_to_struct(&[MessageState::default().view()])?, 0)
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format!("{}[state]", args.name), DataType::Binary, true))])
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        // The state is a function of the set of events: input order never matters.
        AggregateOrderSensitivity::Insensitive
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        if self.rules.is_native() {
            Ok(Box::new(MessageStateAccumulator { state: MessageState::default(), bytes: 0 }))
        } else {
            Ok(Box::new(RulesAccumulator(RulesGroups::new(self.rules.clone()))))
        }
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs<'_>) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs<'_>,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if self.rules.is_native() {
            Ok(Box::new(MessageStateGroups { states: Vec::new(), bytes: 0 }))
        } else {
            Ok(Box::new(RulesGroups::new(self.rules.clone())))
        }
    }
}

/// The argument columns of one batch, typed.
struct Inputs<'a> {
    kind: &'a StringArray,
    at: &'a TimestampMillisecondArray,
    key: &'a StringArray,
    class: Option<&'a StringArray>,
    diagnostic: Option<&'a StringArray>,
}

impl<'a> Inputs<'a> {
    fn new(values: &'a [ArrayRef]) -> Result<Inputs<'a>> {
        if values.len() < 3 {
            return Err(DataFusionError::Internal(format!("{NAME}: {} inputs", values.len())));
        }
        Ok(Inputs {
            kind: text(&values[0])?,
            at: time(&values[1])?,
            key: text(&values[2])?,
            class: values.get(3).map(text).transpose()?,
            diagnostic: values.get(4).map(text).transpose()?,
        })
    }

    /// The event of `row`, or `None` when the row carries none (NULL type or key).
    fn event(&self, row: usize) -> Result<Option<(String, EventFacts)>> {
        let (Some(kind), Some(key)) = (opt_str(self.kind, row), opt_str(self.key, row)) else {
            return Ok(None);
        };
        let kind = event_type(NAME, kind)?;
        let at = opt_time(NAME, self.at, row)?;
        let class = match self.class.and_then(|c| opt_str(c, row)) {
            None => None,
            Some(c) => Some(c.parse::<BounceClass>().map_err(|e| core_error(NAME, &e))?),
        };
        let diagnostic = self.diagnostic.and_then(|d| opt_str(d, row)).map(str::to_owned);
        Ok(Some((key.to_owned(), EventFacts::new(kind, at, class, diagnostic))))
    }
}

/// A rough heap size of one stored event, for memory accounting.
fn event_bytes(key: &str, facts: &EventFacts) -> usize {
    // A B-tree entry costs about its key, its value and a share of a node.
    key.len()
        + size_of::<String>()
        + size_of::<EventFacts>()
        + facts.diagnostic.as_ref().map_or(0, String::len)
        + 16
}

fn state_bytes(s: &MessageState) -> usize {
    s.events().map(|(k, f)| event_bytes(k, f)).sum()
}

/// Many groups: the normal case (one group per message).
struct MessageStateGroups {
    states: Vec<MessageState>,
    /// Estimated heap bytes held by `states`' events.
    bytes: usize,
}

impl MessageStateGroups {
    fn take(&mut self, emit_to: EmitTo) -> Vec<MessageState> {
        let taken = emit_to.take_needed(&mut self.states);
        match emit_to {
            EmitTo::All => self.bytes = 0,
            EmitTo::First(_) => {
                let gone: usize = taken.iter().map(state_bytes).sum();
                self.bytes = self.bytes.saturating_sub(gone);
            }
        }
        taken
    }
}

impl GroupsAccumulator for MessageStateGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.states.resize_with(total_num_groups, MessageState::default);
        let inputs = Inputs::new(values)?;
        for (row, &g) in group_indices.iter().enumerate() {
            if !passes(opt_filter, row) {
                continue;
            }
            if let Some((key, facts)) = inputs.event(row)? {
                self.bytes += event_bytes(&key, &facts);
                self.states[g].insert(&key, facts);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let views: Vec<StateView> = self.take(emit_to).iter().map(MessageState::view).collect();
        views_to_struct(&views)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let states = self.take(emit_to);
        Ok(vec![encode_all(states.iter())])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.states.resize_with(total_num_groups, MessageState::default);
        let encoded = binary(values)?;
        for (row, &g) in group_indices.iter().enumerate() {
            if encoded.is_null(row) {
                continue;
            }
            let other =
                MessageState::decode(encoded.value(row)).map_err(|e| core_error(NAME, &e))?;
            self.bytes += state_bytes(&other);
            self.states[g].merge_owned(other);
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let inputs = Inputs::new(values)?;
        let n = values[0].len();
        let mut out = BinaryBuilder::with_capacity(n, n * 48);
        for row in 0..n {
            match inputs.event(row)?.filter(|_| passes(opt_filter, row)) {
                // A row without an event is an empty state: merging it changes nothing.
                None => out.append_null(),
                Some((key, facts)) => {
                    let mut s = MessageState::default();
                    s.insert(&key, facts);
                    out.append_value(s.encode());
                }
            }
        }
        Ok(vec![Arc::new(out.finish())])
    }

    fn size(&self) -> usize {
        self.bytes + self.states.capacity() * size_of::<MessageState>()
    }
}

/// One group (no GROUP BY, or a window).
#[derive(Debug)]
struct MessageStateAccumulator {
    state: MessageState,
    bytes: usize,
}

impl Accumulator for MessageStateAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let inputs = Inputs::new(values)?;
        for row in 0..values[0].len() {
            if let Some((key, facts)) = inputs.event(row)? {
                self.bytes += event_bytes(&key, &facts);
                self.state.insert(&key, facts);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        ScalarValue::try_from_array(&views_to_struct(&[self.state.view()])?, 0)
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.bytes
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.state.encode()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let encoded = binary(states)?;
        for row in 0..encoded.len() {
            if encoded.is_valid(row) {
                let other =
                    MessageState::decode(encoded.value(row)).map_err(|e| core_error(NAME, &e))?;
                self.bytes += state_bytes(&other);
                self.state.merge(&other);
            }
        }
        Ok(())
    }
}

/// Rows and states per group with rules behind a boundary (the wasm plugin): rows are kept
/// as they arrive and cross the boundary once, at emit, in chunks of whole groups, together
/// with the partial states other partitions sent (`batch.reduce`). The accumulator itself
/// applies no rule: it only buffers.
struct RulesGroups {
    rules: SqlRules,
    /// (group, event_key, facts) in arrival order.
    rows: Vec<(u32, String, EventFacts)>,
    /// (group, encoded state) from `merge_batch`.
    partials: Vec<(u32, Vec<u8>)>,
    groups: usize,
    bytes: usize,
}

/// Rows plus states per `batch.reduce` call: large enough that the boundary is crossed
/// rarely, small enough to stay far below the plugin's memory limit.
const CHUNK: usize = 32 * 1024;

impl RulesGroups {
    fn new(rules: SqlRules) -> RulesGroups {
        RulesGroups { rules, rows: Vec::new(), partials: Vec::new(), groups: 0, bytes: 0 }
    }

    /// Take the rows and states of the first `n` groups (all for `EmitTo::All`), shifting the
    /// others down.
    #[expect(clippy::type_complexity, reason = "the two buffers, as stored")]
    fn take(
        &mut self,
        emit_to: EmitTo,
    ) -> (usize, Vec<(u32, String, EventFacts)>, Vec<(u32, Vec<u8>)>) {
        match emit_to {
            EmitTo::All => {
                let n = std::mem::take(&mut self.groups);
                self.bytes = 0;
                (n, std::mem::take(&mut self.rows), std::mem::take(&mut self.partials))
            }
            EmitTo::First(n) => {
                let cut = u32::try_from(n).unwrap_or(u32::MAX);
                let (rows, kept): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut self.rows).into_iter().partition(|r| r.0 < cut);
                self.rows = kept.into_iter().map(|(g, k, f)| (g - cut, k, f)).collect();
                let (partials, kept): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut self.partials).into_iter().partition(|p| p.0 < cut);
                self.partials = kept.into_iter().map(|(g, b)| (g - cut, b)).collect();
                self.groups = self.groups.saturating_sub(n);
                self.bytes = self.rows.iter().map(|(_, k, f)| event_bytes(k, f)).sum::<usize>()
                    + self.partials.iter().map(|(_, b)| b.len()).sum::<usize>();
                (n, rows, partials)
            }
        }
    }

    /// Reduce groups `0..n` chunk by chunk with `call`, which answers one item per group of
    /// its chunk.
    fn reduce<T>(
        &self,
        n: usize,
        rows: &[(u32, String, EventFacts)],
        partials: &[(u32, Vec<u8>)],
        mut call: impl FnMut(&ReduceBatch<'_>) -> Result<Vec<T>>,
    ) -> Result<Vec<T>> {
        // Counting sort of row and state indices by group.
        let mut starts = vec![0usize; n + 1];
        for (g, ..) in rows {
            starts[*g as usize + 1] += 1;
        }
        for (g, _) in partials {
            starts[*g as usize + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut order = vec![Item::Row(0); rows.len() + partials.len()];
        for (i, (g, ..)) in rows.iter().enumerate() {
            order[next[*g as usize]] = Item::Row(i);
            next[*g as usize] += 1;
        }
        for (i, (g, _)) in partials.iter().enumerate() {
            order[next[*g as usize]] = Item::State(i);
            next[*g as usize] += 1;
        }

        let sizes: Vec<usize> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        let mut out = Vec::with_capacity(n);
        for Range { start: first, end: last } in chunk_ranges(&sizes, CHUNK) {
            let count = u32::try_from(last - first).unwrap_or(u32::MAX);
            let mut events = EventBatch::new(count);
            let mut states = StateBatch::new(count);
            let base = u32::try_from(first).unwrap_or(u32::MAX);
            for item in &order[starts[first]..starts[last]] {
                match *item {
                    Item::Row(i) => {
                        let (g, key, f) = &rows[i];
                        events.push(
                            g - base,
                            key,
                            f.kind,
                            f.occurred_at,
                            f.bounce_class,
                            f.diagnostic.as_deref(),
                        );
                    }
                    Item::State(i) => states.push(partials[i].0 - base, &partials[i].1),
                }
            }
            let answer = call(&ReduceBatch::new(&events, &states))?;
            if answer.len() != last - first {
                return Err(DataFusionError::Execution(format!(
                    "{NAME}: rules {} answered {} groups for {}",
                    self.rules.describe(),
                    answer.len(),
                    last - first
                )));
            }
            out.extend(answer);
        }
        Ok(out)
    }

    fn views(&mut self, emit_to: EmitTo) -> Result<Vec<StateView>> {
        let (n, rows, partials) = self.take(emit_to);
        let rules = self.rules.clone();
        self.reduce(n, &rows, &partials, |batch| Ok(rules.reduce_views(NAME, batch)?.into_views()))
    }

    fn states(&mut self, emit_to: EmitTo) -> Result<Vec<Vec<u8>>> {
        let (n, rows, partials) = self.take(emit_to);
        let rules = self.rules.clone();
        self.reduce(n, &rows, &partials, |batch| {
            Ok(rules.reduce_states(NAME, batch)?.iter().map(<[u8]>::to_vec).collect())
        })
    }
}

#[derive(Clone, Copy)]
enum Item {
    Row(usize),
    State(usize),
}

impl GroupsAccumulator for RulesGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups = self.groups.max(total_num_groups);
        let inputs = Inputs::new(values)?;
        for (row, &g) in group_indices.iter().enumerate() {
            if !passes(opt_filter, row) {
                continue;
            }
            if let Some((key, facts)) = inputs.event(row)? {
                self.bytes += event_bytes(&key, &facts);
                self.rows.push((group_u32(g)?, key, facts));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let views = self.views(emit_to)?;
        views_to_struct(&views)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let states = self.states(emit_to)?;
        let mut out = BinaryBuilder::with_capacity(states.len(), states.len() * 64);
        for s in &states {
            out.append_value(s);
        }
        Ok(vec![Arc::new(out.finish())])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups = self.groups.max(total_num_groups);
        let encoded = binary(values)?;
        for (row, &g) in group_indices.iter().enumerate() {
            if encoded.is_valid(row) {
                let bytes = encoded.value(row).to_vec();
                self.bytes += bytes.len();
                self.partials.push((group_u32(g)?, bytes));
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row its own group; one boundary crossing per chunk of rows.
        let inputs = Inputs::new(values)?;
        let n = values[0].len();
        let mut rows = Vec::with_capacity(n);
        let mut present = vec![false; n];
        for (row, seen) in present.iter_mut().enumerate() {
            if let Some((key, facts)) = inputs.event(row)?.filter(|_| passes(opt_filter, row)) {
                rows.push((group_u32(row)?, key, facts));
                *seen = true;
            }
        }
        let rules = self.rules.clone();
        let states = self.reduce(n, &rows, &[], |batch| {
            Ok(rules.reduce_states(NAME, batch)?.iter().map(<[u8]>::to_vec).collect())
        })?;
        let mut out = BinaryBuilder::with_capacity(n, n * 48);
        for (state, seen) in states.iter().zip(present) {
            // A row without an event is an empty state: merging it changes nothing.
            if seen { out.append_value(state) } else { out.append_null() }
        }
        Ok(vec![Arc::new(out.finish())])
    }

    fn size(&self) -> usize {
        self.bytes
            + self.rows.capacity() * size_of::<(u32, String, EventFacts)>()
            + self.partials.capacity() * size_of::<(u32, Vec<u8>)>()
    }
}

fn group_u32(g: usize) -> Result<u32> {
    u32::try_from(g).map_err(|_| {
        DataFusionError::Execution(format!("{NAME}: more than 2^32 groups in one accumulator"))
    })
}

/// One group (no GROUP BY, or a window) with rules behind a boundary.
struct RulesAccumulator(RulesGroups);

impl std::fmt::Debug for RulesAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesAccumulator").field("rules", &self.0.rules).finish_non_exhaustive()
    }
}

impl RulesAccumulator {
    /// Reduce everything so far into one encoded state, and keep that state (evaluate may be
    /// called more than once, with more rows in between).
    fn compact(&mut self) -> Result<Vec<u8>> {
        self.0.groups = 1;
        let state = self
            .0
            .states(EmitTo::All)?
            .into_iter()
            .next()
            .unwrap_or_else(|| MessageState::default().encode());
        self.0.groups = 1;
        self.0.bytes = state.len();
        self.0.partials.push((0, state.clone()));
        Ok(state)
    }
}

impl Accumulator for RulesAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let n = values.first().map_or(0, Array::len);
        self.0.update_batch(values, &vec![0; n], None, 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let state = self.compact()?;
        let mut states = StateBatch::new(1);
        states.push(0, &state);
        let views =
            self.0.rules.reduce_views(NAME, &ReduceBatch::new(&EventBatch::new(1), &states))?;
        ScalarValue::try_from_array(&views_to_struct(&views.into_views())?, 0)
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.0.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.compact()?))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let n = states.first().map_or(0, Array::len);
        self.0.merge_batch(states, &vec![0; n], 1)
    }
}

fn binary(values: &[ArrayRef]) -> Result<&BinaryArray> {
    values.first().and_then(|a| a.as_binary_opt::<i32>()).ok_or_else(|| {
        DataFusionError::Internal(format!("{NAME}: the partial state is not a binary column"))
    })
}

fn encode_all<'a>(states: impl ExactSizeIterator<Item = &'a MessageState>) -> ArrayRef {
    let mut out = BinaryBuilder::with_capacity(states.len(), states.len() * 64);
    for s in states {
        out.append_value(s.encode());
    }
    Arc::new(out.finish())
}

/// Core's views as the struct column `message_state` returns.
pub(crate) fn views_to_struct(views: &[StateView]) -> Result<ArrayRef> {
    let ts = |f: fn(&StateView) -> Option<Timestamp>| -> ArrayRef {
        Arc::new(
            views
                .iter()
                .map(|v| f(v).map(Timestamp::as_millis))
                .collect::<TimestampMillisecondArray>()
                .with_timezone(UTC),
        )
    };
    let count = |f: fn(&StateView) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            views.iter().map(|v| i64::try_from(f(v)).unwrap_or(i64::MAX)),
        ))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(views.iter().map(|v| Some(v.status.as_str())).collect::<StringArray>()),
        Arc::new(views.iter().map(|v| Some(v.terminal)).collect::<BooleanArray>()),
        ts(|v| v.terminal_at),
        ts(|v| v.first_event_at),
        ts(|v| v.last_event_at),
        ts(|v| v.accepted_at),
        ts(|v| v.delivered_at),
        ts(|v| v.first_open_at),
        ts(|v| v.first_click_at),
        ts(|v| v.bounced_at),
        ts(|v| v.complained_at),
        ts(|v| v.unsubscribed_at),
        count(|v| v.open_count),
        count(|v| v.click_count),
        count(|v| v.deferred_count),
        count(|v| v.event_count),
        count(|v| v.late_event_count),
        Arc::new(
            views.iter().map(|v| v.bounce_class.map(BounceClass::as_str)).collect::<StringArray>(),
        ),
        Arc::new(views.iter().map(|v| v.diagnostic.as_deref()).collect::<StringArray>()),
    ];
    Ok(Arc::new(StructArray::try_new(state_struct_fields(), columns, None)?))
}
