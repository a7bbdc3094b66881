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
    S: DeserializeSeed<'de> + Clone,
{
    // Fast path: plain serde_json (which also rejects trailing characters). Only when it fails
    // is the input parsed again with path tracking, to say exactly where and what.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let first = match seed.clone().deserialize(&mut de).and_then(|v| de.end().map(|()| v)) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let mut track = serde_path_to_error::Track::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match seed.deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track)) {
        Err(e) => Err(classify(&e, &track.path().to_string())),
        // The value parsed, so the first failure was trailing characters.
        Ok(_) => Err(classify(&first, "$")),
    }
}

fn classify(err: &serde_json::Error, path: &str) -> Error {
    let base = Error::from_json(err);
    if base.kind() != ErrorKind::InvalidValue {
        return base;
    }
    let msg = err.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    let path = if path == "." { "$".to_owned() } else { path.to_owned() };
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
