//! EC2 Auto Scaling operations. The rules (validation texts, defaults, planning,
//! causes) are the model's; this layer resolves names against EC2 state, stores the
//! results, and records activities. The group controller (`control::groups`) carries out
//! launches and terminations.

use shoal_model::autoscaling::activity::{cause, Activity, ActivityStatus};
use shoal_model::autoscaling::group::{
    self, AttachmentState, AutoScalingGroup, CreateGroupRequest, GroupTag, HealthStatus,
    LifecycleState, TargetGroupAttachment, UpdateGroupRequest, ZoneSubnet,
};
use shoal_model::autoscaling::launch_config::CreateLaunchConfigurationRequest;
use shoal_model::autoscaling::policy::{self, PutPolicyRequest, ScalingPolicy};
use shoal_model::ec2::launch_template::LaunchTemplateSpec;
use shoal_model::ec2::InstanceState;
use shoal_model::{AwsError, AwsResult};

use super::launch_configs::find_launch_configuration;
use super::page::{Page, Paging};
use super::{Changes, Service, State};
use crate::ids;

/// Where a group's subnets come from: `VPCZoneIdentifier` or `AvailabilityZones`.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub subnet_ids: Vec<String>,
    pub availability_zones: Vec<String>,
}

/// A group filter of DescribeAutoScalingGroups (`tag:<key>`, `tag-key`, `tag-value`).
#[derive(Debug, Clone)]
pub struct GroupFilter {
    pub name: String,
    pub values: Vec<String>,
}

/// Whether the activity's group still exists (the same group, not a new one of its name).
pub fn group_exists(state: &State, activity: &Activity) -> bool {
    state
        .groups
        .get(&activity.auto_scaling_group_name)
        .is_some_and(|g| g.arn == activity.auto_scaling_group_arn)
}

/// The group named `name`, or AWS's `ValidationError` for an unknown group
/// (`AutoScalingGroup name not found - AutoScalingGroup X not found`).
pub(crate) fn find_group<'a>(state: &'a State, name: &str) -> AwsResult<&'a AutoScalingGroup> {
    state.groups.get(name).ok_or_else(|| group::group_not_found(name))
}

impl Service {
    /// Subnets (or zones' default subnets) as the group's `ZoneSubnet`s, in order.
    fn resolve_placement(state: &State, placement: &Placement) -> AwsResult<Vec<ZoneSubnet>> {
        let mut zones = Vec::new();
        for id in &placement.subnet_ids {
            let subnet = state.subnets.get(id).ok_or_else(|| {
                AwsError::validation(format!("The subnet ID '{id}' does not exist"))
            })?;
            zones.push(ZoneSubnet {
                subnet_id: id.clone(),
                availability_zone: subnet.availability_zone.clone(),
            });
        }
        for az in &placement.availability_zones {
            let subnet = state
                .subnets
                .values()
                .find(|s| s.default_for_az && &s.availability_zone == az)
                .ok_or_else(|| {
                    AwsError::validation(format!("The availability zone '{az}' is not valid"))
                })?;
            if !zones.iter().any(|z: &ZoneSubnet| z.subnet_id == subnet.id) {
                zones.push(ZoneSubnet {
                    subnet_id: subnet.id.clone(),
                    availability_zone: az.clone(),
                });
            }
        }
        Ok(zones)
    }

    /// The template a group launches from must exist with the requested version.
    fn check_group_template(state: &State, spec: &LaunchTemplateSpec) -> AwsResult<()> {
        // The specification's own shape first: AWS names a missing id and name as such.
        group::validate_launch_template(spec)?;
        super::ec2::resolve_version_in(state, spec).map(|_| ()).map_err(|e| {
            AwsError::validation(format!(
                "You must use a valid fully-formed launch template. {}",
                e.message
            ))
        })
    }

