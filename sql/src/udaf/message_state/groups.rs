//! The one accumulator of `message_state`, for any rules: [`Groups`] for GROUP BY, [`One`] for
//! a single group (no GROUP BY, windows). Both read the argument columns, apply FILTER and
//! NULL rules, and leave every decision about states to a [`Store`]: native rules keep a
//! `MessageState` per group ([`super::native`]); rules behind the plugin boundary buffer rows
//! and cross it once per chunk of groups at emit ([`super::plugin`]).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BinaryBuilder, BooleanArray};
use datafusion::error::Result;
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};
use datafusion::scalar::ScalarValue;
use mailstate_core::{EventFactsRef, StateView};

use super::{Inputs, ViewColumns, binary};
use crate::udaf::passes;

/// Where the states of an accumulator's groups live, and the rules that fold them.
pub(super) trait Store: Send + Sync + 'static {
    /// An empty store with the same rules.
    fn empty(&self) -> Self
    where
        Self: Sized;
    /// Make groups `0..n` exist (groups only ever grow between emits).
    fn resize(&mut self, n: usize);
    /// How many groups exist.
    fn len(&self) -> usize;
    /// How many groups `emit_to` names.
    fn emitted(&self, emit_to: EmitTo) -> usize {
        match emit_to {
            EmitTo::All => self.len(),
            EmitTo::First(n) => n.min(self.len()),
        }
    }
    /// Add one event to group `g`.
    ///
    /// # Errors
    /// When `g` is out of range for the store.
    fn add_event(&mut self, g: usize, key: &str, facts: EventFactsRef<'_>) -> Result<()>;
    /// Merge an encoded partial state into group `g`.
    ///
    /// # Errors
    /// When the state does not decode.
    fn add_state(&mut self, g: usize, state: &[u8]) -> Result<()>;
    /// The views of the groups `emit_to` names, in group order, to `sink`; those groups
    /// leave the store (the others move down).
    ///
    /// # Errors
    /// When the rules fail or refuse a row or state.
    fn take_views(&mut self, emit_to: EmitTo, sink: &mut dyn FnMut(StateView)) -> Result<()>;
    /// The encoded states of the groups `emit_to` names, in group order, to `sink`; those
    /// groups leave the store.
    ///
    /// # Errors
    /// As [`Store::take_views`].
    fn take_states(&mut self, emit_to: EmitTo, sink: &mut dyn FnMut(&[u8])) -> Result<()>;
    /// After the last event: the views of the next `n` groups (fewer when fewer are left),
    /// in group order, to `sink`; how many. The first call ends the input: the store takes
    /// no more events, and gives its memory back when the last view is out. For an output
    /// built a batch at a time (`crate::single_phase`), where `take_views(EmitTo::All)` would
    /// build every group's output at once.
    ///
    /// # Errors
    /// As [`Store::take_views`].
    fn drain_views(&mut self, n: usize, sink: &mut dyn FnMut(StateView)) -> Result<usize>;
    /// Heap bytes held, for DataFusion's memory accounting.
    fn size(&self) -> usize;
}

/// Many groups: the normal case (one group per message).
pub(super) struct Groups<S> {
    store: S,
}

impl<S: Store> Groups<S> {
    pub(super) fn new(store: S) -> Groups<S> {
        Groups { store }
    }
}

/// The encoded states of the groups `emit_to` names, as a binary column; `present[i]` false
/// makes row `i` NULL (a row without an event: merging it changes nothing).
fn binary_column<S: Store>(
    store: &mut S,
    emit_to: EmitTo,
    present: Option<&[bool]>,
) -> Result<ArrayRef> {
    let mut out = BinaryBuilder::new();
    let mut i = 0;
    store.take_states(emit_to, &mut |s| {
        if present.is_none_or(|p| p[i]) {
            out.append_value(s);
        } else {
            out.append_null();
        }
        i += 1;
    })?;
    Ok(Arc::new(out.finish()))
}

