"""The ELBv2 API itself: every response checked against botocore's model, AWS's error
codes for bad input (and nothing changed by a refused request), pagination, tags,
attributes, draining, listeners the OS will not bind, and a daemon restart."""
import os
import signal
import socket
import time

from botocore.config import Config
from botocore.exceptions import ClientError

from harness import Daemon, wait_for
from elbv2_lab import (default_network, health, lab_stack, launch_lab_instances, request, security_group,
                       spray, wait_in_service, who)
from test_ec2_boto3 import assert_shape, members


def unchecked(d):
    """An elbv2 client that sends what botocore's own checks would refuse."""
    return d.boto("elbv2", config=Config(parameter_validation=False))


def snapshot(elb):
    """Everything ELBv2 holds, to check that refused requests change nothing."""
    lbs = elb.describe_load_balancers()["LoadBalancers"]
    tgs = elb.describe_target_groups()["TargetGroups"]
    out = {"lbs": lbs, "tgs": tgs, "listeners": [], "rules": [], "targets": {}, "attrs": {}, "tags": {}}
    for lb in lbs:
        ls = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        out["listeners"] += ls
        for l in ls:
            out["rules"] += elb.describe_rules(ListenerArn=l["ListenerArn"])["Rules"]
        out["attrs"][lb["LoadBalancerArn"]] = elb.describe_load_balancer_attributes(
            LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
    for tg in tgs:
        out["targets"][tg["TargetGroupArn"]] = sorted(
            t["Target"]["Id"] for t in elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
            ["TargetHealthDescriptions"])
        out["attrs"][tg["TargetGroupArn"]] = elb.describe_target_group_attributes(
            TargetGroupArn=tg["TargetGroupArn"])["Attributes"]
    arns = [x["LoadBalancerArn"] for x in lbs] + [x["TargetGroupArn"] for x in tgs]
    if arns:
        out["tags"] = elb.describe_tags(ResourceArns=arns)["TagDescriptions"]
    return out


def test_responses_match_botocore_model(daemon):
    d = daemon
    (a,) = launch_lab_instances(d, 1)
    lb, tg, listener = lab_stack(d, targets=[a["id"]], port=8081)
    elb = d.boto("elbv2")
    wait_in_service(elb, tg["TargetGroupArn"])
    rule = elb.create_rule(ListenerArn=listener["ListenerArn"], Priority=1, Conditions=[
        {"Field": "path-pattern", "Values": ["/a/*"]},
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "Values": ["beta"]}},
        {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}},
        {"Field": "source-ip", "SourceIpConfig": {"Values": ["127.0.0.0/8"]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET"]}}],
        Actions=[{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "StatusCode": "HTTP_301"}}])
    assert_shape(rule, members(elb, "CreateRule"))
    calls = {
        "DescribeLoadBalancers": elb.describe_load_balancers(),
        "DescribeListeners": elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"]),
        "DescribeRules": elb.describe_rules(ListenerArn=listener["ListenerArn"]),
        "DescribeTargetGroups": elb.describe_target_groups(),
        "DescribeTargetHealth": elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"]),
        "DescribeLoadBalancerAttributes": elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"]),
        "DescribeTargetGroupAttributes": elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"]),
        "DescribeTags": elb.describe_tags(ResourceArns=[lb["LoadBalancerArn"]]),
        "SetSecurityGroups": elb.set_security_groups(LoadBalancerArn=lb["LoadBalancerArn"],
                                                     SecurityGroups=[security_group(d, "web")]),
        "SetSubnets": elb.set_subnets(LoadBalancerArn=lb["LoadBalancerArn"], Subnets=default_network(d)[1]),
    }
    for op, resp in calls.items():
        assert_shape(resp, members(elb, op), op)
    desc = calls["DescribeRules"]["Rules"][0]
    fields = [c["Field"] for c in desc["Conditions"]]
    assert fields == ["path-pattern", "http-header", "query-string", "source-ip", "http-request-method"]
    assert desc["Actions"][0]["RedirectConfig"] == {"Protocol": "HTTPS", "Port": "#{port}", "Host": "#{host}",
                                                    "Path": "/#{path}", "Query": "#{query}", "StatusCode": "HTTP_301"}
    assert calls["SetSecurityGroups"]["SecurityGroupIds"] == [security_group(d, "web")]
    assert len(calls["SetSubnets"]["AvailabilityZones"]) == 6
    attrs = {x["Key"]: x["Value"] for x in calls["DescribeTargetGroupAttributes"]["Attributes"]}
    assert attrs["deregistration_delay.timeout_seconds"] == "300"
    assert attrs["shoal.retry_on_connect_failure.enabled"] == "true"
    # The same create again returns the same resources (AWS's idempotency).
    again = elb.create_load_balancer(Name="exercise-lb", Subnets=default_network(d)[1],
                                     SecurityGroups=[security_group(d, "web")])
    assert again["LoadBalancers"][0]["LoadBalancerArn"] == lb["LoadBalancerArn"]


