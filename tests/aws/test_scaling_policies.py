"""Scaling policies end to end with boto3 and the aws CLI: step and simple policies fired by
a user's alarm on a custom metric fed with PutMetricData, the simple-scaling cooldown,
DisableScaleIn, customized metrics (single and metric math) and several target-tracking
policies on one group. Metric period 2 s: an alarm's 60 s period lasts two seconds."""
# run_suites: alone
# (A 2-second metric period: a feeder or an alarm pass late by a second on a machine busy
# with another suite breaks a check that a policy holds; seen in a CI rehearsal.)
import datetime
import re
import threading
import time

import pytest

from harness import Daemon, wait_for
from test_autoscaling import lab_template, two_zone_subnets

PERIOD = 2
NS = "Shoal/Test"


class Feeder(threading.Thread):
    """Puts the current value of each metric every half period, as an application would."""

    def __init__(self, daemon):
        super().__init__(daemon=True)
        self.cw = daemon.boto("cloudwatch")
        self.values = {}
        self.stopping = threading.Event()

    def set(self, metric, value):
        self.values[metric] = value

    def run(self):
        while not self.stopping.wait(PERIOD / 4):
            data = [{"MetricName": m, "Value": v, "Timestamp": datetime.datetime.now(datetime.timezone.utc)}
                    for m, v in list(self.values.items())]
            if data:
                self.cw.put_metric_data(Namespace=NS, MetricData=data)

    def stop(self):
        self.stopping.set()
        self.join(timeout=10)


@pytest.fixture
def lab():
    """A daemon on the short metric period with the lab's template, and a feeder."""
    daemon = Daemon("--metric-period", str(PERIOD))
    feeder = Feeder(daemon)
    feeder.start()
    try:
        lab_template(daemon)
        yield daemon, feeder
    finally:
        feeder.stop()
        daemon.close()


def create_group(daemon, name, min_size, max_size, desired):
    """A group whose instances feed its metrics as soon as they are InService
    (DefaultInstanceWarmup 0), once they all are."""
    daemon.boto("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=min_size, MaxSize=max_size, DesiredCapacity=desired,
        LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
        VPCZoneIdentifier=two_zone_subnets(daemon), DefaultInstanceWarmup=0)
    wait_for(f"{name} in service", lambda: in_service(daemon, name, desired), timeout=30, interval=0.5)


