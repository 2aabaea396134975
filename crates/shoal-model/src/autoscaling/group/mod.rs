//! Auto Scaling groups and their instances: the stored types, AWS's defaults and the
//! Create/Update/SetDesiredCapacity/Delete/TerminateInstance rules with AWS's texts.
//!
//! Here: the stored types and AWS's defaults; `operations`: each operation's rules.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::activity::cause;
use super::mixed::{self, MixedInstancesPolicy, MixedInstancesPolicyRequest};
use crate::{AwsError, AwsResult};

mod operations;

#[cfg(test)]
use operations::validate_tags;
pub use operations::{
    activity_in_progress, begin_delete, change_tags, create_group, force_delete_cause,
    group_already_exists, group_not_found, name_not_found_null, resume_processes,
    set_desired_capacity, set_instance_health, suspend_processes, terminate_instance, update_group,
    validate_launch_template, validate_max_instance_lifetime, validate_name, validate_sizes,
    CreateGroupRequest, UpdateGroupRequest, ONE_LAUNCH_SOURCE,
};

/// `arn:aws:autoscaling:<region>:123456789012:autoScalingGroup:<uuid>:autoScalingGroupName/<name>`.
pub fn group_arn(region: &str, uuid: &str, name: &str) -> String {
    format!(
        "arn:aws:autoscaling:{region}:{}:autoScalingGroup:{uuid}:autoScalingGroupName/{name}",
        crate::ACCOUNT_ID
    )
}

use crate::ec2::launch_template::LaunchTemplateSpec;

/// A launch template version selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    Default,
    Latest,
    Number(u64),
}

impl VersionSelector {
    /// Parses `$Default`, `$Latest` or a positive number.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "$Default" => Some(Self::Default),
            "$Latest" => Some(Self::Latest),
            n => n.parse().ok().filter(|v| *v > 0).map(Self::Number),
        }
    }
}

/// The launch template an instance was launched from, resolved to a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplateRef {
    pub launch_template_id: String,
    pub launch_template_name: String,
    pub version: String,
}

/// `HealthCheckType`: EC2 is always on; `ELB` adds the target groups' verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum HealthCheckType {
    #[default]
    Ec2,
    Elb,
}

impl HealthCheckType {
    /// Parses `EC2` / `ELB` with AWS's rejection text for anything else.
    pub fn parse(s: &str) -> AwsResult<Self> {
        match s {
            "EC2" => Ok(Self::Ec2),
            "ELB" => Ok(Self::Elb),
            other => Err(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'healthCheckType' failed to satisfy constraint: Member must satisfy enum value set: [EC2, ELB]"
            ))),
        }
    }
    /// `EC2` / `ELB`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ec2 => "EC2",
            Self::Elb => "ELB",
        }
    }
}

/// `LoadBalancerTargetGroupState.State` of a target group attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttachmentState {
    /// Instances are being registered.
    Adding,
    /// All instances registered.
    Added,
    /// At least one instance passed the ELB health check (immediate when the target
    /// group was given at create).
    InService,
    /// Instances are being deregistered.
    Removing,
    /// All instances deregistered.
    Removed,
}

impl AttachmentState {
    /// `Adding`, `Added`, `InService`, `Removing`, `Removed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Adding => "Adding",
            Self::Added => "Added",
            Self::InService => "InService",
            Self::Removing => "Removing",
            Self::Removed => "Removed",
        }
    }
}

/// A target group the group is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroupAttachment {
    pub target_group_arn: String,
    pub state: AttachmentState,
}

/// A group tag (`ResourceType` is always `auto-scaling-group`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTag {
    pub key: String,
    pub value: String,
    pub propagate_at_launch: bool,
}

/// A termination policy; a Lambda function ARN is a custom policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TerminationPolicy {
    Default,
    OldestInstance,
    NewestInstance,
    OldestLaunchTemplate,
    OldestLaunchConfiguration,
    ClosestToNextInstanceHour,
    AllocationStrategy,
    Lambda(String),
}

