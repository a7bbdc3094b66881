//! ZeptoMail (Zoho) webhooks.
//!
//! Docs: <https://www.zoho.com/zeptomail/help/webhooks.html> and
//! <https://www.zoho.com/zeptomail/help/api/webhooks-instant-notification.html>.
//!
//! | event (`event_data[].object`, else `event_name[0]`) | canonical |
//! |---|---|
//! | `hardbounce` | `hard_bounce`, class `hard` |
//! | `softbounce` | `soft_bounce`, class `soft` (ZeptoMail reports it as a bounce) |
//! | `email_open` | `open` (first open only) |
//! | `email_link_click` | `click`, url from `clicked_link` |
//! | `delivered` (name unconfirmed) | `delivered` |
//! | `feedbackloop` (name unconfirmed) | `complaint` |
//! | anything else | `unknown` |
//!
//! Shape: `{"event_name": [...], "event_message": [{"email_info": {...}, "event_data":
//! [{"object": <event>, "details": [...]}], "request_id": ...}], "mailagent_key", ...}`. Every
//! detail record of every `event_data` of every message is an event.
//!
//! Fields: the message id is the message's `request_id` (what the send API returned); the time
//! is the detail's `time`, else `email_info.processed_time`; the diagnostic is the detail's
//! `diagnostic_message`, else its `reason`; opens and clicks give `ip_address` and
//! `user_agent`.
//!
//! # Quirks
//! * The recipient is the detail's `bounced_recipient` when it has one. Otherwise ZeptoMail
//!   does not say which recipient opened or clicked, so the event fans out to every address
//!   of `email_info.to` in order (never cc or bcc); with no `to`, the recipient is null.
//!   Advise one recipient per send, as with Resend.
//! * There is no event id (`webhook_request_id` names the call and is not documented as
//!   stable across retries): the event key is the digest of the event's fields.
//! * Times carry offsets without a colon (`2026-03-05T10:00:02.330+0800`).
//! * `raw` is the whole body for every event of it: the event name may live only in the
//!   top-level `event_name`.
//! * A message that cannot be read is an error naming its path; the other messages still come
//!   out.
//!
//! # Unsupported
//! * Authentication: ZeptoMail's docs name only a "webhook authentication key"; the
//!   `producer-signature` HMAC seen in third-party code is unconfirmed, so `verify` checks the
//!   shared secret a receiver configured (URL basic auth or a token header), not an HMAC.
//! * `email_info.tag` is not a stream; `client_reference` stays in `raw`.

use super::json::object::Object;
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address, clean_message_id};
use crate::error::Error;
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, Timestamp, event_key};

const SLUG: &str = "zeptomail";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let o = Object::parse(super::body_text(payload.body)?, "$")?;
    let names = o.str_list("event_name")?;
    let fallback = names.first().map(|n| n.trim().to_owned());
    let messages = o.items("event_message")?;
    if messages.is_empty() && !o.has("event_message") {
        return Err(Error::missing("$.event_message"));
    }
    let mut out = Normalized::default();
    for (item, path) in messages {
        let mut events = Vec::new();
        match Object::of(item, path)
            .and_then(|m| message(&m, fallback.as_deref(), o.text(), &mut events))
        {
            Ok(()) => out.events.append(&mut events),
            Err(e) => out.errors.push(e.with_provider(SLUG)),
        }
    }
    Ok(out)
}

/// The events of one `event_message` entry.
fn message(
    m: &Object<'_>,
    fallback: Option<&str>,
    raw: &str,
    out: &mut Vec<Event>,
) -> Result<(), Error> {
    let info = m.obj("email_info")?;
    let message_id = m.str("request_id")?.as_deref().and_then(clean_message_id);
    let processed = match &info {
        Some(i) => i.time("processed_time", TimeUnit::Seconds)?,
        None => None,
    };
    let mut to = Vec::new();
    if let Some(i) = &info {
        for (item, path) in i.items("to")? {
            let t = Object::of(item, path)?;
            if let Some(addr) = t.obj("email_address")?
                && let Some(a) = addr.string("address")?.as_deref().and_then(bare_address)
            {
                to.push(a);
            }
        }
    }
    let data = m.items("event_data")?;
    let template = Template { message_id: message_id.as_deref(), processed, to: &to, raw };
    if data.is_empty() {
        // No detail at all: one event of the top-level name.
        let name = fallback.ok_or_else(|| Error::missing(m.child("event_data")))?;
        template.events(name, None, out)?;
    }
    for (item, path) in data {
        let d = Object::of(item, path)?;
        let object = non_empty(d.str("object")?);
        let name =
            object.as_deref().or(fallback).ok_or_else(|| Error::missing(d.child("object")))?;
        let details = d.items("details")?;
        if details.is_empty() {
            template.events(name, None, out)?;
        }
        for (item, path) in details {
            template.events(name, Some(&Object::of(item, path)?), out)?;
        }
    }
    Ok(())
}

/// What the events of one message share.
struct Template<'t> {
    message_id: Option<&'t str>,
    processed: Option<Timestamp>,
    to: &'t [String],
    raw: &'t str,
}

impl Template<'_> {
    /// The events of one detail record (or of none): one for a bounced recipient, else one per
    /// `to` address.
    fn events(
        &self,
        name: &str,
        detail: Option<&Object<'_>>,
        out: &mut Vec<Event>,
    ) -> Result<(), Error> {
        let (kind, class) = match name {
            "hardbounce" => (EventType::HardBounce, Some(BounceClass::Hard)),
            "softbounce" => (EventType::SoftBounce, Some(BounceClass::Soft)),
            "email_open" => (EventType::Open, None),
            "email_link_click" => (EventType::Click, None),
            "delivered" => (EventType::Delivered, None),
            "feedbackloop" => (EventType::Complaint, None),
            _ => (EventType::Unknown, None),
        };
        let mut e = Event::new(SLUG, kind);
        name.clone_into(&mut e.provider_type);
        e.bounce_class = class;
        e.message_id = self.message_id.map(str::to_owned);
        e.occurred_at = self.processed;
        self.raw.clone_into(&mut e.raw);
        let mut bounced = None;
        if let Some(d) = detail {
            if let Some(t) = d.time("time", TimeUnit::Seconds)? {
                e.occurred_at = Some(t);
            }
            bounced = d.string("bounced_recipient")?.as_deref().and_then(bare_address);
            e.diagnostic = match non_empty(d.string("diagnostic_message")?) {
                Some(text) => Some(text),
                None => non_empty(d.string("reason")?),
            };
            (e.smtp_status, e.enhanced_status) =
                e.diagnostic.as_deref().map(smtp_codes).unwrap_or_default();
            e.ip = non_empty(d.string("ip_address")?);
            e.user_agent = non_empty(d.string("user_agent")?);
            e.url = non_empty(d.string("clicked_link")?);
        }
        let recipients: Vec<Option<String>> = match bounced {
            Some(r) => vec![Some(r)],
            None if self.to.is_empty() => vec![None],
            None => self.to.iter().cloned().map(Some).collect(),
        };
        for r in recipients {
            let mut one = e.clone();
            one.recipient = r;
            one.event_key = event_key(&one, KeyScope::Event);
            out.push(one);
        }
        Ok(())
    }
}
