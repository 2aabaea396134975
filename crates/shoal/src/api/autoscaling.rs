//! The Auto Scaling API (protocol `query`, version 2011-01-01).

use shoal_model::autoscaling::activity::{aws_time, Activity};
use shoal_model::autoscaling::group::{
    AutoScalingGroup, CreateGroupRequest, GroupInstance, GroupTag, HealthStatus,
    LaunchTemplateSpec, UpdateGroupRequest,
};
use shoal_model::autoscaling::launch_config::{
    BlockDeviceMapping, CreateLaunchConfigurationRequest, Ebs, LaunchConfiguration, MetadataOptions,
};
use shoal_model::autoscaling::metrics::{GRANULARITY, GROUP_METRICS};
use shoal_model::autoscaling::mixed::{
    LaunchTemplateOverride, MixedInstancesPolicy, MixedInstancesPolicyRequest,
};
use shoal_model::autoscaling::policy::{
    CustomizedMetric, ExecutePolicyRequest, PolicyConfig, PredefinedMetric, PredefinedMetricType,
    PutPolicyRequest, ScalingPolicy, StepAdjustment, TargetTrackingConfiguration,
};
use shoal_model::cloudwatch::alarm::{MetricDataQuery, MetricStat};
use shoal_model::{AwsError, AwsResult};

use super::query::Params;
use super::xml::Xml;
use crate::service::autoscaling::{policy_type, GroupFilter, Placement};
use crate::service::Service;

pub const NAMESPACE: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/// What an action answers: an `<XResult>` body, or none (actions with an empty result).
enum Body {
    Result,
    Empty,
}

/// One action: decode `p`, call the service, encode into `x`. `action` tells apart the
/// pairs that share a function (SuspendProcesses/ResumeProcesses, …).
type Handler = fn(&Service, &str, &Params, &mut Xml) -> AwsResult<Body>;

/// Every Auto Scaling action Shoal serves, by its wire name.
const ACTIONS: &[(&str, Handler)] = &[
    ("CreateAutoScalingGroup", create_auto_scaling_group),
    ("UpdateAutoScalingGroup", update_auto_scaling_group),
    ("DeleteAutoScalingGroup", delete_auto_scaling_group),
    ("SetDesiredCapacity", set_desired_capacity),
    ("CreateLaunchConfiguration", create_launch_configuration),
    ("DescribeLaunchConfigurations", describe_launch_configurations),
    ("DeleteLaunchConfiguration", delete_launch_configuration),
    ("DescribeAutoScalingGroups", describe_auto_scaling_groups),
    ("DescribeAutoScalingInstances", describe_auto_scaling_instances),
    ("TerminateInstanceInAutoScalingGroup", terminate_instance_in_auto_scaling_group),
    ("SetInstanceHealth", set_instance_health),
    ("SetInstanceProtection", set_instance_protection),
    ("SuspendProcesses", suspend_or_resume_processes),
    ("ResumeProcesses", suspend_or_resume_processes),
    ("DescribeScalingActivities", describe_scaling_activities),
    ("CreateOrUpdateTags", change_tags),
    ("DeleteTags", change_tags),
    ("DescribeTags", describe_tags),
    ("AttachLoadBalancerTargetGroups", attach_traffic_sources),
    ("AttachTrafficSources", attach_traffic_sources),
    ("DetachLoadBalancerTargetGroups", detach_traffic_sources),
    ("DetachTrafficSources", detach_traffic_sources),
    ("DescribeLoadBalancerTargetGroups", describe_traffic_sources),
    ("DescribeTrafficSources", describe_traffic_sources),
    ("PutScalingPolicy", put_scaling_policy),
    ("DescribePolicies", describe_policies),
    ("DeletePolicy", delete_policy),
    ("ExecutePolicy", execute_policy),
    ("AttachInstances", attach_instances),
    ("DetachInstances", detach_instances),
    ("EnterStandby", enter_standby),
    ("ExitStandby", exit_standby),
    ("EnableMetricsCollection", enable_metrics_collection),
    ("DisableMetricsCollection", disable_metrics_collection),
    ("DescribeMetricCollectionTypes", describe_metric_collection_types),
    ("PutScheduledUpdateGroupAction", put_scheduled_update_group_action),
    ("BatchPutScheduledUpdateGroupAction", batch_put_scheduled_update_group_action),
    ("DescribeScheduledActions", describe_scheduled_actions),
    ("DeleteScheduledAction", delete_scheduled_action),
    ("BatchDeleteScheduledAction", batch_delete_scheduled_action),
    ("PutLifecycleHook", put_lifecycle_hook),
    ("DescribeLifecycleHooks", describe_lifecycle_hooks),
    ("DeleteLifecycleHook", delete_lifecycle_hook),
    ("CompleteLifecycleAction", complete_lifecycle_action),
    ("RecordLifecycleActionHeartbeat", record_lifecycle_action_heartbeat),
    ("DescribeLifecycleHookTypes", describe_lifecycle_hook_types),
    ("StartInstanceRefresh", start_instance_refresh),
    ("CancelInstanceRefresh", cancel_instance_refresh),
    ("RollbackInstanceRefresh", rollback_instance_refresh),
    ("DescribeInstanceRefreshes", describe_instance_refreshes),
    ("DescribeTerminationPolicyTypes", describe_termination_policy_types),
    ("DescribeScalingProcessTypes", describe_scaling_process_types),
    ("DescribeAccountLimits", describe_account_limits),
];

/// Runs one action; returns the `<XResult>` body (None for actions with an empty result).
pub async fn handle(svc: &Service, action: &str, p: &Params) -> AwsResult<Option<Xml>> {
    let Some((_, handler)) = ACTIONS.iter().find(|(name, _)| *name == action) else {
        return Err(AwsError::new(
            "InvalidAction",
            format!("The action {action} is not valid for this web service."),
        ));
    };
    let mut x = Xml::new();
    Ok(match handler(svc, action, p, &mut x)? {
        Body::Result => Some(x),
        Body::Empty => None,
    })
}

/// CreateAutoScalingGroup.
fn create_auto_scaling_group(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    let (req, placement) = create_request(p)?;
    svc.create_auto_scaling_group(req, placement)?;
    Ok(Body::Empty)
}

/// UpdateAutoScalingGroup.
fn update_auto_scaling_group(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    let name = p.required_query("AutoScalingGroupName")?;
    let placement = (p.get("VPCZoneIdentifier").is_some()
        || !p.list("AvailabilityZones").is_empty())
    .then(|| placement(p));
    svc.update_auto_scaling_group(name, update_request(p)?, placement)?;
    Ok(Body::Empty)
}

/// DeleteAutoScalingGroup.
fn delete_auto_scaling_group(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    svc.delete_auto_scaling_group(
        p.required_query("AutoScalingGroupName")?,
        p.bool("ForceDelete")?.unwrap_or(false),
    )?;
    Ok(Body::Empty)
}

/// SetDesiredCapacity.
fn set_desired_capacity(svc: &Service, _action: &str, p: &Params, _x: &mut Xml) -> AwsResult<Body> {
    let desired = p
        .number::<i64>("DesiredCapacity")?
        .ok_or_else(|| AwsError::validation("DesiredCapacity is required"))?;
    svc.set_desired_capacity(
        p.required_query("AutoScalingGroupName")?,
        desired,
        p.bool("HonorCooldown")?.unwrap_or(false),
    )?;
    Ok(Body::Empty)
}

