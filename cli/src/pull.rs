//! `mailstate pull`: fetch events from a provider's activity API into the event store.
//!
//! Each window of time comes from core's [`plan_sync`]: it starts an overlap before the last
//! watermark (events are indexed late; re-read events have the same `event_key` and dedupe
//! away), is clamped to what the provider still keeps (a [`RetentionGap`] is printed on
//! stderr), and a window that was cut short resumes at its cursor. Every page is stored raw
//! and then as canonical events (the same store and code as `mailstate ingest`), and only then
//! is the checkpoint file `DIR/pull-<provider>.json` replaced (temp file, fsync, rename, fsync
//! of the folder). A pull killed at any point re-fetches at most the page it was storing (and,
//! for the APIs that list messages, that page's message details).
//!
//! | provider | endpoint | paging | stored as |
//! |---|---|---|---|
//! | mailgun | `GET /v3/{domain}/events?begin&end&ascending=yes&limit=300` | `paging.next` URL until a page with no `items` | the page, normalized by core (`items`) |
//! | sparkpost | `GET /api/v1/events/message?from&to&per_page&cursor=initial` | `links.next` until it is missing | the page, normalized by core (`results`) |
//! | postmark | 1. `GET /messages/outbound?count&offset&fromdate&todate`, then per message `GET /messages/outbound/{MessageID}/details` | `offset` until `TotalCount`, then phase 2 | the list page raw; each details body raw, then its `MessageEvents` (normalized by core) |
//! | | 2. `GET /bounces?count&offset&fromdate&todate` | `offset` until `TotalCount` | the page raw, then each bounce record (core reads the Bounces API shape) |
//! | sendgrid | `GET /v3/messages?limit&query=last_event_time BETWEEN …`, then per message `GET /v3/messages/{msg_id}` | none (one list request per window) | the list raw; each details body raw, then its `events` (normalized by core) |
//!
//! Postmark and SendGrid list *messages*, not events, so each listed message costs one more
//! request for its details, and a details body that went missing in between (HTTP 404, the
//! message aged out) is skipped with a warning. What each list's time range means differs:
//!
//! - SendGrid filters on a message's `last_event_time`, so a message with a new event comes
//!   back in the next window and its new events are read then (its older ones dedupe).
//! - Postmark's Messages API filters on the time the message was *sent*. Events that happen
//!   to a message after the window that listed it (a delivery retried for hours, an open days
//!   later) are seen only when a later window lists it again: `--lookback-secs` widens every
//!   Postmark message window that far back (default 0, i.e. only the overlap), at the price
//!   of one details request per message in it. Bounces need no lookback: phase 2 reads the
//!   Bounces API by bounce time, and its records share their key (`postmark:{ID}`) with the
//!   Bounce webhook. Postmark lists messages newest first; a message sent while the pages are
//!   read shifts the offsets by one, which repeats a message (deduped), never skips one.
//! - The Messages API reads the `outbound` stream unless told otherwise (`--message-stream`).
//! - Details bodies hold what the provider returns, message content included (Postmark's
//!   `TextBody` / `HtmlBody`); they are kept under `raw/` like every other body.
//!
//! The API key comes from `MAILSTATE_API_KEY` (or the provider's own variable, see
//! [`key_var`]); it goes only into the request's authorization header, never into a URL, a
//! log line or an error. A page URL handed back by the provider is followed only when it is
//! on `--base-url`, so the key never leaves for another host.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::store::{Body, IngestSummary, Store};
use anyhow::{Context, bail};
use mailstate_core::{
    ErrorKind, Provider, Timestamp,
    sync::{Checkpoint, RetentionGap, SyncOptions, WindowInProgress, plan_sync},
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{Outcome, UsageError};

/// Fetch events from a provider's events/activity API into a store.
///
/// Resumable: the checkpoint DIR/pull-<provider>.json is written only after a page is durably
/// stored, so a killed pull continues where it stopped, and overlapping re-reads dedupe by
/// event key. The API key is read from MAILSTATE_API_KEY (or MAILGUN_API_KEY,
/// SPARKPOST_API_KEY, POSTMARK_SERVER_TOKEN, SENDGRID_API_KEY).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// mailgun, sparkpost, postmark or sendgrid.
    #[arg(long, short)]
    provider: String,
    /// The store folder (the same as `mailstate ingest --out`).
    #[arg(long, short)]
    out: PathBuf,
    /// First sync only: start here (RFC 3339) instead of at the retention edge.
    #[arg(long)]
    since: Option<String>,
    /// End of the window (RFC 3339); default now.
    #[arg(long)]
    until: Option<String>,
    /// The API's base URL (EU regions, tests); default the provider's US endpoint.
    #[arg(long)]
    base_url: Option<String>,
    /// Mailgun: the sending domain (default: $MAILGUN_DOMAIN).
    #[arg(long)]
    domain: Option<String>,
    /// Re-read this many seconds before the last watermark (default 900).
    #[arg(long)]
    overlap_secs: Option<u64>,
    /// Records per page request (default: the API's maximum; 300 for mailgun, 1000 for
    /// sparkpost and sendgrid, 500 for postmark).
    #[arg(long)]
    page_size: Option<u64>,
    /// Postmark: list messages sent this many seconds before each window too, to read events
    /// that reached older messages late (one details request per message; default 0).
    #[arg(long)]
    lookback_secs: Option<u64>,
    /// Postmark: the message stream to read (default: Postmark's, `outbound`).
    #[arg(long)]
    message_stream: Option<String>,
}

