//! Live broadcasts (#25): someone speaks into the server's microphone page; this station
//! plays every frame at its server timestamp plus the play-out delay the server gave every
//! station alike, so that neighbouring loudspeakers never echo each other.
//!
//! Per session, two tasks:
//! - the **receiver** holds the session's stream (`GET /device/live/{id}/stream`), decodes
//!   each frame (IMA ADPCM, [`media::voice`]) into the [`Timeline`] keyed by its timestamp,
//!   and reconnects at once when the stream breaks;
//! - the **play-out** keeps the session's mixer cue fed about [`LEAD`] ahead of the output.
//!   For each output frame it asks the mixer which UTC instant that frame goes out at, and
//!   takes the sample the timeline holds for that instant minus the delay (linear
//!   interpolation from 14 kHz to the output rate). Drift between the sender's clock and
//!   this sound card is corrected by slewing (at most [`MAX_SLEW`]) towards the mixer's
//!   frame ↔ UTC mapping, never by a jump, unless the error exceeds [`JUMP_US`]. Audio
//!   that is not there in time is silence for the gap, logged as a gap; the rest still
//!   plays at its own instant, never later.
//!
//! The session is a mixer cue like any other item, with the priority it was opened at:
//! `emergency` interrupts what airs, `priority` waits for it. Cut by an emergency, the
//! session is cued again and resumes at the live instant when the emergency ends. One log
//! entry per session (`live:<id>`), with the milliseconds aired and the gaps.

use crate::cache::{self, Db};
use crate::mixer::{Cue, CueState, Mixer};
use crate::shared::Shared;
use crate::sync::Client;
use chrono::{DateTime, Utc};
use media::voice::{adpcm, Frame};
use schedules::wire::{LivePush, LiveReport, LogEntry, RelayGap};
use schedules::{Clock, PlayStatus, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// How far ahead of the mixer the cue's audio is kept, µs.
pub const LEAD_US: i64 = 40_000;

/// How often the play-out runs.
const TICK: Duration = Duration::from_millis(5);

/// Largest rate correction while following the output's clock.
pub const MAX_SLEW: f64 = 0.005;

/// An error of the output mapping above this is corrected at once (start, resume).
pub const JUMP_US: f64 = 30_000.0;

/// A stream that sends nothing (not even its keep-alive, every second) for this long is
/// taken as cut and opened again.
const STREAM_IDLE: Duration = Duration::from_millis(1500);

/// Wait between two attempts to open the stream.
const RETRY: Duration = Duration::from_millis(200);

/// Once audio has come, a session from which nothing more arrives for this long (the
/// station's network is down) ends here: the loudspeakers are not held for silence.
const GIVE_UP_US: i64 = 15_000_000;

/// Gaps shorter than this are not logged (a frame or so).
const MIN_GAP_MS: i64 = 60;

/// What the play-out needs.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The server.
    pub client: Client,
    /// The output.
    pub mixer: Mixer,
    /// The journal (log outbox).
    pub db: Db,
    /// Shared state (the uploader is woken through it).
    pub shared: Arc<Shared>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The sound card's precision: held for the whole session.
    pub precision: Arc<crate::precision::Precision>,
}

/// Start a session for each announced one (each once).
pub async fn live_loop(ctx: Ctx, mut rx: UnboundedReceiver<LivePush>) {
    let mut seen = HashSet::new();
    while let Some(p) = rx.recv().await {
        if !seen.insert(p.id.clone()) {
            continue;
        }
        tokio::spawn(session(ctx.clone(), p));
    }
}

/// One decoded frame.
#[derive(Debug)]
struct Chunk {
    span_us: i64,
    samples: Vec<f32>,
}

/// The session's audio by server timestamp, and how it ended.
#[derive(Debug, Default)]
pub struct Timeline {
    chunks: BTreeMap<i64, Chunk>,
    first_us: Option<i64>,
    /// End of the newest chunk.
    newest_end_us: Option<i64>,
    /// Set by the end frame: (reason, archive, end of the last audio).
    ended: Option<(String, Option<String>, Option<i64>)>,
    /// Latest lateness of a frame that came after its time, ms, since the last report.
    late_ms: u64,
}

impl Timeline {
    /// Add a decoded frame; `now_us`, `delay_us`: to measure lateness.
    fn insert(&mut self, pts_us: i64, span_us: i64, samples: Vec<f32>, now_us: i64, delay_us: i64) {
        if samples.is_empty() || span_us <= 0 {
            return;
        }
        let late = now_us - (pts_us + delay_us - LEAD_US);
        if late > 0 {
            self.late_ms = self.late_ms.max((late / 1000) as u64);
        }
        self.first_us = Some(self.first_us.map_or(pts_us, |f| f.min(pts_us)));
        self.newest_end_us = Some(
            self.newest_end_us
                .map_or(pts_us + span_us, |e| e.max(pts_us + span_us)),
        );
        self.chunks.insert(pts_us, Chunk { span_us, samples });
    }

