"""The seed's Part 3 by hand with the aws CLI: EXERCISE-GROUP-BLUE behind `exercise-lb`,
a beta image made from the updated `exercise-instance`, `exercise-launch-template-beta`
from the original template with only the image changed, EXERCISE-GROUP-GREEN attached to
the same target group (both versions answer), then blue to 0/0/0 (its instance drains,
then leaves; only beta answers)."""
import json

from harness import ROOT, wait_for
from test_autoscaling import two_zone_subnets
from test_seed_part2 import through_lb

BLUE, GREEN = "EXERCISE-GROUP-BLUE", "EXERCISE-GROUP-GREEN"
BETA = "Welcome to the A project beta"


def exercise_instance(daemon):
    """Part 1 step 1: `exercise-instance` with the app installed (the lab's user data),
    stopped and imaged as `exercise-image`. Returns (instance, image)."""
    r = daemon.aws("ec2", "run-instances", "--image-id", daemon.base_image(), "--instance-type", "t2.micro",
                   "--user-data", f"file://{ROOT / 'examples/lab/setup.sh'}",
                   "--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=exercise-instance}]")
    inst = r["Instances"][0]["InstanceId"]
    daemon.wait_state(inst, "running")
    wait_for("the app in exercise-instance", lambda: daemon.shoal("ssh", inst, "--", "cat", "app/message").stdout.strip())
    return inst, stop_and_image(daemon, inst, "exercise-image")


def stop_and_image(daemon, inst, name):
    daemon.aws("ec2", "stop-instances", "--instance-ids", inst)
    daemon.wait_state(inst, "stopped")
    image = daemon.aws("ec2", "create-image", "--instance-id", inst, "--name", name)["ImageId"]
    wait_for(f"{name} available", lambda: daemon.aws("ec2", "describe-images", "--image-ids", image)["Images"][0]["State"] == "available", timeout=60)
    return image


def load_balancer_stack(daemon, deregistration_delay=5):
    """Part 1-2's stack without a group: `exercise-launch-template` (exercise-image,
    t2.micro, as in the lab: the app is in the image), `exercise-target-group`
    (HTTP:3000, /health every 5 s, 2/2), `exercise-lb` with a listener on port 80.
    Returns (target group ARN, load balancer, listener, subnets, exercise-instance)."""
    inst, image = exercise_instance(daemon)
    daemon.aws("ec2", "create-launch-template", "--launch-template-name", "exercise-launch-template",
               "--launch-template-data", json.dumps({"ImageId": image, "InstanceType": "t2.micro",
                                                     "SecurityGroupIds": [daemon.web_group()]}))
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    subnets = two_zone_subnets(daemon)
    tg = daemon.aws("elbv2", "create-target-group", "--name", "exercise-target-group", "--protocol", "HTTP",
                    "--port", "3000", "--vpc-id", vpc, "--health-check-path", "/health",
                    "--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "4",
                    "--healthy-threshold-count", "2", "--unhealthy-threshold-count", "2")["TargetGroups"][0]["TargetGroupArn"]
    daemon.aws("elbv2", "modify-target-group-attributes", "--target-group-arn", tg,
               "--attributes", f"Key=deregistration_delay.timeout_seconds,Value={deregistration_delay}")
    lb = daemon.aws("elbv2", "create-load-balancer", "--name", "exercise-lb", "--subnets", *subnets.split(","),
                    "--security-groups", daemon.web_group())["LoadBalancers"][0]
    listener = daemon.aws("elbv2", "create-listener", "--load-balancer-arn", lb["LoadBalancerArn"], "--protocol", "HTTP",
                          "--port", "80", "--default-actions", f"Type=forward,TargetGroupArn={tg}")["Listeners"][0]
    return tg, lb, listener, subnets, inst


def create_group(daemon, name, template, subnets, tg, capacity=1):
    daemon.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", name,
               "--launch-template", f"LaunchTemplateName={template}", "--min-size", str(capacity),
               "--max-size", str(capacity), "--desired-capacity", str(capacity), "--vpc-zone-identifier", subnets,
               "--target-group-arns", tg, "--health-check-type", "ELB", "--health-check-grace-period", "0",
               "--tags", f"Key=Name,Value={name.lower()},PropagateAtLaunch=true")


def target_states(daemon, tg):
    d = daemon.aws("elbv2", "describe-target-health", "--target-group-arn", tg)["TargetHealthDescriptions"]
    return {t["Target"]["Id"]: t["TargetHealth"]["State"] for t in d}


