#!/usr/bin/env bash
# keystone-single-node.sh — (adapted from shared/recipes; driven by scripts/keystone-server) a throwaway OpenStack Keystone (identity v3) on 127.0.0.1, for tests and CI.
#
#   keystone-single-node.sh install                 create $KS_VENV: keystone 30.0.0 + gunicorn, pinned
#   keystone-single-node.sh start                   set up DIR (first time), start the API, create the
#                                                   Gnocchi-style users/projects, print URL + credentials
#   keystone-single-node.sh status                  server (by pidfile) and GET /v3
#   keystone-single-node.sh stop [--purge]          stop exactly the server it started (by pidfile);
#                                                   --purge also deletes DIR (else data is kept)
#   keystone-single-node.sh env [USER]              print export lines: OS_* for USER (default admin)
#                                                   and the ids of every fixture (for eval / source)
#   keystone-single-node.sh token [USER]            print a fresh project-scoped token for USER
#   keystone-single-node.sh authtoken-conf [USER]   print an INI snippet ([api] auth_mode = keystone,
#                                                   [keystone_authtoken]) for a Gnocchi service (gnocchi)
#   REF_VENV=... keystone-single-node.sh gnocchi-ref-conf DIR
#                                                   write DIR/keystone-auth.conf (+ api-paste copy) for the
#                                                   reference Gnocchi; prints its path, for REF_EXTRA_CONF
#
# Keystone runs under gunicorn (gthread workers) with an SQLite database and fernet tokens. Everything
# — keystone.conf, keystone.db, fernet and credential keys, logs, pidfile, fixture ids — lives in DIR;
# nothing is read from or written to /etc/keystone or /var/lib/keystone. Progress goes to stderr; on
# success `start` prints the URL, the users with their passwords, projects, roles and ids to stdout.
# `stop` keeps DIR, so a later `start` brings back the same users, ids and fernet keys (tokens issued
# before stay valid until they expire); `stop --purge` removes it.
#
# Environment (all optional):
#   KS_VENV               virtualenv with keystone            (default ${TMPDIR:-/tmp}/keystone-venv)
#   KS_DIR                data directory                      (default ${TMPDIR:-/tmp}/keystone-single-node)
#   KS_HOST               listen address and URL host         (default 127.0.0.1)
#   KS_PORT               listen port                         (default 25000)
#   KS_REGION             region of the catalog endpoints     (default RegionOne)
#   KS_WORKERS            gunicorn worker processes           (default 1)
#   KS_THREADS            threads per worker                  (default 8)
#   KS_CACHE              1: keystone's in-process cache on (about 20x faster requests; exact only
#                         with one worker, as each worker has its own cache); 0: off
#                                                             (default 1 with one worker, else 0)
#   KS_TOKEN_EXPIRATION   token lifetime in seconds           (default 3600; e.g. 20 to test expiry)
#   KS_BCRYPT_ROUNDS      bcrypt cost of stored passwords     (default 4: fast logins; keystone's is 12)
#   KS_METRIC_URL         URL of the "metric" (gnocchi) service put in the catalog; empty: none
#                                                             (default http://127.0.0.1:8041)
#   KS_ADMIN_PASSWORD KS_GNOCCHI_PASSWORD KS_CEILOMETER_PASSWORD KS_DEMO_PASSWORD KS_ALT_DEMO_PASSWORD
#                         passwords (defaults admin-pass, gnocchi-pass, ceilometer-pass, demo-pass,
#                         alt_demo-pass)
#   KS_TIMEOUT            seconds to wait for the API         (default 60)
#   KS_PYTHON             python used by `install`            (default python3)
set -euo pipefail

die()  { echo "keystone-single-node: error: $*" >&2; exit 1; }
log()  { echo "keystone-single-node: $*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CMD=${1:-}
[ $# -gt 0 ] && shift
PURGE=0
ARG=
while [ $# -gt 0 ]; do
  case "$1" in
    --purge)   PURGE=1; shift ;;
    -h|--help) CMD=help; shift ;;
    -*)        die "unknown option '$1' (try --help)" ;;
    *)         [ -z "$ARG" ] || die "unexpected argument '$1'"; ARG=$1; shift ;;
  esac
