//! CloudWatch's data beyond resource documents: metric datapoints with their full
//! samples (as the model's [`Datapoint`](shoal_model::cloudwatch::Datapoint)), and the
//! alarm history log. Alarms themselves are ordinary documents (`cloudwatch.alarm`).
//!
//! A point keeps its plain `value` column for every reader (for a `Values` array or a
//! `StatisticValues` set that is the average), and the whole sample set as JSON in
//! `samples`, so statistics and percentiles come out as CloudWatch computes them.

use chrono::DateTime;
use rusqlite::params;
use shoal_model::cloudwatch::{
    AlarmHistoryItem, Datapoint as Point, HistoryItemType, MetricId, Samples,
};

use crate::metrics::dimension_text;
use crate::{Store, StoreError, Writer};

fn history_type_name(t: HistoryItemType) -> &'static str {
    match t {
        HistoryItemType::ConfigurationUpdate => "ConfigurationUpdate",
        HistoryItemType::StateUpdate => "StateUpdate",
        HistoryItemType::Action => "Action",
    }
}

/// Which alarm history items to read.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery<'a> {
    pub alarm_name: Option<&'a str>,
    pub item_type: Option<HistoryItemType>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// `ScanBy=TimestampAscending`; newest first otherwise (CloudWatch's default).
    pub oldest_first: bool,
}

impl Writer<'_> {
    /// Appends datapoints of any sample shape: CloudWatch's PutMetricData and Shoal's
    /// own measured metrics alike.
    pub fn put_metric_points(&mut self, points: &[(MetricId, Point)]) -> crate::Result<()> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO metric_data (namespace, metric, dimensions, ts_ms, value, unit, samples)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for (key, point) in points {
            let samples = match &point.samples {
                Samples::Value(_) => None,
                other => Some(encode(other)?),
            };
            let value = point.samples.mean();
            stmt.execute(params![
                key.namespace,
                key.metric_name,
                dimension_text(key),
                point.timestamp.timestamp_millis(),
                value,
                point.unit.as_deref().unwrap_or("None"),
                samples,
            ])?;
        }
        Ok(())
    }

    /// Appends one alarm history item.
    pub fn put_alarm_history(&mut self, item: &AlarmHistoryItem) -> crate::Result<()> {
        let doc = serde_json::to_string(item)
            .map_err(|e| StoreError::Encode(e, "cloudwatch.alarm-history"))?;
        self.tx
            .prepare_cached(
                "INSERT INTO alarm_history (alarm_name, ts_ms, item_type, doc) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                item.alarm_name,
                item.timestamp.timestamp_millis(),
                history_type_name(item.history_item_type),
                doc
            ])?;
        Ok(())
    }

    /// Drops history older than `before_ms` (CloudWatch keeps 30 days).
    pub fn prune_alarm_history(&mut self, before_ms: i64) -> crate::Result<()> {
        self.tx.execute("DELETE FROM alarm_history WHERE ts_ms < ?1", params![before_ms])?;
        Ok(())
    }

    /// Removes the history of deleted alarms (DeleteAlarms forgets an alarm entirely).
    pub fn delete_alarm_history(&mut self, alarm_name: &str) -> crate::Result<()> {
        self.tx.execute("DELETE FROM alarm_history WHERE alarm_name = ?1", params![alarm_name])?;
        Ok(())
    }
}

fn encode(samples: &Samples) -> crate::Result<String> {
    serde_json::to_string(samples).map_err(|e| StoreError::Encode(e, "metric samples"))
}

