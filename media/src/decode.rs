//! Decoding for playback: a streaming [`Decoder`] that yields interleaved
//! `f32` samples with the bulletin's gain applied (the controller wraps it in
//! a rodio `Source`), and [`decode_all`] for server-side mixing.
//!
//! Playback is lenient where the prober is strict: a file was validated on
//! upload, so at air time a bad packet is skipped and the bulletin goes on.

use std::fs::File;
use std::io::{Read, Seek};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::audio::{AudioBufferRef, SampleBuffer};
use symphonia::core::codecs;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatReader;
use symphonia::core::formats::Packet;

use crate::error::MediaError;
use crate::loudness::db_to_linear;
use crate::stream;
use crate::wav16::Wav16;

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
    source: Source,
    sample_rate: u32,
    channels: u16,
    gain: f32,
    pos: usize,
    len: usize,
    done: bool,
}

/// Where a [`Decoder`]'s samples come from.
enum Source {
    /// Symphonia's packets, decoded into `buf`.
    Packets {
        format: Box<dyn FormatReader>,
        decoder: Box<dyn codecs::Decoder>,
        track_id: u32,
        trim: stream::Trim,
        buf: Option<SampleBuffer<f32>>,
    },
    /// A 16-bit PCM WAV file in memory, read directly.
    Wav16(Wav16),
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
        not_audio_on_panic(|| Self::open_inner(path, file, gain_db))
    }

    /// [`Decoder::open`] for a file already in memory (an urgent notice's audio that came
    /// with its push): the same checks, the same decoding.
    pub fn open_bytes(bytes: bytes::Bytes, gain_db: f64) -> Result<Self, MediaError> {
        if bytes.is_empty() {
            return Err(MediaError::EmptyFile);
        }
        if let Some(wav) = Wav16::parse(&bytes) {
            let (rate, channels) = (wav.sample_rate, wav.channels);
            return Self::from_source(Source::Wav16(wav), rate, channels, gain_db);
        }
        let opened = || {
            let origin = stream::Origin::Memory(&bytes);
            let opened = stream::open(origin, &mut |seekable| {
                Ok(Box::new(WholeSource {
                    len: bytes.len() as u64,
                    inner: std::io::Cursor::new(bytes.clone()),
                    seekable,
                }))
            })?;
            Self::start(opened, gain_db)
        };
        not_audio_on_panic(opened)
    }

    /// Open a live stream (e.g. a channel relayed over HTTP) for playback with `gain_db`
    /// applied. `ext` hints the format ("mp3", "aac", "ogg", "wav"). Reading blocks on
    /// `reader`; a read error or its end ends the decoder (the caller reconnects).
    pub fn open_stream<R>(reader: R, ext: Option<&str>, gain_db: f64) -> Result<Self, MediaError>
    where
        R: std::io::Read + Send + Sync + 'static,
    {
        let source = Box::new(symphonia::core::io::ReadOnlySource::new(reader));
        not_audio_on_panic(|| Self::start(stream::open_stream(source, ext)?, gain_db))
    }

    fn open_inner(path: &Path, file: File, gain_db: f64) -> Result<Self, MediaError> {
        let mut file = Some(file);
        let opened = stream::open(stream::Origin::File(path), &mut |seekable| {
            let file = match file.take() {
                Some(f) => f,
                None => File::open(path)?,
            };
            Ok(Box::new(WholeSource {
                len: file.metadata()?.len(),
                inner: file,
                seekable,
            }))
        })?;
        Self::start(opened, gain_db)
    }

    fn start(opened: stream::Opened, gain_db: f64) -> Result<Self, MediaError> {
        let stream::Opened {
            format,
            decoder,
            track_id,
            trim,
            ..
        } = opened;
        let source = Source::Packets {
            format,
            decoder,
            track_id,
            trim,
            buf: None,
        };
        // (Format 0: the first decoded buffer fixes it.)
        Self::from_source(source, 0, 0, gain_db)
    }

    /// A decoder of `source` in format (`sample_rate`, `channels`), its first samples
    /// decoded; a source with none is an error.
    fn from_source(
        source: Source,
        sample_rate: u32,
        channels: u16,
        gain_db: f64,
    ) -> Result<Self, MediaError> {
        let mut d = Decoder {
            source,
            sample_rate,
            channels,
            gain: gain_from_db(gain_db),
            pos: 0,
            len: 0,
            done: false,
        };
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

    /// Decode the next samples into the source's buffer (`pos..len` of it). Returns false
    /// at the end of the stream.
    fn fill(&mut self) -> bool {
        if let Source::Wav16(wav) = &mut self.source {
            if self.done || !wav.fill(self.gain) {
                self.done = true;
                return false;
            }
            (self.pos, self.len) = (0, wav.buf.len());
            return true;
        }
        self.fill_packets()
    }

    /// Decode packets until one yields samples in the stream's format.
    /// Returns false at the end of the stream.
    fn fill_packets(&mut self) -> bool {
        let Source::Packets {
            format,
            decoder,
            track_id,
            trim,
            buf,
        } = &mut self.source
        else {
            return false;
        };
        let mut errors = 0u32;
        while !self.done {
            if errors >= MAX_CONSECUTIVE_ERRORS {
                self.done = true;
                break;
            }
            // symphonia can panic on malformed data; a panic ends this
            // bulletin instead of the audio thread.
            let next = panic::catch_unwind(AssertUnwindSafe(|| format.next_packet()));
            let Ok(next) = next else {
                self.done = true;
                break;
            };
            let packet = match next {
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
            if packet.track_id() != *track_id {
                continue;
            }
            let Some(decoded) = decode_caught(decoder.as_mut(), &packet) else {
                self.done = true;
                break;
            };
            let decoded = match decoded {
                Ok(buf) => buf,
                Err(SymError::ResetRequired) => {
                    decoder.reset();
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
            let (keep_from, keep_to) = trim.window(frames);
            if keep_from >= keep_to {
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
            let buf = match buf {
                Some(b) if b.capacity() >= frames * usize::from(channels) => b,
                _ => buf.insert(SampleBuffer::new(frames as u64, spec)),
            };
            buf.copy_interleaved_ref(decoded);
            let ch = usize::from(channels);
            let (from, to) = (keep_from * ch, (keep_to * ch).min(buf.len()));
            let gain = self.gain;
            for s in buf.samples_mut().get_mut(from..to).unwrap_or(&mut []) {
                *s = if s.is_finite() {
                    (*s * gain).clamp(-1.0, 1.0)
                } else {
                    0.0
                };
            }
            self.pos = from;
            self.len = to;
            if self.pos < self.len {
                return true;
            }
        }
        false
    }
}

/// The linear gain of `gain_db` (none for a value that is not a number).
fn gain_from_db(gain_db: f64) -> f32 {
    if gain_db.is_finite() {
        db_to_linear(gain_db)
    } else {
        1.0
    }
}

/// `decoder.decode(packet)`, or `None` if symphonia panicked.
fn decode_caught<'a>(
    decoder: &'a mut dyn codecs::Decoder,
    packet: &Packet,
) -> Option<symphonia::core::errors::Result<AudioBufferRef<'a>>> {
    panic::catch_unwind(AssertUnwindSafe(move || {
        let decoder = decoder;
        decoder.decode(packet)
    }))
    .ok()
}

impl Decoder {
    /// The next decoded samples, interleaved, gain applied: the rest of the current
    /// packet, borrowed until the next call. `None` at the end of the stream. Reading by
    /// blocks costs one call per packet instead of one per sample.
    pub fn next_block(&mut self) -> Option<&[f32]> {
        if self.pos >= self.len && !self.fill() {
            return None;
        }
        let (from, to) = (self.pos, self.len);
        self.pos = to;
        self.decoded().get(from..to)
    }

    /// The samples decoded last (of which `pos..len` are not read yet).
    fn decoded(&self) -> &[f32] {
        match &self.source {
            Source::Packets { buf, .. } => buf.as_ref().map_or(&[], |b| b.samples()),
            Source::Wav16(wav) => &wav.buf,
        }
    }
}

impl Iterator for Decoder {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        loop {
            if self.pos < self.len {
                let s = self.decoded().get(self.pos).copied();
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
        samples.extend_from_slice(d.decoded().get(d.pos..d.len).unwrap_or(&[]));
        d.pos = d.len;
    }
    Ok(Pcm {
        samples,
        sample_rate,
        channels,
    })
}

/// `open`'s result, or [`MediaError::NotAudio`] if it panics: symphonia can panic on some
/// malformed headers.
fn not_audio_on_panic(
    open: impl FnOnce() -> Result<Decoder, MediaError>,
) -> Result<Decoder, MediaError> {
    panic::catch_unwind(AssertUnwindSafe(open)).unwrap_or(Err(MediaError::NotAudio))
}

/// A whole file, on disk or in memory, as a symphonia source, seekable or not as asked.
struct WholeSource<R> {
    inner: R,
    len: u64,
    seekable: bool,
}

impl<R: Read> Read for WholeSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: Seek> Seek for WholeSource<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl<R: Read + Seek + Send + Sync> symphonia::core::io::MediaSource for WholeSource<R> {
    fn is_seekable(&self) -> bool {
        self.seekable
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_can_move_to_the_audio_thread() {
        fn assert_send<T: Send + 'static>() {}
        assert_send::<Decoder>();
        assert_send::<Pcm>();
    }

    #[test]
    fn a_live_wav_stream_of_unknown_length_decodes_until_the_reader_ends() {
        let tone = crate::signal::tone(440.0, 500, 16_000, 0.5);
        let mut bytes = crate::signal::wav_stream_header(16_000, 1);
        bytes.extend(crate::signal::pcm16_bytes(&tone));
        let d = Decoder::open_stream(std::io::Cursor::new(bytes), Some("wav"), -6.0).unwrap();
        assert_eq!((d.sample_rate(), d.channels()), (16_000, 1));
        let out: Vec<f32> = d.collect();
        assert_eq!(out.len(), tone.len());
        let peak = out.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5 * db_to_linear(-6.0)).abs() < 0.01, "{peak}");
        assert!(Decoder::open_stream(std::io::Cursor::new(vec![7u8; 4096]), None, 0.0).is_err());
    }

    #[test]
    fn blocks_hold_the_same_samples_as_the_iterator() {
        let tone = crate::signal::tone(440.0, 700, 22_050, 0.5);
        let mut bytes = crate::signal::wav_stream_header(22_050, 1);
        bytes.extend(crate::signal::pcm16_bytes(&tone));
        let open = || Decoder::open_stream(std::io::Cursor::new(bytes.clone()), Some("wav"), -3.0);
        let want: Vec<f32> = open().unwrap().collect();
        let mut d = open().unwrap();
        let (mut got, mut blocks) = (Vec::new(), 0);
        while let Some(b) = d.next_block() {
            assert!(!b.is_empty());
            got.extend_from_slice(b);
            blocks += 1;
        }
        assert_eq!(got, want);
        assert!(blocks > 1, "{blocks}");
        assert!(d.next_block().is_none(), "stays at the end");
    }

    #[test]
    fn pcm_duration_counts_frames_not_samples() {
        let pcm = Pcm {
            samples: vec![0.0; 96_000],
            sample_rate: 48_000,
            channels: 2,
        };
        assert_eq!((pcm.frames(), pcm.duration_ms()), (48_000, 1000));
        assert_eq!(Pcm::default().duration_ms(), 0);
    }
}
