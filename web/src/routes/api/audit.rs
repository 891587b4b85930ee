//! The audit log, for administrators.

use crate::auth::User;
use crate::db::{self, audit::AuditEntry, users::Role};
use crate::error::{AppError, AppResult, QueryArgs};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

/// `GET /audit` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<u32>,
    offset: Option<u32>,
}

/// `GET /audit` (admin): changes in the admin's area and below, newest first.
pub async fn list(
    State(state): State<AppState>,
    user: User,
    QueryArgs(q): QueryArgs<AuditQuery>,
) -> AppResult<Json<Vec<AuditEntry>>> {
    user.require(Role::Admin)?;
    let limit = q.limit.unwrap_or(200);
    if limit == 0 || limit > 10_000 {
        return Err(AppError::invalid(format!(
            "limit: {limit} must be between 1 and 10000"
        )));
    }
    let offset = q.offset.unwrap_or(0);
    let rows = state
        .db
        .call(move |conn| Ok(db::audit::list(conn, &user.area, limit, offset)?))
        .await?;
    Ok(Json(rows))
}
