//! Mailjet event API (webhooks), single events and grouped batches.
//!
//! Docs: <https://dev.mailjet.com/email/guides/webhooks/> (event types, fields, grouping).
//!
//! | Mailjet `event` | canonical |
//! |---|---|
//! | `sent` (the receiving server accepted it) | `delivered` |
//! | `open` | `open` |
//! | `click` | `click` |
//! | `bounce` with `hard_bounce: true` | `hard_bounce`, class `hard` |
//! | `bounce` with `hard_bounce: false` and `error: "greylisted"` | `deferred` |
//! | `bounce` with `hard_bounce: false`, any other error | `soft_bounce`, class `soft` |
//! | `bounce` without `hard_bounce` | `soft_bounce`, class `undetermined` |
//! | `blocked` | `rejected` |
//! | `spam` | `complaint` |
//! | `unsub` | `unsubscribe` |
//! | anything else | `unknown` |
//!
//! Fields: `MessageID` is the message id, `email` the recipient, `time` (seconds) the time;
//! `error` (else `comment`) is the diagnostic of bounces and blocks, with SMTP codes read
//! from the start of `comment`; `smtp_reply` is the SMTP reply of `sent`; `url`, `agent` and `ip` the engagement details; a non-empty
//! `customcampaign` is the one tag; non-empty `CustomID` and `Payload` are metadata under
//! those names. Mailjet has no event id and no stream. The bounce category comes from
//! `error` (Mailjet's own classification: `user unknown`, `quota exceeded`, …), else from the
//! keywords and code of `comment` (DESIGN.md, "Bounce category").
//!
//! # Quirks
//! * With "group events" on, the body is an array; without it, a single object. Both work; an
//!   array element's `raw` is its exact text.
//! * `MessageID` is a 64-bit integer that routinely exceeds 2^53: it is read as an exact
//!   integer and written with all its digits, never through a double. If it arrives as a
//!   number that is not an integer, the string copy `mj_message_id` is used.
//!
//! # Unsupported
//! * Mailjet does not sign its calls (credentials go in the URL); nothing to verify.
//! * `Message_GUID`, `mj_campaign_id`, `mj_contact_id`, `geo` and `error_related_to` stay
//!   in `raw` only.

use std::borrow::Cow;

use super::json::object::Object;
use super::json::scan::Kind;
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address};
use crate::category::{self, Classification};
use crate::error::Error;
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

const SLUG: &str = "mailjet";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    super::one_or_many(payload, SLUG, event)
}

fn event(o: &Object<'_>, raw: &str) -> Result<Event, Error> {
    let name = o.req_str("event")?.into_owned();
    let (kind, class) = match name.as_str() {
        "sent" => (EventType::Delivered, None),
        "open" => (EventType::Open, None),
        "click" => (EventType::Click, None),
        "bounce" => match o.bool("hard_bounce")? {
            Some(true) => (EventType::HardBounce, Some(BounceClass::Hard)),
            Some(false) if o.str("error")?.is_some_and(|e| e.trim() == "greylisted") => {
                (EventType::Deferred, None)
            }
            Some(false) => (EventType::SoftBounce, Some(BounceClass::Soft)),
            None => (EventType::SoftBounce, Some(BounceClass::Undetermined)),
        },
        "blocked" => (EventType::Rejected, None),
        "spam" => (EventType::Complaint, None),
        "unsub" => (EventType::Unsubscribe, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new(SLUG, kind);
    e.provider_type = name;
    e.bounce_class = class;
    e.message_id = message_id(o)?;
    e.recipient = o.str("email")?.as_deref().and_then(bare_address);
    e.occurred_at = o.time("time", TimeUnit::Seconds)?;
    if let Some(reply) = non_empty(o.str("smtp_reply")?) {
        (e.smtp_status, e.enhanced_status) = smtp_codes(&reply);
        e.diagnostic = Some(reply);
    } else {
        let comment = non_empty(o.str("comment")?);
        if let Some(c) = &comment {
            (e.smtp_status, e.enhanced_status) = smtp_codes(c);
        }
        let error = non_empty(o.str("error")?);
        // Mailjet's `error` first; the keyword and code rules read `comment`, the server's own
        // words, even though `error` is the diagnostic shown.
        e.bounce_category = error
            .as_deref()
            .and_then(|err| category::provider(Classification::MailjetError, err))
            .or_else(|| {
                comment
                    .as_deref()
                    .and_then(|c| category::from_text(c, e.enhanced_status.as_deref()))
            });
        e.diagnostic = error.or(comment);
    }
    e.url = non_empty(o.str("url")?);
    e.user_agent = non_empty(o.str("agent")?);
    e.ip = non_empty(o.str("ip")?);
    e.tags = non_empty(o.str("customcampaign")?).into_iter().collect();
    for key in ["CustomID", "Payload"] {
        if let Some(v) = non_empty(o.str(key)?) {
            e.metadata.insert(key.to_owned(), v);
        }
    }
    raw.clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
}

/// `MessageID` with all its digits (its exact text, never through a double); a value that is
/// not an integer falls back to the string `mj_message_id`.
fn message_id(o: &Object<'_>) -> Result<Option<String>, Error> {
    let Some(v) = o.get("MessageID") else { return Ok(non_empty(o.str("mj_message_id")?)) };
    match v.kind {
        // What serde_json reads as an integer: no fraction or exponent, within 64 bits.
        Kind::Num if v.text.parse::<u64>().is_ok() || v.text.parse::<i64>().is_ok() => {
            Ok(Some(v.text.to_owned()))
        }
        Kind::Num => match non_empty(o.str("mj_message_id")?) {
            Some(s) => Ok(Some(s)),
            None => Err(Error::invalid(
                o.child("MessageID"),
                format!("expected an integer id, found {}", v.text),
            )),
        },
        Kind::Str => Ok(non_empty(v.string().map(|s| Cow::Owned(s.trim().to_owned())))),
        other => Err(Error::type_mismatch(o.child("MessageID"), "integer or string", other.name())),
    }
}
