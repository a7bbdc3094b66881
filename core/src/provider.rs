//! Providers and input formats, and the one `match` that dispatches to them.
//!
//! A payload is the body exactly as received plus its headers. Normalizing it gives the
//! canonical events it carries, one error per element that could not be read (the other
//! elements still come out), and, for provider control messages that are not events (an SNS
//! subscription confirmation, a SparkPost ping), a [`Control`] telling the caller what to do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind};
use std::borrow::Cow;

use crate::{BorrowedEvent, Event, providers};

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
    /// ARF feedback reports (RFC 5965): complaint emails from mailbox providers' feedback loops.
    Arf,
    /// Mailtrap Email Sending webhooks (JSON batches or JSON Lines).
    Mailtrap,
    /// SMTP2GO webhooks (JSON or form-encoded).
    Smtp2go,
    /// ZeptoMail (Zoho) webhooks.
    Zeptomail,
    /// Loops webhooks (Standard Webhooks).
    Loops,
    /// AhaSend webhooks (Standard Webhooks headers, raw-string key).
    Ahasend,
    /// Azure Communication Services Email through Event Grid (Event Grid or CloudEvents schema).
    AzureAcs,
    /// Elastic Email HTTP notifications (a GET query string).
    ElasticEmail,
    /// Scaleway Transactional Email through Topics and Events (SNS-style).
    Scaleway,
    /// Amazon SES through Amazon EventBridge (an API destination or a relay).
    SesEventbridge,
    /// Unisender Go (UniOne) webhooks.
    UnisenderGo,
}

impl Provider {
    /// Every source, in slug order of the docs.
    pub const ALL: [Provider; 24] = [
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
        Provider::Arf,
        Provider::Mailtrap,
        Provider::Smtp2go,
        Provider::Zeptomail,
        Provider::Loops,
        Provider::Ahasend,
        Provider::AzureAcs,
        Provider::ElasticEmail,
        Provider::Scaleway,
        Provider::SesEventbridge,
        Provider::UnisenderGo,
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
            Provider::Arf => "arf",
            Provider::Mailtrap => "mailtrap",
            Provider::Smtp2go => "smtp2go",
            Provider::Zeptomail => "zeptomail",
            Provider::Loops => "loops",
            Provider::Ahasend => "ahasend",
            Provider::AzureAcs => "azure_acs",
            Provider::ElasticEmail => "elastic_email",
            Provider::Scaleway => "scaleway",
            Provider::SesEventbridge => "ses_eventbridge",
            Provider::UnisenderGo => "unisender_go",
        }
    }

    /// The request headers this provider's normalizer reads, lower-case (each normalizer
    /// lists them next to the code that reads them); the verifier's are
    /// `verify::header_names`'s.
    pub(crate) fn header_names(self) -> &'static [crate::webhook::HeaderName] {
        match self {
            Provider::Ses => providers::ses::HEADERS,
            Provider::Resend => providers::resend::HEADERS,
            Provider::Loops => providers::loops::HEADERS,
            Provider::Ahasend => providers::ahasend::HEADERS,
            Provider::AzureAcs => providers::azure_acs::HEADERS,
            // These read the body alone.
            Provider::Ndjson
            | Provider::Csv
            | Provider::Sendgrid
            | Provider::Mailgun
            | Provider::Postmark
            | Provider::Sparkpost
            | Provider::Mandrill
            | Provider::Mailjet
            | Provider::Brevo
            | Provider::Mailersend
            | Provider::Postal
            | Provider::Arf
            | Provider::Mailtrap
            | Provider::Smtp2go
            | Provider::Zeptomail
            | Provider::ElasticEmail
            | Provider::Scaleway
            | Provider::SesEventbridge
            | Provider::UnisenderGo => &[],
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
    pub const fn new() -> Headers {
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
    /// Event Grid's subscription validation: answer 200 with `{"validationResponse": detail}`
    /// (see [`Control::answer`]), or GET `url` within ten minutes.
    SubscriptionValidation,
    /// The CloudEvents webhook abuse-protection request (an `OPTIONS` with
    /// `WebHook-Request-Origin`, the origin in `detail`): answer 200 with
    /// `WebHook-Allowed-Origin` set to it (see [`Control::answer`]).
    OriginValidation,
}

/// The HTTP answer a handshake needs beyond any 2xx: a body, headers, or both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// The status to answer with.
    pub status: u16,
    /// Response headers to set, in name order.
    pub headers: std::collections::BTreeMap<String, String>,
    /// The response body, when the handshake needs one.
    pub body: Option<String>,
}

