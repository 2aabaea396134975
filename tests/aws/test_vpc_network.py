"""VPC networks (`--network vpc`, container instances): each instance in a network
namespace of its own, `eth0` at its PrivateIpAddress on its VPC's bridge (inside a router
namespace Shoal made under its data dir), a default route via the subnet's .1 and no
other; instances of one VPC reach each other at their private addresses; the load
balancer reaches them from the host; and the host's own addresses and routes never
change.

Network safety: traffic goes only to loopback (the daemon, the load balancer) and, from
inside namespaces Shoal made, to private addresses the kernel there routes over the
VPC's bridge (checked with `ip route get` first). Nothing is sent to a VPC address from
the host's namespace.

Skipped, saying why, where the host cannot run containers or make network namespaces.
"""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import Daemon, http_get, wait_for
from test_isolation import why_not_isolated
from test_seed_literal import LAB_USER_DATA, target_states
from test_seed_part2 import through_lb


def why_no_vpc_network():
    reason = why_not_isolated()
    if reason:
        return reason
    for tool in ("ip", "nsenter", "unshare"):
        if not shutil.which(tool):
            return f"`{tool}` is not installed"
    return None


REASON = why_no_vpc_network()
if REASON:
    print(f"test_vpc_network: skipped: {REASON}")
needs_vpc_network = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def host_network():
    """The host's own addresses and routes (read only)."""
    def show(*args):
        return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout
    return show("-4", "addr"), show("-4", "route"), show("-6", "route")


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p.startswith(path + "/")]


@pytest.fixture(scope="module")
def daemon():
    before = host_network()
    data_dir = tempfile.mkdtemp(prefix="shoal-vpcnet-")
    d = Daemon("--isolation", "container", "--network", "vpc", data_dir=data_dir,
               sweep_namespaces=False)
    try:
        yield d
    finally:
        d.close()
        left = mounts_under(data_dir)
        for point in reversed(left):  # clean up whatever a failure left, then say so
            subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(data_dir, ignore_errors=True)
        assert not left, f"namespaces left mounted after a clean stop: {left}"
        assert host_network() == before, "the host's addresses and routes changed"


def sh(daemon, iid, script):
    """Runs `script` with sh inside the instance (`shoal ssh`), as root."""
    r = daemon.shoal("ssh", iid, "--", "sh", "-c", script)
    assert r.returncode == 0, f"{script!r} in {iid}: {r.stderr}"
    return r.stdout


def launch_lab(daemon, count, groups=()):
    """`count` lab instances (nginx on 3000, the app on 3001), in `groups` if given."""
    extra = ["--security-group-ids", *groups] if groups else []
    ids = [i["InstanceId"] for i in daemon.aws(
        "ec2", "run-instances", "--image-id", daemon.base_image(), "--instance-type", "t2.micro",
        "--count", str(count), "--user-data", LAB_USER_DATA, *extra)["Instances"]]
    for iid in ids:
        daemon.wait_state(iid, "running")
    return ids


def subnet_of(daemon, inst):
    return daemon.aws("ec2", "describe-subnets", "--subnet-ids", inst["SubnetId"])["Subnets"][0]["CidrBlock"]


@needs_vpc_network
def test_the_daemon_says_instances_have_vpc_networks(daemon):
    health = daemon.api("/_shoal/health")
    assert "VPC network namespaces" in health["isolation"]
    assert (health["network_mode"], health["network_fallback"]) == ("vpc", None)


