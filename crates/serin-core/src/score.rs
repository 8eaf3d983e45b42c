//! Scoring: group scores, group weights, critical and no-data overrides, thresholds, as Kayenta's NetflixACAJudge.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::classify::Classification;
use crate::config::ScoreThresholds;

/// The verdict of a whole judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Score at or above the pass threshold.
    Pass,
    /// Score at or above the marginal threshold.
    Marginal,
    /// Anything else, including every "cannot decide".
    Fail,
}

impl Verdict {
    /// Kayenta's label (`Pass`, `Marginal`, `Fail`).
    pub fn kayenta_label(self) -> &'static str {
        match self {
            Self::Pass => "Pass",
            Self::Marginal => "Marginal",
            Self::Fail => "Fail",
        }
    }

    /// Serin's label (`pass`, `marginal`, `fail`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Marginal => "marginal",
            Self::Fail => "fail",
        }
    }
}

/// What the scorer needs of one metric result.
#[derive(Debug, Clone, Copy)]
pub struct ScoredMetric<'a> {
    /// Its classification.
    pub classification: Classification,
    /// Its reason, if any.
    pub reason: Option<&'a str>,
    /// Groups it counts in.
    pub groups: &'a [String],
    /// Whether it failed critically.
    pub critical: bool,
    /// Muted metrics are reported but not scored.
    pub muted: bool,
    /// Serin: the metric could not be judged under Serin's rules (`minSamples` above
    /// 0 and a `Nodata` or `Error` result); a judgement with one never passes.
    pub undecided: bool,
}

/// One group's score.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupScore {
    /// Group name.
    pub name: String,
    /// 100 · passes / (passes + highs + lows + no-data failures); 0 when none counted.
    pub score: f64,
    /// True when no metric of the group could be counted (all Nodata or Error).
    pub no_data: bool,
}

/// The summary of a judgement.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// 0 to 100, rounded half-up to 2 decimals.
    pub score: f64,
    /// The verdict from the thresholds.
    pub verdict: Verdict,
    /// Why the score was overridden, if it was.
    pub reason: Option<String>,
    /// Group scores in order of first appearance.
    pub groups: Vec<GroupScore>,
}

/// Serin's reason, followed by the metric's own, when a metric that could not be
/// judged keeps a passing score at marginal.
pub const UNDECIDED_REASON: &str = "Cannot pass while a metric could not be judged";

/// Kayenta's reason when half or more of the metrics had no data.
pub const NODATA_REASON: &str = "Canary Failed: 50% or more metrics returned NODATA";

