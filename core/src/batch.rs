//! Binary batches: many events' facts in, encoded [`MessageState`]s out, in one call.
//!
//! The JSON ops of the wire layer (`wire::call`) are convenient but cost a parse per field. A SQL engine
//! aggregates message state over millions of rows in batches of a few thousand, so it needs a
//! form whose cost per row is a few loads and one map insert, and that crosses a wasm boundary
//! once per batch. This module is that form, shared by the native rules and the wasm plugin:
//! the same bytes in give the same bytes out in both.
//!
//! Four ops (called through `wire::call_binary`):
//!
//! | op | input | output |
//! |---|---|---|
//! | `batch.fold` | an [`EventBatch`] | [`States`]: one state per group, built from its rows |
//! | `batch.merge` | a [`StateBatch`] | [`States`]: one state per group, the merge of its states |
//! | `batch.view` | a state list ([`encode_state_list`]) | JSON `{"views": [StateView \| null], "errors": [...]}` |
//! | `batch.reduce` | a [`ReduceBatch`]: an `EventBatch` and a `StateBatch` of the same groups | [`States`] or [`Views`]: per group, the fold of its rows merged with its states |
//!
//! # Layouts
//!
//! All integers are little-endian; a *string column* of `n` rows is `n + 1` `u32` offsets
//! (starting at 0, never decreasing) followed by `offsets[n]` bytes of UTF-8; an *optional
//! string column* is `n` presence bytes (`0` null, `1` present) followed by a string column
//! (a null row's slice is ignored, and is normally empty).
//!
//! **`EventBatch`** (`batch.fold` input):
//!
//! ```text
//! u8        version (2)
//! u32       n   rows
//! u32       g   groups
//! [u32; n]  group of each row, < g
//! [u8; n]   event type: index in EventType::ALL (0 complaint … 10 unknown, 11 resubscribe)
//! [u8; n]   bounce class: 0 none, 1 hard, 2 soft, 3 block, 4 undetermined
//! [u8; n]   automated: 0 none, 1 privacy_proxy, 2 scanner
//! [u8; n]   bounce category: 0 none, 1..=10 in BounceCategory::ALL order
//! [u8; n]   occurred_at present (0 or 1)
//! [i64; n]  occurred_at, milliseconds since the Unix epoch (ignored when absent)
//! strings   event_key
//! opt str   diagnostic
//! opt str   message_id
//! opt str   recipient
//! ```
//!
//! **`StateBatch`** (`batch.merge` input): `u8` version, `u32 n` states, `u32 g` groups,
//! `[u32; n]` group of each state, then `n` times a `u32` length and a
//! [`MessageState::encode`] encoding.
//!
//! **`StateList`** (`batch.view` input): `u8` version, `u32 n`, then `n` times a `u32` length
//! and an encoded state.
//!
//! **`ReduceBatch`** (`batch.reduce` input): `u8` version, `u8` output (`0` states, `1` views),
//! `u32` length and an `EventBatch`, `u32` length and a `StateBatch`; the two group counts
//! must be equal. Error indices count the rows first, then the states (state `i` is
//! `rows + i`).
//!
//! **`Views`** (`batch.reduce` output `1`): `u8` version, `u32 n`, then per group: `u8`
//! status (index in `EventType::ALL`), `u8` terminal (0 or 1), `u16` presence bits of the ten
//! times (bit `i` set when time `i` is present), ten `i64` milliseconds (0 when absent) in the
//! order terminal_at, first_event_at, last_event_at, accepted_at, delivered_at, first_open_at,
//! first_click_at, bounced_at, complained_at, unsubscribed_at, seven `u64` counts (open, click,
//! automated_open, automated_click, deferred, event, late_event), `u8` bounce class, `u8`
//! bounce category, then three optional strings (`u8` presence,
//! and when present a `u32` length and UTF-8 bytes): diagnostic, message_id, recipient. Then
//! the errors, as in `States`.
//!
//! **`States`** (`batch.fold` and `batch.merge` output): `u8` version, `u32 g`, then `g` times a
//! `u32` length and an encoded state (a group with no rows gets the empty state), then
//! `u32 e` errors, each a `u32` row (or state) index, a `u32` length and a JSON error object
//! `{"code", "message", "path"?}` as in the JSON envelope.
//!
//! # Versions
//!
//! Version 2 added the `automated` and bounce category columns to `EventBatch`, and the two
//! automated counts and the bounce category to `Views`. Batches cross one boundary between a
//! host and a plugin built from the same rules, so every layout is read at its own version
//! only: an older plugin answers a version-2 batch with `invalid_value` ("version 2, expected
//! 1"), never with a wrong state. The encoded states inside (`MessageState::encode`) are what
//! partial aggregates keep, and those are read at every version.
//!
//! # Errors
//!
//! A batch whose structure is broken (truncated, another version, offsets out of order, a
//! group out of range) fails as a whole with `invalid_value`. A row whose *value* is bad (a
//! type or bounce class out of range, a time out of range, a string that is not UTF-8, a
//! state that does not decode) yields one error for that row in [`States::errors`]; the other
//! rows still count.

use serde_json::{Value, json};

use crate::error::{Error, ErrorKind};
use crate::json::ErrorObject;
use crate::reduce::{join_label, put_opt_str};
use crate::{
    Automated, BounceCategory, BounceClass, EventFacts, EventFactsRef, EventType, GroupStates,
    MessageState, StateView, Timestamp,
};

/// The version byte that starts every batch layout of this module.
pub const BATCH_VERSION: u8 = 2;

/// The binary ops (`wire::call_binary` runs them).
pub const BINARY_OPS: [&str; 4] = ["batch.fold", "batch.merge", "batch.view", "batch.reduce"];

