//! The target health state machine (DescribeTargetHealth) as pure functions.
//!
//! The data plane runs the checks and feeds each outcome to [`HealthCounter::observe`];
//! [`TargetHealth::report`] turns the counter plus what the control plane knows
//! (draining, target group in use, instance stopped) into AWS's state, reason code and
//! description.

use serde::{Deserialize, Serialize};

/// `TargetHealthStateEnum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TargetHealthState {
    Initial,
    Healthy,
    Unhealthy,
    UnhealthyDraining,
    Unused,
    Draining,
    Unavailable,
}

impl TargetHealthState {
    /// Every state, in AWS's order.
    pub const ALL: [TargetHealthState; 7] = [
        TargetHealthState::Initial,
        TargetHealthState::Healthy,
        TargetHealthState::Unhealthy,
        TargetHealthState::UnhealthyDraining,
        TargetHealthState::Unused,
        TargetHealthState::Draining,
        TargetHealthState::Unavailable,
    ];

    /// The state of AWS's wire value.
    pub fn parse(value: &str) -> Option<TargetHealthState> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// AWS's wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetHealthState::Initial => "initial",
            TargetHealthState::Healthy => "healthy",
            TargetHealthState::Unhealthy => "unhealthy",
            TargetHealthState::UnhealthyDraining => "unhealthy.draining",
            TargetHealthState::Unused => "unused",
            TargetHealthState::Draining => "draining",
            TargetHealthState::Unavailable => "unavailable",
        }
    }
}

/// `TargetHealthReasonEnum`. Healthy targets carry no reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TargetHealthReason {
    /// Registered; no check has completed yet.
    RegistrationInProgress,
    /// Checks are running but the first verdict is not in.
    InitialHealthChecking,
    /// The target answered with a code outside the matcher.
    ResponseCodeMismatch,
    /// No answer within the health-check timeout.
    Timeout,
    /// Connection error or malformed response.
    FailedHealthChecks,
    /// The health checker itself failed.
    InternalError,
    /// The target is not registered with the target group.
    NotRegistered,
    /// The target group receives no traffic from any listener.
    NotInUse,
    /// The instance is stopped or terminated.
    InvalidState,
    /// Deregistered; the deregistration delay has not expired.
    DeregistrationInProgress,
    /// The target group has health checks disabled.
    HealthCheckDisabled,
}

impl TargetHealthReason {
    /// AWS's reason code, e.g. `Target.FailedHealthChecks`.
    pub fn code(self) -> &'static str {
        match self {
            TargetHealthReason::RegistrationInProgress => "Elb.RegistrationInProgress",
            TargetHealthReason::InitialHealthChecking => "Elb.InitialHealthChecking",
            TargetHealthReason::ResponseCodeMismatch => "Target.ResponseCodeMismatch",
            TargetHealthReason::Timeout => "Target.Timeout",
            TargetHealthReason::FailedHealthChecks => "Target.FailedHealthChecks",
            TargetHealthReason::InternalError => "Elb.InternalError",
            TargetHealthReason::NotRegistered => "Target.NotRegistered",
            TargetHealthReason::NotInUse => "Target.NotInUse",
            TargetHealthReason::InvalidState => "Target.InvalidState",
            TargetHealthReason::DeregistrationInProgress => "Target.DeregistrationInProgress",
            TargetHealthReason::HealthCheckDisabled => "Target.HealthCheckDisabled",
        }
    }
}

/// The result of one health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckOutcome {
    /// The status code matched the target group's matcher within the timeout.
    Pass,
    /// A complete answer whose status code did not match.
    CodeMismatch(u16),
    /// No complete answer within the timeout.
    Timeout,
    /// Connection refused/reset or a malformed answer.
    Failed,
}

/// The verdict of the checks so far, before the control plane's view is laid over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckVerdict {
    Initial,
    Healthy,
    Unhealthy,
}

/// Consecutive-result counter for one target: what AWS keeps per target to decide
/// transitions. Start with [`HealthCounter::new`] at registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCounter {
    pub verdict: CheckVerdict,
    /// Checks completed since registration (0: `Elb.RegistrationInProgress`).
    pub checks: u32,
    pub consecutive_passes: u32,
    pub consecutive_failures: u32,
    /// The latest failure, which names the unhealthy reason.
    pub last_failure: Option<CheckOutcome>,
}

impl Default for HealthCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthCounter {
    /// A newly registered target: `initial`, `Elb.RegistrationInProgress`.
    pub fn new() -> Self {
        HealthCounter {
            verdict: CheckVerdict::Initial,
            checks: 0,
            consecutive_passes: 0,
            consecutive_failures: 0,
            last_failure: None,
        }
    }

