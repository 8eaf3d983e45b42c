//! The service's configuration: a TOML file, then `SERIN_*` environment overrides.
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! configs_dir = "/etc/serin/configs"   # Kayenta canary configs, one NAME.json each
//! tokens = ["s3cret"]                  # bearer tokens; none = no auth
//! body_limit_bytes = 4194304
//! concurrency_limit = 64               # judgements computing at once (CPU); more wait
//!                                      # their turn; fetching from Prometheus holds no slot
//! judge_timeout = "30s"                # a whole request: body, fetch, waiting, judging
//!                                      # (Kayenta executions: from their start)
//! header_read_timeout = "10s"          # a client must send its request head within this
//!                                      # (also closes connections idle this long)
//! default_prometheus = "default"
//!
//! [[prometheus]]
//! name = "default"
//! url = "http://prometheus:9090"
//! timeout = "10s"
//! retries = 2
//! backoff = "200ms"
//! max_concurrent_queries = 8
//! auth = { type = "bearer", token = "..." }   # or { type = "basic", username = "...", password = "..." }
//!
//! [flagger]
//! marginal = "fail"                    # or "pass"
//!
//! [kayenta]
//! max_executions = 1000
//! retention = "1h"
//! ```
//!
//! Environment overrides: `SERIN_LISTEN`, `SERIN_CONFIGS_DIR`, `SERIN_TOKENS`
//! (comma-separated), `SERIN_BODY_LIMIT_BYTES`, `SERIN_CONCURRENCY_LIMIT`,
//! `SERIN_JUDGE_TIMEOUT`, `SERIN_HEADER_READ_TIMEOUT`, and `SERIN_PROMETHEUS_URL` (the
//! URL of the endpoint named `default`, created if absent).
//!
//! A `[[prometheus]]` URL may hold credentials (`http://user:password@host/?token=…`):
//! answers name the endpoint by its `name` only, and logs show the URL without user
//! info or query string.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serin_sources::{Auth, EndpointConfig, parse_duration, redact_url};
use thiserror::Error;

/// Why the settings are unusable.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is invalid.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An environment override is invalid.
    #[error("environment variable {name}: {message}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The settings contradict each other.
    #[error("{0}")]
    Invalid(String),
}

/// How Flagger's webhook answers a marginal verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MarginalAs {
    /// A failed check (the default: no silent pass).
    #[default]
    Fail,
    /// A passed check.
    Pass,
}

/// Flagger webhook settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlaggerSettings {
    /// Marginal verdicts answer as this.
    #[serde(default)]
    pub marginal: MarginalAs,
}

/// Kayenta-compatible execution store settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KayentaSettings {
    /// Executions kept; when full, the oldest finished one is dropped.
    #[serde(default = "default_max_executions")]
    pub max_executions: usize,
    /// How long a finished execution stays readable.
    #[serde(default = "default_retention", deserialize_with = "duration")]
    pub retention: Duration,
}

impl Default for KayentaSettings {
    fn default() -> Self {
        Self {
            max_executions: default_max_executions(),
            retention: default_retention(),
        }
    }
}

/// One `[[prometheus]]` table.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusSettings {
    /// Name requests use.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Per-request timeout.
    #[serde(default = "default_query_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Retries on 5xx, timeouts and connection failures.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First retry delay, doubled each time.
    #[serde(default = "default_backoff", deserialize_with = "duration")]
    pub backoff: Duration,
    /// Queries in flight at once against this endpoint.
    #[serde(default = "default_max_queries")]
    pub max_concurrent_queries: usize,
    /// Credentials.
    #[serde(default)]
    pub auth: Option<Auth>,
}

impl std::fmt::Debug for PrometheusSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry credentials: only its redacted form is shown.
        f.debug_struct("PrometheusSettings")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("max_concurrent_queries", &self.max_concurrent_queries)
            .field("auth", &self.auth)
            .finish()
    }
}

impl PrometheusSettings {
    /// The source crate's endpoint configuration.
    pub fn endpoint(&self) -> EndpointConfig {
        EndpointConfig {
            name: self.name.clone(),
            url: self.url.clone(),
            timeout: self.timeout,
            retries: self.retries,
            backoff: self.backoff,
            max_concurrent_queries: self.max_concurrent_queries,
            auth: self.auth.clone(),
        }
    }
}

