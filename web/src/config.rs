//! The server's settings, declared once in [`WebConfig`]: each field is a key of the
//! `--config` TOML file, a global flag of `loaxa-web` (its help is the doc comment, its
//! default the `default_value`), an environment variable `LOAXA_<KEY>`, a line of
//! `--print-config` and of the man page. The `settings` crate layers them (flags >
//! environment > file > defaults).
//!
//! Adding a server option is adding one field below; [`WebConfig::server_config`] turns
//! the settings into the tunables the server runs with ([`Config`]).

use clap::Args;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the packaged configuration lives; read when `--config` is not given and it exists.
pub const DEFAULT_FILE: &str = "/etc/loaxa/web.toml";

/// How keys map to environment variables (all `LOAXA_<KEY>`) and which are secret.
pub const SPEC: settings::Spec = settings::Spec {
    env_renames: &[],
    secrets: &["database"],
};

/// The effective server configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Args)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Data directory: database, media files.
    #[arg(long, global = true, value_name = "DIR", default_value = "./data")]
    pub data: PathBuf,
    /// The store: `sqlite:PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (several
    /// nodes on one PostgreSQL). None, the default: `loaxa.db` in the data directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Address `serve` and `demo` listen on.
    #[arg(
        long,
        global = true,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,
    /// Delete as-run log entries due more than this many days ago; 0 keeps everything.
    #[arg(long, global = true, value_name = "N", default_value_t = 0)]
    pub log_retention_days: u32,
    /// An occurrence with no log entry this many minutes after its planned end is `missed`.
    #[arg(long, global = true, value_name = "N", default_value_t = 120)]
    pub reconcile_grace_minutes: u32,
    /// Air CAP alerts whose status is `Exercise` (by default they are recorded, not aired).
    #[arg(long, global = true)]
    pub cap_air_exercises: bool,
    /// An address a CAP message's audio `uri` may be fetched from (a URL prefix: same
    /// scheme, host and port, a path under it); repeat for more. None, the default, fetches
    /// nothing: CAP audio must come inline. In the environment, a TOML list:
    /// `LOAXA_CAP_FETCH_ALLOW='["https://…/"]'`.
    #[arg(long, global = true, value_name = "URL")]
    pub cap_fetch_allow: Vec<String>,
    /// An urgent notice whose audio is at most this many KiB carries it in the push, so
    /// that stations play it without fetching it; 0 never does.
    #[arg(long, global = true, value_name = "KIB", default_value_t = 256)]
    pub urgent_inline_kib: u32,
    /// An urgent notice's audio is sent to the stations as mono MP3 at this bit rate
    /// (kb/s: 24, 32, 40, 48, 64, 80, 96 or 128), a copy kept in the library, unless the
    /// file is already that compact or longer than five minutes; 0 sends files as uploaded.
    #[arg(long, global = true, value_name = "KBPS", default_value_t = 48)]
    pub urgent_mp3_kbps: u16,
    /// PEM certificate chain: serve HTTPS directly (with --tls-key).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy (address or CIDR network) whose `X-Forwarded-For` and
    /// `X-Forwarded-Proto` are believed; repeat for several. None: the peer address is the
    /// client. In the environment, a TOML list: `LOAXA_TRUSTED_PROXIES='["127.0.0.1"]'`.
    #[arg(long = "trusted-proxy", global = true, value_name = "ADDR[/PREFIX]")]
    pub trusted_proxies: Vec<String>,
    /// Clients reach the server through a TLS-terminating proxy: session cookies are
    /// `Secure` and answers carry HSTS.
    #[arg(long, global = true)]
    pub behind_tls_proxy: bool,
    /// Seconds a connection has to send a complete request head, from its opening or the
    /// end of its previous answer.
    #[arg(long, global = true, value_name = "N", default_value_t = 20)]
    pub header_timeout_seconds: u32,
    /// A request whose connection moves no byte this many seconds is cut; event streams are
    /// exempt.
    #[arg(long, global = true, value_name = "N", default_value_t = 60)]
    pub idle_timeout_seconds: u32,
    /// Open connections served at once; more are answered 503 and closed. Lowered at start
    /// to what the open-file limit allows.
    #[arg(long, global = true, value_name = "N", default_value_t = 16_384)]
    pub max_connections: u32,
    /// How long a sign-in (bearer token or browser session) lasts, days, 1 to 365.
    #[arg(long, global = true, value_name = "DAYS", default_value_t = 30)]
    pub token_ttl_days: u32,
    /// Largest media file accepted, MiB, 1 to 4096.
    #[arg(long, global = true, value_name = "MIB", default_value_t = 200)]
    pub max_upload_mib: u32,
    /// Live broadcasts: every station plays each frame this long after it reached the
    /// server (the same for all, so neighbouring loudspeakers stay in step), ms, 60 to 5000.
    #[arg(long, global = true, value_name = "MS", default_value_t = 200)]
    pub live_delay_ms: u32,
    /// Live broadcasts: a session without audio this long ends (a vanished browser),
    /// seconds, 5 to 3600.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30)]
    pub live_silence_seconds: u32,
}

