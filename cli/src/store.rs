//! The event store that `mailstate ingest` writes and `mailstate sql --events` reads.
//!
//! ```text
//! DIR/raw/<provider>/<sha256>.body          every body as received, before anything else
//! DIR/events/day=YYYY-MM-DD/part-<id>.parquet   canonical events, partitioned by day
//! DIR/events/day=unknown/...                events that carry no time
//! DIR/rejected/<provider>/<sha256>.body     a copy of each body that did not (fully) normalize
//! DIR/rejected/<provider>/<sha256>.errors.json  and its errors
//! ```
//!
//! Bodies are named by the SHA-256 of their bytes, so the raw folder is append-only and a
//! body ingested twice is stored once. Every file is written under a temporary name,
//! flushed to disk (`fsync`), renamed into place, and its folder synced: a crash leaves
//! either the whole file or none. Events are deduplicated by `event_key` against everything
//! already stored, so ingesting the same input again adds no event.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use mailstate_core::{Event, Headers, Payload, Provider, normalize};
use sha2::{Digest, Sha256};

use mailstate_sql::{event_schema, events_to_batch};

/// A store folder.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// One body that did not (fully) normalize.
#[derive(Clone, Debug)]
pub struct Rejection {
    /// Where the input came from (file path, and line range for chunks of large files).
    pub source: String,
    /// The copy kept aside under `rejected/`.
    pub kept_at: PathBuf,
    /// `code: message` of each error.
    pub errors: Vec<String>,
}

/// What one ingest run did.
#[derive(Clone, Debug, Default)]
pub struct IngestSummary {
    /// Bodies read.
    pub bodies: u64,
    /// Bodies not stored before (the others were already in `raw/`).
    pub new_bodies: u64,
    /// New events written.
    pub events: u64,
    /// Events skipped because their key was already stored (or seen earlier in this run).
    pub duplicates: u64,
    /// Errors: failed bodies and failed elements.
    pub errors: u64,
    /// Control messages (subscription confirmations, pings): stored, no events.
    pub controls: u64,
    /// The bodies kept aside, with their errors.
    pub rejected: Vec<Rejection>,
    /// The Parquet files written.
    pub files: Vec<PathBuf>,
}

impl IngestSummary {
    /// The one-line summary the CLI prints.
    pub fn line(&self) -> String {
        format!(
            "{} bodies ({} new), {} events, {} duplicates skipped, {} errors",
            self.bodies, self.new_bodies, self.events, self.duplicates, self.errors
        )
    }
}

/// One body to ingest.
#[derive(Clone, Debug)]
pub struct Body {
    /// Where it came from, for reports.
    pub source: String,
    /// The bytes as received.
    pub bytes: Vec<u8>,
}

