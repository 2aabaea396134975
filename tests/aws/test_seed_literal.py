"""The seed's commands, literally, inside container instances of the base image: the lab's
app is a git repository at /var/www/aws-exercise-a (branches main and beta) on :3001
behind nginx on :3000, whose access log shows the load balancer's health checks;
`sudo yum install stress` works; `sudo service nginx stop` stops that instance's nginx
only: its target turns unhealthy while the other keeps serving.

Skipped, saying why, where the host cannot run containers.
"""
import re
import time

from harness import http_get, wait_for
from test_isolation import daemon, needs_containers  # noqa: F401 - its container daemon fixture
from test_seed_part2 import through_lb

# exercise-instance's configuration: the app and nginx start at every boot.
LAB_USER_DATA = """#!/bin/sh
cat > /etc/rc.local <<'EOF'
#!/bin/sh
service aws-exercise-a start
service nginx start
EOF
chmod +x /etc/rc.local
"""


def as_ec2_user(daemon, iid, command):
    """Runs `command` in the instance as ec2-user (what `ssh ec2-user@…` gives)."""
    return daemon.shoal("ssh", iid, "--", "sudo", "-u", "ec2-user", "-i", "sh", "-c", command)


def health_checks_logged(daemon, iid):
    log = daemon.shoal("ssh", iid, "--", "cat", "/var/log/nginx/access.log").stdout
    return [line for line in log.splitlines() if '"GET /health HTTP/1.1" 200' in line and "ELB-HealthChecker/2.0" in line]


def target_states(daemon, tg):
    d = daemon.aws("elbv2", "describe-target-health", "--target-group-arn", tg)["TargetHealthDescriptions"]
    return {t["Target"]["Id"]: t["TargetHealth"]["State"] for t in d}


@needs_containers
def test_the_labs_commands_work_as_written(daemon):
    # The seed's web group, and one that lets the host see the app behind nginx too.
    groups = [daemon.web_group(), daemon.admitting_group("lab-app", (3001,))]
    ids = [i["InstanceId"] for i in daemon.aws(
        "ec2", "run-instances", "--image-id", daemon.base_image(), "--instance-type", "t2.micro",
        "--count", "2", "--user-data", LAB_USER_DATA, "--security-group-ids", *groups)["Instances"]]
    addrs = {}
    for iid in ids:
        daemon.wait_state(iid, "running")
        addrs[iid] = daemon.instance(iid)["PublicIpAddress"]
        wait_for(f"nginx on {iid}", lambda: http_get(f"http://{addrs[iid]}:3000/health")[0] == 200, timeout=30)
        status, body = http_get(f"http://{addrs[iid]}:3000/")
        assert status == 200 and body.startswith("Welcome to the A project (instance"), body
        # nginx proxies to the app on 3001, on the instance's address only.
        assert http_get(f"http://{addrs[iid]}:3001/health")[0] == 200

    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    tg = daemon.aws("elbv2", "create-target-group", "--name", "exercise-target-group", "--protocol", "HTTP",
                    "--port", "3000", "--vpc-id", vpc, "--health-check-path", "/health",
                    "--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "4",
                    "--healthy-threshold-count", "2", "--unhealthy-threshold-count", "2")["TargetGroups"][0]["TargetGroupArn"]
    subnets = [s["SubnetId"] for s in daemon.aws("ec2", "describe-subnets", "--filters",
                                                   f"Name=vpc-id,Values={vpc}")["Subnets"]][:2]
    lb = daemon.aws("elbv2", "create-load-balancer", "--name", "exercise-lb", "--subnets", *subnets,
                    "--security-groups", daemon.web_group())["LoadBalancers"][0]
    daemon.aws("elbv2", "create-listener", "--load-balancer-arn", lb["LoadBalancerArn"], "--protocol", "HTTP",
               "--port", "80", "--default-actions", f"Type=forward,TargetGroupArn={tg}")
    daemon.aws("elbv2", "register-targets", "--target-group-arn", tg, "--targets", *[f"Id={i}" for i in ids])
    wait_for("both targets healthy", lambda: set(target_states(daemon, tg).values()) == {"healthy"}, timeout=60)

    # Each instance's nginx access log shows a health check every 5 seconds.
    for iid in ids:
        checks = wait_for(f"health checks in {iid}'s access log",
                          lambda: (lambda c: c if len(c) >= 3 else None)(health_checks_logged(daemon, iid)),
                          timeout=30)
        stamps = [time.mktime(time.strptime(re.search(r"\[([^ ]+)", c).group(1), "%d/%b/%Y:%H:%M:%S"))
                  for c in checks[-3:]]
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        assert all(3 <= g <= 7 for g in gaps), f"health checks every 5 s: {gaps}"

    # `sudo yum install stress`: already there, and said so.
    r = as_ec2_user(daemon, ids[0], "sudo yum install stress")
    assert r.returncode == 0 and "stress" in r.stdout and "already installed" in r.stdout, r
    assert as_ec2_user(daemon, ids[0], "stress --cpu 1 --timeout 1").returncode == 0

    # The app's code is a git repository with the lab's branches; beta shows the new version.
    r = as_ec2_user(daemon, ids[0], "cd /var/www/aws-exercise-a && git branch --list --format='%(refname:short)'")
    assert r.returncode == 0 and r.stdout.split() == ["beta", "main"], r
    assert as_ec2_user(daemon, ids[0], "cd /var/www/aws-exercise-a && git checkout -q beta").returncode == 0
    assert http_get(f"http://{addrs[ids[0]]}:3000/")[1].startswith("Welcome to the A project beta")
    assert not http_get(f"http://{addrs[ids[1]]}:3000/")[1].startswith("Welcome to the A project beta"), \
        "the other instance's disk is its own"
    assert as_ec2_user(daemon, ids[0], "cd /var/www/aws-exercise-a && git checkout -q main").returncode == 0

    # `sudo service nginx stop` on one instance stops that nginx only.
    victim, survivor = ids
    r = as_ec2_user(daemon, victim, "sudo service nginx stop")
    assert r.returncode == 0, r
    wait_for("the victim's nginx down", lambda: http_get(f"http://{addrs[victim]}:3000/health")[0] == 0, timeout=15)
    assert daemon.shoal("ssh", survivor, "--", "service", "nginx", "status").returncode == 0
    assert http_get(f"http://{addrs[survivor]}:3000/health")[0] == 200
    wait_for("the victim unhealthy", lambda: target_states(daemon, tg) == {victim: "unhealthy", survivor: "healthy"},
             timeout=30)
    answers = [through_lb(daemon, lb) for _ in range(10)]
    assert all(status == 200 and survivor in body for status, body in answers), answers
    # The app behind it still runs: only nginx was stopped.
    assert http_get(f"http://{addrs[victim]}:3001/health")[0] == 200
    assert daemon.instance(victim)["State"]["Name"] == "running"


