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
//! `url` is a click's `OriginalLink`; `user_agent` is `UserAgent`; `ip` is `Geo.IP`. A
//! bounce's `TypeCode` is its bounce category's first source (1 `invalid_recipient`, 128
//! `mailbox_disabled`, 256 `domain_error`, 512 and 100006 `blocked`, 8192 `content`; the
//! `unknown` AutoResponder, 64, and ChallengeVerification, 16384, are `auto_reply`); then
//! `Details` (DESIGN.md, "Bounce category"). Postmark flags no machine opens: its docs admit
//! Apple MPP false positives, so nothing is inferred from `Platform` or `UserAgent`.
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
//! # Messages API: outbound message details
//!
//! Docs: <https://postmarkapp.com/developer/api/messages-api> (outbound message details),
//! field shapes as in Postmark's official Node client (`OutboundMessageDetails`,
//! `MessageEvent`).
//!
//! `GET /messages/outbound/{MessageID}/details` answers one object per message whose
//! `MessageEvents` array lists what happened to it, one entry per recipient and event:
//! `{"Recipient", "Type", "ReceivedAt", "Details": {…}}`. A body with `MessageEvents` (and no
//! `RecordType`) is read as such a details body: each entry becomes one canonical event whose
//! `raw` is that entry's exact text; an entry that cannot be read becomes an error with its path
//! (`$.MessageEvents[2].ReceivedAt`) and the others still come out. `message_id`, `stream`,
//! `tags` and `metadata` come from the message (`MessageID`, `MessageStream`, `Tag`,
//! `Metadata`); `recipient` is the entry's `Recipient`; `occurred_at` its `ReceivedAt`.
//!
//! | `Type` | canonical | `provider_type` | other fields |
//! |---|---|---|---|
//! | `Delivered` | `delivered` | `Delivery` | `diagnostic` from `Details.DeliveryMessage` |
//! | `Transient` | `deferred` (judgment call 4) | `Transient` | `diagnostic` from `Details.DeliveryMessage` |
//! | `Opened` | `open` | `Open` | |
//! | `LinkClicked` | `click` | `Click` | `url` is `Details.Link` |
//! | `SubscriptionChanged` | as the webhook's SubscriptionChange, by `Details.SuppressSending` and `Details.SuppressionReason`; `unknown` without them | `SubscriptionChange` | |
//! | `Bounced` | `unknown` (see below) | `Bounced` | `diagnostic` is `Details.Summary` |
//! | anything else | `unknown` | as sent | |
//!
//! **Dedupe with webhooks.** Postmark gives these entries no event id, and neither has its
//! Delivery, Open, Click or SubscriptionChange webhook, so both keys are digests of
//! `(provider, provider_type, message_id, recipient, occurred_at, url)`. For the digests to
//! agree, `provider_type` is the webhook's `RecordType` for the same fact (`Delivery`, not the
//! API's `Delivered`; the API's name stays in `raw`). The two copies then share a key when
//! Postmark reports the same instant to the millisecond (`ReceivedAt` here, `DeliveredAt` /
//! `ReceivedAt` / `ChangedAt` in the webhook) and, for clicks, the same link (`Details.Link`
//! here, `OriginalLink` there). Postmark does not document that these times are equal; where
//! they differ, the two copies are two events with the same facts, which changes counts
//! (`event_count`, `open_count`) but not the status.
//!
//! **Bounces.** A `Bounced` entry carries the bounce's `BounceID` and a summary, but not its
//! `Type`, so it cannot say whether the bounce is hard, soft, a block or a delay. It becomes
//! `unknown` with a digest key (never `postmark:{BounceID}`: sharing the bounce record's key
//! with a different type would let the `unknown` copy win in the reducer). The bounce itself
//! comes from the bounce record (`GET /bounces`, `GET /bounces/{id}`, or the Bounce webhook),
//! whose key `postmark:{ID}` is the same on every path; `mailstate pull` reads the Bounces API
//! in the same window for that reason.
//!
//! `SubscriptionChanged` entries: the Node client leaves their `Details` untyped and the docs
//! show no example; reading `SuppressSending` / `SuppressionReason` there is an assumption
//! (unverified), and without those fields the entry is `unknown`.
//!
//! # Unsupported
//!
//! - Inbound webhooks (an inbound message, not a delivery event).
//! - The Messages API search results (`GET /messages/outbound`): message summaries, not events.
//! - Postmark signs nothing; basic auth and IP allow-lists are the caller's business.

