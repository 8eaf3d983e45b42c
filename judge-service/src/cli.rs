//! The service's command line, shared by `serin-judge` and `serin serve`: read the
//! settings file and environment, load configs, log, serve until SIGTERM.

use std::path::PathBuf;

use clap::Args;
use serin_sources::SourceError;
use thiserror::Error;
use tracing_subscriber::EnvFilter;

use crate::configs::{ConfigStore, ConfigStoreError};
use crate::settings::{Settings, SettingsError};
use crate::{AppState, serve, shutdown_signal};

/// Why the service could not start or stopped with an error; each keeps its cause.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The settings file or environment is unusable.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The configs directory is unusable.
    #[error(transparent)]
    Configs(#[from] ConfigStoreError),
    /// A metric source could not be set up.
    #[error("cannot set up the metric sources")]
    Sources(#[source] SourceError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {listen}")]
    Listen {
        /// The address.
        listen: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while serving.
    #[error("server failed")]
    Server(#[source] std::io::Error),
}

/// Options of the service.
#[derive(Debug, Clone, Args)]
#[command(about = "Run the judge service (POST /judge, Flagger webhook, Kayenta-compatible API)")]
pub struct ServeArgs {
    /// Service settings (TOML); `SERIN_*` environment variables override it.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Listen address (overrides the file and SERIN_LISTEN).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Log as JSON lines (default: human-readable).
    #[arg(long)]
    pub log_json: bool,
}

/// Runs the service until SIGTERM or Ctrl-C (blocking: builds its own runtime).
pub fn run(args: ServeArgs) -> Result<(), ServeError> {
    let filter = EnvFilter::try_from_env("SERIN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if args.log_json {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .try_init();
    } else {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    }
    let mut settings = match &args.config {
        Some(path) => Settings::from_file(path)?,
        None => Settings::default(),
    }
    .with_env(std::env::vars())?;
    if let Some(listen) = args.listen {
        settings.listen = listen;
    }
    let configs = match &settings.configs_dir {
        Some(dir) => ConfigStore::load(dir)?,
        None => ConfigStore::default(),
    };
    let listen = settings.listen;
    let state = AppState::new(settings, configs).map_err(ServeError::Sources)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Listen { listen, source })?;
        serve(listener, state, shutdown_signal())
            .await
            .map_err(ServeError::Server)
    })
}

#[cfg(test)]
mod tests {
    use serin_sources::error_chain;

    use super::*;

    #[test]
    fn errors_keep_and_print_their_causes() {
        let error = ServeError::Listen {
            listen: "127.0.0.1:9".parse().unwrap(),
            source: std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use"),
        };
        assert!(std::error::Error::source(&error).is_some());
        assert_eq!(
            error_chain(&error),
            "cannot listen on 127.0.0.1:9: address in use"
        );
    }
}
