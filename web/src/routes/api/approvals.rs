//! Approval: the queue, approve, reject (with a comment), an item's history, and which
//! areas require it.
//!
//! In an area that requires approval (set on it or above it), a schedule, programme or
//! media file made or changed by an operator starts as a `draft` and stays away from the
//! stations until someone with the approve right over the area (an `approver` or an
//! `admin` whose subtree holds it) approves it. A rejected item goes back to its author
//! with the comment; editing it submits it again. What approvers make themselves is
//! approved at once. Urgent notices are never held: they air at once and wait in the
//! queue as `review` until someone reviews them. A CAP message that a source's policy holds
//! waits as a `draft` of kind `cap` until it expires: approving it airs it.

use crate::app::approval::may_approve;
use crate::app::audit::record as audit;
use crate::app::{objects, policy, Action};
use crate::auth::User;
use crate::db::approvals::{self, Kind, State as Approval};
use crate::db::sql::Connection;
use crate::db::{self, users::Role};
use crate::error::{AppError, AppResult, JsonBody, PathArg};
use crate::planning::publish_schedules;
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

/// The area an item belongs to, if it exists (a media file: the first area, in the
/// user's subtree, where it waits; else any area it was uploaded in).
fn item_area(conn: &Connection, user: &User, kind: Kind, id: &str) -> AppResult<Option<String>> {
    Ok(match kind {
        Kind::Schedule => db::schedules::get(conn, id)?.map(|s| s.owner_area),
        Kind::Programme => db::programmes::get(conn, id)?.map(|p| p.owner_area),
        Kind::Urgent => db::urgent::get(conn, id)?.map(|u| u.owner_area),
        Kind::Cap => db::cap_sources::message(conn, id)?.map(|(m, _)| m.owner_area),
        Kind::Media => {
            let mut found = None;
            for area in db::media::areas_of(conn, id)? {
                if policy::in_reach(conn, user, &area)? {
                    let draft = approvals::state(conn, kind, id, &area)? == Some(Approval::Draft);
                    if draft || found.is_none() {
                        found = Some(area);
                    }
                    if draft {
                        break;
                    }
                }
            }
            found
        }
    })
}

fn parse_kind(kind: &str) -> AppResult<Kind> {
    kind.parse().map_err(AppError::not_found)
}

/// An item `user` may see: 404 when it does not exist or lies outside their reach.
fn reachable(conn: &Connection, user: &User, kind: Kind, id: &str) -> AppResult<String> {
    let area = item_area(conn, user, kind, id)?
        .ok_or_else(|| AppError::not_found(format!("no {kind} {id:?}")))?;
    if policy::in_reach(conn, user, &area)? {
        Ok(area)
    } else {
        Err(AppError::not_found(format!("no {kind} {id:?}")))
    }
}

/// `GET /approvals`: what waits for approval (drafts) or review (urgent notices) in the
/// user's subtree, oldest submission first.
#[utoipa::path(
    get,
    path = "/api/v1/approvals",
    summary = "Drafts waiting for approval and urgent notices waiting for review, in your subtree.",
    responses((status = 200, description = "the queue", body = [approvals::Pending]))
)]
pub async fn queue(
    State(state): State<AppState>,
    user: User,
) -> AppResult<Json<Vec<approvals::Pending>>> {
    let items = state
        .db
        .call(move |conn| Ok(approvals::queue(conn, &user.area)?))
        .await?;
    Ok(Json(items))
}

/// An item's approval state and history.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Approval)]
pub struct ApprovalView {
    /// schedule, programme, media, urgent or cap.
    kind: Kind,
    /// The item's id.
    id: String,
    /// The area it belongs to.
    area: String,
    /// Where it stands (`null`: never submitted for approval).
    state: Option<approvals::State>,
    /// Every step of its approval.
    history: Vec<approvals::Step>,
    /// A CAP alert's decision: what became of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<serde_json::Value>,
}

/// What `PUT /areas/{code}/approval` answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApprovalRequired {
    /// The area.
    code: String,
    /// Whether it requires approval itself.
    required: bool,
    /// Whether approval is required in it (itself or an area above).
    effective: bool,
}

