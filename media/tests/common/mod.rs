//! Test fixtures made by real encoders (sox, lame, flac, oggenc, ffmpeg) in a
//! directory shared by the tests of one test binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Duration of the speech-like source every encoded fixture is made from.
pub const SOURCE_MS: u64 = 10_000;

/// Run a command, panicking with its stderr if it fails (test setup only).
pub fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (install it with `make deps-test`): {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Encode `input` into `output` with ffmpeg and its `options` (test setup only).
pub fn ffmpeg(input: &Path, options: &[&str], output: &Path) {
    let mut args = vec!["-v", "error", "-y", "-i", s(input)];
    args.extend_from_slice(options);
    args.push(s(output));
    run("ffmpeg", &args);
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// The fixture directory, made afresh once per run of a test binary.
///
/// It lives in cargo's scratch directory for tests (`target/tmp/`), one per test binary,
/// and each run replaces the previous run's: a directory in `/tmp` held by a static is
/// never dropped, so every run of the suite used to leave its fixtures behind.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("media-fixtures")
            .join(env!("CARGO_CRATE_NAME"));
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                panic!("cannot clear {dir:?}: {e}")
            }
            _ => {}
        }
        std::fs::create_dir_all(&dir).expect("fixture dir");
        make_fixtures(&dir);
        dir
    })
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

fn make_fixtures(d: &Path) {
    let src = d.join("src.wav");
    // Pink noise with a 4 Hz tremolo: loudness that moves like speech.
    run(
        "sox",
        &[
            "-R",
            "-n",
            "-r",
            "44100",
            "-c",
            "2",
            "-b",
            "16",
            s(&src),
            "synth",
            "10",
            "pinknoise",
            "tremolo",
            "4",
            "70",
            "gain",
            "-n",
            "-12",
        ],
    );
    run(
        "lame",
        &["--quiet", "-b", "128", s(&src), s(&d.join("cbr.mp3"))],
    );
    // VBR without a Xing header: no frame count for a reader to trust.
    run(
        "lame",
        &[
            "--quiet",
            "-V",
            "2",
            "-t",
            s(&src),
            s(&d.join("vbr_noxing.mp3")),
        ],
    );
    run("flac", &["-s", "-f", "-o", s(&d.join("a.flac")), s(&src)]);
    run("oggenc", &["-Q", "-o", s(&d.join("a.ogg")), s(&src)]);
    ffmpeg(&src, &["-c:a", "aac", "-b:a", "128k"], &d.join("a.m4a"));
    for bits in ["8", "16", "24", "32"] {
        run(
            "sox",
            &[s(&src), "-b", bits, s(&d.join(format!("s{bits}.wav")))],
        );
    }
    run(
        "sox",
        &[
            s(&src),
            "-e",
            "floating-point",
            "-b",
            "32",
            s(&d.join("f32.wav")),
        ],
    );
    // Text-to-speech's shape: 16-bit mono at 22.05 kHz, with a title (ffmpeg writes it in
    // a LIST chunk before the samples).
    ffmpeg(
        &src,
        &[
            "-ar",
            "22050",
            "-ac",
            "1",
            "-c:a",
            "pcm_s16le",
            "-metadata",
            "title=Thông báo khẩn",
        ],
        &d.join("speech.wav"),
    );
    // Small (1 s) files of every format for the fuzz tests.
    let small = d.join("small_src.wav");
    run(
        "sox",
        &[
            "-R",
            "-n",
            "-r",
            "22050",
            "-c",
            "1",
            "-b",
            "16",
            s(&small),
            "synth",
            "1",
            "pinknoise",
            "gain",
            "-n",
            "-12",
        ],
    );
    run(
        "lame",
        &["--quiet", "-b", "64", s(&small), s(&d.join("small.mp3"))],
    );
    run(
        "flac",
        &["-s", "-f", "-o", s(&d.join("small.flac")), s(&small)],
    );
    run("oggenc", &["-Q", "-o", s(&d.join("small.ogg")), s(&small)]);
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-y",
            "-i",
            s(&small),
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            s(&d.join("small.m4a")),
        ],
    );
    run("sox", &[s(&small), "-b", "24", s(&d.join("small.wav"))]);
    // A 5 s mono 1 kHz tone at -20 dBFS, 48 kHz.
    run(
        "sox",
        &[
            "-n",
            "-r",
            "48000",
            "-c",
            "1",
            "-b",
            "16",
            s(&d.join("tone.wav")),
            "synth",
            "5",
            "sine",
            "1000",
            "vol",
            "0.1",
        ],
    );
    // A loud tone with peaks near full scale.
    run(
        "sox",
        &[
            "-n",
            "-r",
            "48000",
            "-c",
            "1",
            "-b",
            "16",
            s(&d.join("loud.wav")),
            "synth",
            "5",
            "square",
            "200",
            "vol",
            "0.95",
        ],
    );
}

/// Integrated loudness `ffmpeg -af ebur128` reports for `path`.
pub fn ffmpeg_lufs(path: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args([
            "-nostats",
            "-hide_banner",
            "-i",
            s(path),
            "-af",
            "ebur128",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    let text = String::from_utf8_lossy(&out.stderr);
    // The summary comes last: "    I:         -24.5 LUFS".
    text.lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("I:")?;
            rest.trim().strip_suffix("LUFS")?.trim().parse::<f64>().ok()
        })
        .unwrap_or_else(|| panic!("no ebur128 summary in ffmpeg output:\n{text}"))
}

/// Duration of the audio ffmpeg decodes from `path`, in ms (mono s16 count).
pub fn ffmpeg_decoded_ms(path: &Path) -> u64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i", s(path), "-ac", "1", "-f", "s16le", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg could not decode {path:?}");
    let rate: u64 = probe_rate(path);
    (out.stdout.len() as u64 / 2 * 1000 + rate / 2) / rate
}

fn probe_rate(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "stream=sample_rate",
            "-of",
            "csv=p=0",
            s(path),
        ])
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("sample rate")
}
