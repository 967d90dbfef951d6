//! Archive policies and archive policy rules (api.md §4, §5).

use super::{stmt, Conn, Pool};
use gnocchi_core::{ArchivePolicy, ArchivePolicyItem, ArchivePolicyRule};
use snafu::ResultExt;

use super::rows::{definition_to_json, methods_to_json, ArchivePolicyRow};
use super::{begin_write, commit, exists, is_foreign_key_violation, is_unique_violation};
use crate::error::{
    ArchivePolicyExistsSnafu, ArchivePolicyGranularitiesAddedOrDroppedSnafu,
    ArchivePolicyGranularityChangedSnafu, ArchivePolicyInUseSnafu, ArchivePolicyNotFoundSnafu,
    ArchivePolicyRuleExistsSnafu, ArchivePolicyRuleNotFoundSnafu,
    ArchivePolicyRuleRenameExistsSnafu, Error, QuerySnafu, Result,
};
use crate::text::Text;

pub(super) async fn fetch_policy(conn: &mut Conn, name: &str) -> Result<Option<ArchivePolicy>> {
    sqlx::query_as::<_, ArchivePolicyRow>(&stmt(
        "SELECT name, back_window, definition, aggregation_methods FROM archive_policy \
         WHERE name = ?",
    ))
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .context(QuerySnafu {
        op: "select archive policy",
    })?
    .map(ArchivePolicyRow::into_domain)
    .transpose()
}

async fn fetch_rule(conn: &mut Conn, name: &str) -> Result<Option<ArchivePolicyRule>> {
    let row: Option<(Text, Text, Text)> = sqlx::query_as(&stmt(
        "SELECT name, metric_pattern, archive_policy_name FROM archive_policy_rule WHERE name = ?",
    ))
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .context(QuerySnafu {
        op: "select archive policy rule",
    })?;
    Ok(row.map(
        |(name, metric_pattern, archive_policy_name)| ArchivePolicyRule {
            name: name.0,
            metric_pattern: metric_pattern.0,
            archive_policy_name: archive_policy_name.0,
        },
    ))
}

pub(super) async fn create_archive_policy(pool: &Pool, policy: &ArchivePolicy) -> Result<()> {
    let back_window = i64::try_from(policy.back_window).unwrap_or(i64::MAX);
    let res = sqlx::query(&stmt(
        "INSERT INTO archive_policy (name, back_window, definition, aggregation_methods) \
         VALUES (?, ?, ?, ?)",
    ))
    .bind(&policy.name)
    .bind(back_window)
    .bind(definition_to_json(&policy.definition))
    .bind(methods_to_json(&policy.aggregation_methods))
    .execute(pool)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => ArchivePolicyExistsSnafu { name: &policy.name }.fail(),
        Err(e) => Err(e).context(QuerySnafu {
            op: "insert archive policy",
        }),
    }
}

pub(super) async fn archive_policy(pool: &Pool, name: &str) -> Result<ArchivePolicy> {
    let mut conn = pool.acquire().await.context(QuerySnafu { op: "acquire" })?;
    fetch_policy(&mut conn, name)
        .await?
        .ok_or_else(|| Error::ArchivePolicyNotFound {
            name: name.to_owned(),
        })
}

pub(super) async fn list_archive_policies(pool: &Pool) -> Result<Vec<ArchivePolicy>> {
    sqlx::query_as::<_, ArchivePolicyRow>(&stmt(
        "SELECT name, back_window, definition, aggregation_methods FROM archive_policy \
         ORDER BY name",
    ))
    .fetch_all(pool)
    .await
    .context(QuerySnafu {
        op: "list archive policies",
    })?
    .into_iter()
    .map(ArchivePolicyRow::into_domain)
    .collect()
}

pub(super) async fn update_archive_policy(
    pool: &Pool,
    name: &str,
    definition: &[ArchivePolicyItem],
    back_window: Option<u64>,
) -> Result<ArchivePolicy> {
    const OP: &str = "update archive policy";
    let mut tx = begin_write(pool, OP).await?;
    let mut policy =
        fetch_policy(&mut tx, name)
            .await?
            .ok_or_else(|| Error::ArchivePolicyNotFound {
                name: name.to_owned(),
            })?;
    if policy.definition.len() != definition.len() {
        return ArchivePolicyGranularitiesAddedOrDroppedSnafu { name }.fail();
    }
    let mut old: Vec<i64> = policy.definition.iter().map(|d| d.granularity_ns).collect();
    let mut new: Vec<i64> = definition.iter().map(|d| d.granularity_ns).collect();
    old.sort_unstable();
    new.sort_unstable();
    if let Some((o, _)) = old.iter().zip(&new).find(|(o, n)| o != n) {
        return ArchivePolicyGranularityChangedSnafu {
            name,
            granularity_ns: *o,
        }
        .fail();
    }
    let old_back_window = policy.back_window;
    policy.definition = definition.to_vec();
    policy.back_window = back_window.unwrap_or(old_back_window);
    sqlx::query(&stmt(
        "UPDATE archive_policy SET definition = ?, back_window = ? WHERE name = ?",
    ))
    .bind(definition_to_json(&policy.definition))
    .bind(i64::try_from(policy.back_window).unwrap_or(i64::MAX))
    .bind(name)
    .execute(&mut *tx)
    .await
    .context(QuerySnafu { op: OP })?;
    if policy.back_window < old_back_window {
        // engine.md §1.3: the janitor re-cuts the raw buffers with the smaller window.
        sqlx::query(&stmt(
            "UPDATE metric SET needs_raw_data_truncation = 1 WHERE archive_policy_name = ?",
        ))
        .bind(name)
        .execute(&mut *tx)
        .await
        .context(QuerySnafu {
            op: "flag metrics for raw truncation",
        })?;
    }
    commit(tx, OP).await?;
    Ok(policy)
}

