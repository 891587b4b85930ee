//! The corrupt corpus: every kind of bad upload is refused with its own
//! clear error, and limits are enforced.

mod common;

use std::path::{Path, PathBuf};

use common::{ffmpeg, fixture, fixtures, run};
use media::{probe_file, signal, MediaError, Pcm, ProbeOptions};
use rand::{RngCore, SeedableRng};

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = fixtures().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn truncated(name: &str, out: &str, keep_fraction: f64, extra: usize) -> PathBuf {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let n = (bytes.len() as f64 * keep_fraction) as usize + extra;
    write(out, &bytes[..n])
}

fn probe(path: &Path) -> Result<media::MediaInfo, MediaError> {
    let r = probe_file(path, &ProbeOptions::default());
    if let Err(e) = &r {
        eprintln!("{}: {e}", path.display());
    }
    r
}

fn assert_corrupt_near(path: &Path, at_s: f64) {
    match probe(path) {
        Err(MediaError::Corrupt { at_ms, .. }) => {
            assert!(
                (at_ms as f64 / 1000.0 - at_s).abs() < 1.0,
                "{path:?}: corrupt at {at_ms} ms, expected about {at_s} s"
            )
        }
        other => panic!("{path:?}: expected Corrupt, got {other:?}"),
    }
}

#[test]
fn mp3_truncated_mid_frame_is_refused_as_corrupt_near_the_cut() {
    // An odd byte count after 60 % of the file: inside a frame.
    assert_corrupt_near(&truncated("cbr.mp3", "cut_cbr.mp3", 0.6, 7), 6.0);
}

#[test]
fn mp3_without_xing_truncated_mid_frame_is_refused_as_corrupt() {
    assert_corrupt_near(&truncated("vbr_noxing.mp3", "cut_vbr.mp3", 0.5, 3), 5.0);
}

#[test]
fn wav_whose_header_claims_more_data_than_it_has_is_refused_as_corrupt() {
    assert_corrupt_near(&truncated("s16.wav", "cut.wav", 0.5, 0), 5.0);
}

#[test]
fn truncated_flac_is_refused_as_corrupt() {
    assert_corrupt_near(&truncated("a.flac", "cut.flac", 0.7, 0), 7.0);
}

#[test]
fn truncated_m4a_is_refused_as_corrupt() {
    match probe(&truncated("a.m4a", "cut.m4a", 0.5, 0)) {
        Err(MediaError::Corrupt { .. }) | Err(MediaError::NotAudio) => {}
        other => panic!("expected Corrupt or NotAudio, got {other:?}"),
    }
}

#[test]
fn random_bytes_named_mp3_are_not_audio() {
    let mut bytes = vec![0u8; 64 * 1024];
    rand::rngs::StdRng::seed_from_u64(7).fill_bytes(&mut bytes);
    assert!(matches!(
        probe(&write("random.mp3", &bytes)),
        Err(MediaError::NotAudio)
    ));
}

#[test]
fn text_file_named_wav_is_not_audio() {
    let text = "Thông báo: lịch cắt điện ngày mai.\n".repeat(100);
    assert!(matches!(
        probe(&write("notes.wav", text.as_bytes())),
        Err(MediaError::NotAudio)
    ));
}

#[test]
fn zero_byte_file_is_refused_as_empty() {
    assert!(matches!(
        probe(&write("zero.mp3", &[])),
        Err(MediaError::EmptyFile)
    ));
}

#[test]
fn wav_with_a_header_and_no_samples_is_refused_as_no_audio() {
    let header_only = signal::wav_bytes(&Pcm {
        samples: vec![],
        sample_rate: 44_100,
        channels: 2,
    });
    assert_eq!(header_only.len(), 44);
    assert!(matches!(
        probe(&write("header_only.wav", &header_only)),
        Err(MediaError::NoAudio)
    ));
}

#[test]
fn silent_file_is_refused_as_silent() {
    let path = fixtures().join("silent.wav");
    run(
        "sox",
        &[
            "-n",
            "-r",
            "44100",
            "-c",
            "1",
            path.to_str().unwrap(),
            "trim",
            "0",
            "3",
        ],
    );
    assert!(matches!(probe(&path), Err(MediaError::Silent)));
}

#[test]
fn adpcm_wav_is_refused_naming_its_codec() {
    let path = fixtures().join("adpcm.wav");
    run(
        "sox",
        &[
            fixture("tone.wav").to_str().unwrap(),
            "-e",
            "ima-adpcm",
            path.to_str().unwrap(),
        ],
    );
    match probe(&path) {
        Err(MediaError::UnsupportedCodec { codec }) => assert_eq!(codec, "adpcm_ima_wav"),
        other => panic!("expected UnsupportedCodec, got {other:?}"),
    }
}

#[test]
fn opus_in_ogg_is_refused_naming_its_codec() {
    let path = fixtures().join("speech.opus");
    ffmpeg(&fixture("tone.wav"), &["-c:a", "libopus"], &path);
    match probe(&path) {
        Err(MediaError::UnsupportedCodec { codec }) => assert_eq!(codec, "opus"),
        other => panic!("expected UnsupportedCodec, got {other:?}"),
    }
}

