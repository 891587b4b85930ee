//! Live voice (the operator's microphone, issue #25): what the server and the controllers
//! share to carry it, as pure functions with no I/O and no clock.
//!
//! - [`Resampler`]: the operator's PCM (any rate, mono or stereo) to the stream's
//!   [`VOICE_RATE`] mono, through a windowed-sinc low-pass (no aliasing when going down
//!   from 48 kHz).
//! - [`Stamper`]: gives each frame its play timestamp from its arrival instant at the
//!   server. Frames follow each other without a hole while the sender keeps time; the
//!   timeline slews (at most [`MAX_SLEW`], an inaudible pitch change) towards the earliest
//!   arrivals, which corrects the drift of the sender's sound card against the server's
//!   clock. Audio held up on the way (a stalled uplink that then delivers its backlog in a
//!   burst) keeps its place: it comes too late to air, the stations air silence for it,
//!   and what follows airs on time; the delay never grows. Only a sender that really
//!   stopped and started again (late frames that do not catch up) restarts the timeline
//!   at the arrival.
//! - [`adpcm`]: IMA ADPCM, 4 bits a sample: [`VOICE_RATE`] = 14 kHz mono is 56 kbit/s of
//!   audio, 61 kbit/s with the frame headers, under the 64 kbit/s a station may take. Each
//!   frame carries its decoder state, so a lost frame never damages the next one.
//! - [`Frame`]: the binary frames of a station's live stream, length-prefixed.
//!
//! Why IMA ADPCM and not Opus: symphonia decodes no Opus, and every Opus crate binds the C
//! libopus (a C build on both sides, the Raspberry Pi cross-builds included). ADPCM is 150
//! lines of Rust here, costs next to nothing on a Pi, adds no algorithmic delay and, at
//! 14 kHz, carries 7 kHz of audio bandwidth: what G.722 "wideband" telephony carries, and
//! more than a horn loudspeaker reproduces. Opus would halve the bit rate; the stations'
//! links carry 64 kbit/s.

/// Sample rate of the stream the stations receive (mono).
pub const VOICE_RATE: u32 = 14_000;

/// Samples in one frame: 40 ms.
pub const FRAME_SAMPLES: usize = 560;

/// A frame later than this against the timeline is late: it keeps its place (the stations
/// air silence for it). Late frames that do not catch up restart the timeline.
pub const GAP_RESYNC_US: i64 = 150_000;

/// Late frames in a row, none catching up, after which the timeline restarts.
const LATE_RUN_RESYNC: u32 = 3;

/// Audio this far ahead of real time (a sender faster than its clock, or pushing a file)
/// is dropped.
pub const MAX_AHEAD_US: i64 = 1_000_000;

/// Largest rate correction of the timeline: 0.3 % (5 cents of pitch, inaudible on speech).
pub const MAX_SLEW: f64 = 0.003;

/// How long the stamper watches arrivals before it corrects its timeline.
const SLEW_WINDOW_US: i64 = 2_000_000;

// ------------------------------------------------------------------------------ resampling

/// Half-width of the sinc kernel, in input samples at the cut-off.
const TAPS: i64 = 16;

/// A streaming resampler from `from` Hz × `channels` interleaved `i16` to mono
/// [`VOICE_RATE`] `f32`. Keeps the last input samples so chunk borders leave no trace.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    channels: u16,
    /// Mono input history (past samples still needed by the kernel, then new ones).
    hist: Vec<f32>,
    /// Input index of `hist[0]`.
    hist_start: i64,
    /// Input position (in input samples) of the next output sample.
    pos: f64,
    step: f64,
    cutoff: f64,
    half: i64,
}

impl Resampler {
    /// A resampler for `from` Hz, `channels` (1 or 2) interleaved.
    pub fn new(from: u32, channels: u16) -> Self {
        let from = from.max(1);
        let step = f64::from(from) / f64::from(VOICE_RATE);
        // Low-pass at 0.45 of the lower Nyquist rate.
        let cutoff = 0.9 * (f64::from(VOICE_RATE.min(from)) / f64::from(from)) / 2.0;
        let half = ((TAPS as f64) * (0.5 / cutoff)).ceil() as i64;
        Self {
            from,
            channels: channels.clamp(1, 2),
            hist: Vec::new(),
            hist_start: 0,
            pos: 0.0,
            step,
            cutoff,
            half,
        }
    }

