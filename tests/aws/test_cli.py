"""Shoal's own CLI as a user runs it: `shoal up` builds the lab's stack, `shoal image
import` makes an AMI from a directory."""
import urllib.request

from harness import wait_for


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


def test_image_import_and_instance_status(daemon, tmp_path):
    (tmp_path / "etc").mkdir()
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
