//! Message state: the state of one message to one recipient, as a join-semilattice.
//!
//! [`MessageState`] holds the *set* of distinct events of its group (by event key), reduced to
//! the facts the state needs: type, time, and for bounces their class, category and
//! diagnostic. Every field of [`StateView`] is computed from that set, so the state cannot
//! depend on arrival order or duplicates, and [`MessageState::merge`] (set union) is
//! commutative, associative and idempotent. That one law lets the edge apply events as they
//! come, SQL aggregate partitions in parallel, and a distributed engine merge partial states,
//! all with the same answer.
//!
//! Orderings used below: "earliest" among times ignores null times. Where events are ordered
//! by `(occurred_at, event_key)`, a null time sorts before every time.
//!
//! Two events that share a key but differ in their facts should not happen (a retry is the same
//! event); if they do, the greater facts (type, then time, class, diagnostic) win, so the
//! outcome is still independent of order.
//!
//! # Memory
//!
//! A state keeps its distinct events compactly: one fixed 24-byte record per event (time,
//! type, class, `automated`, category, and where its text lives) and one text buffer holding
//! every key and diagnostic back to back, so a state costs two allocations however many events
//! it holds, and an event costs 24 bytes plus its key (and its diagnostic, on bounces only).
//! Keys are kept exactly, not hashed: the JSON form of a state (`apply`, `merge`) names its
//! events by key, and no collision bound has to be argued.

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
        let is_bounce = is_bounce(kind);
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
        self.automated = automated.filter(|_| is_engagement(self.kind));
        self
    }

    /// The same facts with the event's bounce category (kept on hard and soft bounces only:
    /// the state reports the category of the bounce it reports the class of).
    #[must_use]
    pub fn with_bounce_category(mut self, category: Option<BounceCategory>) -> EventFacts {
        self.bounce_category = category.filter(|_| is_bounce(self.kind));
        self
    }

    /// What the state keeps of `event`.
    pub fn from_event<S: AsRef<str>>(event: &Event<S>) -> EventFacts {
        EventFactsRef::from_event(event).to_facts()
    }

    /// The same facts, borrowed.
    pub fn as_facts_ref(&self) -> EventFactsRef<'_> {
        EventFactsRef {
            kind: self.kind,
            occurred_at: self.occurred_at,
            bounce_class: self.bounce_class,
            diagnostic: self.diagnostic.as_deref(),
            automated: self.automated,
            bounce_category: self.bounce_category,
        }
    }
}

/// [`EventFacts`] with a borrowed diagnostic: what callers that read events from a buffer
/// (SQL columns, NDJSON lines) hand to [`MessageState::insert_ref`] without allocating.
///
/// Ordered like [`EventFacts`] (type, time, class, diagnostic, `automated`, category), which
/// decides between two facts of one key.
///
/// # Example
/// ```
/// use mailstate_core::{EventFactsRef, EventType, MessageState, Timestamp};
/// let mut s = MessageState::default();
/// s.insert_ref("ses:1", EventFactsRef::new(EventType::Delivered, Timestamp::from_millis(5), None, None));
/// assert_eq!(s.view().status, EventType::Delivered);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventFactsRef<'a> {
    /// The canonical type.
    pub kind: EventType,
    /// When it happened, if known.
    pub occurred_at: Option<Timestamp>,
    /// Bounce class (bounces only).
    pub bounce_class: Option<BounceClass>,
    /// Diagnostic text (bounces only).
    pub diagnostic: Option<&'a str>,
    /// A machine open or click (opens and clicks only).
    pub automated: Option<Automated>,
    /// Bounce category (bounces only).
    pub bounce_category: Option<BounceCategory>,
}

