//! Amazon SES events arrive in the Amazon SNS envelope, signed by SNS: RSA PKCS#1 v1.5 with
//! SHA-1 (`SignatureVersion` 1) or SHA-256 (2) over a canonical string of `name\nvalue\n`
//! pairs, with the key of the X.509 certificate at `SigningCertURL`.
//!
//! | `Type` | signed fields, in this order |
//! |---|---|
//! | `Notification` | `Message`, `MessageId`, `Subject` (only when present), `Timestamp`, `TopicArn`, `Type` |
//! | `SubscriptionConfirmation`, `UnsubscribeConfirmation` | `Message`, `MessageId`, `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type` |
//!
//! See <https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html>.
//!
//! # Unsupported
//! Raw message delivery has no envelope and no signature; it cannot be verified here (put
//! basic-auth credentials in the endpoint URL and check them at the edge instead).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::postal::{RsaPrepared, rsa_key};
use super::{Keys, Scheme, SignedRequest, Verified, VerifyOptions, bad_encoding};
use crate::Timestamp;
use crate::encoding::decode_base64;
use crate::error::{Error, ErrorKind};
use crate::signature::check_tolerance;

pub(super) fn verify(
    req: &SignedRequest<'_>,
    keys: &Keys,
    now: Timestamp,
    opts: &VerifyOptions<'_>,
) -> Result<Verified, Error> {
    prepare(req, keys, now, opts)?.verify()
}

/// Scaleway Topics and Events: the SNS scheme with Scaleway's certificate hosts.
pub(super) fn verify_scaleway(
    req: &SignedRequest<'_>,
    keys: &Keys,
    now: Timestamp,
    opts: &VerifyOptions<'_>,
) -> Result<Verified, Error> {
    prepare_scaleway(req, keys, now, opts)?.verify()
}

/// Who runs the SNS-compatible service, which decides the hosts a signing certificate may come
/// from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CertHosts {
    /// Amazon SNS: `sns.<region>.amazonaws.com[.cn]`.
    Aws,
    /// Scaleway Topics and Events: a host under `scw.cloud` or `scaleway.com`.
    Scaleway,
}

impl CertHosts {
    fn allows(self, url: &str) -> bool {
        match self {
            CertHosts::Aws => is_sns_cert_url(url),
            CertHosts::Scaleway => is_scaleway_cert_url(url),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            CertHosts::Aws => {
                "SigningCertURL is not an https url on an sns.<region>.amazonaws.com host"
            }
            CertHosts::Scaleway => {
                "SigningCertURL is not an https url on a scaleway host (*.scw.cloud, *.scaleway.com)"
            }
        }
    }
}

/// The envelope read, the canonical string built, the certificate URL and the time checked, an
/// RSA key configured: every rule but the math, in the order `verify` reports them.
pub(super) fn prepare<'k>(
    req: &SignedRequest<'_>,
    keys: &'k Keys,
    now: Timestamp,
    opts: &VerifyOptions<'_>,
) -> Result<RsaPrepared<'static, 'k>, Error> {
    prepare_with(req, keys, now, opts, CertHosts::Aws)
}

/// [`prepare`] for Scaleway's SNS-compatible signatures.
pub(super) fn prepare_scaleway<'k>(
    req: &SignedRequest<'_>,
    keys: &'k Keys,
    now: Timestamp,
    opts: &VerifyOptions<'_>,
) -> Result<RsaPrepared<'static, 'k>, Error> {
    prepare_with(req, keys, now, opts, CertHosts::Scaleway)
}

