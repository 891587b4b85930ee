//! Live broadcasts from an operator's microphone (#25).
//!
//! A session is opened by `POST /live` (targets checked by [`crate::app::targets`], the
//! rule urgent notices use), announced to every target station over its event stream
//! (`live` event), then fed by one WebSocket (`GET /live/{id}/ingest`) carrying PCM. The
//! server resamples the audio to [`media::voice::VOICE_RATE`] mono once, stamps each 40 ms
//! frame with its arrival instant ([`media::voice::Stamper`]), encodes it (IMA ADPCM, 61
//! kbit/s with headers) once, and fans the same bytes out to every station's stream
//! (`GET /device/live/{id}/stream`). Stations play each frame at its stamp plus the one
//! play-out delay they were all given, so neighbouring loudspeakers stay in step.
//!
//! The recording is written as it arrives and, when the session ends, stored in the library
//! (the proof of what was said), linked from the session and from every station's log
//! entry. A session ends on `{"type":"stop"}`, `POST /live/{id}/stop`, the socket closing,
//! bad input, or no audio for [`crate::state::Config::live_silence`].

use crate::db::{self, live::LiveStation};
use crate::library;

pub mod run;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use media::voice::{Frame, VOICE_RATE};
use schedules::Priority;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::io::BufWriter;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};

/// Frames kept for a station that connects (or reconnects) late: 1 s.
const BACKLOG_FRAMES: usize = 25;

/// Frames buffered for a slow station before it skips ahead (a gap at that station).
const STATION_QUEUE: usize = 64;

/// Longest session, after which it ends by itself: 4 hours.
pub const MAX_SESSION_MS: u64 = 4 * 3600 * 1000;

/// The input format of a session (what the WebSocket's binary messages carry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Format {
    /// Only `pcm_s16le` (the page sends it too, from an AudioWorklet).
    pub codec: Codec,
    /// Samples per second, 8000 ..= 48000.
    pub sample_rate: u32,
    /// 1 or 2 (interleaved).
    pub channels: u16,
}

/// Input codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    /// Signed 16-bit little-endian PCM.
    PcmS16le,
}

impl Default for Format {
    fn default() -> Self {
        Format {
            codec: Codec::PcmS16le,
            sample_rate: 48_000,
            channels: 1,
        }
    }
}

impl Format {
    /// Check the ranges; the error names the field.
    pub fn check(&self) -> Result<(), String> {
        if !(8_000..=48_000).contains(&self.sample_rate) {
            return Err(format!(
                "format.sample_rate: {} must be between 8000 and 48000",
                self.sample_rate
            ));
        }
        if !(1..=2).contains(&self.channels) {
            return Err(format!("format.channels: {} must be 1 or 2", self.channels));
        }
        Ok(())
    }

    /// Bytes of one frame (all channels) of input.
    pub fn frame_bytes(&self) -> usize {
        2 * usize::from(self.channels)
    }

    /// Bytes of one second of input.
    pub fn bytes_per_second(&self) -> usize {
        self.frame_bytes() * self.sample_rate as usize
    }
}

/// How a session ended, as told to the stations in the last frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ended {
    /// Why.
    pub reason: String,
    /// The recording in the library, when there is one.
    pub archive: Option<String>,
}

/// One open session.
#[derive(Debug)]
pub struct Session {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Level.
    pub priority: Priority,
    /// Who opened it (only they may speak into it).
    pub username: String,
    /// Their area (the recording belongs to it).
    pub area: String,
    /// Input format.
    pub format: Format,
    /// Target stations.
    pub stations: Vec<String>,
    /// The `live` event's data (sent again to a station whose event stream reconnects).
    pub push: Arc<str>,
    frames: broadcast::Sender<Bytes>,
    inner: Mutex<Inner>,
    ended: watch::Sender<Option<Ended>>,
}

#[derive(Debug)]
struct Inner {
    ingest: bool,
    backlog: VecDeque<Bytes>,
    stations: HashMap<String, LiveStation>,
    frames_sent: u64,
    last_audio: tokio::time::Instant,
    started: Option<DateTime<Utc>>,
    archive: Option<Archive>,
    ending: bool,
}

struct Archive {
    writer: hound::WavWriter<BufWriter<std::fs::File>>,
    file: tempfile::NamedTempFile,
    /// End of what was written, µs of server time.
    end_us: Option<i64>,
}

impl Session {
    /// Frames sent so far × 40 ms.
    pub fn aired_ms(&self) -> u64 {
        self.lock().frames_sent * media::voice::FRAME_SAMPLES as u64 * 1000 / u64::from(VOICE_RATE)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Each station's state now.
    pub fn station_states(&self) -> Vec<LiveStation> {
        let mut v: Vec<_> = self.lock().stations.values().cloned().collect();
        v.sort_by(|a, b| a.code.cmp(&b.code));
        v
    }

    /// `open` before the first audio, then `live`; `ended` once it has ended.
    pub fn state(&self) -> &'static str {
        if self.ended.borrow().is_some() {
            "ended"
        } else if self.lock().started.is_some() {
            "live"
        } else {
            "open"
        }
    }