impl<'a> EventFactsRef<'a> {
    /// As [`EventFacts::new`]: class and diagnostic are kept for bounces only.
    pub fn new(
        kind: EventType,
        occurred_at: Option<Timestamp>,
        bounce_class: Option<BounceClass>,
        diagnostic: Option<&'a str>,
    ) -> EventFactsRef<'a> {
        let is_bounce = is_bounce(kind);
        EventFactsRef {
            kind,
            occurred_at,
            bounce_class: bounce_class.filter(|_| is_bounce),
            diagnostic: diagnostic.filter(|_| is_bounce),
            automated: None,
            bounce_category: None,
        }
    }

    /// As [`EventFacts::with_automated`].
    #[must_use]
    pub fn with_automated(mut self, automated: Option<Automated>) -> EventFactsRef<'a> {
        self.automated = automated.filter(|_| is_engagement(self.kind));
        self
    }

    /// As [`EventFacts::with_bounce_category`].
    #[must_use]
    pub fn with_bounce_category(mut self, category: Option<BounceCategory>) -> EventFactsRef<'a> {
        self.bounce_category = category.filter(|_| is_bounce(self.kind));
        self
    }

    /// What the state keeps of `event`, borrowed from it.
    pub fn from_event<S: AsRef<str>>(event: &'a Event<S>) -> EventFactsRef<'a> {
        EventFactsRef::new(
            event.kind,
            event.occurred_at,
            event.bounce_class,
            event.diagnostic.as_ref().map(AsRef::as_ref),
        )
        .with_automated(event.automated)
        .with_bounce_category(event.bounce_category)
    }

    /// The same facts, owned.
    pub fn to_facts(self) -> EventFacts {
        EventFacts {
            kind: self.kind,
            occurred_at: self.occurred_at,
            bounce_class: self.bounce_class,
            diagnostic: self.diagnostic.map(str::to_owned),
            automated: self.automated,
            bounce_category: self.bounce_category,
        }
    }

    /// Whether a machine made this open or click. Machine engagement never sets status or
    /// first times.
    fn is_automated(self) -> bool {
        self.automated.is_some()
    }
}

fn is_bounce(kind: EventType) -> bool {
    matches!(kind, EventType::HardBounce | EventType::SoftBounce)
}