    /// The input rate.
    pub fn input_rate(&self) -> u32 {
        self.from
    }

    /// Feed interleaved `i16` samples; appends the output samples they complete to `out`.
    pub fn push(&mut self, input: &[i16], out: &mut Vec<f32>) {
        let ch = usize::from(self.channels);
        for f in input.chunks_exact(ch) {
            let s = f.iter().map(|&x| f32::from(x)).sum::<f32>() / (ch as f32 * 32768.0);
            self.hist.push(s);
        }
        let end = self.hist_start + self.hist.len() as i64;
        let two_c = 2.0 * self.cutoff;
        loop {
            let centre = self.pos.floor() as i64;
            if centre + self.half >= end {
                break;
            }
            let mut acc = 0.0f64;
            let mut wsum = 0.0f64;
            for i in (centre - self.half + 1)..=(centre + self.half) {
                let x = i as f64 - self.pos;
                let w = blackman(x / self.half as f64) * sinc(two_c * x);
                wsum += w;
                if i >= self.hist_start {
                    acc += w * f64::from(self.hist[(i - self.hist_start) as usize]);
                }
            }
            out.push(if wsum.abs() > 1e-9 {
                (acc / wsum) as f32
            } else {
                0.0
            });
            self.pos += self.step;
        }
        // Keep what the next output still needs.
        let keep_from = (self.pos.floor() as i64 - self.half).max(self.hist_start);
        let drop = (keep_from - self.hist_start) as usize;
        if drop > 0 {
            self.hist.drain(..drop.min(self.hist.len()));
            self.hist_start += drop as i64;
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let p = std::f64::consts::PI * x;
        p.sin() / p
    }
}

/// Blackman window over -1 ..= 1.
fn blackman(t: f64) -> f64 {
    if t.abs() >= 1.0 {
        return 0.0;
    }
    let a = std::f64::consts::PI * (t + 1.0);
    0.42 - 0.5 * a.cos() + 0.08 * (2.0 * a).cos()
}

// ------------------------------------------------------------------------------- stamping

/// Play timestamps for a live stream's frames (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct Stamper {
    /// Timestamp (µs, server UTC) of the next sample.
    next_us: Option<i64>,
    /// Rate correction in force.
    slew: f64,
    /// Smallest (arrival-derived start - timeline) seen in this window, and the window's
    /// start.
    window: Option<(i64, i64)>,
    /// The last late frame's lateness, and how many late frames in a row did not catch up.
    late: Option<(i64, u32)>,
    /// Frames dropped for running ahead of real time.
    pub dropped: u64,
    /// Times the timeline restarted after a stall.
    pub resyncs: u64,
}

/// One stamped frame: where it plays in server time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Its first sample, µs since the Unix epoch.
    pub pts_us: i64,
    /// The time it spans, µs.
    pub span_us: u32,
}

