//! `mailstate report`: the arguments, their checks, and the file; the page itself is
//! `mailstate_cli::report`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use datafusion::prelude::SessionContext;
use mailstate_cli::report::{self, Bucket};
use mailstate_core::Timestamp;

use crate::query::{register_store, register_table};
use crate::{Outcome, UsageError};

/// Write a deliverability report: one self-contained HTML page (inline SVG charts and CSS, no
/// script, font or link that loads anything) that opens in any browser, light or dark.
///
/// It shows delivery, bounce (hard, soft, block), complaint and deferral rates per provider
/// over time against the published complaint thresholds (0.1%, 0.3%); the recipient domains
/// with the worst bounce and complaint rates; opens and clicks by people and by machines
/// (when the events carry `automated`); bounce categories (when they carry
/// `bounce_category`) and the top diagnostics; suppressions by reason and the list's size;
/// late events and duplicates per provider; and, with --table sends=PATH, revenue by
/// campaign. Every number comes from the SQL files of sql/queries/ and is listed in a table
/// below its chart and in the page's JSON block (#report-data).
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  \
    mailstate ingest --provider sendgrid --out store webhooks/*.json\n  \
    mailstate report --events store --table sends=sends.csv --since 2025-11-01 --by week --out report.html\n\n\
    Times are UTC: a date (2025-11-01, midnight) or an RFC 3339 time (2025-11-01T09:30:00Z).")]
pub(crate) struct Args {
    /// The store folder (from `ingest`, `pull` or `generate`).
    #[arg(long, value_name = "DIR")]
    events: PathBuf,
    /// The send log for revenue by campaign: sends=PATH (.csv, .json, .ndjson or .parquet
    /// with message_id, recipient, campaign, sent_at, revenue).
    #[arg(long = "table", value_name = "sends=PATH")]
    tables: Vec<String>,
    /// Only events at or after this time.
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Only events before this time.
    #[arg(long, value_name = "T")]
    until: Option<String>,
    /// The time bucket of the charts over time.
    #[arg(long, value_enum, default_value_t = By::Day)]
    by: By,
    /// The page's title.
    #[arg(long, default_value = "Deliverability report")]
    title: String,
    /// Where to write the page.
    #[arg(long, short, value_name = "report.html")]
    out: PathBuf,
}

/// `--by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum By {
    /// Calendar days (UTC).
    Day,
    /// Weeks starting on Monday (UTC).
    Week,
}

/// A time argument: a date (midnight UTC) or an RFC 3339 time, as milliseconds and text.
fn time_arg(flag: &str, text: &str) -> Result<(i64, String), UsageError> {
    let full = if text.len() == 10 { format!("{text}T00:00:00Z") } else { text.to_owned() };
    Timestamp::parse_rfc3339(&full).map(|t| (t.as_millis(), text.to_owned())).map_err(|_| {
        UsageError(format!(
            "{flag} {text}: expected a date (2025-11-01) or an RFC 3339 time \
             (2025-11-01T09:30:00Z), in UTC or with an offset"
        ))
    })
}

/// The checked arguments.
struct Config {
    events: PathBuf,
    sends: Option<PathBuf>,
    options: report::Options,
    out: PathBuf,
}

fn config(args: &Args) -> anyhow::Result<Config> {
    let since = args.since.as_deref().map(|t| time_arg("--since", t)).transpose()?;
    let until = args.until.as_deref().map(|t| time_arg("--until", t)).transpose()?;
    if let (Some(s), Some(u)) = (&since, &until)
        && s.0 >= u.0
    {
        return Err(UsageError(format!("--since {} is not before --until {}", s.1, u.1)).into());
    }
    let mut sends = None;
    for t in &args.tables {
        match t.split_once('=') {
            Some(("sends", path)) => sends = Some(PathBuf::from(path)),
            _ => {
                return Err(UsageError(format!(
                    "--table {t}: expected sends=PATH (the send log of revenue by campaign)"
                ))
                .into());
            }
        }
    }
    if !args.events.is_dir() {
        anyhow::bail!("--events {}: no such folder", args.events.display());
    }
    Ok(Config {
        events: args.events.clone(),
        sends,
        options: report::Options {
            title: args.title.clone(),
            source: args.events.display().to_string(),
            store_root: Some(args.events.clone()),
            since,
            until,
            by: match args.by {
                By::Day => Bucket::Day,
                By::Week => Bucket::Week,
            },
            generated_at: now(),
        },
        out: args.out.clone(),
    })
}

/// Now, as RFC 3339 text (the page says when it was made).
fn now() -> Option<String> {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    Timestamp::from_millis(i64::try_from(ms).ok()?).map(|t| t.to_string())
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let config = config(args)?;
    // Fail on an unwritable --out before the queries run, not after.
    let file = std::fs::File::create(&config.out)
        .with_context(|| format!("--out {}: cannot write", config.out.display()))?;
    let result = crate::runtime()?.block_on(async {
        let ctx = mailstate_sql::context(None)?;
        register_store(&ctx, &config.events).await?;
        if let Some(sends) = &config.sends {
            register_table(&ctx, "sends", sends).await?;
        }
        build_and_write(&ctx, &config.options, file, &config.out).await
    });
    match result {
        Ok(summary) => {
            writeln!(out, "{summary}")?;
            Ok(Outcome::Clean)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&config.out);
            Err(e)
        }
    }
}

/// Build the report over `ctx`'s `events` (and `sends`) and write it to `file` at `path`;
/// one line saying what was written.
pub(crate) async fn build_and_write(
    ctx: &SessionContext,
    options: &report::Options,
    mut file: std::fs::File,
    path: &Path,
) -> anyhow::Result<String> {
    let started = std::time::Instant::now();
    let built = report::build(ctx, options).await?;
    let html = built.html();
    file.write_all(html.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("--out {}: cannot write", path.display()))?;
    Ok(format!(
        "wrote {} ({} charts, {} KB) in {:.1} s",
        path.display(),
        built.chart_count(),
        html.len().div_ceil(1024),
        started.elapsed().as_secs_f64()
    ))
}
