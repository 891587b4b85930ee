//! The fault proxy does what the reliability tests rely on it to do.
//!
//! Each test runs a tiny upstream on 127.0.0.1:0. Tests assert on behaviour
//! (bytes delivered, EOF, reset, counters) and only use timeouts as generous
//! upper bounds, except where the point is that nothing arrives.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tests::proxy::{FaultProxy, Faults, ProxyStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Upper bound for things that must happen; only a broken proxy reaches it.
const PATIENCE: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// An upstream that echoes every byte back and closes after the client does.
/// Each handler sends one message on `ended` when it finishes.
async fn echo_upstream() -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (ended_tx, ended) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let ended_tx = ended_tx.clone();
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
                let _ = write.shutdown().await;
                let _ = ended_tx.send(());
            });
        }
    });
    (addr, ended)
}

/// An upstream that sends `payload` to every client, then keeps the
/// connection open and reports whatever the client sends, until the client
/// closes.
async fn source_upstream(payload: Vec<u8>) -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (received_tx, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let payload = payload.clone();
            let received_tx = received_tx.clone();
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let send = async {
                    let _ = write.write_all(&payload).await;
                };
                let listen = async {
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n @ 1..) = read.read(&mut buf).await {
                        let _ = received_tx.send(buf[..n].to_vec());
                    }
                };
                tokio::join!(send, listen);
            });
        }
    });
    (addr, received)
}

/// Bytes that are not all alike, so a shifted or truncated copy shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Write `message` and read the same number of bytes back.
async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> io::Result<Vec<u8>> {
    stream.write_all(message).await?;
    let mut back = vec![0u8; message.len()];
    stream.read_exact(&mut back).await?;
    Ok(back)
}

/// Whether the peer has closed: the next read is EOF or an error (a reset).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    matches!(
        within("the connection to close", stream.read(&mut buf)).await,
        Ok(0) | Err(_)
    )
}

/// Read everything until EOF or an error, returning the bytes and whether it
/// ended in an error.
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut all = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return (all, false),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(_) => return (all, true),
        }
    }
}

#[tokio::test]
async fn clean_forwarding_delivers_every_byte_both_ways() {
    let (upstream, _ended) = echo_upstream().await;
    let proxy = FaultProxy::start(upstream).await.unwrap();
    assert_eq!(
        proxy.url(),
        format!("http://127.0.0.1:{}", proxy.addr().port())
    );

    let sent = pattern(1 << 20);
    let stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            write.write_all(&sent).await.unwrap();
            write.shutdown().await.unwrap();
        })
    };
    let mut back = Vec::new();
    within("the echo", read.read_to_end(&mut back))
        .await
        .unwrap();
    writer.await.unwrap();

    assert!(
        back == sent,
        "echo differs: {} bytes back of {}",
        back.len(),
        sent.len()
    );
    let stats = proxy.stats();
    assert_eq!((stats.bytes_up, stats.bytes_down), (1 << 20, 1 << 20));
    proxy.shutdown().await;
}

#[tokio::test]
async fn latency_and_bandwidth_limits_still_deliver_every_byte() {
    let (upstream, _ended) = echo_upstream().await;
    let proxy = FaultProxy::start(upstream).await.unwrap();
    proxy.set(Faults {
        latency: Duration::from_millis(2),
        bandwidth_bps: Some(1_000_000),
        ..Faults::default()
    });

    let sent = pattern(64 * 1024);
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let back = within("the throttled echo", round_trip(&mut stream, &sent))
        .await
        .unwrap();
    assert!(back == sent);
    proxy.shutdown().await;
}

#[tokio::test]
async fn drop_probability_one_closes_every_connection_at_once() {
    let (upstream, _ended) = echo_upstream().await;
    let proxy = FaultProxy::start(upstream).await.unwrap();
    proxy.set(Faults {
        drop_probability: 1.0,
        ..Faults::default()
    });

    for _ in 0..3 {
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        // The write may or may not land before the close; the read must not
        // bring anything back.
        let _ = stream.write_all(b"hello").await;
        assert!(closed(&mut stream).await);
    }
    let stats = proxy.stats();
    assert_eq!((stats.accepted, stats.dropped, stats.bytes_up), (3, 3, 0));
    proxy.shutdown().await;
}

