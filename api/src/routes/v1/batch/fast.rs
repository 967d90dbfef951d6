//! The batch bodies in their common shape, read without building a JSON tree per measure.
//!
//! Each reader gives `None` for any other shape (duplicate keys, string or boolean values,
//! unknown keys, wrong types...), and the general path then answers with its exact messages.
//! When a reader succeeds, the result and the first error are those of the general path: the
//! same checks run in the same order on the same values.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

use gnocchi_core::Measure;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use uuid::Uuid;

use super::Entry;
use crate::error::ApiError;
use crate::resource_id::{parse_uuid, transform};
use crate::routes::v1::measures::{fast_measures, FastMeasure};
use crate::validate::{Invalid, Path};

/// The fast reading of [`super::parse_metrics_body`].
pub(crate) fn metrics_body(
    payload: &[u8],
) -> Option<Result<BTreeMap<Uuid, Vec<Measure>>, ApiError>> {
    let Pairs(metrics): Pairs<'_, Vec<FastMeasure<'_>>> = serde_json::from_slice(payload).ok()?;
    let root = Path::root();
    let mut wanted: BTreeMap<Uuid, Vec<Measure>> = BTreeMap::new();
    for (k, items) in metrics {
        let Some(id) = parse_uuid(&k) else {
            return Some(Err(Invalid::key(
                "badly formed hexadecimal UUID string",
                &root.key(&k),
            )
            .into()));
        };
        match fast_measures(&items) {
            Ok(ms) => wanted.entry(id).or_default().extend(ms),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(wanted))
}

/// The fast reading of [`super::parse_resources_body`].
#[allow(clippy::type_complexity)]
pub(crate) fn resources_body(
    payload: &[u8],
    creator: &str,
) -> Option<Result<Vec<(Uuid, String, Vec<Entry>)>, ApiError>> {
    let Pairs(body): Pairs<'_, Pairs<'_, FastEntry<'_>>> = serde_json::from_slice(payload).ok()?;
    let root = Path::root();
    let mut resources = Vec::with_capacity(body.len());
    for (rid, Pairs(metrics)) in body {
        let p = root.key(&rid);
        let id = match transform(&rid, Some(creator)) {
            Ok(id) => id,
            Err(e) => return Some(Err(Invalid::value(e.message(), &p).into())),
        };
        let mut entries = Vec::with_capacity(metrics.len());
        for (name, entry) in metrics {
            let measures = match fast_measures(&entry.measures) {
                Ok(ms) => ms,
                Err(e) => return Some(Err(e)),
            };
            entries.push(Entry {
                name: name.into_owned(),
                measures,
                archive_policy_name: entry.archive_policy_name,
                unit: entry.unit,
            });
        }
        resources.push((id, rid.into_owned(), entries));
    }
    Some(Ok(resources))
}

/// A JSON object as its (key, value) pairs in body order; fails on a repeated key, whose
/// handling is left to the general path.
struct Pairs<'a, V>(Vec<(Cow<'a, str>, V)>);

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Pairs<'a, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PairsVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<V> {
            type Value = Pairs<'de, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs: Vec<(Cow<'de, str>, V)> = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    pairs.push((key, map.next_value()?));
                }
                let mut seen = HashSet::with_capacity(pairs.len());
                if !pairs.iter().all(|(k, _)| seen.insert(k.as_ref())) {
                    return Err(de::Error::custom("repeated key"));
                }
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(PairsVisitor(std::marker::PhantomData))
    }
}

/// One metric of a resources batch: a measures list, or an object with `measures` and
/// optionally `archive_policy_name` and `unit` (strings), nothing else.
struct FastEntry<'a> {
    measures: Vec<FastMeasure<'a>>,
    archive_policy_name: Option<String>,
    unit: Option<String>,
}

