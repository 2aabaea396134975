//! PLACEHOLDER — owned by Auto Scaling. The Auto Scaling engineer replaces this file.
//!
//! The one hook through which a CloudWatch alarm runs an Auto Scaling policy: the alarm
//! loop calls [`Service::alarm_action`] for each due action, which sends every
//! `arn:aws:autoscaling:…:scalingPolicy:…` ARN here. Contract:
//! - called outside any lock, once per due action: on a transition into the state whose
//!   list holds the ARN, and again every evaluation period while the alarm stays in
//!   `ALARM` (AWS re-invokes scaling policies; see `cloudwatch::alarm::due_actions`);
//! - return `Ok(())` when the policy ran (or was rightly skipped, e.g. cooldown), or
//!   `Err(text)` with the error CloudWatch should show;
//! - do not record alarm history here: the caller records the `Action` item
//!   (`Successfully executed action <arn>` / `Failed to execute action <arn>.
//!   Received error: "<text>"`) from the result.

use shoal_model::cloudwatch::MetricAlarm;

use super::Service;

impl Service {
    /// Runs the Auto Scaling policy `action_arn` for `alarm`. Placeholder: Auto Scaling
    /// policies are not wired yet, so the action is reported as not run.
    pub fn autoscaling_alarm_action(
        &self,
        action_arn: &str,
        _alarm: &MetricAlarm,
    ) -> Result<(), String> {
        Err(format!(
            "Shoal could not run {action_arn}: Auto Scaling policies are not available yet."
        ))
    }
}
