//! The CPU sampler: every instance's CPU use, measured by the runtime, becomes the
//! `AWS/EC2 CPUUtilization` series (percent of the instance type's vCPUs, 0–100).

use std::collections::HashMap;
use std::sync::Arc;

use shoal_model::ec2::{instance_type, InstanceState};
use shoal_store::{Datapoint, MetricKey};
use tokio::sync::watch;

use crate::service::Service;

/// The `AWS/EC2 CPUUtilization` series of one instance.
pub fn cpu_key(instance_id: &str) -> MetricKey {
    MetricKey::new("AWS/EC2", "CPUUtilization", &[("InstanceId", instance_id)])
}

/// Samples every running instance each `cpu_sample_interval` until shutdown.
pub async fn run_cpu_sampler(svc: Arc<Service>, mut shutdown: watch::Receiver<bool>) {
    let mut sampler = CpuSampler::default();
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(svc.config.cpu_sample_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let pass = svc.clone();
        let measured =
            tokio::task::spawn_blocking(move || measure(&pass)).await.unwrap_or_default();
        sampler.record(&svc, measured, started.elapsed().as_secs_f64());
    }
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
        let ts_ms = svc.clock.now().timestamp_millis();
        let mut points = Vec::new();
        let mut seen = HashMap::with_capacity(measured.len());
        for m in measured {
            if let Some((prev_pid, prev_at, prev_cpu)) = self.last.get(&m.instance_id) {
                let elapsed = at_seconds - prev_at;
                if *prev_pid == m.pid && elapsed > 0.0 {
                    let vcpus = instance_type::lookup(&m.instance_type)
                        .map(|t| t.vcpus)
                        .unwrap_or(1) as f64;
                    let util = utilization(m.cpu_seconds - prev_cpu, elapsed, vcpus);
                    points.push((
                        cpu_key(&m.instance_id),
                        Datapoint { ts_ms, value: util, unit: "Percent" },
                    ));
                }
            }
            seen.insert(m.instance_id, (m.pid, at_seconds, m.cpu_seconds));
        }
        self.last = seen;
        let aggregates = group_aggregates(svc, &points);
        if !points.is_empty() {
            if let Err(e) = svc.with_store(|s| {
                s.write(|w| {
                    w.put_datapoints(&points)?;
                    w.put_metric_points(&aggregates)
                })
            }) {
                tracing::error!(error = %e, "could not store CPU samples");
            }
        }
    }
}

/// Each group's `CPUUtilization` for this sample as one statistic set over its
/// instances (AWS keeps the `AutoScalingGroupName` aggregate as its own series).
/// Instances still warming up are left out, as AWS leaves them out of the metrics its
/// scaling policies act on.
fn group_aggregates(
    svc: &Service,
    points: &[(shoal_store::MetricKey, Datapoint)],
) -> Vec<(shoal_store::MetricKey, shoal_model::cloudwatch::metric::Datapoint)> {
    use shoal_model::autoscaling::group::AutoScalingGroup;
    use shoal_model::cloudwatch::metric::{Datapoint as Point, Samples, StatisticSet};
    let now = svc.clock.now();
    let by_instance: HashMap<&str, f64> = points
        .iter()
        .filter_map(|(k, d)| k.dimensions.first().map(|(_, id)| (id.as_str(), d.value)))
        .collect();
    svc.read(|s| {
        s.groups
            .values()
            .filter_map(|g| {
                let warmup = g.warmup_seconds(None);
                let values: Vec<f64> = g
                    .instances
                    .iter()
                    .filter(|i| !AutoScalingGroup::is_warming(i, warmup, now))
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
                let key = shoal_store::MetricKey::new(
                    "AWS/EC2",
                    "CPUUtilization",
                    &[("AutoScalingGroupName", &g.name)],
                );
                Some((
                    key,
                    Point {
                        timestamp: now,
                        samples: Samples::Set(set),
                        unit: Some("Percent".into()),
                    },
                ))
            })
            .collect()
    })
}

/// CPU seconds used over wall seconds, as a percentage of `vcpus`, clamped to 0–100.
pub fn utilization(cpu_seconds: f64, wall_seconds: f64, vcpus: f64) -> f64 {
    (cpu_seconds / (wall_seconds * vcpus) * 100.0).clamp(0.0, 100.0)
}

/// The most recent CPUUtilization sample of an instance, if recent.
pub fn latest_cpu(svc: &Service, instance_id: &str) -> Option<f64> {
    let now = svc.clock.now().timestamp_millis();
    let window = 3 * svc.config.cpu_sample_interval.as_millis() as i64;
    svc.with_store(|s| s.metric_data(&cpu_key(instance_id), now - window, now + 1).ok())?
        .last()
        .map(|d| d.value)
}

#[cfg(test)]
mod tests {
    use super::utilization;

    #[test]
    fn utilization_is_share_of_vcpus() {
        assert_eq!(utilization(5.0, 5.0, 1.0), 100.0);
        assert_eq!(utilization(5.0, 5.0, 2.0), 50.0);
        assert_eq!(utilization(7.0, 5.0, 1.0), 100.0);
        assert_eq!(utilization(-1.0, 5.0, 1.0), 0.0);
    }
}
