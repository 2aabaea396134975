"""Auto Scaling operations beyond the lab's path, driven with the aws CLI and boto3:
AttachInstances / DetachInstances with a target group, ExecutePolicy for simple and
step policies, and EnableMetricsCollection with the `AWS/AutoScaling` group metrics."""
# run_suites: alone
# (Its detached instance's public address went unanswered for 15 s twice in rehearsals
# beside another suite; it passed in every serial run. Not explained yet.)
import datetime
import json

import botocore.exceptions
import pytest

from elbv2_lab import launch_lab_instances
from harness import Daemon, http_get, wait_for
from test_autoscaling import GROUP, activities, group, in_service, lab_template, two_zone_subnets
from test_seed_part2 import healthy_targets, lab_stack, through_lb


def member_ids(daemon):
    return sorted(i["InstanceId"] for i in group(daemon)["Instances"])


def test_attach_and_detach_instances_with_the_target_group(daemon):
    tg, _ = lab_stack(daemon, desired=1)
    [first] = wait_for("one InService", lambda: in_service(daemon, 1))
    wait_for("first healthy", lambda: healthy_targets(daemon, tg) == [first["InstanceId"]], timeout=40)
    # Into the other zone, so that the group stays balanced (AZRebalance would move it).
    other_zone = "us-east-1b" if first["AvailabilityZone"] == "us-east-1a" else "us-east-1a"
    [mine, extra] = launch_lab_instances(daemon, 2, zone=other_zone)

    # Refusals change nothing: an unknown instance, a stopped one, one past MaxSize.
    before = group(daemon)
    code, msg = daemon.aws_error("autoscaling", "attach-instances", "--auto-scaling-group-name", GROUP,
                                 "--instance-ids", "i-0123456789abcdef0")
    assert code == "ValidationError" and "i-0123456789abcdef0" in msg
    _, msg = daemon.aws_error("autoscaling", "attach-instances", "--auto-scaling-group-name", GROUP,
                              "--instance-ids", mine["id"], extra["id"])
    assert msg == "New SetDesiredCapacity value 3 is above max value 2 for the AutoScalingGroup."
    daemon.aws("ec2", "stop-instances", "--instance-ids", extra["id"])
    daemon.wait_state(extra["id"], "stopped")
    daemon.aws("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", GROUP, "--max-size", "3")
    code, msg = daemon.aws_error("autoscaling", "attach-instances", "--auto-scaling-group-name", GROUP,
                                 "--instance-ids", mine["id"], extra["id"])
    assert code == "ValidationError" and "stopped" in msg
    after = group(daemon)
    assert (after["DesiredCapacity"], after["Instances"]) == (before["DesiredCapacity"], before["Instances"])

    # Attach: desired grows by one, the instance joins, registers and turns healthy.
    daemon.aws("autoscaling", "attach-instances", "--auto-scaling-group-name", GROUP, "--instance-ids", mine["id"])
    assert group(daemon)["DesiredCapacity"] == 2
    wait_for("attached InService", lambda: in_service(daemon, 2))
    wait_for("attached healthy", lambda: healthy_targets(daemon, tg) == sorted([first["InstanceId"], mine["id"]]), timeout=40)
    tags = {t["Key"]: t["Value"] for t in daemon.instance(mine["id"])["Tags"]}
    assert tags["aws:autoscaling:groupName"] == GROUP
    [attach] = [a for a in activities(daemon) if a["Description"] == f"Attaching an existing EC2 instance: {mine['id']}"]
    assert attach["StatusCode"] == "Successful"
    assert attach["Cause"].endswith("an instance was added in response to user request. Keeping the capacity at the new 2.")
    _, msg = daemon.aws_error("autoscaling", "attach-instances", "--auto-scaling-group-name", GROUP,
                              "--instance-ids", mine["id"])
    assert "already part of the Auto Scaling group" in msg

    # Detach with decrement: deregistered and drained, then out of the group, still serving.
    _, msg = daemon.aws_error("autoscaling", "detach-instances", "--auto-scaling-group-name", GROUP,
                              "--instance-ids", extra["id"], "--should-decrement-desired-capacity")
    assert "is not part of Auto Scaling group" in msg
    out = daemon.aws("autoscaling", "detach-instances", "--auto-scaling-group-name", GROUP,
                     "--instance-ids", mine["id"], "--should-decrement-desired-capacity")
    [act] = out["Activities"]
    assert act["Description"] == f"Detaching EC2 instance: {mine['id']}"
    assert act["Cause"].endswith(f"instance {mine['id']} was detached in response to a user request, shrinking the capacity from 2 to 1.")
    assert group(daemon)["DesiredCapacity"] == 1
    wait_for("detached left the group", lambda: member_ids(daemon) == [first["InstanceId"]], timeout=40)
    assert healthy_targets(daemon, tg) == [first["InstanceId"]]
    assert daemon.instance(mine["id"])["State"]["Name"] == "running"
    # (A bounded wait, not one 2-second try: on a machine busy with another suite a
    # single connect can miss.)
    wait_for("the detached instance still serving",
             lambda: http_get(f"http://{mine['public_ip']}:3000/health")[0] == 200, timeout=15)
    done = [a for a in activities(daemon) if a["ActivityId"] == act["ActivityId"]]
    assert done[0]["StatusCode"] == "Successful"

    # Detach without decrement: the group launches a replacement.
    daemon.aws("autoscaling", "detach-instances", "--auto-scaling-group-name", GROUP,
               "--instance-ids", first["InstanceId"], "--no-should-decrement-desired-capacity")
    [replacement] = wait_for("replacement InService", lambda: (lambda l: l if l and l[0]["InstanceId"] != first["InstanceId"] else None)(in_service(daemon, 1)), timeout=40)
    assert daemon.instance(first["InstanceId"])["State"]["Name"] == "running"
    daemon.aws("ec2", "terminate-instances", "--instance-ids", mine["id"], extra["id"], first["InstanceId"])


