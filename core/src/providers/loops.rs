//! Loops webhooks.
//!
//! Docs: <https://loops.so/docs/webhooks>.
//!
//! | Loops `eventName` | canonical |
//! |---|---|
//! | `campaign.email.sent`, `loop.email.sent`, `transactional.email.sent` | `accepted` |
//! | `email.delivered` | `delivered` |
//! | `email.softBounced` | `deferred` (Loops retries; the email may still be delivered) |
//! | `email.hardBounced` | `hard_bounce`, class `hard` |
//! | `email.opened` | `open` |
//! | `email.clicked` | `click` |
//! | `email.unsubscribed` | `unsubscribe` |
//! | `email.resubscribed` | `resubscribe` |
//! | `email.spamReported` | `complaint` |
//! | `contact.*` | `unknown`, recipient kept, no message id |
//! | `testing.testEvent` | no event: a [`crate::ControlKind::Ping`] control (answer 2xx) |
//! | anything else | `unknown` |
//!
//! Fields: the event id is the `webhook-id` header (Standard Webhooks keeps it across retries;
//! the body has none); the message id is `email.id`, the one sent email; the recipient is
//! `contactIdentity.email`; the time is `eventTime` (Unix seconds); the stream is `sourceType`
//! (`campaign`, `loop`, `transactional`), else the prefix of a `*.email.sent` name.
//!
//! # Quirks
//! * `email.emailMessageId` names the *version* of the campaign, loop or template message and
//!   is shared by every recipient, so it is not the message id.
//! * Loops sends no SMTP code or text: every Loops bounce has bounce category `other`.
//! * Opens and clicks are not sent for transactional emails.
//!
//! # Unsupported
//! * The clicked URL: Loops does not document its field, so `url` stays null (`raw` keeps
//!   whatever Loops sent).
//! * The Standard Webhooks signature is checked by `verify`, not here.

use super::json::object::Object;
use super::text::non_empty;
use super::{TimeUnit, bare_address, clean_message_id};
use crate::error::Error;
use crate::webhook::HeaderName;
use crate::{
    BounceClass, Control, ControlKind, Event, EventType, KeyScope, Normalized, Payload, event_key,
};

const SLUG: &str = "loops";

/// The event id (Standard Webhooks' idempotency key).
const WEBHOOK_ID: &str = "webhook-id";

/// Every request header this normalizer reads (see `Provider::header_names`).
pub(crate) const HEADERS: &[HeaderName] = &[HeaderName::always(WEBHOOK_ID)];

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let o = Object::parse(super::body_text(payload.body)?, "$")?;
    let name = o.req_str("eventName")?;
    if name == "testing.testEvent" {
        return Ok(Normalized {
            control: Some(Control {
                kind: ControlKind::Ping,
                url: None,
                detail: Some("loops test event".into()),
            }),
            ..Normalized::default()
        });
    }
    let (kind, class) = match name.as_ref() {
        "campaign.email.sent" | "loop.email.sent" | "transactional.email.sent" => {
            (EventType::Accepted, None)
        }
        "email.delivered" => (EventType::Delivered, None),
        "email.softBounced" => (EventType::Deferred, None),
        "email.hardBounced" => (EventType::HardBounce, Some(BounceClass::Hard)),
        "email.opened" => (EventType::Open, None),
        "email.clicked" => (EventType::Click, None),
        "email.unsubscribed" => (EventType::Unsubscribe, None),
        "email.resubscribed" => (EventType::Resubscribe, None),
        "email.spamReported" => (EventType::Complaint, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new(SLUG, kind);
    e.bounce_class = class;
    e.provider_event_id =
        payload.headers.get(WEBHOOK_ID).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    e.occurred_at = o.time("eventTime", TimeUnit::Seconds)?;
    if let Some(c) = o.obj("contactIdentity")? {
        e.recipient = c.string("email")?.as_deref().and_then(bare_address);
    }
    // Contact events are about no email.
    if !name.starts_with("contact.")
        && let Some(email) = o.obj("email")?
    {
        e.message_id = email.str("id")?.as_deref().and_then(clean_message_id);
    }
    e.stream = match non_empty(o.str("sourceType")?) {
        Some(s) => Some(s),
        None => name
            .strip_suffix(".email.sent")
            .filter(|p| matches!(*p, "campaign" | "loop" | "transactional"))
            .map(str::to_owned),
    };
    e.provider_type = name.into_owned();
    o.text().clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(Normalized { events: vec![e], ..Normalized::default() })
}
