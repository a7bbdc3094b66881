//! The edge's whole decision about one webhook request: verify, normalize, route, and the HTTP
//! status to answer the provider with.
//!
//! Providers retry a webhook when the answer says retrying could help, so the status is part
//! of the rules, not of the worker:
//!
//! | outcome | status | why |
//! |---|---|---|
//! | events stored or routed (some elements may have failed) | 200 | retrying the same bytes gives the same element errors |
//! | a control message (SNS subscription confirmation, ping) | 200 | nothing to store; `confirm_url` says what to visit |
//! | signature or credentials rejected | 401 | a forged or stale request must not be retried into acceptance |
//! | body malformed, not this provider's shape | 400 | the same bytes will fail again |
//! | body too large | 413 | the same bytes will fail again |
//! | provider slug unknown | 404 | no such endpoint |
//! | normalizer or verifier unavailable, verification misconfigured (a configured key that is not a key) | 500 / 501 | retry: the fix is on our side and the provider's retry delivers the event later |
//!
//! The wire op is `webhook`: input `{"provider", "headers"?, "body" | "body_base64",
//! "verify": {…} | null, "policy"?: RoutingPolicy, "seen"?: [event_key]}`. `verify` is
//! required: an object runs the `verify` op with the provider, headers and body added to it;
//! `null` skips verification on purpose (a source authenticated some other way). Output:
//! `{"status", "verified", "error", "routes": {"suppress", "state", "analytics", "drop"},
//! "errors", "control", "confirm_url"}`. Malformed *options* (a bad policy, a missing `verify`)
//! are the caller's bug and come back as a wire error, not as a status.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::error::{Error, ErrorKind};
use crate::{ControlKind, Headers, Payload, Provider, Route, RoutingPolicy, normalize, wire};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookInput {
    provider: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
    /// Required (a missing `Value` field is a `missing_field` error): `null` skips on purpose.
    verify: Value,
    #[serde(default)]
    policy: Option<Box<RawValue>>,
    #[serde(default)]
    seen: Vec<String>,
}

/// The status for an error from the verify step.
fn verify_status(e: &Error) -> u16 {
    // Key material the caller configured (`keys[0]` that is not a key) is our mistake, even
    // though its kind (`bad_encoding`) is one a forged signature header also produces.
    let configured = e.path().is_some_and(|p| p.starts_with("keys") || p.starts_with("secrets"));
    if e.kind().is_authentication() && !configured {
        401
    } else {
        // A bad key or option, or a verifier that has not landed: our side, so let the
        // provider retry once it is fixed.
        500
    }
}

/// The status for an error normalizing the whole payload.
fn normalize_status(e: &Error) -> u16 {
    match e.kind() {
        ErrorKind::UnknownProvider => 404,
        ErrorKind::TooLarge => 413,
        ErrorKind::Unsupported => 501,
        _ => 400,
    }
}

pub(crate) fn handle(i: WebhookInput) -> Result<Value, Error> {
    let policy = match &i.policy {
        Some(p) => RoutingPolicy::from_json(p.get().as_bytes())?,
        None => RoutingPolicy::default(),
    };
    let body = match (&i.body, &i.body_base64) {
        (Some(b), None) => b.clone().into_bytes(),
        (None, Some(b64)) => wire::decode_base64(b64)
            .ok_or_else(|| Error::invalid("body_base64", "not valid base64"))?,
        (None, None) => return Err(Error::missing("body")),
        (Some(_), Some(_)) => {
            return Err(Error::invalid("body", "give body or body_base64, not both"));
        }
    };

    let verified = match &i.verify {
        Value::Null => false,
        Value::Object(options) => {
            if let Err(e) = run_verify(&i, options.clone()) {
                return Ok(refusal(verify_status(&e), &e, false));
            }
            true
        }
        other => {
            return Err(Error::type_mismatch(
                "verify",
                "an object or null",
                crate::providers::type_name(other),
            ));
        }
    };

    let provider: Provider = match i.provider.parse() {
        Ok(p) => p,
        Err(e) => return Ok(refusal(normalize_status(&e), &e, verified)),
    };
    let headers: Headers = i.headers.into_iter().collect();
    let out = match normalize(provider, Payload { body: &body, headers: &headers }) {
        Ok(out) => out,
        Err(e) => return Ok(refusal(normalize_status(&e), &e, verified)),
    };

    let mut routes: BTreeMap<&str, Vec<Value>> =
        [Route::Suppress, Route::State, Route::Analytics, Route::Drop]
            .into_iter()
            .map(|r| (r.as_str(), Vec::new()))
            .collect();
    let mut seen: BTreeSet<String> = i.seen.into_iter().collect();
    for e in &out.events {
        let dup = !seen.insert(e.event_key.clone());
        let route = policy.route(e, dup);
        let event = serde_json::to_value(e).map_err(|err| Error::from_json(&err))?;
        routes.entry(route.as_str()).or_default().push(event);
    }
    let confirm_url = out
        .control
        .as_ref()
        .filter(|c| c.kind == ControlKind::SubscriptionConfirmation)
        .and_then(|c| c.url.clone());
    let errors: Vec<Value> = out.errors.iter().map(wire::error_json).collect();
    Ok(json!({
        "status": 200,
        "verified": verified,
        "error": null,
        "routes": routes,
        "errors": errors,
        "control": out.control,
        "confirm_url": confirm_url,
    }))
}

