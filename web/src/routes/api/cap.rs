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
/// What `POST /cap` answers: what became of the alert, in one of five shapes (each has
/// exactly its fields, so an answer matches one of them).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum CapAnswer {
    /// 201: a notice went on air.
    Aired(CapAired),
    /// 200: a `Cancel`.
    Cancelled(CapCancelled),
    /// 202: recorded only; it reaches no station of the caller's.
    Unreached(CapUnreached),
    /// 202: recorded only (a status that does not air).
    Recorded(CapRecorded),
    /// 200: seen before.
    Duplicate(CapDuplicate),
}

/// A notice went on air (for an `Update`, after cancelling those it replaces).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapAired {
    /// The notice.
    id: String,
    /// `true`.
    aired: bool,
    /// The alert's status (`Actual`, `Exercise`…).
    status: &'static str,
    /// Notices an `Update` cancelled.
    replaced: Vec<String>,
}

/// A `Cancel`: the notices it cancelled.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapCancelled {
    /// The notices cancelled.
    cancelled: Vec<String>,
    /// The alert's status.
    status: &'static str,
}

/// Recorded only: no station of the caller's lies inside the alert's polygons or circles,
/// and its geocodes name none.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapUnreached {
    /// `null`.
    id: Option<String>,
    /// `false`.
    aired: bool,
    /// The alert's status.
    status: &'static str,
    /// Why it did not air.
    reason: &'static str,
    /// Geocodes that named no area or station.
    unmatched_geocodes: Vec<String>,
}

/// Recorded only: a status that does not air.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapRecorded {
    /// `null`.
    id: Option<String>,
    /// `false`.
    aired: bool,
    /// The alert's status.
    status: &'static str,
}

/// Seen before: the notice the first message made, if any.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapDuplicate {
    /// That notice.
    id: Option<String>,
    /// `true`.
    duplicate: bool,
}

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
        (status = 201, description = "aired", body = CapAnswer),
        (status = 200, description = "a Cancel, or a message seen before", body = CapAnswer),
        (status = 202, description = "recorded only, or reaching none of your stations", body = CapAnswer),
        (status = 413, description = "larger than 1 MiB")
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    headers: HeaderMap,
    body: Body,
) -> AppResult<(StatusCode, Json<CapAnswer>)> {
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
            Json(CapAnswer::Aired(CapAired {
                id,
                aired: true,
                status,
                replaced,
            })),
        ),
        Outcome::Cancelled(ids) => (
            StatusCode::OK,
            Json(CapAnswer::Cancelled(CapCancelled {
                cancelled: ids,
                status,
            })),
        ),
        Outcome::Unreached { unmatched } => (
            StatusCode::ACCEPTED,
            Json(CapAnswer::Unreached(CapUnreached {
                id: None,
                aired: false,
                status,
                reason: "the alert reaches no station of yours: none lies inside its \
                         polygons or circles and its geocodes name none of your areas or stations",
                unmatched_geocodes: unmatched,
            })),
        ),
        Outcome::Recorded => (
            StatusCode::ACCEPTED,
            Json(CapAnswer::Recorded(CapRecorded {
                id: None,
                aired: false,
                status,
            })),
        ),
        Outcome::Duplicate(id) => (
            StatusCode::OK,
            Json(CapAnswer::Duplicate(CapDuplicate {
                id,
                duplicate: true,
            })),
        ),
    })
}
