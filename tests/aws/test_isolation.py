"""Container instances (`--isolation container`), tried as hostile instance code would
act: it runs as root inside its instance and still cannot read the host's secrets or
the daemon's data, cannot see other instances' processes, and is not root on the host.
And the lab's app still answers over loopback.

Skipped, saying why, where the host cannot run containers: not root, no runc
(scripts/setup-runtime.sh) or no base image (scripts/build-base-image.sh).
"""
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from harness import Daemon, http_get, wait_for
from test_runtime import launch_app


def base_image_built():
    cache = Path(os.environ.get("SHOAL_IMAGE_CACHE") or Path.home() / ".cache" / "shoal" / "images")
    return cache.is_dir() and any((d / "complete").exists() for d in cache.iterdir())


def why_not_isolated():
    if os.geteuid() != 0:
        return "container instances need a root daemon"
    if not shutil.which("runc"):
        return "runc is not installed (scripts/setup-runtime.sh)"
    if not base_image_built():
        return "no base image (scripts/build-base-image.sh)"
    return None


REASON = why_not_isolated()
if REASON:
    print(f"test_isolation: skipped: {REASON}")
needs_containers = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.fixture(scope="module")
def daemon():
    d = Daemon("--isolation", "container")
    yield d
    d.close()


def run(daemon, iid, script):
    """Runs `script` with sh inside the instance, as root (as user data runs)."""
    r = daemon.shoal("ssh", iid, "--", "sh", "-c", script)
    return r.returncode, r.stdout, r.stderr


def launch(daemon):
    iid = daemon.aws("ec2", "run-instances", "--image-id", daemon.base_image(),
                     "--instance-type", "t2.micro")["Instances"][0]["InstanceId"]
    daemon.wait_state(iid, "running")
    return iid


@needs_containers
def test_the_daemon_says_it_isolates(daemon):
    assert "containers" in daemon.api("/_shoal/health")["isolation"]


@needs_containers
def test_ls_root_shows_the_image_not_the_host(daemon):
    iid = launch(daemon)
    code, out, _ = run(daemon, iid, "ls /; cat /etc/shoal-image; id -u; hostname")
    assert code == 0
    listing = out.split()
    assert "etc" in listing and "usr" in listing
    # The host's own top-level directories are not there.
    for host_only in {"work", "workspace"} & set(os.listdir("/")):
        assert host_only not in listing
    assert "Shoal base image: Debian" in out
    assert out.split()[-2] == "0", "code is root inside its instance"
    private_ip = daemon.instance(iid)["PrivateIpAddress"]
    assert out.split()[-1] == "ip-" + private_ip.replace(".", "-")


@needs_containers
def test_root_inside_cannot_read_the_hosts_secrets_or_the_daemons_data(daemon):
    iid = launch(daemon)
    secret = Path(daemon.data_dir) / "host-secret.txt"
    secret.write_text("the daemon's secret\n")
    host_shadow = Path("/etc/shadow").read_text()
    code, out, _ = run(daemon, iid, f"cat /etc/shadow; cat {secret}; ls {daemon.data_dir}; "
                                    f"ls -d {daemon.data_dir}/state.db; echo done")
    assert out.strip().endswith("done")
    assert "the daemon's secret" not in out
    assert "state.db" not in out
    # /etc/shadow is the image's, not the host's.
    host_hashes = [line.split(":")[1] for line in host_shadow.splitlines() if len(line.split(":")[1]) > 2]
    assert not any(h in out for h in host_hashes)
    assert "ec2-user" in out, "the image's own /etc/shadow"
    # Writes land in the instance's disk, never on the host.
    assert run(daemon, iid, "echo owned > /etc/hostile && cat /etc/hostile")[1].strip() == "owned"
    assert not Path("/etc/hostile").exists()


