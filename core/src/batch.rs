//! Binary batches: many events' facts in, encoded [`MessageState`]s out, in one call.
//!
//! The JSON ops of [`crate::wire`] are convenient but cost a parse per field. A SQL engine
//! aggregates message state over millions of rows in batches of a few thousand, so it needs a
//! form whose cost per row is a few loads and one map insert, and that crosses a wasm boundary
//! once per batch. This module is that form, shared by the native rules and the wasm plugin:
//! the same bytes in give the same bytes out in both.
//!
//! Three ops (called through [`crate::wire::call_binary`]):
//!
//! | op | input | output |
//! |---|---|---|
//! | `batch.fold` | an [`EventBatch`] | [`States`]: one state per group, built from its rows |
//! | `batch.merge` | a [`StateBatch`] | [`States`]: one state per group, the merge of its states |
//! | `batch.view` | a state list ([`encode_state_list`]) | JSON `{"views": [StateView \| null], "errors": [...]}` |
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
//! u8        version (1)
//! u32       n   rows
//! u32       g   groups
//! [u32; n]  group of each row, < g
//! [u8; n]   event type: index in EventType::ALL (0 complaint … 10 unknown, 11 resubscribe)
//! [u8; n]   bounce class: 0 none, 1 hard, 2 soft, 3 block, 4 undetermined
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
//! **`States`** (`batch.fold` and `batch.merge` output): `u8` version, `u32 g`, then `g` times a
//! `u32` length and an encoded state (a group with no rows gets the empty state), then
//! `u32 e` errors, each a `u32` row (or state) index, a `u32` length and a JSON error object
//! `{"code", "message", "path"?}` as in the JSON envelope.
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
use crate::{BounceClass, EventFacts, EventType, MessageState, Timestamp};

/// The version byte that starts every batch layout of this module.
pub const BATCH_VERSION: u8 = 1;

/// The binary ops of [`crate::wire::call_binary`].
pub const BINARY_OPS: [&str; 3] = ["batch.fold", "batch.merge", "batch.view"];

/// Columns of event facts with a group per row: the input of `batch.fold`.
///
/// Build it row by row with [`EventBatch::push`], then [`EventBatch::encode`] it (or pass it
/// to [`crate::Rules::fold`]).
///
/// # Example
/// ```
/// use mailstate_core::{EventBatch, EventType, Rules, NativeRules, Timestamp};
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
        self.kind.push(type_index(kind));
        self.bounce.push(bounce_byte(bounce_class));
        self.time_present.push(u8::from(occurred_at.is_some()));
        self.time.push(occurred_at.map_or(0, Timestamp::as_millis));
        self.key.push(event_key);
        self.diagnostic.push(diagnostic);
        self.message_id.push(message_id);
        self.recipient.push(recipient);
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
        let e = r.count()?;
        let mut errors = Vec::with_capacity(e.min(bytes.len()));
        for _ in 0..e {
            let row = r.u32()?;
            let len = r.count()?;
            let obj: Value = serde_json::from_slice(r.take(len)?)
                .map_err(|_| bad_batch("error object is not json"))?;
            errors.push((row, crate::wire::error_from_json(&obj, None)));
        }
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

/// Run one binary op on its input; `Err` for an unknown op or a broken batch.
pub(crate) fn dispatch(op: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
    match op {
        "batch.fold" => fold(input),
        "batch.merge" => merge(input),
        "batch.view" => view(input),
        other => Err(Error::new(
            ErrorKind::UnknownOp,
            format!("unknown binary op {other:?}, expected one of {}", BINARY_OPS.join(", ")),
        )),
    }
}

