//! Resource search (api.md §10): every operator on generic and typed columns, nested boolean
//! logic, pseudo-fields, history searches, pagination over attributes, batch delete.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use gnocchi_indexer::{
    AttributeDefinition, AttributeType, AttributeValue, CmpOp, Error, Filter, Indexer, Page,
    ResourceQuery, ResourceUpdate,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{attr, new_metric, new_resource, policy, string_attr, text, Fixture};

fn host_type() -> BTreeMap<String, AttributeDefinition> {
    let mut m = BTreeMap::new();
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
    m.insert("uuid".to_owned(), attr(AttributeType::Uuid, false));
    m.insert("on".to_owned(), attr(AttributeType::Bool, false));
    m.insert("born".to_owned(), attr(AttributeType::Datetime, false));
    m
}

/// host, vcpus, project_id, started_at offset (days), lifespan (minutes).
type Seed<'a> = (&'a str, Option<f64>, Option<&'a str>, i64, Option<i64>);

/// Five `host` resources.
async fn seed(ix: &dyn Indexer) -> Vec<Uuid> {
    ix.create_resource_type("host", &host_type())
        .await
        .expect("type");
    let base = Utc
        .with_ymd_and_hms(2014, 1, 1, 0, 0, 0)
        .single()
        .expect("valid");
    let rows: [Seed<'_>; 5] = [
        ("compute1", Some(1.0), Some("foobar"), 0, Some(60)),
        ("compute2", Some(2.0), None, 1, None),
        ("Compute3", Some(4.0), Some("foobar"), 2, Some(10)),
        ("other_x", None, Some("baz"), 3, None),
        ("compute%5", Some(8.0), Some("baz"), 4, Some(120)),
    ];
    let mut ids = Vec::new();
    for (i, (host, vcpus, project, day, ended_min)) in rows.into_iter().enumerate() {
        let mut r = new_resource("host");
        r.started_at = Some(base + Duration::days(day));
        r.ended_at = ended_min.map(|m| base + Duration::days(day) + Duration::minutes(m));
        r.project_id = project.map(str::to_owned);
        r.user_id = Some(format!("user{i}"));
        r.creator = Some(format!("user{i}:proj{}", i % 2));
        r.attributes.insert("host".into(), text(host));
        r.attributes.insert(
            "vcpus".into(),
            vcpus.map_or(AttributeValue::Null, AttributeValue::Number),
        );
        r.attributes.insert(
            "uuid".into(),
            AttributeValue::Uuid(Uuid::from_u128(i as u128)),
        );
        r.attributes
            .insert("on".into(), AttributeValue::Bool(i % 2 == 0));
        r.attributes.insert(
            "born".into(),
            AttributeValue::Datetime(base + Duration::hours(i as i64)),
        );
        ix.create_resource(&r).await.expect("resource");
        ids.push(r.id);
    }
    ids
}

async fn search(ix: &dyn Indexer, type_name: &str, f: Filter) -> Result<Vec<usize>, Error> {
    search_in(ix, type_name, f, &[]).await
}

/// Indices (into `ids`) of the resources matching, sorted.
async fn search_in(
    ix: &dyn Indexer,
    type_name: &str,
    f: Filter,
    ids: &[Uuid],
) -> Result<Vec<usize>, Error> {
    let found = ix
        .list_resources(&ResourceQuery {
            filter: Some(f),
            ..ResourceQuery::all(type_name)
        })
        .await?;
    let hosts: Vec<String> = found
        .iter()
        .map(|r| match r.attributes.get("host") {
            Some(AttributeValue::String(h)) => h.clone(),
            _ => r.id.to_string(),
        })
        .collect();
    let order = ["compute1", "compute2", "Compute3", "other_x", "compute%5"];
    let mut idx: Vec<usize> = hosts
        .iter()
        .map(|h| {
            order
                .iter()
                .position(|o| o == h)
                .or_else(|| ids.iter().position(|i| i.to_string() == *h))
                .expect("known")
        })
        .collect();
    idx.sort_unstable();
    Ok(idx)
}

fn c(op: &str, field: &str, v: Value) -> Filter {
    Filter::cmp(CmpOp::from_name(op).expect("op"), field, v)
}

