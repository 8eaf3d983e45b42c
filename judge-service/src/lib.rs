//! Serin's judge service: a thin axum server over the judgement engine.
//!
//! - `POST /judge`: Argo Rollouts' web metric provider (and anything else) gets
//!   `{"verdict", "score", "reasons", "judgeResult"}`, always 2xx for a verdict.
//! - `POST /flagger/judge`: Flagger webhooks; 200 on pass, 412 with a one-line reason
//!   on fail (and, by default, on marginal).
//! - `GET /canaryConfig`, `POST /canary/{configId}`, `GET /canary/{id}`: the subset of
//!   Kayenta's API that Argo Rollouts' `kayenta` provider calls.
//! - `GET /healthz`, `/readyz`, `/metrics`, `/openapi.json`.
//!
//! Entry points: [`app`] builds the router from [`AppState`] (tests drive it
//! directly), [`serve`] runs it on a listener until a shutdown signal, finishing
//! in-flight judgements.

pub mod cli;
pub mod configs;
pub mod error;
pub mod executions;
pub mod judging;
pub mod openapi;
pub mod request;
pub mod routes;
pub mod settings;
pub mod telemetry;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use chrono::{DateTime, Utc};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serin_sources::{PrometheusClient, SourceError};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use crate::configs::ConfigStore;
use crate::error::ApiError;
use crate::executions::Executions;
use crate::settings::Settings;
use crate::telemetry::Telemetry;

pub use routes::app;

/// The clock the service reads `now` from (injected so tests pin it).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
}

struct Shared {
    settings: Settings,
    configs: ConfigStore,
    clients: BTreeMap<String, PrometheusClient>,
    telemetry: Telemetry,
    executions: Executions,
    /// Judgements computing at once (`concurrency_limit`).
    judging_slots: Arc<Semaphore>,
    draining: AtomicBool,
    clock: Clock,
}

impl AppState {
    /// State from settings and loaded configs, reading the system clock.
    pub fn new(settings: Settings, configs: ConfigStore) -> Result<Self, SourceError> {
        Self::with_clock(settings, configs, Arc::new(Utc::now))
    }

    /// State with an injected clock.
    pub fn with_clock(
        settings: Settings,
        configs: ConfigStore,
        clock: Clock,
    ) -> Result<Self, SourceError> {
        let clients = settings
            .prometheus
            .iter()
            .map(|p| Ok((p.name.clone(), PrometheusClient::new(p.endpoint())?)))
            .collect::<Result<BTreeMap<_, _>, SourceError>>()?;
        let executions = Executions::new(
            settings.kayenta.max_executions,
            settings.kayenta.retention,
            clock(),
        );
        Ok(Self {
            shared: Arc::new(Shared {
                judging_slots: Arc::new(Semaphore::new(settings.concurrency_limit)),
                settings,
                configs,
                clients,
                telemetry: Telemetry::default(),
                executions,
                draining: AtomicBool::new(false),
                clock,
            }),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// The served configs.
    pub fn configs(&self) -> &ConfigStore {
        &self.shared.configs
    }

    /// The service's metrics.
    pub fn telemetry(&self) -> &Telemetry {
        &self.shared.telemetry
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.shared.clock)()
    }

    /// Marks the service as shutting down (`/readyz` then answers 503).
    pub fn start_draining(&self) {
        self.shared.draining.store(true, Ordering::SeqCst);
    }

    /// True once shutdown began.
    pub fn is_draining(&self) -> bool {
        self.shared.draining.load(Ordering::SeqCst)
    }

    /// The client of a configured endpoint (`None`: the default one). Request
    /// bodies can only name endpoints; no URL from a request is ever fetched.
    pub fn client(&self, name: Option<&str>) -> Result<&PrometheusClient, ApiError> {
        let known = || {
            self.shared
                .clients
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = match name.filter(|n| !n.is_empty()) {
            Some(name) => name,
            None => self.shared.settings.default_endpoint().ok_or_else(|| {
                ApiError::Unprocessable(
                    "no Prometheus endpoint is configured; send inline data instead".into(),
                )
            })?,
        };
        self.shared.clients.get(name).ok_or_else(|| {
            ApiError::bad_field(
                "endpoint",
                format!(
                    "unknown Prometheus endpoint {:?} (configured: {})",
                    error::shown(name),
                    known()
                ),
            )
        })
    }
}

/// Serves `state` on `listener` (HTTP/1.1) until `shutdown` resolves; then stops
/// accepting, answers `/readyz` with 503, and waits for in-flight requests to finish.
///
/// A client must send a request's head within `header_read_timeout` (which also
/// closes connections idle that long), so slow-header clients cannot hold
/// connections open; `judge_timeout` bounds the rest of a judging request.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router: Router = app(state.clone());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.settings().header_read_timeout);
    let connections = GracefulShutdown::new();
    info!(address = %listener.local_addr()?, "serin judge service listening");
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(%error, %peer, "connection closed with an error");
            }
        });
    }
    drop(listener);
    state.start_draining();
    info!("shutdown requested: finishing in-flight requests");
    connections.shutdown().await;
    Ok(())
}

/// After a failed accept: a connection the peer gave up on is skipped at once;
/// anything else (e.g. out of file descriptors) pauses accepting for a second.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    warn!(%error, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
