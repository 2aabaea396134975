//! Metric alarms: the PutMetricAlarm fields with AWS's defaults and rules, the pure
//! evaluator (M out of N, four comparison operators, TreatMissingData), the
//! StateReason / StateReasonData texts CloudWatch writes, and alarm history items.

use crate::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::metric::{
    period_start, validate_dimensions, validate_namespace, validate_period, validate_unit,
    Aggregate, Dimension, Statistic,
};
use crate::tags::Tag;
use crate::{AwsError, AwsResult};

/// `ComparisonOperator` of a static-threshold alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComparisonOperator {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl ComparisonOperator {
    /// Parses the wire name; anomaly-detection operators are not supported.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "GreaterThanOrEqualToThreshold" => Self::GreaterThanOrEqualToThreshold,
            "GreaterThanThreshold" => Self::GreaterThanThreshold,
            "LessThanThreshold" => Self::LessThanThreshold,
            "LessThanOrEqualToThreshold" => Self::LessThanOrEqualToThreshold,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Self::GreaterThanThreshold => "GreaterThanThreshold",
            Self::LessThanThreshold => "LessThanThreshold",
            Self::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    /// True when `value` breaches `threshold`.
    pub fn breaches(&self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanOrEqualToThreshold => value >= threshold,
            Self::GreaterThanThreshold => value > threshold,
            Self::LessThanThreshold => value < threshold,
            Self::LessThanOrEqualToThreshold => value <= threshold,
        }
    }

    /// The phrase StateReason uses: `greater than or equal to`, `less than`, …
    pub fn phrase(&self) -> &'static str {
        match self {
            Self::GreaterThanOrEqualToThreshold => "greater than or equal to",
            Self::GreaterThanThreshold => "greater than",
            Self::LessThanThreshold => "less than",
            Self::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }
}

/// `TreatMissingData`; absent means `missing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TreatMissingData {
    #[default]
    Missing,
    NotBreaching,
    Breaching,
    Ignore,
}

impl TreatMissingData {
    /// Parses `missing`, `notBreaching`, `breaching`, `ignore`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "missing" => Self::Missing,
            "notBreaching" => Self::NotBreaching,
            "breaching" => Self::Breaching,
            "ignore" => Self::Ignore,
            _ => return None,
        })
    }
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::NotBreaching => "notBreaching",
            Self::Breaching => "breaching",
            Self::Ignore => "ignore",
        }
    }
}

/// `StateValue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    /// `OK`, `ALARM`, `INSUFFICIENT_DATA`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Alarm => "ALARM",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
    /// Parses the wire name (SetAlarmState).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "OK" => Self::Ok,
            "ALARM" => Self::Alarm,
            "INSUFFICIENT_DATA" => Self::InsufficientData,
            _ => return None,
        })
    }
}

/// One `MetricDataQuery` of a metric-math alarm (`Metrics.member.N`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDataQuery {
    pub id: String,
    /// `(namespace, metric name, dimensions, period, stat, unit)` for a metric-stat query.
    pub metric_stat: Option<MetricStat>,
    pub expression: Option<String>,
    pub label: Option<String>,
    /// Defaults to true.
    pub return_data: Option<bool>,
    pub period: Option<u32>,
}

/// `MetricStat` of a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricStat {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
    pub period: u32,
    pub stat: String,
    pub unit: Option<String>,
}

/// A metric alarm as DescribeAlarms returns it: every PutMetricAlarm field plus state.
/// Defaults (AWS's): `ActionsEnabled` true, `TreatMissingData` absent (= missing),
/// `DatapointsToAlarm` absent (= EvaluationPeriods), initial state
/// `INSUFFICIENT_DATA` with reason `Unchecked: Initial alarm creation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricAlarm {
    pub alarm_name: String,
    pub alarm_arn: String,
    pub alarm_description: Option<String>,
    pub actions_enabled: bool,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    pub dimensions: Vec<Dimension>,
    pub period: Option<u32>,
    pub unit: Option<String>,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: Option<u32>,
    pub threshold: Option<f64>,
    pub comparison_operator: ComparisonOperator,
    pub treat_missing_data: Option<TreatMissingData>,
    pub evaluate_low_sample_count_percentile: Option<String>,
    pub metrics: Vec<MetricDataQuery>,
    pub threshold_metric_id: Option<String>,
    pub tags: Vec<Tag>,
    pub state_value: AlarmState,
    pub state_reason: String,
    pub state_reason_data: Option<String>,
    pub state_updated_timestamp: DateTime<Utc>,
    pub state_transitioned_timestamp: DateTime<Utc>,
    pub alarm_configuration_updated_timestamp: DateTime<Utc>,
}

