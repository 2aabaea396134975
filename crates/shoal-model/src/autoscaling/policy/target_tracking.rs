//! Target tracking: the two alarms a policy creates and owns (AlarmHigh and AlarmLow
//! on the tracked metric), the capacity that brings the metric to its target, and how
//! several policies' votes combine (scale out on any, scale in only when all agree).

use super::*;

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
