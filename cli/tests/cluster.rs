//! `mailstate cluster` for real: a Ballista scheduler and executors, each its own `mailstate`
//! process on 127.0.0.1 with ephemeral ports, queried with `mailstate sql --cluster`; every
//! answer compared with the same command run in one process.
//!
//! Processes are killed when their guard drops, so a failing assertion leaves none behind.
//! The tests that start clusters take a lock: on two cores, two clusters at once only slow
//! each other down.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::queries::ingest_demo;
use crate::util::{repo, temp_dir};

/// How long a process may take to say it is ready (dev builds on a busy machine are slow).
const READY: Duration = Duration::from_mins(2);

/// One cluster at a time.
fn one_cluster_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A `mailstate` child process, killed on drop, whose stderr is collected line by line.
struct Proc {
    name: String,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(name: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailstate"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Proc { name: name.to_owned(), child, log }
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The first log line containing `needle`, waiting for it up to [`READY`].
    fn wait_for(&mut self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            assert!(self.running(), "{} exited; its log:\n{}", self.name, self.log_text());
            assert!(
                start.elapsed() < READY,
                "{} did not log {needle:?}; its log:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A scheduler and its executors.
struct Cluster {
    scheduler: Proc,
    executors: Vec<Proc>,
    /// `df://127.0.0.1:PORT`.
    url: String,
    /// Each executor's id (`127.0.0.1:FLIGHT_PORT`), as errors name it.
    ids: Vec<String>,
    _work: tempfile::TempDir,
}

impl Cluster {
    /// A scheduler (executor timeout 5 s) and `executors` executors of two task slots each,
    /// heartbeating every second, with `executor_args` (e.g. `--rules`) appended.
    fn start(executors: usize, executor_args: &[&str]) -> Cluster {
        let mut scheduler = Proc::spawn(
            "scheduler",
            &["cluster", "scheduler", "--port", "0", "--executor-timeout", "5"],
        );
        let line = scheduler.wait_for("scheduler listening on ");
        let addr = line
            .split("scheduler listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .to_owned();
        let work = temp_dir();
        let mut procs = Vec::new();
        let mut ids = Vec::new();
        for i in 0..executors {
            let dir = work.path().join(format!("executor-{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            let dir = dir.to_str().unwrap().to_owned();
            let mut args = vec![
                "cluster",
                "executor",
                "--scheduler",
                &addr,
                "--port",
                "0",
                "--grpc-port",
                "0",
                "--concurrent-tasks",
                "2",
                "--heartbeat",
                "1",
                "--work-dir",
                &dir,
            ];
            args.extend_from_slice(executor_args);
            let mut p = Proc::spawn(&format!("executor {i}"), &args);
            let started = p.wait_for("mailstate: executor ");
            let id = started
                .split("mailstate: executor ")
                .nth(1)
                .map(|rest| rest.split(':').take(2).collect::<Vec<_>>().join(":"))
                .unwrap();
            ids.push(id);
            p.wait_for("Executor registration succeed");
            procs.push(p);
        }
        Cluster { scheduler, executors: procs, url: format!("df://{addr}"), ids, _work: work }
    }
}

/// `mailstate ARGS`, waited for.
fn mailstate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailstate")).args(args).output().unwrap()
}

fn stdout_of(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `mailstate sql ARGS` in one process and on the cluster (4 partitions, so states are split
/// over tasks and executors and merged after the shuffle): the two outputs.
fn local_and_cluster(url: &str, args: &[&str]) -> (String, String) {
    let local = stdout_of(&mailstate(&[&["sql"], args].concat()), &format!("local {args:?}"));
    let cluster = stdout_of(
        &mailstate(&[&["sql", "--cluster", url, "--partitions", "4"], args].concat()),
        &format!("cluster {args:?}"),
    );
    (local, cluster)
}

fn sha256_hex(text: &str) -> String {
    mailstate_core::encoding::encode_hex(&Sha256::digest(text.as_bytes()))
}

/// A generated store of at least 1,000,000 events (210,000 messages), made once per target
/// folder and reused: both sides of every comparison read the same files.
fn million_event_store() -> PathBuf {
    static STORE: OnceLock<PathBuf> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cluster-store-210k-seed7");
            let done = dir.join("complete");
            if !done.exists() {
                let _ = std::fs::remove_dir_all(&dir);
                let messages = "210000";
                let out = mailstate(&[
                    "generate",
                    "--messages",
                    messages,
                    "--seed",
                    "7",
                    "--out",
                    dir.to_str().unwrap(),
                ]);
                stdout_of(&out, "generate");
                std::fs::write(&done, messages).unwrap();
            }
            dir
        })
        .clone()
}

/// The `message_states.sql` rows of `store` as CSV: the checksum's input.
fn message_states_args(store: &Path) -> Vec<String> {
    vec![
        "--events".into(),
        store.to_str().unwrap().into(),
        "-f".into(),
        repo().join("sql/queries/message_states.sql").to_str().unwrap().into(),
        "--format".into(),
        "csv".into(),
    ]
}

#[test]
fn every_query_file_and_a_million_event_checksum_match_a_single_process() {
    let _one = one_cluster_at_a_time();
    let cluster = Cluster::start(2, &[]);

    // Every file of sql/queries over the demo payloads, and `sends`.
    let demo = temp_dir();
    ingest_demo(demo.path());
    let demo_dir = demo.path().to_str().unwrap();
    let sends = repo().join("examples/demo/sends.csv");
    let sends = format!("sends={}", sends.to_str().unwrap());
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("sql/queries"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 13, "{files:?}");
    for file in &files {
        let file = file.to_str().unwrap();
        let args = ["--events", demo_dir, "--table", &sends, "-f", file, "--format", "csv"];
        let (local, cluster_out) = local_and_cluster(&cluster.url, &args);
        assert!(local.lines().count() > 1, "{file} returned no rows:\n{local}");
        assert_eq!(cluster_out, local, "{file}: the cluster's output differs");
    }

    // A message_state checksum over >= 1,000,000 events.
    let store = million_event_store();
    let count = stdout_of(
        &mailstate(&[
            "sql",
            "--events",
            store.to_str().unwrap(),
            "--format",
            "csv",
            "SELECT COUNT(*) AS n FROM events",
        ]),
        "count",
    );
    let n: u64 = count.lines().nth(1).unwrap().parse().unwrap();
    assert!(n >= 1_000_000, "{n} events");
    let args = message_states_args(&store);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (local, cluster_out) = local_and_cluster(&cluster.url, &args);
    assert!(local.lines().count() > 200_000, "{} rows", local.lines().count());
    assert_eq!(sha256_hex(&cluster_out), sha256_hex(&local), "the checksums differ");

    // Both executors ran tasks: the states really were split and merged across them.
    for (p, id) in cluster.executors.iter().zip(&cluster.ids) {
        assert!(p.log_text().contains("Finished task"), "executor {id} ran no task");
    }
    drop(cluster);
}

#[test]
fn a_query_survives_or_names_a_killed_executor_and_the_rest_of_the_cluster_stays_up() {
    let store = million_event_store();
    let _one = one_cluster_at_a_time();
    let mut cluster = Cluster::start(2, &[]);
    let args = message_states_args(&store);
    let local = stdout_of(
        &mailstate(
            &[&["sql"], args.iter().map(String::as_str).collect::<Vec<_>>().as_slice()].concat(),
        ),
        "local",
    );

    let client = Command::new(env!("CARGO_BIN_EXE_mailstate"))
        .args(["sql", "--cluster", &cluster.url, "--partitions", "4"])
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the second executor once it is running a task of this query.
    cluster.executors[1].wait_for("Execute task");
    cluster.executors[1].kill();
    let lost = cluster.ids[1].clone();

    let started = Instant::now();
    let out = client.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        assert_eq!(
            sha256_hex(&String::from_utf8(out.stdout).unwrap()),
            sha256_hex(&local),
            "the query completed after losing {lost}, with another answer"
        );
    } else {
        assert!(
            stderr.contains(&lost),
            "the error does not name the lost executor {lost}: {stderr}"
        );
    }
    eprintln!(
        "after killing {lost}: {} in {:?} more{}",
        if out.status.success() { "completed" } else { "failed" },
        started.elapsed(),
        if out.status.success() { String::new() } else { format!(": {stderr}") }
    );

    assert!(
        cluster.scheduler.running(),
        "the scheduler stopped:\n{}",
        cluster.scheduler.log_text()
    );
    assert!(
        cluster.executors[0].running(),
        "executor 0 stopped:\n{}",
        cluster.executors[0].log_text()
    );
    let again = stdout_of(
        &mailstate(
            &[
                &["sql", "--cluster", &cluster.url, "--partitions", "4"],
                args.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
            ]
            .concat(),
        ),
        "the rerun",
    );
    assert_eq!(sha256_hex(&again), sha256_hex(&local), "the rerun's answer differs");
}

/// The wasm rules plugin (scripts/build-wasm.sh, or `$MAILSTATE_PLUGIN`).
fn plugin_path() -> String {
    let path = std::env::var_os("MAILSTATE_PLUGIN").map_or_else(
        || repo().join("wasm").join("dist").join("mailstate_plugin.wasm"),
        PathBuf::from,
    );
    assert!(path.exists(), "{}: build the plugin first with scripts/build-wasm.sh", path.display());
    path.to_str().unwrap().to_owned()
}

#[test]
fn executors_with_a_rules_plugin_serve_clients_of_the_same_plugin_and_refuse_others() {
    let plugin = plugin_path();
    let _one = one_cluster_at_a_time();
    let cluster = Cluster::start(1, &["--rules", &plugin]);
    let demo = temp_dir();
    ingest_demo(demo.path());
    let query = repo().join("sql/queries/message_states.sql");
    let args = [
        "--events",
        demo.path().to_str().unwrap(),
        "-f",
        query.to_str().unwrap(),
        "--format",
        "csv",
    ];

    // The same plugin on both sides: the local answer, and --verbose says where it ran.
    let with_rules = [&args[..], &["--rules", &plugin, "--verbose"]].concat();
    let local = stdout_of(&mailstate(&[&["sql"], &with_rules[..]].concat()), "local");
    let out = mailstate(&[&["sql", "--cluster", &cluster.url], &with_rules[..]].concat());
    assert_eq!(stdout_of(&out, "cluster with the plugin"), local);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("cluster: {}", cluster.url)), "{stderr}");
    assert!(stderr.contains("plugin sha256:"), "{stderr}");

    // A client with the native rules is refused, with an error naming the executor and both
    // rules.
    let out = mailstate(&[&["sql", "--cluster", &cluster.url], &args[..]].concat());
    assert!(!out.status.success(), "a native client ran on plugin executors");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rules mismatch"), "{stderr}");
    assert!(stderr.contains(&format!("executor {}", cluster.ids[0])), "{stderr}");
    assert!(stderr.contains("native (mailstate"), "{stderr}");
}

#[test]
fn a_client_pointed_at_no_scheduler_fails_within_seconds_with_a_clear_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("df://127.0.0.1:{port}");
    let started = Instant::now();
    let out = mailstate(&["sql", "--cluster", &url, "SELECT 1"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("no Ballista scheduler at {url}")), "{stderr}");
    // How soon is reported, not asserted: timings are not test outcomes here.
    eprintln!("refused after {:?}", started.elapsed());
}
