//! Health gates: what the green fleet must keep true at every step, judged from the
//! data plane's own measurements (AWS/ApplicationELB metrics of the green target group
//! and its targets' health).

use crate::elbv2::health::TargetHealthState;
use serde::{Deserialize, Serialize};

/// Thresholds a step must stay within; crossing one rolls the deployment back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gates {
    /// Most 5xx answers (target 5xx and load-balancer 5xx of the green target group),
    /// as a percentage of green's requests in the step.
    pub max_error_rate_percent: f64,
    /// Fewest green requests in a step before the error rate is judged (a single error
    /// among very few requests still fails once this many were seen).
    pub min_requests: u64,
    /// Most green targets allowed to be `unhealthy` at once.
    pub max_unhealthy_targets: u32,
    /// Highest average `TargetResponseTime` of green in a step, in milliseconds.
    pub max_response_time_ms: Option<u64>,
}

impl Default for Gates {
    fn default() -> Self {
        Gates {
            max_error_rate_percent: 5.0,
            min_requests: 1,
            max_unhealthy_targets: 0,
            max_response_time_ms: Some(2000),
        }
    }
}

/// What the green target group did during the current step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    /// Seconds the window covers (for messages).
    pub seconds: f64,
    /// `RequestCount`.
    pub requests: u64,
    /// `HTTPCode_Target_5XX_Count` + `HTTPCode_ELB_5XX_Count`.
    pub errors: u64,
    /// Average `TargetResponseTime`, seconds, when any response was timed.
    pub avg_response_time: Option<f64>,
    /// Green targets and their health state and reason (`healthy`, `unhealthy`, …).
    pub targets: Vec<TargetObservation>,
}

/// One green target's health as DescribeTargetHealth shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetObservation {
    pub id: String,
    pub state: TargetHealthState,
    pub description: Option<String>,
}

impl Window {
    /// The error rate in percent, when there were requests.
    pub fn error_rate_percent(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 * 100.0 / self.requests as f64)
    }
}

/// The first gate the window fails, as a sentence for the deployment's reason.
pub fn evaluate(gates: &Gates, w: &Window) -> Option<String> {
    let unhealthy: Vec<&TargetObservation> =
        w.targets.iter().filter(|t| t.state == TargetHealthState::Unhealthy).collect();
    if unhealthy.len() as u32 > gates.max_unhealthy_targets {
        let list: Vec<String> = unhealthy
            .iter()
            .map(|t| match &t.description {
                Some(d) => format!("{} ({d})", t.id),
                None => t.id.clone(),
            })
            .collect();
        return Some(format!(
            "{} green target(s) unhealthy, more than the {} allowed: {}",
            unhealthy.len(),
            gates.max_unhealthy_targets,
            list.join(", ")
        ));
    }
    if w.requests >= gates.min_requests.max(1) {
        if let Some(rate) = w.error_rate_percent() {
            if rate > gates.max_error_rate_percent {
                return Some(format!(
                    "green answered {} of {} requests with 5xx ({rate:.1}%) in {:.0}s, over the {}% allowed",
                    w.errors, w.requests, w.seconds, gates.max_error_rate_percent
                ));
            }
        }
    }
    if let (Some(max), Some(avg)) = (gates.max_response_time_ms, w.avg_response_time) {
        if avg * 1000.0 > max as f64 {
            return Some(format!(
                "green's average response time {:.0} ms is over the {max} ms allowed",
                avg * 1000.0
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(id: &str, state: &str) -> TargetObservation {
        TargetObservation {
            id: id.into(),
            state: TargetHealthState::parse(state).unwrap(),
            description: None,
        }
    }

    fn check(w: Window, want: Option<&str>) {
        let got = evaluate(&Gates::default(), &w);
        match (got, want) {
            (None, None) => {}
            (Some(g), Some(w)) => assert!(g.contains(w), "{g} !~ {w}"),
            (g, w) => panic!("got {g:?}, want {w:?}"),
        }
    }

    #[test]
    fn gates() {
        check(Window::default(), None);
        check(Window { requests: 100, errors: 5, ..Default::default() }, None);
        check(
            Window { requests: 100, errors: 6, seconds: 3.0, ..Default::default() },
            Some("6 of 100 requests with 5xx (6.0%) in 3s"),
        );
        check(Window { requests: 1, errors: 1, ..Default::default() }, Some("1 of 1"));
        check(Window { requests: 0, errors: 3, ..Default::default() }, None);
        check(Window { avg_response_time: Some(2.5), ..Default::default() }, Some("2500 ms"));
        check(Window { avg_response_time: Some(0.01), ..Default::default() }, None);
        check(
            Window {
                targets: vec![target("i-1", "healthy"), target("i-2", "unhealthy")],
                ..Default::default()
            },
            Some("1 green target(s) unhealthy, more than the 0 allowed: i-2"),
        );
        check(
            Window {
                targets: vec![target("i-1", "initial"), target("i-2", "draining")],
                ..Default::default()
            },
            None,
        );
    }
}
