//! The operations on a group — CreateAutoScalingGroup, UpdateAutoScalingGroup,
//! SetDesiredCapacity, tags, DeleteAutoScalingGroup, TerminateInstanceInAutoScalingGroup,
//! SetInstanceHealth, Suspend/ResumeProcesses — as rules over the stored types, with
//! AWS's validation texts.

use super::*;
use crate::ErrorCode;

/// CreateAutoScalingGroup's parameters after wire decoding. Subnets are resolved to
/// their zones by the caller (EC2 owns subnets); `zones` keeps the user's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateGroupRequest {
    pub name: String,
    pub launch_template: Option<LaunchTemplateSpec>,
    pub launch_configuration_name: Option<String>,
    pub mixed_instances_policy: Option<MixedInstancesPolicyRequest>,
    pub instance_id: Option<String>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
    pub desired_capacity: Option<i64>,
    pub default_cooldown: Option<i64>,
    pub zones: Vec<ZoneSubnet>,
    pub health_check_type: Option<String>,
    pub health_check_grace_period: Option<i64>,
    pub target_group_arns: Vec<String>,
    pub tags: Vec<GroupTag>,
    pub termination_policies: Vec<String>,
    pub default_instance_warmup: Option<i64>,
    pub new_instances_protected_from_scale_in: Option<bool>,
    pub max_instance_lifetime: Option<i64>,
    pub capacity_rebalance: Option<bool>,
}

fn name_rule(field: &str, name: &str) -> AwsResult<()> {
    let n = name.chars().count();
    if n == 0 {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )));
    }
    if n > 255 {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must have length less than or equal to 255"
        )));
    }
    // AWS's pattern is exactly XML 1.0's `Char`.
    if !crate::text::is_xml_text(name) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Name rule shared by groups, policies, hooks and scheduled actions: 1–255
/// characters of AWS's `XmlStringMaxLen255` pattern (validation texts are AWS's
/// generated constraint messages).
pub fn validate_name(field: &str, name: &str) -> AwsResult<()> {
    name_rule(field, name)
}

fn non_negative(field: &str, v: i64) -> AwsResult<u32> {
    if v < 0 {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: Member must have value greater than or equal to 0"
        )));
    }
    u32::try_from(v)
        .map_err(|_| AwsError::validation(format!("Value {v} for {field} is too large.")))
}

/// The min ≤ desired ≤ max rules with AWS's observed texts.
pub fn validate_sizes(min: u32, max: u32, desired: u32) -> AwsResult<()> {
    if max < min {
        return Err(AwsError::validation(format!(
            "Max bound, {max}, must be greater than or equal to min bound, {min}"
        )));
    }
    if desired < min || desired > max {
        return Err(AwsError::validation(format!(
            "Desired capacity:{desired} must be between the specified min size:{min} and max size:{max}"
        )));
    }
    Ok(())
}

/// MaxInstanceLifetime: 0 (none) or at least 86,400 seconds (one day).
pub fn validate_max_instance_lifetime(v: i64) -> AwsResult<Option<u32>> {
    if v == 0 {
        return Ok(None);
    }
    if v < 86_400 {
        return Err(AwsError::validation(
            "The maximum instance lifetime must be 0 or greater than or equal to 86400 seconds (1 day).",
        ));
    }
    Ok(Some(non_negative("maxInstanceLifetime", v)?))
}

/// A `LaunchTemplate` specification names a template by id or by name (exactly one) and
/// a version of `$Default`, `$Latest` or a number (AWS's texts).
pub fn validate_launch_template(spec: &LaunchTemplateSpec) -> AwsResult<()> {
    if spec.id.is_some() == spec.name.is_some() {
        return Err(AwsError::validation(
            "Valid requests must contain either LaunchTemplateId or LaunchTemplateName",
        ));
    }
    if let Some(v) = &spec.version {
        if VersionSelector::parse(v).is_none() {
            return Err(AwsError::validation(format!(
                "The launch template version {v} is not valid. Specify $Default, $Latest, or a version number."
            )));
        }
    }
    Ok(())
}

