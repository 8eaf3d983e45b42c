//! `POST /judge`: the general judgement endpoint (Argo Rollouts' web provider).

use axum::Json;
use axum::extract::{Request, State};

use crate::AppState;
use crate::error::ApiError;
use crate::judging::{self, Deadline, JudgeResponse};
use crate::request::{JudgeRequest, parse_body, read_json_body};

/// Judges the request; 200 with the verdict whatever it is, an error status only
/// when no verdict could be reached. `judge_timeout` bounds the whole request, from
/// reading its body to the verdict.
pub async fn judge(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<JudgeResponse>, ApiError> {
    let deadline = Deadline::after(state.settings().judge_timeout);
    let body = deadline.run(read_json_body(&state, request)).await??;
    let request: JudgeRequest = parse_body(&body)?;
    let job = request.into_job(&state)?;
    Ok(Json(judging::run(&state, job, "judge", deadline).await?))
}
