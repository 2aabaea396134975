"""The Instance Metadata Service at 169.254.169.254 inside instances of a VPC network
(`--isolation container --network vpc`), driven with `curl` inside instances as AWS's
documentation does; and ssh with the launch's key pair from the host.

Network safety: metadata requests are made inside the instances' own namespaces, to the
address Shoal put on their `lo` (checked with `ip route get` there first); ssh goes to
the instances' public addresses, on the host's loopback.

Skipped, saying why, where the host cannot run containers or make network namespaces.
"""
import json
import shutil
import subprocess

import pytest

from harness import wait_for
# The VPC network tests' daemon: it also checks the host's addresses and routes never change.
from test_vpc_network import daemon, why_no_vpc_network  # noqa: F401 (a fixture)

REASON = why_no_vpc_network() or (None if shutil.which("ssh") else "no ssh client")
if REASON:
    print(f"test_imds: skipped: {REASON}")
needs_vpc_network = pytest.mark.skipif(REASON is not None, reason=REASON or "")

IMDS = "http://169.254.169.254"


def sh(daemon, iid, script, ok=True):
    """Runs `script` with sh inside the instance (`shoal ssh`), as root."""
    r = daemon.shoal("ssh", iid, "--", "sh", "-c", script)
    if ok:
        assert r.returncode == 0, f"{script!r} in {iid}: {r.stderr}"
    return r


def curl(daemon, iid, path, *args):
    """`curl` inside the instance: (HTTP status, body); status 0 when nothing answered."""
    quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in args)
    r = sh(daemon, iid, f"curl -s -m 5 -w '\\n%{{http_code}}' {quoted} '{IMDS}{path}'", ok=False)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def token(daemon, iid, ttl="21600"):
    code, body = curl(daemon, iid, "/latest/api/token", "-X", "PUT",
                      "-H", f"X-aws-ec2-metadata-token-ttl-seconds: {ttl}")
    assert code == 200, (code, body)
    return body


def get(daemon, iid, path, tok):
    return curl(daemon, iid, path, "-H", f"X-aws-ec2-metadata-token: {tok}")


def launch(daemon, *args, count=1):
    ids = [i["InstanceId"] for i in daemon.aws(
        "ec2", "run-instances", "--image-id", daemon.base_image(), "--instance-type", "t2.micro",
        "--count", str(count), *args)["Instances"]]
    for iid in ids:
        daemon.wait_state(iid, "running")
        # The address is the instance's own (on its lo), as the kernel there says.
        route = sh(daemon, iid, "ip route get 169.254.169.254").stdout
        assert route.startswith("local 169.254.169.254 dev lo"), route
        wait_for(f"{iid}'s metadata service", lambda: curl(daemon, iid, "/")[0] != 0, timeout=15)
    return ids


def ssh_group(daemon):
    """The seed's `ssh` group (22 from anywhere): security groups are enforced, so the
    host's ssh reaches an instance only through a group that admits it."""
    found = daemon.aws("ec2", "describe-security-groups", "--filters", "Name=group-name,Values=imds-ssh")
    if found["SecurityGroups"]:
        return found["SecurityGroups"][0]["GroupId"]
    group = daemon.aws("ec2", "create-security-group", "--group-name", "imds-ssh",
                       "--description", "ssh from anywhere")["GroupId"]
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", group, "--protocol", "tcp",
               "--port", "22", "--cidr", "0.0.0.0/0")
    return group


def terminate(daemon, *ids):
    daemon.aws("ec2", "terminate-instances", "--instance-ids", *ids)


