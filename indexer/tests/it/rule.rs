//! Archive policy rules: CRUD, errors and matching order (engine.md §1.4, api.md §5).

use gnocchi_indexer::Error;

use crate::common::{policy, rule, Fixture};

indexer_test!(crud, crud_impl);
async fn crud_impl(f: Fixture) {
    let ix = &f.indexer;
    ix.create_archive_policy(&policy("low"))
        .await
        .expect("policy");
    let r = rule("test_rule", "disk.io.*", "low");
    ix.create_archive_policy_rule(&r).await.expect("create");
    assert!(!ix.is_pristine().await.expect("pristine"));
    assert_eq!(ix.archive_policy_rule("test_rule").await.expect("get"), r);

    let err = ix
        .create_archive_policy_rule(&rule("test_rule", "x", "low"))
        .await
        .expect_err("dup");
    assert!(matches!(&err, Error::ArchivePolicyRuleExists { name } if name == "test_rule"));
    let err = ix
        .create_archive_policy_rule(&rule("other", "x", "nope"))
        .await
        .expect_err("policy");
    assert!(
        matches!(&err, Error::ArchivePolicyNotFound { name } if name == "nope"),
        "{err:?}"
    );
    let err = ix.archive_policy_rule("nope").await.expect_err("missing");
    assert!(matches!(&err, Error::ArchivePolicyRuleNotFound { name } if name == "nope"));

    // Rename.
    let renamed = ix
        .rename_archive_policy_rule("test_rule", "renamed")
        .await
        .expect("rename");
    assert_eq!(renamed, rule("renamed", "disk.io.*", "low"));
    assert!(matches!(
        ix.archive_policy_rule("test_rule")
            .await
            .expect_err("old name gone"),
        Error::ArchivePolicyRuleNotFound { .. }
    ));
    ix.create_archive_policy_rule(&rule("second", "*", "low"))
        .await
        .expect("create");
    let err = ix
        .rename_archive_policy_rule("second", "renamed")
        .await
        .expect_err("taken");
    assert!(
        matches!(&err, Error::ArchivePolicyRuleRenameExists { name, new_name }
            if name == "second" && new_name == "renamed"),
        "{err:?}"
    );
    let err = ix
        .rename_archive_policy_rule("nope", "x")
        .await
        .expect_err("missing");
    assert!(matches!(err, Error::ArchivePolicyRuleNotFound { .. }));
    assert_eq!(
        ix.rename_archive_policy_rule("second", "second")
            .await
            .expect("same")
            .name,
        "second"
    );

    // Delete.
    ix.delete_archive_policy_rule("renamed")
        .await
        .expect("delete");
    let err = ix
        .delete_archive_policy_rule("renamed")
        .await
        .expect_err("gone");
    assert!(matches!(&err, Error::ArchivePolicyRuleNotFound { name } if name == "renamed"));
    let names: Vec<_> = ix
        .list_archive_policy_rules()
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["second"]);
}

