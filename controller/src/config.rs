//! The controller's command line and settings: flags, `LOAXA_*` environment variables and
//! the `--config` TOML file, layered by the `settings` crate (flags > environment > file >
//! defaults). With a configuration file, the flags CONTRACT.md calls required
//! (`--server`, `--station`, `--token-file`) may come from the file instead.
//!
//! Adding an option is adding one field to [`ControllerConfig`] (and its default).

use crate::{Config, OutputSpec};
use clap::Parser;
use schedules::StationCode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the packaged configuration lives; read when `--config` is not given and it exists.
pub const DEFAULT_FILE: &str = "/etc/loaxa/controller.toml";

/// Environment variables: `LOAXA_<KEY>`, except `data` (`LOAXA_CONTROLLER_DATA`, so that it
/// does not clash with the server's `LOAXA_DATA` on a machine running both). The token is
/// secret.
pub const SPEC: settings::Spec = settings::Spec {
    env_renames: &[("data", "LOAXA_CONTROLLER_DATA")],
    secrets: &["token"],
};

/// `loaxa-controller`: the Loa Xã station controller.
#[derive(Debug, Parser)]
#[command(
    name = "loaxa-controller",
    version,
    about = "Loa Xã station controller",
    after_help = "Exit status: 0 after SIGINT/SIGTERM, 2 for bad arguments or configuration, \
3 when --output default finds no sound card (unless --wait-for-device), 1 otherwise."
)]
pub struct Args {
    /// The server's base URL, e.g. http://127.0.0.1:8080; several nodes comma-separated, in order of preference (the controller moves to the next when one stops answering, and back).
    #[arg(long, env = "LOAXA_SERVER")]
    pub server: Option<String>,
    /// The station code.
    #[arg(long, env = "LOAXA_STATION")]
    pub station: Option<StationCode>,
    /// File holding the device token.
    #[arg(long, env = "LOAXA_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Data directory (local database and media cache) [default: ./controller-data].
    #[arg(long, env = "LOAXA_CONTROLLER_DATA")]
    pub data: Option<PathBuf>,
    /// Where the sound goes: default (the sound card), null, or wav:FILE [default: default].
    #[arg(long, env = "LOAXA_OUTPUT")]
    pub output: Option<OutputSpec>,
    /// With --output default and no sound device, keep running and try the device every
    /// 10 s instead of exiting with status 3 (what the systemd unit uses).
    #[arg(long)]
    pub wait_for_device: bool,
    /// With --output default: the sound card's period in ms, 2 to 200 [default: 10].
    /// Shorter starts bulletins closer to their second; longer rides out a busy machine
    /// (raise it if the sound drops out).
    #[arg(long, env = "LOAXA_SOUND_PERIOD_MS")]
    pub sound_period_ms: Option<u32>,
    /// Configuration file (TOML) [default: /etc/loaxa/controller.toml if it exists].
    #[arg(long, env = "LOAXA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration as TOML (the token hidden) and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// The effective controller settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerConfig {
    /// The server's base URL, or several comma-separated (failover, in order of preference).
    pub server: Option<String>,
    /// The station code.
    pub station: Option<StationCode>,
    /// File holding the device token (wins over `token`).
    pub token_file: Option<PathBuf>,
    /// The device token itself, for files readable by the service only.
    pub token: String,
    /// Data directory.
    pub data: PathBuf,
    /// Where the sound goes.
    #[serde(with = "output_text")]
    pub output: OutputSpec,
    /// Keep running without a sound device (see `--wait-for-device`).
    pub wait_for_device: bool,
    /// The sound card's period, ms (see `--sound-period-ms`).
    pub sound_period_ms: u32,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            server: None,
            station: None,
            token_file: None,
            token: String::new(),
            data: PathBuf::from("./controller-data"),
            output: OutputSpec::Default,
            wait_for_device: false,
            sound_period_ms: crate::output::DEFAULT_PERIOD_MS,
        }
    }
}

