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
//! `sendgrid:{sg_event_id}`, or the digest when the id is missing. `automated` is
//! `privacy_proxy` on an `open` with `sg_machine_open` `true` (or `"true"`): SendGrid's Apple
//! Mail Privacy Protection prefetch flag (support article 4452853929115); `false` or absent is
//! null. `bounce_classification` (SendGrid's seven buckets) is the bounce category's first
//! source (DESIGN.md, "Bounce category"); `Technical` and `Unclassified` have no opinion.
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
//! - A custom argument that is not a string is kept as its JSON text; a `null` one is skipped.
//!
//! # Email Activity API: message details
//!
//! Docs: <https://www.twilio.com/docs/sendgrid/api-reference/email-activity/filter-messages-by-message-id>
//! and its OpenAPI description (`tsg_email_activity_v3`).
//!
//! `GET /v3/messages/{msg_id}` answers one object per message and recipient: `msg_id`,
//! `to_email`, `asm_group_id`, `categories`, `unique_args` and an `events` array of
//! `{"event_name", "processed", "reason", "attempt_num", "url", "bounce_type",
//! "http_user_agent", "mx_server"}`. A JSON object with `msg_id` and `events` is read as such a
//! details body: each `events` entry becomes one canonical event whose `raw` is that entry's
//! exact text; an entry that cannot be read becomes an error with its path
//! (`$.events[1].processed`) and the others still come out.
//!
//! | `event_name` | canonical | notes |
//! |---|---|---|
//! | `processed` | `accepted` | |
//! | `dropped` | `rejected` | |
//! | `deferred` | `deferred` | |
//! | `delivered` | `delivered` | |
//! | `bounced`, `bounce_type: "hard"` or none | `hard_bounce` / `hard` | |
//! | `bounced`, `bounce_type: "soft"` | `soft_bounce` / `block` | see below |
//! | `opened` | `open` | |
//! | `clicked` | `click` | `url` |
//! | `spam_report` | `complaint` | |
//! | `unsubscribe`, `group_unsubscribe` | `unsubscribe` | |
//! | `group_resubscribe` | `resubscribe` | |
//! | anything else | `unknown` | |
//!
//! Fields: `provider_type` is `event_name` verbatim; `message_id` is `msg_id` cut like
//! `sg_message_id` (before `.filter` / `.recvd`); `recipient` is `to_email`; `occurred_at` is
//! the entry's `processed` time; `stream` is `asm_group_id` in decimal; `tags` are
//! `categories`; `diagnostic` is `reason` (or else `server_response`), whose leading SMTP code
//! and enhanced status fill `smtp_status` and `enhanced_status`; `user_agent` is
//! `http_user_agent`; `metadata` holds `unique_args` when it is a JSON object.
//!
//! ## What the docs leave unclear
//!
//! - **No event id.** The entries carry no `sg_event_id`, so their keys are digests and a
//!   copy read here never shares a key with the same event from the Event Webhook
//!   (`sendgrid:{sg_event_id}`). Pulled and pushed events give the same status, but a store
//!   fed both ways counts each event twice.
//! - `bounce_type` is documented only as `soft` or `hard`. The Event Webhook knows `bounce`
//!   (hard) and `blocked` (judgment call 2), and SendGrid's activity feed shows blocks as the
//!   non-permanent kind, so `soft` is read as the block; without `bounce_type` a bounce is
//!   hard, as in the webhook.
//! - `processed` is documented as "the date when the event was processed"; the examples are
//!   RFC 3339 times (`2017-10-13T18:56:21Z`), epoch seconds are accepted too.
//! - `unique_args` is typed as a string holding a "JSON hash", and the example is not JSON
//!   (`{'key': 'value'}`): only a string (or object) that parses as a JSON object fills
//!   `metadata`; anything else is not mapped (the stored details body keeps it).
//! - `originating_ip` is the sender's address, not the opener's, so `ip` stays null.
//!
//! # Unsupported
//!
//! - The Email Activity search results (`GET /v3/messages`): message summaries, not events.
//! - The 2025 Email Logs API.
//! - Signature verification lives with the other signature checks, not here.

use std::borrow::Cow;

