"""`shoal deploy`: blue/green with weighted traffic shifting, health gates, automatic
rollback, refusals that change nothing, and a deployment that survives a daemon crash.
Every request goes through the load balancer on loopback while deployments run."""
import base64
import json
import sys
import threading
import time

import pytest

from harness import Daemon, wait_for
from test_seed_part2 import through_lb
from test_seed_part3 import BETA, BLUE, beta_image, create_group, load_balancer_stack, target_states


@pytest.fixture
def daemon():
    d = Daemon("--metric-period", "1")
    yield d
    d.close()


def blue_stack(daemon):
    """The lab's stack with EXERCISE-GROUP-BLUE serving, and exercise-image-beta."""
    tg, lb, listener, subnets, inst = load_balancer_stack(daemon, deregistration_delay=3)
    create_group(daemon, BLUE, "exercise-launch-template", subnets, tg)
    wait_for("blue healthy", lambda: list(target_states(daemon, tg).values()) == ["healthy"], timeout=60)
    return tg, lb, listener, beta_image(daemon, inst)


class Traffic:
    """A constant stream of GETs through the load balancer: (time, status, body)."""

    def __init__(self, daemon, lb):
        self.daemon, self.lb, self.results, self.stopping = daemon, lb, [], False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                status, body = through_lb(self.daemon, self.lb)
            except Exception as e:  # noqa: BLE001 - a failed request is a result
                status, body = 0, repr(e)
            self.results.append((time.time(), status, body))
            time.sleep(0.005)

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=10)
        return self.results


def deployment(daemon, did):
    return daemon.api(f"/_shoal/api/deployments/{did}")


