//! A private PulseAudio with a null sink `test`, for the real sound path (rodio → ALSA's
//! pulse plugin → the sink; record its monitor with `parec -d test.monitor`). Needs the
//! `pulseaudio`, `pulseaudio-utils` and `libasound2-plugins` packages (`make test`
//! installs them). Shared by the sound-card tests and the start-error benchmark.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The daemon's home and runtime directories; killed when dropped.
pub struct Pulse {
    pub home: PathBuf,
    pub runtime: PathBuf,
}

impl Pulse {
    /// Directories under `dir`; the daemon is not started yet (see [`Pulse::up`]).
    pub fn new(dir: &Path) -> Pulse {
        let p = Pulse {
            home: dir.join("home"),
            runtime: dir.join("run"),
        };
        std::fs::create_dir_all(&p.home).expect("create the PulseAudio home");
        std::fs::create_dir_all(&p.runtime).expect("create the PulseAudio runtime dir");
        p
    }

    /// [`Pulse::new`] and [`Pulse::up`].
    pub fn start(dir: &Path) -> Result<Pulse, String> {
        let p = Pulse::new(dir);
        p.up()?;
        Ok(p)
    }

    /// `PULSE_SERVER` for clients of this daemon.
    pub fn server(&self) -> String {
        format!("unix:{}", self.runtime.join("pulse/native").display())
    }

    /// The environment a client process needs to reach this daemon.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HOME", self.home.display().to_string()),
            ("XDG_RUNTIME_DIR", self.runtime.display().to_string()),
            ("PULSE_SERVER", self.server()),
        ]
    }

    /// Set [`Pulse::env`] on this process (ALSA's pulse plugin reads it in-process).
    pub fn set_process_env(&self) {
        for (k, v) in self.env() {
            std::env::set_var(k, v);
        }
    }

    /// `prog` with this daemon's environment.
    pub fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.envs(self.env());
        c
    }

    fn answers(&self) -> bool {
        self.cmd("pactl")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Start the daemon and wait until it answers (10 s at most).
    pub fn up(&self) -> Result<(), String> {
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
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run pulseaudio ({e}): apt-get install pulseaudio pulseaudio-utils libasound2-plugins"))?;
        if !status.success() {
            return Err(format!("pulseaudio did not start: {status}"));
        }
        for _ in 0..100 {
            if self.answers() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("pulseaudio did not answer within 10 s".into())
    }

    /// Kill the daemon and wait until it is gone (10 s at most).
    pub fn down(&self) {
        let _ = self.cmd("pulseaudio").arg("--kill").status();
        for _ in 0..100 {
            if !self.answers() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        self.down();
    }
}
