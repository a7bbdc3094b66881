//! JSON helpers shared by every layer that reads or writes JSON outside the provider
//! normalizers: deserializing with the path of a failure, the error object every JSON surface
//! shows, and the byte-ordered forms of events and controls.
//!
//! Every output object is written with its keys in byte order: the order the wire has always
//! had (its output went through `serde_json::Value`, whose objects are ordered maps), so every
//! runtime gives the same bytes.

use std::borrow::Cow;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::de::DeserializeSeed;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::{Control, Event, Normalized};

/// Deserialize JSON, turning serde's errors into ours with the JSON path of the failure
/// (`expected a string at events[2].recipient, found integer `5``).
pub(crate) fn from_slice_with_path<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    from_slice_with_path_seed(std::marker::PhantomData::<T>, bytes)
}

/// [`from_slice_with_path`] for a value read by a seed (a form chosen by the caller).
pub(crate) fn from_slice_with_path_seed<'de, S>(
    seed: S,
    bytes: &'de [u8],
) -> Result<S::Value, Error>
where
    S: DeserializeSeed<'de>,
{
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v)) {
        Ok(v) => Ok(v),
        Err(e) => Err(classify(&e, |message| {
            let key_names_member = !message.starts_with("unknown variant");
            let closing_names_last = !message.starts_with("missing field");
            path_at(bytes, error_offset(bytes, &e), key_names_member, closing_names_last)
        })),
    }
}

/// The byte serde_json's error position names: the byte it peeked at when it found a value of
/// the wrong type, or the last byte it read (a string's closing quote, an object's `}`). Both
/// lie inside the value the error is about.
fn error_offset(bytes: &[u8], e: &serde_json::Error) -> usize {
    let line_start = match e.line().checked_sub(2) {
        None => 0,
        Some(newlines_before) => bytes
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(newlines_before)
            .map_or(0, |(i, _)| i + 1),
    };
    (line_start + e.column()).saturating_sub(1)
}

/// The path (`events[2].recipient`, `$` for the whole input) of the innermost value of
/// `bytes` that byte `at` belongs to. A value owns its text and what serde_json reads just
/// before peeking at it: a member's value from the byte after its key (the `:` and blanks), an
/// array's item from the `[` or `,` before it. A byte of a key names that member (an unknown
/// field) when `key_names_member`, else the object (an object given for an enum, whose first
/// key serde read as the variant); the blanks and commas between members belong to the object.
/// A container's closing bracket names its last member when `closing_names_last` (serde_json
/// consumes it before placing an error a member's reader raised), else the container (a
/// missing field, found at the end). Reads only as far as it must; on malformed text it stops
/// where it is.
fn path_at(bytes: &[u8], at: usize, key_names_member: bool, closing_names_last: bool) -> String {
    let mut path = String::new();
    let mut i = skip_ws(bytes, 0);
    loop {
        let close = match bytes.get(i) {
            Some(b'{') => b'}',
            Some(b'[') => b']',
            _ => break,
        };
        // `lead`: where the next item's share begins (its key's end, or the `[`/`,` before it).
        let mut lead = i;
        let mut j = skip_ws(bytes, i + 1);
        let mut index = 0usize;
        let mut inside = None;
        let mut last = None;
        while bytes.get(j).is_some_and(|&b| b != close) {
            let mut key = None;
            if close == b'}' {
                let Some(end) = skip_value(bytes, j) else { break };
                key = Some(&bytes[j..end]);
                if (j..end).contains(&at) {
                    // Inside the key: the member (an unknown field), or the object itself when
                    // the key was read as an enum's variant name.
                    inside = key_names_member.then_some((None, key));
                    break;
                }
                lead = end;
                j = skip_ws(bytes, end);
                if bytes.get(j) != Some(&b':') {
                    break;
                }
                j = skip_ws(bytes, j + 1);
            }
            if at < lead {
                break;
            }
            let Some(end) = skip_value(bytes, j) else {
                inside = Some((Some(j), key));
                break;
            };
            if at < end {
                inside = Some((Some(j), key));
                break;
            }
            last = Some((key, index));
            j = skip_ws(bytes, end);
            if bytes.get(j) == Some(&b',') {
                lead = j;
                j = skip_ws(bytes, j + 1);
            }
            index += 1;
        }
        if inside.is_none() && at == j && bytes.get(j) == Some(&close) && closing_names_last {
            // serde_json reads a container's closing bracket before it places an error raised
            // by its last member's own reader: the error is that member's.
            if let Some((key, n)) = last {
                index = n;
                inside = Some((None, key));
            }
        }
        let Some((value, key)) = inside else { break };
        if let Some(k) = key {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&key_text(k));
        } else {
            path.push('[');
            path.push_str(&index.to_string());
            path.push(']');
        }
        let Some(start) = value else { break };
        i = start;
    }
    if path.is_empty() { "$".to_owned() } else { path }
}