impl Store {
    /// Open (creating if needed) the store at `root`, and remove the temporary files that
    /// writers killed mid-write left behind (see [`Store::remove_orphans`]).
    ///
    /// # Errors
    /// When the folders cannot be created or read.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        for sub in ["raw", "events", "rejected"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(|e| io(&p, &e))?;
        }
        let store = Store { root };
        store.remove_orphans()?;
        Ok(store)
    }

    /// Remove the temporary files (`.<name>.<pid>.tmp`) of writers that are no longer running,
    /// and return how many were removed. A writer killed between creating its temporary file
    /// and renaming it into place (`kill -9` mid-ingest) leaves one behind; nothing it held is
    /// lost, since the body or events it was writing are written again by the next ingest. A
    /// file whose process still runs (a concurrent ingest) is left alone. Where running
    /// processes cannot be told (no `/proc`), nothing is removed.
    ///
    /// # Errors
    /// When a folder cannot be read or a file cannot be removed.
    pub fn remove_orphans(&self) -> Result<usize> {
        if !Path::new("/proc/self").exists() {
            return Ok(0);
        }
        let mut removed = 0;
        let mut dirs: Vec<PathBuf> =
            ["raw", "events", "rejected"].iter().map(|s| self.root.join(s)).collect();
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).map_err(|e| io(&dir, &e))? {
                let path = entry.map_err(|e| io(&dir, &e))?.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Some(pid) = temp_file_pid(&path)
                    && !Path::new("/proc").join(pid.to_string()).exists()
                {
                    match fs::remove_file(&path) {
                        Ok(()) => removed += 1,
                        // Another ingest removed it first.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io(&path, &e)),
                    }
                }
            }
        }
        Ok(removed)
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of the Parquet events.
    pub fn events_dir(&self) -> PathBuf {
        self.root.join("events")
    }

    /// Every stored Parquet file, sorted.
    ///
    /// # Errors
    /// When a folder cannot be read.
    pub fn event_files(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        collect_parquet(&self.events_dir(), &mut out)?;
        out.sort();
        Ok(out)
    }

    /// The keys of every stored event (reads only the `event_key` column).
    ///
    /// # Errors
    /// When a Parquet file cannot be read.
    pub fn stored_keys(&self) -> Result<HashSet<String>> {
        let mut keys = HashSet::new();
        for path in self.event_files()? {
            let file = File::open(&path).map_err(|e| io(&path, &e))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
            let idx = builder
                .schema()
                .index_of("event_key")
                .map_err(|e| DataFusionError::Execution(format!("{}: {e}", path.display())))?;
            let mask = ProjectionMask::roots(builder.parquet_schema(), [idx]);
            for batch in builder.with_projection(mask).build()? {
                let batch = batch?;
                let col = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
                let col = col.as_string::<i32>();
                for i in 0..col.len() {
                    if col.is_valid(i) {
                        keys.insert(col.value(i).to_owned());
                    }
                }
            }
        }
        Ok(keys)
    }

    /// Store `bytes` under `raw/<provider>/`, returning its digest and whether it is new.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn store_body(&self, provider: Provider, bytes: &[u8]) -> Result<(String, bool)> {
        let digest = mailstate_core::encoding::encode_hex(&Sha256::digest(bytes));
        let dir = self.root.join("raw").join(provider.as_str());
        let path = dir.join(format!("{digest}.body"));
        if path.exists() {
            return Ok((digest, false));
        }
        write_durably(&path, |f| f.write_all(bytes))?;
        Ok((digest, true))
    }

    fn reject(
        &self,
        provider: Provider,
        digest: &str,
        body: &Body,
        errors: &[String],
    ) -> Result<Rejection> {
        let dir = self.root.join("rejected").join(provider.as_str());
        let kept_at = dir.join(format!("{digest}.body"));
        if !kept_at.exists() {
            write_durably(&kept_at, |f| f.write_all(&body.bytes))?;
        }
        let report = serde_json::json!({"source": body.source, "errors": errors});
        let report_path = dir.join(format!("{digest}.errors.json"));
        write_durably(&report_path, |f| f.write_all(report.to_string().as_bytes()))?;
        Ok(Rejection { source: body.source.clone(), kept_at, errors: errors.to_vec() })
    }

    /// Write `events` as Parquet, one new file per day.
    fn write_events(&self, events: Vec<Event>) -> Result<Vec<PathBuf>> {
        let mut by_day: BTreeMap<String, Vec<Event>> = BTreeMap::new();
        for e in events {
            let day = e
                .occurred_at
                .map_or_else(|| "unknown".to_owned(), |t| t.to_string()[..10].to_owned());
            by_day.entry(day).or_default().push(e);
        }
        let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
        let mut files = Vec::new();
        for (day, events) in by_day {
            // Named by the digest of its keys: a new set of events gets a new name.
            let mut h = Sha256::new();
            for e in &events {
                h.update(e.event_key.as_bytes());
                h.update([0]);
            }
            let id = &mailstate_core::encoding::encode_hex(&h.finalize())[..16];
            let path =
                self.events_dir().join(format!("day={day}")).join(format!("part-{id}.parquet"));
            let mut w = ArrowWriter::try_new(Vec::new(), event_schema(), Some(props.clone()))?;
            w.write(&events_to_batch(&events)?)?;
            let bytes = w.into_inner()?;
            write_durably(&path, |f| f.write_all(&bytes))?;
            files.push(path);
        }
        Ok(files)
    }

    /// Ingest `bodies` from `provider`: store each raw body first, then write the new
    /// canonical events. `progress` is called with the byte size of each body once done.
    ///
    /// # Errors
    /// I/O failures of the store itself. Bodies that do not normalize are not errors of the
    /// run: they are counted, kept aside under `rejected/` and listed in the summary.
    pub fn ingest(
        &self,
        provider: Provider,
        bodies: impl IntoIterator<Item = Body>,
        progress: impl FnMut(u64),
    ) -> Result<IngestSummary> {
        let mut seen = self.stored_keys()?;
        self.ingest_with_keys(provider, bodies, &mut seen, progress)
    }

    /// [`Store::ingest`] against a key set the caller keeps: `seen` must hold the keys of every
    /// stored event (start from [`Store::stored_keys`]), and gains the keys of the events this
    /// call writes. A caller that ingests many small batches (a pull, page by page) reads the
    /// stored keys once instead of once per batch.
    ///
    /// # Errors
    /// As [`Store::ingest`]. After an error `seen` may hold keys whose events were not
    /// written: read it again with [`Store::stored_keys`] before going on.
    pub fn ingest_with_keys(
        &self,
        provider: Provider,
        bodies: impl IntoIterator<Item = Body>,
        seen: &mut HashSet<String>,
        mut progress: impl FnMut(u64),
    ) -> Result<IngestSummary> {
        let mut summary = IngestSummary::default();
        let mut fresh: Vec<Event> = Vec::new();
        for body in bodies {
            summary.bodies += 1;
            let (digest, new) = self.store_body(provider, &body.bytes)?;
            summary.new_bodies += u64::from(new);
            let mut errors: Vec<String> = Vec::new();
            match normalize(provider, Payload { body: &body.bytes, headers: &Headers::new() }) {
                Err(e) => errors.push(format!("{}: {e}", e.code())),
                Ok(out) => {
                    errors.extend(out.errors.iter().map(|e| format!("{}: {e}", e.code())));
                    summary.controls += u64::from(out.control.is_some());
                    for e in out.events {
                        if seen.insert(e.event_key.clone()) {
                            fresh.push(e);
                        } else {
                            summary.duplicates += 1;
                        }
                    }
                }
            }
            if !errors.is_empty() {
                summary.errors += errors.len() as u64;
                summary.rejected.push(self.reject(provider, &digest, &body, &errors)?);
            }
            progress(body.bytes.len() as u64);
        }
        summary.events = fresh.len() as u64;
        if !fresh.is_empty() {
            summary.files = self.write_events(fresh)?;
        }
        Ok(summary)
    }
}

