//! Blue/green deployments: a stored resource with a state machine that moves a load
//! balancer listener's traffic from the current (blue) Auto Scaling group to a new
//! (green) one, watching health gates at every step and rolling back by itself.
//!
//! # Layout
//! - [`strategy`]: all-at-once, canary, linear, explicit weights, and the CodeDeploy /
//!   lab swap; the schedule of green percentages each one walks.
//! - [`gates`]: the thresholds a step must stay within and their evaluation.
//! - this module: the [`Deployment`] record, its [`Status`] machine and [`advance`],
//!   the pure step the deployment controller runs: given the record, what the world
//!   looks like ([`Observed`]) and the time, the next record and the [`Effect`]s to
//!   carry out in the same commit.
//!
//! ```text
//!  Provisioning ──green healthy──▶ Shifting(step 0..n) ──last step held──▶ Draining
//!       │                              │                                   │
//!       │ timeout / gate / by hand     │ gate / by hand                    │ blue's deregistration
//!       ▼                              ▼                                   ▼ delay over
//!  RollingBack ◀───────────────────────┴───────────────────────────── Succeeded
//!       │ green group empty                      (by hand, only with --keep-blue)
//!       ▼
//!  RolledBack
//! ```
//! `Failed` is for what cannot be rolled back (the listener or blue group vanished).

pub mod gates;
pub mod strategy;

use crate::elbv2::health::TargetHealthState;
use crate::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use gates::{Gates, TargetObservation, Window};
pub use strategy::{weights_for, Strategy};

use crate::{AwsError, AwsResult};

/// Where a deployment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// The green group launches; waiting for its instances to be InService and its
    /// targets `healthy`.
    Provisioning,
    /// Traffic moves step by step; each step is held for the step interval.
    Shifting,
    /// Green takes everything; blue drains for its deregistration delay.
    Draining,
    Succeeded,
    /// Traffic is back on blue; the green group scales to 0 and is removed.
    RollingBack,
    RolledBack,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Provisioning => "Provisioning",
            Status::Shifting => "Shifting",
            Status::Draining => "Draining",
            Status::Succeeded => "Succeeded",
            Status::RollingBack => "RollingBack",
            Status::RolledBack => "RolledBack",
            Status::Failed => "Failed",
        }
    }

    /// Still moving: the controller works on it and it holds its listener.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Status::Provisioning | Status::Shifting | Status::Draining | Status::RollingBack
        )
    }
}

/// What happens to blue once green has all the traffic and blue has drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlueAfter {
    /// Capacity 0/0/0 (its instances terminate; the group stays, empty).
    ScaleToZero,
    /// Kept running and registered (weight 0), for a fast rollback by hand.
    Keep,
    /// Deleted with its instances.
    Delete,
}

impl BlueAfter {
    pub fn as_str(self) -> &'static str {
        match self {
            BlueAfter::ScaleToZero => "scale-to-zero",
            BlueAfter::Keep => "keep",
            BlueAfter::Delete => "delete",
        }
    }
}

/// The deployment's clocks, in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// How long each traffic step is held (and watched) before the next.
    pub step_seconds: u64,
    /// How long green may take to become healthy.
    pub health_timeout_seconds: u64,
    /// How long blue drains once green has everything (blue's deregistration delay).
    pub drain_seconds: u64,
}

/// One line of a deployment's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub status: Status,
    /// Green's share of traffic after the event, in percent.
    pub green_percent: u32,
    pub message: String,
}

/// Green's share of traffic from `at` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightPoint {
    pub at: DateTime<Utc>,
    pub green_percent: u32,
}

/// A deployment, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// `d-` and nine characters, as CodeDeploy's ids.
    pub id: String,
    pub load_balancer_arn: String,
    pub load_balancer_name: String,
    pub listener_arn: String,
    pub port: u16,
    pub blue_group: String,
    pub green_group: String,
    pub blue_target_group: String,
    /// Blue's own target group for a swap.
    pub green_target_group: String,
    pub launch_template_id: String,
    pub launch_template_name: String,
    pub launch_template_version: u64,
    pub image_id: Option<String>,
    pub strategy: Strategy,
    /// Green percentage of each step (see [`Strategy::schedule`]).
    pub schedule: Vec<u32>,
    pub timing: Timing,
    pub gates: Gates,
    pub blue_after: BlueAfter,
    pub status: Status,
    /// The current step (an index into `schedule`) while shifting.
    pub step: usize,
    pub green_percent: u32,
    /// When the current phase or step began (its gate window starts here).
    pub phase_started_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it rolled back or failed.
    pub reason: Option<String>,
    /// A rollback asked for by hand, carried out at the controller's next pass.
    pub rollback_requested: Option<String>,
    pub events: Vec<Event>,
    pub weights: Vec<WeightPoint>,
}

