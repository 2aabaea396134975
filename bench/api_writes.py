#!/usr/bin/env python3
"""Benchmark (not a test): durable API writes, and what they cost everyone else.

Starts a release-build daemon on loopback (or the binary given with --bin), then for
--seconds runs --writers threads sending CreateTags over raw HTTP/1.1 keep-alive (each
write a committed, fsynced SQLite transaction) while one more thread times a read
(DescribeVpcs) and another times requests through a load balancer's DNS name on the main
port. Prints writes/s and the readers' median and p99 latency: a commit that fsyncs on an
async worker stalls every request queued behind it.

    cargo build --release
    .venv/bin/python bench/api_writes.py [--seconds 10] [--writers 8] [--bin path/to/shoal]
Run it for two binaries (before/after a change) in the same sitting to compare.
"""
import argparse
import http.client
import statistics
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "aws"))
import harness  # noqa: E402
from elbv2_lab import lab_stack, launch_lab_instances, wait_in_service  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def connection(endpoint):
    host, port = urllib.parse.urlparse(endpoint).netloc.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=10)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "shoal"))
    args = ap.parse_args()
    harness.SHOAL = args.bin
    if not Path(harness.SHOAL).exists():
        sys.exit("build first: cargo build --release")
    d = harness.Daemon()
    try:
        ec2 = d.boto("ec2")
        vpc = [v for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]][0]["VpcId"]
        ids = [i["id"] for i in launch_lab_instances(d, 1)]
        lb, tg, _ = lab_stack(d, targets=ids)
        wait_in_service(d.boto("elbv2"), tg["TargetGroupArn"])
        dns = lb["DNSName"]
        port = urllib.parse.urlparse(d.endpoint).netloc.rsplit(":", 1)[1]

        stop = threading.Event()
        writes = [0] * args.writers
        errors = [0]
        reads, edge = [], []

        def writer(n):
            conn, i = connection(d.endpoint), 0
            while not stop.is_set():
                body = urllib.parse.urlencode({"Action": "CreateTags", "Version": "2016-11-15",
                                               "ResourceId.1": vpc, "Tag.1.Key": f"bench-{n}",
                                               "Tag.1.Value": str(i)})
                conn.request("POST", "/", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    writes[n] += 1
                else:
                    errors[0] += 1
                i += 1

        def timed(out, make):
            conn = make()
            while not stop.is_set():
                t0 = time.perf_counter()
                method, path, body, headers = make.request
                conn.request(method, path, body=body, headers=headers)
                conn.getresponse().read()
                out.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.005)

        def reader_conn():
            return connection(d.endpoint)
        reader_conn.request = ("POST", "/", urllib.parse.urlencode({"Action": "DescribeVpcs", "Version": "2016-11-15"}),
                               {"Content-Type": "application/x-www-form-urlencoded"})

        def edge_conn():
            return connection(d.endpoint)
        edge_conn.request = ("GET", "/", None, {"Host": f"{dns}:{port}"})

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(args.writers)]
        threads += [threading.Thread(target=timed, args=(reads, reader_conn)),
                    threading.Thread(target=timed, args=(edge, edge_conn))]
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        total = sum(writes)
        print(f"binary: {args.bin}")
        print(f"CreateTags: {total / args.seconds:.0f} writes/s ({args.writers} connections, {errors[0]} errors)")
        for name, xs in (("DescribeVpcs", reads), ("load balancer (DNS name, main port)", edge)):
            print(f"{name} during writes: median {statistics.median(xs):.2f} ms, p99 {percentile(xs, 0.99):.2f} ms, "
                  f"max {max(xs):.2f} ms over {len(xs)} requests")
    finally:
        d.close()


if __name__ == "__main__":
    main()
