"""The seed's Part 1 with the aws CLI and boto3: a group from the template, capacity
edits, EC2 health replacement, and the activity history with AWS's causes."""
# run_suites: alone
# (An instance's `stress` must read as a whole CPU: no other suite beside it.)
import json

from harness import ROOT, wait_for

GROUP = "EXERCISE-GROUP"


def lab_template(daemon, user_data=False):
    data = {"ImageId": daemon.base_image(), "InstanceType": "t2.micro", "SecurityGroupIds": [daemon.web_group()]}
    if user_data:
        import base64
        data["UserData"] = base64.b64encode((ROOT / "examples/lab/setup.sh").read_bytes()).decode()
    daemon.aws("ec2", "create-launch-template", "--launch-template-name", "exercise-launch-template",
               "--launch-template-data", json.dumps(data))


def two_zone_subnets(daemon):
    subnets = daemon.aws("ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true")["Subnets"]
    by_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in subnets}
    return f"{by_zone['us-east-1a']},{by_zone['us-east-1b']}"


def group(daemon, name=GROUP):
    return daemon.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", name)["AutoScalingGroups"][0]


def in_service(daemon, n, name=GROUP):
    g = group(daemon, name)
    live = [i for i in g["Instances"] if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"]
    return live if len(live) == n and len(g["Instances"]) == n else None


def activities(daemon, name=GROUP):
    return daemon.aws("autoscaling", "describe-scaling-activities", "--auto-scaling-group-name", name)["Activities"]


def assert_tracked_out_and_in(daemon, policy, high, low, launched):
    """The history tells a target-tracking scale-out 1 → 2 (launching `launched`) by
    AlarmHigh and the scale-in 2 → 1 by AlarmLow, with AWS's causes."""
    history = activities(daemon)
    out = next(a for a in history if a["Description"] == f"Launching a new EC2 instance: {launched}")
    assert f"a monitor alarm {high} in state ALARM triggered policy {policy} changing the desired capacity from 1 to 2." in out["Cause"]
    back = next(a for a in history if a["Description"].startswith("Terminating EC2 instance"))
    assert f"a monitor alarm {low} in state ALARM triggered policy {policy} changing the desired capacity from 2 to 1." in back["Cause"]


def test_part1_capacity_and_activity_history(daemon):
    lab_template(daemon)
    daemon.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP,
               "--launch-template", "LaunchTemplateName=exercise-launch-template,Version=$Default",
               "--min-size", "1", "--max-size", "2", "--vpc-zone-identifier", two_zone_subnets(daemon),
               "--tags", "Key=Name,Value=exercise-group,PropagateAtLaunch=true")
    g = group(daemon)
    assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"]) == (1, 2, 1)
    assert g["HealthCheckType"] == "EC2" and g["HealthCheckGracePeriod"] == 0 and g["DefaultCooldown"] == 300
    assert sorted(g["AvailabilityZones"]) == ["us-east-1a", "us-east-1b"]

    # On creation one instance starts, because of the minimum.
    [first] = wait_for("one instance InService", lambda: in_service(daemon, 1))
    inst = daemon.instance(first["InstanceId"])
    assert inst["State"]["Name"] == "running"
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert tags["aws:autoscaling:groupName"] == GROUP and tags["Name"] == "exercise-group"
    assert tags["aws:ec2launchtemplate:version"] == "1"
    asi = daemon.aws("autoscaling", "describe-auto-scaling-instances", "--instance-ids", first["InstanceId"])["AutoScalingInstances"][0]
    assert asi["AutoScalingGroupName"] == GROUP and asi["HealthStatus"] == "HEALTHY"

    # 0/0/0 then 1/1/2: the instance goes, then one comes back.
    daemon.aws("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", GROUP,
               "--min-size", "0", "--max-size", "0", "--desired-capacity", "0")
    wait_for("group empty", lambda: in_service(daemon, 0) is not None and group(daemon)["Instances"] == [])
    daemon.aws("ec2", "wait", "instance-terminated", "--instance-ids", first["InstanceId"])
    daemon.aws("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", GROUP,
               "--min-size", "1", "--max-size", "2", "--desired-capacity", "1")
    [second] = wait_for("back to one", lambda: in_service(daemon, 1))
    assert second["InstanceId"] != first["InstanceId"]

    history = activities(daemon)
    assert [a["StatusCode"] for a in history] == ["Successful"] * 3
    launch2, term, launch1 = history  # newest first
    assert launch1["Description"] == f"Launching a new EC2 instance: {first['InstanceId']}"
    assert "a user request created an AutoScalingGroup changing the desired capacity from 0 to 1." in launch1["Cause"]
    assert "an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 0 to 1." in launch1["Cause"]
    assert term["Description"] == f"Terminating EC2 instance: {first['InstanceId']}"
    assert "a user request update of AutoScalingGroup constraints to min: 0, max: 0, desired: 0 changing the desired capacity from 1 to 0." in term["Cause"]
    assert f"instance {first['InstanceId']} was selected for termination." in term["Cause"]
    assert "changing the desired capacity from 0 to 1." in launch2["Cause"]
    # The same story from Shoal's CLI.
    shown = daemon.shoal("groups").stdout
    assert f"{GROUP}  min 1 / desired 1 / max 2" in shown and second["InstanceId"] in shown and "InService" in shown
    story = daemon.shoal("activities", GROUP).stdout
    assert story.count("Successful") == 3 and f"Terminating EC2 instance: {first['InstanceId']}" in story
    assert "a user request created an AutoScalingGroup" in story
    details = json.loads(launch2["Details"])
    assert details["Availability Zone"] in ("us-east-1a", "us-east-1b") and details["Subnet ID"].startswith("subnet-")


