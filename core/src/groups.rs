//! [`GroupStates`]: the distinct events of many message states in flat storage.
//!
//! A SQL GROUP BY over an event table has one group per message: millions of small states.
//! Kept as one [`MessageState`] each, every group would cost its own allocations; here every
//! group's distinct events are fixed records in one vector (each group a chain through it,
//! newest first) with their keys and diagnostics in one text buffer. A group costs one `u32`,
//! an event 20 bytes plus its key and a byte of the key's length, and a group's
//! `MessageState` is built only when asked for, with the same rules (the greater facts of one
//! key win), so the answer is the one of folding the same events into a `MessageState`.

use crate::error::{Error, ErrorKind};
use crate::reduce::{EventFactsRef, MessageState, StateView, encode_into, read_encoded, view_of};
use crate::{Automated, BounceCategory, BounceClass, EventType, Timestamp};

/// The bits of [`Rec::link`] that hold the next record's index (so at most 2^30 - 1 records).
const INDEX: u32 = (1 << 30) - 1;
/// No record: the end of a chain, or a group without events.
const NONE: u32 = INDEX;
/// A time that is not there (below every valid timestamp).
const NO_TIME: i64 = i64::MIN;
/// The bit of [`Rec::link`] that says a diagnostic follows the key in the text: its length
/// in [`LEN_BYTES`] bytes of seven bits each (ASCII, so the text stays UTF-8), then its bytes.
/// Most events have none, so the record does not carry a length for it.
const HAS_DIAG: u32 = 1 << 31;
/// The bit of [`Rec::link`] that marks, while [`GroupStates::drain_views`] cuts the text, a
/// record whose key must stay.
const KEEP: u32 = 1 << 30;
/// Bytes of a long length in the text: 5 x 7 bits hold any `u32`.
const LEN_BYTES: usize = 5;
/// A key's length in the text is one byte below this (keys are short), or this byte and then
/// [`LEN_BYTES`] bytes of it.
const LONG_KEY: u8 = 0x7f;
/// A group's chain is searched for a duplicate key only this deep; a longer chain (a group
/// with very many events) takes the record as it is, and the duplicate is dropped when the
/// group's state is built (a `MessageState` keeps each key once). Keeps an insert O(1).
const DEDUPE_DEPTH: u32 = 64;

/// One event of one group (20 bytes): its facts, the group's previous record, and where its
/// key is in the text — its length (see [`LONG_KEY`]), its bytes, then its diagnostic (see
/// [`HAS_DIAG`]).
#[derive(Clone, Copy, Debug)]
struct Rec {
    /// The time in milliseconds ([`NO_TIME`] for none), as two halves: a record of 4-byte
    /// fields packs into 20 bytes where an `i64` would pad it to 24.
    at: [u32; 2],
    /// The group's previous record ([`INDEX`] bits), [`HAS_DIAG`] and [`KEEP`].
    link: u32,
    start: u32,
    kind: EventType,
    class: Option<BounceClass>,
    automated: Option<Automated>,
    category: Option<BounceCategory>,
}

impl Rec {
    fn next(&self) -> u32 {
        self.link & INDEX
    }

    fn set_next(&mut self, next: u32) {
        self.link = (self.link & !INDEX) | next;
    }

    fn at(&self) -> i64 {
        let (lo, hi) = (self.at[0].to_le_bytes(), self.at[1].to_le_bytes());
        i64::from_le_bytes([lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]])
    }

    fn halves(at: i64) -> [u32; 2] {
        let b = at.to_le_bytes();
        [u32::from_le_bytes([b[0], b[1], b[2], b[3]]), u32::from_le_bytes([b[4], b[5], b[6], b[7]])]
    }
}

/// The distinct events of groups `0..len()`, in flat storage.
///
/// # Example
/// ```
/// use mailstate_core::{EventFactsRef, EventType, GroupStates, Timestamp};
/// let mut groups = GroupStates::default();
/// groups.resize(2);
/// let delivered = EventFactsRef::new(EventType::Delivered, Timestamp::from_millis(1), None, None);
/// groups.insert(1, "ses:1", delivered).unwrap();
/// groups.insert(1, "ses:1", delivered).unwrap(); // a retry
/// assert_eq!(groups.state(1).len(), 1);
/// assert!(groups.state(0).is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct GroupStates {
    /// Per group: its newest record, or [`NONE`].
    heads: Vec<u32>,
    recs: Vec<Rec>,
    /// Keys and diagnostics, diagnostics behind their lengths.
    text: String,
    /// Groups whose chain grew past [`DEDUPE_DEPTH`] (each once): their views need every
    /// key (a key may be there twice).
    deep: Vec<u32>,
}

