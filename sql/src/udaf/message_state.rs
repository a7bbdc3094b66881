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
use mailstate_core::{BounceClass, EventFacts, MessageState, StateView, Timestamp};

use super::{
    Arg, check_arity, coerce, core_error, event_type, opt_str, opt_time, passes, text, time,
};
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
}

impl MessageStateUdaf {
    fn new() -> Self {
        MessageStateUdaf { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

static INSTANCE: LazyLock<Arc<AggregateUDF>> =
    LazyLock::new(|| Arc::new(AggregateUDF::from(MessageStateUdaf::new())));

/// The shared `message_state` function.
pub(crate) fn udaf() -> Arc<AggregateUDF> {
    Arc::clone(&INSTANCE)
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
        Ok(Box::new(MessageStateAccumulator { state: MessageState::default(), bytes: 0 }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs<'_>) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs<'_>,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(MessageStateGroups { states: Vec::new(), bytes: 0 }))
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
            let mine = &mut self.states[g];
            if mine.is_empty() && mine.message_id.is_none() && mine.recipient.is_none() {
                *mine = other;
            } else {
                mine.merge(&other);
            }
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
