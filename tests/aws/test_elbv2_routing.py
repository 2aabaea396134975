"""Listener rules and actions through a real load balancer: weighted forwards, path and
host rules, fixed responses, redirects, the 503 of an empty group, access logs and
AWS/ApplicationELB metrics."""
import http.client
import sqlite3
import time
from pathlib import Path

from harness import wait_for
from elbv2_lab import (LAB_HEALTH_CHECK, default_network, lab_stack, launch_lab_instances, request,
                       spray, wait_in_service, who)


def second_group(d, name, targets):
    elb = d.boto("elbv2")
    vpc, _ = default_network(d)
    tg = elb.create_target_group(Name=name, Protocol="HTTP", Port=3000, VpcId=vpc, **LAB_HEALTH_CHECK)
    arn = tg["TargetGroups"][0]["TargetGroupArn"]
    if targets:
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": t} for t in targets])
    return arn


def test_weighted_forward_splits_in_proportion(daemon):
    d = daemon
    blue, green = launch_lab_instances(d, 2)
    lb, tg, listener = lab_stack(d, targets=[blue["id"]])
    green_tg = second_group(d, "exercise-group-green", [green["id"]])
    elb = d.boto("elbv2")
    wait_in_service(elb, tg["TargetGroupArn"])
    # A group no listener forwards to is not in use.
    assert elb.describe_target_health(TargetGroupArn=green_tg)["TargetHealthDescriptions"][0]["TargetHealth"] \
        ["Reason"] == "Target.NotInUse"
    elb.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=[{
        "Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": tg["TargetGroupArn"], "Weight": 1},
            {"TargetGroupArn": green_tg, "Weight": 3}]}}])
    wait_in_service(elb, green_tg)
    described = elb.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"][0]
    weights = {g["TargetGroupArn"]: g["Weight"] for g in described["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]}
    assert weights == {tg["TargetGroupArn"]: 1, green_tg: 3}
    names = [who(body) for s, body in spray(d.endpoint, lb["DNSName"], count=400)]
    share = names.count(green["id"]) / len(names)
    assert names.count(None) == 0
    assert 0.65 <= share <= 0.85, share   # 3/4 expected
    # Both groups now serve this load balancer.
    assert elb.describe_target_groups(TargetGroupArns=[green_tg])["TargetGroups"][0]["LoadBalancerArns"] == \
        [lb["LoadBalancerArn"]]
    # Weight 0 takes a group out of rotation: the blue/green cut-over.
    elb.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=[{
        "Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": tg["TargetGroupArn"], "Weight": 0},
            {"TargetGroupArn": green_tg, "Weight": 1}]}}])
    assert {who(b) for _, b in spray(d.endpoint, lb["DNSName"], count=10)} == {green["id"]}


def test_rules_fixed_response_redirect_and_503(daemon):
    d = daemon
    a, b = launch_lab_instances(d, 2)
    lb, tg, listener = lab_stack(d, targets=[a["id"]], port=8080)
    other = second_group(d, "api-group", [b["id"]])
    empty = second_group(d, "empty-group", [])
    elb, l_arn, dns = d.boto("elbv2"), listener["ListenerArn"], lb["DNSName"]
    wait_in_service(elb, tg["TargetGroupArn"])

    by_path = elb.create_rule(ListenerArn=l_arn, Priority=10,
                              Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
                              Actions=[{"Type": "forward", "TargetGroupArn": other}])["Rules"][0]
    elb.create_rule(ListenerArn=l_arn, Priority=20,
                    Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["beta.*"]}}],
                    Actions=[{"Type": "forward", "TargetGroupArn": other}])
    elb.create_rule(ListenerArn=l_arn, Priority=30, Conditions=[{"Field": "path-pattern", "Values": ["/teapot"]}],
                    Actions=[{"Type": "fixed-response", "FixedResponseConfig": {
                        "StatusCode": "418", "ContentType": "text/plain", "MessageBody": "short and stout"}}])
    elb.create_rule(ListenerArn=l_arn, Priority=40, Conditions=[{"Field": "path-pattern", "Values": ["/old/*"]}],
                    Actions=[{"Type": "redirect", "RedirectConfig": {
                        "Path": "/new/#{path}", "StatusCode": "HTTP_302"}}])
    elb.create_rule(ListenerArn=l_arn, Priority=50, Conditions=[{"Field": "path-pattern", "Values": ["/empty"]}],
                    Actions=[{"Type": "forward", "TargetGroupArn": empty}])

    wait_in_service(elb, other)
    rules = elb.describe_rules(ListenerArn=l_arn)["Rules"]
    assert [r["Priority"] for r in rules] == ["10", "20", "30", "40", "50", "default"]
    assert rules[-1]["IsDefault"] and not rules[0]["IsDefault"]
    assert rules[0]["Conditions"][0]["PathPatternConfig"]["Values"] == ["/api/*"]

    assert who(request(d.endpoint, dns, "/")[1]) == a["id"]
    assert request(d.endpoint, dns, "/api/users")[:2] == (404, "Not Found\n")   # the app on b
    # Host rules see the Host header without its port, case-insensitively. Edge routing
    # needs the DNS name as Host, so this goes to the listener's own address and port.
    lb_ip = lb["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["IpAddress"]
    c = http.client.HTTPConnection(lb_ip, 8080, timeout=5)
    c.request("GET", "/", headers={"Host": "Beta.example.com:8080"})
    assert who(c.getresponse().read().decode()) == b["id"]
    c.close()
    status, body, headers = request(d.endpoint, dns, "/teapot")
    assert (status, body, headers["content-type"].split(";")[0]) == (418, "short and stout", "text/plain")
    status, _, headers = request(d.endpoint, dns, "/old/page?x=1")
    assert status == 302 and headers["location"] == f"http://{dns}:8080/new/old/page?x=1"
    status, body, headers = request(d.endpoint, dns, "/empty")
    assert status == 503 and "503 Service Temporarily Unavailable" in body and headers["server"] == "awselb/2.0"

    # Priorities move; the first match wins.
    elb.set_rule_priorities(RulePriorities=[{"RuleArn": by_path["RuleArn"], "Priority": 60}])
    elb.create_rule(ListenerArn=l_arn, Priority=5, Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
                    Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200",
                                                                                 "MessageBody": "first"}}])
    assert request(d.endpoint, dns, "/api/x")[:2] == (200, "first")
    elb.modify_rule(RuleArn=by_path["RuleArn"], Conditions=[{"Field": "path-pattern", "Values": ["/v2/*"]}])
    elb.delete_rule(RuleArn=rules[2]["RuleArn"])
    # Unlike AWS (eventually consistent), a write answers once the load balancer routes by it.
    assert request(d.endpoint, dns, "/teapot")[:2] == (404, "Not Found\n")   # the app, by the default rule


