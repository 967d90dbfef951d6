//! Resource types (api.md §8): the `resource_type` row plus, for every type but `generic`, the
//! attribute tables `<tablename>` (current revision, keyed by resource id) and
//! `<tablename>_history` (past revisions, keyed by revision), one column per attribute. Type
//! DDL runs inside the write transaction, so SQLite makes it atomic and the type goes straight
//! to `active`.

use std::collections::BTreeMap;

use super::{stmt, Conn, Pool};
use snafu::ResultExt;
use uuid::Uuid;

use super::rows::corrupt;
use super::{
    arguments, attribute_sql_type, begin_write, commit, is_unique_violation, DIALECT, ID_SQL_TYPE,
    REVISION_SQL_TYPE, TABLE_OPTIONS,
};
use crate::error::{
    AttributeTypeChangeSnafu, Error, InvalidAttributeNameSnafu, InvalidAttributeValueSnafu,
    MissingFillSnafu, QuerySnafu, ResourceTypeExistsSnafu, ResourceTypeInUseSnafu,
    ResourceTypeNotFoundSnafu, Result,
};
use crate::resource_type::{AttributeDefinition, ResourceType, ResourceTypeState};
use crate::sql::{attribute_to_sql, Dialect};
use crate::text::Text;

/// The built-in type.
pub(super) const GENERIC: &str = "generic";

/// PostgreSQL's identifier limit, which Gnocchi's attribute-name rule mirrors.
const MAX_ATTRIBUTE_NAME: usize = 63;

/// A resource type as the resource statements need it.
#[derive(Debug, Clone)]
pub(super) struct TypeInfo {
    pub(super) name: String,
    /// `None` for `generic`, which has no attribute tables.
    pub(super) tablename: Option<String>,
    pub(super) state: ResourceTypeState,
    pub(super) attributes: BTreeMap<String, AttributeDefinition>,
}

impl TypeInfo {
    pub(super) fn to_domain(&self) -> ResourceType {
        ResourceType {
            name: self.name.clone(),
            state: self.state,
            attributes: self.attributes.clone(),
        }
    }

    /// The quoted current-revision table.
    pub(super) fn table(&self) -> Option<String> {
        self.tablename.as_deref().map(|t| DIALECT.quote_ident(t))
    }

    /// The quoted history table.
    pub(super) fn history_table(&self) -> Option<String> {
        self.tablename
            .as_deref()
            .map(|t| DIALECT.quote_ident(&format!("{t}_history")))
    }
}

fn decode(name: String, tablename: String, state: &str, attributes: &str) -> Result<TypeInfo> {
    const T: &str = "resource_type";
    let state = ResourceTypeState::from_name(state)
        .ok_or_else(|| corrupt(T, format!("state {state:?} of {name}")))?;
    let raw: serde_json::Map<String, serde_json::Value> = serde_json::from_str(attributes)
        .map_err(|e| corrupt(T, format!("attributes of {name}: {e}")))?;
    let attributes = raw
        .into_iter()
        .map(|(k, v)| {
            AttributeDefinition::from_json(&v)
                .map(|d| (k.clone(), d))
                .ok_or_else(|| corrupt(T, format!("attribute {k} of {name}")))
        })
        .collect::<Result<_>>()?;
    Ok(TypeInfo {
        tablename: (name != GENERIC).then_some(tablename),
        name,
        state,
        attributes,
    })
}

/// The type named `name`, if any.
pub(super) async fn load_type(conn: &mut Conn, name: &str) -> Result<Option<TypeInfo>> {
    let row: Option<(Text, Text, Text, Text)> = sqlx::query_as(&stmt(
        "SELECT name, tablename, state, attributes FROM resource_type WHERE name = ?",
    ))
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .context(QuerySnafu {
        op: "select resource type",
    })?;
    row.map(|(n, t, s, a)| decode(n.0, t.0, &s.0, &a.0))
        .transpose()
}

/// The type `name` as reads of resources need it, or `None`. The built-in `generic` always
/// exists, has no attributes and no tables of its own, so reading its row is skipped: it was a
/// query in every metric lookup that names a resource.
pub(super) async fn view_type(conn: &mut Conn, name: &str) -> Result<Option<TypeInfo>> {
    if name == GENERIC {
        return Ok(Some(TypeInfo {
            name: GENERIC.to_owned(),
            tablename: None,
            state: ResourceTypeState::Active,
            attributes: BTreeMap::new(),
        }));
    }
    load_type(conn, name).await
}

