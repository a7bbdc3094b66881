//! Twilio SendGrid Event Webhook.
//!
//! Docs: <https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event>
//!
//! The body is a JSON array of event objects, mixing messages, recipients and types. Each
//! element becomes one canonical event whose `raw` is that element's exact text; an element that
//! cannot be read becomes an error with its path (`$[3].timestamp`) and the others still come
//! out. An empty array yields nothing.
//!
//! | `event` | canonical | notes |
//! |---|---|---|
//! | `processed` | `accepted` | |
//! | `dropped` | `rejected` | SendGrid never tried (suppressed, invalid…) |
//! | `deferred` | `deferred` | |
//! | `delivered` | `delivered` | |
//! | `bounce`, `type: "bounce"` or no `type` | `hard_bounce` / `hard` | |
//! | `bounce`, `type: "blocked"` | `soft_bounce` / `block` | even with a 5xx status |
//! | `open` | `open` | machine opens (`sg_machine_open`) too |
//! | `click` | `click` | |
//! | `spamreport` | `complaint` | |
//! | `unsubscribe`, `group_unsubscribe` | `unsubscribe` | |
//! | `group_resubscribe` | `resubscribe` | |
//! | `account_status_change` | `unknown` | `message_id` is always null: it is about no message |
//! | anything else | `unknown` | |
//!
//! Fields: `provider_event_id` is `sg_event_id`; `message_id` is the X-Message-Id (see below);
//! `smtp_message_id` is `smtp-id` without `<>`; `recipient` is `email`; `occurred_at` is
//! `timestamp`; `stream` is `asm_group_id` in decimal; `enhanced_status` is `status`;
//! `diagnostic` is `reason` (bounces, drops) or else `response` (deliveries, deferrals), whose
//! leading SMTP code becomes `smtp_status`; `url`, `useragent` and `ip` as given; `tags` are the
//! `category` values; `metadata` holds the custom arguments, which SendGrid flattens into the
//! event: every top-level key that is not one of SendGrid's own. The event key is
//! `sendgrid:{sg_event_id}`, or the digest when the id is missing.
//!
//! # Quirks
//!
//! - Event names are matched case-insensitively (the docs' reserved-keys example says
//!   `"Processed"`); `provider_type` keeps the name as sent.
//! - `timestamp` may be a JSON number or a numeric string, and 13-digit values are taken as
//!   milliseconds. `attempt` may be `"5"` or `5`; it is not mapped, so either shape is fine.
//! - `category` is a string or an array of strings.
//! - `message_id`: the part of `sg_message_id` before `.filter` or `.recvd` (legacy ids such as
//!   `14c5d75ce93.dfd.64b469.filter0001…` contain dots, so the cut is at that marker, not at the
//!   first dot). An id with neither marker is kept whole. When `sg_message_id` is missing
//!   (delayed bounces) or is only the suffix (`filter0093p1…` on some drops), the local part of
//!   `smtp-id` is used; otherwise null.
//! - A `bounce` with a `type` other than `bounce` or `blocked` is treated as hard, like one with
//!   no `type`.
//! - A custom argument that is not a string is kept as its JSON text.
//!
//! # Unsupported
//!
//! - The Email Activity API (message summaries, not events) and the 2025 Email Logs API.
//! - Signature verification lives with the other signature checks, not here.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Obj, TimeUnit, bare_address, clean_message_id, smtp_codes, split_array, value_text};
use crate::error::Error;
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

/// SendGrid's own keys; every other top-level key is a custom argument.
const RESERVED: [&str; 38] = [
    "email",
    "timestamp",
    "event",
    "smtp-id",
    "sg_event_id",
    "sg_message_id",
    "category",
    "asm_group_id",
    "reason",
    "status",
    "response",
    "attempt",
    "type",
    "url",
    "url_offset",
    "useragent",
    "ip",
    "tls",
    "cert_err",
    "bounce_classification",
    "sg_machine_open",
    "sg_content_type",
    "sg_user_id",
    "marketing_campaign_id",
    "marketing_campaign_name",
    "marketing_campaign_version",
    "marketing_campaign_split_id",
    "singlesend_id",
    "singlesend_name",
    "mc_stats",
    "phase_id",
    "template_id",
    "template_name",
    "sg_template_id",
    "sg_template_name",
    "send_at",
    "pool",
    "unique_args",
];

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    if super::first_byte(payload.body) != Some(b'[') {
        return Err(super::wrong_shape(payload.body, "a json array of sendgrid events"));
    }
    let items = split_array(payload.body)?;
    let mut out = Normalized::default();
    out.events.reserve(items.len());
    for (i, raw) in items.into_iter().enumerate() {
        let path = format!("$[{i}]");
        match event(raw, &path) {
            Ok(e) => out.events.push(e),
            Err(e) => out.errors.push(e),
        }
    }
    Ok(out)
}

