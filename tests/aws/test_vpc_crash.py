"""VPC networks across a crash and a clean stop, with a daemon of its own (run before
test_vpc_network's module daemon exists, so its default VPC's CIDR is the one the host
routes): a running instance keeps its network and its public address keeps answering
while the daemon is dead (the kernel maps it, no process is on the path); the restarted
daemon re-adopts the namespace and reloads a lost filter; a clean stop gives the host
back its routes and removes the daemon's table.

Network safety: traffic goes only to loopback (the daemon, the load balancer, the
public address).
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness import Daemon, http_get, wait_for
from test_seed_literal import target_states
from test_seed_part2 import through_lb
from test_vpc_network import (NFT_REASON, host_network, lab_lb, launch_lab, mounts_under, needs_vpc_network,
                              new_group, ruleset, sh)


def shoal_tables():
    if NFT_REASON is not None:
        return []
    listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    return [t for t in listed.splitlines() if "shoal" in t]


@needs_vpc_network
def test_a_restarted_daemon_re_adopts_the_namespaces_of_running_instances():
    before, tables_before = host_network(), shoal_tables()
    data_dir = tempfile.mkdtemp(prefix="shoal-vpcnet-restart-")
    d = Daemon("--isolation", "container", "--network", "vpc", data_dir=data_dir,
               sweep_namespaces=False)
    try:
        vpc = d.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
        web = new_group(d, "web3000", vpc)
        d.aws("ec2", "authorize-security-group-ingress", "--group-id", web, "--protocol", "tcp",
              "--port", "3000", "--cidr", "0.0.0.0/0")
        (iid,) = launch_lab(d, 1, [web])
        inst = d.instance(iid)
        public = inst["PublicIpAddress"]
        assert public.startswith("127."), public
        wait_for("the public address", lambda: http_get(f"http://{public}:3000/health", timeout=5)[0] == 200,
                 timeout=60)
        ns = Path(data_dir) / "vpcnet" / inst["VpcId"] / iid
        before_addr = sh(d, iid, "ip -4 -o addr show dev eth0")
        mapped = NFT_REASON is None and any(
            f"ip daddr {public} dnat to {inst['PrivateIpAddress']}" in subprocess.run(
                ["nft", "list", *t.split()], capture_output=True, text=True).stdout
            for t in shoal_tables())
        d.kill9()
        assert os.path.ismount(ns), "a crash leaves the running instance its network"
        if mapped:
            # The kernel maps the public address: it answers with the daemon dead.
            assert http_get(f"http://{public}:3000/health", timeout=5)[0] == 200
            # Its filter lost while the daemon is down: the restarted one loads it again.
            subprocess.run(["nsenter", f"--net={ns}", "nft", "delete", "table", "inet", "shoal"], check=True)
        d.start()
        assert "(1 instance(s)," in d.api("/_shoal/health")["isolation"]
        if NFT_REASON is None:
            wait_for("the filter loaded again", lambda: "table inet shoal" in ruleset(d, inst), timeout=15)
        assert sh(d, iid, "ip -4 -o addr show dev eth0") == before_addr
        # The load balancer of the new daemon reaches the adopted instance.
        lb, tg = lab_lb(d, inst["VpcId"], "restart-lb", [iid])
        wait_for("the adopted target healthy", lambda: target_states(d, tg) == {iid: "healthy"}, timeout=60)
        assert through_lb(d, lb)[0] == 200
        assert http_get(f"http://{public}:3000/health", timeout=5)[0] == 200
        d.aws("ec2", "terminate-instances", "--instance-ids", iid)
        d.wait_state(iid, "terminated")
    finally:
        d.close()
        left = mounts_under(data_dir)
        for point in reversed(left):
            subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(data_dir, ignore_errors=True)
        assert not left, f"namespaces left mounted: {left}"
    # A clean stop gives the host back its routes and removes the daemon's table.
    assert host_network() == before, "the host's addresses and routes changed"
    assert shoal_tables() == tables_before
