//! The push relay: several `loaxa-web` nodes on one PostgreSQL share their pushes and
//! their stations' presence (#26).
//!
//! Why PostgreSQL `LISTEN`/`NOTIFY`: the nodes need PostgreSQL for the store anyway, so
//! the bus adds no service to install, secure and watch, and a publication is a row that a
//! node cut off for a while reads when it comes back. The volumes are small: events are
//! rare (a schedule change, an urgent notice, a command), and one publication carries all
//! its stations (an urgent notice to 10,000 stations is one row).
//!
//! How it works, on each node, over one connection (`application_name` is
//! `loaxa-relay:NODE`, to find it in `pg_stat_activity`):
//!
//! - [`Hub::publish`] delivers to this node's streams at once, as before, and hands the
//!   publication to the relay, which stores it in `push_log` and notifies
//!   [`bus::CHANNEL`] in the same statement (several at a time when they queue up).
//! - On each notification, every [`RelayConfig::poll`] as a safety net, and after
//!   reconnecting, the relay reads the rows of other nodes it has not delivered yet and
//!   delivers them to this node's streams, with this node's event ids.
//! - Every [`RelayConfig::presence`], and soon after a station gets its first stream on
//!   this node or loses its last, the relay writes which stations this node holds streams
//!   for, and that it is alive. Every poll it reads the stations held by the other nodes
//!   seen within [`RelayConfig::alive_window`]; [`Hub::is_connected`] answers from that.
//! - PostgreSQL gone: the relay logs it once, keeps what is published meanwhile (at most
//!   [`RelayConfig::max_pending`]), reconnects with backoff, then stores what it kept and
//!   delivers what the others published meanwhile (rows are kept [`RelayConfig::keep`]).
//!
//! Ids: rows are read by id, and an id can become visible after a larger one (two nodes
//! inserting at once). So the safety-net poll re-reads the ids of the last
//! [`RelayConfig::settle`] and delivers those it had not; a notification reads only the
//! ids above the newest delivered (cheap when thousands of rows come at once).

use super::outgoing::Outgoing;
use super::{live, Hub};
use crate::db::bus;
use base64::Engine as _;
use bytes::Bytes;
use schedules::wire::Event;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// Settings of a relay; [`RelayConfig::new`] has the production values.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// This node's name, for people (the host name and the port, say). Each start of a
    /// relay also gets an identity of its own (`NAME/xxxxxxxx`, in `push_log.origin` and the
    /// presence tables), so two nodes given the same name still reach each other.
    pub node: String,
    /// Safety-net poll of `push_log`, and refresh of the other nodes' stations: 2 s.
    pub poll: Duration,
    /// How often this node says it is alive and writes its stations: 3 s.
    pub presence: Duration,
    /// A node not seen for this long holds no streams: 10 s.
    pub alive_window: Duration,
    /// How long publications are kept for nodes that were cut off: 10 minutes.
    pub keep: Duration,
    /// How long an id may stay invisible behind a larger one (longer than `poll`): 5 s.
    pub settle: Duration,
    /// Publications kept while PostgreSQL is away; the oldest go first: 10,000.
    pub max_pending: usize,
    /// Longest wait for one answer of PostgreSQL before the connection counts as lost: 10 s.
    pub timeout: Duration,
}

