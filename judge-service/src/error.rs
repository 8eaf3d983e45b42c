//! The service's one error type: each variant's HTTP status beside it, a JSON body
//! `{"error": "...", "kind": "...", "field": "..."}` for clients.
//!
//! Client errors are answered, not logged as failures; upstream and internal errors
//! are logged, and internal ones never leak details to the client.

use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serin_sources::SourceError;
use thiserror::Error;
use tracing::{error, warn};

/// Everything a request can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: malformed or contradictory request; `field` names the JSON path.
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
        /// JSON path of the offending field, when known.
        field: Option<String>,
    },
    /// 401: missing or wrong bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// 404: unknown canary config, execution or route.
    #[error("{0}")]
    NotFound(String),
    /// 415: a body whose `Content-Type` is not JSON, on a JSON route.
    #[error("unsupported content type {0:?}: send application/json")]
    UnsupportedMediaType(String),
    /// 413: body over the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// 422: the request is well-formed but its config or query cannot be used.
    #[error("{0}")]
    Unprocessable(String),
    /// 502 / 504: the metric source failed (infrastructure: never a verdict).
    #[error(transparent)]
    Source(SourceError),
    /// 503: shutting down or out of capacity.
    #[error("{0}")]
    Unavailable(String),
    /// 504: the judgement did not finish within the configured time.
    #[error("judgement did not finish within {0:?}")]
    JudgeTimeout(std::time::Duration),
    /// 500: a bug; details are logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 naming a field.
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// A 400 without a field.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            field: None,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Source(SourceError::TooManyMetrics { .. }) => StatusCode::BAD_REQUEST,
            Self::Source(SourceError::Timeout { .. }) | Self::JudgeTimeout(_) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            Self::Source(e) if e.is_client_error() => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Source(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short machine-readable kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unprocessable(_) => "unprocessable",
            Self::Source(SourceError::TooManyMetrics { .. }) => "bad_request",
            Self::Source(e) if e.is_client_error() => "query",
            Self::Source(_) => "source",
            Self::Unavailable(_) => "unavailable",
            Self::JudgeTimeout(_) => "timeout",
            Self::Internal(_) => "internal",
        }
    }

    /// The JSON path of the offending field, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::BadRequest { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The message sent to clients (internal details withheld), on one line, at
    /// most [`MAX_MESSAGE_CHARS`] characters (a last guard: request-given names are
    /// already cut by [`shown`] where they are echoed).
    pub fn public_message(&self) -> String {
        cut(&self.to_string(), MAX_MESSAGE_CHARS).replace('\n', " ")
    }

    /// Logs server-side failures; client errors are the client's business.
    pub fn log(&self) {
        match self {
            Self::Internal(detail) => error!(%detail, "internal error"),
            Self::Source(source) if !source.is_client_error() => {
                warn!(error = %source, kind = source.kind(), "metric source failed")
            }
            Self::JudgeTimeout(_) => warn!(error = %self, "judgement timed out"),
            _ => {}
        }
    }

    /// Maps a body rejection: 413 over the limit, 400 otherwise.
    pub fn from_body(rejection: BytesRejection, limit: usize) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::PayloadTooLarge { limit }
        } else {
            Self::bad(format!("cannot read the request body: {rejection}"))
        }
    }
}

/// Longest request-given name (config, execution, endpoint, metadata key) an error
/// message repeats, in characters.
pub const SHOWN_CHARS: usize = 128;

/// Longest message sent to a client, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// `name` as error messages repeat it: cut to [`SHOWN_CHARS`] characters with an
/// ellipsis, so a huge name in a request is never echoed back whole.
pub fn shown(name: &str) -> String {
    cut(name, SHOWN_CHARS)
}

fn cut(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

impl From<SourceError> for ApiError {
    fn from(error: SourceError) -> Self {
        Self::Source(error)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let body = ErrorBody {
            error: self.public_message(),
            kind: self.kind(),
            field: self.field(),
        };
        let mut response = (status, Json(body)).into_response();
        if matches!(self, Self::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
