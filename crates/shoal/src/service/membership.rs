//! AttachInstances / DetachInstances / EnterStandby / ExitStandby: the model's rules,
//! with the EC2 facts they need and the activities they record. The group controller
//! finishes them: an attached (or returning) instance goes `Pending` → `InService` like
//! a launch; a detached one leaves the group, and one entering standby goes `Standby`,
//! once its target groups have drained it.

use chrono::{DateTime, Utc};
use shoal_model::autoscaling::activity::{description, Activity};
use shoal_model::autoscaling::group::{AutoScalingGroup, LifecycleState};
use shoal_model::autoscaling::membership::{self, AttachCandidate};
use shoal_model::ec2::InstanceState;
use shoal_model::tags::Tag;
use shoal_model::{AwsError, AwsResult};

use super::autoscaling::find_group;
use super::{Changes, Service, State};
use crate::ids;

/// The tag AWS puts on every instance of a group.
const GROUP_NAME_TAG: &str = "aws:autoscaling:groupName";

fn candidate(state: &State, id: &str) -> AwsResult<AttachCandidate> {
    let inst = state
        .instances
        .get(id)
        .filter(|i| i.state != InstanceState::Terminated)
        .ok_or_else(|| AwsError::validation(format!("Instance {id} does not exist.")))?;
    let member_of = state
        .groups
        .values()
        .find(|g| {
            g.instances.iter().any(|gi| {
                gi.instance_id == id
                    && !matches!(
                        gi.lifecycle_state,
                        LifecycleState::Detached | LifecycleState::Terminated
                    )
            })
        })
        .map(|g| g.name.clone());
    Ok(AttachCandidate {
        instance_id: id.to_string(),
        state: inst.state,
        subnet_id: inst.subnet_id.clone(),
        availability_zone: inst.availability_zone.clone(),
        instance_type: inst.instance_type.clone(),
        member_of,
    })
}

/// An activity about one group instance, `InProgress`, pointed to by the instance.
fn start_activity(
    g: &mut AutoScalingGroup,
    instance_id: &str,
    description: String,
    cause: String,
    now: DateTime<Utc>,
) -> Option<Activity> {
    let (name, arn) = (g.name.clone(), g.arn.clone());
    let gi = g.instances.iter_mut().find(|i| i.instance_id == instance_id)?;
    let launch_shaped = Activity::launch(
        ids::uuid(),
        &name,
        &arn,
        instance_id,
        gi.subnet_id.as_deref(),
        &gi.availability_zone,
        cause,
        now,
    );
    let activity = Activity { description, ..launch_shaped };
    gi.activity_id = Some(activity.activity_id.clone());
    Some(activity)
}

/// Tags the instance with its group, as AWS does for every group member.
fn tag_with_group(state: &State, changes: &mut Changes, instance_id: &str, group: &str) {
    let Some(inst) = state.instances.get(instance_id) else { return };
    let mut inst = inst.clone();
    inst.tags.retain(|t| t.key != GROUP_NAME_TAG);
    inst.tags.push(Tag::new(GROUP_NAME_TAG, group));
    changes.put(inst);
}

/// The four ways a user moves instances into, out of or within a group.
#[derive(Clone, Copy)]
enum Move {
    Attach,
    Detach { decrement: bool },
    EnterStandby { decrement: bool },
    ExitStandby,
}

impl Service {
    /// AttachInstances: validated all-or-nothing by the model; each instance gets an
    /// `Attaching an existing EC2 instance` activity and the group's name tag.
    pub fn attach_instances(&self, group_name: &str, instance_ids: &[String]) -> AwsResult<()> {
        self.move_instances(group_name, instance_ids, Move::Attach).map(drop)
    }

    /// DetachInstances: each instance is deregistered from the group's target groups
    /// now and leaves the group when they have drained it; the activities are returned.
    pub fn detach_instances(
        &self,
        group_name: &str,
        instance_ids: &[String],
        decrement: bool,
    ) -> AwsResult<Vec<Activity>> {
        self.move_instances(group_name, instance_ids, Move::Detach { decrement })
    }

    /// EnterStandby: deregistered and drained like a detach, but the instances stay in
    /// the group, in `Standby`.
    pub fn enter_standby(
        &self,
        group_name: &str,
        instance_ids: &[String],
        decrement: bool,
    ) -> AwsResult<Vec<Activity>> {
        self.move_instances(group_name, instance_ids, Move::EnterStandby { decrement })
    }

    /// ExitStandby: the instances go `Pending`, and the controller puts them back in
    /// service and in the group's target groups.
    pub fn exit_standby(
        &self,
        group_name: &str,
        instance_ids: &[String],
    ) -> AwsResult<Vec<Activity>> {
        self.move_instances(group_name, instance_ids, Move::ExitStandby)
    }

    fn move_instances(
        &self,
        group_name: &str,
        instance_ids: &[String],
        how: Move,
    ) -> AwsResult<Vec<Activity>> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let mut g = find_group(state, group_name)?.clone();
            let moved = match how {
                Move::Attach => {
                    let candidates = instance_ids
                        .iter()
                        .map(|id| candidate(state, id))
                        .collect::<AwsResult<Vec<_>>>()?;
                    membership::attach_instances(&mut g, &candidates, now)?
                }
                Move::Detach { decrement } => {
                    membership::detach_instances(&mut g, instance_ids, decrement, now)?
                }
                Move::EnterStandby { decrement } => {
                    membership::enter_standby(&mut g, instance_ids, decrement, now)?
                }
                Move::ExitStandby => membership::exit_standby(&mut g, instance_ids, now)?,
            };
            let tgs: Vec<String> =
                g.target_groups.iter().map(|t| t.target_group_arn.clone()).collect();
            let mut activities = Vec::new();
            for (id, cause) in moved {
                let text = match how {
                    Move::Attach => {
                        tag_with_group(state, changes, &id, &g.name);
                        description::attaching(&id)
                    }
                    Move::Detach { .. } => {
                        self.deregister_from_target_groups(state, changes, &tgs, &id);
                        description::detaching(&id)
                    }
                    Move::EnterStandby { .. } => {
                        self.deregister_from_target_groups(state, changes, &tgs, &id);
                        description::entering_standby(&id)
                    }
                    Move::ExitStandby => description::exiting_standby(&id),
                };
                if let Some(activity) = start_activity(&mut g, &id, text, cause, now) {
                    changes.put(activity.clone());
                    activities.push(activity);
                }
            }
            changes.put(g);
            Ok(activities)
        })
    }
}