fn too_large(what: &str) -> Error {
    Error::new(ErrorKind::TooLarge, format!("more than 2^32 {what} in one group store"))
}

fn len_u32(n: usize, what: &str) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| too_large(what))
}

impl GroupStates {
    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.heads.len()
    }

    /// Whether there is no group.
    pub fn is_empty(&self) -> bool {
        self.heads.is_empty()
    }

    /// Make groups `0..n` exist (new ones empty); never removes groups.
    pub fn resize(&mut self, n: usize) {
        if n > self.heads.len() {
            self.heads.resize(n, NONE);
        }
    }

    /// Add the event `key` with `facts` to group `g` (created if needed): when the group
    /// already has `key`, the greater facts are kept, as [`MessageState::insert`] does.
    ///
    /// # Errors
    /// `too_large` past 2^30 - 1 records or 2^32 bytes of text.
    pub fn insert(&mut self, g: usize, key: &str, facts: EventFactsRef<'_>) -> Result<(), Error> {
        self.resize(g + 1);
        let mut i = self.heads[g];
        let mut depth = 0;
        while i != NONE && depth < DEDUPE_DEPTH {
            let r = self.recs[i as usize];
            if self.key(&r) == key {
                if facts > self.facts(&r) {
                    // Rare (one key, two different facts): the old text stays behind.
                    let mut new = self.record(key, facts)?;
                    new.set_next(r.next());
                    self.recs[i as usize] = new;
                }
                return Ok(());
            }
            i = r.next();
            depth += 1;
        }
        if depth == DEDUPE_DEPTH && i == NONE {
            // The chain grows past the window now, and only now.
            self.deep.push(len_u32(g, "groups")?);
        }
        let mut rec = self.record(key, facts)?;
        rec.set_next(self.heads[g]);
        let index = len_u32(self.recs.len(), "events")?;
        if index >= INDEX {
            return Err(too_large("events"));
        }
        self.heads[g] = index;
        self.recs.push(rec);
        Ok(())
    }

    /// Add every event of `state` to group `g`.
    ///
    /// # Errors
    /// As [`GroupStates::insert`].
    pub fn merge_state(&mut self, g: usize, state: &MessageState) -> Result<(), Error> {
        for (k, f) in state.events() {
            self.insert(g, k, f)?;
        }
        Ok(())
    }

    /// Add every event of an encoded state ([`MessageState::encode`]; its labels are not
    /// read) to group `g`, as each is decoded: `merge_state` of the decoded state, without
    /// building it.
    ///
    /// # Errors
    /// As [`MessageState::decode`] and [`GroupStates::insert`].
    pub fn merge_encoded(&mut self, g: usize, encoded: &[u8]) -> Result<(), Error> {
        read_encoded(encoded, |k, f| self.insert(g, k, f)).map(drop)
    }

    /// Group `g`'s state encoded ([`MessageState::encode`], unlabelled) after `out`'s bytes:
    /// `self.state(g).encode()`, written from the records (sorted by key) without building
    /// the state; a chain deeper than the dedupe window builds it.
    pub fn encode_into(&self, g: usize, out: &mut Vec<u8>) {
        let Some(chain) = self.shallow_chain(g) else {
            out.extend_from_slice(&self.state(g).encode());
            return;
        };
        let mut events: Vec<_> = chain.collect();
        events.sort_unstable_by(|a, b| a.0.cmp(b.0));
        encode_into(out, None, None, events.len(), events.into_iter());
    }

    /// Group `g`'s state (unlabelled; empty for a group without events or out of range).
    pub fn state(&self, g: usize) -> MessageState {
        // Sized first: a state grown event by event reallocated its two buffers several times
        // per group, from two threads at once in SQL (glibc's arena locks showed in profiles).
        let (mut events, mut bytes) = (0, 0);
        for (k, f) in self.chain(g) {
            events += 1;
            bytes += k.len() + f.diagnostic.map_or(0, str::len);
        }
        let mut s = MessageState::with_capacity(events, bytes);
        for (k, f) in self.chain(g) {
            s.insert_ref(k, f);
        }
        s
    }

    /// Group `g`'s view (unlabelled; that of an empty state for a group without events or
    /// out of range): `self.state(g).view()`, read from the records without building the
    /// state. A chain no longer than the dedupe window (64 records) holds each key once
    /// (every insert searched all of it); a longer one may hold a key twice, and builds the
    /// state.
    pub fn view(&self, g: usize) -> StateView {
        match self.shallow_chain(g) {
            Some(chain) => view_of(None, None, chain),
            None => self.state(g).view(),
        }
    }

    /// Group `g`'s records, newest first (none for a group out of range).
    fn chain(&self, g: usize) -> Chain<'_> {
        Chain { groups: self, at: self.heads.get(g).copied().unwrap_or(NONE) }
    }

    /// [`GroupStates::chain`] when it is no longer than the dedupe window, so that it holds
    /// each key once (every insert searched all of it); `None` for a longer one, which may
    /// hold a key twice.
    fn shallow_chain(&self, g: usize) -> Option<Chain<'_>> {
        let chain = self.chain(g);
        chain.clone().nth(DEDUPE_DEPTH as usize).is_none().then_some(chain)
    }

    /// Hand the views ([`GroupStates::view`]) of groups `0..n` to `sink` in group order and
    /// remove those groups; the others move down to `0..`.
    ///
    /// # Errors
    /// As [`GroupStates::insert`] (the kept groups are stored afresh).
    pub fn take_first_views(
        &mut self,
        n: usize,
        mut sink: impl FnMut(StateView),
    ) -> Result<(), Error> {
        self.take_first_with(n, |groups, g| sink(groups.view(g)))
    }

    /// Hand every group's view to `sink` in group order and leave the store empty (the end
    /// of a GROUP BY, when the views are built while the store still holds every event).
    /// The text is cut to what views still read before the first view is made: bounces'
    /// keys (the tie-break) and diagnostics, and everything of a group deeper than the
    /// dedupe window; the rest of it (most of the store's bytes after its records) is given
    /// back while the output grows.
    pub fn drain_views(&mut self, sink: impl FnMut(StateView)) {
        std::mem::take(self).into_views().next_views(usize::MAX, sink);
    }

    /// Every group's view in group order, handed out a chunk at a time by the returned
    /// [`ViewDrain`]: [`GroupStates::drain_views`] for an output made batch by batch. The
    /// text is cut as `drain_views` cuts it, before the first view.
    pub fn into_views(mut self) -> ViewDrain {
        self.keep_text_views_read();
        ViewDrain { groups: self, next: 0 }
    }

    /// A new text with only what [`GroupStates::view`] reads (see
    /// [`GroupStates::drain_views`]); other records keep no key and no diagnostic.
    pub(crate) fn keep_text_views_read(&mut self) {
        self.deep.sort_unstable();
        self.deep.dedup();
        for &g in &self.deep {
            let mut i = self.heads.get(g as usize).copied().unwrap_or(NONE);
            while let Some(r) = self.recs.get_mut(i as usize) {
                r.link |= KEEP;
                i = r.next();
            }
        }
        // Records that keep nothing point at an empty key at the start.
        let mut text = String::from("\0");
        for r in &mut self.recs {
            let bounce = matches!(r.kind, EventType::HardBounce | EventType::SoftBounce);
            if r.link & KEEP == 0 && !bounce {
                r.start = 0;
                r.link &= !HAS_DIAG;
                continue;
            }
            r.link &= !KEEP;
            let from = r.start as usize;
            let (at, len) = key_span(&self.text, from);
            let mut to = at + len;
            if r.link & HAS_DIAG != 0 {
                to += LEN_BYTES + long_len(&self.text, to);
            }
            r.start = u32::try_from(text.len()).unwrap_or(u32::MAX);
            text.push_str(self.text.get(from..to).unwrap_or_default());
        }
        self.text = text;
    }

    /// [`GroupStates::take_first_views`] handing each group's encoded state
    /// ([`GroupStates::encode_into`]), written in one reused buffer.
    ///
    /// # Errors
    /// As [`GroupStates::take_first_views`].
    pub fn take_first_encoded(
        &mut self,
        n: usize,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<(), Error> {
        let mut buf = Vec::new();
        self.take_first_with(n, |groups, g| {
            buf.clear();
            groups.encode_into(g, &mut buf);
            sink(&buf);
        })
    }

    /// Call `each` with groups `0..n` in order, then remove them (the others move down).
    fn take_first_with(
        &mut self,
        n: usize,
        mut each: impl FnMut(&GroupStates, usize),
    ) -> Result<(), Error> {
        let n = n.min(self.heads.len());
        for g in 0..n {
            each(self, g);
        }
        let old = std::mem::take(self);
        if n == old.heads.len() {
            return Ok(());
        }
        self.heads = vec![NONE; old.heads.len() - n];
        for g in n..old.heads.len() {
            // Oldest first, so a chain keeps its order.
            let chain: Vec<_> = old.chain(g).collect();
            for (k, f) in chain.into_iter().rev() {
                self.insert(g - n, k, f)?;
            }
        }
        Ok(())
    }

    /// Heap bytes held: everything this store holds is in its four buffers.
    pub fn heap_bytes(&self) -> usize {
        (self.heads.capacity() + self.deep.capacity()) * size_of::<u32>()
            + self.recs.capacity() * size_of::<Rec>()
            + self.text.capacity()
    }

    fn key(&self, r: &Rec) -> &str {
        let (at, len) = key_span(&self.text, r.start as usize);
        self.text.get(at..at + len).unwrap_or_default()
    }

    fn facts(&self, r: &Rec) -> EventFactsRef<'_> {
        let diagnostic = (r.link & HAS_DIAG != 0).then(|| {
            let (key, key_len) = key_span(&self.text, r.start as usize);
            let at = key + key_len;
            let len = long_len(&self.text, at);
            self.text.get(at + LEN_BYTES..at + LEN_BYTES + len).unwrap_or_default()
        });
        let at = r.at();
        EventFactsRef {
            kind: r.kind,
            occurred_at: if at == NO_TIME { None } else { Timestamp::from_millis(at) },
            bounce_class: r.class,
            diagnostic,
            automated: r.automated,
            bounce_category: r.category,
        }
    }

    fn record(&mut self, key: &str, facts: EventFactsRef<'_>) -> Result<Rec, Error> {
        let start = len_u32(self.text.len(), "bytes of text")?;
        let diag = facts.diagnostic.map_or(0, |d| LEN_BYTES + d.len());
        len_u32(self.text.len() + 1 + LEN_BYTES + key.len() + diag, "bytes of text")?;
        let key_len = len_u32(key.len(), "bytes of text")?;
        match u8::try_from(key_len) {
            Ok(short) if short < LONG_KEY => self.text.push(char::from(short)),
            _ => {
                self.text.push(char::from(LONG_KEY));
                push_long_len(&mut self.text, key_len);
            }
        }
        self.text.push_str(key);
        let mut link = NONE;
        if let Some(d) = facts.diagnostic {
            link |= HAS_DIAG;
            push_long_len(&mut self.text, len_u32(d.len(), "bytes of text")?);
            self.text.push_str(d);
        }
        Ok(Rec {
            at: Rec::halves(facts.occurred_at.map_or(NO_TIME, Timestamp::as_millis)),
            link,
            start,
            kind: facts.kind,
            class: facts.bounce_class,
            automated: facts.automated,
            category: facts.bounce_category,
        })
    }
}