/// The two fleets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Blue,
    Green,
}

/// What the controller does, in the same commit as the new record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The listener forwards to both target groups with these weights.
    Route { blue: u32, green: u32 },
    /// The listener forwards to one side's target group only.
    RouteOnly(Side),
    /// Capacity 0/0/0.
    ScaleToZero(Side),
    /// DeleteAutoScalingGroup (forced).
    DeleteGroup(Side),
    /// Swap: the group leaves the shared target group (its instances drain).
    Detach(Side),
    /// Swap rollback: blue joins the shared target group again.
    Attach(Side),
    /// The green target group is deleted (weighted strategies, after a rollback).
    DeleteGreenTargetGroup,
}

/// What the deployment controller sees this pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub listener_exists: bool,
    pub blue_group_exists: bool,
    pub green_group_exists: bool,
    /// Green's desired capacity.
    pub green_desired: u32,
    /// Green instances InService and Healthy.
    pub green_ready: u32,
    /// Green instances in any lifecycle state.
    pub green_instances: u32,
    /// Green's target health and metrics since `phase_started_at`.
    pub window: Window,
}

/// A new deployment, `Provisioning`, with its first event.
pub fn new_deployment(mut d: Deployment, message: String) -> Deployment {
    d.status = Status::Provisioning;
    d.step = 0;
    d.green_percent = 0;
    d.phase_started_at = d.created_at;
    d.updated_at = d.created_at;
    d.weights = vec![WeightPoint { at: d.created_at, green_percent: 0 }];
    d.events.clear();
    let at = d.created_at;
    record(&mut d, at, message);
    d
}

fn record(d: &mut Deployment, at: DateTime<Utc>, message: String) {
    d.events.push(Event { at, status: d.status, green_percent: d.green_percent, message });
    d.updated_at = at;
}

fn set_percent(d: &mut Deployment, at: DateTime<Utc>, green_percent: u32) {
    if d.green_percent != green_percent || d.weights.is_empty() {
        d.weights.push(WeightPoint { at, green_percent });
    }
    d.green_percent = green_percent;
}

/// `shoal deploy rollback ID`: recorded on the deployment; the controller rolls back at
/// its next pass. Refused when there is nothing to roll back to.
pub fn request_rollback(d: &Deployment, now: DateTime<Utc>) -> AwsResult<Deployment> {
    let allowed = (d.status.is_active() && d.status != Status::RollingBack)
        || (d.status == Status::Succeeded && d.blue_after == BlueAfter::Keep);
    if !allowed {
        let why = match d.status {
            Status::RollingBack => "it is already rolling back".to_string(),
            Status::Succeeded => format!(
                "it succeeded and blue ({}) was {} (deploy with --keep-blue to keep a fast rollback)",
                d.blue_group,
                if d.blue_after == BlueAfter::Delete { "deleted" } else { "scaled to 0" }
            ),
            s => format!("it is {}", s.as_str()),
        };
        return Err(AwsError::new(
            ErrorCode::InvalidDeploymentStatus,
            format!("Deployment {} cannot be rolled back: {why}", d.id),
        ));
    }
    let mut d = d.clone();
    d.rollback_requested = Some("Rollback requested by the user.".into());
    d.updated_at = now;
    Ok(d)
}