impl Store {
    /// Datapoints of one series in `[start_ms, end_ms)`, oldest first, with their full
    /// samples (a single value reads back as `Samples::Value`).
    pub fn metric_points(
        &self,
        key: &MetricId,
        start_ms: i64,
        end_ms: i64,
    ) -> crate::Result<Vec<Point>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT ts_ms, value, unit, samples FROM metric_data
             WHERE namespace = ?1 AND metric = ?2 AND dimensions = ?3 AND ts_ms >= ?4 AND ts_ms < ?5
             ORDER BY ts_ms",
        )?;
        let rows = stmt.query_map(
            params![key.namespace, key.metric_name, dimension_text(key), start_ms, end_ms],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, f64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (ts_ms, value, unit, samples) = row?;
            let samples = match samples {
                Some(doc) => serde_json::from_str(&doc).map_err(|source| StoreError::Corrupt {
                    kind: "metric samples",
                    id: format!("{}/{} @{ts_ms}", key.namespace, key.metric_name),
                    source,
                })?,
                None => Samples::Value(value),
            };
            out.push(Point {
                timestamp: DateTime::from_timestamp_millis(ts_ms).unwrap_or_default(),
                samples,
                unit: Some(unit),
            });
        }
        Ok(out)
    }

    /// Alarm history items matching `q`.
    pub fn alarm_history(&self, q: &HistoryQuery<'_>) -> crate::Result<Vec<AlarmHistoryItem>> {
        let order = if q.oldest_first { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT doc FROM alarm_history
             WHERE (?1 IS NULL OR alarm_name = ?1) AND (?2 IS NULL OR item_type = ?2)
               AND ts_ms >= ?3 AND ts_ms <= ?4
             ORDER BY ts_ms {order}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                q.alarm_name,
                q.item_type.map(history_type_name),
                q.start_ms.unwrap_or(i64::MIN),
                q.end_ms.unwrap_or(i64::MAX)
            ],
            |row| row.get::<_, String>(0),
        )?;
        let mut out = Vec::new();
        for row in rows {
            let doc = row?;
            out.push(serde_json::from_str(&doc).map_err(|source| StoreError::Corrupt {
                kind: "cloudwatch.alarm-history",
                id: String::new(),
                source,
            })?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use shoal_model::cloudwatch::{Dimension, StatisticSet};

    #[test]
    fn samples_round_trip_and_plain_points_read_as_values() {
        let mut store = Store::in_memory().unwrap();
        let id = MetricId::new("App", "Latency", vec![Dimension::new("Host", "a")]);
        let key = id.clone();
        let t = |s: i64| chrono::Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        let points = [
            Point::value(t(0), 3.0),
            Point {
                timestamp: t(1),
                samples: Samples::Values(vec![(1.0, 2.0), (4.0, 1.0)]),
                unit: Some("Milliseconds".into()),
            },
            Point {
                timestamp: t(2),
                samples: Samples::Set(StatisticSet {
                    sample_count: 2.0,
                    sum: 10.0,
                    minimum: 4.0,
                    maximum: 6.0,
                }),
                unit: None,
            },
        ];
        store
            .write(|w| {
                w.put_metric_points(
                    &points.iter().map(|p| (key.clone(), p.clone())).collect::<Vec<_>>(),
                )?;
                w.put_metric_points(&[(key.clone(), Point::measured(t(3), 9.0, "Count"))])
            })
            .unwrap();
        let got = store.metric_points(&key, 0, i64::MAX).unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].samples, Samples::Value(3.0));
        assert_eq!(got[0].unit.as_deref(), Some("None"));
        assert_eq!(got[1].samples, points[1].samples);
        assert_eq!(got[2].samples, points[2].samples);
        assert_eq!(got[3], Point::measured(t(3), 9.0, "Count"));
        // The plain `value` column holds each point's mean.
        let plain: Vec<f64> = store
            .conn
            .prepare("SELECT value FROM metric_data ORDER BY ts_ms")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(plain, vec![3.0, 2.0, 5.0, 9.0]);
        assert_eq!(store.metric_keys(0).unwrap(), vec![id]);
    }

    #[test]
    fn history_by_alarm_type_and_time() {
        let mut store = Store::in_memory().unwrap();
        let item = |name: &str, s: i64, t: HistoryItemType| AlarmHistoryItem {
            alarm_name: name.into(),
            alarm_type: "MetricAlarm".into(),
            timestamp: chrono::Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap(),
            history_item_type: t,
            history_summary: format!("{name} {s}"),
            history_data: "{}".into(),
        };
        store
            .write(|w| {
                w.put_alarm_history(&item("a", 0, HistoryItemType::ConfigurationUpdate))?;
                w.put_alarm_history(&item("a", 5, HistoryItemType::StateUpdate))?;
                w.put_alarm_history(&item("b", 7, HistoryItemType::StateUpdate))
            })
            .unwrap();
        let q = HistoryQuery { alarm_name: Some("a"), ..Default::default() };
        let got = store.alarm_history(&q).unwrap();
        assert_eq!(
            got.iter().map(|i| i.history_summary.as_str()).collect::<Vec<_>>(),
            ["a 5", "a 0"]
        );
        let q = HistoryQuery {
            item_type: Some(HistoryItemType::StateUpdate),
            oldest_first: true,
            ..Default::default()
        };
        let got = store.alarm_history(&q).unwrap();
        assert_eq!(
            got.iter().map(|i| i.history_summary.as_str()).collect::<Vec<_>>(),
            ["a 5", "b 7"]
        );
        store.write(|w| w.delete_alarm_history("a")).unwrap();
        assert_eq!(store.alarm_history(&HistoryQuery::default()).unwrap().len(), 1);
    }
}
