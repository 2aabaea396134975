"""The AWS endpoint's HTTP edge against a hostile web page and careless or hostile
clients (issue 11): cross-site GETs that would run code, keys and bodies nested deep
enough to overflow a recursive decoder, idle and half-sent connections, a gzip bomb,
and refusals a client cannot parse. Each answer is in AWS's error shape, nothing
changes, and the daemon keeps serving."""
import gzip
import http.client
import json
import re
import resource
import socket
import time
import urllib.parse
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest

from harness import Daemon, wait_for


def hostport(daemon):
    host, port = urllib.parse.urlparse(daemon.endpoint).netloc.rsplit(":", 1)
    return host, int(port)


def raw(daemon, method, path, body=b"", headers=None, timeout=20):
    """(status, headers, body) of one request on its own connection."""
    host, port = hostport(daemon)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def xml_error(body):
    """(Code, Message) of an EC2 or Query error document."""
    root = ET.fromstring(body)
    code = next(e.text for e in root.iter() if e.tag.endswith("Code"))
    message = next(e.text for e in root.iter() if e.tag.endswith("Message"))
    return code, message


def still_serving(daemon):
    assert daemon.boto("cloudwatch").list_metrics()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert daemon.boto("ec2").describe_vpcs()["Vpcs"]


def instance_count(daemon):
    return sum(len(r["Instances"]) for r in daemon.boto("ec2").describe_instances()["Reservations"])


# -- 1. a cross-site GET must not run anything -------------------------------------------