/// The whole service configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Listen address.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Directory of Kayenta canary configs (`NAME.json`).
    #[serde(default)]
    pub configs_dir: Option<PathBuf>,
    /// Accepted bearer tokens; empty means no authentication.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
    /// Judgements computing at once (the CPU part; fetching holds no slot).
    #[serde(default = "default_concurrency")]
    pub concurrency_limit: usize,
    /// Time limit of one request, from its start: reading the body, fetching,
    /// waiting for a slot and judging (a Kayenta execution: from its start).
    #[serde(default = "default_judge_timeout", deserialize_with = "duration")]
    pub judge_timeout: Duration,
    /// Time a client has to send a request's head (and the longest a connection
    /// may sit idle between requests).
    #[serde(default = "default_header_read_timeout", deserialize_with = "duration")]
    pub header_read_timeout: Duration,
    /// Endpoint used when a request names none (default: the first).
    #[serde(default)]
    pub default_prometheus: Option<String>,
    /// Prometheus endpoints.
    #[serde(default)]
    pub prometheus: Vec<PrometheusSettings>,
    /// Flagger webhook settings.
    #[serde(default)]
    pub flagger: FlaggerSettings,
    /// Kayenta-compatible API settings.
    #[serde(default)]
    pub kayenta: KayentaSettings,
}

impl Default for Settings {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

impl Settings {
    /// Parses TOML text (`origin` names it in errors).
    pub fn from_toml(text: &str, origin: &std::path::Path) -> Result<Self, SettingsError> {
        toml::from_str(text).map_err(|e| SettingsError::Parse {
            path: origin.to_owned(),
            message: e.to_string().trim().to_owned(),
        })
    }

    /// Reads a TOML file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Applies `SERIN_*` overrides from `vars` (the process environment in the
    /// binary; a list in tests), then validates.
    pub fn with_env(
        mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        for (name, value) in vars {
            let invalid = |message: String| SettingsError::Env {
                name: name.clone(),
                message,
            };
            match name.as_str() {
                "SERIN_LISTEN" => {
                    self.listen = value.parse().map_err(|e| invalid(format!("{e}")))?
                }
                "SERIN_CONFIGS_DIR" => self.configs_dir = Some(PathBuf::from(value)),
                "SERIN_TOKENS" => {
                    self.tokens = value
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                "SERIN_BODY_LIMIT_BYTES" => {
                    self.body_limit_bytes = value.parse().map_err(|e| invalid(format!("{e}")))?
                }
                "SERIN_CONCURRENCY_LIMIT" => {
                    self.concurrency_limit = value.parse().map_err(|e| invalid(format!("{e}")))?
                }
                "SERIN_JUDGE_TIMEOUT" => {
                    self.judge_timeout =
                        parse_duration(&value).map_err(|e| invalid(e.to_string()))?
                }
                "SERIN_HEADER_READ_TIMEOUT" => {
                    self.header_read_timeout =
                        parse_duration(&value).map_err(|e| invalid(e.to_string()))?
                }
                "SERIN_PROMETHEUS_URL" => {
                    match self.prometheus.iter_mut().find(|p| p.name == "default") {
                        Some(endpoint) => endpoint.url = value,
                        None => self.prometheus.push(PrometheusSettings {
                            name: "default".into(),
                            url: value,
                            timeout: default_query_timeout(),
                            retries: default_retries(),
                            backoff: default_backoff(),
                            max_concurrent_queries: default_max_queries(),
                            auth: None,
                        }),
                    }
                }
                _ => {}
            }
        }
        self.validate()?;
        Ok(self)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |m: String| Err(SettingsError::Invalid(m));
        if self.concurrency_limit == 0 {
            return invalid("concurrency_limit must be at least 1".into());
        }
        if self.judge_timeout.is_zero() {
            return invalid("judge_timeout must be positive".into());
        }
        if self.header_read_timeout.is_zero() {
            return invalid("header_read_timeout must be positive".into());
        }
        if self.body_limit_bytes < 1024 {
            return invalid("body_limit_bytes must be at least 1024".into());
        }
        if self.kayenta.max_executions == 0 {
            return invalid("kayenta.max_executions must be at least 1".into());
        }
        let mut names: Vec<&str> = self.prometheus.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return invalid(format!(
                "prometheus endpoint {:?} is defined twice",
                pair[0]
            ));
        }
        if let Some(default) = &self.default_prometheus
            && !names.contains(&default.as_str())
        {
            return invalid(format!(
                "default_prometheus {default:?} names no [[prometheus]] endpoint"
            ));
        }
        Ok(())
    }

