"""`GET /metrics` as Prometheus scrapes it: the text exposition format, parsed by a
small parser here, and values that move with what the daemon does — API requests and
errors, store commits, reconcile passes, an instance's CPU, a target's health and the
load balancer's requests and response times."""
import re
import urllib.request

import pytest

from elbv2_lab import lab_stack, launch_lab_instances, spray, wait_in_service
from harness import Daemon, wait_for

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{family: {"help", "type", "samples": [(name, {labels}, value)]}} of a text-format
    exposition; raises on a line the format does not allow."""
    families, current = {}, None
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, rest = line.split(" ", 3)
            current = families.setdefault(name, {"samples": []})
            current[kind.lower()] = rest
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.groups()
        family = next(f for f in families if name == f or name.startswith(f + "_"))
        families[family]["samples"].append((name, dict(LABEL.findall(labels or "")), float(value)))
    return families


def scrape(d):
    with urllib.request.urlopen(d.endpoint + "/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(r.read().decode())


def value(families, name, **labels):
    family = next(f for f in families if name == f or name.startswith(f + "_"))
    found = [v for n, lab, v in families[family]["samples"]
             if n == name and all(lab.get(k) == want for k, want in labels.items())]
    return sum(found) if found else 0.0


@pytest.fixture
def daemon():
    d = Daemon("--metric-period", "1")
    try:
        yield d
    finally:
        d.close()


def test_daemon_health_moves(daemon):
    ec2 = daemon.boto("ec2")
    before = scrape(daemon)
    for family in ["shoal_api_requests_total", "shoal_api_errors_total", "shoal_reconcile_passes_total",
                   "shoal_store_commit_seconds", "shoal_target_group_targets"]:
        assert before[family]["help"] and before[family]["type"], family
    assert before["shoal_store_commit_seconds"]["type"] == "histogram"

    ec2.describe_vpcs()
    ec2.describe_vpcs()
    with pytest.raises(Exception):
        ec2.describe_instances(InstanceIds=["i-0000000000000dead"])
    ec2.create_key_pair(KeyName="metrics-key")
    after = scrape(daemon)
    assert value(after, "shoal_api_requests_total", service="ec2", action="DescribeVpcs") == \
        value(before, "shoal_api_requests_total", service="ec2", action="DescribeVpcs") + 2
    assert value(after, "shoal_api_errors_total", service="ec2", action="DescribeInstances",
                 code="InvalidInstanceID.NotFound") == 1
    assert value(after, "shoal_api_errors_total", action="DescribeVpcs") == 0
    commits = value(after, "shoal_store_commit_seconds_count")
    assert commits > value(before, "shoal_store_commit_seconds_count")
    assert value(after, "shoal_store_commit_seconds_bucket", le="+Inf") == commits
    assert value(after, "shoal_store_commit_seconds_sum") > 0
    wait_for("reconcile passes", lambda: value(scrape(daemon), "shoal_reconcile_passes_total", controller="instances")
             > value(after, "shoal_reconcile_passes_total", controller="instances"), timeout=30)


def test_instance_target_and_load_balancer_metrics(daemon):
    [inst] = launch_lab_instances(daemon, 1)
    elb = daemon.boto("elbv2")
    lb, tg, _ = lab_stack(daemon, targets=[inst["id"]])
    wait_in_service(elb, tg["TargetGroupArn"])
    metrics = wait_for("healthy target gauge", lambda: (lambda m: m if value(
        m, "shoal_target_group_targets", target_group="exercise-target-group", state="healthy") == 1 else None)(
        scrape(daemon)), timeout=30)
    assert value(metrics, "shoal_target_group_targets", target_group="exercise-target-group", state="unhealthy") == 0
    assert value(metrics, "shoal_instances", region="us-east-1", state="running") == 1
    wait_for("a CPU sample", lambda: any(lab.get("instance_id") == inst["id"] for _, lab, _ in
                                         scrape(daemon)["shoal_instance_cpu_utilization_percent"]["samples"]))

    dimension = lb["LoadBalancerArn"].split(":loadbalancer/")[1]
    answers = spray(daemon.endpoint, lb["DNSName"], count=20)
    assert all(status == 200 for status, _ in answers)
    counted = wait_for("20 requests counted", lambda: (lambda m: m if value(
        m, "shoal_load_balancer_requests_total", load_balancer=dimension) >= 20 else None)(scrape(daemon)),
        timeout=30)
    assert value(counted, "shoal_load_balancer_responses_total", load_balancer=dimension,
                 origin="target", code="2xx") >= 20
    assert value(counted, "shoal_load_balancer_target_response_time_seconds_count", load_balancer=dimension) >= 20
    assert value(counted, "shoal_load_balancer_target_response_time_seconds_sum", load_balancer=dimension) > 0

    elb.deregister_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": inst["id"]}])
    wait_for("target leaves the healthy gauge", lambda: value(
        scrape(daemon), "shoal_target_group_targets", target_group="exercise-target-group", state="healthy") == 0,
        timeout=60)
    daemon.boto("ec2").terminate_instances(InstanceIds=[inst["id"]])
    daemon.wait_state(inst["id"], "terminated")


def test_every_region_with_state_is_scraped_with_its_region(daemon):
    """An instance and a load balancer in us-east-1 and in eu-west-1: each region's
    resources appear under their own `region` label, the daemon's health once."""
    from test_regions import launch_app, load_balancer
    home = launch_app(daemon, daemon.boto("ec2"), "us-east-1a")
    away = launch_app(daemon, daemon.boto("ec2", region_name="eu-west-1"), "eu-west-1b")
    lb, tg = load_balancer(daemon, "eu-west-1", away["InstanceId"])
    m = wait_for("both regions' targets and CPU samples", lambda: (lambda m: m if value(
        m, "shoal_target_group_targets", region="eu-west-1", target_group="app", state="healthy") == 1
        and {lab.get("region") for _, lab, _ in m["shoal_instance_cpu_utilization_percent"]["samples"]}
        >= {"us-east-1", "eu-west-1"} else None)(scrape(daemon)), timeout=60)
    assert value(m, "shoal_instances", region="us-east-1", state="running") == 1
    assert value(m, "shoal_instances", region="eu-west-1", state="running") == 1
    cpu = {lab["instance_id"]: lab["region"] for _, lab, _ in m["shoal_instance_cpu_utilization_percent"]["samples"]}
    assert cpu[home["InstanceId"]] == "us-east-1" and cpu[away["InstanceId"]] == "eu-west-1"
    assert value(m, "shoal_target_group_targets", region="us-east-1", target_group="app") == 0
    dimension = lb["LoadBalancerArn"].split(":loadbalancer/")[1]
    assert all(status == 200 for status, _ in spray(daemon.endpoint, lb["DNSName"], count=10))
    counted = wait_for("eu-west-1's requests counted", lambda: (lambda m: m if value(
        m, "shoal_load_balancer_requests_total", region="eu-west-1", load_balancer=dimension) >= 10 else None)(
        scrape(daemon)), timeout=30)
    assert value(counted, "shoal_load_balancer_requests_total", region="us-east-1") == 0
    # One family each, whatever the number of regions: the health figures are not repeated.
    assert len([s for s in counted["shoal_store_commit_seconds"]["samples"]
                if s[0] == "shoal_store_commit_seconds_count"]) == 1
    assert value(counted, "shoal_api_requests_total", service="ec2", action="RunInstances") == 2
