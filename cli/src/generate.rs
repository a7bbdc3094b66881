//! `mailstate generate`: synthetic canonical events as Parquet.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use conformance::synthetic::{GenerateOptions, Rng, day_of, message_events};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use mailstate_core::Event;
use mailstate_sql::{event_schema, events_to_batch};

use crate::Outcome;

/// Write realistic synthetic events as Parquet (the layout of an ingested store).
///
/// Lifecycles mix deliveries, deferrals, soft and hard bounces, rejections, opens, clicks,
/// complaints, unsubscribes and resubscribes; about 15% of events are retried duplicates and
/// rows arrive out of time order. The same seed gives the same files.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How many messages (about 5 events each).
    #[arg(long)]
    messages: u64,
    /// The output folder (events go to OUT/events/day=YYYY-MM-DD/).
    #[arg(long, short)]
    out: PathBuf,
    /// The PRNG seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let bar = crate::progress_bar(args.messages, "messages");
    let done =
        generate(&args.out, &GenerateOptions::new(args.messages, args.seed), |n| bar.inc(n))?;
    bar.finish_and_clear();
    writeln!(
        out,
        "{} messages, {} events, {} files in {}",
        done.messages,
        done.events,
        done.files.len(),
        args.out.join("events").display()
    )?;
    Ok(Outcome::Clean)
}

/// What was written.
#[derive(Clone, Debug, Default)]
pub(crate) struct Generated {
    /// Rows written (retries included).
    pub(crate) events: u64,
    /// Messages generated.
    pub(crate) messages: u64,
    /// The Parquet files written.
    pub(crate) files: Vec<PathBuf>,
}

/// Write synthetic events to `dir/events/day=YYYY-MM-DD/part-00000.parquet` (the layout of an
/// ingested store, so `mailstate sql --events dir` reads it).
///
/// # Errors
/// When a file cannot be created or written.
pub(crate) fn generate(
    dir: &Path,
    opts: &GenerateOptions,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<Generated> {
    const CHUNK: u64 = 20_000;
    let mut rng = Rng::new(opts.seed);
    let mut writers: BTreeMap<String, (PathBuf, ArrowWriter<File>)> = BTreeMap::new();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(256 * 1024))
        .build();
    let mut summary = Generated { messages: opts.messages, ..Generated::default() };
    let mut n = 0;
    while n < opts.messages {
        let end = (n + CHUNK).min(opts.messages);
        let mut chunk = Vec::new();
        for m in n..end {
            chunk.extend(message_events(&mut rng, opts, m));
        }
        // Arrival order is not time order: shuffle the chunk (Fisher-Yates).
        for i in (1..chunk.len()).rev() {
            let j = usize::try_from(rng.below(i as u64 + 1)).unwrap_or(0);
            chunk.swap(i, j);
        }
        let mut by_day: BTreeMap<String, Vec<Event>> = BTreeMap::new();
        for e in chunk {
            by_day.entry(day_of(&e)).or_default().push(e);
        }
        for (day, events) in by_day {
            summary.events += events.len() as u64;
            let batch = events_to_batch(&events)?;
            if !writers.contains_key(&day) {
                let folder = dir.join("events").join(format!("day={day}"));
                std::fs::create_dir_all(&folder)
                    .with_context(|| format!("creating {}", folder.display()))?;
                let path = folder.join("part-00000.parquet");
                let file =
                    File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                let w = ArrowWriter::try_new(file, event_schema(), Some(props.clone()))?;
                writers.insert(day.clone(), (path, w));
            }
            if let Some((_, w)) = writers.get_mut(&day) {
                w.write(&batch)?;
            }
        }
        progress(end - n);
        n = end;
    }
    for (_, (path, w)) in writers {
        w.close()?;
        summary.files.push(path);
    }
    Ok(summary)
}