    /// The endpoint a request that names none uses.
    pub fn default_endpoint(&self) -> Option<&str> {
        self.default_prometheus
            .as_deref()
            .or_else(|| self.prometheus.first().map(|p| p.name.as_str()))
    }
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_body_limit() -> usize {
    4 * 1024 * 1024
}
fn default_concurrency() -> usize {
    64
}
fn default_judge_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_header_read_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_query_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_retries() -> u32 {
    2
}
fn default_backoff() -> Duration {
    Duration::from_millis(200)
}
fn default_max_queries() -> usize {
    8
}
fn default_max_executions() -> usize {
    1000
}
fn default_retention() -> Duration {
    Duration::from_secs(3600)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn file_then_environment() {
        let text = r#"
            listen = "0.0.0.0:9000"
            tokens = ["a"]
            [[prometheus]]
            name = "eu"
            url = "http://prom-eu:9090"
            timeout = "3s"
            auth = { type = "basic", username = "u", password = "p" }
            [flagger]
            marginal = "pass"
        "#;
        let settings = Settings::from_toml(text, Path::new("t.toml")).unwrap();
        assert_eq!(settings.prometheus[0].timeout, Duration::from_secs(3));
        assert_eq!(settings.flagger.marginal, MarginalAs::Pass);
        assert_eq!(settings.default_endpoint(), Some("eu"));
        let env = [
            ("SERIN_TOKENS", "x, y"),
            ("SERIN_PROMETHEUS_URL", "http://127.0.0.1:9090"),
            ("SERIN_JUDGE_TIMEOUT", "5s"),
            ("SERIN_HEADER_READ_TIMEOUT", "3s"),
            ("HOME", "/root"),
        ];
        let settings = settings
            .with_env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .unwrap();
        assert_eq!(settings.tokens, vec!["x", "y"]);
        assert_eq!(settings.prometheus[1].name, "default");
        assert_eq!(settings.judge_timeout, Duration::from_secs(5));
        assert_eq!(settings.header_read_timeout, Duration::from_secs(3));
        assert_eq!(
            Settings::default().header_read_timeout,
            Duration::from_secs(10)
        );
    }

    #[test]
    fn endpoint_urls_are_redacted_in_debug_output() {
        let text =
            "[[prometheus]]\nname = \"p\"\nurl = \"http://admin:hunter2@host/prom?secret=xyz\"\n";
        let settings = Settings::from_toml(text, Path::new("t.toml")).unwrap();
        let debug = format!("{settings:?}");
        assert!(debug.contains("http://host/prom"), "{debug}");
        for secret in ["hunter2", "admin", "xyz"] {
            assert!(!debug.contains(secret), "{secret}: {debug}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("listen = 5", "listen"),
            ("lissen = \"x\"", "unknown field `lissen`"),
            ("judge_timeout = \"soon\"", "invalid duration"),
            ("[flagger]\nmarginal = \"maybe\"", "unknown variant `maybe`"),
        ];
        for (text, want) in cases {
            let error = Settings::from_toml(text, Path::new("s.toml"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(want), "{text}: {error}");
        }
        let twice = "[[prometheus]]\nname = \"a\"\nurl = \"http://x\"\n[[prometheus]]\nname = \"a\"\nurl = \"http://y\"";
        let error = Settings::from_toml(twice, Path::new("s.toml"))
            .unwrap()
            .with_env([])
            .unwrap_err();
        assert!(error.to_string().contains("defined twice"), "{error}");
        for (text, want) in [
            (
                "header_read_timeout = \"0s\"",
                "header_read_timeout must be positive",
            ),
            ("judge_timeout = \"0s\"", "judge_timeout must be positive"),
        ] {
            let error = Settings::from_toml(text, Path::new("s.toml"))
                .unwrap()
                .with_env([])
                .unwrap_err();
            assert!(error.to_string().contains(want), "{text}: {error}");
        }
        let error = Settings::default()
            .with_env([("SERIN_CONCURRENCY_LIMIT".to_string(), "lots".to_string())])
            .unwrap_err();
        assert!(
            error.to_string().contains("SERIN_CONCURRENCY_LIMIT"),
            "{error}"
        );
    }
}
