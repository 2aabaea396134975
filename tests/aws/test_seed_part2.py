"""The seed's Part 2 with an Auto Scaling group: `exercise-lb` in front of
`exercise-target-group`, the group attached to it with ELB health checks; a web server
stopped in one instance makes it unhealthy, the group drains, terminates and replaces it,
and the load balancer keeps answering throughout."""
import base64
import json
import time

from harness import ROOT, http_get, wait_for
from test_autoscaling import GROUP, activities, group, two_zone_subnets


def lab_stack(daemon, desired=2):
    data = {"ImageId": daemon.base_image(), "InstanceType": "t2.micro", "SecurityGroupIds": [daemon.web_group()],
            "UserData": base64.b64encode((ROOT / "examples/lab/setup.sh").read_bytes()).decode()}
    daemon.aws("ec2", "create-launch-template", "--launch-template-name", "exercise-launch-template",
               "--launch-template-data", json.dumps(data))
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    subnets = two_zone_subnets(daemon)
    tg = daemon.aws("elbv2", "create-target-group", "--name", "exercise-target-group", "--protocol", "HTTP",
                    "--port", "3000", "--vpc-id", vpc, "--health-check-path", "/health",
                    "--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "4",
                    "--healthy-threshold-count", "2", "--unhealthy-threshold-count", "2")["TargetGroups"][0]["TargetGroupArn"]
    daemon.aws("elbv2", "modify-target-group-attributes", "--target-group-arn", tg,
               "--attributes", "Key=deregistration_delay.timeout_seconds,Value=2")
    lb = daemon.aws("elbv2", "create-load-balancer", "--name", "exercise-lb", "--subnets", *subnets.split(","),
                    "--security-groups", daemon.web_group())["LoadBalancers"][0]
    daemon.aws("elbv2", "create-listener", "--load-balancer-arn", lb["LoadBalancerArn"], "--protocol", "HTTP", "--port", "80",
               "--default-actions", f"Type=forward,TargetGroupArn={tg}")
    daemon.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP,
               "--launch-template", "LaunchTemplateName=exercise-launch-template", "--min-size", str(desired),
               "--max-size", str(desired + 1), "--desired-capacity", str(desired), "--vpc-zone-identifier", subnets,
               "--target-group-arns", tg, "--health-check-type", "ELB", "--health-check-grace-period", "0")
    return tg, lb


def healthy_targets(daemon, tg):
    d = daemon.aws("elbv2", "describe-target-health", "--target-group-arn", tg)["TargetHealthDescriptions"]
    return sorted(t["Target"]["Id"] for t in d if t["TargetHealth"]["State"] == "healthy")


