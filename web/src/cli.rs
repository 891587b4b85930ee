//! The command line, exactly as CONTRACT.md says: `serve`, `demo`, `area add`,
//! `station add`, `user add`. Bad arguments and refused values exit 2 with one line.

use crate::admin;
use crate::config::WebConfig;
use crate::db::users::Role;
use crate::error::AppError;
use crate::state::{AppState, Config};
use clap::{Parser, Subcommand};
use schedules::{Clock, SystemClock};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// `loaxa-web`: the Loa Xã central server.
#[derive(Debug, Parser)]
#[command(name = "loaxa-web", version, about = "Loa Xã central server")]
pub struct Cli {
    /// Configuration file (TOML) [default: /etc/loaxa/web.toml if it exists].
    #[arg(long, env = "LOAXA_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long, global = true)]
    pub print_config: bool,
    /// The settings (each also a key of the file and a `LOAXA_*` variable).
    #[command(flatten)]
    pub settings: WebConfig,
    /// The settings given as flags, keyed as in the configuration file (filled by
    /// [`Cli::parse_args`]).
    #[arg(skip)]
    pub given: toml::Table,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parse `argv` (the program name first), noting which settings were given as flags.
    pub fn parse_args<I>(argv: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator,
        I::Item: Into<std::ffi::OsString> + Clone,
    {
        let (mut cli, given) = settings::parse::<Cli, WebConfig, _>(&crate::config::SPEC, argv)?;
        cli.given = given;
        Ok(cli)
    }

    /// The command line with each setting's environment variable in its help.
    pub fn command_with_env() -> clap::Command {
        settings::command::<Cli, WebConfig>(&crate::config::SPEC)
    }

    /// Does this command line run the server (and so log as a server does)?
    pub fn is_server(&self) -> bool {
        !self.print_config && self.command.as_ref().is_some_and(Command::is_server)
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application and API (on --listen ADDR).
    Serve,
    /// Seed the demo district (Thạch Thất) if the data directory is empty, then serve (on
    /// --listen ADDR).
    Demo,
    /// Areas (province, district, commune…).
    Area {
        /// The action.
        #[command(subcommand)]
        action: AreaCmd,
    },
    /// Stations (one controller each).
    Station {
        /// The action.
        #[command(subcommand)]
        action: StationCmd,
    },
    /// People who sign in.
    User {
        /// The action.
        #[command(subcommand)]
        action: UserCmd,
    },
    /// Write a consistent copy of the database and the media to one file, while the server
    /// keeps serving.
    Backup {
        /// The backup file to write (a tar archive; written whole or not at all).
        #[arg(long)]
        to: PathBuf,
    },
    /// Copy the SQLite store (and every media file of the data directory) into a new, empty
    /// PostgreSQL database, for several nodes (stop the server first; docs/several-nodes.md).
    CopyToPostgres {
        /// The PostgreSQL database (postgres://USER:PASSWORD@HOST/DB): empty, or freshly
        /// made with CREATE DATABASE … LOCALE 'C'.
        #[arg(long)]
        to: String,
    },
    /// Restore a backup into the data directory (stop the server first).
    Restore {
        /// The backup file written by `backup`.
        #[arg(long)]
        from: PathBuf,
        /// Replace a data directory that already holds a database.
        #[arg(long)]
        force: bool,
    },
}

impl Command {
    /// Does this command run the server (and so log as a server does)?
    pub fn is_server(&self) -> bool {
        matches!(self, Command::Serve | Command::Demo)
    }
}

/// `area` actions.
#[derive(Debug, Subcommand)]
pub enum AreaCmd {
    /// Add an area.
    Add {
        /// Its code (letters, digits, '-', '_', '.').
        code: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// The area it belongs to.
        #[arg(long)]
        parent: Option<String>,
        /// Its official administrative code (CAP geocodes may name it).
        #[arg(long, value_parser = parse_official_code)]
        official_code: Option<String>,
    },
}

fn parse_official_code(s: &str) -> Result<String, String> {
    admin::official_code(s).map_err(|e| e.to_string())
}

fn parse_location(s: &str) -> Result<schedules::geo::GeoPoint, String> {
    schedules::geo::GeoPoint::parse(s).map_err(|e| e.to_string())
}

/// `station` actions.
#[derive(Debug, Subcommand)]
pub enum StationCmd {
    /// Add a station; prints its device token alone on the last line.
    Add {
        /// Its code.
        code: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// Its area.
        #[arg(long)]
        area: String,
        /// IANA time zone.
        #[arg(long, default_value = admin::DEFAULT_TIMEZONE)]
        timezone: String,
        /// Where it is, `LAT,LON` (WGS 84, decimal degrees).
        #[arg(long, value_parser = parse_location, allow_hyphen_values = true)]
        location: Option<schedules::geo::GeoPoint>,
    },
}

/// `user` actions.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user; the password is read from stdin (one line).
    Add {
        /// Login name.
        username: String,
        /// Role over the area's subtree.
        #[arg(long, value_parser = ["admin", "approver", "operator", "viewer"])]
        role: String,
        /// The area whose subtree the user acts in.
        #[arg(long)]
        area: String,
    },
}

/// Report a command-line parsing error: help and version print as usual; anything else is
/// one line on stderr and exit status 2.
pub fn argument_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("error");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            fail(format!("{first} (see loaxa-web --help)"), 2)
        }
    }
}

fn fail(message: impl std::fmt::Display, code: u8) -> ExitCode {
    let one_line = message.to_string().replace('\n', " ");
    eprintln!("error: {one_line}");
    ExitCode::from(code)
}

fn app_fail(e: AppError) -> ExitCode {
    let code = if e.status.is_client_error() { 2 } else { 1 };
    fail(e.message, code)
}

