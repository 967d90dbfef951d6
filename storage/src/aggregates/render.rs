//! JSON text of the results as Gnocchi writes them (engine.md §6.9, api.md §1.3): timestamps
//! truncated to seconds with `+00:00`, granularities as float seconds or calendar letters,
//! values in Python's repr with bare `NaN` / `Infinity` tokens, `", "` and `": "` separators.
//!
//! Text rather than `serde_json::Value`, which cannot hold NaN or infinities.

use gnocchi_core::time::{push_python_json_float, push_seconds_float, push_timestamp};

use super::{Column, ColumnName, Measures, OutputPoint, Period};

/// A JSON array of `[timestamp, granularity, value]` triples (the legacy `/v1/aggregation`
/// answer, a calendar-resampled single-metric read).
pub fn points_json(points: &[OutputPoint]) -> String {
    let mut out = String::with_capacity(points.len() * 48 + 2);
    write_points(points, &mut out);
    out
}

/// The value of the `measures` key of a `/v1/aggregates` answer (api.md §11.1):
/// `{"aggregated": [...]}`, or `{"<metric id>": {"<agg>": [...]}}` (metric-id mode), or
/// `{"<resource id>": {"<metric name>": {"<agg>": [...]}}}` (resource mode). `columns` are
/// those given to [`super::evaluate`]. Keys keep their order of first appearance; a key seen
/// twice keeps its first list.
pub fn measures_json(measures: &Measures, columns: &[Column]) -> String {
    let mut out = String::new();
    match measures {
        Measures::Aggregated(points) => {
            out.push_str("{\"aggregated\": ");
            write_points(points, &mut out);
            out.push('}');
        }
        Measures::PerColumn(lists) => {
            let mut root = Node::default();
            for (index, points) in lists {
                let Some(column) = columns.get(*index) else {
                    continue;
                };
                let agg = column.reference.aggregation.as_str();
                let path: Vec<&str> = match &column.name {
                    ColumnName::Metric { metric_id } => vec![metric_id, agg],
                    ColumnName::ResourceMetric {
                        resource_id,
                        metric_name,
                    } => vec![resource_id, metric_name, agg],
                };
                root.insert(&path, points);
            }
            root.write(&mut out);
        }
    }
    out
}

/// An insertion-ordered tree of JSON objects whose leaves are point lists.
#[derive(Default)]
struct Node<'a> {
    children: Vec<(String, Node<'a>)>,
    leaf: Option<&'a [OutputPoint]>,
}

impl<'a> Node<'a> {
    fn insert(&mut self, path: &[&str], points: &'a [OutputPoint]) {
        let Some((first, rest)) = path.split_first() else {
            if self.leaf.is_none() && self.children.is_empty() {
                self.leaf = Some(points);
            }
            return;
        };
        let k = match self.children.iter().position(|(k, _)| k == first) {
            Some(k) => k,
            None => {
                self.children.push(((*first).to_owned(), Node::default()));
                self.children.len() - 1
            }
        };
        self.children[k].1.insert(rest, points);
    }

    fn write(&self, out: &mut String) {
        if let Some(points) = self.leaf {
            write_points(points, out);
            return;
        }
        out.push('{');
        for (i, (k, child)) in self.children.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_str(k, out);
            out.push_str(": ");
            child.write(out);
        }
        out.push('}');
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
}

fn write_points(points: &[OutputPoint], out: &mut String) {
    out.reserve(points.len() * 48 + 2);
    out.push('[');
    // The granularity text of the last fixed period, rendered once per run of equal periods.
    let mut granularity: Option<(i64, String)> = None;
    for (i, p) in points.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str("[\"");
        push_timestamp(out, p.timestamp_ns);
        out.push_str("\", ");
        match p.period {
            Period::Fixed(ns) => {
                let (last, text) = granularity.get_or_insert_with(|| (ns, String::new()));
                if *last != ns || text.is_empty() {
                    *last = ns;
                    text.clear();
                    push_seconds_float(text, ns);
                }
                out.push_str(text);
            }
            Period::Calendar(unit) => {
                out.push('"');
                out.push_str(unit.letter());
                out.push('"');
            }
        }
        out.push_str(", ");
        push_python_json_float(out, p.value);
        out.push(']');
    }
    out.push(']');
}
