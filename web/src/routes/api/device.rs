//! The endpoints station controllers use (device token): schedule document, event
//! stream, log upload, heartbeat, urgent acknowledgements. See `schedules::wire`.

use crate::auth::Device;
use crate::db;
use crate::error::{AppError, AppResult, JsonBody, PathArg};
use crate::planning::document;
use crate::push::Push;
use crate::state::{AppState, Now};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, Stream, StreamExt};
use schedules::wire::{Heartbeat, LogAck, LogBatch, ScheduleChanged, UrgentAck};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Most entries one log batch may carry.
pub const MAX_BATCH: usize = 500;

/// `GET /device/schedule`: the station's document, `ETag: "<version>"`, 304 when unchanged.
#[utoipa::path(
    get,
    path = "/api/v1/device/schedule",
    summary = "The station's schedule document; ETag, 304 on If-None-Match.",
    security(("device" = [])),
    responses((status = 200, description = "the document", body = schedules::wire::ScheduleDocument), (status = 304, description = "unchanged since the ETag sent"))
)]
pub async fn schedule(
    State(state): State<AppState>,
    Now(now): Now,
    device: Device,
    headers: HeaderMap,
) -> AppResult<Response> {
    let st = device.station;
    let doc = state
        .db
        .call(move |conn| document::build(conn, &st, now))
        .await?;
    let etag = format!("\"{}\"", doc.version);
    let etag_value = HeaderValue::from_str(&etag).map_err(AppError::internal)?;
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    state.metrics.document_served(unchanged);
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok(([(header::ETAG, etag_value)], Json(doc)).into_response())
}

fn event(p: Push) -> Event {
    Event::default()
        .id(p.id.to_string())
        .event(p.event.as_str())
        .data(p.data)
}

/// A `schedule` event with the station's current version. The id is taken before the
/// document is read, so every change published after it has a larger id.
async fn current_schedule_event(state: &AppState, code: &str) -> Option<(u64, Event)> {
    let id = state.hub.next_id();
    let now = state.clock.now();
    let code = code.to_string();
    let version = state
        .db
        .call(move |conn| {
            let st = db::stations::get(conn, &code)?
                .ok_or_else(|| AppError::not_found("station removed"))?;
            Ok(document::build(conn, &st, now)?.version)
        })
        .await
        .ok()?;
    let data = serde_json::to_string(&ScheduleChanged { version }).ok()?;
    Some((
        id,
        event(Push {
            id,
            event: schedules::wire::Event::Schedule,
            data: data.into(),
        }),
    ))
}

