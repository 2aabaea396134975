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
    // instance id -> (pid, when, cpu seconds) of the previous sample.
    let mut last: HashMap<String, (u32, tokio::time::Instant, f64)> = HashMap::new();
    let mut tick = tokio::time::interval(svc.config.cpu_sample_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let running: Vec<_> = svc.read(|s| {
            s.instances
                .values()
                .filter(|i| i.state == InstanceState::Running)
                .filter_map(|i| Some((i.id.clone(), i.instance_type.clone(), i.process.clone()?)))
                .collect()
        });
        let driver = svc.driver.clone();
        let measured = tokio::task::spawn_blocking(move || {
            running
                .into_iter()
                .filter_map(|(id, itype, rec)| {
                    Some((id.clone(), itype, rec.pid, driver.cpu_seconds(&id, &rec)?))
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let now = tokio::time::Instant::now();
        let ts_ms = svc.clock.now().timestamp_millis();
        let mut points = Vec::new();
        let mut seen = HashMap::new();
        for (id, itype, pid, cpu) in measured {
            if let Some((prev_pid, prev_at, prev_cpu)) = last.get(&id) {
                let elapsed = now.duration_since(*prev_at).as_secs_f64();
                if *prev_pid == pid && elapsed > 0.0 {
                    let vcpus = instance_type::lookup(&itype).map(|t| t.vcpus).unwrap_or(1) as f64;
                    let util = utilization(cpu - prev_cpu, elapsed, vcpus);
                    points.push((cpu_key(&id), Datapoint { ts_ms, value: util, unit: "Percent" }));
                }
            }
            seen.insert(id, (pid, now, cpu));
        }
        last = seen;
        if !points.is_empty() {
            if let Err(e) = svc.with_store(|s| s.write(|w| w.put_datapoints(&points))) {
                tracing::error!(error = %e, "could not store CPU samples");
            }
        }
    }
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