#[test]
fn video_without_audio_is_refused_as_having_no_audio_track() {
    let path = fixtures().join("video.mp4");
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=1:size=64x64:rate=5",
            "-c:v",
            "mpeg4",
            path.to_str().unwrap(),
        ],
    );
    assert!(matches!(probe(&path), Err(MediaError::NoAudioTrack)));
}

#[test]
fn audio_longer_than_the_limit_is_refused() {
    let opts = ProbeOptions {
        max_duration_ms: 4_000,
        ..ProbeOptions::default()
    };
    match probe_file(&fixture("a.flac"), &opts) {
        Err(MediaError::TooLong {
            duration_ms,
            limit_ms,
        }) => {
            assert_eq!(limit_ms, 4_000);
            assert!(duration_ms > 4_000 && duration_ms < 4_500, "{duration_ms}");
        }
        other => panic!("expected TooLong, got {other:?}"),
    }
}

#[test]
fn file_larger_than_the_limit_is_refused_before_decoding() {
    let opts = ProbeOptions {
        max_bytes: 100_000,
        ..ProbeOptions::default()
    };
    match probe_file(&fixture("s16.wav"), &opts) {
        Err(MediaError::TooLarge {
            size_bytes,
            limit_bytes,
        }) => {
            assert_eq!(limit_bytes, 100_000);
            assert!(size_bytes > 1_000_000);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn missing_file_is_an_io_error() {
    let path = fixtures().join("does-not-exist.mp3");
    assert!(matches!(probe(&path), Err(MediaError::Io(_))));
}

#[test]
fn every_refusal_has_a_distinct_operator_message() {
    let errors = [
        MediaError::EmptyFile,
        MediaError::NotAudio,
        MediaError::UnsupportedCodec {
            codec: "opus".into(),
        },
        MediaError::NoAudioTrack,
        MediaError::NoAudio,
        MediaError::Corrupt {
            at_ms: 5_000,
            detail: "truncated".into(),
        },
        MediaError::Silent,
        MediaError::TooLong {
            duration_ms: 8_000_000,
            limit_ms: 7_200_000,
        },
        MediaError::TooLarge {
            size_bytes: 300_000_000,
            limit_bytes: 200_000_000,
        },
    ];
    let messages: std::collections::BTreeSet<String> =
        errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(messages.len(), errors.len());
    assert!(messages
        .iter()
        .all(|m| !m.contains("symphonia") && !m.contains("Error")));
}

#[test]
fn truncated_streamable_m4a_is_refused_as_corrupt() {
    let fast = fixtures().join("fast.m4a");
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            fixture("a.m4a").to_str().unwrap(),
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            fast.to_str().unwrap(),
        ],
    );
    match probe(&truncated("fast.m4a", "cut_fast.m4a", 0.5, 0)) {
        Err(MediaError::Corrupt { .. }) | Err(MediaError::NotAudio) => {}
        other => panic!("expected Corrupt or NotAudio, got {other:?}"),
    }
}

#[test]
fn truncated_ogg_vorbis_is_refused_as_corrupt() {
    assert_corrupt_near(&truncated("a.ogg", "cut.ogg", 0.5, 0), 5.0);
}

/// symphonia preallocates MP4 sample tables from their counts; a damaged
/// count must be refused before it can ask for gigabytes.
#[test]
fn m4a_with_an_impossible_sample_table_count_is_refused_without_allocating() {
    let mut bytes = std::fs::read(fixture("a.m4a")).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == b"stts")
        .expect("stts box");
    // stts payload: version/flags (4 bytes), then the entry count.
    bytes[at + 8..at + 12].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
    let path = write("bomb.m4a", &bytes);
    assert!(matches!(probe(&path), Err(MediaError::NotAudio)));
    assert!(media::Decoder::open(&path, 0.0).is_err());
}

/// Like players, the prober rides over a damaged frame or two.
#[test]
fn mp3_with_one_damaged_frame_is_accepted() {
    let mut bytes = std::fs::read(fixture("cbr.mp3")).unwrap();
    let mid = bytes.len() / 2;
    // Scribble over part of one frame's audio data, not its header.
    let at = mid
        + bytes[mid..]
            .windows(2)
            .position(|w| w[0] == 0xff && w[1] & 0xe0 == 0xe0)
            .unwrap()
        + 40;
    for b in &mut bytes[at..at + 60] {
        *b = 0x55;
    }
    let info = probe(&write("one_bad_frame.mp3", &bytes)).expect("one damaged frame is tolerated");
    assert!(info.duration_ms.abs_diff(10_000) <= 30, "{info:?}");
}

#[test]
fn flac_with_a_stretch_of_garbage_is_refused_as_corrupt_near_it() {
    let mut bytes = std::fs::read(fixture("a.flac")).unwrap();
    let n = bytes.len();
    let mut junk = vec![0u8; n / 5];
    rand::rngs::StdRng::seed_from_u64(3).fill_bytes(&mut junk);
    bytes[n * 2 / 5..n * 2 / 5 + junk.len()].copy_from_slice(&junk);
    match probe(&write("garbage.flac", &bytes)) {
        Err(MediaError::Corrupt { at_ms, .. }) => {
            assert!(at_ms > 2_000 && at_ms < 9_000, "{at_ms}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
