"""Instances are real processes: CPU accounting through `shoal ssh`, and a daemon crash
that loses nothing and leaks nothing."""
# run_suites: alone
# (An instance's `stress` must read as a whole CPU: no other suite beside it.)
import os
import signal
import subprocess

from harness import ROOT, SHOAL, Daemon, http_get, wait_for

SETUP = ROOT / "examples" / "lab" / "setup.sh"


def launch_app(daemon):
    base = daemon.base_image()
    iid = daemon.aws("ec2", "run-instances", "--image-id", base, "--instance-type", "t2.micro",
                     "--security-group-ids", daemon.web_group(),
                     "--user-data", f"file://{SETUP}")["Instances"][0]["InstanceId"]
    daemon.wait_state(iid, "running")
    addr = daemon.instance(iid)["PublicIpAddress"]
    wait_for("app", lambda: http_get(f"http://{addr}:3000/health")[0] == 200)
    return iid, addr


def cpu(daemon, iid):
    return daemon.api(f"/_shoal/api/instances/{iid}")["cpu_utilization"]


def test_ssh_runs_inside_and_cpu_is_the_instances(daemon):
    iid, _ = launch_app(daemon)
    r = daemon.shoal("ssh", iid, "--", "sh", "-c", 'echo "$INSTANCE_ID $PWD"; echo oops >&2; exit 3')
    assert r.returncode == 3
    # Commands start in the instance's root: `/` in a container, its disk on the host
    # for a process tree.
    root = "/" if daemon.isolation_mode() == "container" else daemon.api(f"/_shoal/api/instances/{iid}")["disk"]
    assert r.stdout.split() == [iid, root]
    assert r.stderr.strip() == "oops"
    assert daemon.shoal("ssh", iid, "--", "cat", "app/message").stdout.strip() == "Welcome to the A project"
    assert daemon.shoal("ssh", "i-0123456789abcdef0", "--", "true").returncode != 0

    burner = subprocess.Popen([SHOAL, "--endpoint", daemon.endpoint, "ssh", iid, "--", "stress", "--cpu", "1", "--timeout", "30"])
    try:
        wait_for("CPU >= 90%", lambda: (cpu(daemon, iid) or 0) >= 90, timeout=30, interval=0.5)
    finally:
        # Like closing an ssh session: the instance hangs up the command.
        burner.terminate()
        burner.wait(timeout=10)
    wait_for("CPU back down", lambda: (cpu(daemon, iid) or 0) < 10, timeout=15, interval=0.5)


def test_service_stop_keeps_instance_running(daemon):
    iid, addr = launch_app(daemon)
    assert daemon.shoal("ssh", iid, "--", "service", "app", "stop").returncode == 0
    wait_for("app down", lambda: http_get(f"http://{addr}:3000/health")[0] == 0)
    assert daemon.instance(iid)["State"]["Name"] == "running"
    assert daemon.shoal("ssh", iid, "--", "service", "app", "start").returncode == 0
    wait_for("app up", lambda: http_get(f"http://{addr}:3000/health")[0] == 200)
    access = daemon.shoal("ssh", iid, "--", "cat", "var/log/app/access.log").stdout
    assert '"GET /health HTTP/1.1" 200' in access


def test_reboot_runs_rc_local_not_user_data(daemon):
    iid, addr = launch_app(daemon)
    daemon.aws("ec2", "reboot-instances", "--instance-ids", iid)
    wait_for("reboot", lambda: "[shoal-init]" in daemon.shoal("logs", iid).stdout and daemon.shoal("logs", iid).stdout.count("booting") == 2)
    wait_for("app back", lambda: http_get(f"http://{addr}:3000/health")[0] == 200)
    assert daemon.shoal("logs", iid).stdout.count("running user data") == 1


