//! Metrics: creation errors, lookups, listing with filters, sort and markers, deletion and the
//! janitor's view, processing side effects (api.md §6, §1.10; engine.md §3.3 step 8, §5.7).

use chrono::{TimeZone, Utc};
use gnocchi_core::MetricStatus;
use gnocchi_indexer::{
    Error, Indexer, MetricFilter, NewMetric, NewResource, Page, ProcessedMetric, SortKey,
};
use uuid::Uuid;

use crate::common::{new_metric, policy, Fixture};

fn generic(id: Uuid) -> NewResource {
    NewResource {
        id,
        original_resource_id: id.to_string(),
        type_name: "generic".to_owned(),
        creator: Some("foobar".to_owned()),
        user_id: None,
        project_id: None,
        started_at: None,
        ended_at: None,
        metrics: Vec::new(),
        ..Default::default()
    }
}

indexer_test!(create_and_get, create_and_get_impl);
async fn create_and_get_impl(f: Fixture) {
    let ix = &f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    let mut spec = new_metric("p", Some("disk.io.rate"));
    spec.unit = Some("B/s".to_owned());
    let m = ix.create_metric(&spec).await.expect("create");
    assert_eq!(m.id, spec.id);
    assert_eq!(m.status, MetricStatus::Active);
    assert!(
        m.needs_raw_data_truncation,
        "new metrics need truncation (engine.md §1.2)"
    );
    assert_eq!(m.last_measure_timestamp, None);
    assert_eq!(ix.metric(m.id).await.expect("get"), m);

    let missing = Uuid::new_v4();
    let err = ix.metric(missing).await.expect_err("missing");
    assert!(
        matches!(err, Error::MetricNotFound { id } if id == missing),
        "{err:?}"
    );

    let err = ix.create_metric(&spec).await.expect_err("same id");
    assert!(
        matches!(err, Error::MetricExists { id } if id == spec.id),
        "{err:?}"
    );

    let err = ix
        .create_metric(&new_metric("nope", None))
        .await
        .expect_err("policy");
    assert!(
        matches!(&err, Error::ArchivePolicyNotFound { name } if name == "nope"),
        "{err:?}"
    );

    let mut on_missing_resource = new_metric("p", Some("x"));
    let rid = Uuid::new_v4();
    on_missing_resource.resource_id = Some(rid);
    let err = ix
        .create_metric(&on_missing_resource)
        .await
        .expect_err("resource");
    assert!(
        matches!(err, Error::ResourceNotFound { id } if id == rid),
        "{err:?}"
    );

    // Unattached metrics may share a name (api.md §6.9).
    ix.create_metric(&new_metric("p", Some("disk.io.rate")))
        .await
        .expect("same name, no resource");
}

indexer_test!(name_unique_per_resource, name_unique_per_resource_impl);
async fn name_unique_per_resource_impl(f: Fixture) {
    let ix = &f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    let (r1, r2) = (Uuid::new_v4(), Uuid::new_v4());
    ix.create_resource(&generic(r1)).await.expect("resource");
    ix.create_resource(&generic(r2)).await.expect("resource");
    let attached = |rid| NewMetric {
        resource_id: Some(rid),
        ..new_metric("p", Some("cpu"))
    };

    let first = ix.create_metric(&attached(r1)).await.expect("first");
    ix.create_metric(&attached(r2))
        .await
        .expect("same name, other resource");
    let err = ix
        .create_metric(&attached(r1))
        .await
        .expect_err("duplicate name");
    assert!(
        matches!(&err, Error::NamedMetricExists { name, resource_id }
            if name == "cpu" && *resource_id == r1),
        "{err:?}"
    );
    assert_eq!(err.kind(), gnocchi_core::ErrorKind::AlreadyExists);
    assert_eq!(
        ix.resource_metric(r1, "cpu").await.expect("lookup"),
        Some(first.clone())
    );
    assert_eq!(ix.resource_metric(r1, "mem").await.expect("lookup"), None);

    // A deleted metric is detached and no longer blocks the name.
    ix.delete_metric(first.id).await.expect("delete");
    assert_eq!(ix.resource_metric(r1, "cpu").await.expect("lookup"), None);
    let again = ix
        .create_metric(&attached(r1))
        .await
        .expect("name free again");
    let res = ix.resource(None, r1).await.expect("resource");
    assert_eq!(res.metrics.get("cpu"), Some(&again.id));
}

