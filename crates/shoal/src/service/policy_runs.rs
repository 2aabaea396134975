//! How an Auto Scaling policy runs: from a CloudWatch alarm, or by a user's ExecutePolicy.
//!
//! The alarm loop calls [`Service::autoscaling_alarm_action`] for each due action whose
//! ARN is a scaling policy's: on the alarm's transition, and again every evaluation
//! period while it stays in `ALARM` (AWS re-invokes scaling policies). It runs outside
//! any lock; the caller records the alarm's `Action` history item from the result.

use chrono::{DateTime, Utc};
use shoal_model::autoscaling::group::AutoScalingGroup;
use shoal_model::autoscaling::policy::{self, AlarmTrigger, ExecutePolicyRequest, Skipped};
use shoal_model::cloudwatch::MetricAlarm;
use shoal_model::AwsResult;

use super::autoscaling::{find_policy, group_missing};
use super::Service;

/// The group's instances counted in capacity, split into (contributing, warming) for
/// the policy's warmup: warming instances do not feed the metric but count as
/// capacity already on its way.
fn contributing_and_warming(g: &AutoScalingGroup, warmup: u32, now: DateTime<Utc>) -> (u32, u32) {
    let counted: Vec<_> =
        g.instances.iter().filter(|i| i.lifecycle_state.counts_toward_capacity()).collect();
    let warming =
        counted.iter().filter(|i| AutoScalingGroup::is_warming(i, warmup, now)).count() as u32;
    (counted.len() as u32 - warming, warming)
}

/// The metric value the alarm last evaluated: the newest of its recent datapoints.
fn last_value(alarm: &MetricAlarm) -> Option<f64> {
    let data: serde_json::Value = serde_json::from_str(alarm.state_reason_data.as_deref()?).ok()?;
    data["recentDatapoints"].as_array()?.iter().rev().find_map(|v| v.as_f64())
}

impl Service {
    /// Runs the scaling policy `action_arn` for `alarm`: the policy's rules decide the
    /// new desired capacity (target tracking's ceil(current × metric / target), step
    /// and simple adjustments, warmup and cooldown gates) and the group's cause names
    /// the alarm, as AWS writes it. A skipped run (cooldown, warmup, no change) is not
    /// an error.
    pub fn autoscaling_alarm_action(
        &self,
        action_arn: &str,
        alarm: &MetricAlarm,
    ) -> Result<(), String> {
        let now = self.clock.now();
        let metric = last_value(alarm)
            .ok_or_else(|| format!("alarm {} has no datapoint to act on", alarm.alarm_name))?;
        self.mutate(|state, changes| {
            let p = state.policies.get(action_arn).ok_or_else(|| {
                shoal_model::AwsError::validation(format!(
                    "No scaling policy found for ARN {action_arn}"
                ))
            })?;
            let Some(g) = state.groups.get(&p.auto_scaling_group_name) else { return Ok(()) };
            let mut g = g.clone();
            let warmup = g.warmup_seconds(p.estimated_instance_warmup);
            let (contributing, warming) = contributing_and_warming(&g, warmup, now);
            let trigger = AlarmTrigger {
                alarm_name: alarm.alarm_name.clone(),
                metric_value: metric,
                threshold: alarm.threshold.unwrap_or(0.0),
            };
            match policy::execute_policy(&mut g, p, &trigger, contributing, warming, now) {
                Ok(_) => {
                    policy::start_cooldown(&mut g, p, now);
                    changes.put(g);
                    Ok(())
                }
                Err(Skipped::Disabled) => Err(shoal_model::AwsError::validation(
                    "The policy is disabled or its group suspends AlarmNotification.",
                )),
                Err(_) => Ok(()),
            }
        })
        .map_err(|e| e.message)
    }

    /// ExecutePolicy: runs a policy by name or ARN now, as a user testing it (the rules
    /// are [`policy::execute_policy_by_user`]); a simple policy's cooldown starts.
    pub fn execute_policy(
        &self,
        group_name: Option<&str>,
        policy_name: &str,
        req: ExecutePolicyRequest,
    ) -> AwsResult<()> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let p = find_policy(state, group_name, policy_name)?;
            let group = &p.auto_scaling_group_name;
            let mut g = state.groups.get(group).cloned().ok_or_else(|| group_missing(group))?;
            let warmup = g.warmup_seconds(p.estimated_instance_warmup);
            let counts = contributing_and_warming(&g, warmup, now);
            if policy::execute_policy_by_user(&mut g, p, &req, counts, now)?.is_some() {
                policy::start_cooldown(&mut g, p, now);
                changes.put(g);
            }
            Ok(())
        })
    }
}
