//! Shared primitives of the signature checks: constant-time comparison, HMAC, the timestamp
//! tolerance, PEM armor, a minimal DER reader and public-key
//! parsing (SPKI, PKCS#1, X.509 certificates).
//!
//! Nothing here knows a provider; `verify/<provider>.rs` composes these into schemes.

use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::VerifyingKey;
use rsa::PublicKey as RsaKey;
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Timestamp;
use crate::encoding::decode_base64;
use crate::error::{Error, ErrorKind};

/// Equality of two byte strings in time that depends only on their lengths.
///
/// Lengths are public here (signature sizes are fixed by the scheme; a credential's length is
/// not considered secret by any provider's own verifier).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    HmacSha256Key::new(key).into_mac(parts)
}

/// An HMAC-SHA256 key made ready once (its padded key blocks hashed: two of the ten or so
/// SHA-256 blocks of a small webhook's HMAC), for many messages. `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct HmacSha256Key(Option<Hmac<Sha256>>);

impl HmacSha256Key {
    pub(crate) fn new(key: &[u8]) -> HmacSha256Key {
        HmacSha256Key(Hmac::<Sha256>::new_from_slice(key).ok())
    }

    /// The HMAC of the concatenation of `parts`, as [`hmac_sha256`] computes it.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.clone().into_mac(parts)
    }

    fn into_mac(self, parts: &[&[u8]]) -> [u8; 32] {
        // `new_from_slice` accepts keys of any length for HMAC; the error arm is unreachable,
        // and an empty MAC would only ever fail comparisons.
        let Some(mut mac) = self.0 else { return [0; 32] };
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for HmacSha256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacSha256Key(..)")
    }
}

/// HMAC-SHA1 of the concatenation of `parts` under `key`.
pub(crate) fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else { return [0; 20] };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Default timestamp tolerance, in seconds, in both directions.
pub(crate) const DEFAULT_TOLERANCE_SECS: u32 = 300;

/// Accept `signed` only if it is within `tolerance_secs` of `now`, in either direction.
///
/// # Errors
/// `stale_timestamp` when it is older, `future_timestamp` when it is later.
pub(crate) fn check_tolerance(
    signed: Timestamp,
    now: Timestamp,
    tolerance_secs: u32,
) -> Result<(), Error> {
    let skew_ms = signed.as_millis() - now.as_millis();
    let limit_ms = i64::from(tolerance_secs) * 1000;
    if skew_ms < -limit_ms {
        Err(Error::new(
            ErrorKind::StaleTimestamp,
            format!(
                "signed timestamp {signed} is {} s older than now, beyond the tolerance of {tolerance_secs} s",
                -skew_ms / 1000
            ),
        ))
    } else if skew_ms > limit_ms {
        Err(Error::new(
            ErrorKind::FutureTimestamp,
            format!(
                "signed timestamp {signed} is {} s ahead of now, beyond the tolerance of {tolerance_secs} s",
                skew_ms / 1000
            ),
        ))
    } else {
        Ok(())
    }
}

/// A Unix-seconds header value (`"1767225600"`), as a timestamp.
///
/// # Errors
/// `bad_encoding` naming `what` when it is not a plain non-negative integer in range.
pub(crate) fn parse_unix_secs(value: &str, what: &str) -> Result<Timestamp, Error> {
    let v = value.trim();
    let bad =
        || Error::new(ErrorKind::BadEncoding, format!("{what} is not a unix time in seconds"));
    if v.is_empty() || v.len() > 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let secs: i64 = v.parse().map_err(|_| bad())?;
    Timestamp::from_millis(secs * 1000).ok_or_else(bad)
}

