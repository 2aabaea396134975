#!/usr/bin/env python3
"""Benchmark (not a test): how fast Shoal's instances come up, and what the daemon costs.

Starts a release-build daemon on loopback, then measures with boto3:
  - RunInstances -> `running` (as DescribeInstances reports it), and
  - RunInstances -> the lab app answering HTTP on the instance's address,
over several single-instance launches (median, p90, max), then daemon RSS at idle and
with N instances running (default 100). Prints a table; stops everything it started.

    ./scripts/setup-python.sh && cargo build --release
    .venv/bin/python bench/instances.py [--count 100] [--runs 10] [--isolation container]

With `--isolation container` (root, runc, scripts/build-base-image.sh) it also reports
memory per idle instance and, in the same run, the floor: `runc run` of `/bin/true` on
the same base image by hand (bench/runtimes.py's bundle).
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "aws"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import runtimes  # noqa: E402

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


def instance_rss_kib(d, iid):
    total = 0
    for pid in d.api(f"/_shoal/api/instances/{iid}")["pids"]:
        try:
            total += rss_kib(pid)
        except OSError:
            pass
    return total


def runc_by_hand(d, runs):
    """`runc run /bin/true` on the daemon's base image root, as bench/runtimes.py does."""
    # The base image is one layer (runtime/layers.rs): images/<ami>/layers names it.
    store = Path(d.data_dir) / "container"
    [layer] = (store / "images" / d.base_image() / "layers").read_text().split()
    image_root = store / "layers" / layer
    with tempfile.TemporaryDirectory() as bundle:
        os.chmod(bundle, 0o755)
        # A bind mount inside the bundle, as the daemon's overlay is: container root
        # cannot walk the path to the image cache itself.
        rootfs = os.path.join(bundle, "rootfs")
        os.mkdir(rootfs)
        subprocess.run(["mount", "--bind", "-o", "ro", str(image_root.resolve()), rootfs], check=True)
        try:
            with open(os.path.join(bundle, "config.json"), "w") as f:
                json.dump(runtimes.config(["/bin/true"]), f)
            return runtimes.measure("runc", bundle, runs)
        finally:
            subprocess.run(["umount", rootfs], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100, help="instances for the memory figure")
    ap.add_argument("--runs", type=int, default=10, help="single launches timed")
    ap.add_argument("--isolation", default="process", choices=["process", "container"])
    ap.add_argument("--binary", default=str(ROOT / "target" / "release" / "shoal"),
                    help="the shoal binary (default: the release build)")
    args = ap.parse_args()
    harness.SHOAL = args.binary
    if not Path(harness.SHOAL).exists():
        sys.exit("build first: cargo build --release")
    # The host-derived quotas (32 vCPUs on 2 cores) are below what the bench launches.
    room = str(args.count + args.runs + 10)
    d = harness.Daemon("--isolation", args.isolation, "--quota-instances", room, "--quota-vcpus", room)
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
        sampled = ids[:20]
        per_instance = statistics.median(instance_rss_kib(d, i) for i in sampled)
        floor = runc_by_hand(d, args.runs) if args.isolation == "container" else None

        def row(name, xs):
            xs = sorted(xs)
            return f"{name:<34} {statistics.median(xs):8.0f} {xs[int(0.9 * (len(xs) - 1))]:8.0f} {xs[-1]:8.0f}"
        print(f"shoal instance benchmark ({args.runs} launches, {args.binary}, {d.api('/_shoal/health')['isolation']})")
        print(f"{'':<34} {'median':>8} {'p90':>8} {'max':>8}   (ms)")
        print(row("RunInstances -> running", to_running))
        print(row("RunInstances -> app answering", to_app))
        print(f"{args.count} instances in one call -> all running: {all_up:.0f} ms")
        print(f"daemon RSS idle: {idle / 1024:.1f} MiB; with {args.count} instances running: {loaded / 1024:.1f} MiB")
        print(f"idle instance (RSS of its processes, median of {len(sampled)}): {per_instance / 1024:.1f} MiB")
        if floor:
            print(f"runc run /bin/true on the same image by hand: {floor}")
    finally:
        d.close()


if __name__ == "__main__":
    main()
