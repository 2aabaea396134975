"""What users bring, taken as AWS takes it: nothing accepted and then dropped. Image
attributes (Ansible's ec2_ami), network interface security groups, launch template
options stored, echoed as given and applied at launch, launch template pages, and
AWS's texts."""
import ipaddress

import pytest
from botocore.exceptions import ClientError

from elbv2_lab import AL2023, default_network, security_group
from harness import wait_for
from test_ec2_boto3 import assert_shape, members


def error(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    err = e.value.response["Error"]
    return err["Code"], err["Message"]


def run_one(ec2, **kwargs):
    args = dict(ImageId=AL2023, InstanceType="t2.micro", MinCount=1, MaxCount=1)
    args.update(kwargs)
    return ec2.run_instances(**args)["Instances"][0]


def describe(ec2, iid):
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]


def base_image(ec2):
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return [i for i in images if i["Name"] == "al2023-ami-shoal-base-kernel-default-x86_64"][0]


def test_image_attributes_as_ec2_answers_them(daemon):
    ec2 = daemon.boto("ec2")
    image = base_image(ec2)
    ami = image["ImageId"]

    def attr(name, image_id=ami):
        out = ec2.describe_image_attribute(ImageId=image_id, Attribute=name)
        assert_shape(out, members(ec2, "DescribeImageAttribute"))
        assert out["ImageId"] == image_id
        return out

    assert attr("launchPermission")["LaunchPermissions"] == [{"Group": "all"}]
    assert attr("blockDeviceMapping")["BlockDeviceMappings"] == image["BlockDeviceMappings"]
    assert attr("bootMode")["BootMode"] == {"Value": "uefi-preferred"}
    assert attr("deregistrationProtection")["DeregistrationProtection"] == {"Value": "disabled"}
    assert attr("kernel")["KernelId"] == {}
    assert attr("ramdisk")["RamdiskId"] == {}
    assert attr("productCodes")["ProductCodes"] == []
    for name in ("sriovNetSupport", "tpmSupport", "uefiData", "imdsSupport"):
        attr(name)
    assert attr("lastLaunchedTime")["LastLaunchedTime"] == {}
    assert error(ec2.describe_image_attribute, ImageId=ami, Attribute="colour") == (
        "InvalidParameterValue", "Value (colour) for parameter attribute is invalid. Unknown attribute.")
    assert error(ec2.describe_image_attribute, ImageId="ami-0123456789abcdef0",
                 Attribute="description")[0] == "InvalidAMIID.NotFound"
    # Amazon's image is not the account's to change.
    assert error(ec2.modify_image_attribute, ImageId=ami, Description={"Value": "mine"})[0] == "AuthFailure"

    inst = run_one(ec2)
    ec2.get_waiter("instance_running").wait(InstanceIds=[inst["InstanceId"]],
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert attr("lastLaunchedTime")["LastLaunchedTime"]["Value"].startswith(
        inst["LaunchTime"].strftime("%Y-%m-%dT%H:%M"))
    own = ec2.create_image(InstanceId=inst["InstanceId"], Name="fidelity-image", Description="first")["ImageId"]
    assert attr("description", own)["Description"] == {"Value": "first"}
    assert attr("launchPermission", own)["LaunchPermissions"] == []
    ec2.modify_image_attribute(ImageId=own, Description={"Value": "second"})
    assert attr("description", own)["Description"] == {"Value": "second"}
    ec2.modify_image_attribute(ImageId=own, Attribute="description", Value="third")
    assert ec2.describe_images(ImageIds=[own])["Images"][0]["Description"] == "third"
    # Launch permissions are not kept: refused rather than accepted and dropped.
    assert error(ec2.modify_image_attribute, ImageId=own,
                 LaunchPermission={"Add": [{"Group": "all"}]})[0] == "UnsupportedOperation"
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])


