//! Groups with the rules compiled in, in flat columnar storage: every group's distinct events
//! are fixed records in one vector (each group a chain through it) with their keys and
//! diagnostics in one text buffer, so a group costs one `u32` and no allocation of its own,
//! and an event 32 bytes plus its key. A group's `MessageState` (core's rules) is built only
//! when the group is emitted, one group at a time.

use datafusion::error::Result;
use datafusion::logical_expr::EmitTo;
use mailstate_core::{EventFactsRef, MessageState, Timestamp};

use super::groups::Store;
use super::{NAME, core_error};

/// No record: the end of a chain, or a group without events.
const NONE: u32 = u32::MAX;
/// A time that is not there (below every valid timestamp).
const NO_TIME: i64 = i64::MIN;
/// A diagnostic that is not there.
const NO_DIAG: u32 = u32::MAX;
/// A group's chain is searched for a duplicate key only up to this many records; a longer
/// chain (a group with very many events) takes the record as it is, and the duplicate is
/// dropped when the group is emitted (core's state keeps each key once). Keeps an insert
/// O(1) per row.
const DEDUPE_DEPTH: u32 = 64;

/// One event of one group: its facts, the previous record of its group, and where its key
/// (then its diagnostic) is in the text.
#[derive(Clone, Copy)]
struct Rec {
    at: i64,
    next: u32,
    start: u32,
    key_len: u32,
    diag_len: u32,
    kind: mailstate_core::EventType,
    class: Option<mailstate_core::BounceClass>,
    automated: Option<mailstate_core::Automated>,
    category: Option<mailstate_core::BounceCategory>,
}

#[derive(Default)]
pub(super) struct NativeStore {
    /// Per group: its newest record, or [`NONE`].
    heads: Vec<u32>,
    recs: Vec<Rec>,
    text: String,
}

fn len_u32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| {
        datafusion::error::DataFusionError::ResourcesExhausted(format!(
            "{NAME}: more than 4 GiB of event keys in one accumulator"
        ))
    })
}

impl NativeStore {
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

    /// Add `key` with `facts` to group `g`: replaces the facts of the same key when they are
    /// greater (the rule of core's `MessageState::insert`), or appends a record.
    fn push(&mut self, g: usize, key: &str, facts: EventFactsRef<'_>) -> Result<()> {
        let mut i = self.heads[g];
        let mut depth = 0;
        while i != NONE && depth < DEDUPE_DEPTH {
            let r = self.recs[i as usize];
            if self.key(&r) == key {
                if facts > self.facts(&r) {
                    // Rare (one key, two different facts): the old text stays behind.
                    let mut new = self.record(key, facts)?;
                    new.next = r.next;
                    self.recs[i as usize] = new;
                }
                return Ok(());
            }
            i = r.next;
            depth += 1;
        }
        let mut rec = self.record(key, facts)?;
        rec.next = self.heads[g];
        self.heads[g] = len_u32(self.recs.len())?;
        self.recs.push(rec);
        Ok(())
    }

    fn record(&mut self, key: &str, facts: EventFactsRef<'_>) -> Result<Rec> {
        let start = len_u32(self.text.len())?;
        self.text.push_str(key);
        if let Some(d) = facts.diagnostic {
            self.text.push_str(d);
        }
        len_u32(self.text.len())?;
        Ok(Rec {
            at: facts.occurred_at.map_or(NO_TIME, Timestamp::as_millis),
            next: NONE,
            start,
            key_len: len_u32(key.len())?,
            diag_len: facts.diagnostic.map_or(Ok(NO_DIAG), |d| len_u32(d.len()))?,
            kind: facts.kind,
            class: facts.bounce_class,
            automated: facts.automated,
            category: facts.bounce_category,
        })
    }

    /// Group `g`'s state, built by core from its records.
    fn state_of(&self, g: usize) -> MessageState {
        let mut s = MessageState::default();
        let mut i = self.heads[g];
        while i != NONE {
            let r = &self.recs[i as usize];
            s.insert_ref(self.key(r), self.facts(r));
            i = r.next;
        }
        s
    }

    /// Hand the states of the groups `emit_to` names to `sink`, in group order, and remove
    /// them (the other groups move down).
    fn take(&mut self, emit_to: EmitTo, mut sink: impl FnMut(MessageState)) -> Result<()> {
        let n = match emit_to {
            EmitTo::All => self.heads.len(),
            EmitTo::First(n) => n.min(self.heads.len()),
        };
        for g in 0..n {
            sink(self.state_of(g));
        }
        if n == self.heads.len() {
            *self = NativeStore::default();
            return Ok(());
        }
        // Keep groups n.. in fresh storage (EmitTo::First is rare: ordered input).
        let old = std::mem::take(self);
        let rest = old.heads.len() - n;
        self.heads = vec![NONE; rest];
        for g in n..old.heads.len() {
            let mut i = old.heads[g];
            while i != NONE {
                let r = &old.recs[i as usize];
                self.push(g - n, old.key(r), old.facts(r))?;
                i = r.next;
            }
        }
        Ok(())
    }
}

impl Store for NativeStore {
    fn empty(&self) -> NativeStore {
        NativeStore::default()
    }

    fn resize(&mut self, n: usize) {
        if n > self.heads.len() {
            self.heads.resize(n, NONE);
        }
    }

    fn add_event(&mut self, g: usize, key: &str, facts: EventFactsRef<'_>) -> Result<()> {
        self.push(g, key, facts)
    }

    fn add_state(&mut self, g: usize, state: &[u8]) -> Result<()> {
        let other = MessageState::decode(state).map_err(|e| core_error(NAME, &e))?;
        for (k, f) in other.events() {
            self.push(g, k, f)?;
        }
        Ok(())
    }

    fn take_views(
        &mut self,
        emit_to: EmitTo,
        sink: &mut dyn FnMut(mailstate_core::StateView),
    ) -> Result<()> {
        self.take(emit_to, |s| sink(s.view()))
    }

    fn take_states(&mut self, emit_to: EmitTo, sink: &mut dyn FnMut(&[u8])) -> Result<()> {
        self.take(emit_to, |s| sink(&s.encode()))
    }

    fn size(&self) -> usize {
        // Everything this store holds is in these three buffers.
        self.heads.capacity() * size_of::<u32>()
            + self.recs.capacity() * size_of::<Rec>()
            + self.text.capacity()
    }
}
