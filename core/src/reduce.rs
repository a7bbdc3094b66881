//! Message state: the state of one message to one recipient, as a join-semilattice.
//!
//! [`MessageState`] holds the *set* of distinct events of its group (by event key), reduced to
//! the facts the state needs: type, time, and for bounces their class and diagnostic. Every
//! field of [`StateView`] is computed from that set, so the state cannot depend on arrival order
//! or duplicates, and [`MessageState::merge`] (set union) is commutative, associative and
//! idempotent. That one law lets the edge apply events as they come, SQL aggregate partitions in
//! parallel, and a distributed engine merge partial states, all with the same answer.
//!
//! Orderings used below: "earliest" among times ignores null times. Where events are ordered
//! by `(occurred_at, event_key)`, a null time sorts before every time.
//!
//! Two events that share a key but differ in their facts should not happen (a retry is the same
//! event); if they do, the greater facts (type, then time, class, diagnostic) win, so the
//! outcome is still independent of order.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind};
use crate::{Automated, BounceCategory, BounceClass, Event, EventType, Timestamp};

/// What the state keeps of one distinct event.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFacts {
    /// The canonical type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<Timestamp>,
    /// Bounce class (bounces only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounce_class: Option<BounceClass>,
    /// Diagnostic text (bounces only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<String>,
    /// A machine open or click (opens and clicks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<Automated>,
    /// Bounce category (bounces only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounce_category: Option<BounceCategory>,
}

impl EventFacts {
    /// The facts of `kind` at `occurred_at`; class and diagnostic are kept for bounces only.
    pub fn new(
        kind: EventType,
        occurred_at: Option<Timestamp>,
        bounce_class: Option<BounceClass>,
        diagnostic: Option<String>,
    ) -> EventFacts {
        let is_bounce = matches!(kind, EventType::HardBounce | EventType::SoftBounce);
        EventFacts {
            kind,
            occurred_at,
            bounce_class: bounce_class.filter(|_| is_bounce),
            diagnostic: diagnostic.filter(|_| is_bounce),
            automated: None,
            bounce_category: None,
        }
    }

    /// The same facts with the event's `automated` flag (kept on opens and clicks only).
    #[must_use]
    pub fn with_automated(mut self, automated: Option<Automated>) -> EventFacts {
        self.automated =
            automated.filter(|_| matches!(self.kind, EventType::Open | EventType::Click));
        self
    }

    /// The same facts with the event's bounce category (kept on hard and soft bounces only:
    /// the state reports the category of the bounce it reports the class of).
    #[must_use]
    pub fn with_bounce_category(mut self, category: Option<BounceCategory>) -> EventFacts {
        self.bounce_category =
            category.filter(|_| matches!(self.kind, EventType::HardBounce | EventType::SoftBounce));
        self
    }

    /// What the state keeps of `event`.
    pub fn from_event<S: AsRef<str>>(event: &Event<S>) -> EventFacts {
        EventFacts::new(
            event.kind,
            event.occurred_at,
            event.bounce_class,
            event.diagnostic.as_ref().map(|d| d.as_ref().to_owned()),
        )
        .with_automated(event.automated)
        .with_bounce_category(event.bounce_category)
    }

    /// Whether a person (as far as the provider can tell) opened or clicked: an open or click
    /// without an `automated` flag. Machine engagement never sets status or first times.
    fn is_automated(&self) -> bool {
        self.automated.is_some()
    }
}

/// The mergeable state of one (message_id, recipient) group.
///
/// # Example
/// ```
/// use mailstate_core::{Event, EventType, MessageState, Timestamp};
/// let mut delivered = Event::new("ses", EventType::Delivered);
/// delivered.event_key = "ses:1".into();
/// delivered.occurred_at = Timestamp::from_millis(1_000);
/// let mut click = Event::new("ses", EventType::Click);
/// click.event_key = "ses:2".into();
/// click.occurred_at = Timestamp::from_millis(500); // arrives first, happened... earlier clock
///
/// let mut s = MessageState::default();
/// s.apply(&click);
/// s.apply(&delivered);
/// s.apply(&delivered); // a retry: counted once
/// let v = s.view();
/// assert_eq!(v.status, EventType::Click);
/// assert_eq!(v.event_count, 2);
/// assert_eq!(v.delivered_at, Timestamp::from_millis(1_000));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageState {
    /// The group's message id (the greatest seen, so merge stays order-free).
    #[serde(default)]
    pub message_id: Option<String>,
    /// The group's recipient.
    #[serde(default)]
    pub recipient: Option<String>,
    /// Distinct events by key (a JSON object `{key: facts}` on the wire).
    #[serde(default)]
    events: FactSet,
}