/// The text AWS answers when a request names no launch source, or more than one.
pub const ONE_LAUNCH_SOURCE: &str = "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.";

/// The `AlreadyExists` error of a duplicate group name (AWS's text).
pub fn group_already_exists(name: &str) -> AwsError {
    AwsError::new(
        ErrorCode::AlreadyExists,
        format!("AutoScalingGroup by this name already exists - A group with the name {name} already exists"),
    )
}

/// The `ValidationError` of an unknown group name.
pub fn group_not_found(name: &str) -> AwsError {
    AwsError::validation(format!(
        "AutoScalingGroup name not found - AutoScalingGroup {name} not found"
    ))
}

/// UpdateAutoScalingGroup's and SetDesiredCapacity's `ValidationError` for an unknown
/// group: AWS's text names no group.
pub fn name_not_found_null() -> AwsError {
    AwsError::validation("AutoScalingGroup name not found - null")
}

/// CreateOrUpdateTags (`delete` false) or DeleteTags on one group: a tag is known by
/// its key, so a put replaces the value and `PropagateAtLaunch` of a tag already there.
/// The group must still hold at most 50 tags with valid keys and values afterwards;
/// otherwise the error is returned and the caller keeps the group unchanged.
pub fn change_tags(group: &mut AutoScalingGroup, tags: &[GroupTag], delete: bool) -> AwsResult<()> {
    validate_tags(tags)?;
    for tag in tags {
        group.tags.retain(|t| t.key != tag.key);
        if !delete {
            group.tags.push(tag.clone());
        }
    }
    validate_tags(&group.tags)
}

pub(super) fn validate_tags(tags: &[GroupTag]) -> AwsResult<()> {
    if tags.len() > 50 {
        return Err(AwsError::validation("The number of tags exceeds the limit of 50."));
    }
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{}' at 'tags.member.key' failed to satisfy constraint: Member must have length between 1 and 128",
                t.key
            )));
        }
        if t.value.chars().count() > 256 {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value at 'tags.member.value' for key {} failed to satisfy constraint: Member must have length less than or equal to 256",
                t.key
            )));
        }
        // AWS's pattern for both: XML 1.0 characters.
        if !crate::text::is_xml_text(&t.key) || !crate::text::is_xml_text(&t.value) {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value at 'tags.member.value' for key {} failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*",
                t.key.escape_debug()
            )));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(AwsError::validation(
                "Tag keys starting with 'aws:' are reserved for internal use",
            ));
        }
    }
    Ok(())
}