/// Columns of event facts with a group per row: the input of `batch.fold`.
///
/// Build it row by row with [`EventBatch::push`], then [`EventBatch::encode`] it (or pass it
/// to [`crate::Rules::fold`]).
///
/// # Example
/// ```
/// use mailstate_core::{EventType, Rules, NativeRules, Timestamp, batch::EventBatch};
/// let mut batch = EventBatch::new(1);
/// batch.push(0, "ses:1", EventType::Delivered, Timestamp::from_millis(1_000), None, None);
/// batch.push(0, "ses:2", EventType::Open, Timestamp::from_millis(2_000), None, None);
/// let states = NativeRules.fold(&batch).unwrap();
/// assert_eq!(states.decode(0).unwrap().view().status, EventType::Open);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventBatch {
    groups: u32,
    group: Vec<u32>,
    kind: Vec<u8>,
    bounce: Vec<u8>,
    automated: Vec<u8>,
    category: Vec<u8>,
    time_present: Vec<u8>,
    time: Vec<i64>,
    key: StrColumn,
    diagnostic: OptStrColumn,
    message_id: OptStrColumn,
    recipient: OptStrColumn,
}

impl EventBatch {
    /// An empty batch whose rows fall into `groups` groups (`0..groups`).
    pub fn new(groups: u32) -> EventBatch {
        EventBatch { groups, ..EventBatch::default() }
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.group.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.group.is_empty()
    }

    /// Add one row: the facts of one event, in `group`.
    pub fn push(
        &mut self,
        group: u32,
        event_key: &str,
        kind: EventType,
        occurred_at: Option<Timestamp>,
        bounce_class: Option<BounceClass>,
        diagnostic: Option<&str>,
    ) {
        self.push_labelled(
            group,
            event_key,
            kind,
            occurred_at,
            bounce_class,
            diagnostic,
            None,
            None,
        );
    }

    /// Add one row with the group's labels (message id and recipient) as well.
    #[expect(clippy::too_many_arguments, reason = "one argument per column of the layout")]
    pub fn push_labelled(
        &mut self,
        group: u32,
        event_key: &str,
        kind: EventType,
        occurred_at: Option<Timestamp>,
        bounce_class: Option<BounceClass>,
        diagnostic: Option<&str>,
        message_id: Option<&str>,
        recipient: Option<&str>,
    ) {
        self.group.push(group);
        self.kind.push(kind.index());
        self.bounce.push(BounceClass::to_byte(bounce_class));
        self.automated.push(0);
        self.category.push(0);
        self.time_present.push(u8::from(occurred_at.is_some()));
        self.time.push(occurred_at.map_or(0, Timestamp::as_millis));
        self.key.push(event_key);
        self.diagnostic.push(diagnostic);
        self.message_id.push(message_id);
        self.recipient.push(recipient);
    }

    /// Add one row from the facts the state keeps of an event (all of them: type, time,
    /// bounce class and diagnostic, `automated`, bounce category), with the group's labels.
    pub fn push_facts(
        &mut self,
        group: u32,
        event_key: &str,
        facts: &EventFacts,
        message_id: Option<&str>,
        recipient: Option<&str>,
    ) {
        self.push_facts_labelled(group, event_key, facts.as_facts_ref(), message_id, recipient);
    }

    /// [`EventBatch::push_facts`] from borrowed facts, without the group's labels.
    pub fn push_facts_ref(&mut self, group: u32, event_key: &str, facts: EventFactsRef<'_>) {
        self.push_facts_labelled(group, event_key, facts, None, None);
    }

    fn push_facts_labelled(
        &mut self,
        group: u32,
        event_key: &str,
        facts: EventFactsRef<'_>,
        message_id: Option<&str>,
        recipient: Option<&str>,
    ) {
        self.push_labelled(
            group,
            event_key,
            facts.kind,
            facts.occurred_at,
            facts.bounce_class,
            facts.diagnostic,
            message_id,
            recipient,
        );
        if let (Some(a), Some(c)) = (self.automated.last_mut(), self.category.last_mut()) {
            *a = Automated::to_byte(facts.automated);
            *c = BounceCategory::to_byte(facts.bounce_category);
        }
    }

    /// The `batch.fold` input bytes (see the module docs for the layout).
    pub fn encode(&self) -> Vec<u8> {
        let n = self.len();
        let mut out = Vec::with_capacity(16 + n * 24 + self.key.data.len());
        out.push(BATCH_VERSION);
        put_u32(&mut out, n);
        out.extend_from_slice(&self.groups.to_le_bytes());
        for g in &self.group {
            out.extend_from_slice(&g.to_le_bytes());
        }
        out.extend_from_slice(&self.kind);
        out.extend_from_slice(&self.bounce);
        out.extend_from_slice(&self.automated);
        out.extend_from_slice(&self.category);
        out.extend_from_slice(&self.time_present);
        for t in &self.time {
            out.extend_from_slice(&t.to_le_bytes());
        }
        self.key.write(&mut out);
        for col in [&self.diagnostic, &self.message_id, &self.recipient] {
            out.extend_from_slice(&col.present);
            col.strings.write(&mut out);
        }
        out
    }
}

/// Encoded states with a group per state: the input of `batch.merge`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateBatch {
    groups: u32,
    group: Vec<u32>,
    states: Vec<u8>,
    count: usize,
}

impl StateBatch {
    /// An empty batch whose states fall into `groups` groups.
    pub fn new(groups: u32) -> StateBatch {
        StateBatch { groups, ..StateBatch::default() }
    }

    /// Add one encoded state (from [`MessageState::encode`] or [`States::get`]) to `group`.
    pub fn push(&mut self, group: u32, encoded_state: &[u8]) {
        self.group.push(group);
        put_u32(&mut self.states, encoded_state.len());
        self.states.extend_from_slice(encoded_state);
        self.count += 1;
    }

    /// The `batch.merge` input bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.group.len() * 4 + self.states.len());
        out.push(BATCH_VERSION);
        put_u32(&mut out, self.count);
        out.extend_from_slice(&self.groups.to_le_bytes());
        for g in &self.group {
            out.extend_from_slice(&g.to_le_bytes());
        }
        out.extend_from_slice(&self.states);
        out
    }
}

/// Split items of the given sizes into consecutive runs of whole items whose sizes add up to
/// at most `limit` (a run holds at least one item, however large): how rows and states are
/// cut into boundary crossings of bounded size, group by group.
///
/// ```
/// assert_eq!(mailstate_core::batch::chunk_ranges(&[2, 2, 5, 1], 4), vec![0..2, 2..3, 3..4]);
/// ```
pub fn chunk_ranges(sizes: &[usize], limit: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut first = 0;
    while first < sizes.len() {
        let mut last = first + 1;
        let mut total = sizes[first];
        while last < sizes.len() && total + sizes[last] <= limit {
            total += sizes[last];
            last += 1;
        }
        out.push(first..last);
        first = last;
    }
    out
}