/// `GET /device/events`: server-sent events. The first is always `schedule` with the
/// current version, so a reconnecting controller resynchronises; then `schedule`, `urgent`
/// and `cancel` as they happen; a keep-alive comment every 15 s.
#[utoipa::path(
    get,
    path = "/api/v1/device/events",
    summary = "Server-sent events: `schedule`, `urgent`, `cancel`, `command`; Last-Event-ID.",
    security(("device" = [])),
    responses((status = 200, description = "the event stream", body = String, content_type = "text/event-stream"))
)]
pub async fn events(
    State(state): State<AppState>,
    device: Device,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Subscribe before reading the version, so that nothing published in between is lost.
    let sub = state.hub.subscribe(&device.station.code);
    let first = current_schedule_event(&state, &device.station.code)
        .await
        .ok_or_else(|| AppError::internal("cannot build the schedule document"))?;
    // Live broadcasts on the air for this station now (#25): announced again, so that a
    // station whose stream was down when one began joins it.
    let lives: Vec<Result<Event, Infallible>> = state
        .live
        .for_station(&device.station.code)
        .into_iter()
        .map(|s| {
            Ok(event(Push {
                id: state.hub.next_id(),
                event: schedules::wire::Event::Live,
                data: s.push.clone(),
            }))
        })
        .collect();
    let closed = Box::pin(state.hub.closed());
    // Ids only grow on a stream: an event published while the first one was being built is
    // older than the document it announces, so it is dropped (the document covers it).
    let stream = stream::unfold(
        (Some(first), 0u64, sub, state, closed),
        |(first, mut last, mut sub, state, mut closed)| async move {
            if let Some((id, ev)) = first {
                return Some((Ok(ev), (None, id, sub, state, closed)));
            }
            loop {
                tokio::select! {
                    _ = &mut closed => return None,
                    got = sub.rx.recv() => match got {
                        Ok(p) if p.id <= last => continue,
                        Ok(p) => {
                            last = p.id;
                            return Some((Ok(event(p)), (None, last, sub, state, closed)));
                        }
                        Err(RecvError::Lagged(_)) => {
                            // Missed events: make the controller fetch everything again.
                            let code = sub.station().to_string();
                            if let Some((id, ev)) = current_schedule_event(&state, &code).await {
                                return Some((Ok(ev), (None, id, sub, state, closed)));
                            }
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        },
    );
    // The `schedule` event first (it is ready at once), then the live ones, then the rest.
    let mut stream = Box::pin(stream);
    let first = stream.next().await;
    let stream = stream::iter(first.into_iter().chain(lives)).chain(stream);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// `POST /device/logs`: store entries (idempotent by id) for the token's station.
#[utoipa::path(
    post,
    path = "/api/v1/device/logs",
    summary = "Upload log entries, idempotent by entry id (at most 500).",
    security(("device" = [])),
    request_body = schedules::wire::LogBatch,
    responses((status = 200, description = "the ids now held", body = schedules::wire::LogAck))
)]
pub async fn logs(
    State(state): State<AppState>,
    Now(now): Now,
    device: Device,
    JsonBody(batch): JsonBody<LogBatch>,
) -> AppResult<Json<LogAck>> {
    if batch.entries.len() > MAX_BATCH {
        return Err(AppError::invalid(format!(
            "entries: {} in one batch; at most {MAX_BATCH}",
            batch.entries.len()
        )));
    }
    for (i, e) in batch.entries.iter().enumerate() {
        if e.id.is_empty() || e.id.len() > 200 {
            return Err(AppError::invalid(format!(
                "entries[{i}].id: must be 1 to 200 bytes"
            )));
        }
    }
    let code = device.station.code;
    let (accepted, new) = state
        .db
        .call(move |conn| {
            // The controller deletes what we acknowledge: it must be on disk first.
            db::durably(conn, |tx| -> Result<_, AppError> {
                let counted = db::logs::insert_batch_counted(tx, &code, &batch.entries, now)?;
                db::stations::touch(tx, &code, now)?;
                Ok(counted)
            })
        })
        .await?;
    let new = new as u64;
    state
        .metrics
        .log_entries(new, (accepted.len() as u64).saturating_sub(new));
    Ok(Json(LogAck { accepted }))
}

/// `POST /device/heartbeat` → 204 (the `Date` header lets the controller measure its clock).
#[utoipa::path(
    post,
    path = "/api/v1/device/heartbeat",
    summary = "Heartbeat: version, now playing, cache, clock offset.",
    security(("device" = [])),
    request_body = schedules::wire::Heartbeat,
    responses((status = 204, description = "recorded"))
)]
pub async fn heartbeat(
    State(state): State<AppState>,
    Now(now): Now,
    device: Device,
    JsonBody(hb): JsonBody<Heartbeat>,
) -> AppResult<StatusCode> {
    let code = device.station.code;
    state
        .db
        .call(move |conn| Ok(db::stations::record_heartbeat(conn, &code, &hb, now)?))
        .await?;
    state.metrics.heartbeat();
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /device/urgent/{id}/state` → 204.
#[utoipa::path(
    post,
    path = "/api/v1/device/urgent/{id}/state",
    summary = "Report an urgent notice's state at the station.",
    security(("device" = [])),
    request_body = schedules::wire::UrgentAck,
    responses((status = 204, description = "recorded"), (status = 404, description = "no such notice for this station"))
)]
pub async fn urgent_state(
    State(state): State<AppState>,
    Now(now): Now,
    device: Device,
    PathArg(id): PathArg<String>,
    JsonBody(ack): JsonBody<UrgentAck>,
) -> AppResult<StatusCode> {
    let code = device.station.code;
    let area = device.station.area;
    let remote = device.remote;
    let found = state
        .db
        .call(move |conn| {
            let reason = ack.reason.as_deref().map(|r| {
                let r: String = r.chars().take(500).collect();
                r
            });
            let acked =
                db::urgent::acknowledge(conn, &id, &code, ack.state, ack.at, reason.as_deref())?;
            if let db::urgent::Acked::Moved(from, to) = acked {
                db::audit::record(
                    conn,
                    &db::audit::Change {
                        at: now,
                        user: &format!("device:{code}"),
                        area: &area,
                        action: "urgent.delivery",
                        target: &id,
                        detail: &serde_json::json!({"station": code, "from": from.as_str(),
                            "to": to.as_str(), "at": ack.at, "reason": reason}),
                        remote: remote.as_deref(),
                    },
                )?;
            }
            db::stations::touch(conn, &code, now)?;
            Ok((acked != db::urgent::Acked::Unknown)
                .then_some(())
                .ok_or_else(|| {
                    AppError::not_found(format!("no urgent notice {id:?} for station {code}"))
                }))
        })
        .await?;
    found?;
    Ok(StatusCode::NO_CONTENT)
}
