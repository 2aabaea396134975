"""Every region, as an AWS user meets them: the aws CLI and boto3 configured for a region
other than us-east-1 get that region's own world (its default VPC and zones, its ids,
names and load balancers), DescribeRegions lists AWS's commercial regions, state
survives a crash of the daemon, and a region AWS does not have is refused as AWS's
signature check refuses it."""
import os
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from elbv2_lab import AL2023, SETUP, request
from harness import http_get, wait_for


def client(d, service, region):
    return d.watch(boto3.client(service, endpoint_url=d.endpoint, region_name=region,
                                aws_access_key_id="test", aws_secret_access_key="test"))


def error_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def default_network(ec2):
    vpc = [v for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]][0]["VpcId"]
    subnets = sorted(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"],
                     key=lambda s: s["AvailabilityZone"])
    return vpc, subnets


def test_describe_regions_and_each_regions_zones(daemon):
    ec2 = client(daemon, "ec2", "us-west-2")
    regions = {r["RegionName"]: r for r in ec2.describe_regions()["Regions"]}
    # Every region of AWS's commercial partition, as the pinned botocore lists it.
    import botocore.loaders
    partitions = botocore.loaders.Loader().load_data("endpoints")["partitions"]
    commercial = next(p for p in partitions if p["partition"] == "aws")["regions"]
    assert sorted(regions) == sorted(commercial)
    for name in ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1",
                 "ap-southeast-1", "ap-northeast-1", "sa-east-1", "ca-central-1"]:
        assert regions[name] == {"RegionName": name, "Endpoint": f"ec2.{name}.amazonaws.com",
                                 "OptInStatus": "opt-in-not-required"}, name
    assert regions["af-south-1"]["OptInStatus"] == "opted-in"
    assert [r["RegionName"] for r in ec2.describe_regions(AllRegions=True, RegionNames=["eu-west-1"])["Regions"]] \
        == ["eu-west-1"]
    assert error_of(lambda: ec2.describe_regions(RegionNames=["us--east-1"])) == \
        ("InvalidParameterValue", "Invalid region: [us--east-1]")
    opted = ec2.describe_regions(Filters=[{"Name": "opt-in-status", "Values": ["opted-in"]}])["Regions"]
    assert opted and all(r["OptInStatus"] == "opted-in" for r in opted)
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [(z["ZoneName"], z["ZoneId"], z["RegionName"]) for z in zones] == [
        ("us-west-2a", "usw2-az1", "us-west-2"), ("us-west-2b", "usw2-az2", "us-west-2"),
        ("us-west-2c", "usw2-az3", "us-west-2"), ("us-west-2d", "usw2-az4", "us-west-2")]
    # The aws CLI, as a user configured for another region would run it.
    eu = daemon.aws("--region", "eu-west-1", "ec2", "describe-availability-zones")["AvailabilityZones"]
    assert [z["ZoneName"] for z in eu] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert {z["RegionName"] for z in eu} == {"eu-west-1"}
    west1 = client(daemon, "ec2", "us-west-1").describe_availability_zones(ZoneNames=["us-west-1b"])
    assert [z["ZoneId"] for z in west1["AvailabilityZones"]] == ["usw1-az3"]
    # us-east-1: its six zones, each with a default subnet.
    home = daemon.aws("ec2", "describe-availability-zones")["AvailabilityZones"]
    assert [z["ZoneName"] for z in home] == [f"us-east-1{letter}" for letter in "abcdef"]
    _, home_subnets = default_network(client(daemon, "ec2", "us-east-1"))
    assert [(s["AvailabilityZone"], s["AvailabilityZoneId"]) for s in home_subnets] == \
        [(z["ZoneName"], z["ZoneId"]) for z in home]


