//! Scaling activities (DescribeScalingActivities) and the exact Description / Cause
//! texts AWS writes.
//!
//! A Cause is a chain of sentences `At <time> <sentence>` joined by two spaces, e.g.
//! `At 2026-11-25T10:00:00Z a user request created an AutoScalingGroup changing the
//! desired capacity from 0 to 1.  At 2026-11-25T10:00:02Z an instance was started in
//! response to a difference between desired and actual capacity, increasing the
//! capacity from 0 to 1.` Sources: AWS's own activity output quoted in public repos
//! (see each builder); the few marked "reconstructed" follow AWS's pattern where no
//! verbatim sample was found.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `2026-11-25T10:00:00Z`: the timestamp format inside Causes and reasons.
pub fn aws_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The longest `Cause` AWS returns (the API's `XmlStringMaxLen1023`).
pub const MAX_CAUSE_LEN: usize = 1023;

/// The longest `StatusMessage` AWS returns (`XmlStringMaxLen255`).
pub const MAX_STATUS_MESSAGE_LEN: usize = 255;

/// `cause` within AWS's limit, cut after the last whole sentence that fits: a scale-in
/// of hundreds names as many of its selected instances as the field holds (AWS's own
/// cut is not documented; this keeps every sentence whole).
fn within_cause_limit(mut cause: String) -> String {
    if cause.len() <= MAX_CAUSE_LEN {
        return cause;
    }
    let last_whole =
        cause.match_indices("  At ").map(|(i, _)| i).take_while(|&i| i <= MAX_CAUSE_LEN).last();
    cause.truncate(last_whole.unwrap_or_else(|| floor_char_boundary(&cause, MAX_CAUSE_LEN)));
    cause
}

/// The largest index ≤ `at` on a character boundary of `s`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    (0..=at.min(s.len())).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// An activity's `StatusCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityStatus {
    PendingSpotBidPlacement,
    WaitingForSpotInstanceRequestId,
    WaitingForSpotInstanceId,
    WaitingForInstanceId,
    PreInService,
    InProgress,
    WaitingForELBConnectionDraining,
    MidLifecycleAction,
    WaitingForInstanceWarmup,
    Successful,
    Failed,
    Cancelled,
    WaitingForConnectionDraining,
}

impl ActivityStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PendingSpotBidPlacement => "PendingSpotBidPlacement",
            Self::WaitingForSpotInstanceRequestId => "WaitingForSpotInstanceRequestId",
            Self::WaitingForSpotInstanceId => "WaitingForSpotInstanceId",
            Self::WaitingForInstanceId => "WaitingForInstanceId",
            Self::PreInService => "PreInService",
            Self::InProgress => "InProgress",
            Self::WaitingForELBConnectionDraining => "WaitingForELBConnectionDraining",
            Self::MidLifecycleAction => "MidLifecycleAction",
            Self::WaitingForInstanceWarmup => "WaitingForInstanceWarmup",
            Self::Successful => "Successful",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
            Self::WaitingForConnectionDraining => "WaitingForConnectionDraining",
        }
    }
    /// Finished states (`EndTime` set, progress 100).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Successful | Self::Failed | Self::Cancelled)
    }
}

/// One scaling activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub activity_id: String,
    pub auto_scaling_group_name: String,
    pub auto_scaling_group_arn: String,
    pub description: String,
    pub cause: String,
    pub start_time: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
    pub status_code: ActivityStatus,
    pub status_message: Option<String>,
    pub progress: u8,
    /// JSON string: `{"Subnet ID":"subnet-…","Availability Zone":"us-east-1a"}`.
    pub details: String,
    /// The instance the activity launches or terminates (not on the wire; for lookups).
    pub instance_id: Option<String>,
}