indexer_test!(operators, operators_impl);
async fn operators_impl(f: Fixture) {
    let ix = &*f.indexer;
    let ids = seed(ix).await;
    let s = |f: Filter| search(ix, "host", f);
    // Equality on generic and typed columns, NULL handling.
    assert_eq!(
        s(c("=", "host", json!("compute1"))).await.expect("search"),
        [0]
    );
    assert_eq!(
        s(c("==", "project_id", json!("foobar")))
            .await
            .expect("search"),
        [0, 2]
    );
    assert_eq!(
        s(c("eq", "project_id", Value::Null)).await.expect("search"),
        [1]
    );
    assert_eq!(s(c("eq", "vcpus", Value::Null)).await.expect("search"), [3]);
    // `ne` includes NULLs; `ne null` is IS NOT NULL.
    assert_eq!(
        s(c("!=", "project_id", json!("foobar")))
            .await
            .expect("search"),
        [1, 3, 4]
    );
    assert_eq!(
        s(c("≠", "project_id", Value::Null)).await.expect("search"),
        [0, 2, 3, 4]
    );
    assert_eq!(
        s(c("ne", "vcpus", json!(2))).await.expect("search"),
        [0, 2, 3, 4]
    );
    // Ordered comparisons: numbers, strings, datetimes (incl. string-encoded values).
    assert_eq!(s(c("<", "vcpus", json!(2))).await.expect("search"), [0]);
    assert_eq!(
        s(c("lt", "vcpus", json!("4"))).await.expect("search"),
        [0, 1]
    );
    assert_eq!(
        s(c("<=", "vcpus", json!(4))).await.expect("search"),
        [0, 1, 2]
    );
    assert_eq!(
        s(c("le", "vcpus", json!(4.0))).await.expect("search"),
        [0, 1, 2]
    );
    assert_eq!(s(c(">", "vcpus", json!(4))).await.expect("search"), [4]);
    assert_eq!(
        s(c("gt", "host", json!("compute2"))).await.expect("search"),
        [3]
    );
    assert_eq!(
        s(c(">=", "started_at", json!("2014-01-03")))
            .await
            .expect("search"),
        [2, 3, 4]
    );
    assert_eq!(
        s(c("≥", "born", json!("2014-01-01T03:00:00Z")))
            .await
            .expect("search"),
        [3, 4]
    );
    assert_eq!(
        s(c("ge", "started_at", json!(1388707200)))
            .await
            .expect("search"),
        [2, 3, 4]
    );
    assert_eq!(
        s(c("≤", "ended_at", json!("2014-01-02")))
            .await
            .expect("search"),
        [0]
    );
    assert!(s(c("<", "vcpus", Value::Null))
        .await
        .expect("search")
        .is_empty());
    // Typed uuid / bool columns.
    let u2 = Uuid::from_u128(2).to_string().to_uppercase();
    assert_eq!(s(c("=", "uuid", json!(u2))).await.expect("search"), [2]);
    assert_eq!(
        s(c("=", "on", json!(true))).await.expect("search"),
        [0, 2, 4]
    );
    assert_eq!(
        s(c("=", "id", json!(ids[3].to_string())))
            .await
            .expect("search"),
        [3]
    );
    // in, like (case-sensitive, `_` and `%`), ilike.
    let in_ = |field: &str, values: Vec<Value>| Filter::In {
        field: field.into(),
        values,
    };
    assert_eq!(
        s(in_(
            "host",
            vec![json!("compute1"), json!("other_x"), json!("zz")]
        ))
        .await
        .expect("search"),
        [0, 3]
    );
    assert_eq!(
        s(in_(
            "id",
            vec![json!(ids[1].to_string()), json!(ids[4].to_string())]
        ))
        .await
        .expect("search"),
        [1, 4]
    );
    assert!(s(in_("host", vec![])).await.expect("search").is_empty());
    let like = |field: &str, p: &str| Filter::Like {
        field: field.into(),
        pattern: json!(p),
    };
    assert_eq!(
        s(like("host", "compute%")).await.expect("search"),
        [0, 1, 4]
    );
    assert_eq!(s(like("host", "compute_")).await.expect("search"), [0, 1]);
    assert_eq!(s(like("host", "%\u{25}5")).await.expect("search"), [4]);
    assert_eq!(
        s(like("host", "other*")).await.expect("search"),
        Vec::<usize>::new()
    );
    assert_eq!(s(like("creator", "user1:%")).await.expect("search"), [1]);
    assert_eq!(
        s(Filter::Ilike {
            field: "host".into(),
            pattern: json!("COMPUTE%"),
        })
        .await
        .expect("search"),
        [0, 1, 2, 4]
    );
    // Nested and / or / not, with three-valued NOT over NULLs.
    assert_eq!(
        s(Filter::And(vec![
            like("host", "compute%"),
            Filter::Or(vec![
                c("=", "project_id", json!("baz")),
                c(">", "vcpus", json!(1)),
            ]),
        ]))
        .await
        .expect("search"),
        [1, 4]
    );
    assert_eq!(
        s(Filter::Not(Box::new(c("=", "project_id", json!("foobar")))))
            .await
            .expect("search"),
        [3, 4],
        "NOT of a comparison on NULL is not true"
    );
    assert_eq!(
        s(Filter::Not(Box::new(Filter::Or(vec![
            c("<", "vcpus", json!(3)),
            Filter::And(vec![c("=", "on", json!(false))]),
        ]))))
        .await
        .expect("search"),
        [2, 4]
    );
    assert_eq!(s(Filter::And(vec![])).await.expect("search").len(), 5);
    assert!(s(Filter::Or(vec![])).await.expect("search").is_empty());
    // Pseudo-fields.
    assert_eq!(
        s(c(">=", "lifespan", json!("30 min")))
            .await
            .expect("search"),
        [0, 4]
    );
    assert_eq!(
        s(c("<", "lifespan", json!(3600))).await.expect("search"),
        [2]
    );
    assert_eq!(
        s(c("=", "created_by_project_id", json!("proj1")))
            .await
            .expect("search"),
        [1, 3]
    );
    assert_eq!(
        s(c("ne", "created_by_user_id", json!("user0")))
            .await
            .expect("search"),
        [1, 2, 3, 4]
    );
    let err = s(c("<", "created_by_user_id", json!("x")))
        .await
        .expect_err("fails");
    assert!(
        matches!(&err, Error::InvalidFilterValue { field, .. } if field == "created_by_user_id"),
        "{err:?}"
    );
    let err = s(c(">=", "lifespan", json!("-1 h")))
        .await
        .expect_err("fails");
    assert!(matches!(err, Error::InvalidFilterValue { .. }), "{err:?}");

    // Errors name the attribute / the value.
    let err = s(c("=", "flavor", json!("x"))).await.expect_err("fails");
    assert!(
        matches!(&err, Error::UnknownAttribute { type_name, attribute } if type_name == "host" && attribute == "flavor"),
        "{err:?}"
    );
    let err = search(ix, "generic", c("=", "host", json!("compute1")))
        .await
        .expect_err("fails");
    assert!(
        matches!(&err, Error::UnknownAttribute { type_name, .. } if type_name == "generic"),
        "generic searches know generic columns only: {err:?}"
    );
    for (field, v) in [
        ("started_at", json!("not a date")),
        ("vcpus", json!("many")),
        ("uuid", json!("cd9eef")),
        ("on", json!("yes")),
        ("host", json!(["a"])),
    ] {
        let err = s(c("=", field, v.clone())).await.expect_err("fails");
        assert!(
            matches!(&err, Error::InvalidFilterValue { field: fl, value } if fl == field && *value == v),
            "{field}: {err:?}"
        );
    }
    // Generic search over every type.
    assert_eq!(
        search_in(ix, "generic", c("=", "project_id", json!("baz")), &ids)
            .await
            .expect("search"),
        [3, 4]
    );
}

