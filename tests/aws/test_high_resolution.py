"""Target tracking on a high-resolution metric (`CustomizedMetricSpecification.Period` 10),
on AWS's own one-minute metric period: the policy's alarms get a 10 s period, CloudWatch
evaluates them every 10 s, and the group scales out well inside the first minute, before a
standard alarm has even been evaluated once."""
import datetime
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from harness import Daemon, wait_for
from test_autoscaling import lab_template, two_zone_subnets

GROUP = "HIGH-RES-GROUP"
NS = "Shoal/Test"


@pytest.fixture
def daemon():
    d = Daemon()  # no --metric-period: AWS's 60 s minute
    try:
        lab_template(d)
        d.boto("autoscaling").create_auto_scaling_group(
            AutoScalingGroupName=GROUP, MinSize=1, MaxSize=3, DesiredCapacity=1, DefaultInstanceWarmup=0,
            LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
            VPCZoneIdentifier=two_zone_subnets(d))
        yield d
    finally:
        d.close()


def tracking(period=None, metrics=None, target=50.0):
    spec = {"Metrics": metrics} if metrics else {"Namespace": NS, "MetricName": "QueueDepth", "Statistic": "Average"}
    if period is not None:
        spec["Period"] = period
    return {"TargetValue": target, "CustomizedMetricSpecification": spec}


def put_policy(d, name, config):
    return d.boto("autoscaling").put_scaling_policy(
        AutoScalingGroupName=GROUP, PolicyName=name, PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration=config)


def policies(d):
    return d.boto("autoscaling").describe_policies(AutoScalingGroupName=GROUP)["ScalingPolicies"]


def desired(d):
    groups = d.boto("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
    return groups["AutoScalingGroups"][0]["DesiredCapacity"]


def test_periods_are_stored_echoed_and_checked(daemon):
    asg = daemon.boto("autoscaling")
    # Bad periods and a Period beside Metrics are refused, and nothing is created.
    for bad in [tracking(period=20), tracking(period=120),
                tracking(period=10, metrics=[{"Id": "m1", "MetricStat": {
                    "Metric": {"Namespace": NS, "MetricName": "QueueDepth"}, "Stat": "Average"}}])]:
        with pytest.raises(ClientError) as e:
            put_policy(daemon, "bad", bad)
        assert e.value.response["Error"]["Code"] == "ValidationError", e.value.response
    stat = {"Metric": {"Namespace": NS, "MetricName": "QueueDepth"}, "Stat": "Average", "Period": 15}
    with pytest.raises(ClientError) as e:
        put_policy(daemon, "bad", tracking(metrics=[{"Id": "m1", "MetricStat": stat}]))
    assert "accepts a period of 10, 30 or 60 seconds" in e.value.response["Error"]["Message"]
    assert policies(daemon) == []
    assert daemon.boto("cloudwatch").describe_alarms()["MetricAlarms"] == []

    # The single-metric form: the period is echoed, and both alarms are high-resolution.
    out = put_policy(daemon, "queue", tracking(period=10))
    [policy] = policies(daemon)
    assert policy["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["Period"] == 10
    alarms = daemon.boto("cloudwatch").describe_alarms(
        AlarmNames=[a["AlarmName"] for a in out["Alarms"]])["MetricAlarms"]
    assert sorted((a["Period"], a["EvaluationPeriods"]) for a in alarms) == [(10, 3), (10, 15)]
    # The aws CLI reads the same.
    cli = daemon.aws("autoscaling", "describe-policies", "--auto-scaling-group-name", GROUP)
    assert cli["ScalingPolicies"][0]["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["Period"] == 10

    # The metric-math form: each MetricStat carries its period.
    stat["Period"] = 30
    asg.delete_policy(AutoScalingGroupName=GROUP, PolicyName="queue")
    put_policy(daemon, "math", tracking(metrics=[
        {"Id": "m1", "MetricStat": stat, "ReturnData": False},
        {"Id": "e1", "Expression": "m1 * 2", "ReturnData": True}]))
    [policy] = policies(daemon)
    queries = policy["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["Metrics"]
    assert queries[0]["MetricStat"]["Period"] == 30, queries


def test_a_ten_second_policy_scales_out_inside_the_first_minute(daemon):
    wait_for("the group's instance", lambda: desired(daemon) == 1 and all(
        i["LifecycleState"] == "InService" for i in daemon.boto("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]["Instances"]), timeout=30, interval=0.5)
    out = put_policy(daemon, "queue", tracking(period=10, target=50.0))
    high = next(a["AlarmName"] for a in out["Alarms"] if "-AlarmHigh-" in a["AlarmName"])
    cw = daemon.boto("cloudwatch")
    stop = threading.Event()

    def feed():  # a queue twice the target, every second at one-second resolution
        while not stop.wait(1):
            cw.put_metric_data(Namespace=NS, MetricData=[{
                "MetricName": "QueueDepth", "Value": 100.0, "StorageResolution": 1,
                "Timestamp": datetime.datetime.now(datetime.timezone.utc)}])

    feeder = threading.Thread(target=feed, daemon=True)
    started = time.monotonic()
    feeder.start()
    try:
        # Evaluated every 10 s, AlarmHigh fires on the first complete 10 s period (with
        # fewer datapoints than periods, CloudWatch's `missing` rule alarms when all present
        # breach): about 10-20 s. Evaluated once a minute, nothing could happen before 60 s.
        wait_for("scale-out to 2 from the 10 s AlarmHigh", lambda: desired(daemon) == 2, timeout=55, interval=1)
        took = time.monotonic() - started
    finally:
        stop.set()
        feeder.join(timeout=10)
    alarm = cw.describe_alarms(AlarmNames=[high])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM", alarm
    assert json.loads(alarm["StateReasonData"])["period"] == 10, alarm["StateReasonData"]
    causes = [a["Cause"] for a in daemon.boto("autoscaling").describe_scaling_activities(
        AutoScalingGroupName=GROUP)["Activities"]]
    assert any(f"a monitor alarm {high} in state ALARM triggered policy queue changing the desired capacity "
               "from 1 to 2." in c for c in causes), causes
    print(f"scaled out {took:.0f} s after the metric started")
