"""python-gnocchiclient's `gnocchi` CLI (cliff formatters) against a fresh gnocchi-rs server.

The client CLI is called by absolute path (our Rust binary is also named `gnocchi`).
Expected values come from the spec (shared/spec/api.md §4-§9): the embedded default creates
the archive policies bool/low/medium/high and the rule default -> low (§4.7); a fresh
database has exactly one resource type, `generic` (§8.4).
"""
import json
import uuid

import pytest

from conftest import client_cli, run_cli

RESOURCE_ID_NS = uuid.UUID("0a7a15ff-aa13-4ac2-897c-9bdf30ce175b")


@pytest.fixture(scope="module")
def cli(server):
    base = [client_cli(), "--os-auth-type", "gnocchi-basic", "--user", "admin",
            "--endpoint", server.endpoint]

    def run(*args, ok=True):
        return run_cli(base, args, ok)

    return run


def lines(out):
    return out.splitlines()


def js(out):
    return json.loads(out)


# Runs first in this module: the server is fresh.
def test_fresh_server_listings(cli):
    assert lines(cli("resource-type", "list", "-f", "value", "-c", "name")) == ["generic"]
    assert sorted(lines(cli("archive-policy", "list", "-f", "value", "-c", "name"))) == [
        "bool", "high", "low", "medium"]
    assert lines(cli("archive-policy-rule", "list", "-f", "value")) == ["default low *"]
    assert lines(cli("metric", "list", "-f", "value")) == []
    assert lines(cli("resource", "list", "-f", "value")) == []
    # The table formatter, whole output.
    assert lines(cli("resource-type", "list")) == [
        "+---------+------------+",
        "| name    | attributes |",
        "+---------+------------+",
        "| generic |            |",
        "+---------+------------+",
    ]
    assert js(cli("resource-type", "list", "-f", "json")) == [
        {"name": "generic", "attributes": ""}]
    assert js(cli("resource-type", "show", "generic", "-f", "json")) == {
        "name": "generic", "state": "active"}
    err = cli("resource-type", "delete", "generic", ok=False)
    assert "Resource type generic is still in use" in err


def test_default_archive_policies(cli):
    low = js(cli("archive-policy", "show", "low", "-f", "json"))
    assert low["name"] == "low"
    assert low["back_window"] == 0
    assert sorted(low["aggregation_methods"]) == sorted(
        ["mean", "min", "max", "sum", "std", "count"])
    # show -f json keeps the raw definition list.
    assert low["definition"] == [
        {"granularity": "0:05:00", "points": 8640, "timespan": "30 days, 0:00:00"}]
    bool_ap = js(cli("archive-policy", "show", "bool", "-f", "json"))
    assert bool_ap["back_window"] == 3600
    assert bool_ap["aggregation_methods"] == ["last"]
    assert bool_ap["definition"] == [
        {"granularity": "0:00:01", "points": 31536000, "timespan": "365 days, 0:00:00"}]
    high = js(cli("archive-policy", "show", "high", "-f", "json"))
    assert [d["granularity"] for d in high["definition"]] == ["0:00:01", "0:01:00", "1:00:00"]
    assert [d["points"] for d in high["definition"]] == [3600, 10080, 8760]


def test_archive_policy_create_show_delete(cli):
    out = js(cli("archive-policy", "create", "cli-ap",
                 "-d", "granularity:1s,points:60", "-d", "granularity:1m,timespan:1h",
                 "-b", "2", "-m", "mean", "-m", "max", "-f", "json"))
    assert out["name"] == "cli-ap"
    assert out["back_window"] == 2
    assert sorted(out["aggregation_methods"]) == ["max", "mean"]
    # §4.2: g,p -> t = g*p; g,t -> p = t/g; order kept.
    assert out["definition"] == [
        {"granularity": "0:00:01", "points": 60, "timespan": "0:01:00"},
        {"granularity": "0:01:00", "points": 60, "timespan": "1:00:00"},
    ]
    assert lines(cli("archive-policy", "show", "cli-ap", "-f", "value",
                     "-c", "name", "-c", "back_window")) == ["cli-ap", "2"]
    assert "cli-ap" in lines(cli("archive-policy", "list", "-f", "value", "-c", "name"))
    err = cli("archive-policy", "create", "cli-ap", "-d", "granularity:1s,points:60", ok=False)
    assert "Archive policy cli-ap already exists" in err
    # update: only retention may change.
    upd = js(cli("archive-policy", "update", "cli-ap", "-d", "granularity:1s,points:120",
                 "-d", "granularity:1m,points:30", "-f", "json"))
    assert [d["points"] for d in upd["definition"]] == [120, 30]
    assert cli("archive-policy", "delete", "cli-ap") == ""
    err = cli("archive-policy", "show", "cli-ap", ok=False)
    assert "Archive policy cli-ap does not exist" in err


