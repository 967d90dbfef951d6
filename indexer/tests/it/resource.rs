//! Resource types and generic resources: just enough for metrics to reference them.

use chrono::{TimeZone, Utc};
use gnocchi_indexer::{
    AttributeValue, Error, MetricSet, NewMetric, NewResource, Page, ResourceQuery,
    ResourceTypeState, ResourceUpdate,
};
use uuid::Uuid;

use crate::common::{attr, new_metric, new_resource, policy, string_attr, text, Fixture};

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
        ..Default::default()
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
        ..Default::default()
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

fn instance_type() -> std::collections::BTreeMap<String, gnocchi_indexer::AttributeDefinition> {
    use gnocchi_indexer::AttributeType;
    let mut m = std::collections::BTreeMap::new();
    m.insert("display_name".to_owned(), string_attr(true));
    m.insert("host".to_owned(), string_attr(false));
    m.insert(
        "vcpus".to_owned(),
        attr(
            AttributeType::Number {
                min: None,
                max: None,
            },
            false,
        ),
    );
    m.insert(
        "launched_at".to_owned(),
        attr(AttributeType::Datetime, false),
    );
    m
}

indexer_test!(typed_crud_and_revisions, typed_crud_and_revisions_impl);
async fn typed_crud_and_revisions_impl(f: Fixture) {
    let ix = &*f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    ix.create_resource_type("instance", &instance_type())
        .await
        .expect("type");

    let mut missing = new_resource("instance");
    missing.attributes.insert("host".into(), text("h"));
    let err = ix.create_resource(&missing).await.expect_err("required");
    assert!(
        matches!(&err, Error::MissingRequiredAttribute { attribute, .. } if attribute == "display_name"),
        "{err:?}"
    );
    let mut unknown = new_resource("instance");
    unknown.attributes.insert("display_name".into(), text("d"));
    unknown.attributes.insert("nope".into(), text("d"));
    let err = ix.create_resource(&unknown).await.expect_err("unknown");
    assert!(
        matches!(&err, Error::UnknownAttribute { attribute, type_name } if attribute == "nope" && type_name == "instance"),
        "{err:?}"
    );
    let mut backwards = new_resource("generic");
    backwards.started_at = Some(Utc::now());
    backwards.ended_at = Some(Utc::now() - chrono::Duration::hours(1));
    assert!(matches!(
        ix.create_resource(&backwards).await,
        Err(Error::StartAfterEnd)
    ));

    // A metric of the creator to link, one of someone else that cannot be linked.
    let mine = ix
        .create_metric(&new_metric("p", None))
        .await
        .expect("metric");
    let theirs = ix
        .create_metric(&NewMetric {
            creator: "other".into(),
            ..new_metric("p", None)
        })
        .await
        .expect("metric");
    let mut r = new_resource("instance");
    r.attributes.insert("display_name".into(), text("vm1"));
    r.attributes
        .insert("vcpus".into(), AttributeValue::Number(2.0));
    r.metrics = vec![new_metric("p", Some("cpu"))];
    r.linked_metrics.insert("disk".into(), theirs.id);
    let err = ix.create_resource(&r).await.expect_err("not mine");
    assert!(
        matches!(err, Error::MetricNotFound { id } if id == theirs.id),
        "{err:?}"
    );
    r.linked_metrics.insert("disk".into(), mine.id);
    let created = ix.create_resource(&r).await.expect("create");
    assert_eq!(created.revision, -1);
    assert_eq!(created.attributes.get("display_name"), Some(&text("vm1")));
    assert_eq!(created.attributes.get("host"), Some(&AttributeValue::Null));
    assert_eq!(created.metrics.get("disk"), Some(&mine.id));
    assert_eq!(created.metrics.len(), 2);
    assert_eq!(
        ix.metric(mine.id).await.expect("linked").name.as_deref(),
        Some("disk")
    );
    // Generic view: same resource, no attributes, real type name.
    let generic = ix.resource(Some("generic"), r.id).await.expect("generic");
    assert_eq!(generic.type_name, "instance");
    assert!(generic.attributes.is_empty());
    assert_eq!(
        ix.resource(Some("instance"), r.id).await.expect("typed"),
        created
    );

    // No-op PATCH: no revision, revision_start kept.
    let mut noop = ResourceUpdate {
        user_id: Some(None),
        started_at: Some(created.started_at),
        ..Default::default()
    };
    noop.attributes.insert("display_name".into(), text("vm1"));
    let same = ix
        .update_resource(Some("instance"), r.id, &noop)
        .await
        .expect("noop");
    assert_eq!(same, created);
    // Metrics only: replaced, no revision.
    let only_metrics = ResourceUpdate {
        metrics: Some(MetricSet {
            created: vec![new_metric("p", Some("mem"))],
            linked: [("disk".to_owned(), mine.id)].into(),
        }),
        ..Default::default()
    };
    let m = ix
        .update_resource(None, r.id, &only_metrics)
        .await
        .expect("metrics");
    assert_eq!(m.revision_start, created.revision_start);
    assert_eq!(
        m.metrics.keys().collect::<Vec<_>>(),
        ["disk", "mem"],
        "cpu detached"
    );
    let cpu = created.metrics["cpu"];
    let detached = ix.metric(cpu).await.expect("still alive");
    assert_eq!(detached.resource_id, None);

    // Real changes: one revision each.
    let mut u1 = ResourceUpdate {
        project_id: Some(Some("proj".into())),
        ..Default::default()
    };
    u1.attributes.insert("host".into(), text("compute1"));
    let v2 = ix
        .update_resource(Some("instance"), r.id, &u1)
        .await
        .expect("patch 1");
    assert!(v2.revision_start > created.revision_start);
    assert_eq!(v2.project_id.as_deref(), Some("proj"));
    assert_eq!(v2.attributes.get("host"), Some(&text("compute1")));
    let mut u2 = ResourceUpdate::default();
    u2.attributes.insert("host".into(), text("compute2"));
    let v3 = ix
        .update_resource(Some("instance"), r.id, &u2)
        .await
        .expect("patch 2");
    let err = ix
        .update_resource(
            None,
            r.id,
            &ResourceUpdate {
                ended_at: Some(Some(created.started_at - chrono::Duration::seconds(1))),
                ..Default::default()
            },
        )
        .await
        .expect_err("ended before start");
    assert!(
        matches!(&err, Error::InvalidEndedAt { type_name, .. } if type_name == "instance"),
        "{err:?}"
    );
    let err = ix
        .update_resource(
            None,
            r.id,
            &ResourceUpdate {
                user_id: Some(Some("changed".into())),
                metrics: Some(MetricSet {
                    linked: [("x".to_owned(), Uuid::new_v4())].into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect_err("bad metric");
    assert!(matches!(err, Error::MetricNotFound { .. }), "{err:?}");
    assert_eq!(
        ix.resource(None, r.id).await.expect("unchanged").user_id,
        None,
        "atomic"
    );

    let history = ix
        .resource_history("instance", r.id, &Page::default())
        .await
        .expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!(
        history.iter().map(|h| h.revision).collect::<Vec<_>>(),
        [1, 2, -1],
        "global counter from 1, current is -1"
    );
    assert_eq!(history[0].revision_start, created.revision_start);
    assert_eq!(history[0].revision_end, Some(v2.revision_start));
    assert_eq!(history[1].revision_end, Some(v3.revision_start));
    assert_eq!(history[2].revision_end, None);
    assert_eq!(
        history[0].attributes.get("host"),
        Some(&AttributeValue::Null)
    );
    assert_eq!(history[1].attributes.get("host"), Some(&text("compute1")));
    assert_eq!(history[0].project_id, None);
    for h in &history {
        assert_eq!(h.metrics, v3.metrics, "history rows show current metrics");
    }
    let page = Page {
        limit: Some(1),
        marker: Some(format!("{}@1", r.id)),
        sort: vec!["revision_end:asc-nullslast".parse().expect("sort")],
    };
    let next = ix
        .resource_history("instance", r.id, &page)
        .await
        .expect("page");
    assert_eq!(next.iter().map(|h| h.revision).collect::<Vec<_>>(), [2]);
    let err = ix
        .resource_history(
            "instance",
            r.id,
            &Page {
                marker: Some(format!("{}@99", r.id)),
                ..Default::default()
            },
        )
        .await
        .expect_err("marker");
    assert!(matches!(err, Error::InvalidMarker { .. }), "{err:?}");

    // Delete: type-restricted, metrics marked deleted, history gone.
    let err = ix
        .delete_resource(Some("other"), r.id)
        .await
        .expect_err("type");
    assert!(matches!(err, Error::ResourceNotFound { .. }), "{err:?}");
    ix.delete_resource(Some("generic"), r.id)
        .await
        .expect("delete");
    assert!(matches!(
        ix.metric(mine.id).await,
        Err(Error::MetricNotFound { .. })
    ));
    assert!(matches!(
        ix.resource(None, r.id).await,
        Err(Error::ResourceNotFound { .. })
    ));
    let all = ix
        .list_resources(&ResourceQuery {
            history: true,
            ..ResourceQuery::all("generic")
        })
        .await
        .expect("list");
    assert!(all.is_empty());
    assert!(ix.metric(cpu).await.is_ok(), "detached metric survives");
}

indexer_test!(append_metrics, append_metrics_impl);
async fn append_metrics_impl(f: Fixture) {
    let ix = &*f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    let mut r = new_resource("generic");
    r.metrics = vec![new_metric("p", Some("cpu"))];
    let created = ix.create_resource(&r).await.expect("create");
    let all = ix
        .append_resource_metrics(
            r.id,
            &MetricSet {
                created: vec![new_metric("p", Some("mem"))],
                ..Default::default()
            },
        )
        .await
        .expect("append");
    assert_eq!(all.len(), 2);
    let err = ix
        .append_resource_metrics(
            r.id,
            &MetricSet {
                created: vec![new_metric("p", Some("cpu"))],
                ..Default::default()
            },
        )
        .await
        .expect_err("dup");
    assert!(
        matches!(&err, Error::NamedMetricExists { name, .. } if name == "cpu"),
        "{err:?}"
    );
    let err = ix
        .append_resource_metrics(Uuid::new_v4(), &MetricSet::default())
        .await
        .expect_err("missing");
    assert!(matches!(err, Error::ResourceNotFound { .. }), "{err:?}");
    let got = ix.resource(None, r.id).await.expect("get");
    assert_eq!(got.revision_start, created.revision_start);
    assert_eq!(got.metrics.len(), 2);
    assert_eq!(
        ix.list_resources(&ResourceQuery {
            history: true,
            ..ResourceQuery::all("generic")
        })
        .await
        .expect("history")
        .len(),
        1,
        "no revision"
    );
}

indexer_test!(resources_by_ids, resources_by_ids_impl);
async fn resources_by_ids_impl(f: Fixture) {
    let ix = &*f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    ix.create_resource_type("instance", &instance_type())
        .await
        .expect("type");
    let mut a = new_resource("generic");
    a.metrics = vec![new_metric("p", Some("cpu"))];
    let mut b = new_resource("instance");
    b.attributes.insert("display_name".into(), text("vm"));
    ix.create_resource(&a).await.expect("a");
    ix.create_resource(&b).await.expect("b");
    let found = ix
        .resources_by_ids(&[b.id, Uuid::new_v4(), a.id, b.id])
        .await
        .expect("by ids");
    let mut want = vec![a.id, b.id];
    want.sort();
    assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), want);
    let fa = found.iter().find(|r| r.id == a.id).expect("a");
    assert_eq!(fa.metrics.get("cpu"), Some(&a.metrics[0].id));
    assert!(
        found.iter().all(|r| r.attributes.is_empty()),
        "generic view"
    );
    assert!(ix.resources_by_ids(&[]).await.expect("empty").is_empty());
}