def test_get_runs_only_read_actions_and_cross_site_gets_are_refused(daemon):
    netloc = "%s:%d" % hostport(daemon)
    run = urllib.parse.urlencode({
        "Action": "RunInstances", "Version": "2016-11-15", "ImageId": daemon.base_image(),
        "MinCount": "1", "MaxCount": "1", "InstanceType": "t2.micro",
    })
    # What an <img> on a hostile page sends, and the same GET without browser headers.
    hostile = {"Host": netloc, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    status, _, body = raw(daemon, "GET", "/?" + run, headers=hostile)
    assert status == 403 and xml_error(body)[0] == "AccessDenied"
    status, _, body = raw(daemon, "GET", "/?" + run, headers={"Host": netloc, "Sec-Fetch-Site": "cross-site"})
    assert status == 403 and xml_error(body)[0] == "AccessDenied"
    status, _, body = raw(daemon, "GET", "/?" + run, headers={"Host": netloc})
    assert status == 400
    code, message = xml_error(body)
    assert code == "UnsupportedOperation" and "POST" in message
    assert instance_count(daemon) == 0, "nothing ran"

    # Read-only actions still answer a GET (from no browser, or the same origin).
    describe = "/?Action=DescribeVpcs&Version=2016-11-15"
    status, _, body = raw(daemon, "GET", describe, headers={"Host": netloc})
    assert status == 200 and b"<vpcSet>" in body
    status, _, _ = raw(daemon, "GET", describe, headers={"Host": netloc, "Sec-Fetch-Site": "same-origin"})
    assert status == 200
    # A state-changing Query action over GET, in the Query error shape.
    status, _, body = raw(daemon, "GET", "/?Action=PutMetricData&Version=2010-08-01&Namespace=X"
                          "&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1")
    assert status == 400 and b"<ErrorResponse>" in body
    assert not daemon.boto("cloudwatch").list_metrics(Namespace="X")["Metrics"]
    # A link to the console from another site still opens it.
    status, _, _ = raw(daemon, "GET", "/console/instances", headers={"Host": netloc, "Sec-Fetch-Site": "cross-site"})
    assert status == 200
    still_serving(daemon)


# -- 2. deep nesting is refused, not recursed into ---------------------------------------

def test_deeply_nested_input_gets_a_validation_error_and_the_daemon_keeps_serving(daemon):
    key = "Namespace" + ".a" * 2400
    form = f"Action=ListMetrics&Version=2010-08-01&{key}=x"
    status, _, body = raw(daemon, "POST", "/", form.encode(),
                          {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and xml_error(body)[0] == "ValidationError"
    status, _, body = raw(daemon, "GET", "/?" + form)
    assert status == 400 and xml_error(body)[0] == "ValidationError"
    # The same key on EC2 and Auto Scaling, whose decoders are not recursive: refused too.
    status, _, body = raw(daemon, "POST", "/", f"Action=DescribeVpcs&Version=2016-11-15&{key}=x".encode(),
                          {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and b"<Response><Errors>" in body and xml_error(body)[0] == "ValidationError"

    # AWS JSON 1.0 (what boto3 sends CloudWatch): 2,400 nested arrays.
    deep_json = b'{"Namespace":' + b"[" * 2400 + b"]" * 2400 + b"}"
    status, headers, body = raw(daemon, "POST", "/", deep_json, {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics"})
    assert status == 400 and json.loads(body)["__type"].endswith("#ValidationError")
    assert headers["x-amzn-query-error"].startswith("ValidationError;")
    # smithy rpc-v2-cbor: 2,400 nested one-element arrays, then 2,400 nested tags.
    for head in (b"\x81", b"\xc1"):
        status, headers, _ = raw(daemon, "POST", "/service/GraniteServiceVersion20100801/operation/ListMetrics",
                                 head * 2400 + b"\x00",
                                 {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"})
        assert status == 400 and headers["x-amzn-query-error"].startswith("ValidationError;")
    still_serving(daemon)


# -- 5. limits apply after decompression -------------------------------------------------

def test_a_gzip_bomb_gets_413_without_being_inflated(daemon):
    # 64 MiB of form padding compress to about 64 KiB; the limit is 2 MiB decompressed.
    padding = b"Namespace=" + b"a" * (64 << 20)
    bomb = gzip.compress(b"Action=ListMetrics&Version=2010-08-01&" + padding, compresslevel=9)
    assert len(bomb) < 1 << 20
    status, _, body = raw(daemon, "POST", "/", bomb, {
        "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"})
    assert status == 413 and xml_error(body)[0] == "RequestEntityTooLarge"
    # boto3 compresses a large PutMetricData itself: past the limit once inflated.
    cw = daemon.boto("cloudwatch")
    data = [{"MetricName": "m" * 200, "Value": 1.0,
             "Dimensions": [{"Name": "d%d" % d, "Value": "v" * 250} for d in range(30)]}
            for _ in range(300)]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_data(Namespace="Bomb", MetricData=data)
    assert e.value.response["Error"]["Code"] == "RequestEntityTooLarge"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert not cw.list_metrics(Namespace="Bomb")["Metrics"], "nothing stored"
    still_serving(daemon)


# -- 8. every refusal in AWS's shape -----------------------------------------------------

def test_refusals_are_in_aws_error_shape(daemon):
    # An oversized body through boto3: an error with a code, not a parse error.
    ec2 = daemon.boto("ec2")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances(Filters=[{"Name": "tag:big", "Values": ["x" * (3 << 20)]}])
    assert e.value.response["Error"]["Code"] == "RequestEntityTooLarge"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413

    status, _, body = raw(daemon, "GET", "/no/such/path")
    assert status == 404 and xml_error(body)[0] == "NotFound"
    status, _, body = raw(daemon, "PUT", "/", b"x")
    assert status == 405 and xml_error(body)[0] == "MethodNotAllowed"
    # JSON clients get JSON errors.
    status, headers, body = raw(daemon, "PUT", "/", b"{}", {
        "X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics",
        "Content-Type": "application/x-amz-json-1.0"})
    assert status == 405 and json.loads(body)["__type"].endswith("#MethodNotAllowed")
    # Too many header fields, and too large a head: 431 with a body.
    many = {f"X-Pad-{i}": "x" for i in range(150)}
    status, _, body = raw(daemon, "POST", "/", b"Action=DescribeVpcs&Version=2016-11-15", many)
    assert status == 431 and xml_error(body)[0] == "RequestHeaderFieldsTooLarge"
    status, _, body = raw(daemon, "GET", "/?Action=DescribeVpcs&Version=2016-11-15", headers={"X-Big": "y" * 70_000})
    assert status == 431 and xml_error(body)[0] == "RequestHeaderFieldsTooLarge"
    # A foreign Origin: 403 in the Query shape.
    status, _, body = raw(daemon, "POST", "/", b"Action=DescribeVpcs&Version=2016-11-15",
                          {"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and xml_error(body)[0] == "AccessDenied"
    still_serving(daemon)


# -- 3. idle and half-sent connections time out; the API keeps answering ----------------

def open_connections(daemon, n, half_sent):
    socks = []
    for i in range(n):
        s = socket.create_connection(hostport(daemon), timeout=5)
        if half_sent and i % 2:
            # A body shorter than its Content-Length.
            s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 1000\r\n\r\nAction=DescribeVpcs")
        elif half_sent:
            s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # half a head
        socks.append(s)
    return socks


def closed_by_peer(s, timeout):
    """Whether the daemon closed `s` within `timeout` seconds (what it answered is read)."""
    s.settimeout(timeout)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_idle_and_half_sent_connections_are_closed_while_the_api_answers():
    d = Daemon("--header-read-timeout", "2", "--body-read-timeout", "3")
    socks = []
    try:
        socks = open_connections(d, 300, half_sent=True)
        # Meanwhile the API answers.
        start = time.monotonic()
        still_serving(d)
        assert all(closed_by_peer(s, 15) for s in socks), "every idle or half-sent connection is closed"
        assert time.monotonic() - start < 60
        # The half-sent bodies got AWS's RequestTimeout before the close.
        s = open_connections(d, 2, half_sent=True)[1]
        s.settimeout(15)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 400") and b"<Code>RequestTimeout</Code>" in answer
        s.close()
        still_serving(d)
        assert "max_connections" in d.log()
    finally:
        for s in socks:
            s.close()
        d.close()


def test_a_low_descriptor_limit_and_300_idle_connections_do_not_stop_the_api():
    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    import harness
    import subprocess
    popen = subprocess.Popen
    # Start the daemon under soft = hard = 256 open files.
    harness.subprocess.Popen = lambda *a, **k: popen(*a, preexec_fn=low_nofile, **k)
    try:
        d = Daemon("--header-read-timeout", "2")
    finally:
        harness.subprocess.Popen = popen
    socks = []
    try:
        with open(f"/proc/{d.pid}/limits") as f:
            assert any(line.startswith("Max open files") and line.split()[3] == "256" for line in f)
        socks = open_connections(d, 300, half_sent=False)
        # More clients than descriptors: the idle ones time out, new requests are served.
        wait_for("the API to answer", lambda: still_serving(d) is None, timeout=60, interval=0.5)
        for s in socks:
            s.close()
        socks = []
        still_serving(d)
        assert d.proc.poll() is None, "the daemon still runs"
        log = re.sub(r"\x1b\[[0-9;]*m", "", d.log())
        assert "max_connections=128" in log
        assert log.count("accept failed") <= 1, "no log flood"
    finally:
        for s in socks:
            s.close()
        d.close()
