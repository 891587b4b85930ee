//! Decoding ahead of time: the media file is opened with `media`'s decoder (gain applied
//! there), then a thread per airing converts it to the output format (channel map + linear
//! resampling) and fills a bounded channel a few seconds ahead of the mixer. A programme's
//! parts go through one thread and one channel, back to back, so no gap opens between them.
//!
//! Why one file of about 900 lines (600 of code, the rest its tests): the decoder thread,
//! its ramp, the spare chunks, the standby thread and a programme's sequence of parts all
//! keep to one protocol over one channel with the mixer; apart, each would reach into the
//! others' internals.

use crate::format::Format;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

/// Frames per chunk sent to the mixer.
pub const CHUNK_FRAMES: usize = 2048;

/// Decoded audio in its own format.
struct Source {
    decoder: media::Decoder,
    rate: u32,
    channels: u16,
}

/// Where a part's audio is.
#[derive(Debug, Clone)]
pub enum Audio {
    /// A file in the media cache.
    File(PathBuf),
    /// Audio held in memory (an urgent notice's, come with its push and not yet written).
    Memory(bytes::Bytes),
}

impl Audio {
    fn name(&self) -> String {
        match self {
            Audio::File(p) => p.display().to_string(),
            Audio::Memory(b) => format!("the pushed audio ({} bytes)", b.len()),
        }
    }
}

fn open_source(audio: &Audio, gain_db: f64) -> Result<Source, String> {
    let dec = match audio {
        Audio::File(path) => media::Decoder::open(path, gain_db),
        Audio::Memory(bytes) => media::Decoder::open_bytes(bytes.clone(), gain_db),
    }
    .map_err(|e| e.to_string())?;
    let rate = dec.sample_rate();
    let channels = dec.channels();
    if rate == 0 || channels == 0 {
        return Err(format!(
            "{}: no audio (rate {rate}, channels {channels})",
            audio.name()
        ));
    }
    Ok(Source {
        decoder: dec,
        rate,
        channels,
    })
}

/// Open `path` and start decoding it into the output format on a thread that keeps about
/// `ahead_secs` seconds buffered. Fails (without starting anything) when the file does not
/// open.
pub fn prepare(
    path: &Path,
    gain_db: f64,
    out: Format,
    ahead_secs: f64,
) -> Result<Receiver<Vec<f32>>, String> {
    let parts = vec![(Audio::File(path.to_path_buf()), gain_db)];
    prepare_sequence(parts, out, ahead_secs).map(|(rx, _)| rx)
}

/// What became of one part of a sequence, as the decoder thread finished it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartDecoded {
    /// Output frames it produced (0 when it failed).
    pub frames: u64,
    /// Why it could not be decoded, if it could not.
    pub error: Option<String>,
}

/// Parts finished so far, in order (shared with the decoder thread).
pub type PartsDecoded = Arc<Mutex<Vec<PartDecoded>>>;

