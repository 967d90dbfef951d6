#!/usr/bin/env python3
"""p50/p99 latency of GET /v1/metric/{id}/measures: basic auth vs keystone with a warm token cache.

    eval "$(scripts/keystone-server start DIR)"
    scripts/bench-keystone-auth.py [--bin DIR] [--requests N]

Starts `gnocchi serve` twice on fresh data directories (once with auth_mode = basic, once with
auth_mode = keystone behind $GNOCCHI_TEST_KEYSTONE_URL), creates one metric with 100 measures,
waits until they are aggregated, then sends N sequential GETs over one keep-alive connection per
mode and prints the percentiles. The first keystone request fills the token cache and is not
counted. Standard library only.
"""
import argparse
import base64
import http.client
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keystone_token(url, user):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": user + "-pass"}}},
        "scope": {"project": {"name": user, "domain": {"id": "default"}}}}}
    req = urllib.request.Request(url + "/v3/auth/tokens?nocatalog", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return r.headers["X-Subject-Token"]


def serve(binary, mode, ks_url):
    d = tempfile.mkdtemp(prefix="gnocchi-bench-")
    data = os.path.join(d, "data")
    os.makedirs(data)
    port = free_port()
    conf = ("[api]\nhost = 127.0.0.1\nauth_mode = %s\n[indexer]\nurl = sqlite:///%s/index.sqlite\n"
            "[storage]\nfile_basepath = %s/storage\n[incoming]\nfile_basepath = %s/incoming\n"
            "[metricd]\nmetric_processing_delay = 1\n" % (mode, data, data, data))
    if mode == "keystone":
        conf += ("[keystone_authtoken]\nauth_url = %s\nusername = gnocchi\npassword = gnocchi-pass\n"
                 "project_name = service\nuser_domain_name = Default\n"
                 "project_domain_name = Default\n" % ks_url)
    path = os.path.join(d, "gnocchi.conf")
    with open(path, "w") as f:
        f.write(conf)
    log = open(os.path.join(d, "server.log"), "wb")
    proc = subprocess.Popen([binary, "serve", "--config-file", path, "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, HOME=d))
    for _ in range(300):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=1)
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server (%s) did not start; see %s" % (mode, d))


def request(conn, method, path, headers, body=None):
    h = dict(headers, **({"Content-Type": "application/json"} if body is not None else {}))
    conn.request(method, path, None if body is None else json.dumps(body), h)
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def measure(port, headers, n):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    status, body = request(conn, "POST", "/v1/metric", headers, {"archive_policy_name": "low"})
    assert status == 201, body
    mid = json.loads(body)["id"]
    points = [{"timestamp": 1700000000 + 60 * i, "value": float(i)} for i in range(100)]
    assert request(conn, "POST", "/v1/metric/%s/measures" % mid, headers, points)[0] == 202
    path = "/v1/metric/%s/measures" % mid
    for _ in range(100):
        status, body = request(conn, "GET", path, headers)
        if status == 200 and json.loads(body):
            break
        time.sleep(0.2)
    request(conn, "GET", path, headers)  # warm-up (fills the token cache in keystone mode)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        status, _ = request(conn, "GET", path, headers)
        times.append(time.perf_counter() - t0)
        assert status == 200
    times.sort()
    return times[len(times) // 2] * 1000, times[int(len(times) * 0.99) - 1] * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "/var/tmp/gnocchi-rs-target"), "debug"))
    ap.add_argument("--requests", type=int, default=1000)
    args = ap.parse_args()
    ks_url = os.environ.get("GNOCCHI_TEST_KEYSTONE_URL")
    if not ks_url:
        raise SystemExit("GNOCCHI_TEST_KEYSTONE_URL is unset (see scripts/keystone-server)")
    binary = os.path.join(args.bin, "gnocchi")
    for mode in ("basic", "keystone"):
        proc, port = serve(binary, mode, ks_url)
        try:
            if mode == "basic":
                headers = {"Authorization": "Basic " + base64.b64encode(b"admin:").decode()}
            else:
                headers = {"X-Auth-Token": keystone_token(ks_url, "admin")}
            p50, p99 = measure(port, headers, args.requests)
            print("%-8s GET /v1/metric/{id}/measures  n=%d  p50 %.2f ms  p99 %.2f ms"
                  % (mode, args.requests, p50, p99))
        finally:
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()