indexer_test!(history_search, history_search_impl);
async fn history_search_impl(f: Fixture) {
    let ix = &*f.indexer;
    let ids = seed(ix).await;
    let mut u = ResourceUpdate::default();
    u.attributes.insert("host".into(), text("compute9"));
    let after = ix
        .update_resource(Some("host"), ids[0], &u)
        .await
        .expect("patch");
    let q = |filter: Filter| ResourceQuery {
        filter: Some(filter),
        history: true,
        ..ResourceQuery::all("host")
    };
    let old = ix
        .list_resources(&q(c("=", "host", json!("compute1"))))
        .await
        .expect("search");
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].revision, 1);
    assert_eq!(old[0].revision_end, Some(after.revision_start));
    let current_only = ix
        .list_resources(&ResourceQuery {
            history: false,
            ..q(c("=", "host", json!("compute1")))
        })
        .await
        .expect("search");
    assert!(current_only.is_empty());
    let open = ix
        .list_resources(&q(Filter::And(vec![
            c("=", "id", json!(ids[0].to_string())),
            c("=", "revision_end", Value::Null),
        ])))
        .await
        .expect("search");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].attributes.get("host"), Some(&text("compute9")));
    // details=true on generic: each revision with its own type's attributes.
    let detailed = ix
        .list_resources(&ResourceQuery {
            details: true,
            history: true,
            filter: Some(c("=", "id", json!(ids[0].to_string()))),
            ..ResourceQuery::all("generic")
        })
        .await
        .expect("details");
    let hosts: Vec<_> = detailed
        .iter()
        .map(|r| r.attributes.get("host").cloned())
        .collect();
    assert_eq!(hosts, [Some(text("compute1")), Some(text("compute9"))]);
}