@needs_vpc_network
def test_imdsv2_token_flow_and_what_an_instance_learns(daemon):
    user_data = "#!/bin/sh\necho hello from user data\n"
    [iid] = launch(daemon, "--user-data", user_data)
    inst = daemon.instance(iid)
    # Tokens are required by default (Amazon Linux 2023's ImdsSupport v2.0): v1 is refused.
    assert inst["MetadataOptions"]["HttpTokens"] == "required"
    code, body = curl(daemon, iid, "/latest/meta-data/instance-id")
    assert code == 401 and "401 - Unauthorized" in body, (code, body)
    # The token request, with AWS's checks on it.
    r = sh(daemon, iid, f"curl -s -D - -o /dev/null -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' {IMDS}/latest/api/token")
    assert "x-aws-ec2-metadata-token-ttl-seconds: 60" in r.stdout.lower(), r.stdout
    for bad in ("0", "21601", "soon"):
        assert curl(daemon, iid, "/latest/api/token", "-X", "PUT", "-H",
                    f"X-aws-ec2-metadata-token-ttl-seconds: {bad}")[0] == 400
    assert curl(daemon, iid, "/latest/api/token", "-X", "PUT")[0] == 400
    assert curl(daemon, iid, "/latest/api/token", "-X", "PUT", "-H", "X-Forwarded-For: 10.0.0.1",
                "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60")[0] == 403
    assert curl(daemon, iid, "/latest/api/token")[0] == 405
    tok = token(daemon, iid)
    assert get(daemon, iid, "/latest/meta-data/instance-id", "not-a-token")[0] == 401

    def value(path):
        code, body = get(daemon, iid, path, tok)
        assert code == 200, (path, code, body)
        return body

    assert value("/latest/meta-data/instance-id") == iid
    assert value("/latest/meta-data/ami-id") == inst["ImageId"]
    assert value("/latest/meta-data/instance-type") == "t2.micro"
    assert value("/latest/meta-data/local-ipv4") == inst["PrivateIpAddress"]
    assert value("/latest/meta-data/public-ipv4") == inst["PublicIpAddress"]
    assert value("/latest/meta-data/local-hostname") == inst["PrivateDnsName"]
    assert value("/latest/meta-data/hostname") == inst["PrivateDnsName"]
    assert value("/latest/meta-data/placement/availability-zone") == inst["Placement"]["AvailabilityZone"]
    assert value("/latest/meta-data/placement/region") == "us-east-1"
    # botocore's region lookup asks with a trailing slash.
    assert value("/latest/meta-data/placement/availability-zone/") == inst["Placement"]["AvailabilityZone"]
    assert value("/latest/meta-data/reservation-id") == daemon.aws(
        "ec2", "describe-instances", "--instance-ids", iid)["Reservations"][0]["ReservationId"]
    groups = [g["GroupName"] for g in inst["SecurityGroups"]]
    assert value("/latest/meta-data/security-groups").split("\n") == groups
    # Listings: one name a line, directories with a slash, sorted, no trailing newline.
    listing = value("/latest/meta-data/").split("\n")
    for name in ("ami-id", "instance-id", "local-ipv4", "mac", "network/", "placement/", "public-ipv4"):
        assert name in listing, listing
    assert listing == sorted(listing)
    assert "tags/" not in listing and "autoscaling/" not in listing
    assert value("/latest/meta-data/placement") == value("/latest/meta-data/placement/")
    assert value("/latest/").split("\n") == ["dynamic/", "meta-data/", "user-data"]
    assert "latest" in value("/").split("\n")
    # The interface, by its MAC, as DescribeNetworkInterfaces tells it.
    mac = value("/latest/meta-data/mac")
    eni = daemon.aws("ec2", "describe-network-interfaces", "--filters",
                     f"Name=attachment.instance-id,Values={iid}")["NetworkInterfaces"][0]
    assert mac == eni["MacAddress"]
    assert value("/latest/meta-data/network/interfaces/macs/") == mac + "/"
    base = f"/latest/meta-data/network/interfaces/macs/{mac}"
    assert value(f"{base}/local-ipv4s") == inst["PrivateIpAddress"]
    assert value(f"{base}/interface-id") == eni["NetworkInterfaceId"]
    assert value(f"{base}/subnet-id") == inst["SubnetId"]
    assert value(f"{base}/vpc-id") == inst["VpcId"]
    assert value(f"{base}/security-group-ids").split("\n") == [g["GroupId"] for g in inst["SecurityGroups"]]
    doc = json.loads(value("/latest/dynamic/instance-identity/document"))
    assert (doc["instanceId"], doc["imageId"], doc["region"], doc["privateIp"], doc["instanceType"]) == \
        (iid, inst["ImageId"], "us-east-1", inst["PrivateIpAddress"], "t2.micro")
    assert doc["availabilityZone"] == inst["Placement"]["AvailabilityZone"]
    assert value("/latest/user-data") == user_data
    assert get(daemon, iid, "/latest/meta-data/no-such-thing", tok)[0] == 404
    assert get(daemon, iid, "/2009-13-45/meta-data/", tok)[0] == 404
    assert get(daemon, iid, "/latest/meta-data/tags/instance/", tok)[0] == 404
    # Root inside cannot take the address away (the namespace is not its user namespace's).
    assert sh(daemon, iid, "ip addr del 169.254.169.254/32 dev lo", ok=False).returncode != 0
    assert get(daemon, iid, "/latest/meta-data/instance-id", tok) == (200, iid)
    terminate(daemon, iid)


@needs_vpc_network
def test_each_instance_sees_only_itself(daemon):
    a, b = launch(daemon, count=2)
    for iid in (a, b):
        tok = token(daemon, iid)
        assert get(daemon, iid, "/latest/meta-data/instance-id", tok) == (200, iid)
    # A token is only good at the service that issued it.
    assert get(daemon, b, "/latest/meta-data/instance-id", token(daemon, a))[0] == 401
    terminate(daemon, a, b)


