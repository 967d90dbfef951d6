//! Backend-neutral SQL generation for resource searches: the [`Dialect`] each backend
//! implements (placeholders, identifier quoting, LIKE), the catalog of searchable fields of a
//! resource listing, and the compiler from a [`Filter`] to a WHERE clause with bound values
//! (no value is ever interpolated into SQL text).

use std::collections::BTreeMap;

use gnocchi_core::time::{parse_python_float, parse_timespan_positive, parse_timestamp, TimeInput};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::filter::{CmpOp, Filter};
use crate::pagination::SqlValue;
use crate::resource_type::{parse_uuid, AttributeType, AttributeValue};

/// What differs between SQL backends in generated statements.
pub(crate) trait Dialect {
    /// The placeholder of the `n`-th bound value (1-based).
    fn placeholder(&self, n: usize) -> String;

    /// `name` as a quoted identifier (any text, including quotes, is safe).
    fn quote_ident(&self, name: &str) -> String;

    /// A case-sensitive SQL LIKE of `expr` against the bound value at `placeholder`, and the
    /// value to bind for `pattern` (a LIKE pattern with `%` and `_`).
    fn like(&self, expr: &str, placeholder: &str, pattern: &str) -> (String, String);

    /// The case-insensitive variant of [`like`](Self::like).
    fn ilike(&self, expr: &str, placeholder: &str, pattern: &str) -> (String, String);
}

/// How a field's values are stored, hence converted before comparison (api.md §10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// Canonical lowercase hyphenated UUID text.
    Uuid,
    /// Text; JSON numbers and booleans compare as their Python `str()`.
    Text,
    /// INTEGER microseconds since the epoch.
    Datetime,
    /// REAL.
    Number,
    /// INTEGER 0/1.
    Bool,
}

impl FieldKind {
    /// The storage kind of an attribute type.
    pub(crate) fn of(t: &AttributeType) -> Self {
        match t {
            AttributeType::String { .. } => FieldKind::Text,
            AttributeType::Uuid => FieldKind::Uuid,
            AttributeType::Number { .. } => FieldKind::Number,
            AttributeType::Bool => FieldKind::Bool,
            AttributeType::Datetime => FieldKind::Datetime,
        }
    }
}

/// The generic columns of a resource listing row, with their kinds; `revision_end` and
/// `revision` are meaningful in history listings.
pub(crate) const GENERIC_FIELDS: [(&str, FieldKind); 11] = [
    ("id", FieldKind::Uuid),
    ("type", FieldKind::Text),
    ("original_resource_id", FieldKind::Text),
    ("creator", FieldKind::Text),
    ("user_id", FieldKind::Text),
    ("project_id", FieldKind::Text),
    ("started_at", FieldKind::Datetime),
    ("ended_at", FieldKind::Datetime),
    ("revision_start", FieldKind::Datetime),
    ("revision_end", FieldKind::Datetime),
    ("revision", FieldKind::Number),
];

/// The searchable fields of one listing: generic columns plus the listed type's attributes,
/// each an SQL expression over the listing's row source.
pub(crate) struct Catalog {
    /// The listed type (for `UnknownAttribute`).
    pub(crate) type_name: String,
    /// Attribute name → (SQL expression, kind).
    pub(crate) attributes: BTreeMap<String, (String, FieldKind)>,
}

impl Catalog {
    fn field(&self, name: &str) -> Result<(String, FieldKind)> {
        if let Some((n, kind)) = GENERIC_FIELDS.iter().find(|(n, _)| *n == name) {
            return Ok(((*n).to_owned(), *kind));
        }
        self.attributes
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownAttribute {
                type_name: self.type_name.clone(),
                attribute: name.to_owned(),
            })
    }
}

/// Python's `str()` of a JSON scalar, as Gnocchi compares it with string columns.
fn python_str(v: &Value) -> Option<String> {
    Some(match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => gnocchi_core::time::python_float_repr(f),
            _ => return None,
        },
        Value::Null | Value::Array(_) | Value::Object(_) => return None,
    })
}