    /// Applies one check result. AWS's rules: `initial` becomes `healthy` after **one**
    /// pass (and `unhealthy` after UnhealthyThreshold consecutive failures);
    /// `healthy` becomes `unhealthy` after UnhealthyThreshold consecutive failures;
    /// `unhealthy` becomes `healthy` after HealthyThreshold consecutive passes.
    pub fn observe(
        self,
        outcome: CheckOutcome,
        healthy_threshold: u32,
        unhealthy_threshold: u32,
    ) -> Self {
        let mut next = self;
        next.checks = next.checks.saturating_add(1);
        if outcome == CheckOutcome::Pass {
            next.consecutive_passes = next.consecutive_passes.saturating_add(1);
            next.consecutive_failures = 0;
        } else {
            next.consecutive_failures = next.consecutive_failures.saturating_add(1);
            next.consecutive_passes = 0;
            next.last_failure = Some(outcome);
        }
        next.verdict = match (self.verdict, outcome) {
            (CheckVerdict::Initial, CheckOutcome::Pass) => CheckVerdict::Healthy,
            (CheckVerdict::Unhealthy, CheckOutcome::Pass)
                if next.consecutive_passes >= healthy_threshold =>
            {
                CheckVerdict::Healthy
            }
            (CheckVerdict::Initial | CheckVerdict::Healthy, o)
                if o != CheckOutcome::Pass && next.consecutive_failures >= unhealthy_threshold =>
            {
                CheckVerdict::Unhealthy
            }
            (v, _) => v,
        };
        next
    }
}

/// What the control plane knows about a registered target, laid over the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TargetContext {
    /// Deregistered and within the deregistration delay.
    pub draining: bool,
    /// The target group is the target of at least one listener action.
    pub in_use: bool,
    /// The instance behind an `instance` target is stopped (or terminated).
    pub instance_stopped: bool,
    /// The target group has `HealthCheckEnabled=false`.
    pub health_checks_disabled: bool,
}

/// DescribeTargetHealth's `TargetHealth`: state, reason code and description
/// (no reason or description for `healthy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetHealth {
    pub state: TargetHealthState,
    pub reason: Option<TargetHealthReason>,
    pub description: Option<String>,
}

impl TargetHealth {
    fn new(
        state: TargetHealthState,
        reason: Option<TargetHealthReason>,
        description: Option<String>,
    ) -> Self {
        TargetHealth { state, reason, description }
    }

    /// `healthy`, no reason.
    pub fn healthy() -> Self {
        Self::new(TargetHealthState::Healthy, None, None)
    }

    /// A target that is not (or no longer) registered: `unused`, `Target.NotRegistered`
    /// (what the `target-deregistered` waiter waits for).
    pub fn not_registered() -> Self {
        Self::new(
            TargetHealthState::Unused,
            Some(TargetHealthReason::NotRegistered),
            Some("Target is not registered to the target group".into()),
        )
    }

    /// The state AWS reports for a registered target, from its check counter and
    /// context. Precedence follows AWS: draining first (an unhealthy draining target is
    /// `unhealthy.draining`), then stopped instances and unused target groups
    /// (`unused`, checks do not count), then disabled checks, then the verdict.
    pub fn report(counter: &HealthCounter, ctx: TargetContext) -> Self {
        use TargetHealthReason as R;
        use TargetHealthState as S;
        if ctx.draining {
            let state = if counter.verdict == CheckVerdict::Unhealthy {
                S::UnhealthyDraining
            } else {
                S::Draining
            };
            return Self::new(
                state,
                Some(R::DeregistrationInProgress),
                Some("Target deregistration is in progress".into()),
            );
        }
        if ctx.instance_stopped {
            return Self::new(
                S::Unused,
                Some(R::InvalidState),
                Some("Target is in the stopped state".into()),
            );
        }
        if !ctx.in_use {
            return Self::new(
                S::Unused,
                Some(R::NotInUse),
                Some(
                    "Target group is not configured to receive traffic from the load balancer"
                        .into(),
                ),
            );
        }
        if ctx.health_checks_disabled {
            return Self::new(
                S::Unavailable,
                Some(R::HealthCheckDisabled),
                Some("Health checks are disabled".into()),
            );
        }
        match counter.verdict {
            CheckVerdict::Healthy => Self::healthy(),
            CheckVerdict::Initial if counter.checks == 0 => Self::new(
                S::Initial,
                Some(R::RegistrationInProgress),
                Some("Target registration is in progress".into()),
            ),
            CheckVerdict::Initial => Self::new(
                S::Initial,
                Some(R::InitialHealthChecking),
                Some("Initial health checks in progress".into()),
            ),
            CheckVerdict::Unhealthy => {
                let (reason, description) = match counter.last_failure {
                    Some(CheckOutcome::CodeMismatch(code)) => (
                        R::ResponseCodeMismatch,
                        format!("Health checks failed with these codes: [{code}]"),
                    ),
                    Some(CheckOutcome::Timeout) => (R::Timeout, "Request timed out".to_string()),
                    _ => (R::FailedHealthChecks, "Health checks failed".to_string()),
                };
                Self::new(S::Unhealthy, Some(reason), Some(description))
            }
        }
    }

