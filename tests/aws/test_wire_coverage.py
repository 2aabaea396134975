"""The operations no lab test needs, driven once each with boto3 so the conformance hook
(conformance.py) checks their responses against botocore's models too, and so each does
what AWS's does: create, read back, delete, and the delete is seen."""
import subprocess

import pytest
from botocore.exceptions import ClientError

from harness import Daemon
from test_autoscaling import lab_template, two_zone_subnets


@pytest.fixture(scope="module")
def daemon():
    d = Daemon()
    try:
        yield d
    finally:
        d.close()


def code(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"]


def test_ec2_catalogue_and_deletes(daemon, tmp_path):
    ec2 = daemon.boto("ec2")
    assert "us-east-1" in [r["RegionName"] for r in ec2.describe_regions()["Regions"]]
    names = [a["AttributeName"] for a in ec2.describe_account_attributes()["AccountAttributes"]]
    assert "supported-platforms" in names or "default-vpc" in names, names

    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    imported = ec2.import_key_pair(KeyName="lab-key", PublicKeyMaterial=(tmp_path / "key.pub").read_bytes())
    assert imported["KeyName"] == "lab-key" and imported["KeyFingerprint"]
    ec2.delete_key_pair(KeyName="lab-key")
    assert "lab-key" not in [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]

    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="coverage", Description="coverage", VpcId=vpc)["GroupId"]
    ec2.delete_security_group(GroupId=sg)
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)
    assert code(ec2.describe_vpcs, VpcIds=[vpc]) == "InvalidVpcID.NotFound"
    assert code(ec2.describe_subnets, SubnetIds=[subnet]) == "InvalidSubnetID.NotFound"

    [inst] = ec2.run_instances(ImageId=daemon.base_image(), InstanceType="t3.micro", MinCount=1, MaxCount=1,
                               UserData="echo hi")["Instances"]
    iid = inst["InstanceId"]
    assert ec2.describe_instance_attribute(InstanceId=iid, Attribute="instanceType")["InstanceType"]["Value"] == "t3.micro"
    assert ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")["UserData"]["Value"]
    assert code(ec2.describe_instance_attribute, InstanceId=iid, Attribute="kernel") == "InvalidParameterValue"
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    image = ec2.create_image(InstanceId=iid, Name="coverage-image")["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ec2.deregister_image(ImageId=image)
    assert code(ec2.describe_images, ImageIds=[image]) == "InvalidAMIID.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])

    lt = ec2.create_launch_template(LaunchTemplateName="coverage-template", LaunchTemplateData={
        "ImageId": daemon.base_image(), "InstanceType": "t2.micro"})["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(LaunchTemplateId=lt, SourceVersion="1", LaunchTemplateData={"InstanceType": "t3.micro"})
    out = ec2.delete_launch_template_versions(LaunchTemplateId=lt, Versions=["2"])
    assert [v["VersionNumber"] for v in out["SuccessfullyDeletedLaunchTemplateVersions"]] == [2]
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=lt)["LaunchTemplateVersions"]
    assert [v["VersionNumber"] for v in versions] == [1]
    ec2.delete_launch_template(LaunchTemplateId=lt)
    assert code(ec2.describe_launch_templates, LaunchTemplateIds=[lt]) == "InvalidLaunchTemplateId.NotFound"


def test_autoscaling_catalogues_hooks_and_schedules(daemon):
    asg = daemon.boto("autoscaling")
    assert set(asg.describe_lifecycle_hook_types()["LifecycleHookTypes"]) == {
        "autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"}
    processes = {p["ProcessName"] for p in asg.describe_scaling_process_types()["Processes"]}
    assert {"Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy", "AlarmNotification",
            "ScheduledActions", "AddToLoadBalancer", "AZRebalance", "InstanceRefresh"} <= processes
    assert "OldestInstance" in asg.describe_termination_policy_types()["TerminationPolicyTypes"]

    lab_template(daemon)
    asg.create_auto_scaling_group(AutoScalingGroupName="COVERAGE", MinSize=0, MaxSize=2, DesiredCapacity=0,
                                  LaunchTemplate={"LaunchTemplateName": "exercise-launch-template"},
                                  VPCZoneIdentifier=two_zone_subnets(daemon))
    asg.put_lifecycle_hook(AutoScalingGroupName="COVERAGE", LifecycleHookName="drain",
                           LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING", HeartbeatTimeout=60)
    asg.delete_lifecycle_hook(AutoScalingGroupName="COVERAGE", LifecycleHookName="drain")
    assert asg.describe_lifecycle_hooks(AutoScalingGroupName="COVERAGE")["LifecycleHooks"] == []
    assert code(asg.delete_lifecycle_hook, AutoScalingGroupName="COVERAGE",
                LifecycleHookName="drain") == "ValidationError"

    asg.put_scheduled_update_group_action(AutoScalingGroupName="COVERAGE", ScheduledActionName="nightly",
                                          Recurrence="0 22 * * *", DesiredCapacity=0)
    asg.delete_scheduled_action(AutoScalingGroupName="COVERAGE", ScheduledActionName="nightly")
    assert asg.describe_scheduled_actions(AutoScalingGroupName="COVERAGE")["ScheduledUpdateGroupActions"] == []
    assert code(asg.delete_scheduled_action, AutoScalingGroupName="COVERAGE",
                ScheduledActionName="nightly") == "ValidationError"
    asg.delete_auto_scaling_group(AutoScalingGroupName="COVERAGE")


def test_security_group_rule_descriptions_are_kept_and_updated(daemon):
    """IpRanges' Descriptions are stored, echoed and changed in place, by permission or
    by rule id (ec2_security_group's rule_desc; AWS's UpdateSecurityGroupRuleDescriptions*)."""
    ec2 = daemon.boto("ec2")
    sg = ec2.create_security_group(GroupName="described", Description="d")["GroupId"]
    rule = {"IpProtocol": "tcp", "FromPort": 3000, "ToPort": 3000}
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {**rule, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "the app"}, {"CidrIp": "10.0.0.0/8"}]}])

    def ranges():
        (p,) = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"]
        return {r["CidrIp"]: r.get("Description") for r in p["IpRanges"]}

    assert ranges() == {"0.0.0.0/0": "the app", "10.0.0.0/8": None}
    ec2.update_security_group_rule_descriptions_ingress(GroupId=sg, IpPermissions=[
        {**rule, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "inside"}]}])
    assert ranges() == {"0.0.0.0/0": "the app", "10.0.0.0/8": "inside"}
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
    assert {(r["IsEgress"], r["CidrIpv4"]): r.get("Description") for r in rules} == {
        (False, "0.0.0.0/0"): "the app", (False, "10.0.0.0/8"): "inside", (True, "0.0.0.0/0"): None}
    egress_rule = next(r["SecurityGroupRuleId"] for r in rules if r["IsEgress"])
    ec2.update_security_group_rule_descriptions_egress(GroupId=sg, SecurityGroupRuleDescriptions=[
        {"SecurityGroupRuleId": egress_rule, "Description": "out"}])
    egress = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissionsEgress"]
    assert egress[0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0", "Description": "out"}]
    assert code(ec2.update_security_group_rule_descriptions_ingress, GroupId=sg, IpPermissions=[
        {**rule, "IpRanges": [{"CidrIp": "1.2.3.4/32", "Description": "x"}]}]) == "InvalidPermission.NotFound"
    # A revoke without the description still finds the rule.
    ec2.revoke_security_group_ingress(GroupId=sg, IpPermissions=[
        {**rule, "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/8"}]}])
    assert ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"] == []
    ec2.delete_security_group(GroupId=sg)