def test_network_interface_security_groups_reach_the_instance(daemon):
    ec2 = daemon.boto("ec2")
    _, subnets = default_network(daemon)
    web = security_group(daemon, "fidelity-web")
    nic = {"DeviceIndex": 0, "SubnetId": subnets[1], "Groups": [web], "AssociatePublicIpAddress": True}
    inst = run_one(ec2, NetworkInterfaces=[nic])
    assert [g["GroupId"] for g in inst["SecurityGroups"]] == [web]
    assert inst["SubnetId"] == subnets[1]
    assert [g["GroupId"] for g in describe(ec2, inst["InstanceId"])["NetworkInterfaces"][0]["Groups"]] == [web]
    assert error(ec2.run_instances, ImageId=AL2023, MinCount=1, MaxCount=1, SecurityGroupIds=[web],
                 NetworkInterfaces=[nic]) == (
        "InvalidParameterCombination",
        "Network interfaces and an instance-level security groups may not be specified on the same request")
    assert error(ec2.run_instances, ImageId=AL2023, MinCount=1, MaxCount=1, SubnetId=subnets[1],
                 NetworkInterfaces=[nic]) == (
        "InvalidParameterCombination",
        "Network interfaces and an instance-level subnet ID may not be specified on the same request")

    # The interface's private address is the instance's (only assigned: no traffic goes there).
    cidr = ec2.describe_subnets(SubnetIds=[subnets[1]])["Subnets"][0]["CidrBlock"]
    wanted = str(ipaddress.ip_network(cidr)[100])
    pinned = run_one(ec2, NetworkInterfaces=[{**nic, "PrivateIpAddress": wanted}])
    assert pinned["PrivateIpAddress"] == wanted
    assert error(ec2.run_instances, ImageId=AL2023, MinCount=1, MaxCount=1, SubnetId=subnets[1],
                 PrivateIpAddress=wanted) == ("InvalidIPAddress.InUse", f"Address {wanted} is in use.")

    # A template's interface groups, for RunInstances and for an Auto Scaling group.
    data = {"ImageId": AL2023, "InstanceType": "t2.micro",
            "NetworkInterfaces": [{"DeviceIndex": 0, "Groups": [web], "AssociatePublicIpAddress": True}]}
    ec2.create_launch_template(LaunchTemplateName="fidelity-nic", LaunchTemplateData=data)
    echoed = ec2.describe_launch_template_versions(LaunchTemplateName="fidelity-nic")
    assert echoed["LaunchTemplateVersions"][0]["LaunchTemplateData"]["NetworkInterfaces"] == data["NetworkInterfaces"]
    from_template = run_one(ec2, LaunchTemplate={"LaunchTemplateName": "fidelity-nic"})
    assert [g["GroupId"] for g in from_template["SecurityGroups"]] == [web]
    assert error(ec2.run_instances, MinCount=1, MaxCount=1, SecurityGroupIds=[web],
                 LaunchTemplate={"LaunchTemplateName": "fidelity-nic"})[0] == "InvalidParameterCombination"

    asg = daemon.boto("autoscaling")
    asg.create_auto_scaling_group(AutoScalingGroupName="fidelity-nic", MinSize=1, MaxSize=1,
                                  LaunchTemplate={"LaunchTemplateName": "fidelity-nic"},
                                  VPCZoneIdentifier=subnets[0])
    try:
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["fidelity-nic"])["AutoScalingGroups"][0]
        # No Version given, none echoed (AWS's answer).
        assert group["LaunchTemplate"]["LaunchTemplateName"] == "fidelity-nic"
        assert "Version" not in group["LaunchTemplate"]
        member = wait_for("the group's instance", lambda: asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=["fidelity-nic"])["AutoScalingGroups"][0]["Instances"], timeout=30)
        launched = describe(ec2, member[0]["InstanceId"])
        assert [g["GroupId"] for g in launched["SecurityGroups"]] == [web]
    finally:
        asg.delete_auto_scaling_group(AutoScalingGroupName="fidelity-nic", ForceDelete=True)
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"], from_template["InstanceId"], pinned["InstanceId"]])


TEMPLATE_OPTIONS = {
    "BlockDeviceMappings": [{"DeviceName": "/dev/xvda",
                             "Ebs": {"VolumeSize": 20, "VolumeType": "gp3", "DeleteOnTermination": True,
                                     "Encrypted": False}}],
    "CreditSpecification": {"CpuCredits": "unlimited"},
    "DisableApiTermination": True,
    "DisableApiStop": False,
    "IamInstanceProfile": {"Name": "fidelity-profile"},
    "InstanceInitiatedShutdownBehavior": "terminate",
    "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 3, "HttpEndpoint": "enabled"},
}


