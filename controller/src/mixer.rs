//! The mixer: one continuous output sample stream that the output pulls at the hardware rate
//! (rodio's device callback, or a real-time pacer for `null`/`wav:`), silence when nothing
//! airs. It knows which output frame maps to which UTC instant, so a bulletin cued for
//! instant T starts exactly at frame `round((T - anchor) * rate)`.
//!
//! Rules, applied per frame (sample-exact):
//! - a cue whose start frame has come starts at once if nothing airs;
//! - an `emergency` cue (preempt) cuts whatever airs at its start frame;
//! - any other cue waits for the airing item to end, then starts (highest priority first,
//!   then earliest start frame);
//! - a cue starts only once its decoder has handed over its first audio (or ended): its
//!   `Started` frame is the frame of its first real sample, never silence while a decoder
//!   thread still starts up on a busy machine. Checked once per block, so a cue whose
//!   audio comes late starts at the next block, and says so.
//!
//! Audio arrives already decoded and converted to the output format, in chunks over a
//! bounded channel filled ahead of time by a decoder thread ([`crate::decode`]). An empty
//! channel mid-airing is an underrun (silence, counted); a closed one is the end.
//!
//! Last, every block passes the safety limiter ([`crate::limiter`]): no sample of any
//! source leaves the mixer above -1 dBFS.
//!
//! Why one file of about 900 lines (600 of code, 300 of tests that reach into its state):
//! the per-frame rules and the state they act on are one piece, under one lock, and the
//! mixer's public face ([`Mixer`], [`Cue`], [`MixerEvent`]) is what the player's shell
//! and the outputs share.

use chrono::{DateTime, Duration as CDuration, Utc};
use schedules::Priority;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

use crate::limiter::Limiter;

pub use crate::format::Format;

/// Something to air.
#[derive(Debug)]
pub struct Cue {
    /// Occurrence key.
    pub key: String,
    /// The output frame at which it should start (0 = as soon as possible). Recomputed from
    /// `at` before every block when `at` is set.
    pub start_frame: u64,
    /// The UTC instant at which it should start. Converted to a frame with the output's
    /// latest anchor at every block, so a device that stalls (PulseAudio's start-up, an
    /// overloaded machine) does not shift it.
    pub at: Option<DateTime<Utc>>,
    /// Its level; `Emergency` preempts.
    pub priority: Priority,
    /// Decoded audio in the output format, whole frames per chunk.
    pub audio: Receiver<Vec<f32>>,
    /// The UTC instant at which it ends even if its audio goes on (a relay's window);
    /// it then ends `Finished` on that exact frame.
    pub until: Option<DateTime<Utc>>,
}

/// A queued cue and what its decoder has handed over so far.
struct Pending {
    cue: Cue,
    /// Its first chunk, once the decoder has sent one.
    first: Option<Vec<f32>>,
    /// The decoder ended without sending anything (nothing to air).
    closed: bool,
}

impl Pending {
    fn new(cue: Cue) -> Self {
        Self {
            cue,
            first: None,
            closed: false,
        }
    }

    /// True once it can start: its first audio is here, or there will be none.
    fn has_audio(&self) -> bool {
        self.first.is_some() || self.closed
    }

    /// [`Pending::has_audio`], after looking for its first audio once more.
    fn ready(&mut self) -> bool {
        if self.first.is_none() && !self.closed {
            loop {
                match self.cue.audio.try_recv() {
                    Ok(chunk) if chunk.is_empty() => continue,
                    Ok(chunk) => self.first = Some(chunk),
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => self.closed = true,
                }
                break;
            }
        }
        self.has_audio()
    }
}

impl std::ops::Deref for Pending {
    type Target = Cue;
    fn deref(&self) -> &Cue {
        &self.cue
    }
}

impl std::ops::DerefMut for Pending {
    fn deref_mut(&mut self) -> &mut Cue {
        &mut self.cue
    }
}

/// Why an airing ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// It played to its end.
    Finished,
    /// An emergency cut it.
    Preempted {
        /// The emergency's key.
        by: String,
    },
    /// It was stopped (cancelled, shutdown).
    Stopped {
        /// Why.
        reason: String,
    },
}

