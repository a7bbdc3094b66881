//! Resend webhooks (delivered through Svix).
//!
//! Docs: <https://resend.com/docs/dashboard/webhooks/event-types> and
//! <https://resend.com/docs/dashboard/webhooks/verify-webhooks-requests>.
//!
//! | Resend `type` | canonical |
//! |---|---|
//! | `email.sent`, `email.scheduled` | `accepted` |
//! | `email.delivered` | `delivered` |
//! | `email.delivery_delayed` (and the old typo `email.delivered_delayed`) | `deferred` |
//! | `email.bounced` with `bounce.subType` `Suppressed` or `OnAccountSuppressionList` | `rejected` (nothing was attempted) |
//! | `email.bounced` with `bounce.type` `Transient` | `soft_bounce`, class `soft` |
//! | `email.bounced` with `bounce.type` `Undetermined` | `soft_bounce`, class `undetermined` |
//! | `email.bounced`, any other (`Permanent`, or no bounce details) | `hard_bounce`, class `hard` |
//! | `email.complained` | `complaint` |
//! | `email.opened` | `open` |
//! | `email.clicked` | `click` |
//! | `email.failed`, `email.suppressed` | `rejected` |
//! | `email.received` (inbound), `contact.*`, `domain.*`, `suppression.*`, anything else | `unknown` |
//!
//! Fields: the `svix-id` header (or `webhook-id`, the Standard Webhooks name) is the event id;
//! the top-level `created_at` is the event time (`data.created_at` is when the *email* was
//! created); `data.email_id` is the message id and `data.message_id` the RFC Message-ID;
//! `data.click` gives url, user agent and ip; `data.tags` goes to metadata.
//!
//! # Quirks
//! * The payload does not say which recipient an event concerns. With one address in
//!   `data.to` it is that address; with several, the event fans out to every distinct
//!   address, and the event keys include the recipient because the copies share the svix id.
//! * `data.to` entries may carry display names (`"Ann <ann@example.com>"`); they are stripped.
//! * `data.tags` is an object `{name: value}` (older payloads: a list of `{name, value}`). Both
//!   are key/value pairs, so they become `metadata`, not `tags`.
//! * Events that are not about a sent email (`email.received`, `contact.*`, `domain.*`,
//!   `suppression.*`) become a single `unknown` event with a null message id and recipient.
//!
//! # Unsupported
//! * Signature verification (Svix HMAC) is separate from normalizing.
//! * `data.broadcast_id` is kept in `raw` only; there is no stream.

use std::borrow::Cow;

use super::json::object::Object;
use super::json::scan::Kind;
use super::text::{non_empty, smtp_codes};
use super::{TimeUnit, bare_address, clean_message_id};
use crate::error::Error;
use crate::webhook::HeaderName;
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

const SLUG: &str = "resend";

/// Every request header this normalizer reads (see `Provider::header_names`).
pub(crate) const HEADERS: &[HeaderName] =
    &[HeaderName::always(SVIX_ID), HeaderName::unless_present(WEBHOOK_ID, SVIX_ID)];