def through_lb(daemon, lb):
    """GET / through the load balancer via Shoal's main port (Host = its DNS name)."""
    import urllib.request
    req = urllib.request.Request(daemon.endpoint + "/", headers={"Host": lb["DNSName"]})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_group_behind_the_load_balancer_replaces_an_unhealthy_instance(daemon):
    tg, lb = lab_stack(daemon)
    members = wait_for("two healthy targets", lambda: (lambda h: h if len(h) == 2 else None)(healthy_targets(daemon, tg)), timeout=60)
    assert sorted(i["InstanceId"] for i in group(daemon)["Instances"]) == members, "the group registered its own instances"
    seen = {through_lb(daemon, lb)[1].split("instance ")[1].split(" ")[0] for _ in range(8)}
    assert seen == set(members), "requests alternate over both instances"

    # Long enough a drain to watch it (the lab's stack drains for 2 s).
    daemon.aws("elbv2", "modify-target-group-attributes", "--target-group-arn", tg,
               "--attributes", "Key=deregistration_delay.timeout_seconds,Value=6")
    elb, asg, ec2 = daemon.boto("elbv2"), daemon.boto("autoscaling"), daemon.boto("ec2")
    victim = members[0]
    # The unhealthy state lasts until the group's next pass (at most its 1 s resync), which
    # the slower poll below can miss on a loaded machine: a watcher polls health alone.
    import threading
    watched, stop_watching = [], threading.Event()
    def watch(client=daemon.boto("elbv2")):
        while not stop_watching.is_set():
            for t in client.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]:
                if t["Target"]["Id"] == victim:
                    watched.append((t["TargetHealth"]["State"], t["TargetHealth"].get("Reason")))
            time.sleep(0.02)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert daemon.shoal("ssh", victim, "--", "service", "app", "stop").returncode == 0
    failures, seen = [], []  # non-200 answers; what each poll saw of the victim
    def replaced():
        status, _ = through_lb(daemon, lb)
        if status != 200:
            failures.append(status)
        health = {t["Target"]["Id"]: t["TargetHealth"]
                  for t in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}
        lifecycle = {i["InstanceId"]: i["LifecycleState"]
                     for i in asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]["Instances"]}
        term = [a["StatusCode"] for a in asg.describe_scaling_activities(AutoScalingGroupName=GROUP)["Activities"]
                if a["Description"] == f"Terminating EC2 instance: {victim}"]
        ec2_state = ec2.describe_instances(InstanceIds=[victim])["Reservations"][0]["Instances"][0]["State"]["Name"]
        target = health.get(victim, {})
        seen.append((target.get("State"), target.get("Reason"), lifecycle.get(victim), term[:1], ec2_state))
        healthy = sorted(i for i, h in health.items() if h["State"] == "healthy")
        return healthy if len(healthy) == 2 and victim not in healthy else None
    try:
        now = wait_for("replacement healthy", replaced, timeout=90, interval=0.3)
    finally:
        stop_watching.set()
        watcher.join(timeout=10)
    assert failures == [], f"Shoal retries refused connections on the healthy target: {failures}"

    # What the lab shows, in AWS's order: the target turns unhealthy (failed checks), the
    # group takes the instance out of service and its target drains while the instance
    # still runs (the activity waits for the drain), then the instance is terminated.
    # The plain `unhealthy` state lasts only until the group's next pass, which a commit
    # anywhere may trigger within milliseconds; `unhealthy.draining` is AWS's state for a
    # target that was unhealthy when its drain began, so either shows the failed checks.
    states = [(t, r) for t, r, *_ in seen] + watched
    assert (("unhealthy", "Target.FailedHealthChecks") in states
            or "unhealthy.draining" in [t for t, _ in states]), (seen, watched[-20:])
    causes = [a["Cause"] for a in asg.describe_scaling_activities(AutoScalingGroupName=GROUP)["Activities"]
              if a["Description"] == f"Terminating EC2 instance: {victim}"]
    assert causes and "in response to an ELB system health check failure." in causes[0], causes
    draining = [s for s in seen if s[0] in ("draining", "unhealthy.draining")]
    assert draining, f"the victim's target drained before termination: {seen}"
    assert all(s[1] == "Target.DeregistrationInProgress" and s[2] == "Terminating" and s[4] == "running"
               for s in draining), draining
    assert ["WaitingForELBConnectionDraining"] in [s[3] for s in draining], draining
    first_drain = seen.index(draining[0])
    assert all(s[4] == "running" for s in seen[:first_drain]), "nothing stopped the instance before its drain"
    wait_for("the drained victim terminated and gone from the group",
             lambda: victim not in [i["InstanceId"] for i in group(daemon)["Instances"]], timeout=30)
    term = [a for a in activities(daemon) if a["Description"] == f"Terminating EC2 instance: {victim}"]
    assert term and "an instance was taken out of service in response to an ELB system health check failure." in term[0]["Cause"]
    assert term[0]["StatusCode"] == "Successful"
    launch = [a for a in activities(daemon) if a["Description"] == f"Launching a new EC2 instance: {now[0] if now[0] not in members else now[1]}"]
    assert launch and "an instance was launched in response to an unhealthy instance needing to be replaced." in launch[0]["Cause"]
    assert daemon.aws("ec2", "describe-instances", "--instance-ids", victim)["Reservations"][0]["Instances"][0]["State"]["Name"] in ("shutting-down", "terminated")
    assert len(now) == 2

    # Detaching the target group deregisters the group's instances.
    daemon.aws("autoscaling", "detach-load-balancer-target-groups", "--auto-scaling-group-name", GROUP, "--target-group-arns", tg)
    wait_for("deregistered", lambda: healthy_targets(daemon, tg) == [], timeout=30)