/// StateReason of a newly created alarm.
pub const INITIAL_REASON: &str = "Unchecked: Initial alarm creation";

/// `arn:aws:cloudwatch:<region>:<account>:alarm:<name>`.
pub fn alarm_arn(region: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch:{region}:{}:alarm:{name}", crate::ACCOUNT_ID)
}

impl MetricAlarm {
    /// A single-metric alarm with AWS's defaults, in its initial state. Callers then set
    /// optional fields and run [`validate_metric_alarm`].
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        region: &str,
        name: impl Into<String>,
        namespace: impl Into<String>,
        metric_name: impl Into<String>,
        statistic: impl Into<String>,
        period: u32,
        evaluation_periods: u32,
        threshold: f64,
        comparison_operator: ComparisonOperator,
        now: DateTime<Utc>,
    ) -> Self {
        let name = name.into();
        MetricAlarm {
            alarm_arn: alarm_arn(region, &name),
            alarm_name: name,
            alarm_description: None,
            actions_enabled: true,
            ok_actions: vec![],
            alarm_actions: vec![],
            insufficient_data_actions: vec![],
            metric_name: Some(metric_name.into()),
            namespace: Some(namespace.into()),
            statistic: Some(statistic.into()),
            extended_statistic: None,
            dimensions: vec![],
            period: Some(period),
            unit: None,
            evaluation_periods,
            datapoints_to_alarm: None,
            threshold: Some(threshold),
            comparison_operator,
            treat_missing_data: None,
            evaluate_low_sample_count_percentile: None,
            metrics: vec![],
            threshold_metric_id: None,
            tags: vec![],
            state_value: AlarmState::InsufficientData,
            state_reason: INITIAL_REASON.into(),
            state_reason_data: None,
            state_updated_timestamp: now,
            state_transitioned_timestamp: now,
            alarm_configuration_updated_timestamp: now,
        }
    }

    /// PutMetricAlarm on an existing alarm replaces the configuration but keeps the
    /// current state, reason and state timestamps (CloudWatch re-evaluates later).
    pub fn keep_state_of(&mut self, existing: &MetricAlarm) {
        self.state_value = existing.state_value;
        self.state_reason.clone_from(&existing.state_reason);
        self.state_reason_data.clone_from(&existing.state_reason_data);
        self.state_updated_timestamp = existing.state_updated_timestamp;
        self.state_transitioned_timestamp = existing.state_transitioned_timestamp;
    }

    /// The statistic the alarm evaluates (`Statistic` or `ExtendedStatistic`).
    pub fn evaluated_statistic(&self) -> Option<Statistic> {
        self.statistic.as_deref().or(self.extended_statistic.as_deref()).and_then(Statistic::parse)
    }

    /// The period the alarm is evaluated on, in CloudWatch seconds: its `Period`, or for
    /// metric math the first `MetricStat` query's (every query is read on that grid).
    pub fn evaluation_period(&self) -> u32 {
        if self.metrics.is_empty() {
            return self.period.unwrap_or(60);
        }
        self.metrics
            .iter()
            .find_map(|q| q.metric_stat.as_ref().map(|m| m.period).or(q.period))
            .unwrap_or(60)
    }

    /// The newest value the last evaluation saw (`recentDatapoints` in
    /// StateReasonData), what an alarm action acts on.
    pub fn latest_value(&self) -> Option<f64> {
        newest_recent_datapoint(self.state_reason_data.as_deref()?)
    }

    /// `DatapointsToAlarm`, defaulting to `EvaluationPeriods`.
    pub fn m(&self) -> u32 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }
}