impl TerminationPolicy {
    /// Parses a policy name or a Lambda ARN.
    pub fn parse(s: &str) -> AwsResult<Self> {
        Ok(match s {
            "Default" => Self::Default,
            "OldestInstance" => Self::OldestInstance,
            "NewestInstance" => Self::NewestInstance,
            "OldestLaunchTemplate" => Self::OldestLaunchTemplate,
            "OldestLaunchConfiguration" => Self::OldestLaunchConfiguration,
            "ClosestToNextInstanceHour" => Self::ClosestToNextInstanceHour,
            "AllocationStrategy" => Self::AllocationStrategy,
            arn if arn.starts_with("arn:aws:lambda:") => Self::Lambda(arn.to_string()),
            other => {
                return Err(AwsError::validation(format!(
                    "Termination policy {other} is not a valid termination policy."
                )))
            }
        })
    }
    /// The wire name (or the Lambda ARN).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Default => "Default",
            Self::OldestInstance => "OldestInstance",
            Self::NewestInstance => "NewestInstance",
            Self::OldestLaunchTemplate => "OldestLaunchTemplate",
            Self::OldestLaunchConfiguration => "OldestLaunchConfiguration",
            Self::ClosestToNextInstanceHour => "ClosestToNextInstanceHour",
            Self::AllocationStrategy => "AllocationStrategy",
            Self::Lambda(arn) => arn,
        }
    }
}

/// The processes SuspendProcesses can stop.
pub const SCALING_PROCESSES: &[&str] = &[
    "Launch",
    "Terminate",
    "AddToLoadBalancer",
    "AlarmNotification",
    "AZRebalance",
    "HealthCheck",
    "InstanceRefresh",
    "ReplaceUnhealthy",
    "ScheduledActions",
];

/// A suspended process with AWS's reason text (`User suspended at <time>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspendedProcess {
    pub process_name: String,
    pub suspension_reason: String,
}

/// An `EnableMetricsCollection` metric with granularity `1Minute`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnabledMetric {
    pub metric: String,
    pub granularity: String,
}

/// A subnet of `VPCZoneIdentifier` with its AZ, in the order the user gave (launch
/// tie-breaks follow it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSubnet {
    pub subnet_id: String,
    pub availability_zone: String,
}

/// An instance's `LifecycleState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LifecycleState {
    Pending,
    PendingWait,
    PendingProceed,
    InService,
    Terminating,
    TerminatingWait,
    TerminatingProceed,
    Terminated,
    Detaching,
    Detached,
    EnteringStandby,
    Standby,
}

impl LifecycleState {
    /// The wire name (`Pending:Wait`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::PendingWait => "Pending:Wait",
            Self::PendingProceed => "Pending:Proceed",
            Self::InService => "InService",
            Self::Terminating => "Terminating",
            Self::TerminatingWait => "Terminating:Wait",
            Self::TerminatingProceed => "Terminating:Proceed",
            Self::Terminated => "Terminated",
            Self::Detaching => "Detaching",
            Self::Detached => "Detached",
            Self::EnteringStandby => "EnteringStandby",
            Self::Standby => "Standby",
        }
    }
    /// Launching: counted in the group's capacity but not yet serving.
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Pending | Self::PendingWait | Self::PendingProceed)
    }
    /// Counted toward the group's capacity (desired vs actual): pending and in-service
    /// instances. Standby, detaching and terminating ones are not.
    pub fn counts_toward_capacity(&self) -> bool {
        self.is_pending() || *self == Self::InService
    }
    /// On its way out.
    pub fn is_terminating(&self) -> bool {
        matches!(self, Self::Terminating | Self::TerminatingWait | Self::TerminatingProceed)
    }
}

/// An instance's `HealthStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    /// `Healthy` / `Unhealthy`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Healthy => "Healthy",
            Self::Unhealthy => "Unhealthy",
        }
    }
}

/// Why an instance was marked unhealthy; selects the activity cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnhealthyReason {
    /// EC2 state not `running`.
    Ec2,
    /// A target group reported it unhealthy.
    Elb,
    /// SetInstanceHealth.
    User,
}

