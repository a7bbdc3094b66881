//! A request body as JSON text: its UTF-8 check, its first byte, and the error for a body of
//! the wrong shape.

use serde_json::Value;

use crate::error::{Error, ErrorKind};

/// The JSON type name of `v`, as error messages say it.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Parse a whole body as JSON, with `invalid_utf8` / `invalid_json` / `too_large` errors.
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, Error> {
    if std::str::from_utf8(body).is_err() {
        return Err(Error::new(ErrorKind::InvalidUtf8, "body is not valid utf-8"));
    }
    serde_json::from_slice(body).map_err(|e| Error::from_json(&e))
}

/// The body as text, or an `invalid_utf8` error.
pub(crate) fn body_text(body: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(body)
        .map_err(|_| Error::new(ErrorKind::InvalidUtf8, "body is not valid utf-8"))
}

/// The first non-whitespace byte of `body` (`b'['`, `b'{'`…), if any.
pub(crate) fn first_byte(body: &[u8]) -> Option<u8> {
    body.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// The error for a body that is valid JSON of the wrong shape for `provider`, or the JSON
/// error when it is not JSON at all (so a truncated batch says `invalid_json`).
pub(crate) fn wrong_shape(body: &[u8], expected: &str) -> Error {
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        return Error::from_json(&e);
    }
    let found = match first_byte(body) {
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    };
    Error::new(ErrorKind::WrongProvider, format!("expected {expected}, found {found}"))
        .with_path("$")
}