/// PutMetricAlarm validation (`ValidationError` unless noted). `short_period` is
/// Shoal's configurable short period, accepted besides AWS's periods.
pub fn validate_metric_alarm(alarm: &MetricAlarm, short_period: Option<u32>) -> AwsResult<()> {
    let n = alarm.alarm_name.chars().count();
    if n == 0 || n > 255 {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{}' at 'alarmName' failed to satisfy constraint: Member must have length less than or equal to 255",
            alarm.alarm_name
        )));
    }
    // AWS: alarm names "must contain only UTF-8 characters, and can't contain ASCII
    // control characters".
    if alarm.alarm_name.chars().any(char::is_control) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{}' at 'alarmName' failed to satisfy constraint: Member must not contain ASCII control characters",
            alarm.alarm_name.escape_debug()
        )));
    }
    if let Some(d) = &alarm.alarm_description {
        if d.chars().count() > 1024 {
            return Err(AwsError::validation(
                "1 validation error detected: Value at 'alarmDescription' failed to satisfy constraint: Member must have length less than or equal to 1024",
            ));
        }
    }
    if alarm.evaluation_periods < 1 {
        return Err(AwsError::validation(
            "1 validation error detected: Value '0' at 'evaluationPeriods' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ));
    }
    if let Some(m) = alarm.datapoints_to_alarm {
        if m < 1 || m > alarm.evaluation_periods {
            return Err(AwsError::validation(format!(
                "DatapointsToAlarm ({m}) must be between 1 and EvaluationPeriods ({}).",
                alarm.evaluation_periods
            )));
        }
    }
    if alarm.threshold.is_none() {
        return Err(AwsError::validation(
            "A threshold must be specified for a static-threshold alarm.",
        ));
    }
    if alarm.metrics.is_empty() {
        let (Some(ns), Some(metric_name)) = (&alarm.namespace, &alarm.metric_name) else {
            return Err(AwsError::validation(
                "Either MetricName and Namespace, or Metrics, must be specified.",
            ));
        };
        validate_namespace(ns)?;
        super::metric::validate_metric_name(metric_name, "MetricName")?;
        validate_dimensions(&alarm.dimensions)?;
        match (&alarm.statistic, &alarm.extended_statistic) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(AwsError::validation(
                    "Exactly one of Statistic or ExtendedStatistic must be specified.",
                ))
            }
            (Some(s), None) => {
                if !matches!(Statistic::parse(s), Some(st) if !matches!(st, Statistic::Percentile(_)))
                {
                    return Err(AwsError::validation(format!(
                        "1 validation error detected: Value '{s}' at 'statistic' failed to satisfy constraint: Member must satisfy enum value set: [Maximum, SampleCount, Sum, Minimum, Average]"
                    )));
                }
            }
            (None, Some(e)) => {
                if !matches!(Statistic::parse(e), Some(Statistic::Percentile(_))) {
                    return Err(AwsError::invalid_parameter_value(format!(
                        "The value {e} for parameter ExtendedStatistic is invalid."
                    )));
                }
            }
        }
        let Some(period) = alarm.period else {
            return Err(AwsError::validation("Period must be specified."));
        };
        validate_period(i64::from(period), short_period)?;
        let total = u64::from(period) * u64::from(alarm.evaluation_periods);
        if period < 3600 && total > 86_400 {
            return Err(AwsError::validation(
                "Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400).",
            ));
        }
        if total > 7 * 86_400 {
            return Err(AwsError::validation(
                "Metrics cannot be checked across more than 7 days (EvaluationPeriods * Period must be <= 604800).",
            ));
        }
    } else {
        if alarm.metric_name.is_some()
            || alarm.statistic.is_some()
            || alarm.extended_statistic.is_some()
        {
            return Err(AwsError::validation(
                "Metrics list cannot be combined with MetricName, Namespace, Statistic, ExtendedStatistic, Dimensions or Period.",
            ));
        }
        let returning = alarm.metrics.iter().filter(|q| q.return_data.unwrap_or(true)).count();
        if returning != 1 {
            return Err(AwsError::validation(
                "Exactly one element of the metrics list should return data.",
            ));
        }
    }
    if let Some(u) = &alarm.unit {
        validate_unit(u)?;
    }
    Ok(())
}

/// One period's value in an evaluation window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodValue {
    pub start: DateTime<Utc>,
    pub value: Option<f64>,
    pub sample_count: Option<f64>,
}

/// The last `evaluation_periods` complete periods before `now` (the period containing
/// `now` is still filling), oldest first, each with the statistic's value if the
/// period had data. `periods` comes from [`super::metric::aggregate_periods`].
pub fn evaluation_window(
    periods: &[(DateTime<Utc>, Aggregate)],
    statistic: Statistic,
    period: u32,
    evaluation_periods: u32,
    now: DateTime<Utc>,
) -> Vec<PeriodValue> {
    let last = period_start(now, period) - chrono::Duration::seconds(i64::from(period));
    (0..evaluation_periods)
        .rev()
        .map(|k| {
            let start = last - chrono::Duration::seconds(i64::from(period) * i64::from(k));
            let agg = periods.iter().find(|(s, _)| *s == start).map(|(_, a)| a);
            PeriodValue {
                start,
                value: agg.and_then(|a| a.statistic(statistic)),
                sample_count: agg.map(|a| a.sample_count).filter(|c| *c > 0.0),
            }
        })
        .collect()
}

/// Result of one evaluation: the state the alarm should be in, with the reason texts
/// CloudWatch would write for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub state: AlarmState,
    pub reason: String,
    pub reason_data: String,
}