/// `{"Subnet ID":"…","Availability Zone":"…"}` (AWS's key order in most samples).
pub fn details(subnet_id: Option<&str>, availability_zone: &str) -> String {
    // serde_json's Map sorts keys (no preserve_order feature): build the string by hand.
    match subnet_id {
        Some(s) => format!(
            "{{\"Subnet ID\":{},\"Availability Zone\":{}}}",
            serde_json::Value::from(s),
            serde_json::Value::from(availability_zone)
        ),
        None => format!("{{\"Availability Zone\":{}}}", serde_json::Value::from(availability_zone)),
    }
}

impl Activity {
    /// A launch activity (`Launching a new EC2 instance: i-…`), `InProgress`. Other
    /// activities about one instance (attach, detach) take its shape with their own
    /// [`description`].
    #[allow(clippy::too_many_arguments)]
    pub fn launch(
        activity_id: impl Into<String>,
        group_name: &str,
        group_arn: &str,
        instance_id: &str,
        subnet_id: Option<&str>,
        availability_zone: &str,
        cause: String,
        now: DateTime<Utc>,
    ) -> Self {
        Activity {
            activity_id: activity_id.into(),
            auto_scaling_group_name: group_name.into(),
            auto_scaling_group_arn: group_arn.into(),
            description: description::launching(instance_id),
            cause: within_cause_limit(cause),
            start_time: now,
            end_time: None,
            status_code: ActivityStatus::InProgress,
            status_message: None,
            progress: 50,
            details: details(subnet_id, availability_zone),
            instance_id: Some(instance_id.into()),
        }
    }

    /// A terminate activity (`Terminating EC2 instance: i-…`), `InProgress`.
    #[allow(clippy::too_many_arguments)]
    pub fn terminate(
        activity_id: impl Into<String>,
        group_name: &str,
        group_arn: &str,
        instance_id: &str,
        subnet_id: Option<&str>,
        availability_zone: &str,
        cause: String,
        now: DateTime<Utc>,
    ) -> Self {
        Activity {
            description: description::terminating(instance_id),
            ..Self::launch(
                activity_id,
                group_name,
                group_arn,
                instance_id,
                subnet_id,
                availability_zone,
                cause,
                now,
            )
        }
    }

    /// A failed launch: Description `Launching a new EC2 instance.  Status Reason:
    /// <msg>. Launching EC2 instance failed.`, StatusMessage `<msg>. Launching EC2
    /// instance failed.`, `Failed`, progress 100.
    #[allow(clippy::too_many_arguments)]
    pub fn launch_failed(
        activity_id: impl Into<String>,
        group_name: &str,
        group_arn: &str,
        subnet_id: Option<&str>,
        availability_zone: &str,
        reason: &str,
        cause: String,
        now: DateTime<Utc>,
    ) -> Self {
        let message = format!("{}. Launching EC2 instance failed.", reason.trim_end_matches('.'));
        // StatusMessage is at most 255 characters (AWS's model); the Description keeps
        // the whole reason. Cut the reason, so the outcome stays readable at the end.
        let suffix = ". Launching EC2 instance failed.";
        let status_message = if message.chars().count() > 255 {
            let reason: String = reason.chars().take(255 - suffix.len()).collect();
            format!("{reason}{suffix}")
        } else {
            message.clone()
        };
        Activity {
            activity_id: activity_id.into(),
            auto_scaling_group_name: group_name.into(),
            auto_scaling_group_arn: group_arn.into(),
            description: format!("Launching a new EC2 instance.  Status Reason: {message}"),
            cause: within_cause_limit(cause),
            start_time: now,
            end_time: Some(now),
            status_code: ActivityStatus::Failed,
            status_message: Some(status_message),
            progress: 100,
            details: details(subnet_id, availability_zone),
            instance_id: None,
        }
    }

    /// Ends the activity with a reason, as AWS shows a launch its hook abandoned:
    /// `StatusMessage` is the reason and the Description gains `  Status Reason: <reason>`
    /// (observed: `Launching a new EC2 instance: i-….  Status Reason: Instance failed to
    /// complete user's Lifecycle Action: …`, `Cancelled`).
    pub fn end_with_reason(&mut self, status: ActivityStatus, reason: &str, now: DateTime<Utc>) {
        self.description = format!("{}.  Status Reason: {reason}", self.description);
        self.set_status(status, Some(reason.to_string()), now);
    }