indexer_test!(described, described_impl);
async fn described_impl(f: Fixture) {
    let ix = &f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    let rid = Uuid::new_v4();
    ix.create_resource(&generic(rid)).await.expect("resource");
    let attached = ix
        .create_metric(&NewMetric {
            resource_id: Some(rid),
            ..new_metric("p", Some("cpu"))
        })
        .await
        .expect("attached");
    let d = ix.described_metric(attached.id).await.expect("described");
    assert_eq!(d.metric, attached);
    assert_eq!(d.policy, ix.archive_policy("p").await.expect("policy"));
    assert_eq!(
        d.resource,
        Some(ix.resource(None, rid).await.expect("resource"))
    );

    let alone = ix
        .create_metric(&new_metric("p", None))
        .await
        .expect("unattached");
    let d = ix.described_metric(alone.id).await.expect("described");
    assert_eq!((d.metric, d.resource), (alone.clone(), None));

    ix.delete_metric(alone.id).await.expect("delete");
    for id in [alone.id, Uuid::new_v4()] {
        let err = ix.described_metric(id).await.expect_err("not active");
        assert!(
            matches!(err, Error::MetricNotFound { id: e } if e == id),
            "{err:?}"
        );
    }
}

indexer_test!(by_ids, by_ids_impl);
async fn by_ids_impl(f: Fixture) {
    let ix = &f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    let a = ix
        .create_metric(&new_metric("p", Some("a")))
        .await
        .expect("a");
    let b = ix
        .create_metric(&new_metric("p", Some("b")))
        .await
        .expect("b");
    let c = ix
        .create_metric(&new_metric("p", Some("c")))
        .await
        .expect("c");
    ix.delete_metric(c.id).await.expect("delete");
    let got = ix
        .metrics_by_ids(&[b.id, Uuid::new_v4(), a.id, c.id, a.id])
        .await
        .expect("by ids");
    let mut want = vec![a.id, b.id];
    want.sort();
    assert_eq!(got.iter().map(|m| m.id).collect::<Vec<_>>(), want);
    assert!(ix.metrics_by_ids(&[]).await.expect("empty").is_empty());
}

async fn names(ix: &dyn Indexer, filter: &MetricFilter, page: &Page) -> Vec<Option<String>> {
    ix.list_metrics(filter, page)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect()
}

fn sorted(keys: &[&str]) -> Page {
    Page {
        sort: keys
            .iter()
            .map(|k| k.parse::<SortKey>().expect("sort key"))
            .collect(),
        ..Page::default()
    }
}

indexer_test!(list_filters, list_filters_impl);
async fn list_filters_impl(f: Fixture) {
    let ix = &*f.indexer;
    ix.create_archive_policy(&policy("p1"))
        .await
        .expect("policy");
    ix.create_archive_policy(&policy("p2"))
        .await
        .expect("policy");
    let rid = Uuid::new_v4();
    ix.create_resource(&generic(rid)).await.expect("resource");
    let specs = [
        NewMetric {
            unit: Some("ns".into()),
            ..new_metric("p1", Some("a"))
        },
        NewMetric {
            creator: "jd".into(),
            ..new_metric("p2", Some("b"))
        },
        NewMetric {
            resource_id: Some(rid),
            ..new_metric("p2", Some("c"))
        },
        new_metric("p1", None),
    ];
    let mut ids = Vec::new();
    for s in &specs {
        ids.push(ix.create_metric(s).await.expect("create").id);
    }
    let deleted = ix
        .create_metric(&new_metric("p1", Some("gone")))
        .await
        .expect("create");
    ix.delete_metric(deleted.id).await.expect("delete");

    let by_name = sorted(&["name:asc-nullsfirst"]);
    let all = MetricFilter::default();
    assert_eq!(
        names(ix, &all, &by_name).await,
        [None, Some("a".into()), Some("b".into()), Some("c".into())],
        "deleted metrics are never listed"
    );
    let f1 = MetricFilter {
        archive_policy_name: Some("p1".into()),
        ..Default::default()
    };
    assert_eq!(names(ix, &f1, &by_name).await, [None, Some("a".into())]);
    let f2 = MetricFilter {
        creator: Some("jd".into()),
        ..Default::default()
    };
    assert_eq!(names(ix, &f2, &by_name).await, [Some("b".into())]);
    let f3 = MetricFilter {
        unit: Some("ns".into()),
        ..Default::default()
    };
    assert_eq!(names(ix, &f3, &by_name).await, [Some("a".into())]);
    let f4 = MetricFilter {
        resource_id: Some(rid),
        ..Default::default()
    };
    assert_eq!(names(ix, &f4, &by_name).await, [Some("c".into())]);
    let f5 = MetricFilter {
        name: Some("b".into()),
        ..Default::default()
    };
    assert_eq!(names(ix, &f5, &by_name).await, [Some("b".into())]);
    let f6 = MetricFilter {
        id: Some(ids[0]),
        ..Default::default()
    };
    assert_eq!(names(ix, &f6, &by_name).await, [Some("a".into())]);
    let f7 = MetricFilter {
        archive_policy_name: Some("p2".into()),
        creator: Some("foobar".into()),
        ..Default::default()
    };
    assert_eq!(
        names(ix, &f7, &by_name).await,
        [Some("c".into())],
        "filters are AND-ed"
    );
    let active = MetricFilter {
        status: Some(MetricStatus::Active),
        ..Default::default()
    };
    assert_eq!(names(ix, &active, &by_name).await.len(), 4);
    let del = MetricFilter {
        status: Some(MetricStatus::Delete),
        id: Some(deleted.id),
        ..Default::default()
    };
    assert!(
        names(ix, &del, &by_name).await.is_empty(),
        "status=delete lists nothing"
    );
}