/// Decode `parts` (file, gain) one after the other into one stream in the output format,
/// with no gap between them: a part's last sample is followed by the next part's first,
/// and the next part is opened and decoded while the mixer still plays the buffered end
/// of the previous one. A part that does not open is recorded as failed and left out.
/// Fails (without starting anything that airs) only when no part opens. The first part
/// that opens is opened on the calling thread; the later ones on the decoder thread.
pub fn prepare_sequence(
    parts: Vec<(Audio, f64)>,
    out: Format,
    ahead_secs: f64,
) -> Result<(Receiver<Vec<f32>>, PartsDecoded), String> {
    let bound = ((ahead_secs * out.rate as f64 / CHUNK_FRAMES as f64).ceil() as usize).max(2);
    let done: PartsDecoded = Arc::default();
    // The first part that opens is opened here, so that a failure is known at once and
    // the caller never waits for the new thread to be scheduled (with many airings
    // starting at once, that wait was longer than the opening).
    let mut parts = parts.into_iter();
    let Some(first) = open_next(&mut parts, &done) else {
        let done = done.lock().unwrap_or_else(|e| e.into_inner());
        let errors: Vec<&str> = done.iter().filter_map(|d| d.error.as_deref()).collect();
        return Err(errors.join("; "));
    };
    let (tx, rx) = sync_channel::<Vec<f32>>(bound);
    let progress = done.clone();
    let out_ch = usize::from(out.channels.max(1));
    run_decoder(Box::new(move || {
        let chunk_len = CHUNK_FRAMES * out_ch;
        let mut chunk = SPARE.take(chunk_len);
        let mut next = Some(first);
        let mut ramp = Ramp::new(out.rate);
        while let Some(src) = next.take().or_else(|| open_next(&mut parts, &progress)) {
            let mut conv = Converter::new(src.rate, src.channels, out);
            let (in_ch, per) = (usize::from(src.channels), conv.most_out_per_in());
            let mut decoder = src.decoder;
            let mut frames = 0u64;
            while let Some(block) = decoder.next_block() {
                // Converted straight into the chunk, as many input frames at a time as
                // surely fit; a chunk that cannot take one more goes (a few frames short
                // of `chunk_len` at most).
                let mut rest = block;
                while rest.len() >= in_ch {
                    // (`finish` may have filled the last frame of a chunk.)
                    let room = chunk_len.saturating_sub(chunk.len()) / out_ch;
                    let fit = (room / per).min(rest.len() / in_ch);
                    if fit == 0 {
                        ramp.wait((chunk.len() / out_ch) as u64);
                        let full = std::mem::replace(&mut chunk, SPARE.take(chunk_len));
                        if tx.send(full).is_err() {
                            return; // the cue was dropped
                        }
                        continue;
                    }
                    let before = chunk.len();
                    conv.push_block(&rest[..fit * in_ch], &mut chunk);
                    frames += ((chunk.len() - before) / out_ch) as u64;
                    rest = &rest[fit * in_ch..];
                }
            }
            let before = chunk.len();
            conv.finish(&mut chunk);
            frames += ((chunk.len() - before) / out_ch) as u64;
            record(
                &progress,
                PartDecoded {
                    frames,
                    error: None,
                },
            );
        }
        if !chunk.is_empty() {
            let _ = tx.send(chunk);
        }
    }))
    .map_err(|e| format!("cannot start a decoder thread: {e}"))?;
    Ok((rx, done))
}

/// A decoder thread's work: one airing.
type Job = Box<dyn FnOnce() + Send>;

/// Decoder threads waiting for an airing, each behind a rendezvous channel, and how many
/// may wait: one for each station that asked for a standby ([`standby_decoder`]).
struct Idle {
    threads: Mutex<Vec<std::sync::mpsc::SyncSender<Job>>>,
    max: std::sync::atomic::AtomicUsize,
}

static IDLE: Idle = Idle {
    threads: Mutex::new(Vec::new()),
    max: std::sync::atomic::AtomicUsize::new(0),
};

/// Keep one more decoder thread waiting (a station does so once, when it starts): an
/// airing that starts, an urgent notice above all, is handed to a thread already there
/// instead of waiting for one to be made. A thousand stations starting a notice at once
/// spent a tenth of their event-handling time creating threads.
pub fn standby_decoder() -> std::io::Result<()> {
    IDLE.standby()
}

/// Run `job` on a waiting decoder thread, or on a new one when none waits.
fn run_decoder(job: Job) -> std::io::Result<()> {
    IDLE.run(job)
}

impl Idle {
    fn standby(&'static self) -> std::io::Result<()> {
        self.max.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.spawn(None)
    }

    fn run(&'static self, mut job: Job) -> std::io::Result<()> {
        loop {
            let waiting = self.threads.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(thread) = waiting else {
                return self.spawn(Some(job));
            };
            // A rendezvous: taken by the thread, or back if the thread is gone.
            match thread.send(job) {
                Ok(()) => return Ok(()),
                Err(std::sync::mpsc::SendError(back)) => job = back,
            }
        }
    }

