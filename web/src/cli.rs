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
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// `loaxa-web`: the Loa Xã central server.
#[derive(Debug, Parser)]
#[command(name = "loaxa-web", version, about = "Loa Xã central server")]
pub struct Cli {
    /// Data directory: database, media files [default: ./data].
    #[arg(long, env = "LOAXA_DATA", global = true)]
    pub data: Option<PathBuf>,
    /// Configuration file (TOML) [default: /etc/loaxa/web.toml if it exists].
    #[arg(long, env = "LOAXA_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long, global = true)]
    pub print_config: bool,
    /// Delete as-run log entries due more than this many days ago [default: 0, keep all].
    #[arg(long, global = true)]
    pub log_retention_days: Option<u32>,
    /// An occurrence with no log entry this many minutes after its planned end is missed
    /// [default: 120].
    #[arg(long, global = true)]
    pub reconcile_grace_minutes: Option<u32>,
    /// Air CAP alerts whose status is `Exercise` (by default they are recorded, not aired).
    #[arg(long, global = true)]
    pub cap_air_exercises: bool,
    /// An address CAP audio may be fetched from (a URL prefix); repeat for more [default:
    /// none: CAP audio must come inline].
    #[arg(long, global = true, value_name = "URL")]
    pub cap_fetch_allow: Vec<String>,
    /// Send an urgent notice's audio with the push when it is at most this many KiB (0:
    /// never) [default: 256].
    #[arg(long, global = true)]
    pub urgent_inline_kib: Option<u32>,
    /// PEM certificate chain: serve HTTPS directly (with --tls-key).
    #[arg(long, global = true)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, global = true)]
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy (address or CIDR network) whose X-Forwarded-For and
    /// X-Forwarded-Proto are believed; repeat for several.
    #[arg(long = "trusted-proxy", global = true, value_name = "ADDR[/PREFIX]")]
    pub trusted_proxies: Vec<String>,
    /// Clients reach the server through a TLS-terminating proxy (Secure cookies, HSTS).
    #[arg(long, global = true)]
    pub behind_tls_proxy: bool,
    /// Seconds a connection has to send a request head [default: 20].
    #[arg(long, global = true)]
    pub header_timeout_seconds: Option<u32>,
    /// A request moving no byte this many seconds is cut; event streams exempt [default: 60].
    #[arg(long, global = true)]
    pub idle_timeout_seconds: Option<u32>,
    /// Open connections served at once; more get 503 [default: 16384].
    #[arg(long, global = true)]
    pub max_connections: Option<u32>,
    /// Days a sign-in (token or browser session) lasts, 1 to 365 [default: 30].
    #[arg(long, global = true)]
    pub token_ttl_days: Option<u32>,
    /// Largest media file accepted, MiB, 1 to 4096 [default: 200].
    #[arg(long, global = true)]
    pub max_upload_mib: Option<u32>,
    /// Live broadcasts: play-out delay after arrival, the same on every station, ms, 60 to
    /// 5000 [default: 200].
    #[arg(long, global = true)]
    pub live_delay_ms: Option<u32>,
    /// Live broadcasts: a session without audio this many seconds ends, 5 to 3600
    /// [default: 30].
    #[arg(long, global = true)]
    pub live_silence_seconds: Option<u32>,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The settings given as flags, keyed as in the configuration file.
    fn flags(&self, listen: Option<SocketAddr>) -> toml::Table {
        let mut flags = toml::Table::new();
        let path = |p: &Path| toml::Value::from(p.display().to_string());
        if let Some(d) = &self.data {
            flags.insert("data".into(), path(d));
        }
        if let Some(l) = listen {
            flags.insert("listen".into(), l.to_string().into());
        }
        if let Some(d) = self.log_retention_days {
            flags.insert("log_retention_days".into(), i64::from(d).into());
        }
        if let Some(m) = self.reconcile_grace_minutes {
            flags.insert("reconcile_grace_minutes".into(), i64::from(m).into());
        }
        if self.cap_air_exercises {
            flags.insert("cap_air_exercises".into(), true.into());
        }
        if !self.cap_fetch_allow.is_empty() {
            let list = self
                .cap_fetch_allow
                .iter()
                .map(|a| toml::Value::from(a.as_str()));
            flags.insert("cap_fetch_allow".into(), toml::Value::Array(list.collect()));
        }
        if let Some(k) = self.urgent_inline_kib {
            flags.insert("urgent_inline_kib".into(), i64::from(k).into());
        }
        if let Some(c) = &self.tls_cert {
            flags.insert("tls_cert".into(), path(c));
        }
        if let Some(k) = &self.tls_key {
            flags.insert("tls_key".into(), path(k));
        }
        if !self.trusted_proxies.is_empty() {
            let list: Vec<toml::Value> = self
                .trusted_proxies
                .iter()
                .map(|p| p.clone().into())
                .collect();
            flags.insert("trusted_proxies".into(), toml::Value::Array(list));
        }
        if self.behind_tls_proxy {
            flags.insert("behind_tls_proxy".into(), true.into());
        }
        for (key, v) in [
            ("header_timeout_seconds", self.header_timeout_seconds),
            ("idle_timeout_seconds", self.idle_timeout_seconds),
            ("max_connections", self.max_connections),
            ("token_ttl_days", self.token_ttl_days),
            ("max_upload_mib", self.max_upload_mib),
            ("live_delay_ms", self.live_delay_ms),
            ("live_silence_seconds", self.live_silence_seconds),
        ] {
            if let Some(v) = v {
                flags.insert(key.into(), i64::from(v).into());
            }
        }
        flags
    }

    /// Does this command line run the server (and so log as a server does)?
    pub fn is_server(&self) -> bool {
        !self.print_config && self.command.as_ref().is_some_and(Command::is_server)
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application and API.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "LOAXA_LISTEN")]
        listen: Option<SocketAddr>,
    },
    /// Seed the demo district (Thạch Thất) if the data directory is empty, then serve.
    Demo {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "LOAXA_LISTEN")]
        listen: Option<SocketAddr>,
    },
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
        matches!(self, Command::Serve { .. } | Command::Demo { .. })
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
    let listen = match &cli.command {
        Some(Command::Serve { listen } | Command::Demo { listen }) => *listen,
        _ => None,
    };
    let config = match WebConfig::load(cli.config.clone(), cli.flags(listen)) {
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
        Command::Serve { .. } => with_state(&|state| serve_blocking(state, &config, false)),
        Command::Demo { .. } => with_state(&|state| serve_blocking(state, &config, true)),
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
