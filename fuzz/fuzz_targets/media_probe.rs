//! Any bytes, under any of the extensions an upload may carry: probing (which decodes the
//! whole file to measure it) returns a value or an error, never panics or hangs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

const EXTENSIONS: [&str; 6] = ["mp3", "wav", "flac", "ogg", "m4a", "bin"];

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("loaxa-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("a scratch directory");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the extension (the prober's hint), the rest is the file.
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let ext = EXTENSIONS[usize::from(pick) % EXTENSIONS.len()];
    let path = dir().join(format!("case.{ext}"));
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let opts = media::ProbeOptions {
        max_duration_ms: 60_000,
        ..media::ProbeOptions::default()
    };
    let _ = media::probe_file(&path, &opts);
});
