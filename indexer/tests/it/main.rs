//! The indexer contract suite: every test runs against every backend (SQLite in a tempdir;
//! PostgreSQL and MariaDB join by adding a constructor to `common` and a line to
//! `indexer_test!`).

#[macro_use]
mod common;

mod archive_policy;
mod concurrency;
mod metric;
mod resource;
mod resource_type;
mod rule;
mod search;
