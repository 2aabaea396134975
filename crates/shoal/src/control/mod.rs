//! Reconcilers in the style of Kubernetes controllers: read the intent from the
//! service, look at the world through the runtime, act, record. Every operation is
//! idempotent, so a daemon restart simply picks up where the records say it was.
//!
//! # Layout
//! - `runner`: the one contract ([`runner::Controller`]: keys, `reconcile(key, &ctx)
//!   -> Result<Action, ControlError>`, an error policy) and the one runner (commit
//!   watch, periodic resync, one queue entry per key, never twice at once, requeues,
//!   backoff).
//! - Controllers on it: `instances` (per instance), `groups` (per group, plus the
//!   scheduled actions), `loadbalancers` (the data plane, and its metrics),
//!   `alarms` (evaluation and actions), `metrics` (CPU and network samplers),
//!   `group_metrics`, `deployments` (per deployment), `filters` (security groups
//!   loaded into each instance's network, per instance), `metadata` (each instance's
//!   metadata-service listener inside its network, per instance), `dns` (each VPC's
//!   resolver inside its network, per VPC).
//! - `refresh`: the instance-refresh step each group pass runs.
//! - `served`: the sockets the metadata and DNS controllers keep per key, with the
//!   network namespace they were made in.
//!
//! Still in `service/`: the deployment pass (`Service::deployment_pass`).

pub mod alarms;
pub mod deployments;
pub mod dns;
pub mod filters;
#[cfg(test)]
mod fixture;
pub mod group_metrics;
pub mod groups;
pub mod instances;
pub mod loadbalancers;
pub mod metadata;
pub mod metrics;
pub mod refresh;
pub mod runner;
mod served;

use std::sync::Arc;
use tokio::sync::watch;

use crate::service::Service;

/// Starts every controller; they stop when `shutdown` turns true.
/// The instances that have (or are about to get) a network of their own: every pending
/// or running one, on a driver that gives instances VPC networks.
pub(crate) fn instances_with_networks(svc: &Service) -> Vec<String> {
    if !svc.driver.vpc_network() {
        return Vec::new();
    }
    svc.read(|s| {
        s.instances.values().filter(|i| i.state.wants_processes()).map(|i| i.id.clone()).collect()
    })
}

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
        tokio::spawn(filters::run(svc.clone(), shutdown.clone())),
        tokio::spawn(metadata::run(svc.clone(), shutdown.clone())),
        tokio::spawn(dns::run(svc.clone(), shutdown.clone())),
    ]
}
