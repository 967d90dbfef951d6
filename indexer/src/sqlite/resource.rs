//! Writing resources (api.md §9): creation with metrics, PATCH with revisions, deletion (one
//! or by filter) and metric appends. Every write is one `BEGIN IMMEDIATE` transaction, so
//! concurrent PATCHes of one resource serialise and each sees the previous one's result.

use std::collections::BTreeMap;

use super::{stmt, Conn, Pool};
use chrono::{DateTime, Utc};
use gnocchi_core::Metric;
use snafu::ResultExt;
use uuid::Uuid;

use super::metric::insert_metric;
use super::resource_query::{fetch_one, source};
use super::resource_type::{load_type, require_type, TypeInfo, GENERIC};
use super::rows::{now, to_micros, MetricRow, METRIC_COLUMNS};
use super::{arguments, begin_write, commit, is_unique_violation, DIALECT};
use crate::error::{
    Error, InvalidAttributeValueSnafu, InvalidEndedAtSnafu, MetricNotFoundSnafu,
    MissingRequiredAttributeSnafu, NamedMetricExistsSnafu, QuerySnafu, ResourceExistsSnafu,
    ResourceNotFoundSnafu, ResourceTypeNotFoundSnafu, Result, StartAfterEndSnafu,
    UnknownAttributeSnafu,
};
use crate::filter::Filter;
use crate::indexer::{MetricSet, NewMetric, NewResource, Resource, ResourceUpdate};
use crate::pagination::SqlValue;
use crate::resource_type::{AttributeValue, ResourceTypeState};
use crate::sql::{attribute_to_sql, Catalog, Compiler, Dialect};
use crate::text::Text;

fn require_active(t: &TypeInfo) -> Result<()> {
    if t.state != ResourceTypeState::Active {
        return Err(Error::ResourceTypeNotActive {
            name: t.name.clone(),
            state: t.state,
        });
    }
    Ok(())
}

/// Checks attribute values against the type: known names, values of the right type.
fn check_attributes(t: &TypeInfo, values: &BTreeMap<String, AttributeValue>) -> Result<()> {
    for (name, v) in values {
        let Some(d) = t.attributes.get(name) else {
            return UnknownAttributeSnafu {
                type_name: &t.name,
                attribute: name,
            }
            .fail();
        };
        if !v.fits(&d.attribute_type) {
            return InvalidAttributeValueSnafu {
                type_name: &t.name,
                attribute: name,
            }
            .fail();
        }
    }
    Ok(())
}

/// Attaches `set` to resource `id` (created metrics get the resource's creator unless given;
/// linked ones must be active and the creator's).
async fn attach_metrics(
    conn: &mut Conn,
    id: Uuid,
    creator: Option<&str>,
    set: &MetricSet,
) -> Result<()> {
    for m in &set.created {
        let m = NewMetric {
            resource_id: Some(id),
            ..m.clone()
        };
        insert_metric(conn, &m).await?;
    }
    for (name, mid) in &set.linked {
        let res = sqlx::query(&stmt(
            "UPDATE metric SET resource_id = ?, name = ? \
             WHERE id = ? AND status = 'active' AND creator = ?",
        ))
        .bind(id.to_string())
        .bind(name)
        .bind(mid.to_string())
        .bind(creator)
        .execute(&mut *conn)
        .await;
        match res {
            Ok(r) if r.rows_affected() == 0 => return MetricNotFoundSnafu { id: *mid }.fail(),
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return NamedMetricExistsSnafu {
                    name,
                    resource_id: id,
                }
                .fail()
            }
            Err(e) => return Err(e).context(QuerySnafu { op: "link metric" }),
        }
    }
    Ok(())
}

/// The current resource in the view of `type_name`, or `ResourceNotFound`.
pub(super) async fn require_resource(
    conn: &mut Conn,
    type_name: Option<&str>,
    id: Uuid,
) -> Result<Resource> {
    fetch_one(conn, type_name, id)
        .await?
        .ok_or(Error::ResourceNotFound { id })
}

