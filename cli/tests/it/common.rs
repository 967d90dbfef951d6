//! Starting the built binaries on a free port and talking to them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `Authorization` of the admin user in basic mode.
pub const ADMIN: &str = "basic YWRtaW46";

/// A free loopback port (racy but fine for tests on one machine).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (SIGKILL) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts one of the built binaries with its stderr in `log`.
pub fn spawn(bin: &str, args: &[&str], log: &Path) -> Proc {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
    Proc(child)
}

/// Waits until `GET /` answers.
pub fn wait_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ureq::get(&format!("{base}/")).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{base} did not answer within 30 s");
}

/// A JSON request as admin; returns (status, body).
pub fn request(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let req = ureq::request(method, url)
        .set("Authorization", ADMIN)
        .set("Accept", "application/json");
    let result = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

/// Writes a gnocchi.conf for separate API and metricd processes under `dir`.
pub fn write_config(dir: &Path, port: u16) -> PathBuf {
    let conf = dir.join("gnocchi.conf");
    let text = format!(
        "[api]\nauth_mode = basic\nhost = 127.0.0.1\nport = {port}\n\
         [indexer]\nurl = sqlite:///{dir}/indexer.sqlite\n\
         [storage]\ndriver = file\nfile_basepath = {dir}/storage\n\
         [incoming]\ndriver = file\nfile_basepath = {dir}/incoming\n\
         [metricd]\nmetric_processing_delay = 1\nmetric_cleanup_delay = 2\n",
        dir = dir.display()
    );
    std::io::Write::write_all(&mut std::fs::File::create(&conf).unwrap(), text.as_bytes()).unwrap();
    conf
}

/// Path of a built binary of this package.
pub fn bin(name: &str) -> String {
    match name {
        "gnocchi" => env!("CARGO_BIN_EXE_gnocchi"),
        "gnocchi-api" => env!("CARGO_BIN_EXE_gnocchi-api"),
        "gnocchi-metricd" => env!("CARGO_BIN_EXE_gnocchi-metricd"),
        "gnocchi-upgrade" => env!("CARGO_BIN_EXE_gnocchi-upgrade"),
        other => panic!("unknown binary {other}"),
    }
    .to_owned()
}

/// The address of the PostgreSQL server of the backend tests (`GNOCCHI_TEST_POSTGRESQL_URL`,
/// set by `scripts/postgresql-server start`), or `None` after printing why `test` is skipped.
/// Under `GNOCCHI_REQUIRE_POSTGRESQL=1` a missing server fails the test instead.
#[allow(clippy::print_stderr)] // The skip reason is the point.
pub fn postgresql_url(test: &str) -> Option<String> {
    match std::env::var("GNOCCHI_TEST_POSTGRESQL_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("GNOCCHI_REQUIRE_POSTGRESQL").as_deref() != Ok("1"),
                "{test}: GNOCCHI_REQUIRE_POSTGRESQL=1 but GNOCCHI_TEST_POSTGRESQL_URL is unset"
            );
            eprintln!(
                "skipping {test}: GNOCCHI_TEST_POSTGRESQL_URL is unset \
                 (eval \"$(scripts/postgresql-server start DIR)\")"
            );
            None
        }
    }
}

/// Creates a fresh, empty database on the server of `url` (any database of it) with the
/// `psql` client and returns its URL.
pub fn create_postgresql_database(url: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("gnocchi_it_{}_{n}_{nanos}", std::process::id());
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qc"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .unwrap_or_else(|e| panic!("running psql: {e}"));
    assert!(
        out.status.success(),
        "CREATE DATABASE {name} on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (server, _) = url.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

/// The address of the MariaDB server of the backend tests (`GNOCCHI_TEST_MYSQL_URL`, set by
/// `scripts/mariadb-server start`), or `None` after printing why `test` is skipped. Under
/// `GNOCCHI_REQUIRE_MYSQL=1` a missing server fails the test instead.
#[allow(clippy::print_stderr)] // The skip reason is the point.
pub fn mysql_url(test: &str) -> Option<String> {
    match std::env::var("GNOCCHI_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("GNOCCHI_REQUIRE_MYSQL").as_deref() != Ok("1"),
                "{test}: GNOCCHI_REQUIRE_MYSQL=1 but GNOCCHI_TEST_MYSQL_URL is unset"
            );
            eprintln!(
                "skipping {test}: GNOCCHI_TEST_MYSQL_URL is unset \
                 (eval \"$(scripts/mariadb-server start DIR)\")"
            );
            None
        }
    }
}

