//! Webhook authentication: signature schemes and credential checks, one per provider.
//!
//! A webhook endpoint is public, so the edge checks every request before anything else reads
//! it: a forged "hard bounce" would suppress a good customer, and a replayed one would apply
//! again. [`verify`] takes the request exactly as received, the key material, and `now` (core
//! has no clock), and says which scheme accepted it or why it was rejected.
//!
//! | provider | scheme | time checked | key material |
//! |---|---|---|---|
//! | sendgrid | ECDSA P-256 / SHA-256 over `timestamp ‖ body` | `X-Twilio-Email-Event-Webhook-Timestamp` | public key (base64 DER or PEM) |
//! | ses | SNS RSA PKCS#1 v1.5, SHA-1 (`SignatureVersion` 1) or SHA-256 (2), over the canonical string | `Timestamp` | signing certificate (PEM), fetched by the caller |
//! | mailgun | HMAC-SHA256 hex over `timestamp ‖ token` | `signature.timestamp` | signing key; optional seen-token set |
//! | resend | Svix HMAC-SHA256 base64 over `id.timestamp.body` | `svix-timestamp` | `whsec_…` secrets |
//! | mandrill | HMAC-SHA1 base64 over `url ‖ (name ‖ value)*`, names sorted | none | webhook key, plus the exact URL |
//! | mailersend | HMAC-SHA256 hex over the body (`Signature`) | none | signing secret |
//! | mailtrap | HMAC-SHA256 hex over the body (`Mailtrap-Signature`) | none | signing secret |
//! | loops | Standard Webhooks: HMAC-SHA256 base64 over `id.timestamp.body` (`v1`), or Ed25519 (`v1a`) | `webhook-timestamp` | `whsec_…` secrets; `whpk_…` public keys |
//! | ahasend | Standard Webhooks `v1`, the HMAC keyed with the whole secret string | `webhook-timestamp` | the `aha-whsec-…` secret |
//! | any, with [`VerifyOptions::with_standard_webhooks`] | Standard Webhooks `v1` / `v1a` instead of the provider's own scheme | `webhook-timestamp` | `whsec_…` secrets; `whpk_…` public keys |
//! | postal | RSA PKCS#1 v1.5 over the body, SHA-256 (`X-Postal-Signature-256`) or SHA-1 | none | public key |
//! | postmark, sparkpost, mailjet, brevo, smtp2go, zeptomail | no signature: basic auth, bearer or shared-token header | none | the expected credential |
//! | ses_eventbridge, azure_acs, elastic_email | no signature: the same credentials, or a secret in the URL's query (`url_token`) | none | the expected credential |
//! | scaleway | SNS RSA PKCS#1 v1.5, SHA-1, with a certificate on a Scaleway host issued by Scaleway's CA | `Timestamp` | signing certificate (PEM), fetched by the caller, and the CA's trust chain ([`Keys::with_trust_anchor`]) |
//! | unisender_go | MD5 hex of the body with the `auth` value replaced by the API key | none | API key |
//!
//! Every comparison of secret-derived bytes is constant-time. Several secrets or keys may be
//! given (rotation, or several webhook configurations): any one of them is accepted, and
//! [`Verified::key_index`] says which. Errors say what failed and never contain a secret, a
//! credential or a computed signature.
//!
//! # The host's crypto
//! A host with a native, faster implementation of a signature algorithm (WebCrypto in an edge
//! worker) can run the math itself while core keeps the rules: [`prepare_host_check`] does
//! every check but the math and returns the keys, signature and signed bytes in the form
//! WebCrypto takes; [`verify_with_host`] runs the same checks again and takes the host's
//! [`HostVerdict`] in place of its own math. The public-key schemes have this form (SendGrid's
//! ECDSA, Postal's and SNS's RSA), whose math is slow in wasm (a 2048-bit RSA check about
//! 0.4 ms, ECDSA P-256 about 0.75 ms); the HMAC and credential schemes are fast there (in
//! workerd, a Standard Webhooks HMAC over a Loops request costs less in wasm than the
//! WebCrypto call and the await it needs: BENCHMARKS.md, issue 19).
//!
//! # Quirks
//! - The default tolerance of 300 s (both directions) suits Svix and Mailgun. SNS keeps the
//!   original `Timestamp` on its retries (3 × 20 s by default, up to an hour with a custom
//!   delivery policy) and SendGrid documents no tolerance and retries for 24 h: raise the
//!   tolerance when the topic or account retries longer than it.
//! - Mailgun signs only `timestamp ‖ token`, not the body; the token-reuse check
//!   ([`VerifyOptions::with_seen_tokens`]) is what stops a replay within the tolerance. The
//!   caller records [`Verified::token`] after accepting the request.
//! - Postal: when `X-Postal-Signature-256` is present it is the only one checked, so a
//!   forger cannot downgrade to SHA-1 by dropping it.
//! - SNS: core checks that `SigningCertURL` is `https://sns.<region>.amazonaws.com[.cn]/…`;
//!   the caller fetches the certificate from that URL (and caches it) and passes it as a key.
//!   The certificate chain is the TLS fetch's concern; core does no I/O.
//! - Scaleway (SNS-compatible): the same check with Scaleway's hosts (`https://…scw.cloud/…`
//!   or `https://…scaleway.com/…`); AWS's hosts are refused for it, and Scaleway's for SES.
//!   Scaleway asks receivers not to trust the certificate but its CA (`sns-trust-chain.pem`,
//!   valid until 2032), because the signing certificate rotates yearly: a configured
//!   certificate is a candidate only when a configured trust anchor issued it (issuer name,
//!   RSA SHA-256/384/512 or ECDSA P-256 signature) and it is valid at `now`; without trust
//!   anchors every Scaleway request is `unknown_key`. Only that one link is checked (the
//!   anchors are trusted as given; no revocation, name or key-usage checks).

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::OnceLock;

