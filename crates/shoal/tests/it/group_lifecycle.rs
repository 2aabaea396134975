//! A group's instances over their whole life on the fake runtime and a manual clock:
//! maximum instance lifetime, lifecycle hooks that hold, abandon or time out, and a
//! ForceDelete that leaves nothing behind.

use std::time::Duration;

use shoal::service::autoscaling::{HookRequest, ScheduleRequest};
use shoal_model::autoscaling::activity::{Activity, ActivityStatus};
use shoal_model::autoscaling::group::{LifecycleState, UpdateGroupRequest};
use shoal_model::autoscaling::policy::PredefinedMetricType;
use shoal_model::ec2::InstanceState;

use crate::world::World;

const GROUP: &str = "EXERCISE-GROUP";

fn states(w: &World) -> Vec<(String, LifecycleState)> {
    w.svc.read(|s| {
        s.groups.get(GROUP).map_or(vec![], |g| {
            g.instances.iter().map(|i| (i.instance_id.clone(), i.lifecycle_state)).collect()
        })
    })
}

fn in_service(w: &World) -> Vec<String> {
    states(w)
        .into_iter()
        .filter(|(_, s)| *s == LifecycleState::InService)
        .map(|(id, _)| id)
        .collect()
}

/// The group's activities, also once it is deleted (IncludeDeletedGroups).
fn activities(w: &World) -> Vec<Activity> {
    w.svc.describe_scaling_activities_of(Some(GROUP), &[], true, None, None).unwrap().items
}

fn activity_for(w: &World, description: &str) -> Activity {
    let all = activities(w);
    all.iter()
        .find(|a| a.description.starts_with(description))
        .cloned()
        .unwrap_or_else(|| panic!("no activity {description:?} in {all:#?}"))
}

fn hook(w: &World, name: &str, transition: &str, heartbeat: i64, default: &str) {
    let req = HookRequest {
        name: name.into(),
        transition: Some(transition.into()),
        heartbeat_timeout: Some(heartbeat),
        default_result: Some(default.into()),
        ..Default::default()
    };
    w.svc.put_lifecycle_hook(GROUP, req).unwrap();
}

/// A world whose group has `n` instances in service (and room for one more).
async fn serving(n: usize) -> World {
    let w = World::new();
    w.create_group(GROUP, 0, n as i64 + 1, None);
    w.svc.set_desired_capacity(GROUP, n as i64, false).unwrap();
    w.settle("in service", |w| in_service(w).len() == n).await;
    w
}

const LAUNCHING: &str = "autoscaling:EC2_INSTANCE_LAUNCHING";
const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";

#[tokio::test]
async fn max_instance_lifetime_replaces_instances_one_at_a_time() {
    let w = World::new();
    w.create_group(GROUP, 2, 3, None);
    w.settle("2 in service", |w| in_service(w).len() == 2).await;
    let originals = in_service(&w);
    let lifetime = |v| UpdateGroupRequest { max_instance_lifetime: Some(v), ..Default::default() };
    w.svc.update_auto_scaling_group(GROUP, lifetime(86_400), None).unwrap();

    // A day later both are due; one goes, its replacement launches beside it.
    w.clock.advance(Duration::from_secs(86_400));
    w.tick().await;
    let now = states(&w);
    let leaving: Vec<&String> =
        now.iter().filter(|(_, s)| s.is_terminating()).map(|(id, _)| id).collect();
    assert_eq!(leaving.len(), 1, "one at a time: {now:?}");
    assert_eq!(now.iter().filter(|(id, _)| !originals.contains(id)).count(), 1, "{now:?}");
    let first = leaving[0].clone();
    let cause = activity_for(&w, &format!("Terminating EC2 instance: {first}")).cause;
    assert!(cause.contains("an instance was taken out of service in response to a maximum instance lifetime being reached."), "{cause}");
    assert!(cause.ends_with(&format!("instance {first} was selected for termination.")), "{cause}");

    // The second follows once the first replacement is in service.
    w.settle("both replaced", |w| {
        let live = in_service(w);
        live.len() == 2 && !live.iter().any(|id| originals.contains(id))
    })
    .await;
    for id in &originals {
        assert_eq!(w.svc.instance(id).unwrap().state, InstanceState::Terminated);
    }
    let launches = activities(&w)
        .into_iter()
        .filter(|a| a.cause.contains("an instance was launched in response to a maximum instance lifetime being reached."))
        .count();
    assert_eq!(launches, 2);

    // MaxInstanceLifetime 0 clears it: another day passes, nobody is replaced.
    w.svc.update_auto_scaling_group(GROUP, lifetime(0), None).unwrap();
    assert_eq!(w.svc.read(|s| s.groups[GROUP].max_instance_lifetime), None);
    let survivors = in_service(&w);
    w.clock.advance(Duration::from_secs(2 * 86_400));
    for _ in 0..3 {
        w.tick().await;
    }
    assert_eq!(in_service(&w), survivors);
}

