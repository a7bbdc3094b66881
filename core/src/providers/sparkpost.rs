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
//! metadata. There is no stream: `campaign_id` is not one. `bounce_class` (on bounces and
//! delays) is the bounce category's first source (SparkPost's bounce classification codes;
//! 60 and 100 make an `unknown` event `auto_reply`), then the diagnostic (DESIGN.md, "Bounce
//! category"). No machine opens are flagged: `user_agent_parsed.is_prefetched` appears only in
//! third-party fixtures, not in SparkPost's documentation, so it is not read.
//!
//! # Quirks
//! * A webhook element is `{"msys": {"<class>_event": {…}}}`; its `raw` is the whole element
//!   as SparkPost sent it. Events API results are flat objects; their `raw` is the result.
//! * The webhook validation request `[{"msys":{}}]` yields no events and a
//!   [`ControlKind::Ping`] control. An empty `msys` inside a batch
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

use std::borrow::Cow;

use super::json::picked::{Keys, Path, Picked, must_be_object};
use super::json::scan::{Kind, Scan, Val};
use super::text::smtp_code_slices;
use super::{TimeUnit, bare_address_cow, clean_message_id_cow, narrow};
use crate::category::{self, Classification};
use crate::error::{Error, ErrorKind};
use crate::provider::{Control, ControlKind};
use crate::{
    BorrowedEvent, BounceClass, EventType, KeyScope, Metadata, Normalized, Payload, event_key,
};

const SLUG: &str = "sparkpost";

type Text<'a> = Cow<'a, str>;

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized<Text<'_>>, Error> {
    let body = super::body_text(payload.body)?;
    match super::first_byte(payload.body) {
        Some(b'[') => batch(body),
        Some(b'{') => object(body),
        _ => {
            // Not an array or object: let the JSON parser say what is wrong, or say it here.
            let v = super::parse_body(payload.body)?;
            Err(Error::new(
                ErrorKind::WrongProvider,
                format!(
                    "expected a sparkpost batch (array) or events page, found {}",
                    super::type_name(&v)
                ),
            ))
        }
    }
}

fn ping() -> Control {
    Control {
        kind: ControlKind::Ping,
        url: None,
        detail: Some("sparkpost webhook validation request".into()),
    }
}

fn batch(text: &str) -> Result<Normalized<Text<'_>>, Error> {
    let mut out = Normalized::default();
    // About 800 bytes per element in real batches. Dividing by 512 reserved half again as many
    // events as came; with glibc, the larger block made the owned `normalize` page-fault much
    // of its memory back in on every call (1.74 ms against 1.08 ms for the bench's batch).
    out.events.reserve(text.len() / 768 + 1);
    let (mut elements, mut pings) = (0usize, 0usize);
    let mut scan = Scan::new(text);
    scan.items(|scan, i| {
        elements += 1;
        match element(scan, Path::element("$", i), &mut out.events)? {
            Ok(true) => pings += 1,
            Ok(false) => {}
            Err(e) => out.errors.push(e),
        }
        Ok(())
    })?;
    scan.end()?;
    if pings > 0 && pings == elements {
        out.control = Some(ping());
    }
    Ok(out)
}

