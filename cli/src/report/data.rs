//! The report's numbers: the SQL it runs, the optional columns it looks for, the period
//! views, and the duplicate count read back from the raw bodies.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use mailstate_core::{Headers, Payload, Provider, normalize};
use serde::Serialize;
use serde_json::{Map, Value};

use super::Bucket;

/// The table the caller registered as `events`, moved aside so `events` can be the period.
pub(crate) const STORE_TABLE: &str = "store_events";

/// One SQL file the report runs: its name (what the page cites) and text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Query {
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

macro_rules! query {
    ($name:literal, $path:literal) => {
        Query { name: $name, sql: include_str!($path) }
    };
}

pub(crate) const RATES: Query =
    query!("sql/queries/rates_over_time.sql", "../../../sql/queries/rates_over_time.sql");
pub(crate) const WORST_DOMAINS: Query =
    query!("sql/queries/worst_domains.sql", "../../../sql/queries/worst_domains.sql");
pub(crate) const DOMAIN_TREND: Query = query!(
    "sql/queries/domain_rates_over_time.sql",
    "../../../sql/queries/domain_rates_over_time.sql"
);
pub(crate) const DIAGNOSTICS: Query =
    query!("sql/queries/top_diagnostics.sql", "../../../sql/queries/top_diagnostics.sql");
pub(crate) const SUPPRESSIONS: Query = query!(
    "sql/queries/suppressions_over_time.sql",
    "../../../sql/queries/suppressions_over_time.sql"
);
pub(crate) const ABSORBED: Query = query!(
    "sql/queries/late_and_duplicate_events.sql",
    "../../../sql/queries/late_and_duplicate_events.sql"
);
pub(crate) const REVENUE: Query =
    query!("sql/queries/revenue_attribution.sql", "../../../sql/queries/revenue_attribution.sql");
pub(crate) const ENGAGEMENT: Query = query!(
    "cli/src/report/sql/engagement_people_machines.sql",
    "sql/engagement_people_machines.sql"
);
pub(crate) const MACHINE_OPENS: Query =
    query!("cli/src/report/sql/machine_opens_by_provider.sql", "sql/machine_opens_by_provider.sql");
pub(crate) const BOUNCE_CATEGORIES: Query =
    query!("cli/src/report/sql/bounce_categories.sql", "sql/bounce_categories.sql");

/// Totals of the period (inline: nothing here is worth a file).
pub(crate) const SUMMARY_SQL: &str = "SELECT COUNT(*) AS rows, \
     COUNT(DISTINCT event_key) AS events, \
     COUNT(DISTINCT provider) AS providers, \
     MIN(occurred_at) AS first_event_at, \
     MAX(occurred_at) AS last_event_at \
     FROM events";

/// The current suppression list's size, from the same function as `suppression_list.sql`.
pub(crate) const LIST_SIZE_SQL: &str = "WITH per_recipient AS ( \
       SELECT recipient, recipient_suppressions(type, occurred_at, stream, event_key) AS suppressions \
       FROM events WHERE recipient IS NOT NULL GROUP BY recipient), \
     flat AS (SELECT recipient, unnest(suppressions) AS s FROM per_recipient) \
     SELECT COUNT(*) AS suppressions, \
            COUNT(DISTINCT recipient) AS recipients, \
            COUNT(DISTINCT CASE WHEN get_field(s, 'scope') = 'all' THEN recipient END) \
                AS recipients_suppressed_everywhere \
     FROM flat";

/// The marker of the time bucket in the SQL files: `--by week` turns `'day'` into `'week'`.
const BUCKET_MARKER: &str = "'day' /* bucket */";

/// `sql` with its time buckets set to `by`.
///
/// # Errors
/// When `sql` has no bucket marker (a file edited without it would silently stay daily).
pub(crate) fn bucketed(query: Query, by: Bucket) -> Result<String> {
    if !query.sql.contains(BUCKET_MARKER) {
        return Err(DataFusionError::Plan(format!(
            "{}: no {BUCKET_MARKER} marker to set the bucket with",
            query.name
        )));
    }
    Ok(query.sql.replace(BUCKET_MARKER, &format!("'{}' /* bucket */", by.as_str())))
}

/// The optional columns of the canonical event that this report reads when the store's
/// events have them: the one place that decides whether the people-versus-machines and the
/// bounce-category sections are drawn. Both columns come with newer versions of the event
/// schema (`automated`: `privacy_proxy`, `scanner` or null; `bounce_category`:
/// `invalid_recipient`, `mailbox_full`, … or null); until `event_schema()` has them, the
/// page says so instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Columns {
    /// The table has an `automated` column.
    pub automated: bool,
    /// The table has a `bounce_category` column.
    pub bounce_category: bool,
}

impl Columns {
    /// The optional columns present in `schema`.
    pub(crate) fn of(schema: &DFSchema) -> Columns {
        let has = |name: &str| schema.fields().iter().any(|f| f.name() == name);
        Columns { automated: has("automated"), bounce_category: has("bounce_category") }
    }
}

