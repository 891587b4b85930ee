//! Programmes: create, list, show, replace, delete; a station's own jingle; an area's slot
//! limit.
//!
//! A programme is an ordered list of parts (media from the library, or the jingle slot that
//! each station fills with its own jingle) scheduled like one bulletin (`POST /schedules`
//! with `programme_id`). Editing one changes the airings still to come: stations get the
//! new parts with their next document, an airing already under way keeps the parts it
//! started with, and the as-run log keeps what really aired.

use crate::app::approval::submit_if_required;
use crate::app::audit::record as audit;
use crate::app::targets;
use crate::app::{objects, Action};
use crate::auth::User;
use crate::db::approvals::{self, Kind};
use crate::db::sql::Connection;
use crate::db::{self, programmes::PartSpec, programmes::ProgrammeRow, users::Role};
use crate::error::{AppError, AppResult, JsonBody, PathArg};
use crate::planning::publish_schedules;
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use schedules::Sha256;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Most parts a programme may have.
const MAX_PARTS: usize = 100;

/// One part in a request: a media file, or the jingle slot.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartBody {
    #[serde(default)]
    media_id: Option<String>,
    #[serde(default)]
    jingle: bool,
    #[serde(default)]
    title: Option<String>,
}

/// `POST /programmes` and `PUT /programmes/{id}` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeBody {
    title: String,
    #[serde(default)]
    category: Option<String>,
    parts: Vec<PartBody>,
}

/// One part as answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartView {
    media_id: Option<String>,
    jingle: bool,
    title: String,
    duration_ms: u64,
}

