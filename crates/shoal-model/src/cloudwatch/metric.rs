//! Metrics: identity, data points, statistics over aligned periods, and the
//! PutMetricData / GetMetricStatistics validation rules.

use crate::ErrorCode;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::{AwsError, AwsResult};

/// A metric dimension (`Name`/`Value`). CloudWatch treats each distinct set of
/// dimensions as a separate metric.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

impl Dimension {
    /// A dimension from its name and value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Dimension { name: name.into(), value: value.into() }
    }
}

/// A metric's identity: namespace, name and dimensions. Dimensions are kept sorted by
/// name so that the order a caller lists them in never makes two metrics differ — as
/// in CloudWatch, where `[A,B]` and `[B,A]` address the same metric.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MetricId {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
}

impl MetricId {
    /// Builds an identity, sorting the dimensions by name (then value).
    pub fn new(
        namespace: impl Into<String>,
        metric_name: impl Into<String>,
        mut dimensions: Vec<Dimension>,
    ) -> Self {
        dimensions.sort();
        MetricId { namespace: namespace.into(), metric_name: metric_name.into(), dimensions }
    }

    /// An identity from borrowed parts, as producers of Shoal's own metrics name them.
    pub fn of(namespace: &str, metric_name: &str, dimensions: &[(&str, &str)]) -> Self {
        let dimensions = dimensions.iter().map(|&(name, value)| Dimension::new(name, value));
        MetricId::new(namespace, metric_name, dimensions.collect())
    }

    /// ListMetrics / GetMetricStatistics matching: the dimensions must be exactly equal
    /// (CloudWatch does not aggregate across dimension sets).
    pub fn same_as(&self, other: &MetricId) -> bool {
        self == other
    }
}

/// A pre-aggregated set of values (PutMetricData `StatisticValues`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatisticSet {
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
}

/// What one PutMetricData datum carries: one `Value`, a `Values`/`Counts` array, or a
/// `StatisticValues` set. Percentiles need raw values, so a period holding a statistic
/// set has no percentile — CloudWatch behaves the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Samples {
    Value(f64),
    /// `(value, count)` pairs: `Values.member.N` with `Counts.member.N` (count 1 if absent).
    Values(Vec<(f64, f64)>),
    Set(StatisticSet),
}

impl Samples {
    /// The samples' mean: the value itself, a `Values` array's count-weighted mean, or
    /// a statistic set's `Sum / SampleCount` (what a plain reader and a chart show).
    pub fn mean(&self) -> f64 {
        match self {
            Samples::Value(v) => *v,
            Samples::Values(vs) => {
                let count: f64 = vs.iter().map(|(_, c)| c).sum();
                let sum: f64 = vs.iter().map(|(v, c)| v * c).sum();
                if count > 0.0 {
                    sum / count
                } else {
                    0.0
                }
            }
            Samples::Set(s) if s.sample_count > 0.0 => s.sum / s.sample_count,
            Samples::Set(_) => 0.0,
        }
    }
}

/// A stored data point of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datapoint {
    pub timestamp: DateTime<Utc>,
    pub samples: Samples,
    pub unit: Option<String>,
}

impl Datapoint {
    /// A single-value point, the common case (`--value 42`).
    pub fn value(timestamp: DateTime<Utc>, value: f64) -> Self {
        Datapoint { timestamp, samples: Samples::Value(value), unit: None }
    }

    /// A single-value point with its unit, as Shoal's own metrics (`AWS/EC2`,
    /// `AWS/ApplicationELB`) publish them.
    pub fn measured(timestamp: DateTime<Utc>, value: f64, unit: &str) -> Self {
        Datapoint { timestamp, samples: Samples::Value(value), unit: Some(unit.into()) }
    }
}

/// CloudWatch's `StandardUnit` values; any other unit is rejected.
pub const STANDARD_UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// A statistic a request can ask for: the five `Statistics` values or an
/// `ExtendedStatistic` percentile `pNN` / `pNN.NN`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
    /// Percentile in `[0, 100]`.
    Percentile(f64),
}