@needs_vpc_network
def test_metadata_options_at_launch_and_modified(daemon):
    [iid] = launch(daemon, "--metadata-options", "HttpTokens=optional,InstanceMetadataTags=enabled",
                   "--tag-specifications",
                   "ResourceType=instance,Tags=[{Key=Name,Value=imds-test},{Key=team,Value=blue}]")
    # IMDSv1 allowed: no token needed.
    assert curl(daemon, iid, "/latest/meta-data/instance-id") == (200, iid)
    assert curl(daemon, iid, "/latest/meta-data/tags/instance/") == (200, "Name\nteam")
    assert curl(daemon, iid, "/latest/meta-data/tags/instance/team") == (200, "blue")
    # A v2 request with a bad token is refused even so.
    assert get(daemon, iid, "/latest/meta-data/instance-id", "forged")[0] == 401

    def modify(*opts):
        out = daemon.aws("ec2", "modify-instance-metadata-options", "--instance-id", iid, *opts)
        assert out["InstanceId"] == iid
        return out["InstanceMetadataOptions"]

    assert modify("--http-tokens", "required")["HttpTokens"] == "required"
    wait_for("v1 refused", lambda: curl(daemon, iid, "/latest/meta-data/instance-id")[0] == 401, timeout=10)
    assert get(daemon, iid, "/latest/meta-data/instance-id", token(daemon, iid)) == (200, iid)
    modify("--instance-metadata-tags", "disabled")
    wait_for("tags gone", lambda: get(daemon, iid, "/latest/meta-data/tags/instance/",
                                      token(daemon, iid))[0] == 404, timeout=10)
    # Disabled: nothing answers at all (curl's exit code 7, connection refused).
    assert modify("--http-endpoint", "disabled")["HttpEndpoint"] == "disabled"
    refused = lambda: sh(daemon, iid, f"curl -s -m 5 {IMDS}/", ok=False).returncode == 7
    wait_for("connections refused", refused, timeout=10)
    assert curl(daemon, iid, "/latest/api/token", "-X", "PUT", "-H",
                "X-aws-ec2-metadata-token-ttl-seconds: 5")[0] == 0
    modify("--http-endpoint", "enabled")
    wait_for("endpoint back", lambda: curl(daemon, iid, "/")[0] == 401, timeout=10)
    assert get(daemon, iid, "/latest/meta-data/instance-id", token(daemon, iid)) == (200, iid)
    # Bad input is refused with EC2's error and changes nothing.
    code, _ = daemon.aws_error("ec2", "modify-instance-metadata-options", "--instance-id", iid,
                               "--http-tokens", "sometimes")
    assert code == "InvalidParameterValue"
    assert daemon.instance(iid)["MetadataOptions"]["HttpTokens"] == "required"
    terminate(daemon, iid)


@needs_vpc_network
def test_auto_scaling_target_lifecycle_state(daemon):
    daemon.aws("ec2", "create-launch-template", "--launch-template-name", "imds-lt",
               "--launch-template-data", json.dumps({"ImageId": daemon.base_image(),
                                                     "InstanceType": "t2.micro"}))
    zone = daemon.aws("ec2", "describe-availability-zones")["AvailabilityZones"][0]["ZoneName"]
    daemon.aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "imds-asg",
               "--launch-template", "LaunchTemplateName=imds-lt", "--min-size", "1", "--max-size", "1",
               "--availability-zones", zone)
    try:
        def member():
            g = daemon.aws("autoscaling", "describe-auto-scaling-groups",
                           "--auto-scaling-group-names", "imds-asg")["AutoScalingGroups"][0]
            return g["Instances"][0]["InstanceId"] if g["Instances"] else None
        iid = wait_for("a group member", member, timeout=30)
        daemon.wait_state(iid, "running")
        wait_for("its metadata service", lambda: curl(daemon, iid, "/")[0] != 0, timeout=15)
        path = "/latest/meta-data/autoscaling/target-lifecycle-state"
        wait_for("InService", lambda: get(daemon, iid, path, token(daemon, iid)) == (200, "InService"),
                 timeout=30)
    finally:
        daemon.aws("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", "imds-asg",
                   "--force-delete")


def ssh(key, ip, *cmd):
    return subprocess.run(
        ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "IdentitiesOnly=yes",
         "-o", "LogLevel=ERROR", f"ec2-user@{ip}", *cmd],
        capture_output=True, text=True, timeout=30)