use std::borrow::Cow;

use super::json::object::{Object, value_text};
use super::json::scan::{Kind, Val};
use super::text::smtp_codes;
use super::{TimeUnit, bare_address, clean_message_id};
use crate::category::{self, Classification};
use crate::error::{Error, ErrorKind};
use crate::{
    BounceClass, Event, EventType, KeyScope, Metadata, Normalized, Payload, Tags, event_key,
};

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let text = super::body_text(payload.body)?;
    if super::first_byte(payload.body) != Some(b'{') {
        return Err(super::wrong_shape(payload.body, "a postmark webhook object"));
    }
    let o = Object::parse(text, "$")?;
    let record = match o.string("RecordType")? {
        Some(r) => r,
        None if o.has("TypeCode") => Cow::Borrowed("Bounce"),
        None if o.has("MessageEvents") => return details(&o),
        None => {
            return Err(Error::new(ErrorKind::WrongProvider, "expected a postmark RecordType")
                .with_path("$"));
        }
    };
    let record = record.as_ref();
    let mut e = Event::new("postmark", EventType::Unknown);
    record.clone_into(&mut e.provider_type);
    let (kind, class, time_key) = match record {
        "Delivery" => (EventType::Delivered, None, "DeliveredAt"),
        "Bounce" => {
            let (k, c, code) = bounce(&o)?;
            if let Some(code) = code {
                e.bounce_category =
                    category::provider(Classification::PostmarkTypeCode, &code.to_string());
            }
            (k, c, "BouncedAt")
        }
        "SpamComplaint" => (EventType::Complaint, None, "BouncedAt"),
        "Open" => (EventType::Open, None, "ReceivedAt"),
        "Click" => (EventType::Click, None, "ReceivedAt"),
        "SubscriptionChange" => {
            let kind = match o.bool("SuppressSending")? {
                Some(true) => match o.string("SuppressionReason")?.as_deref() {
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
        e.provider_event_id = o.str("ID")?.map(Cow::into_owned);
    }
    e.message_id = o.str("MessageID")?.as_deref().and_then(clean_message_id);
    let rcpt = match o.string("Recipient")? {
        Some(r) => Some(r),
        None => o.string("Email")?,
    };
    e.recipient = rcpt.as_deref().and_then(bare_address);
    e.occurred_at = o.time(time_key, TimeUnit::Seconds)?;
    e.stream = o.string("MessageStream")?.map(Cow::into_owned);
    let details = match o.string("Details")?.filter(|d| !d.trim().is_empty()) {
        Some(d) => Some(d),
        None if matches!(record, "Bounce" | "SpamComplaint") => {
            o.string("Description")?.filter(|d| !d.trim().is_empty())
        }
        None => None,
    };
    if let Some(d) = details {
        let (code, enhanced) = smtp_codes(&d);
        e.smtp_status = code;
        e.enhanced_status = enhanced;
        e.diagnostic = Some(d.into_owned());
    }
    if record == "Click" {
        e.url = o.string("OriginalLink")?.map(Cow::into_owned);
    }
    e.user_agent = o.string("UserAgent")?.map(Cow::into_owned);
    if let Some(geo) = o.obj("Geo")? {
        e.ip = geo.string("IP")?.map(Cow::into_owned);
    }
    e.tags =
        o.str_list("Tag")?.into_iter().filter(|t| !t.is_empty()).map(Cow::into_owned).collect();
    if let Some(md) = o.obj("Metadata")? {
        // Every value as text, `null` as `null` (the webhook's metadata is compact JSON).
        for (k, v) in md.fields() {
            let text = value_text(v)?.unwrap_or(Cow::Borrowed("null"));
            e.metadata.insert(k.to_owned(), text.into_owned());
        }
    }
    o.text().clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(Normalized { events: vec![e], errors: Vec::new(), control: None })
}

/// What every entry of one details body shares: the message's fields.
struct Message {
    id: Option<String>,
    stream: Option<String>,
    tags: Tags,
    metadata: Metadata,
}

/// A Messages API details body: one event per `MessageEvents` entry.
fn details(o: &Object<'_>) -> Result<Normalized, Error> {
    // Strings as they are, anything else as its exact text (not compacted).
    let metadata = match o.obj("Metadata")? {
        Some(md) => md
            .fields()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                (k.to_owned(), v.string().map_or_else(|| v.text.to_owned(), Cow::into_owned))
            })
            .collect(),
        None => Metadata::new(),
    };
    let message = Message {
        id: o.str("MessageID")?.as_deref().and_then(clean_message_id),
        stream: o.string("MessageStream")?.map(Cow::into_owned),
        tags: o
            .str_list("Tag")?
            .into_iter()
            .filter(|t| !t.is_empty())
            .map(Cow::into_owned)
            .collect(),
        metadata,
    };
    let mut out = Normalized::default();
    for (item, path) in o.items("MessageEvents")? {
        match message_event(item, path, &message) {
            Ok(e) => out.events.push(e),
            Err(e) => out.errors.push(e),
        }
    }
    Ok(out)
}

