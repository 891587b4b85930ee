//! The sound device going away and coming back (a private PulseAudio that is killed and
//! restarted). One test per file: it sets process-wide environment variables.

mod common;

use chrono::Duration as CDuration;
use common::*;
use controller::OutputSpec;
use schedules::{occurrence_key, PlayStatus, Priority};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

struct Pulse {
    home: PathBuf,
    runtime: PathBuf,
}

impl Pulse {
    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env(
                "PULSE_SERVER",
                format!("unix:{}", self.runtime.join("pulse/native").display()),
            );
        c
    }

    fn up(&self) {
        let status = self
            .cmd("pulseaudio")
            .env_remove("PULSE_SERVER")
            .args([
                "--daemonize=yes",
                "--exit-idle-time=-1",
                "-n",
                "--load=module-native-protocol-unix",
                "--load=module-null-sink sink_name=test",
                "--load=module-always-sink",
            ])
            .status()
            .expect("pulseaudio is installed");
        assert!(status.success());
        for _ in 0..100 {
            if self
                .cmd("pactl")
                .arg("info")
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("pulseaudio did not answer");
    }

    fn down(&self) {
        let _ = self.cmd("pulseaudio").arg("--kill").status();
        for _ in 0..100 {
            if !self
                .cmd("pactl")
                .arg("info")
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn new(dir: &Path) -> Pulse {
        let p = Pulse {
            home: dir.join("home"),
            runtime: dir.join("run"),
        };
        std::fs::create_dir_all(&p.home).unwrap();
        std::fs::create_dir_all(&p.runtime).unwrap();
        p
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        self.down();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_sound_device_fails_due_bulletins_with_the_reason_and_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let pulse = Pulse::new(dir.path());
    pulse.up();
    std::env::set_var(
        "PULSE_SERVER",
        format!("unix:{}", pulse.runtime.join("pulse/native").display()),
    );
    std::env::set_var("XDG_RUNTIME_DIR", &pulse.runtime);
    std::env::set_var("HOME", &pulse.home);

    let server = TestServer::start().await;
    let m = server.add_media(tone_wav(1000.0, 500, 0.5), 500);
    server.set_doc(doc("v1", vec![], vec![m.clone()]));
    let c = start(config(
        &server,
        dir.path().join("data"),
        OutputSpec::Default,
    ));
    server
        .wait_for(30, "the cache ready", |i| {
            i.heartbeats.iter().any(|h| h.cache_ready)
        })
        .await;

    pulse.down();
    server
        .wait_for(30, "the output error in a heartbeat", |i| {
            i.heartbeats.iter().any(|h| h.output_error.is_some())
        })
        .await;
    let due = now() + CDuration::seconds(2);
    server.set_doc(doc(
        "v2",
        vec![one_off("lost", due, &m, Priority::Normal)],
        vec![m.clone()],
    ));
    server.push("schedule", r#"{"version":"v2"}"#.to_string());
    let key = occurrence_key("lost", due);
    server
        .wait_for(30, "the failed log", |i| i.logs.iter().any(|l| l.id == key))
        .await;
    let l = server.log(&key).unwrap();
    assert_eq!(l.status, PlayStatus::Failed, "{l:?}");
    assert!(
        l.reason.as_deref().unwrap().contains("sound device"),
        "{l:?}"
    );

    // The device comes back: the controller reopens it (every 10 s) and plays again.
    pulse.up();
    server
        .wait_for(40, "the output error cleared", |i| {
            i.heartbeats
                .last()
                .is_some_and(|h| h.output_error.is_none())
        })
        .await;
    let back = now() + CDuration::seconds(2);
    server.set_doc(doc(
        "v3",
        vec![one_off("back", back, &m, Priority::Normal)],
        vec![m.clone()],
    ));
    server.push("schedule", r#"{"version":"v3"}"#.to_string());
    let key = occurrence_key("back", back);
    server
        .wait_for(30, "the played log", |i| i.logs.iter().any(|l| l.id == key))
        .await;
    c.stop().await;
    assert_eq!(server.log(&key).unwrap().status, PlayStatus::Played);
}
