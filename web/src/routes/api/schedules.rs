//! Schedules: create, list, show, replace, pause, resume, delete; and the cron preview.

use crate::app::approval::submit_if_required;
use crate::app::audit::record as audit;
use crate::app::targets;
use crate::app::validate::{Day, Instant};
use crate::app::{objects, Action};
use crate::auth::User;
use crate::db::approvals::{self, Kind};
use crate::db::sql::Connection;
use crate::db::{self, schedules::ScheduleRow, schedules::ScheduleSpec, users::Role};
use crate::error::{AppError, AppResult, JsonBody, PathArg, QueryArgs};
use crate::pages::cron_form::FormError;
use crate::planning::publish_schedules;
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use schedules::rule::next_occurrences;
use schedules::{describe_cron, CronExpr, Lang, Priority, Rule, Sha256, When};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `POST /schedules` and `PUT /schedules/{id}` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    title: String,
    #[serde(default)]
    media_id: Option<String>,
    #[serde(default)]
    programme_id: Option<String>,
    /// Relay this live channel instead of playing a file…
    #[serde(default)]
    channel_id: Option<String>,
    /// …for this long each time (seconds).
    #[serde(default)]
    duration_seconds: Option<u64>,
    #[serde(default)]
    stations: Vec<String>,
    #[serde(default)]
    areas: Vec<String>,
    #[serde(default)]
    cron: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    at: Option<Instant>,
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    starts_on: Option<Day>,
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    ends_on: Option<Day>,
    #[serde(default)]
    #[schema(value_type = Vec<NaiveDate>)]
    excluded_dates: Vec<Day>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    max_wait_minutes: Option<u32>,
}

