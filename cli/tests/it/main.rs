//! End-to-end tests of the gnocchi-rs programs: the built binaries, over HTTP.

#![allow(clippy::unwrap_used)]

mod common;
mod concurrency;
mod crash;
mod outage;
mod serve;