@needs_vpc_network
def test_instances_live_at_their_private_addresses_and_reach_each_other(daemon):
    # The host is the user's internet: a group that admits it (the VPC's default group
    # admits only its members, and the host's clients come from the VPC router).
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    web = new_group(daemon, "web3000", vpc)
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", web, "--protocol", "tcp",
               "--port", "3000", "--cidr", "0.0.0.0/0")
    a, b = launch_lab(daemon, 2, [web])
    insts = {iid: daemon.instance(iid) for iid in (a, b)}
    vpc = insts[a]["VpcId"]
    router = Path(daemon.data_dir) / "vpcnet" / vpc / "router"
    assert os.path.ismount(router), "the VPC's router namespace is a bind mount Shoal made"
    for iid, inst in insts.items():
        ip, cidr = inst["PrivateIpAddress"], subnet_of(daemon, inst)
        net, prefix = cidr.split("/")
        gateway = net.rsplit(".", 1)[0] + "." + str(int(net.rsplit(".", 1)[1]) + 1)
        assert os.path.ismount(Path(daemon.data_dir) / "vpcnet" / vpc / iid)
        addr = sh(daemon, iid, "ip -4 -o addr show dev eth0")
        assert f"inet {ip}/{prefix} " in addr, addr
        routes = sorted(line.split(" proto")[0].strip()
                        for line in sh(daemon, iid, "ip -4 route").strip().splitlines())
        assert routes == sorted([f"default via {gateway} dev eth0", f"{cidr} dev eth0"]), routes
        assert sh(daemon, iid, "hostname").strip() == "ip-" + ip.replace(".", "-")
        # The router holds the subnet's .1 on the VPC's bridge.
        bridge = subprocess.run(["nsenter", f"--net={router}", "ip", "-4", "-o", "addr", "show", "dev", "br0"],
                                capture_output=True, text=True, check=True).stdout
        assert f"inet {gateway}/{prefix} " in bridge, bridge
    # Root inside cannot change its network: the namespace is not its user namespace's.
    r = daemon.shoal("ssh", a, "--", "sh", "-c",
                     "ip addr add 10.99.0.1/32 dev eth0; ip route add 10.99.0.0/24 dev eth0; ip -4 route")
    assert r.stderr.count("Operation not permitted") == 2, r
    assert "10.99." not in r.stdout, r.stdout
    # From inside a, b's private address goes out eth0 (to the bridge), and b's nginx,
    # bound to b's private address, answers there.
    b_ip = insts[b]["PrivateIpAddress"]
    route = sh(daemon, a, f"ip route get {b_ip}")
    assert "dev eth0" in route, route
    wait_for("b's nginx from a", lambda: daemon.shoal(
        "ssh", a, "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2",
        f"http://{b_ip}:3000/health").stdout.strip() == "200", timeout=60)
    body = sh(daemon, a, f"curl -s --max-time 2 http://{b_ip}:3000/")
    assert body.startswith("Welcome to the A project"), body
    # No route out of the VPC: the router namespace has the bridge, its ports and (with
    # nft, to pass only replies there) its link to the host, and no default route.
    links = subprocess.run(["nsenter", f"--net={router}", "ip", "-o", "link"],
                           capture_output=True, text=True, check=True).stdout
    kinds = sorted(line.split(": ")[1].split("@")[0] for line in links.strip().splitlines())
    expected = ["br0", "host0", "lo"] if NFT_REASON is None else ["br0", "lo"]
    assert [k for k in kinds if not k.startswith("v")] == expected, kinds
    assert "default" not in subprocess.run(["nsenter", f"--net={router}", "ip", "-4", "route"],
                                           capture_output=True, text=True, check=True).stdout

    # The load balancer reaches both from the host: health checks and requests.
    lb, tg = lab_lb(daemon, vpc, "vpcnet-lb", [a, b])
    wait_for("both targets healthy", lambda: set(target_states(daemon, tg).values()) == {"healthy"}, timeout=60)
    answers = [through_lb(daemon, lb) for _ in range(6)]
    assert all(status == 200 and body.startswith("Welcome to the A project") for status, body in answers), answers

    # The host's own clients reach each instance at its PublicIpAddress (a loopback
    # address), as without VPC networks: Shoal mirrors the ports it listens on.
    for iid, inst in insts.items():
        public = inst["PublicIpAddress"]
        assert public.startswith("127."), public
        wait_for(f"{iid} at its public address", lambda: http_get(f"http://{public}:3000/health")[0] == 200,
                 timeout=15)

    if NFT_REASON is None:
        # The host routes the VPC's CIDR to its router (a link Shoal made), so the
        # host reaches each instance at its private address too, as a peered network
        # would; checked with `ip route get` before anything is sent there.
        link = "sv" + vpc[-13:]
        for iid, inst in insts.items():
            ip = inst["PrivateIpAddress"]
            route = subprocess.run(["ip", "route", "get", ip], capture_output=True, text=True, check=True).stdout
            assert f"dev {link} " in route, route
            wait_for(f"{iid} at its private address from the host",
                     lambda: http_get(f"http://{ip}:3000/health", timeout=5)[0] == 200, timeout=15)
        # Nothing inside opens a connection to the host: the router passes only replies.
        addr = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", link],
                              capture_output=True, text=True, check=True).stdout
        host_end = addr.split(" inet ")[1].split("/")[0]
        assert connect(daemon, a, host_end, 22) == TIMED_OUT

    # Terminated, they take their namespaces along; the VPC's router stays with the VPC.
    daemon.aws("ec2", "terminate-instances", "--instance-ids", a, b)
    for iid in (a, b):
        daemon.wait_state(iid, "terminated")
    vpc_dir = Path(daemon.data_dir) / "vpcnet" / vpc
    wait_for("the instances' namespaces removed",
             lambda: not (vpc_dir / a).exists() and not (vpc_dir / b).exists(), timeout=15)
    assert mounts_under(daemon.data_dir) == [str(router)]