@needs_containers
def test_git_checkout_beta_then_an_image_serves_the_new_version(daemon):
    iid = daemon.aws("ec2", "run-instances", "--image-id", daemon.base_image(), "--instance-type", "t2.micro",
                     "--security-group-ids", daemon.web_group(),
                     "--user-data", LAB_USER_DATA)["Instances"][0]["InstanceId"]
    daemon.wait_state(iid, "running")
    addr = daemon.instance(iid)["PublicIpAddress"]
    wait_for("nginx", lambda: http_get(f"http://{addr}:3000/health")[0] == 200, timeout=30)
    r = as_ec2_user(daemon, iid, "cd /var/www/aws-exercise-a && git checkout beta")
    assert r.returncode == 0, r
    daemon.aws("ec2", "stop-instances", "--instance-ids", iid)
    daemon.wait_state(iid, "stopped")
    image = daemon.aws("ec2", "create-image", "--instance-id", iid, "--name", "exercise-image-beta")["ImageId"]
    wait_for("the image", lambda: daemon.aws("ec2", "describe-images", "--image-ids", image)["Images"][0]["State"]
             == "available", timeout=60)
    beta = daemon.aws("ec2", "run-instances", "--image-id", image, "--instance-type", "t2.micro",
                      "--security-group-ids", daemon.web_group())["Instances"][0]["InstanceId"]
    daemon.wait_state(beta, "running")
    beta_addr = daemon.instance(beta)["PublicIpAddress"]
    # Its rc.local (from exercise-instance's disk) starts the app and nginx at boot.
    wait_for("the beta app", lambda: http_get(f"http://{beta_addr}:3000/")[1].startswith("Welcome to the A project beta"),
             timeout=30)
    assert as_ec2_user(daemon, beta, "cd /var/www/aws-exercise-a && git rev-parse --abbrev-ref HEAD").stdout.strip() == "beta"