/// A schedule as answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Schedule)]
pub struct ScheduleView {
    id: String,
    title: String,
    media_id: Option<String>,
    channel_id: Option<String>,
    duration_seconds: Option<u64>,
    programme_id: Option<String>,
    stations: Vec<String>,
    areas: Vec<String>,
    cron: Option<String>,
    at: Option<DateTime<Utc>>,
    starts_on: Option<NaiveDate>,
    ends_on: Option<NaiveDate>,
    excluded_dates: Vec<NaiveDate>,
    priority: Priority,
    category: String,
    max_wait_minutes: u64,
    paused: bool,
    /// approved, draft or rejected (see `/approvals`).
    approval: String,
    approval_history: Vec<approvals::Step>,
    description_vi: Option<String>,
    description_en: Option<String>,
    owner_area: String,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The schedule with its approval state and history.
fn view_in(conn: &Connection, s: ScheduleRow) -> AppResult<ScheduleView> {
    let st =
        approvals::state(conn, Kind::Schedule, &s.id, "")?.unwrap_or(approvals::State::Approved);
    let history = approvals::history(conn, Kind::Schedule, &s.id)?;
    Ok(view_with(s, st.as_str().to_string(), history))
}

fn view_with(
    s: ScheduleRow,
    approval: String,
    approval_history: Vec<approvals::Step>,
) -> ScheduleView {
    let expr = s.spec.cron.as_deref().and_then(|c| CronExpr::parse(c).ok());
    ScheduleView {
        description_vi: expr.as_ref().map(|e| describe_cron(e, Lang::Vi)),
        description_en: expr.as_ref().map(|e| describe_cron(e, Lang::En)),
        id: s.id,
        title: s.spec.title,
        media_id: s.spec.media_sha256,
        channel_id: s.spec.relay.as_ref().map(|r| r.channel_id.clone()),
        duration_seconds: s.spec.relay.as_ref().map(|r| r.window_ms / 1000),
        programme_id: s.spec.programme_id,
        stations: s.spec.stations,
        areas: s.spec.areas,
        cron: s.spec.cron,
        at: s.spec.at,
        starts_on: s.spec.starts_on,
        ends_on: s.spec.ends_on,
        excluded_dates: s.spec.excluded_dates,
        priority: s.spec.priority,
        category: s.spec.category,
        max_wait_minutes: s.spec.max_wait_ms / 60_000,
        paused: s.paused,
        approval,
        approval_history,
        owner_area: s.owner_area,
        created_by: s.created_by,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// Check a body against the store and the user's rights; errors name the field.
fn validate(conn: &Connection, user: &User, b: ScheduleBody) -> AppResult<ScheduleSpec> {
    let title = b.title.trim().to_string();
    if title.is_empty() {
        return Err(AppError::invalid("title: must not be empty"));
    }
    if title.chars().count() > 200 {
        return Err(AppError::invalid("title: at most 200 characters"));
    }
    let given = [
        b.media_id.is_some(),
        b.programme_id.is_some(),
        b.channel_id.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(AppError::invalid(
            "media_id: give one of media_id (a file), programme_id (a programme) or \
             channel_id (a relay), not more",
        ));
    }
    if b.channel_id.is_none() && b.duration_seconds.is_some() {
        return Err(AppError::invalid(
            "duration_seconds: only a relay (channel_id) takes a duration; a file or a programme plays to its end",
        ));
    }
    let (media_sha256, relay, programme_id) = match (&b.media_id, &b.programme_id, &b.channel_id) {
        (Some(m), _, _) => {
            let sha = Sha256::parse(m).map_err(|e| AppError::invalid(format!("media_id: {e}")))?;
            if db::media::get(conn, sha.as_str())?.is_none()
                || !db::media::visible_to(conn, sha.as_str(), &user.area)?
            {
                return Err(AppError::invalid(format!(
                    "media_id: no media {sha} in your library"
                )));
            }
            (Some(sha.to_string()), None, None)
        }
        (None, Some(pid), _) => {
            let p = objects::programme(conn, user, Action::Read, pid)
                .map_err(|_| AppError::invalid(format!("programme_id: no programme {pid:?}")))?;
            let lead = p
                .spec
                .lead_media()
                .ok_or_else(|| AppError::invalid("programme_id: the programme has no media"))?;
            (Some(lead.to_string()), None, Some(p.id))
        }
        (None, None, Some(c)) => {
            let known = db::channels::get(conn, c)?.filter(|ch| {
                db::channels::visible_to(conn, &ch.owner_area, &user.area).unwrap_or(false)
            });
            if known.is_none() {
                return Err(AppError::invalid(format!(
                    "channel_id: no channel {c:?} in your reach"
                )));
            }
            let window_ms = match b.duration_seconds {
                Some(d) if (1..=24 * 3600).contains(&d) => d * 1000,
                Some(d) => {
                    return Err(AppError::invalid(format!(
                        "duration_seconds: {d} must be between 1 and 86400"
                    )))
                }
                None => {
                    return Err(AppError::invalid(
                        "duration_seconds: a relay needs the length of its window",
                    ))
                }
            };
            (
                None,
                Some(db::schedules::RelaySpec {
                    channel_id: c.clone(),
                    window_ms,
                }),
                None,
            )
        }
        (None, None, None) => {
            return Err(AppError::invalid(
                "media_id: give media_id (a file), programme_id (a programme) or channel_id \
                 and duration_seconds (a relay)",
            ))
        }
    };
    let cron = match (&b.cron, b.at) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid("cron: give either cron or at, not both"))
        }
        (None, None) => {
            return Err(AppError::invalid(
                "cron: give a crontab(5) expression in cron, or a one-off time in at",
            ))
        }
        (Some(c), None) => Some(
            CronExpr::parse(c)
                .map_err(|e| AppError::invalid(format!("cron: {e}")))?
                .as_str()
                .to_string(),
        ),
        (None, Some(_)) => None,
    };
    if let (Some(s), Some(e)) = (b.starts_on, b.ends_on) {
        if e < s {
            return Err(AppError::invalid(format!(
                "ends_on: {e} is before starts_on {s}"
            )));
        }
    }
    if b.excluded_dates.len() > 1000 {
        return Err(AppError::invalid("excluded_dates: at most 1000 dates"));
    }
    let priority = match b.priority.as_deref() {
        None | Some("normal") => Priority::Normal,
        Some("priority") => Priority::Priority,
        Some("emergency") => {
            return Err(AppError::invalid(
                "priority: emergency is for urgent notices (POST /api/v1/urgent)",
            ))
        }
        Some(other) => {
            return Err(AppError::invalid(format!(
                "priority: {other:?} must be normal or priority"
            )))
        }
    };
    let category = b.category.unwrap_or_default().trim().to_string();
    if category.chars().count() > 100 {
        return Err(AppError::invalid("category: at most 100 characters"));
    }
    let max_wait_ms = match b.max_wait_minutes {
        None => schedules::DEFAULT_MAX_WAIT_MS,
        Some(m) if m <= 24 * 60 => u64::from(m) * 60_000,
        Some(m) => {
            return Err(AppError::invalid(format!(
                "max_wait_minutes: {m} is more than a day (1440)"
            )))
        }
    };
    let t = targets::check(conn, user, &b.stations, &b.areas)?;
    let mut excluded: Vec<NaiveDate> = b.excluded_dates.into_iter().map(Day::get).collect();
    excluded.sort();
    excluded.dedup();
    Ok(ScheduleSpec {
        title,
        media_sha256,
        relay,
        stations: t.stations,
        areas: t.areas,
        cron,
        at: b.at.map(Instant::get),
        starts_on: b.starts_on.map(Day::get),
        ends_on: b.ends_on.map(Day::get),
        excluded_dates: excluded,
        priority,
        category,
        max_wait_ms,
        programme_id,
    })
}

