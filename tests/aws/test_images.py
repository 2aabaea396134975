"""Images of container instances as stacks of layers, driven as a user would: CreateImage
with and without NoReboot, images sharing their lower layers, DeregisterImage keeping
what a running instance stands on, `shoal image usage`, and an image with no C library
at all (busybox) booting with Shoal's init.

Skipped, saying why, where the host cannot run containers (see test_isolation.py).
"""
import os
import shutil

import pytest

from harness import Daemon, wait_for
from test_isolation import REASON

needs_containers = pytest.mark.skipif(REASON is not None, reason=REASON or "")

BUSYBOX = "/bin/busybox"  # Debian's busybox-static (scripts/setup-runtime.sh)


@pytest.fixture(scope="module")
def daemon():
    if REASON:
        pytest.skip(REASON)
    d = Daemon("--isolation", "container")
    yield d
    d.close()


def sh(daemon, iid, script):
    r = daemon.shoal("ssh", iid, "--", "sh", "-c", script)
    assert r.returncode == 0, (script, r.stdout, r.stderr)
    return r.stdout


def launch(daemon, image, user_data=None):
    args = ["ec2", "run-instances", "--image-id", image, "--instance-type", "t2.micro"]
    if user_data:
        args += ["--user-data", user_data]
    iid = daemon.aws(*args)["Instances"][0]["InstanceId"]
    daemon.wait_state(iid, "running")
    return iid


def image_state(daemon, image):
    return daemon.aws("ec2", "describe-images", "--image-ids", image)["Images"][0]["State"]


def wait_available(daemon, image):
    wait_for(f"{image} available", lambda: image_state(daemon, image) == "available", timeout=60)


def usage(daemon):
    return daemon.api("/_shoal/api/images/usage")


def layer(daemon, layer_id):
    return next((l for l in usage(daemon)["layers"] if l["id"] == layer_id), None)


def init_started(daemon, iid):
    """The start time of the instance's PID 1, in clock ticks since the host booted."""
    return sh(daemon, iid, "cut -d' ' -f22 /proc/1/stat").strip()


@needs_containers
def test_an_image_without_a_c_library_boots_and_runs_cloud_config(daemon, tmp_path):
    if not os.path.exists(BUSYBOX) or b"ld-linux" in open(BUSYBOX, "rb").read(4096):
        pytest.skip("no static busybox (scripts/setup-runtime.sh)")
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    for d in ["etc", "tmp", "proc", "dev", "run", "root"]:
        (root / d).mkdir()
    shutil.copy(BUSYBOX, root / "bin" / "busybox")
    for applet in ["sh", "ls", "cat", "echo", "cut", "sleep"]:
        os.symlink("busybox", root / "bin" / applet)
    assert not (root / "lib").exists() and not (root / "lib64").exists()
    image = daemon.shoal("image", "import", str(root), "--name", "tiny-busybox")
    assert image.returncode == 0, image.stderr
    image_id = image.stdout.strip()

    # #cloud-config is run by Shoal's own binary again: through the init's loader too.
    cloud_config = "#cloud-config\nwrite_files:\n  - path: /etc/greeting\n    content: hello from cloud-init\n"
    iid = launch(daemon, image_id, user_data=cloud_config)
    assert sh(daemon, iid, "ls /").split() == sorted(["bin", "dev", "etc", "proc", "root", "run", "tmp"])
    wait_for("cloud-config's file", lambda: "hello from cloud-init" in daemon.shoal(
        "ssh", iid, "--", "cat", "/etc/greeting").stdout, timeout=20)
    daemon.aws("ec2", "terminate-instances", "--instance-ids", iid)