/// One instance of a group (DescribeAutoScalingInstances).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupInstance {
    pub instance_id: String,
    pub availability_zone: String,
    pub subnet_id: Option<String>,
    pub lifecycle_state: LifecycleState,
    pub health_status: HealthStatus,
    pub unhealthy_reason: Option<UnhealthyReason>,
    pub protected_from_scale_in: bool,
    pub launch_template: Option<LaunchTemplateRef>,
    pub launch_configuration_name: Option<String>,
    /// When its launch configuration was created (not on the wire): the
    /// `OldestLaunchConfiguration` order, kept even after the configuration is deleted.
    #[serde(default)]
    pub launch_configuration_created: Option<DateTime<Utc>>,
    pub instance_type: String,
    pub launched_at: DateTime<Utc>,
    pub in_service_at: Option<DateTime<Utc>>,
    /// The activity launching or terminating this instance while it is open (not on
    /// the wire; the controller finishes it).
    #[serde(default)]
    pub activity_id: Option<String>,
}

impl GroupInstance {
    /// A just-launched instance: `Pending`, `Healthy`, protected if the group protects
    /// new instances.
    pub fn launched(
        instance_id: impl Into<String>,
        zone: &ZoneSubnet,
        group: &AutoScalingGroup,
        launch_template: Option<LaunchTemplateRef>,
        instance_type: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        GroupInstance {
            instance_id: instance_id.into(),
            availability_zone: zone.availability_zone.clone(),
            subnet_id: Some(zone.subnet_id.clone()),
            lifecycle_state: LifecycleState::Pending,
            health_status: HealthStatus::Healthy,
            unhealthy_reason: None,
            protected_from_scale_in: group.new_instances_protected_from_scale_in,
            launch_template,
            launch_configuration_name: group.launch_configuration_name.clone(),
            launch_configuration_created: None,
            instance_type: instance_type.into(),
            launched_at: now,
            in_service_at: None,
            activity_id: None,
        }
    }
}

/// An Auto Scaling group as stored (and as DescribeAutoScalingGroups shows it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoScalingGroup {
    pub name: String,
    pub arn: String,
    /// At most one of `launch_template`, `launch_configuration_name` and
    /// `mixed_instances_policy` is set: what the group launches from.
    pub launch_template: Option<LaunchTemplateSpec>,
    pub launch_configuration_name: Option<String>,
    /// `MixedInstancesPolicy`, whole, with AWS's distribution defaults (Shoal launches
    /// its highest-priority override).
    pub mixed_instances_policy: Option<MixedInstancesPolicy>,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    pub default_cooldown: u32,
    /// Enabled subnets and their zones, in the user's order.
    pub zones: Vec<ZoneSubnet>,
    pub health_check_type: HealthCheckType,
    pub health_check_grace_period: u32,
    pub target_groups: Vec<TargetGroupAttachment>,
    pub tags: Vec<GroupTag>,
    pub termination_policies: Vec<TerminationPolicy>,
    pub default_instance_warmup: Option<u32>,
    pub new_instances_protected_from_scale_in: bool,
    pub max_instance_lifetime: Option<u32>,
    pub capacity_rebalance: bool,
    pub suspended_processes: Vec<SuspendedProcess>,
    pub enabled_metrics: Vec<EnabledMetric>,
    pub created_time: DateTime<Utc>,
    /// `Delete in progress` while a delete runs; otherwise absent.
    pub status: Option<String>,
    pub instances: Vec<GroupInstance>,
    /// Cause sentence of the last desired-capacity change, prefixed to the cause of
    /// the launches/terminations that follow (AWS chains them: `At T1 a user request …
    /// changing the desired capacity from 1 to 2.  At T2 an instance was started …`).
    pub pending_cause: Option<String>,
    /// Simple scaling cooldown: no simple policy runs before this time.
    pub cooldown_until: Option<DateTime<Utc>>,
    /// A simple policy ran and its cooldown (these many seconds) waits for the scaling
    /// activities it caused to finish: AWS counts the cooldown from their completion,
    /// and refuses further simple scaling meanwhile.
    pub cooldown_pending: Option<u32>,
}

impl AutoScalingGroup {
    /// The launch template the group launches from: its own `LaunchTemplate`, or its
    /// mixed instances policy's. `None` for a group with a launch configuration.
    pub fn launch_template_spec(&self) -> Option<&LaunchTemplateSpec> {
        self.launch_template
            .as_ref()
            .or(self.mixed_instances_policy.as_ref().map(|p| &p.launch_template))
    }