use super::json::object::Object;
use super::json::picked::{Keys, Path, Picked, must_be_object, take_tag};
use super::json::scan::{Kind, Scan, Val};
use super::text::smtp_code_slices;
use super::{TimeUnit, bare_address_cow, clean_message_id_cow, narrow};
use crate::category::{self, Classification};
use crate::error::Error;
use crate::{
    Automated, BorrowedEvent, BounceClass, EventType, KeyScope, Metadata, Normalized, Payload,
    event_key,
};

type Text<'a> = Cow<'a, str>;

/// SendGrid's own keys: the mapped ones first, in slot order (see the constants below), then
/// the rest. Every other top-level key is a custom argument.
static KEYS: Keys<38> = Keys::new([
    "event",
    "type",
    "sg_event_id",
    "smtp-id",
    "sg_message_id",
    "email",
    "timestamp",
    "asm_group_id",
    "status",
    "reason",
    "response",
    "url",
    "useragent",
    "ip",
    "category",
    "bounce_classification",
    "sg_machine_open",
    // Not mapped.
    "attempt",
    "url_offset",
    "tls",
    "cert_err",
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
]);

pub(crate) fn normalize(payload: Payload<'_>) -> Result<Normalized<Text<'_>>, Error> {
    if super::first_byte(payload.body) == Some(b'{') {
        let text = super::body_text(payload.body)?;
        let o = Object::parse(text, "$")?;
        if o.get("msg_id").is_some() && o.get("events").is_some() {
            return activity(&o);
        }
    }
    if super::first_byte(payload.body) != Some(b'[') {
        return Err(super::wrong_shape(
            payload.body,
            "a json array of sendgrid events or an email activity message",
        ));
    }
    let text = super::body_text(payload.body)?;
    let mut out = Normalized::default();
    // About 300 bytes per event in real batches: one allocation for most bodies.
    out.events.reserve(text.len() / 256 + 1);
    let mut custom = Metadata::new();
    let mut picked = Picked::empty(&KEYS);
    let mut categories = Categories::default();
    let mut scan = Scan::new(text);
    scan.items(|scan, i| {
        custom.clear();
        categories.read = false;
        let path = Path::element("$", i);
        let read = picked.read_fields(
            scan,
            &KEYS,
            path,
            |k, v, sendgrids| {
                if !sendgrids && !v.is_null() {
                    custom.insert(k, v.text().unwrap_or(Cow::Borrowed(v.text)));
                }
            },
            |slot, scan| match slot {
                CATEGORY => categories.scan(scan).map(Some),
                _ => Ok(None),
            },
        )?;
        let one = must_be_object(read, path)
            .and_then(|raw| event(&picked, raw, &mut custom, &mut categories, &mut out.events));
        if let Err(e) = one {
            out.errors.push(e);
        }
        Ok(())
    })?;
    scan.end()?;
    Ok(out)
}

/// An event's `category` list, read as the scan passes it (not scanned again from its slot).
#[derive(Default)]
struct Categories<'a> {
    tags: crate::Tags<Text<'a>>,
    /// Whether `tags` holds this event's list: its last `category` was an array of strings,
    /// numbers and nulls. Otherwise the slot is read the general way, with its errors.
    read: bool,
}