/// One `{"msys": {"<class>_event": {…}}}` element at the cursor: its events go to `events`
/// with the element's exact text as `raw`. `Ok(Ok(true))` for an empty (ping) element; the
/// inner error is this element's, the outer one a syntax error of the whole body.
fn element<'a>(
    scan: &mut Scan<'a>,
    path: Path<'a>,
    events: &mut Vec<BorrowedEvent<'a>>,
) -> Result<Result<bool, Error>, Error> {
    let msys_path = path.key("msys");
    // The events of this element are pushed as their classes are read, from `start` on; any
    // error takes them back out.
    let start = events.len();
    // `None` until a non-null `msys` is met (the last one counts, as JSON parsers do).
    let mut msys: Option<Result<Classes<'a>, Error>> = None;
    let read = scan.fields_with(|scan, key| {
        if key != "msys" {
            scan.value()?;
            return Ok(());
        }
        events.truncate(start);
        let mut classes = Classes::new();
        let inner = scan.fields_with(|scan, class| {
            let class_path = msys_path.key(key_text(&class));
            let read = Picked::read(scan, &FIELDS, class_path, |_, _, _| {})?;
            let one = must_be_object(read, class_path).and_then(|(o, _)| event(&o, events));
            classes.push((class, one.err()));
            Ok(())
        })?;
        msys = match inner {
            Ok(_) => Some(Ok(classes)),
            Err(v) if v.is_null() => None,
            Err(v) => {
                Some(Err(Error::type_mismatch(msys_path.to_string(), "object", v.kind.name())))
            }
        };
        Ok(())
    })?;
    let failed = |events: &mut Vec<BorrowedEvent<'a>>, e: Error| {
        events.truncate(start);
        Ok(Err(e))
    };
    let raw = match read {
        Ok(text) => text,
        Err(v) => {
            let e = Error::type_mismatch(path.to_string(), "object", v.kind.name());
            return failed(events, e);
        }
    };
    let classes = match msys {
        None => return failed(events, Error::missing(msys_path.to_string())),
        Some(Err(e)) => return failed(events, e),
        Some(Ok(classes)) => classes,
    };
    if classes.is_empty() {
        return Ok(Ok(true));
    }
    if classes.len() > 1 {
        // Rare: several classes in one `msys`. They count in key order, the last of a repeated
        // key, as a JSON object map reads them; the first error in that order fails the element.
        let mut read: Vec<Option<BorrowedEvent<'a>>> = events.drain(start..).map(Some).collect();
        let mut at = read.iter_mut();
        let mut order: Vec<(Text<'a>, Result<Option<BorrowedEvent<'a>>, Error>)> = classes
            .into_iter()
            .map(|(class, error)| match error {
                Some(e) => (class, Err(e)),
                None => (class, Ok(at.next().and_then(Option::take))),
            })
            .collect();
        order.sort_by(|a, b| a.0.cmp(&b.0));
        let mut order = order.into_iter().peekable();
        while let Some((class, one)) = order.next() {
            if order.peek().is_some_and(|next| next.0 == class) {
                continue;
            }
            match one {
                Ok(e) => events.extend(e),
                Err(e) => return failed(events, e),
            }
        }
    } else if let Some((_, Some(e))) = classes.into_iter().next() {
        return failed(events, e);
    }
    for e in &mut events[start..] {
        e.raw = Cow::Borrowed(raw);
    }
    Ok(Ok(false))
}

/// Each class of one `msys` with its error (its event, when it has none, is in the output).
/// There is one class in every element SparkPost sends, kept inline.
type Classes<'a> = smallvec::SmallVec<[(Text<'a>, Option<Error>); 1]>;

/// A key for an error path: as written in the body (a key with escapes keeps them).
fn key_text<'a>(key: &Text<'a>) -> &'a str {
    match key {
        Cow::Borrowed(k) => k,
        Cow::Owned(_) => "(escaped key)",
    }
}

/// An Events API page (`{"results": [...]}`) or one webhook element without its array.
fn object(text: &str) -> Result<Normalized<Text<'_>>, Error> {
    let mut scan = Scan::new(text);
    let mut results: Option<Result<Normalized<Text<'_>>, Error>> = None;
    let mut has_msys = false;
    let read = scan.fields_with(|scan, key| {
        match key.as_ref() {
            "results" if scan.peek() == Some(b'[') => {
                let mut out = Normalized::default();
                scan.items(|scan, i| {
                    let path = Path::element("$.results", i);
                    let read = Picked::read(scan, &FIELDS, path, |_, _, _| {})?;
                    let one = must_be_object(read, path).and_then(|(o, raw)| {
                        event(&o, &mut out.events)?;
                        if let Some(e) = out.events.last_mut() {
                            e.raw = Cow::Borrowed(raw);
                        }
                        Ok(())
                    });
                    if let Err(e) = one {
                        out.errors.push(e);
                    }
                    Ok(())
                })?;
                results = Some(Ok(out));
            }
            "results" => {
                let v = scan.value()?;
                results = (!v.is_null())
                    .then(|| Err(Error::type_mismatch("$.results", "array", v.kind.name())));
            }
            "msys" => has_msys = !scan.value()?.is_null(),
            _ => {
                scan.value()?;
            }
        }
        Ok(())
    })?;
    scan.end()?;
    if read.is_err() {
        return Err(Error::type_mismatch("$", "object", "another value"));
    }
    match (results, has_msys) {
        (Some(page), _) => page,
        (None, true) => {
            // A single webhook element sent without its array.
            let mut out = Normalized::default();
            if element(&mut Scan::new(text), Path::root("$"), &mut out.events)?? {
                out.control = Some(ping());
            }
            Ok(out)
        }
        (None, false) => Err(Error::new(
            ErrorKind::WrongProvider,
            "expected a sparkpost batch (array), an events page with \"results\" or an \"msys\" element",
        )),
    }
}

