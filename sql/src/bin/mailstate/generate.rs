//! `mailstate generate`: synthetic canonical events as Parquet.

use std::io::Write;
use std::path::PathBuf;

use mailstate_sql::generate::{GenerateOptions, generate};

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
