"""A load balancer's network interfaces, as AWS shows ELB's: one per subnet (zone),
requested and attached by `amazon-elb`, described `ELB app/<name>/<id>`, holding the
load balancer's security groups and a private address of its subnet that no instance
gets. Made at CreateLoadBalancer, moved by SetSubnets, kept across a restart, gone with
DeleteLoadBalancer; DeleteNetworkInterface refuses them, and a group or subnet they use
cannot be deleted. Control-plane state: runs in the default mode."""
import ipaddress

# A plain module-scoped daemon (not the Terraform suite's, which checks its calls
# against the tools' list).
from test_wire_coverage import code as error
from test_wire_coverage import daemon  # noqa: F401 - the fixture, one per module


def elb_interfaces(ec2, description):
    return ec2.describe_network_interfaces(Filters=[
        {"Name": "description", "Values": [description]}])["NetworkInterfaces"]


def test_load_balancer_interfaces_follow_its_subnets_and_groups(daemon):
    ec2, elb = daemon.boto("ec2"), daemon.boto("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:3]
    subnets = {}
    for i, zone in enumerate(zones):
        s = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=zone)["Subnet"]
        subnets[s["SubnetId"]] = s
    ids = list(subnets)
    sg = ec2.create_security_group(GroupName="lb-eni", Description="lb", VpcId=vpc)["GroupId"]

    lb = elb.create_load_balancer(Name="eni-lb", Subnets=ids[:2], SecurityGroups=[sg])["LoadBalancers"][0]
    arn = lb["LoadBalancerArn"]
    description = "ELB " + arn.split(":loadbalancer/")[1]
    assert description.startswith("ELB app/eni-lb/")

    enis = elb_interfaces(ec2, description)
    assert sorted(e["SubnetId"] for e in enis) == sorted(ids[:2])
    for e in enis:
        subnet = subnets[e["SubnetId"]]
        assert e["VpcId"] == vpc and e["AvailabilityZone"] == subnet["AvailabilityZone"]
        assert e["InterfaceType"] == "interface" and e["Status"] == "in-use"
        assert e["RequesterId"] == "amazon-elb" and e["RequesterManaged"] is True
        assert e["Attachment"]["InstanceOwnerId"] == "amazon-elb"
        assert "InstanceId" not in e["Attachment"]
        assert e["Attachment"]["Status"] == "attached"
        assert [g["GroupId"] for g in e["Groups"]] == [sg]
        ip = ipaddress.ip_address(e["PrivateIpAddress"])
        assert ip in ipaddress.ip_network(subnet["CidrBlock"])
        # AWS reserves a subnet's first four addresses.
        assert int(ip) - int(ipaddress.ip_network(subnet["CidrBlock"]).network_address) >= 4

    # The filters Terraform and boto3 scripts use to find ELB's interfaces.
    for f in ({"Name": "requester-id", "Values": ["amazon-elb"]},
              {"Name": "attachment.instance-owner-id", "Values": ["amazon-elb"]},
              {"Name": "vpc-id", "Values": [vpc]},
              {"Name": "group-id", "Values": [sg]},
              {"Name": "description", "Values": ["ELB app/eni-lb/*"]}):
        found = ec2.describe_network_interfaces(Filters=[f])["NetworkInterfaces"]
        assert sorted(e["NetworkInterfaceId"] for e in found) == sorted(e["NetworkInterfaceId"] for e in enis), f
    [one] = ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [ids[0]]}])["NetworkInterfaces"]
    assert one["SubnetId"] == ids[0]
    assert ec2.describe_network_interfaces(NetworkInterfaceIds=[one["NetworkInterfaceId"]])[
        "NetworkInterfaces"][0]["Description"] == description

    # ELB's interfaces are in use and ELB's to manage.
    assert error(ec2.delete_network_interface, NetworkInterfaceId=one["NetworkInterfaceId"]) == \
        "InvalidNetworkInterface.InUse"
    assert error(ec2.delete_network_interface, NetworkInterfaceId="eni-0123456789abcdef0") == \
        "InvalidNetworkInterfaceID.NotFound"
    # Terraform deletes a group only after the load balancers that use it.
    assert error(ec2.delete_security_group, GroupId=sg) == "DependencyViolation"
    assert error(ec2.delete_subnet, SubnetId=ids[0]) == "DependencyViolation"
    assert len(elb_interfaces(ec2, description)) == 2

    # An instance in the same subnet gets an address of its own.
    inst = ec2.run_instances(ImageId=daemon.base_image(), InstanceType="t3.micro", MinCount=1, MaxCount=1,
                             SubnetId=ids[0], SecurityGroupIds=[sg])["Instances"][0]
    assert inst["PrivateIpAddress"] not in [e["PrivateIpAddress"] for e in enis]
    # Naming an LB's address for an instance is refused as a taken one.
    assert error(ec2.run_instances, ImageId=daemon.base_image(), InstanceType="t3.micro", MinCount=1,
                 MaxCount=1, SubnetId=ids[0], PrivateIpAddress=one["PrivateIpAddress"]) == "InvalidIPAddress.InUse"
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[inst["InstanceId"]],
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    # SetSubnets: the kept subnet keeps its interface; the new one gets one; the old goes.
    kept = {e["SubnetId"]: e for e in enis}[ids[1]]
    elb.set_subnets(LoadBalancerArn=arn, Subnets=[ids[1], ids[2]])
    moved = {e["SubnetId"]: e for e in elb_interfaces(ec2, description)}
    assert sorted(moved) == sorted(ids[1:])
    assert moved[ids[1]]["NetworkInterfaceId"] == kept["NetworkInterfaceId"]
    assert moved[ids[1]]["PrivateIpAddress"] == kept["PrivateIpAddress"]

    # SetSecurityGroups: the interfaces hold the new groups.
    other = ec2.create_security_group(GroupName="lb-eni-2", Description="lb", VpcId=vpc)["GroupId"]
    elb.set_security_groups(LoadBalancerArn=arn, SecurityGroups=[other])
    assert all([g["GroupId"] for g in e["Groups"]] == [other] for e in elb_interfaces(ec2, description))
    ec2.delete_security_group(GroupId=sg)

    # Durable: a restarted daemon shows the same interfaces.
    before = sorted((e["NetworkInterfaceId"], e["PrivateIpAddress"]) for e in elb_interfaces(ec2, description))
    assert daemon.shoal("down").returncode == 0
    daemon.proc.wait(timeout=30)
    daemon.start()
    ec2 = daemon.boto("ec2")
    assert sorted((e["NetworkInterfaceId"], e["PrivateIpAddress"])
                  for e in elb_interfaces(ec2, description)) == before

    daemon.boto("elbv2").delete_load_balancer(LoadBalancerArn=arn)
    assert elb_interfaces(ec2, description) == []
    assert error(ec2.describe_network_interfaces, NetworkInterfaceIds=[before[0][0]]) == \
        "InvalidNetworkInterfaceID.NotFound"
    ec2.delete_security_group(GroupId=other)
    for s in ids:
        ec2.delete_subnet(SubnetId=s)
    ec2.delete_vpc(VpcId=vpc)


