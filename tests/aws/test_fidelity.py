"""What users bring, taken as AWS takes it: nothing accepted and then dropped. Image
attributes (Ansible's ec2_ami) and AWS's own texts."""
import pytest
from botocore.exceptions import ClientError

from elbv2_lab import AL2023, default_network
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