/// Split a large NDJSON export into bodies of about `max` bytes, at line boundaries.
pub fn split_lines(source: &str, bytes: Vec<u8>, max: usize) -> Vec<Body> {
    if bytes.len() <= max {
        return vec![Body { source: source.to_owned(), bytes }];
    }
    let mut out = Vec::new();
    let (mut start, mut line) = (0usize, 1usize);
    while start < bytes.len() {
        let mut end = (start + max).min(bytes.len());
        if end < bytes.len() {
            end =
                bytes[end..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |p| end + p + 1);
        }
        let chunk = bytes[start..end].to_vec();
        #[expect(
            clippy::naive_bytecount,
            reason = "a chunk split runs once per 8 MiB; no extra crate for it"
        )]
        let lines = chunk.iter().filter(|b| **b == b'\n').count();
        out.push(Body { source: format!("{source} (from line {line})"), bytes: chunk });
        line += lines;
        start = end;
    }
    out
}

fn collect_parquet(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in fs::read_dir(dir).map_err(|e| io(dir, &e))? {
        let p = entry.map_err(|e| io(dir, &e))?.path();
        if p.is_dir() {
            collect_parquet(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
    Ok(())
}

/// The writer's process id of a temporary file `.<name>.<pid>.tmp` ([`write_durably`]).
fn temp_file_pid(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (_, pid) = inner.rsplit_once('.')?;
    pid.parse().ok()
}

/// Write a file under a temporary name, fsync it, rename it into place and fsync its folder.
fn write_durably(path: &Path, write: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
    let dir = path.parent().ok_or_else(|| DataFusionError::Internal("no parent".into()))?;
    fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        write(&mut f)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io(path, &e));
    }
    Ok(())
}

fn io(path: &Path, e: &std::io::Error) -> DataFusionError {
    DataFusionError::Execution(format!("{}: {e}", path.display()))
}
