//! Postal: an RSA PKCS#1 v1.5 signature over the raw body with the server's key, base64 in
//! `X-Postal-Signature-256` (SHA-256, newer servers) and `X-Postal-Signature` (SHA-1).
//!
//! The public key is the one the Postal server shows (its DNS TXT record `p=…` or PEM). The
//! body's `timestamp` is the event time and stays the same on retries, so it is not a replay
//! window; dedupe on `uuid`.
//!
//! The RSA check itself ([`RsaPrepared`]) is shared with SNS (`ses.rs`): every rule runs in
//! `prepare`, and the math either here or in the host's own crypto.
//!
//! # Quirks
//! When the SHA-256 header is present it is the only one checked: falling back to SHA-1
//! after a SHA-256 failure would let a forger downgrade by sending a bad SHA-256 header.

use std::borrow::Cow;

use rsa::pkcs8::EncodePublicKey;
use rsa::{Pkcs1v15Sign, PublicKey as RsaKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{
    HostAlgorithm, HostCheck, HostVerdict, Keys, Scheme, SignedRequest, Verified, bad_encoding,
    mismatch,
};
use crate::Timestamp;
use crate::encoding::decode_base64;
use crate::error::{Error, ErrorKind};
use crate::signature::PublicKey;
use crate::webhook::HeaderName;

const SIGNATURE_256: &str = "X-Postal-Signature-256";
const SIGNATURE_SHA1: &str = "X-Postal-Signature";

/// Every header this check reads (see `super::header_names`).
pub(super) const HEADERS: &[HeaderName] =
    &[HeaderName::always(SIGNATURE_256), HeaderName::always(SIGNATURE_SHA1)];

/// Which header to check, its signature decoded, an RSA key configured: every rule but the
/// math, in the order `verify` reports them.
pub(super) fn prepare<'a, 'k>(
    req: &SignedRequest<'a>,
    keys: &'k Keys,
) -> Result<RsaPrepared<'a, 'k>, Error> {
    let (header, scheme, value) = if let Some(v) = req.headers.get(SIGNATURE_256) {
        (SIGNATURE_256, Scheme::PostalRsaSha256, v)
    } else if let Some(v) = req.headers.get(SIGNATURE_SHA1) {
        (SIGNATURE_SHA1, Scheme::PostalRsaSha1, v)
    } else {
        return Err(Error::new(
            ErrorKind::MissingHeader,
            format!("missing header {SIGNATURE_256} (or {SIGNATURE_SHA1})"),
        ));
    };
    let sig = decode_base64(value.trim()).ok_or_else(|| bad_encoding(header, "base64"))?;
    let keys = keys.public("rsa", rsa_key)?;
    let sha256 = scheme == Scheme::PostalRsaSha256;
    Ok(RsaPrepared { scheme, sha256, keys, sig, message: Cow::Borrowed(req.body), signed_at: None })
}

pub(super) fn verify(req: &SignedRequest<'_>, keys: &Keys) -> Result<Verified, Error> {
    prepare(req, keys)?.verify()
}

/// The RSA keys among the configured public keys.
pub(super) fn rsa_key(k: &PublicKey) -> Option<&RsaKey> {
    match k {
        PublicKey::Rsa(k) => Some(k),
        PublicKey::P256(_) | PublicKey::Ed25519(_) => None,
    }
}

/// An RSA PKCS#1 v1.5 check that passed every rule but the math.
pub(super) struct RsaPrepared<'a, 'k> {
    pub(super) scheme: Scheme,
    /// SHA-256, else SHA-1.
    pub(super) sha256: bool,
    /// The RSA keys among the configured ones, with their index.
    pub(super) keys: Vec<(usize, &'k RsaKey)>,
    pub(super) sig: Vec<u8>,
    /// The signed bytes.
    pub(super) message: Cow<'a, [u8]>,
    pub(super) signed_at: Option<Timestamp>,
}

impl RsaPrepared<'_, '_> {
    fn accepted(&self, key_index: usize) -> Verified {
        let v = Verified::new(self.scheme, key_index);
        match self.signed_at {
            Some(t) => v.at(t),
            None => v,
        }
    }

    /// The math, here.
    pub(super) fn verify(&self) -> Result<Verified, Error> {
        let found = if self.sha256 {
            let hash = Sha256::digest(&self.message);
            self.keys
                .iter()
                .find(|(_, k)| k.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &self.sig).is_ok())
        } else {
            let hash = Sha1::digest(&self.message);
            self.keys
                .iter()
                .find(|(_, k)| k.verify(Pkcs1v15Sign::new::<Sha1>(), &hash, &self.sig).is_ok())
        };
        found.map(|&(i, _)| self.accepted(i)).ok_or_else(|| mismatch(self.scheme))
    }

    /// The math in the form WebCrypto takes (`RSASSA-PKCS1-v1_5`, keys as DER
    /// SubjectPublicKeyInfo), or `None` if a key cannot be encoded so (then core does it).
    pub(super) fn host_check(&self) -> Option<HostCheck> {
        let keys = self
            .keys
            .iter()
            .map(|&(i, k)| Some((i, k.to_public_key_der().ok()?.into_vec())))
            .collect::<Option<Vec<_>>>()?;
        Some(HostCheck {
            scheme: self.scheme,
            algorithm: if self.sha256 {
                HostAlgorithm::RsaPkcs1v15Sha256
            } else {
                HostAlgorithm::RsaPkcs1v15Sha1
            },
            keys,
            signature: self.sig.clone(),
            message: self.message.to_vec(),
        })
    }

    /// The answer of the host's crypto to [`RsaPrepared::host_check`].
    pub(super) fn with_verdict(&self, verdict: HostVerdict) -> Result<Verified, Error> {
        let candidates: Vec<usize> = self.keys.iter().map(|&(i, _)| i).collect();
        super::take_verdict(self.scheme, &candidates, verdict).map(|i| self.accepted(i))
    }
}
