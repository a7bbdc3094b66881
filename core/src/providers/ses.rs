//! Amazon SES events: through an SNS HTTP subscription, by SNS raw message delivery, and as the
//! NDJSON records SES event publishing writes to Firehose.
//!
//! Docs: <https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html> (identity
//! notifications), <https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html>
//! (event publishing), <https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html>
//! (the SNS envelope).
//!
//! Three body shapes are accepted:
//!
//! - **The SNS envelope** (`Type`, `MessageId`, `Message`…). A `Notification` carries the SES
//!   event as a JSON string in `Message`; the event id is the envelope's `MessageId`, and `raw` is
//!   the SES event text inside `Message`. `SubscriptionConfirmation` and
//!   `UnsubscribeConfirmation` yield no events and a [`Control`] with the
//!   `SubscribeURL` and the topic ARN. The `Successfully validated SNS topic…` notification SES
//!   sends when a destination is attached yields no events and a `ping` control.
//! - **Raw message delivery**: the body is the SES event itself; the event id comes from the
//!   `x-amz-sns-message-id` header (null without it).
//! - **NDJSON export** (SES event publishing to Firehose/S3): one event record per line. A body
//!   that is not one JSON value but whose lines are (the first line parses on its own, or every
//!   line looks like an object) is read line by line; a bad line gives an error with its line
//!   number and the other lines still come out. These records carry no event id, so their keys
//!   are digests.
//!
//! Both forms of the SES event are read: identity notifications (`notificationType`) and event
//! publishing (`eventType`); `provider_type` is that name verbatim.
//!
//! | SES event | canonical | recipients | time |
//! |---|---|---|---|
//! | `Send` | `accepted` | `mail.destination` | `mail.timestamp` |
//! | `Reject` | `rejected` (`reject.reason` as diagnostic) | `mail.destination` | `mail.timestamp` |
//! | `Rendering Failure` | `rejected` (`failure.errorMessage`) | `mail.destination` | `mail.timestamp` |
//! | `Delivery` | `delivered` (`smtpResponse`) | `delivery.recipients` | `delivery.timestamp` |
//! | `DeliveryDelay` | `deferred` | `deliveryDelay.delayedRecipients` | `deliveryDelay.timestamp` |
//! | `Bounce`, `Permanent` | `hard_bounce` / `hard` | `bounce.bouncedRecipients` | `bounce.timestamp` |
//! | `Bounce`, `Permanent` / `Suppressed` or `OnAccountSuppressionList` | `rejected` | same | same |
//! | `Bounce`, `Transient` | `soft_bounce` / `soft` | same | same |
//! | `Bounce`, `Undetermined` (or another `bounceType`) | `soft_bounce` / `undetermined` | same | same |
//! | `Complaint` | `complaint` | `complaint.complainedRecipients` | `complaint.timestamp` |
//! | `Open`, `Click` | `open`, `click` (ip, user agent, `link`) | `mail.destination` | the event's `timestamp` |
//! | `Subscription` | `unsubscribe` / `resubscribe` / `unknown`, see below | `mail.destination` | `subscription.timestamp` |
//! | anything else | `unknown`, one event | the destination when it is exactly one | `mail.timestamp` |
//!
//! One canonical event per recipient (judgment call 7). When a list holds more than one
//! recipient the key is `ses:{MessageId}:{recipient}`, otherwise `ses:{MessageId}`. An event
//! whose recipient list is empty still yields one event, with a null recipient.
//!
//! Fields: `message_id` is `mail.messageId`; `smtp_message_id` is
//! `mail.commonHeaders.messageId` (when header inclusion is on); `stream` is the configuration
//! set, `mail.tags["ses:configuration-set"][0]`; `metadata` holds the custom message tags (every
//! `mail.tags` key not starting with `ses:`, its values joined with `,`), plus a click's
//! `linkTags` under their own names when no message tag has that name; for bounces and delays
//! `enhanced_status` is the recipient's `status` and `diagnostic` its `diagnosticCode`, whose
//! SMTP code becomes `smtp_status`. The bounce category's first source is `bounceSubType`
//! (`NoEmail`, `MailboxFull`, `MessageTooLarge`, `ContentRejected`, `AttachmentRejected`;
//! `General` has no opinion) or a delay's `delayType`; then that recipient's own
//! `diagnosticCode` and `status` (DESIGN.md, "Bounce category"). SES flags no machine opens.
//!
//! # Quirks
//!
//! - The SNS envelope's `Timestamp` is the publish time and is never used.
//! - SES `Transient` bounces are reported only after SES stopped retrying, so they are
//!   `soft_bounce`, not `deferred` (judgment call 3).
//! - `Subscription`: `unsubscribe` when `newTopicPreferences.unsubscribeAll` is true, or a topic
//!   is `OptOut` that was not before; `resubscribe` when `unsubscribeAll` went from true to false
//!   or a topic became `OptIn`; `unknown` when nothing changed.
//! - Identity notifications carry no `tags`, so their `stream` is null.
//!
//! # Unsupported
//!
//! - SNS signature verification is not part of normalizing.
//! - The EventBridge envelope is its own provider, `ses_eventbridge`. CloudWatch destinations and the VDM `GetMessageInsights` API.
//! - Inbound (`Received`) notifications become `unknown`.

