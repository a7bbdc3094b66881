//! The bytes-in, bytes-out boundary every runtime shares: `call(op, input) -> output`.
//!
//! Input and output are JSON. The output is always one object, either
//! `{"output": ...}` or `{"error": {"code": "...", "message": "..."}}`, serialized
//! deterministically (fixed field order, ordered maps), so every runtime that plays the same
//! call gets the same bytes. The wasm plugin, the wasm-bindgen API, the Python host and the
//! conformance vectors all go through here; no rule lives in an adapter.
//!
//! | op | input | output |
//! |---|---|---|
//! | `normalize` | `{"provider" (a slug, or "auto" to detect it), "headers"?: {name: value}, "body"? : string, "body_base64"?: string}` | `{"events": [Event], "errors": [{"code","message","path","line"}], "control": Control \| null}` |
//! | `event_key` | `{"provider", "provider_event_id"?, "provider_type", "message_id"?, "recipient"?, "occurred_at"?, "url"?, "scope"?: "event" \| "per_recipient"}` | string |
//! | `reduce` | `{"events": [Event]}` | `[StateView]`, one per (message_id, recipient), in group order |
//! | `apply` | `{"state"?: MessageState, "events": [Event]}` | `MessageState` |
//! | `merge` | `{"states": [MessageState]}` | `MessageState` |
//! | `view` | `{"state": MessageState}` | `StateView` |
//! | `suppressions` | `{"events": [Event], "policy"?: SuppressionPolicy}` | `[Suppression]` |
//! | `plan_sync` | `{"provider"?: slug, "options"?: SyncOptions, "checkpoint"?: Checkpoint, "now", "since"?, "until"?}` | `SyncPlan` (options default to the provider's) |
//! | `route` | `{"events": [Event], "policy"?: RoutingPolicy, "seen"?: [event_key]}` | `[{"event_key", "route"}]` (a key seen earlier in `seen` or in the batch is a duplicate) |
//! | `webhook` | `{"provider", "headers"?, "body" \| "body_base64", "verify": {…} \| null, "policy"?, "seen"?}` | `{"status", "verified", "error", "routes", "errors", "control", "confirm_url"}` (see `webhook.rs`) |
//! | `types` | anything (ignored; `{}`) | `[{"type", "rank": int \| null, "terminal": bool}]`, the event type table in `EventType::ALL` order |
//! | `verify` | `{"provider", "headers"?, "body" \| "body_base64", "url"?, "form"?: {name: value}, "secrets"?: [string], "keys"?: [string], "now": unix seconds, "tolerance_secs"?, "seen_tokens"?: [string], "token_header"?}` | `{"valid": true, "scheme", "key_index", "timestamp": string \| null, "token": string \| null}`; a rejected request is an error envelope with the reason's code |
//!
//! Binary ops (`batch.fold`, `batch.merge`, `batch.view`, `batch.reduce`) go through [`call_binary`] instead;
//! their layouts are in [`crate::batch`].

mod request;
pub(crate) mod rules;

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use self::request::{NORMALIZE, Request, VERIFY, WEBHOOK};
use crate::error::{Error, ErrorKind};
use crate::json::{ErrorObject, SortedNormalized, from_slice_with_path};
use crate::route::RoutingPolicy;
use crate::suppress::SuppressionPolicy;
use crate::sync::{Checkpoint, SyncOptions, plan_sync};
use crate::verify::verify;
use crate::webhook::handle_webhook;
use crate::{
    Event, Headers, KeyScope, MessageState, Payload, Provider, Timestamp, event_key,
    normalize_borrowed, reduce, suppressions,
};

/// Every op `call` understands.
pub const OPS: [&str; 12] = [
    "normalize",
    "event_key",
    "reduce",
    "apply",
    "merge",
    "view",
    "suppressions",
    "route",
    "plan_sync",
    "verify",
    "webhook",
    "types",
];

/// Run `op` on JSON `input` and return the JSON envelope (see the module docs).
///
/// Never panics on any input; errors come back as `{"error": {...}}`.
///
/// # Example
/// ```
/// let out = mailstate_core::wire::call("reduce", br#"{"events":[]}"#);
/// assert_eq!(out, br#"{"output":[]}"#);
/// let bad = mailstate_core::wire::call("nope", b"{}");
/// assert!(String::from_utf8(bad).unwrap().contains("unknown_op"));
/// ```
pub fn call(op: &str, input: &[u8]) -> Vec<u8> {
    // The two ops on the edge's hot path are serialized straight from their typed results,
    // without a `Value` tree (same bytes: keys in byte order).
    let direct = match op {
        "webhook" => Some(webhook_text(input)),
        "normalize" => Some(normalize_text(input)),
        _ => None,
    };
    if let Some(result) = direct {
        return match result {
            Ok(output) => format!("{{\"output\":{output}}}").into_bytes(),
            Err(e) => error_envelope(&e),
        };
    }
    match dispatch(op, input) {
        Ok(output) => serde_json::to_vec(&json!({ "output": output })).unwrap_or_default(),
        Err(e) => error_envelope(&e),
    }
}

