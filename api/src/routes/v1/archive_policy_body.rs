//! Archive policy bodies: schema validation, definition derivation and aggregation method
//! resolution (shared/spec/api.md §4.2, §4.5; engine.md §1.3), and the JSON representation
//! (§4.1).

use std::collections::BTreeSet;

use gnocchi_core::time::TimeInput;
use gnocchi_core::time::{format_seconds_float, format_timespan_python, parse_timespan_positive};
use gnocchi_core::{AggregationMethod, ArchivePolicy, ArchivePolicyItem};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::validate::{self, Invalid, Path};

/// One definition item as submitted: any of granularity, points, timespan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ItemInput {
    granularity_ns: Option<i64>,
    points: Option<i64>,
    timespan_ns: Option<i64>,
}

fn timespan(v: &Value, path: &Path) -> Result<i64, Invalid> {
    let input =
        TimeInput::from_json(v).ok_or_else(|| Invalid::value("Unable to parse timespan", path))?;
    parse_timespan_positive(&input).map_err(|e| Invalid::value(e.to_string(), path))
}

fn definition_schema(v: &Value, path: &Path) -> Result<Vec<ItemInput>, Invalid> {
    let items = validate::list(v, path)?;
    if items.is_empty() {
        return Err(Invalid::value("length of value must be at least 1", path));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let ipath = path.index(i);
            let map = validate::object(item, &ipath)?;
            let mut out = ItemInput::default();
            for (k, v) in map {
                let kpath = ipath.key(k);
                // A null is the same as leaving the key out.
                if v.is_null() && ["granularity", "points", "timespan"].contains(&k.as_str()) {
                    continue;
                }
                match k.as_str() {
                    "granularity" => out.granularity_ns = Some(timespan(v, &kpath)?),
                    "timespan" => out.timespan_ns = Some(timespan(v, &kpath)?),
                    "points" => {
                        out.points = Some(validate::at_least(validate::int(v, &kpath)?, 1, &kpath)?)
                    }
                    _ => return Err(Invalid::key("extra keys not allowed", &kpath)),
                }
            }
            Ok(out)
        })
        .collect()
}

/// engine.md §1.3 derivation of the missing member of an item.
fn derive(item: ItemInput) -> Result<ArchivePolicyItem, ApiError> {
    let at_least_two =
        || ApiError::bad_request("At least two of granularity/points/timespan must be provided");
    let points = item.points.map(|p| p as u64);
    match (item.granularity_ns, points, item.timespan_ns) {
        (Some(g), None, None) => Ok(ArchivePolicyItem {
            granularity_ns: g,
            points: None,
        }),
        (Some(g), Some(p), None) => Ok(ArchivePolicyItem {
            granularity_ns: g,
            points: Some(p),
        }),
        (Some(g), None, Some(t)) => {
            let p = (t as f64 / g as f64).trunc() as u64;
            if p == 0 {
                return Err(ApiError::bad_request("Calculated number of points is < 0"));
            }
            Ok(ArchivePolicyItem {
                granularity_ns: g,
                points: Some(p),
            })
        }
        (None, Some(p), Some(t)) => {
            let g = (t as f64 / p as f64).trunc() as i64;
            if g <= 0 {
                return Err(ApiError::bad_request("Granularity should be > 0"));
            }
            Ok(ArchivePolicyItem {
                granularity_ns: g,
                points: Some(p),
            })
        }
        (Some(g), Some(p), Some(t)) => {
            if g.checked_mul(p as i64) != Some(t) {
                return Err(ApiError::bad_request("timespan ≠ granularity × points"));
            }
            Ok(ArchivePolicyItem {
                granularity_ns: g,
                points: Some(p),
            })
        }
        (None, None, _) | (None, Some(_), None) => Err(at_least_two()),
    }
}