impl<'a> Categories<'a> {
    /// Read the `category` value at the cursor; the value, for its slot.
    fn scan(&mut self, scan: &mut Scan<'a>) -> Result<Val<'a>, Error> {
        self.tags.clear();
        let mut ok = true;
        let (value, flat) = scan.array_items(|item| ok &= take_tag(&mut self.tags, item))?;
        self.read = flat && ok;
        Ok(value)
    }
}

/// The slots of the mapped fields: their index in [`KEYS`].
const EVENT: usize = 0;
const TYPE: usize = 1;
const SG_EVENT_ID: usize = 2;
const SMTP_ID: usize = 3;
const SG_MESSAGE_ID: usize = 4;
const EMAIL: usize = 5;
const TIMESTAMP: usize = 6;
const ASM_GROUP_ID: usize = 7;
const STATUS: usize = 8;
const REASON: usize = 9;
const RESPONSE: usize = 10;
const URL: usize = 11;
const USERAGENT: usize = 12;
const IP: usize = 13;
const CATEGORY: usize = 14;
const BOUNCE_CLASSIFICATION: usize = 15;
const SG_MACHINE_OPEN: usize = 16;
/// How many of [`KEYS`] have a slot.
const SLOTS: usize = 17;

/// One webhook event, built in place at the end of `events`.
fn event<'a>(
    o: &Picked<'a, SLOTS>,
    raw: &'a str,
    custom: &mut Metadata<Text<'a>>,
    categories: &mut Categories<'a>,
    events: &mut Vec<BorrowedEvent<'a>>,
) -> Result<(), Error> {
    let name = o.string(EVENT)?.ok_or_else(|| Error::missing(o.child(EVENT)))?;
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    let (kind, class) = if is("processed") {
        (EventType::Accepted, None)
    } else if is("dropped") {
        (EventType::Rejected, None)
    } else if is("deferred") {
        (EventType::Deferred, None)
    } else if is("delivered") {
        (EventType::Delivered, None)
    } else if is("bounce") {
        let blocked = o.str(TYPE)?.is_some_and(|t| t.eq_ignore_ascii_case("blocked"));
        if blocked {
            (EventType::SoftBounce, Some(BounceClass::Block))
        } else {
            (EventType::HardBounce, Some(BounceClass::Hard))
        }
    } else if is("open") {
        (EventType::Open, None)
    } else if is("click") {
        (EventType::Click, None)
    } else if is("spamreport") {
        (EventType::Complaint, None)
    } else if is("unsubscribe") || is("group_unsubscribe") {
        (EventType::Unsubscribe, None)
    } else if is("group_resubscribe") {
        (EventType::Resubscribe, None)
    } else {
        (EventType::Unknown, None)
    };
    let about_no_message = is("account_status_change");
    super::fill_in_place(events, ("sendgrid", kind, name), |e| {
        fill(e, o, raw, custom, categories, class, about_no_message)
    })
}

fn fill<'a>(
    e: &mut BorrowedEvent<'a>,
    o: &Picked<'a, SLOTS>,
    raw: &'a str,
    custom: &mut Metadata<Text<'a>>,
    categories: &mut Categories<'a>,
    class: Option<BounceClass>,
    about_no_message: bool,
) -> Result<(), Error> {
    e.bounce_class = class;
    e.provider_event_id = o.str(SG_EVENT_ID)?;
    e.smtp_message_id = o.string(SMTP_ID)?.as_ref().and_then(clean_message_id_cow);
    if !about_no_message {
        e.message_id = message_id(o.str(SG_MESSAGE_ID)?.as_ref(), e.smtp_message_id.as_ref());
    }
    e.recipient = o.string(EMAIL)?.as_ref().and_then(bare_address_cow);
    e.occurred_at = o.time(TIMESTAMP, TimeUnit::Seconds)?;
    e.stream = o.str(ASM_GROUP_ID)?;
    e.enhanced_status = o.str(STATUS)?;
    e.diagnostic = match o.str(REASON)? {
        Some(r) if !r.is_empty() => Some(r),
        _ => o.str(RESPONSE)?,
    };
    if let Some(d) = &e.diagnostic {
        let (code, enhanced) = smtp_code_slices(d);
        e.smtp_status = code.map(|c| narrow(d, c));
        if e.enhanced_status.is_none() {
            e.enhanced_status = enhanced.map(|c| narrow(d, c));
        }
    }
    e.url = o.string(URL)?;
    e.user_agent = o.string(USERAGENT)?;
    e.ip = o.string(IP)?;
    if e.kind == EventType::Open && o.truthy(SG_MACHINE_OPEN) {
        e.automated = Some(Automated::PrivacyProxy);
    }
    if let Some(c) = o.str(BOUNCE_CLASSIFICATION).ok().flatten() {
        e.bounce_category = category::provider(Classification::SendgridBounce, &c);
    }
    if categories.read {
        std::mem::swap(&mut e.tags, &mut categories.tags);
    } else {
        o.str_list_into(CATEGORY, &mut e.tags)?;
    }
    // Custom arguments were inserted as the scan met them (one by one: `collect` would
    // buffer, sort and bulk-build, which for the usual one to three costs more).
    std::mem::swap(&mut e.metadata, custom);
    e.raw = Cow::Borrowed(raw);
    e.event_key = Cow::Owned(event_key(e, KeyScope::Event));
    Ok(())
}

