//! The `Indexer` trait and its sqlx implementations: archive policies, rules, metrics,
//! resource types and resources.
//!
//! Holds no time-series data and knows nothing of HTTP.
