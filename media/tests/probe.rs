//! Probing real files made by real encoders.

mod common;

use common::{ffmpeg_decoded_ms, ffmpeg_lufs, fixture, SOURCE_MS};
use media::{probe_file, sha256_file, ProbeOptions};

fn check_format(name: &str, codec: &str) {
    check_format_against(name, codec, SOURCE_MS);
}

fn check_format_against(name: &str, codec: &str, truth_ms: u64) {
    let path = fixture(name);
    let info = probe_file(&path, &ProbeOptions::default())
        .unwrap_or_else(|e| panic!("{name} refused: {e}"));
    eprintln!("{name}: {info:?}");
    assert_eq!(info.codec, codec, "{name}");
    assert_eq!((info.sample_rate, info.channels), (44_100, 2), "{name}");
    let off = info.duration_ms.abs_diff(truth_ms);
    assert!(
        off <= 20,
        "{name}: duration {} ms, truth {truth_ms} ms",
        info.duration_ms
    );
    assert_eq!(info.size_bytes, std::fs::metadata(&path).unwrap().len());
    assert_eq!(info.sha256, sha256_file(&path).unwrap(), "{name}");
    let theirs = ffmpeg_lufs(&path);
    assert!(
        (info.loudness_lufs - theirs).abs() <= 0.5,
        "{name}: ours {:.2} LUFS, ffmpeg {theirs:.2} LUFS",
        info.loudness_lufs
    );
}

#[test]
fn cbr_mp3_is_measured_exactly() {
    check_format("cbr.mp3", "mp3");
}

/// Without a Xing/LAME tag the file does not say how much encoder delay and
/// padding it holds, so the truth is every frame in it: what ffmpeg decodes,
/// and what a player plays. The bitrate estimate from the headers (9.4 s for
/// this file) must not be used.
#[test]
fn vbr_mp3_without_xing_header_is_measured_from_decoded_frames() {
    let path = fixture("vbr_noxing.mp3");
    let truth = ffmpeg_decoded_ms(&path);
    // At most the encoder's delay plus one frame of padding over the source.
    assert!(truth >= SOURCE_MS && truth - SOURCE_MS < 60, "{truth}");
    check_format_against("vbr_noxing.mp3", "mp3", truth);
}

#[test]
fn flac_is_measured_exactly() {
    check_format("a.flac", "flac");
}

#[test]
fn ogg_vorbis_is_measured_exactly() {
    check_format("a.ogg", "vorbis");
}

#[test]
fn aac_in_m4a_is_measured_exactly() {
    check_format("a.m4a", "aac");
}

#[test]
fn wav_of_every_pcm_depth_and_float_is_measured_exactly() {
    for (name, codec) in [
        ("s8.wav", "pcm_u8"),
        ("s16.wav", "pcm_s16le"),
        ("s24.wav", "pcm_s24le"),
        ("s32.wav", "pcm_s32le"),
        ("f32.wav", "pcm_f32le"),
    ] {
        check_format(name, codec);
    }
}
