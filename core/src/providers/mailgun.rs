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
//! - `user-variables` values come back as strings; any other value is kept as its JSON text.
//!
//! # Unsupported
//!
//! - Legacy form-encoded webhooks (before 2018) are refused with `unsupported`.
//! - The Logs API (`/v1/analytics/logs`) page shape.
//! - The signature (timestamp + token HMAC) is checked by signature verification, not here.

use serde_json::Value;
use serde_json::value::RawValue;

use super::{Obj, TimeUnit, bare_address, clean_message_id, split_array, type_name, value_text};
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
    let fields = super::object_fields(text)?.unwrap_or_default();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
    let mut out = Normalized::default();
    if let Some(data) = field("event-data") {
        out.events.push(event(data, "$[\"event-data\"]")?);
    } else if let Some(items) = field("items") {
        let page = items.get();
        if super::first_byte(page.as_bytes()) != Some(b'[') {
            return Err(Error::type_mismatch("$.items", "array", &json_type(page)));
        }
        for (i, item) in split_array(page.as_bytes())?.into_iter().enumerate() {
            let path = format!("$.items[{i}]");
            match item_event(item, &path) {
                Ok(e) => out.events.push(e),
                Err(e) => out.errors.push(e),
            }
        }
    } else if field("event").is_some() {
        out.events.push(item_event(text.trim(), "$")?);
    } else {
        return Err(Error::new(
            ErrorKind::WrongProvider,
            "expected a mailgun webhook (event-data) or an events api page (items)",
        )
        .with_path("$"));
    }
    Ok(out)
}

fn json_type(raw: &str) -> String {
    serde_json::from_str::<Value>(raw)
        .map_or_else(|_| "invalid json".into(), |v| type_name(&v).into())
}

fn event(raw: &RawValue, path: &str) -> Result<Event, Error> {
    item_event(raw.get(), path)
}

fn item_event(raw: &str, path: &str) -> Result<Event, Error> {
    let v: Value = serde_json::from_str(raw).map_err(|e| Error::from_json(&e).with_path(path))?;
    let o = Obj::new(&v, path)?;
    let name = o.string("event")?.ok_or_else(|| Error::missing(o.child("event")))?;

    let ds_path = o.child("delivery-status");
    let ds = match o.get("delivery-status") {
        Some(d) => Some(Obj::new(d, &ds_path)?),
        None => None,
    };
    let code = match &ds {
        Some(d) => match d.get("code") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(other) => {
                return Err(Error::type_mismatch(d.child("code"), "number", type_name(other)));
            }
            None => None,
        },
        None => None,
    };
    let reason = o.string("reason")?.unwrap_or("");
    let (kind, class) = match name {
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
    let mut e = Event::new("mailgun", kind);
    name.clone_into(&mut e.provider_type);
    e.bounce_class = class;
    e.provider_event_id = o.str("id")?;
    let msg_path = o.child("message");
    if let Some(m) = o.get("message") {
        let m = Obj::new(m, &msg_path)?;
        let h_path = m.child("headers");
        if let Some(h) = m.get("headers") {
            let h = Obj::new(h, &h_path)?;
            e.message_id = h.string("message-id")?.and_then(clean_message_id);
            e.smtp_message_id.clone_from(&e.message_id);
        }
    }
    e.recipient = o.string("recipient")?.and_then(bare_address);
    e.occurred_at = o.time("timestamp", TimeUnit::Seconds)?;
    if let Some(d) = &ds {
        e.smtp_status = code.filter(|c| (200..600).contains(c)).map(|c| c.to_string());
        e.enhanced_status = match d.str("enhanced-code")?.filter(|s| !s.is_empty()) {
            Some(code) => Some(code),
            None => d.str("bounce-code")?.filter(|s| !s.is_empty()),
        };
        let message = d.string("message")?.filter(|s| !s.trim().is_empty());
        let description = d.string("description")?.filter(|s| !s.trim().is_empty());
        e.diagnostic = message.or(description).map(str::to_owned);
    }
    if kind == EventType::Rejected && name == "rejected" {
        let r_path = o.child("reject");
        if let Some(r) = o.get("reject") {
            let r = Obj::new(r, &r_path)?;
            let reason = r.string("reason")?.filter(|s| !s.is_empty());
            let description = r.string("description")?.filter(|s| !s.is_empty());
            e.diagnostic = e.diagnostic.or(reason.or(description).map(str::to_owned));
        }
    }
    e.url = o.string("url")?.map(str::to_owned);
    e.ip = o.string("ip")?.map(str::to_owned);
    let ci_path = o.child("client-info");
    if let Some(ci) = o.get("client-info") {
        e.user_agent = Obj::new(ci, &ci_path)?.string("user-agent")?.map(str::to_owned);
    }
    e.tags = o.str_list("tags")?;
    let uv_path = o.child("user-variables");
    if let Some(uv) = o.get("user-variables") {
        let uv = Obj::new(uv, &uv_path)?;
        e.metadata = uv.map.iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
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