def test_a_subnet_without_eight_free_addresses_is_refused(daemon):
    ec2, elb = daemon.boto("ec2"), daemon.boto("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    # A /28 has 11 usable addresses; four instances leave 7 free.
    small = ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.0.0/28", AvailabilityZone=zones[0])["Subnet"]["SubnetId"]
    big = ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.1.0/24", AvailabilityZone=zones[1])["Subnet"]["SubnetId"]
    insts = ec2.run_instances(ImageId=daemon.base_image(), InstanceType="t3.micro", MinCount=4, MaxCount=4,
                              SubnetId=small)["Instances"]
    assert error(elb.create_load_balancer, Name="tight-lb", Subnets=[small, big]) == "InvalidSubnet"
    assert "tight-lb" not in [lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"]]
    assert ec2.describe_network_interfaces(Filters=[
        {"Name": "requester-id", "Values": ["amazon-elb"]}, {"Name": "vpc-id", "Values": [vpc]}])[
        "NetworkInterfaces"] == []
    ids = [i["InstanceId"] for i in insts]
    ec2.terminate_instances(InstanceIds=ids)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    # Freed, the subnet takes the load balancer.
    lb = elb.create_load_balancer(Name="tight-lb", Subnets=[small, big])["LoadBalancers"][0]
    assert len(ec2.describe_network_interfaces(Filters=[
        {"Name": "requester-id", "Values": ["amazon-elb"]}, {"Name": "vpc-id", "Values": [vpc]}])[
        "NetworkInterfaces"]) == 2
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