/// A key's text without its quotes, escapes decoded.
fn key_text(quoted: &[u8]) -> Cow<'_, str> {
    let inner = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default();
    match std::str::from_utf8(inner) {
        Ok(t) if !t.contains('\\') => Cow::Borrowed(t),
        _ => Cow::Owned(
            std::str::from_utf8(quoted)
                .ok()
                .and_then(|q| serde_json::from_str::<String>(q).ok())
                .unwrap_or_else(|| String::from_utf8_lossy(inner).into_owned()),
        ),
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end (exclusive) of the value starting at `i`, `None` when the text ends first.
fn skip_value(bytes: &[u8], i: usize) -> Option<usize> {
    match *bytes.get(i)? {
        b'"' => {
            let mut j = i + 1;
            loop {
                match *bytes.get(j)? {
                    b'"' => return Some(j + 1),
                    b'\\' => j += 2,
                    _ => j += 1,
                }
            }
        }
        b'{' | b'[' => {
            // Brackets balance outside strings; strings are skipped whole.
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *bytes.get(j)? {
                    b'"' => {
                        j = skip_value(bytes, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let n = bytes[i..]
                .iter()
                .take_while(|b| !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            Some(i + n.max(1))
        }
    }
}

/// Our error for serde's `err`: a data error (wrong type, unknown variant, missing field) names
/// the `path` of the value it is about (computed only then, from serde's message).
fn classify(err: &serde_json::Error, path: impl FnOnce(&str) -> String) -> Error {
    let base = Error::from_json(err);
    if base.kind() != ErrorKind::InvalidValue {
        return base;
    }
    let msg = err.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    let path = path(msg);
    if let Some(rest) = msg.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return Error::type_mismatch(path, expected, found);
    }
    if let Some(field) = msg.strip_prefix("missing field ") {
        let field = field.trim_matches('`');
        let full = if path == "$" { field.to_owned() } else { format!("{path}.{field}") };
        return Error::missing(full);
    }
    Error::invalid(path, msg)
}

/// An error as every JSON surface shows it: `{"code", "line"?, "message", "path"?}`, the
/// message with its provider and line prefix.
pub(crate) struct ErrorObject<'a>(pub(crate) &'a Error);

impl Serialize for ErrorObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("code", e.code())?;
        if let Some(n) = e.line() {
            m.serialize_entry("line", &n)?;
        }
        m.serialize_entry("message", &e.to_string())?;
        if let Some(p) = e.path() {
            m.serialize_entry("path", p)?;
        }
        m.end()
    }
}

impl ErrorObject<'_> {
    /// The object's JSON text.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        // Strings and numbers into memory: serializing cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Rebuild an error from its object (the inverse of the serialization). The `provider` the
    /// call was made for, when given, is split back off the message's prefix.
    pub(crate) fn read(obj: &Value, provider: Option<&str>) -> Error {
        let code = obj.get("code").and_then(Value::as_str).unwrap_or("");
        let kind = ErrorKind::from_code(code).unwrap_or(ErrorKind::InvalidValue);
        let mut message = obj.get("message").and_then(Value::as_str).unwrap_or("");
        let mut found_provider = None;
        if let Some(p) = provider
            && let Some(rest) = message.strip_prefix(p).and_then(|r| r.strip_prefix(": "))
        {
            message = rest;
            found_provider = Some(p);
        }
        let line = obj.get("line").and_then(Value::as_u64);
        if let Some(n) = line
            && let Some(rest) = message.strip_prefix(&format!("line {n}: "))
        {
            message = rest;
        }
        let mut e = Error::new(kind, message);
        if let Some(p) = found_provider {
            e = e.with_provider(p);
        }
        if let Some(path) = obj.get("path").and_then(Value::as_str) {
            e = e.with_path(path);
        }
        if let Some(n) = line {
            e = e.with_line(n);
        }
        e
    }
}

