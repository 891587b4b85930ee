//! What a node's hub hands its relay for the other nodes (see [`super::relay`]): kept
//! apart from both so that the hub and the relay do not import each other.

use super::live;
use bytes::Bytes;
use schedules::wire::Event;
use std::sync::Arc;

/// What goes to the other nodes.
#[derive(Debug)]
pub enum Outgoing {
    /// A publication.
    Push {
        /// The stations it is for.
        stations: Vec<String>,
        /// Its event.
        event: Event,
        /// Its payload.
        data: Arc<str>,
    },
    /// Frames of a live session of this node.
    Live {
        /// The session.
        session: String,
        /// Its frames.
        frames: Vec<Bytes>,
    },
    /// A station of another node's live session.
    LiveStation(live::StationUpdate),
}
