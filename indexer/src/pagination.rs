//! Sorting and keyset pagination of listings (shared/spec/api.md §1.10): parsing `key:dir`,
//! validating keys against a model's columns, and building the ORDER BY and "strictly after the
//! marker" SQL, which is the same for every backend once NULL placement is made explicit.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, InvalidSortDirectionSnafu, Result};

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// Where NULLs go. `Default` is PostgreSQL's placement (NULL sorts as the largest value) on
/// every backend, so listings do not change with the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullsOrder {
    /// NULL as the largest value: last when ascending, first when descending.
    Default,
    /// NULLs before every value.
    First,
    /// NULLs after every value.
    Last,
}

/// One `sort` parameter: `key`, `key:asc`, `key:desc-nullslast`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The column name as given (validated against the listed model at query time).
    pub key: String,
    /// Direction.
    pub direction: SortDirection,
    /// NULL placement.
    pub nulls: NullsOrder,
}

impl SortKey {
    /// An ascending key with default NULL placement.
    pub fn asc(key: &str) -> Self {
        Self {
            key: key.to_owned(),
            direction: SortDirection::Asc,
            nulls: NullsOrder::Default,
        }
    }

    /// Whether NULLs come before values for this key.
    fn nulls_first(&self) -> bool {
        match self.nulls {
            NullsOrder::First => true,
            NullsOrder::Last => false,
            NullsOrder::Default => self.direction == SortDirection::Desc,
        }
    }
}

impl FromStr for SortKey {
    type Err = Error;

    /// Parses `key[:dir]`; the key is trimmed, a missing direction means `asc`.
    fn from_str(s: &str) -> Result<Self> {
        let (key, dir) = match s.split_once(':') {
            Some((k, d)) => (k, Some(d)),
            None => (s, None),
        };
        let (direction, nulls) = match dir.map(str::trim) {
            None | Some("asc") => (SortDirection::Asc, NullsOrder::Default),
            Some("desc") => (SortDirection::Desc, NullsOrder::Default),
            Some("asc-nullsfirst") => (SortDirection::Asc, NullsOrder::First),
            Some("asc-nullslast") => (SortDirection::Asc, NullsOrder::Last),
            Some("desc-nullsfirst") => (SortDirection::Desc, NullsOrder::First),
            Some("desc-nullslast") => (SortDirection::Desc, NullsOrder::Last),
            Some(other) => return InvalidSortDirectionSnafu { direction: other }.fail(),
        };
        Ok(Self {
            key: key.trim().to_owned(),
            direction,
            nulls,
        })
    }
}

impl fmt::Display for SortKey {
    /// The canonical `key:dir` form, as echoed in the Link header.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = match (self.direction, self.nulls) {
            (SortDirection::Asc, NullsOrder::Default) => "asc",
            (SortDirection::Desc, NullsOrder::Default) => "desc",
            (SortDirection::Asc, NullsOrder::First) => "asc-nullsfirst",
            (SortDirection::Asc, NullsOrder::Last) => "asc-nullslast",
            (SortDirection::Desc, NullsOrder::First) => "desc-nullsfirst",
            (SortDirection::Desc, NullsOrder::Last) => "desc-nullslast",
        };
        write!(f, "{}:{dir}", self.key)
    }
}

/// Sort, page size and marker of one listing request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Requested sort keys, in order; the model's unique key is appended if absent.
    pub sort: Vec<SortKey>,
    /// Maximum number of items; `None` for all (the API always passes its clamped limit).
    pub limit: Option<u64>,
    /// The unique key of the last item of the previous page, as given by the client.
    pub marker: Option<String>,
}

/// A value bound into a generated statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SqlValue {
    Null,
    Text(String),
    Int(i64),
    Real(f64),
}

/// A sortable column of a listed model.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    /// The sort key clients use.
    pub(crate) name: Cow<'static, str>,
    /// Its SQL expression (a quoted identifier for attribute columns).
    pub(crate) sql: Cow<'static, str>,
    /// NOT NULL columns skip the NULL-placement terms, so indexes stay usable.
    pub(crate) nullable: bool,
}

impl Column {
    /// A column whose SQL is its name.
    pub(crate) const fn plain(name: &'static str, nullable: bool) -> Self {
        Self {
            name: Cow::Borrowed(name),
            sql: Cow::Borrowed(name),
            nullable,
        }
    }
}

/// A sort key resolved to a whitelisted column of the listed model.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedKey {
    /// The SQL expression.
    pub(crate) column: String,
    /// The sort key name.
    pub(crate) name: String,
    nullable: bool,
    key: SortKey,
}

/// Validates `sort` against `columns` and appends `unique` (ascending) when absent.
pub(crate) fn resolve_sort(
    sort: &[SortKey],
    columns: &[Column],
    unique: &[Column],
) -> Result<Vec<ResolvedKey>> {
    let mut out = Vec::with_capacity(sort.len() + unique.len());
    for key in sort {
        let column =
            columns
                .iter()
                .find(|c| c.name == key.key)
                .ok_or_else(|| Error::InvalidSortKey {
                    key: key.key.clone(),
                })?;
        out.push(ResolvedKey {
            column: column.sql.to_string(),
            name: column.name.to_string(),
            nullable: column.nullable,
            key: key.clone(),
        });
    }
    for u in unique {
        if !out.iter().any(|k| k.name == u.name) {
            out.push(ResolvedKey {
                column: u.sql.to_string(),
                name: u.name.to_string(),
                nullable: u.nullable,
                key: SortKey::asc(&u.name),
            });
        }
    }
    Ok(out)
}

