"""CloudWatch alarms evaluated for real, on a fast clock (`--metric-period 5`: a
CloudWatch minute lasts five seconds): a custom metric driving an alarm
OK → ALARM → OK with its history, and an instance's real CPU driving one to ALARM."""
import threading
import time

import pytest

from harness import Daemon, wait_for


@pytest.fixture
def fast():
    d = Daemon("--metric-period", "5")
    yield d
    d.close()


class Publisher:
    """Publishes `value` to Lab/Queue Depth twice a second until stopped."""

    def __init__(self, daemon):
        self.cw = daemon.boto("cloudwatch")
        self.value = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            self.cw.put_metric_data(Namespace="Lab/Queue", MetricData=[
                {"MetricName": "Depth", "Value": self.value, "Dimensions": [{"Name": "Queue", "Value": "jobs"}]}])
            time.sleep(0.5)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)


def state(cw, name):
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def test_custom_metric_alarm_ok_alarm_ok_with_history(fast):
    cw = fast.boto("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="queue-deep", AlarmDescription="Too many jobs waiting",
        Namespace="Lab/Queue", MetricName="Depth", Dimensions=[{"Name": "Queue", "Value": "jobs"}],
        Statistic="Average", Period=60, EvaluationPeriods=2, Threshold=50,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=["arn:aws:sns:us-east-1:123456789012:on-call"])
    assert state(cw, "queue-deep")["StateReason"] == "Unchecked: Initial alarm creation"
    pub = Publisher(fast)
    try:
        pub.value = 10.0
        wait_for("OK", lambda: state(cw, "queue-deep")["StateValue"] == "OK", timeout=30)
        pub.value = 90.0
        a = wait_for("ALARM", lambda: (s := state(cw, "queue-deep"))["StateValue"] == "ALARM" and s, timeout=30)
        assert a["StateReason"].startswith("Threshold Crossed: 2 datapoints [")
        assert a["StateReason"].endswith("were greater than the threshold (50.0).")
        assert '"period":5' in a["StateReasonData"]
        pub.value = 5.0
        wait_for("OK again", lambda: state(cw, "queue-deep")["StateValue"] == "OK", timeout=30)
    finally:
        pub.close()

    history = cw.describe_alarm_history(AlarmName="queue-deep", ScanBy="TimestampAscending")["AlarmHistoryItems"]
    summaries = [h["HistorySummary"] for h in history]
    assert summaries[0] == 'Alarm "queue-deep" created'
    updates = [h["HistorySummary"] for h in history if h["HistoryItemType"] == "StateUpdate"]
    assert updates == ["Alarm updated from INSUFFICIENT_DATA to OK", "Alarm updated from OK to ALARM",
                       "Alarm updated from ALARM to OK"]
    # The SNS action had nowhere to go: CloudWatch records the failure.
    [action] = [h for h in history if h["HistoryItemType"] == "Action"]
    assert action["HistorySummary"].startswith(
        "Failed to execute action arn:aws:sns:us-east-1:123456789012:on-call. Received error:")
    only_state = cw.describe_alarm_history(AlarmName="queue-deep", HistoryItemType="StateUpdate",
                                           MaxRecords=2)
    assert len(only_state["AlarmHistoryItems"]) == 2 and only_state["NextToken"]
    assert only_state["AlarmHistoryItems"][0]["HistorySummary"] == "Alarm updated from ALARM to OK"

    # SetAlarmState forces a state; the next evaluation would move it back.
    cw.set_alarm_state(AlarmName="queue-deep", StateValue="ALARM", StateReason="testing the pager")
    assert state(cw, "queue-deep")["StateReason"] == "testing the pager"

    alarms = cw.describe_alarms_for_metric(Namespace="Lab/Queue", MetricName="Depth",
                                           Dimensions=[{"Name": "Queue", "Value": "jobs"}])["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms] == ["queue-deep"]


def test_describe_alarms_filters_and_pages(fast):
    cw = fast.boto("cloudwatch")
    for name in ["web-cpu", "web-mem", "db-cpu"]:
        cw.put_metric_alarm(AlarmName=name, Namespace="Lab", MetricName=name, Statistic="Maximum",
                            Period=60, EvaluationPeriods=1, Threshold=1,
                            ComparisonOperator="GreaterThanOrEqualToThreshold",
                            OKActions=[f"arn:aws:sns:us-east-1:123456789012:{name}"])
    cw.set_alarm_state(AlarmName="db-cpu", StateValue="OK", StateReason="manual")
    names = lambda r: [a["AlarmName"] for a in r["MetricAlarms"]]  # noqa: E731
    assert names(cw.describe_alarms()) == ["db-cpu", "web-cpu", "web-mem"]
    assert names(cw.describe_alarms(AlarmNamePrefix="web-")) == ["web-cpu", "web-mem"]
    assert names(cw.describe_alarms(StateValue="OK")) == ["db-cpu"]
    assert names(cw.describe_alarms(ActionPrefix="arn:aws:sns:us-east-1:123456789012:web-m")) == ["web-mem"]
    assert cw.describe_alarms(AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []
    first = cw.describe_alarms(MaxRecords=2)
    assert names(first) == ["db-cpu", "web-cpu"]
    rest = cw.describe_alarms(MaxRecords=2, NextToken=first["NextToken"])
    assert names(rest) == ["web-mem"] and "NextToken" not in rest
    pages = fast.aws("cloudwatch", "describe-alarms", "--page-size", "1")["MetricAlarms"]
    assert len(pages) == 3
    cw.disable_alarm_actions(AlarmNames=["web-cpu", "not-an-alarm"])
    assert not state(cw, "web-cpu")["ActionsEnabled"]
    cw.enable_alarm_actions(AlarmNames=["web-cpu"])
    assert state(cw, "web-cpu")["ActionsEnabled"]
    arn = state(cw, "web-cpu")["AlarmArn"]
    assert arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpu"
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "tier", "Value": "web"}, {"Key": "owner", "Value": "lab"}])
    cw.untag_resource(ResourceARN=arn, TagKeys=["owner"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "tier", "Value": "web"}]
    # An update keeps the state and the tags, and is recorded.
    cw.put_metric_alarm(AlarmName="db-cpu", Namespace="Lab", MetricName="db-cpu", Statistic="Maximum",
                        Period=60, EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold")
    db = state(cw, "db-cpu")
    assert (db["Threshold"], db["StateValue"], db["StateReason"]) == (5.0, "OK", "manual")
    assert cw.describe_alarm_history(AlarmName="db-cpu", HistoryItemType="ConfigurationUpdate")[
        "AlarmHistoryItems"][0]["HistorySummary"] == 'Alarm "db-cpu" updated'
    cw.delete_alarms(AlarmNames=["web-cpu", "web-mem"])
    assert names(cw.describe_alarms()) == ["db-cpu"]
    assert cw.describe_alarm_history(AlarmName="web-cpu")["AlarmHistoryItems"] == []


def test_instance_cpu_alarm_reaches_alarm_under_stress(fast):
    image = fast.base_image()
    [inst] = fast.aws("ec2", "run-instances", "--image-id", image, "--instance-type", "t2.micro")["Instances"]
    iid = inst["InstanceId"]
    fast.wait_state(iid, "running")
    cw = fast.boto("cloudwatch")
    cw.put_metric_alarm(AlarmName="exercise-cpu-high", Namespace="AWS/EC2", MetricName="CPUUtilization",
                        Dimensions=[{"Name": "InstanceId", "Value": iid}], Statistic="Average",
                        Period=60, EvaluationPeriods=2, Threshold=20,
                        ComparisonOperator="GreaterThanThreshold")
    # (The threshold is low because a loaded 2-core test machine may give one `stress`
    # hog only half a CPU; an idle instance reads ~0%.)
    # Idle first: the sampler's points make it OK.
    wait_for("OK while idle", lambda: state(cw, "exercise-cpu-high")["StateValue"] == "OK", timeout=40)
    result = {}
    stress = threading.Thread(target=lambda: result.update(
        r=fast.shoal("ssh", iid, "--", "stress", "--cpu", "1", "--timeout", "30", timeout=60)))
    stress.start()
    try:
        a = wait_for("ALARM under stress",
                     lambda: (s := state(cw, "exercise-cpu-high"))["StateValue"] == "ALARM" and s, timeout=40)
        assert "were greater than the threshold (20.0)" in a["StateReason"]
        metrics = cw.list_metrics(Namespace="AWS/EC2", MetricName="CPUUtilization",
                                  Dimensions=[{"Name": "InstanceId", "Value": iid}])["Metrics"]
        assert len(metrics) == 1
    finally:
        stress.join(timeout=60)
    assert result["r"].returncode == 0, result["r"].stderr
