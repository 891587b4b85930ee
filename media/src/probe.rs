//! Probe and validate an uploaded file: decode it completely (the only proof
//! that it is intact), and measure what the library stores about it —
//! duration from the decoded frames, format, sha256, loudness and gain.

use std::cell::Cell;
use std::fs::File;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::codecs::CodecParameters;
use symphonia::core::errors::Error as SymError;

use crate::error::MediaError;
use crate::hash::HashingSource;
use crate::loudness::{gain_db, ThreadedMeter};
use crate::{mp3_tail, ogg_tail, stream};

/// Decode errors tolerated in a whole file, as players do for a damaged
/// frame or two; more than this and the file is refused as corrupt.
const MAX_BAD_PACKETS: u32 = 3;

/// Limits and loudness targets for [`probe_file`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOptions {
    /// Largest accepted file, in bytes (default 200 MB).
    pub max_bytes: u64,
    /// Longest accepted audio, in milliseconds (default 2 hours).
    pub max_duration_ms: u64,
    /// Loudness every bulletin is brought to at playback (default −16 LUFS).
    pub target_lufs: f64,
    /// Ceiling for the true peak after gain (default −1 dBTP).
    pub max_true_peak_dbtp: f64,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            max_bytes: 200_000_000,
            max_duration_ms: 2 * 60 * 60 * 1000,
            target_lufs: -16.0,
            max_true_peak_dbtp: -1.0,
        }
    }
}

/// What the media library stores about a validated file.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaInfo {
    /// Lowercase hex sha256 of the file's bytes.
    pub sha256: String,
    /// Size of the file.
    pub size_bytes: u64,
    /// Duration of the decoded audio (encoder delay and padding removed when
    /// the file says how much there is).
    pub duration_ms: u64,
    /// Short codec name: `mp3`, `flac`, `vorbis`, `aac`, `pcm_s16le`, `pcm_f32le`…
    pub codec: String,
    /// Sample rate of the decoded audio, Hz.
    pub sample_rate: u32,
    /// Channel count of the decoded audio.
    pub channels: u16,
    /// Integrated loudness, EBU R128, LUFS.
    pub loudness_lufs: f64,
    /// Maximum true peak over all channels, dBTP.
    pub true_peak_dbtp: f64,
    /// Gain to apply at playback: towards the target, limited by the ceiling.
    pub gain_db: f64,
}

/// Validate and measure an audio file. Reads the file once (hashing while
/// decoding), decodes every packet, and refuses anything it could not play
/// in full with a [`MediaError`] an operator can act on.
///
/// symphonia 0.5 can panic on some malformed files (e.g. a damaged MP4
/// `esds` box); such a panic is caught here and reported as a damaged file,
/// so no input can take down the server.
pub fn probe_file(path: &Path, opts: &ProbeOptions) -> Result<MediaInfo, MediaError> {
    let progress_ms = Cell::new(0u64);
    match panic::catch_unwind(AssertUnwindSafe(|| probe_inner(path, opts, &progress_ms))) {
        Ok(result) => result,
        Err(_) if progress_ms.get() == 0 => Err(MediaError::NotAudio),
        Err(_) => Err(MediaError::Corrupt {
            at_ms: progress_ms.get(),
            detail: "the decoder could not read the data".into(),
        }),
    }
}

