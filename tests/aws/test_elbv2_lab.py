"""Part 2 of the lab: an Application Load Balancer in front of two instances running the
lab app, the health checks the lab edits, and failover when one web server stops —
with Shoal's connect retry (no failed request) and without it (AWS's 502s)."""
import subprocess
import time

from harness import http_get, wait_for
from elbv2_lab import (AWS_502, default_network, health, lab_stack, launch_lab_instances, request,
                       security_group, spray, wait_in_service, wait_target, who)


def alternates(bodies, ids):
    """Round robin: every id answers and no target answers twice in a row."""
    names = [who(b) for b in bodies]
    assert set(names) == set(ids), names
    assert all(a != b for a, b in zip(names, names[1:])), names


def test_part2_with_the_cli(daemon):
    d = daemon
    vpc, subnets = default_network(d)
    groups = [security_group(d, "default"), security_group(d, "web")]
    a, b = launch_lab_instances(d, 2)

    lb = d.aws("elbv2", "create-load-balancer", "--name", "exercise-lb", "--subnets", *subnets[:2],
               "--security-groups", *groups)["LoadBalancers"][0]
    arn, dns = lb["LoadBalancerArn"], lb["DNSName"]
    assert arn.startswith("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/exercise-lb/")
    assert dns.startswith("exercise-lb-") and dns.endswith(".us-east-1.elb.localhost")
    assert lb["Scheme"] == "internet-facing" and lb["Type"] == "application" and lb["VpcId"] == vpc
    assert sorted(z["ZoneName"] for z in lb["AvailabilityZones"]) == ["us-east-1a", "us-east-1b"]
    assert sorted(lb["SecurityGroups"]) == sorted(groups)
    lb_ip = lb["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["IpAddress"]
    assert lb_ip.startswith(d.pool.rsplit(".", 1)[0] + "."), lb_ip
    d.aws("elbv2", "wait", "load-balancer-available", "--load-balancer-arns", arn)

    tg = d.aws("elbv2", "create-target-group", "--name", "exercise-target-group", "--protocol", "HTTP",
               "--port", "3000", "--vpc-id", vpc, "--health-check-path", "/health")["TargetGroups"][0]
    tg_arn = tg["TargetGroupArn"]
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthCheckTimeoutSeconds"], tg["HealthyThresholdCount"],
            tg["UnhealthyThresholdCount"], tg["Matcher"]["HttpCode"], tg["TargetType"]) == (30, 5, 5, 2, "200", "instance")
    # The lab's edit: interval 5 s, healthy and unhealthy thresholds 2.
    tg = d.aws("elbv2", "modify-target-group", "--target-group-arn", tg_arn, "--health-check-interval-seconds", "5",
               "--health-check-timeout-seconds", "2", "--healthy-threshold-count", "2",
               "--unhealthy-threshold-count", "2")["TargetGroups"][0]
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthyThresholdCount"]) == (5, 2)

    listener = d.aws("elbv2", "create-listener", "--load-balancer-arn", arn, "--protocol", "HTTP", "--port", "80",
                     "--default-actions", f"Type=forward,TargetGroupArn={tg_arn}")["Listeners"][0]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == tg_arn
    described = d.aws("elbv2", "describe-target-groups", "--target-group-arns", tg_arn)["TargetGroups"][0]
    assert described["LoadBalancerArns"] == [arn]

    d.aws("elbv2", "register-targets", "--target-group-arn", tg_arn, "--targets", f"Id={a['id']}", f"Id={b['id']}")
    d.aws("elbv2", "wait", "target-in-service", "--target-group-arn", tg_arn)
    desc = d.aws("elbv2", "describe-target-health", "--target-group-arn", tg_arn)["TargetHealthDescriptions"]
    assert sorted((t["Target"]["Id"], t["Target"]["Port"], t["HealthCheckPort"], t["TargetHealth"]["State"]) for t in desc) \
        == sorted([(a["id"], 3000, "3000", "healthy"), (b["id"], 3000, "3000", "healthy")])

    # The DNS name answers on Shoal's port, alternating between the instances.
    replies = [request(d.endpoint, dns)[1] for _ in range(6)]
    alternates(replies, [a["id"], b["id"]])
    port = d.endpoint.rsplit(":", 1)[1]
    curl = subprocess.run(["curl", "-s", "--max-time", "5", f"http://{dns}:{port}/"], capture_output=True, text=True)
    assert who(curl.stdout) in (a["id"], b["id"]), curl
    # And on its own address and listener port, when the OS lets it bind :80.
    state = d.aws("elbv2", "describe-load-balancers", "--names", "exercise-lb")["LoadBalancers"][0]["State"]
    if "Reason" not in state:
        assert who(http_get(f"http://{lb_ip}/")[1]) in (a["id"], b["id"])
    else:
        assert "port 80" in state["Reason"] and dns in state["Reason"]

    # The web server on one instance stops; Shoal retries the refused connects on the
    # other target.
    elb = d.boto("elbv2")
    d.shoal("ssh", a["id"], "--", "service", "app", "stop")
    stopped_at = time.monotonic()
    # Once its port refuses connections (the process is gone), every refused connect
    # is retried: no client sees an error while the health checks notice.
    wait_for("port 3000 refused", lambda: http_get(f"http://{a['public_ip']}:3000/health")[0] == 0, timeout=10)
    seen = []
    while health(elb, tg_arn)[a["id"]][0] != "unhealthy":
        assert time.monotonic() - stopped_at < 30, "never marked unhealthy"
        seen += spray(d.endpoint, dns, count=3)
    detected = time.monotonic() - stopped_at
    assert seen and all(s == 200 and who(body) == b["id"] for s, body in seen), seen[:5]
    assert 3 <= detected <= 25, detected   # ~ interval 5 s x unhealthy threshold 2
    assert health(elb, tg_arn)[a["id"]] == ("unhealthy", "Target.FailedHealthChecks")
    assert {who(body) for _, body in spray(d.endpoint, dns, count=6)} == {b["id"]}

    d.shoal("ssh", a["id"], "--", "service", "app", "start")
    wait_target(elb, tg_arn, a["id"], "healthy", timeout=30)
    alternates([request(d.endpoint, dns)[1] for _ in range(6)], [a["id"], b["id"]])


