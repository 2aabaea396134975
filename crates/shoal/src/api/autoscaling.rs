//! The Auto Scaling API (protocol `query`, version 2011-01-01).

use shoal_model::autoscaling::activity::{aws_time, Activity};
use shoal_model::autoscaling::group::{GroupTag, HealthStatus};
use shoal_model::autoscaling::metrics::{GRANULARITY, GROUP_METRICS};
use shoal_model::autoscaling::policy::ExecutePolicyRequest;
use shoal_model::{AwsError, AwsResult};

use super::query::Params;
use super::xml::Xml;
use crate::service::Service;

use super::autoscaling_wire::*;

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
    let handler = super::handler_for(ACTIONS, action)?;
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
        x.text("ScheduledActionName", n).text("ErrorCode", e.code).text("ErrorMessage", &e.message);
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
        x.text("ScheduledActionName", n).text("ErrorCode", e.code).text("ErrorMessage", &e.message);
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
                    x.opt("LaunchTemplateId", t.id.as_deref())
                        .opt("LaunchTemplateName", t.name.as_deref())
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
