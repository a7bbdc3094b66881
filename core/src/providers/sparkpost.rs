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

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::extract::{non_empty, smtp_codes, string_map};
use super::{Obj, TimeUnit, bare_address, clean_message_id, type_name};
use crate::error::{Error, ErrorKind};
use crate::provider::{Control, ControlKind};
use crate::{BounceClass, Event, EventType, KeyScope, Normalized, Payload, Timestamp, event_key};

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
    if let Some(ping) = fast::element(raw, events) {
        return Ok(ping);
    }
    element_path_aware(raw, path, events)
}

fn element_path_aware(raw: &str, path: &str, events: &mut Vec<Event>) -> Result<bool, Error> {
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
                if let Some(e) = fast::flat(raw.get()) {
                    out.events.push(e);
                    continue;
                }
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

/// The fields an event is built from, gathered either from a path-aware [`Obj`] (which
/// reports precise errors) or from the borrowed fast-path struct.
#[derive(Default)]
struct Fields {
    kind: String,
    bounce_class: Option<String>,
    event_id: Option<String>,
    transmission_id: Option<String>,
    rcpt: Option<String>,
    timestamp: Option<Timestamp>,
    raw_reason: Option<String>,
    reason: Option<String>,
    error_code: Option<String>,
    url: Option<String>,
    user_agent: Option<String>,
    ip_address: Option<String>,
    sending_ip: Option<String>,
    tags: Vec<String>,
    meta: BTreeMap<String, String>,
}

/// The path-aware reading: every wrong type is an error naming its path.
fn event(o: &Obj<'_>, raw: &str) -> Result<Event, Error> {
    let rcpt = match o.str("rcpt_to")? {
        Some(r) => Some(r),
        None => o.str("raw_rcpt_to")?,
    };
    let f = Fields {
        kind: o.req_str("type")?,
        bounce_class: o.str("bounce_class")?,
        event_id: o.str("event_id")?,
        transmission_id: o.str("transmission_id")?,
        rcpt,
        timestamp: o.time("timestamp", TimeUnit::Seconds)?,
        raw_reason: o.str("raw_reason")?,
        reason: o.str("reason")?,
        error_code: o.str("error_code")?,
        url: o.str("target_link_url")?,
        user_agent: o.str("user_agent")?,
        ip_address: o.str("ip_address")?,
        sending_ip: o.str("sending_ip")?,
        tags: o.str_list("rcpt_tags")?,
        meta: string_map(o.get("rcpt_meta"), || o.child("rcpt_meta"))?,
    };
    build(f, raw).map_err(|why| Error::invalid(o.child("bounce_class"), why))
}

/// Build the canonical event; the only failure is an unreadable `bounce_class`.
fn build(f: Fields, raw: &str) -> Result<Event, String> {
    let (kind, bounce_class) = match f.kind.as_str() {
        "injection" => (EventType::Accepted, None),
        "delivery" => (EventType::Delivered, None),
        "delay" => (EventType::Deferred, None),
        "bounce" | "out_of_band" => by_bounce_class(f.bounce_class.as_deref())?,
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
    e.provider_type = f.kind;
    e.bounce_class = bounce_class;
    e.provider_event_id = non_empty(f.event_id);
    e.message_id = f.transmission_id.as_deref().and_then(clean_message_id);
    e.recipient = f.rcpt.as_deref().and_then(bare_address);
    e.occurred_at = f.timestamp;
    let reason = non_empty(f.raw_reason).or_else(|| non_empty(f.reason));
    let (status, enhanced) = reason.as_deref().map(smtp_codes).unwrap_or_default();
    e.smtp_status = non_empty(f.error_code).or(status);
    e.enhanced_status = enhanced;
    e.diagnostic = reason;
    e.url = non_empty(f.url);
    e.user_agent = non_empty(f.user_agent);
    e.ip = non_empty(f.ip_address).or_else(|| non_empty(f.sending_ip));
    e.tags = f.tags;
    e.metadata = f.meta.into();
    raw.clone_into(&mut e.raw);
    e.event_key = event_key(&e, KeyScope::Event);
    Ok(e)
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

/// The fast path: one borrowed, typed pass over an element that skips the fields we do not
/// read. It gives up (`None`) on anything unusual — a wrong type, a duplicate key, an
/// unreadable time or class — and the path-aware reading above then decides, so both paths
/// give the same events and only the slow one reports errors.
mod fast {
    use std::borrow::Cow;
    use std::collections::BTreeMap;
    use std::fmt;
    use std::marker::PhantomData;

    use serde::Deserialize;
    use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
    use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Number, Value};

    use super::{Fields, build};
    use crate::Event;
    use crate::providers::{TimeUnit, parse_time};

    /// `{"msys": {...}}`; `Some(true)` for an empty (ping) element.
    pub(super) fn element(raw: &str, events: &mut Vec<Event>) -> Option<bool> {
        let el: ObjOnly<Element<'_>> = serde_json::from_str(raw).ok()?;
        let msys = el.0.msys;
        if msys.is_empty() {
            return Some(true);
        }
        let start = events.len();
        for (_, inner) in msys {
            let Some(e) = event(inner.0, raw) else {
                events.truncate(start);
                return None;
            };
            events.push(e);
        }
        Some(false)
    }

    /// One flat event (an Events API result).
    pub(super) fn flat(raw: &str) -> Option<Event> {
        let f: ObjOnly<Fast<'_>> = serde_json::from_str(raw).ok()?;
        event(f.0, raw)
    }

    fn event(f: Fast<'_>, raw: &str) -> Option<Event> {
        let timestamp = match f.timestamp {
            Text::Absent => None,
            Text::Str(s) => {
                Some(parse_time(&Value::String(s.into_owned()), TimeUnit::Seconds).ok()?)
            }
            Text::Num(n) => Some(parse_time(&Value::Number(n), TimeUnit::Seconds).ok()?),
        };
        let rcpt = f.rcpt_to.into_string().or_else(|| f.raw_rcpt_to.into_string());
        let fields = Fields {
            kind: f.kind.into_string()?,
            bounce_class: f.bounce_class.into_string(),
            event_id: f.event_id.into_string(),
            transmission_id: f.transmission_id.into_string(),
            rcpt,
            timestamp,
            raw_reason: f.raw_reason.into_string(),
            reason: f.reason.into_string(),
            error_code: f.error_code.into_string(),
            url: f.target_link_url.into_string(),
            user_agent: f.user_agent.into_string(),
            ip_address: f.ip_address.into_string(),
            sending_ip: f.sending_ip.into_string(),
            tags: f.rcpt_tags.0,
            meta: f.rcpt_meta.0,
        };
        build(fields, raw).ok()
    }

    #[derive(Deserialize)]
    struct Element<'a> {
        #[serde(borrow)]
        msys: BTreeMap<Cow<'a, str>, ObjOnly<Fast<'a>>>,
    }

    #[derive(Deserialize)]
    struct Fast<'a> {
        #[serde(rename = "type", default, borrow)]
        kind: Text<'a>,
        #[serde(default, borrow)]
        bounce_class: Text<'a>,
        #[serde(default, borrow)]
        event_id: Text<'a>,
        #[serde(default, borrow)]
        transmission_id: Text<'a>,
        #[serde(default, borrow)]
        rcpt_to: Text<'a>,
        #[serde(default, borrow)]
        raw_rcpt_to: Text<'a>,
        #[serde(default, borrow)]
        timestamp: Text<'a>,
        #[serde(default, borrow)]
        raw_reason: Text<'a>,
        #[serde(default, borrow)]
        reason: Text<'a>,
        #[serde(default, borrow)]
        error_code: Text<'a>,
        #[serde(default, borrow)]
        target_link_url: Text<'a>,
        #[serde(default, borrow)]
        user_agent: Text<'a>,
        #[serde(default, borrow)]
        ip_address: Text<'a>,
        #[serde(default, borrow)]
        sending_ip: Text<'a>,
        #[serde(default)]
        rcpt_tags: Tags,
        #[serde(default)]
        rcpt_meta: Meta,
    }

    /// A struct that must come as a JSON object: serde's derived structs also accept arrays,
    /// which the path-aware reading rejects.
    struct ObjOnly<T>(T);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjOnly<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<T>(PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
                type Value = ObjOnly<T>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ObjOnly<T>, A::Error> {
                    T::deserialize(MapAccessDeserializer::new(map)).map(ObjOnly)
                }
            }
            d.deserialize_map(V(PhantomData))
        }
    }

    /// A string or number field (null is absent), as `Obj::str` reads it.
    #[derive(Default)]
    enum Text<'a> {
        #[default]
        Absent,
        Str(Cow<'a, str>),
        Num(Number),
    }

    impl Text<'_> {
        fn into_string(self) -> Option<String> {
            match self {
                Text::Absent => None,
                Text::Str(s) => Some(s.into_owned()),
                Text::Num(n) => Some(n.to_string()),
            }
        }
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Text<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string or number")
                }
                fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'de>, E> {
                    Ok(Text::Str(Cow::Borrowed(s)))
                }
                fn visit_str<E>(self, s: &str) -> Result<Text<'de>, E> {
                    Ok(Text::Str(Cow::Owned(s.to_owned())))
                }
                fn visit_string<E>(self, s: String) -> Result<Text<'de>, E> {
                    Ok(Text::Str(Cow::Owned(s)))
                }
                fn visit_u64<E>(self, n: u64) -> Result<Text<'de>, E> {
                    Ok(Text::Num(n.into()))
                }
                fn visit_i64<E>(self, n: i64) -> Result<Text<'de>, E> {
                    Ok(Text::Num(n.into()))
                }
                fn visit_f64<E: de::Error>(self, n: f64) -> Result<Text<'de>, E> {
                    Number::from_f64(n).map(Text::Num).ok_or_else(|| E::custom("not finite"))
                }
                fn visit_unit<E>(self) -> Result<Text<'de>, E> {
                    Ok(Text::Absent)
                }
            }
            d.deserialize_any(V)
        }
    }

    /// `rcpt_tags`: a string, or a list of strings and numbers (nulls skipped).
    #[derive(Default)]
    struct Tags(Vec<String>);

    impl<'de> Deserialize<'de> for Tags {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Tags;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string or a list")
                }
                fn visit_str<E>(self, s: &str) -> Result<Tags, E> {
                    Ok(Tags(vec![s.to_owned()]))
                }
                fn visit_unit<E>(self) -> Result<Tags, E> {
                    Ok(Tags(Vec::new()))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tags, A::Error> {
                    let mut out = Vec::new();
                    while let Some(t) = seq.next_element::<Text<'de>>()? {
                        out.extend(t.into_string());
                    }
                    Ok(Tags(out))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// `rcpt_meta`: an object whose string values stay and other values become JSON text
    /// (as `string_map` does); null values are absent.
    #[derive(Default)]
    struct Meta(BTreeMap<String, String>);

    impl<'de> Deserialize<'de> for Meta {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Meta;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object")
                }
                fn visit_unit<E>(self) -> Result<Meta, E> {
                    Ok(Meta::default())
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Meta, A::Error> {
                    let mut out = BTreeMap::new();
                    while let Some((k, v)) = map.next_entry::<String, MetaValue>()? {
                        match v.0 {
                            Some(s) => out.insert(k, s),
                            None => out.remove(&k),
                        };
                    }
                    Ok(Meta(out))
                }
            }
            d.deserialize_any(V)
        }
    }

    struct MetaValue(Option<String>);

    impl<'de> Deserialize<'de> for MetaValue {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = MetaValue;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any value")
                }
                fn visit_str<E>(self, s: &str) -> Result<MetaValue, E> {
                    Ok(MetaValue(Some(s.to_owned())))
                }
                fn visit_unit<E>(self) -> Result<MetaValue, E> {
                    Ok(MetaValue(None))
                }
                fn visit_bool<E>(self, b: bool) -> Result<MetaValue, E> {
                    Ok(MetaValue(Some(b.to_string())))
                }
                fn visit_u64<E>(self, n: u64) -> Result<MetaValue, E> {
                    Ok(MetaValue(Some(n.to_string())))
                }
                fn visit_i64<E>(self, n: i64) -> Result<MetaValue, E> {
                    Ok(MetaValue(Some(n.to_string())))
                }
                fn visit_f64<E: de::Error>(self, n: f64) -> Result<MetaValue, E> {
                    let n = Number::from_f64(n).ok_or_else(|| E::custom("not finite"))?;
                    Ok(MetaValue(Some(n.to_string())))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<MetaValue, A::Error> {
                    let v = Value::deserialize(SeqAccessDeserializer::new(seq))?;
                    Ok(MetaValue(Some(v.to_string())))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MetaValue, A::Error> {
                    let v = Value::deserialize(MapAccessDeserializer::new(map))?;
                    Ok(MetaValue(Some(v.to_string())))
                }
            }
            d.deserialize_any(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element of every SparkPost vector, and a few odd ones, read by both paths.
    #[test]
    fn fast_and_path_aware_readings_agree() {
        let bodies = [
            include_str!("../../../tests/vectors/normalize/sparkpost/message-events-batch.json"),
            include_str!("../../../tests/vectors/normalize/sparkpost/bounce-classes.json"),
            include_str!(
                "../../../tests/vectors/normalize/sparkpost/engagement-and-amp-events.json"
            ),
            include_str!(
                "../../../tests/vectors/normalize/sparkpost/unknown-and-relay-events.json"
            ),
            include_str!("../../../tests/vectors/normalize/sparkpost/bad-element-in-batch.json"),
        ];
        let mut elements: Vec<String> = Vec::new();
        for vector in bodies {
            let v: Value = serde_json::from_str(vector).unwrap();
            let body = v["input"]["body"].as_str().unwrap();
            elements.extend(
                super::super::split_array(body.as_bytes()).unwrap().iter().map(|s| (*s).to_owned()),
            );
        }
        elements.extend([
            r#"{"msys":{"message_event":{"type":"delivery","rcpt_meta":{"a":{"b":[1,2.5,true]},"n":-3,"x":null,"f":1.5e3},"rcpt_tags":["a",null,7]}}}"#.to_owned(),
            r#"{"msys":{"message_event":{"type":"delivery","rcpt_meta":{"a":"x","a":null}}}}"#.to_owned(),
            r#"{"msys":{"message_event":{"type":"delivery","type":"bounce"}}}"#.to_owned(),
            r#"{"msys":{"message_event":["delivery"]}}"#.to_owned(),
            r#"{"msys":{"message_event":{"type":"de\u006civery","rcpt_to":"A\"b@example.com","timestamp":1767400000.25}}}"#.to_owned(),
            r#"{"msys":{"a_event":{"type":"open"},"b_event":{"type":"click"}}}"#.to_owned(),
            r#"{"msys":{"message_event":{"type":"delivery","rcpt_to":7,"raw_rcpt_to":{"x":1}}}}"#.to_owned(),
            r#"{"msys":{"message_event":{"type":"bounce","bounce_class":10.0}}}"#.to_owned(),
            r#"[{"msys":{}}]"#.to_owned(),
        ]);
        let mut agreed = 0;
        for raw in &elements {
            let mut fast_events = Vec::new();
            let fast = fast::element(raw, &mut fast_events);
            let mut slow_events = Vec::new();
            let slow = element_path_aware(raw, "$", &mut slow_events);
            match (fast, slow) {
                (Some(f), Ok(s)) => {
                    assert_eq!(f, s, "{raw}");
                    assert_eq!(fast_events, slow_events, "{raw}");
                    agreed += 1;
                }
                // The fast path may give up on anything; it must never succeed where the
                // path-aware reading fails.
                (None, _) => assert!(fast_events.is_empty(), "{raw}"),
                (Some(_), Err(e)) => panic!("fast path accepted what fails with {e}: {raw}"),
            }
        }
        // Everything but the five bad elements of the batch vector and five odd ones here (a
        // duplicate key, an array event, wrongly typed recipients, a float class, an array
        // element) really went through the fast path.
        assert_eq!(agreed, elements.len() - 10, "{agreed} of {}", elements.len());
    }
}
