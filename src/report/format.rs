//! Renders a `Report` as JSON, CSV, a terminal table or Markdown.

use super::{Report, ResultRow, Status};
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
    Markdown,
}

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(report).expect("reports serialise");
            text.push('\n');
            text
        }
        Format::Csv => csv(report),
        Format::Table => table(report),
        Format::Markdown => markdown(report),
    }
}

const CSV_COLUMNS: [&str; 18] = [
    "evaluation",
    "intervention",
    "outcome",
    "method",
    "estimand",
    "target",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
    "ci_level",
    "p_value",
    "n_treated",
    "n_control",
    "inference",
    "status",
    "n_discarded",
    "n_unmatched",
];

fn number(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

fn count(v: Option<usize>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Suppressed => "suppressed",
    }
}

fn csv(report: &Report) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(CSV_COLUMNS)
        .expect("writing to memory cannot fail");
    for r in &report.results {
        writer
            .write_record([
                r.evaluation.clone(),
                r.intervention.clone(),
                r.outcome.clone(),
                r.method.clone(),
                r.estimand.name().to_string(),
                r.target.clone(),
                number(r.estimate),
                number(r.std_error),
                number(r.ci_lower),
                number(r.ci_upper),
                format!("{}", r.ci_level),
                number(r.p_value),
                count(r.n_treated),
                count(r.n_control),
                r.inference.clone(),
                status(r.status).to_string(),
                count(r.n_discarded),
                count(r.n_unmatched),
            ])
            .expect("writing to memory cannot fail");
    }
    String::from_utf8(writer.into_inner().expect("flushing memory cannot fail"))
        .expect("CSV of UTF-8 strings is UTF-8")
}

/// Human rounding: 4 significant digits for effects, 3 decimals for p-values.
fn short(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(x) if x == 0.0 => "0".into(),
        Some(x) => {
            let magnitude = x.abs().log10().floor() as i32;
            let decimals = (3 - magnitude).clamp(0, 6) as usize;
            format!("{x:.decimals$}")
        }
    }
}

fn p_value(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(p) if p < 0.001 => "<0.001".into(),
        Some(p) => format!("{p:.3}"),
    }
}

fn cells(r: &ResultRow) -> Vec<String> {
    vec![
        r.evaluation.clone(),
        r.intervention.clone(),
        r.outcome.clone(),
        r.target.clone(),
        r.estimand.name().to_uppercase(),
        short(r.estimate),
        short(r.std_error),
        format!("[{}, {}]", short(r.ci_lower), short(r.ci_upper)),
        p_value(r.p_value),
        count(r.n_treated),
        count(r.n_control),
        status(r.status).into(),
    ]
}

const HEADERS: [&str; 12] = [
    "evaluation",
    "intervention",
    "outcome",
    "target",
    "estimand",
    "estimate",
    "std. error",
    "CI",
    "p",
    "treated",
    "control",
    "status",
];

fn table(report: &Report) -> String {
    let rows: Vec<Vec<String>> = report.results.iter().map(cells).collect();
    let widths: Vec<usize> = (0..HEADERS.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([HEADERS[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(HEADERS.iter().map(|h| h.to_string()).collect(), &mut out);
    line(widths.iter().map(|w| "-".repeat(*w)).collect(), &mut out);
    for r in rows {
        line(r, &mut out);
    }
    if let Some(first) = report.results.first() {
        let _ = writeln!(out, "\n{:.0}% confidence intervals", first.ci_level * 100.0);
        // Each distinct method of inference once, with the evaluations that use it.
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for r in &report.results {
            if !r.inference.is_empty()
                && !seen
                    .iter()
                    .any(|(e, i)| *e == r.evaluation && *i == r.inference)
            {
                seen.push((&r.evaluation, &r.inference));
            }
        }
        for (evaluation, inference) in seen.iter().take(12) {
            let _ = writeln!(out, "inference ({evaluation}): {inference}");
        }
    }
    for s in &report.synthetic_controls {
        let weights: Vec<String> = s
            .donor_weights
            .iter()
            .take(8)
            .map(|w| format!("{} {:.3}", w.name, w.weight))
            .collect();
        let more = s.donor_weights.len().saturating_sub(8);
        let _ = writeln!(
            out,
            "synthetic {} ({}, {}): {}{}; pre-period RMSPE {}{}",
            s.treated,
            s.evaluation,
            s.method,
            weights.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
            short(Some(s.pre_rmspe)),
            if s.converged {
                ""
            } else {
                " (solver at its iteration limit)"
            }
        );
    }
    for p in &report.placebo_tests {
        let _ = writeln!(
            out,
            "placebo in space ({}, {}): post/pre RMSPE ratio {:.2}, rank {} of {}, p = {:.3}",
            p.evaluation, p.treated, p.ratio, p.rank, p.n_compared, p.p_value
        );
    }
    for b in &report.balance {
        let worst = b
            .covariates
            .iter()
            .map(|c| c.smd_after.abs())
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        if b.status == Status::Ok {
            let _ = writeln!(
                out,
                "balance {} / {}: matched {} treated, {} control; {} discarded, {} unmatched; max |SMD| after matching {:.3}",
                b.evaluation,
                b.intervention,
                count(b.n_treated_matched),
                count(b.n_control_matched),
                count(b.n_discarded),
                count(b.n_unmatched),
                worst
            );
        }
    }
    out
}

fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", HEADERS.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        HEADERS.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in &report.results {
        let _ = writeln!(out, "| {} |", cells(r).join(" | "));
    }
    for b in report.balance.iter().filter(|b| b.status == Status::Ok) {
        let _ = writeln!(
            out,
            "\n**Balance: {} / {}** (standardised mean differences, variance ratios, max eCDF difference)\n",
            b.evaluation, b.intervention
        );
        let _ = writeln!(
            out,
            "| covariate | SMD before | SMD after | var. ratio before | var. ratio after | eCDF max after |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for c in &b.covariates {
            let _ = writeln!(
                out,
                "| {} | {:.3} | {:.3} | {:.2} | {:.2} | {:.3} |",
                c.covariate,
                c.smd_before,
                c.smd_after,
                c.variance_ratio_before,
                c.variance_ratio_after,
                c.ecdf_max_after
            );
        }
    }
    for s in &report.synthetic_controls {
        let _ = writeln!(
            out,
            "\n**Synthetic {} ({}, {})**: pre-period RMSPE {}\n\n| donor | weight |\n|---|---|",
            s.treated,
            s.evaluation,
            s.method,
            short(Some(s.pre_rmspe))
        );
        for w in &s.donor_weights {
            let _ = writeln!(out, "| {} | {:.4} |", w.name, w.weight);
        }
        if !s.predictors.is_empty() {
            let _ = writeln!(
                out,
                "\n| predictor | V | treated | synthetic | donor mean |\n|---|---|---|---|---|"
            );
            for p in &s.predictors {
                let _ = writeln!(
                    out,
                    "| {} | {:.4} | {} | {} | {} |",
                    p.predictor,
                    p.v,
                    short(Some(p.treated)),
                    short(Some(p.synthetic)),
                    short(Some(p.donor_mean))
                );
            }
        }
    }
    for p in &report.placebo_tests {
        let _ = writeln!(
            out,
            "\n**Placebo in space ({}, {})**: post/pre RMSPE ratio {:.2}, rank {} of {}, p = {:.3}",
            p.evaluation, p.treated, p.ratio, p.rank, p.n_compared, p.p_value
        );
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\n**Warnings**\n");
        for w in &report.warnings {
            let _ = writeln!(out, "- {w}");
        }
    }
    out
}
