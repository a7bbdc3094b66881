//! `mailstate bench sql`: message state computed several ways over the same Parquet events.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::{Measured, measure_command};
use crate::Outcome;

/// `message_state` GROUP BY message_id, recipient, every state field flattened.
const MESSAGE_STATE_SQL: &str = include_str!("../../../sql/bench/message_state_udaf.sql");
/// The same state written by hand in portable SQL (also the reference of tests/handwritten.rs).
const HANDWRITTEN_SQL: &str = include_str!("../../../sql/bench/message_state_handwritten.sql");
/// Runs one SQL file in DuckDB over the store's Parquet and prints the result as CSV.
const DUCKDB_SCRIPT: &str = include_str!("../../../sql/bench/duckdb_query.py");

/// One way of computing message state: a name, an engine and the SQL it runs.
struct Variant {
    /// What `--variant` selects and the report prints.
    name: &'static str,
    engine: Engine,
    /// A query over table `events` returning one row per (message_id, recipient) with the
    /// DESIGN.md state fields as columns.
    sql: &'static str,
}

enum Engine {
    /// `mailstate sql --events DIR -f FILE --format csv` of this binary, plus these arguments.
    Mailstate(&'static [&'static str]),
    /// The same, with `--memory-limit` (the bench's --memory-limit).
    MailstateLimited,
    /// The same, with `--rules PLUGIN` (the wasm rules plugin given by --plugin).
    MailstatePlugin,
    /// sql/bench/duckdb_query.py run by `--python`.
    DuckDb,
}

/// Every variant, in report order; the first is the one the others are compared with. A new
/// way of computing state (another engine, another rule set) is one more entry.
const VARIANTS: [Variant; 5] = [
    Variant { name: "message_state", engine: Engine::Mailstate(&[]), sql: MESSAGE_STATE_SQL },
    Variant {
        name: "message_state-memory-limit",
        engine: Engine::MailstateLimited,
        sql: MESSAGE_STATE_SQL,
    },
    Variant {
        name: "message_state-plugin",
        engine: Engine::MailstatePlugin,
        sql: MESSAGE_STATE_SQL,
    },
    Variant {
        name: "handwritten-datafusion",
        engine: Engine::Mailstate(&[]),
        sql: HANDWRITTEN_SQL,
    },
    Variant { name: "handwritten-duckdb", engine: Engine::DuckDb, sql: HANDWRITTEN_SQL },
];

/// Wraps a variant's query: one row that depends on every field of every state, so each
/// engine computes all of them, and the engines' rows must agree. Portable SQL only.
const CHECKSUM: &str = "SELECT COUNT(*) AS states,
       SUM(CASE status WHEN 'complaint' THEN 1 ELSE 0 END) AS complaint,
       SUM(CASE status WHEN 'hard_bounce' THEN 1 ELSE 0 END) AS hard_bounce,
       SUM(CASE status WHEN 'unsubscribe' THEN 1 ELSE 0 END) AS unsubscribe,
       SUM(CASE status WHEN 'rejected' THEN 1 ELSE 0 END) AS rejected,
       SUM(CASE status WHEN 'click' THEN 1 ELSE 0 END) AS click,
       SUM(CASE status WHEN 'open' THEN 1 ELSE 0 END) AS open,
       SUM(CASE status WHEN 'delivered' THEN 1 ELSE 0 END) AS delivered,
       SUM(CASE status WHEN 'soft_bounce' THEN 1 ELSE 0 END) AS soft_bounce,
       SUM(CASE status WHEN 'deferred' THEN 1 ELSE 0 END) AS deferred,
       SUM(CASE status WHEN 'accepted' THEN 1 ELSE 0 END) AS accepted,
       SUM(CASE WHEN terminal THEN 1 ELSE 0 END) AS terminal,
       SUM(CASE WHEN terminal_at > first_event_at THEN 1 ELSE 0 END) AS terminal_after_first,
       SUM(CASE WHEN last_event_at > first_event_at THEN 1 ELSE 0 END) AS last_after_first,
       SUM(CASE WHEN accepted_at = first_event_at THEN 1 ELSE 0 END) AS accepted_first,
       SUM(CASE WHEN delivered_at > accepted_at THEN 1 ELSE 0 END) AS delivered_after_accepted,
       SUM(CASE WHEN first_open_at > delivered_at THEN 1 ELSE 0 END) AS open_after_delivered,
       SUM(CASE WHEN first_click_at < delivered_at THEN 1 ELSE 0 END) AS click_before_delivered,
       COUNT(bounced_at) AS bounced_at, COUNT(complained_at) AS complained_at,
       COUNT(unsubscribed_at) AS unsubscribed_at,
       SUM(open_count) AS opens, SUM(click_count) AS clicks, SUM(deferred_count) AS deferrals,
       SUM(event_count) AS events, SUM(late_event_count) AS late,
       SUM(CASE bounce_class WHEN 'hard' THEN 1 ELSE 0 END) AS class_hard,
       SUM(CASE bounce_class WHEN 'soft' THEN 1 ELSE 0 END) AS class_soft,
       SUM(CASE bounce_class WHEN 'block' THEN 1 ELSE 0 END) AS class_block,
       COUNT(diagnostic) AS diagnostic
