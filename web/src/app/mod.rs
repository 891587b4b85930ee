//! The rulebook: the application layer between every entry point (the JSON API, the pages,
//! CAP ingestion, the device API, the command line, background jobs) and the store.
//!
//! *Who may do this?* is answered in [`policy`], once, from the caller (role, area, device)
//! and the object's owner and targets. [`targets`] turns requested stations and areas
//! into checked targets; [`validate`] turns the instants and windows clients send into
//! types within a sane range; [`audit`] is how every change is recorded. Entry points translate
//! their input, call in here, and map the one domain [`Error`] (in [`error`]) to their own answer (HTTP
//! statuses are chosen in [`crate::error`], nowhere else). `db/` below answers rows and
//! `rusqlite` errors.

pub mod accounts;
pub mod approval;
pub mod audit;
pub mod error;
pub mod objects;
pub mod policy;
pub mod targets;
pub mod validate;

pub use error::{Error, Result};
pub use policy::{authorize, Action, Kind, Object};
