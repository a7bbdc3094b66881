//! Providers that do not sign their webhooks (Postmark, SparkPost, Mailjet, Brevo, SMTP2GO,
//! ZeptoMail, whose signature is unconfirmed, SES through EventBridge, Azure Event Grid,
//! Elastic Email): the request is authentic when it presents a configured credential.
//!
//! Accepted, compared in constant time with each configured secret:
//! - `Authorization: Basic <base64 user:password>` equal to the secret `user:password` (what
//!   a sender does with credentials in the webhook URL, and SparkPost's `basic` auth);
//! - `Authorization: Bearer <token>` equal to the secret (SparkPost's `oauth2`, checked here as
//!   a shared token: core does not run the OAuth flow);
//! - the token header equal to the secret: SparkPost's legacy `X-MessageSystems-Webhook-Token`,
//!   or the header named by [`super::VerifyOptions::with_token_header`] (a custom header on a
//!   Postmark webhook, for example; the API-key header of an EventBridge connection; a custom
//!   delivery header of an Event Grid subscription);
//! - a query parameter of the request URL (given with [`super::SignedRequest::with_url`]) equal
//!   to the secret: the secret put in the endpoint URL (Event Grid's documented query-string
//!   secret, Elastic Email's only option). For Elastic Email the body is that query string, so
//!   its parameters count too. Any parameter may hold it: the secret itself is what must match.
//!
//! None of them carries a time: dedupe on the events themselves.

use super::{Keys, Scheme, SignedRequest, Verified, VerifyOptions};
use crate::Provider;
use crate::encoding::decode_base64;
use crate::error::{Error, ErrorKind};
use crate::providers::form::decode_pairs;
use crate::signature::ct_eq;
use crate::webhook::HeaderName;

const AUTHORIZATION: &str = "Authorization";
/// SparkPost's legacy token header.
const SPARKPOST_TOKEN: &str = "X-MessageSystems-Webhook-Token";

/// Every header this check reads for `provider` but the configured token header (see
/// `super::header_names`).
pub(super) fn headers(provider: Provider) -> &'static [HeaderName] {
    const ALL: &[HeaderName] =
        &[HeaderName::always(AUTHORIZATION), HeaderName::always(SPARKPOST_TOKEN)];
    if provider == Provider::Sparkpost { ALL } else { &ALL[..1] }
}

pub(super) fn verify(
    provider: Provider,
    req: &SignedRequest<'_>,
    keys: &Keys,
    opts: &VerifyOptions<'_>,
) -> Result<Verified, Error> {
    let secrets = keys.secrets(Scheme::BasicAuth)?;
    let mut presented: Vec<(Scheme, Vec<u8>)> = Vec::new();
    if let Some(auth) = req.headers.get(AUTHORIZATION) {
        let (kind, value) = auth.trim().split_once(' ').unwrap_or((auth.trim(), ""));
        if kind.eq_ignore_ascii_case("basic") {
            let decoded = decode_base64(value.trim()).ok_or_else(|| {
                Error::new(
                    ErrorKind::BadEncoding,
                    "Authorization: Basic credentials are not base64",
                )
            })?;
            presented.push((Scheme::BasicAuth, decoded));
        } else if kind.eq_ignore_ascii_case("bearer") {
            presented.push((Scheme::BearerToken, value.trim().as_bytes().to_vec()));
        }
    }
    let default_header = (provider == Provider::Sparkpost).then_some(SPARKPOST_TOKEN);
    for name in [opts.token_header, default_header].into_iter().flatten() {
        if let Some(v) = req.headers.get(name) {
            presented.push((Scheme::SharedToken, v.as_bytes().to_vec()));
        }
    }
    let query = req.url.and_then(|u| u.split('#').next()?.split_once('?')).map(|(_, q)| q);
    let body_query = (provider == Provider::ElasticEmail).then(|| {
        let b = req.body.trim_ascii();
        b.strip_prefix(b"?").unwrap_or(b)
    });
    for q in [query.map(str::as_bytes), body_query].into_iter().flatten() {
        // A query string that does not decode presents nothing; it is not an error of its own.
        for (_, value) in decode_pairs(q).unwrap_or_default() {
            if !value.is_empty() {
                presented.push((Scheme::UrlToken, value.into_bytes()));
            }
        }
    }
    if presented.is_empty() {
        return Err(Error::new(
            ErrorKind::Unauthorized,
            "no credentials: expected Authorization (Basic or Bearer), a token header or a \
             secret in the url's query",
        ));
    }
    // Compare every presented credential with every secret, without stopping early.
    let mut found = None;
    for (scheme, cred) in &presented {
        for (i, secret) in secrets.iter().enumerate() {
            if ct_eq(cred, secret) && found.is_none() {
                found = Some(Verified::new(*scheme, i));
            }
        }
    }
    found.ok_or_else(|| Error::new(ErrorKind::Unauthorized, "credentials do not match"))
}
