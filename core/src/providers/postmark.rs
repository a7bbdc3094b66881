//! Postmark webhooks.
//!
//! Docs: <https://postmarkapp.com/developer/webhooks/webhooks-overview>, bounce types:
//! <https://postmarkapp.com/developer/api/bounce-api#bounce-types>.
//!
//! Each POST is one JSON object, named by `RecordType`; `provider_type` is the `RecordType`
//! verbatim and `raw` is the whole body.
//!
//! | `RecordType` | canonical | time |
//! |---|---|---|
//! | `Delivery` | `delivered` | `DeliveredAt` |
//! | `Bounce` | by `Type` (table below) | `BouncedAt` |
//! | `SpamComplaint` | `complaint` | `BouncedAt` |
//! | `Open` | `open` | `ReceivedAt` |
//! | `Click` | `click` | `ReceivedAt` |
//! | `SubscriptionChange`, `SuppressSending: true`, reason `HardBounce` or `SpamComplaint` | `unknown` (the bounce or complaint arrives separately) | `ChangedAt` |
//! | `SubscriptionChange`, `SuppressSending: true`, other reasons | `unsubscribe` | `ChangedAt` |
//! | `SubscriptionChange`, `SuppressSending: false` | `resubscribe` | `ChangedAt` |
//! | anything else | `unknown` | the first of the time fields present |
//!
//! Bounce `Type` (or, when it is missing, `TypeCode`):
//!
//! | Type | code | canonical / class |
//! |---|---|---|
//! | HardBounce | 1 | `hard_bounce` / `hard` |
//! | Transient | 2 | `deferred` ("message delayed", judgment call 4) |
//! | Unsubscribe | 16 | `unsubscribe` |
//! | Subscribe | 32 | `resubscribe` |
//! | AutoResponder, AddressChange, OpenRelayTest, ChallengeVerification, InboundError | 64, 128, 1024, 16384, 100008 | `unknown` |
//! | DnsError | 256 | `soft_bounce` / `soft` |
//! | SpamNotification, VirusNotification, Blocked | 512, 8192, 100006 | `soft_bounce` / `block` |
//! | Unknown | 2048 | `soft_bounce` / `undetermined` |
//! | SoftBounce | 4096 | `soft_bounce` / `soft` |
//! | BadEmailAddress, ManuallyDeactivated, Unconfirmed, SMTPApiError, DMARCPolicy, TemplateRenderingFailed | 100000, 100002, 100003, 100007, 100009, 100010 | `rejected` |
//! | SpamComplaint | 100001 | `complaint` |
//! | any other | | `unknown` |
//!
//! Fields: `message_id` is `MessageID`; `recipient` is `Recipient` or `Email`;
//! `provider_event_id` is `String(ID)` for Bounce and SpamComplaint records and null otherwise
//! (their keys are digests); `stream` is `MessageStream` verbatim; `tags` is `[Tag]` when `Tag`
//! is not empty; `metadata` is `Metadata`; `diagnostic` is `Details` (or else `Description`),
//! and its leading SMTP code and enhanced status fill `smtp_status` and `enhanced_status`;
//! `url` is a click's `OriginalLink`; `user_agent` is `UserAgent`; `ip` is `Geo.IP`.
//!
//! # Quirks
//!
//! - Times have 7 fractional digits and US-Eastern offsets (`…17.5512345-05:00`); they are
//!   converted to UTC and truncated to milliseconds.
//! - A bounce of Type `Unsubscribe` arrives without `Email`, `BouncedAt` or `Details`: it is an
//!   `unsubscribe` with a null recipient and time.
//! - Postmark has no SMTP code fields; the codes are read from the start of `Details`.
//! - A record without `RecordType` but with a bounce `TypeCode` (the Bounces API shape) is read
//!   as a Bounce.
//!
//! # Unsupported
//!
//! - Inbound webhooks (an inbound message, not a delivery event).
//! - Postmark signs nothing; basic auth and IP allow-lists are the caller's business.

use serde_json::Value;

