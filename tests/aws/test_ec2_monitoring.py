"""EC2 detailed monitoring: `Monitoring.State` from RunInstances, a launch template and an
Auto Scaling launch configuration; MonitorInstances/UnmonitorInstances with boto3 and the
aws CLI; unknown ids refused with nothing changed; the state survives a restart."""
import pytest

from harness import wait_for


def monitoring(daemon, iid):
    return daemon.instance(iid)["Monitoring"]["State"]


def test_monitoring_state_at_launch_and_monitor_unmonitor(daemon):
    ami = daemon.base_image()
    ec2 = daemon.boto("ec2")
    basic = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]
    assert basic["Monitoring"]["State"] == "disabled"
    detailed = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, Monitoring={"Enabled": True})["Instances"][0]
    assert detailed["Monitoring"]["State"] == "enabled"
    b, d = basic["InstanceId"], detailed["InstanceId"]

    daemon.aws("ec2", "create-launch-template", "--launch-template-name", "mon",
               "--launch-template-data", f'{{"ImageId":"{ami}","Monitoring":{{"Enabled":true}}}}')
    from_lt = daemon.aws("ec2", "run-instances", "--launch-template", "LaunchTemplateName=mon")["Instances"][0]
    assert from_lt["Monitoring"]["State"] == "enabled"
    overridden = daemon.aws("ec2", "run-instances", "--launch-template", "LaunchTemplateName=mon",
                            "--monitoring", "Enabled=false")["Instances"][0]
    assert overridden["Monitoring"]["State"] == "disabled", "the request's own parameter wins over the template's"
    filtered = daemon.aws("ec2", "describe-instances", "--filters", "Name=monitoring-state,Values=enabled")
    ids = {i["InstanceId"] for r in filtered["Reservations"] for i in r["Instances"]}
    assert ids == {d, from_lt["InstanceId"]}

    r = ec2.monitor_instances(InstanceIds=[b])["InstanceMonitorings"]
    assert r == [{"InstanceId": b, "Monitoring": {"State": "pending"}}]
    assert monitoring(daemon, b) == "enabled"
    r = daemon.aws("ec2", "unmonitor-instances", "--instance-ids", d)["InstanceMonitorings"]
    assert r == [{"InstanceId": d, "Monitoring": {"State": "disabling"}}]
    assert monitoring(daemon, d) == "disabled"

    code, message = daemon.aws_error("ec2", "monitor-instances", "--instance-ids", d, "i-0123456789abcdef0")
    assert code == "InvalidInstanceID.NotFound" and "i-0123456789abcdef0" in message
    assert monitoring(daemon, d) == "disabled", "a refused request changes nothing"
    with pytest.raises(Exception) as e:
        ec2.unmonitor_instances(InstanceIds=[b, "i-0123456789abcdef0"])
    assert "InvalidInstanceID.NotFound" in str(e.value)
    assert monitoring(daemon, b) == "enabled"

    # Stored durably: a restarted daemon shows the same states.
    daemon.proc.terminate()
    daemon.proc.wait(timeout=30)
    daemon.start()
    assert (monitoring(daemon, b), monitoring(daemon, d)) == ("enabled", "disabled")


def test_launch_configuration_instances_have_detailed_monitoring(daemon):
    ami = daemon.base_image()
    subnet = daemon.aws("ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true")["Subnets"][0]["SubnetId"]
    daemon.aws("autoscaling", "create-launch-configuration", "--launch-configuration-name", "lc-default",
               "--image-id", ami, "--instance-type", "t2.micro")
    daemon.aws("autoscaling", "create-launch-configuration", "--launch-configuration-name", "lc-basic",
               "--image-id", ami, "--instance-type", "t2.micro", "--instance-monitoring", "Enabled=false")
    for group, lc in (("g-default", "lc-default"), ("g-basic", "lc-basic")):
        daemon.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", group,
                   "--launch-configuration-name", lc, "--min-size", "1", "--max-size", "1",
                   "--vpc-zone-identifier", subnet)

    def instance_of(group):
        g = daemon.aws("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", group)["AutoScalingGroups"][0]
        return g["Instances"][0]["InstanceId"] if g["Instances"] else None

    assert monitoring(daemon, wait_for("g-default's instance", lambda: instance_of("g-default"))) == "enabled"
    assert monitoring(daemon, wait_for("g-basic's instance", lambda: instance_of("g-basic"))) == "disabled"