pub(super) async fn delete_archive_policy(pool: &Pool, name: &str) -> Result<()> {
    const OP: &str = "delete archive policy";
    let mut tx = begin_write(pool, OP).await?;
    if !exists(
        &mut tx,
        "SELECT 1 FROM archive_policy WHERE name = ?",
        name,
        OP,
    )
    .await?
    {
        return ArchivePolicyNotFoundSnafu { name }.fail();
    }
    let in_use = exists(
        &mut tx,
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM metric WHERE archive_policy_name = ?1) \
         OR EXISTS (SELECT 1 FROM archive_policy_rule WHERE archive_policy_name = ?1)",
        name,
        OP,
    )
    .await?;
    if in_use {
        return ArchivePolicyInUseSnafu { name }.fail();
    }
    match sqlx::query(&stmt("DELETE FROM archive_policy WHERE name = ?"))
        .bind(name)
        .execute(&mut *tx)
        .await
    {
        Ok(_) => {}
        Err(e) if is_foreign_key_violation(&e) => return ArchivePolicyInUseSnafu { name }.fail(),
        Err(e) => return Err(e).context(QuerySnafu { op: OP }),
    }
    commit(tx, OP).await
}

pub(super) async fn create_archive_policy_rule(
    pool: &Pool,
    rule: &ArchivePolicyRule,
) -> Result<()> {
    const OP: &str = "insert archive policy rule";
    let mut tx = begin_write(pool, OP).await?;
    if !exists(
        &mut tx,
        "SELECT 1 FROM archive_policy WHERE name = ?",
        &rule.archive_policy_name,
        OP,
    )
    .await?
    {
        return ArchivePolicyNotFoundSnafu {
            name: &rule.archive_policy_name,
        }
        .fail();
    }
    let res = sqlx::query(&stmt(
        "INSERT INTO archive_policy_rule (name, metric_pattern, archive_policy_name) \
         VALUES (?, ?, ?)",
    ))
    .bind(&rule.name)
    .bind(&rule.metric_pattern)
    .bind(&rule.archive_policy_name)
    .execute(&mut *tx)
    .await;
    match res {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return ArchivePolicyRuleExistsSnafu { name: &rule.name }.fail()
        }
        Err(e) if is_foreign_key_violation(&e) => {
            return ArchivePolicyNotFoundSnafu {
                name: &rule.archive_policy_name,
            }
            .fail()
        }
        Err(e) => return Err(e).context(QuerySnafu { op: OP }),
    }
    commit(tx, OP).await
}

pub(super) async fn archive_policy_rule(pool: &Pool, name: &str) -> Result<ArchivePolicyRule> {
    let mut conn = pool.acquire().await.context(QuerySnafu { op: "acquire" })?;
    fetch_rule(&mut conn, name)
        .await?
        .ok_or_else(|| Error::ArchivePolicyRuleNotFound {
            name: name.to_owned(),
        })
}

pub(super) async fn list_archive_policy_rules(pool: &Pool) -> Result<Vec<ArchivePolicyRule>> {
    let rows: Vec<(Text, Text, Text)> = sqlx::query_as(&stmt(
        "SELECT name, metric_pattern, archive_policy_name FROM archive_policy_rule",
    ))
    .fetch_all(pool)
    .await
    .context(QuerySnafu {
        op: "list archive policy rules",
    })?;
    let mut rules: Vec<ArchivePolicyRule> = rows
        .into_iter()
        .map(
            |(name, metric_pattern, archive_policy_name)| ArchivePolicyRule {
                name: name.0,
                metric_pattern: metric_pattern.0,
                archive_policy_name: archive_policy_name.0,
            },
        )
        .collect();
    // Sorted here rather than in SQL so the byte order does not depend on the database's
    // collation (engine.md §1.4).
    rules.sort_by(|a, b| {
        b.metric_pattern
            .as_bytes()
            .cmp(a.metric_pattern.as_bytes())
            .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
    });
    Ok(rules)
}

pub(super) async fn rename_archive_policy_rule(
    pool: &Pool,
    name: &str,
    new_name: &str,
) -> Result<ArchivePolicyRule> {
    const OP: &str = "rename archive policy rule";
    let mut tx = begin_write(pool, OP).await?;
    let mut rule =
        fetch_rule(&mut tx, name)
            .await?
            .ok_or_else(|| Error::ArchivePolicyRuleNotFound {
                name: name.to_owned(),
            })?;
    if name == new_name {
        return Ok(rule);
    }
    let res = sqlx::query(&stmt(
        "UPDATE archive_policy_rule SET name = ? WHERE name = ?",
    ))
    .bind(new_name)
    .bind(name)
    .execute(&mut *tx)
    .await;
    match res {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return ArchivePolicyRuleRenameExistsSnafu { name, new_name }.fail()
        }
        Err(e) => return Err(e).context(QuerySnafu { op: OP }),
    }
    commit(tx, OP).await?;
    rule.name = new_name.to_owned();
    Ok(rule)
}

pub(super) async fn delete_archive_policy_rule(pool: &Pool, name: &str) -> Result<()> {
    let res = sqlx::query(&stmt("DELETE FROM archive_policy_rule WHERE name = ?"))
        .bind(name)
        .execute(pool)
        .await
        .context(QuerySnafu {
            op: "delete archive policy rule",
        })?;
    if res.rows_affected() == 0 {
        return ArchivePolicyRuleNotFoundSnafu { name }.fail();
    }
    Ok(())
}
