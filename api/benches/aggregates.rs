//! `POST /v1/aggregates` latency and peak memory, in process.
//!
//! Builds the application as `api/tests/it/common.rs` does (SQLite indexer, file incoming and
//! file storage in a tempdir), creates `GNOCCHI_BENCH_METRICS` metrics (default 1000) on a
//! `1 minute × 1440 points`, `mean`-only policy, writes one day of 1-minute random-walk points
//! per metric with `gnocchi_storage::process_metric` (no HTTP), then times sequential
//! `(aggregate mean (metric (<id> mean) ...))` requests over 10 metrics and over all of them,
//! and `GET /v1/metric/{id}/measures` for reference. Reports p50/p99 and VmHWM (peak RSS).
//!
//! Run: `cargo bench -p gnocchi-api --bench aggregates`; smoke: `GNOCCHI_BENCH_METRICS=20`.
//!
//! `GNOCCHI_BENCH_YEAR_METRICS=100` runs the bounded-read scenario instead (issue 12 item 6):
//! that many metrics with one year of 1-minute points on a `1 minute × 1 year, 1 hour × 1 year`
//! policy, then one `(aggregate mean ...)` over all of them for one day in the middle of the
//! year and one over the whole year, each reporting the peak RSS reached during the request
//! above the resident size before it (VmHWM is reset through `/proc/self/clear_refs`).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::{self, TestRequest};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use gnocchi_api::{AppState, Settings};
use gnocchi_core::Measure;
use gnocchi_indexer::{Indexer, NewMetric, SqliteIndexer};
use gnocchi_storage::{
    read_measures, AggregateStorage, FileIncoming, FileStorage, Incoming, MeasuresQuery,
};
use serde_json::json;
use uuid::Uuid;

const ADMIN: &str = "basic YWRtaW46";
const POLICY: &str = "bench-minute";
const POINTS: i64 = 1440;
const MINUTE_NS: i64 = 60_000_000_000;
/// 2024-01-01T00:00:00Z.
const START_NS: i64 = 1_704_067_200_000_000_000;
const PARALLEL_WRITES: usize = 8;

/// `VmHWM` (peak resident set) of this process, in kB.
fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// One day of 1-minute points, a random walk seeded per metric (xorshift64*).
fn random_walk(seed: u64) -> Vec<Measure> {
    let mut state = seed | 1;
    let mut value = 50.0;
    (0..POINTS)
        .map(|i| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
            value += (r as f64 / (1u64 << 53) as f64) - 0.5;
            Measure::new(START_NS + i * MINUTE_NS, value)
        })
        .collect()
}

/// `VmRSS` (current resident set) of this process, in kB.
fn vm_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Resets VmHWM to the current resident size (Linux ≥ 4.0).
// A control file of the kernel, not data: no durability wanted.
#[allow(clippy::disallowed_methods)]
fn reset_hwm() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Sends one request (`R` is actix-http's `Request`, which actix-web does not re-export).
async fn send<S, R, B>(app: &S, req: R) -> (u16, usize)
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, req).await;
    let status = res.status().as_u16();
    let body = test::read_body(res).await;
    if status >= 300 {
        panic!("HTTP {status}: {}", String::from_utf8_lossy(&body));
    }
    (status, body.len())
}

/// Times `n` sequential requests built by `make`, prints p50/p99 and the peak-RSS delta.
async fn measure<S, R, B>(label: &str, app: &S, n: usize, make: impl Fn() -> R)
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    // The baseline precedes the warm-up so the delta includes the first request's buffers.
    let hwm_before = vm_hwm_kb();
    // One warm-up request (page cache, allocator).
    let (_, bytes) = send(app, make()).await;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        send(app, make()).await;
        times.push(t.elapsed());
    }
    let hwm_after = vm_hwm_kb();
    times.sort();
    let mean = times.iter().sum::<Duration>() / n as u32;
    println!(
        "{label:<40} n={n:<4} p50={:>9.3} ms  p99={:>9.3} ms  mean={:>9.3} ms  body={bytes} B  \
         VmHWM={} kB (+{} kB)",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(mean),
        hwm_after,
        hwm_after - hwm_before,
    );
}

fn aggregates_request(ids: &[Uuid]) -> TestRequest {
    // The s-expression form of the operations, as a client would send it.
    let refs: Vec<String> = ids.iter().map(|id| format!("({id} mean)")).collect();
    let ops = format!("(aggregate mean (metric {}))", refs.join(" "));
    TestRequest::post()
        .uri("/v1/aggregates")
        .insert_header(("authorization", ADMIN))
        .insert_header(("accept", "application/json"))
        .insert_header(("content-type", "application/json"))
        .set_payload(json!({ "operations": ops }).to_string())
}

