//! The Auto Scaling group controller.
//!
//! Each pass, per group: **observe** (pending instances that run become `InService`;
//! terminating instances are terminated in EC2 and leave the group once gone; health
//! checks mark instances `Unhealthy`; open activities finish), then **plan** with the
//! model's `plan()` and **execute** one step per commit: a launch records the EC2
//! instance, its place in the group and its activity together, so a crash never leaves
//! an instance the group does not know. A group being deleted disappears, with everything
//! it owns, once empty.

use shoal_model::elbv2::health::TargetHealthState;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use shoal_model::autoscaling::activity::{self, cause, Activity, ActivityStatus};
use shoal_model::autoscaling::group::{
    AttachmentState, AutoScalingGroup, GroupInstance, LaunchTemplateRef, LifecycleState,
};
use shoal_model::autoscaling::lifecycle::{
    self, HoldVerdict, LifecycleAction, LifecycleHook, LifecycleTransition,
};
use shoal_model::autoscaling::plan::{self, Action, InstanceObservation, Step};
use shoal_model::autoscaling::schedule::ScheduledAction;
use shoal_model::ec2::instance::Transition;
use shoal_model::ec2::InstanceState;
use shoal_model::AwsResult;
use tokio::sync::watch;

use crate::control::runner::{self, BoxFuture, ControlError, Controller, Settings};
use crate::ids;
use crate::service::autoscaling::{begin_termination, ec2_gone, finish_activity};
use crate::service::ec2::{resolve_version_in, RunInstances};
use crate::service::launch_configs::{find_launch_configuration, split_security_groups};
use crate::service::{Changes, Service, State};
use shoal_model::ec2::launch_template::LaunchTemplateSpec;

/// After a failed launch, wait this long before trying again (AWS backs off too).
const LAUNCH_RETRY: chrono::Duration = chrono::Duration::seconds(10);

/// The group controller, keyed by group name, plus one key for the scheduled actions
/// (checked first at each trigger). One key at a time, as the single loop it replaced.
pub struct GroupController {
    /// Scheduled actions due after this moment have not run yet.
    schedules_checked: std::sync::Mutex<chrono::DateTime<chrono::Utc>>,
}

impl GroupController {
    pub fn new(svc: &Service) -> GroupController {
        GroupController { schedules_checked: std::sync::Mutex::new(svc.clock.now()) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupKey {
    /// Run the scheduled actions that came due.
    Schedules,
    Group(String),
}

impl Controller for GroupController {
    type Key = GroupKey;
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "groups"
    }

    fn keys(&self, svc: &Service) -> Vec<GroupKey> {
        let names = svc.read(|s| s.groups.keys().cloned().map(GroupKey::Group).collect::<Vec<_>>());
        std::iter::once(GroupKey::Schedules).chain(names).collect()
    }

    fn reconcile<'a>(
        &'a self,
        key: &'a GroupKey,
        svc: &'a Service,
    ) -> BoxFuture<'a, Result<runner::Action, ControlError>> {
        Box::pin(async move {
            // A daemon shutting down with its instances stopped leaves groups as they are.
            if svc.is_quiesced() {
                return Ok(runner::Action::await_change());
            }
            match key {
                GroupKey::Schedules => {
                    let now = svc.clock.now();
                    let since = std::mem::replace(
                        &mut *self.schedules_checked.lock().unwrap_or_else(|e| e.into_inner()),
                        now,
                    );
                    run_schedules(svc, since, now);
                }
                GroupKey::Group(name) => reconcile(svc, name)?,
            }
            Ok(runner::Action::await_change())
        })
    }
}

/// Runs until `shutdown` turns true: on every commit and at least every second.
pub async fn run(svc: Arc<Service>, shutdown: watch::Receiver<bool>) {
    let tick = svc.config.resync_interval.min(Duration::from_secs(1));
    let settings = Settings::watching(tick, 1);
    let commits = Some(svc.subscribe());
    let ctrl = Arc::new(GroupController::new(&svc));
    runner::run(ctrl, svc, settings, commits, shutdown).await;
}