mod output_text {
    use crate::OutputSpec;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(o: &OutputSpec, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(o)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OutputSpec, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl ControllerConfig {
    /// Layer the file (`--config`, or the packaged file if it exists), `env` and the flags.
    pub fn load(
        args: &Args,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, settings::ConfigError> {
        let file = settings::choose_file(args.config.clone(), Path::new(DEFAULT_FILE));
        let mut flags = toml::Table::new();
        let mut flag = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                flags.insert(k.into(), toml::Value::String(v));
            }
        };
        flag("server", args.server.clone());
        flag("station", args.station.as_ref().map(|s| s.to_string()));
        flag(
            "token_file",
            args.token_file.as_ref().map(|p| p.display().to_string()),
        );
        flag("data", args.data.as_ref().map(|p| p.display().to_string()));
        flag("output", args.output.as_ref().map(|o| o.to_string()));
        if let Some(ms) = args.sound_period_ms {
            flags.insert("sound_period_ms".into(), i64::from(ms).into());
        }
        if args.wait_for_device {
            flags.insert("wait_for_device".into(), true.into());
        }
        settings::load(&SPEC, file.as_deref(), env, flags)
    }

    /// The configuration as TOML, the token hidden (what `--print-config` prints).
    pub fn to_toml(&self) -> String {
        settings::to_toml(&SPEC, self)
    }

    /// The configuration the controller runs with: checks the required keys and reads the
    /// token file.
    pub fn resolve(self) -> Result<Config, String> {
        let missing = |key: &str, flag: &str, var: &str| {
            format!("{key} is not set: give {flag}, set {var} or `{key}` in the configuration file")
        };
        let server = self
            .server
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| missing("server", "--server URL", "LOAXA_SERVER"))?;
        crate::servers::Servers::parse(&server).map_err(|e| format!("server: {e}"))?;
        let station = self
            .station
            .ok_or_else(|| missing("station", "--station CODE", "LOAXA_STATION"))?;
        let token = match &self.token_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?,
            None if !self.token.is_empty() => self.token.clone(),
            None => {
                return Err(missing(
                    "token_file",
                    "--token-file FILE",
                    "LOAXA_TOKEN_FILE",
                ))
            }
        };
        let token = token.trim().to_string();
        if token.is_empty() {
            return Err("the device token is empty".into());
        }
        let periods = crate::output::PERIOD_MS_RANGE;
        if !periods.contains(&self.sound_period_ms) {
            return Err(format!(
                "sound_period_ms is {} ms: give {} to {} ms",
                self.sound_period_ms,
                periods.start(),
                periods.end()
            ));
        }
        Ok(Config {
            server,
            station,
            token,
            data_dir: self.data,
            output: self.output,
            wait_for_device: self.wait_for_device,
            sound_period_ms: self.sound_period_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(argv: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("loaxa-controller").chain(argv.iter().copied()))
            .unwrap()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// A configuration file holding `text`, in a directory the test keeps.
    fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("controller.toml");
        std::fs::write(&file, text).unwrap();
        (dir, file)
    }

    #[test]
    fn contract_command_line_still_works_without_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("t");
        std::fs::write(&token, "abc\n").unwrap();
        let a = args(&[
            "--server",
            "http://127.0.0.1:8080",
            "--station",
            "LQ",
            "--token-file",
            token.to_str().unwrap(),
            "--output",
            "null",
            "--config",
            dir.path().join("none.toml").to_str().unwrap(),
        ]);
        // An explicit --config that does not exist is an error…
        assert!(ControllerConfig::load(&a, &no_env).is_err());
        // …without it (and no /etc/loaxa/controller.toml here) the flags are enough.
        let a = Args { config: None, ..a };
        let c = ControllerConfig::load(&a, &no_env)
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(
            (c.server.as_str(), c.station.as_str(), c.token.as_str()),
            ("http://127.0.0.1:8080", "LQ", "abc")
        );
        assert_eq!(c.output, OutputSpec::Null);
        assert_eq!(c.data_dir, PathBuf::from("./controller-data"));
        assert!(!c.wait_for_device);
    }