/// Derives every item, then rejects duplicate granularities.
fn derive_definition(items: &[ItemInput]) -> Result<Vec<ArchivePolicyItem>, ApiError> {
    let derived = items
        .iter()
        .map(|i| derive(*i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = BTreeSet::new();
    for d in &derived {
        if !seen.insert(d.granularity_ns) {
            return Err(ApiError::bad_request(format!(
                "More than one archive policy uses granularity `{}'",
                format_seconds_float(d.granularity_ns)
            )));
        }
    }
    Ok(derived)
}

/// One entry of `aggregation_methods`: `*`, a method, or `+`/`-` and a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MethodEntry {
    All,
    Plain(AggregationMethod),
    Add(AggregationMethod),
    Remove(AggregationMethod),
}

fn method_entries(v: &Value, path: &Path) -> Result<Vec<MethodEntry>, Invalid> {
    validate::list(v, path)?
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let epath = path.index(i);
            let s = validate::string(e, &epath)?;
            let bad = || {
                Invalid::value(
                    format!("Invalid value for aggregation_methods: {s} is not a valid method"),
                    &epath,
                )
            };
            if s == "*" {
                return Ok(MethodEntry::All);
            }
            let (ctor, name): (fn(AggregationMethod) -> MethodEntry, &str) =
                if let Some(n) = s.strip_prefix('+') {
                    (MethodEntry::Add, n)
                } else if let Some(n) = s.strip_prefix('-') {
                    (MethodEntry::Remove, n)
                } else {
                    (MethodEntry::Plain, s)
                };
            name.parse().map(ctor).map_err(|_| bad())
        })
        .collect()
}

/// engine.md §1.3 resolution; prefixed entries never end up in the set (Appendix D).
fn resolve_methods(
    entries: &[MethodEntry],
    defaults: &[AggregationMethod],
) -> Vec<AggregationMethod> {
    let mut set: BTreeSet<AggregationMethod> = if entries.contains(&MethodEntry::All) {
        AggregationMethod::all().into_iter().collect()
    } else if entries
        .iter()
        .all(|e| matches!(e, MethodEntry::Add(_) | MethodEntry::Remove(_)))
    {
        defaults.iter().copied().collect()
    } else {
        entries
            .iter()
            .filter_map(|e| match e {
                MethodEntry::Plain(m) => Some(*m),
                _ => None,
            })
            .collect()
    };
    for e in entries {
        match e {
            MethodEntry::Add(m) => {
                set.insert(*m);
            }
            MethodEntry::Remove(m) => {
                set.remove(m);
            }
            MethodEntry::All | MethodEntry::Plain(_) => {}
        }
    }
    set.into_iter().collect()
}

/// `POST /v1/archive_policy` body → the policy to create.
pub(crate) fn parse_create(
    body: &Value,
    defaults: &[AggregationMethod],
) -> Result<ArchivePolicy, ApiError> {
    let root = Path::root();
    let map = validate::object(body, &root)?;
    let mut name = None;
    let mut back_window = 0;
    let mut methods = None;
    let mut definition = None;
    for (k, v) in map {
        let p = root.key(k);
        match k.as_str() {
            "name" => name = Some(validate::string(v, &p)?.to_owned()),
            "back_window" => back_window = validate::at_least(validate::int(v, &p)?, 0, &p)?,
            "aggregation_methods" => methods = Some(method_entries(v, &p)?),
            "definition" => definition = Some(definition_schema(v, &p)?),
            _ => return Err(Invalid::key("extra keys not allowed", &p).into()),
        }
    }
    validate::required_keys(map, &["name", "definition"], &root)?;
    let missing = |k: &str| Invalid::key("required key not provided", &root.key(k));
    let name = name.ok_or_else(|| missing("name"))?;
    let definition = definition.ok_or_else(|| missing("definition"))?;
    let aggregation_methods = match methods {
        Some(entries) if !entries.is_empty() => resolve_methods(&entries, defaults),
        _ => {
            let mut d = defaults.to_vec();
            d.sort();
            d.dedup();
            d
        }
    };
    Ok(ArchivePolicy {
        name,
        back_window: back_window as u64,
        definition: derive_definition(&definition)?,
        aggregation_methods,
    })
}