/// One pass over one group.
pub fn reconcile(svc: &Service, name: &str) -> AwsResult<()> {
    let now = svc.clock.now();
    svc.mutate(|state, changes| observe(svc, state, changes, name))?;
    svc.mutate(|state, changes| crate::control::refresh::step(svc, state, changes, name))?;
    let Some(plan) =
        svc.read(|s| s.groups.get(name).map(|g| plan::plan(g, now, rand::thread_rng().gen())))
    else {
        return Ok(());
    };
    if plan.steps.is_empty() {
        return Ok(());
    }
    // The whole plan in one commit: the group document is written once, whatever its
    // size, and addresses are reserved within the change set.
    svc.mutate(|state, changes| {
        let Some(g) = state.groups.get(name) else { return Ok(()) };
        let mut g = g.clone();
        // After a failed launch, wait before trying again (AWS backs off too).
        let backing_off = state.activities.values().any(|a| {
            a.auto_scaling_group_name == name
                && a.status_code == ActivityStatus::Failed
                && now - a.start_time < LAUNCH_RETRY
        });
        for step in &plan.steps {
            let is_launch = matches!(step.action, Action::Launch { .. });
            if (is_launch && backing_off) || !execute(svc, state, changes, &mut g, step)? {
                break;
            }
        }
        if plan.consumed_pending_cause {
            g.pending_cause = None;
        }
        changes.put(g);
        Ok(())
    })?;
    Ok(())
}

fn observe(svc: &Service, state: &State, changes: &mut Changes, name: &str) -> AwsResult<()> {
    let now = svc.clock.now();
    let Some(original) = state.groups.get(name) else { return Ok(()) };
    let mut g = original.clone();
    attachments(svc, state, changes, &mut g);
    let serving_tgs: Vec<String> = g
        .target_groups
        .iter()
        .filter(|t| !matches!(t.state, AttachmentState::Removing | AttachmentState::Removed))
        .map(|t| t.target_group_arn.clone())
        .collect();
    let register_tgs = g.target_groups_to_register();
    // A group being deleted (ForceDelete) waits for no lifecycle hook.
    let deleting = g.status.is_some();
    let mut abandoned: Vec<(String, String)> = Vec::new();
    for gi in g.instances.iter_mut() {
        let ec2_state = state.instances.get(&gi.instance_id).map(|i| i.state);
        if gi.lifecycle_state.is_pending() {
            match ec2_state {
                Some(InstanceState::Running) => match gi.lifecycle_state {
                    LifecycleState::Pending => {
                        if deleting
                            || !hold(state, changes, name, gi, LifecycleTransition::Launching, now)
                        {
                            enter_service(svc, state, changes, &register_tgs, gi, now);
                        }
                    }
                    LifecycleState::PendingWait => match verdict(state, name, &gi.instance_id, now)
                    {
                        HoldVerdict::Wait => {}
                        HoldVerdict::Proceed => {
                            close_actions(state, changes, &gi.instance_id);
                            set_activity_status(state, changes, gi, ActivityStatus::InProgress);
                            gi.lifecycle_state = LifecycleState::PendingProceed;
                        }
                        HoldVerdict::Abandon { token } => {
                            close_actions(state, changes, &gi.instance_id);
                            abandoned.push((gi.instance_id.clone(), token));
                        }
                    },
                    _ => enter_service(svc, state, changes, &register_tgs, gi, now),
                },
                Some(InstanceState::Pending) => {}
                _ => {
                    gi.lifecycle_state = LifecycleState::Terminated;
                    close_actions(state, changes, &gi.instance_id);
                    finish_activity(
                        state,
                        changes,
                        gi,
                        (ActivityStatus::Failed, Some("Instance failed to launch.".into())),
                        now,
                    );
                }
            }
        }
        if gi.lifecycle_state.is_terminating() {
            if Service::draining(state, &gi.instance_id) && !ec2_gone(state, &gi.instance_id) {
                continue;
            }
            if gi.lifecycle_state == LifecycleState::Terminating
                && !ec2_gone(state, &gi.instance_id)
                && !deleting
                && hold(state, changes, name, gi, LifecycleTransition::Terminating, now)
            {
                continue;
            }
            if gi.lifecycle_state == LifecycleState::TerminatingWait {
                // Either result lets the instance terminate; ABANDON skips the other hooks.
                if !deleting && verdict(state, name, &gi.instance_id, now) == HoldVerdict::Wait {
                    continue;
                }
                close_actions(state, changes, &gi.instance_id);
                set_activity_status(state, changes, gi, ActivityStatus::InProgress);
                gi.lifecycle_state = LifecycleState::TerminatingProceed;
            }
            if ec2_gone(state, &gi.instance_id) {
                gi.lifecycle_state = LifecycleState::Terminated;
                finish_activity(state, changes, gi, (ActivityStatus::Successful, None), now);
            } else if ec2_state != Some(InstanceState::ShuttingDown) {
                svc.change_instance_states_in(
                    state,
                    changes,
                    std::slice::from_ref(&gi.instance_id),
                    Transition::Terminate,
                )?;
            }
        }
    }
    for (instance_id, token) in abandoned {
        abandon_launch(svc, state, changes, &mut g, &instance_id, &token)?;
    }
    for gi in g.instances.iter_mut() {
        // Detaching and standby wait until the group's target groups have drained them.
        let drained = match gi.lifecycle_state {
            LifecycleState::Detaching => LifecycleState::Detached,
            LifecycleState::EnteringStandby => LifecycleState::Standby,
            _ => continue,
        };
        if !Service::draining(state, &gi.instance_id) {
            gi.lifecycle_state = drained;
            finish_activity(state, changes, gi, (ActivityStatus::Successful, None), now);
        }
    }
    let snapshot = svc.proxy.target_health();
    let observations: Vec<InstanceObservation> = g
        .instances
        .iter()
        .map(|gi| InstanceObservation {
            instance_id: gi.instance_id.clone(),
            ec2_state: state
                .instances
                .get(&gi.instance_id)
                .map(|i| i.state.name())
                .unwrap_or("terminated")
                .to_string(),
            target_states: svc.target_states(&snapshot, &serving_tgs, &gi.instance_id),
        })
        .collect();
    let findings = plan::health_findings(&g, &observations, now);
    plan::apply_health_findings(&mut g, &findings);
    g.instances.retain(|i| {
        !matches!(i.lifecycle_state, LifecycleState::Terminated | LifecycleState::Detached)
    });
    if deleting && g.instances.is_empty() {
        svc.stage_remove_group(state, changes, name);
        return Ok(());
    }
    // A simple policy's cooldown counts from when its activities have finished.
    shoal_model::autoscaling::policy::settle_cooldown(&mut g, now);
    if &g != original {
        changes.put(g);
    }
    Ok(())
}

