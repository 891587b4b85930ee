//! Live streams (channels relayed over HTTP/Icecast): which format a stream is in, from
//! its `Content-Type` or its address, and the loudness of a sample of it, from which the
//! server sets a channel's fixed gain. The bytes come from a reader the caller owns: this
//! crate does no network I/O.

use std::io::Read;

use crate::decode::Decoder;
use crate::error::MediaError;
use crate::loudness::{Loudness, Meter};

/// The format of a stream from its `Content-Type`, else from its URL's extension: the hint
/// [`Decoder::open_stream`] takes.
pub fn format_hint(content_type: Option<&str>, url: &str) -> Option<&'static str> {
    let ct = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let by_type = match ct.as_str() {
        "audio/mpeg" | "audio/mp3" => Some("mp3"),
        "audio/aac" | "audio/aacp" | "audio/x-aac" => Some("aac"),
        "audio/ogg" | "application/ogg" | "audio/vorbis" => Some("ogg"),
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Some("wav"),
        _ => None,
    };
    by_type.or_else(|| {
        let path = url.split(['?', '#']).next().unwrap_or("");
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
        match ext.as_str() {
            "mp3" => Some("mp3"),
            "aac" => Some("aac"),
            "ogg" | "oga" => Some("ogg"),
            "wav" => Some("wav"),
            _ => None,
        }
    })
}

/// What a sample of a live stream measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamSample {
    /// EBU R128 integrated loudness and true peak of the sample.
    pub loudness: Loudness,
    /// Audio measured, milliseconds.
    pub duration_ms: u64,
    /// The stream's sample rate, Hz.
    pub sample_rate: u32,
    /// The stream's channel count.
    pub channels: u16,
}

/// Frames handed to the meter at once.
const BLOCK_FRAMES: usize = 4096;

/// Decode the first `ms` milliseconds of the stream `reader` (format hint `ext`) and measure
/// their loudness. Errors: the stream is not audio ([`MediaError::NotAudio`] and the like),
/// it ended (or its reader failed) before `ms` of audio ([`MediaError::StreamEnded`]), or
/// it is silent ([`MediaError::Silent`]).
pub fn measure_stream<R>(reader: R, ext: Option<&str>, ms: u64) -> Result<StreamSample, MediaError>
where
    R: Read + Send + Sync + 'static,
{
    let mut decoder = Decoder::open_stream(reader, ext, 0.0)?;
    let (sample_rate, channels) = (decoder.sample_rate(), decoder.channels());
    if sample_rate == 0 || channels == 0 {
        return Err(MediaError::NoAudio);
    }
    let mut meter = Meter::new(channels, sample_rate)?;
    let wanted = ms.saturating_mul(u64::from(sample_rate)) / 1000;
    let ch = usize::from(channels);
    let mut block = Vec::with_capacity(BLOCK_FRAMES * ch);
    let mut frames = 0u64;
    while frames < wanted {
        block.clear();
        let n = (BLOCK_FRAMES as u64).min(wanted - frames) as usize * ch;
        block.extend(decoder.by_ref().take(n));
        // Whole frames only: a stream cut mid-frame leaves a partial one.
        block.truncate(block.len() - block.len() % ch);
        meter.add_interleaved(&block);
        frames += (block.len() / ch) as u64;
        if block.len() < n {
            return Err(MediaError::StreamEnded {
                got_ms: crate::probe::frames_to_ms(frames, sample_rate),
                wanted_ms: ms,
            });
        }
    }
    let loudness = meter.finish();
    if !loudness.integrated_lufs.is_finite() {
        return Err(MediaError::Silent);
    }
    Ok(StreamSample {
        loudness,
        duration_ms: crate::probe::frames_to_ms(frames, sample_rate),
        sample_rate,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal;

    #[test]
    fn the_stream_format_comes_from_its_content_type_or_its_address() {
        let cases = [
            (Some("audio/mpeg"), "http://h/live", Some("mp3")),
            (Some("audio/aacp; charset=x"), "http://h/live", Some("aac")),
            (Some("application/ogg"), "http://h/a.mp3", Some("ogg")),
            (Some("audio/x-wav"), "http://h/", Some("wav")),
            (None, "http://h/vov1.mp3?x=1", Some("mp3")),
            (
                Some("application/octet-stream"),
                "http://h/s.ogg",
                Some("ogg"),
            ),
            (None, "http://h/stream", None),
        ];
        for (ct, url, want) in cases {
            assert_eq!(format_hint(ct, url), want, "{ct:?} {url}");
        }
    }

    /// A WAV stream (header for an unknown length, as Icecast-style servers send) of `pcm`.
    fn wav_stream(samples: &[f32], rate: u32) -> std::io::Cursor<Vec<u8>> {
        let mut bytes = signal::wav_stream_header(rate, 1);
        bytes.extend(signal::pcm16_bytes(samples));
        std::io::Cursor::new(bytes)
    }

    #[test]
    fn a_tone_sample_measures_its_level_from_its_amplitude() {
        let rate = 16_000;
        let tone = signal::tone(997.0, 6_000, rate, 0.5);
        let s = measure_stream(wav_stream(&tone, rate), Some("wav"), 5_000).unwrap();
        // A mono sine of amplitude A: 20·log10(A) − 3.01 LUFS.
        let want = 20.0 * 0.5f64.log10() - 3.01;
        assert!(
            (s.loudness.integrated_lufs - want).abs() < 0.3,
            "{s:?}, want {want}"
        );
        assert_eq!(s.duration_ms, 5_000);
        assert_eq!((s.sample_rate, s.channels), (rate, 1));
    }

    #[test]
    fn a_stream_shorter_than_the_sample_says_how_much_it_sent() {
        let rate = 16_000;
        let tone = signal::tone(440.0, 1_500, rate, 0.5);
        match measure_stream(wav_stream(&tone, rate), Some("wav"), 5_000) {
            Err(MediaError::StreamEnded { got_ms, wanted_ms }) => {
                assert_eq!((got_ms, wanted_ms), (1_500, 5_000));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_silent_stream_and_a_page_are_refused() {
        let rate = 16_000;
        let quiet = signal::silence(3_000, rate);
        assert!(matches!(
            measure_stream(wav_stream(&quiet, rate), Some("wav"), 2_000),
            Err(MediaError::Silent)
        ));
        let page = std::io::Cursor::new(b"<!doctype html><title>Loa Xa</title>".repeat(100));
        assert!(matches!(
            measure_stream(page, None, 2_000),
            Err(MediaError::NotAudio)
        ));
    }
}