done

VENV=${KS_VENV:-${TMPDIR:-/tmp}/keystone-venv}
DIR=${KS_DIR:-${TMPDIR:-/tmp}/keystone-single-node}
HOST=${KS_HOST:-127.0.0.1}
PORT=${KS_PORT:-25000}
REGION=${KS_REGION:-RegionOne}
WORKERS=${KS_WORKERS:-1}
THREADS=${KS_THREADS:-8}
if [ "$WORKERS" = 1 ]; then CACHE=${KS_CACHE:-1}; else CACHE=${KS_CACHE:-0}; fi
EXPIRATION=${KS_TOKEN_EXPIRATION:-3600}
ROUNDS=${KS_BCRYPT_ROUNDS:-4}
METRIC_URL=${KS_METRIC_URL-http://127.0.0.1:8041}
TIMEOUT=${KS_TIMEOUT:-60}
export KS_ADMIN_PASSWORD=${KS_ADMIN_PASSWORD:-admin-pass}
export KS_GNOCCHI_PASSWORD=${KS_GNOCCHI_PASSWORD:-gnocchi-pass}
export KS_CEILOMETER_PASSWORD=${KS_CEILOMETER_PASSWORD:-ceilometer-pass}
export KS_DEMO_PASSWORD=${KS_DEMO_PASSWORD:-demo-pass}
export KS_ALT_DEMO_PASSWORD=${KS_ALT_DEMO_PASSWORD:-alt_demo-pass}
export KS_SWIFT_PASSWORD=${KS_SWIFT_PASSWORD:-swift-pass}
KEYSTONE_VERSION=30.0.0

[ -n "$DIR" ] && [ "$(realpath -m "$DIR")" != / ] || die "refusing data directory '$DIR'"
DIR=$(realpath -m "$DIR")
VENV=$(realpath -m "$VENV")
CONF=$DIR/keystone.conf
MARKER=$DIR/.keystone-single-node
PIDFILE=$DIR/run/keystone.pid
FIXTURES=$DIR/fixtures.json
URL=http://$HOST:$PORT
PY=$VENV/bin/python

# --- the Python side: REST calls to keystone (stdlib only) -----------------------------------
# usage: python -c "$PYHELPER" wait URL TIMEOUT PID | fixtures | token USER | env USER | authtoken USER
# fixtures/token/env/authtoken read KS_URL, KS_DIR, KS_REGION, KS_METRIC_URL and KS_*_PASSWORD.
PYHELPER=$(cat <<'PY'
import json, os, sys, time, urllib.error, urllib.request

URL = os.environ.get("KS_URL", "")
V3 = URL + "/v3"
FIXTURES = os.path.join(os.environ.get("KS_DIR", ""), "fixtures.json")

# name -> (password variable, project, roles on it); admin comes from `keystone-manage bootstrap`.
# Keystone's default roles imply each other: admin -> manager -> member -> reader, so a token of an
# admin lists admin, manager, member and reader, and one of a member lists member and reader.
USERS = {
    "admin":      ("KS_ADMIN_PASSWORD",      "admin",    ["admin"]),
    "gnocchi":    ("KS_GNOCCHI_PASSWORD",    "service",  ["admin", "service"]),
    "ceilometer": ("KS_CEILOMETER_PASSWORD", "service",  ["admin", "service"]),
    "demo":       ("KS_DEMO_PASSWORD",       "demo",     ["member"]),
    "alt_demo":   ("KS_ALT_DEMO_PASSWORD",   "alt_demo", ["member"]),
    # gnocchi-rs: the service role alone (no admin), for the service-role policy rules
    "swift":      ("KS_SWIFT_PASSWORD",      "service",  ["service"]),
}
PROJECTS = {
    "service":  "Service users (gnocchi, ceilometer)",
    "demo":     "A normal tenant",
    "alt_demo": "A second normal tenant (cross-project tests)",
}

def call(method, path, body=None, token=None, ok=(200, 201, 204)):
    req = urllib.request.Request(V3 + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Accept", "application/json")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw, status, headers = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, status, headers = e.read(), e.code, e.headers
    if status not in ok:
        sys.exit("keystone-single-node: %s %s -> %s %s" % (method, path, status, raw[:300].decode("utf-8", "replace")))
    return status, headers, (json.loads(raw) if raw else None)

def password_token(user, password, project):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    _, headers, _ = call("POST", "/auth/tokens", body, ok=(201,))
    return headers["X-Subject-Token"]

def password_works(user, password, project):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    status, _, _ = call("POST", "/auth/tokens", body, ok=(201, 401))
    return status == 201

def find(token, collection, **query):
    qs = "&".join("%s=%s" % kv for kv in query.items())
    _, _, body = call("GET", "/%s?%s" % (collection, qs), token=token)
    items = body[collection]
    return items[0] if items else None

def ensure_fixtures():
    admin = password_token("admin", os.environ["KS_ADMIN_PASSWORD"], "admin")
    out = {"auth_url": V3, "www_authenticate_uri": URL, "region": os.environ["KS_REGION"],
           "domain": {"id": "default", "name": "Default"}, "roles": {}, "projects": {}, "users": {}}
    for role in ("admin", "manager", "member", "reader", "service"):
        r = find(admin, "roles", name=role)
        if r is None:
            r = call("POST", "/roles", {"role": {"name": role}}, admin)[2]["role"]
        out["roles"][role] = r["id"]
    out["projects"]["admin"] = find(admin, "projects", name="admin")["id"]
    for name, desc in PROJECTS.items():
        p = find(admin, "projects", name=name, domain_id="default")
        if p is None:
            p = call("POST", "/projects", {"project": {"name": name, "domain_id": "default",
                                                       "description": desc, "enabled": True}}, admin)[2]["project"]
        out["projects"][name] = p["id"]
    for name, (var, project, roles) in USERS.items():
        password = os.environ[var]
        u = find(admin, "users", name=name, domain_id="default")
        if u is None:
            u = call("POST", "/users", {"user": {"name": name, "domain_id": "default", "enabled": True,
                                                 "password": password,
                                                 "default_project_id": out["projects"][project]}}, admin)[2]["user"]
        elif name != "admin" and not (u.get("enabled") and password_works(name, password, project)):
            # A PATCH revokes the user's tokens issued in the same second: only when needed, so a
            # restart leaves tokens obtained right after it valid.
            call("PATCH", "/users/" + u["id"], {"user": {"password": password, "enabled": True}}, admin)
        pid = out["projects"][project]
        for role in roles:
            call("PUT", "/projects/%s/users/%s/roles/%s" % (pid, u["id"], out["roles"][role]), token=admin)
        out["users"][name] = {"id": u["id"], "password": password, "project": project,
                              "project_id": pid, "roles": roles}
    # the metric service (what ceilometer and clients look up in the catalog)
    metric_url = os.environ.get("KS_METRIC_URL", "")
    if metric_url:
        s = find(admin, "services", type="metric")
        if s is None:
            s = call("POST", "/services", {"service": {"type": "metric", "name": "gnocchi",
                                                       "description": "Metric Service", "enabled": True}}, admin)[2]["service"]
        _, _, eps = call("GET", "/endpoints?service_id=" + s["id"], token=admin)
        have = {e["interface"]: e for e in eps["endpoints"]}
        for iface in ("public", "internal", "admin"):
            e = have.get(iface)
            if e is None:
                call("POST", "/endpoints", {"endpoint": {"service_id": s["id"], "interface": iface,
                                                         "region_id": out["region"], "url": metric_url,
                                                         "enabled": True}}, admin)
            elif e["url"] != metric_url:
                call("PATCH", "/endpoints/" + e["id"], {"endpoint": {"url": metric_url}}, admin)
        out["metric_url"] = metric_url
    tmp = FIXTURES + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
    os.replace(tmp, FIXTURES)
    return out

def load():
    try:
        with open(FIXTURES) as f:
            return json.load(f)
    except OSError:
        sys.exit("keystone-single-node: no %s: run start first" % FIXTURES)

def user_of(fx, name):
    if name not in fx["users"]:
        sys.exit("keystone-single-node: unknown user '%s' (one of: %s)" % (name, " ".join(fx["users"])))
    return fx["users"][name]

def print_env(fx, name):
    u = user_of(fx, name)
    lines = [("OS_AUTH_URL", fx["auth_url"]), ("OS_AUTH_TYPE", "password"), ("OS_IDENTITY_API_VERSION", "3"),
             ("OS_USERNAME", name), ("OS_PASSWORD", u["password"]), ("OS_PROJECT_NAME", u["project"]),
             ("OS_USER_DOMAIN_NAME", "Default"), ("OS_PROJECT_DOMAIN_NAME", "Default"),
             ("OS_REGION_NAME", fx["region"]), ("KS_AUTH_URL", fx["auth_url"])]
    for n, x in sorted(fx["users"].items()):
        lines += [("KS_%s_USER_ID" % n.upper(), x["id"]), ("KS_%s_PROJECT_ID" % n.upper(), x["project_id"])]
    for n, rid in sorted(fx["roles"].items()):
        lines.append(("KS_ROLE_%s_ID" % n.upper(), rid))
    for n, v in lines:
        print("export %s=%s" % (n, v))

def wait(url, timeout, pid):
    deadline = time.time() + float(timeout)
    while time.time() < deadline:
        try:
            os.kill(int(pid), 0)
        except OSError:
            sys.exit(1)
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.3)
    sys.exit(2)

cmd = sys.argv[1]
if cmd == "wait":
    wait(*sys.argv[2:5])
elif cmd == "fixtures":
    ensure_fixtures()
elif cmd == "token":
    fx = load(); u = user_of(fx, sys.argv[2])
    V3 = fx["auth_url"]  # the keystone that made DIR, whatever KS_HOST/KS_PORT say now
    print(password_token(sys.argv[2], u["password"], u["project"]))
elif cmd == "env":
    print_env(load(), sys.argv[2])
elif cmd == "authtoken":
    fx = load(); u = user_of(fx, sys.argv[2])
    paste = sys.argv[3] if len(sys.argv) > 3 else ""
    print("# Gnocchi (or any keystonemiddleware service) behind the keystone at %s" % fx["www_authenticate_uri"])
    print("[api]\nauth_mode = keystone")
    if paste:
        print("paste_config = %s" % paste)
    print("""
[keystone_authtoken]
auth_type = password
auth_url = %s
www_authenticate_uri = %s
project_domain_name = Default
user_domain_name = Default
project_name = %s
username = %s
password = %s
region_name = %s""" % (fx["www_authenticate_uri"], fx["www_authenticate_uri"],
                        u["project"], sys.argv[2], u["password"], fx["region"]))
elif cmd == "summary":
    fx = load()
    print("Keystone running: %s  (identity v3: %s, region %s, domain Default)" % (URL, fx["auth_url"], fx["region"]))
    print("  %-11s %-16s %-9s %-14s %-33s %s" % ("user", "password", "project", "roles", "user id", "project id"))
    for n, u in fx["users"].items():
        print("  %-11s %-16s %-9s %-14s %-33s %s" % (n, u["password"], u["project"], ",".join(u["roles"]), u["id"], u["project_id"]))
    print("  roles: " + ", ".join("%s=%s" % kv for kv in sorted(fx["roles"].items())))
    if fx.get("metric_url"):
        print("  catalog: identity %s, metric (gnocchi) %s" % (fx["auth_url"], fx["metric_url"]))
    else:
        print("  catalog: identity %s" % fx["auth_url"])
else:
    sys.exit("unknown helper command " + cmd)
PY
)

py_() { KS_URL=$URL KS_DIR=$DIR KS_REGION=$REGION KS_METRIC_URL=$METRIC_URL "$PY" -c "$PYHELPER" "$@"; }

# --- helpers ---------------------------------------------------------------------------------
require_venv() {
  [ -x "$VENV/bin/keystone-manage" ] && [ -x "$VENV/bin/gunicorn" ] ||
    die "no keystone in KS_VENV=$VENV: create it with: KS_VENV=$VENV $0 install"
}

# pid of the server we started, only if it is alive and really is a gunicorn working in this DIR
server_pid() {
  local pid
  [ -s "$PIDFILE" ] || return 1
  pid=$(tr -dc 0-9 <"$PIDFILE")
  [ -n "$pid" ] && is_our_gunicorn "$pid" && echo "$pid"
}

is_our_gunicorn() {
  [ -r "/proc/$1/cmdline" ] && [ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$DIR" ] &&
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q gunicorn
}

children() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true; }

port_busy() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

stop_server() {  # TERM, wait, then KILL — only the PID from our pidfile and the workers it had
  local pid kids _
  pid=$(server_pid) || { rm -f "$PIDFILE"; return 0; }
  kids=$(children "$pid")
  log "stopping keystone (gunicorn master pid $pid, workers: $(echo "$kids" | tr '\n' ' '))"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  for p in $pid $kids; do
    if kill -0 "$p" 2>/dev/null && is_our_gunicorn "$p"; then
      log "pid $p did not exit in 10s, killing"; kill -KILL "$p" 2>/dev/null || true
    fi
  done
  rm -f "$PIDFILE"
}

write_conf() {
  cat >"$CONF" <<CONF
# written by keystone-single-node.sh at each start — throwaway keystone, loopback only
[DEFAULT]
debug = false
log_dir = $DIR/log
log_file = keystone.log
use_stderr = false
public_endpoint = $URL

[database]
connection = sqlite:///$DIR/keystone.db

[token]
provider = fernet
expiration = $EXPIRATION

[fernet_tokens]
key_repository = $DIR/fernet-keys
max_active_keys = 3

[fernet_receipts]
key_repository = $DIR/fernet-keys

[credential]
key_repository = $DIR/credential-keys

[identity]
password_hash_algorithm = bcrypt
password_hash_rounds = $ROUNDS

[cache]
# in-process (per worker) cache: keystone invalidates it itself on every change and revocation,
# which is exact as long as there is one worker
enabled = $([ "$CACHE" = 1 ] && echo true || echo false)
backend = dogpile.cache.memory

[oslo_messaging_notifications]
driver = noop
CONF
}

write_gunicorn_conf() {
  cat >"$DIR/gunicorn.conf.py" <<GCONF
# written by keystone-single-node.sh at each start
wsgi_app = "keystone.wsgi.api:application"
bind = ["$HOST:$PORT"]
workers = $WORKERS
worker_class = "gthread"
threads = $THREADS
timeout = 120
graceful_timeout = 5
proc_name = "keystone-single-node"
raw_env = ["OS_KEYSTONE_CONFIG_DIR=$DIR"]
accesslog = "$DIR/log/access.log"
errorlog = "$DIR/log/gunicorn.log"
GCONF
}

show_logs() {
  local f
  for f in "$DIR/log/keystone.log" "$DIR/log/gunicorn.log" "$DIR/log/setup.log"; do
    [ -s "$f" ] && { printf -- '----- %s\n' "$f" >&2; grep -E 'ERROR|CRITICAL|Traceback|Error' "$f" | tail -n 8 >&2 || tail -n 8 "$f" >&2; }
  done
  return 0
}

# --- subcommands -----------------------------------------------------------------------------
cmd_install() {
  local py=${KS_PYTHON:-python3}
  [ -f "$here/keystone-constraints.txt" ] || die "keystone-constraints.txt not found beside $0"
  [ -x "$VENV/bin/python" ] || "$py" -m venv "$VENV" || die "cannot create a venv with $py (apt-get install python3-venv)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "keystone==$KEYSTONE_VERSION" gunicorn -c "$here/keystone-constraints.txt"
  "$VENV/bin/keystone-manage" --version >/dev/null 2>&1 || die "installed keystone-manage does not run"
  log "keystone $("$VENV/bin/keystone-manage" --version 2>/dev/null) and gunicorn $("$VENV/bin/gunicorn" --version 2>&1 | awk '{print $NF}' | tr -d '()') in $VENV"
}

cmd_start() {
  require_venv
  if [ -e "$MARKER" ] && server_pid >/dev/null; then
    log "keystone in $DIR is already running (pid $(server_pid)); reusing it"
    py_ fixtures
    py_ summary
    return 0
  fi
  if [ ! -e "$MARKER" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    die "$DIR is not empty and was not made by this script; give another directory (KS_DIR)"
  fi
  port_busy && die "port $HOST:$PORT is already in use (another keystone? set KS_PORT)"

  local t0=$SECONDS fresh=0
  mkdir -p "$DIR/run" "$DIR/log" || die "cannot create directory '$DIR'"
  [ -e "$MARKER" ] || { echo "made by keystone-single-node.sh" >"$MARKER"; fresh=1; }
  write_conf
  trap 'rc=$?; if [ $rc -ne 0 ]; then log "start failed (exit $rc); stopping what was started; logs in $DIR/log"; show_logs; stop_server; fi' EXIT

  local km=("$VENV/bin/keystone-manage" --config-file "$CONF") sig
  bootstrap_() {
    "${km[@]}" bootstrap --bootstrap-username admin --bootstrap-password "$KS_ADMIN_PASSWORD" \
      --bootstrap-project-name admin --bootstrap-role-name admin --bootstrap-service-name keystone \
      --bootstrap-region-id "$REGION" --bootstrap-public-url "$URL/v3" \
      --bootstrap-internal-url "$URL/v3" --bootstrap-admin-url "$URL/v3" >>"$DIR/log/setup.log" 2>&1 ||
      die "keystone-manage bootstrap failed (see $DIR/log/setup.log)"
  }
  # what db_sync + bootstrap depend on; a restart with the same skips them (they cost ~10 s)
  sig="setup=$KEYSTONE_VERSION $URL $REGION $(printf %s "$KS_ADMIN_PASSWORD" | sha256sum | cut -c1-16)"
  if ! grep -q '^bootstrapped' "$MARKER"; then
    log "db_sync, fernet_setup, credential_setup, bootstrap"
    "${km[@]}" db_sync >>"$DIR/log/setup.log" 2>&1 || die "keystone-manage db_sync failed (see $DIR/log/setup.log)"
    "${km[@]}" fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" >>"$DIR/log/setup.log" 2>&1 ||
      die "keystone-manage fernet_setup failed (see $DIR/log/setup.log)"
    "${km[@]}" credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" >>"$DIR/log/setup.log" 2>&1 ||
      die "keystone-manage credential_setup failed (see $DIR/log/setup.log)"
    bootstrap_
    printf 'bootstrapped\n%s\n' "$sig" >>"$MARKER"
    log "database and keys ready ($((SECONDS - t0))s)"
  elif ! grep -qxF "$sig" "$MARKER"; then
    # same DIR, other keystone version, URL, region or admin password: migrate, re-assert admin + endpoints
    log "db_sync, bootstrap (settings changed since this directory was set up)"
    "${km[@]}" db_sync >>"$DIR/log/setup.log" 2>&1 || die "keystone-manage db_sync failed (see $DIR/log/setup.log)"
    bootstrap_
    sed -i '/^setup=/d' "$MARKER"; echo "$sig" >>"$MARKER"
  fi

  # Keystone's oslo.config parses the process's command line, so gunicorn gets no arguments at all:
  # it reads ./gunicorn.conf.py from its working directory, DIR. setsid: detach from the caller's
  # terminal so a Ctrl-C there does not reach the server.
  write_gunicorn_conf
  (cd "$DIR" && OS_KEYSTONE_CONFIG_DIR=$DIR exec nohup setsid "$VENV/bin/gunicorn" \
     >>"$DIR/log/gunicorn.log" 2>&1 </dev/null) &
  echo $! >"$PIDFILE"
  local rc=0
  py_ wait "$URL/v3" "$TIMEOUT" "$(cat "$PIDFILE")" || rc=$?
  case $rc in
    0) ;;
    1) die "gunicorn exited during start" ;;
    *) die "keystone did not answer GET $URL/v3 within ${TIMEOUT}s" ;;
  esac
  log "API up ($((SECONDS - t0))s)"
  py_ fixtures
  trap - EXIT
  log "keystone ready in $((SECONDS - t0))s$([ $fresh = 1 ] && echo ' (fresh data directory)')"
  py_ summary
  echo "  fixture ids: $FIXTURES   exports: $0 env [USER]   token: $0 token [USER]"
  echo "  logs: $DIR/log   stop: $0 stop [--purge]"
}

