//! Why a configuration cannot be used. Each error names the file, or the section, option and
//! value, so the operator can fix it from the message alone.

use std::path::PathBuf;

use snafu::Snafu;

use crate::ErrorKind;

/// A configuration that cannot be loaded or is not valid.
#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
#[non_exhaustive]
pub enum ConfigError {
    /// A `--config-file` (or a file of a `--config-dir`) cannot be read.
    #[snafu(display("cannot read configuration file {}", path.display()))]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A `--config-dir` cannot be listed.
    #[snafu(display("cannot read configuration directory {}", path.display()))]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A line is not INI syntax.
    #[snafu(display("{origin}, line {line}: cannot parse {text:?}: {reason}"))]
    Syntax {
        /// The file (or `<string>`).
        origin: String,
        /// 1-based line number.
        line: usize,
        /// The offending line.
        text: String,
        /// What was expected.
        reason: String,
    },
    /// An option's value does not have the option's type or range.
    #[snafu(display(
        "invalid value {value:?} for option {option} in section [{section}]: {reason}"
    ))]
    InvalidValue {
        /// The section.
        section: String,
        /// The option.
        option: String,
        /// The value as written.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A valid Gnocchi value that gnocchi-rs does not implement yet (a driver, a mode).
    #[snafu(display(
        "option {option} in section [{section}]: {value:?} is not supported yet by gnocchi-rs"
    ))]
    NotSupported {
        /// The section.
        section: String,
        /// The option.
        option: String,
        /// The value as written.
        value: String,
    },
    /// An option required by another option's value is not set.
    #[snafu(display("option {option} in section [{section}] must be set {reason}"))]
    MissingOption {
        /// The section.
        section: String,
        /// The option.
        option: String,
        /// When it is required.
        reason: String,
    },
}

impl ConfigError {
    /// Every configuration error is the operator's to fix.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ConfigError::ReadFile { .. }
            | ConfigError::ReadDir { .. }
            | ConfigError::Syntax { .. }
            | ConfigError::InvalidValue { .. }
            | ConfigError::NotSupported { .. }
            | ConfigError::MissingOption { .. } => ErrorKind::Invalid,
        }
    }

    /// Retrying with the same configuration never helps.
    pub fn is_retryable(&self) -> bool {
        false
    }
}