/// An Email Activity message details body: one event per `events` entry.
fn activity<'a>(o: &Object<'a>) -> Result<Normalized<Text<'a>>, Error> {
    let message_id = message_id(o.str("msg_id")?.as_ref(), None);
    let recipient = o.string("to_email")?.as_ref().and_then(bare_address_cow);
    let stream = o.str("asm_group_id")?;
    // A single number is a one-category list, as a string is.
    let tags = match o.get("categories") {
        Some(v) if v.kind == Kind::Num => v.text().into_iter().collect(),
        _ => o.str_list("categories")?,
    };
    let metadata = unique_args(o.get("unique_args"));
    let mut out = Normalized::default();
    for (item, path) in o.items("events")? {
        let one = activity_event(item, path).map(|mut e| {
            e.message_id.clone_from(&message_id);
            e.recipient.clone_from(&recipient);
            e.stream.clone_from(&stream);
            e.tags.clone_from(&tags);
            e.metadata.clone_from(&metadata);
            e.event_key = Cow::Owned(event_key(&e, KeyScope::Event));
            e
        });
        match one {
            Ok(e) => out.events.push(e),
            Err(e) => out.errors.push(e),
        }
    }
    Ok(out)
}

/// One `events` entry of an activity details body, without the message's fields or a key.
fn activity_event(item: Val<'_>, path: String) -> Result<BorrowedEvent<'_>, Error> {
    let raw = item.text;
    let o = Object::of(item, path)?;
    let name = o.string("event_name")?.ok_or_else(|| Error::missing(o.child("event_name")))?;
    let (kind, class) = match name.as_ref() {
        "processed" => (EventType::Accepted, None),
        "dropped" => (EventType::Rejected, None),
        "deferred" => (EventType::Deferred, None),
        "delivered" => (EventType::Delivered, None),
        "bounced" => match o.string("bounce_type")?.as_deref() {
            Some("soft") => (EventType::SoftBounce, Some(BounceClass::Block)),
            _ => (EventType::HardBounce, Some(BounceClass::Hard)),
        },
        "opened" => (EventType::Open, None),
        "clicked" => (EventType::Click, None),
        "spam_report" => (EventType::Complaint, None),
        "unsubscribe" | "group_unsubscribe" => (EventType::Unsubscribe, None),
        "group_resubscribe" => (EventType::Resubscribe, None),
        _ => (EventType::Unknown, None),
    };
    let mut e = BorrowedEvent::blank_borrowed("sendgrid", kind, name);
    e.bounce_class = class;
    e.occurred_at = o.time("processed", TimeUnit::Seconds)?;
    e.diagnostic = match o.string("reason")? {
        Some(r) if !r.trim().is_empty() => Some(r),
        _ => o.string("server_response")?.filter(|r| !r.trim().is_empty()),
    };
    if let Some(d) = &e.diagnostic {
        let (code, enhanced) = smtp_code_slices(d);
        e.smtp_status = code.map(|c| narrow(d, c));
        e.enhanced_status = enhanced.map(|c| narrow(d, c));
    }
    if kind == EventType::Click {
        e.url = o.string("url")?;
    }
    e.user_agent = o.string("http_user_agent")?.filter(|u| !u.is_empty());
    e.raw = Cow::Borrowed(raw);
    Ok(e)
}

/// `unique_args` as metadata when it is a JSON object (or a string holding one).
fn unique_args<'a>(v: Option<Val<'_>>) -> Metadata<Text<'a>> {
    let Some(v) = v else { return Metadata::new() };
    let text = match v.kind {
        Kind::Str => v.string().unwrap_or_default().into_owned(),
        Kind::Obj => v.text.to_owned(),
        _ => return Metadata::new(),
    };
    // Strings as they are, anything else as its exact text.
    match Object::parse(&text, "$.unique_args") {
        Ok(args) => args
            .fields()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let value = v.string().map_or_else(|| v.text.to_owned(), Cow::into_owned);
                (Cow::Owned(k.to_owned()), Cow::Owned(value))
            })
            .collect(),
        Err(_) => Metadata::new(),
    }
}