fn is_engagement(kind: EventType) -> bool {
    matches!(kind, EventType::Open | EventType::Click)
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
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
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

impl PartialEq for MessageState {
    /// Equal labels and the same events (key and facts); how the text buffer is laid out
    /// does not matter.
    fn eq(&self, other: &MessageState) -> bool {
        self.message_id == other.message_id
            && self.recipient == other.recipient
            && self.len() == other.len()
            && self.events.iter().eq(other.events.iter())
    }
}

impl Eq for MessageState {}

/// A time that is not there, in [`Rec::at`] (below every valid [`Timestamp`]).
const NO_TIME: i64 = i64::MIN;
/// A diagnostic that is not there, in [`Rec::diag_len`].
const NO_DIAG: u32 = u32::MAX;

/// One distinct event of a [`FactSet`]: its facts, and where its key and diagnostic are in
/// the set's text (the key at `start`, the diagnostic right after it). 24 bytes.
#[derive(Clone, Copy, Debug)]
struct Rec {
    at: i64,
    start: u32,
    key_len: u32,
    diag_len: u32,
    kind: EventType,
    class: Option<BounceClass>,
    automated: Option<Automated>,
    category: Option<BounceCategory>,
}

/// The distinct events of a state, sorted by key: fixed records plus one text buffer.
#[derive(Clone, Debug, Default)]
struct FactSet {
    recs: Vec<Rec>,
    text: String,
}

fn len_u32(n: usize) -> u32 {
    // A state's text beyond 4 GiB cannot be built by any caller (inputs are far smaller); the
    // saturation keeps this total rather than panicking.
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl FactSet {
    fn key(&self, r: &Rec) -> &str {
        let start = r.start as usize;
        self.text.get(start..start + r.key_len as usize).unwrap_or("")
    }

    fn facts(&self, r: &Rec) -> EventFactsRef<'_> {
        let diagnostic = (r.diag_len != NO_DIAG).then(|| {
            let start = r.start as usize + r.key_len as usize;
            self.text.get(start..start + r.diag_len as usize).unwrap_or("")
        });
        EventFactsRef {
            kind: r.kind,
            occurred_at: if r.at == NO_TIME { None } else { Timestamp::from_millis(r.at) },
            bounce_class: r.class,
            diagnostic,
            automated: r.automated,
            bounce_category: r.category,
        }
    }

    /// A record for `key` and `facts`, their text appended to the buffer.
    fn push_text(&mut self, key: &str, facts: EventFactsRef<'_>) -> Rec {
        let start = len_u32(self.text.len());
        self.text.push_str(key);
        if let Some(d) = facts.diagnostic {
            self.text.push_str(d);
        }
        Rec {
            at: facts.occurred_at.map_or(NO_TIME, Timestamp::as_millis),
            start,
            key_len: len_u32(key.len()),
            diag_len: facts.diagnostic.map_or(NO_DIAG, |d| len_u32(d.len())),
            kind: facts.kind,
            class: facts.bounce_class,
            automated: facts.automated,
            category: facts.bounce_category,
        }
    }

    /// Insert, keeping the greater facts when the key is already present.
    fn insert(&mut self, key: &str, facts: EventFactsRef<'_>) {
        match self.recs.binary_search_by(|r| self.key(r).cmp(key)) {
            Ok(i) => {
                if facts > self.facts(&self.recs[i]) {
                    let rec = self.push_text(key, facts);
                    self.recs[i] = rec;
                    self.compact_if_sparse();
                }
            }
            Err(i) => {
                let rec = self.push_text(key, facts);
                self.recs.insert(i, rec);
            }
        }
    }

    /// Replaced facts leave their old text behind; rewrite the buffer when more than half of
    /// it is dead, so a key whose facts keep changing cannot grow the state without bound.
    fn compact_if_sparse(&mut self) {
        let live: usize = self
            .recs
            .iter()
            .map(|r| {
                r.key_len as usize + if r.diag_len == NO_DIAG { 0 } else { r.diag_len as usize }
            })
            .sum();
        if self.text.len() > 2 * live + 64 {
            let old = std::mem::take(self);
            self.text.reserve(live);
            for r in &old.recs {
                let rec = self.push_text(old.key(r), old.facts(r));
                self.recs.push(rec);
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&str, EventFactsRef<'_>)> + Clone {
        self.recs.iter().map(|r| (self.key(r), self.facts(r)))
    }

    /// Heap bytes held.
    fn heap_bytes(&self) -> usize {
        self.recs.capacity() * size_of::<Rec>() + self.text.capacity()
    }
}

/// Events appended in arrival order, each a fixed record with its key and diagnostic in one
/// text buffer: [`MessageState`]'s own storage without its ordering or deduplication, for a
/// caller that must hand events on exactly as they came (the SQL aggregate's plugin store,
/// which buffers rows for rules behind a boundary). 24 bytes per event plus its text.
///
/// # Example
/// ```
/// use mailstate_core::{EventFactsRef, EventLog, EventType, Timestamp};
/// let mut log = EventLog::default();
/// let open = EventFactsRef::new(EventType::Open, Timestamp::from_millis(5), None, None);
/// log.push("b", open).unwrap();
/// log.push("a", open).unwrap();
/// log.push("b", open).unwrap(); // kept: the log applies no rule
/// assert_eq!(log.len(), 3);
/// assert_eq!(log.get(1), Some(("a", open)));
/// ```
#[derive(Clone, Debug, Default)]
pub struct EventLog(FactSet);

impl EventLog {
    /// Append one event.
    ///
    /// # Errors
    /// `too_large` when the log's text would pass 4 GiB (its records address it with `u32`).
    pub fn push(&mut self, key: &str, facts: EventFactsRef<'_>) -> Result<(), Error> {
        let text = self.0.text.len() + key.len() + facts.diagnostic.map_or(0, str::len);
        if u32::try_from(text).is_err() {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "more than 4 GiB of text in one event log",
            ));
        }
        let rec = self.0.push_text(key, facts);
        self.0.recs.push(rec);
        Ok(())
    }

    /// How many events there are.
    pub fn len(&self) -> usize {
        self.0.recs.len()
    }

    /// Whether there is no event.
    pub fn is_empty(&self) -> bool {
        self.0.recs.is_empty()
    }

    /// Event `i`: its key and facts.
    pub fn get(&self, i: usize) -> Option<(&str, EventFactsRef<'_>)> {
        self.0.recs.get(i).map(|r| (self.0.key(r), self.0.facts(r)))
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }
}

impl Serialize for FactSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter().map(|(k, f)| (k, f.to_facts())))
    }
}