use crate::error::{Error, ErrorKind};
use crate::signature::{DEFAULT_TOLERANCE_SECS, HmacSha256Key, PublicKey};
use crate::webhook::HeaderName;
use crate::{Headers, MAX_BODY_BYTES, Provider, Timestamp};

mod credentials;
mod mailersend;
mod mailgun;
mod mailtrap;
mod mandrill;
mod postal;
mod resend;
mod sendgrid;
mod ses;
mod standard_webhooks;
mod unisender_go;

/// A webhook request as received: the raw body, the headers, and for schemes that sign them
/// the URL and the form parameters.
///
/// # Example
/// ```
/// use mailstate_core::{Headers, verify::SignedRequest};
/// let headers: Headers = [("Signature", "00ff")].into_iter().collect();
/// let req = SignedRequest::new(b"{}", &headers).with_url("https://hooks.example.com/mandrill");
/// assert_eq!(req.url(), Some("https://hooks.example.com/mandrill"));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    body: &'a [u8],
    headers: &'a Headers,
    url: Option<&'a str>,
    form: Option<&'a [(String, String)]>,
}

impl<'a> SignedRequest<'a> {
    /// A request with this body (byte for byte as received) and these headers.
    pub fn new(body: &'a [u8], headers: &'a Headers) -> SignedRequest<'a> {
        SignedRequest { body, headers, url: None, form: None }
    }

    /// The webhook URL exactly as configured at the provider (Mandrill signs it). Give the
    /// configured URL, not the one a proxy rewrote.
    #[must_use]
    pub fn with_url(mut self, url: &'a str) -> SignedRequest<'a> {
        self.url = Some(url);
        self
    }

    /// Already-decoded form parameters, for frameworks that consumed the body. Without them,
    /// a form-encoded body is decoded here.
    #[must_use]
    pub fn with_form(mut self, form: &'a [(String, String)]) -> SignedRequest<'a> {
        self.form = Some(form);
        self
    }

    /// The raw body.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The headers.
    pub fn headers(&self) -> &'a Headers {
        self.headers
    }

    /// The configured webhook URL, if given.
    pub fn url(&self) -> Option<&'a str> {
        self.url
    }

    /// The decoded form parameters, if given.
    pub fn form(&self) -> Option<&'a [(String, String)]> {
        self.form
    }

    /// The value of header `name`, or `missing_header`.
    fn header(&self, name: &str) -> Result<&'a str, Error> {
        self.headers
            .get(name)
            .ok_or_else(|| Error::new(ErrorKind::MissingHeader, format!("missing header {name}")))
    }
}

/// Key material: shared secrets (HMAC keys, `whsec_` secrets, expected credentials) and
/// public keys (ECDSA P-256, RSA, or an X.509 certificate's key).
///
/// Secrets are tried in order; put the current one first and the one being retired after it.
/// `Debug` shows only counts. Keep one `Keys` across requests: Standard Webhooks' secrets are
/// decoded and keyed for HMAC on first use and kept.
///
/// # Example
/// ```
/// use mailstate_core::verify::Keys;
/// let keys = Keys::new().with_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").with_secret("old");
/// assert_eq!(format!("{keys:?}"), "Keys { secrets: 2, public_keys: 0, trust_anchors: 0, .. }");
/// ```
#[derive(Clone, Default)]
#[expect(
    clippy::struct_field_names,
    reason = "public_keys, as the API names them (public_key_count)"
)]
pub struct Keys {
    secrets: Vec<Vec<u8>>,
    public_keys: Vec<PublicKey>,
    /// The DER of each public key's certificate, when it was given as one.
    certificates: Vec<Option<Vec<u8>>>,
    /// Certificates of the CAs that signing certificates must chain to (Scaleway's).
    trust_anchors: Vec<Vec<u8>>,
    /// Standard Webhooks' HMAC keys of the secrets, per key form, made on first use: a
    /// worker keeps its `Keys` across requests, and keying an HMAC is a fifth of its cost on
    /// a small request.
    standard_webhooks: [OnceLock<Vec<Result<HmacSha256Key, Error>>>; 2],
}

impl Keys {
    /// No keys.
    pub fn new() -> Keys {
        Keys::default()
    }

    /// Add a shared secret, as the provider shows it (bytes of the text, `whsec_` prefix
    /// included for Svix; `user:password` for basic auth).
    #[must_use]
    pub fn with_secret(mut self, secret: impl AsRef<[u8]>) -> Keys {
        self.secrets.push(secret.as_ref().to_vec());
        self.standard_webhooks = Default::default();
        self
    }

    /// Add a public key as the provider shows it: PEM (`PUBLIC KEY`, `RSA PUBLIC KEY`,
    /// `CERTIFICATE`), bare base64 DER (SendGrid's and Postal's form), or a DKIM-style
    /// `p=<base64>` record.
    ///
    /// # Errors
    /// `bad_encoding` when the text is not a key in one of these forms; `unknown_key` when it
    /// is a key of an algorithm no scheme uses (neither P-256 nor RSA up to 8192 bits).
    ///
    /// # Example
    /// ```
    /// use mailstate_core::verify::Keys;
    /// let err = Keys::new().with_public_key("not a key").unwrap_err();
    /// assert_eq!(err.code(), "bad_encoding");
    /// ```
    pub fn with_public_key(mut self, text: &str) -> Result<Keys, Error> {
        self.public_keys.push(PublicKey::parse(text)?);
        let certificate =
            crate::signature::certificates_der(text).and_then(|c| c.into_iter().next());
        self.certificates.push(certificate);
        Ok(self)
    }

