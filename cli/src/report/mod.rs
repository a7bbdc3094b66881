//! `mailstate report`: a deliverability page, one self-contained HTML file, computed in SQL
//! with mailstate's functions.
//!
//! [`build`] runs the SQL files of `sql/queries/` (and, for the optional event columns, of
//! `cli/src/report/sql/`) over table `events` of a DataFusion session, and [`Report::html`]
//! writes the page: inline CSS, inline SVG charts, a JSON data block
//! (`<script type="application/json" id="report-data">`, data only, never run) holding every
//! number the page shows, and no script, font, image or link that would load anything.
//!
//! ```text
//! mod.rs     Options, build(): which query feeds which chart, the sections and their words
//! data.rs    the SQL files, the optional columns (Columns), period views, raw-body duplicates
//! chart.rs   Chart (the data of one chart) and its SVG
//! page.rs    the HTML page, its stylesheet, tables and the data block
//! ```
//!
//! # Why hand-written SVG
//!
//! The charts are two kinds (lines over time with threshold lines, horizontal bars), and the
//! page needs things a charting crate does not give together: a `<title>` on every point and
//! bar for hover, colors from the page's CSS so one SVG serves light and dark mode, no
//! `xmlns`, fonts or scripts, and the same `Chart` value (`chart.rs`) behind the SVG,
//! the table below it and the data block. `plotters`' SVG backend writes fixed colors and
//! per-glyph text styling and has no per-element titles; `charming` renders through ECharts
//! (JavaScript, or a headless JS engine for SVG). About 350 lines of SVG here cost less than
//! either dependency and keep the page small (the demo's report is about 60 KB).

#![allow(
    clippy::cast_precision_loss,
    reason = "counts are shown as f64; a count above 2^53 events is not a concern of a page"
)]

mod chart;
mod data;
mod page;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use datafusion::error::Result;
use datafusion::prelude::SessionContext;
use serde::Serialize;
use serde_json::{Map, Value};

use chart::{Chart, Kind, Series, Threshold, Unit};
pub use data::{Columns, RawDuplicates};

/// The time bucket of the charts over time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Calendar days (UTC).
    #[default]
    Day,
    /// Weeks starting on Monday (UTC), labelled by their Monday.
    Week,
}

impl Bucket {
    /// `day` or `week`: DataFusion's `date_trunc` granularity.
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
        }
    }
}

/// What to report on.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The page's title.
    pub title: String,
    /// Where the events came from, as the page names it (a store folder).
    pub source: String,
    /// The store's root, to count the duplicates in its raw bodies (`None`: not counted).
    pub store_root: Option<PathBuf>,
    /// Events at or after this instant (milliseconds since the epoch), and its text.
    pub since: Option<(i64, String)>,
    /// Events before this instant (milliseconds since the epoch), and its text.
    pub until: Option<(i64, String)>,
    /// The time bucket.
    pub by: Bucket,
    /// When the report was made (RFC 3339 text), if the page should say.
    pub generated_at: Option<String>,
}

/// A built report: its data, ready to be written as a page.
#[derive(Clone, Debug)]
pub struct Report {
    data: Data,
}

impl Report {
    /// The page, one self-contained HTML document.
    pub fn html(&self) -> String {
        page::render(&self.data)
    }

    /// The data block of the page (what `#report-data` holds), as JSON.
    pub fn data_json(&self) -> Value {
        serde_json::to_value(&self.data).unwrap_or(Value::Null)
    }

    /// The optional columns the store's events had.
    pub fn columns(&self) -> Columns {
        self.data.columns
    }

    /// How many charts the page draws.
    pub fn chart_count(&self) -> usize {
        self.data.sections.iter().map(|s| s.charts.len()).sum()
    }
}

/// What the page is about.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Meta {
    pub(crate) title: String,
    pub(crate) source: String,
    pub(crate) by: Bucket,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
    pub(crate) first_event_at: Option<String>,
    pub(crate) last_event_at: Option<String>,
    pub(crate) generated_at: Option<String>,
}

