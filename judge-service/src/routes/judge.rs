//! `POST /judge`: the general judgement endpoint (Argo Rollouts' web provider).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;

use crate::AppState;
use crate::error::ApiError;
use crate::judging::{self, JudgeResponse};
use crate::request::{JudgeRequest, parse_body};

/// Judges the request; 200 with the verdict whatever it is, an error status only
/// when no verdict could be reached.
pub async fn judge(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<JudgeResponse>, ApiError> {
    let body = body.map_err(|r| ApiError::from_body(r, state.settings().body_limit_bytes))?;
    let request: JudgeRequest = parse_body(&body)?;
    let job = request.into_job(&state)?;
    Ok(Json(judging::run(&state, job, "judge").await?))
}
