//! The servers a controller talks to, in order of preference. `--server` takes one URL or
//! several, comma-separated (`http://a:8080,http://b:8080`): nodes of one deployment that
//! share its store, or one load balancer in front of them (then a single URL is enough).
//!
//! Every request goes to the *active* server. When it stops answering — the connection is
//! refused or reset, a request times out, or it (or a proxy before it) answers 502, 503 or
//! 504 — the next one becomes active; the event stream reconnects there after its usual
//! short backoff, so a station is back on a live node within a few seconds (the airing
//! never depended on it: it plays from its cache). While a later server is active, the
//! first is asked for `/healthz` every [`RETURN_PROBE`]; after two good answers in a row
//! the controller goes back to it (the event stream moves at once), so a node that comes
//! back takes its stations again and the load spreads as it was planned.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the preferred (first) server is probed while another one is active.
pub const RETURN_PROBE: Duration = Duration::from_secs(10);

/// The list, the active index, and a signal for whoever holds a long connection.
#[derive(Debug)]
pub struct Servers {
    bases: Vec<String>,
    active: AtomicUsize,
    changed: watch::Sender<usize>,
}

/// Why a `--server` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServersError {
    /// Nothing given.
    #[error("no server URL given")]
    Empty,
    /// Not `http://` or `https://`, or no host.
    #[error("server URL {0:?} must be http://HOST[:PORT] or https://HOST[:PORT]")]
    Scheme(String),
    /// Named twice.
    #[error("server URL {0:?} is given twice")]
    Twice(String),
}

impl Servers {
    /// Read a comma-separated list of base URLs (trailing slashes and blanks trimmed).
    pub fn parse(list: &str) -> Result<Self, ServersError> {
        let mut bases: Vec<String> = Vec::new();
        for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let base = raw.trim_end_matches('/').to_string();
            let rest = base
                .strip_prefix("http://")
                .or_else(|| base.strip_prefix("https://"));
            if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
                return Err(ServersError::Scheme(raw.to_string()));
            }
            if bases.contains(&base) {
                return Err(ServersError::Twice(raw.to_string()));
            }
            bases.push(base);
        }
        if bases.is_empty() {
            return Err(ServersError::Empty);
        }
        Ok(Self {
            bases,
            active: AtomicUsize::new(0),
            changed: watch::channel(0).0,
        })
    }

    /// One base URL as given, unchecked (a client built from a value that did not read;
    /// its requests fail with the reason).
    pub fn single(base: &str) -> Self {
        Self {
            bases: vec![base.trim().trim_end_matches('/').to_string()],
            active: AtomicUsize::new(0),
            changed: watch::channel(0).0,
        }
    }

    /// Every base URL, in order of preference.
    pub fn all(&self) -> &[String] {
        &self.bases
    }

    /// The active server: its index and base URL.
    pub fn active(&self) -> (usize, &str) {
        let i = self
            .active
            .load(Ordering::Acquire)
            .min(self.bases.len() - 1);
        (i, &self.bases[i])
    }

    /// Server `index` did not answer: if it is still the active one, the next becomes
    /// active (a no-op with one server, or when another request already moved on).
    pub fn failed(&self, index: usize) {
        let n = self.bases.len();
        if n < 2 {
            return;
        }
        let next = (index + 1) % n;
        if self
            .active
            .compare_exchange(index, next, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            tracing::warn!(
                "server {} does not answer; moving to {}",
                self.bases[index],
                self.bases[next]
            );
            self.changed.send_replace(next);
        }
    }

    /// Make server `index` active (the preferred one is back).
    fn prefer(&self, index: usize) {
        let was = self.active.swap(index, Ordering::AcqRel);
        if was != index {
            tracing::info!(
                "server {} answers again; moving back from {}",
                self.bases[index],
                self.bases[was.min(self.bases.len() - 1)]
            );
            self.changed.send_replace(index);
        }
    }

    /// A receiver that sees every change of the active server.
    pub fn watch(&self) -> watch::Receiver<usize> {
        self.changed.subscribe()
    }

    /// Whether a failure of a request means the server is not answering (rather than
    /// refusing this request).
    pub fn is_unanswered(e: &reqwest::Error) -> bool {
        e.is_connect() || e.is_timeout() || e.is_request()
    }

    /// Whether an answer's status says the node (or the node behind a proxy) is down.
    pub fn is_down_status(status: reqwest::StatusCode) -> bool {
        matches!(status.as_u16(), 502..=504)
    }
}

/// While a later server is active, ask the first for `/healthz` every [`RETURN_PROBE`] and
/// go back to it after two good answers in a row. Runs until the process ends; returns at
/// once with a single server.
pub async fn return_loop(servers: Arc<Servers>, http: reqwest::Client) {
    if servers.all().len() < 2 {
        return;
    }
    let mut good = 0;
    loop {
        tokio::time::sleep(RETURN_PROBE).await;
        if servers.active().0 == 0 {
            good = 0;
            continue;
        }
        let url = format!("{}/healthz", servers.all()[0]);
        let ok = matches!(
            http.get(&url).timeout(Duration::from_secs(3)).send().await,
            Ok(r) if r.status().is_success()
        );
        good = if ok { good + 1 } else { 0 };
        if good >= 2 {
            servers.prefer(0);
            good = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_reads_in_order_and_bad_values_are_named() {
        let s = Servers::parse(" http://a:8080/ , https://b ").unwrap();
        assert_eq!(s.all(), ["http://a:8080", "https://b"]);
        assert_eq!(s.active(), (0, "http://a:8080"));
        assert_eq!(Servers::parse(" , ").unwrap_err(), ServersError::Empty);
        assert_eq!(
            Servers::parse("http://a,ftp://b").unwrap_err(),
            ServersError::Scheme("ftp://b".into())
        );
        assert_eq!(
            Servers::parse("http://").unwrap_err(),
            ServersError::Scheme("http://".into())
        );
        assert_eq!(
            Servers::parse("http://a,http://a/").unwrap_err(),
            ServersError::Twice("http://a/".into())
        );
    }

    #[test]
    fn a_failure_moves_on_once_and_wraps_around() {
        let s = Servers::parse("http://a,http://b,http://c").unwrap();
        let mut w = s.watch();
        s.failed(0);
        assert_eq!(s.active().0, 1);
        assert!(w.has_changed().unwrap());
        assert_eq!(*w.borrow_and_update(), 1);
        // A second request that failed on `a` meanwhile does not skip `b`.
        s.failed(0);
        assert_eq!(s.active().0, 1);
        assert!(!w.has_changed().unwrap());
        s.failed(1);
        s.failed(2);
        assert_eq!(s.active().0, 0, "wraps around to the first");
        s.prefer(0);
        assert!(!w.has_changed().unwrap() || *w.borrow_and_update() == 0);
        let one = Servers::parse("http://a").unwrap();
        one.failed(0);
        assert_eq!(one.active().0, 0);
    }
}
