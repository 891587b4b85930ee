//! Talking to the server: the schedule document (ETag / If-None-Match, kept in SQLite),
//! the event stream (SSE: `schedule`, `urgent`, `cancel`), log upload from the outbox,
//! heartbeats and urgent acknowledgements. Every network failure is logged and retried with
//! exponential backoff and jitter (cap 30 s); nothing here ever gives up.
//!
//! Why one file of about 750 lines (700 of code): four loops (document, event stream, log
//! upload, acknowledgements) around one client and one backoff, each short; the event
//! stream's parser is apart already (`sse.rs`).

use crate::cache::{self, Db};
use crate::fetch::MediaCache;
use crate::shared::{Inputs, Shared};
use crate::sse;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use schedules::wire::Event;
use schedules::wire::{
    LogBatch, ScheduleChanged, UrgentAck, UrgentCancel, UrgentNotice, UrgentState,
};
use schedules::Clock;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// How often the document is polled even without a push.
pub const POLL_EVERY: Duration = Duration::from_secs(60);
/// An event stream silent this long (not even a keep-alive) is reconnected.
const SSE_IDLE: Duration = Duration::from_secs(90);
/// Log entries per upload.
const BATCH: usize = 500;

pub use crate::client::{server_date, Backoff, Client, Fetched, SyncError};

/// Fetch the document once; store it (one transaction) and publish it when it changed.
pub async fn sync_once(
    client: &Client,
    db: &Db,
    shared: &Shared,
    clock: &dyn Clock,
) -> Result<(), SyncError> {
    let etag = shared.inputs.borrow().etag.clone();
    let fetched = client.fetch_schedule(etag.as_deref()).await?;
    let now = clock.now();
    if let Fetched::Doc(doc, etag) = fetched {
        let stored = {
            let doc = (*doc).clone();
            let etag = etag.clone();
            db.call(move |c| cache::store_doc(c, &doc, etag.as_deref(), now))
                .await
        };
        if let Err(e) = stored {
            tracing::error!("cannot store the schedule document: {e}");
        }
        tracing::info!(version = %doc.version, rules = doc.rules.len(), "schedule document updated");
        let cancelled = shared.inputs.borrow().cancelled.clone();
        for n in doc.urgent.iter().filter(|n| !cancelled.contains(&n.id)) {
            shared.ack_received(&n.id, now);
        }
        // Commands not acknowledged yet (issued while we were away, or an ack was lost).
        for c in &doc.commands {
            shared.command(c.clone());
        }
        shared.inputs.send_modify(|i: &mut Inputs| {
            i.doc = Some(Arc::new(*doc));
            i.etag = etag;
        });
        shared.heartbeat_now.notify_one();
    }
    shared.status_mut(|s| s.last_sync = Some(now));
    Ok(())
}

/// Keep the document fresh: on start, on every `schedule` push, and every 60 s.
pub async fn sync_loop(client: Client, db: Db, shared: Arc<Shared>, clock: Arc<dyn Clock>) {
    let mut backoff = Backoff::default();
    loop {
        match sync_once(&client, &db, &shared, clock.as_ref()).await {
            Ok(()) => {
                backoff.reset();
                tokio::select! {
                    _ = shared.refetch.notified() => {}
                    _ = tokio::time::sleep(POLL_EVERY) => {}
                }
            }
            Err(e) => {
                let d = backoff.next_delay();
                tracing::warn!(
                    "schedule sync failed: {e}; retrying in {:.1} s",
                    d.as_secs_f64()
                );
                tokio::select! {
                    _ = shared.refetch.notified() => {}
                    _ = tokio::time::sleep(d) => {}
                }
            }
        }
    }
}

