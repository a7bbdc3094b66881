//! AhaSend webhooks.
//!
//! Docs: <https://ahasend.com/docs/api-reference/webhooks> (event pages `message-*`, the
//! retry policy and the security page).
//!
//! | AhaSend `type` | canonical |
//! |---|---|
//! | `message.reception` | `accepted` |
//! | `message.delivered` | `delivered` |
//! | `message.transient_error` | `deferred` (AhaSend retries) |
//! | `message.failed` | `soft_bounce`, class `soft`, bounce category `expired` (gave up retrying) |
//! | `message.bounced` | `hard_bounce`, class `hard` |
//! | `message.bounced` classified `PolicyRelated`, `AuthenticationFailed` or `InvalidSender` | `soft_bounce`, class `block` |
//! | `message.suppressed` | `rejected` (not sent) |
//! | `message.opened` | `open` |
//! | `message.clicked` | `click` |
//! | `suppression.*`, `domain.*`, `message.routing`, `route.*` | `unknown`, no message id |
//! | anything else | `unknown` |
//!
//! Fields: the event id is the `webhook-id` header; the message id is
//! `data.message_id_header` without its `<>` (what the Create Message API returns); the
//! recipient is `data.recipient`; the time is the top-level `timestamp` (nanoseconds,
//! truncated to milliseconds). Delivery events carry `data.delivery_attempt`:
//! `classification` (the bounce category first), `smtp_code`, `enhanced_status_code` and
//! `response` (the diagnostic).
//!
//! # Quirks
//! * The body's `webhook_id` is the *endpoint's* id, the same for every event: it is never
//!   the event id.
//! * `is_bot` on opens and clicks ("email security scanners, etc.") is documented as a
//!   boolean but AhaSend's own examples send `"true"`/`"false"`: `true` or `"true"` gives
//!   `automated: scanner`, anything else null.
//!
//! # Unsupported
//! * The signature (Standard Webhooks headers, keyed with the whole secret string) is checked
//!   by `verify`, not here.
//! * The click's URL field is missing from AhaSend's schema; `data.url`, as AhaSend's examples
//!   show it, is read.

use super::json::object::Object;
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address, clean_message_id};
use crate::category::{self, Classification};
use crate::error::Error;
use crate::webhook::HeaderName;
use crate::{Automated, BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

const SLUG: &str = "ahasend";

/// The event id (Standard Webhooks' idempotency key).
const WEBHOOK_ID: &str = "webhook-id";

/// Every request header this normalizer reads (see `Provider::header_names`).
pub(crate) const HEADERS: &[HeaderName] = &[HeaderName::always(WEBHOOK_ID)];

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let o = Object::parse(super::body_text(payload.body)?, "$")?;
    let provider_type = o.req_str("type")?;
    let data = o.obj("data")?;
    let attempt = match &data {
        Some(d) => d.obj("delivery_attempt")?,
        None => None,
    };
    let classification = match &attempt {
        Some(a) => non_empty(a.str("classification")?),
        None => None,
    };
    let (kind, class) = match provider_type.as_ref() {
        "message.reception" => (EventType::Accepted, None),
        "message.delivered" => (EventType::Delivered, None),
        "message.transient_error" => (EventType::Deferred, None),
        "message.failed" => (EventType::SoftBounce, Some(BounceClass::Soft)),
        "message.bounced"
            if matches!(
                classification.as_deref(),
                Some("PolicyRelated" | "AuthenticationFailed" | "InvalidSender")
            ) =>
        {
            (EventType::SoftBounce, Some(BounceClass::Block))
        }
        "message.bounced" => (EventType::HardBounce, Some(BounceClass::Hard)),
        "message.suppressed" => (EventType::Rejected, None),
        "message.opened" => (EventType::Open, None),
        "message.clicked" => (EventType::Click, None),
        _ => (EventType::Unknown, None),
    };
    let about_no_message = provider_type.starts_with("suppression.")
        || provider_type.starts_with("domain.")
        || provider_type.starts_with("route.")
        || provider_type == "message.routing";
    let mut e = Event::new(SLUG, kind);
    e.bounce_class = class;
    e.provider_event_id =
        payload.headers.get(WEBHOOK_ID).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    e.occurred_at = o.time("timestamp", TimeUnit::Seconds)?;
    if let Some(d) = &data {
        e.recipient = d.string("recipient")?.as_deref().and_then(bare_address);
        if !about_no_message {
            e.message_id = d.str("message_id_header")?.as_deref().and_then(clean_message_id);
        }
        e.url = non_empty(d.string("url")?);
        e.user_agent = non_empty(d.string("user_agent")?);
        e.ip = non_empty(d.string("ip")?);
        let bot = d.get("is_bot").is_some_and(|v| v.text == "true" || v.text == r#""true""#);
        if bot && matches!(kind, EventType::Open | EventType::Click) {
            e.automated = Some(Automated::Scanner);
        }
    }
    if let Some(a) = &attempt {
        e.diagnostic = non_empty(a.string("response")?);
        let (status, enhanced) = e.diagnostic.as_deref().map(smtp_codes).unwrap_or_default();
        e.smtp_status = non_empty(a.str("smtp_code")?).or(status);
        e.enhanced_status = non_empty(a.str("enhanced_status_code")?).or(enhanced);
    }
    e.bounce_category =
        category::provider(Classification::AhasendType, &provider_type).or_else(|| {
            classification
                .as_deref()
                .and_then(|c| category::provider(Classification::AhasendDeliveryAttempt, c))
        });
    e.provider_type = provider_type.into_owned();
    o.text().clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(Normalized { events: vec![e], ..Normalized::default() })
}