indexer_test!(paginate_by_attribute, paginate_by_attribute_impl);
async fn paginate_by_attribute_impl(f: Fixture) {
    let ix = &*f.indexer;
    seed(ix).await;
    let mut seen = Vec::new();
    let mut marker = None;
    loop {
        let page = ix
            .list_resources(&ResourceQuery {
                page: Page {
                    sort: vec!["vcpus:desc".parse().expect("sort")],
                    limit: Some(2),
                    marker: marker.clone(),
                },
                ..ResourceQuery::all("host")
            })
            .await
            .expect("page");
        if page.is_empty() {
            break;
        }
        marker = page.last().map(|r| r.marker(false));
        seen.extend(page.into_iter().map(|r| r.attributes["host"].clone()));
    }
    // desc puts NULL first (PostgreSQL default placement).
    assert_eq!(
        seen,
        ["other_x", "compute%5", "Compute3", "compute2", "compute1"].map(text)
    );
    let asc_nulls_first = ix
        .list_resources(&ResourceQuery {
            page: Page {
                sort: vec![
                    "project_id:asc-nullsfirst".parse().expect("sort"),
                    "host:desc".parse().expect("sort"),
                ],
                ..Page::default()
            },
            ..ResourceQuery::all("host")
        })
        .await
        .expect("sorted");
    assert_eq!(
        asc_nulls_first
            .iter()
            .map(|r| r.attributes["host"].clone())
            .collect::<Vec<_>>(),
        ["compute2", "other_x", "compute%5", "compute1", "Compute3"].map(text)
    );
    let err = ix
        .list_resources(&ResourceQuery {
            page: Page {
                sort: vec!["vcpus".parse().expect("sort")],
                ..Page::default()
            },
            ..ResourceQuery::all("generic")
        })
        .await
        .expect_err("generic has no vcpus");
    assert!(
        matches!(&err, Error::InvalidSortKey { key } if key == "vcpus"),
        "{err:?}"
    );
    let err = ix
        .list_resources(&ResourceQuery {
            page: Page {
                marker: Some(Uuid::new_v4().to_string()),
                ..Page::default()
            },
            ..ResourceQuery::all("host")
        })
        .await
        .expect_err("marker");
    assert!(matches!(err, Error::InvalidMarker { .. }), "{err:?}");
}

indexer_test!(batch_delete_by_filter, batch_delete_impl);
async fn batch_delete_impl(f: Fixture) {
    let ix = &*f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    let ids = seed(ix).await;
    let mut g = new_resource("generic");
    g.project_id = Some("baz".into());
    let m = new_metric("p", Some("cpu"));
    g.metrics = vec![m.clone()];
    ix.create_resource(&g).await.expect("generic");
    let n = ix
        .delete_resources("host", &c("=", "project_id", json!("baz")))
        .await
        .expect("delete");
    assert_eq!(n, 2, "only resources of the type");
    assert!(ix.resource(None, ids[3]).await.is_err());
    assert!(ix.resource(None, g.id).await.is_ok());
    let n = ix
        .delete_resources(
            "generic",
            &Filter::In {
                field: "id".into(),
                values: vec![json!(g.id.to_string()), json!(Uuid::new_v4().to_string())],
            },
        )
        .await
        .expect("delete");
    assert_eq!(n, 1);
    assert!(matches!(
        ix.metric(m.id).await,
        Err(Error::MetricNotFound { .. })
    ));
    assert_eq!(ix.list_deleted_metrics(10).await.expect("deleted").len(), 1);
    let n = ix
        .delete_resources("host", &c("=", "host", json!("nothing")))
        .await
        .expect("none");
    assert_eq!(n, 0);
}

