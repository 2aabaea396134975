//! The daemon's own health and the resources' figures, kept for Prometheus
//! (`GET /metrics`, rendered by `api::metrics`). Recording is cheap: atomics for the
//! commit histogram, short uncontended locks around small maps elsewhere, never held
//! across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the store-commit histogram's buckets.
pub const COMMIT_BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// A load balancer's counters since the daemon started (summed from the proxy's
/// per-period counts as the load balancer controller publishes them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadBalancerTotals {
    pub requests: u64,
    /// HTTP status classes from targets (`2xx`…`5xx`) and from the load balancer itself.
    pub target_responses: [u64; 4],
    pub elb_responses: [u64; 3],
    pub target_response_time_seconds: f64,
    pub target_responses_timed: u64,
}

#[derive(Default)]
pub struct Telemetry {
    /// (service, action) → requests.
    api_requests: Mutex<HashMap<(String, String), u64>>,
    /// (service, action, code) → error responses.
    api_errors: Mutex<HashMap<(String, String, String), u64>>,
    reconcile_passes: Mutex<BTreeMap<&'static str, u64>>,
    commit_buckets: [AtomicU64; COMMIT_BUCKETS.len()],
    commit_count: AtomicU64,
    commit_micros: AtomicU64,
    instance_cpu: Mutex<BTreeMap<String, f64>>,
    load_balancers: Mutex<BTreeMap<String, LoadBalancerTotals>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A snapshot of everything recorded, for rendering.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub api_requests: Vec<((String, String), u64)>,
    pub api_errors: Vec<((String, String, String), u64)>,
    pub reconcile_passes: Vec<(&'static str, u64)>,
    /// Cumulative counts per bucket of [`COMMIT_BUCKETS`], then the total and the sum.
    pub commit_buckets: Vec<u64>,
    pub commit_count: u64,
    pub commit_seconds: f64,
    pub instance_cpu: Vec<(String, f64)>,
    pub load_balancers: Vec<(String, LoadBalancerTotals)>,
}

impl Telemetry {
    pub fn api_request(&self, service: &str, action: &str, error_code: Option<&str>) {
        *lock(&self.api_requests).entry((service.into(), action.into())).or_default() += 1;
        if let Some(code) = error_code {
            *lock(&self.api_errors)
                .entry((service.into(), action.into(), code.into()))
                .or_default() += 1;
        }
    }

    pub fn reconcile_pass(&self, controller: &'static str) {
        *lock(&self.reconcile_passes).entry(controller).or_default() += 1;
    }

    pub fn store_commit(&self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(i) = COMMIT_BUCKETS.iter().position(|b| secs <= *b) {
            self.commit_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.commit_count.fetch_add(1, Ordering::Relaxed);
        self.commit_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// The latest CPU sample of each running instance (those not sampled are gone).
    pub fn set_instance_cpu<'a>(&self, samples: impl IntoIterator<Item = (&'a str, f64)>) {
        *lock(&self.instance_cpu) =
            samples.into_iter().map(|(id, v)| (id.to_string(), v)).collect();
    }

    /// Adds one period of a load balancer's counts.
    pub fn add_load_balancer_period(&self, dimension: &str, c: &shoal_proxy::Counts) {
        let mut all = lock(&self.load_balancers);
        let t = all.entry(dimension.to_string()).or_default();
        t.requests += c.request_count;
        for (slot, n) in t.target_responses.iter_mut().zip([
            c.httpcode_target_2xx,
            c.httpcode_target_3xx,
            c.httpcode_target_4xx,
            c.httpcode_target_5xx,
        ]) {
            *slot += n;
        }
        for (slot, n) in t.elb_responses.iter_mut().zip([
            c.httpcode_elb_3xx,
            c.httpcode_elb_4xx,
            c.httpcode_elb_5xx,
        ]) {
            *slot += n;
        }
        t.target_response_time_seconds += c.target_response_time_sum.as_secs_f64();
        t.target_responses_timed += c.target_response_count;
    }

    /// Forgets load balancers that no longer exist.
    pub fn retain_load_balancers(&self, live: &dyn Fn(&str) -> bool) {
        lock(&self.load_balancers).retain(|d, _| live(d));
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut api_requests: Vec<_> =
            lock(&self.api_requests).iter().map(|(k, v)| (k.clone(), *v)).collect();
        api_requests.sort();
        let mut api_errors: Vec<_> =
            lock(&self.api_errors).iter().map(|(k, v)| (k.clone(), *v)).collect();
        api_errors.sort();
        let mut cumulative = 0;
        let commit_buckets = self
            .commit_buckets
            .iter()
            .map(|b| {
                cumulative += b.load(Ordering::Relaxed);
                cumulative
            })
            .collect();
        Snapshot {
            api_requests,
            api_errors,
            reconcile_passes: lock(&self.reconcile_passes).iter().map(|(k, v)| (*k, *v)).collect(),
            commit_buckets,
            commit_count: self.commit_count.load(Ordering::Relaxed),
            commit_seconds: self.commit_micros.load(Ordering::Relaxed) as f64 / 1e6,
            instance_cpu: lock(&self.instance_cpu).iter().map(|(k, v)| (k.clone(), *v)).collect(),
            load_balancers: lock(&self.load_balancers)
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_histogram_is_cumulative() {
        let t = Telemetry::default();
        t.store_commit(Duration::from_micros(300));
        t.store_commit(Duration::from_millis(3));
        t.store_commit(Duration::from_secs(10));
        let s = t.snapshot();
        assert_eq!(s.commit_buckets[0], 1);
        assert_eq!(s.commit_buckets[3], 2, "≤ 5 ms");
        assert_eq!(*s.commit_buckets.last().unwrap(), 2, "10 s is only in +Inf");
        assert_eq!(s.commit_count, 3);
    }

    #[test]
    fn api_errors_by_code() {
        let t = Telemetry::default();
        t.api_request("ec2", "RunInstances", None);
        t.api_request("ec2", "RunInstances", Some("InvalidAMIID.NotFound"));
        let s = t.snapshot();
        assert_eq!(s.api_requests, vec![(("ec2".into(), "RunInstances".into()), 2)]);
        assert_eq!(s.api_errors.len(), 1);
    }
}