    /// Add the certificates of a CA that signing certificates must be issued by: every
    /// `CERTIFICATE` block of a PEM trust-chain file (or one base64 DER certificate). Scaleway
    /// signs with yearly certificates issued by its CA, published as `sns-trust-chain.pem`; a
    /// Scaleway signing certificate is accepted only when one of these issued it (RSA with
    /// SHA-256/384/512 or ECDSA P-256) and it is valid at `now`.
    ///
    /// # Errors
    /// `bad_encoding` when the text holds no certificate, or one that is not X.509.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::verify::Keys;
    /// assert_eq!(Keys::new().with_trust_anchor("nope").unwrap_err().code(), "bad_encoding");
    /// ```
    pub fn with_trust_anchor(mut self, text: &str) -> Result<Keys, Error> {
        let certs = crate::signature::certificates_der(text).ok_or_else(|| {
            Error::new(ErrorKind::BadEncoding, "trust anchor: not x.509 certificates (pem or der)")
        })?;
        self.trust_anchors.extend(certs);
        Ok(self)
    }

    /// How many trust-anchor certificates are configured.
    pub fn trust_anchor_count(&self) -> usize {
        self.trust_anchors.len()
    }

    /// Whether public key `index` came from a certificate that one of the trust anchors issued,
    /// valid at `now`.
    fn chains_to_anchor(&self, index: usize, now: Timestamp) -> bool {
        use crate::signature::Certificate;
        let Some(Some(der)) = self.certificates.get(index) else { return false };
        let Some(cert) = Certificate::parse(der) else { return false };
        self.trust_anchors
            .iter()
            .filter_map(|a| Certificate::parse(a))
            .any(|anchor| cert.issued_by(&anchor, now))
    }

    /// How many secrets are configured.
    pub fn secret_count(&self) -> usize {
        self.secrets.len()
    }

    /// How many public keys are configured.
    pub fn public_key_count(&self) -> usize {
        self.public_keys.len()
    }

    /// The secrets, or `unknown_key` when there are none or one is empty (an unset variable
    /// read as "" must not make an empty bearer token, or an HMAC anyone can compute, valid).
    fn secrets(&self, scheme: Scheme) -> Result<&[Vec<u8>], Error> {
        if self.secrets.is_empty() {
            Err(Error::new(ErrorKind::UnknownKey, format!("no secret configured for {scheme}")))
        } else if let Some(i) = self.secrets.iter().position(Vec::is_empty) {
            Err(Error::new(
                ErrorKind::UnknownKey,
                format!("secret {i} is empty: refusing to verify {scheme} with it"),
            ))
        } else {
            Ok(&self.secrets)
        }
    }

    /// The configured keys (index, key) of one algorithm, or `unknown_key` when none is.
    fn public<'k, T>(
        &'k self,
        what: &str,
        pick: impl Fn(&'k PublicKey) -> Option<&'k T>,
    ) -> Result<Vec<(usize, &'k T)>, Error> {
        let found: Vec<_> =
            self.public_keys.iter().enumerate().filter_map(|(i, k)| Some((i, pick(k)?))).collect();
        if found.is_empty() {
            Err(Error::new(ErrorKind::UnknownKey, format!("no {what} public key configured")))
        } else {
            Ok(found)
        }
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("secrets", &self.secrets.len())
            .field("public_keys", &self.public_keys.len())
            .field("trust_anchors", &self.trust_anchors.len())
            .finish_non_exhaustive()
    }
}

/// A set of one-time tokens already accepted (Mailgun's `signature.token`), for replay checks.
///
/// Implemented for `BTreeSet<String>`, `HashSet<String>` and any `Fn(&str) -> bool`, so a
/// caller can back it with a cache or a database lookup.
///
/// # Example
/// ```
/// use mailstate_core::{Headers, Provider, Timestamp, verify::{Keys, SignedRequest, VerifyOptions, verify}};
///
/// let body = br#"{"signature":{"timestamp":"1767225540","token":"a1b2c3d4e5f6a7b8c9d0","signature":"bbc676e0da43aba179a49b6e5d5cbc7aaa3627e3081a3ad9447b1d606fa4bec5"}}"#;
/// let headers = Headers::new();
/// let request = SignedRequest::new(body, &headers);
/// let keys = Keys::new().with_secret("key-example");
/// let now = Timestamp::from_millis(1_767_225_600_000).unwrap();
///
/// let fresh = |_: &str| false;
/// let ok = verify(Provider::Mailgun, &request, &keys, now, &VerifyOptions::new().with_seen_tokens(&fresh))
///     .unwrap();
/// assert_eq!(ok.token(), Some("a1b2c3d4e5f6a7b8c9d0")); // remember it once the request is handled
///
/// let seen = |t: &str| t == "a1b2c3d4e5f6a7b8c9d0";
/// let err = verify(Provider::Mailgun, &request, &keys, now, &VerifyOptions::new().with_seen_tokens(&seen))
///     .unwrap_err();
/// assert_eq!(err.code(), "replay");
/// ```
pub trait SeenTokens {
    /// True if `token` was accepted before.
    fn contains_token(&self, token: &str) -> bool;
}