FROM (";

/// Time message state computed several ways over the same Parquet events, each run in its own
/// process (wall time, CPU time and peak RSS of that process):
///
///   message_state            mailstate's aggregate: GROUP BY message_id, recipient
///                            (sql/bench/message_state_udaf.sql in `mailstate sql`)
///   message_state-memory-limit  the same query with `--memory-limit` (the bench's
///                            --memory-limit, 256M by default): spills to disk past it
///   message_state-plugin     the same query with `--rules PLUGIN`: the aggregate computed
///                            by the wasm rules plugin (--plugin), sandboxed by wasmtime;
///                            its compiled code comes from a module cache that an
///                            unmeasured run filled first (no compile is measured)
///   handwritten-datafusion   the same state written by hand in SQL, with window functions
///                            and aggregates (sql/bench/message_state_handwritten.sql) in
///                            `mailstate sql`
///   handwritten-duckdb       that same file in DuckDB (the `duckdb` Python package, via
///                            sql/bench/duckdb_query.py; install it with
///                            `python3 -m pip install -r sql/bench/requirements.txt`)
///
/// Each query is wrapped in a checksum that depends on every state field (status counts,
/// time comparisons, sums of counts), so every engine computes every field; their rows must
/// agree, or the benchmark fails. Events are generated first (`mailstate generate`, about 5
/// events per message, 15% retried duplicates, shuffled) unless --data names a store that
/// already holds them. Wall times include starting the process (and, for DuckDB, Python and
/// `import duckdb`); DuckDB's own query time is printed too.
///
/// Example (the figures of BENCHMARKS.md):
///   mailstate bench sql --events 10000000 --data /tmp/mailstate-bench-10m
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// About how many events to generate (messages = events / 5).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Keep the generated store in this folder; when it already holds events they are used
    /// as they are (--events and --seed are then ignored). Default: a temporary folder.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run only these variants (repeatable): message_state, message_state-plugin,
    /// handwritten-datafusion, handwritten-duckdb.
    #[arg(long = "variant", value_name = "NAME")]
    variants: Vec<String>,
    /// The Python that has the `duckdb` package.
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// The wasm rules plugin of the message_state-plugin variant (default: this checkout's
    /// wasm/dist/mailstate_plugin.wasm, built by scripts/build-wasm.sh).
    #[arg(long, value_name = "PATH.wasm")]
    plugin: Option<PathBuf>,
    /// Runs of each variant; the fastest wall time is reported (with its memory).
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// The memory limit of the message_state-memory-limit variant.
    #[arg(long, value_name = "SIZE", default_value = "256M")]
    memory_limit: String,
}

/// What one variant measured.
struct Run {
    name: &'static str,
    best: Measured,
    /// The checksum's column names and row (CSV).
    columns: String,
    checksum: String,
    /// What the child said on stderr (DuckDB's own query time).
    note: String,
}