/// The environment variable holding the key for `provider`, after `MAILSTATE_API_KEY`.
fn key_var(provider: Provider) -> &'static str {
    match provider {
        Provider::Mailgun => "MAILGUN_API_KEY",
        Provider::Sparkpost => "SPARKPOST_API_KEY",
        Provider::Postmark => "POSTMARK_SERVER_TOKEN",
        _ => "SENDGRID_API_KEY",
    }
}

fn default_base(provider: Provider) -> &'static str {
    match provider {
        Provider::Mailgun => "https://api.mailgun.net",
        Provider::Sparkpost => "https://api.sparkpost.com",
        Provider::Postmark => "https://api.postmarkapp.com",
        _ => "https://api.sendgrid.com",
    }
}

/// Test hook: abort the process after storing this many pages, before their checkpoint.
const CRASH_HOOK: &str = "MAILSTATE_PULL_CRASH_AFTER_PAGES";

/// The largest page each API serves.
fn max_page(provider: Provider) -> u64 {
    match provider {
        Provider::Mailgun => 300,
        Provider::Postmark => 500,
        _ => 1000,
    }
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let provider: Provider = args.provider.parse()?;
    let Some(mut options) = SyncOptions::for_provider(provider) else {
        return Err(UsageError(format!(
            "--provider {provider}: pull supports mailgun, sparkpost, postmark and sendgrid"
        ))
        .into());
    };
    if let Some(o) = args.overlap_secs {
        options.overlap_secs = o;
    }
    let time = |s: &Option<String>, flag: &str| -> anyhow::Result<Option<Timestamp>> {
        s.as_deref()
            .map(|s| Timestamp::parse_rfc3339(s).map_err(|e| UsageError(format!("{flag}: {e}"))))
            .transpose()
            .map_err(anyhow::Error::from)
    };
    let since = time(&args.since, "--since")?;
    let until = time(&args.until, "--until")?;
    let api = Api::from_args(args, provider)?;
    let store = Store::open(&args.out)?;
    // Every stored key, read once: each page's events are checked against it and added to it.
    let mut seen = store.stored_keys()?;
    let checkpoint_path = args.out.join(format!("pull-{}.json", provider.as_str()));
    let crash_after: Option<u64> = std::env::var(CRASH_HOOK).ok().and_then(|v| v.parse().ok());

    let mut totals = Totals::default();
    let mut checkpoint = read_checkpoint(&checkpoint_path)?;
    // A resumed window is finished first; then a new window runs if it reaches further.
    let mut finished: Option<Timestamp> = None;
    loop {
        let resumed = checkpoint.in_progress.is_some();
        let plan = match plan_sync(&options, &checkpoint, now()?, since, until) {
            Ok(p) => p,
            Err(e) if finished.is_some() && e.kind() == ErrorKind::InvalidValue => break,
            Err(e) => bail!("{e}"),
        };
        if finished.is_some_and(|end| plan.until <= end) {
            break;
        }
        if let Some(RetentionGap { message, .. }) = &plan.gap {
            eprintln!("mailstate: warning: {provider}: {message}");
        }
        let mut url = match plan.cursor {
            Some(c) => c,
            None => api.first_url(plan.from, plan.until)?,
        };
        loop {
            let bytes = api.client.get(&url)?;
            let page = api.read_page(&url, &bytes)?;
            totals.pages += 1;
            let summary = store_page(&store, &api, &url, &bytes, page.records, &mut seen)?;
            totals.add(&summary);
            if crash_after.is_some_and(|n| totals.pages >= n) {
                eprintln!("mailstate: {CRASH_HOOK}: aborting after storing page {}", totals.pages);
                std::process::abort();
            }
            let next = page.next.filter(|n| *n != url);
            checkpoint = match &next {
                Some(n) => Checkpoint {
                    watermark: checkpoint.watermark,
                    in_progress: Some(WindowInProgress {
                        from: plan.from,
                        until: plan.until,
                        cursor: n.clone(),
                    }),
                },
                None => Checkpoint { watermark: Some(plan.until), in_progress: None },
            };
            write_checkpoint(&checkpoint_path, &checkpoint)?;
            match next {
                Some(n) => url = n,
                None => break,
            }
        }
        if !resumed {
            break;
        }
        finished = Some(plan.until);
    }
    report(out, &totals, &checkpoint)
}

