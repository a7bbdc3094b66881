//! Groups with the rules compiled in: core's [`GroupStates`], every group's distinct events
//! in one flat store (a group costs a `u32` and no allocation of its own), each group's
//! view or partial state read from its records when it is emitted, partial states merged
//! as they decode: no `MessageState` is built.

use datafusion::error::Result;
use datafusion::logical_expr::EmitTo;
use mailstate_core::{EventFactsRef, GroupStates, StateView, ViewDrain};

use super::groups::Store;
use super::{NAME, core_error};

#[derive(Default)]
pub(super) struct NativeStore {
    groups: GroupStates,
    /// The groups being drained, once the input ended ([`Store::drain_views`]).
    drain: Option<ViewDrain>,
}

impl Store for NativeStore {
    fn empty(&self) -> NativeStore {
        NativeStore::default()
    }

    fn resize(&mut self, n: usize) {
        self.groups.resize(n);
    }

    fn len(&self) -> usize {
        self.groups.len()
    }

    fn add_event(&mut self, g: usize, key: &str, facts: EventFactsRef<'_>) -> Result<()> {
        self.groups.insert(g, key, facts).map_err(|e| core_error(NAME, &e))
    }

    fn add_state(&mut self, g: usize, state: &[u8]) -> Result<()> {
        self.groups.merge_encoded(g, state).map_err(|e| core_error(NAME, &e))
    }

    fn take_views(&mut self, emit_to: EmitTo, sink: &mut dyn FnMut(StateView)) -> Result<()> {
        let n = self.emitted(emit_to);
        if n >= self.groups.len() {
            // The end of the aggregate: give memory back while the output grows.
            self.groups.drain_views(sink);
            return Ok(());
        }
        self.groups.take_first_views(n, sink).map_err(|e| core_error(NAME, &e))
    }

    fn take_states(&mut self, emit_to: EmitTo, sink: &mut dyn FnMut(&[u8])) -> Result<()> {
        let n = self.emitted(emit_to);
        self.groups.take_first_encoded(n, sink).map_err(|e| core_error(NAME, &e))
    }

    fn drain_views(&mut self, n: usize, sink: &mut dyn FnMut(StateView)) -> Result<usize> {
        let groups = &mut self.groups;
        let drain = self.drain.get_or_insert_with(|| std::mem::take(groups).into_views());
        Ok(drain.next_views(n, sink))
    }

    fn size(&self) -> usize {
        self.groups.heap_bytes() + self.drain.as_ref().map_or(0, ViewDrain::heap_bytes)
    }
}