fn probe_inner(
    path: &Path,
    opts: &ProbeOptions,
    progress_ms: &Cell<u64>,
) -> Result<MediaInfo, MediaError> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(MediaError::NotAudio);
    }
    let size_bytes = meta.len();
    if size_bytes == 0 {
        return Err(MediaError::EmptyFile);
    }
    if size_bytes > opts.max_bytes {
        return Err(MediaError::TooLarge {
            size_bytes,
            limit_bytes: opts.max_bytes,
        });
    }

    let mut hash = None;
    let stream::Opened {
        mut format,
        mut decoder,
        track_id,
        codec,
        params,
        mut trim,
    } = stream::open(stream::Origin::File(path), &mut |seekable| {
        let (source, handle) = HashingSource::new(File::open(path)?, size_bytes, seekable);
        hash = Some(handle);
        Ok(Box::new(source))
    })?;
    let Some(hash) = hash else {
        return Err(MediaError::NotAudio);
    };

    let mut frames: u64 = 0;
    let mut spec: Option<(u32, u16)> = None;
    let mut meter: Option<ThreadedMeter> = None;
    let mut bad: u32 = 0;
    let mut lost: u64 = 0;
    let mut first_bad_ms: Option<u64> = None;
    let ms = |frames: u64, spec: Option<(u32, u16)>| -> u64 {
        let rate = spec.map(|s| s.0).or(params.sample_rate).unwrap_or(0);
        frames_to_ms(frames, rate)
    };

    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::IoError(e)) => return Err(MediaError::Io(e)),
            // A chained stream (a second Ogg stream follows): the first
            // stream is what we measured and what players play first.
            Err(SymError::ResetRequired) => break,
            Err(e) => {
                return Err(MediaError::Corrupt {
                    at_ms: ms(frames, spec),
                    detail: format!("container: {e}"),
                })
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                if buf.frames() == 0 {
                    continue;
                }
                let this = (buf.spec().rate, buf.spec().channels.count() as u16);
                match spec {
                    None => {
                        spec = Some(this);
                        meter = Some(ThreadedMeter::new(this.1, this.0)?);
                    }
                    Some(s) if s != this => {
                        // A frame whose format differs from the stream's is
                        // damage (or junk that happened to sync).
                        bad += 1;
                        first_bad_ms.get_or_insert(ms(frames, spec));
                        if bad > MAX_BAD_PACKETS {
                            return Err(corrupt(first_bad_ms, bad));
                        }
                        continue;
                    }
                    Some(_) => {}
                }
                let (from, to) = trim.window(buf.frames());
                frames += (to - from) as u64;
                if let Some(m) = meter.as_mut() {
                    m.add(&buf, from, to);
                }
                let so_far = ms(frames, spec);
                progress_ms.set(so_far);
                if so_far > opts.max_duration_ms {
                    return Err(MediaError::TooLong {
                        duration_ms: so_far,
                        limit_ms: opts.max_duration_ms,
                    });
                }
            }
            Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                // A tolerated bad packet still counts towards the length
                // the header promises.
                lost = lost.saturating_add(packet.dur);
                bad += 1;
                first_bad_ms.get_or_insert(ms(frames, spec));
                if bad > MAX_BAD_PACKETS {
                    return Err(corrupt(first_bad_ms, bad));
                }
            }
            Err(SymError::ResetRequired) => decoder.reset(),
            Err(SymError::Unsupported(what)) => {
                return Err(MediaError::UnsupportedCodec {
                    codec: format!("{codec} ({what})"),
                })
            }
            Err(e) => {
                return Err(MediaError::Corrupt {
                    at_ms: ms(frames, spec),
                    detail: e.to_string(),
                })
            }
        }
    }

    let (Some((sample_rate, channels)), Some(meter)) = (spec, meter) else {
        // Nothing decoded: junk that looked like a header, or a header alone.
        return Err(if bad > 0 {
            MediaError::NotAudio
        } else {
            MediaError::NoAudio
        });
    };

    // A damaged frame can also be skipped by the demuxer resyncing, with no
    // error at all; allow that much (100 ms) before calling the file short.
    let slack = u64::from(sample_rate / 10);
    if let Some(expected) = promised_frames(&codec, &params) {
        if frames.saturating_add(lost).saturating_add(slack) < expected {
            return Err(MediaError::Corrupt {
                at_ms: ms(frames, spec),
                detail: format!(
                    "the file ends early: its header promises {:.1} s",
                    expected as f64 / f64::from(sample_rate.max(1))
                ),
            });
        }
    }
    if let Some(expected) = trim.expected_frames() {
        if frames.saturating_add(lost).saturating_add(slack) < expected {
            return Err(MediaError::Corrupt {
                at_ms: ms(frames, spec),
                detail: format!(
                    "the file ends early: its header promises {:.1} s",
                    expected as f64 / f64::from(sample_rate.max(1))
                ),
            });
        }
    }
    if codec == "vorbis" && ogg_tail::ends_early(path)? {
        return Err(MediaError::Corrupt {
            at_ms: ms(frames, spec),
            detail: "the Ogg stream has no end page".into(),
        });
    }
    if codec == "mp3" && mp3_tail::ends_mid_frame(path)? {
        return Err(MediaError::Corrupt {
            at_ms: ms(frames, spec),
            detail: "the file ends in the middle of an MP3 frame".into(),
        });
    }

    let sha256 = hash.finish(path)?;
    let loudness = meter.finish()?;
    if !loudness.integrated_lufs.is_finite() {
        return Err(MediaError::Silent);
    }
    let gain = gain_db(
        loudness.integrated_lufs,
        loudness.true_peak_dbtp,
        opts.target_lufs,
        opts.max_true_peak_dbtp,
    );

    Ok(MediaInfo {
        sha256,
        size_bytes,
        duration_ms: frames_to_ms(frames, sample_rate),
        codec,
        sample_rate,
        channels,
        loudness_lufs: loudness.integrated_lufs,
        true_peak_dbtp: loudness.true_peak_dbtp,
        gain_db: gain,
    })
}

fn corrupt(first_bad_ms: Option<u64>, bad: u32) -> MediaError {
    MediaError::Corrupt {
        at_ms: first_bad_ms.unwrap_or(0),
        detail: format!("{bad} undecodable audio frames"),
    }
}

/// Frames the header promises, where the format states it exactly: PCM
/// (data chunk size), FLAC (STREAMINFO), MP3 with a LAME tag (frame count
/// and gapless trim). Other formats' counts are estimates or unknown.
fn promised_frames(codec: &str, params: &CodecParameters) -> Option<u64> {
    let n = params.n_frames?;
    if codec.starts_with("pcm_") {
        // Streaming writers leave the data size at its maximum (0xFFFFFFFF)
        // or zero: that promises nothing.
        let block = u64::from(params.bits_per_sample.unwrap_or(8).div_ceil(8))
            * params.channels.map_or(1, |c| c.count() as u64);
        if n.saturating_mul(block) >= 0xffff_0000 {
            return None;
        }
        return Some(n);
    }
    match codec {
        "flac" if n > 0 => Some(n),
        "mp3" if params.delay.is_some() => Some(n),
        _ => None,
    }
}

/// Rounded milliseconds of `frames` at `rate`.
pub(crate) fn frames_to_ms(frames: u64, rate: u32) -> u64 {
    if rate == 0 {
        return 0;
    }
    let rate = u128::from(rate);
    ((u128::from(frames) * 1000 + rate / 2) / rate) as u64
}
