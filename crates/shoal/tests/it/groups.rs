//! The group controller against the fake runtime.

use shoal_model::autoscaling::group::LifecycleState;
use shoal_model::ec2::InstanceState;

use crate::world::World;

fn create(w: &World, min: i64, max: i64) {
    w.create_group("EXERCISE-GROUP", min, max, None);
}

fn in_service(w: &World) -> Vec<(String, String)> {
    w.svc.read(|s| {
        s.groups["EXERCISE-GROUP"]
            .instances
            .iter()
            .filter(|i| i.lifecycle_state == LifecycleState::InService)
            .map(|i| (i.instance_id.clone(), i.availability_zone.clone()))
            .collect()
    })
}

#[tokio::test]
async fn launches_balanced_and_replaces_a_crashed_instance() {
    let w = World::new();
    create(&w, 4, 6);
    w.settle("4 in service", |w| in_service(w).len() == 4).await;
    let zones: Vec<String> = in_service(&w).into_iter().map(|(_, z)| z).collect();
    assert_eq!(zones.iter().filter(|z| z.as_str() == "us-east-1a").count(), 2, "{zones:?}");

    // The instance's init dies: EC2 shows it stopped, the group replaces it.
    let (victim, _) = in_service(&w)[0].clone();
    w.driver.crash(&victim);
    w.settle("replaced", |w| {
        in_service(w).len() == 4 && !in_service(w).iter().any(|(id, _)| *id == victim)
    })
    .await;
    let victim_state = w.svc.instance(&victim).unwrap().state;
    assert_eq!(victim_state, InstanceState::Terminated);
    let causes: Vec<String> = w
        .svc
        .describe_scaling_activities(Some("EXERCISE-GROUP"), &[], None, None)
        .unwrap()
        .items
        .into_iter()
        .map(|a| a.cause)
        .collect();
    assert!(causes.iter().any(|c| c.contains("an EC2 health check indicating it has been terminated or stopped")), "{causes:#?}");
    assert_eq!(w.driver.running_count(), 4, "no fake process leaked");
}

#[tokio::test]
async fn reconcile_is_idempotent() {
    let w = World::new();
    create(&w, 2, 2);
    w.settle("2 in service", |w| in_service(w).len() == 2).await;
    let before = w.svc.read(|s| (s.instances.len(), s.activities.len()));
    for _ in 0..5 {
        w.tick().await;
    }
    assert_eq!(
        w.svc.read(|s| (s.instances.len(), s.activities.len())),
        before,
        "nothing new without a reason"
    );
}
