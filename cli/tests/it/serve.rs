//! The README's run command: `gnocchi serve` on the embedded default.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{bin, free_port, request, spawn, wait_ready};

#[test]
fn serve_ingests_and_aggregates_on_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port().to_string();
    let _server = spawn(
        &bin("gnocchi"),
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--port",
            &port,
        ],
        &dir.path().join("serve.log"),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base);
    assert!(data.join("index.sqlite").is_file());

    // The default rule gives the metric the `low` policy (5 minutes).
    let (status, metric) = request("POST", &format!("{base}/v1/metric"), Some(json!({})));
    assert_eq!(status, 201, "{metric}");
    assert_eq!(metric["archive_policy_name"], "low");
    let id = metric["id"].as_str().unwrap().to_owned();

    let measures = json!([
        {"timestamp": "2026-12-01T12:00:00", "value": 1.0},
        {"timestamp": "2026-12-01T12:01:00", "value": 3.0},
        {"timestamp": "2026-12-01T12:07:00", "value": 10.0},
    ]);
    let url = format!("{base}/v1/metric/{id}/measures");
    let (status, _) = request("POST", &url, Some(measures));
    assert_eq!(status, 202);

    // Processed in the background without a refresh, well within the 60 s of Gnocchi.
    let deadline = Instant::now() + Duration::from_secs(20);
    let points = loop {
        let (status, points) = request("GET", &url, None);
        assert_eq!(status, 200, "{points}");
        if points.as_array().unwrap().len() == 2 || Instant::now() > deadline {
            break points;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        points,
        json!([
            ["2026-12-01T12:00:00+00:00", 300.0, 2.0],
            ["2026-12-01T12:05:00+00:00", 300.0, 10.0],
        ])
    );
}