impl Control {
    /// The exact HTTP answer this control needs, for the handshakes that need one: Event Grid's
    /// subscription validation (200 with `{"validationResponse": code}`; a 202 is not accepted)
    /// and the CloudEvents abuse-protection request (200 with `WebHook-Allowed-Origin`).
    /// `None` for the others, where any 2xx will do (and an SNS confirmation needs a GET of
    /// [`Control::url`](Control) instead).
    ///
    /// # Example
    /// ```
    /// use mailstate_core::{Control, ControlKind};
    /// let c = Control { kind: ControlKind::SubscriptionValidation, url: None, detail: Some("512d38b6".into()) };
    /// let a = c.answer().unwrap();
    /// assert_eq!(a.body.as_deref(), Some(r#"{"validationResponse":"512d38b6"}"#));
    /// ```
    pub fn answer(&self) -> Option<Answer> {
        let detail = self.detail.as_deref()?;
        let mut headers = std::collections::BTreeMap::new();
        match self.kind {
            ControlKind::SubscriptionValidation => {
                headers.insert("content-type".to_owned(), "application/json".to_owned());
                let body = serde_json::json!({ "validationResponse": detail }).to_string();
                Some(Answer { status: 200, headers, body: Some(body) })
            }
            ControlKind::OriginValidation => {
                headers.insert("webhook-allowed-origin".to_owned(), detail.to_owned());
                Some(Answer { status: 200, headers, body: None })
            }
            _ => None,
        }
    }
}

/// What one payload normalized to: owned events (`Normalized`), or events that borrow from the
/// payload (`Normalized<Cow<'a, str>>`, from [`normalize_borrowed`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Normalized<S = String> {
    /// The canonical events, in payload order.
    pub events: Vec<Event<S>>,
    /// One error per element that could not be normalized.
    pub errors: Vec<Error>,
    /// Set when the payload was a control message rather than events.
    pub control: Option<Control>,
}

impl<S> Normalized<S> {
    fn map_errors(mut self, f: impl FnMut(Error) -> Error) -> Normalized<S> {
        self.errors = self.errors.into_iter().map(f).collect();
        self
    }
}

impl Normalized<Cow<'_, str>> {
    /// The owned result: each event's borrowed text copied (see [`BorrowedEvent::into_owned`]).
    pub fn into_owned(self) -> Normalized {
        Normalized {
            events: self.events.into_iter().map(BorrowedEvent::into_owned).collect(),
            errors: self.errors,
            control: self.control,
        }
    }
}

impl From<Normalized> for Normalized<Cow<'_, str>> {
    fn from(n: Normalized) -> Self {
        Normalized {
            events: n.events.into_iter().map(BorrowedEvent::from).collect(),
            errors: n.errors,
            control: n.control,
        }
    }
}

/// Normalize one payload from `provider` into canonical events.
///
/// # Errors
/// An error for the payload as a whole (too large, not UTF-8, not JSON, not this provider's
/// shape). Errors in single elements of a batch come back in [`Normalized::errors`] instead,
/// with the other elements' events.
///
/// # Example
/// ```
/// use mailstate_core::{Headers, Payload, Provider, normalize};
/// let body = br#"{"event_key":"ses:1","provider":"ses","type":"delivered","provider_type":"Delivery"}"#;
/// let out = normalize(Provider::Ndjson, Payload { body, headers: &Headers::new() }).unwrap();
/// assert_eq!(out.events.len(), 1);
/// ```
pub fn normalize(provider: Provider, payload: Payload<'_>) -> Result<Normalized, Error> {
    Ok(match dispatch(provider, payload.body, payload.headers)? {
        Output::Owned(out) => out,
        Output::Borrowed(out) => out.into_owned(),
    })
}

/// [`normalize`] without copying the payload's text: each event's strings point into `payload`
/// where the JSON holds them verbatim (no escapes), and `raw` is the element's own slice of the
/// body. The same events as [`normalize`], serialized to the same bytes; the fast path for
/// callers that write the events out (the CLI's `normalize`, an edge worker's answer) rather
/// than keep them.
///
/// # Errors
/// As [`normalize`].
///
/// # Example
/// ```
/// use mailstate_core::{Headers, Payload, Provider, normalize, normalize_borrowed};
/// let body = br#"[{"event":"delivered","email":"ann@example.com","timestamp":1762200001,
///   "sg_event_id":"ZGVsaXZlcmVk","sg_message_id":"m1.recvd-1"}]"#;
/// let payload = Payload { body, headers: &Headers::new() };
/// let fast = normalize_borrowed(Provider::Sendgrid, payload).unwrap();
/// assert_eq!(fast.events[0].recipient.as_deref(), Some("ann@example.com"));
/// assert_eq!(fast.into_owned(), normalize(Provider::Sendgrid, payload).unwrap());
/// ```
pub fn normalize_borrowed(
    provider: Provider,
    payload: Payload<'_>,
) -> Result<Normalized<Cow<'_, str>>, Error> {
    normalize_body(provider, payload.body, payload.headers)
}

