use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use mailstate_core::suppress::{SuppressionPolicy, SuppressionState};

use crate::{Outcome, input, write_line};

/// List the active suppressions of every recipient in canonical events.
///
/// Prints one JSON line per suppression, sorted by recipient, scope and reason:
///   {"recipient","scope","reason","since","event_key"}
/// scope is `all` or `stream:S`. Defaults: hard bounce and complaint suppress `all` for good;
/// an unsubscribe suppresses its stream (or `all` without a stream) until a later resubscribe
/// in that stream; 3 soft bounces within 7 days with no delivery between suppress `all`.
///
/// The policy is a JSON file; every field is optional:
///   {"hard_bounce": "all", "complaint": "all" | "stream" | "off",
///    "unsubscribe": "stream" | "all" | "off",
///    "soft_bounce": {"count": 3, "window_secs": 604800} | null}
///
/// Example:
///   mailstate suppressions --policy policy.json examples/events.ndjson
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Suppression policy (JSON). Without it, the defaults above.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Canonical event files (NDJSON); `-` or nothing reads stdin.
    files: Vec<PathBuf>,
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let policy = input::policy(args.policy.as_deref(), SuppressionPolicy::from_json)?;
    let mut by_recipient: BTreeMap<String, SuppressionState> = BTreeMap::new();
    let bad = input::for_each_event(&args.files, |e| {
        if let Some(r) = &e.recipient
            && SuppressionState::is_relevant(e.kind)
        {
            by_recipient.entry(r.clone()).or_default().apply(&e);
        }
        Ok(())
    })?;
    for state in by_recipient.values() {
        for s in state.evaluate(&policy) {
            write_line(out, &s)?;
        }
    }
    Ok(if bad == 0 { Outcome::Clean } else { Outcome::SomeInputRejected })
}
