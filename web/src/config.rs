//! The server's settings: the `--config` TOML file, `LOAXA_*` environment variables and
//! flags, layered by the `settings` crate (flags > environment > file > defaults).
//!
//! Adding a server option is adding one field below (with its default in `Default`): it is
//! then read from the file as `key = …`, from `LOAXA_KEY`, and printed by `--print-config`.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the packaged configuration lives; read when `--config` is not given and it exists.
pub const DEFAULT_FILE: &str = "/etc/loaxa/web.toml";

/// How keys map to environment variables (all `LOAXA_<KEY>`) and which are secret.
pub const SPEC: settings::Spec = settings::Spec {
    env_renames: &[],
    secrets: &[],
};

/// The effective server configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Data directory: database, media files (`--data`, `LOAXA_DATA`).
    pub data: PathBuf,
    /// Address `serve` and `demo` listen on (`--listen`, `LOAXA_LISTEN`).
    pub listen: SocketAddr,
    /// Delete as-run log entries due more than this many days ago; 0 keeps everything
    /// (`--log-retention-days`, `LOAXA_LOG_RETENTION_DAYS`).
    pub log_retention_days: u32,
    /// An occurrence with no log entry this many minutes after its planned end is `missed`
    /// (`--reconcile-grace-minutes`, `LOAXA_RECONCILE_GRACE_MINUTES`).
    pub reconcile_grace_minutes: u32,
    /// Air CAP alerts whose status is `Exercise` (`--cap-air-exercises`,
    /// `LOAXA_CAP_AIR_EXERCISES`); by default they are recorded, not aired.
    pub cap_air_exercises: bool,
    /// Addresses a CAP message's audio `uri` may be fetched from (each a URL prefix: same
    /// scheme, host and port, a path under it); empty, the default, fetches nothing and
    /// CAP audio must come inline (`--cap-fetch-allow URL`, repeatable;
    /// `LOAXA_CAP_FETCH_ALLOW='["https://…/"]'`).
    pub cap_fetch_allow: Vec<String>,
    /// An urgent notice whose audio is at most this many KiB carries it in the push, so
    /// that stations play it without fetching it; 0 never does (`--urgent-inline-kib`,
    /// `LOAXA_URGENT_INLINE_KIB`).
    pub urgent_inline_kib: u32,
    /// PEM certificate chain: serve HTTPS directly (`--tls-cert`, `LOAXA_TLS_CERT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert` (`--tls-key`, `LOAXA_TLS_KEY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` and
    /// `X-Forwarded-Proto` are believed (`--trusted-proxy`, repeatable;
    /// `LOAXA_TRUSTED_PROXIES='["127.0.0.1"]'`). Empty: the peer address is the client.
    pub trusted_proxies: Vec<String>,
    /// Clients reach the server through a TLS-terminating proxy: session cookies are
    /// `Secure` and answers carry HSTS (`--behind-tls-proxy`, `LOAXA_BEHIND_TLS_PROXY`).
    pub behind_tls_proxy: bool,
    /// Seconds a connection has to send a complete request head, from its opening or the
    /// end of its previous answer (`--header-timeout-seconds`,
    /// `LOAXA_HEADER_TIMEOUT_SECONDS`).
    pub header_timeout_seconds: u32,
    /// A request whose connection moves no byte this many seconds is cut; event streams are
    /// exempt (`--idle-timeout-seconds`, `LOAXA_IDLE_TIMEOUT_SECONDS`).
    pub idle_timeout_seconds: u32,
    /// Open connections served at once; more are answered 503 and closed
    /// (`--max-connections`, `LOAXA_MAX_CONNECTIONS`). Lowered at start to what the
    /// open-file limit allows.
    pub max_connections: u32,
    /// How long a sign-in (bearer token or browser session) lasts, days, 1 to 365
    /// (`--token-ttl-days`, `LOAXA_TOKEN_TTL_DAYS`).
    pub token_ttl_days: u32,
    /// Largest media file accepted, MiB, 1 to 4096 (`--max-upload-mib`,
    /// `LOAXA_MAX_UPLOAD_MIB`).
    pub max_upload_mib: u32,
    /// Live broadcasts: every station plays each frame this long after it reached the
    /// server, ms, 60 to 5000 (`--live-delay-ms`, `LOAXA_LIVE_DELAY_MS`).
    pub live_delay_ms: u32,
    /// Live broadcasts: a session without audio this long ends, seconds, 5 to 3600
    /// (`--live-silence-seconds`, `LOAXA_LIVE_SILENCE_SECONDS`).
    pub live_silence_seconds: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            data: PathBuf::from("./data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            log_retention_days: 0,
            reconcile_grace_minutes: 120,
            cap_air_exercises: false,
            cap_fetch_allow: Vec::new(),
            urgent_inline_kib: 256,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            behind_tls_proxy: false,
            header_timeout_seconds: 20,
            idle_timeout_seconds: 60,
            max_connections: 16_384,
            token_ttl_days: 30,
            max_upload_mib: 200,
            live_delay_ms: 200,
            live_silence_seconds: 30,
        }
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
        Ok(self)
    }

    /// The server tunables these settings carry.
    pub fn server_config(&self) -> crate::state::Config {
        crate::state::Config {
            log_retention: (self.log_retention_days > 0)
                .then(|| chrono::Duration::days(i64::from(self.log_retention_days))),
            reconcile_grace: chrono::Duration::minutes(i64::from(self.reconcile_grace_minutes)),
            cap_air_exercises: self.cap_air_exercises,
            cap_fetch_allow: self.cap_fetch_allow.clone(),
            urgent_inline_max_bytes: u64::from(self.urgent_inline_kib) * 1024,
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
            ..crate::state::Config::default()
        }
    }

    /// The configuration as TOML (what `--print-config` prints).
    pub fn to_toml(&self) -> String {
        settings::to_toml(&SPEC, self)
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

    #[test]
    fn printed_configuration_reads_back_the_same() {
        let c = WebConfig::default();
        assert_eq!(toml::from_str::<WebConfig>(&c.to_toml()).unwrap(), c);
    }
}
