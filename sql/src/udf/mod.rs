//! Scalar functions over canonical event types, read from core's precedence table.

pub(crate) mod event_rank;
pub(crate) mod is_terminal;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::ColumnarValue;
use mailstate_core::EventType;

/// Coerce the one string argument of a type function to `Utf8`.
pub(crate) fn coerce_type_arg(fun: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    crate::udaf::check_arity(fun, arg_types.len(), &[1])?;
    crate::udaf::coerce(fun, &[crate::udaf::Arg::Text], arg_types)
}

/// Map each type name of the argument through `f` (NULL stays NULL; an unknown name is an
/// `invalid_value` error).
pub(crate) fn map_types<T>(
    fun: &str,
    args: &[ColumnarValue],
    number_rows: usize,
    f: impl Fn(EventType) -> Option<T>,
) -> Result<Vec<Option<T>>> {
    let arg =
        args.first().ok_or_else(|| DataFusionError::Internal(format!("{fun}: no argument")))?;
    let array: ArrayRef = arg.to_array(number_rows)?;
    let names = array.as_string_opt::<i32>().ok_or_else(|| {
        DataFusionError::Internal(format!("{fun}: expected Utf8, found {}", array.data_type()))
    })?;
    (0..names.len())
        .map(|i| {
            if names.is_null(i) {
                return Ok(None);
            }
            Ok(f(crate::udaf::event_type(fun, names.value(i))?))
        })
        .collect()
}
