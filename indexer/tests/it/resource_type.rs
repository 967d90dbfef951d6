//! Resource types with typed attributes (api.md §8): CRUD, the §8.1 representation, and
//! PATCH semantics with fill values over existing resources and their history.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use gnocchi_indexer::{
    AttributeDefinition, AttributeType, AttributeValue, Error, ResourceTypeState, ResourceUpdate,
};
use serde_json::json;
use uuid::Uuid;

use crate::common::{attr, new_resource, string_attr, text, Fixture};

fn all_types() -> BTreeMap<String, AttributeDefinition> {
    let mut m = BTreeMap::new();
    m.insert(
        "name".to_owned(),
        attr(
            AttributeType::String {
                min_length: 2,
                max_length: 5,
            },
            true,
        ),
    );
    m.insert("uuid".to_owned(), attr(AttributeType::Uuid, true));
    m.insert(
        "int".to_owned(),
        attr(
            AttributeType::Number {
                min: Some((-2).into()),
                max: Some(serde_json::Number::from_f64(3.5).expect("finite")),
            },
            false,
        ),
    );
    m.insert("bool".to_owned(), attr(AttributeType::Bool, false));
    m.insert("datetime".to_owned(), attr(AttributeType::Datetime, false));
    m
}

indexer_test!(type_crud, type_crud_impl);
async fn type_crud_impl(f: Fixture) {
    let ix = &*f.indexer;
    let created = ix
        .create_resource_type("my_custom_resource", &all_types())
        .await
        .expect("create");
    assert_eq!(created.state, ResourceTypeState::Active);
    assert_eq!(
        created.to_json(),
        json!({
            "name": "my_custom_resource",
            "state": "active",
            "attributes": {
                "name": {"type": "string", "required": true, "min_length": 2, "max_length": 5},
                "uuid": {"type": "uuid", "required": true},
                "int": {"type": "number", "required": false, "min": -2, "max": 3.5},
                "bool": {"type": "bool", "required": false},
                "datetime": {"type": "datetime", "required": false},
            }
        })
    );
    let got = ix.resource_type("my_custom_resource").await.expect("get");
    assert_eq!(got, created);
    ix.create_resource_type("ä unicode/name", &BTreeMap::new())
        .await
        .expect("any name");
    let names: Vec<String> = ix
        .list_resource_types()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["generic", "my_custom_resource", "ä unicode/name"]);

    let err = ix
        .create_resource_type("my_custom_resource", &BTreeMap::new())
        .await
        .expect_err("dup");
    assert!(
        matches!(&err, Error::ResourceTypeExists { name } if name == "my_custom_resource"),
        "{err:?}"
    );

    // In use while a resource exists; generic always.
    let mut r = new_resource("my_custom_resource");
    r.attributes.insert("name".into(), text("abc"));
    r.attributes
        .insert("uuid".into(), AttributeValue::Uuid(Uuid::nil()));
    ix.create_resource(&r).await.expect("resource");
    let err = ix
        .delete_resource_type("my_custom_resource")
        .await
        .expect_err("in use");
    assert!(
        matches!(&err, Error::ResourceTypeInUse { name } if name == "my_custom_resource"),
        "{err:?}"
    );
    let err = ix
        .delete_resource_type("generic")
        .await
        .expect_err("generic");
    assert!(matches!(err, Error::ResourceTypeInUse { .. }), "{err:?}");
    let err = ix.delete_resource_type("nope").await.expect_err("missing");
    assert!(matches!(err, Error::ResourceTypeNotFound { .. }), "{err:?}");

    // A deleted resource no longer counts; a deleted type can be re-created.
    ix.delete_resource(None, r.id)
        .await
        .expect("delete resource");
    ix.delete_resource_type("my_custom_resource")
        .await
        .expect("delete type");
    assert!(matches!(
        ix.resource_type("my_custom_resource").await,
        Err(Error::ResourceTypeNotFound { .. })
    ));
    ix.create_resource_type("my_custom_resource", &all_types())
        .await
        .expect("re-create");
}

