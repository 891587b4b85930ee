//! The connection loop: HTTP/1.1 over any listener, with the limits a public server needs.
//!
//! - **Request heads in time** (`header_timeout`): a connection must send a complete
//!   request head within this time of opening, or of the end of its previous answer; a
//!   client trickling a header byte by byte (slowloris), or a keep-alive connection left
//!   idle, is closed.
//! - **No stalled requests** (`idle_timeout`): a request whose connection moves no byte in
//!   either direction for this long (a body that stopped arriving, a download nobody
//!   reads) is cut. Event streams (`text/event-stream`, the controllers' `GET
//!   /device/events`) are exempt: they live for days and send their own keep-alives.
//! - **A cap on open connections** (`max_connections`): one more is answered `503` with
//!   `Retry-After` and closed at once, so the server never runs out of file descriptors
//!   in the middle of a request. At start the soft open-file limit is raised to the hard
//!   one, and the cap is lowered to what it allows.
//!
//! On shutdown the loop stops accepting, asks every connection to finish its current
//! answer, and returns once all are closed.

use axum::extract::ConnectInfo;
use axum::serve::Listener;
use axum::Router;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// File descriptors kept aside from the connection cap: the database, media files being
/// read or written, the listener, logs.
const RESERVED_FDS: u64 = 256;

/// What each connection may do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// See the module documentation.
    pub header_timeout: Duration,
    /// See the module documentation.
    pub idle_timeout: Duration,
    /// See the module documentation.
    pub max_connections: usize,
}

impl Limits {
    /// The limits of a server's configuration.
    pub fn of(c: &crate::state::Config) -> Limits {
        Limits {
            header_timeout: c.header_timeout,
            idle_timeout: c.idle_timeout,
            max_connections: c.max_connections.max(1),
        }
    }
}

/// Connections the kernel queues before we accept them. After a restart every station
/// reconnects at once; with the default of 1,024 the rest overflow into SYN cookies and
/// retries. (Linux caps it at `net.core.somaxconn`, 4,096 by default.)
pub const LISTEN_BACKLOG: u32 = 4096;

/// Bind `addr` for serving, with [`LISTEN_BACKLOG`].
pub fn bind(addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Raise the soft open-file limit to the hard one; answers the soft limit in force.
pub fn raise_nofile_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    if let (Some(soft), Some(hard)) = (lim.current, lim.maximum) {
        if soft < hard {
            let raised = Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                tracing::warn!(error = %e, "could not raise the open-file limit");
            }
        }
    }
    getrlimit(Resource::Nofile).current
}

/// What one connection is doing, shared by its reader/writer, its requests and its
/// watchdog.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` of the last byte read or written.
    last_io_ms: AtomicU64,
    /// Requests whose answer has not finished.
    in_flight: AtomicUsize,
    /// Of those, event streams.
    streaming: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            streaming: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.opened.elapsed().as_millis() as u64;
        self.last_io_ms.store(ms, Ordering::Relaxed);
    }

    fn since_io(&self) -> Duration {
        let now = self.opened.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_io_ms.load(Ordering::Relaxed)))
    }
}

/// A request being answered; dropped with the end of its answer's body.
#[derive(Debug)]
struct InFlight {
    activity: Arc<Activity>,
    streaming: bool,
}

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        InFlight {
            activity: activity.clone(),
            streaming: false,
        }
    }

    fn mark_streaming(&mut self) {
        if !self.streaming {
            self.streaming = true;
            self.activity.streaming.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.streaming {
            self.activity.streaming.fetch_sub(1, Ordering::Relaxed);
        }
        self.activity.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.activity.touch();
    }
}

/// An answer's body that ends its [`InFlight`] when it is done or dropped.
struct TrackedBody {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl HttpBody for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection's byte stream, noting when bytes move.
struct Tracked<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Resolves when the connection has a non-streaming request in flight that moved no byte
/// for `idle` (then the connection is cut).
async fn stalled(activity: &Activity, idle: Duration) {
    loop {
        let since = activity.since_io();
        let busy = activity.in_flight.load(Ordering::Relaxed) > 0;
        let streaming = activity.streaming.load(Ordering::Relaxed) > 0;
        if busy && !streaming && since >= idle {
            return;
        }
        let wait = if since < idle { idle - since } else { idle };
        tokio::time::sleep(wait.max(Duration::from_millis(50))).await;
    }
}

/// The answer to a connection over the cap.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 91\r\n\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"the server is at its connection limit\"}}";

/// Serve `router` on `listener` with `limits` until `shutdown` resolves (see the module
/// documentation). `tls`: the listener's connections are TLS (HSTS, `Secure` cookies).
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: Limits,
    tls: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
{
    let nofile = raise_nofile_limit();
    let mut cap = limits.max_connections;
    if let Some(n) = nofile {
        let allowed = n.saturating_sub(RESERVED_FDS).max(1) as usize;
        if allowed < cap {
            tracing::warn!(
                open_file_limit = n,
                max_connections = cap,
                "the open-file limit allows only {allowed} connections; serving at most that \
                 many (raise LimitNOFILE / ulimit -n)"
            );
            cap = allowed;
        }
    }
    let permits = Arc::new(Semaphore::new(cap));
    let stop = CancellationToken::new();
    // Every connection task holds a sender; all gone = all connections closed.
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refused_warned: Option<Instant> = None;
    loop {
        let (io, peer) = tokio::select! {
            c = listener.accept() => c,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            if refused_warned.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                tracing::warn!(max_connections = cap, "connection limit reached; refusing");
                refused_warned = Some(Instant::now());
            }
            tokio::spawn(async move {
                let mut io = io;
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    io.write_all(BUSY).await?;
                    io.shutdown().await
                })
                .await;
            });
            continue;
        };
        let router = router.clone();
        let stop = stop.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            connection(io, peer, router, limits, tls, stop).await;
            drop(permit);
            drop(alive);
        });
    }
    drop(listener);
    stop.cancel();
    drop(alive);
    let _ = all_closed.recv().await;
    Ok(())
}

/// Serve one connection until it closes, is cut, or the server stops.
async fn connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    tls: bool,
    stop: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        io,
        activity: activity.clone(),
    });
    let act = activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        if tls {
            req.extensions_mut().insert(crate::client::ServedOverTls);
        }
        let mut in_flight = InFlight::begin(&act);
        let router = router.clone();
        async move {
            let res = router.oneshot(req).await.unwrap_or_else(|e| match e {});
            let streaming = res
                .headers()
                .get(axum::http::header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
            if streaming {
                in_flight.mark_streaming();
            }
            Ok::<_, std::convert::Infallible>(res.map(|inner| TrackedBody {
                inner,
                _in_flight: in_flight,
            }))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(io, service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            return;
        }
        () = stalled(&activity, limits.idle_timeout) => {
            tracing::debug!(%peer, "request stalled; connection cut");
            return;
        }
        () = stop.cancelled() => {}
    }
    // Shutting down: finish the answer under way (event streams end as the hub closes).
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn.as_mut() => {}
        () = stalled(&activity, limits.idle_timeout) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_well_formed_http() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(
            head.contains(&format!("\r\nContent-Length: {}", body.len())),
            "{head}"
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "too_many_connections");
    }
}
