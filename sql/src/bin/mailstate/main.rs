//! `mailstate`: email delivery events in, message state, suppressions and routes out.
//!
//! The binary parses arguments into a `Command`, runs it, and prints any fatal error once as
//! `mailstate: <error chain>`. Exit codes: 0 success, 1 some input was bad (every bad input is
//! reported on stderr and the good ones are still processed), 2 usage error.

use std::io::{self, Write as _};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod generate;
mod ingest;
mod query;
mod sql;

/// Email delivery events in; message state, suppressions and routes out.
#[derive(Debug, Parser)]
#[command(name = "mailstate", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Ingest(ingest::Args),
    Sql(sql::Args),
    Generate(generate::Args),
    Demo(demo::Args),
}

/// What a command reports back to `main`: whether any input was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Clean,
    SomeInputRejected,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = match cli.command {
        Command::Ingest(a) => ingest::run(&a, &mut out),
        Command::Sql(a) => sql::run(&a, &mut out),
        Command::Generate(a) => generate::run(&a, &mut out),
        Command::Demo(a) => demo::run(&a, &mut out),
    }
    .and_then(|o| out.flush().map(|()| o).map_err(anyhow::Error::from));
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::SomeInputRejected) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailstate: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `mailstate sql ... | head` closes our stdout early; that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
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