/// The time filter of the report, as a SQL condition on `occurred_at` (milliseconds compared
/// as integers, so no time zone or precision coercion is involved).
pub(crate) fn period_condition(since_ms: Option<i64>, until_ms: Option<i64>) -> String {
    let mut parts = Vec::new();
    if let Some(s) = since_ms {
        parts.push(format!("CAST(occurred_at AS BIGINT) >= {s}"));
    }
    if let Some(u) = until_ms {
        parts.push(format!("CAST(occurred_at AS BIGINT) < {u}"));
    }
    if parts.is_empty() { "TRUE".to_owned() } else { parts.join(" AND ") }
}

/// Define view `events` as the store's events under `condition`.
pub(crate) async fn set_events_view(ctx: &SessionContext, condition: &str) -> Result<()> {
    ctx.deregister_table("events")?;
    let df = ctx.sql(&format!("SELECT * FROM {STORE_TABLE} WHERE {condition}")).await?;
    ctx.register_table("events", df.into_view())?;
    Ok(())
}

/// Move the caller's `events` table to [`STORE_TABLE`].
pub(crate) fn move_store_table(ctx: &SessionContext) -> Result<()> {
    let table = ctx
        .deregister_table("events")?
        .ok_or_else(|| DataFusionError::Plan("the report needs a table named events".to_owned()))?;
    ctx.deregister_table(STORE_TABLE)?;
    ctx.register_table(STORE_TABLE, Arc::clone(&table))?;
    Ok(())
}

/// The rows of `sql` as JSON objects, encoded as `mailstate sql --format json` encodes them
/// (Arrow's JSON writer: nulls left out, timestamps as RFC 3339 text).
pub(crate) async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Map<String, Value>>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    batches_to_rows(&batches)
}

fn batches_to_rows(batches: &[RecordBatch]) -> Result<Vec<Map<String, Value>>> {
    let mut buf = Vec::new();
    {
        let mut w = datafusion::arrow::json::ArrayWriter::new(&mut buf);
        for b in batches {
            w.write(b)?;
        }
        w.finish()?;
    }
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(&buf)
        .map_err(|e| DataFusionError::Execution(format!("query rows as JSON: {e}")))?;
    Ok(match value {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

/// Duplicates found in one provider's raw bodies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RawDuplicates {
    /// The provider's slug.
    pub provider: String,
    /// Distinct bodies stored under `raw/<provider>/`.
    pub bodies: u64,
    /// Events those bodies normalize to, within the period.
    pub events: u64,
    /// Of those, events whose key an earlier one already had: what ingest skipped.
    pub duplicates: u64,
}

/// Normalize every stored raw body again and count, per provider, the events that repeat a
/// key (within the period): the duplicates ingest skipped. A body received twice byte for
/// byte is stored once (bodies are named by their digest), so its repeat is not counted.
/// `None` when the store has no `raw/` folder (a generated store).
///
/// # Errors
/// When a folder or a body cannot be read.
pub(crate) fn raw_duplicates(
    root: &Path,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
) -> Result<Option<Vec<RawDuplicates>>> {
    let raw = root.join("raw");
    if !raw.is_dir() {
        return Ok(None);
    }
    let io =
        |p: &Path, e: std::io::Error| DataFusionError::Execution(format!("{}: {e}", p.display()));
    let mut per: BTreeMap<String, RawDuplicates> = BTreeMap::new();
    let mut folders: Vec<_> = std::fs::read_dir(&raw)
        .map_err(|e| io(&raw, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let slug = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Ok(provider) = slug.parse::<Provider>() else { continue };
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .map_err(|e| io(&folder, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "body"))
            .collect();
        files.sort();
        let count = per.entry(slug.clone()).or_insert_with(|| RawDuplicates {
            provider: slug.clone(),
            ..RawDuplicates::default()
        });
        let mut seen: HashSet<String> = HashSet::new();
        for file in files {
            let bytes = std::fs::read(&file).map_err(|e| io(&file, e))?;
            count.bodies += 1;
            // A body that fails to normalize has no events to count (ingest kept it aside).
            let Ok(out) = normalize(provider, Payload { body: &bytes, headers: &Headers::new() })
            else {
                continue;
            };
            for e in out.events {
                let t = e.occurred_at.map(mailstate_core::Timestamp::as_millis);
                let inside = match t {
                    Some(t) => since_ms.is_none_or(|s| t >= s) && until_ms.is_none_or(|u| t < u),
                    None => since_ms.is_none() && until_ms.is_none(),
                };
                if !inside {
                    continue;
                }
                count.events += 1;
                if !seen.insert(e.event_key.clone()) {
                    count.duplicates += 1;
                }
            }
        }
    }
    Ok(Some(per.into_values().collect()))
}