def test_bad_input_gets_aws_codes_and_changes_nothing(daemon):
    d = daemon
    (a,) = launch_lab_instances(d, 1)
    lb, tg, listener = lab_stack(d, targets=[a["id"]], port=8082)
    elb = d.boto("elbv2")
    vpc, subnets = default_network(d)
    lb_arn, tg_arn, l_arn = lb["LoadBalancerArn"], tg["TargetGroupArn"], listener["ListenerArn"]
    elb.create_rule(ListenerArn=l_arn, Priority=7, Conditions=[{"Field": "path-pattern", "Values": ["/x"]}],
                    Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}])
    elb.add_tags(ResourceArns=[lb_arn], Tags=[{"Key": "team", "Value": "lab"}])
    before = snapshot(elb)
    gone_lb = lb_arn[:-16] + "0" * 16
    gone_tg = tg_arn[:-16] + "0" * 16
    gone_l = l_arn[:-16] + "0" * 16
    cases = [
        (("describe-load-balancers", "--load-balancer-arns", gone_lb), "LoadBalancerNotFound"),
        (("describe-load-balancers", "--names", "nope"), "LoadBalancerNotFound"),
        (("describe-target-groups", "--target-group-arns", gone_tg), "TargetGroupNotFound"),
        (("describe-target-health", "--target-group-arn", gone_tg), "TargetGroupNotFound"),
        (("describe-listeners", "--listener-arns", gone_l), "ListenerNotFound"),
        (("describe-rules", "--listener-arn", gone_l), "ListenerNotFound"),
        (("delete-listener", "--listener-arn", gone_l), "ListenerNotFound"),
        (("register-targets", "--target-group-arn", gone_tg, "--targets", f"Id={a['id']}"), "TargetGroupNotFound"),
        (("create-listener", "--load-balancer-arn", gone_lb, "--protocol", "HTTP", "--port", "81",
          "--default-actions", f"Type=forward,TargetGroupArn={tg_arn}"), "LoadBalancerNotFound"),
        (("create-listener", "--load-balancer-arn", lb_arn, "--protocol", "HTTP", "--port", "82",
          "--default-actions", f"Type=forward,TargetGroupArn={gone_tg}"), "TargetGroupNotFound"),
        (("add-tags", "--resource-arns", gone_tg, "--tags", "Key=a,Value=b"), "TargetGroupNotFound"),
        # Duplicate names (different settings) and a port already used on this load balancer.
        (("create-load-balancer", "--name", "exercise-lb", "--subnets", subnets[1], subnets[2]),
         "DuplicateLoadBalancerName"),
        (("create-target-group", "--name", "exercise-target-group", "--protocol", "HTTP", "--port", "8080",
          "--vpc-id", vpc), "DuplicateTargetGroupName"),
        (("create-listener", "--load-balancer-arn", lb_arn, "--protocol", "HTTP", "--port", "8082",
          "--default-actions", "Type=fixed-response,FixedResponseConfig={StatusCode=200}"), "DuplicateListener"),
        (("modify-listener", "--listener-arn", l_arn, "--protocol", "TCP"), "ValidationError"),
        # Health check values out of AWS's ranges.
        (("modify-target-group", "--target-group-arn", tg_arn, "--health-check-timeout-seconds", "9"),
         "ValidationError"),   # not smaller than the interval (5)
        (("modify-target-group", "--target-group-arn", tg_arn, "--matcher", "HttpCode=500"), "ValidationError"),
        (("create-target-group", "--name", "bad_name", "--protocol", "HTTP", "--port", "80", "--vpc-id", vpc),
         "ValidationError"),
        (("modify-target-group-attributes", "--target-group-arn", tg_arn, "--attributes",
          "Key=deregistration_delay.timeout_seconds,Value=3601"), "ValidationError"),
        (("modify-load-balancer-attributes", "--load-balancer-arn", lb_arn, "--attributes",
          "Key=idle_timeout.timeout_seconds,Value=30", "Key=nope,Value=1"), "ValidationError"),
        # Rules: priority in use, out of range, the default rule.
        (("create-rule", "--listener-arn", l_arn, "--priority", "7", "--conditions",
          "Field=path-pattern,Values=/y", "--actions", "Type=fixed-response,FixedResponseConfig={StatusCode=200}"),
         "PriorityInUse"),
        (("create-rule", "--listener-arn", l_arn, "--priority", "50001", "--conditions",
          "Field=path-pattern,Values=/y", "--actions", "Type=fixed-response,FixedResponseConfig={StatusCode=200}"),
         "ValidationError"),
        (("delete-rule", "--rule-arn", before["rules"][-1]["RuleArn"]), "OperationNotPermitted"),
        (("set-rule-priorities", "--rule-priorities", f"RuleArn={before['rules'][-1]['RuleArn']},Priority=3"),
         "OperationNotPermitted"),
        # Targets.
        (("register-targets", "--target-group-arn", tg_arn, "--targets", "Id=i-0123456789abcdef0"), "InvalidTarget"),
        (("register-targets", "--target-group-arn", tg_arn, "--targets", "Id=10.0.0.1"), "InvalidTarget"),
        (("deregister-targets", "--target-group-arn", tg_arn, "--targets", "Id=i-0123456789abcdef0"),
         "InvalidTarget"),
        # A load balancer needs two zones; a target group in use cannot go.
        (("create-load-balancer", "--name", "one-zone", "--subnets", subnets[0]), "ValidationError"),
        (("create-load-balancer", "--name", "no-such-subnet", "--subnets", "subnet-0", subnets[0]), "SubnetNotFound"),
        (("create-load-balancer", "--name", "bad-sg", "--subnets", *subnets[:2], "--security-groups", "sg-0"),
         "InvalidSecurityGroup"),
        (("delete-target-group", "--target-group-arn", tg_arn), "ResourceInUse"),
        (("describe-listeners",), "ValidationError"),
    ]
    for args, code in cases:
        got, message = d.aws_error("elbv2", *args)
        assert got == code, (args, got, message)
    # What the CLI already refuses, sent anyway (an SDK without client-side checks).
    raw = unchecked(d)
    raw_cases = [
        (lambda: raw.modify_target_group(TargetGroupArn=tg_arn, HealthCheckIntervalSeconds=4), "ValidationError"),
        (lambda: raw.modify_target_group(TargetGroupArn=tg_arn, HealthyThresholdCount=11), "ValidationError"),
        (lambda: raw.modify_target_group(TargetGroupArn=tg_arn, UnhealthyThresholdCount=1), "ValidationError"),
        (lambda: raw.create_target_group(Name="x", Protocol="HTTP", Port=80, VpcId=vpc,
                                         HealthCheckTimeoutSeconds=121), "ValidationError"),
        (lambda: raw.modify_listener(ListenerArn=l_arn, Port=0), "ValidationError"),
        (lambda: raw.describe_load_balancers(PageSize=0), "ValidationError"),
        (lambda: raw.describe_target_groups(PageSize=401), "ValidationError"),
    ]
    for call, code in raw_cases:
        try:
            call()
            raise AssertionError(f"expected {code}")
        except ClientError as e:
            assert e.response["Error"]["Code"] == code, e.response
    # Deletion protection.
    elb.modify_load_balancer_attributes(LoadBalancerArn=lb_arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "true"}])
    assert d.aws_error("elbv2", "delete-load-balancer", "--load-balancer-arn", lb_arn)[0] == "OperationNotPermitted"
    elb.modify_load_balancer_attributes(LoadBalancerArn=lb_arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    assert snapshot(elb) == before
    # The Query error shape, as botocore parses it.
    try:
        elb.describe_target_groups(Names=["nope"])
        raise AssertionError("expected TargetGroupNotFound")
    except elb.exceptions.TargetGroupNotFoundException as e:
        assert e.response["Error"]["Type"] == "Sender"
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Unknown targets are reported, not refused.
    h = elb.describe_target_health(TargetGroupArn=tg_arn, Targets=[{"Id": "i-0123456789abcdef0"}])
    assert h["TargetHealthDescriptions"][0]["TargetHealth"]["Reason"] == "Target.NotRegistered"
    # Deleting is idempotent, as in AWS; then everything is gone.
    elb.delete_load_balancer(LoadBalancerArn=lb_arn)
    elb.delete_load_balancer(LoadBalancerArn=lb_arn)
    elb.delete_target_group(TargetGroupArn=tg_arn)
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    assert elb.describe_target_groups()["TargetGroups"] == []


def test_pagination_and_tags(daemon):
    d = daemon
    elb = d.boto("elbv2")
    vpc, subnets = default_network(d)
    for n in range(5):
        elb.create_target_group(Name=f"tg-{n}", Protocol="HTTP", Port=80 + n, VpcId=vpc,
                                Tags=[{"Key": "n", "Value": str(n)}])
        elb.create_load_balancer(Name=f"lb-{n}", Subnets=subnets[:2])
    pages = list(elb.get_paginator("describe_target_groups").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["TargetGroups"]) for p in pages] == [2, 2, 1]
    assert sorted(t["TargetGroupName"] for p in pages for t in p["TargetGroups"]) == [f"tg-{n}" for n in range(5)]
    page = elb.describe_load_balancers(PageSize=3)
    assert len(page["LoadBalancers"]) == 3
    rest = elb.describe_load_balancers(PageSize=3, Marker=page["NextMarker"])
    assert len(rest["LoadBalancers"]) == 2 and "NextMarker" not in rest
    every = d.aws("elbv2", "describe-load-balancers")
    assert sorted(l["LoadBalancerName"] for l in every["LoadBalancers"]) == [f"lb-{n}" for n in range(5)]

    arn = elb.describe_target_groups(Names=["tg-3"])["TargetGroups"][0]["TargetGroupArn"]
    elb.add_tags(ResourceArns=[arn], Tags=[{"Key": "Name", "Value": "green"}, {"Key": "n", "Value": "x"}])
    elb.remove_tags(ResourceArns=[arn], TagKeys=["n"])
    assert elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"] == [{"Key": "Name", "Value": "green"}]
    code, _ = d.aws_error("elbv2", "add-tags", "--resource-arns", arn, "--tags",
                          *[f"Key=k{i},Value=v" for i in range(50)])
    assert code == "TooManyTags"


