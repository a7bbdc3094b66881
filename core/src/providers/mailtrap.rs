//! Mailtrap Email Sending webhooks.
//!
//! Docs: <https://docs.mailtrap.io/email-api-smtp/advanced/webhooks> and the webhook schema in
//! `mailtrap/mailtrap-openapi` (`specs/webhooks.openapi.yml`).
//!
//! | Mailtrap `event` | canonical |
//! |---|---|
//! | `delivery` | `delivered` |
//! | `soft bounce` (with a space) | `deferred` (Mailtrap retries) |
//! | `suspension` | `deferred` (sent later) |
//! | `bounce` | `hard_bounce`, class `hard` |
//! | `reject` | `rejected` (suppression list, billing) |
//! | `spam` | `complaint` |
//! | `unsubscribe` | `unsubscribe` |
//! | `open` | `open` |
//! | `click` | `click` |
//! | `activity_log.*` | `unknown`, with no message, recipient or event id |
//! | anything else | `unknown` |
//!
//! Fields: `event_id` is the event id, `message_id` the id the send API returned, `email` the
//! recipient, `timestamp` Unix seconds, `sending_stream` (`transactional` or `bulk`) the
//! stream, `category` a tag and `custom_variables` the metadata. The diagnostic is `response`,
//! else `reason` (suspensions and rejections); `response_code` is the SMTP code.
//!
//! # Quirks
//! * The body is `{"events": [...]}` (JSON format) or one event per line (JSON Lines format),
//!   as chosen per webhook; a single event object is read as one event. A body that is not
//!   one JSON value is read as JSON Lines: each non-blank line is one event, and a line that
//!   is not an event is an error naming its line while the others still come out.
//! * "Run Test" and empty batches (`{"events":[]}`, an empty body, blank lines) are valid and
//!   give no events.
//! * Mailtrap's own `bounce_category` is used for the bounce category only where its value is
//!   documented (`spam`, `greylisting`); others fall through to the diagnostic.
//!
//! # Unsupported
//! * The `Mailtrap-Signature` HMAC is checked by `verify`, not here.
//! * `ip` and `user_agent` of opens and clicks are read; `sending_domain_name` stays in `raw`.

use std::borrow::Cow;

use super::json::object::Object;
use super::json::scan::{Kind, Scan};
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address, clean_message_id};
use crate::category::{self, Classification};
use crate::error::{Error, ErrorKind};
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

const SLUG: &str = "mailtrap";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let body = super::body_text(payload.body)?;
    let mut out = Normalized::default();
    if body.trim().is_empty() {
        return Ok(out);
    }
    match whole(body) {
        Some(Ok(o)) if o.get("events").is_some() => {
            for (item, path) in o.items("events")? {
                match Object::of(item, path).and_then(|e| event(&e)) {
                    Ok(e) => out.events.push(e),
                    Err(e) => out.errors.push(e.with_provider(SLUG)),
                }
            }
        }
        Some(Ok(o)) if o.has("event") => out.events.push(event(&o)?),
        Some(Ok(o)) => {
            let keys: Vec<&str> = o.keys().collect();
            return Err(Error::new(
                ErrorKind::InvalidValue,
                format!(
                    "expected an object with events or an event, found an object with keys [{}]",
                    keys.join(", ")
                ),
            ));
        }
        Some(Err(e)) => return Err(e),
        None => lines(body, &mut out),
    }
    Ok(out)
}

/// The body as one JSON object: `None` when it is not one JSON value (JSON Lines), an error
/// when it is one value of another kind.
fn whole(body: &str) -> Option<Result<Object<'_>, Error>> {
    let mut scan = Scan::with_max_depth(body, super::json::object::MAX_DEPTH - 1);
    let v = scan.value().ok()?;
    scan.end().ok()?;
    Some(if v.kind == Kind::Obj {
        Object::parse(body, "$")
    } else {
        Err(Error::type_mismatch("$", "object", v.kind.name()))
    })
}

/// JSON Lines: one event per non-blank line.
fn lines(body: &str, out: &mut Normalized) {
    for (i, line) in body.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let n = i as u64 + 1;
        match Object::parse(line, "$").and_then(|o| event(&o)) {
            Ok(e) => out.events.push(e),
            Err(e) => out.errors.push(e.with_provider(SLUG).with_line(n)),
        }
    }
}

fn event(o: &Object<'_>) -> Result<Event, Error> {
    let provider_type = o.req_str("event")?;
    let (kind, class) = match provider_type.as_ref() {
        "delivery" => (EventType::Delivered, None),
        "soft bounce" | "suspension" => (EventType::Deferred, None),
        "bounce" => (EventType::HardBounce, Some(BounceClass::Hard)),
        "reject" => (EventType::Rejected, None),
        "spam" => (EventType::Complaint, None),
        "unsubscribe" => (EventType::Unsubscribe, None),
        "open" => (EventType::Open, None),
        "click" => (EventType::Click, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new(SLUG, kind);
    e.bounce_class = class;
    e.occurred_at = o.time("timestamp", TimeUnit::Seconds)?;
    o.text().clone_into(&mut e.raw);
    // Account audit events are about no message: nothing of them identifies one.
    if !provider_type.starts_with("activity_log.") {
        e.provider_event_id = non_empty(o.str("event_id")?);
        e.message_id = o.str("message_id")?.as_deref().and_then(clean_message_id);
        e.recipient = o.string("email")?.as_deref().and_then(bare_address);
        e.stream = non_empty(o.str("sending_stream")?);
        e.tags = o.str_list("category")?.into_iter().map(Cow::into_owned).collect();
        e.metadata = o
            .string_map("custom_variables")?
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        e.diagnostic = match non_empty(o.str("response")?) {
            Some(r) => Some(r),
            None => non_empty(o.str("reason")?),
        };
        let (status, enhanced) = e.diagnostic.as_deref().map(smtp_codes).unwrap_or_default();
        e.smtp_status = non_empty(o.str("response_code")?).or(status);
        e.enhanced_status = enhanced;
        e.url = non_empty(o.string("url")?);
        e.user_agent = non_empty(o.string("user_agent")?);
        e.ip = non_empty(o.string("ip")?);
        if let Some(c) = o.str("bounce_category")? {
            e.bounce_category = category::provider(Classification::MailtrapBounceCategory, &c);
        }
    }
    e.provider_type = provider_type.into_owned();
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
}
