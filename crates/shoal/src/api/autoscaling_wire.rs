//! Auto Scaling's wire format: the requests decoded from Query parameters (groups,
//! launch configurations, mixed instances policies, scaling policies, schedules) and
//! the XML each resource is rendered as.

use shoal_model::autoscaling::activity::{aws_time, Activity};
use shoal_model::autoscaling::group::{
    AutoScalingGroup, CreateGroupRequest, GroupInstance, GroupTag, UpdateGroupRequest,
};
use shoal_model::autoscaling::launch_config::{
    BlockDeviceMapping, CreateLaunchConfigurationRequest, Ebs, LaunchConfiguration, MetadataOptions,
};
use shoal_model::autoscaling::mixed::{
    LaunchTemplateOverride, MixedInstancesPolicy, MixedInstancesPolicyRequest,
};
use shoal_model::autoscaling::policy::{
    CustomizedMetric, PolicyConfig, PredefinedMetric, PredefinedMetricType, PutPolicyRequest,
    ScalingPolicy, StepAdjustment, TargetTrackingConfiguration,
};
use shoal_model::cloudwatch::alarm::{MetricDataQuery, MetricStat};
use shoal_model::ec2::launch_template::LaunchTemplateSpec;
use shoal_model::{AwsError, AwsResult};

use super::query::Params;
use super::xml::Xml;
use crate::service::autoscaling::{policy_type, GroupFilter, Placement};

pub(super) fn group_filters(p: &Params) -> Vec<GroupFilter> {
    p.structs("Filters")
        .into_iter()
        .filter_map(|f| Some(GroupFilter { name: f.string("Name")?, values: f.list("Values") }))
        .collect()
}

