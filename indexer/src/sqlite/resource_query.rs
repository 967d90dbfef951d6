//! Reading resources: the row source of a listing (current rows, or current rows UNION ALL
//! history rows, joined with the type's attribute tables), filters, sorting and markers over
//! it, and decoding rows into [`Resource`]s with their metrics.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use snafu::ResultExt;
use sqlx::Row;

use super::{stmt, Conn, DbRow, Pool};
use uuid::Uuid;

use super::resource_type::{load_type, view_type, TypeInfo, GENERIC};
use super::rows::{corrupt, from_micros, parse_uuid};
use super::{arguments, placeholder, BIGINT_CAST, DIALECT, METRICS_JSON, PREPARED_LISTINGS};
use crate::error::{Error, QuerySnafu, Result};
use crate::filter::Filter;
use crate::indexer::{Resource, ResourceQuery};
use crate::pagination::{self, Column, Page, SortKey, SqlValue};
use crate::resource_type::{AttributeType, AttributeValue};
use crate::sql::{Catalog, Compiler, Dialect, FieldKind, GENERIC_FIELDS};
use crate::text::{optional_text, text};

const T: &str = "resource";

/// The generic columns every row source yields, in decoding order.
const GENERIC_COLUMNS: &str = "id, type, original_resource_id, creator, user_id, project_id, \
     started_at, ended_at, revision_start, revision_end, revision";

/// The alias of an attribute column in a row source (generic names cannot collide with it).
fn attr_alias(name: &str) -> String {
    DIALECT.quote_ident(&format!("attr_{name}"))
}

/// `SELECT` of the row source of `t` (attributes only for typed views), as a subquery body.
pub(super) fn source(t: Option<&TypeInfo>, history: bool) -> String {
    let d = DIALECT;
    let typed = t.and_then(|t| Some((t, t.table()?, t.history_table()?)));
    let cols = |alias: &str| -> String {
        typed.as_ref().map_or(String::new(), |(t, _, _)| {
            t.attributes
                .keys()
                .map(|a| format!(", {alias}.{} AS {}", d.quote_ident(a), attr_alias(a)))
                .collect()
        })
    };
    let mut sql = format!(
        "SELECT r.id AS id, r.type AS type, r.original_resource_id AS original_resource_id, \
         r.creator AS creator, r.user_id AS user_id, r.project_id AS project_id, \
         r.started_at AS started_at, r.ended_at AS ended_at, \
         r.revision_start AS revision_start, CAST(NULL AS {BIGINT_CAST}) AS revision_end, \
         CAST(-1 AS {BIGINT_CAST}) AS revision{} \
         FROM resource r",
        cols("a")
    );
    if let Some((_, table, _)) = &typed {
        sql.push_str(&format!(" JOIN {table} a ON a.id = r.id"));
    }
    if history {
        sql.push_str(&format!(
            " UNION ALL SELECT h.id, h.type, h.original_resource_id, h.creator, h.user_id, \
             h.project_id, h.started_at, h.ended_at, h.revision_start, h.revision_end, \
             h.revision{} FROM resource_history h",
            cols("ah")
        ));
        if let Some((_, _, history_table)) = &typed {
            sql.push_str(&format!(
                " JOIN {history_table} ah ON ah.revision = h.revision"
            ));
        }
    }
    sql
}

/// The typed view of `t`, or `None` for the generic view.
fn typed(t: &TypeInfo) -> Option<&TypeInfo> {
    t.tablename.is_some().then_some(t)
}

fn catalog(t: &TypeInfo, typed_view: bool) -> Catalog {
    Catalog {
        type_name: t.name.clone(),
        attributes: if typed_view {
            t.attributes
                .iter()
                .map(|(k, d)| (k.clone(), (attr_alias(k), FieldKind::of(&d.attribute_type))))
                .collect()
        } else {
            BTreeMap::new()
        },
    }
}