/// A schedule the user may see (404 otherwise).
fn visible(conn: &Connection, user: &User, id: &str) -> AppResult<ScheduleRow> {
    Ok(objects::schedule(conn, user, Action::Read, id)?)
}

/// A schedule the user may change: theirs (made in their subtree), every target inside
/// their area, operator+.
fn manageable(conn: &Connection, user: &User, id: &str) -> AppResult<ScheduleRow> {
    Ok(objects::schedule(conn, user, Action::Change, id)?)
}

/// `POST /schedules` → 201 `{"id"}`.
#[utoipa::path(
    post,
    path = "/api/v1/schedules",
    summary = "Create a schedule (cron or one-off `at`).",
    request_body = ScheduleBody,
    responses((status = 201, description = "created", body = super::common::Created))
)]
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(body): JsonBody<ScheduleBody>,
) -> AppResult<(StatusCode, Json<super::common::Created>)> {
    user.require(Role::Operator)?;
    let id = uuid::Uuid::new_v4().to_string();
    let (i, u) = (id.clone(), user.clone());
    let stations = state
        .db
        .call(move |conn| {
            let spec = validate(conn, &u, body)?;
            let tx = conn.transaction()?;
            db::schedules::insert(&tx, &i, &spec, &u.area, &u.username, now)?;
            audit(&tx, now, &u, "schedule.create", &i, detail(&spec))?;
            submit_if_required(&tx, &u, Kind::Schedule, &i, &u.area, now)?;
            let stations = db::schedules::target_stations(&tx, &i)?;
            tx.commit()?;
            Ok(stations)
        })
        .await?;
    publish_schedules(&state, stations, now).await;
    Ok((StatusCode::CREATED, Json(super::common::Created { id })))
}

fn detail(spec: &ScheduleSpec) -> serde_json::Value {
    json!({
        "title": spec.title, "media_id": spec.media_sha256,
        "channel_id": spec.relay.as_ref().map(|r| &r.channel_id),
        "duration_seconds": spec.relay.as_ref().map(|r| r.window_ms / 1000),
        "programme_id": spec.programme_id, "stations": spec.stations,
        "areas": spec.areas, "cron": spec.cron, "at": spec.at, "priority": spec.priority,
        "category": spec.category, "starts_on": spec.starts_on, "ends_on": spec.ends_on,
    })
}

/// `GET /schedules` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only those targeting this station.
    station: Option<String>,
}

/// `GET /schedules[?station=CODE]`.
#[utoipa::path(
    get,
    path = "/api/v1/schedules",
    summary = "Schedules in reach.",
    params(ListQuery),
    responses((status = 200, description = "the schedules", body = [ScheduleView]))
)]
pub async fn list(
    State(state): State<AppState>,
    user: User,
    QueryArgs(q): QueryArgs<ListQuery>,
) -> AppResult<Json<Vec<ScheduleView>>> {
    let rows = state
        .db
        .call(move |conn| match q.station {
            Some(code) => {
                let st = targets::station_in_reach(conn, &user, &code)?;
                let rows = db::schedules::for_station(conn, &st.code, &st.area, true)?;
                rows.into_iter().map(|r| view_in(conn, r)).collect()
            }
            None => {
                let rows = db::schedules::list_visible(conn, &user.area)?;
                rows.into_iter().map(|r| view_in(conn, r)).collect()
            }
        })
        .await?;
    Ok(Json(rows))
}

