//! Body validation with the messages of Python's `voluptuous` (shared/spec/api.md §1.5):
//! `<message>[ for dictionary value][ @ data[<path>]...]` and the path as `detail`.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// One step of the path from the body root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// An object key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A path from the body root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Path(Vec<Seg>);

impl Path {
    /// The body root.
    pub(crate) fn root() -> Self {
        Self::default()
    }

    /// This path extended by a key.
    pub(crate) fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_owned()));
        p
    }

    /// This path extended by an index.
    pub(crate) fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

/// A voluptuous-style validation failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    message: String,
    path: Path,
    /// Raised by the validator of a value directly under an object key.
    dict_value: bool,
}

impl Invalid {
    /// A value failed its validator: "for dictionary value" when it sits under a key.
    pub(crate) fn value(message: impl Into<String>, path: &Path) -> Self {
        Self {
            message: message.into(),
            dict_value: matches!(path.0.last(), Some(Seg::Key(_))),
            path: path.clone(),
        }
    }

    /// A key failed (unknown or missing): never "for dictionary value".
    pub(crate) fn key(message: impl Into<String>, path: &Path) -> Self {
        Self {
            message: message.into(),
            dict_value: false,
            path: path.clone(),
        }
    }

    /// The `reason` text.
    pub(crate) fn reason(&self) -> String {
        let mut out = self.message.clone();
        if self.dict_value {
            out.push_str(" for dictionary value");
        }
        if !self.path.0.is_empty() {
            out.push_str(" @ data");
            for seg in &self.path.0 {
                match seg {
                    Seg::Key(k) => {
                        out.push('[');
                        out.push_str(&crate::pyjson::python_repr(&Value::String(k.clone())));
                        out.push(']');
                    }
                    Seg::Index(i) => out.push_str(&format!("[{i}]")),
                }
            }
        }
        out
    }

    fn detail(&self) -> Vec<String> {
        self.path
            .0
            .iter()
            .map(|s| match s {
                Seg::Key(k) => k.clone(),
                Seg::Index(i) => i.to_string(),
            })
            .collect()
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::invalid_input(e.reason(), e.detail())
    }
}

/// The value as an object, or `expected a dictionary`.
pub(crate) fn object<'a>(v: &'a Value, path: &Path) -> Result<&'a Map<String, Value>, Invalid> {
    v.as_object()
        .ok_or_else(|| Invalid::value("expected a dictionary", path))
}

/// The value as a list, or `expected a list`.
pub(crate) fn list<'a>(v: &'a Value, path: &Path) -> Result<&'a Vec<Value>, Invalid> {
    v.as_array()
        .ok_or_else(|| Invalid::value("expected a list", path))
}

/// The value as a string, or `expected str`.
pub(crate) fn string<'a>(v: &'a Value, path: &Path) -> Result<&'a str, Invalid> {
    v.as_str()
        .ok_or_else(|| Invalid::value("expected str", path))
}

/// Python `int()` coercion: integers, floats (truncated), booleans and integer strings.
pub(crate) fn int(v: &Value, path: &Path) -> Result<i64, Invalid> {
    let bad = || Invalid::value("expected int", path);
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None => n
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.2e18)
                .map(|f| f.trunc() as i64)
                .ok_or_else(bad),
        },
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::String(s) => {
            let t = s.trim();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
                return Err(bad());
            }
            t.replace('_', "").parse().map_err(|_| bad())
        }
        Value::Null | Value::Array(_) | Value::Object(_) => Err(bad()),
    }
}

/// `value must be at least <min>` unless `i >= min`.
pub(crate) fn at_least(i: i64, min: i64, path: &Path) -> Result<i64, Invalid> {
    if i < min {
        Err(Invalid::value(
            format!("value must be at least {min}"),
            path,
        ))
    } else {
        Ok(i)
    }
}

/// `required key not provided` for the first key of `required` missing from `map`.
pub(crate) fn required_keys(
    map: &Map<String, Value>,
    required: &[&str],
    path: &Path,
) -> Result<(), Invalid> {
    match required.iter().find(|k| !map.contains_key(**k)) {
        Some(k) => Err(Invalid::key("required key not provided", &path.key(k))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reasons_follow_voluptuous() {
        let root = Path::root();
        let e = Invalid::key("extra keys not allowed", &root.key("cowsay"));
        assert_eq!(e.reason(), "extra keys not allowed @ data['cowsay']");
        assert_eq!(e.detail(), vec!["cowsay"]);
        let p = root.key("definition").index(0).key("granularity");
        let e = Invalid::value("Timespan must be positive", &p);
        assert_eq!(
            e.reason(),
            "Timespan must be positive for dictionary value @ data['definition'][0]['granularity']"
        );
        assert_eq!(e.detail(), vec!["definition", "0", "granularity"]);
        assert_eq!(
            Invalid::value("expected a dictionary", &root).reason(),
            "expected a dictionary"
        );
    }

    #[test]
    fn int_coerces_like_python() {
        let p = Path::root().key("x");
        assert_eq!(int(&json!(2), &p), Ok(2));
        assert_eq!(int(&json!(2.9), &p), Ok(2));
        assert_eq!(int(&json!("2"), &p), Ok(2));
        assert_eq!(int(&json!(" -3 "), &p), Ok(-3));
        for bad in [json!("2.5"), json!("x"), json!(null), json!([1])] {
            assert_eq!(
                int(&bad, &p).map_err(|e| e.reason()),
                Err("expected int for dictionary value @ data['x']".to_owned())
            );
        }
    }

    #[test]
    fn key_checks_report_in_order() {
        let body = json!({"b": 1, "zz": 2, "a": 3});
        let map = body.as_object().expect("object");
        let e = required_keys(map, &["a", "c"], &Path::root()).expect_err("c is missing");
        assert_eq!(e.reason(), "required key not provided @ data['c']");
    }
}
