//! The man page `loaxa-controller.1`, generated from the clap definition, written by
//! `cargo run -p controller --example manpage` for the Debian package.

use clap::CommandFactory;

const FILES: &str = "Configuration: /etc/loaxa/controller.toml (or --config FILE): keys server, \
station, token_file, token, data, output, wait_for_device, sound_period_ms; environment variables \
LOAXA_SERVER, LOAXA_STATION, LOAXA_TOKEN_FILE, LOAXA_TOKEN, LOAXA_CONTROLLER_DATA, LOAXA_OUTPUT, \
LOAXA_WAIT_FOR_DEVICE, LOAXA_SOUND_PERIOD_MS, LOAXA_CONFIG. Precedence: flags > environment > file > defaults. \
Data: /var/lib/loaxa/controller in the package (loaxa-controller.service).";

/// Every page as `(file name, roff text)`.
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let cmd = crate::config::Args::command().after_long_help(FILES);
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
        ] {
            assert!(text.contains(word), "the page mentions {word}: {text}");
        }
    }
}