/// The distinct events of a state, sorted by key.
///
/// A message has a handful of events, so a sorted vector beats a tree: one allocation, no
/// node overhead (a `BTreeMap` leaf reserves room for 11 entries). This is what keeps
/// `mailstate state` at about a hundred bytes per distinct event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FactSet(Vec<(Box<str>, EventFacts)>);

impl FactSet {
    /// Insert, keeping the greater facts when the key is already present.
    fn insert(&mut self, key: &str, facts: EventFacts) {
        match self.0.binary_search_by(|(k, _)| (**k).cmp(key)) {
            Ok(i) => {
                if facts > self.0[i].1 {
                    self.0[i].1 = facts;
                }
            }
            Err(i) => self.0.insert(i, (key.into(), facts)),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &EventFacts)> {
        self.0.iter().map(|(k, f)| (&**k, f))
    }
}

impl Serialize for FactSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for FactSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, EventFacts>::deserialize(d)?;
        Ok(FactSet(map.into_iter().map(|(k, f)| (k.into_boxed_str(), f)).collect()))
    }
}

impl MessageState {
    /// An empty state labelled with its group.
    pub fn new(message_id: Option<String>, recipient: Option<String>) -> MessageState {
        MessageState { message_id, recipient, events: FactSet::default() }
    }

    /// The distinct events, sorted by key.
    pub fn events(&self) -> impl Iterator<Item = (&str, &EventFacts)> {
        self.events.iter()
    }

    /// How many distinct events the state holds.
    pub fn len(&self) -> usize {
        self.events.0.len()
    }