@needs_containers
def test_create_image_freezes_only_the_changes_and_shares_the_layers_below(daemon):
    base = daemon.base_image()
    iid = launch(daemon, base)
    sh(daemon, iid, "echo v1 > /opt/marker && rm /etc/motd")
    before = init_started(daemon, iid)
    child = daemon.aws("ec2", "create-image", "--instance-id", iid, "--name", "with-marker",
                       "--no-reboot")["ImageId"]
    wait_available(daemon, child)
    assert init_started(daemon, iid) == before, "NoReboot: the instance kept running"

    seen = usage(daemon)
    [stack] = [i["layers"] for i in seen["images"] if i["image_id"] == child]
    [base_stack] = [i["layers"] for i in seen["images"] if i["image_id"] == base]
    assert stack == [child, *base_stack], "the image is its own layer over its parent's"
    own, below = layer(daemon, child), layer(daemon, base_stack[0])
    assert below["bytes"] > 50 * 2**20, "the Debian base layer"
    assert own["bytes"] < 5 * 2**20, f"only the changes were copied: {own}"
    assert child in below["images"] and base in below["images"]

    grandchild_from = launch(daemon, child)
    assert sh(daemon, grandchild_from, "cat /opt/marker").strip() == "v1"
    assert sh(daemon, grandchild_from, "test -e /etc/motd && echo present || echo gone").strip() == "gone", \
        "a file deleted before imaging stays deleted (overlayfs whiteout in the layer)"
    sh(daemon, grandchild_from, "echo v2 > /opt/marker")
    daemon.aws("ec2", "stop-instances", "--instance-ids", grandchild_from)
    daemon.wait_state(grandchild_from, "stopped")
    grandchild = daemon.aws("ec2", "create-image", "--instance-id", grandchild_from,
                            "--name", "with-marker-v2")["ImageId"]
    wait_available(daemon, grandchild)
    [stack2] = [i["layers"] for i in usage(daemon)["images"] if i["image_id"] == grandchild]
    assert stack2 == [grandchild, *stack], "three images, one base layer"
    latest = launch(daemon, grandchild)
    assert sh(daemon, latest, "cat /opt/marker").strip() == "v2"

    r = daemon.shoal("image", "usage")
    assert r.returncode == 0 and child in r.stdout and "Total on disk" in r.stdout, r.stdout
    daemon.aws("ec2", "terminate-instances", "--instance-ids", iid, grandchild_from, latest)


@needs_containers
def test_create_image_of_a_running_instance_reboots_it_as_aws_does(daemon):
    iid = launch(daemon, daemon.base_image())
    sh(daemon, iid, "echo before-reboot > /opt/state")
    before = init_started(daemon, iid)
    image = daemon.aws("ec2", "create-image", "--instance-id", iid, "--name", "rebooted")["ImageId"]
    wait_available(daemon, image)
    assert daemon.instance(iid)["State"]["Name"] == "running"
    wait_for("the instance back up", lambda: daemon.shoal("ssh", iid, "--", "true").returncode == 0, timeout=30)
    assert init_started(daemon, iid) != before, "shut down, imaged and booted again"
    assert sh(daemon, iid, "cat /opt/state").strip() == "before-reboot", "its disk survives the reboot"
    from_image = launch(daemon, image)
    assert sh(daemon, from_image, "cat /opt/state").strip() == "before-reboot"
    daemon.aws("ec2", "terminate-instances", "--instance-ids", iid, from_image)


@needs_containers
def test_a_deregistered_image_keeps_the_layers_its_instances_stand_on(daemon):
    src = launch(daemon, daemon.base_image())
    sh(daemon, src, "echo kept > /opt/kept")
    image = daemon.aws("ec2", "create-image", "--instance-id", src, "--name", "short-lived",
                       "--no-reboot")["ImageId"]
    wait_available(daemon, image)
    user = launch(daemon, image)
    daemon.aws("ec2", "deregister-image", "--image-id", image)
    assert daemon.aws_error("ec2", "describe-images", "--image-ids", image)[0] == "InvalidAMIID.NotFound"
    kept = layer(daemon, image)
    assert kept and kept["images"] == [] and kept["instances"] == 1, kept

    # Its disk still mounts over the layer: stop and start it again.
    daemon.aws("ec2", "stop-instances", "--instance-ids", user)
    daemon.wait_state(user, "stopped")
    daemon.aws("ec2", "start-instances", "--instance-ids", user)
    daemon.wait_state(user, "running")
    assert sh(daemon, user, "cat /opt/kept").strip() == "kept"

    daemon.aws("ec2", "terminate-instances", "--instance-ids", user, src)
    daemon.wait_state(user, "terminated")
    wait_for("the layer removed", lambda: layer(daemon, image) is None, timeout=20)