impl Statistic {
    /// Parses `Average`, `Sum`, … or `p99`, `p99.9`, `p0`, `p100`.
    pub fn parse(s: &str) -> Option<Statistic> {
        Some(match s {
            "SampleCount" => Statistic::SampleCount,
            "Average" => Statistic::Average,
            "Sum" => Statistic::Sum,
            "Minimum" => Statistic::Minimum,
            "Maximum" => Statistic::Maximum,
            _ => {
                let rest = s.strip_prefix('p')?;
                if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_digit() || c == '.') {
                    return None;
                }
                let p: f64 = rest.parse().ok()?;
                if !(0.0..=100.0).contains(&p) {
                    return None;
                }
                Statistic::Percentile(p)
            }
        })
    }

    /// The name as CloudWatch writes it (`Average`, `p99`, `p99.9`).
    pub fn name(&self) -> String {
        match self {
            Statistic::SampleCount => "SampleCount".into(),
            Statistic::Average => "Average".into(),
            Statistic::Sum => "Sum".into(),
            Statistic::Minimum => "Minimum".into(),
            Statistic::Maximum => "Maximum".into(),
            Statistic::Percentile(p) => format!("p{}", fmt_trim(*p)),
        }
    }
}

fn fmt_trim(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Everything known about the samples of one period: enough for every statistic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
    /// Raw `(value, count)` samples; empty when any statistic set was merged in, since
    /// percentiles are then unavailable.
    pub values: Vec<(f64, f64)>,
    /// True when a `StatisticValues` set contributed (percentiles unavailable).
    pub has_set: bool,
    /// Unit of the points (the last one seen).
    pub unit: Option<String>,
}

impl Aggregate {
    fn add(&mut self, value: f64, count: f64) {
        if self.sample_count == 0.0 {
            self.minimum = value;
            self.maximum = value;
        } else {
            self.minimum = self.minimum.min(value);
            self.maximum = self.maximum.max(value);
        }
        self.sample_count += count;
        self.sum += value * count;
        self.values.push((value, count));
    }

    fn add_set(&mut self, set: &StatisticSet) {
        if self.sample_count == 0.0 {
            self.minimum = set.minimum;
            self.maximum = set.maximum;
        } else {
            self.minimum = self.minimum.min(set.minimum);
            self.maximum = self.maximum.max(set.maximum);
        }
        self.sample_count += set.sample_count;
        self.sum += set.sum;
        self.has_set = true;
    }

    /// Adds one stored data point.
    pub fn push(&mut self, point: &Datapoint) {
        match &point.samples {
            Samples::Value(v) => self.add(*v, 1.0),
            Samples::Values(vs) => {
                for (v, c) in vs {
                    self.add(*v, *c);
                }
            }
            Samples::Set(set) => self.add_set(set),
        }
        if point.unit.is_some() {
            self.unit.clone_from(&point.unit);
        }
    }

    /// The value of one statistic, or `None` when it cannot be computed (no samples, or
    /// a percentile over statistic sets).
    pub fn statistic(&self, stat: Statistic) -> Option<f64> {
        if self.sample_count <= 0.0 {
            return None;
        }
        Some(match stat {
            Statistic::SampleCount => self.sample_count,
            Statistic::Average => self.sum / self.sample_count,
            Statistic::Sum => self.sum,
            Statistic::Minimum => self.minimum,
            Statistic::Maximum => self.maximum,
            Statistic::Percentile(p) => {
                if self.has_set {
                    return None;
                }
                percentile(&self.values, p)?
            }
        })
    }
}

/// Nearest-rank percentile over weighted samples: the smallest value whose cumulative
/// count reaches `p`% of the total. (CloudWatch's exact estimator is not documented;
/// nearest-rank matches it on small exact data sets.)
pub fn percentile(values: &[(f64, f64)], p: f64) -> Option<f64> {
    let mut sorted: Vec<(f64, f64)> = values.iter().copied().filter(|(_, c)| *c > 0.0).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = sorted.iter().map(|(_, c)| c).sum();
    let rank = ((p / 100.0) * total).ceil().max(1.0);
    let mut cumulative = 0.0;
    for (v, c) in &sorted {
        cumulative += c;
        if cumulative >= rank {
            return Some(*v);
        }
    }
    sorted.last().map(|(v, _)| *v)
}

/// Start of the period containing `ts`, periods aligned to multiples of `period`
/// seconds since the Unix epoch (so 60-second periods start on the minute, as
/// CloudWatch's do).
pub fn period_start(ts: DateTime<Utc>, period: u32) -> DateTime<Utc> {
    let p = i64::from(period.max(1));
    let secs = ts.timestamp().div_euclid(p) * p;
    Utc.timestamp_opt(secs, 0).single().unwrap_or(ts)
}

