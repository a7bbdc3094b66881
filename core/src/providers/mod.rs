//! One module per provider (file name == slug), plus the helpers they share: JSON access that
//! reports the path and the found type, the four timestamp shapes, bare addresses and message
//! ids, and the exact raw text of each batch element.

use std::borrow::Cow;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind};
use crate::{Event, EventType, Timestamp};

pub(crate) use text::{
    bare_address, bare_address_cow, clean_message_id, clean_message_id_cow, narrow,
};
pub(crate) use time::{TimeUnit, plain_epoch, string_epoch};

pub(crate) mod brevo;
pub(crate) mod csv;
pub(crate) mod form;
pub(crate) mod json;
pub(crate) mod mailersend;
pub(crate) mod mailgun;
pub(crate) mod mailjet;
pub(crate) mod mandrill;
pub(crate) mod ndjson;
pub(crate) mod postal;
pub(crate) mod postmark;
pub(crate) mod resend;
pub(crate) mod sendgrid;
pub(crate) mod ses;
pub(crate) mod sparkpost;
pub(crate) mod text;
pub(crate) mod time;

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

/// An object's fields as `(key, raw value)` pairs; a map visitor keeps duplicate keys and
/// order, and borrows every value.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a json object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Fields<'de>, A::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(16));
                while let Some(k) = m.next_key_seed(BorrowedKey)? {
                    out.push((k, m.next_value::<&'de RawValue>()?));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A map key borrowed from the input when it has no escapes (serde's `Cow<str>` always copies).
struct BorrowedKey;

impl<'de> serde::de::DeserializeSeed<'de> for BorrowedKey {
    type Value = Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// Push a blank event of `kind` from `provider` onto `events` and let `fill` complete it where
/// it lies (an event is a few hundred bytes: building it on the stack and moving it through a
/// `Result` into the vector copies it several times). On an error the event is taken off again.
#[inline]
pub(crate) fn fill_in_place<'a>(
    events: &mut Vec<crate::BorrowedEvent<'a>>,
    (provider, kind, provider_type): (&'static str, EventType, Cow<'a, str>),
    fill: impl FnOnce(&mut crate::BorrowedEvent<'a>) -> Result<(), Error>,
) -> Result<(), Error> {
    events.push(crate::BorrowedEvent::blank_borrowed(provider, kind, provider_type));
    let result = match events.last_mut() {
        Some(e) => fill(e),
        None => Ok(()),
    };
    if result.is_err() {
        events.pop();
    }
    result
}

/// A canonical event of `kind` with its `provider_type`, every other field empty (like
/// [`Event::new`] without its placeholder `provider_type`, which the hot path would allocate and
/// drop).
pub(crate) fn new_event(provider: &str, kind: EventType, provider_type: String) -> Event {
    Event::blank(provider.to_owned(), kind, provider_type)
}

/// A body that is either one event object or a JSON array of them (Brevo, Mailjet's grouped
/// mode): each element normalized by `event` with its exact raw text; a bad element becomes an
/// error with its path and the others still come out. A bad single object fails the call.
pub(crate) fn one_or_many(
    payload: crate::Payload<'_>,
    slug: &str,
    event: impl Fn(&json::object::Object<'_>, &str) -> Result<Event, Error>,
) -> Result<crate::Normalized, Error> {
    let body = body_text(payload.body)?;
    let mut out = crate::Normalized::default();
    if first_byte(payload.body) == Some(b'[') {
        json::object::each_object(body, |o| match o.and_then(|o| event(&o, o.text())) {
            Ok(e) => out.events.push(e),
            Err(e) => out.errors.push(e.with_provider(slug)),
        })?;
    } else {
        let o = json::object::Object::parse(body, "$")?;
        out.events.push(event(&o, o.text())?);
    }
    Ok(out)
}

/// A metadata value as text: strings as they are, anything else as its JSON text.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[allow(dead_code, reason = "used by providers that land from the other worktree")]
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

    /// An optional field that must be a JSON string (addresses, names, URLs): a number there
    /// is a `type_mismatch`, unlike [`Obj::str`].
    pub(crate) fn string(&self, key: &str) -> Result<Option<&'a str>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(Error::type_mismatch(self.child(key), "string", type_name(other))),
        }
    }

    #[allow(dead_code, reason = "used by providers that land from the other worktree")]
    /// A required string field.
    pub(crate) fn req_str(&self, key: &str) -> Result<String, Error> {
        self.str(key)?.ok_or_else(|| Error::missing(self.child(key)))
    }

    #[allow(dead_code, reason = "used by providers that land from the other worktree")]
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
    pub(crate) fn str_list(&self, key: &str) -> Result<crate::Tags, Error> {
        match self.get(key) {
            None => Ok(crate::Tags::new()),
            Some(Value::String(s)) => Ok(std::iter::once(s.clone()).collect()),
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

/// The JSON type name of raw JSON text, from its first byte.
pub(crate) fn raw_type_name(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "string",
        Some(b'{') => "object",
        Some(b'[') => "array",
        Some(b't' | b'f') => "boolean",
        Some(b'n') => "null",
        _ => "number",
    }
}

/// A JSON string's text, borrowed from the input when it has no escapes.
fn raw_string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    // RawValue text is valid JSON: a string without a backslash is exactly its inside.
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
        && !inner.contains('\\')
    {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
}

/// Up to eight raw array items without a heap allocation (tag lists are short); longer lists
/// spill into a vector.
struct SmallRawList<'a> {
    inline: [Option<&'a RawValue>; 8],
    spill: Vec<&'a RawValue>,
    len: usize,
}

impl<'a> SmallRawList<'a> {
    fn iter(&self) -> impl Iterator<Item = &'a RawValue> + '_ {
        self.inline.iter().flatten().copied().chain(self.spill.iter().copied())
    }
}

impl<'de> serde::Deserialize<'de> for SmallRawList<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SmallRawList<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a json array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<SmallRawList<'de>, A::Error> {
                let mut list = SmallRawList { inline: [None; 8], spill: Vec::new(), len: 0 };
                while let Some(item) = s.next_element::<&'de RawValue>()? {
                    match list.inline.get_mut(list.len) {
                        Some(slot) => *slot = Some(item),
                        None => list.spill.push(item),
                    }
                    list.len += 1;
                }
                Ok(list)
            }
        }
        d.deserialize_seq(V)
    }
}

