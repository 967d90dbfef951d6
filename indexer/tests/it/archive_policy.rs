//! Archive policies: CRUD and every error (api.md §4).

use gnocchi_core::ArchivePolicyItem;
use gnocchi_indexer::Error;

use crate::common::{new_metric, policy, rule, Fixture, SEC};

indexer_test!(create_get_list, create_get_list_impl);
async fn create_get_list_impl(f: Fixture) {
    let ix = &f.indexer;
    assert!(ix.is_pristine().await.expect("pristine"));
    assert!(ix.list_archive_policies().await.expect("list").is_empty());
    let mut p = policy("medium");
    p.aggregation_methods.sort();
    ix.create_archive_policy(&p).await.expect("create");
    ix.create_archive_policy(&policy("abc"))
        .await
        .expect("create");
    assert!(!ix.is_pristine().await.expect("pristine"));

    let got = ix.archive_policy("medium").await.expect("get");
    assert_eq!(
        got, p,
        "definition order, back window and methods round-trip"
    );
    assert_eq!(
        got.definition[1].points, None,
        "unbounded retention is kept"
    );

    let names: Vec<_> = ix
        .list_archive_policies()
        .await
        .expect("list")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["abc", "medium"]);

    let err = ix
        .create_archive_policy(&policy("medium"))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(&err, Error::ArchivePolicyExists { name } if name == "medium"),
        "{err:?}"
    );
    assert_eq!(err.kind(), gnocchi_core::ErrorKind::AlreadyExists);

    let err = ix.archive_policy("nope").await.expect_err("missing");
    assert!(
        matches!(&err, Error::ArchivePolicyNotFound { name } if name == "nope"),
        "{err:?}"
    );
    assert_eq!(err.kind(), gnocchi_core::ErrorKind::NotFound);
    assert!(!err.is_retryable());
}

indexer_test!(unicode_names, unicode_names_impl);
async fn unicode_names_impl(f: Fixture) {
    f.indexer
        .create_archive_policy(&policy("✔éñ"))
        .await
        .expect("create");
    assert_eq!(
        f.indexer.archive_policy("✔éñ").await.expect("get").name,
        "✔éñ"
    );
}

indexer_test!(update, update_impl);
async fn update_impl(f: Fixture) {
    let ix = &f.indexer;
    let mut p = policy("p");
    p.back_window = 3;
    ix.create_archive_policy(&p).await.expect("create");
    let m = ix
        .create_metric(&new_metric("p", None))
        .await
        .expect("metric");
    ix.mark_metrics_processed(&[gnocchi_indexer::ProcessedMetric {
        id: m.id,
        newest_measure_ns: 0,
    }])
    .await
    .expect("processed");

    // Same granularities in another order, new retention: accepted, submitted order kept.
    let new_def = [
        ArchivePolicyItem {
            granularity_ns: 60 * SEC,
            points: Some(10),
        },
        ArchivePolicyItem {
            granularity_ns: SEC,
            points: Some(5),
        },
    ];
    let updated = ix
        .update_archive_policy("p", &new_def, None)
        .await
        .expect("update");
    assert_eq!(updated.definition, new_def);
    assert_eq!(
        updated.back_window, 3,
        "back window unchanged when not given"
    );
    assert_eq!(ix.archive_policy("p").await.expect("get"), updated);
    assert!(
        !ix.metric(m.id)
            .await
            .expect("metric")
            .needs_raw_data_truncation
    );

    // A smaller back window flags the policy's metrics for raw truncation.
    let updated = ix
        .update_archive_policy("p", &new_def, Some(1))
        .await
        .expect("update");
    assert_eq!(updated.back_window, 1);
    assert!(
        ix.metric(m.id)
            .await
            .expect("metric")
            .needs_raw_data_truncation
    );

    let err = ix
        .update_archive_policy("p", &new_def[..1], None)
        .await
        .expect_err("dropped");
    assert!(
        matches!(&err, Error::ArchivePolicyGranularitiesAddedOrDropped { name } if name == "p"),
        "{err:?}"
    );
    let changed = [
        ArchivePolicyItem {
            granularity_ns: 5 * SEC,
            points: Some(5),
        },
        ArchivePolicyItem {
            granularity_ns: 60 * SEC,
            points: Some(10),
        },
    ];
    let err = ix
        .update_archive_policy("p", &changed, None)
        .await
        .expect_err("changed");
    assert!(
        matches!(&err, Error::ArchivePolicyGranularityChanged { name, granularity_ns }
            if name == "p" && *granularity_ns == SEC),
        "{err:?}"
    );
    let err = ix
        .update_archive_policy("nope", &new_def, None)
        .await
        .expect_err("missing");
    assert!(
        matches!(err, Error::ArchivePolicyNotFound { .. }),
        "{err:?}"
    );
    assert_eq!(
        ix.archive_policy("p").await.expect("get").definition,
        new_def,
        "unchanged"
    );
}

