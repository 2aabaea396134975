"""Authentication (SigV4) and the account (STS, IAM), driven as users drive them.

A daemon started with --require-signatures verifies every AWS request's signature, as
one listening beyond loopback always does; the default loopback daemon accepts any
credentials, as a local AWS is used. Clients sign with the access key Shoal issued at
first start (the data dir's `credentials` file)."""
import datetime
import gzip
import json
import os
import re
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from harness import Daemon

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def signed():
    d = Daemon("--require-signatures")
    try:
        yield d
    finally:
        d.close()


@pytest.fixture(scope="module")
def loopback():
    d = Daemon()
    try:
        yield d
    finally:
        d.close()


def issued_key(daemon):
    text = (Path(daemon.data_dir) / "credentials").read_text()
    values = dict(re.findall(r"^(aws_\w+) = (\S+)$", text, re.M))
    return values["aws_access_key_id"], values["aws_secret_access_key"]


def aws(daemon, key, secret, *args):
    """The aws CLI with the given credentials: (returncode, stdout, stderr)."""
    import subprocess
    from harness import AWS
    env = daemon.env() | {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    r = subprocess.run([AWS, *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def client(daemon, service, key, secret):
    return daemon.watch(boto3.client(service, endpoint_url=daemon.endpoint, region_name="us-east-1",
                                     aws_access_key_id=key, aws_secret_access_key=secret))


def error(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    err = e.value.response["Error"]
    return err["Code"], err["Message"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def send(daemon, method, path="/", body=b"", headers=None):
    """A raw HTTP request: (status, headers, body)."""
    req = urllib.request.Request(daemon.endpoint + path, data=body if method == "POST" else None,
                                 method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def signed_request(daemon, key, secret, body, headers, service="ec2", at=None):
    """A POST signed by botocore's own SigV4 signer (at a chosen time, if given)."""
    req = AWSRequest(method="POST", url=daemon.endpoint + "/", data=body, headers=headers)
    signer = botocore.auth.SigV4Auth(Credentials(key, secret), service, "us-east-1")
    if at is None:
        signer.add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            signer.add_auth(req)
    return send(daemon, "POST", body=body, headers=dict(req.headers))


DESCRIBE_REGIONS = b"Action=DescribeRegions&Version=2016-11-15"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def test_the_issued_key_is_saved_privately_and_printed_once(signed):
    path = Path(signed.data_dir) / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key, secret = issued_key(signed)
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key) and len(secret) == 40
    out = signed.read_stdout_until("Requests must be signed", timeout=10)
    assert f"Issued access key {key} with secret {secret}" in out


def test_the_right_key_works_from_the_cli_and_boto3(signed):
    key, secret = issued_key(signed)
    rc, out, err = aws(signed, key, secret, "ec2", "describe-regions")
    assert rc == 0, err
    assert "us-east-1" in [r["RegionName"] for r in json.loads(out)["Regions"]]
    rc, out, err = aws(signed, key, secret, "autoscaling", "describe-auto-scaling-groups")
    assert rc == 0, err
    assert client(signed, "elbv2", key, secret).describe_load_balancers()["LoadBalancers"] == []
    # CloudWatch over rpc-v2-cbor (botocore's default for it), and SSM over JSON.
    cw = client(signed, "cloudwatch", key, secret)
    cw.put_metric_data(Namespace="Auth/Test", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert "Auth/Test" in [m["Namespace"] for m in cw.list_metrics(Namespace="Auth/Test")["Metrics"]]
    ssm = client(signed, "ssm", key, secret)
    name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"].startswith("ami-")


def test_a_wrong_secret_does_not_match(signed):
    key, _ = issued_key(signed)
    rc, _, err = aws(signed, key, "not-the-secret", "ec2", "describe-vpcs")
    assert rc != 0
    assert "(SignatureDoesNotMatch)" in err and "The request signature we calculated does not match the signature you provided." in err, err
    for service, call, kwargs in [
        ("autoscaling", "describe_auto_scaling_groups", {}),
        ("elbv2", "describe_target_groups", {}),
        ("cloudwatch", "list_metrics", {}),
        ("ssm", "get_parameter", {"Name": "/x"}),
    ]:
        c = client(signed, service, key, "not-the-secret")
        code, message, status = error(getattr(c, call), **kwargs)
        assert (code, status) == ("SignatureDoesNotMatch", 403), (service, code, message)
        assert message.startswith("The request signature we calculated does not match"), message


def test_an_unknown_key_is_an_invalid_token(signed):
    rc, _, err = aws(signed, "AKIAUNKNOWNUNKNOWN00", "whatever", "ec2", "describe-instances")
    assert rc != 0 and "(InvalidClientTokenId)" in err and "The security token included in the request is invalid." in err, err
    code, _, status = error(client(signed, "autoscaling", "test", "test").describe_auto_scaling_groups)
    assert (code, status) == ("InvalidClientTokenId", 403)


def test_an_unsigned_request_is_missing_its_token(signed):
    status, _, body = send(signed, "POST", body=DESCRIBE_REGIONS, headers=FORM)
    assert status == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in body and b"Request is missing Authentication Token" in body
    # EC2's error shape, as the Version names EC2.
    assert body.startswith(b"<?xml") and b"<Response><Errors><Error>" in body
    status, _, body = send(signed, "GET", "/?Action=DescribeAutoScalingGroups&Version=2011-01-01")
    assert status == 403 and b"<ErrorResponse>" in body and b"MissingAuthenticationToken" in body
    # boto3 without credentials signs nothing.
    from botocore import UNSIGNED
    from botocore.config import Config
    anonymous = signed.watch(boto3.client("ec2", endpoint_url=signed.endpoint, region_name="us-east-1",
                                          config=Config(signature_version=UNSIGNED)))
    code, _, status = error(anonymous.describe_vpcs)
    assert (code, status) == ("MissingAuthenticationToken", 403)


def test_a_hand_made_wrong_signature_changes_nothing(signed):
    key, secret = issued_key(signed)
    ec2 = client(signed, "ec2", key, secret)
    before = ec2.describe_key_pairs()["KeyPairs"]
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    body = b"Action=CreateKeyPair&Version=2016-11-15&KeyName=forged"
    host = signed.endpoint.removeprefix("http://")
    status, _, answer = send(signed, "POST", body=body, headers=FORM | {
        "Host": host, "X-Amz-Date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{day}/us-east-1/ec2/aws4_request, "
                         f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}"})
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer, answer
    # A signature without its parts is incomplete.
    status, _, answer = send(signed, "POST", body=body, headers=FORM | {
        "X-Amz-Date": amz_date, "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{day}/us-east-1/ec2/aws4_request"})
    assert status == 400 and b"<Code>IncompleteSignature</Code>" in answer, answer
    assert b"Authorization header requires &apos;Signature&apos; parameter" in answer or \
        b"Authorization header requires 'Signature' parameter" in answer, answer
    # A body changed after signing no longer matches.
    req = AWSRequest(method="POST", url=signed.endpoint + "/", data=DESCRIBE_REGIONS, headers=FORM)
    botocore.auth.SigV4Auth(Credentials(key, secret), "ec2", "us-east-1").add_auth(req)
    status, _, answer = send(signed, "POST", body=body, headers=dict(req.headers))
    assert status == 403 and b"SignatureDoesNotMatch" in answer
    assert ec2.describe_key_pairs()["KeyPairs"] == before


def test_a_skewed_clock_is_refused(signed):
    key, secret = issued_key(signed)
    for minutes, text in [(-20, b"Signature expired: "), (20, b"Signature not yet current: ")]:
        at = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=minutes)
        status, _, body = signed_request(signed, key, secret, DESCRIBE_REGIONS, FORM, at=at)
        assert status == 403 and b"<Code>RequestTimeTooSkewed</Code>" in body and text in body, body
    at = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=10)
    status, _, body = signed_request(signed, key, secret, DESCRIBE_REGIONS, FORM, at=at)
    assert status == 200, body


def test_presigned_urls_work_until_they_expire(signed):
    key, secret = issued_key(signed)
    ec2 = client(signed, "ec2", key, secret)
    url = ec2.generate_presigned_url("describe_regions", HttpMethod="GET", ExpiresIn=300)
    assert "X-Amz-Signature=" in url and "X-Amz-Credential=" in url
    status, _, body = send(signed, "GET", url.removeprefix(signed.endpoint))
    assert status == 200 and b"<regionName>us-east-1</regionName>" in body, body
    # A changed parameter or signature no longer matches.
    status, _, body = send(signed, "GET", url.removeprefix(signed.endpoint).replace("DescribeRegions", "DescribeVpcs"))
    assert status == 403 and b"SignatureDoesNotMatch" in body, body
    short = ec2.generate_presigned_url("describe_instances", HttpMethod="GET", ExpiresIn=1)
    time.sleep(2.5)
    status, _, body = send(signed, "GET", short.removeprefix(signed.endpoint))
    assert status == 400 and b"<Code>RequestExpired</Code>" in body and b"Request has expired." in body, body


def test_cloudwatch_json_and_gzip_bodies_are_verified(signed):
    key, secret = issued_key(signed)
    target = {"X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics",
              "Content-Type": "application/x-amz-json-1.0"}
    body = json.dumps({"Namespace": "Auth/Json"}).encode()
    status, _, answer = signed_request(signed, key, secret, body, target, service="monitoring")
    assert status == 200 and "Metrics" in json.loads(answer), answer
    status, headers, answer = signed_request(signed, key, "wrong", body, target, service="monitoring")
    assert status == 403 and json.loads(answer)["__type"].endswith("SignatureDoesNotMatch")
    assert headers.get("x-amzn-query-error") == "SignatureDoesNotMatch;Sender"
    # A compressed body: the signature covers the bytes sent, not the inflated ones.
    put = {"X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData",
           "Content-Type": "application/x-amz-json-1.0", "Content-Encoding": "gzip"}
    data = gzip.compress(json.dumps({"Namespace": "Auth/Gzip", "MetricData": [{"MetricName": "g", "Value": 2}]}).encode())
    status, _, answer = signed_request(signed, key, secret, data, put, service="monitoring")
    assert status == 200, answer
    listed = client(signed, "cloudwatch", key, secret).list_metrics(Namespace="Auth/Gzip")["Metrics"]
    assert [m["MetricName"] for m in listed] == ["g"]


def test_sts_and_iam_name_the_accounts_user(signed):
    key, secret = issued_key(signed)
    rc, out, err = aws(signed, key, secret, "sts", "get-caller-identity")
    assert rc == 0, err
    me = json.loads(out)
    assert me["Account"] == ACCOUNT and me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/shoal"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", me["UserId"])
    user = client(signed, "iam", key, secret).get_user()["User"]
    assert (user["UserName"], user["UserId"], user["Arn"], user["Path"]) == ("shoal", me["UserId"], me["Arn"], "/")
    code, _, _ = error(client(signed, "sts", key, "wrong").get_caller_identity)
    assert code == "SignatureDoesNotMatch"
    code, message, status = error(client(signed, "iam", key, secret).get_user, UserName="nobody")
    assert (code, status) == ("NoSuchEntity", 404) and message == "The user with name nobody cannot be found."


def test_loopback_accepts_any_credentials(loopback):
    assert loopback.aws("ec2", "describe-regions")["Regions"]
    rc, out, err = aws(loopback, "AKIAANYTHING", "any-secret", "autoscaling", "describe-auto-scaling-groups")
    assert rc == 0, err
    status, _, _ = send(loopback, "POST", body=DESCRIBE_REGIONS, headers=FORM)
    assert status == 200
    assert loopback.boto("sts").get_caller_identity()["Account"] == ACCOUNT
    assert loopback.boto("iam").get_user()["User"]["UserName"] == "shoal"


def test_sts_through_every_endpoint_setting(loopback, tmp_path):
    import subprocess
    from harness import AWS
    base = loopback.env()
    del base["AWS_ENDPOINT_URL"]
    profile = tmp_path / "config"
    profile.write_text(loopback.aws_config.read_text() + f"\n[profile shoal]\nregion = us-east-1\nendpoint_url = {loopback.endpoint}\n")
    for env in [loopback.env(),
                base | {"AWS_ENDPOINT_URL_STS": loopback.endpoint},
                base | {"AWS_CONFIG_FILE": str(profile), "AWS_PROFILE": "shoal"}]:
        r = subprocess.run([AWS, "sts", "get-caller-identity", "--output", "json"], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/shoal"
    sts = loopback.watch(boto3.Session(profile_name=None).client(
        "sts", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b",
        endpoint_url=loopback.endpoint))
    assert sts.get_caller_identity()["Account"] == ACCOUNT
    with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL_IAM": loopback.endpoint, "AWS_ACCESS_KEY_ID": "a",
                                      "AWS_SECRET_ACCESS_KEY": "b"}):
        iam = loopback.watch(boto3.client("iam", region_name="us-east-1"))
        assert iam.get_user()["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/shoal"


def test_an_unserved_scope_is_named(loopback):
    now = datetime.datetime.now(datetime.timezone.utc)
    status, _, body = send(loopback, "POST", body=b"Action=ListBuckets", headers=FORM | {
        "X-Amz-Date": now.strftime("%Y%m%dT%H%M%SZ"),
        "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIA/{now:%Y%m%d}/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host;x-amz-date, Signature=00"})
    assert status == 400 and b"<Code>UnknownService</Code>" in body
    assert b"the service &apos;s3&apos; that the request&apos;s SigV4 scope names" in body or \
        b"the service 's3' that the request's SigV4 scope names" in body, body


def test_a_daemon_listening_beyond_loopback_requires_signatures():
    # Listening on every address turns verification on without a flag; the test still
    # talks to it only through 127.0.0.1.
    d = Daemon(listen="0.0.0.0:0")
    try:
        d.endpoint = d.endpoint.replace("0.0.0.0", "127.0.0.1")
        assert "Requests must be signed" in d.read_stdout_until("Requests must be signed", timeout=10)
        status, _, body = send(d, "POST", body=DESCRIBE_REGIONS, headers=FORM)
        assert status == 403 and b"MissingAuthenticationToken" in body
        rc, _, err = aws(d, "test", "test", "ec2", "describe-regions")
        assert rc != 0 and "(InvalidClientTokenId)" in err, err
        key, secret = issued_key(d)
        rc, out, err = aws(d, key, secret, "sts", "get-caller-identity")
        assert rc == 0 and json.loads(out)["Account"] == ACCOUNT, err
        # Shoal's own CLI and JSON API still work on this machine, by a loopback name...
        r = d.shoal("instances")
        assert r.returncode == 0, r.stderr
        assert d.api("/_shoal/health")["status"] == "ok"
        # ...and nowhere else (a page rebinding its own name to 127.0.0.1 included).
        status, _, body = send(d, "GET", "/_shoal/api/instances", headers={"Host": "rebound.example"})
        assert status == 403 and json.loads(body)["code"] == "AccessDenied", body
    finally:
        d.close()