use std::collections::BTreeMap;

use std::borrow::Cow;

use super::json::object::{MAX_DEPTH, Object};
use super::json::scan::Scan;
use super::text::smtp_codes;
use super::{TimeUnit, bare_address, body_text, clean_message_id};
use crate::category::{self, Classification};
use crate::error::{Error, ErrorKind};
use crate::webhook::HeaderName;
use crate::{
    BounceClass, Control, ControlKind, Event, EventType, KeyScope, Normalized, Payload, Timestamp,
    event_key,
};

const SLUG: &str = "ses";

const MESSAGE_ID: &str = "x-amz-sns-message-id";

/// Every request header this normalizer reads (see `Provider::header_names`).
pub(crate) const HEADERS: &[HeaderName] = &[HeaderName::always(MESSAGE_ID)];

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let text = body_text(payload.body)?;
    let value = match is_json(text) {
        Ok(v) => v,
        Err(_) if looks_like_ndjson(text) => return Ok(ndjson(text)),
        Err(e) => return Err(e),
    };
    let o = Object::of(value, "$".to_owned()).map_err(|_| wrong())?;
    let header_id = payload.headers.get(MESSAGE_ID).map(str::to_owned);
    let mut out = Normalized::default();
    if o.has("Type") {
        envelope(&o, header_id, &mut out)?;
    } else if o.has("eventType") || o.has("notificationType") {
        out.events = ses_event(&o, text.trim(), header_id.as_deref(), SLUG)?;
    } else {
        return Err(wrong());
    }
    Ok(out)
}

fn wrong() -> Error {
    Error::new(
        ErrorKind::WrongProvider,
        "expected an SNS envelope (Type, Message) or an SES event (eventType or notificationType)",
    )
    .with_path("$")
}

/// The one JSON value `text` holds (`invalid_json`, or `too_large` past serde_json's nesting
/// limit).
fn is_json(text: &str) -> Result<super::json::scan::Val<'_>, Error> {
    let mut scan = Scan::with_max_depth(text, MAX_DEPTH);
    let v = scan.value()?;
    scan.end()?;
    Ok(v)
}

fn envelope(o: &Object<'_>, header_id: Option<String>, out: &mut Normalized) -> Result<(), Error> {
    super::sns::envelope(o, out, |o, out| {
        let id = o.str("MessageId")?.map(Cow::into_owned).or(header_id);
        let message = o.string("Message")?.ok_or_else(|| Error::missing(o.child("Message")))?;
        let trimmed = message.trim();
        if trimmed.starts_with('{') {
            let io = Object::parse(trimmed, "$.Message").map_err(|e| e.with_path("$.Message"))?;
            out.events = ses_event(&io, trimmed, id.as_deref(), SLUG)?;
        } else if trimmed.starts_with("Successfully validated") {
            out.control = Some(Control {
                kind: ControlKind::Ping,
                url: None,
                detail: Some(trimmed.to_owned()),
            });
        } else {
            return Err(Error::invalid("$.Message", "expected an SES event as JSON, found text"));
        }
        Ok(())
    })
}

