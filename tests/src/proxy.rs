//! A fault-injecting TCP proxy for the reliability tests.
//!
//! `FaultProxy` sits between a controller and the server and forwards bytes
//! both ways in chunks, so that each chunk can be delayed, throttled, cut off
//! or turned into a connection reset. The plan ([`Faults`]) can be changed at
//! any time: new connections always take it, live connections pick it up at
//! their next chunk (latency, bandwidth, resets, stall and half-close limits),
//! and a stalled transfer resumes as soon as the plan no longer stalls it.
//!
//! Every task the proxy spawns watches one shutdown signal, so
//! [`FaultProxy::shutdown`] (or dropping the proxy) ends all of them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Largest chunk read from one side before faults are applied to it.
const CHUNK: usize = 16 * 1024;

/// What the proxy does to the traffic it forwards.
///
/// The default forwards everything untouched.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Delay added before each chunk is forwarded, in both directions.
    pub latency: Duration,
    /// Per new connection: accept it, then close it at once without
    /// contacting the upstream.
    pub drop_probability: f64,
    /// Per chunk, in both directions: reset both sides of the connection
    /// instead of forwarding the chunk.
    pub reset_probability: f64,
    /// After this many bytes towards the client, shut down the write half
    /// towards the client (the client reads EOF) and forward nothing more
    /// downstream; the socket stays open and upstream traffic still flows.
    pub half_close_after: Option<u64>,
    /// After this many bytes towards the client, stop forwarding downstream
    /// while keeping the connection open: the client must time out. The
    /// transfer resumes if the plan is changed so that it no longer stalls.
    pub stall_after: Option<u64>,
    /// Throttle towards the client, in bytes per second. `Some(0)` lets
    /// nothing through (until the plan changes).
    pub bandwidth_bps: Option<u64>,
    /// Seed for the random draws behind the probabilities.
    pub seed: u64,
}

/// Counters since the proxy started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// TCP connections accepted, including dropped and refused ones.
    pub accepted: u64,
    /// Connections being forwarded right now.
    pub active: u64,
    /// Bytes delivered from clients to the upstream.
    pub bytes_up: u64,
    /// Bytes delivered from the upstream to clients.
    pub bytes_down: u64,
    /// Connections closed at once because of `drop_probability`.
    pub dropped: u64,
    /// Connections refused while the proxy was set down.
    pub refused: u64,
    /// Connections reset mid-stream because of `reset_probability`.
    pub resets: u64,
    /// Connections reset by [`FaultProxy::reset_all`].
    pub reset_all: u64,
    /// Connections whose downstream was half-closed by `half_close_after`.
    pub half_closes: u64,
    /// Times a downstream transfer stalled because of `stall_after`.
    pub stalls: u64,
}

/// A TCP proxy on 127.0.0.1 that forwards to one upstream and injects faults.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listen on 127.0.0.1:0 and forward every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let faults = Faults::default();
        let shared = Arc::new(Shared {
            drop_rng: Mutex::new(StdRng::seed_from_u64(faults.seed)),
            faults: watch::Sender::new(faults),
            down: AtomicBool::new(false),
            reset_generation: watch::Sender::new(0),
            shutdown: watch::Sender::new(false),
            counters: Counters::default(),
            stats_changed: Notify::new(),
        });
        let accept_task = tokio::spawn(accept_loop(listener, upstream, Arc::clone(&shared)));
        Ok(FaultProxy {
            addr,
            shared,
            accept_task: Some(accept_task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for HTTP clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Change the fault plan for new connections and, at their next chunk,
    /// live ones. The drop decisions restart from `faults.seed`.
    pub fn set(&self, faults: Faults) {
        *lock(&self.shared.drop_rng) = StdRng::seed_from_u64(faults.seed);
        self.shared.faults.send_replace(faults);
    }

    /// Close every live connection abruptly: both the client and the upstream
    /// side get a reset (SO_LINGER 0).
    pub fn reset_all(&self) {
        self.shared
            .reset_generation
            .send_modify(|g| *g = g.wrapping_add(1));
    }

    /// While down, new connections are accepted and reset at once, as if the
    /// server were unreachable. Live connections are left alone (use
    /// [`FaultProxy::reset_all`] for those).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    pub fn stats(&self) -> ProxyStats {
        self.shared.counters.snapshot()
    }

    /// Wait until the counters satisfy `done`, and return them. Every counter
    /// is bumped before its effect can be seen by a client, so tests can wait
    /// on what they expect rather than sleeping; wrap the call in a timeout.
    pub async fn wait_for_stats(&self, done: impl Fn(&ProxyStats) -> bool) -> ProxyStats {
        loop {
            let changed = self.shared.stats_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let stats = self.stats();
            if done(&stats) {
                return stats;
            }
            changed.await;
        }
    }

    /// Stop listening, reset every live connection and wait for every task
    /// the proxy spawned to end.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(task) = self.accept_task.take() {
            // The accept loop waits for its connection tasks before ending; a
            // join error would only mean a task panicked, which is already over.
            let _ = task.await;
        }
    }
}

