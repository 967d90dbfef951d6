//! `gnocchi-upgrade`: schema, storage and incoming layout, default archive policies
//! (shared/spec/engine.md §2.1, §2.2). Idempotent: a second run changes nothing.

use anyhow::Context;
use gnocchi_core::config::{Config, FileLayoutChoice, StorageDriver};
use gnocchi_core::{
    AggregationMethod, ArchivePolicy, ArchivePolicyItem, ArchivePolicyRule, BaseMethod, NS_PER_SEC,
};
use gnocchi_storage::{FileIncoming, FileLayout, FileStorage};

use crate::legacy_types::create_legacy_resource_types;
use crate::stores::open_indexer;

/// The flags of `gnocchi-upgrade`.
#[derive(Debug, Clone)]
pub struct UpgradeOptions {
    /// Leave the indexer schema alone.
    pub skip_index: bool,
    /// Leave the aggregate storage alone.
    pub skip_storage: bool,
    /// Leave the incoming store alone.
    pub skip_incoming: bool,
    /// Do not create the default archive policies and rule.
    pub skip_archive_policies_creation: bool,
    /// Sacks to create when the incoming store has none recorded yet.
    pub sacks_number: u32,
}

/// Runs the upgrade; `progress` receives one line per step.
pub async fn upgrade(
    config: &Config,
    options: &UpgradeOptions,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    if !options.skip_index {
        progress("Upgrading the indexer schema");
        let indexer = open_indexer(config).await?;
        indexer.upgrade().await.context("upgrading the indexer")?;
        if config.default.create_legacy_resource_types {
            progress("Creating the legacy Ceilometer resource types");
            let changed = create_legacy_resource_types(indexer.as_ref()).await?;
            progress(&format!(
                "{changed} legacy resource types created or updated"
            ));
        }
        if !options.skip_archive_policies_creation {
            if indexer.is_pristine().await.context("reading the indexer")? {
                progress("Creating the default archive policies and rule");
                let methods = default_methods(config)?;
                for policy in default_policies(&methods) {
                    indexer
                        .create_archive_policy(&policy)
                        .await
                        .with_context(|| format!("creating archive policy {}", policy.name))?;
                }
                indexer
                    .create_archive_policy_rule(&ArchivePolicyRule {
                        name: "default".to_owned(),
                        metric_pattern: "*".to_owned(),
                        archive_policy_name: "low".to_owned(),
                    })
                    .await
                    .context("creating archive policy rule default")?;
            } else {
                progress("Archive policies or rules exist already: keeping them");
            }
        }
    }
    if !options.skip_storage {
        progress("Upgrading the storage");
        match config.storage.driver {
            StorageDriver::File => {
                let layout = match config.storage.file_layout {
                    FileLayoutChoice::Packed => FileLayout::Packed,
                    FileLayoutChoice::Files => FileLayout::Files,
                };
                FileStorage::upgrade_with(
                    &config.storage.file_basepath,
                    config.storage.file_subdir_len,
                    layout,
                )
                .with_context(|| {
                    format!("creating the storage at {}", config.storage.file_basepath)
                })?;
            }
            other => anyhow::bail!("[storage] driver = {other} is not supported yet"),
        }
    }
    if !options.skip_incoming {
        progress("Upgrading the incoming store");
        match config.incoming.driver {
            StorageDriver::File => {
                let sacks =
                    FileIncoming::upgrade(&config.incoming.file_basepath, options.sacks_number)
                        .with_context(|| {
                            format!(
                                "creating the incoming store at {}",
                                config.incoming.file_basepath
                            )
                        })?;
                progress(&format!("Incoming store has {sacks} sacks"));
            }
            other => anyhow::bail!("[incoming] driver = {other} is not supported yet"),
        }
    }
    Ok(())
}

/// `[archive_policy] default_aggregation_methods`, resolved.
fn default_methods(config: &Config) -> anyhow::Result<Vec<AggregationMethod>> {
    let mut methods = config
        .archive_policy
        .default_aggregation_methods
        .iter()
        .map(|m| {
            m.parse::<AggregationMethod>().with_context(|| {
                format!("invalid value {m:?} in [archive_policy] default_aggregation_methods")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    methods.sort();
    methods.dedup();
    Ok(methods)
}

/// `bool`, `low`, `medium`, `high` (engine.md §2.2).
fn default_policies(methods: &[AggregationMethod]) -> Vec<ArchivePolicy> {
    const MINUTE: i64 = 60 * NS_PER_SEC;
    const HOUR: i64 = 60 * MINUTE;
    let item = |granularity_ns, points| ArchivePolicyItem {
        granularity_ns,
        points: Some(points),
    };
    let policy =
        |name: &str, back_window, definition, methods: Vec<AggregationMethod>| ArchivePolicy {
            name: name.to_owned(),
            back_window,
            definition,
            aggregation_methods: methods,
        };
    vec![
        policy(
            "bool",
            3600,
            vec![item(NS_PER_SEC, 31_536_000)],
            vec![AggregationMethod::plain(BaseMethod::Last)],
        ),
        policy("low", 0, vec![item(5 * MINUTE, 8640)], methods.to_vec()),
        policy(
            "medium",
            0,
            vec![item(MINUTE, 10_080), item(HOUR, 8760)],
            methods.to_vec(),
        ),
        policy(
            "high",
            0,
            vec![
                item(NS_PER_SEC, 3600),
                item(MINUTE, 10_080),
                item(HOUR, 8760),
            ],
            methods.to_vec(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policies_match_gnocchi() {
        let methods = default_methods(&Config::default()).unwrap();
        let names: Vec<String> = methods.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["mean", "sum", "max", "min", "std", "count"]);
        let policies = default_policies(&methods);
        let low = &policies[1];
        assert_eq!(
            low.definition[0].timespan_ns(),
            Some(30 * 86_400 * NS_PER_SEC)
        );
        let high = &policies[3];
        assert_eq!(high.max_block_size_ns(), 3600 * NS_PER_SEC);
        assert_eq!(policies[0].back_window, 3600);
    }
}