def test_each_region_is_its_own_world(daemon):
    eu, us = client(daemon, "ec2", "eu-west-1"), client(daemon, "ec2", "us-east-1")
    eu_vpc, eu_subnets = default_network(eu)
    us_vpc, _ = default_network(us)
    assert eu_vpc != us_vpc
    assert [s["AvailabilityZone"] for s in eu_subnets] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert all(s["DefaultForAz"] and f":eu-west-1:" in s["SubnetArn"] for s in eu_subnets)
    # Each subnet's zone id is its zone's, as DescribeAvailabilityZones gives it.
    zone_ids = {z["ZoneName"]: z["ZoneId"] for z in eu.describe_availability_zones()["AvailabilityZones"]}
    assert [s["AvailabilityZoneId"] for s in eu_subnets] == ["euw1-az1", "euw1-az2", "euw1-az3"]
    assert all(s["AvailabilityZoneId"] == zone_ids[s["AvailabilityZone"]] for s in eu_subnets)
    # A new VPC and a subnet in the region's zone; another region's zone is refused.
    vpc = eu.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = eu.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone="eu-west-1a")["Subnet"]
    assert subnet["AvailabilityZone"] == "eu-west-1a"
    code, message = error_of(lambda: eu.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24",
                                                      AvailabilityZone="us-east-1a"))
    assert code == "InvalidParameterValue" and "eu-west-1a" in message
    # Not visible from us-east-1, by listing or by id.
    assert vpc not in [v["VpcId"] for v in us.describe_vpcs()["Vpcs"]]
    assert error_of(lambda: us.describe_vpcs(VpcIds=[vpc]))[0] == "InvalidVpcID.NotFound"
    assert error_of(lambda: us.describe_subnets(SubnetIds=[subnet["SubnetId"]]))[0] == "InvalidSubnetID.NotFound"
    # Names are per region: the same key pair and security group name in both.
    for ec2 in (eu, us):
        ec2.create_key_pair(KeyName="deployer")
        ec2.create_security_group(GroupName="web", Description="web")
    assert error_of(lambda: eu.create_key_pair(KeyName="deployer"))[0] == "InvalidKeyPair.Duplicate"
    # A subnet in us-west-1a (refused before regions existed).
    west1 = client(daemon, "ec2", "us-west-1")
    west_vpc, _ = default_network(west1)
    made = west1.create_subnet(VpcId=west1.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"],
                               CidrBlock="10.1.0.0/24", AvailabilityZone="us-west-1a")["Subnet"]
    assert made["AvailabilityZone"] == "us-west-1a"
    west_ids = {s["AvailabilityZone"]: s["AvailabilityZoneId"] for s in default_network(west1)[1]}
    assert west_ids == {"us-west-1a": "usw1-az1", "us-west-1b": "usw1-az3"}


def launch_app(d, ec2, zone):
    inst = ec2.run_instances(ImageId=AL2023, InstanceType="t2.micro", MinCount=1, MaxCount=1, UserData=SETUP,
                             Placement={"AvailabilityZone": zone},
                             SecurityGroupIds=[d.web_group(ec2.meta.region_name)])["Instances"][0]
    ec2.get_waiter("instance_running").wait(InstanceIds=[inst["InstanceId"]],
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    inst = ec2.describe_instances(InstanceIds=[inst["InstanceId"]])["Reservations"][0]["Instances"][0]
    wait_for(f"lab app on {inst['InstanceId']}",
             lambda: http_get(f"http://{inst['PublicIpAddress']}:3000/health")[0] == 200)
    return inst


def load_balancer(d, region, target):
    ec2, elb = client(d, "ec2", region), client(d, "elbv2", region)
    vpc, subnets = default_network(ec2)
    lb = elb.create_load_balancer(Name="web", Subnets=[s["SubnetId"] for s in subnets[:2]],
                                  SecurityGroups=[d.web_group(region)])["LoadBalancers"][0]
    tg = elb.create_target_group(Name="app", Protocol="HTTP", Port=3000, VpcId=vpc, HealthCheckPath="/health",
                                 HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                                 HealthyThresholdCount=2)["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": target}])
    elb.get_waiter("target_in_service").wait(TargetGroupArn=tg["TargetGroupArn"],
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 40})
    return lb, tg


