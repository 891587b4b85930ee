//! `GET /healthz` and `GET /metrics`: for load balancers, scripts and Prometheus.

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// `GET /healthz`: 200 when the database answers (for scripts and load balancers).
#[utoipa::path(
    get,
    path = "/healthz",
    summary = "Health: 200 when the database answers.",
    security(),
    responses((status = 200, description = "the database answers", body = Health))
)]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    state
        .db
        .call(|conn| Ok(conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
        .await?;
    Ok(Json(Health { status: "ok" }))
}

/// What `GET /healthz` answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    status: &'static str,
}

/// `GET /metrics` (see [`crate::metrics`]).
#[utoipa::path(
    get,
    path = "/metrics",
    summary = "Counters in the Prometheus text format (no sign-in; nothing sensitive).",
    security(),
    responses((status = 200, description = "the counters", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(
        state.hub.connected_streams() as u64,
        state.hub.urgent_pushed(),
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        )],
        body,
    )
        .into_response()
}