impl Default for WebConfig {
    /// The defaults declared on the flags above.
    fn default() -> Self {
        settings::clap_defaults()
    }
}

impl WebConfig {
    /// Build the configuration from `file` (or the packaged file if it exists), the process
    /// environment and the flags given on the command line (`flags`: key → value, only
    /// those given).
    pub fn load(file: Option<PathBuf>, flags: toml::Table) -> Result<Self, settings::ConfigError> {
        let file = settings::choose_file(file, Path::new(DEFAULT_FILE));
        let config: WebConfig =
            settings::load(&SPEC, file.as_deref(), &|k| std::env::var(k).ok(), flags)?;
        config.check()
    }

    /// Values that are each fine but wrong together.
    fn check(self) -> Result<Self, settings::ConfigError> {
        crate::db::Location::parse(self.database.as_deref(), &self.data)
            .map_err(settings::ConfigError::Flags)?;
        for a in &self.cap_fetch_allow {
            match reqwest::Url::parse(a) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => {
                    return Err(settings::ConfigError::Flags(format!(
                        "`cap_fetch_allow`: {a:?} is not an http(s) address"
                    )))
                }
            }
        }
        if self.urgent_mp3_kbps != 0 && !media::encode::BIT_RATES.contains(&self.urgent_mp3_kbps) {
            return Err(settings::ConfigError::Flags(format!(
                "`urgent_mp3_kbps`: {} kb/s is not an MP3 bit rate; use 0 (send files as \
                 uploaded) or one of {:?}",
                self.urgent_mp3_kbps,
                media::encode::BIT_RATES
            )));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(settings::ConfigError::Flags(
                "`tls_cert` and `tls_key` go together: give both to serve HTTPS, or neither".into(),
            ));
        }
        for p in &self.trusted_proxies {
            crate::client::Net::parse(p)
                .map_err(|e| settings::ConfigError::Flags(format!("`trusted_proxies`: {e}")))?;
        }
        for (key, v) in [
            ("header_timeout_seconds", self.header_timeout_seconds),
            ("idle_timeout_seconds", self.idle_timeout_seconds),
            ("max_connections", self.max_connections),
        ] {
            if v == 0 {
                return Err(settings::ConfigError::Flags(format!(
                    "`{key}` must be at least 1"
                )));
            }
        }
        for (key, v, min, max) in [
            ("live_delay_ms", self.live_delay_ms, 60, 5000),
            ("live_silence_seconds", self.live_silence_seconds, 5, 3600),
        ] {
            if !(min..=max).contains(&v) {
                return Err(settings::ConfigError::Flags(format!(
                    "`{key}` must be between {min} and {max}, not {v}"
                )));
            }
        }
        for (key, v, max) in [
            ("token_ttl_days", self.token_ttl_days, 365),
            ("max_upload_mib", self.max_upload_mib, 4096),
        ] {
            if !(1..=max).contains(&v) {
                return Err(settings::ConfigError::Flags(format!(
                    "`{key}` must be between 1 and {max}, not {v}"
                )));
            }
        }
        Ok(self)
    }

    /// The server tunables these settings carry.
    pub fn server_config(&self) -> Config {
        Config {
            database: self.database.clone(),
            log_retention: (self.log_retention_days > 0)
                .then(|| chrono::Duration::days(i64::from(self.log_retention_days))),
            reconcile_grace: chrono::Duration::minutes(i64::from(self.reconcile_grace_minutes)),
            cap_air_exercises: self.cap_air_exercises,
            cap_fetch_allow: self.cap_fetch_allow.clone(),
            urgent_inline_max_bytes: u64::from(self.urgent_inline_kib) * 1024,
            urgent_mp3_kbps: self.urgent_mp3_kbps,
            // Checked by `check`.
            trusted_proxies: self
                .trusted_proxies
                .iter()
                .filter_map(|p| crate::client::Net::parse(p).ok())
                .collect(),
            behind_tls_proxy: self.behind_tls_proxy,
            header_timeout: std::time::Duration::from_secs(u64::from(self.header_timeout_seconds)),
            idle_timeout: std::time::Duration::from_secs(u64::from(self.idle_timeout_seconds)),
            max_connections: self.max_connections as usize,
            token_ttl: chrono::Duration::days(i64::from(self.token_ttl_days)),
            max_upload_bytes: u64::from(self.max_upload_mib) * 1024 * 1024,
            live_delay_ms: self.live_delay_ms,
            live_silence: std::time::Duration::from_secs(u64::from(self.live_silence_seconds)),
            // The tunables that are not settings.
            online_window: chrono::Duration::seconds(90),
            max_plan_window: chrono::Duration::days(31),
            reconcile_every: std::time::Duration::from_secs(300),
            cap_max_audio_bytes: 50 * 1024 * 1024,
            cap_fetch_timeout: std::time::Duration::from_secs(30),
        }
    }

    /// The configuration as TOML (what `--print-config` prints).
    pub fn to_toml(&self) -> String {
        settings::to_toml(&SPEC, self)
    }
}