/// One `MessageEvents` entry (see the module docs for the mapping).
fn message_event(item: Val<'_>, path: String, message: &Message) -> Result<Event, Error> {
    let raw = item.text;
    let o = Object::of(item, path)?;
    let name = o.string("Type")?.ok_or_else(|| Error::missing(o.child("Type")))?;
    let details = o.obj("Details")?;
    let detail = |key: &str| -> Result<Option<String>, Error> {
        match &details {
            Some(d) => Ok(d.str(key)?.map(Cow::into_owned)),
            None => Ok(None),
        }
    };
    let (kind, provider_type) = match name.as_ref() {
        "Delivered" => (EventType::Delivered, "Delivery"),
        "Transient" => (EventType::Deferred, "Transient"),
        "Opened" => (EventType::Open, "Open"),
        "LinkClicked" => (EventType::Click, "Click"),
        "Bounced" => (EventType::Unknown, "Bounced"),
        "SubscriptionChanged" => {
            let suppress = match &details {
                Some(d) => d.get("SuppressSending").map(|v| v.text),
                None => None,
            };
            let reason = detail("SuppressionReason")?;
            let kind = match suppress {
                Some("true") => match reason.as_deref() {
                    Some("HardBounce" | "SpamComplaint") => EventType::Unknown,
                    _ => EventType::Unsubscribe,
                },
                Some("false") => EventType::Resubscribe,
                _ => EventType::Unknown,
            };
            (kind, "SubscriptionChange")
        }
        _ => (EventType::Unknown, name.as_ref()),
    };
    let mut e = super::new_event("postmark", kind, provider_type.to_owned());
    e.message_id.clone_from(&message.id);
    e.recipient = o.string("Recipient")?.as_deref().and_then(bare_address);
    e.occurred_at = o.time("ReceivedAt", TimeUnit::Seconds)?;
    e.stream.clone_from(&message.stream);
    e.tags.clone_from(&message.tags);
    e.metadata.clone_from(&message.metadata);
    let diagnostic = match name.as_ref() {
        "Delivered" | "Transient" => match detail("DeliveryMessage")? {
            Some(d) => Some(d),
            None => detail("Summary")?,
        },
        "Bounced" => detail("Summary")?,
        _ => None,
    };
    if let Some(d) = diagnostic.filter(|d| !d.trim().is_empty()) {
        let (code, enhanced) = smtp_codes(&d);
        e.smtp_status = code;
        e.enhanced_status = enhanced;
        e.diagnostic = Some(d);
    }
    if kind == EventType::Click {
        e.url = detail("Link")?;
    }
    raw.clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
}