/// A normalize result as the `normalize` op answers it: `{"control", "errors", "events"}`.
pub(crate) struct SortedNormalized<'o, 'a>(pub(crate) &'o Normalized<Cow<'a, str>>);

impl Serialize for SortedNormalized<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.0;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("control", &n.control.as_ref().map(SortedControl))?;
        m.serialize_entry("errors", &Each(&n.errors, ErrorObject))?;
        m.serialize_entry("events", &Each(&n.events, SortedEvent))?;
        m.end()
    }
}

/// A slice serialized item by item through a wrapper.
pub(crate) struct Each<'a, T, W>(pub(crate) &'a [T], pub(crate) fn(&'a T) -> W);

impl<T, W: Serialize> Serialize for Each<'_, T, W> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(self.1))
    }
}

/// A control message, keys in byte order.
pub(crate) struct SortedControl<'a>(pub(crate) &'a Control);

impl Serialize for SortedControl<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("detail", &c.detail)?;
        m.serialize_entry("kind", &c.kind)?;
        m.serialize_entry("url", &c.url)?;
        m.end()
    }
}

/// An event with its keys in byte order. A test checks it agrees with the `Value` form, so a
/// field added to [`Event`] cannot be forgotten here.
pub(crate) struct SortedEvent<'a, S>(pub(crate) &'a Event<S>);

