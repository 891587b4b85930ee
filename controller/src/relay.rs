//! Relaying a live channel (tiếp sóng): a thread per airing reads the channel's HTTP/Icecast
//! stream, decodes it with `media`'s streaming decoder (the channel's fixed gain applied
//! there), converts it to the output format and feeds the mixer like a file's decoder does.
//!
//! - It connects [`PREBUFFER`] + 1 s before the window opens and holds back the first
//!   [`PREBUFFER`] of audio after every (re)connection, so network jitter does not reach the
//!   loudspeakers.
//! - When the stream fails (refused, an HTTP error, no data for [`STALL`], its end), the
//!   mixer airs silence and the thread reconnects every [`RETRY`] until the window closes;
//!   each stretch without the channel is recorded as a [`RelayGap`] with the first reason.
//! - The mixer ends the airing on the window's last frame (`Cue::until`); the thread stops
//!   at the window's end or when its cue is dropped (stopped, preempted).

use crate::decode::{Converter, CHUNK_FRAMES};
use crate::mixer::Format;
use chrono::{DateTime, Utc};
use schedules::wire::{RelayChannel, RelayGap};
use schedules::Clock;
use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Handle;

/// Audio held back after each (re)connection, against network jitter.
pub const PREBUFFER: Duration = Duration::from_secs(2);
/// Wait between reconnection attempts.
pub const RETRY: Duration = Duration::from_secs(1);
/// A stream that sends nothing for this long has dropped.
pub const STALL: Duration = Duration::from_secs(5);
/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The gaps of a relay airing, shared by its thread (which opens and closes them) and the
/// player (which takes them when the airing ends, closing one still open at that instant).
#[derive(Debug, Clone, Default)]
pub struct Gaps(Arc<Mutex<GapState>>);

#[derive(Debug, Default)]
struct GapState {
    closed: Vec<RelayGap>,
    open: Option<(DateTime<Utc>, String)>,
    window_end: Option<DateTime<Utc>>,
}

impl Gaps {
    fn lock(&self) -> std::sync::MutexGuard<'_, GapState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A gap begins at `from` for `reason`, unless one is open already (its first reason stands).
    fn open(&self, from: DateTime<Utc>, reason: String) {
        let mut g = self.lock();
        if g.open.is_none() {
            g.open = Some((from, reason));
        }
    }

    /// The open gap, if any, ends at `to`.
    fn close(&self, to: DateTime<Utc>) {
        let mut g = self.lock();
        let to = g.window_end.map_or(to, |e| to.min(e));
        if let Some((from, reason)) = g.open.take() {
            if to > from {
                g.closed.push(RelayGap { from, to, reason });
            }
        }
    }

    /// Every gap so far, one still open ending at `at`.
    pub fn finish(&self, at: DateTime<Utc>) -> Vec<RelayGap> {
        self.close(at);
        std::mem::take(&mut self.lock().closed)
    }
}

/// One relay airing: the audio for the mixer and the gaps as they are recorded.
#[derive(Debug)]
pub struct Relay {
    /// Decoded audio in the output format.
    pub audio: Receiver<Vec<f32>>,
    /// Gaps recorded by the thread.
    pub gaps: Gaps,
}

/// What the relay thread needs.
#[derive(Clone)]
pub struct Relayer {
    /// HTTP client for the streams (no device token: a channel is someone else's server).
    pub http: reqwest::Client,
    /// The runtime the HTTP I/O runs on.
    pub rt: Handle,
    /// The clock.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Relayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Relayer")
    }
}

/// A gap already open when a relay starts: since when, and why.
type Open = Option<(DateTime<Utc>, String)>;

impl Relayer {
    /// A relayer on the current runtime.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("loaxa-controller/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            http,
            rt: Handle::current(),
            clock,
        }
    }

    /// Start relaying `channel` for the window `[from, until)` into `out`. `open` is a gap
    /// already running when it starts (the relay resumes after an emergency): it is closed
    /// when the channel's audio flows again.
    pub fn start(
        &self,
        channel: RelayChannel,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        out: Format,
        open: Open,
    ) -> Result<Relay, String> {
        let bound = (((PREBUFFER.as_secs_f64() + 2.0) * out.rate as f64 / CHUNK_FRAMES as f64)
            .ceil() as usize)
            .max(2);
        let (tx, rx) = sync_channel::<Vec<f32>>(bound);
        let gaps = Gaps::default();
        gaps.lock().window_end = Some(until);
        if let Some((from, reason)) = open {
            gaps.open(from, reason);
        }
        let run = Run {
            relayer: self.clone(),
            channel,
            from,
            until,
            out,
            tx,
            gaps: gaps.clone(),
            cursor: from,
        };
        std::thread::Builder::new()
            .name("relay".into())
            .spawn(move || run.run())
            .map_err(|e| format!("cannot start a relay thread: {e}"))?;
        Ok(Relay { audio: rx, gaps })
    }
}

struct Run {
    relayer: Relayer,
    channel: RelayChannel,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    out: Format,
    tx: SyncSender<Vec<f32>>,
    gaps: Gaps,
    /// When the next frame sent will air: audio already sent keeps airing after the stream
    /// fails, so a gap begins when it runs out, and audio sent after a gap airs at once.
    cursor: DateTime<Utc>,
}

/// Why one connection's relaying ended.
enum End {
    /// The cue was dropped (stopped, preempted, shut down): stop.
    Dropped,
    /// The window closed.
    Closed,
    /// The stream failed, for this reason.
    Failed(String),
}

