//! Group metrics (`AWS/AutoScaling`, dimension `AutoScalingGroupName`): what
//! EnableMetricsCollection turns on and the values the group publishes each minute
//! (each metric period in Shoal).

use super::group::{AutoScalingGroup, EnabledMetric, LifecycleState};
use crate::{AwsError, AwsResult};

/// The only granularity AWS accepts for group metrics.
pub const GRANULARITY: &str = "1Minute";

/// Every group metric AWS offers, in the order DescribeMetricCollectionTypes lists
/// them. Without warm pools (Shoal has none) the `WarmPool*` values are 0 and the
/// `GroupAndWarmPool*` values equal the group's own; with every instance weighing 1,
/// the `*Capacity` values equal the `*Instances` counts.
pub const GROUP_METRICS: &[&str] = &[
    "GroupMinSize",
    "GroupMaxSize",
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
    "GroupInServiceCapacity",
    "GroupPendingCapacity",
    "GroupStandbyCapacity",
    "GroupTerminatingCapacity",
    "GroupTotalCapacity",
    "WarmPoolDesiredCapacity",
    "WarmPoolWarmedCapacity",
    "WarmPoolPendingCapacity",
    "WarmPoolTerminatingCapacity",
    "WarmPoolTotalCapacity",
    "GroupAndWarmPoolDesiredCapacity",
    "GroupAndWarmPoolTotalCapacity",
];

fn check_metric_names(metrics: &[String]) -> AwsResult<()> {
    let unknown: Vec<&str> =
        metrics.iter().map(String::as_str).filter(|m| !GROUP_METRICS.contains(m)).collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(AwsError::validation(format!(
            "Invalid metrics: [{}]. Valid metrics are: [{}]",
            unknown.join(", "),
            GROUP_METRICS.join(", ")
        )))
    }
}

/// EnableMetricsCollection: `Granularity` must be `1Minute`; no `Metrics` means all of
/// them. Metrics already enabled stay where they are; new ones are appended.
pub fn enable_metrics_collection(
    group: &mut AutoScalingGroup,
    metrics: &[String],
    granularity: &str,
) -> AwsResult<()> {
    if granularity != GRANULARITY {
        return Err(AwsError::validation(format!(
            "Invalid granularity: {granularity}. Valid granularities are: [{GRANULARITY}]"
        )));
    }
    check_metric_names(metrics)?;
    let wanted: Vec<&str> = if metrics.is_empty() {
        GROUP_METRICS.to_vec()
    } else {
        metrics.iter().map(String::as_str).collect()
    };
    for m in wanted {
        if !group.enabled_metrics.iter().any(|e| e.metric == m) {
            group
                .enabled_metrics
                .push(EnabledMetric { metric: m.to_string(), granularity: GRANULARITY.into() });
        }
    }
    Ok(())
}

/// DisableMetricsCollection: no `Metrics` means all of them.
pub fn disable_metrics_collection(
    group: &mut AutoScalingGroup,
    metrics: &[String],
) -> AwsResult<()> {
    check_metric_names(metrics)?;
    group.enabled_metrics.retain(|e| !metrics.is_empty() && !metrics.contains(&e.metric));
    Ok(())
}

/// The value of one group metric now. Pending covers `Pending:Wait/Proceed`,
/// terminating covers `Terminating:Wait/Proceed`, standby covers `EnteringStandby`;
/// the total is in service + pending + standby + terminating (detaching and
/// terminated instances are no longer the group's).
pub fn group_metric_value(group: &AutoScalingGroup, metric: &str) -> Option<f64> {
    use LifecycleState as L;
    let count = |f: fn(&LifecycleState) -> bool| {
        group.instances.iter().filter(|i| f(&i.lifecycle_state)).count() as f64
    };
    let in_service = count(|s| *s == L::InService);
    let pending = count(|s| s.is_pending());
    let standby = count(|s| matches!(s, L::Standby | L::EnteringStandby));
    let terminating =
        count(|s| matches!(s, L::Terminating | L::TerminatingWait | L::TerminatingProceed));
    let total = in_service + pending + standby + terminating;
    let desired = f64::from(group.desired_capacity);
    Some(match metric {
        "GroupMinSize" => f64::from(group.min_size),
        "GroupMaxSize" => f64::from(group.max_size),
        "GroupDesiredCapacity" | "GroupAndWarmPoolDesiredCapacity" => desired,
        "GroupInServiceInstances" | "GroupInServiceCapacity" => in_service,
        "GroupPendingInstances" | "GroupPendingCapacity" => pending,
        "GroupStandbyInstances" | "GroupStandbyCapacity" => standby,
        "GroupTerminatingInstances" | "GroupTerminatingCapacity" => terminating,
        "GroupTotalInstances" | "GroupTotalCapacity" | "GroupAndWarmPoolTotalCapacity" => total,
        m if m.starts_with("WarmPool") => 0.0,
        _ => return None,
    })
}

