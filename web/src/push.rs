//! Push to stations: one broadcast channel per station feeding its server-sent event
//! streams, and a count of connected streams per station (a connected station is online).
//!
//! Several nodes sharing one PostgreSQL (#26) attach a [`relay`] to their hub: what is
//! published on one node then reaches the streams held by the others, and a station is
//! connected when any node holds a stream for it. Without a relay the hub is this node's
//! alone.

pub mod live;
pub mod outgoing;
pub mod relay;

use schedules::wire::Event;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{broadcast, mpsc, Notify};

/// One event for a station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// Increasing id (the SSE `id:`).
    pub id: u64,
    /// The SSE event name: `schedule`, `urgent` or `cancel`.
    pub event: Event,
    /// JSON payload, shared by every stream it goes to (an urgent notice may carry its
    /// audio).
    pub data: Arc<str>,
}

/// Events waiting in a station's channel for its slowest stream. Events are rare (a schedule
/// change, an urgent notice, a cancel); a stream that falls further behind is resynchronised
/// with a fresh `schedule` event. Each slot costs memory for every connected station.
const CHANNEL_CAPACITY: usize = 8;

/// The channel of a station with at least one open stream, and how many are open.
#[derive(Debug)]
struct Station {
    tx: broadcast::Sender<Push>,
    streams: usize,
}

/// Per-station channels, kept while the station has an open stream.
#[derive(Debug)]
pub struct Hub {
    stations: Mutex<HashMap<String, Station>>,
    next_id: AtomicU64,
    urgent_pushed: AtomicU64,
    closing: tokio::sync::watch::Sender<bool>,
    /// Where publications go to reach other nodes, while a relay is attached.
    relay: Mutex<Option<mpsc::UnboundedSender<outgoing::Outgoing>>>,
    /// Stations with a stream on another node, as the relay last read it.
    elsewhere: RwLock<HashSet<String>>,
    /// A station got its first stream or lost its last (the relay writes presence soon).
    presence_changed: Notify,
    /// Live sessions of other nodes.
    mirrors: live::Mirrors,
}

/// A station's open event stream; counts as connected until dropped.
#[derive(Debug)]
pub struct Subscription {
    /// Events as they are published.
    pub rx: broadcast::Receiver<Push>,
    guard: Connected,
}

impl Subscription {
    /// The station this subscription is for.
    pub fn station(&self) -> &str {
        &self.guard.station
    }
}

#[derive(Debug)]
struct Connected {
    hub: Arc<Hub>,
    station: String,
}

impl Drop for Connected {
    fn drop(&mut self) {
        let mut map = self.hub.stations.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(st) = map.get_mut(&self.station) {
            st.streams -= 1;
            if st.streams == 0 {
                map.remove(&self.station);
                self.hub.presence_changed.notify_one();
            }
        }
    }
}

impl Hub {
    /// A hub whose event ids start after `first_id`.
    pub fn new(first_id: u64) -> Self {
        Self {
            stations: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(first_id),
            urgent_pushed: AtomicU64::new(0),
            closing: tokio::sync::watch::channel(false).0,
            relay: Mutex::new(None),
            elsewhere: RwLock::new(HashSet::new()),
            presence_changed: Notify::new(),
            mirrors: live::Mirrors::default(),
        }
    }

    /// A fresh, increasing event id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Open a stream for `station`.
    pub fn subscribe(self: &Arc<Self>, station: &str) -> Subscription {
        // Channel and count change under one lock: a stream never holds a channel that the
        // last leaving stream has just dropped.
        let mut map = self.stations.lock().unwrap_or_else(|e| e.into_inner());
        let st = map.entry(station.to_string()).or_insert_with(|| Station {
            tx: broadcast::channel(CHANNEL_CAPACITY).0,
            streams: 0,
        });
        st.streams += 1;
        let first = st.streams == 1;
        let rx = st.tx.subscribe();
        drop(map);
        if first {
            self.presence_changed.notify_one();
        }
        Subscription {
            rx,
            guard: Connected {
                hub: self.clone(),
                station: station.to_string(),
            },
        }
    }

    /// Send an event to every open stream of `station` (none open: nothing happens; the
    /// station resynchronises when it connects), on this node and, through the relay, on
    /// the others.
    pub fn publish(&self, station: &str, event: Event, data: impl Into<Arc<str>>) {
        self.publish_many(&[station.to_string()], event, data);
    }

    /// [`Hub::publish`] for many stations at once: the same event and data, one id, and one
    /// publication for the other nodes (an urgent notice to 10,000 stations is one row).
    pub fn publish_many(&self, stations: &[String], event: Event, data: impl Into<Arc<str>>) {
        if stations.is_empty() {
            return;
        }
        let data = data.into();
        if event == Event::Urgent {
            self.urgent_pushed
                .fetch_add(stations.len() as u64, Ordering::Relaxed);
        }
        self.deliver(stations, event, data.clone());
        let relay = self.relay.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = relay.as_ref() {
            let _ = tx.send(outgoing::Outgoing::Push {
                stations: stations.to_vec(),
                event,
                data,
            });
        }
    }