indexer_test!(list_sort_and_pages, list_sort_and_pages_impl);
async fn list_sort_and_pages_impl(f: Fixture) {
    let ix = &*f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    let mut made = Vec::new();
    for name in [Some("b"), None, Some("a"), Some("c"), None, Some("a")] {
        made.push(
            ix.create_metric(&new_metric("p", name))
                .await
                .expect("create"),
        );
    }
    let all = MetricFilter::default();

    // Default order: id ascending.
    let mut by_id: Vec<Uuid> = made.iter().map(|m| m.id).collect();
    by_id.sort();
    let got: Vec<Uuid> = ix
        .list_metrics(&all, &Page::default())
        .await
        .expect("list")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(got, by_id);

    // Default NULL placement: NULL is the largest value (last ascending, first descending).
    let asc = names(ix, &all, &sorted(&["name"])).await;
    assert_eq!(
        &asc[..4],
        [
            Some("a".into()),
            Some("a".into()),
            Some("b".into()),
            Some("c".into())
        ]
    );
    assert_eq!(&asc[4..], [None, None]);
    let desc = names(ix, &all, &sorted(&["name:desc"])).await;
    assert_eq!(&desc[..2], [None, None]);
    assert_eq!(
        &desc[2..],
        [
            Some("c".into()),
            Some("b".into()),
            Some("a".into()),
            Some("a".into())
        ]
    );
    let nl = names(ix, &all, &sorted(&["name:desc-nullslast"])).await;
    assert_eq!(&nl[4..], [None, None]);
    let nf = names(ix, &all, &sorted(&["name:asc-nullsfirst"])).await;
    assert_eq!(&nf[..2], [None, None]);

    // Walking pages with limit + marker visits every metric once, in order, for several
    // orders including NULL-heavy keys and ties broken by id.
    for keys in [
        &["name:asc"][..],
        &["name:desc"],
        &["name:asc-nullsfirst"],
        &["name:desc-nullslast"],
        &["unit", "name:desc"],
        &["id:desc"],
        &["creator", "archive_policy_name"],
    ] {
        let full: Vec<Uuid> = ix
            .list_metrics(&all, &sorted(keys))
            .await
            .expect("full")
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(full.len(), 6);
        for limit in [1, 2, 4] {
            let mut walked = Vec::new();
            let mut marker = None;
            loop {
                let page = Page {
                    limit: Some(limit),
                    marker: marker.clone(),
                    ..sorted(keys)
                };
                let items = ix.list_metrics(&all, &page).await.expect("page");
                assert!(items.len() <= limit as usize);
                walked.extend(items.iter().map(|m| m.id));
                if items.len() < limit as usize {
                    break;
                }
                marker = Some(items.last().expect("non-empty").id.to_string());
            }
            assert_eq!(walked, full, "sort {keys:?}, limit {limit}");
        }
    }
}

indexer_test!(pagination_errors, pagination_errors_impl);
async fn pagination_errors_impl(f: Fixture) {
    let ix = &*f.indexer;
    let all = MetricFilter::default();
    let err = ix
        .list_metrics(&all, &sorted(&["nonexistent_key"]))
        .await
        .expect_err("key");
    assert!(
        matches!(&err, Error::InvalidSortKey { key } if key == "nonexistent_key"),
        "{err:?}"
    );
    assert_eq!(err.kind(), gnocchi_core::ErrorKind::Invalid);
    let err = "name:upwards".parse::<SortKey>().expect_err("direction");
    assert!(matches!(&err, Error::InvalidSortDirection { direction } if direction == "upwards"));
    for marker in ["not-a-uuid", &Uuid::new_v4().to_string()] {
        let page = Page {
            marker: Some(marker.to_owned()),
            ..Page::default()
        };
        let err = ix.list_metrics(&all, &page).await.expect_err("marker");
        assert!(
            matches!(&err, Error::InvalidMarker { marker: m } if m == marker),
            "{err:?}"
        );
    }
}

