//! mailstate in SQL: DataFusion functions that compute message state and suppressions with
//! the same rules as every other runtime of mailstate.
//!
//! Every rule lives in `mailstate_core`; the functions here move values between Arrow and
//! core. [`register_all`] adds them to a DataFusion `SessionContext`:
//!
//! | function | kind | returns |
//! |---|---|---|
//! | `message_state(type, occurred_at, event_key [, bounce_class [, diagnostic [, automated [, bounce_category]]]])` | aggregate | struct of DESIGN.md's state fields |
//! | `recipient_suppressions(type, occurred_at, stream, event_key [, policy_json])` | aggregate | list of struct `{scope, reason, since, event_key}` |
//! | `event_rank(type)` | scalar | precedence rank (`Int32`, NULL for `resubscribe`) |
//! | `is_terminal(type)` | scalar | `Boolean` |
//! | `provider_events(provider, path_or_glob)` | table | canonical events ([`event_schema`]) |
//!
//! [`columns`] exposes the functions' Arrow conversions to adapters that run the rules over
//! record batches without SQL (the Python package).
//!
//! # Example
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> datafusion::error::Result<()> {
//! use datafusion::prelude::SessionContext;
//!
//! let ctx = SessionContext::new();
//! mailstate_sql::register_all(&ctx)?;
//! let batches = ctx
//!     .sql(
//!         "SELECT get_field(message_state(type, occurred_at, event_key), 'status') AS status
//!          FROM (VALUES ('delivered', TIMESTAMP '2025-11-03T10:00:00Z', 'ses:1'),
//!                       ('click',     TIMESTAMP '2025-11-03T09:59:00Z', 'ses:2'),
//!                       ('delivered', TIMESTAMP '2025-11-03T10:00:00Z', 'ses:1'))
//!               AS e(type, occurred_at, event_key)",
//!     )
//!     .await?
//!     .collect()
//!     .await?;
//! datafusion::assert_batches_eq!(
//!     ["+--------+", "| status |", "+--------+", "| click  |", "+--------+"],
//!     &batches
//! );
//! # Ok(())
//! # }
//! ```
//!
//! # What this crate does not do
//!
//! It holds no precedence, dedupe or suppression logic of its own: a rule written here would
//! be a second copy of core's. Ingestion, synthetic data and the SQL shell are the `mailstate`
//! command's (crate `mailstate-cli`), built on these functions.
//!
//! # Features
//!
//! - `plugin` (default): [`SqlRules::plugin`] runs the functions on the wasm rules plugin,
//!   loaded with `mailstate-host` (wasmtime). Without it the crate depends on DataFusion and
//!   core only.

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod columns;
mod rules;
mod schema;
pub mod single_phase;
mod table;
mod udaf;
mod udf;

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::registry::FunctionRegistry;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

pub use rules::SqlRules;
pub use schema::{event_schema, events_to_batch};

/// The aggregate functions of this crate.
pub mod udafs {
    use super::{AggregateUDF, Arc};

    /// `message_state(type, occurred_at, event_key [, bounce_class [, diagnostic [, automated [, bounce_category]]]])`.
    pub fn message_state() -> Arc<AggregateUDF> {
        crate::udaf::message_state::udaf()
    }

    /// `recipient_suppressions(type, occurred_at, stream, event_key [, policy_json])`.
    pub fn recipient_suppressions() -> Arc<AggregateUDF> {
        crate::udaf::recipient_suppressions::udaf()
    }

    /// Every aggregate function.
    pub fn all() -> Vec<Arc<AggregateUDF>> {
        vec![message_state(), recipient_suppressions()]
    }
}

/// The scalar functions of this crate.
pub mod udfs {
    use super::{Arc, ScalarUDF};

    /// `event_rank(type)`.
    pub fn event_rank() -> Arc<ScalarUDF> {
        crate::udf::event_rank()
    }

    /// `is_terminal(type)`.
    pub fn is_terminal() -> Arc<ScalarUDF> {
        crate::udf::is_terminal()
    }

    /// Every scalar function.
    pub fn all() -> Vec<Arc<ScalarUDF>> {
        vec![event_rank(), is_terminal()]
    }
}

/// Register the scalar and aggregate functions, with the native rules, in `registry`.
///
/// # Errors
/// When the registry refuses a function.
pub fn register_functions(registry: &mut dyn FunctionRegistry) -> Result<()> {
    register_functions_with(registry, &SqlRules::native())
}

/// Register the scalar and aggregate functions, running `rules`, in `registry`.
///
/// # Errors
/// When the registry refuses a function, or a plugin cannot give its event type table.
pub fn register_functions_with(
    registry: &mut dyn FunctionRegistry,
    rules: &SqlRules,
) -> Result<()> {
    for f in udf::with_rules(rules)? {
        if let Some(old) = registry.register_udf(f)? {
            log::debug!("overwrote function {}", old.name());
        }
    }
    for f in [udaf::message_state::udaf_with(rules), udaf::recipient_suppressions::udaf_with(rules)]
    {
        if let Some(old) = registry.register_udaf(f)? {
            log::debug!("overwrote function {}", old.name());
        }
    }
    Ok(())
}

/// Register every function of this crate, including the `provider_events` table function,
/// with the native rules, in `ctx`.
///
/// # Errors
/// When the context refuses a function.
pub fn register_all(ctx: &SessionContext) -> Result<()> {
    register_all_with(ctx, &SqlRules::native())
}

/// Register every function of this crate in `ctx`, taking their rules from `rules`: the
/// native core ([`SqlRules::native`], what [`register_all`] does) or a wasm plugin
/// ([`SqlRules::plugin`]), the same `.wasm` the edge runs.
///
/// # Errors
/// When the context refuses a function, or a plugin cannot give its event type table.
///
/// # Example
/// ```no_run
/// use mailstate_sql::SqlRules;
/// let ctx = datafusion::prelude::SessionContext::new();
/// let rules = SqlRules::plugin("wasm/dist/mailstate_plugin.wasm").expect("a rules plugin");
/// mailstate_sql::register_all_with(&ctx, &rules)?;
/// # Ok::<(), datafusion::error::DataFusionError>(())
/// ```
pub fn register_all_with(ctx: &SessionContext, rules: &SqlRules) -> Result<()> {
    {
        let state = ctx.state_ref();
        let mut state = state.write();
        register_functions_with(&mut *state, rules)?;
    }
    ctx.register_udtf(
        "provider_events",
        Arc::new(table::provider_events::ProviderEvents { rules: rules.clone() }),
    );
    Ok(())
}

/// A new `SessionContext` with every function of this crate registered; `target_partitions`
/// overrides DataFusion's default (the number of cores).
///
/// # Errors
/// When a function cannot be registered.
///
/// # Example
/// ```
/// use datafusion::execution::FunctionRegistry;
/// let ctx = mailstate_sql::context(Some(4)).unwrap();
/// assert!(ctx.udaf("message_state").is_ok());
/// ```
pub fn context(target_partitions: Option<usize>) -> Result<SessionContext> {
    context_with(target_partitions, &SqlRules::native())
}

/// [`context`] with the functions running `rules`.
///
/// # Errors
/// When a function cannot be registered.
pub fn context_with(target_partitions: Option<usize>, rules: &SqlRules) -> Result<SessionContext> {
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new().build_arc()?;
    new_context(target_partitions, rules, runtime)
}

/// A context on `runtime` with this crate's functions and its plan rule
/// ([`single_phase::SinglePhaseMessageState`], run just before DataFusion's final plan check).
fn new_context(
    target_partitions: Option<usize>,
    rules: &SqlRules,
    runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
) -> Result<SessionContext> {
    use datafusion::execution::session_state::SessionStateBuilder;
    use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;

    let mut config = datafusion::prelude::SessionConfig::new();
    if let Some(n) = target_partitions {
        config = config.with_target_partitions(n);
    }
    let mut plan_rules = PhysicalOptimizer::new().rules;
    // The last default rule is the sanity check; ours goes before it.
    plan_rules.insert(
        plan_rules.len().saturating_sub(1),
        Arc::new(single_phase::SinglePhaseMessageState),
    );
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rules(plan_rules)
        .build();
    let ctx = SessionContext::new_with_state(state);
    register_all_with(&ctx, rules)?;
    Ok(ctx)
}

/// [`context_with`] under a memory limit: DataFusion's fair spill pool of `memory_limit`
/// bytes, with spilling to disk in a fresh folder under `spill_dir`. A `message_state` GROUP
/// BY larger than the limit then spills sorted partial states (core's encoding) and merges
/// them back, with the same result. The spill folder is removed when the context (the last
/// holder of its runtime) is dropped.
///
/// # Errors
/// When the spill folder cannot be created or a function cannot be registered.
///
/// # Example
/// ```
/// use mailstate_sql::{SqlRules, context_with_memory_limit};
/// let dir = std::env::temp_dir();
/// let ctx = context_with_memory_limit(Some(2), &SqlRules::native(), 64 << 20, &dir).unwrap();
/// assert_eq!(ctx.runtime_env().memory_pool.reserved(), 0);
/// ```
pub fn context_with_memory_limit(
    target_partitions: Option<usize>,
    rules: &SqlRules,
    memory_limit: usize,
    spill_dir: &Path,
) -> Result<SessionContext> {
    use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;

    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(memory_limit)))
        .with_disk_manager_builder(
            DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::Directories(vec![spill_dir.to_path_buf()])),
        )
        .build_arc()?;
    new_context(target_partitions, rules, runtime)
}

/// Register the Parquet events under `events_dir` (files of [`event_schema`] in folders
/// `day=YYYY-MM-DD`, the layout `mailstate ingest` and `mailstate generate` write) as table
/// `name`, with `day` as a partition column. An empty folder gives an empty table.
///
/// # Errors
/// When the folder cannot be found or listed.
pub async fn register_events(ctx: &SessionContext, name: &str, events_dir: &Path) -> Result<()> {
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("day".to_owned(), DataType::Utf8)]);
    let dir = events_dir.canonicalize().map_err(|e| {
        DataFusionError::Execution(format!("events folder {}: {e}", events_dir.display()))
    })?;
    let url = format!("{}/", dir.display());
    ctx.register_listing_table(name, url, options, Some(event_schema()), None).await
}
