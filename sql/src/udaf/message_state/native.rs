//! Groups with the rules compiled in: a `MessageState` per group, each row folded in as it
//! arrives (duplicates cost nothing more than a key lookup).

use datafusion::error::Result;
use datafusion::logical_expr::EmitTo;
use mailstate_core::{EventFacts, MessageState, StateView};

use super::groups::Store;
use super::{NAME, core_error};

#[derive(Default)]
pub(super) struct NativeStore {
    states: Vec<MessageState>,
    /// Estimated heap bytes held by `states`' events.
    bytes: usize,
}

/// A rough heap size of one stored event, for memory accounting.
fn event_bytes(key: &str, facts: &EventFacts) -> usize {
    // A B-tree entry costs about its key, its value and a share of a node.
    key.len()
        + size_of::<String>()
        + size_of::<EventFacts>()
        + facts.diagnostic.as_ref().map_or(0, String::len)
        + 16
}

fn state_bytes(s: &MessageState) -> usize {
    s.events().map(|(k, f)| event_bytes(k, f)).sum()
}

impl NativeStore {
    fn take(&mut self, emit_to: EmitTo) -> Vec<MessageState> {
        let taken = emit_to.take_needed(&mut self.states);
        match emit_to {
            EmitTo::All => self.bytes = 0,
            EmitTo::First(_) => {
                let gone: usize = taken.iter().map(state_bytes).sum();
                self.bytes = self.bytes.saturating_sub(gone);
            }
        }
        taken
    }
}

impl Store for NativeStore {
    fn empty(&self) -> NativeStore {
        NativeStore::default()
    }

    fn resize(&mut self, n: usize) {
        if n > self.states.len() {
            self.states.resize_with(n, MessageState::default);
        }
    }

    fn add_event(&mut self, g: usize, key: String, facts: EventFacts) -> Result<()> {
        self.bytes += event_bytes(&key, &facts);
        self.states[g].insert(&key, facts);
        Ok(())
    }

    fn add_state(&mut self, g: usize, state: &[u8]) -> Result<()> {
        let other = MessageState::decode(state).map_err(|e| core_error(NAME, &e))?;
        self.bytes += state_bytes(&other);
        self.states[g].merge_owned(other);
        Ok(())
    }

    fn take_views(&mut self, emit_to: EmitTo) -> Result<Vec<StateView>> {
        Ok(self.take(emit_to).iter().map(MessageState::view).collect())
    }

    fn take_states(&mut self, emit_to: EmitTo) -> Result<Vec<Vec<u8>>> {
        Ok(self.take(emit_to).iter().map(MessageState::encode).collect())
    }

    fn size(&self) -> usize {
        self.bytes + self.states.capacity() * size_of::<MessageState>()
    }
}