    /// Whether the state holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.0.is_empty()
    }

    /// Add one event (idempotent: applying the same event key again changes nothing).
    pub fn apply(&mut self, event: &Event) {
        join_label(&mut self.message_id, event.message_id.as_ref());
        join_label(&mut self.recipient, event.recipient.as_ref());
        self.insert(&event.event_key, EventFacts::from_event(event));
    }

    /// Add the facts of one event by key (what SQL and the plugin's batch form feed in).
    /// When the key is already present, the greater facts are kept, so order never matters.
    pub fn insert(&mut self, key: &str, facts: EventFacts) {
        self.events.insert(key, facts);
    }

    /// [`MessageState::merge`] of a state this one may keep: when `self` is blank (no event,
    /// no label) it becomes `other` without cloning its events.
    pub fn merge_owned(&mut self, other: MessageState) {
        if self.is_empty() && self.message_id.is_none() && self.recipient.is_none() {
            *self = other;
        } else {
            self.merge(&other);
        }
    }

    /// Join `other` into `self` (set union of events; labels take the greater value).
    pub fn merge(&mut self, other: &MessageState) {
        join_label(&mut self.message_id, other.message_id.as_ref());
        join_label(&mut self.recipient, other.recipient.as_ref());
        for (k, f) in other.events.iter() {
            self.events.insert(k, f.clone());
        }
    }

    /// The DESIGN.md fields of this state.
    pub fn view(&self) -> StateView {
        let mut v = StateView {
            message_id: self.message_id.clone(),
            recipient: self.recipient.clone(),
            status: EventType::Unknown,
            terminal: false,
            terminal_at: None,
            first_event_at: None,
            last_event_at: None,
            accepted_at: None,
            delivered_at: None,
            first_open_at: None,
            first_click_at: None,
            bounced_at: None,
            complained_at: None,
            unsubscribed_at: None,
            open_count: 0,
            click_count: 0,
            automated_open_count: 0,
            automated_click_count: 0,
            deferred_count: 0,
            event_count: self.len() as u64,
            late_event_count: 0,
            bounce_class: None,
            bounce_category: None,
            diagnostic: None,
        };
        // The earliest-by-(occurred_at, key) event of each bounce type.
        let mut hard: Option<(&Option<Timestamp>, &str, &EventFacts)> = None;
        let mut soft: Option<(&Option<Timestamp>, &str, &EventFacts)> = None;
        for (key, f) in self.events.iter() {
            // A machine open or click (a privacy proxy's prefetch, a scanner) is counted but
            // never makes a message `open` or `click`.
            if f.kind.rank() > v.status.rank() && !f.is_automated() {
                v.status = f.kind;
            }
            let t = f.occurred_at;
            min_time(&mut v.first_event_at, t);
            max_time(&mut v.last_event_at, t);
            match f.kind {
                EventType::Accepted => min_time(&mut v.accepted_at, t),
                EventType::Delivered => min_time(&mut v.delivered_at, t),
                EventType::Open => {
                    v.open_count += 1;
                    if f.is_automated() {
                        v.automated_open_count += 1;
                    } else {
                        min_time(&mut v.first_open_at, t);
                    }
                }
                EventType::Click => {
                    v.click_count += 1;
                    if f.is_automated() {
                        v.automated_click_count += 1;
                    } else {
                        min_time(&mut v.first_click_at, t);
                    }
                }
                EventType::Deferred => v.deferred_count += 1,
                EventType::HardBounce | EventType::SoftBounce => {
                    min_time(&mut v.bounced_at, t);
                    let slot = if f.kind == EventType::HardBounce { &mut hard } else { &mut soft };
                    // Keys iterate in ascending order, so a strictly-earlier time is needed to
                    // replace the current pick: ties keep the smaller key.
                    if slot.is_none_or(|(st, _, _)| f.occurred_at < *st) {
                        *slot = Some((&f.occurred_at, key, f));
                    }
                }
                EventType::Complaint => min_time(&mut v.complained_at, t),
                EventType::Unsubscribe => min_time(&mut v.unsubscribed_at, t),
                _ => {}
            }
        }
        v.terminal = v.status.is_terminal();
        if v.terminal {
            v.terminal_at = self
                .events
                .iter()
                .map(|(_, f)| f)
                .filter(|f| f.kind == v.status)
                .filter_map(|f| f.occurred_at)
                .min();
            if let Some(at) = v.terminal_at {
                v.late_event_count = self
                    .events
                    .iter()
                    .filter(|(_, f)| f.occurred_at.is_some_and(|t| t > at))
                    .count() as u64;
            }
        }
        if let Some((_, _, f)) = hard.or(soft) {
            v.bounce_class = f.bounce_class;
            v.bounce_category = f.bounce_category;
            v.diagnostic.clone_from(&f.diagnostic);
        }
        v
    }

    /// The compact binary encoding used for partial aggregation (SQL state, plugin batches).
    ///
    /// Layout (all integers little-endian): byte `2` (version); message_id and recipient as
    /// optional strings; a `u32` event count; then per event in key order: the key as a string,
    /// one byte of type (its index in [`EventType::ALL`]), an optional `i64` time, one byte of
    /// bounce class (`0` none, `1..=4` hard, soft, block, undetermined), an optional
    /// diagnostic string, one byte of `automated` (`0` none, `1` privacy_proxy, `2` scanner)
    /// and one byte of bounce category (`0` none, `1..=10` in [`BounceCategory::ALL`] order).
    /// A string is a `u32` length and UTF-8 bytes; an optional value is a `0` byte, or a `1`
    /// byte and the value.
    ///
    /// Version 1 (before `automated` and `bounce_category`) is the same without the last two
    /// bytes per event; [`MessageState::decode`] still reads it (those events have neither),
    /// so partial states written by an older build merge with new ones.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.len() * 32);
        out.push(ENCODING_VERSION);
        put_opt_str(&mut out, self.message_id.as_deref());
        put_opt_str(&mut out, self.recipient.as_deref());
        put_u32(&mut out, self.len());
        for (k, f) in self.events.iter() {
            put_str(&mut out, k);
            out.push(f.kind.index());
            match f.occurred_at {
                None => out.push(0),
                Some(t) => {
                    out.push(1);
                    out.extend_from_slice(&t.as_millis().to_le_bytes());
                }
            }
            out.push(BounceClass::to_byte(f.bounce_class));
            put_opt_str(&mut out, f.diagnostic.as_deref());
            out.push(Automated::to_byte(f.automated));
            out.push(BounceCategory::to_byte(f.bounce_category));
        }
        out
    }

    /// Decode [`MessageState::encode`]'s bytes.
    ///
    /// # Errors
    /// `invalid_value` when the bytes are truncated, of an unknown version (1 and 2 are
    /// read), or out of range.
    pub fn decode(bytes: &[u8]) -> Result<MessageState, Error> {
        let mut r = Reader { b: bytes, i: 0 };
        let version = r.u8()?;
        if !(1..=ENCODING_VERSION).contains(&version) {
            return Err(Error::new(
                ErrorKind::InvalidValue,
                format!("state encoding version {version}, expected 1 to {ENCODING_VERSION}"),
            ));
        }
        let message_id = r.opt_str()?;
        let recipient = r.opt_str()?;
        let n = r.u32()?;
        let mut events = FactSet::default();
        for _ in 0..n {
            let key = r.str()?;
            let kind = *EventType::ALL
                .get(usize::from(r.u8()?))
                .ok_or_else(|| bad_state("event type out of range"))?;
            let occurred_at = match r.u8()? {
                0 => None,
                1 => Some(
                    Timestamp::from_millis(r.i64()?)
                        .ok_or_else(|| bad_state("time out of range"))?,
                ),
                _ => return Err(bad_state("bad option tag")),
            };
            let bounce_class = BounceClass::from_byte(r.u8()?)
                .map_err(|()| bad_state("bounce class out of range"))?;
            let diagnostic = r.opt_str()?;
            let mut facts = EventFacts::new(kind, occurred_at, bounce_class, diagnostic);
            if version >= 2 {
                let automated = Automated::from_byte(r.u8()?)
                    .map_err(|()| bad_state("automated out of range"))?;
                let category = BounceCategory::from_byte(r.u8()?)
                    .map_err(|()| bad_state("bounce category out of range"))?;
                facts = facts.with_automated(automated).with_bounce_category(category);
            }
            events.insert(&key, facts);
        }
        if r.i != bytes.len() {
            return Err(bad_state("trailing bytes"));
        }
        Ok(MessageState { message_id, recipient, events })
    }
}

