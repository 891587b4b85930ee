//! Reports: `GET /reports/airtime` (JSON), `/reports/airtime.csv`, `/reports/airtime.xlsx`,
//! `/reports/charts/{name}.svg`, and `POST /reports/reconcile` (administrators). Every
//! report covers the stations of the asked area's subtree, which must be inside the
//! user's own area.

use crate::app::{objects, Action};
use crate::auth::User;
use crate::db;
use crate::db::users::Role;
use crate::error::{AppError, AppResult, PathArg, QueryArgs};
use crate::reports::{self, charts, Report};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The query of every report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// RFC 3339.
    from: Option<DateTime<Utc>>,
    /// RFC 3339.
    to: Option<DateTime<Utc>>,
    /// An area code in reach.
    area: Option<String>,
}

/// Check the query and build the report as `user` may see it.
async fn build(state: &AppState, user: User, q: ReportQuery) -> AppResult<Report> {
    reports::check_period(q.from, q.to)?;
    let now = state.clock.now();
    if let (Some(f), Some(t)) = (q.from, q.to) {
        if t <= f {
            return Err(AppError::invalid(format!(
                "to: {} must be after from: {}",
                db::ts(t),
                db::ts(f)
            )));
        }
    }
    state
        .db
        .call(move |conn| {
            let area = match q.area {
                Some(a) => objects::area(conn, &user, Action::Read, &a)?.code,
                None => user.area.clone(),
            };
            Report::build(conn, &area, q.from, q.to, now)
        })
        .await
}

fn with_headers(
    mut res: Response,
    r: &Report,
    ctype: &'static str,
    file: &'static str,
) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if !file.is_empty() {
        h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(file));
    }
    if let Some(p) = r.incomplete_before {
        if let Ok(v) = HeaderValue::from_str(&db::ts(p)) {
            h.insert(HeaderName::from_static("x-report-incomplete-before"), v);
        }
    }
    res
}

/// `GET /reports/airtime?from&to&area`: the report as JSON.
#[utoipa::path(
    get,
    path = "/api/v1/reports/airtime",
    summary = "Airtime report: per station and category, per station (every station of the area; `awaiting`: due occurrences without a log yet, `awaiting_since`), per category, per day.",
    params(ReportQuery),
    responses((status = 200, description = "the report", body = crate::reports::ReportJson))
)]
pub async fn airtime(
    State(state): State<AppState>,
    user: User,
    QueryArgs(q): QueryArgs<ReportQuery>,
) -> AppResult<Json<reports::ReportJson>> {
    Ok(Json(build(&state, user, q).await?.json()))
}

/// `GET /reports/airtime.csv?from&to&area`: UTF-8 with BOM, one row per station and category.
#[utoipa::path(
    get,
    path = "/api/v1/reports/airtime.csv",
    summary = "Airtime per station and category, CSV; every station of the area, a last column `awaiting` (due, no log yet).",
    params(ReportQuery),
    responses((status = 200, description = "the report", body = String, content_type = "text/csv"))
)]
pub async fn airtime_csv(
    State(state): State<AppState>,
    user: User,
    QueryArgs(q): QueryArgs<ReportQuery>,
) -> AppResult<Response> {
    let r = build(&state, user, q).await?;
    let body = reports::csv::render(&r);
    Ok(with_headers(
        body.into_response(),
        &r,
        "text/csv; charset=utf-8",
        "attachment; filename=\"airtime.csv\"",
    ))
}

/// `GET /reports/airtime.xlsx?from&to&area`: the workbook.
#[utoipa::path(
    get,
    path = "/api/v1/reports/airtime.xlsx",
    summary = "The airtime report as an XLSX workbook.",
    params(ReportQuery),
    responses((status = 200, description = "the workbook", body = String, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
)]
pub async fn airtime_xlsx(
    State(state): State<AppState>,
    user: User,
    QueryArgs(q): QueryArgs<ReportQuery>,
) -> AppResult<Response> {
    let r = build(&state, user, q).await?;
    let r2 = r.clone();
    let bytes = tokio::task::spawn_blocking(move || reports::xlsx::render(&r2))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    Ok(with_headers(
        bytes.into_response(),
        &r,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "attachment; filename=\"airtime.xlsx\"",
    ))
}

/// `GET /reports/charts/{aired-by-station|compliance-by-day|share-by-category}.svg`, in the
/// language of the `lang` cookie (Vietnamese by default).
#[utoipa::path(
    get,
    path = "/api/v1/reports/charts/{chart}",
    summary = "A report chart as SVG: aired-by-station.svg, compliance-by-day.svg, share-by-category.svg.",
    params(ReportQuery),
    responses((status = 200, description = "the chart", body = String, content_type = "image/svg+xml"))
)]
pub async fn chart(
    State(state): State<AppState>,
    user: User,
    lang: crate::pages::i18n::Lang,
    PathArg(name): PathArg<String>,
    QueryArgs(q): QueryArgs<ReportQuery>,
) -> AppResult<Response> {
    let chart = name
        .strip_suffix(".svg")
        .and_then(charts::Chart::parse)
        .ok_or_else(|| {
            AppError::not_found(format!(
                "no chart {name:?}; there are aired-by-station.svg, compliance-by-day.svg \
                 and share-by-category.svg"
            ))
        })?;
    let r = build(&state, user, q).await?;
    let svg = charts::render(chart, &r, lang);
    let mut res = with_headers(svg.into_response(), &r, "image/svg+xml; charset=utf-8", "");
    if let Ok(csp) = HeaderValue::from_str(&crate::security::svg_csp(charts::STYLE)) {
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(res)
}

/// `POST /reports/reconcile` (administrators): reconcile every station now; answers
/// `{"stations", "missed"}`.
#[utoipa::path(
    post,
    path = "/api/v1/reports/reconcile",
    summary = "Mark occurrences with no log entry as missed now (admin).",
    responses((status = 200, description = "what was marked", body = crate::reports::reconcile::Outcome))
)]
pub async fn reconcile(
    State(state): State<AppState>,
    user: User,
) -> AppResult<Json<reports::reconcile::Outcome>> {
    user.require(Role::Admin)?;
    Ok(Json(reports::reconcile::run(&state).await?))
}