impl SeenTokens for BTreeSet<String> {
    fn contains_token(&self, token: &str) -> bool {
        self.contains(token)
    }
}

impl<S: std::hash::BuildHasher> SeenTokens for HashSet<String, S> {
    fn contains_token(&self, token: &str) -> bool {
        self.contains(token)
    }
}

impl<F: Fn(&str) -> bool> SeenTokens for F {
    fn contains_token(&self, token: &str) -> bool {
        self(token)
    }
}

/// Options of [`verify`]: timestamp tolerance, seen tokens, and the shared-token header.
///
/// # Example
/// ```
/// use std::collections::BTreeSet;
/// use mailstate_core::verify::VerifyOptions;
/// let seen: BTreeSet<String> = ["tok1".to_owned()].into();
/// let opts = VerifyOptions::new().with_tolerance_secs(900).with_seen_tokens(&seen);
/// assert_eq!(opts.tolerance_secs(), 900);
/// ```
#[derive(Clone, Copy)]
pub struct VerifyOptions<'a> {
    tolerance_secs: u32,
    seen: Option<&'a dyn SeenTokens>,
    token_header: Option<&'a str>,
    standard_webhooks: bool,
}

impl Default for VerifyOptions<'_> {
    fn default() -> Self {
        VerifyOptions {
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
            seen: None,
            token_header: None,
            standard_webhooks: false,
        }
    }
}

impl<'a> VerifyOptions<'a> {
    /// Tolerance 300 s, no seen-token check, the provider's default token header.
    pub fn new() -> VerifyOptions<'a> {
        VerifyOptions::default()
    }

    /// Reject signed times more than `secs` seconds before or after `now`.
    #[must_use]
    pub fn with_tolerance_secs(mut self, secs: u32) -> VerifyOptions<'a> {
        self.tolerance_secs = secs;
        self
    }

    /// Reject a Mailgun request whose token is in `seen` (`replay`).
    #[must_use]
    pub fn with_seen_tokens(mut self, seen: &'a dyn SeenTokens) -> VerifyOptions<'a> {
        self.seen = Some(seen);
        self
    }

    /// For the providers without signatures, also accept the secret in this header (for
    /// example a custom header configured on a Postmark webhook). SparkPost's
    /// `X-MessageSystems-Webhook-Token` is checked without it.
    #[must_use]
    pub fn with_token_header(mut self, name: &'a str) -> VerifyOptions<'a> {
        self.token_header = Some(name);
        self
    }

    /// Verify the request as Standard Webhooks (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`: `v1` HMAC-SHA256 with `whsec_` secrets, `v1a` Ed25519 with `whpk_`
    /// public keys) instead of the provider's own scheme: for a sender that adopted it. Loops
    /// and AhaSend use it without this option (AhaSend's secrets keep their own key form).
    ///
    /// # Example
    /// ```
    /// use mailstate_core::{Headers, Provider, Timestamp, verify::{Keys, SignedRequest, VerifyOptions, verify}};
    /// // A Postmark-shaped body from a relay that signs with Standard Webhooks.
    /// let body = br#"{"RecordType":"Delivery"}"#;
    /// let headers: Headers = [
    ///     ("webhook-id", "msg_1"),
    ///     ("webhook-timestamp", "1767225540"),
    ///     ("webhook-signature", "v1,i2Yr2jqTjuCRXuB/Ddc1A5ADxfAb/jyXqMkM3RTJL3Y="),
    /// ]
    /// .into_iter()
    /// .collect();
    /// let request = SignedRequest::new(body, &headers);
    /// let keys = Keys::new().with_secret("whsec_c3RhbmRhcmQtd2ViaG9va3Mta2V5LTAx");
    /// let now = Timestamp::from_millis(1_767_225_600_000).unwrap();
    /// let opts = VerifyOptions::new().with_standard_webhooks();
    /// let ok = verify(Provider::Postmark, &request, &keys, now, &opts).unwrap();
    /// assert_eq!(ok.scheme().as_str(), "standard_webhooks_hmac_sha256");
    /// ```
    #[must_use]
    pub fn with_standard_webhooks(mut self) -> VerifyOptions<'a> {
        self.standard_webhooks = true;
        self
    }

    /// The tolerance in seconds.
    pub fn tolerance_secs(&self) -> u32 {
        self.tolerance_secs
    }
}

impl fmt::Debug for VerifyOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("tolerance_secs", &self.tolerance_secs)
            .field("seen_tokens", &self.seen.is_some())
            .field("token_header", &self.token_header)
            .field("standard_webhooks", &self.standard_webhooks)
            .finish()
    }
}

/// The scheme that authenticated a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// SendGrid: ECDSA P-256 with SHA-256.
    SendgridEcdsa,
    /// Amazon SNS `SignatureVersion` 1: RSA with SHA-1.
    SnsRsaSha1,
    /// Amazon SNS `SignatureVersion` 2: RSA with SHA-256.
    SnsRsaSha256,
    /// Mailgun: HMAC-SHA256 of timestamp and token.
    MailgunHmacSha256,
    /// Svix (Resend): HMAC-SHA256 of id, timestamp and body.
    SvixHmacSha256,
    /// Mandrill: HMAC-SHA1 of URL and form parameters.
    MandrillHmacSha1,
    /// MailerSend: HMAC-SHA256 of the body.
    MailersendHmacSha256,
    /// Mailtrap: HMAC-SHA256 of the body.
    MailtrapHmacSha256,
    /// Standard Webhooks `v1`: HMAC-SHA256 of id, timestamp and body (Loops, AhaSend).
    StandardWebhooksHmacSha256,
    /// Standard Webhooks `v1a`: Ed25519 over id, timestamp and body.
    StandardWebhooksEd25519,
    /// Postal: RSA with SHA-1 (`X-Postal-Signature`).
    PostalRsaSha1,
    /// Postal: RSA with SHA-256 (`X-Postal-Signature-256`).
    PostalRsaSha256,
    /// HTTP basic auth (`Authorization: Basic`).
    BasicAuth,
    /// A bearer token (`Authorization: Bearer`).
    BearerToken,
    /// A shared token in a provider or configured header.
    SharedToken,
    /// A shared secret in the request URL's query string.
    UrlToken,
    /// Unisender Go: MD5 of the body with its `auth` value replaced by the API key.
    UnisenderGoMd5,
}