indexer_test!(concurrent_patches, concurrent_patches_impl);
async fn concurrent_patches_impl(f: Fixture) {
    let other: Arc<dyn Indexer> = gnocchi_indexer::open(&f.url).await.expect("second pool");
    let ids = seed(&*f.indexer).await;
    let id = ids[0];
    let mut tasks = Vec::new();
    for i in 0..20 {
        let ix = if i % 2 == 0 {
            f.indexer.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut u = ResourceUpdate::default();
            u.attributes.insert("host".into(), text(&format!("h{i}")));
            ix.update_resource(Some("host"), id, &u).await
        }));
    }
    for t in tasks {
        t.await.expect("task panicked").expect("no errors");
    }
    let history = f
        .indexer
        .resource_history("host", id, &Page::default())
        .await
        .expect("history");
    assert_eq!(history.len(), 21, "creation + one revision per patch");
    for pair in history.windows(2) {
        assert_eq!(
            pair[0].revision_end,
            Some(pair[1].revision_start),
            "revisions chain without gaps or overlaps"
        );
    }
    assert_eq!(history[0].attributes["host"], text("compute1"));
    let last = history.last().expect("current");
    assert_eq!(last.revision, -1);
    assert_eq!(
        last.attributes["host"],
        f.indexer
            .resource(Some("host"), id)
            .await
            .expect("get")
            .attributes["host"]
    );
    let mut revs: Vec<i64> = history[..20].iter().map(|h| h.revision).collect();
    revs.sort_unstable();
    assert_eq!(revs, (1..=20).collect::<Vec<_>>());
}

indexer_test!(concurrent_creation, concurrent_creation_impl);
async fn concurrent_creation_impl(f: Fixture) {
    let other: Arc<dyn Indexer> = gnocchi_indexer::open(&f.url).await.expect("second pool");
    let r = new_resource("generic");
    let mut tasks = Vec::new();
    for i in 0..10 {
        let ix = if i % 2 == 0 {
            f.indexer.clone()
        } else {
            other.clone()
        };
        let r = r.clone();
        tasks.push(tokio::spawn(async move { ix.create_resource(&r).await }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task panicked") {
            Ok(_) => ok += 1,
            Err(Error::ResourceExists { id }) => assert_eq!(id, r.id),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1);
}

indexer_test!(odd_attribute_names, odd_attribute_names_impl);
async fn odd_attribute_names_impl(f: Fixture) {
    let ix = &*f.indexer;
    let odd = [
        "we\"ird name",
        "new-optional-bool",
        "original_resource_id",
        "attr_x",
    ];
    let attrs: BTreeMap<String, AttributeDefinition> = odd
        .iter()
        .map(|n| ((*n).to_owned(), string_attr(false)))
        .collect();
    for reserved in ["id", "revision"] {
        let err = ix
            .create_resource_type("bad", &[(reserved.to_owned(), string_attr(false))].into())
            .await
            .expect_err("reserved");
        assert!(matches!(err, Error::InvalidAttributeName { .. }), "{err:?}");
    }
    ix.create_resource_type("odd", &attrs).await.expect("type");
    let mut r = new_resource("odd");
    for n in odd {
        r.attributes.insert(n.to_owned(), text(&format!("v-{n}")));
    }
    ix.create_resource(&r).await.expect("create");
    let got = ix.resource(Some("odd"), r.id).await.expect("get");
    assert_eq!(
        got.attributes.get("we\"ird name"),
        Some(&text("v-we\"ird name"))
    );
    let found = ix
        .list_resources(&ResourceQuery {
            filter: Some(c("=", "we\"ird name", json!("v-we\"ird name"))),
            page: Page {
                sort: vec!["new-optional-bool:desc".parse().expect("sort")],
                ..Page::default()
            },
            ..ResourceQuery::all("odd")
        })
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, r.id);
    // A generic column wins over an attribute of the same name in filters.
    let by_generic = ix
        .list_resources(&ResourceQuery {
            filter: Some(c("=", "original_resource_id", json!(r.id.to_string()))),
            ..ResourceQuery::all("odd")
        })
        .await
        .expect("search");
    assert_eq!(by_generic.len(), 1);
    assert_eq!(
        by_generic[0].attributes.get("original_resource_id"),
        Some(&text("v-original_resource_id"))
    );
    let mut u = ResourceUpdate::default();
    u.attributes.insert("attr_x".into(), text("changed"));
    ix.update_resource(Some("odd"), r.id, &u)
        .await
        .expect("patch");
    let mut less = attrs.clone();
    less.remove("we\"ird name");
    ix.update_resource_type("odd", &less)
        .await
        .expect("drop odd column");
    let h = ix
        .resource_history("odd", r.id, &Page::default())
        .await
        .expect("history");
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].attributes.get("attr_x"), Some(&text("v-attr_x")));
    assert!(!h[1].attributes.contains_key("we\"ird name"));
}