impl Meta {
    /// One line under the title.
    pub(crate) fn describe(&self) -> String {
        let period = match (&self.since, &self.until) {
            (None, None) => "all events".to_owned(),
            (Some(s), None) => format!("events from {s}"),
            (None, Some(u)) => format!("events before {u}"),
            (Some(s), Some(u)) => format!("events from {s} to (not including) {u}"),
        };
        let seen = match (&self.first_event_at, &self.last_event_at) {
            (Some(a), Some(b)) => format!(" (first {a}, last {b})"),
            _ => " (none found)".to_owned(),
        };
        let made = self.generated_at.as_ref().map(|g| format!("; made {g}")).unwrap_or_default();
        format!("Store `{}`: {period}{seen}, by {}{made}.", self.source, self.by.as_str())
    }
}

/// One figure at the top of the page.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Tile {
    pub(crate) label: String,
    pub(crate) value: String,
}

/// One part of the page: a heading, what it shows, its charts.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Section {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) paragraphs: Vec<String>,
    pub(crate) charts: Vec<Chart>,
}

/// Everything the page shows; serialized as its data block.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Data {
    pub(crate) report: Meta,
    pub(crate) columns: Columns,
    pub(crate) summary: Vec<Tile>,
    /// Each query's rows as `mailstate sql --format json` writes them, by file name.
    pub(crate) queries: BTreeMap<String, Vec<Map<String, Value>>>,
    /// Duplicates in the raw bodies per provider; null when the store keeps none.
    pub(crate) raw_duplicates: Option<Vec<RawDuplicates>>,
    pub(crate) sections: Vec<Section>,
}

/// The complaint-rate thresholds mailbox providers publish (Google's and Yahoo's sender
/// guidelines, 2024: stay below 0.1%, never reach 0.3%).
const COMPLAINT_THRESHOLDS: [(&str, f64); 2] =
    [("0.3%: bulk-sender limit", 0.003), ("0.1%: recommended ceiling", 0.001)];

