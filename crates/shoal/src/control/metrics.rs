//! The samplers of `AWS/EC2` instance metrics, each published per `InstanceId` and as
//! each Auto Scaling group's `AutoScalingGroupName` aggregate:
//!
//! - CPU: every `cpu_sample_interval`, the CPU time the runtime measured becomes
//!   `CPUUtilization` (percent of the instance type's vCPUs, 0–100).
//! - Network: once per `metric_period` (a CloudWatch minute), the runtime's counters
//!   become `NetworkIn`/`NetworkOut` (Bytes) and `NetworkPacketsIn`/`NetworkPacketsOut`
//!   (Count): as in EC2, each datapoint is the traffic *during* that period, one per
//!   instance per period, so `Sum` over a window is its traffic and `Average` is the
//!   traffic per period. Samples are taken in the middle of each aligned period so each
//!   period holds exactly one. Where the runtime cannot count traffic, nothing is
//!   published.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use shoal_model::cloudwatch::Datapoint;
use shoal_model::cloudwatch::MetricId;
use shoal_model::ec2::{instance_type, InstanceState};
use tokio::sync::watch;

use crate::control::runner::{self, Action, BoxFuture, ControlError, Controller, Settings};
use crate::runtime::NetCounters;
use crate::service::cloudwatch::cpu_key;
use crate::service::Service;

/// Samples every running instance's CPU: one key, every `cpu_sample_interval`.
pub struct CpuController {
    sampler: std::sync::Mutex<CpuSampler>,
    /// Elapsed sample times are counted from here (tokio time).
    started: tokio::time::Instant,
    /// Owned, for the blocking measurement.
    svc: Arc<Service>,
}

impl Controller for CpuController {
    type Key = ();
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "cpu sampler"
    }

    fn keys(&self, _: &Service) -> Vec<()> {
        vec![()]
    }

    fn reconcile<'a>(
        &'a self,
        _: &'a (),
        svc: &'a Service,
    ) -> BoxFuture<'a, Result<Action, ControlError>> {
        Box::pin(async move {
            let pass = self.svc.clone();
            let measured =
                tokio::task::spawn_blocking(move || measure(&pass)).await.unwrap_or_default();
            let at = self.started.elapsed().as_secs_f64();
            self.sampler.lock().unwrap_or_else(|e| e.into_inner()).record(svc, measured, at);
            Ok(Action::await_change())
        })
    }
}

/// Samples every running instance each `cpu_sample_interval` until shutdown.
pub async fn run_cpu_sampler(svc: Arc<Service>, shutdown: watch::Receiver<bool>) {
    let ctrl = CpuController {
        sampler: std::sync::Mutex::default(),
        started: tokio::time::Instant::now(),
        svc: svc.clone(),
    };
    let settings = Settings::every(svc.config.cpu_sample_interval);
    runner::run(Arc::new(ctrl), svc, settings, None, shutdown).await;
}

/// One instance's cumulative CPU time at a sample.
pub struct Measurement {
    pub instance_id: String,
    pub instance_type: String,
    pub pid: u32,
    pub cpu_seconds: f64,
}

/// Reads every running instance's cumulative CPU time from the runtime (blocking: it
/// reads cgroup files or /proc).
pub fn measure(svc: &Service) -> Vec<Measurement> {
    let running: Vec<_> = svc.read(|s| {
        s.instances
            .values()
            .filter(|i| i.state == InstanceState::Running)
            .filter_map(|i| Some((i.id.clone(), i.instance_type.clone(), i.process.clone()?)))
            .collect()
    });
    running
        .into_iter()
        .filter_map(|(id, itype, rec)| {
            let cpu_seconds = svc.driver.cpu_seconds(&id, &rec)?;
            Some(Measurement { instance_id: id, instance_type: itype, pid: rec.pid, cpu_seconds })
        })
        .collect()
}

/// Turns successive measurements into `CPUUtilization` datapoints: the CPU time used
/// since the previous sample over the time elapsed, as a share of the type's vCPUs.
/// Elapsed time is given by the caller (monotonic seconds), so a simulation can run
/// it on virtual time.
#[derive(Default)]
pub struct CpuSampler {
    /// instance id -> (pid, at seconds, cpu seconds) of the previous sample.
    last: HashMap<String, (u32, f64, f64)>,
}

