//! The numeric core: bucketing, aggregation methods, rates, timespan truncation, splits and the
//! split codec (shared/spec/engine.md §3, §4).