/// Build the report over table `events` of `ctx` (and table `sends`, when registered: the
/// send log `revenue_attribution.sql` joins). `ctx` needs mailstate's functions
/// (`mailstate_sql::context`). The caller's `events` table is kept as `store_events`, and
/// `events` becomes a view of the period.
///
/// # Errors
/// When `ctx` has no `events` table, a query fails, or the raw bodies cannot be read.
pub async fn build(ctx: &SessionContext, options: &Options) -> Result<Report> {
    data::move_store_table(ctx)?;
    let columns = Columns::of(ctx.table(data::STORE_TABLE).await?.schema());
    let since_ms = options.since.as_ref().map(|s| s.0);
    let until_ms = options.until.as_ref().map(|u| u.0);
    let by = options.by;
    data::set_events_view(ctx, &data::period_condition(since_ms, until_ms)).await?;

    let mut queries: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
    let summary = data::rows(ctx, data::SUMMARY_SQL).await?.pop().unwrap_or_default();
    let rates = data::rows(ctx, &data::bucketed(data::RATES, by)?).await?;
    let worst = data::rows(ctx, data::WORST_DOMAINS.sql).await?;
    let ranked: BTreeSet<&str> =
        worst.iter().filter_map(|r| r.get("domain").and_then(Value::as_str)).collect();
    let trend: Vec<_> = data::rows(ctx, &data::bucketed(data::DOMAIN_TREND, by)?)
        .await?
        .into_iter()
        .filter(|r| r.get("domain").and_then(Value::as_str).is_some_and(|d| ranked.contains(d)))
        .collect();
    let diagnostics = data::rows(ctx, data::DIAGNOSTICS.sql).await?;
    let absorbed = data::rows(ctx, data::ABSORBED.sql).await?;
    let engagement = if columns.automated {
        Some((
            data::rows(ctx, &data::bucketed(data::ENGAGEMENT, by)?).await?,
            data::rows(ctx, data::MACHINE_OPENS.sql).await?,
        ))
    } else {
        None
    };
    let categories = if columns.bounce_category {
        Some(data::rows(ctx, data::BOUNCE_CATEGORIES.sql).await?)
    } else {
        None
    };
    let revenue = if ctx.table_exist("sends")? {
        Some(data::rows(ctx, data::REVENUE.sql).await?)
    } else {
        None
    };
    // Suppressions hold from the event that set them on: the list at the end of the period
    // needs every event before its end, not only those after its start.
    data::set_events_view(ctx, &data::period_condition(None, until_ms)).await?;
    let suppressions = data::rows(ctx, &data::bucketed(data::SUPPRESSIONS, by)?).await?;
    let list_size = data::rows(ctx, data::LIST_SIZE_SQL).await?.pop().unwrap_or_default();
    data::set_events_view(ctx, &data::period_condition(since_ms, until_ms)).await?;
    let raw = match &options.store_root {
        Some(root) => data::raw_duplicates(root, since_ms, until_ms)?,
        None => None,
    };

    let mut sections = vec![
        rates_section(&rates, by),
        domains_section(&worst, &trend, by),
        engagement_section(engagement.as_ref(), by),
        bounces_section(categories.as_deref(), &diagnostics),
        suppressions_section(&suppressions, &list_size, by),
        absorbed_section(&absorbed, raw.as_deref()),
    ];
    sections.push(revenue_section(revenue.as_deref()));

    let tiles = tiles(&summary, &rates, &list_size, &absorbed);
    queries.insert(data::RATES.name.into(), rates);
    queries.insert(data::WORST_DOMAINS.name.into(), worst);
    queries.insert(data::DOMAIN_TREND.name.into(), trend);
    queries.insert(data::DIAGNOSTICS.name.into(), diagnostics);
    queries.insert(data::ABSORBED.name.into(), absorbed);
    queries.insert(data::SUPPRESSIONS.name.into(), suppressions);
    queries.insert("summary".into(), vec![summary.clone()]);
    queries.insert("suppression list size".into(), vec![list_size]);
    if let Some((e, m)) = engagement {
        queries.insert(data::ENGAGEMENT.name.into(), e);
        queries.insert(data::MACHINE_OPENS.name.into(), m);
    }
    if let Some(c) = categories {
        queries.insert(data::BOUNCE_CATEGORIES.name.into(), c);
    }
    if let Some(r) = revenue {
        queries.insert(data::REVENUE.name.into(), r);
    }
    let text = |k: &str| summary.get(k).and_then(Value::as_str).map(str::to_owned);
    let report = Meta {
        title: options.title.clone(),
        source: options.source.clone(),
        by,
        since: options.since.as_ref().map(|s| s.1.clone()),
        until: options.until.as_ref().map(|u| u.1.clone()),
        first_event_at: text("first_event_at"),
        last_event_at: text("last_event_at"),
        generated_at: options.generated_at.clone(),
    };
    Ok(Report {
        data: Data { report, columns, summary: tiles, queries, raw_duplicates: raw, sections },
    })
}

fn num(row: &Map<String, Value>, key: &str) -> Option<f64> {
    row.get(key).and_then(Value::as_f64)
}

fn text<'a>(row: &'a Map<String, Value>, key: &str) -> &'a str {
    row.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A bucket's label: the date of its start.
fn bucket_label(row: &Map<String, Value>) -> String {
    text(row, "bucket").chars().take(10).collect()
}

fn sum(rows: &[Map<String, Value>], key: &str) -> f64 {
    rows.iter().filter_map(|r| num(r, key)).sum()
}

