"""The EC2 and ELBv2 operations infrastructure tools (Terraform's hashicorp/aws provider)
call beyond the lab's, driven with boto3 (so the conformance hook checks each response
against botocore's models): VPC attributes, security-group rules by id, network
interfaces, instance attributes and credit specifications, load balancer and listener
attributes, an empty ProtocolVersion. Each is stored and read back; bad input changes
nothing."""
import urllib.request

import pytest
from botocore.exceptions import ClientError

import tool_calls
from harness import wait_for


@pytest.fixture(scope="module")
def daemon():
    yield from tool_calls.checked_daemon("Terraform")


def error(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_vpc_attributes_default_as_aws_and_are_stored(daemon):
    ec2 = daemon.boto("ec2")
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    get = lambda vpc, a: ec2.describe_vpc_attribute(VpcId=vpc, Attribute=a)  # noqa: E731
    assert get(default, "enableDnsSupport")["EnableDnsSupport"]["Value"] is True
    assert get(default, "enableDnsHostnames")["EnableDnsHostnames"]["Value"] is True
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    assert get(vpc, "enableDnsHostnames")["EnableDnsHostnames"]["Value"] is False
    assert get(vpc, "enableNetworkAddressUsageMetrics")["EnableNetworkAddressUsageMetrics"]["Value"] is False

    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableNetworkAddressUsageMetrics={"Value": True})
    assert get(vpc, "enableDnsHostnames")["EnableDnsHostnames"]["Value"] is True
    assert get(vpc, "enableNetworkAddressUsageMetrics")["EnableNetworkAddressUsageMetrics"]["Value"] is True

    # DNS hostnames need DNS resolution; one attribute per call; unknown VPC: all refused.
    assert error(ec2.modify_vpc_attribute, VpcId=vpc, EnableDnsSupport={"Value": False})[0] == "InvalidParameterValue"
    assert error(ec2.modify_vpc_attribute, VpcId=vpc, EnableDnsSupport={"Value": True},
                 EnableDnsHostnames={"Value": False})[0] == "InvalidParameterCombination"
    assert error(get, vpc="vpc-0123456789abcdef0", a="enableDnsSupport")[0] == "InvalidVpcID.NotFound"
    assert get(vpc, "enableDnsSupport")["EnableDnsSupport"]["Value"] is True
    ec2.delete_vpc(VpcId=vpc)