/// Write `n` in [`LEN_BYTES`] bytes of seven bits each, low first: each below 0x80, one ASCII
/// character, so the text stays UTF-8.
fn push_long_len(text: &mut String, mut n: u32) {
    for _ in 0..LEN_BYTES {
        text.push(char::from(u8::try_from(n & 0x7f).unwrap_or(0)));
        n >>= 7;
    }
}

/// Where the key of the record whose text starts at `start` is, and its length.
fn key_span(text: &str, start: usize) -> (usize, usize) {
    match text.as_bytes().get(start) {
        Some(&LONG_KEY) => (start + 1 + LEN_BYTES, long_len(text, start + 1)),
        Some(&short) => (start + 1, usize::from(short)),
        None => (start, 0),
    }
}

/// The views of a [`GroupStates`]' groups in group order, a chunk at a time
/// ([`GroupStates::into_views`]); the store's memory goes when the last view is out.
///
/// # Example
/// ```
/// use mailstate_core::{EventFactsRef, EventType, GroupStates, Timestamp};
/// let mut groups = GroupStates::default();
/// let open = EventFactsRef::new(EventType::Open, Timestamp::from_millis(1), None, None);
/// for g in 0..5 {
///     groups.insert(g, &format!("ses:{g}"), open).unwrap();
/// }
/// let mut drain = groups.into_views();
/// let mut counts = Vec::new();
/// while drain.next_views(2, |v| counts.push(v.open_count)) > 0 {}
/// assert_eq!(counts, [1, 1, 1, 1, 1]);
/// assert_eq!(drain.remaining(), 0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ViewDrain {
    groups: GroupStates,
    next: usize,
}

