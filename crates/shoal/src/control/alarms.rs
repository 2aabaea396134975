//! The alarm loop: it ticks every `config.metric_period` (a CloudWatch minute), or
//! every 10 s when that is shorter, so high-resolution alarms are evaluated once per
//! their own period as CloudWatch does; each tick evaluates the alarms whose
//! [`Service::evaluation_interval`] has come round, with the model's evaluator at the
//! clock's `now` (tokio time, so tests can pause it), commits the state changes with
//! their history, then runs the due actions outside any lock. Once an hour it also
//! drops datapoints and history past CloudWatch's retention.

use std::sync::Arc;
use std::time::Duration;

use shoal_model::cloudwatch::MetricAlarm;
use tokio::sync::watch;

use crate::service::Service;

/// The shortest period CloudWatch evaluates an alarm on (high resolution).
const HIGH_RESOLUTION_INTERVAL: Duration = Duration::from_secs(10);

/// Runs until `shutdown` turns true.
pub async fn run(svc: Arc<Service>, mut shutdown: watch::Receiver<bool>) {
    let minute = svc.config.metric_period.max(Duration::from_secs(1));
    let tick_every = minute.min(HIGH_RESOLUTION_INTERVAL);
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let tick_secs = tick_every.as_secs().max(1);
    let prune_every = (3600 / tick_secs).max(1);
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let elapsed = ticks * tick_secs;
        ticks += 1;
        let pass = svc.clone();
        let done = tokio::task::spawn_blocking(move || {
            evaluate_where(&pass, |a| {
                comes_round(elapsed, tick_secs, u64::from(pass.evaluation_interval(a)))
            });
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

/// Whether the tick at `elapsed` seconds (ticks `tick` seconds apart) is the first
/// at or past a multiple of `interval`: every alarm is due on the first tick, then
/// once per its interval (or every tick when the interval is shorter than a tick).
fn comes_round(elapsed: u64, tick: u64, interval: u64) -> bool {
    let interval = interval.max(1);
    elapsed == 0 || elapsed / interval != (elapsed - tick.min(elapsed)) / interval
}

/// One pass over every alarm: evaluate, record, act. Also what tests call directly.
pub fn evaluate_once(svc: &Service) {
    evaluate_where(svc, |_| true);
}

fn evaluate_where(svc: &Service, due: impl Fn(&MetricAlarm) -> bool) {
    for due in svc.evaluate_alarms_where(due) {
        svc.run_alarm_actions(&due);
    }
}

#[cfg(test)]
mod tests {
    use super::comes_round;

    /// (tick, interval) -> the elapsed seconds of the ticks an alarm is evaluated on,
    /// over the first two minutes.
    fn evaluated(tick: u64, interval: u64) -> Vec<u64> {
        (0..=120).step_by(tick as usize).filter(|&t| comes_round(t, tick, interval)).collect()
    }

    #[test]
    fn each_alarm_is_evaluated_once_per_its_interval() {
        // AWS's minute with 10 s ticks: standard alarms once a minute, 10 s alarms every tick,
        // 30 s alarms every third.
        assert_eq!(evaluated(10, 60), [0, 60, 120]);
        assert_eq!(evaluated(10, 10), (0..=120).step_by(10).collect::<Vec<_>>());
        assert_eq!(evaluated(10, 30), [0, 30, 60, 90, 120]);
        // A 3 s lab minute: every alarm on every tick, as before high resolution.
        assert_eq!(evaluated(3, 3), (0..=120).step_by(3).collect::<Vec<_>>());
        // A 15 s minute on 10 s ticks: the first tick past each multiple.
        assert_eq!(evaluated(10, 15), [0, 20, 30, 50, 60, 80, 90, 110, 120]);
    }
}
