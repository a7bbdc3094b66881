//! Providers and input formats, and the one `match` that dispatches to them.
//!
//! A payload is the body exactly as received plus its headers. Normalizing it gives the
//! canonical events it carries, one error per element that could not be read (the other
//! elements still come out), and, for provider control messages that are not events (an SNS
//! subscription confirmation, a SparkPost ping), a [`Control`] telling the caller what to do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::{Event, providers};

/// Largest body `normalize` accepts (64 MiB). Webhook batches are far smaller (SendGrid caps a
/// POST at about 768 KB); exports larger than this go through line by line.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// The sources mailstate reads: providers, and the canonical NDJSON and CSV formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// Canonical events, one JSON object per line, validated and passed through.
    Ndjson,
    /// Canonical events as CSV with a header row (RFC 4180 quoting); see [`Event::csv_header`].
    Csv,
    /// Twilio SendGrid Event Webhook.
    Sendgrid,
    /// Amazon SES through SNS (or raw message delivery).
    Ses,
    /// Mailgun webhooks and Events API pages.
    Mailgun,
    /// Postmark webhooks.
    Postmark,
    /// SparkPost webhook batches and Events API pages.
    Sparkpost,
    /// Resend (Svix) webhooks.
    Resend,
    /// Mailchimp Transactional (Mandrill) webhooks.
    Mandrill,
    /// Mailjet event API.
    Mailjet,
    /// Brevo transactional webhooks.
    Brevo,
    /// MailerSend webhooks.
    Mailersend,
    /// Postal webhooks.
    Postal,
}

impl Provider {
    /// Every source, in slug order of the docs.
    pub const ALL: [Provider; 13] = [
        Provider::Ndjson,
        Provider::Csv,
        Provider::Sendgrid,
        Provider::Ses,
        Provider::Mailgun,
        Provider::Postmark,
        Provider::Sparkpost,
        Provider::Resend,
        Provider::Mandrill,
        Provider::Mailjet,
        Provider::Brevo,
        Provider::Mailersend,
        Provider::Postal,
    ];

    /// The slug (`"sendgrid"`), as in the canonical `provider` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Ndjson => "ndjson",
            Provider::Csv => "csv",
            Provider::Sendgrid => "sendgrid",
            Provider::Ses => "ses",
            Provider::Mailgun => "mailgun",
            Provider::Postmark => "postmark",
            Provider::Sparkpost => "sparkpost",
            Provider::Resend => "resend",
            Provider::Mandrill => "mandrill",
            Provider::Mailjet => "mailjet",
            Provider::Brevo => "brevo",
            Provider::Mailersend => "mailersend",
            Provider::Postal => "postal",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = Error;

    fn from_str(s: &str) -> Result<Provider, Error> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
            Error::new(
                ErrorKind::UnknownProvider,
                format!("unknown provider {s:?}, expected one of {}", known.join(", ")),
            )
        })
    }
}

/// HTTP headers as received; names compare case-insensitively.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Add a header (repeated names are kept in order).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The first value of `name`, compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Headers {
        Headers(iter.into_iter().map(|(n, v)| (n.into(), v.into())).collect())
    }
}

/// One request or file as received: raw body bytes and headers.
#[derive(Clone, Copy, Debug)]
pub struct Payload<'a> {
    /// The body, byte for byte.
    pub body: &'a [u8],
    /// The request headers (empty for files).
    pub headers: &'a Headers,
}

/// A provider message that is not an event, and what the caller should do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// What kind of control message it is.
    pub kind: ControlKind,
    /// A URL to visit (an SNS `SubscribeURL`), when there is one.
    #[serde(default)]
    pub url: Option<String>,
    /// Extra detail for logs (topic ARN, the ping's description).
    #[serde(default)]
    pub detail: Option<String>,
}

/// The kinds of control messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ControlKind {
    /// SNS asks to confirm a subscription: GET `url` to confirm.
    SubscriptionConfirmation,
    /// SNS reports the subscription was removed.
    UnsubscribeConfirmation,
    /// A provider's test ping or validation request: answer 2xx, nothing to store.
    Ping,
}

/// What one payload normalized to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Normalized {
    /// The canonical events, in payload order.
    pub events: Vec<Event>,
    /// One error per element that could not be normalized.
    pub errors: Vec<Error>,
    /// Set when the payload was a control message rather than events.
    pub control: Option<Control>,
}

/// Normalize one payload from `provider` into canonical events.
///
/// # Errors
/// An error for the payload as a whole (too large, not UTF-8, not JSON, not this provider's
/// shape, a provider whose normalizer has not landed). Errors in single elements of a batch
/// come back in [`Normalized::errors`] instead, with the other elements' events.
///
/// # Example
/// ```
/// use mailstate_core::{Headers, Payload, Provider, normalize};
/// let body = br#"{"event_key":"ses:1","provider":"ses","type":"delivered","provider_type":"Delivery"}"#;
/// let out = normalize(Provider::Ndjson, Payload { body, headers: &Headers::new() }).unwrap();
/// assert_eq!(out.events.len(), 1);
/// ```
pub fn normalize(provider: Provider, payload: Payload<'_>) -> Result<Normalized, Error> {
    if payload.body.len() > MAX_BODY_BYTES {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("body of {} bytes exceeds the limit of {MAX_BODY_BYTES}", payload.body.len()),
        )
        .with_provider(provider.as_str()));
    }
    let result = match provider {
        Provider::Ndjson => Ok(providers::ndjson::normalize(payload)),
        Provider::Csv => providers::csv::normalize(payload),
        Provider::Sparkpost => providers::sparkpost::normalize(payload),
        Provider::Resend => providers::resend::normalize(payload),
        Provider::Mandrill => providers::mandrill::normalize(payload),
        Provider::Mailjet => providers::mailjet::normalize(payload),
        Provider::Brevo => providers::brevo::normalize(payload),
        Provider::Mailersend => providers::mailersend::normalize(payload),
        Provider::Postal => providers::postal::normalize(payload),
        other => Err(Error::new(
            ErrorKind::Unsupported,
            format!("normalizing {other} payloads is not implemented yet"),
        )),
    };
    result.map_err(|e| if e.provider().is_none() { e.with_provider(provider.as_str()) } else { e })
}
