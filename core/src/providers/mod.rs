//! One module per provider (file name == slug), plus the helpers they share: JSON access that
//! reports the path and the found type, the four timestamp shapes, bare addresses and message
//! ids, and the exact raw text of each batch element.

#![allow(
    dead_code,
    reason = "shared helpers; the provider modules that use them land with issue 3"
)]

use serde_json::Value;
use serde_json::value::RawValue;

use crate::Timestamp;
use crate::error::{Error, ErrorKind};

pub(crate) mod brevo;
pub(crate) mod csv;
pub(crate) mod extract;
pub(crate) mod form;
pub(crate) mod mailersend;
pub(crate) mod mailjet;
pub(crate) mod mandrill;
pub(crate) mod ndjson;
pub(crate) mod postal;
pub(crate) mod resend;
pub(crate) mod sparkpost;

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

/// Split a JSON array body into its elements' exact raw text, so each event's `raw` is the
/// provider's bytes, not a re-serialization.
pub(crate) fn split_array(body: &[u8]) -> Result<Vec<&str>, Error> {
    if std::str::from_utf8(body).is_err() {
        return Err(Error::new(ErrorKind::InvalidUtf8, "body is not valid utf-8"));
    }
    let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| Error::from_json(&e))?;
    Ok(items.into_iter().map(RawValue::get).collect())
}

/// A path-aware view of one JSON object.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Obj<'a> {
    /// The object's fields.
    pub(crate) map: &'a serde_json::Map<String, Value>,
    /// Its JSON path (`$[2]`, `$.event-data`).
    pub(crate) path: &'a str,
}

impl<'a> Obj<'a> {
    /// View `v` at `path` as an object, or a `type_mismatch` error.
    pub(crate) fn new(v: &'a Value, path: &'a str) -> Result<Obj<'a>, Error> {
        match v {
            Value::Object(map) => Ok(Obj { map, path }),
            other => Err(Error::type_mismatch(path, "object", type_name(other))),
        }
    }

    /// The path of `key` inside this object.
    pub(crate) fn child(&self, key: &str) -> String {
        if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            format!("{}.{key}", self.path)
        } else {
            format!("{}[{key:?}]", self.path)
        }
    }

    /// The raw value of `key` (absent and `null` are both `None`).
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An optional string field; numbers are accepted and written in decimal (ids sent as
    /// numbers, like Mailjet's `MessageID`, keep all their digits).
    pub(crate) fn str(&self, key: &str) -> Result<Option<String>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(Error::type_mismatch(self.child(key), "string", type_name(other))),
        }
    }

    /// A required string field.
    pub(crate) fn req_str(&self, key: &str) -> Result<String, Error> {
        self.str(key)?.ok_or_else(|| Error::missing(self.child(key)))
    }

    /// An optional nested object.
    pub(crate) fn obj(&self, key: &str, path: &'a mut String) -> Result<Option<Obj<'a>>, Error> {
        *path = self.child(key);
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(Obj::new(v, path)?)),
            Some(other) => Err(Error::type_mismatch(path.clone(), "object", type_name(other))),
        }
    }

    /// An optional boolean; `"true"`/`"false"` strings and `0`/`1` are accepted.
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" || s == "1" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" || s == "0" => Ok(Some(false)),
            Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(Some(true)),
            Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(false)),
            Some(other) => Err(Error::type_mismatch(self.child(key), "boolean", type_name(other))),
        }
    }

    /// An optional list of strings; a single string becomes a one-element list.
    pub(crate) fn str_list(&self, key: &str) -> Result<Vec<String>, Error> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_null())
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    other => Err(Error::type_mismatch(
                        format!("{}[{i}]", self.child(key)),
                        "string",
                        type_name(other),
                    )),
                })
                .collect(),
            Some(other) => {
                Err(Error::type_mismatch(self.child(key), "string or array", type_name(other)))
            }
        }
    }

    /// An optional time in one of the providers' shapes (see [`parse_time`]).
    pub(crate) fn time(&self, key: &str, unit: TimeUnit) -> Result<Option<Timestamp>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_time(v, unit)
                .map(Some)
                .map_err(|found| Error::type_mismatch(self.child(key), unit.expected(), &found)),
        }
    }
}

/// The unit of a numeric timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    /// Seconds since the epoch, integer or fractional (SendGrid, Mailgun, Postal, Mandrill).
    Seconds,
    /// Milliseconds since the epoch (Brevo `ts_epoch`).
    Millis,
}

impl TimeUnit {
    fn expected(self) -> &'static str {
        match self {
            TimeUnit::Seconds => "epoch seconds or an RFC 3339 time",
            TimeUnit::Millis => "epoch milliseconds or an RFC 3339 time",
        }
    }
}

