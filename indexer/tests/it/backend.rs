//! Backend plumbing every driver must get right: NULLs of every attribute type bound
//! explicitly, Gnocchi's URL forms, and connection failures reported as retryable.

use std::collections::BTreeMap;

use gnocchi_core::ErrorKind;
use gnocchi_indexer::{
    AttributeDefinition, AttributeType, AttributeValue, Filter, ResourceQuery, ResourceUpdate,
};
use serde_json::Value;

use crate::common::{attr, new_resource, string_attr, text, Fixture};

fn every_type() -> BTreeMap<String, AttributeDefinition> {
    let mut m = BTreeMap::new();
    m.insert("s".to_owned(), string_attr(false));
    m.insert(
        "n".to_owned(),
        attr(
            AttributeType::Number {
                min: None,
                max: None,
            },
            false,
        ),
    );
    m.insert("u".to_owned(), attr(AttributeType::Uuid, false));
    m.insert("b".to_owned(), attr(AttributeType::Bool, false));
    m.insert("d".to_owned(), attr(AttributeType::Datetime, false));
    m
}

indexer_test!(explicit_null_attributes, explicit_null_attributes_impl);
async fn explicit_null_attributes_impl(f: Fixture) {
    let ix = f.indexer;
    ix.create_resource_type("every", &every_type())
        .await
        .expect("type");
    let mut r = new_resource("every");
    for name in ["s", "n", "u", "b", "d"] {
        r.attributes.insert(name.to_owned(), AttributeValue::Null);
    }
    let created = ix.create_resource(&r).await.expect("create with NULLs");
    assert!(created
        .attributes
        .values()
        .all(|v| *v == AttributeValue::Null));

    let mut set = BTreeMap::new();
    set.insert("n".to_owned(), AttributeValue::Number(2.5));
    set.insert("b".to_owned(), AttributeValue::Bool(true));
    set.insert("s".to_owned(), text("x"));
    let update = ResourceUpdate {
        attributes: set,
        ..ResourceUpdate::default()
    };
    let updated = ix
        .update_resource(Some("every"), r.id, &update)
        .await
        .expect("set values");
    assert_eq!(updated.attributes["n"], AttributeValue::Number(2.5));
    assert_eq!(updated.attributes["b"], AttributeValue::Bool(true));

    let mut set = BTreeMap::new();
    set.insert("n".to_owned(), AttributeValue::Null);
    set.insert("b".to_owned(), AttributeValue::Null);
    let update = ResourceUpdate {
        attributes: set,
        ..ResourceUpdate::default()
    };
    let cleared = ix
        .update_resource(Some("every"), r.id, &update)
        .await
        .expect("clear values");
    assert_eq!(cleared.attributes["n"], AttributeValue::Null);
    assert_eq!(cleared.attributes["b"], AttributeValue::Null);
    assert_eq!(cleared.attributes["s"], text("x"));

    let mut q = ResourceQuery::all("every");
    q.filter = Some(Filter::And(vec![
        Filter::eq("n", Value::Null),
        Filter::eq("b", Value::Null),
        Filter::eq("s", "x"),
    ]));
    let found = ix.list_resources(&q).await.expect("search NULLs");
    assert_eq!(found.len(), 1);

    let history = ix
        .resource_history("every", r.id, &Default::default())
        .await
        .expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!(history[1].attributes["n"], AttributeValue::Number(2.5));
}

