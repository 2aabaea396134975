//! Where Auto Scaling meets the other services: target groups (ELBv2) and the alarms
//! target tracking owns (CloudWatch). Kept in one place so each side's API stays its own.

use chrono::{DateTime, Utc};
use shoal_model::autoscaling::policy::{self, PolicyAlarm, ScalingPolicy};
use shoal_model::cloudwatch::MetricAlarm;
use shoal_model::elbv2::health::TargetHealthState;
use shoal_model::elbv2::target_group::{registration_key, RegisteredTarget, TargetDescription};
use shoal_model::{AwsError, AwsResult};

use super::cloudwatch::AlarmFilter;
use super::{Changes, Service, State};
use crate::ids;

impl Service {
    /// A target group named by a group must exist (`ValidationError` as AWS says it).
    pub(crate) fn check_target_group_exists(&self, state: &State, arn: &str) -> AwsResult<()> {
        if state.target_groups.contains_key(arn) {
            Ok(())
        } else {
            Err(AwsError::validation(format!(
                "Provided Target Groups may not be valid. Please ensure they exist and try again. ({arn})"
            )))
        }
    }

    /// Registers an instance that entered service with each target group the group is
    /// attached to (not those being removed), on the target group's port.
    pub(crate) fn register_in_target_groups(
        &self,
        state: &State,
        changes: &mut Changes,
        tg_arns: &[String],
        instance_id: &str,
        zone: &str,
    ) {
        let now = self.clock.now();
        for arn in tg_arns {
            let Some(tg) = state.target_groups.get(arn) else { continue };
            let key = registration_key(arn, instance_id, tg.port);
            if state.registered_targets.get(&key).is_some_and(|r| r.deregistered_at.is_none()) {
                continue;
            }
            changes.put(RegisteredTarget {
                key,
                target_group_arn: arn.clone(),
                target: TargetDescription {
                    id: instance_id.to_string(),
                    port: Some(tg.port),
                    availability_zone: Some(zone.to_string()),
                },
                registered_at: now,
                deregistered_at: None,
            });
        }
    }

    /// Deregisters an instance from every target group: its registrations start
    /// draining (the load balancer controller removes them after the deregistration
    /// delay). Returns true when any is draining.
    pub(crate) fn deregister_from_target_groups(
        &self,
        state: &State,
        changes: &mut Changes,
        tg_arns: &[String],
        instance_id: &str,
    ) -> bool {
        let now = self.clock.now();
        let mut draining = false;
        for r in state
            .registered_targets
            .values()
            .filter(|r| r.target.id == instance_id && tg_arns.contains(&r.target_group_arn))
        {
            if r.deregistered_at.is_some() {
                draining = true;
                continue;
            }
            let delay = state
                .target_groups
                .get(&r.target_group_arn)
                .map(|t| t.attributes.deregistration_delay_seconds)
                .unwrap_or(0);
            if delay == 0 {
                changes.delete::<RegisteredTarget>(&r.key);
            } else {
                let mut r = r.clone();
                r.deregistered_at = Some(now);
                changes.put(r);
                draining = true;
            }
        }
        draining
    }

    /// True while any target group still drains connections to the instance.
    pub(crate) fn draining(state: &State, instance_id: &str) -> bool {
        state
            .registered_targets
            .values()
            .any(|r| r.target.id == instance_id && r.deregistered_at.is_some())
    }

    /// The instance's health in each of the target groups, from the data plane:
    /// `(target group ARN, state)` as the group's ELB health check reads it.
    pub(crate) fn target_states(
        &self,
        snapshot: &shoal_proxy::HealthSnapshot,
        tg_arns: &[String],
        instance_id: &str,
    ) -> Vec<(String, TargetHealthState)> {
        tg_arns
            .iter()
            .filter_map(|arn| snapshot.get(arn, instance_id).map(|e| (arn.clone(), e.health.state)))
            .collect()
    }

    /// The target health of one instance in each of `tg_arns` where it is registered,
    /// as `(target group ARN, state)`, read from the data plane now.
    pub fn instance_target_states(
        &self,
        tg_arns: &[String],
        instance_id: &str,
    ) -> Vec<(String, TargetHealthState)> {
        self.target_states(&self.proxy.target_health(), tg_arns, instance_id)
    }

    /// The CloudWatch alarms of `policies` (target tracking's own, or the alarms whose
    /// actions name a step or simple policy), with their state, as DescribeAlarms
    /// returns them.
    pub fn policy_alarms(&self, policies: &[ScalingPolicy]) -> AwsResult<Vec<MetricAlarm>> {
        let names: Vec<String> =
            policies.iter().flat_map(|p| p.alarms.iter().map(|a| a.alarm_name.clone())).collect();
        let mut out = Vec::new();
        // An empty name list would match every alarm; DescribeAlarms takes 100 names a call.
        for chunk in names.chunks(100) {
            let filter =
                AlarmFilter { names: chunk.to_vec(), max_records: Some(100), ..Default::default() };
            out.extend(self.describe_alarms(&filter)?.items);
        }
        Ok(out)
    }

    /// The alarms a policy owns: target tracking's AlarmHigh/AlarmLow, named and
    /// described exactly as AWS does, stored in the same commit as the policy.
    pub(crate) fn create_policy_alarms(
        &self,
        state: &State,
        changes: &mut Changes,
        p: &ScalingPolicy,
        now: DateTime<Utc>,
    ) -> AwsResult<Vec<PolicyAlarm>> {
        let period = 60;
        let alarms = policy::target_tracking_alarms(
            p,
            &self.config.region,
            &ids::uuid(),
            &ids::uuid(),
            period,
            now,
        );
        let mut out = Vec::new();
        for alarm in alarms {
            let stored = self.stage_put_alarm(state, changes, alarm, now)?;
            out.push(PolicyAlarm { alarm_name: stored.alarm_name, alarm_arn: stored.alarm_arn });
        }
        Ok(out)
    }

    /// Deletes an alarm a policy owned.
    pub(crate) fn delete_owned_alarm(&self, changes: &mut Changes, alarm_name: &str) {
        Service::stage_delete_alarm(changes, alarm_name);
    }
}
