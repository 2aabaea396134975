"""Terraform with the hashicorp/aws provider against a real daemon: the lab's stack
(examples/terraform/main.tf) applies, the load balancer serves the app, a second plan
shows no changes, and destroy leaves nothing behind; likewise an instance, an image made
from it and a VPC of its own (tests/terraform/instance), and a launch template with
options and an instance launched from it (tests/terraform/launch_template).

The provider comes from a local filesystem mirror (a `registry.terraform.io` folder
holding `terraform-provider-aws*`) through a generated CLI config: nothing is
downloaded. Without terraform or the mirror the test says why and skips."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import tool_calls
from harness import ROOT, wait_for

EXAMPLE = ROOT / "examples" / "terraform"
CONFIGS = ROOT / "tests" / "terraform"
STEP_TIMEOUT = 600  # seconds for one terraform command (apply waits for ELB capacity)


def plugin_mirror():
    """The first known folder that holds registry.terraform.io/…/terraform-provider-aws*."""
    candidates = [os.environ.get("SHOAL_TF_PLUGINS"), "/opt/tf-plugins",
                  str(Path.home() / ".terraform.d" / "plugins"), "/usr/share/terraform/plugins",
                  str(Path.home() / ".local" / "share" / "terraform" / "plugins")]
    for c in filter(None, candidates):
        registry = Path(c) / "registry.terraform.io"
        if registry.is_dir() and any(registry.glob("hashicorp/aws/*/*/terraform-provider-aws*")):
            return Path(c)
    return None


TERRAFORM = shutil.which("terraform")
MIRROR = plugin_mirror()
pytestmark = pytest.mark.skipif(
    TERRAFORM is None or MIRROR is None,
    reason="needs `terraform` on PATH" if TERRAFORM is None
    else "no provider mirror (registry.terraform.io/hashicorp/aws/…) in SHOAL_TF_PLUGINS, "
         "/opt/tf-plugins, ~/.terraform.d/plugins or /usr/share/terraform/plugins")


class Terraform:
    """One working directory: a copy of a configuration, offline init, and commands."""

    def __init__(self, daemon, source, work):
        self.daemon = daemon
        self.work = work
        shutil.copytree(source, work / "config")
        # Configurations refer to ../lab/setup.sh: keep that relative path valid.
        shutil.copytree(ROOT / "examples" / "lab", work / "lab")
        self.dir = work / "config"
        cli_config = work / "terraformrc"
        cli_config.write_text(
            'provider_installation {\n'
            f'  filesystem_mirror {{\n    path    = "{MIRROR}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n'
            '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n')
        self.env = dict(os.environ, TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1",
                        TF_INPUT="0", CHECKPOINT_DISABLE="1", TF_DATA_DIR=str(work / "tfdata"),
                        TF_VAR_endpoint=daemon.endpoint, AWS_ACCESS_KEY_ID="test",
                        AWS_SECRET_ACCESS_KEY="test", AWS_EC2_METADATA_DISABLED="true")
        for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
            self.env.pop(k, None)

    def run(self, *args, ok=(0,)):
        r = subprocess.run([TERRAFORM, *args, "-no-color"], cwd=self.dir, env=self.env,
                           capture_output=True, text=True, timeout=STEP_TIMEOUT)
        assert r.returncode in ok, (f"terraform {' '.join(args)} exited {r.returncode}:\n"
                                    f"{r.stdout[-6000:]}\n{r.stderr[-6000:]}\ndaemon log: {self.daemon.log()}")
        return r

    def output(self, name):
        return self.run("output", "-raw", name).stdout.strip()


@pytest.fixture
def daemon():
    # Fast CloudWatch minutes and health checks, as the other lab tests run them.
    yield from tool_calls.checked_daemon("Terraform", "--metric-period", "5")


def through_lb(daemon, dns_name):
    import urllib.request
    req = urllib.request.Request(daemon.endpoint + "/", headers={"Host": dns_name})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def nothing_left(daemon):
    """Every resource the lab configuration makes, as AWS's describe calls list them."""
    ec2 = daemon.boto("ec2")
    left = {
        "instances": [i["InstanceId"] for r in ec2.describe_instances(Filters=[
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])["Reservations"]
            for i in r["Instances"]],
        "groups": [g["AutoScalingGroupName"] for g in daemon.boto("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]],
        "load balancers": [lb["LoadBalancerName"] for lb in daemon.boto("elbv2").describe_load_balancers()["LoadBalancers"]],
        "target groups": [t["TargetGroupName"] for t in daemon.boto("elbv2").describe_target_groups()["TargetGroups"]],
        "launch templates": [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"]],
        "key pairs": [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]],
        "security groups": [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]
                            if g["GroupName"] != "default"],
        "alarms": [a["AlarmName"] for a in daemon.boto("cloudwatch").describe_alarms()["MetricAlarms"]],
        "policies": [p["PolicyName"] for p in daemon.boto("autoscaling").describe_policies()["ScalingPolicies"]],
    }
    return {k: v for k, v in left.items() if v}


def test_lab_applies_serves_has_no_drift_and_destroys(daemon, tmp_path):
    tf = Terraform(daemon, EXAMPLE, tmp_path)
    tf.run("init", "-input=false")
    tf.run("apply", "-auto-approve", "-input=false")

    dns_name = tf.output("lb_dns_name")
    status, body = wait_for("the app through exercise-lb", lambda: (lambda r: r if r[0] == 200 else None)(
        through_lb(daemon, dns_name)), timeout=120, interval=1)
    assert "A project" in body, body
    group = daemon.boto("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["EXERCISE-GROUP"])["AutoScalingGroups"][0]
    assert group["TargetGroupARNs"] == [tf.output("target_group_arn")]
    assert [i["LifecycleState"] for i in group["Instances"]] == ["InService"]

    plan = tf.run("plan", "-detailed-exitcode", "-input=false", ok=(0, 2))
    assert plan.returncode == 0, f"a second plan wants changes (drift):\n{plan.stdout[-8000:]}"

    tf.run("destroy", "-auto-approve", "-input=false")
    assert wait_for("nothing left", lambda: nothing_left(daemon) == {} or None, timeout=30) is True


def test_instance_image_and_vpc_apply_have_no_drift_and_destroy(daemon, tmp_path):
    tf = Terraform(daemon, CONFIGS / "instance", tmp_path)
    tf.run("init", "-input=false")
    tf.run("apply", "-auto-approve", "-input=false")
    ec2 = daemon.boto("ec2")
    instance_id, image_id = tf.output("instance_id"), tf.output("image_id")
    inst = daemon.instance(instance_id)
    assert inst["Tags"] == [{"Key": "Name", "Value": "exercise-instance"}]
    assert ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"]["Value"] == "stop"
    vpc = inst["VpcId"]
    assert ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"] is True
    assert tf.output("route_table_id") == ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0]["RouteTableId"]
    [snapshot] = [m["Ebs"]["SnapshotId"] for m in ec2.describe_images(ImageIds=[image_id])["Images"][0]["BlockDeviceMappings"]]

    plan = tf.run("plan", "-detailed-exitcode", "-input=false", ok=(0, 2))
    assert plan.returncode == 0, f"a second plan wants changes (drift):\n{plan.stdout[-8000:]}"

    tf.run("destroy", "-auto-approve", "-input=false")
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    assert snapshot not in [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]]
    assert daemon.instance(instance_id)["State"]["Name"] == "terminated"
    assert [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]] == [
        v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]]


def test_launch_template_options_have_no_drift_and_reach_the_instance(daemon, tmp_path):
    """A template's options are described as Terraform wrote them (no drift) and applied."""
    tf = Terraform(daemon, CONFIGS / "launch_template", tmp_path)
    tf.run("init", "-input=false")
    tf.run("apply", "-auto-approve", "-input=false")
    inst = daemon.instance(tf.output("instance_id"))
    assert [g["GroupId"] for g in inst["SecurityGroups"]] == [tf.output("security_group_id")]
    assert (inst["MetadataOptions"]["HttpTokens"], inst["MetadataOptions"]["HttpPutResponseHopLimit"]) == ("optional", 3)

    plan = tf.run("plan", "-detailed-exitcode", "-input=false", ok=(0, 2))
    assert plan.returncode == 0, f"a second plan wants changes (drift):\n{plan.stdout[-8000:]}"

    tf.run("destroy", "-auto-approve", "-input=false")
    ec2 = daemon.boto("ec2")
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []
    assert daemon.instance(inst["InstanceId"])["State"]["Name"] == "terminated"
