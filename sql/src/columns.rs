//! The functions' Arrow conversions, for adapters that run the rules over Arrow record batches
//! without a SQL engine (the Python package, `python/`).
//!
//! Reading is `message_state`'s and `recipient_suppressions`' own: a batch's canonical event
//! columns are coerced as SQL coerces those functions' arguments (any string encoding; any
//! timestamp or RFC 3339 text for `occurred_at`), then each row is read by the code the
//! aggregates run. Writing is theirs too: [`states_to_array`] is the struct `message_state`
//! returns, [`suppressions_to_array`] the list `recipient_suppressions` returns. Column names
//! and types come from [`event_schema`](crate::event_schema) and [`state_fields`], so a field
//! added there reaches every adapter.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Fields};
use datafusion::error::Result;
use mailstate_core::suppress::SuppressionFacts;
use mailstate_core::{EventFactsRef, StateView, Suppression};

use crate::udaf::message_state::{self, Inputs};
use crate::udaf::recipient_suppressions;

/// The event columns `message_state` reads, in its argument order.
pub const STATE_COLUMNS: [&str; 7] = [
    "type",
    "occurred_at",
    "event_key",
    "bounce_class",
    "diagnostic",
    "automated",
    "bounce_category",
];
// An argument added to `message_state` fails this until its column is named above, so every
// adapter reading through this module reads the new column too.
const _: () = assert!(STATE_COLUMNS.len() == message_state::ARGS.len());

/// The event columns `recipient_suppressions` reads, in its argument order.
pub const SUPPRESSION_COLUMNS: [&str; 4] = ["type", "occurred_at", "stream", "event_key"];

/// The fields of the struct `message_state` returns (every state field but the group
/// columns `message_id` and `recipient`), in DESIGN.md's order.
///
/// # Example
/// ```
/// let fields = mailstate_sql::columns::state_fields();
/// assert_eq!(fields[0].name(), "status");
/// ```
pub fn state_fields() -> Fields {
    message_state::state_struct_fields()
}

/// The fields of one suppression in the list `recipient_suppressions` returns.
pub fn suppression_fields() -> Fields {
    recipient_suppressions::item_fields()
}

/// Core's state views as the struct column `message_state` returns ([`state_fields`]).
///
/// # Errors
/// Only if Arrow rejects the arrays it was given, which would be a bug here.
pub fn states_to_array(views: &[StateView]) -> Result<ArrayRef> {
    message_state::views_to_struct(views)
}

/// One list of suppressions per recipient, as `recipient_suppressions` returns them
/// (a list of structs of [`suppression_fields`]).
///
/// # Errors
/// Only if Arrow rejects the arrays it was given, which would be a bug here.
pub fn suppressions_to_array(groups: &[Vec<Suppression>]) -> Result<ArrayRef> {
    recipient_suppressions::lists(groups)
}

/// Why a column of a batch cannot be read as a canonical event column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnError {
    column: String,
    expected: &'static str,
    found: Option<String>,
}

impl ColumnError {
    /// The column's name.
    pub fn column(&self) -> &str {
        &self.column
    }

    /// Core's stable error code: `missing_field` (absent, or NULL where a value is required)
    /// or `type_mismatch`.
    pub fn code(&self) -> &'static str {
        match self.found {
            None => "missing_field",
            Some(_) => "type_mismatch",
        }
    }
}

impl fmt::Display for ColumnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.found {
            None => write!(f, "missing column `{}` ({})", self.column, self.expected),
            Some(found) => {
                write!(f, "column `{}` must be {}, found {found}", self.column, self.expected)
            }
        }
    }
}

impl std::error::Error for ColumnError {}