impl<T: Serialize + AsRef<str>> Serialize for SortedEvent<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(Some(22))?;
        m.serialize_entry("automated", &e.automated)?;
        m.serialize_entry("bounce_category", &e.bounce_category)?;
        m.serialize_entry("bounce_class", &e.bounce_class)?;
        m.serialize_entry("diagnostic", &e.diagnostic)?;
        m.serialize_entry("enhanced_status", &e.enhanced_status)?;
        m.serialize_entry("event_key", &e.event_key)?;
        m.serialize_entry("ip", &e.ip)?;
        m.serialize_entry("message_id", &e.message_id)?;
        m.serialize_entry("metadata", &e.metadata)?;
        m.serialize_entry("occurred_at", &e.occurred_at)?;
        m.serialize_entry("provider", &e.provider)?;
        m.serialize_entry("provider_event_id", &e.provider_event_id)?;
        m.serialize_entry("provider_type", &e.provider_type)?;
        m.serialize_entry("raw", &e.raw)?;
        m.serialize_entry("recipient", &e.recipient)?;
        m.serialize_entry("smtp_message_id", &e.smtp_message_id)?;
        m.serialize_entry("smtp_status", &e.smtp_status)?;
        m.serialize_entry("stream", &e.stream)?;
        m.serialize_entry("tags", &e.tags)?;
        m.serialize_entry("type", &e.kind)?;
        m.serialize_entry("url", &e.url)?;
        m.serialize_entry("user_agent", &e.user_agent)?;
        m.end()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{BounceClass, ControlKind, EventType, Timestamp};

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only the errors of reading it are tested")]
    struct EventsInput {
        events: Vec<Event>,
    }

    /// The reading this module replaced, kept as the oracle of its paths: serde_path_to_error
    /// tracking the path while serde_json deserializes.
    pub(crate) fn tracked_path<'de, S: DeserializeSeed<'de>>(
        seed: S,
        bytes: &'de [u8],
    ) -> Result<S::Value, Error> {
        let mut track = serde_path_to_error::Track::new();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let read = seed
            .deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
            .and_then(|v| de.end().map(|()| v));
        read.map_err(|e| {
            classify(&e, |_| match track.path().to_string() {
                p if p == "." => "$".to_owned(),
                p => p,
            })
        })
    }

    /// Every way to break a valid document at the node numbered `pick` (in document order):
    /// another type in its place, removed from its object, an unknown key beside it, or a
    /// string made an unknown variant.
    pub(crate) fn break_document(v: &mut Value, pick: usize, how: u8) {
        fn nth<'v>(v: &'v mut Value, n: &mut usize) -> Option<&'v mut Value> {
            if *n == 0 {
                return Some(v);
            }
            *n -= 1;
            match v {
                Value::Object(m) => m.values_mut().find_map(|c| nth(c, n)),
                Value::Array(a) => a.iter_mut().find_map(|c| nth(c, n)),
                _ => None,
            }
        }
        let count = {
            fn size(v: &Value) -> usize {
                1 + match v {
                    Value::Object(m) => m.values().map(size).sum(),
                    Value::Array(a) => a.iter().map(size).sum(),
                    _ => 0,
                }
            }
            size(v)
        };
        let mut n = pick % count;
        let Some(node) = nth(v, &mut n) else { return };
        match (how % 6, &mut *node) {
            (0, _) => *node = Value::from(5),
            (1, _) => *node = Value::from(true),
            (2, _) => *node = serde_json::json!({"k": [1, "x"]}),
            (3, Value::Object(m)) => {
                let first = m.keys().next().cloned();
                if let Some(k) = first {
                    m.remove(&k);
                }
            }
            (4, Value::Object(m)) => {
                m.insert("zz_unknown\"key".to_owned(), Value::Null);
            }
            (5, Value::String(t)) => t.push_str("_teleported"),
            _ => *node = Value::from("text"),
        }
    }

    /// `v` as JSON text: pretty-printed (`layout` 0), or compact with every object's members
    /// rotated by `layout` places, so that any member comes last (serde_json places some
    /// errors of an object's last member at its closing brace).
    pub(crate) fn layout_document(v: &Value, layout: usize) -> Vec<u8> {
        fn write(v: &Value, rot: usize, out: &mut String) {
            match v {
                Value::Object(m) if !m.is_empty() => {
                    let mut members: Vec<_> = m.iter().collect();
                    let by = rot % members.len();
                    members.rotate_left(by);
                    out.push('{');
                    for (n, (k, v)) in members.into_iter().enumerate() {
                        if n > 0 {
                            out.push(',');
                        }
                        out.push_str(&serde_json::to_string(k).unwrap());
                        out.push(':');
                        write(v, rot, out);
                    }
                    out.push('}');
                }
                Value::Array(a) => {
                    out.push('[');
                    for (n, v) in a.iter().enumerate() {
                        if n > 0 {
                            out.push(',');
                        }
                        write(v, rot, out);
                    }
                    out.push(']');
                }
                other => out.push_str(&other.to_string()),
            }
        }
        if layout == 0 {
            return serde_json::to_vec_pretty(v).unwrap();
        }
        let mut out = String::new();
        write(v, layout, &mut out);
        out.into_bytes()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3_000))]

        /// The path read back from serde_json's error position is the one serde_path_to_error
        /// tracked, for every kind of broken event list, compact and pretty-printed.
        #[test]
        fn error_paths_from_positions_equal_the_tracked_ones(
            pick in 0usize..10_000,
            how in 0u8..6,
            layout in 0usize..40,
            two in proptest::bool::ANY,
        ) {
            let one = serde_json::to_value(SortedEvent(&full_event())).unwrap();
            let mut v = serde_json::json!({"events": if two { vec![one.clone(), one] } else { vec![one] }});
            break_document(&mut v, pick, how);
            let text = layout_document(&v, layout);
            let ours = from_slice_with_path::<EventsInput>(&text).map(|_| ());
            let oracle = tracked_path(std::marker::PhantomData::<EventsInput>, &text).map(|_| ());
            proptest::prop_assert_eq!(ours, oracle, "{}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn paths_of_escaped_keys_and_nested_arrays() {
        let at = |text: &[u8], i: usize| path_at(text, i, true, true);
        assert_eq!(at(br#"{"a\"b":[1,[2,{"c":3}]]}"#, 18), "a\"b[1][1].c");
        assert_eq!(at(br"[1, 2]", 2), "[1]", "the comma before an item is its");
        assert_eq!(at(br#"{"a": 1, "b": 2}"#, 2), "a", "a key names its member");
        assert_eq!(path_at(br#"{"a": 1, "b": 2}"#, 2, false, true), "$", "or the object");
        assert_eq!(at(br#"{"a": 1, "b": 2}"#, 7), "$", "a comma between members");
        assert_eq!(at(br#"{"a": 1, "b": 2}"#, 4), "a", "the colon before a value");
        assert_eq!(at(br#"{"a": [1"#, 7), "a[0]");
        assert_eq!(at(b"", 3), "$");
        assert_eq!(at(br#"{"a": 1, "b": [1, 2]}"#, 20), "b", "a closing bracket: the last member");
        assert_eq!(at(br#"{"a": 1, "b": [1, 2]}"#, 19), "b[1]");
        assert_eq!(path_at(br#"{"a": 1, "b": [1, 2]}"#, 20, true, false), "$", "missing field");
        assert_eq!(at(br"{}", 1), "$", "an empty object has no last member");
    }

    #[test]
    fn type_errors_name_the_path_expected_and_found() {
        let e = from_slice_with_path::<EventsInput>(br#"{"events":[{"event_key":"k","provider":"p","type":"open","provider_type":"o","recipient":5}]}"#)
            .unwrap_err();
        assert_eq!(e.code(), "type_mismatch");
        assert_eq!(e.path(), Some("events[0].recipient"));
        assert!(e.message().contains("found integer `5`"), "{}", e.message());
    }

    #[test]
    fn missing_fields_name_their_full_path() {
        let e = from_slice_with_path::<EventsInput>(
            br#"{"events":[{"provider":"p","type":"open","provider_type":"o"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.code(), "missing_field");
        assert_eq!(e.path(), Some("events[0].event_key"));
    }

    #[test]
    fn truncated_json_is_invalid_json_and_deep_nesting_is_too_large() {
        assert_eq!(
            from_slice_with_path::<Value>(b"{\"a\":[1,").unwrap_err().code(),
            "invalid_json"
        );
        let deep = "[".repeat(10_000);
        assert_eq!(from_slice_with_path::<Value>(deep.as_bytes()).unwrap_err().code(), "too_large");
        assert_eq!(from_slice_with_path::<Value>(b"{} x").unwrap_err().code(), "invalid_json");
    }

    #[test]
    fn error_objects_read_back_as_the_error_they_show() {
        for e in [
            Error::new(ErrorKind::InvalidJson, "bad").with_provider("ndjson").with_line(3),
            Error::missing("$[2].event").with_provider("sendgrid"),
            Error::new(ErrorKind::StaleTimestamp, "old"),
        ] {
            let text = ErrorObject(&e).to_vec();
            let obj: Value = serde_json::from_slice(&text).unwrap();
            assert_eq!(serde_json::to_vec(&obj).unwrap(), text, "keys in byte order");
            assert_eq!(ErrorObject::read(&obj, e.provider()), e);
        }
    }

    /// An event with every field set, for the serialization tests of every JSON surface.
    pub(crate) fn full_event() -> Event {
        let mut e = Event::new("sendgrid", EventType::HardBounce);
        e.event_key = "sendgrid:abc".into();
        e.provider_event_id = Some("abc".into());
        e.provider_type = "bounce".into();
        e.message_id = Some("m1".into());
        e.smtp_message_id = Some("m1@example.com".into());
        e.recipient = Some("ann@example.com".into());
        e.occurred_at = Timestamp::from_millis(1_767_225_600_123);
        e.stream = Some("7".into());
        e.bounce_class = Some(BounceClass::Hard);
        e.smtp_status = Some("550".into());
        e.enhanced_status = Some("5.1.1".into());
        e.diagnostic = Some("550 5.1.1 \"user\" unknown\n".into());
        e.url = Some("https://example.com/p?q=1".into());
        e.user_agent = Some("Mozilla/5.0".into());
        e.ip = Some("192.0.2.1".into());
        e.tags = vec!["invoice".into(), "b".into()].into();
        e.metadata = [("z".to_owned(), "1".to_owned()), ("a".to_owned(), "é".to_owned())].into();
        e.raw = r#"{"event":"bounce"}"#.into();
        e
    }

    #[test]
    fn events_and_controls_serialize_as_their_value_form() {
        for e in [full_event(), Event::new("ses", EventType::Unknown)] {
            let direct = serde_json::to_string(&SortedEvent(&e)).unwrap();
            let tree = serde_json::to_string(&serde_json::to_value(&e).unwrap()).unwrap();
            assert_eq!(direct, tree);
        }
        let c = Control {
            kind: ControlKind::SubscriptionConfirmation,
            url: Some("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription".into()),
            detail: None,
        };
        let direct = serde_json::to_string(&SortedControl(&c)).unwrap();
        assert_eq!(direct, serde_json::to_string(&serde_json::to_value(&c).unwrap()).unwrap());
    }
}