/// Series over time from rows keyed by (bucket, `group_key`): one series per group, values
/// from `value_key`, `missing` where a group has no row in a bucket (`None` for a rate with
/// no messages, zero for a count).
fn pivot(
    rows: &[Map<String, Value>],
    group_key: &str,
    value_key: &str,
    groups: Option<&[String]>,
    missing: Option<f64>,
) -> (Vec<String>, Vec<Series>) {
    let x: Vec<String> =
        rows.iter().map(bucket_label).collect::<BTreeSet<_>>().into_iter().collect();
    let names: Vec<String> = match groups {
        Some(g) => g.to_vec(),
        None => rows
            .iter()
            .map(|r| text(r, group_key).to_owned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let index: BTreeMap<&str, usize> = x.iter().enumerate().map(|(i, b)| (b.as_str(), i)).collect();
    let series = names
        .into_iter()
        .map(|name| {
            let mut values = vec![missing; x.len()];
            for r in rows.iter().filter(|r| text(r, group_key) == name) {
                if let Some(&i) = index.get(bucket_label(r).as_str()) {
                    values[i] = num(r, value_key);
                }
            }
            Series { name, values }
        })
        .collect();
    (x, series)
}

struct ChartSpec<'a> {
    id: &'a str,
    title: &'a str,
    kind: Kind,
    unit: Unit,
    x_label: &'a str,
    y_label: &'a str,
    source: &'a str,
    empty_note: &'a str,
}

impl ChartSpec<'_> {
    fn chart(&self, x: Vec<String>, series: Vec<Series>) -> Chart {
        Chart {
            id: self.id.to_owned(),
            title: self.title.to_owned(),
            kind: self.kind,
            unit: self.unit,
            x_label: self.x_label.to_owned(),
            y_label: self.y_label.to_owned(),
            x,
            series,
            table_only: Vec::new(),
            thresholds: Vec::new(),
            source: self.source.to_owned(),
            empty_note: self.empty_note.to_owned(),
        }
    }
}

/// The label of the time axis.
fn time_label(by: Bucket) -> &'static str {
    match by {
        Bucket::Day => "day (UTC)",
        Bucket::Week => "week starting (UTC, Monday)",
    }
}

fn rates_section(rates: &[Map<String, Value>], by: Bucket) -> Section {
    let metrics = [
        ("delivery-rate", "Delivery rate", "delivery_rate", "delivered"),
        ("hard-bounce-rate", "Hard bounce rate", "hard_bounce_rate", "hard_bounced"),
        ("soft-bounce-rate", "Soft bounce rate", "soft_bounce_rate", "soft_bounced"),
        ("block-rate", "Block rate (bounces classed as blocks)", "block_rate", "blocked"),
        ("complaint-rate", "Complaint rate", "complaint_rate", "complained"),
        ("deferral-rate", "Deferral rate", "deferral_rate", "deferred"),
    ];
    let charts = metrics
        .iter()
        .map(|(id, title, key, _count)| {
            let spec = ChartSpec {
                id,
                title,
                kind: Kind::Line,
                unit: Unit::Share,
                x_label: time_label(by),
                y_label: "share of messages",
                source: data::RATES.name,
                empty_note: "No messages in this period.",
            };
            let (x, series) = pivot(rates, "provider", key, None, None);
            let mut chart = spec.chart(x, series);
            if *key == "complaint_rate" {
                chart.thresholds = COMPLAINT_THRESHOLDS
                    .iter()
                    .map(|(label, value)| Threshold { label: (*label).to_owned(), value: *value })
                    .collect();
            }
            let (_, messages) = pivot(rates, "provider", "messages", None, None);
            chart.table_only = messages
                .into_iter()
                .map(|mut s| {
                    s.name = format!("{} messages", s.name);
                    (s, Unit::Count)
                })
                .collect();
            chart
        })
        .collect();
    Section {
        id: "rates".into(),
        title: "Delivery, bounces, complaints and deferrals over time".into(),
        paragraphs: vec![
            "Each message (one `message_id` to one recipient) is counted in the bucket of its first event, once per outcome its state records: delivered, bounced (by the bounce class of its state: hard, soft or block), complained, deferred at least once. One line per provider.".into(),
            "Complaint rates are drawn against the thresholds Gmail and Yahoo publish for bulk senders: keep spam complaints below 0.1%, never reach 0.3%.".into(),
        ],
        charts,
    }
}

