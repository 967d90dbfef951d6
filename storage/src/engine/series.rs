//! A time series as two parallel vectors, strictly increasing in time (engine.md §3.8).

/// Points `(ts[i], values[i])`, timestamps strictly increasing.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Series {
    /// Timestamps (ns) or bucket starts, strictly increasing.
    pub(crate) ts: Vec<i64>,
    /// One value per timestamp.
    pub(crate) values: Vec<f64>,
}

impl Series {
    /// An empty series with room for `n` points.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            ts: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
        }
    }

    /// Number of points.
    pub(crate) fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there is no point.
    pub(crate) fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Appends one point; the caller keeps timestamps increasing.
    #[inline]
    pub(crate) fn push(&mut self, ts: i64, value: f64) {
        self.ts.push(ts);
        self.values.push(value);
    }

    /// The first and last timestamps.
    pub(crate) fn first_ts(&self) -> Option<i64> {
        self.ts.first().copied()
    }

    /// The newest timestamp.
    pub(crate) fn last_ts(&self) -> Option<i64> {
        self.ts.last().copied()
    }

    /// Index of the first point with `ts >= t`.
    pub(crate) fn lower_bound(&self, t: i64) -> usize {
        self.ts.partition_point(|&x| x < t)
    }

    /// Drops the points before index `i`.
    pub(crate) fn drain_front(&mut self, i: usize) {
        self.ts.drain(..i);
        self.values.drain(..i);
    }

    /// Keeps the points with `t >= lo` and `t < hi`.
    pub(crate) fn retain_range(&mut self, lo: Option<i64>, hi: Option<i64>) {
        let end = match hi {
            Some(hi) => self.lower_bound(hi),
            None => self.len(),
        };
        self.ts.truncate(end);
        self.values.truncate(end);
        if let Some(lo) = lo {
            let start = self.lower_bound(lo);
            self.drain_front(start);
        }
    }

    /// Timespan truncation (engine.md §3.7): keeps the buckets `> last - timespan`.
    pub(crate) fn truncate_to_timespan(&mut self, timespan_ns: Option<i64>) {
        let (Some(t), Some(last)) = (timespan_ns, self.last_ts()) else {
            return;
        };
        let cut = last.saturating_sub(t);
        let start = self.ts.partition_point(|&x| x <= cut);
        self.drain_front(start);
    }

    /// The union of `self` and `newer` keyed by timestamp; `newer`'s value wins on a tie.
    pub(crate) fn merge(&self, newer: &Series) -> Series {
        if self.is_empty() {
            return newer.clone();
        }
        if newer.is_empty() {
            return self.clone();
        }
        let mut out = Series::with_capacity(self.len() + newer.len());
        let (mut i, mut j) = (0, 0);
        while i < self.len() && j < newer.len() {
            let (a, b) = (self.ts[i], newer.ts[j]);
            if a < b {
                out.push(a, self.values[i]);
                i += 1;
            } else {
                out.push(b, newer.values[j]);
                j += 1;
                if a == b {
                    i += 1;
                }
            }
        }
        out.ts.extend_from_slice(&self.ts[i..]);
        out.values.extend_from_slice(&self.values[i..]);
        out.ts.extend_from_slice(&newer.ts[j..]);
        out.values.extend_from_slice(&newer.values[j..]);
        out
    }
}
