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
//! diagnostic. Mailgun has no stream. `automated` on `opened` and `clicked` comes from
//! `client-info.bot` (Mailgun's bot detection, user manual *open-click-bot-detect*): `apple` and
//! `gmail` are `privacy_proxy`, `generic` (firewalls, antivirus, other bots) is `scanner`, `""`
//! or absent is null. `reason` is the bounce category's first source (`espblock` and
//! `greylisted` are `blocked`, `old` is `expired`; DESIGN.md, "Bounce category").
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
//! - `user-variables` values come back as strings; any other value is kept as its JSON text, and
//!   a `null` one is skipped.
//!
//! # Unsupported
//!
//! - Legacy form-encoded webhooks (before 2018) are refused with `unsupported`.
//! - The Logs API (`/v1/analytics/logs`) page shape.
//! - The signature (timestamp + token HMAC) is checked by signature verification, not here.

use std::borrow::Cow;

use super::json::picked::{Keys, ObjectText, Path, Picked, must_be_object};
use super::json::scan::{Kind, Scan, Val};
use super::{bare_address_cow, clean_message_id_cow};
use crate::category::{self, Classification};
use crate::error::{Error, ErrorKind};
use crate::{
    Automated, BorrowedEvent, BounceClass, EventType, KeyScope, Metadata, Normalized, Payload,
    event_key,
};

type Text<'a> = Cow<'a, str>;

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized<Text<'_>>, Error> {
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
    // One pass over the body: `items` are normalized as the scan meets them, `event-data` and
    // `event` are kept as text; which shape the body is gets decided at the end.
    let mut scan = Scan::new(text);
    let mut page: Option<Result<Normalized<Text<'_>>, Error>> = None;
    let mut event_data = None;
    let mut has_event = false;
    let body = scan.fields_with(|scan, key| {
        match key.as_ref() {
            "items" if scan.peek() == Some(b'[') => page = Some(Ok(items(scan, text.len())?)),
            "items" => {
                let found = scan.value()?;
                let e = Error::type_mismatch("$.items", "array", found.kind.name());
                page = Some(Err(e));
            }
            "event-data" => event_data = Some(scan.value()?),
            "event" => has_event = !scan.value()?.is_null(),
            _ => {
                scan.value()?;
            }
        }
        Ok(())
    })?;
    if let Err(found) = body {
        return Err(Error::type_mismatch("$", "object", found.kind.name()));
    }
    scan.end()?;
    if let Some(data) = event_data.filter(|v| !v.is_null()) {
        let path = Path::root("$[\"event-data\"]");
        let mut one = Scan::new(data.text);
        let mut nested = Nested::default();
        let mut o = Picked::empty(&ITEM);
        must_be_object(read_item(&mut o, &mut one, path, &mut nested)?, path)?;
        let mut out = Normalized::default();
        item_event(&o, &mut nested, data.text, &mut out.events)?;
        return Ok(out);
    }
    if let Some(page) = page {
        return page;
    }
    if has_event {
        let mut one = Scan::new(text);
        let raw = text.trim();
        let mut nested = Nested::default();
        let mut o = Picked::empty(&ITEM);
        if read_item(&mut o, &mut one, Path::root("$"), &mut nested)?.is_ok() {
            let mut out = Normalized::default();
            item_event(&o, &mut nested, raw, &mut out.events)?;
            return Ok(out);
        }
    }
    Err(Error::new(
        ErrorKind::WrongProvider,
        "expected a mailgun webhook (event-data) or an events api page (items)",
    )
    .with_path("$"))
}

