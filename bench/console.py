#!/usr/bin/env python3
"""Benchmark (not a test): how long each console page takes to render at scale.

Starts a daemon on loopback (release build unless SHOAL_BIN says otherwise), then with
boto3 makes a launch template and 50 Auto Scaling groups of one instance each, all
attached to one target group behind a load balancer, plus 150 more instances from the
base image (200 instances in all, every one sampled for CPU each second), waits until every group is in service and the CPU series have data,
starts a blue/green deployment of one group (`shoal deploy --detach`), and times each
console page over several requests (server time as the client sees it:
request sent to last byte). The budget is 200 ms per page. Stops everything it started.

    ./scripts/setup-python.sh && cargo build --release
    .venv/bin/python bench/console.py [--instances 150] [--groups 50] [--runs 20]
"""
import argparse
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "aws"))
import harness  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MS = 200


def fetch_ms(url):
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as r:
        body = r.read()
        status = r.status
    ms = (time.perf_counter() - t0) * 1000
    if status != 200:
        raise RuntimeError(f"{url}: {status}")
    return ms, len(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=150, help="instances outside any group")
    ap.add_argument("--groups", type=int, default=50, help="groups of one instance each")
    ap.add_argument("--runs", type=int, default=20, help="requests timed per page")
    ap.add_argument("--settle", type=float, default=5, help="seconds of CPU samples before timing")
    args = ap.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    harness.SHOAL = os.environ.get("SHOAL_BIN") or str(target / "release" / "shoal")
    if not Path(harness.SHOAL).exists():
        sys.exit("build first: cargo build --release")
    d = harness.Daemon()
    try:
        ec2, asg = d.boto("ec2"), d.boto("autoscaling")
        base = d.base_image()
        t0 = time.perf_counter()
        lt = ec2.create_launch_template(LaunchTemplateName="bench-template", LaunchTemplateData={
            "ImageId": base, "InstanceType": "t2.micro"})["LaunchTemplate"]
        subnets = ",".join(s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2])
        for n in range(args.groups):
            asg.create_auto_scaling_group(
                AutoScalingGroupName=f"bench-group-{n:02}", MinSize=1, MaxSize=2, DesiredCapacity=1,
                LaunchTemplate={"LaunchTemplateName": "bench-template", "Version": "$Default"},
                VPCZoneIdentifier=subnets)
            asg.put_scaling_policy(
                AutoScalingGroupName=f"bench-group-{n:02}", PolicyName="cpu80", PolicyType="TargetTrackingScaling",
                TargetTrackingConfiguration={"PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ASGAverageCPUUtilization"}, "TargetValue": 80.0})
        elb = d.boto("elbv2")
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        tg = elb.create_target_group(Name="bench-tg", Protocol="HTTP", Port=3000, VpcId=vpc)["TargetGroups"][0]
        lb = elb.create_load_balancer(Name="bench-lb", Subnets=subnets.split(","))["LoadBalancers"][0]
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8080,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
        for n in range(args.groups):
            asg.attach_load_balancer_target_groups(
                AutoScalingGroupName=f"bench-group-{n:02}", TargetGroupARNs=[tg["TargetGroupArn"]])
        ids = [i["InstanceId"] for i in ec2.run_instances(
            ImageId=base, InstanceType="t2.micro", MinCount=args.instances, MaxCount=args.instances)["Instances"]]

        def all_running():
            states = [i["State"]["Name"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
            return len(states) >= args.instances + args.groups and all(s == "running" for s in states)

        harness.wait_for("every instance running", all_running, timeout=300, interval=0.5)

        def groups_in_service():
            groups = asg.describe_auto_scaling_groups(MaxRecords=100)["AutoScalingGroups"]
            return len(groups) == args.groups and all(
                len(g["Instances"]) == 1 and g["Instances"][0]["LifecycleState"] == "InService" for g in groups)

        harness.wait_for("every group in service", groups_in_service, timeout=300, interval=0.5)
        # A deployment for the deployments pages: green runs a second template.
        ec2.create_launch_template(LaunchTemplateName="bench-template-2", LaunchTemplateData={
            "ImageId": base, "InstanceType": "t2.nano"})
        r = d.shoal("deploy", "--lb", "bench-lb", "--port", "8080", "--group", "bench-group-00",
                    "--launch-template", "bench-template-2", "--strategy", "canary", "--percent", "10",
                    "--interval", "3600", "--detach")
        if r.returncode != 0:
            raise RuntimeError(f"shoal deploy: {r.stdout}{r.stderr}")
        deployment = r.stdout.strip()
        setup_s = time.perf_counter() - t0
        time.sleep(args.settle)

        total = len([i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]])
        pages = [
            ("instances", "/console/instances"),
            ("instance (detail)", f"/console/instances/{ids[0]}"),
            ("images", "/console/images"),
            ("launch templates", "/console/launch-templates"),
            ("launch template (detail)", f"/console/launch-templates/{lt['LaunchTemplateId']}"),
            ("groups", "/console/groups"),
            ("group (detail)", "/console/groups/bench-group-00"),
            ("load balancers", "/console/load-balancers"),
            ("load balancer (detail)", "/console/load-balancers/bench-lb"),
            ("target groups", "/console/target-groups"),
            ("target group (detail)", "/console/target-groups/bench-tg"),
            ("deployments", "/console/deployments"),
            ("deployment (detail)", f"/console/deployments/{deployment}"),
        ]
        print(f"shoal console render times: {total} instances, {args.groups} groups, "
              f"{args.runs} requests per page ({Path(harness.SHOAL).parent.name} build; setup {setup_s:.1f} s)")
        print(f"{'page':<26} {'median':>8} {'p90':>8} {'max':>8} {'size':>9}")
        worst = 0.0
        for name, path in pages:
            fetch_ms(d.endpoint + path)  # warm up
            times, size = [], 0
            for _ in range(args.runs):
                ms, size = fetch_ms(d.endpoint + path)
                times.append(ms)
            times.sort()
            p90 = times[int(0.9 * (len(times) - 1))]
            worst = max(worst, times[-1])
            print(f"{name:<26} {statistics.median(times):8.1f} {p90:8.1f} {times[-1]:8.1f} {size / 1024:7.0f} KiB")
        print(f"(ms; budget {BUDGET_MS} ms per page: {'met' if worst <= BUDGET_MS else 'EXCEEDED'})")
    finally:
        d.close()


if __name__ == "__main__":
    main()
