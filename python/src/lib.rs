//! `mailstate._mailstate`: the native half of the Python package `mailstate`.
//!
//! Thin adapters, as everywhere outside core: Arrow streams in through the Arrow PyCapsule
//! interface (`pyo3-arrow`), each batch read by `mailstate_sql::columns` (the SQL functions'
//! own conversions), each event folded into core's flat group store (`MessageGroups`) or a `SuppressionState`, the
//! result written by the same `columns` functions and handed to pyarrow. The SQL functions go
//! to datafusion-python through `datafusion-ffi` capsules. The public Python API, its
//! docstrings and its type stubs live in `python/mailstate/`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, RecordBatchReader, StringArray, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion_ffi::udaf::FFI_AggregateUDF;
use datafusion_ffi::udf::FFI_ScalarUDF;
use mailstate_core::suppress::{SuppressionPolicy, SuppressionState};
use mailstate_core::verify::{Keys, SignedRequest, VerifyOptions};
use mailstate_core::{ErrorKind, Headers, MessageGroups, Payload, Provider, Timestamp};
use mailstate_sql::columns::{self, ColumnError, STATE_COLUMNS, SUPPRESSION_COLUMNS, event_column};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict};
use pyo3_arrow::{PyRecordBatchReader, PyTable};

/// An error for Python: core's stable code and a message; raised as `mailstate.MailstateError`.
#[derive(Debug)]
struct Failure {
    code: &'static str,
    message: String,
}

impl Failure {
    fn new(code: &'static str, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }
}

impl From<mailstate_core::Error> for Failure {
    fn from(e: mailstate_core::Error) -> Failure {
        Failure::new(e.code(), e.to_string())
    }
}

impl From<ColumnError> for Failure {
    fn from(e: ColumnError) -> Failure {
        Failure::new(e.code(), e.to_string())
    }
}

impl From<DataFusionError> for Failure {
    /// The SQL functions' execution errors end in core's code, `... (invalid_value)`.
    fn from(e: DataFusionError) -> Failure {
        let message = match e {
            DataFusionError::Execution(m) | DataFusionError::Plan(m) => m,
            other => other.to_string(),
        };
        let code = message
            .strip_suffix(')')
            .and_then(|m| m.rsplit_once('('))
            .and_then(|(_, code)| ErrorKind::from_code(code))
            .map_or("invalid_value", ErrorKind::code);
        Failure::new(code, message)
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        Python::attach(|py| {
            let made = py
                .import("mailstate._error")
                .and_then(|m| m.getattr("MailstateError"))
                .and_then(|class| class.call1((f.code, &f.message)));
            match made {
                Ok(err) => PyErr::from_value(err),
                Err(e) => e,
            }
        })
    }
}

type Outcome<T> = Result<T, Failure>;

/// Read an Arrow stream (anything with `__arrow_c_stream__`).
fn reader(events: &Bound<'_, PyAny>) -> Outcome<Box<dyn RecordBatchReader + Send>> {
    let found = || events.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string());
    let reader = events.extract::<PyRecordBatchReader>().map_err(|e| {
        Failure::new(
            "type_mismatch",
            format!(
                "events must export an Arrow stream (__arrow_c_stream__: a pyarrow Table or \
                 RecordBatchReader, a DuckDB relation, a Polars DataFrame), found {} ({e})",
                found()
            ),
        )
    })?;
    reader.into_reader().map_err(|e| Failure::new("invalid_value", e.to_string()))
}

/// Each batch of `reader`, in slices of at most `batch_size` rows.
fn for_each_batch(
    reader: Box<dyn RecordBatchReader + Send>,
    batch_size: Option<usize>,
    mut f: impl FnMut(&RecordBatch) -> Outcome<()>,
) -> Outcome<()> {
    for batch in reader {
        let batch = batch.map_err(|e| Failure::new("invalid_value", e.to_string()))?;
        let step = batch_size.unwrap_or(usize::MAX).max(1);
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = step.min(batch.num_rows() - offset);
            f(&batch.slice(offset, len))?;
            offset += len;
        }
    }
    Ok(())
}

fn opt(a: &StringArray, row: usize) -> Option<&str> {
    a.is_valid(row).then(|| a.value(row))
}