/// A metadata value from raw JSON: a string's text, anything else as its JSON text.
pub(crate) fn raw_text(raw: &RawValue) -> String {
    raw_cow(raw).into_owned()
}

/// [`raw_text`], borrowed from the JSON text when it can be.
pub(crate) fn raw_cow(raw: &RawValue) -> Cow<'_, str> {
    match raw_string(raw) {
        Some(s) if raw_type_name(raw) == "string" => s,
        _ => Cow::Borrowed(raw.get()),
    }
}

/// One element of a JSON array body: its exact text, and its fields when it is an object
/// (otherwise the JSON type that was found instead).
#[derive(Debug)]
pub(crate) struct Element<'a> {
    /// The element's exact text, for `raw`.
    pub(crate) raw: &'a str,
    fields: Result<Vec<(Cow<'a, str>, &'a RawValue)>, &'static str>,
}

impl<'a> Element<'a> {
    /// The element as an object at `{prefix}[{index}]` (the path is only written out when an
    /// error needs it), or a `type_mismatch` error.
    pub(crate) fn into_obj(self, prefix: &'static str, index: usize) -> Result<RawObj<'a>, Error> {
        let path = ObjPath::Index(prefix, index);
        match self.fields {
            Ok(fields) => Ok(RawObj { fields, path }),
            Err(found) => Err(Error::type_mismatch(path.to_string(), "object", found)),
        }
    }
}

/// Read a JSON array body in one pass: each element's exact text and, for objects, their
/// fields (each value kept as raw text). This is [`split_array`] and [`RawObj::parse`] in one
/// scan instead of two, for the batch providers.
///
/// # Errors
/// `invalid_json` when the body is not a well-formed array (a truncated batch included).
pub(crate) fn array_elements(text: &str) -> Result<Vec<Element<'_>>, Error> {
    let bad = |at: usize, what: &str| {
        Error::new(ErrorKind::InvalidJson, format!("{what} at byte {at} of the json array"))
    };
    let bytes = text.as_bytes();
    let skip_ws = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(0);
    if bytes.get(i) != Some(&b'[') {
        return Err(bad(i, "expected `[`"));
    }
    i = skip_ws(i + 1);
    let mut out = Vec::new();
    if bytes.get(i) == Some(&b']') {
        i = skip_ws(i + 1);
        return if i == bytes.len() { Ok(out) } else { Err(bad(i, "trailing characters")) };
    }
    loop {
        let rest = &text[i..];
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<ElementFields<'_>>();
        let fields = match stream.next() {
            Some(Ok(f)) => f.0,
            Some(Err(e)) => return Err(Error::from_json(&e)),
            None => return Err(bad(i, "expected a value")),
        };
        let end = i + stream.byte_offset();
        out.push(Element { raw: &text[i..end], fields });
        i = skip_ws(end);
        match bytes.get(i) {
            Some(b',') => i = skip_ws(i + 1),
            Some(b']') => {
                i = skip_ws(i + 1);
                return if i == bytes.len() { Ok(out) } else { Err(bad(i, "trailing characters")) };
            }
            Some(_) => return Err(bad(i, "expected `,` or `]`")),
            None => return Err(bad(i, "EOF while parsing a list")),
        }
    }
}

