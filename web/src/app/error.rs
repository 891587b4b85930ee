//! The one error of the application layer; entry points map it to their own answer.

use std::fmt;

/// What the application layer refuses, independent of how it is answered.
#[derive(Debug)]
pub enum Error {
    /// A value in the request is not acceptable; the message names the field.
    Invalid(String),
    /// The request is malformed.
    Malformed(String),
    /// No such object, or one the caller may not see.
    NotFound(String),
    /// The caller may see it but not do this; the message says why.
    Forbidden(String),
    /// The object's state forbids it (exists already, in use…).
    Conflict(String),
    /// Too large.
    TooLarge(String),
    /// The store failed.
    Store(crate::db::sql::Error),
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(m)
            | Error::Malformed(m)
            | Error::NotFound(m)
            | Error::Forbidden(m)
            | Error::Conflict(m)
            | Error::TooLarge(m) => f.write_str(m),
            Error::Store(e) => write!(f, "database: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<crate::db::sql::Error> for Error {
    fn from(e: crate::db::sql::Error) -> Self {
        Error::Store(e)
    }
}