/// The items of an Events API page, the scan on the array (`body_len` sizes the output:
/// items are about 600 bytes).
fn items<'a>(scan: &mut Scan<'a>, body_len: usize) -> Result<Normalized<Text<'a>>, Error> {
    let mut out = Normalized::default();
    out.events.reserve(body_len / 512 + 1);
    // The item's slots and its nested objects' slots, reused from item to item.
    let mut item = Picked::empty(&ITEM);
    let mut nested = Nested::default();
    scan.items(|scan, i| {
        let path = Path::element("$.items", i);
        let one = must_be_object(read_item(&mut item, scan, path, &mut nested)?, path)
            .and_then(|raw| item_event(&item, &mut nested, raw, &mut out.events));
        if let Err(e) = one {
            out.errors.push(e);
        }
        Ok(())
    })?;
    Ok(out)
}

/// The mapped fields of an event, in slot order (the constants below).
static ITEM: Keys<14> = Keys::new([
    "event",
    "id",
    "timestamp",
    "recipient",
    "severity",
    "reason",
    "delivery-status",
    "message",
    "reject",
    "url",
    "ip",
    "client-info",
    "tags",
    "user-variables",
]);
const EVENT: usize = 0;
const ID: usize = 1;
const TIMESTAMP: usize = 2;
const RECIPIENT: usize = 3;
const SEVERITY: usize = 4;
const REASON: usize = 5;
const DELIVERY_STATUS: usize = 6;
const MESSAGE: usize = 7;
const REJECT: usize = 8;
const URL: usize = 9;
const IP: usize = 10;
const CLIENT_INFO: usize = 11;
const TAGS: usize = 12;
const USER_VARIABLES: usize = 13;

/// `delivery-status` (and `reject`, which uses two of its names).
static STATUS: Keys<6> =
    Keys::new(["code", "enhanced-code", "bounce-code", "message", "description", "reason"]);
const CODE: usize = 0;
const ENHANCED_CODE: usize = 1;
const BOUNCE_CODE: usize = 2;
const STATUS_MESSAGE: usize = 3;
const DESCRIPTION: usize = 4;
const REJECT_REASON: usize = 5;

/// One-key objects on the way to a field: `message.headers`, `headers.message-id`,
/// `client-info.user-agent` and `client-info.bot`.
static HEADERS: Keys<1> = Keys::new(["headers"]);
static MESSAGE_ID: Keys<1> = Keys::new(["message-id"]);
static CLIENT_INFO_KEYS: Keys<2> = Keys::new(["user-agent", "bot"]);
const USER_AGENT: usize = 0;
const BOT: usize = 1;

/// The nested objects of an event, read in the same pass as its own fields (not skipped and
/// scanned again): `delivery-status`, `message.headers`, `client-info`, `reject` and
/// `user-variables`. A nested field that is not an object keeps its value in the item's slot,
/// where reading it reports the type mismatch. One is reused for every item of a page: moving
/// these picked objects (about a kilobyte) with each item cost 5% of reading a page.
#[derive(Default)]
struct Nested<'a> {
    delivery_status: Option<Picked<'a, 6>>,
    message: Option<Picked<'a, 1>>,
    headers: Option<Picked<'a, 1>>,
    client_info: Option<Picked<'a, 2>>,
    reject: Option<Picked<'a, 6>>,
    user_variables: Metadata<Text<'a>>,
}

