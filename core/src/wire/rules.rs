//! One interface to the rules, whether they run natively or in a sandboxed wasm plugin.
//!
//! [`Rules`] has two required methods, the two byte boundaries of [`crate::wire`]; every typed
//! method is provided on top of them, so an implementation (this crate's [`NativeRules`],
//! `mailstate-host`'s plugin) only moves bytes and both give the same answers for the same
//! reasons. Code that consumes rules (the SQL functions, a service) takes `&dyn Rules<Error = E>`
//! or a generic `R: Rules` and does not care where they run.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::batch::{EventBatch, ReduceBatch, ReduceOutput, StateBatch, States, Views};
use crate::error::{Error, ErrorKind};
use crate::json::ErrorObject;
use crate::{Control, Event, Normalized, Payload, Provider, StateView};

/// The rules of mailstate behind a bytes-in, bytes-out boundary.
///
/// Implementors provide [`Rules::call`] and [`Rules::call_binary`], returning exactly the
/// envelopes of [`crate::wire::call`] and [`crate::wire::call_binary`]; `Err` is reserved for
/// failures of the transport itself (a sandbox trap, exhausted fuel). The typed methods turn
/// an error *inside* an envelope (the rules refusing the input) into `Err` through
/// `From<Error>`.
pub trait Rules {
    /// The error of this implementation: core's [`Error`] for the native rules, the host's
    /// error (which also covers traps and limits) for a plugin.
    type Error: std::error::Error + From<Error>;

    /// Run a JSON op and return its envelope bytes (see [`crate::wire::call`]).
    ///
    /// # Errors
    /// Only when the rules could not run at all.
    fn call(&self, op: &str, input: &[u8]) -> Result<Vec<u8>, Self::Error>;

    /// Run a binary op and return its envelope bytes (see [`crate::wire::call_binary`]).
    ///
    /// # Errors
    /// Only when the rules could not run at all.
    fn call_binary(&self, op: &str, input: &[u8]) -> Result<Vec<u8>, Self::Error>;

    /// Normalize one payload (the `normalize` op).
    ///
    /// # Errors
    /// The payload-level error of [`crate::normalize`], or a transport error.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::{Headers, NativeRules, Payload, Provider, Rules};
    /// let body = br#"{"event_key":"ses:1","provider":"ses","type":"delivered","provider_type":"Delivery"}"#;
    /// let out = NativeRules.normalize(Provider::Ndjson, Payload { body, headers: &Headers::new() }).unwrap();
    /// assert_eq!(out.events.len(), 1);
    /// ```
    fn normalize(
        &self,
        provider: Provider,
        payload: Payload<'_>,
    ) -> Result<Normalized, Self::Error> {
        let headers: serde_json::Map<String, Value> =
            payload.headers.iter().map(|(n, v)| (n.to_owned(), Value::from(v))).collect();
        let mut input = json!({ "provider": provider.as_str(), "headers": headers });
        match std::str::from_utf8(payload.body) {
            Ok(text) => input["body"] = Value::from(text),
            Err(_) => {
                input["body_base64"] = Value::from(crate::encoding::encode_base64(payload.body));
            }
        }
        let input = serde_json::to_vec(&input).map_err(|e| Error::from_json(&e))?;
        let output = open_json(&self.call("normalize", &input)?, Some(provider.as_str()))?;
        let events: Vec<Event> = from_value(output.get("events"))?;
        let control: Option<Control> = from_value(output.get("control"))?;
        let errors = output
            .get("errors")
            .and_then(Value::as_array)
            .map(|errs| {
                errs.iter().map(|e| ErrorObject::read(e, Some(provider.as_str()))).collect()
            })
            .unwrap_or_default();
        Ok(Normalized { events, errors, control })
    }

    /// Group events by (message_id, recipient) and reduce each group (the `reduce` op).
    ///
    /// # Errors
    /// A transport error, or an error of the rules.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::{Event, EventType, NativeRules, Rules};
    /// let mut e = Event::new("ses", EventType::Delivered);
    /// e.event_key = "ses:1".into();
    /// assert_eq!(NativeRules.reduce(&[e]).unwrap()[0].status, EventType::Delivered);
    /// ```
    fn reduce(&self, events: &[Event]) -> Result<Vec<StateView>, Self::Error> {
        let input =
            serde_json::to_vec(&json!({ "events": events })).map_err(|e| Error::from_json(&e))?;
        let output = open_json(&self.call("reduce", &input)?, None)?;
        Ok(from_value(Some(&output))?)
    }

    /// Fold a batch of event facts into one encoded state per group (the `batch.fold` op).
    ///
    /// # Errors
    /// A transport error, or `invalid_value` when the batch is malformed. Bad rows come back
    /// in [`States::errors`] instead.
    fn fold(&self, batch: &EventBatch) -> Result<States, Self::Error> {
        let body = open_binary(self.call_binary("batch.fold", &batch.encode())?)?;
        Ok(States::from_bytes(body)?)
    }

