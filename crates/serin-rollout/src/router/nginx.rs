//! Plain nginx (no Kubernetes): upstream weights written to an included file, then a reload.
//!
//! The file holds one `upstream` block with the stable and canary servers. Weights are the
//! percentages reduced by their greatest common divisor (95/5 becomes `weight=19` / `weight=1`),
//! and a side with 0 % is marked `down` (nginx has no `weight=0`). With one worker process,
//! nginx's smooth weighted round-robin then splits every `100 / gcd` requests exactly.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Router, RouterError, RouterWrite, WeightChange};
use crate::plan::PlanError;
use crate::state::write_atomically;
use crate::weight::Weight;

const HEADER: &str = "# Written by serin rollout: canary ";

/// The plan's `router.nginx` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NginxConfig {
    /// The file the `upstream` block is written to (included from nginx's config).
    pub upstream_file: PathBuf,
    /// The upstream's name (what `proxy_pass http://NAME` refers to).
    pub upstream: String,
    /// The stable server (`host:port` or `unix:/path`).
    pub stable: String,
    /// The canary server.
    pub canary: String,
    /// Extra parameters for both server lines (e.g. `max_fails=3 fail_timeout=10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_options: Option<String>,
    /// The config test run before a reload; on failure the previous file is restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// The reload command.
    #[serde(default = "default_reload")]
    pub reload: Vec<String>,
}

fn default_reload() -> Vec<String> {
    vec!["nginx".into(), "-s".into(), "reload".into()]
}

impl NginxConfig {
    pub(crate) fn validate(&self) -> Result<(), PlanError> {
        let bad = |text: &str| text.trim().is_empty() || text.contains([';', '{', '}', '\n', '#']);
        for (field, text) in [
            ("upstream", &self.upstream),
            ("stable", &self.stable),
            ("canary", &self.canary),
        ] {
            if bad(text) || text.contains(char::is_whitespace) {
                return Err(PlanError::Invalid(format!(
                    "router.nginx.{field}: {text:?} is not a plain nginx word"
                )));
            }
        }
        if let Some(options) = &self.server_options
            && bad(options)
        {
            return Err(PlanError::Invalid(format!(
                "router.nginx.serverOptions: {options:?} must not contain ; {{ }} # or newlines"
            )));
        }
        if self.reload.is_empty() || self.test.as_ref().is_some_and(Vec::is_empty) {
            return Err(PlanError::Invalid(
                "router.nginx: reload and test need a command".into(),
            ));
        }
        Ok(())
    }

    /// The upstream file for `weight`.
    pub fn render(&self, weight: Weight) -> String {
        let (stable, canary) = (weight.stable(), weight.canary());
        let divisor = gcd(stable, canary);
        let options = self
            .server_options
            .as_deref()
            .map(|options| format!(" {}", options.trim()))
            .unwrap_or_default();
        let line = |address: &str, share: u32| {
            if share == 0 {
                format!("    server {address} weight=1{options} down;\n")
            } else {
                format!(
                    "    server {address} weight={}{options};\n",
                    share / divisor
                )
            }
        };
        format!(
            "{HEADER}{} %. Edits here are reported as foreign, not kept.\nupstream {} {{\n{}{}}}\n",
            weight.canary(),
            self.upstream,
            line(&self.stable, stable),
            line(&self.canary, canary),
        )
    }

    /// The weight a file written by [`NginxConfig::render`] holds; `None` if the file was
    /// not written by the rollout or was edited since.
    pub fn parse(&self, text: &str) -> Option<Weight> {
        let rest = text.strip_prefix(HEADER)?;
        let percent = rest.split(' ').next()?.parse().ok()?;
        let weight = Weight::new(percent)?;
        (self.render(weight) == text).then_some(weight)
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// The plain nginx router.
#[derive(Debug, Clone)]
pub struct Nginx {
    config: NginxConfig,
}

impl Nginx {
    /// A router for `config`.
    pub fn new(config: NginxConfig) -> Self {
        Nginx { config }
    }

    fn object(&self) -> String {
        format!(
            "nginx upstream file {}",
            self.config.upstream_file.display()
        )
    }

    fn io_error(&self) -> impl FnOnce(std::io::Error) -> RouterError + '_ {
        move |source| RouterError::Io {
            path: self.config.upstream_file.display().to_string(),
            source,
        }
    }
}

async fn run_command(argv: &[String]) -> Result<(), RouterError> {
    let command = argv.join(" ");
    let (program, arguments) = argv.split_first().ok_or_else(|| RouterError::Command {
        command: command.clone(),
        message: "empty command".into(),
    })?;
    let output = tokio::process::Command::new(program)
        .args(arguments)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|error| RouterError::Command {
            command: command.clone(),
            message: error.to_string(),
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(RouterError::Command {
            command,
            message: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }
}

impl Router for Nginx {
    async fn set_weight(&self, change: WeightChange) -> Result<RouterWrite, RouterError> {
        let path = &self.config.upstream_file;
        let previous = match tokio::fs::read_to_string(path).await {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(self.io_error()(error)),
        };
        let mut notes = Vec::new();
        match (
            previous.as_deref().map(|text| self.config.parse(text)),
            change.from,
        ) {
            (Some(Some(found)), _) => change.check(&self.object(), found)?,
            (None, None) => {}
            _ if change.force => {
                notes.push(format!("{}: overwriting a foreign edit", self.object()))
            }
            (None, Some(_)) => return Err(RouterError::NotFound(self.object())),
            (Some(None), _) => {
                return Err(RouterError::Invalid {
                    object: self.object(),
                    message: "edited by hand since the rollout wrote it (abort overwrites it)"
                        .into(),
                });
            }
        }
        let text = self.config.render(change.to);
        let changed = previous.as_deref() != Some(text.as_str());
        if changed {
            write_atomically(path, text.as_bytes()).map_err(self.io_error())?;
        }
        if let Some(test) = &self.config.test
            && let Err(error) = run_command(test).await
        {
            let restored = match &previous {
                Some(old) => write_atomically(path, old.as_bytes()),
                None => std::fs::remove_file(path),
            };
            restored.map_err(self.io_error())?;
            return Err(error);
        }
        // Always reload, even when the file was already right: a process killed between the
        // write and the reload leaves nginx on the old weights.
        run_command(&self.config.reload).await?;
        Ok(RouterWrite { changed, notes })
    }
}

#[cfg(test)]
mod tests;
