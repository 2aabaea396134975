//! Scaling policies: PutScalingPolicy rules, the two alarms a target-tracking policy
//! creates and owns, target-tracking capacity math, step and simple adjustments, and
//! the gates (warmup, cooldown, suspended AlarmNotification) around executing them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::activity::cause;
use super::group::{validate_name, AutoScalingGroup};
use crate::cloudwatch::alarm::{AlarmState, ComparisonOperator, MetricAlarm, MetricDataQuery};
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
/// both on the tracked metric (or, for a customized metric's metric-math form, on its
/// `Metrics`), period 60 (Shoal's short period when the caller passes one) or a
/// customized metric's own high-resolution `Period` (10 or 30),
/// `AlarmActions=[policyARN]`, description `DO NOT EDIT OR DELETE. For
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
    let queries = tt.customized.as_ref().map_or(&[][..], |c| &c.metrics[..]);
    let period = match tt.customized.as_ref().and_then(|c| c.period) {
        Some(p) if p < 60 => p,
        _ => period,
    };
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
        if !queries.is_empty() {
            // Metric math: the alarm watches the queries instead of one metric.
            (a.namespace, a.metric_name, a.statistic, a.period) = (None, None, None, None);
            a.metrics = queries.to_vec();
        }
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

/// One target-tracking policy's say in the group's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtVote {
    /// The capacity that brings the policy's metric to its target, within
    /// [MinSize, MaxSize].
    pub desired: u32,
    /// False with `DisableScaleIn`: the policy never removes instances and has no say
    /// in whether the others may.
    pub scales_in: bool,
    /// Ready to scale in now: its AlarmLow is in ALARM and no instance is warming up.
    pub ready_to_scale_in: bool,
}

/// A target-tracking vote from a metric value. `contributing` is the number of
/// in-service instances past their warmup (warming instances are left out of the
/// metric), `warming` the others; `low_in_alarm` whether the policy's AlarmLow is in
/// ALARM. Scale-in is not ready while any instance warms up (AWS blocks it until
/// warmup ends).
pub fn target_tracking_vote(
    group: &AutoScalingGroup,
    tt: &TargetTrackingConfiguration,
    metric: f64,
    (contributing, warming): (u32, u32),
    low_in_alarm: bool,
) -> TtVote {
    let needed = target_tracking_capacity(contributing, metric, tt.target_value);
    TtVote {
        desired: needed.clamp(group.min_size, group.max_size.max(group.min_size)),
        scales_in: !tt.disable_scale_in,
        ready_to_scale_in: low_in_alarm && warming == 0 && contributing > 0,
    }
}

/// Another target-tracking policy's vote as its alarms stand now (`alarms`: the
/// alarms it owns): ready to scale in when its AlarmLow is in ALARM, wanting the
/// capacity its latest evaluated value calls for (the AlarmLow's when in ALARM, else
/// the AlarmHigh's). `None` when the policy is disabled, not target tracking, or its
/// alarms hold no value yet — a policy that has seen no data is not ready to scale in.
pub fn standing_vote(
    group: &AutoScalingGroup,
    policy: &ScalingPolicy,
    alarms: &[&MetricAlarm],
    counts: (u32, u32),
) -> Option<TtVote> {
    let PolicyConfig::TargetTracking(tt) = &policy.config else { return None };
    if !policy.enabled {
        return None;
    }
    let is_low = |a: &&&MetricAlarm| a.alarm_name.contains("-AlarmLow-");
    let low = alarms.iter().find(is_low);
    let high = alarms.iter().find(|a| !is_low(a));
    let low_in_alarm = low.is_some_and(|a| a.state_value == AlarmState::Alarm);
    let value = if low_in_alarm { low } else { high.or(low) }.and_then(|a| a.latest_value());
    let Some(value) = value else {
        return (!tt.disable_scale_in).then_some(TtVote {
            desired: group.desired_capacity,
            scales_in: true,
            ready_to_scale_in: false,
        });
    };
    Some(target_tracking_vote(group, tt, value, counts, low_in_alarm))
}