impl ViewDrain {
    /// Hand the views of the next `n` groups (fewer when fewer are left) to `sink`, in group
    /// order; how many were handed.
    pub fn next_views(&mut self, n: usize, mut sink: impl FnMut(StateView)) -> usize {
        let end = self.next.saturating_add(n).min(self.groups.len());
        let from = self.next;
        for g in from..end {
            sink(self.groups.view(g));
        }
        self.next = end;
        if end == self.groups.len() {
            self.groups = GroupStates::default();
            self.next = 0;
        }
        end - from
    }

    /// How many groups' views are still to come.
    pub fn remaining(&self) -> usize {
        self.groups.len() - self.next
    }

    /// Heap bytes held (the store's, until the last view is out).
    pub fn heap_bytes(&self) -> usize {
        self.groups.heap_bytes()
    }
}

/// The length whose [`LEN_BYTES`] bytes start at `at` in `text` ([`push_long_len`]).
fn long_len(text: &str, at: usize) -> usize {
    let len = text.as_bytes().get(at..at + LEN_BYTES).unwrap_or_default();
    len.iter().rev().fold(0, |n, &b| n << 7 | usize::from(b))
}

/// A group's records, newest first, as (key, facts).
#[derive(Clone)]
struct Chain<'a> {
    groups: &'a GroupStates,
    at: u32,
}