/// An array element's fields, or the JSON type found instead of an object.
struct ElementFields<'a>(Result<Vec<(Cow<'a, str>, &'a RawValue)>, &'static str>);

impl<'de> serde::Deserialize<'de> for ElementFields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ElementFields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a json value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<ElementFields<'de>, A::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(16));
                while let Some(k) = m.next_key_seed(BorrowedKey)? {
                    out.push((k, m.next_value::<&'de RawValue>()?));
                }
                Ok(ElementFields(Ok(out)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<ElementFields<'de>, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(ElementFields(Err("array")))
            }
            fn visit_bool<E>(self, _: bool) -> Result<ElementFields<'de>, E> {
                Ok(ElementFields(Err("boolean")))
            }
            fn visit_i64<E>(self, _: i64) -> Result<ElementFields<'de>, E> {
                Ok(ElementFields(Err("number")))
            }
            fn visit_u64<E>(self, _: u64) -> Result<ElementFields<'de>, E> {
                Ok(ElementFields(Err("number")))
            }
            fn visit_f64<E>(self, _: f64) -> Result<ElementFields<'de>, E> {
                Ok(ElementFields(Err("number")))
            }
            fn visit_str<E>(self, _: &str) -> Result<ElementFields<'de>, E> {
                Ok(ElementFields(Err("string")))
            }
            fn visit_unit<E>(self) -> Result<ElementFields<'de>, E> {
                Ok(ElementFields(Err("null")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A path-aware, borrowed view of one JSON object that keeps each field's raw text and parses
/// only the fields that are read: the fast sibling of [`Obj`] for batch elements, where building
/// a whole `serde_json::Value` per event would cost several times the parse itself.
#[derive(Debug)]
pub(crate) struct RawObj<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
    /// Its JSON path (`$[2]`, `$.items[0]`).
    path: ObjPath,
}

/// A JSON path, written out only when an error needs it.
#[derive(Debug)]
enum ObjPath {
    /// A path as text.
    Text(String),
    /// `{prefix}[{index}]`: a batch element.
    Index(&'static str, usize),
}

impl std::fmt::Display for ObjPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjPath::Text(t) => f.write_str(t),
            ObjPath::Index(prefix, i) => write!(f, "{prefix}[{i}]"),
        }
    }
}

impl<'a> RawObj<'a> {
    /// View JSON text at `path` as an object, or a `type_mismatch` error.
    pub(crate) fn parse(text: &'a str, path: impl Into<String>) -> Result<RawObj<'a>, Error> {
        let path = path.into();
        if first_byte(text.as_bytes()) != Some(b'{') {
            return match serde_json::from_str::<&RawValue>(text) {
                Ok(raw) => Err(Error::type_mismatch(path, "object", raw_type_name(raw))),
                Err(e) => Err(Error::from_json(&e).with_path(path)),
            };
        }
        let fields: Fields<'a> =
            serde_json::from_str(text).map_err(|e| Error::from_json(&e).with_path(path.clone()))?;
        Ok(RawObj { fields: fields.0, path: ObjPath::Text(path) })
    }

    /// The path of `key` inside this object.
    pub(crate) fn child(&self, key: &str) -> String {
        if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            format!("{}.{key}", self.path)
        } else {
            format!("{}[{key:?}]", self.path)
        }
    }