def lab_lb(daemon, vpc, name, ids, groups=(), target_type="instance"):
    """A load balancer on :80 forwarding to `ids` on :3000 (in `groups` if given, else
    the VPC's default group, which its targets admit, and a group admitting the host's
    clients on :80, as the seed's `web`); returns (lb, target group)."""
    tg = daemon.aws("elbv2", "create-target-group", "--name", f"{name}-tg", "--protocol", "HTTP",
                    "--target-type", target_type,
                    "--port", "3000", "--vpc-id", vpc, "--health-check-path", "/health",
                    "--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "4",
                    "--healthy-threshold-count", "2")["TargetGroups"][0]["TargetGroupArn"]
    subnets = [s["SubnetId"] for s in daemon.aws("ec2", "describe-subnets", "--filters",
                                                   f"Name=vpc-id,Values={vpc}")["Subnets"]][:2]
    if not groups:
        default = daemon.aws("ec2", "describe-security-groups", "--filters", f"Name=vpc-id,Values={vpc}",
                             "Name=group-name,Values=default")["SecurityGroups"][0]["GroupId"]
        web = new_group(daemon, f"{name}-web", vpc)
        daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", web, "--protocol", "tcp",
                   "--port", "80", "--cidr", "0.0.0.0/0")
        groups = [default, web]
    lb = daemon.aws("elbv2", "create-load-balancer", "--name", name, "--subnets", *subnets,
                    "--security-groups", *groups)["LoadBalancers"][0]
    daemon.aws("elbv2", "create-listener", "--load-balancer-arn", lb["LoadBalancerArn"], "--protocol", "HTTP",
               "--port", "80", "--default-actions", f"Type=forward,TargetGroupArn={tg}")
    daemon.aws("elbv2", "register-targets", "--target-group-arn", tg, "--targets", *[f"Id={i}" for i in ids])
    return lb, tg


@needs_vpc_network
def test_ip_targets_at_vpc_addresses_and_the_load_balancers_interfaces(daemon):
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    (iid,) = launch_lab(daemon, 1)
    inst = daemon.instance(iid)
    # Registered by its VPC address: the load balancer reaches it there, from inside the
    # VPC (health checks and requests), as in AWS.
    lb, tg = lab_lb(daemon, vpc, "ip-lb", [inst["PrivateIpAddress"]], target_type="ip")
    wait_for("the ip target healthy", lambda: target_health(daemon, tg)["State"] == "healthy", timeout=60)
    status, body = through_lb(daemon, lb)
    assert status == 200 and body.startswith("Welcome to the A project"), body

    # Its interfaces, one per subnet, at addresses of their subnets no instance holds.
    description = "ELB " + lb["LoadBalancerArn"].split(":loadbalancer/")[1]
    enis = daemon.aws("ec2", "describe-network-interfaces", "--filters",
                      f"Name=description,Values={description}")["NetworkInterfaces"]
    assert len(enis) == 2 and all(e["RequesterId"] == "amazon-elb" for e in enis), enis
    assert inst["PrivateIpAddress"] not in [e["PrivateIpAddress"] for e in enis]

    # An address of the VPC nobody holds: never dialled (a VPC address is reached only
    # from inside Shoal's namespaces); its checks time out as AWS's would.
    daemon.aws("elbv2", "deregister-targets", "--target-group-arn", tg, "--targets",
               f"Id={inst['PrivateIpAddress']}")
    daemon.aws("elbv2", "register-targets", "--target-group-arn", tg, "--targets", "Id=172.31.15.250")
    wait_for("the unheld address unhealthy",
             lambda: [t["TargetHealth"].get("Reason") for t in daemon.aws(
                 "elbv2", "describe-target-health", "--target-group-arn", tg)["TargetHealthDescriptions"]
                 if t["Target"]["Id"] == "172.31.15.250"] == ["Target.Timeout"], timeout=30)
    # Outside the VPC and every private range: not a valid ip target.
    code, _ = daemon.aws_error("elbv2", "register-targets", "--target-group-arn", tg, "--targets", "Id=8.8.8.8")
    assert code == "InvalidTarget"
    daemon.aws("elbv2", "delete-load-balancer", "--load-balancer-arn", lb["LoadBalancerArn"])
    terminate(daemon, [iid])


NFT_REASON = REASON or (None if shutil.which("nft") else "`nft` is not installed (nftables)")
needs_nft = pytest.mark.skipif(NFT_REASON is not None, reason=NFT_REASON or "")

# curl's exit codes: 7 refused (the packet got there, nothing listens), 28 timed out
# (dropped on the way: a security group).
# curl's exit codes: 1 when something answered that is not HTTP (sshd's banner),
# 7 refused (the packet got there, nothing listens), 28 timed out (dropped).
NOT_HTTP, REFUSED, TIMED_OUT = 1, 7, 28


def connect(daemon, src, ip, port):
    """curl's exit code for http://ip:port/ from inside instance `src`, after checking
    that the kernel there routes `ip` over the VPC's bridge."""
    route = sh(daemon, src, f"ip route get {ip}")
    assert "dev eth0" in route, route
    r = daemon.shoal("ssh", src, "--", "sh", "-c",
                     f"curl -s -o /dev/null --connect-timeout 2 --max-time 4 http://{ip}:{port}/; echo rc=$?")
    return int(r.stdout.strip().rsplit("rc=", 1)[1])


def authorize_http(daemon, group, revoke=False):
    """Port 80 from anywhere (the host's clients are the user's internet)."""
    verb = "revoke" if revoke else "authorize"
    daemon.aws("ec2", f"{verb}-security-group-ingress", "--group-id", group, "--protocol", "tcp",
               "--port", "80", "--cidr", "0.0.0.0/0")


