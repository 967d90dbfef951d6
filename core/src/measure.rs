//! A single measure: what clients push and the engine aggregates.

/// Nanoseconds in one second; timestamps and granularities are i64 nanoseconds.
pub const NS_PER_SEC: i64 = 1_000_000_000;

/// One point pushed by a client: nanoseconds since the epoch (UTC) and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    pub timestamp: i64,
    /// The measured value.
    pub value: f64,
}

impl Measure {
    /// Builds a measure from its timestamp (ns) and value.
    pub fn new(timestamp: i64, value: f64) -> Self {
        Self { timestamp, value }
    }
}
