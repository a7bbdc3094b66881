//! SendGrid's Signed Event Webhook: ECDSA P-256 with SHA-256 over the timestamp header's
//! text immediately followed by the raw body, no separator.
//!
//! Headers: `X-Twilio-Email-Event-Webhook-Signature` (base64 of the DER `(r, s)` signature)
//! and `X-Twilio-Email-Event-Webhook-Timestamp` (Unix seconds). The key is the account's (or
//! the webhook configuration's) verification key, shown as base64 DER SubjectPublicKeyInfo.
//! See <https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features>.
//!
//! Every rule lives in [`prepare`]; the signature math runs either here ([`verify`]) or in
//! the host's own crypto ([`super::HostCheck`]), whose answer [`Prepared::with_verdict`] reads.
//!
//! # Quirks
//! SendGrid documents no replay window and retries for up to 24 h; see the tolerance note in
//! the parent module.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::{
    HostAlgorithm, HostCheck, HostVerdict, Keys, Scheme, SignedRequest, Verified, VerifyOptions,
    bad_encoding, mismatch,
};
use crate::Timestamp;
use crate::encoding::decode_base64;
use crate::error::Error;
use crate::signature::{PublicKey, check_tolerance, parse_unix_secs};
use crate::webhook::HeaderName;

const SIGNATURE: &str = "X-Twilio-Email-Event-Webhook-Signature";
const TIMESTAMP: &str = "X-Twilio-Email-Event-Webhook-Timestamp";

/// Every header this check reads (see `super::header_names`).
pub(super) const HEADERS: &[HeaderName] =
    &[HeaderName::always(SIGNATURE), HeaderName::always(TIMESTAMP)];

/// A request that passed every check but the signature math.
pub(super) struct Prepared<'a, 'k> {
    /// The P-256 keys among the configured ones, with their index.
    keys: Vec<(usize, &'k VerifyingKey)>,
    sig: Signature,
    /// The timestamp header's text: the first part of the signed message.
    ts_text: &'a str,
    body: &'a [u8],
    signed_at: Timestamp,
}

/// Headers present and well-formed, signature DER-decoded, time within tolerance, a P-256
/// key configured: everything but the signature math, in the order `verify` reports them.
pub(super) fn prepare<'a, 'k>(
    req: &SignedRequest<'a>,
    keys: &'k Keys,
    now: Timestamp,
    opts: &VerifyOptions<'_>,
) -> Result<Prepared<'a, 'k>, Error> {
    let sig_text = req.header(SIGNATURE)?;
    let ts_text = req.header(TIMESTAMP)?;
    let signed_at = parse_unix_secs(ts_text, TIMESTAMP)?;
    let der = decode_base64(sig_text.trim()).ok_or_else(|| bad_encoding(SIGNATURE, "base64"))?;
    let sig = Signature::from_der(&der)
        .map_err(|_| bad_encoding(SIGNATURE, "a der-encoded ecdsa p-256 signature"))?;
    check_tolerance(signed_at, now, opts.tolerance_secs)?;
    let keys = keys.public("ecdsa p-256", |k| match k {
        PublicKey::P256(k) => Some(k),
        PublicKey::Rsa(_) | PublicKey::Ed25519(_) => None,
    })?;
    Ok(Prepared { keys, sig, ts_text, body: req.body, signed_at })
}

pub(super) fn verify(
    req: &SignedRequest<'_>,
    keys: &Keys,
    now: Timestamp,
    opts: &VerifyOptions<'_>,
) -> Result<Verified, Error> {
    let p = prepare(req, keys, now, opts)?;
    let digest = Sha256::new().chain_update(p.ts_text.as_bytes()).chain_update(p.body).finalize();
    p.keys
        .iter()
        .find(|(_, k)| k.verify_prehash(&digest, &p.sig).is_ok())
        .map(|&(i, _)| Verified::new(Scheme::SendgridEcdsa, i).at(p.signed_at))
        .ok_or_else(|| mismatch(Scheme::SendgridEcdsa))
}

impl Prepared<'_, '_> {
    /// The signature math in the form WebCrypto takes: raw keys, `r ‖ s`, the signed bytes.
    pub(super) fn host_check(&self) -> HostCheck {
        let mut message = Vec::with_capacity(self.ts_text.len() + self.body.len());
        message.extend_from_slice(self.ts_text.as_bytes());
        message.extend_from_slice(self.body);
        HostCheck {
            scheme: Scheme::SendgridEcdsa,
            algorithm: HostAlgorithm::EcdsaP256Sha256,
            keys: self
                .keys
                .iter()
                .map(|&(i, k)| (i, k.to_sec1_point(false).as_bytes().to_vec()))
                .collect(),
            signature: self.sig.to_bytes().to_vec(),
            message,
        }
    }

    /// The answer of the host's crypto to [`Prepared::host_check`].
    pub(super) fn with_verdict(&self, verdict: HostVerdict) -> Result<Verified, Error> {
        let candidates: Vec<usize> = self.keys.iter().map(|&(i, _)| i).collect();
        super::take_verdict(Scheme::SendgridEcdsa, &candidates, verdict)
            .map(|i| Verified::new(Scheme::SendgridEcdsa, i).at(self.signed_at))
    }
}