def test_capacity_balances_zones_and_replaces_stopped_instances(daemon):
    lab_template(daemon)
    asg = daemon.boto("autoscaling")
    asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=2, MaxSize=4,
                                  LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
                                  VPCZoneIdentifier=two_zone_subnets(daemon))
    live = wait_for("two InService", lambda: in_service(daemon, 2))
    assert sorted(i["AvailabilityZone"] for i in live) == ["us-east-1a", "us-east-1b"], "one per zone"

    # EC2 health check: a stopped instance is unhealthy at once and replaced.
    victim = live[0]["InstanceId"]
    daemon.aws("ec2", "stop-instances", "--instance-ids", victim)
    now = wait_for("replacement", lambda: (lambda l: l if l and victim not in [i["InstanceId"] for i in l] else None)(in_service(daemon, 2)), timeout=40)
    assert sorted(i["AvailabilityZone"] for i in now) == ["us-east-1a", "us-east-1b"]
    causes = [a["Cause"] for a in activities(daemon) if a["Description"] == f"Terminating EC2 instance: {victim}"]
    assert causes and "an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped." in causes[0]

    # TerminateInstanceInAutoScalingGroup with and without decrement.
    a = asg.terminate_instance_in_auto_scaling_group(InstanceId=now[0]["InstanceId"], ShouldDecrementDesiredCapacity=False)["Activity"]
    assert a["Description"].startswith("Terminating EC2 instance") and a["StatusCode"] in ("InProgress", "Successful")
    wait_for("replaced again", lambda: (lambda l: l if l and now[0]["InstanceId"] not in [i["InstanceId"] for i in l] else None)(in_service(daemon, 2)), timeout=40)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=3)
    wait_for("three", lambda: in_service(daemon, 3))
    target = group(daemon)["Instances"][0]["InstanceId"]
    asg.terminate_instance_in_auto_scaling_group(InstanceId=target, ShouldDecrementDesiredCapacity=True)
    assert group(daemon)["DesiredCapacity"] == 2
    wait_for("two after decrement", lambda: in_service(daemon, 2))

    asg.delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)
    wait_for("group deleted", lambda: daemon.aws("autoscaling", "describe-auto-scaling-groups")["AutoScalingGroups"] == [], timeout=40)
    running = daemon.aws("ec2", "describe-instances", "--filters", "Name=instance-state-name,Values=pending,running")["Reservations"]
    assert running == []