def test_security_group_rules_have_ids_and_defaults(daemon):
    ec2 = daemon.boto("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    default = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]},
                                                    {"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"][0]
    # A VPC's default group: all traffic in from its own members, all traffic out.
    assert default["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == default["GroupId"]
    assert default["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]

    sg = ec2.create_security_group(GroupName="tf-web", Description="web", VpcId=vpc)["GroupId"]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
    assert [(r["IsEgress"], r["IpProtocol"], r["CidrIpv4"]) for r in rules] == [(True, "-1", "0.0.0.0/0")]
    # Terraform revokes the default egress rule naming ports 0-0: it matches all traffic.
    ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "-1", "FromPort": 0, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"] == []

    added = ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/8"}]}])["SecurityGroupRules"]
    assert sorted(r["CidrIpv4"] for r in added) == ["0.0.0.0/0", "10.0.0.0/8"]
    first = added[0]["SecurityGroupRuleId"]
    # Rules keep no tags in Shoal: refused, not dropped, and nothing is added.
    assert error(ec2.authorize_security_group_ingress, GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": [{"Key": "a", "Value": "b"}]}])[0] == "UnsupportedOperation"
    [read] = ec2.describe_security_group_rules(SecurityGroupRuleIds=[first])["SecurityGroupRules"]
    assert (read["GroupId"], read["FromPort"], read["ToPort"], read["IsEgress"]) == (sg, 80, 80, False)

    assert error(ec2.revoke_security_group_ingress, GroupId=sg,
                 SecurityGroupRuleIds=[first, "sgr-0123456789abcdef0"])[0] == "InvalidSecurityGroupRuleId.NotFound"
    assert len(ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]) == 2
    ec2.revoke_security_group_ingress(GroupId=sg, SecurityGroupRuleIds=[first])
    left = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"]
    assert [r["CidrIp"] for r in left[0]["IpRanges"]] == [added[1]["CidrIpv4"]]
    assert error(ec2.describe_security_group_rules, SecurityGroupRuleIds=[first])[0] == "InvalidSecurityGroupRuleId.NotFound"
    ec2.delete_security_group(GroupId=sg)


def test_instances_have_interfaces_attributes_and_credit_specifications(daemon):
    ec2 = daemon.boto("ec2")
    sg = ec2.create_security_group(GroupName="tf-instance", Description="instance")["GroupId"]
    [inst] = ec2.run_instances(ImageId=daemon.base_image(), InstanceType="t2.micro", MinCount=1, MaxCount=1,
                               SecurityGroupIds=[sg], DisableApiTermination=True, DisableApiStop=True,
                               InstanceInitiatedShutdownBehavior="terminate")["Instances"]
    iid = inst["InstanceId"]
    attr = lambda a: ec2.describe_instance_attribute(InstanceId=iid, Attribute=a)  # noqa: E731
    assert attr("instanceInitiatedShutdownBehavior")["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    assert attr("disableApiTermination")["DisableApiTermination"]["Value"] is True
    assert attr("disableApiStop")["DisableApiStop"]["Value"] is True
    assert attr("sourceDestCheck")["SourceDestCheck"]["Value"] is True
    assert attr("ebsOptimized")["EbsOptimized"]["Value"] is False
    assert attr("rootDeviceName")["RootDeviceName"]["Value"] == "/dev/xvda"
    assert ec2.describe_instance_credit_specifications(InstanceIds=[iid])["InstanceCreditSpecifications"] == [
        {"InstanceId": iid, "CpuCredits": "standard"}]

    # Protected: a user's stop and terminate are refused; nothing changes.
    assert error(ec2.terminate_instances, InstanceIds=[iid])[0] == "OperationNotPermitted"
    assert error(ec2.stop_instances, InstanceIds=[iid])[0] == "OperationNotPermitted"
    assert daemon.instance(iid)["State"]["Name"] in ("pending", "running")

    # ModifyInstanceAttribute: one attribute per call; type only while stopped.
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
    ec2.modify_instance_attribute(InstanceId=iid, InstanceInitiatedShutdownBehavior={"Value": "stop"})
    assert attr("disableApiTermination")["DisableApiTermination"]["Value"] is False
    assert attr("instanceInitiatedShutdownBehavior")["InstanceInitiatedShutdownBehavior"]["Value"] == "stop"
    assert error(ec2.modify_instance_attribute, InstanceId=iid, InstanceType={"Value": "t3.small"})[0] == "IncorrectInstanceState"
    assert error(ec2.modify_instance_attribute, InstanceId=iid,
                 InstanceInitiatedShutdownBehavior={"Value": "halt"})[0] == "InvalidParameterValue"
    other = ec2.create_security_group(GroupName="tf-other", Description="other")["GroupId"]
    ec2.modify_instance_attribute(InstanceId=iid, Groups=[sg, other])
    assert [g["GroupId"] for g in attr("groupSet")["Groups"]] == [sg, other]
    assert error(ec2.modify_instance_attribute, InstanceId=iid, Groups=["sg-0123456789abcdef0"])[0] == "InvalidGroup.NotFound"
    ec2.modify_instance_attribute(InstanceId=iid, Groups=[sg])

    # Its primary interface, found by the filters the provider uses.
    for f in ({"Name": "attachment.instance-id", "Values": [iid]}, {"Name": "group-id", "Values": [sg]}):
        [eni] = ec2.describe_network_interfaces(Filters=[f])["NetworkInterfaces"]
        assert eni["Attachment"]["InstanceId"] == iid and eni["Groups"][0]["GroupId"] == sg
        assert eni["PrivateIpAddress"] == inst["PrivateIpAddress"]
    assert ec2.describe_network_interfaces(NetworkInterfaceIds=[eni["NetworkInterfaceId"]])["NetworkInterfaces"][0][
        "NetworkInterfaceId"] == eni["NetworkInterfaceId"]
    assert error(ec2.describe_network_interfaces, Filters=[{"Name": "bogus", "Values": ["x"]}])[0] == "InvalidParameterValue"

    [plain] = ec2.run_instances(ImageId=daemon.base_image(), InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                CreditSpecification={"CpuCredits": "standard"})["Instances"]
    specs = ec2.describe_instance_credit_specifications(InstanceIds=[plain["InstanceId"]])["InstanceCreditSpecifications"]
    assert specs == [{"InstanceId": plain["InstanceId"], "CpuCredits": "standard"}]
    assert error(ec2.run_instances, ImageId=daemon.base_image(), InstanceType="t2.micro", MinCount=1, MaxCount=1,
                 InstanceInitiatedShutdownBehavior="hibernate")[0] == "InvalidParameterValue"
    ec2.terminate_instances(InstanceIds=[plain["InstanceId"]])
    # Once the instance is terminated its interface is gone, and the group can go.
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[plain["InstanceId"]], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-id", "Values": [plain["InstanceId"]]}])["NetworkInterfaces"] == []


def test_load_balancer_and_listener_attributes(daemon):
    ec2, elb = daemon.boto("ec2"), daemon.boto("elbv2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]][:2]
    # The provider sends ProtocolVersion empty: AWS reads it as absent (HTTP1).
    tg = elb.create_target_group(Name="tf-tg", Protocol="HTTP", Port=3000, VpcId=vpc,
                                 ProtocolVersion="")["TargetGroups"][0]
    assert tg["ProtocolVersion"] == "HTTP1"
    # In a group that admits the host, which reaches the listener (the default group does not).
    created = elb.create_load_balancer(Name="tf-lb", Subnets=subnets, SecurityGroups=[daemon.web_group()])["LoadBalancers"][0]
    lb = created["LoadBalancerArn"]
    attrs = lambda: {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb)["Attributes"]}  # noqa: E731
    before = attrs()
    for key in ("connection_logs.s3.enabled", "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
                "zonal_shift.config.enabled"):
        assert before[key] == "false", key
    elb.modify_load_balancer_attributes(LoadBalancerArn=lb, Attributes=[
        {"Key": "connection_logs.s3.enabled", "Value": "true"}, {"Key": "connection_logs.s3.bucket", "Value": "logs"},
        {"Key": "zonal_shift.config.enabled", "Value": "true"}])
    after = attrs()
    assert (after["connection_logs.s3.enabled"], after["connection_logs.s3.bucket"],
            after["zonal_shift.config.enabled"]) == ("true", "logs", "true")
    assert error(elb.modify_load_balancer_attributes, LoadBalancerArn=lb, Attributes=[
        {"Key": "idle_timeout.timeout_seconds", "Value": "30"},
        {"Key": "routing.http.x_amzn_tls_version_and_cipher_suite.enabled", "Value": "maybe"}])[0] == "ValidationError"
    assert attrs() == after

    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])["Listeners"][0]["ListenerArn"]
    la = lambda: {a["Key"]: a["Value"] for a in elb.describe_listener_attributes(ListenerArn=listener)["Attributes"]}  # noqa: E731
    assert la()["routing.http.response.server.enabled"] == "true"

    def lb_headers():
        """The headers of the load balancer's own answer (503: no targets)."""
        req = urllib.request.Request(daemon.endpoint + "/", headers={"Host": created["DNSName"]})
        try:
            urllib.request.urlopen(req, timeout=5)
        except urllib.error.HTTPError as e:
            assert e.code == 503
            return e.headers
        raise AssertionError("expected the load balancer's 503")

    def server_header():
        return lb_headers().get("Server")
    assert wait_for("the listener bound", server_header, timeout=10) == "awselb/2.0"
    elb.modify_listener_attributes(ListenerArn=listener, Attributes=[
        {"Key": "routing.http.response.server.enabled", "Value": "false"},
        {"Key": "routing.http.response.x_frame_options.header_value", "Value": "DENY"}])
    assert (la()["routing.http.response.server.enabled"], la()["routing.http.response.x_frame_options.header_value"]) == ("false", "DENY")
    # Honoured: the load balancer's own responses lose their Server header.
    wait_for("no Server header", lambda: server_header() is None, timeout=10)
    assert lb_headers().get("X-Frame-Options") == "DENY"
    assert error(elb.modify_listener_attributes, ListenerArn=listener, Attributes=[
        {"Key": "tcp.idle_timeout.seconds", "Value": "350"}])[0] == "ValidationError"
    elb.delete_load_balancer(LoadBalancerArn=lb)
    elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])


