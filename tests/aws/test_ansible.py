"""Ansible drives the lab against a real daemon: the amazon.aws and community.aws modules
bundled in the pinned `ansible` package (tests/requirements.txt), run by the venv's
`ansible-playbook` on localhost. tests/ansible/lab.yml makes the lab's resources (the
default VPC and subnets read, a key pair, a security group with rules, a stopped instance
in it, an image of it, a launch template with metadata options, a target group, a load
balancer with a listener, an Auto Scaling group waited for, a policy and an alarm, and
every `*_info` module); a second run changes nothing; tests/ansible/teardown.yml deletes
it all, and boto3 finds nothing left.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

import tool_calls

PLAYBOOKS = Path(__file__).resolve().parent.parent / "ansible"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

pytestmark = pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists(),
                                reason=f"no {ANSIBLE_PLAYBOOK}: run scripts/setup-python.sh")


@pytest.fixture
def daemon():
    yield from tool_calls.checked_daemon("Ansible")


# Every call the playbooks (and the boto3 checks) make, as Shoal's /metrics counts them:
# none is refused as unknown, and only these lookups of what does not exist yet fail.
CALLS = {
    "autoscaling": [
        "CreateAutoScalingGroup", "DeleteAutoScalingGroup", "DescribeAutoScalingGroups",
        "DescribeLifecycleHooks", "DescribePolicies", "DisableMetricsCollection", "PutScalingPolicy",
        "UpdateAutoScalingGroup",
    ],
    "ec2": [
        "AuthorizeSecurityGroupIngress", "CreateImage", "CreateKeyPair", "CreateLaunchTemplate",
        "CreateSecurityGroup", "DeleteKeyPair", "DeleteLaunchTemplate", "DeleteSecurityGroup",
        "DeleteSnapshot", "DeregisterImage", "DescribeImageAttribute", "DescribeImages",
        "DescribeInstanceAttribute", "DescribeInstanceStatus", "DescribeInstances", "DescribeKeyPairs",
        "DescribeLaunchTemplateVersions", "DescribeLaunchTemplates", "DescribeSecurityGroups",
        "DescribeSnapshots", "DescribeSubnets", "DescribeVpcAttribute", "DescribeVpcs", "RunInstances",
        "StopInstances", "TerminateInstances",
    ],
    "elasticloadbalancing": [
        "CreateListener", "CreateLoadBalancer", "CreateTargetGroup", "DeleteListener", "DeleteLoadBalancer",
        "DeleteTargetGroup", "DescribeListeners", "DescribeLoadBalancerAttributes", "DescribeLoadBalancers",
        "DescribeRules", "DescribeTags", "DescribeTargetGroupAttributes", "DescribeTargetGroups",
        "DescribeTargetHealth", "ModifyTargetGroupAttributes",
    ],
    "monitoring": [
        "DeleteAlarms", "DescribeAlarms", "PutMetricAlarm",
    ],
    "sts": [
        "GetCallerIdentity",
    ],
}
REFUSED = {("ec2", "DescribeKeyPairs", "InvalidKeyPair.NotFound"),
           ("ec2", "DescribeLaunchTemplates", "InvalidLaunchTemplateName.NotFoundException"),
           ("elasticloadbalancing", "DescribeLoadBalancers", "LoadBalancerNotFound"),
           ("elasticloadbalancing", "DescribeTargetGroups", "TargetGroupNotFound")}


def playbook(daemon, home, name):
    """Runs one playbook (bounded) and returns its JSON report: every task's result."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update({
        "ANSIBLE_HOME": str(home), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"), "ANSIBLE_REMOTE_TEMP": str(home / "remote"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_PIPELINING": "1", "PYTHONWARNINGS": "ignore",
        # No credentials or endpoint from the environment: the playbook names them.
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })
    p = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", "-e", f"endpoint={daemon.endpoint}",
         str(PLAYBOOKS / name)],
        env=env, capture_output=True, text=True, timeout=300)
    try:
        report = json.loads(p.stdout[p.stdout.index("{"):])
    except ValueError:
        pytest.fail(f"{name}: exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    failed = {t["task"]["name"]: t["hosts"]["localhost"].get("assertion") or t["hosts"]["localhost"].get("msg")
              for play in report["plays"] for t in play["tasks"]
              if t["hosts"].get("localhost", {}).get("failed")}
    assert p.returncode == 0 and not failed, f"{name}: {failed}\n{p.stderr[-2000:]}\n{daemon.log()}"
    return report


