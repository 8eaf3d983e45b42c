//! The rollout plan: a YAML file of canary steps in the spirit of Argo Rollouts, parsed and validated once.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::judge::{JudgeTarget, Thresholds};
use crate::router::RouterConfig;
use crate::weight::Weight;

/// A parsed, validated rollout plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    /// A name for logs and the default state file.
    pub name: String,
    /// Where the traffic split is written.
    pub router: RouterConfig,
    /// How verdicts are requested (service, scopes, endpoint, thresholds).
    pub judge: JudgeTarget,
    /// The steps, run in order; after the last one the canary gets 100 %.
    pub steps: Vec<Step>,
    /// An analysis repeated across steps, from `startingStep` on, until the rollout ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_analysis: Option<BackgroundAnalysis>,
    /// Polling period while waiting for a manual promotion or a held step.
    #[serde(default = "default_poll", with = "duration_text")]
    pub poll_interval: Duration,
}

fn default_poll() -> Duration {
    Duration::from_secs(5)
}

/// One canary step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Step {
    /// Send this percentage of traffic to the canary.
    SetWeight(Weight),
    /// Wait a fixed time, or (without a duration) until `serin rollout promote`.
    Pause(Pause),
    /// Judge the canary `count` times, `interval` apart.
    Analysis(Analysis),
}

/// A pause; `duration: None` waits for a manual promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pause {
    /// How long to wait; absent for a manual approval.
    #[serde(
        default,
        with = "duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
}

/// An analysis step: `count` verdicts, `interval` apart, each over the last `lookback`,
/// or, without `lookback`, over the window growing from the step's start (from the
/// rollout's start for the background analysis): the window the Serin judge's
/// false-fail bound holds over, however many verdicts are asked (as Kayenta's
/// standalone analysis without `lookbackMins`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Analysis {
    /// The canary-config name the judge service knows.
    pub config: String,
    /// Time between two verdicts (and before retrying after a source error).
    #[serde(with = "duration_text")]
    pub interval: Duration,
    /// How many verdicts make the step (at least 1).
    #[serde(default = "default_count")]
    pub count: u32,
    /// The metric window each verdict judges: the last `lookback`; absent, from the
    /// step's (background: the rollout's) start to the verdict.
    #[serde(
        default,
        with = "duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub lookback: Option<Duration>,
    /// Failed verdicts tolerated; one more aborts the rollout (Argo's `failureLimit`, default 0).
    #[serde(default)]
    pub failure_limit: u32,
    /// Marginal verdicts tolerated; one more holds the rollout at its weight (Argo's `inconclusiveLimit`, default 0).
    #[serde(default)]
    pub inconclusive_limit: u32,
    /// Source errors in a row tolerated, each retried after `interval`; one more aborts (Argo's default 4).
    #[serde(default = "default_error_limit")]
    pub consecutive_error_limit: u32,
}

fn default_count() -> u32 {
    1
}

fn default_error_limit() -> u32 {
    4
}

/// An analysis that runs across steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackgroundAnalysis {
    /// The first step (0-based index into `steps`) at which the background analysis runs.
    #[serde(default)]
    pub starting_step: usize,
    /// The analysis; `count` is ignored (it repeats until the rollout ends).
    #[serde(flatten)]
    pub analysis: Analysis,
}

/// A plan that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The YAML does not parse or does not fit the plan's shape.
    #[error("{path}: {message}")]
    Syntax {
        /// Where in the document (e.g. `steps[2].analysis.interval`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The plan parses but is not usable.
    #[error("{0}")]
    Invalid(String),
    /// `judge.url` is not an http(s) URL of a judge service.
    #[error("judge.url: {url:?} {problem}")]
    JudgeUrl {
        /// The URL as written.
        url: String,
        /// What is wrong.
        problem: String,
        /// The parse error, when the text is not a URL at all.
        #[source]
        source: Option<url::ParseError>,
    },
}

/// The longest duration a plan may hold (100 years of 365.25 days): anything longer cannot be
/// a real window or wait, and would overflow the time arithmetic of the judge or the clock.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