def test_launch_template_options_are_echoed_as_given_and_applied(daemon):
    ec2 = daemon.boto("ec2")
    data = {"ImageId": AL2023, "InstanceType": "t3.micro", **TEMPLATE_OPTIONS}
    ec2.create_launch_template(LaunchTemplateName="fidelity-options", LaunchTemplateData=data)
    version = ec2.describe_launch_template_versions(LaunchTemplateName="fidelity-options")
    assert_shape(version, members(ec2, "DescribeLaunchTemplateVersions"))
    assert version["LaunchTemplateVersions"][0]["LaunchTemplateData"] == data

    inst = ec2.run_instances(MinCount=1, MaxCount=1,
                             LaunchTemplate={"LaunchTemplateName": "fidelity-options"})["Instances"][0]
    iid = inst["InstanceId"]
    got = describe(ec2, iid)["MetadataOptions"]
    assert (got["HttpTokens"], got["HttpPutResponseHopLimit"], got["HttpEndpoint"]) == ("optional", 3, "enabled")
    attribute = lambda name: ec2.describe_instance_attribute(InstanceId=iid, Attribute=name)
    assert attribute("disableApiTermination")["DisableApiTermination"] == {"Value": True}
    assert attribute("instanceInitiatedShutdownBehavior")["InstanceInitiatedShutdownBehavior"] == {"Value": "terminate"}
    profile = describe(ec2, iid)["IamInstanceProfile"]
    assert profile["Arn"] == "arn:aws:iam::123456789012:instance-profile/fidelity-profile"
    assert profile["Id"].startswith("AIPA") and len(profile["Id"]) == 21
    credits = ec2.describe_instance_credit_specifications(InstanceIds=[iid])["InstanceCreditSpecifications"]
    assert credits[0]["CpuCredits"] == "unlimited"
    assert error(ec2.terminate_instances, InstanceIds=[iid]) == (
        "OperationNotPermitted",
        f"The instance '{iid}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.")
    assert describe(ec2, iid)["State"]["Name"] in ("pending", "running")

    # RunInstances' own parameters win over the template's, one by one.
    own = ec2.run_instances(MinCount=1, MaxCount=1, DisableApiTermination=False,
                            MetadataOptions={"HttpPutResponseHopLimit": 1},
                            LaunchTemplate={"LaunchTemplateName": "fidelity-options"})["Instances"][0]
    got = describe(ec2, own["InstanceId"])["MetadataOptions"]
    assert (got["HttpTokens"], got["HttpPutResponseHopLimit"]) == ("required", 1)
    by_arn = run_one(ec2, IamInstanceProfile={"Arn": "arn:aws:iam::123456789012:instance-profile/web"})
    assert describe(ec2, by_arn["InstanceId"])["IamInstanceProfile"]["Arn"] == \
        "arn:aws:iam::123456789012:instance-profile/web"
    assert "IamInstanceProfile" not in describe(ec2, run_one(ec2)["InstanceId"])
    ec2.terminate_instances(InstanceIds=[own["InstanceId"]])

    changed = ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required", HttpPutResponseHopLimit=5)
    assert_shape(changed, members(ec2, "ModifyInstanceMetadataOptions"))
    assert changed["InstanceMetadataOptions"]["HttpTokens"] == "required"
    got = describe(ec2, iid)["MetadataOptions"]
    assert (got["HttpTokens"], got["HttpPutResponseHopLimit"]) == ("required", 5)
    assert error(ec2.modify_instance_metadata_options, InstanceId=iid, HttpTokens="maybe")[0] == \
        "InvalidParameterValue"
    assert error(ec2.run_instances, ImageId=AL2023, MinCount=1, MaxCount=1,
                 MetadataOptions={"HttpPutResponseHopLimit": 65})[0] == "InvalidParameterValue"

    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
    ec2.terminate_instances(InstanceIds=[iid])