/// One controller pass: the next record and what to do to get there.
pub fn advance(d: &Deployment, obs: &Observed, now: DateTime<Utc>) -> (Deployment, Vec<Effect>) {
    let mut d = d.clone();
    let mut fx = Vec::new();
    let elapsed = (now - d.phase_started_at).num_milliseconds() as f64 / 1000.0;
    let percent = d.green_percent;
    let by_hand = d.rollback_requested.take();
    match d.status {
        Status::Provisioning | Status::Shifting | Status::Draining => {
            if !obs.listener_exists || !obs.blue_group_exists {
                let what = if obs.listener_exists { "blue group" } else { "listener" };
                d.status = Status::Failed;
                d.reason = Some(format!("The {what} was deleted during the deployment."));
                d.ended_at = Some(now);
                if obs.green_group_exists {
                    fx.push(Effect::ScaleToZero(Side::Green));
                }
                let msg = format!("failed: {}", d.reason.clone().unwrap_or_default());
                record(&mut d, now, msg);
            } else if let Some(reason) = by_hand {
                start_rollback(&mut d, reason, now, &mut fx);
            } else if !obs.green_group_exists {
                start_rollback(&mut d, "The green group was deleted.".into(), now, &mut fx);
            } else if let Some(failed) = gates::evaluate(&d.gates, &obs.window) {
                let at = match d.status {
                    Status::Provisioning => "while green started".to_string(),
                    _ => format!("at {percent}% to green"),
                };
                start_rollback(&mut d, format!("Gate failed {at}: {failed}."), now, &mut fx);
            } else {
                match d.status {
                    Status::Provisioning => provisioning(&mut d, obs, now, elapsed, &mut fx),
                    Status::Shifting if elapsed >= d.timing.step_seconds as f64 => {
                        if d.step + 1 < d.schedule.len() {
                            let next = d.step + 1;
                            enter_step(&mut d, next, now, &mut fx);
                        } else {
                            enter_draining(&mut d, now, &mut fx);
                        }
                    }
                    Status::Draining if elapsed >= d.timing.drain_seconds as f64 => {
                        finish(&mut d, now, &mut fx)
                    }
                    _ => {}
                }
            }
        }
        Status::RollingBack => {
            if !obs.green_group_exists || obs.green_instances == 0 {
                if obs.green_group_exists {
                    fx.push(Effect::DeleteGroup(Side::Green));
                }
                if d.strategy.weighted() {
                    fx.push(Effect::DeleteGreenTargetGroup);
                }
                d.status = Status::RolledBack;
                d.ended_at = Some(now);
                let msg = format!(
                    "rolled back: {} removed; {} serves all traffic",
                    d.green_group, d.blue_group
                );
                record(&mut d, now, msg);
            }
        }
        Status::Succeeded => {
            if let Some(reason) = by_hand {
                if d.blue_after == BlueAfter::Keep && obs.blue_group_exists {
                    d.ended_at = None;
                    start_rollback(&mut d, reason, now, &mut fx);
                }
            }
        }
        Status::RolledBack | Status::Failed => {}
    }
    (d, fx)
}

fn provisioning(
    d: &mut Deployment,
    obs: &Observed,
    now: DateTime<Utc>,
    elapsed: f64,
    fx: &mut Vec<Effect>,
) {
    let healthy =
        obs.window.targets.iter().filter(|t| t.state == TargetHealthState::Healthy).count() as u32;
    let desired = obs.green_desired;
    if obs.green_ready >= desired && healthy >= desired {
        let msg = format!(
            "{} is healthy: {healthy} of {desired} target(s) healthy in {}",
            d.green_group,
            short_tg(&d.green_target_group)
        );
        record(d, now, msg);
        enter_step(d, 0, now, fx);
    } else if elapsed > d.timing.health_timeout_seconds as f64 {
        let targets: Vec<String> =
            obs.window.targets.iter().map(|t| format!("{} {}", t.id, t.state.as_str())).collect();
        let reason = format!(
            "Green did not become healthy within {}s: {} of {desired} instance(s) InService, {healthy} target(s) healthy{}.",
            d.timing.health_timeout_seconds,
            obs.green_ready,
            if targets.is_empty() { String::new() } else { format!(" ({})", targets.join(", ")) }
        );
        start_rollback(d, reason, now, fx);
    }
}