/// What an urgent event leaves to write down once the loudspeakers have it: the notice
/// itself, the audio that came with it (played from memory until then), a cancel. Written
/// in the order of the events, after [`Shared::after_urgent_start`]: when a district's
/// stations all take the same notice at once, the disk work of those already airing it
/// does not hold up those still starting it (and the event stream goes on meanwhile: a
/// cancel is never delayed). A crash before it is written loses nothing: the document
/// lists the notice again, its file is fetched, and the start-up check indexes a verified
/// file the index does not know.
#[derive(Debug)]
pub enum Bookkeeping {
    /// A pushed notice, and its audio if it came with the push (verified, held in memory).
    Pushed {
        notice: Box<UrgentNotice>,
        audio: Option<bytes::Bytes>,
        at: DateTime<Utc>,
    },
    /// A cancelled notice.
    Cancelled { id: String, at: DateTime<Utc> },
}

/// Write down what the events left to write, in order.
pub async fn bookkeeping_loop(
    mut rx: UnboundedReceiver<Bookkeeping>,
    db: Db,
    media: MediaCache,
    shared: Arc<Shared>,
) {
    while let Some(job) = rx.recv().await {
        shared.after_urgent_start().await;
        match job {
            Bookkeeping::Pushed { notice, audio, at } => {
                if let Some(bytes) = audio {
                    let sha = &notice.media_sha256;
                    match media.store_pushed(sha, bytes, at).await {
                        Ok(_) => shared.release_audio(sha.as_str()),
                        // Still held in memory: its airings play from there.
                        Err(e) => tracing::warn!(id = %notice.id, "the urgent notice's audio: {e}"),
                    }
                }
                let id = notice.id.clone();
                if let Err(e) = db.call(move |c| cache::store_urgent(c, &notice, at)).await {
                    tracing::error!("cannot store urgent notice {id}: {e}");
                }
            }
            Bookkeeping::Cancelled { id, at } => {
                let id2 = id.clone();
                if let Err(e) = db.call(move |c| cache::cancel_urgent(c, &id2, at)).await {
                    tracing::error!("cannot store the cancel of {id}: {e}");
                }
            }
        }
    }
}

/// Handle one server-sent event; what it leaves to write down goes to `book`.
pub fn handle_event(
    ev: &sse::Event,
    book: &UnboundedSender<Bookkeeping>,
    shared: &Shared,
    clock: &dyn Clock,
) {
    let now = clock.now();
    match Event::parse(&ev.event) {
        Some(Event::Schedule) => {
            if let Ok(c) = serde_json::from_str::<ScheduleChanged>(&ev.data) {
                let held = shared
                    .inputs
                    .borrow()
                    .doc
                    .as_ref()
                    .map(|d| d.version.clone());
                if held.as_deref() == Some(c.version.as_str()) {
                    return;
                }
            }
            shared.refetch.notify_one();
        }
        Some(Event::Urgent) => match read_push(&ev.data) {
            Ok((n, audio)) => {
                tracing::warn!(id = %n.id, title = %n.title, "urgent notice received");
                shared.urgent_on_its_way();
                // Its audio, when it came along, held in memory before the plan sees the
                // notice: the player starts it at once instead of waiting for a download.
                let audio = audio.and_then(|a| hold_pushed_audio(shared, &n, a.as_bytes()));
                // Into the plan first (it must reach the speaker within a second), then disk.
                shared.inputs.send_modify(|i| {
                    let mut pushed = (*i.pushed).clone();
                    pushed.retain(|p| p.id != n.id);
                    pushed.push(n.clone());
                    i.pushed = Arc::new(pushed);
                });
                shared.ack_received(&n.id, now);
                let _ = book.send(Bookkeeping::Pushed {
                    notice: Box::new(n),
                    audio,
                    at: now,
                });
            }
            Err(e) => tracing::warn!("bad urgent event: {e}"),
        },
        Some(Event::Cancel) => match serde_json::from_str::<UrgentCancel>(&ev.data) {
            Ok(c) => {
                tracing::warn!(id = %c.id, "urgent notice cancelled");
                shared.inputs.send_modify(|i| {
                    let mut set = (*i.cancelled).clone();
                    set.insert(c.id.clone());
                    i.cancelled = Arc::new(set);
                });
                shared.ack(
                    &c.id,
                    UrgentAck {
                        state: UrgentState::Cancelled,
                        at: now,
                        reason: None,
                    },
                );
                let _ = book.send(Bookkeeping::Cancelled { id: c.id, at: now });
            }
            Err(e) => tracing::warn!("bad cancel event: {e}"),
        },
        Some(Event::Command) => {
            match serde_json::from_str::<schedules::remote::RemoteCommand>(&ev.data) {
                Ok(c) => shared.command(c),
                Err(e) => tracing::warn!("bad command event: {e}"),
            }
        }
        // Live broadcast (#25): handed to `crate::live`.
        Some(Event::Live) => match serde_json::from_str::<schedules::wire::LivePush>(&ev.data) {
            Ok(p) => shared.live_push(p),
            Err(e) => tracing::warn!("bad live event: {e}"),
        },
        None => tracing::debug!("ignoring event {:?}", ev.event),
    }
}