/// `GET /schedules/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}",
    summary = "One schedule.",
    responses((status = 200, description = "the schedule", body = ScheduleView), (status = 404, description = "no such schedule in reach"))
)]
pub async fn show(
    State(state): State<AppState>,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<ScheduleView>> {
    let row = state
        .db
        .call(move |conn| view_in(conn, visible(conn, &user, &id)?))
        .await?;
    Ok(Json(row))
}

/// `PUT /schedules/{id}`: replace with a new body (same shape as create).
#[utoipa::path(
    put,
    path = "/api/v1/schedules/{id}",
    summary = "Replace a schedule.",
    request_body = ScheduleBody,
    responses((status = 200, description = "the schedule", body = ScheduleView), (status = 404, description = "no such schedule in reach"))
)]
pub async fn replace(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
    JsonBody(body): JsonBody<ScheduleBody>,
) -> AppResult<Json<ScheduleView>> {
    let (row, stations) = state
        .db
        .call(move |conn| {
            let old = manageable(conn, &user, &id)?;
            let before = db::schedules::target_stations(conn, &id)?;
            let spec = validate(conn, &user, body)?;
            let tx = conn.transaction()?;
            db::schedules::update(&tx, &id, &spec, now)?;
            audit(&tx, now, &user, "schedule.update", &id, detail(&spec))?;
            submit_if_required(&tx, &user, Kind::Schedule, &id, &old.owner_area, now)?;
            let mut stations = db::schedules::target_stations(&tx, &id)?;
            stations.extend(before);
            stations.sort();
            stations.dedup();
            let row = db::schedules::get(&tx, &id)?
                .ok_or_else(|| AppError::internal("schedule vanished during update"))?;
            let row = view_in(&tx, row)?;
            tx.commit()?;
            Ok((row, stations))
        })
        .await?;
    publish_schedules(&state, stations, now).await;
    Ok(Json(row))
}

async fn set_paused(
    state: AppState,
    now: DateTime<Utc>,
    user: User,
    id: String,
    paused: bool,
) -> AppResult<Json<ScheduleView>> {
    let (row, stations) = state
        .db
        .call(move |conn| {
            let s = manageable(conn, &user, &id)?;
            db::schedules::set_paused(conn, &id, paused, now)?;
            if !paused {
                // Back on air: a caller who may not approve it submits it again.
                submit_if_required(conn, &user, Kind::Schedule, &id, &s.owner_area, now)?;
            }
            let action = if paused {
                "schedule.pause"
            } else {
                "schedule.resume"
            };
            audit(conn, now, &user, action, &id, json!({}))?;
            let row = db::schedules::get(conn, &id)?
                .ok_or_else(|| AppError::not_found(format!("no schedule {id:?}")))?;
            Ok((
                view_in(conn, row)?,
                db::schedules::target_stations(conn, &id)?,
            ))
        })
        .await?;
    publish_schedules(&state, stations, now).await;
    Ok(Json(row))
}