    /// Moves the activity on; final states set `EndTime` and progress 100.
    pub fn set_status(
        &mut self,
        status: ActivityStatus,
        message: Option<String>,
        now: DateTime<Utc>,
    ) {
        self.status_code = status;
        if let Some(mut message) = message {
            message.truncate(floor_char_boundary(&message, MAX_STATUS_MESSAGE_LEN));
            self.status_message = Some(message);
        }
        if status.is_final() {
            self.end_time = Some(now);
            self.progress = 100;
        }
    }
}

/// Description texts.
pub mod description {
    /// `Launching a new EC2 instance: i-…` (observed).
    pub fn launching(instance_id: &str) -> String {
        format!("Launching a new EC2 instance: {instance_id}")
    }
    /// `Terminating EC2 instance: i-…` (observed).
    pub fn terminating(instance_id: &str) -> String {
        format!("Terminating EC2 instance: {instance_id}")
    }
    /// `Attaching an existing EC2 instance: i-…` (observed).
    pub fn attaching(instance_id: &str) -> String {
        format!("Attaching an existing EC2 instance: {instance_id}")
    }
    /// `Detaching EC2 instance: i-…` (observed).
    pub fn detaching(instance_id: &str) -> String {
        format!("Detaching EC2 instance: {instance_id}")
    }
    /// `Moving EC2 instance to Standby: i-…` (observed).
    pub fn entering_standby(instance_id: &str) -> String {
        format!("Moving EC2 instance to Standby: {instance_id}")
    }
    /// `Moving EC2 instance out of Standby: i-…` (observed).
    pub fn exiting_standby(instance_id: &str) -> String {
        format!("Moving EC2 instance out of Standby: {instance_id}")
    }
}

/// Observed (AWS's troubleshooting guide): the StatusMessage of a launch whose
/// lifecycle action was abandoned, by CompleteLifecycleAction or by timing out with
/// DefaultResult `ABANDON`.
pub fn lifecycle_abandoned(token: &str) -> String {
    format!("Instance failed to complete user's Lifecycle Action: Lifecycle Action with token {token} was abandoned: Lifecycle Action Completed with ABANDON Result")
}

/// Cause sentences. Each returns the sentence without its `At <time> ` prefix; wrap it
/// with [`at`](cause::at) and chain with [`chain`](cause::chain).
pub mod cause {
    use super::aws_time;
    use chrono::{DateTime, Utc};

    /// `At <time> <sentence>`.
    pub fn at(t: DateTime<Utc>, sentence: &str) -> String {
        format!("At {} {sentence}", aws_time(t))
    }

    /// Joins timed sentences with two spaces, as AWS does.
    pub fn chain<I: IntoIterator<Item = S>, S: AsRef<str>>(parts: I) -> String {
        parts
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("  ")
    }

    /// Observed: `a user request created an AutoScalingGroup changing the desired
    /// capacity from 0 to 1.`
    pub fn created(from: u32, to: u32) -> String {
        format!("a user request created an AutoScalingGroup changing the desired capacity from {from} to {to}.")
    }

    /// Observed: `a user request update of AutoScalingGroup constraints to min: 0, max:
    /// 0, desired: 0 changing the desired capacity from 2 to 0.` — naming the size
    /// fields the request gave, in that order.
    pub fn update_constraints(
        min: Option<u32>,
        max: Option<u32>,
        desired: Option<u32>,
        from: u32,
        to: u32,
    ) -> String {
        format!(
            "a user request update of AutoScalingGroup constraints to {} changing the desired capacity from {from} to {to}.",
            constraints(min, max, desired)
        )
    }