pub(crate) fn run(a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let selected: Vec<&Variant> = if a.variants.is_empty() {
        VARIANTS.iter().collect()
    } else {
        let mut v = Vec::new();
        for name in &a.variants {
            let Some(found) = VARIANTS.iter().find(|x| x.name == name) else {
                let names: Vec<&str> = VARIANTS.iter().map(|x| x.name).collect();
                return Err(crate::UsageError(format!(
                    "--variant {name}: no such variant (one of {})",
                    names.join(", ")
                ))
                .into());
            };
            v.push(found);
        }
        v
    };
    if a.repeat == 0 {
        return Err(crate::UsageError("--repeat must be at least 1".into()).into());
    }
    if selected.iter().any(|v| matches!(v.engine, Engine::DuckDb)) {
        check_duckdb(&a.python)?;
    }

    let work = std::env::temp_dir().join(format!("mailstate-bench-sql-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = bench(a, &selected, &work, out);
    std::fs::remove_dir_all(&work).ok();
    result
}

fn bench(
    a: &Args,
    selected: &[&Variant],
    work: &Path,
    out: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let data = a.data.clone().unwrap_or_else(|| work.join("data"));
    let events_dir = data.join("events");
    if events_dir.is_dir() {
        writeln!(out, "mailstate bench sql: the events already in {}", events_dir.display())?;
    } else {
        // In a child process: on Linux a child's peak RSS starts at its parent's high-water mark
        // (the parent's memory is recorded when the child execs), so this process stays small.
        let messages = (a.events / 5).max(1);
        let generated = Command::new(std::env::current_exe()?)
            .args(["generate", "--messages", &messages.to_string(), "--seed", &a.seed.to_string()])
            .arg("--out")
            .arg(&data)
            .stderr(std::process::Stdio::inherit())
            .output()
            .context("cannot start `mailstate generate`")?;
        if !generated.status.success() {
            bail!("`mailstate generate` failed");
        }
        write!(
            out,
            "mailstate bench sql: seed {}: {}",
            a.seed,
            String::from_utf8_lossy(&generated.stdout)
        )?;
    }
    let parquet_bytes = folder_bytes(&events_dir)?;
    writeln!(
        out,
        "{:.1} MB of Parquet; {} cores; each variant in its own process, best of {}",
        super::mb(parquet_bytes),
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        a.repeat
    )?;
    out.flush()?;

    let exe = std::env::current_exe()?;
    let plugin = a.plugin.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../wasm/dist/mailstate_plugin.wasm")
    });
    if selected.iter().any(|v| matches!(v.engine, Engine::MailstatePlugin)) && !plugin.is_file() {
        bail!(
            "no rules plugin at {} (build it with scripts/build-wasm.sh, give --plugin, or leave \
             it out with --variant)",
            plugin.display()
        );
    }
    let script = work.join("duckdb_query.py");
    std::fs::write(&script, DUCKDB_SCRIPT)?;
    let plugin_cache = work.join("plugin-cache");
    if selected.iter().any(|v| matches!(v.engine, Engine::MailstatePlugin)) {
        // Compile the plugin once, unmeasured, into the cache the measured runs read.
        let warm = Command::new(&exe)
            .args(["sql", "--rules"])
            .arg(&plugin)
            .arg("SELECT 1")
            .env("MAILSTATE_CACHE_DIR", &plugin_cache)
            .stdout(std::process::Stdio::null())
            .output()
            .context("cannot start the plugin warm-up run")?;
        if !warm.status.success() {
            bail!("the plugin warm-up run failed: {}", String::from_utf8_lossy(&warm.stderr));
        }
    }
    let mut runs: Vec<Run> = Vec::new();
    for v in selected {
        let sql_file = work.join(format!("{}.sql", v.name));
        std::fs::write(&sql_file, checksum_query(v.sql))?;
        let mut best: Option<(Measured, String, String)> = None;
        for _ in 0..a.repeat {
            let mut cmd = variant_command(&v.engine, &exe, &data, &sql_file, &plugin, a, &script);
            cmd.env("MAILSTATE_CACHE_DIR", &plugin_cache);
            let (m, stdout, stderr) = measure_command(&mut cmd, work, v.name)?;
            if best.as_ref().is_none_or(|(b, _, _)| m.wall < b.wall) {
                best = Some((m, stdout, stderr));
            }
        }
        let Some((best, stdout, stderr)) = best else { bail!("no run of {}", v.name) };
        let mut lines = stdout.lines().map(str::trim);
        let columns = lines.next().unwrap_or_default().to_owned();
        let checksum = lines.next().unwrap_or_default().to_owned();
        let note = stderr.trim().to_owned();
        eprintln!(
            "mailstate: {}: {:.2} s wall, {:.0} MB peak RSS",
            v.name, best.wall, best.peak_rss_mb
        );
        runs.push(Run { name: v.name, best, columns, checksum, note });
    }
    report(&runs, out)?;
    sizes(&exe, &data, &runs, work, out)?;
    if let Some(kb) = own_peak_rss_kb() {
        #[expect(clippy::cast_precision_loss, reason = "RSS in KiB is far below 2^52")]
        let own = kb as f64 / 1024.0;
        writeln!(
            out,
            "(each peak RSS includes up to {own:.0} MB: this process's own peak, which Linux \
             carries into a child at exec)"
        )?;
    }
    let first = &runs[0].checksum;
    if runs.iter().any(|r| &r.checksum != first) {
        bail!("the variants disagree (checksum rows above)");
    }
    Ok(Outcome::Clean)
}