/// `TargetGroupARNs` and `TrafficSources` together. Traffic sources of type `elbv2`
/// (the default for an ARN) are target groups; Shoal has no Classic Load Balancers
/// (`elb`) and no VPC Lattice (`vpc-lattice`), so those are refused.
pub(super) fn target_group_arns(p: &Params) -> AwsResult<Vec<String>> {
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

pub(super) fn placement(p: &Params) -> Placement {
    Placement {
        subnet_ids: p
            .get("VPCZoneIdentifier")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default(),
        availability_zones: p.list("AvailabilityZones"),
    }
}

/// A `LaunchTemplateSpecification` under `prefix` (`LaunchTemplate`, …), if given.
pub(super) fn spec_at(p: &Params, prefix: &str) -> Option<LaunchTemplateSpec> {
    let t = p.sub(prefix);
    (!t.is_empty()).then(|| LaunchTemplateSpec {
        id: t.string("LaunchTemplateId"),
        name: t.string("LaunchTemplateName"),
        version: t.string("Version"),
    })
}

pub(super) fn template_spec(p: &Params) -> Option<LaunchTemplateSpec> {
    spec_at(p, "LaunchTemplate")
}

/// `MixedInstancesPolicy.*`, if given. An empty `Overrides` (botocore sends
/// `Overrides=`) is an empty list, not an absent one.
pub(super) fn mixed_policy(p: &Params) -> AwsResult<Option<MixedInstancesPolicyRequest>> {
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

pub(super) fn launch_configuration_request(
    p: &Params,
) -> AwsResult<CreateLaunchConfigurationRequest> {
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

pub(super) fn create_request(p: &Params) -> AwsResult<(CreateGroupRequest, Placement)> {
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

pub(super) fn update_request(p: &Params) -> AwsResult<UpdateGroupRequest> {
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
pub(super) fn dimensions(p: &Params) -> Vec<shoal_model::cloudwatch::metric::Dimension> {
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
pub(super) fn metric_query(q: &Params) -> AwsResult<MetricDataQuery> {
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

pub(super) fn policy_request(p: &Params) -> AwsResult<PutPolicyRequest> {
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
pub(super) fn launched_from_xml(x: &mut Xml, i: &GroupInstance) {
    x.opt("LaunchConfigurationName", i.launch_configuration_name.as_deref());
    if let Some(t) = &i.launch_template {
        x.el("LaunchTemplate", |x| {
            x.text("LaunchTemplateId", &t.launch_template_id)
                .text("LaunchTemplateName", &t.launch_template_name)
                .text("Version", &t.version);
        });
    }
}

pub(super) fn spec_xml(x: &mut Xml, tag: &str, t: &LaunchTemplateSpec) {
    x.el(tag, |x| {
        x.opt("LaunchTemplateId", t.id.as_deref())
            .opt("LaunchTemplateName", t.name.as_deref())
            // As given: AWS echoes no Version when the request named none.
            .opt("Version", t.version.as_deref());
    });
}

pub(super) fn mixed_policy_xml(x: &mut Xml, m: &MixedInstancesPolicy) {
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
pub(super) fn launch_configuration_xml(x: &mut Xml, lc: &LaunchConfiguration) {
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

pub(super) fn tag_xml(x: &mut Xml, g: &AutoScalingGroup, t: &GroupTag) {
    x.text("ResourceId", &g.name)
        .text("ResourceType", "auto-scaling-group")
        .text("Key", &t.key)
        .text("Value", &t.value)
        .text("PropagateAtLaunch", t.propagate_at_launch);
}

pub(super) fn group_xml(x: &mut Xml, g: &AutoScalingGroup) {
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

pub(super) fn dimension_xml(x: &mut Xml, d: &shoal_model::cloudwatch::metric::Dimension) {
    x.text("Name", &d.name).text("Value", &d.value);
}

pub(super) fn metric_query_xml(x: &mut Xml, q: &MetricDataQuery) {
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

pub(super) fn policy_xml(x: &mut Xml, p: &ScalingPolicy) {
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

pub(super) fn time_param(
    p: &Params,
    key: &str,
) -> AwsResult<Option<chrono::DateTime<chrono::Utc>>> {
    p.get(key)
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| AwsError::validation(format!("Invalid value for {key}: {v}")))
        })
        .transpose()
}

pub(super) fn schedule_request(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_without_its_name_is_the_query_protocols_null_member_error() {
        let err = create_request(&Params::of(&[("MinSize", "1"), ("MaxSize", "2")])).unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert_eq!(
            err.message,
            "1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!((err.status, err.sender_fault), (400, true));
    }

    #[test]
    fn a_size_that_is_not_a_number_is_refused_naming_it() {
        let p = Params::of(&[("AutoScalingGroupName", "g"), ("MinSize", "one"), ("MaxSize", "2")]);
        let err = create_request(&p).unwrap_err();
        assert_eq!(err.code, "InvalidParameterValue");
        assert_eq!(err.message, "Invalid value 'one' for MinSize");
        let err = update_request(&Params::of(&[("CapacityRebalance", "yes")])).unwrap_err();
        assert_eq!(err.message, "Invalid value 'yes' for CapacityRebalance");
    }

    #[test]
    fn a_group_request_decodes_lists_in_member_order_and_tags() {
        let p = Params::of(&[
            ("AutoScalingGroupName", "web"),
            ("MinSize", "1"),
            ("MaxSize", "3"),
            ("LaunchTemplate.LaunchTemplateName", "lt"),
            ("LaunchTemplate.Version", "$Latest"),
            ("TargetGroupARNs.member.10", "tg-c"),
            ("TargetGroupARNs.member.2", "tg-b"),
            ("TargetGroupARNs.member.1", "tg-a"),
            ("TerminationPolicies.member.2", "Default"),
            ("TerminationPolicies.member.1", "OldestInstance"),
            ("Tags.member.1.Key", "Name"),
            ("Tags.member.1.Value", "web"),
            ("Tags.member.1.PropagateAtLaunch", "TRUE"),
            ("Tags.member.2.Value", "a tag without a key is dropped"),
            ("VPCZoneIdentifier", "subnet-a, subnet-b,,"),
        ]);
        let (req, placement) = create_request(&p).unwrap();
        assert_eq!(req.name, "web");
        assert_eq!((req.min_size, req.max_size, req.desired_capacity), (Some(1), Some(3), None));
        assert_eq!(req.target_group_arns, ["tg-a", "tg-b", "tg-c"]);
        assert_eq!(req.termination_policies, ["OldestInstance", "Default"]);
        let lt = req.launch_template.unwrap();
        assert_eq!(
            (lt.id, lt.name.as_deref(), lt.version.as_deref()),
            (None, Some("lt"), Some("$Latest"))
        );
        assert_eq!(req.tags.len(), 1);
        assert_eq!((req.tags[0].key.as_str(), req.tags[0].value.as_str()), ("Name", "web"));
        assert!(req.tags[0].propagate_at_launch);
        assert_eq!(placement.subnet_ids, ["subnet-a", "subnet-b"]);
    }

    #[test]
    fn an_update_changes_termination_policies_only_when_some_are_given() {
        assert_eq!(update_request(&Params::of(&[])).unwrap().termination_policies, None);
        let p = Params::of(&[("TerminationPolicies.member.1", "NewestInstance")]);
        assert_eq!(
            update_request(&p).unwrap().termination_policies,
            Some(vec!["NewestInstance".to_string()])
        );
    }

    #[test]
    fn traffic_sources_of_type_elbv2_join_the_target_groups() {
        let p = Params::of(&[
            ("TargetGroupARNs.member.1", "tg-a"),
            ("TrafficSources.member.1.Identifier", "tg-b"),
            ("TrafficSources.member.2.Identifier", "tg-c"),
            ("TrafficSources.member.2.Type", "elbv2"),
        ]);
        assert_eq!(target_group_arns(&p).unwrap(), ["tg-a", "tg-b", "tg-c"]);
        let elb = Params::of(&[
            ("TrafficSources.member.1.Identifier", "my-clb"),
            ("TrafficSources.member.1.Type", "elb"),
        ]);
        let err = target_group_arns(&elb).unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert!(err.message.starts_with("Traffic source type elb is not supported"), "{err}");
        let nameless = Params::of(&[("TrafficSources.member.1.Type", "elbv2")]);
        assert_eq!(
            target_group_arns(&nameless).unwrap_err().message,
            "TrafficSources.member.Identifier is required"
        );
    }

    #[test]
    fn scheduled_actions_take_time_for_start_time_and_refuse_bad_timestamps() {
        let p = Params::of(&[("ScheduledActionName", "night"), ("Time", "2026-01-02T03:04:05Z")]);
        let req = schedule_request(&p, "ScheduledActionName").unwrap();
        assert_eq!(req.start_time.unwrap().to_rfc3339(), "2026-01-02T03:04:05+00:00");
        let bad = Params::of(&[("ScheduledActionName", "night"), ("EndTime", "tomorrow")]);
        let err = schedule_request(&bad, "ScheduledActionName").unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.message.as_str()),
            ("ValidationError", "Invalid value for EndTime: tomorrow")
        );
        let err = schedule_request(&Params::of(&[]), "ScheduledActionName").unwrap_err();
        assert!(err.message.contains("'scheduledActionName'"), "{err}");
    }

    #[test]
    fn target_tracking_without_its_metric_type_is_refused() {
        let p = Params::of(&[
            ("AutoScalingGroupName", "web"),
            ("PolicyName", "cpu"),
            ("PolicyType", "TargetTrackingScaling"),
            ("TargetTrackingConfiguration.TargetValue", "50"),
            ("TargetTrackingConfiguration.PredefinedMetricSpecification.ResourceLabel", "x"),
        ]);
        let err = policy_request(&p).unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert!(err.message.contains("'predefinedMetricType'"), "{err}");
    }
}