/// The label and DER bytes of the first PEM block in `text`.
fn decode_pem(text: &str) -> Option<(&str, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let after = &text[start + 11..];
    let label_end = after.find("-----")?;
    let label = &after[..label_end];
    let body = &after[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let body = &body[..body.find(&end_marker)?];
    // Base64 lines; RFC 7468 also allows header lines in legacy blocks, which keys never use.
    let joined: String = body.split_ascii_whitespace().collect();
    Some((label, decode_base64(&joined)?))
}

/// One DER element: `(tag, contents, rest)`. Definite lengths only (DER forbids the rest).
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The whole encoding (tag, length and contents) of the first element of `input`.
fn der_whole(input: &[u8]) -> Option<&[u8]> {
    let (_, _, rest) = der_next(input)?;
    Some(&input[..input.len() - rest.len()])
}

/// The SubjectPublicKeyInfo inside an X.509 certificate (RFC 5280 §4.1).
fn certificate_spki(cert: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    let (tag, cert_body, _) = der_next(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = der_next(cert_body)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    // version [0] EXPLICIT is optional; then serialNumber, signature, issuer, validity, subject.
    if rest.first() == Some(&0xa0) {
        rest = der_next(rest)?.2;
    }
    for _ in 0..5 {
        rest = der_next(rest)?.2;
    }
    let spki = der_whole(rest)?;
    (spki.first() == Some(&SEQUENCE)).then_some(spki)
}

/// The DER of every certificate in `text`: each `CERTIFICATE` PEM block (a trust-chain file
/// holds several), or one bare base64 DER certificate. `None` when there is none, or one does
/// not read as an X.509 certificate.
pub(crate) fn certificates_der(text: &str) -> Option<Vec<Vec<u8>>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    let text = text.trim();
    let mut out = Vec::new();
    if text.contains("-----BEGIN ") {
        for (i, _) in text.match_indices(BEGIN) {
            let (label, der) = decode_pem(&text[i..])?;
            if label != "CERTIFICATE" {
                return None;
            }
            out.push(der);
        }
    } else {
        let joined: String = text.split_ascii_whitespace().collect();
        out.push(decode_base64(&joined)?);
    }
    let all_read = out.iter().all(|der| Certificate::parse(der).is_some());
    (!out.is_empty() && all_read).then_some(out)
}

/// What a chain check reads of an X.509 certificate (RFC 5280 §4.1).
#[derive(Debug)]
pub(crate) struct Certificate<'a> {
    /// The whole `TBSCertificate` encoding: the bytes the issuer signed.
    tbs: &'a [u8],
    /// The contents of the `signatureAlgorithm` OID.
    algorithm: &'a [u8],
    /// The signature (the BIT STRING's bytes after its unused-bits count).
    signature: &'a [u8],
    /// The whole `issuer` and `subject` Name encodings.
    issuer: &'a [u8],
    subject: &'a [u8],
    not_before: Timestamp,
    not_after: Timestamp,
    /// The whole `subjectPublicKeyInfo` encoding.
    spki: &'a [u8],
}

/// `sha256WithRSAEncryption`, `sha384…`, `sha512…` (RFC 4055) and `ecdsa-with-SHA256`
/// (RFC 5758), as OID contents.
const RSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const RSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
const RSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];

impl<'a> Certificate<'a> {
    /// Read a DER certificate; `None` for anything else.
    pub(crate) fn parse(der: &'a [u8]) -> Option<Certificate<'a>> {
        const SEQUENCE: u8 = 0x30;
        let (tag, body, rest) = der_next(der)?;
        if tag != SEQUENCE || !rest.is_empty() {
            return None;
        }
        let tbs = der_whole(body)?;
        let (tag, tbs_body, after_tbs) = der_next(body)?;
        let (alg_tag, alg, after_alg) = der_next(after_tbs)?;
        let (sig_tag, sig, _) = der_next(after_alg)?;
        let (oid_tag, algorithm, _) = der_next(alg)?;
        if tag != SEQUENCE || alg_tag != SEQUENCE || oid_tag != 0x06 || sig_tag != 0x03 {
            return None;
        }
        let (&0, signature) = sig.split_first()? else { return None };
        let mut rest = tbs_body;
        if rest.first() == Some(&0xa0) {
            rest = der_next(rest)?.2;
        }
        // serialNumber, signature
        rest = der_next(rest)?.2;
        rest = der_next(rest)?.2;
        let issuer = der_whole(rest)?;
        rest = der_next(rest)?.2;
        let (tag, validity, after_validity) = der_next(rest)?;
        if tag != SEQUENCE {
            return None;
        }
        let (t1, nb, after_nb) = der_next(validity)?;
        let (t2, na, _) = der_next(after_nb)?;
        let subject = der_whole(after_validity)?;
        let spki = der_whole(der_next(after_validity)?.2)?;
        Some(Certificate {
            tbs,
            algorithm,
            signature,
            issuer,
            subject,
            not_before: asn1_time(t1, nb)?,
            not_after: asn1_time(t2, na)?,
            spki,
        })
    }

    /// Whether this certificate names `issuer` as its issuer, verifies under its key (RSA
    /// PKCS#1 v1.5 with SHA-256/384/512, or ECDSA P-256 with SHA-256), and is valid at `now`.
    pub(crate) fn issued_by(&self, issuer: &Certificate<'_>, now: Timestamp) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        use rsa::Pkcs1v15Sign;
        use sha2::{Digest, Sha384, Sha512};
        if self.issuer != issuer.subject || now < self.not_before || now > self.not_after {
            return false;
        }
        match (PublicKey::from_spki(issuer.spki), self.algorithm) {
            (Ok(PublicKey::Rsa(k)), RSA_SHA256) => k
                .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(self.tbs), self.signature)
                .is_ok(),
            (Ok(PublicKey::Rsa(k)), RSA_SHA384) => k
                .verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(self.tbs), self.signature)
                .is_ok(),
            (Ok(PublicKey::Rsa(k)), RSA_SHA512) => k
                .verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(self.tbs), self.signature)
                .is_ok(),
            (Ok(PublicKey::P256(k)), ECDSA_SHA256) => {
                p256::ecdsa::Signature::from_der(self.signature)
                    .is_ok_and(|sig| k.verify(self.tbs, &sig).is_ok())
            }
            _ => false,
        }
    }
}

