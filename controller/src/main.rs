//! `loaxa-controller`: parse the command line, set up logging, run the controller.
//!
//! Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 2 for bad arguments, 3 when
//! `--output default` finds no sound card (so a launcher can fall back to
//! `--output wav:FILE`), 1 for any other startup failure.

use anyhow::Context;
use clap::Parser;
use controller::{Config, OutputSpec, RunError};
use schedules::{StationCode, SystemClock};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "loaxa-controller",
    version,
    about = "Loa Xã station controller"
)]
struct Args {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "LOAXA_SERVER")]
    server: String,
    /// The station code.
    #[arg(long, env = "LOAXA_STATION")]
    station: StationCode,
    /// File holding the device token.
    #[arg(long, env = "LOAXA_TOKEN_FILE")]
    token_file: PathBuf,
    /// Data directory (local database and media cache).
    #[arg(
        long,
        env = "LOAXA_CONTROLLER_DATA",
        default_value = "./controller-data"
    )]
    data: PathBuf,
    /// Where the sound goes: default (the sound card), null, or wav:FILE.
    #[arg(long, env = "LOAXA_OUTPUT", default_value = "default")]
    output: OutputSpec,
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,controller=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match real_main(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if let Some(RunError::NoSoundCard(m)) = e.downcast_ref::<RunError>() {
                eprintln!("no sound card: {m}");
                return std::process::ExitCode::from(3);
            }
            eprintln!("loaxa-controller: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main(args: Args) -> anyhow::Result<()> {
    let token = std::fs::read_to_string(&args.token_file)
        .with_context(|| format!("cannot read the token file {}", args.token_file.display()))?;
    let config = Config {
        server: args.server,
        station: args.station,
        token: token.trim().to_string(),
        data_dir: args.data,
        output: args.output,
    };
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(controller::run(
        config,
        Arc::new(SystemClock),
        shutdown_signal(),
    ))?;
    Ok(())
}
