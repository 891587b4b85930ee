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
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            data: PathBuf::from("./data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

impl WebConfig {
    /// Build the configuration from `file` (or the packaged file if it exists), the process
    /// environment and the flags given on the command line.
    pub fn load(
        file: Option<PathBuf>,
        data: Option<&Path>,
        listen: Option<SocketAddr>,
    ) -> Result<Self, settings::ConfigError> {
        let file = settings::choose_file(file, Path::new(DEFAULT_FILE));
        let mut flags = toml::Table::new();
        if let Some(d) = data {
            flags.insert("data".into(), d.display().to_string().into());
        }
        if let Some(l) = listen {
            flags.insert("listen".into(), l.to_string().into());
        }
        settings::load(&SPEC, file.as_deref(), &|k| std::env::var(k).ok(), flags)
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
    fn printed_configuration_reads_back_the_same() {
        let c = WebConfig::default();
        assert_eq!(toml::from_str::<WebConfig>(&c.to_toml()).unwrap(), c);
    }
}