/// The command that runs one variant's query file.
fn variant_command(
    engine: &Engine,
    exe: &Path,
    data: &Path,
    sql_file: &Path,
    plugin: &Path,
    a: &Args,
    script: &Path,
) -> Command {
    let mailstate = |extra: &[&std::ffi::OsStr]| {
        let mut c = Command::new(exe);
        c.arg("sql").arg("--events").arg(data).arg("-f").arg(sql_file);
        c.args(["--format", "csv"]).args(extra);
        c
    };
    match engine {
        Engine::Mailstate(extra) => {
            let extra: Vec<&std::ffi::OsStr> = extra.iter().map(std::ffi::OsStr::new).collect();
            mailstate(&extra)
        }
        Engine::MailstateLimited => {
            mailstate(&["--memory-limit".as_ref(), a.memory_limit.as_ref()])
        }
        Engine::MailstatePlugin => {
            mailstate(&["--verbose".as_ref(), "--rules".as_ref(), plugin.as_os_str()])
        }
        Engine::DuckDb => {
            let mut c = Command::new(&a.python);
            c.arg(script).arg(data.join("events")).arg(sql_file);
            c
        }
    }
}

/// What `bench state-size` printed: states, distinct events, encoded bytes.
fn sizes(
    exe: &Path,
    data: &Path,
    runs: &[Run],
    work: &Path,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (_, stdout, _) = measure_command(
        Command::new(exe).args(["bench", "state-size"]).arg(data),
        work,
        "state-size",
    )?;
    let numbers: Vec<u64> =
        stdout.split_whitespace().filter_map(|w| w.parse().ok()).collect::<Vec<_>>();
    let [states, events, bytes] = numbers[..] else {
        bail!("bench state-size printed {stdout:?}");
    };
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let (states_f, events_f, bytes_f) = (states as f64, events as f64, bytes as f64);
    writeln!(out)?;
    writeln!(
        out,
        "{states} states, {events} distinct events; partial-state encoding (what a \
         distributed engine ships): {bytes} bytes, {:.1} bytes per state, {:.1} bytes per \
         distinct event",
        bytes_f / states_f.max(1.0),
        bytes_f / events_f.max(1.0)
    )?;
    writeln!(out, "peak RSS per distinct event:")?;
    for r in runs {
        writeln!(
            out,
            "  {:<28} {:>8.1} bytes",
            r.name,
            r.best.peak_rss_mb * 1_048_576.0 / events_f
        )?;
    }
    Ok(())
}