/// What the mixer reports.
#[derive(Debug, Clone, PartialEq)]
pub enum MixerEvent {
    /// The first sample of `key` went out at output frame `frame`.
    Started {
        /// Occurrence key.
        key: String,
        /// Output frame of its first sample.
        frame: u64,
    },
    /// `key` stopped airing.
    Ended {
        /// Occurrence key.
        key: String,
        /// Why.
        reason: EndReason,
        /// Frames it aired.
        frames: u64,
        /// RMS of what was sent, dBFS (None when nothing was).
        rms_dbfs: Option<f32>,
        /// Peak of what was sent, dBFS.
        peak_dbfs: Option<f32>,
        /// Frames of silence inserted because the decoder fell behind.
        underrun_frames: u64,
    },
}

struct Playing {
    key: String,
    until: Option<DateTime<Utc>>,
    end_frame: Option<u64>,
    audio: Receiver<Vec<f32>>,
    buf: Vec<f32>,
    pos: usize,
    frames: u64,
    sum_sq: f64,
    samples: u64,
    peak: f32,
    underrun_frames: u64,
}

impl Playing {
    /// Play from `chunk` on; the chunk played goes back to the decoders.
    fn start_chunk(&mut self, chunk: Vec<f32>) {
        crate::decode::recycle(std::mem::replace(&mut self.buf, chunk));
        self.pos = 0;
    }

    /// Write one frame, scaled by `gain`; false when the audio has ended.
    fn fill(&mut self, frame: &mut [f32], gain: f32) -> bool {
        if self.pos >= self.buf.len() {
            loop {
                match self.audio.try_recv() {
                    Ok(chunk) if chunk.is_empty() => continue,
                    Ok(chunk) => {
                        self.start_chunk(chunk);
                        break;
                    }
                    Err(TryRecvError::Empty) => {
                        frame.fill(0.0);
                        self.underrun_frames += 1;
                        self.frames += 1;
                        return true;
                    }
                    Err(TryRecvError::Disconnected) => return false,
                }
            }
        }
        for s in frame.iter_mut() {
            let v = self
                .buf
                .get(self.pos)
                .copied()
                .unwrap_or(0.0)
                .clamp(-1.0, 1.0)
                * gain;
            self.pos += 1;
            *s = v;
            self.sum_sq += (v as f64) * (v as f64);
            self.samples += 1;
            self.peak = self.peak.max(v.abs());
        }
        self.frames += 1;
        true
    }

    /// Write whole frames into `out` (frames of `ch` samples) from what is already decoded,
    /// scaled by `gain`, exactly as [`Playing::fill`] would one at a time; returns the frames
    /// written. Stops early (leaving the rest to `fill`) at an underrun, at the end of the
    /// audio, or at a chunk that does not end on a frame boundary.
    fn fill_block(&mut self, out: &mut [f32], ch: usize, gain: f32) -> usize {
        let n = out.len() / ch;
        let mut written = 0;
        while written < n {
            if self.pos >= self.buf.len() {
                match self.audio.try_recv() {
                    Ok(chunk) => {
                        self.start_chunk(chunk);
                        continue;
                    }
                    Err(_) => break,
                }
            }
            let avail = (self.buf.len() - self.pos) / ch;
            if avail == 0 {
                break;
            }
            let k = avail.min(n - written);
            let src = &self.buf[self.pos..self.pos + k * ch];
            let dst = &mut out[written * ch..(written + k) * ch];
            // Eight lanes of accumulators, so that the loop vectorises; a block's sum of
            // squares fits an f32 comfortably before it joins the f64 total.
            const LANES: usize = 8;
            let (mut sq, mut pk) = ([0.0f32; LANES], [0.0f32; LANES]);
            let mut d8 = dst.chunks_exact_mut(LANES);
            let mut s8 = src.chunks_exact(LANES);
            for (d, x) in (&mut d8).zip(&mut s8) {
                for l in 0..LANES {
                    let v = x[l].clamp(-1.0, 1.0) * gain;
                    d[l] = v;
                    sq[l] += v * v;
                    pk[l] = pk[l].max(v.abs());
                }
            }
            for (d, &x) in d8.into_remainder().iter_mut().zip(s8.remainder()) {
                let v = x.clamp(-1.0, 1.0) * gain;
                *d = v;
                sq[0] += v * v;
                pk[0] = pk[0].max(v.abs());
            }
            self.sum_sq += sq.iter().map(|&x| f64::from(x)).sum::<f64>();
            self.peak = pk.iter().fold(self.peak, |a, &b| a.max(b));
            self.pos += k * ch;
            self.samples += (k * ch) as u64;
            self.frames += k as u64;
            written += k;
        }
        written
    }

