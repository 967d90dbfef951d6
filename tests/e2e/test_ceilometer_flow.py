"""The Ceilometer publisher flow through python-gnocchiclient's library API.

Spec: shared/spec/api.md §7.2 (batch by resource), §8.3/§8.5 (resource types and their JSON
Patch upgrade), §9.2/§9.4 (resource create/update), §1.9 (UUID5 transformation) and Appendix G.
Ceilometer reads the 400 answer as `e.message` being a dict with `cause` == "Unknown resources"
and `detail` a list of {"resource_id", "original_resource_id"}; it then creates each resource
and retries the batch.
"""
import uuid

import pytest
from gnocchiclient import exceptions as gexc


RESOURCE_ID_NS = uuid.UUID("0a7a15ff-aa13-4ac2-897c-9bdf30ce175b")

INSTANCE_ID = "5a301761-f78b-46e2-8900-8b4f6fe6675a"
# A non-UUID id, as Ceilometer uses for instance network interfaces.
IFACE_ID = "instance-0001-tap0"

TYPE_NAME = "e2e_instance"
IFACE_TYPE = "e2e_instance_network_interface"


def transformed(original, creator="admin"):
    """§1.9: UUIDv5(namespace, original + "\\x00" + creator)."""
    return str(uuid.uuid5(RESOURCE_ID_NS, original + "\x00" + creator))


def test_uuid5_rule_matches_spec_examples():
    # Guards the helper above with the spec's verified examples.
    assert transformed("foobar", "admin") == "b4d568e4-7af1-5aec-ac3f-9c09fa3685a9"
    assert transformed("foobar", "foobar") == "2fbfbb20-8d56-5e1e-afb9-b3007da11fdf"


def iso(measures):
    """gnocchiclient parses timestamps into aware datetimes; compare them as ISO strings."""
    return [[ts.isoformat(), gran, value] for ts, gran, value in measures]


def batch_body():
    return {
        INSTANCE_ID: {
            "cpu": {
                "archive_policy_name": "low",
                "unit": "ns",
                "measures": [
                    {"timestamp": "2026-12-01T12:00:00", "value": 1.0},
                    {"timestamp": "2026-12-01T12:01:00", "value": 3.0},
                    {"timestamp": "2026-12-01T12:07:00", "value": 10.0},
                ],
            },
            "memory.usage": {
                "archive_policy_name": "medium",
                "unit": "MB",
                "measures": [{"timestamp": "2026-12-01T12:00:00", "value": 512}],
            },
        },
        IFACE_ID: {
            "network.incoming.bytes": {
                "archive_policy_name": "low",
                "unit": "B",
                "measures": [{"timestamp": "2026-12-01T12:00:00", "value": 42}],
            },
        },
    }


@pytest.fixture(scope="module")
def resource_types(client):
    # ceilometer-upgrade creates its resource types before publishing.
    rt = client.resource_type.create({
        "name": TYPE_NAME,
        "attributes": {
            "display_name": {"type": "string", "required": True},
            "flavor_id": {"type": "string", "required": True},
            "host": {"type": "string", "required": False, "max_length": 255},
            "launched_at": {"type": "datetime", "required": False},
        },
    })
    iface = client.resource_type.create({
        "name": IFACE_TYPE,
        "attributes": {
            "name": {"type": "string", "required": True},
            "instance_id": {"type": "uuid", "required": False},
        },
    })
    return rt, iface


def test_resource_type_create_and_get(client, resource_types):
    rt, _ = resource_types
    assert rt["name"] == TYPE_NAME
    assert rt["state"] == "active"
    assert set(rt) == {"name", "attributes", "state"}
    got = client.resource_type.get(TYPE_NAME)
    assert got == rt
    assert got["attributes"]["display_name"] == {
        "type": "string", "required": True, "min_length": 0, "max_length": 256}
    assert got["attributes"]["host"] == {
        "type": "string", "required": False, "min_length": 0, "max_length": 255}
    assert got["attributes"]["launched_at"] == {"type": "datetime", "required": False}
    names = [t["name"] for t in client.resource_type.list()]
    assert names == sorted(names)
    assert {"generic", TYPE_NAME, IFACE_TYPE} <= set(names)


def test_resource_type_duplicate_is_409(client, resource_types):
    with pytest.raises(gexc.ResourceTypeAlreadyExists) as ei:
        client.resource_type.create({"name": TYPE_NAME})
    assert ei.value.code == 409
    assert ei.value.message == "Resource type %s already exists" % TYPE_NAME