def new_group(daemon, name, vpc):
    return daemon.aws("ec2", "create-security-group", "--group-name", name, "--description", name,
                      "--vpc-id", vpc)["GroupId"]


def ruleset(daemon, inst):
    """`nft list ruleset` in the instance's own network namespace, as an operator looks."""
    ns = Path(daemon.data_dir) / "vpcnet" / inst["VpcId"] / inst["InstanceId"]
    return subprocess.run(["nsenter", f"--net={ns}", "nft", "list", "ruleset"],
                          capture_output=True, text=True, check=True).stdout


def terminate(daemon, ids):
    daemon.aws("ec2", "terminate-instances", "--instance-ids", *ids)
    for iid in ids:
        daemon.wait_state(iid, "terminated")


@needs_nft
def test_the_seeds_web_and_ssh_groups_admit_exactly_their_ports(daemon):
    # The seed's groups, as its first step makes them (`lab::prepare`).
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    web, ssh = new_group(daemon, "web", vpc), new_group(daemon, "ssh", vpc)
    for group, ports in ((web, (80, 3000)), (ssh, (22,))):
        for port in ports:
            daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", group, "--protocol", "tcp",
                       "--port", str(port), "--cidr", "0.0.0.0/0")
    (client,) = launch_lab(daemon, 1, [web])
    (web_only,) = launch_lab(daemon, 1, [web])
    (both,) = launch_lab(daemon, 1, [web, ssh])
    ip = {iid: daemon.instance(iid)["PrivateIpAddress"] for iid in (web_only, both)}
    for iid in (web_only, both):
        wait_for(f"{iid}'s nginx from the client", lambda: connect(daemon, client, ip[iid], 3000) == 0, timeout=60)
    # web: 80 and 3000 from anywhere. Nothing listens on 80 (refused: it got there); the
    # app listens on 3001 but no rule admits it (dropped: the connect times out).
    assert connect(daemon, client, ip[web_only], 80) == REFUSED
    assert connect(daemon, client, ip[web_only], 3001) == TIMED_OUT
    assert connect(daemon, client, ip[web_only], 22) == TIMED_OUT
    # ssh adds 22 (sshd answers), and nothing else.
    assert connect(daemon, client, ip[both], 22) == NOT_HTTP
    assert connect(daemon, client, ip[both], 3001) == TIMED_OUT
    # ModifyInstanceAttribute's groups are live too.
    daemon.aws("ec2", "modify-instance-attribute", "--instance-id", web_only, "--groups", web, ssh)
    wait_for("22 open on the modified instance", lambda: connect(daemon, client, ip[web_only], 22) == NOT_HTTP,
             timeout=20)
    # Inside the app still reaches its own 3001 (loopback and its own address).
    assert "200" in sh(daemon, both, f"curl -s -o /dev/null -w %{{http_code}} --max-time 2 http://{ip[both]}:3001/health")
    # What the operator sees in the instance's namespace; the host's own has no such table.
    rules = ruleset(daemon, daemon.instance(both))
    for line in ("table inet shoal", "policy drop", "ct state established,related accept",
                 "tcp dport 80 accept", "tcp dport 3000 accept", "tcp dport 22 accept"):
        assert line in rules, rules
    # The host's namespace holds no filter of Shoal's: only the daemon's table that maps
    # public addresses to private ones (dnat), which drops nothing.
    host = [t for t in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                                      check=True).stdout.splitlines() if "shoal" in t]
    assert all(t.startswith("table ip shoal_") for t in host), host
    for table in host:
        listed = subprocess.run(["nft", "list", *table.split()], capture_output=True, text=True, check=True).stdout
        assert "dnat to" in listed and "drop" not in listed, listed
    terminate(daemon, [client, web_only, both])


def target_health(daemon, tg):
    (t,) = daemon.aws("elbv2", "describe-target-health", "--target-group-arn", tg)["TargetHealthDescriptions"]
    return t["TargetHealth"]


@needs_nft
def test_a_target_that_does_not_admit_the_load_balancers_group_times_out_until_authorized(daemon):
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    app, lb_group = new_group(daemon, "app", vpc), new_group(daemon, "lb", vpc)
    authorize_http(daemon, lb_group)
    (iid,) = launch_lab(daemon, 1, [app])
    lb, tg = lab_lb(daemon, vpc, "filtered-lb", [iid], [lb_group])
    wait_for("the target unhealthy", lambda: target_health(daemon, tg)["State"] == "unhealthy", timeout=60)
    health = target_health(daemon, tg)
    assert (health["Reason"], health["Description"]) == ("Target.Timeout", "Request timed out"), health
    # A rule naming the load balancer's group admits it (its members: its interfaces'
    # addresses, where the load balancer connects from).
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", app, "--protocol", "tcp",
               "--port", "3000", "--source-group", lb_group)
    wait_for("the target healthy", lambda: target_health(daemon, tg)["State"] == "healthy", timeout=60)
    status, body = through_lb(daemon, lb)
    assert status == 200 and body.startswith("Welcome to the A project"), body
    # Revoked, the checks time out again.
    daemon.aws("ec2", "revoke-security-group-ingress", "--group-id", app, "--protocol", "tcp",
               "--port", "3000", "--source-group", lb_group)
    wait_for("unhealthy again", lambda: target_health(daemon, tg).get("Reason") == "Target.Timeout", timeout=60)
    daemon.aws("elbv2", "delete-load-balancer", "--load-balancer-arn", lb["LoadBalancerArn"])
    terminate(daemon, [iid])


