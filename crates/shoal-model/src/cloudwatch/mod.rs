//! CloudWatch: metric data points, statistics over periods and alarm evaluation.