def test_batch_unknown_resources_then_create_and_retry(client, resource_types):
    # 1. The first push: no resource exists yet.
    with pytest.raises(gexc.BadRequest) as ei:
        client.metric.batch_resources_metrics_measures(batch_body(), create_metrics=True)
    e = ei.value
    assert e.code == 400
    # Ceilometer: `if not isinstance(e.message, dict) or e.message.get('cause') != 'Unknown resources': raise`
    assert isinstance(e.message, dict), e.message
    assert e.message["cause"] == "Unknown resources"
    detail = sorted(e.message["detail"], key=lambda d: d["original_resource_id"])
    assert detail == sorted([
        {"resource_id": INSTANCE_ID, "original_resource_id": INSTANCE_ID},
        {"resource_id": transformed(IFACE_ID), "original_resource_id": IFACE_ID},
    ], key=lambda d: d["original_resource_id"])

    # 2. Ceilometer creates each unknown resource (409 tolerated) ...
    for d in e.message["detail"]:
        if d["original_resource_id"] == INSTANCE_ID:
            r = client.resource.create(TYPE_NAME, {
                "id": d["original_resource_id"],
                "user_id": "u1", "project_id": "p1",
                "display_name": "vm1", "flavor_id": "1", "host": "compute-1",
            })
            assert r["id"] == INSTANCE_ID
            assert r["type"] == TYPE_NAME
            assert r["display_name"] == "vm1"
            assert r["launched_at"] is None
        else:
            r = client.resource.create(IFACE_TYPE, {
                "id": d["original_resource_id"], "name": "tap0",
                "instance_id": INSTANCE_ID,
            })
            assert r["id"] == transformed(IFACE_ID)
            assert r["original_resource_id"] == IFACE_ID
        assert r["creator"] == "admin"
        assert r["revision_end"] is None

    # ... creating one again is a 409 Ceilometer tolerates.
    with pytest.raises(gexc.ResourceAlreadyExists) as ei:
        client.resource.create(TYPE_NAME, {
            "id": INSTANCE_ID, "display_name": "vm1", "flavor_id": "1"})
    assert ei.value.code == 409
    assert ei.value.message == "Resource %s already exists" % INSTANCE_ID

    # 3. ... and retries: accepted (202, empty body; the client returns the response).
    ret = client.metric.batch_resources_metrics_measures(batch_body(), create_metrics=True)
    assert ret.status_code == 202
    assert ret.content == b""

    # The metrics were created on the resources with the requested policy and unit.
    inst = client.resource.get(TYPE_NAME, INSTANCE_ID)
    assert set(inst["metrics"]) == {"cpu", "memory.usage"}
    cpu = client.metric.get(inst["metrics"]["cpu"])
    assert cpu["name"] == "cpu"
    assert cpu["unit"] == "ns"
    assert cpu["archive_policy"]["name"] == "low"
    # Detailed shape (§6.1): embedded generic resource, no resource_id key.
    assert cpu["resource"]["id"] == INSTANCE_ID
    assert "resource_id" not in cpu
    mem = client.metric.get("memory.usage", resource_id=INSTANCE_ID)
    assert mem["id"] == inst["metrics"]["memory.usage"]
    assert mem["archive_policy"]["name"] == "medium"
    assert mem["unit"] == "MB"
    iface = client.resource.get(IFACE_TYPE, IFACE_ID)
    assert list(iface["metrics"]) == ["network.incoming.bytes"]

    # 4. The measures are readable with refresh (low = 5 min granularity, mean).
    measures = client.metric.get_measures("cpu", resource_id=INSTANCE_ID, refresh=True)
    assert iso(measures) == [
        ["2026-12-01T12:00:00+00:00", 300.0, 2.0],
        ["2026-12-01T12:05:00+00:00", 300.0, 10.0],
    ]
    maxes = client.metric.get_measures(inst["metrics"]["cpu"], aggregation="max", refresh=True)
    assert iso(maxes) == [
        ["2026-12-01T12:00:00+00:00", 300.0, 3.0],
        ["2026-12-01T12:05:00+00:00", 300.0, 10.0],
    ]
    net = client.metric.get_measures("network.incoming.bytes", resource_id=IFACE_ID,
                                     refresh=True)
    assert iso(net) == [["2026-12-01T12:00:00+00:00", 300.0, 42.0]]
    # medium: 1 min and 1 h granularities, coarser first.
    mem_measures = client.metric.get_measures("memory.usage", resource_id=INSTANCE_ID,
                                              refresh=True)
    assert iso(mem_measures) == [
        ["2026-12-01T12:00:00+00:00", 3600.0, 512.0],
        ["2026-12-01T12:00:00+00:00", 60.0, 512.0],
    ]

    # A second retry with the same body does not create metrics twice.
    client.metric.batch_resources_metrics_measures(batch_body(), create_metrics=True)
    again = client.resource.get(TYPE_NAME, INSTANCE_ID)
    assert again["metrics"] == inst["metrics"]


