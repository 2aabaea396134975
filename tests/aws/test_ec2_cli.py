"""Part 1's first steps with the aws CLI: an instance from the base image with user data,
its app, stop, CreateImage, a launch template, an instance from the template."""
import base64
from pathlib import Path

import urllib.error
import urllib.request

from harness import ROOT, http_get, wait_for

SETUP = ROOT / "examples" / "lab" / "setup.sh"


def test_instance_image_template_lifecycle(daemon):
    base = daemon.base_image()
    daemon.aws("ec2", "create-key-pair", "--key-name", "exercise-key")
    web = daemon.aws("ec2", "create-security-group", "--group-name", "web", "--description", "HTTP")["GroupId"]
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", web, "--protocol", "tcp", "--port", "3000", "--cidr", "0.0.0.0/0")

    run = daemon.aws("ec2", "run-instances", "--image-id", base, "--instance-type", "t2.micro",
                     "--key-name", "exercise-key", "--security-group-ids", web,
                     "--user-data", f"file://{SETUP}",
                     "--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=exercise-instance}]")
    inst = run["Instances"][0]
    iid = inst["InstanceId"]
    assert inst["State"] == {"Code": 0, "Name": "pending"}
    assert inst["InstanceType"] == "t2.micro" and inst["KeyName"] == "exercise-key"
    assert inst["SecurityGroups"][0]["GroupName"] == "web"

    daemon.wait_state(iid, "running")
    desc = daemon.instance(iid)
    assert desc["State"] == {"Code": 16, "Name": "running"}
    assert desc["PrivateIpAddress"].startswith("172.31.")
    assert desc["Placement"]["AvailabilityZone"].startswith("us-east-1")
    assert {"Key": "Name", "Value": "exercise-instance"} in desc["Tags"]
    addr = desc["PublicIpAddress"]
    assert addr.startswith("127.")
    status, body = wait_for("the app", lambda: (lambda r: r if r[0] == 200 else None)(http_get(f"http://{addr}:3000/")))
    assert "A project" in body and iid in body
    assert http_get(f"http://{addr}:3000/health") == (200, "")

    # The user data really ran, once, inside the instance.
    console = daemon.aws("ec2", "get-console-output", "--instance-id", iid)
    try:
        text = base64.b64decode(console["Output"], validate=True).decode()
    except ValueError:
        text = console["Output"]  # the CLI may decode it already
    assert "user data finished with status 0" in text

    stopped = daemon.aws("ec2", "stop-instances", "--instance-ids", iid)["StoppingInstances"][0]
    assert stopped["PreviousState"]["Name"] == "running" and stopped["CurrentState"]["Name"] == "stopping"
    daemon.wait_state(iid, "stopped")
    assert http_get(f"http://{addr}:3000/health")[0] == 0, "a stopped instance serves nothing"

    ami = daemon.aws("ec2", "create-image", "--instance-id", iid, "--name", "exercise-image")["ImageId"]
    daemon.aws("ec2", "wait", "image-available", "--image-ids", ami)
    img = daemon.aws("ec2", "describe-images", "--image-ids", ami)["Images"][0]
    assert img["Name"] == "exercise-image" and img["State"] == "available" and img["OwnerId"] == "123456789012"

    lt = daemon.aws("ec2", "create-launch-template", "--launch-template-name", "exercise-launch-template",
                    "--launch-template-data", f'{{"ImageId":"{ami}","InstanceType":"t2.micro","KeyName":"exercise-key","SecurityGroupIds":["{web}"]}}')["LaunchTemplate"]
    assert lt["DefaultVersionNumber"] == 1 and lt["LatestVersionNumber"] == 1
    run2 = daemon.aws("ec2", "run-instances", "--launch-template", "LaunchTemplateName=exercise-launch-template,Version=$Default")
    iid2 = run2["Instances"][0]["InstanceId"]
    assert run2["Instances"][0]["ImageId"] == ami
    daemon.wait_state(iid2, "running")
    addr2 = daemon.instance(iid2)["PublicIpAddress"]
    assert addr2 != addr
    status, body = wait_for("the app from the image", lambda: (lambda r: r if r[0] == 200 else None)(http_get(f"http://{addr2}:3000/")))
    assert "A project" in body and iid2 in body, "rc.local started the app at boot of the new instance"

    term = daemon.aws("ec2", "terminate-instances", "--instance-ids", iid, iid2)["TerminatingInstances"]
    assert {t["CurrentState"]["Name"] for t in term} == {"shutting-down"}
    daemon.aws("ec2", "wait", "instance-terminated", "--instance-ids", iid, iid2)
    assert http_get(f"http://{addr2}:3000/health")[0] == 0
    assert not Path(daemon.data_dir, "instances", iid2, "root").exists(), "a terminated instance's disk is deleted"


