//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds the
//! migrations at compile time, and cargo does not otherwise watch that directory.

fn main() {
    println!("cargo:rerun-if-changed=../migrations/sqlite");
    println!("cargo:rerun-if-changed=../migrations/postgresql");
    println!("cargo:rerun-if-changed=../migrations/mysql");
}