    fn constraints(min: Option<u32>, max: Option<u32>, desired: Option<u32>) -> String {
        let mut parts = Vec::new();
        if let Some(v) = min {
            parts.push(format!("min: {v}"));
        }
        if let Some(v) = max {
            parts.push(format!("max: {v}"));
        }
        if let Some(v) = desired {
            parts.push(format!("desired: {v}"));
        }
        parts.join(", ")
    }

    /// Observed: `a user request explicitly set group desired capacity changing the
    /// desired capacity from 1 to 2.`
    pub fn set_desired(from: u32, to: u32) -> String {
        format!("a user request explicitly set group desired capacity changing the desired capacity from {from} to {to}.")
    }

    /// Observed: `a monitor alarm TargetTracking-my-asg-AlarmHigh-<uuid> in state ALARM
    /// triggered policy <p> changing the desired capacity from 1 to 2.`
    pub fn alarm_policy(alarm: &str, policy: &str, from: u32, to: u32) -> String {
        format!(
            "a monitor alarm {alarm} in state ALARM triggered policy {policy} changing the desired capacity from {from} to {to}."
        )
    }

    /// Observed: `a user request executed policy my-simple-scale-out-policy changing the
    /// desired capacity from 1 to 2.`
    pub fn user_executed_policy(policy: &str, from: u32, to: u32) -> String {
        format!(
            "a user request executed policy {policy} changing the desired capacity from {from} to {to}."
        )
    }

    /// Observed: `an instance was added in response to user request. Keeping the
    /// capacity at the new 2.` (AttachInstances; the number is the new desired capacity).
    pub fn user_attached(desired: u32) -> String {
        format!("an instance was added in response to user request. Keeping the capacity at the new {desired}.")
    }

    /// Observed: `instance i-… was detached in response to a user request, shrinking
    /// the capacity from 4 to 3.`; without a decrement it ends after `user request.`
    pub fn user_detached(instance_id: &str, shrink: Option<(u32, u32)>) -> String {
        match shrink {
            Some((from, to)) => format!("instance {instance_id} was detached in response to a user request, shrinking the capacity from {from} to {to}."),
            None => format!("instance {instance_id} was detached in response to a user request."),
        }
    }

    /// Observed: `instance i-… was moved to standby in response to a user request,
    /// shrinking the capacity from 4 to 3.`; without a decrement it ends after `user
    /// request.`
    pub fn user_standby(instance_id: &str, shrink: Option<(u32, u32)>) -> String {
        match shrink {
            Some((from, to)) => format!("instance {instance_id} was moved to standby in response to a user request, shrinking the capacity from {from} to {to}."),
            None => format!("instance {instance_id} was moved to standby in response to a user request."),
        }
    }

    /// Observed: `instance i-… was moved out of standby in response to a user request,
    /// increasing the capacity from 3 to 4.`
    pub fn user_exit_standby(instance_id: &str, from: u32, to: u32) -> String {
        format!("instance {instance_id} was moved out of standby in response to a user request, increasing the capacity from {from} to {to}.")
    }

    /// Reconstructed on the user-request pattern: `a scheduled action update of
    /// AutoScalingGroup constraints to min: 1, max: 4, desired: 2 changing the desired
    /// capacity from 1 to 2.`
    pub fn scheduled_action(
        min: Option<u32>,
        max: Option<u32>,
        desired: Option<u32>,
        from: u32,
        to: u32,
    ) -> String {
        format!(
            "a scheduled action update of AutoScalingGroup constraints to {} changing the desired capacity from {from} to {to}.",
            constraints(min, max, desired)
        )
    }

    /// Observed: `an instance was started in response to a difference between desired
    /// and actual capacity, increasing the capacity from 1 to 2.`
    pub fn capacity_launch(from: u32, to: u32) -> String {
        format!(
            "an instance was started in response to a difference between desired and actual capacity, increasing the capacity from {from} to {to}."
        )
    }