def test_deregistration_drains_for_the_delay(daemon):
    d = daemon
    a, b = launch_lab_instances(d, 2)
    lb, tg, _ = lab_stack(d, targets=[a["id"], b["id"]], port=8083)
    elb, tg_arn = d.boto("elbv2"), tg["TargetGroupArn"]
    wait_in_service(elb, tg_arn)
    elb.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "4"}])
    started = time.monotonic()
    elb.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": a["id"]}])
    assert health(elb, tg_arn)[a["id"]] == ("draining", "Target.DeregistrationInProgress")
    # New requests stop at once.
    assert {who(body) for _, body in spray(d.endpoint, lb["DNSName"], count=6)} == {b["id"]}
    elb.get_waiter("target_deregistered").wait(TargetGroupArn=tg_arn, Targets=[{"Id": a["id"]}],
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    assert 3.5 <= time.monotonic() - started <= 15
    assert a["id"] not in health(elb, tg_arn)
    d.aws("elbv2", "wait", "target-deregistered", "--target-group-arn", tg_arn, "--targets", f"Id={a['id']}")


def test_listener_the_os_refuses_still_answers_through_shoal(daemon):
    d = daemon
    (a,) = launch_lab_instances(d, 1)
    lb, tg, _ = lab_stack(d, targets=[a["id"]], port=8084)
    elb = d.boto("elbv2")
    wait_in_service(elb, tg["TargetGroupArn"])
    lb_ip = lb["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["IpAddress"]
    # Something else holds the port on the load balancer's address.
    squatter = socket.socket()
    squatter.bind((lb_ip, 8085))
    squatter.listen()
    try:
        d.admitting_group("listener-8084", (8084, 8085))  # the new listener's port, from anywhere
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8085,
                            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
                                "StatusCode": "200", "MessageBody": "from 8085"}}])
        state = wait_for("the failure stated", lambda: elb.describe_load_balancers(
            LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]["State"].get("Reason") and
            elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]["State"])
        assert state["Code"] == "active"
        assert "port 8085" in state["Reason"] and "address already in use" in state["Reason"]
        assert lb["DNSName"] in state["Reason"]
        assert "listener not bound" in d.log()
        # Reachable through Shoal's port by DNS name, when the client names that port.
        status, body, _ = request(d.endpoint, lb["DNSName"], "/", headers={})
        assert who(body) == a["id"]   # the lowest port (8084) by default
        host, port = d.endpoint.removeprefix("http://").rsplit(":", 1)
        import http.client
        c = http.client.HTTPConnection(host, int(port), timeout=5)
        c.request("GET", "/", headers={"Host": f"{lb['DNSName']}:8085"})
        assert c.getresponse().read() == b"from 8085"
        c.close()
    finally:
        squatter.close()
    # Once the port is free, the next pass binds it and the reason goes away.
    elb.add_tags(ResourceArns=[lb["LoadBalancerArn"]], Tags=[{"Key": "poke", "Value": "1"}])
    wait_for("bound", lambda: "Reason" not in elb.describe_load_balancers(
        LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]["State"], timeout=15)