/// `GET /approvals/{kind}/{id}`: an item's state and every step of its approval.
#[utoipa::path(
    get,
    path = "/api/v1/approvals/{kind}/{id}",
    summary = "An item's approval state and history (kind: schedule, programme, media, urgent).",
    responses((status = 200, description = "its approval", body = ApprovalView), (status = 404, description = "no such item in reach"))
)]
pub async fn show(
    State(state): State<AppState>,
    user: User,
    PathArg((kind, id)): PathArg<(String, String)>,
) -> AppResult<Json<ApprovalView>> {
    let kind = parse_kind(&kind)?;
    let v = state
        .db
        .call(move |conn| {
            let area = reachable(conn, &user, kind, &id)?;
            let st = approvals::state(conn, kind, &id, &area)?;
            Ok(ApprovalView {
                history: approvals::history(conn, kind, &id)?,
                kind,
                id,
                area,
                state: st,
                outcome: None,
            })
        })
        .await?;
    Ok(Json(v))
}

/// `POST /approvals/{kind}/{id}/approve` and `/reject` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    #[serde(default)]
    comment: Option<String>,
}

/// The stations whose document may change when `kind`/`id` is approved or rejected.
fn stations_concerned(
    conn: &Connection,
    kind: Kind,
    id: &str,
    area: &str,
) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    match kind {
        Kind::Schedule => out = db::schedules::target_stations(conn, id)?,
        Kind::Programme => {
            for s in db::programmes::schedules_using(conn, id)? {
                out.extend(db::schedules::target_stations(conn, &s)?);
            }
        }
        Kind::Media => {
            out = db::stations::list_in_subtree(conn, area)?
                .into_iter()
                .map(|s| s.code)
                .collect()
        }
        Kind::Urgent | Kind::Cap => {}
    }
    out.sort();
    out.dedup();
    Ok(out)
}

async fn decide(
    state: AppState,
    now: DateTime<Utc>,
    user: User,
    kind: String,
    id: String,
    comment: Option<String>,
    approve: bool,
) -> AppResult<Json<ApprovalView>> {
    let kind = parse_kind(&kind)?;
    let comment = comment.unwrap_or_default().trim().to_string();
    if comment.chars().count() > 2000 {
        return Err(AppError::invalid("comment: at most 2000 characters"));
    }
    if !approve && comment.is_empty() {
        return Err(AppError::invalid(
            "comment: say why it is rejected, so that its author can fix it",
        ));
    }
    let (v, stations) = state
        .db
        .call(move |conn| {
            let area = reachable(conn, &user, kind, &id)?;
            if !may_approve(conn, &user, kind, &id, &area)? {
                return Err(AppError::forbidden(format!(
                    "approving needs the approver role over area {area}; {} is {} in {}",
                    user.username, user.role, user.area
                )));
            }
            let now_state = approvals::state(conn, kind, &id, &area)?;
            let (to, action) = match (kind, now_state, approve) {
                (Kind::Urgent, Some(Approval::Review), true) => (Approval::Reviewed, "reviewed"),
                (Kind::Urgent, _, false) => {
                    return Err(AppError::invalid(
                        "urgent notices are never held: review them (approve) with a comment",
                    ))
                }
                (Kind::Urgent, _, true) => {
                    return Err(AppError::conflict(format!(
                        "urgent notice {id} is not waiting for review"
                    )))
                }
                (Kind::Cap, Some(Approval::Draft), true) => {
                    let deadline =
                        db::cap_sources::message(conn, &id)?.and_then(|(m, _)| m.deadline);
                    if let Some(d) = deadline.filter(|d| *d <= now) {
                        return Err(AppError::conflict(format!(
                            "CAP message {id} expired at {}; it can no longer air",
                            d.to_rfc3339()
                        )));
                    }
                    (Approval::Approved, "approved")
                }
                (_, Some(Approval::Draft), true) => (Approval::Approved, "approved"),
                (_, Some(Approval::Draft), false) => (Approval::Rejected, "rejected"),
                (_, st, _) => {
                    return Err(AppError::conflict(format!(
                        "{kind} {id} is not waiting for approval (it is {})",
                        st.map(|s| s.as_str()).unwrap_or("unknown")
                    )))
                }
            };
            let tx = conn.transaction()?;
            approvals::set_state(
                &tx,
                kind,
                &id,
                &area,
                to,
                action,
                &user.username,
                &comment,
                now,
            )?;
            audit(
                &tx,
                now,
                &user,
                &format!("{kind}.{action}"),
                &id,
                json!({"area": area, "comment": comment}),
            )?;
            let stations = stations_concerned(&tx, kind, &id, &area)?;
            tx.commit()?;
            Ok((
                ApprovalView {
                    history: approvals::history(conn, kind, &id)?,
                    kind,
                    id: id.clone(),
                    area: area.clone(),
                    state: Some(to),
                    outcome: None,
                },
                stations,
            ))
        })
        .await?;
    publish_schedules(&state, stations, now).await;
    if kind == Kind::Cap {
        let mut v = v;
        let outcome = crate::urgent::sources::decided(&state, now, &v.id, approve).await?;
        v.outcome = Some(outcome.into());
        return Ok(Json(v));
    }
    Ok(Json(v))
}

