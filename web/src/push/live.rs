//! Live sessions of other nodes (#25, #26): the frames a session on node A sends reach,
//! through the [`super::relay`], a mirror on node B, from which the streams of B's
//! stations read as they would from a session of B's own. What becomes of B's stations
//! (their stream opened or closed, their reports) goes back to A as [`StationUpdate`]s,
//! so that the session's node keeps the states of all its stations.
//!
//! Frames travel in `NOTIFY` payloads, not rows: live audio is useless late, so a node
//! cut off from PostgreSQL leaves a gap at its stations rather than replaying it.

use bytes::Bytes;
use schedules::wire::LiveReport;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;

/// Frames kept for a station that connects late: 1 s, as for a session of this node.
const BACKLOG_FRAMES: usize = 25;

/// Frames buffered for a slow station before it skips ahead, as for a session of this node.
const STATION_QUEUE: usize = 64;

/// A mirror without frames for this long is dropped (its session's node went away; a
/// session of a node still there sends its end frame).
pub const MIRROR_IDLE: Duration = Duration::from_secs(60);

/// What a station's stream reads: the last second, then the frames as they come.
pub type Frames = (Vec<Bytes>, broadcast::Receiver<Bytes>);

#[derive(Debug)]
struct Mirror {
    tx: broadcast::Sender<Bytes>,
    backlog: VecDeque<Bytes>,
    last: Instant,
}

/// What became of a station in a live session of another node: sent by the node its
/// stream is on to the session's node, which keeps the states of all its stations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationUpdate {
    /// The session.
    pub session: String,
    /// The station.
    pub code: String,
    /// What happened.
    pub change: StationChange,
}

/// See [`StationUpdate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StationChange {
    /// Its stream of the session opened.
    Opened,
    /// Its stream closed.
    Closed,
    /// It reported its state.
    Report(LiveReport),
    /// Someone stopped the session through another node (`code` is empty): its node ends
    /// it with this reason.
    Stop(String),
}

/// Updates from other nodes waiting for the session's task (they are few: a report every
/// few seconds per station).
const UPDATES_QUEUE: usize = 1024;

/// The mirrors of other nodes' sessions, by session id, and the updates other nodes send
/// about this node's sessions.
#[derive(Debug)]
pub(crate) struct Mirrors {
    sessions: Mutex<HashMap<String, Mirror>>,
    updates: broadcast::Sender<StationUpdate>,
}

impl Default for Mirrors {
    fn default() -> Self {
        Mirrors {
            sessions: Mutex::default(),
            updates: broadcast::channel(UPDATES_QUEUE).0,
        }
    }
}

/// Is this (length-prefixed) frame a session's end?
pub fn is_end(frame: &[u8]) -> bool {
    frame.get(4) == Some(&2)
}

impl Mirrors {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Mirror>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn entry<'a>(map: &'a mut HashMap<String, Mirror>, id: &str) -> &'a mut Mirror {
        map.entry(id.to_string()).or_insert_with(|| Mirror {
            tx: broadcast::channel(STATION_QUEUE).0,
            backlog: VecDeque::new(),
            last: Instant::now(),
        })
    }

    /// Frames of session `id` arrived from another node.
    pub(crate) fn deliver(&self, id: &str, frames: Vec<Bytes>) {
        let mut map = self.lock();
        let m = Self::entry(&mut map, id);
        m.last = Instant::now();
        for f in frames {
            if m.backlog.len() >= BACKLOG_FRAMES {
                m.backlog.pop_front();
            }
            m.backlog.push_back(f.clone());
            let _ = m.tx.send(f);
        }
    }

    /// What was sent in the last second, then the frames as they come (a session whose
    /// first frames have not come yet gets its mirror now).
    pub(crate) fn subscribe(&self, id: &str) -> Frames {
        let mut map = self.lock();
        let m = Self::entry(&mut map, id);
        (m.backlog.iter().cloned().collect(), m.tx.subscribe())
    }

    /// An update about one of this node's sessions came from another node.
    pub(crate) fn deliver_update(&self, u: StationUpdate) {
        let _ = self.updates.send(u);
    }

    /// The updates about this node's sessions, as they come.
    pub(crate) fn updates(&self) -> broadcast::Receiver<StationUpdate> {
        self.updates.subscribe()
    }

    /// Drop the mirrors idle for `idle` (their streams end).
    pub(crate) fn expire(&self, idle: Duration) {
        self.lock().retain(|_, m| m.last.elapsed() < idle);
    }
}

/// Split concatenated length-prefixed frames; `None` when they do not add up.
pub(crate) fn split_frames(mut buf: &[u8]) -> Option<Vec<Bytes>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let len = u32::from_be_bytes(buf.get(..4)?.try_into().ok()?) as usize;
        let frame = buf.get(..4 + len)?;
        out.push(Bytes::copy_from_slice(frame));
        buf = &buf[4 + len..];
    }
    Some(out)
}