/// Read the event at the cursor into `item`, its nested objects into `nested`: its exact text,
/// or `Ok(Err((kind, text)))` when it is not an object.
fn read_item<'a>(
    item: &mut Picked<'a, 14>,
    scan: &mut Scan<'a>,
    path: Path<'a>,
    nested: &mut Nested<'a>,
) -> Result<ObjectText<'a>, Error> {
    let Nested { delivery_status, message, headers, client_info, reject, user_variables } = nested;
    // The nested slots keep the last item's values: each is read only when this item's own
    // slot holds an object, which it does only when the nested read just filled it (the
    // user variables are cleared there too, not for every item).
    item.read_again_with(scan, &ITEM, path, |slot, scan| {
        Ok(match slot {
            DELIVERY_STATUS => {
                let at = path.key("delivery-status");
                Some(read_nested(scan, &STATUS, at, delivery_status)?)
            }
            REJECT => Some(read_nested(scan, &STATUS, path.key("reject"), reject)?),
            CLIENT_INFO => {
                let at = path.key("client-info");
                Some(read_nested(scan, &CLIENT_INFO_KEYS, at, client_info)?)
            }
            MESSAGE => {
                let at = path.key("message");
                let read = Picked::read_with(scan, &HEADERS, at, |_, scan| {
                    let at = at.key("headers");
                    Ok(Some(read_nested(scan, &MESSAGE_ID, at, headers)?))
                })?;
                Some(match read {
                    Ok((m, text)) => {
                        *message = Some(m);
                        Val::of(Kind::Obj, text)
                    }
                    Err((kind, text)) => {
                        *message = None;
                        Val::of(kind, text)
                    }
                })
            }
            USER_VARIABLES => {
                user_variables.clear();
                let vars = &mut *user_variables;
                Some(
                    match scan.fields(|k, v| {
                        if !v.is_null() {
                            vars.insert(k, v.text().unwrap_or(Cow::Borrowed(v.text)));
                        }
                    })? {
                        Ok(text) => Val::of(Kind::Obj, text),
                        Err(v) => v,
                    },
                )
            }
            _ => None,
        })
    })
}

/// Read a nested object at the cursor into `into` (`None` when the value is not an object);
/// the value read, for the parent's slot.
fn read_nested<'a, const N: usize>(
    scan: &mut Scan<'a>,
    keys: &'static Keys<N>,
    path: Path<'a>,
    into: &mut Option<Picked<'a, N>>,
) -> Result<Val<'a>, Error> {
    // Read where it stays (the slot is reused from item to item), not built and moved in.
    let picked = into.get_or_insert_with(|| Picked::empty(keys));
    Ok(match picked.read_again(scan, keys, path, |_, _, _| {})? {
        Ok(text) => Val::of(Kind::Obj, text),
        Err((kind, text)) => {
            *into = None;
            Val::of(kind, text)
        }
    })
}