/// Whether a body that is not one JSON value is NDJSON: its first line is a JSON value on its
/// own, or every line looks like an object.
fn looks_like_ndjson(text: &str) -> bool {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(first) = lines.next() else { return false };
    if is_json(first).is_ok() {
        return true;
    }
    let mut rest = lines.peekable();
    rest.peek().is_some()
        && first.starts_with('{')
        && first.ends_with('}')
        && rest.all(|l| l.starts_with('{') && l.ends_with('}'))
}

fn ndjson(text: &str) -> Normalized {
    let mut out = Normalized::default();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let n = i as u64 + 1;
        let result = Object::parse(line, "$")
            .map_err(|e| serde_syntax_error(line).unwrap_or(e))
            .and_then(|o| ses_event(&o, line, None, SLUG));
        match result {
            Ok(events) => out.events.extend(events),
            Err(e) => out.errors.push(e.with_line(n)),
        }
    }
    out
}

/// serde_json's description of a syntax error in `line`, which the line's error in the
/// output has always carried (`line 1 column 53`, where the scanner says `byte 53`).
#[cold]
fn serde_syntax_error(line: &str) -> Option<Error> {
    serde_json::from_str::<serde::de::IgnoredAny>(line).err().map(|e| Error::from_json(&e))
}

/// One recipient of a fanned-out event, with its per-recipient details.
#[derive(Default)]
struct Rcpt {
    address: Option<String>,
    status: Option<String>,
    diagnostic: Option<String>,
}

/// The canonical events of one SES event object, as `slug` (`ses`, or `ses_eventbridge` for
/// the same record inside an EventBridge envelope).
pub(super) fn ses_event(
    o: &Object<'_>,
    raw: &str,
    event_id: Option<&str>,
    slug: &'static str,
) -> Result<Vec<Event>, Error> {
    let name = match o.string("eventType")? {
        Some(n) => n,
        None => {
            o.string("notificationType")?.ok_or_else(|| Error::missing(o.child("eventType")))?
        }
    };
    ses_event_named(o, &name, raw, event_id, slug)
}