/// The JSON envelope of an error, `{"error": {"code", "line"?, "message", "path"?}}`, as
/// [`call`] answers it: for an adapter that refuses an input before calling (a value its
/// runtime cannot encode), so the refusal reads like every other.
///
/// # Example
/// ```
/// use mailstate_core::{Error, ErrorKind, wire};
/// let e = Error::new(ErrorKind::InvalidJson, "expected value");
/// assert_eq!(wire::error_envelope(&e), br#"{"error":{"code":"invalid_json","message":"expected value"}}"#);
/// ```
pub fn error_envelope(e: &Error) -> Vec<u8> {
    let object = ErrorObject(e).to_vec();
    let mut out = Vec::with_capacity(object.len() + 10);
    out.extend_from_slice(b"{\"error\":");
    out.extend_from_slice(&object);
    out.push(b'}');
    out
}

/// Run the binary op `op` (one of [`crate::batch::BINARY_OPS`]) and return its envelope.
///
/// The envelope is one tag byte then the body: `0` and the op's output bytes (see
/// [`crate::batch`] for the layouts), or `1` and the JSON error object
/// `{"code", "message", "path"?}` when the batch as a whole cannot be read. Never panics.
///
/// # Example
/// ```
/// use mailstate_core::{wire, batch::EventBatch};
/// let out = wire::call_binary("batch.fold", &EventBatch::new(0).encode());
/// assert_eq!(out[0], 0);
/// let bad = wire::call_binary("batch.fold", b"\x07");
/// assert_eq!(bad[0], 1);
/// assert!(String::from_utf8_lossy(&bad[1..]).contains("invalid_value"));
/// ```
pub fn call_binary(op: &str, input: &[u8]) -> Vec<u8> {
    match crate::batch::dispatch(op, input) {
        Ok(body) => {
            let mut out = Vec::with_capacity(body.len() + 1);
            out.push(0);
            out.extend_from_slice(&body);
            out
        }
        Err(e) => {
            let mut out = vec![1];
            out.extend_from_slice(&ErrorObject(&e).to_vec());
            out
        }
    }
}

/// Whether `op` is a binary op (for [`call_binary`]) rather than a JSON op (for [`call`]).
pub fn is_binary(op: &str) -> bool {
    crate::batch::BINARY_OPS.contains(&op)
}

/// The event type table, in `EventType::ALL` order.
fn op_types() -> Value {
    crate::EventType::ALL
        .iter()
        .map(|t| json!({ "type": t.as_str(), "rank": t.rank(), "terminal": t.is_terminal() }))
        .collect()
}

pub(crate) fn dispatch(op: &str, input: &[u8]) -> Result<Value, Error> {
    match op {
        "normalize" => text_value(&normalize_text(input)?),
        "event_key" => {
            let k: KeyInput = parse(input)?;
            let mut e = Event::new(k.provider, crate::EventType::Unknown);
            e.provider_event_id = k.provider_event_id;
            e.provider_type = k.provider_type;
            e.message_id = k.message_id;
            e.recipient = k.recipient;
            e.occurred_at = k.occurred_at;
            e.url = k.url;
            let scope = match k.scope.as_deref() {
                None | Some("event") => KeyScope::Event,
                Some("per_recipient") => KeyScope::PerRecipient,
                Some(other) => {
                    return Err(Error::invalid(
                        "scope",
                        format!("expected \"event\" or \"per_recipient\", found {other:?}"),
                    ));
                }
            };
            Ok(Value::from(event_key(&e, scope)))
        }
        "reduce" => {
            let i: EventsInput = parse(input)?;
            let views: Vec<_> = reduce(&i.events).iter().map(MessageState::view).collect();
            to_value(&views)
        }
        "apply" => {
            let i: ApplyInput = parse(input)?;
            let mut s = i.state.unwrap_or_default();
            for e in &i.events {
                s.apply(e);
            }
            to_value(&s)
        }
        "merge" => {
            let i: MergeInput = parse(input)?;
            let mut s = MessageState::default();
            for other in &i.states {
                s.merge(other);
            }
            to_value(&s)
        }
        "view" => {
            let i: ViewInput = parse(input)?;
            to_value(&i.state.view())
        }
        "suppressions" => {
            let i: SuppressionsInput = parse(input)?;
            let policy = match i.policy {
                Some(p) => SuppressionPolicy::from_json(p.get().as_bytes())?,
                None => SuppressionPolicy::default(),
            };
            to_value(&suppressions(&i.events, &policy))
        }
        "route" => {
            let i: RouteInput = parse(input)?;
            let policy = match i.policy {
                Some(p) => RoutingPolicy::from_json(p.get().as_bytes())?,
                None => RoutingPolicy::default(),
            };
            let mut seen: BTreeSet<String> = i.seen.into_iter().collect();
            let routes: Vec<Value> = i
                .events
                .iter()
                .map(|e| {
                    let dup = !seen.insert(e.event_key.clone());
                    json!({ "event_key": e.event_key, "route": policy.route(e, dup) })
                })
                .collect();
            Ok(Value::Array(routes))
        }
        "plan_sync" => {
            let i: PlanInput = parse(input)?;
            let options = match (i.options, i.provider) {
                (Some(o), _) => o,
                (None, Some(p)) => {
                    let provider: Provider = p.parse()?;
                    SyncOptions::for_provider(provider).ok_or_else(|| {
                        Error::new(
                            ErrorKind::Unsupported,
                            format!("{provider} has no pull API mailstate knows; give options"),
                        )
                    })?
                }
                (None, None) => return Err(Error::missing("options")),
            };
            let plan = plan_sync(&options, &i.checkpoint, i.now, i.since, i.until)?;
            to_value(&plan)
        }
        "verify" => op_verify(input),
        "webhook" => text_value(&webhook_text(input)?),
        "types" => Ok(op_types()),
        other => Err(Error::new(
            ErrorKind::UnknownOp,
            format!("unknown op {other:?}, expected one of {}", OPS.join(", ")),
        )),
    }
}

