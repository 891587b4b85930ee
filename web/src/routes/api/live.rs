//! Live broadcasts (#25): open a session, speak into it over a WebSocket, watch it, stop it;
//! and the stations' side: the stream of stamped frames and their reports. The rules are
//! the application layer's ([`crate::app::targets`], [`crate::app::objects::live`]); the
//! session machinery is [`crate::live`].

use crate::app::audit::record as audit;
use crate::app::{objects, targets, Action};
use crate::auth::{Device, User};
use crate::db::sql::Connection;
use crate::db::{self, live::LiveRow, users::Role};
use crate::error::{AppError, AppResult, JsonBody, PathArg};
use crate::live::run::NewSession;
use crate::live::{self, Format, Session};
use crate::push::live::{StationChange, StationUpdate};
use crate::state::{AppState, Now};
use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use media::voice::{Frame, Framer, Resampler};
use schedules::wire::LiveReport;
use schedules::Priority;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Largest WebSocket message: 64 KiB (a third of a second of 48 kHz stereo).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// `POST /live` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveBody {
    /// What is said, as logged (1 to 200 characters).
    title: String,
    /// Station codes, or `["*"]` for every station in reach.
    #[serde(default)]
    stations: Vec<String>,
    /// Area codes: their stations.
    #[serde(default)]
    areas: Vec<String>,
    /// `priority` (ahead of the queue, cuts nothing) or `emergency` (interrupts).
    #[schema(example = "priority")]
    priority: String,
    /// What the ingest socket's binary messages carry (default: 48 kHz mono PCM).
    #[serde(default)]
    format: Option<Format>,
}

/// `POST /live`'s answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LiveCreated {
    /// The session's id.
    id: String,
    /// The ingest WebSocket's path.
    ingest: String,
}

/// A live session as the caller sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LiveView {
    /// Its id.
    id: String,
    /// What is said.
    title: String,
    /// `priority` or `emergency`.
    priority: String,
    /// `open` (no audio yet), `live` or `ended`.
    state: String,
    /// Opened at.
    created_at: chrono::DateTime<chrono::Utc>,
    /// Opened by (user name).
    created_by: String,
    /// First audio.
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Ended at.
    ended_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why it ended.
    end_reason: Option<String>,
    /// Seconds aired.
    aired_s: f64,
    /// The recording's sha256 in the library, once ended.
    archive: Option<String>,
    /// What the ingest socket carries.
    #[schema(value_type = Object)]
    format: serde_json::Value,
    /// The ingest WebSocket's path.
    ingest: String,
    /// Its state at each target station in the caller's reach.
    stations: Vec<db::live::LiveStation>,
}

fn validate(b: &LiveBody) -> AppResult<(String, Priority, Format)> {
    let title = b.title.trim().to_string();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(AppError::invalid("title: must be 1 to 200 characters"));
    }
    let priority = match b.priority.as_str() {
        "priority" => Priority::Priority,
        "emergency" => Priority::Emergency,
        other => {
            return Err(AppError::invalid(format!(
                "priority: {other:?} must be \"priority\" or \"emergency\""
            )))
        }
    };
    let format = b.format.unwrap_or_default();
    format.check().map_err(AppError::invalid)?;
    Ok((title, priority, format))
}

