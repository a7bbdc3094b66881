//! `mailstate demo`: ingest the bundled samples into a temporary store and show what SQL
//! makes of them.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::store::Store;
use anyhow::{Context, bail};
use mailstate_core::Provider;

use crate::Outcome;
use crate::query::{Format, register_store, register_table, run_sql, write};

/// The SQL files the demo runs (the same files as `sql/queries/`).
const MESSAGE_STATES: &str = include_str!("../../sql/queries/message_states.sql");
const SUPPRESSION_LIST: &str = include_str!("../../sql/queries/suppression_list.sql");
const DELIVERABILITY: &str = include_str!("../../sql/queries/deliverability.sql");
const REVENUE_ATTRIBUTION: &str = include_str!("../../sql/queries/revenue_attribution.sql");

/// Ingest the bundled sample payloads into a temporary store, then print message states, the
/// suppression list and a deliverability summary.
///
/// The samples live in examples/demo/<provider>/, one folder per provider slug (`ndjson` or
/// `csv` for canonical exports); every file is one body as the provider sent it: SendGrid
/// webhook batches (one of them retried), SES notifications through SNS and a Firehose export,
/// a Mailgun webhook and an Events API page that repeats it, Postmark bounce webhooks, a
/// SparkPost batch. examples/demo/sends.csv is the send log the revenue query joins
/// (`mailstate sql --table sends=examples/demo/sends.csv -f sql/queries/revenue_attribution.sql`).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The samples folder (default: examples/demo of this checkout).
    #[arg(long)]
    examples: Option<PathBuf>,
    /// Keep the store in this folder instead of a temporary one.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Write the store's report (`mailstate report`) here (default: the temporary folder's
    /// mailstate-demo-report.html).
    #[arg(long, value_name = "report.html")]
    report: Option<PathBuf>,
}

/// The samples folder of this checkout.
pub(crate) fn default_examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("examples").join("demo")
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let examples = args.examples.clone().unwrap_or_else(default_examples);
    if !examples.is_dir() {
        bail!("no samples at {} (give --examples DIR)", examples.display());
    }
    let temp = std::env::temp_dir().join(format!("mailstate-demo-{}", std::process::id()));
    let dir = args.keep.clone().unwrap_or_else(|| temp.clone());
    let report = args
        .report
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("mailstate-demo-report.html"));
    let result = demo(&examples, &dir, &report, out);
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}

fn demo(
    examples: &Path,
    dir: &Path,
    report: &Path,
    out: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let store = Store::open(dir)?;
    writeln!(out, "== ingest (store: {})", dir.display())?;
    let mut providers: Vec<(Provider, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(examples)
        .with_context(|| format!("cannot read {}", examples.display()))?
    {
        let p = entry?.path();
        let slug = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let (true, Ok(provider)) = (p.is_dir(), slug.parse::<Provider>()) {
            providers.push((provider, p));
        }
    }
    providers.sort();
    let mut outcome = Outcome::Clean;
    for (provider, folder) in providers {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let summary = crate::ingest::ingest_files(&store, provider, &files)?;
        writeln!(out, "{:<10} {}", provider.as_str(), summary.line())?;
        for r in &summary.rejected {
            for e in &r.errors {
                writeln!(out, "           {}: {e}", r.source)?;
            }
            outcome = Outcome::SomeInputRejected;
        }
    }
    let rt = crate::runtime()?;
    rt.block_on(async {
        let ctx = mailstate_sql::context(None)?;
        register_store(&ctx, dir).await?;
        let mut queries = vec![
            ("message states", MESSAGE_STATES),
            ("suppression list", SUPPRESSION_LIST),
            ("deliverability by provider, recipient domain and day", DELIVERABILITY),
        ];
        let sends = examples.join("sends.csv");
        if sends.is_file() {
            register_table(&ctx, "sends", &sends).await?;
            queries.push((
                "revenue by campaign (sends.csv joined to message state)",
                REVENUE_ATTRIBUTION,
            ));
        }
        for (title, sql) in queries {
            writeln!(out, "\n== {title}")?;
            let batches = run_sql(&ctx, sql).await?;
            write(&batches, Format::Table, out)?;
        }
        writeln!(out, "\n== report")?;
        let file = std::fs::File::create(report)
            .with_context(|| format!("cannot write the report to {}", report.display()))?;
        let options = mailstate_cli::report::Options {
            title: "Deliverability report: mailstate demo".to_owned(),
            source: "examples/demo".to_owned(),
            store_root: Some(dir.to_path_buf()),
            ..mailstate_cli::report::Options::default()
        };
        let line = crate::report_command::build_and_write(&ctx, &options, file, report).await?;
        writeln!(out, "{line}")?;
        anyhow::Ok(())
    })?;
    Ok(outcome)
}