async fn run() {
    let metrics: usize = std::env::var("GNOCCHI_BENCH_METRICS")
        .ok()
        .map(|v| v.parse().expect("GNOCCHI_BENCH_METRICS is a number"))
        .unwrap_or(1000);
    let hwm_start = vm_hwm_kb();
    println!("metrics={metrics} points/metric={POINTS} VmHWM at start={hwm_start} kB");

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("index.db").display());
    let sqlite = SqliteIndexer::open(&url).await.unwrap();
    sqlite.upgrade().await.unwrap();
    let inc = dir.path().join("incoming");
    FileIncoming::upgrade(&inc, 8).unwrap();
    let sto = dir.path().join("storage");
    FileStorage::upgrade(&sto, 2).unwrap();
    let indexer: Arc<dyn Indexer> = Arc::new(sqlite);
    let incoming: Arc<dyn Incoming> = Arc::new(FileIncoming::open(&inc).unwrap());
    let storage: Arc<dyn AggregateStorage> = Arc::new(FileStorage::open(&sto).unwrap());
    let state = AppState::from_settings(
        Settings::default(),
        indexer.clone(),
        incoming,
        storage.clone(),
    )
    .unwrap();
    let app = test::init_service(gnocchi_api::app(state)).await;

    let policy_body = json!({
        "name": POLICY,
        "definition": [{"granularity": "1 minute", "points": POINTS}],
        "aggregation_methods": ["mean"],
    });
    let req = TestRequest::post()
        .uri("/v1/archive_policy")
        .insert_header(("authorization", ADMIN))
        .insert_header(("content-type", "application/json"))
        .set_payload(policy_body.to_string());
    send(&app, req.to_request()).await;
    let policy = indexer.archive_policy(POLICY).await.unwrap();

    let t = Instant::now();
    let mut ids = Vec::with_capacity(metrics);
    for _ in 0..metrics {
        let m = NewMetric {
            id: Uuid::new_v4(),
            archive_policy_name: POLICY.to_owned(),
            name: None,
            unit: None,
            resource_id: None,
            creator: "admin".to_owned(),
        };
        ids.push(indexer.create_metric(&m).await.unwrap().id);
    }
    println!(
        "created {metrics} metrics in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    stream::iter(ids.iter().enumerate())
        .map(|(i, &id)| {
            let storage = storage.clone();
            let policy = &policy;
            async move {
                let measures = random_walk(0x9e37_79b9_7f4a_7c15 ^ i as u64);
                gnocchi_storage::process_metric(storage.as_ref(), policy, id, measures).await
            }
        })
        .buffer_unordered(PARALLEL_WRITES)
        .try_for_each(|_| async { Ok(()) })
        .await
        .unwrap();
    println!(
        "wrote {metrics} × {POINTS} measures in {:.2} s; VmHWM after setup={} kB",
        t.elapsed().as_secs_f64(),
        vm_hwm_kb()
    );

    // Reference: the storage reads alone, sequential, as the handler's fetch would do them.
    let query = MeasuresQuery::new("mean".parse().unwrap());
    let mut reads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for &id in &ids {
            read_measures(storage.as_ref(), &policy, id, &query)
                .await
                .unwrap();
        }
        reads.push(t.elapsed());
    }
    reads.sort();
    println!(
        "read_measures × {metrics} (storage only, sequential) n=5 median={:.3} ms",
        ms(reads[2])
    );

    let first = ids[0];
    measure("GET /v1/metric/{id}/measures", &app, 200, || {
        TestRequest::get()
            .uri(&format!("/v1/metric/{first}/measures"))
            .insert_header(("authorization", ADMIN))
            .insert_header(("accept", "application/json"))
            .to_request()
    })
    .await;

    let ten = &ids[..ids.len().min(10)];
    let label = format!("POST /v1/aggregates ({} metrics)", ten.len());
    measure(&label, &app, 200, || aggregates_request(ten).to_request()).await;

    if ids.len() > 10 {
        let n = if ids.len() >= 500 { 50 } else { 200 };
        let label = format!("POST /v1/aggregates ({} metrics)", ids.len());
        measure(&label, &app, n, || aggregates_request(&ids).to_request()).await;
    }

    let hwm_end = vm_hwm_kb();
    println!(
        "VmHWM end={hwm_end} kB, delta since start=+{} kB",
        hwm_end - hwm_start
    );
}

const YEAR_POINTS: i64 = 525_600;
const YEAR_POLICY: &str = "bench-year";

/// One year of 1-minute points, a random walk seeded per metric.
fn year_walk(seed: u64) -> Vec<Measure> {
    let mut state = seed | 1;
    let mut value = 50.0;
    (0..YEAR_POINTS)
        .map(|i| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
            value += (r as f64 / (1u64 << 53) as f64) - 0.5;
            Measure::new(START_NS + i * MINUTE_NS, value)
        })
        .collect()
}