    /// Forget audio that ended before `t_us`.
    fn prune(&mut self, t_us: i64) {
        while let Some((&pts, c)) = self.chunks.first_key_value() {
            if pts + c.span_us < t_us {
                self.chunks.pop_first();
            } else {
                break;
            }
        }
    }

    /// The sample at server time `t` (µs), if audio covers it.
    fn sample(&self, t: f64) -> Option<f32> {
        let key = t.floor() as i64;
        let (&pts, c) = self.chunks.range(..=key).next_back()?;
        let off = t - pts as f64;
        if off < 0.0 || off >= c.span_us as f64 {
            return None;
        }
        let n = c.samples.len();
        let pos = off / c.span_us as f64 * n as f64;
        let i = (pos.floor() as usize).min(n - 1);
        let frac = (pos - i as f64) as f32;
        let a = c.samples[i];
        let b = if i + 1 < n {
            c.samples[i + 1]
        } else {
            self.chunks
                .get(&(pts + c.span_us))
                .and_then(|next| next.samples.first().copied())
                .unwrap_or(a)
        };
        Some(a + (b - a) * frac)
    }
}

type Shared2 = Arc<Mutex<Timeline>>;

fn lock(t: &Shared2) -> std::sync::MutexGuard<'_, Timeline> {
    t.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hold the session's stream until its end frame, reconnecting at once when it breaks.
