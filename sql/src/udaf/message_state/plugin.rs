//! Groups with the rules behind a boundary (the wasm plugin): rows are kept as they arrive and
//! cross the boundary once, at emit, in chunks of whole groups, together with the partial
//! states other partitions sent (`batch.reduce`). The store itself applies no rule: it only
//! buffers.

use std::collections::VecDeque;
use std::ops::Range;

use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::EmitTo;
use mailstate_core::batch::chunk_ranges;
use mailstate_core::batch::{EventBatch, ReduceBatch, StateBatch};
use mailstate_core::{EventFactsRef, EventLog, StateView};

use super::groups::Store;
use super::{NAME, core_error};
use crate::rules::SqlRules;

/// Rows plus states per `batch.reduce` call: large enough that the boundary is crossed
/// rarely, small enough to stay far below the plugin's memory limit.
const CHUNK: usize = 32 * 1024;

pub(super) struct RulesStore {
    rules: SqlRules,
    /// The events in arrival order.
    rows: Rows,
    /// (group, encoded state) from `merge_batch`.
    partials: Vec<(u32, Vec<u8>)>,
    groups: usize,
    bytes: usize,
    /// Once the input ended ([`Store::drain_views`]): the groups being reduced, and views
    /// reduced and not yet handed out (at most a chunk's).
    drain: Option<(Reduction, VecDeque<StateView>)>,
}

#[derive(Clone, Copy)]
enum Item {
    Row(usize),
    State(usize),
}

/// What [`RulesStore::take`] removes: the number of groups, their rows and their states.
type Taken = (usize, Rows, Vec<(u32, Vec<u8>)>);

/// Buffered events: core's [`EventLog`] (a fixed record each, keys and diagnostics in one
/// text buffer; a `String` per key cost an allocation per row and about twice the memory) and
/// each event's group beside it.
#[derive(Default)]
struct Rows {
    groups: Vec<u32>,
    events: EventLog,
}

impl Rows {
    fn len(&self) -> usize {
        self.groups.len()
    }

    fn push(&mut self, group: u32, key: &str, facts: EventFactsRef<'_>) -> Result<()> {
        self.events.push(key, facts).map_err(|e| core_error(NAME, &e))?;
        self.groups.push(group);
        Ok(())
    }

    /// Row `i`: its group, key and facts.
    fn get(&self, i: usize) -> Option<(u32, &str, EventFactsRef<'_>)> {
        let (key, facts) = self.events.get(i)?;
        Some((*self.groups.get(i)?, key, facts))
    }

    fn bytes(&self) -> usize {
        self.groups.capacity() * size_of::<u32>() + self.events.heap_bytes()
    }
}

fn group_u32(g: usize) -> Result<u32> {
    u32::try_from(g).map_err(|_| {
        DataFusionError::Execution(format!("{NAME}: more than 2^32 groups in one accumulator"))
    })
}

impl RulesStore {
    pub(super) fn new(rules: SqlRules) -> RulesStore {
        RulesStore {
            rules,
            rows: Rows::default(),
            partials: Vec::new(),
            groups: 0,
            bytes: 0,
            drain: None,
        }
    }

    /// Take the rows and states of the first `n` groups (all for `EmitTo::All`), shifting the
    /// others down.
    fn take(&mut self, emit_to: EmitTo) -> Taken {
        match emit_to {
            EmitTo::All => {
                let n = std::mem::take(&mut self.groups);
                self.bytes = 0;
                (n, std::mem::take(&mut self.rows), std::mem::take(&mut self.partials))
            }
            EmitTo::First(n) => {
                let cut = u32::try_from(n).unwrap_or(u32::MAX);
                let old = std::mem::take(&mut self.rows);
                let mut rows = Rows::default();
                for (g, key, facts) in (0..old.len()).filter_map(|i| old.get(i)) {
                    // Each half holds less text than the whole did: these pushes fit.
                    let _ = if g < cut {
                        rows.push(g, key, facts)
                    } else {
                        self.rows.push(g - cut, key, facts)
                    };
                }
                let (partials, kept): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut self.partials).into_iter().partition(|p| p.0 < cut);
                self.partials = kept.into_iter().map(|(g, b)| (g - cut, b)).collect();
                self.groups = self.groups.saturating_sub(n);
                self.bytes = self.partials.iter().map(|(_, b)| b.len()).sum::<usize>();
                (n, rows, partials)
            }
        }
    }
}