impl Drop for FaultProxy {
    /// Dropping without `shutdown` still ends every task, just without waiting.
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

struct Shared {
    faults: watch::Sender<Faults>,
    drop_rng: Mutex<StdRng>,
    down: AtomicBool,
    reset_generation: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
    counters: Counters,
    stats_changed: Notify,
}

impl Shared {
    fn bump(&self, counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::SeqCst);
        self.stats_changed.notify_waiters();
    }

    fn bump_active(&self, up: bool) {
        if up {
            self.counters.active.fetch_add(1, Ordering::SeqCst);
        } else {
            self.counters.active.fetch_sub(1, Ordering::SeqCst);
        }
        self.stats_changed.notify_waiters();
    }
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    active: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    dropped: AtomicU64,
    refused: AtomicU64,
    resets: AtomicU64,
    reset_all: AtomicU64,
    half_closes: AtomicU64,
    stalls: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ProxyStats {
        let get = |c: &AtomicU64| c.load(Ordering::SeqCst);
        ProxyStats {
            accepted: get(&self.accepted),
            active: get(&self.active),
            bytes_up: get(&self.bytes_up),
            bytes_down: get(&self.bytes_down),
            dropped: get(&self.dropped),
            refused: get(&self.refused),
            resets: get(&self.resets),
            reset_all: get(&self.reset_all),
            half_closes: get(&self.half_closes),
            stalls: get(&self.stalls),
        }
    }
}

/// A poisoned lock only means another test thread panicked; the RNG inside is
/// still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A draw that tolerates any probability, NaN included (`gen_bool` would panic).
fn roll(rng: &mut StdRng, probability: f64) -> bool {
    if probability >= 1.0 {
        true
    } else if probability > 0.0 {
        rng.gen::<f64>() < probability
    } else {
        false
    }
}

/// Reset rather than close: the peer sees ECONNRESET, like a crashed host.
fn abort(stream: TcpStream) {
    // If SO_LINGER cannot be set the stream still closes, just with a FIN.
    let _ = stream.set_zero_linger();
}

