//! CloudWatch: metric data in and out (PutMetricData, GetMetricStatistics,
//! GetMetricData, ListMetrics), metric alarms (Put/Describe/Delete/SetAlarmState,
//! Enable/DisableAlarmActions, tags) with their history, the alarm windows the alarm
//! controller (`control::alarms`) evaluates every period, and alarm actions.
//!
//! # For other services
//! - [`Service::put_alarm`] / [`Service::delete_alarms`]: create, replace or delete
//!   alarms programmatically (Auto Scaling's target-tracking alarms are ordinary
//!   alarms made this way).
//! - [`Service::metric_points`] / [`Service::metric_periods`]: a metric's datapoints
//!   or its per-period aggregates, group aggregates included.
//! - [`Service::alarm_action`]: what runs an alarm's action ARN; `arn:aws:autoscaling:`
//!   goes to `autoscaling_alarm_action` in `policy_runs.rs`.
//!
//! # Group aggregates
//! `AWS/EC2 <metric>` with the single dimension `AutoScalingGroupName=<g>` is not stored:
//! a query for it merges, at read time, the `{InstanceId}` series of every instance
//! tagged `aws:autoscaling:groupName=<g>` (in any state, so history survives a
//! termination) with anything stored under the aggregate key itself. The merged raw
//! samples give the group's Average/Minimum/Maximum/Sum/SampleCount per period, as
//! CloudWatch's aggregate does for instances sampled at the same rate. Nothing is
//! materialised, so there is nothing to keep in step when instances join or leave.
//!
//! # Time in a fast lab
//! `--metric-period` (`config.metric_period`, AWS: 60 s) is how long a CloudWatch
//! minute lasts. Alarms are evaluated with their `Period` scaled by it (a 60 s period
//! lasts `metric_period`, 300 s lasts five of them; sub-minute high-resolution periods,
//! and a period equal to `metric_period`, are kept as they are), and the evaluation loop
//! runs once per `metric_period`. At the
//! default of 60 this is exactly AWS. Queries (GetMetricStatistics, GetMetricData)
//! always use their literal `Period` over real timestamps.

use shoal_model::ErrorCode;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use shoal_model::cloudwatch::alarm::evaluation_window;
use shoal_model::cloudwatch::math::{self, MathContext, MathValue, Series};
use shoal_model::cloudwatch::metric::{
    aggregate_periods, period_start, validate_dimensions, validate_namespace,
    validate_put_namespace, validate_samples, validate_statistics_request, validate_unit,
};
use shoal_model::cloudwatch::{
    Aggregate, Datapoint, Dimension, MetricAlarm, MetricId, PeriodValue, Samples, Statistic,
};
use shoal_model::tags;
use shoal_model::{AwsError, AwsResult};
use shoal_store::HistoryQuery;

use super::page::{Page, Paging};
use super::{Service, State};

mod alarms;
pub use alarms::{alarm_not_found, AlarmDue, AlarmFilter, AlarmsForMetric, HistoryFilter};

/// The dimension of Auto Scaling group aggregates.
pub const GROUP_DIMENSION: &str = "AutoScalingGroupName";
/// The tag Auto Scaling puts on its instances.
pub const GROUP_TAG: &str = "aws:autoscaling:groupName";
/// CloudWatch keeps datapoints 15 days (at one-minute resolution) …
pub const METRIC_RETENTION_DAYS: i64 = 15;
/// … and alarm history 30 days.
pub const HISTORY_RETENTION_DAYS: i64 = 30;

/// One `MetricData` member of PutMetricData.
#[derive(Debug, Clone)]
pub struct MetricDatum {
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
    /// Absent means "now".
    pub timestamp: Option<DateTime<Utc>>,
    pub samples: Samples,
    pub unit: Option<String>,
}

/// GetMetricStatistics' request.
#[derive(Debug, Clone)]
pub struct StatisticsRequest {
    pub metric: MetricId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub period: i64,
    pub statistics: Vec<String>,
    pub extended_statistics: Vec<String>,
    pub unit: Option<String>,
}

