//! MailerSend webhooks.
//!
//! Docs: <https://developers.mailersend.com/api/v1/webhooks.html> (events and payloads).
//!
//! | MailerSend `data.type` | canonical |
//! |---|---|
//! | `sent` | `accepted` |
//! | `delivered` | `delivered` |
//! | `soft_bounced` | `soft_bounce`, class `soft` |
//! | `hard_bounced` | `hard_bounce`, class `hard` |
//! | `opened`, `opened_unique` | `open` |
//! | `clicked`, `clicked_unique` | `click` |
//! | `unsubscribed` | `unsubscribe` |
//! | `spam_complaint` | `complaint` |
//! | any other activity (survey answers, new kinds) | `unknown` |
//! | events that are not `activity.*` (sender identity, maintenance, inbound…) | `unknown`, null message id and recipient |
//!
//! Fields: `provider_type` is the top-level `type` (`activity.hard_bounced`, else
//! `data.type`); `data.id` is the event id; `data.created_at` (ISO with microseconds, truncated
//! to milliseconds) the time; `data.email.message.id` the message id (the send API's
//! `X-Message-Id`); `data.email.recipient.email` the recipient; `data.email.tags` the tags;
//! `data.morph.reason` (else `readable_reason`) the diagnostic; `data.morph.url`, `ip` and
//! `user_agent` the engagement details. No stream.
//!
//! # Quirks
//! * `data.email.status` is coarse (`delivered`, `rejected`) and is not used to pick the
//!   type; `data.type` is.
//! * `data.email.id` is a per-recipient email id, not the id the send call returned.
//!
//! # Unsupported
//! * The `Signature` HMAC check is separate from normalizing.

use std::borrow::Cow;

use super::json::object::Object;
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address, clean_message_id};
use crate::error::Error;
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

const SLUG: &str = "mailersend";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let o = Object::parse(super::body_text(payload.body)?, "$")?;
    let data = o.obj("data")?;
    let top = o.str("type")?;
    let kind_name = match &data {
        Some(d) => d.str("type")?,
        None => None,
    };
    let provider_type = match (top, &kind_name) {
        (Some(t), _) => t.into_owned(),
        (None, Some(k)) => k.to_string(),
        (None, None) => return Err(Error::missing("$.type")),
    };
    let is_activity = provider_type.starts_with("activity.")
        || data.as_ref().and_then(|d| d.get("object")).and_then(|v| v.string()).as_deref()
            == Some("activity");
    let activity = if is_activity { kind_name.as_deref() } else { None };
    let (kind, class) = match activity {
        Some("sent") => (EventType::Accepted, None),
        Some("delivered") => (EventType::Delivered, None),
        Some("soft_bounced") => (EventType::SoftBounce, Some(BounceClass::Soft)),
        Some("hard_bounced") => (EventType::HardBounce, Some(BounceClass::Hard)),
        Some("opened" | "opened_unique") => (EventType::Open, None),
        Some("clicked" | "clicked_unique") => (EventType::Click, None),
        Some("unsubscribed") => (EventType::Unsubscribe, None),
        Some("spam_complaint") => (EventType::Complaint, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new(SLUG, kind);
    e.provider_type = provider_type;
    e.bounce_class = class;
    if let Some(d) = &data {
        e.provider_event_id = non_empty(d.str("id")?);
        e.occurred_at = d.time("created_at", TimeUnit::Seconds)?;
        if is_activity {
            activity_fields(d, &mut e)?;
        }
    }
    o.text().clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(Normalized { events: vec![e], ..Normalized::default() })
}

fn activity_fields(d: &Object<'_>, e: &mut Event) -> Result<(), Error> {
    if let Some(email) = d.obj("email")? {
        if let Some(message) = email.obj("message")? {
            e.message_id = message.str("id")?.as_deref().and_then(clean_message_id);
        }
        if let Some(rcpt) = email.obj("recipient")? {
            e.recipient = rcpt.str("email")?.as_deref().and_then(bare_address);
        }
        e.tags = email.str_list("tags")?.into_iter().map(Cow::into_owned).collect();
    }
    if let Some(morph) = d.obj("morph")? {
        e.diagnostic = match non_empty(morph.str("reason")?) {
            Some(r) => Some(r),
            None => non_empty(morph.str("readable_reason")?),
        };
        (e.smtp_status, e.enhanced_status) =
            e.diagnostic.as_deref().map(smtp_codes).unwrap_or_default();
        e.url = non_empty(morph.str("url")?);
        e.ip = non_empty(morph.str("ip")?);
        e.user_agent = non_empty(morph.str("user_agent")?);
    }
    Ok(())
}