/// GetMetricStatistics aggregation: groups `points` into aligned periods overlapping
/// `[start, end)` and returns the periods that hold data, oldest first. Callers pick the
/// statistics from each [`Aggregate`]; empty periods are absent, as in CloudWatch.
pub fn aggregate_periods(
    points: &[Datapoint],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    period: u32,
) -> Vec<(DateTime<Utc>, Aggregate)> {
    let first = period_start(start, period);
    let mut buckets: std::collections::BTreeMap<DateTime<Utc>, Aggregate> = Default::default();
    for point in points {
        if point.timestamp < first || point.timestamp >= end {
            continue;
        }
        buckets.entry(period_start(point.timestamp, period)).or_default().push(point);
    }
    buckets.into_iter().collect()
}

/// Namespace rule shared by every call: 1–255 characters, not starting with `:`, at
/// least one non-whitespace character.
pub fn validate_namespace(namespace: &str) -> AwsResult<()> {
    let len = namespace.chars().count();
    if len == 0
        || len > 255
        || namespace.starts_with(':')
        || namespace.trim().is_empty()
        || !crate::text::is_xml_text(namespace)
    {
        return Err(AwsError::invalid_parameter_value(format!(
            "The value {} for parameter Namespace is invalid.",
            namespace.escape_debug()
        )));
    }
    Ok(())
}

/// PutMetricData's namespace rule: the shared rule plus the `AWS/` prefix, reserved
/// for AWS services. Observed text: `The value AWS/ for parameter Namespace is invalid.`
/// (`InvalidParameterValue`). Shoal's own publishers (the EC2 CPU sampler, the load
/// balancer) write `AWS/…` metrics through the store directly, not through this rule.
pub fn validate_put_namespace(namespace: &str) -> AwsResult<()> {
    validate_namespace(namespace)?;
    if namespace.starts_with("AWS/") {
        return Err(AwsError::invalid_parameter_value(
            "The value AWS/ for parameter Namespace is invalid.",
        ));
    }
    Ok(())
}