/// Print rejected records on stderr and the one-line summary on `out`.
fn report(
    out: &mut dyn Write,
    totals: &Totals,
    checkpoint: &Checkpoint,
) -> anyhow::Result<Outcome> {
    for r in &totals.rejected {
        eprintln!("mailstate: {}: {} (kept aside at {})", r.0, r.1, r.2.display());
    }
    writeln!(
        out,
        "{} pages, {} message details, {} new events, {} duplicates skipped, {} errors; watermark {}",
        totals.pages,
        totals.details,
        totals.events,
        totals.duplicates,
        totals.errors,
        checkpoint.watermark.map_or_else(|| "none".to_owned(), |w| w.to_string()),
    )?;
    Ok(if totals.errors > 0 { Outcome::SomeInputRejected } else { Outcome::Clean })
}

#[derive(Default)]
struct Totals {
    pages: u64,
    /// Message details requested (Postmark, SendGrid), gone ones (HTTP 404) included.
    details: u64,
    events: u64,
    duplicates: u64,
    errors: u64,
    rejected: Vec<(String, String, PathBuf)>,
}

impl Totals {
    fn add(&mut self, s: &PageSummary) {
        self.details += s.details;
        let s = &s.ingest;
        self.events += s.events;
        self.duplicates += s.duplicates;
        self.errors += s.errors;
        for r in &s.rejected {
            for e in &r.errors {
                self.rejected.push((r.source.clone(), e.clone(), r.kept_at.clone()));
            }
        }
    }
}

fn now() -> anyhow::Result<Timestamp> {
    let ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?.as_millis();
    Timestamp::from_millis(i64::try_from(ms)?).context("the clock is out of range")
}

/// What storing one page did.
struct PageSummary {
    /// Message details requested for it (gone ones included).
    details: u64,
    ingest: IngestSummary,
}