indexer_test!(delete, delete_impl);
async fn delete_impl(f: Fixture) {
    let ix = &f.indexer;
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("create");
    let err = ix.delete_archive_policy("nope").await.expect_err("missing");
    assert!(
        matches!(&err, Error::ArchivePolicyNotFound { name } if name == "nope"),
        "{err:?}"
    );

    // In use by a rule.
    ix.create_archive_policy_rule(&rule("r", "*", "p"))
        .await
        .expect("rule");
    let err = ix
        .delete_archive_policy("p")
        .await
        .expect_err("in use by rule");
    assert!(
        matches!(&err, Error::ArchivePolicyInUse { name } if name == "p"),
        "{err:?}"
    );
    assert_eq!(err.kind(), gnocchi_core::ErrorKind::Conflict);
    ix.delete_archive_policy_rule("r")
        .await
        .expect("delete rule");

    // In use by an active metric, then by a deleted one awaiting expunge.
    let m = ix
        .create_metric(&new_metric("p", None))
        .await
        .expect("metric");
    let err = ix
        .delete_archive_policy("p")
        .await
        .expect_err("in use by metric");
    assert!(matches!(err, Error::ArchivePolicyInUse { .. }), "{err:?}");
    ix.delete_metric(m.id).await.expect("delete metric");
    let err = ix
        .delete_archive_policy("p")
        .await
        .expect_err("in use by deleted metric");
    assert!(matches!(err, Error::ArchivePolicyInUse { .. }), "{err:?}");
    ix.expunge_metric(m.id).await.expect("expunge");

    ix.delete_archive_policy("p").await.expect("delete");
    assert!(matches!(
        ix.archive_policy("p").await.expect_err("gone"),
        Error::ArchivePolicyNotFound { .. }
    ));
    assert!(ix.is_pristine().await.expect("pristine"));
}

indexer_test!(upgrade_is_idempotent, upgrade_is_idempotent_impl);
async fn upgrade_is_idempotent_impl(f: Fixture) {
    f.indexer
        .create_archive_policy(&policy("p"))
        .await
        .expect("create");
    f.indexer.upgrade().await.expect("second upgrade");
    f.indexer.check().await.expect("check");
    assert_eq!(
        f.indexer.list_archive_policies().await.expect("list").len(),
        1
    );
}

#[tokio::test]
async fn open_rejects_other_backends_and_supports_memory() {
    for url in ["redis://localhost", "nonsense"] {
        let err = gnocchi_indexer::open(url).await.err().expect("unsupported");
        assert!(
            matches!(&err, Error::UnsupportedScheme { url: u } if u == url),
            "{err:?}"
        );
        assert_eq!(err.kind(), gnocchi_core::ErrorKind::Invalid);
    }
    let err = gnocchi_indexer::open("sqlite://somehost/x.db")
        .await
        .err()
        .expect("host");
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");

    let ix = gnocchi_indexer::open("sqlite://").await.expect("in memory");
    ix.upgrade().await.expect("migrate");
    ix.create_archive_policy(&policy("p"))
        .await
        .expect("create");
    assert_eq!(ix.archive_policy("p").await.expect("get").name, "p");
}

#[tokio::test]
async fn open_creates_relative_and_absolute_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let abs = dir.path().join("abs.db");
    let url = format!("sqlite:///{}", abs.display());
    assert!(
        url.starts_with("sqlite:////"),
        "an absolute path gives four slashes: {url}"
    );
    let ix = gnocchi_indexer::open(&url).await.expect("absolute");
    ix.upgrade().await.expect("migrate");
    assert!(abs.exists());

    // A relative path is resolved against the working directory; name a file under the
    // tempdir relative to the current directory.
    let cwd = std::env::current_dir().expect("cwd");
    let rel = pathdiff(&dir.path().join("rel.db"), &cwd);
    let ix = gnocchi_indexer::open(&format!("sqlite:///{rel}"))
        .await
        .expect("relative");
    ix.check().await.expect("check");
    assert!(dir.path().join("rel.db").exists());
}

/// `target` relative to `base` (both absolute), through `..` components.
fn pathdiff(target: &std::path::Path, base: &std::path::Path) -> String {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); b.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}
