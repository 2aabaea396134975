"""AWS's catalogs through the aws CLI and boto3: every instance type with its figures
(DescribeInstanceTypes, DescribeInstanceTypeOfferings), previous-generation types at
launch, Amazon's public images found as Terraform's `aws_ami` searches them, and every
`/aws/service/ami-amazon-linux-latest/*` SSM parameter resolving to an image of the
matching architecture."""
import gzip
import json
import pathlib

import botocore
import pytest
from botocore.exceptions import ClientError

from harness import Daemon

LATEST = "/aws/service/ami-amazon-linux-latest"


@pytest.fixture(scope="module")
def daemon():
    d = Daemon()
    try:
        yield d
    finally:
        d.close()


def botocore_instance_types():
    model = pathlib.Path(botocore.__file__).parent / "data/ec2/2016-11-15/service-2.json.gz"
    return json.loads(gzip.open(model).read())["shapes"]["InstanceType"]["enum"]


def code(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_every_instance_type_in_botocores_model(daemon):
    # The aws CLI follows NextToken through every page of 100.
    types = daemon.aws("ec2", "describe-instance-types")["InstanceTypes"]
    names = [t["InstanceType"] for t in types]
    assert len(names) == len(set(names))
    assert set(names) == set(botocore_instance_types())
    by_name = {t["InstanceType"]: t for t in types}
    t3 = by_name["t3.micro"]
    assert (t3["VCpuInfo"]["DefaultVCpus"], t3["MemoryInfo"]["SizeInMiB"]) == (2, 1024)
    assert t3["BurstablePerformanceSupported"] and t3["FreeTierEligible"] and t3["CurrentGeneration"]
    assert t3["NetworkInfo"]["NetworkPerformance"] == "Up to 5 Gigabit"
    m1 = by_name["m1.small"]
    assert (m1["VCpuInfo"]["DefaultVCpus"], m1["MemoryInfo"]["SizeInMiB"], m1["CurrentGeneration"]) == (1, 1740, False)
    assert m1["ProcessorInfo"]["SupportedArchitectures"] == ["i386", "x86_64"]
    assert by_name["m7g.large"]["ProcessorInfo"]["SupportedArchitectures"] == ["arm64"]
    assert by_name["m5.metal"]["BareMetal"] is True and "Hypervisor" not in by_name["m5.metal"]


def test_describe_instance_types_filters_and_pages(daemon):
    ec2 = daemon.boto("ec2")
    page = ec2.describe_instance_types(MaxResults=5)
    assert len(page["InstanceTypes"]) == 5 and page["NextToken"]
    after = ec2.describe_instance_types(MaxResults=5, NextToken=page["NextToken"])
    assert not {t["InstanceType"] for t in page["InstanceTypes"]} & {t["InstanceType"] for t in after["InstanceTypes"]}
    assert "NextToken" not in ec2.describe_instance_types(InstanceTypes=["t2.micro", "m5.large"])

    def names(*filters):
        paginator = ec2.get_paginator("describe_instance_types")
        pages = paginator.paginate(Filters=[{"Name": n, "Values": v} for n, v in filters])
        return sorted(t["InstanceType"] for p in pages for t in p["InstanceTypes"])

    assert names(("instance-type", ["t2.*"])) == sorted(
        f"t2.{s}" for s in ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"])
    assert names(("instance-type", ["t4g.*"]), ("processor-info.supported-architecture", ["x86_64"])) == []
    graviton = names(("processor-info.supported-architecture", ["arm64"]), ("vcpu-info.default-vcpus", ["2"]))
    assert "t4g.micro" in graviton and "m7g.large" in graviton and "m5.large" not in graviton
    previous = names(("current-generation", ["false"]))
    assert "m1.small" in previous and "t1.micro" in previous and "m5.large" not in previous
    assert names(("free-tier-eligible", ["true"])) == ["t2.micro", "t3.micro"]

    assert code(ec2.describe_instance_types, InstanceTypes=["t9.huge"])[0] == "InvalidInstanceType"
    assert code(ec2.describe_instance_types, Filters=[{"Name": "colour", "Values": ["x"]}]) == (
        "InvalidParameterValue", "The filter 'colour' is invalid")
    assert code(ec2.describe_instance_types, MaxResults=500)[0] == "InvalidParameterValue"


def test_instance_type_offerings(daemon):
    ec2 = daemon.boto("ec2")
    region = ec2.describe_instance_type_offerings(Filters=[{"Name": "instance-type", "Values": ["t3.micro"]}])
    assert region["InstanceTypeOfferings"] == [
        {"InstanceType": "t3.micro", "LocationType": "region", "Location": "us-east-1"}]
    zones = daemon.aws("ec2", "describe-instance-type-offerings", "--location-type", "availability-zone",
                       "--filters", "Name=instance-type,Values=m1.small,t2.*", "Name=location,Values=us-east-1b")
    assert sorted(o["InstanceType"] for o in zones["InstanceTypeOfferings"]) == sorted(
        ["m1.small"] + [f"t2.{s}" for s in ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"]])
    assert {o["Location"] for o in zones["InstanceTypeOfferings"]} == {"us-east-1b"}
    ids = ec2.describe_instance_type_offerings(LocationType="availability-zone-id",
                                               Filters=[{"Name": "instance-type", "Values": ["c5.large"]}])
    zone_ids = {z["ZoneId"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    assert {o["Location"] for o in ids["InstanceTypeOfferings"]} == zone_ids
    every = daemon.aws("ec2", "describe-instance-type-offerings")["InstanceTypeOfferings"]
    assert len(every) == len(botocore_instance_types())
    assert code(ec2.describe_instance_type_offerings, Filters=[{"Name": "vcpus", "Values": ["2"]}])[0] == "InvalidParameterValue"


def test_public_images_as_terraform_searches(daemon):
    def search(pattern):
        images = daemon.aws("ec2", "describe-images", "--owners", "amazon",
                            "--filters", f"Name=name,Values={pattern}", "Name=state,Values=available")["Images"]
        return sorted(images, key=lambda i: i["CreationDate"])

    al2023 = search("al2023-ami-2023.*-x86_64")
    assert al2023 and all(i["Architecture"] == "x86_64" and i["OwnerId"] == "137112412989"
                          and i["ImageOwnerAlias"] == "amazon" and i["Public"] for i in al2023)
    assert {i["Name"].rsplit("-kernel-", 1)[1] for i in al2023} == {"6.1-x86_64", "6.12-x86_64"}
    arm = search("al2023-ami-2023.*-arm64")
    assert arm and all(i["Architecture"] == "arm64" for i in arm)
    amzn2 = search("amzn2-ami-hvm-*-x86_64-gp2")
    assert [i["Description"] for i in amzn2] and all(i["Name"].startswith("amzn2-ami-hvm-2.0.") for i in amzn2)
    by_arch = daemon.aws("ec2", "describe-images", "--owners", "amazon",
                         "--filters", "Name=architecture,Values=arm64")["Images"]
    assert by_arch and all(i["Architecture"] == "arm64" for i in by_arch)


def test_ssm_public_parameters(daemon):
    ssm = daemon.boto("ssm")
    every = daemon.aws("ssm", "get-parameters-by-path", "--path", LATEST)["Parameters"]
    names = {p["Name"] for p in every}
    for short in ["al2023-ami-kernel-default-x86_64", "al2023-ami-kernel-default-arm64",
                  "al2023-ami-kernel-6.1-x86_64", "al2023-ami-kernel-6.1-arm64",
                  "al2023-ami-kernel-6.12-x86_64", "al2023-ami-kernel-6.12-arm64",
                  "al2023-ami-minimal-kernel-default-x86_64", "al2023-ami-minimal-kernel-default-arm64",
                  "amzn2-ami-hvm-x86_64-gp2", "amzn2-ami-hvm-arm64-gp2",
                  "amzn2-ami-kernel-5.10-hvm-x86_64-gp2", "amzn2-ami-minimal-hvm-x86_64-ebs"]:
        assert f"{LATEST}/{short}" in names, short
    images = {i["ImageId"]: i for i in daemon.aws("ec2", "describe-images", "--owners", "amazon")["Images"]}
    for p in every:
        image = images[p["Value"]]
        assert image["Architecture"] == ("arm64" if "arm64" in p["Name"] else "x86_64"), p["Name"]
        assert p["DataType"] == "aws:ec2:image" and p["Type"] == "String"
    first = ssm.get_parameters_by_path(Path=LATEST, MaxResults=3)
    assert len(first["Parameters"]) == 3 and first["NextToken"]
    assert ssm.get_parameters_by_path(Path="/aws/service")["Parameters"] == []
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path="/aws/service", Recursive=True)
    assert sorted(p["Name"] for page in pages for p in page["Parameters"]) == sorted(names)

    one = ssm.get_parameter(Name=f"{LATEST}/al2023-ami-kernel-6.1-x86_64")["Parameter"]
    got = ssm.get_parameters(Names=[f"{LATEST}/al2023-ami-kernel-6.1-arm64", f"{LATEST}/no-such"])
    assert got["InvalidParameters"] == [f"{LATEST}/no-such"]
    assert images[one["Value"]]["Name"].endswith("-kernel-6.1-x86_64")
    assert images[got["Parameters"][0]["Value"]]["Architecture"] == "arm64"


def test_launch_by_parameter_type_and_architecture(daemon):
    ec2 = daemon.boto("ec2")
    arm = ec2.run_instances(ImageId=f"resolve:ssm:{LATEST}/al2023-ami-kernel-6.1-arm64", InstanceType="t4g.micro",
                            MinCount=1, MaxCount=1)["Instances"][0]
    assert arm["Architecture"] == "arm64" and arm["InstanceType"] == "t4g.micro"
    old = ec2.run_instances(ImageId=f"resolve:ssm:{LATEST}/amzn2-ami-hvm-x86_64-gp2", InstanceType="m1.small",
                            MinCount=1, MaxCount=1)["Instances"][0]
    assert old["InstanceType"] == "m1.small"
    t1 = daemon.aws("ec2", "run-instances", "--instance-type", "t1.micro", "--image-id",
                    f"resolve:ssm:{LATEST}/amzn2-ami-hvm-x86_64-gp2")["Instances"][0]
    assert t1["InstanceType"] == "t1.micro"
    before = len(ec2.describe_instances()["Reservations"])
    err, message = code(ec2.run_instances, ImageId=f"resolve:ssm:{LATEST}/al2023-ami-kernel-default-arm64",
                        InstanceType="t3.micro", MinCount=1, MaxCount=1)
    assert err == "InvalidParameterValue" and "architecture 'x86_64' of the specified instance type" in message
    assert len(ec2.describe_instances()["Reservations"]) == before, "a refused launch changes nothing"
    ids = [arm["InstanceId"], old["InstanceId"], t1["InstanceId"]]
    daemon.wait_state(old["InstanceId"], "running")
    ec2.terminate_instances(InstanceIds=ids)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def test_public_images_keep_their_ids_across_a_restart():
    d = Daemon()
    try:
        ssm = d.boto("ssm")
        name = f"{LATEST}/al2023-ami-kernel-6.12-arm64"
        before = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        count = len(d.aws("ec2", "describe-images", "--owners", "amazon")["Images"])
        assert d.shoal("down").returncode == 0
        d.proc.wait(timeout=30)
        d.start()
        assert d.boto("ssm").get_parameter(Name=name)["Parameter"]["Value"] == before
        assert len(d.aws("ec2", "describe-images", "--owners", "amazon")["Images"]) == count
    finally:
        d.close()
