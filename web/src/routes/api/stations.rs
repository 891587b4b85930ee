//! Stations: the list with online state and what is next, one station, its plan, and
//! rotating its device token.

use crate::admin::{self, Actor};
use crate::app::audit::record as audit;
use crate::app::targets;
use crate::app::validate::{Instant, Window};
use crate::auth::{self, User};
use crate::db::sql::Connection;
use crate::db::{self, stations::Station, users::Role};
use crate::error::JsonBody;
use crate::error::{AppResult, PathArg, QueryArgs};
use crate::planning::{plan::plan as plan_of, plan::PlanEntry, publish_schedules};
use crate::routes::api::users::area_in_reach;
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use schedules::geo::GeoPoint;
use schedules::wire::NowPlaying;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The next item a station will air.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Next {
    starts_at: DateTime<Utc>,
    title: String,
    priority: schedules::Priority,
    schedule_id: Option<String>,
    urgent_id: Option<String>,
}

/// A station as answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Station)]
pub struct StationView {
    code: String,
    name: String,
    area: String,
    timezone: String,
    /// Where it is (WGS 84), if set.
    location: Option<GeoPoint>,
    online: bool,
    connected: bool,
    last_seen: Option<DateTime<Utc>>,
    now_playing: Option<NowPlaying>,
    next: Option<Next>,
    schedule_version: String,
    controller_schedule_version: Option<String>,
    controller_version: Option<String>,
    cache_ready: Option<bool>,
    missing_media: usize,
    outbox_len: Option<u64>,
    clock_offset_ms: Option<i64>,
    output: Option<String>,
    output_error: Option<String>,
    /// The master volume the controller last reported, percent.
    volume: Option<u8>,
    /// The latest remote command and what became of it.
    last_command: Option<crate::db::remote::CommandRow>,
}

/// How far ahead `next` looks.
const NEXT_WINDOW: Duration = Duration::days(2);

fn station_view(
    conn: &Connection,
    state: &AppState,
    st: Station,
    now: DateTime<Utc>,
) -> AppResult<StationView> {
    let connected = state.hub.is_connected(&st.code);
    let recent = st
        .last_seen
        .is_some_and(|t| now - t < state.config.online_window);
    let version = crate::planning::document::build(conn, &st, now)?.version;
    let next = plan_of(conn, &st, now, now + NEXT_WINDOW)?
        .into_iter()
        .find(|p: &PlanEntry| p.starts_at >= now && p.status != "skipped")
        .map(|p| Next {
            starts_at: p.starts_at,
            title: p.title,
            priority: p.priority,
            schedule_id: p.schedule_id,
            urgent_id: p.urgent_id,
        });
    let hb = st.heartbeat.clone();
    Ok(StationView {
        online: connected || recent,
        connected,
        last_seen: st.last_seen,
        now_playing: hb.as_ref().and_then(|h| h.now_playing.clone()),
        next,
        schedule_version: version,
        controller_schedule_version: hb.as_ref().and_then(|h| h.schedule_version.clone()),
        controller_version: hb.as_ref().map(|h| h.version.clone()),
        cache_ready: hb.as_ref().map(|h| h.cache_ready),
        missing_media: hb.as_ref().map_or(0, |h| h.missing_media.len()),
        outbox_len: hb.as_ref().map(|h| h.outbox_len),
        clock_offset_ms: hb.as_ref().and_then(|h| h.clock_offset_ms),
        output: hb.as_ref().map(|h| h.output.clone()),
        output_error: hb.as_ref().and_then(|h| h.output_error.clone()),
        volume: hb.as_ref().and_then(|h| h.volume),
        last_command: crate::db::remote::last_command(conn, &st.code)?,
        code: st.code,
        name: st.name,
        area: st.area,
        timezone: st.timezone,
        location: st.location,
    })
}

/// `GET /stations`: the stations in the user's area.
#[utoipa::path(
    get,
    path = "/api/v1/stations",
    summary = "Stations in reach with online state and what plays.",
    responses((status = 200, description = "the stations", body = [StationView]))
)]
pub async fn list(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
) -> AppResult<Json<Vec<StationView>>> {
    let s = state.clone();
    let out = state
        .db
        .call(move |conn| {
            db::stations::list_in_subtree(conn, &user.area)?
                .into_iter()
                .map(|st| station_view(conn, &s, st, now))
                .collect()
        })
        .await?;
    Ok(Json(out))
}

/// `GET /stations/{code}`.
#[utoipa::path(
    get,
    path = "/api/v1/stations/{code}",
    summary = "One station.",
    responses((status = 200, description = "the station", body = StationView), (status = 404, description = "no such station in reach"))
)]
pub async fn show(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(code): PathArg<String>,
) -> AppResult<Json<StationView>> {
    let s = state.clone();
    let out = state
        .db
        .call(move |conn| {
            let st = targets::station_in_reach(conn, &user, &code)?;
            station_view(conn, &s, st, now)
        })
        .await?;
    Ok(Json(out))
}

