//! Mailtrap: the `Mailtrap-Signature` header is the lower-case hex HMAC-SHA256 of the raw body
//! (for JSON Lines, newlines included) under the webhook's signing secret as UTF-8 bytes.
//! There is no timestamp, so no replay window: dedupe on `event_id`.
//! See <https://docs.mailtrap.io/email-api-smtp/advanced/webhooks>.

use super::{Keys, Scheme, SignedRequest, Verified};
use crate::error::Error;
use crate::webhook::HeaderName;

const SIGNATURE: &str = "Mailtrap-Signature";

/// Every header this check reads (see `super::header_names`).
pub(super) const HEADERS: &[HeaderName] = &[HeaderName::always(SIGNATURE)];

pub(super) fn verify(req: &SignedRequest<'_>, keys: &Keys) -> Result<Verified, Error> {
    super::verify_body_hmac_hex(req, keys, SIGNATURE, Scheme::MailtrapHmacSha256)
}
