//! The indexer contract suite: every test runs against every backend (SQLite in a tempdir;
//! PostgreSQL in a fresh database on the server named by `GNOCCHI_TEST_POSTGRESQL_URL`, see
//! scripts/postgresql-server; MariaDB joins by adding a constructor to `common` and a line to
//! `indexer_test!`).

#[macro_use]
mod common;

mod archive_policy;
mod backend;
mod concurrency;
mod metric;
mod resource;
mod resource_type;
mod rule;
mod search;