impl<'de> Deserialize<'de> for FactSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, EventFacts>::deserialize(d)?;
        let mut set = FactSet::default();
        for (k, f) in &map {
            set.insert(k, f.as_facts_ref());
        }
        Ok(set)
    }
}

impl MessageState {
    /// An empty state labelled with its group.
    pub fn new(message_id: Option<String>, recipient: Option<String>) -> MessageState {
        MessageState { message_id, recipient, events: FactSet::default() }
    }

    /// An unlabelled state with room for `events` distinct events and `text` bytes of their
    /// keys and diagnostics (what [`crate::GroupStates`] knows before it builds one).
    pub(crate) fn with_capacity(events: usize, text: usize) -> MessageState {
        let events =
            FactSet { recs: Vec::with_capacity(events), text: String::with_capacity(text) };
        MessageState { message_id: None, recipient: None, events }
    }

    /// The distinct events, sorted by key.
    pub fn events(&self) -> impl Iterator<Item = (&str, EventFactsRef<'_>)> {
        self.events.iter()
    }

    /// How many distinct events the state holds.
    pub fn len(&self) -> usize {
        self.events.recs.len()
    }

    /// Whether the state holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.recs.is_empty()
    }

    /// Heap bytes the state holds (its labels, records and text), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.message_id.as_ref().map_or(0, String::capacity)
            + self.recipient.as_ref().map_or(0, String::capacity)
            + self.events.heap_bytes()
    }

    /// Release spare capacity (a state that will only be read or merged from).
    pub fn shrink_to_fit(&mut self) {
        self.events.recs.shrink_to_fit();
        self.events.text.shrink_to_fit();
    }

    /// Add one event (idempotent: applying the same event key again changes nothing).
    pub fn apply<S: AsRef<str>>(&mut self, event: &Event<S>) {
        join_label(&mut self.message_id, event.message_id.as_ref().map(AsRef::as_ref));
        join_label(&mut self.recipient, event.recipient.as_ref().map(AsRef::as_ref));
        self.events.insert(event.event_key.as_ref(), EventFactsRef::from_event(event));
    }

    /// Add the facts of one event by key (what SQL and the plugin's batch form feed in).
    /// When the key is already present, the greater facts are kept, so order never matters.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "the signature callers already use; `insert_ref` is the borrowing form"
    )]
    pub fn insert(&mut self, key: &str, facts: EventFacts) {
        self.events.insert(key, facts.as_facts_ref());
    }

    /// [`MessageState::insert`] from borrowed facts.
    pub fn insert_ref(&mut self, key: &str, facts: EventFactsRef<'_>) {
        self.events.insert(key, facts);
    }

    /// [`MessageState::merge`] of a state this one may keep: when `self` is blank (no event,
    /// no label) it becomes `other` without copying its events.
    pub fn merge_owned(&mut self, other: MessageState) {
        if self.is_empty() && self.message_id.is_none() && self.recipient.is_none() {
            *self = other;
        } else {
            self.merge(&other);
        }
    }

    /// Join `other` into `self` (set union of events; labels take the greater value).
    pub fn merge(&mut self, other: &MessageState) {
        join_label(&mut self.message_id, other.message_id.as_deref());
        join_label(&mut self.recipient, other.recipient.as_deref());
        for (k, f) in other.events.iter() {
            self.events.insert(k, f);
        }
    }

    /// The DESIGN.md fields of this state.
    pub fn view(&self) -> StateView {
        view_of(self.message_id.clone(), self.recipient.clone(), self.events.iter())
    }

    /// The compact binary encoding used for partial aggregation (SQL state, plugin batches).
    ///
    /// Layout, version 3 (integers little-endian; a *varint* is unsigned LEB128, at most 10
    /// bytes; a *zigzag varint* maps a signed value `v` to `(v << 1) ^ (v >> 63)` first):
    ///
    /// ```text
    /// u8      3 (version)
    /// opt str message_id, recipient    (u8 0 absent | u8 1, u32 length, UTF-8)
    /// varint  n events, then per event in ascending key order:
    ///   varint  bytes shared with the previous key (0 for the first)
    ///   varint  length of the rest of the key, then those bytes (the key is UTF-8)
    ///   u8      type (its index in EventType::ALL)
    ///   u8      flags: bit 0 time present; bits 1-3 bounce class (0 none, 1..=4 hard, soft,
    ///           block, undetermined); bits 4-5 automated (0 none, 1 privacy_proxy,
    ///           2 scanner); bit 6 diagnostic present; bit 7 zero
    ///   zigzag varint  when the time is present: its milliseconds minus those of the
    ///           previous event that had a time (0 before the first)
    ///   u8      bounce category (0 none, 1..=10 in BounceCategory::ALL order), hard and soft
    ///           bounces only
    ///   varint  when the diagnostic is present: its length, then its UTF-8 bytes
    /// ```
    ///
    /// A message's keys usually share a long prefix and its times are minutes apart, so an
    /// event takes about ten bytes.
    ///
    /// Versions 1 and 2 still decode, so partial states written by an older build merge with
    /// new ones. Version 2: byte `2`, the labels as above, a `u32` event count, then per event
    /// the key as a `u32` length and bytes, one byte of type, an optional `i64` time (`0`, or
    /// `1` and the value), one byte of class, an optional diagnostic string, one byte of
    /// `automated`, one byte of category. Version 1 is version 2 without the last two bytes
    /// per event (those events have neither).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.events.text.len() + self.len() * 8);
        encode_into(
            &mut out,
            self.message_id.as_deref(),
            self.recipient.as_deref(),
            self.len(),
            self.events.iter(),
        );
        out
    }

    /// Decode [`MessageState::encode`]'s bytes.
    ///
    /// # Errors
    /// `invalid_value` when the bytes are truncated, of an unknown version (1, 2 and 3 are
    /// read), or out of range.
    pub fn decode(bytes: &[u8]) -> Result<MessageState, Error> {
        let mut events = FactSet::default();
        let (message_id, recipient) = read_encoded(bytes, |k, f| {
            events.insert(k, f);
            Ok(())
        })?;
        Ok(MessageState { message_id, recipient, events })
    }
}