/// The tunables the server runs with: the settings ([`WebConfig`]) in the
/// units the code uses, and a few that are not settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--database` as given (None: SQLite in the data directory).
    pub database: Option<String>,
    /// Largest accepted upload, bytes.
    pub max_upload_bytes: u64,
    /// How long a sign-in token lives.
    pub token_ttl: chrono::Duration,
    /// A station is online when heard from this recently (or connected to the event stream).
    pub online_window: chrono::Duration,
    /// Widest window `GET /stations/{code}/plan` computes.
    pub max_plan_window: chrono::Duration,
    /// An occurrence with no log entry this long after its planned end is `missed`.
    pub reconcile_grace: chrono::Duration,
    /// How often the server reconciles plans with logs (and prunes old logs).
    pub reconcile_every: std::time::Duration,
    /// Keep log entries this long (None: forever).
    pub log_retention: Option<chrono::Duration>,
    /// Air CAP alerts with status `Exercise` (Test, System and Draft never air).
    pub cap_air_exercises: bool,
    /// Largest CAP audio resource fetched by `uri`, bytes.
    pub cap_max_audio_bytes: u64,
    /// Addresses CAP audio may be fetched from (URL prefixes); empty: none.
    pub cap_fetch_allow: Vec<String>,
    /// How long fetching a CAP audio resource may take.
    pub cap_fetch_timeout: std::time::Duration,
    /// An urgent notice's audio up to this size rides with the push (0: never).
    pub urgent_inline_max_bytes: u64,
    /// An urgent notice's audio goes out as a mono MP3 copy at this bit rate (0: as uploaded).
    pub urgent_mp3_kbps: u16,
    /// Peers whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<crate::client::Net>,
    /// Clients reach the server through a TLS-terminating proxy: cookies are `Secure`.
    pub behind_tls_proxy: bool,
    /// Time a connection has to send a complete request head, from its opening or from the
    /// end of its previous answer (slow senders and idle keep-alive connections are closed).
    pub header_timeout: std::time::Duration,
    /// A request whose connection moves no byte for this long is cut (event streams, which
    /// send their own keep-alives, are exempt).
    pub idle_timeout: std::time::Duration,
    /// Open connections served at once; further ones get a 503 and are closed.
    pub max_connections: usize,
    /// Live broadcasts: every station plays each frame this long after its arrival at the
    /// server (the same for all, so neighbouring loudspeakers stay in step), ms.
    pub live_delay_ms: u32,
    /// Live broadcasts: a session with no audio for this long ends (a vanished browser).
    pub live_silence: std::time::Duration,
}