/// Encode a list of encoded states: the input of `batch.view`.
pub fn encode_state_list<'a>(states: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut n = 0;
    for s in states {
        put_u32(&mut body, s.len());
        body.extend_from_slice(s);
        n += 1;
    }
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(BATCH_VERSION);
    put_u32(&mut out, n);
    out.extend_from_slice(&body);
    out
}

/// One encoded state per group, and the rows that could not be used: the output of
/// `batch.fold` and `batch.merge`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct States {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
    errors: Vec<(u32, Error)>,
}

impl States {
    /// Parse the output bytes of `batch.fold` or `batch.merge`.
    ///
    /// # Errors
    /// `invalid_value` when the bytes do not follow the layout.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<States, Error> {
        let mut r = Reader::new(&bytes);
        r.version()?;
        let g = r.count()?;
        let mut spans = Vec::with_capacity(g.min(bytes.len()));
        for _ in 0..g {
            let len = r.count()?;
            let start = r.i;
            r.take(len)?;
            spans.push((start, len));
        }
        let errors = read_errors(&mut r)?;
        r.finish()?;
        Ok(States { bytes, spans, errors })
    }

    /// The number of groups.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The encoded state of group `i`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.spans.get(i).and_then(|&(start, len)| self.bytes.get(start..start + len))
    }

    /// Every group's encoded state, in group order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.spans.iter().filter_map(|&(start, len)| self.bytes.get(start..start + len))
    }

    /// Decode the state of group `i`.
    ///
    /// # Errors
    /// `invalid_value` when `i` is out of range or the state does not decode.
    pub fn decode(&self, i: usize) -> Result<MessageState, Error> {
        let bytes = self.get(i).ok_or_else(|| bad_batch("group out of range"))?;
        MessageState::decode(bytes)
    }

    /// The rows (or states) that could not be used, by index, with why.
    pub fn errors(&self) -> &[(u32, Error)] {
        &self.errors
    }
}

/// What `batch.reduce` answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOutput {
    /// One encoded state per group ([`States`]): a partial aggregate.
    States,
    /// One view per group ([`Views`]): the final answer.
    Views,
}

/// Rows and encoded states of the same groups, reduced in one call: the input of
/// `batch.reduce`.
///
/// Group `i` of the answer is the fold of the rows of group `i` merged with every state of
/// group `i`, so a host can keep rows as they arrive, receive partial states from other
/// partitions, and cross the boundary once per chunk of groups.
///
/// # Example
/// ```
/// use mailstate_core::{EventType, NativeRules, Rules, Timestamp, batch::{EventBatch, ReduceBatch, ReduceOutput, StateBatch}};
/// let mut rows = EventBatch::new(1);
/// rows.push(0, "ses:1", EventType::Delivered, Timestamp::from_millis(1_000), None, None);
/// let mut other = EventBatch::new(1);
/// other.push(0, "ses:2", EventType::Click, Timestamp::from_millis(2_000), None, None);
/// let partial = NativeRules.fold(&other).unwrap();
/// let mut states = StateBatch::new(1);
/// states.push(0, partial.get(0).unwrap());
/// let views = NativeRules.reduce_views(&ReduceBatch::new(&rows, &states)).unwrap();
/// assert_eq!(views.get(0).unwrap().status, EventType::Click);
/// assert_eq!(views.get(0).unwrap().event_count, 2);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ReduceBatch<'a> {
    events: &'a EventBatch,
    states: &'a StateBatch,
}

impl<'a> ReduceBatch<'a> {
    /// Rows and states; both must have the same group count.
    pub fn new(events: &'a EventBatch, states: &'a StateBatch) -> ReduceBatch<'a> {
        ReduceBatch { events, states }
    }

    /// The `batch.reduce` input bytes for `output`.
    pub fn encode(&self, output: ReduceOutput) -> Vec<u8> {
        let events = self.events.encode();
        let states = self.states.encode();
        let mut out = Vec::with_capacity(10 + events.len() + states.len());
        out.push(BATCH_VERSION);
        out.push(match output {
            ReduceOutput::States => 0,
            ReduceOutput::Views => 1,
        });
        put_u32(&mut out, events.len());
        out.extend_from_slice(&events);
        put_u32(&mut out, states.len());
        out.extend_from_slice(&states);
        out
    }
}

/// One [`StateView`] per group, and the rows or states that could not be used: the output
/// of `batch.reduce` with [`ReduceOutput::Views`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Views {
    views: Vec<StateView>,
    errors: Vec<(u32, Error)>,
}

impl Views {
    /// Parse the views layout.
    ///
    /// # Errors
    /// `invalid_value` when the bytes do not follow the layout.
    pub fn from_bytes(bytes: &[u8]) -> Result<Views, Error> {
        let mut r = Reader::new(bytes);
        r.version()?;
        let n = r.count()?;
        // A view is at least 142 bytes: never trust a count the input cannot hold.
        let mut views = Vec::with_capacity(n.min(bytes.len() / 142));
        for _ in 0..n {
            views.push(read_view(&mut r)?);
        }
        let errors = read_errors(&mut r)?;
        r.finish()?;
        Ok(Views { views, errors })
    }

    /// The number of groups.
    pub fn len(&self) -> usize {
        self.views.len()
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.views.is_empty()
    }

    /// The view of group `i`.
    pub fn get(&self, i: usize) -> Option<&StateView> {
        self.views.get(i)
    }

    /// Every view, in group order.
    pub fn into_views(self) -> Vec<StateView> {
        self.views
    }

    /// The rows (numbered first) or states (numbered after the rows) that could not be used.
    pub fn errors(&self) -> &[(u32, Error)] {
        &self.errors
    }
}

