//! `recipient_suppressions(type, occurred_at, stream, event_key [, policy_json])`.
//!
//! The active suppressions of one recipient (GROUP BY recipient) as a list of
//! `struct<scope, reason, since, event_key>`, sorted by scope then reason, under the default
//! policy or the JSON policy given as a literal fifth argument (DESIGN.md, "Suppression").
//! Every rule is `mailstate_core::SuppressionState`'s; the partial state is that state as
//! JSON (it keeps only the few event types suppression looks at), merged with core's `merge`.
//!
//! Rows whose `type` or `event_key` is NULL carry no event and are skipped.
//!
//! With a rules plugin ([`crate::SqlRules::plugin`]) the policy decisions (which suppressions
//! are active, with which scope, since when) are the plugin's `suppressions` op; the
//! accumulator keeps core's mergeable set of relevant events either way, so partial states
//! are the same bytes in both modes.

use std::mem::size_of;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, BooleanArray, ListBuilder, StringBuilder,
    StructBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion::scalar::ScalarValue;
use mailstate_core::{
    Suppression,
    suppress::{SuppressionFacts, SuppressionPolicy, SuppressionState},
};

use super::{
    Arg, check_arity, coerce, core_error, event_type, opt_str, opt_time, passes, text, time,
};
use crate::rules::SqlRules;
use crate::schema::{UTC, timestamp_type};

const NAME: &str = "recipient_suppressions";
const ARGS: [Arg; 5] = [Arg::Text, Arg::Time, Arg::Text, Arg::Text, Arg::Text];
/// `evaluate` needs a recipient label; the real recipient is the GROUP BY column.
const LABEL: &str = "";

pub(crate) fn item_fields() -> Fields {
    Fields::from(vec![
        Field::new("scope", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("since", timestamp_type(), true),
        Field::new("event_key", DataType::Utf8, false),
    ])
}

fn return_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Struct(item_fields()), true)))
}

/// The `recipient_suppressions` aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct RecipientSuppressionsUdaf {
    signature: Signature,
    rules: SqlRules,
}

impl RecipientSuppressionsUdaf {
    fn new(rules: SqlRules) -> Self {
        RecipientSuppressionsUdaf {
            signature: Signature::user_defined(Volatility::Immutable),
            rules,
        }
    }
}

static INSTANCE: LazyLock<Arc<AggregateUDF>> = LazyLock::new(|| {
    Arc::new(AggregateUDF::from(RecipientSuppressionsUdaf::new(SqlRules::native())))
});

/// The shared `recipient_suppressions` function with the native rules.
pub(crate) fn udaf() -> Arc<AggregateUDF> {
    Arc::clone(&INSTANCE)
}

/// `recipient_suppressions` whose policy decisions run `rules`.
pub(crate) fn udaf_with(rules: &SqlRules) -> Arc<AggregateUDF> {
    if rules.is_native() {
        udaf()
    } else {
        Arc::new(AggregateUDF::from(RecipientSuppressionsUdaf::new(rules.clone())))
    }
}

/// The policy of a call: the default, or the literal JSON fifth argument.
fn policy(args: &AccumulatorArgs<'_>) -> Result<SuppressionPolicy> {
    let Some(expr) = args.exprs.get(4) else { return Ok(SuppressionPolicy::default()) };
    let json = expr
        .downcast_ref::<Literal>()
        .and_then(|l| match l.value() {
            ScalarValue::Utf8(s) | ScalarValue::Utf8View(s) | ScalarValue::LargeUtf8(s) => {
                s.clone()
            }
            _ => None,
        })
        .ok_or_else(|| {
            DataFusionError::Plan(format!("{NAME}: the policy must be a literal JSON string"))
        })?;
    SuppressionPolicy::from_json(json.as_bytes()).map_err(|e| core_error(NAME, &e))
}

impl AggregateUDFImpl for RecipientSuppressionsUdaf {
    fn name(&self) -> &'static str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, arg_types.len(), &[4, 5])?;
        coerce(NAME, &ARGS, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(return_type())
    }

    fn return_field(&self, _arg_fields: &[FieldRef]) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(NAME, return_type(), false)))
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        ScalarValue::try_from_array(&lists(&[Vec::new()])?, 0)
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format!("{}[state]", args.name), DataType::Binary, true))])
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }

    fn accumulator(&self, acc_args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SuppressionAccumulator {
            state: labelled(),
            policy: policy(&acc_args)?,
            rules: self.rules.clone(),
        }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs<'_>) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs<'_>,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(SuppressionGroups {
            states: Vec::new(),
            policy: policy(&args)?,
            rules: self.rules.clone(),
        }))
    }
}

fn labelled() -> SuppressionState {
    SuppressionState { recipient: Some(LABEL.to_owned()), ..SuppressionState::default() }
}

