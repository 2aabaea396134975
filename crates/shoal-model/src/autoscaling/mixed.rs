//! `MixedInstancesPolicy`: a launch template, instance-type overrides in priority order,
//! and the On-Demand/Spot distribution, with AWS's defaults and limits.
//!
//! Shoal runs every instance On-Demand: the distribution is stored and described, and a
//! launch takes the highest-priority override (AWS's `prioritized` On-Demand strategy,
//! its default for groups without `InstanceRequirements`).

use serde::{Deserialize, Serialize};

use super::group::validate_launch_template;
use crate::ec2::launch_template::LaunchTemplateSpec;
use crate::{AwsError, AwsResult};

/// One `Overrides` entry: an instance type, its weight, and optionally its own template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplateOverride {
    pub instance_type: Option<String>,
    /// Capacity units of this type, 1–999, kept as the string AWS takes and returns.
    pub weighted_capacity: Option<String>,
    pub launch_template_specification: Option<LaunchTemplateSpec>,
}

/// `InstancesDistribution`, every field resolved to AWS's default when not given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstancesDistribution {
    /// `prioritized` (default) or `lowest-price`.
    pub on_demand_allocation_strategy: String,
    /// Default 0.
    pub on_demand_base_capacity: u32,
    /// 0–100, default 100 (all On-Demand).
    pub on_demand_percentage_above_base_capacity: u32,
    /// `lowest-price` (default), `capacity-optimized`, `capacity-optimized-prioritized`
    /// or `price-capacity-optimized`.
    pub spot_allocation_strategy: String,
    /// 1–20, default 2; only meaningful with `lowest-price`.
    pub spot_instance_pools: Option<u32>,
    pub spot_max_price: Option<String>,
}

impl Default for InstancesDistribution {
    /// AWS's defaults: `prioritized`, base 0, 100 % On-Demand above it, Spot
    /// `lowest-price` over 2 pools.
    fn default() -> Self {
        InstancesDistribution {
            on_demand_allocation_strategy: "prioritized".into(),
            on_demand_base_capacity: 0,
            on_demand_percentage_above_base_capacity: 100,
            spot_allocation_strategy: "lowest-price".into(),
            spot_instance_pools: Some(2),
            spot_max_price: None,
        }
    }
}

/// A group's stored `MixedInstancesPolicy` (DescribeAutoScalingGroups returns it whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixedInstancesPolicy {
    /// `LaunchTemplate.LaunchTemplateSpecification`.
    pub launch_template: LaunchTemplateSpec,
    /// `LaunchTemplate.Overrides`, highest priority first.
    pub overrides: Vec<LaunchTemplateOverride>,
    pub instances_distribution: InstancesDistribution,
}

impl MixedInstancesPolicy {
    /// What the next instance launches from under the `prioritized` strategy: the first
    /// override's template (else the policy's) and its instance type (else the
    /// template's own, `None`).
    pub fn launch_choice(&self) -> (&LaunchTemplateSpec, Option<&str>) {
        match self.overrides.first() {
            Some(o) => (
                o.launch_template_specification.as_ref().unwrap_or(&self.launch_template),
                o.instance_type.as_deref(),
            ),
            None => (&self.launch_template, None),
        }
    }

    /// Every template the policy names (its own, then the overrides'), for existence
    /// checks.
    pub fn templates(&self) -> impl Iterator<Item = &LaunchTemplateSpec> {
        std::iter::once(&self.launch_template)
            .chain(self.overrides.iter().filter_map(|o| o.launch_template_specification.as_ref()))
    }
}

/// A `MixedInstancesPolicy` as a request gives it: every part optional, so an update
/// can change only the distribution (or only the overrides) of the group's policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MixedInstancesPolicyRequest {
    pub launch_template: Option<LaunchTemplateSpec>,
    /// `None` when the request gave no `Overrides`.
    pub overrides: Option<Vec<LaunchTemplateOverride>>,
    pub on_demand_allocation_strategy: Option<String>,
    pub on_demand_base_capacity: Option<i64>,
    pub on_demand_percentage_above_base_capacity: Option<i64>,
    pub spot_allocation_strategy: Option<String>,
    pub spot_instance_pools: Option<i64>,
    pub spot_max_price: Option<String>,
}

const ON_DEMAND_STRATEGIES: &[&str] = &["lowest-price", "prioritized"];
const SPOT_STRATEGIES: &[&str] = &[
    "lowest-price",
    "capacity-optimized",
    "capacity-optimized-prioritized",
    "price-capacity-optimized",
];