/// An ASN.1 `UTCTime` (tag 0x17, `YYMMDDHHMMSSZ`, years 1950–2049) or `GeneralizedTime` (0x18,
/// `YYYYMMDDHHMMSSZ`), as RFC 5280 §4.1.2.5 allows them in certificates.
fn asn1_time(tag: u8, body: &[u8]) -> Option<Timestamp> {
    let text = std::str::from_utf8(body).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let full = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy: u32 = digits[..2].parse().ok()?;
            format!("{}{digits}", if yy < 50 { "20" } else { "19" })
        }
        (0x18, 14) => digits.to_owned(),
        _ => return None,
    };
    let f = |a: usize, b: usize| &full[a..b];
    let rfc =
        format!("{}-{}-{}T{}:{}:{}Z", f(0, 4), f(4, 6), f(6, 8), f(8, 10), f(10, 12), f(12, 14));
    Timestamp::parse_rfc3339(&rfc).ok()
}

/// A public key as a provider shows it, parsed once.
#[derive(Clone, Debug)]
pub(crate) enum PublicKey {
    /// An ECDSA P-256 key (SendGrid).
    P256(VerifyingKey),
    /// An RSA key (Postal, the SNS signing certificate).
    Rsa(RsaKey),
    /// An Ed25519 key (Standard Webhooks `v1a`), given as `whpk_` + base64 of its 32 bytes.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// Parse PEM (`PUBLIC KEY`, `RSA PUBLIC KEY`, `CERTIFICATE`), bare base64 DER of a
    /// SubjectPublicKeyInfo or certificate (what SendGrid and Postal show), or a DKIM-style
    /// record carrying `p=<base64>` (Postal's DNS TXT record), or a Standard Webhooks Ed25519
    /// public key (`whpk_` + base64 of the 32 key bytes).
    ///
    /// # Errors
    /// `bad_encoding` when the text is none of these; `unknown_key` when it is a well-formed
    /// key of an algorithm no scheme here uses.
    pub(crate) fn parse(text: &str) -> Result<PublicKey, Error> {
        let bad = |what: &str| Error::new(ErrorKind::BadEncoding, format!("public key: {what}"));
        let text = text.trim();
        if let Some(b64) = text.strip_prefix("whpk_") {
            let bytes = decode_base64(b64)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| bad("whpk_ key is not base64 of 32 bytes"))?;
            return ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map(PublicKey::Ed25519)
                .map_err(|_| bad("whpk_ key is not an ed25519 point"));
        }
        if text.contains("-----BEGIN ") {
            let (label, der) = decode_pem(text).ok_or_else(|| bad("malformed pem block"))?;
            return match label {
                "PUBLIC KEY" => PublicKey::from_spki(&der),
                "RSA PUBLIC KEY" => {
                    use rsa::pkcs1::DecodeRsaPublicKey;
                    RsaKey::from_pkcs1_der(&der)
                        .map(PublicKey::Rsa)
                        .map_err(|_| bad("not a valid pkcs#1 rsa public key"))
                }
                "CERTIFICATE" => PublicKey::from_spki(
                    certificate_spki(&der).ok_or_else(|| bad("not a valid x.509 certificate"))?,
                ),
                other => Err(bad(&format!("unexpected pem label {other:?}"))),
            };
        }
        let b64 = match text.split(';').map(str::trim).find_map(|t| t.strip_prefix("p=")) {
            Some(p) => p,
            None => text,
        };
        let der: String = b64.split_ascii_whitespace().collect();
        let der = decode_base64(&der).ok_or_else(|| bad("neither pem nor base64 der"))?;
        PublicKey::from_spki(&der).or_else(|e| match certificate_spki(&der) {
            Some(spki) => PublicKey::from_spki(spki),
            None => Err(e),
        })
    }

    fn from_spki(der: &[u8]) -> Result<PublicKey, Error> {
        use p256::pkcs8::DecodePublicKey as _;
        if let Ok(k) = VerifyingKey::from_public_key_der(der) {
            return Ok(PublicKey::P256(k));
        }
        if let Ok(k) = RsaKey::from_public_key_der(der) {
            return Ok(PublicKey::Rsa(k));
        }
        // Tell a well-formed key of another algorithm (Ed25519, P-384) from garbage.
        let is_spki = der_next(der).is_some_and(|(tag, body, rest)| {
            tag == 0x30
                && rest.is_empty()
                && der_next(body).is_some_and(|(t, _, r)| t == 0x30 && r.first() == Some(&0x03))
        });
        if is_spki {
            Err(Error::new(
                ErrorKind::UnknownKey,
                "public key: neither an ecdsa p-256 nor an rsa key (of at most 8192 bits)",
            ))
        } else {
            Err(Error::new(ErrorKind::BadEncoding, "public key: not a subject public key info"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::decode_hex;

    #[test]
    fn certificate_times_read_utc_and_generalized_forms() {
        let t = |tag, s: &str| asn1_time(tag, s.as_bytes()).map(|t| t.to_string());
        assert_eq!(t(0x17, "491231235959Z").as_deref(), Some("2049-12-31T23:59:59.000Z"));
        assert_eq!(t(0x17, "500101000000Z").as_deref(), Some("1950-01-01T00:00:00.000Z"));
        assert_eq!(t(0x18, "20320101000000Z").as_deref(), Some("2032-01-01T00:00:00.000Z"));
        for (tag, bad) in [
            (0x17, "4912312359Z"),
            (0x18, "491231235959Z"),
            (0x17, "491231235959"),
            (0x05, "491231235959Z"),
        ] {
            assert_eq!(t(tag, bad), None, "{bad}");
        }
        assert!(certificates_der("not a certificate").is_none());
        assert!(Certificate::parse(&[0x30, 0x00]).is_none());
    }

    #[test]
    fn constant_time_equality_needs_equal_length_and_bytes() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let key = HmacSha256Key::new(b"Jefe");
        for _ in 0..2 {
            let mac = key.mac(&[b"what do ya want ", b"for nothing?"]);
            assert_eq!(mac, hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"]));
        }
        assert_eq!(format!("{key:?}"), "HmacSha256Key(..)");
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            decode_hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843").unwrap(),
            mac
        );
        let mac = hmac_sha1(b"Jefe", &[b"what do ya want for nothing?"]);
        assert_eq!(decode_hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79").unwrap(), mac);
    }

    #[test]
    fn tolerance_is_inclusive_and_two_sided() {
        let now = Timestamp::from_millis(1_000_000_000).unwrap();
        let at = |s: i64| Timestamp::from_millis(1_000_000_000 + s * 1000).unwrap();
        assert!(check_tolerance(at(-300), now, 300).is_ok());
        assert!(check_tolerance(at(300), now, 300).is_ok());
        assert_eq!(check_tolerance(at(-301), now, 300).unwrap_err().code(), "stale_timestamp");
        assert_eq!(check_tolerance(at(301), now, 300).unwrap_err().code(), "future_timestamp");
    }

    #[test]
    fn unix_seconds_are_plain_digits() {
        assert_eq!(parse_unix_secs("1767225600", "t").unwrap().as_millis(), 1_767_225_600_000);
        for bad in ["", "-5", "1.5", "12a", "9999999999999"] {
            assert_eq!(parse_unix_secs(bad, "t").unwrap_err().code(), "bad_encoding", "{bad}");
        }
    }

    #[test]
    fn der_reader_rejects_truncation() {
        assert_eq!(der_next(&[0x30, 0x02, 1, 2, 9]), Some((0x30, &[1u8, 2][..], &[9u8][..])));
        assert!(der_next(&[0x30, 0x03, 1, 2]).is_none());
        assert!(der_next(&[0x30, 0x81]).is_none());
        assert!(certificate_spki(&[0x30, 0x00]).is_none());
    }
}
