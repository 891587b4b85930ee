//! Decoding for playback: a streaming [`Decoder`] that yields interleaved
//! `f32` samples with the bulletin's gain applied (the controller wraps it in
//! a rodio `Source`), and [`decode_all`] for server-side mixing.
//!
//! Playback is lenient where the prober is strict: a file was validated on
//! upload, so at air time a bad packet is skipped and the bulletin goes on.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatReader;

use crate::error::MediaError;
use crate::loudness::db_to_linear;
use crate::stream;

/// Errors in a row after which playback gives up on a file (a stream that
/// fails forever must not spin the audio thread).
const MAX_CONSECUTIVE_ERRORS: u32 = 64;

/// Decoded audio in memory, samples interleaved.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pcm {
    /// Interleaved samples in [-1, 1].
    pub samples: Vec<f32>,
    /// Frames per second.
    pub sample_rate: u32,
    /// Samples per frame.
    pub channels: u16,
}

impl Pcm {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    /// Duration in milliseconds, rounded.
    pub fn duration_ms(&self) -> u64 {
        crate::probe::frames_to_ms(self.frames() as u64, self.sample_rate)
    }
}

/// Streaming decoder: an iterator over interleaved `f32` samples.
pub struct Decoder {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn codecs::Decoder>,
    track_id: u32,
    sample_rate: u32,
    channels: u16,
    gain: f32,
    buf: Option<SampleBuffer<f32>>,
    pos: usize,
    len: usize,
    done: bool,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .field("gain", &self.gain)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// Open `path` for playback with `gain_db` applied to every sample
    /// (output is clamped to [-1, 1]). Decodes the first packet so the
    /// format is known; a file with no decodable audio is an error.
    pub fn open(path: &Path, gain_db: f64) -> Result<Self, MediaError> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Err(MediaError::EmptyFile);
        }
        let stream::Opened {
            format,
            decoder,
            track_id,
            params,
            ..
        } = stream::open(path, Box::new(file))?;
        let gain = if gain_db.is_finite() {
            db_to_linear(gain_db)
        } else {
            1.0
        };
        let mut d = Decoder {
            format,
            decoder,
            track_id,
            sample_rate: params.sample_rate.unwrap_or(0),
            channels: params.channels.map_or(0, |c| c.count() as u16),
            gain,
            buf: None,
            pos: 0,
            len: 0,
            done: false,
        };
        // The first decoded buffer fixes the output format.
        d.sample_rate = 0;
        if !d.fill() {
            return Err(MediaError::NoAudio);
        }
        Ok(d)
    }

    /// Output sample rate, Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Output channel count.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Decode packets until one yields samples in the stream's format.
    /// Returns false at the end of the stream.
    fn fill(&mut self) -> bool {
        let mut errors = 0u32;
        while !self.done {
            if errors >= MAX_CONSECUTIVE_ERRORS {
                self.done = true;
                break;
            }
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(_)) | Err(SymError::ResetRequired) => {
                    // End of file, a read error, or a chained stream whose
                    // format may differ: the bulletin ends here.
                    self.done = true;
                    break;
                }
                Err(_) => {
                    errors += 1;
                    continue;
                }
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(buf) => buf,
                Err(SymError::ResetRequired) => {
                    self.decoder.reset();
                    errors += 1;
                    continue;
                }
                Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                    errors += 1;
                    continue;
                }
                Err(_) => {
                    self.done = true;
                    break;
                }
            };
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let spec = *decoded.spec();
            let channels = spec.channels.count() as u16;
            if self.sample_rate == 0 {
                self.sample_rate = spec.rate;
                self.channels = channels;
            } else if spec.rate != self.sample_rate || channels != self.channels {
                // A frame in another format cannot be played in this stream.
                errors += 1;
                continue;
            }
            let buf = match self.buf.as_mut() {
                Some(b) if b.capacity() >= frames * usize::from(channels) => b,
                _ => self.buf.insert(SampleBuffer::new(frames as u64, spec)),
            };
            buf.copy_interleaved_ref(decoded);
            let gain = self.gain;
            for s in buf.samples_mut() {
                *s = if s.is_finite() {
                    (*s * gain).clamp(-1.0, 1.0)
                } else {
                    0.0
                };
            }
            self.pos = 0;
            self.len = buf.len();
            if self.len > 0 {
                return true;
            }
        }
        false
    }
}

impl Iterator for Decoder {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        loop {
            if self.pos < self.len {
                let s = self
                    .buf
                    .as_ref()
                    .and_then(|b| b.samples().get(self.pos).copied());
                self.pos += 1;
                return s;
            }
            if !self.fill() {
                return None;
            }
        }
    }
}

/// Decode a whole file into memory (no gain), e.g. to mix a chime before a
/// bulletin on the server.
pub fn decode_all(path: &Path) -> Result<Pcm, MediaError> {
    let mut d = Decoder::open(path, 0.0)?;
    let (sample_rate, channels) = (d.sample_rate(), d.channels());
    let mut samples = Vec::new();
    while d.pos < d.len || d.fill() {
        if let Some(b) = d.buf.as_ref() {
            samples.extend_from_slice(b.samples().get(d.pos..d.len).unwrap_or(&[]));
        }
        d.pos = d.len;
    }
    Ok(Pcm {
        samples,
        sample_rate,
        channels,
    })
}