/// The fields of an event that are mapped, in slot order (the constants below).
static FIELDS: Keys<16> = Keys::new([
    "type",
    "bounce_class",
    "event_id",
    "transmission_id",
    "rcpt_to",
    "raw_rcpt_to",
    "timestamp",
    "raw_reason",
    "reason",
    "error_code",
    "target_link_url",
    "user_agent",
    "ip_address",
    "sending_ip",
    "rcpt_tags",
    "rcpt_meta",
]);
const TYPE: usize = 0;
const BOUNCE_CLASS: usize = 1;
const EVENT_ID: usize = 2;
const TRANSMISSION_ID: usize = 3;
const RCPT_TO: usize = 4;
const RAW_RCPT_TO: usize = 5;
const TIMESTAMP: usize = 6;
const RAW_REASON: usize = 7;
const REASON: usize = 8;
const ERROR_CODE: usize = 9;
const TARGET_LINK_URL: usize = 10;
const USER_AGENT: usize = 11;
const IP_ADDRESS: usize = 12;
const SENDING_IP: usize = 13;
const RCPT_TAGS: usize = 14;
const RCPT_META: usize = 15;

/// A string that is not only whitespace.
fn non_empty(s: Option<Text<'_>>) -> Option<Text<'_>> {
    s.filter(|s| !s.trim().is_empty())
}

/// One event, built in place at the end of `events` (without its `raw`, which is the element's
/// or the result's text). Every field is read before the bounce class is judged, so a wrongly
/// typed field is reported first.
fn event<'a>(o: &Picked<'a, 16>, events: &mut Vec<BorrowedEvent<'a>>) -> Result<(), Error> {
    let kind_text = o.str(TYPE)?.ok_or_else(|| Error::missing(o.child(TYPE)))?;
    let bounce_class = o.str(BOUNCE_CLASS)?;
    let event_id = o.str(EVENT_ID)?;
    let transmission_id = o.str(TRANSMISSION_ID)?;
    let rcpt = match o.str(RCPT_TO)? {
        Some(r) => Some(r),
        None => o.str(RAW_RCPT_TO)?,
    };
    let timestamp = o.time(TIMESTAMP, TimeUnit::Seconds)?;
    let raw_reason = o.str(RAW_REASON)?;
    let reason = o.str(REASON)?;
    let error_code = o.str(ERROR_CODE)?;
    let url = o.str(TARGET_LINK_URL)?;
    let user_agent = o.str(USER_AGENT)?;
    let ip_address = o.str(IP_ADDRESS)?;
    let sending_ip = o.str(SENDING_IP)?;
    let tags = o.str_list(RCPT_TAGS)?;
    let metadata = meta(o)?;

    let (kind, class) = match kind_text.as_ref() {
        "injection" => (EventType::Accepted, None),
        "delivery" => (EventType::Delivered, None),
        "delay" => (EventType::Deferred, None),
        "bounce" | "out_of_band" => by_bounce_class(bounce_class.as_deref())
            .map_err(|why| Error::invalid(o.child(BOUNCE_CLASS), why))?,
        "policy_rejection" | "generation_rejection" | "generation_failure" => {
            (EventType::Rejected, None)
        }
        "spam_complaint" => (EventType::Complaint, None),
        "list_unsubscribe" | "link_unsubscribe" => (EventType::Unsubscribe, None),
        "open" | "initial_open" | "amp_open" | "amp_initial_open" => (EventType::Open, None),
        "click" | "amp_click" => (EventType::Click, None),
        _ => (EventType::Unknown, None),
    };
    super::fill_in_place(events, (SLUG, kind, kind_text), |e| {
        e.bounce_class = class;
        if let Some(c) = &bounce_class {
            e.bounce_category = category::provider(Classification::SparkpostBounceClass, c);
        }
        e.provider_event_id = non_empty(event_id);
        e.message_id = transmission_id.as_ref().and_then(clean_message_id_cow);
        e.recipient = rcpt.as_ref().and_then(bare_address_cow);
        e.occurred_at = timestamp;
        let reason = non_empty(raw_reason).or_else(|| non_empty(reason));
        if let Some(d) = &reason {
            let (status, enhanced) = smtp_code_slices(d);
            e.smtp_status = status.map(|s| narrow(d, s));
            e.enhanced_status = enhanced.map(|s| narrow(d, s));
        }
        if let Some(code) = non_empty(error_code) {
            e.smtp_status = Some(code);
        }
        e.diagnostic = reason;
        e.url = non_empty(url);
        e.user_agent = non_empty(user_agent);
        e.ip = non_empty(ip_address).or_else(|| non_empty(sending_ip));
        e.tags = tags;
        e.metadata = metadata;
        e.event_key = Cow::Owned(event_key(e, KeyScope::Event));
        Ok(())
    })
}

