//! Push to stations: one broadcast channel per station feeding its server-sent event
//! streams, and a count of connected streams per station (a connected station is online).
//!
//! Kept behind this small type so that a shared pub/sub can replace it for several nodes.

use schedules::wire::Event;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

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
        let rx = st.tx.subscribe();
        drop(map);
        Subscription {
            rx,
            guard: Connected {
                hub: self.clone(),
                station: station.to_string(),
            },
        }
    }

    /// Send an event to every open stream of `station` (none open: nothing happens; the
    /// station resynchronises when it connects).
    pub fn publish(&self, station: &str, event: Event, data: impl Into<Arc<str>>) {
        let push = Push {
            id: self.next_id(),
            event,
            data: data.into(),
        };
        if event == Event::Urgent {
            self.urgent_pushed.fetch_add(1, Ordering::Relaxed);
        }
        let map = self.stations.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(st) = map.get(station) {
            let _ = st.tx.send(push);
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

    /// Does `station` have an open stream?
    pub fn is_connected(&self, station: &str) -> bool {
        self.stations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(station)
    }
}

impl Hub {
    /// Open event streams, all stations together (for `/metrics`).
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
