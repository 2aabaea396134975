//! The alarm loop: once per `config.metric_period` (tokio time, so tests can pause
//! it), evaluate every alarm with the model's evaluator at the clock's `now`, commit
//! the state changes with their history, then run the due actions outside any lock.
//! Once an hour it also drops datapoints and history past CloudWatch's retention.

use std::sync::Arc;

use tokio::sync::watch;

use crate::service::Service;

/// Runs until `shutdown` turns true.
pub async fn run(svc: Arc<Service>, mut shutdown: watch::Receiver<bool>) {
    let period = svc.config.metric_period.max(std::time::Duration::from_secs(1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let prune_every = (3600 / period.as_secs().max(1)).max(1);
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        ticks += 1;
        let pass = svc.clone();
        let done = tokio::task::spawn_blocking(move || {
            evaluate_once(&pass);
            if ticks.is_multiple_of(prune_every) {
                pass.prune_cloudwatch();
            }
        })
        .await;
        if let Err(e) = done {
            tracing::error!(error = %e, "alarm evaluation pass failed");
        }
    }
}

/// One pass: evaluate, record, act. Also what tests call directly.
pub fn evaluate_once(svc: &Service) {
    for (alarm, actions, transitioned) in svc.evaluate_alarms() {
        svc.run_alarm_actions(&alarm, &actions, transitioned);
    }
}