impl Evaluation {
    /// The newest value this evaluation saw. An Auto Scaling action repeated while the
    /// alarm stays in ALARM acts on it, not on the value of the last transition (which
    /// is what the alarm's StateReasonData keeps).
    pub fn latest_value(&self) -> Option<f64> {
        newest_recent_datapoint(&self.reason_data)
    }
}

/// The last number in StateReasonData's `recentDatapoints`.
fn newest_recent_datapoint(reason_data: &str) -> Option<f64> {
    let data: serde_json::Value = serde_json::from_str(reason_data).ok()?;
    data["recentDatapoints"].as_array()?.iter().rev().find_map(|v| v.as_f64())
}

/// `95.0`, `0.0175`, `1141.0`: Java's `Double.toString` for ordinary magnitudes, which
/// is how CloudWatch prints values and thresholds.
pub fn fmt_value(v: f64) -> String {
    format!("{v:?}")
}

/// `25/11/26 10:03:00`: the datapoint timestamp format inside StateReason.
pub fn fmt_reason_time(t: DateTime<Utc>) -> String {
    t.format("%d/%m/%y %H:%M:%S").to_string()
}

/// `2026-11-25T10:03:00.000+0000`: the timestamp format inside StateReasonData.
pub fn fmt_reason_data_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn was_were(n: usize) -> &'static str {
    if n == 1 {
        "was"
    } else {
        "were"
    }
}

#[derive(Serialize)]
struct EvaluatedDatapoint {
    timestamp: String,
    #[serde(rename = "sampleCount", skip_serializing_if = "Option::is_none")]
    sample_count: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
}

#[derive(Serialize)]
struct ReasonData {
    version: &'static str,
    #[serde(rename = "queryDate")]
    query_date: String,
    #[serde(rename = "startDate", skip_serializing_if = "Option::is_none")]
    start_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    statistic: String,
    period: u32,
    #[serde(rename = "recentDatapoints")]
    recent_datapoints: Vec<f64>,
    threshold: f64,
    #[serde(rename = "evaluatedDatapoints")]
    evaluated_datapoints: Vec<EvaluatedDatapoint>,
}