impl CpuSampler {
    pub fn record(&mut self, svc: &Service, measured: Vec<Measurement>, at_seconds: f64) {
        let now = svc.clock.now();
        let mut points = Vec::new();
        let mut by_instance = HashMap::with_capacity(measured.len());
        let mut seen = HashMap::with_capacity(measured.len());
        for m in measured {
            if let Some((prev_pid, prev_at, prev_cpu)) = self.last.get(&m.instance_id) {
                let elapsed = at_seconds - prev_at;
                if *prev_pid == m.pid && elapsed > 0.0 {
                    let vcpus = instance_type::lookup(&m.instance_type)
                        .map(|t| t.vcpus)
                        .unwrap_or(1) as f64;
                    let util = utilization(m.cpu_seconds - prev_cpu, elapsed, vcpus);
                    points
                        .push((cpu_key(&m.instance_id), Datapoint::measured(now, util, "Percent")));
                    by_instance.insert(m.instance_id.clone(), util);
                }
            }
            seen.insert(m.instance_id, (m.pid, at_seconds, m.cpu_seconds));
        }
        self.last = seen;
        let by_instance: HashMap<&str, f64> =
            by_instance.iter().map(|(id, util)| (id.as_str(), *util)).collect();
        svc.telemetry.set_instance_cpu(by_instance.iter().map(|(id, v)| (*id, *v)));
        let aggregates = group_aggregates(svc, "CPUUtilization", "Percent", &by_instance);
        if !points.is_empty() {
            if let Err(e) = svc.with_store(|s| {
                s.write(|w| {
                    w.put_metric_points(&points)?;
                    w.put_metric_points(&aggregates)
                })
            }) {
                tracing::error!(error = %e, "could not store CPU samples");
            }
        }
    }
}

/// Each group's `metric` for this sample as one statistic set over the values of all
/// its instances (AWS keeps the `AutoScalingGroupName` aggregate as its own series, and
/// EC2 publishes it for every instance of the group). Warming instances are left out
/// where Auto Scaling decides, not here (`policy::acting_value`).
fn group_aggregates(
    svc: &Service,
    metric: &str,
    unit: &str,
    by_instance: &HashMap<&str, f64>,
) -> Vec<(MetricId, Datapoint)> {
    use shoal_model::cloudwatch::metric::{Samples, StatisticSet};
    let now = svc.clock.now();
    svc.read(|s| {
        s.groups
            .values()
            .filter_map(|g| {
                let values: Vec<f64> = g
                    .instances
                    .iter()
                    .filter_map(|i| by_instance.get(i.instance_id.as_str()).copied())
                    .collect();
                if values.is_empty() {
                    return None;
                }
                let set = StatisticSet {
                    sample_count: values.len() as f64,
                    sum: values.iter().sum(),
                    minimum: values.iter().copied().fold(f64::INFINITY, f64::min),
                    maximum: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                };
                let key = MetricId::of("AWS/EC2", metric, &[("AutoScalingGroupName", &g.name)]);
                Some((
                    key,
                    Datapoint {
                        timestamp: now,
                        samples: Samples::Set(set),
                        unit: Some(unit.into()),
                    },
                ))
            })
            .collect()
    })
}

/// One of EC2's network metrics: its name, its unit, and the counter it reads.
pub struct NetworkMetric {
    pub name: &'static str,
    pub unit: &'static str,
    pub read: fn(&NetCounters) -> u64,
}

/// `AWS/EC2`'s network metrics: bytes and packets received and sent on all of the
/// instance's interfaces during the period.
pub const NETWORK_METRICS: [NetworkMetric; 4] = [
    NetworkMetric { name: "NetworkIn", unit: "Bytes", read: |c| c.bytes_in },
    NetworkMetric { name: "NetworkOut", unit: "Bytes", read: |c| c.bytes_out },
    NetworkMetric { name: "NetworkPacketsIn", unit: "Count", read: |c| c.packets_in },
    NetworkMetric { name: "NetworkPacketsOut", unit: "Count", read: |c| c.packets_out },
];

/// The `AWS/EC2 <metric>{InstanceId}` series of one instance.
pub fn instance_key(metric: &str, instance_id: &str) -> MetricId {
    MetricId::of("AWS/EC2", metric, &[("InstanceId", instance_id)])
}

/// Publishes every running instance's traffic once per `metric_period`, in the middle
/// of each aligned period, until shutdown.
/// Samples every running instance's network counters: one key, in the middle of
/// each aligned metric period (it requeues itself there).
pub struct NetworkController {
    sampler: std::sync::Mutex<NetworkSampler>,
    period: Duration,
    /// Owned, for the blocking measurement.
    svc: Arc<Service>,
}

impl Controller for NetworkController {
    type Key = ();
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "network sampler"
    }

    fn keys(&self, _: &Service) -> Vec<()> {
        vec![()]
    }

    fn reconcile<'a>(
        &'a self,
        _: &'a (),
        svc: &'a Service,
    ) -> BoxFuture<'a, Result<Action, ControlError>> {
        Box::pin(async move {
            let pass = self.svc.clone();
            let measured = tokio::task::spawn_blocking(move || measure_network(&pass))
                .await
                .unwrap_or_default();
            self.sampler.lock().unwrap_or_else(|e| e.into_inner()).record(svc, measured);
            let next = until_mid_period(svc.clock.now().timestamp_millis(), self.period);
            Ok(Action::requeue(next))
        })
    }
}