/// `POST /schedules/{id}/pause`.
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/pause",
    summary = "Pause a schedule.",
    responses((status = 200, description = "the schedule", body = ScheduleView), (status = 404, description = "no such schedule in reach"))
)]
pub async fn pause(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<ScheduleView>> {
    set_paused(state, now, user, id, true).await
}

/// `POST /schedules/{id}/resume`.
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/resume",
    summary = "Resume a paused schedule.",
    responses((status = 200, description = "the schedule", body = ScheduleView), (status = 404, description = "no such schedule in reach"))
)]
pub async fn resume(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<ScheduleView>> {
    set_paused(state, now, user, id, false).await
}

/// `DELETE /schedules/{id}` → 204.
#[utoipa::path(
    delete,
    path = "/api/v1/schedules/{id}",
    summary = "Delete a schedule.",
    responses((status = 204, description = "deleted"), (status = 404, description = "no such schedule in reach"))
)]
pub async fn remove(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<StatusCode> {
    let stations = state
        .db
        .call(move |conn| {
            let s = manageable(conn, &user, &id)?;
            let stations = db::schedules::target_stations(conn, &id)?;
            let tx = conn.transaction()?;
            db::schedules::delete(&tx, &id)?;
            audit(&tx, now, &user, "schedule.delete", &id, detail(&s.spec))?;
            tx.commit()?;
            Ok(stations)
        })
        .await?;
    publish_schedules(&state, stations, now).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /schedules/preview` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// A crontab(5) expression; or, instead, `days` and `times` (the page's weekly form).
    cron: Option<String>,
    /// Weekdays, crontab numbering (0 = Sunday … 6 = Saturday), comma-separated.
    days: Option<String>,
    /// Times of day `HH:MM`, comma-separated.
    times: Option<String>,
    /// IANA time zone, default Asia/Ho_Chi_Minh.
    tz: Option<String>,
    /// RFC 3339; default now.
    #[param(value_type = Option<String>, format = DateTime)]
    after: Option<Instant>,
    /// How many times, 1 to 100, default 10.
    count: Option<u32>,
}

/// What `GET /schedules/preview` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// The expression (the weekly form's: its expressions joined by " | ").
    cron: String,
    /// Each expression (one for `cron`; one per distinct minute for the weekly form).
    exprs: Vec<String>,
    /// The time zone it is read in.
    tz: String,
    /// The next firing times.
    times: Vec<DateTime<Utc>>,
    /// The rule in Vietnamese words.
    description_vi: String,
    /// The rule in English words.
    description_en: String,
}

/// `GET /schedules/preview?cron&tz&after&count` → the next `count` (≤ 100, default 10)
/// firing times strictly after `after` (default now), and the rule in words.
///
/// Instead of `cron`, `days` and `times` (the weekly form) are compiled to expressions
/// here, the one place that does it (`exprs`: one per distinct minute); the times are
/// then the first `count` of all of them, and the descriptions joined by "; ".
#[utoipa::path(
    get,
    path = "/api/v1/schedules/preview",
    summary = "Next times a crontab(5) expression, or the weekly form's days and times, fires.",
    params(PreviewQuery),
    responses((status = 200, description = "the next times", body = Preview))
)]
pub async fn preview(
    Now(now): Now,
    _user: User,
    QueryArgs(q): QueryArgs<PreviewQuery>,
) -> AppResult<Json<Preview>> {
    let exprs: Vec<String> = match (&q.cron, &q.days, &q.times) {
        (Some(c), None, None) => vec![c.clone()],
        (None, Some(days), Some(times)) => {
            let mut ds = Vec::new();
            for d in days.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                match d.parse::<u8>() {
                    Ok(n) if n <= 6 => ds.push(n),
                    _ => {
                        return Err(AppError::invalid(format!(
                            "days: {d:?} is not a weekday number 0 (Sunday) to 6 (Saturday)"
                        )))
                    }
                }
            }
            crate::pages::cron_form::compile(&ds, times).map_err(|e| match e {
                FormError::NoDays => AppError::invalid(format!("days: {e}")),
                FormError::BadTime(_) => AppError::invalid(format!("times: {e}")),
            })?
        }
        _ => {
            return Err(AppError::invalid(
                "cron: give either cron, or days and times",
            ))
        }
    };
    let parsed = exprs
        .iter()
        .map(|c| CronExpr::parse(c).map_err(|e| AppError::invalid(format!("cron: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let tz: Tz = match q.tz.as_deref() {
        None | Some("") => schedules::DEFAULT_TZ,
        Some(t) => t
            .parse()
            .map_err(|_| AppError::invalid(format!("tz: unknown IANA time zone {t:?}")))?,
    };
    let count = q.count.unwrap_or(10);
    if count == 0 || count > 100 {
        return Err(AppError::invalid(format!(
            "count: {count} must be between 1 and 100"
        )));
    }
    let after = q.after.map_or(now, Instant::get);
    let each = parsed.clone();
    let times = tokio::task::spawn_blocking(move || {
        let mut all: Vec<DateTime<Utc>> = each
            .iter()
            .flat_map(|e| next_times(e, tz, after, count as usize))
            .collect();
        all.sort();
        all.dedup();
        all.truncate(count as usize);
        all
    })
    .await
    .map_err(AppError::internal)?;
    let describe = |lang| {
        parsed
            .iter()
            .map(|e| describe_cron(e, lang))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let exprs: Vec<String> = parsed.iter().map(|e| e.as_str().to_string()).collect();
    Ok(Json(Preview {
        cron: exprs.join(" | "),
        exprs,
        tz: tz.name().to_string(),
        times,
        description_vi: describe(Lang::Vi),
        description_en: describe(Lang::En),
    }))
}

/// The first `count` firings strictly after `after` (the `schedules` crate looks about
/// eight years ahead, far enough for a 29 February rule).
fn next_times(expr: &CronExpr, tz: Tz, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
    let rule = Rule {
        id: "preview".into(),
        when: When::Cron(expr.clone()),
        tz,
        starts_on: None,
        ends_on: None,
        excluded_dates: Vec::new(),
        priority: Priority::Normal,
        duration_ms: 0,
        max_wait_ms: 0,
    };
    next_occurrences(&rule, after, count)
}
