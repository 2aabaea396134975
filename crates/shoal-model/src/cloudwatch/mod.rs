//! CloudWatch: metric data points, statistics over periods and alarm evaluation.
//!
//! - [`metric`]: metric identity, data points, aligned period aggregation, statistics
//!   (incl. percentiles) and the PutMetricData / GetMetricStatistics rules.
//! - [`math`]: GetMetricData's small metric-math subset.
//! - [`alarm`]: `MetricAlarm`, PutMetricAlarm validation, the evaluator with AWS's
//!   StateReason texts, and alarm history items.

pub mod alarm;
pub mod math;
pub mod metric;

/// The namespace of EC2's instance metrics (`CPUUtilization`, `NetworkIn`, …).
pub const EC2_NAMESPACE: &str = "AWS/EC2";
/// The namespace of Application Load Balancer metrics.
pub const ELB_NAMESPACE: &str = "AWS/ApplicationELB";

pub use alarm::{
    AlarmHistoryItem, AlarmState, ComparisonOperator, Evaluation, HistoryItemType, MetricAlarm,
    PeriodValue, TreatMissingData,
};
pub use metric::{Aggregate, Datapoint, Dimension, MetricId, Samples, Statistic, StatisticSet};
