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

/// One sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Datapoint {
    pub ts_ms: i64,
    pub value: f64,
    pub unit: &'static str,
}

pub(crate) fn insert(conn: &Connection, points: &[(MetricId, Datapoint)]) -> crate::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO metric_data (namespace, metric, dimensions, ts_ms, value, unit)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (key, point) in points {
        stmt.execute(params![
            key.namespace,
            key.metric_name,
            dimension_text(key),
            point.ts_ms,
            point.value,
            point.unit
        ])?;
    }
    Ok(())
}

pub(crate) fn query(
    conn: &Connection,
    key: &MetricId,
    start_ms: i64,
    end_ms: i64,
) -> crate::Result<Vec<Datapoint>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ts_ms, value, unit FROM metric_data
         WHERE namespace = ?1 AND metric = ?2 AND dimensions = ?3 AND ts_ms >= ?4 AND ts_ms < ?5
         ORDER BY ts_ms",
    )?;
    let rows = stmt.query_map(
        params![key.namespace, key.metric_name, dimension_text(key), start_ms, end_ms],
        |row| Ok((row.get::<_, i64>(0)?, row.get::<_, f64>(1)?, row.get::<_, String>(2)?)),
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (ts_ms, value, unit) = row?;
        out.push(Datapoint { ts_ms, value, unit: static_unit(&unit) });
    }
    Ok(out)
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

/// Maps a stored unit name back to its static spelling (CloudWatch's unit names;
/// anything else reads back as `None`).
pub fn static_unit(unit: &str) -> &'static str {
    shoal_model::cloudwatch::metric::STANDARD_UNITS
        .iter()
        .find(|u| **u == unit)
        .copied()
        .unwrap_or("None")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn datapoints_round_trip_by_series() {
        let mut store = Store::in_memory().unwrap();
        let cpu_a = MetricId::of("AWS/EC2", "CPUUtilization", &[("InstanceId", "i-a")]);
        let cpu_b = MetricId::of("AWS/EC2", "CPUUtilization", &[("InstanceId", "i-b")]);
        let p = |ts_ms, value| Datapoint { ts_ms, value, unit: "Percent" };
        store
            .write(|w| {
                w.put_datapoints(&[
                    (cpu_a.clone(), p(1000, 50.0)),
                    (cpu_b.clone(), p(1000, 7.0)),
                    (cpu_a.clone(), p(2000, 90.0)),
                ])
            })
            .unwrap();
        let got = store.metric_data(&cpu_a, 0, 5000).unwrap();
        assert_eq!(got, vec![p(1000, 50.0), p(2000, 90.0)]);
        assert_eq!(store.metric_data(&cpu_a, 1500, 5000).unwrap(), vec![p(2000, 90.0)]);
        assert_eq!(store.metric_keys(0).unwrap(), vec![cpu_a.clone(), cpu_b.clone()]);
        store.write(|w| w.prune_datapoints(1500)).unwrap();
        assert_eq!(store.metric_data(&cpu_a, 0, 5000).unwrap(), vec![p(2000, 90.0)]);
    }
}
