"""What users bring, taken as AWS takes it: nothing accepted and then dropped, and
AWS's own texts."""
import pytest
from botocore.exceptions import ClientError

from elbv2_lab import default_network


def error(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    err = e.value.response["Error"]
    return err["Code"], err["Message"]


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
