//! Resource search and PATCH over one indexer backend, on a database of
//! `GNOCCHI_BENCH_RESOURCES` (default 100 000) resources of one custom type, built once and
//! shared by every bench function. `GNOCCHI_BENCH_BACKEND` picks the backend: `sqlite`
//! (default, a file in a tempdir), `postgresql` or `mysql` (a fresh database on the server of
//! `GNOCCHI_TEST_POSTGRESQL_URL` / `GNOCCHI_TEST_MYSQL_URL`, as the integration tests use).
//!
//! Each search is measured twice: by criterion (mean/median, flat sampling), and by
//! `GNOCCHI_BENCH_SAMPLES` (default 200) sequential calls outside criterion's loop (cut short
//! after 20 s), whose p50/p99 are printed. PATCH throughput is reported by criterion as elements (PATCHes) per
//! second, with 1 and 8 concurrent tasks, on distinct resources and on one resource.
//!
//! `cargo bench -p gnocchi-indexer --bench resource_search`
//! (PostgreSQL: `eval "$(scripts/postgresql-server start DIR)"; GNOCCHI_BENCH_BACKEND=postgresql
//! cargo bench ...`; MariaDB likewise with scripts/mariadb-server and `mysql`)
//! (smoke run: `GNOCCHI_BENCH_RESOURCES=2000 GNOCCHI_BENCH_SAMPLES=20 cargo bench ...`)
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use gnocchi_indexer::{
    AttributeDefinition, AttributeType, AttributeValue, CmpOp, Filter, Indexer, NewResource, Page,
    ResourceQuery, ResourceUpdate,
};
use tempfile::TempDir;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use uuid::Uuid;

/// Resources in the database.
const RESOURCES_ENV: &str = "GNOCCHI_BENCH_RESOURCES";
/// Sequential calls per query for the printed p50/p99.
const SAMPLES_ENV: &str = "GNOCCHI_BENCH_SAMPLES";
/// `sqlite`, `postgresql` or `mysql`.
const BACKEND_ENV: &str = "GNOCCHI_BENCH_BACKEND";
/// The sequential calls of one query stop early after this long (at least 20 calls), so the
/// full-scan queries keep a whole run under ~5 minutes.
const SAMPLE_BUDGET: Duration = Duration::from_secs(20);
/// The searched resource type.
const TYPE: &str = "bench_instance";
/// Concurrent tasks of the initial load (the pool's connection count).
const LOAD_TASKS: usize = 8;