fn read_view(r: &mut Reader<'_>) -> Result<StateView, Error> {
    let head = r.take(4)?;
    let status = *EventType::ALL
        .get(usize::from(head[0]))
        .ok_or_else(|| bad_batch("view status out of range"))?;
    let terminal = match head[1] {
        0 => false,
        1 => true,
        _ => return Err(bad_batch("view terminal flag is not 0 or 1")),
    };
    let present = u16::from_le_bytes([head[2], head[3]]);
    let mut times = [None; 10];
    for (i, t) in times.iter_mut().enumerate() {
        let ms = le_i64(r.take(8)?);
        if present & (1 << i) != 0 {
            *t = Some(
                Timestamp::from_millis(ms).ok_or_else(|| bad_batch("view time out of range"))?,
            );
        }
    }
    let mut counts = [0u64; 7];
    for c in &mut counts {
        let mut a = [0u8; 8];
        a.copy_from_slice(r.take(8)?);
        *c = u64::from_le_bytes(a);
    }
    let bounce_class = BounceClass::from_byte(r.take(1)?[0])
        .map_err(|()| bad_batch("view bounce class out of range"))?;
    let bounce_category = BounceCategory::from_byte(r.take(1)?[0])
        .map_err(|()| bad_batch("view bounce category out of range"))?;
    let mut text = || -> Result<Option<String>, Error> {
        match r.take(1)?[0] {
            0 => Ok(None),
            1 => {
                let len = r.count()?;
                let bytes = r.take(len)?;
                std::str::from_utf8(bytes)
                    .map(|s| Some(s.to_owned()))
                    .map_err(|_| bad_batch("view string is not utf-8"))
            }
            _ => Err(bad_batch("view presence byte is not 0 or 1")),
        }
    };
    let diagnostic = text()?;
    let message_id = text()?;
    let recipient = text()?;
    let [
        terminal_at,
        first_event_at,
        last_event_at,
        accepted_at,
        delivered_at,
        first_open_at,
        first_click_at,
        bounced_at,
        complained_at,
        unsubscribed_at,
    ] = times;
    let [
        open_count,
        click_count,
        automated_open_count,
        automated_click_count,
        deferred_count,
        event_count,
        late_event_count,
    ] = counts;
    Ok(StateView {
        message_id,
        recipient,
        status,
        terminal,
        terminal_at,
        first_event_at,
        last_event_at,
        accepted_at,
        delivered_at,
        first_open_at,
        first_click_at,
        bounced_at,
        complained_at,
        unsubscribed_at,
        open_count,
        click_count,
        automated_open_count,
        automated_click_count,
        deferred_count,
        event_count,
        late_event_count,
        bounce_class,
        bounce_category,
        diagnostic,
    })
}

/// Run one binary op on its input; `Err` for an unknown op or a broken batch.
pub(crate) fn dispatch(op: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
    match op {
        "batch.fold" => fold(input),
        "batch.merge" => merge(input),
        "batch.view" => view(input),
        "batch.reduce" => reduce_op(input),
        other => Err(Error::new(
            ErrorKind::UnknownOp,
            format!("unknown binary op {other:?}, expected one of {}", BINARY_OPS.join(", ")),
        )),
    }
}

fn fold(input: &[u8]) -> Result<Vec<u8>, Error> {
    let mut states = Vec::new();
    let mut errors = Vec::new();
    fold_into(input, &mut states, &mut errors, 0)?;
    Ok(write_states(states.iter().map(MessageState::encode), &errors))
}

/// Read an [`EventBatch`] and fold its rows into `states` (resized to its group count); bad
/// rows go to `errors`, numbered from `first_index`.
fn fold_into(
    input: &[u8],
    states: &mut Vec<MessageState>,
    errors: &mut Vec<(usize, Error)>,
    first_index: usize,
) -> Result<usize, Error> {
    read_rows(input, errors, first_index, states)
}

/// Where [`read_rows`] puts a batch's rows.
trait RowSink {
    /// The batch has groups `0..n` (called once, before any row).
    fn groups(&mut self, n: usize);
    /// Add a good row of group `group` (in range).
    ///
    /// # Errors
    /// When the sink cannot take it (a store past its size limits).
    fn add(
        &mut self,
        group: usize,
        labels: Labels<'_>,
        key: &str,
        facts: EventFactsRef<'_>,
    ) -> Result<(), Error>;
}

impl RowSink for Vec<MessageState> {
    fn groups(&mut self, n: usize) {
        self.resize_with(n, MessageState::default);
    }

    fn add(
        &mut self,
        group: usize,
        (message_id, recipient): Labels<'_>,
        key: &str,
        facts: EventFactsRef<'_>,
    ) -> Result<(), Error> {
        let state = &mut self[group];
        join_label(&mut state.message_id, message_id);
        join_label(&mut state.recipient, recipient);
        state.insert_ref(key, facts);
        Ok(())
    }
}

/// Groups in one flat store, with their labels.
#[derive(Default)]
struct FlatGroups {
    store: GroupStates,
    labels: Vec<(Option<String>, Option<String>)>,
}

impl FlatGroups {
    fn join_labels(&mut self, group: usize, (message_id, recipient): Labels<'_>) {
        let (m, r) = &mut self.labels[group];
        join_label(m, message_id);
        join_label(r, recipient);
    }
}

impl RowSink for FlatGroups {
    fn groups(&mut self, n: usize) {
        self.store.resize(n);
        self.labels.resize(n, (None, None));
    }

    fn add(
        &mut self,
        group: usize,
        labels: Labels<'_>,
        key: &str,
        facts: EventFactsRef<'_>,
    ) -> Result<(), Error> {
        self.join_labels(group, labels);
        self.store.insert(group, key, facts)
    }
}

/// Read an [`EventBatch`] into `sink`: its group count, then each good row; bad rows go to
/// `errors`, numbered from `first_index`. How many rows there were.
fn read_rows(
    input: &[u8],
    errors: &mut Vec<(usize, Error)>,
    first_index: usize,
    sink: &mut impl RowSink,
) -> Result<usize, Error> {
    let mut r = Reader::new(input);
    r.version()?;
    let n = r.count()?;
    let g = r.count()?;
    let group_of = r.take(n.checked_mul(4).ok_or_else(|| bad_batch("too many rows"))?)?;
    let kinds = r.take(n)?;
    let bounces = r.take(n)?;
    let automated = r.take(n)?;
    let categories = r.take(n)?;
    let present = r.take(n)?;
    let times = r.take(n.checked_mul(8).ok_or_else(|| bad_batch("too many rows"))?)?;
    let keys = r.strings(n)?;
    let diagnostics = r.opt_strings(n)?;
    let message_ids = r.opt_strings(n)?;
    let recipients = r.opt_strings(n)?;
    r.finish()?;

    sink.groups(g);
    for row in 0..n {
        let group = le_u32(&group_of[row * 4..row * 4 + 4]) as usize;
        if group >= g {
            return Err(bad_batch(&format!("row {row}: group {group} out of range 0..{g}")));
        }
        let labels = message_ids
            .get(row)
            .map_err(|e| e.with_path("message_id"))
            .and_then(|m| Ok((m, recipients.get(row).map_err(|e| e.with_path("recipient"))?)));
        let parsed = labels.and_then(|labels| {
            let columns = RowColumns { kinds, bounces, automated, categories, present, times };
            row_facts(row, &columns, &keys, &diagnostics).map(|f| (labels, f))
        });
        match parsed {
            Ok((labels, (key, facts))) => sink.add(group, labels, key, facts)?,
            Err(e) => errors.push((first_index + row, e)),
        }
    }
    Ok(n)
}