impl Stamper {
    /// A stamper with no timeline yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stamp a frame of `n` samples at [`VOICE_RATE`] whose first sample, judging by its
    /// arrival, was captured at `start_us` (the arrival instant of its last sample minus its
    /// duration). `None`: the frame runs too far ahead of real time and is dropped.
    pub fn stamp(&mut self, start_us: i64, n: usize) -> Option<Stamp> {
        let nominal = n as f64 * 1e6 / f64::from(VOICE_RATE);
        let next = match self.next_us {
            None => start_us,
            Some(next) if start_us - next > GAP_RESYNC_US => {
                // Late. A backlog delivered after a stall catches up (each frame arrives
                // sooner after the last than it lasts); a sender that paused does not.
                let late = start_us - next;
                let run = match self.late {
                    Some((prev, _)) if late < prev - (nominal / 2.0) as i64 => 0,
                    Some((_, run)) => run + 1,
                    None => 1,
                };
                self.late = Some((late, run));
                if run >= LATE_RUN_RESYNC {
                    self.resyncs += 1;
                    self.window = None;
                    self.slew = 0.0;
                    self.late = None;
                    start_us
                } else {
                    next
                }
            }
            Some(next) if next - start_us > MAX_AHEAD_US => {
                self.late = None;
                self.dropped += 1;
                return None;
            }
            Some(next) => {
                self.late = None;
                next
            }
        };
        let err = start_us - next;
        match &mut self.window {
            None => self.window = Some((start_us, err)),
            Some((from, min_err)) => {
                *min_err = (*min_err).min(err);
                if start_us - *from >= SLEW_WINDOW_US {
                    // Correct the earliest arrival's offset over the next window.
                    self.slew =
                        (*min_err as f64 / SLEW_WINDOW_US as f64).clamp(-MAX_SLEW, MAX_SLEW);
                    self.window = Some((start_us, i64::MAX));
                }
            }
        }
        let span = (nominal * (1.0 + self.slew)).round().max(1.0) as i64;
        self.next_us = Some(next + span);
        Some(Stamp {
            pts_us: next,
            span_us: span as u32,
        })
    }
}

// ---------------------------------------------------------------------------------- ADPCM

/// IMA ADPCM (4 bits a sample), as in IMA/DVI and Microsoft's WAV variant.
pub mod adpcm {
    const STEPS: [i32; 89] = [
        7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60,
        66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371,
        408, 449, 494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878,
        2066, 2272, 2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845,
        8630, 9493, 10442, 11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086,
        29794, 32767,
    ];
    const INDEX: [i32; 16] = [-1, -1, -1, -1, 2, 4, 6, 8, -1, -1, -1, -1, 2, 4, 6, 8];

    /// Coder state: the predicted sample and the step index.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct State {
        /// Predicted sample.
        pub predictor: i16,
        /// Index into the step table, 0 ..= 88.
        pub index: u8,
    }

    impl State {
        fn step(&mut self, nibble: u8) -> i16 {
            let step = STEPS[usize::from(self.index)];
            let mut diff = step >> 3;
            if nibble & 4 != 0 {
                diff += step;
            }
            if nibble & 2 != 0 {
                diff += step >> 1;
            }
            if nibble & 1 != 0 {
                diff += step >> 2;
            }
            let mut p = i32::from(self.predictor);
            if nibble & 8 != 0 {
                p -= diff;
            } else {
                p += diff;
            }
            self.predictor = p.clamp(-32768, 32767) as i16;
            self.index =
                (i32::from(self.index) + INDEX[usize::from(nibble & 15)]).clamp(0, 88) as u8;
            self.predictor
        }

        fn encode_one(&mut self, sample: i16) -> u8 {
            let step = STEPS[usize::from(self.index)];
            let mut diff = i32::from(sample) - i32::from(self.predictor);
            let mut nibble = 0u8;
            if diff < 0 {
                nibble = 8;
                diff = -diff;
            }
            let mut s = step;
            if diff >= s {
                nibble |= 4;
                diff -= s;
            }
            s >>= 1;
            if diff >= s {
                nibble |= 2;
                diff -= s;
            }
            s >>= 1;
            if diff >= s {
                nibble |= 1;
            }
            self.step(nibble);
            nibble
        }
    }

    /// Encode `samples` from `state` (which moves on): two samples a byte, the first in the
    /// low nibble; an odd count pads the last high nibble.
    pub fn encode(state: &mut State, samples: &[i16]) -> Vec<u8> {
        let mut out = Vec::with_capacity(samples.len().div_ceil(2));
        for pair in samples.chunks(2) {
            let lo = state.encode_one(pair[0]);
            let hi = pair.get(1).map(|&s| state.encode_one(s)).unwrap_or(0);
            out.push(lo | (hi << 4));
        }
        out
    }

    /// Decode `n` samples from `data` starting at `state`.
    pub fn decode(mut state: State, data: &[u8], n: usize, out: &mut Vec<f32>) {
        let mut left = n;
        for &b in data {
            for nibble in [b & 15, b >> 4] {
                if left == 0 {
                    return;
                }
                out.push(f32::from(state.step(nibble)) / 32768.0);
                left -= 1;
            }
        }
    }
}