/// Taken groups' rows and states in group order, reduced a chunk of whole groups at a time.
struct Reduction {
    rows: Rows,
    partials: Vec<(u32, Vec<u8>)>,
    /// Per group, where its items start in `order` (and the end, last).
    starts: Vec<usize>,
    order: Vec<Item>,
    chunks: std::vec::IntoIter<Range<usize>>,
}

impl Reduction {
    fn new((n, rows, partials): Taken) -> Reduction {
        // Counting sort of row and state indices by group.
        let mut starts = vec![0usize; n + 1];
        for &g in &rows.groups {
            starts[g as usize + 1] += 1;
        }
        for (g, _) in &partials {
            starts[*g as usize + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut order = vec![Item::Row(0); rows.len() + partials.len()];
        for (i, &g) in rows.groups.iter().enumerate() {
            order[next[g as usize]] = Item::Row(i);
            next[g as usize] += 1;
        }
        for (i, (g, _)) in partials.iter().enumerate() {
            order[next[*g as usize]] = Item::State(i);
            next[*g as usize] += 1;
        }
        let sizes: Vec<usize> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        let chunks = chunk_ranges(&sizes, CHUNK).into_iter();
        Reduction { rows, partials, starts, order, chunks }
    }

    /// Heap bytes held (states' bytes included).
    fn bytes(&self) -> usize {
        self.rows.bytes()
            + self
                .partials
                .iter()
                .map(|(_, b)| b.len() + size_of::<(u32, Vec<u8>)>())
                .sum::<usize>()
            + self.starts.capacity() * size_of::<usize>()
            + self.order.capacity() * size_of::<Item>()
    }

    /// Reduce the next chunk of groups with `call`, which hands on one item per group of the
    /// chunk and says how many it handed on; `false` when no chunk was left.
    fn next_chunk(
        &mut self,
        rules: &SqlRules,
        call: impl FnOnce(&ReduceBatch<'_>) -> Result<usize>,
    ) -> Result<bool> {
        let Some(Range { start: first, end: last }) = self.chunks.next() else {
            return Ok(false);
        };
        let count = u32::try_from(last - first).unwrap_or(u32::MAX);
        let mut events = EventBatch::new(count);
        let mut states = StateBatch::new(count);
        let base = u32::try_from(first).unwrap_or(u32::MAX);
        for item in &self.order[self.starts[first]..self.starts[last]] {
            match *item {
                Item::Row(i) => {
                    if let Some((g, key, facts)) = self.rows.get(i) {
                        events.push_facts_ref(g - base, key, facts);
                    }
                }
                Item::State(i) => states.push(self.partials[i].0 - base, &self.partials[i].1),
            }
        }
        let answered = call(&ReduceBatch::new(&events, &states))?;
        if answered != last - first {
            return Err(DataFusionError::Execution(format!(
                "{NAME}: rules {} answered {} groups for {}",
                rules.describe(),
                answered,
                last - first
            )));
        }
        Ok(true)
    }
}

impl Store for RulesStore {
    fn empty(&self) -> RulesStore {
        RulesStore::new(self.rules.clone())
    }

    fn resize(&mut self, n: usize) {
        self.groups = self.groups.max(n);
    }

    fn len(&self) -> usize {
        self.groups
    }

    fn add_event(&mut self, g: usize, key: &str, facts: EventFactsRef<'_>) -> Result<()> {
        self.rows.push(group_u32(g)?, key, facts)
    }

    fn add_state(&mut self, g: usize, state: &[u8]) -> Result<()> {
        self.bytes += state.len() + size_of::<(u32, Vec<u8>)>();
        self.partials.push((group_u32(g)?, state.to_vec()));
        Ok(())
    }

    fn take_views(&mut self, emit_to: EmitTo, sink: &mut dyn FnMut(StateView)) -> Result<()> {
        let mut reduction = Reduction::new(self.take(emit_to));
        while reduction.next_chunk(&self.rules, |batch| {
            let views = self.rules.reduce_views(NAME, batch)?.into_views();
            let n = views.len();
            views.into_iter().for_each(&mut *sink);
            Ok(n)
        })? {}
        Ok(())
    }

    fn take_states(&mut self, emit_to: EmitTo, sink: &mut dyn FnMut(&[u8])) -> Result<()> {
        let mut reduction = Reduction::new(self.take(emit_to));
        while reduction.next_chunk(&self.rules, |batch| {
            let states = self.rules.reduce_states(NAME, batch)?;
            let n = states.len();
            states.iter().for_each(&mut *sink);
            Ok(n)
        })? {}
        Ok(())
    }

    fn drain_views(&mut self, n: usize, sink: &mut dyn FnMut(StateView)) -> Result<usize> {
        if self.drain.is_none() {
            self.drain = Some((Reduction::new(self.take(EmitTo::All)), VecDeque::new()));
        }
        let Some((reduction, ready)) = &mut self.drain else { return Ok(0) };
        while ready.len() < n
            && reduction.next_chunk(&self.rules, |batch| {
                let views = self.rules.reduce_views(NAME, batch)?.into_views();
                let answered = views.len();
                ready.extend(views);
                Ok(answered)
            })?
        {}
        let out = ready.len().min(n);
        ready.drain(..out).for_each(sink);
        Ok(out)
    }

    fn size(&self) -> usize {
        let draining = self.drain.as_ref().map_or(0, |(reduction, ready)| {
            reduction.bytes() + ready.capacity() * size_of::<StateView>()
        });
        self.bytes
            + self.rows.bytes()
            + self.partials.capacity() * size_of::<(u32, Vec<u8>)>()
            + draining
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailstate_core::{EventType, MessageState, Timestamp};

    #[test]
    fn emitting_the_first_groups_hands_them_over_and_shifts_the_others_down() {
        let mut store = RulesStore::new(SqlRules::native());
        let mut want = vec![MessageState::default(); 4];
        let kinds = [EventType::Delivered, EventType::Open, EventType::HardBounce];
        for i in 0..40_u32 {
            let g = (i * 7 % 4) as usize;
            let key = format!("k{}", i % 9);
            let diagnostic = (i % 3 == 2).then_some("550 5.1.1 unknown");
            let at = Timestamp::from_millis(i64::from(i));
            let facts = EventFactsRef::new(kinds[(i % 3) as usize], at, None, diagnostic);
            store.resize(g + 1);
            store.add_event(g, &key, facts).unwrap();
            want[g].insert_ref(&key, facts);
        }
        let mut views = Vec::new();
        store.take_views(EmitTo::First(2), &mut |v| views.push(v)).unwrap();
        store.take_views(EmitTo::All, &mut |v| views.push(v)).unwrap();
        let want: Vec<_> = want.iter().map(MessageState::view).collect();
        assert_eq!(views, want);
    }

    #[test]
    fn draining_over_many_chunks_gives_every_view_once_in_group_order() {
        // More rows than one reduction chunk holds, drained in pieces that do not line up
        // with the chunks: the same views as taking them all at once.
        let rows = CHUNK * 2 + 777;
        let groups = rows / 6;
        let fill = |store: &mut RulesStore| {
            store.resize(groups);
            for i in 0..rows {
                let g = i * 7919 % groups;
                let kind = [EventType::Delivered, EventType::Open, EventType::Click][i % 3];
                let at = Timestamp::from_millis(i64::try_from(i).unwrap());
                let facts = EventFactsRef::new(kind, at, None, None);
                store.add_event(g, &format!("k{}", i % (rows / 2)), facts).unwrap();
            }
        };
        let mut all = RulesStore::new(SqlRules::native());
        fill(&mut all);
        let mut want = Vec::new();
        all.take_views(EmitTo::All, &mut |v| want.push(v)).unwrap();
        assert_eq!(want.len(), groups);

        let mut drained = RulesStore::new(SqlRules::native());
        fill(&mut drained);
        let mut got = Vec::new();
        let mut pieces = 0;
        while drained.drain_views(1000, &mut |v| got.push(v)).unwrap() > 0 {
            pieces += 1;
        }
        assert_eq!(pieces, groups.div_ceil(1000));
        assert_eq!(got, want);
        assert_eq!(drained.drain_views(1000, &mut |_| panic!("all out")).unwrap(), 0);
    }
}