impl Scheme {
    /// The stable snake_case name (`"svix_hmac_sha256"`), as the wire and CLI show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::SendgridEcdsa => "sendgrid_ecdsa_p256",
            Scheme::SnsRsaSha1 => "sns_rsa_sha1",
            Scheme::SnsRsaSha256 => "sns_rsa_sha256",
            Scheme::MailgunHmacSha256 => "mailgun_hmac_sha256",
            Scheme::SvixHmacSha256 => "svix_hmac_sha256",
            Scheme::MandrillHmacSha1 => "mandrill_hmac_sha1",
            Scheme::MailersendHmacSha256 => "mailersend_hmac_sha256",
            Scheme::MailtrapHmacSha256 => "mailtrap_hmac_sha256",
            Scheme::StandardWebhooksHmacSha256 => "standard_webhooks_hmac_sha256",
            Scheme::StandardWebhooksEd25519 => "standard_webhooks_ed25519",
            Scheme::PostalRsaSha1 => "postal_rsa_sha1",
            Scheme::PostalRsaSha256 => "postal_rsa_sha256",
            Scheme::BasicAuth => "basic_auth",
            Scheme::BearerToken => "bearer_token",
            Scheme::SharedToken => "shared_token",
            Scheme::UrlToken => "url_token",
            Scheme::UnisenderGoMd5 => "unisender_go_md5",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request that passed [`verify`]: which scheme and key accepted it, and the signed time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    scheme: Scheme,
    key_index: usize,
    timestamp: Option<Timestamp>,
    token: Option<String>,
}

impl Verified {
    fn new(scheme: Scheme, key_index: usize) -> Verified {
        Verified { scheme, key_index, timestamp: None, token: None }
    }

    fn at(mut self, timestamp: Timestamp) -> Verified {
        self.timestamp = Some(timestamp);
        self
    }

    /// The scheme that accepted the request.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Which key accepted it: an index into the secrets for secret schemes, into the public
    /// keys for signature schemes. A non-zero index during rotation means the sender still
    /// uses an older secret.
    pub fn key_index(&self) -> usize {
        self.key_index
    }

    /// The signed time, for schemes that carry one.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }

    /// The one-time token to remember for replay checks (Mailgun), once the request is
    /// accepted.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

/// Check that `request` really comes from `provider`.
///
/// Cheap checks come first (headers present and well-formed, time within tolerance), then
/// the signature, then the seen-token check, so a replayed token is only reported for an
/// authentic request.
///
/// # Errors
/// An error of one of the authentication kinds (see [`ErrorKind::is_authentication`]):
/// `missing_header`, `bad_encoding` (of a header, signature or key), `stale_timestamp`,
/// `future_timestamp`, `signature_mismatch`, `unknown_key` (no usable key configured, or an
/// SNS certificate URL that is not Amazon's), `unauthorized` (credentials absent or wrong),
/// `replay`. Also `missing_field` for a scheme input the caller must give (the Mandrill URL)
/// or a signed field absent from the payload, `too_large` for a body over
/// [`MAX_BODY_BYTES`], and `unsupported` for the file formats (`ndjson`, `csv`), which have no webhooks.
///
/// # Example
/// ```
/// use mailstate_core::{Headers, Provider, Timestamp, verify::{Keys, SignedRequest, VerifyOptions, verify}};
///
/// let body = br#"{"type":"activity.sent"}"#;
/// // hex(HMAC-SHA256("test-secret", body)), as MailerSend sends it.
/// let sig = "b508a1bc6203d11345dac7ce9a97442bcb18c76ff362e9560f16465e4671e64c";
/// let headers: Headers = [("Signature", sig)].into_iter().collect();
/// let request = SignedRequest::new(body, &headers);
/// let keys = Keys::new().with_secret("test-secret");
/// let now = Timestamp::from_millis(1_767_225_600_000).unwrap();
/// let ok = verify(Provider::Mailersend, &request, &keys, now, &VerifyOptions::new()).unwrap();
/// assert_eq!(ok.scheme().as_str(), "mailersend_hmac_sha256");
///
/// let forged = SignedRequest::new(br#"{"type":"activity.hard_bounced"}"#, &headers);
/// let err = verify(Provider::Mailersend, &forged, &keys, now, &VerifyOptions::new()).unwrap_err();
/// assert_eq!(err.code(), "signature_mismatch");
/// ```
pub fn verify(
    provider: Provider,
    request: &SignedRequest<'_>,
    keys: &Keys,
    now: Timestamp,
    options: &VerifyOptions<'_>,
) -> Result<Verified, Error> {
    let result = check_size(request).and_then(|()| match check_for(provider, options) {
        Check::StandardWebhooks(form) => {
            standard_webhooks::verify(request, keys, now, options, form)
        }
        Check::Sendgrid => sendgrid::verify(request, keys, now, options),
        Check::Ses => ses::verify(request, keys, now, options),
        Check::Scaleway => ses::verify_scaleway(request, keys, now, options),
        Check::Mailgun => mailgun::verify(request, keys, now, options),
        Check::Resend => resend::verify(request, keys, now, options),
        Check::Mandrill => mandrill::verify(request, keys),
        Check::Mailersend => mailersend::verify(request, keys),
        Check::Postal => postal::verify(request, keys),
        Check::Mailtrap => mailtrap::verify(request, keys),
        Check::Credentials => credentials::verify(provider, request, keys, options),
        Check::UnisenderGo => unisender_go::verify(request, keys),
        Check::Nothing => Err(nothing_to_verify(provider)),
    });
    result.map_err(|e| e.with_provider(provider.as_str()))
}

/// The check [`verify`] runs: one per scheme module (Standard Webhooks with its key form).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    StandardWebhooks(standard_webhooks::KeyForm),
    Sendgrid,
    Ses,
    Scaleway,
    Mailgun,
    Resend,
    Mandrill,
    Mailersend,
    Postal,
    Mailtrap,
    Credentials,
    UnisenderGo,
    /// The file formats and ARF reports: no webhook to verify.
    Nothing,
}