fn check_overrides(overrides: &[LaunchTemplateOverride]) -> AwsResult<()> {
    if overrides.len() > 40 {
        return Err(AwsError::validation(
            "You can specify up to 40 instance types per Auto Scaling group.",
        ));
    }
    for o in overrides {
        if let Some(t) = &o.instance_type {
            if crate::ec2::instance_type::lookup(t).is_none() {
                return Err(super::launch_config::invalid_instance_type(t));
            }
        }
        if let Some(spec) = &o.launch_template_specification {
            validate_launch_template(spec)?;
        }
        if let Some(w) = &o.weighted_capacity {
            if !w.parse::<u32>().is_ok_and(|n| (1..=999).contains(&n)) {
                return Err(AwsError::validation(format!(
                    "The WeightedCapacity value {w} is not valid. Valid values are integers from 1 to 999."
                )));
            }
        }
    }
    let weighted = overrides.iter().filter(|o| o.weighted_capacity.is_some()).count();
    if weighted != 0 && weighted != overrides.len() {
        return Err(AwsError::validation(
            "If you specify a value for WeightedCapacity for one instance type, you must specify a value for WeightedCapacity for all of them.",
        ));
    }
    Ok(())
}

fn in_set(field: &str, value: &str, set: &[&str]) -> AwsResult<()> {
    if set.contains(&value) {
        return Ok(());
    }
    Err(AwsError::validation(format!(
        "Invalid {field} {value}. Valid values are: {}.",
        set.join(", ")
    )))
}

fn in_range(field: &str, v: i64, lo: i64, hi: i64) -> AwsResult<u32> {
    if v < lo || v > hi {
        return Err(AwsError::validation(format!(
            "{field} must be between {lo} and {hi} (got {v})."
        )));
    }
    Ok(v as u32)
}