    /// What a group launches from must exist: its template (and version), its launch
    /// configuration, or every template its mixed instances policy names.
    fn check_launch_source(state: &State, g: &AutoScalingGroup) -> AwsResult<()> {
        if let Some(lt) = &g.launch_template {
            Self::check_group_template(state, lt)?;
        }
        if let Some(name) = &g.launch_configuration_name {
            find_launch_configuration(state, name)?;
        }
        if let Some(p) = &g.mixed_instances_policy {
            for lt in p.templates() {
                Self::check_group_template(state, lt)?;
            }
        }
        Ok(())
    }

    /// CreateAutoScalingGroup. With `InstanceId` (and no other launch source), AWS makes
    /// a launch configuration from that instance, named after the group, in the same
    /// change.
    pub fn create_auto_scaling_group(
        &self,
        mut req: CreateGroupRequest,
        placement: Placement,
    ) -> AwsResult<()> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            req.zones = Self::resolve_placement(state, &placement)?;
            if let Some(lt) = &req.launch_template {
                Self::check_group_template(state, lt)?;
            }
            for arn in &req.target_group_arns {
                self.check_target_group_exists(state, arn)?;
            }
            let exists = state.groups.contains_key(&req.name);
            let g = group::create_group(&req, exists, &self.config.region, &ids::uuid(), now)?;
            shoal_model::quotas::check_auto_scaling_groups(
                state.groups.len(),
                self.config.quotas.auto_scaling_groups,
            )?;
            Self::check_launch_source(state, &g)?;
            let g = match &req.instance_id {
                Some(id) => {
                    let lc = self.stage_launch_configuration(
                        state,
                        changes,
                        &CreateLaunchConfigurationRequest {
                            name: req.name.clone(),
                            instance_id: Some(id.clone()),
                            ..Default::default()
                        },
                    )?;
                    AutoScalingGroup { launch_configuration_name: Some(lc.name), ..g }
                }
                None => g,
            };
            changes.put(g);
            Ok(())
        })
    }

    pub fn update_auto_scaling_group(
        &self,
        name: &str,
        mut req: UpdateGroupRequest,
        placement: Option<Placement>,
    ) -> AwsResult<()> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let mut g = state.groups.get(name).ok_or_else(group::name_not_found_null)?.clone();
            if let Some(p) = &placement {
                req.zones = Some(Self::resolve_placement(state, p)?);
            }
            if let Some(lt) = &req.launch_template {
                Self::check_group_template(state, lt)?;
            }
            group::update_group(&mut g, &req, now)?;
            if req.launch_configuration_name.is_some() || req.mixed_instances_policy.is_some() {
                Self::check_launch_source(state, &g)?;
            }
            changes.put(g);
            Ok(())
        })
    }

    pub fn set_desired_capacity(
        &self,
        name: &str,
        desired: i64,
        honor_cooldown: bool,
    ) -> AwsResult<()> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let mut g = state.groups.get(name).ok_or_else(group::name_not_found_null)?.clone();
            let latest = super::policy_runs::latest_activity(state, name);
            group::set_desired_capacity(&mut g, desired, honor_cooldown, latest, now)?;
            changes.put(g);
            Ok(())
        })
    }

    /// DeleteAutoScalingGroup. Without ForceDelete a group with instances (any state) is
    /// `ResourceInUse`; an empty group goes at once with everything it owns. With
    /// ForceDelete every instance starts terminating now — protected, standby and
    /// pending ones too, even with `Terminate` suspended — its lifecycle actions are
    /// dropped and no hook holds it; the controller removes the group once they are gone.
    pub fn delete_auto_scaling_group(&self, name: &str, force: bool) -> AwsResult<()> {
        self.mutate(|state, changes| {
            self.stage_delete_auto_scaling_group(state, changes, name, force)
        })
    }

    /// [`Service::delete_auto_scaling_group`] in the caller's change set (a deployment
    /// deletes its green group this way too).
    pub(crate) fn stage_delete_auto_scaling_group(
        &self,
        state: &State,
        changes: &mut Changes,
        name: &str,
        force: bool,
    ) -> AwsResult<()> {
        let now = self.clock.now();
        let mut g = find_group(state, name)?.clone();
        let (desired, capacity) = (g.desired_capacity, g.capacity());
        if !group::begin_delete(&mut g, force)? {
            self.stage_remove_group(state, changes, name);
            return Ok(());
        }
        drop_lifecycle_actions(state, changes, name);
        let selected: Vec<String> = g
            .instances
            .iter()
            .filter(|i| {
                !i.lifecycle_state.is_terminating()
                    && !matches!(
                        i.lifecycle_state,
                        LifecycleState::Terminated
                            | LifecycleState::Detaching
                            | LifecycleState::Detached
                    )
            })
            .map(|i| i.instance_id.clone())
            .collect();
        let why = group::force_delete_cause(desired, capacity, &selected, now);
        for id in &selected {
            begin_termination(self, state, changes, &mut g, id, why.clone())?;
        }
        for i in g.instances.iter_mut() {
            if i.lifecycle_state == LifecycleState::TerminatingWait {
                i.lifecycle_state = LifecycleState::TerminatingProceed;
            }
        }
        changes.put(g);
        Ok(())
    }

    /// Removes group `name` and everything it owns in the caller's change set: its
    /// policies with the alarms target tracking created for them, lifecycle hooks and
    /// open lifecycle actions, scheduled actions and instance refreshes (its tags and
    /// metrics collection live in the group's record). A group created later under the
    /// same name starts clean. Activities stay: AWS keeps a deleted group's history.
    pub(crate) fn stage_remove_group(&self, state: &State, changes: &mut Changes, name: &str) {
        changes.delete::<AutoScalingGroup>(name);
        for p in state.policies.values().filter(|p| p.auto_scaling_group_name == name) {
            for a in &p.alarms {
                self.delete_owned_alarm(changes, &a.alarm_name);
            }
            changes.delete::<ScalingPolicy>(&p.policy_arn);
        }
        for h in state.lifecycle_hooks.values().filter(|h| h.auto_scaling_group_name == name) {
            changes.delete::<LifecycleHook>(&h.key);
        }
        drop_lifecycle_actions(state, changes, name);
        for a in state.scheduled_actions.values().filter(|a| a.auto_scaling_group_name == name) {
            changes.delete::<ScheduledAction>(&a.arn);
        }
        for r in state.instance_refreshes.values().filter(|r| r.auto_scaling_group_name == name) {
            changes.delete::<InstanceRefresh>(&r.instance_refresh_id);
        }
    }

    pub fn describe_auto_scaling_groups(
        &self,
        names: &[String],
        filters: &[GroupFilter],
        max_records: Option<u32>,
        next_token: Option<&str>,
    ) -> AwsResult<Page<AutoScalingGroup>> {
        let groups: Vec<AutoScalingGroup> = self.read(|state| {
            state
                .groups
                .values()
                .filter(|g| names.is_empty() || names.contains(&g.name))
                .filter(|g| filters.iter().all(|f| group_filter_matches(g, f)))
                .cloned()
                .collect()
        });
        Paging::max_records(100, 50).page(groups, max_records, next_token)
    }

    /// DescribeTags: every group's tags as (group, tag) pairs, filtered by
    /// `auto-scaling-group`, `key`, `value` and `propagate-at-launch` (values of one
    /// filter are ORed, filters ANDed), paged by MaxRecords (default 50, at most 100).
    pub fn describe_group_tags(
        &self,
        filters: &[GroupFilter],
        max_records: Option<u32>,
        next_token: Option<&str>,
    ) -> AwsResult<Page<(AutoScalingGroup, GroupTag)>> {
        const FILTERS: [&str; 4] = ["auto-scaling-group", "key", "value", "propagate-at-launch"];
        if let Some(f) = filters.iter().find(|f| !FILTERS.contains(&f.name.as_str())) {
            return Err(AwsError::validation(format!(
                "Filter type {} is not correct. Allowed Filter types are: {}",
                f.name,
                FILTERS.join(" ")
            )));
        }
        let matches = |f: &GroupFilter, g: &AutoScalingGroup, t: &GroupTag| {
            let value = match f.name.as_str() {
                "auto-scaling-group" => g.name.clone(),
                "key" => t.key.clone(),
                "value" => t.value.clone(),
                _ => t.propagate_at_launch.to_string(),
            };
            f.values.contains(&value)
        };
        let tags: Vec<(AutoScalingGroup, GroupTag)> = self.read(|state| {
            state
                .groups
                .values()
                .flat_map(|g| g.tags.iter().map(move |t| (g, t)))
                .filter(|(g, t)| filters.iter().all(|f| matches(f, g, t)))
                .map(|(g, t)| (g.clone(), t.clone()))
                .collect()
        });
        Paging::max_records(100, 50).page(tags, max_records, next_token)
    }

    /// DescribeAutoScalingInstances: (group name, instance) pairs.
    pub fn describe_auto_scaling_instances(
        &self,
        ids: &[String],
    ) -> Vec<(String, group::GroupInstance)> {
        self.read(|state| {
            state
                .groups
                .values()
                .flat_map(|g| g.instances.iter().map(move |i| (g.name.clone(), i.clone())))
                .filter(|(_, i)| ids.is_empty() || ids.contains(&i.instance_id))
                .collect()
        })
    }

    /// TerminateInstanceInAutoScalingGroup: the controller carries out the termination;
    /// the activity is recorded now and returned.
    pub fn terminate_instance_in_group(
        &self,
        instance_id: &str,
        decrement: bool,
    ) -> AwsResult<Activity> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let g = state
                .groups
                .values()
                .find(|g| g.instances.iter().any(|i| i.instance_id == instance_id))
                .ok_or_else(|| AwsError::validation(format!("Instance Id not found - No managed instance found for instance ID: {instance_id}")))?;
            let mut g = g.clone();
            let why = group::terminate_instance(&mut g, instance_id, decrement, now)?;
            let activity = begin_termination(self, state, changes, &mut g, instance_id, cause::at(now, &why))?;
            changes.put(g);
            Ok(activity)
        })
    }

    pub fn set_instance_health(
        &self,
        instance_id: &str,
        status: HealthStatus,
        respect_grace: bool,
    ) -> AwsResult<()> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let mut g = group_of_instance(state, instance_id)?.clone();
            group::set_instance_health(&mut g, instance_id, status, respect_grace, now)?;
            changes.put(g);
            Ok(())
        })
    }

    pub fn set_instance_protection(
        &self,
        name: &str,
        instance_ids: &[String],
        protected: bool,
    ) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let mut g = find_group(state, name)?.clone();
            for id in instance_ids {
                let inst =
                    g.instances.iter_mut().find(|i| &i.instance_id == id).ok_or_else(|| {
                        AwsError::validation(format!(
                            "The instance {id} is not part of Auto Scaling group {name}."
                        ))
                    })?;
                inst.protected_from_scale_in = protected;
            }
            changes.put(g);
            Ok(())
        })
    }

    pub fn suspend_or_resume(
        &self,
        name: &str,
        processes: &[String],
        suspend: bool,
    ) -> AwsResult<()> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let mut g = find_group(state, name)?.clone();
            if suspend {
                group::suspend_processes(&mut g, processes, now)?;
            } else {
                group::resume_processes(&mut g, processes);
            }
            changes.put(g);
            Ok(())
        })
    }

    /// DescribeScalingActivities: newest first. For a group that exists, only its own
    /// activities (by ARN), not those of a deleted group that had the same name.
    /// DescribeScalingActivities of the groups that exist, newest first.
    pub fn describe_scaling_activities(
        &self,
        group_name: Option<&str>,
        activity_ids: &[String],
        max_records: Option<u32>,
        next_token: Option<&str>,
    ) -> AwsResult<Page<Activity>> {
        self.describe_scaling_activities_of(
            group_name,
            activity_ids,
            false,
            max_records,
            next_token,
        )
    }

    /// DescribeScalingActivities with `IncludeDeletedGroups`: AWS keeps a deleted
    /// group's activities (six weeks) but shows them only when asked; a group created
    /// again under the same name starts with no history of its own.
    pub fn describe_scaling_activities_of(
        &self,
        group_name: Option<&str>,
        activity_ids: &[String],
        include_deleted_groups: bool,
        max_records: Option<u32>,
        next_token: Option<&str>,
    ) -> AwsResult<Page<Activity>> {
        let mut items: Vec<Activity> = self.read(|state| {
            state
                .activities
                .values()
                .filter(|a| group_name.is_none_or(|g| a.auto_scaling_group_name == g))
                .filter(|a| include_deleted_groups || group_exists(state, a))
                .filter(|a| activity_ids.is_empty() || activity_ids.contains(&a.activity_id))
                .cloned()
                .collect()
        });
        items.sort_by(|a, b| {
            b.start_time.cmp(&a.start_time).then(b.activity_id.cmp(&a.activity_id))
        });
        Paging::max_records(100, 100).page(items, max_records, next_token)
    }

    /// CreateOrUpdateTags / DeleteTags on groups.
    pub fn change_group_tags(&self, tags: &[(String, GroupTag)], delete: bool) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let mut touched: Vec<AutoScalingGroup> = Vec::new();
            for (name, tag) in tags {
                let pos = match touched.iter().position(|g| &g.name == name) {
                    Some(p) => p,
                    None => {
                        touched.push(find_group(state, name)?.clone());
                        touched.len() - 1
                    }
                };
                group::change_tags(&mut touched[pos], std::slice::from_ref(tag), delete)?;
            }
            for g in touched {
                changes.put(g);
            }
            Ok(())
        })
    }

    /// AttachLoadBalancerTargetGroups / AttachTrafficSources: `Adding`; the controller
    /// registers the group's instances and moves the attachment on.
    pub fn attach_target_groups(&self, name: &str, arns: &[String]) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let mut g = find_group(state, name)?.clone();
            for arn in arns {
                self.check_target_group_exists(state, arn)?;
                if !g.target_groups.iter().any(|t| &t.target_group_arn == arn) {
                    g.target_groups.push(TargetGroupAttachment {
                        target_group_arn: arn.clone(),
                        state: AttachmentState::Adding,
                    });
                }
            }
            changes.put(g);
            Ok(())
        })
    }

    /// DetachLoadBalancerTargetGroups / DetachTrafficSources: `Removing`; the controller
    /// deregisters the group's instances, then drops the attachment.
    pub fn detach_target_groups(&self, name: &str, arns: &[String]) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let mut g = find_group(state, name)?.clone();
            for arn in arns {
                match g.target_groups.iter_mut().find(|t| &t.target_group_arn == arn) {
                    Some(t) => t.state = AttachmentState::Removing,
                    None => {
                        return Err(AwsError::validation(format!(
                        "Trying to remove Target Groups that are not part of the group {{{arn}}}."
                    )))
                    }
                }
            }
            changes.put(g);
            Ok(())
        })
    }

    // ------------------------------------------------------------------ policies

    /// PutScalingPolicy (create or replace). Target tracking creates its two alarms.
    pub fn put_scaling_policy(
        &self,
        group_name: &str,
        req: PutPolicyRequest,
    ) -> AwsResult<ScalingPolicy> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let g = find_group(state, group_name)?;
            let existing = state.policies.values().find(|p| {
                p.auto_scaling_group_name == group_name && p.policy_name == req.policy_name
            });
            let uuid = existing.map(|p| policy_uuid(&p.policy_arn)).unwrap_or_else(ids::uuid);
            let mut p = policy::put_scaling_policy(&req, g, &self.config.region, &uuid, existing)?;
            if let Some(old) = existing {
                for a in &old.alarms {
                    self.delete_owned_alarm(changes, &a.alarm_name);
                }
            }
            p.alarms = self.create_policy_alarms(state, changes, &p, now)?;
            changes.put(p.clone());
            Ok(p)
        })
    }

    pub fn describe_policies(
        &self,
        group_name: Option<&str>,
        names: &[String],
        types: &[String],
    ) -> Vec<ScalingPolicy> {
        self.read(|state| {
            state
                .policies
                .values()
                .filter(|p| group_name.is_none_or(|g| p.auto_scaling_group_name == g))
                .filter(|p| {
                    names.is_empty()
                        || names.contains(&p.policy_name)
                        || names.contains(&p.policy_arn)
                })
                .filter(|p| types.is_empty() || types.iter().any(|t| t == policy_type(p)))
                .cloned()
                .collect()
        })
    }

    pub fn delete_policy(&self, group_name: Option<&str>, name: &str) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let p = find_policy(state, group_name, name)?;
            for a in &p.alarms {
                self.delete_owned_alarm(changes, &a.alarm_name);
            }
            changes.delete::<ScalingPolicy>(&p.policy_arn);
            Ok(())
        })
    }
}