    /// Every field in document order, `null`s included.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.fields.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    /// The raw value of `key` (the last one, as JSON parsers do; absent and `null` are `None`).
    pub(crate) fn raw(&self, key: &str) -> Option<&'a RawValue> {
        // Length and first byte first: most keys differ there, without a call to memcmp.
        let (len, first) = (key.len(), key.as_bytes().first());
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k.len() == len && k.as_bytes().first() == first && k == key)
            .map(|(_, v)| *v)
            .filter(|v| v.get() != "null")
    }

    /// An optional field that must be a JSON string.
    pub(crate) fn string(&self, key: &str) -> Result<Option<Cow<'a, str>>, Error> {
        match self.raw(key) {
            None => Ok(None),
            Some(raw) => match raw_string(raw) {
                Some(s) => Ok(Some(s)),
                None => Err(Error::type_mismatch(self.child(key), "string", raw_type_name(raw))),
            },
        }
    }

    /// An optional string field; a number is accepted and kept as its exact digits.
    pub(crate) fn str(&self, key: &str) -> Result<Option<Cow<'a, str>>, Error> {
        match self.raw(key) {
            None => Ok(None),
            Some(raw) if raw_type_name(raw) == "number" => Ok(Some(Cow::Borrowed(raw.get()))),
            Some(_) => self.string(key),
        }
    }

    /// An optional list of strings; a single string becomes a one-element list.
    pub(crate) fn str_list(&self, key: &str) -> Result<crate::Tags<Cow<'a, str>>, Error> {
        let Some(raw) = self.raw(key) else { return Ok(crate::Tags::new()) };
        match raw_type_name(raw) {
            "string" | "number" => Ok(self.str(key)?.into_iter().collect()),
            "array" => {
                let items: SmallRawList<'a> =
                    serde_json::from_str(raw.get()).map_err(|e| Error::from_json(&e))?;
                let mut out = crate::Tags::with_capacity(items.len);
                for (i, item) in items.iter().enumerate() {
                    match raw_type_name(item) {
                        "null" => {}
                        "number" => out.push(Cow::Borrowed(item.get())),
                        "string" => out.extend(raw_string(item)),
                        other => {
                            return Err(Error::type_mismatch(
                                format!("{}[{i}]", self.child(key)),
                                "string",
                                other,
                            ));
                        }
                    }
                }
                Ok(out)
            }
            other => Err(Error::type_mismatch(self.child(key), "string or array", other)),
        }
    }

    /// An optional nested object.
    pub(crate) fn obj(&self, key: &str) -> Result<Option<RawObj<'a>>, Error> {
        match self.raw(key) {
            None => Ok(None),
            Some(raw) => RawObj::parse(raw.get(), self.child(key)).map(Some),
        }
    }

    /// An optional time in one of the providers' shapes (see [`parse_time`]).
    pub(crate) fn time(&self, key: &str, unit: TimeUnit) -> Result<Option<Timestamp>, Error> {
        let Some(raw) = self.raw(key) else { return Ok(None) };
        // Epoch values written plainly, the common case, without building a `Value`; anything
        // else, and every error, the general way below (as `Picked::time` reads them).
        let plain = match raw_type_name(raw) {
            "number" => plain_epoch(raw.get(), unit),
            "string" => raw_string(raw).and_then(|s| string_epoch(&s, unit)),
            _ => None,
        };
        if let Some(t) = plain {
            return Ok(Some(t));
        }
        let v: Value = serde_json::from_str(raw.get()).map_err(|e| Error::from_json(&e))?;
        parse_time(&v, unit)
            .map(Some)
            .map_err(|found| Error::type_mismatch(self.child(key), unit.expected(), &found))
    }
}

/// [`time::read_time`] of a `serde_json::Value`.
pub(crate) fn parse_time(v: &Value, unit: TimeUnit) -> Result<Timestamp, String> {
    let text = v.to_string();
    let mut scan = json::scan::Scan::new(&text);
    match scan.value() {
        Ok(val) => time::read_time(val, unit),
        Err(_) => Err(text.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_elements_keep_exact_text_and_fields() {
        let els = array_elements(" [ {\"b\":1, \"a\" : [2]} ,\n7, \"x\",{}] ").unwrap();
        assert_eq!(els.len(), 4);
        assert_eq!(els[0].raw, "{\"b\":1, \"a\" : [2]}");
        assert_eq!(els[1].raw, "7");
        let o = els.into_iter().next().unwrap().into_obj("$", 0).unwrap();
        assert_eq!(o.raw("a").unwrap().get(), "[2]");
        assert!(array_elements("[]").unwrap().is_empty());
        for bad in ["[", "[{}", "[{},", "[{} {}]", "[{}] x", "{}", "[{\"a\":}]"] {
            assert_eq!(array_elements(bad).unwrap_err().code(), "invalid_json", "{bad}");
        }
        let e = array_elements("[1]").unwrap().into_iter().next().unwrap();
        let err = e.into_obj("$.items", 3).unwrap_err();
        assert_eq!(err.message(), "expected object at $.items[3], found number");
    }

    #[test]
    fn split_array_keeps_each_elements_exact_text() {
        let parts = split_array(br#"[ {"b":1, "a":2} ,{"x":"y"}]"#).unwrap();
        assert_eq!(parts, vec![r#"{"b":1, "a":2}"#, r#"{"x":"y"}"#]);
    }
}
