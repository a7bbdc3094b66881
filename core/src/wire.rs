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

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, ErrorKind};
use crate::{
    Checkpoint, Event, Headers, KeyScope, Keys, MessageState, Payload, Provider, RoutingPolicy,
    SignedRequest, SuppressionPolicy, SyncOptions, Timestamp, VerifyOptions, event_key,
    normalize_borrowed, plan_sync, reduce, suppressions, verify,
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
        "webhook" => Some(crate::webhook::call_wire(input)),
        "normalize" => Some(normalize_text(input)),
        _ => None,
    };
    if let Some(result) = direct {
        return match result {
            Ok(output) => format!("{{\"output\":{output}}}").into_bytes(),
            Err(e) => envelope_error(&e),
        };
    }
    let envelope = match dispatch(op, input) {
        Ok(output) => json!({ "output": output }),
        Err(e) => json!({ "error": error_json(&e) }),
    };
    serde_json::to_vec(&envelope).unwrap_or_default()
}

fn envelope_error(e: &Error) -> Vec<u8> {
    serde_json::to_vec(&json!({ "error": error_json(e) })).unwrap_or_default()
}

/// Run the binary op `op` (one of [`crate::batch::BINARY_OPS`]) and return its envelope.
///
/// The envelope is one tag byte then the body: `0` and the op's output bytes (see
/// [`crate::batch`] for the layouts), or `1` and the JSON error object
/// `{"code", "message", "path"?}` when the batch as a whole cannot be read. Never panics.
///
/// # Example
/// ```
/// use mailstate_core::{EventBatch, wire};
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
            out.extend_from_slice(&serde_json::to_vec(&error_json(&e)).unwrap_or_default());
            out
        }
    }
}

/// Whether `op` is a binary op (for [`call_binary`]) rather than a JSON op (for [`call`]).
pub fn is_binary(op: &str) -> bool {
    crate::batch::BINARY_OPS.contains(&op)
}

/// Rebuild an error from its wire object (the inverse of [`error_json`]). The `provider` the
/// call was made for, when given, is split back off the message's prefix.
pub(crate) fn error_from_json(obj: &Value, provider: Option<&str>) -> Error {
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

/// An error as the wire shows it: code, message (with provider and line prefix), path, line.
pub fn error_json(e: &Error) -> Value {
    let mut obj = serde_json::Map::new();
    obj.insert("code".into(), Value::from(e.code()));
    obj.insert("message".into(), Value::from(e.to_string()));
    if let Some(p) = e.path() {
        obj.insert("path".into(), Value::from(p));
    }
    if let Some(n) = e.line() {
        obj.insert("line".into(), Value::from(n));
    }
    Value::Object(obj)
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
        "verify" => op_verify(parse(input)?),
        "webhook" => text_value(&crate::webhook::call_wire(input)?),
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
    let i: NormalizeInput = parse(input)?;
    let headers: Headers = i.headers.into_iter().collect();
    let body = body_bytes(i.body, i.body_base64)?;
    let provider: Provider =
        if i.provider == "auto" { crate::detect(&headers, &body)? } else { i.provider.parse()? };
    let out = normalize_borrowed(provider, Payload { body: &body, headers: &headers })?;
    serde_json::to_string(&crate::webhook::SortedNormalized(&out)).map_err(|e| Error::from_json(&e))
}

fn op_verify(i: VerifyInput) -> Result<Value, Error> {
    let provider: Provider = i.provider.parse()?;
    let headers: Headers = i.headers.into_iter().collect();
    let body = body_bytes(i.body, i.body_base64)?;
    let mut keys = Keys::new();
    for s in &i.secrets {
        keys = keys.with_secret(s);
    }
    for (n, k) in i.keys.iter().enumerate() {
        keys = keys.with_public_key(k).map_err(|e| e.with_path(format!("keys[{n}]")))?;
    }
    let now = i
        .now
        .checked_mul(1000)
        .and_then(Timestamp::from_millis)
        .ok_or_else(|| Error::invalid("now", "expected unix seconds within years 1-9999"))?;
    let form: Option<Vec<(String, String)>> = i.form.map(|f| f.into_iter().collect());
    let mut request = SignedRequest::new(&body, &headers);
    if let Some(url) = &i.url {
        request = request.with_url(url);
    }
    if let Some(form) = &form {
        request = request.with_form(form);
    }
    let seen: BTreeSet<String> = i.seen_tokens.into_iter().collect();
    let mut options = VerifyOptions::new().with_seen_tokens(&seen);
    if let Some(t) = i.tolerance_secs {
        options = options.with_tolerance_secs(t);
    }
    if let Some(h) = &i.token_header {
        options = options.with_token_header(h);
    }
    let v = verify(provider, &request, &keys, now, &options)?;
    Ok(json!({
        "valid": true,
        "scheme": v.scheme().as_str(),
        "key_index": v.key_index(),
        "timestamp": v.timestamp(),
        "token": v.token(),
    }))
}

/// The body from `body` (text) or `body_base64` (bytes), exactly one of them.
fn body_bytes(body: Option<String>, body_base64: Option<String>) -> Result<Vec<u8>, Error> {
    match (body, body_base64) {
        (Some(b), None) => Ok(b.into_bytes()),
        (None, Some(b64)) => {
            decode_base64(&b64).ok_or_else(|| Error::invalid("body_base64", "not valid base64"))
        }
        (None, None) => Err(Error::missing("body")),
        (Some(_), Some(_)) => Err(Error::invalid("body", "give body or body_base64, not both")),
    }
}

/// Bodies on the JSON wire may come as base64 (binary or non-UTF-8 bytes): the strict
/// decoder the signature checks use.
pub(crate) use crate::signature::decode_base64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalizeInput {
    provider: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyInput {
    provider: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    form: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    keys: Vec<String>,
    now: i64,
    #[serde(default)]
    tolerance_secs: Option<u32>,
    #[serde(default)]
    seen_tokens: Vec<String>,
    #[serde(default)]
    token_header: Option<String>,
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

/// Deserialize JSON, turning serde's errors into ours with the JSON path of the failure
/// (`expected a string at events[2].recipient, found integer `5``).
pub(crate) fn from_slice_with_path<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // Fast path: plain serde_json (which also rejects trailing characters). Only when it fails
    // is the input parsed again with path tracking, to say exactly where and what.
    let first = match serde_json::from_slice(bytes) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Err(e) => {
            let path = e.path().to_string();
            Err(classify(e.inner(), &path))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn base64_bodies_decode() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert!(decode_base64("a*b").is_none());
    }
}