fn domains_section(
    worst: &[Map<String, Value>],
    trend: &[Map<String, Value>],
    by: Bucket,
) -> Section {
    let mut charts = Vec::new();
    for (kind, rank_key, rate_key, count_key, label) in [
        ("bounce", "bounce_rank", "bounce_rate", "bounced", "bounced"),
        ("complaint", "complaint_rank", "complaint_rate", "complained", "complained"),
    ] {
        let mut ranked: Vec<&Map<String, Value>> =
            worst.iter().filter(|r| num(r, rank_key).is_some_and(|n| n <= 10.0)).collect();
        ranked.sort_by(|a, b| {
            num(a, rank_key).partial_cmp(&num(b, rank_key)).unwrap_or(std::cmp::Ordering::Equal)
        });
        let domains: Vec<String> = ranked.iter().map(|r| text(r, "domain").to_owned()).collect();
        let title = format!("Worst 10 recipient domains by {kind} rate");
        let empty = format!("No domain had a message {label} in this period.");
        let spec = ChartSpec {
            id: &format!("worst-domains-{kind}"),
            title: &title,
            kind: Kind::Bars,
            unit: Unit::Share,
            x_label: "domain",
            y_label: &format!("{kind} rate (share of the domain's messages)"),
            source: data::WORST_DOMAINS.name,
            empty_note: &empty,
        };
        let mut chart = spec.chart(
            domains.clone(),
            vec![Series {
                name: format!("{kind} rate"),
                values: ranked.iter().map(|r| num(r, rate_key)).collect(),
            }],
        );
        chart.table_only = vec![
            (
                Series {
                    name: "messages".into(),
                    values: ranked.iter().map(|r| num(r, "messages")).collect(),
                },
                Unit::Count,
            ),
            (
                Series {
                    name: label.into(),
                    values: ranked.iter().map(|r| num(r, count_key)).collect(),
                },
                Unit::Count,
            ),
        ];
        charts.push(chart);
        let trend_title =
            format!("{} rate over time, worst domains by {kind} rate", capitalize(kind));
        let spec = ChartSpec {
            id: &format!("worst-domains-{kind}-trend"),
            title: &trend_title,
            kind: Kind::Line,
            unit: Unit::Share,
            x_label: time_label(by),
            y_label: &format!("{kind} rate"),
            source: data::DOMAIN_TREND.name,
            empty_note: &empty,
        };
        let rows: Vec<Map<String, Value>> = trend
            .iter()
            .filter(|r| domains.iter().any(|d| d == text(r, "domain")))
            .cloned()
            .collect();
        let (x, series) = pivot(&rows, "domain", rate_key, Some(&domains), None);
        let mut chart = spec.chart(if domains.is_empty() { Vec::new() } else { x }, series);
        if kind == "complaint" {
            chart.thresholds = COMPLAINT_THRESHOLDS
                .iter()
                .map(|(label, value)| Threshold { label: (*label).to_owned(), value: *value })
                .collect();
        }
        charts.push(chart);
    }
    Section {
        id: "domains".into(),
        title: "Recipient domains with the worst bounce and complaint rates".into(),
        paragraphs: vec![
            "Ranked over the whole period by rate, then by volume; only domains with at least one bounce (or complaint) are ranked. A domain with few messages can rank high on one bad message: the table below each chart gives its volume. The trend charts follow the same domains bucket by bucket.".into(),
        ],
        charts,
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// A query's rows.
type Rows = Vec<Map<String, Value>>;

fn engagement_section(engagement: Option<&(Rows, Rows)>, by: Bucket) -> Section {
    let mut section = Section {
        id: "people-machines".into(),
        title: "Opens and clicks: people and machines".into(),
        paragraphs: Vec::new(),
        charts: Vec::new(),
    };
    let Some((over_time, per_provider)) = engagement else {
        section.paragraphs.push("This store's events carry no `automated` flag, so opens and clicks cannot be split into people and machines (privacy-proxy opens, link-scanner clicks). Stores written by a mailstate whose events have the `automated` column get this section.".into());
        return section;
    };
    section.paragraphs.push("Open and click events (distinct `event_key`) by their `automated` flag: people (no flag) and machines (`privacy_proxy` opens such as Apple Mail Privacy Protection, `scanner` clicks from security gateways).".into());
    let x: Vec<String> = over_time.iter().map(bucket_label).collect();
    let series = ["people_opens", "machine_opens", "people_clicks", "machine_clicks"]
        .iter()
        .map(|k| Series {
            name: k.replace('_', " "),
            values: over_time.iter().map(|r| num(r, k)).collect(),
        })
        .collect();
    section.charts.push(
        ChartSpec {
            id: "people-machines",
            title: "Opens and clicks by people and by machines",
            kind: Kind::Line,
            unit: Unit::Count,
            x_label: time_label(by),
            y_label: "events",
            source: data::ENGAGEMENT.name,
            empty_note: "No opens or clicks in this period.",
        }
        .chart(x, series),
    );
    let mut chart = ChartSpec {
        id: "machine-open-share",
        title: "Share of opens made by machines, per provider",
        kind: Kind::Bars,
        unit: Unit::Share,
        x_label: "provider",
        y_label: "machine opens (share of opens)",
        source: data::MACHINE_OPENS.name,
        empty_note: "No opens in this period.",
    }
    .chart(
        per_provider.iter().map(|r| text(r, "provider").to_owned()).collect(),
        vec![Series {
            name: "machine share".into(),
            values: per_provider.iter().map(|r| num(r, "machine_share")).collect(),
        }],
    );
    chart.table_only = ["opens", "machine_opens"]
        .iter()
        .map(|k| {
            (
                Series {
                    name: k.replace('_', " "),
                    values: per_provider.iter().map(|r| num(r, k)).collect(),
                },
                Unit::Count,
            )
        })
        .collect();
    section.charts.push(chart);
    section
}

fn bounces_section(
    categories: Option<&[Map<String, Value>]>,
    diagnostics: &[Map<String, Value>],
) -> Section {
    let mut section = Section {
        id: "bounces".into(),
        title: "Bounce categories and diagnostics".into(),
        paragraphs: Vec::new(),
        charts: Vec::new(),
    };
    match categories {
        Some(rows) => {
            section.paragraphs.push("Hard and soft bounce events (distinct `event_key`) by their `bounce_category`.".into());
            let mut chart = ChartSpec {
                id: "bounce-categories",
                title: "Bounces by category",
                kind: Kind::Bars,
                unit: Unit::Count,
                x_label: "category",
                y_label: "bounce events",
                source: data::BOUNCE_CATEGORIES.name,
                empty_note: "No bounces in this period.",
            }
            .chart(
                rows.iter().map(|r| text(r, "bounce_category").to_owned()).collect(),
                vec![Series { name: "bounces".into(), values: rows.iter().map(|r| num(r, "bounces")).collect() }],
            );
            chart.table_only = vec![(
                Series { name: "messages".into(), values: rows.iter().map(|r| num(r, "messages")).collect() },
                Unit::Count,
            )];
            section.charts.push(chart);
        }
        None => section.paragraphs.push("This store's events carry no `bounce_category`, so bounces cannot be grouped by category (invalid recipient, mailbox full, blocked, policy, …) yet; the diagnostics below are the remote servers' own words.".into()),
    }
    section.paragraphs.push("The most frequent diagnostics of bounced messages: the remote server's text from the earliest event of the message's highest-ranked bounce (hover a bar for the full text).".into());
    let labels: Vec<String> = diagnostics
        .iter()
        .map(|r| format!("{} ({})", text(r, "diagnostic"), text(r, "bounce_class")))
        .collect();
    section.charts.push(
        ChartSpec {
            id: "top-diagnostics",
            title: "Top 10 bounce diagnostics",
            kind: Kind::Bars,
            unit: Unit::Count,
            x_label: "diagnostic (bounce class)",
            y_label: "bounced messages",
            source: data::DIAGNOSTICS.name,
            empty_note: "No bounced messages in this period.",
        }
        .chart(
            labels,
            vec![Series {
                name: "messages".into(),
                values: diagnostics.iter().map(|r| num(r, "messages")).collect(),
            }],
        ),
    );
    section
}

fn suppressions_section(
    rows: &[Map<String, Value>],
    size: &Map<String, Value>,
    by: Bucket,
) -> Section {
    let (x, series) = pivot(rows, "reason", "suppressions", None, Some(0.0));
    let chart = ChartSpec {
        id: "suppressions",
        title: "Active suppressions by the day they began, by reason",
        kind: Kind::Line,
        unit: Unit::Count,
        x_label: time_label(by),
        y_label: "suppressions",
        source: data::SUPPRESSIONS.name,
        empty_note: "No recipient is suppressed.",
    }
    .chart(x, series);
    let n = |k: &str| Unit::Count.format(num(size, k).unwrap_or(0.0));
    Section {
        id: "suppressions".into(),
        title: "Suppressions".into(),
        paragraphs: vec![
            format!(
                "The suppression list now holds {} suppressions of {} recipients ({} suppressed for all mail), from `recipient_suppressions` under the default policy: a hard bounce or a complaint suppresses all mail; an unsubscribe suppresses its stream until a later resubscribe; 3 soft bounces within 7 days with no delivery between suppress all mail (`soft_bounces`).",
                n("suppressions"),
                n("recipients"),
                n("recipients_suppressed_everywhere")
            ),
            "Suppressions count from every event before the end of the period (a hard bounce last year still suppresses), and a lifted one (resubscribed) is not counted.".into(),
        ],
        charts: vec![chart],
    }
}

fn absorbed_section(rows: &[Map<String, Value>], raw: Option<&[RawDuplicates]>) -> Section {
    let providers: Vec<String> = rows.iter().map(|r| text(r, "provider").to_owned()).collect();
    let mut series = vec![
        Series {
            name: "late events".into(),
            values: rows.iter().map(|r| num(r, "late_events")).collect(),
        },
        Series {
            name: "duplicate rows in the table".into(),
            values: rows.iter().map(|r| num(r, "duplicate_rows")).collect(),
        },
    ];
    let mut paragraphs = vec![
        "Late events: distinct events after the message's terminal event (an open after a hard bounce, a scanner's click after a complaint), `late_event_count` of `message_state`; they enrich the history and change no state.".into(),
        "Duplicate rows in the table: rows whose `event_key` another row already has (the table's rows minus its distinct keys); `message_state` counts each event once. Ingest never writes them; generated stores and other writers may.".into(),
    ];
    match raw {
        Some(raw) => {
            let by: BTreeMap<&str, &RawDuplicates> = raw.iter().map(|r| (r.provider.as_str(), r)).collect();
            series.push(Series {
                name: "duplicates skipped at ingest".into(),
                values: providers.iter().map(|p| by.get(p.as_str()).map(|r| r.duplicates as f64)).collect(),
            });
            paragraphs.push("Duplicates skipped at ingest: the stored raw bodies normalized again, counting the events whose `event_key` an earlier event already had (a provider's retry, or an API page repeating a webhook). A body received twice byte for byte is stored once, so its second copy is not counted here.".into());
        }
        None => paragraphs.push("This store keeps no raw bodies (`raw/`), so the duplicates ingest skipped cannot be counted.".into()),
    }
    let mut chart = ChartSpec {
        id: "absorbed",
        title: "Late events and duplicates, per provider",
        kind: Kind::Bars,
        unit: Unit::Count,
        x_label: "provider",
        y_label: "events",
        source: data::ABSORBED.name,
        empty_note: "No events in this period.",
    }
    .chart(providers, series);
    chart.table_only = ["rows", "distinct_events", "messages", "messages_with_late_events"]
        .iter()
        .map(|k| {
            (
                Series {
                    name: k.replace('_', " "),
                    values: rows.iter().map(|r| num(r, k)).collect(),
                },
                Unit::Count,
            )
        })
        .collect();
    Section {
        id: "absorbed".into(),
        title: "What ingestion absorbed".into(),
        paragraphs,
        charts: vec![chart],
    }
}

fn revenue_section(rows: Option<&[Map<String, Value>]>) -> Section {
    let mut section = Section {
        id: "revenue".into(),
        title: "Revenue by campaign".into(),
        paragraphs: Vec::new(),
        charts: Vec::new(),
    };
    let Some(rows) = rows else {
        section.paragraphs.push("No send log given: `mailstate report --table sends=PATH` joins one (columns `message_id`, `recipient`, `campaign`, `sent_at`, `revenue`) to message state.".into());
        return section;
    };
    section.paragraphs.push("The send log joined to message state (`revenue_attribution.sql`): each campaign's revenue, and the part of it from sends that were clicked. The send log's rows are not filtered by the period.".into());
    let mut chart = ChartSpec {
        id: "revenue",
        title: "Revenue by campaign",
        kind: Kind::Bars,
        unit: Unit::Amount,
        x_label: "campaign",
        y_label: "revenue",
        source: data::REVENUE.name,
        empty_note: "The send log has no rows.",
    }
    .chart(
        rows.iter().map(|r| text(r, "campaign").to_owned()).collect(),
        ["revenue", "clicked_revenue"]
            .iter()
            .map(|k| Series {
                name: k.replace('_', " "),
                values: rows.iter().map(|r| num(r, k)).collect(),
            })
            .collect(),
    );
    chart.table_only = ["sends", "delivered", "clicked", "without_events"]
        .iter()
        .map(|k| {
            (
                Series {
                    name: k.replace('_', " "),
                    values: rows.iter().map(|r| num(r, k)).collect(),
                },
                Unit::Count,
            )
        })
        .collect();
    section.charts.push(chart);
    section
}

fn tiles(
    summary: &Map<String, Value>,
    rates: &[Map<String, Value>],
    list_size: &Map<String, Value>,
    absorbed: &[Map<String, Value>],
) -> Vec<Tile> {
    let messages = sum(rates, "messages");
    let share = |k: &str| {
        if messages > 0.0 { Unit::Share.format(sum(rates, k) / messages) } else { "–".to_owned() }
    };
    let count = |v: f64| Unit::Count.format(v);
    vec![
        Tile { label: "events".into(), value: count(num(summary, "events").unwrap_or(0.0)) },
        Tile { label: "messages".into(), value: count(messages) },
        Tile { label: "providers".into(), value: count(num(summary, "providers").unwrap_or(0.0)) },
        Tile { label: "delivered".into(), value: share("delivered") },
        Tile {
            label: "bounced (hard, soft, block)".into(),
            value: if messages > 0.0 {
                Unit::Share.format(
                    (sum(rates, "hard_bounced")
                        + sum(rates, "soft_bounced")
                        + sum(rates, "blocked")
                        + sum(rates, "bounced_other"))
                        / messages,
                )
            } else {
                "–".to_owned()
            },
        },
        Tile { label: "complained".into(), value: share("complained") },
        Tile {
            label: "suppression list (recipients)".into(),
            value: count(num(list_size, "recipients").unwrap_or(0.0)),
        },
        Tile { label: "late events".into(), value: count(sum(absorbed, "late_events")) },
    ]
}