impl RelayConfig {
    /// The production settings for `node`.
    pub fn new(node: &str) -> Self {
        RelayConfig {
            node: node.to_string(),
            poll: Duration::from_secs(2),
            presence: Duration::from_secs(3),
            alive_window: Duration::from_secs(10),
            keep: Duration::from_secs(600),
            settle: Duration::from_secs(5),
            max_pending: 10_000,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The URL is not a PostgreSQL connection string.
    #[error("push relay: bad PostgreSQL URL: {}", describe(.0))]
    Url(tokio_postgres::Error),
    /// PostgreSQL refused or failed.
    #[error("push relay: PostgreSQL: {}", describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// PostgreSQL did not answer in time.
    #[error("push relay: PostgreSQL did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection ended.
    #[error("push relay: the PostgreSQL connection ended")]
    Closed,
}

/// A `tokio_postgres` error with its cause: its own text is only the kind ("db error").
pub fn describe(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// What the connection receives, and the backend that sent it.
#[derive(Debug)]
struct Note {
    from: i32,
    what: What,
}

#[derive(Debug)]
enum What {
    /// Something was stored in `push_log`.
    Push,
    /// A [`bus::LIVE_CHANNEL`] payload.
    Live(String),
}

/// A running relay. [`RelayHandle::stop`] stops it cleanly (the other nodes forget this
/// node's streams at once); dropping it stops it abruptly, as a crash would (they forget
/// them after [`RelayConfig::alive_window`]). Either way the hub is this node's alone again.
#[derive(Debug)]
pub struct RelayHandle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    hub: Arc<Hub>,
}

impl RelayHandle {
    /// Store what is still queued, withdraw this node's streams, and stop.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.hub.set_relay(None);
        self.hub.set_elsewhere(HashSet::new());
    }
}

/// Attach a relay with the production settings to `hub`: see [`start_relay_with`].
pub async fn start_relay(url: &str, node: &str, hub: Arc<Hub>) -> Result<RelayHandle, RelayError> {
    start_relay_with(url, RelayConfig::new(node), hub).await
}

/// Connect to `url` (`postgres://…`, without TLS), create the bus tables unless there,
/// and attach a relay to `hub`. Fails only when that first connection does; later
/// outages are retried for ever. Publications from before the start are not delivered.
pub async fn start_relay_with(
    url: &str,
    config: RelayConfig,
    hub: Arc<Hub>,
) -> Result<RelayHandle, RelayError> {
    let mut pg: tokio_postgres::Config = url.parse().map_err(RelayError::Url)?;
    pg.application_name(format!("loaxa-relay:{}", config.node))
        .connect_timeout(config.timeout)
        .keepalives_idle(Duration::from_secs(10));
    let conn = Conn::open(&pg, config.timeout).await?;
    let floor = step(config.timeout, bus::newest(&conn.client)).await?;
    let (tx, outbox) = mpsc::unbounded_channel();
    hub.set_relay(Some(tx));
    let (stop, stopped) = oneshot::channel();
    let instance = uuid::Uuid::new_v4().simple().to_string();
    let relay = Relay {
        hub: hub.clone(),
        pg,
        me: format!("{}/{}", config.node, &instance[..8]),
        instance,
        seq: 0,
        pending: VecDeque::new(),
        dropped: 0,
        floor,
        seen: BTreeSet::new(),
        marks: VecDeque::new(),
        written: HashMap::new(),
        config,
    };
    let task = tokio::spawn(relay.run(conn, outbox, stopped));
    Ok(RelayHandle {
        stop: Some(stop),
        task: Some(task),
        hub,
    })
}

/// An answer within `limit`, or the connection counts as lost.
async fn step<T>(
    limit: Duration,
    f: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, RelayError> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(RelayError::Timeout(limit)),
    }
}

/// One connection: the client, its backend's pid, and the notifications its connection
/// task receives (`None` once the connection has ended).
struct Conn {
    client: Client,
    pid: i32,
    notes: mpsc::UnboundedReceiver<Note>,
}

impl Conn {
    async fn open(pg: &tokio_postgres::Config, limit: Duration) -> Result<Conn, RelayError> {
        let (client, mut connection) = match tokio::time::timeout(limit, pg.connect(NoTls)).await {
            Ok(r) => r?,
            Err(_) => return Err(RelayError::Timeout(limit)),
        };
        let (tx, notes) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = std::pin::pin!(futures_util::stream::poll_fn(move |cx| {
                connection.poll_message(cx)
            }));
            while let Some(m) = futures_util::StreamExt::next(&mut messages).await {
                match m {
                    Ok(AsyncMessage::Notification(n)) => {
                        let what = if n.channel() == bus::LIVE_CHANNEL {
                            What::Live(n.payload().to_string())
                        } else {
                            What::Push
                        };
                        let note = Note {
                            from: n.process_id(),
                            what,
                        };
                        if tx.send(note).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("push relay: connection: {e}");
                        return;
                    }
                }
            }
        });
        step(limit, bus::prepare(&client)).await?;
        let pid = step(limit, bus::backend_pid(&client)).await?;
        Ok(Conn { client, pid, notes })
    }
}

struct Relay {
    hub: Arc<Hub>,
    config: RelayConfig,
    pg: tokio_postgres::Config,
    /// This start's identity among the nodes: `NAME/xxxxxxxx`.
    me: String,
    /// Unique per start: the keys of this run's publications are `instance-seq`.
    instance: String,
    seq: u64,
    /// Publications not stored yet, oldest first.
    pending: VecDeque<bus::NewPush>,
    /// Publications given up while PostgreSQL was away, not logged yet.
    dropped: u64,
    /// Every row of another node at or below this id was delivered (or given up).
    floor: i64,
    /// Rows above `floor` delivered already.
    seen: BTreeSet<i64>,
    /// The largest id seen at each instant, to move `floor` up once settled.
    marks: VecDeque<(Instant, i64)>,
    /// This node's streams per station as stored.
    written: HashMap<String, usize>,
}

