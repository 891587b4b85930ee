//! Push to stations: one broadcast channel per station feeding its server-sent event
//! streams, and a count of connected streams per station (a connected station is online).
//!
//! Kept behind this small type so that a shared pub/sub can replace it for several nodes.

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
    pub event: &'static str,
    /// JSON payload.
    pub data: String,
}

/// Per-station channels.
#[derive(Debug)]
pub struct Hub {
    channels: Mutex<HashMap<String, broadcast::Sender<Push>>>,
    connected: Mutex<HashMap<String, usize>>,
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
        let mut map = self.hub.connected.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.station) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.station);
            }
        }
    }
}

impl Hub {
    /// A hub whose event ids start after `first_id`.
    pub fn new(first_id: u64) -> Self {
        Self {
            channels: Mutex::new(HashMap::new()),
            connected: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(first_id),
            urgent_pushed: AtomicU64::new(0),
            closing: tokio::sync::watch::channel(false).0,
        }
    }

    /// A fresh, increasing event id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn sender(&self, station: &str) -> broadcast::Sender<Push> {
        let mut map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(station.to_string())
            .or_insert_with(|| broadcast::channel(64).0)
            .clone()
    }

    /// Open a stream for `station`.
    pub fn subscribe(self: &Arc<Self>, station: &str) -> Subscription {
        let rx = self.sender(station).subscribe();
        *self
            .connected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(station.to_string())
            .or_insert(0) += 1;
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
    pub fn publish(&self, station: &str, event: &'static str, data: String) {
        let push = Push {
            id: self.next_id(),
            event,
            data,
        };
        if event == "urgent" {
            self.urgent_pushed.fetch_add(1, Ordering::Relaxed);
        }
        let map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = map.get(station) {
            let _ = tx.send(push);
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
        self.connected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(station)
    }
}

impl Hub {
    /// Open event streams, all stations together (for `/metrics`).
    pub fn connected_streams(&self) -> usize {
        self.connected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
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
        hub.publish("A", "schedule", "{}".into());
        let got = a.rx.recv().await.unwrap();
        assert_eq!(got.event, "schedule");
        assert!(b.rx.try_recv().is_err());
        hub.publish("A", "urgent", "{}".into());
        assert!(a.rx.recv().await.unwrap().id > got.id);
        drop(a);
        assert!(!hub.is_connected("A"));
        assert_eq!(b.station(), "B");
    }
}