/// An op's output text as a `Value` (for [`dispatch`]'s callers).
fn text_value(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::from_json(&e))
}

/// The `normalize` op's output as JSON text: `{"control", "errors", "events"}`, every object's
/// keys in byte order, from borrowed events.
fn normalize_text(input: &[u8]) -> Result<String, Error> {
    let mut i = Request::read(&NORMALIZE, input)?;
    let headers: Headers = std::mem::take(&mut i.headers).into_iter().collect();
    let body = i.take_body()?;
    let provider: Provider =
        if i.provider == "auto" { crate::detect(&headers, &body)? } else { i.provider.parse()? };
    let out = normalize_borrowed(provider, Payload { body: &body, headers: &headers })?;
    serde_json::to_string(&SortedNormalized(&out)).map_err(|e| Error::from_json(&e))
}

/// The `webhook` op's output as JSON text: read the input, run [`handle_webhook`].
fn webhook_text(input: &[u8]) -> Result<String, Error> {
    let mut i = Request::read(&WEBHOOK, input)?;
    let policy = i.policy()?;
    let body = i.take_body()?;
    let options = i.webhook_options(policy)?;
    let headers: Headers = std::mem::take(&mut i.headers).into_iter().collect();
    Ok(handle_webhook(&i.provider, &headers, &body, &options).to_json())
}

fn op_verify(input: &[u8]) -> Result<Value, Error> {
    let mut i = Request::read(&VERIFY, input)?;
    let provider: Provider = i.provider.parse()?;
    let headers: Headers = std::mem::take(&mut i.headers).into_iter().collect();
    let body = i.take_body()?;
    let v = i.verify_settings().with_inputs(provider, &headers, &body, verify)?;
    Ok(json!({
        "valid": true,
        "scheme": v.scheme().as_str(),
        "key_index": v.key_index(),
        "timestamp": v.timestamp(),
        "token": v.token(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyInput {
    provider: String,
    #[serde(default)]
    provider_event_id: Option<String>,
    provider_type: String,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    recipient: Option<String>,
    #[serde(default)]
    occurred_at: Option<Timestamp>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsInput {
    events: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyInput {
    #[serde(default)]
    state: Option<MessageState>,
    events: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeInput {
    states: Vec<MessageState>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ViewInput {
    state: MessageState,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppressionsInput {
    events: Vec<Event>,
    #[serde(default)]
    policy: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteInput {
    events: Vec<Event>,
    #[serde(default)]
    policy: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    seen: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanInput {
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    options: Option<SyncOptions>,
    #[serde(default)]
    checkpoint: Checkpoint,
    now: Timestamp,
    #[serde(default)]
    since: Option<Timestamp>,
    #[serde(default)]
    until: Option<Timestamp>,
}

fn parse<T: DeserializeOwned>(input: &[u8]) -> Result<T, Error> {
    from_slice_with_path(input)
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::from_json(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_json(op: &str, input: &Value) -> Value {
        serde_json::from_slice(&call(op, &serde_json::to_vec(input).unwrap())).unwrap()
    }

    #[test]
    fn verify_is_required_so_skipping_it_is_explicit() {
        let out = call_json("webhook", &json!({"provider": "ndjson", "body": ""}));
        assert_eq!(out["error"]["code"], "missing_field", "{out}");
        let out = call_json("webhook", &json!({"provider": "ndjson", "body": "", "verify": true}));
        assert_eq!(out["error"]["code"], "type_mismatch", "{out}");
        let out = call_json("webhook", &json!({"provider": "ndjson", "body": "", "verify": null}));
        assert_eq!(out["output"]["status"], 200, "{out}");
        assert_eq!(out["output"]["verified"], false, "{out}");
    }

    #[test]
    fn every_error_answers_in_one_envelope_shape() {
        let e = Error::missing("$[2].event").with_provider("sendgrid").with_line(3);
        let text = error_envelope(&e);
        let v: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(serde_json::to_vec(&v).unwrap(), text, "keys in byte order");
        let binary = call_binary("batch.nope", b"");
        assert_eq!(binary[0], 1);
        let object: Value = serde_json::from_slice(&binary[1..]).unwrap();
        assert_eq!(object["code"], "unknown_op");
    }
}