impl Plan {
    /// Parses and validates a YAML plan.
    pub fn from_yaml(text: &str) -> Result<Self, PlanError> {
        // Through a JSON value, so that one-key maps (`setWeight: 5`, `nginx: {…}`) select enum
        // variants as in JSON instead of YAML tags, and errors carry the path that is wrong.
        let value: serde_json::Value =
            serde_norway::from_str(text).map_err(|error| PlanError::Syntax {
                path: "plan".to_owned(),
                message: error.to_string(),
            })?;
        let plan: Plan = serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            PlanError::Syntax {
                path: if path == "." { "plan".to_owned() } else { path },
                message: error.into_inner().to_string(),
            }
        })?;
        plan.validate()?;
        Ok(plan)
    }

    /// Checks what the shape alone does not (also run on the copy a state file holds).
    pub(crate) fn validate(&self) -> Result<(), PlanError> {
        if self.name.trim().is_empty() {
            return Err(PlanError::Invalid("name: must not be empty".into()));
        }
        if self.steps.is_empty() {
            return Err(PlanError::Invalid(
                "steps: at least one step is needed".into(),
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(PlanError::Invalid("pollInterval: must be positive".into()));
        }
        for (index, step) in self.steps.iter().enumerate() {
            if let Step::Analysis(analysis) = step {
                analysis.validate(&format!("steps[{index}].analysis"))?;
            }
        }
        if let Some(background) = &self.background_analysis {
            background.analysis.validate("backgroundAnalysis")?;
            if background.starting_step >= self.steps.len() {
                return Err(PlanError::Invalid(format!(
                    "backgroundAnalysis.startingStep: {} is past the last step ({})",
                    background.starting_step,
                    self.steps.len() - 1
                )));
            }
        }
        self.router.validate()?;
        self.judge.validate()?;
        Ok(())
    }
}

impl Analysis {
    fn validate(&self, at: &str) -> Result<(), PlanError> {
        if self.config.trim().is_empty() {
            return Err(PlanError::Invalid(format!(
                "{at}.config: must not be empty"
            )));
        }
        if self.interval.is_zero() {
            return Err(PlanError::Invalid(format!(
                "{at}.interval: must be positive"
            )));
        }
        if self.lookback.is_some_and(|lookback| lookback.is_zero()) {
            return Err(PlanError::Invalid(format!(
                "{at}.lookback: must be positive"
            )));
        }
        if self.count == 0 {
            return Err(PlanError::Invalid(format!(
                "{at}.count: must be at least 1"
            )));
        }
        Ok(())
    }
}

impl Thresholds {
    fn validate(&self) -> Result<(), PlanError> {
        let in_range = |value: f64| (0.0..=100.0).contains(&value);
        if !in_range(self.pass) || !in_range(self.marginal) || self.marginal > self.pass {
            return Err(PlanError::Invalid(format!(
                "judge.thresholds: need 0 <= marginal <= pass <= 100, found pass {} and marginal {}",
                self.pass, self.marginal
            )));
        }
        Ok(())
    }
}

impl JudgeTarget {
    fn validate(&self) -> Result<(), PlanError> {
        check_judge_url(&self.url)?;
        if let Some(thresholds) = &self.thresholds {
            thresholds.validate()?;
        }
        Ok(())
    }
}

/// Only an absolute `http` or `https` URL with a host, and nothing the client's `/judge`
/// suffix would break (query, fragment) or that belongs elsewhere (credentials: `tokenEnv`).
fn check_judge_url(text: &str) -> Result<(), PlanError> {
    let problem = |problem: &str| PlanError::JudgeUrl {
        url: text.to_owned(),
        problem: problem.to_owned(),
        source: None,
    };
    let url = url::Url::parse(text).map_err(|source| PlanError::JudgeUrl {
        url: text.to_owned(),
        problem: "is not a URL".to_owned(),
        source: Some(source),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(problem(&format!(
            "is not an http(s) URL (scheme {:?})",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(problem("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(problem(
            "must not hold credentials (use tokenEnv for a bearer token)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(problem(
            "must not have a query or fragment (`/judge` is appended to it)",
        ));
    }
    Ok(())
}

/// Durations written as humantime text (`30s`, `5m`, `1h 30m`).
pub(crate) mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse::<D::Error>(&text)
    }

    /// A humantime duration of at most [`MAX_DURATION`](super::MAX_DURATION).
    fn parse<E: serde::de::Error>(text: &str) -> Result<Duration, E> {
        let duration = humantime::parse_duration(text)
            .map_err(|error| E::custom(format!("bad duration {text:?}: {error}")))?;
        if duration > super::MAX_DURATION {
            return Err(E::custom(format!(
                "duration {text:?} is longer than 100 years"
            )));
        }
        Ok(duration)
    }

    pub(crate) mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub(crate) fn serialize<S: Serializer>(
            value: &Option<Duration>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(duration) => super::serialize(duration, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Duration>, D::Error> {
            match Option::<String>::deserialize(deserializer)? {
                None => Ok(None),
                Some(text) => super::parse::<D::Error>(&text).map(Some),
            }
        }
    }
}

#[cfg(test)]
mod tests;
