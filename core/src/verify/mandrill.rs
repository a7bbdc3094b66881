//! Mandrill (Mailchimp Transactional): `X-Mandrill-Signature` is the base64 HMAC-SHA1, under
//! the webhook key, of the webhook URL exactly as configured followed by each POST parameter
//! (sorted by name) as name then value, values decoded.
//! See <https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/#authenticating-webhook-requests>.
//!
//! # Quirks
//! There is no timestamp, so no replay window; dedupe on the events. A proxy that rewrites the
//! URL (http to https, another host) breaks the signature: give the URL configured at
//! Mandrill, not the one the request arrived on.

use super::{Keys, Scheme, SignedRequest, Verified, bad_encoding, mismatch};
use crate::encoding::decode_base64;
use crate::error::Error;
use crate::providers::form::decode_pairs;
use crate::signature::{ct_eq, hmac_sha1};
use crate::webhook::HeaderName;

const SIGNATURE: &str = "X-Mandrill-Signature";

/// Every header this check reads (see `super::header_names`).
pub(super) const HEADERS: &[HeaderName] = &[HeaderName::always(SIGNATURE)];

pub(super) fn verify(req: &SignedRequest<'_>, keys: &Keys) -> Result<Verified, Error> {
    let sig = req.header(SIGNATURE)?;
    let sig = decode_base64(sig.trim())
        .filter(|s| s.len() == 20)
        .ok_or_else(|| bad_encoding(SIGNATURE, "the base64 of a 20-byte hmac-sha1"))?;
    let url = req.url.ok_or_else(|| Error::missing("url"))?;
    let parsed;
    let form = if let Some(f) = req.form {
        f
    } else {
        parsed = decode_pairs(req.body).map_err(|_| bad_encoding("body", "form-encoded"))?;
        &parsed
    };
    let mut sorted: Vec<&(String, String)> = form.iter().collect();
    // Stable: repeated names keep their order.
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut parts: Vec<&[u8]> = vec![url.as_bytes()];
    for (k, v) in sorted {
        parts.push(k.as_bytes());
        parts.push(v.as_bytes());
    }
    let scheme = Scheme::MandrillHmacSha1;
    keys.secrets(scheme)?
        .iter()
        .position(|key| ct_eq(&hmac_sha1(key, &parts), &sig))
        .map(|i| Verified::new(scheme, i))
        .ok_or_else(|| mismatch(scheme))
}
