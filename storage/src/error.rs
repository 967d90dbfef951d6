//! The storage crate's error type.

use gnocchi_core::ErrorKind;
use snafu::Snafu;

/// Errors of the engine and of the incoming and aggregate storage drivers.
#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
#[non_exhaustive]
pub enum Error {
    /// A filesystem operation of a driver failed.
    #[snafu(display("{op} {path}"))]
    Io {
        /// What was being done (e.g. `write split`).
        op: &'static str,
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    /// The transport-neutral kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Unavailable,
        }
    }

    /// Whether metricd should retry the unit of work later.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind(), ErrorKind::Unavailable)
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