impl Default for Config {
    /// What the default settings give ([`WebConfig`]).
    fn default() -> Self {
        WebConfig::default().server_config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packaged_configuration_file_parses_to_the_service_layout() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config/web.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let c: WebConfig = toml::from_str(&text).unwrap();
        assert_eq!(c.data, PathBuf::from("/var/lib/loaxa"));
    }

    #[test]
    fn trusted_proxies_are_checked_and_connection_limits_are_positive() {
        let ok = WebConfig {
            trusted_proxies: vec!["127.0.0.1".into(), "10.0.0.0/8".into(), "::1".into()],
            ..WebConfig::default()
        };
        let c = ok.clone().check().unwrap().server_config();
        assert_eq!(c.trusted_proxies.len(), 3);
        let bad = WebConfig {
            trusted_proxies: vec!["10.0.0.0/40".into()],
            ..WebConfig::default()
        };
        let e = bad.check().unwrap_err().to_string();
        assert!(e.contains("trusted_proxies") && e.contains("prefix"), "{e}");
        let zero = WebConfig {
            max_connections: 0,
            ..WebConfig::default()
        };
        assert!(zero
            .check()
            .unwrap_err()
            .to_string()
            .contains("max_connections"));
        let toml = "trusted_proxies = [\"127.0.0.1\"]\nmax_connections = 100\n";
        let c: WebConfig = toml::from_str(toml).unwrap();
        assert_eq!((c.trusted_proxies.len(), c.max_connections), (1, 100));
    }

    #[test]
    fn the_urgent_copy_bit_rate_is_an_mp3_rate_or_zero() {
        for ok in [0, 24, 48, 128] {
            let c: WebConfig = toml::from_str(&format!("urgent_mp3_kbps = {ok}")).unwrap();
            assert_eq!(c.check().unwrap().server_config().urgent_mp3_kbps, ok);
        }
        assert_eq!(Config::default().urgent_mp3_kbps, 48);
        for bad in [1, 16, 50, 320] {
            let c: WebConfig = toml::from_str(&format!("urgent_mp3_kbps = {bad}")).unwrap();
            let e = c.check().unwrap_err().to_string();
            assert!(
                e.contains("urgent_mp3_kbps") && e.contains(&format!("{bad} kb/s")),
                "{e}"
            );
        }
    }

