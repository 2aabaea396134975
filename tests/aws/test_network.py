"""Network metrics from the runtime's per-instance BPF counters: `AWS/EC2 NetworkIn` /
`NetworkOut` grow by what we send an instance and what it sends back, and a group with a
target-tracking policy on ASGAverageNetworkIn scales out while uploads flow and back in
when they stop. Loopback only; metric period 3 s."""
import json
import threading
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from harness import Daemon, http_get, wait_for
from test_autoscaling import GROUP, assert_tracked_out_and_in, in_service, lab_template, two_zone_subnets
from test_runtime import launch_app

UPLOAD = 2 * 1024 * 1024
MESSAGE = 400_000


def post(addr, size):
    """Uploads `size` bytes to the instance's app; the answer's (status, body length)."""
    req = urllib.request.Request(f"http://{addr}:3000/", data=b"u" * size, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, len(r.read())


def metric_sum(daemon, name, dimension, value):
    """Sum of every datapoint of the metric over the last ten minutes (and the next)."""
    now = datetime.now(timezone.utc)
    stats = daemon.aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/EC2", "--metric-name", name,
                       "--dimensions", f"Name={dimension},Value={value}",
                       "--start-time", (now - timedelta(minutes=10)).isoformat(),
                       "--end-time", (now + timedelta(minutes=1)).isoformat(),
                       "--period", "60", "--statistics", "Sum")
    assert all(p["Unit"] == ("Count" if "Packets" in name else "Bytes") for p in stats["Datapoints"]), stats
    return sum(p["Sum"] for p in stats["Datapoints"])


def require_accounting(daemon):
    """Skips, saying why, where the OS does not let the runtime count traffic."""
    isolation = daemon.api("/_shoal/health")["isolation"]
    if "network bytes by cgroup BPF" not in isolation:
        daemon.close()
        pytest.skip(f"no network accounting here: {isolation}")


def test_network_in_and_out_grow_by_what_the_instance_received_and_sent():
    daemon = Daemon("--metric-period", "3")
    try:
        require_accounting(daemon)
        iid, addr = launch_app(daemon)
        r = daemon.shoal("ssh", iid, "--", "sh", "-c", f"head -c {MESSAGE} /dev/zero | tr '\\0' x > app/message")
        assert r.returncode == 0, r.stderr
        # Whatever was counted so far is published within a period or two.
        wait_for("first datapoints", lambda: metric_sum(daemon, "NetworkPacketsIn", "InstanceId", iid) > 0, timeout=30, interval=1)
        before_in = metric_sum(daemon, "NetworkIn", "InstanceId", iid)
        before_out = metric_sum(daemon, "NetworkOut", "InstanceId", iid)

        status, answered = post(addr, UPLOAD)
        assert status == 200 and answered > MESSAGE
        status, body = http_get(f"http://{addr}:3000/")
        assert status == 200 and len(body) > MESSAGE
        sent_in, sent_out = UPLOAD, answered + len(body)

        grown = wait_for("NetworkIn and NetworkOut to show it", lambda: (
            (gi := metric_sum(daemon, "NetworkIn", "InstanceId", iid) - before_in) >= sent_in
            and (go := metric_sum(daemon, "NetworkOut", "InstanceId", iid) - before_out) >= sent_out
            and (gi, go)), timeout=30, interval=1)
        print(f"sent {sent_in} B in / {sent_out} B out; NetworkIn grew {grown[0]:.0f} B, NetworkOut {grown[1]:.0f} B")
        # Counted at the IP layer: payload plus headers, not other instances' traffic.
        assert grown[0] < 2 * sent_in and grown[1] < 2 * sent_out
        listed = daemon.aws("cloudwatch", "list-metrics", "--namespace", "AWS/EC2",
                            "--dimensions", f"Name=InstanceId,Value={iid}")["Metrics"]
        assert {"NetworkIn", "NetworkOut", "NetworkPacketsIn", "NetworkPacketsOut"} <= {m["MetricName"] for m in listed}
    finally:
        daemon.close()


def test_network_in_target_tracking_scales_out_with_uploads_and_back_in():
    """ASGAverageNetworkIn with a 300 kB target (per 3 s period): uploads of ~4 MB a
    period to the group's one instance fire AlarmHigh after 3 periods above, the group
    adds an instance; when they stop, 15 periods below 210 kB fire AlarmLow and it goes
    back to one."""
    daemon = Daemon("--metric-period", "3")
    stop = threading.Event()
    uploader = None
    try:
        require_accounting(daemon)
        lab_template(daemon, user_data=True)
        daemon.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP,
                   "--launch-template", "LaunchTemplateName=exercise-launch-template", "--min-size", "1", "--max-size", "2",
                   "--vpc-zone-identifier", two_zone_subnets(daemon), "--default-instance-warmup", "3")
        policy = daemon.aws("autoscaling", "put-scaling-policy", "--auto-scaling-group-name", GROUP, "--policy-name", "net-in",
                            "--policy-type", "TargetTrackingScaling", "--target-tracking-configuration",
                            json.dumps({"PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageNetworkIn"},
                                        "TargetValue": 300000.0}))
        high, low = sorted(a["AlarmName"] for a in policy["Alarms"])
        alarm = daemon.aws("cloudwatch", "describe-alarms", "--alarm-names", high)["MetricAlarms"][0]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/EC2", "NetworkIn", "Average")
        assert alarm["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": GROUP}]

        [first] = wait_for("one instance", lambda: in_service(daemon, 1))
        addr = daemon.instance(first["InstanceId"])["PublicIpAddress"]
        wait_for("app", lambda: http_get(f"http://{addr}:3000/health")[0] == 200)
        sent = [0]

        def upload():
            while not stop.is_set():
                try:
                    post(addr, 1024 * 1024)
                    sent[0] += 1024 * 1024
                except OSError:
                    pass
                stop.wait(0.7)

        uploader = threading.Thread(target=upload, daemon=True)
        uploader.start()
        both = wait_for("scale-out to two", lambda: in_service(daemon, 2), timeout=90, interval=0.5)
        second = next(i["InstanceId"] for i in both if i["InstanceId"] != first["InstanceId"])
        stop.set()
        uploader.join(timeout=15)
        uploader = None
        average = daemon.aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/EC2", "--metric-name", "NetworkIn",
                             "--dimensions", f"Name=AutoScalingGroupName,Value={GROUP}",
                             "--start-time", (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat(),
                             "--end-time", datetime.now(timezone.utc).isoformat(), "--period", "3",
                             "--statistics", "Average")["Datapoints"]
        peak = max(p["Average"] for p in average)
        print(f"uploaded {sent[0]} B; group NetworkIn average peaked at {peak:.0f} B per 3 s period")
        assert peak > 300000

        # Idle: nothing reaches the instances (no load balancer, no health checks).
        wait_for("scale-in to one", lambda: in_service(daemon, 1), timeout=150, interval=1)
        assert_tracked_out_and_in(daemon, "net-in", high, low, second)
    finally:
        stop.set()
        if uploader:
            uploader.join(timeout=15)
        daemon.close()
