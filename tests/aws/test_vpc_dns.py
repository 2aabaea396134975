"""The VPC's DNS resolver (AmazonProvidedDNS) at the VPC's base + 2 (172.31.0.2 in the
default VPC): instances' /etc/resolv.conf name it with the region's search domain; it
answers the private DNS names of the VPC's instances (`ip-172-31-x-y.ec2.internal`, and
the short `ip-172-31-x-y` through the search domain), their reverse names, NXDOMAIN for
unknown names of its zone, and refuses every other zone (nothing is forwarded). Another
VPC's instances are not in its zone. The DNS names of the VPC's load balancers answer
their interfaces' private addresses (until the load balancer is deleted).

Network safety: queries go only from inside instance namespaces Shoal made to the
resolver's address, which the kernel there routes over the VPC's bridge (checked with
`ip route get` first).

Skipped, saying why, where the host cannot run containers or make network namespaces.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import wait_for
from test_vpc_network import daemon, why_no_vpc_network  # noqa: F401 (a fixture)

REASON = why_no_vpc_network() or (None if shutil.which("ssh") else "no ssh client")
if REASON:
    print(f"test_vpc_dns: skipped: {REASON}")
needs_vpc_network = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def sh(daemon, iid, script):
    """Runs `script` with sh inside the instance (`shoal ssh`): (exit code, stdout)."""
    r = daemon.shoal("ssh", iid, "--", "sh", "-c", script)
    return r.returncode, r.stdout


def launch(daemon, *args):
    iid = daemon.aws("ec2", "run-instances", "--image-id", daemon.base_image(),
                     "--instance-type", "t2.micro", *args)["Instances"][0]["InstanceId"]
    daemon.wait_state(iid, "running")
    wait_for(f"{iid}'s resolv.conf", lambda: "nameserver" in sh(daemon, iid, "cat /etc/resolv.conf")[1],
             timeout=30)
    return iid


def getent(daemon, iid, name):
    """`getent hosts <name>` inside the instance: (exit code, [address, names...])."""
    code, out = sh(daemon, iid, f"getent hosts {name}")
    return code, out.split()


def two_vpcs(daemon, prefix):
    """An instance in a new VPC `<prefix>.0.0/16` and one in the default VPC."""
    vpc = daemon.aws("ec2", "create-vpc", "--cidr-block", f"{prefix}.0.0/16")["Vpc"]["VpcId"]
    subnet = daemon.aws("ec2", "create-subnet", "--vpc-id", vpc,
                        "--cidr-block", f"{prefix}.1.0/24")["Subnet"]["SubnetId"]
    return launch(daemon, "--subnet-id", subnet), launch(daemon)


def resolver_routed(daemon, iid, resolver):
    code, route = sh(daemon, iid, f"ip route get {resolver}")
    assert code == 0 and " dev eth0 " in route and not route.startswith("local"), route


@needs_vpc_network
def test_instances_resolve_each_other_by_private_name_and_address(daemon):
    a = launch(daemon)
    # A group with no egress rule at all: the resolver is still reachable, as on AWS.
    vpc = daemon.instance(a)["VpcId"]
    closed = daemon.aws("ec2", "create-security-group", "--group-name", "dns-closed",
                        "--description", "no egress", "--vpc-id", vpc)["GroupId"]
    daemon.aws("ec2", "revoke-security-group-egress", "--group-id", closed,
               "--ip-permissions", "IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}]")
    b = launch(daemon, "--security-group-ids", closed)
    ia, ib = daemon.instance(a), daemon.instance(b)
    assert ia["PrivateDnsName"].endswith(".ec2.internal"), ia["PrivateDnsName"]

    code, conf = sh(daemon, b, "cat /etc/resolv.conf")
    assert "nameserver 172.31.0.2" in conf.splitlines(), conf
    assert "search ec2.internal" in conf.splitlines(), conf
    # The operator's view: the resolver listens in the VPC's router namespace.
    router = Path(daemon.data_dir) / "vpcnet" / vpc / "router"
    listening = subprocess.run(["nsenter", f"--net={router}", "ss", "-lun"],
                               capture_output=True, text=True, check=True).stdout
    assert "172.31.0.2:53" in listening, listening
    resolver_routed(daemon, b, "172.31.0.2")

    # b (no egress allowed) resolves a's full and short names, and a's address back.
    code, words = getent(daemon, b, ia["PrivateDnsName"])
    assert (code, words[:2]) == (0, [ia["PrivateIpAddress"], ia["PrivateDnsName"]]), words
    short = ia["PrivateDnsName"].split(".")[0]
    code, words = getent(daemon, b, short)
    assert code == 0 and words[0] == ia["PrivateIpAddress"], words
    code, words = getent(daemon, b, ia["PrivateIpAddress"])
    assert (code, words[:2]) == (0, [ia["PrivateIpAddress"], ia["PrivateDnsName"]]), words
    # And a resolves b (uppercase too: names are case-insensitive).
    code, words = getent(daemon, a, ib["PrivateDnsName"].upper())
    assert code == 0 and words[0] == ib["PrivateIpAddress"], words

    # Unknown names fail: one of the zone (NXDOMAIN), one outside it (refused, never
    # forwarded).
    assert getent(daemon, b, "ip-172-31-250-250.ec2.internal")[0] == 2
    assert getent(daemon, b, "example.com")[0] == 2
    # python3's resolver agrees with getent.
    code, out = sh(daemon, b, "python3 -c \"import socket; print(socket.gethostbyname('%s'))\""
                   % ia["PrivateDnsName"])
    assert (code, out.strip()) == (0, ia["PrivateIpAddress"]), out

    # Terminated, a's name is gone from the zone.
    daemon.aws("ec2", "terminate-instances", "--instance-ids", a)
    daemon.wait_state(a, "terminated")
    assert getent(daemon, b, ia["PrivateDnsName"])[0] == 2
    daemon.aws("ec2", "terminate-instances", "--instance-ids", b)
    daemon.wait_state(b, "terminated")
    daemon.aws("ec2", "delete-security-group", "--group-id", closed)


@needs_vpc_network
def test_another_vpc_has_its_own_resolver_and_zone(daemon):
    other, mine = two_vpcs(daemon, "10.7")
    io, im = daemon.instance(other), daemon.instance(mine)
    code, conf = sh(daemon, other, "cat /etc/resolv.conf")
    assert "nameserver 10.7.0.2" in conf.splitlines(), conf
    # 10.7.0.2 is in no subnet of that VPC: the instance reaches it through its router.
    code, route = sh(daemon, other, "ip route get 10.7.0.2")
    assert "via 10.7.1.1 dev eth0" in route, route
    code, words = getent(daemon, other, io["PrivateDnsName"])
    assert code == 0 and words[0] == io["PrivateIpAddress"], words
    # Neither VPC's resolver answers the other's instances.
    assert getent(daemon, other, im["PrivateDnsName"])[0] == 2
    assert getent(daemon, mine, io["PrivateDnsName"])[0] == 2
    daemon.aws("ec2", "terminate-instances", "--instance-ids", other, mine)
    for iid in (other, mine):
        daemon.wait_state(iid, "terminated")


@needs_vpc_network
def test_a_load_balancers_name_answers_its_interface_addresses_in_its_vpc(daemon):
    other, mine = two_vpcs(daemon, "10.8")
    default_vpc = daemon.instance(mine)["VpcId"]
    subnets = [s["SubnetId"] for s in daemon.aws("ec2", "describe-subnets", "--filters",
                                                   f"Name=vpc-id,Values={default_vpc}")["Subnets"]][:2]
    lb = daemon.aws("elbv2", "create-load-balancer", "--name", "dns-lb",
                    "--subnets", *subnets)["LoadBalancers"][0]
    name = lb["DNSName"]
    description = "ELB " + lb["LoadBalancerArn"].split(":loadbalancer/")[1]
    enis = daemon.aws("ec2", "describe-network-interfaces", "--filters",
                      f"Name=description,Values={description}")["NetworkInterfaces"]
    wanted = sorted(e["PrivateIpAddress"] for e in enis)
    assert len(wanted) == 2, enis

    code, out = sh(daemon, mine, f"getent hosts {name}")
    got = sorted(line.split()[0] for line in out.splitlines())
    assert (code, got) == (0, wanted), out
    # Another VPC's resolver does not answer it (its instances would reach the load
    # balancer only through a peering Shoal does not have).
    assert getent(daemon, other, name)[0] == 2

    # Deleted, the name is gone.
    daemon.aws("elbv2", "delete-load-balancer", "--load-balancer-arn", lb["LoadBalancerArn"])
    wait_for(f"{name} gone", lambda: getent(daemon, mine, name)[0] == 2, timeout=15)
    daemon.aws("ec2", "terminate-instances", "--instance-ids", other, mine)
    for iid in (other, mine):
        daemon.wait_state(iid, "terminated")