/// Which check authenticates `provider`'s requests with these options: the one place that
/// decides it, for [`verify`], its host form and [`header_names`].
fn check_for(provider: Provider, options: &VerifyOptions<'_>) -> Check {
    match provider {
        // A sender that adopted Standard Webhooks, by the caller's choice.
        Provider::Sendgrid
        | Provider::Ses
        | Provider::Mailgun
        | Provider::Resend
        | Provider::Mandrill
        | Provider::Mailersend
        | Provider::Postal
        | Provider::Postmark
        | Provider::Sparkpost
        | Provider::Mailjet
        | Provider::Brevo
        | Provider::Mailtrap
        | Provider::Smtp2go
        | Provider::Zeptomail
            if options.standard_webhooks =>
        {
            Check::StandardWebhooks(standard_webhooks::KeyForm::Whsec)
        }
        Provider::Sendgrid => Check::Sendgrid,
        Provider::Ses => Check::Ses,
        Provider::Mailgun => Check::Mailgun,
        Provider::Resend => Check::Resend,
        Provider::Mandrill => Check::Mandrill,
        Provider::Mailersend => Check::Mailersend,
        Provider::Postal => Check::Postal,
        Provider::Mailtrap => Check::Mailtrap,
        Provider::Loops => Check::StandardWebhooks(standard_webhooks::KeyForm::Whsec),
        Provider::Ahasend => Check::StandardWebhooks(standard_webhooks::KeyForm::Utf8),
        Provider::Postmark
        | Provider::Sparkpost
        | Provider::Mailjet
        | Provider::Brevo
        | Provider::Smtp2go
        | Provider::Zeptomail
        | Provider::AzureAcs
        | Provider::ElasticEmail
        | Provider::SesEventbridge => Check::Credentials,
        Provider::Scaleway => Check::Scaleway,
        Provider::UnisenderGo => Check::UnisenderGo,
        Provider::Ndjson | Provider::Csv | Provider::Arf => Check::Nothing,
    }
}

/// Why there is nothing to verify for a file format or an ARF report.
fn nothing_to_verify(provider: Provider) -> Error {
    if provider == Provider::Arf {
        Error::new(
            ErrorKind::Unsupported,
            "arf reports arrive by mail: their authenticity is the reporter's DKIM signature, \
             checked by the receiving mail server, not a webhook signature",
        )
    } else {
        Error::new(
            ErrorKind::Unsupported,
            format!(
                "{provider} is a file format, not a webhook sender: there is nothing to verify"
            ),
        )
    }
}

/// The request headers [`verify`] reads for `provider` with `options`: the names its check's
/// module reads (each module lists them next to the code that reads them) and, for the
/// credential check, the configured token header. A host that reads headers one by one (a
/// Fetch `Headers`) needs only these; any other header cannot change the answer.
pub(crate) fn header_names(provider: Provider, options: &VerifyOptions<'_>) -> Vec<HeaderName> {
    let names: &[HeaderName] = match check_for(provider, options) {
        Check::StandardWebhooks(_) => standard_webhooks::HEADERS,
        Check::Sendgrid => sendgrid::HEADERS,
        Check::Resend => resend::HEADERS,
        Check::Mandrill => mandrill::HEADERS,
        Check::Mailersend => mailersend::HEADERS,
        Check::Postal => postal::HEADERS,
        Check::Mailtrap => mailtrap::HEADERS,
        Check::Credentials => credentials::headers(provider),
        // These sign fields of the body (SNS, Mailgun, Unisender Go), or nothing.
        Check::Ses | Check::Scaleway | Check::Mailgun | Check::UnisenderGo | Check::Nothing => &[],
    };
    let mut names = names.to_vec();
    if let (Check::Credentials, Some(h)) = (check_for(provider, options), options.token_header) {
        names.push(HeaderName::owned(h));
    }
    names
}

fn check_size(request: &SignedRequest<'_>) -> Result<(), Error> {
    if request.body.len() > MAX_BODY_BYTES {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("body of {} bytes exceeds the limit of {MAX_BODY_BYTES}", request.body.len()),
        ));
    }
    Ok(())
}

