//! Remote control of a station: commands (stop what airs, set the master volume, re-sync)
//! sent at once over its event stream and kept in its document until acknowledged, and its
//! volume schedule.

use crate::app::audit::record as audit;
use crate::app::targets;
use crate::auth::{Device, User};
use crate::db::remote::{self, CommandRow};
use crate::db::users::Role;
use crate::error::{AppError, AppResult, JsonBody, PathArg};
use crate::planning::publish_schedules;
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use schedules::remote::{CommandAck, CommandKind, CommandState, RemoteCommand};
use schedules::volume::{self, VolumeStep};
use schedules::wire::Event;
use serde::Deserialize;
use serde_json::json;

/// `POST /stations/{code}/commands` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    /// stop, volume or resync.
    #[schema(value_type = CommandKind)]
    kind: String,
    /// Percent, 0 to 100; `volume` only.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100)]
    volume: Option<i64>,
}

/// `POST /stations/{code}/commands` (operator or admin, station in their area) → 202
/// `{"id"}`; pushed to the station at once, or delivered when it reconnects.
#[utoipa::path(
    post,
    path = "/api/v1/stations/{code}/commands",
    summary = "Remote command (operator): stop what airs, set the master volume, re-sync now.",
    request_body = CommandBody,
    responses((status = 202, description = "issued; the station acknowledges it", body = super::common::Created), (status = 404, description = "no such station in reach"))
)]
pub async fn issue(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(code): PathArg<String>,
    JsonBody(b): JsonBody<CommandBody>,
) -> AppResult<(StatusCode, Json<super::common::Created>)> {
    user.require(Role::Operator)?;
    let kind: CommandKind = b
        .kind
        .parse()
        .map_err(|e: schedules::ParseError| AppError::invalid(format!("kind: {e}")))?;
    let volume = match (kind, b.volume) {
        (CommandKind::Volume, Some(v)) if (0..=100).contains(&v) => Some(v as u8),
        (CommandKind::Volume, Some(v)) => {
            return Err(AppError::invalid(format!(
                "volume: {v} must be between 0 and 100"
            )))
        }
        (CommandKind::Volume, None) => {
            return Err(AppError::invalid("volume: required for a volume command"))
        }
        (_, Some(_)) => {
            return Err(AppError::invalid(
                "volume: only a volume command takes a volume",
            ))
        }
        (_, None) => None,
    };
    let cmd = RemoteCommand {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        volume,
        issued_at: now,
        issued_by: user.username.clone(),
    };
    let c = cmd.clone();
    let station = state
        .db
        .call(move |conn| {
            let st = targets::station_in_reach(conn, &user, &code)?;
            let tx = conn.transaction()?;
            remote::insert_command(&tx, &st.code, &c)?;
            audit(
                &tx,
                now,
                &user,
                "station.command",
                &st.code,
                json!({"id": c.id, "kind": c.kind, "volume": c.volume}),
            )?;
            tx.commit()?;
            Ok(st.code)
        })
        .await?;
    let data = serde_json::to_string(&cmd)?;
    state.hub.publish(&station, Event::Command, data);
    Ok((
        StatusCode::ACCEPTED,
        Json(super::common::Created { id: cmd.id }),
    ))
}

/// `GET /stations/{code}/commands/{id}`: the command and what became of it.
#[utoipa::path(
    get,
    path = "/api/v1/stations/{code}/commands/{id}",
    summary = "A remote command and the station's acknowledgement.",
    responses((status = 200, description = "the command", body = CommandRow), (status = 404, description = "no such command"))
)]
pub async fn show(
    State(state): State<AppState>,
    user: User,
    PathArg((code, id)): PathArg<(String, String)>,
) -> AppResult<Json<CommandRow>> {
    let row = state
        .db
        .call(move |conn| {
            let st = targets::station_in_reach(conn, &user, &code)?;
            remote::get_command(conn, &st.code, &id)?
                .ok_or_else(|| AppError::not_found(format!("no command {id:?} for {code}")))
        })
        .await?;
    Ok(Json(row))
}

