//! End-to-end tests of the gnocchi-rs programs: the built binaries, over HTTP.

#![allow(clippy::unwrap_used)]

mod common;
mod crash;
mod serve;
