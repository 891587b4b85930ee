//! `loaxa-web`: the Loa Xã central server. See `loaxa-web --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match web::cli::Cli::parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => return web::cli::argument_error(e),
    };
    // The server logs what it does; one-shot commands print only their result and errors.
    let default = if cli.is_server() { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    web::cli::run(cli)
}