/// One event, built in place at the end of `events`.
fn item_event<'a>(
    o: &Picked<'a, 14>,
    nested: &mut Nested<'a>,
    raw: &'a str,
    events: &mut Vec<BorrowedEvent<'a>>,
) -> Result<(), Error> {
    let name = o.string(EVENT)?.ok_or_else(|| Error::missing(o.child(EVENT)))?;
    let ds = o.obj(DELIVERY_STATUS)?.and(nested.delivery_status.as_ref());
    let code = match &ds {
        Some(d) => d.uint(CODE)?,
        None => None,
    };
    let reason = o.string(REASON)?;
    let (kind, class) = match name.as_ref() {
        "accepted" => (EventType::Accepted, None),
        "rejected" => (EventType::Rejected, None),
        "delivered" => (EventType::Delivered, None),
        "failed" => {
            let temporary = match o.string(SEVERITY)? {
                Some(s) => s.eq_ignore_ascii_case("temporary"),
                None => code.is_some_and(|c| (400..500).contains(&c)),
            };
            if temporary {
                (EventType::Deferred, None)
            } else if reason.as_deref().is_some_and(|r| r.starts_with("suppress-"))
                || matches!(code, Some(605..=607))
            {
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
    let is_rejected = name == "rejected";
    super::fill_in_place(events, ("mailgun", kind, name), |e| {
        fill(e, o, nested, raw, (code, reason), class, is_rejected)
    })
}

fn fill<'a>(
    e: &mut BorrowedEvent<'a>,
    o: &Picked<'a, 14>,
    nested: &mut Nested<'a>,
    raw: &'a str,
    (code, reason): (Option<u64>, Option<Text<'a>>),
    class: Option<BounceClass>,
    is_rejected: bool,
) -> Result<(), Error> {
    let ds = o.obj(DELIVERY_STATUS)?.and(nested.delivery_status.as_ref());
    e.bounce_class = class;
    e.provider_event_id = o.str(ID)?;
    if let Some(m) = o.obj(MESSAGE)?.and(nested.message.as_ref())
        && let Some(h) = m.obj(0)?.and(nested.headers.as_ref())
    {
        e.message_id = h.string(0)?.as_ref().and_then(clean_message_id_cow);
        e.smtp_message_id.clone_from(&e.message_id);
    }
    e.recipient = o.string(RECIPIENT)?.as_ref().and_then(bare_address_cow);
    e.occurred_at = o.fractional_time(TIMESTAMP)?;
    if let Some(d) = ds {
        e.smtp_status = code.filter(|c| (200..600).contains(c)).map(|c| match d.str(CODE) {
            // The code's own three digits, borrowed (`"250"` or `250`), else written out.
            Ok(Some(digits)) if digits.len() == 3 => digits,
            _ => Cow::Owned(c.to_string()),
        });
        e.enhanced_status = match d.str(ENHANCED_CODE)?.filter(|s| !s.is_empty()) {
            Some(code) => Some(code),
            None => d.str(BOUNCE_CODE)?.filter(|s| !s.is_empty()),
        };
        let message = d.string(STATUS_MESSAGE)?.filter(|s| !s.trim().is_empty());
        let description = d.string(DESCRIPTION)?.filter(|s| !s.trim().is_empty());
        e.diagnostic = message.or(description);
    }
    if is_rejected && let Some(r) = o.obj(REJECT)?.and(nested.reject.as_ref()) {
        let reason = r.string(REJECT_REASON)?.filter(|s| !s.is_empty());
        let description = r.string(DESCRIPTION)?.filter(|s| !s.is_empty());
        if e.diagnostic.is_none() {
            e.diagnostic = reason.or(description);
        }
    }
    e.url = o.string(URL)?;
    e.ip = o.string(IP)?;
    if let Some(ci) = o.obj(CLIENT_INFO)?.and(nested.client_info.as_ref()) {
        e.user_agent = ci.string(USER_AGENT)?;
        if matches!(e.kind, EventType::Open | EventType::Click) {
            e.automated = match ci.str(BOT).ok().flatten().as_deref() {
                Some("apple" | "gmail") => Some(Automated::PrivacyProxy),
                Some("generic") => Some(Automated::Scanner),
                _ => None,
            };
        }
    }
    // Only bounces, deferrals and `unknown` events keep a category (`category::finish`).
    if category::may_take(e.kind)
        && let Some(reason) = reason
    {
        e.bounce_category = category::provider(Classification::MailgunReason, &reason);
    }
    o.str_list_into(TAGS, &mut e.tags)?;
    if o.obj(USER_VARIABLES)?.is_some() {
        e.metadata = std::mem::take(&mut nested.user_variables);
    }
    e.raw = Cow::Borrowed(raw);
    e.event_key = Cow::Owned(key(e));
    Ok(())
}

/// `mailgun:{id}:{ms}`: the id is unique only within a day, so it is paired with the time.
fn key(e: &BorrowedEvent<'_>) -> String {
    match (&e.provider_event_id, e.occurred_at) {
        (Some(id), Some(t)) if !id.is_empty() => {
            // Written out by hand, in one allocation: through `write!` the formatting machinery
            // and a reallocation were 3% of normalizing an Events API page.
            let mut digits = [0u8; 20];
            let ms = decimal(t.as_millis(), &mut digits);
            let mut key = String::with_capacity("mailgun:".len() + id.len() + 1 + ms.len());
            key.push_str("mailgun:");
            key.push_str(id);
            key.push(':');
            key.push_str(ms);
            key
        }
        _ => event_key(e, KeyScope::Event),
    }
}

/// `n` in decimal, written into the end of `buf`, two digits at a time.
fn decimal(n: i64, buf: &mut [u8; 20]) -> &str {
    /// "00" to "99".
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut at = buf.len();
    let mut rest = n.unsigned_abs();
    while rest >= 100 {
        // Below 100, so the index is below 200.
        let pair = usize::try_from(rest % 100).unwrap_or(0) * 2;
        rest /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if rest >= 10 {
        let pair = usize::try_from(rest).unwrap_or(0) * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + u8::try_from(rest).unwrap_or(0);
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Headers;

    #[test]
    fn decimal_writes_every_i64_as_display_does() {
        let mut buf = [0u8; 20];
        let tens = (0..19).map(|p| 10_i64.pow(p)).flat_map(|t| [t - 1, t, t + 1, -t, 1 - t]);
        let edges = [1_767_299_998_412, i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1];
        for n in (-1_000..=1_000).chain(tens).chain(edges) {
            assert_eq!(decimal(n, &mut buf), n.to_string());
        }
    }

    fn page(item: &str) -> Normalized {
        let body = format!(r#"{{"items":[{item}],"paging":{{}}}}"#);
        let payload = Payload { body: body.as_bytes(), headers: &Headers::new() };
        crate::normalize(crate::Provider::Mailgun, payload).unwrap()
    }

    fn error(item: &str) -> String {
        let out = page(item);
        assert!(out.events.is_empty(), "{item}");
        out.errors[0].message().to_owned()
    }

    #[test]
    fn nested_objects_read_in_place_report_their_paths() {
        let e = r#""event":"failed","timestamp":1767225600"#;
        assert_eq!(
            error(&format!(r#"{{{e},"delivery-status":5}}"#)),
            r#"expected object at $.items[0]["delivery-status"], found number"#
        );
        assert_eq!(
            error(&format!(r#"{{{e},"message":{{"headers":3}}}}"#)),
            "expected object at $.items[0].message.headers, found number"
        );
        assert_eq!(
            error(&format!(r#"{{{e},"client-info":{{"user-agent":1}}}}"#)),
            r#"expected string at $.items[0]["client-info"]["user-agent"], found number"#
        );
    }

    #[test]
    fn the_last_of_a_repeated_nested_key_counts_even_when_null() {
        let out = page(
            r#"{"event":"delivered","delivery-status":{"code":250,"message":"OK"},"delivery-status":null,
                "message":{"headers":{"message-id":"a@x"}},"message":{"headers":{"message-id":"b@x"}},
                "user-variables":{"k":"1"},"user-variables":{"j":"2"}}"#,
        );
        let e = &out.events[0];
        assert_eq!((e.smtp_status.as_deref(), e.diagnostic.as_deref()), (None, None));
        assert_eq!(e.message_id.as_deref(), Some("b@x"));
        assert_eq!(e.metadata, Metadata::from([("j".to_owned(), "2".to_owned())]));
    }

    #[test]
    fn an_item_without_nested_objects_takes_nothing_from_the_item_before() {
        // The nested slots are reused across a page; the second item must not see the first's.
        let out = page(
            r#"{"event":"failed","severity":"permanent","timestamp":1767225600,
                "delivery-status":{"code":550,"message":"5.1.1 no such user","description":"gone"},
                "message":{"headers":{"message-id":"a@x"}},"client-info":{"user-agent":"UA"},
                "reject":{"reason":"r","description":"d"},"user-variables":{"k":"1"}},
               {"event":"failed","severity":"permanent","timestamp":1767225601},
               {"event":"opened","timestamp":1767225602,"message":{"other":1},
                "delivery-status":"not an object"}"#,
        );
        let first = &out.events[0];
        assert_eq!(first.smtp_status.as_deref(), Some("550"));
        assert_eq!(first.message_id.as_deref(), Some("a@x"));
        assert_eq!(first.metadata.len(), 1);
        let second = &out.events[1];
        assert_eq!(
            (second.smtp_status.as_deref(), second.diagnostic.as_deref()),
            (None, None),
            "{second:?}"
        );
        assert_eq!((second.message_id.as_deref(), second.user_agent.as_deref()), (None, None));
        assert!(second.metadata.is_empty());
        assert_eq!(out.errors.len(), 1, "the third item's delivery-status is not an object");
        assert!(out.errors[0].message().contains("$.items[2]"), "{}", out.errors[0].message());
    }
}