fn open(data: &Path, clock: Arc<dyn Clock>, config: Config) -> Result<AppState, ExitCode> {
    AppState::open_with(data, clock, config).map_err(|e| fail(e, 1))
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let config = match WebConfig::load(cli.config.clone(), cli.given.clone()) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    if cli.print_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    let Some(command) = cli.command else {
        return fail("a subcommand is required (see loaxa-web --help)", 2);
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let open_state = || open(&config.data, clock.clone(), config.server_config());
    let with_state = |f: &dyn Fn(AppState) -> ExitCode| open_state().map_or_else(|c| c, f);
    let store = crate::db::Location::parse(config.database.as_deref(), &config.data);
    if let (Command::Backup { .. } | Command::Restore { .. }, Ok(at)) = (&command, &store) {
        if let Err(why) = crate::backup::supported(at, &config.data) {
            return fail(why, 2);
        }
    }
    match command {
        Command::Backup { to } => match crate::backup::backup(&config.data, &to) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, e.exit_code()),
        },
        Command::Restore { from, force } => {
            match crate::backup::restore(&from, &config.data, force) {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e, e.exit_code()),
            }
        }
        Command::CopyToPostgres { to } => {
            let sqlite = match &store {
                Ok(crate::db::Location::Sqlite(p)) => p.clone(),
                Ok(at) => return fail(format!("the store is already PostgreSQL ({at})"), 2),
                Err(e) => return fail(e, 2),
            };
            match crate::db::copy::run(&config.data, &sqlite, &to) {
                Ok(copied) => {
                    println!("{copied}");
                    ExitCode::SUCCESS
                }
                Err(e) if e.status == axum::http::StatusCode::UNPROCESSABLE_ENTITY => {
                    fail(e.message, 2)
                }
                Err(e) => fail(e.message, 1),
            }
        }
        Command::Serve => with_state(&|state| serve_blocking(state, &config, false)),
        Command::Demo => with_state(&|state| serve_blocking(state, &config, true)),
        Command::Area {
            action:
                AreaCmd::Add {
                    code,
                    name,
                    parent,
                    official_code,
                },
        } => with_state(&|state| match admin::add_area(
            &state.db,
            "cli",
            &code,
            &name,
            parent.as_deref(),
            now,
        )
        .and_then(|()| match &official_code {
            Some(o) => admin::code_area(&state.db, "cli", &code, o, now),
            None => Ok(()),
        }) {
            Ok(()) => {
                println!("area {code} added");
                ExitCode::SUCCESS
            }
            Err(e) => app_fail(e),
        }),
        Command::Station {
            action:
                StationCmd::Add {
                    code,
                    name,
                    area,
                    timezone,
                    location,
                },
        } => with_state(&|state| match admin::add_station(
            &state.db,
            "cli",
            &code,
            &name,
            &area,
            Some(&timezone),
            now,
        )
        .and_then(|token| match location {
            Some(l) => admin::locate_station(&state.db, "cli", &code, l, now).map(|()| token),
            None => Ok(token),
        }) {
            Ok(token) => {
                println!("station {code} added; its device token (shown once):");
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(e) => app_fail(e),
        }),
        Command::User {
            action:
                UserCmd::Add {
                    username,
                    role,
                    area,
                },
        } => {
            let role: Role = match role.parse() {
                Ok(r) => r,
                Err(e) => return fail(e, 2),
            };
            let mut line = String::new();
            if let Err(e) = std::io::stdin().lock().read_line(&mut line) {
                return fail(format!("cannot read the password from stdin: {e}"), 2);
            }
            let password = line.trim_end_matches(['\n', '\r']);
            with_state(&|state| match admin::add_user(
                &state.db, "cli", &username, password, role, &area, now,
            ) {
                Ok(()) => {
                    println!("user {username} added ({role} on {area})");
                    ExitCode::SUCCESS
                }
                Err(e) => app_fail(e),
            })
        }
    }
}

fn serve_blocking(state: AppState, config: &WebConfig, demo: bool) -> ExitCode {
    let listen = config.listen;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => match crate::tls::acceptor(cert, key) {
            Ok(a) => Some(a),
            Err(e) => return fail(e, 2),
        },
        _ => None,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}"), 1),
    };
    rt.block_on(async move {
        if let Err(e) = state.media.clean_tmp() {
            tracing::warn!(error = %e, "could not clean the upload directory");
        }
        if demo {
            match crate::demo::seed_if_empty(&state).await {
                Ok(Some(seeded)) => seeded.print(),
                Ok(None) => println!(
                    "{} is not empty: serving it as it is (the demo seeds only an empty data directory)",
                    state.data_dir.display()
                ),
                Err(e) => return app_fail(e),
            }
        }
        let listener = match crate::conn::bind(listen) {
            Ok(l) => l,
            Err(e) => return fail(format!("cannot listen on {listen}: {e}"), 1),
        };
        crate::reports::task::spawn(state.clone());
        crate::urgent::sources::spawn(state.clone());
        crate::live::run::spawn_orphan_sweep(state.clone());
        let addr = listener.local_addr().map_or(listen, |a| a);
        tracing::info!(%addr, data = %state.data_dir.display(), "loaxa-web listening");
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("loaxa-web listening on {scheme}://{addr}");
        let shutdown = async {
            stop_signal().await;
            tracing::info!("shutting down");
        };
        let served = match tls {
            Some(acceptor) => crate::startup::serve_tls(listener, acceptor, state, shutdown).await,
            None => crate::startup::serve(listener, state, shutdown).await,
        };
        match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!("server failed: {e}"), 1),
        }
    })
}

/// Ctrl-C, or SIGTERM (what service managers send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