fn event(raw: &str, path: &str) -> Result<Event, Error> {
    let v: Value = serde_json::from_str(raw).map_err(|e| Error::from_json(&e).with_path(path))?;
    let o = Obj::new(&v, path)?;
    let name = o.string("event")?.ok_or_else(|| Error::missing(o.child("event")))?.to_owned();
    let lower = name.to_ascii_lowercase();
    let bounce_type = o.str("type")?;
    let (kind, class) = match lower.as_str() {
        "processed" => (EventType::Accepted, None),
        "dropped" => (EventType::Rejected, None),
        "deferred" => (EventType::Deferred, None),
        "delivered" => (EventType::Delivered, None),
        "bounce" if bounce_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("blocked")) => {
            (EventType::SoftBounce, Some(BounceClass::Block))
        }
        "bounce" => (EventType::HardBounce, Some(BounceClass::Hard)),
        "open" => (EventType::Open, None),
        "click" => (EventType::Click, None),
        "spamreport" => (EventType::Complaint, None),
        "unsubscribe" | "group_unsubscribe" => (EventType::Unsubscribe, None),
        "group_resubscribe" => (EventType::Resubscribe, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new("sendgrid", kind);
    e.provider_type = name;
    e.bounce_class = class;
    e.provider_event_id = o.str("sg_event_id")?;
    e.smtp_message_id = o.string("smtp-id")?.and_then(clean_message_id);
    if lower != "account_status_change" {
        e.message_id = message_id(o.str("sg_message_id")?.as_deref(), e.smtp_message_id.as_deref());
    }
    e.recipient = o.string("email")?.and_then(bare_address);
    e.occurred_at = o.time("timestamp", TimeUnit::Seconds)?;
    e.stream = o.str("asm_group_id")?;
    e.enhanced_status = o.str("status")?;
    e.diagnostic = match o.str("reason")? {
        Some(r) if !r.is_empty() => Some(r),
        _ => o.str("response")?,
    };
    if let Some(d) = &e.diagnostic {
        let (code, enhanced) = smtp_codes(d);
        e.smtp_status = code;
        if e.enhanced_status.is_none() {
            e.enhanced_status = enhanced;
        }
    }
    e.url = o.string("url")?.map(str::to_owned);
    e.user_agent = o.string("useragent")?.map(str::to_owned);
    e.ip = o.string("ip")?.map(str::to_owned);
    e.tags = o.str_list("category")?;
    e.metadata = custom_args(o.map);
    raw.clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
}

/// The X-Message-Id: `sg_message_id` cut before `.filter` / `.recvd`, or the local part of the
/// `smtp-id` when `sg_message_id` is missing or only a suffix.
fn message_id(sg: Option<&str>, smtp_id: Option<&str>) -> Option<String> {
    let sg = sg.map(str::trim).filter(|s| !s.is_empty());
    match sg {
        Some(s) if !s.starts_with("filter") && !s.starts_with("recvd") => {
            let cut = [s.find(".filter"), s.find(".recvd")].into_iter().flatten().min();
            clean_message_id(cut.map_or(s, |at| &s[..at]))
        }
        _ => {
            let id = smtp_id?;
            let local = id.split_once('@').map_or(id, |(l, _)| l);
            clean_message_id(local)
        }
    }
}

fn custom_args(map: &serde_json::Map<String, Value>) -> BTreeMap<String, String> {
    map.iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), value_text(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_cuts_at_the_internal_suffix() {
        let m = |sg: Option<&str>, smtp: Option<&str>| message_id(sg, smtp);
        assert_eq!(
            m(Some("Tq9fR2mWx0aZyB4cD5eF6g.recvd-6b7c8d9e0-abcd1-1-695A3C00-3.0"), None).unwrap(),
            "Tq9fR2mWx0aZyB4cD5eF6g"
        );
        assert_eq!(
            m(Some("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"), None).unwrap(),
            "14c5d75ce93.dfd.64b469"
        );
        assert_eq!(
            m(Some("filter0093p1las1.9128.5717FB8127.0"), Some("AbCdEf@ismtpd-1")).unwrap(),
            "AbCdEf"
        );
        assert_eq!(m(None, Some("Xy12@geopod-ismtpd-2")).unwrap(), "Xy12");
        assert_eq!(m(Some("filter0093p1las1.9128.5717FB8127.0"), None), None);
        assert_eq!(m(Some("PlainId"), None).unwrap(), "PlainId");
    }
}
