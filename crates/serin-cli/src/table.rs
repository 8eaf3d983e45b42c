//! The readable per-metric table printed by `serin judge` by default.

use std::io::{self, Write};

use serin_core::{CanaryConfig, Classification, JudgeKind, JudgeResult, MetricResult};
use serin_csv::LoadedMetrics;

fn number(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => {
            if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
                format!("{v:.3e}")
            } else {
                format!("{v:.4}")
            }
        }
        _ => "-".to_owned(),
    }
}

fn p_value(value: Option<f64>) -> String {
    match value {
        Some(v) if v < 1e-4 => format!("{v:.1e}"),
        Some(v) => format!("{v:.4}"),
        None => "-".to_owned(),
    }
}

/// A metric's classification, marked critical or muted.
fn result_label(metric: &MetricResult) -> String {
    let mut label = metric.classification.as_str().to_owned();
    if metric.critical {
        label.push_str(" (critical)");
    }
    if metric.muted {
        label.push_str(" (muted)");
    }
    label
}

/// Writes the table, the group scores, the score and the reasons.
pub(crate) fn write(
    out: &mut dyn Write,
    config: &CanaryConfig,
    loaded: &LoadedMetrics,
    result: &JudgeResult,
) -> io::Result<()> {
    let name = if config.name.is_empty() {
        "(unnamed config)"
    } else {
        config.name.as_str()
    };
    write!(out, "canary config: {name}; {} rows", loaded.rows)?;
    if let Some(window) = loaded.window {
        write!(
            out,
            " from {} to {}",
            window.start.to_rfc3339(),
            window.end.to_rfc3339()
        )?;
    }
    writeln!(out)?;
    let settings = &config.judge.judge_configurations;
    if JudgeKind::from_name(&result.judge_name) == Some(JudgeKind::Serin) {
        writeln!(
            out,
            "judge: {}, alpha {} over every look, minSamples {}",
            result.judge_name, settings.alpha, settings.min_samples
        )?;
        writeln!(out)?;
        return write_serin(out, result);
    }
    writeln!(
        out,
        "judge: tolerance {}, confidence {}, interval method {:?}, minSamples {}",
        settings.tolerance, settings.conf_level, settings.interval_method, settings.min_samples
    )?;
    writeln!(out)?;
    let header = [
        "metric",
        "result",
        "n canary/base",
        "canary mean",
        "base mean",
        "ratio",
        "shift",
        "98% interval",
        "p",
    ];
    let mut rows: Vec<[String; 9]> = Vec::new();
    for metric in &result.results {
        let evidence = &metric.evidence;
        let interval = match (evidence.ci_lower, evidence.ci_upper) {
            (Some(lower), Some(upper)) => {
                format!("[{}, {}]", number(Some(lower)), number(Some(upper)))
            }
            _ => "-".to_owned(),
        };
        rows.push([
            metric.name.clone(),
            result_label(metric),
            format!("{}/{}", evidence.canary_count, evidence.baseline_count),
            number(Some(metric.experiment_metadata.stats.mean)),
            number(Some(metric.control_metadata.stats.mean)),
            number(metric.result_metadata.as_ref().and_then(|m| m.ratio)),
            number(evidence.estimate),
            interval,
            p_value(evidence.p_value),
        ]);
    }
    let confidence_header = format!("{}% interval", settings.conf_level * 100.0);
    let mut header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    header[7] = confidence_header;
    write_rows(out, &header, &rows)?;
    write_summary(out, result)
}

/// The Serin judge's table: bins, the median ratio with its confidence sequence, the
/// e-value and the decision.
fn write_serin(out: &mut dyn Write, result: &JudgeResult) -> io::Result<()> {
    let header: Vec<String> = [
        "metric",
        "result",
        "bins",
        "canary mean",
        "base mean",
        "ratio",
        "confidence sequence",
        "e-value",
        "decision",
    ]
    .iter()
    .map(|h| (*h).to_owned())
    .collect();
    let mut rows = Vec::new();
    for metric in &result.results {
        let sequential = metric.evidence.sequential;
        let sequence = match sequential.and_then(|s| s.ratio_lower.zip(s.ratio_upper)) {
            Some((lower, upper)) => format!("[{}, {}]", number(Some(lower)), number(Some(upper))),
            None => "-".to_owned(),
        };
        rows.push([
            metric.name.clone(),
            result_label(metric),
            sequential.map_or_else(|| "-".to_owned(), |s| s.bins.to_string()),
            number(Some(metric.experiment_metadata.stats.mean)),
            number(Some(metric.control_metadata.stats.mean)),
            number(sequential.and_then(|s| s.ratio)),
            sequence,
            number(sequential.map(|s| s.e_value)),
            sequential.map_or("-", |s| s.decision.as_str()).to_owned(),
        ]);
    }
    write_rows(out, &header, &rows)?;
    write_summary(out, result)
}

fn write_rows(out: &mut dyn Write, header: &[String], rows: &[[String; 9]]) -> io::Result<()> {
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].len())
                .chain([header[column].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(header))?;
    for row in rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

/// Group scores, the score, the verdict and its reasons.
fn write_summary(out: &mut dyn Write, result: &JudgeResult) -> io::Result<()> {
    writeln!(out)?;
    for group in &result.group_scores {
        let note = if group.no_data {
            " (no judgeable metric)"
        } else {
            ""
        };
        writeln!(out, "group {}: {:.2}{note}", group.name, group.score)?;
    }
    writeln!(
        out,
        "score: {:.2} (pass >= {}, marginal >= {})",
        result.score.score, result.thresholds.pass, result.thresholds.marginal
    )?;
    writeln!(out, "verdict: {}", result.verdict.as_str().to_uppercase())?;
    for reason in &result.reasons {
        writeln!(out, "  - {reason}")?;
    }
    let undecided = result
        .results
        .iter()
        .filter(|metric| {
            matches!(
                metric.classification,
                Classification::Nodata | Classification::NodataFailMetric
            )
        })
        .count();
    if undecided > 0 {
        writeln!(
            out,
            "  ({undecided} metric(s) could not be judged: see their reasons above)"
        )?;
    }
    Ok(())
}
