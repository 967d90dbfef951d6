//! In-process tests of the whole application on SQLite and files in a temporary directory.

mod archive_policy;
mod common;
mod errors;
mod measures;
mod metric;
mod policy;