/// A programme as answered: its parts, total length and the slot limit of its area.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Programme)]
pub struct ProgrammeView {
    id: String,
    title: String,
    category: String,
    parts: Vec<PartView>,
    /// The media parts' total (the jingle slot varies by station and is not counted).
    total_ms: u64,
    limit_minutes: Option<u32>,
    over_limit: bool,
    warning_vi: Option<String>,
    warning_en: Option<String>,
    schedules: Vec<String>,
    /// approved, draft or rejected (see `/approvals`).
    approval: String,
    approval_history: Vec<approvals::Step>,
    owner_area: String,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Minutes and seconds, as the warnings write them.
fn mm_ss(ms: u64) -> String {
    format!("{}:{:02}", ms / 60_000, ms / 1000 % 60)
}

/// The warnings (Vietnamese, English) for a programme of `total_ms` against `limit`.
pub fn slot_warning(total_ms: u64, limit: Option<u32>) -> Option<(String, String)> {
    let limit = limit?;
    (total_ms > u64::from(limit) * 60_000).then(|| {
        (
            format!(
                "Chương trình dài {}, vượt giới hạn {limit} phút của khung phát",
                mm_ss(total_ms)
            ),
            format!(
                "The programme lasts {}, over the slot's {limit}-minute limit",
                mm_ss(total_ms)
            ),
        )
    })
}

/// The answer for a stored programme.
pub fn view(conn: &Connection, p: ProgrammeRow) -> AppResult<ProgrammeView> {
    let mut parts = Vec::with_capacity(p.spec.parts.len());
    for part in &p.spec.parts {
        let m = match &part.media_sha256 {
            Some(sha) => db::media::get(conn, sha)?,
            None => None,
        };
        parts.push(PartView {
            media_id: part.media_sha256.clone(),
            jingle: part.media_sha256.is_none(),
            title: if part.title.is_empty() {
                m.as_ref().map(|m| m.title.clone()).unwrap_or_default()
            } else {
                part.title.clone()
            },
            duration_ms: m.map(|m| m.duration_ms).unwrap_or(0),
        });
    }
    let total_ms = parts.iter().map(|p| p.duration_ms).sum();
    let limit = db::areas::slot_limit_minutes(conn, &p.owner_area)?;
    let warning = slot_warning(total_ms, limit);
    let approval =
        approvals::state(conn, Kind::Programme, &p.id, "")?.unwrap_or(approvals::State::Approved);
    Ok(ProgrammeView {
        schedules: db::programmes::schedules_using(conn, &p.id)?,
        approval: approval.as_str().to_string(),
        approval_history: approvals::history(conn, Kind::Programme, &p.id)?,
        id: p.id,
        title: p.spec.title,
        category: p.spec.category,
        parts,
        total_ms,
        limit_minutes: limit,
        over_limit: warning.is_some(),
        warning_vi: warning.as_ref().map(|w| w.0.clone()),
        warning_en: warning.map(|w| w.1),
        owner_area: p.owner_area,
        created_by: p.created_by,
        created_at: p.created_at,
        updated_at: p.updated_at,
    })
}

/// Check a body against the store and the user's rights; errors name the field.
fn validate(
    conn: &Connection,
    user: &User,
    b: ProgrammeBody,
) -> AppResult<db::programmes::ProgrammeSpec> {
    let title = b.title.trim().to_string();
    if title.is_empty() {
        return Err(AppError::invalid("title: must not be empty"));
    }
    if title.chars().count() > 200 {
        return Err(AppError::invalid("title: at most 200 characters"));
    }
    let category = b.category.unwrap_or_default().trim().to_string();
    if category.chars().count() > 100 {
        return Err(AppError::invalid("category: at most 100 characters"));
    }
    if b.parts.len() > MAX_PARTS {
        return Err(AppError::invalid(format!(
            "parts: at most {MAX_PARTS} parts"
        )));
    }
    let mut parts = Vec::with_capacity(b.parts.len());
    for (i, p) in b.parts.into_iter().enumerate() {
        let n = i + 1;
        let title = p.title.unwrap_or_default().trim().to_string();
        if title.chars().count() > 200 {
            return Err(AppError::invalid(format!(
                "parts[{n}].title: at most 200 characters"
            )));
        }
        let media_sha256 = match (p.media_id, p.jingle) {
            (Some(_), true) => {
                return Err(AppError::invalid(format!(
                    "parts[{n}]: give either media_id or jingle, not both"
                )))
            }
            (None, false) => {
                return Err(AppError::invalid(format!(
                    "parts[{n}]: give media_id, or jingle: true for the station's own jingle"
                )))
            }
            (None, true) => None,
            (Some(m), false) => {
                let sha = Sha256::parse(&m)
                    .map_err(|e| AppError::invalid(format!("parts[{n}].media_id: {e}")))?;
                if db::media::get(conn, sha.as_str())?.is_none()
                    || !db::media::visible_to(conn, sha.as_str(), &user.area)?
                {
                    return Err(AppError::invalid(format!(
                        "parts[{n}].media_id: no media {sha} in your library"
                    )));
                }
                Some(sha.to_string())
            }
        };
        parts.push(PartSpec {
            media_sha256,
            title,
        });
    }
    let spec = db::programmes::ProgrammeSpec {
        title,
        category,
        parts,
    };
    if spec.lead_media().is_none() {
        return Err(AppError::invalid(
            "parts: at least one part must be a media file",
        ));
    }
    Ok(spec)
}

/// A programme the user may see (404 otherwise): made in their subtree or above it.
fn visible(conn: &Connection, user: &User, id: &str) -> AppResult<ProgrammeRow> {
    Ok(objects::programme(conn, user, Action::Read, id)?)
}

/// A programme the user may change: made in their subtree, operator+.
fn manageable(conn: &Connection, user: &User, id: &str) -> AppResult<ProgrammeRow> {
    Ok(objects::programme(conn, user, Action::Change, id)?)
}

/// The stations airing a programme now.
fn stations_airing(conn: &Connection, id: &str) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    for s in db::programmes::schedules_using(conn, id)? {
        out.extend(db::schedules::target_stations(conn, &s)?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn detail(spec: &db::programmes::ProgrammeSpec) -> serde_json::Value {
    let parts: Vec<_> = spec
        .parts
        .iter()
        .map(|p| json!({"media_id": p.media_sha256, "title": p.title}))
        .collect();
    json!({"title": spec.title, "category": spec.category, "parts": parts})
}

/// `GET /programmes`.
#[utoipa::path(
    get,
    path = "/api/v1/programmes",
    summary = "Programmes in reach (made in your subtree or above it).",
    responses((status = 200, description = "the programmes", body = [ProgrammeView]))
)]
pub async fn list(
    State(state): State<AppState>,
    user: User,
) -> AppResult<Json<Vec<ProgrammeView>>> {
    let views = state
        .db
        .call(move |conn| {
            db::programmes::list_visible(conn, &user.area)?
                .into_iter()
                .map(|p| view(conn, p))
                .collect::<AppResult<Vec<_>>>()
        })
        .await?;
    Ok(Json(views))
}

/// `POST /programmes` → 201, the programme (with its length against the slot limit).
#[utoipa::path(
    post,
    path = "/api/v1/programmes",
    summary = "Create a programme: ordered parts (media, or the station's jingle slot).",
    request_body = ProgrammeBody,
    responses((status = 201, description = "created", body = ProgrammeView))
)]
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(body): JsonBody<ProgrammeBody>,
) -> AppResult<(StatusCode, Json<ProgrammeView>)> {
    user.require(Role::Operator)?;
    let id = uuid::Uuid::new_v4().to_string();
    let v = state
        .db
        .call(move |conn| {
            let spec = validate(conn, &user, body)?;
            let tx = conn.transaction()?;
            db::programmes::insert(&tx, &id, &spec, &user.area, &user.username, now)?;
            audit(&tx, now, &user, "programme.create", &id, detail(&spec))?;
            submit_if_required(&tx, &user, Kind::Programme, &id, &user.area, now)?;
            let p = db::programmes::get(&tx, &id)?
                .ok_or_else(|| AppError::internal("programme vanished during create"))?;
            let v = view(&tx, p)?;
            tx.commit()?;
            Ok(v)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `GET /programmes/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/programmes/{id}",
    summary = "One programme, with its length against the slot limit.",
    responses((status = 200, description = "the programme", body = ProgrammeView), (status = 404, description = "no such programme in reach"))
)]
pub async fn show(
    State(state): State<AppState>,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<ProgrammeView>> {
    let v = state
        .db
        .call(move |conn| {
            let p = visible(conn, &user, &id)?;
            view(conn, p)
        })
        .await?;
    Ok(Json(v))
}

/// `PUT /programmes/{id}`: replace the title, category and parts (same shape as create).
/// Airings still to come follow; what aired stays as logged.
#[utoipa::path(
    put,
    path = "/api/v1/programmes/{id}",
    summary = "Replace a programme's title, category and parts (airings to come follow).",
    request_body = ProgrammeBody,
    responses((status = 200, description = "the programme", body = ProgrammeView), (status = 404, description = "no such programme in reach"))
)]
pub async fn replace(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
    JsonBody(body): JsonBody<ProgrammeBody>,
) -> AppResult<Json<ProgrammeView>> {
    let (v, stations) = state
        .db
        .call(move |conn| {
            let old = manageable(conn, &user, &id)?;
            let spec = validate(conn, &user, body)?;
            let tx = conn.transaction()?;
            db::programmes::update(&tx, &id, &spec, now)?;
            audit(&tx, now, &user, "programme.update", &id, detail(&spec))?;
            submit_if_required(&tx, &user, Kind::Programme, &id, &old.owner_area, now)?;
            let p = db::programmes::get(&tx, &id)?
                .ok_or_else(|| AppError::internal("programme vanished during update"))?;
            let v = view(&tx, p)?;
            let stations = stations_airing(&tx, &id)?;
            tx.commit()?;
            Ok((v, stations))
        })
        .await?;
    publish_schedules(&state, stations, now).await;
    Ok(Json(v))
}

/// `DELETE /programmes/{id}` → 204; 409 while a schedule airs it.
#[utoipa::path(
    delete,
    path = "/api/v1/programmes/{id}",
    summary = "Delete a programme no schedule airs.",
    responses((status = 204, description = "deleted"), (status = 404, description = "no such programme in reach"), (status = 409, description = "a schedule airs it"))
)]
pub async fn remove(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<StatusCode> {
    state
        .db
        .call(move |conn| {
            let p = manageable(conn, &user, &id)?;
            let using = db::programmes::schedules_using(conn, &id)?;
            if !using.is_empty() {
                return Err(AppError::conflict(format!(
                    "programme {id} is aired by {} schedule(s) ({}); delete those first",
                    using.len(),
                    using.join(", ")
                )));
            }
            let tx = conn.transaction()?;
            db::programmes::delete(&tx, &id)?;
            audit(&tx, now, &user, "programme.delete", &id, detail(&p.spec))?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /stations/{code}/jingle` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JingleBody {
    media_id: Option<String>,
}

/// What `PUT /stations/{code}/jingle` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Jingle {
    /// The station.
    code: String,
    /// Its jingle's SHA-256, if it has one.
    jingle: Option<String>,
}

/// `PUT /stations/{code}/jingle {"media_id": SHA256 | null}`: the station's own jingle,
/// which fills the jingle slot of the programmes it airs (`null`: none, the slot is left
/// out). Operators of the station's area.
#[utoipa::path(
    put,
    path = "/api/v1/stations/{code}/jingle",
    summary = "Set the station's own jingle (fills programmes' jingle slot); null clears it.",
    request_body = JingleBody,
    responses((status = 200, description = "the station's jingle", body = Jingle), (status = 404, description = "no such station in reach"))
)]
pub async fn set_jingle(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(code): PathArg<String>,
    JsonBody(body): JsonBody<JingleBody>,
) -> AppResult<Json<Jingle>> {
    user.require(Role::Operator)?;
    let c = code.clone();
    let jingle = state
        .db
        .call(move |conn| {
            let st = targets::station_in_reach(conn, &user, &c)?;
            let sha = match &body.media_id {
                None => None,
                Some(m) => {
                    let sha = Sha256::parse(m)
                        .map_err(|e| AppError::invalid(format!("media_id: {e}")))?;
                    if db::media::get(conn, sha.as_str())?.is_none()
                        || !db::media::visible_to(conn, sha.as_str(), &user.area)?
                    {
                        return Err(AppError::invalid(format!(
                            "media_id: no media {sha} in your library"
                        )));
                    }
                    Some(sha.to_string())
                }
            };
            let tx = conn.transaction()?;
            db::stations::set_jingle(&tx, &st.code, sha.as_deref())?;
            audit(
                &tx,
                now,
                &user,
                "station.jingle",
                &st.code,
                json!({"media_id": sha}),
            )?;
            tx.commit()?;
            Ok(sha)
        })
        .await?;
    publish_schedules(&state, vec![code.clone()], now).await;
    Ok(Json(Jingle { code, jingle }))
}

