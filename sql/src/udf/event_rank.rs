//! `event_rank(type)`: the precedence rank of a canonical type (higher wins), from core's
//! table; NULL for `resubscribe`, which never sets a message's status.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::Int32Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

const NAME: &str = "event_rank";

/// The `event_rank` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct EventRank {
    signature: Signature,
}

static INSTANCE: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| {
    Arc::new(ScalarUDF::from(EventRank {
        signature: Signature::user_defined(Volatility::Immutable),
    }))
});

/// The shared `event_rank` function.
pub(crate) fn udf() -> Arc<ScalarUDF> {
    Arc::clone(&INSTANCE)
}

impl ScalarUDFImpl for EventRank {
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
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ranks =
            super::map_types(NAME, &args.args, args.number_rows, |t| t.rank().map(i32::from))?;
        Ok(ColumnarValue::Array(Arc::new(Int32Array::from(ranks))))
    }
}
