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
