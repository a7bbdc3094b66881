//! Where the SQL functions take their rules from: core compiled into this process (the
//! default), or the wasm plugin — the same `.wasm` the edge runs — loaded with
//! `mailstate-host`.
//!
//! Both answer through [`mailstate_core::Rules`], so the functions hold no rule of their own
//! either way. With a plugin, every call runs under the host's deadline, memory and (optional)
//! fuel limits; a plugin that traps, runs out of time or fuel, or answers garbage fails the query
//! with an error naming the plugin, and the session goes on.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::Arc;

use datafusion::error::DataFusionError;
use mailstate_core::batch::chunk_ranges;
use mailstate_core::{
    Event, EventType, NativeRules, Normalized, Payload, Provider, Rules, Suppression,
    batch::{ReduceBatch, States, Views},
    suppress::{SuppressionPolicy, SuppressionState},
};
use serde::Deserialize;

#[cfg(feature = "plugin")]
mod plugin;
#[cfg(feature = "plugin")]
use plugin::{LoadedPlugin, PluginError};

/// Without the `plugin` feature no plugin can be loaded: the type has no values.
#[cfg(not(feature = "plugin"))]
enum LoadedPlugin {}

/// Without the `plugin` feature no plugin can fail.
#[cfg(not(feature = "plugin"))]
enum PluginError {}

#[cfg(not(feature = "plugin"))]
impl fmt::Display for PluginError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

#[cfg(not(feature = "plugin"))]
impl LoadedPlugin {
    fn describe(&self) -> String {
        match *self {}
    }
    fn sha256(&self) -> &str {
        match *self {}
    }
    fn reduce_states(&self, _: &ReduceBatch<'_>) -> Result<States, PluginError> {
        match *self {}
    }
    fn reduce_views(&self, _: &ReduceBatch<'_>) -> Result<Views, PluginError> {
        match *self {}
    }
    fn normalize(&self, _: Provider, _: Payload<'_>) -> Result<Normalized, RulesError> {
        match *self {}
    }
    fn call(&self, _: &str, _: &[u8]) -> Result<Vec<u8>, PluginError> {
        match *self {}
    }
}

/// The rules the SQL functions run: native (core compiled in) or a loaded plugin.
///
/// Cloning is cheap. Two values are equal when they run the same rules: both native, or
/// plugins whose files have the same SHA-256.
#[derive(Clone, Default)]
pub struct SqlRules {
    plugin: Option<Arc<LoadedPlugin>>,
}

impl SqlRules {
    /// The rules compiled into this process.
    pub fn native() -> SqlRules {
        SqlRules { plugin: None }
    }

    /// Whether these are the native rules.
    pub fn is_native(&self) -> bool {
        self.plugin.is_none()
    }

    /// One line saying which rules these are: `native (mailstate 0.1.0)`, or
    /// `plugin PATH (abi 1, sha256 0123456789ab)` with the first 12 hex digits of the file's
    /// SHA-256, so a figure can be traced to the artifact that produced it.
    pub fn describe(&self) -> String {
        match &self.plugin {
            None => format!("native (mailstate {})", env!("CARGO_PKG_VERSION")),
            Some(p) => p.describe(),
        }
    }

    /// The full hex SHA-256 of the plugin file, or `None` for the native rules: what two
    /// processes compare to know they run the same artifact (a cluster's client and executors).
    pub fn plugin_sha256(&self) -> Option<&str> {
        self.plugin.as_ref().map(|p| p.sha256())
    }

    /// Fold rows and merge states into one encoded state per group (`batch.reduce`); `fun`
    /// names the caller in errors.
    ///
    /// # Errors
    /// When the plugin fails (trap, fuel, memory, garbage) or the rules refuse a row or state;
    /// the message names the rules.
    pub fn reduce_states(
        &self,
        fun: &str,
        batch: &ReduceBatch<'_>,
    ) -> Result<States, DataFusionError> {
        let states = match &self.plugin {
            None => NativeRules.reduce_states(batch).map_err(|e| crate::udaf::core_error(fun, &e)),
            Some(p) => p.reduce_states(batch).map_err(|e| self.fault(fun, &e)),
        }?;
        match states.errors().first() {
            None => Ok(states),
            Some((i, e)) => Err(self.refused(fun, *i, e)),
        }
    }