/// The database, built once, plus what keeps it alive.
struct Fixture {
    rt: Runtime,
    indexer: Arc<dyn Indexer>,
    ids: Vec<Uuid>,
    /// Distinct `host` values (10 resources each).
    hosts: usize,
    /// Distinct `project_id` values (100 resources each).
    projects: usize,
    _dir: Option<TempDir>,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

fn attribute_types() -> BTreeMap<String, AttributeDefinition> {
    let def = |attribute_type| AttributeDefinition {
        attribute_type,
        required: false,
        fill: None,
    };
    let string = || AttributeType::String {
        min_length: 0,
        max_length: 255,
    };
    BTreeMap::from([
        ("host".to_owned(), def(string())),
        ("flavor".to_owned(), def(string())),
        (
            "vcpus".to_owned(),
            def(AttributeType::Number {
                min: None,
                max: None,
            }),
        ),
        ("image_ref".to_owned(), def(AttributeType::Uuid)),
        ("launched_at".to_owned(), def(AttributeType::Datetime)),
    ])
}

fn new_resource(i: usize, hosts: usize, projects: usize, epoch: DateTime<Utc>) -> NewResource {
    let id = Uuid::new_v4();
    let offset = chrono::Duration::seconds(i64::try_from(i).expect("small index"));
    NewResource {
        id,
        original_resource_id: id.to_string(),
        type_name: TYPE.to_owned(),
        creator: Some("bench:bench".to_owned()),
        user_id: Some(format!("user-{}", i % 50)),
        project_id: Some(format!("project-{}", i % projects)),
        attributes: BTreeMap::from([
            (
                "host".to_owned(),
                AttributeValue::String(format!("host-{}", i % hosts)),
            ),
            (
                "flavor".to_owned(),
                AttributeValue::String("m1.small".to_owned()),
            ),
            ("vcpus".to_owned(), AttributeValue::Number((i % 64) as f64)),
            (
                "image_ref".to_owned(),
                AttributeValue::Uuid(Uuid::from_u128(i as u128 % 16)),
            ),
            (
                "launched_at".to_owned(),
                AttributeValue::Datetime(epoch + offset),
            ),
        ]),
        ..Default::default()
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fn build() -> Fixture {
    let n = env_usize(RESOURCES_ENV, 100_000);
    let hosts = (n / 10).max(1);
    let projects = (n / 100).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (url, dir) = rt.block_on(database());
    println!("backend: {}", url.split("://").next().unwrap_or("?"));
    let (indexer, ids) = rt.block_on(async {
        let indexer = gnocchi_indexer::open(&url).await.expect("open the indexer");
        indexer.upgrade().await.expect("migrate");
        indexer
            .create_resource_type(TYPE, &attribute_types())
            .await
            .expect("create resource type");
        let epoch = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).expect("valid epoch");
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for task in 0..LOAD_TASKS {
            let indexer = Arc::clone(&indexer);
            tasks.spawn(async move {
                let mut ids = Vec::with_capacity(n / LOAD_TASKS + 1);
                for i in (task..n).step_by(LOAD_TASKS) {
                    let r = new_resource(i, hosts, projects, epoch);
                    indexer.create_resource(&r).await.expect("create resource");
                    ids.push(r.id);
                }
                ids
            });
        }
        let mut ids = Vec::with_capacity(n);
        while let Some(part) = tasks.join_next().await {
            ids.extend(part.expect("load task"));
        }
        let took = started.elapsed();
        println!(
            "load: {n} resources with {LOAD_TASKS} concurrent tasks in {:.1} s ({:.0} creates/s)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
        (indexer, ids)
    });
    Fixture {
        rt,
        indexer,
        ids,
        hosts,
        projects,
        _dir: dir,
    }
}

/// The URL of a fresh database of the backend named by [`BACKEND_ENV`], and the tempdir that
/// holds it when it is a file.
async fn database() -> (String, Option<TempDir>) {
    use sqlx::Connection;

    let backend = std::env::var(BACKEND_ENV).unwrap_or_else(|_| "sqlite".to_owned());
    let server = |env: &str| {
        std::env::var(env).unwrap_or_else(|_| panic!("{BACKEND_ENV}={backend} needs {env}"))
    };
    let name = format!("gnocchi_bench_{}", Uuid::new_v4().simple());
    let url = match backend.as_str() {
        "sqlite" => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite:///{}", dir.path().join("index.db").display());
            return (url, Some(dir));
        }
        "postgresql" => {
            let base = server("GNOCCHI_TEST_POSTGRESQL_URL");
            let mut admin = sqlx::PgConnection::connect(&base).await.expect("connect");
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut admin)
                .await
                .expect("create database");
            base
        }
        "mysql" => {
            let base = server("GNOCCHI_TEST_MYSQL_URL");
            let mut admin = sqlx::MySqlConnection::connect(&base)
                .await
                .expect("connect");
            sqlx::query(&format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .execute(&mut admin)
            .await
            .expect("create database");
            base
        }
        other => panic!("{BACKEND_ENV}={other}: expected sqlite, postgresql or mysql"),
    };
    let (server_url, _) = url
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .expect("the server URL names a database");
    (format!("{server_url}/{name}"), None)
}

/// The nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn search(c: &mut Criterion) {
    let fx = fixture();
    let samples = env_usize(SAMPLES_ENV, 200);
    let host = format!("host-{}", 4242 % fx.hosts);
    let project = format!("project-{}", 42 % fx.projects);
    let query = |filter: Filter, limit: Option<u64>| ResourceQuery {
        filter: Some(filter),
        page: Page {
            limit,
            ..Page::default()
        },
        ..ResourceQuery::all(TYPE)
    };
    let queries = [
        (
            "attribute_eq",
            query(Filter::eq("host", host.as_str()), None),
        ),
        (
            "number_range_limit100",
            query(Filter::cmp(CmpOp::Ge, "vcpus", 32), Some(100)),
        ),
        (
            "generic_column_eq",
            query(Filter::eq("project_id", project.as_str()), None),
        ),
        (
            "and_generic_attribute",
            query(
                Filter::And(vec![
                    Filter::eq("project_id", project.as_str()),
                    Filter::cmp(CmpOp::Ge, "vcpus", 32),
                ]),
                None,
            ),
        ),
    ];

    let mut group = c.benchmark_group("resource_search");
    // Flat sampling: the full-scan queries take ~0.5 s, and linear sampling would run 55.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for (name, q) in &queries {
        let mut latencies = Vec::with_capacity(samples);
        let mut matched = 0;
        let budget = Instant::now();
        for call in 0..samples {
            if call >= 20 && budget.elapsed() > SAMPLE_BUDGET {
                break;
            }
            let started = Instant::now();
            let found = fx
                .rt
                .block_on(fx.indexer.list_resources(q))
                .expect("search");
            latencies.push(started.elapsed());
            matched = found.len();
        }
        latencies.sort_unstable();
        println!(
            "{name}: {matched} matches of {}; {} sequential calls: p50 {:.2} ms, p99 {:.2} ms",
            fx.ids.len(),
            latencies.len(),
            percentile(&latencies, 50.0).as_secs_f64() * 1e3,
            percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        );
        group.bench_with_input(BenchmarkId::from_parameter(name), q, |b, q| {
            b.iter(|| {
                fx.rt
                    .block_on(fx.indexer.list_resources(q))
                    .expect("search")
            });
        });
    }
    group.finish();
}

