//! Charts as data ([`Chart`]) and their SVG: line charts over time and horizontal bar charts.
//!
//! A chart is one model with two views: the SVG drawn here (every point and bar carries an
//! SVG `<title>`, which browsers show on hover) and the table `page.rs` writes below it, both
//! from the same [`Chart`] value, which is also what the page's JSON data block holds. Colors
//! are CSS classes (`s0`…`s7`, `threshold`, `grid`), so the page's stylesheet decides them
//! for light and dark mode.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "pixel geometry: indexes and tick counts are small and positive"
)]

use std::fmt::Write as _;

use serde::Serialize;

use super::page::escape;

/// How a chart draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// One line per series over `x` (time buckets).
    Line,
    /// One bar per series and category, categories down the side.
    Bars,
}

/// How values read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Unit {
    /// A share, 0 to 1, shown as a percentage.
    Share,
    /// A count.
    Count,
    /// A sum of money (the send log's own currency).
    Amount,
}

impl Unit {
    /// `value` as people read it.
    pub(crate) fn format(self, value: f64) -> String {
        match self {
            Unit::Share => {
                let p = value * 100.0;
                if p == 0.0 || p >= 10.0 {
                    format!("{p:.1}%")
                } else if p >= 1.0 {
                    format!("{p:.2}%")
                } else {
                    format!("{p:.3}%")
                }
            }
            Unit::Count => {
                if value.fract() == 0.0 {
                    group_digits(&format!("{value:.0}"))
                } else {
                    format!("{value:.2}")
                }
            }
            Unit::Amount => format!("{value:.2}"),
        }
    }

    /// An axis tick: shorter than [`Unit::format`].
    fn tick(self, value: f64, step: f64) -> String {
        match self {
            Unit::Share => {
                let p = value * 100.0;
                let decimals = decimals_for(step * 100.0);
                format!("{p:.decimals$}%")
            }
            Unit::Count | Unit::Amount => {
                let decimals = decimals_for(step);
                group_digits(&format!("{value:.decimals$}"))
            }
        }
    }
}

/// Digits after the point that tell ticks `step` apart.
fn decimals_for(step: f64) -> usize {
    let mut d = 0;
    let mut s = step;
    while d < 4 && (s - s.round()).abs() > 1e-9 {
        s *= 10.0;
        d += 1;
    }
    d
}

/// `1234567` as `1,234,567` (the integer part only).
fn group_digits(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

/// One named row of values, aligned with the chart's `x`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) values: Vec<Option<f64>>,
}

/// A horizontal reference line (a published threshold).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Threshold {
    pub(crate) label: String,
    pub(crate) value: f64,
}

/// A chart: what the SVG shows, what the table below it lists, and what the data block holds.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Chart {
    /// Unique in the page: the SVG's `id` is `chart-<id>`.
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) kind: Kind,
    pub(crate) unit: Unit,
    /// The label of the axis along `x` (time, or the categories).
    pub(crate) x_label: String,
    /// The label of the value axis.
    pub(crate) y_label: String,
    /// Time buckets (line charts) or categories (bar charts).
    pub(crate) x: Vec<String>,
    pub(crate) series: Vec<Series>,
    /// Columns shown in the table only (counts behind a rate), in their own unit.
    pub(crate) table_only: Vec<(Series, Unit)>,
    pub(crate) thresholds: Vec<Threshold>,
    /// The SQL file the numbers come from.
    pub(crate) source: String,
    /// Shown instead of the plot when there is nothing to draw.
    pub(crate) empty_note: String,
}

impl Chart {
    /// Whether any value is present.
    pub(crate) fn is_empty(&self) -> bool {
        self.x.is_empty() || self.series.iter().all(|s| s.values.iter().all(Option::is_none))
    }

    /// The chart as inline SVG (no `xmlns` needed inside HTML; nothing external).
    pub(crate) fn svg(&self) -> String {
        match self.kind {
            Kind::Line => self.line_svg(),
            Kind::Bars => self.bars_svg(),
        }
    }

    fn open_svg(&self, width: f64, height: f64) -> String {
        format!(
            "<svg id=\"chart-{id}\" class=\"chart\" viewBox=\"0 0 {width} {height}\" \
             role=\"img\" aria-labelledby=\"chart-{id}-title\"><title id=\"chart-{id}-title\">{title}</title>",
            id = escape(&self.id),
            title = escape(&self.title),
        )
    }

    fn empty_svg(&self) -> String {
        let mut s = self.open_svg(WIDTH, 90.0);
        let _ = write!(
            s,
            "<rect class=\"frame\" x=\"1\" y=\"1\" width=\"{}\" height=\"88\" rx=\"6\"/>\
             <text class=\"note\" x=\"{}\" y=\"50\" text-anchor=\"middle\">{}</text></svg>",
            WIDTH - 2.0,
            WIDTH / 2.0,
            escape(&self.empty_note)
        );
        s
    }