/// The state of one message to one recipient: exactly the fields of DESIGN.md.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateView {
    /// The group's message id.
    pub message_id: Option<String>,
    /// The group's recipient.
    pub recipient: Option<String>,
    /// The type of highest rank among its events (`unknown` when none ranks higher); automated
    /// opens and clicks do not count.
    pub status: EventType,
    /// Whether `status` is complaint, hard_bounce, unsubscribe or rejected.
    pub terminal: bool,
    /// Earliest time among events of the status type, when terminal.
    pub terminal_at: Option<Timestamp>,
    /// Earliest time of all events.
    pub first_event_at: Option<Timestamp>,
    /// Latest time of all events.
    pub last_event_at: Option<Timestamp>,
    /// Earliest `accepted`.
    pub accepted_at: Option<Timestamp>,
    /// Earliest `delivered`.
    pub delivered_at: Option<Timestamp>,
    /// Earliest `open` by a person (automated opens are not counted here).
    pub first_open_at: Option<Timestamp>,
    /// Earliest `click` by a person (automated clicks are not counted here).
    pub first_click_at: Option<Timestamp>,
    /// Earliest hard or soft bounce.
    pub bounced_at: Option<Timestamp>,
    /// Earliest `complaint`.
    pub complained_at: Option<Timestamp>,
    /// Earliest `unsubscribe`.
    pub unsubscribed_at: Option<Timestamp>,
    /// Distinct opens, people's and machines'.
    pub open_count: u64,
    /// Distinct clicks, people's and machines'.
    pub click_count: u64,
    /// Distinct opens flagged `automated` (privacy proxies, scanners).
    pub automated_open_count: u64,
    /// Distinct clicks flagged `automated`.
    pub automated_click_count: u64,
    /// Distinct deferrals.
    pub deferred_count: u64,
    /// Distinct events.
    pub event_count: u64,
    /// Distinct events after `terminal_at` (0 when not terminal).
    pub late_event_count: u64,
    /// From the earliest event of the highest-ranked bounce type present.
    pub bounce_class: Option<BounceClass>,
    /// From the same event as `bounce_class`.
    pub bounce_category: Option<BounceCategory>,
    /// From the same event as `bounce_class`.
    pub diagnostic: Option<String>,
}