/// The signature math of a check, in the form a host's own crypto takes it (WebCrypto's
/// `crypto.subtle.verify` in a worker), prepared by [`prepare_host_check`].
///
/// Core keeps every rule: which headers, the timestamp tolerance, the key formats, the
/// signature's DER decoding and which bytes are signed. The host only answers whether the
/// signature over [`HostCheck::message`] verifies under one of [`HostCheck::keys`], and hands
/// that back as a [`HostVerdict`] to [`verify_with_host`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostCheck {
    scheme: Scheme,
    algorithm: HostAlgorithm,
    keys: Vec<(usize, Vec<u8>)>,
    signature: Vec<u8>,
    message: Vec<u8>,
}

impl HostCheck {
    /// The scheme the check belongs to.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The algorithm to run.
    pub fn algorithm(&self) -> HostAlgorithm {
        self.algorithm
    }

    /// The candidate keys, in the order to try them: the index among the configured public
    /// keys (what [`HostVerdict::Accepted`] names) and the key itself in WebCrypto's import
    /// form: for [`HostAlgorithm::EcdsaP256Sha256`] an uncompressed SEC1 point (`raw`), for
    /// the RSA algorithms a DER SubjectPublicKeyInfo (`spki`).
    pub fn keys(&self) -> &[(usize, Vec<u8>)] {
        &self.keys
    }

    /// The signature: for ECDSA the fixed-width `r ‖ s` WebCrypto takes (not DER), for RSA
    /// the signature bytes as sent.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The exact bytes the provider signed.
    pub fn message(&self) -> &[u8] {
        &self.message
    }
}

/// The algorithms a [`HostCheck`] can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostAlgorithm {
    /// ECDSA over P-256 with SHA-256 of the message (WebCrypto `{name: "ECDSA", hash:
    /// "SHA-256"}`, key `{name: "ECDSA", namedCurve: "P-256"}` in `raw` form).
    EcdsaP256Sha256,
    /// RSA PKCS#1 v1.5 with SHA-256 (WebCrypto `RSASSA-PKCS1-v1_5`, key in `spki` form
    /// imported with `hash: "SHA-256"`).
    RsaPkcs1v15Sha256,
    /// RSA PKCS#1 v1.5 with SHA-1 (as above with `hash: "SHA-1"`).
    RsaPkcs1v15Sha1,
}

impl HostAlgorithm {
    /// The stable snake_case name (`"ecdsa_p256_sha256"`).
    pub fn as_str(self) -> &'static str {
        match self {
            HostAlgorithm::EcdsaP256Sha256 => "ecdsa_p256_sha256",
            HostAlgorithm::RsaPkcs1v15Sha256 => "rsa_pkcs1v15_sha256",
            HostAlgorithm::RsaPkcs1v15Sha1 => "rsa_pkcs1v15_sha1",
        }
    }
}

/// What the host's crypto answered to a [`HostCheck`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostVerdict {
    /// The signature verifies under the key with this index (the first such key of
    /// [`HostCheck::keys`]).
    Accepted(usize),
    /// It verifies under none of the keys.
    Rejected,
}

/// Prepare the signature math of `request` for the host's own crypto.
///
/// `Ok(None)` when the provider's scheme has no host form (HMAC and credential schemes): call
/// [`verify`]. `Ok(Some(check))` when every other rule passed and only the signature math
/// is left; run it and pass the answer to [`verify_with_host`]. An error is what [`verify`]
/// would answer for the same request (a missing header, a stale timestamp, no key, …).
///
/// # Errors
/// As [`verify`], except `signature_mismatch`, which only the signature math can tell.
///
/// # Example
/// ```
/// use mailstate_core::{Headers, Provider, Timestamp, verify::{HostVerdict, Keys, SignedRequest, VerifyOptions}};
/// use mailstate_core::{verify::{prepare_host_check, verify_with_host}};
///
/// let key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfAcftafjs9u4FXVXBLPOnjVuBVOSEcGEIJluH7U28dGyHObbfCnwp3IVcEZE0OGGetuTzDf1pZkbwWUjd5ZnEQ==";
/// let headers: Headers = [
///     ("X-Twilio-Email-Event-Webhook-Signature", "MEQCIA0Tnl06AD+ZerNorMORZZWGDc/jctEO1euApFHcshb6AiBf5UvrG3orAg/qHgyLGm1TGpl5Dz+p+QNGdQgCMLai3g=="),
///     ("X-Twilio-Email-Event-Webhook-Timestamp", "1767225600"),
/// ]
/// .into_iter()
/// .collect();
/// let request = SignedRequest::new(b"[]", &headers);
/// let keys = Keys::new().with_public_key(key).unwrap();
/// let now = Timestamp::from_millis(1_767_225_600_000).unwrap();
/// let opts = VerifyOptions::new();
/// let check = prepare_host_check(Provider::Sendgrid, &request, &keys, now, &opts).unwrap().unwrap();
/// assert_eq!(check.message(), b"1767225600[]");
/// assert_eq!(check.signature().len(), 64);
/// let ok = verify_with_host(Provider::Sendgrid, &request, &keys, now, &opts, HostVerdict::Accepted(0))
///     .unwrap();
/// assert_eq!(ok.key_index(), 0);
/// // The host found no key under which the signature verifies:
/// let err = verify_with_host(Provider::Sendgrid, &request, &keys, now, &opts, HostVerdict::Rejected)
///     .unwrap_err();
/// assert_eq!(err.code(), "signature_mismatch");
/// ```
pub fn prepare_host_check(
    provider: Provider,
    request: &SignedRequest<'_>,
    keys: &Keys,
    now: Timestamp,
    options: &VerifyOptions<'_>,
) -> Result<Option<HostCheck>, Error> {
    let result = check_size(request).and_then(|()| {
        Ok(host_form(provider, request, keys, now, options)?.and_then(|f| f.host_check()))
    });
    result.map_err(|e| e.with_provider(provider.as_str()))
}

