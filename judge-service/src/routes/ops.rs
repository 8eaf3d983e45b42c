//! Probes, the service's metrics, its OpenAPI document and the 404 fallback.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: configs are loaded and the service is not shutting down. Prometheus
/// is deliberately not probed: inline judgements work without it, and a source
/// outage is reported per request as a 5xx.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let ready = !state.is_draining();
    let body = json!({
        "ready": ready,
        "configs": state.configs().len(),
        "endpoints": state.settings().prometheus.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus exposition of the service's metrics.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.telemetry().encode(),
    )
        .into_response()
}

/// The OpenAPI 3.1 document.
pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

/// Unknown routes.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; see /openapi.json".into())
}
