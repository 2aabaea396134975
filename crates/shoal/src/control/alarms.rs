//! The alarm controller: one key, reconciled every `config.metric_period` (a
//! CloudWatch minute), or every 10 s when that is shorter, so high-resolution alarms
//! are evaluated once per their own period as CloudWatch does. Each pass evaluates the
//! alarms whose [`Service::evaluation_interval`] has come round, with the model's
//! evaluator at the clock's `now`, commits the state changes with their history, then
//! runs the due actions outside any lock (an Auto Scaling action again every period
//! while its alarm stays in ALARM, with the value just evaluated). Once an hour it also
//! drops datapoints and history past CloudWatch's retention.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shoal_model::cloudwatch::alarm::{apply_evaluation, due_actions, evaluate};
use shoal_model::cloudwatch::MetricAlarm;
use tokio::sync::watch;

use crate::control::runner::{self, Action, BoxFuture, ControlError, Controller, Settings};
use crate::service::cloudwatch::AlarmDue;
use crate::service::Service;

/// The shortest period CloudWatch evaluates an alarm on (high resolution).
const HIGH_RESOLUTION_INTERVAL: Duration = Duration::from_secs(10);

/// Evaluates the alarms that are due, once per tick.
pub struct AlarmController {
    /// Owned, for the blocking task a pass runs in.
    svc: Arc<Service>,
    tick_secs: u64,
    /// Ticks done so far: which alarms are due, and when to prune.
    ticks: AtomicU64,
}

impl AlarmController {
    /// Ticks every CloudWatch minute, or every 10 s when that is shorter.
    pub fn new(svc: &Arc<Service>) -> (AlarmController, Duration) {
        let minute = svc.config.metric_period.max(Duration::from_secs(1));
        let tick_every = minute.min(HIGH_RESOLUTION_INTERVAL);
        let ctrl = AlarmController {
            svc: svc.clone(),
            tick_secs: tick_every.as_secs().max(1),
            ticks: AtomicU64::new(0),
        };
        (ctrl, tick_every)
    }
}

impl Controller for AlarmController {
    type Key = ();
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "alarms"
    }

    fn keys(&self, _: &Service) -> Vec<()> {
        vec![()]
    }

    fn reconcile<'a>(
        &'a self,
        _: &'a (),
        _: &'a Service,
    ) -> BoxFuture<'a, Result<Action, ControlError>> {
        Box::pin(async move {
            let tick_secs = self.tick_secs;
            let ticks = self.ticks.fetch_add(1, Ordering::SeqCst) + 1;
            let elapsed = (ticks - 1) * tick_secs;
            let prune_every = (3600 / tick_secs).max(1);
            // Evaluation reads the store and the actions commit: off the async workers.
            let svc = self.svc.clone();
            tokio::task::spawn_blocking(move || {
                evaluate_where(&svc, |a| {
                    comes_round(elapsed, tick_secs, u64::from(svc.evaluation_interval(a)))
                });
                if ticks.is_multiple_of(prune_every) {
                    svc.prune_cloudwatch();
                }
            })
            .await
            .map_err(|e| ControlError::Runtime(e.into()))?;
            Ok(Action::await_change())
        })
    }
}

/// Runs until `shutdown` turns true.
pub async fn run(svc: Arc<Service>, shutdown: watch::Receiver<bool>) {
    let (ctrl, tick_every) = AlarmController::new(&svc);
    runner::run(Arc::new(ctrl), svc, Settings::every(tick_every), None, shutdown).await;
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
    for due in evaluate_alarms_where(svc, due) {
        svc.run_alarm_actions(&due);
    }
}

/// One evaluation pass over every alarm at the clock's `now`: state changes and
/// their history are committed together; returns each alarm whose actions are
/// due, with the actions and whether it transitioned. Callers then run them with
/// [`Service::run_alarm_actions`] (outside any lock).
pub fn evaluate_alarms(svc: &Service) -> Vec<AlarmDue> {
    evaluate_alarms_where(svc, |_| true)
}

/// [`evaluate_alarms`] over the alarms `due` picks (the alarm loop picks
/// those whose [`Service::evaluation_interval`] has come round).
pub fn evaluate_alarms_where(svc: &Service, due: impl Fn(&MetricAlarm) -> bool) -> Vec<AlarmDue> {
    let now = svc.clock.now();
    let alarms: Vec<MetricAlarm> =
        svc.read(|s| s.alarms.values().filter(|a| due(a)).cloned().collect());
    if alarms.is_empty() {
        return vec![];
    }
    let mut evaluations = Vec::new();
    for a in alarms {
        let window = match svc.alarm_window(&a, now) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(alarm = %a.alarm_name, error = %e, "alarm not evaluated");
                continue;
            }
        };
        // Reason data shows the period actually evaluated.
        let mut shown = a.clone();
        if let Some(p) = shown.period {
            shown.period = Some(svc.effective_period(p));
        }
        let eval = evaluate(&shown, &window, now);
        evaluations.push((a, eval));
    }
    let result = svc.mutate(|state, changes| {
        let mut due = Vec::new();
        for (seen, eval) in &evaluations {
            // Skip alarms deleted or reconfigured since they were read.
            let Some(current) = state.alarms.get(&seen.alarm_name) else { continue };
            if current.alarm_configuration_updated_timestamp
                != seen.alarm_configuration_updated_timestamp
            {
                continue;
            }
            let mut a = current.clone();
            let transitioned = match apply_evaluation(&mut a, eval, now) {
                Some(item) => {
                    changes.put(a.clone());
                    changes.store_only(move |w| w.put_alarm_history(&item));
                    true
                }
                None => false,
            };
            let actions = due_actions(&a, transitioned);
            if !actions.is_empty() {
                let value = eval.latest_value();
                due.push(AlarmDue { alarm: a, actions, transitioned, value });
            }
        }
        Ok(due)
    });
    result.unwrap_or_else(|e| {
        tracing::error!(error = %e, "could not record alarm evaluations");
        vec![]
    })
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