/// CreateLaunchConfiguration.
fn create_launch_configuration(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    svc.create_launch_configuration(launch_configuration_request(p)?)?;
    Ok(Body::Empty)
}

/// DescribeLaunchConfigurations.
fn describe_launch_configurations(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let page = svc.describe_launch_configurations(
        &p.list("LaunchConfigurationNames"),
        p.number("MaxRecords")?,
        p.get("NextToken"),
    )?;
    x.list("LaunchConfigurations", "member", &page.items, launch_configuration_xml);
    x.opt("NextToken", page.next_token);
    Ok(Body::Result)
}

/// DeleteLaunchConfiguration.
fn delete_launch_configuration(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    svc.delete_launch_configuration(p.required_query("LaunchConfigurationName")?)?;
    Ok(Body::Empty)
}

/// DescribeAutoScalingGroups.
fn describe_auto_scaling_groups(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let page = svc.describe_auto_scaling_groups(
        &p.list("AutoScalingGroupNames"),
        &group_filters(p),
        p.number("MaxRecords")?,
        p.get("NextToken"),
    )?;
    x.list("AutoScalingGroups", "member", &page.items, group_xml);
    x.opt("NextToken", page.next_token);
    Ok(Body::Result)
}

/// DescribeAutoScalingInstances.
fn describe_auto_scaling_instances(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let items = svc.describe_auto_scaling_instances(&p.list("InstanceIds"));
    x.list("AutoScalingInstances", "member", &items, |x, (group, i)| {
        x.text("InstanceId", &i.instance_id)
            .text("InstanceType", &i.instance_type)
            .text("AutoScalingGroupName", group)
            .text("AvailabilityZone", &i.availability_zone)
            .text("LifecycleState", i.lifecycle_state.as_str())
            // This call spells health in capitals, unlike DescribeAutoScalingGroups.
            .text("HealthStatus", i.health_status.as_str().to_uppercase())
            .text("ProtectedFromScaleIn", i.protected_from_scale_in);
        launched_from_xml(x, i);
    });
    Ok(Body::Result)
}

/// TerminateInstanceInAutoScalingGroup.
fn terminate_instance_in_auto_scaling_group(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let decrement = p
        .bool("ShouldDecrementDesiredCapacity")?
        .ok_or_else(|| AwsError::validation("ShouldDecrementDesiredCapacity is required"))?;
    let a = svc.terminate_instance_in_group(p.required_query("InstanceId")?, decrement)?;
    x.el("Activity", |x| activity_xml(x, &a));
    Ok(Body::Result)
}

/// SetInstanceHealth.
fn set_instance_health(svc: &Service, _action: &str, p: &Params, _x: &mut Xml) -> AwsResult<Body> {
    let status = match p.required_query("HealthStatus")? {
        "Healthy" => HealthStatus::Healthy,
        "Unhealthy" => HealthStatus::Unhealthy,
        other => {
            return Err(AwsError::validation(format!(
                "Valid values for HealthStatus are Healthy and Unhealthy (got {other})"
            )))
        }
    };
    svc.set_instance_health(
        p.required_query("InstanceId")?,
        status,
        p.bool("ShouldRespectGracePeriod")?.unwrap_or(true),
    )?;
    Ok(Body::Empty)
}

/// SetInstanceProtection.
fn set_instance_protection(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    let protect = p
        .bool("ProtectedFromScaleIn")?
        .ok_or_else(|| AwsError::validation("ProtectedFromScaleIn is required"))?;
    svc.set_instance_protection(
        p.required_query("AutoScalingGroupName")?,
        &p.list("InstanceIds"),
        protect,
    )?;
    Ok(Body::Result)
}

/// SuspendProcesses and ResumeProcesses.
fn suspend_or_resume_processes(
    svc: &Service,
    action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    svc.suspend_or_resume(
        p.required_query("AutoScalingGroupName")?,
        &p.list("ScalingProcesses"),
        action == "SuspendProcesses",
    )?;
    Ok(Body::Empty)
}

/// DescribeScalingActivities.
fn describe_scaling_activities(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let include_deleted = p.bool("IncludeDeletedGroups")?.unwrap_or(false);
    let page = svc.describe_scaling_activities_of(
        p.get("AutoScalingGroupName"),
        &p.list("ActivityIds"),
        include_deleted,
        p.number("MaxRecords")?,
        p.get("NextToken"),
    )?;
    if include_deleted {
        // Then each activity says whether its group is still there.
        let live = svc.activity_groups_exist(&page.items);
        let items: Vec<(&Activity, bool)> = page.items.iter().zip(live).collect();
        x.list("Activities", "member", &items, |x, (a, live)| {
            activity_xml(x, a);
            x.text("AutoScalingGroupState", if *live { "InService" } else { "Deleted" });
        });
    } else {
        x.list("Activities", "member", &page.items, activity_xml);
    }
    x.opt("NextToken", page.next_token);
    Ok(Body::Result)
}

/// CreateOrUpdateTags and DeleteTags.
fn change_tags(svc: &Service, action: &str, p: &Params, _x: &mut Xml) -> AwsResult<Body> {
    let tags: Vec<(String, GroupTag)> = p
        .structs("Tags")
        .into_iter()
        .map(|t| {
            let name = t
                .string("ResourceId")
                .ok_or_else(|| AwsError::validation("ResourceId is required"))?;
            let key =
                t.string("Key").ok_or_else(|| AwsError::validation("Key is required"))?;
            if let Some(kind) = t.get("ResourceType").filter(|k| *k != "auto-scaling-group") {
                return Err(AwsError::validation(format!(
                    "Invalid resource type {kind}. The only supported resource type is auto-scaling-group."
                )));
            }
            Ok((
                name,
                GroupTag {
                    key,
                    value: t.string("Value").unwrap_or_default(),
                    propagate_at_launch: t.bool("PropagateAtLaunch")?.unwrap_or(false),
                },
            ))
        })
        .collect::<AwsResult<_>>()?;
    svc.change_group_tags(&tags, action == "DeleteTags")?;
    Ok(Body::Empty)
}