def group(daemon, name):
    return daemon.boto("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]


def desired(daemon, name):
    return group(daemon, name)["DesiredCapacity"]


def in_service(daemon, name, n):
    instances = group(daemon, name)["Instances"]
    return len(instances) == n and all(i["LifecycleState"] == "InService" for i in instances)


def activities(daemon, name):
    return daemon.boto("autoscaling").describe_scaling_activities(AutoScalingGroupName=name)["Activities"]


def policy_cause(alarm, policy, a, b):
    return f"a monitor alarm {alarm} in state ALARM triggered policy {policy} changing the desired capacity from {a} to {b}."


def assert_caused(daemon, name, alarm, policy, a, b):
    """Every launch or termination of the change a → b carries AWS's cause for it."""
    changed = [x for x in activities(daemon, name) if policy_cause(alarm, policy, a, b) in x["Cause"]]
    assert len(changed) == abs(b - a), [x["Cause"] for x in activities(daemon, name)]
    for x in changed:
        assert re.match(r"At \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ a monitor alarm ", x["Cause"]), x["Cause"]
    return changed


def user_alarm(daemon, name, metric, threshold, policy_arn, op="GreaterThanThreshold"):
    daemon.boto("cloudwatch").put_metric_alarm(
        AlarmName=name, Namespace=NS, MetricName=metric, Statistic="Average", Period=60, EvaluationPeriods=1,
        Threshold=threshold, ComparisonOperator=op, AlarmActions=[policy_arn])


def alarm_state(daemon, name):
    return daemon.boto("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def tt_policy(daemon, group_name, policy, config):
    out = daemon.boto("autoscaling").put_scaling_policy(
        AutoScalingGroupName=group_name, PolicyName=policy, PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration=config)
    return {("high" if "-AlarmHigh-" in a["AlarmName"] else "low"): a["AlarmName"] for a in out["Alarms"]}


def holds(what, check, seconds):
    """check() stays true for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), what
        time.sleep(0.5)


def test_step_scaling_picks_the_step_by_its_bounds(lab):
    daemon, feeder = lab
    asg = daemon.boto("autoscaling")
    create_group(daemon, "STEP", 1, 4, 1)
    arn = asg.put_scaling_policy(
        AutoScalingGroupName="STEP", PolicyName="step-out", PolicyType="StepScaling",
        AdjustmentType="ChangeInCapacity",
        StepAdjustments=[{"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 20, "ScalingAdjustment": 1},
                         {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 3}])["PolicyARN"]
    user_alarm(daemon, "load-high", "Load", 50, arn)
    # 75 is 25 above the threshold of 50: the second step, +3.
    feeder.set("Load", 75)
    wait_for("desired 4", lambda: desired(daemon, "STEP") == 4, timeout=30, interval=0.5)
    assert_caused(daemon, "STEP", "load-high", "step-out", 1, 4)
    feeder.set("Load", 10)


def test_percent_change_with_min_adjustment_magnitude_and_exact_capacity(lab):
    daemon, feeder = lab
    asg = daemon.boto("autoscaling")
    create_group(daemon, "PERCENT", 1, 3, 1)
    create_group(daemon, "EXACT", 1, 5, 1)
    percent = asg.put_scaling_policy(
        AutoScalingGroupName="PERCENT", PolicyName="ten-percent", PolicyType="StepScaling",
        AdjustmentType="PercentChangeInCapacity", MinAdjustmentMagnitude=2,
        StepAdjustments=[{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 10}])["PolicyARN"]
    exact = asg.put_scaling_policy(
        AutoScalingGroupName="EXACT", PolicyName="two", AdjustmentType="ExactCapacity", ScalingAdjustment=2)["PolicyARN"]
    user_alarm(daemon, "percent-high", "Percent", 50, percent)
    user_alarm(daemon, "exact-high", "Exact", 50, exact)
    feeder.set("Percent", 90)
    feeder.set("Exact", 90)
    # 10 % of 1 is 0.1: one instance, raised to MinAdjustmentMagnitude 2 → 3.
    wait_for("PERCENT at 3", lambda: desired(daemon, "PERCENT") == 3, timeout=30, interval=0.5)
    wait_for("EXACT at 2", lambda: desired(daemon, "EXACT") == 2, timeout=30, interval=0.5)
    assert_caused(daemon, "PERCENT", "percent-high", "ten-percent", 1, 3)
    assert_caused(daemon, "EXACT", "exact-high", "two", 1, 2)
    holds("exact capacity stays exact", lambda: desired(daemon, "EXACT") == 2, 3 * PERIOD)
    feeder.set("Percent", 10)


def test_simple_scaling_cooldown_starts_when_the_activity_finishes(lab):
    daemon, feeder = lab
    asg = daemon.boto("autoscaling")
    create_group(daemon, "SIMPLE", 1, 3, 1)
    # A launch hook holds the next instance in Pending:Wait, so its activity runs long.
    asg.put_lifecycle_hook(AutoScalingGroupName="SIMPLE", LifecycleHookName="hold",
                           LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING", HeartbeatTimeout=60,
                           DefaultResult="CONTINUE")
    cooldown = 4
    arn = asg.put_scaling_policy(AutoScalingGroupName="SIMPLE", PolicyName="add-one",
                                 AdjustmentType="ChangeInCapacity", ScalingAdjustment=1, Cooldown=cooldown)["PolicyARN"]
    user_alarm(daemon, "busy", "Busy", 50, arn)
    feeder.set("Busy", 90)
    waiting = wait_for("Pending:Wait", lambda: [i for i in group(daemon, "SIMPLE")["Instances"]
                                                if i["LifecycleState"] == "Pending:Wait"], timeout=30, interval=0.5)
    [first] = assert_caused(daemon, "SIMPLE", "busy", "add-one", 1, 2)

    # The alarm stays in ALARM, re-running the policy every period; the cooldown has not
    # begun while the launch is still in progress, however long that takes.
    holds("no scaling while the activity runs", lambda: desired(daemon, "SIMPLE") == 2, 2 * cooldown)
    assert alarm_state(daemon, "busy") == "ALARM"
    code, message = daemon.aws_error("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", "SIMPLE",
                                     "--desired-capacity", "3", "--honor-cooldown")
    assert code == "ScalingActivityInProgress"
    assert re.fullmatch(r"Scaling activity [0-9a-f-]{36} is in progress and blocks this action", message), message
    assert desired(daemon, "SIMPLE") == 2, "a refused SetDesiredCapacity changes nothing"

    asg.complete_lifecycle_action(AutoScalingGroupName="SIMPLE", LifecycleHookName="hold",
                                  InstanceId=waiting[0]["InstanceId"], LifecycleActionResult="CONTINUE")
    wait_for("desired 3", lambda: desired(daemon, "SIMPLE") == 3, timeout=8 * cooldown, interval=0.5)
    feeder.set("Busy", 10)
    launched = next(a for a in activities(daemon, "SIMPLE") if a["ActivityId"] == first["ActivityId"])
    [second] = assert_caused(daemon, "SIMPLE", "busy", "add-one", 2, 3)
    gap = (second["StartTime"] - launched["EndTime"]).total_seconds()
    assert gap >= cooldown - 1, f"the cooldown counts from the end of the launch ({gap} s after it)"


def test_disable_scale_in_policy_never_removes(lab):
    daemon, feeder = lab
    create_group(daemon, "HOLD", 1, 3, 2)
    config = {"CustomizedMetricSpecification": {"Namespace": NS, "MetricName": "Queue", "Statistic": "Average"},
              "TargetValue": 10.0, "DisableScaleIn": True}
    alarms = tt_policy(daemon, "HOLD", "queue", config)
    assert list(alarms) == ["high"], "no AlarmLow with DisableScaleIn"
    [p] = daemon.aws("autoscaling", "describe-policies", "--auto-scaling-group-name", "HOLD")["ScalingPolicies"]
    assert p["TargetTrackingConfiguration"]["DisableScaleIn"] is True
    assert p["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["MetricName"] == "Queue"
    feeder.set("Queue", 1)
    wait_for("AlarmHigh OK", lambda: alarm_state(daemon, alarms["high"]) == "OK", timeout=20, interval=0.5)
    holds("low load removes nothing", lambda: desired(daemon, "HOLD") == 2, 8 * PERIOD)
    # Scale-out still works: ceil(2 x 20 / 10) = 4, at most MaxSize 3.
    feeder.set("Queue", 20)
    wait_for("desired 3", lambda: desired(daemon, "HOLD") == 3, timeout=30, interval=0.5)
    assert_caused(daemon, "HOLD", alarms["high"], "queue", 2, 3)
    feeder.set("Queue", 1)


def test_customized_metric_math_target_tracking(lab):
    daemon, feeder = lab
    asg = daemon.boto("autoscaling")
    create_group(daemon, "MATH", 1, 3, 1)
    metrics = [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": "Backlog"}, "Stat": "Average"},
                "ReturnData": False},
               {"Id": "e1", "Expression": "m1 / 2", "Label": "half the backlog", "ReturnData": True}]

    # Refusals change nothing: two queries returning data, a query with both forms.
    bad = [dict(metrics[0], ReturnData=True), metrics[1]]
    for queries in (bad, [dict(metrics[0], Expression="1", ReturnData=True)]):
        with pytest.raises(asg.exceptions.ClientError) as e:
            asg.put_scaling_policy(AutoScalingGroupName="MATH", PolicyName="backlog", PolicyType="TargetTrackingScaling",
                                   TargetTrackingConfiguration={"CustomizedMetricSpecification": {"Metrics": queries},
                                                                "TargetValue": 10.0})
        assert e.value.response["Error"]["Code"] == "ValidationError"
    assert asg.describe_policies(AutoScalingGroupName="MATH")["ScalingPolicies"] == []
    assert daemon.boto("cloudwatch").describe_alarms()["MetricAlarms"] == []

    alarms = tt_policy(daemon, "MATH", "backlog",
                       {"CustomizedMetricSpecification": {"Metrics": metrics}, "TargetValue": 10.0})
    [p] = asg.describe_policies(AutoScalingGroupName="MATH")["ScalingPolicies"]
    shown = p["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["Metrics"]
    assert [q["Id"] for q in shown] == ["m1", "e1"] and shown[1]["Expression"] == "m1 / 2"
    assert shown[0]["MetricStat"]["Metric"]["MetricName"] == "Backlog" and shown[0]["ReturnData"] is False
    owned = daemon.boto("cloudwatch").describe_alarms(AlarmNames=list(alarms.values()))["MetricAlarms"]
    for a in owned:
        assert "MetricName" not in a and [q["Id"] for q in a["Metrics"]] == ["m1", "e1"]
    # Backlog 50 → e1 = 25 against a target of 10: ceil(1 x 25 / 10) = 3.
    feeder.set("Backlog", 50)
    wait_for("desired 3", lambda: desired(daemon, "MATH") == 3, timeout=30, interval=0.5)
    assert_caused(daemon, "MATH", alarms["high"], "backlog", 1, 3)
    feeder.set("Backlog", 10)


def test_several_target_tracking_policies_scale_in_only_together(lab):
    """CPU falls but a second policy's queue metric holds near its target: no scale-in
    until the queue falls too; then the group goes back to one."""
    daemon, feeder = lab
    create_group(daemon, "PAIR", 1, 3, 2)
    cpu = tt_policy(daemon, "PAIR", "cpu50", {"PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
                                              "TargetValue": 50.0})
    queue = tt_policy(daemon, "PAIR", "queue", {"CustomizedMetricSpecification": {"Namespace": NS, "MetricName": "Depth",
                                                                                   "Statistic": "Average"},
                                                "TargetValue": 10.0})
    feeder.set("Depth", 9)  # below 10 (no scale-out), above 7 (its AlarmLow stays OK)
    wait_for("CPU AlarmLow in ALARM", lambda: alarm_state(daemon, cpu["low"]) == "ALARM", timeout=90, interval=1)
    holds("the queue policy keeps capacity", lambda: desired(daemon, "PAIR") == 2
          and alarm_state(daemon, queue["low"]) != "ALARM", 4 * PERIOD)
    feeder.set("Depth", 1)
    wait_for("scale-in once both agree", lambda: desired(daemon, "PAIR") == 1, timeout=90, interval=1)
    assert alarm_state(daemon, queue["low"]) == "ALARM"
    [gone] = [a for a in activities(daemon, "PAIR") if a["Description"].startswith("Terminating EC2 instance")]
    assert any(policy_cause(alarms["low"], name, 2, 1) in gone["Cause"]
               for name, alarms in (("cpu50", cpu), ("queue", queue))), gone["Cause"]