/// [`normalize_borrowed`] whose events borrow from the body alone, so they may outlive the
/// headers.
pub(crate) fn normalize_body<'b>(
    provider: Provider,
    body: &'b [u8],
    headers: &Headers,
) -> Result<Normalized<Cow<'b, str>>, Error> {
    Ok(match dispatch(provider, body, headers)? {
        Output::Owned(out) => out.into(),
        Output::Borrowed(out) => out,
    })
}

/// What a provider's normalizer returns: the providers on the hot path borrow from the body,
/// the others build owned events.
enum Output<'b> {
    Owned(Normalized),
    Borrowed(Normalized<Cow<'b, str>>),
}

/// Run `provider`'s normalizer and name the provider in every error. The normalizers that
/// borrow (SendGrid, Mailgun, SparkPost) read no headers and are given none, so what they
/// return borrows from the body alone.
fn dispatch<'b>(
    provider: Provider,
    body: &'b [u8],
    headers: &Headers,
) -> Result<Output<'b>, Error> {
    /// Headers for the normalizers that never read them.
    static NONE: Headers = Headers::new();
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("body of {} bytes exceeds the limit of {MAX_BODY_BYTES}", body.len()),
        )
        .with_provider(provider.as_str()));
    }
    let payload = Payload { body, headers };
    let body_only = Payload { body, headers: &NONE };
    let owned = Output::Owned;
    let result = match provider {
        Provider::Ndjson => Ok(owned(providers::ndjson::normalize(payload))),
        Provider::Csv => providers::csv::normalize(payload).map(owned),
        Provider::Sparkpost => providers::sparkpost::normalize(body_only).map(Output::Borrowed),
        Provider::Resend => providers::resend::normalize(payload).map(owned),
        Provider::Mandrill => providers::mandrill::normalize(payload).map(owned),
        Provider::Mailjet => providers::mailjet::normalize(payload).map(owned),
        Provider::Brevo => providers::brevo::normalize(payload).map(owned),
        Provider::Mailersend => providers::mailersend::normalize(payload).map(owned),
        Provider::Postal => providers::postal::normalize(payload).map(owned),
        Provider::Arf => providers::arf::normalize(payload).map(owned),
        Provider::AzureAcs => providers::azure_acs::normalize(payload).map(owned),
        Provider::ElasticEmail => providers::elastic_email::normalize(payload).map(owned),
        Provider::Scaleway => providers::scaleway::normalize(payload).map(owned),
        Provider::SesEventbridge => providers::ses_eventbridge::normalize(payload).map(owned),
        Provider::UnisenderGo => providers::unisender_go::normalize(payload).map(owned),
        Provider::Sendgrid => providers::sendgrid::normalize(body_only).map(Output::Borrowed),
        Provider::Ses => providers::ses::normalize(payload).map(owned),
        Provider::Mailgun => providers::mailgun::normalize(body_only).map(Output::Borrowed),
        Provider::Postmark => providers::postmark::normalize(payload).map(owned),
        Provider::Mailtrap => providers::mailtrap::normalize(payload).map(owned),
        Provider::Smtp2go => providers::smtp2go::normalize(payload).map(owned),
        Provider::Zeptomail => providers::zeptomail::normalize(payload).map(owned),
        Provider::Loops => providers::loops::normalize(payload).map(owned),
        Provider::Ahasend => providers::ahasend::normalize(payload).map(owned),
    };
    let tag =
        |e: Error| if e.provider().is_none() { e.with_provider(provider.as_str()) } else { e };
    let mut out = result.map_err(tag)?;
    // Canonical input (NDJSON, CSV) passes through as written; a provider's events get their
    // bounce category here, in one place, after the normalizer stored its provider's own
    // classification (DESIGN.md, "Bounce category").
    if !matches!(provider, Provider::Ndjson | Provider::Csv) {
        match &mut out {
            Output::Owned(n) => crate::category::finish_events(&mut n.events),
            Output::Borrowed(n) => crate::category::finish_events(&mut n.events),
        }
    }
    Ok(match out {
        Output::Owned(out) => Output::Owned(out.map_errors(tag)),
        Output::Borrowed(out) => Output::Borrowed(out.map_errors(tag)),
    })
}