/// `bench state-size STORE`: `<states> <distinct events> <encoded bytes>` of the store's
/// message states (every event with a message id, grouped as the benchmark query groups).
pub(crate) fn state_size(store: &Path, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    use datafusion::arrow::array::AsArray;
    use futures::StreamExt;
    use mailstate_sql::columns::{STATE_COLUMNS, event_column, for_each_state_event};

    let rt = crate::runtime()?;
    let (states, events, bytes) = rt.block_on(async {
        let ctx = mailstate_sql::context(None)?;
        crate::query::register_store(&ctx, store).await?;
        let mut stream = ctx
            .sql("SELECT * FROM events WHERE message_id IS NOT NULL")
            .await?
            .execute_stream()
            .await?;
        let mut groups: std::collections::HashMap<
            (String, Option<String>),
            mailstate_core::MessageState,
        > = std::collections::HashMap::new();
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let message_id = event_column(&batch, "message_id", true)?;
            let recipient = event_column(&batch, "recipient", true)?;
            let (m, r) = (message_id.as_string::<i32>(), recipient.as_string::<i32>());
            let inputs = STATE_COLUMNS
                .iter()
                .map(|n| event_column(&batch, n, false))
                .collect::<Result<Vec<_>, _>>()?;
            for_each_state_event(&inputs, |row, key, facts| {
                let r = (!datafusion::arrow::array::Array::is_null(r, row)).then(|| r.value(row));
                groups
                    .entry((m.value(row).to_owned(), r.map(str::to_owned)))
                    .or_default()
                    .insert_ref(key, facts);
            })?;
        }
        let events: usize = groups.values().map(mailstate_core::MessageState::len).sum();
        let bytes: usize = groups.values().map(|s| s.encode().len()).sum();
        anyhow::Ok((groups.len(), events, bytes))
    })?;
    writeln!(out, "{states} {events} {bytes}")?;
    Ok(Outcome::Clean)
}

/// `sql` without its comments and final `;`, wrapped in [`CHECKSUM`].
fn checksum_query(sql: &str) -> String {
    let body: Vec<&str> = sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
    let body = body.join("\n");
    format!("{CHECKSUM}\n{}\n) AS states\n", body.trim().trim_end_matches(';'))
}

fn check_duckdb(python: &Path) -> anyhow::Result<()> {
    let ok = Command::new(python)
        .args(["-c", "import duckdb"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(crate::UsageError(format!(
            "{} cannot import duckdb: run `{} -m pip install -r sql/bench/requirements.txt`, \
             or leave DuckDB out with --variant",
            python.display(),
            python.display()
        ))
        .into());
    }
    Ok(())
}

/// This process's peak RSS in KiB (`VmHWM` of /proc/self/status), where Linux has it.
fn own_peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn folder_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let p = entry?.path();
        total += if p.is_dir() { folder_bytes(&p)? } else { std::fs::metadata(&p)?.len() };
    }
    Ok(total)
}

fn report(runs: &[Run], out: &mut dyn Write) -> anyhow::Result<()> {
    let base = runs[0].best.wall;
    writeln!(out)?;
    writeln!(out, "| variant | wall s | CPU s | peak RSS MB | wall vs {} |", runs[0].name)?;
    writeln!(out, "|---|---:|---:|---:|---:|")?;
    for r in runs {
        writeln!(
            out,
            "| {} | {:.2} | {:.2} | {:.0} | {:.2}x |",
            r.name,
            r.best.wall,
            r.best.secs,
            r.best.peak_rss_mb,
            r.best.wall / base
        )?;
    }
    if runs.len() > 1 {
        writeln!(out)?;
        writeln!(out, "wall-time ratios (row / column):")?;
        let mut header = format!("{:<24}", "");
        for r in runs {
            let _ = write!(header, " {:>24}", r.name);
        }
        writeln!(out, "{}", header.trim_end())?;
        for r in runs {
            let mut line = format!("{:<24}", r.name);
            for c in runs {
                let _ = write!(line, " {:>23.2}x", r.best.wall / c.best.wall);
            }
            writeln!(out, "{line}")?;
        }
    }
    if let Some(first) = runs.first()
        && first.name == "message_state"
        && runs.len() > 1
    {
        let hand: Vec<&Run> = runs.iter().filter(|r| r.name.starts_with("handwritten")).collect();
        let slower = hand.iter().filter(|r| r.best.wall > first.best.wall).count();
        writeln!(
            out,
            "\nmessage_state is faster than {slower} of the {} hand-written variants",
            hand.len()
        )?;
    }
    writeln!(out, "\nchecksum rows (every state field enters them):")?;
    writeln!(out, "  {:<24} {}", "", runs[0].columns)?;
    for r in runs {
        writeln!(out, "  {:<24} {}", r.name, r.checksum)?;
    }
    for r in runs.iter().filter(|r| !r.note.is_empty()) {
        writeln!(out, "  {}: {}", r.name, r.note)?;
    }
    if runs.iter().all(|r| r.checksum == runs[0].checksum) {
        writeln!(out, "all variants agree")?;
    }
    Ok(())
}