fn enter_step(d: &mut Deployment, step: usize, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
    d.status = Status::Shifting;
    d.step = step;
    d.phase_started_at = now;
    if d.strategy.weighted() {
        let pct = d.schedule[step];
        let (blue, green) = weights_for(pct);
        fx.push(Effect::Route { blue, green });
        set_percent(d, now, pct);
        let msg = format!(
            "step {} of {}: {pct}% to green, {}% to blue (held {}s)",
            step + 1,
            d.schedule.len(),
            100 - pct,
            d.timing.step_seconds
        );
        record(d, now, msg);
    } else {
        // Both fleets share the target group: requests go round robin over healthy targets.
        set_percent(d, now, 50);
        let msg = format!(
            "{} serves alongside {} in {} (held {}s)",
            d.green_group,
            d.blue_group,
            short_tg(&d.blue_target_group),
            d.timing.step_seconds
        );
        record(d, now, msg);
    }
}

fn enter_draining(d: &mut Deployment, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
    d.status = Status::Draining;
    d.phase_started_at = now;
    if !d.strategy.weighted() {
        fx.push(Effect::Detach(Side::Blue));
    }
    set_percent(d, now, 100);
    let msg = format!(
        "100% to green; {} drains for {}s (deregistration delay)",
        d.blue_group, d.timing.drain_seconds
    );
    record(d, now, msg);
}

fn finish(d: &mut Deployment, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
    let what = match d.blue_after {
        BlueAfter::ScaleToZero => {
            fx.push(Effect::ScaleToZero(Side::Blue));
            "scaled to 0"
        }
        BlueAfter::Delete => {
            fx.push(Effect::DeleteGroup(Side::Blue));
            "deleted"
        }
        BlueAfter::Keep => "kept for a fast rollback",
    };
    if d.strategy.weighted() && d.blue_after != BlueAfter::Keep {
        fx.push(Effect::RouteOnly(Side::Green));
    }
    d.status = Status::Succeeded;
    d.ended_at = Some(now);
    let msg = format!("succeeded: {} serves all traffic; {} {what}", d.green_group, d.blue_group);
    record(d, now, msg);
}

fn start_rollback(d: &mut Deployment, reason: String, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
    let was = d.status;
    if d.strategy.weighted() {
        fx.push(Effect::RouteOnly(Side::Blue));
    } else {
        if matches!(was, Status::Draining | Status::Succeeded) {
            fx.push(Effect::Attach(Side::Blue));
        }
        fx.push(Effect::Detach(Side::Green));
    }
    fx.push(Effect::ScaleToZero(Side::Green));
    d.status = Status::RollingBack;
    d.phase_started_at = now;
    d.reason = Some(reason.clone());
    set_percent(d, now, 0);
    record(d, now, format!("rolling back: all traffic to {}. {reason}", d.blue_group));
}

/// `targetgroup/<name>/<id>` → `<name>` for messages.
fn short_tg(arn: &str) -> &str {
    arn.rsplit_once(":targetgroup/")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .unwrap_or(arn)
}

/// A name for the green side from blue's: `…BLUE` → `…GREEN` (keeping case), `…GREEN`
/// → `…BLUE`, else `<blue>-green`; then `-2`, `-3`, … until `taken` says it is free.
/// `max_len` trims the base (target group names are at most 32 characters).
pub fn green_name(blue: &str, max_len: usize, taken: impl Fn(&str) -> bool) -> String {
    let swap = |s: &str, from: &str, to: &str| -> Option<String> {
        let lower = s.to_ascii_lowercase();
        lower.ends_with(from).then(|| {
            let stem = &s[..s.len() - from.len()];
            let upper = s[s.len() - from.len()..].chars().all(|c| c.is_ascii_uppercase());
            format!("{stem}{}", if upper { to.to_ascii_uppercase() } else { to.to_string() })
        })
    };
    let base = swap(blue, "blue", "green")
        .or_else(|| swap(blue, "green", "blue"))
        .unwrap_or_else(|| format!("{blue}-green"));
    let fit = |s: &str, suffix: &str| -> String {
        let keep = max_len.saturating_sub(suffix.len());
        let stem: String = s.chars().take(keep).collect();
        format!("{}{suffix}", stem.trim_end_matches('-'))
    };
    let first = fit(&base, "");
    if !taken(&first) {
        return first;
    }
    (2..)
        .map(|n| fit(&base, &format!("-{n}")))
        .find(|c| !taken(c))
        .expect("an unbounded range finds a free name")
}

#[cfg(test)]
mod tests;
