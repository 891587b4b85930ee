//! `POST /cap`: a CAP 1.2 or 1.1 alert from a warning system becomes an urgent notice. See
//! [`crate::urgent::cap`].

use crate::auth::User;
use crate::db::users::Role;
use crate::error::{AppError, AppResult};
use crate::state::{AppState, Now};
use crate::urgent::cap::{self, Outcome};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use schedules::cap::MAX_CAP_BYTES;
use serde_json::json;

/// `POST /cap` (`Content-Type: application/cap+xml` or `application/xml`, at most 1 MiB):
/// 201 `{"id"}` for an aired Alert or Update, 200 `{"cancelled":[…]}` for a Cancel,
/// 202 `{"aired": false}` for a message recorded but not aired, 200 `{"id","duplicate":true}`
/// for a message seen before; 202 `{"aired": false, "reason", "unmatched_geocodes"}` for an
/// alert that reaches no station of the caller's.
#[utoipa::path(
    post,
    path = "/api/v1/cap",
    summary = "Take in an OASIS CAP 1.2 alert (Alert, Update, Cancel) as an urgent notice.",
    request_body(content = String, content_type = "application/cap+xml", description = "a CAP 1.1 or 1.2 alert (also application/xml, text/xml)"),
    responses(
        (status = 201, description = "aired: `{\"id\", \"aired\": true, \"status\", \"replaced\"}`", body = Object),
        (status = 200, description = "a Cancel (`{\"cancelled\": [id…], \"status\"}`) or a duplicate (`{\"id\", \"duplicate\": true}`)", body = Object),
        (status = 202, description = "recorded, or reaching none of your stations: `{\"id\": null, \"aired\": false, \"status\", \"reason\"?, \"unmatched_geocodes\"?}`", body = Object),
        (status = 413, description = "larger than 1 MiB")
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    headers: HeaderMap,
    body: Body,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    user.require(Role::Operator)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(
        mime.as_str(),
        "application/cap+xml" | "application/xml" | "text/xml"
    ) {
        return Err(AppError::bad_request(format!(
            "Content-Type: {ct:?}; send application/cap+xml or application/xml"
        )));
    }
    let bytes = axum::body::to_bytes(body, MAX_CAP_BYTES)
        .await
        .map_err(|_| {
            AppError::too_large(format!(
                "CAP message larger than {MAX_CAP_BYTES} bytes (1 MiB)"
            ))
        })?;
    let alert = schedules::cap::parse_cap_bytes(&bytes).map_err(cap::parse_error)?;
    // Kept as received, read in the encoding it declares.
    let xml = schedules::cap::decode_xml(&bytes)
        .map_err(cap::parse_error)?
        .into_owned();
    let status = alert.status.as_str();
    Ok(match cap::ingest(&state, &user, now, alert, xml).await? {
        Outcome::Aired { id, replaced } => (
            StatusCode::CREATED,
            Json(json!({"id": id, "aired": true, "status": status, "replaced": replaced})),
        ),
        Outcome::Cancelled(ids) => (
            StatusCode::OK,
            Json(json!({"cancelled": ids, "status": status})),
        ),
        Outcome::Unreached { unmatched } => (
            StatusCode::ACCEPTED,
            Json(json!({"id": null, "aired": false, "status": status,
                "reason": "the alert reaches no station of yours: none lies inside its \
                           polygons or circles and its geocodes name none of your areas or stations",
                "unmatched_geocodes": unmatched})),
        ),
        Outcome::Recorded => (
            StatusCode::ACCEPTED,
            Json(json!({"id": null, "aired": false, "status": status})),
        ),
        Outcome::Duplicate(id) => (StatusCode::OK, Json(json!({"id": id, "duplicate": true}))),
    })
}