    /// Whether the load balancer routes new requests to a target in this state when at
    /// least one target is healthy. (When none is, it fails open: see the proxy.)
    pub fn routable(&self) -> bool {
        self.state == TargetHealthState::Healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckOutcome::*;

    fn run(outcomes: &[CheckOutcome], healthy: u32, unhealthy: u32) -> HealthCounter {
        outcomes.iter().fold(HealthCounter::new(), |c, o| c.observe(*o, healthy, unhealthy))
    }

    fn in_use() -> TargetContext {
        TargetContext { in_use: true, ..Default::default() }
    }

    #[test]
    fn transitions() {
        use CheckVerdict as V;
        // (outcomes, healthy threshold, unhealthy threshold, expected verdict)
        let cases: &[(&[CheckOutcome], u32, u32, CheckVerdict)] = &[
            (&[], 5, 2, V::Initial),
            (&[Pass], 5, 2, V::Healthy),
            (&[Failed], 5, 2, V::Initial),
            (&[Failed, Failed], 5, 2, V::Unhealthy),
            (&[Pass, Failed], 5, 2, V::Healthy),
            (&[Pass, Failed, Failed], 5, 2, V::Unhealthy),
            (&[Pass, Failed, Pass, Failed], 5, 2, V::Healthy),
            (&[Pass, Timeout, Timeout, Timeout], 5, 3, V::Unhealthy),
            (&[Pass, Failed, Failed, Pass], 2, 2, V::Unhealthy),
            (&[Pass, Failed, Failed, Pass, Pass], 2, 2, V::Healthy),
            (&[Pass, Failed, Failed, Pass, Failed, Pass, Pass], 2, 2, V::Healthy),
            (&[Pass, Failed, Failed, Pass, Pass, Pass, Pass], 5, 2, V::Unhealthy),
        ];
        for (outcomes, h, u, want) in cases {
            assert_eq!(run(outcomes, *h, *u).verdict, *want, "{outcomes:?} {h}/{u}");
        }
    }

    #[test]
    fn reports() {
        let r = TargetHealth::report(&HealthCounter::new(), in_use());
        assert_eq!(r.state, TargetHealthState::Initial);
        assert_eq!(r.reason.unwrap().code(), "Elb.RegistrationInProgress");
        assert_eq!(r.description.as_deref(), Some("Target registration is in progress"));

        let r = TargetHealth::report(&run(&[Failed], 5, 2), in_use());
        assert_eq!(r.reason.unwrap().code(), "Elb.InitialHealthChecking");

        assert_eq!(TargetHealth::report(&run(&[Pass], 5, 2), in_use()), TargetHealth::healthy());

        let r = TargetHealth::report(
            &run(&[Pass, CodeMismatch(502), CodeMismatch(502)], 5, 2),
            in_use(),
        );
        assert_eq!(r.state.as_str(), "unhealthy");
        assert_eq!(r.reason.unwrap().code(), "Target.ResponseCodeMismatch");
        assert_eq!(r.description.as_deref(), Some("Health checks failed with these codes: [502]"));

        let r = TargetHealth::report(&run(&[Pass, Timeout, Timeout], 5, 2), in_use());
        assert_eq!(r.reason.unwrap().code(), "Target.Timeout");
        assert_eq!(r.description.as_deref(), Some("Request timed out"));

        let unhealthy = run(&[Pass, Failed, Failed], 5, 2);
        let r = TargetHealth::report(&unhealthy, in_use());
        assert_eq!(r.reason.unwrap().code(), "Target.FailedHealthChecks");
        assert_eq!(r.description.as_deref(), Some("Health checks failed"));

        let r = TargetHealth::report(&unhealthy, TargetContext { draining: true, ..in_use() });
        assert_eq!(r.state.as_str(), "unhealthy.draining");
        let r =
            TargetHealth::report(&run(&[Pass], 5, 2), TargetContext { draining: true, ..in_use() });
        assert_eq!(r.state.as_str(), "draining");
        assert_eq!(r.reason.unwrap().code(), "Target.DeregistrationInProgress");

        let r = TargetHealth::report(&unhealthy, TargetContext::default());
        assert_eq!((r.state.as_str(), r.reason.unwrap().code()), ("unused", "Target.NotInUse"));
        let r =
            TargetHealth::report(&unhealthy, TargetContext { instance_stopped: true, ..in_use() });
        assert_eq!((r.state.as_str(), r.reason.unwrap().code()), ("unused", "Target.InvalidState"));
        assert_eq!(r.description.as_deref(), Some("Target is in the stopped state"));
        let r = TargetHealth::not_registered();
        assert_eq!(
            (r.state.as_str(), r.reason.unwrap().code()),
            ("unused", "Target.NotRegistered")
        );
        let r = TargetHealth::report(
            &unhealthy,
            TargetContext { health_checks_disabled: true, ..in_use() },
        );
        assert_eq!(r.state.as_str(), "unavailable");
    }
}