/// Feed one batch of rows to `sink(row, key, facts)`.
pub(crate) fn each_event(
    values: &[ArrayRef],
    filter: Option<&BooleanArray>,
    mut sink: impl FnMut(usize, String, SuppressionFacts),
) -> Result<()> {
    if values.len() < 4 {
        return Err(DataFusionError::Internal(format!("{NAME}: {} inputs", values.len())));
    }
    let (kind, at, stream, key) =
        (text(&values[0])?, time(&values[1])?, text(&values[2])?, text(&values[3])?);
    for row in 0..kind.len() {
        if !passes(filter, row) {
            continue;
        }
        let (Some(k), Some(event_key)) = (opt_str(kind, row), opt_str(key, row)) else {
            continue;
        };
        let facts = SuppressionFacts {
            kind: event_type(NAME, k)?,
            occurred_at: opt_time(NAME, at, row)?,
            stream: opt_str(stream, row).map(str::to_owned),
        };
        if SuppressionState::is_relevant(facts.kind) {
            sink(row, event_key.to_owned(), facts);
        }
    }
    Ok(())
}

fn encode(s: &SuppressionState) -> Result<Vec<u8>> {
    serde_json::to_vec(s).map_err(|e| DataFusionError::Internal(format!("{NAME}: {e}")))
}

fn decode(b: &[u8]) -> Result<SuppressionState> {
    serde_json::from_slice(b)
        .map_err(|e| DataFusionError::Execution(format!("{NAME}: bad partial state: {e}")))
}

fn binary(values: &[ArrayRef]) -> Result<&BinaryArray> {
    values.first().and_then(|a| a.as_binary_opt::<i32>()).ok_or_else(|| {
        DataFusionError::Internal(format!("{NAME}: the partial state is not a binary column"))
    })
}

struct SuppressionGroups {
    states: Vec<SuppressionState>,
    policy: SuppressionPolicy,
    rules: SqlRules,
}

impl GroupsAccumulator for SuppressionGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.states.resize_with(total_num_groups, labelled);
        let states = &mut self.states;
        each_event(values, opt_filter, |row, key, facts| {
            states[group_indices[row]].insert(key, facts);
        })
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let states = emit_to.take_needed(&mut self.states);
        lists(&self.rules.evaluate_suppressions(NAME, &states, &self.policy)?)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let states = emit_to.take_needed(&mut self.states);
        let mut out = BinaryBuilder::new();
        for s in &states {
            out.append_value(encode(s)?);
        }
        Ok(vec![Arc::new(out.finish())])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.states.resize_with(total_num_groups, labelled);
        let encoded = binary(values)?;
        for (row, &g) in group_indices.iter().enumerate() {
            if encoded.is_valid(row) {
                self.states[g].merge(&decode(encoded.value(row))?);
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let n = values.first().map_or(0, Array::len);
        let mut states: Vec<Option<SuppressionState>> = vec![None; n];
        each_event(values, opt_filter, |row, key, facts| {
            let mut s = labelled();
            s.insert(key, facts);
            states[row] = Some(s);
        })?;
        let mut out = BinaryBuilder::new();
        for s in &states {
            match s {
                None => out.append_null(),
                Some(s) => out.append_value(encode(s)?),
            }
        }
        Ok(vec![Arc::new(out.finish())])
    }

    fn size(&self) -> usize {
        self.states.capacity() * size_of::<SuppressionState>()
            + self.states.iter().map(|s| s.events.len() * 64).sum::<usize>()
    }
}

#[derive(Debug)]
struct SuppressionAccumulator {
    state: SuppressionState,
    policy: SuppressionPolicy,
    rules: SqlRules,
}

impl Accumulator for SuppressionAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let state = &mut self.state;
        each_event(values, None, |_, key, facts| state.insert(key, facts))
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let evaluated = self.rules.evaluate_suppressions(
            NAME,
            std::slice::from_ref(&self.state),
            &self.policy,
        )?;
        ScalarValue::try_from_array(&lists(&evaluated)?, 0)
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.state.events.len() * 64
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(encode(&self.state)?))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let encoded = binary(states)?;
        for row in 0..encoded.len() {
            if encoded.is_valid(row) {
                self.state.merge(&decode(encoded.value(row))?);
            }
        }
        Ok(())
    }
}

/// One list of suppressions per group.
pub(crate) fn lists(groups: &[Vec<Suppression>]) -> Result<ArrayRef> {
    let fields = item_fields();
    let item = StructBuilder::new(
        fields.clone(),
        vec![
            Box::new(StringBuilder::new()),
            Box::new(StringBuilder::new()),
            Box::new(TimestampMillisecondBuilder::new().with_timezone(UTC)),
            Box::new(StringBuilder::new()),
        ],
    );
    let mut list = ListBuilder::new(item)
        .with_field(Arc::new(Field::new_list_field(DataType::Struct(fields), true)));
    for group in groups {
        let b = list.values();
        for s in group {
            let reason = serde_json::to_value(s.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            string_field(b, 0)?.append_value(&s.scope);
            string_field(b, 1)?.append_value(reason);
            b.field_builder::<TimestampMillisecondBuilder>(2)
                .ok_or_else(|| DataFusionError::Internal("since builder".into()))?
                .append_option(s.since.map(mailstate_core::Timestamp::as_millis));
            string_field(b, 3)?.append_value(&s.event_key);
            b.append(true);
        }
        list.append(true);
    }
    Ok(Arc::new(list.finish()))
}

fn string_field(b: &mut StructBuilder, i: usize) -> Result<&mut StringBuilder> {
    b.field_builder::<StringBuilder>(i)
        .ok_or_else(|| DataFusionError::Internal(format!("{NAME}: field builder {i}")))
}