    /// Fold rows and merge states into one view per group (`batch.reduce`); `fun` names the
    /// caller in errors.
    ///
    /// # Errors
    /// As [`SqlRules::reduce_states`].
    pub fn reduce_views(
        &self,
        fun: &str,
        batch: &ReduceBatch<'_>,
    ) -> Result<Views, DataFusionError> {
        let views = match &self.plugin {
            None => NativeRules.reduce_views(batch).map_err(|e| crate::udaf::core_error(fun, &e)),
            Some(p) => p.reduce_views(batch).map_err(|e| self.fault(fun, &e)),
        }?;
        match views.errors().first() {
            None => Ok(views),
            Some((i, e)) => Err(self.refused(fun, *i, e)),
        }
    }

    /// Normalize one payload.
    pub(crate) fn normalize(
        &self,
        provider: Provider,
        payload: Payload<'_>,
    ) -> Result<Normalized, RulesError> {
        match &self.plugin {
            None => NativeRules.normalize(provider, payload).map_err(RulesError::Rules),
            Some(p) => p.normalize(provider, payload),
        }
    }

    /// The active suppressions of each state under `policy` (one list per state, sorted by
    /// scope then reason).
    ///
    /// A plugin gets every state's events in `suppressions` calls of a few thousand events,
    /// each state's events labelled with a recipient of their own (`g<i>@groups.invalid`) so
    /// the answer splits back by state.
    pub(crate) fn evaluate_suppressions(
        &self,
        fun: &str,
        states: &[SuppressionState],
        policy: &SuppressionPolicy,
    ) -> Result<Vec<Vec<Suppression>>, DataFusionError> {
        let Some(p) = &self.plugin else {
            return Ok(states.iter().map(|s| s.evaluate(policy)).collect());
        };
        let mut out: Vec<Vec<Suppression>> = vec![Vec::new(); states.len()];
        let sizes: Vec<usize> = states.iter().map(|s| s.events.len()).collect();
        for Range { start: first, end: last } in chunk_ranges(&sizes, 4096) {
            let mut events = Vec::with_capacity(sizes[first..last].iter().sum());
            for (i, state) in states[first..last].iter().enumerate() {
                let recipient = format!("g{}@groups.invalid", first + i);
                for (key, facts) in &state.events {
                    let mut e = Event::new("sql", facts.kind);
                    e.event_key.clone_from(key);
                    e.occurred_at = facts.occurred_at;
                    e.stream.clone_from(&facts.stream);
                    e.recipient = Some(recipient.clone());
                    events.push(e);
                }
            }
            let input =
                serde_json::to_vec(&serde_json::json!({ "events": events, "policy": policy }))
                    .map_err(|e| DataFusionError::Internal(format!("{fun}: {e}")))?;
            let envelope = p.call("suppressions", &input).map_err(|e| self.fault(fun, &e))?;
            for s in self.open::<Vec<Suppression>>(fun, &envelope)? {
                let group = s
                    .recipient
                    .strip_prefix('g')
                    .and_then(|r| r.strip_suffix("@groups.invalid"))
                    .and_then(|i| i.parse::<usize>().ok())
                    .filter(|i| (first..last).contains(i))
                    .ok_or_else(|| {
                        DataFusionError::Execution(format!(
                            "{fun}: rules {} answered a suppression for {:?}, which no group has",
                            self.describe(),
                            s.recipient
                        ))
                    })?;
                out[group].push(s);
            }
        }
        Ok(out)
    }

    /// The `output` of a JSON envelope from the plugin, or its error as a query error.
    fn open<T: serde::de::DeserializeOwned>(
        &self,
        fun: &str,
        envelope: &[u8],
    ) -> Result<T, DataFusionError> {
        #[derive(Deserialize)]
        struct Envelope<T> {
            output: Option<T>,
            error: Option<serde_json::Value>,
        }
        let env: Envelope<T> = serde_json::from_slice(envelope).map_err(|e| {
            DataFusionError::Execution(format!(
                "{fun}: rules {} answered garbage: {e}",
                self.describe()
            ))
        })?;
        match (env.output, env.error) {
            (Some(out), None) => Ok(out),
            (_, Some(err)) => Err(DataFusionError::Execution(format!(
                "{fun}: rules {} refused the input: {err}",
                self.describe()
            ))),
            (None, None) => Err(DataFusionError::Execution(format!(
                "{fun}: rules {} answered neither output nor error",
                self.describe()
            ))),
        }
    }

