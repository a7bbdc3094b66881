//! MailerSend: the `Signature` header is the hex HMAC-SHA256 of the raw body under the
//! webhook's signing secret. There is no timestamp, so no replay window: dedupe on `data.id`.
//! See <https://developers.mailersend.com/api/v1/webhooks.html#security>.

use super::{Keys, Scheme, SignedRequest, Verified};
use crate::error::Error;
use crate::webhook::HeaderName;

const SIGNATURE: &str = "Signature";

/// Every header this check reads (see `super::header_names`).
pub(super) const HEADERS: &[HeaderName] = &[HeaderName::always(SIGNATURE)];

pub(super) fn verify(req: &SignedRequest<'_>, keys: &Keys) -> Result<Verified, Error> {
    super::verify_body_hmac_hex(req, keys, SIGNATURE, Scheme::MailersendHmacSha256)
}
