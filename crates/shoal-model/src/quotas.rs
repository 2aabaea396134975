//! Service quotas, in the manner of AWS Service Quotas: how many of each resource the
//! account may have, and the errors AWS answers when a request would pass a quota.
//! The figures come from the caller (the daemon derives them from its host); the
//! rules here only compare and word the refusal.

use crate::ErrorCode;
use crate::{AwsError, AwsResult};

/// The account's quotas. Field docs name AWS's quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    /// EC2 "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", in vCPUs.
    pub on_demand_vcpus: u32,
    /// EC2 `max-instances` (DescribeAccountAttributes): running instances, and the most
    /// one RunInstances may ask for.
    pub max_instances: u32,
    /// EC2 "Launch templates".
    pub launch_templates: u32,
    /// Auto Scaling "Auto Scaling groups per region".
    pub auto_scaling_groups: u32,
    /// Auto Scaling "Launch configurations per region".
    pub launch_configurations: u32,
    /// ELBv2 "Application Load Balancers per Region".
    pub load_balancers: u32,
    /// ELBv2 "Target Groups per Region".
    pub target_groups: u32,
    /// ELBv2 "Listeners per Application Load Balancer".
    pub listeners_per_load_balancer: u32,
    /// ELBv2 "Rules per Application Load Balancer" (default rules not counted).
    pub rules_per_load_balancer: u32,
    /// CloudWatch metric alarms per region.
    pub alarms: u32,
}

/// EC2 tags per resource (`TagLimitExceeded`), also Auto Scaling's and ELBv2's figure.
pub const MAX_TAGS_PER_RESOURCE: usize = 50;

/// User data, after base64 decoding (AWS: "User data is limited to 16384 bytes").
pub const MAX_USER_DATA_BYTES: usize = 16 * 1024;

impl Quotas {
    /// What a host of `cores` CPUs and `memory_mib` of memory can run. Instances are
    /// process trees on the host, each held to its type's vCPUs by a CPU quota, and
    /// most lab instances idle most of the time, so vCPUs are oversubscribed 16× (32 on
    /// a 2-core host, AWS's usual quota for a new account): enough for the lab's fleets,
    /// far from the thousands of vCPUs that would starve the host. Each instance costs a process tree
    /// and a copied root disk; 256 MiB of host memory per instance keeps a full quota
    /// of idle instances from exhausting memory. The rest are AWS's defaults: they are
    /// cheap here (a listener is a socket, an alarm a row).
    pub fn for_host(cores: u32, memory_mib: u64) -> Quotas {
        let cores = cores.max(1);
        Quotas {
            on_demand_vcpus: cores * 16,
            max_instances: (memory_mib / 256).clamp(1, 1000) as u32,
            launch_templates: 5000,
            auto_scaling_groups: 500,
            launch_configurations: 200,
            load_balancers: 50,
            target_groups: 3000,
            listeners_per_load_balancer: 50,
            rules_per_load_balancer: 100,
            alarms: 10_000,
        }
    }
}

/// RunInstances' per-call cap: AWS refuses a request whose MaxCount passes what the
/// account may run at all.
pub fn check_instance_count(
    quota: u32,
    running: u32,
    min_count: u32,
    max_count: u32,
) -> AwsResult<()> {
    let left = quota.saturating_sub(running);
    if max_count > quota || min_count > left {
        return Err(AwsError::new(
            ErrorCode::InstanceLimitExceeded,
            format!(
                "Your quota allows for {left} more running instance(s). You requested at least {}.",
                if max_count > quota { max_count } else { min_count }
            ),
        ));
    }
    Ok(())
}

/// How many instances of `vcpus_each` to start, between `min_count` and `max_count`,
/// when `running_vcpus` are already used of `quota`: AWS starts the largest number the
/// quota allows, and refuses the call when not even `min_count` fit.
pub fn fit_vcpus(
    quota: u32,
    running_vcpus: u32,
    vcpus_each: u32,
    min_count: u32,
    max_count: u32,
) -> AwsResult<u32> {
    let left = quota.saturating_sub(running_vcpus);
    let fits = left / vcpus_each.max(1);
    if fits < min_count {
        return Err(AwsError::new(
            ErrorCode::VcpuLimitExceeded,
            format!("You have requested more vCPU capacity than your current vCPU limit of {quota} allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit."),
        ));
    }
    Ok(fits.min(max_count))
}

/// A count quota: `existing` resources already, one more would pass `quota`.
/// `code`/`message` are the owning service's words.
pub fn check_count(existing: usize, quota: u32, code: ErrorCode, message: &str) -> AwsResult<()> {
    if existing >= quota as usize {
        return Err(AwsError::new(code, message));
    }
    Ok(())
}

/// Auto Scaling CreateAutoScalingGroup past its quota.
pub fn check_auto_scaling_groups(existing: usize, quota: u32) -> AwsResult<()> {
    check_count(
        existing,
        quota,
        ErrorCode::LimitExceeded,
        &format!("You have reached your Auto Scaling group limit of {quota}."),
    )
}

/// Auto Scaling CreateLaunchConfiguration past its quota.
pub fn check_launch_configurations(existing: usize, quota: u32) -> AwsResult<()> {
    check_count(
        existing,
        quota,
        ErrorCode::LimitExceeded,
        &format!("You have reached your launch configuration limit of {quota}."),
    )
}

