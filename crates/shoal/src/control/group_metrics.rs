//! Publishes the `AWS/AutoScaling` group metrics of groups with metrics collection
//! enabled, once per metric period (AWS: once a minute).

use std::sync::Arc;

use tokio::sync::watch;

use crate::service::Service;

pub async fn run(svc: Arc<Service>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(svc.config.metric_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = svc.publish_group_metrics() {
            tracing::warn!(error = %e, "could not publish group metrics");
        }
    }
}