def test_without_retry_clients_get_502_until_unhealthy(daemon):
    d = daemon
    a, b = launch_lab_instances(d, 2)
    lb, tg, _ = lab_stack(d, targets=[a["id"], b["id"]])
    elb, tg_arn, dns = d.boto("elbv2"), tg["TargetGroupArn"], lb["DNSName"]
    wait_in_service(elb, tg_arn)
    elb.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[
        {"Key": "shoal.retry_on_connect_failure.enabled", "Value": "false"}])

    d.shoal("ssh", b["id"], "--", "service", "app", "stop")
    stopped_at = time.monotonic()
    errors, ok = [], []
    while health(elb, tg_arn)[b["id"]][0] != "unhealthy":
        assert time.monotonic() - stopped_at < 30, "never marked unhealthy"
        for _ in range(4):
            status, body, headers = request(d.endpoint, lb["DNSName"])
            (ok if status == 200 else errors).append((status, body, headers))
    assert errors, "the stopped target's share fails until it is marked unhealthy"
    for status, body, headers in errors:
        assert status == 502 and body == AWS_502 and headers["server"] == "awselb/2.0", (status, body, headers)
    assert all(who(body) == a["id"] for _, body, _ in ok)
    assert health(elb, tg_arn)[b["id"]] == ("unhealthy", "Target.FailedHealthChecks")
    # Only healthy targets get traffic now: every request succeeds.
    assert [s for s, _ in spray(d.endpoint, dns, count=8)] == [200] * 8

    d.shoal("ssh", b["id"], "--", "service", "app", "start")
    wait_target(elb, tg_arn, b["id"], "healthy", timeout=30)
    assert {who(body) for _, body in spray(d.endpoint, dns, count=6)} == {a["id"], b["id"]}


def test_ip_targets_by_private_and_loopback_address(daemon):
    d = daemon
    a, b = launch_lab_instances(d, 2)
    # Registered by IP: one by its VPC address (as in AWS), one by its loopback address.
    lb, tg, _ = lab_stack(d, target_type="ip", targets=[a["private_ip"], b["public_ip"]])
    elb = d.boto("elbv2")
    assert tg["TargetType"] == "ip"
    wait_in_service(elb, tg["TargetGroupArn"])
    desc = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
    assert sorted(t["Target"]["Id"] for t in desc) == sorted([a["private_ip"], b["public_ip"]])
    alternates([request(d.endpoint, lb["DNSName"])[1] for _ in range(6)], [a["id"], b["id"]])
    # An instance id is not an IP target.
    code, _ = d.aws_error("elbv2", "register-targets", "--target-group-arn", tg["TargetGroupArn"],
                          "--targets", f"Id={a['id']}")
    assert code == "InvalidTarget"


def test_stopped_and_terminated_instances(daemon):
    d = daemon
    a, b = launch_lab_instances(d, 2)
    lb, tg, _ = lab_stack(d, targets=[a["id"], b["id"]])
    elb, tg_arn = d.boto("elbv2"), tg["TargetGroupArn"]
    wait_in_service(elb, tg_arn)
    d.aws("ec2", "stop-instances", "--instance-ids", a["id"])
    d.wait_state(a["id"], "stopped")
    wait_for("stopped target unused", lambda: health(elb, tg_arn)[a["id"]] == ("unused", "Target.InvalidState"))
    assert {who(body) for _, body in spray(d.endpoint, lb["DNSName"], count=4)} == {b["id"]}
    # A stopped instance cannot be registered anew.
    elb.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "0"}])
    elb.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": a["id"]}])
    code, _ = d.aws_error("elbv2", "register-targets", "--target-group-arn", tg_arn, "--targets", f"Id={a['id']}")
    assert code == "InvalidTarget"
    # A terminated instance leaves the group by itself, as in AWS.
    d.aws("ec2", "terminate-instances", "--instance-ids", b["id"])
    wait_for("terminated target gone", lambda: b["id"] not in health(elb, tg_arn), timeout=30)
    status, body, headers = request(d.endpoint, lb["DNSName"])
    assert status == 503 and headers["server"] == "awselb/2.0"
