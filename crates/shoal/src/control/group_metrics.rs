//! Publishes the `AWS/AutoScaling` group metrics of groups with metrics collection
//! enabled, once per metric period (AWS: once a minute): one key, on time only.

use std::sync::Arc;

use tokio::sync::watch;

use crate::control::runner::{self, Action, BoxFuture, ControlError, Controller, Settings};
use crate::service::Service;

pub struct GroupMetricsController;

impl Controller for GroupMetricsController {
    type Key = ();
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "group metrics"
    }

    fn keys(&self, _: &Service) -> Vec<()> {
        vec![()]
    }

    fn reconcile<'a>(
        &'a self,
        _: &'a (),
        svc: &'a Service,
    ) -> BoxFuture<'a, Result<Action, ControlError>> {
        Box::pin(async move {
            svc.publish_group_metrics()?;
            Ok(Action::await_change())
        })
    }

    /// Logged; the next period publishes again (no earlier retry, as before).
    fn error_policy(&self, _: &(), error: &ControlError, _: u32) -> Action {
        tracing::warn!(%error, "could not publish group metrics");
        Action::await_change()
    }
}

pub async fn run(svc: Arc<Service>, shutdown: watch::Receiver<bool>) {
    let settings = Settings::every(svc.config.metric_period);
    runner::run(Arc::new(GroupMetricsController), svc, settings, None, shutdown).await;
}
