//! Two pools on one database, as the API and metricd processes use it: concurrent writers
//! must neither fail with "database is locked" nor lose writes, and concurrent creations of
//! the same name must end in one success and domain errors.

use std::sync::Arc;

use gnocchi_indexer::{Error, Indexer, NewMetric, ProcessedMetric};
use uuid::Uuid;

use crate::common::{new_metric, policy, rule, Fixture};

indexer_test!(two_pools_write_concurrently, two_pools_impl);
async fn two_pools_impl(f: Fixture) {
    let api = f.indexer.clone();
    let metricd: Arc<dyn Indexer> = gnocchi_indexer::open(&f.url).await.expect("second pool");
    api.create_archive_policy(&policy("p"))
        .await
        .expect("policy");

    const PER_TASK: usize = 40;
    let mut tasks = Vec::new();
    for task in 0..4 {
        let ix = if task % 2 == 0 {
            api.clone()
        } else {
            metricd.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..PER_TASK {
                // Mix single-statement writes, read-then-write transactions and reads.
                let m = ix
                    .create_metric(&new_metric("p", Some(&format!("m{i}"))))
                    .await?;
                ix.mark_metrics_processed(&[ProcessedMetric {
                    id: m.id,
                    newest_measure_ns: 0,
                }])
                .await?;
                ix.create_archive_policy_rule(&rule(&format!("r{task}-{i}"), "x*", "p"))
                    .await?;
                ix.update_archive_policy("p", &policy("p").definition, Some(0))
                    .await?;
                if i % 3 == 0 {
                    ix.delete_metric(m.id).await?;
                } else {
                    ids.push(m.id);
                }
                ix.list_archive_policy_rules().await?;
            }
            Ok::<_, Error>(ids)
        }));
    }
    let mut alive = Vec::new();
    for t in tasks {
        alive.extend(t.await.expect("task panicked").expect("no lock errors"));
    }
    let listed = metricd
        .metrics_by_ids(&alive)
        .await
        .expect("by ids")
        .into_iter()
        .filter(|m| !m.needs_raw_data_truncation)
        .count();
    assert_eq!(
        listed,
        alive.len(),
        "every write landed, seen from the other pool"
    );
    assert_eq!(
        api.list_archive_policy_rules().await.expect("rules").len(),
        4 * PER_TASK
    );
}

indexer_test!(
    racing_duplicates_become_domain_errors,
    racing_duplicates_impl
);
async fn racing_duplicates_impl(f: Fixture) {
    let other: Arc<dyn Indexer> = gnocchi_indexer::open(&f.url).await.expect("second pool");
    let rid = Uuid::new_v4();
    f.indexer
        .create_archive_policy(&policy("p"))
        .await
        .expect("policy");
    f.indexer
        .create_resource(&gnocchi_indexer::NewResource {
            id: rid,
            original_resource_id: rid.to_string(),
            type_name: "generic".to_owned(),
            creator: None,
            user_id: None,
            project_id: None,
            started_at: None,
            ended_at: None,
            metrics: Vec::new(),
            ..Default::default()
        })
        .await
        .expect("resource");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let ix = if i % 2 == 0 {
            f.indexer.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let policy_result = ix.create_archive_policy(&policy("same")).await;
            let metric = NewMetric {
                resource_id: Some(rid),
                ..new_metric("p", Some("cpu"))
            };
            (policy_result, ix.create_metric(&metric).await)
        }));
    }
    let (mut policies_ok, mut metrics_ok) = (0, 0);
    for t in tasks {
        let (p, m) = t.await.expect("task panicked");
        match p {
            Ok(()) => policies_ok += 1,
            Err(Error::ArchivePolicyExists { name }) => assert_eq!(name, "same"),
            Err(e) => panic!("unexpected policy error {e:?}"),
        }
        match m {
            Ok(_) => metrics_ok += 1,
            Err(Error::NamedMetricExists { name, resource_id }) => {
                assert_eq!((name.as_str(), resource_id), ("cpu", rid));
            }
            Err(e) => panic!("unexpected metric error {e:?}"),
        }
    }
    assert_eq!((policies_ok, metrics_ok), (1, 1));
}
