//! Resource types and resources (api.md §8, §9): the generic columns only, for now.

use std::collections::BTreeMap;

use snafu::ResultExt;
use sqlx::SqlitePool;
use uuid::Uuid;

use super::metric::insert_metric;
use super::rows::{
    from_micros, now, parse_uuid, to_micros, ResourceRow, ResourceTypeRow, RESOURCE_COLUMNS,
};
use super::{begin_write, commit, exists, is_unique_violation};
use crate::error::{Error, QuerySnafu, ResourceExistsSnafu, ResourceTypeNotFoundSnafu, Result};
use crate::indexer::{NewMetric, NewResource, Resource, ResourceType};

pub(super) async fn resource_type(pool: &SqlitePool, name: &str) -> Result<ResourceType> {
    sqlx::query_as::<_, ResourceTypeRow>(
        "SELECT name, state, attributes FROM resource_type WHERE name = ?",
    )
    .bind(name)
    .fetch_optional(pool)
    .await
    .context(QuerySnafu {
        op: "select resource type",
    })?
    .ok_or_else(|| Error::ResourceTypeNotFound {
        name: name.to_owned(),
    })?
    .into_domain()
}

pub(super) async fn list_resource_types(pool: &SqlitePool) -> Result<Vec<ResourceType>> {
    sqlx::query_as::<_, ResourceTypeRow>(
        "SELECT name, state, attributes FROM resource_type ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .context(QuerySnafu {
        op: "list resource types",
    })?
    .into_iter()
    .map(ResourceTypeRow::into_domain)
    .collect()
}

pub(super) async fn create_resource(pool: &SqlitePool, r: &NewResource) -> Result<Resource> {
    const OP: &str = "create resource";
    let mut tx = begin_write(pool, OP).await?;
    if !exists(
        &mut tx,
        "SELECT 1 FROM resource_type WHERE name = ?",
        &r.type_name,
        OP,
    )
    .await?
    {
        return ResourceTypeNotFoundSnafu { name: &r.type_name }.fail();
    }
    let now = now();
    let started_at = r.started_at.unwrap_or(now);
    let res = sqlx::query(
        "INSERT INTO resource (id, type, original_resource_id, creator, user_id, project_id, \
         started_at, ended_at, revision_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
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
    let mut metrics = BTreeMap::new();
    for m in &r.metrics {
        let m = NewMetric {
            resource_id: Some(r.id),
            ..m.clone()
        };
        let created = insert_metric(&mut tx, &m).await?;
        if let Some(name) = created.name {
            metrics.insert(name, created.id);
        }
    }
    commit(tx, OP).await?;
    Ok(Resource {
        id: r.id,
        original_resource_id: r.original_resource_id.clone(),
        type_name: r.type_name.clone(),
        creator: r.creator.clone(),
        user_id: r.user_id.clone(),
        project_id: r.project_id.clone(),
        started_at: from_micros("resource", to_micros(started_at))?,
        ended_at: r
            .ended_at
            .map(|t| from_micros("resource", to_micros(t)))
            .transpose()?,
        revision_start: now,
        revision_end: None,
        metrics,
    })
}

pub(super) async fn resource(
    pool: &SqlitePool,
    type_name: Option<&str>,
    id: Uuid,
) -> Result<Resource> {
    const T: &str = "resource";
    let sql =
        format!("SELECT {RESOURCE_COLUMNS} FROM resource WHERE id = ? AND (? IS NULL OR type = ?)");
    let row = sqlx::query_as::<_, ResourceRow>(&sql)
        .bind(id.to_string())
        .bind(type_name)
        .bind(type_name)
        .fetch_optional(pool)
        .await
        .context(QuerySnafu {
            op: "select resource",
        })?
        .ok_or(Error::ResourceNotFound { id })?;
    let named: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, id FROM metric \
         WHERE resource_id = ? AND status = 'active' AND name IS NOT NULL",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await
    .context(QuerySnafu {
        op: "select resource metrics",
    })?;
    let metrics = named
        .into_iter()
        .map(|(name, mid)| Ok((name, parse_uuid(T, &mid)?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
    Ok(Resource {
        id: parse_uuid(T, &row.id)?,
        original_resource_id: row.original_resource_id,
        type_name: row.type_name,
        creator: row.creator,
        user_id: row.user_id,
        project_id: row.project_id,
        started_at: from_micros(T, row.started_at)?,
        ended_at: row.ended_at.map(|t| from_micros(T, t)).transpose()?,
        revision_start: from_micros(T, row.revision_start)?,
        revision_end: None,
        metrics,
    })
}