pub async fn run_network_sampler(svc: Arc<Service>, shutdown: watch::Receiver<bool>) {
    let period = svc.config.metric_period.max(Duration::from_secs(1));
    let ctrl = NetworkController { sampler: std::sync::Mutex::default(), period, svc: svc.clone() };
    // The first sample at the first mid-period; then each requeues the next.
    let settings = Settings {
        resync: None,
        on_commit: false,
        concurrency: 1,
        first_after: until_mid_period(svc.clock.now().timestamp_millis(), period),
    };
    runner::run(Arc::new(ctrl), svc, settings, None, shutdown).await;
}

/// Time from `now_ms` (wall clock) to the middle of the next aligned `period`: a
/// sample there lands in the period CloudWatch buckets it by, never on a boundary.
pub fn until_mid_period(now_ms: i64, period: Duration) -> Duration {
    let p = (period.as_millis() as i64).max(1);
    let phase = (now_ms - p / 2).rem_euclid(p);
    Duration::from_millis((p - phase) as u64)
}

/// One instance's network counters at a sample.
pub struct NetMeasurement {
    pub instance_id: String,
    pub pid: u32,
    pub counters: NetCounters,
}

/// Reads every running instance's network counters from the runtime (blocking).
pub fn measure_network(svc: &Service) -> Vec<NetMeasurement> {
    let running: Vec<_> = svc.read(|s| {
        s.instances
            .values()
            .filter(|i| i.state == InstanceState::Running)
            .filter_map(|i| Some((i.id.clone(), i.process.as_ref()?.pid)))
            .collect()
    });
    running
        .into_iter()
        .filter_map(|(instance_id, pid)| {
            let counters = svc.driver.network(&instance_id)?;
            Some(NetMeasurement { instance_id, pid, counters })
        })
        .collect()
}

/// Turns successive counter readings into one datapoint per instance and metric: the
/// traffic since the previous sample. Counting starts at zero when an instance boots
/// (or is adopted), so an instance seen for the first time, or with a new init, is
/// measured from zero.
#[derive(Default)]
pub struct NetworkSampler {
    /// instance id -> (pid, counters) at the previous sample.
    last: HashMap<String, (u32, NetCounters)>,
}

impl NetworkSampler {
    pub fn record(&mut self, svc: &Service, measured: Vec<NetMeasurement>) {
        let now = svc.clock.now();
        let mut seen = HashMap::with_capacity(measured.len());
        let mut traffic = Vec::with_capacity(measured.len());
        for m in measured {
            let earlier = match self.last.get(&m.instance_id) {
                Some((pid, c)) if *pid == m.pid => *c,
                _ => NetCounters::default(),
            };
            traffic.push((m.instance_id.clone(), m.counters.since(earlier)));
            seen.insert(m.instance_id, (m.pid, m.counters));
        }
        self.last = seen;
        if traffic.is_empty() {
            return;
        }
        let mut points = Vec::with_capacity(traffic.len() * NETWORK_METRICS.len());
        let mut aggregates = Vec::new();
        for NetworkMetric { name, unit, read } in NETWORK_METRICS {
            let by_instance: HashMap<&str, f64> =
                traffic.iter().map(|(id, d)| (id.as_str(), read(d) as f64)).collect();
            for (id, value) in &by_instance {
                points.push((instance_key(name, id), Datapoint::measured(now, *value, unit)));
            }
            aggregates.extend(group_aggregates(svc, name, unit, &by_instance));
        }
        if let Err(e) = svc.with_store(|s| {
            s.write(|w| {
                w.put_metric_points(&points)?;
                w.put_metric_points(&aggregates)
            })
        }) {
            tracing::error!(error = %e, "could not store network samples");
        }
    }
}

/// CPU seconds used over wall seconds, as a percentage of `vcpus`, clamped to 0–100.
pub fn utilization(cpu_seconds: f64, wall_seconds: f64, vcpus: f64) -> f64 {
    (cpu_seconds / (wall_seconds * vcpus) * 100.0).clamp(0.0, 100.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{until_mid_period, utilization};

    #[test]
    fn network_samples_fall_mid_period() {
        let p = Duration::from_secs(60);
        let s = |ms: u64| Duration::from_millis(ms);
        for (now_ms, want) in [
            (0, s(30_000)),
            (29_000, s(1_000)),
            (30_000, s(60_000)),
            (30_001, s(59_999)),
            (59_999, s(30_001)),
            (120_000 + 45_000, s(45_000)),
        ] {
            assert_eq!(until_mid_period(now_ms, p), want, "at {now_ms} ms");
        }
        assert_eq!(until_mid_period(1_000, Duration::from_secs(3)), s(500));
    }

    #[test]
    fn utilization_is_share_of_vcpus() {
        assert_eq!(utilization(5.0, 5.0, 1.0), 100.0);
        assert_eq!(utilization(5.0, 5.0, 2.0), 50.0);
        assert_eq!(utilization(7.0, 5.0, 1.0), 100.0);
        assert_eq!(utilization(-1.0, 5.0, 1.0), 0.0);
    }
}
