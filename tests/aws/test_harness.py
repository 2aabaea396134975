"""The harness itself: what a daemon's stop() kills is its own.

Suites run side by side, each in a network namespace of its own (tests/run_suites.py),
where another suite's daemon can draw the same 127.0.0.1 port, and so the same endpoint
marker (`SHOAL_ENDPOINT`) on its instances and on the aws CLI driving it. A CI run once
lost an aws CLI that way (killed -9 by the other suite's stop()).
"""
import shutil
import subprocess

import pytest

from harness import net_namespace, wait_for


def test_a_marked_process_in_another_network_namespace_is_not_the_daemons(daemon):
    if shutil.which("unshare") is None or subprocess.run(["unshare", "--net", "true"],
                                                         capture_output=True).returncode != 0:
        pytest.skip("network namespaces cannot be made here")
    env = {**daemon.env(), "SHOAL_ENDPOINT": daemon.endpoint}
    here = subprocess.Popen(["sleep", "60"], env=env)
    # unshare execs sleep in a new network namespace, under the same PID.
    there = subprocess.Popen(["unshare", "--net", "sleep", "60"], env=env)
    try:
        wait_for("the other namespace", lambda: net_namespace(there.pid) != net_namespace("self"), timeout=10)
        marked = daemon.marked_pids()
        assert here.pid in marked, "a marked process in the daemon's own namespace is its"
        assert there.pid not in marked, "the same marker in another suite's namespace is not"
    finally:
        for p in (here, there):
            p.kill()
            p.wait(timeout=10)