/// Carries out one step on `g`; false when the plan should stop here (a launch failed).
fn execute(
    svc: &Service,
    state: &State,
    changes: &mut Changes,
    g: &mut AutoScalingGroup,
    step: &Step,
) -> AwsResult<bool> {
    let now = svc.clock.now();
    match &step.action {
        Action::Launch { zone } => match launch(svc, state, changes, g, zone.subnet_id.as_str()) {
            Ok(Launched { instance_id, instance_type, template, configuration_created }) => {
                let activity = Activity::launch(
                    ids::uuid(),
                    &g.name,
                    &g.arn,
                    &instance_id,
                    Some(&zone.subnet_id),
                    &zone.availability_zone,
                    step.cause.clone(),
                    now,
                );
                let mut gi =
                    GroupInstance::launched(&instance_id, zone, g, template, instance_type, now);
                gi.launch_configuration_created = configuration_created;
                gi.activity_id = Some(activity.activity_id.clone());
                g.instances.push(gi);
                changes.put(activity);
            }
            Err(e) => {
                changes.put(Activity::launch_failed(
                    ids::uuid(),
                    &g.name,
                    &g.arn,
                    Some(&zone.subnet_id),
                    &zone.availability_zone,
                    &e.message,
                    step.cause.clone(),
                    now,
                ));
                return Ok(false);
            }
        },
        Action::Terminate { instance_id } => {
            begin_termination(svc, state, changes, g, instance_id, step.cause.clone())?;
        }
    }
    Ok(true)
}

/// What one launch made.
struct Launched {
    instance_id: String,
    instance_type: String,
    /// The template version it runs (none for a launch configuration).
    template: Option<LaunchTemplateRef>,
    /// Its launch configuration's creation time (the `OldestLaunchConfiguration` order).
    configuration_created: Option<chrono::DateTime<chrono::Utc>>,
}