def test_instance_initiated_shutdown_follows_the_shutdown_behaviour(daemon):
    """An instance that shuts itself down (its init ends) is terminated when launched with
    InstanceInitiatedShutdownBehavior=terminate, stopped otherwise."""
    ec2 = daemon.boto("ec2")
    # User data whose parent is the instance's init: TERM to it is a shutdown from inside.
    halt = "#!/bin/sh\nsleep 1\nkill -TERM $PPID\n"
    ends = run_one(ec2, UserData=halt, InstanceInitiatedShutdownBehavior="terminate")["InstanceId"]
    stops = run_one(ec2, UserData=halt)["InstanceId"]
    wait_for("the terminate-on-shutdown instance terminated",
             lambda: describe(ec2, ends)["State"]["Name"] == "terminated", timeout=60)
    assert describe(ec2, ends)["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
    wait_for("the other instance stopped", lambda: describe(ec2, stops)["State"]["Name"] == "stopped", timeout=60)
    ec2.terminate_instances(InstanceIds=[stops])


def test_launch_templates_page(daemon):
    ec2 = daemon.boto("ec2")
    for n in range(3):
        ec2.create_launch_template(LaunchTemplateName=f"fidelity-page-{n}", LaunchTemplateData={"ImageId": AL2023})
    ec2.create_launch_template_version(LaunchTemplateName="fidelity-page-0", LaunchTemplateData={"InstanceType": "t3.micro"})
    ec2.create_launch_template_version(LaunchTemplateName="fidelity-page-0", LaunchTemplateData={"InstanceType": "t3.small"})
    first = ec2.describe_launch_templates(MaxResults=2)
    assert len(first["LaunchTemplates"]) == 2 and first["NextToken"]
    rest = ec2.describe_launch_templates(MaxResults=2, NextToken=first["NextToken"])
    assert len(rest["LaunchTemplates"]) == 1 and "NextToken" not in rest
    names = {t["LaunchTemplateName"] for t in first["LaunchTemplates"] + rest["LaunchTemplates"]}
    assert names == {f"fidelity-page-{n}" for n in range(3)}
    paged = [p for page in ec2.get_paginator("describe_launch_template_versions").paginate(
        LaunchTemplateName="fidelity-page-0", PaginationConfig={"PageSize": 1}) for p in page["LaunchTemplateVersions"]]
    assert sorted(v["VersionNumber"] for v in paged) == [1, 2, 3]
    assert error(ec2.describe_launch_templates, MaxResults=201) == (
        "InvalidParameterValue", "Value ( 201 ) for parameter maxResults is invalid. Parameter must be between 1 and 200.")
    assert error(ec2.describe_launch_templates, NextToken="junk")[0] == "InvalidNextToken"


def test_elbv2_and_auto_scaling_texts(daemon):
    ec2 = daemon.boto("ec2")
    elb = daemon.boto("elbv2")
    _, subnets = default_network(daemon)
    other_vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    foreign = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=other_vpc)["GroupId"]
    default_vpc, _ = default_network(daemon)
    assert error(elb.create_load_balancer, Name="fidelity-lb", Subnets=subnets[:2], SecurityGroups=[foreign]) == (
        "InvalidConfigurationRequest", f"Security group '{foreign}' does not belong to VPC '{default_vpc}'")
    assert error(elb.create_load_balancer, Name="fidelity-lb", Subnets=subnets[:2],
                 SecurityGroups=["sg-0123456789abcdef0"])[0] == "InvalidSecurityGroup"
    assert elb.describe_load_balancers()["LoadBalancers"] == []

    asg = daemon.boto("autoscaling")
    assert error(asg.update_auto_scaling_group, AutoScalingGroupName="nobody", MaxSize=2) == (
        "ValidationError", "AutoScalingGroup name not found - null")
    assert error(asg.set_desired_capacity, AutoScalingGroupName="nobody", DesiredCapacity=1) == (
        "ValidationError", "AutoScalingGroup name not found - null")
    assert error(asg.create_auto_scaling_group, AutoScalingGroupName="fidelity-none", MinSize=0, MaxSize=1,
                 LaunchTemplate={"Version": "$Latest"}, VPCZoneIdentifier=subnets[0]) == (
        "ValidationError", "Valid requests must contain either LaunchTemplateId or LaunchTemplateName")