def test_bad_input_is_refused_and_changes_nothing(daemon):
    lab_template(daemon)
    subnets = two_zone_subnets(daemon)
    lt = "LaunchTemplateName=exercise-launch-template"
    cases = [
        (["--min-size", "3", "--max-size", "1"], "ValidationError", "Max bound, 1, must be greater than or equal to min bound, 3"),
        (["--min-size", "1", "--max-size", "2", "--desired-capacity", "3"], "ValidationError", "Desired capacity:3 must be between the specified min size:1 and max size:2"),
    ]
    for extra, code, message in cases:
        got = daemon.aws_error("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP,
                               "--launch-template", lt, "--vpc-zone-identifier", subnets, *extra)
        assert got == (code, message)
    code, message = daemon.aws_error("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP,
                                     "--launch-template", "LaunchTemplateName=nope", "--min-size", "1", "--max-size", "1",
                                     "--vpc-zone-identifier", subnets)
    assert code == "ValidationError" and "nope" in message
    code, _ = daemon.aws_error("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP,
                               "--launch-template", "LaunchTemplateName=exercise-launch-template,Version=9",
                               "--min-size", "1", "--max-size", "1", "--vpc-zone-identifier", subnets)
    assert code == "ValidationError"
    assert daemon.aws("autoscaling", "describe-auto-scaling-groups")["AutoScalingGroups"] == []

    daemon.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP, "--launch-template", lt,
               "--min-size", "1", "--max-size", "2", "--vpc-zone-identifier", subnets)
    assert daemon.aws_error("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP, "--launch-template", lt,
                            "--min-size", "1", "--max-size", "2", "--vpc-zone-identifier", subnets) == (
        "AlreadyExists", f"AutoScalingGroup by this name already exists - A group with the name {GROUP} already exists")
    assert daemon.aws_error("autoscaling", "set-desired-capacity", "--auto-scaling-group-name", GROUP, "--desired-capacity", "3") == (
        "ValidationError", "New SetDesiredCapacity value 3 is above max value 2 for the AutoScalingGroup.")
    wait_for("one", lambda: in_service(daemon, 1))
    assert daemon.aws_error("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", GROUP) == (
        "ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances still in the group.")
    assert daemon.aws_error("autoscaling", "delete-policy", "--auto-scaling-group-name", GROUP, "--policy-name", "nope")[0] == "ValidationError"
    g = group(daemon)
    assert (g["MinSize"], g["MaxSize"], g["DesiredCapacity"], len(g["Instances"])) == (1, 2, 1, 1)


def test_lifecycle_hooks_hold_instances_until_completed(daemon):
    lab_template(daemon)
    asg = daemon.boto("autoscaling")
    asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=0, MaxSize=2, DesiredCapacity=0,
                                  LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
                                  VPCZoneIdentifier=two_zone_subnets(daemon))
    asg.put_lifecycle_hook(AutoScalingGroupName=GROUP, LifecycleHookName="warm-up",
                           LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING", HeartbeatTimeout=300, DefaultResult="ABANDON")
    asg.put_lifecycle_hook(AutoScalingGroupName=GROUP, LifecycleHookName="drain",
                           LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING", HeartbeatTimeout=30)
    hooks = {h["LifecycleHookName"]: h for h in asg.describe_lifecycle_hooks(AutoScalingGroupName=GROUP)["LifecycleHooks"]}
    assert hooks["drain"]["DefaultResult"] == "ABANDON" and hooks["drain"]["GlobalTimeout"] == 3000
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    waiting = wait_for("Pending:Wait", lambda: [i for i in group(daemon)["Instances"] if i["LifecycleState"] == "Pending:Wait"])
    iid = waiting[0]["InstanceId"]
    asg.record_lifecycle_action_heartbeat(AutoScalingGroupName=GROUP, LifecycleHookName="warm-up", InstanceId=iid)
    asg.complete_lifecycle_action(AutoScalingGroupName=GROUP, LifecycleHookName="warm-up", InstanceId=iid, LifecycleActionResult="CONTINUE")
    wait_for("InService", lambda: in_service(daemon, 1))
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=0)
    wait_for("Terminating:Wait", lambda: [i for i in group(daemon)["Instances"] if i["LifecycleState"] == "Terminating:Wait"])
    assert daemon.instance(iid)["State"]["Name"] == "running", "held until the hook completes"
    asg.complete_lifecycle_action(AutoScalingGroupName=GROUP, LifecycleHookName="drain", InstanceId=iid, LifecycleActionResult="CONTINUE")
    wait_for("gone", lambda: group(daemon)["Instances"] == [])
    daemon.aws("ec2", "wait", "instance-terminated", "--instance-ids", iid)
    code, _ = daemon.aws_error("autoscaling", "complete-lifecycle-action", "--auto-scaling-group-name", GROUP,
                               "--lifecycle-hook-name", "drain", "--instance-id", iid, "--lifecycle-action-result", "CONTINUE")
    assert code == "ValidationError"
    assert daemon.aws_error("autoscaling", "put-lifecycle-hook", "--auto-scaling-group-name", GROUP, "--lifecycle-hook-name", "x",
                            "--lifecycle-transition", "autoscaling:EC2_INSTANCE_LAUNCHING", "--heartbeat-timeout", "5")[0] == "ValidationError"


def test_scheduled_action_changes_capacity(daemon):
    import datetime
    lab_template(daemon)
    asg = daemon.boto("autoscaling")
    asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=0, MaxSize=3, DesiredCapacity=0,
                                  LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
                                  VPCZoneIdentifier=two_zone_subnets(daemon))
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)
    asg.put_scheduled_update_group_action(AutoScalingGroupName=GROUP, ScheduledActionName="morning", StartTime=at, DesiredCapacity=2)
    asg.put_scheduled_update_group_action(AutoScalingGroupName=GROUP, ScheduledActionName="nightly", Recurrence="0 22 * * *", MinSize=0, DesiredCapacity=0)
    names = sorted(a["ScheduledActionName"] for a in asg.describe_scheduled_actions(AutoScalingGroupName=GROUP)["ScheduledUpdateGroupActions"])
    assert names == ["morning", "nightly"]
    wait_for("scheduled scale-out", lambda: in_service(daemon, 2), timeout=30)
    assert [a["ScheduledActionName"] for a in asg.describe_scheduled_actions(AutoScalingGroupName=GROUP)["ScheduledUpdateGroupActions"]] == ["nightly"]
    causes = [a["Cause"] for a in activities(daemon)]
    assert any("a scheduled action update of AutoScalingGroup constraints" in c for c in causes)
    assert daemon.aws_error("autoscaling", "put-scheduled-update-group-action", "--auto-scaling-group-name", GROUP,
                            "--scheduled-action-name", "bad", "--recurrence", "not cron", "--desired-capacity", "1")[0] == "ValidationError"


