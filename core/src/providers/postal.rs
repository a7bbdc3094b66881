//! Postal (self-hosted) webhooks.
//!
//! Docs: <https://docs.postalserver.io/developer/webhooks> (events and payloads).
//!
//! | Postal `event` | canonical |
//! |---|---|
//! | `MessageSent` | `delivered` |
//! | `MessageDelayed` | `deferred` |
//! | `MessageDeliveryFailed` | `hard_bounce`, class `hard` |
//! | `MessageHeld` | `accepted` (held for review: accepted, not yet sent) |
//! | `MessageBounced` | `hard_bounce`, class `hard` |
//! | `MessageLinkClicked` | `click` |
//! | `MessageLoaded` | `open` |
//! | `DomainDNSError`, anything else | `unknown` |
//! | any event about an `incoming` message | `unknown` |
//!
//! Fields: `uuid` is the event id; the top-level `timestamp` (float seconds, truncated to
//! milliseconds) the time; `payload.message` (or `payload.original_message` for bounces)
//! gives `message_id` (the RFC Message-ID shared by the send, used both as message id and
//! `smtp_message_id`), `to` the recipient and `tag` the tag; `payload.output` (else
//! `payload.details`) the diagnostic; `payload.url`, `user_agent` and `ip_address` the
//! engagement details. No stream.
//!
//! # Quirks
//! * Postal's numeric `payload.message.id` is per recipient and is not the message id.
//! * Postal sends webhooks for incoming (inbound) messages too; they are not deliveries of
//!   mail we sent, so they become `unknown`.
//! * `DomainDNSError` is about a domain, not a message: null message id and recipient.
//!
//! # Unsupported
//! * The `X-Postal-Signature` RSA check is separate from normalizing.

use super::json::object::Object;
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address, clean_message_id};
use crate::error::Error;
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

const SLUG: &str = "postal";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let o = Object::parse(super::body_text(payload.body)?, "$")?;
    let name = o.req_str("event")?.into_owned();
    let p = o.obj("payload")?;
    let message = match &p {
        Some(p) => match p.obj("message")? {
            Some(m) => Some(m),
            None => p.obj("original_message")?,
        },
        None => None,
    };
    let incoming = match &message {
        Some(m) => m.str("direction")?.as_deref() == Some("incoming"),
        None => false,
    };
    let (kind, class) = match name.as_str() {
        _ if incoming => (EventType::Unknown, None),
        "MessageSent" => (EventType::Delivered, None),
        "MessageDelayed" => (EventType::Deferred, None),
        "MessageDeliveryFailed" | "MessageBounced" => {
            (EventType::HardBounce, Some(BounceClass::Hard))
        }
        "MessageHeld" => (EventType::Accepted, None),
        "MessageLinkClicked" => (EventType::Click, None),
        "MessageLoaded" => (EventType::Open, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new(SLUG, kind);
    e.provider_type = name;
    e.bounce_class = class;
    e.provider_event_id = non_empty(o.str("uuid")?);
    e.occurred_at = o.time("timestamp", TimeUnit::Seconds)?;
    if e.provider_type != "DomainDNSError" {
        if let Some(m) = &message {
            e.message_id = m.str("message_id")?.as_deref().and_then(clean_message_id);
            e.smtp_message_id.clone_from(&e.message_id);
            e.recipient = m.str("to")?.as_deref().and_then(bare_address);
            e.tags = non_empty(m.str("tag")?).into_iter().collect();
        }
        if let Some(p) = &p {
            e.diagnostic = match non_empty(p.str("output")?) {
                Some(out) => Some(out),
                None => non_empty(p.str("details")?),
            };
            (e.smtp_status, e.enhanced_status) =
                e.diagnostic.as_deref().map(smtp_codes).unwrap_or_default();
            e.url = non_empty(p.str("url")?);
            e.user_agent = non_empty(p.str("user_agent")?);
            e.ip = non_empty(p.str("ip_address")?);
        }
    }
    o.text().clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(Normalized { events: vec![e], ..Normalized::default() })
}