/// A row's `message_id` and `recipient`.
type Labels<'a> = (Option<&'a str>, Option<&'a str>);

/// The fixed-width columns of an `EventBatch`.
struct RowColumns<'b> {
    kinds: &'b [u8],
    bounces: &'b [u8],
    automated: &'b [u8],
    categories: &'b [u8],
    present: &'b [u8],
    times: &'b [u8],
}

fn row_facts<'a>(
    row: usize,
    c: &RowColumns<'_>,
    keys: &StrSlices<'a>,
    diagnostics: &OptStrSlices<'a>,
) -> Result<(&'a str, EventFactsRef<'a>), Error> {
    let RowColumns { kinds, bounces, automated, categories, present, times } = *c;
    let kind = *EventType::ALL.get(usize::from(kinds[row])).ok_or_else(|| {
        Error::invalid("type", format!("event type index {} out of range 0..12", kinds[row]))
    })?;
    let bounce_class = BounceClass::from_byte(bounces[row]).map_err(|()| {
        Error::invalid("bounce_class", format!("class {} out of range 0..5", bounces[row]))
    })?;
    let occurred_at =
        match present[row] {
            0 => None,
            1 => {
                let ms = le_i64(&times[row * 8..row * 8 + 8]);
                Some(Timestamp::from_millis(ms).ok_or_else(|| {
                    Error::invalid("occurred_at", format!("{ms} ms is out of range"))
                })?)
            }
            other => {
                return Err(Error::invalid(
                    "occurred_at",
                    format!("presence byte {other}, expected 0 or 1"),
                ));
            }
        };
    let key = keys.get(row).map_err(|e| e.with_path("event_key"))?;
    let diagnostic = diagnostics.get(row).map_err(|e| e.with_path("diagnostic"))?;
    let flag = Automated::from_byte(automated[row]).map_err(|()| {
        Error::invalid("automated", format!("flag {} out of range 0..3", automated[row]))
    })?;
    let category = BounceCategory::from_byte(categories[row]).map_err(|()| {
        Error::invalid(
            "bounce_category",
            format!("category {} out of range 0..11", categories[row]),
        )
    })?;
    let facts = EventFactsRef::new(kind, occurred_at, bounce_class, diagnostic)
        .with_automated(flag)
        .with_bounce_category(category);
    Ok((key, facts))
}

fn merge(input: &[u8]) -> Result<Vec<u8>, Error> {
    let mut states = Vec::new();
    let mut errors = Vec::new();
    merge_into(input, &mut states, &mut errors, 0)?;
    Ok(write_states(states.iter().map(MessageState::encode), &errors))
}

/// Read a [`StateBatch`] and merge its states into `states` (resized to its group count);
/// states that do not decode go to `errors`, numbered from `first_index`.
fn merge_into(
    input: &[u8],
    states: &mut Vec<MessageState>,
    errors: &mut Vec<(usize, Error)>,
    first_index: usize,
) -> Result<(), Error> {
    let mut r = Reader::new(input);
    r.version()?;
    let n = r.count()?;
    let g = r.count()?;
    let groups = r.take(n.checked_mul(4).ok_or_else(|| bad_batch("too many states"))?)?;
    states.resize_with(g, MessageState::default);
    for i in 0..n {
        let len = r.count()?;
        let bytes = r.take(len)?;
        let group = le_u32(&groups[i * 4..i * 4 + 4]) as usize;
        let Some(state) = states.get_mut(group) else {
            return Err(bad_batch(&format!("state {i}: group {group} out of range 0..{g}")));
        };
        match MessageState::decode(bytes) {
            Ok(s) => state.merge_owned(s),
            Err(e) => errors.push((first_index + i, e)),
        }
    }
    r.finish()
}

/// `batch.reduce`: fold rows and merge states of the same groups, then answer with states or
/// with views.
fn reduce_op(input: &[u8]) -> Result<Vec<u8>, Error> {
    let mut r = Reader::new(input);
    r.version()?;
    let output = match r.take(1)?[0] {
        0 => ReduceOutput::States,
        1 => ReduceOutput::Views,
        other => return Err(bad_batch(&format!("output {other}, expected 0 or 1"))),
    };
    let events_len = r.count()?;
    let events = r.take(events_len)?;
    let states_len = r.count()?;
    let partials = r.take(states_len)?;
    r.finish()?;

    match output {
        ReduceOutput::States => reduce_states(events, partials),
        ReduceOutput::Views => reduce_views(events, partials),
    }
}

/// `batch.reduce` answering states: each group's rows folded into a `MessageState`, its
/// partial states merged in.
fn reduce_states(events: &[u8], partials: &[u8]) -> Result<Vec<u8>, Error> {
    let mut states = Vec::new();
    let mut errors = Vec::new();
    let rows = fold_into(events, &mut states, &mut errors, 0)?;
    let merged = merge_partials(partials, states.len(), &mut errors, rows)?;
    for (mine, other) in states.iter_mut().zip(merged) {
        mine.merge_owned(other);
    }
    Ok(write_states(states.iter().map(MessageState::encode), &errors))
}