/// An `urgent` event ([`schedules::wire::UrgentPush`]) with its audio borrowed from the
/// event's text: tens of KiB on every station at the same moment, not copied.
#[derive(serde::Deserialize)]
struct PushRef<'a> {
    #[serde(flatten)]
    notice: UrgentNotice,
    #[serde(borrow, default)]
    audio: Option<Text<'a>>,
}

/// Text borrowed when it holds no escapes (serde borrows a `Cow` only when it is the
/// field's whole type, not inside an `Option`).
#[derive(serde::Deserialize)]
struct Text<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);

/// Read an `urgent` event: the notice (its fields are the event's other fields) and the
/// audio that came with it.
fn read_push(text: &str) -> serde_json::Result<(UrgentNotice, Option<std::borrow::Cow<'_, str>>)> {
    let push = serde_json::from_str::<PushRef>(text)?;
    Ok((push.notice, push.audio.map(|t| t.0)))
}

/// Check the audio that came with urgent notice `n` (base64) and hold it in memory for the
/// player, which starts the notice from there at once; it is written into the media cache
/// after the notice starts (see [`Bookkeeping`]). Audio that is not the notice's file is
/// dropped with a warning: the cache then downloads the file, as for a push without audio.
fn hold_pushed_audio(shared: &Shared, n: &UrgentNotice, audio: &[u8]) -> Option<bytes::Bytes> {
    let held = match base64_simd::STANDARD.decode_to_vec(audio) {
        Ok(bytes) => MediaCache::verify_pushed(&n.media_sha256, &bytes)
            .map(|()| bytes::Bytes::from(bytes))
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("not base64: {e}")),
    };
    match held {
        Ok(bytes) => {
            tracing::debug!(id = %n.id, size = bytes.len(), "urgent audio came with the notice");
            shared.hold_audio(n.media_sha256.as_str(), bytes.clone());
            Some(bytes)
        }
        Err(e) => {
            tracing::warn!(id = %n.id, "the audio sent with the urgent notice is refused ({e}); fetching the file instead");
            None
        }
    }
}

/// Stay subscribed to the event stream, forever; reconnect with backoff and `Last-Event-ID`.
pub async fn sse_loop(
    client: Client,
    db: Db,
    media: MediaCache,
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
) {
    let (book, book_rx) = tokio::sync::mpsc::unbounded_channel();
    let keeping = bookkeeping_loop(book_rx, db, media, shared.clone());
    tokio::join!(keeping, events_loop(client, book, shared, clock));
}