/// Group events by (message_id, recipient) and reduce each group, in group order.
///
/// # Example
/// ```
/// use mailstate_core::{Event, EventType, reduce};
/// let mut a = Event::new("ses", EventType::Accepted);
/// a.event_key = "ses:1".into();
/// a.message_id = Some("m1".into());
/// let states = reduce([&a, &a]);
/// assert_eq!(states.len(), 1);
/// assert_eq!(states[0].view().event_count, 1);
/// ```
pub fn reduce<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<MessageState> {
    let mut groups: BTreeMap<(Option<&'a str>, Option<&'a str>), MessageState> = BTreeMap::new();
    for e in events {
        groups.entry((e.message_id.as_deref(), e.recipient.as_deref())).or_default().apply(e);
    }
    groups.into_values().collect()
}

/// The version [`MessageState::encode`] writes; `decode` reads every version up to it.
const ENCODING_VERSION: u8 = 2;

fn join_label(mine: &mut Option<String>, theirs: Option<&String>) {
    if let Some(t) = theirs
        && mine.as_ref().is_none_or(|m| t > m)
    {
        *mine = Some(t.clone());
    }
}

fn min_time(slot: &mut Option<Timestamp>, t: Option<Timestamp>) {
    if let Some(t) = t
        && slot.is_none_or(|s| t < s)
    {
        *slot = Some(t);
    }
}

fn max_time(slot: &mut Option<Timestamp>, t: Option<Timestamp>) {
    if let Some(t) = t
        && slot.is_none_or(|s| t > s)
    {
        *slot = Some(t);
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// An optional string in the binary encodings: `u8` presence, then a `u32` length and UTF-8.
pub(crate) fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

fn bad_state(why: &str) -> Error {
    Error::new(ErrorKind::InvalidValue, format!("bad message state encoding: {why}"))
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Error> {
        let s = self
            .i
            .checked_add(n)
            .and_then(|end| self.b.get(self.i..end))
            .ok_or_else(|| bad_state("truncated"))?;
        self.i += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self) -> Result<i64, Error> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(a))
    }

    fn str(&mut self) -> Result<String, Error> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| bad_state("string is not utf-8"))
    }

    fn opt_str(&mut self) -> Result<Option<String>, Error> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.str().map(Some),
            _ => Err(bad_state("bad option tag")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_truncation_at_every_length() {
        let mut s = MessageState::new(Some("m".into()), Some("r@example.com".into()));
        s.insert(
            "k",
            EventFacts::new(
                EventType::HardBounce,
                Timestamp::from_millis(5),
                Some(BounceClass::Hard),
                Some("550".into()),
            ),
        );
        let bytes = s.encode();
        assert_eq!(MessageState::decode(&bytes).unwrap(), s);
        for n in 0..bytes.len() {
            assert!(MessageState::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn decode_reads_version_1_states_written_before_automated_and_bounce_category() {
        // What `encode` wrote before version 2: one hard bounce, no automated or category byte.
        let mut v1 = vec![1, 1, 1, 0, 0, 0, b'm', 0, 1, 0, 0, 0];
        v1.extend_from_slice(&[1, 0, 0, 0, b'k', 1, 1]);
        v1.extend_from_slice(&5i64.to_le_bytes());
        v1.extend_from_slice(&[1, 1, 3, 0, 0, 0, b'5', b'5', b'0']);
        let s = MessageState::decode(&v1).unwrap();
        let v = s.view();
        assert_eq!(v.status, EventType::HardBounce);
        assert_eq!(v.bounce_class, Some(BounceClass::Hard));
        assert_eq!(v.bounce_category, None);
        assert_eq!(v.diagnostic.as_deref(), Some("550"));
        assert_eq!(s.encode()[0], 2);
    }

    #[test]
    fn automated_opens_count_but_never_set_status_or_first_open() {
        let mut s = MessageState::default();
        let open = |automated| {
            EventFacts::new(EventType::Open, Timestamp::from_millis(1), None, None)
                .with_automated(automated)
        };
        s.insert("a", open(Some(Automated::PrivacyProxy)));
        s.insert("d", EventFacts::new(EventType::Delivered, Timestamp::from_millis(0), None, None));
        let v = s.view();
        assert_eq!(
            (v.status, v.first_open_at, v.open_count, v.automated_open_count),
            (EventType::Delivered, None, 1, 1)
        );
        s.insert("b", open(None));
        let v = s.view();
        assert_eq!((v.status, v.open_count, v.automated_open_count), (EventType::Open, 2, 1));
        assert_eq!(MessageState::decode(&s.encode()).unwrap(), s);
    }
}
