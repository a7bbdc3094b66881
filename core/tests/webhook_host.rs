//! What a host that reads less, or computes the signature math itself, must still get: the
//! answer core gives alone, on every vector.
//!
//! - Reading only the headers `WebhookOptions::header_names` lists gives the outcome reading
//!   every header gives, for every signature, normalize and webhook vector (a name missing
//!   from a list would silently fail a verification, or lose an event id).
//! - Every signature vector played as a webhook with the signature math done by a test host
//!   (ECDSA and RSA as WebCrypto runs them) gives core's own answer.

#![expect(
    clippy::disallowed_methods,
    reason = "a test reads the vector files; core itself does no I/O"
)]

use std::path::{Path, PathBuf};

use mailstate_core::verify::{HostAlgorithm, HostCheck, HostVerdict};
use mailstate_core::webhook::{
    WebhookOptions, handle_webhook, handle_webhook_with_host, webhook_host_check,
};
use mailstate_core::{Headers, wire};
use serde_json::{Map, Value};

/// Every vector file under `tests/vectors/<area>`, sorted.
fn vectors(area: &str) -> Vec<(PathBuf, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors").join(area);
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let v = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (p, v)
        })
        .collect()
}

/// A vector as a `webhook` op input: a webhook vector's own, a `verify` vector's request with
/// its other fields as the `verify` options, a `normalize` vector's with `verify: null`.
/// `None` for other ops and for provider detection (`auto`), which the webhook op does not do.
fn as_webhook(v: &Value) -> Option<Map<String, Value>> {
    let mut input = v["input"].as_object()?.clone();
    if input.get("provider").and_then(Value::as_str) == Some("auto") {
        return None;
    }
    match v["op"].as_str()? {
        "webhook" => Some(input),
        "normalize" => {
            input.insert("verify".to_owned(), Value::Null);
            Some(input)
        }
        "verify" => {
            let mut request = Map::new();
            for name in ["provider", "headers", "body", "body_base64"] {
                if let Some(value) = input.remove(name) {
                    request.insert(name.to_owned(), value);
                }
            }
            request.insert("verify".to_owned(), Value::Object(input));
            Some(request)
        }
        _ => None,
    }
}

/// The webhook options of an input (`verify`, `policy`, `seen`), read as the op reads them.
fn options(input: &Map<String, Value>) -> Option<WebhookOptions> {
    let opts: Map<String, Value> = input
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "verify" | "policy" | "seen"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    WebhookOptions::from_json(Value::Object(opts).to_string().as_bytes()).ok()
}