async fn receive(client: Client, push: LivePush, tl: Shared2, clock: Arc<dyn Clock>) {
    use futures_util::StreamExt;
    let delay_us = i64::from(push.delay_ms) * 1000;
    loop {
        match client.live_stream(&push.stream).await {
            Ok(resp) => {
                tracing::info!(id = %push.id, "live stream connected");
                let mut stream = resp.bytes_stream();
                let mut buf = Vec::new();
                let why = 'read: loop {
                    let bytes = match tokio::time::timeout(STREAM_IDLE, stream.next()).await {
                        Err(_) => break 'read "nothing for 1.5 s".to_string(),
                        Ok(None) => break 'read "the server closed it".to_string(),
                        Ok(Some(Err(e))) => break 'read e.to_string(),
                        Ok(Some(Ok(b))) => b,
                    };
                    buf.extend_from_slice(&bytes);
                    loop {
                        match Frame::take(&mut buf) {
                            Ok(None) => break,
                            Err(e) => break 'read e.to_string(),
                            Ok(Some(Frame::KeepAlive)) => {}
                            Ok(Some(Frame::Audio {
                                stamp,
                                state,
                                samples,
                                data,
                                ..
                            })) => {
                                let mut out = Vec::with_capacity(usize::from(samples));
                                adpcm::decode(state, &data, usize::from(samples), &mut out);
                                let now_us = clock.now().timestamp_micros();
                                lock(&tl).insert(
                                    stamp.pts_us,
                                    i64::from(stamp.span_us),
                                    out,
                                    now_us,
                                    delay_us,
                                );
                            }
                            Ok(Some(Frame::End(json))) => {
                                let v: serde_json::Value =
                                    serde_json::from_str(&json).unwrap_or_default();
                                let reason = v["reason"].as_str().unwrap_or("ended").to_string();
                                let archive = v["archive"].as_str().map(str::to_string);
                                let mut t = lock(&tl);
                                let end = t.newest_end_us;
                                t.ended = Some((reason, archive, end));
                                tracing::info!(id = %push.id, "live session ended at the server");
                                return;
                            }
                        }
                    }
                };
                tracing::warn!(id = %push.id, "live stream broken ({why}); reconnecting");
            }
            Err(e) if e.is_permanent() => {
                tracing::warn!(id = %push.id, "live stream refused: {e}");
                let mut t = lock(&tl);
                let end = t.newest_end_us;
                t.ended = Some((format!("refused by the server: {e}"), None, end));
                return;
            }
            Err(e) => tracing::warn!(id = %push.id, "live stream: {e}; retrying"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// One stretch of the session in the mixer (it is cued again after an emergency cut it).
struct Segment {
    tx: Option<std::sync::mpsc::Sender<Vec<f32>>>,
    pushed: u64,
    consumed: u64,
    airing: bool,
}

/// What one session did at this station.
#[derive(Debug, Default)]
struct Tally {
    consumed: u64,
    gap_frames: u64,
    gaps: Vec<RelayGap>,
    open_gap: Option<(DateTime<Utc>, u64)>,
    started_at: Option<DateTime<Utc>>,
    /// Cut by another item (an emergency) at this instant, and not yet airing again.
    cut_at: Option<DateTime<Utc>>,
}

/// The play-out position: the next output frame to fill and the server instant (µs) it
/// shows.
#[derive(Debug, Default)]
struct Cursor {
    frame: Option<u64>,
    src_us: f64,
}

async fn session(ctx: Ctx, push: LivePush) {
    // The card on its short period from the announcement on: the first audio comes a
    // play-out delay later, and the switch takes a few tens of milliseconds.
    let _precise = ctx.precision.hold();
    let tl: Shared2 = Arc::default();
    let receiver = tokio::spawn(receive(
        ctx.client.clone(),
        push.clone(),
        tl.clone(),
        ctx.clock.clone(),
    ));
    let key = format!("live:{}", push.id);
    let delay_us = i64::from(push.delay_ms) * 1000;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seg: Option<Segment> = None;
    let mut cur = Cursor::default();
    let mut tally = Tally::default();
    let mut last_report = tokio::time::Instant::now();
    let mut state = "waiting";
    let (reason, archive) = loop {
        tick.tick().await;
        let now = ctx.clock.now();
        let fmt = ctx.mixer.format();
        let rate = i64::from(fmt.rate.max(1));
        let lead_frames = (LEAD_US * rate / 1_000_000) as u64;
        let (rendered, cs) = ctx.mixer.cue_state(&key);
        let (ended, first_us, newest) = {
            let t = lock(&tl);
            (t.ended.clone(), t.first_us, t.newest_end_us)
        };
        if ended.is_none()
            && newest.is_some_and(|n| now.timestamp_micros() - n > GIVE_UP_US + delay_us)
        {
            let why = "nothing came from the server for 15 s (network)".to_string();
            tracing::warn!(key = %key, "live broadcast given up: {why}");
            if let Some(s) = seg.take() {
                tally.consumed += s.consumed;
            }
            break (why, None);
        }
        match (cs, seg.as_mut()) {
            (CueState::Airing { consumed }, Some(s)) => {
                if !s.airing {
                    s.airing = true;
                    let start = rendered.saturating_sub(consumed);
                    let at = ctx.mixer.utc_of_frame(start).unwrap_or(now);
                    if tally.started_at.is_none() {
                        // Journaled before anything else: a controller that dies while the
                        // session airs logs it `interrupted` at its next start.
                        let template = entry(&push, &key, Some(at), 0, &tally.gaps);
                        let db = ctx.db.clone();
                        if let Err(e) = db.call(move |c| cache::play_started(c, &template)).await {
                            tracing::error!(key = %key, "cannot journal the live broadcast's start: {e}");
                        }
                    }
                    tally.started_at.get_or_insert(at);
                    if let Some(from) = tally.cut_at.take() {
                        tally.gaps.push(RelayGap {
                            from,
                            to: at,
                            reason: "interrupted by another item (an emergency)".into(),
                        });
                    }
                }
                s.consumed = consumed;
                state = "airing";
                let next = rendered + s.pushed.saturating_sub(consumed);
                let want = rendered + lead_frames;
                if next < want {
                    fill(
                        &ctx.mixer,
                        &tl,
                        s,
                        &mut cur,
                        &mut tally,
                        next,
                        want - next,
                        delay_us,
                    );
                }
            }
            (CueState::Pending, Some(s)) => {
                state = "waiting";
                if s.pushed == 0 {
                    if let Some(f) = cur.frame {
                        fill(
                            &ctx.mixer,
                            &tl,
                            s,
                            &mut cur,
                            &mut tally,
                            f,
                            lead_frames,
                            delay_us,
                        );
                    }
                }
            }
            (CueState::Absent, Some(s)) => {
                // The stretch ended: played out (its sender dropped) or cut by an emergency.
                let finished = s.tx.is_none();
                tally.consumed += if finished { s.pushed } else { s.consumed };
                if !finished && s.airing {
                    tally.cut_at = Some(now);
                    tracing::warn!(key = %key, "live broadcast cut by another item; cued again");
                }
                seg = None;
                cur.frame = None;
                if finished {
                    if let Some((r, a, _)) = ended.clone() {
                        break (r, a);
                    }
                }
            }
            (_, None) => {
                let now_us = now.timestamp_micros();
                // Ended, and nothing left to play: done.
                if let Some((r, a, end)) = ended.clone() {
                    if end.is_none_or(|e| e + delay_us <= now_us + LEAD_US) {
                        break (r, a);
                    }
                }
                // Audio is here: cue the session at the first instant still to come.
                if let Some(first) = first_us {
                    let at_us = (first + delay_us).max(now_us + LEAD_US);
                    let at = DateTime::<Utc>::from_timestamp_micros(at_us).unwrap_or(now);
                    if let Some(f) = ctx.mixer.frame_at(at) {
                        let (tx, rx) = std::sync::mpsc::channel();
                        ctx.mixer.cue(Cue {
                            key: key.clone(),
                            start_frame: 0,
                            at: Some(at),
                            priority: push.priority,
                            audio: rx,
                            until: None,
                        });
                        let mut s = Segment {
                            tx: Some(tx),
                            pushed: 0,
                            consumed: 0,
                            airing: false,
                        };
                        cur.frame = None;
                        fill(
                            &ctx.mixer,
                            &tl,
                            &mut s,
                            &mut cur,
                            &mut tally,
                            f,
                            lead_frames,
                            delay_us,
                        );
                        seg = Some(s);
                    }
                }
            }
        }
        // Forget what has gone out.
        if let Some(t) = ctx.mixer.utc_of_frame(rendered) {
            lock(&tl).prune(t.timestamp_micros() - delay_us - 1_000_000);
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = tokio::time::Instant::now();
            let late = std::mem::take(&mut lock(&tl).late_ms);
            let played = played_ms(&tally, seg.as_ref(), rate);
            if tally.started_at.is_some() {
                let (db, k) = (ctx.db.clone(), key.clone());
                if let Err(e) = db.call(move |c| cache::play_progress(c, &k, played)).await {
                    tracing::warn!(key = %key, "cannot journal the live broadcast's progress: {e}");
                }
            }
            let r = LiveReport {
                state: if late > 0 && state == "airing" {
                    "behind"
                } else {
                    state
                }
                .into(),
                behind_ms: late,
                played_ms: played,
                gaps: tally.gaps.len() as u32,
            };
            let (client, id) = (ctx.client.clone(), push.id.clone());
            tokio::spawn(async move {
                if let Err(e) = client.live_report(&id, &r).await {
                    tracing::debug!(id, "live report not sent: {e}");
                }
            });
        }
    };
    receiver.abort();
    ctx.mixer.stop(&key, "the live session ended");
    let rate = i64::from(ctx.mixer.format().rate.max(1));
    let played = played_ms(&tally, None, rate);
    let now = ctx.clock.now();
    let (status, why) = if played == 0 {
        (PlayStatus::Skipped, Some(format!("never aired: {reason}")))
    } else if tally.cut_at.is_some() {
        (
            PlayStatus::Interrupted,
            Some(format!("cut by another item (an emergency); {reason}")),
        )
    } else {
        (PlayStatus::Played, Some(reason.clone()))
    };
    let mut entry = entry(&push, &key, tally.started_at, played, &tally.gaps);
    entry.media_sha256 = archive.as_deref().and_then(|a| Sha256::parse(a).ok());
    entry.ended_at = Some(now);
    entry.status = status;
    entry.reason = why;
    tracing::info!(key = %key, played_ms = played, gaps = tally.gaps.len(), "live broadcast logged");
    if let Err(e) = ctx
        .db
        .call(move |c| cache::record_outcome(c, &entry, now))
        .await
    {
        tracing::error!(key = %key, "cannot journal the live broadcast: {e}");
    }
    ctx.shared.upload.notify_one();
    let r = LiveReport {
        state: "ended".into(),
        behind_ms: 0,
        played_ms: played,
        gaps: tally.gaps.len() as u32,
    };
    if let Err(e) = ctx.client.live_report(&push.id, &r).await {
        tracing::debug!(id = %push.id, "last live report not sent: {e}");
    }
}

/// The session's log entry at this station so far (as it would be if it ended now).
fn entry(
    push: &LivePush,
    key: &str,
    started_at: Option<DateTime<Utc>>,
    played_ms: u64,
    gaps: &[RelayGap],
) -> LogEntry {
    LogEntry {
        id: key.to_string(),
        schedule_id: None,
        urgent_id: None,
        title: push.title.clone(),
        category: "live".into(),
        priority: push.priority,
        media_sha256: None,
        scheduled_at: push.started_at,
        started_at,
        ended_at: started_at.map(|s| s + chrono::Duration::milliseconds(played_ms as i64)),
        played_ms,
        status: PlayStatus::Played,
        reason: None,
        rms_dbfs: None,
        peak_dbfs: None,
        gaps: gaps.to_vec(),
        part_of: None,
        planned_ms: None,
    }
}

fn played_ms(t: &Tally, seg: Option<&Segment>, rate: i64) -> u64 {
    let frames = t.consumed + seg.map_or(0, |s| s.consumed);
    let open = t.open_gap.map_or(0, |g| g.1);
    frames.saturating_sub(t.gap_frames + open) * 1000 / rate.max(1) as u64
}

/// Push `n` output frames starting at output frame `from` into the segment's cue.
#[allow(clippy::too_many_arguments)]
fn fill(
    mixer: &Mixer,
    tl: &Shared2,
    s: &mut Segment,
    cur: &mut Cursor,
    tally: &mut Tally,
    from: u64,
    n: u64,
    delay_us: i64,
) {
    let Some(tx) = s.tx.as_ref() else { return };
    let Some(u0) = mixer.utc_of_frame(from) else {
        return;
    };
    let fmt = mixer.format();
    let ch = usize::from(fmt.channels.max(1));
    let dt = 1e6 / f64::from(fmt.rate.max(1));
    // Where the output says this frame is, in server time; follow it by slewing.
    let ideal = (u0.timestamp_micros() - delay_us) as f64
        + f64::from(u0.timestamp_subsec_nanos() % 1000) / 1000.0;
    let start = match cur.frame {
        Some(f) if f == from => {
            let err = ideal - cur.src_us;
            if err.abs() > JUMP_US {
                ideal
            } else {
                let max = MAX_SLEW * dt * n as f64;
                cur.src_us + err.clamp(-max, max)
            }
        }
        _ => ideal,
    };
    let t = lock(tl);
    let end_us = t.ended.as_ref().map(|e| e.2.unwrap_or(i64::MIN));
    let mut block = Vec::with_capacity(n as usize * ch);
    let mut done = false;
    let mut pushed = 0u64;
    for i in 0..n {
        let ts = start + i as f64 * dt;
        if end_us.is_some_and(|e| ts >= e as f64) {
            done = true;
            break;
        }
        let v = match t.sample(ts) {
            Some(v) => {
                if let Some((from_utc, frames)) = tally.open_gap.take() {
                    let at = utc_at(u0, i, dt);
                    if (at - from_utc).num_milliseconds() >= MIN_GAP_MS {
                        tally.gaps.push(RelayGap {
                            from: from_utc,
                            to: at,
                            reason: "no audio from the server in time (network)".into(),
                        });
                    }
                    tally.gap_frames += frames;
                }
                v
            }
            None => {
                let g = tally.open_gap.get_or_insert((utc_at(u0, i, dt), 0));
                g.1 += 1;
                0.0
            }
        };
        block.extend(std::iter::repeat_n(v, ch));
        pushed += 1;
    }
    drop(t);
    if pushed > 0 {
        let _ = tx.send(block);
        s.pushed += pushed;
    }
    cur.frame = Some(from + pushed);
    cur.src_us = start + pushed as f64 * dt;
    if done {
        // Everything aired or queued: the cue ends when its audio does. Trailing silence
        // waiting for the end frame was no gap.
        tally.open_gap = None;
        s.tx = None;
    }
}

fn utc_at(u0: DateTime<Utc>, i: u64, dt_us: f64) -> DateTime<Utc> {
    u0 + chrono::Duration::microseconds((i as f64 * dt_us) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_interpolates_within_and_across_contiguous_frames_and_has_holes() {
        let mut t = Timeline::default();
        let span = 40_000;
        t.insert(1_000_000, span, vec![0.0; 560], 0, 200_000);
        t.insert(1_040_000, span, vec![1.0; 560], 0, 200_000);
        assert_eq!(t.sample(1_000_000.0), Some(0.0));
        // The last sample of the first frame leans towards the next frame's first.
        let last = 1_000_000.0 + 559.5 * span as f64 / 560.0;
        let v = t.sample(last).unwrap();
        assert!(v > 0.3 && v < 0.7, "{v}");
        assert_eq!(t.sample(1_050_000.0), Some(1.0));
        assert_eq!(t.sample(1_080_000.0), None, "after the last frame");
        assert_eq!(t.sample(999_999.0), None, "before the first frame");
        t.prune(1_040_001);
        assert_eq!(t.sample(1_000_000.0), None);
        assert_eq!(t.late_ms, 0);
        t.insert(2_000_000, span, vec![0.5; 560], 2_000_000, 100_000);
        assert_eq!(t.late_ms, 0, "arrived 100 ms before its time");
        t.insert(3_000_000, span, vec![0.5; 560], 3_100_000, 100_000);
        assert_eq!(t.late_ms, 40, "arrived after the lead had begun");
    }
}
