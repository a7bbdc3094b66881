//! `message_state(type, occurred_at, event_key [, bounce_class [, diagnostic [, automated [, bounce_category]]]])`.
//!
//! The state of one message to one recipient, as a struct with DESIGN.md's fields. Every rule
//! (precedence, dedupe by `event_key`, times, counts, which bounce names the class) is
//! `mailstate_core::MessageState`'s: this file only moves values between Arrow and core.
//! The partial state is core's compact binary encoding, and merging partial states is core's
//! `merge`, a join-semilattice, so any partitioning of the input gives the same answer.
//!
//! Rows whose `type` or `event_key` is NULL carry no event and are skipped, as SQL aggregates
//! skip NULLs (a LEFT JOIN of sends to events gives such rows for sends without events).
//! A `type` that is not a canonical name is an error (`invalid_value`), and so is a
//! `bounce_class`, `automated` or `bounce_category` that is not one of its canonical names.
//!
//! The optional arguments are positional and each defaults to NULL: the three-argument form
//! gives no bounce details, and without `automated` every open and click counts as a
//! person's (`status`, `first_open_at` and `first_click_at` as before the field existed, the
//! automated counts 0). Pass all seven for the full state:
//! `message_state(type, occurred_at, event_key, bounce_class, diagnostic, automated, bounce_category)`.
//!
//! The group columns (`message_id`, `recipient`) are the query's GROUP BY columns, so the
//! struct holds the other fields of DESIGN.md's state, in its order.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    ArrayRef, AsArray, BinaryArray, BooleanBuilder, Int64Builder, StringArray, StringBuilder,
    StructArray, TimestampMillisecondArray, TimestampMillisecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, GroupsAccumulator, Signature, Volatility,
};
use datafusion::scalar::ScalarValue;
use mailstate_core::{
    Automated, BounceCategory, BounceClass, EventFactsRef, MessageState, StateView, Timestamp,
};

use super::{Arg, check_arity, coerce, core_error, event_type, opt_str, opt_time, text, time};
use crate::rules::SqlRules;

mod groups;
mod native;
mod plugin;

use crate::schema::{UTC, timestamp_type};
pub(crate) use groups::ViewGroups;
use groups::{Groups, One};
use native::NativeStore;
use plugin::RulesStore;

const NAME: &str = "message_state";
pub(crate) const ARGS: [Arg; 7] =
    [Arg::Text, Arg::Time, Arg::Text, Arg::Text, Arg::Text, Arg::Text, Arg::Text];

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
        count("automated_open_count"),
        count("automated_click_count"),
        count("deferred_count"),
        count("event_count"),
        count("late_event_count"),
        Field::new("bounce_class", DataType::Utf8, true),
        Field::new("bounce_category", DataType::Utf8, true),
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
        check_arity(NAME, arg_types.len(), &[3, 4, 5, 6, 7])?;
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
            Ok(Box::new(One::new(NativeStore::default())))
        } else {
            Ok(Box::new(One::new(RulesStore::new(self.rules.clone()))))
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
            Ok(Box::new(Groups::new(NativeStore::default())))
        } else {
            Ok(Box::new(Groups::new(RulesStore::new(self.rules.clone()))))
        }
    }
}

/// The groups of a `message_state` call for an operator that numbers groups itself
/// ([`groups::ViewGroups`]); `None` when `udaf` is not `message_state`.
pub(crate) fn view_groups(udaf: &AggregateUDF) -> Option<Box<dyn ViewGroups>> {
    let ours = udaf.inner().downcast_ref::<MessageStateUdaf>()?;
    Some(if ours.rules.is_native() {
        Box::new(Groups::new(NativeStore::default()))
    } else {
        Box::new(Groups::new(RulesStore::new(ours.rules.clone())))
    })
}

/// The argument columns of one batch, typed.
pub(crate) struct Inputs<'a> {
    kind: &'a StringArray,
    at: &'a TimestampMillisecondArray,
    key: &'a StringArray,
    class: Option<&'a StringArray>,
    diagnostic: Option<&'a StringArray>,
    automated: Option<&'a StringArray>,
    category: Option<&'a StringArray>,
}