/// CreateAutoScalingGroup: validates the request and builds the group with AWS's
/// defaults (desired = min, cooldown 300, grace 0, `EC2` checks, `Default`
/// termination policy; target groups given at create start `InService`). `exists` says
/// whether a group of that name exists (→ `AlreadyExists`). On success the group's
/// `pending_cause` holds the creation cause (`a user request created an
/// AutoScalingGroup changing the desired capacity from 0 to N.`).
pub fn create_group(
    req: &CreateGroupRequest,
    exists: bool,
    region: &str,
    uuid: &str,
    now: DateTime<Utc>,
) -> AwsResult<AutoScalingGroup> {
    name_rule("autoScalingGroupName", &req.name)?;
    let sources = usize::from(req.launch_template.is_some())
        + usize::from(req.launch_configuration_name.is_some())
        + usize::from(req.mixed_instances_policy.is_some())
        + usize::from(req.instance_id.is_some());
    if sources != 1 {
        return Err(AwsError::validation(ONE_LAUNCH_SOURCE));
    }
    if let Some(lt) = &req.launch_template {
        validate_launch_template(lt)?;
    }
    if let Some(name) = &req.launch_configuration_name {
        name_rule("launchConfigurationName", name)?;
    }
    let mixed_instances_policy =
        req.mixed_instances_policy.as_ref().map(|m| mixed::build_policy(m, None)).transpose()?;
    let (Some(min), Some(max)) = (req.min_size, req.max_size) else {
        return Err(AwsError::missing_parameter(if req.min_size.is_none() {
            "MinSize"
        } else {
            "MaxSize"
        }));
    };
    let min = non_negative("minSize", min)?;
    let max = non_negative("maxSize", max)?;
    let desired = match req.desired_capacity {
        Some(d) => non_negative("desiredCapacity", d)?,
        None => min,
    };
    validate_sizes(min, max, desired)?;
    if req.zones.is_empty() {
        return Err(AwsError::validation(
            "At least one Availability Zone or VPC Subnet is required.",
        ));
    }
    let health_check_type = match &req.health_check_type {
        Some(t) => HealthCheckType::parse(t)?,
        None => HealthCheckType::Ec2,
    };
    let termination_policies = if req.termination_policies.is_empty() {
        vec![TerminationPolicy::Default]
    } else {
        req.termination_policies
            .iter()
            .map(|p| TerminationPolicy::parse(p))
            .collect::<AwsResult<_>>()?
    };
    validate_tags(&req.tags)?;
    let max_instance_lifetime = match req.max_instance_lifetime {
        Some(v) => validate_max_instance_lifetime(v)?,
        None => None,
    };
    let default_instance_warmup = match req.default_instance_warmup {
        Some(v) => Some(non_negative("defaultInstanceWarmup", v)?),
        None => None,
    };
    if exists {
        return Err(group_already_exists(&req.name));
    }
    let mut seen = Vec::new();
    let mut target_groups = Vec::new();
    for arn in &req.target_group_arns {
        if !seen.contains(arn) {
            seen.push(arn.clone());
            target_groups.push(TargetGroupAttachment {
                target_group_arn: arn.clone(),
                state: AttachmentState::InService,
            });
        }
    }
    Ok(AutoScalingGroup {
        name: req.name.clone(),
        arn: group_arn(region, uuid, &req.name),
        launch_template: req.launch_template.clone(),
        launch_configuration_name: req.launch_configuration_name.clone(),
        mixed_instances_policy,
        min_size: min,
        max_size: max,
        desired_capacity: desired,
        default_cooldown: match req.default_cooldown {
            Some(c) => non_negative("defaultCooldown", c)?,
            None => 300,
        },
        zones: req.zones.clone(),
        health_check_type,
        health_check_grace_period: match req.health_check_grace_period {
            Some(g) => non_negative("healthCheckGracePeriod", g)?,
            None => 0,
        },
        target_groups,
        tags: req.tags.clone(),
        termination_policies,
        default_instance_warmup,
        new_instances_protected_from_scale_in: req
            .new_instances_protected_from_scale_in
            .unwrap_or(false),
        max_instance_lifetime,
        capacity_rebalance: req.capacity_rebalance.unwrap_or(false),
        suspended_processes: vec![],
        enabled_metrics: vec![],
        created_time: now,
        status: None,
        instances: vec![],
        pending_cause: (desired > 0).then(|| cause::at(now, &cause::created(0, desired))),
        cooldown_until: None,
        cooldown_pending: None,
    })
}

/// UpdateAutoScalingGroup's parameters; absent fields are left unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateGroupRequest {
    pub launch_template: Option<LaunchTemplateSpec>,
    pub launch_configuration_name: Option<String>,
    pub mixed_instances_policy: Option<MixedInstancesPolicyRequest>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
    pub desired_capacity: Option<i64>,
    pub default_cooldown: Option<i64>,
    pub zones: Option<Vec<ZoneSubnet>>,
    pub health_check_type: Option<String>,
    pub health_check_grace_period: Option<i64>,
    pub termination_policies: Option<Vec<String>>,
    /// `-1` clears it, as in AWS.
    pub default_instance_warmup: Option<i64>,
    pub new_instances_protected_from_scale_in: Option<bool>,
    pub max_instance_lifetime: Option<i64>,
    pub capacity_rebalance: Option<bool>,
}

