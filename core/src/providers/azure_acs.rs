//! Azure Communication Services Email events, delivered by Azure Event Grid to a webhook.
//!
//! Docs: <https://learn.microsoft.com/azure/event-grid/communication-services-email-events>
//! (the two email event types), <https://learn.microsoft.com/azure/event-grid/event-schema>
//! and <https://learn.microsoft.com/azure/event-grid/cloud-event-schema> (the two output
//! schemas), <https://learn.microsoft.com/azure/event-grid/end-point-validation-event-grid-events-schema>
//! and <https://learn.microsoft.com/azure/event-grid/end-point-validation-cloud-events-schema>
//! (the handshakes).
//!
//! Body shapes: an Event Grid schema batch (always a JSON array of
//! `{id, topic, subject, eventType, eventTime, data, …}`), or CloudEvents 1.0 (one object with
//! `specversion`, or an array of them in batch mode). The type is `eventType` or `type`, the id
//! `id`, the fallback time `eventTime` or `time`. A bad element of an array becomes an error
//! with its path; the others still come out.
//!
//! | event type / `data` | canonical | bounce class |
//! |---|---|---|
//! | `Microsoft.Communication.EmailDeliveryReportReceived`, `status` `Delivered` | `delivered` | |
//! | … `Bounced` | `hard_bounce` | `hard` |
//! | … `FilteredSpam`, `Quarantined` | `soft_bounce` (category `blocked`) | `block` |
//! | … `Failed` | `soft_bounce` | `undetermined` |
//! | … `Suppressed` | `rejected` (on the suppression list, never attempted) | |
//! | … `Expanded` (a distribution list was expanded) or any other status | `unknown`, ids kept | |
//! | `Microsoft.Communication.EmailEngagementTrackingReportReceived`, `engagementType` `view` | `open` | |
//! | … `click` (any case) | `click`, url = `engagementContext` | |
//! | `Microsoft.EventGrid.SubscriptionValidationEvent` | no event: a `subscription_validation` control | |
//! | any other event type (chat, SMS… on the same system topic) | `unknown`, message id and recipient null | |
//!
//! Fields: `provider_event_id` is the event `id` (stable across Event Grid's retries);
//! `provider_type` is `data.status` for delivery reports, `data.engagementType` for engagement,
//! else the event type; `message_id` is `data.messageId` (the send operation's id);
//! `smtp_message_id` is `data.internetMessageId`; `recipient` is `data.recipient` (null when
//! absent, as in engagement reports); the time is `data.deliveryAttemptTimeStamp` or
//! `data.userActionTimeStamp` (keys matched ignoring case: the docs write `…TimeStamp`, the
//! SDKs `…Timestamp`), else `eventTime` / `time`; `diagnostic` is
//! `data.deliveryStatusDetails.statusMessage`, whose leading codes give `smtp_status` and
//! `enhanced_status`; `user_agent` is `data.userAgent`. ACS has no stream, tags or metadata,
//! and flags no machine opens.
//!
//! # Handshakes
//! - Event Grid schema: a `SubscriptionValidation` request (header `aeg-event-type`, or an
//!   element of type `Microsoft.EventGrid.SubscriptionValidationEvent`) yields no events and a
//!   `subscription_validation` control whose `detail` is `data.validationCode` and `url` is
//!   `data.validationUrl`. The answer Event Grid needs is HTTP 200 with
//!   `{"validationResponse": "<code>"}` ([`crate::Control::answer`]).
//! - CloudEvents: the abuse-protection request is an `OPTIONS` with an empty body and
//!   `WebHook-Request-Origin`; it yields an `origin_validation` control whose `detail` is the
//!   origin, answered with `WebHook-Allowed-Origin` set to it.
//!
//! # Unsupported
//! - Event Grid does not sign events. A secret in the endpoint's query string, a custom
//!   delivery header or basic credentials are checked by `verify`; a Microsoft Entra bearer
//!   token is a JWT whose issuer, audience and role the receiver must validate itself.

use std::borrow::Cow;

use super::json::object::{Object, each_object};
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address, body_text, clean_message_id, first_byte};
use crate::category::{self, Classification};
use crate::error::{Error, ErrorKind};
use crate::webhook::HeaderName;
use crate::{
    BounceClass, Control, ControlKind, Event, EventType, KeyScope, Normalized, Payload, Timestamp,
    event_key,
};

const SLUG: &str = "azure_acs";

/// The CloudEvents handshake's header.
const REQUEST_ORIGIN: &str = "webhook-request-origin";
/// Event Grid's delivery header.
const EVENT_TYPE: &str = "aeg-event-type";

/// Every request header this normalizer reads (see `Provider::header_names`).
pub(crate) const HEADERS: &[HeaderName] =
    &[HeaderName::always(REQUEST_ORIGIN), HeaderName::always(EVENT_TYPE)];
