"""Fixtures for the end-to-end tests: a real gnocchi-rs server per test module.

The server binary is $GNOCCHI_BIN_DIR/gnocchi, else $CARGO_TARGET_DIR/debug/gnocchi
(CARGO_TARGET_DIR defaults to /var/tmp/gnocchi-rs-target). It runs
`gnocchi serve --data-dir <tmp> --port <free port>` on the embedded default (which creates
the archive policies bool/low/medium/high and the rule default -> low on first start) and is
stopped with SIGTERM (then SIGKILL) when the module ends.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest


def server_binary():
    bin_dir = os.environ.get("GNOCCHI_BIN_DIR")
    if not bin_dir:
        target = os.environ.get("CARGO_TARGET_DIR", "/var/tmp/gnocchi-rs-target")
        bin_dir = os.path.join(target, "debug")
    path = os.path.join(bin_dir, "gnocchi")
    if not os.access(path, os.X_OK):
        raise RuntimeError("gnocchi-rs binary not found at %s (build with cargo build --bins)" % path)
    return path


def client_cli():
    """The python-gnocchiclient `gnocchi` entry point of the interpreter running the tests.

    Our Rust binary is also called `gnocchi`, so the client CLI is always called by its
    absolute path next to sys.executable (the venv's bin directory)."""
    path = os.path.join(os.path.dirname(sys.executable), "gnocchi")
    if not os.access(path, os.X_OK):
        raise RuntimeError("python-gnocchiclient CLI not found at %s" % path)
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, config=None):
        """config: gnocchi.conf text, `{data}` standing for the data directory; None runs the
        embedded default."""
        self.config = config
        self.data_dir = tempfile.mkdtemp(prefix="gnocchi-e2e-")
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.proc = None

    def start(self):
        log = open(self.log_path, "wb")
        data = os.path.join(self.data_dir, "data")
        os.makedirs(data, exist_ok=True)
        args = [server_binary(), "serve", "--data-dir", data, "--port", str(self.port)]
        if self.config is not None:
            conf = os.path.join(self.data_dir, "gnocchi.conf")
            with open(conf, "w") as f:
                f.write(self.config.replace("{data}", data))
            args += ["--config-file", conf]
        self.proc = subprocess.Popen(
            args,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # No gnocchi.conf from ~ or /etc may leak in: point HOME at the temp dir.
            env=dict(os.environ, HOME=self.data_dir),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                with urllib.request.urlopen(self.endpoint + "/", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not answer within 30 s:\n%s" % self.log())

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def serving(config=None):
    """A started server for a module-scoped fixture; stopped when the module is done."""
    srv = Server(config=config)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def server():
    yield from serving()


def run_cli(base, args, ok=True):
    """Runs the client CLI `base + args`: its stdout when `ok`, else its stderr once it failed.

    No OS_* variables from the caller's environment may change the client's auth."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    p = subprocess.run(base + list(args), capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL, env=env)
    if ok:
        assert p.returncode == 0, "gnocchi %s failed (%d):\n%s%s" % (
            " ".join(args), p.returncode, p.stdout, p.stderr)
        return p.stdout
    assert p.returncode != 0, "gnocchi %s unexpectedly succeeded:\n%s" % (
        " ".join(args), p.stdout)
    return p.stderr


@pytest.fixture(scope="module")
def client(server):
    from gnocchiclient import auth
    from gnocchiclient.v1 import client as v1client
    from keystoneauth1 import session

    plugin = auth.GnocchiBasicPlugin(user="admin", endpoint=server.endpoint)
    return v1client.Client(session=session.Session(auth=plugin))


def wait_for(fn, timeout=30, interval=0.2):
    """Call fn until it returns a truthy value or the timeout expires; return the last value."""
    deadline = time.monotonic() + timeout
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = fn()
    return value
