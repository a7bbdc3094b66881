//! Mailgun webhooks and Events API pages.
//!
//! Docs: <https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/#webhooks>
//! (webhooks), <https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/tag/Events/>
//! (Events API).
//!
//! Two body shapes are accepted:
//!
//! - **A webhook**: `{"signature": {...}, "event-data": {...}}`, one event; `raw` is the exact
//!   text of `event-data`. A bare `event-data` object (as stored or exported) is read the same way.
//! - **An Events API page**: `{"items": [...], "paging": {...}}`; each item is one event whose
//!   `raw` is the item's exact text, and a bad item gives an error with its path
//!   (`$.items[3].timestamp`) while the others still come out. An empty page yields nothing.
//!
//! | `event` | canonical |
//! |---|---|
//! | `accepted` | `accepted` |
//! | `rejected` | `rejected` (recipient null unless the item names one: it is never taken from headers) |
//! | `delivered` | `delivered` |
//! | `failed`, `severity: temporary` | `deferred` (includes `espblock` and greylisting) |
//! | `failed`, `permanent`, reason `suppress-*` or code 605/606/607 | `rejected` (Mailgun never tried) |
//! | `failed`, `permanent`, any other reason | `hard_bounce` / `hard` (includes delayed bounces, `generic`) |
//! | `opened`, `unique_opened` | `open` |
//! | `clicked`, `unique_clicked` | `click` |
//! | `unsubscribed` | `unsubscribe` |
//! | `complained` | `complaint` |
//! | anything else (`stored`, list events…) | `unknown` |
//!
//! Fields: `provider_event_id` is `event-data.id`; `message_id` and `smtp_message_id` are both
//! `message.headers.message-id` (Mailgun's id *is* the RFC Message-ID, sent without `<>`);
//! `recipient`, `timestamp` (float seconds), `url` and `ip` as given; `user_agent` is
//! `client-info.user-agent`; `tags` are `tags`; `metadata` is `user-variables`; from
//! `delivery-status`, `code` is `smtp_status` when it is a real SMTP code (200–599, not
//! Mailgun's pseudo-codes such as 605), `enhanced-code` (or a delayed bounce's `bounce-code`) is
//! `enhanced_status`, and `message`
//! (or else `description`) is `diagnostic`; a rejected event's `reject.reason` is its
//! diagnostic. Mailgun has no stream.
//!
//! # Event key
//!
//! Mailgun says `event-data.id` is unique only within a day (judgment call 11), so the key pairs
//! it with the event time: `mailgun:{id}:{occurred_at in ms}`. The webhook and the Events API
//! carry the same id and the same `timestamp` for one event, so the two copies still share a key,
//! while an id reused on another day cannot collide. The time was chosen over the message id
//! because every event has one (a `rejected` item may lack a message id). Without a time the key
//! is `mailgun:{id}`; without an id it is the digest.
//!
//! # Quirks
//!
//! - A `failed` event with no `severity` (legacy payloads) is temporary when its
//!   `delivery-status.code` is 4xx and permanent otherwise.
//! - `delivery-status` may be JSON null (on `accepted`); `envelope` is `{}` on delayed bounces.
//! - `user-variables` values come back as strings; any other value is kept as its JSON text, and
//!   a `null` one is skipped.
//!
//! # Unsupported
//!
//! - Legacy form-encoded webhooks (before 2018) are refused with `unsupported`.
//! - The Logs API (`/v1/analytics/logs`) page shape.
//! - The signature (timestamp + token HMAC) is checked by signature verification, not here.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{RawObj, TimeUnit, bare_address, clean_message_id};
use crate::error::{Error, ErrorKind};
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let text = super::body_text(payload.body)?;
    if super::first_byte(payload.body) != Some(b'{') {
        if text.contains('=') && serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "legacy form-encoded mailgun webhooks are not supported; use the json webhooks",
            ));
        }
        return Err(super::wrong_shape(payload.body, "a mailgun webhook or events api page"));
    }
    // One pass that keeps `event-data` or `items` as raw text, then one over the items.
    let shape: Shape<'_> = serde_json::from_str(text).map_err(|e| Error::from_json(&e))?;
    let mut out = Normalized::default();
    if let Some(data) = shape.event_data {
        let o = RawObj::parse(data.get(), "$[\"event-data\"]")?;
        out.events.push(item_event(&o, data.get())?);
    } else if let Some(items) = shape.items {
        if super::raw_type_name(items) != "array" {
            return Err(Error::type_mismatch("$.items", "array", super::raw_type_name(items)));
        }
        let items = super::array_elements(items.get())?;
        out.events.reserve(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let raw = item.raw;
            match item.into_obj("$.items", i).and_then(|o| item_event(&o, raw)) {
                Ok(e) => out.events.push(e),
                Err(e) => out.errors.push(e),
            }
        }
    } else if shape.event.is_some() {
        out.events.push(item_event(&RawObj::parse(text.trim(), "$")?, text.trim())?);
    } else {
        return Err(Error::new(
            ErrorKind::WrongProvider,
            "expected a mailgun webhook (event-data) or an events api page (items)",
        )
        .with_path("$"));
    }
    Ok(out)
}