/// Sortable columns of a listing and their kinds (api.md §1.10).
fn sort_columns(t: &TypeInfo, typed_view: bool, history: bool) -> Vec<(Column, FieldKind)> {
    let mut out: Vec<(Column, FieldKind)> = GENERIC_FIELDS
        .iter()
        .filter(|(n, _)| history || !matches!(*n, "revision" | "revision_end"))
        .map(|(n, k)| {
            let nullable = matches!(
                *n,
                "creator" | "user_id" | "project_id" | "ended_at" | "revision_end"
            );
            (Column::plain(n, nullable), *k)
        })
        .collect();
    if typed_view {
        for (name, d) in &t.attributes {
            out.push((
                Column {
                    name: name.clone().into(),
                    sql: attr_alias(name).into(),
                    nullable: true,
                },
                FieldKind::of(&d.attribute_type),
            ));
        }
    }
    out
}

fn decode_value(row: &DbRow, idx: usize, t: &AttributeType) -> Result<AttributeValue> {
    let bad = |e: sqlx::Error| corrupt(T, format!("attribute column {idx}: {e}"));
    Ok(match t {
        AttributeType::String { .. } => optional_text(row, idx)
            .map_err(bad)?
            .map_or(AttributeValue::Null, AttributeValue::String),
        AttributeType::Uuid => match optional_text(row, idx).map_err(bad)? {
            None => AttributeValue::Null,
            Some(s) => AttributeValue::Uuid(parse_uuid(T, &s)?),
        },
        AttributeType::Number { .. } => row
            .try_get::<Option<f64>, _>(idx)
            .map_err(bad)?
            .map_or(AttributeValue::Null, AttributeValue::Number),
        AttributeType::Bool => row
            .try_get::<Option<i64>, _>(idx)
            .map_err(bad)?
            .map_or(AttributeValue::Null, |b| AttributeValue::Bool(b != 0)),
        AttributeType::Datetime => match row.try_get::<Option<i64>, _>(idx).map_err(bad)? {
            None => AttributeValue::Null,
            Some(us) => AttributeValue::Datetime(from_micros(T, us)?),
        },
    })
}

fn decode_sql(row: &DbRow, idx: usize, kind: FieldKind) -> Result<SqlValue> {
    let bad = |e: sqlx::Error| corrupt(T, format!("marker column {idx}: {e}"));
    Ok(match kind {
        FieldKind::Text | FieldKind::Uuid => optional_text(row, idx)
            .map_err(bad)?
            .map_or(SqlValue::Null, SqlValue::Text),
        FieldKind::Number => match row.try_get_raw(idx).map(|v| sqlx::ValueRef::is_null(&v)) {
            Ok(true) => SqlValue::Null,
            // `revision` is an INTEGER; attribute numbers are REAL.
            _ => match row.try_get::<i64, _>(idx) {
                Ok(i) => SqlValue::Int(i),
                Err(_) => SqlValue::Real(row.try_get::<f64, _>(idx).map_err(bad)?),
            },
        },
        FieldKind::Datetime | FieldKind::Bool => row
            .try_get::<Option<i64>, _>(idx)
            .map_err(bad)?
            .map_or(SqlValue::Null, SqlValue::Int),
    })
}

