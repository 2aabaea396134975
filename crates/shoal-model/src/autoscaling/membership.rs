//! AttachInstances, DetachInstances, EnterStandby and ExitStandby: moving running EC2
//! instances into, out of, and aside within a group by hand.

use crate::ec2::InstanceState;
use chrono::{DateTime, Utc};

use super::activity::cause;
use super::group::{AutoScalingGroup, GroupInstance, LifecycleState, ZoneSubnet};
use crate::{AwsError, AwsResult};

/// AWS takes at most 20 instance ids per Attach/DetachInstances call.
pub const MAX_INSTANCES_PER_CALL: usize = 20;

/// What AttachInstances needs to know of an EC2 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachCandidate {
    pub instance_id: String,
    pub state: InstanceState,
    pub subnet_id: String,
    pub availability_zone: String,
    pub instance_type: String,
    /// The group the instance already belongs to, if any.
    pub member_of: Option<String>,
}

fn check_count(ids: usize) -> AwsResult<()> {
    if ids > MAX_INSTANCES_PER_CALL {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to {MAX_INSTANCES_PER_CALL}"
        )));
    }
    Ok(())
}

/// AttachInstances: each instance must be `running`, in one of the group's
/// Availability Zones and in no group, and desired capacity plus the number attached
/// must stay within MaxSize. Desired capacity grows by that number; each instance joins
/// as `Pending` (launch lifecycle hooks, then `InService` and target group
/// registration follow as for a launch). Returns each attached instance's cause:
/// `an instance was added in response to user request. Keeping the capacity at the new
/// N.` (observed wording). On error the group is unchanged.
pub fn attach_instances(
    group: &mut AutoScalingGroup,
    candidates: &[AttachCandidate],
    now: DateTime<Utc>,
) -> AwsResult<Vec<(String, String)>> {
    check_count(candidates.len())?;
    for c in candidates {
        let id = &c.instance_id;
        if c.state != InstanceState::Running {
            return Err(AwsError::validation(format!(
                "Instance {id} is in the {} state. Only running instances can be attached.",
                c.state.name()
            )));
        }
        if let Some(other) = &c.member_of {
            return Err(AwsError::validation(format!(
                "The instance {id} is already part of the Auto Scaling group {other}."
            )));
        }
        if !group.zones.iter().any(|z| z.availability_zone == c.availability_zone) {
            return Err(AwsError::validation(format!(
                "The instance {id} is in Availability Zone {}, which is not enabled for the Auto Scaling group {}.",
                c.availability_zone, group.name
            )));
        }
    }
    let mut unique: Vec<&AttachCandidate> = Vec::new();
    for c in candidates {
        if !unique.iter().any(|u| u.instance_id == c.instance_id) {
            unique.push(c);
        }
    }
    let desired = group.desired_capacity + unique.len() as u32;
    if desired > group.max_size {
        return Err(AwsError::validation(format!(
            "New SetDesiredCapacity value {desired} is above max value {} for the AutoScalingGroup.",
            group.max_size
        )));
    }
    group.desired_capacity = desired;
    let sentence = cause::at(now, &cause::user_attached(desired));
    let mut out = Vec::new();
    for c in unique {
        let zone = ZoneSubnet {
            subnet_id: c.subnet_id.clone(),
            availability_zone: c.availability_zone.clone(),
        };
        let mut gi =
            GroupInstance::launched(&c.instance_id, &zone, group, None, &c.instance_type, now);
        gi.launch_configuration_name = None;
        group.instances.push(gi);
        out.push((c.instance_id.clone(), sentence.clone()));
    }
    Ok(out)
}