/// Recognize which provider sent a payload, from its headers and the shape of its body
/// (`--provider auto`).
///
/// Headers decide first, because they are unambiguous: `x-amz-sns-*` (SES through SNS),
/// `X-Twilio-Email-Event-Webhook-*` (SendGrid), `svix-id` / `webhook-id` (Resend),
/// `X-Mandrill-Signature`, `X-Postal-Signature`, `X-MessageSystems-*` (SparkPost). Otherwise the
/// body's shape: a `mandrill_events=` form, SparkPost's `msys` wrapper or `results` page, SNS and
/// SES keys, Mailgun's `event-data` or `items`+`paging`, Postmark's `RecordType` (or a Messages
/// API details body's `MessageEvents`), SendGrid's Email Activity `msg_id`+`events`, MailerSend's
/// `activity.*` type, Resend's `email.*` type with `created_at` and `data`, Postal's `uuid` and
/// `payload`, Mailjet's `MessageID`, Brevo's `ts_epoch` or `message-id`, SendGrid's `sg_*` keys,
/// canonical NDJSON (`event_key` and `provider`), Mailtrap's `events` batch (or an event with
/// `event_id` and `sending_stream`, or JSON Lines of them), SMTP2GO's `email_id` (JSON or a
/// form), ZeptoMail's `event_name` and `event_message`, Loops' `eventName` and `eventTime`, and
/// AhaSend's `type`, `timestamp`, `webhook_id` and `data`. A `webhook-id` header without
/// `svix-id` (Standard Webhooks) is Resend's unless the body is Loops' or AhaSend's;
/// `Mailtrap-Signature` is Mailtrap's.
///
/// # Errors
/// `ambiguous_provider` when nothing matches or several providers do (an empty JSON array could
/// come from SendGrid, SparkPost or Mailjet); the message lists the candidates.
///
/// # Example
/// ```
/// use mailstate_core::{Headers, Provider, detect};
/// let body = br#"{"RecordType":"Delivery","MessageID":"m1","Recipient":"a@example.com"}"#;
/// assert_eq!(detect(&Headers::new(), body).unwrap(), Provider::Postmark);
/// assert_eq!(detect(&Headers::new(), b"[]").unwrap_err().code(), "ambiguous_provider");
/// ```
pub fn detect(headers: &Headers, body: &[u8]) -> Result<Provider, Error> {
    let mut found = from_headers(headers);
    if found.is_empty() {
        found = from_body(body);
    } else if found.contains(&Provider::Resend) && headers.get("svix-id").is_none() {
        // `webhook-id` alone is Standard Webhooks, which Resend, Loops and AhaSend all send:
        // the body tells them apart (Resend's, unrecognized, stays the answer it always was).
        let by_body: Vec<Provider> = from_body(body)
            .into_iter()
            .filter(|p| matches!(p, Provider::Loops | Provider::Ahasend))
            .collect();
        if !by_body.is_empty() {
            found.retain(|p| *p != Provider::Resend);
            found.extend(by_body);
        }
    } else if found == [Provider::Ses] && from_body(body) == [Provider::Scaleway] {
        // Scaleway's Topics and Events is SNS-compatible: its `x-amz-sns-*` headers are SNS's,
        // its topic ARN (`arn:scw:sns:…`) is not.
        found = vec![Provider::Scaleway];
    }
    found.sort();
    found.dedup();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::new(
            ErrorKind::AmbiguousProvider,
            "could not recognize the provider from the headers or the body; name it explicitly",
        )),
        many => {
            let names: Vec<&str> = many.iter().map(|p| p.as_str()).collect();
            Err(Error::new(
                ErrorKind::AmbiguousProvider,
                format!(
                    "the payload could come from any of {}; name the provider explicitly",
                    names.join(", ")
                ),
            ))
        }
    }
}