/// [`ses_event`] for an event whose type is `name` (read from the record, or for EventBridge
/// from the envelope's `detail-type` when the record has none).
#[expect(clippy::too_many_lines, reason = "one arm per SES event type, in the order of the table")]
pub(super) fn ses_event_named(
    o: &Object<'_>,
    name: &str,
    raw: &str,
    event_id: Option<&str>,
    slug: &'static str,
) -> Result<Vec<Event>, Error> {
    let mail = o.obj("mail")?;
    let detail_key = match name {
        "Bounce" => "bounce",
        "Complaint" => "complaint",
        "Delivery" => "delivery",
        "Send" => "send",
        "Reject" => "reject",
        "Open" => "open",
        "Click" => "click",
        "Rendering Failure" => "failure",
        "DeliveryDelay" => "deliveryDelay",
        "Subscription" => "subscription",
        _ => "",
    };
    let detail = if detail_key.is_empty() { None } else { o.obj(detail_key)? };

    let mut base = Event::new(slug, EventType::Unknown);
    name.clone_into(&mut base.provider_type);
    base.provider_event_id = event_id.map(str::to_owned);
    let mail_time = match &mail {
        Some(m) => {
            base.message_id = m.string("messageId")?.as_deref().and_then(clean_message_id);
            if let Some(ch) = m.obj("commonHeaders")? {
                base.smtp_message_id =
                    ch.string("messageId")?.as_deref().and_then(clean_message_id);
            }
            if let Some(tags) = m.obj("tags")? {
                base.stream =
                    tags.str_list("ses:configuration-set")?.into_iter().next().map(Cow::into_owned);
                base.metadata = tag_map(&tags, true)?.into();
            }
            m.time("timestamp", TimeUnit::Seconds)?
        }
        None => None,
    };
    let destination = || -> Result<Vec<Rcpt>, Error> {
        Ok(match &mail {
            Some(m) => m
                .str_list("destination")?
                .iter()
                .map(|a| Rcpt { address: bare_address(a), ..Rcpt::default() })
                .collect(),
            None => Vec::new(),
        })
    };
    let own_time = |d: &Option<Object<'_>>| -> Result<Option<Timestamp>, Error> {
        match d {
            Some(d) => d.time("timestamp", TimeUnit::Seconds),
            None => Ok(None),
        }
    };

    let (recipients, kind, class) = match name {
        "Send" => {
            base.occurred_at = mail_time;
            (destination()?, EventType::Accepted, None)
        }
        "Reject" | "Rendering Failure" => {
            base.occurred_at = mail_time;
            if let Some(d) = &detail {
                let key = if name == "Reject" { "reason" } else { "errorMessage" };
                base.diagnostic = d.string(key)?.map(Cow::into_owned);
            }
            (destination()?, EventType::Rejected, None)
        }
        "Delivery" => {
            base.occurred_at = own_time(&detail)?;
            let mut list = Vec::new();
            if let Some(d) = &detail {
                if let Some(resp) = d.string("smtpResponse")? {
                    let (code, enhanced) = smtp_codes(&resp);
                    base.smtp_status = code;
                    base.enhanced_status = enhanced;
                    base.diagnostic = Some(resp.into_owned());
                }
                list = d
                    .str_list("recipients")?
                    .iter()
                    .map(|a| Rcpt { address: bare_address(a), ..Rcpt::default() })
                    .collect();
            }
            (list, EventType::Delivered, None)
        }
        "DeliveryDelay" => {
            base.occurred_at = own_time(&detail)?;
            let list = match &detail {
                Some(d) => {
                    if let Some(t) = d.string("delayType").ok().flatten() {
                        base.bounce_category = category::provider(Classification::SesDelayType, &t);
                    }
                    rcpt_objects(d, "delayedRecipients")?
                }
                None => Vec::new(),
            };
            (list, EventType::Deferred, None)
        }
        "Bounce" => {
            base.occurred_at = own_time(&detail)?;
            let (bt, st, list) = match &detail {
                Some(d) => (
                    d.string("bounceType")?.map(Cow::into_owned),
                    d.string("bounceSubType")?.map(Cow::into_owned),
                    rcpt_objects(d, "bouncedRecipients")?,
                ),
                None => (None, None, Vec::new()),
            };
            let (kind, class) = match (bt.as_deref(), st.as_deref()) {
                (Some("Permanent"), Some("Suppressed" | "OnAccountSuppressionList")) => {
                    (EventType::Rejected, None)
                }
                (Some("Permanent"), _) => (EventType::HardBounce, Some(BounceClass::Hard)),
                (Some("Transient"), _) => (EventType::SoftBounce, Some(BounceClass::Soft)),
                _ => (EventType::SoftBounce, Some(BounceClass::Undetermined)),
            };
            if let Some(st) = &st {
                base.bounce_category = category::provider(Classification::SesBounceSubType, st);
            }
            (list, kind, class)
        }
        "Complaint" => {
            base.occurred_at = own_time(&detail)?;
            let list = match &detail {
                Some(d) => {
                    base.user_agent = d.string("userAgent")?.map(Cow::into_owned);
                    rcpt_objects(d, "complainedRecipients")?
                }
                None => Vec::new(),
            };
            (list, EventType::Complaint, None)
        }
        "Open" | "Click" => {
            base.occurred_at = own_time(&detail)?;
            if let Some(d) = &detail {
                base.ip = d.string("ipAddress")?.map(Cow::into_owned);
                base.user_agent = d.string("userAgent")?.map(Cow::into_owned);
                if name == "Click" {
                    base.url = d.string("link")?.map(Cow::into_owned);
                    if let Some(lt) = d.obj("linkTags")? {
                        for (k, v) in tag_map(&lt, false)? {
                            if !base.metadata.contains_key(&k) {
                                base.metadata.insert(k, v);
                            }
                        }
                    }
                }
            }
            let kind = if name == "Open" { EventType::Open } else { EventType::Click };
            (destination()?, kind, None)
        }
        "Subscription" => {
            base.occurred_at = own_time(&detail)?;
            let kind = match &detail {
                Some(d) => subscription_kind(d)?,
                None => EventType::Unknown,
            };
            (destination()?, kind, None)
        }
        _ => {
            base.occurred_at = mail_time;
            let mut d = destination()?;
            if d.len() != 1 {
                d.clear();
            }
            (d, EventType::Unknown, None)
        }
    };
    base.kind = kind;
    base.bounce_class = class;
    raw.clone_into(&mut base.raw);

    let scope = if recipients.len() > 1 { KeyScope::PerRecipient } else { KeyScope::Event };
    let mut events = Vec::with_capacity(recipients.len().max(1));
    let mut recipients = recipients.into_iter();
    let first = recipients.next().unwrap_or_default();
    for r in std::iter::once(first).chain(recipients) {
        let mut e = base.clone();
        e.recipient = r.address;
        if r.status.is_some() {
            e.enhanced_status = r.status;
        }
        if let Some(diag) = r.diagnostic {
            let (code, enhanced) = smtp_codes(&diag);
            e.smtp_status = code;
            if e.enhanced_status.is_none() {
                e.enhanced_status = enhanced;
            }
            e.diagnostic = Some(diag);
        }
        e.event_key = event_key(&e, scope);
        events.push(e);
    }
    Ok(events)
}