/// `GET /stations/{code}/volume-schedule`.
#[utoipa::path(
    get,
    path = "/api/v1/stations/{code}/volume-schedule",
    summary = "The station's volume schedule (local times).",
    responses((status = 200, description = "the steps", body = [VolumeStep]), (status = 404, description = "no such station in reach"))
)]
pub async fn volume_schedule(
    State(state): State<AppState>,
    user: User,
    PathArg(code): PathArg<String>,
) -> AppResult<Json<Vec<VolumeStep>>> {
    let steps = state
        .db
        .call(move |conn| {
            let st = targets::station_in_reach(conn, &user, &code)?;
            Ok(remote::volume_schedule(conn, &st.code)?)
        })
        .await?;
    Ok(Json(steps))
}

/// `PUT /stations/{code}/volume-schedule` `[{"from":"HH:MM","volume":N}, …]` (operator or
/// admin): local times in the station's time zone, sorted; `[]` removes it.
#[utoipa::path(
    put,
    path = "/api/v1/stations/{code}/volume-schedule",
    summary = "Replace the station's volume schedule (operator); [] removes it.",
    request_body = Vec<VolumeStep>,
    responses((status = 200, description = "the steps", body = [VolumeStep]), (status = 404, description = "no such station in reach"))
)]
pub async fn set_volume_schedule(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(code): PathArg<String>,
    JsonBody(steps): JsonBody<Vec<VolumeStep>>,
) -> AppResult<Json<Vec<VolumeStep>>> {
    user.require(Role::Operator)?;
    volume::check(&steps).map_err(|e| AppError::invalid(format!("volume schedule: {e}")))?;
    let s = steps.clone();
    let station = state
        .db
        .call(move |conn| {
            let st = targets::station_in_reach(conn, &user, &code)?;
            let tx = conn.transaction()?;
            remote::set_volume_schedule(&tx, &st.code, &s, now)?;
            audit(
                &tx,
                now,
                &user,
                "station.volume_schedule",
                &st.code,
                json!({ "steps": s }),
            )?;
            tx.commit()?;
            Ok(st.code)
        })
        .await?;
    publish_schedules(&state, vec![station], now).await;
    Ok(Json(steps))
}

/// `POST /device/commands/{id}/ack` `{"state":"done"|"failed","reason"?,"at"}` → 204.
#[utoipa::path(
    post,
    path = "/api/v1/device/commands/{id}/ack",
    summary = "Acknowledge a remote command (done or failed, with what it did).",
    security(("device" = [])),
    request_body = CommandAck,
    responses((status = 204, description = "recorded"), (status = 404, description = "no such command for this station"))
)]
pub async fn ack(
    State(state): State<AppState>,
    Now(now): Now,
    device: Device,
    PathArg(id): PathArg<String>,
    JsonBody(ack): JsonBody<CommandAck>,
) -> AppResult<StatusCode> {
    if ack.state == CommandState::Pending {
        return Err(AppError::invalid("state: must be done or failed"));
    }
    let st = device.station;
    state
        .db
        .call(move |conn| {
            let reason: Option<String> = ack.reason.map(|r| r.chars().take(500).collect());
            let tx = conn.transaction()?;
            if !remote::acknowledge(&tx, &st.code, &id, ack.state, reason.as_deref(), ack.at)? {
                return Err(AppError::not_found(format!(
                    "no command {id:?} for station {}",
                    st.code
                )));
            }
            crate::db::audit::record(
                &tx,
                &crate::db::audit::Change {
                    at: now,
                    user: &format!("device:{}", st.code),
                    area: &st.area,
                    action: "station.command_ack",
                    target: &st.code,
                    detail: &json!({"id": id, "state": ack.state, "reason": reason}),
                    remote: None,
                },
            )?;
            crate::db::stations::touch(&tx, &st.code, now)?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