/// `POST /live` → 201 `{"id","ingest"}`: the session is stored and announced to every
/// target station, which connects to its stream at once; audio flows once the ingest
/// WebSocket sends it.
#[utoipa::path(
    post,
    path = "/api/v1/live",
    summary = "Open a live broadcast (operator; the targets' rules are urgent notices'): the stations connect at once; the audio comes over the `ingest` WebSocket.",
    request_body = LiveBody,
    responses((status = 201, description = "opened", body = LiveCreated))
)]
pub async fn create(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    JsonBody(b): JsonBody<LiveBody>,
) -> AppResult<(StatusCode, Json<LiveCreated>)> {
    user.require(Role::Operator)?;
    let (title, priority, format) = validate(&b)?;
    let id = uuid::Uuid::new_v4().to_string();
    let row = LiveRow {
        id: id.clone(),
        title: title.clone(),
        priority: priority.as_str().to_string(),
        owner_area: user.area.clone(),
        created_by: user.username.clone(),
        created_at: now,
        targets: json!({"stations": b.stations, "areas": b.areas}).to_string(),
        format: serde_json::to_string(&format)?,
        state: "open".into(),
        started_at: None,
        ended_at: None,
        end_reason: None,
        aired_ms: 0,
        archive_sha256: None,
    };
    let (u, r, node) = (user.clone(), row.clone(), state.node.clone());
    let stations = state
        .db
        .call(move |conn| {
            let t = targets::check(conn, &u, &b.stations, &b.areas)?;
            let stations = targets::expand(conn, &t)?;
            if stations.is_empty() {
                return Err(AppError::invalid(
                    "stations: the targets contain no station",
                ));
            }
            let tx = conn.transaction()?;
            db::live::insert(&tx, &r, &stations, &node)?;
            audit(
                &tx,
                now,
                &u,
                "live.create",
                &r.id,
                json!({"title": r.title, "priority": r.priority, "stations": stations,
                       "format": format}),
            )?;
            tx.commit()?;
            Ok(stations)
        })
        .await?;
    live::run::open(
        &state,
        &user,
        NewSession {
            id: id.clone(),
            title,
            priority,
            format,
            stations,
        },
        now,
    );
    Ok((
        StatusCode::CREATED,
        Json(LiveCreated {
            ingest: ingest_path(&id),
            id,
        }),
    ))
}

fn ingest_path(id: &str) -> String {
    format!("/api/v1/live/{id}/ingest")
}

fn view(conn: &Connection, user: &User, l: LiveRow, open: Option<&Session>) -> AppResult<LiveView> {
    let mine: std::collections::HashSet<String> = db::stations::list_in_subtree(conn, &user.area)?
        .into_iter()
        .map(|s| s.code)
        .collect();
    let (state, aired_ms, stations) = match open {
        Some(s) => (s.state().to_string(), s.aired_ms(), s.station_states()),
        None => (
            l.state.clone(),
            l.aired_ms,
            db::live::stations(conn, &l.id)?,
        ),
    };
    let stations: Vec<_> = stations
        .into_iter()
        .filter(|s| mine.contains(&s.code))
        .collect();
    Ok(LiveView {
        ingest: ingest_path(&l.id),
        id: l.id,
        title: l.title,
        priority: l.priority,
        state,
        created_at: l.created_at,
        created_by: l.created_by,
        started_at: l.started_at,
        ended_at: l.ended_at,
        end_reason: l.end_reason,
        aired_s: aired_ms as f64 / 1000.0,
        archive: l.archive_sha256,
        format: serde_json::from_str::<serde_json::Value>(&l.format).unwrap_or_default(),
        stations,
    })
}

/// `GET /live`: the sessions the caller can see, newest first (the last 100).
#[utoipa::path(
    get,
    path = "/api/v1/live",
    summary = "Live sessions in reach, newest first (the last 100).",
    responses((status = 200, description = "the sessions", body = [LiveView]))
)]
pub async fn list(State(state): State<AppState>, user: User) -> AppResult<Json<Vec<LiveView>>> {
    let reg = state.live.clone();
    let out = state
        .db
        .call(move |conn| {
            db::live::list_visible(conn, &user.area, 100)?
                .into_iter()
                .map(|l| {
                    let open = reg.get(&l.id);
                    view(conn, &user, l, open.as_deref())
                })
                .collect()
        })
        .await?;
    Ok(Json(out))
}

