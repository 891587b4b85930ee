//! Loa Xã central server (`loaxa-web`).
//!
//! Owns the store (SQLite with embedded migrations, content-addressed media files), people
//! and their rights over a tree of areas, the media library, schedules, urgent notices,
//! the endpoints station controllers sync through (schedule document, server-sent events,
//! logs, heartbeats), the as-run log and reports, and the audit log.
//!
//! Start it in-process with [`state::AppState::open`] and [`startup::serve`] on a listener
//! bound to `127.0.0.1:0`; seed it with the helpers in [`admin`].
//!
//! - [`startup`]: the router and the server loop;
//! - [`routes`]: the JSON API, one file per resource;
//! - [`db`]: the store, one file per table family;
//! - [`auth`]: people, devices, tokens and passwords;
//! - [`planning`]: schedule documents and plans (the `schedules` crate does the expanding);
//! - [`push`]: per-station event channels;
//! - [`library`]: media files on disk;
//! - [`cli`], [`demo`]: the command line and the demo district.

pub mod admin;
pub mod auth;
pub mod cli;
pub mod db;
pub mod demo;
pub mod error;
pub mod library;
pub mod planning;
pub mod push;
pub mod routes;
pub mod startup;
pub mod state;
pub mod targets;