/// What [`Relay::serve`] ended with, other than an error.
struct Stopped;

impl Relay {
    async fn run(
        mut self,
        first: Conn,
        mut outbox: mpsc::UnboundedReceiver<Outgoing>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut conn = Some(first);
        let mut down_since: Option<Instant> = None;
        let mut backoff = Duration::from_millis(100);
        // A deadline, not a sleep per turn: what is published meanwhile must not put the
        // next attempt off.
        let mut retry_at = Instant::now();
        loop {
            let Some(mut c) = conn.take() else {
                tokio::select! {
                    _ = &mut stop => return,
                    o = outbox.recv() => match o {
                        // Live audio is useless late: dropped while cut off.
                        Some(o) => self.queue(o, &mut Vec::new(), &mut Vec::new()),
                        None => return,
                    },
                    _ = tokio::time::sleep_until(retry_at) => {
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        retry_at = Instant::now() + backoff;
                        match Conn::open(&self.pg, self.config.timeout).await {
                            Ok(c) => conn = Some(c),
                            Err(e) => tracing::debug!("push relay: still no PostgreSQL: {e}"),
                        }
                    }
                }
                if down_since.is_some_and(|t| t.elapsed() > self.config.alive_window) {
                    // What the other nodes hold is unknown now: count none.
                    self.hub.set_elsewhere(HashSet::new());
                }
                self.hub.mirrors.expire(live::MIRROR_IDLE);
                continue;
            };
            if let Err(e) = self.setup(&mut c).await {
                if down_since.is_none() {
                    self.lost(&e);
                    down_since = Some(Instant::now());
                    retry_at = Instant::now() + backoff;
                }
                continue;
            }
            if let Some(t) = down_since.take() {
                tracing::info!(
                    node = %self.me,
                    "push relay: PostgreSQL is back after {:.1} s",
                    t.elapsed().as_secs_f64()
                );
                backoff = Duration::from_millis(100);
            }
            match self.serve(&mut c, &mut outbox, &mut stop).await {
                Ok(Stopped) => {
                    self.leave(&c).await;
                    return;
                }
                Err(e) => {
                    self.lost(&e);
                    down_since = Some(Instant::now());
                    retry_at = Instant::now() + backoff;
                }
            }
        }
    }

    fn lost(&self, e: &RelayError) {
        tracing::warn!(
            node = %self.me,
            "push relay: lost PostgreSQL ({e}); events of other nodes wait until it is back"
        );
    }

    /// A new connection: this node's presence is written again from scratch, what was
    /// kept is stored, what the others published meanwhile is delivered.
    async fn setup(&mut self, c: &mut Conn) -> Result<(), RelayError> {
        let t = self.config.timeout;
        step(t, bus::alive(&c.client, &self.me)).await?;
        step(t, bus::clear_presence(&c.client, &self.me)).await?;
        self.written.clear();
        self.write_presence(c).await?;
        self.flush(c).await?;
        self.poll(c, true).await?;
        self.read_presence(c).await
    }