    /// Observed: `an instance was taken out of service in response to a difference
    /// between desired and actual capacity, shrinking the capacity from 2 to 1.`
    pub fn capacity_terminate(from: u32, to: u32) -> String {
        format!(
            "an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from {from} to {to}."
        )
    }

    /// Observed: `instance i-… was selected for termination.`
    pub fn selected_for_termination(instance_id: &str) -> String {
        format!("instance {instance_id} was selected for termination.")
    }

    /// Observed: `an instance was taken out of service in response to an ELB system
    /// health check failure.`
    pub fn elb_unhealthy() -> String {
        "an instance was taken out of service in response to an ELB system health check failure."
            .into()
    }

    /// Observed: `an instance was taken out of service in response to an EC2 health
    /// check indicating it has been terminated or stopped.`
    pub fn ec2_unhealthy() -> String {
        "an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.".into()
    }

    /// Observed (SetInstanceHealth): `an instance was taken out of service in response
    /// to a user health-check.`
    pub fn user_health_check() -> String {
        "an instance was taken out of service in response to a user health-check.".into()
    }

    /// Observed: `an instance was launched in response to an unhealthy instance needing
    /// to be replaced.`
    pub fn replacement_launch() -> String {
        "an instance was launched in response to an unhealthy instance needing to be replaced."
            .into()
    }

    /// Observed: `instance i-… was taken out of service in response to a user
    /// request.` and, with decrement, `…, shrinking the capacity from 2 to 1.`
    pub fn user_terminate(instance_id: &str, decrement: Option<(u32, u32)>) -> String {
        match decrement {
            None => format!("instance {instance_id} was taken out of service in response to a user request."),
            Some((from, to)) => format!(
                "instance {instance_id} was taken out of service in response to a user request, shrinking the capacity from {from} to {to}."
            ),
        }
    }

    /// Reconstructed from AWS's zone-migration pattern; the closing sentence is
    /// observed: `availability zones us-east-1a, us-east-1b had 2, 0 instances
    /// respectively. An instance was launched to aid in balancing the group's zones.`
    pub fn rebalance_launch(zone_counts: &[(String, u32)]) -> String {
        let zones = zone_counts.iter().map(|(z, _)| z.as_str()).collect::<Vec<_>>().join(", ");
        let counts = zone_counts.iter().map(|(_, c)| c.to_string()).collect::<Vec<_>>().join(", ");
        format!(
            "availability zones {zones} had {counts} instances respectively. An instance was launched to aid in balancing the group's zones."
        )
    }

    /// Observed: `an instance was launched in response to an instance refresh.`
    pub fn refresh_launch() -> String {
        "an instance was launched in response to an instance refresh.".into()
    }

    /// Observed: `an instance was taken out of service in response to an instance
    /// refresh.`
    pub fn refresh_terminate() -> String {
        "an instance was taken out of service in response to an instance refresh.".into()
    }

    /// Shoal's wording (no AWS sample found), in the pattern of the instance refresh
    /// pair: `an instance was taken out of service in response to a maximum instance
    /// lifetime being reached.` (followed by `instance i-… was selected for
    /// termination.`).
    pub fn lifetime_terminate() -> String {
        "an instance was taken out of service in response to a maximum instance lifetime being reached.".into()
    }

    /// Shoal's wording (no AWS sample found): `an instance was launched in response to a
    /// maximum instance lifetime being reached.`
    pub fn lifetime_launch() -> String {
        "an instance was launched in response to a maximum instance lifetime being reached.".into()
    }

