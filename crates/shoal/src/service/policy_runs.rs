//! How an Auto Scaling policy runs: from a CloudWatch alarm, or by a user's ExecutePolicy.
//!
//! The alarm loop calls [`Service::autoscaling_alarm_action`] for each due action whose
//! ARN is a scaling policy's: on the alarm's transition, and again every evaluation
//! period while it stays in `ALARM` (AWS re-invokes scaling policies). It runs outside
//! any lock; the caller records the alarm's `Action` history item from the result.

use chrono::{DateTime, Utc};
use shoal_model::autoscaling::group::AutoScalingGroup;
use shoal_model::autoscaling::policy::{
    self, AlarmTrigger, ExecutePolicyRequest, ScalingPolicy, Skipped, TtVote,
};
use shoal_model::cloudwatch::MetricAlarm;
use shoal_model::AwsResult;

use super::autoscaling::{find_group, find_policy};
use super::{Service, State};

/// Why an alarm action did not run; its text is the `Action` history item's, as
/// DescribeAlarmHistory shows it.
#[derive(Debug, thiserror::Error)]
pub enum ActionFailed {
    /// Shoal has no SNS or other targets: every ARN but Auto Scaling's.
    #[error("Resource: {0} is not reachable from Shoal.")]
    Unreachable(String),
    #[error("alarm {0} has no datapoint to act on")]
    NoDatapoint(String),
    /// The policy refused (missing, disabled) or its inputs could not be read.
    #[error("{}", .0.message)]
    Refused(#[from] shoal_model::AwsError),
}

/// The group's instances counted in capacity that are past the policy's warmup (they
/// feed the metric a policy acts on), and how many others are still warming (they
/// count as capacity already on its way).
fn warmed_and_warming(
    g: &AutoScalingGroup,
    p: &ScalingPolicy,
    now: DateTime<Utc>,
) -> (Vec<String>, u32) {
    let warmup = g.warmup_seconds(p.estimated_instance_warmup);
    let (warming, warmed): (Vec<_>, Vec<_>) = g
        .instances
        .iter()
        .filter(|i| i.lifecycle_state.counts_toward_capacity())
        .partition(|i| AutoScalingGroup::is_warming(i, warmup, now));
    (warmed.into_iter().map(|i| i.instance_id.clone()).collect(), warming.len() as u32)
}

/// (contributing, warming) instance counts for `p`'s warmup.
fn counts(g: &AutoScalingGroup, p: &ScalingPolicy, now: DateTime<Utc>) -> (u32, u32) {
    let (warmed, warming) = warmed_and_warming(g, p, now);
    (warmed.len() as u32, warming)
}

/// The votes of the group's other target-tracking policies, from their alarms as they
/// stand: a scale-in by one needs them all.
fn other_votes(
    state: &State,
    g: &AutoScalingGroup,
    p: &ScalingPolicy,
    now: DateTime<Utc>,
) -> Vec<TtVote> {
    state
        .policies
        .values()
        .filter(|o| o.auto_scaling_group_name == g.name && o.policy_arn != p.policy_arn)
        .filter_map(|o| {
            let alarms: Vec<&MetricAlarm> =
                o.alarms.iter().filter_map(|a| state.alarms.get(&a.alarm_name)).collect();
            policy::standing_vote(g, o, &alarms, counts(g, o, now))
        })
        .collect()
}

/// The id of the group's latest activity, which `ScalingActivityInProgress` names.
pub(crate) fn latest_activity<'a>(state: &'a State, group: &str) -> Option<&'a str> {
    state
        .activities
        .values()
        .filter(|a| a.auto_scaling_group_name == group)
        .max_by_key(|a| a.start_time)
        .map(|a| a.activity_id.as_str())
}

impl Service {
    /// Runs the scaling policy `action_arn` for `alarm`: the policy's rules decide the
    /// new desired capacity (target tracking's ceil(current × metric / target) agreed
    /// with the group's other target-tracking policies, step and simple adjustments,
    /// warmup and cooldown gates) and the group's cause names the alarm, as AWS writes
    /// it. While instances warm up, a target-tracking or step policy on the group's own
    /// aggregate acts on the value of the instances past warmup
    /// ([`policy::acting_value`]). A skipped run (cooldown, warmup, no change) is not
    /// an error.
    pub fn autoscaling_alarm_action(
        &self,
        action_arn: &str,
        alarm: &MetricAlarm,
        value: Option<f64>,
    ) -> Result<(), ActionFailed> {
        let now = self.clock.now();
        value.ok_or_else(|| ActionFailed::NoDatapoint(alarm.alarm_name.clone()))?;
        // Read the warmed instances' value before taking the service's lock.
        let warmed = self.read(|s| {
            let p = s.policies.get(action_arn)?;
            let g = s.groups.get(&p.auto_scaling_group_name)?;
            Some(warmed_and_warming(g, p, now))
        });
        let warmed_value = match &warmed {
            Some((ids, warming)) if *warming > 0 => self.members_latest(alarm, ids, now)?,
            _ => None,
        };
        self.mutate(|state, changes| {
            let p = state.policies.get(action_arn).ok_or_else(|| {
                shoal_model::AwsError::validation(format!(
                    "No scaling policy found for ARN {action_arn}"
                ))
            })?;
            let Some(g) = state.groups.get(&p.auto_scaling_group_name) else { return Ok(()) };
            let counts = counts(g, p, now);
            let Some(metric) = policy::acting_value(alarm, value, p, counts.1, warmed_value) else {
                return Ok(());
            };
            let others = other_votes(state, g, p, now);
            let mut g = g.clone();
            let trigger = AlarmTrigger {
                alarm_name: alarm.alarm_name.clone(),
                metric_value: metric,
                threshold: alarm.threshold.unwrap_or(0.0),
            };
            match policy::execute_policy(&mut g, p, &trigger, counts, &others, now) {
                Ok(_) => {
                    policy::arm_cooldown(&mut g, p);
                    changes.put(g);
                    Ok(())
                }
                Err(Skipped::Disabled) => Err(shoal_model::AwsError::validation(
                    "The policy is disabled or its group suspends AlarmNotification.",
                )),
                Err(_) => Ok(()),
            }
        })
        .map_err(ActionFailed::from)
    }

    /// ExecutePolicy: runs a policy by name or ARN now, as a user testing it (the rules
    /// are [`policy::execute_policy_by_user`]); a simple policy's cooldown is armed, to
    /// start when the activities finish.
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
            let mut g = find_group(state, group)?.clone();
            let counts = counts(&g, p, now);
            let latest = latest_activity(state, group);
            if policy::execute_policy_by_user(&mut g, p, &req, counts, latest, now)?.is_some() {
                policy::arm_cooldown(&mut g, p);
                changes.put(g);
            }
            Ok(())
        })
    }
}
