//! [`MessageGroups`]: the message states of an event stream, grouped by (message id,
//! recipient), in flat storage.
//!
//! What `mailstate state` and the Python package's `message_states` hold while they read:
//! every group's distinct events in a [`GroupStates`], and an index from the group's labels to
//! its number. The labels are kept once, in one text buffer; the index holds only group
//! numbers (a `u32` per slot), so a group costs its two labels' bytes, 16 bytes of spans and
//! about 10 bytes of index, with no allocation of its own.

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

use crate::error::{Error, ErrorKind};
use crate::groups::GroupStates;
use crate::reduce::{EventFactsRef, StateView};

/// A label's place in the text buffer; `len == ABSENT` for a label that is not there.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    len: u32,
}

const ABSENT: u32 = u32::MAX;

/// The states of many messages, grouped by (message id, recipient) as [`crate::reduce`] groups
/// them, and handed out sorted by those labels.
///
/// # Example
/// ```
/// use mailstate_core::{EventFactsRef, EventType, MessageGroups, Timestamp};
/// let mut groups = MessageGroups::default();
/// let at = |ms| EventFactsRef::new(EventType::Delivered, Timestamp::from_millis(ms), None, None);
/// groups.insert(Some("m2"), Some("b@x"), "ses:2", at(2)).unwrap();
/// groups.insert(Some("m1"), Some("a@x"), "ses:1", at(1)).unwrap();
/// groups.insert(Some("m1"), Some("a@x"), "ses:1", at(1)).unwrap(); // a retry
/// let mut views = Vec::new();
/// groups.drain_views(|v| views.push(v));
/// assert_eq!(views[0].message_id.as_deref(), Some("m1"));
/// assert_eq!((views[0].event_count, views.len()), (1, 2));
/// ```
#[derive(Debug, Default)]
pub struct MessageGroups {
    /// Per group: its number (low half) and the high half of its labels' hash, so growing
    /// the table does not hash the labels again.
    index: HashTable<u64>,
    /// Per group: the message id's and the recipient's spans in `text`.
    labels: Vec<[Span; 2]>,
    text: String,
    groups: GroupStates,
}

/// The high half of the hash of a group's labels (a fixed seed: the same on every run): what
/// an index entry keeps.
fn high_hash(labels: [Option<&str>; 2]) -> u64 {
    FixedState::with_seed(0x6d61_696c_7374_6174).hash_one(labels) >> 32
}

/// A table hash from the 32 bits an entry keeps (an odd multiplier: distinct in, distinct out).
fn spread(high: u64) -> u64 {
    high.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ high
}

/// A table entry: group `g`, the hash's kept half.
fn entry(g: u32, high: u64) -> u64 {
    high << 32 | u64::from(g)
}

impl MessageGroups {
    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no group.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Add the event `key` with `facts` to the group of (`message_id`, `recipient`), creating
    /// it when it is new.
    ///
    /// # Errors
    /// `too_large` past 2^32 groups, events or bytes of text.
    pub fn insert(
        &mut self,
        message_id: Option<&str>,
        recipient: Option<&str>,
        key: &str,
        facts: EventFactsRef<'_>,
    ) -> Result<(), Error> {
        let labels = [message_id, recipient];
        let high = high_hash(labels);
        let (spans, text) = (&self.labels, &self.text);
        let found = self.index.find(spread(high), |&e| {
            #[expect(clippy::cast_possible_truncation, reason = "the low half is the group")]
            let g = e as u32;
            e >> 32 == high && Self::labels_of(spans, text, g) == labels
        });
        let g = match found {
            #[expect(clippy::cast_possible_truncation, reason = "the low half is the group")]
            Some(&e) => e as u32,
            None => self.add_group(high, labels)?,
        };
        self.groups.insert(g as usize, key, facts)
    }

    fn add_group(&mut self, high: u64, labels: [Option<&str>; 2]) -> Result<u32, Error> {
        let too_large = |what: &str| {
            Error::new(ErrorKind::TooLarge, format!("more than 2^32 {what} in one group store"))
        };
        let g = u32::try_from(self.labels.len()).map_err(|_| too_large("groups"))?;
        let mut spans = [Span { start: 0, len: ABSENT }; 2];
        for (span, label) in spans.iter_mut().zip(labels) {
            if let Some(l) = label {
                let start = u32::try_from(self.text.len()).map_err(|_| too_large("bytes"))?;
                let len = u32::try_from(l.len())
                    .ok()
                    .filter(|&n| n != ABSENT && start.checked_add(n).is_some())
                    .ok_or_else(|| too_large("bytes"))?;
                self.text.push_str(l);
                *span = Span { start, len };
            }
        }
        self.labels.push(spans);
        self.index.insert_unique(spread(high), entry(g, high), |&e| spread(e >> 32));
        Ok(g)
    }

