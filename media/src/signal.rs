//! Generated signals and PCM plumbing: tones, silence, the announcement
//! chime played before urgent notices, WAV writing, and the resampling and
//! channel mapping needed to join clips of different formats.

use std::path::Path;

pub use crate::decode::Pcm;
use crate::error::MediaError;

/// Fade in/out length for tones: long enough to avoid clicks, short enough
/// to keep the attack crisp.
const FADE_MS: u32 = 10;

/// Sample rate used when nothing else decides it (e.g. `concat(&[])`).
pub const DEFAULT_RATE: u32 = 48_000;

fn frames_for(ms: u32, sample_rate: u32) -> usize {
    (u64::from(ms) * u64::from(sample_rate) / 1000) as usize
}

/// A mono sine tone of `ms` milliseconds with a raised-cosine fade in and out.
/// `amplitude` is clamped to [0, 1].
pub fn tone(freq_hz: f32, ms: u32, sample_rate: u32, amplitude: f32) -> Vec<f32> {
    let n = frames_for(ms, sample_rate);
    let amp = if amplitude.is_finite() {
        amplitude.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let rate = sample_rate.max(1) as f64;
    let fade = frames_for(FADE_MS, sample_rate).min(n / 2).max(1);
    let step = std::f64::consts::TAU * f64::from(freq_hz) / rate;
    (0..n)
        .map(|i| {
            let edge = i.min(n - 1 - i);
            let env = if edge < fade {
                0.5 - 0.5 * (std::f64::consts::PI * edge as f64 / fade as f64).cos()
            } else {
                1.0
            };
            (f64::from(amp) * env * (step * i as f64).sin()) as f32
        })
        .collect()
}

/// `ms` milliseconds of mono silence.
pub fn silence(ms: u32, sample_rate: u32) -> Vec<f32> {
    vec![0.0; frames_for(ms, sample_rate)]
}

/// The announcement chime: 660 Hz then 880 Hz, about 1.2 s, mono.
pub fn chime(sample_rate: u32) -> Pcm {
    let mut samples = tone(660.0, 500, sample_rate, 0.5);
    samples.extend(silence(60, sample_rate));
    samples.extend(tone(880.0, 640, sample_rate, 0.5));
    Pcm {
        samples,
        sample_rate,
        channels: 1,
    }
}

/// A 16-bit PCM WAV file in memory. Samples are clamped to [-1, 1].
pub fn wav_bytes(pcm: &Pcm) -> Vec<u8> {
    let channels = pcm.channels.max(1);
    let data_len = u32::try_from(pcm.samples.len() * 2).unwrap_or(u32::MAX - 44) & !1;
    let block_align = channels * 2;
    let byte_rate = pcm.sample_rate.saturating_mul(u32::from(block_align));
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&pcm.sample_rate.to_le_bytes());
    out.extend_from_slice(&byte_rate.to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend(pcm16_bytes(
        &pcm.samples[..pcm.samples.len().min(data_len as usize / 2)],
    ));
    out
}

/// The header of an endless 16-bit PCM WAV stream (as live encoders write it: the RIFF and
/// data lengths both say "unknown", 0xFFFFFFFF, as ffmpeg writes to a pipe); follow it with
/// [`pcm16_bytes`].
pub fn wav_stream_header(sample_rate: u32, channels: u16) -> Vec<u8> {
    let mut out = wav_bytes(&Pcm {
        samples: Vec::new(),
        sample_rate,
        channels,
    });
    out[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    out[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    out
}

/// Samples as 16-bit little-endian PCM (the data of a WAV file).
pub fn pcm16_bytes(samples: &[f32]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|s| to_i16(*s).to_le_bytes())
        .collect()
}

/// Write `pcm` as a 16-bit PCM WAV file.
pub fn write_wav(path: &Path, pcm: &Pcm) -> Result<(), MediaError> {
    let spec = hound::WavSpec {
        channels: pcm.channels.max(1),
        sample_rate: pcm.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let wav = |e: hound::Error| match e {
        hound::Error::IoError(io) => MediaError::Io(io),
        other => MediaError::Wav(other.to_string()),
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(wav)?;
    for s in &pcm.samples {
        w.write_sample(to_i16(*s)).map_err(wav)?;
    }
    w.finalize().map_err(wav)
}

fn to_i16(s: f32) -> i16 {
    let s = if s.is_finite() {
        s.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    (s * 32767.0).round() as i16
}

/// Resample by linear interpolation. Good enough for speech and chimes
/// joined on the server; not a mastering-grade resampler (no anti-alias
/// filter when going down).
pub fn resample_linear(pcm: &Pcm, sample_rate: u32) -> Pcm {
    let ch = usize::from(pcm.channels.max(1));
    if pcm.sample_rate == sample_rate || pcm.sample_rate == 0 || sample_rate == 0 {
        return Pcm {
            samples: pcm.samples.clone(),
            sample_rate,
            channels: pcm.channels.max(1),
        };
    }
    let in_frames = pcm.samples.len() / ch;
    if in_frames == 0 {
        return Pcm {
            samples: Vec::new(),
            sample_rate,
            channels: ch as u16,
        };
    }
    let out_frames =
        (in_frames as u64 * u64::from(sample_rate) / u64::from(pcm.sample_rate)) as usize;
    let step = f64::from(pcm.sample_rate) / f64::from(sample_rate);
    let mut samples = Vec::with_capacity(out_frames * ch);
    for i in 0..out_frames {
        let x = i as f64 * step;
        let i0 = (x.floor() as usize).min(in_frames - 1);
        let i1 = (i0 + 1).min(in_frames - 1);
        let t = (x - i0 as f64) as f32;
        for c in 0..ch {
            let a = pcm.samples[i0 * ch + c];
            let b = pcm.samples[i1 * ch + c];
            samples.push(a + (b - a) * t);
        }
    }
    Pcm {
        samples,
        sample_rate,
        channels: ch as u16,
    }
}

/// Change the channel count: mono is copied to every channel, anything to
/// mono is averaged, otherwise channels are taken in order (repeating).
pub fn to_channels(pcm: &Pcm, channels: u16) -> Pcm {
    let from = usize::from(pcm.channels.max(1));
    let to = usize::from(channels.max(1));
    if from == to {
        return Pcm {
            samples: pcm.samples.clone(),
            sample_rate: pcm.sample_rate,
            channels: to as u16,
        };
    }
    let mut samples = Vec::with_capacity(pcm.samples.len() / from * to);
    for frame in pcm.samples.chunks_exact(from) {
        if to == 1 {
            samples.push(frame.iter().sum::<f32>() / from as f32);
        } else {
            samples.extend((0..to).map(|c| frame[c % from]));
        }
    }
    Pcm {
        samples,
        sample_rate: pcm.sample_rate,
        channels: to as u16,
    }
}

/// Join clips end to end in the format of the first (the others are
/// resampled and remixed to match). An empty list gives empty mono audio at
/// [`DEFAULT_RATE`].
pub fn concat(clips: &[Pcm]) -> Pcm {
    let Some(first) = clips.first() else {
        return Pcm {
            samples: Vec::new(),
            sample_rate: DEFAULT_RATE,
            channels: 1,
        };
    };
    let rate = first.sample_rate;
    let channels = first.channels.max(1);
    let mut samples = Vec::new();
    for clip in clips {
        let c = to_channels(&resample_linear(clip, rate), channels);
        samples.extend_from_slice(&c.samples);
    }
    Pcm {
        samples,
        sample_rate: rate,
        channels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_has_the_requested_length_and_starts_and_ends_at_zero() {
        let t = tone(440.0, 250, 48_000, 0.8);
        assert_eq!(t.len(), 12_000);
        assert!(t[0].abs() < 1e-6 && t[t.len() - 1].abs() < 0.01);
        let peak = t.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.8).abs() < 0.01, "{peak}");
    }

    #[test]
    fn tone_survives_degenerate_arguments() {
        assert!(tone(440.0, 0, 48_000, 1.0).is_empty());
        assert_eq!(tone(440.0, 1, 1000, f32::NAN), vec![0.0]);
        assert!(tone(440.0, 10, 0, 1.0).is_empty());
    }

    #[test]
    fn chime_is_about_one_point_two_seconds_of_two_tones() {
        let c = chime(44_100);
        assert_eq!(c.channels, 1);
        assert!(
            (c.duration_ms() as i64 - 1200).abs() <= 10,
            "{}",
            c.duration_ms()
        );
        let l = crate::loudness::measure(&c.samples, 1, 44_100).unwrap();
        assert!(l.integrated_lufs > -20.0 && l.true_peak_dbtp < 0.0, "{l:?}");
    }

    #[test]
    fn wav_bytes_equal_what_hound_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.wav");
        let pcm = Pcm {
            samples: vec![0.0, 0.5, -0.5, 1.5, -1.0, 0.25],
            sample_rate: 8000,
            channels: 2,
        };
        write_wav(&path, &pcm).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), wav_bytes(&pcm));
    }

    #[test]
    fn resampling_keeps_duration_and_shape() {
        let pcm = Pcm {
            samples: tone(440.0, 1000, 44_100, 0.5),
            sample_rate: 44_100,
            channels: 1,
        };
        let r = resample_linear(&pcm, 48_000);
        assert_eq!(r.sample_rate, 48_000);
        assert_eq!(r.frames(), 48_000);
        let peak = r.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.01);
    }

    #[test]
    fn channel_mapping_duplicates_mono_and_averages_to_mono() {
        let mono = Pcm {
            samples: vec![0.1, 0.2],
            sample_rate: 8000,
            channels: 1,
        };
        assert_eq!(to_channels(&mono, 2).samples, vec![0.1, 0.1, 0.2, 0.2]);
        let st = Pcm {
            samples: vec![0.2, 0.4, -1.0, 1.0],
            sample_rate: 8000,
            channels: 2,
        };
        assert_eq!(to_channels(&st, 1).samples, vec![0.3, 0.0]);
    }

    #[test]
    fn concat_converts_every_clip_to_the_first_clips_format() {
        let a = Pcm {
            samples: vec![0.0; 2 * 48_000],
            sample_rate: 48_000,
            channels: 2,
        };
        let b = Pcm {
            samples: tone(440.0, 500, 24_000, 0.5),
            sample_rate: 24_000,
            channels: 1,
        };
        let c = concat(&[a, b]);
        assert_eq!((c.sample_rate, c.channels), (48_000, 2));
        assert_eq!(c.duration_ms(), 1500);
        assert_eq!(concat(&[]).samples.len(), 0);
    }
}