// --------------------------------------------------------------------------------- frames

/// Longest frame accepted from a stream (a 40 ms audio frame is under 400 bytes).
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// One frame of a station's live stream. On the wire: `u32` length (big-endian) of what
/// follows, then a kind byte and its fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// 1: audio.
    Audio {
        /// Sequence number, from 0.
        seq: u32,
        /// Where it plays in server time.
        stamp: Stamp,
        /// Coder state at its first sample.
        state: adpcm::State,
        /// Samples.
        samples: u16,
        /// ADPCM bytes.
        data: Vec<u8>,
    },
    /// 2: the session ended; JSON ([`crate::voice::Frame::End`] text: `{"reason", "archive"}`).
    End(String),
    /// 3: nothing to send (keeps the connection checked).
    KeepAlive,
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Length over [`MAX_FRAME_BYTES`] or a field cut short.
    #[error("bad live frame: {0}")]
    Bad(&'static str),
}

impl Frame {
    /// The frame's bytes, length prefix included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::new();
        match self {
            Frame::Audio {
                seq,
                stamp,
                state,
                samples,
                data,
            } => {
                body.push(1);
                body.extend_from_slice(&seq.to_be_bytes());
                body.extend_from_slice(&stamp.pts_us.to_be_bytes());
                body.extend_from_slice(&stamp.span_us.to_be_bytes());
                body.extend_from_slice(&state.predictor.to_be_bytes());
                body.push(state.index);
                body.extend_from_slice(&samples.to_be_bytes());
                body.extend_from_slice(data);
            }
            Frame::End(json) => {
                body.push(2);
                body.extend_from_slice(json.as_bytes());
            }
            Frame::KeepAlive => body.push(3),
        }
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    }

    /// Take one whole frame from the front of `buf`: `Ok(None)` when more bytes are needed.
    pub fn take(buf: &mut Vec<u8>) -> Result<Option<Frame>, FrameError> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len == 0 || len > MAX_FRAME_BYTES {
            return Err(FrameError::Bad("length out of range"));
        }
        if buf.len() < 4 + len {
            return Ok(None);
        }
        let body: Vec<u8> = buf.drain(..4 + len).skip(4).collect();
        let f = match body[0] {
            1 => {
                if body.len() < 22 {
                    return Err(FrameError::Bad("audio header cut short"));
                }
                let b = &body[1..];
                let seq = u32::from_be_bytes(b[0..4].try_into().unwrap_or_default());
                let pts_us = i64::from_be_bytes(b[4..12].try_into().unwrap_or_default());
                let span_us = u32::from_be_bytes(b[12..16].try_into().unwrap_or_default());
                let predictor = i16::from_be_bytes(b[16..18].try_into().unwrap_or_default());
                let index = b[18].min(88);
                let samples = u16::from_be_bytes(b[19..21].try_into().unwrap_or_default());
                let data = b[21..].to_vec();
                if data.len() * 2 < usize::from(samples) {
                    return Err(FrameError::Bad("fewer audio bytes than samples"));
                }
                Frame::Audio {
                    seq,
                    stamp: Stamp { pts_us, span_us },
                    state: adpcm::State { predictor, index },
                    samples,
                    data,
                }
            }
            2 => Frame::End(String::from_utf8_lossy(&body[1..]).into_owned()),
            3 => Frame::KeepAlive,
            _ => return Err(FrameError::Bad("unknown kind")),
        };
        Ok(Some(f))
    }
}

/// Encodes the resampled voice into stamped frames, [`FRAME_SAMPLES`] at a time.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<i16>,
    coder: adpcm::State,
    seq: u32,
    /// The timeline.
    pub stamper: Stamper,
}