async fn events_loop(
    client: Client,
    book: UnboundedSender<Bookkeeping>,
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
) {
    let mut backoff = Backoff::default();
    let mut last_id: Option<String> = None;
    let mut moved = client.servers().watch();
    loop {
        moved.borrow_and_update();
        let err = match client.events(last_id.as_deref()).await {
            Ok(resp) => {
                tracing::info!("event stream connected");
                // Anything pushed while we were away: fetch the document now.
                shared.refetch.notify_one();
                let mut parser = sse::Parser::new();
                let mut stream = resp.bytes_stream();
                let mut got_any = false;
                let reason = loop {
                    let next = tokio::select! {
                        n = tokio::time::timeout(SSE_IDLE, stream.next()) => n,
                        _ = moved.changed() => {
                            // Another server is active now (this one failed a request, or
                            // the preferred one is back): follow at once.
                            backoff.reset();
                            break "the active server changed".to_string();
                        }
                    };
                    match next {
                        Err(_) => break "no data for 90 s".to_string(),
                        Ok(None) => break "the server closed the stream".to_string(),
                        Ok(Some(Err(e))) => break e.to_string(),
                        Ok(Some(Ok(bytes))) => {
                            for ev in parser.feed(&bytes) {
                                got_any = true;
                                handle_event(&ev, &book, &shared, clock.as_ref());
                            }
                            if let Some(id) = parser.last_id() {
                                last_id = Some(id.to_string());
                            }
                            if !bytes.is_empty() {
                                backoff.reset();
                            }
                        }
                    }
                };
                let _ = got_any;
                reason
            }
            Err(e) => e.to_string(),
        };
        let d = if moved.has_changed().unwrap_or(false) {
            // The failure moved us to another server: no reason to wait for it.
            backoff.reset();
            Duration::from_millis(100)
        } else {
            backoff.next_delay()
        };
        tracing::warn!(
            "event stream lost: {err}; reconnecting to {} in {:.1} s",
            client.servers().active().1,
            d.as_secs_f64()
        );
        tokio::time::sleep(d).await;
    }
}

/// Upload one batch (oldest first) and delete what the server acknowledged. Returns
/// (entries sent, entries acknowledged); (0, 0) when the outbox is empty.
///
/// Answers (entries sent, entries settled: acknowledged or put aside). When the server
/// refuses a batch for its content (400, 413, 422), one bad entry must not hold up every
/// later one: the batch is split in halves, each sent on its own, down to the single
/// entries the server refuses, which go to the quarantine table with the server's reason
/// (and a warning in the log). The good entries all arrive. Any other failure (the network,
/// 5xx, 401, 429) is returned, and the whole batch waits for the next try.
pub async fn upload_once(
    client: &Client,
    db: &Db,
    clock: &dyn Clock,
) -> Result<(usize, usize), SyncError> {
    let batch = match db.call(|c| cache::outbox_batch(c, BATCH)).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("cannot read the outbox: {e}");
            return Ok((0, 0));
        }
    };
    if batch.is_empty() {
        return Ok((0, 0));
    }
    let n = batch.len();
    let mut settled = 0;
    // Parts still to send, the oldest on top.
    let mut todo = vec![batch];
    while let Some(entries) = todo.pop() {
        let body = LogBatch { entries };
        let refusal = match client.post_logs(&body).await {
            Ok(ack) => {
                let accepted = ack.accepted;
                settled += accepted.len();
                if let Err(e) = db.call(move |c| cache::outbox_ack(c, &accepted)).await {
                    tracing::error!("cannot delete acknowledged log entries: {e}");
                }
                continue;
            }
            Err(e) if e.refuses_content() => e,
            Err(e) => return Err(e),
        };
        let mut entries = body.entries;
        if entries.len() > 1 {
            let second = entries.split_off(entries.len() / 2);
            todo.push(second);
            todo.push(entries);
            continue;
        }
        let Some(bad) = entries.pop() else { continue };
        let reason = refusal.to_string();
        tracing::warn!(
            id = %bad.id,
            scheduled_at = %bad.scheduled_at,
            "the server refused log entry {:?} ({reason}); it is kept aside in the quarantine \
             table of the controller database and not sent again",
            bad.title
        );
        let (id, now) = (bad.id.clone(), clock.now());
        match db
            .call(move |c| cache::outbox_quarantine(c, &id, &reason, now))
            .await
        {
            Ok(()) => settled += 1,
            Err(e) => tracing::error!("cannot put the refused log entry aside: {e}"),
        }
    }
    Ok((n, settled))
}