def test_kill_9_and_restart_adopts_instances_and_leaks_nothing():
    d = Daemon()
    try:
        iid, addr = launch_app(d)
        stopped_id = d.aws("ec2", "run-instances", "--image-id", d.base_image())["Instances"][0]["InstanceId"]
        d.wait_state(stopped_id, "running")
        d.aws("ec2", "stop-instances", "--instance-ids", stopped_id)
        d.wait_state(stopped_id, "stopped")
        d.aws("ec2", "create-key-pair", "--key-name", "exercise-key")
        pids_before = sorted(d.api(f"/_shoal/api/instances/{iid}")["pids"])
        assert pids_before, "the instance has processes"

        d.kill9()
        # The instance is a VM: it keeps serving while the control plane is down.
        assert http_get(f"http://{addr}:3000/health")[0] == 200
        assert all(os.path.exists(f"/proc/{p}") for p in pids_before)

        d.start()
        assert d.instance(iid)["State"]["Name"] == "running"
        assert d.instance(stopped_id)["State"]["Name"] == "stopped"
        assert [k["KeyName"] for k in d.aws("ec2", "describe-key-pairs")["KeyPairs"]] == ["exercise-key"]
        # Adopted, not duplicated: the very same processes, and still exactly one app.
        assert sorted(d.api(f"/_shoal/api/instances/{iid}")["pids"]) == pids_before
        assert http_get(f"http://{addr}:3000/health")[0] == 200

        # An instance whose processes died while the daemon was down shows stopped, with why.
        d.kill9()
        for pid in pids_before:
            os.kill(pid, signal.SIGKILL)
        d.start()
        wait_for("stopped", lambda: d.instance(iid)["State"]["Name"] == "stopped", timeout=15)
        assert d.instance(iid)["StateReason"]["Code"] == "Server.InternalError"

        # Start it again: a new boot, rc.local starts the app.
        d.aws("ec2", "start-instances", "--instance-ids", iid)
        d.wait_state(iid, "running")
        wait_for("app", lambda: http_get(f"http://{addr}:3000/health")[0] == 200)
        d.aws("ec2", "terminate-instances", "--instance-ids", iid, stopped_id)
        d.aws("ec2", "wait", "instance-terminated", "--instance-ids", iid, stopped_id)
        assert d.marked_pids() == [], "no process of any instance is left"
    finally:
        d.close()


def fnv1a(text):
    h = 0x811C9DC5
    for b in text.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def test_a_stopped_daemon_leaves_no_cgroup_behind():
    d = Daemon()
    try:
        launch_app(d)
        cgroups = "cgroup" in d.api("/_shoal/health")["isolation"] and "no cgroups" not in d.api("/_shoal/health")["isolation"]
        scope = f"shoal-{fnv1a(d.data_dir):08x}"
        found = lambda: [os.path.join(r, n) for r, dirs, _ in os.walk("/sys/fs/cgroup") for n in dirs if n == scope]
        if cgroups:
            assert found(), "instances run in the daemon's cgroup scope"
        d.stop()
        assert found() == [], "reset + stop removes the instances' cgroups and the scope"
    finally:
        d.close()


def test_a_daemon_down_with_its_instances_stopped_leaves_no_cgroup_behind():
    """Stopped instances hold no cgroup (a start makes a fresh one), so `shoal down
    --stop-instances` leaves neither process nor cgroup scope, and the instances still
    start again afterwards."""
    d = Daemon()
    try:
        iid, _ = launch_app(d)
        stopped, _ = launch_app(d)
        d.aws("ec2", "stop-instances", "--instance-ids", stopped)
        d.wait_state(stopped, "stopped")
        scope = f"shoal-{fnv1a(d.data_dir):08x}"
        found = lambda: [os.path.join(r, n) for r, dirs, _ in os.walk("/sys/fs/cgroup") for n in dirs if n == scope]
        mine = lambda instance: [p for p in found() if os.path.isdir(os.path.join(p, instance))]
        if "no cgroups" not in d.api("/_shoal/health")["isolation"]:
            assert mine(iid) and not mine(stopped), "a running instance has a cgroup, a stopped one none"
        assert d.shoal("down", "--stop-instances").returncode == 0
        assert d.proc.wait(timeout=60) == 0
        assert d.marked_pids() == [] and found() == []
        d.start()
        d.aws("ec2", "start-instances", "--instance-ids", iid, stopped)
        for instance in (iid, stopped):
            d.wait_state(instance, "running")
    finally:
        d.close()

