//! Probe speed against ffmpeg's loudness meter on the same files.
//!
//! Makes a 10-minute speech-like MP3 and FLAC (pink noise with a syllable-rate
//! tremolo), then times `probe_file` (full decode + EBU R128 with true peak +
//! sha256) and `ffmpeg -nostats -i FILE -af ebur128 -f null -` (decode +
//! integrated loudness, no true peak), median of 3 runs each. For a like-for-
//! like figure it also times `-af ebur128=peak=true` (ffmpeg with true peak,
//! which our probe always measures).
//!
//! Run with `cargo bench -p media` (release profile).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use media::{probe_file, ProbeOptions};

const RUNS: usize = 3;

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let status = Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {cmd}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd} {args:?} failed"))
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn time<F: FnMut() -> Result<(), String>>(mut f: F) -> Result<Duration, String> {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    Ok(median(times))
}

/// Run ffmpeg's loudness filter on `path`; the integrated loudness it reports.
fn ffmpeg_ebur128(path: &Path, filter: &str) -> Result<f64, String> {
    let out = Command::new("ffmpeg")
        .arg("-nostats")
        .arg("-hide_banner")
        .arg("-i")
        .arg(path)
        .args(["-af", filter, "-f", "null", "-"])
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    let text = String::from_utf8_lossy(&out.stderr);
    Ok(text
        .lines()
        .rev()
        .find_map(|l| {
            l.trim()
                .strip_prefix("I:")?
                .trim()
                .strip_suffix("LUFS")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(f64::NAN))
}

fn main() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let d = dir.path();
    let src = d.join("speech.wav");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    eprintln!("making 10-minute test files in {}", d.display());
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
            &s(&src),
            "synth",
            "600",
            "pinknoise",
            "band",
            "-n",
            "1000",
            "1500",
            "tremolo",
            "4",
            "80",
            "gain",
            "-n",
            "-14",
        ],
    )?;
    let mp3 = d.join("speech.mp3");
    let flac = d.join("speech.flac");
    run("lame", &["--quiet", "-b", "128", &s(&src), &s(&mp3)])?;
    run("flac", &["-s", "-f", "-o", &s(&flac), &s(&src)])?;

    let opts = ProbeOptions::default();
    println!(
        "{:<14} {:>8} {:>10} {:>6} {:>13} {:>9} {:>10} {:>7}",
        "file", "ours ms", "ffmpeg ms", "ratio", "ffmpeg+TP ms", "ratio TP", "ours LUFS", "ffmpeg"
    );
    for path in [&mp3, &flac] {
        let mut lufs = f64::NAN;
        let ours = time(|| {
            let info = probe_file(path, &opts).map_err(|e| e.to_string())?;
            lufs = info.loudness_lufs;
            Ok(())
        })?;
        let mut their_lufs = f64::NAN;
        let theirs = time(|| {
            their_lufs = ffmpeg_ebur128(path, "ebur128")?;
            Ok(())
        })?;
        let theirs_tp = time(|| ffmpeg_ebur128(path, "ebur128=peak=true").map(|_| ()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:<14} {:>8.0} {:>10.0} {:>6.2} {:>13.0} {:>9.2} {:>10.1} {:>7.1}",
            name,
            ms(ours),
            ms(theirs),
            ms(ours) / ms(theirs),
            ms(theirs_tp),
            ms(ours) / ms(theirs_tp),
            lufs,
            their_lufs
        );
        println!(
            "BENCH|probe+decode+loudness, 10-min {name}|{:.0} ms (ratio {:.2} vs ffmpeg ebur128, {:.2} vs ebur128 with true peak)|ratio <= 1.0|ffmpeg {:.0} ms / {:.0} ms",
            ms(ours),
            ms(ours) / ms(theirs),
            ms(ours) / ms(theirs_tp),
            ms(theirs),
            ms(theirs_tp)
        );
    }
    Ok(())
}