    fn end(self, reason: EndReason) -> MixerEvent {
        let rms = if self.samples > 0 {
            (self.sum_sq / self.samples as f64).sqrt()
        } else {
            0.0
        };
        let db = |x: f64| (self.samples > 0).then(|| (20.0 * x.max(1e-10).log10()) as f32);
        MixerEvent::Ended {
            key: self.key,
            reason,
            frames: self.frames,
            rms_dbfs: db(rms),
            peak_dbfs: db(self.peak as f64),
            underrun_frames: self.underrun_frames,
        }
    }
}

struct State {
    format: Format,
    frames: u64,
    /// (output frame, monotonic instant at which it goes out), from the latest render.
    anchor: Option<(u64, Instant)>,
    /// Monotonic ↔ UTC mapping, from the injected clock.
    base: (Instant, DateTime<Utc>),
    pending: Vec<Pending>,
    current: Option<Playing>,
    events: UnboundedSender<MixerEvent>,
    /// The master gain (linear, 0 ..= 1) applied to everything that airs, and the gain in
    /// force now: it moves towards the target in [`GAIN_RAMP_S`] so a change does not click.
    gain_target: f32,
    gain: f32,
    /// The safety limiter every block passes last.
    limiter: Limiter,
}

/// How long a gain change takes to ramp from 0 to 1.
const GAIN_RAMP_S: f32 = 0.05;

impl State {
    fn emit(&self, ev: MixerEvent) {
        let _ = self.events.send(ev);
    }

    /// Move the master gain `frames` steps along its ramp towards the target.
    fn advance_gain(&mut self, frames: usize) {
        if self.gain != self.gain_target {
            let step = frames as f32 / (GAIN_RAMP_S * self.format.rate.max(1) as f32);
            let d = self.gain_target - self.gain;
            self.gain = if d.abs() <= step {
                self.gain_target
            } else {
                self.gain + step * d.signum()
            };
        }
    }