/// The views of the groups `emit_to` names, as the struct column `message_state` returns.
fn view_column<S: Store>(store: &mut S, emit_to: EmitTo) -> Result<ArrayRef> {
    let mut out = ViewColumns::with_capacity(store.emitted(emit_to));
    store.take_views(emit_to, &mut |v| out.push(&v))?;
    out.finish()
}

impl<S: Store> GroupsAccumulator for Groups<S> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.store.resize(total_num_groups);
        let inputs = Inputs::new(values)?;
        for (row, &g) in group_indices.iter().enumerate() {
            if !passes(opt_filter, row) {
                continue;
            }
            if let Some((key, facts)) = inputs.event(row)? {
                self.store.add_event(g, key, facts)?;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        view_column(&mut self.store, emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![binary_column(&mut self.store, emit_to, None)?])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.store.resize(total_num_groups);
        let encoded = binary(values)?;
        for (row, &g) in group_indices.iter().enumerate() {
            if encoded.is_valid(row) {
                self.store.add_state(g, encoded.value(row))?;
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row its own group, in a store of its own.
        let inputs = Inputs::new(values)?;
        let n = values.first().map_or(0, Array::len);
        let mut rows = self.store.empty();
        rows.resize(n);
        let mut present = vec![false; n];
        for (row, seen) in present.iter_mut().enumerate() {
            if let Some((key, facts)) = inputs.event(row)?.filter(|_| passes(opt_filter, row)) {
                rows.add_event(row, key, facts)?;
                *seen = true;
            }
        }
        Ok(vec![binary_column(&mut rows, EmitTo::All, Some(&present))?])
    }

    fn size(&self) -> usize {
        self.store.size()
    }
}

/// `message_state`'s groups for an operator that numbers groups itself and builds its output
/// a batch at a time (`crate::single_phase`): the accumulator's update and size, then the
/// output column chunk by chunk ([`Store::drain_views`]) instead of `evaluate`.
pub(crate) trait ViewGroups: GroupsAccumulator {
    /// After the last update: the output column of the next `n` groups (fewer when fewer
    /// are left; empty at the end), in group order.
    ///
    /// # Errors
    /// When the rules fail.
    fn next_column(&mut self, n: usize) -> Result<ArrayRef>;
}

impl<S: Store> ViewGroups for Groups<S> {
    fn next_column(&mut self, n: usize) -> Result<ArrayRef> {
        let mut out = ViewColumns::with_capacity(n.min(self.store.len()));
        self.store.drain_views(n, &mut |v| out.push(&v))?;
        out.finish()
    }
}

/// One group (no GROUP BY, or a window frame): group 0 of a store.
pub(super) struct One<S> {
    store: S,
}

impl<S: Store> One<S> {
    pub(super) fn new(mut store: S) -> One<S> {
        store.resize(1);
        One { store }
    }

    /// The group's state so far, kept: `evaluate` may be called again with more rows.
    fn state_kept(&mut self) -> Result<Vec<u8>> {
        let mut state = Vec::new();
        self.store.take_states(EmitTo::All, &mut |s| state = s.to_vec())?;
        self.store.resize(1);
        self.store.add_state(0, &state)?;
        Ok(state)
    }
}

impl<S> std::fmt::Debug for One<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("One").finish_non_exhaustive()
    }
}

impl<S: Store> Accumulator for One<S> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let inputs = Inputs::new(values)?;
        for row in 0..values.first().map_or(0, Array::len) {
            if let Some((key, facts)) = inputs.event(row)? {
                self.store.add_event(0, key, facts)?;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let state = self.state_kept()?;
        let mut view = self.store.empty();
        view.resize(1);
        view.add_state(0, &state)?;
        ScalarValue::try_from_array(&view_column(&mut view, EmitTo::All)?, 0)
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.store.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.state_kept()?))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let encoded = binary(states)?;
        for row in 0..encoded.len() {
            if encoded.is_valid(row) {
                self.store.add_state(0, encoded.value(row))?;
            }
        }
        Ok(())
    }
}
