//! Lifecycle hooks and instance refreshes.
//!
//! Hooks (AWS defaults): heartbeat 3600 s (30–7200), DefaultResult `ABANDON`, global
//! timeout min(48 h, 100 × heartbeat). Refresh preferences (AWS defaults):
//! MinHealthyPercentage 90, MaxHealthyPercentage 100 (100–200, span ≤ 100),
//! CheckpointDelay 3600, SkipMatching false, AutoRollback false, protected and standby
//! instances `Wait`; warmup = InstanceWarmup, else DefaultInstanceWarmup, else the
//! health check grace period.

use crate::ErrorCode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::group::{validate_name, AutoScalingGroup, GroupInstance, LifecycleState};
use crate::{AwsError, AwsResult};

/// `LifecycleTransition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LifecycleTransition {
    Launching,
    Terminating,
}

impl LifecycleTransition {
    /// Parses `autoscaling:EC2_INSTANCE_LAUNCHING` / `…TERMINATING`.
    pub fn parse(s: &str) -> AwsResult<Self> {
        match s {
            "autoscaling:EC2_INSTANCE_LAUNCHING" => Ok(Self::Launching),
            "autoscaling:EC2_INSTANCE_TERMINATING" => Ok(Self::Terminating),
            other => Err(AwsError::validation(format!("Invalid Lifecycle Transition: {other}"))),
        }
    }
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Launching => "autoscaling:EC2_INSTANCE_LAUNCHING",
            Self::Terminating => "autoscaling:EC2_INSTANCE_TERMINATING",
        }
    }
}

/// A lifecycle hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleHook {
    /// `<group>/<hook name>`: hook names are unique per group.
    pub key: String,
    pub name: String,
    pub auto_scaling_group_name: String,
    pub transition: LifecycleTransition,
    pub heartbeat_timeout: u32,
    pub global_timeout: u32,
    /// `CONTINUE` or `ABANDON`.
    pub default_result: String,
    pub notification_target_arn: Option<String>,
    pub role_arn: Option<String>,
    pub notification_metadata: Option<String>,
}

/// PutLifecycleHook: creates or updates (`existing`) a hook with AWS's defaults.
#[allow(clippy::too_many_arguments)]
pub fn put_lifecycle_hook(
    name: &str,
    group: &AutoScalingGroup,
    existing: Option<&LifecycleHook>,
    transition: Option<&str>,
    heartbeat_timeout: Option<i64>,
    default_result: Option<&str>,
    notification_target_arn: Option<&str>,
    role_arn: Option<&str>,
    notification_metadata: Option<&str>,
) -> AwsResult<LifecycleHook> {
    validate_name("lifecycleHookName", name)?;
    let transition = match (transition, existing) {
        (Some(t), _) => LifecycleTransition::parse(t)?,
        (None, Some(h)) => h.transition,
        (None, None) => return Err(AwsError::missing_parameter("LifecycleTransition")),
    };
    let heartbeat = match heartbeat_timeout {
        Some(h) if !(30..=7200).contains(&h) => {
            return Err(AwsError::validation(format!(
                "Heartbeat timeout {h} is invalid: it must be between 30 and 7200 seconds."
            )))
        }
        Some(h) => h as u32,
        None => existing.map_or(3600, |h| h.heartbeat_timeout),
    };
    let default_result = match default_result {
        Some(r @ ("CONTINUE" | "ABANDON")) => r.to_string(),
        Some(other) => {
            return Err(AwsError::validation(format!(
                "Invalid value for DefaultResult: {other}. Use CONTINUE or ABANDON."
            )))
        }
        None => existing.map_or_else(|| "ABANDON".into(), |h| h.default_result.clone()),
    };
    if notification_metadata.is_some_and(|m| m.chars().count() > 1023) {
        return Err(AwsError::validation("NotificationMetadata must be at most 1023 characters."));
    }
    Ok(LifecycleHook {
        key: format!("{}/{name}", group.name),
        name: name.into(),
        auto_scaling_group_name: group.name.clone(),
        transition,
        heartbeat_timeout: heartbeat,
        global_timeout: (100 * heartbeat).min(172_800),
        default_result,
        notification_target_arn: notification_target_arn.map(str::to_string),
        role_arn: role_arn.map(str::to_string),
        notification_metadata: notification_metadata.map(str::to_string),
    })
}

