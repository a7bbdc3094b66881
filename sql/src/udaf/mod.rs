//! Aggregate functions, and the input handling they share.

pub(crate) mod message_state;
pub(crate) mod recipient_suppressions;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, TimestampMillisecondType};
use datafusion::error::{DataFusionError, Result};
use mailstate_core::{EventType, Timestamp};

use crate::schema::timestamp_type;

/// What one argument of an aggregate accepts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Arg {
    /// Any string encoding (or NULL); coerced to `Utf8`.
    Text,
    /// Any timestamp, or an RFC 3339 string (or NULL); coerced to `Timestamp(ms, "UTC")`.
    Time,
}

/// Coerce call arguments to what the accumulators read, naming the function and argument on
/// a mismatch.
pub(crate) fn coerce(fun: &str, args: &[Arg], given: &[DataType]) -> Result<Vec<DataType>> {
    given
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (t, want))| match (want, t) {
            (
                Arg::Text,
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null,
            ) => Ok(DataType::Utf8),
            (Arg::Text, DataType::Dictionary(_, v)) if v.is_string() => Ok(DataType::Utf8),
            (
                Arg::Time,
                DataType::Timestamp(_, _)
                | DataType::Utf8
                | DataType::Utf8View
                | DataType::LargeUtf8
                | DataType::Null,
            ) => Ok(timestamp_type()),
            _ => Err(DataFusionError::Plan(format!(
                "{fun}: argument {} must be {}, found {t}",
                i + 1,
                match want {
                    Arg::Text => "a string",
                    Arg::Time => "a timestamp",
                }
            ))),
        })
        .collect()
}

/// Check the argument count of a call.
pub(crate) fn check_arity(fun: &str, n: usize, allowed: &[usize]) -> Result<()> {
    if allowed.contains(&n) {
        Ok(())
    } else {
        let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        Err(DataFusionError::Plan(format!(
            "{fun}: expected {} arguments, found {n}",
            list.join(" or ")
        )))
    }
}

/// Typed views of coerced argument columns.
pub(crate) fn text(a: &ArrayRef) -> Result<&StringArray> {
    a.as_string_opt::<i32>()
        .ok_or_else(|| DataFusionError::Internal(format!("expected Utf8, found {}", a.data_type())))
}

pub(crate) fn time(a: &ArrayRef) -> Result<&TimestampMillisecondArray> {
    a.as_primitive_opt::<TimestampMillisecondType>().ok_or_else(|| {
        DataFusionError::Internal(format!("expected Timestamp(ms), found {}", a.data_type()))
    })
}

pub(crate) fn opt_str(a: &StringArray, row: usize) -> Option<&str> {
    a.is_valid(row).then(|| a.value(row))
}

pub(crate) fn opt_time(
    fun: &str,
    a: &TimestampMillisecondArray,
    row: usize,
) -> Result<Option<Timestamp>> {
    if a.is_null(row) {
        return Ok(None);
    }
    let ms = a.value(row);
    Timestamp::from_millis(ms).map(Some).ok_or_else(|| {
        DataFusionError::Execution(format!(
            "{fun}: occurred_at {ms} ms is outside years 1-9999 (invalid_value)"
        ))
    })
}

/// Parse a canonical type name; an unknown name is an error naming the function.
pub(crate) fn event_type(fun: &str, s: &str) -> Result<EventType> {
    s.parse::<EventType>().map_err(|e| core_error(fun, &e))
}

/// A core error as a DataFusion execution error: `fun: message (code)`.
pub(crate) fn core_error(fun: &str, e: &mailstate_core::Error) -> DataFusionError {
    DataFusionError::Execution(format!("{fun}: {e} ({})", e.code()))
}

/// Whether `row` passes an aggregate's FILTER clause.
pub(crate) fn passes(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}
