//! Plain nginx (no Kubernetes): upstream weights written to an included file, then a reload.
//!
//! The file holds one `upstream` block with the stable and canary servers. Weights are the
//! percentages reduced by their greatest common divisor (95/5 becomes `weight=19` / `weight=1`),
//! and a side with 0 % is marked `down` (nginx has no `weight=0`). With one worker process,
//! nginx's smooth weighted round-robin then splits every `100 / gcd` requests exactly.
//!
//! The first run: nginx's `include` needs the file before nginx starts, so either
//! - [`Nginx::prepare`] (`serin rollout init PLAN.yaml`) writes the rollout's own 0 % file
//!   (all traffic to stable) if there is none, without reloading; or
//! - a hand-written file is adopted by the rollout's first write when it is stable-only: one
//!   `upstream` block of the plan's name holding only `server` lines, the stable server up
//!   and the canary absent or `down`. Anything else (other servers or directives, which the
//!   rewrite would drop) is refused, and once the rollout has written the file any hand edit
//!   is a foreign edit.

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

impl NginxConfig {
    /// `Ok` if `text` is a stable-only upstream file the rollout may adopt (see the module
    /// documentation), else why not.
    pub fn check_stable_only(&self, text: &str) -> Result<(), String> {
        // Comments dropped, and braces and semicolons made words of their own.
        let mut spaced = String::new();
        for line in text.lines() {
            let code = line.split('#').next().unwrap_or_default();
            if code.contains(['"', '\'', '$']) {
                return Err("quotes and variables are not supported".into());
            }
            for character in code.chars() {
                if matches!(character, '{' | '}' | ';') {
                    spaced.extend([' ', character, ' ']);
                } else {
                    spaced.push(character);
                }
            }
            spaced.push('\n');
        }
        let mut tokens = spaced.split_whitespace();
        match (tokens.next(), tokens.next(), tokens.next()) {
            (Some("upstream"), Some(name), Some("{")) if name == self.upstream => {}
            (Some("upstream"), Some(name), Some("{")) => {
                return Err(format!(
                    "it defines upstream {name}, the plan's is {}",
                    self.upstream
                ));
            }
            _ => {
                return Err(format!(
                    "it is not one `upstream {} {{ … }}` block",
                    self.upstream
                ));
            }
        }
        let mut stable_up = false;
        let mut seen = Vec::new();
        loop {
            let directive = match tokens.next() {
                Some("}") => break,
                Some(directive) => directive,
                None => return Err("the upstream block is not closed".into()),
            };
            let mut arguments = Vec::new();
            loop {
                match tokens.next() {
                    Some(";") => break,
                    Some(word @ ("{" | "}")) => {
                        return Err(format!("unexpected {word:?} in `{directive}`"));
                    }
                    Some(word) => arguments.push(word),
                    None => return Err(format!("`{directive}` is not ended by `;`")),
                }
            }
            if directive != "server" {
                return Err(format!(
                    "it has a `{directive}` directive, which the rollout's rewrite would drop"
                ));
            }
            let Some((address, parameters)) = arguments.split_first() else {
                return Err("a `server` line names no server".into());
            };
            if seen.contains(address) {
                return Err(format!("server {address} is listed twice"));
            }
            seen.push(*address);
            let down = parameters.contains(&"down");
            if parameters.contains(&"backup") {
                return Err(format!("server {address} is a backup"));
            }
            if *address == self.stable {
                if down {
                    return Err(format!("the stable server {address} is down"));
                }
                stable_up = true;
            } else if *address == self.canary {
                if !down {
                    return Err(format!(
                        "the canary server {address} gets traffic (only a stable-only file is adopted)"
                    ));
                }
            } else {
                return Err(format!(
                    "server {address} is neither the plan's stable ({}) nor its canary ({})",
                    self.stable, self.canary
                ));
            }
        }
        if let Some(extra) = tokens.next() {
            return Err(format!(
                "there is more after the upstream block ({extra:?})"
            ));
        }
        if !stable_up {
            return Err(format!("the stable server {} is missing", self.stable));
        }
        Ok(())
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

    /// Prepares the first run (`serin rollout init`): writes the rollout's 0 % file (all
    /// traffic to stable) if there is no upstream file yet, so that nginx can start with its
    /// `include`. Does not reload. An existing file is left alone if the rollout wrote it or
    /// would adopt it; any other is refused. `changed` says whether the file was written.
    pub async fn prepare(&self) -> Result<RouterWrite, RouterError> {
        let path = &self.config.upstream_file;
        match tokio::fs::read_to_string(path).await {
            Ok(text) => {
                let note = match self.config.parse(&text) {
                    Some(weight) => format!(
                        "{}: already written by the rollout, canary {weight}",
                        self.object()
                    ),
                    None => {
                        self.config
                            .check_stable_only(&text)
                            .map_err(|why| self.not_adoptable(&why))?;
                        format!(
                            "{}: hand-written, stable-only: the first write adopts it",
                            self.object()
                        )
                    }
                };
                Ok(RouterWrite {
                    changed: false,
                    notes: vec![note],
                })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                write_atomically(path, self.config.render(Weight::ZERO).as_bytes())
                    .map_err(self.io_error())?;
                Ok(RouterWrite {
                    changed: true,
                    notes: vec![format!(
                        "{}: written with all traffic to stable",
                        self.object()
                    )],
                })
            }
            Err(error) => Err(self.io_error()(error)),
        }
    }

    fn not_adoptable(&self, why: &str) -> RouterError {
        RouterError::Invalid {
            object: self.object(),
            message: format!(
                "not written by the rollout, and not a stable-only upstream it can adopt: {why}"
            ),
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
            (Some(None), None) => {
                // Never written by the rollout: the first run adopts a stable-only file.
                let text = previous.as_deref().unwrap_or_default();
                self.config
                    .check_stable_only(text)
                    .map_err(|why| self.not_adoptable(&why))?;
                notes.push(format!(
                    "{}: adopted the hand-written stable-only file",
                    self.object()
                ));
            }
            (Some(None), Some(_)) => {
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
