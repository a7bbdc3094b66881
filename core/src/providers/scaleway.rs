//! Scaleway Transactional Email (TEM) webhooks, delivered by Scaleway Topics and Events (an
//! SNS-compatible service) to an HTTP subscription.
//!
//! Docs: <https://www.scaleway.com/en/docs/transactional-email/reference-content/webhook-events-payloads/>
//! (the TEM event), <https://www.scaleway.com/en/docs/topics-and-events/> (the SNS-style
//! envelope and its subscription confirmation),
//! <https://www.scaleway.com/en/docs/topics-and-events/reference-content/veriying-webhooks>
//! (signatures).
//!
//! The body is an SNS-style envelope (`Type`, `MessageId`, `TopicArn`, `Message`, `Timestamp`,
//! `Signature…`): a `Notification` carries one TEM event as a JSON string in `Message`;
//! `SubscriptionConfirmation` and `UnsubscribeConfirmation` yield no events and a control with
//! the `SubscribeURL` (GET it to confirm) and the topic ARN. A bare TEM event object (from a
//! relay that unwrapped the envelope) is read as the inside of a `Notification`.
//!
//! | TEM `type` | canonical | bounce class / category |
//! |---|---|---|
//! | `email_queued` | `accepted` | |
//! | `email_delivered` | `delivered` | |
//! | `email_deferred` | `deferred` | |
//! | `email_dropped` | `hard_bounce` | `hard` |
//! | `email_mailbox_not_found` | `hard_bounce` | `hard`, `invalid_recipient` |
//! | `email_spam` | `soft_bounce` | `block`, `blocked` |
//! | `email_blocklisted` (not sent: the address is on TEM's blocklist) | `rejected` | |
//! | `blocklist_created` | `unknown`, message id null, recipient `email_to` | |
//! | `unknown_type`, anything else | `unknown` | |
//!
//! Fields: `provider_event_id` is the TEM event `id` (never the SNS `MessageId`, which names
//! the delivery envelope); `message_id` is `email_id` (one per recipient, as `CreateEmail`
//! returns them); `recipient` is `email_to`; the time is `created_at` (the SNS `Timestamp` is
//! never used); `smtp_status` is `email_response_code`; `diagnostic` is
//! `email_response_message`, else the deprecated `email_error`; `smtp_message_id` is the
//! `Message-Id` of `email_headers`. `raw` is the TEM event text inside `Message`. No stream;
//! TEM has no engagement events.
//!
//! # Unsupported
//! - The SNS signature (Scaleway's certificates, not AWS's) is checked by `verify`.

use std::borrow::Cow;

use super::json::object::Object;
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address, body_text, clean_message_id};
use crate::category::{self, Classification};
use crate::error::{Error, ErrorKind};
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

const SLUG: &str = "scaleway";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let o = Object::parse(body_text(payload.body)?, "$")?;
    let mut out = Normalized::default();
    if !o.has("Type") {
        if o.has("type") && (o.has("email_id") || o.has("email_to") || o.has("id")) {
            out.events.push(tem_event(&o, o.text())?);
            return Ok(out);
        }
        return Err(Error::new(
            ErrorKind::WrongProvider,
            "expected a topics and events envelope (Type, Message) or a tem event (type, id)",
        )
        .with_path("$"));
    }
    super::sns::envelope(&o, &mut out, |o, out| {
        let message = o.string("Message")?.ok_or_else(|| Error::missing(o.child("Message")))?;
        let inner = Object::parse(message.trim(), "$.Message")
            .map_err(|e| if e.path().is_none() { e.with_path("$.Message") } else { e })?;
        out.events.push(tem_event(&inner, inner.text())?);
        Ok(())
    })?;
    Ok(out)
}

/// The canonical event of one TEM event object.
fn tem_event(o: &Object<'_>, raw: &str) -> Result<Event, Error> {
    let name = o.string("type")?.map(Cow::into_owned).unwrap_or_default();
    let (kind, class) = match name.as_str() {
        "email_queued" => (EventType::Accepted, None),
        "email_delivered" => (EventType::Delivered, None),
        "email_deferred" => (EventType::Deferred, None),
        "email_dropped" | "email_mailbox_not_found" => {
            (EventType::HardBounce, Some(BounceClass::Hard))
        }
        "email_spam" => (EventType::SoftBounce, Some(BounceClass::Block)),
        "email_blocklisted" => (EventType::Rejected, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new(SLUG, kind);
    e.bounce_class = class;
    e.bounce_category = category::provider(Classification::ScalewayType, &name);
    e.provider_event_id = non_empty(o.str("id")?);
    if name != "blocklist_created" {
        e.message_id = o.str("email_id")?.as_deref().and_then(clean_message_id);
    }
    e.recipient = o.string("email_to")?.as_deref().and_then(bare_address);
    e.occurred_at = o.time("created_at", TimeUnit::Seconds)?;
    e.diagnostic = match non_empty(o.string("email_response_message")?) {
        Some(d) => Some(d),
        None => non_empty(o.string("email_error")?),
    };
    let (code, enhanced) = e.diagnostic.as_deref().map(smtp_codes).unwrap_or_default();
    e.smtp_status = non_empty(o.str("email_response_code")?).or(code);
    e.enhanced_status = enhanced;
    for (item, path) in o.items("email_headers")? {
        let h = Object::of(item, path)?;
        if h.string("key")?.is_some_and(|k| k.eq_ignore_ascii_case("Message-Id")) {
            e.smtp_message_id = h.string("value")?.as_deref().and_then(clean_message_id);
        }
    }
    e.provider_type = name;
    raw.clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
}