pub(super) async fn create_resource(pool: &Pool, r: &NewResource) -> Result<Resource> {
    const OP: &str = "create resource";
    let mut tx = begin_write(pool, OP).await?;
    let Some(t) = load_type(&mut tx, &r.type_name).await? else {
        return ResourceTypeNotFoundSnafu { name: &r.type_name }.fail();
    };
    require_active(&t)?;
    check_attributes(&t, &r.attributes)?;
    if let Some((name, _)) = t
        .attributes
        .iter()
        .find(|(n, d)| d.required && !r.attributes.contains_key(*n))
    {
        return MissingRequiredAttributeSnafu {
            type_name: &t.name,
            attribute: name,
        }
        .fail();
    }
    let now = now();
    let started_at = r.started_at.unwrap_or(now);
    if r.ended_at.is_some_and(|e| e < started_at) {
        return StartAfterEndSnafu.fail();
    }
    let res = sqlx::query(&stmt(
        "INSERT INTO resource (id, type, original_resource_id, creator, user_id, project_id, \
         started_at, ended_at, revision_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(r.id.to_string())
    .bind(&r.type_name)
    .bind(&r.original_resource_id)
    .bind(&r.creator)
    .bind(&r.user_id)
    .bind(&r.project_id)
    .bind(to_micros(started_at))
    .bind(r.ended_at.map(to_micros))
    .bind(to_micros(now))
    .execute(&mut *tx)
    .await;
    match res {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return ResourceExistsSnafu { id: r.id }.fail(),
        Err(e) => return Err(e).context(QuerySnafu { op: OP }),
    }
    if let Some(table) = t.table() {
        let d = DIALECT;
        let mut cols = vec!["id".to_owned()];
        let mut binds = vec![SqlValue::Text(r.id.to_string())];
        for (name, v) in &r.attributes {
            cols.push(d.quote_ident(name));
            binds.push(attribute_to_sql(v));
        }
        let marks = vec!["?"; cols.len()].join(", ");
        let sql = format!("INSERT INTO {table} ({}) VALUES ({marks})", cols.join(", "));
        sqlx::query_with(&stmt(&sql), arguments(binds)?)
            .execute(&mut *tx)
            .await
            .context(QuerySnafu {
                op: "insert resource attributes",
            })?;
    }
    let set = MetricSet {
        created: r.metrics.clone(),
        linked: r.linked_metrics.clone(),
    };
    attach_metrics(&mut tx, r.id, r.creator.as_deref(), &set).await?;
    let created = require_resource(&mut tx, Some(&r.type_name), r.id).await?;
    commit(tx, OP).await?;
    Ok(created)
}

pub(super) async fn resource(pool: &Pool, type_name: Option<&str>, id: Uuid) -> Result<Resource> {
    let mut conn = pool.acquire().await.context(QuerySnafu { op: "acquire" })?;
    require_resource(&mut conn, type_name, id).await
}

fn same_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> bool {
    a.map(to_micros) == b.map(to_micros)
}

/// Whether storing `new` changes the stored `old` (datetimes compare at stored precision).
fn attribute_changes(old: Option<&AttributeValue>, new: &AttributeValue) -> bool {
    match (old.unwrap_or(&AttributeValue::Null), new) {
        (AttributeValue::Datetime(a), AttributeValue::Datetime(b)) => {
            to_micros(*a) != to_micros(*b)
        }
        (a, b) => a != b,
    }
}

pub(super) async fn update_resource(
    pool: &Pool,
    type_name: Option<&str>,
    id: Uuid,
    u: &ResourceUpdate,
) -> Result<Resource> {
    const OP: &str = "update resource";
    let mut tx = begin_write(pool, OP).await?;
    let generic = require_resource(&mut tx, type_name, id).await?;
    let t = require_type(&mut tx, &generic.type_name).await?;
    require_active(&t)?;
    check_attributes(&t, &u.attributes)?;
    let current = require_resource(&mut tx, Some(&t.name), id).await?;

    let user_id = u.user_id.clone().unwrap_or_else(|| current.user_id.clone());
    let project_id = u
        .project_id
        .clone()
        .unwrap_or_else(|| current.project_id.clone());
    let started_at = u.started_at.unwrap_or(current.started_at);
    let ended_at = u.ended_at.unwrap_or(current.ended_at);
    if let Some(end) = ended_at {
        if to_micros(end) < to_micros(started_at) {
            return InvalidEndedAtSnafu {
                type_name: &t.name,
                ended_at: end,
            }
            .fail();
        }
    }
    let changed_attrs: Vec<(&String, &AttributeValue)> = u
        .attributes
        .iter()
        .filter(|(k, v)| attribute_changes(current.attributes.get(*k), v))
        .collect();
    let changed = user_id != current.user_id
        || project_id != current.project_id
        || !same_time(Some(started_at), Some(current.started_at))
        || !same_time(ended_at, current.ended_at)
        || !changed_attrs.is_empty();

    if changed {
        let now_us = to_micros(now());
        let revision: i64 = sqlx::query_scalar(&stmt(
            "INSERT INTO resource_history (id, type, original_resource_id, creator, user_id, \
             project_id, started_at, ended_at, revision_start, revision_end) \
             SELECT id, type, original_resource_id, creator, user_id, project_id, started_at, \
             ended_at, revision_start, ? FROM resource WHERE id = ? RETURNING revision",
        ))
        .bind(now_us)
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .context(QuerySnafu {
            op: "insert resource history",
        })?;
        if let (Some(table), Some(history)) = (t.table(), t.history_table()) {
            let d = DIALECT;
            let cols: String = t
                .attributes
                .keys()
                .map(|a| format!(", {}", d.quote_ident(a)))
                .collect();
            sqlx::query(&stmt(&format!(
                "INSERT INTO {history} (revision{cols}) SELECT ?{cols} FROM {table} WHERE id = ?"
            )))
            .bind(revision)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .context(QuerySnafu {
                op: "insert resource attribute history",
            })?;
            if !changed_attrs.is_empty() {
                let sets: Vec<String> = changed_attrs
                    .iter()
                    .map(|(k, _)| format!("{} = ?", d.quote_ident(k)))
                    .collect();
                let mut binds: Vec<SqlValue> = changed_attrs
                    .iter()
                    .map(|(_, v)| attribute_to_sql(v))
                    .collect();
                binds.push(SqlValue::Text(id.to_string()));
                sqlx::query_with(
                    &stmt(&format!(
                        "UPDATE {table} SET {} WHERE id = ?",
                        sets.join(", ")
                    )),
                    arguments(binds)?,
                )
                .execute(&mut *tx)
                .await
                .context(QuerySnafu {
                    op: "update resource attributes",
                })?;
            }
        }
        sqlx::query(&stmt(
            "UPDATE resource SET user_id = ?, project_id = ?, started_at = ?, ended_at = ?, \
             revision_start = ? WHERE id = ?",
        ))
        .bind(&user_id)
        .bind(&project_id)
        .bind(to_micros(started_at))
        .bind(ended_at.map(to_micros))
        .bind(now_us)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .context(QuerySnafu { op: OP })?;
    }
    if let Some(set) = &u.metrics {
        // api.md §9.4: the given set replaces the attached one; detached metrics live on.
        sqlx::query(&stmt(
            "UPDATE metric SET resource_id = NULL WHERE resource_id = ?",
        ))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .context(QuerySnafu {
            op: "detach metrics",
        })?;
        attach_metrics(&mut tx, id, current.creator.as_deref(), set).await?;
    }
    let updated = require_resource(&mut tx, type_name, id).await?;
    commit(tx, OP).await?;
    Ok(updated)
}

/// Marks the metrics of `ids` deleted and removes the resources (history and attribute rows
/// follow by cascade).
async fn delete_ids(conn: &mut Conn, ids: &[String]) -> Result<()> {
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "UPDATE metric SET status = 'delete', resource_id = NULL \
             WHERE status = 'active' AND resource_id IN ({marks})"
        );
        let sql = stmt(&sql);
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut *conn).await.context(QuerySnafu {
            op: "delete resource metrics",
        })?;
        let sql = format!("DELETE FROM resource WHERE id IN ({marks})");
        let sql = stmt(&sql);
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut *conn).await.context(QuerySnafu {
            op: "delete resources",
        })?;
    }
    Ok(())
}

