//! Any JSON object's fields by name, for the providers that read one event per object and do
//! not know the set of keys in advance (nested objects, lists of objects, tag maps): the fields
//! are kept as [`Val`] slices of the body from one [`Scan`], and the typed accessors read them
//! with the rules and errors [`super::picked::Picked`] has (strings borrowed, numbers kept as
//! their exact digits, a `type_mismatch` naming the JSON path, expected and found).

use std::borrow::Cow;

use super::scan::{Kind, Scan, Val};
use crate::error::{Error, ErrorKind};
use crate::providers::time::{TimeUnit, read_time, read_time_naive_utc};
use crate::{Tags, Timestamp};

/// How deep a body read as a whole may nest, as serde_json's default recursion limit has it
/// (127 open brackets): deeper bodies are `too_large`.
pub(crate) const MAX_DEPTH: usize = 127;

/// One JSON object: its fields in document order and its path.
#[derive(Debug)]
pub(crate) struct Object<'a> {
    fields: Vec<(Cow<'a, str>, Val<'a>)>,
    text: &'a str,
    path: String,
}

impl<'a> Object<'a> {
    /// Read all of `text` (a body) as one object at `path`: `invalid_json` when it is not JSON,
    /// `too_large` when it nests deeper than [`MAX_DEPTH`], a `type_mismatch` when it is JSON
    /// of another kind.
    pub(crate) fn parse(text: &'a str, path: impl Into<String>) -> Result<Object<'a>, Error> {
        let mut scan = Scan::with_max_depth(text, MAX_DEPTH - 1);
        let read = Object::read(&mut scan, path.into())?;
        scan.end()?;
        read
    }

    /// The value at the cursor as an object at `path` (a `type_mismatch` for another kind; a
    /// syntax error is the outer `Err`, the cursor past the value either way).
    pub(crate) fn read(
        scan: &mut Scan<'a>,
        path: String,
    ) -> Result<Result<Object<'a>, Error>, Error> {
        let mut fields = Vec::new();
        let read = scan.fields(|k, v| fields.push((k, v)))?;
        Ok(match read {
            Ok(text) => Ok(Object { fields, text, path }),
            Err(v) => Err(Error::type_mismatch(path, "object", v.kind.name())),
        })
    }