    /// A decoder thread: `first`, then airings handed over while fewer threads wait than
    /// `max`; it ends when enough are waiting.
    fn spawn(&'static self, first: Option<Job>) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("decode".into())
            .spawn(move || {
                if let Some(job) = first {
                    job();
                }
                loop {
                    let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(0);
                    {
                        let mut idle = self.threads.lock().unwrap_or_else(|e| e.into_inner());
                        if idle.len() >= self.max.load(std::sync::atomic::Ordering::Relaxed) {
                            return;
                        }
                        idle.push(tx);
                    }
                    match rx.recv() {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })
            .map(drop)
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.threads.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Audio a decoder thread hands over at once, before [`Ramp`] paces it.
const FIRST_LEAD_S: f64 = 0.1;

/// How fast a decoder thread's lead grows: `RAMP_GROWTH · t²` seconds after `t`.
const RAMP_GROWTH: f64 = 0.125;

/// How far past its pace a decoder thread may run before it sleeps.
const RAMP_STEP_S: f64 = 0.15;

/// The decoder's pace: the first [`FIRST_LEAD_S`] of audio at once, then real time plus a
/// lead that grows as t²/8 (0.23 s ahead after a second, 0.6 s after two, 2.1 s after
/// four, 4.6 s after six) until the channel is full. The mixer never waits for it (the
/// lead never shrinks), and the decoding of an airing that starts is spread over its
/// first seconds instead of taken all at once: when every station of a district starts
/// the same urgent notice and a thousand of them share the benchmark's two cores, the
/// stations still starting are not starved by those already playing, and the audio
/// decoded ahead (fresh memory for the kernel to map) stays small while they start. With
/// t²/2 a thousand stations took 78–81 page faults each, now 71–72. On a device it
/// changes nothing audible.
struct Ramp {
    t0: std::time::Instant,
    rate: f64,
    frames: u64,
}

impl Ramp {
    fn new(rate: u32) -> Self {
        Self {
            t0: std::time::Instant::now(),
            rate: f64::from(rate.max(1)),
            frames: 0,
        }
    }

    /// Seconds of audio that may have been handed over `t` seconds after the start.
    fn allowed(t: f64) -> f64 {
        FIRST_LEAD_S + t + RAMP_GROWTH * t * t
    }

    /// Wait until `frames` more may be handed over.
    fn wait(&mut self, frames: u64) {
        let ahead = self.frames as f64 / self.rate;
        let t = self.t0.elapsed().as_secs_f64();
        if ahead > Self::allowed(t) + RAMP_STEP_S {
            // Sleep until allowed(t') = ahead, i.e. t' = (√(1 + 4a(ahead − lead)) − 1)/2a:
            // a thread that is ahead wakes once per [`RAMP_STEP_S`] of audio, not per chunk.
            let a = RAMP_GROWTH;
            let due = ((1.0 + 4.0 * a * (ahead - FIRST_LEAD_S)).sqrt() - 1.0) / (2.0 * a);
            std::thread::sleep(std::time::Duration::from_secs_f64((due - t).max(0.0)));
        }
        self.frames += frames;
    }
}

/// Chunks the mixer has played, kept for the decoders to fill again: a chunk taken from
/// here is memory already mapped, where a new one costs the kernel fresh pages and the
/// allocator a trip across threads (decoding a thousand one-second files took 15–25 % less
/// CPU with them).
struct Spare {
    chunks: Mutex<Vec<Vec<f32>>>,
    /// Chunks kept at most: [`SPARE_MAX`], and [`WARM_CHUNKS`] more for each station
    /// that warmed its own ([`warm_chunks`]).
    max: std::sync::atomic::AtomicUsize,
}

/// Chunks a station puts on the spare list when it starts, written once (128 KiB): an
/// airing's first lead ([`FIRST_LEAD_S`]), the chunk being filled, the one the mixer plays
/// and those the lead grows by in its first half second, before played chunks come back.
/// An urgent notice then starts in memory the kernel has already mapped. (In the urgent
/// benchmark, four left 36 page faults per station, eight 24 and none in the decoders.)
const WARM_CHUNKS: usize = 8;

/// Spare chunks kept at most: 1.5 MiB, four seconds of 48 kHz stereo.
const SPARE_MAX: usize = 96;

/// The length of a 48 kHz stereo chunk, the only kind kept.
const SPARE_LEN: usize = CHUNK_FRAMES * 2;

static SPARE: Spare = Spare {
    chunks: Mutex::new(Vec::new()),
    max: std::sync::atomic::AtomicUsize::new(SPARE_MAX),
};

impl Spare {
    fn put(&self, mut chunk: Vec<f32>) {
        if chunk.capacity() != SPARE_LEN {
            return;
        }
        chunk.clear();
        let max = self.max.load(std::sync::atomic::Ordering::Relaxed);
        let mut chunks = self.chunks.lock().unwrap_or_else(|e| e.into_inner());
        if chunks.len() < max {
            chunks.push(chunk);
        }
    }

    /// Add `n` chunks, written once, and keep `n` more at most.
    fn warm(&self, n: usize) {
        self.max.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        for _ in 0..n {
            self.put(crate::premap::premapped(SPARE_LEN, 1.0));
        }
    }

    /// An empty chunk for `len` samples: a spare one when there is one.
    fn take(&self, len: usize) -> Vec<f32> {
        if len == SPARE_LEN {
            if let Some(c) = self.chunks.lock().unwrap_or_else(|e| e.into_inner()).pop() {
                return c;
            }
        }
        Vec::with_capacity(len)
    }
}

/// Put [`WARM_CHUNKS`] chunks on the spare list, and keep as many more there (a station
/// does so once, when it starts).
pub fn warm_chunks() {
    SPARE.warm(WARM_CHUNKS);
}

/// Hand a played chunk back (the mixer does, for each chunk it has finished).
pub fn recycle(chunk: Vec<f32>) {
    SPARE.put(chunk);
}

/// Add what became of a part to `done`.
fn record(done: &PartsDecoded, d: PartDecoded) {
    done.lock().unwrap_or_else(|e| e.into_inner()).push(d);
}

/// Open the next part of `parts` that opens; each one that does not is recorded in `done`
/// as failed. None when no part is left.
fn open_next(
    parts: &mut impl Iterator<Item = (Audio, f64)>,
    done: &PartsDecoded,
) -> Option<Source> {
    for (audio, gain_db) in parts {
        match open_source(&audio, gain_db) {
            Ok(src) => return Some(src),
            Err(e) => record(
                done,
                PartDecoded {
                    frames: 0,
                    error: Some(e),
                },
            ),
        }
    }
    None
}

/// Samples [`Converter::push_block`] converts at a time (on the stack).
const BATCH: usize = 1024;

/// Streaming channel mapping and linear resampling, frame by frame.
#[derive(Debug)]
pub struct Converter {
    in_channels: usize,
    out: Format,
    step: f64,
    t: f64,
    prev: Option<Vec<f32>>,
    mapped: Vec<f32>,
    /// Upsampling by 2 or 3 with steps that land back on 0 exactly after each input frame
    /// (16 or 24 kHz to 48 kHz, 22.05 kHz to 44.1 kHz): the interpolation weights of one
    /// input frame's output frames, the same as the stepping gives.
    whole: Option<Vec<f32>>,
}

/// [`Converter::whole`]'s shortcut for `L` output frames of `OC` channels per input frame;
/// returns the samples written into `buf`.
fn upsample<'a, const L: usize, const OC: usize>(
    weights: &[f32],
    frames: impl Iterator<Item = &'a [f32]>,
    map: &impl Fn(&[f32]) -> [f32; 2],
    prev: &mut [f32; 2],
    buf: &mut [f32],
) -> usize {
    let mut k = [0.0f32; L];
    k.copy_from_slice(&weights[..L]);
    let mut outs = buf.chunks_exact_mut(L * OC);
    let mut written = 0;
    for (f, o) in frames.zip(&mut outs) {
        let m = map(f);
        let d = [m[0] - prev[0], m[1] - prev[1]];
        for j in 0..L {
            for c in 0..OC {
                o[j * OC + c] = prev[c] + d[c] * k[j];
            }
        }
        *prev = m;
        written += L * OC;
    }
    written
}

/// The weights of [`Converter::whole`] for `step`, when it has them.
fn whole_weights(step: f64) -> Option<Vec<f32>> {
    if !(step > 0.0 && step < 1.0) {
        return None;
    }
    let (mut t, mut w) = (0.0f64, Vec::new());
    while t < 1.0 {
        if w.len() == 3 {
            return None;
        }
        w.push(t as f32);
        t += step;
    }
    (t - 1.0 == 0.0 && w.len() >= 2).then_some(w)
}

impl Converter {
    /// Convert from (`rate`, `channels`) to `out`.
    pub fn new(rate: u32, channels: u16, out: Format) -> Self {
        Self {
            in_channels: channels.max(1) as usize,
            out,
            step: rate as f64 / out.rate as f64,
            t: 0.0,
            prev: None,
            mapped: vec![0.0; out.channels as usize],
            whole: whole_weights(rate as f64 / out.rate as f64),
        }
    }

    fn map(&mut self, frame: &[f32]) {
        let oc = self.out.channels as usize;
        let ic = self.in_channels;
        if oc == ic {
            self.mapped.copy_from_slice(&frame[..oc]);
        } else if oc == 1 {
            self.mapped[0] = frame.iter().sum::<f32>() / ic as f32;
        } else if ic == 1 {
            self.mapped.fill(frame[0]);
        } else {
            for (o, m) in self.mapped.iter_mut().enumerate() {
                *m = frame[o % ic];
            }
        }
    }

    /// Push one input frame; output frames are appended to `out`.
    pub fn push(&mut self, frame: &[f32], out: &mut Vec<f32>) {
        self.map(frame);
        let Some(prev) = self.prev.as_mut() else {
            self.prev = Some(self.mapped.clone());
            return;
        };
        while self.t < 1.0 {
            let t = self.t as f32;
            for (a, b) in prev.iter().zip(&self.mapped) {
                out.push(a + (b - a) * t);
            }
            self.t += self.step;
        }
        self.t -= 1.0;
        prev.copy_from_slice(&self.mapped);
    }

    /// The most output frames one input frame gives: the ratio rounded up, and one more
    /// for the fraction carried over.
    pub fn most_out_per_in(&self) -> usize {
        (1.0 / self.step).ceil() as usize + 1
    }

    /// Push interleaved input frames (a partial frame at the end is ignored); output
    /// frames are appended to `out`. The same output as pushing them one by one.
    pub fn push_block(&mut self, input: &[f32], out: &mut Vec<f32>) {
        let ic = self.in_channels;
        let oc = self.out.channels as usize;
        let frames = input.len() / ic;
        let per = self.most_out_per_in();
        out.reserve(frames * per * oc);
        if ic == oc && self.step == 1.0 && self.prev.is_none() {
            // Same format: the samples pass through. (With the same rate, pushing frame
            // by frame gives each frame out one push later; `finish` flushes nothing.)
            out.extend_from_slice(&input[..frames * ic]);
            return;
        }
        if ic <= 2 && oc <= 2 && per * oc <= BATCH {
            // Converted a batch at a time on the stack, then appended: the chunk's memory
            // is written once (filling it with zeros first to write into it cost as much
            // again: it is cold).
            let mut batch = [0.0f32; BATCH];
            for part in input[..frames * ic].chunks(BATCH / (per * oc) * ic) {
                let n = self.convert_stereo(part, &mut batch);
                out.extend_from_slice(&batch[..n]);
            }
            return;
        }
        for f in input.chunks_exact(ic) {
            self.push(f, out);
        }
    }

    /// [`Converter::push_block`] for mono and stereo (nearly every file and output):
    /// the same arithmetic as [`Converter::push`], written into `buf` (which has room for
    /// [`Converter::most_out_per_in`] frames for each input frame); returns the samples
    /// written.
    fn convert_stereo(&mut self, input: &[f32], buf: &mut [f32]) -> usize {
        let (ic, oc) = (self.in_channels, self.out.channels as usize);
        let map = |f: &[f32]| -> [f32; 2] {
            match (ic, oc) {
                (1, _) => [f[0], f[0]],
                (_, 1) => [f.iter().sum::<f32>() / ic as f32, 0.0],
                _ => [f[0], f[1]],
            }
        };
        let mut frames = input.chunks_exact(ic);
        let mut prev = match self.prev.as_deref() {
            Some(p) => [p[0], p.get(1).copied().unwrap_or(0.0)],
            None => match frames.next() {
                Some(f) => map(f),
                None => return 0,
            },
        };
        let (mut w, mut t, step) = (0, self.t, self.step);
        if let Some(weights) = self.whole.as_deref().filter(|_| t == 0.0) {
            // The same arithmetic as the stepping below, without its per-sample test.
            let written = match (weights.len(), oc) {
                (3, 2) => upsample::<3, 2>(weights, frames, &map, &mut prev, buf),
                (2, 2) => upsample::<2, 2>(weights, frames, &map, &mut prev, buf),
                (3, 1) => upsample::<3, 1>(weights, frames, &map, &mut prev, buf),
                _ => upsample::<2, 1>(weights, frames, &map, &mut prev, buf),
            };
            self.keep_last(prev);
            return written;
        }
        for f in frames {
            let m = map(f);
            while t < 1.0 {
                let tf = t as f32;
                buf[w] = prev[0] + (m[0] - prev[0]) * tf;
                if oc == 2 {
                    buf[w + 1] = prev[1] + (m[1] - prev[1]) * tf;
                }
                w += oc;
                t += step;
            }
            t -= 1.0;
            prev = m;
        }
        self.t = t;
        self.keep_last(prev);
        w
    }

    /// Remember the last input frame (mapped), which the next output frames start from.
    fn keep_last(&mut self, prev: [f32; 2]) {
        let oc = self.out.channels as usize;
        self.mapped[..oc].copy_from_slice(&prev[..oc]);
        match self.prev.as_mut() {
            Some(p) => p.copy_from_slice(&prev[..oc]),
            None => self.prev = Some(prev[..oc].to_vec()),
        }
    }

    /// Flush the last input frame.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if let Some(prev) = self.prev.take() {
            if self.t < 1.0 {
                out.extend_from_slice(&prev);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(input: &[f32], rate: u32, ch: u16, out: Format) -> Vec<f32> {
        let mut c = Converter::new(rate, ch, out);
        let mut v = Vec::new();
        for f in input.chunks(ch as usize) {
            c.push(f, &mut v);
        }
        c.finish(&mut v);
        v
    }

    #[test]
    fn same_format_passes_samples_through_unchanged() {
        let input: Vec<f32> = (0..20).map(|i| i as f32 / 20.0).collect();
        let out = convert(
            &input,
            48000,
            2,
            Format {
                rate: 48000,
                channels: 2,
            },
        );
        assert_eq!(out, input);
    }

    #[test]
    fn blocks_convert_exactly_as_frames_do_whatever_their_boundaries() {
        let input: Vec<f32> = (0..3000).map(|i| ((i * 37) % 101) as f32 / 101.0).collect();
        // (Factors of 2 and 3 whose steps land back on 0 take the shortcut.)
        for (rate, ch, out, whole) in [
            (16_000, 1, (48_000, 2), Some(3)),
            (24_000, 2, (48_000, 2), Some(2)),
            (8_000, 1, (48_000, 1), None),
            (22_050, 1, (44_100, 2), Some(2)),
            (11_025, 2, (44_100, 2), None),
            (44_100, 2, (48_000, 2), None),
            (48_000, 2, (44_100, 1), None),
            (48_000, 2, (48_000, 2), None),
            (48_000, 1, (48_000, 2), None),
            // (So many output frames to an input frame that a batch cannot hold them.)
            (40, 1, (48_000, 2), None),
        ] {
            let out = Format {
                rate: out.0,
                channels: out.1,
            };
            let want = convert(&input, rate, ch, out);
            let mut c = Converter::new(rate, ch, out);
            assert_eq!(c.whole.as_ref().map(Vec::len), whole, "{rate} Hz → {out:?}");
            let mut got = Vec::new();
            let mut rest = &input[..input.len() / ch as usize * ch as usize];
            let mut n = 1;
            while !rest.is_empty() {
                let take = (n * ch as usize).min(rest.len());
                c.push_block(&rest[..take], &mut got);
                rest = &rest[take..];
                n = n * 3 % 97 + 1;
            }
            c.finish(&mut got);
            assert_eq!(got, want, "{rate} Hz × {ch} → {out:?}");
            // And in one block, converted in several batches.
            let mut c = Converter::new(rate, ch, out);
            let mut got = Vec::new();
            c.push_block(&input[..input.len() / ch as usize * ch as usize], &mut got);
            c.finish(&mut got);
            assert_eq!(got, want, "{rate} Hz × {ch} → {out:?} in one block");
        }
    }

    #[test]
    fn mono_is_copied_to_both_channels_and_resampled_to_the_output_rate() {
        let input: Vec<f32> = (0..24000).map(|i| (i % 100) as f32 / 100.0).collect();
        let out = convert(
            &input,
            24000,
            1,
            Format {
                rate: 48000,
                channels: 2,
            },
        );
        let frames = out.len() / 2;
        assert!((frames as i64 - 48000).abs() <= 2, "{frames}");
        assert_eq!(out[2], out[3]);
        assert!(
            (out[2] - 0.005).abs() < 1e-6,
            "halfway between 0.00 and 0.01"
        );
    }

    /// A 48 kHz mono WAV file `name` in `dir`.
    fn write_in(dir: &tempfile::TempDir, name: &str, samples: Vec<f32>) -> PathBuf {
        let path = dir.path().join(name);
        let pcm = media::Pcm {
            samples,
            sample_rate: 48_000,
            channels: 1,
        };
        media::signal::write_wav(&path, &pcm).unwrap();
        path
    }

    #[test]
    fn a_sequence_is_the_parts_back_to_back_and_a_part_that_does_not_open_is_left_out() {
        // Parts from files and from memory (pushed audio), two that do not open.
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, samples: Vec<f32>| write_in(&dir, name, samples);
        let a = media::signal::tone(440.0, 300, 48_000, 0.5);
        let b = media::signal::tone(660.0, 200, 48_000, 0.5);
        let pa = write("a.wav", a.clone());
        let pb = write("b.wav", b.clone());
        let out = Format {
            rate: 48_000,
            channels: 1,
        };
        let parts = vec![
            (Audio::File(pa), 0.0),
            (Audio::File(dir.path().join("missing.wav")), 0.0),
            (Audio::Memory(std::fs::read(pb).unwrap().into()), 0.0),
            (Audio::Memory(b"not audio".as_slice().into()), 0.0),
        ];
        let (rx, decoded) = prepare_sequence(parts, out, 0.1).unwrap();
        let got: Vec<f32> = rx.iter().flatten().collect();
        let want: Vec<f32> = a.iter().chain(&b).copied().collect();
        assert_eq!(
            got.len(),
            want.len(),
            "no sample added or lost between parts"
        );
        // 16-bit WAV: equal to the source within one quantisation step.
        let worst = got
            .iter()
            .zip(&want)
            .map(|(g, w)| (g - w).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1.0 / 16_000.0, "worst difference {worst}");
        let d = decoded.lock().unwrap().clone();
        assert_eq!(d.len(), 4);
        assert_eq!(d[0].frames, a.len() as u64);
        assert!(d[1].error.is_some());
        assert_eq!(d[2].frames, b.len() as u64);
        assert!(d[3].error.is_some());
    }

    #[test]
    fn a_decoder_hands_over_its_lead_at_once_then_keeps_to_its_ramp() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_in(
            &dir,
            "long.wav",
            media::signal::tone(440.0, 20_000, 48_000, 0.5),
        );
        let out = Format {
            rate: 48_000,
            channels: 1,
        };
        let t0 = std::time::Instant::now();
        let rx = prepare(&path, 0.0, out, 30.0).unwrap();
        // The lead is there to start with (however slowly this machine runs).
        let mut got = 0usize;
        while (got as f64 / 48_000.0) < FIRST_LEAD_S {
            got += rx.recv().unwrap().len();
        }
        // And never more than the ramp allows: a busy machine only hands over less.
        std::thread::sleep(std::time::Duration::from_millis(400));
        while let Ok(c) = rx.try_recv() {
            got += c.len();
        }
        let allowed = Ramp::allowed(t0.elapsed().as_secs_f64()) + RAMP_STEP_S;
        let chunk = CHUNK_FRAMES as f64 / 48_000.0;
        let secs = got as f64 / 48_000.0;
        assert!(
            secs <= allowed + chunk,
            "{secs} s handed over, {allowed} s allowed"
        );
        assert!(
            secs < 5.0,
            "{secs} s of a 20 s file handed over in the first half second"
        );
    }

    #[test]
    fn a_standby_decoder_thread_takes_the_next_airing_and_waits_again() {
        static POOL: Idle = Idle {
            threads: Mutex::new(Vec::new()),
            max: std::sync::atomic::AtomicUsize::new(0),
        };
        let wait_for = |n: usize| {
            for _ in 0..500 {
                if POOL.waiting() == n {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            panic!("{} threads wait, not {n}", POOL.waiting());
        };
        POOL.standby().unwrap();
        wait_for(1);
        let (tx, rx) = std::sync::mpsc::channel();
        let job = |tx: std::sync::mpsc::Sender<_>| -> Job {
            Box::new(move || {
                let me = std::thread::current();
                tx.send((me.id(), me.name().map(str::to_string))).unwrap();
            })
        };
        // The standby takes the airing, then waits again: the next runs on it too.
        POOL.run(job(tx.clone())).unwrap();
        let (first, name) = rx.recv().unwrap();
        assert_eq!(name.as_deref(), Some("decode"));
        wait_for(1);
        POOL.run(job(tx.clone())).unwrap();
        assert_eq!(rx.recv().unwrap().0, first);
        // Two at once: the second gets a thread of its own, which ends afterwards (one
        // waits, as many as the stations asked for).
        wait_for(1);
        let (hold, held) = std::sync::mpsc::channel::<()>();
        POOL.run(Box::new(move || {
            let _ = held.recv();
        }))
        .unwrap();
        POOL.run(job(tx)).unwrap();
        assert_ne!(rx.recv().unwrap().0, first);
        drop(hold);
        wait_for(1);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(POOL.waiting(), 1);
    }

    #[test]
    fn played_chunks_are_filled_again_up_to_a_bound() {
        let spare = Spare {
            chunks: Mutex::new(Vec::new()),
            max: std::sync::atomic::AtomicUsize::new(SPARE_MAX),
        };
        let mut c = Vec::with_capacity(SPARE_LEN);
        c.extend_from_slice(&[0.5; 10]);
        let at = c.as_ptr();
        spare.put(c);
        let again = spare.take(SPARE_LEN);
        assert_eq!(
            (again.as_ptr(), again.len()),
            (at, 0),
            "the same memory, emptied"
        );
        // Another length is neither kept nor handed out.
        spare.put(Vec::with_capacity(SPARE_LEN / 2));
        assert_eq!(spare.take(SPARE_LEN / 2).capacity(), SPARE_LEN / 2);
        assert!(spare.chunks.lock().unwrap().is_empty());
        for _ in 0..SPARE_MAX + 10 {
            spare.put(Vec::with_capacity(SPARE_LEN));
        }
        assert_eq!(spare.chunks.lock().unwrap().len(), SPARE_MAX);
        // A station's warm chunks: there at once, empty, and kept on top of the bound.
        spare.chunks.lock().unwrap().clear();
        spare.warm(WARM_CHUNKS);
        let warm = std::mem::take(&mut *spare.chunks.lock().unwrap());
        assert_eq!(warm.len(), WARM_CHUNKS);
        assert!(warm
            .iter()
            .all(|c| c.is_empty() && c.capacity() == SPARE_LEN));
        for _ in 0..SPARE_MAX + 10 {
            spare.put(Vec::with_capacity(SPARE_LEN));
        }
        assert_eq!(spare.chunks.lock().unwrap().len(), SPARE_MAX + WARM_CHUNKS);
    }

    /// Minor page faults of the calling thread so far (field 10 of its stat file).
    fn thread_faults() -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after = stat.rsplit_once(')').unwrap().1;
        after.split_whitespace().nth(7).unwrap().parse().unwrap()
    }

    #[test]
    fn warm_chunks_are_in_memory_already_mapped() {
        let spare = Spare {
            chunks: Mutex::new(Vec::new()),
            max: std::sync::atomic::AtomicUsize::new(0),
        };
        // 256 chunks: 4 MiB, 1,024 pages, far more than freed memory could hold mapped.
        const N: usize = 256;
        spare.warm(N);
        let mut chunks = std::mem::take(&mut *spare.chunks.lock().unwrap());
        assert_eq!(chunks.len(), N);
        let before = thread_faults();
        for c in &mut chunks {
            c.resize(SPARE_LEN, 0.25);
        }
        let faults = thread_faults() - before;
        // Allocated but never written, each page would fault here (1,024; 777 in a debug
        // build, 497 in a release build where the chunks were "written" with zeros); the
        // reading of the stat file itself may take a few.
        assert!(faults < 32, "{faults} page faults writing warm chunks");
        assert!(chunks.iter().all(|c| c.iter().all(|&x| x == 0.25)));
    }
}