    fn maybe_start(&mut self, f: u64) {
        let preempting = self.current.is_some();
        let best = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.start_frame <= f
                    && c.has_audio()
                    && (!preempting || c.priority == Priority::Emergency)
            })
            .max_by(|(_, a), (_, b)| {
                a.priority
                    .cmp(&b.priority)
                    .then(b.start_frame.cmp(&a.start_frame))
            })
            .map(|(i, _)| i);
        let Some(i) = best else { return };
        let Pending { cue, first, .. } = self.pending.remove(i);
        if let Some(cur) = self.current.take() {
            let ev = cur.end(EndReason::Preempted {
                by: cue.key.clone(),
            });
            self.emit(ev);
        }
        self.emit(MixerEvent::Started {
            key: cue.key.clone(),
            frame: f,
        });
        let end_frame = cue.until.and_then(|t| self.frame_at(t));
        self.current = Some(Playing {
            key: cue.key,
            until: cue.until,
            end_frame,
            audio: cue.audio,
            buf: first.unwrap_or_default(),
            pos: 0,
            frames: 0,
            sum_sq: 0.0,
            samples: 0,
            peak: 0.0,
            underrun_frames: 0,
        });
    }

    fn frame_at(&self, t: DateTime<Utc>) -> Option<u64> {
        let (af, ai) = self.anchor?;
        let (bi, bu) = self.base;
        let anchor_utc = bu + signed_duration(ai, bi);
        let secs = (t - anchor_utc).num_nanoseconds().unwrap_or(i64::MAX) as f64 / 1e9;
        let f = af as f64 + secs * self.format.rate as f64;
        Some(f.round().max(0.0) as u64)
    }

    fn render(&mut self, out: &mut [f32]) {
        let at: Vec<Option<u64>> = self
            .pending
            .iter()
            .map(|c| c.at.and_then(|t| self.frame_at(t)))
            .collect();
        for (c, f) in self.pending.iter_mut().zip(at) {
            if let Some(f) = f {
                c.start_frame = f;
            }
        }
        let end = self
            .current
            .as_ref()
            .and_then(|c| c.until)
            .and_then(|t| self.frame_at(t));
        if let (Some(cur), Some(e)) = (self.current.as_mut(), end) {
            cur.end_frame = Some(e);
        }
        let ch = self.format.channels as usize;
        let n = out.len() / ch;
        let block_end = self.frames + n as u64;
        // Cues due in this block whose audio is here; the others wait for a later block.
        let next_start = self
            .pending
            .iter_mut()
            .filter(|c| c.start_frame < block_end)
            .filter_map(|c| c.ready().then_some(c.start_frame))
            .min();
        // Nothing airs and nothing starts in this block: silence, without the per-frame
        // work (an idle station spends nearly all its time here).
        if self.current.is_none() && next_start.is_none() {
            self.advance_gain(n);
            out.fill(0.0);
            self.limiter.idle(n);
            self.frames += n as u64;
            return;
        }
        // Something airs, nothing starts or ends in this block and the gain holds: copy it
        // in runs rather than frame by frame.
        let mut first = 0;
        if self.gain == self.gain_target
            && next_start.is_none()
            && self
                .current
                .as_ref()
                .is_some_and(|c| c.end_frame.is_none_or(|e| e >= block_end))
        {
            let gain = self.gain;
            if let Some(cur) = self.current.as_mut() {
                first = cur.fill_block(&mut out[..n * ch], ch, gain);
            }
        }
        for i in first..n {
            let f = self.frames + i as u64;
            if !self.pending.is_empty() {
                self.maybe_start(f);
            }
            let frame = &mut out[i * ch..(i + 1) * ch];
            let mut wrote = false;
            self.advance_gain(1);
            let gain = self.gain;
            if self
                .current
                .as_ref()
                .is_some_and(|c| c.end_frame.is_some_and(|e| f >= e))
            {
                if let Some(c) = self.current.take() {
                    let ev = c.end(EndReason::Finished);
                    self.emit(ev);
                }
                if !self.pending.is_empty() {
                    self.maybe_start(f);
                }
            }
            while let Some(cur) = self.current.as_mut() {
                if cur.fill(frame, gain) {
                    wrote = true;
                    break;
                }
                let ended = self.current.take().map(|c| c.end(EndReason::Finished));
                if let Some(ev) = ended {
                    self.emit(ev);
                }
                if !self.pending.is_empty() {
                    self.maybe_start(f);
                }
            }
            if !wrote {
                frame.fill(0.0);
            }
        }
        // A partial trailing frame (never produced by our outputs) stays silent.
        out[n * ch..].fill(0.0);
        self.limiter.process(&mut out[..n * ch], ch);
        self.frames += n as u64;
    }
}

/// Handle to the mixer; cheap to clone.
#[derive(Clone)]
pub struct Mixer(Arc<Mutex<State>>);

impl std::fmt::Debug for Mixer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mixer")
    }
}