/// One windowed `(aggregate mean ...)` over `ids`: latency, answer size, and the peak RSS of
/// the request above the resident size before it.
async fn year_query<S, R, B>(label: &str, app: &S, make: impl Fn() -> R)
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    for round in 0..2 {
        reset_hwm();
        let rss_before = vm_rss_kb();
        let t = Instant::now();
        let (_, bytes) = send(app, make()).await;
        let elapsed = t.elapsed();
        let hwm = vm_hwm_kb();
        println!(
            "{label:<44} round={round} time={:>9.1} ms body={bytes} B  RSS before={rss_before} kB \
             peak={hwm} kB (+{} kB)",
            ms(elapsed),
            hwm - rss_before,
        );
    }
}

async fn run_year(metrics: usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("index.db").display());
    let sqlite = SqliteIndexer::open(&url).await.unwrap();
    sqlite.upgrade().await.unwrap();
    let inc = dir.path().join("incoming");
    FileIncoming::upgrade(&inc, 8).unwrap();
    let sto = dir.path().join("storage");
    FileStorage::upgrade(&sto, 2).unwrap();
    let indexer: Arc<dyn Indexer> = Arc::new(sqlite);
    let incoming: Arc<dyn Incoming> = Arc::new(FileIncoming::open(&inc).unwrap());
    let storage: Arc<dyn AggregateStorage> = Arc::new(FileStorage::open(&sto).unwrap());
    let state = AppState::from_settings(
        Settings::default(),
        indexer.clone(),
        incoming,
        storage.clone(),
    )
    .unwrap();
    let app = test::init_service(gnocchi_api::app(state)).await;
    let policy_body = json!({
        "name": YEAR_POLICY,
        "definition": [
            {"granularity": "1 minute", "timespan": "365 days"},
            {"granularity": "1 hour", "timespan": "365 days"},
        ],
        "aggregation_methods": ["mean"],
    });
    let req = TestRequest::post()
        .uri("/v1/archive_policy")
        .insert_header(("authorization", ADMIN))
        .insert_header(("content-type", "application/json"))
        .set_payload(policy_body.to_string());
    send(&app, req.to_request()).await;
    let policy = indexer.archive_policy(YEAR_POLICY).await.unwrap();
    let mut ids = Vec::with_capacity(metrics);
    for _ in 0..metrics {
        let m = NewMetric {
            id: Uuid::new_v4(),
            archive_policy_name: YEAR_POLICY.to_owned(),
            name: None,
            unit: None,
            resource_id: None,
            creator: "admin".to_owned(),
        };
        ids.push(indexer.create_metric(&m).await.unwrap().id);
    }
    let t = Instant::now();
    // Two at a time: each batch is a year of measures in memory.
    stream::iter(ids.iter().enumerate())
        .map(|(i, &id)| {
            let storage = storage.clone();
            let policy = &policy;
            async move {
                let measures = year_walk(0x9e37_79b9_7f4a_7c15 ^ i as u64);
                gnocchi_storage::process_metric(storage.as_ref(), policy, id, measures).await
            }
        })
        .buffer_unordered(2)
        .try_for_each(|_| async { Ok(()) })
        .await
        .unwrap();
    println!(
        "wrote {metrics} × {YEAR_POINTS} measures in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let day = 86_400 * 1_000_000_000_i64;
    let mid = START_NS + 180 * day;
    let window = |start: i64, stop: i64| {
        let refs: Vec<String> = ids.iter().map(|id| format!("({id} mean)")).collect();
        let ops = format!("(aggregate mean (metric {}))", refs.join(" "));
        let fmt = |ns: i64| format!("{}", ns / 1_000_000_000);
        TestRequest::post()
            .uri(&format!(
                "/v1/aggregates?start={}&stop={}",
                fmt(start),
                fmt(stop)
            ))
            .insert_header(("authorization", ADMIN))
            .insert_header(("accept", "application/json"))
            .insert_header(("content-type", "application/json"))
            .set_payload(json!({ "operations": ops }).to_string())
    };
    let label = format!("aggregates {metrics} metrics, 1 day window");
    year_query(&label, &app, || window(mid, mid + day).to_request()).await;
    let label = format!("aggregates {metrics} metrics, whole year");
    year_query(&label, &app, || {
        window(START_NS, START_NS + 366 * day).to_request()
    })
    .await;
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    match std::env::var("GNOCCHI_BENCH_YEAR_METRICS") {
        Ok(n) => {
            let n = n.parse().expect("GNOCCHI_BENCH_YEAR_METRICS is a number");
            actix_web::rt::System::new().block_on(run_year(n));
        }
        Err(_) => actix_web::rt::System::new().block_on(run()),
    }
}