    /// The largest value drawn (thresholds included), at least a small positive number.
    fn max_value(&self) -> f64 {
        let data = self.series.iter().flat_map(|s| s.values.iter().flatten().copied());
        let marks = self.thresholds.iter().map(|t| t.value * 1.25);
        data.chain(marks).fold(0.0_f64, f64::max)
    }

    fn line_svg(&self) -> String {
        if self.is_empty() {
            return self.empty_svg();
        }
        let (left, right, top, bottom) = (64.0, 40.0, 14.0, 58.0);
        let height = 300.0;
        let plot_w = WIDTH - left - right;
        let plot_h = height - top - bottom;
        let (max, step) = nice_scale(self.max_value(), self.unit);
        let n = self.x.len();
        let x_at = |i: usize| {
            if n == 1 { left + plot_w / 2.0 } else { left + plot_w * i as f64 / (n - 1) as f64 }
        };
        let y_at = |v: f64| top + plot_h * (1.0 - v / max);
        let mut s = self.open_svg(WIDTH, height);
        self.value_grid(&mut s, max, step, |v| (left, left + plot_w, y_at(v)), true);
        // Time labels: at most 8, evenly spaced, always the first and the last.
        let every = n.div_ceil(8).max(1);
        for i in 0..n {
            // The last bucket is labelled too unless that crowds the label before it.
            let last_fits = i == n - 1 && i % every >= every.div_ceil(2);
            if i % every == 0 || last_fits {
                let _ = write!(
                    s,
                    "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    x_at(i),
                    top + plot_h + 18.0,
                    escape(&self.x[i])
                );
            }
        }
        let _ = write!(
            s,
            "<line class=\"axis\" x1=\"{left}\" y1=\"{y:.1}\" x2=\"{x2:.1}\" y2=\"{y:.1}\"/>",
            y = top + plot_h,
            x2 = left + plot_w
        );
        self.axis_labels(&mut s, left, plot_w, top, plot_h, height);
        for (k, t) in self.thresholds.iter().enumerate() {
            let y = y_at(t.value);
            // Labels of nearby thresholds stand apart along the line.
            let tx = left + plot_w - 4.0 - 190.0 * k as f64;
            let _ = write!(
                s,
                "<g class=\"threshold\"><title>{label}: {value}</title>\
                 <line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{x2:.1}\" y2=\"{y:.1}\"/>\
                 <text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text></g>",
                label = escape(&t.label),
                value = self.unit.format(t.value),
                x2 = left + plot_w,
                ty = y - 4.0,
            );
        }
        for (k, series) in self.series.iter().enumerate() {
            let class = format!("s{}", k % PALETTE);
            let mut path = String::new();
            let mut pen_down = false;
            for (i, v) in series.values.iter().enumerate() {
                match v {
                    Some(v) => {
                        let cmd = if pen_down { 'L' } else { 'M' };
                        let _ = write!(path, "{cmd}{:.1} {:.1}", x_at(i), y_at(*v));
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            let _ = write!(s, "<g class=\"series {class}\"><path d=\"{path}\"/>");
            for (i, v) in series.values.iter().enumerate() {
                if let Some(v) = v {
                    let _ = write!(
                        s,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\"><title>{} · {}: {}</title></circle>",
                        x_at(i),
                        y_at(*v),
                        escape(&series.name),
                        escape(&self.x[i]),
                        self.unit.format(*v)
                    );
                }
            }
            s.push_str("</g>");
        }
        s.push_str("</svg>");
        s
    }

    fn bars_svg(&self) -> String {
        if self.is_empty() {
            return self.empty_svg();
        }
        let (left, right, top, bottom) = (210.0, 70.0, 10.0, 52.0);
        let groups = self.series.len().max(1);
        let bar_h = if groups == 1 { 18.0 } else { 12.0 };
        let group_h = bar_h * groups as f64 + 10.0;
        let plot_h = group_h * self.x.len() as f64;
        let height = top + plot_h + bottom;
        let plot_w = WIDTH - left - right;
        let (max, step) = nice_scale(self.max_value(), self.unit);
        let x_at = |v: f64| left + plot_w * v / max;
        let mut s = self.open_svg(WIDTH, height);
        self.value_grid(&mut s, max, step, |v| (top, top + plot_h, x_at(v)), false);
        for (i, category) in self.x.iter().enumerate() {
            let gy = top + group_h * i as f64 + 5.0;
            let _ = write!(
                s,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"><title>{}</title>{}</text>",
                left - 8.0,
                gy + bar_h * groups as f64 / 2.0 + 4.0,
                escape(category),
                escape(&shorten(category, 30))
            );
            for (k, series) in self.series.iter().enumerate() {
                let Some(v) = series.values.get(i).copied().flatten() else { continue };
                let y = gy + bar_h * k as f64;
                let w = (x_at(v) - left).max(if v > 0.0 { 1.0 } else { 0.0 });
                let _ = write!(
                    s,
                    "<g class=\"series s{c}\"><rect x=\"{left}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\">\
                     <title>{cat} · {name}: {val}</title></rect>\
                     <text class=\"value\" x=\"{vx:.1}\" y=\"{vy:.1}\">{val}</text></g>",
                    c = k % PALETTE,
                    h = bar_h - 2.0,
                    cat = escape(category),
                    name = escape(&series.name),
                    val = self.unit.format(v),
                    vx = left + w + 4.0,
                    vy = y + bar_h / 2.0 + 3.0,
                );
            }
        }
        for t in &self.thresholds {
            let x = x_at(t.value);
            let _ = write!(
                s,
                "<g class=\"threshold\"><title>{label}: {value}</title>\
                 <line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{y2:.1}\"/></g>",
                label = escape(&t.label),
                value = self.unit.format(t.value),
                y2 = top + plot_h,
            );
        }
        let _ = write!(
            s,
            "<line class=\"axis\" x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{y2:.1}\"/>",
            y2 = top + plot_h
        );
        let _ = write!(
            s,
            "<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            left + plot_w / 2.0,
            height - 8.0,
            escape(&self.y_label)
        );
        let _ = write!(
            s,
            "<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            height - 8.0,
            escape(&self.x_label)
        );
        s.push_str("</svg>");
        s
    }

    /// Grid lines and tick labels of the value axis; `at(v)` gives (from, to, position).
    fn value_grid(
        &self,
        s: &mut String,
        max: f64,
        step: f64,
        at: impl Fn(f64) -> (f64, f64, f64),
        horizontal: bool,
    ) {
        let ticks = (max / step).round() as usize;
        for i in 0..=ticks {
            let v = step * i as f64;
            let (from, to, p) = at(v);
            let label = self.unit.tick(v, step);
            if horizontal {
                let _ = write!(
                    s,
                    "<line class=\"grid\" x1=\"{from}\" y1=\"{p:.1}\" x2=\"{to:.1}\" y2=\"{p:.1}\"/>\
                     <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
                    from - 6.0,
                    p + 4.0
                );
            } else {
                let _ = write!(
                    s,
                    "<line class=\"grid\" x1=\"{p:.1}\" y1=\"{from}\" x2=\"{p:.1}\" y2=\"{to:.1}\"/>\
                     <text class=\"tick\" x=\"{p:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                    to + 16.0
                );
            }
        }
    }

    fn axis_labels(&self, s: &mut String, left: f64, plot_w: f64, top: f64, plot_h: f64, h: f64) {
        let _ = write!(
            s,
            "<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text class=\"axis-label\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            left + plot_w / 2.0,
            h - 10.0,
            escape(&self.x_label),
            top + plot_h / 2.0,
            escape(&self.y_label)
        );
    }
}

/// The drawing width of every chart (the SVG scales to its box).
const WIDTH: f64 = 720.0;

/// How many series colors the stylesheet defines (`s0`…`s7`).
const PALETTE: usize = 8;

/// An axis maximum at or above `max` and a tick step, both round numbers (1, 2, 2.5 or 5
/// times a power of ten), four to six ticks.
fn nice_scale(max: f64, unit: Unit) -> (f64, f64) {
    let floor = match unit {
        Unit::Share => 0.001,
        Unit::Count | Unit::Amount => 1.0,
    };
    let max = if max.is_finite() && max > floor { max } else { floor };
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let step = if unit == Unit::Count { step.max(1.0).round() } else { step };
    ((max / step).ceil() * step, step)
}

/// `text` cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_scale_rounds_up_to_round_steps() {
        assert_eq!(nice_scale(0.37, Unit::Share), (0.4, 0.1));
        assert_eq!(nice_scale(7.0, Unit::Count), (8.0, 2.0));
        assert_eq!(nice_scale(0.0, Unit::Count), (1.0, 1.0));
        assert_eq!(nice_scale(1234.0, Unit::Amount), (1250.0, 250.0));
    }

    #[test]
    fn units_format_as_people_read_them() {
        assert_eq!(Unit::Share.format(0.003), "0.300%");
        assert_eq!(Unit::Share.format(0.5), "50.0%");
        assert_eq!(Unit::Count.format(1_234_567.0), "1,234,567");
        assert_eq!(Unit::Amount.format(292.5), "292.50");
        assert_eq!(Unit::Share.tick(0.0025, 0.0005), "0.25%");
    }

    #[test]
    fn an_empty_chart_says_why() {
        let chart = Chart {
            id: "x".into(),
            title: "T".into(),
            kind: Kind::Line,
            unit: Unit::Share,
            x_label: "day".into(),
            y_label: "rate".into(),
            x: vec![],
            series: vec![],
            table_only: vec![],
            thresholds: vec![],
            source: String::new(),
            empty_note: "no messages <here>".into(),
        };
        let svg = chart.svg();
        assert!(svg.contains("<title id=\"chart-x-title\">T</title>"));
        assert!(svg.contains("no messages &lt;here&gt;"));
    }
}