    /// The value `v` (its text already scanned) as an object at `path`.
    pub(crate) fn of(v: Val<'a>, path: String) -> Result<Object<'a>, Error> {
        if v.kind != Kind::Obj {
            return Err(Error::type_mismatch(path, "object", v.kind.name()));
        }
        Object::read(&mut Scan::new(v.text), path)?
    }

    /// The object's exact text.
    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// The path of `key` inside this object.
    pub(crate) fn child(&self, key: &str) -> String {
        child(&self.path, key)
    }

    /// The keys, in document order (a repeated key as often as it is written).
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_ref())
    }

    /// Every field in document order, `null`s included.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&str, Val<'a>)> {
        self.fields.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    /// Whether `key` is present, even as `null`.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == key)
    }

    /// The value of `key` (the last one, as JSON parsers do; absent and `null` are `None`).
    pub(crate) fn get(&self, key: &str) -> Option<Val<'a>> {
        self.fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v).filter(|v| !v.is_null())
    }

    /// A `type_mismatch` at `key`.
    #[cold]
    fn mismatch(&self, key: &str, expected: &str, found: Kind) -> Error {
        Error::type_mismatch(self.child(key), expected, found.name())
    }

    /// An optional field that must be a JSON string (addresses, names, URLs).
    pub(crate) fn string(&self, key: &str) -> Result<Option<Cow<'a, str>>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.string().map(Some).ok_or_else(|| self.mismatch(key, "string", v.kind)),
        }
    }

    /// An optional string field; a number is accepted and kept as its exact digits (ids sent as
    /// numbers, like Mailjet's `MessageID`, keep all their digits).
    pub(crate) fn str(&self, key: &str) -> Result<Option<Cow<'a, str>>, Error> {
        match self.get(key) {
            Some(v) if v.kind == Kind::Num => Ok(Some(Cow::Borrowed(v.text))),
            _ => self.string(key),
        }
    }

    /// A required string field (a number is accepted, as in [`Object::str`]).
    pub(crate) fn req_str(&self, key: &str) -> Result<Cow<'a, str>, Error> {
        self.str(key)?.ok_or_else(|| Error::missing(self.child(key)))
    }

    /// An optional boolean; `"true"`/`"false"` strings and `0`/`1` are accepted.
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, Error> {
        let Some(v) = self.get(key) else { return Ok(None) };
        match (v.kind, v.text) {
            (Kind::Bool, t) => Ok(Some(t == "true")),
            (Kind::Str, r#""true""# | r#""1""#) | (Kind::Num, "1") => Ok(Some(true)),
            (Kind::Str, r#""false""# | r#""0""#) | (Kind::Num, "0") => Ok(Some(false)),
            (kind, _) => Err(self.mismatch(key, "boolean", kind)),
        }
    }

    /// An optional list of strings (number items kept as their digits); a single string
    /// becomes a one-element list, `null` items are skipped.
    pub(crate) fn str_list(&self, key: &str) -> Result<Tags<Cow<'a, str>>, Error> {
        let Some(v) = self.get(key) else { return Ok(Tags::new()) };
        match v.kind {
            Kind::Str => Ok(v.string().into_iter().collect()),
            Kind::Arr => {
                let mut out = Tags::new();
                let mut bad = None;
                Scan::new(v.text).items(|scan, i| {
                    let item = scan.value()?;
                    match item.kind {
                        Kind::Null => {}
                        Kind::Str | Kind::Num => out.extend(item.text()),
                        other => {
                            bad.get_or_insert((i, other));
                        }
                    }
                    Ok(())
                })?;
                match bad {
                    None => Ok(out),
                    Some((i, kind)) => Err(Error::type_mismatch(
                        format!("{}[{i}]", self.child(key)),
                        "string",
                        kind.name(),
                    )),
                }
            }
            other => Err(self.mismatch(key, "string or array", other)),
        }
    }

    /// An optional time in one of the providers' shapes (see [`read_time`]).
    pub(crate) fn time(&self, key: &str, unit: TimeUnit) -> Result<Option<Timestamp>, Error> {
        let Some(v) = self.get(key) else { return Ok(None) };
        read_time(v, unit)
            .map(Some)
            .map_err(|found| Error::type_mismatch(self.child(key), unit.expected(), &found))
    }

    /// An optional time as [`Object::time`] reads it, a date-time without an offset read as
    /// UTC (see [`read_time_naive_utc`]).
    pub(crate) fn time_naive_utc(
        &self,
        key: &str,
        unit: TimeUnit,
    ) -> Result<Option<Timestamp>, Error> {
        let Some(v) = self.get(key) else { return Ok(None) };
        read_time_naive_utc(v, unit)
            .map(Some)
            .map_err(|found| Error::type_mismatch(self.child(key), unit.expected(), &found))
    }

    /// An optional nested object.
    pub(crate) fn obj(&self, key: &str) -> Result<Option<Object<'a>>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => Object::of(v, self.child(key)).map(Some),
        }
    }

    /// An optional array's items, each with its path (`$.list[2]`); a `type_mismatch` for
    /// another kind.
    pub(crate) fn items(&self, key: &str) -> Result<Vec<(Val<'a>, String)>, Error> {
        let Some(v) = self.get(key) else { return Ok(Vec::new()) };
        if v.kind != Kind::Arr {
            return Err(self.mismatch(key, "array", v.kind));
        }
        let path = self.child(key);
        let mut out = Vec::new();
        Scan::new(v.text).items(|scan, i| {
            out.push((scan.value()?, format!("{path}[{i}]")));
            Ok(())
        })?;
        Ok(out)
    }

    /// An optional object of custom values as metadata: strings as they are, anything else as
    /// its compact JSON text (see [`value_text`]), `null` values (the last one of a repeated
    /// key decides) left out.
    pub(crate) fn string_map(&self, key: &str) -> Result<crate::Metadata<Cow<'a, str>>, Error> {
        let mut out = crate::Metadata::new();
        let Some(o) = self.obj(key)? else { return Ok(out) };
        for (k, v) in &o.fields {
            match value_text(*v)? {
                Some(s) => out.insert(k.clone(), s),
                None => out.remove(k),
            };
        }
        Ok(out)
    }
}

/// The path of `key` inside the value at `path`.
pub(crate) fn child(path: &str, key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!("{path}.{key}")
    } else {
        format!("{path}[{key:?}]")
    }
}