/// [`MessageState::encode`] of a state with these labels and these `n` events, which come in
/// ascending key order, each key once.
pub(crate) fn encode_into<'a>(
    out: &mut Vec<u8>,
    message_id: Option<&str>,
    recipient: Option<&str>,
    n: usize,
    events: impl Iterator<Item = (&'a str, EventFactsRef<'a>)>,
) {
    out.push(ENCODING_VERSION);
    put_opt_str(out, message_id);
    put_opt_str(out, recipient);
    put_varint(out, n as u64);
    let mut prev_key = "";
    let mut prev_at = 0i64;
    for (k, f) in events {
        let shared = common_prefix(prev_key, k);
        put_varint(out, shared as u64);
        put_varint(out, (k.len() - shared) as u64);
        out.extend_from_slice(&k.as_bytes()[shared..]);
        prev_key = k;
        out.push(f.kind.index());
        let flags = u8::from(f.occurred_at.is_some())
            | BounceClass::to_byte(f.bounce_class) << 1
            | Automated::to_byte(f.automated) << 4
            | u8::from(f.diagnostic.is_some()) << 6;
        out.push(flags);
        if let Some(t) = f.occurred_at {
            put_varint(out, zigzag(t.as_millis().wrapping_sub(prev_at)));
            prev_at = t.as_millis();
        }
        if is_bounce(f.kind) {
            out.push(BounceCategory::to_byte(f.bounce_category));
        }
        if let Some(d) = f.diagnostic {
            put_varint(out, d.len() as u64);
            out.extend_from_slice(d.as_bytes());
        }
    }
}