impl Framer {
    /// A framer with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `samples` (mono, [`VOICE_RATE`]) whose last one arrived at `arrival_us`; returns
    /// the frames they complete, with the PCM each carries (for the archive).
    pub fn push(&mut self, samples: &[f32], arrival_us: i64) -> Vec<(Frame, Vec<i16>)> {
        self.buf.extend(samples.iter().map(|&s| {
            let s = if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            (s * 32767.0).round() as i16
        }));
        let mut out = Vec::new();
        let us_per = 1e6 / f64::from(VOICE_RATE);
        while self.buf.len() >= FRAME_SAMPLES {
            // Samples after this frame's end, already arrived: it ended that long ago.
            let after = self.buf.len() - FRAME_SAMPLES;
            let start = arrival_us - ((after + FRAME_SAMPLES) as f64 * us_per).round() as i64;
            let pcm: Vec<i16> = self.buf.drain(..FRAME_SAMPLES).collect();
            let Some(stamp) = self.stamper.stamp(start, FRAME_SAMPLES) else {
                continue;
            };
            let state = self.coder;
            let data = adpcm::encode(&mut self.coder, &pcm);
            out.push((
                Frame::Audio {
                    seq: self.seq,
                    stamp,
                    state,
                    samples: FRAME_SAMPLES as u16,
                    data,
                },
                pcm,
            ));
            self.seq = self.seq.wrapping_add(1);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                ((2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin() * 16000.0) as i16
            })
            .collect()
    }

    #[test]
    fn adpcm_round_trip_keeps_a_tone_within_a_few_percent() {
        let pcm = tone(VOICE_RATE, 440.0, 2800);
        let mut st = adpcm::State::default();
        let bytes = adpcm::encode(&mut st, &pcm);
        assert_eq!(bytes.len(), 1400);
        let mut out = Vec::new();
        adpcm::decode(adpcm::State::default(), &bytes, pcm.len(), &mut out);
        assert_eq!(out.len(), pcm.len());
        let err: f64 = pcm[200..]
            .iter()
            .zip(&out[200..])
            .map(|(&a, &b)| (f64::from(a) / 32768.0 - f64::from(b)).powi(2))
            .sum::<f64>()
            / (pcm.len() - 200) as f64;
        assert!(err.sqrt() < 0.02, "rms error {}", err.sqrt());
    }

    #[test]
    fn resampling_48k_stereo_to_voice_rate_keeps_the_tone_and_the_count() {
        let mono = tone(48_000, 1000.0, 48_000);
        let stereo: Vec<i16> = mono.iter().flat_map(|&s| [s, s]).collect();
        let mut r = Resampler::new(48_000, 2);
        let mut out = Vec::new();
        for c in stereo.chunks(960) {
            r.push(c, &mut out);
        }
        let want = VOICE_RATE as usize;
        assert!(out.len() <= want && out.len() + 40 >= want, "{}", out.len());
        // Zero crossings of a 1 kHz tone over 0.5 s: about 1000.
        let zc = out[1000..8000]
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        assert!((990..=1010).contains(&zc), "{zc}");
        let peak = out[1000..8000].iter().fold(0.0f32, |a, &b| a.max(b.abs()));
        assert!((0.45..0.52).contains(&peak), "{peak}");
    }

    #[test]
    fn a_tone_above_the_stream_band_is_filtered_out() {
        let hi = tone(48_000, 10_000.0, 48_000);
        let mut r = Resampler::new(48_000, 1);
        let mut out = Vec::new();
        r.push(&hi, &mut out);
        let peak = out[1000..].iter().fold(0.0f32, |a, &b| a.max(b.abs()));
        assert!(peak < 0.02, "aliased 10 kHz came through at {peak}");
    }