/// `GET /live/{id}`: the session, its state at each station, seconds aired.
#[utoipa::path(
    get,
    path = "/api/v1/live/{id}",
    summary = "A live session: its state, each station's state, seconds aired, the recording.",
    responses((status = 200, description = "the session", body = LiveView), (status = 404, description = "no such session in reach"))
)]
pub async fn show(
    State(state): State<AppState>,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<LiveView>> {
    let open = state.live.get(&id);
    let out = state
        .db
        .call(move |conn| {
            let l = objects::live(conn, &user, Action::Read, &id)?;
            view(conn, &user, l, open.as_deref())
        })
        .await?;
    Ok(Json(out))
}

/// `POST /live/{id}/stop` → 200 with the session once it has ended (recording stored);
/// 409 when it had already ended.
#[utoipa::path(
    post,
    path = "/api/v1/live/{id}/stop",
    summary = "End a live session (its recording goes into the library). With several nodes, any node takes it: the session's own node is told and ends it.",
    responses((status = 200, description = "ended", body = LiveView), (status = 404, description = "no such session in reach"), (status = 409, description = "it had ended already"), (status = 503, description = "the node carrying it did not end it within 5 s"))
)]
pub async fn stop(
    State(state): State<AppState>,
    Now(now): Now,
    user: User,
    PathArg(id): PathArg<String>,
) -> AppResult<Json<LiveView>> {
    let (u, i) = (user.clone(), id.clone());
    state
        .db
        .call(move |conn| {
            objects::live(conn, &u, Action::Change, &i)?;
            Ok(())
        })
        .await?;
    let reason = format!("stopped by {}", user.username);
    match state.live.get(&id) {
        Some(session) => {
            if !live::run::end(&state, &session, &reason).await {
                return Err(ended(&id));
            }
        }
        None => stop_elsewhere(&state, &id, reason).await?,
    }
    let (u, i) = (user.clone(), id.clone());
    let out = state
        .db
        .call(move |conn| {
            audit(conn, now, &u, "live.stop", &i, json!({"source": "api"}))?;
            let l = objects::live(conn, &u, Action::Read, &i)?;
            view(conn, &u, l, None)
        })
        .await?;
    Ok(Json(out))
}

fn ended(id: &str) -> AppError {
    AppError::conflict(format!("live session {id} has already ended"))
}

/// How long a stop made through another node waits for the session's node to end it.
const STOP_ELSEWHERE_WAIT: Duration = Duration::from_secs(5);

/// Stop session `id`, which this node does not carry (#26): the node that does is told
/// through the push relay and ends it as if stopped there; answers once it has.
async fn stop_elsewhere(state: &AppState, id: &str, reason: String) -> AppResult<()> {
    let open_on = || {
        let i = id.to_string();
        state.db.call(move |conn| Ok(db::live::open_on(conn, &i)?))
    };
    let Some(mut node) = open_on().await? else {
        return Err(ended(id));
    };
    state.hub.publish_live_station(StationUpdate {
        session: id.to_string(),
        code: String::new(),
        change: StationChange::Stop(reason),
    });
    let deadline = tokio::time::Instant::now() + STOP_ELSEWHERE_WAIT;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        match open_on().await? {
            Some(n) => node = n,
            None => return Ok(()),
        }
    }
    Err(AppError::unavailable(format!(
        "live session {id} is carried by node {node}, which did not end it within {} s; a \
         session whose node is gone is ended within 30 s",
        STOP_ELSEWHERE_WAIT.as_secs()
    )))
}

/// With the session cookie (no `Authorization` header), a WebSocket must come from our own
/// pages: browsers send `Origin` on every WebSocket handshake, and a page of another site
/// would carry the cookie (were it not `SameSite=Strict`) but not our origin.
fn check_origin(headers: &HeaderMap) -> AppResult<()> {
    if headers.contains_key(header::AUTHORIZATION) {
        return Ok(());
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AppError::forbidden("a WebSocket signed in by cookie must send an Origin header")
        })?;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    if host.is_empty() || origin_host != host {
        return Err(AppError::forbidden(format!(
            "origin {origin} is not this server ({host})"
        )));
    }
    Ok(())
}

