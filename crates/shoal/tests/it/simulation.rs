//! The seed of a simulator: the real scaling loop — CPU sampler, CloudWatch alarms,
//! target-tracking policy, group controller — on the fake runtime and a virtual clock,
//! through a day of synthetic load on a group of up to a thousand instances.
//!
//! Every simulated minute: each running instance burns CPU in proportion to its share
//! of the demand; the sampler turns that into `CPUUtilization`; alarms are evaluated;
//! the controllers launch and terminate. Properties are asserted; the run's figures
//! (and its wall time) are printed, never asserted.

use std::collections::HashMap;
use std::time::Duration;

use shoal::control::metrics::{measure, CpuSampler};
use shoal_model::autoscaling::group::LifecycleState;
use shoal_model::autoscaling::policy::PredefinedMetricType;

use crate::world::World;

const GROUP: &str = "SIMULATED-GROUP";
const TARGET: f64 = 50.0;

/// Busy vCPUs the group must serve at `minute` of the day: a daily wave from 20 to 400
/// with a lunchtime burst to 540, more than the group's thousand instances can hold at
/// the 50% target, so MaxSize caps the peak.
fn demand(minute: u32) -> f64 {
    let day = std::f64::consts::TAU * f64::from(minute) / 1440.0;
    let wave = 20.0 + 380.0 * (1.0 - day.cos()) / 2.0;
    let burst = if (690..750).contains(&minute) { 140.0 } else { 0.0 };
    wave + burst
}

#[tokio::test(flavor = "current_thread")]
async fn a_day_of_load_on_up_to_a_thousand_instances() {
    let started = tokio::time::Instant::now();
    let w = World::new();
    w.create_group(GROUP, 2, 1000, Some(60));
    w.target_tracking(GROUP, "cpu50", PredefinedMetricType::AsgAverageCpuUtilization, TARGET);

    let mut sampler = CpuSampler::default();
    let mut burned: HashMap<String, f64> = HashMap::new();
    let (mut peak, mut scale_outs, mut scale_ins) = (0u32, 0u32, 0u32);
    let mut previous_desired = 2;
    let mut settled_error = Vec::new();
    for minute in 0..1440u32 {
        let running = w.running();
        let util =
            if running.is_empty() { 0.0 } else { (demand(minute) / running.len() as f64).min(1.0) };
        for id in &running {
            let total = burned.entry(id.clone()).or_default();
            *total += util * 60.0;
            w.driver.set_cpu_seconds(id, *total);
        }
        w.clock.advance(Duration::from_secs(60));
        sampler.record(&w.svc, measure(&w.svc), f64::from(minute + 1) * 60.0);
        shoal::control::alarms::evaluate_once(&w.svc);
        w.tick().await;
        let (desired, min, max, live) = w.svc.read(|s| {
            let g = &s.groups[GROUP];
            let live =
                g.instances.iter().filter(|i| i.lifecycle_state.counts_toward_capacity()).count()
                    as u32;
            (g.desired_capacity, g.min_size, g.max_size, live)
        });
        assert!(
            (min..=max).contains(&desired),
            "minute {minute}: desired {desired} outside [{min}, {max}]"
        );
        assert_eq!(live, desired, "minute {minute}: the controller keeps capacity at desired");
        peak = peak.max(desired);
        scale_outs += u32::from(desired > previous_desired);
        scale_ins += u32::from(desired < previous_desired);
        previous_desired = desired;
        // Away from the burst's edges, the fleet tracks its target.
        if minute > 120 && !(680..800).contains(&minute) && util < 1.0 {
            settled_error.push((util * 100.0 - TARGET).abs());
        }
    }
    let in_service = w.svc.read(|s| {
        s.groups[GROUP]
            .instances
            .iter()
            .filter(|i| i.lifecycle_state == LifecycleState::InService)
            .count()
    });
    let mean_error = settled_error.iter().sum::<f64>() / settled_error.len() as f64;
    println!(
        "simulated 1440 minutes in {:.2?}: peak {peak} instances, {scale_outs} scale-outs, {scale_ins} scale-ins, \
         mean |CPU - target| {mean_error:.1} points, {in_service} in service at the end, {} fake boots",
        started.elapsed(),
        w.driver.boots.load(std::sync::atomic::Ordering::SeqCst),
    );
    assert_eq!(peak, 1000, "the midday burst took the group to its MaxSize of a thousand");
    assert!(previous_desired <= 80, "and back in at night (ended at {previous_desired})");
    assert!(scale_outs > 5 && scale_ins > 5);
    assert!(mean_error < 20.0, "CPU tracked the {TARGET}% target (mean error {mean_error:.1})");
}
