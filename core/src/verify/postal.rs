//! Postal: an RSA PKCS#1 v1.5 signature over the raw body with the server's key, base64 in
//! `X-Postal-Signature-256` (SHA-256, newer servers) and `X-Postal-Signature` (SHA-1).
//!
//! The public key is the one the Postal server shows (its DNS TXT record `p=…` or PEM). The
//! body's `timestamp` is the event time and stays the same on retries, so it is not a replay
//! window; dedupe on `uuid`.
//!
//! # Quirks
//! When the SHA-256 header is present it is the only one checked: falling back to SHA-1
//! after a SHA-256 failure would let a forger downgrade by sending a bad SHA-256 header.

use rsa::{Pkcs1v15Sign, PublicKey as RsaKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{Keys, Scheme, SignedRequest, Verified, bad_encoding, mismatch};
use crate::error::{Error, ErrorKind};
use crate::signature::{PublicKey, decode_base64};

const SIGNATURE_256: &str = "X-Postal-Signature-256";
const SIGNATURE_SHA1: &str = "X-Postal-Signature";

pub(super) fn verify(req: &SignedRequest<'_>, keys: &Keys) -> Result<Verified, Error> {
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
    let found = if scheme == Scheme::PostalRsaSha256 {
        let hash = Sha256::digest(req.body);
        keys.into_iter().find(|(_, k)| k.verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &sig).is_ok())
    } else {
        let hash = Sha1::digest(req.body);
        keys.into_iter().find(|(_, k)| k.verify(Pkcs1v15Sign::new::<Sha1>(), &hash, &sig).is_ok())
    };
    found.map(|(i, _)| Verified::new(scheme, i)).ok_or_else(|| mismatch(scheme))
}

/// The RSA keys among the configured public keys.
pub(super) fn rsa_key(k: &PublicKey) -> Option<&RsaKey> {
    match k {
        PublicKey::Rsa(k) => Some(k),
        PublicKey::P256(_) => None,
    }
}