/// When a waiting action times out: a heartbeat timeout after the last heartbeat (or
/// the start), never past the global timeout; the hook's DefaultResult then applies.
pub fn hook_deadline(
    hook: &LifecycleHook,
    started: DateTime<Utc>,
    last_heartbeat: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let by_heartbeat =
        last_heartbeat.unwrap_or(started) + Duration::seconds(i64::from(hook.heartbeat_timeout));
    by_heartbeat.min(started + Duration::seconds(i64::from(hook.global_timeout)))
}

/// CompleteLifecycleAction: records `result` (`CONTINUE` or `ABANDON`) on one hook's
/// open action for an instance waiting in `Pending:Wait` or `Terminating:Wait`; the
/// controller then decides with [`hold_verdict`]. An action already completed is no
/// longer active (AWS's text).
pub fn complete_lifecycle_action(
    action: &LifecycleAction,
    inst: &GroupInstance,
    result: &str,
) -> AwsResult<LifecycleAction> {
    if !matches!(result, "CONTINUE" | "ABANDON") {
        return Err(AwsError::validation(format!(
            "Invalid value for LifecycleActionResult: {result}"
        )));
    }
    let waiting = matches!(
        inst.lifecycle_state,
        LifecycleState::PendingWait | LifecycleState::TerminatingWait
    );
    if !waiting || action.result.is_some() {
        return Err(AwsError::validation(format!(
            "No active Lifecycle Action found with instance ID {}",
            inst.instance_id
        )));
    }
    Ok(LifecycleAction { result: Some(result.to_string()), ..action.clone() })
}

/// A lifecycle action in progress: an instance held in `Pending:Wait` or
/// `Terminating:Wait` by one hook until CompleteLifecycleAction or the timeout. An
/// instance has one per hook of the transition (AWS runs them all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleAction {
    /// `<instance id>/<hook name>` ([`action_key`]); empty in records written before
    /// Shoal ran several hooks per transition, which were keyed by instance id.
    #[serde(default)]
    pub key: String,
    pub instance_id: String,
    pub auto_scaling_group_name: String,
    pub hook_name: String,
    pub transition: LifecycleTransition,
    /// `LifecycleActionToken`, a UUID callers may quote instead of the instance id.
    pub token: String,
    pub started: DateTime<Utc>,
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// `CONTINUE` or `ABANDON` once completed, until the controller acts on it.
    #[serde(default)]
    pub result: Option<String>,
}

/// The key of `instance_id`'s action for the hook `hook_name`.
pub fn action_key(instance_id: &str, hook_name: &str) -> String {
    format!("{instance_id}/{hook_name}")
}

impl LifecycleAction {
    /// The action `hook` opens for `instance_id` as it enters the hook's wait state.
    pub fn new(hook: &LifecycleHook, instance_id: &str, token: String, now: DateTime<Utc>) -> Self {
        LifecycleAction {
            key: action_key(instance_id, &hook.name),
            instance_id: instance_id.to_string(),
            auto_scaling_group_name: hook.auto_scaling_group_name.clone(),
            hook_name: hook.name.clone(),
            transition: hook.transition,
            token,
            started: now,
            last_heartbeat: None,
            result: None,
        }
    }

    /// The id it is stored under (older records: the instance id).
    pub fn store_key(&self) -> &str {
        if self.key.is_empty() {
            &self.instance_id
        } else {
            &self.key
        }
    }
}

/// Where an instance held by lifecycle hooks stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldVerdict {
    /// A hook is still open.
    Wait,
    /// Every hook continued (or timed out with `CONTINUE`, or was deleted).
    Proceed,
    /// A hook abandoned (by CompleteLifecycleAction or by timing out with DefaultResult
    /// `ABANDON`); its token names it in the activity's message.
    Abandon { token: String },
}