/// Message details are ingested this many at a time (each batch is one Parquet write; details
/// bodies can be large, so a page of 500 is not held in memory at once).
const DETAILS_PER_BATCH: usize = 100;

/// Store one fetched page: the page itself raw, then its canonical events (for a list of
/// messages: each message's details, raw and then as events). `seen` holds every stored key.
fn store_page(
    store: &Store,
    api: &Api,
    url: &str,
    page: &[u8],
    records: Records,
    seen: &mut HashSet<String>,
) -> anyhow::Result<PageSummary> {
    let provider = api.provider;
    let source = format!("{provider} page {}", strip_query(url));
    let mut out = PageSummary { details: 0, ingest: IngestSummary::default() };
    match records {
        Records::WholePage => {
            let body = Body { source, bytes: page.to_vec() };
            out.ingest = store.ingest_with_keys(provider, [body], seen, |_| {})?;
        }
        Records::Each(records) => {
            store.store_body(provider, page)?;
            let bodies = records.iter().enumerate().map(|(i, r)| Body {
                source: format!("{source} record {i}"),
                bytes: r.get().as_bytes().to_vec(),
            });
            out.ingest = store.ingest_with_keys(provider, bodies, seen, |_| {})?;
        }
        Records::Details(urls) => {
            store.store_body(provider, page)?;
            out.ingest.bodies = 1;
            for chunk in urls.chunks(DETAILS_PER_BATCH) {
                let mut bodies = Vec::with_capacity(chunk.len());
                for detail in chunk {
                    match api.client.get_unless_gone(detail)? {
                        Some(bytes) => {
                            bodies.push(Body { source: format!("{provider} {detail}"), bytes });
                        }
                        None => eprintln!(
                            "mailstate: warning: {provider}: {detail} is gone (HTTP 404); skipped"
                        ),
                    }
                    out.details += 1;
                }
                let s = store.ingest_with_keys(provider, bodies, seen, |_| {})?;
                add_ingest(&mut out.ingest, s);
            }
        }
    }
    Ok(out)
}

fn add_ingest(total: &mut IngestSummary, s: IngestSummary) {
    total.bodies += s.bodies;
    total.new_bodies += s.new_bodies;
    total.events += s.events;
    total.duplicates += s.duplicates;
    total.errors += s.errors;
    total.controls += s.controls;
    total.rejected.extend(s.rejected);
    total.files.extend(s.files);
}

/// What a page holds for the normalizer.
enum Records {
    /// The page is one body core normalizes (Mailgun `items`, SparkPost `results`).
    WholePage,
    /// Each record is one body (Postmark bounces).
    Each(Vec<Box<RawValue>>),
    /// A list of messages, kept raw; each message's details (these URLs) are the bodies core
    /// normalizes (Postmark messages, SendGrid activity).
    Details(Vec<String>),
}

struct Page {
    records: Records,
    /// The next page's URL within this window, or `None` at its end.
    next: Option<String>,
}

struct Api {
    provider: Provider,
    base: String,
    domain: Option<String>,
    page_size: u64,
    /// Postmark: how much earlier than each window messages are listed.
    lookback_ms: i64,
    /// Postmark: `messagestream=`.
    message_stream: Option<String>,
    client: Client,
}

