//! The service's command line, shared by `serin-judge` and `serin serve`: read the
//! settings file and environment, load configs, log, serve until SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tracing_subscriber::EnvFilter;

use crate::configs::ConfigStore;
use crate::settings::Settings;
use crate::{AppState, serve, shutdown_signal};

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
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
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
    let state = AppState::new(settings, configs).context("cannot set up the metric sources")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        serve(listener, state, shutdown_signal())
            .await
            .context("server failed")
    })
}