/// RunInstances into `subnet_id` from what the group launches from — its launch
/// configuration (image, type, key, security groups, user data), its launch template, or
/// its mixed instances policy's highest-priority override — tagged as AWS tags group
/// instances.
fn launch(
    svc: &Service,
    state: &State,
    changes: &mut Changes,
    g: &AutoScalingGroup,
    subnet_id: &str,
) -> AwsResult<Launched> {
    if let Some(name) = &g.launch_configuration_name {
        let lc = find_launch_configuration(state, name)?;
        let (security_group_ids, security_groups) = split_security_groups(&lc.security_groups);
        let req = RunInstances {
            min_count: 1,
            max_count: 1,
            image_id: Some(lc.image_id.clone()),
            instance_type: Some(lc.instance_type.clone()),
            key_name: lc.key_name.clone(),
            security_group_ids,
            security_groups,
            user_data: lc.user_data.clone(),
            subnet_id: Some(subnet_id.to_string()),
            system_tags: g.instance_tags(),
            monitoring_enabled: Some(lc.instance_monitoring),
            // The configuration's AssociatePublicIpAddress is its instances' interface's.
            network_interface: lc.associate_public_ip_address.map(|associate| {
                shoal_model::ec2::launch_template::NetworkInterfaceSpec {
                    device_index: Some(0),
                    associate_public_ip_address: Some(associate),
                    ..Default::default()
                }
            }),
            // The configuration's IMDS settings reach the instance, as a template's do.
            options: shoal_model::ec2::launch_template::LaunchOptions {
                metadata_options: lc.metadata_options.as_ref().map(|m| {
                    shoal_model::ec2::launch_template::MetadataOptionsRequest {
                        http_tokens: m.http_tokens.clone(),
                        http_put_response_hop_limit: m.http_put_response_hop_limit,
                        http_endpoint: m.http_endpoint.clone(),
                        ..Default::default()
                    }
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let inst = svc.run_instances_in(state, changes, &req)?.instances.remove(0);
        return Ok(Launched {
            instance_id: inst.id,
            instance_type: inst.instance_type,
            template: None,
            configuration_created: Some(lc.created_time),
        });
    }
    let (spec, instance_type) =
        match (&g.launch_template, &g.mixed_instances_policy) {
            (Some(spec), _) => (spec, None),
            (None, Some(policy)) => policy.launch_choice(),
            (None, None) => return Err(shoal_model::AwsError::validation(
                "The group has no launch template, mixed instances policy or launch configuration.",
            )),
        };
    let (template, version) = resolve_version_in(state, spec)?;
    let req = RunInstances {
        min_count: 1,
        max_count: 1,
        subnet_id: Some(subnet_id.to_string()),
        instance_type: instance_type.map(str::to_string),
        launch_template: Some(LaunchTemplateSpec {
            id: Some(template.id.clone()),
            name: None,
            version: Some(version.number.to_string()),
        }),
        system_tags: g.instance_tags(),
        ..Default::default()
    };
    let inst = svc.run_instances_in(state, changes, &req)?.instances.remove(0);
    Ok(Launched {
        instance_id: inst.id,
        instance_type: inst.instance_type,
        template: Some(LaunchTemplateRef {
            launch_template_id: template.id.clone(),
            launch_template_name: template.name.clone(),
            version: version.number.to_string(),
        }),
        configuration_created: None,
    })
}

fn enter_service(
    svc: &Service,
    state: &State,
    changes: &mut Changes,
    tgs: &[String],
    gi: &mut GroupInstance,
    now: chrono::DateTime<chrono::Utc>,
) {
    svc.register_in_target_groups(state, changes, tgs, &gi.instance_id, &gi.availability_zone);
    gi.lifecycle_state = LifecycleState::InService;
    gi.in_service_at = Some(now);
    finish_activity(state, changes, gi, (ActivityStatus::Successful, None), now);
}

/// Puts `gi` in the wait state of `transition` if the group has hooks for it: one open
/// action per hook (AWS runs them all), its activity `MidLifecycleAction`. False when
/// no hook holds it.
fn hold(
    state: &State,
    changes: &mut Changes,
    group: &str,
    gi: &mut GroupInstance,
    transition: LifecycleTransition,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    let hooks: Vec<&LifecycleHook> = state
        .lifecycle_hooks
        .values()
        .filter(|h| h.auto_scaling_group_name == group && h.transition == transition)
        .collect();
    if hooks.is_empty() {
        return false;
    }
    for hook in hooks {
        changes.put(LifecycleAction::new(hook, &gi.instance_id, ids::uuid(), now));
    }
    gi.lifecycle_state = match transition {
        LifecycleTransition::Launching => LifecycleState::PendingWait,
        LifecycleTransition::Terminating => LifecycleState::TerminatingWait,
    };
    set_activity_status(state, changes, gi, ActivityStatus::MidLifecycleAction);
    true
}

/// The model's verdict on the instance's open lifecycle actions.
fn verdict(
    state: &State,
    group: &str,
    instance_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> HoldVerdict {
    let actions: Vec<(&LifecycleAction, Option<&LifecycleHook>)> = state
        .lifecycle_actions
        .values()
        .filter(|a| a.instance_id == instance_id)
        .map(|a| (a, state.lifecycle_hooks.get(&format!("{group}/{}", a.hook_name))))
        .collect();
    lifecycle::hold_verdict(&actions, now)
}

/// Deletes the instance's lifecycle actions (the wait is over).
fn close_actions(state: &State, changes: &mut Changes, instance_id: &str) {
    for a in state.lifecycle_actions.values().filter(|a| a.instance_id == instance_id) {
        changes.delete::<LifecycleAction>(a.store_key());
    }
}

/// Sets the status of the instance's open activity, leaving it open.
fn set_activity_status(
    state: &State,
    changes: &mut Changes,
    gi: &GroupInstance,
    status: ActivityStatus,
) {
    let open = gi.activity_id.as_ref().and_then(|id| state.activities.get(id));
    if let Some(a) = open.filter(|a| !a.status_code.is_final() && a.status_code != status) {
        changes.put(Activity { status_code: status, ..a.clone() });
    }
}

/// A launch a hook abandoned: its activity ends `Cancelled` with AWS's message naming
/// the hook's token, and the instance is terminated (with its own activity); the plan
/// then launches a replacement.
fn abandon_launch(
    svc: &Service,
    state: &State,
    changes: &mut Changes,
    g: &mut AutoScalingGroup,
    instance_id: &str,
    token: &str,
) -> AwsResult<()> {
    let now = svc.clock.now();
    let Some(gi) = g.instances.iter_mut().find(|i| i.instance_id == instance_id) else {
        return Ok(());
    };
    if let Some(a) = gi.activity_id.take().and_then(|id| state.activities.get(&id)) {
        let mut a = a.clone();
        a.end_with_reason(ActivityStatus::Cancelled, &activity::lifecycle_abandoned(token), now);
        changes.put(a);
    }
    begin_termination(
        svc,
        state,
        changes,
        g,
        instance_id,
        cause::at(now, &cause::launch_abandoned()),
    )?;
    Ok(())
}

/// Runs the scheduled actions due in `(since, now]`; one-off actions are deleted after
/// they run, as AWS does.
pub fn run_schedules(
    svc: &Service,
    since: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) {
    let due: Vec<ScheduledAction> = svc.read(|s| {
        s.scheduled_actions
            .values()
            .filter(|a| a.next_run(since).is_some_and(|t| t <= now))
            .cloned()
            .collect()
    });
    for action in due {
        let result = svc.mutate(|state, changes| {
            if let Some(g) = state.groups.get(&action.auto_scaling_group_name) {
                let mut g = g.clone();
                shoal_model::autoscaling::schedule::apply_scheduled_action(&mut g, &action, now)?;
                changes.put(g);
            }
            if action.recurrence.is_none() {
                changes.delete::<ScheduledAction>(&action.arn);
            }
            Ok(())
        });
        if let Err(e) = result {
            tracing::warn!(action = %action.name, error = %e, "scheduled action failed");
        }
    }
}

/// Moves target group attachments on: `Adding` registers the group's in-service
/// instances (`Added`), which becomes `InService` once one of them passes the target
/// group's health check (or at once with no instances); `Removing` deregisters them and
/// the attachment goes.
fn attachments(svc: &Service, state: &State, changes: &mut Changes, g: &mut AutoScalingGroup) {
    let snapshot = svc.proxy.target_health();
    let serving: Vec<(String, String)> = g
        .instances
        .iter()
        .filter(|i| i.lifecycle_state == LifecycleState::InService)
        .map(|i| (i.instance_id.clone(), i.availability_zone.clone()))
        .collect();
    // While AddToLoadBalancer is suspended a new attachment registers nobody yet (AWS
    // does not say; Shoal keeps it `Adding` until the process resumes).
    let adding_paused = g.is_suspended("AddToLoadBalancer");
    for t in g.target_groups.iter_mut() {
        let arn = std::slice::from_ref(&t.target_group_arn);
        match t.state {
            AttachmentState::Adding if adding_paused => {}
            AttachmentState::Adding => {
                for (id, zone) in &serving {
                    svc.register_in_target_groups(state, changes, arn, id, zone);
                }
                t.state = AttachmentState::Added;
            }
            AttachmentState::Added => {
                let passed = serving.iter().any(|(id, _)| {
                    snapshot
                        .get(&t.target_group_arn, id)
                        .is_some_and(|e| e.health.state == TargetHealthState::Healthy)
                });
                if passed || serving.is_empty() {
                    t.state = AttachmentState::InService;
                }
            }
            AttachmentState::Removing => {
                for (id, _) in &serving {
                    svc.deregister_from_target_groups(state, changes, arn, id);
                }
                t.state = AttachmentState::Removed;
            }
            _ => {}
        }
    }
    g.target_groups.retain(|t| t.state != AttachmentState::Removed);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shoal_model::autoscaling::group::LifecycleState;

    use super::{GroupController, GroupKey};
    use crate::control::fixture::Fixture;
    use crate::control::runner::{Action, Controller};
    use crate::service::autoscaling::ScheduleRequest;

    fn lifecycle(f: &Fixture, group: &str) -> Vec<LifecycleState> {
        f.svc.read(|s| s.groups[group].instances.iter().map(|i| i.lifecycle_state).collect())
    }

    fn activities(f: &Fixture) -> usize {
        f.svc.read(|s| s.activities.len())
    }

    #[tokio::test]
    async fn a_new_group_launches_its_minimum_once() {
        let f = Fixture::new();
        f.group("web", 2, 4);
        let ctrl = GroupController::new(&f.svc);
        let key = GroupKey::Group("web".into());
        assert_eq!(ctrl.reconcile(&key, &f.svc).await.unwrap(), Action::await_change());
        assert_eq!(lifecycle(&f, "web"), [LifecycleState::Pending; 2]);
        let launched = f.svc.read(|s| s.instances.len());
        assert_eq!(launched, 2);
        assert_eq!(activities(&f), 2, "one Launching activity per instance");
        // Again, with nothing new: nothing more launched, nothing recorded.
        ctrl.reconcile(&key, &f.svc).await.unwrap();
        assert_eq!((f.svc.read(|s| s.instances.len()), activities(&f)), (launched, 2));
        // Once EC2 runs them, they go InService.
        crate::control::instances::reconcile_inline(&f.svc).await.unwrap();
        ctrl.reconcile(&key, &f.svc).await.unwrap();
        assert_eq!(lifecycle(&f, "web"), [LifecycleState::InService; 2]);
    }

    #[tokio::test]
    async fn the_schedules_key_runs_due_actions_once() {
        let f = Fixture::new();
        f.group("web", 1, 4);
        let ctrl = GroupController::new(&f.svc);
        let at = crate::clock::Clock::now(&f.clock) + chrono::Duration::minutes(5);
        let req = ScheduleRequest {
            name: "morning".into(),
            start_time: Some(at),
            desired_capacity: Some(3),
            ..Default::default()
        };
        f.svc.put_scheduled_action("web", req).unwrap();
        let desired = || f.svc.read(|s| s.groups["web"].desired_capacity);
        ctrl.reconcile(&GroupKey::Schedules, &f.svc).await.unwrap();
        assert_eq!(desired(), 1, "not due yet");
        f.clock.advance(Duration::from_secs(301));
        ctrl.reconcile(&GroupKey::Schedules, &f.svc).await.unwrap();
        assert_eq!(desired(), 3);
        assert!(f.svc.read(|s| s.scheduled_actions.is_empty()), "a one-off action goes");
    }

    #[tokio::test]
    async fn a_quiesced_daemon_leaves_groups_alone() {
        let f = Fixture::new();
        f.group("web", 2, 2);
        let ctrl = GroupController::new(&f.svc);
        f.svc.quiesce();
        for key in ctrl.keys(&f.svc) {
            ctrl.reconcile(&key, &f.svc).await.unwrap();
        }
        assert!(lifecycle(&f, "web").is_empty());
        assert_eq!(ctrl.keys(&f.svc), [GroupKey::Schedules, GroupKey::Group("web".into())]);
    }
}
