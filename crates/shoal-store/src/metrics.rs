//! Metric datapoints: one row per sample, keyed by the model's [`MetricId`]: namespace,
//! metric name and its (sorted) dimensions as canonical text.

use rusqlite::{params, Connection};
use shoal_model::cloudwatch::{Dimension, MetricId};

/// The `dimensions` column: `[["name","value"],…]`, sorted, so one series has one key.
pub(crate) fn dimension_text(id: &MetricId) -> String {
    let pairs: Vec<(&str, &str)> =
        id.dimensions.iter().map(|d| (d.name.as_str(), d.value.as_str())).collect();
    serde_json::to_string(&pairs).unwrap_or_default()
}

fn metric_id(namespace: String, name: String, dimension_text: &str) -> MetricId {
    let pairs: Vec<(String, String)> = serde_json::from_str(dimension_text).unwrap_or_default();
    MetricId::new(namespace, name, pairs.iter().map(|(n, v)| Dimension::new(n, v)).collect())
}

pub(crate) fn keys(conn: &Connection, since_ms: i64) -> crate::Result<Vec<MetricId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT namespace, metric, dimensions FROM metric_data WHERE ts_ms >= ?1
         ORDER BY namespace, metric, dimensions",
    )?;
    let rows = stmt.query_map(params![since_ms], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (namespace, name, dims) = row?;
        out.push(metric_id(namespace, name, &dims));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use shoal_model::cloudwatch::Datapoint;

    #[test]
    fn datapoints_round_trip_by_series() {
        let mut store = Store::in_memory().unwrap();
        let cpu_a = MetricId::of("AWS/EC2", "CPUUtilization", &[("InstanceId", "i-a")]);
        let cpu_b = MetricId::of("AWS/EC2", "CPUUtilization", &[("InstanceId", "i-b")]);
        let at = |ms| chrono::DateTime::from_timestamp_millis(ms).unwrap();
        let p = |ms, value| Datapoint::measured(at(ms), value, "Percent");
        store
            .write(|w| {
                w.put_metric_points(&[
                    (cpu_a.clone(), p(1000, 50.0)),
                    (cpu_b.clone(), p(1000, 7.0)),
                    (cpu_a.clone(), p(2000, 90.0)),
                ])
            })
            .unwrap();
        let got = store.metric_points(&cpu_a, 0, 5000).unwrap();
        assert_eq!(got, vec![p(1000, 50.0), p(2000, 90.0)]);
        assert_eq!(store.metric_points(&cpu_a, 1500, 5000).unwrap(), vec![p(2000, 90.0)]);
        assert_eq!(store.metric_keys(0).unwrap(), vec![cpu_a.clone(), cpu_b.clone()]);
        store.write(|w| w.prune_datapoints(1500)).unwrap();
        assert_eq!(store.metric_points(&cpu_a, 0, 5000).unwrap(), vec![p(2000, 90.0)]);
    }
}