indexer_test!(patch_with_fill, patch_with_fill_impl);
async fn patch_with_fill_impl(f: Fixture) {
    let ix = &*f.indexer;
    let mut attrs = BTreeMap::new();
    attrs.insert("host".to_owned(), string_attr(false));
    attrs.insert("gone".to_owned(), string_attr(false));
    ix.create_resource_type("box", &attrs).await.expect("type");
    let mut r = new_resource("box");
    r.attributes.insert("host".into(), text("h1"));
    r.attributes.insert("gone".into(), text("x"));
    ix.create_resource(&r).await.expect("resource");
    // Two revisions: one history row, one current row.
    let mut u = ResourceUpdate::default();
    u.attributes.insert("host".into(), text("h2"));
    ix.update_resource(Some("box"), r.id, &u)
        .await
        .expect("patch");

    let when = Utc
        .with_ymd_and_hms(2017, 10, 10, 10, 10, 10)
        .single()
        .expect("valid");
    let mut new = attrs.clone();
    new.remove("gone");
    let filled = |t: AttributeType, v: AttributeValue| AttributeDefinition {
        attribute_type: t,
        required: true,
        fill: Some(v),
    };
    new.insert(
        "newint".into(),
        filled(
            AttributeType::Number {
                min: None,
                max: None,
            },
            AttributeValue::Number(15.0),
        ),
    );
    new.insert(
        "newbool".into(),
        filled(AttributeType::Bool, AttributeValue::Bool(true)),
    );
    new.insert(
        "newuuid".into(),
        filled(AttributeType::Uuid, AttributeValue::Uuid(Uuid::nil())),
    );
    new.insert(
        "newdatetime".into(),
        filled(AttributeType::Datetime, AttributeValue::Datetime(when)),
    );
    new.insert(
        "newfilled".into(),
        AttributeDefinition {
            required: false,
            fill: Some(text("filled")),
            ..string_attr(false)
        },
    );
    new.insert("new-optional".into(), string_attr(false));
    let t = ix
        .update_resource_type("box", &new)
        .await
        .expect("patch type");
    assert!(!t.attributes.contains_key("gone"));
    assert!(t.attributes.values().all(|d| d.fill.is_none()));
    assert_eq!(
        t.to_json()["attributes"]["newint"],
        json!({"type": "number", "required": true, "min": null, "max": null})
    );
    let history = ix
        .resource_history("box", r.id, &Default::default())
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    for rev in &history {
        assert_eq!(
            rev.attributes.get("newint"),
            Some(&AttributeValue::Number(15.0))
        );
        assert_eq!(
            rev.attributes.get("newbool"),
            Some(&AttributeValue::Bool(true))
        );
        assert_eq!(
            rev.attributes.get("newuuid"),
            Some(&AttributeValue::Uuid(Uuid::nil()))
        );
        assert_eq!(
            rev.attributes.get("newdatetime"),
            Some(&AttributeValue::Datetime(when))
        );
        assert_eq!(rev.attributes.get("newfilled"), Some(&text("filled")));
        assert_eq!(
            rev.attributes.get("new-optional"),
            Some(&AttributeValue::Null)
        );
        assert!(!rev.attributes.contains_key("gone"));
    }
    assert_eq!(history[0].attributes.get("host"), Some(&text("h1")));
    assert_eq!(history[1].attributes.get("host"), Some(&text("h2")));

    // Required without fill, fill of the wrong type, type change: refused, nothing changed.
    let mut bad = new.clone();
    bad.insert("req".into(), string_attr(true));
    let err = ix
        .update_resource_type("box", &bad)
        .await
        .expect_err("fill");
    assert!(
        matches!(&err, Error::MissingFill { attribute } if attribute == "req"),
        "{err:?}"
    );
    let mut bad = new.clone();
    bad.insert(
        "req".into(),
        AttributeDefinition {
            fill: Some(AttributeValue::Bool(true)),
            ..string_attr(true)
        },
    );
    let err = ix
        .update_resource_type("box", &bad)
        .await
        .expect_err("type");
    assert!(
        matches!(err, Error::InvalidAttributeValue { .. }),
        "{err:?}"
    );
    let mut bad = new.clone();
    bad.insert("host".into(), attr(AttributeType::Bool, false));
    let err = ix
        .update_resource_type("box", &bad)
        .await
        .expect_err("change");
    assert!(
        matches!(&err, Error::AttributeTypeChange { attribute, old, new, .. }
            if attribute == "host" && *old == "string" && *new == "bool"),
        "{err:?}"
    );
    assert_eq!(ix.resource_type("box").await.expect("get"), t);

    // Optional → required with a fill replaces NULLs only.
    let mut req = new.clone();
    req.insert(
        "new-optional".into(),
        AttributeDefinition {
            fill: Some(text("dflt")),
            ..string_attr(true)
        },
    );
    let t2 = ix.update_resource_type("box", &req).await.expect("require");
    assert!(t2.attributes["new-optional"].required);
    let cur = ix.resource(Some("box"), r.id).await.expect("get");
    assert_eq!(cur.attributes.get("new-optional"), Some(&text("dflt")));
    assert_eq!(cur.attributes.get("host"), Some(&text("h2")));

    // No effective change is fine.
    assert_eq!(
        ix.update_resource_type("box", &t2.attributes)
            .await
            .expect("noop"),
        t2
    );
    let err = ix
        .update_resource_type("nope", &BTreeMap::new())
        .await
        .expect_err("missing");
    assert!(matches!(err, Error::ResourceTypeNotFound { .. }), "{err:?}");
}