def test_batch_without_create_metrics_reports_unknown_metrics(client, resource_types):
    body = {INSTANCE_ID: {"disk.iops": [{"timestamp": "2026-12-01T12:00:00", "value": 1}]}}
    with pytest.raises(gexc.BadRequest) as ei:
        client.metric.batch_resources_metrics_measures(body, create_metrics=False)
    assert ei.value.message == "Unknown metrics: %s/disk.iops" % INSTANCE_ID


def test_batch_partial_unknown_keeps_created_metrics(client, resource_types):
    # §7.2 step 4/5: metrics of the existing resource are created even though another
    # resource is unknown; only the unknown one is reported; nothing is enqueued.
    body = {
        INSTANCE_ID: {"disk.read.bytes": {"archive_policy_name": "low", "measures": [
            {"timestamp": "2026-12-01T12:00:00", "value": 7}]}},
        "instance-0002": {"cpu": {"measures": [
            {"timestamp": "2026-12-01T12:00:00", "value": 1}]}},
    }
    with pytest.raises(gexc.BadRequest) as ei:
        client.metric.batch_resources_metrics_measures(body, create_metrics=True)
    assert ei.value.message == {
        "cause": "Unknown resources",
        "detail": [{"resource_id": transformed("instance-0002"),
                    "original_resource_id": "instance-0002"}],
    }
    inst = client.resource.get(TYPE_NAME, INSTANCE_ID)
    assert "disk.read.bytes" in inst["metrics"]
    assert client.metric.get_measures("disk.read.bytes", resource_id=INSTANCE_ID,
                                      refresh=True) == []

    # Invalid measures are a plain 400 before anything happens.
    with pytest.raises(gexc.BadRequest) as ei:
        client.metric.batch_resources_metrics_measures(
            {INSTANCE_ID: {"cpu": [{"value": 1}]}}, create_metrics=True)
    assert "unexpected measures format" in str(ei.value.message)

    # Old format (a bare measures array) is accepted for an existing metric.
    ret = client.metric.batch_resources_metrics_measures(
        {INSTANCE_ID: {"disk.read.bytes": [{"timestamp": "2026-12-01T12:10:00", "value": 9}]}})
    assert ret.status_code == 202
    assert iso(client.metric.get_measures("disk.read.bytes", resource_id=INSTANCE_ID,
                                          refresh=True)) == [
        ["2026-12-01T12:10:00+00:00", 300.0, 9.0]]


def test_resource_update_patch_attributes(client, resource_types):
    client.resource.get(TYPE_NAME, INSTANCE_ID)  # exists (created by the batch test)
    before = client.resource.get(TYPE_NAME, INSTANCE_ID)
    updated = client.resource.update(TYPE_NAME, INSTANCE_ID, {
        "display_name": "vm1-renamed", "host": "compute-2",
        "launched_at": "2026-12-01T11:59:00Z",
    })
    assert updated["display_name"] == "vm1-renamed"
    assert updated["host"] == "compute-2"
    assert updated["flavor_id"] == "1"
    assert updated["launched_at"] == "2026-12-01T11:59:00+00:00"
    assert updated["metrics"] == before["metrics"]
    assert updated["revision_start"] > before["revision_start"]
    assert client.resource.get(TYPE_NAME, INSTANCE_ID) == updated

    history = client.resource.history(TYPE_NAME, INSTANCE_ID)
    assert [h["display_name"] for h in history] == ["vm1", "vm1-renamed"]
    assert history[0]["revision_end"] == updated["revision_start"]

    # Ceilometer marks a deleted instance with ended_at (which must not precede started_at,
    # the creation time here).
    with pytest.raises(gexc.BadRequest) as ei:
        client.resource.update(TYPE_NAME, INSTANCE_ID, {"ended_at": "2000-01-01T00:00:00Z"})
    assert ei.value.message == (
        "Value 2000-01-01T00:00:00+00:00 for attribute ended_at on resource type %s is invalid"
        % TYPE_NAME)
    ended = client.resource.update(TYPE_NAME, INSTANCE_ID, {"ended_at": "2100-01-01T13:00:00Z"})
    assert ended["ended_at"] == "2100-01-01T13:00:00+00:00"

    # Invalid attribute values are rejected.
    with pytest.raises(gexc.BadRequest) as ei:
        client.resource.update(TYPE_NAME, INSTANCE_ID, {"host": "x" * 256})
    assert ei.value.code == 400

    with pytest.raises(gexc.ResourceNotFound):
        client.resource.update(TYPE_NAME, "b2c3e1d0-0000-4000-8000-000000000000",
                               {"host": "h"})


