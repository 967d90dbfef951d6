"""python-gnocchiclient with Keystone password auth (`--os-auth-type password`) against
gnocchi-rs in `auth_mode = keystone`.

Needs the Keystone of `eval "$(scripts/keystone-server start DIR)"` (GNOCCHI_TEST_KEYSTONE_URL);
skipped without it, failed without it under GNOCCHI_REQUIRE_KEYSTONE=1. Users and passwords are
the ones scripts/keystone-server creates (<name>-pass).
"""
import json
import os
import uuid

import pytest

from conftest import client_cli, run_cli, serving

KEYSTONE_URL = os.environ.get("GNOCCHI_TEST_KEYSTONE_URL")

if not KEYSTONE_URL:
    if os.environ.get("GNOCCHI_REQUIRE_KEYSTONE") == "1":
        raise RuntimeError("GNOCCHI_REQUIRE_KEYSTONE=1 but GNOCCHI_TEST_KEYSTONE_URL is unset")
    pytest.skip("GNOCCHI_TEST_KEYSTONE_URL is unset (see scripts/keystone-server)",
                allow_module_level=True)

CONFIG = """
[api]
host = 127.0.0.1
auth_mode = keystone
[indexer]
url = sqlite:///{data}/index.sqlite
[storage]
file_basepath = {data}/storage
[incoming]
file_basepath = {data}/incoming
[metricd]
metric_processing_delay = 1
[keystone_authtoken]
auth_type = password
auth_url = %(url)s
www_authenticate_uri = %(url)s
project_domain_name = Default
user_domain_name = Default
project_name = service
username = gnocchi
password = gnocchi-pass
region_name = RegionOne
""" % {"url": KEYSTONE_URL}


@pytest.fixture(scope="module")
def server():
    yield from serving(CONFIG)


@pytest.fixture(scope="module")
def cli(server):
    def run(user, *args, ok=True):
        project = "service" if user in ("gnocchi", "ceilometer", "swift") else user
        base = [client_cli(), "--os-auth-type", "password",
                "--os-auth-url", KEYSTONE_URL + "/v3", "--os-username", user,
                "--os-password", user + "-pass", "--os-project-name", project,
                "--os-user-domain-name", "Default", "--os-project-domain-name", "Default",
                "--endpoint", server.endpoint]
        return run_cli(base, args, ok)

    return run


def js(out):
    return json.loads(out)


def test_archive_policy_commands(cli):
    names = cli("demo", "archive-policy", "list", "-f", "value", "-c", "name").split()
    assert sorted(names) == ["bool", "high", "low", "medium"]
    cli("admin", "archive-policy", "create", "ks-e2e", "-d", "granularity:1s,points:60")
    shown = js(cli("demo", "archive-policy", "show", "ks-e2e", "-f", "json"))
    assert shown["name"] == "ks-e2e"
    # A member may not create or delete archive policies (default policy).
    err = cli("demo", "archive-policy", "delete", "ks-e2e", ok=False)
    assert "403" in err or "Forbidden" in err or "denied" in err.lower(), err
    cli("admin", "archive-policy", "delete", "ks-e2e")


def test_metric_commands(cli):
    m = js(cli("demo", "metric", "create", "-a", "low", "cpu", "-f", "json"))
    assert m["name"] == "cpu"
    # creator is "<user id>:<project id>" of the demo token
    assert ":" in m["creator"] and not m["creator"].endswith(":")
    cli("demo", "measures", "add", "-m", "2026-12-01T12:00:00@4", "-m", "2026-12-01T12:05:00@6",
        m["id"])
    assert js(cli("demo", "metric", "show", m["id"], "-f", "json"))["id"] == m["id"]
    ids = [x["id"] for x in js(cli("demo", "metric", "list", "-f", "json"))]
    assert m["id"] in ids
    # another project neither reads nor deletes it
    cli("alt_demo", "metric", "show", m["id"], ok=False)
    cli("alt_demo", "metric", "delete", m["id"], ok=False)
    cli("demo", "metric", "delete", m["id"])


def test_resource_commands(cli):
    rid = str(uuid.uuid4())
    r = js(cli("demo", "resource", "create", rid, "-n", "cpu.util:low", "-f", "json"))
    assert r["id"] == rid
    assert rid in [x["id"] for x in js(cli("demo", "resource", "list", "-f", "json"))]
    assert rid not in [x["id"] for x in js(cli("alt_demo", "resource", "list", "-f", "json"))]
    assert rid in [x["id"] for x in js(cli("admin", "resource", "list", "-f", "json"))]
    found = js(cli("alt_demo", "resource", "search", "id=%s" % rid, "-f", "json"))
    assert found == []
    cli("alt_demo", "resource", "show", rid, ok=False)
    cli("demo", "resource", "delete", rid)
