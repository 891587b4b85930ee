//! The controller's settings, declared once in [`ControllerConfig`]: each field is a key of
//! the `--config` TOML file, a flag (its help is the doc comment, its default the
//! `default_value`), an environment variable, a line of `--print-config` and of the man
//! page. The `settings` crate layers them (flags > environment > file > defaults). With a
//! configuration file, the flags CONTRACT.md calls required (`--server`, `--station`,
//! `--token-file`) may come from the file instead.
//!
//! Adding an option is adding one field to [`ControllerConfig`]; [`ControllerConfig::resolve`]
//! checks the settings into the [`Config`] the controller runs with.

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
    /// The settings (each also a key of the file and a `LOAXA_*` variable).
    #[command(flatten)]
    pub settings: ControllerConfig,
    /// Configuration file (TOML) [default: /etc/loaxa/controller.toml if it exists].
    #[arg(long, env = "LOAXA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration as TOML (the token hidden) and exit.
    #[arg(long)]
    pub print_config: bool,
    /// The settings given as flags, keyed as in the configuration file (filled by
    /// [`Args::parse_args`]).
    #[arg(skip)]
    pub given: toml::Table,
}

impl Args {
    /// Parse `argv` (the program name first), noting which settings were given as flags.
    pub fn parse_args<I>(argv: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator,
        I::Item: Into<std::ffi::OsString> + Clone,
    {
        let (mut args, given) = settings::parse::<Args, ControllerConfig, _>(&SPEC, argv)?;
        args.given = given;
        Ok(args)
    }

    /// The command line with each setting's environment variable in its help.
    pub fn command_with_env() -> clap::Command {
        settings::command::<Args, ControllerConfig>(&SPEC)
    }
}

/// The controller's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct ControllerConfig {
    /// The server's base URL, e.g. http://127.0.0.1:8080; several nodes comma-separated, in
    /// order of preference (the controller moves to the next when one stops answering, and
    /// back).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The station code.
    #[arg(long, value_name = "CODE")]
    pub station: Option<StationCode>,
    /// File holding the device token (wins over `token`).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The device token itself (for a file or an environment only the service reads).
    #[arg(
        long,
        value_name = "TOKEN",
        default_value = "",
        hide_default_value = true
    )]
    pub token: String,
    /// Data directory (local database and media cache).
    #[arg(long, value_name = "DIR", default_value = "./controller-data")]
    pub data: PathBuf,
    /// Where the sound goes: default (the sound card), null, or wav:FILE.
    #[serde(with = "output_text")]
    #[arg(long, value_name = "default|null|wav:FILE", default_value = "default")]
    pub output: OutputSpec,
    /// With --output default and no sound device, keep running and try the device every
    /// 10 s instead of exiting with status 3 (what the systemd unit uses).
    #[arg(long)]
    pub wait_for_device: bool,
    /// With --output default: the sound card's period in ms, 2 to 200. Shorter starts
    /// bulletins closer to their second; longer rides out a busy machine (raise it if the
    /// sound drops out).
    #[arg(long, value_name = "MS", default_value_t = crate::output::DEFAULT_PERIOD_MS)]
    pub sound_period_ms: u32,
}

impl Default for ControllerConfig {
    /// The defaults declared on the flags above.
    fn default() -> Self {
        settings::clap_defaults()
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
        settings::load(&SPEC, file.as_deref(), env, args.given.clone())
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
        Args::parse_args(std::iter::once("loaxa-controller").chain(argv.iter().copied())).unwrap()
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
    fn every_setting_is_a_flag_an_environment_variable_and_a_file_key() {
        // For every key: a value other than the default, as a flag, in the environment and
        // as TOML. A key missing here fails the first assertion.
        let cases: &[(&str, &[&str], &str, &str)] = &[
            (
                "server",
                &["--server", "http://s"],
                "http://s",
                "\"http://s\"",
            ),
            ("station", &["--station", "LQ"], "LQ", "\"LQ\""),
            ("token_file", &["--token-file", "/t"], "/t", "\"/t\""),
            ("token", &["--token", "s3cret"], "s3cret", "\"s3cret\""),
            ("data", &["--data", "/d"], "/d", "\"/d\""),
            ("output", &["--output", "null"], "null", "\"null\""),
            ("wait_for_device", &["--wait-for-device"], "true", "true"),
            ("sound_period_ms", &["--sound-period-ms", "40"], "40", "40"),
        ];
        let listed: Vec<&str> = cases.iter().map(|(k, ..)| *k).collect();
        assert_eq!(settings::keys::<ControllerConfig>(), listed.as_slice());
        let default = toml::Table::try_from(ControllerConfig::default()).unwrap();
        for (key, flag, env, file) in cases {
            let (_dir, path) = config_file(&format!("{key} = {file}\n"));
            let var = SPEC.env_var(key);
            let env_value = |k: &str| (k == var).then(|| env.to_string());
            let by_flag = ControllerConfig::load(&args(flag), &no_env).unwrap();
            let with_file = |a: Args| Args {
                config: Some(path.clone()),
                ..a
            };
            let by_env = ControllerConfig::load(&args(&[]), &env_value).unwrap();
            let by_file = ControllerConfig::load(&with_file(args(&[])), &no_env).unwrap();
            let want: toml::Table = toml::from_str(&format!("{key} = {file}")).unwrap();
            for (means, got) in [
                ("flag", by_flag),
                ("environment", by_env),
                ("file", by_file),
            ] {
                let got = toml::Table::try_from(got).unwrap();
                assert_ne!(got.get(*key), default.get(*key), "{key} by {means}");
                assert_eq!(got.get(*key), want.get(*key), "{key} by {means}");
            }
        }
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