/// `[{emailAddress, status?, diagnosticCode?}]` lists (bounced, complained, delayed).
fn rcpt_objects(d: &Object<'_>, key: &str) -> Result<Vec<Rcpt>, Error> {
    d.items(key)?
        .into_iter()
        .map(|(item, path)| {
            let r = Object::of(item, path)?;
            Ok(Rcpt {
                address: r.string("emailAddress")?.as_deref().and_then(bare_address),
                status: r.string("status")?.map(Cow::into_owned),
                diagnostic: r.string("diagnosticCode")?.map(Cow::into_owned),
            })
        })
        .collect()
}

/// `{name: [values]}` tags as metadata; `ses:` auto tags are skipped when `custom_only`.
fn tag_map(tags: &Object<'_>, custom_only: bool) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for k in tags.keys() {
        if custom_only && k.starts_with("ses:") {
            continue;
        }
        out.insert(k.to_owned(), tags.str_list(k)?.join(","));
    }
    Ok(out)
}

/// Unsubscribe, resubscribe or unknown, by comparing old and new topic preferences.
fn subscription_kind(d: &Object<'_>) -> Result<EventType, Error> {
    let new = d.obj("newTopicPreferences")?;
    let old = d.obj("oldTopicPreferences")?;
    let all = |p: &Option<Object<'_>>| -> Result<bool, Error> {
        Ok(match p {
            Some(p) => p.bool("unsubscribeAll")?.unwrap_or(false),
            None => false,
        })
    };
    let (new_all, old_all) = (all(&new)?, all(&old)?);
    if new_all {
        return Ok(EventType::Unsubscribe);
    }
    if old_all {
        return Ok(EventType::Resubscribe);
    }
    let topics = |p: &Option<Object<'_>>| -> Result<BTreeMap<String, String>, Error> {
        let mut out = BTreeMap::new();
        let Some(p) = p else { return Ok(out) };
        for (item, path) in p.items("topicSubscriptionStatus")? {
            let t = Object::of(item, path)?;
            if let (Some(name), Some(status)) =
                (t.string("topicName")?, t.string("subscriptionStatus")?)
            {
                out.insert(name.into_owned(), status.into_owned());
            }
        }
        Ok(out)
    };
    let (new_t, old_t) = (topics(&new)?, topics(&old)?);
    let changed_to = |status: &str| {
        new_t.iter().any(|(name, s)| s == status && old_t.get(name).is_none_or(|o| o != status))
    };
    Ok(if changed_to("OptOut") {
        EventType::Unsubscribe
    } else if changed_to("OptIn") {
        EventType::Resubscribe
    } else {
        EventType::Unknown
    })
}
