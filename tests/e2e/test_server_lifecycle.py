"""The server started by the tests: SIGTERM stops it, and a restart on the same data
directory keeps the data and does not re-create the default policies (§4.7: only created when
no policy and no rule exist)."""
import signal
import subprocess

from gnocchiclient import auth
from gnocchiclient import exceptions as gexc
from gnocchiclient.v1 import client as v1client
from keystoneauth1 import session

from conftest import Server


def make_client(endpoint):
    return v1client.Client(session=session.Session(
        auth=auth.GnocchiBasicPlugin(user="admin", endpoint=endpoint)))


def test_sigterm_and_restart_keeps_data():
    srv = Server()
    try:
        srv.start()
        c = make_client(srv.endpoint)
        m = c.metric.create({"name": "persist", "archive_policy_name": "low"})
        c.metric.add_measures(m["id"], [{"timestamp": "2026-12-01T12:00:00", "value": 3}])
        assert [v for _, _, v in c.metric.get_measures(m["id"], refresh=True)] == [3.0]
        c.archive_policy_rule.delete("default")
        c.archive_policy.delete("bool")

        srv.proc.send_signal(signal.SIGTERM)
        try:
            srv.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("server did not exit within 10 s of SIGTERM")

        srv.start()  # same data dir and port
        c = make_client(srv.endpoint)
        assert c.metric.get(m["id"])["name"] == "persist"
        assert [v for _, _, v in c.metric.get_measures(m["id"])] == [3.0]
        assert sorted(ap["name"] for ap in c.archive_policy.list()) == ["high", "low", "medium"]
        assert c.archive_policy_rule.list() == []
        try:
            c.archive_policy.get("bool")
        except gexc.ArchivePolicyNotFound:
            pass
        else:
            raise AssertionError("bool was re-created on restart")
    finally:
        srv.stop()
