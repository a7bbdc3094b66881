//! The HTML page: one file, its stylesheet inline, every chart inline SVG, the data as a JSON
//! block, and no script, font, image or link that would load anything.
//!
//! A Content-Security-Policy (`default-src 'none'`) makes the browser refuse any request the
//! page might still contain, and run no script; the JSON block (`type="application/json"`)
//! is data, never executed.

use std::fmt::Write as _;

use super::chart::Chart;
use super::{Data, Section};

/// `text` safe inside HTML text and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped `text` with `backticked` spans set as code.
fn prose(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(part));
        } else {
            out.push_str(&escape(part));
        }
    }
    out
}

/// The whole page.
pub(crate) fn render(data: &Data) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let meta = &data.report;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>{title}</title><style>{css}</style></head><body>\
         <header><h1>{title}</h1><p class=\"meta\">{period}</p></header><main>",
        title = escape(&meta.title),
        css = CSS,
        period = prose(&meta.describe()),
    );
    h.push_str("<section class=\"tiles\" aria-label=\"summary\">");
    for tile in &data.summary {
        let _ = write!(
            h,
            "<div class=\"tile\"><div class=\"tile-value\">{}</div><div class=\"tile-label\">{}</div></div>",
            escape(&tile.value),
            escape(&tile.label)
        );
    }
    h.push_str("</section><nav aria-label=\"sections\"><ul>");
    for s in &data.sections {
        let _ = write!(h, "<li><a href=\"#{}\">{}</a></li>", escape(&s.id), escape(&s.title));
    }
    h.push_str("</ul></nav>");
    for section in &data.sections {
        render_section(&mut h, section);
    }
    let _ = write!(
        h,
        "</main><footer><p>Made by <code>mailstate report</code> from the SQL files named under \
         each chart (<code>sql/queries/</code>); every number of this page is also in the JSON \
         block <code>#report-data</code> of its source.</p></footer>\
         <script type=\"application/json\" id=\"report-data\">{}</script></body></html>",
        json_for_html(data)
    );
    h.push('\n');
    h
}

fn render_section(h: &mut String, section: &Section) {
    let _ = write!(
        h,
        "<section class=\"block\" id=\"{}\"><h2>{}</h2>",
        escape(&section.id),
        escape(&section.title)
    );
    for p in &section.paragraphs {
        let _ = write!(h, "<p>{}</p>", prose(p));
    }
    if !section.charts.is_empty() {
        h.push_str("<div class=\"grid\">");
        for chart in &section.charts {
            render_chart(h, chart);
        }
        h.push_str("</div>");
    }
    h.push_str("</section>");
}

fn render_chart(h: &mut String, chart: &Chart) {
    let _ = write!(
        h,
        "<figure class=\"card\"><h3>{}</h3><div class=\"scroll\">{}</div>",
        escape(&chart.title),
        chart.svg()
    );
    if !chart.is_empty() && (chart.series.len() > 1 || !chart.thresholds.is_empty()) {
        h.push_str("<ul class=\"legend\">");
        for (k, s) in chart.series.iter().enumerate() {
            let _ =
                write!(h, "<li><span class=\"swatch s{}\"></span>{}</li>", k % 8, escape(&s.name));
        }
        for t in &chart.thresholds {
            let _ =
                write!(h, "<li><span class=\"swatch threshold\"></span>{}</li>", escape(&t.label));
        }
        h.push_str("</ul>");
    }
    let _ = write!(h, "<figcaption>From <code>{}</code>.</figcaption>", escape(&chart.source));
    if !chart.is_empty() {
        render_table(h, chart);
    }
    h.push_str("</figure>");
}