    /// Send frames of live session `id` of this node to the other nodes (nothing without a
    /// relay): their stations' streams read them from [`Hub::live_frames`] there.
    pub fn publish_live(&self, id: &str, frames: Vec<bytes::Bytes>) {
        let relay = self.relay.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = relay.as_ref() {
            let _ = tx.send(outgoing::Outgoing::Live {
                session: id.to_string(),
                frames,
            });
        }
    }

    /// Tell the node of a live session what became of one of its stations here (nothing
    /// without a relay).
    pub fn publish_live_station(&self, update: live::StationUpdate) {
        let relay = self.relay.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = relay.as_ref() {
            let _ = tx.send(outgoing::Outgoing::LiveStation(update));
        }
    }

    /// What other nodes tell of the stations of this node's live sessions.
    pub fn live_station_updates(&self) -> broadcast::Receiver<live::StationUpdate> {
        self.mirrors.updates()
    }

    /// The frames of live session `id` of another node, with a relay attached (without one
    /// there are no other nodes): what was sent in the last second, then the frames as they
    /// come. The channel closes when the session has sent nothing for
    /// [`live::MIRROR_IDLE`] (its node is gone); a station then reconnects.
    pub fn live_frames(&self, id: &str) -> Option<live::Frames> {
        let attached = self
            .relay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        attached.then(|| self.mirrors.subscribe(id))
    }

    /// Send to the streams of `stations` open on this node only (what the relay does with
    /// what other nodes published), with a fresh id of this node.
    fn deliver(&self, stations: &[String], event: Event, data: Arc<str>) {
        let push = Push {
            id: self.next_id(),
            event,
            data,
        };
        let map = self.stations.lock().unwrap_or_else(|e| e.into_inner());
        for station in stations {
            if let Some(st) = map.get(station) {
                let _ = st.tx.send(push.clone());
            }
        }
    }

    /// End every open stream (the server is shutting down).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`Hub::close`] was called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// Does `station` have an open stream, on this node or (with a relay) on another one
    /// seen lately? The other nodes' streams are as the relay last read them (every
    /// [`relay::RelayConfig::poll`]), so this stays a cheap call.
    pub fn is_connected(&self, station: &str) -> bool {
        self.stations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(station)
            || self
                .elsewhere
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(station)
    }

    /// The open streams of this node, per station.
    fn local_streams(&self) -> HashMap<String, usize> {
        self.stations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(code, st)| (code.clone(), st.streams))
            .collect()
    }

    fn set_elsewhere(&self, stations: HashSet<String>) {
        *self.elsewhere.write().unwrap_or_else(|e| e.into_inner()) = stations;
    }

    /// Attach a relay (`Some`) or detach it (`None`).
    fn set_relay(&self, tx: Option<mpsc::UnboundedSender<outgoing::Outgoing>>) {
        *self.relay.lock().unwrap_or_else(|e| e.into_inner()) = tx;
    }
}

impl Hub {
    /// Open event streams of this node, all stations together (for `/metrics`).
    pub fn connected_streams(&self) -> usize {
        self.stations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|st| st.streams)
            .sum()
    }

    /// Urgent notices published so far, one per station (for `/metrics`).
    pub fn urgent_pushed(&self) -> u64 {
        self.urgent_pushed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_reach_only_their_station_and_connection_is_counted() {
        let hub = Arc::new(Hub::new(0));
        let mut a = hub.subscribe("A");
        let mut b = hub.subscribe("B");
        assert!(hub.is_connected("A"));
        hub.publish("A", Event::Schedule, "{}");
        let got = a.rx.recv().await.unwrap();
        assert_eq!(got.event, Event::Schedule);
        assert!(b.rx.try_recv().is_err());
        hub.publish("A", Event::Urgent, "{}");
        assert!(a.rx.recv().await.unwrap().id > got.id);
        let both = [String::from("A"), String::from("B")];
        hub.publish_many(&both, Event::Cancel, "{}");
        let (x, y) = (a.rx.recv().await.unwrap(), b.rx.recv().await.unwrap());
        assert_eq!(x, y, "one event, one id");
        hub.publish_many(&[], Event::Cancel, "{}");
        let second = hub.subscribe("A");
        drop(a);
        assert!(hub.is_connected("A"), "one stream of A is still open");
        assert_eq!(hub.connected_streams(), 2);
        drop(second);
        assert!(!hub.is_connected("A"));
        assert_eq!(hub.connected_streams(), 1);
        assert_eq!(b.station(), "B");
    }
}