/// One GetMetricStatistics datapoint: a period's start, its standard statistics and
/// its percentiles (by name, `p99`).
#[derive(Debug, Clone, PartialEq)]
pub struct StatisticsPoint {
    pub timestamp: DateTime<Utc>,
    pub statistics: Vec<(Statistic, f64)>,
    pub extended: Vec<(String, f64)>,
    pub unit: String,
}

/// A `MetricStat`: a metric, a period and a statistic.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricStat {
    pub metric: MetricId,
    pub period: i64,
    pub stat: String,
    pub unit: Option<String>,
}

/// One `MetricDataQuery` of GetMetricData.
#[derive(Debug, Clone, PartialEq)]
pub struct DataQuery {
    pub id: String,
    pub metric_stat: Option<MetricStat>,
    pub expression: Option<String>,
    pub label: Option<String>,
    pub return_data: bool,
    pub period: Option<i64>,
}

/// One `MetricDataResult`.
#[derive(Debug, Clone, PartialEq)]
pub struct DataResult {
    pub id: String,
    pub label: String,
    pub timestamps: Vec<DateTime<Utc>>,
    pub values: Vec<f64>,
}

/// ListMetrics' filters. A dimension filter with no value matches any value.
#[derive(Debug, Clone, Default)]
pub struct ListMetricsRequest {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Vec<(String, Option<String>)>,
    pub recently_active: bool,
    pub next_token: Option<String>,
}

pub(crate) fn store_error(e: shoal_store::StoreError) -> AwsError {
    tracing::error!(error = %e, "CloudWatch store access failed");
    AwsError::internal(format!("Shoal could not access its metric store: {e}"))
}

/// The group a metric is the aggregate of: `AWS/EC2 <metric>{AutoScalingGroupName=g}`.
pub fn aggregate_group(metric: &MetricId) -> Option<&str> {
    match metric.dimensions.as_slice() {
        [d] if metric.namespace == "AWS/EC2" && d.name == GROUP_DIMENSION => Some(&d.value),
        _ => None,
    }
}

/// The instances tagged as members of `group` that may have data since `since` (not
/// terminated before it), in id order.
pub fn group_members_since(state: &State, group: &str, since: DateTime<Utc>) -> Vec<String> {
    state
        .instances
        .values()
        .filter(|i| tags::get(&i.tags, GROUP_TAG) == Some(group))
        .filter(|i| i.terminated_at.is_none_or(|t| t >= since))
        .map(|i| i.id.clone())
        .collect()
}

/// The `AWS/EC2 CPUUtilization` series of one instance, as the CPU sampler stores it.
pub fn cpu_key(instance_id: &str) -> MetricId {
    MetricId::of(
        shoal_model::cloudwatch::EC2_NAMESPACE,
        "CPUUtilization",
        &[("InstanceId", instance_id)],
    )
}

/// Merges several series into one, oldest first (stable for equal timestamps).
pub fn merge_points(series: Vec<Vec<Datapoint>>) -> Vec<Datapoint> {
    let mut all: Vec<Datapoint> = series.into_iter().flatten().collect();
    all.sort_by_key(|p| p.timestamp);
    all
}

fn parse_statistics(stats: &[String], extended: &[String]) -> AwsResult<Vec<Statistic>> {
    if stats.is_empty() && extended.is_empty() {
        return Err(AwsError::new(
            ErrorCode::InvalidParameterCombination,
            "Must specify either Statistics or ExtendedStatistics, but not both.",
        ));
    }
    if stats.len() > 5 || extended.len() > 10 {
        return Err(AwsError::invalid_parameter_value(
            "The collection Statistics must not have a size greater than 5.",
        ));
    }
    let mut out = Vec::new();
    for (i, s) in stats.iter().enumerate() {
        match Statistic::parse(s) {
            Some(st) if !matches!(st, Statistic::Percentile(_)) => out.push(st),
            _ => {
                return Err(AwsError::invalid_parameter_value(format!(
                    "The parameter Statistics.member.{} must be a value in the set [ SampleCount, Average, Sum, Minimum, Maximum ].",
                    i + 1
                )))
            }
        }
    }
    for s in extended {
        match Statistic::parse(s) {
            Some(st @ Statistic::Percentile(_)) => out.push(st),
            _ => {
                return Err(AwsError::invalid_parameter_value(format!(
                    "The value {s} for parameter ExtendedStatistics is not supported."
                )))
            }
        }
    }
    Ok(out)
}

