//! Whole-daemon operations behind `shoal reset` and `shoal down --stop-instances`:
//! they act on every resource at once, through the same records and runtime as the
//! per-resource operations, so the fronts only translate them.

use std::sync::Arc;
use std::time::Duration;

use shoal_model::AwsResult;

use super::{Service, State};

/// What [`Service::stop_all_instances`] did.
#[derive(Debug, Default)]
pub struct StopAll {
    /// Instances it asked to stop (StopInstances), each now `stopped` unless listed in
    /// `still_stopping`.
    pub stopped: Vec<String>,
    /// Instances not yet `stopped` when the wait ran out; their stop resumes at the next
    /// start, as the records say `stopping`.
    pub still_stopping: Vec<String>,
    /// Of `stopped`, those in Auto Scaling groups.
    pub in_groups: Vec<String>,
}

impl Service {
    /// The admin reset: every instance's processes killed, every disk and image removed,
    /// every record wiped, then the defaults (VPC, base image) recreated. Synchronous: when
    /// it returns, no instance process is left and their ports are free. No instance
    /// controller step runs meanwhile, so an instance a group launches to replace one the
    /// reset killed is wiped before it can boot.
    ///
    /// Returns how many records of each kind it removed (defaults it recreated not counted),
    /// in a fixed order, for `shoal reset` to print.
    pub async fn reset(self: &Arc<Self>) -> AwsResult<Vec<(&'static str, usize)>> {
        let svc = self;
        let _no_instance_steps = svc.exclude_instance_steps().await;
        let before = svc.read(resource_counts);
        let instances = svc.read(|s| s.instances.values().cloned().collect::<Vec<_>>());
        let images = svc.read(|s| s.images.keys().cloned().collect::<Vec<_>>());
        let mut stops = tokio::task::JoinSet::new();
        for inst in instances.iter().cloned() {
            let svc = svc.clone();
            stops.spawn(async move {
                svc.driver
                    .shutdown(&inst.id, inst.process.as_ref(), std::time::Duration::ZERO)
                    .await;
                let _ = svc.driver.delete_disk(&inst.id);
            });
        }
        while stops.join_next().await.is_some() {}
        for image in images {
            let _ = svc.driver.delete_image(&image);
        }
        svc.wipe()?;
        svc.bootstrap()?;
        let after = svc.read(resource_counts);
        Ok(before
            .into_iter()
            .zip(after)
            .map(|((kind, b), (_, a))| (kind, b.saturating_sub(a)))
            .collect())
    }

    /// `shoal down --stop-instances`: pauses Auto Scaling (so nothing is replaced or
    /// launched), then stops every `pending` or `running` instance with StopInstances'
    /// semantics through the service layer — `stopping`, then `stopped` once the instance
    /// controller has stopped its processes — and waits, bounded by `wait`, until none is
    /// `stopping`. Stopped instances keep their disks and start again with StartInstances.
    pub async fn stop_all_instances(self: &Arc<Self>, wait: Duration) -> AwsResult<StopAll> {
        let svc = self;
        use shoal_model::ec2::instance::Transition;
        use shoal_model::ec2::InstanceState;
        svc.quiesce();
        let mut changed = svc.subscribe();
        let (ids, in_groups) = svc.read(|s| {
            let ids: Vec<String> = s
                .instances
                .values()
                .filter(|i| matches!(i.state, InstanceState::Pending | InstanceState::Running))
                .map(|i| i.id.clone())
                .collect();
            let grouped = s
                .groups
                .values()
                .flat_map(|g| g.instances.iter().map(|m| m.instance_id.clone()))
                .filter(|id| ids.contains(id))
                .collect();
            (ids, grouped)
        });
        if !ids.is_empty() {
            svc.change_instance_states(&ids, Transition::Stop)?;
        }
        let stopping = || {
            svc.read(|s| {
                s.instances
                    .values()
                    .filter(|i| i.state == InstanceState::Stopping)
                    .map(|i| i.id.clone())
                    .collect::<Vec<_>>()
            })
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = stopping();
            if left.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(StopAll { stopped: ids, still_stopping: left, in_groups });
            }
            tokio::select! {
                _ = changed.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    }
}

/// How many records of each kind a user sees (what `shoal reset` reports removing).
fn resource_counts(s: &State) -> Vec<(&'static str, usize)> {
    vec![
        ("instances", s.instances.len()),
        ("images", s.images.len()),
        ("launch_templates", s.launch_templates.len()),
        ("launch_configurations", s.launch_configurations.len()),
        ("auto_scaling_groups", s.groups.len()),
        ("scaling_policies", s.policies.len()),
        ("scheduled_actions", s.scheduled_actions.len()),
        ("lifecycle_hooks", s.lifecycle_hooks.len()),
        ("load_balancers", s.load_balancers.len()),
        ("listeners", s.listeners.len()),
        ("target_groups", s.target_groups.len()),
        ("alarms", s.alarms.len()),
        ("deployments", s.deployments.len()),
        ("key_pairs", s.key_pairs.len()),
        ("security_groups", s.security_groups.len()),
        ("subnets", s.subnets.len()),
        ("vpcs", s.vpcs.len()),
    ]
}