/// Evaluates `alarm` over `window` (its last `EvaluationPeriods` periods, oldest first)
/// as CloudWatch does:
/// - each present value is breaching or not per the comparison operator;
/// - missing periods count as breaching (`breaching`), not breaching (`notBreaching`),
///   or are left out (`missing`, `ignore`);
/// - with M = DatapointsToAlarm, the alarm is `ALARM` when at least M of the evaluated
///   points breach — or, when fewer than M points are present, when all present points
///   breach (CloudWatch's partial-data rule) — and `OK` otherwise;
/// - no point at all: `INSUFFICIENT_DATA` (`missing`) or the current state (`ignore`).
///
/// Simplification: CloudWatch's `missing` may look back before the window for more
/// points; Shoal evaluates the window only.
pub fn evaluate(alarm: &MetricAlarm, window: &[PeriodValue], now: DateTime<Utc>) -> Evaluation {
    let threshold = alarm.threshold.unwrap_or(0.0);
    let op = alarm.comparison_operator;
    let treat = alarm.treat_missing_data.unwrap_or_default();
    let n = window.len();
    let m = (alarm.m() as usize).min(n.max(1));

    let present: Vec<&PeriodValue> = window.iter().filter(|p| p.value.is_some()).collect();
    let missing = n - present.len();
    let breaching_present: Vec<&PeriodValue> = present
        .iter()
        .copied()
        .filter(|p| op.breaches(p.value.unwrap_or(0.0), threshold))
        .collect();
    let ok_present: Vec<&PeriodValue> = present
        .iter()
        .copied()
        .filter(|p| !op.breaches(p.value.unwrap_or(0.0), threshold))
        .collect();

    let statistic =
        alarm.statistic.clone().or_else(|| alarm.extended_statistic.clone()).unwrap_or_default();
    let reason_data = ReasonData {
        version: "1.0",
        query_date: fmt_reason_data_time(now),
        start_date: present.first().map(|p| fmt_reason_data_time(p.start)),
        unit: alarm.unit.clone(),
        statistic,
        period: alarm.period.unwrap_or(60),
        recent_datapoints: present.iter().filter_map(|p| p.value).collect(),
        threshold,
        evaluated_datapoints: window
            .iter()
            .rev()
            .map(|p| EvaluatedDatapoint {
                timestamp: fmt_reason_data_time(p.start),
                sample_count: p.value.and(p.sample_count),
                value: p.value,
            })
            .collect(),
    };
    let reason_data = serde_json::to_string(&reason_data).unwrap_or_default();

    let (breaching, evaluated) = match treat {
        TreatMissingData::Breaching => (breaching_present.len() + missing, n),
        TreatMissingData::NotBreaching => (breaching_present.len(), n),
        TreatMissingData::Missing | TreatMissingData::Ignore => {
            (breaching_present.len(), present.len())
        }
    };

    if evaluated == 0 {
        return match treat {
            TreatMissingData::Ignore => Evaluation {
                state: alarm.state_value,
                reason: alarm.state_reason.clone(),
                reason_data: alarm.state_reason_data.clone().unwrap_or(reason_data),
            },
            _ => Evaluation {
                state: AlarmState::InsufficientData,
                reason: format!(
                    "Insufficient Data: {} {} unknown.",
                    plural(n, "datapoint"),
                    was_were(n)
                ),
                reason_data,
            },
        };
    }

    let needed = m.min(evaluated);
    let state = if breaching >= needed { AlarmState::Alarm } else { AlarmState::Ok };
    let (listed, negate) = match state {
        AlarmState::Alarm => (&breaching_present, ""),
        _ => (&ok_present, "not "),
    };
    let reason = if listed.is_empty() {
        let label = if state == AlarmState::Alarm { "Breaching" } else { "NonBreaching" };
        format!(
            "Threshold Crossed: no datapoints were received for {} and {} missing {} {} treated as [{label}].",
            plural(missing, "period"),
            missing,
            if missing == 1 { "datapoint" } else { "datapoints" },
            was_were(missing),
        )
    } else {
        let list = listed
            .iter()
            .rev()
            .map(|p| {
                format!("{} ({})", fmt_value(p.value.unwrap_or(0.0)), fmt_reason_time(p.start))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let k = listed.len();
        match alarm.datapoints_to_alarm {
            None => format!(
                "Threshold Crossed: {} [{list}] {} {negate}{} the threshold ({}).",
                plural(k, "datapoint"),
                was_were(k),
                op.phrase(),
                fmt_value(threshold)
            ),
            Some(_) => {
                let (min, transition) = match state {
                    AlarmState::Alarm => (m, "OK -> ALARM"),
                    _ => (n + 1 - m, "ALARM -> OK"),
                };
                format!(
                    "Threshold Crossed: {k} out of the last {n} datapoints [{list}] {} {negate}{} the threshold ({}) (minimum {} for {transition} transition).",
                    was_were(k),
                    op.phrase(),
                    fmt_value(threshold),
                    plural(min, "datapoint"),
                )
            }
        }
    };
    Evaluation { state, reason, reason_data }
}

/// `HistoryItemType` of DescribeAlarmHistory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HistoryItemType {
    ConfigurationUpdate,
    StateUpdate,
    Action,
}

/// One DescribeAlarmHistory item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmHistoryItem {
    pub alarm_name: String,
    /// Always `MetricAlarm` here.
    pub alarm_type: String,
    pub timestamp: DateTime<Utc>,
    pub history_item_type: HistoryItemType,
    pub history_summary: String,
    pub history_data: String,
}

/// Applies an evaluation. StateReason and its data change only on a state
/// transition (what DescribeAlarms shows is the reason of the last transition);
/// returns the `StateUpdate` history item when the state changed.
pub fn apply_evaluation(
    alarm: &mut MetricAlarm,
    eval: &Evaluation,
    now: DateTime<Utc>,
) -> Option<AlarmHistoryItem> {
    if eval.state == alarm.state_value {
        return None;
    }
    let item = state_update_item(alarm, eval.state, &eval.reason, Some(&eval.reason_data), now);
    alarm.state_value = eval.state;
    alarm.state_reason.clone_from(&eval.reason);
    alarm.state_reason_data = Some(eval.reason_data.clone());
    alarm.state_updated_timestamp = now;
    alarm.state_transitioned_timestamp = now;
    Some(item)
}

/// SetAlarmState: forces a state with the caller's reason (and optional JSON data);
/// the next evaluation may move it back. Returns the history item when it changed.
pub fn set_alarm_state(
    alarm: &mut MetricAlarm,
    state: AlarmState,
    reason: &str,
    reason_data: Option<&str>,
    now: DateTime<Utc>,
) -> AwsResult<Option<AlarmHistoryItem>> {
    if let Some(d) = reason_data {
        if serde_json::from_str::<serde_json::Value>(d).is_err() {
            return Err(AwsError::new(
                ErrorCode::InvalidFormat,
                "Invalid JSON in StateReasonData.",
            ));
        }
    }
    let changed = state != alarm.state_value;
    let item = changed.then(|| state_update_item(alarm, state, reason, reason_data, now));
    alarm.state_value = state;
    alarm.state_reason = reason.to_string();
    alarm.state_reason_data = reason_data.map(str::to_string);
    alarm.state_updated_timestamp = now;
    if changed {
        alarm.state_transitioned_timestamp = now;
    }
    Ok(item)
}