def test_archive_policy_rule_create_show_rename_delete(cli):
    cli("archive-policy", "create", "cli-rule-ap", "-d", "granularity:1m,points:10")
    out = js(cli("archive-policy-rule", "create", "cli-rule", "-a", "cli-rule-ap",
                 "-m", "cli.*", "-f", "json"))
    assert out == {"name": "cli-rule", "archive_policy_name": "cli-rule-ap",
                   "metric_pattern": "cli.*"}
    # §5.2: ordered by metric_pattern descending: "cli.*" > "*".
    assert lines(cli("archive-policy-rule", "list", "-f", "value", "-c", "name")) == [
        "cli-rule", "default"]
    assert lines(cli("archive-policy-rule", "show", "cli-rule", "-f", "value",
                     "-c", "metric_pattern")) == ["cli.*"]
    # The rule picks the policy of a metric created without one.
    m = js(cli("metric", "create", "cli.matched", "-f", "json"))
    assert m["archive_policy_name"] == "cli-rule-ap"
    m2 = js(cli("metric", "create", "other", "-f", "json"))
    assert m2["archive_policy_name"] == "low"
    # A policy used by a rule (and metrics) cannot be deleted (§4.6).
    err = cli("archive-policy", "delete", "cli-rule-ap", ok=False)
    assert "Archive policy cli-rule-ap is still in use" in err
    renamed = js(cli("archive-policy-rule", "update", "cli-rule", "--name", "cli-rule2",
                     "-f", "json"))
    assert renamed["name"] == "cli-rule2"
    assert cli("archive-policy-rule", "delete", "cli-rule2") == ""
    err = cli("archive-policy-rule", "show", "cli-rule2", ok=False)
    assert "Archive policy rule cli-rule2 does not exist" in err
    assert lines(cli("archive-policy-rule", "list", "-f", "value", "-c", "name")) == ["default"]
    cli("metric", "delete", m["id"], m2["id"])


def test_metric_create_list_show_delete_and_measures(cli):
    m = js(cli("metric", "create", "-a", "low", "--unit", "ms", "cli.metric", "-f", "json"))
    mid = m["id"]
    assert str(uuid.UUID(mid)) == mid
    assert m["name"] == "cli.metric"
    assert m["unit"] == "ms"
    assert m["archive_policy_name"] == "low"
    assert m["resource_id"] is None
    assert m["creator"] == "admin"

    assert mid in lines(cli("metric", "list", "-f", "value", "-c", "id"))
    show = js(cli("metric", "show", mid, "-f", "json"))
    assert show["id"] == mid
    assert show["name"] == "cli.metric"
    assert show["archive_policy/name"] == "low"
    assert lines(cli("metric", "show", mid, "-f", "value", "-c", "unit")) == ["ms"]

    assert cli("measures", "add", "-m", "2026-12-01T12:00:00@10",
               "-m", "2026-12-01T12:02:00@20", "-m", "2026-12-01T12:06:00@5.5", mid) == ""
    out = cli("measures", "show", "--refresh", mid, "-f", "value")
    assert lines(out) == [
        "2026-12-01T12:00:00+00:00 300.0 15.0",
        "2026-12-01T12:05:00+00:00 300.0 5.5",
    ]
    out = js(cli("measures", "show", "--refresh", "--aggregation", "max",
                 "--start", "2026-12-01T12:05:00", mid, "-f", "json"))
    assert out == [{"timestamp": "2026-12-01T12:05:00+00:00", "granularity": 300.0,
                    "value": 5.5}]
    out = lines(cli("measures", "show", "--refresh", "--aggregation", "count", mid,
                    "-f", "value", "-c", "value"))
    assert out == ["2.0", "1.0"]
    err = cli("measures", "show", "--aggregation", "last", mid, ok=False)
    # §6.7: 404 with an object description, which the client prints as a dict.
    assert "'cause': 'Aggregation method does not exist for this metric'" in err
    assert "'aggregation_method': 'last'" in err
    assert "(HTTP 404)" in err

    assert cli("metric", "delete", mid) == ""
    err = cli("metric", "show", mid, ok=False)
    assert "Metric %s does not exist" % mid in err
    assert mid not in lines(cli("metric", "list", "-f", "value", "-c", "id"))


