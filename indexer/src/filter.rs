//! The resource search filter (shared/spec/api.md §10.2–§10.4) as an AST. The API parses the
//! JSON and string syntaxes into it (with Gnocchi's validation messages); each SQL backend
//! compiles it with bound values, converting each value to its field's type.

use serde_json::Value;

/// A comparison operator; the API folds the synonyms (`==`, `eq`, `≥`, ...) into these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`; with `null` → IS NULL.
    Eq,
    /// `!=`, matching NULLs too; with `null` → IS NOT NULL.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl CmpOp {
    /// Parses any of Gnocchi's spellings (§10.2).
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "=" | "==" | "eq" => CmpOp::Eq,
            "!=" | "≠" | "ne" => CmpOp::Ne,
            "<" | "lt" => CmpOp::Lt,
            "<=" | "≤" | "le" => CmpOp::Le,
            ">" | "gt" => CmpOp::Gt,
            ">=" | "≥" | "ge" => CmpOp::Ge,
            _ => return None,
        })
    }
}

/// A filter over resources (or revisions, in history searches).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `{op: {field: value}}`.
    Cmp {
        /// The operator.
        op: CmpOp,
        /// A generic column, an attribute of the searched type or a pseudo-field (§10.3).
        field: String,
        /// The JSON scalar as given; converted to the field's type when compiled.
        value: Value,
    },
    /// `{"in": {field: [values]}}`; an empty list matches nothing.
    In {
        /// The field.
        field: String,
        /// The JSON scalars as given.
        values: Vec<Value>,
    },
    /// `{"like": {field: pattern}}`: `%` and `_` wildcards, case-sensitive.
    Like {
        /// The field.
        field: String,
        /// The pattern (non-strings are converted like string values).
        pattern: Value,
    },
    /// Case-insensitive `like`.
    Ilike {
        /// The field.
        field: String,
        /// The pattern.
        pattern: Value,
    },
    /// All of; an empty list is true.
    And(Vec<Filter>),
    /// Any of; an empty list is false.
    Or(Vec<Filter>),
    /// SQL `NOT` (three-valued: not of a comparison on NULL is not true).
    Not(Box<Filter>),
}

impl Filter {
    /// `{op: {field: value}}`.
    pub fn cmp(op: CmpOp, field: &str, value: impl Into<Value>) -> Self {
        Filter::Cmp {
            op,
            field: field.to_owned(),
            value: value.into(),
        }
    }

    /// `{"=": {field: value}}`.
    pub fn eq(field: &str, value: impl Into<Value>) -> Self {
        Filter::cmp(CmpOp::Eq, field, value)
    }

    /// Rewrites, in place, every value compared with `field` (the API transforms `id` values
    /// with the UUID5 rule of §1.9 this way).
    pub fn map_values(&mut self, field: &str, f: &mut dyn FnMut(&Value) -> Value) {
        match self {
            Filter::Cmp {
                field: fl, value, ..
            } if fl == field => *value = f(value),
            Filter::In { field: fl, values } if fl == field => {
                for v in values {
                    *v = f(v);
                }
            }
            Filter::Like {
                field: fl, pattern, ..
            }
            | Filter::Ilike {
                field: fl, pattern, ..
            } if fl == field => *pattern = f(pattern),
            Filter::And(fs) | Filter::Or(fs) => {
                for sub in fs {
                    sub.map_values(field, f);
                }
            }
            Filter::Not(sub) => sub.map_values(field, f),
            Filter::Cmp { .. } | Filter::In { .. } | Filter::Like { .. } | Filter::Ilike { .. } => {
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn synonyms_and_value_mapping() {
        assert_eq!(CmpOp::from_name("≥"), Some(CmpOp::Ge));
        assert_eq!(CmpOp::from_name("=="), Some(CmpOp::Eq));
        assert_eq!(CmpOp::from_name("like"), None);
        let mut f = Filter::And(vec![
            Filter::eq("id", "a"),
            Filter::Not(Box::new(Filter::In {
                field: "id".into(),
                values: vec![json!("b")],
            })),
            Filter::eq("user_id", "a"),
        ]);
        f.map_values("id", &mut |v| {
            json!(format!("{}!", v.as_str().unwrap_or("")))
        });
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::eq("id", "a!"),
                Filter::Not(Box::new(Filter::In {
                    field: "id".into(),
                    values: vec![json!("b!")],
                })),
                Filter::eq("user_id", "a"),
            ])
        );
    }
}