/// Runs `total` PATCHes (each a real change of `flavor`, so each makes a revision) split over
/// `tasks` concurrent tasks; task `t` patches `targets[t % targets.len()]`.
async fn patch_burst(
    indexer: &Arc<dyn Indexer>,
    targets: &[Uuid],
    tasks: usize,
    total: u64,
    counter: &Arc<AtomicU64>,
) -> Duration {
    let started = Instant::now();
    let mut set = JoinSet::new();
    let tasks_u64 = u64::try_from(tasks).expect("small task count");
    for t in 0..tasks {
        let indexer = Arc::clone(indexer);
        let counter = Arc::clone(counter);
        let id = targets[t % targets.len()];
        let share = total / tasks_u64 + u64::from((t as u64) < total % tasks_u64);
        set.spawn(async move {
            for _ in 0..share {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let update = ResourceUpdate {
                    attributes: BTreeMap::from([(
                        "flavor".to_owned(),
                        AttributeValue::String(format!("flavor-{n}")),
                    )]),
                    ..ResourceUpdate::default()
                };
                indexer
                    .update_resource(Some(TYPE), id, &update)
                    .await
                    .expect("patch");
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.expect("patch task");
    }
    started.elapsed()
}

fn patch(c: &mut Criterion) {
    let fx = fixture();
    let counter = Arc::new(AtomicU64::new(0));
    // Distinct resources far apart in the load order; the "one" cases all hit ids[0].
    let step = (fx.ids.len() / 8).max(1);
    let distinct: Vec<Uuid> = (0..8).map(|k| fx.ids[(k * step) % fx.ids.len()]).collect();
    let one = [fx.ids[0]];

    let mut group = c.benchmark_group("resource_patch");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));
    for (name, targets, tasks) in [
        ("1_task", &distinct[..1], 1),
        ("8_tasks_distinct", &distinct[..], 8),
        ("8_tasks_one_resource", &one[..], 8),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                fx.rt
                    .block_on(patch_burst(&fx.indexer, targets, tasks, iters, &counter))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, search, patch);
criterion_main!(benches);
