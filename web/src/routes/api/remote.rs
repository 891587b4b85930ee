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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    kind: String,
    #[serde(default)]
    volume: Option<i64>,
}

/// `POST /stations/{code}/commands` (operator or admin, station in their area) → 202
/// `{"id"}`; pushed to the station at once, or delivered when it reconnects.
pub async fn issue(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(code): PathArg<String>,
    JsonBody(b): JsonBody<CommandBody>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
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
    Ok((StatusCode::ACCEPTED, Json(json!({"id": cmd.id}))))
}

/// `GET /stations/{code}/commands/{id}`: the command and what became of it.
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