/// `ORDER BY` body with explicit NULL placement (`(c IS NULL)` sorts false before true), which
/// all three backends accept.
pub(crate) fn order_by(keys: &[ResolvedKey]) -> String {
    keys.iter()
        .map(|k| {
            let nulls = if k.key.nulls_first() { "DESC" } else { "ASC" };
            let dir = match k.key.direction {
                SortDirection::Asc => "ASC",
                SortDirection::Desc => "DESC",
            };
            if k.nullable {
                format!("({c} IS NULL) {nulls}, {c} {dir}", c = k.column)
            } else {
                format!("{} {dir}", k.column)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The condition "row sorts strictly after the marker row", given the marker's value of each
/// key. Placeholders are produced by `placeholder` so each dialect numbers them its own way;
/// the returned values are to be bound in order. `placeholder` is called exactly once per
/// returned value, in text order, so numbered placeholders (`$n`) stay in step with the binds
/// even when a disjunct is left out for a NULL marker value.
pub(crate) fn after_marker(
    keys: &[ResolvedKey],
    marker: &[SqlValue],
    mut placeholder: impl FnMut() -> String,
) -> (String, Vec<SqlValue>) {
    /// How the row compares on the key being tested.
    enum After {
        /// `c IS NOT NULL` (marker NULL, NULLs first).
        NotNull,
        /// `c <cmp> v`.
        Cmp,
        /// `(c <cmp> v OR c IS NULL)`.
        CmpOrNull,
    }
    let mut disjuncts = Vec::new();
    let mut binds = Vec::new();
    for i in 0..keys.len() {
        let k = &keys[i];
        let after = match (&marker[i], k.key.nulls_first()) {
            // Marker NULL, NULLs first: every non-NULL comes after.
            (SqlValue::Null, true) => After::NotNull,
            // Marker NULL, NULLs last: nothing comes after on this key.
            (SqlValue::Null, false) => continue,
            (_, true) => After::Cmp,
            // A NOT NULL column has no NULLs to come after the marker.
            (_, false) if !k.nullable => After::Cmp,
            (_, false) => After::CmpOrNull,
        };
        let mut conj = Vec::new();
        // Equal on every earlier key...
        for (k, v) in keys[..i].iter().zip(marker) {
            match v {
                SqlValue::Null => conj.push(format!("{} IS NULL", k.column)),
                v => {
                    conj.push(format!("{} = {}", k.column, placeholder()));
                    binds.push(v.clone());
                }
            }
        }
        // ...and strictly after on this one.
        let cmp = if k.key.direction == SortDirection::Asc {
            ">"
        } else {
            "<"
        };
        conj.push(match after {
            After::NotNull => format!("{} IS NOT NULL", k.column),
            After::Cmp => {
                binds.push(marker[i].clone());
                format!("{} {cmp} {}", k.column, placeholder())
            }
            After::CmpOrNull => {
                binds.push(marker[i].clone());
                format!(
                    "({c} {cmp} {p} OR {c} IS NULL)",
                    c = k.column,
                    p = placeholder()
                )
            }
        });
        disjuncts.push(format!("({})", conj.join(" AND ")));
    }
    if disjuncts.is_empty() {
        ("1 = 0".to_owned(), binds)
    } else {
        (format!("({})", disjuncts.join(" OR ")), binds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directions() {
        let k: SortKey = " name :desc-nullslast".parse().expect("valid");
        assert_eq!(k.key, "name");
        assert_eq!(k.direction, SortDirection::Desc);
        assert_eq!(k.nulls, NullsOrder::Last);
        assert_eq!(k.to_string(), "name:desc-nullslast");
        let k: SortKey = "id".parse().expect("valid");
        assert_eq!(k.to_string(), "id:asc");
        let e = "id:sideways".parse::<SortKey>().expect_err("invalid");
        assert!(matches!(e, Error::InvalidSortDirection { direction } if direction == "sideways"));
    }

    #[test]
    fn unknown_key_is_rejected_and_unique_appended() {
        let id = Column::plain("id", false);
        let cols = [id.clone(), Column::plain("name", true)];
        let unique = [id];
        let e =
            resolve_sort(&[SortKey::asc("nonexistent_key")], &cols, &unique).expect_err("invalid");
        assert!(matches!(e, Error::InvalidSortKey { key } if key == "nonexistent_key"));
        let keys = resolve_sort(&[SortKey::asc("name")], &cols, &unique).expect("valid");
        assert_eq!(
            keys.iter().map(|k| k.column.as_str()).collect::<Vec<_>>(),
            ["name", "id"]
        );
    }

    #[test]
    fn after_marker_numbers_only_bound_values() {
        let cols = [
            Column::plain("id", false),
            Column::plain("name", true),
            Column::plain("unit", true),
        ];
        let keys = resolve_sort(
            &[SortKey::asc("name"), SortKey::asc("unit")],
            &cols,
            &[Column::plain("id", false)],
        )
        .expect("valid");
        let mut n = 0;
        let (sql, binds) = after_marker(
            &keys,
            &[
                SqlValue::Text("a".to_owned()),
                SqlValue::Null,
                SqlValue::Text("x".to_owned()),
            ],
            || {
                n += 1;
                format!("${n}")
            },
        );
        assert_eq!(
            sql,
            "(((name > $1 OR name IS NULL)) OR (name = $2 AND unit IS NULL AND id > $3))"
        );
        assert_eq!(
            binds,
            [
                SqlValue::Text("a".to_owned()),
                SqlValue::Text("a".to_owned()),
                SqlValue::Text("x".to_owned()),
            ]
        );
    }
}
