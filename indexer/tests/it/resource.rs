//! Resource types and generic resources: just enough for metrics to reference them.

use chrono::{TimeZone, Utc};
use gnocchi_indexer::{Error, NewResource, ResourceTypeState};
use uuid::Uuid;

use crate::common::{new_metric, policy, Fixture};

indexer_test!(generic_type_exists, generic_type_exists_impl);
async fn generic_type_exists_impl(f: Fixture) {
    let t = f.indexer.resource_type("generic").await.expect("generic");
    assert_eq!(t.state, ResourceTypeState::Active);
    assert!(t.attributes.is_empty());
    let all = f.indexer.list_resource_types().await.expect("list");
    assert_eq!(
        all.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["generic"]
    );
    let err = f.indexer.resource_type("nope").await.expect_err("missing");
    assert!(
        matches!(&err, Error::ResourceTypeNotFound { name } if name == "nope"),
        "{err:?}"
    );
}

indexer_test!(create_and_get, create_and_get_impl);
async fn create_and_get_impl(f: Fixture) {
    let ix = &*f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    let id = Uuid::new_v4();
    let started = Utc
        .with_ymd_and_hms(2024, 5, 2, 9, 12, 33)
        .single()
        .expect("valid")
        + chrono::Duration::microseconds(519_642);
    let new = NewResource {
        id,
        original_resource_id: id.to_string().to_uppercase(),
        type_name: "generic".to_owned(),
        creator: Some("foobar".to_owned()),
        user_id: Some("u".to_owned()),
        project_id: Some("p".to_owned()),
        started_at: Some(started),
        ended_at: None,
        metrics: vec![
            new_metric("p", Some("disk.iops")),
            new_metric("p", Some("cpu")),
        ],
    };
    let created = ix.create_resource(&new).await.expect("create");
    assert_eq!(created.started_at, started);
    assert_eq!(created.revision_end, None);
    assert_eq!(created.metrics.len(), 2);
    let got = ix.resource(Some("generic"), id).await.expect("get");
    assert_eq!(got, created);
    assert_eq!(got.original_resource_id, id.to_string().to_uppercase());
    assert_eq!(got.metrics.get("cpu"), Some(&new.metrics[1].id));
    assert_eq!(
        ix.metric(new.metrics[0].id)
            .await
            .expect("metric")
            .resource_id,
        Some(id)
    );

    let err = ix
        .resource(Some("other"), id)
        .await
        .expect_err("other type");
    assert!(
        matches!(err, Error::ResourceNotFound { id: i } if i == id),
        "{err:?}"
    );
    let missing = Uuid::new_v4();
    assert!(matches!(
        ix.resource(None, missing).await.expect_err("missing"),
        Error::ResourceNotFound { id } if id == missing
    ));

    let err = ix
        .create_resource(&NewResource {
            metrics: vec![],
            ..new.clone()
        })
        .await
        .expect_err("dup");
    assert!(
        matches!(err, Error::ResourceExists { id: i } if i == id),
        "{err:?}"
    );

    let err = ix
        .create_resource(&NewResource {
            id: Uuid::new_v4(),
            type_name: "nope".into(),
            ..new.clone()
        })
        .await
        .expect_err("type");
    assert!(
        matches!(&err, Error::ResourceTypeNotFound { name } if name == "nope"),
        "{err:?}"
    );
}

indexer_test!(creation_is_atomic, creation_is_atomic_impl);
async fn creation_is_atomic_impl(f: Fixture) {
    let ix = &*f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    let id = Uuid::new_v4();
    let good = new_metric("p", Some("ok"));
    let new = NewResource {
        id,
        original_resource_id: id.to_string(),
        type_name: "generic".to_owned(),
        creator: None,
        user_id: None,
        project_id: None,
        started_at: None,
        ended_at: None,
        metrics: vec![good.clone(), new_metric("nope", Some("bad"))],
    };
    let err = ix.create_resource(&new).await.expect_err("bad metric");
    assert!(
        matches!(err, Error::ArchivePolicyNotFound { .. }),
        "{err:?}"
    );
    assert!(matches!(
        ix.resource(None, id).await.expect_err("rolled back"),
        Error::ResourceNotFound { .. }
    ));
    assert!(matches!(
        ix.metric(good.id).await.expect_err("rolled back"),
        Error::MetricNotFound { .. }
    ));
}
