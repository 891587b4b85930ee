//! media crate.
