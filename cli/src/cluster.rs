//! `mailstate cluster scheduler|executor`: the processes of an Apache Ballista cluster with
//! mailstate's functions (crate `mailstate-cluster`). `mailstate sql --cluster df://HOST:PORT`
//! runs queries on it.

use std::path::PathBuf;

use anyhow::Context;
use mailstate_cluster::{ExecutorOptions, SchedulerOptions};

use crate::Outcome;

/// Run a process of a Ballista cluster. Logs go to stderr, one line per event.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, clap::Subcommand)]
enum Role {
    Scheduler(SchedulerArgs),
    Executor(ExecutorArgs),
}

/// The scheduler: clients send it queries (`mailstate sql --cluster df://HOST:PORT`), it plans
/// them into stages and hands tasks to the executors.
#[derive(Debug, clap::Args)]
struct SchedulerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Port to listen on (0: any free port; the log line says which).
    #[arg(long)]
    port: u16,
    /// Seconds without a heartbeat after which an executor is lost and its tasks run elsewhere.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    executor_timeout: u64,
}

/// An executor: registers with the scheduler and runs tasks with mailstate's functions. Every
/// path a query reads must be readable, at the same location, here.
#[derive(Debug, clap::Args)]
struct ExecutorArgs {
    /// The scheduler, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    scheduler: String,
    /// Address to listen on, and to be reached at by the client and other executors.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Arrow Flight port: shuffle data and results (0: any free port).
    #[arg(long)]
    port: u16,
    /// gRPC port: the scheduler launches tasks here (0: any free port).
    #[arg(long)]
    grpc_port: u16,
    /// Tasks run at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    concurrent_tasks: Option<usize>,
    /// Folder for shuffle files (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Seconds between heartbeats to the scheduler (keep it below its --executor-timeout).
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    heartbeat: u64,
    #[command(flatten)]
    rules: crate::rules_arg::RulesArgs,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<Outcome> {
    match &args.role {
        Role::Scheduler(a) => {
            mailstate_cluster::init_logging("scheduler");
            let opts = SchedulerOptions {
                bind: a.bind.clone(),
                port: a.port,
                executor_timeout_secs: a.executor_timeout,
            };
            crate::runtime()?.block_on(mailstate_cluster::run_scheduler(&opts))?;
        }
        Role::Executor(a) => {
            mailstate_cluster::init_logging("executor");
            let (host, port) = a
                .scheduler
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
                .with_context(|| format!("--scheduler {}: expected HOST:PORT", a.scheduler))?;
            let opts = ExecutorOptions {
                scheduler_host: host,
                scheduler_port: port,
                bind: a.bind.clone(),
                port: a.port,
                grpc_port: a.grpc_port,
                concurrent_tasks: a.concurrent_tasks,
                work_dir: a.work_dir.clone(),
                heartbeat_secs: a.heartbeat,
                rules: a.rules.load()?,
            };
            crate::runtime()?.block_on(mailstate_cluster::run_executor(opts))?;
        }
    }
    Ok(Outcome::Clean)
}