def test_launch_template_versions(daemon):
    base = daemon.base_image()
    daemon.aws("ec2", "create-launch-template", "--launch-template-name", "exercise-launch-template",
               "--launch-template-data", f'{{"ImageId":"{base}","InstanceType":"t2.micro","KeyName":"k"}}')
    v2 = daemon.aws("ec2", "create-launch-template-version", "--launch-template-name", "exercise-launch-template",
                    "--source-version", "1", "--launch-template-data", '{"ImageId":"ami-00000000000000bbb"}')["LaunchTemplateVersion"]
    assert v2["VersionNumber"] == 2
    assert v2["LaunchTemplateData"] == {"ImageId": "ami-00000000000000bbb", "InstanceType": "t2.micro", "KeyName": "k"}
    versions = daemon.aws("ec2", "describe-launch-template-versions", "--launch-template-name", "exercise-launch-template",
                          "--versions", "$Latest", "$Default")["LaunchTemplateVersions"]
    assert [(v["VersionNumber"], v["DefaultVersion"]) for v in versions] == [(2, False), (1, True)]
    t = daemon.aws("ec2", "modify-launch-template", "--launch-template-name", "exercise-launch-template", "--default-version", "2")["LaunchTemplate"]
    assert t["DefaultVersionNumber"] == 2
    code, _ = daemon.aws_error("ec2", "modify-launch-template", "--launch-template-name", "exercise-launch-template", "--default-version", "7")
    assert code == "InvalidLaunchTemplateId.VersionNotFound"


def test_bad_input_is_refused_and_changes_nothing(daemon):
    base = daemon.base_image()
    before = daemon.aws("ec2", "describe-instances")["Reservations"]
    cases = [
        (("ec2", "describe-instances", "--instance-ids", "i-0123456789abcdef0"), "InvalidInstanceID.NotFound"),
        (("ec2", "describe-instances", "--instance-ids", "i-nope"), "InvalidInstanceID.Malformed"),
        (("ec2", "stop-instances", "--instance-ids", "i-0123456789abcdef0"), "InvalidInstanceID.NotFound"),
        (("ec2", "run-instances", "--image-id", base, "--instance-type", "t9.huge"), "InvalidParameterValue"),
        (("ec2", "run-instances", "--image-id", "ami-0123456789abcdef0"), "InvalidAMIID.NotFound"),
        (("ec2", "run-instances", "--image-id", base, "--key-name", "missing-key"), "InvalidKeyPair.NotFound"),
        (("ec2", "run-instances", "--image-id", base, "--security-group-ids", "sg-0123456789abcdef0"), "InvalidGroup.NotFound"),
        (("ec2", "run-instances", "--launch-template", "LaunchTemplateName=nope"), "InvalidLaunchTemplateName.NotFoundException"),
        (("ec2", "create-vpc", "--cidr-block", "10.0.0/16"), "InvalidParameterValue"),
        (("ec2", "create-vpc", "--cidr-block", "10.0.0.0/8"), "InvalidVpc.Range"),
        (("ec2", "create-launch-template", "--launch-template-name", "bad name!", "--launch-template-data", "{}"), "InvalidLaunchTemplateName.MalformedException"),
        (("ec2", "create-image", "--instance-id", "i-0123456789abcdef0", "--name", "exercise-image"), "InvalidInstanceID.NotFound"),
    ]
    for args, code in cases:
        got, message = daemon.aws_error(*args)
        assert got == code, f"{args}: {got} {message}"
        assert message
    # A missing required parameter, sent raw (the CLI would refuse to send it).
    status, body = post_form(daemon.endpoint, "Action=RunInstances&Version=2016-11-15&ImageId=" + base + "&MaxCount=1")
    assert status == 400 and "<Code>MissingParameter</Code>" in body and "<RequestID>" in body
    daemon.aws("ec2", "create-key-pair", "--key-name", "exercise-key")
    assert daemon.aws_error("ec2", "create-key-pair", "--key-name", "exercise-key")[0] == "InvalidKeyPair.Duplicate"
    vpc = daemon.aws("ec2", "create-vpc", "--cidr-block", "10.0.0.0/16")["Vpc"]["VpcId"]
    daemon.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.0.1.0/24")
    assert daemon.aws_error("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.0.1.0/25")[0] == "InvalidSubnet.Conflict"
    assert daemon.aws_error("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.9.0.0/24")[0] == "InvalidSubnet.Range"
    # Nothing the refused calls named came into being.
    assert daemon.aws("ec2", "describe-instances")["Reservations"] == before
    assert len(daemon.aws("ec2", "describe-key-pairs")["KeyPairs"]) == 1
    assert len(daemon.aws("ec2", "describe-vpcs")["Vpcs"]) == 2
    assert len(daemon.aws("ec2", "describe-subnets", "--filters", f"Name=vpc-id,Values={vpc}")["Subnets"]) == 1
    assert daemon.aws("ec2", "describe-launch-templates")["LaunchTemplates"] == []