def test_execute_policy_simple_and_step(daemon):
    lab_template(daemon)
    asg = daemon.boto("autoscaling")
    asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=0, MaxSize=4, DesiredCapacity=0,
                                  DefaultInstanceWarmup=0, LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
                                  VPCZoneIdentifier=two_zone_subnets(daemon))
    asg.put_scaling_policy(AutoScalingGroupName=GROUP, PolicyName="add-one", AdjustmentType="ChangeInCapacity",
                           ScalingAdjustment=1, Cooldown=300)
    asg.put_scaling_policy(AutoScalingGroupName=GROUP, PolicyName="steps", PolicyType="StepScaling",
                           AdjustmentType="ChangeInCapacity",
                           StepAdjustments=[{"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10, "ScalingAdjustment": 1},
                                            {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 2}])
    asg.put_scaling_policy(AutoScalingGroupName=GROUP, PolicyName="cpu80", PolicyType="TargetTrackingScaling",
                           TargetTrackingConfiguration={"PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
                                                        "TargetValue": 80})

    def refused(**kwargs):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            asg.execute_policy(AutoScalingGroupName=GROUP, **kwargs)
        assert group(daemon)["DesiredCapacity"] == desired, "a refused call changes nothing"
        return e.value.response["Error"]

    desired = 0
    assert "TargetTrackingScaling" in refused(PolicyName="cpu80")["Message"]
    assert refused(PolicyName="steps")["Message"] == "MetricValue and BreachThreshold are required for policy type StepScaling."
    assert "does not correspond to any step" in refused(PolicyName="steps", MetricValue=40, BreachThreshold=50)["Message"]
    assert "No scaling policy found" in refused(PolicyName="no-such-policy")["Message"]

    asg.execute_policy(AutoScalingGroupName=GROUP, PolicyName="add-one")
    assert group(daemon)["DesiredCapacity"] == 1
    desired = 1
    # The simple policy's cooldown now runs: honouring it is refused, ignoring it is not.
    assert refused(PolicyName="add-one", HonorCooldown=True)["Code"] == "ScalingActivityInProgress"
    arn = asg.describe_policies(AutoScalingGroupName=GROUP, PolicyNames=["add-one"])["ScalingPolicies"][0]["PolicyARN"]
    daemon.aws("autoscaling", "execute-policy", "--policy-name", arn)
    assert group(daemon)["DesiredCapacity"] == 2
    # 59 against a threshold of 50 is the first step (+1), counted on the instances
    # past their warmup (AWS's step rule), so let the two come into service first.
    wait_for("two InService", lambda: in_service(daemon, 2), timeout=40)
    asg.execute_policy(AutoScalingGroupName=GROUP, PolicyName="steps", MetricValue=59, BreachThreshold=50)
    assert group(daemon)["DesiredCapacity"] == 3
    wait_for("three InService", lambda: in_service(daemon, 3), timeout=40)
    causes = [a["Cause"] for a in activities(daemon)]
    assert any("a user request executed policy steps changing the desired capacity from 2 to 3." in c for c in causes)
    assert any("a user request executed policy add-one changing the desired capacity from 0 to 1." in c for c in causes)


def test_group_metrics_collection():
    daemon = Daemon("--metric-period", "3")
    try:
        lab_template(daemon)
        asg = daemon.boto("autoscaling")
        asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=1, MaxSize=3,
                                      LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
                                      VPCZoneIdentifier=two_zone_subnets(daemon))
        types = asg.describe_metric_collection_types()
        assert [g["Granularity"] for g in types["Granularities"]] == ["1Minute"]
        names = [m["Metric"] for m in types["Metrics"]]
        assert "GroupInServiceInstances" in names and "GroupTotalInstances" in names

        code, _ = daemon.aws_error("autoscaling", "enable-metrics-collection", "--auto-scaling-group-name", GROUP,
                                   "--granularity", "5Minute")
        assert code == "ValidationError"
        _, msg = daemon.aws_error("autoscaling", "enable-metrics-collection", "--auto-scaling-group-name", GROUP,
                                  "--granularity", "1Minute", "--metrics", "GroupNothing")
        assert msg.startswith("Invalid metrics: [GroupNothing]")
        assert group(daemon)["EnabledMetrics"] == []

        daemon.aws("autoscaling", "enable-metrics-collection", "--auto-scaling-group-name", GROUP,
                   "--granularity", "1Minute", "--metrics", "GroupDesiredCapacity", "GroupInServiceInstances")
        assert group(daemon)["EnabledMetrics"] == [
            {"Metric": "GroupDesiredCapacity", "Granularity": "1Minute"},
            {"Metric": "GroupInServiceInstances", "Granularity": "1Minute"}]
        wait_for("one InService", lambda: in_service(daemon, 1))
        asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=2)
        wait_for("two InService", lambda: in_service(daemon, 2), timeout=40)

        def maximum(metric):
            now = datetime.datetime.now(datetime.timezone.utc)
            out = daemon.aws("cloudwatch", "get-metric-statistics", "--namespace", "AWS/AutoScaling",
                             "--metric-name", metric, "--dimensions", f"Name=AutoScalingGroupName,Value={GROUP}",
                             "--start-time", (now - datetime.timedelta(minutes=5)).isoformat(),
                             "--end-time", (now + datetime.timedelta(minutes=1)).isoformat(),
                             "--period", "60", "--statistics", "Maximum")
            return max((p["Maximum"] for p in out["Datapoints"]), default=None)

        wait_for("GroupDesiredCapacity 2 published", lambda: maximum("GroupDesiredCapacity") == 2, timeout=20)
        wait_for("GroupInServiceInstances 2 published", lambda: maximum("GroupInServiceInstances") == 2, timeout=20)
        listed = daemon.aws("cloudwatch", "list-metrics", "--namespace", "AWS/AutoScaling")["Metrics"]
        assert sorted(m["MetricName"] for m in listed) == ["GroupDesiredCapacity", "GroupInServiceInstances"]

        # With no metric names, enable and disable mean all of them.
        daemon.aws("autoscaling", "enable-metrics-collection", "--auto-scaling-group-name", GROUP, "--granularity", "1Minute")
        assert len(group(daemon)["EnabledMetrics"]) == len(names)
        wait_for("GroupTotalInstances published", lambda: maximum("GroupTotalInstances") == 2, timeout=20)
        daemon.aws("autoscaling", "disable-metrics-collection", "--auto-scaling-group-name", GROUP)
        assert group(daemon)["EnabledMetrics"] == []
    finally:
        daemon.close()


