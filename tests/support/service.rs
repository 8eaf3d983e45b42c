//! The judge service on a real socket (127.0.0.1, a free port), stopped on drop.

use std::path::{Path, PathBuf};

use serin_judge_service::configs::ConfigStore;
use serin_judge_service::settings::Settings;
use serin_judge_service::{AppState, Clock, serve};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The configs directory of `fixtures/service`.
pub fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/service/configs")
}

/// Service settings from TOML text.
pub fn settings(toml: &str) -> Settings {
    Settings::from_toml(toml, Path::new("test.toml"))
        .unwrap()
        .with_env([])
        .unwrap()
}

/// A running service.
pub struct Service {
    /// Base URL.
    pub url: String,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl Service {
    /// Starts the service with `settings` and the fixture configs.
    pub async fn start(settings: Settings, clock: Option<Clock>) -> Self {
        let configs = ConfigStore::load(&configs_dir()).unwrap();
        let state = match clock {
            Some(clock) => AppState::with_clock(settings, configs, clock),
            None => AppState::new(settings, configs),
        }
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve(listener, state, async move {
            let _ = rx.await;
        }));
        Self {
            url,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Stops accepting, finishes in-flight requests, returns once stopped.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A real Prometheus holding the last 30 minutes of the checkout tracks, and the
/// service in front of it.
pub struct CheckoutStack {
    /// The Prometheus (stop it to simulate an outage).
    pub prometheus: super::prometheus::Prometheus,
    /// The service, whose `default` endpoint is that Prometheus.
    pub service: Service,
}

impl CheckoutStack {
    /// Starts both; `settings_toml` holds top-level settings, `endpoint_toml`
    /// extra keys of the `default` endpoint (one `key = value` a line).
    pub async fn start(settings_toml: &str, endpoint_toml: &str) -> Self {
        let now = chrono::Utc::now();
        let prometheus = super::prometheus::Prometheus::start(
            &super::prometheus::checkout_openmetrics(now - chrono::Duration::minutes(30), now, 7),
        )
        .await;
        let service = Service::start(
            settings(&format!(
                "{settings_toml}\n[[prometheus]]\nname = \"default\"\nurl = \"{}\"\n{endpoint_toml}\n",
                prometheus.url
            )),
            None,
        )
        .await;
        Self {
            prometheus,
            service,
        }
    }
}