def test_access_log_lines_match_requests(daemon):
    d = daemon
    (a,) = launch_lab_instances(d, 1)
    lb, tg, _ = lab_stack(d, targets=[a["id"]])
    elb = d.boto("elbv2")
    wait_in_service(elb, tg["TargetGroupArn"])
    attrs = elb.modify_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"], Attributes=[
        {"Key": "access_logs.s3.enabled", "Value": "true"}, {"Key": "idle_timeout.timeout_seconds", "Value": "30"}])
    attrs = {x["Key"]: x["Value"] for x in attrs["Attributes"]}
    assert attrs["access_logs.s3.enabled"] == "true" and attrs["idle_timeout.timeout_seconds"] == "30"
    dim = lb["LoadBalancerArn"].split(":loadbalancer/")[1]
    log = Path(d.data_dir) / "logs" / "elb" / (dim.replace("/", ".") + ".log")
    time.sleep(0.5)
    paths = ["/", "/health", "/nope", "/?q=1"]
    for p in paths:
        request(d.endpoint, lb["DNSName"], p, headers={"User-Agent": "lab-test/1.0"})
    lines = wait_for("access log lines", lambda: log.exists() and len(log.read_text().splitlines()) >= 4 and
                     log.read_text().splitlines(), timeout=10)
    assert len(lines) == 4, lines   # health checks are not logged
    for line, path in zip(lines, paths):
        fields = line.split(" ")
        assert fields[0] == "http" and fields[2] == dim
        assert fields[4] == f"{a['public_ip']}:3000"
        status = "404" if path == "/nope" else "200"
        assert fields[8] == status and fields[9] == status
        assert f'"GET http://{lb["DNSName"]}:' in line and f'{path} HTTP/1.1"' in line
        assert '"lab-test/1.0"' in line and tg["TargetGroupArn"] in line
    # The target's own access log shows the health checks, every 5 seconds.
    # Read inside the instance (its working directory is its root, in either isolation).
    app_log = d.shoal("ssh", a["id"], "--", "cat", "var/log/app/access.log")
    assert app_log.returncode == 0 and "ELB-HealthChecker/2.0" in app_log.stdout, app_log


def test_metrics_are_published_with_aws_dimensions():
    from harness import Daemon
    d = Daemon("--metric-period", "1")
    try:
        (a,) = launch_lab_instances(d, 1)
        lb, tg, _ = lab_stack(d, targets=[a["id"]])
        wait_in_service(d.boto("elbv2"), tg["TargetGroupArn"])
        spray(d.endpoint, lb["DNSName"], count=5)
        spray(d.endpoint, lb["DNSName"], count=2, path="/nope")
        lb_dim = lb["LoadBalancerArn"].split(":loadbalancer/")[1]
        tg_dim = "targetgroup/" + tg["TargetGroupArn"].split(":targetgroup/")[1]

        def series():
            db = sqlite3.connect(f"file:{Path(d.data_dir) / 'state.db'}?mode=ro", uri=True)
            try:
                rows = db.execute("SELECT metric, dimensions, SUM(value) FROM metric_data "
                                  "WHERE namespace = 'AWS/ApplicationELB' GROUP BY metric, dimensions").fetchall()
            finally:
                db.close()
            return {(m, dims): v for m, dims, v in rows}

        lb_only = f'[["LoadBalancer","{lb_dim}"]]'
        both = f'[["LoadBalancer","{lb_dim}"],["TargetGroup","{tg_dim}"]]'
        s = wait_for("metrics", lambda: (series().get(("RequestCount", lb_only), 0) >= 7) and series(), timeout=15)
        assert s[("RequestCount", lb_only)] == 7
        assert s[("HTTPCode_Target_2XX_Count", lb_only)] == 5
        assert s[("HTTPCode_Target_4XX_Count", lb_only)] == 2
        assert ("TargetResponseTime", lb_only) in s
        assert s[("RequestCount", both)] == 7
        assert s[("RequestCountPerTarget", f'[["TargetGroup","{tg_dim}"]]')] == 7
        assert s[("HealthyHostCount", both)] >= 1
    finally:
        d.close()