def test_snapshots_outlive_their_image_until_deleted(daemon):
    ec2 = daemon.boto("ec2")
    [inst] = ec2.run_instances(ImageId=daemon.base_image(), InstanceType="t2.micro", MinCount=1, MaxCount=1)["Instances"]
    iid = inst["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    image = ec2.create_image(InstanceId=iid, Name="tf-image")["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    snap = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    [s] = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert (s["SnapshotId"], s["State"], s["Description"]) == (snap, "completed", f"Created by CreateImage({iid}) for {image}")
    assert [x["SnapshotId"] for x in ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"]] == [snap]
    base_snap = ec2.describe_images(ImageIds=[daemon.base_image()])["Images"][0]["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    # Amazon's: the base image's and its public images' (the catalog's), never ours.
    amazon = [x["SnapshotId"] for x in ec2.describe_snapshots(OwnerIds=["amazon"])["Snapshots"]]
    public = ec2.describe_images(Owners=["amazon"])["Images"]
    assert base_snap in amazon and snap not in amazon
    assert sorted(amazon) == sorted({i["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] for i in public})

    code, message = error(ec2.delete_snapshot, SnapshotId=snap)
    assert (code, message) == ("InvalidSnapshot.InUse", f"The snapshot {snap} is currently in use by {image}")
    ec2.deregister_image(ImageId=image)
    assert [x["SnapshotId"] for x in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]] == [snap]
    ec2.delete_snapshot(SnapshotId=snap)
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    assert error(ec2.delete_snapshot, SnapshotId=snap)[0] == "InvalidSnapshot.NotFound"
    assert error(ec2.describe_snapshots, SnapshotIds=[snap])[0] == "InvalidSnapshot.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])


def test_route_tables_and_internet_gateways_are_views_of_the_vpcs(daemon):
    ec2 = daemon.boto("ec2")
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    [igw] = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [default["VpcId"]]}])["InternetGateways"]
    assert igw["Attachments"] == [{"State": "available", "VpcId": default["VpcId"]}]
    [main] = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [default["VpcId"]]},
                                                {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    assert [(r["DestinationCidrBlock"], r["GatewayId"]) for r in main["Routes"]] == [
        (default["CidrBlock"], "local"), ("0.0.0.0/0", igw["InternetGatewayId"])]
    assert main["Associations"][0]["Main"] is True

    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    [own] = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    assert [(r["DestinationCidrBlock"], r["GatewayId"]) for r in own["Routes"]] == [("10.30.0.0/16", "local")]
    assert ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])["InternetGateways"] == []
    ec2.delete_vpc(VpcId=vpc)
    assert error(ec2.describe_route_tables, RouteTableIds=[own["RouteTableId"]])[0] == "InvalidRouteTableID.NotFound"