#[tokio::test]
async fn every_launch_hook_must_continue_and_a_timeout_abandons() {
    let w = World::new();
    w.create_group(GROUP, 0, 2, None);
    hook(&w, "warm-up", LAUNCHING, 30, "ABANDON");
    hook(&w, "register", LAUNCHING, 600, "CONTINUE");
    w.svc.set_desired_capacity(GROUP, 1, false).unwrap();
    w.settle("Pending:Wait", |w| states(w).iter().any(|(_, s)| *s == LifecycleState::PendingWait))
        .await;
    let (first, _) = states(&w)[0].clone();
    let launch = format!("Launching a new EC2 instance: {first}");
    assert_eq!(activity_for(&w, &launch).status_code, ActivityStatus::MidLifecycleAction);
    let open = w.svc.read(|s| s.lifecycle_actions.len());
    assert_eq!(open, 2, "one action per hook");

    // One hook continues: still waiting on the other.
    w.svc.complete_lifecycle_action(GROUP, "register", Some(&first), None, "CONTINUE").unwrap();
    let again = w.svc.complete_lifecycle_action(GROUP, "register", Some(&first), None, "CONTINUE");
    assert!(again.is_err(), "a completed action is no longer active");
    w.tick().await;
    assert_eq!(states(&w)[0].1, LifecycleState::PendingWait);

    // The other times out with ABANDON: the launch is cancelled, the instance terminated
    // and replaced.
    let token = w.svc.read(|s| {
        s.lifecycle_actions.values().find(|a| a.hook_name == "warm-up").unwrap().token.clone()
    });
    w.clock.advance(Duration::from_secs(30));
    w.settle("replacement waiting", |w| {
        let now = states(w);
        !now.iter().any(|(id, _)| *id == first)
            && now.iter().any(|(_, s)| *s == LifecycleState::PendingWait)
    })
    .await;
    let cancelled = activity_for(&w, &launch);
    let message = format!("Instance failed to complete user's Lifecycle Action: Lifecycle Action with token {token} was abandoned: Lifecycle Action Completed with ABANDON Result");
    assert_eq!(cancelled.status_code, ActivityStatus::Cancelled);
    assert_eq!(cancelled.status_message.as_deref(), Some(message.as_str()));
    assert_eq!(cancelled.description, format!("{launch}.  Status Reason: {message}"));
    assert_eq!(w.svc.instance(&first).unwrap().state, InstanceState::Terminated);
    let terminated = activity_for(&w, &format!("Terminating EC2 instance: {first}"));
    assert_eq!(terminated.status_code, ActivityStatus::Successful);
    assert!(terminated.cause.ends_with("an instance was taken out of service in response to a launch lifecycle action being abandoned."));

    // CompleteLifecycleAction ABANDON on the replacement ends its wait at once.
    let (second, _) =
        states(&w).into_iter().find(|(_, s)| *s == LifecycleState::PendingWait).unwrap();
    w.svc.complete_lifecycle_action(GROUP, "warm-up", Some(&second), None, "ABANDON").unwrap();
    w.tick().await;
    let status = activity_for(&w, &format!("Launching a new EC2 instance: {second}")).status_code;
    assert_eq!(status, ActivityStatus::Cancelled);
    assert!(!states(&w).iter().any(|(id, s)| *id == second && !s.is_terminating()));
}