const DELIVERY: &str = "Microsoft.Communication.EmailDeliveryReportReceived";
const ENGAGEMENT: &str = "Microsoft.Communication.EmailEngagementTrackingReportReceived";
const VALIDATION: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let mut out = Normalized::default();
    if payload.body.trim_ascii().is_empty() {
        // The CloudEvents abuse-protection handshake: an OPTIONS request without a body.
        return match payload.headers.get(REQUEST_ORIGIN) {
            Some(origin) => {
                out.control = Some(Control {
                    kind: ControlKind::OriginValidation,
                    url: None,
                    detail: Some(origin.trim().to_owned()),
                });
                Ok(out)
            }
            None => Err(Error::new(
                ErrorKind::WrongProvider,
                "expected an event grid or cloudevents body, or an empty body with \
                 WebHook-Request-Origin (the cloudevents handshake), found an empty body",
            )
            .with_path("$")),
        };
    }
    let text = body_text(payload.body)?;
    let validation_header = payload
        .headers
        .get(EVENT_TYPE)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("SubscriptionValidation"));
    let each = |o: &Object<'_>, out: &mut Normalized| -> Result<(), Error> {
        let kind = match o.string("eventType")? {
            Some(t) => Some(t),
            None => o.string("type")?,
        };
        if kind.as_deref() == Some(VALIDATION) || (validation_header && kind.is_none()) {
            out.control = Some(validation(o)?);
            return Ok(());
        }
        out.events.push(event(o, kind.as_deref().unwrap_or_default())?);
        Ok(())
    };
    if first_byte(payload.body) == Some(b'[') {
        let mut errors = Vec::new();
        each_object(text, |o| {
            if let Err(e) = o.and_then(|o| each(&o, &mut out)) {
                errors.push(e);
            }
        })?;
        out.errors = errors;
    } else {
        let o = Object::parse(text, "$")?;
        each(&o, &mut out)?;
    }
    Ok(out)
}

/// The `subscription_validation` control of a validation event.
fn validation(o: &Object<'_>) -> Result<Control, Error> {
    let data = o.obj("data")?.ok_or_else(|| Error::missing(o.child("data")))?;
    let code = data.req_str("validationCode")?.into_owned();
    Ok(Control {
        kind: ControlKind::SubscriptionValidation,
        url: data.string("validationUrl")?.map(Cow::into_owned),
        detail: Some(code),
    })
}

/// The value of `key` in `o`, the key compared ignoring ASCII case (the last match wins).
fn time_ignoring_case(o: &Object<'_>, key: &str) -> Result<Option<Timestamp>, Error> {
    let found = o.keys().filter(|k| k.eq_ignore_ascii_case(key)).last().map(str::to_owned);
    match found {
        Some(k) => o.time(&k, TimeUnit::Seconds),
        None => Ok(None),
    }
}

/// The canonical event of one Event Grid or CloudEvents element of type `kind`.
fn event(o: &Object<'_>, kind: &str) -> Result<Event, Error> {
    let mut e = Event::new(SLUG, EventType::Unknown);
    kind.clone_into(&mut e.provider_type);
    e.provider_event_id = non_empty(o.str("id")?);
    let fallback = match o.time("eventTime", TimeUnit::Seconds)? {
        Some(t) => Some(t),
        None => o.time("time", TimeUnit::Seconds)?,
    };
    let data = if kind == DELIVERY || kind == ENGAGEMENT { o.obj("data")? } else { None };
    if let Some(d) = &data {
        e.message_id = d.str("messageId")?.as_deref().and_then(clean_message_id);
        e.smtp_message_id = d.string("internetMessageId")?.as_deref().and_then(clean_message_id);
        e.recipient = d.string("recipient")?.as_deref().and_then(bare_address);
        if kind == DELIVERY {
            delivery(d, &mut e)?;
        } else {
            engagement(d, &mut e)?;
        }
    }
    if e.occurred_at.is_none() {
        e.occurred_at = fallback;
    }
    o.text().clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
}

fn delivery(d: &Object<'_>, e: &mut Event) -> Result<(), Error> {
    let status = d.string("status")?.map(Cow::into_owned);
    let (kind, class) = match status.as_deref() {
        Some("Delivered") => (EventType::Delivered, None),
        Some("Bounced") => (EventType::HardBounce, Some(BounceClass::Hard)),
        Some("FilteredSpam" | "Quarantined") => (EventType::SoftBounce, Some(BounceClass::Block)),
        Some("Failed") => (EventType::SoftBounce, Some(BounceClass::Undetermined)),
        Some("Suppressed") => (EventType::Rejected, None),
        _ => (EventType::Unknown, None),
    };
    e.kind = kind;
    e.bounce_class = class;
    e.occurred_at = time_ignoring_case(d, "deliveryAttemptTimeStamp")?;
    if let Some(details) = d.obj("deliveryStatusDetails")? {
        e.diagnostic = non_empty(details.string("statusMessage")?);
        (e.smtp_status, e.enhanced_status) =
            e.diagnostic.as_deref().map(smtp_codes).unwrap_or_default();
    }
    if let Some(s) = status {
        e.bounce_category = category::provider(Classification::AzureAcsStatus, &s);
        e.provider_type = s;
    }
    Ok(())
}

fn engagement(d: &Object<'_>, e: &mut Event) -> Result<(), Error> {
    let engagement = d.string("engagementType")?.map(Cow::into_owned);
    e.kind = match engagement.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("view") => EventType::Open,
        Some(t) if t.eq_ignore_ascii_case("click") => EventType::Click,
        _ => EventType::Unknown,
    };
    e.occurred_at = time_ignoring_case(d, "userActionTimeStamp")?;
    e.user_agent = non_empty(d.string("userAgent")?);
    if e.kind == EventType::Click {
        e.url = non_empty(d.string("engagementContext")?);
    }
    if let Some(t) = engagement {
        e.provider_type = t;
    }
    Ok(())
}