/// UpdateAutoScalingGroup. AWS's implicit rules: a new MinSize above the desired
/// capacity raises desired to it; a new MaxSize below it lowers desired to it.
/// Validates everything before changing anything. When desired changes, sets the
/// group's `pending_cause` to AWS's text (`a user request update of AutoScalingGroup
/// constraints to min: 0, max: 0, desired: 0 changing the desired capacity from 2 to
/// 0.`, naming the size fields the request gave) and returns it.
pub fn update_group(
    group: &mut AutoScalingGroup,
    req: &UpdateGroupRequest,
    now: DateTime<Utc>,
) -> AwsResult<Option<String>> {
    if group.status.is_some() {
        return Err(AwsError::new(
            ErrorCode::ScalingActivityInProgress,
            format!("AutoScalingGroup {} is pending delete.", group.name),
        ));
    }
    let sources = usize::from(req.launch_template.is_some())
        + usize::from(req.launch_configuration_name.is_some())
        + usize::from(req.mixed_instances_policy.is_some());
    if sources > 1 {
        return Err(AwsError::validation(ONE_LAUNCH_SOURCE));
    }
    if let Some(lt) = &req.launch_template {
        validate_launch_template(lt)?;
    }
    if let Some(name) = &req.launch_configuration_name {
        name_rule("launchConfigurationName", name)?;
    }
    let mixed_instances_policy = req
        .mixed_instances_policy
        .as_ref()
        .map(|m| mixed::build_policy(m, group.mixed_instances_policy.as_ref()))
        .transpose()?;
    let min = match req.min_size {
        Some(v) => non_negative("minSize", v)?,
        None => group.min_size,
    };
    let max = match req.max_size {
        Some(v) => non_negative("maxSize", v)?,
        None => group.max_size,
    };
    let desired = match req.desired_capacity {
        Some(v) => non_negative("desiredCapacity", v)?,
        None => {
            let mut d = group.desired_capacity;
            if req.min_size.is_some() && min > d {
                d = min;
            }
            if req.max_size.is_some() && max < d {
                d = max;
            }
            d
        }
    };
    validate_sizes(min, max, desired)?;
    let health_check_type =
        req.health_check_type.as_deref().map(HealthCheckType::parse).transpose()?;
    let termination_policies = match &req.termination_policies {
        Some(ps) if !ps.is_empty() => {
            Some(ps.iter().map(|p| TerminationPolicy::parse(p)).collect::<AwsResult<Vec<_>>>()?)
        }
        Some(_) => Some(vec![TerminationPolicy::Default]),
        None => None,
    };
    let max_instance_lifetime =
        req.max_instance_lifetime.map(validate_max_instance_lifetime).transpose()?;
    let warmup = match req.default_instance_warmup {
        Some(-1) => Some(None),
        Some(v) => Some(Some(non_negative("defaultInstanceWarmup", v)?)),
        None => None,
    };
    let cooldown = req.default_cooldown.map(|v| non_negative("defaultCooldown", v)).transpose()?;
    let grace = req
        .health_check_grace_period
        .map(|v| non_negative("healthCheckGracePeriod", v))
        .transpose()?;
    if let Some(z) = &req.zones {
        if z.is_empty() {
            return Err(AwsError::validation(
                "At least one Availability Zone or VPC Subnet is required.",
            ));
        }
    }

    if sources == 1 {
        // The group moves to the one source given; instances keep what they run.
        group.launch_template = req.launch_template.clone();
        group.launch_configuration_name = req.launch_configuration_name.clone();
        group.mixed_instances_policy = mixed_instances_policy;
    }
    let from = group.desired_capacity;
    group.min_size = min;
    group.max_size = max;
    group.desired_capacity = desired;
    if let Some(c) = cooldown {
        group.default_cooldown = c;
    }
    if let Some(z) = &req.zones {
        group.zones = z.clone();
    }
    if let Some(t) = health_check_type {
        group.health_check_type = t;
    }
    if let Some(g) = grace {
        group.health_check_grace_period = g;
    }
    if let Some(p) = termination_policies {
        group.termination_policies = p;
    }
    if let Some(w) = warmup {
        group.default_instance_warmup = w;
    }
    if let Some(p) = req.new_instances_protected_from_scale_in {
        group.new_instances_protected_from_scale_in = p;
    }
    if let Some(l) = max_instance_lifetime {
        group.max_instance_lifetime = l;
    }
    if let Some(c) = req.capacity_rebalance {
        group.capacity_rebalance = c;
    }
    if from == desired {
        return Ok(None);
    }
    let sentence = cause::at(
        now,
        &cause::update_constraints(
            req.min_size.map(|_| min),
            req.max_size.map(|_| max),
            req.desired_capacity.map(|_| desired),
            from,
            desired,
        ),
    );
    group.pending_cause = Some(sentence.clone());
    Ok(Some(sentence))
}