def test_alb_request_count_per_target_tracking_scales_out():
    """Target tracking on ALBRequestCountPerTarget: steady requests through the load
    balancer, well above the target per instance, scale the group out; the alarms watch
    `AWS/ApplicationELB RequestCountPerTarget` of the target group (metric period 3 s)."""
    import threading
    import time

    daemon = Daemon("--metric-period", "3")
    stop = threading.Event()
    try:
        tg, lb = lab_stack(daemon, desired=1)
        daemon.aws("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", GROUP,
                   "--default-instance-warmup", "3")
        label = lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1] + "/" + tg.split(":", 5)[5]
        assert label.startswith("app/exercise-lb/") and "/targetgroup/exercise-target-group/" in label
        policy = daemon.aws("autoscaling", "put-scaling-policy", "--auto-scaling-group-name", GROUP,
                            "--policy-name", "requests", "--policy-type", "TargetTrackingScaling",
                            "--target-tracking-configuration", json.dumps({
                                "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget",
                                                                  "ResourceLabel": label},
                                "TargetValue": 30.0}))
        high = next(a["AlarmName"] for a in policy["Alarms"] if "-AlarmHigh-" in a["AlarmName"])
        alarm = daemon.aws("cloudwatch", "describe-alarms", "--alarm-names", high)["MetricAlarms"][0]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/ApplicationELB", "RequestCountPerTarget", "Sum")
        assert alarm["Dimensions"] == [{"Name": "TargetGroup", "Value": label.split("/", 3)[3]}]

        [first] = wait_for("one InService", lambda: in_service(daemon, 1))
        wait_for("first healthy", lambda: healthy_targets(daemon, tg) == [first["InstanceId"]], timeout=40)
        served = []

        def load():  # about 50 requests a second: ~150 per 3 s period for one target, against 30
            while not stop.is_set():
                served.append(through_lb(daemon, lb)[0])
                time.sleep(0.02)

        threading.Thread(target=load, daemon=True).start()
        both = wait_for("scale-out to two", lambda: in_service(daemon, 2), timeout=90, interval=0.5)
        second = next(i["InstanceId"] for i in both if i["InstanceId"] != first["InstanceId"])
        wait_for("second healthy", lambda: second in healthy_targets(daemon, tg), timeout=40)
        stop.set()
        out = next(a for a in activities(daemon) if a["Description"] == f"Launching a new EC2 instance: {second}")
        assert f"a monitor alarm {high} in state ALARM triggered policy requests changing the desired capacity from 1 to 2." in out["Cause"]
        assert served and set(served) == {200}, "every request through the load balancer was answered"
    finally:
        stop.set()
        daemon.close()