/// Combines target-tracking votes as AWS does: scale out if any policy asks (to the
/// largest capacity asked); scale in only if every policy with scale-in enabled is
/// ready to and would go below `current`, to the largest capacity any policy wants
/// (a `DisableScaleIn` policy never removes: its capacity is a floor). Otherwise
/// `current`.
pub fn combine_votes(current: u32, votes: &[TtVote]) -> u32 {
    let Some(max) = votes.iter().map(|v| v.desired).max() else { return current };
    if max > current {
        return max;
    }
    let mut voters = votes.iter().filter(|v| v.scales_in).peekable();
    if voters.peek().is_some() && voters.all(|v| v.ready_to_scale_in && v.desired < current) {
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

/// True when `alarm` watches the group's own instance aggregate (`AWS/EC2 <metric>` by
/// `AutoScalingGroupName=<group>` alone): the metric warming instances are left out of
/// when a policy decides.
pub fn watches_group_aggregate(alarm: &MetricAlarm, group: &str) -> bool {
    alarm.metrics.is_empty()
        && alarm.namespace.as_deref() == Some("AWS/EC2")
        && matches!(&alarm.dimensions[..], [d] if d.name == "AutoScalingGroupName" && d.value == group)
}

/// The value a policy run by `alarm` acts on. AWS: while instances warm up, their
/// usage is not aggregated for scaling, and a target-tracking or step policy scales
/// out "only if the metric value from instances that are not warming up" breaches.
/// So for those two types, when the alarm watches the group's aggregate
/// ([`watches_group_aggregate`]) and `warming > 0`, the value is `warmed` (the same
/// statistic over the instances past warmup) and `None` — no action — when there is
/// none or it no longer breaches the alarm. Otherwise (simple scaling has no warmup)
/// it is `latest`, the newest value of the evaluation that ran the action.
pub fn acting_value(
    alarm: &MetricAlarm,
    latest: Option<f64>,
    policy: &ScalingPolicy,
    warming: u32,
    warmed: Option<f64>,
) -> Option<f64> {
    let simple = matches!(policy.config, PolicyConfig::SimpleScaling { .. });
    if simple || warming == 0 || !watches_group_aggregate(alarm, &policy.auto_scaling_group_name) {
        return latest;
    }
    let threshold = alarm.threshold.unwrap_or(0.0);
    warmed.filter(|v| alarm.comparison_operator.breaches(*v, threshold))
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
    /// Scale-in refused: another target-tracking policy with scale-in enabled is not
    /// ready to scale in.
    NotAllAgree,
    /// The computed capacity equals the current desired capacity.
    NoChange,
}

/// Runs a policy for an alarm in ALARM and, when the desired capacity changes, sets it
/// with AWS's cause (`a monitor alarm <alarm> in state ALARM triggered policy <policy>
/// changing the desired capacity from A to B.`) as the group's `pending_cause`.
/// - target tracking: [`target_tracking_vote`] on the alarm's latest value; AlarmHigh
///   may only grow, AlarmLow may only shrink, and only as far as [`combine_votes`]
///   allows with `others` (the votes of the group's other target-tracking policies,
///   see [`standing_vote`]); no cooldown;
/// - step: the matching step on the capacity *without* warming instances, so repeated
///   breaches in one step during warmup add nothing more; no cooldown;
/// - simple: refused while the cooldown holds; the caller arms it with
///   [`arm_cooldown`] and it starts when the activities finish ([`settle_cooldown`]).
pub fn execute_policy(
    group: &mut AutoScalingGroup,
    policy: &ScalingPolicy,
    trigger: &AlarmTrigger,
    counts: (u32, u32),
    others: &[TtVote],
    now: DateTime<Utc>,
) -> Result<u32, Skipped> {
    if group.is_suspended("AlarmNotification") {
        return Err(Skipped::Disabled);
    }
    let to = policy_capacity(
        group,
        policy,
        (trigger.metric_value, trigger.threshold),
        counts,
        others,
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

/// The desired capacity a policy asks for, given the breaching value and threshold,
/// the group's (contributing, warming) instance counts and the other target-tracking
/// policies' votes. `cooldown_at` is `Some(now)` when a simple policy must respect the
/// cooldown (alarms always; ExecutePolicy with HonorCooldown).
fn policy_capacity(
    group: &AutoScalingGroup,
    policy: &ScalingPolicy,
    (metric_value, threshold): (f64, f64),
    (contributing, warming): (u32, u32),
    others: &[TtVote],
    cooldown_at: Option<DateTime<Utc>>,
) -> Result<u32, Skipped> {
    if !policy.enabled {
        return Err(Skipped::Disabled);
    }
    let from = group.desired_capacity;
    let to = match &policy.config {
        PolicyConfig::TargetTracking(tt) => {
            let high = metric_value > tt.target_value;
            let vote =
                target_tracking_vote(group, tt, metric_value, (contributing, warming), !high);
            if high {
                vote.desired.max(from)
            } else if vote.desired >= from {
                return Err(Skipped::NoChange);
            } else if !vote.ready_to_scale_in {
                return Err(Skipped::Warmup);
            } else {
                let votes: Vec<TtVote> =
                    std::iter::once(vote).chain(others.iter().copied()).collect();
                match combine_votes(from, &votes) {
                    to if to < from => to,
                    _ => return Err(Skipped::NotAllAgree),
                }
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
            if cooldown_at.is_some_and(|now| group.in_cooldown(now)) {
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
/// `latest_activity` names the group's latest activity in `ScalingActivityInProgress`.
pub fn execute_policy_by_user(
    group: &mut AutoScalingGroup,
    policy: &ScalingPolicy,
    req: &ExecutePolicyRequest,
    counts: (u32, u32),
    latest_activity: Option<&str>,
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
    match policy_capacity(group, policy, (metric, threshold), counts, &[], cooldown_at) {
        Ok(to) => {
            group.desired_capacity = to;
            group.pending_cause =
                Some(cause::at(now, &cause::user_executed_policy(&policy.policy_name, from, to)));
            Ok(Some(to))
        }
        Err(Skipped::Cooldown) => Err(super::group::activity_in_progress(latest_activity)),
        Err(Skipped::Disabled) => Err(AwsError::validation(format!(
            "Policy {} is disabled and cannot be executed.",
            policy.policy_name
        ))),
        Err(Skipped::Warmup | Skipped::NotAllAgree | Skipped::NoChange) => Ok(None),
    }
}

/// Arms the simple-scaling cooldown after a simple policy changed the desired
/// capacity: its length (policy `Cooldown`, else DefaultCooldown) waits in
/// `cooldown_pending` until the activities finish ([`settle_cooldown`]). Other policy
/// types have no cooldown.
pub fn arm_cooldown(group: &mut AutoScalingGroup, policy: &ScalingPolicy) {
    if let PolicyConfig::SimpleScaling { cooldown, .. } = policy.config {
        group.cooldown_pending = Some(cooldown.unwrap_or(group.default_cooldown));
    }
}

/// Starts an armed cooldown once the scaling activity has completed (AWS §2.6: the
/// cooldown counts from when the last instance finished launching or terminating):
/// no instance of the group has an activity still running and the plan has nothing
/// left to launch or terminate (health replacements included, as AWS also waits for
/// them). Returns whether it started.
pub fn settle_cooldown(group: &mut AutoScalingGroup, now: DateTime<Utc>) -> bool {
    let Some(secs) = group.cooldown_pending else { return false };
    let running = group.instances.iter().any(|i| i.activity_id.is_some());
    if running || !super::plan::plan(group, now, 0).steps.is_empty() {
        return false;
    }
    group.cooldown_pending = None;
    group.cooldown_until = Some(now + chrono::Duration::seconds(i64::from(secs)));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscaling::group::{
        create_group, CreateGroupRequest, GroupInstance, LaunchTemplateSpec, LifecycleState,
        ZoneSubnet,
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
