use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use mailstate_core::batch::{EventBatch, ReduceBatch, StateBatch, chunk_ranges};
use mailstate_core::{EventFacts, MessageGroups, StateEvent};
use mailstate_sql::SqlRules;

use crate::{Outcome, input, write_line};

/// Compute one message state per (message_id, recipient) from canonical events.
///
/// Reads canonical events as NDJSON (one JSON object per line, as `mailstate normalize`
/// writes them) and prints one state per (message_id, recipient) as NDJSON, sorted by
/// message_id then recipient, with exactly the fields of DESIGN.md: status, terminal,
/// terminal_at, first/last event times, accepted_at … unsubscribed_at, counts,
/// late_event_count, bounce_class, bounce_category and diagnostic.
///
/// People or machines: an open or click whose event has `automated` set (privacy_proxy: an
/// image proxy such as Apple Mail Privacy Protection fetched it; scanner: a security scanner
/// or bot; set only from the provider's own flag, SendGrid sg_machine_open, Mailgun
/// client-info.bot, Brevo proxy_open) counts in open_count or click_count and in
/// automated_open_count or automated_click_count, but never makes the status open or click
/// and never sets first_open_at or first_click_at. bounce_category says why the chosen bounce
/// failed (invalid_recipient, mailbox_full, mailbox_disabled, domain_error, blocked, policy,
/// content, expired, auto_reply, other), next to its bounce_class.
///
/// Arrival order and duplicates do not matter: an event key seen twice counts once. Memory
/// is bounded by the messages and their distinct events (one small record each: type, time,
/// bounce details), never by the input size: retries and re-reads add nothing.
///
/// With --rules PATH.wasm the states are computed by that wasm plugin (the same artifact the
/// edge runs), in batches of whole messages; the output is the same, byte for byte.
///
/// Example:
///   mailstate state examples/events.ndjson
///   mailstate normalize --provider sendgrid body.json | mailstate state
///   mailstate state --rules wasm/dist/mailstate_plugin.wasm --verbose examples/events.ndjson
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Canonical event files (NDJSON); `-` or nothing reads stdin.
    files: Vec<PathBuf>,
    #[command(flatten)]
    rules: crate::rules_arg::RulesArgs,
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let rules = args.rules.load()?;
    if !rules.is_native() {
        return run_with(&rules, &args.files, out);
    }
    // Each line is read for the few fields the state needs (no owned `Event`), and every
    // group's events go to one flat store (`MessageGroups`).
    let mut groups = MessageGroups::default();
    let bad = input::for_each_line(&args.files, |line| {
        let e = match StateEvent::from_json(line) {
            Ok(e) => e,
            Err(err) => return Ok(Some(err.to_string())),
        };
        groups.insert(e.message_id(), e.recipient(), e.event_key(), e.facts())?;
        Ok(None)
    })?;
    let mut written = Ok(());
    groups.drain_views(|view| {
        if written.is_ok() {
            written = write_line(out, &view);
        }
    });
    written?;
    Ok(if bad == 0 { Outcome::Clean } else { Outcome::SomeInputRejected })
}

/// Events of one (message_id, recipient): their keys and facts.
type Group = Vec<(String, EventFacts)>;

/// `state` with rules behind a boundary: group here, reduce there, whole groups per call.
fn run_with(rules: &SqlRules, files: &[PathBuf], out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut groups: HashMap<(Option<String>, Option<String>), Group> = HashMap::new();
    let bad = input::for_each_event(files, |mut e| {
        let key = (e.message_id.take(), e.recipient.take());
        let facts = EventFacts::from_event(&e);
        groups.entry(key).or_default().push((std::mem::take(&mut e.event_key), facts));
        Ok(())
    })?;
    let mut sorted: Vec<_> = groups.into_iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let sizes: Vec<usize> = sorted.iter().map(|(_, events)| events.len()).collect();
    for range in chunk_ranges(&sizes, 32 * 1024) {
        let chunk = &sorted[range];
        let count = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        let mut batch = EventBatch::new(count);
        for (g, ((message_id, recipient), events)) in (0..count).zip(chunk) {
            for (key, f) in events {
                batch.push_facts(g, key, f, message_id.as_deref(), recipient.as_deref());
            }
        }
        let views =
            rules.reduce_views("state", &ReduceBatch::new(&batch, &StateBatch::new(count)))?;
        if views.len() != chunk.len() {
            anyhow::bail!(
                "rules {} answered {} states for {} messages",
                rules.describe(),
                views.len(),
                chunk.len()
            );
        }
        for view in views.into_views() {
            write_line(out, &view)?;
        }
    }
    Ok(if bad == 0 { Outcome::Clean } else { Outcome::SomeInputRejected })
}
