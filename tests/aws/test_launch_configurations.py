"""Launch configurations and mixed instances policies, with the aws CLI and boto3: a group
launched from a launch configuration runs its user data and serves the app, the Default
termination policy retires the older configuration first, AWS's errors change nothing,
describe shapes parse with botocore's model, and everything survives a daemon restart."""
import base64

from harness import ROOT, http_get, wait_for
from test_autoscaling import group, in_service, lab_template, two_zone_subnets
from test_ec2_boto3 import assert_shape, members

SETUP = ROOT / "examples" / "lab" / "setup.sh"
GROUP = "LC-GROUP"


def web_security_group(daemon):
    sg = daemon.aws("ec2", "create-security-group", "--group-name", "web", "--description", "HTTP")["GroupId"]
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "3000",
               "--cidr", "0.0.0.0/0")
    return sg


def lcs(daemon, *names):
    return daemon.aws("autoscaling", "describe-launch-configurations",
                      *(["--launch-configuration-names", *names] if names else []))["LaunchConfigurations"]


def test_group_from_launch_configuration_serves_the_app(daemon):
    base = daemon.base_image()
    daemon.aws("ec2", "create-key-pair", "--key-name", "exercise-key")
    sg = web_security_group(daemon)
    daemon.aws("autoscaling", "create-launch-configuration", "--launch-configuration-name", "web-lc",
               "--image-id", base, "--instance-type", "t2.micro", "--key-name", "exercise-key",
               "--security-groups", sg, "--user-data", f"file://{SETUP}")
    [lc] = lcs(daemon, "web-lc")
    assert lc["LaunchConfigurationARN"].startswith("arn:aws:autoscaling:us-east-1:123456789012:launchConfiguration:")
    assert lc["LaunchConfigurationARN"].endswith(":launchConfigurationName/web-lc")
    assert (lc["ImageId"], lc["InstanceType"], lc["KeyName"], lc["SecurityGroups"]) == (base, "t2.micro", "exercise-key", [sg])
    assert lc["InstanceMonitoring"] == {"Enabled": True}, "detailed monitoring by default"
    assert base64.b64decode(lc["UserData"]) == SETUP.read_bytes()
    assert (lc["KernelId"], lc["RamdiskId"], lc["EbsOptimized"], lc["BlockDeviceMappings"]) == ("", "", False, [])

    daemon.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", GROUP,
               "--launch-configuration-name", "web-lc", "--min-size", "1", "--max-size", "2",
               "--vpc-zone-identifier", two_zone_subnets(daemon))
    [first] = wait_for("one InService", lambda: in_service(daemon, 1, GROUP))
    g = group(daemon, GROUP)
    assert g["LaunchConfigurationName"] == "web-lc" and "LaunchTemplate" not in g and "MixedInstancesPolicy" not in g
    assert first["LaunchConfigurationName"] == "web-lc" and "LaunchTemplate" not in first
    [asi] = daemon.aws("autoscaling", "describe-auto-scaling-instances", "--instance-ids", first["InstanceId"])["AutoScalingInstances"]
    assert asi["LaunchConfigurationName"] == "web-lc"

    # The instance is what the configuration says, and its user data installed the app.
    inst = daemon.instance(first["InstanceId"])
    assert (inst["ImageId"], inst["InstanceType"], inst["KeyName"]) == (base, "t2.micro", "exercise-key")
    assert [s["GroupId"] for s in inst["SecurityGroups"]] == [sg]
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert tags["aws:autoscaling:groupName"] == GROUP and "aws:ec2launchtemplate:id" not in tags
    addr = inst["PublicIpAddress"]
    status, body = wait_for("the app", lambda: (lambda r: r if r[0] == 200 else None)(http_get(f"http://{addr}:3000/")))
    assert "A project" in body and first["InstanceId"] in body
    assert "launch configuration web-lc" in daemon.shoal("groups").stdout

    # In use: not deleted, and nothing changed.
    assert daemon.aws_error("autoscaling", "delete-launch-configuration", "--launch-configuration-name", "web-lc") == (
        "ResourceInUse", f"Cannot delete launch configuration web-lc because it is attached to AutoScalingGroup {GROUP}")
    assert [c["LaunchConfigurationName"] for c in lcs(daemon)] == ["web-lc"]

    # A new configuration: new instances launch from it.
    daemon.aws("autoscaling", "create-launch-configuration", "--launch-configuration-name", "web-lc-2",
               "--image-id", base, "--instance-type", "t3.micro", "--security-groups", sg,
               "--user-data", f"file://{SETUP}", "--instance-monitoring", "Enabled=false")
    assert lcs(daemon, "web-lc-2")[0]["InstanceMonitoring"] == {"Enabled": False}
    daemon.aws("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", GROUP,
               "--launch-configuration-name", "web-lc-2", "--desired-capacity", "2")
    both = wait_for("two InService", lambda: in_service(daemon, 2, GROUP))
    second = next(i for i in both if i["InstanceId"] != first["InstanceId"])
    assert second["LaunchConfigurationName"] == "web-lc-2" and second["InstanceType"] == "t3.micro"
    assert daemon.instance(second["InstanceId"])["InstanceType"] == "t3.micro"
    assert group(daemon, GROUP)["LaunchConfigurationName"] == "web-lc-2"

    # Back to the first configuration while scaling in: the Default termination policy
    # retires the instance whose configuration is not the group's, though it is the newer
    # one (closest-to-the-billing-hour alone would pick the older).
    daemon.aws("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", GROUP,
               "--launch-configuration-name", "web-lc", "--desired-capacity", "1")
    [kept] = wait_for("back to one", lambda: in_service(daemon, 1, GROUP))
    assert kept["InstanceId"] == first["InstanceId"], "the instance of the other configuration goes first"

    # The second configuration is free now.
    daemon.aws("autoscaling", "delete-launch-configuration", "--launch-configuration-name", "web-lc-2")
    assert [c["LaunchConfigurationName"] for c in lcs(daemon)] == ["web-lc"]
    assert daemon.aws("autoscaling", "describe-account-limits")["NumberOfLaunchConfigurations"] == 1