@needs_vpc_network
def test_ssh_with_the_key_pair(daemon, tmp_path):
    made = daemon.aws("ec2", "create-key-pair", "--key-name", "imds-key")
    key = tmp_path / "imds-key.pem"
    key.write_text(made["KeyMaterial"])
    key.chmod(0o600)
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    imported = tmp_path / "imported"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(imported)], check=True)
    daemon.aws("ec2", "import-key-pair", "--key-name", "imds-imported",
               "--public-key-material", "fileb://" + str(imported) + ".pub")
    group = ssh_group(daemon)
    [a] = launch(daemon, "--key-name", "imds-key", "--security-group-ids", group)
    [b] = launch(daemon, "--key-name", "imds-imported", "--security-group-ids", group)
    ip_a, ip_b = (daemon.instance(i)["PublicIpAddress"] for i in (a, b))
    for ip in (ip_a, ip_b):
        assert ip.startswith("127."), ip  # the host reaches instances on its loopback only
    # cloud-init's layout: ec2-user's own .ssh (0700) and authorized_keys (0600).
    stat = sh(daemon, a, "stat -c '%U %a' /home/ec2-user/.ssh /home/ec2-user/.ssh/authorized_keys").stdout
    assert stat.split("\n")[:2] == ["ec2-user 700", "ec2-user 600"], stat
    r = wait_for("ssh with the CreateKeyPair key",
                 lambda: (lambda r: r if r.returncode == 0 else None)(ssh(key, ip_a, "id")), timeout=20)
    assert r.stdout.startswith("uid=1000(ec2-user)"), r.stdout
    assert ssh(key, ip_a, "sudo", "-n", "id", "-u").stdout.strip() == "0"
    assert ssh(other, ip_a, "id").returncode != 0, "a key that is not the instance's gets in"
    assert ssh(imported, ip_a, "id").returncode != 0
    r = wait_for("ssh with the imported key",
                 lambda: (lambda r: r if r.returncode == 0 else None)(ssh(imported, ip_b, "hostname")),
                 timeout=20)
    assert ssh(key, ip_b, "id").returncode != 0
    # Each instance made its own host keys on its first boot.
    prints = [sh(daemon, i, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").stdout for i in (a, b)]
    assert prints[0] != prints[1], prints
    # The key pair is in the metadata too, as EC2 serves it.
    tok = token(daemon, a)
    assert get(daemon, a, "/latest/meta-data/public-keys/", tok) == (200, "0=imds-key")
    code, body = get(daemon, a, "/latest/meta-data/public-keys/0/openssh-key", tok)
    assert code == 200 and body.startswith("ssh-rsa "), body
    # shoal ssh needs no key.
    assert sh(daemon, a, "id -un").stdout.strip() == "root"
    terminate(daemon, a, b)


@needs_vpc_network
def test_metadata_and_ssh_survive_a_reboot_and_a_daemon_restart(daemon, tmp_path):
    made = daemon.aws("ec2", "create-key-pair", "--key-name", "imds-reboot-key")
    key = tmp_path / "k.pem"
    key.write_text(made["KeyMaterial"])
    key.chmod(0o600)
    [iid] = launch(daemon, "--key-name", "imds-reboot-key", "--security-group-ids", ssh_group(daemon))
    ip = daemon.instance(iid)["PublicIpAddress"]
    ssh_ok = lambda: ssh(key, ip, "id", "-un").stdout.strip() == "ec2-user"  # noqa: E731
    wait_for("ssh", ssh_ok, timeout=20)
    # Read once sshd answers: the first boot makes the host keys (`ssh-keygen -A`) after
    # the instance is `running`.
    host_key = sh(daemon, iid, "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout
    # A reboot makes the instance a new namespace: the service listens in the new one; the
    # key and host keys are the first boot's (later boots only start sshd).
    boots = sh(daemon, iid, "cat /proc/1/stat").stdout.split()[21]
    daemon.aws("ec2", "reboot-instances", "--instance-ids", iid)
    wait_for("the reboot", lambda: sh(daemon, iid, "cat /proc/1/stat", ok=False).stdout.split()[21:22]
             not in ([], [boots]), timeout=30)
    wait_for("metadata after the reboot",
             lambda: get(daemon, iid, "/latest/meta-data/instance-id", token(daemon, iid)) == (200, iid),
             timeout=15)
    wait_for("ssh after the reboot", ssh_ok, timeout=20)
    assert sh(daemon, iid, "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout == host_key
    # A daemon crash and restart: the re-adopted instance gets its metadata service back.
    daemon.kill9()
    daemon.start()
    wait_for("metadata after the restart",
             lambda: get(daemon, iid, "/latest/meta-data/instance-id", token(daemon, iid)) == (200, iid),
             timeout=20)
    wait_for("ssh after the restart", ssh_ok, timeout=20)
    terminate(daemon, iid)
