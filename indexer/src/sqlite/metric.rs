//! Metrics: creation, lookups, listing and pagination, deletion and the janitor's and
//! metricd's updates (api.md §6, engine.md §3.3 step 8, §5.7).

use super::{stmt, Conn, Pool};
use gnocchi_core::{Metric, MetricStatus};
use snafu::ResultExt;
use uuid::Uuid;

use super::archive_policy::fetch_policy;
use super::resource::require_resource;
use super::rows::{now, to_micros, MetricRow, METRIC_COLUMNS, METRIC_ID, METRIC_SORT_KEYS};
use super::{arguments, begin_write, commit, exists, is_unique_violation, placeholder};
use crate::error::{
    ArchivePolicyNotFoundSnafu, Error, InvalidMarkerSnafu, MetricExistsSnafu, MetricNotFoundSnafu,
    NamedMetricExistsSnafu, QuerySnafu, ResourceNotFoundSnafu, Result,
};
use crate::indexer::{DescribedMetric, MetricFilter, NewMetric, ProcessedMetric};
use crate::pagination::{self, Page, SqlValue};

/// Inserts one metric inside an open write transaction, checking its references first so each
/// failure gets its domain error.
pub(super) async fn insert_metric(conn: &mut Conn, m: &NewMetric) -> Result<Metric> {
    if !exists(
        conn,
        "SELECT 1 FROM archive_policy WHERE name = ?",
        &m.archive_policy_name,
        "check archive policy",
    )
    .await?
    {
        return ArchivePolicyNotFoundSnafu {
            name: &m.archive_policy_name,
        }
        .fail();
    }
    if let Some(rid) = m.resource_id {
        if !exists(
            conn,
            "SELECT 1 FROM resource WHERE id = ?",
            &rid.to_string(),
            "check resource",
        )
        .await?
        {
            return ResourceNotFoundSnafu { id: rid }.fail();
        }
    }
    let id = m.id.to_string();
    if exists(
        conn,
        "SELECT 1 FROM metric WHERE id = ?",
        &id,
        "check metric",
    )
    .await?
    {
        return MetricExistsSnafu { id: m.id }.fail();
    }
    let inserted = sqlx::query(&stmt(
        "INSERT INTO metric (id, archive_policy_name, creator, resource_id, name, unit, status, \
         needs_raw_data_truncation, last_measure_timestamp) \
         VALUES (?, ?, ?, ?, ?, ?, 'active', 1, NULL)",
    ))
    .bind(&id)
    .bind(&m.archive_policy_name)
    .bind(&m.creator)
    .bind(m.resource_id.map(|r| r.to_string()))
    .bind(&m.name)
    .bind(&m.unit)
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return match (&m.name, m.resource_id) {
                (Some(name), Some(resource_id)) => {
                    NamedMetricExistsSnafu { name, resource_id }.fail()
                }
                _ => MetricExistsSnafu { id: m.id }.fail(),
            };
        }
        Err(e) => {
            return Err(e).context(QuerySnafu {
                op: "insert metric",
            })
        }
    }
    Ok(Metric {
        id: m.id,
        archive_policy_name: m.archive_policy_name.clone(),
        name: m.name.clone(),
        unit: m.unit.clone(),
        resource_id: m.resource_id,
        creator: m.creator.clone(),
        status: MetricStatus::Active,
        needs_raw_data_truncation: true,
        last_measure_timestamp: None,
    })
}

pub(super) async fn create_metric(pool: &Pool, metric: &NewMetric) -> Result<Metric> {
    const OP: &str = "create metric";
    let mut tx = begin_write(pool, OP).await?;
    let created = insert_metric(&mut tx, metric).await?;
    commit(tx, OP).await?;
    Ok(created)
}

pub(super) async fn metric(pool: &Pool, id: Uuid) -> Result<Metric> {
    let mut conn = pool.acquire().await.context(QuerySnafu { op: "acquire" })?;
    fetch_metric(&mut conn, id).await
}