    /// Shoal's wording (no AWS sample found): the termination that follows an abandoned
    /// launch lifecycle action, `an instance was taken out of service in response to a
    /// launch lifecycle action being abandoned.`
    pub fn launch_abandoned() -> String {
        "an instance was taken out of service in response to a launch lifecycle action being abandoned.".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn texts() {
        let t1 = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
        let t2 = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 12).unwrap();
        fn check(got: String, want: &str) {
            assert_eq!(got, want);
        }
        check(
            cause::chain([
                cause::at(t1, &cause::alarm_policy("TargetTracking-EXERCISE-GROUP-AlarmHigh-u1", "cpu80", 1, 2)),
                cause::at(t2, &cause::capacity_launch(1, 2)),
            ]),
            "At 2026-11-25T10:00:00Z a monitor alarm TargetTracking-EXERCISE-GROUP-AlarmHigh-u1 in state ALARM triggered policy cpu80 changing the desired capacity from 1 to 2.  At 2026-11-25T10:00:12Z an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 1 to 2.",
        );
        check(
            cause::chain([
                cause::at(t1, &cause::capacity_terminate(2, 1)),
                cause::at(t1, &cause::selected_for_termination("i-0abc")),
            ]),
            "At 2026-11-25T10:00:00Z an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from 2 to 1.  At 2026-11-25T10:00:00Z instance i-0abc was selected for termination.",
        );
        // A scale-in of 300 names as many selected instances as AWS's 1023 characters hold.
        let many = cause::chain(
            std::iter::once(cause::at(t1, &cause::capacity_terminate(400, 100))).chain(
                (0..300).map(|n| {
                    cause::at(t1, &cause::selected_for_termination(&format!("i-{n:017x}")))
                }),
            ),
        );
        let a = Activity::terminate(
            "a",
            "g",
            "arn",
            "i-00000000000000000",
            None,
            "us-east-1a",
            many.clone(),
            t1,
        );
        assert!(a.cause.len() <= MAX_CAUSE_LEN && many.starts_with(&a.cause), "{}", a.cause);
        assert!(a.cause.ends_with("was selected for termination."), "whole sentences: {}", a.cause);
        assert!(a.cause.len() > MAX_CAUSE_LEN - 80, "as many as fit");
        check(
            details(Some("subnet-a"), "us-east-1a"),
            r#"{"Subnet ID":"subnet-a","Availability Zone":"us-east-1a"}"#,
        );
        let a = Activity::launch_failed(
            "a1",
            "g",
            "arn",
            Some("subnet-a"),
            "us-east-1a",
            "InsufficientInstanceCapacity.",
            String::new(),
            t1,
        );
        check(a.description, "Launching a new EC2 instance.  Status Reason: InsufficientInstanceCapacity. Launching EC2 instance failed.");
        check(
            a.status_message.unwrap(),
            "InsufficientInstanceCapacity. Launching EC2 instance failed.",
        );
        let long = "x".repeat(300);
        let a =
            Activity::launch_failed("a2", "g", "arn", None, "us-east-1a", &long, String::new(), t1);
        let status = a.status_message.unwrap();
        assert_eq!(status.chars().count(), 255);
        assert!(status.ends_with("x. Launching EC2 instance failed."));
        assert!(a.description.contains(&long));
        check(
            cause::rebalance_launch(&[("us-east-1a".into(), 2), ("us-east-1b".into(), 0)]),
            "availability zones us-east-1a, us-east-1b had 2, 0 instances respectively. An instance was launched to aid in balancing the group's zones.",
        );
        let mut act =
            Activity::terminate("a2", "g", "arn", "i-1", None, "us-east-1b", "c".into(), t1);
        assert_eq!(act.description, "Terminating EC2 instance: i-1");
        act.set_status(ActivityStatus::Successful, None, t2);
        assert_eq!((act.progress, act.end_time), (100, Some(t2)));
        let mut launch =
            Activity::launch("a3", "g", "arn", "i-2", None, "us-east-1a", "c".into(), t1);
        launch.end_with_reason(ActivityStatus::Cancelled, &lifecycle_abandoned("tok"), t2);
        check(launch.description, "Launching a new EC2 instance: i-2.  Status Reason: Instance failed to complete user's Lifecycle Action: Lifecycle Action with token tok was abandoned: Lifecycle Action Completed with ABANDON Result");
        assert_eq!((launch.status_code, launch.end_time), (ActivityStatus::Cancelled, Some(t2)));
    }
}