impl<'a> Iterator for Chain<'a> {
    type Item = (&'a str, EventFactsRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let r = self.groups.recs.get(self.at as usize)?;
        self.at = r.next();
        Some((self.groups.key(r), self.groups.facts(r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kind: EventType, t: i64) -> EventFactsRef<'static> {
        EventFactsRef::new(kind, Timestamp::from_millis(t), None, None)
    }

    #[test]
    fn groups_hold_what_a_message_state_would() {
        let mut groups = GroupStates::default();
        let mut want = [MessageState::default(), MessageState::default(), MessageState::default()];
        let rows = [
            (2, "b", facts(EventType::Open, 5)),
            (0, "a", facts(EventType::Delivered, 1)),
            (2, "a", facts(EventType::Click, 6)),
            (2, "b", facts(EventType::Open, 5)),
            (2, "b", facts(EventType::Open, 9)), // same key, greater facts
            (0, "a", facts(EventType::Delivered, 0)), // same key, lesser facts
        ];
        for (g, k, f) in rows {
            groups.insert(g, k, f).unwrap();
            want[g].insert_ref(k, f);
        }
        for (g, w) in want.iter().enumerate() {
            assert_eq!(&groups.state(g), w, "group {g}");
        }
        let mut taken = Vec::new();
        groups.take_first_encoded(1, |s| taken.push(MessageState::decode(s).unwrap())).unwrap();
        assert_eq!(taken, want[..1]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups.state(1), want[2]);
    }

    #[test]
    fn a_record_is_20_bytes_and_keeps_an_empty_diagnostic_apart_from_none() {
        assert_eq!(size_of::<Rec>(), 20);
        let mut groups = GroupStates::default();
        let with = |d| EventFactsRef::new(EventType::SoftBounce, None, None, d);
        groups.insert(0, "a", with(Some(""))).unwrap();
        groups.insert(0, "b", with(None)).unwrap();
        groups.insert(0, "c", with(Some("452 mailbox full é"))).unwrap();
        let long = "é".repeat(70_000); // a length needing three of the seven-bit bytes
        groups.insert(0, "d", with(Some(&long))).unwrap();
        let mut want = MessageState::default();
        let all =
            [("a", Some("")), ("b", None), ("c", Some("452 mailbox full é")), ("d", Some(&long))];
        for (k, d) in all {
            want.insert_ref(k, with(d));
        }
        assert_eq!(groups.state(0), want);
    }

    #[test]
    fn keys_of_every_length_and_times_of_every_sign_come_back_as_they_went_in() {
        // Lengths either side of the one-byte form (126, 127), a long key, an empty one;
        // times before 1970, none, and far out.
        let mut groups = GroupStates::default();
        let mut want = MessageState::default();
        let times = [Some(-1), None, Some(0), Some(i64::MAX / 4), Some(-86_400_000 * 365)];
        for (i, n) in [0, 1, 126, 127, 128, 300, 70_000].into_iter().enumerate() {
            let key = "k".repeat(n);
            let at = times[i % times.len()].and_then(Timestamp::from_millis);
            let diagnostic = (i % 2 == 0).then_some("550 gone");
            let f = EventFactsRef::new(EventType::SoftBounce, at, None, diagnostic);
            groups.insert(0, &key, f).unwrap();
            groups.insert(0, &key, f).unwrap(); // a retry
            want.insert_ref(&key, f);
        }
        assert_eq!(groups.state(0), want);
        assert_eq!(groups.view(0), want.view());
        let mut views = Vec::new();
        groups.drain_views(|v| views.push(v));
        assert_eq!(views, [want.view()]);
    }

    #[test]
    fn a_group_deeper_than_the_dedupe_window_still_counts_each_key_once() {
        let mut groups = GroupStates::default();
        for round in 0..3 {
            for i in 0..200 {
                groups.insert(0, &format!("k{i:03}"), facts(EventType::Open, round)).unwrap();
            }
        }
        let s = groups.state(0);
        assert_eq!(s.len(), 200);
        assert_eq!(s.view().open_count, 200);
        assert_eq!(s.view().last_event_at, Timestamp::from_millis(2));
        // Its records hold keys twice: the view must still count each once.
        assert_eq!(groups.view(0), s.view());
    }

    #[test]
    fn a_view_read_from_the_records_is_the_view_of_the_built_state() {
        let mut groups = GroupStates::default();
        let bounce = |t, d| {
            EventFactsRef::new(EventType::HardBounce, Timestamp::from_millis(t), None, Some(d))
        };
        let rows = [
            (0, "b", bounce(7, "550 b")),
            (0, "a", bounce(7, "550 a")), // same time: the smaller key is the bounce shown
            (0, "c", facts(EventType::Open, 9)),
            (0, "b", bounce(7, "550 b")),
            (2, "x", facts(EventType::Delivered, 1)),
        ];
        for (g, k, f) in rows {
            groups.insert(g, k, f).unwrap();
        }
        for g in 0..4 {
            assert_eq!(groups.view(g), groups.state(g).view(), "group {g}");
        }
        assert_eq!(groups.view(0).diagnostic.as_deref(), Some("550 a"));
        assert_eq!(groups.view(0).late_event_count, 1);
        let mut views = Vec::new();
        groups.take_first_views(2, |v| views.push(v)).unwrap();
        assert_eq!(views.iter().map(|v| v.event_count).collect::<Vec<_>>(), [3, 0]);
        assert_eq!(groups.view(0).event_count, 1);
    }

    #[test]
    fn draining_gives_every_groups_view_in_order_and_empties_the_store() {
        let mut groups = GroupStates::default();
        groups.resize(5); // group 3 stays empty
        let bounce = |kind, t, d| {
            EventFactsRef::new(kind, Timestamp::from_millis(t), Some(BounceClass::Hard), Some(d))
        };
        let rows = [
            (0, "m:2", bounce(EventType::HardBounce, 7, "550 later key")),
            (1, "n:1", facts(EventType::Delivered, 3)),
            (0, "m:1", bounce(EventType::HardBounce, 7, "550 first key")),
            (4, "p:1", bounce(EventType::SoftBounce, 2, "452 full")),
            (0, "m:3", facts(EventType::Open, 9)),
            (1, "n:1", facts(EventType::Delivered, 3)), // a retry
            (2, "o:1", EventFactsRef::new(EventType::Deferred, None, None, Some("421 later"))),
        ];
        for (g, k, f) in rows {
            groups.insert(g, k, f).unwrap();
        }
        for i in 0..150 {
            // Deeper than the dedupe window, keys repeating.
            groups.insert(4, &format!("q:{}", i % 90), facts(EventType::Click, i)).unwrap();
        }
        groups.resize(7);
        for (g, n) in [(5, 64), (6, 65)] {
            // Either side of the window: one group just deep enough to build its state.
            for i in 0..n {
                groups.insert(g, &format!("r:{i}"), facts(EventType::Open, i)).unwrap();
            }
        }
        let want: Vec<StateView> = (0..7).map(|g| groups.state(g).view()).collect();
        let mut got = Vec::new();
        groups.drain_views(|v| got.push(v));
        assert_eq!(got, want);
        assert_eq!(got[0].diagnostic.as_deref(), Some("550 first key"));
        assert_eq!((got[4].click_count, got[4].event_count), (90, 91));
        assert_eq!((got[5].open_count, got[6].open_count), (64, 65));
        assert!(groups.is_empty());
        assert_eq!(groups.heap_bytes(), 0);
    }

    #[test]
    fn views_drained_in_chunks_are_the_views_drained_at_once() {
        let mut groups = GroupStates::default();
        let bounce = |t, d| {
            EventFactsRef::new(EventType::HardBounce, Timestamp::from_millis(t), None, Some(d))
        };
        for g in 0..23_usize {
            let t = i64::try_from(g).unwrap();
            groups.insert(g, &format!("b:{g}"), bounce(t, "550 gone")).unwrap();
            groups.insert(g, &format!("a:{g}"), facts(EventType::Delivered, t)).unwrap();
            groups.insert(g, &format!("a:{g}"), facts(EventType::Delivered, t)).unwrap();
        }
        for i in 0..80 {
            groups.insert(7, &format!("deep:{}", i % 70), facts(EventType::Open, i)).unwrap();
        }
        groups.resize(25); // two groups without events at the end
        let mut all = Vec::new();
        groups.clone().drain_views(|v| all.push(v));
        assert_eq!(all.len(), 25);
        let mut drain = groups.into_views();
        let mut chunked = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let n = drain.next_views(4, |v| chunked.push(v));
            if n == 0 {
                break;
            }
            sizes.push(n);
        }
        assert_eq!(chunked, all);
        assert_eq!(sizes, [4, 4, 4, 4, 4, 4, 1]);
        assert_eq!((drain.remaining(), drain.heap_bytes()), (0, 0));
        assert_eq!(all[7].open_count, 70);
        assert_eq!(all[3].diagnostic.as_deref(), Some("550 gone"));
    }

    #[test]
    fn an_encoding_written_from_the_records_is_the_built_states_and_merges_back() {
        let mut groups = GroupStates::default();
        groups.resize(3); // group 2 stays empty
        let bounce = EventFactsRef::new(
            EventType::SoftBounce,
            Timestamp::from_millis(4),
            Some(BounceClass::Soft),
            Some("452 full"),
        );
        for (k, f) in [("ses:b", facts(EventType::Open, 9)), ("ses:a", bounce), ("x", bounce)] {
            groups.insert(0, k, f).unwrap();
        }
        for i in 0..100 {
            // Deeper than the dedupe window, every key twice.
            groups.insert(1, &format!("k{}", i % 70), facts(EventType::Click, i)).unwrap();
        }
        let mut copy = GroupStates::default();
        for g in 0..3 {
            let mut out = vec![0xAA];
            groups.encode_into(g, &mut out);
            assert_eq!(out[1..], groups.state(g).encode(), "group {g}");
            copy.merge_encoded(g, &out[1..]).unwrap();
            copy.merge_encoded(g, &out[1..]).unwrap(); // a retry changes nothing
            assert_eq!(copy.state(g), groups.state(g), "group {g}");
        }
        let mut encoded = Vec::new();
        groups.take_first_encoded(3, |e| encoded.push(e.to_vec())).unwrap();
        assert_eq!(encoded.len(), 3);
        assert_eq!(MessageState::decode(&encoded[1]).unwrap().len(), 70);
        assert!(copy.merge_encoded(0, &encoded[0][..3]).is_err());
    }
}