def next_local(hour, zone):
    """The next `hour`:00 in IANA `zone`, in UTC, as Python's own tz database has it."""
    import datetime
    import zoneinfo
    tz = zoneinfo.ZoneInfo(zone)
    now = datetime.datetime.now(tz)
    t = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if t <= now:
        t = (t + datetime.timedelta(days=1)).replace(hour=hour)
        t = t.replace(tzinfo=tz)  # re-resolve the offset on the new day
    return t.astimezone(datetime.timezone.utc)


def test_scheduled_actions_in_iana_time_zones(daemon):
    """Recurrences run in the action's IANA time zone, daylight saving included:
    DescribeScheduledActions' StartTime is each recurring action's next run, as in AWS.
    The Batch calls report each failure by name and store the rest."""
    lab_template(daemon)
    asg = daemon.boto("autoscaling")
    asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=0, MaxSize=3, DesiredCapacity=0,
                                  LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
                                  VPCZoneIdentifier=two_zone_subnets(daemon))
    failed = asg.batch_put_scheduled_update_group_action(AutoScalingGroupName=GROUP, ScheduledUpdateGroupActions=[
        {"ScheduledActionName": "ny-morning", "Recurrence": "0 9 * * *", "TimeZone": "America/New_York", "DesiredCapacity": 2},
        {"ScheduledActionName": "sydney-evening", "Recurrence": "0 19 * * *", "TimeZone": "Australia/Sydney", "DesiredCapacity": 1},
        {"ScheduledActionName": "utc-night", "Recurrence": "0 22 * * *", "DesiredCapacity": 0},
        {"ScheduledActionName": "offset", "Recurrence": "0 9 * * *", "TimeZone": "+05:30", "DesiredCapacity": 1},
    ])["FailedScheduledUpdateGroupActions"]
    assert [(f["ScheduledActionName"], f["ErrorCode"]) for f in failed] == [("offset", "ValidationError")]
    assert "IANA time zone" in failed[0]["ErrorMessage"]
    actions = {a["ScheduledActionName"]: a for a in
               asg.describe_scheduled_actions(AutoScalingGroupName=GROUP)["ScheduledUpdateGroupActions"]}
    assert sorted(actions) == ["ny-morning", "sydney-evening", "utc-night"]
    assert actions["ny-morning"]["TimeZone"] == "America/New_York"
    assert actions["ny-morning"]["StartTime"] == next_local(9, "America/New_York")
    assert actions["sydney-evening"]["StartTime"] == next_local(19, "Australia/Sydney")
    assert actions["utc-night"]["StartTime"] == next_local(22, "UTC")

    # A refused time zone changes nothing.
    code, msg = daemon.aws_error("autoscaling", "put-scheduled-update-group-action", "--auto-scaling-group-name", GROUP,
                                 "--scheduled-action-name", "ny-morning", "--recurrence", "0 10 * * *",
                                 "--time-zone", "Eastern", "--desired-capacity", "3")
    assert code == "ValidationError" and "Eastern" in msg
    again = asg.describe_scheduled_actions(AutoScalingGroupName=GROUP, ScheduledActionNames=["ny-morning"])
    assert again["ScheduledUpdateGroupActions"][0]["Recurrence"] == "0 9 * * *"

    failed = asg.batch_delete_scheduled_action(AutoScalingGroupName=GROUP,
                                               ScheduledActionNames=["ny-morning", "nope"])["FailedScheduledActions"]
    assert [f["ScheduledActionName"] for f in failed] == ["nope"]
    left = asg.describe_scheduled_actions(AutoScalingGroupName=GROUP)["ScheduledUpdateGroupActions"]
    assert sorted(a["ScheduledActionName"] for a in left) == ["sydney-evening", "utc-night"]