/// The X-Message-Id: `sg_message_id` cut before `.filter` / `.recvd`, or the local part of the
/// `smtp-id` when `sg_message_id` is missing or only a suffix.
fn message_id<'a>(sg: Option<&Text<'a>>, smtp_id: Option<&Text<'a>>) -> Option<Text<'a>> {
    let internal = |rest: &[u8]| rest.starts_with(b"filter") || rest.starts_with(b"recvd");
    if let Some(whole) = sg {
        let s = whole.trim();
        let b = s.as_bytes();
        if !s.is_empty() && !internal(b) {
            // A byte loop: `match_indices('.')` went through `memchr` per dot, measured at 3% of
            // a batch for ids of some forty bytes.
            let cut = (0..b.len()).find(|&at| b[at] == b'.' && internal(&b[at + 1..]));
            return clean_message_id_cow(&narrow(whole, cut.map_or(s, |at| &s[..at])));
        }
    }
    let id = smtp_id?;
    let local = id.split_once('@').map_or(id.as_ref(), |(l, _)| l);
    clean_message_id_cow(&narrow(id, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_constants_name_their_keys() {
        let names = KEYS.names();
        let slots = [
            (EVENT, "event"),
            (TYPE, "type"),
            (SG_EVENT_ID, "sg_event_id"),
            (SMTP_ID, "smtp-id"),
            (SG_MESSAGE_ID, "sg_message_id"),
            (EMAIL, "email"),
            (TIMESTAMP, "timestamp"),
            (ASM_GROUP_ID, "asm_group_id"),
            (STATUS, "status"),
            (REASON, "reason"),
            (RESPONSE, "response"),
            (URL, "url"),
            (USERAGENT, "useragent"),
            (IP, "ip"),
            (CATEGORY, "category"),
            (BOUNCE_CLASSIFICATION, "bounce_classification"),
            (SG_MACHINE_OPEN, "sg_machine_open"),
        ];
        for (slot, name) in slots {
            assert_eq!(names[slot], name);
            assert!(KEYS.find(name).is_some(), "{name} is sendgrid's own key");
        }
        assert_eq!(slots.len(), SLOTS);
        assert!(KEYS.find("tenant").is_none());
    }

    #[test]
    fn categories_read_during_the_scan_agree_with_the_slot_reading() {
        let body = r#"[
            {"event":"open","email":"a@example.com","timestamp":1,"category":["x","y"]},
            {"event":"open","email":"a@example.com","timestamp":2},
            {"event":"open","email":"a@example.com","timestamp":3,"category":"solo"},
            {"event":"open","email":"a@example.com","timestamp":4,"category":["x"],"category":"last"},
            {"event":"open","email":"a@example.com","timestamp":5,"category":"first","category":["a\u0041",7,null]},
            {"event":"open","email":"a@example.com","timestamp":6,"category":["x",["nested"]]},
            {"event":"open","email":"a@example.com","timestamp":7,"category":["x",true]},
            {"event":"open","email":"a@example.com","timestamp":8,"category":[]},
            {"event":"open","email":"a@example.com","timestamp":9,"category" : [ "p" , "q" ]},
            {"event":"open","email":"a@example.com","timestamp":10,"category": ["x", false]}
        ]"#;
        let headers = crate::Headers::new();
        let out = normalize(Payload { body: body.as_bytes(), headers: &headers }).unwrap();
        let tags: Vec<Vec<String>> =
            out.events.iter().map(|e| e.tags.iter().map(ToString::to_string).collect()).collect();
        let expect: [&[&str]; 7] =
            [&["x", "y"], &[], &["solo"], &["last"], &["aA", "7"], &[], &["p", "q"]];
        assert_eq!(tags, expect.map(|t| t.iter().map(ToString::to_string).collect::<Vec<_>>()));
        let errors: Vec<&str> = out.errors.iter().map(Error::message).collect();
        assert_eq!(
            errors,
            [
                "expected string at $[5].category[1], found array",
                "expected string at $[6].category[1], found boolean",
                "expected string at $[9].category[1], found boolean"
            ]
        );
    }

    #[test]
    fn message_id_cuts_at_the_internal_suffix() {
        let m = |sg: Option<&str>, smtp: Option<&str>| {
            let (sg, smtp) = (sg.map(Cow::Borrowed), smtp.map(Cow::Borrowed));
            message_id(sg.as_ref(), smtp.as_ref()).map(Cow::into_owned)
        };
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