/// EC2 CreateLaunchTemplate past its quota.
pub fn check_launch_templates(existing: usize, quota: u32) -> AwsResult<()> {
    check_count(
        existing,
        quota,
        ErrorCode::LaunchTemplateLimitExceeded,
        &format!(
            "You have reached the maximum number of launch templates ({quota}) for this account."
        ),
    )
}

pub fn check_load_balancers(existing: usize, quota: u32) -> AwsResult<()> {
    check_count(
        existing,
        quota,
        ErrorCode::TooManyLoadBalancers,
        "The quota for the number of load balancers has been reached",
    )
}

pub fn check_target_groups(existing: usize, quota: u32) -> AwsResult<()> {
    check_count(
        existing,
        quota,
        ErrorCode::TooManyTargetGroups,
        "The quota for the number of target groups has been reached",
    )
}

pub fn check_listeners(existing: usize, quota: u32) -> AwsResult<()> {
    check_count(
        existing,
        quota,
        ErrorCode::TooManyListeners,
        "The quota for the number of listeners per load balancer has been reached",
    )
}

pub fn check_rules(existing: usize, quota: u32) -> AwsResult<()> {
    check_count(
        existing,
        quota,
        ErrorCode::TooManyRules,
        "The quota for the number of rules per load balancer has been reached",
    )
}

/// CloudWatch PutMetricAlarm for a new alarm past its quota.
pub fn check_alarms(existing: usize, quota: u32) -> AwsResult<()> {
    check_count(
        existing,
        quota,
        ErrorCode::LimitExceeded,
        &format!("The maximum number of alarms ({quota}) has been reached."),
    )
}

/// EC2 CreateTags / TagSpecifications: the resource's tags after the change.
pub fn check_ec2_tag_count(tags_after: usize) -> AwsResult<()> {
    if tags_after > MAX_TAGS_PER_RESOURCE {
        return Err(AwsError::new(
            ErrorCode::TagLimitExceeded,
            "The maximum number of Tags for a resource has been reached.",
        ));
    }
    Ok(())
}

/// RunInstances / launch templates: decoded user data is at most 16 KB.
pub fn check_user_data_size(decoded_len: usize) -> AwsResult<()> {
    if decoded_len > MAX_USER_DATA_BYTES {
        return Err(AwsError::invalid_parameter_value("User data is limited to 16384 bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T>(r: AwsResult<T>) -> Option<String> {
        r.err().map(|e| e.code.to_string())
    }

    #[test]
    fn host_defaults_scale_with_the_host() {
        let q = Quotas::for_host(2, 24 * 1024);
        assert_eq!((q.on_demand_vcpus, q.max_instances), (32, 96));
        assert_eq!(Quotas::for_host(0, 0).on_demand_vcpus, 16);
        assert_eq!(Quotas::for_host(0, 0).max_instances, 1);
        assert_eq!(Quotas::for_host(64, 1 << 30).max_instances, 1000);
    }

    #[test]
    fn instance_count() {
        // (quota, running, min, max) → error code
        for (q, run, min, max, want) in [
            (20, 0, 1, 1, None),
            (20, 0, 1, 20, None),
            (20, 0, 1, 1_000_000, Some("InstanceLimitExceeded")),
            (20, 19, 1, 5, None),
            (20, 19, 2, 2, Some("InstanceLimitExceeded")),
            (20, 20, 1, 1, Some("InstanceLimitExceeded")),
        ] {
            assert_eq!(
                code(check_instance_count(q, run, min, max)).as_deref(),
                want,
                "{q} {run} {min} {max}"
            );
        }
    }

    #[test]
    fn vcpu_fit() {
        for (q, used, each, min, max, want) in [
            (8, 0, 2, 1, 1, Ok(1)),
            (8, 0, 2, 1, 10, Ok(4)),
            (8, 6, 2, 1, 10, Ok(1)),
            (8, 7, 2, 1, 1, Err("VcpuLimitExceeded")),
            (8, 0, 16, 1, 1, Err("VcpuLimitExceeded")),
            (8, 0, 2, 5, 5, Err("VcpuLimitExceeded")),
        ] {
            let got = fit_vcpus(q, used, each, min, max).map_err(|e| e.code.to_string());
            assert_eq!(got, want.map_err(String::from), "{q} {used} {each} {min} {max}");
        }
        let msg = fit_vcpus(8, 8, 1, 1, 1).unwrap_err().message;
        assert!(msg.starts_with(
            "You have requested more vCPU capacity than your current vCPU limit of 8 allows"
        ));
    }

    #[test]
    fn count_quotas() {
        for (r, want) in [
            (check_auto_scaling_groups(1, 2), None),
            (check_auto_scaling_groups(2, 2), Some("LimitExceeded")),
            (check_launch_configurations(2, 2), Some("LimitExceeded")),
            (check_launch_templates(3, 3), Some("LaunchTemplateLimitExceeded")),
            (check_load_balancers(1, 1), Some("TooManyLoadBalancers")),
            (check_load_balancers(0, 1), None),
            (check_target_groups(1, 1), Some("TooManyTargetGroups")),
            (check_listeners(1, 1), Some("TooManyListeners")),
            (check_rules(1, 1), Some("TooManyRules")),
            (check_alarms(1, 1), Some("LimitExceeded")),
            (check_ec2_tag_count(50), None),
            (check_ec2_tag_count(51), Some("TagLimitExceeded")),
            (check_user_data_size(16384), None),
            (check_user_data_size(16385), Some("InvalidParameterValue")),
        ] {
            assert_eq!(code(r).as_deref(), want);
        }
    }
}
