"""The conformance checker itself, on hand-written responses (no daemon)."""
import json

import botocore.session
import pytest

import conformance

SESSION = botocore.session.get_session()


def op(service, name):
    return SESSION.get_service_model(service).operation_model(name)


def problems(service, name, body, status=200, headers=None):
    return conformance.check(op(service, name), status, headers or {"x-amzn-RequestId": "r"},
                             body.encode() if isinstance(body, str) else body)


ASG_NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


def asg_groups(group_xml):
    return (f'<DescribeAutoScalingGroupsResponse xmlns="{ASG_NS}"><DescribeAutoScalingGroupsResult>'
            f"<AutoScalingGroups><member>{group_xml}</member></AutoScalingGroups>"
            "</DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
            "</DescribeAutoScalingGroupsResponse>")


GROUP = ("<AutoScalingGroupName>g</AutoScalingGroupName><MinSize>1</MinSize><MaxSize>2</MaxSize>"
         "<DesiredCapacity>1</DesiredCapacity><DefaultCooldown>300</DefaultCooldown>"
         "<AvailabilityZones><member>us-east-1a</member></AvailabilityZones>"
         "<HealthCheckType>EC2</HealthCheckType><CreatedTime>2024-05-01T12:00:00.000Z</CreatedTime>")


def test_a_well_formed_query_response_passes():
    assert problems("autoscaling", "DescribeAutoScalingGroups", asg_groups(
        GROUP + "<Instances><member><InstanceId>i-1</InstanceId><AvailabilityZone>us-east-1a</AvailabilityZone>"
        "<LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus>"
        "<ProtectedFromScaleIn>false</ProtectedFromScaleIn></member></Instances>")) == []


@pytest.mark.parametrize("extra, path, problem", [
    ("<MinCapacity>1</MinCapacity>", "/AutoScalingGroups/member[0]/MinCapacity", "unknown element"),
    ("<Instances><item><InstanceId>i-1</InstanceId></item></Instances>", "/Instances/item", "wraps its items in <member>"),
    ("<NewInstancesProtectedFromScaleIn>yes</NewInstancesProtectedFromScaleIn>",
     "/NewInstancesProtectedFromScaleIn", "'yes' is not a boolean"),
    ("<MaxInstanceLifetime>1.5</MaxInstanceLifetime>", "/MaxInstanceLifetime", "is not an integer"),
    ("<Status>Deleting</Status><Status>x</Status>", "/Status", "repeated 2 times"),
    ("<Instances><member><InstanceId>i-1</InstanceId><LifecycleState>Running</LifecycleState></member></Instances>",
     "/LifecycleState", "not one of LifecycleState's values"),
    ("<PlacementGroup>" + "p" * 256 + "</PlacementGroup>", "/PlacementGroup", "length 256 above the model's max 255"),
])
def test_query_violations_are_found(extra, path, problem):
    found = problems("autoscaling", "DescribeAutoScalingGroups", asg_groups(GROUP + extra))
    assert any(p.endswith(path) and problem in msg for p, msg in found), found


def test_missing_required_members_and_bad_timestamps_are_found():
    group = GROUP.replace("<DefaultCooldown>300</DefaultCooldown>", "").replace(
        "2024-05-01T12:00:00.000Z", "Wed, 01 May 2024 12:00:00 GMT")
    found = dict(problems("autoscaling", "DescribeAutoScalingGroups", asg_groups(group)))
    prefix = "/DescribeAutoScalingGroupsResponse/DescribeAutoScalingGroupsResult/AutoScalingGroups/member[0]"
    assert "missing" in found[f"{prefix}/DefaultCooldown"]
    assert "ISO 8601" in found[f"{prefix}/CreatedTime"]


def test_query_envelope_needs_result_wrapper_and_metadata():
    found = problems("autoscaling", "DescribeAutoScalingGroups",
                     f'<DescribeAutoScalingGroupsResponse xmlns="{ASG_NS}"><AutoScalingGroups/>'
                     "</DescribeAutoScalingGroupsResponse>")
    assert {p.rsplit("/", 1)[1] for p, _ in found} == {
        "AutoScalingGroups", "DescribeAutoScalingGroupsResult", "ResponseMetadata"}