#[tokio::test]
async fn the_same_seed_drops_the_same_connections() {
    async fn drop_pattern(seed: u64) -> Vec<bool> {
        let (upstream, _ended) = echo_upstream().await;
        let proxy = FaultProxy::start(upstream).await.unwrap();
        proxy.set(Faults {
            drop_probability: 0.5,
            seed,
            ..Faults::default()
        });
        let mut dropped = Vec::new();
        for _ in 0..24 {
            let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
            let echoed = within("an echo or a close", round_trip(&mut stream, b"ping")).await;
            dropped.push(echoed.is_err());
        }
        assert_eq!(
            proxy.stats().dropped,
            dropped.iter().filter(|d| **d).count() as u64
        );
        proxy.shutdown().await;
        dropped
    }

    let first = drop_pattern(42).await;
    assert!(first.contains(&true) && first.contains(&false), "{first:?}");
    assert_eq!(drop_pattern(42).await, first);
}

#[tokio::test]
async fn reset_mid_stream_gives_the_client_a_reset_or_eof_before_all_bytes() {
    let (upstream, _ended) = echo_upstream().await;
    let proxy = FaultProxy::start(upstream).await.unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let back = within("the first echo", round_trip(&mut stream, b"before")).await;
    assert_eq!(back.unwrap(), b"before");

    // The live connection takes the new plan at its next chunk.
    proxy.set(Faults {
        reset_probability: 1.0,
        ..Faults::default()
    });
    let after = within("the reset", round_trip(&mut stream, b"after")).await;
    assert!(after.is_err(), "got {after:?} through a reset");
    assert_eq!(proxy.stats().resets, 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn reset_probability_cuts_a_long_download_short() {
    let payload = pattern(4 << 20);
    let (upstream, _received) = source_upstream(payload.clone()).await;
    let proxy = FaultProxy::start(upstream).await.unwrap();
    proxy.set(Faults {
        reset_probability: 0.2,
        seed: 7,
        ..Faults::default()
    });

    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let (got, _) = within("the download to end", read_until_closed(&mut stream)).await;
    assert!(
        got.len() < payload.len(),
        "all {} bytes came through",
        got.len()
    );
    assert!(
        payload.starts_with(&got),
        "bytes before the reset are intact"
    );
    assert_eq!(proxy.stats().resets, 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn reset_all_resets_every_live_connection() {
    let (upstream, _ended) = echo_upstream().await;
    let proxy = FaultProxy::start(upstream).await.unwrap();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        within("an echo", round_trip(&mut stream, b"hi"))
            .await
            .unwrap();
        streams.push(stream);
    }

    proxy.reset_all();
    for stream in &mut streams {
        assert!(closed(stream).await);
    }
    assert_eq!(proxy.stats().reset_all, 3);

    // New connections are not affected.
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let back = within("an echo after the reset", round_trip(&mut stream, b"again")).await;
    assert_eq!(back.unwrap(), b"again");
    proxy.shutdown().await;
}

#[tokio::test]
async fn stall_after_stops_delivery_after_n_bytes_while_the_connection_stays_open() {
    let payload = pattern(64 * 1024);
    let (upstream, mut received) = source_upstream(payload.clone()).await;
    let proxy = FaultProxy::start(upstream).await.unwrap();
    proxy.set(Faults {
        stall_after: Some(1000),
        ..Faults::default()
    });

    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut head = vec![0u8; 1000];
    within("the first 1000 bytes", stream.read_exact(&mut head))
        .await
        .unwrap();
    assert!(head == payload[..1000]);
    within("the stall", proxy.wait_for_stats(|s| s.stalls == 1)).await;

    // Nothing more comes, not even EOF: the client would have to time out.
    let mut buf = [0u8; 1];
    let more = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await;
    assert!(more.is_err(), "read returned {more:?} during a stall");

    // The connection is open: the upstream still hears the client.
    stream.write_all(b"still here").await.unwrap();
    let heard = within("the upstream to hear", received.recv()).await;
    assert_eq!(heard.as_deref(), Some(&b"still here"[..]));

    // Lifting the stall lets the rest through.
    proxy.set(Faults::default());
    let mut rest = vec![0u8; payload.len() - 1000];
    within("the rest after the stall", stream.read_exact(&mut rest))
        .await
        .unwrap();
    assert!(rest == payload[1000..]);
    proxy.shutdown().await;
}

#[tokio::test]
async fn half_close_after_gives_eof_after_n_bytes() {
    let payload = pattern(64 * 1024);
    let (upstream, mut received) = source_upstream(payload.clone()).await;
    let proxy = FaultProxy::start(upstream).await.unwrap();
    proxy.set(Faults {
        half_close_after: Some(1000),
        ..Faults::default()
    });

    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let (got, failed) = within("EOF", read_until_closed(&mut stream)).await;
    assert!(!failed, "a half-close is an EOF, not a reset");
    assert!(got == payload[..1000], "got {} bytes", got.len());
    assert_eq!(proxy.stats().half_closes, 1);

    // Only the way down is closed: the upstream still hears the client.
    stream.write_all(b"still here").await.unwrap();
    let heard = within("the upstream to hear", received.recv()).await;
    assert_eq!(heard.as_deref(), Some(&b"still here"[..]));
    proxy.shutdown().await;
}

#[tokio::test]
async fn set_down_refuses_then_recovers() {
    let (upstream, _ended) = echo_upstream().await;
    let proxy = FaultProxy::start(upstream).await.unwrap();

    proxy.set_down(true);
    let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
    let _ = refused.write_all(b"anyone?").await;
    assert!(closed(&mut refused).await);
    assert_eq!(proxy.stats().refused, 1);

    proxy.set_down(false);
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let back = within("an echo after recovery", round_trip(&mut stream, b"back")).await;
    assert_eq!(back.unwrap(), b"back");
    proxy.shutdown().await;
}

#[tokio::test]
async fn stats_count_connections_bytes_and_faults() {
    let (upstream, _ended) = echo_upstream().await;
    let proxy = FaultProxy::start(upstream).await.unwrap();

    // Two clean connections, closed by the client; EOF back means the proxy
    // has counted everything it forwarded.
    for message in [&b"twelve bytes"[..], &[7u8; 30_000][..]] {
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        within("an echo", round_trip(&mut stream, message))
            .await
            .unwrap();
        stream.shutdown().await.unwrap();
        assert!(closed(&mut stream).await);
    }
    within(
        "both connections to finish",
        proxy.wait_for_stats(|s| s.active == 0),
    )
    .await;

    proxy.set(Faults {
        drop_probability: 1.0,
        ..Faults::default()
    });
    let mut dropped = TcpStream::connect(proxy.addr()).await.unwrap();
    assert!(closed(&mut dropped).await);

    proxy.set(Faults::default());
    proxy.set_down(true);
    let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
    assert!(closed(&mut refused).await);

    assert_eq!(
        proxy.stats(),
        ProxyStats {
            accepted: 4,
            active: 0,
            bytes_up: 30_012,
            bytes_down: 30_012,
            dropped: 1,
            refused: 1,
            ..ProxyStats::default()
        }
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_all_tasks() {
    let (upstream, mut ended) = echo_upstream().await;
    let proxy = FaultProxy::start(upstream).await.unwrap();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        within("an echo", round_trip(&mut stream, b"hi"))
            .await
            .unwrap();
        streams.push(stream);
    }
    // One more connection stuck in a stall, which must end too.
    proxy.set(Faults {
        stall_after: Some(0),
        ..Faults::default()
    });
    let mut stalled = TcpStream::connect(proxy.addr()).await.unwrap();
    stalled.write_all(b"hi").await.unwrap();
    within("the stall", proxy.wait_for_stats(|s| s.stalls == 1)).await;
    streams.push(stalled);

    // `shutdown` returns only once every task the proxy spawned has ended.
    within("shutdown", proxy.shutdown()).await;

    // Both sides of every connection see it go.
    for stream in &mut streams {
        assert!(closed(stream).await);
    }
    for _ in 0..4 {
        within("every upstream handler to end", ended.recv())
            .await
            .unwrap();
    }
}