def router_ns(daemon, vpc):
    return Path(daemon.data_dir) / "vpcnet" / vpc / "router"


def in_router(daemon, vpc, *argv):
    """Runs `argv` inside the VPC's router namespace (Shoal made it)."""
    return subprocess.run(["nsenter", f"--net={router_ns(daemon, vpc)}", *argv],
                          capture_output=True, text=True, timeout=30)


def lb_interfaces(daemon, lb):
    description = "ELB " + lb["LoadBalancerArn"].split(":loadbalancer/")[1]
    return daemon.aws("ec2", "describe-network-interfaces", "--filters",
                      f"Name=description,Values={description}")["NetworkInterfaces"]


@needs_nft
def test_the_load_balancer_connects_from_its_own_interface_addresses(daemon):
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    app, lb_group = new_group(daemon, "app-own", vpc), new_group(daemon, "lb-own", vpc)
    authorize_http(daemon, lb_group)
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", app, "--protocol", "tcp",
               "--port", "3000", "--source-group", lb_group)
    (target,) = launch_lab(daemon, 1, [app])
    (other,) = launch_lab(daemon, 1)
    lb, tg = lab_lb(daemon, vpc, "own-address-lb", [target], [lb_group])
    enis = {e["SubnetId"]: e["PrivateIpAddress"] for e in lb_interfaces(daemon, lb)}
    assert len(enis) == 2, enis
    # Each interface's address is on the VPC's bridge, in the router namespace.
    bridge = in_router(daemon, vpc, "ip", "-4", "-o", "addr", "show", "dev", "br0").stdout
    for ip in enis.values():
        assert f"inet {ip}/32 " in bridge, bridge
    # The target admits only the load balancer's group: healthy, and served through it.
    wait_for("the target healthy", lambda: target_health(daemon, tg)["State"] == "healthy", timeout=60)
    status, body = through_lb(daemon, lb)
    assert status == 200 and body.startswith("Welcome to the A project"), body
    inst = daemon.instance(target)
    t_ip = inst["PrivateIpAddress"]
    rules = ruleset(daemon, inst)
    assert all(ip in rules for ip in enis.values()), rules
    # The router's own address (where the host's clients come from) is not a member of
    # the load balancer's group: dropped. The same namespace bound to the interface
    # address in the target's subnet gets through. Both checked to be routed over br0.
    route = in_router(daemon, vpc, "ip", "route", "get", t_ip).stdout
    assert "dev br0" in route and "via" not in route, route
    curl = ["curl", "-s", "-o", "/dev/null", "--connect-timeout", "2", "--max-time", "4",
            f"http://{t_ip}:3000/health"]
    assert in_router(daemon, vpc, *curl).returncode == TIMED_OUT
    # The interface in the target's subnet, else another (the default VPC has a subnet in
    # each of six zones; the load balancer is in two): every one is the group's member.
    own = enis.get(inst["SubnetId"]) or sorted(enis.values())[0]
    assert in_router(daemon, vpc, *curl[:1], "--interface", own, *curl[1:]).returncode == 0
    # Another instance, not in the load balancer's group: dropped too.
    assert connect(daemon, other, t_ip, 3000) == TIMED_OUT
    # Deleted, the load balancer takes its addresses off the bridge.
    daemon.aws("elbv2", "delete-load-balancer", "--load-balancer-arn", lb["LoadBalancerArn"])
    wait_for("the addresses removed", lambda: not any(
        ip in in_router(daemon, vpc, "ip", "-4", "-o", "addr", "show", "dev", "br0").stdout
        for ip in enis.values()), timeout=20)
    terminate(daemon, [target, other])