/// The partial states of a `batch.reduce` merged per group, bad ones in `errors` numbered
/// after the `rows` rows; refused unless they have the rows' `groups` groups.
fn merge_partials(
    partials: &[u8],
    groups: usize,
    errors: &mut Vec<(usize, Error)>,
    rows: usize,
) -> Result<Vec<MessageState>, Error> {
    let mut merged = Vec::new();
    merge_into(partials, &mut merged, errors, rows)?;
    if merged.len() != groups {
        return Err(bad_batch(&format!(
            "the events have {groups} groups, the states {}",
            merged.len()
        )));
    }
    Ok(merged)
}

/// `batch.reduce` answering views: the rows go into one flat store ([`GroupStates`], no
/// state built per group) and each group's view is read from its records, as SQL's native
/// aggregate does; the same views as folding each group into a `MessageState`.
fn reduce_views(events: &[u8], partials: &[u8]) -> Result<Vec<u8>, Error> {
    let mut groups = FlatGroups::default();
    let mut errors = Vec::new();
    let rows = read_rows(events, &mut errors, 0, &mut groups)?;
    let merged = merge_partials(partials, groups.labels.len(), &mut errors, rows)?;
    for (g, state) in merged.iter().enumerate() {
        groups.join_labels(g, (state.message_id.as_deref(), state.recipient.as_deref()));
        groups.store.merge_state(g, state)?;
    }
    let FlatGroups { store, labels } = groups;
    let views = labels.into_iter().enumerate().map(|(g, (message_id, recipient))| StateView {
        message_id,
        recipient,
        ..store.view(g)
    });
    Ok(write_views(views, &errors))
}

fn view(input: &[u8]) -> Result<Vec<u8>, Error> {
    let mut r = Reader::new(input);
    r.version()?;
    let n = r.count()?;
    let mut views = Vec::with_capacity(n.min(input.len()));
    let mut errors = Vec::new();
    for i in 0..n {
        let len = r.count()?;
        match MessageState::decode(r.take(len)?) {
            Ok(s) => views.push(serde_json::to_value(s.view()).unwrap_or(Value::Null)),
            Err(e) => {
                views.push(Value::Null);
                let mut obj = serde_json::to_value(ErrorObject(&e)).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut obj {
                    m.insert("index".into(), Value::from(i));
                }
                errors.push(obj);
            }
        }
    }
    r.finish()?;
    serde_json::to_vec(&json!({ "views": views, "errors": errors }))
        .map_err(|e| Error::from_json(&e))
}

fn write_states(states: impl Iterator<Item = Vec<u8>>, errors: &[(usize, Error)]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut g = 0;
    for s in states {
        put_u32(&mut body, s.len());
        body.extend_from_slice(&s);
        g += 1;
    }
    let mut out = Vec::with_capacity(9 + body.len());
    out.push(BATCH_VERSION);
    put_u32(&mut out, g);
    out.extend_from_slice(&body);
    write_errors(&mut out, errors);
    out
}

/// The `batch.reduce` views layout (see the module docs).
fn write_views(views: impl Iterator<Item = StateView>, errors: &[(usize, Error)]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut n = 0;
    for v in views {
        body.push(v.status.index());
        body.push(u8::from(v.terminal));
        let times = v.times();
        let mut present = 0u16;
        for (i, t) in times.iter().enumerate() {
            if t.is_some() {
                present |= 1 << i;
            }
        }
        body.extend_from_slice(&present.to_le_bytes());
        for t in times {
            body.extend_from_slice(&t.map_or(0, Timestamp::as_millis).to_le_bytes());
        }
        for c in [
            v.open_count,
            v.click_count,
            v.automated_open_count,
            v.automated_click_count,
            v.deferred_count,
            v.event_count,
            v.late_event_count,
        ] {
            body.extend_from_slice(&c.to_le_bytes());
        }
        body.push(BounceClass::to_byte(v.bounce_class));
        body.push(BounceCategory::to_byte(v.bounce_category));
        for text in [v.diagnostic.as_deref(), v.message_id.as_deref(), v.recipient.as_deref()] {
            put_opt_str(&mut body, text);
        }
        n += 1;
    }
    let mut out = Vec::with_capacity(9 + body.len());
    out.push(BATCH_VERSION);
    put_u32(&mut out, n);
    out.extend_from_slice(&body);
    write_errors(&mut out, errors);
    out
}

/// The errors section written by [`write_errors`].
fn read_errors(r: &mut Reader<'_>) -> Result<Vec<(u32, Error)>, Error> {
    let e = r.count()?;
    let mut errors = Vec::with_capacity(e.min(r.b.len()));
    for _ in 0..e {
        let row = r.u32()?;
        let len = r.count()?;
        let obj: Value = serde_json::from_slice(r.take(len)?)
            .map_err(|_| bad_batch("error object is not json"))?;
        errors.push((row, ErrorObject::read(&obj, None)));
    }
    Ok(errors)
}

fn write_errors(out: &mut Vec<u8>, errors: &[(usize, Error)]) {
    put_u32(out, errors.len());
    for (row, e) in errors {
        put_u32(out, *row);
        let obj = ErrorObject(e).to_vec();
        put_u32(out, obj.len());
        out.extend_from_slice(&obj);
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    i64::from_le_bytes(a)
}

fn bad_batch(why: &str) -> Error {
    Error::new(ErrorKind::InvalidValue, format!("bad batch: {why}"))
}

/// A string column being built: offsets and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StrColumn {
    offsets: Vec<u32>,
    data: Vec<u8>,
}

impl Default for StrColumn {
    fn default() -> StrColumn {
        StrColumn { offsets: vec![0], data: Vec::new() }
    }
}

impl StrColumn {
    fn push(&mut self, s: &str) {
        self.data.extend_from_slice(s.as_bytes());
        self.offsets.push(u32::try_from(self.data.len()).unwrap_or(u32::MAX));
    }

    fn write(&self, out: &mut Vec<u8>) {
        for o in &self.offsets {
            out.extend_from_slice(&o.to_le_bytes());
        }
        out.extend_from_slice(&self.data);
    }
}

/// An optional string column being built.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct OptStrColumn {
    present: Vec<u8>,
    strings: StrColumn,
}

impl OptStrColumn {
    fn push(&mut self, s: Option<&str>) {
        self.present.push(u8::from(s.is_some()));
        self.strings.push(s.unwrap_or(""));
    }
}

/// A decoded string column: offsets (already checked to be in order and in bounds) and bytes.
struct StrSlices<'a> {
    offsets: &'a [u8],
    data: &'a [u8],
}

