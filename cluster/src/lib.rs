//! mailstate on Apache Ballista, DataFusion's distributed engine: the same SQL, past one
//! machine.
//!
//! Three pieces, each a thin layer over the `ballista-scheduler`, `ballista-executor` and
//! `ballista` crates (55.x, matching DataFusion 55):
//!
//! - [`run_scheduler`]: a scheduler whose sessions have every mailstate function registered
//!   (`message_state`, `recipient_suppressions`, `event_rank`, `is_terminal`), so it can decode
//!   the client's logical plans and plan them into stages;
//! - [`run_executor`]: an executor with the same functions in its function registry (Ballista's
//!   `override_function_registry`), running the native rules or a wasm rules plugin;
//! - [`connect`]: a client `SessionContext` for `df://HOST:PORT`, planned locally and run on
//!   the cluster.
//!
//! The partial and final states of the aggregate functions merge as a semilattice, so a
//! `GROUP BY` split over executors and merged after the shuffle gives the single-process
//! answer.
//!
//! # Rules agreement
//!
//! The client sends the identity of its rules ([`rules_identity`]: `native (mailstate X)`, or
//! the plugin's SHA-256) with every query as the session option `mailstate.rules`; Ballista
//! passes session options to every task, and an executor refuses a task planned with other
//! rules than its own ([`RulesMismatch`]), so the query fails with an error naming the
//! executor and both identities instead of mixing rules.
//!
//! # What this crate does not do
//!
//! It holds no rule, and no scheduling, shuffling or recovery of its own: those are core's
//! and Ballista's. Data is read by the executors from the paths the client registered, so
//! every path must be readable, at the same location, from every executor.

#![deny(missing_docs)]

mod logging;

use std::any::Any;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista::extension::SessionContextExt;
use ballista_core::JobId;
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::execution_engine::{
    DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor,
};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use mailstate_sql::SqlRules;

pub use logging::init_logging;

/// The Ballista release these processes run; clients and servers must agree on it.
pub const BALLISTA_VERSION: &str = "55.0.0";

/// How long [`connect`] waits for the scheduler's port to answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The session options a mailstate client sends with every query (prefix `mailstate.`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterOptions {
    /// `mailstate.rules`: the rules the client planned with ([`rules_identity`]); empty when
    /// the client is not mailstate's, which executors accept.
    pub rules: String,
}

impl ConfigExtension for ClusterOptions {
    const PREFIX: &'static str = "mailstate";
}

// Written out rather than with DataFusion's `extensions_options!`: Ballista sends a session's
// options as the keys of `ConfigOptions::entries`, and the macro's entries leave out the
// `mailstate.` prefix, so the option would never reach the scheduler and executors.
impl ExtensionOptions for ClusterOptions {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        match key {
            "rules" => {
                value.clone_into(&mut self.rules);
                Ok(())
            }
            other => Err(DataFusionError::Configuration(format!(
                "no option mailstate.{other} (known: mailstate.rules)"
            ))),
        }
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![ConfigEntry {
            key: "mailstate.rules".to_owned(),
            value: Some(self.rules.clone()),
            description: "the rules the client planned with; executors refuse other rules",
        }]
    }
}

/// What identifies a set of rules across processes: `native (mailstate X.Y.Z)`, or
/// `plugin sha256:<64 hex digits>` (the plugin file's hash: the same artifact wherever it is
/// stored).
pub fn rules_identity(rules: &SqlRules) -> String {
    match rules.plugin_sha256() {
        None => rules.describe(),
        Some(sha) => format!("plugin sha256:{sha}"),
    }
}

/// The errors of starting a process or connecting to a cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cluster URL that is not `df://HOST:PORT`.
    #[error("{url:?} is not a cluster address: expected df://HOST:PORT ({reason})")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing answers at the scheduler's address.
    #[error(
        "no Ballista scheduler at {url}: {reason} (start one with `mailstate cluster scheduler --port PORT`)"
    )]
    NoScheduler {
        /// The cluster URL.
        url: String,
        /// Why the connection failed.
        reason: String,
    },
    /// A port could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// Which service.
        what: &'static str,
        /// The address.
        addr: String,
        /// The system's reason.
        source: std::io::Error,
    },
    /// Ballista failed (startup, registration, a lost scheduler).
    #[error("ballista: {0}")]
    Ballista(#[from] ballista_core::error::BallistaError),
    /// DataFusion failed (registering functions, building the session).
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

/// Options of [`run_scheduler`].
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Address to listen on (default `127.0.0.1`).
    pub bind: String,
    /// Port to listen on; 0 picks a free one (logged).
    pub port: u16,
    /// Seconds without a heartbeat after which an executor counts as lost and its tasks run
    /// elsewhere.
    pub executor_timeout_secs: u64,
}