def lb_listener(lb):
    """The load balancer's documented host address (LoadBalancerAddresses) and port 80."""
    return lb["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["IpAddress"], 80


def lb_answer(host, port):
    """From the host (loopback only): "served" (an HTTP answer), "reset" (connected, then
    reset: refused by the load balancer's groups) or "refused" (nothing listens)."""
    import socket
    assert host.startswith("127."), host
    try:
        with socket.create_connection((host, port), timeout=4) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = c.recv(12)
    except ConnectionRefusedError:
        return "refused"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    return "served" if head.startswith(b"HTTP/1.1 ") else f"other: {head!r}"


@needs_nft
def test_the_load_balancers_own_groups_filter_its_clients_and_its_targets(daemon):
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    app, lb_group = new_group(daemon, "app-sg", vpc), new_group(daemon, "lb-sg", vpc)
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", app, "--protocol", "tcp",
               "--port", "3000", "--source-group", lb_group)
    authorize_http(daemon, lb_group)
    (iid,) = launch_lab(daemon, 1, [app])
    lb, tg = lab_lb(daemon, vpc, "sg-lb", [iid], [lb_group])
    host, port = lb_listener(lb)
    wait_for("the target healthy", lambda: target_health(daemon, tg)["State"] == "healthy", timeout=60)
    assert lb_answer(host, port) == "served"
    assert through_lb(daemon, lb)[0] == 200
    # Ingress: without a rule for :80 the listener resets the host's connections, and
    # its edge route (Shoal's port, Host: its DNS name) answers 403.
    authorize_http(daemon, lb_group, revoke=True)
    wait_for("the listener refusing", lambda: lb_answer(host, port) == "reset", timeout=20)
    assert through_lb(daemon, lb)[0] == 403
    # A rule for another CIDR does not admit the host; one holding 127.0.0.0/8 does.
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", lb_group, "--protocol", "tcp",
               "--port", "80", "--cidr", "203.0.113.0/24")
    assert lb_answer(host, port) == "reset"
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", lb_group, "--protocol", "tcp",
               "--port", "80", "--cidr", "127.0.0.0/8")
    wait_for("served again", lambda: lb_answer(host, port) == "served", timeout=20)
    assert through_lb(daemon, lb)[0] == 200
    # Egress: without its default rule the load balancer may connect nowhere: the
    # target's checks time out, as AWS reports them.
    everything = ["--ip-permissions", json.dumps([{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])]
    daemon.aws("ec2", "revoke-security-group-egress", "--group-id", lb_group, *everything)
    wait_for("the target timing out", lambda: target_health(daemon, tg).get("Reason") == "Target.Timeout",
             timeout=60)
    # A rule naming the target's group on its port lets it through again.
    to_app = [{"IpProtocol": "tcp", "FromPort": 3000, "ToPort": 3000, "UserIdGroupPairs": [{"GroupId": app}]}]
    daemon.aws("ec2", "authorize-security-group-egress", "--group-id", lb_group,
               "--ip-permissions", json.dumps(to_app))
    wait_for("the target healthy again", lambda: target_health(daemon, tg)["State"] == "healthy", timeout=60)
    assert lb_answer(host, port) == "served"
    daemon.aws("elbv2", "delete-load-balancer", "--load-balancer-arn", lb["LoadBalancerArn"])
    terminate(daemon, [iid])


def by_name(daemon, src, name):
    """(exit code, body) of GET http://<name>/ from inside instance `src`, with python's
    urllib: its resolver asks the VPC's (curl answers `*.localhost` names itself, with
    loopback, and Shoal's load balancers' names end in `elb.localhost`)."""
    script = f"import urllib.request as u; print(u.urlopen('http://{name}/', timeout=4).read().decode())"
    r = daemon.shoal("ssh", src, "--", "python3", "-c", script)
    return r.returncode, r.stdout


@needs_nft
def test_an_instance_reaches_a_load_balancer_by_its_name_inside_the_vpc(daemon):
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    app, lb_group = new_group(daemon, "app-in", vpc), new_group(daemon, "lb-in", vpc)
    clients = new_group(daemon, "clients-in", vpc)
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", app, "--protocol", "tcp",
               "--port", "3000", "--source-group", lb_group)
    client_rule = ["--group-id", lb_group, "--protocol", "tcp", "--port", "80", "--source-group", clients]
    daemon.aws("ec2", "authorize-security-group-ingress", *client_rule)
    (target,) = launch_lab(daemon, 1, [app])
    (client,) = launch_lab(daemon, 1, [clients])
    lb, tg = lab_lb(daemon, vpc, "in-vpc-lb", [target], [lb_group])
    name = lb["DNSName"]
    enis = sorted(e["PrivateIpAddress"] for e in lb_interfaces(daemon, lb))
    assert len(enis) == 2, enis
    # The VPC's resolver answers the name with the interfaces' addresses, which the
    # client's kernel routes over the VPC's bridge.
    got = sorted(line.split()[0] for line in sh(daemon, client, f"getent hosts {name}").splitlines())
    assert got == enis, got
    for ip in enis:
        assert "dev eth0" in sh(daemon, client, f"ip route get {ip}")
    # The router namespace listens on each interface address, port 80.
    listening = in_router(daemon, vpc, "ss", "-ltn").stdout
    assert all(f"{ip}:80 " in listening for ip in enis), listening
    wait_for("the target healthy", lambda: target_health(daemon, tg)["State"] == "healthy", timeout=60)
    rc, body = by_name(daemon, client, name)
    assert rc == 0 and body.startswith("Welcome to the A project"), (rc, body)
    # The load balancer's ingress rule names the client's group; revoked, the client
    # is reset, and served again once restored.
    daemon.aws("ec2", "revoke-security-group-ingress", *client_rule)
    wait_for("the client refused", lambda: by_name(daemon, client, name)[0] != 0, timeout=20)
    assert "Welcome" not in by_name(daemon, client, name)[1]
    daemon.aws("ec2", "authorize-security-group-ingress", *client_rule)
    wait_for("served again", lambda: by_name(daemon, client, name)[0] == 0, timeout=20)
    # The VPC's router namespace lost (unmounted by hand): Shoal makes it anew, and it
    # serves the load balancer again.
    terminate(daemon, [target, client])
    lost = os.stat(router_ns(daemon, vpc)).st_ino
    subprocess.run(["umount", "-l", str(router_ns(daemon, vpc))], check=True)
    (target,) = launch_lab(daemon, 1, [app])
    assert os.path.ismount(router_ns(daemon, vpc)) and os.stat(router_ns(daemon, vpc)).st_ino != lost
    (client,) = launch_lab(daemon, 1, [clients])
    daemon.aws("elbv2", "register-targets", "--target-group-arn", tg, "--targets", f"Id={target}")
    wait_for("a new target healthy", lambda: any(
        t["TargetHealth"]["State"] == "healthy" for t in daemon.aws(
            "elbv2", "describe-target-health", "--target-group-arn", tg)["TargetHealthDescriptions"]),
        timeout=60)
    # The listeners come back with the load balancer controller's next pass (2 s).
    wait_for("listening in the new router", lambda: all(
        f"{ip}:80 " in in_router(daemon, vpc, "ss", "-ltn").stdout for ip in enis), timeout=20)
    rc, body = wait_for("served by name again", lambda: (lambda r: r if r[0] == 0 else None)(
        by_name(daemon, client, name)), timeout=20)
    assert body.startswith("Welcome to the A project"), (rc, body)
    # Deleted, its name is gone and nothing listens there.
    daemon.aws("elbv2", "delete-load-balancer", "--load-balancer-arn", lb["LoadBalancerArn"])
    wait_for("the name gone", lambda: daemon.shoal("ssh", client, "--", "getent", "hosts", name).returncode == 2,
             timeout=20)
    wait_for("the listeners gone", lambda: not any(
        f"{ip}:80 " in in_router(daemon, vpc, "ss", "-ltn").stdout for ip in enis), timeout=20)
    terminate(daemon, [target, client])


