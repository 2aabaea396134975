//! The instance types Shoal runs, with AWS's vCPU and memory figures.

/// An EC2 instance type: its vCPUs bound the instance's CPU quota (and the
/// denominator of `CPUUtilization`), its memory the instance's memory limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceType {
    pub name: &'static str,
    pub vcpus: u32,
    pub memory_mib: u64,
    /// Burstable (T family): AWS reports `BurstablePerformanceSupported`.
    pub burstable: bool,
}

const fn t(name: &'static str, vcpus: u32, memory_mib: u64, burstable: bool) -> InstanceType {
    InstanceType { name, vcpus, memory_mib, burstable }
}

/// The supported types: the t2, t3, m5 and c5 families as AWS sizes them.
pub const CATALOG: &[InstanceType] = &[
    t("t2.nano", 1, 512, true),
    t("t2.micro", 1, 1024, true),
    t("t2.small", 1, 2048, true),
    t("t2.medium", 2, 4096, true),
    t("t2.large", 2, 8192, true),
    t("t2.xlarge", 4, 16384, true),
    t("t2.2xlarge", 8, 32768, true),
    t("t3.nano", 2, 512, true),
    t("t3.micro", 2, 1024, true),
    t("t3.small", 2, 2048, true),
    t("t3.medium", 2, 4096, true),
    t("t3.large", 2, 8192, true),
    t("t3.xlarge", 4, 16384, true),
    t("t3.2xlarge", 8, 32768, true),
    t("m5.large", 2, 8192, false),
    t("m5.xlarge", 4, 16384, false),
    t("m5.2xlarge", 8, 32768, false),
    t("m5.4xlarge", 16, 65536, false),
    t("c5.large", 2, 4096, false),
    t("c5.xlarge", 4, 8192, false),
    t("c5.2xlarge", 8, 16384, false),
    t("c5.4xlarge", 16, 32768, false),
];

/// RunInstances' default when no type is given. AWS documents `m1.small`, a
/// previous-generation type Shoal does not run; `t2.micro` is the free-tier type.
pub const DEFAULT: &str = "t2.micro";

/// Looks up a type by name.
pub fn lookup(name: &str) -> Option<&'static InstanceType> {
    CATALOG.iter().find(|t| t.name == name)
}

/// Resolves a requested type, or EC2's error for an unknown one:
/// `InvalidParameterValue` "Invalid value 'x' for InstanceType."
pub fn resolve(name: &str) -> crate::AwsResult<&'static InstanceType> {
    lookup(name).ok_or_else(|| {
        crate::AwsError::invalid_parameter_value(format!(
            "Invalid value '{name}' for InstanceType."
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_type_is_one_vcpu() {
        let t2 = resolve("t2.micro").unwrap();
        assert_eq!((t2.vcpus, t2.memory_mib), (1, 1024));
        assert_eq!(resolve("t9.huge").unwrap_err().code, "InvalidParameterValue");
    }
}