/// Parse a time given as a JSON number, a numeric string, or an RFC 3339 string.
/// Fractions are truncated to milliseconds; offsets are applied.
///
/// With [`TimeUnit::Seconds`], integers above 10^11 are taken as milliseconds: SendGrid's docs
/// show 13-digit marketing timestamps, and 10^11 seconds is the year 5138.
///
/// The error is a description of what was found, for the caller to wrap with a path.
pub(crate) fn parse_time(v: &Value, unit: TimeUnit) -> Result<Timestamp, String> {
    let found = || match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    match v {
        Value::Number(n) => number_time(n.as_i64(), n.as_f64(), unit).ok_or_else(found),
        Value::String(s) => {
            let t = s.trim();
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
                let n: Option<f64> = t.parse().ok();
                let i: Option<i64> = t.parse().ok();
                number_time(i, n, unit).ok_or_else(found)
            } else {
                Timestamp::parse_rfc3339(t).map_err(|_| found())
            }
        }
        _ => Err(format!("{} {}", type_name(v), found())),
    }
}

fn number_time(int: Option<i64>, float: Option<f64>, unit: TimeUnit) -> Option<Timestamp> {
    const MS_THRESHOLD: i64 = 100_000_000_000;
    match (unit, int) {
        (TimeUnit::Millis, Some(i)) => Timestamp::from_millis(i),
        (TimeUnit::Seconds, Some(i)) if i.abs() >= MS_THRESHOLD => Timestamp::from_millis(i),
        (TimeUnit::Seconds, Some(i)) => Timestamp::from_millis(i.checked_mul(1000)?),
        (TimeUnit::Seconds, None) => Timestamp::from_secs_f64(float?),
        (TimeUnit::Millis, None) => {
            let f = float?;
            Timestamp::from_secs_f64(f / 1000.0)
        }
    }
}

/// A bare, lower-cased address from `Ann <Ann@Example.com>`, `<ann@example.com>` or
/// `ann@example.com`. Simple Unicode lower-casing (`ß` stays `ß`); IDN domains are kept as
/// they are. `None` for an empty string.
pub(crate) fn bare_address(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = match (s.rfind('<'), s.rfind('>')) {
        (Some(open), Some(close)) if open < close => &s[open + 1..close],
        _ => s,
    };
    let inner = inner.trim().trim_matches('"');
    if inner.is_empty() {
        return None;
    }
    Some(inner.chars().flat_map(simple_lower).collect())
}

/// Simple (one-to-one) lower-casing: `char::to_lowercase` except where it would expand a
/// character into several (İ), which keeps that character as it is.
fn simple_lower(c: char) -> impl Iterator<Item = char> {
    let mut lower = c.to_lowercase();
    let one = if lower.len() == 1 { lower.next().unwrap_or(c) } else { c };
    std::iter::once(one)
}

/// A message id with surrounding whitespace and `<>` removed; `None` when empty.
pub(crate) fn clean_message_id(s: &str) -> Option<String> {
    let t = s.trim().trim_start_matches('<').trim_end_matches('>').trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_in_every_provider_shape() {
        let s = |v: Value| parse_time(&v, TimeUnit::Seconds).unwrap().as_millis();
        assert_eq!(s(json!(1_762_200_001)), 1_762_200_001_000);
        assert_eq!(s(json!("1762200001")), 1_762_200_001_000);
        assert_eq!(s(json!(1_762_200_001.987_654)), 1_762_200_001_987);
        assert_eq!(s(json!("1762200001.5")), 1_762_200_001_500);
        assert_eq!(s(json!(1_762_200_001_234_i64)), 1_762_200_001_234);
        assert_eq!(s(json!("2025-11-03T15:00:01.1234567-05:00")), 1_762_200_001_123);
        let ms = parse_time(&json!(1_762_200_001_234_i64), TimeUnit::Millis).unwrap();
        assert_eq!(ms.as_millis(), 1_762_200_001_234);
        assert!(parse_time(&json!(true), TimeUnit::Seconds).is_err());
        assert!(parse_time(&json!("yesterday"), TimeUnit::Seconds).is_err());
    }

    #[test]
    fn addresses_are_bare_and_lower_case() {
        assert_eq!(bare_address("\"Ann B\" <Ann@Example.COM>").unwrap(), "ann@example.com");
        assert_eq!(bare_address(" <BOB@example.com> ").unwrap(), "bob@example.com");
        assert_eq!(bare_address("STRAßE@example.com").unwrap(), "straße@example.com");
        assert_eq!(bare_address("  "), None);
    }

    #[test]
    fn message_ids_lose_brackets_and_space() {
        assert_eq!(clean_message_id(" <abc@example.com> ").unwrap(), "abc@example.com");
        assert_eq!(clean_message_id("<>"), None);
    }

    #[test]
    fn split_array_keeps_each_elements_exact_text() {
        let parts = split_array(br#"[ {"b":1, "a":2} ,{"x":"y"}]"#).unwrap();
        assert_eq!(parts, vec![r#"{"b":1, "a":2}"#, r#"{"x":"y"}"#]);
    }
}