def test_part1_cpu_target_tracking_scales_out_and_back_in():
    """`stress --cpu 1` in the group's one instance: average CPU above 80% for 3 periods
    fires AlarmHigh, the group adds an instance in the other zone; when the load stops,
    15 low periods fire AlarmLow and it goes back to one. Metric period 3 s."""
    import subprocess
    from harness import SHOAL, Daemon
    daemon = Daemon("--metric-period", "3")
    burner = None
    try:
        lab_template(daemon)
        daemon.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP,
                   "--launch-template", "LaunchTemplateName=exercise-launch-template", "--min-size", "1", "--max-size", "2",
                   "--vpc-zone-identifier", two_zone_subnets(daemon), "--default-instance-warmup", "3")
        policy = daemon.aws("autoscaling", "put-scaling-policy", "--auto-scaling-group-name", GROUP, "--policy-name", "cpu80",
                            "--policy-type", "TargetTrackingScaling", "--target-tracking-configuration",
                            json.dumps({"PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"}, "TargetValue": 80.0}))
        names = sorted(a["AlarmName"] for a in policy["Alarms"])
        assert names[0].startswith(f"TargetTracking-{GROUP}-AlarmHigh-") and names[1].startswith(f"TargetTracking-{GROUP}-AlarmLow-")
        alarms = {a["AlarmName"]: a for a in daemon.aws("cloudwatch", "describe-alarms", "--alarm-names", *names)["MetricAlarms"]}
        high = alarms[names[0]]
        assert (high["ComparisonOperator"], high["Threshold"], high["EvaluationPeriods"], high["Period"]) == ("GreaterThanThreshold", 80.0, 3, 60)
        assert high["AlarmDescription"] == f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy['PolicyARN']}."
        assert alarms[names[1]]["Threshold"] == 56.0 and alarms[names[1]]["EvaluationPeriods"] == 15

        [first] = wait_for("one instance", lambda: in_service(daemon, 1))
        # Two hogs on a 1-vCPU instance: its cgroup quota still caps it at 100%, and a
        # busy machine cannot starve it below the alarm's threshold.
        burner = subprocess.Popen([SHOAL, "--endpoint", daemon.endpoint, "ssh", first["InstanceId"], "--", "stress", "--cpu", "2", "--timeout", "300"])
        both = wait_for("scale-out to two", lambda: in_service(daemon, 2), timeout=90, interval=0.5)
        zones = {i["InstanceId"]: i["AvailabilityZone"] for i in both}
        second = next(i for i in zones if i != first["InstanceId"])
        assert zones[second] != zones[first["InstanceId"]], "the new instance goes to the other zone"
        burner.terminate()
        burner.wait(timeout=10)
        burner = None
        wait_for("scale-in to one", lambda: in_service(daemon, 1), timeout=150, interval=1)

        assert_tracked_out_and_in(daemon, "cpu80", names[0], names[1], second)
        hist = daemon.aws("cloudwatch", "describe-alarm-history", "--alarm-name", names[0], "--history-item-type", "Action")["AlarmHistoryItems"]
        assert any("Successfully executed action" in h["HistorySummary"] for h in hist)

        daemon.aws("autoscaling", "delete-policy", "--auto-scaling-group-name", GROUP, "--policy-name", "cpu80")
        assert daemon.aws("cloudwatch", "describe-alarms", "--alarm-names", *names)["MetricAlarms"] == []
    finally:
        if burner:
            burner.kill()
        daemon.close()