impl<'a> StrSlices<'a> {
    fn get(&self, row: usize) -> Result<&'a str, Error> {
        let start = le_u32(&self.offsets[row * 4..row * 4 + 4]) as usize;
        let end = le_u32(&self.offsets[row * 4 + 4..row * 4 + 8]) as usize;
        std::str::from_utf8(&self.data[start..end])
            .map_err(|_| Error::new(ErrorKind::InvalidUtf8, "string is not valid utf-8"))
    }
}

struct OptStrSlices<'a> {
    present: &'a [u8],
    strings: StrSlices<'a>,
}

impl<'a> OptStrSlices<'a> {
    fn get(&self, row: usize) -> Result<Option<&'a str>, Error> {
        match self.present[row] {
            0 => Ok(None),
            1 => self.strings.get(row).map(Some),
            other => Err(Error::new(
                ErrorKind::InvalidValue,
                format!("presence byte {other}, expected 0 or 1"),
            )),
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b, i: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let s = self
            .i
            .checked_add(n)
            .and_then(|end| self.b.get(self.i..end))
            .ok_or_else(|| bad_batch("truncated"))?;
        self.i += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, Error> {
        Ok(le_u32(self.take(4)?))
    }

    fn count(&mut self) -> Result<usize, Error> {
        Ok(self.u32()? as usize)
    }

    fn version(&mut self) -> Result<(), Error> {
        match self.take(1)?[0] {
            BATCH_VERSION => Ok(()),
            v => Err(bad_batch(&format!("version {v}, expected {BATCH_VERSION}"))),
        }
    }

    fn strings(&mut self, n: usize) -> Result<StrSlices<'a>, Error> {
        let offsets = self.take(
            n.checked_add(1)
                .and_then(|m| m.checked_mul(4))
                .ok_or_else(|| bad_batch("too many rows"))?,
        )?;
        let mut prev = 0u32;
        for (i, o) in offsets.chunks_exact(4).enumerate() {
            let o = le_u32(o);
            if (i == 0 && o != 0) || o < prev {
                return Err(bad_batch("string offsets must start at 0 and never decrease"));
            }
            prev = o;
        }
        let data = self.take(prev as usize)?;
        Ok(StrSlices { offsets, data })
    }

