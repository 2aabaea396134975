//! Scaling policies: PutScalingPolicy rules, the two alarms a target-tracking policy
//! creates and owns, target-tracking capacity math, step and simple adjustments, and
//! the gates (warmup, cooldown, suspended AlarmNotification) around executing them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::activity::cause;
use super::group::{validate_name, AutoScalingGroup};
use crate::cloudwatch::alarm::{ComparisonOperator, MetricAlarm};
use crate::cloudwatch::metric::Dimension;
use crate::{AwsError, AwsResult};

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

/// `CustomizedMetricSpecification` (single metric form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomizedMetric {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
    pub statistic: String,
    pub unit: Option<String>,
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
    if let Some(c) = &tt.customized {
        crate::cloudwatch::metric::validate_namespace(&c.namespace)?;
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

/// Which of a target-tracking policy's alarms fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtAlarm {
    High,
    Low,
}

/// The metric a target-tracking configuration tracks: `(namespace, name, dimensions,
/// statistic, unit)`. CPU and network are `AWS/EC2` averages by `AutoScalingGroupName`;
/// ALBRequestCountPerTarget is `AWS/ApplicationELB RequestCountPerTarget` (Sum) by
/// `TargetGroup=targetgroup/<tg>/<id>`.
pub fn tracked_metric(
    group_name: &str,
    tt: &TargetTrackingConfiguration,
) -> (String, String, Vec<Dimension>, String, Option<String>) {
    if let Some(c) = &tt.customized {
        return (
            c.namespace.clone(),
            c.metric_name.clone(),
            c.dimensions.clone(),
            c.statistic.clone(),
            c.unit.clone(),
        );
    }
    let p = tt.predefined.as_ref().map(|p| (p.metric_type, p.resource_label.clone()));
    let by_group = vec![Dimension::new("AutoScalingGroupName", group_name)];
    match p {
        Some((PredefinedMetricType::AsgAverageNetworkIn, _)) => {
            ("AWS/EC2".into(), "NetworkIn".into(), by_group, "Average".into(), None)
        }
        Some((PredefinedMetricType::AsgAverageNetworkOut, _)) => {
            ("AWS/EC2".into(), "NetworkOut".into(), by_group, "Average".into(), None)
        }
        Some((PredefinedMetricType::AlbRequestCountPerTarget, label)) => {
            let label = label.unwrap_or_default();
            let tg = label.find("targetgroup/").map(|i| label[i..].to_string()).unwrap_or_default();
            (
                "AWS/ApplicationELB".into(),
                "RequestCountPerTarget".into(),
                vec![Dimension::new("TargetGroup", tg)],
                "Sum".into(),
                None,
            )
        }
        _ => ("AWS/EC2".into(), "CPUUtilization".into(), by_group, "Average".into(), None),
    }
}

/// The alarms a target-tracking policy creates and owns, as AWS defines them:
/// - `TargetTracking-<group>-AlarmHigh-<uuid>`: `GreaterThanThreshold` the target,
///   3 of 3 periods;
/// - `TargetTracking-<group>-AlarmLow-<uuid>`: `LessThanThreshold` 0.7 × target,
///   15 of 15 periods — not created when `DisableScaleIn`;
///
/// both on the tracked metric, period 60 (Shoal's short period when the caller passes
/// one), `AlarmActions=[policyARN]`, description `DO NOT EDIT OR DELETE. For
/// TargetTrackingScaling policy <policyARN>.` (observed texts).
pub fn target_tracking_alarms(
    policy: &ScalingPolicy,
    region: &str,
    high_uuid: &str,
    low_uuid: &str,
    period: u32,
    now: DateTime<Utc>,
) -> Vec<MetricAlarm> {
    let PolicyConfig::TargetTracking(tt) = &policy.config else { return vec![] };
    let group = &policy.auto_scaling_group_name;
    let (namespace, metric, dims, stat, unit) = tracked_metric(group, tt);
    let make = |kind: &str, uuid: &str, op: ComparisonOperator, threshold: f64, periods: u32| {
        let mut a = MetricAlarm::new(
            region,
            format!("TargetTracking-{group}-{kind}-{uuid}"),
            namespace.clone(),
            metric.clone(),
            stat.clone(),
            period,
            periods,
            threshold,
            op,
            now,
        );
        a.dimensions.clone_from(&dims);
        a.unit.clone_from(&unit);
        a.alarm_description = Some(format!(
            "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {}.",
            policy.policy_arn
        ));
        a.alarm_actions = vec![policy.policy_arn.clone()];
        a
    };
    let mut out = vec![make(
        "AlarmHigh",
        high_uuid,
        ComparisonOperator::GreaterThanThreshold,
        tt.target_value,
        3,
    )];
    if !tt.disable_scale_in {
        out.push(make(
            "AlarmLow",
            low_uuid,
            ComparisonOperator::LessThanThreshold,
            tt.target_value * 0.7,
            15,
        ));
    }
    out
}