/// Creates a fresh, empty database on the server of `url` (`mysql://user@host:port/db`, as
/// `scripts/mariadb-server` prints it) with the `mariadb` client and returns its URL.
pub fn create_mysql_database(url: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("gnocchi_it_{}_{n}", std::process::id());
    let (server, _) = url.rsplit_once('/').unwrap();
    let authority = server.split_once("://").unwrap().1;
    let (user, host_port) = authority.rsplit_once('@').unwrap_or(("root", authority));
    let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "3306"));
    let out = Command::new("mariadb")
        .args(["--no-defaults", "-h", host, "-P", port, "-u", user, "-e"])
        .arg(format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .output()
        .unwrap_or_else(|e| panic!("running mariadb: {e}"));
    assert!(
        out.status.success(),
        "CREATE DATABASE {name} on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{server}/{name}")
}

/// Writes a gnocchi.conf as [`write_config`] does, with `[indexer] url = indexer` when given
/// (the SQLite file in `dir` otherwise).
pub fn write_config_with_indexer(dir: &Path, port: u16, indexer: Option<&str>) -> PathBuf {
    let conf = write_config(dir, port);
    if let Some(url) = indexer {
        let text = std::fs::read_to_string(&conf).unwrap();
        let sqlite = format!("url = sqlite:///{}/indexer.sqlite", dir.display());
        assert!(text.contains(&sqlite), "{text}");
        let text = text.replace(&sqlite, &format!("url = {url}"));
        std::io::Write::write_all(&mut std::fs::File::create(&conf).unwrap(), text.as_bytes())
            .unwrap();
    }
    conf
}

/// gnocchi-api and gnocchi-metricd on one configuration, after gnocchi-upgrade; killed when
/// dropped. Logs are in `dir`.
pub struct Deployment {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The API process.
    pub api: Proc,
    /// The metricd process.
    pub metricd: Proc,
    /// Holds the configuration, the logs and the file storage.
    pub dir: tempfile::TempDir,
}

impl Deployment {
    /// Upgrades, then starts both daemons on `indexer` (SQLite in the tempdir if `None`).
    pub fn start(indexer: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = write_config_with_indexer(dir.path(), port, indexer);
        let conf = conf.to_str().unwrap();
        let out = Command::new(bin("gnocchi-upgrade"))
            .args(["--config-file", conf])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gnocchi-upgrade: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let args = ["--config-file", conf];
        let api = spawn(&bin("gnocchi-api"), &args, &dir.path().join("api.log"));
        let metricd = spawn(
            &bin("gnocchi-metricd"),
            &args,
            &dir.path().join("metricd.log"),
        );
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&base);
        Deployment {
            base,
            api,
            metricd,
            dir,
        }
    }

    /// The API's log so far, for assertion messages.
    pub fn api_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("api.log")).unwrap_or_default()
    }
}

/// A JSON request as admin that gives up after `timeout`; a transport error (refused, timed
/// out, reset) is an `Err` with its text instead of a panic.
pub fn try_request(
    method: &str,
    url: &str,
    body: Option<Value>,
    timeout: Duration,
) -> Result<(u16, Value), String> {
    let agent = ureq::AgentBuilder::new().timeout(timeout).build();
    let req = agent
        .request(method, url)
        .set("Authorization", ADMIN)
        .set("Accept", "application/json");
    let result = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(format!("{method} {url}: {e}")),
    };
    let status = resp.status();
    let text = resp
        .into_string()
        .map_err(|e| format!("{method} {url}: reading the body: {e}"))?;
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, json))
}