/// A check run up to its signature math, for a scheme whose math a host can do.
enum HostForm<'a, 'k> {
    /// SendGrid's ECDSA.
    Ecdsa(sendgrid::Prepared<'a, 'k>),
    /// Postal's, SES's and Scaleway's RSA.
    Rsa(postal::RsaPrepared<'a, 'k>),
}

impl HostForm<'_, '_> {
    fn host_check(&self) -> Option<HostCheck> {
        match self {
            HostForm::Ecdsa(p) => Some(p.host_check()),
            HostForm::Rsa(p) => p.host_check(),
        }
    }

    fn with_verdict(&self, verdict: HostVerdict) -> Result<Verified, Error> {
        match self {
            HostForm::Ecdsa(p) => p.with_verdict(verdict),
            HostForm::Rsa(p) => p.with_verdict(verdict),
        }
    }
}

/// `provider`'s check prepared up to its math (every other rule run), or `None` for a scheme
/// without a host form: the HMAC schemes (Standard Webhooks' included: in workerd its check
/// in wasm costs less than the WebCrypto call and the await it needs, see BENCHMARKS.md) and
/// the credential checks, which [`verify`] runs whole. The one list [`prepare_host_check`]
/// and [`verify_with_host`] both read.
fn host_form<'a, 'k>(
    provider: Provider,
    request: &SignedRequest<'a>,
    keys: &'k Keys,
    now: Timestamp,
    options: &VerifyOptions<'_>,
) -> Result<Option<HostForm<'a, 'k>>, Error> {
    Ok(Some(match check_for(provider, options) {
        Check::Sendgrid => HostForm::Ecdsa(sendgrid::prepare(request, keys, now, options)?),
        Check::Postal => HostForm::Rsa(postal::prepare(request, keys)?),
        Check::Ses => HostForm::Rsa(ses::prepare(request, keys, now, options)?),
        Check::Scaleway => HostForm::Rsa(ses::prepare_scaleway(request, keys, now, options)?),
        Check::StandardWebhooks(_)
        | Check::Mailgun
        | Check::Resend
        | Check::Mandrill
        | Check::Mailersend
        | Check::Mailtrap
        | Check::Credentials
        | Check::UnisenderGo
        | Check::Nothing => return Ok(None),
    }))
}

/// [`verify`], with the signature math answered by the host's crypto for the check
/// [`prepare_host_check`] prepared for the same request, keys, time and options.
///
/// Every rule but the math runs again here, so a verdict can never pass a request the rules
/// refuse. For a scheme without a host form the verdict is ignored and [`verify`] runs.
///
/// # Errors
/// As [`verify`]; `signature_mismatch` for [`HostVerdict::Rejected`]; `invalid_value` for a
/// verdict naming a key that was not a candidate of the check (a host bug).
pub fn verify_with_host(
    provider: Provider,
    request: &SignedRequest<'_>,
    keys: &Keys,
    now: Timestamp,
    options: &VerifyOptions<'_>,
    verdict: HostVerdict,
) -> Result<Verified, Error> {
    let result = check_size(request).and_then(|()| {
        match host_form(provider, request, keys, now, options)? {
            Some(form) => form.with_verdict(verdict),
            None => verify(provider, request, keys, now, options),
        }
    });
    result.map_err(|e| e.with_provider(provider.as_str()))
}

/// A host's verdict on a check whose candidate keys are `candidates`: the accepting key's
/// index, `signature_mismatch`, or `invalid_value` for a key that was not a candidate.
fn take_verdict(
    scheme: Scheme,
    candidates: &[usize],
    verdict: HostVerdict,
) -> Result<usize, Error> {
    match verdict {
        HostVerdict::Rejected => Err(mismatch(scheme)),
        HostVerdict::Accepted(i) if candidates.contains(&i) => Ok(i),
        // A host that names a key it was not asked about has a bug: refuse, as ours.
        HostVerdict::Accepted(i) => Err(Error::new(
            ErrorKind::InvalidValue,
            format!(
                "host verdict names key {i}, which is not a candidate key of this {scheme} check"
            ),
        )),
    }
}

/// The check of a scheme whose header `name` carries the hex HMAC-SHA256 of the raw body
/// under one of the scheme's secrets, and nothing else (MailerSend, Mailtrap: no timestamp, so
/// no replay window).
fn verify_body_hmac_hex(
    req: &SignedRequest<'_>,
    keys: &Keys,
    name: &str,
    scheme: Scheme,
) -> Result<Verified, Error> {
    let sig = crate::encoding::decode_hex(req.header(name)?.trim())
        .filter(|s| s.len() == 32)
        .ok_or_else(|| bad_encoding(name, "64 hex digits"))?;
    keys.secrets(scheme)?
        .iter()
        .position(|key| {
            crate::signature::ct_eq(&crate::signature::hmac_sha256(key, &[req.body]), &sig)
        })
        .map(|i| Verified::new(scheme, i))
        .ok_or_else(|| mismatch(scheme))
}

/// The signature does not verify under any configured key.
fn mismatch(scheme: Scheme) -> Error {
    Error::new(ErrorKind::SignatureMismatch, format!("{scheme} signature does not match"))
}

/// A header or field is not in the encoding its scheme needs.
fn bad_encoding(what: &str, expected: &str) -> Error {
    Error::new(ErrorKind::BadEncoding, format!("{what} is not {expected}"))
}