/// Resolves once shutdown is signalled (or can no longer be signalled).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The `Ref` this returns is not `Send`; drop it here, inside.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut connections = JoinSet::new();
    let mut next_id: u64 = 0;
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => break,
            // Reap finished connections so the set does not grow forever.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let client = match accepted {
                    Ok((client, _)) => client,
                    Err(_) => {
                        // Out of file descriptors or similar: back off briefly
                        // instead of spinning.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                shared.bump(&shared.counters.accepted, 1);
                if shared.down.load(Ordering::SeqCst) {
                    shared.bump(&shared.counters.refused, 1);
                    abort(client);
                    continue;
                }
                let faults = shared.faults.borrow().clone();
                if roll(&mut lock(&shared.drop_rng), faults.drop_probability) {
                    shared.bump(&shared.counters.dropped, 1);
                    drop(client);
                    continue;
                }
                // Subscribe here, not in the task, so a reset_all that follows
                // this accept is never missed.
                let connection = Connection {
                    id: next_id,
                    upstream,
                    faults: shared.faults.subscribe(),
                    resets: shared.reset_generation.subscribe(),
                    shutdown: shared.shutdown.subscribe(),
                    shared: Arc::clone(&shared),
                };
                next_id = next_id.wrapping_add(1);
                shared.bump_active(true);
                connections.spawn(connection.run(client));
            }
        }
    }
    drop(listener);
    // Every connection task watches the same shutdown signal, so this ends.
    while connections.join_next().await.is_some() {}
}

/// How a connection ended other than by both sides closing cleanly.
enum Abort {
    /// `reset_probability` fired.
    Reset,
    /// `reset_all` was called.
    ResetAll,
    Shutdown,
    /// One side failed (the upstream refused, a peer reset, ...): pass the
    /// failure on to the other side as a reset.
    Io,
}

struct Connection {
    id: u64,
    upstream: SocketAddr,
    faults: watch::Receiver<Faults>,
    resets: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    shared: Arc<Shared>,
}

impl Connection {
    async fn run(mut self, mut client: TcpStream) {
        let mut upstream = None;
        let outcome = tokio::select! {
            outcome = relay(&mut client, &mut upstream, self.upstream, &self.faults, self.id, &self.shared) => outcome,
            _ = self.resets.changed() => Err(Abort::ResetAll),
            () = stopped(&mut self.shutdown) => Err(Abort::Shutdown),
        };
        match outcome {
            Ok(()) => {}
            Err(reason) => {
                match reason {
                    Abort::Reset => self.shared.bump(&self.shared.counters.resets, 1),
                    Abort::ResetAll => self.shared.bump(&self.shared.counters.reset_all, 1),
                    Abort::Shutdown | Abort::Io => {}
                }
                abort(client);
                if let Some(upstream) = upstream {
                    abort(upstream);
                }
            }
        }
        self.shared.bump_active(false);
    }
}

/// Connect to the upstream and pump both ways until both directions finish or
/// one of them aborts. The upstream stream is left in `slot` so the caller can
/// reset it.
async fn relay(
    client: &mut TcpStream,
    slot: &mut Option<TcpStream>,
    upstream_addr: SocketAddr,
    faults: &watch::Receiver<Faults>,
    id: u64,
    shared: &Shared,
) -> Result<(), Abort> {
    let upstream = slot.insert(
        TcpStream::connect(upstream_addr)
            .await
            .map_err(|_| Abort::Io)?,
    );
    let seed = faults.borrow().seed;
    let (client_read, client_write) = client.split();
    let (upstream_read, upstream_write) = upstream.split();
    let up = Pump {
        direction: Direction::Up,
        faults: faults.clone(),
        rng: StdRng::seed_from_u64(pump_seed(seed, id, Direction::Up)),
        shared,
    };
    let down = Pump {
        direction: Direction::Down,
        faults: faults.clone(),
        rng: StdRng::seed_from_u64(pump_seed(seed, id, Direction::Down)),
        shared,
    };
    tokio::try_join!(
        up.run(client_read, upstream_write),
        down.run(upstream_read, client_write),
    )?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Client to upstream.
    Up,
    /// Upstream to client.
    Down,
}

/// Each connection and direction gets its own random stream, so one
/// connection's traffic does not change another's faults.
fn pump_seed(seed: u64, id: u64, direction: Direction) -> u64 {
    let lane = match direction {
        Direction::Up => 0,
        Direction::Down => 1,
    };
    seed ^ id
        .wrapping_mul(2)
        .wrapping_add(lane)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

struct Pump<'a> {
    direction: Direction,
    faults: watch::Receiver<Faults>,
    rng: StdRng,
    shared: &'a Shared,
}