#[tokio::test]
async fn unreachable_postgresql_is_unavailable() {
    // Port 1 on the loopback interface: nothing listens there.
    let err = gnocchi_indexer::open("postgresql+psycopg2://gnocchi:secret@127.0.0.1:1/gnocchi")
        .await
        .err()
        .expect("no server");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(err.is_retryable());
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn postgresql_driver_suffix_is_accepted() {
    let Some(f) = crate::common::postgresql().await else {
        return;
    };
    let url = f.url.replacen("postgresql://", "postgresql+psycopg2://", 1);
    let ix = gnocchi_indexer::open(&url).await.expect("open");
    ix.check().await.expect("check");
    assert!(ix.is_pristine().await.expect("pristine"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_postgresql_connections_are_unavailable() {
    use sqlx::Connection;

    let Some(f) = crate::common::postgresql().await else {
        return;
    };
    f.indexer
        .create_archive_policy(&crate::common::policy("p"))
        .await
        .expect("policy");
    let db = f
        .url
        .rsplit('/')
        .next()
        .and_then(|d| d.split('?').next())
        .expect("database name")
        .to_owned();
    let base = std::env::var("GNOCCHI_TEST_POSTGRESQL_URL").expect("set");
    let mut admin = sqlx::PgConnection::connect(&base).await.expect("admin");
    // Kill every pooled connection, as a server restart or failover would.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&db)
    .execute(&mut admin)
    .await
    .expect("terminate");
    for _ in 0..5 {
        match f.indexer.archive_policy("p").await {
            Ok(p) => assert_eq!(p.name, "p"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Unavailable, "{e:?}");
                assert!(e.is_retryable());
            }
        }
    }
    // The pool reconnects by itself.
    f.indexer.archive_policy("p").await.expect("reconnected");
}

#[tokio::test]
async fn unreachable_mysql_is_unavailable() {
    let err = gnocchi_indexer::open("mysql+pymysql://gnocchi:secret@127.0.0.1:1/gnocchi")
        .await
        .err()
        .expect("no server");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(err.is_retryable());
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn mysql_sqlalchemy_url_forms_are_accepted() {
    let Some(f) = crate::common::mysql().await else {
        return;
    };
    // Gnocchi's deployment guides write `mysql+pymysql://…?charset=utf8`.
    let pymysql = f.url.replacen("mysql://", "mysql+pymysql://", 1);
    let with_query = if pymysql.contains('?') {
        format!("{pymysql}&charset=utf8")
    } else {
        format!("{pymysql}?charset=utf8")
    };
    for url in [f.url.clone(), pymysql, with_query] {
        let ix = gnocchi_indexer::open(&url).await.expect("open");
        ix.check().await.expect("check");
        assert!(ix.is_pristine().await.expect("pristine"), "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_mysql_connections_are_unavailable() {
    use sqlx::Connection;

    let Some(f) = crate::common::mysql().await else {
        return;
    };
    f.indexer
        .create_archive_policy(&crate::common::policy("p"))
        .await
        .expect("policy");
    let db = f
        .url
        .rsplit('/')
        .next()
        .and_then(|d| d.split('?').next())
        .expect("database name")
        .to_owned();
    let base = std::env::var("GNOCCHI_TEST_MYSQL_URL").expect("set");
    let mut admin = sqlx::MySqlConnection::connect(&base).await.expect("admin");
    // Kill every pooled connection, as a server restart or failover would.
    let ids: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
    )
    .bind(&db)
    .fetch_all(&mut admin)
    .await
    .expect("list connections");
    assert!(!ids.is_empty());
    for (id,) in ids {
        sqlx::query(&format!("KILL CONNECTION {id}"))
            .execute(&mut admin)
            .await
            .expect("kill");
    }
    for _ in 0..5 {
        match f.indexer.archive_policy("p").await {
            Ok(p) => assert_eq!(p.name, "p"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Unavailable, "{e:?}");
                assert!(e.is_retryable());
            }
        }
    }
    // The pool reconnects by itself.
    f.indexer.archive_policy("p").await.expect("reconnected");
}

indexer_test!(
    attribute_retyped_after_drop,
    attribute_retyped_after_drop_impl
);
async fn attribute_retyped_after_drop_impl(f: Fixture) {
    // The same statement text then reads a column of another type: a backend caching
    // prepared statements must not fail with a stale plan.
    let ix = f.indexer;
    let mut attrs = BTreeMap::new();
    attrs.insert("x".to_owned(), string_attr(false));
    ix.create_resource_type("retyped", &attrs)
        .await
        .expect("type");
    let mut r = new_resource("retyped");
    r.attributes.insert("x".to_owned(), text("a"));
    ix.create_resource(&r).await.expect("create");
    for _ in 0..3 {
        ix.list_resources(&ResourceQuery::all("retyped"))
            .await
            .expect("list");
        ix.resource(Some("retyped"), r.id).await.expect("get");
    }
    ix.update_resource_type("retyped", &BTreeMap::new())
        .await
        .expect("drop x");
    let mut attrs = BTreeMap::new();
    attrs.insert(
        "x".to_owned(),
        attr(
            AttributeType::Number {
                min: None,
                max: None,
            },
            false,
        ),
    );
    ix.update_resource_type("retyped", &attrs)
        .await
        .expect("add x as a number");
    for _ in 0..3 {
        let listed = ix
            .list_resources(&ResourceQuery::all("retyped"))
            .await
            .expect("list after retype");
        assert_eq!(listed[0].attributes["x"], AttributeValue::Null);
        ix.resource(Some("retyped"), r.id)
            .await
            .expect("get after retype");
    }
    let mut set = BTreeMap::new();
    set.insert("x".to_owned(), AttributeValue::Number(1.0));
    let update = ResourceUpdate {
        attributes: set,
        ..ResourceUpdate::default()
    };
    let patched = ix
        .update_resource(Some("retyped"), r.id, &update)
        .await
        .expect("patch after retype");
    assert_eq!(patched.attributes["x"], AttributeValue::Number(1.0));
}