    /// Work over a set-up connection until it fails or the relay is stopped.
    async fn serve(
        &mut self,
        c: &mut Conn,
        outbox: &mut mpsc::UnboundedReceiver<Outgoing>,
        stop: &mut oneshot::Receiver<()>,
    ) -> Result<Stopped, RelayError> {
        let t = self.config.timeout;
        let mut poll = tokio::time::interval(self.config.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut presence = tokio::time::interval(self.config.presence);
        presence.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let hub = self.hub.clone();
        loop {
            tokio::select! {
                _ = &mut *stop => return Ok(Stopped),
                o = outbox.recv() => {
                    let Some(o) = o else { return Ok(Stopped) };
                    let (mut frames, mut updates) = (Vec::new(), Vec::new());
                    self.queue(o, &mut frames, &mut updates);
                    while let Ok(o) = outbox.try_recv() {
                        self.queue(o, &mut frames, &mut updates);
                    }
                    self.send_live(c, frames, updates).await?;
                    self.flush(c).await?;
                }
                n = c.notes.recv() => {
                    let Some(n) = n else { return Err(RelayError::Closed) };
                    let mut pushed = false;
                    let more = std::iter::from_fn(|| c.notes.try_recv().ok());
                    for n in std::iter::once(n).chain(more) {
                        // Our own notifications come back too: skipped.
                        match n.what {
                            _ if n.from == c.pid => {}
                            What::Push => pushed = true,
                            What::Live(payload) => self.deliver_live(&payload),
                        }
                    }
                    if pushed {
                        self.poll(c, false).await?;
                    }
                }
                _ = poll.tick() => {
                    self.hub.mirrors.expire(live::MIRROR_IDLE);
                    self.poll(c, true).await?;
                    self.read_presence(c).await?;
                    step(t, bus::forget_older(&c.client, self.config.keep)).await?;
                }
                _ = presence.tick() => self.write_presence(c).await?,
                _ = hub.presence_changed.notified() => self.write_presence(c).await?,
            }
        }
    }

    /// Stopping cleanly: store what is queued and withdraw this node (best effort).
    async fn leave(&mut self, c: &Conn) {
        let done = async {
            self.flush(c).await?;
            step(self.config.timeout, bus::forget_node(&c.client, &self.me)).await
        };
        if let Err(e) = done.await {
            tracing::warn!("push relay: stopping: {e}");
        }
    }

    /// Queue a publication, or set live frames and station updates aside.
    fn queue(
        &mut self,
        o: Outgoing,
        frames: &mut Vec<(String, Vec<Bytes>)>,
        updates: &mut Vec<live::StationUpdate>,
    ) {
        let (stations, event, data) = match o {
            Outgoing::Push {
                stations,
                event,
                data,
            } => (stations, event, data),
            Outgoing::Live { session, frames: f } => {
                frames.push((session, f));
                return;
            }
            Outgoing::LiveStation(u) => {
                updates.push(u);
                return;
            }
        };
        self.seq += 1;
        self.pending.push_back(bus::NewPush {
            key: format!("{}-{}", self.instance, self.seq),
            stations: serde_json::to_string(&stations).unwrap_or_else(|_| "[]".into()),
            event: event.as_str().to_string(),
            data: data.to_string(),
        });
        if self.pending.len() > self.config.max_pending {
            self.pending.pop_front();
            if self.dropped == 0 {
                tracing::warn!(
                    "push relay: more than {} events waiting for PostgreSQL: the oldest are \
                     not sent to the other nodes",
                    self.config.max_pending
                );
            }
            self.dropped += 1;
        }
    }

    /// Store the queued publications, a few hundred per statement.
    async fn flush(&mut self, c: &Conn) -> Result<(), RelayError> {
        const ROWS: usize = 500;
        const BYTES: usize = 4 << 20;
        while !self.pending.is_empty() {
            let (mut n, mut bytes) = (0, 0);
            for p in self.pending.iter().take(ROWS) {
                if n > 0 && bytes + p.data.len() > BYTES {
                    break;
                }
                n += 1;
                bytes += p.data.len() + p.stations.len();
            }
            let batch = &self.pending.make_contiguous()[..n];
            step(self.config.timeout, bus::insert(&c.client, &self.me, batch)).await?;
            self.pending.drain(..n);
        }
        if self.dropped > 0 {
            tracing::warn!(
                "push relay: {} events were not sent to the other nodes",
                self.dropped
            );
            self.dropped = 0;
        }
        Ok(())
    }

    /// Send live frames, as few notifications as fit (in order, per session), then the
    /// station updates.
    async fn send_live(
        &self,
        c: &Conn,
        frames: Vec<(String, Vec<Bytes>)>,
        updates: Vec<live::StationUpdate>,
    ) -> Result<(), RelayError> {
        let updates = updates
            .iter()
            .filter_map(|u| serde_json::to_string(u).ok())
            .map(|json| format!("s {json}"))
            .filter(|p| p.len() <= bus::LIVE_PAYLOAD);
        for payload in live_payloads(frames).into_iter().chain(updates) {
            step(self.config.timeout, bus::notify_live(&c.client, &payload)).await?;
        }
        Ok(())
    }

    /// `f ID BASE64` (frames) or `s JSON` (a station update).
    fn deliver_live(&self, payload: &str) {
        match payload.split_once(' ') {
            Some(("f", rest)) => {
                let frames = rest.split_once(' ').and_then(|(id, b64)| {
                    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
                    Some((id, live::split_frames(&raw)?))
                });
                match frames {
                    Some((id, frames)) => self.hub.mirrors.deliver(id, frames),
                    None => tracing::warn!("push relay: bad live frames"),
                }
            }
            Some(("s", json)) => match serde_json::from_str(json) {
                Ok(u) => self.hub.mirrors.deliver_update(u),
                Err(e) => tracing::warn!("push relay: a bad live station update: {e}"),
            },
            _ => tracing::warn!("push relay: a live payload of an unknown kind"),
        }
    }

    /// Deliver the other nodes' publications not delivered yet: those above the newest
    /// delivered (on a notification), or (`gaps`, the safety net) every one above `floor`,
    /// which finds an id that became visible after a larger one.
    async fn poll(&mut self, c: &Conn, gaps: bool) -> Result<(), RelayError> {
        let t = self.config.timeout;
        let from = match self.seen.last() {
            Some(&newest) if !gaps => newest,
            _ => self.floor,
        };
        let ids = step(t, bus::ids_after(&c.client, from, &self.me)).await?;
        let now = Instant::now();
        if let Some(&max) = ids.last() {
            if self.marks.back().is_none_or(|&(_, m)| m < max) {
                self.marks.push_back((now, max));
            }
        }
        let new: Vec<i64> = ids
            .into_iter()
            .filter(|id| !self.seen.contains(id))
            .collect();
        for chunk in new.chunks(200) {
            for row in step(t, bus::get(&c.client, chunk)).await? {
                self.deliver(row);
            }
        }
        self.seen.extend(new);
        while let Some(&(at, max)) = self.marks.front() {
            if now.duration_since(at) < self.config.settle {
                break;
            }
            self.floor = self.floor.max(max);
            self.marks.pop_front();
        }
        self.seen = self.seen.split_off(&(self.floor + 1));
        Ok(())
    }

    fn deliver(&self, row: bus::PushRow) {
        let stations: Vec<String> = match serde_json::from_str(&row.stations) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(id = row.id, "push relay: bad stations in push_log: {e}");
                return;
            }
        };
        let Some(event) = Event::parse(&row.event) else {
            tracing::warn!(id = row.id, event = %row.event, "push relay: unknown event");
            return;
        };
        self.hub.deliver(&stations, event, row.data.into());
    }

    /// Say this node is alive and write what changed in its streams.
    async fn write_presence(&mut self, c: &Conn) -> Result<(), RelayError> {
        let now = self.hub.local_streams();
        let changed: Vec<(String, usize)> = now
            .iter()
            .filter(|(code, n)| self.written.get(*code) != Some(*n))
            .map(|(code, n)| (code.clone(), *n))
            .collect();
        let gone: Vec<String> = self
            .written
            .keys()
            .filter(|code| !now.contains_key(*code))
            .cloned()
            .collect();
        let t = self.config.timeout;
        step(t, bus::alive(&c.client, &self.me)).await?;
        step(t, bus::set_presence(&c.client, &self.me, &changed, &gone)).await?;
        self.written = now;
        Ok(())
    }

    /// Read which stations the other live nodes hold streams for.
    async fn read_presence(&mut self, c: &Conn) -> Result<(), RelayError> {
        let elsewhere = step(
            self.config.timeout,
            bus::present_elsewhere(&c.client, &self.me, self.config.alive_window),
        )
        .await?;
        self.hub.set_elsewhere(elsewhere.into_iter().collect());
        Ok(())
    }
}

/// [`bus::LIVE_CHANNEL`] payloads for `frames`: `f id base64(frames…)`, each at most
/// [`bus::LIVE_PAYLOAD`] bytes (a frame that cannot fit alone is dropped).
fn live_payloads(frames: Vec<(String, Vec<Bytes>)>) -> Vec<String> {
    let mut out = Vec::new();
    for (id, frames) in frames {
        let room = (bus::LIVE_PAYLOAD.saturating_sub(id.len() + 3)) / 4 * 3;
        let mut raw: Vec<u8> = Vec::new();
        let mut emit = |raw: &mut Vec<u8>| {
            if !raw.is_empty() {
                out.push(format!(
                    "f {id} {}",
                    base64::engine::general_purpose::STANDARD.encode(&raw)
                ));
                raw.clear();
            }
        };
        for f in frames {
            if f.len() > room {
                tracing::warn!(session = %id, "push relay: a live frame too large to send");
                continue;
            }
            if raw.len() + f.len() > room {
                emit(&mut raw);
            }
            raw.extend_from_slice(&f);
        }
        emit(&mut raw);
    }
    out
}

#[cfg(test)]
mod tests;
