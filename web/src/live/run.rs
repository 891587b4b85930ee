//! What a live session does with the server: open it (stored, announced, watched for
//! silence), end it (recording into the library, each station's log entry), save the
//! stations' states. The session's own types are in [`super`].

use super::*;
use crate::state::AppState;

/// What `POST /live` opens.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Level.
    pub priority: Priority,
    /// Input format.
    pub format: Format,
    /// The stations, expanded and checked.
    pub stations: Vec<String>,
}

/// Register an opened session (already stored), announce it to its stations, and watch
/// it for silence.
pub fn open(
    state: &AppState,
    user: &crate::auth::User,
    n: NewSession,
    now: DateTime<Utc>,
) -> Arc<Session> {
    let archive = match Archive::open(&state.media) {
        Ok(a) => Some(a),
        Err(e) => {
            tracing::error!(id = %n.id, "live session: cannot open the recording file: {e}");
            None
        }
    };
    let stations = n
        .stations
        .iter()
        .map(|c| {
            (
                c.clone(),
                LiveStation {
                    code: c.clone(),
                    state: "connecting".into(),
                    behind_ms: 0,
                    played_ms: 0,
                    gaps: 0,
                    updated_at: now,
                },
            )
        })
        .collect();
    let push = schedules::wire::LivePush {
        id: n.id.clone(),
        title: n.title.clone(),
        priority: n.priority,
        started_at: now,
        stream: format!("/api/v1/device/live/{}/stream", n.id),
        delay_ms: state.config.live_delay_ms,
    };
    let push: Arc<str> = serde_json::to_string(&push)
        .unwrap_or_else(|_| "{}".into())
        .into();
    let session = Arc::new(Session {
        push,
        id: n.id.clone(),
        title: n.title.clone(),
        priority: n.priority,
        username: user.username.clone(),
        area: user.area.clone(),
        format: n.format,
        stations: n.stations.clone(),
        frames: broadcast::channel(STATION_QUEUE).0,
        inner: Mutex::new(Inner {
            ingest: false,
            backlog: VecDeque::new(),
            stations,
            frames_sent: 0,
            last_audio: tokio::time::Instant::now(),
            started: None,
            archive,
            ending: false,
        }),
        ended: watch::channel(None).0,
    });
    state.live.lock().insert(n.id.clone(), session.clone());
    state.hub.publish_many(
        &session.stations,
        schedules::wire::Event::Live,
        session.push.clone(),
    );
    tokio::spawn(watchdog(state.clone(), session.clone()));
    tokio::spawn(to_other_nodes(state.clone(), session.clone()));
    session
}

/// Send the session's frames to the other nodes (#26) as they go to this node's stations
/// (nothing leaves without a relay), until its end frame; meanwhile apply what the other
/// nodes tell of the session's stations whose streams they hold.
async fn to_other_nodes(state: AppState, session: Arc<Session>) {
    use crate::push::live::StationChange;
    use tokio::sync::broadcast::error::RecvError;
    let (_, mut frames_rx) = session.subscribe();
    let mut updates = state.hub.live_station_updates();
    loop {
        tokio::select! {
            got = frames_rx.recv() => {
                let first = match got {
                    Ok(f) => f,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                let mut frames = vec![first];
                while let Ok(f) = frames_rx.try_recv() {
                    frames.push(f);
                }
                let end = frames.iter().any(|f| crate::push::live::is_end(f));
                state.hub.publish_live(&session.id, frames);
                if end {
                    return;
                }
            }
            got = updates.recv() => {
                // The hub keeps the sender: only Lagged can come (updates lost, the next
                // report of each station sets it right).
                let Ok(u) = got else { continue };
                if u.session != session.id {
                    continue;
                }
                let now = state.clock.now();
                match u.change {
                    StationChange::Opened => {
                        session.set_station(&u.code, now, Some(&["connecting", "lost"]), |s| {
                            s.state = "connected".into()
                        })
                    }
                    StationChange::Closed => {
                        if session.ended_now().is_none() {
                            session.set_station(&u.code, now, None, stream_closed);
                        }
                    }
                    StationChange::Report(r) => {
                        session.set_station(&u.code, now, None, |s| apply_report(s, &r, now));
                    }
                    // Its end frame then goes out through the loop's first branch.
                    StationChange::Stop(reason) => {
                        end(&state, &session, &reason).await;
                    }
                }
            }
        }
    }
}

/// End the session after [`crate::state::Config::live_silence`] without audio (a browser
/// that vanished, a sender that never came), or after [`MAX_SESSION_MS`].
async fn watchdog(state: AppState, session: Arc<Session>) {
    let limit = state.config.live_silence;
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = session.ended() => return,
            _ = tick.tick() => {}
        }
        if session.silent_for() >= limit {
            let reason = format!("no audio for {} s", limit.as_secs());
            tracing::warn!(id = %session.id, "live session ends: {reason}");
            end(&state, &session, &reason).await;
            return;
        }
        if session.aired_ms() >= MAX_SESSION_MS {
            end(&state, &session, "the longest session (4 hours) is over").await;
            return;
        }
    }
}

