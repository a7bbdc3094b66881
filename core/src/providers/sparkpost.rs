//! SparkPost: webhook batches, the webhook validation ping, and Events API pages.
//!
//! Docs: <https://developers.sparkpost.com/api/webhooks/> (batches, event classes) and
//! <https://developers.sparkpost.com/api/events/> (the pull API);
//! bounce classes: <https://support.sparkpost.com/docs/deliverability/bounce-classification-codes>.
//!
//! | SparkPost `type` | canonical |
//! |---|---|
//! | `injection` | `accepted` |
//! | `delivery` | `delivered` |
//! | `delay` | `deferred` |
//! | `bounce`, `out_of_band` | by `bounce_class`, see below |
//! | `policy_rejection`, `generation_rejection`, `generation_failure` | `rejected` |
//! | `spam_complaint` | `complaint` |
//! | `list_unsubscribe`, `link_unsubscribe` | `unsubscribe` |
//! | `open`, `initial_open`, `amp_open`, `amp_initial_open` | `open` |
//! | `click`, `amp_click` | `click` |
//! | `relay_*`, A/B-test, ingest and anything else | `unknown` |
//!
//! | `bounce_class` | canonical |
//! |---|---|
//! | 10, 30 (hard) | `hard_bounce`, class `hard` |
//! | 20–24, 40, 70 (soft) | `soft_bounce`, class `soft` |
//! | 50–54 (block) | `soft_bounce`, class `block` |
//! | 1 (undetermined), absent, or a class SparkPost has not documented | `soft_bounce`, class `undetermined` |
//! | 25 (admin failure: SparkPost's own policy, nothing was attempted) | `rejected` |
//! | 90 (unsubscribe) | `unsubscribe` |
//! | 60 (auto-reply), 80 (subscribe), 100 (challenge-response) | `unknown` |
//!
//! Fields: `event_id` is the event id, `transmission_id` the message id (what the
//! transmissions API returns; SparkPost's per-recipient `message_id` is not it), `rcpt_to`
//! (else `raw_rcpt_to`) the recipient, `timestamp` the time, `error_code` the SMTP status,
//! `raw_reason` (else `reason`) the diagnostic, `target_link_url`/`user_agent`/`ip_address`
//! (else `sending_ip`) the engagement details, `rcpt_tags` the tags and `rcpt_meta` the
//! metadata. There is no stream: `campaign_id` is not one.
//!
//! # Quirks
//! * A webhook element is `{"msys": {"<class>_event": {…}}}`; its `raw` is the whole element
//!   as SparkPost sent it. Events API results are flat objects; their `raw` is the result.
//! * The webhook validation request `[{"msys":{}}]` yields no events and a
//!   [`ControlKind::Ping`](crate::ControlKind::Ping) control. An empty `msys` inside a batch
//!   that also has events is skipped.
//! * Every numeric field may be a string (`"bounce_class":"10"`), and `event_id` is a 17–20
//!   digit string that is never parsed as a number.
//! * `timestamp` is epoch seconds as a string in webhooks and ISO-8601 in Events API pages.
//! * One read can give both `initial_open` and `open`: both are `open` events (different keys).
//!
//! # Unsupported
//! * Webhook authentication (basic or OAuth2) is the receiver's business: SparkPost does not
//!   sign batches, so there is no signature to check.
//! * `X-MessageSystems-Batch-ID` is not used: retried batches dedupe by `event_id`.
//! * Relay (inbound) events are kept as `unknown`.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::extract::{non_empty, smtp_codes, string_map};
use super::{Obj, TimeUnit, bare_address, clean_message_id, type_name};
use crate::error::{Error, ErrorKind};
use crate::provider::{Control, ControlKind};
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, event_key};

const SLUG: &str = "sparkpost";

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized, Error> {
    let body = std::str::from_utf8(payload.body)
        .map_err(|_| Error::new(ErrorKind::InvalidUtf8, "body is not valid utf-8"))?;
    match body.trim_start().as_bytes().first() {
        Some(b'[') => batch(payload.body),
        Some(b'{') => object(payload.body),
        _ => {
            // Not an array or object: let the JSON parser say what is wrong, or say it here.
            let v = super::parse_body(payload.body)?;
            Err(Error::new(
                ErrorKind::WrongProvider,
                format!(
                    "expected a sparkpost batch (array) or events page, found {}",
                    type_name(&v)
                ),
            ))
        }
    }
}

fn batch(body: &[u8]) -> Result<Normalized, Error> {
    let elements = super::split_array(body)?;
    let mut out = Normalized::default();
    let mut pings = 0usize;
    for (i, raw) in elements.iter().enumerate() {
        let path = format!("$[{i}]");
        match element(raw, &path, &mut out.events) {
            Ok(true) => pings += 1,
            Ok(false) => {}
            Err(e) => out.errors.push(e.with_provider(SLUG)),
        }
    }
    if pings > 0 && pings == elements.len() {
        out.control = Some(Control {
            kind: ControlKind::Ping,
            url: None,
            detail: Some("sparkpost webhook validation request".into()),
        });
    }
    Ok(out)
}