impl Api {
    /// The API client of `provider` from the command line and the environment.
    fn from_args(args: &Args, provider: Provider) -> anyhow::Result<Api> {
        let key = std::env::var("MAILSTATE_API_KEY")
            .or_else(|_| std::env::var(key_var(provider)))
            .map_err(|_| {
                UsageError(format!("set MAILSTATE_API_KEY or {} to the API key", key_var(provider)))
            })?;
        let base = args.base_url.as_deref().unwrap_or(default_base(provider)).trim_end_matches('/');
        let domain = match provider {
            Provider::Mailgun => Some(
                args.domain.clone().or_else(|| std::env::var("MAILGUN_DOMAIN").ok()).ok_or_else(
                    || UsageError("mailgun: give --domain or set MAILGUN_DOMAIN".into()),
                )?,
            ),
            _ => None,
        };
        let page_size = args.page_size.unwrap_or(max_page(provider)).clamp(1, max_page(provider));
        if provider != Provider::Postmark
            && (args.lookback_secs.is_some() || args.message_stream.is_some())
        {
            return Err(UsageError(
                "--lookback-secs and --message-stream apply to postmark only".into(),
            )
            .into());
        }
        let lookback_ms = i64::try_from(args.lookback_secs.unwrap_or(0).saturating_mul(1000))
            .map_err(|_| UsageError("--lookback-secs: too large".into()))?;
        let api = Api {
            provider,
            base: base.to_owned(),
            domain,
            page_size,
            lookback_ms,
            message_stream: args.message_stream.clone(),
            client: Client::new(provider, &key),
        };
        Ok(api)
    }

    fn first_url(&self, from: Timestamp, until: Timestamp) -> anyhow::Result<String> {
        let b = &self.base;
        let n = self.page_size;
        let secs = |t: Timestamp| t.as_millis().div_euclid(1000);
        let ceil_secs = |t: Timestamp| (t.as_millis() + 999).div_euclid(1000);
        Ok(match self.provider {
            Provider::Mailgun => format!(
                "{b}/v3/{}/events?begin={}&end={}&ascending=yes&limit={n}",
                encode(self.domain.as_deref().unwrap_or_default()),
                secs(from),
                ceil_secs(until),
            ),
            Provider::Sparkpost => format!(
                "{b}/api/v1/events/message?from={}&to={}&per_page={n}&cursor=initial",
                encode(&iso_secs(secs(from))?),
                encode(&iso_secs(ceil_secs(until))?),
            ),
            // Postmark reads fromdate/todate as US Eastern time without an offset: widen the
            // window by 6 hours at the start (UTC-4 and UTC-5 both fit); the end given in UTC
            // already lies later in Eastern time. The overlap dedupes by event key. Phase 1
            // lists messages (by send time, `--lookback-secs` earlier); phase 2, the bounces
            // of the same window, follows from the last messages page.
            Provider::Postmark => {
                let from = Timestamp::from_millis(from.as_millis() - self.lookback_ms)
                    .context("--lookback-secs reaches before 1970")?;
                self.postmark_url(
                    "messages/outbound",
                    &iso_secs(secs(from) - 6 * 3600)?,
                    &iso_secs(ceil_secs(until))?,
                )
            }
            _ => {
                let q = format!(
                    "last_event_time BETWEEN TIMESTAMP \"{}\" AND TIMESTAMP \"{}\"",
                    iso_secs(secs(from))?,
                    iso_secs(ceil_secs(until))?
                );
                format!("{b}/v3/messages?limit={n}&query={}", encode(&q))
            }
        })
    }