fn prepare_with<'k>(
    req: &SignedRequest<'_>,
    keys: &'k Keys,
    now: Timestamp,
    opts: &VerifyOptions<'_>,
    hosts: CertHosts,
) -> Result<RsaPrepared<'static, 'k>, Error> {
    let msg: Map<String, Value> = serde_json::from_slice(req.body)
        .map_err(|_| bad_encoding("body", "an sns message (a json object)"))?;
    let field = |name: &str| -> Result<Option<&str>, Error> {
        match msg.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad_encoding(name, "a string")),
        }
    };
    let sig_field = |name: &str| {
        field(name)?.ok_or_else(|| {
            Error::new(ErrorKind::MissingHeader, format!("sns message has no {name}"))
        })
    };
    let signature = sig_field("Signature")?;
    let version = sig_field("SignatureVersion")?;
    let cert_url = sig_field("SigningCertURL")?;
    let kind = field("Type")?.ok_or_else(|| Error::missing("Type"))?;
    let signed: &[&str] = match kind {
        "Notification" => &["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
            &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        }
        other => return Err(Error::invalid("Type", format!("unknown sns message type {other:?}"))),
    };
    let mut canonical = String::new();
    for &name in signed {
        match field(name)? {
            Some(v) => {
                canonical.push_str(name);
                canonical.push('\n');
                canonical.push_str(v);
                canonical.push('\n');
            }
            None if name == "Subject" => {}
            None => return Err(Error::missing(name)),
        }
    }
    let scheme = match version {
        "1" => Scheme::SnsRsaSha1,
        "2" => Scheme::SnsRsaSha256,
        _ => return Err(bad_encoding("SignatureVersion", "1 or 2")),
    };
    let sig = decode_base64(signature).ok_or_else(|| bad_encoding("Signature", "base64"))?;
    if !hosts.allows(cert_url) {
        return Err(Error::new(ErrorKind::UnknownKey, hosts.describe()));
    }
    let ts = field("Timestamp")?.unwrap_or_default();
    let signed_at = Timestamp::parse_rfc3339(ts)
        .map_err(|_| bad_encoding("Timestamp", "an rfc 3339 date-time"))?;
    check_tolerance(signed_at, now, opts.tolerance_secs)?;
    let mut candidates = keys.public("rsa (sns signing certificate)", rsa_key)?;
    if hosts == CertHosts::Scaleway {
        // Scaleway asks receivers not to trust the certificate itself but its CA.
        if keys.trust_anchors.is_empty() {
            return Err(Error::new(
                ErrorKind::UnknownKey,
                "no trust anchor configured: scaleway signing certificates must be checked \
                 against scaleway's ca (sns-trust-chain.pem)",
            ));
        }
        candidates.retain(|(i, _)| keys.chains_to_anchor(*i, now));
        if candidates.is_empty() {
            return Err(Error::new(
                ErrorKind::UnknownKey,
                "no configured signing certificate was issued by a configured trust anchor \
                 and is valid now",
            ));
        }
    }
    let keys = candidates;
    Ok(RsaPrepared {
        scheme,
        sha256: scheme == Scheme::SnsRsaSha256,
        keys,
        sig,
        message: Cow::Owned(canonical.into_bytes()),
        signed_at: Some(signed_at),
    })
}

/// `https://sns.<region>.amazonaws.com[.cn]/…`: no user info, no port, a plausible region.
fn is_sns_cert_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if !rest[host.len()..].starts_with('/') {
        return false;
    }
    let Some(region) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
        .and_then(|h| h.strip_prefix("sns."))
    else {
        return false;
    };
    region.len() >= 3
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `https://<host>.scw.cloud/…` or `https://<host>.scaleway.com/…`: no user info, no port, a
/// lower-case DNS name.
fn is_scaleway_cert_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if !rest[host.len()..].starts_with('/') {
        return false;
    }
    let Some(name) = host.strip_suffix(".scw.cloud").or_else(|| host.strip_suffix(".scaleway.com"))
    else {
        return false;
    };
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::{is_scaleway_cert_url, is_sns_cert_url};

    #[test]
    fn only_scaleway_hosts_over_https_sign_for_scaleway() {
        for good in [
            "https://messaging.s3.fr-par.scw.cloud/fr-par/sns/cert-1.pem",
            "https://sns.mnq.nl-ams.scaleway.com/cert.pem",
        ] {
            assert!(is_scaleway_cert_url(good), "{good}");
        }
        for bad in [
            "http://messaging.s3.fr-par.scw.cloud/x.pem",
            "https://scw.cloud/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.pem",
            "https://evil.example/x.scw.cloud/x.pem",
            "https://x.scw.cloud.evil.example/x.pem",
            "https://x.scw.cloud@evil.example/x.pem",
            "https://x.scw.cloud:8443/x.pem",
            "https://a..scw.cloud/x.pem",
            "https://X.scw.cloud/x.pem",
            "https://x.scw.cloud",
        ] {
            assert!(!is_scaleway_cert_url(bad), "{bad}");
        }
    }

    #[test]
    fn only_amazon_sns_hosts_over_https_sign() {
        for good in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
            "https://sns.us-gov-west-1.amazonaws.com/x.pem",
        ] {
            assert!(is_sns_cert_url(good), "{good}");
        }
        for bad in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com@evil.example/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://sns.amazonaws.com/x.pem",
            "https://sqs.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com",
            "https://sns.US-EAST-1.amazonaws.com/x.pem",
            "https://sns.us.east.1.amazonaws.com/x.pem",
        ] {
            assert!(!is_sns_cert_url(bad), "{bad}");
        }
    }
}
