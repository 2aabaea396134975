#!/usr/bin/env python3
"""Benchmark (not a test): how fast Shoal's instances come up, and what the daemon costs.

Starts a release-build daemon on loopback, then measures with boto3:
  - RunInstances -> `running` (as DescribeInstances reports it), and
  - RunInstances -> the lab app answering HTTP on the instance's address,
over several single-instance launches (median, p90, max), then daemon RSS at idle and
with N instances running (default 100). Prints a table; stops everything it started.

    ./scripts/setup-python.sh && cargo build --release
    .venv/bin/python bench/instances.py [--count 100] [--runs 10]
"""
import argparse
import base64
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "aws"))
import harness  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def answers(addr):
    try:
        with urllib.request.urlopen(f"http://{addr}:3000/health", timeout=0.5) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100, help="instances for the memory figure")
    ap.add_argument("--runs", type=int, default=10, help="single launches timed")
    args = ap.parse_args()
    harness.SHOAL = str(ROOT / "target" / "release" / "shoal")
    if not Path(harness.SHOAL).exists():
        sys.exit("build first: cargo build --release")
    d = harness.Daemon()
    try:
        ec2 = d.boto("ec2")
        base = d.base_image()
        user_data = (ROOT / "examples" / "lab" / "setup.sh").read_text()
        time.sleep(1)
        idle = rss_kib(d.pid)
        to_running, to_app = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            iid = ec2.run_instances(ImageId=base, InstanceType="t2.micro", MinCount=1, MaxCount=1, UserData=user_data)["Instances"][0]["InstanceId"]
            while True:
                inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
                if inst["State"]["Name"] == "running":
                    to_running.append((time.perf_counter() - t0) * 1000)
                    break
                time.sleep(0.005)
            addr = inst["PublicIpAddress"]
            while not answers(addr):
                time.sleep(0.005)
            to_app.append((time.perf_counter() - t0) * 1000)
            ec2.terminate_instances(InstanceIds=[iid])
        t0 = time.perf_counter()
        ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=base, InstanceType="t2.micro", MinCount=args.count, MaxCount=args.count)["Instances"]]
        harness.wait_for(f"{args.count} running", lambda: all(
            i["State"]["Name"] == "running" for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]), timeout=300, interval=0.2)
        all_up = (time.perf_counter() - t0) * 1000
        time.sleep(2)
        loaded = rss_kib(d.pid)

        def row(name, xs):
            xs = sorted(xs)
            return f"{name:<34} {statistics.median(xs):8.0f} {xs[int(0.9 * (len(xs) - 1))]:8.0f} {xs[-1]:8.0f}"
        print(f"shoal instance benchmark ({args.runs} launches, release build, {d.api('/_shoal/health')['isolation']})")
        print(f"{'':<34} {'median':>8} {'p90':>8} {'max':>8}   (ms)")
        print(row("RunInstances -> running", to_running))
        print(row("RunInstances -> app answering", to_app))
        print(f"{args.count} instances in one call -> all running: {all_up:.0f} ms")
        print(f"daemon RSS idle: {idle / 1024:.1f} MiB; with {args.count} instances running: {loaded / 1024:.1f} MiB")
    finally:
        d.close()


if __name__ == "__main__":
    main()
