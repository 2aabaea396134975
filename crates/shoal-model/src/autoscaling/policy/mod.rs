//! Scaling policies: PutScalingPolicy rules, the two alarms a target-tracking policy
//! creates and owns, target-tracking capacity math, step and simple adjustments, and
//! the gates (warmup, cooldown, suspended AlarmNotification) around executing them.
//!
//! Here: the policy types and PutScalingPolicy's rules; `target_tracking`: the owned
//! alarms, capacity math and votes; `execution`: running a policy and its cooldowns.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::activity::cause;
use super::group::{validate_name, AutoScalingGroup};
use crate::cloudwatch::alarm::{AlarmState, ComparisonOperator, MetricAlarm, MetricDataQuery};
use crate::cloudwatch::metric::Dimension;
use crate::{AwsError, AwsResult};

mod execution;
mod target_tracking;

pub use execution::{
    acting_value, adjusted_capacity, arm_cooldown, execute_policy, execute_policy_by_user,
    settle_cooldown, step_for, watches_group_aggregate, AlarmTrigger, ExecutePolicyRequest,
    Skipped,
};
pub use target_tracking::{
    combine_votes, standing_vote, target_tracking_alarms, target_tracking_capacity,
    target_tracking_vote, tracked_metric, TtAlarm, TtVote,
};

/// `arn:aws:autoscaling:<region>:123456789012:scalingPolicy:<uuid>:autoScalingGroupName/<group>:policyName/<name>`.
pub fn policy_arn(region: &str, uuid: &str, group: &str, name: &str) -> String {
    format!(
        "arn:aws:autoscaling:{region}:{}:scalingPolicy:{uuid}:autoScalingGroupName/{group}:policyName/{name}",
        crate::ACCOUNT_ID
    )
}

/// `AdjustmentType` of step and simple policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdjustmentType {
    ChangeInCapacity,
    ExactCapacity,
    PercentChangeInCapacity,
}

impl AdjustmentType {
    /// Parses the wire name.
    pub fn parse(s: &str) -> AwsResult<Self> {
        match s {
            "ChangeInCapacity" => Ok(Self::ChangeInCapacity),
            "ExactCapacity" => Ok(Self::ExactCapacity),
            "PercentChangeInCapacity" => Ok(Self::PercentChangeInCapacity),
            other => Err(AwsError::validation(format!("Invalid adjustment type: {other}"))),
        }
    }
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ChangeInCapacity => "ChangeInCapacity",
            Self::ExactCapacity => "ExactCapacity",
            Self::PercentChangeInCapacity => "PercentChangeInCapacity",
        }
    }
}

/// One `StepAdjustment`; bounds are relative to the alarm threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepAdjustment {
    pub metric_interval_lower_bound: Option<f64>,
    pub metric_interval_upper_bound: Option<f64>,
    pub scaling_adjustment: i64,
}

/// `PredefinedMetricType` of a target-tracking policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PredefinedMetricType {
    AsgAverageCpuUtilization,
    AsgAverageNetworkIn,
    AsgAverageNetworkOut,
    AlbRequestCountPerTarget,
}

impl PredefinedMetricType {
    /// Parses the wire name.
    pub fn parse(s: &str) -> AwsResult<Self> {
        Ok(match s {
            "ASGAverageCPUUtilization" => Self::AsgAverageCpuUtilization,
            "ASGAverageNetworkIn" => Self::AsgAverageNetworkIn,
            "ASGAverageNetworkOut" => Self::AsgAverageNetworkOut,
            "ALBRequestCountPerTarget" => Self::AlbRequestCountPerTarget,
            other => {
                return Err(AwsError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'targetTrackingConfiguration.predefinedMetricSpecification.predefinedMetricType' failed to satisfy constraint: Member must satisfy enum value set: [ASGAverageNetworkIn, ASGAverageCPUUtilization, ASGAverageNetworkOut, ALBRequestCountPerTarget]"
                )))
            }
        })
    }
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AsgAverageCpuUtilization => "ASGAverageCPUUtilization",
            Self::AsgAverageNetworkIn => "ASGAverageNetworkIn",
            Self::AsgAverageNetworkOut => "ASGAverageNetworkOut",
            Self::AlbRequestCountPerTarget => "ALBRequestCountPerTarget",
        }
    }
}

/// `PredefinedMetricSpecification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredefinedMetric {
    pub metric_type: PredefinedMetricType,
    /// `app/<lb>/<id>/targetgroup/<tg>/<id>` for ALBRequestCountPerTarget.
    pub resource_label: Option<String>,
}

/// `CustomizedMetricSpecification`, in either of AWS's two forms: a single metric
/// (`Namespace`, `MetricName`, `Dimensions`, `Statistic`, `Unit`), or metric math
/// (`Metrics`: queries by `Id`, each a `MetricStat` or an `Expression`, exactly one
/// with `ReturnData`). In the metric-math form the single-metric fields are empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomizedMetric {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
    pub statistic: String,
    pub unit: Option<String>,
    /// `Period` of the single-metric form: 10, 30 or 60 seconds (AWS's accepted values;
    /// absent means 60). Below 60 the policy's alarms are high-resolution alarms of that
    /// period, so target tracking reacts within seconds.
    #[serde(default)]
    pub period: Option<u32>,
    /// `Metrics`; a `MetricStat` without `Period` gets 60, as target tracking's does.
    #[serde(default)]
    pub metrics: Vec<MetricDataQuery>,
}

/// The metric periods target tracking accepts (`CustomizedMetricSpecification.Period`,
/// `TargetTrackingMetricStat.Period`): 10 and 30 for high-resolution metrics, or 60.
pub const TARGET_TRACKING_PERIODS: [u32; 3] = [10, 30, 60];

fn validate_target_tracking_period(period: u32, at: &str) -> AwsResult<()> {
    if TARGET_TRACKING_PERIODS.contains(&period) {
        return Ok(());
    }
    Err(AwsError::validation(format!(
        "Invalid value {period} for {at}: target tracking accepts a period of 10, 30 or 60 seconds."
    )))
}

impl CustomizedMetric {
    /// A single metric: `namespace/name` with its statistic.
    pub fn single(namespace: &str, metric_name: &str, statistic: &str) -> Self {
        CustomizedMetric {
            namespace: namespace.into(),
            metric_name: metric_name.into(),
            dimensions: vec![],
            statistic: statistic.into(),
            unit: None,
            period: None,
            metrics: vec![],
        }
    }
}

/// `TargetTrackingConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetTrackingConfiguration {
    pub predefined: Option<PredefinedMetric>,
    pub customized: Option<CustomizedMetric>,
    pub target_value: f64,
    pub disable_scale_in: bool,
}

