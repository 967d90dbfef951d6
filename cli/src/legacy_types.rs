//! Ceilometer's resource types, created by `gnocchi-upgrade` when
//! `[DEFAULT] create_legacy_resource_types = True` (shared/spec/engine.md §2.3): the end state
//! of Ceilometer's own upgrade, so that a later `ceilometer-upgrade` finds nothing to do.

use std::collections::BTreeMap;

use anyhow::Context;
use gnocchi_indexer::{AttributeDefinition, AttributeType, AttributeValue, Error, Indexer};

/// The kind of a legacy attribute; every string has `min_length` 0 and `max_length` 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Uuid,
    Datetime,
}

/// One attribute of a legacy type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LegacyAttribute {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// Value given to existing resources when the attribute is added to an existing type.
    pub fill: Option<&'static str>,
}

const fn attr(name: &'static str, kind: Kind, required: bool) -> LegacyAttribute {
    LegacyAttribute {
        name,
        kind,
        required,
        fill: None,
    }
}

use Kind::{Datetime, String as Str, Uuid};

/// The 22 types and their 48 attributes.
pub(crate) const LEGACY_TYPES: &[(&str, &[LegacyAttribute])] = &[
    (
        "image",
        &[
            attr("name", Str, true),
            attr("container_format", Str, false),
            attr("disk_format", Str, false),
        ],
    ),
    (
        "instance",
        &[
            attr("flavor_id", Str, true),
            attr("image_ref", Str, false),
            attr("host", Str, false),
            attr("display_name", Str, true),
            attr("server_group", Str, false),
            LegacyAttribute {
                name: "flavor_name",
                kind: Str,
                required: true,
                fill: Some(""),
            },
            attr("launched_at", Datetime, false),
            attr("created_at", Datetime, false),
            attr("deleted_at", Datetime, false),
            attr("availability_zone", Str, false),
        ],
    ),
    (
        "instance_disk",
        &[attr("name", Str, true), attr("instance_id", Uuid, true)],
    ),
    (
        "instance_network_interface",
        &[attr("name", Str, true), attr("instance_id", Uuid, true)],
    ),
    (
        "volume",
        &[
            attr("display_name", Str, false),
            attr("volume_type", Str, false),
            attr("image_id", Uuid, false),
            attr("instance_id", Uuid, false),
            attr("volume_type_id", Str, false),
        ],
    ),
    ("swift_account", &[attr("storage_policy", Str, false)]),
    ("ceph_account", &[]),
    ("network", &[]),
    ("identity", &[]),
    ("ipmi", &[]),
    ("stack", &[]),
    ("host", &[attr("host_name", Str, true)]),
    (
        "host_network_interface",
        &[
            attr("host_name", Str, true),
            attr("device_name", Str, false),
        ],
    ),
    (
        "host_disk",
        &[
            attr("host_name", Str, true),
            attr("device_name", Str, false),
        ],
    ),
    ("nova_compute", &[attr("host_name", Str, true)]),
    (
        "manila_share",
        &[
            attr("name", Str, false),
            attr("host", Str, true),
            attr("protocol", Str, false),
            attr("availability_zone", Str, false),
            attr("status", Str, true),
        ],
    ),
    ("volume_provider", &[]),
    ("volume_provider_pool", &[attr("provider", Str, true)]),
    ("ipmi_sensor", &[attr("node", Str, true)]),
    (
        "loadbalancer",
        &[
            attr("name", Str, false),
            attr("availability_zone", Str, false),
            attr("vip_address", Str, false),
            attr("provider", Str, false),
        ],
    ),
    (
        "dns_zone",
        &[
            attr("zone_name", Str, false),
            attr("email", Str, false),
            attr("zone_type", Str, false),
            attr("pool_id", Str, false),
        ],
    ),
    (
        "volume_service",
        &[
            attr("host", Str, false),
            attr("binary", Str, false),
            attr("zone", Str, false),
            attr("status", Str, false),
        ],
    ),
];

impl LegacyAttribute {
    fn definition(&self) -> AttributeDefinition {
        AttributeDefinition {
            attribute_type: match self.kind {
                Kind::String => AttributeType::String {
                    min_length: 0,
                    max_length: 255,
                },
                Kind::Uuid => AttributeType::Uuid,
                Kind::Datetime => AttributeType::Datetime,
            },
            required: self.required,
            fill: self.fill.map(|f| AttributeValue::String(f.to_owned())),
        }
    }
}

