use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use mailstate_core::MessageState;

use crate::{Outcome, input, write_line};

/// Compute one message state per (message_id, recipient) from canonical events.
///
/// Reads canonical events as NDJSON (one JSON object per line, as `mailstate normalize`
/// writes them) and prints one state per (message_id, recipient) as NDJSON, sorted by
/// message_id then recipient, with exactly the fields of DESIGN.md: status, terminal,
/// terminal_at, first/last event times, accepted_at … unsubscribed_at, counts,
/// late_event_count, bounce_class and diagnostic.
///
/// Arrival order and duplicates do not matter: an event key seen twice counts once. Memory
/// is bounded by the messages and their distinct events (one small record each: type, time,
/// bounce details), never by the input size: retries and re-reads add nothing.
///
/// Example:
///   mailstate state examples/events.ndjson
///   mailstate normalize --provider sendgrid body.json | mailstate state
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Canonical event files (NDJSON); `-` or nothing reads stdin.
    files: Vec<PathBuf>,
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut groups: HashMap<(Option<String>, Option<String>), MessageState> = HashMap::new();
    let bad = input::for_each_event(&args.files, |mut e| {
        // The group key moves out of the event: the state is labelled once, when created.
        let key = (e.message_id.take(), e.recipient.take());
        groups
            .entry(key)
            .or_insert_with_key(|(m, r)| MessageState::new(m.clone(), r.clone()))
            .apply(&e);
        Ok(())
    })?;
    let mut sorted: Vec<_> = groups.into_iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (_, state) in sorted {
        write_line(out, &state.view())?;
    }
    Ok(if bad == 0 { Outcome::Clean } else { Outcome::SomeInputRejected })
}
