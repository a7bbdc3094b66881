//! Running SQL text and writing results in the formats of `mailstate sql`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// A Parquet file (needs --out).
    Parquet,
}

/// Register `path` as table `name`, by its extension (a folder is read as Parquet).
pub(crate) async fn register_table(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
) -> anyhow::Result<()> {
    let p = path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" => ctx.register_csv(name, p, CsvReadOptions::new()).await?,
        "json" | "ndjson" | "jsonl" => {
            ctx.register_json(
                name,
                p,
                JsonReadOptions::default().file_extension(&format!(".{ext}")),
            )
            .await?;
        }
        "parquet" | "" => ctx.register_parquet(name, p, ParquetReadOptions::default()).await?,
        other => {
            bail!("--table {name}: unknown file type .{other} (use csv, json, ndjson or parquet)")
        }
    }
    Ok(())
}

/// Register the events of a store (or of its `events` folder) as table `events`.
pub(crate) async fn register_store(ctx: &SessionContext, dir: &Path) -> anyhow::Result<()> {
    let events: PathBuf =
        if dir.join("events").is_dir() { dir.join("events") } else { dir.to_path_buf() };
    if !events.is_dir() {
        bail!("--events {}: no such folder", dir.display());
    }
    mailstate_sql::register_events(ctx, "events", &events).await?;
    Ok(())
}

/// Split SQL text into statements at `;` outside quotes and comments.
pub(crate) fn statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            cur.push('\n');
                            break;
                        }
                    }
                }
                ';' => out.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            },
        }
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

/// Run every statement; return the batches of the last one.
pub(crate) async fn run_sql(ctx: &SessionContext, text: &str) -> anyhow::Result<Vec<RecordBatch>> {
    let mut last = Vec::new();
    for stmt in statements(text) {
        last = ctx.sql(&stmt).await?.collect().await?;
    }
    Ok(last)
}

/// Write `batches` in `format` to `out`.
pub(crate) fn write(
    batches: &[RecordBatch],
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    use datafusion::arrow::{csv, json};
    match format {
        Format::Table => {
            writeln!(out, "{}", datafusion::arrow::util::pretty::pretty_format_batches(batches)?)?;
        }
        Format::Csv => {
            let mut w = csv::WriterBuilder::new().with_header(true).build(&mut *out);
            for b in batches {
                w.write(b)?;
            }
        }
        Format::Json => {
            let mut w = json::ArrayWriter::new(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            drop(w);
            writeln!(out)?;
        }
        Format::Ndjson => {
            let mut w = json::LineDelimitedWriter::new(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        Format::Parquet => bail!("--format parquet needs --out PATH"),
    }
    Ok(())
}

/// Write `batches` as one Parquet file at `path`.
pub(crate) fn write_parquet(batches: &[RecordBatch], path: &Path) -> anyhow::Result<()> {
    let Some(first) = batches.first() else { bail!("the query returned no batches to write") };
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(file, first.schema(), None)?;
    for b in batches {
        w.write(b)?;
    }
    w.close()?;
    Ok(())
}
