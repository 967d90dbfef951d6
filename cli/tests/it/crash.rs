//! Crash safety: nothing answered 202 is lost when metricd and the API are SIGKILLed.

use std::collections::BTreeSet;

use serde_json::json;

use crate::common::{bin, free_port, request, spawn, wait_ready, write_config, Proc};

const METRICS: usize = 20;
const BATCHES: usize = 30;
const PER_BATCH: usize = 50;

fn start(conf: &str, dir: &std::path::Path, round: usize) -> (Proc, Proc) {
    let api = spawn(
        &bin("gnocchi-api"),
        &["--config-file", conf],
        &dir.join(format!("api-{round}.log")),
    );
    let metricd = spawn(
        &bin("gnocchi-metricd"),
        &["--config-file", conf],
        &dir.join(format!("metricd-{round}.log")),
    );
    (api, metricd)
}

#[test]
fn measures_answered_202_survive_sigkill_of_metricd_and_api() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = write_config(dir.path(), port);
    let conf = conf.to_str().unwrap();
    let status = std::process::Command::new(bin("gnocchi-upgrade"))
        .args(["--config-file", conf])
        .status()
        .unwrap();
    assert!(status.success());
    let base = format!("http://127.0.0.1:{port}");

    let (api, mut metricd) = start(conf, dir.path(), 0);
    wait_ready(&base);
    let (status, body) = request(
        "POST",
        &format!("{base}/v1/archive_policy"),
        Some(json!({
            "name": "crash",
            "back_window": 0,
            "definition": [{"granularity": "1s", "points": 100000}],
            "aggregation_methods": ["count"],
        })),
    );
    assert_eq!(status, 201, "{body}");
    let mut ids = Vec::new();
    for _ in 0..METRICS {
        let (status, m) = request(
            "POST",
            &format!("{base}/v1/metric"),
            Some(json!({"archive_policy_name": "crash"})),
        );
        assert_eq!(status, 201, "{m}");
        ids.push(m["id"].as_str().unwrap().to_owned());
    }

    // Batches in increasing time, one second apart, so none falls behind the back window.
    let start_s = 1_700_000_000i64;
    let mut accepted: Vec<BTreeSet<i64>> = vec![BTreeSet::new(); METRICS];
    let mut api = Some(api);
    for b in 0..BATCHES {
        if b % 5 == 4 {
            // metricd dies in the middle of its work, several times.
            metricd.0.kill().unwrap();
            metricd.0.wait().unwrap();
            metricd = spawn(
                &bin("gnocchi-metricd"),
                &["--config-file", conf],
                &dir.path().join(format!("metricd-1-{b}.log")),
            );
        }
        for (m, id) in ids.iter().enumerate() {
            let ts: Vec<i64> = (0..PER_BATCH)
                .map(|i| start_s + (b * PER_BATCH + i) as i64)
                .collect();
            let body: Vec<_> = ts
                .iter()
                .map(|t| json!({"timestamp": t, "value": 1}))
                .collect();
            let (status, _) = request(
                "POST",
                &format!("{base}/v1/metric/{id}/measures"),
                Some(json!(body)),
            );
            assert_eq!(status, 202);
            accepted[m].extend(ts);
        }
    }
    // The API dies right after its last 202, metricd with it.
    drop(api.take());
    drop(metricd);

    let (_api, _metricd) = start(conf, dir.path(), 2);
    wait_ready(&base);
    for (m, id) in ids.iter().enumerate() {
        let (status, points) = request(
            "GET",
            &format!("{base}/v1/metric/{id}/measures?aggregation=count&refresh=true"),
            None,
        );
        assert_eq!(status, 200, "{points}");
        let points = points.as_array().unwrap();
        let total: f64 = points.iter().map(|p| p[2].as_f64().unwrap()).sum();
        assert_eq!(total as usize, accepted[m].len(), "metric {id}");
        assert_eq!(points.len(), accepted[m].len(), "metric {id}");
    }
}