def post_form(endpoint, body):
    req = urllib.request.Request(endpoint + "/", data=body.encode(), method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_public_addresses_follow_the_subnet_and_the_interface(daemon):
    """AWS's rule: an instance gets a public address when its interface says
    AssociatePublicIpAddress=true, or says nothing and its subnet maps public addresses
    on launch (default subnets do, new ones not until modify-subnet-attribute)."""
    base = daemon.base_image()
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    subnet = daemon.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "172.31.96.0/20")["Subnet"]
    assert subnet["MapPublicIpOnLaunch"] is False

    def launch(*args):
        iid = daemon.aws("ec2", "run-instances", "--image-id", base, "--instance-type", "t2.micro",
                         *args)["Instances"][0]["InstanceId"]
        daemon.wait_state(iid, "running")
        return iid, daemon.instance(iid)

    private_id, private = launch("--subnet-id", subnet["SubnetId"])
    assert "PublicIpAddress" not in private and private["PrivateIpAddress"].startswith("172.31.")
    assert "Association" not in private["NetworkInterfaces"][0]
    public_id, public = launch("--network-interfaces",
                               f"DeviceIndex=0,SubnetId={subnet['SubnetId']},AssociatePublicIpAddress=true")
    assert public["PublicIpAddress"] == public["NetworkInterfaces"][0]["Association"]["PublicIp"]
    default_id, default = launch("--network-interfaces", "DeviceIndex=0,AssociatePublicIpAddress=false")
    assert "PublicIpAddress" not in default
    # Only the primary interface takes a public address; Shoal makes one interface.
    run = ["ec2", "run-instances", "--image-id", base, "--instance-type", "t2.micro", "--network-interfaces"]
    assert daemon.aws_error(*run, "DeviceIndex=1,AssociatePublicIpAddress=true")[0] == "InvalidParameterCombination"
    assert daemon.aws_error(*run, "DeviceIndex=0", "DeviceIndex=1")[0] == "UnsupportedOperation"
    assert daemon.aws_error("ec2", "modify-subnet-attribute", "--subnet-id", "subnet-0123456789abcdef0",
                           "--map-public-ip-on-launch")[0] == "InvalidSubnetID.NotFound"
    daemon.aws("ec2", "modify-subnet-attribute", "--subnet-id", subnet["SubnetId"], "--map-public-ip-on-launch")
    assert daemon.aws("ec2", "describe-subnets", "--subnet-ids", subnet["SubnetId"])["Subnets"][0]["MapPublicIpOnLaunch"]
    mapped_id, mapped = launch("--subnet-id", subnet["SubnetId"])
    assert mapped["PublicIpAddress"].startswith("127.")
    assert "PublicIpAddress" not in daemon.instance(private_id), "a running instance keeps what it had"
    daemon.aws("ec2", "terminate-instances", "--instance-ids", private_id, public_id, default_id, mapped_id)
    for iid in (private_id, public_id, default_id, mapped_id):
        daemon.wait_state(iid, "terminated")
    daemon.aws("ec2", "delete-subnet", "--subnet-id", subnet["SubnetId"])