    /// Merge encoded states into one state per group (the `batch.merge` op).
    ///
    /// # Errors
    /// A transport error, or `invalid_value` when the batch is malformed. States that do not
    /// decode come back in [`States::errors`] instead.
    fn merge(&self, batch: &StateBatch) -> Result<States, Self::Error> {
        let body = open_binary(self.call_binary("batch.merge", &batch.encode())?)?;
        Ok(States::from_bytes(body)?)
    }

    /// Fold rows and merge states of the same groups into one encoded state per group (the
    /// `batch.reduce` op answering with states).
    ///
    /// # Errors
    /// A transport error, or `invalid_value` when the batch is malformed. Bad rows and states
    /// come back in [`States::errors`] instead.
    fn reduce_states(&self, batch: &ReduceBatch<'_>) -> Result<States, Self::Error> {
        let input = batch.encode(ReduceOutput::States);
        let body = open_binary(self.call_binary("batch.reduce", &input)?)?;
        Ok(States::from_bytes(body)?)
    }

    /// Fold rows and merge states of the same groups into one view per group (the
    /// `batch.reduce` op answering with views).
    ///
    /// # Errors
    /// A transport error, or `invalid_value` when the batch is malformed. Bad rows and states
    /// come back in [`Views::errors`] instead.
    fn reduce_views(&self, batch: &ReduceBatch<'_>) -> Result<Views, Self::Error> {
        let input = batch.encode(ReduceOutput::Views);
        let body = open_binary(self.call_binary("batch.reduce", &input)?)?;
        Ok(Views::from_bytes(&body)?)
    }

    /// The views of encoded states (the `batch.view` op); `None` for a state that does not
    /// decode.
    ///
    /// # Errors
    /// A transport error, or `invalid_value` when the list is malformed.
    fn views(&self, states: &[&[u8]]) -> Result<Vec<Option<StateView>>, Self::Error> {
        let input = crate::batch::encode_state_list(states.iter().copied());
        let body = open_binary(self.call_binary("batch.view", &input)?)?;
        let out: Value = serde_json::from_slice(&body).map_err(|e| Error::from_json(&e))?;
        let views: Vec<Option<StateView>> = from_value(out.get("views"))?;
        Ok(views)
    }
}

/// The rules compiled into this process: [`crate::wire`] called directly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NativeRules;

impl Rules for NativeRules {
    type Error = Error;

    fn call(&self, op: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(super::call(op, input))
    }

    fn call_binary(&self, op: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(super::call_binary(op, input))
    }
}

/// The `output` of a JSON envelope, or its `error` as an [`Error`].
fn open_json(envelope: &[u8], provider: Option<&str>) -> Result<Value, Error> {
    let mut v: Value = serde_json::from_slice(envelope).map_err(|e| Error::from_json(&e))?;
    if let Some(err) = v.get("error") {
        return Err(ErrorObject::read(err, provider));
    }
    v.get_mut("output")
        .map(Value::take)
        .ok_or_else(|| Error::new(ErrorKind::InvalidValue, "envelope has neither output nor error"))
}

/// The body of a binary envelope, or its error.
fn open_binary(mut envelope: Vec<u8>) -> Result<Vec<u8>, Error> {
    match envelope.first() {
        Some(0) => {
            envelope.remove(0);
            Ok(envelope)
        }
        Some(1) => {
            let obj: Value =
                serde_json::from_slice(&envelope[1..]).map_err(|e| Error::from_json(&e))?;
            Err(ErrorObject::read(&obj, None))
        }
        _ => Err(Error::new(ErrorKind::InvalidValue, "binary envelope has no valid tag byte")),
    }
}

fn from_value<T: DeserializeOwned>(v: Option<&Value>) -> Result<T, Error> {
    T::deserialize(v.unwrap_or(&Value::Null)).map_err(|e| Error::from_json(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Headers;

    #[test]
    fn base64_round_trips_through_the_wire_decoder() {
        for body in [&b""[..], b"a", b"ab", b"abc", b"\xff\x00\xfe\x80"] {
            let input = json!({ "provider": "ndjson", "body_base64": crate::encoding::encode_base64(body) });
            let out = crate::wire::call("normalize", &serde_json::to_vec(&input).unwrap());
            // Not UTF-8 bodies yield a per-line error; UTF-8 ones yield events or nothing.
            assert!(out.starts_with(br#"{"output":"#), "{}", String::from_utf8_lossy(&out));
        }
    }

    #[test]
    fn typed_normalize_rebuilds_element_errors_exactly() {
        let body = b"{\"event_key\":\"k\",\"provider\":\"ses\",\"type\":\"open\",\"provider_type\":\"o\"}\n{\"nope\":1}\n";
        let headers = Headers::new();
        let payload = Payload { body, headers: &headers };
        let direct = crate::normalize(Provider::Ndjson, payload).unwrap();
        let typed = NativeRules.normalize(Provider::Ndjson, payload).unwrap();
        assert_eq!(typed, direct);
    }

    #[test]
    fn envelope_errors_become_err_with_their_code() {
        let err = open_json(&crate::wire::call("nope", b"{}"), None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownOp);
        let err = open_binary(crate::wire::call_binary("batch.fold", b"")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
        assert!(err.message().contains("truncated"), "{err}");
    }
}
