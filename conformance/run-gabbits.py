#!/usr/bin/env python3
"""Run Gnocchi 4.7.1's own gabbi suites against any Gnocchi-compatible server.

The YAML test files are read at run time out of the gnocchi wheel from PyPI
(downloaded once into a cache directory); nothing of Gnocchi is stored here.

For every gabbit file the harness starts the server afresh on an empty state
(new storage directories, new indexer database), waits until it answers HTTP,
runs that file's tests with gabbi, then stops the server. See README.md.
"""

import argparse
import configparser
import datetime
import glob
import json
import math
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import zipfile

GNOCCHI_VERSION = "4.7.1"
GABBI_VERSION = "4.2.3"
JSONPATH_NG_VERSION = "1.10.1"
# Suite name -> directory inside the wheel. The suite name is also the folder
# the files are extracted to, and the prefix of each file's key in reports.
SUITES = {
    "functional": "gnocchi/tests/functional/gabbits/",
    "functional_live": "gnocchi/tests/functional_live/gabbits/",
}
HOST = "127.0.0.1"
# Fixture classes of gnocchi/tests/functional/fixtures.py that the harness
# emulates by how it configures and starts the server.
KNOWN_FIXTURES = ("ConfigFixture",)
# Header value the live suite sends as `authorization` (basic auth, user
# "admin" with an empty password) and as `x-auth-token` (ignored in basic mode).
LIVE_AUTHORIZATION = "basic YWRtaW46"
LIVE_SERVICE_TOKEN = ""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class HarnessError(Exception):
    pass


# --------------------------------------------------------------------------
# Fetching the gabbits out of the wheel
# --------------------------------------------------------------------------

def default_cache_dir():
    if os.environ.get("GNOCCHI_CONFORMANCE_CACHE"):
        return os.environ["GNOCCHI_CONFORMANCE_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gnocchi-conformance")


def find_wheel(cache_dir):
    found = sorted(glob.glob(os.path.join(
        cache_dir, "gnocchi-%s-*.whl" % GNOCCHI_VERSION)))
    return found[0] if found else None


