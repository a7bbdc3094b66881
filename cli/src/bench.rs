//! `mailstate bench`: reproducible measurements, each reported as a ratio against a baseline
//! measured in the same run.

use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::{Outcome, input};

mod sql;

/// Measure mailstate's speed and memory (see each benchmark's help).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, clap::Subcommand)]
enum Bench {
    State(StateArgs),
    Sql(sql::Args),
    /// Parse NDJSON lines into `serde::de::IgnoredAny`: the floor `state` is compared with.
    #[command(hide = true)]
    Floor {
        file: PathBuf,
    },
    /// The sizes of the message states of a store: states, distinct events, bytes of their
    /// partial-state encoding (what `bench sql` reports per state and per distinct event).
    #[command(hide = true)]
    StateSize {
        store: PathBuf,
    },
}

/// Time `mailstate state` on generated events and report events/s and peak memory.
///
/// Generates N canonical events over M messages (accepted, delivered, opens, clicks,
/// bounces, complaints, unsubscribes; about 15% retried duplicates; shuffled), writes them
/// as NDJSON to a temporary folder, then runs, each in its own process so peak memory is
/// its own:
///   floor       parse every line with serde_json into IgnoredAny (the baseline)
///   state       `mailstate state FILE`
///   state x2    `mailstate state` on the same events with every line written twice
/// and prints events/s and MB/s per CPU second (user + system, so a busy machine does not
/// distort them), the per-event cost relative to the floor, wall time, and peak RSS. The x2 run shows
/// memory bounded by the messages and their distinct events, not by the input.
///
/// Example:
///   mailstate bench state --events 1000000 --messages 250000
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
struct StateArgs {
    /// How many events to generate.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Over how many messages.
    #[arg(long, default_value_t = 250_000)]
    messages: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

pub(crate) fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    match &args.bench {
        Bench::State(a) => bench_state(a, out),
        Bench::Sql(a) => sql::run(a, out),
        Bench::StateSize { store } => sql::state_size(store, out),
        Bench::Floor { file } => {
            let mut n = 0u64;
            let mut reader = input::open(file)?;
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line)? > 0 {
                serde_json::from_slice::<serde::de::IgnoredAny>(line.trim_ascii())?;
                n += 1;
                line.clear();
            }
            writeln!(out, "{n}")?;
            Ok(Outcome::Clean)
        }
    }
}

fn bench_state(a: &StateArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    if a.messages == 0 || a.events < a.messages {
        bail!("--events must be at least --messages, and --messages at least 1");
    }
    let dir = std::env::temp_dir().join(format!("mailstate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let once = dir.join("events.ndjson");
    let twice = dir.join("events-x2.ndjson");
    let bytes = generate(&once, &twice, a)?;
    let exe = std::env::current_exe()?;
    writeln!(
        out,
        "mailstate bench state: {} events over {} messages, {:.1} MB of NDJSON (seed {})",
        a.events,
        a.messages,
        mb(bytes),
        a.seed
    )?;
    let floor = measure(&exe, &["bench", "floor"], &once)?;
    let state = measure(&exe, &["state"], &once)?;
    let state2 = measure(&exe, &["state"], &twice)?;
    #[expect(clippy::cast_precision_loss, reason = "event counts are far below 2^52")]
    let events = a.events as f64;
    writeln!(
        out,
        "{:<10} {:>12} {:>10} {:>10} {:>10} {:>12}",
        "run", "events/s", "MB/s", "vs floor", "wall s", "peak RSS MB"
    )?;
    for (name, m, n) in
        [("floor", &floor, events), ("state", &state, events), ("state x2", &state2, 2.0 * events)]
    {
        writeln!(
            out,
            "{:<10} {:>12.0} {:>10.1} {:>9.2}x {:>10.2} {:>12.1}",
            name,
            n / m.secs,
            mb(if n > events { 2 * bytes } else { bytes }) / m.secs,
            (m.secs / n) / (floor.secs / events),
            m.wall,
            m.peak_rss_mb
        )?;
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(Outcome::Clean)
}

struct Measured {
    /// CPU seconds (user + system) of the measured process.
    secs: f64,
    /// Wall seconds, for reference.
    wall: f64,
    peak_rss_mb: f64,
}

fn mb(bytes: u64) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "sizes are far below 2^52")]
    let b = bytes as f64;
    b / 1e6
}

/// Run `exe args file` with stdout discarded; wall time and the child's own peak RSS.
fn measure(exe: &Path, args: &[&str], file: &Path) -> anyhow::Result<Measured> {
    let (m, ok) = measure_child(Command::new(exe).args(args).arg(file).stdout(Stdio::null()))?;
    if !ok {
        bail!("measured process `{} {}` failed", exe.display(), args.join(" "));
    }
    Ok(m)
}