/// DetachInstances: each instance must be the group's and `InService` or `Standby`;
/// with `ShouldDecrementDesiredCapacity` the desired capacity drops by one per instance
/// and may not go below MinSize; without it the group launches replacements. Each
/// instance goes `Detaching` (deregistered and drained from the group's target groups)
/// and leaves the group as `Detached`, still running. Returns each instance's cause:
/// `instance i-… was detached in response to a user request, shrinking the capacity
/// from 4 to 3.` (observed; without decrement the sentence ends after `user request`).
pub fn detach_instances(
    group: &mut AutoScalingGroup,
    instance_ids: &[String],
    decrement: bool,
    now: DateTime<Utc>,
) -> AwsResult<Vec<(String, String)>> {
    use LifecycleState::{InService, Standby};
    let ids = members_in(group, instance_ids, &[InService, Standby])?;
    take_out(
        group,
        ids,
        decrement,
        ("Detaching", LifecycleState::Detaching),
        now,
        cause::user_detached,
    )
}

/// EnterStandby: each instance must be the group's and `InService`; with
/// `ShouldDecrementDesiredCapacity` the desired capacity drops by one per instance (not
/// below MinSize), without it the group launches replacements. Each instance goes
/// `EnteringStandby` (deregistered and drained from the group's target groups), then
/// `Standby`: still running, still the group's, out of its capacity and health checks.
/// Cause (observed): `instance i-… was moved to standby in response to a user request,
/// shrinking the capacity from 4 to 3.`
pub fn enter_standby(
    group: &mut AutoScalingGroup,
    instance_ids: &[String],
    decrement: bool,
    now: DateTime<Utc>,
) -> AwsResult<Vec<(String, String)>> {
    let ids = members_in(group, instance_ids, &[LifecycleState::InService])?;
    let next = ("Moving to standby", LifecycleState::EnteringStandby);
    take_out(group, ids, decrement, next, now, cause::user_standby)
}

/// Detach and standby alike: with `decrement`, desired capacity drops by one per
/// instance and may not go below MinSize (checked before anything changes); each
/// instance moves to `next.1` with its cause.
fn take_out(
    group: &mut AutoScalingGroup,
    ids: Vec<String>,
    decrement: bool,
    (doing, next): (&str, LifecycleState),
    now: DateTime<Utc>,
    sentence: fn(&str, Option<(u32, u32)>) -> String,
) -> AwsResult<Vec<(String, String)>> {
    let from = group.desired_capacity;
    if decrement && i64::from(from) - (ids.len() as i64) < i64::from(group.min_size) {
        return Err(AwsError::validation(format!(
            "Currently, desiredCapacity is {from} and minSize is {}. {doing} {} instance(s) with decrement will violate group's min size constraint.",
            group.min_size,
            ids.len()
        )));
    }
    let mut out = Vec::new();
    for id in ids {
        let shrink = decrement.then(|| {
            group.desired_capacity -= 1;
            (group.desired_capacity + 1, group.desired_capacity)
        });
        set_state(group, &id, next);
        out.push((id.clone(), cause::at(now, &sentence(&id, shrink))));
    }
    Ok(out)
}

/// ExitStandby: each instance must be in `Standby`; desired capacity grows by one per
/// instance (not above MaxSize) and each goes `Pending` → `InService`, registered with
/// the group's target groups again. Cause (observed): `instance i-… was moved out of
/// standby in response to a user request, increasing the capacity from 3 to 4.`
pub fn exit_standby(
    group: &mut AutoScalingGroup,
    instance_ids: &[String],
    now: DateTime<Utc>,
) -> AwsResult<Vec<(String, String)>> {
    let ids = members_in(group, instance_ids, &[LifecycleState::Standby])?;
    let to = group.desired_capacity + ids.len() as u32;
    if to > group.max_size {
        return Err(AwsError::validation(format!(
            "New SetDesiredCapacity value {to} is above max value {} for the AutoScalingGroup.",
            group.max_size
        )));
    }
    let mut out = Vec::new();
    for id in ids {
        let from = group.desired_capacity;
        group.desired_capacity += 1;
        set_state(group, &id, LifecycleState::Pending);
        let sentence = cause::user_exit_standby(&id, from, group.desired_capacity);
        out.push((id.clone(), cause::at(now, &sentence)));
    }
    Ok(out)
}