impl Default for SchedulerOptions {
    fn default() -> SchedulerOptions {
        SchedulerOptions { bind: "127.0.0.1".to_owned(), port: 50050, executor_timeout_secs: 30 }
    }
}

/// The session configuration every process of the cluster starts from: Ballista's, with
/// mailstate's options known (a session option nobody registered is dropped on the way).
///
/// Leaf-expression pushdown is off: with it, DataFusion 55 optimizes a `GROUP BY` over
/// `get_field` of an aggregate's struct (`sql/queries/domain_rates_over_time.sql`) into a
/// logical plan whose column names do not survive DataFusion's protobuf round trip, and the
/// scheduler refuses the client's plan ("No field named ... __datafusion_extracted_2").
fn base_config() -> SessionConfig {
    let mut config =
        SessionConfig::new_with_ballista().with_option_extension(ClusterOptions::default());
    config.options_mut().optimizer.enable_leaf_expression_pushdown = false;
    config
}

/// Run a scheduler until the process ends. Its sessions know every mailstate function (native
/// rules: the scheduler plans, it never runs a function over data).
///
/// # Errors
/// When the port cannot be bound or the scheduler cannot start.
pub async fn run_scheduler(opts: &SchedulerOptions) -> Result<(), Error> {
    let addr = format!("{}:{}", opts.bind, opts.port);
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|source| Error::Bind {
        what: "scheduler gRPC",
        addr: addr.clone(),
        source,
    })?;
    let local = listener.local_addr().map_err(|source| Error::Bind {
        what: "scheduler gRPC",
        addr: addr.clone(),
        source,
    })?;

    // Some fields of SchedulerConfig are private: set the public ones one by one.
    let mut config = SchedulerConfig::default();
    config.bind_host.clone_from(&opts.bind);
    config.bind_port = local.port();
    config.scheduling_policy = TaskSchedulingPolicy::PushStaged;
    config.executor_timeout_seconds = opts.executor_timeout_secs;
    config.expire_dead_executor_interval_seconds = opts.executor_timeout_secs.clamp(1, 15);
    config.no_executors_grace_period_seconds = opts.executor_timeout_secs;
    if opts.bind != "0.0.0.0" && opts.bind != "::" {
        config.external_host.clone_from(&opts.bind);
    }
    config.override_config_producer = Some(Arc::new(base_config));
    config.override_session_builder = Some(Arc::new(|config: SessionConfig| {
        let mut state = ballista_core::utils::default_session_builder(config)?;
        mailstate_sql::register_functions(&mut state)?;
        Ok(state)
    }));
    let config = Arc::new(config);
    let cluster = BallistaCluster::new_from_config(&config).await?;
    let scheduler = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config).await?;
    log::info!(
        target: "mailstate",
        "scheduler listening on {local} (Ballista {BALLISTA_VERSION}, executor timeout {}s)",
        opts.executor_timeout_secs
    );
    start_grpc_service_with_listener(listener, scheduler).await?;
    Ok(())
}

/// Options of [`run_executor`].
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host.
    pub scheduler_host: String,
    /// The scheduler's port.
    pub scheduler_port: u16,
    /// Address to listen on (default `127.0.0.1`); also the address other executors and the
    /// client fetch shuffle data and results from.
    pub bind: String,
    /// Arrow Flight port (shuffle data and results); 0 picks a free one (logged).
    pub port: u16,
    /// gRPC port (the scheduler launches tasks there); 0 picks a free one (logged).
    pub grpc_port: u16,
    /// Tasks run at once (Ballista's vcores); `None`: the number of cores.
    pub concurrent_tasks: Option<usize>,
    /// Folder for shuffle files; `None`: a temporary folder.
    pub work_dir: Option<PathBuf>,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat_secs: u64,
    /// The rules the functions run.
    pub rules: SqlRules,
}

/// A free port on `bind`, for a service Ballista binds itself (it advertises the port it is
/// given, so 0 cannot be passed through). Another process may take it before Ballista binds
/// it; the bind then fails with a clear error.
fn free_port(bind: &str) -> Result<u16, Error> {
    let addr = format!("{bind}:0");
    std::net::TcpListener::bind(&addr)
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| Error::Bind { what: "executor", addr, source })
}

/// The executor's function registry: DataFusion's built-in functions and mailstate's, running
/// `rules`.
fn function_registry(rules: &SqlRules) -> Result<BallistaFunctionRegistry, Error> {
    let mut state = SessionStateBuilder::new().with_default_features().build();
    mailstate_sql::register_functions_with(&mut state, rules)?;
    Ok(BallistaFunctionRegistry::from(&state))
}