fn coerced(batch: &RecordBatch, names: &[&str]) -> Outcome<Vec<ArrayRef>> {
    Ok(names.iter().map(|n| event_column(batch, n, false)).collect::<Result<Vec<_>, _>>()?)
}

/// The states of one stream, grouped by (message_id, recipient) in core's flat store.
#[derive(Default)]
struct States {
    groups: MessageGroups,
}

impl States {
    fn add(&mut self, batch: &RecordBatch) -> Outcome<()> {
        let message_id = event_column(batch, "message_id", true)?;
        let recipient = event_column(batch, "recipient", true)?;
        let (message_id, recipient) = (message_id.as_string::<i32>(), recipient.as_string::<i32>());
        let inputs = coerced(batch, &STATE_COLUMNS)?;
        let groups = &mut self.groups;
        let mut failed = None;
        columns::for_each_state_event(&inputs, |row, key, facts| {
            let (m, r) = (opt(message_id, row), opt(recipient, row));
            if let Err(e) = groups.insert(m, r, key, facts) {
                failed.get_or_insert(e);
            }
        })?;
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// One row per state, sorted by (message_id, recipient) as `mailstate state` prints them.
    fn into_batch(mut self) -> Outcome<RecordBatch> {
        let mut views = Vec::with_capacity(self.groups.len());
        self.groups.drain_views(|v| views.push(v));
        let ids: StringArray = views.iter().map(|v| v.message_id.as_deref()).collect();
        let recipients: StringArray = views.iter().map(|v| v.recipient.as_deref()).collect();
        let state = columns::states_to_array(&views)?;
        let state = state
            .as_struct_opt()
            .ok_or_else(|| Failure::new("invalid_value", "message_state is not a struct"))?;
        let mut fields = vec![
            Field::new("message_id", DataType::Utf8, true),
            Field::new("recipient", DataType::Utf8, true),
        ];
        fields.extend(state.fields().iter().map(|f| f.as_ref().clone()));
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(ids), Arc::new(recipients)];
        arrays.extend(state.columns().iter().cloned());
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(DataFusionError::from)?)
    }
}

fn to_pyarrow(py: Python<'_>, batch: RecordBatch) -> PyResult<Py<PyAny>> {
    let schema: SchemaRef = batch.schema();
    Ok(PyTable::try_new(vec![batch], schema)?.into_pyarrow(py)?.unbind())
}

/// message_states(events, batch_size=None) -> pyarrow.Table (see mailstate.message_states)
#[pyfunction]
#[pyo3(signature = (events, batch_size=None))]
fn message_states(
    py: Python<'_>,
    events: &Bound<'_, PyAny>,
    batch_size: Option<usize>,
) -> PyResult<Py<PyAny>> {
    let reader = reader(events)?;
    let batch = py.detach(|| {
        let mut states = States::default();
        for_each_batch(reader, batch_size, |b| states.add(b))?;
        states.into_batch()
    })?;
    to_pyarrow(py, batch)
}

/// suppressions(events, policy_json=None, batch_size=None) -> pyarrow.Table
#[pyfunction]
#[pyo3(signature = (events, policy_json=None, batch_size=None))]
fn suppressions(
    py: Python<'_>,
    events: &Bound<'_, PyAny>,
    policy_json: Option<&str>,
    batch_size: Option<usize>,
) -> PyResult<Py<PyAny>> {
    let policy = match policy_json {
        None => SuppressionPolicy::default(),
        Some(json) => SuppressionPolicy::from_json(json.as_bytes()).map_err(Failure::from)?,
    };
    let reader = reader(events)?;
    let batch = py.detach(|| -> Outcome<RecordBatch> {
        let mut by_recipient: BTreeMap<String, SuppressionState> = BTreeMap::new();
        for_each_batch(reader, batch_size, |batch| {
            let recipient = event_column(batch, "recipient", true)?;
            let recipient = recipient.as_string::<i32>();
            let inputs = coerced(batch, &SUPPRESSION_COLUMNS)?;
            columns::for_each_suppression_event(&inputs, |row, key, facts| {
                // As `mailstate suppressions`: an event naming no recipient suppresses no one.
                let Some(r) = opt(recipient, row) else { return };
                if let Some(s) = by_recipient.get_mut(r) {
                    s.insert(key, facts);
                } else {
                    let mut s =
                        SuppressionState { recipient: Some(r.to_owned()), ..Default::default() };
                    s.insert(key, facts);
                    by_recipient.insert(r.to_owned(), s);
                }
            })?;
            Ok(())
        })?;
        let groups: Vec<_> = by_recipient.values().map(|s| s.evaluate(&policy)).collect();
        let recipients: StringArray =
            groups.iter().flatten().map(|s| Some(s.recipient.as_str())).collect();
        let lists = columns::suppressions_to_array(&groups)?;
        let items = lists
            .as_list_opt::<i32>()
            .and_then(|l| l.values().as_struct_opt().cloned())
            .ok_or_else(|| Failure::new("invalid_value", "suppressions are not a list"))?;
        flat_batch(recipients, &items)
    })?;
    to_pyarrow(py, batch)
}