impl<'de: 'a, 'a> Deserialize<'de> for FastEntry<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = FastEntry<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a measures list or a metric object")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut measures = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(m) = seq.next_element()? {
                    measures.push(m);
                }
                Ok(FastEntry {
                    measures,
                    archive_policy_name: None,
                    unit: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut measures, mut archive_policy_name, mut unit) = (None, None, None);
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "measures" => measures = Some(map.next_value()?),
                        "archive_policy_name" => archive_policy_name = Some(map.next_value()?),
                        "unit" => unit = Some(map.next_value()?),
                        _ => return Err(de::Error::custom("extra key")),
                    }
                }
                Ok(FastEntry {
                    measures: measures.ok_or_else(|| de::Error::missing_field("measures"))?,
                    archive_policy_name,
                    unit,
                })
            }
        }
        d.deserialize_any(EntryVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::{parse_metrics_body, parse_resources_body};
    use super::*;

    /// Entries as comparable tuples.
    fn flat(r: Vec<(Uuid, String, Vec<Entry>)>) -> Vec<(Uuid, String, Vec<FlatEntry>)> {
        r.into_iter()
            .map(|(id, rid, es)| {
                let es = es
                    .into_iter()
                    .map(|e| (e.name, e.measures, e.archive_policy_name, e.unit))
                    .collect();
                (id, rid, es)
            })
            .collect()
    }
    type FlatEntry = (String, Vec<Measure>, Option<String>, Option<String>);

    fn ms(ts: &[Value]) -> Value {
        Value::Array(
            ts.iter()
                .map(|t| json!({"timestamp": t, "value": 1.5}))
                .collect(),
        )
    }

    #[test]
    fn resources_fast_reading_agrees_with_the_general_path() {
        let ok = ms(&[
            json!("2014-10-06T14:33:57"),
            json!("2014-10-06T14:34:57+01:00"),
        ]);
        let bodies = [
            json!({"r1": {"cpu": ok, "mem": {"measures": ok, "archive_policy_name": "low",
                   "unit": "B"}}, "r\u{e9}2": {"disk": []}}),
            json!({"5a301761-f78b-46e2-8900-8b4f6fe6675a": {"a\"b": ms(&[json!(1), json!(2.5)])}}),
            // Errors found after the structure: the same first error either way.
            json!({"r1": {"cpu": ok}, "r2": {"cpu": ms(&[json!("not a time")])}}),
            json!({"r1": {"cpu": ms(&[json!(1), json!("2014-10-06")])}}),
            json!({"r1": {"cpu": {"measures": ms(&[json!("yesterday-ish")]), "unit": "B"}}}),
            json!({"a/b": {"cpu": ok}}),
            json!({"x".repeat(300): {"cpu": ok}}),
            json!({}),
        ];
        for body in bodies {
            let text = body.to_string();
            let fast = resources_body(text.as_bytes(), "admin:").expect("common shape");
            let general = parse_resources_body(&body, "admin:");
            match (fast, general) {
                (Ok(a), Ok(b)) => assert_eq!(flat(a), flat(b), "{body}"),
                (Err(a), Err(b)) => assert_eq!(a.description(), b.description(), "{body}"),
                (a, b) => panic!("{body}: {:?} vs {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }

    #[test]
    fn resources_other_shapes_go_to_the_general_path() {
        let ok = r#"[{"timestamp": 1, "value": 1}]"#;
        for text in [
            format!(r#"{{"r1": {{"cpu": {ok}}}, "r1": {{"mem": {ok}}}}}"#),
            format!(r#"{{"r1": {{"cpu": {ok}, "cpu": {ok}}}}}"#),
            format!(r#"{{"r1": {{"cpu": {{"measures": {ok}, "other": 1}}}}}}"#),
            r#"{"r1": {"cpu": {"archive_policy_name": "low"}}}"#.to_owned(),
            format!(r#"{{"r1": {{"cpu": {{"measures": {ok}, "unit": null}}}}}}"#),
            r#"{"r1": {"cpu": [{"timestamp": 1, "value": "1"}]}}"#.to_owned(),
            r#"{"r1": {"cpu": [{"timestamp": 1, "value": true}]}}"#.to_owned(),
            r#"{"r1": {"cpu": [[1, 2]]}}"#.to_owned(),
            r#"{"r1": {"cpu": 3}}"#.to_owned(),
            r#"{"r1": []}"#.to_owned(),
            r#"[]"#.to_owned(),
            r#"{"r1": {"cpu": [{"timestamp": "2014\u002d10-06", "value": 1}]}}"#.to_owned(),
        ] {
            assert!(
                resources_body(text.as_bytes(), "admin:").is_none(),
                "{text}"
            );
        }
    }

    #[test]
    fn metrics_fast_reading_agrees_with_the_general_path() {
        let ok = ms(&[json!("2014-10-06T14:33:57"), json!(1_412_606_037)]);
        let (a, b) = (
            "5a301761-f78b-46e2-8900-8b4f6fe6675a",
            "5A301761F78B46E289008B4F6FE6675A",
        );
        let bodies = [
            json!({a: ms(&[json!(1)]), "6a301761-f78b-46e2-8900-8b4f6fe6675a": ok}),
            // Two spellings of one id: their measures are merged in body order.
            json!({a: ms(&[json!(1)]), b: ms(&[json!(2)])}),
            json!({a: ms(&[json!("garbage")])}),
            json!({"not-a-uuid": ms(&[json!(1)])}),
        ];
        for body in bodies {
            let text = body.to_string();
            let fast = metrics_body(text.as_bytes()).expect("common shape");
            match (fast, parse_metrics_body(&body)) {
                (Ok(x), Ok(y)) => assert_eq!(x, y, "{body}"),
                (Err(x), Err(y)) => assert_eq!(x.description(), y.description(), "{body}"),
                (x, y) => panic!("{body}: {:?} vs {:?}", x.is_ok(), y.is_ok()),
            }
        }
        let repeated = format!(r#"{{"{a}": [], "{a}": []}}"#);
        assert!(metrics_body(repeated.as_bytes()).is_none());
    }
}
