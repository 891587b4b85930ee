//! No input makes the prober or the decoder panic (or hang): random bytes
//! under every extension, and real files with bit flips, truncations and
//! overwritten ranges.
//!
//! Bounded so `cargo test` stays fast; set LOAXA_FUZZ_CASES for a longer run
//! (`make bench` does).

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use common::fixture;
use media::{decode_all, probe_file, Decoder, ProbeOptions};
use proptest::prelude::*;

const EXTENSIONS: [&str; 6] = ["mp3", "wav", "flac", "ogg", "m4a", "bin"];
const SMALL: [&str; 5] = [
    "small.mp3",
    "small.wav",
    "small.flac",
    "small.ogg",
    "small.m4a",
];

fn cases(default: u32) -> u32 {
    std::env::var("LOAXA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Write `bytes` to a fresh file with extension `ext`.
fn write_case(bytes: &[u8], ext: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = common::fixtures().join("fuzz");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("case{n}.{ext}"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Everything a caller can do with a file must return, not panic.
fn exercise(path: &std::path::Path) {
    let opts = ProbeOptions {
        max_duration_ms: 60_000,
        ..ProbeOptions::default()
    };
    let probed = probe_file(path, &opts);
    if let Ok(d) = Decoder::open(path, 3.0) {
        // Bounded: a minute of 8-channel 192 kHz audio at most.
        let n = d
            .take(192_000 * 8 * 60)
            .filter(|s| !(-1.0..=1.0).contains(s))
            .count();
        assert_eq!(n, 0, "decoder output out of range");
    }
    let _ = decode_all(path);
    if let Ok(info) = probed {
        assert!(info.loudness_lufs.is_finite() && info.gain_db.is_finite());
    }
    let _ = std::fs::remove_file(path);
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBits(Vec<(usize, u8)>),
    Truncate(usize),
    Overwrite(usize, Vec<u8>),
    CutMiddle(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        prop::collection::vec((any::<usize>(), 0u8..8), 1..16).prop_map(Mutation::FlipBits),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..512))
            .prop_map(|(at, b)| Mutation::Overwrite(at, b)),
        (any::<usize>(), 1usize..4096).prop_map(|(at, n)| Mutation::CutMiddle(at, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let len = bytes.len().max(1);
    match m {
        Mutation::FlipBits(flips) => {
            for (at, bit) in flips {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b ^= 1 << bit;
                }
            }
        }
        Mutation::Truncate(at) => bytes.truncate(at % len),
        Mutation::Overwrite(at, with) => {
            for (i, b) in with.iter().enumerate() {
                if let Some(x) = bytes.get_mut((at % len) + i) {
                    *x = *b;
                }
            }
        }
        Mutation::CutMiddle(at, n) => {
            let from = at % len;
            let to = (from + n).min(bytes.len());
            bytes.drain(from..to);
        }
    }
    bytes
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn random_bytes_under_any_extension_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..8192),
        ext in prop::sample::select(EXTENSIONS.to_vec()),
    ) {
        exercise(&write_case(&bytes, ext));
    }

    #[test]
    fn random_bytes_behind_a_real_header_never_panic(
        which in prop::sample::select(SMALL.to_vec()),
        keep in 0usize..2048,
        tail in prop::collection::vec(any::<u8>(), 0..8192),
    ) {
        let mut bytes = std::fs::read(fixture(which)).unwrap();
        bytes.truncate(keep);
        bytes.extend_from_slice(&tail);
        let ext = which.rsplit('.').next().unwrap_or("bin");
        exercise(&write_case(&bytes, ext));
    }
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn mutated_real_files_never_panic(
        which in prop::sample::select(SMALL.to_vec()),
        m in mutation(),
    ) {
        let bytes = apply(std::fs::read(fixture(which)).unwrap(), &m);
        let ext = which.rsplit('.').next().unwrap_or("bin");
        exercise(&write_case(&bytes, ext));
    }
}