/// An encoded state's ([`MessageState::encode`]) labels; each of its events goes to `sink`
/// as it is read (an event may come twice in version 1 and 2 states).
///
/// # Errors
/// As [`MessageState::decode`], and `sink`'s.
pub(crate) fn read_encoded(
    bytes: &[u8],
    mut sink: impl FnMut(&str, EventFactsRef<'_>) -> Result<(), Error>,
) -> Result<(Option<String>, Option<String>), Error> {
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
    if version >= 3 {
        decode_v3_events(&mut r, &mut sink)?;
    } else {
        decode_v1_v2_events(&mut r, version, &mut sink)?;
    }
    if r.i != bytes.len() {
        return Err(bad_state("trailing bytes"));
    }
    Ok((message_id, recipient))
}

fn decode_v3_events(
    r: &mut Reader<'_>,
    sink: &mut impl FnMut(&str, EventFactsRef<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let n = r.varint()?;
    let mut key: Vec<u8> = Vec::new();
    let mut prev_at = 0i64;
    for _ in 0..n {
        let shared = usize::try_from(r.varint()?).map_err(|_| bad_state("key prefix"))?;
        if shared > key.len() {
            return Err(bad_state("key prefix longer than the previous key"));
        }
        key.truncate(shared);
        let rest = usize::try_from(r.varint()?).map_err(|_| bad_state("key length"))?;
        key.extend_from_slice(r.take(rest)?);
        let key_str = std::str::from_utf8(&key).map_err(|_| bad_state("key is not utf-8"))?;
        let kind = event_type_of(r.u8()?)?;
        let flags = r.u8()?;
        if flags & 0x80 != 0 {
            return Err(bad_state("unknown flag"));
        }
        let occurred_at = if flags & 1 == 0 {
            None
        } else {
            let at = prev_at.wrapping_add(unzigzag(r.varint()?));
            prev_at = at;
            Some(Timestamp::from_millis(at).ok_or_else(|| bad_state("time out of range"))?)
        };
        let class = BounceClass::from_byte((flags >> 1) & 0b111)
            .map_err(|()| bad_state("bounce class out of range"))?;
        let automated = Automated::from_byte((flags >> 4) & 0b11)
            .map_err(|()| bad_state("automated out of range"))?;
        let category = if is_bounce(kind) {
            BounceCategory::from_byte(r.u8()?)
                .map_err(|()| bad_state("bounce category out of range"))?
        } else {
            None
        };
        let diagnostic = if flags & 0x40 == 0 {
            None
        } else {
            let len = usize::try_from(r.varint()?).map_err(|_| bad_state("diagnostic length"))?;
            Some(
                std::str::from_utf8(r.take(len)?)
                    .map_err(|_| bad_state("diagnostic is not utf-8"))?,
            )
        };
        let facts = EventFactsRef::new(kind, occurred_at, class, diagnostic)
            .with_automated(automated)
            .with_bounce_category(category);
        sink(key_str, facts)?;
    }
    Ok(())
}

fn decode_v1_v2_events(
    r: &mut Reader<'_>,
    version: u8,
    sink: &mut impl FnMut(&str, EventFactsRef<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let n = r.u32()?;
    for _ in 0..n {
        let key = r.str()?;
        let kind = event_type_of(r.u8()?)?;
        let occurred_at = match r.u8()? {
            0 => None,
            1 => Some(
                Timestamp::from_millis(r.i64()?).ok_or_else(|| bad_state("time out of range"))?,
            ),
            _ => return Err(bad_state("bad option tag")),
        };
        let bounce_class =
            BounceClass::from_byte(r.u8()?).map_err(|()| bad_state("bounce class out of range"))?;
        let diagnostic = r.opt_str()?;
        let mut facts = EventFacts::new(kind, occurred_at, bounce_class, diagnostic);
        if version >= 2 {
            let automated =
                Automated::from_byte(r.u8()?).map_err(|()| bad_state("automated out of range"))?;
            let category = BounceCategory::from_byte(r.u8()?)
                .map_err(|()| bad_state("bounce category out of range"))?;
            facts = facts.with_automated(automated).with_bounce_category(category);
        }
        sink(&key, facts.as_facts_ref())?;
    }
    Ok(())
}

fn event_type_of(b: u8) -> Result<EventType, Error> {
    EventType::ALL.get(usize::from(b)).copied().ok_or_else(|| bad_state("event type out of range"))
}

/// The view of a set of distinct events (each key once; any order).
pub(crate) fn view_of<'a>(
    message_id: Option<String>,
    recipient: Option<String>,
    events: impl Iterator<Item = (&'a str, EventFactsRef<'a>)> + Clone,
) -> StateView {
    let mut v = StateView {
        message_id,
        recipient,
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
        event_count: 0,
        late_event_count: 0,
        bounce_class: None,
        bounce_category: None,
        diagnostic: None,
    };
    // The earliest-by-(occurred_at, key) event of each bounce type.
    let mut hard: Option<(Option<Timestamp>, &str, EventFactsRef<'_>)> = None;
    let mut soft: Option<(Option<Timestamp>, &str, EventFactsRef<'_>)> = None;
    // The earliest time of each type, for terminal_at.
    let mut earliest: [Option<Timestamp>; EventType::ALL.len()] = [None; EventType::ALL.len()];
    for (key, f) in events.clone() {
        v.event_count += 1;
        // A machine open or click (a privacy proxy's prefetch, a scanner) is counted but
        // never makes a message `open` or `click`.
        if f.kind.rank() > v.status.rank() && !f.is_automated() {
            v.status = f.kind;
        }
        let t = f.occurred_at;
        min_time(&mut earliest[usize::from(f.kind.index())], t);
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
                // Earliest by (occurred_at, key), whatever order the events come in.
                if slot.is_none_or(|(st, sk, _)| (t, key) < (st, sk)) {
                    *slot = Some((t, key, f));
                }
            }
            EventType::Complaint => min_time(&mut v.complained_at, t),
            EventType::Unsubscribe => min_time(&mut v.unsubscribed_at, t),
            _ => {}
        }
    }
    v.terminal = v.status.is_terminal();
    if v.terminal {
        v.terminal_at = earliest[usize::from(v.status.index())];
        if let Some(at) = v.terminal_at {
            v.late_event_count =
                events.filter(|(_, f)| f.occurred_at.is_some_and(|t| t > at)).count() as u64;
        }
    }
    if let Some((_, _, f)) = hard.or(soft) {
        v.bounce_class = f.bounce_class;
        v.bounce_category = f.bounce_category;
        v.diagnostic = f.diagnostic.map(str::to_owned);
    }
    v
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)).cast_unsigned()
}