def api_calls(daemon):
    """The AWS API calls the daemon served, {(service, action)}, and those it refused,
    {(service, action, code)}, from its Prometheus counters."""
    with urllib.request.urlopen(f"{daemon.endpoint}/metrics", timeout=10) as r:
        text = r.read().decode()
    calls = set(re.findall(r'^shoal_api_requests_total\{service="([^"]+)",action="([^"]+)"\}', text, re.M))
    errors = set(re.findall(
        r'^shoal_api_errors_total\{service="([^"]+)",action="([^"]+)",code="([^"]+)"\}', text, re.M))
    return calls, errors


def results(report):
    """{task name: its result}, in order (unnamed tasks by their module)."""
    out = {}
    for play in report["plays"]:
        for t in play["tasks"]:
            out[t["task"]["name"] or t["task"]["action"]] = t["hosts"]["localhost"]
    return out


def test_the_lab_with_ansible_is_idempotent_and_torn_down(daemon):
    home = Path(tempfile.mkdtemp(prefix="shoal-ansible-"))
    try:
        first = results(playbook(daemon, home, "lab.yml"))
        for task in ["Key pair", "Security group with rules", "Instance in that group", "Instance stopped (to be imaged)",
                     "Image of the instance", "Launch template with metadata options", "Target group",
                     "Load balancer with a listener", "Auto Scaling group from the template",
                     "Scaling policy", "Alarm on the group's CPU"]:
            assert first[task].get("changed"), f"{task} made nothing: {first[task]}"
        sg = first["Security group with rules"]
        assert {(r["from_port"], r["ip_ranges"][0]["cidr_ip"], r["ip_ranges"][0].get("description"))
                for r in sg["ip_permissions"]} == {(3000, "0.0.0.0/0", "the app"), (22, "10.0.0.0/8", None)}
        assert first["Auto Scaling group from the template"]["in_service_instances"] == 1

        second = results(playbook(daemon, home, "lab.yml"))
        changed = [name for name, r in second.items() if r.get("changed")]
        assert changed == [], f"a second run changed {changed}"

        ec2, elbv2, autoscaling = daemon.boto("ec2"), daemon.boto("elbv2"), daemon.boto("autoscaling")
        versions = ec2.describe_launch_template_versions(LaunchTemplateName="ansible-template")
        assert [v["VersionNumber"] for v in versions["LaunchTemplateVersions"]] == [1]
        data = versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
        (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["ansible-asg"])["AutoScalingGroups"]
        assert [i["LifecycleState"] for i in group["Instances"]] == ["InService"]
        (instance,) = [i for r in ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["ansible-instance"]}])
                       ["Reservations"] for i in r["Instances"]]
        assert instance["State"]["Name"] == "stopped"
        assert [g["GroupName"] for g in instance["SecurityGroups"]] == ["ansible-web"]

        playbook(daemon, home, "teardown.yml")
        assert autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["ansible-asg"])["AutoScalingGroups"] == []
        assert elbv2.describe_load_balancers()["LoadBalancers"] == []
        assert elbv2.describe_target_groups()["TargetGroups"] == []
        assert ec2.describe_launch_templates()["LaunchTemplates"] == []
        assert ec2.describe_images(Owners=["self"])["Images"] == []
        assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
        live = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                if i["State"]["Name"] != "terminated"]
        assert live == []
        assert [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]] == ["default"]
        assert ec2.describe_key_pairs()["KeyPairs"] == []
        assert daemon.boto("cloudwatch").describe_alarms()["MetricAlarms"] == []

        calls, errors = api_calls(daemon)
        assert calls == {(service, action) for service, actions in CALLS.items() for action in actions}
        assert errors == REFUSED
    finally:
        shutil.rmtree(home, ignore_errors=True)
