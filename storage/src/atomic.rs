//! The one durable write: temporary name, fsync, rename, fsync of the directory.
