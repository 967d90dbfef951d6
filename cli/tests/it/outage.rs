//! An indexer outage (PostgreSQL or MariaDB): while the indexer's server is down the API
//! answers 503 (never 500, never a hang), and once it is back the same gnocchi-api answers
//! again without a restart.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{mysql_url, postgresql_url, request, try_request, Deployment};

/// No request may take longer than this, outage or not.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The database servers an outage is staged on.
#[derive(Clone, Copy)]
enum Backend {
    Postgresql,
    Mariadb,
}

impl Backend {
    /// The project's start/stop script.
    fn script(self) -> PathBuf {
        let name = match self {
            Backend::Postgresql => "postgresql-server",
            Backend::Mariadb => "mariadb-server",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts")
            .join(name)
    }

    /// The line prefix of the URL the script prints.
    fn url_prefix(self) -> &'static str {
        match self {
            Backend::Postgresql => "GNOCCHI_TEST_POSTGRESQL_URL=",
            Backend::Mariadb => "GNOCCHI_TEST_MYSQL_URL=",
        }
    }
}

/// A throw-away server of the backend's script in a tempdir, stopped when dropped.
struct Cluster {
    backend: Backend,
    dir: tempfile::TempDir,
    url: String,
}

impl Cluster {
    fn start(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = Cluster::start_in(backend, dir.path());
        Cluster { backend, dir, url }
    }

    fn stop(&self) {
        let out = Command::new(self.backend.script())
            .arg("stop")
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} stop: {}",
            self.backend.script().display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the stopped server again on the port it had, which the API's configuration names.
    fn restart(&self) {
        match self.backend {
            Backend::Postgresql => self.restart_postgresql(),
            // `scripts/mariadb-server start` reuses `DIR/port` for a stopped server.
            Backend::Mariadb => {
                let restarted = Cluster::start_in(self.backend, self.dir.path());
                assert_eq!(restarted, self.url, "the restarted server moved");
            }
        }
    }

    /// Runs the script's `start` on `dir`; returns the URL it prints.
    fn start_in(backend: Backend, dir: &Path) -> String {
        let script = backend.script();
        let out = Command::new(&script)
            .arg("start")
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} start: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(backend.url_prefix()))
            .unwrap_or_else(|| panic!("no URL in {stdout}"))
            .to_owned()
    }

    /// `scripts/postgresql-server start` picks a new free port for a stopped cluster, so this
    /// runs the script's `pg_ctl start` with `DIR/port`.
    fn restart_postgresql(&self) {
        let dir = self.dir.path();
        let port = std::fs::read_to_string(dir.join("port")).unwrap();
        let port = port.trim();
        let pg_ctl = pg_bin().join("pg_ctl");
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=300 -c fsync=off",
            dir.display()
        );
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(&pg_ctl)
                .current_dir("/");
            c
        } else {
            Command::new(&pg_ctl)
        };
        let out = cmd
            .arg("-D")
            .arg(dir.join("data"))
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(self.backend.script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// The server binaries, found as `scripts/postgresql-server` finds them.
fn pg_bin() -> PathBuf {
    if let Some(b) = std::env::var_os("PG_BIN") {
        return b.into();
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.pop().expect("no /usr/lib/postgresql/<version>").1
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Asserts a 503 whose JSON description says the indexer is unavailable.
fn assert_unavailable(what: &str, answer: Result<(u16, Value), String>, g: &Deployment) {
    let (status, body) = answer.unwrap_or_else(|e| panic!("{what} during the outage: {e}"));
    assert_eq!(
        status,
        503,
        "{what} during the outage: {body}\n{}",
        g.api_log()
    );
    let description = body["description"].to_string().to_lowercase();
    assert!(
        (description.contains("indexer") || description.contains("database"))
            && description.contains("unavailable"),
        "{what} during the outage: {body}"
    );
}

#[test]
fn indexer_outage_answers_503_and_recovers_without_restart() {
    let test = "indexer_outage_answers_503_and_recovers_without_restart";
    if postgresql_url(test).is_some() {
        outage(Backend::Postgresql);
    }
}

#[test]
fn mysql_outage_answers_503_and_recovers_without_restart() {
    if mysql_url("mysql_outage_answers_503_and_recovers_without_restart").is_some() {
        outage(Backend::Mariadb);
    }
}

/// Stops the backend's server under a running deployment, checks the 503s, restarts it and
/// checks that gnocchi-api and gnocchi-metricd carry on.
#[allow(clippy::print_stderr)] // The measured 503 latency is reported, not asserted.
fn outage(backend: Backend) {
    let cluster = Cluster::start(backend);
    let mut g = Deployment::start(Some(&cluster.url));
    let base = g.base.clone();
    let (status, metric) = request(
        "POST",
        &format!("{base}/v1/metric"),
        Some(json!({"archive_policy_name": "low"})),
    );
    assert_eq!(status, 201, "{metric}");
    let id = metric["id"].as_str().unwrap().to_owned();
    let get = || try_request("GET", &format!("{base}/v1/metric/{id}"), None, TIMEOUT);
    let create = || {
        try_request(
            "POST",
            &format!("{base}/v1/metric"),
            Some(json!({"archive_policy_name": "low"})),
            TIMEOUT,
        )
    };
    assert_eq!(get().unwrap().0, 200);

    cluster.stop();
    // Several times each, so pooled connections and new ones are both tried.
    for _ in 0..3 {
        let started = Instant::now();
        assert_unavailable("GET /v1/metric/<id>", get(), &g);
        eprintln!(
            "503 for GET during the outage after {:?}",
            started.elapsed()
        );
        let started = Instant::now();
        assert_unavailable("POST /v1/metric", create(), &g);
        eprintln!(
            "503 for POST during the outage after {:?}",
            started.elapsed()
        );
    }

    cluster.restart();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = get().unwrap_or_else(|e| panic!("GET after the outage: {e}"));
        if status == 200 {
            assert_eq!(body["id"], id.as_str());
            break;
        }
        assert_eq!(status, 503, "GET after the outage: {body}\n{}", g.api_log());
        assert!(
            Instant::now() < deadline,
            "GET still answers 503 long after the restart: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = create().unwrap();
    assert_eq!(
        status,
        201,
        "POST after the outage: {body}\n{}",
        g.api_log()
    );
    assert!(g.api.0.try_wait().unwrap().is_none(), "gnocchi-api exited");

    // metricd lived through the outage too: it processes new measures without a refresh.
    assert!(
        g.metricd.0.try_wait().unwrap().is_none(),
        "gnocchi-metricd exited"
    );
    let url = format!("{base}/v1/metric/{id}/measures");
    let (status, body) = request(
        "POST",
        &url,
        Some(json!([{"timestamp": "2026-12-01T12:00:00", "value": 4.0}])),
    );
    assert_eq!(status, 202, "{body}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, points) = request("GET", &format!("{url}?granularity=300"), None);
        assert_eq!(status, 200, "{points}");
        if !points.as_array().unwrap().is_empty() {
            assert_eq!(points, json!([["2026-12-01T12:00:00+00:00", 300.0, 4.0]]));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "metricd processed nothing after the outage"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