/// DescribeTags.
fn describe_tags(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<Body> {
    let page =
        svc.describe_group_tags(&group_filters(p), p.number("MaxRecords")?, p.get("NextToken"))?;
    x.list("Tags", "member", &page.items, |x, (g, t)| tag_xml(x, g, t));
    x.opt("NextToken", page.next_token);
    Ok(Body::Result)
}

/// AttachLoadBalancerTargetGroups and AttachTrafficSources.
fn attach_traffic_sources(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    let name = p.required_query("AutoScalingGroupName")?;
    svc.attach_target_groups(name, &target_group_arns(p)?)?;
    Ok(Body::Result)
}

/// DetachLoadBalancerTargetGroups and DetachTrafficSources.
fn detach_traffic_sources(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    let name = p.required_query("AutoScalingGroupName")?;
    svc.detach_target_groups(name, &target_group_arns(p)?)?;
    Ok(Body::Result)
}

/// DescribeLoadBalancerTargetGroups and DescribeTrafficSources.
fn describe_traffic_sources(
    svc: &Service,
    action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let name = p.required_query("AutoScalingGroupName")?;
    let page = svc.describe_auto_scaling_groups(&[name.to_string()], &[], None, None)?;
    let g =
        page.items.first().ok_or_else(|| shoal_model::autoscaling::group::group_not_found(name))?;
    if action == "DescribeLoadBalancerTargetGroups" {
        x.list("LoadBalancerTargetGroups", "member", &g.target_groups, |x, t| {
            x.text("LoadBalancerTargetGroupARN", &t.target_group_arn)
                .text("State", t.state.as_str());
        });
    } else {
        // Every traffic source Shoal holds is an `elbv2` target group.
        let wanted = p.get("TrafficSourceType").is_none_or(|t| t == "elbv2");
        let sources = if wanted { &g.target_groups[..] } else { &[] };
        x.list("TrafficSources", "member", sources, |x, t| {
            x.text("TrafficSource", &t.target_group_arn)
                .text("Identifier", &t.target_group_arn)
                .text("Type", "elbv2")
                .text("State", t.state.as_str());
        });
    }
    Ok(Body::Result)
}

/// PutScalingPolicy.
fn put_scaling_policy(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<Body> {
    let pol =
        svc.put_scaling_policy(p.required_query("AutoScalingGroupName")?, policy_request(p)?)?;
    x.text("PolicyARN", &pol.policy_arn);
    x.list("Alarms", "member", &pol.alarms, |x, a| {
        x.text("AlarmName", &a.alarm_name).text("AlarmARN", &a.alarm_arn);
    });
    Ok(Body::Result)
}

/// DescribePolicies.
fn describe_policies(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<Body> {
    let pols = svc.describe_policies(
        p.get("AutoScalingGroupName"),
        &p.list("PolicyNames"),
        &p.list("PolicyTypes"),
    );
    x.list("ScalingPolicies", "member", &pols, policy_xml);
    Ok(Body::Result)
}

/// DeletePolicy.
fn delete_policy(svc: &Service, _action: &str, p: &Params, _x: &mut Xml) -> AwsResult<Body> {
    svc.delete_policy(p.get("AutoScalingGroupName"), p.required_query("PolicyName")?)?;
    Ok(Body::Empty)
}

/// ExecutePolicy.
fn execute_policy(svc: &Service, _action: &str, p: &Params, _x: &mut Xml) -> AwsResult<Body> {
    svc.execute_policy(
        p.get("AutoScalingGroupName"),
        p.required_query("PolicyName")?,
        ExecutePolicyRequest {
            honor_cooldown: p.bool("HonorCooldown")?.unwrap_or(false),
            metric_value: p.number("MetricValue")?,
            breach_threshold: p.number("BreachThreshold")?,
        },
    )?;
    Ok(Body::Empty)
}

/// AttachInstances.
fn attach_instances(svc: &Service, _action: &str, p: &Params, _x: &mut Xml) -> AwsResult<Body> {
    svc.attach_instances(p.required_query("AutoScalingGroupName")?, &p.list("InstanceIds"))?;
    Ok(Body::Empty)
}

/// DetachInstances.
fn detach_instances(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<Body> {
    let decrement = p
        .bool("ShouldDecrementDesiredCapacity")?
        .ok_or_else(|| AwsError::validation("ShouldDecrementDesiredCapacity is required"))?;
    let activities = svc.detach_instances(
        p.required_query("AutoScalingGroupName")?,
        &p.list("InstanceIds"),
        decrement,
    )?;
    x.list("Activities", "member", &activities, activity_xml);
    Ok(Body::Result)
}

/// EnterStandby.
fn enter_standby(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<Body> {
    let decrement = p
        .bool("ShouldDecrementDesiredCapacity")?
        .ok_or_else(|| AwsError::validation("ShouldDecrementDesiredCapacity is required"))?;
    let activities = svc.enter_standby(
        p.required_query("AutoScalingGroupName")?,
        &p.list("InstanceIds"),
        decrement,
    )?;
    x.list("Activities", "member", &activities, activity_xml);
    Ok(Body::Result)
}

/// ExitStandby.
fn exit_standby(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<Body> {
    let activities =
        svc.exit_standby(p.required_query("AutoScalingGroupName")?, &p.list("InstanceIds"))?;
    x.list("Activities", "member", &activities, activity_xml);
    Ok(Body::Result)
}

/// EnableMetricsCollection.
fn enable_metrics_collection(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    svc.enable_metrics_collection(
        p.required_query("AutoScalingGroupName")?,
        &p.list("Metrics"),
        p.required_query("Granularity")?,
    )?;
    Ok(Body::Empty)
}

/// DisableMetricsCollection.
fn disable_metrics_collection(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    svc.disable_metrics_collection(p.required_query("AutoScalingGroupName")?, &p.list("Metrics"))?;
    Ok(Body::Empty)
}

/// DescribeMetricCollectionTypes.
fn describe_metric_collection_types(
    _svc: &Service,
    _action: &str,
    _p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    x.list("Metrics", "member", GROUP_METRICS, |x, m| {
        x.text("Metric", m);
    });
    x.list("Granularities", "member", [GRANULARITY], |x, g| {
        x.text("Granularity", g);
    });
    Ok(Body::Result)
}

/// PutScheduledUpdateGroupAction.
fn put_scheduled_update_group_action(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    svc.put_scheduled_action(
        p.required_query("AutoScalingGroupName")?,
        schedule_request(p, "ScheduledActionName")?,
    )?;
    Ok(Body::Empty)
}

/// BatchPutScheduledUpdateGroupAction.
fn batch_put_scheduled_update_group_action(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let group = p.required_query("AutoScalingGroupName")?;
    let mut failed = Vec::new();
    for a in p.structs("ScheduledUpdateGroupActions") {
        let name = a.string("ScheduledActionName").unwrap_or_default();
        if let Err(e) = schedule_request(&a, "ScheduledActionName")
            .and_then(|r| svc.put_scheduled_action(group, r))
        {
            failed.push((name, e));
        }
    }
    x.list("FailedScheduledUpdateGroupActions", "member", &failed, |x, (n, e)| {
        x.text("ScheduledActionName", n)
            .text("ErrorCode", &e.code)
            .text("ErrorMessage", &e.message);
    });
    Ok(Body::Result)
}

/// DescribeScheduledActions.
fn describe_scheduled_actions(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let actions = svc
        .describe_scheduled_actions(p.get("AutoScalingGroupName"), &p.list("ScheduledActionNames"));
    let now = svc.clock.now();
    x.list("ScheduledUpdateGroupActions", "member", &actions, |x, a| {
        // As in AWS, a recurring action's StartTime is its next run.
        let start = if a.recurrence.is_some() { a.next_run(now) } else { a.start_time };
        x.text("AutoScalingGroupName", &a.auto_scaling_group_name)
            .text("ScheduledActionName", &a.name)
            .text("ScheduledActionARN", &a.arn)
            .opt("Time", start.map(aws_time))
            .opt("StartTime", start.map(aws_time))
            .opt("EndTime", a.end_time.map(aws_time))
            .opt("Recurrence", a.recurrence.as_deref())
            .opt("MinSize", a.min_size)
            .opt("MaxSize", a.max_size)
            .opt("DesiredCapacity", a.desired_capacity)
            .opt("TimeZone", a.time_zone.as_deref());
    });
    Ok(Body::Result)
}

/// DeleteScheduledAction.
fn delete_scheduled_action(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    svc.delete_scheduled_action(
        p.required_query("AutoScalingGroupName")?,
        p.required_query("ScheduledActionName")?,
    )?;
    Ok(Body::Empty)
}

/// BatchDeleteScheduledAction.
fn batch_delete_scheduled_action(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let group = p.required_query("AutoScalingGroupName")?;
    let mut failed = Vec::new();
    for name in p.list("ScheduledActionNames") {
        if let Err(e) = svc.delete_scheduled_action(group, &name) {
            failed.push((name, e));
        }
    }
    x.list("FailedScheduledActions", "member", &failed, |x, (n, e)| {
        x.text("ScheduledActionName", n)
            .text("ErrorCode", &e.code)
            .text("ErrorMessage", &e.message);
    });
    Ok(Body::Result)
}

/// PutLifecycleHook.
fn put_lifecycle_hook(svc: &Service, _action: &str, p: &Params, _x: &mut Xml) -> AwsResult<Body> {
    let req = crate::service::autoscaling::HookRequest {
        name: p.required_query("LifecycleHookName")?.to_string(),
        transition: p.string("LifecycleTransition"),
        heartbeat_timeout: p.number("HeartbeatTimeout")?,
        default_result: p.string("DefaultResult"),
        notification_target_arn: p.string("NotificationTargetARN"),
        role_arn: p.string("RoleARN"),
        notification_metadata: p.string("NotificationMetadata"),
    };
    svc.put_lifecycle_hook(p.required_query("AutoScalingGroupName")?, req)?;
    Ok(Body::Result)
}

/// DescribeLifecycleHooks.
fn describe_lifecycle_hooks(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let group = p.required_query("AutoScalingGroupName")?;
    let hooks = svc.describe_lifecycle_hooks(group, &p.list("LifecycleHookNames"))?;
    x.list("LifecycleHooks", "member", &hooks, |x, h| {
        x.text("LifecycleHookName", &h.name)
            .text("AutoScalingGroupName", &h.auto_scaling_group_name)
            .text("LifecycleTransition", h.transition.as_str())
            .opt("NotificationTargetARN", h.notification_target_arn.as_deref())
            .opt("RoleARN", h.role_arn.as_deref())
            .opt("NotificationMetadata", h.notification_metadata.as_deref())
            .text("HeartbeatTimeout", h.heartbeat_timeout)
            .text("GlobalTimeout", h.global_timeout)
            .text("DefaultResult", &h.default_result);
    });
    Ok(Body::Result)
}

/// DeleteLifecycleHook.
fn delete_lifecycle_hook(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    svc.delete_lifecycle_hook(
        p.required_query("AutoScalingGroupName")?,
        p.required_query("LifecycleHookName")?,
    )?;
    Ok(Body::Result)
}

/// CompleteLifecycleAction.
fn complete_lifecycle_action(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    svc.complete_lifecycle_action(
        p.required_query("AutoScalingGroupName")?,
        p.required_query("LifecycleHookName")?,
        p.get("InstanceId"),
        p.get("LifecycleActionToken"),
        p.required_query("LifecycleActionResult")?,
    )?;
    Ok(Body::Result)
}

/// RecordLifecycleActionHeartbeat.
fn record_lifecycle_action_heartbeat(
    svc: &Service,
    _action: &str,
    p: &Params,
    _x: &mut Xml,
) -> AwsResult<Body> {
    svc.record_lifecycle_heartbeat(
        p.required_query("AutoScalingGroupName")?,
        p.required_query("LifecycleHookName")?,
        p.get("InstanceId"),
        p.get("LifecycleActionToken"),
    )?;
    Ok(Body::Result)
}

/// DescribeLifecycleHookTypes.
fn describe_lifecycle_hook_types(
    _svc: &Service,
    _action: &str,
    _p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    x.list(
        "LifecycleHookTypes",
        "member",
        ["autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"],
        |x, t| {
            x.raw(t);
        },
    );
    Ok(Body::Result)
}

/// StartInstanceRefresh.
fn start_instance_refresh(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let prefs = p.sub("Preferences");
    let mut preferences = shoal_model::autoscaling::lifecycle::RefreshPreferences::default();
    if let Some(v) = prefs.number("MinHealthyPercentage")? {
        preferences.min_healthy_percentage = v;
    }
    if let Some(v) = prefs.number("MaxHealthyPercentage")? {
        preferences.max_healthy_percentage = v;
    }
    preferences.instance_warmup = prefs.number("InstanceWarmup")?;
    preferences.checkpoint_percentages =
        prefs.list("CheckpointPercentages").iter().filter_map(|v| v.parse().ok()).collect();
    if let Some(v) = prefs.number("CheckpointDelay")? {
        preferences.checkpoint_delay = v;
    }
    if let Some(v) = prefs.bool("SkipMatching")? {
        preferences.skip_matching = v;
    }
    if let Some(v) = prefs.bool("AutoRollback")? {
        preferences.auto_rollback = v;
    }
    if let Some(v) = prefs.string("ScaleInProtectedInstances") {
        preferences.scale_in_protected_instances = v;
    }
    if let Some(v) = prefs.string("StandbyInstances") {
        preferences.standby_instances = v;
    }
    let target = template_spec(&p.sub("DesiredConfiguration"));
    let id =
        svc.start_instance_refresh(p.required_query("AutoScalingGroupName")?, preferences, target)?;
    x.text("InstanceRefreshId", id);
    Ok(Body::Result)
}

/// CancelInstanceRefresh.
fn cancel_instance_refresh(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    x.text(
        "InstanceRefreshId",
        svc.cancel_instance_refresh(p.required_query("AutoScalingGroupName")?)?,
    );
    Ok(Body::Result)
}

/// RollbackInstanceRefresh.
fn rollback_instance_refresh(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    x.text(
        "InstanceRefreshId",
        svc.rollback_instance_refresh(p.required_query("AutoScalingGroupName")?)?,
    );
    Ok(Body::Result)
}

/// DescribeInstanceRefreshes.
fn describe_instance_refreshes(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let refreshes = svc.describe_instance_refreshes(
        p.required_query("AutoScalingGroupName")?,
        &p.list("InstanceRefreshIds"),
    );
    x.list("InstanceRefreshes", "member", &refreshes, |x, r| {
        let pr = &r.preferences;
        x.text("InstanceRefreshId", &r.instance_refresh_id)
            .text("AutoScalingGroupName", &r.auto_scaling_group_name)
            .text("Status", r.status.as_str())
            .opt("StatusReason", r.status_reason.as_deref())
            .text("StartTime", aws_time(r.start_time))
            .opt("EndTime", r.end_time.map(aws_time))
            .text("PercentageComplete", r.percentage_complete)
            .text("InstancesToUpdate", r.pending_instances.len())
            .el("Preferences", |x| {
                x.text("MinHealthyPercentage", pr.min_healthy_percentage)
                    .text("MaxHealthyPercentage", pr.max_healthy_percentage)
                    .opt("InstanceWarmup", pr.instance_warmup)
                    .list("CheckpointPercentages", "member", &pr.checkpoint_percentages, |x, c| {
                        x.raw(&c.to_string());
                    })
                    .text("CheckpointDelay", pr.checkpoint_delay)
                    .text("SkipMatching", pr.skip_matching)
                    .text("AutoRollback", pr.auto_rollback)
                    .text("ScaleInProtectedInstances", &pr.scale_in_protected_instances)
                    .text("StandbyInstances", &pr.standby_instances);
            });
        if let Some(t) = &r.target_launch_template {
            x.el("DesiredConfiguration", |x| {
                x.el("LaunchTemplate", |x| {
                    x.opt("LaunchTemplateId", t.launch_template_id.as_deref())
                        .opt("LaunchTemplateName", t.launch_template_name.as_deref())
                        .opt("Version", t.version.as_deref());
                });
            });
        }
    });
    Ok(Body::Result)
}

/// DescribeTerminationPolicyTypes.
fn describe_termination_policy_types(
    _svc: &Service,
    _action: &str,
    _p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    x.list(
        "TerminationPolicyTypes",
        "member",
        [
            "ClosestToNextInstanceHour",
            "Default",
            "NewestInstance",
            "OldestInstance",
            "OldestLaunchConfiguration",
            "OldestLaunchTemplate",
            "AllocationStrategy",
        ],
        |x, t| {
            x.raw(t);
        },
    );
    Ok(Body::Result)
}

/// DescribeScalingProcessTypes.
fn describe_scaling_process_types(
    _svc: &Service,
    _action: &str,
    _p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    x.list("Processes", "member", shoal_model::autoscaling::group::SCALING_PROCESSES, |x, t| {
        x.text("ProcessName", t);
    });
    Ok(Body::Result)
}

/// DescribeAccountLimits.
fn describe_account_limits(
    svc: &Service,
    _action: &str,
    _p: &Params,
    x: &mut Xml,
) -> AwsResult<Body> {
    let q = &svc.config.quotas;
    let (groups, launch_configurations) = svc.autoscaling_usage();
    x.text("MaxNumberOfAutoScalingGroups", q.auto_scaling_groups)
        .text("MaxNumberOfLaunchConfigurations", q.launch_configurations)
        .text("NumberOfAutoScalingGroups", groups)
        .text("NumberOfLaunchConfigurations", launch_configurations);
    Ok(Body::Result)
}

fn group_filters(p: &Params) -> Vec<GroupFilter> {
    p.structs("Filters")
        .into_iter()
        .filter_map(|f| Some(GroupFilter { name: f.string("Name")?, values: f.list("Values") }))
        .collect()
}

/// `TargetGroupARNs` and `TrafficSources` together. Traffic sources of type `elbv2`
/// (the default for an ARN) are target groups; Shoal has no Classic Load Balancers
/// (`elb`) and no VPC Lattice (`vpc-lattice`), so those are refused.
fn target_group_arns(p: &Params) -> AwsResult<Vec<String>> {
    let mut arns = p.list("TargetGroupARNs");
    for source in p.structs("TrafficSources") {
        let identifier = source
            .string("Identifier")
            .ok_or_else(|| AwsError::validation("TrafficSources.member.Identifier is required"))?;
        match source.get("Type").unwrap_or("elbv2") {
            "elbv2" => arns.push(identifier),
            other => {
                return Err(AwsError::validation(format!(
                    "Traffic source type {other} is not supported by Shoal: attach Application Load Balancer target groups (type elbv2)."
                )))
            }
        }
    }
    Ok(arns)
}

fn placement(p: &Params) -> Placement {
    Placement {
        subnet_ids: p
            .get("VPCZoneIdentifier")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default(),
        availability_zones: p.list("AvailabilityZones"),
    }
}

/// A `LaunchTemplateSpecification` under `prefix` (`LaunchTemplate`, …), if given.
fn spec_at(p: &Params, prefix: &str) -> Option<LaunchTemplateSpec> {
    let t = p.sub(prefix);
    (!t.is_empty()).then(|| LaunchTemplateSpec {
        launch_template_id: t.string("LaunchTemplateId"),
        launch_template_name: t.string("LaunchTemplateName"),
        version: t.string("Version"),
    })
}

fn template_spec(p: &Params) -> Option<LaunchTemplateSpec> {
    spec_at(p, "LaunchTemplate")
}

/// `MixedInstancesPolicy.*`, if given. An empty `Overrides` (botocore sends
/// `Overrides=`) is an empty list, not an absent one.
fn mixed_policy(p: &Params) -> AwsResult<Option<MixedInstancesPolicyRequest>> {
    let m = p.sub("MixedInstancesPolicy");
    if m.is_empty() && p.get("MixedInstancesPolicy").is_none() {
        return Ok(None);
    }
    let lt = m.sub("LaunchTemplate");
    let overrides = (lt.get("Overrides").is_some() || !lt.sub("Overrides").is_empty()).then(|| {
        lt.structs("Overrides")
            .into_iter()
            .map(|o| LaunchTemplateOverride {
                instance_type: o.string("InstanceType"),
                weighted_capacity: o.string("WeightedCapacity"),
                launch_template_specification: spec_at(&o, "LaunchTemplateSpecification"),
            })
            .collect()
    });
    let d = m.sub("InstancesDistribution");
    Ok(Some(MixedInstancesPolicyRequest {
        launch_template: spec_at(&lt, "LaunchTemplateSpecification"),
        overrides,
        on_demand_allocation_strategy: d.string("OnDemandAllocationStrategy"),
        on_demand_base_capacity: d.number("OnDemandBaseCapacity")?,
        on_demand_percentage_above_base_capacity: d
            .number("OnDemandPercentageAboveBaseCapacity")?,
        spot_allocation_strategy: d.string("SpotAllocationStrategy"),
        spot_instance_pools: d.number("SpotInstancePools")?,
        spot_max_price: d.string("SpotMaxPrice"),
    }))
}

fn launch_configuration_request(p: &Params) -> AwsResult<CreateLaunchConfigurationRequest> {
    let monitoring = p.sub("InstanceMonitoring");
    let metadata = p.sub("MetadataOptions");
    Ok(CreateLaunchConfigurationRequest {
        name: p.required_query("LaunchConfigurationName")?.to_string(),
        image_id: p.string("ImageId"),
        instance_type: p.string("InstanceType"),
        instance_id: p.string("InstanceId"),
        key_name: p.string("KeyName"),
        security_groups: p.list("SecurityGroups"),
        user_data: p.string("UserData"),
        instance_monitoring: monitoring.bool("Enabled")?,
        block_device_mappings: p
            .structs("BlockDeviceMappings")
            .into_iter()
            .map(|b| {
                let e = b.sub("Ebs");
                Ok(BlockDeviceMapping {
                    device_name: b.string("DeviceName").unwrap_or_default(),
                    virtual_name: b.string("VirtualName"),
                    no_device: b.bool("NoDevice")?,
                    ebs: if e.is_empty() {
                        None
                    } else {
                        Some(Ebs {
                            snapshot_id: e.string("SnapshotId"),
                            volume_size: e.number("VolumeSize")?,
                            volume_type: e.string("VolumeType"),
                            delete_on_termination: e.bool("DeleteOnTermination")?,
                            iops: e.number("Iops")?,
                            encrypted: e.bool("Encrypted")?,
                            throughput: e.number("Throughput")?,
                        })
                    },
                })
            })
            .collect::<AwsResult<_>>()?,
        iam_instance_profile: p.string("IamInstanceProfile"),
        associate_public_ip_address: p.bool("AssociatePublicIpAddress")?,
        ebs_optimized: p.bool("EbsOptimized")?,
        metadata_options: if metadata.is_empty() {
            None
        } else {
            Some(MetadataOptions {
                http_tokens: metadata.string("HttpTokens"),
                http_put_response_hop_limit: metadata.number("HttpPutResponseHopLimit")?,
                http_endpoint: metadata.string("HttpEndpoint"),
            })
        },
        kernel_id: p.string("KernelId"),
        ramdisk_id: p.string("RamdiskId"),
        spot_price: p.string("SpotPrice"),
        placement_tenancy: p.string("PlacementTenancy"),
    })
}

fn create_request(p: &Params) -> AwsResult<(CreateGroupRequest, Placement)> {
    let req = CreateGroupRequest {
        name: p.required_query("AutoScalingGroupName")?.to_string(),
        launch_template: template_spec(p),
        launch_configuration_name: p.string("LaunchConfigurationName"),
        mixed_instances_policy: mixed_policy(p)?,
        instance_id: p.string("InstanceId"),
        min_size: p.number("MinSize")?,
        max_size: p.number("MaxSize")?,
        desired_capacity: p.number("DesiredCapacity")?,
        default_cooldown: p.number("DefaultCooldown")?,
        zones: vec![],
        health_check_type: p.string("HealthCheckType"),
        health_check_grace_period: p.number("HealthCheckGracePeriod")?,
        target_group_arns: target_group_arns(p)?,
        tags: p
            .structs("Tags")
            .into_iter()
            .filter_map(|t| {
                Some(GroupTag {
                    key: t.string("Key")?,
                    value: t.string("Value").unwrap_or_default(),
                    propagate_at_launch: t
                        .bool("PropagateAtLaunch")
                        .ok()
                        .flatten()
                        .unwrap_or(false),
                })
            })
            .collect(),
        termination_policies: p.list("TerminationPolicies"),
        default_instance_warmup: p.number("DefaultInstanceWarmup")?,
        new_instances_protected_from_scale_in: p.bool("NewInstancesProtectedFromScaleIn")?,
        max_instance_lifetime: p.number("MaxInstanceLifetime")?,
        capacity_rebalance: p.bool("CapacityRebalance")?,
    };
    Ok((req, placement(p)))
}

fn update_request(p: &Params) -> AwsResult<UpdateGroupRequest> {
    let policies = p.list("TerminationPolicies");
    Ok(UpdateGroupRequest {
        launch_template: template_spec(p),
        launch_configuration_name: p.string("LaunchConfigurationName"),
        mixed_instances_policy: mixed_policy(p)?,
        min_size: p.number("MinSize")?,
        max_size: p.number("MaxSize")?,
        desired_capacity: p.number("DesiredCapacity")?,
        default_cooldown: p.number("DefaultCooldown")?,
        zones: None,
        health_check_type: p.string("HealthCheckType"),
        health_check_grace_period: p.number("HealthCheckGracePeriod")?,
        termination_policies: (!policies.is_empty()).then_some(policies),
        default_instance_warmup: p.number("DefaultInstanceWarmup")?,
        new_instances_protected_from_scale_in: p.bool("NewInstancesProtectedFromScaleIn")?,
        max_instance_lifetime: p.number("MaxInstanceLifetime")?,
        capacity_rebalance: p.bool("CapacityRebalance")?,
    })
}

/// `Dimensions.member.N.{Name,Value}`.
fn dimensions(p: &Params) -> Vec<shoal_model::cloudwatch::metric::Dimension> {
    p.structs("Dimensions")
        .into_iter()
        .filter_map(|d| {
            Some(shoal_model::cloudwatch::metric::Dimension {
                name: d.string("Name")?,
                value: d.string("Value")?,
            })
        })
        .collect()
}

/// One `TargetTrackingMetricDataQuery`; a `MetricStat` period defaults to 60.
fn metric_query(q: &Params) -> AwsResult<MetricDataQuery> {
    let ms = q.sub("MetricStat");
    let metric_stat = if ms.is_empty() {
        None
    } else {
        let metric = ms.sub("Metric");
        Some(MetricStat {
            namespace: metric.string("Namespace").unwrap_or_default(),
            metric_name: metric.string("MetricName").unwrap_or_default(),
            dimensions: dimensions(&metric),
            period: ms.number("Period")?.or(q.number("Period")?).unwrap_or(60),
            stat: ms.string("Stat").unwrap_or_default(),
            unit: ms.string("Unit"),
        })
    };
    Ok(MetricDataQuery {
        id: q.string("Id").unwrap_or_default(),
        metric_stat,
        expression: q.string("Expression"),
        label: q.string("Label"),
        return_data: q.bool("ReturnData")?,
        period: q.number("Period")?,
    })
}

fn policy_request(p: &Params) -> AwsResult<PutPolicyRequest> {
    let tt = p.sub("TargetTrackingConfiguration");
    let target_tracking = if tt.is_empty() {
        None
    } else {
        let pre = tt.sub("PredefinedMetricSpecification");
        let custom = tt.sub("CustomizedMetricSpecification");
        Some(TargetTrackingConfiguration {
            predefined: if pre.is_empty() {
                None
            } else {
                let kind = pre.required_query("PredefinedMetricType")?;
                Some(PredefinedMetric {
                    metric_type: PredefinedMetricType::parse(kind)?,
                    resource_label: pre.string("ResourceLabel"),
                })
            },
            customized: if custom.is_empty() {
                None
            } else {
                let metrics = custom
                    .structs("Metrics")
                    .iter()
                    .map(metric_query)
                    .collect::<AwsResult<Vec<_>>>()?;
                // The single-metric form's Statistic defaults to Average; metric math has none.
                let statistic = custom
                    .string("Statistic")
                    .or_else(|| metrics.is_empty().then(|| "Average".to_string()));
                Some(CustomizedMetric {
                    namespace: custom.string("Namespace").unwrap_or_default(),
                    metric_name: custom.string("MetricName").unwrap_or_default(),
                    dimensions: dimensions(&custom),
                    statistic: statistic.unwrap_or_default(),
                    unit: custom.string("Unit"),
                    period: custom.number("Period")?,
                    metrics,
                })
            },
            target_value: tt
                .number("TargetValue")?
                .ok_or_else(|| AwsError::validation("TargetValue is required"))?,
            disable_scale_in: tt.bool("DisableScaleIn")?.unwrap_or(false),
        })
    };
    Ok(PutPolicyRequest {
        policy_name: p.required_query("PolicyName")?.to_string(),
        policy_type: p.string("PolicyType"),
        adjustment_type: p.string("AdjustmentType"),
        scaling_adjustment: p.number("ScalingAdjustment")?,
        cooldown: p.number("Cooldown")?,
        min_adjustment_magnitude: p.number("MinAdjustmentMagnitude")?,
        step_adjustments: p
            .structs("StepAdjustments")
            .into_iter()
            .map(|s| {
                Ok(StepAdjustment {
                    metric_interval_lower_bound: s.number("MetricIntervalLowerBound")?,
                    metric_interval_upper_bound: s.number("MetricIntervalUpperBound")?,
                    scaling_adjustment: s
                        .number("ScalingAdjustment")?
                        .ok_or_else(|| AwsError::validation("ScalingAdjustment is required"))?,
                })
            })
            .collect::<AwsResult<_>>()?,
        metric_aggregation_type: p.string("MetricAggregationType"),
        estimated_instance_warmup: p.number("EstimatedInstanceWarmup")?,
        target_tracking,
        enabled: p.bool("Enabled")?,
    })
}

/// An instance's `LaunchConfigurationName` or `LaunchTemplate` (what it was launched
/// from, which may no longer be the group's).
fn launched_from_xml(x: &mut Xml, i: &GroupInstance) {
    x.opt("LaunchConfigurationName", i.launch_configuration_name.as_deref());
    if let Some(t) = &i.launch_template {
        x.el("LaunchTemplate", |x| {
            x.text("LaunchTemplateId", &t.launch_template_id)
                .text("LaunchTemplateName", &t.launch_template_name)
                .text("Version", &t.version);
        });
    }
}

fn spec_xml(x: &mut Xml, tag: &str, t: &LaunchTemplateSpec) {
    x.el(tag, |x| {
        x.opt("LaunchTemplateId", t.launch_template_id.as_deref())
            .opt("LaunchTemplateName", t.launch_template_name.as_deref())
            // As given: AWS echoes no Version when the request named none.
            .opt("Version", t.version.as_deref());
    });
}

fn mixed_policy_xml(x: &mut Xml, m: &MixedInstancesPolicy) {
    x.el("MixedInstancesPolicy", |x| {
        x.el("LaunchTemplate", |x| {
            spec_xml(x, "LaunchTemplateSpecification", &m.launch_template);
            x.list("Overrides", "member", &m.overrides, |x, o| {
                x.opt("InstanceType", o.instance_type.as_deref())
                    .opt("WeightedCapacity", o.weighted_capacity.as_deref());
                if let Some(t) = &o.launch_template_specification {
                    spec_xml(x, "LaunchTemplateSpecification", t);
                }
            });
        });
        let d = &m.instances_distribution;
        x.el("InstancesDistribution", |x| {
            x.text("OnDemandAllocationStrategy", &d.on_demand_allocation_strategy)
                .text("OnDemandBaseCapacity", d.on_demand_base_capacity)
                .text(
                    "OnDemandPercentageAboveBaseCapacity",
                    d.on_demand_percentage_above_base_capacity,
                )
                .text("SpotAllocationStrategy", &d.spot_allocation_strategy)
                .opt("SpotInstancePools", d.spot_instance_pools)
                .opt("SpotMaxPrice", d.spot_max_price.as_deref());
        });
    });
}

/// One `LaunchConfigurations` member. Absent strings are empty and absent lists empty,
/// as AWS answers (`KernelId: ""`, `ClassicLinkVPCSecurityGroups: []`).
fn launch_configuration_xml(x: &mut Xml, lc: &LaunchConfiguration) {
    let raw = |x: &mut Xml, v: &String| {
        x.raw(&super::xml::escape(v));
    };
    x.text("LaunchConfigurationName", &lc.name)
        .text("LaunchConfigurationARN", &lc.arn)
        .text("ImageId", &lc.image_id)
        .text("KeyName", lc.key_name.as_deref().unwrap_or(""))
        .list("SecurityGroups", "member", &lc.security_groups, raw)
        .el("ClassicLinkVPCSecurityGroups", |_| {})
        .text("UserData", lc.user_data.as_deref().unwrap_or(""))
        .text("InstanceType", &lc.instance_type)
        .text("KernelId", lc.kernel_id.as_deref().unwrap_or(""))
        .text("RamdiskId", lc.ramdisk_id.as_deref().unwrap_or(""))
        .list("BlockDeviceMappings", "member", &lc.block_device_mappings, |x, b| {
            x.opt("VirtualName", b.virtual_name.as_deref()).text("DeviceName", &b.device_name);
            if let Some(e) = &b.ebs {
                x.el("Ebs", |x| {
                    x.opt("SnapshotId", e.snapshot_id.as_deref())
                        .opt("VolumeSize", e.volume_size)
                        .opt("VolumeType", e.volume_type.as_deref())
                        .opt("DeleteOnTermination", e.delete_on_termination)
                        .opt("Iops", e.iops)
                        .opt("Encrypted", e.encrypted)
                        .opt("Throughput", e.throughput);
                });
            }
            x.opt("NoDevice", b.no_device);
        })
        .el("InstanceMonitoring", |x| {
            x.text("Enabled", lc.instance_monitoring);
        })
        .opt("SpotPrice", lc.spot_price.as_deref())
        .opt("IamInstanceProfile", lc.iam_instance_profile.as_deref())
        .text("CreatedTime", aws_time(lc.created_time))
        .text("EbsOptimized", lc.ebs_optimized)
        .opt("AssociatePublicIpAddress", lc.associate_public_ip_address)
        .opt("PlacementTenancy", lc.placement_tenancy.as_deref());
    if let Some(m) = &lc.metadata_options {
        x.el("MetadataOptions", |x| {
            x.opt("HttpTokens", m.http_tokens.as_deref())
                .opt("HttpPutResponseHopLimit", m.http_put_response_hop_limit)
                .opt("HttpEndpoint", m.http_endpoint.as_deref());
        });
    }
}

fn tag_xml(x: &mut Xml, g: &AutoScalingGroup, t: &GroupTag) {
    x.text("ResourceId", &g.name)
        .text("ResourceType", "auto-scaling-group")
        .text("Key", &t.key)
        .text("Value", &t.value)
        .text("PropagateAtLaunch", t.propagate_at_launch);
}

fn group_xml(x: &mut Xml, g: &AutoScalingGroup) {
    x.text("AutoScalingGroupName", &g.name).text("AutoScalingGroupARN", &g.arn);
    x.opt("LaunchConfigurationName", g.launch_configuration_name.as_deref());
    if let Some(t) = &g.launch_template {
        spec_xml(x, "LaunchTemplate", t);
    }
    if let Some(m) = &g.mixed_instances_policy {
        mixed_policy_xml(x, m);
    }
    x
        .text("MinSize", g.min_size).text("MaxSize", g.max_size).text("DesiredCapacity", g.desired_capacity)
        .text("DefaultCooldown", g.default_cooldown)
        .list("AvailabilityZones", "member", g.availability_zones(), |x, z| { x.raw(&super::xml::escape(&z)); })
        .el("LoadBalancerNames", |_| {})
        .list("TargetGroupARNs", "member", &g.target_groups, |x, t| { x.raw(&super::xml::escape(&t.target_group_arn)); })
        .text("HealthCheckType", g.health_check_type.as_str()).text("HealthCheckGracePeriod", g.health_check_grace_period)
        .list("Instances", "member", &g.instances, |x, i| {
            x.text("InstanceId", &i.instance_id).text("InstanceType", &i.instance_type).text("AvailabilityZone", &i.availability_zone)
                .text("LifecycleState", i.lifecycle_state.as_str()).text("HealthStatus", i.health_status.as_str());
            launched_from_xml(x, i);
            x.text("ProtectedFromScaleIn", i.protected_from_scale_in);
        })
        .text("CreatedTime", aws_time(g.created_time))
        .list("SuspendedProcesses", "member", &g.suspended_processes, |x, s| { x.text("ProcessName", &s.process_name).text("SuspensionReason", &s.suspension_reason); })
        .text("VPCZoneIdentifier", g.vpc_zone_identifier())
        .list("EnabledMetrics", "member", &g.enabled_metrics, |x, m| { x.text("Metric", &m.metric).text("Granularity", &m.granularity); })
        .list("Tags", "member", &g.tags, |x, t| tag_xml(x, g, t))
        .list("TerminationPolicies", "member", &g.termination_policies, |x, t| { x.raw(&super::xml::escape(t.as_str())); })
        .text("NewInstancesProtectedFromScaleIn", g.new_instances_protected_from_scale_in)
        .text("ServiceLinkedRoleARN", format!("arn:aws:iam::{}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling", shoal_model::ACCOUNT_ID))
        .text("CapacityRebalance", g.capacity_rebalance)
        .opt("DefaultInstanceWarmup", g.default_instance_warmup)
        .opt("MaxInstanceLifetime", g.max_instance_lifetime)
        .opt("Status", g.status.as_deref())
        .list("TrafficSources", "member", &g.target_groups, |x, t| { x.text("Identifier", &t.target_group_arn).text("Type", "elbv2"); });
}

pub fn activity_xml(x: &mut Xml, a: &Activity) {
    x.text("ActivityId", &a.activity_id)
        .text("AutoScalingGroupName", &a.auto_scaling_group_name)
        .text("AutoScalingGroupARN", &a.auto_scaling_group_arn)
        .text("Description", &a.description)
        .text("Cause", &a.cause)
        .text("StartTime", aws_time(a.start_time))
        .opt("EndTime", a.end_time.map(aws_time))
        .text("StatusCode", a.status_code.as_str())
        .opt("StatusMessage", a.status_message.as_deref())
        .text("Progress", a.progress)
        .text("Details", &a.details);
}

fn dimension_xml(x: &mut Xml, d: &shoal_model::cloudwatch::metric::Dimension) {
    x.text("Name", &d.name).text("Value", &d.value);
}

fn metric_query_xml(x: &mut Xml, q: &MetricDataQuery) {
    x.text("Id", &q.id);
    if let Some(ms) = &q.metric_stat {
        x.el("MetricStat", |x| {
            x.el("Metric", |x| {
                x.text("Namespace", &ms.namespace).text("MetricName", &ms.metric_name).list(
                    "Dimensions",
                    "member",
                    &ms.dimensions,
                    dimension_xml,
                );
            })
            .text("Stat", &ms.stat)
            .opt("Unit", ms.unit.as_deref())
            .text("Period", ms.period);
        });
    }
    x.opt("Expression", q.expression.as_deref())
        .opt("Label", q.label.as_deref())
        .opt("Period", q.period)
        .opt("ReturnData", q.return_data);
}

fn policy_xml(x: &mut Xml, p: &ScalingPolicy) {
    x.text("AutoScalingGroupName", &p.auto_scaling_group_name)
        .text("PolicyName", &p.policy_name)
        .text("PolicyARN", &p.policy_arn)
        .text("PolicyType", policy_type(p));
    match &p.config {
        PolicyConfig::TargetTracking(tt) => {
            x.el("TargetTrackingConfiguration", |x| {
                if let Some(pre) = &tt.predefined {
                    x.el("PredefinedMetricSpecification", |x| {
                        x.text("PredefinedMetricType", pre.metric_type.as_str())
                            .opt("ResourceLabel", pre.resource_label.as_deref());
                    });
                }
                if let Some(c) = tt.customized.as_ref().filter(|c| !c.metrics.is_empty()) {
                    x.el("CustomizedMetricSpecification", |x| {
                        x.list("Metrics", "member", &c.metrics, metric_query_xml);
                    });
                } else if let Some(c) = &tt.customized {
                    x.el("CustomizedMetricSpecification", |x| {
                        x.text("MetricName", &c.metric_name)
                            .text("Namespace", &c.namespace)
                            .list("Dimensions", "member", &c.dimensions, dimension_xml)
                            .text("Statistic", &c.statistic)
                            .opt("Unit", c.unit.as_deref())
                            .opt("Period", c.period);
                    });
                }
                x.text("TargetValue", tt.target_value).text("DisableScaleIn", tt.disable_scale_in);
            });
        }
        PolicyConfig::StepScaling {
            adjustment_type,
            step_adjustments,
            min_adjustment_magnitude,
            metric_aggregation_type,
        } => {
            x.text("AdjustmentType", adjustment_type.as_str())
                .opt("MinAdjustmentMagnitude", *min_adjustment_magnitude)
                .list("StepAdjustments", "member", step_adjustments, |x, s| {
                    x.opt("MetricIntervalLowerBound", s.metric_interval_lower_bound)
                        .opt("MetricIntervalUpperBound", s.metric_interval_upper_bound)
                        .text("ScalingAdjustment", s.scaling_adjustment);
                })
                .text("MetricAggregationType", metric_aggregation_type);
        }
        PolicyConfig::SimpleScaling {
            adjustment_type,
            scaling_adjustment,
            cooldown,
            min_adjustment_magnitude,
        } => {
            x.text("AdjustmentType", adjustment_type.as_str())
                .text("ScalingAdjustment", scaling_adjustment)
                .opt("Cooldown", *cooldown)
                .opt("MinAdjustmentMagnitude", *min_adjustment_magnitude);
        }
    }
    x.opt("EstimatedInstanceWarmup", p.estimated_instance_warmup)
        .list("Alarms", "member", &p.alarms, |x, a| {
            x.text("AlarmName", &a.alarm_name).text("AlarmARN", &a.alarm_arn);
        })
        .text("Enabled", p.enabled);
}

fn time_param(p: &Params, key: &str) -> AwsResult<Option<chrono::DateTime<chrono::Utc>>> {
    p.get(key)
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| AwsError::validation(format!("Invalid value for {key}: {v}")))
        })
        .transpose()
}

fn schedule_request(
    p: &Params,
    name_key: &str,
) -> AwsResult<crate::service::autoscaling::ScheduleRequest> {
    Ok(crate::service::autoscaling::ScheduleRequest {
        name: p.required_query(name_key)?.to_string(),
        start_time: time_param(p, "StartTime")?.or(time_param(p, "Time")?),
        end_time: time_param(p, "EndTime")?,
        recurrence: p.string("Recurrence"),
        min_size: p.number("MinSize")?,
        max_size: p.number("MaxSize")?,
        desired_capacity: p.number("DesiredCapacity")?,
        time_zone: p.string("TimeZone"),
    })
}