/// The policy type's wire name.
pub fn policy_type(p: &ScalingPolicy) -> &'static str {
    match p.config {
        policy::PolicyConfig::TargetTracking(_) => "TargetTrackingScaling",
        policy::PolicyConfig::StepScaling { .. } => "StepScaling",
        policy::PolicyConfig::SimpleScaling { .. } => "SimpleScaling",
    }
}

fn policy_uuid(arn: &str) -> String {
    arn.split(":scalingPolicy:")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn find_policy<'a>(
    state: &'a State,
    group_name: Option<&str>,
    name: &str,
) -> AwsResult<&'a ScalingPolicy> {
    state
        .policies
        .values()
        .find(|p| (p.policy_arn == name || p.policy_name == name) && group_name.is_none_or(|g| p.auto_scaling_group_name == g))
        .ok_or_else(|| AwsError::validation(format!("No scaling policy found for service namespace: ec2, resource ID: autoScalingGroup/{}, scalable dimension: autoScaling:autoScalingGroup:DesiredCapacity, policy name: {name}", group_name.unwrap_or(""))))
}

fn group_of_instance<'a>(state: &'a State, instance_id: &str) -> AwsResult<&'a AutoScalingGroup> {
    state
        .groups
        .values()
        .find(|g| g.instances.iter().any(|i| i.instance_id == instance_id))
        .ok_or_else(|| {
            AwsError::validation(format!(
                "Instance Id not found - No managed instance found for instance ID: {instance_id}"
            ))
        })
}

