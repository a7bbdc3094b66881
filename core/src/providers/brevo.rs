//! Brevo (formerly Sendinblue) transactional webhooks.
//!
//! Docs: <https://developers.brevo.com/docs/transactional-webhooks> (events and fields).
//!
//! | Brevo `event` | canonical |
//! |---|---|
//! | `request` | `accepted` |
//! | `delivered` | `delivered` |
//! | `deferred` | `deferred` |
//! | `hard_bounce` | `hard_bounce`, class `hard` |
//! | `soft_bounce` | `soft_bounce`, class `soft` |
//! | `blocked`, `invalid_email`, `error` | `rejected` |
//! | `spam`, `complaint` | `complaint` |
//! | `opened`, `unique_opened` | `open` |
//! | `proxy_open`, `unique_proxy_open`, `loadedByProxy` | `open`, `automated: privacy_proxy` |
//! | `click` | `click` |
//! | `unsubscribe`, `unsubscribed` | `unsubscribe` |
//! | anything else | `unknown` |
//!
//! Fields: `message-id` (with its `<>` removed) is both the message id (it is what the send
//! API returns as `messageId`) and the RFC Message-ID; `email` the recipient; `ts_epoch` the
//! time; `reason` the diagnostic; `link` the clicked url; `user_agent` and `ip` (else
//! `sending_ip`) the engagement details; `tags` (else `tag`) the tags; `X-Mailin-custom`
//! the one metadata entry, verbatim. Brevo has no event id (`id` is the webhook's) and no
//! stream. `automated` is `privacy_proxy` exactly for the proxy open events (Brevo's own
//! names for opens its image proxy fetched; `loadedByProxy` is the events-report API's name);
//! every other open and every click is null. Brevo has no bounce classification: the bounce
//! category comes from `reason` and its codes (DESIGN.md, "Bounce category").
//!
//! # Quirks
//! * Time comes only from `ts_epoch`, UTC milliseconds. `date` is in the account's time zone
//!   and `ts`/`ts_event` have an unclear zone, so they are never used. Documentation
//!   examples also show `ts_epoch` in seconds and a misspelled `s_epoch`: values below 10^11
//!   are read as seconds, and `s_epoch` is read when `ts_epoch` is absent.
//! * `message-id` is sometimes sent without its brackets; both forms give the same id.
//! * `tag` is a plain string or a JSON-encoded array of strings (`"[\"a\",\"b\"]"`).
//! * One event per request; a JSON array of events is accepted too (each element's `raw` is
//!   its exact text).
//!
//! # Unsupported
//! * Brevo does not sign webhooks; authenticate by URL credentials or IP.
//! * Marketing-campaign and inbound-parsing webhooks have other shapes and are not read.

use std::borrow::Cow;

use super::json::object::Object;
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address, clean_message_id};
use crate::error::Error;
use crate::{
    Automated, BounceClass, Event, EventType, KeyScope, Normalized, Payload, Tags, event_key,
};

const SLUG: &str = "brevo";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    super::one_or_many(payload, SLUG, event)
}

fn event(o: &Object<'_>, raw: &str) -> Result<Event, Error> {
    let name = o.req_str("event")?.into_owned();
    let (kind, class) = match name.as_str() {
        "request" => (EventType::Accepted, None),
        "delivered" => (EventType::Delivered, None),
        "deferred" => (EventType::Deferred, None),
        "hard_bounce" => (EventType::HardBounce, Some(BounceClass::Hard)),
        "soft_bounce" => (EventType::SoftBounce, Some(BounceClass::Soft)),
        "blocked" | "invalid_email" | "error" => (EventType::Rejected, None),
        "spam" | "complaint" => (EventType::Complaint, None),
        "opened" | "unique_opened" | "proxy_open" | "unique_proxy_open" | "loadedByProxy" => {
            (EventType::Open, None)
        }
        "click" => (EventType::Click, None),
        "unsubscribe" | "unsubscribed" => (EventType::Unsubscribe, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new(SLUG, kind);
    e.provider_type = name;
    e.bounce_class = class;
    if matches!(e.provider_type.as_str(), "proxy_open" | "unique_proxy_open" | "loadedByProxy") {
        e.automated = Some(Automated::PrivacyProxy);
    }
    e.message_id = o.str("message-id")?.as_deref().and_then(clean_message_id);
    e.smtp_message_id.clone_from(&e.message_id);
    e.recipient = o.str("email")?.as_deref().and_then(bare_address);
    // Seconds-unit parsing reads integers of 10^11 and above as milliseconds: exactly the
    // magnitude guard `ts_epoch` needs.
    e.occurred_at = match o.get("ts_epoch") {
        Some(_) => o.time("ts_epoch", TimeUnit::Seconds)?,
        None => o.time("s_epoch", TimeUnit::Seconds)?,
    };
    e.diagnostic = non_empty(o.str("reason")?);
    (e.smtp_status, e.enhanced_status) =
        e.diagnostic.as_deref().map(smtp_codes).unwrap_or_default();
    e.url = non_empty(o.str("link")?);
    e.user_agent = non_empty(o.str("user_agent")?);
    e.ip = match non_empty(o.str("ip")?) {
        Some(ip) => Some(ip),
        None => non_empty(o.str("sending_ip")?),
    };
    e.tags = if o.get("tags").is_some() {
        o.str_list("tags")?.into_iter().map(Cow::into_owned).collect()
    } else {
        tag(o)?
    };
    if let Some(custom) = non_empty(o.str("X-Mailin-custom")?) {
        e.metadata.insert("X-Mailin-custom".to_owned(), custom);
    }
    raw.clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
}

/// `tag`: a plain string, or a JSON-encoded array of strings.
fn tag(o: &Object<'_>) -> Result<Tags, Error> {
    let Some(t) = non_empty(o.str("tag")?) else {
        return Ok(Tags::new());
    };
    if t.trim_start().starts_with('[')
        && let Ok(list) = serde_json::from_str::<Tags>(&t)
    {
        return Ok(list);
    }
    Ok(std::iter::once(t).collect())
}
