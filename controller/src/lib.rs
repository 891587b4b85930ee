//! controller crate.