/// `GET /live/{id}/ingest`: the WebSocket that carries the audio. Only the person who opened
/// the session may speak into it, once at a time.
#[utoipa::path(
    get,
    path = "/api/v1/live/{id}/ingest",
    summary = "WebSocket (Upgrade: websocket) of the person who opened the session: binary messages of audio in the session's format (at most 64 KiB each, in real time); text {\"type\":\"stop\"} or closing ends it. The server sends {\"type\":\"state\"} twice a second, {\"type\":\"error\"} before closing on bad input, {\"type\":\"ended\"} at the end. With the session cookie, Origin must be this server.",
    responses((status = 101, description = "switching to the WebSocket"), (status = 400, description = "not a WebSocket request"), (status = 404, description = "no such session in reach"), (status = 409, description = "another microphone speaks into it, or it has ended"))
)]
pub async fn ingest(
    State(state): State<AppState>,
    user: User,
    headers: HeaderMap,
    PathArg(id): PathArg<String>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AppResult<Response> {
    check_origin(&headers)?;
    let (u, i) = (user.clone(), id.clone());
    let row = state
        .db
        .call(move |conn| Ok(objects::live(conn, &u, Action::Change, &i)?))
        .await?;
    if row.created_by != user.username {
        return Err(AppError::forbidden(format!(
            "only {} who opened live session {id} may speak into it",
            row.created_by
        )));
    }
    let Some(session) = state.live.get(&id).filter(|s| s.ended_now().is_none()) else {
        let i = id.clone();
        let elsewhere = state
            .db
            .call(move |conn| Ok(db::live::open_on(conn, &i)?))
            .await?;
        return Err(match elsewhere {
            // Several nodes (#26): the microphone must reach the session's own node.
            Some(node) => AppError::conflict(format!(
                "live session {id} is carried by node {node}: connect the microphone to that \
                 node (behind a load balancer, send one browser's /api/v1/live/ to one node)"
            )),
            None => ended(&id),
        });
    };
    let Ok(ws) = ws else {
        return Err(AppError::invalid(
            "this is a WebSocket: connect with Upgrade: websocket",
        ));
    };
    if !session.claim_ingest() {
        return Err(AppError::conflict(format!(
            "live session {id} already has its microphone connected"
        )));
    }
    Ok(ws
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| speak(state, session, socket))
        .into_response())
}

/// What the socket tells the page.
fn status(session: &Session) -> Message {
    Message::Text(
        json!({
            "type": "state",
            "state": session.state(),
            "aired_s": session.aired_ms() as f64 / 1000.0,
            "stations": session.station_states(),
        })
        .to_string()
        .into(),
    )
}