async fn fetch_metric(conn: &mut Conn, id: Uuid) -> Result<Metric> {
    let sql = format!("SELECT {METRIC_COLUMNS} FROM metric WHERE id = ? AND status = 'active'");
    sqlx::query_as::<_, MetricRow>(&stmt(&sql))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
        .context(QuerySnafu {
            op: "select metric",
        })?
        .ok_or(Error::MetricNotFound { id })?
        .into_domain()
}

/// The metric, its policy and its resource on one pooled connection: each pool checkout costs
/// round trips of its own (with SQLite, hand-offs to the connection's thread).
pub(super) async fn described_metric(pool: &Pool, id: Uuid) -> Result<DescribedMetric> {
    let mut conn = pool.acquire().await.context(QuerySnafu { op: "acquire" })?;
    let metric = fetch_metric(&mut conn, id).await?;
    let policy = fetch_policy(&mut conn, &metric.archive_policy_name)
        .await?
        .ok_or_else(|| Error::ArchivePolicyNotFound {
            name: metric.archive_policy_name.clone(),
        })?;
    let resource = match metric.resource_id {
        Some(rid) => match require_resource(&mut conn, None, rid).await {
            Ok(r) => Some(r),
            Err(Error::ResourceNotFound { .. }) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    Ok(DescribedMetric {
        metric,
        policy,
        resource,
    })
}

pub(super) async fn metrics_by_ids(pool: &Pool, ids: &[Uuid]) -> Result<Vec<Metric>> {
    let mut out = Vec::with_capacity(ids.len());
    // Bounded IN lists stay under every backend's bind limit.
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT {METRIC_COLUMNS} FROM metric WHERE status = 'active' AND id IN ({marks})"
        );
        let sql = stmt(&sql);
        let mut q = sqlx::query_as::<_, MetricRow>(&sql);
        for id in chunk {
            q = q.bind(id.to_string());
        }
        let rows = q.fetch_all(pool).await.context(QuerySnafu {
            op: "select metrics",
        })?;
        for row in rows {
            out.push(row.into_domain()?);
        }
    }
    out.sort_by_key(|m| m.id);
    out.dedup_by_key(|m| m.id);
    Ok(out)
}

pub(super) async fn resource_metric(
    pool: &Pool,
    resource_id: Uuid,
    name: &str,
) -> Result<Option<Metric>> {
    let sql = format!(
        "SELECT {METRIC_COLUMNS} FROM metric \
         WHERE resource_id = ? AND name = ? AND status = 'active'"
    );
    sqlx::query_as::<_, MetricRow>(&stmt(&sql))
        .bind(resource_id.to_string())
        .bind(name)
        .fetch_optional(pool)
        .await
        .context(QuerySnafu {
            op: "select resource metric",
        })?
        .map(MetricRow::into_domain)
        .transpose()
}