/// The type named `name`, or `ResourceTypeNotFound`.
pub(super) async fn require_type(conn: &mut Conn, name: &str) -> Result<TypeInfo> {
    load_type(conn, name)
        .await?
        .ok_or_else(|| Error::ResourceTypeNotFound {
            name: name.to_owned(),
        })
}

fn attributes_json(attributes: &BTreeMap<String, AttributeDefinition>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = attributes
        .iter()
        .map(|(k, d)| (k.clone(), d.to_json()))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Names the indexer cannot store: empty, too long, with NUL, or the attribute tables' own
/// key columns (both also reserved by api.md §8.2).
fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.chars().count() > MAX_ATTRIBUTE_NAME
        || name.contains('\0')
        || matches!(name, "id" | "revision")
    {
        return InvalidAttributeNameSnafu { name }.fail();
    }
    Ok(())
}

fn column_def(name: &str, d: &AttributeDefinition) -> String {
    format!(
        "{} {}",
        DIALECT.quote_ident(name),
        attribute_sql_type(&d.attribute_type)
    )
}

async fn execute(conn: &mut Conn, sql: &str, op: &'static str) -> Result<()> {
    sqlx::query(&stmt(sql))
        .execute(&mut *conn)
        .await
        .context(QuerySnafu { op })?;
    Ok(())
}

pub(super) async fn resource_type(pool: &Pool, name: &str) -> Result<ResourceType> {
    let mut conn = pool.acquire().await.context(QuerySnafu { op: "acquire" })?;
    Ok(require_type(&mut conn, name).await?.to_domain())
}

pub(super) async fn list_resource_types(pool: &Pool) -> Result<Vec<ResourceType>> {
    let rows: Vec<(Text, Text, Text, Text)> = sqlx::query_as(&stmt(
        "SELECT name, tablename, state, attributes FROM resource_type ORDER BY name",
    ))
    .fetch_all(pool)
    .await
    .context(QuerySnafu {
        op: "list resource types",
    })?;
    rows.into_iter()
        .map(|(n, t, s, a)| decode(n.0, t.0, &s.0, &a.0).map(|t| t.to_domain()))
        .collect()
}

pub(super) async fn create_resource_type(
    pool: &Pool,
    name: &str,
    attributes: &BTreeMap<String, AttributeDefinition>,
) -> Result<ResourceType> {
    const OP: &str = "create resource type";
    for attr in attributes.keys() {
        check_name(attr)?;
    }
    // Table names are ours, not the type's (type names are any Unicode text).
    let tablename = format!("rt_{}", Uuid::new_v4().simple());
    let mut tx = begin_write(pool, OP).await?;
    let inserted = sqlx::query(&stmt(
        "INSERT INTO resource_type (name, tablename, state, attributes) VALUES (?, ?, ?, ?)",
    ))
    .bind(name)
    .bind(&tablename)
    .bind(ResourceTypeState::Active.as_str())
    .bind(attributes_json(attributes))
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return ResourceTypeExistsSnafu { name }.fail(),
        Err(e) => return Err(e).context(QuerySnafu { op: OP }),
    }
    let columns: String = attributes
        .iter()
        .map(|(k, d)| format!(", {}", column_def(k, d)))
        .collect();
    let d = DIALECT;
    execute(
        &mut tx,
        &format!(
            "CREATE TABLE {} (id {ID_SQL_TYPE} NOT NULL PRIMARY KEY \
             REFERENCES resource (id) ON DELETE CASCADE{columns}){TABLE_OPTIONS}",
            d.quote_ident(&tablename)
        ),
        "create resource type table",
    )
    .await?;
    execute(
        &mut tx,
        &format!(
            "CREATE TABLE {} (revision {REVISION_SQL_TYPE} NOT NULL PRIMARY KEY \
             REFERENCES resource_history (revision) ON DELETE CASCADE{columns}){TABLE_OPTIONS}",
            d.quote_ident(&format!("{tablename}_history"))
        ),
        "create resource type history table",
    )
    .await?;
    commit(tx, OP).await?;
    Ok(ResourceType {
        name: name.to_owned(),
        state: ResourceTypeState::Active,
        attributes: attributes
            .iter()
            .map(|(k, d)| {
                (
                    k.clone(),
                    AttributeDefinition {
                        fill: None,
                        ..d.clone()
                    },
                )
            })
            .collect(),
    })
}