def test_instances_and_load_balancers_in_two_regions(daemon):
    west, eu = client(daemon, "ec2", "us-west-2"), client(daemon, "ec2", "eu-west-1")
    a = launch_app(daemon, west, "us-west-2b")
    b = launch_app(daemon, eu, "eu-west-1c")
    assert a["Placement"]["AvailabilityZone"] == "us-west-2b"
    assert a["PrivateDnsName"].endswith(".us-west-2.compute.internal"), a["PrivateDnsName"]
    assert b["PrivateDnsName"].endswith(".eu-west-1.compute.internal"), b["PrivateDnsName"]
    assert a["PublicIpAddress"] != b["PublicIpAddress"], "one machine's loopback pool, shared"
    assert error_of(lambda: west.describe_instances(InstanceIds=[b["InstanceId"]]))[0] == "InvalidInstanceID.NotFound"
    home = daemon.aws("ec2", "describe-instances")["Reservations"]
    assert home == []
    # The same load balancer name in both regions: two load balancers, each serving its app.
    lb_a, tg_a = load_balancer(daemon, "us-west-2", a["InstanceId"])
    lb_b, tg_b = load_balancer(daemon, "eu-west-1", b["InstanceId"])
    assert lb_a["LoadBalancerArn"].startswith("arn:aws:elasticloadbalancing:us-west-2:")
    assert tg_b["TargetGroupArn"].startswith("arn:aws:elasticloadbalancing:eu-west-1:")
    assert ".us-west-2." in lb_a["DNSName"] and ".eu-west-1." in lb_b["DNSName"]
    assert lb_b["CanonicalHostedZoneId"] == "Z32O12XQLNTSW2"
    for lb, inst in [(lb_a, a), (lb_b, b)]:
        status, body = wait_for(f"{lb['DNSName']} answers",
                                lambda lb=lb: (lambda r: r[:2] if r[0] == 200 else None)(
                                    request(daemon.endpoint, lb["DNSName"])), timeout=20)
        assert inst["InstanceId"] in body, body
    # The aws CLI sees each region's own.
    names = daemon.aws("--region", "eu-west-1", "elbv2", "describe-load-balancers")["LoadBalancers"]
    assert [l["LoadBalancerArn"] for l in names] == [lb_b["LoadBalancerArn"]]
    assert daemon.aws("elbv2", "describe-load-balancers")["LoadBalancers"] == []
    # Auto Scaling's ARNs carry the region too.
    asg = client(daemon, "autoscaling", "eu-west-1")
    eu_ec2 = client(daemon, "ec2", "eu-west-1")
    eu_ec2.create_launch_template(LaunchTemplateName="app", LaunchTemplateData={"ImageId": b["ImageId"],
                                                                                "InstanceType": "t2.micro"})
    asg.create_auto_scaling_group(AutoScalingGroupName="g", MinSize=0, MaxSize=1, DesiredCapacity=0,
                                  LaunchTemplate={"LaunchTemplateName": "app"},
                                  AvailabilityZones=["eu-west-1a"])
    group = asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]
    assert group["AutoScalingGroupARN"].startswith("arn:aws:autoscaling:eu-west-1:")
    assert client(daemon, "autoscaling", "us-east-1").describe_auto_scaling_groups()["AutoScalingGroups"] == []
    # The shoal CLI takes --region, AWS_REGION and AWS_DEFAULT_REGION.
    r = daemon.shoal("--region", "us-west-2", "instances")
    assert r.returncode == 0 and a["InstanceId"] in r.stdout and b["InstanceId"] not in r.stdout, r.stdout
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-1"}
    env.pop("AWS_REGION", None)
    import subprocess
    from harness import SHOAL
    r = subprocess.run([SHOAL, "--endpoint", daemon.endpoint, "instances"], capture_output=True, text=True,
                       env=env, timeout=30)
    assert r.returncode == 0 and b["InstanceId"] in r.stdout and a["InstanceId"] not in r.stdout, r.stdout
    r = daemon.shoal("instances")
    assert r.returncode == 0 and a["InstanceId"] not in r.stdout and b["InstanceId"] not in r.stdout
    # What an instance's processes are told of their region (AWS_REGION, as IMDS would).
    got = json_api(daemon, f"/_shoal/api/instances/{b['InstanceId']}", region="eu-west-1")
    envs = [environ(pid) for pid in got["pids"]]
    assert any(e.get("AWS_REGION") == "eu-west-1" for e in envs), envs
    # The console's region selector: a cookie, then that region's pages.
    status, headers, _ = console_get(daemon, "/console/region?name=eu-west-1")
    assert status in (302, 303) and "shoal_region=eu-west-1" in headers.get("set-cookie", "")
    cookie = headers["set-cookie"].split(";")[0]
    _, _, page = console_get(daemon, "/console/instances", cookie)
    assert b["InstanceId"] in page and a["InstanceId"] not in page
    assert '<option value="eu-west-1" selected>' in page
    _, _, page = console_get(daemon, "/console/instances")
    assert b["InstanceId"] not in page and '<option value="us-east-1" selected>' in page
    assert console_get(daemon, "/console/region?name=moon-base-1")[0] == 400


