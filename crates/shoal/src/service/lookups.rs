//! Small read-only questions the fronts ask to render an answer — names for ids,
//! counts, which groups use a target group — so that no front reads `State` itself.
//! Each takes the lock once and copies out what it returns.

use std::collections::BTreeMap;

use shoal_model::autoscaling::activity::Activity;
use shoal_model::tags;

use super::Service;

/// The name of each id found in `map` (`None` where it is gone), in the order asked.
fn names<T>(
    map: &BTreeMap<String, T>,
    ids: &[String],
    name: impl Fn(&T) -> &String,
) -> Vec<Option<String>> {
    ids.iter().map(|id| map.get(id).map(|v| name(v).clone())).collect()
}

impl Service {
    /// Security groups' names by id (`None` for a group that is gone).
    pub fn security_group_names(&self, ids: &[String]) -> Vec<Option<String>> {
        self.read(|s| names(&s.security_groups, ids, |g| &g.name))
    }

    /// Target groups' names by ARN (`None` for a target group that is gone).
    pub fn target_group_names(&self, arns: &[String]) -> Vec<Option<String>> {
        self.read(|s| names(&s.target_groups, arns, |t| &t.name))
    }

    /// Load balancers' names by ARN (`None` for one that is gone).
    pub fn load_balancer_names(&self, arns: &[String]) -> Vec<Option<String>> {
        self.read(|s| names(&s.load_balancers, arns, |l| &l.name))
    }

    /// Every target group as (ARN, name).
    pub fn all_target_group_names(&self) -> Vec<(String, String)> {
        self.read(|s| s.target_groups.values().map(|t| (t.arn.clone(), t.name.clone())).collect())
    }

    /// The Auto Scaling groups that register their instances in target group `arn`.
    pub fn groups_using_target_group(&self, arn: &str) -> Vec<String> {
        self.read(|s| {
            s.groups
                .values()
                .filter(|g| g.target_groups.iter().any(|t| t.target_group_arn == arn))
                .map(|g| g.name.clone())
                .collect()
        })
    }

    /// Every instance EC2 still shows (terminated ones for an hour) that group `name`
    /// launched, by its `aws:autoscaling:groupName` tag.
    pub fn instances_launched_by_group(&self, name: &str) -> Vec<String> {
        self.read(|s| {
            s.instances
                .values()
                .filter(|i| tags::get(&i.tags, "aws:autoscaling:groupName") == Some(name))
                .map(|i| i.id.clone())
                .collect()
        })
    }

    /// Instances whose processes should be running (`pending`, `running`, `stopping`,
    /// `shutting-down`).
    pub fn instances_with_processes(&self) -> Vec<String> {
        self.read(|s| {
            s.instances
                .values()
                .filter(|i| i.state.wants_processes())
                .map(|i| i.id.clone())
                .collect()
        })
    }

    /// How many instances are in each state, by the state's API name.
    pub fn instance_counts_by_state(&self) -> BTreeMap<&'static str, u64> {
        self.read(|s| {
            let mut by_state = BTreeMap::new();
            for i in s.instances.values() {
                *by_state.entry(i.state.name()).or_default() += 1;
            }
            by_state
        })
    }

    /// The default VPC's id, if the account has one.
    pub fn default_vpc_id(&self) -> Option<String> {
        self.read(|s| s.vpcs.values().find(|v| v.is_default).map(|v| v.id.clone()))
    }

    /// Whether each activity's group still exists (DescribeScalingActivities with
    /// `IncludeDeletedGroups` answers `InService` or `Deleted` for each).
    pub fn activity_groups_exist(&self, activities: &[Activity]) -> Vec<bool> {
        self.read(|s| activities.iter().map(|a| super::autoscaling::group_exists(s, a)).collect())
    }

    /// How many Auto Scaling groups and launch configurations the account has
    /// (DescribeAccountLimits).
    pub fn autoscaling_usage(&self) -> (usize, usize) {
        self.read(|s| (s.groups.len(), s.launch_configurations.len()))
    }
}
