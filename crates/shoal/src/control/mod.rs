//! Reconcile loops in the style of Kubernetes controllers: read the intent from the
//! service, look at the world through the runtime, act, record. Each loop wakes on any
//! commit and at least every resync interval, so a missed trigger only delays work.
//! One operation per resource at a time (an in-flight set); every operation is
//! idempotent, so a daemon restart simply picks up where the records say it was.

pub mod alarms;
pub mod deployments;
pub mod group_metrics;
pub mod groups;
pub mod instances;
pub mod loadbalancers;
pub mod metrics;

use std::sync::Arc;

use shoal_model::AwsResult;
use tokio::sync::watch;

use crate::service::Service;

/// Starts every controller; they stop when `shutdown` turns true.
pub fn spawn_all(
    svc: &Arc<Service>,
    shutdown: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(instances::run(svc.clone(), shutdown.clone())),
        tokio::spawn(groups::run(svc.clone(), shutdown.clone())),
        tokio::spawn(group_metrics::run(svc.clone(), shutdown.clone())),
        tokio::spawn(metrics::run_cpu_sampler(svc.clone(), shutdown.clone())),
        tokio::spawn(metrics::run_network_sampler(svc.clone(), shutdown.clone())),
        tokio::spawn(loadbalancers::run(svc.clone(), shutdown.clone())),
        tokio::spawn(alarms::run(svc.clone(), shutdown.clone())),
        tokio::spawn(deployments::run(svc.clone(), shutdown.clone())),
    ]
}

/// The admin reset: every instance's processes killed, every disk and image removed,
/// every record wiped, then the defaults (VPC, base image) recreated. Synchronous: when
/// it returns, no instance process is left and their ports are free.
pub async fn reset(svc: &Arc<Service>) -> AwsResult<()> {
    let instances = svc.read(|s| s.instances.values().cloned().collect::<Vec<_>>());
    let images = svc.read(|s| s.images.keys().cloned().collect::<Vec<_>>());
    let mut stops = tokio::task::JoinSet::new();
    for inst in instances.iter().cloned() {
        let svc = svc.clone();
        stops.spawn(async move {
            svc.driver.shutdown(&inst.id, inst.process.as_ref(), std::time::Duration::ZERO).await;
            let _ = svc.driver.delete_disk(&inst.id);
        });
    }
    while stops.join_next().await.is_some() {}
    for image in images {
        let _ = svc.driver.delete_image(&image);
    }
    svc.wipe()?;
    svc.bootstrap()
}