/// The chart's numbers: one row per bucket or category, one column per series.
fn render_table(h: &mut String, chart: &Chart) {
    let rows = chart.x.len();
    let _ = write!(
        h,
        "<details><summary>Numbers ({rows} row{s})</summary><div class=\"scroll\"><table><thead><tr><th scope=\"col\">{}</th>",
        escape(&chart.x_label),
        s = if rows == 1 { "" } else { "s" }
    );
    for s in &chart.series {
        let _ = write!(h, "<th scope=\"col\">{}</th>", escape(&s.name));
    }
    for (s, _) in &chart.table_only {
        let _ = write!(h, "<th scope=\"col\">{}</th>", escape(&s.name));
    }
    h.push_str("</tr></thead><tbody>");
    for (i, x) in chart.x.iter().enumerate() {
        let _ = write!(h, "<tr><th scope=\"row\">{}</th>", escape(x));
        let cells = chart
            .series
            .iter()
            .map(|s| (s, chart.unit))
            .chain(chart.table_only.iter().map(|(s, u)| (s, *u)));
        for (s, unit) in cells {
            match s.values.get(i).copied().flatten() {
                Some(v) => {
                    let _ = write!(h, "<td>{}</td>", unit.format(v));
                }
                None => h.push_str("<td class=\"none\">–</td>"),
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div></details>");
}

/// The data block's JSON, safe inside `<script>`: `<` is written `\u003c`, so no `</script>`
/// can end the block early (valid JSON: `<` only occurs inside strings).
fn json_for_html(data: &Data) -> String {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "null".to_owned());
    json.replace('<', "\\u003c")
}

/// The stylesheet: light by default, dark under `prefers-color-scheme: dark`; the series
/// palette is Okabe–Ito (readable by people with the common color vision deficiencies).
const CSS: &str = r#"
:root{--bg:#fafafa;--fg:#1d1f23;--muted:#5b6270;--card:#fff;--line:#d9dce1;--grid:#eceef1;
--s0:#0072b2;--s1:#d55e00;--s2:#009e73;--s3:#cc79a7;--s4:#e69f00;--s5:#56b4e9;--s6:#7f7f7f;--s7:#8c564b;
--warn:#c0392b}
@media (prefers-color-scheme:dark){:root{--bg:#15171b;--fg:#e6e8eb;--muted:#a0a7b4;--card:#1e2127;
--line:#3a3f48;--grid:#2a2e35;--s0:#56b4e9;--s1:#ff8c42;--s2:#3fd1a0;--s3:#e79cc9;--s4:#f5c242;
--s5:#9ad0f5;--s6:#b0b0b0;--s7:#c49a8a;--warn:#ff6b5b}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header,main,footer{max-width:1240px;margin:0 auto;padding:0 16px}
header{padding-top:20px}h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.25rem;margin:0 0 6px}
h3{font-size:1rem;margin:0 0 8px}.meta,footer,figcaption{color:var(--muted);font-size:.85rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:14px 0}
.tile{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.tile-value{font-size:1.35rem;font-weight:600}.tile-label{color:var(--muted);font-size:.8rem}
nav ul{list-style:none;padding:0;margin:0 0 8px;display:flex;flex-wrap:wrap;gap:6px 14px;font-size:.9rem}
a{color:var(--s0)}
.block{margin:22px 0}.block>p{max-width:80ch;margin:4px 0 10px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,560px),1fr));gap:14px}
.card{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px;min-width:0}
.scroll{overflow-x:auto}
svg.chart{display:block;width:100%;min-width:480px;height:auto;font-size:11px}
svg .tick{fill:var(--muted)}svg .axis-label{fill:var(--fg);font-size:12px}
svg .grid{stroke:var(--grid)}svg .axis{stroke:var(--line)}svg .frame{fill:none;stroke:var(--line)}
svg .note{fill:var(--muted);font-size:13px}svg .value{fill:var(--fg);font-size:10px}
svg .series path{fill:none;stroke-width:2}svg .series circle{stroke:var(--card);stroke-width:1}
svg .threshold line{stroke:var(--warn);stroke-dasharray:5 4;stroke-width:1.5}svg .threshold text{fill:var(--warn);font-size:10px}
.s0{--c:var(--s0)}.s1{--c:var(--s1)}.s2{--c:var(--s2)}.s3{--c:var(--s3)}
.s4{--c:var(--s4)}.s5{--c:var(--s5)}.s6{--c:var(--s6)}.s7{--c:var(--s7)}
svg .series path{stroke:var(--c)}svg .series circle,svg .series rect{fill:var(--c)}
.legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.85rem}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px;background:var(--c)}
.swatch.threshold{background:none;border-top:2px dashed var(--warn);height:0;vertical-align:3px}
details{margin-top:6px}summary{cursor:pointer;color:var(--muted);font-size:.85rem}
table{border-collapse:collapse;font-size:.85rem;margin-top:6px;font-variant-numeric:tabular-nums}
th,td{padding:3px 10px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th[scope=row],thead th:first-child{text-align:left}td.none{color:var(--muted)}
footer{padding-bottom:24px}
@media (max-width:600px){body{font-size:14px}.card{padding:8px}}
"#;
