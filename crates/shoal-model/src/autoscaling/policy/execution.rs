//! Running a policy: step and simple adjustments, target-tracking capacity on the
//! value an alarm saw, the gates around it (warmup, cooldown, the suspended
//! AlarmNotification process) and ExecutePolicy.

use super::*;

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
        Err(Skipped::Cooldown) => {
            Err(crate::autoscaling::group::activity_in_progress(latest_activity))
        }
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
    if running || !crate::autoscaling::plan::plan(group, now, 0).steps.is_empty() {
        return false;
    }
    group.cooldown_pending = None;
    group.cooldown_until = Some(now + chrono::Duration::seconds(i64::from(secs)));
    true
}