/// The policy type with its type-specific settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PolicyConfig {
    TargetTracking(TargetTrackingConfiguration),
    StepScaling {
        adjustment_type: AdjustmentType,
        step_adjustments: Vec<StepAdjustment>,
        min_adjustment_magnitude: Option<i64>,
        /// `Average` (default), `Minimum` or `Maximum`.
        metric_aggregation_type: String,
    },
    SimpleScaling {
        adjustment_type: AdjustmentType,
        scaling_adjustment: i64,
        /// Policy cooldown; the group's DefaultCooldown when absent.
        cooldown: Option<u32>,
        min_adjustment_magnitude: Option<i64>,
    },
}

/// An alarm a policy owns (target tracking) or is triggered by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAlarm {
    pub alarm_name: String,
    pub alarm_arn: String,
}

/// A stored scaling policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingPolicy {
    pub policy_name: String,
    pub policy_arn: String,
    pub auto_scaling_group_name: String,
    pub config: PolicyConfig,
    pub estimated_instance_warmup: Option<u32>,
    pub enabled: bool,
    pub alarms: Vec<PolicyAlarm>,
}

impl ScalingPolicy {
    /// `TargetTrackingScaling`, `StepScaling` or `SimpleScaling`.
    pub fn policy_type(&self) -> &'static str {
        match self.config {
            PolicyConfig::TargetTracking(_) => "TargetTrackingScaling",
            PolicyConfig::StepScaling { .. } => "StepScaling",
            PolicyConfig::SimpleScaling { .. } => "SimpleScaling",
        }
    }
}

/// PutScalingPolicy's parameters after wire decoding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutPolicyRequest {
    pub policy_name: String,
    /// Defaults to `SimpleScaling`.
    pub policy_type: Option<String>,
    pub adjustment_type: Option<String>,
    pub scaling_adjustment: Option<i64>,
    pub cooldown: Option<i64>,
    pub min_adjustment_magnitude: Option<i64>,
    pub step_adjustments: Vec<StepAdjustment>,
    pub metric_aggregation_type: Option<String>,
    pub estimated_instance_warmup: Option<i64>,
    pub target_tracking: Option<TargetTrackingConfiguration>,
    pub enabled: Option<bool>,
}

impl PutPolicyRequest {
    /// The lab's kind of policy (the console's default too): target tracking on the
    /// group's average CPU (`ASGAverageCPUUtilization`) at `target` percent, scale-in on.
    pub fn cpu_target_tracking(name: &str, target: f64) -> Self {
        PutPolicyRequest {
            policy_name: name.to_string(),
            policy_type: Some("TargetTrackingScaling".into()),
            target_tracking: Some(TargetTrackingConfiguration {
                predefined: Some(PredefinedMetric {
                    metric_type: PredefinedMetricType::AsgAverageCpuUtilization,
                    resource_label: None,
                }),
                customized: None,
                target_value: target,
                disable_scale_in: false,
            }),
            ..Default::default()
        }
    }
}

/// Step adjustment rules: at least one; at most one null lower and one null upper
/// bound; lower < upper; intervals sorted must be contiguous and not overlap.
pub fn validate_steps(steps: &[StepAdjustment]) -> AwsResult<()> {
    if steps.is_empty() {
        return Err(AwsError::validation(
            "StepAdjustments is required for policy type StepScaling.",
        ));
    }
    if steps.iter().filter(|s| s.metric_interval_lower_bound.is_none()).count() > 1 {
        return Err(AwsError::validation(
            "There can be at most one step adjustment with a null lower bound.",
        ));
    }
    if steps.iter().filter(|s| s.metric_interval_upper_bound.is_none()).count() > 1 {
        return Err(AwsError::validation(
            "There can be at most one step adjustment with a null upper bound.",
        ));
    }
    for s in steps {
        if let (Some(l), Some(u)) = (s.metric_interval_lower_bound, s.metric_interval_upper_bound) {
            if l >= u {
                return Err(AwsError::validation(
                    "The upper bound of a step adjustment must be greater than its lower bound.",
                ));
            }
        }
    }
    let mut sorted = steps.to_vec();
    sorted.sort_by(|a, b| {
        let la = a.metric_interval_lower_bound.unwrap_or(f64::NEG_INFINITY);
        let lb = b.metric_interval_lower_bound.unwrap_or(f64::NEG_INFINITY);
        la.total_cmp(&lb)
    });
    for w in sorted.windows(2) {
        let upper = w[0].metric_interval_upper_bound.unwrap_or(f64::INFINITY);
        let lower = w[1].metric_interval_lower_bound.unwrap_or(f64::NEG_INFINITY);
        if upper > lower {
            return Err(AwsError::validation(
                "Step adjustments cannot have overlapping intervals.",
            ));
        }
        if upper < lower {
            return Err(AwsError::validation(
                "Step adjustments must be contiguous: there can be no gaps between intervals.",
            ));
        }
    }
    Ok(())
}