    /// The event type table (rank, terminal), indexed like [`EventType::ALL`].
    pub(crate) fn types(&self) -> Result<TypeTable, DataFusionError> {
        let envelope = match &self.plugin {
            None => NativeRules
                .call("types", b"{}")
                .map_err(|e| crate::udaf::core_error("types", &e))?,
            Some(p) => p.call("types", b"{}").map_err(|e| self.fault("types", &e))?,
        };
        TypeTable::from_envelope(&envelope).map_err(|why| {
            DataFusionError::Execution(format!(
                "the event type table of the rules ({}) is unusable: {why}",
                self.describe()
            ))
        })
    }

    /// A transport failure of the plugin (trap, fuel, memory, garbage) as a query error.
    fn fault(&self, fun: &str, e: &PluginError) -> DataFusionError {
        DataFusionError::Execution(format!("{fun}: rules {} failed: {e}", self.describe()))
    }

    /// A row or state the rules refused.
    fn refused(&self, fun: &str, index: u32, e: &mailstate_core::Error) -> DataFusionError {
        DataFusionError::Execution(format!(
            "{fun}: rules {} refused input {index}: {e} ({})",
            self.describe(),
            e.code()
        ))
    }
}

impl fmt::Debug for SqlRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl PartialEq for SqlRules {
    fn eq(&self, other: &SqlRules) -> bool {
        self.plugin.as_ref().map(|p| p.sha256()) == other.plugin.as_ref().map(|p| p.sha256())
    }
}

impl Eq for SqlRules {}

impl Hash for SqlRules {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.plugin.as_ref().map(|p| p.sha256()).hash(state);
    }
}

/// Why a payload did not normalize: the rules refused it, or the sandbox failed.
#[derive(Debug)]
pub(crate) enum RulesError {
    /// The rules' own error (bad payload).
    Rules(mailstate_core::Error),
    /// The plugin trapped, ran out of fuel or memory, or answered garbage.
    #[cfg_attr(
        not(feature = "plugin"),
        expect(dead_code, reason = "only a plugin fails this way (the Python wheel has none)")
    )]
    Sandbox(String),
}

/// Rank and terminal flag of every event type, as the rules report them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TypeTable {
    rows: Vec<(Option<i32>, bool)>,
}

impl TypeTable {
    /// Core's table, compiled in.
    pub(crate) fn native() -> TypeTable {
        TypeTable {
            rows: EventType::ALL
                .iter()
                .map(|t| (t.rank().map(i32::from), t.is_terminal()))
                .collect(),
        }
    }

    fn from_envelope(envelope: &[u8]) -> Result<TypeTable, String> {
        #[derive(Deserialize)]
        struct Row {
            r#type: String,
            rank: Option<i32>,
            terminal: bool,
        }
        #[derive(Deserialize)]
        struct Envelope {
            output: Vec<Row>,
        }
        let env: Envelope = serde_json::from_slice(envelope).map_err(|e| e.to_string())?;
        if env.output.len() != EventType::ALL.len() {
            return Err(format!("{} types, expected {}", env.output.len(), EventType::ALL.len()));
        }
        let mut rows = Vec::with_capacity(env.output.len());
        for (row, kind) in env.output.iter().zip(EventType::ALL) {
            if row.r#type != kind.as_str() {
                return Err(format!(
                    "type {:?} where {:?} was expected",
                    row.r#type,
                    kind.as_str()
                ));
            }
            rows.push((row.rank, row.terminal));
        }
        Ok(TypeTable { rows })
    }

    /// The rank of `kind` (NULL for a type that never sets status).
    pub(crate) fn rank(&self, kind: EventType) -> Option<i32> {
        self.row(kind).0
    }

    /// Whether `kind` is terminal.
    pub(crate) fn is_terminal(&self, kind: EventType) -> bool {
        self.row(kind).1
    }

    fn row(&self, kind: EventType) -> (Option<i32>, bool) {
        let i = EventType::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.rows.get(i).copied().unwrap_or((None, false))
    }
}
