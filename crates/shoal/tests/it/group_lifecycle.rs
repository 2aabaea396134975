//! A group's instances over their whole life on the fake runtime and a manual clock:
//! maximum instance lifetime.

use std::time::Duration;

use shoal_model::autoscaling::activity::Activity;
use shoal_model::autoscaling::group::{LifecycleState, UpdateGroupRequest};
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

fn activities(w: &World) -> Vec<Activity> {
    w.svc.describe_scaling_activities(Some(GROUP), &[], None, None).unwrap().items
}

fn activity_for(w: &World, description: &str) -> Activity {
    let all = activities(w);
    all.iter()
        .find(|a| a.description.starts_with(description))
        .cloned()
        .unwrap_or_else(|| panic!("no activity {description:?} in {all:#?}"))
}

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
