"""Instance refresh (the AWS API): every instance replaced in batches without dropping
below MinHealthyPercentage, checkpoints, cancel, and rollback to the previous template."""
import json
import threading
import time

from harness import wait_for
from test_autoscaling import GROUP, group, in_service, lab_template, two_zone_subnets


def new_version(daemon):
    base = daemon.base_image()
    return daemon.aws("ec2", "create-launch-template-version", "--launch-template-name", "exercise-launch-template",
                      "--source-version", "1", "--launch-template-data", json.dumps({"ImageId": base, "InstanceType": "t3.micro"}))["LaunchTemplateVersion"]["VersionNumber"]


def start_group(daemon, size):
    lab_template(daemon)
    daemon.boto("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=GROUP, MinSize=size, MaxSize=size + 2,
        LaunchTemplate={"LaunchTemplateName": "exercise-launch-template", "Version": "1"},
        VPCZoneIdentifier=two_zone_subnets(daemon))
    return [i["InstanceId"] for i in wait_for(f"{size} InService", lambda: in_service(daemon, size))]


def test_refresh_replaces_every_instance_keeping_min_healthy(daemon):
    asg = daemon.boto("autoscaling")
    before = start_group(daemon, 4)
    version = new_version(daemon)
    lowest = {"healthy": 4}
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]
            healthy = sum(1 for i in g["Instances"] if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy")
            lowest["healthy"] = min(lowest["healthy"], healthy)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        rid = asg.start_instance_refresh(
            AutoScalingGroupName=GROUP,
            Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 1},
            DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateName": "exercise-launch-template", "Version": str(version)}},
        )["InstanceRefreshId"]
        code, _ = daemon.aws_error("autoscaling", "start-instance-refresh", "--auto-scaling-group-name", GROUP)
        assert code == "InstanceRefreshInProgress"
        done = wait_for("refresh successful", lambda: (lambda r: r if r["Status"] == "Successful" else None)(
            asg.describe_instance_refreshes(AutoScalingGroupName=GROUP, InstanceRefreshIds=[rid])["InstanceRefreshes"][0]), timeout=90)
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert done["PercentageComplete"] == 100
    assert lowest["healthy"] >= 2, f"dropped to {lowest['healthy']} healthy"
    after = group(daemon)["Instances"]
    assert len(after) == 4 and not {i["InstanceId"] for i in after} & set(before), "every instance replaced"
    assert {i["LaunchTemplate"]["Version"] for i in after} == {str(version)}
    assert {daemon.instance(i["InstanceId"])["InstanceType"] for i in after} == {"t3.micro"}
    assert group(daemon)["LaunchTemplate"]["Version"] == str(version)


def test_refresh_checkpoint_and_rollback(daemon):
    asg = daemon.boto("autoscaling")
    before = start_group(daemon, 2)
    version = new_version(daemon)
    asg.start_instance_refresh(
        AutoScalingGroupName=GROUP,
        Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0, "CheckpointPercentages": [50, 100], "CheckpointDelay": 3600},
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateName": "exercise-launch-template", "Version": str(version)}})
    wait_for("paused at 50%", lambda: (lambda r: r["PercentageComplete"] == 50 and "checkpoint" in r.get("StatusReason", ""))(
        asg.describe_instance_refreshes(AutoScalingGroupName=GROUP)["InstanceRefreshes"][0]), timeout=60)
    asg.rollback_instance_refresh(AutoScalingGroupName=GROUP)
    r = wait_for("rolled back", lambda: (lambda r: r if r["Status"] == "RollbackSuccessful" else None)(
        asg.describe_instance_refreshes(AutoScalingGroupName=GROUP)["InstanceRefreshes"][0]), timeout=60)
    assert r["StatusReason"] == "Rollback requested by the user."
    g = group(daemon)
    assert g["LaunchTemplate"]["Version"] == "1"
    assert {i["LaunchTemplate"]["Version"] for i in g["Instances"]} == {"1"} and len(g["Instances"]) == 2
    assert len({i["InstanceId"] for i in g["Instances"]} & set(before)) == 1, "the untouched one stays"
    assert daemon.aws_error("autoscaling", "cancel-instance-refresh", "--auto-scaling-group-name", GROUP)[0] == "ActiveInstanceRefreshNotFound"
    assert daemon.aws_error("autoscaling", "start-instance-refresh", "--auto-scaling-group-name", GROUP,
                            "--preferences", '{"MinHealthyPercentage": 150}')[0] == "ValidationError"
