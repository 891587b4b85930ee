//! The man page `loaxa-controller.1`, generated from the clap definition, written by
//! `cargo run -p controller --example manpage` for the Debian package.

/// Every page as `(file name, roff text)`.
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    use crate::config::{ControllerConfig, SPEC};
    let files = format!(
        "Configuration: /etc/loaxa/controller.toml (or --config FILE, LOAXA_CONFIG). Keys, with \
their environment variables and defaults: {}. Precedence: flags > environment > file > \
defaults. Data: /var/lib/loaxa/controller in the package (loaxa-controller.service).",
        settings::describe::<ControllerConfig>(&SPEC)
    );
    let cmd = crate::config::Args::command_with_env().after_long_help(files);
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    Ok(vec![("loaxa-controller.1".into(), buf)])
}

#[cfg(test)]
mod tests {
    #[test]
    fn man_page_covers_every_option_and_the_configuration() {
        let pages = super::pages().unwrap();
        let text = String::from_utf8(pages[0].1.clone()).unwrap();
        for word in [
            "server",
            "station",
            "token\\-file",
            "output",
            "wait\\-for\\-device",
            "print\\-config",
            "/etc/loaxa/controller.toml",
            "LOAXA_CONTROLLER_DATA",
            "sound\\-period\\-ms",
            "LOAXA_SOUND_PERIOD_MS",
            "sound_period_ms (LOAXA_SOUND_PERIOD_MS; default 10)",
            "token (LOAXA_TOKEN; default empty)",
        ] {
            assert!(text.contains(word), "the page mentions {word}: {text}");
        }
    }
}