# The reference Gnocchi behind this keystone. keystonemiddleware, as Gnocchi's api-paste.ini loads it,
# reads [keystone_authtoken] from the default config locations (/etc/gnocchi/gnocchi.conf, ...), not
# from gnocchi-api's --config-file; so this writes a copy of the installed api-paste.ini whose
# auth_token filter names our file (oslo_config_file), and a config file that selects it.
cmd_gnocchi_ref_conf() {
  local out=$ARG venv=${REF_VENV:-} paste
  [ -n "$out" ] || die "usage: REF_VENV=PATH $0 gnocchi-ref-conf DIR"
  [ -n "$venv" ] || die "REF_VENV is not set (the reference Gnocchi virtualenv)"
  paste=$(ls "$venv"/lib/python3*/site-packages/gnocchi/rest/api-paste.ini 2>/dev/null | head -n1)
  [ -n "$paste" ] || die "no gnocchi/rest/api-paste.ini in REF_VENV=$venv"
  "$venv/bin/python" -c 'import keystonemiddleware' 2>/dev/null ||
    die "keystonemiddleware is not installed in $venv (pip install keystonemiddleware==13.0.1)"
  mkdir -p "$out"; out=$(cd "$out" && pwd)
  py_ authtoken gnocchi "$out/api-paste-keystone.ini" >"$out/keystone-auth.conf"
  awk -v f="$out/keystone-auth.conf" '
    /^\[/ { sect = $0 }
    { print }
    sect == "[filter:keystone_authtoken]" && /^oslo_config_project/ { print "oslo_config_file = " f }
  ' "$paste" >"$out/api-paste-keystone.ini"
  grep -q '^oslo_config_file' "$out/api-paste-keystone.ini" || die "unexpected layout of $paste"
  log "wrote $out/keystone-auth.conf and $out/api-paste-keystone.ini"
  echo "$out/keystone-auth.conf"
}

cmd_status() {
  local pid rc=0
  if pid=$(server_pid); then
    echo "keystone: running, gunicorn master pid $pid, workers $(children "$pid" | tr '\n' ' ')"
    if "$PY" - "$URL/v3" <<'PY'
import sys, urllib.request, json
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    v = json.load(r)["version"]
    print("api: %s %s (%s)" % (sys.argv[1], v["id"], v["status"]))
PY
    then :; else echo "api: $URL/v3 not answering"; rc=3; fi
  else
    echo "keystone: not running"; rc=3
  fi
  echo "data: $DIR$([ -e "$MARKER" ] || echo ' (not created)')"
  return $rc
}

cmd_stop() {
  if [ ! -e "$MARKER" ]; then
    log "no keystone in $DIR; nothing to stop"
    return 0
  fi
  stop_server
  if [ "$PURGE" = 1 ]; then
    rm -rf --one-file-system "$DIR"
    log "stopped; removed $DIR"
  else
    log "stopped; data kept in $DIR (remove with: $0 stop --purge)"
  fi
}

case "$CMD" in
  install) cmd_install ;;
  start)   cmd_start ;;
  status)  cmd_status ;;
  stop)    cmd_stop ;;
  env)     [ -x "$PY" ] || die "no venv at $VENV"; py_ env "${ARG:-admin}" ;;
  token)   [ -x "$PY" ] || die "no venv at $VENV"; py_ token "${ARG:-admin}" ;;
  authtoken-conf) [ -x "$PY" ] || die "no venv at $VENV"; py_ authtoken "${ARG:-gnocchi}" ;;
  gnocchi-ref-conf) [ -x "$PY" ] || die "no venv at $VENV"; cmd_gnocchi_ref_conf ;;
  help|-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