fn flat_batch(recipients: StringArray, items: &StructArray) -> Outcome<RecordBatch> {
    let mut fields = vec![Field::new("recipient", DataType::Utf8, false)];
    fields.extend(items.fields().iter().map(|f| f.as_ref().clone()));
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(recipients)];
    arrays.extend(items.columns().iter().cloned());
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(DataFusionError::from)?)
}

fn headers_from(headers: Option<&Bound<'_, PyAny>>) -> PyResult<Headers> {
    let mut out = Headers::new();
    let Some(h) = headers else { return Ok(out) };
    let items = if let Ok(d) = h.cast::<PyDict>() { d.items().into_any() } else { h.clone() };
    for item in items.try_iter()? {
        let (name, value): (String, String) = item?.extract()?;
        out.push(name, value);
    }
    Ok(out)
}

/// normalize(provider, body, headers=None) -> pyarrow.Table (see mailstate.normalize)
#[pyfunction]
#[pyo3(signature = (provider, body, headers=None))]
fn normalize(
    py: Python<'_>,
    provider: &str,
    body: &[u8],
    headers: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let headers = headers_from(headers)?;
    let provider: Provider = if provider == "auto" {
        mailstate_core::detect(&headers, body).map_err(Failure::from)?
    } else {
        provider.parse().map_err(Failure::from)?
    };
    let out = mailstate_core::normalize(provider, Payload { body, headers: &headers })
        .map_err(Failure::from)?;
    if let Some(first) = out.errors.first() {
        let more = out.errors.len() - 1;
        let mut f = Failure::from(first.clone());
        if more > 0 {
            let _ = write!(f.message, " (and {more} more)");
        }
        return Err(f.into());
    }
    let batch = mailstate_sql::events_to_batch(&out.events).map_err(Failure::from)?;
    to_pyarrow(py, batch)
}

/// The outcome of `verify`: (ok, reason code, message, scheme, key_index, timestamp ms, token).
type Verdict = (
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<usize>,
    Option<i64>,
    Option<String>,
);

/// verify(provider, body, headers, secrets, keys, url, now_ms, tolerance, token_header,
/// seen_tokens, form, standard_webhooks=False, trust_anchors=[]) -> tuple
#[pyfunction]
#[pyo3(signature = (
    provider, body, headers, secrets, keys, url, now_ms, tolerance, token_header, seen_tokens, form,
    standard_webhooks=false, trust_anchors=Vec::new()
))]
#[expect(clippy::too_many_arguments, reason = "the Python signature: keyword arguments there")]
#[expect(clippy::needless_pass_by_value, reason = "pyo3 extracts owned arguments")]
fn verify(
    provider: &str,
    body: &[u8],
    headers: Option<&Bound<'_, PyAny>>,
    secrets: Vec<Vec<u8>>,
    keys: Vec<String>,
    url: Option<&str>,
    now_ms: i64,
    tolerance: Option<u32>,
    token_header: Option<&str>,
    seen_tokens: Vec<String>,
    form: Option<Vec<(String, String)>>,
    standard_webhooks: bool,
    trust_anchors: Vec<String>,
) -> PyResult<Verdict> {
    let provider: Provider = provider.parse().map_err(Failure::from)?;
    let headers = headers_from(headers)?;
    let mut k = Keys::new();
    for s in secrets {
        k = k.with_secret(s);
    }
    for text in &keys {
        k = k.with_public_key(text).map_err(Failure::from)?;
    }
    for text in &trust_anchors {
        k = k.with_trust_anchor(text).map_err(Failure::from)?;
    }
    let now = Timestamp::from_millis(now_ms)
        .ok_or_else(|| Failure::new("invalid_value", format!("now {now_ms} ms is out of range")))?;
    let seen: BTreeSet<String> = seen_tokens.into_iter().collect();
    let mut options = VerifyOptions::new().with_seen_tokens(&seen);
    if let Some(t) = tolerance {
        options = options.with_tolerance_secs(t);
    }
    if let Some(h) = token_header {
        options = options.with_token_header(h);
    }
    if standard_webhooks {
        options = options.with_standard_webhooks();
    }
    let mut request = SignedRequest::new(body, &headers);
    if let Some(u) = url {
        request = request.with_url(u);
    }
    if let Some(f) = &form {
        request = request.with_form(f);
    }
    match mailstate_core::verify::verify(provider, &request, &k, now, &options) {
        Ok(v) => Ok((
            true,
            None,
            None,
            Some(v.scheme().as_str().to_owned()),
            Some(v.key_index()),
            v.timestamp().map(Timestamp::as_millis),
            v.token().map(str::to_owned),
        )),
        Err(e) if e.kind() == ErrorKind::Unsupported => Err(Failure::from(e).into()),
        Err(e) => {
            Ok((false, Some(e.code().to_owned()), Some(e.to_string()), None, None, None, None))
        }
    }
}

