"""Shared steps of the ELBv2 suites: the lab's instances, its load balancer, and
requests through the load balancer by DNS name on Shoal's own port (edge routing),
which works whether or not the OS let the listener bind its port."""
import http.client
import time
import urllib.parse

from harness import ROOT, http_get, wait_for

SETUP = (ROOT / "examples" / "lab" / "setup.sh").read_text()
AL2023 = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
# What an ALB answers itself when no target could be reached (observed AWS body).
AWS_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
           "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")
LAB_HEALTH_CHECK = dict(HealthCheckPath="/health", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                        HealthyThresholdCount=2, UnhealthyThresholdCount=2)


def launch_lab_instances(d, count, zone=None):
    """`count` standalone instances running the lab app; waits until each answers.
    Returns [{"id", "private_ip", "public_ip", "zone"}]."""
    ec2 = d.boto("ec2")
    kwargs = dict(ImageId=AL2023, InstanceType="t2.micro", MinCount=count, MaxCount=count, UserData=SETUP,
                  SecurityGroupIds=[d.web_group()])
    if zone:
        kwargs["Placement"] = {"AvailabilityZone": zone}
    ids = [i["InstanceId"] for i in ec2.run_instances(**kwargs)["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    out = []
    for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
        for i in r["Instances"]:
            out.append({"id": i["InstanceId"], "private_ip": i["PrivateIpAddress"],
                        "public_ip": i["PublicIpAddress"], "zone": i["Placement"]["AvailabilityZone"]})
    for i in out:
        wait_for(f"lab app on {i['id']}", lambda i=i: http_get(f"http://{i['public_ip']}:3000/health")[0] == 200)
    out.sort(key=lambda i: ids.index(i["id"]))
    return out


def default_network(d):
    ec2 = d.boto("ec2")
    vpc = [v for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]][0]["VpcId"]
    subnets = sorted(ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])
    return vpc, [s["SubnetId"] for s in subnets]


def security_group(d, name):
    if name == "web":
        return d.web_group()
    ec2 = d.boto("ec2")
    found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    if found:
        return found[0]["GroupId"]
    vpc, _ = default_network(d)
    return ec2.create_security_group(GroupName=name, Description=f"{name} group", VpcId=vpc)["GroupId"]


def request(endpoint, host, path="/", method="GET", headers=None, timeout=5.0):
    """(status, body, headers) of one request to Shoal's port with `Host: host`."""
    netloc = urllib.parse.urlparse(endpoint).netloc
    addr, port = netloc.rsplit(":", 1)
    conn = http.client.HTTPConnection(addr, int(port), timeout=timeout)
    try:
        conn.request(method, path, headers={"Host": f"{host}:{port}", **(headers or {})})
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace"), {k.lower(): v for k, v in r.getheaders()}
    except OSError:
        return 0, "", {}
    finally:
        conn.close()


def health(elb, tg_arn):
    """{target id: (state, reason)} of a target group."""
    return {t["Target"]["Id"]: (t["TargetHealth"]["State"], t["TargetHealth"].get("Reason"))
            for t in elb.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]}


def wait_target(elb, tg_arn, target_id, state, timeout=30):
    return wait_for(f"{target_id} {state}", lambda: health(elb, tg_arn).get(target_id, ("?",))[0] == state
                    and health(elb, tg_arn)[target_id], timeout=timeout, interval=0.2)


def spray(endpoint, host, seconds=None, count=None, path="/"):
    """Requests one after another for `seconds` (or `count` times); returns [(status, body)]."""
    out = []
    deadline = time.monotonic() + (seconds or 0)
    while (count is not None and len(out) < count) or (count is None and time.monotonic() < deadline):
        status, body, _ = request(endpoint, host, path)
        out.append((status, body))
    return out


def lab_stack(d, name="exercise-lb", tg_name="exercise-target-group", target_type="instance", targets=(),
              port=80, health_check=None):
    """The lab's load balancer (two zones, groups default + web), target group (HTTP :3000,
    GET /health) and HTTP listener forwarding to it, with `targets` registered.
    Returns (load balancer, target group, listener) as the API describes them."""
    elb = d.boto("elbv2")
    vpc, subnets = default_network(d)
    groups = [security_group(d, "default"), security_group(d, "web")]
    if port not in (80, 3000):  # the host reaches the listener through a group admitting it
        groups.append(d.admitting_group(f"listener-{port}", (port,)))
    lb = elb.create_load_balancer(Name=name, Subnets=subnets[:2], SecurityGroups=groups)
    lb = lb["LoadBalancers"][0]
    tg = elb.create_target_group(Name=tg_name, Protocol="HTTP", Port=3000, VpcId=vpc, TargetType=target_type,
                                 **(health_check or LAB_HEALTH_CHECK))["TargetGroups"][0]
    listener = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    if targets:
        elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": t} for t in targets])
    elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb["LoadBalancerArn"]],
                                                    WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return lb, tg, listener["Listeners"][0]


def wait_in_service(elb, tg_arn):
    elb.get_waiter("target_in_service").wait(TargetGroupArn=tg_arn, WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def who(body):
    """The instance id a lab app response names."""
    return body.split("(instance ")[1].split(" ")[0] if "(instance " in body else None