@needs_nft
def test_revoking_the_default_egress_rule_cuts_outgoing_traffic(daemon):
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    out = new_group(daemon, "out", vpc)
    (group,) = daemon.aws("ec2", "describe-security-groups", "--group-ids", out)["SecurityGroups"]
    everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    # A new group gets AWS's default egress rule: everything, anywhere.
    assert [(p["IpProtocol"], [r["CidrIp"] for r in p["IpRanges"]]) for p in group["IpPermissionsEgress"]] == \
        [("-1", ["0.0.0.0/0"])], group
    web = new_group(daemon, "in3000", vpc)
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", web, "--protocol", "tcp",
               "--port", "3000", "--cidr", "0.0.0.0/0")
    (a,) = launch_lab(daemon, 1, [out])
    (b,) = launch_lab(daemon, 1, [web])
    b_ip = daemon.instance(b)["PrivateIpAddress"]
    wait_for("b from a", lambda: connect(daemon, a, b_ip, 3000) == 0, timeout=60)
    perms = ["--ip-permissions", json.dumps(everything)]
    daemon.aws("ec2", "revoke-security-group-egress", "--group-id", out, *perms)
    wait_for("a cut off", lambda: connect(daemon, a, b_ip, 3000) == TIMED_OUT, timeout=20)
    # Ingress is another matter: b still reaches a (and a's replies go back out).
    a_ip = daemon.instance(a)["PrivateIpAddress"]
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", out, "--protocol", "tcp",
               "--port", "3000", "--cidr", f"{b_ip}/32")
    wait_for("a from b", lambda: connect(daemon, b, a_ip, 3000) == 0, timeout=20)
    daemon.aws("ec2", "authorize-security-group-egress", "--group-id", out, *perms)
    wait_for("a back", lambda: connect(daemon, a, b_ip, 3000) == 0, timeout=20)
    terminate(daemon, [a, b])


@needs_nft
def test_an_instance_without_a_public_address_is_reached_at_its_private_one_only(daemon):
    """A subnet that does not map public addresses: its instance has no PublicIpAddress,
    the host reaches it at its private address (over the VPC's route, checked first),
    and the kernel maps no loopback address to it."""
    vpc = daemon.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    subnet = daemon.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "172.31.112.0/20")["Subnet"]["SubnetId"]
    web = new_group(daemon, "private3000", vpc)
    daemon.aws("ec2", "authorize-security-group-ingress", "--group-id", web, "--protocol", "tcp",
               "--port", "3000", "--cidr", "0.0.0.0/0")
    iid = daemon.aws("ec2", "run-instances", "--image-id", daemon.base_image(), "--instance-type", "t2.micro",
                     "--subnet-id", subnet, "--security-group-ids", web,
                     "--user-data", LAB_USER_DATA)["Instances"][0]["InstanceId"]
    daemon.wait_state(iid, "running")
    inst = daemon.instance(iid)
    assert "PublicIpAddress" not in inst, inst
    ip = inst["PrivateIpAddress"]
    route = subprocess.run(["ip", "route", "get", ip], capture_output=True, text=True, check=True).stdout
    assert f"dev sv{vpc[-13:]} " in route, route
    wait_for("the private address from the host", lambda: http_get(f"http://{ip}:3000/health", timeout=5)[0] == 200,
             timeout=60)
    loopback = daemon.api(f"/_shoal/api/instances/{iid}")["address"]
    assert daemon.api(f"/_shoal/api/instances/{iid}")["public_ip"] is None
    tables = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, check=True).stdout
    assert f"ip daddr {loopback} " not in tables and f"dnat to {ip}\n" not in tables, tables
    terminate(daemon, [iid])
    daemon.aws("ec2", "delete-subnet", "--subnet-id", subnet)