fn state_json(state: AlarmState, reason: &str, data: Option<&str>) -> serde_json::Value {
    let mut v = serde_json::json!({ "stateValue": state.as_str(), "stateReason": reason });
    if let Some(d) = data.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()) {
        v["stateReasonData"] = d;
    }
    v
}

fn state_update_item(
    alarm: &MetricAlarm,
    new: AlarmState,
    reason: &str,
    data: Option<&str>,
    now: DateTime<Utc>,
) -> AlarmHistoryItem {
    let history = serde_json::json!({
        "version": "1.0",
        "oldState": state_json(alarm.state_value, &alarm.state_reason, alarm.state_reason_data.as_deref()),
        "newState": state_json(new, reason, data),
    });
    AlarmHistoryItem {
        alarm_name: alarm.alarm_name.clone(),
        alarm_type: "MetricAlarm".into(),
        timestamp: now,
        history_item_type: HistoryItemType::StateUpdate,
        history_summary: format!(
            "Alarm updated from {} to {}",
            alarm.state_value.as_str(),
            new.as_str()
        ),
        history_data: history.to_string(),
    }
}

/// The `ConfigurationUpdate` item PutMetricAlarm records: summary
/// `Alarm "<name>" created` or `Alarm "<name>" updated`.
pub fn configuration_update_item(
    alarm: &MetricAlarm,
    created: bool,
    now: DateTime<Utc>,
) -> AlarmHistoryItem {
    let verb = if created { "created" } else { "updated" };
    let history = serde_json::json!({
        "type": "Create",
        "version": "1.0",
        "createdAlarm": {
            "alarmName": alarm.alarm_name,
            "threshold": alarm.threshold,
            "evaluationPeriods": alarm.evaluation_periods,
            "comparisonOperator": alarm.comparison_operator.as_str(),
            "metricName": alarm.metric_name,
            "namespace": alarm.namespace,
            "period": alarm.period,
            "statistic": alarm.statistic.as_deref().map(str::to_uppercase),
        }
    });
    let mut history = history;
    if !created {
        history["type"] = "Update".into();
    }
    AlarmHistoryItem {
        alarm_name: alarm.alarm_name.clone(),
        alarm_type: "MetricAlarm".into(),
        timestamp: now,
        history_item_type: HistoryItemType::ConfigurationUpdate,
        history_summary: format!("Alarm \"{}\" {verb}", alarm.alarm_name),
        history_data: history.to_string(),
    }
}