def test_shapes_paging_and_bad_input_with_boto3(daemon):
    asg = daemon.boto("autoscaling")
    ec2 = daemon.boto("ec2")
    base = daemon.base_image()
    for name in ("lc-a", "lc-b", "lc-c"):
        asg.create_launch_configuration(LaunchConfigurationName=name, ImageId=base, InstanceType="t2.micro",
                                        UserData="#!/bin/sh\necho hi\n",
                                        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3"}}],
                                        MetadataOptions={"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"},
                                        IamInstanceProfile="web-role", AssociatePublicIpAddress=True, EbsOptimized=True)
    page = asg.describe_launch_configurations(MaxRecords=2)
    assert_shape(page, members(asg, "DescribeLaunchConfigurations"))
    assert [c["LaunchConfigurationName"] for c in page["LaunchConfigurations"]] == ["lc-a", "lc-b"]
    rest = asg.describe_launch_configurations(MaxRecords=2, NextToken=page["NextToken"])
    assert [c["LaunchConfigurationName"] for c in rest["LaunchConfigurations"]] == ["lc-c"] and "NextToken" not in rest
    pages = asg.get_paginator("describe_launch_configurations").paginate(PaginationConfig={"PageSize": 1})
    assert [c["LaunchConfigurationName"] for p in pages for c in p["LaunchConfigurations"]] == ["lc-a", "lc-b", "lc-c"]
    [b] = asg.describe_launch_configurations(LaunchConfigurationNames=["lc-b"])["LaunchConfigurations"]
    assert base64.b64decode(b["UserData"]) == b"#!/bin/sh\necho hi\n", "boto3 encodes user data; it comes back as sent"
    assert b["BlockDeviceMappings"] == [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3"}}]
    assert b["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"}
    assert (b["IamInstanceProfile"], b["AssociatePublicIpAddress"], b["EbsOptimized"]) == ("web-role", True, True)
    assert b["CreatedTime"].tzinfo is not None

    def error(call, **kw):
        try:
            call(**kw)
        except asg.exceptions.ClientError as e:
            return e.response["Error"]["Code"], e.response["Error"]["Message"]
        raise AssertionError(f"{call.__name__} succeeded")

    assert error(asg.create_launch_configuration, LaunchConfigurationName="lc-a", ImageId=base, InstanceType="t2.micro") == (
        "AlreadyExists", "Launch Configuration by this name already exists - A launch configuration already exists with the name lc-a")
    assert error(asg.create_launch_configuration, LaunchConfigurationName="x", ImageId="ami-0123456789abcdef0", InstanceType="t2.micro") == (
        "ValidationError", "AMI ami-0123456789abcdef0 is invalid: The image id '[ami-0123456789abcdef0]' does not exist")
    missing = ("ValidationError", "Valid requests must contain either the InstanceID parameter or both the ImageId and InstanceType parameters.")
    assert error(asg.create_launch_configuration, LaunchConfigurationName="x", ImageId=base) == missing
    assert error(asg.create_launch_configuration, LaunchConfigurationName="x", InstanceType="t2.micro") == missing
    assert error(asg.create_launch_configuration, LaunchConfigurationName="x", ImageId=base, InstanceType="t9.huge") == (
        "ValidationError", "The specified instance type t9.huge is not valid")
    assert error(asg.delete_launch_configuration, LaunchConfigurationName="nope") == (
        "ValidationError", "Launch configuration name not found - Launch configuration nope not found")
    subnets = two_zone_subnets(daemon)
    assert error(asg.create_auto_scaling_group, AutoScalingGroupName=GROUP, LaunchConfigurationName="nope",
                 MinSize=0, MaxSize=1, VPCZoneIdentifier=subnets) == (
        "ValidationError", "Launch configuration name not found - Launch configuration nope not found")
    lab_template(daemon)
    one = ("ValidationError", "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
    assert error(asg.create_auto_scaling_group, AutoScalingGroupName=GROUP, LaunchConfigurationName="lc-a",
                 LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"}, MinSize=0, MaxSize=1,
                 VPCZoneIdentifier=subnets) == one
    assert error(asg.create_auto_scaling_group, AutoScalingGroupName=GROUP, MinSize=0, MaxSize=1, VPCZoneIdentifier=subnets) == one
    assert asg.describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert [c["LaunchConfigurationName"] for c in asg.describe_launch_configurations()["LaunchConfigurations"]] == ["lc-a", "lc-b", "lc-c"]

    # From an instance: its image, type and user data, unless the request says otherwise.
    iid = ec2.run_instances(ImageId=base, InstanceType="t3.micro", MinCount=1, MaxCount=1, UserData="echo from-instance")["Instances"][0]["InstanceId"]
    asg.create_launch_configuration(LaunchConfigurationName="copy", InstanceId=iid)
    [copy] = asg.describe_launch_configurations(LaunchConfigurationNames=["copy"])["LaunchConfigurations"]
    assert (copy["ImageId"], copy["InstanceType"]) == (base, "t3.micro")
    assert base64.b64decode(copy["UserData"]) == b"echo from-instance"
    asg.create_launch_configuration(LaunchConfigurationName="copy-small", InstanceId=iid, InstanceType="t2.micro")
    assert asg.describe_launch_configurations(LaunchConfigurationNames=["copy-small"])["LaunchConfigurations"][0]["InstanceType"] == "t2.micro"
    # A group from an instance gets a launch configuration of its own name.
    asg.create_auto_scaling_group(AutoScalingGroupName="from-instance", InstanceId=iid, MinSize=0, MaxSize=1, VPCZoneIdentifier=subnets)
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["from-instance"])["AutoScalingGroups"][0]
    assert_shape(g, members(asg, "DescribeAutoScalingGroups").members["AutoScalingGroups"].member)
    assert g["LaunchConfigurationName"] == "from-instance"
    assert asg.describe_launch_configurations(LaunchConfigurationNames=["from-instance"])["LaunchConfigurations"][0]["InstanceType"] == "t3.micro"


def test_mixed_instances_policy_round_trips_and_launches_the_first_override(daemon):
    lab_template(daemon)
    asg = daemon.boto("autoscaling")
    subnets = two_zone_subnets(daemon)
    policy = {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateName": "exercise-launch-template", "Version": "$Latest"},
            "Overrides": [{"InstanceType": "t3.micro", "WeightedCapacity": "1"},
                          {"InstanceType": "t2.micro", "WeightedCapacity": "2"}],
        },
        "InstancesDistribution": {"OnDemandBaseCapacity": 1, "SpotAllocationStrategy": "price-capacity-optimized"},
    }
    bad = {**policy, "LaunchTemplate": {**policy["LaunchTemplate"], "Overrides": [{"InstanceType": "t3.micro", "WeightedCapacity": "1000"}]}}
    try:
        asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, MixedInstancesPolicy=bad, MinSize=1, MaxSize=2, VPCZoneIdentifier=subnets)
        raise AssertionError("weight 1000 accepted")
    except asg.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "ValidationError" and "1 to 999" in e.response["Error"]["Message"]
    assert asg.describe_auto_scaling_groups()["AutoScalingGroups"] == []

    asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, MixedInstancesPolicy=policy, MinSize=1, MaxSize=2,
                                  VPCZoneIdentifier=subnets)
    described = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
    assert_shape(described, members(asg, "DescribeAutoScalingGroups"))
    g = described["AutoScalingGroups"][0]
    assert "LaunchTemplate" not in g and "LaunchConfigurationName" not in g
    assert g["MixedInstancesPolicy"] == {
        "LaunchTemplate": policy["LaunchTemplate"],
        "InstancesDistribution": {
            "OnDemandAllocationStrategy": "prioritized", "OnDemandBaseCapacity": 1,
            "OnDemandPercentageAboveBaseCapacity": 100, "SpotAllocationStrategy": "price-capacity-optimized",
            "SpotInstancePools": 2,
        },
    }
    [inst] = wait_for("one InService", lambda: in_service(daemon, 1, GROUP))
    assert inst["InstanceType"] == "t3.micro" and inst["LaunchTemplate"]["LaunchTemplateName"] == "exercise-launch-template"
    assert daemon.instance(inst["InstanceId"])["InstanceType"] == "t3.micro", "the highest-priority override"
    assert "(mixed: t3.micro, t2.micro)" in daemon.shoal("groups").stdout

    # An update of the distribution alone keeps the rest; a bad one changes nothing.
    asg.update_auto_scaling_group(AutoScalingGroupName=GROUP, MixedInstancesPolicy={"InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 50}})
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]
    assert g["MixedInstancesPolicy"]["LaunchTemplate"] == policy["LaunchTemplate"]
    assert g["MixedInstancesPolicy"]["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == 50
    code, _ = daemon.aws_error("autoscaling", "update-auto-scaling-group", "--auto-scaling-group-name", GROUP,
                               "--mixed-instances-policy", '{"InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 101}}')
    assert code == "ValidationError"
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]["MixedInstancesPolicy"] == g["MixedInstancesPolicy"]

    # Back to a plain template: the policy goes.
    asg.update_auto_scaling_group(AutoScalingGroupName=GROUP, LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"})
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"][0]
    assert "MixedInstancesPolicy" not in g and g["LaunchTemplate"]["LaunchTemplateName"] == "exercise-launch-template"


def test_launch_configurations_and_policies_survive_a_restart(daemon):
    lab_template(daemon)
    asg = daemon.boto("autoscaling")
    subnets = two_zone_subnets(daemon)
    base = daemon.base_image()
    asg.create_launch_configuration(LaunchConfigurationName="durable", ImageId=base, InstanceType="t2.micro",
                                    InstanceMonitoring={"Enabled": False})
    asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, LaunchConfigurationName="durable", MinSize=1, MaxSize=1,
                                  VPCZoneIdentifier=subnets)
    asg.create_auto_scaling_group(
        AutoScalingGroupName="mixed", MinSize=0, MaxSize=1, VPCZoneIdentifier=subnets,
        MixedInstancesPolicy={"LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateName": "exercise-launch-template"},
                                                 "Overrides": [{"InstanceType": "t3.small"}]}})
    [inst] = wait_for("one InService", lambda: in_service(daemon, 1, GROUP))
    before_lc = asg.describe_launch_configurations()["LaunchConfigurations"]
    before_mixed = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["mixed"])["AutoScalingGroups"][0]["MixedInstancesPolicy"]

    daemon.kill9()
    daemon.start()
    asg = daemon.boto("autoscaling")
    assert asg.describe_launch_configurations()["LaunchConfigurations"] == before_lc
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=["mixed"])["AutoScalingGroups"][0]["MixedInstancesPolicy"] == before_mixed
    [again] = wait_for("still one InService", lambda: in_service(daemon, 1, GROUP))
    assert again["InstanceId"] == inst["InstanceId"] and again["LaunchConfigurationName"] == "durable"
    code, _ = daemon.aws_error("autoscaling", "delete-launch-configuration", "--launch-configuration-name", "durable")
    assert code == "ResourceInUse"