/// Run the `verify` op with the request added to the caller's options.
fn run_verify(i: &WebhookInput, mut options: Map<String, Value>) -> Result<(), Error> {
    options.insert("provider".into(), Value::from(i.provider.clone()));
    options.insert("headers".into(), json!(i.headers));
    if let Some(b) = &i.body {
        options.insert("body".into(), Value::from(b.clone()));
    }
    if let Some(b) = &i.body_base64 {
        options.insert("body_base64".into(), Value::from(b.clone()));
    }
    let input = serde_json::to_vec(&Value::Object(options)).map_err(|e| Error::from_json(&e))?;
    let answer = wire::dispatch("verify", &input)?;
    // A verifier that reports failure as a value rather than an error is still a failure.
    if answer == Value::Bool(false) || answer.get("valid") == Some(&Value::Bool(false)) {
        return Err(Error::new(ErrorKind::SignatureMismatch, "signature does not match"));
    }
    Ok(())
}

fn refusal(status: u16, e: &Error, verified: bool) -> Value {
    let empty: Vec<Value> = Vec::new();
    json!({
        "status": status,
        "verified": verified,
        "error": wire::error_json(e),
        "routes": {"analytics": empty, "drop": empty, "state": empty, "suppress": empty},
        "errors": empty,
        "control": null,
        "confirm_url": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(input: &Value) -> Value {
        let out = wire::call("webhook", &serde_json::to_vec(input).unwrap());
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn authentication_failures_answer_401_and_configuration_failures_500() {
        for kind in
            [ErrorKind::SignatureMismatch, ErrorKind::StaleTimestamp, ErrorKind::MissingHeader]
        {
            assert_eq!(verify_status(&Error::new(kind, "x")), 401, "{kind}");
        }
        assert_eq!(verify_status(&Error::new(ErrorKind::UnknownOp, "x")), 500);
        assert_eq!(verify_status(&Error::new(ErrorKind::InvalidValue, "x")), 500);
        let bad_key = Error::new(ErrorKind::BadEncoding, "x").with_path("keys[0]");
        assert_eq!(verify_status(&bad_key), 500);
        let bad_header = Error::new(ErrorKind::BadEncoding, "x").with_path("headers");
        assert_eq!(verify_status(&bad_header), 401);
    }

    #[test]
    fn malformed_bodies_answer_4xx_and_missing_normalizers_5xx() {
        assert_eq!(normalize_status(&Error::new(ErrorKind::InvalidJson, "x")), 400);
        assert_eq!(normalize_status(&Error::new(ErrorKind::WrongProvider, "x")), 400);
        assert_eq!(normalize_status(&Error::new(ErrorKind::TypeMismatch, "x")), 400);
        assert_eq!(normalize_status(&Error::new(ErrorKind::TooLarge, "x")), 413);
        assert_eq!(normalize_status(&Error::new(ErrorKind::UnknownProvider, "x")), 404);
        assert_eq!(normalize_status(&Error::new(ErrorKind::Unsupported, "x")), 501);
    }

    #[test]
    fn verify_is_required_so_skipping_it_is_explicit() {
        let out = call(&json!({"provider": "ndjson", "body": ""}));
        assert_eq!(out["error"]["code"], "missing_field", "{out}");
        let out = call(&json!({"provider": "ndjson", "body": "", "verify": true}));
        assert_eq!(out["error"]["code"], "type_mismatch", "{out}");
        let out = call(&json!({"provider": "ndjson", "body": "", "verify": null}));
        assert_eq!(out["output"]["status"], 200, "{out}");
        assert_eq!(out["output"]["verified"], false, "{out}");
    }
}
