"""Shoal's own CLI as a user runs it: `shoal up` builds the lab's stack, `shoal image
import` makes an AMI from a directory, a tarball or an OCI image archive, `shoal down` stops the daemon (instances kept
running, or stopped with --stop-instances), `shoal reset` wipes everything."""
import gzip
import hashlib
import io
import json
import re
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from harness import SHOAL, Daemon, Lines, port_closed, process_gone, wait_for


def through_lb(daemon, dns):
    req = urllib.request.Request(daemon.endpoint + "/", headers={"Host": dns})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except Exception:  # noqa: BLE001
        return 0, ""


def test_up_builds_parts_1_and_2_and_is_idempotent(daemon):
    listen = daemon.endpoint.removeprefix("http://")
    r = daemon.shoal("up", "--listen", listen, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "The lab is ready" in r.stdout and "EXERCISE-GROUP" in r.stdout
    images = {i["Name"]: i for i in daemon.aws("ec2", "describe-images", "--owners", "self")["Images"]}
    assert set(images) == {"exercise-image", "exercise-image-beta"}
    stopped = daemon.aws("ec2", "describe-instances", "--filters", "Name=tag:Name,Values=exercise-instance")["Reservations"][0]["Instances"][0]
    assert stopped["State"]["Name"] == "stopped", "the configured instance is left stopped, as in the lab"
    lt = daemon.aws("ec2", "describe-launch-template-versions", "--launch-template-name", "exercise-launch-template")["LaunchTemplateVersions"][0]
    assert lt["LaunchTemplateData"]["ImageId"] == images["exercise-image"]["ImageId"]
    lb = daemon.aws("elbv2", "describe-load-balancers", "--names", "exercise-lb")["LoadBalancers"][0]
    tg = daemon.aws("elbv2", "describe-target-groups", "--names", "exercise-target-group")["TargetGroups"][0]
    assert (tg["Port"], tg["HealthCheckPath"], tg["HealthCheckIntervalSeconds"], tg["HealthyThresholdCount"]) == (3000, "/health", 5, 2)
    group = daemon.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "EXERCISE-GROUP")["AutoScalingGroups"][0]
    assert (group["MinSize"], group["MaxSize"], group["TargetGroupARNs"]) == (1, 2, [tg["TargetGroupArn"]])
    policy = daemon.aws("autoscaling", "describe-policies", "--auto-scaling-group-name", "EXERCISE-GROUP")["ScalingPolicies"][0]
    assert policy["TargetTrackingConfiguration"]["TargetValue"] == 80.0
    status, body = wait_for("the group's instance answering through exercise-lb",
                            lambda: (lambda r: r if r[0] == 200 else None)(through_lb(daemon, lb["DNSName"])), timeout=60)
    assert "Welcome to the A project (instance" in body

    again = daemon.shoal("up", "--listen", listen, timeout=120)
    assert again.returncode == 0, again.stderr
    assert len(daemon.aws("autoscaling", "describe-auto-scaling-groups")["AutoScalingGroups"]) == 1
    assert len(daemon.aws("ec2", "describe-images", "--owners", "self")["Images"]) == 2


