//! Mailchimp Transactional (Mandrill) webhooks.
//!
//! Docs: <https://mailchimp.com/developer/transactional/docs/webhooks/> (message, sync and
//! inbound events; the `mandrill_events` form field).
//!
//! | Mandrill event | canonical |
//! |---|---|
//! | `send` | `accepted` |
//! | `deferral` | `deferred` |
//! | `hard_bounce` | `hard_bounce`, class `hard` |
//! | `soft_bounce` | `soft_bounce`, class `soft` |
//! | `open` | `open` |
//! | `click` | `click` |
//! | `spam` | `complaint` |
//! | `unsub` | `unsubscribe` |
//! | `reject` | `rejected` |
//! | `inbound`, any other `event` | `unknown` |
//! | sync events (`type` `whitelist`/`blacklist`, no `event`) | `unknown`, null message id, recipient from `reject.email` (or `entry.email`) |
//!
//! Fields: the top-level `ts` (seconds) is the event time (`msg.ts` is the send time);
//! `_id` is the message id (one per recipient, as the send API returns it); `msg.email` the
//! recipient; `msg.diag` (else `msg.bounce_description`) the diagnostic; `url`, `user_agent`
//! and `ip` the engagement details; `msg.tags` and `msg.metadata` the tags and metadata.
//! Mandrill has no event id, so keys are digests. `msg.bounce_description` (`bad_mailbox`,
//! `invalid_domain`, `mailbox_full`) is the bounce category's first source, then `msg.diag`
//! (DESIGN.md, "Bounce category").
//!
//! # Quirks
//! * The body is `application/x-www-form-urlencoded` with one field, `mandrill_events`, whose
//!   value is a JSON array of up to 1000 events. It is decoded here (`+` is a space); a body
//!   that already is the JSON array (a stored, decoded batch) is accepted too.
//! * `raw` is each element's exact text inside the decoded JSON.
//! * Sync events have no `event` and no `_id`; their `provider_type` is their `type`
//!   (`blacklist`, `whitelist`), and their `action` (`add`, `remove`, `change`) stays in `raw`.
//! * Inbound messages (`event: inbound`) are not about a sent message: `unknown` with a null
//!   message id and recipient.
//!
//! # Unsupported
//! * The `X-Mandrill-Signature` check needs the webhook URL and key; it is separate.
//! * The HEAD probe Mandrill sends before first use has no body and is not normalized.

use std::borrow::Cow;

use super::json::object::{Object, each_object};
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address, clean_message_id, form};
use crate::category::{self, Classification};
use crate::error::{Error, ErrorKind};
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

const SLUG: &str = "mandrill";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let text = std::str::from_utf8(payload.body)
        .map_err(|_| Error::new(ErrorKind::InvalidUtf8, "body is not valid utf-8"))?;
    let decoded;
    let json = if text.trim_start().starts_with('[') {
        text
    } else {
        decoded = form::decode_pairs(payload.body)?
            .into_iter()
            .find(|(name, _)| name == "mandrill_events")
            .map(|(_, value)| value)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::MissingField,
                    "missing form field mandrill_events (expected a form-encoded mandrill batch)",
                )
                .with_path("mandrill_events")
            })?;
        decoded.as_str()
    };
    let mut out = Normalized::default();
    each_object(json, |o| match o.and_then(|o| event(&o, o.text())) {
        Ok(e) => out.events.push(e),
        Err(e) => out.errors.push(e.with_provider(SLUG)),
    })?;
    Ok(out)
}

fn event(o: &Object<'_>, raw: &str) -> Result<Event, Error> {
    let mut e = match o.str("event")? {
        Some(name) => message_event(o, name.into_owned())?,
        None => sync_event(o)?,
    };
    e.occurred_at = o.time("ts", TimeUnit::Seconds)?;
    raw.clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
}

fn message_event(o: &Object<'_>, name: String) -> Result<Event, Error> {
    let (kind, class) = match name.as_str() {
        "send" => (EventType::Accepted, None),
        "deferral" => (EventType::Deferred, None),
        "hard_bounce" => (EventType::HardBounce, Some(BounceClass::Hard)),
        "soft_bounce" => (EventType::SoftBounce, Some(BounceClass::Soft)),
        "open" => (EventType::Open, None),
        "click" => (EventType::Click, None),
        "spam" => (EventType::Complaint, None),
        "unsub" => (EventType::Unsubscribe, None),
        "reject" => (EventType::Rejected, None),
        _ => (EventType::Unknown, None),
    };
    let inbound = name == "inbound";
    let mut e = Event::new(SLUG, kind);
    e.provider_type = name;
    e.bounce_class = class;
    e.url = non_empty(o.str("url")?);
    e.user_agent = non_empty(o.str("user_agent")?);
    e.ip = non_empty(o.str("ip")?);
    if inbound {
        return Ok(e);
    }
    e.message_id = o.str("_id")?.as_deref().and_then(clean_message_id);
    if let Some(msg) = o.obj("msg")? {
        e.recipient = msg.str("email")?.as_deref().and_then(bare_address);
        let description = non_empty(msg.str("bounce_description")?);
        if let Some(d) = &description {
            e.bounce_category = category::provider(Classification::MandrillBounceDescription, d);
        }
        let diag = match non_empty(msg.str("diag")?) {
            Some(d) => Some(d),
            None => description,
        };
        let (status, enhanced) = diag.as_deref().map(smtp_codes).unwrap_or_default();
        e.smtp_status = status;
        e.enhanced_status = enhanced;
        e.diagnostic = diag;
        e.tags = msg.str_list("tags")?.into_iter().map(Cow::into_owned).collect();
        e.metadata = msg
            .string_map("metadata")?
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    }
    Ok(e)
}

fn sync_event(o: &Object<'_>) -> Result<Event, Error> {
    let Some(kind) = o.str("type")? else {
        return Err(Error::missing(o.child("event")));
    };
    let mut e = Event::new(SLUG, EventType::Unknown);
    e.provider_type = kind.into_owned();
    for key in ["reject", "entry"] {
        if let Some(entry) = o.obj(key)?
            && let Some(addr) = entry.str("email")?.as_deref().and_then(bare_address)
        {
            e.recipient = Some(addr);
            break;
        }
    }
    Ok(e)
}