fn group_filter_matches(g: &AutoScalingGroup, f: &GroupFilter) -> bool {
    let hit = |v: &str| f.values.iter().any(|p| p == v);
    if let Some(key) = f.name.strip_prefix("tag:") {
        return g.tags.iter().any(|t| t.key == key && hit(&t.value));
    }
    match f.name.as_str() {
        "tag-key" => g.tags.iter().any(|t| hit(&t.key)),
        "tag-value" => g.tags.iter().any(|t| hit(&t.value)),
        _ => true,
    }
}

/// Starts terminating `instance_id` of `g` (already taken out by the model's rules or
/// chosen by the planner): lifecycle `Terminating`, deregistered from the group's target
/// groups first (AWS deregisters before termination hooks run), and an activity —
/// `WaitingForELBConnectionDraining` while a target group drains it, else `InProgress`.
/// The controller terminates it in EC2 once draining and hooks are done.
pub(crate) fn begin_termination(
    svc: &Service,
    state: &State,
    changes: &mut Changes,
    g: &mut AutoScalingGroup,
    instance_id: &str,
    cause: String,
) -> AwsResult<Activity> {
    let now = svc.clock.now();
    let tgs: Vec<String> = g.target_groups.iter().map(|t| t.target_group_arn.clone()).collect();
    let (name, arn) = (g.name.clone(), g.arn.clone());
    let inst = g.instances.iter_mut().find(|i| i.instance_id == instance_id).ok_or_else(|| {
        AwsError::validation(format!(
            "Instance Id not found - No managed instance found for instance ID: {instance_id}"
        ))
    })?;
    inst.lifecycle_state = group::LifecycleState::Terminating;
    // A launch still open (e.g. abandoned by a hook) ends as the instance goes.
    finish_activity(state, changes, inst, (ActivityStatus::Cancelled, None), now);
    let mut activity = Activity::terminate(
        ids::uuid(),
        &name,
        &arn,
        instance_id,
        inst.subnet_id.as_deref(),
        &inst.availability_zone.clone(),
        cause,
        now,
    );
    if svc.deregister_from_target_groups(state, changes, &tgs, instance_id) {
        activity.status_code = ActivityStatus::WaitingForELBConnectionDraining;
    }
    inst.activity_id = Some(activity.activity_id.clone());
    changes.put(activity.clone());
    Ok(activity)
}