/// AWS's rule for an instance waiting on every hook of its transition: one `ABANDON`
/// ends the wait at once (a launch is abandoned and the instance terminated; a
/// termination skips the remaining hooks), otherwise the instance proceeds when all
/// hooks have continued. A hook past its deadline gives its DefaultResult; a hook
/// deleted while waiting counts as continued. `actions` pairs each open action with its
/// hook, if it still exists.
pub fn hold_verdict(
    actions: &[(&LifecycleAction, Option<&LifecycleHook>)],
    now: DateTime<Utc>,
) -> HoldVerdict {
    let mut open = false;
    for (action, hook) in actions {
        let result = match (&action.result, hook) {
            (Some(r), _) => Some(r.as_str()),
            (None, None) => Some("CONTINUE"),
            (None, Some(h)) => (now >= hook_deadline(h, action.started, action.last_heartbeat))
                .then_some(h.default_result.as_str()),
        };
        match result {
            Some("ABANDON") => return HoldVerdict::Abandon { token: action.token.clone() },
            Some(_) => {}
            None => open = true,
        }
    }
    if open {
        HoldVerdict::Wait
    } else {
        HoldVerdict::Proceed
    }
}

/// `InstanceRefresh.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefreshStatus {
    Pending,
    InProgress,
    Successful,
    Failed,
    Cancelling,
    Cancelled,
    RollbackInProgress,
    RollbackFailed,
    RollbackSuccessful,
    Baking,
}

impl RefreshStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::InProgress => "InProgress",
            Self::Successful => "Successful",
            Self::Failed => "Failed",
            Self::Cancelling => "Cancelling",
            Self::Cancelled => "Cancelled",
            Self::RollbackInProgress => "RollbackInProgress",
            Self::RollbackFailed => "RollbackFailed",
            Self::RollbackSuccessful => "RollbackSuccessful",
            Self::Baking => "Baking",
        }
    }
    /// Still running (blocks another StartInstanceRefresh).
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Self::Pending
                | Self::InProgress
                | Self::Cancelling
                | Self::RollbackInProgress
                | Self::Baking
        )
    }
}

/// `RefreshPreferences` with AWS's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshPreferences {
    pub min_healthy_percentage: u32,
    pub max_healthy_percentage: u32,
    pub instance_warmup: Option<u32>,
    pub checkpoint_percentages: Vec<u32>,
    pub checkpoint_delay: u32,
    pub skip_matching: bool,
    pub auto_rollback: bool,
    /// `Refresh`, `Ignore` or `Wait` (default).
    pub scale_in_protected_instances: String,
    /// `Terminate`, `Ignore` or `Wait` (default).
    pub standby_instances: String,
}

impl Default for RefreshPreferences {
    fn default() -> Self {
        RefreshPreferences {
            min_healthy_percentage: 90,
            max_healthy_percentage: 100,
            instance_warmup: None,
            checkpoint_percentages: vec![],
            checkpoint_delay: 3600,
            skip_matching: false,
            auto_rollback: false,
            scale_in_protected_instances: "Wait".into(),
            standby_instances: "Wait".into(),
        }
    }
}

/// Preference rules: MinHealthy 0–100, MaxHealthy 100–200 and at most 100 above
/// MinHealthy, checkpoints strictly increasing within 1–100, known enum values.
pub fn validate_preferences(p: &RefreshPreferences) -> AwsResult<()> {
    if p.min_healthy_percentage > 100 {
        return Err(AwsError::validation("MinHealthyPercentage must be between 0 and 100."));
    }
    if !(100..=200).contains(&p.max_healthy_percentage) {
        return Err(AwsError::validation("MaxHealthyPercentage must be between 100 and 200."));
    }
    if p.max_healthy_percentage - p.min_healthy_percentage > 100 {
        return Err(AwsError::validation(
            "The difference between MaxHealthyPercentage and MinHealthyPercentage cannot be greater than 100.",
        ));
    }
    if p.checkpoint_percentages.windows(2).any(|w| w[0] >= w[1])
        || p.checkpoint_percentages.iter().any(|c| !(1..=100).contains(c))
    {
        return Err(AwsError::validation(
            "CheckpointPercentages must be in ascending order, each between 1 and 100.",
        ));
    }
    if !matches!(p.scale_in_protected_instances.as_str(), "Refresh" | "Ignore" | "Wait") {
        return Err(AwsError::validation(
            "ScaleInProtectedInstances must be Refresh, Ignore or Wait.",
        ));
    }
    if !matches!(p.standby_instances.as_str(), "Terminate" | "Ignore" | "Wait") {
        return Err(AwsError::validation("StandbyInstances must be Terminate, Ignore or Wait."));
    }
    Ok(())
}