/// Converts one non-null filter value to the stored form of `kind`.
pub(crate) fn convert(field: &str, kind: FieldKind, v: &Value, now_ns: i64) -> Result<SqlValue> {
    let invalid = || Error::InvalidFilterValue {
        field: field.to_owned(),
        value: v.clone(),
    };
    Ok(match kind {
        FieldKind::Text => SqlValue::Text(python_str(v).ok_or_else(invalid)?),
        FieldKind::Uuid => {
            let s = v.as_str().ok_or_else(invalid)?;
            SqlValue::Text(parse_uuid(s).ok_or_else(invalid)?.to_string())
        }
        FieldKind::Datetime => {
            let input = TimeInput::from_json(v).ok_or_else(invalid)?;
            let ns = parse_timestamp(&input, now_ns).map_err(|_| invalid())?;
            SqlValue::Int(ns.div_euclid(1000))
        }
        FieldKind::Number => SqlValue::Real(match v {
            Value::Number(n) => n.as_f64().ok_or_else(invalid)?,
            Value::String(s) => parse_python_float(s).ok_or_else(invalid)?,
            Value::Bool(b) => f64::from(u8::from(*b)),
            _ => return Err(invalid()),
        }),
        FieldKind::Bool => SqlValue::Int(i64::from(v.as_bool().ok_or_else(invalid)?)),
    })
}

/// The stored form of an attribute value.
pub(crate) fn attribute_to_sql(v: &AttributeValue) -> SqlValue {
    match v {
        AttributeValue::Null => SqlValue::Null,
        AttributeValue::String(s) => SqlValue::Text(s.clone()),
        AttributeValue::Uuid(u) => SqlValue::Text(u.to_string()),
        AttributeValue::Number(n) => SqlValue::Real(*n),
        AttributeValue::Bool(b) => SqlValue::Int(i64::from(*b)),
        AttributeValue::Datetime(t) => SqlValue::Int(t.timestamp_micros()),
    }
}

/// Compiles filters against one catalog, appending bound values to `binds`.
pub(crate) struct Compiler<'a> {
    pub(crate) dialect: &'a dyn Dialect,
    pub(crate) catalog: &'a Catalog,
    pub(crate) binds: &'a mut Vec<SqlValue>,
    /// "Now" for relative timestamps (`-1 day`), in nanoseconds.
    pub(crate) now_ns: i64,
}