def test_up_on_its_own_uses_a_short_metric_period_and_the_views_follow_the_group():
    """`shoal up` with no daemon running starts one with a 10 s CloudWatch period and
    says so; `shoal groups --watch` refreshes, `shoal activities` tells the launch."""
    d = Daemon(command="up")
    try:
        report = d.read_stdout_until("Press Ctrl-C", timeout=180)
        assert "The lab is ready" in report
        assert "CloudWatch period  10 s (AWS: 60 s" in report
        assert "shoal ssh <INSTANCE> -- stress --cpu 1" in report
        period = d.aws("cloudwatch", "describe-alarms")["MetricAlarms"]
        assert {a["Period"] for a in period} == {60}, "alarms keep AWS's periods; a period lasts 10 s"

        watch = subprocess.Popen([SHOAL, "--endpoint", d.endpoint, "groups", "--watch"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            # Refreshed until the instance's target shows healthy: what a user watches.
            seen = lambda text: (text.count("EXERCISE-GROUP  min 1 / desired 1 / max 2") >= 2
                                 and "exercise-target-group healthy" in text)
            text = Lines(watch.stdout).until(seen, "`shoal groups --watch` refreshing", 30)
            assert "\x1b[2J" in text and "InService" in text
            assert re.search(r"policy cpu80 \(TargetTrackingScaling\)  AlarmHigh \w+, AlarmLow \w+", text), text
        finally:
            watch.terminate()
            watch.wait(timeout=10)

        history = d.shoal("activities", "EXERCISE-GROUP").stdout
        assert "Launching a new EC2 instance: i-" in history
        assert "a user request created an AutoScalingGroup changing the desired capacity from 0 to 1." in history
        assert d.shoal("down", "--stop-instances").returncode == 0
        assert d.proc.wait(timeout=60) == 0
        assert d.marked_pids() == [], "down --stop-instances leaves no instance process"
    finally:
        d.close()


def test_views_end_quietly_when_their_reader_goes_away(daemon):
    """`shoal groups --watch | head -n 1` ends when head does, as Unix tools do (SIGPIPE),
    with no panic on a failed print."""
    r = subprocess.run(["sh", "-c", '"$0" --endpoint "$1" groups --watch | head -n 1', SHOAL, daemon.endpoint],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() != "", r
    assert "panicked" not in r.stderr and r.stderr == "", r.stderr


# A static shell and cat for imported images: in a container the instance runs what its
# image has (a host process tree would use the host's).
BUSYBOX = Path("/bin/busybox").read_bytes() if Path("/bin/busybox").exists() else None
needs_busybox = pytest.mark.skipif(BUSYBOX is None, reason="no /bin/busybox to give imported images a shell")
TOOLS = {"bin": None, "bin/sh": BUSYBOX, "bin/cat": BUSYBOX}


@needs_busybox
def test_image_import_and_instance_status(daemon, tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "bin").mkdir()
    for name in ("sh", "cat"):
        (tmp_path / "bin" / name).write_bytes(BUSYBOX)
        (tmp_path / "bin" / name).chmod(0o755)
    (tmp_path / "hello.txt").write_text("from my directory\n")
    r = daemon.shoal("image", "import", str(tmp_path), "--name", "my-image")
    assert r.returncode == 0, r.stderr
    ami = r.stdout.strip()
    assert daemon.aws("ec2", "describe-images", "--image-ids", ami)["Images"][0]["Name"] == "my-image"
    assert daemon.shoal("image", "import", str(tmp_path), "--name", "my-image").returncode != 0, "names are unique"
    iid = daemon.aws("ec2", "run-instances", "--image-id", ami)["Instances"][0]["InstanceId"]
    daemon.wait_state(iid, "running")
    assert daemon.shoal("ssh", iid, "--", "cat", "hello.txt").stdout == "from my directory\n"
    status = daemon.aws("ec2", "describe-instance-status", "--instance-ids", iid)["InstanceStatuses"][0]
    assert status["InstanceState"]["Name"] == "running" and status["InstanceStatus"]["Status"] == "ok"
    listing = daemon.shoal("instances").stdout
    assert iid in listing and "running" in listing


def tar_bytes(files, gz=False):
    """A tar archive of `files` ({name: bytes, or None for a directory})."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                t.addfile(info)
            else:
                # Files under bin/ are executables.
                info.size, info.mode = len(data), 0o755 if name.startswith("bin/") else 0o644
                t.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw) if gz else raw


def oci_archive(layers):
    """An OCI image archive (as `skopeo copy … oci-archive:` writes it): index.json ->
    manifest -> config and layer blobs, in one tar."""
    blobs = {}

    def put(data):
        digest = hashlib.sha256(data).hexdigest()
        blobs[f"blobs/sha256/{digest}"] = data
        return {"digest": f"sha256:{digest}", "size": len(data)}

    config = put(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode())
    layer_descs = [dict(put(l), mediaType="application/vnd.oci.image.layer.v1.tar+gzip") for l in layers]
    manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
                               "layers": layer_descs}).encode())
    index = {"schemaVersion": 2, "manifests": [dict(manifest, mediaType="application/vnd.oci.image.manifest.v1+json",
                                                    platform={"os": "linux", "architecture": "amd64"})]}
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": json.dumps(index).encode(),
             "blobs": None, "blobs/sha256": None}
    files.update(blobs)
    return tar_bytes(files)


def run_and_cat(daemon, ami, *paths):
    iid = daemon.aws("ec2", "run-instances", "--image-id", ami)["Instances"][0]["InstanceId"]
    daemon.wait_state(iid, "running")
    return [daemon.shoal("ssh", iid, "--", "sh", "-c", f"cat {p} 2>/dev/null || echo MISSING").stdout for p in paths]


@needs_busybox
def test_image_import_takes_a_rootfs_tarball_and_an_oci_archive_with_whiteouts(daemon, tmp_path):
    tarball = tmp_path / "rootfs.tar.gz"
    tarball.write_bytes(tar_bytes({**TOOLS, "etc": None, "etc/os-release": b"ID=mine\n", "hello.txt": b"from a tarball\n"},
                                  gz=True))
    r = daemon.shoal("image", "import", str(tarball), "--name", "from-tarball")
    assert r.returncode == 0, r.stderr
    assert run_and_cat(daemon, r.stdout.strip(), "hello.txt") == ["from a tarball\n"]

    lower = tar_bytes({**TOOLS, "etc": None, "etc/os-release": b"ID=layered\n", "a.txt": b"one\n", "gone.txt": b"x\n",
                       "d": None, "d/old": b"old\n"}, gz=True)
    upper = tar_bytes({"a.txt": b"two\n", ".wh.gone.txt": b"", "d": None, "d/.wh..wh..opq": b"", "d/new": b"new\n"}, gz=True)
    archive = tmp_path / "image.oci.tar"
    archive.write_bytes(oci_archive([lower, upper]))
    r = daemon.shoal("image", "import", str(archive), "--name", "from-oci")
    assert r.returncode == 0, r.stderr
    ami = r.stdout.strip()
    assert daemon.aws("ec2", "describe-images", "--image-ids", ami)["Images"][0]["Name"] == "from-oci"
    a, gone, old, new, marker = run_and_cat(daemon, ami, "a.txt", "gone.txt", "d/old", "d/new", "d/.wh..wh..opq")
    assert (a, gone, old, new, marker) == ("two\n", "MISSING\n", "MISSING\n", "new\n", "MISSING\n"), \
        "the upper layer wins, its whiteouts delete, and no marker is left behind"

    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"not a tar archive at all")
    r = daemon.shoal("image", "import", str(broken), "--name", "broken")
    assert r.returncode != 0 and "InvalidParameterValue" in r.stderr + r.stdout, r.stderr
    names = [i["Name"] for i in daemon.aws("ec2", "describe-images", "--owners", "self")["Images"]]
    assert "broken" not in names, "a refused import leaves nothing"


def instance_pids(daemon, iid):
    """The init PID the daemon recorded for an instance, and every process of it."""
    v = daemon.api(f"/_shoal/api/instances/{iid}")
    return v["pid"], v["pids"]


def launch(daemon):
    iid = daemon.aws("ec2", "run-instances", "--image-id", daemon.base_image())["Instances"][0]["InstanceId"]
    daemon.wait_state(iid, "running")
    return iid


def test_down_leaves_instances_running_and_a_restart_readopts_them(daemon):
    iid = launch(daemon)
    init, pids = instance_pids(daemon, iid)
    old_endpoint, old_pid = daemon.endpoint, daemon.pid

    r = daemon.shoal("down")
    assert r.returncode == 0, r.stderr
    assert f"pid {old_pid}" in r.stdout and "has stopped" in r.stdout
    assert "1 instance keep running" in r.stdout and "re-adopts" in r.stdout
    daemon.proc.wait(timeout=30)
    assert port_closed(old_endpoint)
    assert not process_gone(init), "the instance keeps running while the daemon is down"

    # No daemon: a clear message and a non-zero exit.
    for args in (("down",), ("down", "--stop-instances"), ("reset", "--yes")):
        r = daemon.shoal(*args)
        assert r.returncode != 0 and "no Shoal daemon is running at " + old_endpoint in r.stderr, (args, r.stderr)
    r = daemon.shoal("down", "now")
    assert r.returncode != 0 and "unexpected argument" in r.stderr

    daemon.start()
    assert daemon.instance(iid)["State"]["Name"] == "running"
    assert instance_pids(daemon, iid)[0] == init, "re-adopted: the same init, not a reboot"
    assert daemon.shoal("ssh", iid, "--", "echo", "still here").stdout == "still here\n"


def test_shutdown_route_is_for_local_clients_only(daemon):
    def post(headers, body=b"{}"):
        req = urllib.request.Request(daemon.endpoint + "/_shoal/shutdown", data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert post({"Content-Type": "text/plain"}) == 403, "a cross-site form cannot stop the daemon"
    assert post({"Content-Type": "application/json", "Origin": "http://example.com"}) == 403
    assert post({"Content-Type": "application/json", "Host": "evil.example:80"}) == 403
    assert post({"Content-Type": "application/json"}, body=b"{not json") == 400
    assert daemon.proc.poll() is None and not port_closed(daemon.endpoint)


def test_down_stop_instances_stops_them_and_they_start_again(daemon):
    iid = launch(daemon)
    _, pids = instance_pids(daemon, iid)
    assert pids

    r = daemon.shoal("down", "--stop-instances")
    assert r.returncode == 0, r.stderr
    assert f"Stopped 1 instance ({iid})" in r.stdout, r.stdout
    assert "keep running" not in r.stdout
    daemon.proc.wait(timeout=30)
    assert port_closed(daemon.endpoint)
    assert all(process_gone(p) for p in pids), "no process of the instance is left"

    daemon.start()
    inst = daemon.instance(iid)
    assert inst["State"]["Name"] == "stopped"
    assert inst["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    daemon.aws("ec2", "start-instances", "--instance-ids", iid)
    daemon.wait_state(iid, "running")
    assert daemon.shoal("ssh", iid, "--", "echo", "back").stdout == "back\n"


def test_reset_asks_then_removes_every_instance_and_group(daemon):
    ami = daemon.base_image()
    iid = launch(daemon)
    _, pids = instance_pids(daemon, iid)
    subnet = daemon.aws("ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true")["Subnets"][0]["SubnetId"]
    daemon.aws("ec2", "create-launch-template", "--launch-template-name", "reset-lt",
               "--launch-template-data", f'{{"ImageId":"{ami}"}}')
    daemon.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "reset-group",
               "--launch-template", "LaunchTemplateName=reset-lt", "--min-size", "1", "--max-size", "1",
               "--vpc-zone-identifier", subnet)
    wait_for("the group's instance", lambda: daemon.aws("autoscaling", "describe-auto-scaling-groups")["AutoScalingGroups"][0]["Instances"])

    r = daemon.shoal("reset", input="no\n")
    assert r.returncode != 0 and "Type 'yes'" in r.stdout and "not reset" in r.stderr
    assert daemon.instance(iid)["State"]["Name"] == "running", "not confirmed: nothing changes"

    r = daemon.shoal("reset", "--yes")
    assert r.returncode == 0, r.stderr
    assert "2 instances" in r.stdout and "1 auto scaling groups" in r.stdout and "1 launch templates" in r.stdout, r.stdout
    assert daemon.aws("ec2", "describe-instances")["Reservations"] == []
    assert daemon.aws("autoscaling", "describe-auto-scaling-groups")["AutoScalingGroups"] == []
    assert all(process_gone(p) for p in pids)
    assert daemon.aws("ec2", "describe-images", "--owners", "amazon")["Images"], "the defaults are back"

    r = daemon.shoal("reset", input="yes\n")
    assert r.returncode == 0 and "nothing to remove" in r.stdout, r.stdout