/// `PATCH /v1/archive_policy/{name}` body applied to `current` (only retention and
/// `back_window` may change).
pub(crate) fn parse_update(
    body: &Value,
    current: &ArchivePolicy,
) -> Result<ArchivePolicy, ApiError> {
    let root = Path::root();
    let map = validate::object(body, &root)?;
    let mut back_window = None;
    let mut definition = None;
    for (k, v) in map {
        let p = root.key(k);
        match k.as_str() {
            "back_window" => back_window = Some(validate::at_least(validate::int(v, &p)?, 0, &p)?),
            "definition" => definition = Some(definition_schema(v, &p)?),
            _ => return Err(Invalid::key("extra keys not allowed", &p).into()),
        }
    }
    validate::required_keys(map, &["definition"], &root)?;
    let definition = definition
        .ok_or_else(|| Invalid::key("required key not provided", &root.key("definition")))?;
    let definition = derive_definition(&definition)?;
    let no_change = |why: String| {
        ApiError::bad_request(format!(
            "Archive policy {} does not support change: {why}",
            current.name
        ))
    };
    if definition.len() != current.definition.len() {
        return Err(no_change("Cannot add or drop granularities".into()));
    }
    let mut old: Vec<i64> = current
        .definition
        .iter()
        .map(|d| d.granularity_ns)
        .collect();
    let mut new: Vec<i64> = definition.iter().map(|d| d.granularity_ns).collect();
    old.sort_unstable();
    new.sort_unstable();
    if let Some((o, _)) = old.iter().zip(&new).find(|(o, n)| o != n) {
        return Err(no_change(format!(
            "{} granularity interval was changed",
            format_seconds_float(*o)
        )));
    }
    Ok(ArchivePolicy {
        name: current.name.clone(),
        back_window: back_window.map_or(current.back_window, |b| b as u64),
        definition,
        aggregation_methods: current.aggregation_methods.clone(),
    })
}