/// Creates the absent legacy types and brings existing ones to the listed attributes: adds the
/// missing ones and relaxes `required` where the table says so; never removes an attribute,
/// never changes an attribute's type. Returns the number of types created or changed.
pub(crate) async fn create_legacy_resource_types(indexer: &dyn Indexer) -> anyhow::Result<usize> {
    let mut changed = 0;
    for (name, attributes) in LEGACY_TYPES {
        let wanted: BTreeMap<String, AttributeDefinition> = attributes
            .iter()
            .map(|a| (a.name.to_owned(), a.definition()))
            .collect();
        let existing = match indexer.resource_type(name).await {
            Ok(t) => t,
            Err(Error::ResourceTypeNotFound { .. }) => {
                indexer
                    .create_resource_type(name, &wanted)
                    .await
                    .with_context(|| format!("creating resource type {name}"))?;
                changed += 1;
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("reading resource type {name}")),
        };
        let mut next = existing.attributes.clone();
        let mut differs = false;
        for (attr, def) in &wanted {
            match next.get_mut(attr) {
                None => {
                    next.insert(attr.clone(), def.clone());
                    differs = true;
                }
                Some(have) if have.attribute_type.name() != def.attribute_type.name() => {
                    tracing::warn!(
                        resource_type = name,
                        attribute = attr,
                        "Legacy attribute exists with another type; left alone."
                    );
                }
                Some(have) => {
                    if have.required && !def.required {
                        have.required = false;
                        differs = true;
                    }
                }
            }
        }
        if differs {
            indexer
                .update_resource_type(name, &next)
                .await
                .with_context(|| format!("updating resource type {name}"))?;
            changed += 1;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_match_the_spec() {
        assert_eq!(LEGACY_TYPES.len(), 22);
        assert_eq!(LEGACY_TYPES.iter().filter(|(_, a)| a.is_empty()).count(), 6);
        let attrs: Vec<_> = LEGACY_TYPES.iter().flat_map(|(_, a)| a.iter()).collect();
        assert_eq!(attrs.len(), 48);
        assert_eq!(attrs.iter().filter(|a| a.kind == Kind::String).count(), 41);
        assert_eq!(attrs.iter().filter(|a| a.kind == Kind::Uuid).count(), 4);
        assert_eq!(attrs.iter().filter(|a| a.kind == Kind::Datetime).count(), 3);
        assert_eq!(attrs.iter().filter(|a| a.required).count(), 16);
    }

    async fn fresh_indexer(dir: &std::path::Path) -> std::sync::Arc<dyn Indexer> {
        let url = format!("sqlite:///{}/index.sqlite", dir.display());
        let indexer = gnocchi_indexer::open(&url).await.unwrap();
        indexer.upgrade().await.unwrap();
        indexer
    }

    #[tokio::test]
    async fn creates_every_type_once() {
        let dir = tempfile::tempdir().unwrap();
        let indexer = fresh_indexer(dir.path()).await;
        assert_eq!(
            create_legacy_resource_types(indexer.as_ref())
                .await
                .unwrap(),
            22
        );
        // Idempotent: a second run changes nothing.
        assert_eq!(
            create_legacy_resource_types(indexer.as_ref())
                .await
                .unwrap(),
            0
        );
        let types = indexer.list_resource_types().await.unwrap();
        assert_eq!(types.len(), 23, "generic + 22");
        let instance = indexer.resource_type("instance").await.unwrap();
        assert_eq!(instance.attributes.len(), 10);
        assert!(instance.attributes["flavor_name"].required);
        assert!(!instance.attributes["host"].required);
    }

    #[tokio::test]
    async fn brings_a_gnocchi_3_type_up_to_date() {
        let dir = tempfile::tempdir().unwrap();
        let indexer = fresh_indexer(dir.path()).await;
        // Gnocchi 3.1's instance: host still required, none of the later attributes.
        let old: BTreeMap<String, AttributeDefinition> = [
            "flavor_id",
            "image_ref",
            "host",
            "display_name",
            "server_group",
        ]
        .iter()
        .map(|n| {
            let a = LEGACY_TYPES[1].1.iter().find(|a| a.name == *n).unwrap();
            let mut d = a.definition();
            d.required = matches!(*n, "flavor_id" | "host" | "display_name");
            (n.to_string(), d)
        })
        .collect();
        indexer
            .create_resource_type("instance", &old)
            .await
            .unwrap();
        assert_eq!(
            create_legacy_resource_types(indexer.as_ref())
                .await
                .unwrap(),
            22
        );
        let instance = indexer.resource_type("instance").await.unwrap();
        assert_eq!(instance.attributes.len(), 10);
        assert!(!instance.attributes["host"].required);
        assert_eq!(
            create_legacy_resource_types(indexer.as_ref())
                .await
                .unwrap(),
            0
        );
    }
}