/// `ceil(instances × metric / target)`: the capacity that brings the per-instance
/// metric to the target, rounding up (AWS: round up when adding, remove only whole
/// instances while keeping the metric at or below the target).
pub fn target_tracking_capacity(instances: u32, metric: f64, target: f64) -> u32 {
    if target <= 0.0 || !metric.is_finite() || metric <= 0.0 {
        return 0;
    }
    let raw = f64::from(instances) * metric / target;
    // Guard against 2.0000000001 from float noise becoming 3.
    (raw - 1e-9).ceil().max(0.0) as u32
}

/// One target-tracking policy's wish for the group's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtVote {
    pub desired: u32,
    /// False with `DisableScaleIn` or while instances warm up: this vote may only grow.
    pub may_scale_in: bool,
}

/// A target-tracking vote from the latest metric value. `contributing` is the number
/// of in-service instances past their warmup (warming instances are left out of the
/// metric); `warming` the others. Scale-in is blocked while any instance warms up.
/// The result is clamped to [MinSize, MaxSize].
pub fn target_tracking_vote(
    group: &AutoScalingGroup,
    tt: &TargetTrackingConfiguration,
    metric: f64,
    contributing: u32,
    warming: u32,
) -> TtVote {
    let needed = target_tracking_capacity(contributing, metric, tt.target_value);
    // Warming instances already count toward desired: only grow past them.
    let desired = needed.clamp(group.min_size, group.max_size.max(group.min_size));
    TtVote { desired, may_scale_in: !tt.disable_scale_in && warming == 0 && contributing > 0 }
}

/// Combines target-tracking votes as AWS does: scale out if any policy asks (to the
/// largest), scale in only if every policy that may scale in agrees (to the largest of
/// them) and no policy forbids it; otherwise keep `current`.
pub fn combine_votes(current: u32, votes: &[TtVote]) -> u32 {
    let Some(max) = votes.iter().map(|v| v.desired).max() else { return current };
    if max > current {
        return max;
    }
    if votes.iter().all(|v| v.may_scale_in && v.desired < current) {
        return max;
    }
    current
}

/// The step that applies to `metric` for an alarm at `threshold`: bounds are relative
/// to the threshold; above it intervals are `[lower, upper)`, below it `(lower, upper]`.
pub fn step_for(steps: &[StepAdjustment], metric: f64, threshold: f64) -> Option<i64> {
    let d = metric - threshold;
    steps
        .iter()
        .find(|s| {
            let lo = s.metric_interval_lower_bound.unwrap_or(f64::NEG_INFINITY);
            let hi = s.metric_interval_upper_bound.unwrap_or(f64::INFINITY);
            if d >= 0.0 {
                lo <= d && d < hi
            } else {
                lo < d && d <= hi
            }
        })
        .map(|s| s.scaling_adjustment)
}