/// Scores classified metrics exactly as Kayenta does:
/// - muted metrics are left out;
/// - a group scores `100 · Pass / (Pass + High + Low + NodataFailMetric)`; Nodata and
///   Error do not count; a group with nothing countable reports 0 but contributes
///   100 to the summary (Kayenta's rule; the no-data override below is what catches
///   missing data);
/// - weighted groups use their weight, unweighted groups share `100 - Σweights`;
/// - any critical failure scores 0 ("Canary Failed: " + its reason);
/// - 50 % or more Nodata (or, in Serin, Error) results score 0;
/// - the summary is rounded half-up to 2 decimals on its shortest decimal form.
///
/// Deliberate deviations: both overrides give a `Fail` verdict whatever the
/// thresholds (Kayenta would pass them with a pass threshold of 0), and a passing
/// score with an undecided metric is `Marginal` (Kayenta would pass what it could
/// not see; with `minSamples: 0` no metric is undecided, and Kayenta is exact).
pub fn score(
    metrics: &[ScoredMetric<'_>],
    group_weights: &BTreeMap<String, f64>,
    thresholds: ScoreThresholds,
) -> Score {
    let scored: Vec<&ScoredMetric<'_>> = metrics.iter().filter(|metric| !metric.muted).collect();

    let mut groups: Vec<(String, usize, usize)> = Vec::new(); // (name, passes, counted)
    for metric in &scored {
        for group in metric.groups {
            let index = match groups.iter().position(|(name, _, _)| name == group) {
                Some(index) => index,
                None => {
                    groups.push((group.clone(), 0, 0));
                    groups.len() - 1
                }
            };
            let counted = matches!(
                metric.classification,
                Classification::Pass
                    | Classification::High
                    | Classification::Low
                    | Classification::NodataFailMetric
            );
            if counted {
                groups[index].2 += 1;
                if metric.classification == Classification::Pass {
                    groups[index].1 += 1;
                }
            }
        }
    }
    let groups: Vec<GroupScore> = groups
        .into_iter()
        .map(|(name, passes, counted)| GroupScore {
            name,
            score: if counted == 0 {
                0.0
            } else {
                100.0 * passes as f64 / counted as f64
            },
            no_data: counted == 0,
        })
        .collect();

    let verdict_for = |score: f64| {
        if score >= thresholds.pass {
            Verdict::Pass
        } else if score >= thresholds.marginal {
            Verdict::Marginal
        } else {
            Verdict::Fail
        }
    };
    // Kayenta maps an overridden score of 0 through the thresholds, so a pass
    // threshold of 0 would pass a critical failure; Serin always fails it.
    let overridden = |reason: String, groups: Vec<GroupScore>| Score {
        score: 0.0,
        verdict: Verdict::Fail,
        reason: Some(reason),
        groups,
    };

    if let Some(critical) = scored
        .iter()
        .find(|metric| metric.critical && metric.classification != Classification::Pass)
    {
        return overridden(
            format!("Canary Failed: {}", critical.reason.unwrap_or("")),
            groups,
        );
    }
    // Kayenta counts only Nodata here; Serin counts classification errors too, so
    // that metrics which could not be judged never add up to a pass.
    let nodata = scored
        .iter()
        .filter(|metric| {
            matches!(
                metric.classification,
                Classification::Nodata | Classification::Error
            )
        })
        .count();
    if !scored.is_empty() && 100.0 * nodata as f64 / scored.len() as f64 >= 50.0 {
        return overridden(NODATA_REASON.to_owned(), groups);
    }

    let weight_total: f64 = group_weights.values().sum();
    let unweighted = groups
        .iter()
        .filter(|group| !group_weights.contains_key(&group.name))
        .count();
    let share = if unweighted == 0 {
        0.0
    } else {
        (100.0 - weight_total) / unweighted as f64
    };
    let summary: f64 = groups
        .iter()
        .map(|group| {
            let value = if group.no_data { 100.0 } else { group.score };
            value * (group_weights.get(&group.name).copied().unwrap_or(share) / 100.0)
        })
        .sum();
    let summary = round_half_up_2(summary);
    let verdict = verdict_for(summary);
    if verdict == Verdict::Pass
        && let Some(undecided) = scored.iter().find(|metric| metric.undecided)
    {
        return Score {
            score: summary,
            verdict: Verdict::Marginal,
            reason: Some(format!(
                "{UNDECIDED_REASON}: {}",
                undecided.reason.unwrap_or("no reason given")
            )),
            groups,
        };
    }
    Score {
        score: summary,
        verdict,
        reason: None,
        groups,
    }
}

/// Rounds half away from zero at 2 decimals, on the shortest decimal text of the
/// double (as Java's `BigDecimal(Double.toString(x)).setScale(2, HALF_UP)`), so that
/// 1.005 rounds to 1.01 as Kayenta does, not to 1.0 as binary rounding would.
pub fn round_half_up_2(value: f64) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let text = format!("{}", value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let mut digits: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes().chain(std::iter::repeat(b'0')).take(2))
        .collect();
    let round_up = fraction
        .as_bytes()
        .get(2)
        .is_some_and(|&digit| digit >= b'5');
    if round_up {
        let mut index = digits.len();
        loop {
            if index == 0 {
                digits.insert(0, b'1');
                break;
            }
            index -= 1;
            if digits[index] == b'9' {
                digits[index] = b'0';
            } else {
                digits[index] += 1;
                break;
            }
        }
    }
    let split = digits.len() - 2;
    let rounded = format!(
        "{}.{}",
        std::str::from_utf8(&digits[..split]).unwrap_or("0"),
        std::str::from_utf8(&digits[split..]).unwrap_or("00")
    );
    let magnitude: f64 = rounded.parse().unwrap_or(f64::NAN);
    magnitude.copysign(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_up_on_the_decimal_text() {
        let cases = [
            (66.666_666_666_666_67, 66.67),
            (1.005, 1.01),
            (99.995, 100.0),
            (33.333_333_333_333_336, 33.33),
            (0.0, 0.0),
            (12.0, 12.0),
            (-2.345, -2.35),
            (1e-7, 0.0),
        ];
        for (value, want) in cases {
            assert_eq!(round_half_up_2(value), want, "{value}");
        }
    }
}
