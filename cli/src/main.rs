//! `mailstate`: email delivery events in, message state, suppressions and routes out.
//!
//! The binary parses arguments into a `Command`, runs it, and prints any fatal error once as
//! `mailstate: <error chain>`. Exit codes: 0 success, 1 some input was bad (every bad line is
//! reported on stderr and the good ones are still processed; `verify`: the request was
//! rejected), 2 usage error (from clap, or a [`UsageError`] found after parsing).

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod cluster;
mod demo;
mod generate;
mod ingest;
mod input;
mod normalize;
mod pull;
mod query;
mod report_command;
mod route;
mod rules_arg;
mod sql;
mod state;
mod suppressions;
mod verify;

use mailstate_cli::store;

/// Email delivery events in; message state, suppressions and routes out.
///
/// mailstate turns what email providers report after send (webhooks, activity-API pages,
/// exports) into one canonical event stream, and computes each message's state and each
/// recipient's suppressions with the same rules everywhere (edge workers, wasm hosts, SQL).
#[derive(Debug, Parser)]
#[command(name = "mailstate", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    State(state::Args),
    Suppressions(suppressions::Args),
    Route(route::Args),
    Normalize(normalize::Args),
    Bench(bench::Args),
    Verify(verify::Args),
    Ingest(ingest::Args),
    Sql(sql::Args),
    Generate(generate::Args),
    Demo(demo::Args),
    Pull(pull::Args),
    Report(report_command::Args),
    Cluster(cluster::Args),
}

/// What a command reports back to `main`: whether any input was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Clean,
    SomeInputRejected,
}

fn main() -> ExitCode {
    one_malloc_arena_per_core();
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = match cli.command {
        Command::State(a) => state::run(&a, &mut out),
        Command::Suppressions(a) => suppressions::run(&a, &mut out),
        Command::Route(a) => route::run(&a, &mut out),
        Command::Normalize(a) => normalize::run(&a, &mut out),
        Command::Bench(a) => bench::run(&a, &mut out),
        Command::Verify(a) => verify::run(&a, &mut out),
        Command::Ingest(a) => ingest::run(&a, &mut out),
        Command::Sql(a) => sql::run(&a, &mut out),
        Command::Generate(a) => generate::run(&a, &mut out),
        Command::Demo(a) => demo::run(&a, &mut out),
        Command::Pull(a) => pull::run(&a, &mut out),
        Command::Report(a) => report_command::run(&a, &mut out),
        Command::Cluster(a) => cluster::run(&a),
    }
    .and_then(|o| out.flush().map(|()| o).map_err(anyhow::Error::from));
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::SomeInputRejected) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.is::<UsageError>() => {
            eprintln!("mailstate: {}", chain_text(&e));
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("mailstate: {}", chain_text(&e));
            ExitCode::from(1)
        }
    }
}

/// A usage or configuration error found after argument parsing (an unset `--secret-env`, an
/// unreadable key file): exit status 2, like clap's own usage errors.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// An error and its causes on one line, `outer: inner: root`, without repeating what an outer
/// message already says: DataFusion's errors carry their sources' text inside their own, so
/// anyhow's plain chain would print the same cause two or three times.
fn chain_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let message = cause.to_string();
        let message = message.trim();
        if message.is_empty() || text.contains(message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(message);
    }
    text
}

/// `mailstate state | head` closes our stdout early; that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Write one JSON value as a line: serialized into memory, then one write (serde_json writes
/// every token on its own, each a dynamic call through `out`).
fn write_line(out: &mut dyn Write, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    out.write_all(&line)?;
    Ok(())
}

/// A runtime for the async DataFusion calls of one command.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
fn progress_bar(total: u64, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    let template = if unit == "bytes" {
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta})"
    } else {
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} messages ({eta})"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Cap glibc's malloc arenas at one per core, unless `MALLOC_ARENA_MAX` says otherwise.
///
/// glibc gives threads up to eight arenas per core; the SQL engine's threads then each grow
/// an arena of their own and memory freed in one is not reused by another. One per core took
/// 15–25 MB (5–7%) off the peak RSS of the 5M-event `message_state` GROUP BY with no
/// measurable time cost (BENCHMARKS.md). Called first thing, before any thread exists.
fn one_malloc_arena_per_core() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets a malloc parameter; no thread is allocating yet.
        #[expect(unsafe_code, reason = "mallopt is the only way to set glibc's arena limit")]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