def listener_forward(daemon, listener):
    l = daemon.aws("elbv2", "describe-listeners", "--listener-arns", listener["ListenerArn"])["Listeners"][0]
    return [(g["TargetGroupArn"], g["Weight"]) for g in l["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]]


def test_canary_then_all_at_once_with_zero_failed_requests(daemon):
    tg, lb, listener, image = blue_stack(daemon)
    traffic = Traffic(daemon, lb)
    r = daemon.shoal("deploy", "--lb", "exercise-lb", "--image", image, "--strategy", "canary", "--percent", "30",
                     "--interval", "6", "--health-timeout", "60", timeout=180)
    time.sleep(1)
    results = traffic.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Succeeded" in r.stdout and "step 1 of 2: 30% to green, 70% to blue" in r.stdout, r.stdout
    failed = [(t, s, b) for t, s, b in results if s != 200]
    assert failed == [], f"{len(failed)} of {len(results)} requests failed: {failed[:5]}"

    [d] = daemon.api("/_shoal/api/deployments")["deployments"]
    d = deployment(daemon, d["id"])
    assert d["status"] == "Succeeded" and d["reason"] is None
    assert [w["green_percent"] for w in d["weights"]] == [0, 30, 100]
    assert d["green"]["group"] == "EXERCISE-GROUP-GREEN" and d["green"]["image_id"] == image
    # The share of beta answers follows the weights at each step.
    for step in d["history"]:
        start, end = step["start_ms"] / 1000 + 0.3, (step["end_ms"] or 1e13) / 1000 - 0.3
        window = [b for t, s, b in results if start <= t <= end]
        if len(window) < 20:
            continue
        share = sum(b.startswith(BETA) for b in window) / len(window)
        assert abs(share - step["green_percent"] / 100) <= 0.15, (step, share, len(window))
    # Green serves alone; blue scaled to 0; the listener forwards to green only.
    green_tg = d["green"]["target_group_arn"]
    assert listener_forward(daemon, listener) == [(green_tg, 1)]
    blue = daemon.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", BLUE)["AutoScalingGroups"][0]
    assert (blue["MinSize"], blue["MaxSize"], blue["DesiredCapacity"]) == (0, 0, 0)
    wait_for("blue's instance gone", lambda: daemon.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", BLUE)["AutoScalingGroups"][0]["Instances"] == [], timeout=30)
    assert all(through_lb(daemon, lb)[1].startswith(BETA) for _ in range(10))
    # `shoal deploy status` and `list` show it.
    status = daemon.shoal("deploy", "status", d["id"])
    assert status.returncode == 0 and "Succeeded" in status.stdout and "green 0% → 30% → 100%" in status.stdout, status.stdout
    assert d["id"] in daemon.shoal("deploy", "list").stdout


def test_swap_moves_the_shared_target_group_to_green_with_zero_failed_requests(daemon):
    """The lab's Part 3 as one command: green joins blue's target group, turns healthy,
    then blue leaves it (draining) and scales to 0; the listener never changes."""
    tg, lb, listener, image = blue_stack(daemon)
    before = daemon.aws("elbv2", "describe-listeners", "--listener-arns", listener["ListenerArn"])["Listeners"][0]["DefaultActions"]
    traffic = Traffic(daemon, lb)
    r = daemon.shoal("deploy", "--lb", "exercise-lb", "--image", image, "--strategy", "swap",
                     "--health-timeout", "60", timeout=180)
    time.sleep(1)
    results = traffic.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Succeeded" in r.stdout, r.stdout
    failed = [(t, s, b) for t, s, b in results if s != 200]
    assert failed == [], f"{len(failed)} of {len(results)} requests failed: {failed[:5]}"
    assert any(b.startswith(BETA) for _, _, b in results), "green answered during the run"

    [d] = daemon.api("/_shoal/api/deployments")["deployments"]
    d = deployment(daemon, d["id"])
    assert d["status"] == "Succeeded" and d["strategy"] == "swap"
    assert d["green"]["target_group_arn"] == tg, "green serves from blue's own target group"
    after = daemon.aws("elbv2", "describe-listeners", "--listener-arns", listener["ListenerArn"])["Listeners"][0]["DefaultActions"]
    assert after == before, "a swap leaves the listener alone"
    groups = {g["AutoScalingGroupName"]: g for g in daemon.aws("autoscaling", "describe-auto-scaling-groups")["AutoScalingGroups"]}
    green, blue = groups["EXERCISE-GROUP-GREEN"], groups[BLUE]
    assert green["TargetGroupARNs"] == [tg] and blue["TargetGroupARNs"] == []
    assert (blue["MinSize"], blue["MaxSize"], blue["DesiredCapacity"]) == (0, 0, 0)
    wait_for("only green registered", lambda: set(target_states(daemon, tg).values()) == {"healthy"}
             and set(target_states(daemon, tg)) == {i["InstanceId"] for i in green["Instances"]}, timeout=30)
    assert all(through_lb(daemon, lb)[1].startswith(BETA) for _ in range(10))


BROKEN_APP = """#!/bin/sh
# A broken release: /health answers 200, every page 500.
cat > etc/rc.local <<'SCRIPT'
#!/bin/sh
nohup {python} -c '
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if self.path == "/health" else 500
        body = b"" if code == 200 else b"broken"
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((os.environ["PRIVATE_IP"], 3000), H).serve_forever()
' > /dev/null 2>&1 &
SCRIPT
chmod +x etc/rc.local
"""


def test_a_broken_release_rolls_back_by_itself(daemon):
    tg, lb, listener, _ = blue_stack(daemon)
    # The instance's own Python: the base image's in a container, the host's for a process tree.
    python = "/usr/bin/python3" if daemon.isolation_mode() == "container" else sys.executable
    user_data = base64.b64encode(BROKEN_APP.format(python=python).encode()).decode()
    daemon.aws("ec2", "create-launch-template-version", "--launch-template-name", "exercise-launch-template",
               "--source-version", "1", "--launch-template-data", json.dumps({"UserData": user_data}))
    traffic = Traffic(daemon, lb)
    r = daemon.shoal("deploy", "--lb", "exercise-lb", "--launch-template", "exercise-launch-template", "--version", "2",
                     "--strategy", "linear", "--percent", "50", "--interval", "10", "--health-timeout", "60", timeout=180)
    time.sleep(1)
    results = traffic.stop()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "RolledBack" in r.stdout and "rolling back" in r.stdout, r.stdout
    [d] = daemon.api("/_shoal/api/deployments")["deployments"]
    d = deployment(daemon, d["id"])
    assert d["status"] == "RolledBack"
    assert d["reason"].startswith("Gate failed at 50% to green: green answered"), d["reason"]
    assert "with 5xx" in d["reason"]
    # Requests routed to blue never failed; green's share failed only until the rollback.
    not_green = [(s, b) for _, s, b in results if b != "broken"]
    assert not_green and all(s == 200 for s, _ in not_green), [x for x in not_green if x[0] != 200][:5]
    rolled_back_at = next(e for e in d["events"] if e["status"] == "RollingBack")
    assert any(b == "broken" for _, _, b in results), "green got its share before the gate tripped"
    # Blue serves alone again; green and its target group are gone.
    assert listener_forward(daemon, listener) == [(tg, 1)]
    wait_for("green group removed", lambda: daemon.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "EXERCISE-GROUP-GREEN")["AutoScalingGroups"] == [], timeout=30)
    names = [t["TargetGroupName"] for t in daemon.aws("elbv2", "describe-target-groups")["TargetGroups"]]
    assert names == ["exercise-target-group"]
    for _ in range(5):
        status, body = through_lb(daemon, lb)
        assert status == 200 and body.startswith("Welcome to the A project (")
    assert rolled_back_at["green_percent"] == 0


def snapshot(daemon, listener):
    groups = daemon.aws("autoscaling", "describe-auto-scaling-groups")["AutoScalingGroups"]
    return {
        "groups": sorted((g["AutoScalingGroupName"], g["DesiredCapacity"]) for g in groups),
        "target_groups": sorted(t["TargetGroupName"] for t in daemon.aws("elbv2", "describe-target-groups")["TargetGroups"]),
        "listener": listener_forward(daemon, listener),
        "versions": len(daemon.aws("ec2", "describe-launch-template-versions", "--launch-template-name", "exercise-launch-template")["LaunchTemplateVersions"]),
        "deployments": [d["id"] for d in daemon.api("/_shoal/api/deployments")["deployments"]],
    }


def test_bad_input_is_refused_and_changes_nothing(daemon):
    tg, lb, listener, image = blue_stack(daemon)
    before = snapshot(daemon, listener)

    def refused(*args, says, moving=()):
        """`moving`: what a deployment already running may change meanwhile."""
        r = daemon.shoal("deploy", "--lb", "exercise-lb", *args)
        assert r.returncode != 0, r.stdout
        assert says in r.stderr, r.stderr
        def kept(snap):
            return {k: v for k, v in snap.items() if k not in moving}
        assert kept(snapshot(daemon, listener)) == kept(before), f"refused {args} changed something"

    refused("--group", "NO-SUCH-GROUP", "--image", image, says="AutoScalingGroup name not found")
    refused("--launch-template", "exercise-launch-template", "--version", "7", says="version")
    refused("--launch-template", "no-such-template", says="no-such-template")
    refused("--image", "ami-0123456789abcdef0", says="InvalidAMIID.NotFound")
    refused("--image", image, "--strategy", "weights", "--weights", "10,50,90", says="do not add up")
    refused("--image", image, "--strategy", "canary", says="needs a step percentage")
    refused("--image", image, "--strategy", "canary", "--percent", "100", says="between 1 and 99")
    refused("--launch-template", "exercise-launch-template", "--version", "1", says="nothing to deploy")
    refused("--image", image, "--port", "8080", says="no listener on port 8080")

    # One deployment at a time per listener.
    first = daemon.shoal("deploy", "--lb", "exercise-lb", "--image", image, "--interval", "60", "--detach")
    assert first.returncode == 0, first.stderr
    did = first.stdout.strip()
    before = snapshot(daemon, listener)
    # The running deployment shifts the listener's weights as its green turns healthy.
    refused("--image", image, says=f"Deployment {did} is already in progress on exercise-lb port 80",
            moving=("listener",))
    # Roll it back by hand; then a rollback of a finished deployment is refused.
    r = daemon.shoal("deploy", "rollback", did, "--wait", timeout=120)
    assert r.returncode == 1 and "RolledBack" in r.stdout, r.stdout + r.stderr
    assert deployment(daemon, did)["reason"] == "Rollback requested by the user."
    again = daemon.shoal("deploy", "rollback", did)
    assert again.returncode != 0 and "cannot be rolled back" in again.stderr
    assert daemon.shoal("deploy", "status", "d-NOSUCH000").returncode != 0


def test_a_deployment_survives_a_daemon_restart(daemon):
    tg, lb, listener, image = blue_stack(daemon)
    r = daemon.shoal("deploy", "--lb", "exercise-lb", "--image", image, "--strategy", "canary", "--percent", "20",
                     "--interval", "8", "--detach")
    assert r.returncode == 0, r.stderr
    did = r.stdout.strip()
    wait_for("at the canary step", lambda: deployment(daemon, did)["status"] == "Shifting", timeout=60)
    daemon.kill9()
    daemon.start()
    assert deployment(daemon, did)["status"] == "Shifting"
    done = wait_for("the deployment finished after the restart",
                    lambda: (lambda d: d if d["status"] in ("Succeeded", "RolledBack", "Failed") else None)(deployment(daemon, did)),
                    timeout=90)
    assert done["status"] == "Succeeded", done
    assert [w["green_percent"] for w in done["weights"]] == [0, 20, 100]
    assert wait_for("beta answers", lambda: through_lb(daemon, lb)[1].startswith(BETA), timeout=20)
