"""Crash soak: `kill -9` the daemon again and again under concurrent API writes and load
balancer traffic. Afterwards every acknowledged write is there exactly once, every
running instance has exactly one init, and the load balancer answers again.

The writes are CreateSecurityGroup calls over raw Query HTTP (cheap, and each names a
resource that must exist exactly once); a write counts as acknowledged only when its
200 answer was read in full. Prints the figures.
"""
import http.client
import os
import random
import threading
import time
import urllib.parse

from elbv2_lab import launch_lab_instances, lab_stack, request, wait_in_service
from harness import Daemon, wait_for

WRITERS = 4
KILLS = int(os.environ.get("SHOAL_SOAK_KILLS", "4"))


class Writers:
    """Threads that create security groups until told to stop, against whatever endpoint
    the daemon has now (it moves to a new port on every restart)."""

    def __init__(self, d, vpc):
        self.d, self.vpc = d, vpc
        self.acked, self.failed = [], 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(n,), daemon=True) for n in range(WRITERS)]

    def start(self):
        for t in self.threads:
            t.start()

    def run(self, n):
        i = 0
        while not self.stop.is_set():
            name = f"soak-{n}-{i}"
            if self.write(name):
                with self.lock:
                    self.acked.append(name)
                i += 1
            else:
                with self.lock:
                    self.failed += 1
                # Retrying the same name would prove nothing about an unanswered write.
                i += 1
                time.sleep(0.05)

    def write(self, name):
        netloc = urllib.parse.urlparse(self.d.endpoint).netloc
        host, port = netloc.rsplit(":", 1)
        body = urllib.parse.urlencode({"Action": "CreateSecurityGroup", "Version": "2016-11-15",
                                       "GroupName": name, "GroupDescription": "soak", "VpcId": self.vpc})
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            conn.request("POST", "/", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            text = r.read()
            return r.status == 200 and b"<groupId>" in text
        except OSError:
            return False
        finally:
            conn.close()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)


class Traffic:
    """One thread sending requests through the load balancer, counting answers by status."""

    def __init__(self, d, dns):
        self.d, self.dns = d, dns
        self.statuses = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            status, _, _ = request(self.d.endpoint, self.dns, "/", timeout=2)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 0:
                time.sleep(0.05)

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=15)


def inits_by_instance(d):
    """{instance id: number of live init processes} for this daemon's instances. An init
    is an `instance-init` process whose environment names its instance; it is this
    daemon's if its command line names a directory under the daemon's data dir (a host
    process tree) or its instance is one the daemon has (a container, whose paths are
    its own)."""
    data_dir = os.path.realpath(d.data_dir) + os.sep
    known = {i["InstanceId"] for r in d.boto("ec2").describe_instances()["Reservations"] for i in r["Instances"]}
    counts = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
            if "instance-init" not in args:
                continue
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        iid = next((v.removeprefix("SHOAL_INSTANCE_ID=") for v in env if v.startswith("SHOAL_INSTANCE_ID=")), "?")
        if iid in known or any(os.path.realpath(a).startswith(data_dir) for a in args if a.startswith("/")):
            counts[iid] = counts.get(iid, 0) + 1
    return counts


def test_kill_9_under_writes_and_traffic_loses_nothing():
    d = Daemon()
    try:
        ec2, elb = d.boto("ec2"), d.boto("elbv2")
        vpc = [v for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]][0]["VpcId"]
        instances = launch_lab_instances(d, 2)
        ids = sorted(i["id"] for i in instances)
        lb, tg, _ = lab_stack(d, targets=ids)
        wait_in_service(elb, tg["TargetGroupArn"])
        dns = lb["DNSName"]
        assert request(d.endpoint, dns)[0] == 200

        writers, traffic = Writers(d, vpc), Traffic(d, dns)
        writers.start()
        traffic.thread.start()
        rng = random.Random(11)
        try:
            for _ in range(KILLS):
                time.sleep(rng.uniform(1.0, 2.5))
                d.kill9()
                time.sleep(rng.uniform(0.1, 0.5))
                d.start()
                assert inits_by_instance(d) == {i: 1 for i in ids}, "exactly one init per instance"
            time.sleep(1.0)
        finally:
            writers.finish()
            traffic.finish()

        # Every acknowledged write is there, once; nothing is duplicated.
        groups = d.boto("ec2").describe_security_groups()["SecurityGroups"]
        names = [g["GroupName"] for g in groups if g["GroupName"].startswith("soak-")]
        missing = sorted(set(writers.acked) - set(names))
        duplicated = sorted({n for n in names if names.count(n) > 1})
        assert not missing, f"{len(missing)} acknowledged writes lost: {missing[:10]}"
        assert not duplicated, f"duplicated: {duplicated[:10]}"

        # The instances kept running through it all, each with one init, and the load
        # balancer answers again once its targets are healthy.
        states = {i["InstanceId"]: i["State"]["Name"]
                  for r in d.boto("ec2").describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]}
        assert states == {i: "running" for i in ids}
        assert inits_by_instance(d) == {i: 1 for i in ids}
        wait_for("the load balancer answering", lambda: request(d.endpoint, dns)[0] == 200, timeout=60)

        print(f"\ncrash soak: {KILLS} kill -9s, {len(writers.acked)} acknowledged writes, "
              f"{len(names) - len(writers.acked)} unacknowledged that landed, {writers.failed} failed or "
              f"unanswered, 0 lost, 0 duplicated; load balancer answers by status: {dict(sorted(traffic.statuses.items()))}; "
              f"{len(ids)} instances, one init each")
    finally:
        d.close()
