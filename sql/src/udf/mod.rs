//! `event_rank(type)` and `is_terminal(type)`: scalar functions over canonical event types,
//! read from the event type table of the rules in use (core's, or the plugin's `types` op).
//!
//! `event_rank` is the precedence rank (higher wins; NULL for `resubscribe`, which never sets a
//! message's status); `is_terminal` says whether a message whose status is this type is
//! finished (complaint, hard bounce, unsubscribe, rejected).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int32Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use mailstate_core::EventType;

use crate::rules::{SqlRules, TypeTable};

/// Which column of the type table a function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Column {
    Rank,
    Terminal,
}

/// `event_rank` or `is_terminal`, over one rules' type table.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TypeFunction {
    column: Column,
    signature: Signature,
    table: TypeTable,
}

impl TypeFunction {
    fn udf(column: Column, table: TypeTable) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::from(TypeFunction {
            column,
            signature: Signature::user_defined(Volatility::Immutable),
            table,
        }))
    }
}

static NATIVE: LazyLock<(Arc<ScalarUDF>, Arc<ScalarUDF>)> = LazyLock::new(|| {
    let table = TypeTable::native();
    (TypeFunction::udf(Column::Rank, table.clone()), TypeFunction::udf(Column::Terminal, table))
});

/// `event_rank` with the native rules.
pub(crate) fn event_rank() -> Arc<ScalarUDF> {
    Arc::clone(&NATIVE.0)
}

/// `is_terminal` with the native rules.
pub(crate) fn is_terminal() -> Arc<ScalarUDF> {
    Arc::clone(&NATIVE.1)
}

/// Both functions with the type table of `rules`.
///
/// # Errors
/// When the rules cannot give their table (a plugin that fails or answers garbage).
pub(crate) fn with_rules(rules: &SqlRules) -> Result<[Arc<ScalarUDF>; 2]> {
    if rules.is_native() {
        return Ok([event_rank(), is_terminal()]);
    }
    let table = rules.types()?;
    Ok([TypeFunction::udf(Column::Rank, table.clone()), TypeFunction::udf(Column::Terminal, table)])
}

impl ScalarUDFImpl for TypeFunction {
    fn name(&self) -> &'static str {
        match self.column {
            Column::Rank => "event_rank",
            Column::Terminal => "is_terminal",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        crate::udaf::check_arity(self.name(), arg_types.len(), &[1])?;
        crate::udaf::coerce(self.name(), &[crate::udaf::Arg::Text], arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.column {
            Column::Rank => DataType::Int32,
            Column::Terminal => DataType::Boolean,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let fun = self.name();
        let types = types(fun, &args.args, args.number_rows)?;
        let out: ArrayRef = match self.column {
            Column::Rank => Arc::new(
                types.iter().map(|t| t.and_then(|t| self.table.rank(t))).collect::<Int32Array>(),
            ),
            Column::Terminal => Arc::new(
                types
                    .iter()
                    .map(|t| t.map(|t| self.table.is_terminal(t)))
                    .collect::<BooleanArray>(),
            ),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// The type of each row of the argument (NULL stays NULL; an unknown name is an
/// `invalid_value` error).
fn types(fun: &str, args: &[ColumnarValue], number_rows: usize) -> Result<Vec<Option<EventType>>> {
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
            crate::udaf::event_type(fun, names.value(i)).map(Some)
        })
        .collect()
}