def test_instance_refresh_moves_a_group_to_a_template_and_rolls_back(daemon):
    """AWS's migration path: an instance refresh whose DesiredConfiguration is a launch
    template replaces a launch-configuration group's instances; a rollback brings the
    launch configuration back."""
    lab_template(daemon)
    asg = daemon.boto("autoscaling")
    asg.create_launch_configuration(LaunchConfigurationName="old", ImageId=daemon.base_image(), InstanceType="t2.micro")
    asg.create_auto_scaling_group(AutoScalingGroupName=GROUP, LaunchConfigurationName="old", MinSize=2, MaxSize=3,
                                  VPCZoneIdentifier=two_zone_subnets(daemon))
    before = {i["InstanceId"] for i in wait_for("two InService", lambda: in_service(daemon, 2, GROUP))}
    target = {"LaunchTemplate": {"LaunchTemplateName": "exercise-launch-template", "Version": "1"}}

    def latest():
        return asg.describe_instance_refreshes(AutoScalingGroupName=GROUP)["InstanceRefreshes"][0]

    # Paused halfway, then rolled back: the launch configuration returns.
    asg.start_instance_refresh(AutoScalingGroupName=GROUP, DesiredConfiguration=target,
                               Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0,
                                            "CheckpointPercentages": [50, 100], "CheckpointDelay": 3600})
    g = group(daemon, GROUP)
    assert g["LaunchTemplate"]["LaunchTemplateName"] == "exercise-launch-template" and "LaunchConfigurationName" not in g
    wait_for("paused at 50%", lambda: latest()["PercentageComplete"] == 50, timeout=60)
    asg.rollback_instance_refresh(AutoScalingGroupName=GROUP)
    wait_for("rolled back", lambda: latest()["Status"] == "RollbackSuccessful", timeout=60)
    g = group(daemon, GROUP)
    assert g["LaunchConfigurationName"] == "old" and "LaunchTemplate" not in g
    assert {i.get("LaunchConfigurationName") for i in g["Instances"]} == {"old"} and len(g["Instances"]) == 2

    # All the way: every instance replaced from the template; the configuration is free.
    asg.start_instance_refresh(AutoScalingGroupName=GROUP, DesiredConfiguration=target,
                               Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0})
    wait_for("refresh successful", lambda: latest()["Status"] == "Successful", timeout=90)
    g = group(daemon, GROUP)
    assert "LaunchConfigurationName" not in g and g["LaunchTemplate"]["Version"] == "1"
    assert all(i["LaunchTemplate"]["Version"] == "1" and "LaunchConfigurationName" not in i for i in g["Instances"])
    assert not {i["InstanceId"] for i in g["Instances"]} & before
    asg.delete_launch_configuration(LaunchConfigurationName="old")