/// One `{"msys": {...}}` element; `Ok(true)` when it is an empty (ping) element.
fn element(raw: &str, path: &str, events: &mut Vec<Event>) -> Result<bool, Error> {
    let v: Value = serde_json::from_str(raw).map_err(|e| Error::from_json(&e))?;
    let el = Obj::new(&v, path)?;
    let mut msys_path = String::new();
    let msys = super::extract::sub(&el, "msys", &mut msys_path)?
        .ok_or_else(|| Error::missing(el.child("msys")))?;
    if msys.map.is_empty() {
        return Ok(true);
    }
    for (class, inner) in msys.map {
        let inner_path = msys.child(class);
        let o = Obj::new(inner, &inner_path)?;
        events.push(event(&o, raw)?);
    }
    Ok(false)
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    results: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    msys: Option<&'a RawValue>,
}

fn object(body: &[u8]) -> Result<Normalized, Error> {
    let page: Page<'_> = serde_json::from_slice(body).map_err(|e| Error::from_json(&e))?;
    let mut out = Normalized::default();
    match (page.results, page.msys) {
        (Some(results), _) => {
            for (i, raw) in results.iter().enumerate() {
                let path = format!("$.results[{i}]");
                let one = serde_json::from_str::<Value>(raw.get())
                    .map_err(|e| Error::from_json(&e))
                    .and_then(|v| event(&Obj::new(&v, &path)?, raw.get()));
                match one {
                    Ok(e) => out.events.push(e),
                    Err(e) => out.errors.push(e.with_provider(SLUG)),
                }
            }
            Ok(out)
        }
        // A single webhook element sent without its array.
        (None, Some(_)) => {
            let raw = super::extract::raw_text(body)?;
            if element(raw, "$", &mut out.events)? {
                out.control = Some(Control {
                    kind: ControlKind::Ping,
                    url: None,
                    detail: Some("sparkpost webhook validation request".into()),
                });
            }
            Ok(out)
        }
        (None, None) => Err(Error::new(
            ErrorKind::WrongProvider,
            "expected a sparkpost batch (array), an events page with \"results\" or an \"msys\" element",
        )),
    }
}

fn event(o: &Obj<'_>, raw: &str) -> Result<Event, Error> {
    let provider_type = o.req_str("type")?;
    let (kind, bounce_class) = match provider_type.as_str() {
        "injection" => (EventType::Accepted, None),
        "delivery" => (EventType::Delivered, None),
        "delay" => (EventType::Deferred, None),
        "bounce" | "out_of_band" => by_bounce_class(o)?,
        "policy_rejection" | "generation_rejection" | "generation_failure" => {
            (EventType::Rejected, None)
        }
        "spam_complaint" => (EventType::Complaint, None),
        "list_unsubscribe" | "link_unsubscribe" => (EventType::Unsubscribe, None),
        "open" | "initial_open" | "amp_open" | "amp_initial_open" => (EventType::Open, None),
        "click" | "amp_click" => (EventType::Click, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = Event::new(SLUG, kind);
    e.provider_type = provider_type;
    e.bounce_class = bounce_class;
    e.provider_event_id = non_empty(o.str("event_id")?);
    e.message_id = o.str("transmission_id")?.as_deref().and_then(clean_message_id);
    let rcpt = match o.str("rcpt_to")? {
        Some(r) => Some(r),
        None => o.str("raw_rcpt_to")?,
    };
    e.recipient = rcpt.as_deref().and_then(bare_address);
    e.occurred_at = o.time("timestamp", TimeUnit::Seconds)?;
    let reason = match non_empty(o.str("raw_reason")?) {
        Some(r) => Some(r),
        None => non_empty(o.str("reason")?),
    };
    let (status, enhanced) = reason.as_deref().map(smtp_codes).unwrap_or_default();
    e.smtp_status = non_empty(o.str("error_code")?).or(status);
    e.enhanced_status = enhanced;
    e.diagnostic = reason;
    e.url = non_empty(o.str("target_link_url")?);
    e.user_agent = non_empty(o.str("user_agent")?);
    e.ip = match non_empty(o.str("ip_address")?) {
        Some(ip) => Some(ip),
        None => non_empty(o.str("sending_ip")?),
    };
    e.tags = o.str_list("rcpt_tags")?;
    e.metadata = string_map(o.get("rcpt_meta"), || o.child("rcpt_meta"))?;
    raw.clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
}

fn by_bounce_class(o: &Obj<'_>) -> Result<(EventType, Option<BounceClass>), Error> {
    let Some(text) = o.str("bounce_class")? else {
        return Ok((EventType::SoftBounce, Some(BounceClass::Undetermined)));
    };
    let class: u32 = text.trim().parse().map_err(|_| {
        Error::invalid(o.child("bounce_class"), format!("expected a class number, found {text:?}"))
    })?;
    Ok(match class {
        10 | 30 => (EventType::HardBounce, Some(BounceClass::Hard)),
        20..=24 | 40 | 70 => (EventType::SoftBounce, Some(BounceClass::Soft)),
        50..=54 => (EventType::SoftBounce, Some(BounceClass::Block)),
        25 => (EventType::Rejected, None),
        90 => (EventType::Unsubscribe, None),
        60 | 80 | 100 => (EventType::Unknown, None),
        _ => (EventType::SoftBounce, Some(BounceClass::Undetermined)),
    })
}
