"""An Auto Scaling group's life with boto3 and the aws CLI: suspended processes and what
they stop (AddToLoadBalancer too), lifecycle hooks that all must continue and one that
times out with ABANDON, and DeleteAutoScalingGroup with and without ForceDelete."""
import re
import time

import botocore.exceptions
import pytest

from harness import wait_for
from test_autoscaling import GROUP, activities, group, in_service, lab_template, two_zone_subnets

REASON = re.compile(r"^User suspended at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def create_group(daemon, desired=0, max_size=3, **extra):
    lab_template(daemon)
    daemon.boto("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=GROUP, MinSize=0, MaxSize=max_size, DesiredCapacity=desired,
        LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
        VPCZoneIdentifier=two_zone_subnets(daemon), **extra)


def target_group(daemon):
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    tg = daemon.aws("elbv2", "create-target-group", "--name", "lifecycle-tg", "--protocol", "HTTP",
                    "--port", "3000", "--vpc-id", vpc)["TargetGroups"][0]["TargetGroupArn"]
    daemon.aws("elbv2", "modify-target-group-attributes", "--target-group-arn", tg,
               "--attributes", "Key=deregistration_delay.timeout_seconds,Value=0")
    return tg


def targets(daemon, tg):
    d = daemon.aws("elbv2", "describe-target-health", "--target-group-arn", tg)["TargetHealthDescriptions"]
    return sorted(t["Target"]["Id"] for t in d)


def suspended(daemon):
    return {p["ProcessName"]: p["SuspensionReason"] for p in group(daemon)["SuspendedProcesses"]}


def still(what, check, seconds=3.0):
    """Asserts check() holds for `seconds` (something that must not happen, doesn't)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), what
        time.sleep(0.3)


def states(daemon):
    return {i["InstanceId"]: i["LifecycleState"] for i in group(daemon)["Instances"]}


def launch_activity(daemon, iid):
    return next(a for a in activities(daemon) if a["Description"].startswith(f"Launching a new EC2 instance: {iid}"))


def test_suspended_processes_stop_what_they_name_until_resumed(daemon):
    create_group(daemon)
    asg = daemon.boto("autoscaling")

    def process(*names, resume=False):
        call = asg.resume_processes if resume else asg.suspend_processes
        call(AutoScalingGroupName=GROUP, ScalingProcesses=list(names))

    # Launch: desired 1 starts nothing until resumed.
    process("Launch")
    assert list(suspended(daemon)) == ["Launch"] and REASON.match(suspended(daemon)["Launch"])
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    still("no launch while Launch is suspended", lambda: group(daemon)["Instances"] == [])
    assert activities(daemon) == []
    process("Launch", resume=True)
    assert suspended(daemon) == {}
    [first] = wait_for("launched after resume", lambda: in_service(daemon, 1), timeout=30)

    # Terminate: desired 0 keeps the instance until resumed.
    process("Terminate")
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=0)
    still("no scale-in while Terminate is suspended", lambda: in_service(daemon, 1))
    process("Terminate", resume=True)
    wait_for("scaled in after resume", lambda: group(daemon)["Instances"] == [], timeout=30)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [inst] = wait_for("one again", lambda: in_service(daemon, 1), timeout=30)

    # HealthCheck: a stopped instance is not marked unhealthy until resumed.
    process("HealthCheck")
    victim = inst["InstanceId"]
    daemon.aws("ec2", "stop-instances", "--instance-ids", victim)
    daemon.wait_state(victim, "stopped")
    still("not marked while HealthCheck is suspended", lambda: in_service(daemon, 1) and in_service(daemon, 1)[0]["InstanceId"] == victim)
    process("HealthCheck", resume=True)
    [inst] = wait_for("replaced after resume", lambda: (lambda l: l if l and l[0]["InstanceId"] != victim else None)(in_service(daemon, 1)), timeout=40)

    # ReplaceUnhealthy: an instance marked unhealthy stays until resumed.
    process("ReplaceUnhealthy")
    victim = inst["InstanceId"]
    asg.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy")
    still("kept while ReplaceUnhealthy is suspended",
          lambda: [(i["InstanceId"], i["HealthStatus"]) for i in group(daemon)["Instances"]] == [(victim, "Unhealthy")])
    process("ReplaceUnhealthy", resume=True)
    wait_for("replaced after resume", lambda: (lambda l: l if l and l[0]["InstanceId"] != victim else None)(in_service(daemon, 1)), timeout=40)

    # No names: all of them, and back. A bad name changes nothing.
    asg.suspend_processes(AutoScalingGroupName=GROUP)
    assert sorted(suspended(daemon)) == sorted(["Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification", "AZRebalance",
                                                "HealthCheck", "InstanceRefresh", "ReplaceUnhealthy", "ScheduledActions"])
    assert all(REASON.match(r) for r in suspended(daemon).values())
    asg.resume_processes(AutoScalingGroupName=GROUP)
    assert suspended(daemon) == {}
    code, _ = daemon.aws_error("autoscaling", "suspend-processes", "--auto-scaling-group-name", GROUP,
                               "--scaling-processes", "Launch", "Nope")
    assert code == "ValidationError" and suspended(daemon) == {}


def test_add_to_load_balancer_suspended_launches_unregistered_instances(daemon):
    tg = target_group(daemon)
    create_group(daemon, TargetGroupARNs=[tg])
    asg = daemon.boto("autoscaling")
    asg.suspend_processes(AutoScalingGroupName=GROUP, ScalingProcesses=["AddToLoadBalancer"])
    assert REASON.match(suspended(daemon)["AddToLoadBalancer"])
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [first] = wait_for("InService", lambda: in_service(daemon, 1), timeout=30)
    assert targets(daemon, tg) == [], "launched but not registered"

    # Resuming registers instances launched from then on, not those launched before.
    asg.resume_processes(AutoScalingGroupName=GROUP, ScalingProcesses=["AddToLoadBalancer"])
    still("not registered after resume", lambda: targets(daemon, tg) == [])
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=2)
    both = wait_for("two InService", lambda: in_service(daemon, 2), timeout=30)
    [second] = [i["InstanceId"] for i in both if i["InstanceId"] != first["InstanceId"]]
    wait_for("the new one registered", lambda: targets(daemon, tg) == [second], timeout=10)


def test_launch_hooks_all_must_continue_and_a_timeout_abandons(daemon):
    """HeartbeatTimeout is in real seconds (AWS's minimum is 30; Shoal does not scale it
    with --metric-period), so this test waits about 30 s once."""
    create_group(daemon, max_size=2)
    asg = daemon.boto("autoscaling")
    asg.put_lifecycle_hook(AutoScalingGroupName=GROUP, LifecycleHookName="warm-up",
                           LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING", HeartbeatTimeout=30,
                           DefaultResult="ABANDON")
    asg.put_lifecycle_hook(AutoScalingGroupName=GROUP, LifecycleHookName="register",
                           LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING", HeartbeatTimeout=300,
                           DefaultResult="CONTINUE")
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [first] = wait_for("Pending:Wait", lambda: [i for i, s in states(daemon).items() if s == "Pending:Wait"], timeout=30)
    assert launch_activity(daemon, first)["StatusCode"] == "MidLifecycleAction"

    # One hook continues; the other still holds the instance.
    asg.complete_lifecycle_action(AutoScalingGroupName=GROUP, LifecycleHookName="register", InstanceId=first,
                                  LifecycleActionResult="CONTINUE")
    still("held by the other hook", lambda: states(daemon) == {first: "Pending:Wait"}, seconds=2)

    # warm-up times out with ABANDON: the launch is cancelled, the instance terminated.
    cancelled = wait_for("launch cancelled", lambda: (lambda a: a if a["StatusCode"] == "Cancelled" else None)(launch_activity(daemon, first)), timeout=45)
    message = ("^Instance failed to complete user's Lifecycle Action: Lifecycle Action with token [0-9a-f-]{36} "
               "was abandoned: Lifecycle Action Completed with ABANDON Result$")
    assert re.match(message, cancelled["StatusMessage"]), cancelled
    assert cancelled["Description"] == f"Launching a new EC2 instance: {first}.  Status Reason: {cancelled['StatusMessage']}"
    assert cancelled["Progress"] == 100 and "EndTime" in cancelled
    daemon.aws("ec2", "wait", "instance-terminated", "--instance-ids", first)
    terminate = next(a for a in activities(daemon) if a["Description"] == f"Terminating EC2 instance: {first}")
    assert terminate["Cause"].endswith("an instance was taken out of service in response to a launch lifecycle action being abandoned.")

    # Its replacement waits on both hooks again and enters service when both continue.
    [second] = wait_for("replacement waiting", lambda: [i for i, s in states(daemon).items() if s == "Pending:Wait"], timeout=30)
    for hook in ("warm-up", "register"):
        asg.complete_lifecycle_action(AutoScalingGroupName=GROUP, LifecycleHookName=hook, InstanceId=second,
                                      LifecycleActionResult="CONTINUE")
    wait_for("replacement InService", lambda: in_service(daemon, 1), timeout=30)
    assert launch_activity(daemon, second)["StatusCode"] == "Successful"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.complete_lifecycle_action(AutoScalingGroupName=GROUP, LifecycleHookName="warm-up", InstanceId=second,
                                      LifecycleActionResult="CONTINUE")
    assert e.value.response["Error"]["Code"] == "ValidationError"


def test_delete_refuses_with_instances_and_force_delete_leaves_nothing_behind(daemon):
    tg = target_group(daemon)
    create_group(daemon, desired=2, TargetGroupARNs=[tg])
    asg = daemon.boto("autoscaling")
    asg.put_scaling_policy(AutoScalingGroupName=GROUP, PolicyName="cpu50", PolicyType="TargetTrackingScaling",
                           TargetTrackingConfiguration={"PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
                                                        "TargetValue": 50})
    asg.put_lifecycle_hook(AutoScalingGroupName=GROUP, LifecycleHookName="drain",
                           LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING", HeartbeatTimeout=3600)
    asg.put_scheduled_update_group_action(AutoScalingGroupName=GROUP, ScheduledActionName="nightly",
                                          Recurrence="0 22 * * *", DesiredCapacity=0)
    live = wait_for("two InService", lambda: in_service(daemon, 2), timeout=30)
    ids = sorted(i["InstanceId"] for i in live)
    wait_for("both registered", lambda: targets(daemon, tg) == ids, timeout=10)
    alarms = [a["AlarmName"] for a in daemon.aws("cloudwatch", "describe-alarms")["MetricAlarms"]]
    assert len([a for a in alarms if a.startswith(f"TargetTracking-{GROUP}-")]) == 2

    # Only a protected and a standby instance left: still "instances in the group".
    asg.set_instance_protection(AutoScalingGroupName=GROUP, InstanceIds=[ids[0]], ProtectedFromScaleIn=True)
    asg.enter_standby(AutoScalingGroupName=GROUP, InstanceIds=[ids[1]], ShouldDecrementDesiredCapacity=True)
    wait_for("standby", lambda: states(daemon) == {ids[0]: "InService", ids[1]: "Standby"}, timeout=20)
    before = group(daemon)
    assert daemon.aws_error("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", GROUP) == (
        "ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances still in the group.")
    assert group(daemon) == before, "a refused delete changes nothing"

    # ForceDelete: both go (the terminate hook does not hold them), then the group and all it owned.
    asg.delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)
    wait_for("group gone", lambda: asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"] == [], timeout=60)
    for iid in ids:
        assert daemon.instance(iid)["State"]["Name"] in ("shutting-down", "terminated")
    alarms = [a["AlarmName"] for a in daemon.aws("cloudwatch", "describe-alarms")["MetricAlarms"]]
    assert [a for a in alarms if a.startswith("TargetTracking-")] == [], "the policy's alarms went with it"
    assert asg.describe_policies(AutoScalingGroupName=GROUP)["ScalingPolicies"] == []
    assert asg.describe_scheduled_actions(AutoScalingGroupName=GROUP)["ScheduledUpdateGroupActions"] == []
    assert targets(daemon, tg) == []

    # A new group of the same name inherits nothing.
    asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=0, MaxSize=1,
                                  LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
                                  VPCZoneIdentifier=two_zone_subnets(daemon))
    assert asg.describe_lifecycle_hooks(AutoScalingGroupName=GROUP)["LifecycleHooks"] == []
    assert asg.describe_policies(AutoScalingGroupName=GROUP)["ScalingPolicies"] == []
    assert asg.describe_scheduled_actions(AutoScalingGroupName=GROUP)["ScheduledUpdateGroupActions"] == []
    assert activities(daemon) == []
    # The deleted group's history is kept, shown only with IncludeDeletedGroups.
    old = asg.describe_scaling_activities(AutoScalingGroupName=GROUP, IncludeDeletedGroups=True)["Activities"]
    assert {a["AutoScalingGroupState"] for a in old} == {"Deleted"}
    assert {f"Terminating EC2 instance: {i}" for i in ids} <= {a["Description"] for a in old}
    assert asg.describe_scaling_activities()["Activities"] == []
    # An empty group goes at once.
    asg.delete_auto_scaling_group(AutoScalingGroupName=GROUP)
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"] == []