use super::{Obj, TimeUnit, bare_address, clean_message_id, smtp_codes, value_text};
use crate::error::{Error, ErrorKind};
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let text = super::body_text(payload.body)?;
    if super::first_byte(payload.body) != Some(b'{') {
        return Err(super::wrong_shape(payload.body, "a postmark webhook object"));
    }
    let v = super::parse_body(payload.body)?;
    let o = Obj::new(&v, "$")?;
    let record = match o.string("RecordType")? {
        Some(r) => r,
        None if o.map.contains_key("TypeCode") => "Bounce",
        None => {
            return Err(Error::new(ErrorKind::WrongProvider, "expected a postmark RecordType")
                .with_path("$"));
        }
    };
    let mut e = Event::new("postmark", EventType::Unknown);
    record.clone_into(&mut e.provider_type);
    let (kind, class, time_key) = match record {
        "Delivery" => (EventType::Delivered, None, "DeliveredAt"),
        "Bounce" => {
            let (k, c) = bounce(&o)?;
            (k, c, "BouncedAt")
        }
        "SpamComplaint" => (EventType::Complaint, None, "BouncedAt"),
        "Open" => (EventType::Open, None, "ReceivedAt"),
        "Click" => (EventType::Click, None, "ReceivedAt"),
        "SubscriptionChange" => {
            let kind = match o.bool("SuppressSending")? {
                Some(true) => match o.string("SuppressionReason")? {
                    Some("HardBounce" | "SpamComplaint") => EventType::Unknown,
                    _ => EventType::Unsubscribe,
                },
                Some(false) => EventType::Resubscribe,
                None => EventType::Unknown,
            };
            (kind, None, "ChangedAt")
        }
        _ => {
            let key = ["DeliveredAt", "BouncedAt", "ReceivedAt", "ChangedAt"]
                .into_iter()
                .find(|k| o.get(k).is_some())
                .unwrap_or("ReceivedAt");
            (EventType::Unknown, None, key)
        }
    };
    e.kind = kind;
    e.bounce_class = class;
    if matches!(record, "Bounce" | "SpamComplaint") {
        e.provider_event_id = o.str("ID")?;
    }
    e.message_id = o.str("MessageID")?.as_deref().and_then(clean_message_id);
    let rcpt = match o.string("Recipient")? {
        Some(r) => Some(r),
        None => o.string("Email")?,
    };
    e.recipient = rcpt.and_then(bare_address);
    e.occurred_at = o.time(time_key, TimeUnit::Seconds)?;
    e.stream = o.string("MessageStream")?.map(str::to_owned);
    let details = match o.string("Details")?.filter(|d| !d.trim().is_empty()) {
        Some(d) => Some(d),
        None if matches!(record, "Bounce" | "SpamComplaint") => {
            o.string("Description")?.filter(|d| !d.trim().is_empty())
        }
        None => None,
    };
    if let Some(d) = details {
        let (code, enhanced) = smtp_codes(d);
        e.smtp_status = code;
        e.enhanced_status = enhanced;
        e.diagnostic = Some(d.to_owned());
    }
    if record == "Click" {
        e.url = o.string("OriginalLink")?.map(str::to_owned);
    }
    e.user_agent = o.string("UserAgent")?.map(str::to_owned);
    let geo_path = o.child("Geo");
    if let Some(geo) = o.get("Geo") {
        e.ip = Obj::new(geo, &geo_path)?.string("IP")?.map(str::to_owned);
    }
    e.tags = o.str_list("Tag")?.into_iter().filter(|t| !t.is_empty()).collect();
    let md_path = o.child("Metadata");
    if let Some(md) = o.get("Metadata") {
        let md = Obj::new(md, &md_path)?;
        e.metadata = md.map.iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
    }
    text.trim().clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(Normalized { events: vec![e], errors: Vec::new(), control: None })
}

/// The canonical type and class of a Bounce record, by `Type` or else `TypeCode`.
fn bounce(o: &Obj<'_>) -> Result<(EventType, Option<BounceClass>), Error> {
    let code: Option<u64> = match o.get("TypeCode") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(other) => {
            return Err(Error::type_mismatch(
                o.child("TypeCode"),
                "number",
                super::type_name(other),
            ));
        }
        None => None,
    };
    let name = match o.string("Type")? {
        Some(t) => t,
        None => match code {
            Some(1) => "HardBounce",
            Some(2) => "Transient",
            Some(16) => "Unsubscribe",
            Some(32) => "Subscribe",
            Some(256) => "DnsError",
            Some(512) => "SpamNotification",
            Some(2048) => "Unknown",
            Some(4096) => "SoftBounce",
            Some(8192) => "VirusNotification",
            Some(100_000) => "BadEmailAddress",
            Some(100_001) => "SpamComplaint",
            Some(100_002) => "ManuallyDeactivated",
            Some(100_003) => "Unconfirmed",
            Some(100_006) => "Blocked",
            Some(100_007) => "SMTPApiError",
            Some(100_009) => "DMARCPolicy",
            Some(100_010) => "TemplateRenderingFailed",
            _ => "",
        },
    };
    let soft = |c| (EventType::SoftBounce, Some(c));
    Ok(match name {
        "HardBounce" => (EventType::HardBounce, Some(BounceClass::Hard)),
        "Transient" => (EventType::Deferred, None),
        "Unsubscribe" => (EventType::Unsubscribe, None),
        "Subscribe" => (EventType::Resubscribe, None),
        "DnsError" | "SoftBounce" => soft(BounceClass::Soft),
        "SpamNotification" | "VirusNotification" | "Blocked" => soft(BounceClass::Block),
        "Unknown" => soft(BounceClass::Undetermined),
        "BadEmailAddress"
        | "ManuallyDeactivated"
        | "Unconfirmed"
        | "SMTPApiError"
        | "DMARCPolicy"
        | "TemplateRenderingFailed" => (EventType::Rejected, None),
        "SpamComplaint" => (EventType::Complaint, None),
        _ => (EventType::Unknown, None),
    })
}