/// Metric names: 1–255 characters XML can carry (AWS: "must contain valid XML
/// characters"). `field` is the parameter's name in the request.
pub fn validate_metric_name(name: &str, field: &str) -> AwsResult<()> {
    let len = name.chars().count();
    if len == 0 || len > 255 || !crate::text::is_xml_text(name) {
        return Err(AwsError::invalid_parameter_value(format!(
            "The value {} for parameter {field} is invalid.",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Dimension rules: at most 30 per metric, names 1–255 characters, values 1–1024,
/// names unique.
pub fn validate_dimensions(dimensions: &[Dimension]) -> AwsResult<()> {
    if dimensions.len() > 30 {
        return Err(AwsError::invalid_parameter_value(
            "The collection Dimensions must not have a size greater than 30.",
        ));
    }
    for (i, d) in dimensions.iter().enumerate() {
        let n = d.name.chars().count();
        if n == 0 || n > 255 || !crate::text::is_xml_text(&d.name) {
            return Err(AwsError::invalid_parameter_value(format!(
                "The value {} for parameter Dimensions.member.{}.Name is invalid.",
                d.name.escape_debug(),
                i + 1
            )));
        }
        let v = d.value.chars().count();
        if v == 0 || v > 1024 || !crate::text::is_xml_text(&d.value) {
            return Err(AwsError::invalid_parameter_value(format!(
                "The value {} for parameter Dimensions.member.{}.Value is invalid.",
                d.value.escape_debug(),
                i + 1
            )));
        }
        if dimensions[..i].iter().any(|o| o.name == d.name) {
            return Err(AwsError::invalid_parameter_value(format!(
                "No Metric may specify the same dimension name twice: {}",
                d.name
            )));
        }
    }
    Ok(())
}

/// Validates a unit against [`STANDARD_UNITS`].
pub fn validate_unit(unit: &str) -> AwsResult<()> {
    if STANDARD_UNITS.contains(&unit) {
        Ok(())
    } else {
        Err(AwsError::invalid_parameter_value(format!(
            "The parameter Unit must be a value in the set [ {} ].",
            STANDARD_UNITS.join(", ")
        )))
    }
}

/// Validates one PutMetricData datum's values: finite, `Values`/`Counts` of equal
/// length (the caller pairs them), a statistic set with `SampleCount > 0` and
/// `Minimum <= Maximum`.
pub fn validate_samples(samples: &Samples) -> AwsResult<()> {
    let finite = |v: f64| v.is_finite();
    match samples {
        Samples::Value(v) if !finite(*v) => Err(AwsError::invalid_parameter_value(
            "The value for parameter MetricData.member.1.Value is invalid.",
        )),
        Samples::Values(vs) if vs.len() > 150 => Err(AwsError::invalid_parameter_value(
            "The collection Values must not have a size greater than 150.",
        )),
        Samples::Values(vs) if vs.iter().any(|(v, c)| !finite(*v) || !finite(*c) || *c < 0.0) => {
            Err(AwsError::invalid_parameter_value(
                "The parameter Values must contain only finite numbers.",
            ))
        }
        Samples::Set(s) if s.sample_count <= 0.0 || s.minimum > s.maximum => {
            Err(AwsError::invalid_parameter_value(
                "The parameter StatisticValues must have SampleCount > 0 and Minimum <= Maximum.",
            ))
        }
        _ => Ok(()),
    }
}

/// Period rule. CloudWatch accepts 1, 5, 10, 30 and multiples of 60 (high-resolution
/// metrics); Shoal also accepts its configurable short period `short_period` (passed in
/// by callers from config) so demos can scale in seconds. Violations use AWS's text.
pub fn validate_period(period: i64, short_period: Option<u32>) -> AwsResult<()> {
    let ok = period > 0
        && (period % 60 == 0
            || [1, 5, 10, 30].contains(&period)
            || short_period.is_some_and(|s| i64::from(s) == period));
    if ok {
        Ok(())
    } else {
        Err(AwsError::invalid_parameter_value("The parameter Period must be a multiple of 60."))
    }
}

/// GetMetricStatistics request rules: `StartTime < EndTime`, a valid period, and at most
/// 1,440 data points per call (`InvalidParameterCombination`, AWS's exact text).
pub fn validate_statistics_request(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    period: i64,
    short_period: Option<u32>,
) -> AwsResult<()> {
    validate_period(period, short_period)?;
    if start >= end {
        return Err(AwsError::invalid_parameter_value(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let span = (end - start).num_seconds();
    let points = (span + period - 1) / period;
    if points > 1440 {
        return Err(AwsError::new(
            ErrorCode::InvalidParameterCombination,
            format!(
                "You have requested up to {} datapoints, which exceeds the limit of 1,440. \
                 You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
                group_thousands(points)
            ),
        ));
    }
    Ok(())
}

/// `16666` → `16,666`, as AWS writes counts in messages.
pub(crate) fn group_thousands(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64, sec: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_040 + min * 60 + sec, 0).unwrap()
    }

    #[test]
    fn dimensions_are_sorted_into_one_identity() {
        let a = MetricId::new(
            "App",
            "Latency",
            vec![Dimension::new("B", "2"), Dimension::new("A", "1")],
        );
        let b = MetricId::new(
            "App",
            "Latency",
            vec![Dimension::new("A", "1"), Dimension::new("B", "2")],
        );
        assert!(a.same_as(&b));
    }

    #[test]
    fn statistics_parse_and_name() {
        fn check(s: &str, want: Option<Statistic>) {
            assert_eq!(Statistic::parse(s), want, "{s}");
            if let Some(w) = want {
                assert_eq!(w.name(), s);
            }
        }
        check("Average", Some(Statistic::Average));
        check("SampleCount", Some(Statistic::SampleCount));
        check("p99", Some(Statistic::Percentile(99.0)));
        check("p99.9", Some(Statistic::Percentile(99.9)));
        check("p100", Some(Statistic::Percentile(100.0)));
        check("p101", None);
        check("avg", None);
        check("p", None);
    }

    #[test]
    fn aggregates_per_aligned_period() {
        let pts = vec![
            Datapoint::value(t(0, 1), 10.0),
            Datapoint::value(t(0, 30), 20.0),
            Datapoint::value(t(1, 0), 90.0),
            Datapoint {
                timestamp: t(1, 5),
                samples: Samples::Values(vec![(1.0, 2.0), (5.0, 1.0)]),
                unit: Some("Percent".into()),
            },
            Datapoint::value(t(3, 0), 7.0),
        ];
        let out = aggregate_periods(&pts, t(0, 0), t(3, 0), 60);
        assert_eq!(out.len(), 2, "t(3,0) is at the exclusive end");
        let (s0, a0) = &out[0];
        assert_eq!(*s0, t(0, 0));
        fn check(a: &Aggregate, stat: Statistic, want: Option<f64>) {
            assert_eq!(a.statistic(stat), want, "{stat:?}");
        }
        check(a0, Statistic::Average, Some(15.0));
        check(a0, Statistic::Sum, Some(30.0));
        check(a0, Statistic::SampleCount, Some(2.0));
        check(a0, Statistic::Minimum, Some(10.0));
        check(a0, Statistic::Maximum, Some(20.0));
        let a1 = &out[1].1;
        check(a1, Statistic::SampleCount, Some(4.0));
        check(a1, Statistic::Sum, Some(97.0));
        check(a1, Statistic::Percentile(50.0), Some(1.0));
        check(a1, Statistic::Percentile(100.0), Some(90.0));
        assert_eq!(a1.unit.as_deref(), Some("Percent"));
        let mut set = Aggregate::default();
        set.push(&Datapoint {
            timestamp: t(0, 0),
            samples: Samples::Set(StatisticSet {
                sample_count: 4.0,
                sum: 8.0,
                minimum: 1.0,
                maximum: 3.0,
            }),
            unit: None,
        });
        check(&set, Statistic::Average, Some(2.0));
        check(&set, Statistic::Percentile(90.0), None);
    }

    #[test]
    fn validation_texts() {
        fn check(r: AwsResult<()>, want: Option<(&str, &str)>) {
            match (r, want) {
                (Ok(()), None) => {}
                (Err(e), Some((code, msg))) => {
                    assert_eq!(e.code, code);
                    assert_eq!(e.message, msg);
                }
                (r, w) => panic!("got {r:?}, want {w:?}"),
            }
        }
        check(validate_put_namespace("Shoal/App"), None);
        check(
            validate_put_namespace("AWS/EC2"),
            Some(("InvalidParameterValue", "The value AWS/ for parameter Namespace is invalid.")),
        );
        check(validate_namespace("AWS/EC2"), None);
        for (ns, ok) in [("App", true), (":App", false), ("", false), ("a\0", false), (" ", false)]
        {
            assert_eq!(validate_namespace(ns).is_ok(), ok, "{ns:?}");
        }
        for (name, ok) in [("Requests", true), ("é ✓", true), ("", false), ("a\0", false)] {
            assert_eq!(validate_metric_name(name, "MetricName").is_ok(), ok, "{name:?}");
        }
        assert!(validate_metric_name(&"m".repeat(256), "MetricName").is_err());
        check(
            validate_dimensions(&[Dimension::new("d", "a\u{7}")]),
            Some((
                "InvalidParameterValue",
                "The value a\\u{7} for parameter Dimensions.member.1.Value is invalid.",
            )),
        );
        check(validate_period(300, None), None);
        check(
            validate_period(45, None),
            Some(("InvalidParameterValue", "The parameter Period must be a multiple of 60.")),
        );
        check(validate_period(15, Some(15)), None);
        let dims: Vec<Dimension> = (0..31).map(|i| Dimension::new(format!("d{i}"), "v")).collect();
        check(
            validate_dimensions(&dims),
            Some((
                "InvalidParameterValue",
                "The collection Dimensions must not have a size greater than 30.",
            )),
        );
        check(validate_statistics_request(t(0, 0), t(1440, 0), 60, None), None);
        check(
            validate_statistics_request(t(0, 0), t(16666, 0), 60, None),
            Some((
                "InvalidParameterCombination",
                "You have requested up to 16,666 datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
            )),
        );
        check(
            validate_statistics_request(t(5, 0), t(5, 0), 60, None),
            Some((
                "InvalidParameterValue",
                "The parameter StartTime must be less than the parameter EndTime.",
            )),
        );
        check(validate_unit("Percent"), None);
        assert!(validate_unit("Parsecs").is_err());
    }
}
