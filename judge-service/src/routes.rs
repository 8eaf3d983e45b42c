//! The router: every route, the auth and telemetry middleware, the body limit, and
//! the panic guard (a panicking handler is answered 500 and counted, never a dropped
//! connection).

pub mod flagger;
pub mod judge;
pub mod kayenta;
pub mod ops;

#[cfg(test)]
mod tests;

use std::any::Any;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, OriginalUri, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

use crate::AppState;
use crate::error::ApiError;
use crate::telemetry::{RequestLabels, RouteLabels};

/// The whole service as a router (tests drive it with `oneshot` or a socket).
///
/// Authentication, when tokens are configured: `Authorization: Bearer <token>` on
/// `/judge` and the Kayenta routes; the Kayenta routes are also served under
/// `/t/{token}/…` for clients that cannot send headers (Argo's `kayenta` provider:
/// `address: http://serin:8080/t/<token>`); Flagger, which cannot send headers
/// either, passes `token` in its webhook metadata. Probes and `/metrics` are open.
pub fn app(state: AppState) -> Router {
    let body_limit = state.settings().body_limit_bytes;
    let kayenta = Router::new()
        .route("/canaryConfig", get(kayenta::list_configs))
        .route(
            "/canary/{id}",
            post(kayenta::start_execution).get(kayenta::execution_status),
        );
    let protected = Router::new()
        .route("/judge", post(judge::judge))
        .merge(kayenta.clone())
        .nest("/t/{token}", kayenta)
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    let routes = Router::new()
        .merge(protected)
        .route("/flagger/judge", post(flagger::webhook))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::not_found)
        .layer(DefaultBodyLimit::max(body_limit));
    guarded(routes, state)
}

/// `routes` with the service's outer layers: the panic guard, inside the request
/// telemetry (so a caught panic is counted as a 500 too).
fn guarded(routes: Router<AppState>, state: AppState) -> Router {
    let on_panic = {
        let state = state.clone();
        move |panic: Box<dyn Any + Send + 'static>| {
            state.telemetry().panicked();
            ApiError::Internal(format!("handler panicked: {}", panic_message(&*panic)))
                .into_response()
        }
    };
    routes
        .layer(CatchPanicLayer::custom(on_panic))
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// The text a panic was raised with, when it has one.
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Compares without an early exit, so timing does not reveal a token's prefix.
pub(crate) fn token_matches(tokens: &[String], given: &str) -> bool {
    tokens.iter().fold(false, |found, token| {
        let (a, b) = (token.as_bytes(), given.as_bytes());
        let same =
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        found | same
    })
}

async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let tokens = &state.settings().tokens;
    if tokens.is_empty() {
        return next.run(request).await;
    }
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let original = request
        .extensions()
        .get::<OriginalUri>()
        .map(|uri| uri.0.path().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let in_path = original
        .strip_prefix("/t/")
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);
    let ok = bearer.is_some_and(|t| token_matches(tokens, t))
        || in_path.as_deref().is_some_and(|t| token_matches(tokens, t));
    if ok {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let telemetry = state.telemetry();
    telemetry
        .latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    telemetry
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