def test_resource_type_create_list_show_delete(cli):
    out = js(cli("resource-type", "create", "cli_type",
                 "-a", "host:string:true:max_length=64",
                 "-a", "cores:number:false:min=1", "-f", "json"))
    assert out["name"] == "cli_type"
    assert out["state"] == "active"
    assert lines(cli("resource-type", "list", "-f", "value", "-c", "name")) == [
        "cli_type", "generic"]
    show = js(cli("resource-type", "show", "cli_type", "-f", "json"))
    assert show["name"] == "cli_type"
    assert show["state"] == "active"
    # The CLI flattens attributes as attributes/<name> = "key=value, ..." (keys sorted).
    assert show["attributes/host"] == "max_length=64, min_length=0, required=True, type=string"
    assert show["attributes/cores"] == "max=None, min=1, required=False, type=number"
    err = cli("resource-type", "create", "cli_type", ok=False)
    assert "Resource type cli_type already exists" in err

    updated = js(cli("resource-type", "update", "cli_type",
                     "-a", "zone:string:false", "-r", "cores", "-f", "json"))
    assert "attributes/zone" in updated
    assert "attributes/cores" not in updated

    assert cli("resource-type", "delete", "cli_type") == ""
    assert lines(cli("resource-type", "list", "-f", "value", "-c", "name")) == ["generic"]
    err = cli("resource-type", "show", "cli_type", ok=False)
    assert "Resource type cli_type does not exist" in err


def test_resource_create_show_update_list_delete(cli):
    cli("resource-type", "create", "cli_host", "-a", "hostname:string:true")
    rid = "cli-host-1"
    expected_id = str(uuid.uuid5(RESOURCE_ID_NS, rid + "\x00admin"))
    out = js(cli("resource", "create", "--type", "cli_host", "-a", "hostname:h1",
                 "-a", "project_id:p1", "-n", "load:low", rid, "-f", "json"))
    assert out["id"] == expected_id
    assert out["original_resource_id"] == rid
    assert out["type"] == "cli_host"
    assert out["hostname"] == "h1"
    assert out["project_id"] == "p1"
    assert out["creator"] == "admin"
    assert list(out["metrics"]) == ["load"]
    assert out["ended_at"] is None

    show = js(cli("resource", "show", "--type", "cli_host", rid, "-f", "json"))
    assert show == out
    assert lines(cli("resource", "show", rid, "-f", "value", "-c", "type")) == ["cli_host"]

    # Measures addressed through the resource's named metric.
    cli("measures", "add", "-r", rid, "-m", "2026-12-01T12:00:00@4", "load")
    assert lines(cli("measures", "show", "-r", rid, "--refresh", "load", "-f", "value")) == [
        "2026-12-01T12:00:00+00:00 300.0 4.0"]

    upd = js(cli("resource", "update", "--type", "cli_host", "-a", "hostname:h2",
                 "-n", "temp:medium", rid, "-f", "json"))
    assert upd["hostname"] == "h2"
    assert set(upd["metrics"]) == {"load", "temp"}
    assert upd["metrics"]["load"] == out["metrics"]["load"]

    assert lines(cli("resource", "list", "--type", "cli_host", "-f", "value",
                     "-c", "id", "-c", "hostname")) == [expected_id + " h2"]
    assert lines(cli("resource", "list", "-f", "value", "-c", "original_resource_id")) == [rid]
    assert lines(cli("resource", "search", "--type", "cli_host", "hostname=h2",
                     "-f", "value", "-c", "id")) == [expected_id]
    assert lines(cli("resource", "search", "--type", "cli_host", "hostname=h1",
                     "-f", "value", "-c", "id")) == []

    err = cli("resource", "create", "--type", "cli_host", "-a", "hostname:h1", rid, ok=False)
    assert "Resource %s already exists" % expected_id in err
    err = cli("resource-type", "delete", "cli_host", ok=False)
    assert "Resource type cli_host is still in use" in err

    assert cli("resource", "delete", rid) == ""
    err = cli("resource", "show", rid, ok=False)
    assert "Resource %s does not exist" % expected_id in err
    assert lines(cli("resource", "list", "-f", "value", "-c", "id")) == []
    # Its metrics went with it (§9.5).
    names = lines(cli("metric", "list", "-f", "value", "-c", "name"))
    assert "load" not in names and "temp" not in names
    cli("resource-type", "delete", "cli_host")
