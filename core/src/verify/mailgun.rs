//! Mailgun: `signature.signature` is the hex HMAC-SHA256 of `timestamp ‖ token` under the
//! HTTP webhook signing key. The body itself is not signed.
//!
//! JSON webhooks carry `{"signature": {"timestamp", "token", "signature"}, "event-data": …}`;
//! legacy webhooks post the three as form fields. `timestamp` is Unix seconds.
//! See <https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks>.
//!
//! # Quirks
//! Within the tolerance a captured request can be replayed as is, since the body is not
//! covered: pass the tokens already accepted ([`super::VerifyOptions::with_seen_tokens`]) and
//! record [`Verified::token`] after accepting. A `parent-signature` (sub-accounts, computed
//! with the parent's key) is not checked: configure the sub-account's own key.

use serde_json::Value;

use super::{Keys, Scheme, SignedRequest, Verified, VerifyOptions, bad_encoding, mismatch};
use crate::Timestamp;
use crate::encoding::decode_hex;
use crate::error::{Error, ErrorKind};
use crate::providers::form::decode_pairs;
use crate::signature::{check_tolerance, ct_eq, hmac_sha256, parse_unix_secs};

/// The three signed fields, as sent.
struct Fields {
    timestamp: String,
    token: String,
    signature: String,
}

pub(super) fn verify(
    req: &SignedRequest<'_>,
    keys: &Keys,
    now: Timestamp,
    opts: &VerifyOptions<'_>,
) -> Result<Verified, Error> {
    let f = fields(req)?;
    let signed_at = parse_unix_secs(&f.timestamp, "signature.timestamp")?;
    let sig = decode_hex(&f.signature)
        .filter(|s| s.len() == 32)
        .ok_or_else(|| bad_encoding("signature.signature", "64 hex digits"))?;
    check_tolerance(signed_at, now, opts.tolerance_secs)?;
    let scheme = Scheme::MailgunHmacSha256;
    let index = keys
        .secrets(scheme)?
        .iter()
        .position(|key| {
            ct_eq(&hmac_sha256(key, &[f.timestamp.as_bytes(), f.token.as_bytes()]), &sig)
        })
        .ok_or_else(|| mismatch(scheme))?;
    if opts.seen.is_some_and(|seen| seen.contains_token(&f.token)) {
        return Err(Error::new(
            ErrorKind::Replay,
            "signature.token was accepted before: the request is a replay",
        ));
    }
    let mut out = Verified::new(scheme, index).at(signed_at);
    out.token = Some(f.token);
    Ok(out)
}

/// The signed fields from the JSON `signature` block, the given form, or a form body.
fn fields(req: &SignedRequest<'_>) -> Result<Fields, Error> {
    let missing = |name: &str| {
        Error::new(ErrorKind::MissingHeader, format!("missing signature field {name}"))
    };
    let form_fields = |form: &[(String, String)]| {
        let get = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| missing(name))
        };
        Ok(Fields {
            timestamp: get("timestamp")?,
            token: get("token")?,
            signature: get("signature")?,
        })
    };
    if let Some(form) = req.form {
        return form_fields(form);
    }
    if let Ok(v) = serde_json::from_slice::<Value>(req.body) {
        let Some(block) = v.get("signature").and_then(Value::as_object) else {
            return Err(missing("signature (an object with timestamp, token and signature)"));
        };
        let text = |name: &str| match block.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            // Some senders and test tools give the timestamp as a JSON number.
            Some(Value::Number(n)) if name == "timestamp" => Ok(n.to_string()),
            Some(_) => Err(bad_encoding(&format!("signature.{name}"), "a string")),
            None => Err(missing(&format!("signature.{name}"))),
        };
        return Ok(Fields {
            timestamp: text("timestamp")?,
            token: text("token")?,
            signature: text("signature")?,
        });
    }
    match decode_pairs(req.body) {
        Ok(form) => form_fields(&form),
        Err(_) => Err(bad_encoding("body", "mailgun json or a form-encoded legacy webhook")),
    }
}