/// Deletes every open lifecycle action of group `name`.
fn drop_lifecycle_actions(state: &State, changes: &mut Changes, name: &str) {
    for a in state.lifecycle_actions.values().filter(|a| a.auto_scaling_group_name == name) {
        changes.delete::<LifecycleAction>(a.store_key());
    }
}

/// Finishes the instance's open activity (launch or termination), if any.
pub(crate) fn finish_activity(
    state: &State,
    changes: &mut Changes,
    inst: &mut group::GroupInstance,
    outcome: (ActivityStatus, Option<String>),
    now: chrono::DateTime<chrono::Utc>,
) {
    if let Some(a) = inst.activity_id.take().and_then(|id| state.activities.get(&id)) {
        if !a.status_code.is_final() {
            let mut a = a.clone();
            a.set_status(outcome.0, outcome.1, now);
            changes.put(a);
        }
    }
}

/// True when the EC2 instance is gone for Auto Scaling's purposes.
pub(crate) fn ec2_gone(state: &State, instance_id: &str) -> bool {
    state.instances.get(instance_id).is_none_or(|i| i.state == InstanceState::Terminated)
}

// ---------------------------------------------------------------------- schedules, hooks

use shoal_model::autoscaling::lifecycle::{self, InstanceRefresh, LifecycleAction, LifecycleHook};
use shoal_model::autoscaling::schedule::{self, ScheduledAction};