fn parse_stat(stat: &str, at: &str) -> AwsResult<Statistic> {
    Statistic::parse(stat).ok_or_else(|| {
        AwsError::validation(format!("The value {stat} for parameter {at}.Stat is invalid."))
    })
}

impl Service {
    /// Shoal's short period, accepted wherever AWS accepts a period.
    fn short_period(&self) -> Option<u32> {
        u32::try_from(self.config.metric_period.as_secs()).ok().filter(|p| *p > 0)
    }

    /// The wall-clock length of an alarm period of `period` seconds: a CloudWatch minute
    /// lasts `metric_period`; sub-minute periods are kept (see the module docs).
    pub fn effective_period(&self, period: u32) -> u32 {
        let mp = self.config.metric_period.as_secs().max(1);
        // A period of exactly `metric_period` is already "one CloudWatch minute" (what
        // Auto Scaling passes for its target-tracking alarms).
        if period < 60 || mp == 60 || u64::from(period) == mp {
            return period.max(1);
        }
        u32::try_from((u64::from(period) * mp / 60).max(1)).unwrap_or(u32::MAX)
    }

    // ------------------------------------------------------------------ metric data

    /// PutMetricData: validates every datum, then stores them all or none.
    pub fn put_metric_data(&self, namespace: &str, data: Vec<MetricDatum>) -> AwsResult<()> {
        validate_put_namespace(namespace)?;
        if data.is_empty() {
            return Err(AwsError::missing_parameter("MetricData"));
        }
        if data.len() > 1000 {
            return Err(AwsError::invalid_parameter_value(
                "The collection MetricData must not have a size greater than 1000.",
            ));
        }
        let now = self.clock.now();
        let mut points = Vec::with_capacity(data.len());
        for (i, d) in data.into_iter().enumerate() {
            let n = i + 1;
            shoal_model::cloudwatch::metric::validate_metric_name(
                &d.metric_name,
                &format!("MetricData.member.{n}.MetricName"),
            )?;
            validate_dimensions(&d.dimensions)?;
            if let Some(u) = &d.unit {
                validate_unit(u)?;
            }
            validate_samples(&d.samples).map_err(|mut e| {
                e.message = e.message.replace("member.1.", &format!("member.{n}."));
                e
            })?;
            let ts = d.timestamp.unwrap_or(now);
            if ts < now - Duration::days(14) {
                return Err(AwsError::invalid_parameter_value(format!(
                    "The parameter MetricData.member.{n}.Timestamp must specify a time no more than two weeks in the past."
                )));
            }
            if ts > now + Duration::hours(2) {
                return Err(AwsError::invalid_parameter_value(format!(
                    "The parameter MetricData.member.{n}.Timestamp must specify a time no more than two hours in the future."
                )));
            }
            points.push((
                MetricId::new(namespace, d.metric_name, d.dimensions),
                Datapoint { timestamp: ts, samples: d.samples, unit: d.unit },
            ));
        }
        self.with_store(|s| s.write(|w| w.put_metric_points(&points))).map_err(store_error)
    }

    /// The most recent CPUUtilization sample of an instance, if it is recent (three
    /// sample intervals): what `shoal instances` and the console show as its CPU now.
    pub fn latest_cpu(&self, instance_id: &str) -> Option<f64> {
        let now = self.clock.now().timestamp_millis();
        let window = 3 * self.config.cpu_sample_interval.as_millis() as i64;
        self.with_store(|s| s.metric_points(&cpu_key(instance_id), now - window, now + 1).ok())?
            .last()
            .map(|d| d.samples.mean())
    }

    /// One stored series' raw samples in `[from_ms, to_ms)` as `(timestamp ms, value)`,
    /// oldest first (empty when the store cannot be read): what the console charts.
    pub fn raw_samples(
        &self,
        (namespace, name): (&str, &str),
        dimensions: &[(&str, &str)],
        from_ms: i64,
        to_ms: i64,
    ) -> Vec<(i64, f64)> {
        let key = MetricId::of(namespace, name, dimensions);
        self.with_store(|s| s.metric_points(&key, from_ms, to_ms))
            .map(|v| {
                v.into_iter().map(|d| (d.timestamp.timestamp_millis(), d.samples.mean())).collect()
            })
            .unwrap_or_default()
    }