/// `ScalingActivityInProgress` as AWS words it (observed): `Scaling activity <id> is in
/// progress and blocks this action`, naming the group's latest activity.
pub fn activity_in_progress(latest_activity: Option<&str>) -> AwsError {
    let id = latest_activity.map(|id| format!(" {id}")).unwrap_or_default();
    AwsError::new(
        ErrorCode::ScalingActivityInProgress,
        format!("Scaling activity{id} is in progress and blocks this action"),
    )
}

/// SetDesiredCapacity: bounds-checked with AWS's texts; with `honor_cooldown` it is
/// refused ([`activity_in_progress`], naming `latest_activity`) while the
/// simple-scaling cooldown holds ([`AutoScalingGroup::in_cooldown`]).
/// Sets and returns the cause (`a user request explicitly set group desired capacity
/// changing the desired capacity from 1 to 2.`) when desired changes.
pub fn set_desired_capacity(
    group: &mut AutoScalingGroup,
    desired: i64,
    honor_cooldown: bool,
    latest_activity: Option<&str>,
    now: DateTime<Utc>,
) -> AwsResult<Option<String>> {
    if desired > i64::from(group.max_size) {
        return Err(AwsError::validation(format!(
            "New SetDesiredCapacity value {desired} is above max value {} for the AutoScalingGroup.",
            group.max_size
        )));
    }
    if desired < i64::from(group.min_size) {
        return Err(AwsError::validation(format!(
            "New SetDesiredCapacity value {desired} is below min value {} for the AutoScalingGroup.",
            group.min_size
        )));
    }
    if honor_cooldown && group.in_cooldown(now) {
        return Err(activity_in_progress(latest_activity));
    }
    let desired = desired as u32;
    let from = group.desired_capacity;
    if from == desired {
        return Ok(None);
    }
    group.desired_capacity = desired;
    let sentence = cause::at(now, &cause::set_desired(from, desired));
    group.pending_cause = Some(sentence.clone());
    Ok(Some(sentence))
}

/// DeleteAutoScalingGroup precondition: without `force_delete`, a group with
/// instances (in any state but `Terminated`: standby and protected ones count) is
/// `ResourceInUse`. Otherwise min and desired drop to 0 and the group is `Delete in
/// progress`; with force the caller terminates every instance — protected and standby
/// ones too, without waiting for lifecycle hooks, as AWS does. Returns whether
/// instances remain to be terminated.
pub fn begin_delete(group: &mut AutoScalingGroup, force_delete: bool) -> AwsResult<bool> {
    let live = group.instances.iter().any(|i| i.lifecycle_state != LifecycleState::Terminated);
    if live && !force_delete {
        return Err(AwsError::new(
            ErrorCode::ResourceInUse,
            "You cannot delete an AutoScalingGroup while there are instances still in the group.",
        ));
    }
    group.status = Some("Delete in progress".into());
    group.min_size = 0;
    group.max_size = 0;
    group.desired_capacity = 0;
    group.pending_cause = None;
    Ok(live)
}

/// The Cause of the terminations a ForceDelete starts. Reconstructed: AWS records a
/// forced delete as a user update to 0/0/0 followed by a scale-in, so the sentences are
/// the observed ones of that pair — `a user request update of AutoScalingGroup
/// constraints to min: 0, max: 0, desired: 0 changing the desired capacity from 2 to
/// 0.  … an instance was taken out of service in response to a difference between
/// desired and actual capacity, shrinking the capacity from 2 to 0.  … instance i-… was
/// selected for termination.` (one sentence per instance).
pub fn force_delete_cause(
    desired_before: u32,
    capacity_before: u32,
    selected: &[String],
    now: DateTime<Utc>,
) -> String {
    let mut parts = vec![
        cause::at(now, &cause::update_constraints(Some(0), Some(0), Some(0), desired_before, 0)),
        cause::at(now, &cause::capacity_terminate(capacity_before, 0)),
    ];
    parts.extend(selected.iter().map(|id| cause::at(now, &cause::selected_for_termination(id))));
    cause::chain(parts)
}