fn from_headers(headers: &Headers) -> Vec<Provider> {
    let mut found = Vec::new();
    for (name, _) in headers.iter() {
        let n = name.to_ascii_lowercase();
        let p = if n.starts_with("x-amz-sns-") {
            Provider::Ses
        } else if n.starts_with("x-twilio-email-event-webhook-") {
            Provider::Sendgrid
        } else if n == "svix-id" || n == "webhook-id" {
            Provider::Resend
        } else if n == "x-mandrill-signature" {
            Provider::Mandrill
        } else if n == "x-postal-signature" {
            Provider::Postal
        } else if n.starts_with("x-messagesystems-") {
            Provider::Sparkpost
        } else if n == "mailtrap-signature" {
            Provider::Mailtrap
        } else if n.starts_with("aeg-") || n == "webhook-request-origin" {
            Provider::AzureAcs
        } else {
            continue;
        };
        found.push(p);
    }
    found
}

fn from_body(body: &[u8]) -> Vec<Provider> {
    let trimmed = body.trim_ascii_start();
    if trimmed.starts_with(b"mandrill_events=") {
        return vec![Provider::Mandrill];
    }
    if is_smtp2go_form(trimmed) {
        return vec![Provider::Smtp2go];
    }
    if is_feedback_report(body) {
        return vec![Provider::Arf];
    }
    if is_elastic_email_query(trimmed) {
        return vec![Provider::ElasticEmail];
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return from_value(&v);
    }
    // Not one JSON value: NDJSON (SES export records or canonical events) by its first line.
    let first = trimmed.split(|b| *b == b'\n').next().unwrap_or_default();
    match serde_json::from_slice::<Value>(first) {
        Ok(v @ Value::Object(_)) => from_value(&v)
            .into_iter()
            .filter(|p| matches!(p, Provider::Ses | Provider::Ndjson | Provider::Mailtrap))
            .collect(),
        _ => Vec::new(),
    }
}

/// SMTP2GO's form-encoded body: not JSON, with its `event` and `email_id` fields.
fn is_smtp2go_form(body: &[u8]) -> bool {
    if matches!(body.first(), Some(b'{' | b'[')) || body.contains(&b'\n') {
        return false;
    }
    let names: Vec<&[u8]> =
        body.split(|b| *b == b'&').map(|p| p.split(|b| *b == b'=').next().unwrap_or(p)).collect();
    names.contains(&&b"event"[..]) && names.contains(&&b"email_id"[..])
}

/// A query string with Elastic Email's notification parameters.
fn is_elastic_email_query(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"?").unwrap_or(body);
    if matches!(body.first(), Some(b'{' | b'[') | None) {
        return false;
    }
    let has = |name: &[u8]| {
        body.split(|b| *b == b'&')
            .any(|pair| pair.starts_with(name) && pair.get(name.len()) == Some(&b'='))
    };
    has(b"status") && has(b"transaction")
}

/// An email (it does not start with JSON) whose headers declare an RFC 5965 feedback report.
fn is_feedback_report(body: &[u8]) -> bool {
    if matches!(body.trim_ascii_start().first(), Some(b'{' | b'[')) {
        return false;
    }
    let head = &body[..body.len().min(16 * 1024)];
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    lower.contains("multipart/report") && lower.contains("feedback-report")
}

fn from_value(v: &Value) -> Vec<Provider> {
    match v {
        Value::Array(items) if items.is_empty() => {
            vec![Provider::Sendgrid, Provider::Sparkpost, Provider::Mailjet]
        }
        Value::Array(items) => {
            let mut found: Vec<Provider> = items.iter().take(8).flat_map(from_element).collect();
            found.sort();
            found.dedup();
            found
        }
        Value::Object(_) => from_object(v),
        _ => Vec::new(),
    }
}

/// Candidates for one element of a JSON array body.
fn from_element(item: &Value) -> Vec<Provider> {
    let Value::Object(o) = item else { return Vec::new() };
    let has = |k: &str| o.contains_key(k);
    let mut found = Vec::new();
    if has("msys") {
        found.push(Provider::Sparkpost);
    }
    let sendgrid_keys = has("sg_event_id") || has("sg_message_id") || has("smtp-id");
    if sendgrid_keys || (has("event") && has("email") && has("timestamp")) {
        found.push(Provider::Sendgrid);
    }
    if has("MessageID") || has("mj_message_id") || (has("event") && has("time")) {
        found.push(Provider::Mailjet);
    }
    if has("_id") && has("msg") && has("ts") {
        found.push(Provider::Mandrill);
    }
    found.extend(from_wave2_keys(o));
    found
}