    fn labels_of<'t>(spans: &[[Span; 2]], text: &'t str, g: u32) -> [Option<&'t str>; 2] {
        spans.get(g as usize).map_or([None, None], |pair| {
            pair.map(|s| {
                (s.len != ABSENT)
                    .then(|| text.get(s.start as usize..(s.start + s.len) as usize))
                    .flatten()
            })
        })
    }

    /// Every group's state as a view labelled with its message id and recipient, in the order
    /// of (message id, recipient) (an absent label first), to `sink`; the groups are gone
    /// after (their events' text is cut to what views read first, as
    /// [`GroupStates::drain_views`] does).
    pub fn drain_views(&mut self, mut sink: impl FnMut(StateView)) {
        self.groups.keep_text_views_read();
        let (spans, text) = (&self.labels, &self.text);
        let mut order: Vec<u32> =
            (0..self.labels.len()).filter_map(|g| g.try_into().ok()).collect();
        order.sort_unstable_by(|&a, &b| {
            Self::labels_of(spans, text, a).cmp(&Self::labels_of(spans, text, b))
        });
        for g in order {
            let mut view = self.groups.view(g as usize);
            let [m, r] = Self::labels_of(spans, text, g);
            view.message_id = m.map(str::to_owned);
            view.recipient = r.map(str::to_owned);
            sink(view);
        }
        *self = MessageGroups::default();
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.index.capacity() * (size_of::<u64>() + 1)
            + self.labels.capacity() * size_of::<[Span; 2]>()
            + self.text.capacity()
            + self.groups.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventType, MessageState, Timestamp};

    #[test]
    fn groups_and_views_are_those_of_folding_each_group_into_a_message_state() {
        let labels = [None, Some("m1"), Some("m2"), Some("")];
        let recipients = [None, Some("a@x"), Some("b@x"), Some("")];
        let kinds = [EventType::Delivered, EventType::Open, EventType::HardBounce];
        let mut groups = MessageGroups::default();
        let mut want = std::collections::BTreeMap::<_, MessageState>::new();
        for i in 0..500_u32 {
            let (m, r) = (labels[(i * 7 % 4) as usize], recipients[(i * 3 % 4) as usize]);
            let key = format!("k{}", i % 97);
            let facts = EventFactsRef::new(
                kinds[(i % 3) as usize],
                Timestamp::from_millis(i64::from(i % 11)),
                None,
                None,
            );
            groups.insert(m, r, &key, facts).unwrap();
            want.entry((m, r))
                .or_insert_with(|| MessageState::new(m.map(Into::into), r.map(Into::into)))
                .insert_ref(&key, facts);
        }
        assert_eq!(groups.len(), want.len());
        let mut got = Vec::new();
        groups.drain_views(|v| got.push(v));
        let want: Vec<_> = want.values().map(MessageState::view).collect();
        assert_eq!(got, want);
        assert!(groups.is_empty(), "drained");
    }

    #[test]
    fn groups_are_found_again_after_the_index_grows() {
        let mut groups = MessageGroups::default();
        let f = EventFactsRef::new(EventType::Open, Timestamp::from_millis(1), None, None);
        for round in 0..2 {
            for i in 0..20_000 {
                groups
                    .insert(Some(&format!("m{i}")), Some("a@x"), &format!("k{round}"), f)
                    .unwrap();
            }
        }
        assert_eq!(groups.len(), 20_000);
        let mut counts = Vec::new();
        groups.drain_views(|v| counts.push(v.event_count));
        assert!(counts.iter().all(|&n| n == 2), "each group met both keys");
    }

    #[test]
    fn an_absent_label_and_an_empty_one_are_different_groups() {
        let mut groups = MessageGroups::default();
        let f = EventFactsRef::new(EventType::Open, Timestamp::from_millis(1), None, None);
        groups.insert(None, Some("a"), "k", f).unwrap();
        groups.insert(Some(""), Some("a"), "k", f).unwrap();
        groups.insert(Some("a"), None, "k", f).unwrap();
        groups.insert(None, Some("a"), "k", f).unwrap();
        assert_eq!(groups.len(), 3);
    }
}
