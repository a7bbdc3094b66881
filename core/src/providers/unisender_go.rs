//! Unisender Go (UniOne) transactional webhooks.
//!
//! Docs: <https://godocs.unisender.ru/web-api-ref#callback-format> (the callback body and its
//! `auth`), <https://docs.unione.io/en/web-api-ref#callback-format> (the same service's English
//! reference).
//!
//! Two body shapes: the default `{"auth", "events_by_user": [{user_id, project_id, …, "events":
//! [{"event_name", "event_data"}]}]}`, read users in order then their events in order (the docs
//! call the list single-element; every element is read), and the "use single event" shape, one
//! flat object holding `event_name`, `auth` and the `event_data` fields together. A bad event of
//! a batch becomes an error with its path and the others still come out. An empty body is the
//! GET probe Unisender Go sends when the webhook is set: no events, a `ping` control.
//!
//! | `event_data.status` | canonical |
//! |---|---|
//! | `sent` | `accepted` |
//! | `delivered` | `delivered` |
//! | `opened` | `open` |
//! | `clicked` | `click`, url = `url` |
//! | `unsubscribed` | `unsubscribe` |
//! | `subscribed` | `resubscribe` |
//! | `spam` | `complaint` |
//! | `soft_bounced` (still retrying; a final failure comes as `hard_bounced`) | `deferred` |
//! | `hard_bounced` | `hard_bounce` / `hard` |
//! | `hard_bounced` with `delivery_status` `err_spam_rejected`, `err_blacklisted`, `err_spam_skipped` | `soft_bounce` / `block` |
//! | `hard_bounced` with `err_unsubscribed`, `err_skip_letter`, `err_unreachable`, any `skip_*` (never sent) | `rejected` |
//! | anything else | `unknown` |
//! | `event_name` `transactional_spam_block` (a receiver blocked the sending) | `unknown`, message id and recipient null, time = `block_time` |
//!
//! Fields: `provider_type` is `status` (`event_name` for a spam block); `message_id` is `job_id`
//! (what `email/send` returned); `recipient` is `email`; the time is `event_time`
//! (`YYYY-MM-DD HH:MM:SS`, UTC); `metadata` is `metadata`; `diagnostic` is
//! `delivery_info.destination_response` (its leading codes give `smtp_status` and
//! `enhanced_status`); `user_agent` and `ip` come from `delivery_info`. The bounce category's
//! first source is `delivery_info.delivery_status`. Events carry no id, so the key is the
//! digest; no stream; no machine-open flag.
//!
//! # Quirks
//! - The `ID` request header is unique per call, retries included: it is not an event id.
//!
//! # Unsupported
//! - The `auth` MD5 is checked by `verify`, not here.

use std::borrow::Cow;

use super::json::object::Object;
use super::text::{non_empty, smtp_codes};
use super::time::utc_if_naive;
use super::{bare_address, body_text, clean_message_id};
use crate::category::{self, Classification};
use crate::error::Error;
use crate::{
    BounceClass, Control, ControlKind, Event, EventType, KeyScope, Normalized, Payload, Timestamp,
    event_key,
};

const SLUG: &str = "unisender_go";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let mut out = Normalized::default();
    if payload.body.trim_ascii().is_empty() {
        out.control = Some(Control {
            kind: ControlKind::Ping,
            url: None,
            detail: Some("unisender go probe (empty body)".to_owned()),
        });
        return Ok(out);
    }
    let o = Object::parse(body_text(payload.body)?, "$")?;
    if !o.has("events_by_user") {
        let name = o.string("event_name")?.ok_or_else(|| Error::missing(o.child("event_name")))?;
        out.events.push(event(&name, &o, o.text())?);
        return Ok(out);
    }
    for (user, path) in o.items("events_by_user")? {
        let user = match Object::of(user, path) {
            Ok(u) => u,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        for (item, path) in user.items("events")? {
            let read = Object::of(item, path).and_then(|item| {
                let name = item
                    .string("event_name")?
                    .ok_or_else(|| Error::missing(item.child("event_name")))?;
                let data = item
                    .obj("event_data")?
                    .ok_or_else(|| Error::missing(item.child("event_data")))?;
                event(&name, &data, item.text())
            });
            match read {
                Ok(e) => out.events.push(e),
                Err(e) => out.errors.push(e),
            }
        }
    }
    Ok(out)
}

/// A `YYYY-MM-DD HH:MM:SS` UTC time (or RFC 3339) at `key`.
fn time(d: &Object<'_>, key: &str) -> Result<Option<Timestamp>, Error> {
    match d.str(key)? {
        None => Ok(None),
        Some(t) => utc_if_naive(&t).map(Some).ok_or_else(|| {
            Error::type_mismatch(d.child(key), "a YYYY-MM-DD HH:MM:SS utc time", &format!("{t:?}"))
        }),
    }
}

/// The canonical event of one event named `name` with its `event_data` fields in `d`.
fn event(name: &str, d: &Object<'_>, raw: &str) -> Result<Event, Error> {
    let mut e = Event::new(SLUG, EventType::Unknown);
    raw.clone_into(&mut e.raw);
    if name != "transactional_email_status" {
        name.clone_into(&mut e.provider_type);
        e.occurred_at = match time(d, "block_time")? {
            Some(t) => Some(t),
            None => time(d, "event_time")?,
        };
        e.event_key = event_key(&e, KeyScope::Event);
        return Ok(e);
    }
    let status = d.string("status")?.map(Cow::into_owned).unwrap_or_default();
    let info = d.obj("delivery_info")?;
    let delivery_status = match &info {
        Some(i) => i.string("delivery_status")?.map(Cow::into_owned),
        None => None,
    };
    let ds = delivery_status.as_deref().unwrap_or_default();
    let (kind, class) = match status.as_str() {
        "sent" => (EventType::Accepted, None),
        "delivered" => (EventType::Delivered, None),
        "opened" => (EventType::Open, None),
        "clicked" => (EventType::Click, None),
        "unsubscribed" => (EventType::Unsubscribe, None),
        "subscribed" => (EventType::Resubscribe, None),
        "spam" => (EventType::Complaint, None),
        "soft_bounced" => (EventType::Deferred, None),
        "hard_bounced" => match ds {
            "err_spam_rejected" | "err_blacklisted" | "err_spam_skipped" => {
                (EventType::SoftBounce, Some(BounceClass::Block))
            }
            "err_unsubscribed" | "err_skip_letter" | "err_unreachable" => {
                (EventType::Rejected, None)
            }
            s if s.starts_with("skip_") => (EventType::Rejected, None),
            _ => (EventType::HardBounce, Some(BounceClass::Hard)),
        },
        _ => (EventType::Unknown, None),
    };
    e.kind = kind;
    e.bounce_class = class;
    e.provider_type = status;
    e.message_id = d.str("job_id")?.as_deref().and_then(clean_message_id);
    e.recipient = d.string("email")?.as_deref().and_then(bare_address);
    e.occurred_at = time(d, "event_time")?;
    e.url = non_empty(d.string("url")?);
    e.metadata = d
        .string_map("metadata")?
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(i) = &info {
        e.diagnostic = non_empty(i.string("destination_response")?);
        (e.smtp_status, e.enhanced_status) =
            e.diagnostic.as_deref().map(smtp_codes).unwrap_or_default();
        e.user_agent = non_empty(i.string("user_agent")?);
        e.ip = non_empty(i.string("ip")?);
    }
    if let Some(ds) = &delivery_status {
        e.bounce_category = category::provider(Classification::UnisenderGoDeliveryStatus, ds);
    }
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
}