def test_describe_tags_pages_through_every_group(daemon):
    lab_template(daemon)
    asg = daemon.boto("autoscaling")
    subnets = two_zone_subnets(daemon)
    for n in range(105):
        asg.create_auto_scaling_group(AutoScalingGroupName=f"tagged-{n:03}", MinSize=0, MaxSize=1,
                                      LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
                                      VPCZoneIdentifier=subnets,
                                      Tags=[{"Key": "team", "Value": "blue" if n % 2 else "green", "PropagateAtLaunch": True}])
    pages = list(asg.get_paginator("describe_tags").paginate(PaginationConfig={"PageSize": 40}))
    assert [len(p["Tags"]) for p in pages] == [40, 40, 25]
    tags = [t for p in pages for t in p["Tags"]]
    assert sorted(t["ResourceId"] for t in tags) == [f"tagged-{n:03}" for n in range(105)]
    assert tags[0]["ResourceType"] == "auto-scaling-group" and tags[0]["PropagateAtLaunch"] is True
    green = asg.describe_tags(Filters=[{"Name": "value", "Values": ["green"]}], MaxRecords=100)
    assert len(green["Tags"]) == 53 and "NextToken" not in green
    one = asg.describe_tags(Filters=[{"Name": "auto-scaling-group", "Values": ["tagged-007"]},
                                     {"Name": "key", "Values": ["team"]}])["Tags"]
    assert [(t["ResourceId"], t["Value"]) for t in one] == [("tagged-007", "blue")]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_tags(Filters=[{"Name": "colour", "Values": ["x"]}])
    assert e.value.response["Error"]["Code"] == "ValidationError"


def test_standby_takes_an_instance_out_of_service_and_back(daemon):
    tg, _ = lab_stack(daemon, desired=2)
    daemon.aws("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", GROUP, "--min-size", "1")
    live = wait_for("two InService", lambda: in_service(daemon, 2), timeout=40)
    wait_for("two healthy", lambda: len(healthy_targets(daemon, tg)) == 2, timeout=40)
    resting, serving = live[0]["InstanceId"], live[1]["InstanceId"]

    code, msg = daemon.aws_error("autoscaling", "exit-standby", "--auto-scaling-group-name", GROUP, "--instance-ids", resting)
    assert code == "ValidationError" and "not in Standby" in msg
    out = daemon.aws("autoscaling", "enter-standby", "--auto-scaling-group-name", GROUP, "--instance-ids", resting,
                     "--should-decrement-desired-capacity")
    [act] = out["Activities"]
    assert act["Description"] == f"Moving EC2 instance to Standby: {resting}"
    assert act["Cause"].endswith(f"instance {resting} was moved to standby in response to a user request, shrinking the capacity from 2 to 1.")
    state = lambda: {i["InstanceId"]: i["LifecycleState"] for i in group(daemon)["Instances"]}  # noqa: E731
    wait_for("in Standby", lambda: state().get(resting) == "Standby", timeout=30)
    assert healthy_targets(daemon, tg) == [serving] and group(daemon)["DesiredCapacity"] == 1
    assert daemon.instance(resting)["State"]["Name"] == "running", "standby keeps the instance running"

    out = daemon.aws("autoscaling", "exit-standby", "--auto-scaling-group-name", GROUP, "--instance-ids", resting)
    assert out["Activities"][0]["Cause"].endswith(
        f"instance {resting} was moved out of standby in response to a user request, increasing the capacity from 1 to 2.")
    wait_for("back InService", lambda: state() == {resting: "InService", serving: "InService"}, timeout=30)
    wait_for("back in the target group", lambda: healthy_targets(daemon, tg) == sorted([resting, serving]), timeout=40)
    assert group(daemon)["DesiredCapacity"] == 2


