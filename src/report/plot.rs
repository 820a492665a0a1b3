//! `--plot FILE.svg`: what evaluators would rather look at than read — for every synthetic
//! control, the treated outcome against its synthetic counterpart over time, with the adoption
//! period marked; for DiD event studies, the effect by periods since adoption with its interval.
//! Plain SVG, no dependencies; numbers only from the report (aggregates).

use super::{Report, Status};
use std::fmt::Write;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 260.0;
const MARGIN: f64 = 48.0;

struct Series<'a> {
    label: &'a str,
    colour: &'a str,
    values: Vec<f64>,
}

/// One chart: x is the index of `labels`; `marker` draws a vertical line at that index; `band`
/// shades lower/upper around the first series.
fn chart(
    out: &mut String,
    top: f64,
    title: &str,
    labels: &[String],
    series: &[Series],
    marker: Option<usize>,
    band: Option<(&[f64], &[f64])>,
) {
    let finite = |v: &&f64| v.is_finite();
    let all: Vec<f64> = series
        .iter()
        .flat_map(|s| s.values.iter())
        .chain(band.iter().flat_map(|(l, u)| l.iter().chain(u.iter())))
        .filter(finite)
        .copied()
        .collect();
    if all.is_empty() || labels.len() < 2 {
        return;
    }
    let (mut low, mut high) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if high - low < 1e-12 {
        low -= 1.0;
        high += 1.0;
    }
    let x = |i: usize| MARGIN + (WIDTH - 2.0 * MARGIN) * i as f64 / (labels.len() - 1) as f64;
    let y = |v: f64| top + 24.0 + (HEIGHT - 60.0) * (high - v) / (high - low);
    let _ = writeln!(
        out,
        r#"<text x="{MARGIN}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
        top + 16.0,
        escape(title)
    );
    let _ = writeln!(
        out,
        r##"<rect x="{MARGIN}" y="{}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
        top + 24.0,
        WIDTH - 2.0 * MARGIN,
        HEIGHT - 60.0
    );
    for (v, anchor) in [(high, "end"), (low, "end")] {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="10" text-anchor="{anchor}">{}</text>"#,
            MARGIN - 4.0,
            y(v) + 4.0,
            short(v)
        );
    }
    let last = labels.len() - 1;
    for i in [0, last / 2, last] {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>"#,
            x(i),
            top + HEIGHT - 22.0,
            escape(&labels[i])
        );
    }
    if low < 0.0 && high > 0.0 {
        let _ = writeln!(
            out,
            r##"<line x1="{MARGIN}" x2="{0}" y1="{1}" y2="{1}" stroke="#bbb" stroke-dasharray="2,2"/>"##,
            WIDTH - MARGIN,
            y(0.0)
        );
    }
    if let Some(m) = marker {
        let _ = writeln!(
            out,
            r##"<line x1="{0}" x2="{0}" y1="{1}" y2="{2}" stroke="#555" stroke-dasharray="4,3"/>"##,
            x(m),
            top + 24.0,
            top + HEIGHT - 36.0
        );
    }
    if let Some((lower, upper)) = band {
        let mut points = String::new();
        for (i, v) in lower.iter().enumerate().filter(|(_, v)| v.is_finite()) {
            let _ = write!(points, "{:.1},{:.1} ", x(i), y(*v));
        }
        for (i, v) in upper
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, v)| v.is_finite())
        {
            let _ = write!(points, "{:.1},{:.1} ", x(i), y(*v));
        }
        let _ = writeln!(
            out,
            r##"<polygon points="{points}" fill="#1f77b4" fill-opacity="0.15" stroke="none"/>"##
        );
    }
    for (k, s) in series.iter().enumerate() {
        let mut points = String::new();
        for (i, v) in s.values.iter().enumerate().filter(|(_, v)| v.is_finite()) {
            let _ = write!(points, "{:.1},{:.1} ", x(i), y(*v));
        }
        let _ = writeln!(
            out,
            r#"<polyline points="{points}" fill="none" stroke="{}" stroke-width="2"/>"#,
            s.colour
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="11" fill="{}">{}</text>"#,
            WIDTH - MARGIN - 150.0,
            top + 40.0 + 14.0 * k as f64,
            s.colour,
            escape(s.label)
        );
    }
}

fn short(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SVG document, or `None` when the report has nothing to plot.
pub fn svg(report: &Report) -> Option<String> {
    let mut body = String::new();
    let mut top = 0.0;
    for s in &report.synthetic_controls {
        let labels: Vec<String> = s.path.iter().map(|p| p.period.clone()).collect();
        let start = report
            .results
            .iter()
            .filter(|r| r.evaluation == s.evaluation && r.outcome == s.outcome)
            .filter_map(|r| r.target.rsplit_once("period:").map(|(_, p)| p.to_string()))
            .find_map(|p| labels.iter().position(|l| *l == p));
        chart(
            &mut body,
            top,
            &format!(
                "{}: {} — {} and its synthetic control ({})",
                s.evaluation, s.outcome, s.treated, s.method
            ),
            &labels,
            &[
                Series {
                    label: &s.treated,
                    colour: "#d62728",
                    values: s.path.iter().map(|p| p.treated).collect(),
                },
                Series {
                    label: "synthetic",
                    colour: "#1f77b4",
                    values: s.path.iter().map(|p| p.synthetic).collect(),
                },
            ],
            start,
            None,
        );
        top += HEIGHT;
    }
    // Event studies: rows `event:e` of each evaluation and outcome.
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for r in &report.results {
        if r.target.starts_with("event:")
            && r.target != "event:overall"
            && !seen.contains(&(r.evaluation.as_str(), r.outcome.as_str()))
        {
            seen.push((&r.evaluation, &r.outcome));
        }
    }
    for (evaluation, outcome) in seen {
        let rows: Vec<_> = report
            .results
            .iter()
            .filter(|r| {
                r.evaluation == evaluation && r.outcome == outcome && r.status == Status::Ok
            })
            .filter(|r| r.target.starts_with("event:") && r.target != "event:overall")
            .collect();
        let labels: Vec<String> = rows
            .iter()
            .map(|r| r.target["event:".len()..].to_string())
            .collect();
        let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        let lower: Vec<f64> = rows.iter().map(|r| nan(r.ci_lower)).collect();
        let upper: Vec<f64> = rows.iter().map(|r| nan(r.ci_upper)).collect();
        chart(
            &mut body,
            top,
            &format!("{evaluation}: {outcome} — effect by periods since adoption"),
            &labels,
            &[Series {
                label: "effect",
                colour: "#1f77b4",
                values: rows.iter().map(|r| nan(r.estimate)).collect(),
            }],
            labels.iter().position(|l| l == "0"),
            Some((&lower, &upper)),
        );
        top += HEIGHT;
    }
    if top == 0.0 {
        return None;
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{top}\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n"
    ))
}