def test_ec2_responses_have_no_result_wrapper_and_item_lists():
    good = (f'<DescribeInstancesResponse xmlns="{EC2_NS}"><requestId>r</requestId><reservationSet><item>'
            "<reservationId>r-1</reservationId><instancesSet><item><instanceId>i-1</instanceId>"
            "<instanceState><code>16</code><name>running</name></instanceState>"
            "<launchTime>2024-05-01T12:00:00.000Z</launchTime></item></instancesSet></item></reservationSet>"
            "</DescribeInstancesResponse>")
    assert problems("ec2", "DescribeInstances", good) == []
    bad = good.replace("<instanceState>", "<state>").replace("</instanceState>", "</state>")
    bad = bad.replace("<requestId>r</requestId>", "")
    found = dict(problems("ec2", "DescribeInstances", bad))
    assert "unknown element" in found["/DescribeInstancesResponse/reservationSet/item[0]/instancesSet/item[0]/state"]
    assert "0 <requestId>" in found["/DescribeInstancesResponse/requestId"]


def test_error_shapes():
    ec2_error = "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>m</Message></Error></Errors><RequestID>r</RequestID></Response>"
    assert problems("ec2", "DescribeInstances", ec2_error, status=400) == []
    assert problems("ec2", "DescribeInstances", ec2_error.replace("RequestID", "RequestId"), status=400)
    query_error = ("<ErrorResponse><Error><Type>Sender</Type><Code>AlreadyExists</Code><Message>m</Message>"
                   "</Error><RequestId>r</RequestId></ErrorResponse>")
    assert problems("autoscaling", "CreateAutoScalingGroup", query_error, status=400) == []
    # AlreadyExists is modeled as a 400 sender fault.
    assert problems("autoscaling", "CreateAutoScalingGroup", query_error, status=500)
    assert problems("autoscaling", "CreateAutoScalingGroup", query_error.replace("<Type>Sender</Type>", ""), status=400)


def test_json_documents():
    good = {"MetricAlarms": [{"AlarmName": "a", "Threshold": 10, "Period": 60, "StateValue": "OK",
                              "StateUpdatedTimestamp": 1714564800.0, "ActionsEnabled": True}]}
    assert problems("cloudwatch", "DescribeAlarms", json.dumps(good)) == []
    bad = {"MetricAlarms": [{"AlarmName": "a", "Period": "60", "StateValue": "FINE",
                             "StateUpdatedTimestamp": "2024-05-01T12:00:00Z", "Enabled": True}]}
    found = dict(problems("cloudwatch", "DescribeAlarms", json.dumps(bad)))
    assert set(found) == {f"/MetricAlarms[0]/{k}" for k in ("Period", "StateValue", "StateUpdatedTimestamp", "Enabled")}
    error = json.dumps({"__type": "com.amazonaws.monitoring#ResourceNotFound", "message": "m"})
    headers = {"x-amzn-RequestId": "r", "x-amzn-query-error": "ResourceNotFound;Sender"}
    assert problems("cloudwatch", "DeleteAlarms", error, status=404, headers=headers) == []
    assert problems("cloudwatch", "DeleteAlarms", error, status=400, headers=headers)


def test_only_the_empty_strings_aws_itself_sends_pass():
    def lc(fields):
        return problems("autoscaling", "DescribeLaunchConfigurations", (
            f'<DescribeLaunchConfigurationsResponse xmlns="{ASG_NS}"><DescribeLaunchConfigurationsResult>'
            "<LaunchConfigurations><member><LaunchConfigurationName>lc</LaunchConfigurationName>"
            "<InstanceType>t3.micro</InstanceType><CreatedTime>2024-05-01T12:00:00.000Z</CreatedTime>"
            f"{fields}</member></LaunchConfigurations></DescribeLaunchConfigurationsResult>"
            "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeLaunchConfigurationsResponse>"))
    assert lc("<ImageId>ami-1</ImageId><KernelId></KernelId><RamdiskId/><KeyName></KeyName>") == []
    found = lc("<ImageId></ImageId>")
    assert any(p.endswith("/ImageId") and "below the model's min 1" in m for p, m in found), found
