//! `mailstate ingest`: store raw bodies first, then canonical events as Parquet.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::store::{Body, Store, split_lines};
use anyhow::Context;
use mailstate_core::Provider;

use crate::Outcome;

/// NDJSON exports larger than this are ingested as several bodies, split at line ends.
const CHUNK_BYTES: usize = 8 << 20;

/// Store raw provider payloads, then their canonical events as Parquet partitioned by day.
///
/// Every body is written to DIR/raw first (append-only, fsync'd, named by its SHA-256), then
/// the new events go to DIR/events/day=YYYY-MM-DD/*.parquet. Ingesting the same input again
/// adds no event: events are deduplicated by event_key against the store. Bodies that do not
/// normalize are reported and kept aside in DIR/rejected with their errors.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The provider slug (sendgrid, ses, ...) or `ndjson` for canonical events.
    #[arg(long, short)]
    provider: String,
    /// The store folder.
    #[arg(long, short)]
    out: PathBuf,
    /// Payload files (one body each), folders of them, or `-` for stdin.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

/// Every file an input names: itself, the files under a folder (sorted), or stdin.
fn files(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found)?;
            found.sort();
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let p = entry?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            out.push(p);
        }
    }
    Ok(())
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let provider: Provider = args.provider.parse()?;
    let store = Store::open(&args.out)?;
    let files = files(&args.inputs)?;
    let summary = ingest_files(&store, provider, &files)?;
    for r in &summary.rejected {
        for e in &r.errors {
            eprintln!("mailstate: {}: {e}", r.source);
        }
        eprintln!("mailstate: {}: kept aside at {}", r.source, r.kept_at.display());
    }
    writeln!(out, "{}", summary.line())?;
    Ok(if summary.errors > 0 { Outcome::SomeInputRejected } else { Outcome::Clean })
}

/// Ingest `files` into `store` with a progress bar over their bytes.
pub(crate) fn ingest_files(
    store: &Store,
    provider: Provider,
    files: &[PathBuf],
) -> anyhow::Result<crate::store::IngestSummary> {
    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let bar = crate::progress_bar(total, "bytes");
    let mut bodies = Vec::new();
    for f in files {
        let (name, bytes) = if f == Path::new("-") {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b).context("cannot read stdin")?;
            ("<stdin>".to_owned(), b)
        } else {
            let b = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
            (f.display().to_string(), b)
        };
        if provider == Provider::Ndjson {
            bodies.extend(split_lines(&name, bytes, CHUNK_BYTES));
        } else {
            bodies.push(Body { source: name, bytes });
        }
    }
    let summary = store.ingest(provider, bodies, |n| bar.inc(n))?;
    bar.finish_and_clear();
    Ok(summary)
}