/// New capacity after an adjustment, clamped to [min, max]. PercentChangeInCapacity
/// rounds as AWS documents (above 1 down, 0..1 to 1, -1..0 to -1, below -1 up) and
/// then applies MinAdjustmentMagnitude.
pub fn adjusted_capacity(
    adjustment_type: AdjustmentType,
    adjustment: i64,
    current: u32,
    min: u32,
    max: u32,
    min_adjustment_magnitude: Option<i64>,
) -> u32 {
    let current_i = i64::from(current);
    let target = match adjustment_type {
        AdjustmentType::ExactCapacity => adjustment,
        AdjustmentType::ChangeInCapacity => current_i + adjustment,
        AdjustmentType::PercentChangeInCapacity => {
            let raw = current_i as f64 * adjustment as f64 / 100.0;
            let mut change = if raw > 1.0 {
                raw.floor()
            } else if raw > 0.0 {
                1.0
            } else if (-1.0..0.0).contains(&raw) {
                -1.0
            } else if raw < -1.0 {
                raw.ceil()
            } else {
                0.0
            } as i64;
            if let Some(m) = min_adjustment_magnitude {
                if change != 0 && change.abs() < m {
                    change = m * change.signum();
                }
            }
            current_i + change
        }
    };
    target.clamp(i64::from(min), i64::from(max.max(min))) as u32
}

/// The alarm that triggered a policy, with the value that breached.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmTrigger {
    pub alarm_name: String,
    pub metric_value: f64,
    pub threshold: f64,
}

/// Why a policy execution changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// `AlarmNotification` suspended or policy disabled.
    Disabled,
    /// Simple scaling cooldown still running.
    Cooldown,
    /// Scale-in refused while instances warm up (target tracking).
    Warmup,
    /// The computed capacity equals the current desired capacity.
    NoChange,
}

/// Runs a policy for an alarm in ALARM and, when the desired capacity changes, sets it
/// with AWS's cause (`a monitor alarm <alarm> in state ALARM triggered policy <policy>
/// changing the desired capacity from A to B.`) as the group's `pending_cause`.
/// - target tracking: [`target_tracking_vote`] on the alarm's latest value; AlarmHigh
///   may only grow, AlarmLow may only shrink; no cooldown;
/// - step: the matching step on the capacity *without* warming instances, so repeated
///   breaches in one step during warmup add nothing more; no cooldown;
/// - simple: refused until `cooldown_until`; the caller sets it with
///   [`start_cooldown`] when the activity finishes.
pub fn execute_policy(
    group: &mut AutoScalingGroup,
    policy: &ScalingPolicy,
    trigger: &AlarmTrigger,
    contributing: u32,
    warming: u32,
    now: DateTime<Utc>,
) -> Result<u32, Skipped> {
    if group.is_suspended("AlarmNotification") {
        return Err(Skipped::Disabled);
    }
    let to = policy_capacity(
        group,
        policy,
        trigger.metric_value,
        trigger.threshold,
        (contributing, warming),
        Some(now),
    )?;
    let from = group.desired_capacity;
    group.desired_capacity = to;
    group.pending_cause = Some(cause::at(
        now,
        &cause::alarm_policy(&trigger.alarm_name, &policy.policy_name, from, to),
    ));
    Ok(to)
}

/// The desired capacity a policy asks for, given the breaching value and the group's
/// (contributing, warming) instance counts. `cooldown_at` is `Some(now)` when a simple
/// policy must respect the cooldown (alarms always; ExecutePolicy with HonorCooldown).
fn policy_capacity(
    group: &AutoScalingGroup,
    policy: &ScalingPolicy,
    metric_value: f64,
    threshold: f64,
    (contributing, warming): (u32, u32),
    cooldown_at: Option<DateTime<Utc>>,
) -> Result<u32, Skipped> {
    if !policy.enabled {
        return Err(Skipped::Disabled);
    }
    let from = group.desired_capacity;
    let to = match &policy.config {
        PolicyConfig::TargetTracking(tt) => {
            let vote = target_tracking_vote(group, tt, metric_value, contributing, warming);
            let high = metric_value > tt.target_value;
            if high {
                vote.desired.max(from)
            } else if vote.desired < from && !vote.may_scale_in {
                return Err(Skipped::Warmup);
            } else {
                vote.desired.min(from)
            }
        }
        PolicyConfig::StepScaling {
            adjustment_type,
            step_adjustments,
            min_adjustment_magnitude,
            ..
        } => {
            let Some(adj) = step_for(step_adjustments, metric_value, threshold) else {
                return Err(Skipped::NoChange);
            };
            let base = if adj > 0 { contributing } else { from };
            let to = adjusted_capacity(
                *adjustment_type,
                adj,
                base,
                group.min_size,
                group.max_size,
                *min_adjustment_magnitude,
            );
            if adj > 0 {
                to.max(from)
            } else {
                to.min(from)
            }
        }
        PolicyConfig::SimpleScaling {
            adjustment_type,
            scaling_adjustment,
            min_adjustment_magnitude,
            ..
        } => {
            if cooldown_at.is_some_and(|now| group.cooldown_until.is_some_and(|t| now < t)) {
                return Err(Skipped::Cooldown);
            }
            adjusted_capacity(
                *adjustment_type,
                *scaling_adjustment,
                from,
                group.min_size,
                group.max_size,
                *min_adjustment_magnitude,
            )
        }
    };
    if to == from {
        return Err(Skipped::NoChange);
    }
    Ok(to)
}

