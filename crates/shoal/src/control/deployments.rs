//! The deployment controller: moves every active blue/green deployment on.
//!
//! Each pass runs [`Service::deployment_pass`] per active deployment (observe green's
//! group, its target health from the data plane and its metrics since the step began;
//! advance the model's state machine; commit the new record with its effects). The loop
//! wakes on every commit and at least every [`TICK`], so time-driven steps (a canary's
//! hold, blue's drain) end within a tick of their due time. Everything it needs is in
//! the record, so after a daemon restart it simply resumes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::service::Service;

/// Longest a due step waits for the controller.
pub const TICK: Duration = Duration::from_millis(250);

pub async fn run(svc: Arc<Service>, mut shutdown: watch::Receiver<bool>) {
    let mut changed = svc.subscribe();
    loop {
        reconcile_all(&svc);
        svc.telemetry.reconcile_pass("deployments");
        tokio::select! {
            _ = changed.changed() => {}
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One pass over every deployment that is moving (or asked to roll back).
pub fn reconcile_all(svc: &Service) {
    let ids: Vec<String> = svc.read(|s| {
        s.deployments
            .values()
            .filter(|d| d.status.is_active() || d.rollback_requested.is_some())
            .map(|d| d.id.clone())
            .collect()
    });
    for id in ids {
        if let Err(e) = svc.deployment_pass(&id) {
            tracing::warn!(deployment = %id, error = %e.message, "deployment pass failed");
        }
    }
}