impl Compiler<'_> {
    /// Binds `v` and returns its placeholder.
    pub(crate) fn bind(&mut self, v: SqlValue) -> String {
        self.binds.push(v);
        self.dialect.placeholder(self.binds.len())
    }

    /// The SQL condition for `f`.
    pub(crate) fn compile(&mut self, f: &Filter) -> Result<String> {
        match f {
            Filter::Cmp { op, field, value } => self.cmp(*op, field, value),
            Filter::In { field, values } => {
                if let Some(pseudo) = self.pseudo(field, "in", values.first()) {
                    return pseudo;
                }
                let (sql, kind) = self.catalog.field(field)?;
                let mut marks = Vec::new();
                for v in values.iter().filter(|v| !v.is_null()) {
                    let v = convert(field, kind, v, self.now_ns)?;
                    marks.push(self.bind(v));
                }
                if marks.is_empty() {
                    return Ok("1 = 0".to_owned());
                }
                Ok(format!("{sql} IN ({})", marks.join(", ")))
            }
            Filter::Like { field, pattern } => self.like(field, pattern, false),
            Filter::Ilike { field, pattern } => self.like(field, pattern, true),
            Filter::And(fs) => self.join(fs, " AND ", "1 = 1"),
            Filter::Or(fs) => self.join(fs, " OR ", "1 = 0"),
            Filter::Not(sub) => Ok(format!("NOT ({})", self.compile(sub)?)),
        }
    }

    fn join(&mut self, fs: &[Filter], sep: &str, empty: &str) -> Result<String> {
        if fs.is_empty() {
            return Ok(empty.to_owned());
        }
        let parts = fs
            .iter()
            .map(|f| self.compile(f).map(|s| format!("({s})")))
            .collect::<Result<Vec<_>>>()?;
        Ok(parts.join(sep))
    }

    fn cmp(&mut self, op: CmpOp, field: &str, value: &Value) -> Result<String> {
        let name = match op {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => "order",
        };
        if field == "lifespan" {
            return self.lifespan(op, value);
        }
        if let Some(pseudo) = self.pseudo(field, name, Some(value)) {
            return pseudo;
        }
        let (sql, kind) = self.catalog.field(field)?;
        if value.is_null() {
            return Ok(match op {
                CmpOp::Eq => format!("{sql} IS NULL"),
                CmpOp::Ne => format!("{sql} IS NOT NULL"),
                // Ordered comparisons with NULL are never true.
                CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => "1 = 0".to_owned(),
            });
        }
        let v = convert(field, kind, value, self.now_ns)?;
        let p = self.bind(v);
        Ok(match op {
            CmpOp::Eq => format!("{sql} = {p}"),
            // api.md §10.2: `ne` matches NULL fields too.
            CmpOp::Ne => format!("({sql} IS NULL OR {sql} <> {p})"),
            CmpOp::Lt => format!("{sql} < {p}"),
            CmpOp::Le => format!("{sql} <= {p}"),
            CmpOp::Gt => format!("{sql} > {p}"),
            CmpOp::Ge => format!("{sql} >= {p}"),
        })
    }

    /// api.md §10.3: `ended_at - started_at` against a positive timespan; resources without
    /// an end never match.
    fn lifespan(&mut self, op: CmpOp, value: &Value) -> Result<String> {
        let us = TimeInput::from_json(value)
            .and_then(|i| parse_timespan_positive(&i).ok())
            .ok_or_else(|| Error::InvalidFilterValue {
                field: "lifespan".to_owned(),
                value: value.clone(),
            })?
            .div_euclid(1000);
        let sqlop = match op {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        };
        let p = self.bind(SqlValue::Int(us));
        Ok(format!("(ended_at - started_at) {sqlop} {p}"))
    }

    fn like(&mut self, field: &str, pattern: &Value, ci: bool) -> Result<String> {
        if let Some(pseudo) = self.pseudo(field, "like", Some(pattern)) {
            return pseudo;
        }
        let (sql, _) = self.catalog.field(field)?;
        if pattern.is_null() {
            return Ok("1 = 0".to_owned());
        }
        let text = python_str(pattern).ok_or_else(|| Error::InvalidFilterValue {
            field: field.to_owned(),
            value: pattern.clone(),
        })?;
        Ok(self.like_sql(&sql, &text, ci))
    }

    fn like_sql(&mut self, sql: &str, pattern: &str, ci: bool) -> String {
        // Reserve the placeholder first so numbered dialects stay in order.
        self.binds.push(SqlValue::Null);
        let n = self.binds.len();
        let p = self.dialect.placeholder(n);
        let (cond, value) = if ci {
            self.dialect.ilike(sql, &p, pattern)
        } else {
            self.dialect.like(sql, &p, pattern)
        };
        self.binds[n - 1] = SqlValue::Text(value);
        cond
    }

    /// The pseudo-fields of api.md §10.3, or `None` for a real field. `op` is `eq`, `ne`,
    /// `like`, `in` or `order`.
    fn pseudo(&mut self, field: &str, op: &str, value: Option<&Value>) -> Option<Result<String>> {
        let invalid = || Error::InvalidFilterValue {
            field: field.to_owned(),
            value: value.cloned().unwrap_or(Value::Null),
        };
        match field {
            // Comparisons are handled in `cmp`; `in` and `like` make no sense on a timespan.
            "lifespan" => Some(Err(invalid())),
            "created_by_user_id" | "created_by_project_id" => {
                let Some(text) = value.and_then(python_str) else {
                    return Some(Err(invalid()));
                };
                // Embedded without escaping, as Gnocchi does.
                let pattern = if field == "created_by_user_id" {
                    format!("{text}:%")
                } else {
                    format!("%:{text}")
                };
                match op {
                    "eq" | "like" => Some(Ok(self.like_sql("creator", &pattern, false))),
                    "ne" => Some(Ok(format!(
                        "NOT ({})",
                        self.like_sql("creator", &pattern, false)
                    ))),
                    _ => Some(Err(invalid())),
                }
            }
            _ => None,
        }
    }
}