/// PutScheduledUpdateGroupAction's parameters.
#[derive(Debug, Clone, Default)]
pub struct ScheduleRequest {
    pub name: String,
    pub start_time: Option<chrono::DateTime<chrono::Utc>>,
    pub end_time: Option<chrono::DateTime<chrono::Utc>>,
    pub recurrence: Option<String>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
    pub desired_capacity: Option<i64>,
    pub time_zone: Option<String>,
}

/// PutLifecycleHook's parameters.
#[derive(Debug, Clone, Default)]
pub struct HookRequest {
    pub name: String,
    pub transition: Option<String>,
    pub heartbeat_timeout: Option<i64>,
    pub default_result: Option<String>,
    pub notification_target_arn: Option<String>,
    pub role_arn: Option<String>,
    pub notification_metadata: Option<String>,
}

impl Service {
    pub fn put_scheduled_action(
        &self,
        group_name: &str,
        req: ScheduleRequest,
    ) -> AwsResult<ScheduledAction> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let g = find_group(state, group_name)?;
            let existing = state
                .scheduled_actions
                .values()
                .find(|a| a.auto_scaling_group_name == group_name && a.name == req.name);
            let uuid = existing
                .and_then(|a| a.arn.split(":scheduledUpdateGroupAction:").nth(1))
                .and_then(|r| r.split(':').next())
                .map(str::to_string)
                .unwrap_or_else(ids::uuid);
            let action = schedule::put_scheduled_action(
                &req.name,
                g,
                req.start_time,
                req.end_time,
                req.recurrence.as_deref(),
                (req.min_size, req.max_size, req.desired_capacity),
                req.time_zone.as_deref(),
                &self.config.region,
                &uuid,
                now,
            )?;
            changes.put(action.clone());
            Ok(action)
        })
    }

    pub fn describe_scheduled_actions(
        &self,
        group_name: Option<&str>,
        names: &[String],
    ) -> Vec<ScheduledAction> {
        self.read(|s| {
            s.scheduled_actions
                .values()
                .filter(|a| group_name.is_none_or(|g| a.auto_scaling_group_name == g))
                .filter(|a| names.is_empty() || names.contains(&a.name))
                .cloned()
                .collect()
        })
    }

    pub fn delete_scheduled_action(&self, group_name: &str, name: &str) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let a = state
                .scheduled_actions
                .values()
                .find(|a| a.auto_scaling_group_name == group_name && a.name == name)
                .ok_or_else(|| {
                    AwsError::validation(format!(
                        "Scheduled Update Group Action {name} does not exist"
                    ))
                })?;
            changes.delete::<ScheduledAction>(&a.arn);
            Ok(())
        })
    }

    pub fn put_lifecycle_hook(&self, group_name: &str, req: HookRequest) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let g = find_group(state, group_name)?;
            let existing = state.lifecycle_hooks.get(&format!("{group_name}/{}", req.name));
            let hook = lifecycle::put_lifecycle_hook(
                &req.name,
                g,
                existing,
                req.transition.as_deref(),
                req.heartbeat_timeout,
                req.default_result.as_deref(),
                req.notification_target_arn.as_deref(),
                req.role_arn.as_deref(),
                req.notification_metadata.as_deref(),
            )?;
            changes.put(hook);
            Ok(())
        })
    }

    pub fn describe_lifecycle_hooks(
        &self,
        group_name: &str,
        names: &[String],
    ) -> AwsResult<Vec<LifecycleHook>> {
        self.read(|s| {
            find_group(s, group_name)?;
            Ok(s.lifecycle_hooks
                .values()
                .filter(|h| {
                    h.auto_scaling_group_name == group_name
                        && (names.is_empty() || names.contains(&h.name))
                })
                .cloned()
                .collect())
        })
    }

    pub fn delete_lifecycle_hook(&self, group_name: &str, name: &str) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let key = format!("{group_name}/{name}");
            if !state.lifecycle_hooks.contains_key(&key) {
                return Err(AwsError::validation(format!(
                    "No Lifecycle Hook found with name {name} for group {group_name}"
                )));
            }
            changes.delete::<LifecycleHook>(&key);
            Ok(())
        })
    }

    /// CompleteLifecycleAction: by instance id or action token; records the hook's
    /// result for the controller.
    pub fn complete_lifecycle_action(
        &self,
        group_name: &str,
        hook_name: &str,
        instance_id: Option<&str>,
        token: Option<&str>,
        result: &str,
    ) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let action = find_action(state, group_name, hook_name, instance_id, token)?;
            let g = find_group(state, group_name)?;
            let inst =
                g.instances.iter().find(|i| i.instance_id == action.instance_id).ok_or_else(
                    || {
                        AwsError::validation(format!(
                            "No active Lifecycle Action found with instance ID {}",
                            action.instance_id
                        ))
                    },
                )?;
            // The controller moves the instance on once every hook has answered.
            changes.put(lifecycle::complete_lifecycle_action(action, inst, result)?);
            Ok(())
        })
    }

    pub fn record_lifecycle_heartbeat(
        &self,
        group_name: &str,
        hook_name: &str,
        instance_id: Option<&str>,
        token: Option<&str>,
    ) -> AwsResult<()> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let mut action = find_action(state, group_name, hook_name, instance_id, token)?.clone();
            action.last_heartbeat = Some(now);
            changes.put(action);
            Ok(())
        })
    }
}

fn find_action<'a>(
    state: &'a State,
    group_name: &str,
    hook_name: &str,
    instance_id: Option<&str>,
    token: Option<&str>,
) -> AwsResult<&'a LifecycleAction> {
    state
        .lifecycle_actions
        .values()
        .find(|a| {
            a.auto_scaling_group_name == group_name
                && a.hook_name == hook_name
                && a.result.is_none()
                && (instance_id.is_some_and(|i| i == a.instance_id)
                    || token.is_some_and(|t| t == a.token))
        })
        .ok_or_else(|| {
            AwsError::validation(format!(
                "No active Lifecycle Action found with instance ID {}",
                instance_id.or(token).unwrap_or("")
            ))
        })
}
