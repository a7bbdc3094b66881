//! SendGrid's Signed Event Webhook: ECDSA P-256 with SHA-256 over the timestamp header's
//! text immediately followed by the raw body, no separator.
//!
//! Headers: `X-Twilio-Email-Event-Webhook-Signature` (base64 of the DER `(r, s)` signature)
//! and `X-Twilio-Email-Event-Webhook-Timestamp` (Unix seconds). The key is the account's (or
//! the webhook configuration's) verification key, shown as base64 DER SubjectPublicKeyInfo.
//! See <https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features>.
//!
//! # Quirks
//! SendGrid documents no replay window and retries for up to 24 h; see the tolerance note in
//! the parent module.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::{Keys, Scheme, SignedRequest, Verified, VerifyOptions, bad_encoding, mismatch};
use crate::Timestamp;
use crate::error::Error;
use crate::signature::{PublicKey, check_tolerance, decode_base64, parse_unix_secs};

const SIGNATURE: &str = "X-Twilio-Email-Event-Webhook-Signature";
const TIMESTAMP: &str = "X-Twilio-Email-Event-Webhook-Timestamp";

pub(super) fn verify(
    req: &SignedRequest<'_>,
    keys: &Keys,
    now: Timestamp,
    opts: &VerifyOptions<'_>,
) -> Result<Verified, Error> {
    let sig_text = req.header(SIGNATURE)?;
    let ts_text = req.header(TIMESTAMP)?;
    let signed_at = parse_unix_secs(ts_text, TIMESTAMP)?;
    let der = decode_base64(sig_text.trim()).ok_or_else(|| bad_encoding(SIGNATURE, "base64"))?;
    let sig = Signature::from_der(&der)
        .map_err(|_| bad_encoding(SIGNATURE, "a der-encoded ecdsa p-256 signature"))?;
    check_tolerance(signed_at, now, opts.tolerance_secs)?;
    let keys = keys.public("ecdsa p-256", |k| match k {
        PublicKey::P256(k) => Some(k),
        PublicKey::Rsa(_) => None,
    })?;
    let digest = Sha256::new().chain_update(ts_text.as_bytes()).chain_update(req.body).finalize();
    keys.into_iter()
        .find(|(_, k): &(usize, &VerifyingKey)| k.verify_prehash(&digest, &sig).is_ok())
        .map(|(i, _)| Verified::new(Scheme::SendgridEcdsa, i).at(signed_at))
        .ok_or_else(|| mismatch(Scheme::SendgridEcdsa))
}