/// The representation of §4.1.
pub(crate) fn to_json(p: &ArchivePolicy) -> Value {
    let definition: Vec<Value> = p
        .definition
        .iter()
        .map(|d| {
            json!({
                "timespan": d.timespan_ns().map(format_timespan_python),
                "granularity": format_timespan_python(d.granularity_ns),
                "points": d.points,
            })
        })
        .collect();
    let methods: Vec<String> = p
        .aggregation_methods
        .iter()
        .map(ToString::to_string)
        .collect();
    json!({
        "name": p.name,
        "back_window": p.back_window,
        "definition": definition,
        "aggregation_methods": methods,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::ResponseError;

    fn defaults() -> Vec<AggregationMethod> {
        ["mean", "min", "max", "sum", "std", "count"]
            .iter()
            .map(|m| m.parse().expect("valid"))
            .collect()
    }

    fn create(body: Value) -> Result<ArchivePolicy, ApiError> {
        parse_create(&body, &defaults())
    }

    fn reason(e: ApiError) -> String {
        match e.description() {
            crate::error::Description::Object { reason, .. } => reason.clone().unwrap_or_default(),
            crate::error::Description::Text(t) => t.clone(),
            crate::error::Description::Empty => String::new(),
        }
    }

    #[test]
    fn derives_definitions_like_gnocchi() {
        let p = create(json!({"name": "x", "definition": [
            {"granularity": "1 minute", "points": 20},
            {"timespan": "1 hour", "points": 1000},
            {"timespan": "1 hour", "granularity": "7s"},
            {"granularity": 10, "points": 20},
            {"granularity": "2 second"},
        ]}))
        .expect("valid");
        let j = to_json(&p);
        let d = &j["definition"];
        assert_eq!(
            d[0],
            json!({"timespan": "0:20:00", "granularity": "0:01:00", "points": 20})
        );
        assert_eq!(d[1]["granularity"], "0:00:03.600000");
        assert_eq!(d[1]["timespan"], "1:00:00");
        assert_eq!(
            d[2],
            json!({"timespan": "0:59:58", "granularity": "0:00:07", "points": 514})
        );
        assert_eq!(d[3]["timespan"], "0:03:20");
        assert_eq!(
            d[4],
            json!({"timespan": null, "granularity": "0:00:02", "points": null})
        );
    }

    #[test]
    fn rejects_bad_definitions() {
        let e = create(json!({"name": "x", "definition": [{"granularity": 0, "points": 60}]}))
            .expect_err("granularity 0");
        assert_eq!(e.status_code().as_u16(), 400);
        assert!(reason(e).starts_with("Timespan must be positive for dictionary value"));
        let e = create(json!({"name": "x", "definition": [{"granularity": 10, "points": 0}]}))
            .expect_err("points 0");
        assert!(reason(e).starts_with("value must be at least 1 for dictionary value"));
        let e = create(json!({"name": "x", "definition": [
            {"granularity": "1 second", "points": 60, "timespan": "0:01:01"}]}))
        .expect_err("inconsistent");
        assert_eq!(reason(e), "timespan ≠ granularity × points");
        let e = create(json!({"name": "x", "definition": [
            {"granularity": "2 hour", "timespan": "1 hour"}]}))
        .expect_err("no points");
        assert_eq!(reason(e), "Calculated number of points is < 0");
        let e = create(json!({"name": "x", "definition": [
            {"granularity": "1 second", "points": 60}, {"granularity": "1 second", "points": 120}]}))
        .expect_err("duplicate");
        assert_eq!(
            reason(e),
            "More than one archive policy uses granularity `1.0'"
        );
        let e = create(json!({"name": "x", "definition": [{"points": 5}]})).expect_err("one");
        assert_eq!(
            reason(e),
            "At least two of granularity/points/timespan must be provided"
        );
        let e = create(json!({"cowsay": "moo"})).expect_err("extra");
        assert_eq!(reason(e), "extra keys not allowed @ data['cowsay']");
        let e = create(json!({"name": "m"})).expect_err("missing");
        assert_eq!(reason(e), "required key not provided @ data['definition']");
        let e = create(json!({"name": "m", "definition": "foobar"})).expect_err("not a list");
        assert_eq!(
            reason(e),
            "expected a list for dictionary value @ data['definition']"
        );
        let e = create(json!({"name": "m", "definition": [{"cowsay": "moo"}]})).expect_err("key");
        assert_eq!(
            reason(e),
            "extra keys not allowed @ data['definition'][0]['cowsay']"
        );
        let e = create(json!({"name": "m", "definition": [{"granularity": "1 shenanigan"}]}))
            .expect_err("unit");
        assert!(reason(e).starts_with("Unable to parse timespan for dictionary value"));
        let e = create(json!({"name": "m", "aggregation_methods": ["wtf"],
            "definition": [{"granularity": 1}]}))
        .expect_err("method");
        assert_eq!(e.status_code().as_u16(), 400);
    }

    #[test]
    fn resolves_aggregation_methods() {
        let names = |body: Value| -> Vec<String> {
            create(body)
                .expect("valid")
                .aggregation_methods
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let def = json!([{"granularity": 1}]);
        assert_eq!(
            names(json!({"name": "a", "definition": def, "aggregation_methods": ["-max", "-min"]})),
            vec!["mean", "sum", "std", "count"]
        );
        assert_eq!(
            names(json!({"name": "a", "definition": def,
                "aggregation_methods": ["rate:mean", "rate:last"]})),
            vec!["rate:mean", "rate:last"]
        );
        assert_eq!(
            names(json!({"name": "a", "definition": def, "aggregation_methods": ["mean", "+max"]})),
            vec!["mean", "max"]
        );
        let all = create(json!({"name": "a", "definition": def,
            "aggregation_methods": ["*", "-mean"]}))
        .expect("valid");
        assert_eq!(all.aggregation_methods.len(), 215);
    }

    #[test]
    fn updates_change_only_retention() {
        let current = create(json!({"name": "medium", "definition": [
            {"granularity": "1 second", "points": 20}, {"granularity": "2 second"}]}))
        .expect("valid");
        let e = parse_update(
            &json!({"definition": [{"granularity": "1 second", "points": 50}]}),
            &current,
        )
        .expect_err("dropped");
        assert_eq!(
            reason(e),
            "Archive policy medium does not support change: Cannot add or drop granularities"
        );
        let e = parse_update(
            &json!({"definition": [{"granularity": "5 second", "points": 20},
                {"granularity": "2 second"}]}),
            &current,
        )
        .expect_err("changed");
        assert_eq!(
            reason(e),
            "Archive policy medium does not support change: 1.0 granularity interval was changed"
        );
        let p = parse_update(
            &json!({"definition": [{"granularity": "1 second", "points": 50},
                {"granularity": "2 second"}], "back_window": 2}),
            &current,
        )
        .expect("valid");
        assert_eq!(p.definition[0].points, Some(50));
        assert_eq!(p.back_window, 2);
        let e = parse_update(&json!({"definition": [], "name": "x"}), &current)
            .expect_err("empty definition");
        assert!(reason(e).starts_with("length of value must be at least 1"));
    }
}