    /// Read one page: its records and the next page's URL.
    fn read_page(&self, url: &str, bytes: &[u8]) -> anyhow::Result<Page> {
        let bad = |e: serde_json::Error| {
            anyhow::anyhow!("{}: unexpected page from {}: {e}", self.provider, strip_query(url))
        };
        match self.provider {
            Provider::Mailgun => {
                #[derive(Deserialize)]
                struct P<'a> {
                    #[serde(borrow)]
                    items: Vec<&'a RawValue>,
                    paging: Option<Paging>,
                }
                #[derive(Deserialize)]
                struct Paging {
                    next: Option<String>,
                }
                let p: P<'_> = serde_json::from_slice(bytes).map_err(bad)?;
                // Next URLs are always present; an empty page ends the range.
                let next = if p.items.is_empty() {
                    None
                } else {
                    p.paging.and_then(|p| p.next).map(|n| self.follow(&n)).transpose()?
                };
                Ok(Page { records: Records::WholePage, next })
            }
            Provider::Sparkpost => {
                #[derive(Deserialize)]
                struct P<'a> {
                    #[serde(borrow)]
                    results: Vec<&'a RawValue>,
                    links: Option<Links>,
                }
                #[derive(Deserialize)]
                struct Links {
                    next: Option<String>,
                }
                let p: P<'_> = serde_json::from_slice(bytes).map_err(bad)?;
                let next = if p.results.is_empty() {
                    None
                } else {
                    p.links.and_then(|l| l.next).map(|n| self.follow(&n)).transpose()?
                };
                Ok(Page { records: Records::WholePage, next })
            }
            Provider::Postmark => self.postmark_page(url, bytes),
            _ => self.sendgrid_page(url, bytes),
        }
    }

    /// A Postmark page: a Messages API list (phase 1) or a Bounces API list (phase 2).
    fn postmark_page(&self, url: &str, bytes: &[u8]) -> anyhow::Result<Page> {
        #[derive(Deserialize)]
        struct Bounces {
            #[serde(rename = "TotalCount")]
            total: Count,
            #[serde(rename = "Bounces")]
            bounces: Vec<Box<RawValue>>,
        }
        #[derive(Deserialize)]
        struct Messages {
            #[serde(rename = "TotalCount")]
            total: Count,
            #[serde(rename = "Messages")]
            messages: Vec<Message>,
        }
        #[derive(Deserialize)]
        struct Message {
            #[serde(rename = "MessageID")]
            id: String,
        }
        let bad = |e: serde_json::Error| {
            anyhow::anyhow!("postmark: unexpected page from {}: {e}", strip_query(url))
        };
        if strip_query(url).ends_with("/bounces") {
            let p: Bounces = serde_json::from_slice(bytes).map_err(bad)?;
            let next = self.postmark_next(url, p.bounces.len(), p.total.0, "bounces")?;
            return Ok(Page { records: Records::Each(p.bounces), next });
        }
        let p: Messages = serde_json::from_slice(bytes).map_err(bad)?;
        let next = match self.postmark_next(url, p.messages.len(), p.total.0, "messages")? {
            Some(n) => Some(n),
            // The messages are done: the same window's bounces come next (over the same
            // range, lookback included; re-read bounces dedupe by key).
            None => Some(self.postmark_url(
                "bounces",
                &decode_param(url, "fromdate"),
                &decode_param(url, "todate"),
            )),
        };
        let urls = p
            .messages
            .iter()
            .map(|m| format!("{}/messages/outbound/{}/details", self.base, encode(&m.id)))
            .collect();
        Ok(Page { records: Records::Details(urls), next })
    }

    /// A SendGrid Email Activity list: the whole window in one request.
    fn sendgrid_page(&self, url: &str, bytes: &[u8]) -> anyhow::Result<Page> {
        #[derive(Deserialize)]
        struct P {
            messages: Vec<M>,
        }
        #[derive(Deserialize)]
        struct M {
            msg_id: String,
        }
        let p: P = serde_json::from_slice(bytes).map_err(|e| {
            anyhow::anyhow!("sendgrid: unexpected page from {}: {e}", strip_query(url))
        })?;
        if p.messages.len() as u64 >= self.page_size {
            eprintln!(
                "mailstate: warning: sendgrid: {} messages in one window, the limit of one Email \
                 Activity request; pull shorter windows to see all",
                self.page_size
            );
        }
        let urls = p
            .messages
            .iter()
            .map(|m| format!("{}/v3/messages/{}", self.base, encode(&m.msg_id)))
            .collect();
        Ok(Page { records: Records::Details(urls), next: None })
    }

    /// A Postmark list URL (`bounces` or `messages/outbound`) for one window, at offset 0.
    fn postmark_url(&self, what: &str, from: &str, to: &str) -> String {
        let mut url = format!(
            "{}/{what}?count={}&offset=0&fromdate={}&todate={}",
            self.base,
            self.page_size,
            encode(from.trim_end_matches('Z')),
            encode(to.trim_end_matches('Z'))
        );
        if let Some(stream) = &self.message_stream {
            url.push_str("&messagestream=");
            url.push_str(&encode(stream));
        }
        url
    }

    /// The next offset page of a Postmark list, or `None` when `got` records at this offset
    /// reached `total`.
    fn postmark_next(
        &self,
        url: &str,
        got: usize,
        total: u64,
        what: &str,
    ) -> anyhow::Result<Option<String>> {
        let offset = query_param(url, "offset").and_then(|o| o.parse::<u64>().ok()).unwrap_or(0);
        let after = offset + got as u64;
        if got == 0 || after >= total {
            Ok(None)
        } else if after + self.page_size > 10_000 {
            bail!(
                "postmark: more than 10000 {what} in one window (Postmark's offset limit); pull \
                 in shorter windows with --until"
            );
        } else {
            Ok(Some(replace_param(url, "offset", &after.to_string())))
        }
    }

    /// A page link from the provider, made absolute; refused unless it is on `base`.
    fn follow(&self, link: &str) -> anyhow::Result<String> {
        let abs = if link.starts_with('/') { format!("{}{link}", self.base) } else { link.into() };
        let on_base =
            abs.strip_prefix(&self.base).is_some_and(|r| r.is_empty() || r.starts_with('/'));
        if !on_base {
            bail!(
                "{}: the next-page link points outside {}; not following it with the API key",
                self.provider,
                self.base
            );
        }
        Ok(abs)
    }
}

