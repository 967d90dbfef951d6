//! metricd: turns incoming measures into aggregates, and expunges deleted metrics.
