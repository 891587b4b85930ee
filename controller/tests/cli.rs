//! The `loaxa-controller` binary's exit codes.

use std::process::Command;

fn controller() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loaxa-controller"))
}

#[test]
fn bad_arguments_exit_2_with_a_one_line_reason() {
    let out = controller()
        .args([
            "--server",
            "http://127.0.0.1:1",
            "--station",
            "bad code",
            "--token-file",
            "/nonexistent",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid code"));
}

#[test]
fn no_sound_card_exits_3_with_one_clear_line_so_a_launcher_can_fall_back_to_wav() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t").unwrap();
    // An empty ALSA configuration: no device at all, whatever this machine has.
    let alsa = dir.path().join("alsa.conf");
    std::fs::write(&alsa, "").unwrap();
    let out = controller()
        .env("ALSA_CONFIG_PATH", &alsa)
        .env_remove("PULSE_SERVER")
        .args([
            "--server",
            "http://127.0.0.1:1",
            "--station",
            "TT-01",
            "--output",
            "default",
        ])
        .arg("--token-file")
        .arg(&token)
        .arg("--data")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("no sound card: "))
            .count(),
        1,
        "{stderr}"
    );
    // alsa-lib's own error printing (`ALSA lib pcm.c:…`) stays off the terminal: the
    // controller's sentence is all a person sees on a clean first start.
    assert!(!stderr.contains("ALSA lib"), "{stderr}");
    assert!(stderr.lines().count() <= 2, "{stderr}");
}
