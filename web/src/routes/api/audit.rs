//! The audit log, for administrators.

use crate::app::validate::{Instant, Window};
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
    user: Option<String>,
    action: Option<String>,
    from: Option<Instant>,
    to: Option<Instant>,
}

/// `GET /audit?user&action&from&to&limit&offset` (admin): changes in the admin's area and
/// below, newest first; `action` matches a prefix (`station` finds every station change).
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
    let (from, to) = Window::open(q.from, q.to)?;
    let offset = q.offset.unwrap_or(0);
    let nonempty = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let filter = db::audit::Filter {
        user: nonempty(q.user),
        action: nonempty(q.action),
        from,
        to,
    };
    let rows = state
        .db
        .call(move |conn| Ok(db::audit::list(conn, &user.area, &filter, limit, offset)?))
        .await?;
    Ok(Json(rows))
}