fn fold(input: &[u8]) -> Result<Vec<u8>, Error> {
    let mut r = Reader::new(input);
    r.version()?;
    let n = r.count()?;
    let g = r.count()?;
    let groups = r.take(n.checked_mul(4).ok_or_else(|| bad_batch("too many rows"))?)?;
    let kinds = r.take(n)?;
    let bounces = r.take(n)?;
    let present = r.take(n)?;
    let times = r.take(n.checked_mul(8).ok_or_else(|| bad_batch("too many rows"))?)?;
    let keys = r.strings(n)?;
    let diagnostics = r.opt_strings(n)?;
    let message_ids = r.opt_strings(n)?;
    let recipients = r.opt_strings(n)?;
    r.finish()?;

    let mut states: Vec<MessageState> = Vec::new();
    states.resize_with(g, MessageState::default);
    let mut errors = Vec::new();
    for row in 0..n {
        let group = le_u32(&groups[row * 4..row * 4 + 4]) as usize;
        let Some(state) = states.get_mut(group) else {
            return Err(bad_batch(&format!("row {row}: group {group} out of range 0..{g}")));
        };
        let labels = message_ids
            .get(row)
            .map_err(|e| e.with_path("message_id"))
            .and_then(|m| Ok((m, recipients.get(row).map_err(|e| e.with_path("recipient"))?)));
        let parsed = labels.and_then(|labels| {
            row_facts(row, kinds, bounces, present, times, &keys, &diagnostics).map(|f| (labels, f))
        });
        match parsed {
            Ok(((message_id, recipient), (key, facts))) => {
                if let Some(m) = message_id {
                    join_label(&mut state.message_id, m);
                }
                if let Some(r) = recipient {
                    join_label(&mut state.recipient, r);
                }
                state.insert(key, facts);
            }
            Err(e) => errors.push((row, e)),
        }
    }
    Ok(write_states(states.iter().map(MessageState::encode), &errors))
}

fn row_facts<'a>(
    row: usize,
    kinds: &[u8],
    bounces: &[u8],
    present: &[u8],
    times: &[u8],
    keys: &StrSlices<'a>,
    diagnostics: &OptStrSlices<'a>,
) -> Result<(&'a str, EventFacts), Error> {
    let kind = *EventType::ALL.get(usize::from(kinds[row])).ok_or_else(|| {
        Error::invalid("type", format!("event type index {} out of range 0..12", kinds[row]))
    })?;
    let bounce_class = match bounces[row] {
        0 => None,
        1 => Some(BounceClass::Hard),
        2 => Some(BounceClass::Soft),
        3 => Some(BounceClass::Block),
        4 => Some(BounceClass::Undetermined),
        other => {
            return Err(Error::invalid("bounce_class", format!("class {other} out of range 0..5")));
        }
    };
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
    Ok((key, EventFacts::new(kind, occurred_at, bounce_class, diagnostic.map(str::to_owned))))
}

fn merge(input: &[u8]) -> Result<Vec<u8>, Error> {
    let mut r = Reader::new(input);
    r.version()?;
    let n = r.count()?;
    let g = r.count()?;
    let groups = r.take(n.checked_mul(4).ok_or_else(|| bad_batch("too many states"))?)?;
    let mut states: Vec<MessageState> = Vec::new();
    states.resize_with(g, MessageState::default);
    let mut errors = Vec::new();
    for i in 0..n {
        let len = r.count()?;
        let bytes = r.take(len)?;
        let group = le_u32(&groups[i * 4..i * 4 + 4]) as usize;
        let Some(state) = states.get_mut(group) else {
            return Err(bad_batch(&format!("state {i}: group {group} out of range 0..{g}")));
        };
        match MessageState::decode(bytes) {
            // Merging into an empty state would clone every event; take the first one whole.
            Ok(s)
                if state.is_empty() && state.message_id.is_none() && state.recipient.is_none() =>
            {
                *state = s;
            }
            Ok(s) => state.merge(&s),
            Err(e) => errors.push((i, e)),
        }
    }
    r.finish()?;
    Ok(write_states(states.iter().map(MessageState::encode), &errors))
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
                let mut obj = crate::wire::error_json(&e);
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
    put_u32(&mut out, errors.len());
    for (row, e) in errors {
        put_u32(&mut out, *row);
        let obj = serde_json::to_vec(&crate::wire::error_json(e)).unwrap_or_default();
        put_u32(&mut out, obj.len());
        out.extend_from_slice(&obj);
    }
    out
}

fn join_label(mine: &mut Option<String>, theirs: &str) {
    if mine.as_deref().is_none_or(|m| theirs > m) {
        *mine = Some(theirs.to_owned());
    }
}

fn type_index(kind: EventType) -> u8 {
    let i = EventType::ALL.iter().position(|k| *k == kind).unwrap_or(0);
    u8::try_from(i).unwrap_or(0)
}

fn bounce_byte(class: Option<BounceClass>) -> u8 {
    match class {
        None => 0,
        Some(BounceClass::Hard) => 1,
        Some(BounceClass::Soft) => 2,
        Some(BounceClass::Block) => 3,
        Some(BounceClass::Undetermined) => 4,
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
