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
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Default 200.
    limit: Option<u32>,
    /// Skip this many.
    offset: Option<u32>,
    /// Made by this username.
    user: Option<String>,
    /// Actions starting with this, e.g. station.
    action: Option<String>,
    /// RFC 3339, inclusive.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<Instant>,
    /// RFC 3339, exclusive.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<Instant>,
}

/// `GET /audit?user&action&from&to&limit&offset` (admin): changes in the admin's area and
/// below, newest first; `action` matches a prefix (`station` finds every station change).
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    summary = "The audit log (admin), newest first.",
    params(AuditQuery),
    responses((status = 200, description = "the entries", body = [AuditEntry]))
)]
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