pub(super) async fn delete_resource(pool: &Pool, type_name: Option<&str>, id: Uuid) -> Result<()> {
    const OP: &str = "delete resource";
    let mut tx = begin_write(pool, OP).await?;
    let found: Option<(Text,)> = sqlx::query_as(&stmt("SELECT type FROM resource WHERE id = ?"))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .context(QuerySnafu { op: OP })?;
    match (found, type_name) {
        (None, _) => return ResourceNotFoundSnafu { id }.fail(),
        (Some((t,)), Some(want)) if want != GENERIC && t.0 != want => {
            return ResourceNotFoundSnafu { id }.fail()
        }
        _ => {}
    }
    delete_ids(&mut tx, &[id.to_string()]).await?;
    commit(tx, OP).await
}

pub(super) async fn delete_resources(pool: &Pool, type_name: &str, filter: &Filter) -> Result<u64> {
    const OP: &str = "delete resources";
    let mut tx = begin_write(pool, OP).await?;
    let t = require_type(&mut tx, type_name).await?;
    let typed = t.tablename.is_some().then_some(&t);
    let catalog = Catalog {
        type_name: t.name.clone(),
        attributes: t
            .attributes
            .iter()
            .map(|(k, d)| {
                (
                    k.clone(),
                    (
                        DIALECT.quote_ident(&format!("attr_{k}")),
                        crate::sql::FieldKind::of(&d.attribute_type),
                    ),
                )
            })
            .collect(),
    };
    let mut binds = Vec::new();
    let cond = Compiler {
        dialect: &DIALECT,
        catalog: &catalog,
        binds: &mut binds,
        now_ns: Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX),
    }
    .compile(filter)?;
    let sql = format!(
        "SELECT id FROM ({}) AS q WHERE {cond}",
        source(typed, false)
    );
    // Not cached: see `resource_query::fetch`.
    let ids: Vec<(Text,)> = sqlx::query_as_with(&stmt(&sql), arguments(binds)?)
        .persistent(false)
        .fetch_all(&mut *tx)
        .await
        .context(QuerySnafu {
            op: "select resources to delete",
        })?;
    let ids: Vec<String> = ids.into_iter().map(|(i,)| i.0).collect();
    delete_ids(&mut tx, &ids).await?;
    commit(tx, OP).await?;
    Ok(u64::try_from(ids.len()).unwrap_or(u64::MAX))
}

pub(super) async fn append_resource_metrics(
    pool: &Pool,
    id: Uuid,
    set: &MetricSet,
) -> Result<Vec<Metric>> {
    const OP: &str = "append resource metrics";
    let mut tx = begin_write(pool, OP).await?;
    let r = require_resource(&mut tx, None, id).await?;
    attach_metrics(&mut tx, id, r.creator.as_deref(), set).await?;
    let sql = format!(
        "SELECT {METRIC_COLUMNS} FROM metric WHERE resource_id = ? AND status = 'active' \
         ORDER BY id"
    );
    let rows = sqlx::query_as::<_, MetricRow>(&stmt(&sql))
        .bind(id.to_string())
        .fetch_all(&mut *tx)
        .await
        .context(QuerySnafu { op: OP })?;
    commit(tx, OP).await?;
    rows.into_iter().map(MetricRow::into_domain).collect()
}
