//! Production indexers under concurrent writers: concurrent PATCHes of one resource and
//! concurrent batch posts that create the same metric, on SQLite, PostgreSQL and MariaDB.

use std::sync::Barrier;

use serde_json::{json, Value};

use crate::common::{
    create_mysql_database, create_postgresql_database, mysql_url, postgresql_url, request,
    Deployment,
};

const PATCHES: usize = 50;
const POSTERS: usize = 20;
const MEASURES_PER_POSTER: usize = 10;
const RESOURCE: &str = "5a301761-f78b-46e2-8900-8b4f6fe6675a";

/// Runs `body` once per request on `threads` threads released together; returns the answers
/// in thread order.
fn concurrently<F>(threads: usize, body: F) -> Vec<(u16, Value)>
where
    F: Fn(usize) -> (u16, Value) + Sync,
{
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (barrier, body) = (&barrier, &body);
                s.spawn(move || {
                    barrier.wait();
                    body(i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn concurrent_patches_keep_a_consistent_history(indexer: Option<&str>) {
    let g = Deployment::start(indexer);
    let base = &g.base;
    let (status, body) = request(
        "POST",
        &format!("{base}/v1/resource/generic"),
        Some(json!({"id": RESOURCE, "user_id": "initial", "project_id": "p"})),
    );
    assert_eq!(status, 201, "{body}");

    // Every PATCH sets a value no other sets, so each one changes the resource.
    let url = format!("{base}/v1/resource/generic/{RESOURCE}");
    let answers = concurrently(PATCHES, |i| {
        request("PATCH", &url, Some(json!({"user_id": format!("user-{i}")})))
    });
    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, 200, "PATCH {i}: {body}\n{}", g.api_log());
        assert_eq!(body["user_id"], format!("user-{i}"), "PATCH {i}");
    }

    let (status, history) = request("GET", &format!("{url}/history"), None);
    assert_eq!(status, 200, "{history}");
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 1 + PATCHES, "{history:#?}");
    assert_eq!(history[0]["user_id"], "initial");
    for pair in history.windows(2) {
        assert!(!pair[0]["revision_end"].is_null(), "{pair:#?}");
        assert_eq!(
            pair[0]["revision_end"], pair[1]["revision_start"],
            "{pair:#?}"
        );
    }
    let last = history.last().unwrap();
    assert!(last["revision_end"].is_null(), "{last}");
    let mut seen: Vec<String> = history[1..]
        .iter()
        .map(|r| r["user_id"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    let mut expected: Vec<String> = (0..PATCHES).map(|i| format!("user-{i}")).collect();
    expected.sort();
    assert_eq!(seen, expected, "every PATCH is one revision");

    let (status, current) = request("GET", &url, None);
    assert_eq!(status, 200, "{current}");
    assert_eq!(current["user_id"], last["user_id"]);
    assert_eq!(current["revision_start"], last["revision_start"]);
}

fn concurrent_batches_create_one_metric_and_keep_every_measure(indexer: Option<&str>) {
    let g = Deployment::start(indexer);
    let base = &g.base;
    // One-second points and a back window of a day: measures processed out of order are kept.
    let (status, body) = request(
        "POST",
        &format!("{base}/v1/archive_policy"),
        Some(json!({
            "name": "second",
            "back_window": 86400,
            "definition": [{"granularity": "1s", "points": 86400}],
            "aggregation_methods": ["count"],
        })),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = request(
        "POST",
        &format!("{base}/v1/resource/generic"),
        Some(json!({"id": RESOURCE, "user_id": "u", "project_id": "p"})),
    );
    assert_eq!(status, 201, "{body}");

    let url = format!("{base}/v1/batch/resources/metrics/measures?create_metrics=true");
    let start = 1_700_000_000usize;
    let answers = concurrently(POSTERS, |i| {
        let measures: Vec<_> = (0..MEASURES_PER_POSTER)
            .map(|j| json!({"timestamp": start + i * MEASURES_PER_POSTER + j, "value": i}))
            .collect();
        let batch =
            json!({RESOURCE: {"cpu": {"archive_policy_name": "second", "measures": measures}}});
        request("POST", &url, Some(batch))
    });
    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, 202, "poster {i}: {body}\n{}", g.api_log());
    }

    let (status, metrics) = request("GET", &format!("{base}/v1/metric?name=cpu"), None);
    assert_eq!(status, 200, "{metrics}");
    let metrics = metrics.as_array().unwrap();
    assert_eq!(metrics.len(), 1, "{metrics:#?}");
    let id = metrics[0]["id"].as_str().unwrap();
    assert_eq!(metrics[0]["resource_id"], RESOURCE);
    assert_eq!(metrics[0]["archive_policy"]["name"], "second");
    let (status, resource) = request(
        "GET",
        &format!("{base}/v1/resource/generic/{RESOURCE}"),
        None,
    );
    assert_eq!(status, 200, "{resource}");
    assert_eq!(resource["metrics"], json!({"cpu": id}));

    let (status, points) = request(
        "GET",
        &format!("{base}/v1/metric/{id}/measures?refresh=true&granularity=1&aggregation=count"),
        None,
    );
    assert_eq!(status, 200, "{points}");
    let points = points.as_array().unwrap();
    let total: f64 = points.iter().map(|p| p[2].as_f64().unwrap()).sum();
    assert_eq!(total as usize, POSTERS * MEASURES_PER_POSTER, "{points:?}");
    assert_eq!(
        points.len(),
        POSTERS * MEASURES_PER_POSTER,
        "one point per timestamp"
    );
}

#[test]
fn concurrent_patches_keep_a_consistent_history_on_sqlite() {
    concurrent_patches_keep_a_consistent_history(None);
}

#[test]
fn concurrent_patches_keep_a_consistent_history_on_postgresql() {
    let test = "concurrent_patches_keep_a_consistent_history_on_postgresql";
    if let Some(url) = postgresql_url(test) {
        concurrent_patches_keep_a_consistent_history(Some(&create_postgresql_database(&url)));
    }
}

#[test]
fn concurrent_patches_keep_a_consistent_history_on_mysql() {
    let test = "concurrent_patches_keep_a_consistent_history_on_mysql";
    if let Some(url) = mysql_url(test) {
        concurrent_patches_keep_a_consistent_history(Some(&create_mysql_database(&url)));
    }
}

#[test]
fn concurrent_batches_create_one_metric_and_keep_every_measure_on_sqlite() {
    concurrent_batches_create_one_metric_and_keep_every_measure(None);
}

#[test]
fn concurrent_batches_create_one_metric_and_keep_every_measure_on_postgresql() {
    let test = "concurrent_batches_create_one_metric_and_keep_every_measure_on_postgresql";
    if let Some(url) = postgresql_url(test) {
        concurrent_batches_create_one_metric_and_keep_every_measure(Some(
            &create_postgresql_database(&url),
        ));
    }
}

#[test]
fn concurrent_batches_create_one_metric_and_keep_every_measure_on_mysql() {
    let test = "concurrent_batches_create_one_metric_and_keep_every_measure_on_mysql";
    if let Some(url) = mysql_url(test) {
        concurrent_batches_create_one_metric_and_keep_every_measure(Some(&create_mysql_database(
            &url,
        )));
    }
}