def group_instances(daemon, name):
    g = daemon.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", name)["AutoScalingGroups"]
    return [i["InstanceId"] for i in g[0]["Instances"]] if g else []


def beta_image(daemon, inst):
    """Part 3 step 2: exercise-instance is started, its code updated (`git checkout
    beta` in the lab), stopped, and imaged as exercise-image-beta."""
    daemon.aws("ec2", "start-instances", "--instance-ids", inst)
    daemon.wait_state(inst, "running")
    r = daemon.shoal("ssh", inst, "--", "sh", "-c", f"echo '{BETA}' > app/message")
    assert r.returncode == 0, r.stderr
    return stop_and_image(daemon, inst, "exercise-image-beta")


def test_part3_blue_green_by_hand(daemon):
    tg, lb, _, subnets, inst = load_balancer_stack(daemon)

    # Step 1: EXERCISE-GROUP-BLUE behind the load balancer serves the old version.
    create_group(daemon, BLUE, "exercise-launch-template", subnets, tg)
    [blue] = wait_for("blue healthy", lambda: (lambda s: [i for i, v in s.items() if v == "healthy"] or None)(target_states(daemon, tg)), timeout=60)
    tags = {t["Key"]: t["Value"] for t in daemon.instance(blue)["Tags"]}
    assert tags["Name"] == "exercise-group-blue" and tags["aws:autoscaling:groupName"] == BLUE
    status, body = through_lb(daemon, lb)
    assert status == 200 and body.startswith(f"Welcome to the A project (instance {blue} in us-east-1")

    # Steps 2-3: the beta image, and a template from the original with only the image changed.
    image = beta_image(daemon, inst)
    original = daemon.aws("ec2", "describe-launch-template-versions", "--launch-template-name", "exercise-launch-template",
                          "--versions", "$Default")["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    daemon.aws("ec2", "create-launch-template", "--launch-template-name", "exercise-launch-template-beta",
               "--launch-template-data", json.dumps({**original, "ImageId": image}))
    beta = daemon.aws("ec2", "describe-launch-template-versions", "--launch-template-name", "exercise-launch-template-beta")["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert beta["ImageId"] == image and {k: v for k, v in beta.items() if k != "ImageId"} == {k: v for k, v in original.items() if k != "ImageId"}
    # The same thing as a new version of the original ("from a source template").
    v2 = daemon.aws("ec2", "create-launch-template-version", "--launch-template-name", "exercise-launch-template",
                    "--source-version", "1", "--launch-template-data", json.dumps({"ImageId": image}))["LaunchTemplateVersion"]
    assert v2["VersionNumber"] == 2 and v2["LaunchTemplateData"]["ImageId"] == image
    assert v2["LaunchTemplateData"]["InstanceType"] == original["InstanceType"] == "t2.micro"

    # Step 4: EXERCISE-GROUP-GREEN on the same target group: both versions answer.
    create_group(daemon, GREEN, "exercise-launch-template-beta", subnets, tg)
    wait_for("two healthy targets", lambda: list(target_states(daemon, tg).values()) == ["healthy", "healthy"], timeout=60)
    [green] = group_instances(daemon, GREEN)
    seen = set()
    def both():
        status, body = through_lb(daemon, lb)
        assert status == 200, (status, body)
        seen.add("beta" if body.startswith(BETA) else "A")
        return seen == {"A", "beta"}
    wait_for("both versions through the load balancer", both, timeout=20, interval=0)

    # Step 5: blue to 0/0/0: its instance drains (still listed, `draining`), then leaves.
    daemon.aws("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", BLUE,
               "--min-size", "0", "--max-size", "0", "--desired-capacity", "0")
    failures = []
    def answers_beta():
        status, body = through_lb(daemon, lb)
        if status != 200:
            failures.append(status)
        return body.startswith(BETA)
    wait_for("blue draining", lambda: target_states(daemon, tg).get(blue) == "draining", timeout=30)
    for _ in range(20):
        assert answers_beta(), "a draining target gets no new requests"
    wait_for("blue gone from the target group", lambda: blue not in target_states(daemon, tg), timeout=30)
    wait_for("blue instance terminated", lambda: daemon.instance(blue)["State"]["Name"] == "terminated", timeout=30)
    assert group_instances(daemon, BLUE) == []
    assert target_states(daemon, tg) == {green: "healthy"}
    for _ in range(10):
        assert answers_beta()
    assert failures == []