impl Pump<'_> {
    async fn run(
        mut self,
        mut from: impl AsyncRead + Unpin,
        mut to: impl AsyncWrite + Unpin,
    ) -> Result<(), Abort> {
        let mut buf = vec![0u8; CHUNK];
        let mut forwarded: u64 = 0;
        let mut pace: Option<Instant> = None;
        let mut stalled = false;
        loop {
            let n = from.read(&mut buf).await.map_err(|_| Abort::Io)?;
            if n == 0 {
                to.shutdown().await.map_err(|_| Abort::Io)?;
                return Ok(());
            }
            let faults = self.faults.borrow().clone();
            if roll(&mut self.rng, faults.reset_probability) {
                return Err(Abort::Reset);
            }
            if !faults.latency.is_zero() {
                tokio::time::sleep(faults.latency).await;
            }
            let mut chunk = &buf[..n];
            while !chunk.is_empty() {
                let take = match self.direction {
                    Direction::Up => chunk.len(),
                    Direction::Down => {
                        // Marks the plan as seen, so `changed` below waits for
                        // the next change only.
                        let faults = self.faults.borrow_and_update().clone();
                        if faults.half_close_after.is_some_and(|n| forwarded >= n) {
                            self.shared.bump(&self.shared.counters.half_closes, 1);
                            to.shutdown().await.map_err(|_| Abort::Io)?;
                            // Keep the socket open: the other direction goes on,
                            // and the connection ends with it or with a reset.
                            return Ok(());
                        }
                        let stall = faults.stall_after.is_some_and(|n| forwarded >= n);
                        if stall || faults.bandwidth_bps == Some(0) {
                            if stall && !stalled {
                                stalled = true;
                                self.shared.bump(&self.shared.counters.stalls, 1);
                            }
                            if self.faults.changed().await.is_err() {
                                // The plan can no longer change: stay stalled
                                // until the connection is reset or shut down.
                                std::future::pending::<()>().await;
                            }
                            continue;
                        }
                        stalled = false;
                        downstream_take(chunk.len(), forwarded, &faults)
                    }
                };
                to.write_all(&chunk[..take]).await.map_err(|_| Abort::Io)?;
                forwarded += take as u64;
                let counter = match self.direction {
                    Direction::Up => &self.shared.counters.bytes_up,
                    Direction::Down => &self.shared.counters.bytes_down,
                };
                self.shared.bump(counter, take as u64);
                chunk = &chunk[take..];
                if self.direction == Direction::Down {
                    let bandwidth = self.faults.borrow().bandwidth_bps;
                    if let Some(bps) = bandwidth.filter(|bps| *bps > 0) {
                        throttle(&mut pace, take, bps).await;
                    }
                }
            }
        }
    }
}

/// How much of a downstream chunk may go out now: never past a half-close or
/// stall point, and in slices of about 1/20 s when throttled.
fn downstream_take(len: usize, forwarded: u64, faults: &Faults) -> usize {
    let mut take = len as u64;
    for limit in [faults.half_close_after, faults.stall_after]
        .into_iter()
        .flatten()
    {
        take = take.min(limit.saturating_sub(forwarded));
    }
    if let Some(bps) = faults.bandwidth_bps {
        take = take.min((bps / 20).max(1));
    }
    // `take` is at most `len`, and the limits above are only reached when
    // `forwarded` is below them, so at least one byte goes out.
    usize::try_from(take).unwrap_or(len).max(1)
}

/// Sleep so that bytes sent so far average out at `bps`.
async fn throttle(pace: &mut Option<Instant>, bytes: usize, bps: u64) {
    let cost = Duration::from_secs_f64(bytes as f64 / bps as f64);
    let now = Instant::now();
    let start = pace.filter(|at| *at > now).unwrap_or(now);
    let next = start + cost;
    *pace = Some(next);
    tokio::time::sleep_until(next).await;
}