impl Run {
    fn now(&self) -> DateTime<Utc> {
        self.relayer.clock.now()
    }

    /// Sleep up to `d`, but not past `until`.
    fn nap(&self, d: Duration) {
        let left = (self.until - self.now()).to_std().unwrap_or_default();
        std::thread::sleep(d.min(left));
    }

    fn run(mut self) {
        // Connect a little before the window opens, so the buffer is full when it does.
        let lead =
            chrono::Duration::from_std(PREBUFFER + Duration::from_secs(1)).unwrap_or_default();
        while self.now() < self.from - lead {
            std::thread::sleep(Duration::from_millis(100));
        }
        while self.now() < self.until {
            match self.relay_once() {
                End::Dropped => return,
                End::Closed => break,
                End::Failed(reason) => {
                    tracing::warn!(channel = %self.channel.name, url = %self.channel.url, "relay: {reason}; reconnecting");
                    self.gaps.open(self.now().max(self.cursor), reason);
                    self.nap(RETRY);
                }
            }
        }
        self.gaps.close(self.until);
    }

    /// Send a chunk; false when the cue was dropped.
    fn send(&mut self, chunk: Vec<f32>) -> bool {
        let frames = (chunk.len() / usize::from(self.out.channels.max(1))) as i64;
        let airs_at = self.cursor.max(self.now());
        if self.tx.send(chunk).is_err() {
            return false;
        }
        self.gaps.close(airs_at);
        self.cursor = airs_at
            + chrono::Duration::microseconds(frames * 1_000_000 / i64::from(self.out.rate.max(1)));
        true
    }

    fn relay_once(&mut self) -> End {
        let c = self.channel.clone();
        let connect = self.relayer.rt.block_on(async {
            tokio::time::timeout(CONNECT_TIMEOUT, self.relayer.http.get(&c.url).send()).await
        });
        let resp = match connect {
            Err(_) => return End::Failed(format!("cannot connect to {}: timed out", c.url)),
            Ok(Err(e)) => return End::Failed(format!("cannot connect to {}: {e}", c.url)),
            Ok(Ok(r)) if !r.status().is_success() => {
                return End::Failed(format!("{} answered {}", c.url, r.status()))
            }
            Ok(Ok(r)) => r,
        };
        let ext = media::format_hint(
            resp.headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            &c.url,
        );
        let error = Arc::new(Mutex::new(None::<String>));
        let reader = HttpReader {
            rt: self.relayer.rt.clone(),
            resp,
            buf: Vec::new(),
            pos: 0,
            error: error.clone(),
        };
        let why = |fallback: String| {
            error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or(fallback)
        };
        let dec = match media::Decoder::open_stream(reader, ext, f64::from(c.gain_db)) {
            Ok(d) => d,
            Err(e) => return End::Failed(why(format!("cannot decode the stream: {e}"))),
        };
        let (rate, ch) = (dec.sample_rate(), usize::from(dec.channels()));
        if rate == 0 || ch == 0 {
            return End::Failed("the stream has no audio".into());
        }
        let oc = usize::from(self.out.channels);
        let mut conv = Converter::new(rate, ch as u16, self.out);
        let mut samples = dec;
        let mut frame = vec![0.0f32; ch];
        let mut chunk = Vec::with_capacity(CHUNK_FRAMES * oc);
        let prebuffer = (PREBUFFER.as_secs_f64() * self.out.rate as f64) as usize;
        let mut held: Vec<Vec<f32>> = Vec::new();
        let mut held_frames = 0usize;
        loop {
            for s in frame.iter_mut() {
                match samples.next() {
                    Some(v) => *s = v,
                    None => return End::Failed(why("the stream ended".into())),
                }
            }
            conv.push(&frame, &mut chunk);
            if chunk.len() < CHUNK_FRAMES * oc {
                continue;
            }
            if self.now() >= self.until {
                return End::Closed;
            }
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_FRAMES * oc));
            if held_frames < prebuffer {
                held_frames += full.len() / oc;
                held.push(full);
                if held_frames < prebuffer {
                    continue;
                }
                for c in held.drain(..) {
                    if !self.send(c) {
                        return End::Dropped;
                    }
                }
                continue;
            }
            if !self.send(full) {
                return End::Dropped;
            }
        }
    }
}

/// The body of an HTTP response as a blocking reader, for the decoder thread. A read that
/// waits longer than [`STALL`] fails; the failure is kept for the gap's reason.
struct HttpReader {
    rt: Handle,
    resp: reqwest::Response,
    buf: Vec<u8>,
    pos: usize,
    error: Arc<Mutex<Option<String>>>,
}

impl HttpReader {
    fn fail(&self, msg: String) -> std::io::Error {
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg.clone());
        std::io::Error::other(msg)
    }
}

impl Read for HttpReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            let resp = &mut self.resp;
            match self
                .rt
                .block_on(async { tokio::time::timeout(STALL, resp.chunk()).await })
            {
                Ok(Ok(Some(b))) => {
                    self.buf = b.to_vec();
                    self.pos = 0;
                }
                Ok(Ok(None)) => {
                    *self.error.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some("the stream ended".into());
                    return Ok(0);
                }
                Ok(Err(e)) => return Err(self.fail(format!("the stream broke: {e}"))),
                Err(_) => return Err(self.fail(format!("no data for {} s", STALL.as_secs()))),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