def test_state_survives_a_restart():
    d = Daemon()
    try:
        a, b = launch_lab_instances(d, 2)
        lb, tg, listener = lab_stack(d, targets=[a["id"], b["id"]], port=8086)
        elb = d.boto("elbv2")
        tg_arn = tg["TargetGroupArn"]
        wait_in_service(elb, tg_arn)
        elb.create_rule(ListenerArn=listener["ListenerArn"], Priority=3,
                        Conditions=[{"Field": "path-pattern", "Values": ["/ping"]}],
                        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200",
                                                                                     "MessageBody": "pong"}}])
        elb.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "6"}])
        elb.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": b["id"]}])
        before = snapshot(elb)

        # A clean stop (no reset): instances keep running, like VMs.
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(timeout=15)
        d.start()
        elb = d.boto("elbv2")
        after = snapshot(elb)
        assert after["lbs"] == before["lbs"] and after["tgs"] == before["tgs"]
        assert after["listeners"] == before["listeners"] and after["rules"] == before["rules"]
        assert after["attrs"] == before["attrs"]
        assert request(d.endpoint, lb["DNSName"], "/ping")[:2] == (200, "pong")
        wait_for("a healthy again", lambda: health(elb, tg_arn).get(a["id"], ("",))[0] == "healthy")
        assert who(request(d.endpoint, lb["DNSName"])[1]) == a["id"]
        # The deregistration time was recorded: the draining target still leaves on time.
        assert health(elb, tg_arn)[b["id"]][0] in ("draining", "unhealthy.draining")
        wait_for("drained", lambda: b["id"] not in health(elb, tg_arn), timeout=15)
        assert os.path.exists(f"/proc/{d.pid}")
    finally:
        d.close()