#[tokio::test]
async fn termination_hooks_hold_until_all_answer_or_one_abandons() {
    let w = serving(2).await;
    hook(&w, "logs", TERMINATING, 300, "CONTINUE");
    hook(&w, "drain", TERMINATING, 300, "CONTINUE");
    w.svc.set_desired_capacity(GROUP, 0, false).unwrap();
    w.settle("both Terminating:Wait", |w| {
        states(w).iter().filter(|(_, s)| *s == LifecycleState::TerminatingWait).count() == 2
    })
    .await;
    let ids: Vec<String> = states(&w).into_iter().map(|(id, _)| id).collect();
    let term = |id: &str| activity_for(&w, &format!("Terminating EC2 instance: {id}")).status_code;
    assert_eq!(term(&ids[0]), ActivityStatus::MidLifecycleAction);
    // The first: one hook continues, the other still holds it; then it continues too.
    w.svc.complete_lifecycle_action(GROUP, "logs", Some(&ids[0]), None, "CONTINUE").unwrap();
    w.tick().await;
    assert_eq!(w.svc.instance(&ids[0]).unwrap().state, InstanceState::Running);
    w.svc.complete_lifecycle_action(GROUP, "drain", Some(&ids[0]), None, "CONTINUE").unwrap();
    // The second: ABANDON from one hook skips the other.
    w.svc.complete_lifecycle_action(GROUP, "drain", Some(&ids[1]), None, "ABANDON").unwrap();
    w.settle("both gone", |w| states(w).is_empty()).await;
    for id in &ids {
        assert_eq!(w.svc.instance(id).unwrap().state, InstanceState::Terminated);
        assert_eq!(term(id), ActivityStatus::Successful);
    }
    assert_eq!(w.svc.read(|s| s.lifecycle_actions.len()), 0);
}

#[tokio::test]
async fn force_delete_terminates_everything_and_leaves_nothing_behind() {
    let w = serving(3).await;
    let ids = in_service(&w);
    w.target_tracking(GROUP, "cpu50", PredefinedMetricType::AsgAverageCpuUtilization, 50.0);
    hook(&w, "drain", TERMINATING, 3600, "CONTINUE");
    let nightly = ScheduleRequest {
        name: "nightly".into(),
        recurrence: Some("0 22 * * *".into()),
        desired_capacity: Some(0),
        ..Default::default()
    };
    w.svc.put_scheduled_action(GROUP, nightly).unwrap();
    w.svc.set_instance_protection(GROUP, &ids[..1], true).unwrap();
    w.svc.enter_standby(GROUP, &ids[1..2], true).unwrap();
    w.settle("standby", |w| states(w).iter().any(|(_, s)| *s == LifecycleState::Standby)).await;
    let alarms = w.svc.read(|s| s.alarms.len());
    assert_eq!(alarms, 2, "target tracking's two alarms");

    // Without force: refused, nothing changes.
    let before = w.svc.read(|s| s.groups[GROUP].clone());
    let e = w.svc.delete_auto_scaling_group(GROUP, false).unwrap_err();
    assert_eq!(e.code, "ResourceInUse");
    assert_eq!(w.svc.read(|s| s.groups[GROUP].clone()), before);

    // ForceDelete: the protected and the standby instance go too, and no hook waits.
    w.svc.delete_auto_scaling_group(GROUP, true).unwrap();
    w.settle("group gone", |w| w.svc.read(|s| !s.groups.contains_key(GROUP))).await;
    for id in &ids {
        assert_eq!(w.svc.instance(id).unwrap().state, InstanceState::Terminated, "{id}");
    }
    let left = w.svc.read(|s| {
        (
            s.policies.len(),
            s.alarms.len(),
            s.lifecycle_hooks.len(),
            s.lifecycle_actions.len(),
            s.scheduled_actions.len(),
        )
    });
    assert_eq!(left, (0, 0, 0, 0, 0), "policies, alarms, hooks, actions, schedules");
    let cause = activities(&w).into_iter().find(|a| a.description.contains(&ids[0])).unwrap();
    assert!(
        cause.cause.contains(
            "a user request update of AutoScalingGroup constraints to min: 0, max: 0, desired: 0"
        ),
        "{}",
        cause.cause
    );

    // A new group of the same name starts clean.
    w.create_group(GROUP, 0, 1, None);
    assert!(w.svc.describe_policies(Some(GROUP), &[], &[]).is_empty());
    assert!(w.svc.describe_lifecycle_hooks(GROUP, &[]).unwrap().is_empty());
    let current = w.svc.describe_scaling_activities(Some(GROUP), &[], None, None).unwrap();
    assert!(current.items.is_empty(), "the old group's history is not the new one's");
    // And an empty group is deleted at once.
    w.svc.delete_auto_scaling_group(GROUP, false).unwrap();
    assert!(w.svc.read(|s| !s.groups.contains_key(GROUP)));
}
