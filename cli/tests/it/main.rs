//! End-to-end tests of the gnocchi-rs programs: the built binaries, over HTTP.

mod common;
mod crash;
mod serve;