/// The `Action` item recorded when an alarm action runs:
/// `Successfully executed action <arn>` or `Failed to execute action <arn>. Received error: "<e>"`.
pub fn action_item(
    alarm: &MetricAlarm,
    action: &str,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> AlarmHistoryItem {
    let summary = match error {
        None => format!("Successfully executed action {action}"),
        Some(e) => format!("Failed to execute action {action}. Received error: \"{e}\""),
    };
    let history = serde_json::json!({
        "actionState": if error.is_none() { "Succeeded" } else { "Failed" },
        "stateUpdateTimestamp": now.timestamp_millis(),
        "notificationResource": action,
        "publishedMessage": serde_json::Value::Null,
    });
    AlarmHistoryItem {
        alarm_name: alarm.alarm_name.clone(),
        alarm_type: "MetricAlarm".into(),
        timestamp: now,
        history_item_type: HistoryItemType::Action,
        history_summary: summary,
        history_data: history.to_string(),
    }
}

/// The actions to run after an evaluation. On a transition: the new state's actions.
/// While an alarm stays in `ALARM`, Auto Scaling policy actions run again on every
/// evaluation (AWS re-invokes scaling policies as long as the alarm is in ALARM); other
/// actions (SNS, …) fire only on the transition. Nothing when `ActionsEnabled` is false.
pub fn due_actions(alarm: &MetricAlarm, transitioned: bool) -> Vec<String> {
    if !alarm.actions_enabled {
        return vec![];
    }
    let list = match alarm.state_value {
        AlarmState::Ok => &alarm.ok_actions,
        AlarmState::Alarm => &alarm.alarm_actions,
        AlarmState::InsufficientData => &alarm.insufficient_data_actions,
    };
    if transitioned {
        list.clone()
    } else if alarm.state_value == AlarmState::Alarm {
        list.iter().filter(|a| a.starts_with("arn:aws:autoscaling:")).cloned().collect()
    } else {
        vec![]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap()
    }

    fn cpu_alarm(
        op: ComparisonOperator,
        n: u32,
        m: Option<u32>,
        treat: Option<TreatMissingData>,
    ) -> MetricAlarm {
        let mut a = MetricAlarm::new(
            "us-east-1",
            "cpu-high",
            "AWS/EC2",
            "CPUUtilization",
            "Average",
            60,
            n,
            80.0,
            op,
            at(9, 0),
        );
        a.datapoints_to_alarm = m;
        a.treat_missing_data = treat;
        a
    }

    fn window(values: &[Option<f64>]) -> Vec<PeriodValue> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| PeriodValue {
                start: at(10, 1 + i as u32),
                value: *v,
                sample_count: v.map(|_| 1.0),
            })
            .collect()
    }

    #[test]
    fn state_reason_texts() {
        use ComparisonOperator::*;
        fn check(alarm: MetricAlarm, values: &[Option<f64>], state: AlarmState, reason: &str) {
            let e = evaluate(&alarm, &window(values), at(10, 5));
            assert_eq!(e.state, state, "{values:?}");
            assert_eq!(e.reason, reason);
        }
        check(
            cpu_alarm(GreaterThanThreshold, 3, None, None),
            &[Some(95.0), Some(96.5), Some(100.0)],
            AlarmState::Alarm,
            "Threshold Crossed: 3 datapoints [100.0 (25/11/26 10:03:00), 96.5 (25/11/26 10:02:00), 95.0 (25/11/26 10:01:00)] were greater than the threshold (80.0).",
        );
        check(
            cpu_alarm(GreaterThanOrEqualToThreshold, 1, None, None),
            &[Some(83.0)],
            AlarmState::Alarm,
            "Threshold Crossed: 1 datapoint [83.0 (25/11/26 10:01:00)] was greater than or equal to the threshold (80.0).",
        );
        check(
            cpu_alarm(GreaterThanThreshold, 2, Some(2), None),
            &[Some(10.0), Some(12.5)],
            AlarmState::Ok,
            "Threshold Crossed: 2 out of the last 2 datapoints [12.5 (25/11/26 10:02:00), 10.0 (25/11/26 10:01:00)] were not greater than the threshold (80.0) (minimum 1 datapoint for ALARM -> OK transition).",
        );
        check(
            cpu_alarm(LessThanThreshold, 3, Some(2), None),
            &[Some(90.0), Some(20.0), Some(10.0)],
            AlarmState::Alarm,
            "Threshold Crossed: 2 out of the last 3 datapoints [10.0 (25/11/26 10:03:00), 20.0 (25/11/26 10:02:00)] were less than the threshold (80.0) (minimum 2 datapoints for OK -> ALARM transition).",
        );
        check(
            cpu_alarm(LessThanOrEqualToThreshold, 5, None, None),
            &[None, None, None, None, None],
            AlarmState::InsufficientData,
            "Insufficient Data: 5 datapoints were unknown.",
        );
        check(
            cpu_alarm(GreaterThanThreshold, 1, None, Some(TreatMissingData::Breaching)),
            &[None],
            AlarmState::Alarm,
            "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [Breaching].",
        );
    }

    #[test]
    fn missing_data_treatments() {
        use AlarmState::*;
        use TreatMissingData as T;
        // CloudWatch's documented table for 3 of 3 (X breaching, 0 not, - missing).
        let x = Some(90.0);
        let o = Some(10.0);
        let rows: &[(&[Option<f64>], [AlarmState; 4])] = &[
            (&[o, o, o], [Ok, Ok, Ok, Ok]),
            (&[o, x, x], [Ok, Ok, Ok, Ok]),
            (&[x, x, x], [Alarm, Alarm, Alarm, Alarm]),
            (&[o, x, None], [Ok, Ok, Ok, Ok]),
            (&[x, x, None], [Alarm, Alarm, Alarm, Ok]),
            (&[None, x, None], [Alarm, Alarm, Alarm, Ok]),
            (&[None, None, None], [InsufficientData, Ok /* retained */, Alarm, Ok]),
        ];
        for (values, want) in rows {
            for (treat, want) in
                [T::Missing, T::Ignore, T::Breaching, T::NotBreaching].iter().zip(want)
            {
                let mut a =
                    cpu_alarm(ComparisonOperator::GreaterThanThreshold, 3, None, Some(*treat));
                a.state_value = Ok;
                let e = evaluate(&a, &window(values), at(10, 5));
                assert_eq!(e.state, *want, "{values:?} {treat:?}");
            }
        }
    }

    #[test]
    fn reason_data_and_history() {
        let mut a = cpu_alarm(ComparisonOperator::GreaterThanThreshold, 2, None, None);
        let w = window(&[Some(90.0), Some(85.0)]);
        let e = evaluate(&a, &w, Utc.with_ymd_and_hms(2026, 11, 25, 10, 3, 10).unwrap());
        assert_eq!(
            e.reason_data,
            r#"{"version":"1.0","queryDate":"2026-11-25T10:03:10.000+0000","startDate":"2026-11-25T10:01:00.000+0000","statistic":"Average","period":60,"recentDatapoints":[90.0,85.0],"threshold":80.0,"evaluatedDatapoints":[{"timestamp":"2026-11-25T10:02:00.000+0000","sampleCount":1.0,"value":85.0},{"timestamp":"2026-11-25T10:01:00.000+0000","sampleCount":1.0,"value":90.0}]}"#
        );
        let item = apply_evaluation(&mut a, &e, at(10, 3)).expect("transition");
        assert_eq!(item.history_summary, "Alarm updated from INSUFFICIENT_DATA to ALARM");
        assert_eq!(item.history_item_type, HistoryItemType::StateUpdate);
        assert!(item.history_data.contains(r#""oldState":{"stateReason":"Unchecked: Initial alarm creation","stateValue":"INSUFFICIENT_DATA"}"#));
        assert!(apply_evaluation(&mut a, &e, at(10, 4)).is_none(), "no change, no item");
        a.alarm_actions = vec![
            "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x".into(),
            "arn:aws:sns:us-east-1:123456789012:t".into(),
        ];
        assert_eq!(due_actions(&a, true).len(), 2);
        assert_eq!(
            due_actions(&a, false),
            vec!["arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x".to_string()]
        );
        assert_eq!(
            configuration_update_item(&a, true, at(9, 0)).history_summary,
            "Alarm \"cpu-high\" created"
        );
    }

    #[test]
    fn a_repeated_evaluation_carries_its_own_latest_value() {
        // AlarmLow enters ALARM at 49% and stays there as the load stops: the alarm keeps
        // the transition's reason data, the new evaluation holds the value to act on.
        let mut a = cpu_alarm(ComparisonOperator::LessThanThreshold, 2, None, None);
        let entered = evaluate(&a, &window(&[Some(49.0), Some(49.0)]), at(10, 3));
        apply_evaluation(&mut a, &entered, at(10, 3)).expect("transition");
        let stays = evaluate(&a, &window(&[Some(49.0), Some(0.0)]), at(10, 4));
        assert_eq!(stays.state, AlarmState::Alarm);
        assert!(apply_evaluation(&mut a, &stays, at(10, 4)).is_none());
        assert_eq!(a.latest_value(), Some(49.0));
        assert_eq!(stays.latest_value(), Some(0.0));
    }

    #[test]
    fn window_takes_complete_periods() {
        let mut agg = Aggregate::default();
        agg.push(&super::super::metric::Datapoint::value(at(10, 2), 50.0));
        let w = evaluation_window(
            &[(at(10, 2), agg)],
            Statistic::Average,
            60,
            3,
            at(10, 3) + chrono::Duration::seconds(5),
        );
        assert_eq!(
            w.iter().map(|p| p.start).collect::<Vec<_>>(),
            vec![at(10, 0), at(10, 1), at(10, 2)]
        );
        assert_eq!(w[2].value, Some(50.0));
        assert_eq!(w[0].value, None);
    }

    #[test]
    fn validation() {
        fn check(edit: impl Fn(&mut MetricAlarm), want: Option<&str>) {
            let mut a = MetricAlarm::new(
                "us-east-1",
                "a",
                "App",
                "M",
                "Average",
                60,
                3,
                1.0,
                ComparisonOperator::GreaterThanThreshold,
                at(9, 0),
            );
            edit(&mut a);
            match (validate_metric_alarm(&a, None), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert_eq!(e.message, w),
                (g, w) => panic!("got {g:?}, want {w:?}"),
            }
        }
        check(|_| {}, None);
        check(
            |a| a.datapoints_to_alarm = Some(4),
            Some("DatapointsToAlarm (4) must be between 1 and EvaluationPeriods (3)."),
        );
        check(|a| a.period = Some(61), Some("The parameter Period must be a multiple of 60."));
        check(
            |a| a.evaluation_periods = 1441,
            Some("Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400)."),
        );
        check(
            |a| a.extended_statistic = Some("p99".into()),
            Some("Exactly one of Statistic or ExtendedStatistic must be specified."),
        );
        check(
            |a| {
                a.statistic = None;
                a.extended_statistic = Some("p99".into())
            },
            None,
        );
    }
}
