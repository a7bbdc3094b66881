//! `mailstate sql`: SQL over the event store and other tables, with mailstate's functions.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::Outcome;
use crate::query::{Format, register_store, register_table, run_sql, write, write_parquet};

/// Run SQL with message_state, recipient_suppressions, event_rank, is_terminal and
/// provider_events registered.
///
/// `events` is the ingested (or generated) store given by --events; more CSV, JSON/NDJSON or
/// Parquet tables come with --table NAME=PATH. Statements are separated by `;`; the result of
/// the last one is printed.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["file", "query"])))]
pub(crate) struct Args {
    /// A store folder (from `ingest` or `generate`), registered as table `events`.
    #[arg(long)]
    events: Option<PathBuf>,
    /// Another table: NAME=PATH (.csv, .json, .ndjson, .parquet, or a folder of Parquet).
    #[arg(long = "table", value_name = "NAME=PATH")]
    tables: Vec<String>,
    /// Read the SQL from this file.
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// The SQL text.
    query: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the output here instead of stdout.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// DataFusion's target partitions (default: the number of cores).
    #[arg(long)]
    partitions: Option<usize>,
    /// Run under this memory limit (bytes, or with a K, M or G suffix: `512M`): DataFusion's
    /// fair spill pool, so a GROUP BY larger than the limit spills sorted partial states to a
    /// temporary folder (removed after) and gives the same result. Default: no limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<usize>,
    #[command(flatten)]
    rules: crate::rules_arg::RulesArgs,
    /// Run on an Apache Ballista cluster (`mailstate cluster scheduler`): planned here, run by
    /// its executors, which must run the same --rules and read the same paths.
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
}

/// A size in bytes: digits, then optionally `K`, `M`, `G` or `T` (powers of 1024), with an
/// optional `B` or `iB` after it (`512M`, `1GiB`, `65536`).
fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let shift =
        match unit.trim_end_matches("iB").trim_end_matches('B').to_ascii_uppercase().as_str() {
            "" => 0,
            "K" => 10,
            "M" => 20,
            "G" => 30,
            "T" => 40,
            _ => return Err(format!("expected a size such as 512M or 2G, found {text:?}")),
        };
    let n: usize = number
        .parse()
        .map_err(|_| format!("expected a size such as 512M or 2G, found {text:?}"))?;
    n.checked_mul(1usize << shift)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("size {text:?} is zero or too large"))
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let text = match (&args.file, &args.query) {
        (Some(f), _) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        (None, Some(q)) => q.clone(),
        (None, None) => bail!("give a QUERY or -f FILE"),
    };
    let rules = args.rules.load()?;
    let rt = crate::runtime()?;
    let spill_dir = std::env::temp_dir().join(format!("mailstate-spill-{}", std::process::id()));
    let batches = rt.block_on(async {
        let ctx = match (&args.cluster, args.memory_limit) {
            (None, None) => mailstate_sql::context_with(args.partitions, &rules)?,
            (Some(_), Some(_)) => bail!(
                "--memory-limit bounds a local run; on a cluster each executor has its own memory"
            ),
            (Some(url), None) => {
                let ctx = mailstate_cluster::connect(url, args.partitions, &rules).await?;
                if args.rules.verbose() {
                    eprintln!(
                        "mailstate: cluster: {url} (Ballista {}), executors must run rules {}",
                        mailstate_cluster::BALLISTA_VERSION,
                        mailstate_cluster::rules_identity(&rules)
                    );
                }
                ctx
            }
            (None, Some(limit)) => {
                std::fs::create_dir_all(&spill_dir).with_context(|| {
                    format!("cannot create the spill folder {}", spill_dir.display())
                })?;
                mailstate_sql::context_with_memory_limit(
                    args.partitions,
                    &rules,
                    limit,
                    &spill_dir,
                )?
            }
        };
        if let Some(dir) = &args.events {
            register_store(&ctx, dir).await?;
        }
        for t in &args.tables {
            let (name, path) =
                t.split_once('=').with_context(|| format!("--table {t}: expected NAME=PATH"))?;
            let mut path = PathBuf::from(path);
            if args.cluster.is_some() {
                // Executors read the file themselves, from their own working folder.
                path = std::path::absolute(&path)
                    .with_context(|| format!("--table {t}: cannot resolve the path"))?;
            }
            register_table(&ctx, name, &path).await?;
        }
        let result = run_sql(&ctx, &text).await;
        match result {
            Err(e)
                if args.cluster.is_some()
                    && format!("{e:#}").contains("serializing custom table") =>
            {
                Err(e.context(
                    "this query reads an in-memory table (provider_events, or a table made in the \
                     session), which cannot be sent to a cluster: ingest the payloads with \
                     `mailstate ingest` and query the store with --events",
                ))
            }
            other => other,
        }
    });
    if args.memory_limit.is_some() {
        // DataFusion removes its own spill files with the context; this removes their folder.
        std::fs::remove_dir_all(&spill_dir).ok();
    }
    let batches = batches?;
    match (&args.out, args.format) {
        (Some(path), Format::Parquet) => write_parquet(&batches, path)?,
        (Some(path), format) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            );
            write(&batches, format, &mut f)?;
            f.flush()?;
        }
        (None, format) => write(&batches, format, out)?,
    }
    Ok(Outcome::Clean)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_binary_suffixes_and_reject_the_rest() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("256m"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2KB"), Ok(2048));
        for bad in ["", "M", "12X", "-1G", "0", "1.5G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