    #[test]
    fn frames_follow_each_other_and_a_stall_restarts_the_timeline() {
        let mut s = Stamper::new();
        let dur = 40_000;
        let a = s.stamp(1_000_000, FRAME_SAMPLES).unwrap();
        // Jittered arrivals: still contiguous.
        let b = s.stamp(1_000_000 + dur + 20_000, FRAME_SAMPLES).unwrap();
        assert_eq!(b.pts_us, a.pts_us + i64::from(a.span_us));
        let c = s.stamp(1_000_000 + 2 * dur - 5_000, FRAME_SAMPLES).unwrap();
        assert_eq!(c.pts_us, b.pts_us + i64::from(b.span_us));
        // The sender stops for 3 s and starts again: after three late frames that do not
        // catch up, the timeline restarts at the arrival.
        let late = s.stamp(4_000_000, FRAME_SAMPLES).unwrap();
        assert_eq!(
            late.pts_us,
            c.pts_us + i64::from(c.span_us),
            "keeps its place"
        );
        s.stamp(4_000_000 + dur, FRAME_SAMPLES).unwrap();
        let d = s.stamp(4_000_000 + 2 * dur, FRAME_SAMPLES).unwrap();
        assert_eq!(d.pts_us, 4_000_000 + 2 * dur);
        assert_eq!(s.resyncs, 1);
        // Audio pushed far faster than real time is dropped.
        let mut dropped = 0;
        for _ in 0..100 {
            if s.stamp(4_000_000, FRAME_SAMPLES).is_none() {
                dropped += 1;
            }
        }
        assert!(dropped > 60, "{dropped}");
    }

    #[test]
    fn a_backlog_after_a_stalled_uplink_keeps_its_place_and_the_delay_does_not_grow() {
        let mut s = Stamper::new();
        let dur = 40_000i64;
        for k in 0..50 {
            s.stamp(1_000_000 + k * dur, FRAME_SAMPLES).unwrap();
        }
        // 3 s of audio held up, then delivered within 30 ms; then on time again.
        let mut last = None;
        for k in 50..125 {
            let arrival = 1_000_000 + 125 * dur - 30_000 + (k - 50) * 400;
            last = Some(s.stamp(arrival, FRAME_SAMPLES).unwrap());
        }
        let after = s.stamp(1_000_000 + 125 * dur, FRAME_SAMPLES).unwrap();
        assert_eq!(s.resyncs, 0);
        assert_eq!(
            after.pts_us,
            1_000_000 + 125 * dur,
            "on time again: no added delay"
        );
        assert!(last.is_some());
    }

    #[test]
    fn a_slow_sender_clock_is_followed_by_slewing_not_by_gaps() {
        // The sender's card runs 0.1 % slow: its 40 ms frames arrive every 40.04 ms.
        let mut s = Stamper::new();
        let mut last = None;
        for k in 0..3000i64 {
            let arrival = 1_000_000 + k * 40_040;
            let st = s.stamp(arrival, FRAME_SAMPLES).unwrap();
            last = Some((arrival, st));
        }
        let (arrival, st) = last.unwrap();
        assert_eq!(s.resyncs, 0);
        assert!(
            (arrival - st.pts_us).abs() < 10_000,
            "{}",
            arrival - st.pts_us
        );
    }

    #[test]
    fn frames_read_back_from_bytes_split_anywhere() {
        let mut f = Framer::new();
        let pcm: Vec<f32> = tone(VOICE_RATE, 300.0, 1200)
            .iter()
            .map(|&s| f32::from(s) / 32768.0)
            .collect();
        let frames = f.push(&pcm, 10_000_000);
        assert_eq!(frames.len(), 2);
        let mut bytes = Vec::new();
        for (fr, _) in &frames {
            bytes.extend(fr.to_bytes());
        }
        bytes.extend(Frame::End("{}".into()).to_bytes());
        bytes.extend(Frame::KeepAlive.to_bytes());
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for b in bytes.chunks(7) {
            buf.extend_from_slice(b);
            while let Some(fr) = Frame::take(&mut buf).unwrap() {
                got.push(fr);
            }
        }
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], frames[0].0);
        assert_eq!(got[2], Frame::End("{}".into()));
        let mut bad = vec![0, 0, 0, 1, 9];
        assert!(Frame::take(&mut bad).is_err());
        let mut huge = vec![0xff, 0, 0, 0];
        assert!(Frame::take(&mut huge).is_err());
    }
}
