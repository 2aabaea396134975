//! The deployment controller: moves every active blue/green deployment on.
//!
//! Keyed by deployment id (those moving or asked to roll back); each reconcile runs
//! [`Service::deployment_pass`] (observe green's group, its target health from the data
//! plane and its metrics since the step began; advance the model's state machine;
//! commit the new record with its effects). Triggered on every commit and at least
//! every [`TICK`], so time-driven steps (a canary's hold, blue's drain) end within a
//! tick of their due time. Everything it needs is in the record, so after a daemon
//! restart it simply resumes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::control::runner::{self, Action, BoxFuture, ControlError, Controller, Settings};
use crate::service::Service;

/// Longest a due step waits for the controller.
pub const TICK: Duration = Duration::from_millis(250);

pub struct DeploymentController;

impl Controller for DeploymentController {
    type Key = String;
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "deployments"
    }

    /// Every deployment that is moving (or asked to roll back).
    fn keys(&self, svc: &Service) -> Vec<String> {
        svc.read(|s| {
            s.deployments
                .values()
                .filter(|d| d.status.is_active() || d.rollback_requested.is_some())
                .map(|d| d.id.clone())
                .collect()
        })
    }

    fn reconcile<'a>(
        &'a self,
        id: &'a String,
        svc: &'a Service,
    ) -> BoxFuture<'a, Result<Action, ControlError>> {
        Box::pin(async move {
            svc.deployment_pass(id)?;
            Ok(Action::await_change())
        })
    }

    /// As before the runner: log and try again at the next tick, without backing off
    /// (a deployment's timers must not slip).
    fn error_policy(&self, id: &String, error: &ControlError, _: u32) -> Action {
        tracing::warn!(deployment = %id, %error, "deployment pass failed");
        Action::requeue(TICK)
    }
}

pub async fn run(svc: Arc<Service>, shutdown: watch::Receiver<bool>) {
    let commits = Some(svc.subscribe());
    let settings = Settings::watching(TICK, 1);
    runner::run(Arc::new(DeploymentController), svc, settings, commits, shutdown).await;
}