indexer_test!(list_order, list_order_impl);
async fn list_order_impl(f: Fixture) {
    let ix = &f.indexer;
    ix.create_archive_policy(&policy("low"))
        .await
        .expect("policy");
    for (name, pattern) in [
        ("a", "*"),
        ("b", "disk.foo.*"),
        ("c", "disk.*"),
        ("z", "disk.*"),
        ("y", "disk.*"),
    ] {
        ix.create_archive_policy_rule(&rule(name, pattern, "low"))
            .await
            .expect("rule");
    }
    let got: Vec<_> = ix
        .list_archive_policy_rules()
        .await
        .expect("list")
        .into_iter()
        .map(|r| (r.metric_pattern, r.name))
        .collect();
    let want = [
        ("disk.foo.*", "b"),
        ("disk.*", "c"),
        ("disk.*", "y"),
        ("disk.*", "z"),
        ("*", "a"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(p, n)| (p.to_string(), n.to_string()))
        .collect();
    assert_eq!(
        got, want,
        "pattern descending by bytes, then name ascending"
    );
}

async fn chosen(f: &Fixture, name: Option<&str>) -> Option<String> {
    f.indexer
        .archive_policy_for_metric_name(name)
        .await
        .expect("match")
        .map(|p| p.name)
}

indexer_test!(matching, matching_impl);
async fn matching_impl(f: Fixture) {
    let ix = &f.indexer;
    for p in ["low", "disk", "disk1", "cpu", "notx", "upper"] {
        ix.create_archive_policy(&policy(p)).await.expect("policy");
    }
    assert_eq!(
        chosen(&f, Some("anything")).await,
        None,
        "no rules, no match"
    );

    ix.create_archive_policy_rule(&rule("default", "*", "low"))
        .await
        .expect("rule");
    ix.create_archive_policy_rule(&rule("disk", "disk.*", "disk"))
        .await
        .expect("rule");
    // 'd' > '*': disk.* is tried before *.
    assert_eq!(
        chosen(&f, Some("disk.io.rate")).await.as_deref(),
        Some("disk")
    );
    assert_eq!(chosen(&f, Some("cpu.util")).await.as_deref(), Some("low"));
    assert_eq!(
        chosen(&f, None).await.as_deref(),
        Some("low"),
        "no name matches as ''"
    );
    assert_eq!(chosen(&f, Some("")).await.as_deref(), Some("low"));

    // `?` and sets, ordered by pattern bytes: "disk[0-9]*" > "disk.*" ('[' > '.').
    ix.create_archive_policy_rule(&rule("digit", "disk[0-9]*", "disk1"))
        .await
        .expect("rule");
    ix.create_archive_policy_rule(&rule("cpu", "c?u", "cpu"))
        .await
        .expect("rule");
    ix.create_archive_policy_rule(&rule("notx", "x[!x]", "notx"))
        .await
        .expect("rule");
    ix.create_archive_policy_rule(&rule("upper", "DISK.*", "upper"))
        .await
        .expect("rule");
    assert_eq!(
        chosen(&f, Some("disk7.read")).await.as_deref(),
        Some("disk1")
    );
    assert_eq!(chosen(&f, Some("disk.read")).await.as_deref(), Some("disk"));
    assert_eq!(chosen(&f, Some("cpu")).await.as_deref(), Some("cpu"));
    assert_eq!(
        chosen(&f, Some("cpuu")).await.as_deref(),
        Some("low"),
        "? is exactly one"
    );
    assert_eq!(chosen(&f, Some("xa")).await.as_deref(), Some("notx"));
    assert_eq!(chosen(&f, Some("xx")).await.as_deref(), Some("low"));
    assert_eq!(
        chosen(&f, Some("DISK.io")).await.as_deref(),
        Some("upper"),
        "case-sensitive"
    );
    assert_eq!(chosen(&f, Some("Disk.io")).await.as_deref(), Some("low"));

    // Without the catch-all, unmatched names get nothing.
    ix.delete_archive_policy_rule("default")
        .await
        .expect("delete");
    assert_eq!(chosen(&f, Some("mem.used")).await, None);
    assert_eq!(chosen(&f, None).await, None);
}

indexer_test!(first_match_in_order_not_longest, first_match_impl);
async fn first_match_impl(f: Fixture) {
    // engine.md §1.4: byte order descending, not the longest pattern:
    // "disk.io.r*" > "disk.io.[r]ead" because 'r' > '['.
    let ix = &f.indexer;
    ix.create_archive_policy(&policy("short"))
        .await
        .expect("policy");
    ix.create_archive_policy(&policy("long"))
        .await
        .expect("policy");
    ix.create_archive_policy_rule(&rule("long", "disk.io.[r]ead", "long"))
        .await
        .expect("rule");
    ix.create_archive_policy_rule(&rule("short", "disk.io.r*", "short"))
        .await
        .expect("rule");
    assert_eq!(
        chosen(&f, Some("disk.io.read")).await.as_deref(),
        Some("short")
    );
}