impl Mixer {
    /// A silent mixer for `format`; `base` maps a monotonic instant to UTC (read from the
    /// injected clock once); events go to `events`.
    pub fn new(
        format: Format,
        base: (Instant, DateTime<Utc>),
        events: UnboundedSender<MixerEvent>,
    ) -> Self {
        Self(Arc::new(Mutex::new(State {
            format,
            frames: 0,
            anchor: None,
            base,
            pending: Vec::new(),
            current: None,
            events,
            gain_target: 1.0,
            gain: 1.0,
            limiter: Limiter::new(format.rate),
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The output format.
    pub fn format(&self) -> Format {
        self.lock().format
    }

    /// Change the output format (only while nothing airs: a new sound device was opened).
    pub fn set_format(&self, format: Format) {
        let mut st = self.lock();
        st.format = format;
        st.limiter.set_rate(format.rate);
    }

    /// Re-anchor the monotonic ↔ UTC mapping (the wall clock may have been corrected).
    pub fn set_base(&self, instant: Instant, utc: DateTime<Utc>) {
        self.lock().base = (instant, utc);
    }

    /// Render the next `out.len()` samples; the first of them goes out at `first_out`.
    pub fn render(&self, out: &mut [f32], first_out: Instant) {
        let mut st = self.lock();
        st.anchor = Some((st.frames, first_out));
        st.render(out);
    }

    /// Total frames rendered so far.
    pub fn frames(&self) -> u64 {
        self.lock().frames
    }

    /// The UTC instant at which output frame `frame` goes out (None before the output ran).
    pub fn utc_of_frame(&self, frame: u64) -> Option<DateTime<Utc>> {
        let st = self.lock();
        let (af, ai) = st.anchor?;
        let (bi, bu) = st.base;
        let rate = st.format.rate as f64;
        let anchor_utc = bu + signed_duration(ai, bi);
        let df = frame as f64 - af as f64;
        Some(anchor_utc + CDuration::nanoseconds((df / rate * 1e9).round() as i64))
    }

    /// The output frame that goes out at `t` (None before the output ran). Instants already
    /// past give frames already rendered, i.e. "at once".
    pub fn frame_at(&self, t: DateTime<Utc>) -> Option<u64> {
        self.lock().frame_at(t)
    }

    /// Queue a cue (replacing a pending cue with the same key).
    pub fn cue(&self, cue: Cue) {
        let mut st = self.lock();
        st.pending.retain(|c| c.key != cue.key);
        st.pending.push(Pending::new(cue));
    }

    /// Drop a pending cue; true if there was one.
    pub fn uncue(&self, key: &str) -> bool {
        let mut st = self.lock();
        let before = st.pending.len();
        st.pending.retain(|c| c.key != key);
        st.pending.len() != before
    }

    /// Stop `key` now if it airs (reported as `Ended { Stopped }`), and drop it if pending.
    pub fn stop(&self, key: &str, reason: &str) {
        let mut st = self.lock();
        st.pending.retain(|c| c.key != key);
        if st.current.as_ref().is_some_and(|c| c.key == key) {
            if let Some(cur) = st.current.take() {
                let ev = cur.end(EndReason::Stopped {
                    reason: reason.into(),
                });
                st.emit(ev);
            }
        }
    }

    /// Set the master gain (linear, clamped to 0 ..= 1); it ramps there within 50 ms.
    pub fn set_gain(&self, gain: f32) {
        let g = if gain.is_finite() {
            gain.clamp(0.0, 1.0)
        } else {
            1.0
        };
        self.lock().gain_target = g;
    }

    /// The master gain it ramps to.
    pub fn gain_target(&self) -> f32 {
        self.lock().gain_target
    }

    /// What airs now: its key and the frames it has aired.
    pub fn now_playing(&self) -> Option<(String, u64)> {
        let st = self.lock();
        st.current.as_ref().map(|c| (c.key.clone(), c.frames))
    }

    /// Keys of pending cues.
    pub fn pending_keys(&self) -> Vec<String> {
        self.lock().pending.iter().map(|c| c.key.clone()).collect()
    }
}

// ------------------------------------------------------------- live broadcast hook (#25)

/// Where a cue stands, for [`crate::live`], which keeps a live cue's audio aligned to the
/// output frame by frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CueState {
    /// Neither queued nor airing (never cued, or ended).
    Absent,
    /// Queued: waiting for its start frame or for what airs to end.
    Pending,
    /// Airing; `consumed` frames of its audio have gone out (silence of underruns excluded).
    Airing {
        /// Frames of its audio rendered so far.
        consumed: u64,
    },
}

impl Mixer {
    /// Frames rendered so far and where cue `key` stands, read together.
    pub fn cue_state(&self, key: &str) -> (u64, CueState) {
        let st = self.lock();
        let cs = match &st.current {
            Some(c) if c.key == key => CueState::Airing {
                consumed: c.frames.saturating_sub(c.underrun_frames),
            },
            _ if st.pending.iter().any(|c| c.key == key) => CueState::Pending,
            _ => CueState::Absent,
        };
        (st.frames, cs)
    }
}

// ----------------------------------------------------------- end of the live broadcast hook

fn signed_duration(a: Instant, b: Instant) -> CDuration {
    if a >= b {
        CDuration::from_std(a - b).unwrap_or(CDuration::zero())
    } else {
        -CDuration::from_std(b - a).unwrap_or(CDuration::zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::mpsc::sync_channel;
    use std::time::Duration;

    const FMT: Format = Format {
        rate: 1000,
        channels: 2,
    };

    fn mixer() -> (
        Mixer,
        tokio::sync::mpsc::UnboundedReceiver<MixerEvent>,
        Instant,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let i0 = Instant::now();
        let utc0 = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
        (Mixer::new(FMT, (i0, utc0), tx), rx, i0)
    }

    /// A cue of `frames` frames of constant `value`.
    fn cue(key: &str, start: u64, prio: Priority, frames: usize, value: f32) -> Cue {
        let (tx, rx) = sync_channel(1000);
        for chunk in vec![value; frames * 2].chunks(20) {
            tx.send(chunk.to_vec()).unwrap();
        }
        Cue {
            key: key.into(),
            start_frame: start,
            at: None,
            priority: prio,
            audio: rx,
            until: None,
        }
    }

    fn run(m: &Mixer, i0: Instant, frames: usize) -> Vec<f32> {
        let mut out = vec![0.0; frames * 2];
        for (k, block) in out.chunks_mut(20).enumerate() {
            m.render(block, i0 + Duration::from_millis(10 * k as u64));
        }
        out
    }

    fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<MixerEvent>) -> Vec<MixerEvent> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    #[test]
    fn a_cue_starts_exactly_at_its_frame_and_silence_surrounds_it() {
        let (m, mut rx, i0) = mixer();
        run(&m, i0, 10);
        m.cue(cue("a", 57, Priority::Normal, 30, 0.5));
        let out = run(&m, i0, 200);
        let first = out.iter().position(|&s| s != 0.0).unwrap() / 2;
        assert_eq!(first + 10, 57);
        assert_eq!(out.iter().filter(|&&s| s != 0.0).count(), 60);
        let evs = drain(&mut rx);
        assert_eq!(
            evs[0],
            MixerEvent::Started {
                key: "a".into(),
                frame: 57
            }
        );
        match &evs[1] {
            MixerEvent::Ended {
                key,
                reason,
                frames,
                rms_dbfs,
                peak_dbfs,
                ..
            } => {
                assert_eq!(
                    (key.as_str(), reason, *frames),
                    ("a", &EndReason::Finished, 30)
                );
                assert!((rms_dbfs.unwrap() + 6.02).abs() < 0.1);
                assert!((peak_dbfs.unwrap() + 6.02).abs() < 0.1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cue_whose_audio_is_late_starts_with_its_first_sample_not_with_silence() {
        let (m, mut rx, i0) = mixer();
        // An emergency due at once, its decoder not started yet: nothing airs, and the
        // bulletin on air is not cut for silence.
        m.cue(cue("bulletin", 0, Priority::Normal, 1000, 0.25));
        run(&m, i0, 20);
        let (tx, audio) = sync_channel(100);
        m.cue(Cue {
            key: "urgent".into(),
            start_frame: 0,
            at: None,
            priority: Priority::Emergency,
            audio,
            until: None,
        });
        let out = run(&m, i0, 40);
        assert!(out.iter().all(|&s| s == 0.25), "the bulletin goes on");
        assert_eq!(m.now_playing().unwrap().0, "bulletin");
        // Its first chunk arrives: it starts at the next block, on that block's first frame.
        tx.send(vec![0.5; 40]).unwrap();
        drop(tx);
        let out = run(&m, i0, 40);
        assert!(out[..40].iter().all(|&s| s == 0.5), "{:?}", &out[..40]);
        let evs = drain(&mut rx);
        assert!(
            matches!(&evs[1], MixerEvent::Ended { key, reason: EndReason::Preempted { by }, frames: 60, underrun_frames: 0, .. }
                if key == "bulletin" && by == "urgent"),
            "{evs:?}"
        );
        assert_eq!(
            evs[2],
            MixerEvent::Started {
                key: "urgent".into(),
                frame: 60
            }
        );
        // A cue whose decoder ends without audio starts and ends at once.
        let (tx, audio) = sync_channel::<Vec<f32>>(1);
        drop(tx);
        m.cue(Cue {
            key: "empty".into(),
            start_frame: 0,
            at: None,
            priority: Priority::Normal,
            audio,
            until: None,
        });
        run(&m, i0, 40);
        let evs = drain(&mut rx);
        assert!(evs.contains(&MixerEvent::Started {
            key: "empty".into(),
            frame: 100
        }));
        assert!(m.pending_keys().is_empty() && m.now_playing().is_none());
    }

    #[test]
    fn a_cue_with_an_end_instant_ends_on_that_frame_though_its_audio_goes_on() {
        let (m, mut rx, i0) = mixer();
        let utc0 = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
        let mut c = cue("relay", 20, Priority::Normal, 400, 0.5);
        c.until = Some(utc0 + CDuration::milliseconds(80));
        m.cue(c);
        m.cue(cue("next", 30, Priority::Normal, 10, 0.2));
        let out = run(&m, i0, 200);
        assert_eq!(out[2 * 79], 0.5);
        assert_eq!(out[2 * 80], 0.2, "the next cue starts on the end frame");
        let evs = drain(&mut rx);
        assert!(
            evs.iter().any(|e| matches!(e, MixerEvent::Ended { key, reason: EndReason::Finished, frames: 60, .. } if key == "relay")),
            "{evs:?}"
        );
    }

    #[test]
    fn no_sample_leaves_the_mixer_above_minus_one_dbfs_and_quieter_ones_pass_untouched() {
        let (m, _rx, i0) = mixer();
        m.cue(cue("hot", 10, Priority::Normal, 50, 1.0));
        m.cue(cue("quiet", 100, Priority::Normal, 50, 0.25));
        m.cue(cue("later", 2_000, Priority::Normal, 50, 0.25));
        let out = run(&m, i0, 4_000);
        let ceiling = 10f32.powf(-1.0 / 20.0);
        assert!(out.iter().all(|s| s.abs() <= ceiling));
        assert!((out[2 * 20] - ceiling).abs() < 1e-6, "held at the ceiling");
        // Right after the hot cue the limiter is still letting go; a second later a quiet
        // cue passes bit for bit.
        assert!(out[2 * 100..2 * 150].iter().all(|s| *s <= 0.25));
        assert!(out[2 * 2_000..2 * 2_050].iter().all(|s| *s == 0.25));
    }

    #[test]
    fn an_emergency_cuts_a_normal_airing_and_a_normal_cue_waits_its_turn() {
        let (m, mut rx, i0) = mixer();
        m.cue(cue("normal", 10, Priority::Normal, 100, 0.1));
        // (0.8: under the output's -1 dBFS ceiling, which the limiter keeps.)
        m.cue(cue("emergency", 50, Priority::Emergency, 20, 0.8));
        m.cue(cue("later", 60, Priority::Priority, 10, 0.3));
        let out = run(&m, i0, 200);
        assert_eq!(out[2 * 49], 0.1);
        assert_eq!(out[2 * 50], 0.8);
        assert_eq!(out[2 * 69], 0.8);
        assert_eq!(
            out[2 * 70],
            0.3,
            "the waiting cue starts right when the emergency ends"
        );
        let evs = drain(&mut rx);
        assert!(evs.contains(&MixerEvent::Ended {
            key: "normal".into(),
            reason: EndReason::Preempted {
                by: "emergency".into()
            },
            frames: 40,
            rms_dbfs: Some(-20.0),
            peak_dbfs: Some(-20.0),
            underrun_frames: 0,
        }));
        assert!(evs.contains(&MixerEvent::Started {
            key: "later".into(),
            frame: 70
        }));
    }

    #[test]
    fn a_cue_for_an_instant_keeps_its_instant_when_the_device_stalls() {
        let (m, _rx, i0) = mixer();
        let utc0 = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
        let mut block = vec![0.0; 20];
        m.render(&mut block, i0); // frames 0..10 go out at i0
        let mut c = cue("a", 0, Priority::Normal, 10, 0.5);
        c.at = Some(utc0 + CDuration::milliseconds(500));
        m.cue(c);
        // The device stalls 300 ms, then pulls on: frame 10 goes out at +300 ms, so the
        // cue starts at frame 10 + 200, not at frame 500.
        let mut out = vec![0.0; 2 * 400];
        for (k, b) in out.chunks_mut(20).enumerate() {
            m.render(b, i0 + Duration::from_millis(300 + 10 * k as u64));
        }
        let first = out.iter().position(|&s| s != 0.0).unwrap() / 2;
        assert_eq!(first + 10, 210);
    }

    #[test]
    fn the_master_gain_scales_what_airs_and_ramps_without_a_jump() {
        let (m, mut rx, i0) = mixer();
        m.set_gain(0.5);
        m.cue(cue("a", 0, Priority::Normal, 300, 0.8));
        let out = run(&m, i0, 100);
        // Starts at full gain and ramps down to 0.5 over 25 frames (50 ms per unit at 1 kHz).
        assert!((out[0] - 0.8).abs() < 0.05, "{}", out[0]);
        for w in out.chunks(2).collect::<Vec<_>>().windows(2) {
            assert!((w[0][0] - w[1][0]).abs() <= 0.8 / 50.0 + 1e-6);
        }
        assert!((out[2 * 99] - 0.4).abs() < 1e-6);
        m.set_gain(7.0);
        assert_eq!(m.gain_target(), 1.0, "clamped");
        let out = run(&m, i0, 200);
        assert!((out[2 * 199] - 0.8).abs() < 1e-6);
        m.set_gain(0.25);
        run(&m, i0, 100);
        match drain(&mut rx).last() {
            Some(MixerEvent::Ended { peak_dbfs, .. }) => {
                assert!((peak_dbfs.unwrap() - 20.0 * 0.8f32.log10()).abs() < 0.1)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_idle_mixer_ramps_its_gain_as_if_it_played_every_frame() {
        let (m, _rx, i0) = mixer();
        m.set_gain(0.5);
        // Ten idle frames (one block, the fast path) take ten steps of the ramp; frame 10,
        // the cue's first, takes the eleventh, as when every frame is mixed.
        assert!(run(&m, i0, 10).iter().all(|&s| s == 0.0));
        m.cue(cue("a", 10, Priority::Normal, 100, 0.8));
        let out = run(&m, i0, 30);
        assert!(
            (out[0] - 0.8 * (1.0 - 11.0 / 50.0)).abs() < 1e-4,
            "{}",
            out[0]
        );
        assert!((out[2 * 20] - 0.4).abs() < 1e-6, "{}", out[2 * 20]);
    }

    #[test]
    fn frames_and_utc_instants_map_both_ways() {
        let (m, _rx, i0) = mixer();
        let utc0 = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
        assert_eq!(m.frame_at(utc0), None, "no mapping before the output ran");
        run(&m, i0, 100);
        assert_eq!(m.utc_of_frame(0), Some(utc0));
        assert_eq!(m.frame_at(utc0 + CDuration::milliseconds(2500)), Some(2500));
        m.stop("none", "x");
    }
}