/// Run `cmd` with its stdout and stderr kept in files under `dir` (named after `name`);
/// what it measured, its stdout and its stderr. Fails with its stderr when it fails.
fn measure_command(
    cmd: &mut Command,
    dir: &Path,
    name: &str,
) -> anyhow::Result<(Measured, String, String)> {
    let out_path = dir.join(format!("{name}.stdout"));
    let err_path = dir.join(format!("{name}.stderr"));
    cmd.stdout(File::create(&out_path)?).stderr(File::create(&err_path)?);
    let (m, ok) = measure_child(cmd)?;
    let stdout = std::fs::read_to_string(&out_path)?;
    let stderr = std::fs::read_to_string(&err_path)?;
    if !ok {
        bail!("{name}: {cmd:?} failed:\n{stderr}");
    }
    Ok((m, stdout, stderr))
}

/// Spawn `cmd` and wait for it: wall time, CPU time, the child's own peak RSS, and whether it
/// exited with status 0.
fn measure_child(cmd: &mut Command) -> anyhow::Result<(Measured, bool)> {
    let start = Instant::now();
    let child = cmd.spawn().context("cannot start the measured process")?;
    let pid = i32::try_from(child.id())?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    #[expect(unsafe_code, reason = "wait4 is the only way to read one child's peak RSS")]
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own un-waited child; `status` and `usage` are valid for writes.
    #[expect(unsafe_code, reason = "wait4 is the only way to read one child's peak RSS")]
    let rc = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
    let wall = start.elapsed().as_secs_f64();
    let ok = rc == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    // ru_maxrss is in KiB on Linux.
    #[expect(clippy::cast_precision_loss, reason = "RSS in KiB is far below 2^52")]
    let peak_rss_mb = usage.ru_maxrss as f64 / 1024.0;
    // CPU time (user + system) rather than wall time: it is what the work costs, and it stays
    // meaningful on a machine shared with other jobs.
    #[expect(clippy::cast_precision_loss, reason = "microsecond counts are far below 2^52")]
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let secs = cpu(usage.ru_utime) + cpu(usage.ru_stime);
    Ok((Measured { secs, wall, peak_rss_mb }, ok))
}

/// A small deterministic generator (SplitMix64), so runs are reproducible without a
/// dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Write `events` canonical events over `messages` messages to `once`, and each line twice to
/// `twice`. Returns the size of `once`.
fn generate(once: &Path, twice: &Path, a: &StateArgs) -> anyhow::Result<u64> {
    let mut rng = Rng(a.seed);
    let mut w1 = BufWriter::new(File::create(once)?);
    let mut w2 = BufWriter::new(File::create(twice)?);
    let mut bytes = 0u64;
    let per_message = a.events / a.messages;
    let mut extra = a.events % a.messages;
    let base = 1_762_000_000_000i64;
    let mut lines: Vec<String> = Vec::new();
    for m in 0..a.messages {
        lines.clear();
        let n = per_message + u64::from(extra > 0);
        extra = extra.saturating_sub(1);
        let t0 = base + i64::try_from(rng.below(30 * 86_400_000))?;
        let fate = rng.below(100);
        for i in 0..n {
            // ~15% of events are retries of the previous one.
            if i > 0 && rng.below(100) < 15 {
                lines.push(lines[lines.len() - 1].clone());
                continue;
            }
            let (kind, class) = match (i, fate) {
                (0, _) => ("accepted", None),
                (1, 0..=2) => ("hard_bounce", Some("hard")),
                (1, 3..=7) => ("soft_bounce", Some("soft")),
                (1, _) => ("delivered", None),
                (_, 0..=2) => ("open", None),
                (_, 8) if i == 2 => ("complaint", None),
                (_, 9) if i == 2 => ("unsubscribe", None),
                _ => {
                    if rng.below(3) == 0 {
                        ("click", None)
                    } else {
                        ("open", None)
                    }
                }
            };
            let key = format!("bench:{m}:{i}");
            let t = t0 + i64::try_from(i * 60_000 + rng.below(60_000))?;
            let class = class.map_or(String::new(), |c| {
                format!(r#","bounce_class":"{c}","diagnostic":"smtp; 5.1.1 unknown user""#)
            });
            lines.push(format!(
                r#"{{"event_key":"{key}","provider":"bench","type":"{kind}","provider_type":"{kind}","message_id":"msg-{m}","recipient":"user{}@example.com","occurred_at":"{}"{class}}}"#,
                m % 100_000,
                mailstate_core::Timestamp::from_millis(t).context("time out of range")?,
            ));
        }
        // Out-of-order arrival within a message.
        for i in (1..lines.len()).rev() {
            let j = usize::try_from(rng.below(u64::try_from(i)? + 1))?;
            lines.swap(i, j);
        }
        for l in &lines {
            bytes += l.len() as u64 + 1;
            writeln!(w1, "{l}")?;
            writeln!(w2, "{l}")?;
            writeln!(w2, "{l}")?;
        }
    }
    w1.flush()?;
    w2.flush()?;
    Ok(bytes)
}
