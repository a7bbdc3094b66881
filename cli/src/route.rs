use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use mailstate_core::route::RoutingPolicy;
use serde_json::json;

use crate::{Outcome, input, write_line};

/// Route each canonical event: suppress, state, analytics or drop.
///
/// Prints one line per event, in input order: {"route": "...", "event": {...}}.
/// Defaults: complaint, hard_bounce, unsubscribe and resubscribe go to `suppress` (forward
/// now); open and click to `analytics` (batchable); everything else to `state`. An open or
/// click a provider flagged as a machine's (`automated`: privacy_proxy or scanner) takes the
/// policy's `automated` route, `analytics` by default, whatever its type's route, and keeps
/// its flag. An event whose event_key was already seen in this run goes to `drop`.
///
/// The policy is a JSON file; a `types` map replaces the default table:
///   {"types": {"open": "drop", "complaint": "suppress"}, "default": "state",
///    "duplicates": "drop", "automated": "analytics"}
///
/// Example:
///   mailstate route examples/events.ndjson | jq -c 'select(.route == "suppress")'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Routing policy (JSON). Without it, the defaults above.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Canonical event files (NDJSON); `-` or nothing reads stdin.
    files: Vec<PathBuf>,
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let policy = input::policy(args.policy.as_deref(), RoutingPolicy::from_json)?;
    let mut seen: HashSet<String> = HashSet::new();
    let bad = input::for_each_event(&args.files, |e| {
        let dup = !seen.insert(e.event_key.clone());
        let route = policy.route(&e, dup);
        write_line(out, &json!({ "route": route, "event": e }))
    })?;
    Ok(if bad == 0 { Outcome::Clean } else { Outcome::SomeInputRejected })
}
