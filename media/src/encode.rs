//! Compact MP3 for sending audio over the network: mono, constant bit rate, encoded with
//! LAME (feature `encode`, which only the server turns on; the controller never encodes).
//!
//! The server sends an urgent notice's audio to every station at once, and loudspeaker
//! horns carry speech, not hi-fi: a second of 48 kHz WAV is 96 KB, the same second at
//! 48 kb/s is 6 KB. See `web::urgent::compact`.

use crate::{signal, MediaError, Pcm};
use mp3lame_encoder::{Bitrate, Builder, FlushGap, Mode, MonoPcm, Quality};
use std::num::NonZeroU32;

/// The bit rates [`mp3_mono`] takes, kb/s: LAME's constant rates from 24 to 128 (at
/// 16 kb/s no frame holds the information tag; see [`output_rate`]).
pub const BIT_RATES: [u16; 8] = [24, 32, 40, 48, 64, 80, 96, 128];

/// Samples handed to LAME at a time (its output buffer is sized for them).
const CHUNK: usize = 16_384;

/// Encode `pcm` (any rate, any channels) as mono MP3 at `kbps`, one of [`BIT_RATES`], at
/// [`output_rate`]. The first frame is LAME's information tag, so decoders trim the
/// encoder's delay and padding.
pub fn mp3_mono(pcm: &Pcm, kbps: u16) -> Result<Vec<u8>, MediaError> {
    let rate = match kbps {
        24 => Bitrate::Kbps24,
        32 => Bitrate::Kbps32,
        40 => Bitrate::Kbps40,
        48 => Bitrate::Kbps48,
        64 => Bitrate::Kbps64,
        80 => Bitrate::Kbps80,
        96 => Bitrate::Kbps96,
        128 => Bitrate::Kbps128,
        other => {
            return Err(encoding(format!(
                "{other} kb/s: the bit rate is one of {BIT_RATES:?}"
            )))
        }
    };
    if pcm.samples.is_empty() {
        return Err(MediaError::NoAudio);
    }
    let mut mono = signal::to_channels(pcm, 1);
    // LAME takes input up to 48 kHz.
    if mono.sample_rate > 48_000 {
        mono = signal::resample_linear(&mono, 48_000);
    }
    let mut builder = Builder::new().ok_or_else(|| encoding("LAME could not start".into()))?;
    let built = builder
        .set_num_channels(1)
        .and_then(|()| builder.set_sample_rate(mono.sample_rate))
        .and_then(|()| builder.set_output_sample_rate(NonZeroU32::new(output_rate(kbps))))
        .and_then(|()| builder.set_brate(rate))
        .and_then(|()| builder.set_mode(Mode::Mono))
        .and_then(|()| builder.set_quality(Quality::Good))
        .and_then(|()| builder.set_to_write_vbr_tag(true));
    built.map_err(|e| encoding(format!("LAME refused the settings ({e:?})")))?;
    let mut encoder = builder
        .build()
        .map_err(|e| encoding(format!("LAME refused the settings ({e:?})")))?;
    let mut out = Vec::with_capacity(mono.samples.len() * usize::from(kbps) / 8 / 40 + 8_192);
    for chunk in mono.samples.chunks(CHUNK) {
        out.reserve(mp3lame_encoder::max_required_buffer_size(chunk.len()));
        encoder
            .encode_to_vec(MonoPcm(chunk), &mut out)
            .map_err(|e| encoding(format!("{e:?}")))?;
    }
    out.reserve(7_200);
    encoder
        .flush_to_vec::<FlushGap>(&mut out)
        .map_err(|e| encoding(format!("{e:?}")))?;
    // The information tag (delay, padding, length) goes over the frame LAME left for it.
    let mut tag = Vec::with_capacity(encoder.lame_tag_size());
    if encoder.lame_tag_encode_to_vec(&mut tag).is_some() && tag.len() <= out.len() {
        out[..tag.len()].copy_from_slice(&tag);
    }
    Ok(out)
}

