//! `use_history=true` (engine.md §6.6 steps 4–5): scaling the points of one resource revision by
//! the share of their period inside the revision's window, and summing a group's points that
//! follow each other with the same timestamp. The API selects revisions, windows and groups.

use super::{OutputPoint, Period};

/// Multiplies each point `(t, g, v)` by `(min(end, t+g) − max(start, t)) / g`, an open `end`
/// counting as `t+g` and an open `start` as `t` (engine.md §6.6 step 4). Calendar periods have
/// no fixed length and are left as they are (the operations language cannot produce them).
pub fn apply_usage_coefficient(
    points: &mut [OutputPoint],
    window_start_ns: Option<i64>,
    window_end_ns: Option<i64>,
) {
    for p in points {
        let Period::Fixed(g) = p.period else { continue };
        if g <= 0 {
            continue;
        }
        let t = p.timestamp_ns;
        let end = t.saturating_add(g);
        let hi = window_end_ns.map_or(end, |e| e.min(end));
        let lo = window_start_ns.map_or(t, |s| s.max(t));
        p.value *= hi.saturating_sub(lo) as f64 / g as f64;
    }
}

/// Sums runs of consecutive points with the same timestamp into their first point (engine.md
/// §6.6 step 5), in evaluation order.
pub fn merge_consecutive_timestamps(points: Vec<OutputPoint>) -> Vec<OutputPoint> {
    let mut out: Vec<OutputPoint> = Vec::with_capacity(points.len());
    for p in points {
        match out.last_mut() {
            Some(last) if last.timestamp_ns == p.timestamp_ns => last.value += p.value,
            _ => out.push(p),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn p(t: i64, g: i64, value: f64) -> OutputPoint {
        OutputPoint {
            timestamp_ns: t * S,
            period: Period::Fixed(g * S),
            value,
        }
    }

    #[test]
    fn coefficient_is_the_share_inside_the_window() {
        let mut pts = vec![p(0, 10, 1.0), p(10, 10, 1.0), p(20, 10, 4.0)];
        apply_usage_coefficient(&mut pts, Some(5 * S), Some(25 * S));
        let v: Vec<f64> = pts.iter().map(|p| p.value).collect();
        assert_eq!(v, vec![0.5, 1.0, 2.0]);
        let mut open = vec![p(0, 10, 3.0)];
        apply_usage_coefficient(&mut open, None, None);
        assert_eq!(open[0].value, 3.0);
    }

    #[test]
    fn consecutive_equal_timestamps_are_summed() {
        let merged = merge_consecutive_timestamps(vec![
            p(0, 5, 1.0),
            p(0, 5, 0.5),
            p(5, 5, 1.0),
            p(0, 5, 2.0),
        ]);
        let v: Vec<(i64, f64)> = merged
            .iter()
            .map(|p| (p.timestamp_ns / S, p.value))
            .collect();
        assert_eq!(v, vec![(0, 1.5), (5, 1.0), (0, 2.0)]);
    }
}