/// `POST /approvals/{kind}/{id}/approve {"comment"?}`: a draft may air (an urgent notice:
/// reviewed).
#[utoipa::path(
    post,
    path = "/api/v1/approvals/{kind}/{id}/approve",
    summary = "Approve a draft (an urgent notice: mark it reviewed); approver or admin over its area.",
    request_body = Decision,
    responses((status = 200, description = "its approval", body = ApprovalView), (status = 404, description = "no such item in reach"), (status = 409, description = "not waiting for this decision"))
)]
pub async fn approve(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg((kind, id)): PathArg<(String, String)>,
    JsonBody(d): JsonBody<Decision>,
) -> AppResult<Json<ApprovalView>> {
    decide(state, now, user, kind, id, d.comment, true).await
}

/// `POST /approvals/{kind}/{id}/reject {"comment"}`: back to its author, who may edit and
/// so submit it again.
#[utoipa::path(
    post,
    path = "/api/v1/approvals/{kind}/{id}/reject",
    summary = "Reject a draft with a comment; editing it submits it again.",
    request_body = Decision,
    responses((status = 200, description = "its approval", body = ApprovalView), (status = 404, description = "no such item in reach"), (status = 409, description = "not waiting for this decision"))
)]
pub async fn reject(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg((kind, id)): PathArg<(String, String)>,
    JsonBody(d): JsonBody<Decision>,
) -> AppResult<Json<ApprovalView>> {
    decide(state, now, user, kind, id, d.comment, false).await
}

/// `PUT /areas/{code}/approval` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequiredBody {
    required: bool,
}

/// `PUT /areas/{code}/approval {"required": bool}` (admin): whether what operators make in
/// the area (and below it) needs approval before it airs.
#[utoipa::path(
    put,
    path = "/api/v1/areas/{code}/approval",
    summary = "Require approval (or not) for what operators make in an area and below (admin).",
    request_body = RequiredBody,
    responses((status = 200, description = "the area's setting", body = ApprovalRequired), (status = 404, description = "no such area in reach"))
)]
pub async fn set_required(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(code): PathArg<String>,
    JsonBody(b): JsonBody<RequiredBody>,
) -> AppResult<Json<ApprovalRequired>> {
    user.require(Role::Admin)?;
    let v = state
        .db
        .call(move |conn| {
            objects::area(conn, &user, Action::Change, &code)?;
            let tx = conn.transaction()?;
            approvals::set_required(&tx, &code, b.required)?;
            audit(
                &tx,
                now,
                &user,
                "area.approval",
                &code,
                json!({"required": b.required}),
            )?;
            let effective = approvals::required(&tx, &code)?;
            tx.commit()?;
            Ok(ApprovalRequired {
                code,
                required: b.required,
                effective,
            })
        })
        .await?;
    Ok(Json(v))
}