/// Sets `column` to `fill` in both tables, only where NULL when `only_nulls`.
async fn fill_column(
    conn: &mut Conn,
    tables: [&str; 2],
    column: &str,
    fill: &crate::resource_type::AttributeValue,
    only_nulls: bool,
) -> Result<()> {
    let col = DIALECT.quote_ident(column);
    for table in tables {
        let mut sql = format!("UPDATE {table} SET {col} = ?");
        if only_nulls {
            sql.push_str(&format!(" WHERE {col} IS NULL"));
        }
        sqlx::query_with(&stmt(&sql), arguments(vec![attribute_to_sql(fill)])?)
            .execute(&mut *conn)
            .await
            .context(QuerySnafu {
                op: "fill resource attribute",
            })?;
    }
    Ok(())
}

pub(super) async fn update_resource_type(
    pool: &Pool,
    name: &str,
    attributes: &BTreeMap<String, AttributeDefinition>,
) -> Result<ResourceType> {
    const OP: &str = "update resource type";
    let mut tx = begin_write(pool, OP).await?;
    let old = require_type(&mut tx, name).await?;
    let (Some(table), Some(history)) = (old.table(), old.history_table()) else {
        // `generic` has no attribute tables; it keeps no attributes.
        if attributes.is_empty() {
            return Ok(old.to_domain());
        }
        return ResourceTypeInUseSnafu { name }.fail();
    };
    let tables = [table.as_str(), history.as_str()];
    for (attr, new) in attributes {
        check_name(attr)?;
        if let Some(fill) = &new.fill {
            if !fill.fits(&new.attribute_type) {
                return InvalidAttributeValueSnafu {
                    type_name: name,
                    attribute: attr,
                }
                .fail();
            }
        }
        let fill = new
            .fill
            .as_ref()
            .filter(|f| **f != crate::AttributeValue::Null);
        match old.attributes.get(attr) {
            None => {
                if new.required && fill.is_none() {
                    return MissingFillSnafu { attribute: attr }.fail();
                }
                for t in tables {
                    execute(
                        &mut tx,
                        &format!("ALTER TABLE {t} ADD COLUMN {}", column_def(attr, new)),
                        "add resource attribute",
                    )
                    .await?;
                }
                if let Some(fill) = fill {
                    fill_column(&mut tx, tables, attr, fill, false).await?;
                }
            }
            Some(current) => {
                let unchanged = current.attribute_type == new.attribute_type
                    && current.required == new.required
                    && new.fill.is_none();
                if unchanged {
                    continue;
                }
                if current.attribute_type.name() != new.attribute_type.name() {
                    return AttributeTypeChangeSnafu {
                        type_name: name,
                        attribute: attr,
                        old: current.attribute_type.name(),
                        new: new.attribute_type.name(),
                    }
                    .fail();
                }
                if new.required && fill.is_none() {
                    return MissingFillSnafu { attribute: attr }.fail();
                }
                if let Some(fill) = fill {
                    fill_column(&mut tx, tables, attr, fill, true).await?;
                }
            }
        }
    }
    for attr in old.attributes.keys() {
        if !attributes.contains_key(attr) {
            for t in tables {
                execute(
                    &mut tx,
                    &format!("ALTER TABLE {t} DROP COLUMN {}", DIALECT.quote_ident(attr)),
                    "drop resource attribute",
                )
                .await?;
            }
        }
    }
    sqlx::query(&stmt(
        "UPDATE resource_type SET attributes = ? WHERE name = ?",
    ))
    .bind(attributes_json(attributes))
    .bind(name)
    .execute(&mut *tx)
    .await
    .context(QuerySnafu { op: OP })?;
    let updated = require_type(&mut tx, name).await?;
    commit(tx, OP).await?;
    Ok(updated.to_domain())
}

pub(super) async fn delete_resource_type(pool: &Pool, name: &str) -> Result<()> {
    const OP: &str = "delete resource type";
    let mut tx = begin_write(pool, OP).await?;
    let Some(t) = load_type(&mut tx, name).await? else {
        return ResourceTypeNotFoundSnafu { name }.fail();
    };
    let (Some(table), Some(history)) = (t.table(), t.history_table()) else {
        return ResourceTypeInUseSnafu { name }.fail();
    };
    let used = sqlx::query(&stmt("SELECT 1 FROM resource WHERE type = ? LIMIT 1"))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .context(QuerySnafu { op: OP })?;
    if used.is_some() {
        return ResourceTypeInUseSnafu { name }.fail();
    }
    execute(&mut tx, &format!("DROP TABLE {history}"), OP).await?;
    execute(&mut tx, &format!("DROP TABLE {table}"), OP).await?;
    sqlx::query(&stmt("DELETE FROM resource_type WHERE name = ?"))
        .bind(name)
        .execute(&mut *tx)
        .await
        .context(QuerySnafu { op: OP })?;
    commit(tx, OP).await
}