impl<'a> Inputs<'a> {
    pub(crate) fn new(values: &'a [ArrayRef]) -> Result<Inputs<'a>> {
        if values.len() < 3 {
            return Err(DataFusionError::Internal(format!("{NAME}: {} inputs", values.len())));
        }
        Ok(Inputs {
            kind: text(&values[0])?,
            at: time(&values[1])?,
            key: text(&values[2])?,
            class: values.get(3).map(text).transpose()?,
            diagnostic: values.get(4).map(text).transpose()?,
            automated: values.get(5).map(text).transpose()?,
            category: values.get(6).map(text).transpose()?,
        })
    }

    /// The event of `row`, or `None` when the row carries none (NULL type or key).
    pub(crate) fn event(&self, row: usize) -> Result<Option<(&'a str, EventFactsRef<'a>)>> {
        let (Some(kind), Some(key)) = (opt_str(self.kind, row), opt_str(self.key, row)) else {
            return Ok(None);
        };
        let kind = event_type(NAME, kind)?;
        let at = opt_time(NAME, self.at, row)?;
        let class = match self.class.and_then(|c| opt_str(c, row)) {
            None => None,
            Some(c) => Some(c.parse::<BounceClass>().map_err(|e| core_error(NAME, &e))?),
        };
        let diagnostic = self.diagnostic.and_then(|d| opt_str(d, row));
        let automated = match self.automated.and_then(|a| opt_str(a, row)) {
            None => None,
            Some(a) => Some(a.parse::<Automated>().map_err(|e| core_error(NAME, &e))?),
        };
        let category = match self.category.and_then(|c| opt_str(c, row)) {
            None => None,
            Some(c) => Some(c.parse::<BounceCategory>().map_err(|e| core_error(NAME, &e))?),
        };
        let facts = EventFactsRef::new(kind, at, class, diagnostic)
            .with_automated(automated)
            .with_bounce_category(category);
        Ok(Some((key, facts)))
    }
}

pub(super) fn binary(values: &[ArrayRef]) -> Result<&BinaryArray> {
    values.first().and_then(|a| a.as_binary_opt::<i32>()).ok_or_else(|| {
        DataFusionError::Internal(format!("{NAME}: the partial state is not a binary column"))
    })
}

/// Core's views as the struct column `message_state` returns.
pub(crate) fn views_to_struct(views: &[StateView]) -> Result<ArrayRef> {
    let mut out = ViewColumns::with_capacity(views.len());
    for v in views {
        out.push(v);
    }
    out.finish()
}

/// The struct column `message_state` returns, built one view at a time (so emitting a
/// million groups never holds a million views).
pub(crate) struct ViewColumns {
    status: StringBuilder,
    terminal: BooleanBuilder,
    times: [TimestampMillisecondBuilder; 10],
    counts: [Int64Builder; 7],
    bounce_class: StringBuilder,
    bounce_category: StringBuilder,
    diagnostic: StringBuilder,
}

impl ViewColumns {
    /// Builders sized for `rows` views (statuses of about eight bytes; bounce details are
    /// on few rows, so their text grows as needed): no buffer is copied to grow.
    pub(crate) fn with_capacity(rows: usize) -> ViewColumns {
        ViewColumns {
            status: StringBuilder::with_capacity(rows, rows * 8),
            terminal: BooleanBuilder::with_capacity(rows),
            times: std::array::from_fn(|_| TimestampMillisecondBuilder::with_capacity(rows)),
            counts: std::array::from_fn(|_| Int64Builder::with_capacity(rows)),
            bounce_class: StringBuilder::with_capacity(rows, 0),
            bounce_category: StringBuilder::with_capacity(rows, 0),
            diagnostic: StringBuilder::with_capacity(rows, 0),
        }
    }

    pub(crate) fn push(&mut self, v: &StateView) {
        self.status.append_value(v.status.as_str());
        self.terminal.append_value(v.terminal);
        let times = v.times();
        for (b, t) in self.times.iter_mut().zip(times) {
            b.append_option(t.map(Timestamp::as_millis));
        }
        let counts = [
            v.open_count,
            v.click_count,
            v.automated_open_count,
            v.automated_click_count,
            v.deferred_count,
            v.event_count,
            v.late_event_count,
        ];
        for (b, c) in self.counts.iter_mut().zip(counts) {
            b.append_value(i64::try_from(c).unwrap_or(i64::MAX));
        }
        self.bounce_class.append_option(v.bounce_class.map(BounceClass::as_str));
        self.bounce_category.append_option(v.bounce_category.map(BounceCategory::as_str));
        self.diagnostic.append_option(v.diagnostic.as_deref());
    }

    pub(crate) fn finish(mut self) -> Result<ArrayRef> {
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(self.status.finish()), Arc::new(self.terminal.finish())];
        for b in &mut self.times {
            columns.push(Arc::new(b.finish().with_timezone(UTC)));
        }
        for b in &mut self.counts {
            columns.push(Arc::new(b.finish()));
        }
        columns.push(Arc::new(self.bounce_class.finish()));
        columns.push(Arc::new(self.bounce_category.finish()));
        columns.push(Arc::new(self.diagnostic.finish()));
        Ok(Arc::new(StructArray::try_new(state_struct_fields(), columns, None)?))
    }
}