fn headers(input: &Map<String, Value>) -> Headers {
    input
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// The body as bytes; `None` for a `body_base64` one (two vectors, neither with a host form;
/// the op itself still plays them).
fn body(input: &Map<String, Value>) -> Option<Vec<u8>> {
    match (input.get("body"), input.get("body_base64")) {
        (_, Some(_)) => None,
        (Some(Value::String(s)), None) => Some(s.clone().into_bytes()),
        _ => Some(Vec::new()),
    }
}

#[test]
fn the_headers_a_call_reads_give_the_answer_every_header_gives() {
    let mut compared = 0;
    let mut dropped = 0;
    for area in ["signature", "normalize", "webhook"] {
        for (path, v) in vectors(area) {
            let Some(input) = as_webhook(&v) else { continue };
            let Some(opts) = options(&input) else { continue };
            let provider = input.get("provider").and_then(Value::as_str).unwrap_or_default();
            let Some(names) = opts.header_names(provider) else { continue };
            for (i, n) in names.iter().enumerate() {
                let name = n.as_str();
                assert_eq!(name, name.to_ascii_lowercase(), "{}: {name}", path.display());
                // A condition is read before the names it rules.
                if let Some(u) = n.unless() {
                    assert!(
                        names[..i].iter().any(|m| m.as_str() == u && m.unless().is_none())
                            || names.iter().all(|m| m.as_str() != u),
                        "{}: {name} unless {u}",
                        path.display()
                    );
                }
            }
            let Some(Value::Object(all)) = input.get("headers") else { continue };
            // As a host reads them: in order, skipping a name whose condition it found.
            let mut kept = Map::new();
            for n in &names {
                if n.unless().is_some_and(|u| kept.keys().any(|k| k.eq_ignore_ascii_case(u))) {
                    continue;
                }
                for (k, v) in all.iter().filter(|(k, _)| k.eq_ignore_ascii_case(n.as_str())) {
                    kept.insert(k.clone(), v.clone());
                }
            }
            dropped += all.len() - kept.len();
            let mut subset = input.clone();
            subset.insert("headers".to_owned(), Value::Object(kept));
            let full = wire::call("webhook", Value::Object(input.clone()).to_string().as_bytes());
            let read = wire::call("webhook", Value::Object(subset.clone()).to_string().as_bytes());
            assert_eq!(
                String::from_utf8_lossy(&read),
                String::from_utf8_lossy(&full),
                "{}: reading only {names:?}",
                path.display()
            );
            // The host's share of the work is the same too.
            let (h, s) = (headers(&input), headers(&subset));
            let Some(b) = body(&input) else { continue };
            assert_eq!(
                webhook_host_check(provider, &s, &b, &opts),
                webhook_host_check(provider, &h, &b, &opts),
                "{}",
                path.display()
            );
            compared += 1;
        }
    }
    assert!(compared > 500, "only {compared} vectors compared");
    assert!(dropped > 10, "only {dropped} headers left unread: the comparison proves little");
}

/// The signature math of `check` as WebCrypto runs it: the first key under which the
/// signature verifies.
fn host_answer(check: &HostCheck) -> HostVerdict {
    use p256::ecdsa::signature::Verifier;
    let verifies = |key: &[u8]| -> bool {
        let sig = check.signature();
        let message = check.message();
        match check.algorithm() {
            HostAlgorithm::EcdsaP256Sha256 => {
                let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(key).unwrap();
                p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(message, &s).is_ok())
            }
            HostAlgorithm::RsaPkcs1v15Sha256 | HostAlgorithm::RsaPkcs1v15Sha1 => {
                use rsa::pkcs8::DecodePublicKey;
                use rsa::{Pkcs1v15Sign, PublicKey};
                use sha2::Digest;
                let k = PublicKey::from_public_key_der(key).unwrap();
                if check.algorithm() == HostAlgorithm::RsaPkcs1v15Sha256 {
                    let h = sha2::Sha256::digest(message);
                    k.verify(Pkcs1v15Sign::new::<sha2::Sha256>(), &h, sig).is_ok()
                } else {
                    let h = sha1::Sha1::digest(message);
                    k.verify(Pkcs1v15Sign::new::<sha1::Sha1>(), &h, sig).is_ok()
                }
            }
            other => panic!("no test host for {other:?}"),
        }
    };
    check
        .keys()
        .iter()
        .find(|(_, key)| verifies(key))
        .map_or(HostVerdict::Rejected, |&(i, _)| HostVerdict::Accepted(i))
}

#[test]
fn host_verdicts_give_core_answers_on_every_signature_vector() {
    let mut played = 0;
    for (path, v) in vectors("signature") {
        let Some(input) = as_webhook(&v) else { continue };
        let Some(opts) = options(&input) else { continue };
        let provider = input["provider"].as_str().unwrap();
        let headers = headers(&input);
        let Some(body) = body(&input) else { continue };
        let core = handle_webhook(provider, &headers, &body, &opts);
        let Some(check) = webhook_host_check(provider, &headers, &body, &opts) else {
            // No host form, or a rule failed before the math: a verdict changes nothing.
            for verdict in [HostVerdict::Accepted(0), HostVerdict::Rejected] {
                let host = handle_webhook_with_host(provider, &headers, &body, &opts, verdict);
                assert_eq!(host, core, "{}", path.display());
            }
            continue;
        };
        let host = handle_webhook_with_host(provider, &headers, &body, &opts, host_answer(&check));
        assert_eq!(host, core, "{}", path.display());
        // Only the math is the host's: a host that says no is a signature mismatch, and one
        // that names a key it was not given is refused.
        let no = handle_webhook_with_host(provider, &headers, &body, &opts, HostVerdict::Rejected);
        if core.verified() {
            assert_eq!(no.error().unwrap().code(), "signature_mismatch", "{}", path.display());
        }
        let stranger = HostVerdict::Accepted(usize::MAX);
        let odd = handle_webhook_with_host(provider, &headers, &body, &opts, stranger);
        assert_eq!(odd.error().unwrap().code(), "invalid_value", "{}", path.display());
        played += 1;
    }
    assert!(played > 40, "only {played} vectors had a host check");
}
