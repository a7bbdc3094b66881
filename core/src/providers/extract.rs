//! Small field extractors: string maps for metadata, the raw text of a single JSON body, and
//! nested objects with their paths.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;

use super::{Obj, type_name};
use crate::error::{Error, ErrorKind};

/// A JSON object of custom values as a string map: strings stay as they are, other values
/// become their compact JSON text, nulls are left out.
pub(crate) fn string_map(
    v: Option<&Value>,
    path: impl FnOnce() -> String,
) -> Result<BTreeMap<String, String>, Error> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => Ok(m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect()),
        Some(other) => Err(Error::type_mismatch(path(), "object", type_name(other))),
    }
}

/// The exact text of a body holding one JSON value, without surrounding whitespace.
pub(crate) fn raw_text(body: &[u8]) -> Result<&str, Error> {
    if std::str::from_utf8(body).is_err() {
        return Err(Error::new(ErrorKind::InvalidUtf8, "body is not valid utf-8"));
    }
    let raw: &RawValue = serde_json::from_slice(body).map_err(|e| Error::from_json(&e))?;
    Ok(raw.get())
}

/// The nested object `key` of `o`, if present and not null; its path is written into `path`.
pub(crate) fn sub<'a>(
    o: &Obj<'a>,
    key: &str,
    path: &'a mut String,
) -> Result<Option<Obj<'a>>, Error> {
    *path = o.child(key);
    match o.get(key) {
        None => Ok(None),
        Some(v) => Obj::new(v, path).map(Some),
    }
}

/// A non-empty optional string (empty and whitespace-only strings become `None`).
pub(crate) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_maps_keep_strings_and_encode_the_rest() {
        let v: Value = serde_json::from_str(r#"{"a":"x","b":2,"c":null,"d":{"e":[1]}}"#).unwrap();
        let m = string_map(Some(&v), || "$.m".into()).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m["b"], "2");
        assert_eq!(m["d"], r#"{"e":[1]}"#);
        let e = string_map(Some(&Value::from(3)), || "$.m".into()).unwrap_err();
        assert_eq!(e.path(), Some("$.m"));
    }

    #[test]
    fn raw_text_is_the_value_without_surrounding_space() {
        assert_eq!(raw_text(b" \n{\"a\": 1} \n").unwrap(), "{\"a\": 1}");
        assert_eq!(raw_text(b"{").unwrap_err().code(), "invalid_json");
    }
}