/// An executor refused a task planned with other rules than its own.
///
/// `Debug` prints the same sentence as `Display`: Ballista reports a failed task to the client
/// with `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct RulesMismatch {
    /// The executor that refused.
    pub executor: String,
    /// Its rules.
    pub executor_rules: String,
    /// The client's.
    pub client_rules: String,
}

impl std::fmt::Display for RulesMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rules mismatch: executor {} runs {}, but the query was planned with {}; start every \
             executor with the same --rules as the client",
            self.executor, self.executor_rules, self.client_rules
        )
    }
}

impl std::fmt::Debug for RulesMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for RulesMismatch {}

/// Check the rules a task was planned with against the executor's.
fn check_rules(config: &SessionConfig, executor: &str, own: &str) -> Result<(), RulesMismatch> {
    let client = config
        .options()
        .extensions
        .get::<ClusterOptions>()
        .map(|o| o.rules.clone())
        .unwrap_or_default();
    if client.is_empty() || client == own {
        Ok(())
    } else {
        Err(RulesMismatch {
            executor: executor.to_owned(),
            executor_rules: own.to_owned(),
            client_rules: client,
        })
    }
}

/// Ballista's execution engine, refusing tasks planned with other rules.
struct RulesCheckingEngine {
    inner: DefaultExecutionEngine,
    executor: String,
    rules: String,
}

impl ExecutionEngine for RulesCheckingEngine {
    fn create_query_stage_exec(
        &self,
        job_id: JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> datafusion::error::Result<Arc<dyn QueryStageExecutor>> {
        check_rules(config, &self.executor, &self.rules)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        self.inner.create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )
    }
}

/// Run an executor until the process ends: it registers with the scheduler, then runs the
/// tasks it is given with mailstate's functions.
///
/// # Errors
/// When a port cannot be bound, the scheduler cannot be reached or the executor stops on an
/// error.
pub async fn run_executor(opts: ExecutorOptions) -> Result<(), Error> {
    let port = if opts.port == 0 { free_port(&opts.bind)? } else { opts.port };
    let grpc_port = if opts.grpc_port == 0 { free_port(&opts.bind)? } else { opts.grpc_port };
    let id = format!("{}:{port}", opts.bind);
    let own_rules = rules_identity(&opts.rules);
    let registry = function_registry(&opts.rules)?;

    let work_dir = opts.work_dir.as_ref().map(|d| d.display().to_string());
    // The check runs where a task's plan becomes a stage to execute: an error there is the
    // task's failure, reported with its text to the scheduler and the client. (An error while
    // decoding a task, e.g. from a runtime producer, reaches the client only as "rejected by
    // executor".) Ballista's default engine without its connection pool, which is private to
    // ballista-executor: each shuffle fetch opens its own connection.
    let engine = RulesCheckingEngine {
        inner: DefaultExecutionEngine::new(),
        executor: id.clone(),
        rules: own_rules.clone(),
    };

    let config = ExecutorProcessConfig {
        executor_id: id.clone(),
        bind_host: opts.bind.clone(),
        external_host: Some(opts.bind.clone()),
        port,
        grpc_port,
        scheduler_host: opts.scheduler_host.clone(),
        scheduler_port: opts.scheduler_port,
        // Wait for a scheduler that is still starting, a little.
        scheduler_connect_timeout_seconds: 10,
        vcores: opts.concurrent_tasks.unwrap_or(0),
        task_scheduling_policy: TaskSchedulingPolicy::PushStaged,
        work_dir,
        executor_heartbeat_interval_seconds: opts.heartbeat_secs,
        override_function_registry: Some(Arc::new(registry)),
        override_config_producer: Some(Arc::new(base_config)),
        override_execution_engine: Some(Arc::new(engine)),
        ..ExecutorProcessConfig::default()
    };
    log::info!(
        target: "mailstate",
        "executor {id}: flight port {port}, grpc port {grpc_port}, scheduler {}:{}, rules {}",
        opts.scheduler_host,
        opts.scheduler_port,
        opts.rules.describe()
    );
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

/// The host and port of a `df://HOST:PORT` URL.
///
/// # Errors
/// When the URL has another scheme, no host or no port.
pub fn parse_url(url: &str) -> Result<(String, u16), Error> {
    let bad = |reason: &str| Error::BadUrl { url: url.to_owned(), reason: reason.to_owned() };
    let rest = url.strip_prefix("df://").ok_or_else(|| bad("the scheme must be df://"))?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = port.parse::<u16>().map_err(|_| bad("the port is not a number from 0 to 65535"))?;
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_owned(), port))
}