@needs_containers
def test_it_cannot_see_other_instances_or_host_processes(daemon):
    a, b = launch(daemon), launch(daemon)
    b_init = daemon.api(f"/_shoal/api/instances/{b}")["pids"]
    code, out, _ = run(daemon, a, "ps -e -o pid=,args=")
    assert code == 0
    lines = [line.split(None, 1) for line in out.strip().splitlines()]
    pids = [int(p) for p, _ in lines]
    assert 1 in pids, "its own init is PID 1"
    assert not any("shoal server" in args for _, args in lines), "the daemon is invisible"
    assert not any(b in args for _, args in lines)
    # Its PIDs are its namespace's: few, small, and none of B's host PIDs is signalable.
    assert len(pids) < 10
    for pid in b_init:
        r = run(daemon, a, f"kill -0 {pid} 2>&1 || echo cannot")
        assert "cannot" in r[1] or pid in pids
    # B's disk and control socket are not in A's world.
    b_api = daemon.api(f"/_shoal/api/instances/{b}")
    code, out, _ = run(daemon, a, f"ls {b_api['disk']} {b_api['control_socket']} 2>&1; "
                                  f"echo x > {b_api['disk']}/etc/planted 2>&1; echo done")
    assert out.count("No such file or directory") == 2 and out.strip().endswith("done")
    assert not Path(b_api["disk"], "etc", "planted").exists()
    assert run(daemon, b, "echo alive")[1].strip() == "alive"


@needs_containers
def test_its_root_is_not_root_on_the_host(daemon):
    iid = launch(daemon)
    pids = daemon.api(f"/_shoal/api/instances/{iid}")["pids"]
    assert pids
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert all(int(u) >= 100000 for u in uids), f"pid {pid} runs as {uids} on the host"
    # sudo works inside (ec2-user, passwordless) and still maps to the unprivileged range.
    code, out, _ = run(daemon, iid, "sudo -u ec2-user sudo -n id -u")
    assert (code, out.strip()) == (0, "0")


@needs_containers
def test_the_lab_app_answers_over_loopback(daemon):
    iid, addr = launch_app(daemon)
    assert http_get(f"http://{addr}:3000/health")[0] == 200
    # Debian's `service` runs the lab's init script inside the instance.
    assert daemon.shoal("ssh", iid, "--", "service", "app", "stop").returncode == 0
    wait_for("app down", lambda: http_get(f"http://{addr}:3000/health")[0] == 0)
    assert daemon.instance(iid)["State"]["Name"] == "running"
    assert daemon.shoal("ssh", iid, "--", "service", "app", "start").returncode == 0
    wait_for("app up", lambda: http_get(f"http://{addr}:3000/health")[0] == 200)


@needs_containers
def test_stop_start_and_terminate_leave_nothing_behind(daemon):
    iid = launch(daemon)
    assert run(daemon, iid, "echo kept > /root/note")[0] == 0
    daemon.aws("ec2", "stop-instances", "--instance-ids", iid)
    daemon.wait_state(iid, "stopped")
    root = Path(daemon.data_dir) / "container" / "instances" / iid / "root"
    assert not os.path.ismount(root), "a stopped instance's root is unmounted"
    daemon.aws("ec2", "start-instances", "--instance-ids", iid)
    daemon.wait_state(iid, "running")
    assert run(daemon, iid, "cat /root/note")[1].strip() == "kept", "the disk persists"
    daemon.aws("ec2", "terminate-instances", "--instance-ids", iid)
    daemon.wait_state(iid, "terminated")
    wait_for("disk removed", lambda: not root.parent.exists(), timeout=15)


@needs_containers
def test_kill_9_and_restart_adopts_container_instances():
    # On the host's network: this module's daemon holds the default VPC's host route, and a
    # second daemon's instances of the same CIDR are reached through its mirror, which dies
    # with it. VPC networks across a kill -9 are test_vpc_crash's.
    d = Daemon("--isolation", "container", "--network", "host")
    try:
        iid, addr = launch_app(d)
        pids_before = sorted(d.api(f"/_shoal/api/instances/{iid}")["pids"])
        d.kill9()
        # The instance keeps serving while the control plane is down.
        assert http_get(f"http://{addr}:3000/health")[0] == 200
        d.start()
        assert d.instance(iid)["State"]["Name"] == "running"
        assert sorted(d.api(f"/_shoal/api/instances/{iid}")["pids"]) == pids_before
        assert d.shoal("ssh", iid, "--", "cat", "/app/message").stdout.strip() == "Welcome to the A project"
        d.aws("ec2", "terminate-instances", "--instance-ids", iid)
        d.wait_state(iid, "terminated")
        wait_for("no process left", lambda: d.marked_pids() == [], timeout=15)
    finally:
        d.close()


