//! Mailtrap: the `Mailtrap-Signature` header is the lower-case hex HMAC-SHA256 of the raw body
//! (for JSON Lines, newlines included) under the webhook's signing secret as UTF-8 bytes.
//! There is no timestamp, so no replay window: dedupe on `event_id`.
//! See <https://docs.mailtrap.io/email-api-smtp/advanced/webhooks>.

use super::{Keys, Scheme, SignedRequest, Verified, bad_encoding, mismatch};
use crate::encoding::decode_hex;
use crate::error::Error;
use crate::signature::{ct_eq, hmac_sha256};
use crate::webhook::HeaderName;

const SIGNATURE: &str = "Mailtrap-Signature";

/// Every header this check reads (see `super::header_names`).
pub(super) const HEADERS: &[HeaderName] = &[HeaderName::always(SIGNATURE)];

pub(super) fn verify(req: &SignedRequest<'_>, keys: &Keys) -> Result<Verified, Error> {
    let sig = req.header(SIGNATURE)?;
    let sig = decode_hex(sig.trim())
        .filter(|s| s.len() == 32)
        .ok_or_else(|| bad_encoding(SIGNATURE, "64 hex digits"))?;
    let scheme = Scheme::MailtrapHmacSha256;
    keys.secrets(scheme)?
        .iter()
        .position(|key| ct_eq(&hmac_sha256(key, &[req.body]), &sig))
        .map(|i| Verified::new(scheme, i))
        .ok_or_else(|| mismatch(scheme))
}
