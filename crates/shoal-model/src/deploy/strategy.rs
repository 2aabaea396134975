//! How traffic moves from blue to green: the strategies and their weight schedules.

use serde::{Deserialize, Serialize};

use crate::{AwsError, AwsResult};

/// A deployment's traffic strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    /// 100% to green in one step.
    AllAtOnce,
    /// `percent` to green for one interval, then 100%.
    Canary { percent: u32 },
    /// `percent` more to green every interval until 100%.
    Linear { percent: u32 },
    /// An explicit schedule of green percentages, increasing, ending at 100.
    Weights { steps: Vec<u32> },
    /// CodeDeploy's blue/green on EC2 (and the lab's Part 3): green registers into
    /// blue's target group, then blue is deregistered and drains. No weighted forward.
    Swap,
}

impl Strategy {
    /// Parses the CLI/API form: `all-at-once`, `canary`, `linear`, `swap`, with the
    /// step percentage or explicit weights for those that need them.
    pub fn parse(name: &str, percent: Option<u32>, weights: &[u32]) -> AwsResult<Strategy> {
        let need_percent = |what: &str, max: u32| -> AwsResult<u32> {
            let p = percent.ok_or_else(|| {
                AwsError::validation(format!(
                    "The {what} strategy needs a step percentage (--percent)"
                ))
            })?;
            if p == 0 || p > max {
                return Err(AwsError::validation(format!(
                    "The {what} step percentage must be between 1 and {max}; got {p}"
                )));
            }
            Ok(p)
        };
        let s = match name {
            "all-at-once" | "AllAtOnce" => Strategy::AllAtOnce,
            "canary" | "Canary" => Strategy::Canary { percent: need_percent("canary", 99)? },
            "linear" | "Linear" => Strategy::Linear { percent: need_percent("linear", 100)? },
            "swap" | "Swap" => Strategy::Swap,
            "weights" | "Weights" => Strategy::Weights { steps: weights.to_vec() },
            other => {
                return Err(AwsError::validation(format!(
                    "Unknown strategy '{other}': use all-at-once, canary, linear, weights or swap"
                )))
            }
        };
        if !weights.is_empty() && !matches!(s, Strategy::Weights { .. }) {
            return Err(AwsError::validation(
                "Explicit weights (--weights) go with the weights strategy only",
            ));
        }
        s.schedule()?;
        Ok(s)
    }

    /// The strategy's name as the CLI and API spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::AllAtOnce => "all-at-once",
            Strategy::Canary { .. } => "canary",
            Strategy::Linear { .. } => "linear",
            Strategy::Weights { .. } => "weights",
            Strategy::Swap => "swap",
        }
    }

    /// The green percentage of each step, in order; the last is always 100.
    /// A swap has one step: green joins blue's target group (then blue leaves).
    pub fn schedule(&self) -> AwsResult<Vec<u32>> {
        match self {
            Strategy::AllAtOnce | Strategy::Swap => Ok(vec![100]),
            Strategy::Canary { percent } => Ok(vec![*percent, 100]),
            Strategy::Linear { percent } => {
                let p = (*percent).max(1);
                let mut out: Vec<u32> = (1..).map(|i| i * p).take_while(|w| *w < 100).collect();
                out.push(100);
                Ok(out)
            }
            Strategy::Weights { steps } => {
                if steps.is_empty() {
                    return Err(AwsError::validation(
                        "The weights strategy needs at least one step (--weights 10,50,100)",
                    ));
                }
                for (i, w) in steps.iter().enumerate() {
                    if *w == 0 || *w > 100 {
                        return Err(AwsError::validation(format!(
                            "Weights are green percentages from 1 to 100; got {w}"
                        )));
                    }
                    if i > 0 && *w <= steps[i - 1] {
                        return Err(AwsError::validation(format!(
                            "Weights must increase step by step; {w} follows {}",
                            steps[i - 1]
                        )));
                    }
                }
                if steps.last() != Some(&100) {
                    return Err(AwsError::validation(format!(
                        "Weights do not add up: the last step must send 100% to green, not {}%",
                        steps.last().copied().unwrap_or(0)
                    )));
                }
                Ok(steps.clone())
            }
        }
    }

    /// True for the strategies that move traffic with a weighted forward.
    pub fn weighted(&self) -> bool {
        !matches!(self, Strategy::Swap)
    }
}

/// The listener weights (blue, green) for a green percentage: AWS weights are 0–999
/// and proportional, so percentages are used as they are.
pub fn weights_for(green_percent: u32) -> (u32, u32) {
    let g = green_percent.min(100);
    (100 - g, g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, percent: Option<u32>, weights: &[u32], want: Result<Vec<u32>, &str>) {
        let got = Strategy::parse(name, percent, weights).and_then(|s| s.schedule());
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{name} {percent:?} {weights:?}"),
            (Err(e), Err(w)) => assert!(e.message.contains(w), "{name}: {} !~ {w}", e.message),
            (g, w) => panic!("{name} {percent:?} {weights:?}: got {g:?}, want {w:?}"),
        }
    }

    #[test]
    fn schedules() {
        check("all-at-once", None, &[], Ok(vec![100]));
        check("swap", None, &[], Ok(vec![100]));
        check("canary", Some(10), &[], Ok(vec![10, 100]));
        check("linear", Some(25), &[], Ok(vec![25, 50, 75, 100]));
        check("linear", Some(30), &[], Ok(vec![30, 60, 90, 100]));
        check("linear", Some(100), &[], Ok(vec![100]));
        check("weights", None, &[10, 50, 100], Ok(vec![10, 50, 100]));
    }

    #[test]
    fn refusals() {
        check("canary", None, &[], Err("needs a step percentage"));
        check("canary", Some(100), &[], Err("between 1 and 99"));
        check("linear", Some(0), &[], Err("between 1 and 100"));
        check("weights", None, &[10, 50, 90], Err("do not add up"));
        check("weights", None, &[50, 10, 100], Err("must increase"));
        check("weights", None, &[0, 100], Err("from 1 to 100"));
        check("weights", None, &[], Err("at least one step"));
        check("canary", Some(10), &[10, 100], Err("weights strategy only"));
        check("blue-green", None, &[], Err("Unknown strategy"));
    }

    #[test]
    fn weights() {
        assert_eq!(weights_for(10), (90, 10));
        assert_eq!(weights_for(100), (0, 100));
    }
}