/// The event id: Svix's header, or the Standard Webhooks one.
const SVIX_ID: &str = "svix-id";
const WEBHOOK_ID: &str = "webhook-id";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let o = Object::parse(super::body_text(payload.body)?, "$")?;
    let provider_type = o.req_str("type")?.into_owned();
    let data = o.obj("data")?;
    let about_sent_email = provider_type.starts_with("email.") && provider_type != "email.received";

    let (kind, class) = match provider_type.as_str() {
        "email.sent" | "email.scheduled" => (EventType::Accepted, None),
        "email.delivered" => (EventType::Delivered, None),
        "email.delivery_delayed" | "email.delivered_delayed" => (EventType::Deferred, None),
        "email.bounced" => bounce_kind(data.as_ref())?,
        "email.complained" => (EventType::Complaint, None),
        "email.opened" => (EventType::Open, None),
        "email.clicked" => (EventType::Click, None),
        "email.failed" | "email.suppressed" => (EventType::Rejected, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new(SLUG, kind);
    e.provider_type = provider_type;
    e.bounce_class = class;
    e.provider_event_id = payload
        .headers
        .get(SVIX_ID)
        .or_else(|| payload.headers.get(WEBHOOK_ID))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    e.occurred_at = o.time("created_at", TimeUnit::Seconds)?;
    o.text().clone_into(&mut e.raw);

    let mut recipients = Vec::new();
    if let (true, Some(d)) = (about_sent_email, data.as_ref()) {
        e.message_id = d.str("email_id")?.as_deref().and_then(clean_message_id);
        e.smtp_message_id = d.str("message_id")?.as_deref().and_then(clean_message_id);
        for to in d.str_list("to")? {
            if let Some(addr) = bare_address(&to)
                && !recipients.contains(&addr)
            {
                recipients.push(addr);
            }
        }
        e.metadata = tags(d)?;
        details(d, &mut e)?;
    }

    let mut out = Normalized::default();
    if recipients.len() <= 1 {
        e.recipient = recipients.pop();
        e.event_key = event_key(&e, KeyScope::Event);
        out.events.push(e);
    } else {
        for r in recipients {
            let mut one = e.clone();
            one.recipient = Some(r);
            one.event_key = event_key(&one, KeyScope::PerRecipient);
            out.events.push(one);
        }
    }
    Ok(out)
}

fn bounce_kind(data: Option<&Object<'_>>) -> Result<(EventType, Option<BounceClass>), Error> {
    let bounce = match data {
        Some(d) => d.obj("bounce")?,
        None => None,
    };
    let (kind, sub_kind) = match bounce {
        Some(b) => (b.str("type")?, b.str("subType")?),
        None => (None, None),
    };
    Ok(match (kind.as_deref(), sub_kind.as_deref()) {
        (_, Some("Suppressed" | "OnAccountSuppressionList")) => (EventType::Rejected, None),
        (Some("Transient"), _) => (EventType::SoftBounce, Some(BounceClass::Soft)),
        (Some("Undetermined"), _) => (EventType::SoftBounce, Some(BounceClass::Undetermined)),
        _ => (EventType::HardBounce, Some(BounceClass::Hard)),
    })
}

/// `data.tags`: an object of name → value, or a list of `{name, value}`.
fn tags(d: &Object<'_>) -> Result<crate::Metadata, Error> {
    let owned = |(k, v): (Cow<'_, str>, Cow<'_, str>)| (k.into_owned(), v.into_owned());
    if d.get("tags").is_none_or(|v| v.kind != Kind::Arr) {
        return Ok(d.string_map("tags")?.into_iter().map(owned).collect());
    }
    let mut out = crate::Metadata::new();
    for (item, path) in d.items("tags")? {
        let t = Object::of(item, path)?;
        if let Some(name) = t.str("name")? {
            out.insert(name.into_owned(), t.str("value")?.map(Cow::into_owned).unwrap_or_default());
        }
    }
    Ok(out)
}

/// Bounce, failure and engagement details.
fn details(d: &Object<'_>, e: &mut Event) -> Result<(), Error> {
    let diagnostic = if let Some(b) = d.obj("bounce")? {
        b.str("message")?
    } else if let Some(f) = d.obj("failed")? {
        f.str("reason")?
    } else if let Some(s) = d.obj("suppressed")? {
        s.str("message")?
    } else {
        None
    };
    e.diagnostic = non_empty(diagnostic);
    let (status, enhanced) = e.diagnostic.as_deref().map(smtp_codes).unwrap_or_default();
    e.smtp_status = status;
    e.enhanced_status = enhanced;
    for key in ["click", "open"] {
        if let Some(c) = d.obj(key)? {
            e.url = non_empty(c.str("link")?);
            e.user_agent = non_empty(c.str("userAgent")?);
            e.ip = non_empty(c.str("ipAddress")?);
        }
    }
    Ok(())
}
