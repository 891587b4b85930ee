//! Loa Xã central server (`loaxa-web`).
//!
//! Owns the store (SQLite with embedded migrations, content-addressed media files), people
//! and their rights over a tree of areas, the media library, schedules, urgent notices,
//! the endpoints station controllers sync through (schedule document, server-sent events,
//! logs, heartbeats), the as-run log and reports, and the audit log.
//!
//! Start it in-process with [`state::AppState::open`] and [`startup::serve`] on a listener
//! bound to `127.0.0.1:0`; seed it with the helpers in [`admin`]:
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use schedules::Clock;
//! use std::sync::Arc;
//! let dir = tempfile::tempdir()?;
//! let clock = Arc::new(schedules::ManualClock::new(chrono::DateTime::UNIX_EPOCH));
//! let state = web::state::AppState::open(dir.path(), clock.clone())?;
//! let now = clock.now();
//! web::admin::add_area(&state.db, "test", "TT", "Huyện Thạch Thất", None, now)?;
//! let device_token =
//!     web::admin::add_station(&state.db, "test", "LQ", "Đài Liên Quan", "TT", None, now)?;
//! web::admin::add_user(&state.db, "test", "op", "a long password",
//!     web::db::users::Role::Operator, "TT", now)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let base = format!("http://{}/api/v1", listener.local_addr()?);
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(web::startup::serve(listener, state, async {
//!     let _ = stopped.await;
//! }));
//! // … talk to `base` with `device_token` or a token from POST /auth/token …
//! # let _ = (base, device_token);
//! let _ = stop.send(());
//! server.await??;
//! # Ok(())
//! # }
//! ```
//!
//! - [`startup`]: the router and the server loop;
//! - [`routes`]: the JSON API, one file per resource;
//! - [`db`]: the store, one file per table family;
//! - [`auth`]: people, devices, tokens and passwords;
//! - [`planning`]: schedule documents and plans (the `schedules` crate does the expanding);
//! - [`push`]: per-station event channels;
//! - [`reports`]: airtime reports, exports, charts, reconciliation and log retention;
//! - [`library`]: media files on disk; [`measure`]: a live channel's loudness from a sample;
//! - [`metrics`], [`openapi`]: `GET /metrics` and `GET /api/v1/openapi.json`;
//! - [`app`]: the rulebook — who may do what, decided once for every entry point;
//! - [`conn`]: the connection loop and its limits; [`client`]: the client's address behind
//!   trusted proxies; [`throttle`]: password guesses;
//! - [`cli`], [`demo`]: the command line and the demo district.

pub mod admin;
pub mod app;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod client;
pub mod config;
pub mod conn;
pub mod cookies;
pub mod db;
pub mod demo;
pub mod error;
pub mod jobs;
pub mod library;
pub mod live;
pub mod manpage;
pub mod measure;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod planning;
pub mod push;
pub mod reports;
pub mod routes;
pub mod security;
pub mod startup;
pub mod state;
#[doc(hidden)]
pub mod testing;
pub mod throttle;
pub mod tls;
pub mod urgent;
