//! In-process tests of the whole application on SQLite and files in a temporary directory.

mod aggregates;
mod archive_policy;
mod batch;
mod common;
mod errors;
mod keystone;
mod measures;
mod metric;
mod policy;
mod policy_rules;
mod resource;
mod resource_type;
mod search_metric;