indexer_test!(delete_and_janitor, delete_and_janitor_impl);
async fn delete_and_janitor_impl(f: Fixture) {
    let ix = &*f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    let rid = Uuid::new_v4();
    ix.create_resource(&generic(rid)).await.expect("resource");
    let m = ix
        .create_metric(&NewMetric {
            resource_id: Some(rid),
            ..new_metric("p", Some("cpu"))
        })
        .await
        .expect("create");
    let keep = ix
        .create_metric(&new_metric("p", None))
        .await
        .expect("create");
    assert!(ix
        .list_deleted_metrics(100)
        .await
        .expect("deleted")
        .is_empty());

    ix.delete_metric(m.id).await.expect("delete");
    let err = ix.delete_metric(m.id).await.expect_err("second delete");
    assert!(
        matches!(err, Error::MetricNotFound { id } if id == m.id),
        "{err:?}"
    );
    assert!(matches!(
        ix.metric(m.id).await.expect_err("invisible"),
        Error::MetricNotFound { .. }
    ));
    assert!(
        ix.resource(None, rid)
            .await
            .expect("resource")
            .metrics
            .is_empty(),
        "detached"
    );

    let deleted = ix.list_deleted_metrics(100).await.expect("deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].id, m.id);
    assert_eq!(deleted[0].status, MetricStatus::Delete);
    assert_eq!(deleted[0].resource_id, None);
    assert_eq!(deleted[0].archive_policy_name, "p");
    assert_eq!(ix.list_deleted_metrics(0).await.expect("limit 0").len(), 0);

    ix.expunge_metric(m.id).await.expect("expunge");
    ix.expunge_metric(m.id)
        .await
        .expect("expunge twice is harmless");
    assert!(ix
        .list_deleted_metrics(100)
        .await
        .expect("deleted")
        .is_empty());
    assert_eq!(ix.metric(keep.id).await.expect("untouched").id, keep.id);
}

indexer_test!(processing_side_effects, processing_side_effects_impl);
async fn processing_side_effects_impl(f: Fixture) {
    let ix = &*f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    let ended = Utc
        .with_ymd_and_hms(2024, 1, 1, 12, 0, 0)
        .single()
        .expect("valid");
    let ended_ns = ended.timestamp_nanos_opt().expect("in range");
    let (restored, kept) = (Uuid::new_v4(), Uuid::new_v4());
    for rid in [restored, kept] {
        ix.create_resource(&NewResource {
            started_at: Some(ended - chrono::Duration::hours(1)),
            ended_at: Some(ended),
            ..generic(rid)
        })
        .await
        .expect("resource");
    }
    let m1 = ix
        .create_metric(&NewMetric {
            resource_id: Some(restored),
            ..new_metric("p", Some("a"))
        })
        .await
        .expect("create");
    let m2 = ix
        .create_metric(&NewMetric {
            resource_id: Some(kept),
            ..new_metric("p", Some("a"))
        })
        .await
        .expect("create");
    let m3 = ix
        .create_metric(&new_metric("p", None))
        .await
        .expect("create");
    assert_eq!(
        ix.list_metrics_needing_raw_truncation(10)
            .await
            .expect("list")
            .len(),
        3
    );

    let before = Utc::now();
    ix.mark_metrics_processed(&[
        // A measure exactly at ended_at restores the resource.
        ProcessedMetric {
            id: m1.id,
            newest_measure_ns: ended_ns,
        },
        // Older than ended_at: nothing.
        ProcessedMetric {
            id: m2.id,
            newest_measure_ns: ended_ns - 1,
        },
        ProcessedMetric {
            id: m3.id,
            newest_measure_ns: 0,
        },
        // Vanished meanwhile: skipped.
        ProcessedMetric {
            id: Uuid::new_v4(),
            newest_measure_ns: 0,
        },
    ])
    .await
    .expect("processed");
    for id in [m1.id, m2.id, m3.id] {
        let m = ix.metric(id).await.expect("metric");
        assert!(!m.needs_raw_data_truncation);
        let ts = m.last_measure_timestamp.expect("set");
        assert!(
            ts >= before - chrono::Duration::milliseconds(1) && ts <= Utc::now(),
            "{ts}"
        );
    }
    assert!(ix
        .list_metrics_needing_raw_truncation(10)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(ix.resource(None, restored).await.expect("r").ended_at, None);
    assert_eq!(
        ix.resource(None, kept).await.expect("r").ended_at,
        Some(ended)
    );
    ix.mark_metrics_processed(&[]).await.expect("nothing to do");
}