def test_each_vpc_has_a_default_network_acl_over_its_subnets(daemon):
    ec2 = daemon.boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.31.{n}.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
               for n in (1, 2)]
    [acl] = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"]
    assert acl["NetworkAclId"].startswith("acl-") and acl["IsDefault"] is True and acl["VpcId"] == vpc
    assert acl["OwnerId"] and acl.get("Tags", []) == []
    entries = sorted((e["Egress"], e["RuleNumber"], e["RuleAction"], e["Protocol"], e["CidrBlock"]) for e in acl["Entries"])
    assert entries == [(False, 100, "allow", "-1", "0.0.0.0/0"), (False, 32767, "deny", "-1", "0.0.0.0/0"),
                       (True, 100, "allow", "-1", "0.0.0.0/0"), (True, 32767, "deny", "-1", "0.0.0.0/0")]
    assocs = {a["SubnetId"]: a for a in acl["Associations"]}
    assert set(assocs) == set(subnets)
    assert all(a["NetworkAclAssociationId"].startswith("aclassoc-") and a["NetworkAclId"] == acl["NetworkAclId"]
               for a in assocs.values())

    # Ids are stable, and each filter finds it.
    acl_id = acl["NetworkAclId"]
    assoc = assocs[subnets[1]]["NetworkAclAssociationId"]
    for f in [("network-acl-id", acl_id), ("default", "true"), ("association.subnet-id", subnets[0]),
              ("association.association-id", assoc)]:
        found = ec2.describe_network_acls(Filters=[{"Name": f[0], "Values": [f[1]]}])["NetworkAcls"]
        assert acl_id in [a["NetworkAclId"] for a in found], f
    assert ec2.describe_network_acls(Filters=[{"Name": "default", "Values": ["false"]}])["NetworkAcls"] == []
    assert ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"] == [acl]

    # Every VPC (the default one and this one) has one; pages of 5 reach them all.
    every = ec2.describe_network_acls()["NetworkAcls"]
    assert len(every) == len(ec2.describe_vpcs()["Vpcs"]) >= 2
    pages = list(ec2.get_paginator("describe_network_acls").paginate(PaginationConfig={"PageSize": 5}))
    assert [a["NetworkAclId"] for p in pages for a in p["NetworkAcls"]] == [a["NetworkAclId"] for a in every]
    assert error(ec2.describe_network_acls, MaxResults=1001)[0] == "InvalidParameterValue"
    assert error(ec2.describe_network_acls, NextToken="junk")[0] == "InvalidNextToken"

    # A deleted subnet leaves the associations; a deleted VPC takes its ACL.
    ec2.delete_subnet(SubnetId=subnets[0])
    [acl] = ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"]
    assert [a["SubnetId"] for a in acl["Associations"]] == [subnets[1]]
    ec2.delete_subnet(SubnetId=subnets[1])
    ec2.delete_vpc(VpcId=vpc)
    assert error(ec2.describe_network_acls, NetworkAclIds=[acl_id]) == (
        "InvalidNetworkAclID.NotFound", f"The networkAcl ID '{acl_id}' does not exist")


