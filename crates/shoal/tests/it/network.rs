//! Target tracking on `ASGAverageNetworkIn` against the fake runtime's synthetic
//! traffic, one CloudWatch minute per step: the network sampler publishes each
//! instance's bytes per period, the group's average drives the policy's alarms, the
//! group scales out to carry the traffic at the target and back in when it stops.

use std::collections::HashMap;
use std::time::Duration;

use shoal::control::metrics::{measure_network, NetworkSampler};
use shoal::runtime::NetCounters;
use shoal_model::autoscaling::policy::PredefinedMetricType;
use shoal_model::cloudwatch::{Dimension, MetricId};

use crate::world::World;

const GROUP: &str = "NETWORK-GROUP";
/// Bytes received per instance per period.
const TARGET: f64 = 1_000_000.0;

#[tokio::test(flavor = "current_thread")]
async fn network_in_target_tracking_scales_out_with_traffic_and_back_in() {
    let w = World::new();
    w.create_group(GROUP, 1, 5, Some(60));
    w.target_tracking(GROUP, "net-in", PredefinedMetricType::AsgAverageNetworkIn, TARGET);

    let started = w.svc.clock.now();
    let mut sampler = NetworkSampler::default();
    let mut received: HashMap<String, u64> = HashMap::new();
    let mut desired_by_minute = Vec::new();
    for minute in 0..60u32 {
        // 2.5 MB a minute spread over the running instances for half an hour, then none.
        let demand = if minute < 30 { 2_500_000 } else { 0 };
        let running = w.running();
        for id in &running {
            let total = received.entry(id.clone()).or_default();
            *total += demand / running.len() as u64;
            let counters = NetCounters {
                bytes_in: *total,
                bytes_out: *total / 10,
                packets_in: *total / 1500,
                packets_out: *total / 15_000,
            };
            w.driver.set_network(id, counters);
        }
        w.clock.advance(Duration::from_secs(60));
        sampler.record(&w.svc, measure_network(&w.svc));
        shoal::control::alarms::evaluate_once(&w.svc);
        w.tick().await;
        desired_by_minute.push(w.svc.read(|s| s.groups[GROUP].desired_capacity));
    }
    println!("desired capacity by minute: {desired_by_minute:?}");
    // 2.5 MB over one instance is 2.5× the target: three periods above it, then
    // ceil(1 × 2.5) = 3 instances, which carry ~0.83 MB each: held, not scaled in (the
    // low alarm wants < 0.7 MB for 15 periods).
    let peak = *desired_by_minute.iter().max().unwrap();
    assert_eq!(peak, 3, "scaled out to carry the traffic at the target");
    assert_eq!(desired_by_minute[29], 3, "held while the traffic flows");
    assert_eq!(desired_by_minute[0], 1, "not on one period above the target");
    // Idle: fifteen low periods, then back to the minimum.
    assert_eq!(*desired_by_minute.last().unwrap(), 1, "back in when the traffic stopped");
    let back_in = desired_by_minute.iter().rposition(|d| *d > 1).unwrap();
    assert!(back_in >= 30 + 14, "not before fifteen idle periods (minute {back_in})");

    // Every byte the runtime counted is in CloudWatch, period by period.
    let (id, total) = received.iter().max_by_key(|(_, t)| **t).unwrap();
    let metric = MetricId::new("AWS/EC2", "NetworkIn", vec![Dimension::new("InstanceId", id)]);
    let end = w.svc.clock.now() + chrono::Duration::minutes(1);
    let periods = w.svc.metric_periods(&metric, started, end, 60, Some("Bytes")).unwrap();
    let sum: f64 = periods.iter().map(|(_, a)| a.sum).sum();
    assert_eq!(sum, *total as f64);
    assert!(periods.iter().all(|(_, a)| a.sample_count == 1.0), "one datapoint per period");
}