/// `rcpt_meta`: string values as they are, other values as their compact JSON text, `null`
/// values (the last one of a repeated key decides) left out.
fn meta<'a>(o: &Picked<'a, 16>) -> Result<Metadata<Text<'a>>, Error> {
    let Some(text) = o.obj(RCPT_META)? else { return Ok(Metadata::new()) };
    let mut out = Metadata::new();
    let mut bad = None;
    // `obj` checked it is an object.
    let _object = Scan::new(text).fields(|k, v| match value_text(v) {
        Ok(Some(s)) => {
            out.insert(k, s);
        }
        Ok(None) => {
            out.remove(&k);
        }
        Err(e) => {
            bad.get_or_insert(e);
        }
    })?;
    match bad {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// A metadata value's text: a string's value, `None` for null, and the compact JSON text of
/// anything else (numbers as serde_json writes them).
fn value_text(v: Val<'_>) -> Result<Option<Text<'_>>, Error> {
    Ok(match v.kind {
        Kind::Null => None,
        Kind::Str => v.string(),
        Kind::Bool => Some(Cow::Borrowed(v.text)),
        _ => {
            let value: serde_json::Value =
                serde_json::from_str(v.text).map_err(|e| Error::from_json(&e))?;
            Some(Cow::Owned(value.to_string()))
        }
    })
}

fn by_bounce_class(text: Option<&str>) -> Result<(EventType, Option<BounceClass>), String> {
    let Some(text) = text else {
        return Ok((EventType::SoftBounce, Some(BounceClass::Undetermined)));
    };
    let class: u32 =
        text.trim().parse().map_err(|_| format!("expected a class number, found {text:?}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Headers, Provider};

    fn events(body: &str) -> Normalized {
        crate::normalize(
            Provider::Sparkpost,
            Payload { body: body.as_bytes(), headers: &Headers::new() },
        )
        .unwrap()
    }

    #[test]
    fn classes_come_in_key_order_and_a_repeated_one_counts_once() {
        let out = events(
            r#"[{"msys":{"track_event":{"type":"open"},"message_event":{"type":"delivery"},"track_event":{"type":"click"}}}]"#,
        );
        let types: Vec<&str> = out.events.iter().map(|e| e.provider_type.as_str()).collect();
        assert_eq!(types, ["delivery", "click"]);
        assert!(out.events.iter().all(|e| e.raw.starts_with("{\"msys\"")));
    }

    #[test]
    fn a_bad_class_fails_its_element_alone_and_a_later_repeat_of_it_replaces_it() {
        let out = events(
            r#"[{"msys":{"track_event":{"type":{}},"message_event":{"type":"delivery"},"track_event":{"type":"open"}}},
                {"msys":{"message_event":{"type":"delivery"},"track_event":{"type":[]}}},
                {"msys":{"message_event":{"type":"injection"}},"msys":null},
                {"msys":{"message_event":{"type":"delay"}}}]"#,
        );
        let types: Vec<&str> = out.events.iter().map(|e| e.provider_type.as_str()).collect();
        assert_eq!(types, ["delivery", "open", "delay"]);
        let paths: Vec<&str> = out.errors.iter().filter_map(|e| e.path()).collect();
        assert_eq!(paths, ["$[1].msys.track_event.type", "$[2].msys"]);
        assert!(out.events[2].raw.contains("delay"));
    }

    #[test]
    fn metadata_values_are_strings_or_compact_json_and_a_later_null_removes() {
        let out = events(
            r#"[{"msys":{"message_event":{"type":"delivery","rcpt_meta":{"a": {"b" : [1, 2.50, true]},"n":-3,"x":"y","x":null,"f":1.5e3,"t":true}}}}]"#,
        );
        let m = &out.events[0].metadata;
        assert_eq!(m.get("a").map(String::as_str), Some(r#"{"b":[1,2.5,true]}"#));
        assert_eq!(m.get("n").map(String::as_str), Some("-3"));
        assert_eq!(m.get("f").map(String::as_str), Some("1500.0"));
        assert_eq!(m.get("t").map(String::as_str), Some("true"));
        assert!(!m.contains_key("x"));
    }
}