    fn opt_strings(&mut self, n: usize) -> Result<OptStrSlices<'a>, Error> {
        let present = self.take(n)?;
        let strings = self.strings(n)?;
        Ok(OptStrSlices { present, strings })
    }

    fn finish(&self) -> Result<(), Error> {
        if self.i == self.b.len() { Ok(()) } else { Err(bad_batch("trailing bytes")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, reduce};

    fn event(key: &str, kind: EventType, ms: i64, msg: &str) -> Event {
        let mut e = Event::new("ses", kind);
        e.event_key = key.into();
        e.occurred_at = Timestamp::from_millis(ms);
        e.message_id = Some(msg.into());
        e.recipient = Some("ann@example.com".into());
        if kind == EventType::HardBounce {
            e.bounce_class = Some(BounceClass::Hard);
            e.diagnostic = Some("550 5.1.1 no such user".into());
        }
        e
    }

    fn batch_of(events: &[Event], group_of: impl Fn(&Event) -> u32, groups: u32) -> EventBatch {
        let mut b = EventBatch::new(groups);
        for e in events {
            b.push_labelled(
                group_of(e),
                &e.event_key,
                e.kind,
                e.occurred_at,
                e.bounce_class,
                e.diagnostic.as_deref(),
                e.message_id.as_deref(),
                e.recipient.as_deref(),
            );
        }
        b
    }

    #[test]
    fn reduce_of_rows_and_partial_states_equals_reduce_of_all_events() {
        let events = [
            event("k1", EventType::Delivered, 1_000, "m1"),
            event("k2", EventType::HardBounce, 2_000, "m2"),
            event("k3", EventType::Open, 3_000, "m1"),
            event("k2", EventType::HardBounce, 2_000, "m2"),
            event("k4", EventType::Open, 4_000, "m2"),
            event("k5", EventType::Click, 500, "m1"),
        ];
        let group = |e: &Event| u32::from(e.message_id.as_deref() == Some("m2"));
        // Rows 0..3 arrive here; rows 3.. were folded elsewhere and arrive as states.
        let rows = batch_of(&events[..3], group, 2);
        let elsewhere = States::from_bytes(
            dispatch("batch.fold", &batch_of(&events[3..], group, 2).encode()).unwrap(),
        )
        .unwrap();
        let mut partials = StateBatch::new(2);
        for g in 0..2 {
            partials.push(g, elsewhere.get(g as usize).unwrap());
        }
        let expected = reduce(&events);
        let batch = ReduceBatch::new(&rows, &partials);

        let states = States::from_bytes(
            dispatch("batch.reduce", &batch.encode(ReduceOutput::States)).unwrap(),
        )
        .unwrap();
        assert!(states.errors().is_empty());
        assert_eq!(states.decode(0).unwrap(), expected[0]);
        assert_eq!(states.decode(1).unwrap(), expected[1]);

        let views = Views::from_bytes(
            &dispatch("batch.reduce", &batch.encode(ReduceOutput::Views)).unwrap(),
        )
        .unwrap();
        assert!(views.errors().is_empty());
        assert_eq!(views.into_views(), vec![expected[0].view(), expected[1].view()]);
    }

    #[test]
    fn views_layout_carries_every_field_of_the_view() {
        // A hard bounce with a diagnostic, labels, late events and absent times.
        let mut events = vec![
            event("b", EventType::HardBounce, 2_000, "m1"),
            event("o", EventType::Open, 3_000, "m1"),
            event("c", EventType::Click, 4_000, "m1"),
        ];
        let mut untimed = event("d", EventType::Deferred, 0, "m1");
        untimed.occurred_at = None;
        events.push(untimed);
        let rows = batch_of(&events, |_| 0, 1);
        let views = Views::from_bytes(
            &dispatch(
                "batch.reduce",
                &ReduceBatch::new(&rows, &StateBatch::new(1)).encode(ReduceOutput::Views),
            )
            .unwrap(),
        )
        .unwrap();
        let expected = reduce(&events)[0].view();
        assert_eq!(expected.late_event_count, 2);
        assert_eq!(expected.diagnostic.as_deref(), Some("550 5.1.1 no such user"));
        assert_eq!(views.get(0), Some(&expected));
    }

    #[test]
    fn reduce_refuses_rows_and_states_of_different_group_counts() {
        let rows = batch_of(&[event("k1", EventType::Open, 1, "m1")], |_| 0, 1);
        let err = dispatch(
            "batch.reduce",
            &ReduceBatch::new(&rows, &StateBatch::new(2)).encode(ReduceOutput::States),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
        assert!(err.message().contains("1 groups") && err.message().contains('2'), "{err}");
    }

    #[test]
    fn reduce_numbers_bad_states_after_the_rows() {
        let rows = batch_of(
            &[event("k1", EventType::Open, 1, "m1"), event("k2", EventType::Open, 2, "m1")],
            |_| 0,
            1,
        );
        let mut partials = StateBatch::new(1);
        partials.push(0, b"not a state");
        let states = States::from_bytes(
            dispatch(
                "batch.reduce",
                &ReduceBatch::new(&rows, &partials).encode(ReduceOutput::States),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(states.errors().len(), 1);
        assert_eq!(states.errors()[0].0, 2, "state 0 comes after rows 0 and 1");
        // The good rows still count.
        assert_eq!(states.decode(0).unwrap().len(), 2);
        // Views are answered from a flat store: the same numbering, the same rows.
        let views = Views::from_bytes(
            &dispatch(
                "batch.reduce",
                &ReduceBatch::new(&rows, &partials).encode(ReduceOutput::Views),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(views.errors().len(), 1);
        assert_eq!(views.errors()[0].0, 2);
        assert_eq!(views.get(0).map(|v| v.event_count), Some(2));
    }

    #[test]
    fn views_from_truncated_bytes_is_an_error_not_a_panic() {
        let rows = batch_of(&[event("k1", EventType::HardBounce, 1, "m1")], |_| 0, 1);
        let full = dispatch(
            "batch.reduce",
            &ReduceBatch::new(&rows, &StateBatch::new(1)).encode(ReduceOutput::Views),
        )
        .unwrap();
        for cut in 0..full.len() {
            assert!(Views::from_bytes(&full[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Views::from_bytes(&full).is_ok());
    }

    #[test]
    fn fold_equals_reduce_per_group() {
        let events = [
            event("k1", EventType::Delivered, 1_000, "m1"),
            event("k2", EventType::HardBounce, 2_000, "m2"),
            event("k3", EventType::Open, 3_000, "m1"),
            event("k2", EventType::HardBounce, 2_000, "m2"),
            event("k4", EventType::Open, 4_000, "m2"),
        ];
        let b = batch_of(&events, |e| u32::from(e.message_id.as_deref() == Some("m2")), 2);
        let states = States::from_bytes(dispatch("batch.fold", &b.encode()).unwrap()).unwrap();
        assert!(states.errors().is_empty());
        let expected = reduce(&events);
        assert_eq!(states.len(), 2);
        assert_eq!(states.decode(0).unwrap(), expected[0]);
        assert_eq!(states.decode(1).unwrap(), expected[1]);
    }

    #[test]
    fn merge_of_split_batches_equals_fold_of_all() {
        let events: Vec<Event> = (0..40)
            .map(|i| {
                let kind = EventType::ALL[i % 12];
                event(
                    &format!("k{}", i % 17),
                    kind,
                    i64::try_from(i).unwrap() * 10,
                    &format!("m{}", i % 3),
                )
            })
            .collect();
        let group = |e: &Event| e.message_id.as_deref().unwrap()[1..].parse::<u32>().unwrap();
        let whole = States::from_bytes(
            dispatch("batch.fold", &batch_of(&events, group, 3).encode()).unwrap(),
        )
        .unwrap();
        let left = States::from_bytes(
            dispatch("batch.fold", &batch_of(&events[..25], group, 3).encode()).unwrap(),
        )
        .unwrap();
        let right = States::from_bytes(
            dispatch("batch.fold", &batch_of(&events[25..], group, 3).encode()).unwrap(),
        )
        .unwrap();
        let mut sb = StateBatch::new(3);
        for g in 0..3u32 {
            sb.push(g, right.get(g as usize).unwrap());
            sb.push(g, left.get(g as usize).unwrap());
        }
        let merged = States::from_bytes(dispatch("batch.merge", &sb.encode()).unwrap()).unwrap();
        assert_eq!(merged, whole);
    }

    #[test]
    fn a_bad_row_is_reported_and_the_others_still_count() {
        let events =
            [event("k1", EventType::Delivered, 1, "m"), event("k2", EventType::Open, 2, "m")];
        let mut bytes = batch_of(&events, |_| 0, 1).encode();
        // The type column starts after the header (9 bytes) and the group column (8 bytes).
        bytes[9 + 8] = 200;
        let states = States::from_bytes(dispatch("batch.fold", &bytes).unwrap()).unwrap();
        assert_eq!(states.errors().len(), 1);
        assert_eq!(states.errors()[0].0, 0);
        assert_eq!(states.errors()[0].1.code(), "invalid_value");
        let s = states.decode(0).unwrap();
        assert_eq!(s.len(), 1);
        assert!(s.events().any(|(k, _)| k == "k2"));
    }

    #[test]
    fn truncated_batches_fail_as_a_whole_at_every_length() {
        let events = [event("k1", EventType::HardBounce, 1, "m")];
        let bytes = batch_of(&events, |_| 0, 1).encode();
        for n in 0..bytes.len() {
            assert!(dispatch("batch.fold", &bytes[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn group_out_of_range_fails_the_batch() {
        let events = [event("k1", EventType::Open, 1, "m")];
        let err = dispatch("batch.fold", &batch_of(&events, |_| 5, 2).encode()).unwrap_err();
        assert!(err.message().contains("out of range"), "{err}");
    }

    #[test]
    fn view_reports_bad_states_by_index() {
        let good = reduce(&[event("k1", EventType::Open, 1, "m")])[0].encode();
        let out = dispatch("batch.view", &encode_state_list([good.as_slice(), b"\x09"])).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["views"][0]["status"], "open");
        assert_eq!(v["views"][1], Value::Null);
        assert_eq!(v["errors"][0]["index"], 1);
    }
}