/// Builds the policy a Create or Update request asks for. With `existing` (an update of
/// a group that already has a policy) every part the request leaves out is kept; without
/// it, `LaunchTemplate.LaunchTemplateSpecification` is required and the distribution
/// takes AWS's defaults. Validates what AWS validates: the template spec (id or name,
/// version), at most 40 overrides, known instance types, `WeightedCapacity` 1–999 and
/// on all overrides or none, the allocation strategies, `OnDemandPercentageAboveBaseCapacity`
/// 0–100 and `SpotInstancePools` 1–20.
pub fn build_policy(
    req: &MixedInstancesPolicyRequest,
    existing: Option<&MixedInstancesPolicy>,
) -> AwsResult<MixedInstancesPolicy> {
    let launch_template = match (&req.launch_template, existing) {
        (Some(spec), _) => {
            validate_launch_template(spec)?;
            spec.clone()
        }
        (None, Some(p)) => p.launch_template.clone(),
        (None, None) => {
            return Err(AwsError::validation(
                "Valid requests must contain either LaunchTemplateId or LaunchTemplateName",
            ))
        }
    };
    let overrides = match (&req.overrides, existing) {
        (Some(o), _) => o.clone(),
        (None, Some(p)) => p.overrides.clone(),
        (None, None) => vec![],
    };
    check_overrides(&overrides)?;
    let mut d = existing.map(|p| p.instances_distribution.clone()).unwrap_or_default();
    if let Some(s) = &req.on_demand_allocation_strategy {
        in_set("OnDemandAllocationStrategy", s, ON_DEMAND_STRATEGIES)?;
        d.on_demand_allocation_strategy = s.clone();
    }
    if let Some(v) = req.on_demand_base_capacity {
        d.on_demand_base_capacity = in_range("OnDemandBaseCapacity", v, 0, i64::from(u32::MAX))?;
    }
    if let Some(v) = req.on_demand_percentage_above_base_capacity {
        d.on_demand_percentage_above_base_capacity =
            in_range("OnDemandPercentageAboveBaseCapacity", v, 0, 100)?;
    }
    if let Some(s) = &req.spot_allocation_strategy {
        in_set("SpotAllocationStrategy", s, SPOT_STRATEGIES)?;
        d.spot_allocation_strategy = s.clone();
    }
    if let Some(v) = req.spot_instance_pools {
        d.spot_instance_pools = Some(in_range("SpotInstancePools", v, 1, 20)?);
    }
    if req.spot_max_price.is_some() {
        // An empty string removes a maximum price set before, as in AWS.
        d.spot_max_price = req.spot_max_price.clone().filter(|p| !p.is_empty());
    }
    Ok(MixedInstancesPolicy { launch_template, overrides, instances_distribution: d })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> LaunchTemplateSpec {
        LaunchTemplateSpec { id: None, name: Some(name.into()), version: None }
    }

    fn over(t: &str, w: Option<&str>) -> LaunchTemplateOverride {
        LaunchTemplateOverride {
            instance_type: Some(t.into()),
            weighted_capacity: w.map(str::to_string),
            launch_template_specification: None,
        }
    }

    fn request() -> MixedInstancesPolicyRequest {
        MixedInstancesPolicyRequest {
            launch_template: Some(spec("web")),
            overrides: Some(vec![over("t3.micro", None), over("t2.micro", None)]),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_launch_choice() {
        let p = build_policy(&request(), None).unwrap();
        let d = &p.instances_distribution;
        assert_eq!(d.on_demand_allocation_strategy, "prioritized");
        assert_eq!(
            (d.on_demand_base_capacity, d.on_demand_percentage_above_base_capacity),
            (0, 100)
        );
        assert_eq!(
            (d.spot_allocation_strategy.as_str(), d.spot_instance_pools),
            ("lowest-price", Some(2))
        );
        assert_eq!(p.launch_choice(), (&spec("web"), Some("t3.micro")));

        let mut r = request();
        r.overrides.as_mut().unwrap()[0].launch_template_specification = Some(spec("arm"));
        let p = build_policy(&r, None).unwrap();
        assert_eq!(p.launch_choice(), (&spec("arm"), Some("t3.micro")));
        r.overrides = None;
        assert_eq!(build_policy(&r, None).unwrap().launch_choice(), (&spec("web"), None));
    }

    #[test]
    fn update_keeps_what_it_does_not_name() {
        let before = build_policy(&request(), None).unwrap();
        let only_distribution = MixedInstancesPolicyRequest {
            on_demand_percentage_above_base_capacity: Some(50),
            ..Default::default()
        };
        let after = build_policy(&only_distribution, Some(&before)).unwrap();
        assert_eq!(after.launch_template, before.launch_template);
        assert_eq!(after.overrides, before.overrides);
        assert_eq!(after.instances_distribution.on_demand_percentage_above_base_capacity, 50);
        assert!(build_policy(&only_distribution, None).is_err(), "a new policy needs a template");
    }

    #[test]
    fn validation() {
        fn check(edit: impl Fn(&mut MixedInstancesPolicyRequest), want: &str) {
            let mut r = request();
            edit(&mut r);
            let e = build_policy(&r, None).unwrap_err();
            assert_eq!((e.code.as_str(), e.message.as_str()), ("ValidationError", want));
        }
        check(
            |r| r.overrides = Some(vec![over("t3.micro", Some("0"))]),
            "The WeightedCapacity value 0 is not valid. Valid values are integers from 1 to 999.",
        );
        check(
            |r| r.overrides = Some(vec![over("t3.micro", Some("1000"))]),
            "The WeightedCapacity value 1000 is not valid. Valid values are integers from 1 to 999.",
        );
        check(
            |r| r.overrides = Some(vec![over("t3.micro", Some("2")), over("t2.micro", None)]),
            "If you specify a value for WeightedCapacity for one instance type, you must specify a value for WeightedCapacity for all of them.",
        );
        check(
            |r| r.overrides = Some(vec![over("t9.huge", None)]),
            "The specified instance type t9.huge is not valid",
        );
        check(
            |r| r.overrides = Some((0..41).map(|_| over("t3.micro", None)).collect()),
            "You can specify up to 40 instance types per Auto Scaling group.",
        );
        check(
            |r| r.on_demand_percentage_above_base_capacity = Some(101),
            "OnDemandPercentageAboveBaseCapacity must be between 0 and 100 (got 101).",
        );
        check(
            |r| r.spot_allocation_strategy = Some("cheapest".into()),
            "Invalid SpotAllocationStrategy cheapest. Valid values are: lowest-price, capacity-optimized, capacity-optimized-prioritized, price-capacity-optimized.",
        );
        check(
            |r| r.on_demand_allocation_strategy = Some("random".into()),
            "Invalid OnDemandAllocationStrategy random. Valid values are: lowest-price, prioritized.",
        );
        check(
            |r| r.spot_instance_pools = Some(21),
            "SpotInstancePools must be between 1 and 20 (got 21).",
        );
        check(
            |r| {
                r.launch_template =
                    Some(LaunchTemplateSpec { id: Some("lt-1".into()), ..spec("web") })
            },
            "Valid requests must contain either LaunchTemplateId or LaunchTemplateName",
        );
        let weighted = MixedInstancesPolicyRequest {
            overrides: Some(vec![over("t3.micro", Some("2")), over("t2.micro", Some("1"))]),
            ..request()
        };
        assert!(build_policy(&weighted, None).is_ok());
    }
}