def download_wheel(cache_dir):
    os.makedirs(cache_dir, exist_ok=True)
    log("downloading gnocchi==%s wheel into %s" % (GNOCCHI_VERSION, cache_dir))
    pip = [sys.executable, "-m", "pip"]
    if subprocess.call(pip + ["--version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL) != 0:
        pip = [shutil.which("pip3") or shutil.which("pip") or "pip"]
    cmd = pip + ["download", "--no-deps", "--only-binary=:all:",
                 "--dest", cache_dir, "gnocchi==%s" % GNOCCHI_VERSION]
    if subprocess.call(cmd, stdout=sys.stderr) != 0:
        raise HarnessError("pip download of gnocchi==%s failed" % GNOCCHI_VERSION)
    wheel = find_wheel(cache_dir)
    if not wheel:
        raise HarnessError("pip download produced no gnocchi wheel in %s" % cache_dir)
    return wheel


def ensure_gabbits(cache_dir):
    """Return the directory holding <suite>/<file>.yaml, extracting if needed."""
    root = os.path.join(cache_dir, "gnocchi-%s-gabbits" % GNOCCHI_VERSION)
    marker = os.path.join(root, ".complete")
    if os.path.exists(marker):
        return root
    wheel = find_wheel(cache_dir) or download_wheel(cache_dir)
    tmp = root + ".tmp%d" % os.getpid()
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            for suite, prefix in SUITES.items():
                if not member.startswith(prefix) or member.endswith("/"):
                    continue
                rel = member[len(prefix):]
                # The YAML files and the data files they load with <@ (the
                # prometheus_fixtures/ folder); nothing else.
                if "/" not in rel and not rel.endswith(".yaml"):
                    continue
                dest = os.path.join(tmp, suite, *rel.split("/"))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with zf.open(member) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
    if not glob.glob(os.path.join(tmp, "functional", "*.yaml")):
        raise HarnessError("no gabbits found in %s" % wheel)
    open(os.path.join(tmp, ".complete"), "w").close()
    shutil.rmtree(root, ignore_errors=True)
    os.rename(tmp, root)
    return root


def list_files(gabbits_root, suites):
    files = []
    for suite in suites:
        for path in sorted(glob.glob(os.path.join(gabbits_root, suite, "*.yaml"))):
            files.append("%s/%s" % (suite, os.path.basename(path)))
    return files


def select_files(all_files, wanted):
    if not wanted:
        return all_files
    chosen = []
    for item in wanted:
        for w in item.split(","):
            w = w.strip()
            if not w:
                continue
            name = w if w.endswith(".yaml") else w + ".yaml"
            matches = [f for f in all_files
                       if f == name or f.split("/", 1)[1] == name]
            if not matches:
                raise HarnessError("no gabbit file matches %r (see --list)" % w)
            chosen.extend(m for m in matches if m not in chosen)
    return [f for f in all_files if f in chosen]


# --------------------------------------------------------------------------
# YAML loading: !AssertNAN and the per-file fixture names
# --------------------------------------------------------------------------

class AssertNAN(object):
    """Equal to any float NaN (what Gnocchi's fixtures module defines)."""

    def __eq__(self, other):
        try:
            return math.isnan(other)
        except TypeError:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None

    def __repr__(self):
        return "AssertNAN"


def load_gabbit(path):
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!AssertNAN", lambda loader, node: AssertNAN())
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)


def adapt_suite(key, suite_dict):
    """Harness adaptations of the upstream files (documented in README.md).

    Upstream mounts the application at the URL prefix /gnocchi (gabbi's
    intercept with prefix='/gnocchi'); here the server is served at the root.
    The only expectation that spells the prefix out literally is the proxy
    test, so that test says the prefix the way a reverse proxy would, through
    X-Forwarded-Prefix (honoured when [api] enable_proxy_headers_parsing).
    """
    fixtures = suite_dict.pop("fixtures", None) or []
    for name in fixtures:
        if name not in KNOWN_FIXTURES:
            log("warning: %s uses fixture %s, which the harness does not emulate"
                % (key, name))
    if key == "functional/http-proxy-to-wsgi.yaml":
        for test in suite_dict.get("tests", []):
            if test.get("name") == "test HTTP proxy headers":
                test.setdefault("request_headers", {})[
                    "X-Forwarded-Prefix"] = "/gnocchi"
    return fixtures


# --------------------------------------------------------------------------
# Processes and ports
# --------------------------------------------------------------------------

def parse_range(text):
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((HOST, port)) != 0


class PortPicker(object):
    """Hands out free ports from a range, round-robin, so that a port just
    released by one file's server is not immediately reused by the next."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi
        self.next = lo

    def pick(self):
        span = self.hi - self.lo + 1
        for _ in range(span):
            port = self.next
            self.next = self.lo + (self.next - self.lo + 1) % span
            if port_free(port):
                return port
        raise HarnessError("no free port in %d-%d" % (self.lo, self.hi))


def descendants(pid):
    """PIDs of every process below pid, read from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Server(object):
    """One started command (api or metricd) and its log file."""

    def __init__(self, name, argv, log_path, env):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.log_file = open(log_path, "ab")
        self.proc = subprocess.Popen(
            argv, stdout=self.log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    def running(self):
        return self.proc.poll() is None

    def stop(self, grace=15):
        """SIGTERM the process, then SIGKILL it and what it spawned, by PID."""
        pid = self.proc.pid
        if self.running():
            kids = descendants(pid)
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
            for p in [pid] + kids + descendants(pid):
                if p == pid and self.proc.poll() is not None:
                    continue
                if alive(p):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.log_file.close()

    def tail(self, lines=15):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()[-8000:].decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(data.splitlines()[-lines:])


def wait_http(url, deadline, servers):
    """Wait until url gives any HTTP answer; False if a server died first."""
    while time.monotonic() < deadline:
        for s in servers:
            if not s.running():
                return False
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    return False


# --------------------------------------------------------------------------
# PostgreSQL: a private cluster for the run, one database per file
# --------------------------------------------------------------------------

def pg_bindir():
    if os.environ.get("PG_BINDIR"):
        return os.environ["PG_BINDIR"]
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        d = os.path.dirname(os.path.realpath(pg_ctl))
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                   key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
    if not found:
        raise HarnessError("PostgreSQL server binaries not found: install postgresql "
                           "or set PG_BINDIR")
    return found[-1]


class PostgresCluster(object):
    """A throw-away PostgreSQL cluster (or an existing server via --pg-url)."""

    def __init__(self, work_dir, ports, admin_url=None):
        self.admin_url = admin_url
        self.bindir = pg_bindir()
        self.proc_pid = None
        self.datadir = None
        if admin_url:
            return
        self.port = ports.pick()
        self.datadir = os.path.join(work_dir, "postgresql")
        shutil.rmtree(self.datadir, ignore_errors=True)  # from an earlier --keep-state run
        os.makedirs(self.datadir)
        as_pg = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root.
            import pwd
            pw = pwd.getpwnam("postgres")
            os.chown(self.datadir, pw.pw_uid, pw.pw_gid)
            os.chmod(work_dir, 0o755)
            as_pg = ["runuser", "-u", "postgres", "--"]
            if subprocess.call(as_pg + ["test", "-x", self.datadir]) != 0:
                raise HarnessError(
                    "user postgres cannot reach %s: use a --work-dir (or TMPDIR) "
                    "whose parent folders are world-searchable" % work_dir)
        self.as_pg = as_pg
        out = subprocess.run(
            as_pg + [os.path.join(self.bindir, "initdb"), "-D", self.datadir,
                     "-U", "gnocchi", "--auth=trust", "--no-locale", "-E",
                     "UTF8", "--no-sync"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if out.returncode != 0:
            raise HarnessError("initdb failed:\n" + out.stdout.decode()[-2000:])
        opts = ("-c listen_addresses=%s -p %d -k %s -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200" % (HOST, self.port, self.datadir))
        out = subprocess.run(
            as_pg + [os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir,
                     "-l", os.path.join(self.datadir, "server.log"), "-w",
                     "-t", "60", "-o", opts, "start"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if out.returncode != 0:
            raise HarnessError("PostgreSQL did not start:\n" + out.stdout.decode()[-2000:])
        with open(os.path.join(self.datadir, "postmaster.pid")) as f:
            self.proc_pid = int(f.readline())
        self.admin_url = "postgresql://gnocchi@%s:%d/postgres" % (HOST, self.port)

    def url_for(self, dbname):
        parts = urllib.parse.urlsplit(self.admin_url)
        return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))

    def sql(self, statement):
        out = subprocess.run(
            [os.path.join(self.bindir, "psql"), "-X", "-q", "-v",
             "ON_ERROR_STOP=1", "-d", self.admin_url, "-c", statement],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if out.returncode != 0:
            raise HarnessError("psql %r failed: %s" % (statement, out.stdout.decode()))

    def create_db(self, dbname):
        self.sql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % dbname)
        self.sql('CREATE DATABASE "%s"' % dbname)
        return self.url_for(dbname)

    def drop_db(self, dbname):
        try:
            self.sql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % dbname)
        except HarnessError as e:
            log("warning: %s" % e)

    def stop(self):
        if not self.datadir or not self.proc_pid:
            return
        subprocess.run(
            self.as_pg + [os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir,
                          "-m", "immediate", "-w", "stop"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while alive(self.proc_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(self.proc_pid):
            os.kill(self.proc_pid, signal.SIGKILL)
        self.proc_pid = None


# --------------------------------------------------------------------------
# MariaDB/MySQL: a private server for the run (scripts/mariadb-server) or an
# existing one via --mysql-url, one database per file
# --------------------------------------------------------------------------

class MysqlServer(object):
    """A throw-away MariaDB server of scripts/mariadb-server (or an existing one)."""

    def __init__(self, work_dir, admin_url=None):
        self.script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   os.pardir, "scripts", "mariadb-server")
        self.dir = None
        if not admin_url:
            self.dir = os.path.join(work_dir, "mariadb")
            out = subprocess.run([self.script, "start", self.dir],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if out.returncode != 0:
                raise HarnessError("MariaDB did not start:\n" + out.stdout.decode()[-2000:])
            for line in out.stdout.decode().splitlines():
                if line.startswith("GNOCCHI_TEST_MYSQL_URL="):
                    admin_url = line.split("=", 1)[1]
            if not admin_url:
                raise HarnessError("scripts/mariadb-server printed no URL")
        self.admin_url = admin_url
        parts = urllib.parse.urlsplit(admin_url)
        self.client = ["mariadb", "--no-defaults", "-h", parts.hostname or HOST,
                       "-P", str(parts.port or 3306), "-u",
                       urllib.parse.unquote(parts.username or "root")]
        if parts.password:
            self.client.append("-p" + urllib.parse.unquote(parts.password))

    def url_for(self, dbname):
        parts = urllib.parse.urlsplit(self.admin_url)
        return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))

    def sql(self, statement):
        out = subprocess.run(self.client + ["-e", statement],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if out.returncode != 0:
            raise HarnessError("mariadb %r failed: %s" % (statement, out.stdout.decode()))

    def create_db(self, dbname):
        self.sql("DROP DATABASE IF EXISTS `%s`" % dbname)
        self.sql("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" % dbname)
        return self.url_for(dbname)

    def drop_db(self, dbname):
        try:
            self.sql("DROP DATABASE IF EXISTS `%s`" % dbname)
        except HarnessError as e:
            log("warning: %s" % e)

    def stop(self):
        if self.dir:
            subprocess.run([self.script, "stop", self.dir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.dir = None


# --------------------------------------------------------------------------
# The configuration file handed to the server
# --------------------------------------------------------------------------

def build_conf(suite, port, state_dir, indexer_url, overrides):
    """The gnocchi.conf options the harness writes (see README.md)."""
    conf = {
        "DEFAULT": {"debug": "false", "verbose": "false"},
        "api": {
            "auth_mode": "basic",
            "host": HOST,
            "port": str(port),
            "enable_proxy_headers_parsing": "true",
        },
        "cors": {"allowed_origin": "http://foobar.com"},
        "indexer": {"url": indexer_url},
        "storage": {
            "driver": "file",
            "file_basepath": os.path.join(state_dir, "storage"),
        },
        "incoming": {
            "driver": "file",
            "file_basepath": os.path.join(state_dir, "incoming"),
        },
        "metricd": {
            "workers": "1",
            "metric_processing_delay": "1",
            "metric_cleanup_delay": "2",
        },
    }
    if suite == "functional":
        # The functional fixture makes pagination testable with a small page.
        conf["api"]["max_limit"] = "7"
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, option = key.rpartition(".")
        if not sep or not dot or not section or not option:
            raise HarnessError("--set wants SECTION.OPTION=VALUE, got %r" % item)
        conf.setdefault(section, {})[option] = value
    return conf


def write_conf(path, conf):
    parser = configparser.RawConfigParser(default_section="__no_default__")
    parser.optionxform = str
    for section, options in conf.items():
        parser.add_section(section)
        for k, v in options.items():
            parser.set(section, k, v)
    with open(path, "w") as f:
        f.write("# Written by run-gabbits.py for one gabbit file.\n")
        parser.write(f)


# --------------------------------------------------------------------------
# Running one file's tests with gabbi
# --------------------------------------------------------------------------

def one_line(text, limit=300):
    for line in str(text).splitlines():
        line = line.strip()
        if line and not line.startswith("Traceback"):
            return line[:limit]
    return str(text).strip()[:limit]


class Collector(unittest.TestResult):
    """Records each gabbi test's outcome, in file order."""

    def __init__(self):
        super().__init__()
        self.records = []
        self._recorded = set()

    @staticmethod
    def _name(test):
        data = getattr(test, "test_data", None)
        return data["name"] if data else str(test)

    def _add(self, test, outcome, reason=None, detail=None):
        self._recorded.add(id(test))
        self.records.append({"test": self._name(test), "outcome": outcome,
                             "reason": reason, "detail": detail})

    def addSuccess(self, test):
        # gabbi reports an xfail test's outcome itself, then unittest adds a
        # success for the same test: keep the first outcome only.
        if id(test) in self._recorded:
            return
        super().addSuccess(test)
        self._add(test, "passed")

    def _err_text(self, err):
        exc = err[1]
        text = str(exc) or exc.__class__.__name__
        if not isinstance(exc, AssertionError):
            text = "%s: %s" % (exc.__class__.__name__, text)
        return text

    def addFailure(self, test, err):
        super().addFailure(test, err)
        text = self._err_text(err)
        self._add(test, "failed", one_line(text), text[:4000])

    def addError(self, test, err):
        super().addError(test, err)
        text = self._err_text(err)
        self._add(test, "failed", one_line(text), text[:4000])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._add(test, "skipped", one_line(reason))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._add(test, "xfail", one_line(self._err_text(err)))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._add(test, "failed",
                  "unexpected success: the test is marked xfail upstream")


def drop_default_accept():
    """Make gabbi send no Accept header unless a test sets one.

    The gabbits were written for gabbi < 4, whose HTTP client sent no Accept
    header by default; gabbi 4 uses httpx, which adds `Accept: */*`. Gnocchi
    answers an error as HTML (quotes and non-ASCII escaped as entities) when
    the client accepts text/html or anything, and as plain text when it names
    no type, which is what the `response_strings` expectations assume.
    """
    from gabbi import httpclient

    if getattr(httpclient.Http, "_no_default_accept", False):
        return
    original = httpclient.Http.__init__

    def __init__(self, **kwargs):
        original(self, **kwargs)
        self.client.headers.pop("accept", None)

    httpclient.Http.__init__ = __init__
    httpclient.Http._no_default_accept = True


def run_gabbit(path, key, port, verbose):
    from gabbi import handlers, suitemaker

    drop_default_accept()

    suite_dict = load_gabbit(path)
    adapt_suite(key, suite_dict)
    if verbose:
        suite_dict.setdefault("defaults", {})["verbose"] = True
    handler_objects = [h() for h in handlers.RESPONSE_HANDLERS]
    base_name = key.replace("/", "_")[:-len(".yaml")].replace("-", "_")
    loader = unittest.TestLoader()
    suite = suitemaker.test_suite_from_dict(
        loader, base_name, suite_dict, os.path.dirname(path), HOST, port,
        None, None, prefix="", handlers=handler_objects)
    result = Collector()
    suite.run(result)
    return result.records


# --------------------------------------------------------------------------
# Per-file lifecycle
# --------------------------------------------------------------------------

class Target(object):
    """How to prepare and start the server under test."""

    def __init__(self, args):
        self.reference = args.reference
        self.env = dict(os.environ)
        if args.reference:
            venv = args.ref_venv or os.environ.get("REF_VENV")
            if not venv:
                raise HarnessError(
                    "--reference needs the reference virtualenv: set REF_VENV or "
                    "--ref-venv (shared/reference/run-reference.sh install creates one)")
            venv = os.path.abspath(venv)
            for tool in ("gnocchi-api", "gnocchi-metricd", "gnocchi-upgrade"):
                if not os.access(os.path.join(venv, "bin", tool), os.X_OK):
                    raise HarnessError("%s has no bin/%s" % (venv, tool))
            self.env["VIRTUAL_ENV"] = venv
            self.env["PATH"] = os.path.join(venv, "bin") + os.pathsep + self.env.get("PATH", "")
            b = os.path.join(venv, "bin")
            self.upgrade_cmd = (shlex.quote(os.path.join(b, "gnocchi-upgrade")) +
                                " --config-file {conf} --skip-archive-policies-creation")
            self.server_cmd = shlex.quote(os.path.join(b, "gnocchi-api")) + " --config-file {conf}"
            self.metricd_cmd = shlex.quote(os.path.join(b, "gnocchi-metricd")) + " --config-file {conf}"
            self.indexer = "postgresql"
            self.description = "reference gnocchi %s (%s)" % (GNOCCHI_VERSION, venv)
        else:
            if not args.server_cmd:
                raise HarnessError("give --server-cmd TEMPLATE or --reference")
            self.upgrade_cmd = args.upgrade_cmd
            self.server_cmd = args.server_cmd
            self.metricd_cmd = args.metricd_cmd
            self.indexer = args.indexer
            self.description = args.server_cmd
        if args.indexer_url:
            self.indexer = "url"
        self.indexer_url_template = args.indexer_url

    @staticmethod
    def argv(template, values):
        try:
            return [tok.format(**values) for tok in shlex.split(template)]
        except (KeyError, IndexError) as e:
            raise HarnessError("unknown placeholder %s in %r" % (e, template))


def run_file(key, index, args, target, gabbits_root, work_dir, api_ports, db):
    suite = key.split("/", 1)[0]
    path = os.path.join(gabbits_root, *key.split("/"))
    state_dir = os.path.join(work_dir, "%02d-%s" % (index, key.replace("/", "-")[:-5]))
    shutil.rmtree(state_dir, ignore_errors=True)  # left by an earlier --keep-state run
    os.makedirs(os.path.join(state_dir, "storage"))
    os.makedirs(os.path.join(state_dir, "incoming"))
    os.makedirs(os.path.join(state_dir, "logs"))
    dbname = None
    port = api_ports.pick()
    if target.indexer in ("postgresql", "mysql"):
        # The PID keeps runs that share one --pg-url / --mysql-url server apart.
        dbname = "gabbi_%d_%02d_%s" % (os.getpid(), index,
                                       os.path.basename(key)[:-5].replace("-", "_"))
        indexer_url = db.create_db(dbname)
    elif target.indexer == "url":
        indexer_url = target.indexer_url_template.format(state_dir=state_dir)
    else:
        indexer_url = "sqlite:///" + os.path.join(state_dir, "indexer.sqlite")
    conf_path = os.path.join(state_dir, "gnocchi.conf")
    write_conf(conf_path, build_conf(suite, port, state_dir, indexer_url, args.set))
    values = {"conf": conf_path, "port": port, "host": HOST,
              "state_dir": state_dir, "indexer_url": indexer_url}
    servers = []
    result = {"passed": 0, "failed": 0, "skipped": 0, "xfail": 0,
              "failures": [], "passes": [], "error": None}
    started = time.monotonic()
    try:
        if target.upgrade_cmd:
            with open(os.path.join(state_dir, "logs", "upgrade.log"), "wb") as out:
                rc = subprocess.call(Target.argv(target.upgrade_cmd, values),
                                     stdout=out, stderr=subprocess.STDOUT,
                                     env=target.env, timeout=300)
            if rc != 0:
                raise HarnessError("upgrade command exited %d (see %s)" % (
                    rc, os.path.join(state_dir, "logs", "upgrade.log")))
        servers.append(Server("api", Target.argv(target.server_cmd, values),
                              os.path.join(state_dir, "logs", "api.log"), target.env))
        if target.metricd_cmd:
            servers.append(Server("metricd", Target.argv(target.metricd_cmd, values),
                                  os.path.join(state_dir, "logs", "metricd.log"),
                                  target.env))
        deadline = time.monotonic() + args.startup_timeout
        if not wait_http("http://%s:%d/" % (HOST, port), deadline, servers):
            dead = [s for s in servers if not s.running()]
            who = dead[0] if dead else servers[0]
            raise HarnessError("%s did not answer on port %d within %ss%s\n%s" % (
                who.name, port, args.startup_timeout,
                " (it exited with %s)" % who.proc.returncode if dead else "",
                who.tail()))
        records = run_gabbit(path, key, port, args.verbose)
        for s in servers:
            if not s.running():
                log("warning: %s exited during %s:\n%s" % (s.name, key, s.tail()))
    except (HarnessError, OSError, subprocess.SubprocessError) as e:
        # The file could not run: every one of its tests counts as failed.
        result["error"] = str(e)
        n = len(load_gabbit(path).get("tests", []))
        result["failed"] = n
        result["failures"].append({"test": "(all %d tests)" % n, "reason": one_line(e)})
        records = []
    finally:
        for s in reversed(servers):
            s.stop()
        if dbname:
            db.drop_db(dbname)
    for r in records:
        outcome = r["outcome"]
        result["passed" if outcome in ("passed", "xfail") else outcome] += 1
        if outcome in ("passed", "xfail"):
            # gnocchi-rs: the names of passing tests feed the ratcheting gate.
            result["passes"].append(r["test"])
        if outcome == "xfail":
            result["xfail"] += 1
        if outcome == "failed":
            f = {"test": r["test"], "reason": r["reason"]}
            if args.details:
                f["detail"] = r["detail"]
            result["failures"].append(f)
    result["duration_s"] = round(time.monotonic() - started, 1)
    if not args.keep_state:
        shutil.rmtree(state_dir, ignore_errors=True)
    return result


def check_versions(gabbi_version, ignore, here):
    """Refuse client libraries whose semantics differ from what the suites
    expect: jsonpath-ng 1.11 made `[*]` on an object yield its values (the
    gabbits count an object's keys with `.[*].`len``)."""
    from importlib import metadata

    problems = []
    if gabbi_version != GABBI_VERSION:
        problems.append("gabbi %s (want %s)" % (gabbi_version, GABBI_VERSION))
    try:
        jp = metadata.version("jsonpath-ng")
        if tuple(int(x) for x in jp.split(".")[:2]) >= (1, 11):
            problems.append("jsonpath-ng %s (want %s)" % (jp, JSONPATH_NG_VERSION))
    except (metadata.PackageNotFoundError, ValueError):
        pass
    if problems:
        msg = "unexpected versions: %s; install them with: pip install -r %s" % (
            ", ".join(problems), os.path.join(here, "requirements.txt"))
        if not ignore:
            raise HarnessError(msg + " (or pass --ignore-versions)")
        log("warning: " + msg)


def fmt_counts(passed, failed, skipped):
    s = "%d passed, %d failed" % (passed, failed)
    if skipped:
        s += ", %d skipped" % skipped
    return s


def reexec_with_reference_python(args):
    """Without gabbi here, rerun under the reference virtualenv's Python."""
    venv = args.ref_venv or os.environ.get("REF_VENV")
    if not venv or os.environ.get("RUN_GABBITS_REEXEC"):
        return
    python = os.path.join(os.path.abspath(venv), "bin", "python")
    if os.access(python, os.X_OK):
        os.environ["RUN_GABBITS_REEXEC"] = "1"
        os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


def interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(
        description="Run Gnocchi %s's gabbi suites against a server, one fresh "
                    "server per file." % GNOCCHI_VERSION,
        epilog="Placeholders in command templates: {conf} {port} {host} "
               "{state_dir} {indexer_url}. See %s." % os.path.join(here, "README.md"))
    who = p.add_mutually_exclusive_group()
    who.add_argument("--reference", action="store_true",
                     help="test the real Gnocchi from the virtualenv in $REF_VENV")
    who.add_argument("--server-cmd", metavar="TEMPLATE",
                     help="command that runs the API server (e.g. "
                          "'target/release/gnocchi-api --config-file {conf}')")
    p.add_argument("--metricd-cmd", metavar="TEMPLATE",
                   help="command that runs the metric processor, if the API "
                        "command does not")
    p.add_argument("--upgrade-cmd", metavar="TEMPLATE",
                   help="command run to completion before the server starts "
                        "(schema/storage creation; must not create default "
                        "archive policies)")
    p.add_argument("--ref-venv", metavar="DIR",
                   help="reference virtualenv (default: $REF_VENV)")
    p.add_argument("--indexer", choices=("sqlite", "postgresql", "mysql"), default="sqlite",
                   help="indexer for --server-cmd: a fresh SQLite file in the "
                        "state dir (default), a fresh PostgreSQL database or a "
                        "fresh MariaDB/MySQL database; --reference always uses "
                        "PostgreSQL")
    p.add_argument("--indexer-url", metavar="TEMPLATE",
                   help="indexer URL to write instead ({state_dir} is replaced)")
    p.add_argument("--pg-url", metavar="URL",
                   help="use this existing PostgreSQL server (a superuser URL, "
                        "e.g. postgresql://gnocchi@127.0.0.1:15432/postgres) "
                        "instead of starting a private one")
    p.add_argument("--mysql-url", metavar="URL",
                   help="use this existing MariaDB/MySQL server (a URL of a user "
                        "that may create databases, e.g. "
                        "mysql://root@127.0.0.1:3306/gnocchi) instead of starting "
                        "a private one with scripts/mariadb-server")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.OPTION=VALUE",
                   help="add or override an option of the written config file")
    p.add_argument("--suite", choices=("functional", "functional_live", "all"),
                   default="all")
    p.add_argument("--files", action="append", default=[], metavar="NAMES",
                   help="comma-separated gabbit files to run (base, base.yaml or "
                        "functional/base.yaml); repeatable")
    p.add_argument("--list", action="store_true", help="list the gabbit files and exit")
    p.add_argument("--json", metavar="PATH", help="write a JSON report here")
    p.add_argument("--details", action="store_true",
                   help="include each failure's full message in the JSON report")
    p.add_argument("--cache-dir", default=default_cache_dir(),
                   help="where the gnocchi wheel and its gabbits are kept "
                        "(default: $GNOCCHI_CONFORMANCE_CACHE or ~/.cache/gnocchi-conformance)")
    p.add_argument("--work-dir", help="where per-file state goes (default: a temp dir)")
    p.add_argument("--keep-state", action="store_true",
                   help="keep each file's state dir, config and logs")
    p.add_argument("--api-ports", default="18050-18099", metavar="LO-HI")
    p.add_argument("--pg-ports", default="15450-15499", metavar="LO-HI")
    p.add_argument("--startup-timeout", type=float, default=90.0, metavar="S")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print every request and response (gabbi verbose)")
    p.add_argument("--exit-zero", action="store_true",
                   help="exit 0 even when tests fail")
    p.add_argument("--ignore-versions", action="store_true",
                   help="run even with a gabbi or jsonpath-ng other than the pinned ones")
    args = p.parse_args(argv)

    try:
        gabbits_root = ensure_gabbits(args.cache_dir)
        suites = list(SUITES) if args.suite == "all" else [args.suite]
        files = select_files(list_files(gabbits_root, suites), args.files)
        if args.list:
            for f in files:
                print(f)
            return 0
        target = Target(args)
        try:
            import gabbi
        except ImportError:
            reexec_with_reference_python(args)
            raise HarnessError(
                "gabbi is not importable by %s: use a Python with gabbi==%s "
                "(e.g. the reference venv's python, or pip install -r %s)" % (
                    sys.executable, GABBI_VERSION,
                    os.path.join(here, "requirements.txt")))
        version = getattr(gabbi, "__version__", "?")
        check_versions(version, args.ignore_versions, here)
    except HarnessError as e:
        log("run-gabbits: %s" % e)
        return 2

    # A SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C, so servers get stopped.
    signal.signal(signal.SIGTERM, interrupt)
    os.environ["GNOCCHI_AUTHORIZATION"] = LIVE_AUTHORIZATION
    os.environ["GNOCCHI_SERVICE_TOKEN"] = LIVE_SERVICE_TOKEN
    own_work_dir = not args.work_dir
    work_dir = (tempfile.mkdtemp(prefix="gabbi-conformance-") if own_work_dir
                else os.path.abspath(args.work_dir))
    os.makedirs(work_dir, exist_ok=True)
    api_ports = PortPicker(*parse_range(args.api_ports))
    db = None
    report = {"gnocchi_version": GNOCCHI_VERSION, "gabbi_version": version,
              "target": target.description,
              "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "files": {}}
    totals = {"passed": 0, "failed": 0, "skipped": 0, "xfail": 0}
    t0 = time.monotonic()
    interrupted = False
    log("run-gabbits: %d file(s) against %s" % (len(files), target.description))
    try:
        if target.indexer == "postgresql":
            db = PostgresCluster(work_dir, PortPicker(*parse_range(args.pg_ports)),
                                 args.pg_url)
        elif target.indexer == "mysql":
            db = MysqlServer(work_dir, args.mysql_url)
        for i, key in enumerate(files):
            res = run_file(key, i, args, target, gabbits_root, work_dir, api_ports, db)
            report["files"][key] = res
            for k in totals:
                totals[k] += res[k]
            line = "%-48s %s" % (key, fmt_counts(res["passed"], res["failed"], res["skipped"]))
            if res["xfail"]:
                line += " (%d xfail)" % res["xfail"]
            print(line + "  [%.0fs]" % res["duration_s"], flush=True)
            for f in res["failures"]:
                print("    FAIL %s: %s" % (f["test"], f["reason"]), flush=True)
            if res["error"]:
                for line in res["error"].splitlines()[1:]:
                    print("    | " + line, flush=True)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted")
    except HarnessError as e:
        log("run-gabbits: %s" % e)
        interrupted = True
    finally:
        if db:
            db.stop()
        if own_work_dir and not args.keep_state:
            shutil.rmtree(work_dir, ignore_errors=True)
        elif args.keep_state:
            log("state kept in %s" % work_dir)
    report["totals"] = totals
    report["duration_s"] = round(time.monotonic() - t0, 1)
    report["complete"] = not interrupted
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, sort_keys=False)
            f.write("\n")
    print(fmt_counts(totals["passed"], totals["failed"], totals["skipped"]), flush=True)
    if interrupted:
        return 2
    return 0 if args.exit_zero or totals["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