/// The distinct `ids`, each required to be the group's and in one of `allowed`.
fn members_in(
    group: &AutoScalingGroup,
    ids: &[String],
    allowed: &[LifecycleState],
) -> AwsResult<Vec<String>> {
    check_count(ids.len())?;
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        let Some(inst) = group.instances.iter().find(|i| &i.instance_id == id) else {
            return Err(AwsError::validation(format!(
                "The instance {id} is not part of Auto Scaling group {}.",
                group.name
            )));
        };
        if !allowed.contains(&inst.lifecycle_state) {
            let names: Vec<&str> = allowed.iter().map(LifecycleState::as_str).collect();
            return Err(AwsError::validation(format!(
                "The instance {id} is not in {} (it is {}).",
                names.join(" or "),
                inst.lifecycle_state.as_str()
            )));
        }
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    Ok(out)
}

fn set_state(group: &mut AutoScalingGroup, instance_id: &str, state: LifecycleState) {
    if let Some(inst) = group.instances.iter_mut().find(|i| i.instance_id == instance_id) {
        inst.lifecycle_state = state;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscaling::group::{create_group, CreateGroupRequest};

    fn zone(az: &str) -> ZoneSubnet {
        ZoneSubnet { subnet_id: format!("subnet-{az}"), availability_zone: az.into() }
    }

    fn group(min: i64, max: i64, desired: i64) -> AutoScalingGroup {
        let req = CreateGroupRequest {
            name: "EXERCISE-GROUP".into(),
            launch_configuration_name: Some("lc".into()),
            min_size: Some(min),
            max_size: Some(max),
            desired_capacity: Some(desired),
            zones: vec![zone("us-east-1a"), zone("us-east-1b")],
            ..Default::default()
        };
        create_group(&req, false, "us-east-1", "uuid", DateTime::UNIX_EPOCH).unwrap()
    }

    fn candidate(id: &str, state: &str, az: &str) -> AttachCandidate {
        AttachCandidate {
            instance_id: id.into(),
            state: InstanceState::parse(state).unwrap(),
            subnet_id: format!("subnet-{az}"),
            availability_zone: az.into(),
            instance_type: "t3.micro".into(),
            member_of: None,
        }
    }

    #[test]
    fn attach_checks_every_instance_before_changing_anything() {
        let mut g = group(0, 2, 1);
        let before = g.clone();
        let now = DateTime::UNIX_EPOCH;
        let refuse = |g: &mut AutoScalingGroup, c: Vec<AttachCandidate>| {
            attach_instances(g, &c, now).unwrap_err().message
        };
        let ok = candidate("i-1", "running", "us-east-1a");
        assert!(refuse(&mut g, vec![ok.clone(), candidate("i-2", "stopped", "us-east-1a")])
            .contains("is in the stopped state"));
        assert!(refuse(&mut g, vec![candidate("i-3", "running", "us-east-1c")])
            .contains("not enabled for the Auto Scaling group EXERCISE-GROUP"));
        let member = AttachCandidate { member_of: Some("other".into()), ..ok.clone() };
        assert!(
            refuse(&mut g, vec![member]).contains("already part of the Auto Scaling group other")
        );
        let two = vec![ok.clone(), candidate("i-4", "running", "us-east-1b")];
        assert_eq!(
            refuse(&mut g, two),
            "New SetDesiredCapacity value 3 is above max value 2 for the AutoScalingGroup."
        );
        assert_eq!(g, before);

        let causes = attach_instances(&mut g, &[ok.clone(), ok], now).unwrap();
        assert_eq!(causes.len(), 1, "a repeated id attaches once");
        assert!(causes[0].1.ends_with(
            "an instance was added in response to user request. Keeping the capacity at the new 2."
        ));
        assert_eq!(g.desired_capacity, 2);
        let gi = &g.instances[0];
        assert_eq!(
            (gi.lifecycle_state, gi.availability_zone.as_str()),
            (LifecycleState::Pending, "us-east-1a")
        );
    }

    #[test]
    fn detach_rules_and_causes() {
        let mut g = group(0, 4, 0);
        let now = DateTime::UNIX_EPOCH;
        for (n, az) in ["us-east-1a", "us-east-1b", "us-east-1a"].iter().enumerate() {
            attach_instances(&mut g, &[candidate(&format!("i-{n}"), "running", az)], now).unwrap();
        }
        g.min_size = 1;
        for i in &mut g.instances {
            i.lifecycle_state = LifecycleState::InService;
        }
        g.instances[2].lifecycle_state = LifecycleState::Pending;
        let before = g.clone();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let err = |g: &mut AutoScalingGroup, v: &[&str], dec| {
            detach_instances(g, &ids(v), dec, now).unwrap_err().message
        };
        assert!(err(&mut g, &["i-9"], true).contains("not part of Auto Scaling group"));
        assert!(err(&mut g, &["i-2"], true).contains("not in InService or Standby"));
        g.instances[2].lifecycle_state = LifecycleState::InService;
        assert!(err(&mut g, &["i-0", "i-1", "i-2"], true).contains("min size constraint"));
        g.instances[2].lifecycle_state = LifecycleState::Pending;
        assert_eq!(g, before);

        let causes = detach_instances(&mut g, &ids(&["i-0", "i-1"]), true, now).unwrap();
        assert!(causes[0].1.ends_with(
            "instance i-0 was detached in response to a user request, shrinking the capacity from 3 to 2."
        ));
        assert!(causes[1].1.ends_with("shrinking the capacity from 2 to 1."));
        assert_eq!(g.desired_capacity, 1);
        assert_eq!(g.instances[0].lifecycle_state, LifecycleState::Detaching);

        g.instances[2].lifecycle_state = LifecycleState::InService;
        let causes = detach_instances(&mut g, &ids(&["i-2"]), false, now).unwrap();
        assert!(causes[0].1.ends_with("instance i-2 was detached in response to a user request."));
        assert_eq!(g.desired_capacity, 1, "no decrement: the group replaces it");
    }

    #[test]
    fn standby_round_trip() {
        let mut g = group(0, 3, 0);
        let now = DateTime::UNIX_EPOCH;
        for n in 0..2 {
            attach_instances(&mut g, &[candidate(&format!("i-{n}"), "running", "us-east-1a")], now)
                .unwrap();
        }
        g.min_size = 1;
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let refused = enter_standby(&mut g, &ids(&["i-0"]), true, now).unwrap_err();
        assert!(refused.message.contains("not in InService (it is Pending)"));
        for i in &mut g.instances {
            i.lifecycle_state = LifecycleState::InService;
        }
        let before = g.clone();
        let refused = enter_standby(&mut g, &ids(&["i-0", "i-1"]), true, now).unwrap_err();
        assert!(refused.message.contains("min size constraint"));
        assert_eq!(g, before);

        let causes = enter_standby(&mut g, &ids(&["i-0"]), true, now).unwrap();
        assert!(causes[0].1.ends_with(
            "instance i-0 was moved to standby in response to a user request, shrinking the capacity from 2 to 1."
        ));
        assert_eq!(g.instances[0].lifecycle_state, LifecycleState::EnteringStandby);
        assert!(exit_standby(&mut g, &ids(&["i-0"]), now)
            .unwrap_err()
            .message
            .contains("not in Standby"));
        g.instances[0].lifecycle_state = LifecycleState::Standby;
        g.max_size = 1;
        assert!(exit_standby(&mut g, &ids(&["i-0"]), now)
            .unwrap_err()
            .message
            .starts_with("New SetDesiredCapacity value 2"));
        g.max_size = 3;
        let causes = exit_standby(&mut g, &ids(&["i-0"]), now).unwrap();
        assert!(causes[0].1.ends_with(
            "instance i-0 was moved out of standby in response to a user request, increasing the capacity from 1 to 2."
        ));
        assert_eq!(
            (g.desired_capacity, g.instances[0].lifecycle_state),
            (2, LifecycleState::Pending)
        );
    }
}