/// Upload the outbox, oldest first, in batches; delete what the server acknowledged.
pub async fn upload_loop(client: Client, db: Db, shared: Arc<Shared>, clock: Arc<dyn Clock>) {
    let mut backoff = Backoff::default();
    loop {
        match upload_once(&client, &db, clock.as_ref()).await {
            Ok((0, _)) => {
                tokio::select! {
                    _ = shared.upload.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                }
            }
            Ok((n, k)) => {
                backoff.reset();
                tracing::debug!("uploaded {n} log entries; {k} acknowledged");
                if k == 0 {
                    // The server took none: do not spin.
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
            Err(e) => {
                let d = backoff.next_delay();
                tracing::warn!(
                    "log upload failed: {e}; retrying in {:.1} s",
                    d.as_secs_f64()
                );
                tokio::time::sleep(d).await;
            }
        }
    }
}

/// Send urgent acknowledgements in order; network failures retry forever, refusals are dropped.
/// An acknowledgement waits while an urgent notice's audio downloads; its time is when the
/// state changed, not when it was sent.
pub async fn ack_loop(
    client: Client,
    shared: Arc<Shared>,
    mut rx: UnboundedReceiver<(String, UrgentAck)>,
) {
    while let Some((id, ack)) = rx.recv().await {
        shared.after_urgent_start().await;
        let mut backoff = Backoff::default();
        loop {
            match client.ack_urgent(&id, &ack).await {
                Ok(()) => break,
                Err(e) if e.is_permanent() => {
                    tracing::warn!("urgent {id}: ack {} refused: {e}", ack.state.as_str());
                    break;
                }
                Err(e) => {
                    let d = backoff.next_delay();
                    tracing::warn!(
                        "urgent {id}: ack {} failed: {e}; retrying in {:.1} s",
                        ack.state.as_str(),
                        d.as_secs_f64()
                    );
                    tokio::time::sleep(d).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_urgent_event_is_read_as_the_wire_type_with_its_audio_borrowed() {
        let notice = UrgentNotice {
            id: "u1".into(),
            title: "Bão số 3".into(),
            category: "phòng chống thiên tai".into(),
            media_sha256: "ab".repeat(32).parse().unwrap(),
            duration_ms: 1000,
            starts_at: "2026-11-29T08:00:00Z".parse().unwrap(),
            repeat: 2,
            interval_s: 1800,
            expires_at: None,
            gain_db: Some(-4.5),
        };
        let audio = "QUJD/+9=".repeat(1000);
        let text = serde_json::to_string(&schedules::wire::UrgentPush {
            notice: notice.clone(),
            audio: Some(audio.clone()),
        })
        .unwrap();
        let (got, got_audio) = read_push(&text).unwrap();
        assert_eq!(got, notice);
        assert!(matches!(got_audio, Some(std::borrow::Cow::Borrowed(a)) if a == audio));
        // Without audio (a long file), and with an escaped character (still read).
        let bare = serde_json::to_string(&notice).unwrap();
        assert!(read_push(&bare).unwrap().1.is_none());
        let escaped = text.replacen("QUJD/", "QUJD\\/", 1);
        assert_eq!(
            read_push(&escaped).unwrap().1.as_deref(),
            Some(audio.as_str())
        );
        // Not a notice: the error names what is missing.
        let err = read_push(r#"{"id":"u1","audio":"QUJD"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field"), "{err}");
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped_at_30_seconds() {
        let mut b = Backoff::default();
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(250) && first <= Duration::from_millis(500));
        for _ in 0..20 {
            assert!(b.next_delay() <= Duration::from_secs(30));
        }
        let late = b.next_delay();
        assert!(late >= Duration::from_secs(15));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(500));
    }
}