def test_uefi_data_of_a_legacy_bios_instance_is_absent(daemon):
    ec2 = daemon.boto("ec2")
    [inst] = ec2.run_instances(ImageId=daemon.base_image(), InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"]
    iid = inst["InstanceId"]
    try:
        assert daemon.instance(iid)["CurrentInstanceBootMode"] == "legacy-bios"
        answer = ec2.get_instance_uefi_data(InstanceId=iid)
        assert answer["InstanceId"] == iid and "UefiData" not in answer
        assert error(ec2.get_instance_uefi_data, InstanceId="i-0123456789abcdef0")[0] == "InvalidInstanceID.NotFound"
        assert error(ec2.get_instance_uefi_data, InstanceId="instance-1")[0] == "InvalidInstanceID.Malformed"
    finally:
        ec2.terminate_instances(InstanceIds=[iid])


def test_capacity_reservation_of_a_load_balancer_without_one(daemon):
    ec2, elb = daemon.boto("ec2"), daemon.boto("elbv2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]][:2]
    lb = elb.create_load_balancer(Name="tf-capacity", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    answer = elb.describe_capacity_reservation(LoadBalancerArn=lb)
    answer.pop("ResponseMetadata")
    assert answer == {}
    elb.delete_load_balancer(LoadBalancerArn=lb)
    assert error(elb.describe_capacity_reservation, LoadBalancerArn=lb)[0] == "LoadBalancerNotFound"