/// Close with an error the page shows (a text message first, then the close frame).
async fn refuse(socket: &mut WebSocket, code: u16, message: &str) {
    let _ = socket
        .send(Message::Text(
            json!({"type": "error", "message": message})
                .to_string()
                .into(),
        ))
        .await;
    let reason: String = message.chars().take(60).collect();
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

/// Carry one session's audio from the socket to the stations until it ends.
async fn speak(state: AppState, session: Arc<Session>, mut socket: WebSocket) {
    let mut resampler = Resampler::new(session.format.sample_rate, session.format.channels);
    let mut framer = Framer::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut ended = Box::pin(session.ended());
    let mut mono = Vec::with_capacity(4096);
    let mut pcm = Vec::with_capacity(MAX_MESSAGE_BYTES / 2);
    let fb = session.format.frame_bytes();
    let reason: String = loop {
        tokio::select! {
            e = &mut ended => {
                let _ = socket.send(Message::Text(
                    json!({"type": "ended", "reason": e.reason, "archive": e.archive})
                        .to_string().into())).await;
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            _ = tick.tick() => {
                if socket.send(status(&session)).await.is_err() {
                    break "the sender's connection was lost".into();
                }
            }
            msg = socket.recv() => match msg {
                None => break "the sender closed the connection".into(),
                Some(Err(e)) => break format!("the sender's connection failed: {e}"),
                Some(Ok(Message::Binary(bytes))) => {
                    if bytes.is_empty() || bytes.len() % fb != 0 {
                        let m = format!(
                            "audio message of {} bytes is not whole {}-channel 16-bit frames",
                            bytes.len(), session.format.channels);
                        refuse(&mut socket, 1007, &m).await;
                        break format!("bad input: {m}");
                    }
                    let now = state.clock.now();
                    let arrival_us = now.timestamp_micros();
                    pcm.clear();
                    pcm.extend(bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
                    mono.clear();
                    resampler.push(&pcm, &mut mono);
                    let (before, resyncs) = (framer.stamper.dropped, framer.stamper.resyncs);
                    let frames = framer.push(&mono, arrival_us);
                    if framer.stamper.resyncs != resyncs {
                        tracing::warn!(id = %session.id, "live audio stopped and started again: its timeline restarts at its arrival");
                    }
                    if framer.stamper.dropped > before + 25 {
                        let m = "audio arrives faster than real time";
                        refuse(&mut socket, 1008, m).await;
                        break format!("bad input: {m}");
                    }
                    if session.send(frames, now) {
                        let (s, id) = (state.clone(), session.id.clone());
                        let _ = s.db.call(move |c| Ok(db::live::set_live(c, &id, now)?)).await;
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    match serde_json::from_str::<serde_json::Value>(t.as_str()) {
                        Ok(v) if v["type"] == "stop" => break format!("stopped by {}", session.username),
                        _ => {
                            let m = "unknown text message: send {\"type\":\"stop\"} or audio as binary";
                            refuse(&mut socket, 1003, m).await;
                            break format!("bad input: {m}");
                        }
                    }
                }
                Some(Ok(Message::Close(_))) => break "the sender closed the connection".into(),
                Some(Ok(_)) => {} // ping/pong
            }
        }
    };
    live::run::end(&state, &session, &reason).await;
    if let Some(e) = session.ended_now() {
        let _ = socket
            .send(Message::Text(
                json!({"type": "ended", "reason": e.reason, "archive": e.archive})
                    .to_string()
                    .into(),
            ))
            .await;
    }
    let _ = socket.send(Message::Close(None)).await;
}

// ------------------------------------------------------------------ the stations' side

/// `GET /device/live/{id}/stream`: the session's frames for the token's station (what was
/// sent in the last second first, then as they come; a keep-alive frame every second). A
/// session that has ended answers its end frame alone.
#[utoipa::path(
    get,
    path = "/api/v1/device/live/{id}/stream",
    summary = "A live session's frames for the station (u32 big-endian length, then kind 1 audio: seq, timestamp µs, span µs, IMA ADPCM state and 14 kHz samples; 2 end: JSON; 3 keep-alive, every second).",
    security(("device" = [])),
    responses((status = 200, description = "the frames", body = String, content_type = "application/octet-stream"), (status = 404, description = "no such session for this station"))
)]
pub async fn stream(
    State(state): State<AppState>,
    Now(now): Now,
    device: Device,
    PathArg(id): PathArg<String>,
) -> AppResult<Response> {
    let code = device.station.code.clone();
    let headers = [(header::CONTENT_TYPE, "application/octet-stream")];
    let Some(session) = state.live.get(&id).filter(|s| s.stations.contains(&code)) else {
        let (i, c) = (id.clone(), code.clone());
        let row = state
            .db
            .call(move |conn| {
                let aimed = db::live::stations(conn, &i)?.iter().any(|s| s.code == c);
                Ok(db::live::get(conn, &i)?.filter(|_| aimed))
            })
            .await?
            .ok_or_else(|| AppError::not_found(format!("no live session {id} for {code}")))?;
        // A session open on another node (#26): its frames come through the push relay.
        if row.state != "ended" {
            if let Some((backlog, rx)) = state.hub.live_frames(&id) {
                let guard = StreamGuard::elsewhere(&state, &id, &code);
                let body = Body::from_stream(frames(backlog, rx, guard));
                return Ok((headers, body).into_response());
            }
        }
        let end = live::Ended {
            reason: row.end_reason.unwrap_or_else(|| "ended".into()),
            archive: row.archive_sha256,
        };
        let frame = Frame::End(serde_json::to_string(&end)?).to_bytes();
        return Ok((headers, frame).into_response());
    };
    let (backlog, rx) = session.subscribe();
    session.set_station(&code, now, Some(&["connecting", "lost"]), |s| {
        s.state = "connected".into()
    });
    let guard = StreamGuard::Here {
        state: state.clone(),
        session: session.clone(),
        code,
    };
    let body = Body::from_stream(frames(backlog, rx, guard));
    Ok((headers, body).into_response())
}

/// The backlog, then frames as they come, a keep-alive frame after a second without; ends
/// after the end frame. `guard` lives as long as the stream.
fn frames(
    backlog: Vec<Bytes>,
    rx: tokio::sync::broadcast::Receiver<Bytes>,
    guard: StreamGuard,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(
        (backlog.into_iter(), rx, guard, false),
        |(mut backlog, mut rx, guard, done)| async move {
            if done {
                return None;
            }
            if let Some(b) = backlog.next() {
                let end = is_end(&b);
                return Some((Ok::<Bytes, std::io::Error>(b), (backlog, rx, guard, end)));
            }
            let keep = Bytes::from(Frame::KeepAlive.to_bytes());
            loop {
                match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
                    Err(_) => return Some((Ok(keep), (backlog, rx, guard, false))),
                    Ok(Ok(b)) => {
                        let end = is_end(&b);
                        return Some((Ok(b), (backlog, rx, guard, end)));
                    }
                    // Too slow for the stream: frames were skipped (a gap at this station).
                    Ok(Err(RecvError::Lagged(_))) => continue,
                    Ok(Err(RecvError::Closed)) => return None,
                }
            }
        },
    )
}

fn is_end(b: &[u8]) -> bool {
    b.get(4) == Some(&2)
}

/// A station's stream: while open the station is connected; closed before the session
/// ended, it is `lost`. For a session of another node, that node is told.
enum StreamGuard {
    Here {
        state: AppState,
        session: Arc<Session>,
        code: String,
    },
    Elsewhere {
        hub: Arc<crate::push::Hub>,
        session: String,
        code: String,
    },
}

impl StreamGuard {
    fn elsewhere(state: &AppState, session: &str, code: &str) -> StreamGuard {
        let update = |change| StationUpdate {
            session: session.to_string(),
            code: code.to_string(),
            change,
        };
        state
            .hub
            .publish_live_station(update(StationChange::Opened));
        StreamGuard::Elsewhere {
            hub: state.hub.clone(),
            session: session.to_string(),
            code: code.to_string(),
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        match self {
            StreamGuard::Here {
                state,
                session,
                code,
            } => {
                if session.ended_now().is_none() {
                    let now = state.clock.now();
                    session.set_station(code, now, None, live::stream_closed);
                }
            }
            StreamGuard::Elsewhere { hub, session, code } => {
                hub.publish_live_station(StationUpdate {
                    session: std::mem::take(session),
                    code: std::mem::take(code),
                    change: StationChange::Closed,
                })
            }
        }
    }
}

/// `POST /device/live/{id}/state`: the station's state in the session.
#[utoipa::path(
    post,
    path = "/api/v1/device/live/{id}/state",
    summary = "Report the station's state in a live session.",
    security(("device" = [])),
    request_body = LiveReport,
    responses((status = 204, description = "recorded"), (status = 404, description = "no such session for this station"))
)]
pub async fn report(
    State(state): State<AppState>,
    Now(now): Now,
    device: Device,
    PathArg(id): PathArg<String>,
    JsonBody(r): JsonBody<LiveReport>,
) -> AppResult<StatusCode> {
    let code = device.station.code;
    if !matches!(r.state.as_str(), "waiting" | "airing" | "behind" | "ended") {
        return Err(AppError::invalid(format!(
            "state: {:?} must be waiting, airing, behind or ended",
            r.state
        )));
    }
    if let Some(session) = state.live.get(&id).filter(|s| s.stations.contains(&code)) {
        session.set_station(&code, now, None, |s| live::apply_report(s, &r, now));
        if r.state == "ended" || session.ended_now().is_some() {
            live::run::save_stations(&state, &session).await;
        }
        return Ok(StatusCode::NO_CONTENT);
    }
    let (i, c, report) = (id.clone(), code.clone(), r.clone());
    state
        .db
        .call(move |conn| {
            let mut s = db::live::stations(conn, &i)?
                .into_iter()
                .find(|s| s.code == c)
                .ok_or_else(|| AppError::not_found(format!("no live session {i} for {c}")))?;
            live::apply_report(&mut s, &report, now);
            db::live::set_station(conn, &i, &s)?;
            Ok(())
        })
        .await?;
    // A session of another node (#26): its node keeps its stations' states too.
    state.hub.publish_live_station(StationUpdate {
        session: id,
        code,
        change: StationChange::Report(r),
    });
    Ok(StatusCode::NO_CONTENT)
}