fn unzigzag(u: u64) -> i64 {
    (u >> 1).cast_signed() ^ -((u & 1).cast_signed())
}

#[expect(clippy::cast_possible_truncation, reason = "each byte is masked to 7 bits first")]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(((v & 0x7f) as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
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

impl StateView {
    /// The view's ten times, in the order the batch views layout and the SQL state's struct
    /// list them: terminal, first event, last event, accepted, delivered, first open, first
    /// click, bounced, complained, unsubscribed.
    #[must_use]
    pub fn times(&self) -> [Option<Timestamp>; 10] {
        [
            self.terminal_at,
            self.first_event_at,
            self.last_event_at,
            self.accepted_at,
            self.delivered_at,
            self.first_open_at,
            self.first_click_at,
            self.bounced_at,
            self.complained_at,
            self.unsubscribed_at,
        ]
    }
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
const ENCODING_VERSION: u8 = 3;

pub(crate) fn join_label(mine: &mut Option<String>, theirs: Option<&str>) {
    if let Some(t) = theirs
        && mine.as_deref().is_none_or(|m| t > m)
    {
        *mine = Some(t.to_owned());
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

    fn varint(&mut self) -> Result<u64, Error> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            if shift == 63 && b > 1 {
                return Err(bad_state("varint out of range"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad_state("varint longer than 10 bytes"))
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
        assert_eq!(s.encode()[0], 3);
    }

    #[test]
    fn decode_reads_version_2_states_written_before_the_compact_encoding() {
        // What `encode` wrote at version 2: a hard bounce with its category and an automated open.
        let mut v2 = vec![2, 1, 1, 0, 0, 0, b'm', 0, 2, 0, 0, 0];
        v2.extend_from_slice(&[1, 0, 0, 0, b'a', 1, 1]);
        v2.extend_from_slice(&5i64.to_le_bytes());
        v2.extend_from_slice(&[1, 1, 3, 0, 0, 0, b'5', b'5', b'0', 0, 1]);
        v2.extend_from_slice(&[1, 0, 0, 0, b'b', EventType::Open.index(), 1]);
        v2.extend_from_slice(&9i64.to_le_bytes());
        v2.extend_from_slice(&[0, 0, 1, 0]);
        let s = MessageState::decode(&v2).unwrap();
        let v = s.view();
        assert_eq!(v.status, EventType::HardBounce);
        assert_eq!(v.bounce_category, Some(BounceCategory::ALL[0]));
        assert_eq!(v.diagnostic.as_deref(), Some("550"));
        assert_eq!((v.open_count, v.automated_open_count), (1, 1));
        assert_eq!(MessageState::decode(&s.encode()).unwrap(), s);
    }

    #[test]
    fn compact_encoding_shares_key_prefixes_and_time_deltas() {
        let mut s = MessageState::default();
        for i in 0..5i64 {
            let f = EventFacts::new(
                EventType::Open,
                Timestamp::from_millis(1_762_000_000_000 + i * 60_000),
                None,
                None,
            );
            s.insert(&format!("sendgrid:0123abcd{i:02}"), f);
        }
        let bytes = s.encode();
        assert_eq!(MessageState::decode(&bytes).unwrap(), s);
        // 20-byte keys and 8-byte times: the first event pays for them, the others do not.
        assert!(bytes.len() < 3 + 1 + 32 + 4 * 10, "{} bytes", bytes.len());
    }

    #[test]
    fn replaced_facts_do_not_grow_the_text_without_bound() {
        let mut s = MessageState::default();
        for i in 0..1000u32 {
            let diag = format!("{i:06} still bouncing");
            let f = EventFacts::new(
                EventType::SoftBounce,
                Timestamp::from_millis(i64::from(i)),
                Some(BounceClass::Soft),
                Some(diag),
            );
            s.insert("k", f);
        }
        assert_eq!(s.len(), 1);
        assert_eq!(s.view().diagnostic.as_deref(), Some("000999 still bouncing"));
        assert!(s.events.text.len() < 200, "{} bytes of text", s.events.text.len());
    }

    #[test]
    fn equal_states_compare_equal_whatever_their_text_layout() {
        let bounce = |d: &str| {
            EventFacts::new(
                EventType::HardBounce,
                Timestamp::from_millis(1),
                Some(BounceClass::Hard),
                Some(d.to_owned()),
            )
        };
        let mut a = MessageState::default();
        a.insert("k", bounce("a"));
        a.insert("k", bounce("b"));
        let mut b = MessageState::default();
        b.insert("k", bounce("b"));
        assert_ne!(a.events.text, b.events.text);
        assert_eq!(a, b);
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