/// A metadata value's text: a string's value, `None` for null, and the compact JSON text of
/// anything else (numbers as serde_json writes them).
pub(crate) fn value_text(v: Val<'_>) -> Result<Option<Cow<'_, str>>, Error> {
    Ok(match v.kind {
        Kind::Null => None,
        Kind::Str => v.string(),
        Kind::Bool => Some(Cow::Borrowed(v.text)),
        _ => {
            let value: serde_json::Value =
                serde_json::from_str(v.text).map_err(|e| Error::from_json(&e))?;
            Some(Cow::Owned(value.to_string()))
        }
    })
}

/// Read `text`, which must be a JSON array, handing each item to `each` as an object at
/// `$[i]` (a `type_mismatch` for an item of another kind). A syntax error anywhere fails the
/// whole read (`invalid_json`), as does JSON of another kind (`invalid_value`).
pub(crate) fn each_object<'a>(
    text: &'a str,
    mut each: impl FnMut(Result<Object<'a>, Error>),
) -> Result<(), Error> {
    let mut scan = Scan::with_max_depth(text, MAX_DEPTH - 2);
    if scan.peek() != Some(b'[') {
        let v = scan.value()?;
        scan.end()?;
        return Err(Error::new(
            ErrorKind::InvalidValue,
            format!("expected a json array, found {}", v.kind.name()),
        ));
    }
    scan.items(|scan, i| {
        each(Object::read(scan, format!("$[{i}]"))?);
        Ok(())
    })?;
    scan.end()
}

/// A body that is either one event object or a JSON array of them (Brevo, Mailjet's grouped
/// mode): each element normalized by `event` with its exact raw text; a bad element becomes an
/// error with its path and the others still come out. A bad single object fails the call.
pub(crate) fn one_or_many(
    payload: crate::Payload<'_>,
    slug: &str,
    event: impl Fn(&Object<'_>, &str) -> Result<crate::Event, Error>,
) -> Result<crate::Normalized, Error> {
    let body = super::body::body_text(payload.body)?;
    let mut out = crate::Normalized::default();
    if super::body::first_byte(payload.body) == Some(b'[') {
        each_object(body, |o| match o.and_then(|o| event(&o, o.text())) {
            Ok(e) => out.events.push(e),
            Err(e) => out.errors.push(e.with_provider(slug)),
        })?;
    } else {
        let o = Object::parse(body, "$")?;
        out.events.push(event(&o, o.text())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_with_paths_and_types() {
        let o = Object::parse(
            r#"{"a":"x","n":12.50,"b":"1","t":"soon","l":["p",null,3],"o":{"k":[1]},"a":null,"m":{"s":"v","z":null,"j":{"q":1.5e3}}}"#,
            "$",
        )
        .unwrap();
        assert_eq!(o.get("a").map(|v| v.text), None);
        assert_eq!(o.str("n").unwrap().unwrap(), "12.50");
        assert_eq!(o.string("n").unwrap_err().message(), "expected string at $.n, found number");
        assert_eq!(o.bool("b").unwrap(), Some(true));
        assert_eq!(o.str_list("l").unwrap().as_slice(), ["p", "3"]);
        assert_eq!(
            o.time("t", TimeUnit::Seconds).unwrap_err().message(),
            "expected epoch seconds or an RFC 3339 time at $.t, found \"soon\""
        );
        let inner = o.obj("o").unwrap().unwrap();
        assert_eq!(inner.text(), r#"{"k":[1]}"#);
        assert_eq!(inner.str_list("k").unwrap().as_slice(), ["1"]);
        let m = o.string_map("m").unwrap();
        assert_eq!(m.get("j").map(AsRef::as_ref), Some(r#"{"q":1500.0}"#));
        assert!(!m.contains_key("z"));
        assert_eq!(Object::parse("[1]", "$").unwrap_err().code(), "type_mismatch");
        assert_eq!(Object::parse("{", "$").unwrap_err().code(), "invalid_json");
        let deep = format!(r#"{{"a":{}{}}}"#, "[".repeat(200), "]".repeat(200));
        assert_eq!(Object::parse(&deep, "$").unwrap_err().code(), "too_large");
    }

    #[test]
    fn array_items_keep_their_exact_text_and_bad_arrays_fail_whole() {
        let mut seen = Vec::new();
        each_object(" [ {\"b\":1, \"a\" : [2]} ,\n7, {}] ", |o| {
            seen.push(o.map(|o| o.text().to_owned()).map_err(|e| e.message().to_owned()));
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                Ok("{\"b\":1, \"a\" : [2]}".to_owned()),
                Err("expected object at $[1], found number".to_owned()),
                Ok("{}".to_owned())
            ]
        );
        for bad in ["[", "[{}", "[{},", "[{} {}]", "[{}] x", "[{\"a\":}]"] {
            assert_eq!(each_object(bad, |_| {}).unwrap_err().code(), "invalid_json", "{bad}");
        }
        assert_eq!(each_object("{}", |_| {}).unwrap_err().code(), "invalid_value");
    }
}