/// `GET /stations/{code}/plan` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// RFC 3339; default now.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<Instant>,
    /// RFC 3339; default one day after `from`.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<Instant>,
}

/// `GET /stations/{code}/plan?from&to` (default: the next 24 hours; at most 31 days).
#[utoipa::path(
    get,
    path = "/api/v1/stations/{code}/plan",
    summary = "What the station will play, with interruptions and skips.",
    params(PlanQuery),
    responses((status = 200, description = "the plan", body = [PlanEntry]), (status = 404, description = "no such station in reach"))
)]
pub async fn plan(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(code): PathArg<String>,
    QueryArgs(q): QueryArgs<PlanQuery>,
) -> AppResult<Json<Vec<PlanEntry>>> {
    let Window { from, to } = Window::new(
        q.from,
        q.to,
        now,
        Duration::days(1),
        Some(state.config.max_plan_window),
    )?;
    let out = state
        .db
        .call(move |conn| {
            let st = targets::station_in_reach(conn, &user, &code)?;
            plan_of(conn, &st, from, to)
        })
        .await?;
    Ok(Json(out))
}

/// What `POST /stations/{code}/token` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewToken {
    /// The station's code.
    station: String,
    /// Its new device token (shown once).
    token: String,
}

/// `POST /stations/{code}/token` (admin): a new device token; the old one stops working.
#[utoipa::path(
    post,
    path = "/api/v1/stations/{code}/token",
    summary = "Rotate the station's device token (admin); answers the new one once.",
    responses((status = 200, description = "the new token", body = NewToken), (status = 404, description = "no such station in reach"))
)]
pub async fn rotate_token(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(code): PathArg<String>,
) -> AppResult<Json<NewToken>> {
    user.require(Role::Admin)?;
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    let c = code.clone();
    state
        .db
        .call(move |conn| {
            targets::station_in_reach(conn, &user, &c)?;
            db::stations::set_token(conn, &c, &hash)?;
            audit(conn, now, &user, "station.rotate_token", &c, json!({}))?;
            Ok(())
        })
        .await?;
    publish_schedules(&state, vec![code.clone()], now).await;
    Ok(Json(NewToken {
        station: code,
        token,
    }))
}

/// `POST /stations` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStation {
    code: String,
    name: String,
    area: String,
    #[serde(default)]
    timezone: Option<String>,
}

/// What `POST /stations` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StationCreated {
    /// The station's code.
    code: String,
    /// Its device token (shown once).
    token: String,
}

/// `POST /stations` (admin): a station in an area of the admin's subtree → 201 with its
/// device token (shown once).
#[utoipa::path(
    post,
    path = "/api/v1/stations",
    summary = "Add a station (admin); answers its device token once.",
    request_body = NewStation,
    responses((status = 201, description = "added", body = StationCreated), (status = 409, description = "the code is taken"))
)]
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(b): JsonBody<NewStation>,
) -> AppResult<(StatusCode, Json<StationCreated>)> {
    user.require(Role::Admin)?;
    let code = b.code.clone();
    let token = state
        .db
        .call(move |conn| {
            area_in_reach(conn, &user, &b.area)?;
            let actor = Actor {
                name: &user.username,
                remote: user.remote.as_deref(),
            };
            admin::insert_station(
                conn,
                actor,
                &b.code,
                &b.name,
                &b.area,
                b.timezone.as_deref(),
                now,
            )
        })
        .await?;
    Ok((StatusCode::CREATED, Json(StationCreated { code, token })))
}

/// `PATCH /stations/{code}` body: `{"location": {"lat", "lon"}}`, or `null` to clear it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StationChange {
    /// Where it is; `null` clears it.
    #[serde(deserialize_with = "nullable")]
    #[schema(required = true)]
    location: Option<GeoPoint>,
}

/// Required, but may be `null` (serde would read a missing `Option` field as `None`).
fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<GeoPoint>, D::Error> {
    Option::<GeoPoint>::deserialize(d)
}

/// `PATCH /stations/{code}` (admin, a station in reach): set or clear its location.
#[utoipa::path(
    patch,
    path = "/api/v1/stations/{code}",
    summary = "Set (or clear, with null) a station's location (admin).",
    request_body = StationChange,
    responses((status = 200, description = "the station", body = StationView), (status = 404, description = "no such station in reach"))
)]
pub async fn update(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(code): PathArg<String>,
    JsonBody(b): JsonBody<StationChange>,
) -> AppResult<Json<StationView>> {
    let s = state.clone();
    state
        .db
        .call(move |conn| {
            targets::station_in_reach(conn, &user, &code)?;
            crate::app::policy::require_role(&user, crate::app::Kind::Station.change_role())?;
            let actor = Actor {
                name: &user.username,
                remote: user.remote.as_deref(),
            };
            admin::set_station_location(conn, actor, &code, b.location, now)?;
            let st = targets::station_in_reach(conn, &user, &code)?;
            Ok(Json(station_view(conn, &s, st, now)?))
        })
        .await
}
