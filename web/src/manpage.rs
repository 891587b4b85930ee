//! Man pages generated from the clap definitions (`loaxa-web.1` and one page per
//! subcommand, e.g. `loaxa-web-station.1`), written by `cargo run -p web --example manpage`
//! for the Debian package.

/// Every page as `(file name, roff text)`.
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let files = format!(
        "Configuration: /etc/loaxa/web.toml (or --config FILE, LOAXA_CONFIG). Keys, with their \
environment variables and defaults: {}. Precedence: flags > environment > file > defaults. \
Data: /var/lib/loaxa under systemd (loaxa-web.service).",
        settings::describe::<crate::config::WebConfig>(&crate::config::SPEC)
    );
    let cmd = crate::cli::Cli::command_with_env().after_help(files);
    let mut out = Vec::new();
    render(&cmd, "loaxa-web", &mut out)?;
    Ok(out)
}

fn render(
    cmd: &clap::Command,
    name: &str,
    out: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    // clap names are `&'static str` (without its `string` feature): a page name lives as
    // long as this short-lived generator.
    let cmd = cmd.clone().name(&*String::leak(name.to_string()));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    out.push((format!("{name}.1"), buf));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        render(sub, &format!("{name}-{}", sub.get_name()), out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_cover_every_subcommand_and_the_configuration() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for sub in ["serve", "demo", "area", "station", "user"] {
            assert!(
                names.contains(&format!("loaxa-web-{sub}.1").as_str()),
                "{names:?}"
            );
        }
        let main = String::from_utf8(pages[0].1.clone()).unwrap();
        assert!(
            main.starts_with(".ie") || main.contains(".TH"),
            "roff: {main}"
        );
        for word in [
            "serve",
            "demo",
            "area",
            "station",
            "user",
            "\\-\\-config",
            "/etc/loaxa/web.toml",
            "token\\-ttl\\-days",
            "LOAXA_TOKEN_TTL_DAYS",
            "max_upload_mib (LOAXA_MAX_UPLOAD_MIB; default 200)",
        ] {
            assert!(main.contains(word), "the main page mentions {word}");
        }
        let station = &pages
            .iter()
            .find(|(n, _)| n == "loaxa-web-station-add.1")
            .unwrap()
            .1;
        assert!(String::from_utf8_lossy(station).contains("timezone"));
    }
}
