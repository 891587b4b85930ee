//! Playback decoding: the streaming decoder and decode_all.

mod common;

use common::{fixture, fixtures};
use media::{db_to_linear, decode_all, measure, probe_file, signal, Decoder, ProbeOptions};

/// A file of every container and sample format the fixtures hold: the MP3 that is opened
/// twice (no LAME tag) and the AAC whose edit list trims its priming among them.
const EVERY_FORMAT: [&str; 10] = [
    "cbr.mp3",
    "vbr_noxing.mp3",
    "a.flac",
    "a.ogg",
    "a.m4a",
    "s8.wav",
    "s16.wav",
    "speech.wav",
    "s24.wav",
    "f32.wav",
];

#[test]
fn decoder_output_length_matches_the_probed_duration_for_every_format() {
    for name in EVERY_FORMAT {
        let path = fixture(name);
        let info = probe_file(&path, &ProbeOptions::default()).unwrap();
        let d = Decoder::open(&path, 0.0).unwrap();
        assert_eq!(
            (d.sample_rate(), d.channels()),
            (info.sample_rate, info.channels),
            "{name}"
        );
        let (rate, ch) = (u64::from(d.sample_rate()), u64::from(d.channels()));
        let n = d.count() as u64;
        assert_eq!(n % ch, 0, "{name}");
        let ms = (n / ch * 1000 + rate / 2) / rate;
        assert_eq!(ms, info.duration_ms, "{name}");
    }
}

#[test]
fn decoder_applies_the_gain_to_every_sample() {
    let path = fixture("tone.wav");
    let plain: Vec<f32> = Decoder::open(&path, 0.0).unwrap().collect();
    let louder: Vec<f32> = Decoder::open(&path, 6.0).unwrap().collect();
    assert_eq!(plain.len(), louder.len());
    let g = db_to_linear(6.0);
    for (a, b) in plain.iter().zip(&louder) {
        assert!((a * g - b).abs() < 1e-6, "{a} * {g} != {b}");
    }
    // The tone is at 0.1 of full scale; +6 dB makes it about 0.2.
    let peak = louder.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!((peak - 0.1 * g).abs() < 0.01, "{peak}");
}

#[test]
fn gain_never_lets_true_peak_exceed_the_ceiling() {
    let opts = ProbeOptions::default();
    for name in ["loud.wav", "tone.wav", "cbr.mp3", "a.flac", "a.m4a"] {
        let path = fixture(name);
        let info = probe_file(&path, &opts).unwrap();
        assert!(
            info.true_peak_dbtp + info.gain_db <= opts.max_true_peak_dbtp + 1e-9,
            "{name}: {info:?}"
        );
        // And measured on what the decoder actually plays:
        let d = Decoder::open(&path, info.gain_db).unwrap();
        let (rate, ch) = (d.sample_rate(), d.channels());
        let played: Vec<f32> = d.collect();
        let l = measure(&played, ch, rate).unwrap();
        assert!(
            l.true_peak_dbtp <= opts.max_true_peak_dbtp + 0.05,
            "{name}: played at {l:?}"
        );
        // Quiet files reach the target; loud ones are held by the ceiling.
        if info.gain_db < opts.target_lufs - info.loudness_lufs - 1e-9 {
            assert!(
                (l.true_peak_dbtp - opts.max_true_peak_dbtp).abs() < 0.1,
                "{name}: {l:?}"
            );
        } else {
            assert!(
                (l.integrated_lufs - opts.target_lufs).abs() < 0.1,
                "{name}: {l:?}"
            );
        }
    }
}

#[test]
fn loud_square_wave_is_turned_down() {
    let info = probe_file(&fixture("loud.wav"), &ProbeOptions::default()).unwrap();
    assert!(info.gain_db < 0.0, "{info:?}");
}

#[test]
fn decode_all_returns_the_whole_file_in_its_format() {
    let pcm = decode_all(&fixture("a.flac")).unwrap();
    assert_eq!((pcm.sample_rate, pcm.channels), (44_100, 2));
    assert_eq!(pcm.frames(), 441_000);
}

#[test]
fn chime_and_speech_mix_and_survive_a_wav_round_trip() {
    let speech = decode_all(&fixture("cbr.mp3")).unwrap();
    let chime = signal::chime(48_000);
    let mixed = signal::concat(&[chime, speech]);
    assert_eq!((mixed.sample_rate, mixed.channels), (48_000, 1));
    let path = fixtures().join("mixed.wav");
    signal::write_wav(&path, &mixed).unwrap();
    let info = probe_file(&path, &ProbeOptions::default()).unwrap();
    assert_eq!(info.codec, "pcm_s16le");
    assert!(info.duration_ms.abs_diff(11_200) <= 20, "{info:?}");
    assert_eq!(decode_all(&path).unwrap().frames(), mixed.frames());
}

#[test]
fn decoder_refuses_what_the_prober_refuses() {
    let path = fixtures().join("decoder_text.mp3");
    std::fs::write(&path, "not audio at all").unwrap();
    assert!(Decoder::open(&path, 0.0).is_err());
    assert!(decode_all(&path).is_err());
    let bytes = std::fs::read(&path).unwrap().into();
    assert!(Decoder::open_bytes(bytes, 0.0).is_err());
    assert!(matches!(
        Decoder::open_bytes(bytes::Bytes::new(), 0.0),
        Err(media::MediaError::EmptyFile)
    ));
}

#[test]
fn a_file_in_memory_decodes_to_exactly_what_the_file_on_disk_does() {
    // (16-bit WAV in memory is read without symphonia; a loud one turned up shows the
    // clamping is the same.)
    let cases = EVERY_FORMAT.map(|name| (name, -3.0));
    for (name, gain_db) in cases.into_iter().chain([("loud.wav", 6.0)]) {
        let path = fixture(name);
        let from_disk: Vec<f32> = Decoder::open(&path, gain_db).unwrap().collect();
        let bytes = std::fs::read(&path).unwrap().into();
        let d = Decoder::open_bytes(bytes, gain_db).unwrap();
        let from_memory: Vec<f32> = d.collect();
        assert_eq!(from_memory.len(), from_disk.len(), "{name}");
        assert!(from_memory == from_disk, "{name}: the samples differ");
    }
}
