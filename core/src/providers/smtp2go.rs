//! SMTP2GO webhooks.
//!
//! Docs: <https://developers.smtp2go.com/docs/webhooks-overview> (fields and events).
//!
//! | SMTP2GO `event` | canonical |
//! |---|---|
//! | `processed` | `accepted` |
//! | `delivered` | `delivered` |
//! | `bounce` with `bounce: hard` | `hard_bounce`, class `hard` |
//! | `bounce` with `bounce: soft`, or without it | `soft_bounce`, class `soft` |
//! | `spam` | `complaint` |
//! | `unsubscribe` | `unsubscribe` |
//! | `resubscribe` | `resubscribe` |
//! | `reject` | `rejected` (SMTP2GO refused to send, e.g. suppressed) |
//! | `open` | `open` |
//! | `click` | `click` |
//! | anything else | `unknown` |
//!
//! Fields: `rcpt` is the recipient, `email_id` (the id the send API returns) the message id,
//! `message-id` the RFC Message-ID, `time` the event time, `message` the remote server's
//! answer (the diagnostic), `user-agent` the user agent, `url` (else `context`) a click's link.
//!
//! # Quirks
//! * A webhook sends JSON or a form-encoded body, as configured, with the same field names:
//!   a body that does not start with `{` is read as a form. Its `raw` is the form's fields as a
//!   JSON object of strings, so the event reads the same whichever body it came in.
//! * There is no event id: `id` identifies the *webhook*, not the event, so it is never used;
//!   the event key is the digest of the event's fields (two identical events in the same
//!   second share a key, which is accepted).
//! * `time` is documented only as a "UTC timestamp": `YYYY-MM-DD HH:MM:SS` without an offset
//!   (UTC), ISO 8601 with an offset, and Unix seconds (number or numeric string) are all read.
//!
//! # Unsupported
//! * SMTP2GO does not sign webhooks; `verify` checks the credentials a receiver configured
//!   (basic auth in the URL, a shared token header).
//! * `recipients` (every recipient of the email) is not fanned out over: each event names its
//!   own `rcpt`. Custom headers echoed as extra fields stay in `raw`.

use super::json::object::Object;
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address, clean_message_id};
use crate::error::Error;
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

const SLUG: &str = "smtp2go";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let e = if super::first_byte(payload.body) == Some(b'{') {
        event(&Object::parse(super::body_text(payload.body)?, "$")?)?
    } else {
        // The fields in their order, as a JSON object of strings (a repeated name is kept
        // twice; the last one counts, as in JSON).
        let pairs = super::form::decode_pairs(payload.body)?;
        let mut text = String::from("{");
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&serde_json::Value::from(k.as_str()).to_string());
            text.push(':');
            text.push_str(&serde_json::Value::from(v.as_str()).to_string());
        }
        text.push('}');
        event(&Object::parse(&text, "$")?)?
    };
    Ok(Normalized { events: vec![e], ..Normalized::default() })
}

fn event(o: &Object<'_>) -> Result<Event, Error> {
    let provider_type = o.req_str("event")?;
    let (kind, class) = match provider_type.as_ref() {
        "processed" => (EventType::Accepted, None),
        "delivered" => (EventType::Delivered, None),
        "bounce" if o.str("bounce")?.is_some_and(|b| b.trim().eq_ignore_ascii_case("hard")) => {
            (EventType::HardBounce, Some(BounceClass::Hard))
        }
        "bounce" => (EventType::SoftBounce, Some(BounceClass::Soft)),
        "spam" => (EventType::Complaint, None),
        "unsubscribe" => (EventType::Unsubscribe, None),
        "resubscribe" => (EventType::Resubscribe, None),
        "reject" => (EventType::Rejected, None),
        "open" => (EventType::Open, None),
        "click" => (EventType::Click, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new(SLUG, kind);
    e.provider_type = provider_type.into_owned();
    e.bounce_class = class;
    e.occurred_at = o.time_naive_utc("time", TimeUnit::Seconds)?;
    e.recipient = o.string("rcpt")?.as_deref().and_then(bare_address);
    e.message_id = o.str("email_id")?.as_deref().and_then(clean_message_id);
    e.smtp_message_id = o.string("message-id")?.as_deref().and_then(clean_message_id);
    e.diagnostic = non_empty(o.string("message")?);
    (e.smtp_status, e.enhanced_status) =
        e.diagnostic.as_deref().map(smtp_codes).unwrap_or_default();
    e.user_agent = non_empty(o.string("user-agent")?);
    if kind == EventType::Click {
        e.url = match non_empty(o.string("url")?) {
            Some(u) => Some(u),
            None => non_empty(o.string("context")?),
        };
    }
    o.text().clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
}