/// One of mailstate's SQL aggregate functions, for datafusion-python (`datafusion.udaf(f)`).
#[pyclass(frozen, module = "mailstate._mailstate")]
struct AggregateFunction(Arc<AggregateUDF>);

#[pymethods]
impl AggregateFunction {
    #[getter]
    fn name(&self) -> &str {
        self.0.name()
    }

    #[pyo3(signature = (*_args))]
    fn __datafusion_aggregate_udf__<'py>(
        &self,
        py: Python<'py>,
        _args: &Bound<'py, pyo3::types::PyTuple>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        PyCapsule::new_with_value(
            py,
            FFI_AggregateUDF::from(Arc::clone(&self.0)),
            c"datafusion_aggregate_udf",
        )
    }
}

/// One of mailstate's SQL scalar functions, for datafusion-python (`datafusion.udf(f)`).
#[pyclass(frozen, module = "mailstate._mailstate")]
struct ScalarFunction(Arc<ScalarUDF>);

#[pymethods]
impl ScalarFunction {
    #[getter]
    fn name(&self) -> &str {
        self.0.name()
    }

    #[pyo3(signature = (*_args))]
    fn __datafusion_scalar_udf__<'py>(
        &self,
        py: Python<'py>,
        _args: &Bound<'py, pyo3::types::PyTuple>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        PyCapsule::new_with_value(
            py,
            FFI_ScalarUDF::from(Arc::clone(&self.0)),
            c"datafusion_scalar_udf",
        )
    }
}

/// The SQL functions: (aggregates, scalars).
#[pyfunction]
fn sql_functions() -> (Vec<AggregateFunction>, Vec<ScalarFunction>) {
    (
        mailstate_sql::udafs::all().into_iter().map(AggregateFunction).collect(),
        mailstate_sql::udfs::all().into_iter().map(ScalarFunction).collect(),
    )
}

/// The DataFusion version these functions were built against (datafusion-ffi's ABI).
#[pyfunction]
fn datafusion_version() -> &'static str {
    datafusion::DATAFUSION_VERSION
}

/// The event columns each function reads: (message_states, suppressions), group columns first.
#[pyfunction]
fn event_columns() -> (Vec<&'static str>, Vec<&'static str>) {
    let mut state = vec!["message_id", "recipient"];
    state.extend(STATE_COLUMNS);
    let mut supp = vec!["recipient"];
    supp.extend(SUPPRESSION_COLUMNS);
    (state, supp)
}

#[pymodule]
fn _mailstate(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(message_states, m)?)?;
    m.add_function(wrap_pyfunction!(suppressions, m)?)?;
    m.add_function(wrap_pyfunction!(normalize, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(sql_functions, m)?)?;
    m.add_function(wrap_pyfunction!(datafusion_version, m)?)?;
    m.add_function(wrap_pyfunction!(event_columns, m)?)?;
    m.add_class::<AggregateFunction>()?;
    m.add_class::<ScalarFunction>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