/// The enabled metrics and their values, in the order they were enabled.
pub fn enabled_metric_values(group: &AutoScalingGroup) -> Vec<(&str, f64)> {
    group
        .enabled_metrics
        .iter()
        .filter_map(|e| Some((e.metric.as_str(), group_metric_value(group, &e.metric)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscaling::group::{create_group, CreateGroupRequest, GroupInstance, ZoneSubnet};

    fn group_with(states: &[LifecycleState]) -> AutoScalingGroup {
        let zone =
            ZoneSubnet { subnet_id: "subnet-a".into(), availability_zone: "us-east-1a".into() };
        let req = CreateGroupRequest {
            name: "EXERCISE-GROUP".into(),
            launch_configuration_name: Some("lc".into()),
            min_size: Some(1),
            max_size: Some(6),
            desired_capacity: Some(4),
            zones: vec![zone.clone()],
            ..Default::default()
        };
        let now = chrono::DateTime::UNIX_EPOCH;
        let mut g = create_group(&req, false, "us-east-1", "uuid", now).unwrap();
        g.instances = states
            .iter()
            .enumerate()
            .map(|(n, s)| {
                let mut i =
                    GroupInstance::launched(format!("i-{n}"), &zone, &g, None, "t3.micro", now);
                i.lifecycle_state = *s;
                i
            })
            .collect();
        g
    }

    #[test]
    fn values_count_instances_by_lifecycle() {
        use LifecycleState as L;
        let g = group_with(&[
            L::InService,
            L::InService,
            L::Pending,
            L::PendingWait,
            L::Terminating,
            L::Standby,
            L::Terminated,
            L::Detached,
        ]);
        let v = |m| group_metric_value(&g, m).unwrap();
        assert_eq!(
            (v("GroupMinSize"), v("GroupMaxSize"), v("GroupDesiredCapacity")),
            (1.0, 6.0, 4.0)
        );
        assert_eq!(v("GroupInServiceInstances"), 2.0);
        assert_eq!(v("GroupPendingInstances"), 2.0);
        assert_eq!(v("GroupTerminatingInstances"), 1.0);
        assert_eq!(v("GroupStandbyInstances"), 1.0);
        assert_eq!(v("GroupTotalInstances"), 6.0);
        assert_eq!(v("GroupTotalCapacity"), v("GroupAndWarmPoolTotalCapacity"));
        assert_eq!(v("WarmPoolWarmedCapacity"), 0.0);
        for m in GROUP_METRICS {
            assert!(group_metric_value(&g, m).is_some(), "{m}");
        }
        assert_eq!(group_metric_value(&g, "GroupNothing"), None);
    }

    #[test]
    fn enable_and_disable_follow_aws() {
        let mut g = group_with(&[]);
        let names = |g: &AutoScalingGroup| {
            g.enabled_metrics.iter().map(|e| e.metric.clone()).collect::<Vec<_>>()
        };
        let err = enable_metrics_collection(&mut g, &[], "5Minute").unwrap_err();
        assert_eq!(err.code, "ValidationError");
        let err =
            enable_metrics_collection(&mut g, &["GroupNothing".into()], GRANULARITY).unwrap_err();
        assert!(err.message.starts_with("Invalid metrics: [GroupNothing]"));
        assert!(g.enabled_metrics.is_empty(), "refused calls change nothing");

        let two = ["GroupDesiredCapacity".to_string(), "GroupInServiceInstances".to_string()];
        enable_metrics_collection(&mut g, &two, GRANULARITY).unwrap();
        enable_metrics_collection(&mut g, &two[..1], GRANULARITY).unwrap();
        assert_eq!(names(&g), two);
        assert_eq!(
            enabled_metric_values(&g),
            vec![("GroupDesiredCapacity", 4.0), ("GroupInServiceInstances", 0.0)]
        );
        disable_metrics_collection(&mut g, &two[..1]).unwrap();
        assert_eq!(names(&g), two[1..]);
        enable_metrics_collection(&mut g, &[], GRANULARITY).unwrap();
        assert_eq!(g.enabled_metrics.len(), GROUP_METRICS.len());
        assert_eq!(g.enabled_metrics[0].metric, "GroupInServiceInstances");
        disable_metrics_collection(&mut g, &[]).unwrap();
        assert!(g.enabled_metrics.is_empty());
    }
}