/// Decodes one row of a source built by [`source`] (attributes when `t` is a typed view).
fn decode_row(row: &DbRow, t: Option<&TypeInfo>) -> Result<Resource> {
    let bad = |e: sqlx::Error| corrupt(T, e.to_string());
    let id = text(row, 0).map_err(bad)?;
    let mut attributes = BTreeMap::new();
    if let Some(t) = t {
        for (i, (name, d)) in t.attributes.iter().enumerate() {
            attributes.insert(name.clone(), decode_value(row, 11 + i, &d.attribute_type)?);
        }
    }
    let metrics_json = text(row, 11 + attributes.len()).map_err(bad)?;
    let pairs: Vec<(String, String)> =
        serde_json::from_str(&metrics_json).map_err(|e| corrupt(T, e.to_string()))?;
    let metrics = pairs
        .into_iter()
        .map(|(name, id)| Ok((name, parse_uuid("metric", &id)?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
    Ok(Resource {
        id: parse_uuid(T, &id)?,
        type_name: text(row, 1).map_err(bad)?,
        original_resource_id: text(row, 2).map_err(bad)?,
        creator: optional_text(row, 3).map_err(bad)?,
        user_id: optional_text(row, 4).map_err(bad)?,
        project_id: optional_text(row, 5).map_err(bad)?,
        started_at: from_micros(T, row.try_get(6).map_err(bad)?)?,
        ended_at: row
            .try_get::<Option<i64>, _>(7)
            .map_err(bad)?
            .map(|t| from_micros(T, t))
            .transpose()?,
        revision_start: from_micros(T, row.try_get(8).map_err(bad)?)?,
        revision_end: row
            .try_get::<Option<i64>, _>(9)
            .map_err(bad)?
            .map(|t| from_micros(T, t))
            .transpose()?,
        revision: row.try_get(10).map_err(bad)?,
        metrics,
        attributes,
    })
}

/// `details=true` on a generic listing: each resource gets its own type's attributes, from
/// the current or history table according to its revision.
async fn fill_details(conn: &mut Conn, resources: &mut [Resource]) -> Result<()> {
    let types: BTreeSet<String> = resources
        .iter()
        .filter(|r| r.type_name != GENERIC)
        .map(|r| r.type_name.clone())
        .collect();
    for type_name in types {
        let Some(t) = load_type(conn, &type_name).await? else {
            continue;
        };
        let keys: Vec<(bool, String)> = resources
            .iter()
            .filter(|r| r.type_name == type_name)
            .map(|r| {
                if r.revision < 0 {
                    (true, r.id.to_string())
                } else {
                    (false, r.revision.to_string())
                }
            })
            .collect();
        let cond = keys
            .iter()
            .map(|(current, key)| {
                if *current {
                    Filter::And(vec![
                        Filter::eq("revision", -1),
                        Filter::eq("id", key.as_str()),
                    ])
                } else {
                    Filter::eq("revision", key.parse::<i64>().unwrap_or(0))
                }
            })
            .collect();
        let found = fetch(
            conn,
            &t,
            true,
            true,
            Some(&Filter::Or(cond)),
            &Page::default(),
        )
        .await?;
        let by_key: BTreeMap<(Uuid, i64), BTreeMap<String, AttributeValue>> = found
            .into_iter()
            .map(|r| ((r.id, r.revision), r.attributes))
            .collect();
        for r in resources.iter_mut().filter(|r| r.type_name == type_name) {
            if let Some(a) = by_key.get(&(r.id, r.revision)) {
                r.attributes = a.clone();
            }
        }
    }
    Ok(())
}

/// Parses a marker: `<uuid>` or, in history listings, `<uuid>@<revision>`.
fn parse_marker(marker: &str, history: bool) -> Result<(Uuid, Option<i64>)> {
    let invalid = || Error::InvalidMarker {
        marker: marker.to_owned(),
    };
    if history {
        let (id, rev) = marker.rsplit_once('@').ok_or_else(invalid)?;
        let id = Uuid::parse_str(id).map_err(|_| invalid())?;
        Ok((id, Some(rev.parse().map_err(|_| invalid())?)))
    } else {
        Ok((Uuid::parse_str(marker).map_err(|_| invalid())?, None))
    }
}

/// Runs one listing of type `t` over `conn`: the core of every resource read.
/// `typed_view` selects the type's attributes (only meaningful for non-generic types).
pub(super) async fn fetch(
    conn: &mut Conn,
    t: &TypeInfo,
    typed_view: bool,
    history: bool,
    filter: Option<&Filter>,
    page: &Page,
) -> Result<Vec<Resource>> {
    let view = if typed_view { typed(t) } else { None };
    let src = source(view, history);
    let cat = catalog(t, view.is_some());
    let mut binds = Vec::new();
    let mut conds = Vec::new();
    if let Some(f) = filter {
        let now_ns = Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let mut c = Compiler {
            dialect: &DIALECT,
            catalog: &cat,
            binds: &mut binds,
            now_ns,
        };
        conds.push(format!("({})", c.compile(f)?));
    }
    let columns = sort_columns(t, view.is_some(), history);
    let sort = if page.sort.is_empty() {
        vec![SortKey::asc("revision_start"), SortKey::asc("started_at")]
    } else {
        page.sort.clone()
    };
    let plain: Vec<Column> = columns.iter().map(|(c, _)| c.clone()).collect();
    let mut unique = vec![Column::plain("id", false)];
    if history {
        unique.push(Column::plain("revision", false));
    }
    let keys = pagination::resolve_sort(&sort, &plain, &unique)?;
    if let Some(marker) = &page.marker {
        let (id, rev) = parse_marker(marker, history)?;
        let key_sql: Vec<&str> = keys.iter().map(|k| k.column.as_str()).collect();
        let mut sql = format!(
            "SELECT {} FROM ({src}) AS q WHERE id = ?",
            key_sql.join(", ")
        );
        let mut mbinds = vec![SqlValue::Text(id.to_string())];
        if let Some(rev) = rev {
            sql.push_str(" AND revision = ?");
            mbinds.push(SqlValue::Int(rev));
        }
        // Not cached as a prepared statement: after an attribute is dropped and re-added with
        // another type the same text yields another row type, which PostgreSQL refuses to run
        // from a cached plan.
        let row = sqlx::query_with(&stmt(&sql), arguments(mbinds)?)
            .persistent(false)
            .fetch_optional(&mut *conn)
            .await
            .context(QuerySnafu {
                op: "select marker resource",
            })?
            .ok_or_else(|| Error::InvalidMarker {
                marker: marker.clone(),
            })?;
        let mut values = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            let kind = columns
                .iter()
                .find(|(c, _)| c.name == k.name)
                .map_or(FieldKind::Number, |(_, kind)| *kind);
            values.push(decode_sql(&row, i, kind)?);
        }
        let (cond, marker_binds) = pagination::after_marker(&keys, &values, placeholder);
        conds.push(cond);
        binds.extend(marker_binds);
    }
    let attr_cols: String = view.map_or(String::new(), |t| {
        t.attributes
            .keys()
            .map(|a| format!(", {}", attr_alias(a)))
            .collect()
    });
    let mut sql = format!(
        "SELECT {GENERIC_COLUMNS}{attr_cols}, {METRICS_JSON} AS q_metrics FROM ({src}) AS q"
    );
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(" ORDER BY ");
    sql.push_str(&pagination::order_by(&keys));
    if let Some(limit) = page.limit {
        sql.push_str(" LIMIT ?");
        binds.push(SqlValue::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    }
    let rows = sqlx::query_with(&stmt(&sql), arguments(binds)?)
        .persistent(PREPARED_LISTINGS)
        .fetch_all(&mut *conn)
        .await
        .context(QuerySnafu {
            op: "list resources",
        })?;
    rows.iter().map(|r| decode_row(r, view)).collect()
}

/// The current resource `id` in the view of `type_name` (`None` / `generic`: any type,
/// generic view), or `None`.
pub(super) async fn fetch_one(
    conn: &mut Conn,
    type_name: Option<&str>,
    id: Uuid,
) -> Result<Option<Resource>> {
    let name = type_name.unwrap_or(GENERIC);
    let Some(t) = view_type(conn, name).await? else {
        return Ok(None);
    };
    let filter = Filter::eq("id", id.to_string());
    Ok(
        fetch(conn, &t, true, false, Some(&filter), &Page::default())
            .await?
            .into_iter()
            .next(),
    )
}

pub(super) async fn list_resources(pool: &Pool, q: &ResourceQuery) -> Result<Vec<Resource>> {
    let mut conn = pool.acquire().await.context(QuerySnafu { op: "acquire" })?;
    let t =
        view_type(&mut conn, &q.type_name)
            .await?
            .ok_or_else(|| Error::ResourceTypeNotFound {
                name: q.type_name.clone(),
            })?;
    let mut out = fetch(&mut conn, &t, true, q.history, q.filter.as_ref(), &q.page).await?;
    if q.details && t.tablename.is_none() {
        fill_details(&mut conn, &mut out).await?;
    }
    Ok(out)
}