/// `PUT /areas/{code}/slot-limit` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotLimitBody {
    minutes: Option<u32>,
}

/// What `PUT /areas/{code}/slot-limit` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SlotLimit {
    /// The area.
    code: String,
    /// Its own limit, minutes (`null`: inherited).
    minutes: Option<u32>,
    /// The limit in force for it, its own or inherited (`null`: none).
    effective_minutes: Option<u32>,
}

/// `PUT /areas/{code}/slot-limit {"minutes": N | null}` (admin): the longest programme
/// the area's slots take, for its whole subtree unless an area below sets its own
/// (`null`: inherit). Programmes longer than it are answered with a warning.
#[utoipa::path(
    put,
    path = "/api/v1/areas/{code}/slot-limit",
    summary = "Set the longest programme an area's slots take, in minutes (admin); null inherits.",
    request_body = SlotLimitBody,
    responses((status = 200, description = "the area's limit", body = SlotLimit), (status = 404, description = "no such area in reach"))
)]
pub async fn set_slot_limit(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(code): PathArg<String>,
    JsonBody(body): JsonBody<SlotLimitBody>,
) -> AppResult<Json<SlotLimit>> {
    user.require(Role::Admin)?;
    if let Some(m) = body.minutes {
        if m == 0 || m > 24 * 60 {
            return Err(AppError::invalid(format!(
                "minutes: {m} must be between 1 and 1440"
            )));
        }
    }
    let limit = state
        .db
        .call(move |conn| {
            objects::area(conn, &user, Action::Change, &code)?;
            let tx = conn.transaction()?;
            db::areas::set_slot_limit_minutes(&tx, &code, body.minutes)?;
            audit(
                &tx,
                now,
                &user,
                "area.slot_limit",
                &code,
                json!({"minutes": body.minutes}),
            )?;
            let effective = db::areas::slot_limit_minutes(&tx, &code)?;
            tx.commit()?;
            Ok(SlotLimit {
                code,
                minutes: body.minutes,
                effective_minutes: effective,
            })
        })
        .await?;
    Ok(Json(limit))
}
