//! Small field extractors shared by the providers that landed with the second half of issue 3:
//! SMTP reply codes from diagnostic text, string maps for metadata, the raw text of a single
//! JSON body, and nested objects with their paths.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;

use super::{Obj, type_name};
use crate::error::{Error, ErrorKind};

/// The SMTP reply code and RFC 3463 enhanced status at the *start* of a diagnostic text:
/// `550 5.1.1 unknown user` gives `(550, 5.1.1)`, `smtp;550 5.1.1 …` the same, `5.7.1 blocked`
/// only the enhanced status. Text that does not start with a code gives nothing: codes inside
/// prose are not guessed.
pub(crate) fn smtp_codes(text: &str) -> (Option<String>, Option<String>) {
    let (status, enhanced) = smtp_code_slices(text);
    (status.map(str::to_owned), enhanced.map(str::to_owned))
}

/// [`smtp_codes`] as slices of `text`.
pub(crate) fn smtp_code_slices(text: &str) -> (Option<&str>, Option<&str>) {
    let mut rest = text.trim_start();
    if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case("smtp;") {
        rest = rest[5..].trim_start();
    }
    let mut status = None;
    let b = rest.as_bytes();
    if b.len() >= 3
        && matches!(b[0], b'2'..=b'5')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b.get(3).is_none_or(|c| matches!(c, b' ' | b'-' | b'\t'))
    {
        status = Some(&rest[..3]);
        rest = rest[3..].trim_start_matches([' ', '-', '\t']);
    }
    let token =
        rest.split(|c: char| c.is_whitespace() || c == ',' || c == ';').next().unwrap_or("");
    let token = token.trim_end_matches(['.', ':', ')']);
    let enhanced = is_enhanced(token).then_some(token);
    (status, enhanced)
}

fn is_enhanced(s: &str) -> bool {
    let mut parts = s.split('.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let digits = |p: &str, max: usize| {
        !p.is_empty() && p.len() <= max && p.bytes().all(|c| c.is_ascii_digit())
    };
    matches!(class, "2" | "4" | "5") && digits(subject, 3) && digits(detail, 3)
}

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
    fn smtp_codes_come_only_from_the_start_of_the_text() {
        let c = |s: &str| smtp_codes(s);
        assert_eq!(c("550 5.1.1 unknown user"), (Some("550".into()), Some("5.1.1".into())));
        assert_eq!(c("smtp;550 5.1.1 <x@example.com>"), (Some("550".into()), Some("5.1.1".into())));
        assert_eq!(c("451-4.7.1 later"), (Some("451".into()), Some("4.7.1".into())));
        assert_eq!(c("5.7.1 blocked"), (None, Some("5.7.1".into())));
        assert_eq!(c("250 OK"), (Some("250".into()), None));
        assert_eq!(c("mailbox full 552 5.2.2"), (None, None));
        assert_eq!(c("5501 no"), (None, None));
        assert_eq!(c(""), (None, None));
    }

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