/// An instance refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRefresh {
    pub instance_refresh_id: String,
    pub auto_scaling_group_name: String,
    pub status: RefreshStatus,
    pub status_reason: Option<String>,
    pub start_time: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
    pub percentage_complete: u32,
    pub instances_to_update: u32,
    pub preferences: RefreshPreferences,
    /// `DesiredConfiguration`, kept as given.
    pub desired_configuration: Option<serde_json::Value>,
    /// The template the group used before (a rollback restores it).
    #[serde(default)]
    pub previous_launch_template: Option<crate::ec2::launch_template::LaunchTemplateSpec>,
    /// The launch configuration the group used before, if any (a refresh with a
    /// DesiredConfiguration can move a group from a launch configuration to a template;
    /// a rollback moves it back).
    #[serde(default)]
    pub previous_launch_configuration_name: Option<String>,
    /// The mixed instances policy the group used before, if any (restored likewise).
    #[serde(default)]
    pub previous_mixed_instances_policy: Option<crate::autoscaling::mixed::MixedInstancesPolicy>,
    /// The template the refresh moves the group to (its DesiredConfiguration).
    #[serde(default)]
    pub target_launch_template: Option<crate::ec2::launch_template::LaunchTemplateSpec>,
    /// Instances still to replace, in the order they will be.
    #[serde(default)]
    pub pending_instances: Vec<String>,
    /// Paused at a checkpoint until this time.
    #[serde(default)]
    pub checkpoint_until: Option<DateTime<Utc>>,
}

/// StartInstanceRefresh: refused while another refresh is active
/// (`InstanceRefreshInProgress`, AWS's text) or the `InstanceRefresh` process is
/// suspended; otherwise `Pending`.
pub fn start_instance_refresh(
    group: &AutoScalingGroup,
    active: Option<&InstanceRefresh>,
    preferences: RefreshPreferences,
    desired_configuration: Option<serde_json::Value>,
    refresh_id: &str,
    now: DateTime<Utc>,
) -> AwsResult<InstanceRefresh> {
    if active.is_some_and(|r| r.status.is_active()) {
        return Err(AwsError::new(
            ErrorCode::InstanceRefreshInProgress,
            "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.",
        ));
    }
    if group.is_suspended("InstanceRefresh") {
        return Err(AwsError::validation(
            "The InstanceRefresh process is suspended for this group.",
        ));
    }
    validate_preferences(&preferences)?;
    Ok(InstanceRefresh {
        instance_refresh_id: refresh_id.into(),
        auto_scaling_group_name: group.name.clone(),
        status: RefreshStatus::Pending,
        status_reason: None,
        start_time: now,
        end_time: None,
        percentage_complete: 0,
        instances_to_update: group.capacity(),
        preferences,
        desired_configuration,
        previous_launch_template: group.launch_template.clone(),
        previous_launch_configuration_name: group.launch_configuration_name.clone(),
        previous_mixed_instances_policy: group.mixed_instances_policy.clone(),
        target_launch_template: None,
        pending_instances: vec![],
        checkpoint_until: None,
    })
}

/// How many instances a refresh replaces at once for `desired`: with
/// MaxHealthyPercentage 100 it terminates first, as many as keep MinHealthy % of
/// desired in service (at least one); above 100 it launches that many extra first.
/// Returns `(launch_before_terminate, batch)`.
pub fn refresh_batch(desired: u32, prefs: &RefreshPreferences) -> (bool, u32) {
    if desired == 0 {
        return (false, 0);
    }
    let d = u64::from(desired);
    if prefs.max_healthy_percentage > 100 {
        let extra = d * u64::from(prefs.max_healthy_percentage - 100) / 100;
        (true, extra.max(1) as u32)
    } else {
        let keep = (d * u64::from(prefs.min_healthy_percentage)).div_ceil(100);
        (false, d.saturating_sub(keep).max(1) as u32)
    }
}