/// The keys that decide the body's shape, each kept as raw text.
#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(borrow, default, rename = "event-data")]
    event_data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    items: Option<&'a RawValue>,
    #[serde(borrow, default)]
    event: Option<&'a RawValue>,
}

fn item_event(o: &RawObj<'_>, raw: &str) -> Result<Event, Error> {
    let name = o.string("event")?.ok_or_else(|| Error::missing(o.child("event")))?;
    let ds = o.obj("delivery-status")?;
    let code = match &ds {
        Some(d) => d.uint("code")?,
        None => None,
    };
    let reason = o.string("reason")?.unwrap_or_default();
    let (kind, class) = match name.as_ref() {
        "accepted" => (EventType::Accepted, None),
        "rejected" => (EventType::Rejected, None),
        "delivered" => (EventType::Delivered, None),
        "failed" => {
            let temporary = match o.string("severity")? {
                Some(s) => s.eq_ignore_ascii_case("temporary"),
                None => code.is_some_and(|c| (400..500).contains(&c)),
            };
            if temporary {
                (EventType::Deferred, None)
            } else if reason.starts_with("suppress-") || matches!(code, Some(605..=607)) {
                (EventType::Rejected, None)
            } else {
                (EventType::HardBounce, Some(BounceClass::Hard))
            }
        }
        "opened" | "unique_opened" => (EventType::Open, None),
        "clicked" | "unique_clicked" => (EventType::Click, None),
        "unsubscribed" => (EventType::Unsubscribe, None),
        "complained" => (EventType::Complaint, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = super::new_event("mailgun", kind, name.to_string());
    e.bounce_class = class;
    e.provider_event_id = o.str("id")?.map(Cow::into_owned);
    if let Some(m) = o.obj("message")?
        && let Some(h) = m.obj("headers")?
    {
        e.message_id = h.string("message-id")?.as_deref().and_then(clean_message_id);
        e.smtp_message_id.clone_from(&e.message_id);
    }
    e.recipient = o.string("recipient")?.as_deref().and_then(bare_address);
    e.occurred_at = o.time("timestamp", TimeUnit::Seconds)?;
    if let Some(d) = &ds {
        e.smtp_status = code.filter(|c| (200..600).contains(c)).map(|c| c.to_string());
        e.enhanced_status = match d.str("enhanced-code")?.filter(|s| !s.is_empty()) {
            Some(code) => Some(code.into_owned()),
            None => d.str("bounce-code")?.filter(|s| !s.is_empty()).map(Cow::into_owned),
        };
        let message = d.string("message")?.filter(|s| !s.trim().is_empty());
        let description = d.string("description")?.filter(|s| !s.trim().is_empty());
        e.diagnostic = message.or(description).map(Cow::into_owned);
    }
    if name == "rejected"
        && let Some(r) = o.obj("reject")?
    {
        let reason = r.string("reason")?.filter(|s| !s.is_empty());
        let description = r.string("description")?.filter(|s| !s.is_empty());
        e.diagnostic = e.diagnostic.or(reason.or(description).map(Cow::into_owned));
    }
    e.url = o.string("url")?.map(Cow::into_owned);
    e.ip = o.string("ip")?.map(Cow::into_owned);
    if let Some(ci) = o.obj("client-info")? {
        e.user_agent = ci.string("user-agent")?.map(Cow::into_owned);
    }
    e.tags = o.str_list("tags")?;
    if let Some(uv) = o.obj("user-variables")? {
        for (k, v) in uv.fields().filter(|(_, v)| v.get() != "null") {
            e.metadata.insert(k.to_owned(), super::raw_text(v));
        }
    }
    raw.clone_into(&mut e.raw);
    e.event_key = key(&e);
    Ok(e)
}

/// `mailgun:{id}:{ms}`: the id is unique only within a day, so it is paired with the time.
fn key(e: &Event) -> String {
    let base = event_key(e, KeyScope::Event);
    match (&e.provider_event_id, e.occurred_at) {
        (Some(id), Some(t)) if !id.is_empty() => format!("{base}:{}", t.as_millis()),
        _ => base,
    }
}