/// ExecutePolicy's parameters besides the policy itself.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExecutePolicyRequest {
    /// Simple scaling only: wait for the cooldown (refused while it runs).
    pub honor_cooldown: bool,
    /// Step scaling only (and required there): picks the step with `BreachThreshold`.
    pub metric_value: Option<f64>,
    pub breach_threshold: Option<f64>,
}

/// ExecutePolicy, as AWS runs it for a user testing a policy: step policies need
/// `MetricValue` and `BreachThreshold` (a value matching no step is an error), simple
/// policies take neither and ignore the cooldown unless `HonorCooldown` (then
/// `ScalingActivityInProgress` while it runs), target tracking policies cannot be
/// executed. `AlarmNotification` being suspended does not matter: no alarm is
/// involved. The cause reads `a user request executed policy <p> changing the desired
/// capacity from A to B.` Returns the new desired capacity, or None when unchanged.
pub fn execute_policy_by_user(
    group: &mut AutoScalingGroup,
    policy: &ScalingPolicy,
    req: &ExecutePolicyRequest,
    (contributing, warming): (u32, u32),
    now: DateTime<Utc>,
) -> AwsResult<Option<u32>> {
    let is_step = matches!(policy.config, PolicyConfig::StepScaling { .. });
    match &policy.config {
        PolicyConfig::TargetTracking(_) => {
            return Err(AwsError::validation(format!(
                "ExecutePolicy is not supported for policy {} of type TargetTrackingScaling.",
                policy.policy_name
            )))
        }
        PolicyConfig::StepScaling { .. } if req.honor_cooldown => {
            return Err(AwsError::validation(
                "HonorCooldown is not supported for policy type StepScaling.",
            ))
        }
        _ => {}
    }
    let (metric, threshold) =
        match (is_step, req.metric_value, req.breach_threshold) {
            (true, Some(m), Some(t)) => (m, t),
            (true, _, _) => {
                return Err(AwsError::validation(
                    "MetricValue and BreachThreshold are required for policy type StepScaling.",
                ))
            }
            (false, None, None) => (0.0, 0.0),
            (false, _, _) => return Err(AwsError::validation(
                "MetricValue and BreachThreshold are only supported for policy type StepScaling.",
            )),
        };
    if let PolicyConfig::StepScaling { step_adjustments, .. } = &policy.config {
        if step_for(step_adjustments, metric, threshold).is_none() {
            return Err(AwsError::validation(format!(
                "The metric value {metric} does not correspond to any step adjustment of policy {} for breach threshold {threshold}.",
                policy.policy_name
            )));
        }
    }
    let cooldown_at = req.honor_cooldown.then_some(now);
    let from = group.desired_capacity;
    match policy_capacity(group, policy, metric, threshold, (contributing, warming), cooldown_at) {
        Ok(to) => {
            group.desired_capacity = to;
            group.pending_cause =
                Some(cause::at(now, &cause::user_executed_policy(&policy.policy_name, from, to)));
            Ok(Some(to))
        }
        Err(Skipped::Cooldown) => Err(AwsError::new(
            "ScalingActivityInProgress",
            "Scaling activity in progress: the cooldown period is in effect.",
        )),
        Err(Skipped::Disabled) => Err(AwsError::validation(format!(
            "Policy {} is disabled and cannot be executed.",
            policy.policy_name
        ))),
        Err(Skipped::Warmup | Skipped::NoChange) => Ok(None),
    }
}