def start_without_runc(*args, **kwargs):
    """A daemon whose PATH has no runc: a host that cannot isolate."""
    saved = os.environ["PATH"]
    os.environ["PATH"] = "/nonexistent"
    try:
        return Daemon(*args, **kwargs)
    finally:
        os.environ["PATH"] = saved


def test_auto_mode_says_aloud_when_the_host_cannot_isolate():
    d = start_without_runc("--isolation", "auto")
    try:
        assert "containers" not in d.api("/_shoal/health")["isolation"]
        assert "cannot isolate instances" in d.log()
        iid = d.aws("ec2", "run-instances", "--image-id", d.base_image())["Instances"][0]["InstanceId"]
        d.wait_state(iid, "running")
    finally:
        d.close()


def test_container_mode_refuses_to_start_where_the_host_cannot_isolate():
    data_dir = tempfile.mkdtemp(prefix="shoal-test-")
    try:
        with pytest.raises(RuntimeError, match="this host cannot isolate instances"):
            start_without_runc("--isolation", "container", data_dir=data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def start_with_env(env, *args, **kwargs):
    """A daemon started with `env` added to its environment."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return Daemon(*args, **kwargs)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


FALLBACK = "runc is not at /nonexistent/runc (SHOAL_RUNC)"


def test_the_fallback_is_said_in_the_log_the_cli_the_console_and_health():
    d = start_with_env({"SHOAL_RUNC": "/nonexistent/runc"}, "--isolation", "auto")
    try:
        assert "cannot isolate instances" in d.log() and FALLBACK in d.log()
        health = d.api("/_shoal/health")
        assert (health["isolation_mode"], health["isolation_fallback"]) == ("process", FALLBACK)
        iid = d.aws("ec2", "run-instances", "--image-id", d.base_image())["Instances"][0]["InstanceId"]
        d.wait_state(iid, "running")
        out = d.shoal("instances").stdout.splitlines()
        assert out[0].startswith("WARNING") and FALLBACK in out[0], out
        assert out[1].startswith("INSTANCE") and any(iid in line for line in out[2:])
        status, page = http_get(d.endpoint + "/console/instances", timeout=10)
        assert status == 200 and 'id="isolation-fallback"' in page
        assert "runc is not at /nonexistent/runc" in page
    finally:
        d.close()


def test_process_mode_by_choice_warns_nowhere():
    # Chosen on the command line, so a suite run with SHOAL_ISOLATION=container tests it too.
    d = Daemon("--isolation", "process")
    try:
        health = d.api("/_shoal/health")
        assert (health["isolation_mode"], health["isolation_fallback"]) == ("process", None)
        assert not d.shoal("instances").stdout.startswith("WARNING")
        assert 'id="isolation-fallback"' not in http_get(d.endpoint + "/console/instances", timeout=10)[1]
    finally:
        d.close()


@needs_containers
def test_isolated_instances_warn_nowhere():
    d = Daemon("--isolation", "auto")
    try:
        health = d.api("/_shoal/health")
        assert (health["isolation_mode"], health["isolation_fallback"]) == ("container", None)
        assert "containers" in health["isolation"]
        assert d.shoal("instances").stdout.startswith("INSTANCE")
        assert 'id="isolation-fallback"' not in http_get(d.endpoint + "/console/instances", timeout=10)[1]
        assert "cannot isolate" not in d.log()
    finally:
        d.close()


@needs_containers
def test_a_daemon_out_of_descriptors_never_takes_a_running_container_for_stopped():
    import resource
    d = Daemon("--isolation", "container")
    try:
        iid = launch(d)
        soft, hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
        # Every open fails with EMFILE now (no descriptor number under 3 is free): /proc
        # and runc can only answer "unknown".
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (3, hard))
        try:
            wait_for("a pass that looked", lambda: "cannot observe the instance's init" in d.log()
                     or "instance init is gone" in d.log(), timeout=20)
            time.sleep(6)  # another pass (resync: 5 s)
        finally:
            resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (soft, hard))
        assert "instance init is gone" not in d.log()
        assert d.instance(iid)["State"]["Name"] == "running"
        assert run(d, iid, "echo alive")[1].strip() == "alive"
    finally:
        d.close()