def json_api(d, path, region):
    import json
    import urllib.request
    req = urllib.request.Request(d.endpoint + path, headers={"X-Shoal-Region": region})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return dict(kv.decode(errors="replace").split("=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
    except OSError:
        return {}


def console_get(d, path, cookie=None):
    import http.client
    host, port = d.endpoint.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode(errors="replace")
    finally:
        conn.close()


def test_regions_survive_a_crash_and_restart(daemon):
    eu = client(daemon, "ec2", "eu-west-1")
    vpc = eu.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    default_before, _ = default_network(eu)
    inst = launch_app(daemon, eu, "eu-west-1b")
    assert (Path(daemon.data_dir) / "regions" / "eu-west-1" / "state.db").exists()
    assert (Path(daemon.data_dir) / "state.db").exists(), "us-east-1 keeps the data dir's state.db"
    daemon.kill9()
    daemon.start()
    eu = client(daemon, "ec2", "eu-west-1")
    assert vpc in [v["VpcId"] for v in eu.describe_vpcs()["Vpcs"]]
    assert default_network(eu)[0] == default_before
    # The region was re-opened at start: its instance is re-adopted and still serves.
    got = eu.describe_instances(InstanceIds=[inst["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert got["State"]["Name"] == "running"
    # Bounded: until this region's first VPC pass after the restart re-links its VPC, the
    # public-address table may lack its instances (a known gap, in the notes).
    wait_for("the re-adopted instance serving at its public address",
             lambda: http_get(f"http://{inst['PublicIpAddress']}:3000/health")[0] == 200, timeout=15)
    assert "eu-west-1" in daemon.api("/_shoal/health")["regions"]
    assert vpc not in [v["VpcId"] for v in client(daemon, "ec2", "us-east-1").describe_vpcs()["Vpcs"]]


def test_a_region_aws_does_not_have_is_refused_as_aws_does(daemon):
    code, message = error_of(lambda: client(daemon, "ec2", "moon-base-1").describe_vpcs())
    assert (code, message) == ("AuthFailure", "Credential should be scoped to a valid region, not 'moon-base-1'.")
    code, _ = error_of(lambda: client(daemon, "elbv2", "moon-base-1").describe_load_balancers())
    assert code == "SignatureDoesNotMatch"
    code, _ = error_of(lambda: client(daemon, "cloudwatch", "moon-base-1").list_metrics())
    assert code in ("InvalidSignatureException", "SignatureDoesNotMatch")
    assert daemon.aws_error("--region", "us-east-7", "ec2", "describe-vpcs")[0] == "AuthFailure"
    r = daemon.shoal("--region", "moon-base-1", "instances")
    assert r.returncode != 0 and "valid region" in r.stderr, r.stderr
    # Nothing was made for it.
    assert not (Path(daemon.data_dir) / "regions" / "moon-base-1").exists()


def test_terraform_in_another_region(daemon, tmp_path):
    """The hashicorp/aws provider configured for eu-west-2 (without skip_region_validation)
    applies, shows no drift and destroys, all in eu-west-2's own world."""
    import test_terraform as tf_suite
    if tf_suite.TERRAFORM is None or tf_suite.MIRROR is None:
        pytest.skip("needs `terraform` on PATH and a provider mirror (see test_terraform.py)")
    tf = tf_suite.Terraform(daemon, tf_suite.CONFIGS / "region", tmp_path)
    tf.run("init", "-input=false")
    tf.run("apply", "-auto-approve", "-input=false")
    assert tf.output("zones") == "eu-west-2a,eu-west-2b,eu-west-2c"
    assert tf.output("subnet_arn").startswith("arn:aws:ec2:eu-west-2:")
    assert tf.output("private_dns").endswith(".eu-west-2.compute.internal")
    eu = client(daemon, "ec2", "eu-west-2")
    assert tf.output("default_vpc_id") == default_network(eu)[0]
    instance_id = tf.output("instance_id")
    got = eu.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert got["Placement"]["AvailabilityZone"] == "eu-west-2b"
    assert daemon.aws("ec2", "describe-instances")["Reservations"] == []
    plan = tf.run("plan", "-detailed-exitcode", "-input=false", ok=(0, 2))
    assert plan.returncode == 0, f"a second plan wants changes (drift):\n{plan.stdout[-8000:]}"
    tf.run("destroy", "-auto-approve", "-input=false")
    assert [v["VpcId"] for v in eu.describe_vpcs()["Vpcs"]] == [default_network(eu)[0]]


def test_signed_requests_in_another_region():
    """With signatures required, a request signed for eu-west-1 is verified over its own
    scope and served by eu-west-1; a wrong secret is still refused."""
    from harness import Daemon
    from test_auth import issued_key
    d = Daemon("--require-signatures")
    try:
        key, secret = issued_key(d)
        eu = d.watch(boto3.client("ec2", endpoint_url=d.endpoint, region_name="eu-west-1",
                                  aws_access_key_id=key, aws_secret_access_key=secret))
        assert {s["AvailabilityZone"] for s in default_network(eu)[1]} == {"eu-west-1a", "eu-west-1b", "eu-west-1c"}
        wrong = d.watch(boto3.client("ec2", endpoint_url=d.endpoint, region_name="eu-west-1",
                                     aws_access_key_id=key, aws_secret_access_key="not-the-secret"))
        assert error_of(wrong.describe_vpcs)[0] in ("AuthFailure", "SignatureDoesNotMatch")
    finally:
        d.close()


def post_with_host(d, host, body, headers=None):
    """(status, body) of a POST to the daemon's loopback address under another Host name,
    as a client configured with an endpoint like http://ec2.eu-west-1.localhost:4566 sends it."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlparse(d.endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("POST", "/", body=body, headers={
            "Host": host, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})})
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def test_the_region_from_the_endpoint_host(daemon):
    import re
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    body = "Action=DescribeAvailabilityZones&Version=2016-11-15"
    port = daemon.endpoint.rsplit(":", 1)[1]
    zones = lambda text: re.findall(r"<zoneName>(.*?)</zoneName>", text)  # noqa: E731
    # Unsigned: the region the Host names, in each of AWS's styles.
    for host, region in [(f"ec2.eu-west-1.localhost:{port}", "eu-west-1"),
                         (f"ap-south-1.localhost:{port}", "ap-south-1"),
                         (f"localhost:{port}", "us-east-1"), (f"my-app-1.localhost:{port}", "us-east-1")]:
        status, text = post_with_host(daemon, host, body)
        assert status == 200, text
        assert zones(text) and all(z[:-1] == region for z in zones(text)), (host, text)
    status, text = post_with_host(daemon, f"ec2.eu-west-1.localhost:{port}", body)
    assert zones(text) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert "<zoneId>euw1-az1</zoneId>" in text
    # Signed for us-west-2 at the eu-west-1 host name: the signature's scope wins.
    req = AWSRequest(method="POST", url=f"http://ec2.eu-west-1.localhost:{port}/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials("test", "test"), "ec2", "us-west-2").add_auth(req)
    status, text = post_with_host(daemon, f"ec2.eu-west-1.localhost:{port}", body,
                                  {k: v for k, v in req.headers.items() if k.lower() != "host"})
    assert status == 200 and zones(text) == ["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"], text
