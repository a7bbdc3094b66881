//! `is_terminal(type)`: whether a message whose status is this type is finished (complaint,
//! hard_bounce, unsubscribe, rejected), from core's table.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

const NAME: &str = "is_terminal";

/// The `is_terminal` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct IsTerminal {
    signature: Signature,
}

static INSTANCE: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| {
    Arc::new(ScalarUDF::from(IsTerminal {
        signature: Signature::user_defined(Volatility::Immutable),
    }))
});

/// The shared `is_terminal` function.
pub(crate) fn udf() -> Arc<ScalarUDF> {
    Arc::clone(&INSTANCE)
}

impl ScalarUDFImpl for IsTerminal {
    fn name(&self) -> &'static str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        super::coerce_type_arg(NAME, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let flags =
            super::map_types(NAME, &args.args, args.number_rows, |t| Some(t.is_terminal()))?;
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(flags))))
    }
}