/// Starts the simple-scaling cooldown (policy `Cooldown`, else DefaultCooldown),
/// counted from when the scaling activity finished.
pub fn start_cooldown(
    group: &mut AutoScalingGroup,
    policy: &ScalingPolicy,
    finished_at: DateTime<Utc>,
) {
    if let PolicyConfig::SimpleScaling { cooldown, .. } = policy.config {
        let secs = cooldown.unwrap_or(group.default_cooldown);
        group.cooldown_until = Some(finished_at + chrono::Duration::seconds(i64::from(secs)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscaling::group::{
        create_group, CreateGroupRequest, LaunchTemplateSpec, ZoneSubnet,
    };
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
    }

    fn group(min: i64, max: i64, desired: i64) -> AutoScalingGroup {
        create_group(
            &CreateGroupRequest {
                name: "EXERCISE-GROUP".into(),
                launch_template: Some(LaunchTemplateSpec {
                    launch_template_id: None,
                    launch_template_name: Some("exercise-launch-template".into()),
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
        fn check(current: u32, votes: &[(u32, bool)], want: u32) {
            let v: Vec<TtVote> =
                votes.iter().map(|(d, s)| TtVote { desired: *d, may_scale_in: *s }).collect();
            assert_eq!(combine_votes(current, &v), want, "{votes:?}");
        }
        check(2, &[(3, true), (1, true)], 3); // any out wins
        check(4, &[(2, true), (3, true)], 3); // all agree in: the larger
        check(4, &[(2, true), (4, true)], 4); // one says stay
        check(4, &[(2, true), (1, false)], 4); // DisableScaleIn policy blocks in
        check(4, &[], 4);
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
        assert_eq!(execute_policy(&mut g, &p, &high, 1, 0, t0()), Ok(2));
        assert_eq!(g.pending_cause.as_deref(), Some("At 2026-11-25T10:00:00Z a monitor alarm TargetTracking-EXERCISE-GROUP-AlarmHigh-h1 in state ALARM triggered policy cpu80 changing the desired capacity from 1 to 2."));
        // Still high while the new instance warms: already counted, nothing more.
        assert_eq!(execute_policy(&mut g, &p, &high, 1, 1, t0()), Err(Skipped::NoChange));
        let low = AlarmTrigger {
            alarm_name: "TargetTracking-EXERCISE-GROUP-AlarmLow-l1".into(),
            metric_value: 10.0,
            threshold: 56.0,
        };
        assert_eq!(execute_policy(&mut g, &p, &low, 1, 1, t0()), Err(Skipped::Warmup));
        assert_eq!(execute_policy(&mut g, &p, &low, 2, 0, t0()), Ok(1));
        // Suspended AlarmNotification.
        crate::autoscaling::group::suspend_processes(&mut g, &["AlarmNotification".into()], t0())
            .unwrap();
        assert_eq!(execute_policy(&mut g, &p, &high, 1, 0, t0()), Err(Skipped::Disabled));
        // Simple scaling waits for its cooldown.
        let mut g = group(0, 5, 1);
        let simple = put_scaling_policy(
            &PutPolicyRequest {
                policy_name: "add1".into(),
                adjustment_type: Some("ChangeInCapacity".into()),
                scaling_adjustment: Some(1),
                cooldown: Some(120),
                ..Default::default()
            },
            &g,
            "us-east-1",
            "s",
            None,
        )
        .unwrap();
        let trig =
            AlarmTrigger { alarm_name: "cpu-high".into(), metric_value: 90.0, threshold: 70.0 };
        assert_eq!(execute_policy(&mut g, &simple, &trig, 1, 0, t0()), Ok(2));
        start_cooldown(&mut g, &simple, t0());
        assert_eq!(
            execute_policy(&mut g, &simple, &trig, 2, 0, t0() + chrono::Duration::seconds(60)),
            Err(Skipped::Cooldown)
        );
        assert_eq!(
            execute_policy(&mut g, &simple, &trig, 2, 0, t0() + chrono::Duration::seconds(120)),
            Ok(3)
        );
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
            execute_policy_by_user(g, p, &req, (g.desired_capacity, 0), t0())
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
        assert_eq!(run(&mut g, &simple, honour).unwrap_err().code, "ScalingActivityInProgress");
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