    #[test]
    fn required_values_may_come_from_the_file_and_flags_still_win() {
        let (_dir, file) = config_file(
            "server = \"http://server:8080\"\nstation = \"LQ\"\ntoken = \"s3cret\"\n\
             output = \"wav:/tmp/aired.wav\"\nwait_for_device = true\n",
        );
        let a = args(&["--config", file.to_str().unwrap(), "--station", "TT-01"]);
        let env = |k: &str| (k == "LOAXA_CONTROLLER_DATA").then(|| "/var/lib/loaxa".to_string());
        let loaded = ControllerConfig::load(&a, &env).unwrap();
        let printed = loaded.to_toml();
        assert!(
            !printed.contains("s3cret") && printed.contains("token = \"<hidden>\""),
            "{printed}"
        );
        let c = loaded.resolve().unwrap();
        assert_eq!(c.station.as_str(), "TT-01", "the flag beats the file");
        assert_eq!(c.token, "s3cret");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/loaxa"), "environment");
        assert!(c.wait_for_device);
        assert_eq!(c.output.to_string(), "wav:/tmp/aired.wav");
    }

    #[test]
    fn missing_server_and_bad_output_are_named() {
        let e = ControllerConfig::load(&args(&["--station", "LQ"]), &no_env)
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(
            e.contains("server is not set") && e.contains("LOAXA_SERVER"),
            "{e}"
        );
        let (_dir, file) = config_file("station = \"LQ\"\noutput = \"alsa\"\n");
        let e = ControllerConfig::load(&args(&["--config", file.to_str().unwrap()]), &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2, key `output`"), "{e}");
    }

    #[test]
    fn the_sound_period_comes_from_file_environment_or_flag_and_a_bad_one_is_named() {
        let (_dir, file) = config_file(
            "server = \"http://s\"\nstation = \"LQ\"\ntoken = \"t\"\nsound_period_ms = 40\n",
        );
        let config = file.to_str().unwrap();
        let period = |argv: &[&str], env: &dyn Fn(&str) -> Option<String>| {
            ControllerConfig::load(&args(argv), env)
                .map_err(|e| e.to_string())?
                .resolve()
                .map(|c| c.sound_period_ms)
        };
        assert_eq!(
            period(&["--server", "http://s", "--station", "LQ"], &|k| {
                (k == "LOAXA_TOKEN").then(|| "t".to_string())
            }),
            Ok(crate::output::DEFAULT_PERIOD_MS)
        );
        assert_eq!(period(&["--config", config], &no_env), Ok(40));
        let env20 = |k: &str| (k == "LOAXA_SOUND_PERIOD_MS").then(|| "20".to_string());
        assert_eq!(period(&["--config", config], &env20), Ok(20));
        assert_eq!(
            period(&["--config", config, "--sound-period-ms", "5"], &env20),
            Ok(5)
        );
        for bad in ["0", "1", "201", "100000"] {
            let e = period(&["--config", config, "--sound-period-ms", bad], &no_env).unwrap_err();
            assert!(
                e.contains(&format!("sound_period_ms is {bad} ms")) && e.contains("2 to 200"),
                "{e}"
            );
        }
        std::fs::write(&file, "sound_period_ms = \"fast\"\n").unwrap();
        let e = period(&["--config", config], &no_env).unwrap_err();
        assert!(e.contains("sound_period_ms"), "{e}");
    }

    #[test]
    fn packaged_configuration_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config/controller.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let c: ControllerConfig = toml::from_str(&text).unwrap();
        assert!(c.wait_for_device, "the service waits for the sound card");
        assert_eq!(c.sound_period_ms, crate::output::DEFAULT_PERIOD_MS);
        assert_eq!(c.data, PathBuf::from("/var/lib/loaxa/controller"));
        assert_eq!(
            c.token_file,
            Some(PathBuf::from("/etc/loaxa/controller.token"))
        );
    }
}