@needs_nft
def test_a_vpc_has_its_router_and_host_route_while_it_exists(daemon):
    """AWS's VPC router exists with the VPC: CreateVpc makes its router namespace and
    routes its CIDR from the host there (before any instance); DeleteVpc removes both.
    Only routes are read: nothing is sent."""
    if subprocess.run(["ip", "-4", "route", "show", "10.77.0.0/16"], capture_output=True, text=True).stdout:
        pytest.skip("this host already routes 10.77.0.0/16")
    vpc = daemon.aws("ec2", "create-vpc", "--cidr-block", "10.77.0.0/16")["Vpc"]["VpcId"]
    link = "sv" + vpc[-13:]

    def routed():
        return subprocess.run(["ip", "-4", "route", "show", "10.77.0.0/16"],
                              capture_output=True, text=True, check=True).stdout
    wait_for("the new VPC's router", lambda: os.path.ismount(router_ns(daemon, vpc)), timeout=20)
    wait_for("the host's route to the new VPC", lambda: f"dev {link}" in routed(), timeout=20)
    assert "host0" in in_router(daemon, vpc, "ip", "-o", "link").stdout
    daemon.aws("ec2", "delete-vpc", "--vpc-id", vpc)
    wait_for("the router gone", lambda: not router_ns(daemon, vpc).exists(), timeout=20)
    wait_for("the route gone", lambda: routed() == "", timeout=20)
    # /proc/net is this namespace's view (/sys/class/net is the one /sys was mounted in).
    assert f"{link}:" not in Path("/proc/self/net/dev").read_text()


def test_without_namespaces_instances_keep_loopback_addresses_and_it_is_said():
    """`--network vpc` with process isolation: today's loopback addressing, in the log."""
    d = Daemon("--isolation", "process", "--network", "vpc")
    try:
        assert "VPC networks need container isolation" in d.log()
        health = d.api("/_shoal/health")
        assert "VPC network" not in health["isolation"]
        assert (health["network_mode"], health["network_fallback"]) == \
            ("host", "VPC networks need container isolation")
        assert "WARNING: instances share the host's network" in d.shoal("instances").stdout
        assert 'id="network-fallback"' in http_get(d.endpoint + "/console/instances", timeout=10)[1]
    finally:
        d.close()


@needs_vpc_network
@pytest.mark.skipif(shutil.which("nft") is None, reason="`nft` is not installed: `auto` keeps the host's network")
def test_auto_is_the_default_and_keeps_a_data_dir_on_the_network_its_instances_have():
    """No `--network`: VPC networks where the host can. A data dir whose container
    instances were made on the host's network keeps it under `auto`, said aloud, and its
    instance keeps serving at its loopback address."""
    env_network = os.environ.pop("SHOAL_NETWORK", None)
    data_dir = tempfile.mkdtemp(prefix="shoal-auto-")
    d = None
    try:
        d = Daemon("--isolation", "container")
        health = d.api("/_shoal/health")
        assert (health["network_mode"], health["network_fallback"]) == ("vpc", None)
        d.close()
        d = None

        d = Daemon("--isolation", "container", "--network", "host", data_dir=data_dir)
        [iid] = launch_lab(d, 1)
        addr = d.instance(iid)["PublicIpAddress"]
        wait_for("the app on the host's network", lambda: http_get(f"http://{addr}:3000/health")[0] == 200, timeout=60)
        assert d.shoal("down").returncode == 0
        d.proc.wait(timeout=30)

        d.extra_args = ("--isolation", "container")
        d.start()
        health = d.api("/_shoal/health")
        assert health["network_mode"] == "host"
        assert "this data dir's instances share the host's network" in health["network_fallback"]
        assert "this data dir's instances share the host's network" in d.log()
        assert "WARNING: instances share the host's network" in d.shoal("instances").stdout
        assert d.instance(iid)["State"]["Name"] == "running"
        assert http_get(f"http://{addr}:3000/health")[0] == 200, "adopted on the network it had"
        d.aws("ec2", "terminate-instances", "--instance-ids", iid)
        d.aws("ec2", "wait", "instance-terminated", "--instance-ids", iid)
    finally:
        if env_network is not None:
            os.environ["SHOAL_NETWORK"] = env_network
        if d:
            d.close()
        shutil.rmtree(data_dir, ignore_errors=True)