    /// What the group launches from, in words for the CLI: `template <name>:<version>`
    /// (with `(mixed: <types>)` for a mixed instances policy) or `launch configuration
    /// <name>`.
    pub fn launch_source_text(&self) -> String {
        if let Some(lc) = &self.launch_configuration_name {
            return format!("launch configuration {lc}");
        }
        let Some(t) = self.launch_template_spec() else { return "-".into() };
        let name = t.name.as_deref().or(t.id.as_deref());
        let mut text = format!("template {}:{}", name.unwrap_or(""), t.version_or_default());
        if let Some(p) = &self.mixed_instances_policy {
            let types: Vec<&str> =
                p.overrides.iter().filter_map(|o| o.instance_type.as_deref()).collect();
            text.push_str(&format!(" (mixed: {})", types.join(", ")));
        }
        text
    }

    /// The distinct AZs, in the user's subnet order (`AvailabilityZones`).
    pub fn availability_zones(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for z in &self.zones {
            if !out.contains(&z.availability_zone) {
                out.push(z.availability_zone.clone());
            }
        }
        out
    }

    /// `VPCZoneIdentifier`: the subnets, comma-separated.
    pub fn vpc_zone_identifier(&self) -> String {
        self.zones.iter().map(|z| z.subnet_id.as_str()).collect::<Vec<_>>().join(",")
    }

    /// True when `process` is suspended.
    pub fn is_suspended(&self, process: &str) -> bool {
        self.suspended_processes.iter().any(|p| p.process_name == process)
    }

    /// The target groups an instance entering service is registered with: every
    /// attachment not being removed — none while `AddToLoadBalancer` is suspended. AWS
    /// launches such instances without registering them, and resuming does not register
    /// them afterwards (only instances launched after the resume are).
    pub fn target_groups_to_register(&self) -> Vec<String> {
        if self.is_suspended("AddToLoadBalancer") {
            return vec![];
        }
        self.target_groups
            .iter()
            .filter(|t| !matches!(t.state, AttachmentState::Removing | AttachmentState::Removed))
            .map(|t| t.target_group_arn.clone())
            .collect()
    }

    /// Instances counted in the group's capacity (pending + in service).
    pub fn capacity(&self) -> u32 {
        self.instances.iter().filter(|i| i.lifecycle_state.counts_toward_capacity()).count() as u32
    }

    /// True while the simple-scaling cooldown holds: from a simple policy's run until
    /// its activities have finished and then its cooldown has passed.
    pub fn in_cooldown(&self, now: DateTime<Utc>) -> bool {
        self.cooldown_pending.is_some() || self.cooldown_until.is_some_and(|t| now < t)
    }

    /// The instance warmup a policy uses: the policy's EstimatedInstanceWarmup, else
    /// DefaultInstanceWarmup, else DefaultCooldown (AWS's fallback chain).
    pub fn warmup_seconds(&self, policy_warmup: Option<u32>) -> u32 {
        policy_warmup.or(self.default_instance_warmup).unwrap_or(self.default_cooldown)
    }

    /// True while `inst` is warming up: pending, or in service for less than
    /// `warmup` seconds. Warming instances are left out of the group's metric and
    /// block target-tracking scale-in.
    pub fn is_warming(inst: &GroupInstance, warmup: u32, now: DateTime<Utc>) -> bool {
        match inst.lifecycle_state {
            s if s.is_pending() => true,
            LifecycleState::InService => {
                let since = inst.in_service_at.unwrap_or(inst.launched_at);
                now < since + chrono::Duration::seconds(i64::from(warmup))
            }
            _ => false,
        }
    }

    /// Tags propagated to instances: the group's `PropagateAtLaunch` tags plus
    /// `aws:autoscaling:groupName`. (The caller merges launch-template tags first; the
    /// group's win.)
    pub fn instance_tags(&self) -> Vec<crate::tags::Tag> {
        let mut tags: Vec<crate::tags::Tag> = self
            .tags
            .iter()
            .filter(|t| t.propagate_at_launch)
            .map(|t| crate::tags::Tag::new(t.key.clone(), t.value.clone()))
            .collect();
        tags.push(crate::tags::Tag::new("aws:autoscaling:groupName", self.name.clone()));
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_rules() {
        let tag = |k: &str, v: &str| GroupTag {
            key: k.into(),
            value: v.into(),
            propagate_at_launch: true,
        };
        for (tags, ok) in [
            (vec![tag("Name", "web ✓")], true),
            (vec![tag("Name", "a\0b")], false),
            (vec![tag("\u{1}", "v")], false),
            (vec![tag("", "v")], false),
            (vec![tag("aws:x", "v")], false),
            ((0..50).map(|i| tag(&format!("k{i}"), "v")).collect(), true),
            ((0..51).map(|i| tag(&format!("k{i}"), "v")).collect(), false),
        ] {
            assert_eq!(validate_tags(&tags).is_ok(), ok, "{tags:?}");
        }
        for (name, ok) in [("web ✓", true), ("a\tb", true), ("a\0b", false), ("\u{FFFF}", false)]
        {
            assert_eq!(validate_name("autoScalingGroupName", name).is_ok(), ok, "{name:?}");
        }
    }
    use chrono::TimeZone;

    pub(crate) fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
    }