fn validate_target_tracking(tt: &TargetTrackingConfiguration) -> AwsResult<()> {
    if tt.predefined.is_some() == tt.customized.is_some() {
        return Err(AwsError::validation(
            "Exactly one of PredefinedMetricSpecification or CustomizedMetricSpecification must be specified.",
        ));
    }
    if !tt.target_value.is_finite() || tt.target_value <= 0.0 {
        return Err(AwsError::validation("TargetValue must be greater than 0."));
    }
    if let Some(p) = &tt.predefined {
        match (p.metric_type, &p.resource_label) {
            (PredefinedMetricType::AlbRequestCountPerTarget, None) => {
                return Err(AwsError::validation(
                    "ResourceLabel is required for predefined metric type ALBRequestCountPerTarget.",
                ))
            }
            (PredefinedMetricType::AlbRequestCountPerTarget, Some(l)) if !l.contains("/targetgroup/") => {
                return Err(AwsError::validation(format!(
                    "ResourceLabel {l} is invalid: expected app/<load-balancer-name>/<id>/targetgroup/<target-group-name>/<id>."
                )))
            }
            (t, Some(_)) if t != PredefinedMetricType::AlbRequestCountPerTarget => {
                return Err(AwsError::validation(format!(
                    "ResourceLabel is only allowed for predefined metric type ALBRequestCountPerTarget, not {}.",
                    t.as_str()
                )))
            }
            _ => {}
        }
    }
    if let Some(c) = tt.customized.as_ref().filter(|c| !c.metrics.is_empty()) {
        return validate_metric_queries(c);
    }
    if let Some(c) = &tt.customized {
        crate::cloudwatch::metric::validate_namespace(&c.namespace)?;
        if c.metric_name.is_empty() {
            return Err(AwsError::validation(
                "CustomizedMetricSpecification needs MetricName and Namespace, or Metrics.",
            ));
        }
        if let Some(p) = c.period {
            validate_target_tracking_period(p, "CustomizedMetricSpecification.Period")?;
        }
        match crate::cloudwatch::metric::Statistic::parse(&c.statistic) {
            Some(crate::cloudwatch::metric::Statistic::Percentile(_)) | None => {
                return Err(AwsError::validation(format!(
                    "1 validation error detected: Value '{}' at 'targetTrackingConfiguration.customizedMetricSpecification.statistic' failed to satisfy constraint: Member must satisfy enum value set: [Maximum, SampleCount, Sum, Minimum, Average]",
                    c.statistic
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The metric-math form of a customized metric: no single-metric field besides it;
/// queries with unique ids (a lowercase letter, then letters, digits, `_`), each with
/// exactly one of `MetricStat` and `Expression`; exactly one returns data (AWS: only
/// the final expression specifies `ReturnData` true, every other query false).
fn validate_metric_queries(c: &CustomizedMetric) -> AwsResult<()> {
    if !c.namespace.is_empty()
        || !c.metric_name.is_empty()
        || !c.dimensions.is_empty()
        || !c.statistic.is_empty()
        || c.unit.is_some()
        || c.period.is_some()
    {
        return Err(AwsError::validation(
            "CustomizedMetricSpecification cannot combine Metrics with MetricName, Namespace, Dimensions, Statistic, Unit or Period (give each MetricStat its Period).",
        ));
    }
    for (i, q) in c.metrics.iter().enumerate() {
        let mut chars = q.id.chars();
        let well_formed = chars.next().is_some_and(|ch| ch.is_ascii_lowercase())
            && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !well_formed {
            return Err(AwsError::validation(format!(
                "The Id {:?} of metric {} is invalid: it must start with a lowercase letter and contain only letters, numbers and underscores.",
                q.id,
                i + 1
            )));
        }
        if c.metrics[..i].iter().any(|o| o.id == q.id) {
            return Err(AwsError::validation(format!(
                "The Id {} is used by more than one metric in Metrics.",
                q.id
            )));
        }
        if q.metric_stat.is_some() == q.expression.is_some() {
            return Err(AwsError::validation(format!(
                "Metric {} must specify exactly one of MetricStat or Expression.",
                q.id
            )));
        }
        if let Some(p) = q.period {
            validate_target_tracking_period(p, &format!("the Period of metric {}", q.id))?;
        }
        if let Some(ms) = &q.metric_stat {
            crate::cloudwatch::metric::validate_namespace(&ms.namespace)?;
            validate_target_tracking_period(
                ms.period,
                &format!("the MetricStat Period of metric {}", q.id),
            )?;
            if crate::cloudwatch::metric::Statistic::parse(&ms.stat).is_none() {
                return Err(AwsError::validation(format!(
                    "The Stat {:?} of metric {} is invalid.",
                    ms.stat, q.id
                )));
            }
        }
    }
    if c.metrics.iter().filter(|q| q.return_data.unwrap_or(true)).count() != 1 {
        return Err(AwsError::validation(
            "Exactly one metric in CustomizedMetricSpecification.Metrics must return data: set ReturnData to false for every other metric.",
        ));
    }
    Ok(())
}

/// PutScalingPolicy: validates and builds the policy (creating or replacing; an
/// existing policy keeps its ARN, as AWS overwrites a policy of the same name). The
/// caller creates the target-tracking alarms with [`target_tracking_alarms`] and
/// stores their names in `alarms`.
pub fn put_scaling_policy(
    req: &PutPolicyRequest,
    group: &AutoScalingGroup,
    region: &str,
    uuid: &str,
    existing: Option<&ScalingPolicy>,
) -> AwsResult<ScalingPolicy> {
    validate_name("policyName", &req.policy_name)?;
    let policy_type = req.policy_type.as_deref().unwrap_or("SimpleScaling");
    let adjustment_type = req.adjustment_type.as_deref().map(AdjustmentType::parse).transpose()?;
    if let Some(m) = req.min_adjustment_magnitude {
        if adjustment_type != Some(AdjustmentType::PercentChangeInCapacity) {
            return Err(AwsError::validation(
                "MinAdjustmentMagnitude is only supported for adjustment type PercentChangeInCapacity.",
            ));
        }
        if m < 1 {
            return Err(AwsError::validation(
                "MinAdjustmentMagnitude must be greater than or equal to 1.",
            ));
        }
    }
    let warmup = match req.estimated_instance_warmup {
        Some(w) if w < 0 => {
            return Err(AwsError::validation(
                "EstimatedInstanceWarmup must be greater than or equal to 0.",
            ))
        }
        Some(w) => Some(w as u32),
        None => None,
    };
    let not_for = |field: &str, present: bool| -> AwsResult<()> {
        if present {
            Err(AwsError::validation(format!(
                "{field} is not supported for policy type {policy_type}."
            )))
        } else {
            Ok(())
        }
    };
    let config = match policy_type {
        "TargetTrackingScaling" => {
            not_for("AdjustmentType", req.adjustment_type.is_some())?;
            not_for("ScalingAdjustment", req.scaling_adjustment.is_some())?;
            not_for("StepAdjustments", !req.step_adjustments.is_empty())?;
            not_for("Cooldown", req.cooldown.is_some())?;
            let Some(tt) = &req.target_tracking else {
                return Err(AwsError::validation(
                    "TargetTrackingConfiguration is required for policy type TargetTrackingScaling.",
                ));
            };
            validate_target_tracking(tt)?;
            PolicyConfig::TargetTracking(tt.clone())
        }
        "StepScaling" => {
            not_for("ScalingAdjustment", req.scaling_adjustment.is_some())?;
            not_for("Cooldown", req.cooldown.is_some())?;
            not_for("TargetTrackingConfiguration", req.target_tracking.is_some())?;
            let Some(adjustment_type) = adjustment_type else {
                return Err(AwsError::validation("AdjustmentType is required for policy type StepScaling."));
            };
            validate_steps(&req.step_adjustments)?;
            let agg = req.metric_aggregation_type.clone().unwrap_or_else(|| "Average".into());
            if !matches!(agg.as_str(), "Average" | "Minimum" | "Maximum") {
                return Err(AwsError::validation(format!("Invalid metric aggregation type: {agg}")));
            }
            PolicyConfig::StepScaling {
                adjustment_type,
                step_adjustments: req.step_adjustments.clone(),
                min_adjustment_magnitude: req.min_adjustment_magnitude,
                metric_aggregation_type: agg,
            }
        }
        "SimpleScaling" => {
            not_for("StepAdjustments", !req.step_adjustments.is_empty())?;
            not_for("TargetTrackingConfiguration", req.target_tracking.is_some())?;
            not_for("EstimatedInstanceWarmup", req.estimated_instance_warmup.is_some())?;
            let Some(adjustment_type) = adjustment_type else {
                return Err(AwsError::validation("AdjustmentType is required for policy type SimpleScaling."));
            };
            let Some(scaling_adjustment) = req.scaling_adjustment else {
                return Err(AwsError::validation("ScalingAdjustment is required for policy type SimpleScaling."));
            };
            if adjustment_type == AdjustmentType::ExactCapacity && scaling_adjustment < 0 {
                return Err(AwsError::validation("ScalingAdjustment cannot be negative for adjustment type ExactCapacity."));
            }
            let cooldown = match req.cooldown {
                Some(c) if c < 0 => return Err(AwsError::validation("Cooldown must be greater than or equal to 0.")),
                Some(c) => Some(c as u32),
                None => None,
            };
            PolicyConfig::SimpleScaling {
                adjustment_type,
                scaling_adjustment,
                cooldown,
                min_adjustment_magnitude: req.min_adjustment_magnitude,
            }
        }
        other => {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'policyType' failed to satisfy constraint: Member must satisfy enum value set: [SimpleScaling, StepScaling, TargetTrackingScaling, PredictiveScaling]"
            )))
        }
    };
    Ok(ScalingPolicy {
        policy_name: req.policy_name.clone(),
        policy_arn: existing
            .map(|p| p.policy_arn.clone())
            .unwrap_or_else(|| policy_arn(region, uuid, &group.name, &req.policy_name)),
        auto_scaling_group_name: group.name.clone(),
        config,
        estimated_instance_warmup: warmup,
        enabled: req.enabled.unwrap_or(true),
        alarms: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscaling::group::{
        create_group, CreateGroupRequest, GroupInstance, LifecycleState, ZoneSubnet,
    };
    use crate::ec2::launch_template::LaunchTemplateSpec;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
    }

    fn group(min: i64, max: i64, desired: i64) -> AutoScalingGroup {
        create_group(
            &CreateGroupRequest {
                name: "EXERCISE-GROUP".into(),
                launch_template: Some(LaunchTemplateSpec {
                    id: None,
                    name: Some("exercise-launch-template".into()),
                    version: None,
                }),
                min_size: Some(min),
                max_size: Some(max),
                desired_capacity: Some(desired),
                zones: vec![ZoneSubnet {
                    subnet_id: "subnet-a".into(),
                    availability_zone: "us-east-1a".into(),
                }],
                ..Default::default()
            },
            false,
            "us-east-1",
            "g-uuid",
            t0(),
        )
        .unwrap()
    }

    fn cpu(target: f64, disable_scale_in: bool) -> TargetTrackingConfiguration {
        TargetTrackingConfiguration {
            predefined: Some(PredefinedMetric {
                metric_type: PredefinedMetricType::AsgAverageCpuUtilization,
                resource_label: None,
            }),
            customized: None,
            target_value: target,
            disable_scale_in,
        }
    }

    fn tt_policy(g: &AutoScalingGroup, target: f64, disable_scale_in: bool) -> ScalingPolicy {
        let req = PutPolicyRequest {
            policy_name: "cpu80".into(),
            policy_type: Some("TargetTrackingScaling".into()),
            target_tracking: Some(cpu(target, disable_scale_in)),
            ..Default::default()
        };
        put_scaling_policy(&req, g, "us-east-1", "p-uuid", None).unwrap()
    }

    /// A simple policy adding one instance.
    fn add_one(g: &AutoScalingGroup, cooldown: Option<i64>) -> ScalingPolicy {
        let req = PutPolicyRequest {
            policy_name: "add1".into(),
            adjustment_type: Some("ChangeInCapacity".into()),
            scaling_adjustment: Some(1),
            cooldown,
            ..Default::default()
        };
        put_scaling_policy(&req, g, "us-east-1", "s", None).unwrap()
    }

    #[test]
    fn target_tracking_alarms_match_aws() {
        let g = group(1, 2, 1);
        let p = tt_policy(&g, 80.0, false);
        assert_eq!(p.policy_arn, "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:p-uuid:autoScalingGroupName/EXERCISE-GROUP:policyName/cpu80");
        let alarms = target_tracking_alarms(&p, "us-east-1", "h1", "l1", 60, t0());
        assert_eq!(alarms.len(), 2);
        let (hi, lo) = (&alarms[0], &alarms[1]);
        assert_eq!(hi.alarm_name, "TargetTracking-EXERCISE-GROUP-AlarmHigh-h1");
        assert_eq!(hi.alarm_arn, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:TargetTracking-EXERCISE-GROUP-AlarmHigh-h1");
        assert_eq!(hi.alarm_description.as_deref(), Some("DO NOT EDIT OR DELETE. For TargetTrackingScaling policy arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:p-uuid:autoScalingGroupName/EXERCISE-GROUP:policyName/cpu80."));
        assert_eq!(
            (hi.namespace.as_deref(), hi.metric_name.as_deref(), hi.statistic.as_deref()),
            (Some("AWS/EC2"), Some("CPUUtilization"), Some("Average"))
        );
        assert_eq!(hi.dimensions, vec![Dimension::new("AutoScalingGroupName", "EXERCISE-GROUP")]);
        assert_eq!(
            (hi.comparison_operator, hi.threshold, hi.evaluation_periods, hi.period),
            (ComparisonOperator::GreaterThanThreshold, Some(80.0), 3, Some(60))
        );
        assert_eq!(hi.alarm_actions, vec![p.policy_arn.clone()]);
        assert_eq!(lo.alarm_name, "TargetTracking-EXERCISE-GROUP-AlarmLow-l1");
        assert_eq!(
            (lo.comparison_operator, lo.evaluation_periods),
            (ComparisonOperator::LessThanThreshold, 15)
        );
        assert!((lo.threshold.unwrap() - 56.0).abs() < 1e-9);
        assert_eq!(
            target_tracking_alarms(&tt_policy(&g, 80.0, true), "us-east-1", "h", "l", 60, t0())
                .len(),
            1
        );
        let mut alb = cpu(1000.0, false);
        alb.predefined = Some(PredefinedMetric {
            metric_type: PredefinedMetricType::AlbRequestCountPerTarget,
            resource_label: Some("app/exercise-lb/778d41231b141a0f/targetgroup/exercise-target-group/943f017f100becff".into()),
        });
        let (ns, name, dims, stat, _) = tracked_metric("EXERCISE-GROUP", &alb);
        assert_eq!(
            (ns.as_str(), name.as_str(), stat.as_str()),
            ("AWS/ApplicationELB", "RequestCountPerTarget", "Sum")
        );
        assert_eq!(
            dims,
            vec![Dimension::new(
                "TargetGroup",
                "targetgroup/exercise-target-group/943f017f100becff"
            )]
        );
    }

    /// PutScalingPolicy of a target-tracking policy on the customized metric `c`.
    fn put_customized(g: &AutoScalingGroup, c: CustomizedMetric) -> AwsResult<ScalingPolicy> {
        let mut tt = cpu(10.0, false);
        (tt.predefined, tt.customized) = (None, Some(c));
        let req = PutPolicyRequest {
            policy_name: "custom".into(),
            policy_type: Some("TargetTrackingScaling".into()),
            target_tracking: Some(tt),
            ..Default::default()
        };
        put_scaling_policy(&req, g, "us-east-1", "u", None)
    }

    #[test]
    fn customized_metric_math() {
        use crate::cloudwatch::alarm::MetricStat;
        let g = group(1, 4, 1);
        let stat = |id: &str, ret: Option<bool>| MetricDataQuery {
            id: id.into(),
            metric_stat: Some(MetricStat {
                namespace: "Shoal/Test".into(),
                metric_name: "Backlog".into(),
                dimensions: vec![],
                period: 60,
                stat: "Sum".into(),
                unit: None,
            }),
            expression: None,
            label: None,
            return_data: ret,
            period: None,
        };
        let expr = |id: &str, e: &str, ret: Option<bool>| MetricDataQuery {
            id: id.into(),
            metric_stat: None,
            expression: Some(e.into()),
            label: None,
            return_data: ret,
            period: None,
        };
        let put = |metrics: Vec<MetricDataQuery>, single: Option<CustomizedMetric>| {
            let mut c = single.unwrap_or_else(|| CustomizedMetric::single("", "", ""));
            c.metrics = metrics;
            put_customized(&g, c)
        };
        let err = |metrics, single| put(metrics, single).unwrap_err().message;
        let p = put(vec![stat("m1", Some(false)), expr("e1", "m1 / 2", None)], None).unwrap();
        let alarms = target_tracking_alarms(&p, "us-east-1", "h", "l", 60, t0());
        for a in &alarms {
            assert_eq!(
                (&a.namespace, &a.metric_name, &a.statistic, a.period),
                (&None, &None, &None, None)
            );
            assert_eq!(a.metrics.len(), 2);
            assert_eq!(a.metrics[1].expression.as_deref(), Some("m1 / 2"));
            assert!(crate::cloudwatch::alarm::validate_metric_alarm(a, None).is_ok());
        }
        assert!(err(vec![stat("m1", None), expr("e1", "m1 / 2", None)], None).starts_with(
            "Exactly one metric in CustomizedMetricSpecification.Metrics must return data"
        ));
        assert!(err(vec![stat("m1", Some(false))], None).starts_with("Exactly one metric"));
        assert!(err(vec![stat("M1", None)], None).contains("must start with a lowercase letter"));
        assert!(err(vec![stat("m1", Some(false)), stat("m1", None)], None)
            .contains("used by more than one metric"));
        let mut both = stat("m1", None);
        both.expression = Some("1".into());
        assert_eq!(
            err(vec![both], None),
            "Metric m1 must specify exactly one of MetricStat or Expression."
        );
        let mut bad_stat = stat("m1", None);
        bad_stat.metric_stat.as_mut().unwrap().stat = "Mode".into();
        assert!(err(vec![bad_stat], None).contains("The Stat \"Mode\" of metric m1 is invalid"));
        assert!(err(vec![stat("m1", None)], Some(CustomizedMetric::single("Shoal/Test", "X", "")))
            .starts_with("CustomizedMetricSpecification cannot combine Metrics"));
        assert!(err(vec![], Some(CustomizedMetric::single("Shoal/Test", "", "Average")))
            .contains("needs MetricName and Namespace, or Metrics"));
        // Periods: 10, 30 or 60 only; the metric-math form gives each MetricStat its own.
        let mut odd = stat("m1", None);
        odd.metric_stat.as_mut().unwrap().period = 15;
        assert!(err(vec![odd], None)
            .starts_with("Invalid value 15 for the MetricStat Period of metric m1"));
        let mut with_period = CustomizedMetric::single("", "", "");
        with_period.period = Some(10);
        assert!(err(vec![stat("m1", None)], Some(with_period))
            .starts_with("CustomizedMetricSpecification cannot combine Metrics"));
        let mut fast = stat("m1", Some(false));
        fast.metric_stat.as_mut().unwrap().period = 10;
        let p = put(vec![fast, expr("e1", "m1 / 2", None)], None).unwrap();
        let alarms = target_tracking_alarms(&p, "us-east-1", "h", "l", 60, t0());
        assert_eq!(alarms[0].metrics[0].metric_stat.as_ref().unwrap().period, 10);
    }

    #[test]
    fn a_high_resolution_customized_metric_gets_high_resolution_alarms() {
        let g = group(1, 4, 1);
        let put = |period: Option<u32>| {
            let mut c = CustomizedMetric::single("Shoal/Test", "QueueDepth", "Average");
            c.period = period;
            put_customized(&g, c)
        };
        let periods = |period: Option<u32>, default: u32| {
            let p = put(period).unwrap();
            let alarms = target_tracking_alarms(&p, "us-east-1", "h", "l", default, t0());
            alarms.iter().map(|a| (a.period, a.evaluation_periods)).collect::<Vec<_>>()
        };
        // AlarmHigh 3 of 3 and AlarmLow 15 of 15 periods, of the policy's own period.
        assert_eq!(periods(Some(10), 60), [(Some(10), 3), (Some(10), 15)]);
        assert_eq!(periods(Some(30), 60), [(Some(30), 3), (Some(30), 15)]);
        // 60 is the standard period: Shoal's short period still applies to it.
        assert_eq!(periods(Some(60), 3), [(Some(3), 3), (Some(3), 15)]);
        assert_eq!(periods(None, 60), [(Some(60), 3), (Some(60), 15)]);
        for bad in [0, 5, 20, 120] {
            let e = put(Some(bad)).unwrap_err();
            assert_eq!(e.code, "ValidationError");
            assert!(
                e.message.contains("accepts a period of 10, 30 or 60 seconds"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn warming_instances_are_left_out_of_the_acting_value() {
        let g = group(1, 4, 2);
        let p = tt_policy(&g, 80.0, false);
        let high = target_tracking_alarms(&p, "us-east-1", "h", "l", 60, t0()).remove(0);
        let latest = Some(60.0);
        // Nothing warming: the evaluation's latest value.
        assert_eq!(acting_value(&high, latest, &p, 0, Some(99.0)), Some(60.0));
        // Warming: the value of the instances past warmup, if it still breaches.
        assert_eq!(acting_value(&high, latest, &p, 1, Some(95.0)), Some(95.0));
        assert_eq!(acting_value(&high, latest, &p, 1, Some(70.0)), None);
        assert_eq!(acting_value(&high, latest, &p, 1, None), None);
        // A metric that is not the group's aggregate, or a simple policy: as the alarm saw.
        let mut other = high.clone();
        other.dimensions = vec![Dimension::new("AutoScalingGroupName", "OTHER")];
        assert_eq!(acting_value(&other, latest, &p, 1, None), Some(60.0));
        assert_eq!(acting_value(&high, latest, &add_one(&g, None), 1, None), Some(60.0));
    }

    #[test]
    fn capacity_math() {
        fn check(n: u32, metric: f64, target: f64, want: u32) {
            assert_eq!(
                target_tracking_capacity(n, metric, target),
                want,
                "{n} x {metric} / {target}"
            );
        }
        check(1, 100.0, 80.0, 2); // the lab: stress on one instance
        check(2, 50.0, 80.0, 2); // 100 % + 0 %: no scale-in
        check(2, 20.0, 80.0, 1);
        check(2, 40.0, 80.0, 1); // exactly at target after removing one
        check(3, 80.0, 80.0, 3);
        check(10, 81.0, 80.0, 11);
        check(4, 0.0, 80.0, 0);
    }

    #[test]
    fn votes_combine() {
        // (desired, scales in, ready to scale in)
        fn check(current: u32, votes: &[(u32, bool, bool)], want: u32) {
            let v: Vec<TtVote> = votes
                .iter()
                .map(|&(desired, scales_in, ready_to_scale_in)| TtVote {
                    desired,
                    scales_in,
                    ready_to_scale_in,
                })
                .collect();
            assert_eq!(combine_votes(current, &v), want, "{current} {votes:?}");
        }
        check(2, &[(3, true, false), (1, true, true)], 3); // any out wins
        check(2, &[(1, true, true), (4, false, false)], 4); // DisableScaleIn may scale out
        check(4, &[(2, true, true), (3, true, true)], 3); // all agree in: the larger
        check(4, &[(2, true, true), (4, true, false)], 4); // one is not ready
        check(4, &[(2, true, true), (1, true, false)], 4); // ... even if it would go lower
        check(4, &[(2, true, true), (4, true, true)], 4); // one wants to stay
        check(4, &[(2, true, true), (3, false, false)], 3); // DisableScaleIn: a floor, no veto
        check(4, &[(2, true, true), (4, false, false)], 4); // ... that can keep capacity
        check(4, &[(1, false, false)], 4); // DisableScaleIn alone never removes
        check(4, &[], 4);
    }

    /// A second target-tracking policy on the group, its alarms in `high`/`low` states
    /// with `value` as their latest datapoint.
    fn standing(
        g: &AutoScalingGroup,
        disable_scale_in: bool,
        low_state: AlarmState,
        value: Option<f64>,
    ) -> Option<TtVote> {
        let p = tt_policy(g, 10.0, disable_scale_in);
        let mut alarms = target_tracking_alarms(&p, "us-east-1", "h2", "l2", 60, t0());
        for a in &mut alarms {
            a.state_reason_data = value.map(|v| format!(r#"{{"recentDatapoints":[1.0,{v:?}]}}"#));
            if a.alarm_name.contains("-AlarmLow-") {
                a.state_value = low_state;
            }
        }
        let refs: Vec<&MetricAlarm> = alarms.iter().collect();
        standing_vote(g, &p, &refs, (g.desired_capacity, 0))
    }

    #[test]
    fn several_target_tracking_policies() {
        let mut g = group(1, 6, 4);
        let cpu = tt_policy(&g, 80.0, false);
        let low = AlarmTrigger {
            alarm_name: "TargetTracking-EXERCISE-GROUP-AlarmLow-l1".into(),
            metric_value: 20.0, // ceil(4 x 20 / 80) = 1
            threshold: 56.0,
        };
        use AlarmState::{Alarm, InsufficientData, Ok as Fine};
        // The other policy: DisableScaleIn, its AlarmLow's state, its latest value.
        let check = |disable: bool, state: AlarmState, value: Option<f64>, want| {
            let others: Vec<TtVote> = standing(&g, disable, state, value).into_iter().collect();
            let mut h = g.clone();
            let got = execute_policy(&mut h, &cpu, &low, (4, 0), &others, t0());
            assert_eq!(got, want, "{disable} {state:?} {value:?}");
            if got.is_err() {
                assert_eq!(h, g, "a refused run changes nothing");
            }
        };
        check(false, Alarm, Some(5.0), Ok(2)); // agrees, wants ceil(4 x 5 / 10) = 2
        check(false, Alarm, Some(1.0), Ok(1)); // agrees, wants 1
        check(false, Fine, Some(9.0), Err(Skipped::NotAllAgree)); // its metric holds
        check(false, InsufficientData, None, Err(Skipped::NotAllAgree)); // no data: not ready
        check(true, InsufficientData, Some(5.0), Ok(2)); // DisableScaleIn: its need is a floor
        check(true, InsufficientData, Some(1.0), Ok(1));
        check(true, InsufficientData, None, Ok(1)); // DisableScaleIn without data: no say
                                                    // Scale-out by one policy needs no agreement.
        let high = AlarmTrigger {
            alarm_name: "TargetTracking-EXERCISE-GROUP-AlarmHigh-h1".into(),
            metric_value: 100.0,
            threshold: 80.0,
        };
        let others: Vec<TtVote> = standing(&g, false, Fine, Some(9.0)).into_iter().collect();
        assert_eq!(execute_policy(&mut g, &cpu, &high, (4, 0), &others, t0()), Ok(5));
    }

    #[test]
    fn step_and_percent_math() {
        let steps = [
            StepAdjustment {
                metric_interval_lower_bound: Some(0.0),
                metric_interval_upper_bound: Some(10.0),
                scaling_adjustment: 1,
            },
            StepAdjustment {
                metric_interval_lower_bound: Some(10.0),
                metric_interval_upper_bound: None,
                scaling_adjustment: 3,
            },
            StepAdjustment {
                metric_interval_lower_bound: None,
                metric_interval_upper_bound: Some(0.0),
                scaling_adjustment: -1,
            },
        ];
        validate_steps(&steps).unwrap();
        fn check(steps: &[StepAdjustment], metric: f64, want: Option<i64>) {
            assert_eq!(step_for(steps, metric, 60.0), want, "{metric}");
        }
        check(&steps, 60.0, Some(1));
        check(&steps, 69.9, Some(1));
        check(&steps, 70.0, Some(3));
        check(&steps, 59.0, Some(-1));
        fn adj(t: AdjustmentType, a: i64, cur: u32, mam: Option<i64>, want: u32) {
            assert_eq!(adjusted_capacity(t, a, cur, 0, 200, mam), want, "{t:?} {a} {cur}");
        }
        use AdjustmentType::*;
        adj(ChangeInCapacity, 2, 3, None, 5);
        adj(ChangeInCapacity, -5, 3, None, 0);
        adj(ExactCapacity, 7, 3, None, 7);
        adj(PercentChangeInCapacity, 10, 127, None, 139); // 12.7 -> 12
        adj(PercentChangeInCapacity, 10, 5, None, 6); // 0.5 -> 1
        adj(PercentChangeInCapacity, -10, 5, None, 4); // -0.5 -> -1
        adj(PercentChangeInCapacity, -10, 67, None, 61); // -6.7 -> -6
        adj(PercentChangeInCapacity, 10, 20, Some(5), 25); // 2 raised to MinAdjustmentMagnitude 5
        adj(ChangeInCapacity, 500, 3, None, 200);
        let bad = |l: Option<f64>, u: Option<f64>| StepAdjustment {
            metric_interval_lower_bound: l,
            metric_interval_upper_bound: u,
            scaling_adjustment: 1,
        };
        fn err(steps: &[StepAdjustment], want: &str) {
            assert_eq!(validate_steps(steps).unwrap_err().message, want);
        }
        err(
            &[bad(Some(0.0), Some(10.0)), bad(Some(5.0), None)],
            "Step adjustments cannot have overlapping intervals.",
        );
        err(
            &[bad(Some(0.0), Some(10.0)), bad(Some(20.0), None)],
            "Step adjustments must be contiguous: there can be no gaps between intervals.",
        );
        err(
            &[bad(None, Some(0.0)), bad(None, Some(10.0))],
            "There can be at most one step adjustment with a null lower bound.",
        );
        err(
            &[bad(Some(5.0), Some(5.0))],
            "The upper bound of a step adjustment must be greater than its lower bound.",
        );
        err(&[], "StepAdjustments is required for policy type StepScaling.");
    }

    #[test]
    fn put_policy_validation() {
        let g = group(1, 2, 1);
        fn check(g: &AutoScalingGroup, req: PutPolicyRequest, want: &str) {
            let e = put_scaling_policy(&req, g, "us-east-1", "u", None).unwrap_err();
            assert_eq!(e.message, want);
        }
        let base = PutPolicyRequest { policy_name: "p".into(), ..Default::default() };
        check(&g, base.clone(), "AdjustmentType is required for policy type SimpleScaling.");
        check(
            &g,
            PutPolicyRequest { adjustment_type: Some("ChangeInCapacity".into()), ..base.clone() },
            "ScalingAdjustment is required for policy type SimpleScaling.",
        );
        check(
            &g,
            PutPolicyRequest { policy_type: Some("TargetTrackingScaling".into()), ..base.clone() },
            "TargetTrackingConfiguration is required for policy type TargetTrackingScaling.",
        );
        let mut alb = cpu(100.0, false);
        alb.predefined.as_mut().unwrap().metric_type =
            PredefinedMetricType::AlbRequestCountPerTarget;
        check(
            &g,
            PutPolicyRequest {
                policy_type: Some("TargetTrackingScaling".into()),
                target_tracking: Some(alb),
                ..base.clone()
            },
            "ResourceLabel is required for predefined metric type ALBRequestCountPerTarget.",
        );
        check(
            &g,
            PutPolicyRequest {
                adjustment_type: Some("ChangeInCapacity".into()),
                scaling_adjustment: Some(1),
                min_adjustment_magnitude: Some(2),
                ..base.clone()
            },
            "MinAdjustmentMagnitude is only supported for adjustment type PercentChangeInCapacity.",
        );
        let ok = put_scaling_policy(
            &PutPolicyRequest {
                adjustment_type: Some("ChangeInCapacity".into()),
                scaling_adjustment: Some(1),
                ..base
            },
            &g,
            "us-east-1",
            "u",
            None,
        )
        .unwrap();
        assert_eq!(ok.policy_type(), "SimpleScaling");
    }

    #[test]
    fn execution_gates_and_cause() {
        let mut g = group(1, 2, 1);
        let p = tt_policy(&g, 80.0, false);
        let high = AlarmTrigger {
            alarm_name: "TargetTracking-EXERCISE-GROUP-AlarmHigh-h1".into(),
            metric_value: 100.0,
            threshold: 80.0,
        };
        assert_eq!(execute_policy(&mut g, &p, &high, (1, 0), &[], t0()), Ok(2));
        assert_eq!(g.pending_cause.as_deref(), Some("At 2026-11-25T10:00:00Z a monitor alarm TargetTracking-EXERCISE-GROUP-AlarmHigh-h1 in state ALARM triggered policy cpu80 changing the desired capacity from 1 to 2."));
        // Still high while the new instance warms: already counted, nothing more.
        assert_eq!(execute_policy(&mut g, &p, &high, (1, 1), &[], t0()), Err(Skipped::NoChange));
        let low = AlarmTrigger {
            alarm_name: "TargetTracking-EXERCISE-GROUP-AlarmLow-l1".into(),
            metric_value: 10.0,
            threshold: 56.0,
        };
        assert_eq!(execute_policy(&mut g, &p, &low, (1, 1), &[], t0()), Err(Skipped::Warmup));
        assert_eq!(execute_policy(&mut g, &p, &low, (2, 0), &[], t0()), Ok(1));
        // Suspended AlarmNotification.
        crate::autoscaling::group::suspend_processes(&mut g, &["AlarmNotification".into()], t0())
            .unwrap();
        assert_eq!(execute_policy(&mut g, &p, &high, (1, 0), &[], t0()), Err(Skipped::Disabled));
        // Simple scaling waits for its cooldown.
        let mut g = group(0, 5, 1);
        let simple = add_one(&g, Some(120));
        let trig =
            AlarmTrigger { alarm_name: "cpu-high".into(), metric_value: 90.0, threshold: 70.0 };
        let at = |s: i64| t0() + chrono::Duration::seconds(s);
        assert_eq!(execute_policy(&mut g, &simple, &trig, (1, 0), &[], t0()), Ok(2));
        arm_cooldown(&mut g, &simple);
        // While the launch runs the cooldown holds, however long it takes.
        let zone = g.zones[0].clone();
        let mut launching = GroupInstance::launched("i-2", &zone, &g, None, "t2.micro", t0());
        launching.activity_id = Some("a-launch".into());
        g.instances =
            vec![GroupInstance::launched("i-1", &zone, &g, None, "t2.micro", t0()), launching];
        g.instances[0].lifecycle_state = LifecycleState::InService;
        g.pending_cause = None;
        assert!(!settle_cooldown(&mut g, at(600)));
        assert_eq!(
            execute_policy(&mut g, &simple, &trig, (1, 1), &[], at(600)),
            Err(Skipped::Cooldown)
        );
        // It starts when the activity finishes, and runs its 120 s from then.
        g.instances[1].lifecycle_state = LifecycleState::InService;
        g.instances[1].activity_id = None;
        assert!(settle_cooldown(&mut g, at(700)));
        assert_eq!(g.cooldown_until, Some(at(820)));
        assert_eq!(
            execute_policy(&mut g, &simple, &trig, (2, 0), &[], at(819)),
            Err(Skipped::Cooldown)
        );
        assert_eq!(execute_policy(&mut g, &simple, &trig, (2, 0), &[], at(820)), Ok(3));
        // Nothing planned yet (desired 3, two instances): the activity has not begun.
        arm_cooldown(&mut g, &simple);
        assert!(!settle_cooldown(&mut g, at(821)));
        // Target tracking and step policies have no cooldown.
        let mut h = group(0, 5, 1);
        let tt = tt_policy(&h, 80.0, false);
        arm_cooldown(&mut h, &tt);
        assert_eq!(h.cooldown_pending, None);
    }

    fn step_of(lower: Option<f64>, upper: Option<f64>, adjustment: i64) -> StepAdjustment {
        StepAdjustment {
            metric_interval_lower_bound: lower,
            metric_interval_upper_bound: upper,
            scaling_adjustment: adjustment,
        }
    }

    #[test]
    fn execute_policy_by_user_rules() {
        let mut g = group(1, 4, 1);
        let base = PutPolicyRequest { policy_name: "p".into(), ..Default::default() };
        let put = |req: PutPolicyRequest, g: &AutoScalingGroup| {
            put_scaling_policy(&req, g, "us-east-1", "u", None).unwrap()
        };
        let simple = put(
            PutPolicyRequest {
                adjustment_type: Some("ChangeInCapacity".into()),
                scaling_adjustment: Some(1),
                ..base.clone()
            },
            &g,
        );
        let step = put(
            PutPolicyRequest {
                policy_type: Some("StepScaling".into()),
                adjustment_type: Some("ChangeInCapacity".into()),
                step_adjustments: vec![
                    step_of(Some(0.0), Some(10.0), 1),
                    step_of(Some(10.0), None, 2),
                ],
                ..base.clone()
            },
            &g,
        );
        let tt = tt_policy(&g, 80.0, false);
        let created = g.clone();
        let run = |g: &mut AutoScalingGroup, p: &ScalingPolicy, req: ExecutePolicyRequest| {
            execute_policy_by_user(g, p, &req, (g.desired_capacity, 0), Some("a-1"), t0())
        };
        let no_args = ExecutePolicyRequest::default();
        let err = |r: AwsResult<Option<u32>>| r.unwrap_err().message;

        // Refusals change nothing.
        assert_eq!(
            err(run(&mut g, &tt, no_args)),
            "ExecutePolicy is not supported for policy cpu80 of type TargetTrackingScaling."
        );
        assert_eq!(
            err(run(&mut g, &step, no_args)),
            "MetricValue and BreachThreshold are required for policy type StepScaling."
        );
        let below_steps = ExecutePolicyRequest {
            metric_value: Some(40.0),
            breach_threshold: Some(50.0),
            ..no_args
        };
        assert!(err(run(&mut g, &step, below_steps)).contains("does not correspond to any step"));
        let with_values = ExecutePolicyRequest {
            metric_value: Some(1.0),
            breach_threshold: Some(0.0),
            ..no_args
        };
        assert!(err(run(&mut g, &simple, with_values))
            .contains("only supported for policy type StepScaling"));
        assert_eq!(g, created);

        // Step: 59 against 50 is the first step (+1); 75 the second (+2).
        let r = ExecutePolicyRequest {
            metric_value: Some(59.0),
            breach_threshold: Some(50.0),
            ..no_args
        };
        assert_eq!(run(&mut g, &step, r), Ok(Some(2)));
        let r = ExecutePolicyRequest { metric_value: Some(75.0), ..r };
        assert_eq!(run(&mut g, &step, r), Ok(Some(4)));
        assert!(g.pending_cause.as_deref().unwrap().ends_with(
            "a user request executed policy p changing the desired capacity from 2 to 4."
        ));

        // Simple ignores the cooldown unless asked to honour it; at max, nothing changes.
        let mut g = group(1, 4, 1);
        g.cooldown_until = Some(t0() + chrono::Duration::seconds(300));
        let honour = ExecutePolicyRequest { honor_cooldown: true, ..no_args };
        let e = run(&mut g, &simple, honour).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (
                "ScalingActivityInProgress",
                "Scaling activity a-1 is in progress and blocks this action"
            )
        );
        g.cooldown_until = None;
        g.cooldown_pending = Some(300); // activities still running
        assert_eq!(run(&mut g, &simple, honour).unwrap_err().code, "ScalingActivityInProgress");
        g.cooldown_pending = None;
        g.cooldown_until = Some(t0() + chrono::Duration::seconds(300));
        assert_eq!(run(&mut g, &simple, no_args), Ok(Some(2)));
        g.desired_capacity = 4;
        assert_eq!(run(&mut g, &simple, no_args), Ok(None));
        // AlarmNotification suspended blocks alarms, not a user's ExecutePolicy.
        g.desired_capacity = 1;
        g.suspended_processes.push(crate::autoscaling::group::SuspendedProcess {
            process_name: "AlarmNotification".into(),
            suspension_reason: String::new(),
        });
        assert_eq!(run(&mut g, &simple, no_args), Ok(Some(2)));
    }
}
