"""A web page on another site must not be able to drive Shoal through the user's
browser: cross-origin POSTs (a form posting `Action=TerminateInstances`, a console
form) and requests under a foreign name (DNS rebinding) are refused and change nothing,
while the aws CLI, boto3 and the console's own same-origin forms keep working."""
import http.client
import urllib.parse

from harness import wait_for


def raw(daemon, method, path, body=b"", headers=None):
    netloc = urllib.parse.urlparse(daemon.endpoint).netloc
    host, port = netloc.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def test_cross_site_requests_are_refused_and_change_nothing(daemon):
    ec2 = daemon.boto("ec2")
    [inst] = ec2.run_instances(ImageId=daemon.base_image(), InstanceType="t2.micro", MinCount=1, MaxCount=1)["Instances"]
    iid = inst["InstanceId"]
    daemon.wait_state(iid, "running")
    netloc = urllib.parse.urlparse(daemon.endpoint).netloc
    form = f"Action=TerminateInstances&Version=2016-11-15&InstanceId.1={iid}".encode()
    form_headers = {"Content-Type": "application/x-www-form-urlencoded", "Host": netloc}

    # A form on another site posting to the EC2 endpoint, and one posting to the console.
    status, body = raw(daemon, "POST", "/", form, {**form_headers, "Origin": "https://evil.example"})
    assert status == 403 and "another site" in body
    status, _ = raw(daemon, "POST", f"/console/instances/{iid}/terminate", b"", {**form_headers, "Origin": "null"})
    assert status == 403
    # DNS rebinding: the page's own name pointing at 127.0.0.1.
    status, body = raw(daemon, "GET", "/_shoal/api/instances", headers={"Host": "evil.example:4566"})
    assert status == 403 and "loopback" in body
    assert daemon.instance(iid)["State"]["Name"] == "running", "nothing changed"

    # Same-origin (the console's own forms) and no Origin (CLI/SDKs) still work.
    status, _ = raw(daemon, "GET", "/console/instances", headers={"Host": netloc})
    assert status == 200
    status, _ = raw(daemon, "POST", "/", form, {**form_headers, "Origin": f"http://{netloc}"})
    assert status == 200
    wait_for("terminated", lambda: daemon.instance(iid)["State"]["Name"] == "terminated")