def small_group(daemon, desired=0, **extra):
    lab_template(daemon)
    asg = daemon.boto("autoscaling")
    asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, MinSize=0, MaxSize=3, DesiredCapacity=desired,
                                  LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
                                  VPCZoneIdentifier=two_zone_subnets(daemon), **extra)
    return asg


def tags_of(asg):
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]
    return {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in g["Tags"]}


def test_create_or_update_and_delete_tags(daemon):
    asg = small_group(daemon)
    tag = lambda k, v, p=False, **kw: {"ResourceId": GROUP, "ResourceType": "auto-scaling-group",
                                      "Key": k, "Value": v, "PropagateAtLaunch": p, **kw}
    asg.create_or_update_tags(Tags=[tag("Name", "exercise-group", True), tag("team", "lab")])
    asg.create_or_update_tags(Tags=[tag("team", "ops")])  # a put replaces by key
    assert tags_of(asg) == {"Name": ("exercise-group", True), "team": ("ops", False)}

    # Refusals change nothing: another resource type, an unknown group, a reserved key,
    # a key too long, a 51st tag.
    def refused(tags, code="ValidationError"):
        try:
            asg.create_or_update_tags(Tags=tags)
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == code, e.response
            return e.response["Error"]["Message"]
        raise AssertionError(f"accepted {tags}")
    assert "auto-scaling-group" in refused([tag("x", "y", ResourceType="instance")])
    assert "AutoScalingGroup nope not found" in refused([{**tag("x", "y"), "ResourceId": "nope"}])
    assert "aws:" in refused([tag("aws:secret", "y")])
    assert "between 1 and 128" in refused([tag("k" * 129, "y")])
    assert "limit of 50" in refused([tag(f"t{n}", "v") for n in range(49)])
    assert tags_of(asg) == {"Name": ("exercise-group", True), "team": ("ops", False)}

    # PropagateAtLaunch: new instances carry Name, not team, and the group's own tag.
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [inst] = wait_for("one InService", lambda: in_service(daemon, 1))
    ec2_tags = {t["Key"]: t["Value"] for t in daemon.boto("ec2").describe_instances(
        InstanceIds=[inst["InstanceId"]])["Reservations"][0]["Instances"][0]["Tags"]}
    assert ec2_tags["Name"] == "exercise-group" and ec2_tags["aws:autoscaling:groupName"] == GROUP
    assert "team" not in ec2_tags

    asg.delete_tags(Tags=[{"ResourceId": GROUP, "ResourceType": "auto-scaling-group", "Key": "team"}])
    assert tags_of(asg) == {"Name": ("exercise-group", True)}
    found = asg.describe_tags(Filters=[{"Name": "key", "Values": ["Name"]}])["Tags"]
    assert [(t["ResourceId"], t["Value"]) for t in found] == [(GROUP, "exercise-group")]


