//! Resend delivers through Svix: HMAC-SHA256 over `svix-id.svix-timestamp.body`, base64, in
//! `svix-signature` as space-separated `v1,<base64>` entries (several during secret
//! rotation). The secret is `whsec_` followed by the base64 key.
//!
//! The Standard Webhooks names (`webhook-id`, `webhook-timestamp`, `webhook-signature`) are
//! accepted too, when the `svix-` ones are absent.
//! See <https://docs.svix.com/receiving/verifying-payloads/how-manual>.
//!
//! # Quirks
//! Entries of other versions (`v1a`, asymmetric) are ignored; a header with no `v1` entry
//! is a `bad_encoding`. An entry whose base64 is malformed is skipped like any wrong one, as
//! long as another well-formed `v1` entry is present.

use super::{Keys, Scheme, SignedRequest, Verified, VerifyOptions, bad_encoding, mismatch};
use crate::Timestamp;
use crate::encoding::decode_base64;
use crate::error::{Error, ErrorKind};
use crate::signature::{check_tolerance, ct_eq, hmac_sha256, parse_unix_secs};
use crate::webhook::HeaderName;

/// Every header this check reads (see `super::header_names`): `{prefix}-id`, `-timestamp` and
/// `-signature`, the `webhook-` ones only without `svix-id`.
pub(super) const HEADERS: &[HeaderName] = &[
    HeaderName::always("svix-id"),
    HeaderName::always("svix-timestamp"),
    HeaderName::always("svix-signature"),
    HeaderName::unless_present("webhook-id", "svix-id"),
    HeaderName::unless_present("webhook-timestamp", "svix-id"),
    HeaderName::unless_present("webhook-signature", "svix-id"),
];

pub(super) fn verify(
    req: &SignedRequest<'_>,
    keys: &Keys,
    now: Timestamp,
    opts: &VerifyOptions<'_>,
) -> Result<Verified, Error> {
    let prefix = match (req.headers.get("svix-id"), req.headers.get("webhook-id")) {
        (Some(_), _) => "svix",
        (None, Some(_)) => "webhook",
        (None, None) => {
            return Err(Error::new(
                ErrorKind::MissingHeader,
                "missing header svix-id (or webhook-id)",
            ));
        }
    };
    let id = req.header(&format!("{prefix}-id"))?;
    let ts = req.header(&format!("{prefix}-timestamp"))?;
    let sig_header = format!("{prefix}-signature");
    let sigs = req.header(&sig_header)?;
    let signed_at = parse_unix_secs(ts, &format!("{prefix}-timestamp"))?;
    let entries: Vec<&str> =
        sigs.split_ascii_whitespace().filter_map(|e| e.strip_prefix("v1,")).collect();
    let candidates: Vec<Vec<u8>> =
        entries.iter().filter_map(|e| decode_base64(e)).filter(|s| s.len() == 32).collect();
    if candidates.is_empty() {
        return Err(bad_encoding(&sig_header, "a list of v1,<base64 hmac-sha256> entries"));
    }
    check_tolerance(signed_at, now, opts.tolerance_secs)?;
    let scheme = Scheme::SvixHmacSha256;
    for (i, secret) in keys.secrets(scheme)?.iter().enumerate() {
        let key = secret_key(secret)?;
        let mac = hmac_sha256(&key, &[id.as_bytes(), b".", ts.as_bytes(), b".", req.body]);
        // Compare against every entry, without stopping early, so timing does not reveal
        // which entry matched.
        let hit = candidates.iter().fold(false, |acc, c| acc | ct_eq(&mac, c));
        if hit {
            return Ok(Verified::new(scheme, i).at(signed_at));
        }
    }
    Err(mismatch(scheme))
}

/// The HMAC key of a Svix secret: base64 after the optional `whsec_` prefix.
fn secret_key(secret: &[u8]) -> Result<Vec<u8>, Error> {
    let bad = || Error::new(ErrorKind::BadEncoding, "svix secret is not whsec_ followed by base64");
    let text = std::str::from_utf8(secret).map_err(|_| bad())?.trim();
    let b64 = text.strip_prefix("whsec_").unwrap_or(text);
    decode_base64(b64).filter(|k| !k.is_empty()).ok_or_else(bad)
}