/// The refresh's warmup: InstanceWarmup, else DefaultInstanceWarmup, else the grace
/// period.
pub fn refresh_warmup(group: &AutoScalingGroup, prefs: &RefreshPreferences) -> u32 {
    prefs
        .instance_warmup
        .or(group.default_instance_warmup)
        .unwrap_or(group.health_check_grace_period)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscaling::group::{create_group, CreateGroupRequest, ZoneSubnet};
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
    }

    fn group() -> AutoScalingGroup {
        create_group(
            &CreateGroupRequest {
                name: "EXERCISE-GROUP".into(),
                launch_configuration_name: Some("lc".into()),
                min_size: Some(1),
                max_size: Some(4),
                zones: vec![ZoneSubnet {
                    subnet_id: "s".into(),
                    availability_zone: "us-east-1a".into(),
                }],
                ..Default::default()
            },
            false,
            "us-east-1",
            "g",
            t0(),
        )
        .unwrap()
    }

    #[test]
    fn hooks() {
        let g = group();
        let h = put_lifecycle_hook(
            "drain",
            &g,
            None,
            Some("autoscaling:EC2_INSTANCE_TERMINATING"),
            None,
            None,
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (h.heartbeat_timeout, h.global_timeout, h.default_result.as_str()),
            (3600, 172_800, "ABANDON")
        );
        let short = put_lifecycle_hook(
            "drain",
            &g,
            Some(&h),
            None,
            Some(60),
            Some("CONTINUE"),
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (short.transition, short.global_timeout),
            (LifecycleTransition::Terminating, 6000)
        );
        assert_eq!(hook_deadline(&short, t0(), None), t0() + Duration::seconds(60));
        assert_eq!(
            hook_deadline(&short, t0(), Some(t0() + Duration::seconds(5990))),
            t0() + Duration::seconds(6000)
        );
        fn err(r: AwsResult<LifecycleHook>, want: &str) {
            assert_eq!(r.unwrap_err().message, want);
        }
        err(
            put_lifecycle_hook(
                "x",
                &g,
                None,
                Some("autoscaling:EC2_INSTANCE_LAUNCHING"),
                Some(10),
                None,
                None,
                None,
                None,
            ),
            "Heartbeat timeout 10 is invalid: it must be between 30 and 7200 seconds.",
        );
        err(
            put_lifecycle_hook("x", &g, None, None, None, None, None, None, None),
            "The request must contain the parameter LifecycleTransition",
        );
        let zone = g.zones[0].clone();
        let mut inst = GroupInstance::launched("i-1", &zone, &g, None, "t2.micro", t0());
        inst.lifecycle_state = LifecycleState::PendingWait;
        let action = LifecycleAction::new(&short, "i-1", "tok".into(), t0());
        assert_eq!(action.store_key(), "i-1/drain");
        let done = complete_lifecycle_action(&action, &inst, "ABANDON").unwrap();
        assert_eq!(done.result.as_deref(), Some("ABANDON"));
        assert!(complete_lifecycle_action(&done, &inst, "CONTINUE").is_err(), "no longer active");
        assert!(complete_lifecycle_action(&action, &inst, "MAYBE").is_err());
        inst.lifecycle_state = LifecycleState::InService;
        assert!(complete_lifecycle_action(&action, &inst, "CONTINUE").is_err());
    }

    #[test]
    fn every_hook_must_continue_and_one_abandon_ends_the_wait() {
        let g = group();
        let hook = |name: &str, heartbeat: i64, default: &str| {
            let t = Some("autoscaling:EC2_INSTANCE_LAUNCHING");
            put_lifecycle_hook(name, &g, None, t, Some(heartbeat), Some(default), None, None, None)
                .unwrap()
        };
        let (a, b) = (hook("a", 30, "CONTINUE"), hook("b", 60, "ABANDON"));
        let open =
            |h: &LifecycleHook| LifecycleAction::new(h, "i-1", format!("tok-{}", h.name), t0());
        let done =
            |h: &LifecycleHook, r: &str| LifecycleAction { result: Some(r.into()), ..open(h) };
        let at = |s: i64| t0() + Duration::seconds(s);
        let check =
            |actions: &[(LifecycleAction, Option<&LifecycleHook>)], now, want: HoldVerdict| {
                let pairs: Vec<(&LifecycleAction, Option<&LifecycleHook>)> =
                    actions.iter().map(|(x, h)| (x, *h)).collect();
                assert_eq!(hold_verdict(&pairs, now), want, "{actions:?}");
            };
        let abandon_b = HoldVerdict::Abandon { token: "tok-b".into() };
        check(&[(open(&a), Some(&a)), (open(&b), Some(&b))], at(10), HoldVerdict::Wait);
        // One hook done, the other still open: wait.
        check(&[(done(&a, "CONTINUE"), Some(&a)), (open(&b), Some(&b))], at(10), HoldVerdict::Wait);
        check(
            &[(done(&a, "CONTINUE"), Some(&a)), (done(&b, "CONTINUE"), Some(&b))],
            at(10),
            HoldVerdict::Proceed,
        );
        // An ABANDON ends it at once, whatever else is open.
        check(&[(open(&a), Some(&a)), (done(&b, "ABANDON"), Some(&b))], at(10), abandon_b.clone());
        // Timeouts give each hook's DefaultResult: a's CONTINUE at 30 s, b's ABANDON at 60 s.
        check(&[(open(&a), Some(&a)), (open(&b), Some(&b))], at(30), HoldVerdict::Wait);
        check(&[(open(&a), Some(&a)), (open(&b), Some(&b))], at(60), abandon_b);
        check(&[(open(&a), Some(&a))], at(30), HoldVerdict::Proceed);
        // A deleted hook no longer holds; no hooks at all: proceed.
        check(&[(open(&b), None)], at(10), HoldVerdict::Proceed);
        check(&[], at(0), HoldVerdict::Proceed);
    }

    #[test]
    fn refresh_rules() {
        let g = group();
        let p = RefreshPreferences::default();
        let r = start_instance_refresh(&g, None, p.clone(), None, "r1", t0()).unwrap();
        assert_eq!(r.status, RefreshStatus::Pending);
        let e = start_instance_refresh(&g, Some(&r), p.clone(), None, "r2", t0()).unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("InstanceRefreshInProgress", "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh."));
        fn check(edit: impl Fn(&mut RefreshPreferences), want: Option<&str>) {
            let mut p = RefreshPreferences::default();
            edit(&mut p);
            assert_eq!(validate_preferences(&p).err().map(|e| e.message), want.map(str::to_string));
        }
        check(|_| {}, None);
        check(
            |p| p.max_healthy_percentage = 201,
            Some("MaxHealthyPercentage must be between 100 and 200."),
        );
        check(|p| { p.min_healthy_percentage = 0; p.max_healthy_percentage = 150 }, Some("The difference between MaxHealthyPercentage and MinHealthyPercentage cannot be greater than 100."));
        check(
            |p| p.checkpoint_percentages = vec![50, 20],
            Some("CheckpointPercentages must be in ascending order, each between 1 and 100."),
        );
        fn batch(desired: u32, min: u32, max: u32, want: (bool, u32)) {
            let p = RefreshPreferences {
                min_healthy_percentage: min,
                max_healthy_percentage: max,
                ..Default::default()
            };
            assert_eq!(refresh_batch(desired, &p), want, "{desired} {min} {max}");
        }
        batch(10, 90, 100, (false, 1));
        batch(10, 50, 100, (false, 5));
        batch(1, 90, 100, (false, 1));
        batch(10, 100, 110, (true, 1));
        batch(10, 100, 200, (true, 10));
        assert_eq!(refresh_warmup(&g, &p), 0);
    }
}