    pub(crate) fn lab_request() -> CreateGroupRequest {
        CreateGroupRequest {
            name: "EXERCISE-GROUP".into(),
            launch_template: Some(LaunchTemplateSpec {
                id: None,
                name: Some("exercise-launch-template".into()),
                version: Some("$Default".into()),
            }),
            min_size: Some(1),
            max_size: Some(2),
            zones: vec![
                ZoneSubnet { subnet_id: "subnet-a".into(), availability_zone: "us-east-1a".into() },
                ZoneSubnet { subnet_id: "subnet-b".into(), availability_zone: "us-east-1b".into() },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn create_defaults_and_texts() {
        let g = create_group(&lab_request(), false, "us-east-1", "uuid-1", t0()).unwrap();
        assert_eq!(g.arn, "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid-1:autoScalingGroupName/EXERCISE-GROUP");
        assert_eq!((g.min_size, g.max_size, g.desired_capacity), (1, 2, 1));
        assert_eq!(g.default_cooldown, 300);
        assert_eq!(g.health_check_grace_period, 0);
        assert_eq!(g.health_check_type, HealthCheckType::Ec2);
        assert_eq!(g.termination_policies, vec![TerminationPolicy::Default]);
        assert_eq!(g.availability_zones(), vec!["us-east-1a", "us-east-1b"]);
        assert_eq!(g.vpc_zone_identifier(), "subnet-a,subnet-b");
        assert_eq!(
            g.pending_cause.as_deref(),
            Some("At 2026-11-25T10:00:00Z a user request created an AutoScalingGroup changing the desired capacity from 0 to 1.")
        );
    }

    #[test]
    fn create_validation() {
        fn check(edit: impl Fn(&mut CreateGroupRequest), exists: bool, want: (&str, &str)) {
            let mut r = lab_request();
            edit(&mut r);
            let e = create_group(&r, exists, "us-east-1", "u", t0()).unwrap_err();
            assert_eq!((e.code.as_str(), e.message.as_str()), want);
        }
        check(
            |r| r.desired_capacity = Some(3),
            false,
            (
                "ValidationError",
                "Desired capacity:3 must be between the specified min size:1 and max size:2",
            ),
        );
        check(
            |r| r.min_size = Some(5),
            false,
            ("ValidationError", "Max bound, 2, must be greater than or equal to min bound, 5"),
        );
        check(|_| {}, true, ("AlreadyExists", "AutoScalingGroup by this name already exists - A group with the name EXERCISE-GROUP already exists"));
        check(|r| r.launch_template = None, false, ("ValidationError", "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter."));
        check(
            |r| r.launch_template.as_mut().unwrap().id = Some("lt-1".into()),
            false,
            (
                "ValidationError",
                "Valid requests must contain either LaunchTemplateId or LaunchTemplateName",
            ),
        );
        check(|r| r.max_instance_lifetime = Some(3600), false, ("ValidationError", "The maximum instance lifetime must be 0 or greater than or equal to 86400 seconds (1 day)."));
        check(
            |r| r.zones.clear(),
            false,
            ("ValidationError", "At least one Availability Zone or VPC Subnet is required."),
        );
        check(|r| r.name = String::new(), false, ("ValidationError", "1 validation error detected: Value '' at 'autoScalingGroupName' failed to satisfy constraint: Member must have length greater than or equal to 1"));
        check(
            |r| r.min_size = None,
            false,
            ("MissingParameter", "The request must contain the parameter MinSize"),
        );
    }

    #[test]
    fn exactly_one_launch_source() {
        let lc = |r: &mut CreateGroupRequest| {
            r.launch_template = None;
            r.launch_configuration_name = Some("web-lc".into());
        };
        let mut r = lab_request();
        lc(&mut r);
        let g = create_group(&r, false, "us-east-1", "u", t0()).unwrap();
        assert_eq!(g.launch_configuration_name.as_deref(), Some("web-lc"));
        assert_eq!(g.launch_template_spec(), None);
        assert_eq!(g.launch_source_text(), "launch configuration web-lc");

        let mixed = MixedInstancesPolicyRequest {
            launch_template: lab_request().launch_template,
            overrides: Some(vec![mixed::LaunchTemplateOverride {
                instance_type: Some("t3.micro".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let mut r = lab_request();
        r.launch_template = None;
        r.mixed_instances_policy = Some(mixed.clone());
        let g = create_group(&r, false, "us-east-1", "u", t0()).unwrap();
        assert_eq!(g.launch_template, None, "the policy's template is not the group's own");
        assert_eq!(g.launch_template_spec(), lab_request().launch_template.as_ref());
        let p = g.mixed_instances_policy.as_ref().unwrap();
        assert_eq!(p.instances_distribution.on_demand_allocation_strategy, "prioritized");
        assert_eq!(
            g.launch_source_text(),
            "template exercise-launch-template:$Default (mixed: t3.micro)"
        );

        for both in [
            |r: &mut CreateGroupRequest| r.launch_configuration_name = Some("web-lc".into()),
            |r: &mut CreateGroupRequest| r.instance_id = Some("i-1".into()),
        ] {
            let mut r = lab_request();
            both(&mut r);
            let e = create_group(&r, false, "us-east-1", "u", t0()).unwrap_err();
            assert_eq!(e.message, ONE_LAUNCH_SOURCE);
        }

        // Update: moving to another source clears the old one; two at once is refused
        // and changes nothing.
        let mut g = create_group(&lab_request(), false, "us-east-1", "u", t0()).unwrap();
        let before = g.clone();
        let two = UpdateGroupRequest {
            launch_configuration_name: Some("web-lc".into()),
            launch_template: lab_request().launch_template,
            ..Default::default()
        };
        assert_eq!(update_group(&mut g, &two, t0()).unwrap_err().message, ONE_LAUNCH_SOURCE);
        let bad_weight = UpdateGroupRequest {
            mixed_instances_policy: Some(MixedInstancesPolicyRequest {
                overrides: Some(vec![mixed::LaunchTemplateOverride {
                    instance_type: Some("t3.micro".into()),
                    weighted_capacity: Some("0".into()),
                    ..Default::default()
                }]),
                ..mixed.clone()
            }),
            ..Default::default()
        };
        assert!(update_group(&mut g, &bad_weight, t0()).is_err());
        assert_eq!(g, before);
        let to_lc = UpdateGroupRequest {
            launch_configuration_name: Some("web-lc".into()),
            ..Default::default()
        };
        update_group(&mut g, &to_lc, t0()).unwrap();
        assert_eq!(
            (g.launch_template.as_ref(), g.launch_configuration_name.as_deref()),
            (None, Some("web-lc"))
        );
        let to_mixed =
            UpdateGroupRequest { mixed_instances_policy: Some(mixed), ..Default::default() };
        update_group(&mut g, &to_mixed, t0()).unwrap();
        assert_eq!(g.launch_configuration_name, None);
        assert!(g.mixed_instances_policy.is_some());
        // Only the distribution: the rest of the policy stays.
        let distribution = UpdateGroupRequest {
            mixed_instances_policy: Some(MixedInstancesPolicyRequest {
                on_demand_base_capacity: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        };
        update_group(&mut g, &distribution, t0()).unwrap();
        let p = g.mixed_instances_policy.as_ref().unwrap();
        assert_eq!((p.instances_distribution.on_demand_base_capacity, p.overrides.len()), (1, 1));
    }

    #[test]
    fn update_implicit_desired_and_cause() {
        fn check(
            start: (u32, u32, u32),
            req: UpdateGroupRequest,
            want: Result<(u32, u32, u32, Option<&str>), &str>,
        ) {
            let mut g = create_group(&lab_request(), false, "us-east-1", "u", t0()).unwrap();
            (g.min_size, g.max_size, g.desired_capacity) = start;
            let before = g.clone();
            match (update_group(&mut g, &req, t0()), want) {
                (Ok(c), Ok((min, max, d, cause))) => {
                    assert_eq!((g.min_size, g.max_size, g.desired_capacity), (min, max, d));
                    assert_eq!(c.as_deref(), cause);
                }
                (Err(e), Err(msg)) => {
                    assert_eq!(e.message, msg);
                    assert_eq!(g, before, "a rejected update changes nothing");
                }
                (got, want) => panic!("got {got:?}, want {want:?}"),
            }
        }
        let sizes = |min: Option<i64>, max: Option<i64>, d: Option<i64>| UpdateGroupRequest {
            min_size: min,
            max_size: max,
            desired_capacity: d,
            ..Default::default()
        };
        check((1, 2, 2), sizes(Some(0), Some(0), Some(0)), Ok((0, 0, 0, Some("At 2026-11-25T10:00:00Z a user request update of AutoScalingGroup constraints to min: 0, max: 0, desired: 0 changing the desired capacity from 2 to 0."))));
        check((0, 0, 0), sizes(Some(1), Some(2), None), Ok((1, 2, 1, Some("At 2026-11-25T10:00:00Z a user request update of AutoScalingGroup constraints to min: 1, max: 2 changing the desired capacity from 0 to 1."))));
        check((1, 4, 3), sizes(None, Some(2), None), Ok((1, 2, 2, Some("At 2026-11-25T10:00:00Z a user request update of AutoScalingGroup constraints to max: 2 changing the desired capacity from 3 to 2."))));
        check((1, 2, 1), sizes(None, Some(3), None), Ok((1, 3, 1, None)));
        check(
            (1, 2, 1),
            sizes(Some(3), None, None),
            Err("Max bound, 2, must be greater than or equal to min bound, 3"),
        );
        check(
            (1, 2, 1),
            sizes(None, None, Some(5)),
            Err("Desired capacity:5 must be between the specified min size:1 and max size:2"),
        );
    }

    #[test]
    fn set_desired_texts() {
        fn check(d: i64, want: Result<Option<&str>, &str>) {
            let mut g = create_group(&lab_request(), false, "us-east-1", "u", t0()).unwrap();
            match (set_desired_capacity(&mut g, d, false, None, t0()), want) {
                (Ok(c), Ok(w)) => assert_eq!(c.as_deref(), w),
                (Err(e), Err(w)) => assert_eq!(e.message, w),
                (g, w) => panic!("got {g:?}, want {w:?}"),
            }
        }
        check(
            3,
            Err("New SetDesiredCapacity value 3 is above max value 2 for the AutoScalingGroup."),
        );
        check(
            0,
            Err("New SetDesiredCapacity value 0 is below min value 1 for the AutoScalingGroup."),
        );
        check(2, Ok(Some("At 2026-11-25T10:00:00Z a user request explicitly set group desired capacity changing the desired capacity from 1 to 2.")));
        check(1, Ok(None));

        // HonorCooldown: refused while a simple policy's activities run and during its
        // cooldown after them, changing nothing; ignored without HonorCooldown.
        let mut g = create_group(&lab_request(), false, "us-east-1", "u", t0()).unwrap();
        let later = |s: i64| t0() + chrono::Duration::seconds(s);
        for (pending, until, at, refused) in [
            (Some(60), None, t0(), true),
            (None, Some(later(60)), later(59), true),
            (None, Some(later(60)), later(60), false),
        ] {
            g.cooldown_pending = pending;
            g.cooldown_until = until;
            let before = g.clone();
            match set_desired_capacity(&mut g, 2, true, Some("a-1"), at) {
                Err(e) => {
                    assert!(refused, "{pending:?} {until:?} at {at}");
                    assert_eq!(
                        (e.code.as_str(), e.message.as_str()),
                        (
                            "ScalingActivityInProgress",
                            "Scaling activity a-1 is in progress and blocks this action"
                        )
                    );
                    assert_eq!(g, before);
                    assert!(set_desired_capacity(&mut g.clone(), 2, false, None, at).is_ok());
                }
                Ok(_) => assert!(!refused && g.desired_capacity == 2),
            }
        }
    }

    #[test]
    fn delete_and_terminate_rules() {
        let mut g = create_group(&lab_request(), false, "us-east-1", "u", t0()).unwrap();
        let zone = g.zones[0].clone();
        let inst = GroupInstance::launched("i-1", &zone, &g, None, "t2.micro", t0());
        g.instances.push(inst);
        let e = begin_delete(&mut g.clone(), false).unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances still in the group."));
        let e = terminate_instance(&mut g.clone(), "i-1", true, t0()).unwrap_err();
        assert_eq!(e.message, "Currently, desiredCapacity is 1 and minSize is 1. Terminating instance without replacement will violate group's min size constraint.");
        assert_eq!(
            terminate_instance(&mut g.clone(), "i-1", false, t0()).unwrap(),
            "At 2026-11-25T10:00:00Z instance i-1 was taken out of service in response to a user request."
        );
        g.max_size = 3;
        g.desired_capacity = 2;
        assert_eq!(
            terminate_instance(&mut g, "i-1", true, t0()).unwrap(),
            "At 2026-11-25T10:00:00Z instance i-1 was taken out of service in response to a user request, shrinking the capacity from 2 to 1."
        );
        assert_eq!(g.desired_capacity, 1);
        // Without force, any instance refuses the delete — a standby one too.
        g.instances[0].lifecycle_state = LifecycleState::Standby;
        let before = g.clone();
        let refused = begin_delete(&mut g, false).unwrap_err();
        assert_eq!((refused.code.as_str(), &g), ("ResourceInUse", &before));
        assert!(begin_delete(&mut g, true).unwrap());
        assert_eq!(g.status.as_deref(), Some("Delete in progress"));
        assert_eq!((g.min_size, g.max_size, g.desired_capacity), (0, 0, 0));
        assert_eq!(
            force_delete_cause(1, 1, &["i-2".into()], t0()),
            "At 2026-11-25T10:00:00Z a user request update of AutoScalingGroup constraints to min: 0, max: 0, desired: 0 changing the desired capacity from 1 to 0.  At 2026-11-25T10:00:00Z an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from 1 to 0.  At 2026-11-25T10:00:00Z instance i-2 was selected for termination."
        );
    }

    #[test]
    fn processes_and_health() {
        let mut g = create_group(&lab_request(), false, "us-east-1", "u", t0()).unwrap();
        suspend_processes(&mut g, &["AZRebalance".into()], t0()).unwrap();
        assert!(g.is_suspended("AZRebalance"));
        assert_eq!(
            g.suspended_processes[0].suspension_reason,
            "User suspended at 2026-11-25T10:00:00Z"
        );
        assert!(suspend_processes(&mut g, &["Nope".into()], t0()).is_err());
        resume_processes(&mut g, &[]);
        assert!(g.suspended_processes.is_empty());
        // AddToLoadBalancer: new instances join no target group while it is suspended.
        let attach =
            |arn: &str, state| TargetGroupAttachment { target_group_arn: arn.into(), state };
        g.target_groups = vec![
            attach("tg-1", AttachmentState::InService),
            attach("tg-2", AttachmentState::Removing),
        ];
        assert_eq!(g.target_groups_to_register(), vec!["tg-1".to_string()]);
        suspend_processes(&mut g, &["AddToLoadBalancer".into()], t0()).unwrap();
        assert!(g.target_groups_to_register().is_empty());
        resume_processes(&mut g, &["AddToLoadBalancer".into()]);
        assert_eq!(g.target_groups_to_register(), vec!["tg-1".to_string()]);
        g.target_groups.clear();
        assert!(g.suspended_processes.is_empty());
        g.health_check_grace_period = 300;
        let zone = g.zones[0].clone();
        let mut inst = GroupInstance::launched("i-1", &zone, &g, None, "t2.micro", t0());
        inst.lifecycle_state = LifecycleState::InService;
        inst.in_service_at = Some(t0());
        g.instances.push(inst);
        assert!(
            !set_instance_health(&mut g, "i-1", HealthStatus::Unhealthy, true, t0()).unwrap(),
            "grace respected"
        );
        assert!(set_instance_health(&mut g, "i-1", HealthStatus::Unhealthy, false, t0()).unwrap());
        assert_eq!(g.instances[0].unhealthy_reason, Some(UnhealthyReason::User));
    }
}
