"""CloudWatch metrics on all three wire protocols — AWS JSON 1.0 (boto3, aws CLI v1),
Query (raw urllib and botocore forced to query) and smithy rpc-v2-cbor (raw cbor2 and
botocore forced to CBOR) — plus ListMetrics, AWS's refusals, and durability."""
import datetime
import json
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore.model
import cbor2
import pytest

from harness import Daemon
from test_ec2_boto3 import assert_shape, members

NS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"
UTC = datetime.timezone.utc


def now():
    return datetime.datetime.now(UTC).replace(microsecond=0)


def window():
    t = now()
    return t - datetime.timedelta(minutes=10), t + datetime.timedelta(minutes=5)


def client_on(daemon, protocol, monkeypatch):
    """A botocore CloudWatch client that speaks `protocol` instead of JSON."""
    monkeypatch.setattr(botocore.model, "PRIORITY_ORDERED_SUPPORTED_PROTOCOLS", (protocol,))
    c = boto3.session.Session().client(
        "cloudwatch", endpoint_url=daemon.endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test")
    monkeypatch.undo()
    assert c.meta.service_model.resolved_protocol == protocol
    return daemon.watch(c)


def query(daemon, params):
    """A raw Query request: (status, XML root)."""
    body = urllib.parse.urlencode({"Version": "2010-08-01", **params}).encode()
    req = urllib.request.Request(daemon.endpoint + "/", data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, ET.fromstring(r.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


def cbor(daemon, op, payload):
    """A raw rpc-v2-cbor request: (status, headers, decoded body)."""
    req = urllib.request.Request(
        f"{daemon.endpoint}/service/GraniteServiceVersion20100801/operation/{op}",
        data=cbor2.dumps(payload), method="POST",
        headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
                 "Accept": "application/cbor"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, cbor2.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, cbor2.loads(e.read())


def test_boto3_round_trip_every_sample_shape(daemon):
    cw = daemon.boto("cloudwatch")
    t = now()
    cw.put_metric_data(Namespace="Lab/App", MetricData=[
        {"MetricName": "Latency", "Dimensions": [{"Name": "Host", "Value": "a"}],
         "Timestamp": t, "Value": 10.0, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": [{"Name": "Host", "Value": "a"}],
         "Timestamp": t, "Values": [20.0, 30.0], "Counts": [2, 1], "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": [{"Name": "Host", "Value": "b"}],
         "Timestamp": t, "StatisticValues": {"SampleCount": 4, "Sum": 40, "Minimum": 5, "Maximum": 15},
         "Unit": "Milliseconds"},
    ])
    start, end = window()
    r = cw.get_metric_statistics(
        Namespace="Lab/App", MetricName="Latency", Dimensions=[{"Name": "Host", "Value": "a"}],
        StartTime=start, EndTime=end, Period=60,
        Statistics=["SampleCount", "Average", "Sum", "Minimum", "Maximum"], ExtendedStatistics=["p50"])
    assert_shape(r, members(cw, "GetMetricStatistics"))
    assert r["Label"] == "Latency"
    [p] = r["Datapoints"]
    assert (p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"]) == (4.0, 80.0, 10.0, 30.0)
    assert p["Average"] == 20.0 and p["Unit"] == "Milliseconds"
    assert p["ExtendedStatistics"] == {"p50": 20.0}
    # A statistic set has no percentiles: the p50 is left out, the rest is there.
    [b] = cw.get_metric_statistics(
        Namespace="Lab/App", MetricName="Latency", Dimensions=[{"Name": "Host", "Value": "b"}],
        StartTime=start, EndTime=end, Period=60, Statistics=["Average"],
        ExtendedStatistics=["p50"])["Datapoints"]
    assert b["Average"] == 10.0 and "ExtendedStatistics" not in b

    r = cw.get_metric_data(StartTime=start, EndTime=end, ScanBy="TimestampAscending", MetricDataQueries=[
        {"Id": "a", "ReturnData": False, "MetricStat": {"Metric": {
            "Namespace": "Lab/App", "MetricName": "Latency", "Dimensions": [{"Name": "Host", "Value": "a"}]},
            "Period": 60, "Stat": "Sum"}},
        {"Id": "b", "MetricStat": {"Metric": {
            "Namespace": "Lab/App", "MetricName": "Latency", "Dimensions": [{"Name": "Host", "Value": "b"}]},
            "Period": 60, "Stat": "Sum"}, "Label": "host b"},
        {"Id": "total", "Expression": "a + b", "Label": "all hosts"},
        {"Id": "avg", "Expression": "AVG(METRICS())"},
    ])
    assert_shape(r, members(cw, "GetMetricData"))
    got = {x["Id"]: (x["Label"], x["Values"], x["StatusCode"]) for x in r["MetricDataResults"]}
    assert got == {"b": ("host b", [40.0], "Complete"), "total": ("all hosts", [120.0], "Complete"),
                   "avg": ("avg", [60.0], "Complete")}
    with pytest.raises(cw.exceptions.ClientError) as e:
        cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[
            {"Id": "x", "Expression": "RATE(y)"}])
    assert e.value.response["Error"]["Code"] == "ValidationError"


def test_cli_round_trip_and_list_metrics(daemon):
    t = now()
    daemon.aws("cloudwatch", "put-metric-data", "--namespace", "Lab/Web", "--metric-name", "Requests",
               "--dimensions", "LoadBalancer=exercise-lb,Zone=us-east-1a", "--value", "5",
               "--unit", "Count", "--timestamp", t.isoformat())
    daemon.aws("cloudwatch", "put-metric-data", "--namespace", "Lab/Web", "--metric-name", "Requests",
               "--dimensions", "LoadBalancer=exercise-lb,Zone=us-east-1b", "--value", "7", "--unit", "Count")
    daemon.aws("cloudwatch", "put-metric-data", "--namespace", "Lab/Other", "--metric-name", "Errors",
               "--value", "1")
    start, end = window()
    r = daemon.aws("cloudwatch", "get-metric-statistics", "--namespace", "Lab/Web", "--metric-name", "Requests",
                   "--dimensions", "Name=Zone,Value=us-east-1a", "Name=LoadBalancer,Value=exercise-lb",
                   "--start-time", start.isoformat(), "--end-time", end.isoformat(),
                   "--period", "300", "--statistics", "Sum")
    assert [(p["Sum"], p["Unit"]) for p in r["Datapoints"]] == [(5.0, "Count")]

    listed = daemon.aws("cloudwatch", "list-metrics", "--namespace", "Lab/Web")["Metrics"]
    assert len(listed) == 2
    assert all(m["MetricName"] == "Requests" for m in listed)
    assert {"Name": "Zone", "Value": "us-east-1b"} in listed[1]["Dimensions"]
    only_b = daemon.aws("cloudwatch", "list-metrics", "--dimensions", "Name=Zone,Value=us-east-1b")["Metrics"]
    assert len(only_b) == 1
    by_name = daemon.aws("cloudwatch", "list-metrics", "--dimensions", "Name=Zone")["Metrics"]
    assert len(by_name) == 2
    everything = daemon.aws("cloudwatch", "list-metrics", "--recently-active", "PT3H")["Metrics"]
    assert {m["Namespace"] for m in everything} >= {"Lab/Web", "Lab/Other"}


def test_raw_query_protocol(daemon):
    t = now()
    status, root = query(daemon, {
        "Action": "PutMetricData", "Namespace": "Lab/Query",
        "MetricData.member.1.MetricName": "Jobs", "MetricData.member.1.Value": "3",
        "MetricData.member.1.Timestamp": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "MetricData.member.1.Dimensions.member.1.Name": "Queue",
        "MetricData.member.1.Dimensions.member.1.Value": "q1",
        "MetricData.member.2.MetricName": "Jobs", "MetricData.member.2.Value": "5",
        "MetricData.member.2.Dimensions.member.1.Name": "Queue",
        "MetricData.member.2.Dimensions.member.1.Value": "q1",
    })
    assert status == 200, ET.tostring(root)
    assert root.tag == NS + "PutMetricDataResponse"
    assert root.find(f"{NS}ResponseMetadata/{NS}RequestId").text
    start, end = window()
    status, root = query(daemon, {
        "Action": "GetMetricStatistics", "Namespace": "Lab/Query", "MetricName": "Jobs",
        "Dimensions.member.1.Name": "Queue", "Dimensions.member.1.Value": "q1",
        "StartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "EndTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Period": "60", "Statistics.member.1": "Maximum", "Statistics.member.2": "SampleCount",
    })
    assert status == 200
    result = root.find(f"{NS}GetMetricStatisticsResult")
    assert result.find(f"{NS}Label").text == "Jobs"
    points = result.findall(f"{NS}Datapoints/{NS}member")
    assert len(points) in (1, 2)  # the two puts may straddle a minute
    assert max(float(p.find(f"{NS}Maximum").text) for p in points) == 5.0
    assert sum(float(p.find(f"{NS}SampleCount").text) for p in points) == 2.0
    assert points[0].find(f"{NS}Timestamp").text.endswith("Z")

    status, root = query(daemon, {"Action": "ListMetrics", "Namespace": "Lab/Query"})
    [m] = root.findall(f"{NS}ListMetricsResult/{NS}Metrics/{NS}member")
    assert m.find(f"{NS}Dimensions/{NS}member/{NS}Value").text == "q1"

    status, root = query(daemon, {"Action": "DeleteAlarms", "AlarmNames.member.1": "missing"})
    assert status == 404
    assert root.tag == "ErrorResponse"
    assert root.find("Error/Code").text == "ResourceNotFound"
    assert root.find("Error/Type").text == "Sender"


def test_raw_cbor_protocol(daemon):
    t = now()
    status, headers, body = cbor(daemon, "PutMetricData", {
        "Namespace": "Lab/Cbor",
        "MetricData": [{"MetricName": "Temp", "Value": 21.5, "Timestamp": cbor2.CBORTag(1, t.timestamp()),
                        "Dimensions": [{"Name": "Room", "Value": "r1"}], "Unit": "None"}],
    })
    assert status == 200, body
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["Content-Type"] == "application/cbor"
    assert body == {}
    start, end = window()
    status, _, body = cbor(daemon, "GetMetricStatistics", {
        "Namespace": "Lab/Cbor", "MetricName": "Temp", "Dimensions": [{"Name": "Room", "Value": "r1"}],
        "StartTime": cbor2.CBORTag(1, int(start.timestamp())), "EndTime": cbor2.CBORTag(1, int(end.timestamp())),
        "Period": 60, "Statistics": ["Average"],
    })
    assert status == 200, body
    [p] = body["Datapoints"]
    assert p["Average"] == 21.5
    # cbor2 turns tag 1 back into a datetime.
    assert isinstance(p["Timestamp"], datetime.datetime)
    assert p["Timestamp"] <= t

    status, headers, body = cbor(daemon, "PutMetricData", {
        "Namespace": "AWS/EC2", "MetricData": [{"MetricName": "CPUUtilization", "Value": 1.0}]})
    assert status == 400
    assert headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    assert body["__type"].endswith("#InvalidParameterValue")
    assert body["message"] == "The value AWS/ for parameter Namespace is invalid."


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "query"])
def test_botocore_on_cbor_and_query(daemon, monkeypatch, protocol):
    cw = client_on(daemon, protocol, monkeypatch)
    t = now()
    cw.put_metric_data(Namespace="Lab/Sdk", MetricData=[
        {"MetricName": "Depth", "Timestamp": t, "Values": [1.0, 2.0, 3.0], "Unit": "Count"}])
    start, end = window()
    r = cw.get_metric_statistics(Namespace="Lab/Sdk", MetricName="Depth", StartTime=start, EndTime=end,
                                 Period=60, Statistics=["Sum", "Maximum"], ExtendedStatistics=["p99"])
    assert_shape(r, members(cw, "GetMetricStatistics"))
    [p] = r["Datapoints"]
    assert (p["Sum"], p["Maximum"], p["ExtendedStatistics"]["p99"]) == (6.0, 3.0, 3.0)
    assert p["Timestamp"] <= t
    r = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[
        {"Id": "d", "MetricStat": {"Metric": {"Namespace": "Lab/Sdk", "MetricName": "Depth"},
                                   "Period": 60, "Stat": "Average"}}])
    assert r["MetricDataResults"][0]["Values"] == [2.0]
    cw.put_metric_alarm(AlarmName=f"depth-{protocol}", Namespace="Lab/Sdk", MetricName="Depth",
                        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=10,
                        ComparisonOperator="GreaterThanThreshold")
    r = cw.describe_alarms(AlarmNames=[f"depth-{protocol}"])
    assert_shape(r, members(cw, "DescribeAlarms"))
    [a] = r["MetricAlarms"]
    assert (a["Threshold"], a["Period"], a["StateValue"]) == (10.0, 60, "INSUFFICIENT_DATA")
    assert isinstance(a["StateUpdatedTimestamp"], datetime.datetime)
    with pytest.raises(cw.exceptions.ResourceNotFound):
        cw.set_alarm_state(AlarmName="missing", StateValue="ALARM", StateReason="test")


def test_bad_input_is_refused_with_aws_codes_and_changes_nothing(daemon):
    cw = daemon.boto("cloudwatch")
    start, end = window()

    def code(call, **kw):
        with pytest.raises(cw.exceptions.ClientError) as e:
            call(**kw)
        err = e.value.response["Error"]
        return err["Code"], err["Message"]

    assert code(cw.put_metric_data, Namespace="AWS/EC2", MetricData=[
        {"MetricName": "CPUUtilization", "Value": 1}]) == (
        "InvalidParameterValue", "The value AWS/ for parameter Namespace is invalid.")
    # One bad datum refuses the whole batch: the good first one is not stored.
    assert code(cw.put_metric_data, Namespace="Lab/Bad", MetricData=[
        {"MetricName": "Good", "Value": 1}, {"MetricName": "Bad", "Value": 1, "Unit": "Parsecs"}]
    )[0] == "InvalidParameterValue"
    assert code(cw.put_metric_data, Namespace="Lab/Bad", MetricData=[
        {"MetricName": "Many", "Value": float(i)} for i in range(1001)]) == (
        "InvalidParameterValue", "The collection MetricData must not have a size greater than 1000.")
    assert code(cw.put_metric_data, Namespace="Lab/Bad", MetricData=[
        {"MetricName": "Both", "Value": 1, "Values": [1, 2]}])[0] == "InvalidParameterCombination"
    assert cw.list_metrics(Namespace="Lab/Bad")["Metrics"] == []

    assert code(cw.get_metric_statistics, Namespace="Lab/Bad", MetricName="Good", StartTime=start,
                EndTime=end, Period=45, Statistics=["Average"]) == (
        "InvalidParameterValue", "The parameter Period must be a multiple of 60.")
    assert code(cw.get_metric_statistics, Namespace="Lab/Bad", MetricName="Good", StartTime=end,
                EndTime=start, Period=60, Statistics=["Average"]) == (
        "InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime.")
    c, m = code(cw.get_metric_statistics, Namespace="Lab/Bad", MetricName="Good",
                StartTime=end - datetime.timedelta(days=2), EndTime=end, Period=60, Statistics=["Average"])
    assert c == "InvalidParameterCombination" and "exceeds the limit of 1,440" in m
    assert code(cw.get_metric_data, StartTime=end, EndTime=start, MetricDataQueries=[
        {"Id": "m", "MetricStat": {"Metric": {"Namespace": "Lab", "MetricName": "x"}, "Period": 60,
                                   "Stat": "Average"}}])[0] == "ValidationError"

    cw.put_metric_alarm(AlarmName="keep-me", Namespace="Lab", MetricName="x", Statistic="Average",
                        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    assert code(cw.put_metric_alarm, AlarmName="bad-period", Namespace="Lab", MetricName="x",
                Statistic="Average", Period=61, EvaluationPeriods=1, Threshold=1,
                ComparisonOperator="GreaterThanThreshold")[0] == "InvalidParameterValue"
    assert code(cw.put_metric_alarm, AlarmName="bad-m", Namespace="Lab", MetricName="x",
                Statistic="Average", Period=60, EvaluationPeriods=2, DatapointsToAlarm=3, Threshold=1,
                ComparisonOperator="GreaterThanThreshold") == (
        "ValidationError", "DatapointsToAlarm (3) must be between 1 and EvaluationPeriods (2).")
    assert code(cw.set_alarm_state, AlarmName="nope", StateValue="OK", StateReason="x") == (
        "ResourceNotFound", "Alarm nope not found")
    assert code(cw.set_alarm_state, AlarmName="keep-me", StateValue="OK", StateReason="x",
                StateReasonData="{not json")[0] == "InvalidFormat"
    assert code(cw.delete_alarms, AlarmNames=["keep-me", "nope"])[0] == "ResourceNotFound"
    assert code(cw.list_tags_for_resource,
                ResourceARN="arn:aws:cloudwatch:us-east-1:123456789012:alarm:nope")[0] == "ResourceNotFoundException"
    assert code(cw.describe_alarms, AlarmNames=["x"], AlarmNamePrefix="y")[0] == "InvalidParameterCombination"
    [a] = cw.describe_alarms()["MetricAlarms"]
    assert a["AlarmName"] == "keep-me" and a["StateValue"] == "INSUFFICIENT_DATA"
    # The aws CLI sees the same codes.
    assert daemon.aws_error("cloudwatch", "delete-alarms", "--alarm-names", "nope")[0] == "ResourceNotFound"


def test_alarms_metrics_and_tags_survive_a_restart():
    d = Daemon()
    try:
        cw = d.boto("cloudwatch")
        t = now()
        cw.put_metric_data(Namespace="Lab/Durable", MetricData=[
            {"MetricName": "Orders", "Timestamp": t, "Value": 12.0}])
        cw.put_metric_alarm(AlarmName="orders-low", Namespace="Lab/Durable", MetricName="Orders",
                            Statistic="Sum", Period=300, EvaluationPeriods=3, DatapointsToAlarm=2,
                            Threshold=1, ComparisonOperator="LessThanThreshold", TreatMissingData="breaching",
                            AlarmActions=["arn:aws:sns:us-east-1:123456789012:ops"],
                            Tags=[{"Key": "team", "Value": "lab"}])
        arn = cw.describe_alarms()["MetricAlarms"][0]["AlarmArn"]
        cw.disable_alarm_actions(AlarmNames=["orders-low"])
        d.kill9()
        d.start()
        cw = d.boto("cloudwatch")
        [a] = cw.describe_alarms()["MetricAlarms"]
        assert (a["AlarmName"], a["DatapointsToAlarm"], a["TreatMissingData"], a["ActionsEnabled"]) == (
            "orders-low", 2, "breaching", False)
        assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "lab"}]
        start, end = window()
        [p] = cw.get_metric_statistics(Namespace="Lab/Durable", MetricName="Orders", StartTime=start,
                                       EndTime=end, Period=60, Statistics=["Sum"])["Datapoints"]
        assert p["Sum"] == 12.0
        history = cw.describe_alarm_history(AlarmName="orders-low")["AlarmHistoryItems"]
        assert history[-1]["HistorySummary"] == 'Alarm "orders-low" created'
    finally:
        d.close()