/// Check that something accepts connections at the scheduler's address, within
/// [`CONNECT_TIMEOUT`].
fn probe(url: &str, host: &str, port: u16) -> Result<(), Error> {
    let no = |reason: String| Error::NoScheduler { url: url.to_owned(), reason };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| no(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = format!("{host} resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(no(last))
}

/// A session whose queries are planned here and run on the cluster at `url`
/// (`df://HOST:PORT`), with every mailstate function registered, running `rules`; the
/// executors refuse its tasks unless they run the same rules.
///
/// `target_partitions` sets how many partitions each stage has (Ballista's default: 16).
///
/// # Errors
/// When the URL is malformed or no scheduler answers within [`CONNECT_TIMEOUT`].
pub async fn connect(
    url: &str,
    target_partitions: Option<usize>,
    rules: &SqlRules,
) -> Result<SessionContext, Error> {
    let (host, port) = parse_url(url)?;
    let probe_url = url.to_owned();
    let probe_host = host.clone();
    tokio::task::spawn_blocking(move || probe(&probe_url, &probe_host, port))
        .await
        .map_err(|e| Error::NoScheduler { url: url.to_owned(), reason: e.to_string() })??;

    let mut config = base_config();
    config.options_mut().extensions.insert(ClusterOptions { rules: rules_identity(rules) });
    if let Some(n) = target_partitions {
        config = config.with_target_partitions(n);
    }
    let mut state = SessionStateBuilder::new().with_default_features().with_config(config).build();
    // Registered twice, as Ballista's own examples of custom functions do: in the state given
    // (for the scheduler-bound planner) and on the returned context, whose state Ballista
    // rebuilds with its own function lists.
    mailstate_sql::register_functions_with(&mut state, rules)?;
    let ctx = SessionContext::remote_with_state(&format!("df://{host}:{port}"), state).await?;
    mailstate_sql::register_all_with(&ctx, rules)?;
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected value")]

    use super::*;

    #[test]
    fn cluster_urls_need_the_df_scheme_a_host_and_a_port() {
        assert_eq!(parse_url("df://127.0.0.1:50050").unwrap(), ("127.0.0.1".to_owned(), 50050));
        assert_eq!(parse_url("df://sched.internal:7/").unwrap(), ("sched.internal".to_owned(), 7));
        assert_eq!(parse_url("df://[::1]:9").unwrap(), ("::1".to_owned(), 9));
        for bad in ["http://h:1", "df://h", "df://:1", "df://h:x", "df://h:70000"] {
            let e = parse_url(bad).unwrap_err().to_string();
            assert!(e.contains("df://HOST:PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_executor_refuses_a_task_planned_with_other_rules_and_names_itself() {
        let own = rules_identity(&SqlRules::native());
        let mut config = base_config();
        assert_eq!(check_rules(&config, "127.0.0.1:1", &own), Ok(()), "no mailstate client");
        config.options_mut().extensions.insert(ClusterOptions { rules: own.clone() });
        assert_eq!(check_rules(&config, "127.0.0.1:1", &own), Ok(()));
        config
            .options_mut()
            .extensions
            .insert(ClusterOptions { rules: "plugin sha256:00ff".to_owned() });
        let e = check_rules(&config, "127.0.0.1:1", &own).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("executor 127.0.0.1:1"), "{text}");
        assert!(text.contains(&own) && text.contains("plugin sha256:00ff"), "{text}");
    }

    #[test]
    fn the_rules_option_travels_as_a_session_key_value() {
        // What Ballista does with a session's options: entries out, `set` on the other side.
        let mut client = base_config();
        client.options_mut().extensions.insert(ClusterOptions { rules: "plugin sha256:ab".into() });
        let sent: Vec<_> = client
            .options()
            .entries()
            .into_iter()
            .filter(|e| e.key.starts_with("mailstate."))
            .collect();
        assert_eq!(sent.len(), 1);
        let mut executor = base_config();
        executor.options_mut().set(&sent[0].key, sent[0].value.as_deref().unwrap()).unwrap();
        assert_eq!(
            executor.options().extensions.get::<ClusterOptions>().unwrap().rules,
            "plugin sha256:ab"
        );
    }

    #[test]
    fn a_client_pointed_at_no_scheduler_fails_fast_and_says_so() {
        // A port that was free a moment ago: nothing listens there.
        let port = free_port("127.0.0.1").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let url = format!("df://127.0.0.1:{port}");
        let e = rt.block_on(connect(&url, None, &SqlRules::native())).err().unwrap();
        let text = e.to_string();
        assert!(text.starts_with(&format!("no Ballista scheduler at {url}")), "{text}");
    }
}