/// Candidates from the keys an element of a batch and a single object share: the EventBridge
/// envelope (`detail-type`, `detail`), Event Grid (`eventType`, `data`, `topic` or
/// `dataVersion`) and CloudEvents from Azure (`specversion`, a `Microsoft.*` type).
fn from_wave2_keys(o: &serde_json::Map<String, Value>) -> Vec<Provider> {
    let has = |k: &str| o.contains_key(k);
    let mut found = Vec::new();
    if has("detail-type") && has("detail") {
        found.push(Provider::SesEventbridge);
    }
    let ce_type = o.get("type").and_then(Value::as_str).unwrap_or("");
    if (has("eventType") && has("data") && (has("topic") || has("dataVersion")))
        || (has("specversion") && ce_type.starts_with("Microsoft."))
    {
        found.push(Provider::AzureAcs);
    }
    found
}

/// Candidates for a JSON object body.
fn from_object(v: &Value) -> Vec<Provider> {
    let Value::Object(o) = v else { return Vec::new() };
    let has = |k: &str| o.contains_key(k);
    let type_str = o.get("type").and_then(Value::as_str).unwrap_or("");
    let mut found = Vec::new();
    let scaleway_topic =
        o.get("TopicArn").and_then(Value::as_str).is_some_and(|a| a.starts_with("arn:scw:"));
    if scaleway_topic {
        found.push(Provider::Scaleway);
    } else if (has("Type") && (has("TopicArn") || has("MessageId")))
        || ((has("eventType") || has("notificationType")) && has("mail"))
    {
        found.push(Provider::Ses);
    }
    if has("events_by_user") || (has("event_name") && (has("job_id") || has("auth"))) {
        found.push(Provider::UnisenderGo);
    }
    if type_str.starts_with("email_") && has("email_id") && has("domain_id") {
        found.push(Provider::Scaleway);
    }
    found.extend(from_wave2_keys(o));
    if has("event-data") || (has("items") && has("paging")) {
        found.push(Provider::Mailgun);
    }
    if has("RecordType") || (has("MessageID") && (has("TypeCode") || has("MessageEvents"))) {
        found.push(Provider::Postmark);
    }
    if has("msys") || (has("results") && has("links")) {
        found.push(Provider::Sparkpost);
    }
    if type_str.starts_with("activity.") && has("data") {
        found.push(Provider::Mailersend);
    } else if type_str.contains('.') && has("created_at") && has("data") {
        found.push(Provider::Resend);
    }
    if has("uuid") && has("payload") && has("event") {
        found.push(Provider::Postal);
    }
    if has("event") && (has("MessageID") || has("mj_message_id") || has("Message_GUID")) {
        found.push(Provider::Mailjet);
    }
    if has("event") && !has("email_id") && (has("ts_epoch") || has("message-id") || has("ts_event"))
    {
        found.push(Provider::Brevo);
    }
    if (has("events") && !has("msg_id"))
        || (has("event") && has("event_id") && has("sending_stream"))
    {
        found.push(Provider::Mailtrap);
    }
    if has("event") && has("email_id") {
        found.push(Provider::Smtp2go);
    }
    if has("event_name") && has("event_message") {
        found.push(Provider::Zeptomail);
    }
    if has("eventName") && has("eventTime") {
        found.push(Provider::Loops);
    }
    // MailerSend's body has `webhook_id`, `type` and `data` too, but `created_at`, no `timestamp`.
    if has("webhook_id") && has("timestamp") && has("data") && !type_str.starts_with("activity.") {
        found.push(Provider::Ahasend);
    }
    if has("event_key") && has("provider") {
        found.push(Provider::Ndjson);
    }
    if has("msg_id") && has("events") {
        found.push(Provider::Sendgrid);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_body(body: &str) -> Result<Provider, Error> {
        detect(&Headers::new(), body.as_bytes())
    }

    #[test]
    fn every_provider_is_recognized_from_its_body() {
        let samples: [(Provider, &str); 14] = [
            (
                Provider::Sendgrid,
                r#"[{"email":"a@example.com","timestamp":1767225600,"event":"processed","sg_event_id":"e1"}]"#,
            ),
            (
                Provider::Ses,
                r#"{"Type":"Notification","MessageId":"m1","TopicArn":"arn:aws:sns:us-east-2:1:t","Message":"{}"}"#,
            ),
            (
                Provider::Ses,
                r#"{"eventType":"Send","mail":{"messageId":"m1","destination":["a@example.com"]},"send":{}}"#,
            ),
            (
                Provider::Ses,
                "{\"eventType\":\"Send\",\"mail\":{\"messageId\":\"m1\"},\"send\":{}}\n{\"eventType\":\"Send\",\"mail\":{\"messageId\":\"m2\"},\"send\":{}}\n",
            ),
            (
                Provider::Mailgun,
                r#"{"signature":{"timestamp":"1","token":"t","signature":"s"},"event-data":{"event":"delivered"}}"#,
            ),
            (Provider::Mailgun, r#"{"items":[],"paging":{"next":"https://api.mailgun.net/x"}}"#),
            (
                Provider::Postmark,
                r#"{"RecordType":"Open","MessageID":"m1","Recipient":"a@example.com"}"#,
            ),
            (
                Provider::Sparkpost,
                r#"[{"msys":{"message_event":{"type":"delivery","event_id":"1"}}}]"#,
            ),
            (
                Provider::Resend,
                r#"{"type":"email.delivered","created_at":"2026-01-10T09:00:01.250Z","data":{"email_id":"e1"}}"#,
            ),
            (Provider::Mandrill, "mandrill_events=%5B%7B%22event%22%3A%22send%22%7D%5D"),
            (
                Provider::Mailjet,
                r#"{"event":"sent","time":1767600000,"MessageID":1152921512345678901,"email":"a@example.fr"}"#,
            ),
            (
                Provider::Brevo,
                r#"{"event":"delivered","email":"a@example.be","ts_epoch":1768122000123,"message-id":"<m@smtp-relay.mailin.fr>"}"#,
            ),
            (
                Provider::Mailersend,
                r#"{"type":"activity.sent","created_at":"2026-01-12T08:00:00.000000Z","data":{"id":"d1"}}"#,
            ),
            (
                Provider::Postal,
                r#"{"event":"MessageSent","timestamp":1767700000.5,"uuid":"u1","payload":{"status":"Sent"}}"#,
            ),
        ];
        for (want, body) in samples {
            assert_eq!(detect_body(body).unwrap(), want, "{body}");
        }
        let mailjet_batch =
            r#"[{"event":"open","time":1767600000,"MessageID":1,"email":"a@example.fr"}]"#;
        assert_eq!(detect_body(mailjet_batch).unwrap(), Provider::Mailjet);
        let postmark_details =
            r#"{"MessageID":"m1","Status":"Sent","MessageEvents":[{"Type":"Delivered"}]}"#;
        assert_eq!(detect_body(postmark_details).unwrap(), Provider::Postmark);
        let sendgrid_activity = r#"{"msg_id":"m1","to_email":"a@example.com","events":[]}"#;
        assert_eq!(detect_body(sendgrid_activity).unwrap(), Provider::Sendgrid);
        let canonical =
            r#"{"event_key":"ses:1","provider":"ses","type":"open","provider_type":"Open"}"#;
        assert_eq!(detect_body(canonical).unwrap(), Provider::Ndjson);
    }

    #[test]
    fn mailtrap_smtp2go_zeptomail_loops_and_ahasend_are_recognized() {
        let bodies = [
            (Provider::Mailtrap, r#"{"events":[]}"#),
            (
                Provider::Mailtrap,
                r#"{"event":"delivery","event_id":"e1","sending_stream":"bulk","email":"a@example.com"}"#,
            ),
            (
                Provider::Mailtrap,
                "{\"event\":\"open\",\"event_id\":\"e1\",\"sending_stream\":\"bulk\"}\n{\"event\":\"click\",\"event_id\":\"e2\",\"sending_stream\":\"bulk\"}\n",
            ),
            (
                Provider::Smtp2go,
                r#"{"event":"delivered","rcpt":"a@example.com","email_id":"1wAb","message-id":"<m@x>"}"#,
            ),
            (Provider::Smtp2go, "event=delivered&rcpt=a%40example.com&email_id=1wAb"),
            (Provider::Zeptomail, r#"{"event_name":["hardbounce"],"event_message":[]}"#),
            (Provider::Loops, r#"{"eventName":"email.delivered","eventTime":1772960000}"#),
            (
                Provider::Ahasend,
                r#"{"type":"message.delivered","timestamp":"2026-03-06T14:15:16Z","webhook_id":"w","data":{}}"#,
            ),
        ];
        for (want, body) in bodies {
            assert_eq!(detect_body(body).unwrap(), want, "{body}");
        }
        // MailerSend's body has webhook_id, type and data too.
        let mailersend = r#"{"type":"activity.sent","created_at":"2026-01-12T08:00:00Z","webhook_id":"w","data":{}}"#;
        assert_eq!(detect_body(mailersend).unwrap(), Provider::Mailersend);
        // Standard Webhooks headers: the body tells Loops and AhaSend from Resend.
        let sw: Headers =
            [("webhook-id", "msg_1"), ("webhook-timestamp", "1")].into_iter().collect();
        let loops = br#"{"eventName":"email.opened","eventTime":1772960000}"#;
        assert_eq!(detect(&sw, loops).unwrap(), Provider::Loops);
        let aha = br#"{"type":"message.opened","timestamp":"2026-03-06T14:15:16Z","webhook_id":"w","data":{}}"#;
        assert_eq!(detect(&sw, aha).unwrap(), Provider::Ahasend);
        let resend = br#"{"type":"email.sent","created_at":"2026-01-10T09:00:01.250Z","data":{}}"#;
        assert_eq!(detect(&sw, resend).unwrap(), Provider::Resend);
        let mt: Headers = [("Mailtrap-Signature", "00")].into_iter().collect();
        assert_eq!(detect(&mt, b"").unwrap(), Provider::Mailtrap);
    }

    #[test]
    fn wave_two_providers_are_recognized_from_headers_or_body() {
        let samples: [(Provider, &str); 7] = [
            (
                Provider::SesEventbridge,
                r#"{"version":"0","id":"e1","detail-type":"Email Sent","source":"aws.ses","detail":{"eventType":"Send","mail":{}}}"#,
            ),
            (Provider::SesEventbridge, r#"[{"id":"e1","detail-type":"Email Sent","detail":{}}]"#),
            (
                Provider::AzureAcs,
                r#"[{"id":"1","topic":"/t","eventType":"Microsoft.Communication.EmailDeliveryReportReceived","data":{},"dataVersion":"1.0"}]"#,
            ),
            (
                Provider::AzureAcs,
                r#"{"id":"1","specversion":"1.0","type":"Microsoft.Communication.EmailDeliveryReportReceived","data":{}}"#,
            ),
            (
                Provider::Scaleway,
                r#"{"Type":"Notification","MessageId":"m1","TopicArn":"arn:scw:sns:fr-par:project-1:tem","Message":"{}"}"#,
            ),
            (Provider::UnisenderGo, r#"{"auth":"00","events_by_user":[{"events":[]}]}"#),
            (Provider::ElasticEmail, "transaction=t1&to=a%40example.com&status=Sent"),
        ];
        for (want, body) in samples {
            assert_eq!(detect_body(body).unwrap(), want, "{body}");
        }
        let sns: Headers = [("x-amz-sns-message-type", "Notification")].into_iter().collect();
        let scaleway = br#"{"Type":"Notification","MessageId":"m1","TopicArn":"arn:scw:sns:fr-par:project-1:tem","Message":"{}"}"#;
        assert_eq!(detect(&sns, scaleway).unwrap(), Provider::Scaleway);
        let options: Headers =
            [("WebHook-Request-Origin", "eventgrid.azure.net")].into_iter().collect();
        assert_eq!(detect(&options, b"").unwrap(), Provider::AzureAcs);
        let aeg: Headers = [("aeg-event-type", "Notification")].into_iter().collect();
        assert_eq!(detect(&aeg, b"[]").unwrap(), Provider::AzureAcs);
    }

    #[test]
    fn headers_decide_before_the_body() {
        let body = br#"{"type":"email.sent","created_at":"2026-01-10T09:00:01.250Z","data":{}}"#;
        let cases = [
            ("x-amz-sns-message-type", Provider::Ses),
            ("X-Twilio-Email-Event-Webhook-Signature", Provider::Sendgrid),
            ("svix-id", Provider::Resend),
            ("X-Mandrill-Signature", Provider::Mandrill),
            ("X-Postal-Signature", Provider::Postal),
            ("X-MessageSystems-Batch-ID", Provider::Sparkpost),
        ];
        for (name, want) in cases {
            let headers: Headers = [(name, "v")].into_iter().collect();
            assert_eq!(detect(&headers, body).unwrap(), want, "{name}");
        }
    }

    #[test]
    fn unclear_payloads_are_ambiguous_and_name_the_candidates() {
        let e = detect_body("[]").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AmbiguousProvider);
        assert!(e.message().contains("sendgrid, sparkpost, mailjet"), "{}", e.message());
        assert_eq!(detect_body("{}").unwrap_err().code(), "ambiguous_provider");
        assert_eq!(detect_body("not json").unwrap_err().code(), "ambiguous_provider");
        let headers: Headers =
            [("svix-id", "msg_1"), ("x-amz-sns-message-id", "m1")].into_iter().collect();
        let e = detect(&headers, b"{}").unwrap_err();
        assert!(e.message().contains("ses, resend"), "{}", e.message());
    }
}