/// The copy's sample rate for `kbps`. A divisor of 48 kHz, the rate sound cards run at, so
/// that a station upsamples by a whole factor (its cheap path); and low enough that a frame
/// holds LAME's information tag, without which decoders keep the encoder's delay (about
/// 50 ms of silence before the audio). 8 kHz up to 32 kb/s (telephone speech), 16 kHz up
/// to 64 kb/s (speech up to about 7.5 kHz, what a horn loudspeaker plays), 48 kHz above.
pub fn output_rate(kbps: u16) -> u32 {
    match kbps {
        0..=32 => 8_000,
        33..=64 => 16_000,
        _ => 48_000,
    }
}

fn encoding(detail: String) -> MediaError {
    MediaError::Encode(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, channels: u16, ms: u32) -> Pcm {
        let t = signal::tone(440.0, ms, rate, 0.5);
        signal::to_channels(
            &Pcm {
                samples: t,
                sample_rate: rate,
                channels: 1,
            },
            channels,
        )
    }

    fn decode(bytes: Vec<u8>) -> Pcm {
        let mut d = crate::Decoder::open_bytes(bytes.into(), 0.0).expect("decodes");
        let (sample_rate, channels) = (d.sample_rate(), d.channels());
        let mut samples = Vec::new();
        while let Some(b) = d.next_block() {
            samples.extend_from_slice(b);
        }
        Pcm {
            samples,
            sample_rate,
            channels,
        }
    }

    #[test]
    fn a_second_of_stereo_48k_becomes_six_kilobytes_of_mono_that_decodes_to_a_second() {
        let pcm = tone(48_000, 2, 1_000);
        let mp3 = mp3_mono(&pcm, 48).unwrap();
        // 48 kb/s is 6,000 bytes a second, plus the tag frame and a frame of padding.
        assert!((5_500..7_500).contains(&mp3.len()), "{} bytes", mp3.len());
        let back = decode(mp3);
        assert_eq!(back.channels, 1);
        assert!(
            (16_000..=32_000).contains(&back.sample_rate),
            "{} Hz",
            back.sample_rate
        );
        let ms = back.duration_ms();
        assert!((990..=1_060).contains(&ms), "{ms} ms");
        // The tone is there: its loudness is close to the original's.
        let peak = back.samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((0.4..0.6).contains(&peak), "peak {peak}");
    }

    #[test]
    fn every_bit_rate_keeps_the_exact_length_from_any_rate() {
        for (rate, kbps) in [16_000, 44_100, 48_000, 96_000]
            .into_iter()
            .flat_map(|r| BIT_RATES.map(|k| (r, k)))
        {
            let mp3 = mp3_mono(&tone(rate, 1, 3_000), kbps).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("copy.mp3");
            std::fs::write(&path, &mp3).unwrap();
            let info = crate::probe_file(&path, &crate::ProbeOptions::default()).unwrap();
            // The information tag is there: the delay and padding are trimmed.
            assert_eq!(info.duration_ms, 3_000, "{rate} Hz at {kbps} kb/s");
            assert_eq!(info.sample_rate, output_rate(kbps), "{kbps}");
        }
    }

    #[test]
    fn a_bit_rate_lame_has_not_and_no_audio_are_refused() {
        for kbps in [16, 50] {
            let e = mp3_mono(&tone(16_000, 1, 100), kbps).unwrap_err();
            assert!(e.to_string().contains(&format!("{kbps} kb/s")), "{e}");
        }
        let empty = Pcm {
            samples: vec![],
            sample_rate: 16_000,
            channels: 1,
        };
        assert!(matches!(mp3_mono(&empty, 48), Err(MediaError::NoAudio)));
    }

    #[test]
    fn the_same_audio_encodes_to_the_same_bytes() {
        let pcm = tone(16_000, 1, 500);
        assert_eq!(mp3_mono(&pcm, 32).unwrap(), mp3_mono(&pcm, 32).unwrap());
    }
}