pub(super) async fn list_metrics(
    pool: &Pool,
    filter: &MetricFilter,
    page: &Page,
) -> Result<Vec<Metric>> {
    let keys = pagination::resolve_sort(&page.sort, &METRIC_SORT_KEYS, &[METRIC_ID])?;
    if filter.status == Some(MetricStatus::Delete) {
        return Ok(Vec::new());
    }
    let mut conds = vec!["status = 'active'".to_owned()];
    let mut binds = Vec::new();
    let text_filters = [
        ("id", filter.id.map(|i| i.to_string())),
        ("name", filter.name.clone()),
        ("unit", filter.unit.clone()),
        ("archive_policy_name", filter.archive_policy_name.clone()),
        ("creator", filter.creator.clone()),
        ("resource_id", filter.resource_id.map(|i| i.to_string())),
    ];
    for (column, value) in text_filters {
        if let Some(v) = value {
            conds.push(format!("{column} = {}", placeholder()));
            binds.push(SqlValue::Text(v));
        }
    }
    if let Some(marker) = &page.marker {
        let id = Uuid::parse_str(marker).map_err(|_| Error::InvalidMarker {
            marker: marker.clone(),
        })?;
        let sql = format!("SELECT {METRIC_COLUMNS} FROM metric WHERE id = ?");
        let row = sqlx::query_as::<_, MetricRow>(&stmt(&sql))
            .bind(id.to_string())
            .fetch_optional(pool)
            .await
            .context(QuerySnafu {
                op: "select marker metric",
            })?;
        let Some(row) = row else {
            return InvalidMarkerSnafu { marker }.fail();
        };
        let values: Vec<SqlValue> = keys.iter().map(|k| row.column_value(&k.name)).collect();
        let (cond, marker_binds) = pagination::after_marker(&keys, &values, placeholder);
        conds.push(cond);
        binds.extend(marker_binds);
    }
    let mut sql = format!(
        "SELECT {METRIC_COLUMNS} FROM metric WHERE {} ORDER BY {}",
        conds.join(" AND "),
        pagination::order_by(&keys)
    );
    if let Some(limit) = page.limit {
        sql.push_str(" LIMIT ");
        sql.push_str(&placeholder());
        binds.push(SqlValue::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    }
    sqlx::query_as_with::<_, MetricRow, _>(&stmt(&sql), arguments(binds)?)
        .fetch_all(pool)
        .await
        .context(QuerySnafu { op: "list metrics" })?
        .into_iter()
        .map(MetricRow::into_domain)
        .collect()
}

pub(super) async fn delete_metric(pool: &Pool, id: Uuid) -> Result<()> {
    let res = sqlx::query(&stmt(
        "UPDATE metric SET status = 'delete', resource_id = NULL \
         WHERE id = ? AND status = 'active'",
    ))
    .bind(id.to_string())
    .execute(pool)
    .await
    .context(QuerySnafu {
        op: "delete metric",
    })?;
    if res.rows_affected() == 0 {
        return MetricNotFoundSnafu { id }.fail();
    }
    Ok(())
}

pub(super) async fn list_deleted_metrics(pool: &Pool, limit: u64) -> Result<Vec<Metric>> {
    let sql =
        format!("SELECT {METRIC_COLUMNS} FROM metric WHERE status = 'delete' ORDER BY id LIMIT ?");
    sqlx::query_as::<_, MetricRow>(&stmt(&sql))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
        .context(QuerySnafu {
            op: "list deleted metrics",
        })?
        .into_iter()
        .map(MetricRow::into_domain)
        .collect()
}

pub(super) async fn expunge_metric(pool: &Pool, id: Uuid) -> Result<()> {
    sqlx::query(&stmt("DELETE FROM metric WHERE id = ?"))
        .bind(id.to_string())
        .execute(pool)
        .await
        .context(QuerySnafu {
            op: "expunge metric",
        })?;
    Ok(())
}

pub(super) async fn list_metrics_needing_raw_truncation(
    pool: &Pool,
    limit: u64,
) -> Result<Vec<Metric>> {
    let sql = format!(
        "SELECT {METRIC_COLUMNS} FROM metric \
         WHERE status = 'active' AND needs_raw_data_truncation = 1 ORDER BY id LIMIT ?"
    );
    sqlx::query_as::<_, MetricRow>(&stmt(&sql))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
        .context(QuerySnafu {
            op: "list metrics needing raw truncation",
        })?
        .into_iter()
        .map(MetricRow::into_domain)
        .collect()
}

pub(super) async fn mark_metrics_processed(
    pool: &Pool,
    processed: &[ProcessedMetric],
) -> Result<()> {
    const OP: &str = "mark metrics processed";
    if processed.is_empty() {
        return Ok(());
    }
    let now_us = to_micros(now());
    let mut tx = begin_write(pool, OP).await?;
    for p in processed {
        let id = p.id.to_string();
        sqlx::query(&stmt(
            "UPDATE metric SET needs_raw_data_truncation = 0, last_measure_timestamp = ? \
             WHERE id = ?",
        ))
        .bind(now_us)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .context(QuerySnafu { op: OP })?;
        // engine.md §3.3 step 8: a measure at or after ended_at restores the resource.
        sqlx::query(&stmt(
            "UPDATE resource SET ended_at = NULL \
             WHERE id = (SELECT resource_id FROM metric WHERE id = ?) \
             AND ended_at IS NOT NULL AND ended_at <= ?",
        ))
        .bind(&id)
        .bind(p.newest_measure_ns.div_euclid(1000))
        .execute(&mut *tx)
        .await
        .context(QuerySnafu {
            op: "restore resource",
        })?;
    }
    commit(tx, OP).await
}