    /// Resolves when the session has ended.
    pub fn ended(&self) -> impl std::future::Future<Output = Ended> + Send + 'static {
        let mut rx = self.ended.subscribe();
        async move {
            match rx.wait_for(|e| e.is_some()).await {
                Ok(e) => e.clone().unwrap_or_else(|| Ended {
                    reason: "ended".into(),
                    archive: None,
                }),
                Err(_) => Ended {
                    reason: "the server is stopping".into(),
                    archive: None,
                },
            }
        }
    }

    /// How it ended, if it has.
    pub fn ended_now(&self) -> Option<Ended> {
        self.ended.borrow().clone()
    }

    /// Claim the one ingest connection; false when one is already open or it is ending.
    pub fn claim_ingest(&self) -> bool {
        let mut i = self.lock();
        if i.ingest || i.ending {
            return false;
        }
        i.ingest = true;
        i.last_audio = tokio::time::Instant::now();
        true
    }

    /// Send stamped frames to every station and write their audio to the recording.
    /// Answers whether this was the session's first audio (its start).
    pub fn send(&self, frames: Vec<(Frame, Vec<i16>)>, now: DateTime<Utc>) -> bool {
        let mut i = self.lock();
        i.last_audio = tokio::time::Instant::now();
        let first = i.started.is_none() && !frames.is_empty();
        if first {
            i.started = Some(now);
        }
        for (frame, pcm) in frames {
            if let (Some(a), Frame::Audio { stamp, .. }) = (i.archive.as_mut(), &frame) {
                a.write(stamp.pts_us, i64::from(stamp.span_us), &pcm);
            }
            let bytes = Bytes::from(frame.to_bytes());
            if i.backlog.len() >= BACKLOG_FRAMES {
                i.backlog.pop_front();
            }
            i.backlog.push_back(bytes.clone());
            i.frames_sent += 1;
            let _ = self.frames.send(bytes);
        }
        first
    }

    /// Time since the last audio.
    pub fn silent_for(&self) -> std::time::Duration {
        self.lock().last_audio.elapsed()
    }

    /// A station's stream: what it missed lately, then frames as they come.
    pub fn subscribe(&self) -> (Vec<Bytes>, broadcast::Receiver<Bytes>) {
        let i = self.lock();
        (i.backlog.iter().cloned().collect(), self.frames.subscribe())
    }

    /// Set a station's state (a report, or its stream opening or closing). `only_from`:
    /// change it only when it is one of these now.
    pub fn set_station(
        &self,
        code: &str,
        now: DateTime<Utc>,
        only_from: Option<&[&str]>,
        f: impl FnOnce(&mut LiveStation),
    ) {
        let mut i = self.lock();
        if let Some(s) = i.stations.get_mut(code) {
            if only_from.is_some_and(|from| !from.contains(&s.state.as_str())) {
                return;
            }
            f(s);
            s.updated_at = now;
        }
    }
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("file", &self.file.path())
            .finish()
    }
}

impl Archive {
    fn open(media: &library::MediaStore) -> std::io::Result<Archive> {
        let file = media.temp_file()?;
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: VOICE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::new(BufWriter::new(file.reopen()?), spec)
            .map_err(std::io::Error::other)?;
        Ok(Archive {
            writer,
            file,
            end_us: None,
        })
    }

    /// Write a frame at its place: a gap before it becomes silence (at most a minute).
    fn write(&mut self, pts_us: i64, span_us: i64, pcm: &[i16]) {
        if let Some(end) = self.end_us {
            let gap_us = (pts_us - end).clamp(0, 60_000_000);
            if gap_us > 1_000 {
                let n = gap_us * i64::from(VOICE_RATE) / 1_000_000;
                for _ in 0..n {
                    let _ = self.writer.write_sample(0i16);
                }
            }
        }
        for &s in pcm {
            let _ = self.writer.write_sample(s);
        }
        self.end_us = Some(pts_us + span_us);
    }
}

/// A station's report applied to its state.
pub fn apply_report(s: &mut LiveStation, r: &schedules::wire::LiveReport, at: DateTime<Utc>) {
    s.state = r.state.clone();
    s.behind_ms = r.behind_ms.min(3_600_000);
    s.played_ms = r.played_ms.min(MAX_SESSION_MS);
    s.gaps = r.gaps;
    s.updated_at = at;
}

/// A station's stream of a session that goes on closed: `lost`, unless it had ended.
pub fn stream_closed(s: &mut LiveStation) {
    if s.state != "ended" {
        s.state = "lost".into()
    }
}

/// The open sessions of this server.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open session `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.lock().get(id).cloned()
    }

    /// Open sessions aimed at `station`.
    pub fn for_station(&self, station: &str) -> Vec<Arc<Session>> {
        self.lock()
            .values()
            .filter(|s| s.stations.iter().any(|c| c == station) && s.ended_now().is_none())
            .cloned()
            .collect()
    }

    /// Open sessions, all stations together (for `/metrics`).
    pub fn open_count(&self) -> usize {
        self.lock().len()
    }
}