/// Column `name` of `batch`, coerced to its type in [`event_schema`](crate::event_schema) as
/// the SQL functions coerce their arguments: strings of any encoding (and dictionaries of
/// them) to `Utf8`; timestamps of any unit (a zone-less one read as UTC) and RFC 3339 text to
/// `Timestamp(ms, "UTC")`. A column absent from the batch is all NULL when its field is
/// nullable and `required` is false; a NULL in a column the schema declares not null is an
/// error.
///
/// # Errors
/// [`ColumnError`] when the column is missing, has another type, holds text that is not
/// RFC 3339, or holds NULLs where the schema allows none.
///
/// # Example
/// ```
/// use datafusion::arrow::array::RecordBatch;
/// use datafusion::arrow::datatypes::Schema;
/// use mailstate_sql::columns::event_column;
///
/// let events = mailstate_sql::events_to_batch(&[]).unwrap();
/// assert!(event_column(&events, "occurred_at", false).is_ok());
/// let empty = RecordBatch::new_empty(std::sync::Arc::new(Schema::empty()));
/// assert!(event_column(&empty, "diagnostic", false).is_ok()); // all NULL
/// let e = event_column(&empty, "event_key", false).unwrap_err();
/// assert_eq!((e.code(), e.to_string().as_str()), ("missing_field", "missing column `event_key` (text)"));
/// ```
pub fn event_column(
    batch: &RecordBatch,
    name: &str,
    required: bool,
) -> std::result::Result<ArrayRef, ColumnError> {
    let schema = crate::event_schema();
    let (expected, target, nullable) = match schema.field_with_name(name) {
        Ok(f) => (describe(f.data_type()), f.data_type().clone(), f.is_nullable()),
        // Not a canonical column: nothing to default it from.
        Err(_) => ("a column of the canonical event", DataType::Utf8, false),
    };
    let error = |found: Option<String>| ColumnError { column: name.to_owned(), expected, found };
    let Some(column) = batch.column_by_name(name) else {
        return if required || !nullable {
            Err(error(None))
        } else {
            Ok(new_null_array(&target, batch.num_rows()))
        };
    };
    let from = column.data_type();
    let accepted = match &target {
        DataType::Timestamp(..) => {
            matches!(from, DataType::Timestamp(..) | DataType::Null) || is_text(from)
        }
        _ => matches!(from, DataType::Null) || is_text(from),
    };
    if !accepted {
        return Err(error(Some(from.to_string())));
    }
    let options = CastOptions { safe: false, ..CastOptions::default() };
    let cast = cast_with_options(column, &target, &options)
        .map_err(|e| error(Some(format!("{from} ({e})"))))?;
    if !nullable && cast.null_count() > 0 {
        return Err(ColumnError {
            column: name.to_owned(),
            expected: "a value in every row",
            found: None,
        });
    }
    Ok(Arc::clone(&cast))
}

fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => true,
        DataType::Dictionary(_, v) => v.is_string(),
        _ => false,
    }
}

fn describe(t: &DataType) -> &'static str {
    match t {
        DataType::Timestamp(..) => "a timestamp or RFC 3339 text",
        DataType::Utf8 => "text",
        DataType::List(_) => "a list of text",
        DataType::Map(..) => "a map of text to text",
        _ => "a canonical event column",
    }
}

/// Feed the events of `columns` (coerced [`STATE_COLUMNS`], in that order) to
/// `sink(row, event_key, facts)`, read as `message_state` reads them. Rows whose `type` or
/// `event_key` is NULL carry no event and are skipped.
///
/// # Errors
/// When a `type` or `bounce_class` is not a canonical name (the message ends in core's code,
/// `(invalid_value)`), or a column is not of its coerced type.
pub fn for_each_state_event(
    columns: &[ArrayRef],
    mut sink: impl FnMut(usize, &str, EventFactsRef<'_>),
) -> Result<()> {
    let inputs = Inputs::new(columns)?;
    let rows = columns.first().map_or(0, Array::len);
    for row in 0..rows {
        if let Some((key, facts)) = inputs.event(row)? {
            sink(row, key, facts);
        }
    }
    Ok(())
}

/// Feed the events of `columns` (coerced [`SUPPRESSION_COLUMNS`], in that order) that matter
/// to suppression (`SuppressionState::is_relevant`) to `sink(row, event_key, facts)`.
///
/// # Errors
/// As [`for_each_state_event`].
pub fn for_each_suppression_event(
    columns: &[ArrayRef],
    sink: impl FnMut(usize, String, SuppressionFacts),
) -> Result<()> {
    recipient_suppressions::each_event(columns, None, sink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> =
            cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            cols.into_iter().map(|(_, a)| a).collect(),
        )
        .unwrap()
    }

    #[test]
    fn rfc3339_text_is_read_as_a_timestamp() {
        let b = batch(vec![(
            "occurred_at",
            Arc::new(StringArray::from(vec!["2025-11-03T10:00:00.000Z"])) as ArrayRef,
        )]);
        let c = event_column(&b, "occurred_at", false).unwrap();
        assert_eq!(c.data_type(), &crate::schema::timestamp_type());
    }

    #[test]
    fn a_number_where_text_belongs_names_the_column_and_type() {
        let b = batch(vec![("recipient", Arc::new(Int64Array::from(vec![5])) as ArrayRef)]);
        let e = event_column(&b, "recipient", true).unwrap_err();
        assert_eq!(e.code(), "type_mismatch");
        assert_eq!(e.to_string(), "column `recipient` must be text, found Int64");
    }

    #[test]
    fn a_missing_optional_column_is_null_and_a_missing_key_is_an_error() {
        let b = batch(vec![("type", Arc::new(StringArray::from(vec!["open"])) as ArrayRef)]);
        assert_eq!(event_column(&b, "diagnostic", false).unwrap().null_count(), 1);
        assert_eq!(event_column(&b, "event_key", false).unwrap_err().code(), "missing_field");
    }
}
