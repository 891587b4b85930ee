//! `loaxa-controller`: parse the command line and configuration, set up logging, run the
//! controller.
//!
//! Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 2 for bad arguments or
//! configuration, 3 when `--output default` finds no sound card and `--wait-for-device` is
//! not set (so an interactive launcher such as `scripts/run-demo.sh` can fall back to
//! `--output wav:FILE`), 1 for any other startup failure.

use anyhow::Context;
use controller::config::{Args, ControllerConfig};
use controller::{Config, RunError};
use schedules::SystemClock;
use std::process::ExitCode;
use std::sync::Arc;

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

fn main() -> ExitCode {
    let args = Args::parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let loaded = match ControllerConfig::load(&args, &|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loaxa-controller: {e}");
            return ExitCode::from(2);
        }
    };
    if args.print_config {
        print!("{}", loaded.to_toml());
        return ExitCode::SUCCESS;
    }
    let config = match loaded.resolve() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loaxa-controller: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,controller=info,rusqlite_migration=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match real_main(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(RunError::NoSoundCard(m)) = e.downcast_ref::<RunError>() {
                eprintln!("no sound card: {m}");
                return ExitCode::from(3);
            }
            eprintln!("loaxa-controller: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(config: Config) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(controller::run(
        config,
        Arc::new(SystemClock),
        shutdown_signal(),
    ))?;
    Ok(())
}
