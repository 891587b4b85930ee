//! The as-run log. (The reports are in `reports.rs`.)

use crate::app::validate::{Instant, Window};
use crate::app::{objects, targets, Action};
use crate::auth::User;
use crate::db::{self, logs::Filter, logs::LogRow};
use crate::error::{AppError, AppResult, QueryArgs};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;

use schedules::PlayStatus;
use serde::Deserialize;

/// `GET /logs` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Station code.
    station: Option<String>,
    /// Area code (its subtree).
    area: Option<String>,
    /// Category.
    category: Option<String>,
    /// played, interrupted, skipped, failed, missed.
    status: Option<String>,
    /// RFC 3339.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<Instant>,
    /// RFC 3339.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<Instant>,
    /// At most 10000, default 1000.
    limit: Option<u32>,
    /// Skip this many.
    offset: Option<u32>,
}

/// Most rows one `GET /logs` answers.
const MAX_LIMIT: u32 = 1000;

/// `GET /logs`: log rows of stations in the user's area, by due time; `X-Total-Count`
/// says how many rows match, paging aside.
#[utoipa::path(
    get,
    path = "/api/v1/logs",
    summary = "The as-run log.",
    params(LogQuery),
    responses((status = 200, description = "the entries; the header X-Total-Count has how many match", body = [LogRow]))
)]
pub async fn list(
    State(state): State<AppState>,
    user: User,
    QueryArgs(q): QueryArgs<LogQuery>,
) -> AppResult<Response> {
    if let Some(s) = &q.status {
        s.parse::<PlayStatus>().map_err(|_| {
            AppError::invalid(format!(
                "status: {s:?} must be played, interrupted, skipped, failed or missed"
            ))
        })?;
    }
    let limit = q.limit.unwrap_or(1000);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(AppError::invalid(format!(
            "limit: {limit} must be between 1 and {MAX_LIMIT}"
        )));
    }
    let (from, to) = Window::open(q.from, q.to)?;
    let (rows, total) = state
        .db
        .call(move |conn| {
            if let Some(code) = &q.station {
                targets::station_in_reach(conn, &user, code)?;
            }
            if let Some(a) = &q.area {
                objects::area(conn, &user, Action::Read, a)?;
            }
            let f = Filter {
                station: q.station,
                area: q.area,
                category: q.category,
                status: q.status,
                from,
                to,
                limit,
                offset: q.offset.unwrap_or(0),
            };
            let rows: Vec<LogRow> = db::logs::query(conn, &user.area, &f)?;
            let total = db::logs::count(conn, &user.area, &f)?;
            Ok((rows, total))
        })
        .await?;
    let mut res = Json(rows).into_response();
    res.headers_mut()
        .insert("x-total-count", HeaderValue::from(total));
    Ok(res)
}