/// The canonical type and class of a Bounce record, by `Type` or else `TypeCode`, and its type
/// code (`TypeCode`, or else the code of its `Type`): the bounce category's first source.
fn bounce(o: &Object<'_>) -> Result<(EventType, Option<BounceClass>, Option<u64>), Error> {
    let code: Option<u64> = match o.get("TypeCode") {
        Some(v) if v.kind == Kind::Num => v.text.parse().ok(),
        Some(v) if v.kind == Kind::Str => v.string().and_then(|s| s.trim().parse().ok()),
        Some(other) => {
            return Err(Error::type_mismatch(o.child("TypeCode"), "number", other.kind.name()));
        }
        None => None,
    };
    let typed = o.string("Type")?;
    let name = match typed.as_deref() {
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
    let code = code.or(match name {
        "HardBounce" => Some(1),
        "AutoResponder" => Some(64),
        "AddressChange" => Some(128),
        "DnsError" => Some(256),
        "SpamNotification" => Some(512),
        "VirusNotification" => Some(8192),
        "ChallengeVerification" => Some(16384),
        "Blocked" => Some(100_006),
        _ => None,
    });
    let soft = |c| (EventType::SoftBounce, Some(c));
    let (kind, class) = match name {
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
    };
    Ok((kind, class, code))
}

#[cfg(test)]
mod tests {
    use crate::{Headers, Payload, Provider, normalize};

    fn keys(body: &str) -> Vec<String> {
        let payload = Payload { body: body.as_bytes(), headers: &Headers::new() };
        let out = normalize(Provider::Postmark, payload).unwrap();
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        out.events.into_iter().map(|e| e.event_key).collect()
    }

    #[test]
    fn webhook_and_messages_api_copies_of_one_fact_share_a_key() {
        let id = "0f1e2d3c-4b5a-4968-8776-655443322110";
        let details = format!(
            r#"{{"MessageID":"{id}","MessageStream":"outbound","MessageEvents":[
              {{"Recipient":"Ivy@Example.com","Type":"Delivered","ReceivedAt":"2026-01-07T09:15:00.1234567-05:00",
                "Details":{{"DeliveryMessage":"smtp;250 2.0.0 OK","DestinationServer":"mx.example.com","DestinationIP":"192.0.2.1"}}}},
              {{"Recipient":"ivy@example.com","Type":"Opened","ReceivedAt":"2026-01-07T11:00:00-05:00","Details":{{"Summary":"opened"}}}},
              {{"Recipient":"ivy@example.com","Type":"LinkClicked","ReceivedAt":"2026-01-07T16:00:30Z",
                "Details":{{"Summary":"clicked","Link":"https://example.com/track","ClickLocation":"HTML"}}}}]}}"#
        );
        let webhooks = [
            format!(
                r#"{{"RecordType":"Delivery","MessageID":"{id}","Recipient":"ivy@example.com","DeliveredAt":"2026-01-07T14:15:00.123Z","Details":"smtp;250 2.0.0 OK"}}"#
            ),
            format!(
                r#"{{"RecordType":"Open","MessageID":"{id}","Recipient":"ivy@example.com","ReceivedAt":"2026-01-07T16:00:00Z","FirstOpen":true}}"#
            ),
            format!(
                r#"{{"RecordType":"Click","MessageID":"{id}","Recipient":"ivy@example.com","ReceivedAt":"2026-01-07T16:00:30Z","OriginalLink":"https://example.com/track"}}"#
            ),
        ];
        let pushed: Vec<String> = webhooks.iter().flat_map(|w| keys(w)).collect();
        assert_eq!(keys(&details), pushed);
    }

    #[test]
    fn a_bounced_entry_never_takes_the_bounce_records_key() {
        let details = r#"{"MessageID":"m1","MessageEvents":[{"Recipient":"a@example.com","Type":"Bounced",
            "ReceivedAt":"2026-01-07T10:00:00Z","Details":{"Summary":"smtp;550 5.1.1 no such user","BounceID":"5551234567"}}]}"#;
        let record = r#"{"RecordType":"Bounce","ID":5551234567,"Type":"HardBounce","MessageID":"m1","Email":"a@example.com","BouncedAt":"2026-01-07T10:00:00Z"}"#;
        assert_eq!(keys(record), ["postmark:5551234567"]);
        assert!(keys(details)[0].starts_with("postmark:sha256:"));
    }
}