    #[test]
    fn token_lifetime_and_upload_cap_are_settings_within_bounds() {
        let c: WebConfig = toml::from_str("token_ttl_days = 7\nmax_upload_mib = 50\n").unwrap();
        let s = c.check().unwrap().server_config();
        assert_eq!(s.token_ttl, chrono::Duration::days(7));
        assert_eq!(s.max_upload_bytes, 50 * 1024 * 1024);
        let d = WebConfig::default().server_config();
        assert_eq!(d.token_ttl, chrono::Duration::days(30));
        assert_eq!(d.max_upload_bytes, 200 * 1024 * 1024);
        for (bad, key) in [
            (
                WebConfig {
                    token_ttl_days: 0,
                    ..WebConfig::default()
                },
                "token_ttl_days",
            ),
            (
                WebConfig {
                    token_ttl_days: 366,
                    ..WebConfig::default()
                },
                "token_ttl_days",
            ),
            (
                WebConfig {
                    max_upload_mib: 0,
                    ..WebConfig::default()
                },
                "max_upload_mib",
            ),
            (
                WebConfig {
                    max_upload_mib: 5000,
                    ..WebConfig::default()
                },
                "max_upload_mib",
            ),
        ] {
            let e = bad.check().unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    /// For every key: a value other than the default, as a flag, as an environment value and
    /// as TOML. A key missing here fails the test below.
    const OTHER_VALUES: &[(&str, &[&str], &str, &str)] = &[
        ("data", &["--data", "/srv/d"], "/srv/d", "\"/srv/d\""),
        (
            "database",
            &["--database", "postgres://loaxa@db.example/loaxa"],
            "postgres://loaxa@db.example/loaxa",
            "\"postgres://loaxa@db.example/loaxa\"",
        ),
        (
            "listen",
            &["--listen", "0.0.0.0:81"],
            "0.0.0.0:81",
            "\"0.0.0.0:81\"",
        ),
        (
            "log_retention_days",
            &["--log-retention-days", "9"],
            "9",
            "9",
        ),
        (
            "reconcile_grace_minutes",
            &["--reconcile-grace-minutes", "9"],
            "9",
            "9",
        ),
        (
            "cap_air_exercises",
            &["--cap-air-exercises"],
            "true",
            "true",
        ),
        (
            "cap_fetch_allow",
            &["--cap-fetch-allow", "https://a.example/"],
            "[\"https://a.example/\"]",
            "[\"https://a.example/\"]",
        ),
        ("urgent_inline_kib", &["--urgent-inline-kib", "9"], "9", "9"),
        ("urgent_mp3_kbps", &["--urgent-mp3-kbps", "32"], "32", "32"),
        (
            "tls_cert",
            &["--tls-cert", "/c.pem"],
            "/c.pem",
            "\"/c.pem\"",
        ),
        ("tls_key", &["--tls-key", "/k.pem"], "/k.pem", "\"/k.pem\""),
        (
            "trusted_proxies",
            &["--trusted-proxy", "10.0.0.1"],
            "[\"10.0.0.1\"]",
            "[\"10.0.0.1\"]",
        ),
        ("behind_tls_proxy", &["--behind-tls-proxy"], "true", "true"),
        (
            "header_timeout_seconds",
            &["--header-timeout-seconds", "9"],
            "9",
            "9",
        ),
        (
            "idle_timeout_seconds",
            &["--idle-timeout-seconds", "9"],
            "9",
            "9",
        ),
        ("max_connections", &["--max-connections", "9"], "9", "9"),
        ("token_ttl_days", &["--token-ttl-days", "9"], "9", "9"),
        ("max_upload_mib", &["--max-upload-mib", "9"], "9", "9"),
        ("live_delay_ms", &["--live-delay-ms", "90"], "90", "90"),
        (
            "live_silence_seconds",
            &["--live-silence-seconds", "9"],
            "9",
            "9",
        ),
    ];

    #[test]
    fn every_setting_is_a_flag_an_environment_variable_and_a_file_key() {
        let keys = settings::keys::<WebConfig>();
        let listed: Vec<&str> = OTHER_VALUES.iter().map(|(k, ..)| *k).collect();
        assert_eq!(keys, listed.as_slice(), "every setting is tried below");
        let default = toml::Table::try_from(WebConfig::default()).unwrap();
        for (key, flag, env, file) in OTHER_VALUES {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("web.toml");
            std::fs::write(&path, format!("{key} = {file}\n")).unwrap();
            let var = SPEC.env_var(key);
            let env_value = |k: &str| (k == var).then(|| env.to_string());
            let argv = ["loaxa-web"].iter().chain(flag.iter()).chain(&["serve"]);
            let cli = crate::cli::Cli::parse_args(argv).unwrap();
            let by_flag: WebConfig =
                settings::load(&SPEC, None, &|_| None, cli.given.clone()).unwrap();
            let by_env: WebConfig =
                settings::load(&SPEC, None, &env_value, toml::Table::new()).unwrap();
            let by_file: WebConfig =
                settings::load(&SPEC, Some(&path), &|_| None, toml::Table::new()).unwrap();
            for (means, got) in [
                ("flag", by_flag),
                ("environment", by_env),
                ("file", by_file),
            ] {
                let got = toml::Table::try_from(got).unwrap();
                assert_ne!(got.get(*key), default.get(*key), "{key} by {means}");
                let want: toml::Table = toml::from_str(&format!("{key} = {file}")).unwrap();
                assert_eq!(got.get(*key), want.get(*key), "{key} by {means}");
            }
        }
    }

    #[test]
    fn printed_configuration_reads_back_the_same() {
        let c = WebConfig::default();
        assert_eq!(toml::from_str::<WebConfig>(&c.to_toml()).unwrap(), c);
    }
}