    /// A metric's datapoints in `[start, end)`, oldest first. Group aggregates
    /// (`AWS/EC2 …{AutoScalingGroupName}`) merge their member instances' series.
    pub fn metric_points(
        &self,
        metric: &MetricId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> AwsResult<Vec<Datapoint>> {
        let (s, e) = (start.timestamp_millis(), end.timestamp_millis());
        let own = metric.clone();
        let stored =
            self.with_store(|store| store.metric_points(&own, s, e)).map_err(store_error)?;
        // A group aggregate the sampler keeps as its own series is read as such; others
        // are merged from the members alive during the window.
        if aggregate_group(metric).is_none() || !stored.is_empty() {
            return Ok(stored);
        }
        let mut keys = vec![own];
        if let Some(group) = aggregate_group(metric) {
            for id in self.read(|st| group_members_since(st, group, start)) {
                let member = MetricId::new(
                    metric.namespace.clone(),
                    metric.metric_name.clone(),
                    vec![Dimension::new("InstanceId", id)],
                );
                keys.push(member);
            }
        }
        self.merged_points(&keys, start, end)
    }

    /// The datapoints of several series in `[start, end)`, merged oldest first.
    fn merged_points(
        &self,
        keys: &[MetricId],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> AwsResult<Vec<Datapoint>> {
        let (s, e) = (start.timestamp_millis(), end.timestamp_millis());
        let series = self.with_store(|store| {
            keys.iter().map(|k| store.metric_points(k, s, e)).collect::<Result<Vec<_>, _>>()
        });
        Ok(merge_points(series.map_err(store_error)?))
    }

    /// `alarm`'s statistic over the latest complete period of its metric, taken from
    /// the `{InstanceId}` series of `instances` only: a group aggregate restricted to
    /// some of its members (Auto Scaling leaves warming instances out this way).
    pub fn members_latest(
        &self,
        alarm: &MetricAlarm,
        instances: &[String],
        now: DateTime<Utc>,
    ) -> AwsResult<Option<f64>> {
        let (Some(ns), Some(name), Some(stat)) =
            (&alarm.namespace, &alarm.metric_name, alarm.evaluated_statistic())
        else {
            return Ok(None);
        };
        let period = self.effective_period(alarm.period.unwrap_or(60));
        let start = period_start(now, period) - Duration::seconds(i64::from(period));
        let keys: Vec<MetricId> = instances
            .iter()
            .map(|id| {
                let dims = vec![Dimension::new("InstanceId", id.clone())];
                MetricId::new(ns.clone(), name.clone(), dims)
            })
            .collect();
        let points = self.merged_points(&keys, start, now)?;
        let periods = aggregate_periods(&points, start, now, period);
        Ok(evaluation_window(&periods, stat, period, 1, now).first().and_then(|p| p.value))
    }

    /// A metric's aggregates per aligned period of `period` seconds overlapping
    /// `[start, end)`, oldest first; periods without data are absent. `unit`, when
    /// given, keeps only points recorded in that unit.
    pub fn metric_periods(
        &self,
        metric: &MetricId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        period: u32,
        unit: Option<&str>,
    ) -> AwsResult<Vec<(DateTime<Utc>, Aggregate)>> {
        let from = period_start(start, period);
        let mut points = self.metric_points(metric, from, end)?;
        if let Some(u) = unit {
            points.retain(|p| p.unit.as_deref().unwrap_or("None") == u);
        }
        Ok(aggregate_periods(&points, start, end, period))
    }

    /// GetMetricStatistics.
    pub fn get_metric_statistics(
        &self,
        req: &StatisticsRequest,
    ) -> AwsResult<Vec<StatisticsPoint>> {
        validate_namespace(&req.metric.namespace)?;
        validate_dimensions(&req.metric.dimensions)?;
        let stats = parse_statistics(&req.statistics, &req.extended_statistics)?;
        validate_statistics_request(req.start, req.end, req.period, self.short_period())?;
        if let Some(u) = &req.unit {
            validate_unit(u)?;
        }
        let period = u32::try_from(req.period).unwrap_or(u32::MAX);
        let periods =
            self.metric_periods(&req.metric, req.start, req.end, period, req.unit.as_deref())?;
        Ok(periods
            .into_iter()
            .map(|(ts, agg)| {
                let mut statistics = Vec::new();
                let mut extended = Vec::new();
                for st in &stats {
                    if let Some(v) = agg.statistic(*st) {
                        match st {
                            Statistic::Percentile(_) => extended.push((st.name(), v)),
                            _ => statistics.push((*st, v)),
                        }
                    }
                }
                StatisticsPoint {
                    timestamp: ts,
                    statistics,
                    extended,
                    unit: agg.unit.clone().unwrap_or_else(|| "None".into()),
                }
            })
            .collect())
    }

    /// The series of one metric stat: the statistic's value per period that has data.
    fn stat_series(
        &self,
        ms: &MetricStat,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        at: &str,
    ) -> AwsResult<Series> {
        let stat = parse_stat(&ms.stat, at)?;
        let period = u32::try_from(ms.period).unwrap_or(u32::MAX);
        Ok(self
            .metric_periods(&ms.metric, start, end, period, ms.unit.as_deref())?
            .into_iter()
            .filter_map(|(ts, agg)| Some((ts, agg.statistic(stat)?)))
            .collect())
    }

    /// GetMetricData: metric-stat queries, then expressions in request order (an
    /// expression sees every metric-stat query and the expressions before it).
    /// Results are newest first unless `oldest_first` (`ScanBy=TimestampAscending`).
    pub fn get_metric_data(
        &self,
        queries: &[DataQuery],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        oldest_first: bool,
    ) -> AwsResult<Vec<DataResult>> {
        if start > end {
            return Err(AwsError::validation(
                "The parameter EndTime must be greater than StartTime.",
            ));
        }
        if start == end {
            return Err(AwsError::validation(
                "The parameter StartTime must not equal parameter EndTime.",
            ));
        }
        if queries.is_empty() || queries.len() > 500 {
            return Err(AwsError::validation(
                "The collection MetricDataQueries must contain between 1 and 500 elements.",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, q) in queries.iter().enumerate() {
            let n = i + 1;
            let ok_id = q.id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && q.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok_id {
                return Err(AwsError::validation(format!(
                    "The value {} for parameter MetricDataQueries.member.{n}.Id is invalid.",
                    q.id
                )));
            }
            if !seen.insert(q.id.as_str()) {
                return Err(AwsError::validation(format!(
                    "The value {} for parameter MetricDataQueries.member.{n}.Id is not unique.",
                    q.id
                )));
            }
            match (&q.metric_stat, &q.expression) {
                (Some(ms), None) => {
                    validate_namespace(&ms.metric.namespace)?;
                    validate_dimensions(&ms.metric.dimensions)?;
                    validate_query_period(
                        ms.period,
                        self.short_period(),
                        n,
                    )?;
                    parse_stat(&ms.stat, &format!("MetricDataQueries.member.{n}.MetricStat"))?;
                }
                (None, Some(_)) => {}
                _ => {
                    return Err(AwsError::validation(format!(
                        "The parameter MetricDataQueries.member.{n} must specify exactly one of MetricStat or Expression."
                    )))
                }
            }
        }
        if !queries.iter().any(|q| q.return_data) {
            return Err(AwsError::validation(
                "At least one of the queries must have ReturnData set to true.",
            ));
        }
        let mut inputs: Vec<(String, String, Series)> = Vec::new();
        let mut results = Vec::new();
        for (i, q) in queries.iter().enumerate() {
            if let Some(ms) = &q.metric_stat {
                let at = format!("MetricDataQueries.member.{}.MetricStat", i + 1);
                let series = self.stat_series(ms, start, end, &at)?;
                let label = q.label.clone().unwrap_or_else(|| ms.metric.metric_name.clone());
                inputs.push((q.id.clone(), label, series));
            }
        }
        let stats = inputs.len();
        let all_times: BTreeSet<DateTime<Utc>> =
            inputs.iter().flat_map(|(_, _, s)| s.keys().copied()).collect();
        for q in queries {
            let (label, series) = match (&q.metric_stat, &q.expression) {
                (Some(_), _) => {
                    let (_, label, s) =
                        inputs.iter().find(|(id, _, _)| *id == q.id).cloned().unwrap_or_default();
                    (label, s)
                }
                (None, Some(expr)) => {
                    // METRICS() means the request's metric-stat queries; other ids
                    // may also name the expressions before this one.
                    let visible =
                        if expr.contains("METRICS") { &inputs[..stats] } else { &inputs[..] };
                    let value = math::evaluate(&q.id, expr, &MathContext { series: visible })?;
                    let series: Series = match value {
                        MathValue::Series(s) => s,
                        MathValue::Scalar(v) => all_times.iter().map(|t| (*t, v)).collect(),
                        MathValue::List(_) => Series::new(),
                    };
                    let label = q.label.clone().unwrap_or_else(|| q.id.clone());
                    inputs.push((q.id.clone(), label.clone(), series.clone()));
                    (label, series)
                }
                (None, None) => continue,
            };
            if !q.return_data {
                continue;
            }
            let mut points: Vec<(DateTime<Utc>, f64)> = series.into_iter().collect();
            if !oldest_first {
                points.reverse();
            }
            results.push(DataResult {
                id: q.id.clone(),
                label,
                timestamps: points.iter().map(|(t, _)| *t).collect(),
                values: points.iter().map(|(_, v)| *v).collect(),
            });
        }
        Ok(results)
    }

    /// ListMetrics: every metric with data in the last two weeks (three hours with
    /// `recently_active`), group aggregates included, sorted, 500 per page.
    pub fn list_metrics(&self, req: &ListMetricsRequest) -> AwsResult<Page<MetricId>> {
        let now = self.clock.now();
        let since =
            if req.recently_active { now - Duration::hours(3) } else { now - Duration::days(14) };
        let keys =
            self.with_store(|s| s.metric_keys(since.timestamp_millis())).map_err(store_error)?;
        let mut ids: BTreeSet<MetricId> = keys.into_iter().collect();
        // Aggregates of groups whose members have data.
        let groups: BTreeMap<String, String> = self.read(|s| {
            s.instances
                .values()
                .filter_map(|i| Some((i.id.clone(), tags::get(&i.tags, GROUP_TAG)?.to_string())))
                .collect()
        });
        let mut aggregates = Vec::new();
        for id in &ids {
            if id.namespace != "AWS/EC2" {
                continue;
            }
            if let [d] = id.dimensions.as_slice() {
                if let Some(g) = (d.name == "InstanceId").then(|| groups.get(&d.value)).flatten() {
                    aggregates.push(MetricId::new(
                        "AWS/EC2",
                        id.metric_name.clone(),
                        vec![Dimension::new(GROUP_DIMENSION, g.clone())],
                    ));
                }
            }
        }
        ids.extend(aggregates);
        let matching: Vec<MetricId> = ids
            .into_iter()
            .filter(|id| req.namespace.as_ref().is_none_or(|n| *n == id.namespace))
            .filter(|id| req.metric_name.as_ref().is_none_or(|n| *n == id.metric_name))
            .filter(|id| {
                req.dimensions.iter().all(|(name, value)| {
                    id.dimensions
                        .iter()
                        .any(|d| d.name == *name && value.as_ref().is_none_or(|v| *v == d.value))
                })
            })
            .collect();
        // ListMetrics pages by 500 and takes no size.
        Paging::max_records(500, 500).page(matching, None, req.next_token.as_deref())
    }
}

/// A query's `Period`: AWS's periods, or Shoal's short period.
pub fn validate_query_period(period: i64, short: Option<u32>, n: usize) -> AwsResult<()> {
    shoal_model::cloudwatch::metric::validate_period(period, short).map_err(|_| {
        AwsError::validation(format!(
            "The value {period} for parameter MetricDataQueries.member.{n}.MetricStat.Period is invalid."
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::config::Config;
    use crate::runtime::fake::FakeDriver;
    use chrono::TimeZone;
    use shoal_model::cloudwatch::{AlarmState, ComparisonOperator};
    use shoal_model::tags::Tag;
    use std::sync::Arc;

    fn service(metric_period: u64) -> (Arc<Service>, ManualClock) {
        let clock = ManualClock::starting_at(Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap());
        let mut config = Config::new(std::env::temp_dir().join("shoal-cw-unit"));
        config.metric_period = std::time::Duration::from_secs(metric_period);
        let store = shoal_store::Store::in_memory().unwrap();
        let svc =
            Service::new(config, Arc::new(clock.clone()), Arc::new(FakeDriver::default()), store)
                .unwrap();
        (Arc::new(svc), clock)
    }

    fn datum(name: &str, dims: &[(&str, &str)], ts: DateTime<Utc>, v: f64) -> MetricDatum {
        MetricDatum {
            metric_name: name.into(),
            dimensions: dims.iter().map(|(n, v)| Dimension::new(*n, *v)).collect(),
            timestamp: Some(ts),
            samples: Samples::Value(v),
            unit: Some("Percent".into()),
        }
    }

    #[test]
    fn effective_periods_scale_minutes_only() {
        let (svc, _) = service(5);
        assert_eq!(svc.effective_period(60), 5);
        assert_eq!(svc.effective_period(300), 25);
        assert_eq!(svc.effective_period(10), 10);
        let (svc, _) = service(120);
        assert_eq!(svc.effective_period(120), 120);
        assert_eq!(svc.effective_period(60), 120);
        let (svc, _) = service(60);
        assert_eq!(svc.effective_period(300), 300);
    }

    #[test]
    fn group_aggregate_merges_member_instances() {
        let (svc, clock) = service(60);
        svc.bootstrap().unwrap();
        let res = svc
            .run_instances(crate::service::ec2::RunInstances {
                image_id: Some(
                    svc.read(|s| crate::service::ec2::base_image(s).unwrap().id.clone()),
                ),
                min_count: 3,
                max_count: 3,
                ..Default::default()
            })
            .unwrap();
        let ids: Vec<String> = res.instances.iter().map(|i| i.id.clone()).collect();
        // Auto Scaling tags its instances; two of the three belong to the group.
        svc.mutate(|s, c| {
            for id in &ids[..2] {
                let mut i = s.instances[id].clone();
                i.tags.push(Tag::new(GROUP_TAG, "EXERCISE-GROUP"));
                c.put(i);
            }
            Ok(())
        })
        .unwrap();
        let t0 = clock.now();
        // The CPU sampler writes AWS/EC2 directly (PutMetricData refuses AWS/).
        let key = |id: &str| {
            MetricId::new("AWS/EC2", "CPUUtilization", vec![Dimension::new("InstanceId", id)])
        };
        let pts = vec![
            (key(&ids[0]), Datapoint::value(t0 + Duration::seconds(1), 100.0)),
            (key(&ids[1]), Datapoint::value(t0 + Duration::seconds(2), 0.0)),
            (key(&ids[0]), Datapoint::value(t0 + Duration::seconds(61), 90.0)),
            (key(&ids[1]), Datapoint::value(t0 + Duration::seconds(62), 10.0)),
            (key(&ids[2]), Datapoint::value(t0 + Duration::seconds(3), 77.0)),
        ];
        svc.with_store(|s| s.write(|w| w.put_metric_points(&pts))).unwrap();
        let group = MetricId::new(
            "AWS/EC2",
            "CPUUtilization",
            vec![Dimension::new(GROUP_DIMENSION, "EXERCISE-GROUP")],
        );
        let stats = svc
            .get_metric_statistics(&StatisticsRequest {
                metric: group.clone(),
                start: t0,
                end: t0 + Duration::seconds(120),
                period: 60,
                statistics: vec!["Average".into(), "Maximum".into(), "SampleCount".into()],
                extended_statistics: vec![],
                unit: None,
            })
            .unwrap();
        assert_eq!(stats.len(), 2);
        assert_eq!(
            stats[0].statistics,
            vec![
                (Statistic::Average, 50.0),
                (Statistic::Maximum, 100.0),
                (Statistic::SampleCount, 2.0)
            ]
        );
        assert_eq!(stats[1].statistics[0], (Statistic::Average, 50.0));
        clock.advance(std::time::Duration::from_secs(130));
        let listed = svc.list_metrics(&ListMetricsRequest::default()).unwrap().items;
        assert!(listed.contains(&group), "{listed:?}");
    }

    #[test]
    fn an_autoscaling_action_repeats_with_the_current_value_while_in_alarm() {
        let (svc, clock) = service(60);
        let now = clock.now();
        let mut a = MetricAlarm::new(
            "us-east-1",
            "low",
            "Lab",
            "Load",
            "Average",
            60,
            1,
            56.0,
            ComparisonOperator::LessThanThreshold,
            now,
        );
        let policy = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x";
        a.alarm_actions = vec![policy.into(), "arn:aws:sns:us-east-1:123456789012:ops".into()];
        svc.put_alarm(a).unwrap();
        let put = |offset: i64, v: f64| {
            svc.put_metric_data("Lab", vec![datum("Load", &[], now + Duration::seconds(offset), v)])
                .unwrap()
        };
        put(10, 49.0);
        clock.advance(std::time::Duration::from_secs(65));
        let due = crate::control::alarms::evaluate_alarms(&svc);
        assert_eq!(due.len(), 1);
        assert!(due[0].transitioned);
        assert_eq!((due[0].actions.len(), due[0].value), (2, Some(49.0)));
        // Still in ALARM a period later: only the Auto Scaling action, with today's value.
        put(70, 0.0);
        clock.advance(std::time::Duration::from_secs(60));
        let due = crate::control::alarms::evaluate_alarms(&svc);
        assert_eq!(due.len(), 1);
        assert!(!due[0].transitioned);
        assert_eq!(due[0].actions, vec![policy.to_string()]);
        assert_eq!(due[0].value, Some(0.0));
        assert_eq!(due[0].alarm.latest_value(), Some(49.0), "the reason data is the transition's");
    }

    #[test]
    fn alarm_goes_ok_alarm_ok_with_history() {
        let (svc, clock) = service(60);
        let now = clock.now();
        let mut a = MetricAlarm::new(
            "us-east-1",
            "high",
            "Lab",
            "Load",
            "Average",
            60,
            2,
            50.0,
            ComparisonOperator::GreaterThanThreshold,
            now,
        );
        a.alarm_actions = vec!["arn:aws:sns:us-east-1:123456789012:ops".into()];
        svc.put_alarm(a).unwrap();
        let put = |svc: &Service, offset: i64, v: f64| {
            svc.put_metric_data("Lab", vec![datum("Load", &[], now + Duration::seconds(offset), v)])
                .unwrap()
        };
        put(&svc, 10, 10.0);
        put(&svc, 70, 20.0);
        clock.advance(std::time::Duration::from_secs(125));
        assert!(crate::control::alarms::evaluate_alarms(&svc).is_empty());
        assert_eq!(svc.alarm("high").unwrap().state_value, AlarmState::Ok);
        put(&svc, 130, 90.0);
        put(&svc, 190, 95.0);
        clock.advance(std::time::Duration::from_secs(120));
        let due = crate::control::alarms::evaluate_alarms(&svc);
        assert_eq!(due.len(), 1);
        assert!(due[0].transitioned);
        assert_eq!(due[0].alarm.state_value, AlarmState::Alarm);
        svc.run_alarm_actions(&due[0]);
        let history = svc.describe_alarm_history(&HistoryFilter::default()).unwrap().items;
        let summaries: Vec<&str> = history.iter().map(|h| h.history_summary.as_str()).collect();
        assert_eq!(
            summaries,
            vec![
                "Failed to execute action arn:aws:sns:us-east-1:123456789012:ops. Received error: \"Resource: arn:aws:sns:us-east-1:123456789012:ops is not reachable from Shoal.\"",
                "Alarm updated from OK to ALARM",
                "Alarm updated from INSUFFICIENT_DATA to OK",
                "Alarm \"high\" created",
            ]
        );
        // Nothing new, nothing recorded.
        assert!(crate::control::alarms::evaluate_alarms(&svc).is_empty());
        assert_eq!(svc.describe_alarm_history(&HistoryFilter::default()).unwrap().items.len(), 4);
        // A refused delete changes nothing.
        let e = svc.delete_alarms(&["high".into(), "nope".into()]).unwrap_err();
        assert_eq!((e.code.as_str(), e.status), ("ResourceNotFound", 404));
        assert!(svc.alarm("high").is_ok());
        svc.delete_alarms(&["high".into()]).unwrap();
        assert!(svc.alarm("high").is_err());
    }
}
