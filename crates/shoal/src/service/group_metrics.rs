//! EnableMetricsCollection / DisableMetricsCollection, and the `AWS/AutoScaling`
//! datapoints of the groups that enabled them (published by `control::group_metrics`
//! once per metric period, as AWS publishes them once a minute).

use shoal_model::autoscaling::metrics;
use shoal_model::cloudwatch::metric::Datapoint;
use shoal_model::cloudwatch::MetricId;
use shoal_model::AwsResult;

use super::autoscaling::find_group;
use super::cloudwatch::store_error;
use super::Service;

impl Service {
    /// EnableMetricsCollection (`Granularity` 1Minute; no metrics means all).
    pub fn enable_metrics_collection(
        &self,
        group_name: &str,
        names: &[String],
        granularity: &str,
    ) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let mut g = find_group(state, group_name)?.clone();
            metrics::enable_metrics_collection(&mut g, names, granularity)?;
            changes.put(g);
            Ok(())
        })
    }

    /// DisableMetricsCollection (no metrics means all).
    pub fn disable_metrics_collection(&self, group_name: &str, names: &[String]) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let mut g = find_group(state, group_name)?.clone();
            metrics::disable_metrics_collection(&mut g, names)?;
            changes.put(g);
            Ok(())
        })
    }

    /// Stores one datapoint now for every enabled metric of every group; returns how
    /// many were written.
    pub fn publish_group_metrics(&self) -> AwsResult<usize> {
        let now = self.clock.now();
        let points: Vec<(MetricId, Datapoint)> = self.read(|s| {
            s.groups
                .values()
                .filter(|g| g.status.is_none())
                .flat_map(|g| {
                    metrics::enabled_metric_values(g).into_iter().map(|(name, value)| {
                        let key = MetricId::of(
                            "AWS/AutoScaling",
                            name,
                            &[("AutoScalingGroupName", &g.name)],
                        );
                        (
                            key,
                            Datapoint { unit: Some("None".into()), ..Datapoint::value(now, value) },
                        )
                    })
                })
                .collect()
        });
        if !points.is_empty() {
            self.with_store(|s| s.write(|w| w.put_metric_points(&points))).map_err(store_error)?;
        }
        Ok(points.len())
    }
}