/// TerminateInstanceInAutoScalingGroup: validates and returns the activity cause.
/// With `decrement`, desired drops by one (refused below MinSize with AWS's text);
/// without it the group launches a replacement. Scale-in protection does not apply.
pub fn terminate_instance(
    group: &mut AutoScalingGroup,
    instance_id: &str,
    decrement: bool,
    now: DateTime<Utc>,
) -> AwsResult<String> {
    let Some(inst) = group.instances.iter().find(|i| i.instance_id == instance_id) else {
        return Err(AwsError::validation(format!(
            "Instance Id not found - No managed instance found for instance ID: {instance_id}"
        )));
    };
    if inst.lifecycle_state.is_terminating() || inst.lifecycle_state == LifecycleState::Terminated {
        return Err(AwsError::new(
            ErrorCode::ScalingActivityInProgress,
            format!("Instance {instance_id} is already being terminated."),
        ));
    }
    let from = group.desired_capacity;
    if decrement {
        if from <= group.min_size {
            return Err(AwsError::validation(format!(
                "Currently, desiredCapacity is {from} and minSize is {}. Terminating instance without replacement will violate group's min size constraint.",
                group.min_size
            )));
        }
        group.desired_capacity -= 1;
        Ok(cause::at(now, &cause::user_terminate(instance_id, Some((from, from - 1)))))
    } else {
        Ok(cause::at(now, &cause::user_terminate(instance_id, None)))
    }
}

/// SetInstanceHealth: marks an instance. With `respect_grace` (AWS's default) an
/// `Unhealthy` report inside the grace period is ignored. Returns true if it changed.
pub fn set_instance_health(
    group: &mut AutoScalingGroup,
    instance_id: &str,
    status: HealthStatus,
    respect_grace: bool,
    now: DateTime<Utc>,
) -> AwsResult<bool> {
    let grace = i64::from(group.health_check_grace_period);
    let Some(inst) = group.instances.iter_mut().find(|i| i.instance_id == instance_id) else {
        return Err(AwsError::validation(format!(
            "Instance Id not found - No managed instance found for instance ID: {instance_id}"
        )));
    };
    if status == HealthStatus::Unhealthy && respect_grace {
        let since = inst.in_service_at.unwrap_or(inst.launched_at);
        if now < since + chrono::Duration::seconds(grace) {
            return Ok(false);
        }
    }
    if inst.health_status == status {
        return Ok(false);
    }
    inst.health_status = status;
    inst.unhealthy_reason = (status == HealthStatus::Unhealthy).then_some(UnhealthyReason::User);
    Ok(true)
}

/// SuspendProcesses (all when `processes` is empty) with AWS's reason
/// `User suspended at <time>`.
pub fn suspend_processes(
    group: &mut AutoScalingGroup,
    processes: &[String],
    now: DateTime<Utc>,
) -> AwsResult<()> {
    let list: Vec<String> = if processes.is_empty() {
        SCALING_PROCESSES.iter().map(|s| s.to_string()).collect()
    } else {
        processes.to_vec()
    };
    for p in &list {
        if !SCALING_PROCESSES.contains(&p.as_str()) {
            return Err(AwsError::validation(format!(
                "Process type {p} is not a valid process type."
            )));
        }
    }
    for p in list {
        if !group.is_suspended(&p) {
            group.suspended_processes.push(SuspendedProcess {
                process_name: p,
                suspension_reason: format!(
                    "User suspended at {}",
                    crate::autoscaling::activity::aws_time(now)
                ),
            });
        }
    }
    Ok(())
}

/// ResumeProcesses (all when `processes` is empty).
pub fn resume_processes(group: &mut AutoScalingGroup, processes: &[String]) {
    group
        .suspended_processes
        .retain(|p| !processes.is_empty() && !processes.contains(&p.process_name));
}
