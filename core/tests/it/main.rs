//! gnocchi-core integration tests: the shipped files load as documented.

mod config_files;