def test_resource_type_upgrade_with_json_patch(client, resource_types):
    ops = [
        {"op": "add", "path": "/attributes/flavor_name",
         "value": {"type": "string", "required": True, "options": {"fill": "m1.small"}}},
        {"op": "add", "path": "/attributes/vcpus",
         "value": {"type": "number", "required": False, "min": 0}},
        {"op": "remove", "path": "/attributes/launched_at"},
    ]
    new = client.resource_type.update(TYPE_NAME, ops)
    assert new["state"] == "active"
    assert new["attributes"]["flavor_name"] == {
        "type": "string", "required": True, "min_length": 0, "max_length": 256}
    # fill is never stored in the representation.
    assert "options" not in new["attributes"]["flavor_name"]
    assert new["attributes"]["vcpus"] == {
        "type": "number", "required": False, "min": 0, "max": None}
    assert "launched_at" not in new["attributes"]
    assert set(new["attributes"]) == {"display_name", "flavor_id", "host", "flavor_name", "vcpus"}
    assert client.resource_type.get(TYPE_NAME) == new

    # The existing resource and its history got the fill value.
    r = client.resource.get(TYPE_NAME, INSTANCE_ID)
    assert r["flavor_name"] == "m1.small"
    assert r["vcpus"] is None
    assert "launched_at" not in r
    history = client.resource.history(TYPE_NAME, INSTANCE_ID)
    assert len(history) >= 2
    assert all(h["flavor_name"] == "m1.small" for h in history)

    # New resources must now carry the required attribute.
    with pytest.raises(gexc.BadRequest):
        client.resource.create(TYPE_NAME, {"id": "vm-2", "display_name": "vm2", "flavor_id": "2"})
    r2 = client.resource.create(TYPE_NAME, {"id": "vm-2", "display_name": "vm2",
                                            "flavor_id": "2", "flavor_name": "m1.big",
                                            "vcpus": 4})
    assert r2["flavor_name"] == "m1.big"
    assert r2["vcpus"] == 4

    # A required attribute without fill is refused (§8.5).
    with pytest.raises(gexc.BadRequest) as ei:
        client.resource_type.update(TYPE_NAME, [
            {"op": "add", "path": "/attributes/arch",
             "value": {"type": "string", "required": True}}])
    assert ei.value.message == (
        "Invalid input: Option 'fill' of resource attribute arch is invalid: "
        "must not be empty if required=True")
    # Only add/remove are valid operations.
    with pytest.raises(gexc.BadRequest):
        client.resource_type.update(TYPE_NAME, [
            {"op": "replace", "path": "/attributes/host",
             "value": {"type": "string", "required": False}}])
    assert "arch" not in client.resource_type.get(TYPE_NAME)["attributes"]


def test_resource_type_delete_in_use_then_free(client, resource_types):
    with pytest.raises(gexc.BadRequest) as ei:
        client.resource_type.delete(IFACE_TYPE)
    assert ei.value.message == "Resource type %s is still in use" % IFACE_TYPE
    client.resource.delete(IFACE_ID)
    with pytest.raises(gexc.ResourceNotFound):
        client.resource.get(IFACE_TYPE, IFACE_ID)
    client.resource_type.delete(IFACE_TYPE)
    with pytest.raises(gexc.ResourceTypeNotFound):
        client.resource_type.get(IFACE_TYPE)
