"""The same lab steps with boto3, checking every response against botocore's own model:
a field Shoal names wrongly would come back missing."""
import base64

from harness import ROOT, http_get, wait_for

SETUP = (ROOT / "examples" / "lab" / "setup.sh").read_text()


def members(client, operation):
    return client.meta.service_model.operation_model(operation).output_shape


def assert_shape(value, shape, path="", required=()):
    """Every key botocore parsed is one its model names, with the right Python type."""
    type_of = {"string": str, "integer": int, "long": int, "boolean": bool, "timestamp": object,
               "structure": dict, "list": list, "map": dict, "double": float, "float": float, "blob": bytes}
    assert isinstance(value, type_of[shape.type_name]), f"{path}: {type(value)} is not {shape.type_name}"
    if shape.type_name == "structure":
        for key, v in value.items():
            if key == "ResponseMetadata":
                continue
            assert key in shape.members, f"{path}.{key} is not in botocore's model"
            assert_shape(v, shape.members[key], f"{path}.{key}")
        for key in required:
            assert key in value, f"{path}: missing {key}"
    elif shape.type_name == "list":
        for i, v in enumerate(value):
            assert_shape(v, shape.member, f"{path}[{i}]")


INSTANCE_FIELDS = ("InstanceId", "ImageId", "State", "PrivateIpAddress", "InstanceType", "LaunchTime",
                   "Placement", "SubnetId", "VpcId", "SecurityGroups", "Architecture", "NetworkInterfaces")


def test_lab_with_boto3(daemon):
    ec2 = daemon.boto("ec2")
    images = ec2.describe_images(Owners=["amazon"])
    assert_shape(images, members(ec2, "DescribeImages"))
    base = [i for i in images["Images"] if i["Name"] == "al2023-ami-shoal-base-kernel-default-x86_64"][0]["ImageId"]
    param = daemon.boto("ssm").get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
    assert param["Parameter"]["Value"] == base

    key = ec2.create_key_pair(KeyName="exercise-key")
    assert key["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    zones = ec2.describe_availability_zones()
    assert_shape(zones, members(ec2, "DescribeAvailabilityZones"))
    assert [(z["ZoneName"], z["ZoneId"]) for z in zones["AvailabilityZones"]] == [
        (f"us-east-1{letter}", f"use1-az{n}") for n, letter in enumerate("abcdef", 1)]

    run = ec2.run_instances(ImageId="resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
                            InstanceType="t2.micro", MinCount=1, MaxCount=1, KeyName="exercise-key",
                            UserData=SETUP, Placement={"AvailabilityZone": "us-east-1b"},
                            SecurityGroupIds=[daemon.web_group()])
    assert_shape(run, members(ec2, "RunInstances"), required=("ReservationId", "OwnerId", "Instances"))
    iid = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    desc = ec2.describe_instances(InstanceIds=[iid])
    assert_shape(desc, members(ec2, "DescribeInstances"))
    inst = desc["Reservations"][0]["Instances"][0]
    assert_shape(inst, members(ec2, "DescribeInstances").members["Reservations"].member.members["Instances"].member, required=INSTANCE_FIELDS)
    assert inst["Placement"]["AvailabilityZone"] == "us-east-1b"
    assert inst["PrivateIpAddress"].startswith("172.31.16.")  # the 1b default subnet
    addr = inst["PublicIpAddress"]
    wait_for("app", lambda: http_get(f"http://{addr}:3000/health")[0] == 200)

    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ami = ec2.create_image(InstanceId=iid, Name="exercise-image")["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[ami], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    lt = ec2.create_launch_template(LaunchTemplateName="exercise-launch-template",
                                    LaunchTemplateData={"ImageId": ami, "InstanceType": "t2.micro", "KeyName": "exercise-key",
                                                        "SecurityGroupIds": [daemon.web_group()]})
    assert_shape(lt, members(ec2, "CreateLaunchTemplate"))
    run2 = ec2.run_instances(LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplate"]["LaunchTemplateId"]}, MinCount=2, MaxCount=2)
    ids = [i["InstanceId"] for i in run2["Instances"]]
    assert [i["AmiLaunchIndex"] for i in run2["Instances"]] == [0, 1]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    for i in ec2.describe_instances(InstanceIds=ids)["Reservations"][0]["Instances"]:
        wait_for("app from template", lambda: "A project" in http_get(f"http://{i['PublicIpAddress']}:3000/")[1])

    # Filters and pagination, as AWS does them.
    running = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
    assert sorted(i["InstanceId"] for r in running["Reservations"] for i in r["Instances"]) == sorted(ids)
    page = ec2.describe_instances(MaxResults=5)
    assert "NextToken" not in page
    seen = [i["InstanceId"] for p in ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5}) for r in p["Reservations"] for i in r["Instances"]]
    assert sorted(seen) == sorted([iid, *ids])

    ec2.create_tags(Resources=[iid], Tags=[{"Key": "Name", "Value": "exercise-instance"}])
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])
    assert_shape(tags, members(ec2, "DescribeTags"))
    assert tags["Tags"] == [{"Key": "Name", "ResourceId": iid, "ResourceType": "instance", "Value": "exercise-instance"}]

    out = ec2.get_console_output(InstanceId=iid)
    assert "running user data" in out["Output"] or "running user data" in base64.b64decode(out["Output"]).decode()
    ec2.terminate_instances(InstanceIds=[iid, *ids])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid, *ids], WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def test_describe_shapes_of_network_resources(daemon):
    ec2 = daemon.boto("ec2")
    for op, call in [("DescribeVpcs", ec2.describe_vpcs), ("DescribeSubnets", ec2.describe_subnets),
                     ("DescribeSecurityGroups", ec2.describe_security_groups), ("DescribeKeyPairs", ec2.describe_key_pairs),
                     ("DescribeInstanceTypes", ec2.describe_instance_types), ("DescribeLaunchTemplates", ec2.describe_launch_templates)]:
        assert_shape(call(), members(ec2, op))
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    assert vpc["CidrBlock"] == "172.31.0.0/16" and vpc["IsDefault"] is True
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    # A default subnet in each of us-east-1's six zones, /20s in zone order.
    assert sorted((s["AvailabilityZone"], s["CidrBlock"]) for s in subnets) == [
        ("us-east-1a", "172.31.0.0/20"), ("us-east-1b", "172.31.16.0/20"), ("us-east-1c", "172.31.32.0/20"),
        ("us-east-1d", "172.31.48.0/20"), ("us-east-1e", "172.31.64.0/20"), ("us-east-1f", "172.31.80.0/20")]
    t2 = ec2.describe_instance_types(InstanceTypes=["t2.micro"])["InstanceTypes"][0]
    assert t2["VCpuInfo"]["DefaultVCpus"] == 1 and t2["MemoryInfo"]["SizeInMiB"] == 1024