/// End a session (once; later calls wait for nothing and return false): store the recording
/// in the library, save the session and its stations, and tell the stations.
pub async fn end(state: &AppState, session: &Arc<Session>, reason: &str) -> bool {
    let archive = {
        let mut i = session.lock();
        if i.ending {
            return false;
        }
        i.ending = true;
        i.archive.take()
    };
    let now = state.clock.now();
    let aired_ms = session.aired_ms();
    let sha = match archive {
        Some(a) if aired_ms > 0 => store_recording(state, session, a, now).await,
        _ => None,
    };
    let ended = Ended {
        reason: reason.to_string(),
        archive: sha.clone(),
    };
    let (id, r, stations) = (
        session.id.clone(),
        reason.to_string(),
        session.station_states(),
    );
    let started = session.lock().started;
    let saved = state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            if let Some(at) = started {
                db::live::set_live(&tx, &id, at)?;
            }
            db::live::end(&tx, &id, now, &r, aired_ms, sha.as_deref())?;
            for s in &stations {
                db::live::set_station(&tx, &id, s)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await;
    if let Err(e) = saved {
        tracing::error!(id = %session.id, "live session end not saved: {e}");
    }
    tracing::info!(id = %session.id, reason, aired_ms, "live session ended");
    let json = serde_json::to_string(&ended).unwrap_or_else(|_| "{}".into());
    let bytes = Bytes::from(Frame::End(json).to_bytes());
    {
        let mut i = session.lock();
        i.backlog.push_back(bytes.clone());
    }
    let _ = session.frames.send(bytes);
    session.ended.send_replace(Some(ended));
    // Stations still reporting their last state find it for a while; then it is stored only.
    tokio::spawn({
        let (state, id) = (state.clone(), session.id.clone());
        async move {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            state.live.lock().remove(&id);
        }
    });
    true
}

/// Put the recording into the library (the session owner's area).
async fn store_recording(
    state: &AppState,
    session: &Session,
    a: Archive,
    now: DateTime<Utc>,
) -> Option<String> {
    let Archive { writer, file, .. } = a;
    let done = tokio::task::spawn_blocking(move || writer.finalize()).await;
    if !matches!(done, Ok(Ok(()))) {
        tracing::error!(id = %session.id, "live recording could not be finished: {done:?}");
        return None;
    }
    let title = format!(
        "Trực tiếp: {} ({})",
        session.title,
        now.format("%Y-%m-%d %H:%M UTC")
    );
    match library::ingest(
        &state.media,
        &state.db,
        file,
        title,
        session.area.clone(),
        session.username.clone(),
        now,
    )
    .await
    {
        Ok(row) => Some(row.sha256),
        Err(e) => {
            tracing::error!(id = %session.id, "live recording not stored: {e:?}");
            None
        }
    }
}

/// Save the state of a session's stations now (while it is open, for `GET /live/{id}`
/// from another process; called at its end too).
pub async fn save_stations(state: &AppState, session: &Session) {
    let (id, stations) = (session.id.clone(), session.station_states());
    let _ = state
        .db
        .call(move |conn| {
            for s in &stations {
                db::live::set_station(conn, &id, s)?;
            }
            Ok(())
        })
        .await;
}

/// On PostgreSQL, every 10 s: end the live sessions whose node died (see
/// [`crate::db::live::end_orphans`]). One SQLite node ends its own at start.
pub fn spawn_orphan_sweep(state: AppState) {
    if state.db.backend() != crate::db::sql::Backend::Postgres {
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now = state.clock.now();
            match state
                .db
                .call(move |c| Ok(crate::db::live::end_orphans(c, now)?))
                .await
            {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(sessions = n, "ended the live sessions of a node that died")
                }
                Err(e) => tracing::warn!(error = %e.message, "cannot end orphaned live sessions"),
            }
        }
    });
}
