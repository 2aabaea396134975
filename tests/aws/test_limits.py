"""Input rules and service quotas, driven as a user would: characters XML cannot carry are
refused (so every later Describe still parses), user data and tag counts have AWS's limits,
and the quotas set on `shoal server`'s command line refuse what would pass them, change
nothing, and show in DescribeAccountAttributes / DescribeAccountLimits."""
import base64
import re

import botocore.exceptions
import pytest

from elbv2_lab import default_network
from harness import Daemon, wait_for


def error_of(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def instance_ids(ec2):
    return sorted(i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"])


def test_nul_in_a_tag_is_refused_and_describes_still_parse(daemon):
    ec2 = daemon.boto("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    for tag in ({"Key": "k", "Value": "a\x00b"}, {"Key": "a\x01", "Value": "v"}):
        code, _ = error_of(ec2.create_tags, Resources=[vpc], Tags=[tag])
        assert code == "InvalidParameterValue"
    # Any Unicode XML can carry is kept as given.
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Näme ✓", "Value": "ünï 😀\ttab"}])
    tags = {t["Key"]: t["Value"] for t in ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0].get("Tags", [])}
    assert tags == {"Näme ✓": "ünï 😀\ttab"}
    # The aws CLI parses the documents too.
    described = daemon.aws("ec2", "describe-tags")["Tags"]
    assert [t["Value"] for t in described if t["ResourceId"] == vpc] == ["ünï 😀\ttab"]


def test_elbv2_tags_follow_its_pattern(daemon):
    elb = daemon.boto("elbv2")
    vpc, _ = default_network(daemon)
    tg = elb.create_target_group(Name="tags", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    arn = tg["TargetGroupArn"]
    for tag in ({"Key": "k", "Value": "a,b"}, {"Key": "k!", "Value": "v"}, {"Key": "k", "Value": "a\x00b"}):
        code, message = error_of(elb.add_tags, ResourceArns=[arn], Tags=[tag])
        assert code == "ValidationError" and "regular expression pattern" in message, message
    elb.add_tags(ResourceArns=[arn], Tags=[{"Key": "Näme 1", "Value": "a_b.c:d/e=f+g-h@i"}])
    tags = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    assert tags == [{"Key": "Näme 1", "Value": "a_b.c:d/e=f+g-h@i"}], "a refused AddTags changed nothing"


def test_nul_in_a_cloudwatch_namespace_is_refused(daemon):
    cw = daemon.boto("cloudwatch")  # AWS JSON 1.0, as boto3 sends it
    datum = {"MetricName": "Requests", "Value": 1.0}
    code, _ = error_of(cw.put_metric_data, Namespace="App\x00", MetricData=[datum])
    assert code == "InvalidParameterValue"
    code, _ = error_of(cw.put_metric_data, Namespace="App", MetricData=[{**datum, "MetricName": "a\x00"}])
    assert code == "InvalidParameterValue"
    code, _ = error_of(cw.put_metric_data, Namespace="App",
                       MetricData=[{**datum, "Dimensions": [{"Name": "d", "Value": "\x07"}]}])
    assert code == "InvalidParameterValue"
    cw.put_metric_data(Namespace="App", MetricData=[datum])
    listed = daemon.aws("cloudwatch", "list-metrics")["Metrics"]
    assert [(m["Namespace"], m["MetricName"]) for m in listed] == [("App", "Requests")]


def test_user_data_is_limited_to_16_kb(daemon):
    ec2 = daemon.boto("ec2")
    base = daemon.base_image()
    before = instance_ids(ec2)
    # boto3 base64-encodes RunInstances' UserData itself; the limit is on the decoded bytes.
    code, message = error_of(ec2.run_instances, ImageId=base, MinCount=1, MaxCount=1, UserData="#" * 16385)
    assert (code, message) == ("InvalidParameterValue", "User data is limited to 16384 bytes")
    assert instance_ids(ec2) == before
    code, _ = error_of(ec2.create_launch_template, LaunchTemplateName="big",
                       LaunchTemplateData={"UserData": base64.b64encode(b"#" * 16385).decode()})
    assert code == "InvalidParameterValue"
    run = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="t2.micro",
                            UserData="#" * 16384)
    assert len(run["Instances"]) == 1


def test_fifty_tags_per_resource(daemon):
    ec2 = daemon.boto("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    code, message = error_of(ec2.create_tags, Resources=[vpc], Tags=tags)
    assert (code, message) == ("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
    assert not ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0].get("Tags")
    ec2.create_tags(Resources=[vpc], Tags=tags[:50])
    code, _ = error_of(ec2.create_tags, Resources=[vpc], Tags=[tags[50]])
    assert code == "TagLimitExceeded"
    # Replacing a value is not a new tag.
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "k0", "Value": "changed"}])
    assert len(ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"]) == 50
    code, _ = error_of(ec2.run_instances, ImageId=daemon.base_image(), MinCount=1, MaxCount=1,
                       TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
    assert code == "TagLimitExceeded"


def test_a_million_instances_are_refused_and_none_start(daemon):
    ec2 = daemon.boto("ec2")
    code, message = error_of(ec2.run_instances, ImageId=daemon.base_image(), MinCount=1, MaxCount=1000000)
    assert code == "InstanceLimitExceeded"
    assert message.endswith("You requested at least 1000000.")
    assert instance_ids(ec2) == []
    r = daemon.aws("ec2", "run-instances", "--image-id", daemon.base_image(), "--count", "1000000", check=False)
    assert r.returncode != 0 and "InstanceLimitExceeded" in r.stderr
    assert instance_ids(ec2) == []


@pytest.fixture
def limited():
    d = Daemon("--quota-vcpus", "3", "--quota-instances", "5", "--quota-auto-scaling-groups", "3",
               "--quota-launch-configurations", "4", "--quota-load-balancers", "1",
               "--quota-target-groups", "1", "--quota-listeners", "2", "--quota-rules", "2",
               "--quota-alarms", "1", "--quota-launch-templates", "2")
    yield d
    d.close()


def test_quotas_from_the_command_line(limited):
    d = limited
    log = re.sub(r"\x1b\[[0-9;]*m", "", d.log())  # the log is coloured
    assert "quotas" in log and "vcpus=3" in log and "load_balancers=1" in log
    attrs = {a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
             for a in d.aws("ec2", "describe-account-attributes")["AccountAttributes"]}
    assert attrs["max-instances"] == ["5"]
    assert attrs["supported-platforms"] == ["VPC"]
    assert attrs["default-vpc"][0].startswith("vpc-")
    only = d.aws("ec2", "describe-account-attributes", "--attribute-names", "max-instances")
    assert [a["AttributeName"] for a in only["AccountAttributes"]] == ["max-instances"]

    limits = d.aws("autoscaling", "describe-account-limits")
    assert (limits["MaxNumberOfAutoScalingGroups"], limits["MaxNumberOfLaunchConfigurations"]) == (3, 4)
    assert (limits["NumberOfAutoScalingGroups"], limits["NumberOfLaunchConfigurations"]) == (0, 0)
    elb_limits = {l["Name"]: l["Max"] for l in d.boto("elbv2").describe_account_limits()["Limits"]}
    assert elb_limits["application-load-balancers"] == "1"
    assert elb_limits["target-groups"] == "1"
    assert elb_limits["listeners-per-application-load-balancer"] == "2"
    assert elb_limits["rules-per-application-load-balancer"] == "2"


def test_vcpu_quota_refuses_the_launch_that_would_pass_it(limited):
    ec2 = limited.boto("ec2")
    base = limited.base_image()
    ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="t3.micro")  # 2 vCPUs
    before = instance_ids(ec2)
    code, message = error_of(ec2.run_instances, ImageId=base, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    assert code == "VcpuLimitExceeded"
    assert message.startswith("You have requested more vCPU capacity than your current vCPU limit of 3 allows")
    assert instance_ids(ec2) == before
    # As in AWS, MaxCount is a ceiling: the largest number the quota allows starts.
    run = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=4, InstanceType="t2.micro")  # 1 vCPU each
    assert len(run["Instances"]) == 1
    # A stopped instance does not count; starting it again is a launch and is checked.
    small = run["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[small])
    wait_for("stopped", lambda: ec2.describe_instances(InstanceIds=[small])["Reservations"][0]
             ["Instances"][0]["State"]["Name"] == "stopped")
    ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="t2.micro")
    code, _ = error_of(ec2.start_instances, InstanceIds=[small])
    assert code == "VcpuLimitExceeded"
    assert ec2.describe_instances(InstanceIds=[small])["Reservations"][0]["Instances"][0]["State"]["Name"] == "stopped"


def test_a_group_whose_launch_passes_the_quota_records_a_failed_activity(limited):
    ec2, asg = limited.boto("ec2"), limited.boto("autoscaling")
    ec2.run_instances(ImageId=limited.base_image(), MinCount=1, MaxCount=1, InstanceType="t3.micro")
    ec2.create_launch_template(LaunchTemplateName="limits-big", LaunchTemplateData={
        "ImageId": limited.base_image(), "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(AutoScalingGroupName="over", MinSize=1, MaxSize=1,
                                  LaunchTemplate={"LaunchTemplateName": "limits-big"},
                                  AvailabilityZones=["us-east-1a"])

    def failed():
        acts = asg.describe_scaling_activities(AutoScalingGroupName="over")["Activities"]
        return [a for a in acts if a["StatusCode"] == "Failed"]
    activity = wait_for("a failed launch activity", failed, timeout=60)[0]
    assert "You have requested more vCPU capacity than your current vCPU limit of 3" in activity["StatusMessage"]
    assert activity["StatusMessage"].endswith("Launching EC2 instance failed.")
    assert not asg.describe_auto_scaling_groups(AutoScalingGroupNames=["over"])["AutoScalingGroups"][0]["Instances"]


def test_load_balancer_and_target_group_quotas(limited):
    elb = limited.boto("elbv2")
    vpc, subnets = default_network(limited)
    elb.create_load_balancer(Name="first", Subnets=subnets[:2])
    code, message = error_of(elb.create_load_balancer, Name="second", Subnets=subnets[:2])
    assert (code, message) == ("TooManyLoadBalancers", "The quota for the number of load balancers has been reached")
    assert [lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"]] == ["first"]
    elb.create_target_group(Name="tg1", Protocol="HTTP", Port=80, VpcId=vpc)
    code, _ = error_of(elb.create_target_group, Name="tg2", Protocol="HTTP", Port=80, VpcId=vpc)
    assert code == "TooManyTargetGroups"
    assert [t["TargetGroupName"] for t in elb.describe_target_groups()["TargetGroups"]] == ["tg1"]

    lb = elb.describe_load_balancers()["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.describe_target_groups()["TargetGroups"][0]["TargetGroupArn"]
    forward = [{"Type": "forward", "TargetGroupArn": tg}]
    listeners = [elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=port, DefaultActions=forward)
                 ["Listeners"][0]["ListenerArn"] for port in (18081, 18082)]
    code, _ = error_of(elb.create_listener, LoadBalancerArn=lb, Protocol="HTTP", Port=18083, DefaultActions=forward)
    assert code == "TooManyListeners"
    assert len(elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]) == 2
    # Rules count per load balancer, across its listeners; default rules do not count.
    for priority, listener in ((1, listeners[0]), (2, listeners[1])):
        elb.create_rule(ListenerArn=listener, Priority=priority, Actions=forward,
                        Conditions=[{"Field": "path-pattern", "Values": [f"/r{priority}"]}])
    code, _ = error_of(elb.create_rule, ListenerArn=listeners[0], Priority=3, Actions=forward,
                       Conditions=[{"Field": "path-pattern", "Values": ["/r3"]}])
    assert code == "TooManyRules"
    assert len(elb.describe_rules(ListenerArn=listeners[0])["Rules"]) == 2  # its rule and the default


def test_auto_scaling_group_quota(limited):
    asg = limited.boto("autoscaling")
    ec2 = limited.boto("ec2")
    ec2.create_launch_template(LaunchTemplateName="limits-lt", LaunchTemplateData={
        "ImageId": limited.base_image(), "InstanceType": "t2.micro"})
    for n in range(3):
        asg.create_auto_scaling_group(AutoScalingGroupName=f"g{n}", MinSize=0, MaxSize=1,
                                      LaunchTemplate={"LaunchTemplateName": "limits-lt"},
                                      AvailabilityZones=["us-east-1a"])
    code, _ = error_of(asg.create_auto_scaling_group, AutoScalingGroupName="g3", MinSize=0, MaxSize=1,
                       LaunchTemplate={"LaunchTemplateName": "limits-lt"}, AvailabilityZones=["us-east-1a"])
    assert code == "LimitExceeded"
    assert len(asg.describe_auto_scaling_groups()["AutoScalingGroups"]) == 3
    assert limited.aws("autoscaling", "describe-account-limits")["NumberOfAutoScalingGroups"] == 3


def test_alarm_launch_template_and_launch_configuration_quotas(limited):
    cw, ec2, asg = limited.boto("cloudwatch"), limited.boto("ec2"), limited.boto("autoscaling")
    alarm = dict(Namespace="App", MetricName="Requests", Statistic="Sum", Period=60,
                 EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    cw.put_metric_alarm(AlarmName="first", **alarm)
    cw.put_metric_alarm(AlarmName="first", **{**alarm, "Threshold": 2.0})  # an update is not a new alarm
    code, _ = error_of(cw.put_metric_alarm, AlarmName="second", **alarm)
    assert code == "LimitExceeded"
    assert [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]] == ["first"]

    data = {"ImageId": limited.base_image(), "InstanceType": "t2.micro"}
    for name in ("lt-a", "lt-b"):
        ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
    code, _ = error_of(ec2.create_launch_template, LaunchTemplateName="lt-c", LaunchTemplateData=data)
    assert code == "LaunchTemplateLimitExceeded"
    assert len(ec2.describe_launch_templates()["LaunchTemplates"]) == 2

    for n in range(4):
        asg.create_launch_configuration(LaunchConfigurationName=f"lc-{n}", **data)
    code, _ = error_of(asg.create_launch_configuration, LaunchConfigurationName="lc-4", **data)
    assert code == "LimitExceeded"
    assert limited.aws("autoscaling", "describe-account-limits")["NumberOfLaunchConfigurations"] == 4
