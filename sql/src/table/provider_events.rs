//! `provider_events(provider, path_or_glob)`: canonical events from raw provider payloads.
//!
//! Each matching file is one payload (a webhook body, an API page, an export), normalized by
//! the rules in use (core's `normalize`, or the plugin's) for `provider` (a slug such as `sendgrid`, or `ndjson` for
//! canonical events). A directory means every file under it. The result has the columns of
//! [`crate::event_schema`].
//!
//! The function is strict: a payload or element that does not normalize fails the query with
//! its file, line and error code, rather than leaving events out silently. Control messages
//! (subscription confirmations, pings) carry no events and are skipped.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use mailstate_core::{Event, Headers, Payload, Provider};

use crate::rules::{RulesError, SqlRules};
use crate::schema::{event_schema, events_to_batch};

const NAME: &str = "provider_events";

/// The `provider_events` table function, normalizing with `rules`.
#[derive(Debug, Default)]
pub(crate) struct ProviderEvents {
    pub(crate) rules: SqlRules,
}

fn literal(fun: &str, e: &Expr, what: &str) -> Result<String> {
    match e {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => Ok(s.clone()),
        other => Err(DataFusionError::Plan(format!(
            "{fun}: {what} must be a string literal, found {other}"
        ))),
    }
}

impl TableFunctionImpl for ProviderEvents {
    fn call_with_args(&self, args: TableFunctionArgs<'_, '_>) -> Result<Arc<dyn TableProvider>> {
        let [provider, path] = args.exprs() else {
            return Err(DataFusionError::Plan(format!(
                "{NAME}: expected 2 arguments (provider, path_or_glob), found {}",
                args.exprs().len()
            )));
        };
        let provider: Provider = literal(NAME, provider, "provider")?
            .parse()
            .map_err(|e: mailstate_core::Error| crate::udaf::core_error(NAME, &e))?;
        let pattern = literal(NAME, path, "path_or_glob")?;
        let files = expand(&pattern)?;
        let mut events = Vec::new();
        for file in &files {
            events.extend(read_payload(&self.rules, provider, file)?);
        }
        let batch = events_to_batch(&events)?;
        Ok(Arc::new(MemTable::try_new(event_schema(), vec![vec![batch]])?))
    }
}

/// The events of one payload file, failing on its first error.
///
/// # Errors
/// The file cannot be read, or the payload or one of its elements does not normalize.
pub(crate) fn read_payload(
    rules: &SqlRules,
    provider: Provider,
    file: &Path,
) -> Result<Vec<Event>> {
    let body = std::fs::read(file).map_err(|e| {
        DataFusionError::Execution(format!("{NAME}: cannot read {}: {e}", file.display()))
    })?;
    let out = rules
        .normalize(provider, Payload { body: &body, headers: &Headers::new() })
        .map_err(|e| match e {
            RulesError::Rules(e) => at_file(file, &e),
            RulesError::Sandbox(why) => {
                DataFusionError::Execution(format!("{NAME}: {}: {why}", file.display()))
            }
        })?;
    if let Some(e) = out.errors.first() {
        let more = out.errors.len() - 1;
        let mut err = at_file(file, e);
        if more > 0 {
            err = DataFusionError::Execution(format!("{err} (and {more} more errors)"));
        }
        return Err(err);
    }
    Ok(out.events)
}

fn at_file(file: &Path, e: &mailstate_core::Error) -> DataFusionError {
    DataFusionError::Execution(format!("{NAME}: {}: {e} ({})", file.display(), e.code()))
}

/// The files a path, directory or glob names, sorted.
///
/// # Errors
/// A bad glob pattern, an unreadable directory, or nothing matching.
pub(crate) fn expand(pattern: &str) -> Result<Vec<PathBuf>> {
    let path = Path::new(pattern);
    let mut files = Vec::new();
    if path.is_dir() {
        walk(path, &mut files)?;
    } else if path.is_file() {
        files.push(path.to_path_buf());
    } else {
        let paths = glob::glob(pattern)
            .map_err(|e| DataFusionError::Plan(format!("{NAME}: bad glob {pattern:?}: {e}")))?;
        for p in paths {
            let p = p.map_err(|e| DataFusionError::Execution(format!("{NAME}: {e}")))?;
            if p.is_dir() {
                walk(&p, &mut files)?;
            } else {
                files.push(p);
            }
        }
    }
    if files.is_empty() {
        return Err(DataFusionError::Plan(format!("{NAME}: no file matches {pattern:?}")));
    }
    files.sort();
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        DataFusionError::Execution(format!("{NAME}: cannot read {}: {e}", dir.display()))
    })?;
    for entry in entries {
        let p = entry.map_err(|e| DataFusionError::Execution(format!("{NAME}: {e}")))?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}