def test_traffic_sources_and_target_group_attachments(daemon):
    asg = small_group(daemon)
    vpc = daemon.aws("ec2", "describe-vpcs")["Vpcs"][0]["VpcId"]
    elb = daemon.boto("elbv2")
    tgs = [elb.create_target_group(Name=n, Protocol="HTTP", Port=3000, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
           for n in ("exercise-target-group", "other-target-group")]
    asg.attach_traffic_sources(AutoScalingGroupName=GROUP, TrafficSources=[{"Identifier": tgs[0], "Type": "elbv2"}])
    asg.attach_load_balancer_target_groups(AutoScalingGroupName=GROUP, TargetGroupARNs=[tgs[1]])

    def attached():
        lbtg = {t["LoadBalancerTargetGroupARN"]: t["State"] for t in
                asg.describe_load_balancer_target_groups(AutoScalingGroupName=GROUP)["LoadBalancerTargetGroups"]}
        sources = {t["Identifier"]: (t["Type"], t["State"]) for t in
                   asg.describe_traffic_sources(AutoScalingGroupName=GROUP)["TrafficSources"]}
        return (lbtg, sources) if set(lbtg.values()) == {"InService"} else None
    lbtg, sources = wait_for("attachments InService (no instances to check)", attached)
    assert set(lbtg) == set(tgs)
    assert sources == {tgs[0]: ("elbv2", "InService"), tgs[1]: ("elbv2", "InService")}
    assert asg.describe_traffic_sources(AutoScalingGroupName=GROUP, TrafficSourceType="vpc-lattice")["TrafficSources"] == []
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]
    assert sorted(g["TargetGroupARNs"]) == sorted(tgs)

    # Refused, nothing changed: a type Shoal has no such thing for, an unknown target group.
    for sources in ([{"Identifier": "my-classic-lb", "Type": "elb"}],
                    [{"Identifier": tgs[0].replace("exercise", "missing"), "Type": "elbv2"}]):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            asg.attach_traffic_sources(AutoScalingGroupName=GROUP, TrafficSources=sources)
        assert e.value.response["Error"]["Code"] == "ValidationError"
    assert len(asg.describe_traffic_sources(AutoScalingGroupName=GROUP)["TrafficSources"]) == 2

    # A new instance registers with both; detaching one deregisters it from that one only.
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [inst] = wait_for("one InService", lambda: in_service(daemon, 1))
    registered = lambda tg: [t["Target"]["Id"] for t in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
                             if t["TargetHealth"]["State"] != "draining"]
    wait_for("registered with both", lambda: all(registered(tg) == [inst["InstanceId"]] for tg in tgs))
    asg.detach_traffic_sources(AutoScalingGroupName=GROUP, TrafficSources=[{"Identifier": tgs[1]}])
    wait_for("detached", lambda: [t["Identifier"] for t in
                                  asg.describe_traffic_sources(AutoScalingGroupName=GROUP)["TrafficSources"]] == [tgs[0]])
    wait_for("deregistered from the detached one", lambda: registered(tgs[1]) == [])
    assert registered(tgs[0]) == [inst["InstanceId"]]


def test_scale_in_protection_and_user_health_checks(daemon):
    asg = small_group(daemon, desired=1, NewInstancesProtectedFromScaleIn=True)
    [first] = wait_for("one InService", lambda: in_service(daemon, 1))
    assert first["ProtectedFromScaleIn"] is True, "NewInstancesProtectedFromScaleIn"
    asg.update_auto_scaling_group(AutoScalingGroupName=GROUP, NewInstancesProtectedFromScaleIn=False)
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=2)
    two = wait_for("two InService", lambda: in_service(daemon, 2))
    second = next(i for i in two if i["InstanceId"] != first["InstanceId"])
    assert second["ProtectedFromScaleIn"] is False

    # Scale-in skips the protected instance, whatever the termination policy prefers.
    asg.update_auto_scaling_group(AutoScalingGroupName=GROUP, TerminationPolicies=["OldestInstance"])
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    [left] = wait_for("back to one", lambda: in_service(daemon, 1), timeout=30)
    assert left["InstanceId"] == first["InstanceId"]

    # Protection is not against health replacement: a user health check replaces it.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.set_instance_protection(AutoScalingGroupName=GROUP, InstanceIds=["i-0123456789abcdef0"],
                                    ProtectedFromScaleIn=False)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    asg.set_instance_health(InstanceId=first["InstanceId"], HealthStatus="Unhealthy", ShouldRespectGracePeriod=False)
    [replacement] = wait_for("replaced", lambda: (lambda live: live if live and live[0]["InstanceId"] != first["InstanceId"] else None)(
        in_service(daemon, 1)), timeout=30)
    history = activities(daemon)
    term = next(a for a in history if a["Description"] == f"Terminating EC2 instance: {first['InstanceId']}")
    assert "an instance was taken out of service in response to a user health-check." in term["Cause"]
    launch = next(a for a in history if a["Description"] == f"Launching a new EC2 instance: {replacement['InstanceId']}")
    assert "an instance was launched in response to an unhealthy instance needing to be replaced." in launch["Cause"]
    assert replacement["ProtectedFromScaleIn"] is False