/// A count that Postmark documents as a number (its Node client types it as a string): both
/// are read.
struct Count(u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum N {
            Number(u64),
            Text(String),
        }
        match N::deserialize(d)? {
            N::Number(n) => Ok(Count(n)),
            N::Text(t) => t.trim().parse().map(Count).map_err(serde::de::Error::custom),
        }
    }
}

/// A query parameter of `url`, percent-decoded (the ones this module wrote are plain ASCII).
fn decode_param(url: &str, name: &str) -> String {
    let raw = query_param(url, name).unwrap_or_default();
    let mut out = Vec::with_capacity(raw.len());
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%').then(|| raw.get(i + 1..i + 3)).flatten();
        if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds.
fn iso_secs(secs: i64) -> anyhow::Result<String> {
    let t = Timestamp::from_millis(secs * 1000).context("time out of range")?;
    let s = t.to_string();
    Ok(format!("{}Z", &s[..19]))
}

fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
}

fn replace_param(url: &str, name: &str, value: &str) -> String {
    let Some((path, q)) = url.split_once('?') else {
        return format!("{url}?{name}={value}");
    };
    let parts: Vec<String> = q
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k == name => format!("{k}={value}"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

/// Percent-encode a query value.
fn encode(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn read_checkpoint(path: &Path) -> anyhow::Result<Checkpoint> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not a pull checkpoint", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoint::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Replace the checkpoint: temporary file, fsync, rename, fsync of the folder.
fn write_checkpoint(path: &Path, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    let dir = path.parent().context("checkpoint path has no folder")?;
    let tmp = dir.join(format!(".pull-checkpoint.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        serde_json::to_writer_pretty(&mut f, checkpoint)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// A blocking HTTP client with the provider's authorization and its retry rules.
struct Client {
    agent: ureq::Agent,
    /// The authorization header (name, value). Never printed.
    auth: (&'static str, String),
    provider: Provider,
}

/// Give up after this many attempts of one request (429s and 5xx).
const ATTEMPTS: u32 = 6;
/// Never wait longer than this for one retry.
const MAX_WAIT: Duration = Duration::from_mins(2);

impl Client {
    fn new(provider: Provider, key: &str) -> Client {
        let auth = match provider {
            Provider::Mailgun => (
                "Authorization",
                format!(
                    "Basic {}",
                    mailstate_core::encoding::encode_base64(format!("api:{key}").as_bytes())
                ),
            ),
            Provider::Sparkpost => ("Authorization", key.to_owned()),
            Provider::Postmark => ("X-Postmark-Server-Token", key.to_owned()),
            _ => ("Authorization", format!("Bearer {key}")),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_mins(2)))
            .user_agent(concat!("mailstate/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { agent, auth, provider }
    }

    /// GET `url`: retry a 429 after its Retry-After, back off on 5xx and transport errors,
    /// fail on other 4xx with the provider's message. Errors name the URL without its query.
    fn get(&self, url: &str) -> anyhow::Result<Vec<u8>> {
        self.fetch(url, false)?.context("no body")
    }

    /// [`Client::get`], except that a 404 (a message that aged out after it was listed) is
    /// `None` instead of an error.
    fn get_unless_gone(&self, url: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.fetch(url, true)
    }

    fn fetch(&self, url: &str, gone_is_none: bool) -> anyhow::Result<Option<Vec<u8>>> {
        let shown = strip_query(url);
        let mut backoff = Duration::from_secs(1);
        for attempt in 1..=ATTEMPTS {
            let last = attempt == ATTEMPTS;
            let result = self
                .agent
                .get(url)
                .header(self.auth.0, &self.auth.1)
                .header("Accept", "application/json")
                .call();
            let mut resp = match result {
                Ok(r) => r,
                Err(e) if !last => {
                    eprintln!(
                        "mailstate: {}: GET {shown}: {e}; retrying in {backoff:?}",
                        self.provider
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_WAIT);
                    continue;
                }
                Err(e) => bail!("{}: GET {shown}: {e}", self.provider),
            };
            let status = resp.status().as_u16();
            let body = resp.body_mut().with_config().limit(256 << 20).read_to_vec();
            if (200..300).contains(&status) {
                return body
                    .map(Some)
                    .with_context(|| format!("{}: GET {shown}: reading the body", self.provider));
            }
            if status == 404 && gone_is_none {
                return Ok(None);
            }
            let body = body.unwrap_or_default();
            let message = provider_message(&body);
            if status == 429 || status >= 500 {
                if last {
                    bail!(
                        "{}: GET {shown}: HTTP {status} after {ATTEMPTS} attempts: {message}",
                        self.provider
                    );
                }
                let wait = if status == 429 {
                    resp.headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map_or(backoff, Duration::from_secs)
                        .min(MAX_WAIT)
                } else {
                    backoff
                };
                eprintln!(
                    "mailstate: {}: GET {shown}: HTTP {status}; retrying in {wait:?}",
                    self.provider
                );
                std::thread::sleep(wait);
                backoff = (backoff * 2).min(MAX_WAIT);
                continue;
            }
            bail!("{}: GET {shown}: HTTP {status}: {message}", self.provider);
        }
        unreachable!("the last attempt returns")
    }
}

/// The error message of a provider's error body (Mailgun `message`, SparkPost and SendGrid
/// `errors[0].message`, Postmark `Message`), or the start of the body.
fn provider_message(body: &[u8]) -> String {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let found = v.as_ref().and_then(|v| {
        v.get("message")
            .or_else(|| v.get("Message"))
            .or_else(|| v.pointer("/errors/0/message"))
            .and_then(|m| m.as_str())
            .map(str::to_owned)
    });
    found.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() { "(no body)".to_owned() } else { text.chars().take(200).collect() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_one_query_parameter() {
        assert_eq!(
            replace_param("http://h/b?count=5&offset=0&x=1", "offset", "5"),
            "http://h/b?count=5&offset=5&x=1"
        );
        assert_eq!(query_param("http://h/b?count=5&offset=10", "offset"), Some("10"));
    }
}
