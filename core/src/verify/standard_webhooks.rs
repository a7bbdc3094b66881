//! Standard Webhooks (<https://www.standardwebhooks.com/>, the spec's
//! `spec/standard-webhooks.md`): Loops, AhaSend, and any sender that adopts it.
//!
//! The headers `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a
//! space-separated list of `<version>,<base64>` entries. The signed bytes are
//! `{webhook-id}.{webhook-timestamp}.{raw body}`.
//!
//! - `v1`: HMAC-SHA256 under a shared secret. The spec serializes the secret as `whsec_` +
//!   base64 and the key is the decoded bytes ([`KeyForm::Whsec`]); AhaSend keys the HMAC with
//!   the UTF-8 bytes of the whole secret string, `aha-whsec-` prefix included
//!   ([`KeyForm::Utf8`]).
//! - `v1a`: Ed25519, checked only against public keys configured as `whpk_` + base64 of the
//!   32-byte key ([`super::Keys::with_public_key`]).
//!
//! The request is authentic when any listed entry of a version we hold a key for verifies under
//! any configured key (several entries let the sender rotate keys without downtime). Entries of
//! other versions, and malformed ones, are skipped; a header with no `v1` or `v1a` entry at
//! all is a `bad_encoding`. The timestamp must be within the tolerance (300 s by default) of
//! `now`, in both directions; `webhook-id` is the idempotency key the receiver dedupes on.
//!
//! The `svix-` header names (Svix is the same scheme under its own names) are accepted when the
//! `webhook-` ones are absent.

use ed25519_dalek::{Signature, VerifyingKey};

use super::{Keys, Scheme, SignedRequest, Verified, VerifyOptions, bad_encoding, mismatch};
use crate::Timestamp;
use crate::encoding::decode_base64;
use crate::error::{Error, ErrorKind};
use crate::signature::{HmacSha256Key, PublicKey, check_tolerance, ct_eq, parse_unix_secs};
use crate::webhook::HeaderName;

const ID: &str = "webhook-id";
const TIMESTAMP: &str = "webhook-timestamp";
const SIGNATURE: &str = "webhook-signature";
const SVIX_ID: &str = "svix-id";
const SVIX_TIMESTAMP: &str = "svix-timestamp";
const SVIX_SIGNATURE: &str = "svix-signature";

/// Every header this check reads (see `super::header_names`): Svix's names count only
/// without `webhook-id`.
pub(super) const HEADERS: &[HeaderName] = &[
    HeaderName::always(ID),
    HeaderName::always(TIMESTAMP),
    HeaderName::always(SIGNATURE),
    HeaderName::unless_present(SVIX_ID, ID),
    HeaderName::unless_present(SVIX_TIMESTAMP, ID),
    HeaderName::unless_present(SVIX_SIGNATURE, ID),
];

/// How a sender turns its shared secret into the HMAC key (the index of its cache in `Keys`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyForm {
    /// The spec's: base64 after an optional `whsec_` prefix.
    Whsec = 0,
    /// AhaSend's: the UTF-8 bytes of the whole secret as shown.
    Utf8 = 1,
}

pub(super) fn verify(
    req: &SignedRequest<'_>,
    keys: &Keys,
    now: Timestamp,
    opts: &VerifyOptions<'_>,
    form: KeyForm,
) -> Result<Verified, Error> {
    let (id_name, ts_name, sig_name) = match (req.headers.get(ID), req.headers.get(SVIX_ID)) {
        (Some(_), _) => (ID, TIMESTAMP, SIGNATURE),
        (None, Some(_)) => (SVIX_ID, SVIX_TIMESTAMP, SVIX_SIGNATURE),
        (None, None) => {
            return Err(Error::new(ErrorKind::MissingHeader, "missing header webhook-id"));
        }
    };
    let id = req.header(id_name)?;
    let ts = req.header(ts_name)?;
    let sigs = req.header(sig_name)?;
    let signed_at = parse_unix_secs(ts, ts_name)?;
    let mut hmacs = Vec::new();
    let mut eds = Vec::new();
    for entry in sigs.split_ascii_whitespace() {
        if let Some(b64) = entry.strip_prefix("v1,") {
            hmacs.extend(decode_base64(b64).filter(|s| s.len() == 32));
        } else if let Some(b64) = entry.strip_prefix("v1a,") {
            eds.extend(decode_base64(b64).and_then(|s| <[u8; 64]>::try_from(s).ok()));
        }
    }
    if hmacs.is_empty() && eds.is_empty() {
        return Err(bad_encoding(
            sig_name,
            "a list of v1,<base64 hmac-sha256> or v1a,<base64 ed25519> entries",
        ));
    }
    check_tolerance(signed_at, now, opts.tolerance_secs)?;

    let ed_keys: Vec<(usize, &VerifyingKey)> = keys
        .public_keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| match k {
            PublicKey::Ed25519(k) => Some((i, k)),
            _ => None,
        })
        .collect();
    // The HMAC is tried when secrets are configured, or when nothing is (so the error names
    // the missing secret, the usual configuration).
    let hmac_scheme = Scheme::StandardWebhooksHmacSha256;
    let try_hmac = keys.secret_count() > 0 || ed_keys.is_empty();
    if try_hmac {
        let secrets = keys.secrets(hmac_scheme)?;
        let cache = &keys.standard_webhooks[form as usize];
        let hmac_keys = cache.get_or_init(|| {
            secrets.iter().map(|s| hmac_key(s, form).map(|k| HmacSha256Key::new(&k))).collect()
        });
        for (i, key) in hmac_keys.iter().enumerate() {
            // A secret that is not a key is reported when no earlier one matched.
            let key = key.as_ref().map_err(Clone::clone)?;
            let mac = key.mac(&[id.as_bytes(), b".", ts.as_bytes(), b".", req.body]);
            // Every entry is compared, without stopping early, so timing does not reveal which
            // one matched.
            let hit = hmacs.iter().fold(false, |acc, c| acc | ct_eq(&mac, c));
            if hit {
                return Ok(Verified::new(hmac_scheme, i).at(signed_at));
            }
        }
    }
    if !ed_keys.is_empty() && !eds.is_empty() {
        let mut message = Vec::with_capacity(id.len() + ts.len() + 2 + req.body.len());
        message.extend_from_slice(id.as_bytes());
        message.push(b'.');
        message.extend_from_slice(ts.as_bytes());
        message.push(b'.');
        message.extend_from_slice(req.body);
        for (i, key) in ed_keys {
            // Strict verification: no malleable signatures, no small-order keys.
            let hit =
                eds.iter().any(|s| key.verify_strict(&message, &Signature::from_bytes(s)).is_ok());
            if hit {
                return Ok(Verified::new(Scheme::StandardWebhooksEd25519, i).at(signed_at));
            }
        }
    }
    Err(mismatch(if try_hmac { hmac_scheme } else { Scheme::StandardWebhooksEd25519 }))
}

/// The HMAC key of a configured secret.
fn hmac_key(secret: &[u8], form: KeyForm) -> Result<Vec<u8>, Error> {
    match form {
        KeyForm::Utf8 => Ok(secret.to_vec()),
        KeyForm::Whsec => {
            let bad = || {
                Error::new(
                    ErrorKind::BadEncoding,
                    "standard webhooks secret is not whsec_ followed by base64",
                )
            };
            let text = std::str::from_utf8(secret).map_err(|_| bad())?.trim();
            let b64 = text.strip_prefix("whsec_").unwrap_or(text);
            decode_base64(b64).filter(|k| !k.is_empty()).ok_or_else(bad)
        }
    }
}
