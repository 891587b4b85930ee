//! The as-run log and the airtime report.

use crate::auth::User;
use crate::db::{self, logs::Filter, logs::LogRow};
use crate::error::{AppError, AppResult, QueryArgs};
use crate::state::AppState;
use crate::targets;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use schedules::PlayStatus;
use serde::Deserialize;

/// `GET /logs` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    station: Option<String>,
    area: Option<String>,
    category: Option<String>,
    status: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<u32>,
    offset: Option<u32>,
}

/// Most rows one `GET /logs` answers.
const MAX_LIMIT: u32 = 10_000;

/// `GET /logs`: log rows of stations in the user's area, by due time.
pub async fn list(
    State(state): State<AppState>,
    user: User,
    QueryArgs(q): QueryArgs<LogQuery>,
) -> AppResult<Json<Vec<LogRow>>> {
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
    let rows = state
        .db
        .call(move |conn| {
            if let Some(code) = &q.station {
                targets::station_in_reach(conn, &user, code)?;
            }
            if let Some(a) = &q.area {
                if db::areas::get(conn, a)?.is_none() {
                    return Err(AppError::not_found(format!("no area {a:?}")));
                }
                if !db::areas::in_subtree(conn, &user.area, a)? {
                    return Err(AppError::forbidden(format!(
                        "area {a} is outside your area {}",
                        user.area
                    )));
                }
            }
            let f = Filter {
                station: q.station,
                area: q.area,
                category: q.category,
                status: q.status,
                from: q.from,
                to: q.to,
                limit,
                offset: q.offset.unwrap_or(0),
            };
            Ok(db::logs::query(conn, &user.area, &f)?)
        })
        .await?;
    Ok(Json(rows))
}

/// `GET /reports/airtime.csv` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `GET /reports/airtime.csv?from&to`: UTF-8 with BOM, one row per station and category.
pub async fn airtime_csv(
    State(state): State<AppState>,
    user: User,
    QueryArgs(q): QueryArgs<ReportQuery>,
) -> AppResult<Response> {
    let rows = state
        .db
        .call(move |conn| Ok(db::logs::airtime(conn, &user.area, q.from, q.to)?))
        .await?;
    let mut out = String::from(
        "\u{feff}station,station_name,category,scheduled,played,interrupted,skipped,failed,missed,aired_minutes\r\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{:.1}\r\n",
            csv_field(&r.station),
            csv_field(&r.station_name),
            csv_field(&r.category),
            r.scheduled,
            r.played,
            r.interrupted,
            r.skipped,
            r.failed,
            r.missed,
            r.aired_minutes
        ));
    }
    let mut res = out.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"airtime.csv\""),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("Bình Phú"), "Bình Phú");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
