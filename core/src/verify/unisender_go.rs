//! Unisender Go: the body's `auth` field is the MD5 (hex) of the raw body with that `auth`
//! value replaced by the API key of the user or project. There is no timestamp, so no replay
//! window: dedupe on the events.
//!
//! To check, the `auth` value is read from the body, its first occurrence in the raw body is
//! replaced by each configured API key in turn, and the MD5 of the result is compared (in
//! constant time) with it. The replacement works on the bytes as received, so bodies that are
//! not compact ASCII JSON verify too (re-serializing the JSON would not).
//! See <https://godocs.unisender.ru/web-api-ref#callback-format>.

use md5::{Digest, Md5};
use serde_json::{Map, Value};

use super::{Keys, Scheme, SignedRequest, Verified, bad_encoding, mismatch};
use crate::encoding::decode_hex;
use crate::error::{Error, ErrorKind};
use crate::signature::ct_eq;

pub(super) fn verify(req: &SignedRequest<'_>, keys: &Keys) -> Result<Verified, Error> {
    let scheme = Scheme::UnisenderGoMd5;
    let msg: Map<String, Value> = serde_json::from_slice(req.body)
        .map_err(|_| bad_encoding("body", "a unisender go callback (a json object)"))?;
    let auth = match msg.get("auth") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(bad_encoding("auth", "a string")),
        None => {
            return Err(Error::new(ErrorKind::MissingHeader, "unisender go callback has no auth"));
        }
    };
    let expected = decode_hex(auth)
        .filter(|d| d.len() == 16)
        .ok_or_else(|| bad_encoding("auth", "32 hex digits"))?;
    let secrets = keys.secrets(scheme)?;
    let at = find(req.body, auth.as_bytes())
        .ok_or_else(|| bad_encoding("auth", "written in the body without escapes"))?;
    let (head, tail) = (&req.body[..at], &req.body[at + auth.len()..]);
    secrets
        .iter()
        .position(|key| {
            let digest =
                Md5::new().chain_update(head).chain_update(key).chain_update(tail).finalize();
            ct_eq(digest.as_slice(), &expected)
        })
        .map(|i| Verified::new(scheme, i))
        .ok_or_else(|| mismatch(scheme))
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
