//! EC2's instance-type catalog: every type in EC2's model with AWS's vCPU, memory and
//! network figures (the table is generated: `scripts/gen_instance_types.py` →
//! `instance_type_catalog.rs`), and the rules that read it.

pub use super::instance_type_catalog::CATALOG;
use crate::filter::Filterable;
use crate::tags::Tag;
use crate::{AwsError, AwsResult};

/// An EC2 instance type: its vCPUs bound the instance's CPU quota (and the
/// denominator of `CPUUtilization`), its memory the instance's memory limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceType {
    pub name: &'static str,
    pub vcpus: u32,
    pub memory_mib: u64,
    /// `NetworkInfo.NetworkPerformance` as AWS labels it ("Up to 5 Gigabit", "Low", …).
    pub network_performance: &'static str,
    pub arch: Arch,
    /// False for previous-generation types (m1, t1, c3, …): still launchable.
    pub current_generation: bool,
    /// Burstable (T family): AWS reports `BurstablePerformanceSupported`.
    pub burstable: bool,
    pub free_tier_eligible: bool,
    pub hypervisor: Hypervisor,
    /// Also runs paravirtual AMIs (old Xen families).
    pub paravirtual: bool,
}

/// The processor architectures a type runs (`ProcessorInfo.SupportedArchitectures`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86,
    /// 32- and 64-bit x86 (the oldest small types).
    I386X86,
    Arm64,
    X86Mac,
    ArmMac,
}

impl Arch {
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Arch::X86 => &["x86_64"],
            Arch::I386X86 => &["i386", "x86_64"],
            Arch::Arm64 => &["arm64"],
            Arch::X86Mac => &["x86_64_mac"],
            Arch::ArmMac => &["arm64_mac"],
        }
    }

    /// The architecture of an image made from an instance of this type (CreateImage),
    /// and of such an instance (`Instance.Architecture`).
    pub fn image_architecture(self) -> &'static str {
        match self {
            Arch::X86 | Arch::I386X86 => "x86_64",
            Arch::Arm64 => "arm64",
            Arch::X86Mac => "x86_64_mac",
            Arch::ArmMac => "arm64_mac",
        }
    }

    /// Whether an image of `architecture` (`x86_64`, `arm64`, `i386`) runs on it.
    pub fn runs(self, architecture: &str) -> bool {
        self.names()
            .iter()
            .any(|a| *a == architecture || a.strip_suffix("_mac") == Some(architecture))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hypervisor {
    Xen,
    Nitro,
    /// Bare metal: no hypervisor (AWS omits the field).
    None,
}

impl InstanceType {
    pub fn is_bare_metal(&self) -> bool {
        self.hypervisor == Hypervisor::None
    }

    /// `VCpuInfo.DefaultThreadsPerCore`: two on x86 with hyperthreading, one on Graviton,
    /// Macs and single-vCPU types.
    pub fn threads_per_core(&self) -> u32 {
        match self.arch {
            Arch::X86 | Arch::I386X86 if self.vcpus > 1 => 2,
            _ => 1,
        }
    }

    pub fn cores(&self) -> u32 {
        self.vcpus / self.threads_per_core()
    }

    pub fn virtualization_types(&self) -> &'static [&'static str] {
        if self.paravirtual {
            &["hvm", "paravirtual"]
        } else {
            &["hvm"]
        }
    }

    pub fn hypervisor_name(&self) -> Option<&'static str> {
        match self.hypervisor {
            Hypervisor::Xen => Some("xen"),
            Hypervisor::Nitro => Some("nitro"),
            Hypervisor::None => None,
        }
    }
}

/// DescribeInstanceTypes' filters.
impl Filterable for InstanceType {
    fn field(&self, filter: &str) -> Option<Vec<String>> {
        let one = |v: String| Some(vec![v]);
        match filter {
            "instance-type" => one(self.name.into()),
            "current-generation" => one(self.current_generation.to_string()),
            "free-tier-eligible" => one(self.free_tier_eligible.to_string()),
            "burstable-performance-supported" => one(self.burstable.to_string()),
            "bare-metal" => one(self.is_bare_metal().to_string()),
            "hypervisor" => Some(self.hypervisor_name().into_iter().map(String::from).collect()),
            "vcpu-info.default-vcpus" => one(self.vcpus.to_string()),
            "vcpu-info.default-cores" => one(self.cores().to_string()),
            "vcpu-info.default-threads-per-core" => one(self.threads_per_core().to_string()),
            "memory-info.size-in-mib" => one(self.memory_mib.to_string()),
            "network-info.network-performance" => one(self.network_performance.into()),
            "processor-info.supported-architecture" => {
                Some(self.arch.names().iter().map(|s| s.to_string()).collect())
            }
            "supported-usage-class" => Some(vec!["on-demand".into(), "spot".into()]),
            "supported-root-device-type" => Some(vec!["ebs".into()]),
            "supported-virtualization-type" => {
                Some(self.virtualization_types().iter().map(|s| s.to_string()).collect())
            }
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

/// RunInstances' default when no type is given. AWS documents `m1.small`; Shoal keeps
/// `t2.micro`, the free-tier type the lab uses, so a request without one stays small.
pub const DEFAULT: &str = "t2.micro";

/// Looks up a type by name (the catalog is sorted by name).
pub fn lookup(name: &str) -> Option<&'static InstanceType> {
    CATALOG.binary_search_by(|t| t.name.cmp(name)).ok().map(|i| &CATALOG[i])
}

/// Resolves a requested type, or EC2's error for an unknown one:
/// `InvalidParameterValue` "Invalid value 'x' for InstanceType."
pub fn resolve(name: &str) -> AwsResult<&'static InstanceType> {
    lookup(name).ok_or_else(|| {
        AwsError::invalid_parameter_value(format!("Invalid value '{name}' for InstanceType."))
    })
}

/// RunInstances: an image must be of an architecture the type runs. EC2's error when
/// it is not (`InvalidParameterValue`).
pub fn check_image_architecture(t: &InstanceType, image_architecture: &str) -> AwsResult<()> {
    if t.arch.runs(image_architecture) {
        return Ok(());
    }
    Err(AwsError::invalid_parameter_value(format!(
        "The architecture '{}' of the specified instance type does not match the architecture '{image_architecture}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.",
        t.arch.image_architecture()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filterable;

    fn check(name: &str, vcpus: u32, memory_mib: u64, network: &str, arch: &[&str]) {
        let t = resolve(name).unwrap();
        assert_eq!(
            (t.vcpus, t.memory_mib, t.network_performance, t.arch.names()),
            (vcpus, memory_mib, network, arch),
            "{name}"
        );
    }

    #[test]
    fn published_figures() {
        check("t2.micro", 1, 1024, "Low to Moderate", &["i386", "x86_64"]);
        check("t3.micro", 2, 1024, "Up to 5 Gigabit", &["x86_64"]);
        check("t4g.small", 2, 2048, "Up to 5 Gigabit", &["arm64"]);
        check("m1.small", 1, 1740, "Low", &["i386", "x86_64"]);
        check("t1.micro", 1, 627, "Very Low", &["i386", "x86_64"]);
        check("m5.large", 2, 8192, "Up to 10 Gigabit", &["x86_64"]);
        check("m5.24xlarge", 96, 393_216, "25 Gigabit", &["x86_64"]);
        check("m5.metal", 96, 393_216, "25 Gigabit", &["x86_64"]);
        check("m5.12xlarge", 48, 196_608, "10 Gigabit", &["x86_64"]);
        check("m6i.8xlarge", 32, 131_072, "12.5 Gigabit", &["x86_64"]);
        check("m7i.48xlarge", 192, 786_432, "50 Gigabit", &["x86_64"]);
        check("c5.large", 2, 4096, "Up to 10 Gigabit", &["x86_64"]);
        check("c5n.9xlarge", 36, 98_304, "50 Gigabit", &["x86_64"]);
        check("r6g.medium", 1, 8192, "Up to 10 Gigabit", &["arm64"]);
        check("m7g.16xlarge", 64, 262_144, "30 Gigabit", &["arm64"]);
        check("m7i.metal-48xl", 192, 786_432, "50 Gigabit", &["x86_64"]);
        check("i3.metal", 72, 524_288, "25 Gigabit", &["x86_64"]);
        check("c4.8xlarge", 36, 61_440, "10 Gigabit", &["x86_64"]);
        check("mac2.metal", 8, 16_384, "10 Gigabit", &["arm64_mac"]);
    }

    #[test]
    fn flags() {
        let m1 = resolve("m1.small").unwrap();
        assert!(!m1.current_generation && !m1.burstable && !m1.free_tier_eligible);
        assert!(resolve("t3.micro").unwrap().free_tier_eligible);
        assert!(!resolve("t3.small").unwrap().free_tier_eligible);
        assert!(resolve("t3a.large").unwrap().burstable);
        assert!(resolve("c6g.metal").unwrap().is_bare_metal());
        assert_eq!(resolve("m5.large").unwrap().hypervisor_name(), Some("nitro"));
        assert_eq!(resolve("m5.xlarge").unwrap().cores(), 2);
        assert_eq!(resolve("m6g.xlarge").unwrap().cores(), 4);
    }

    #[test]
    fn catalog_is_sorted_and_unique() {
        assert!(CATALOG.len() > 1000);
        assert!(CATALOG.windows(2).all(|w| w[0].name < w[1].name));
        assert!(CATALOG.iter().all(|t| t.vcpus > 0 && t.memory_mib > 0));
        assert_eq!(resolve("t9.huge").unwrap_err().code, "InvalidParameterValue");
    }

    #[test]
    fn architecture_must_match() {
        let graviton = resolve("t4g.micro").unwrap();
        assert!(check_image_architecture(graviton, "arm64").is_ok());
        let err = check_image_architecture(graviton, "x86_64").unwrap_err();
        assert!(err.message.starts_with("The architecture 'arm64' of the specified instance type"));
        assert!(check_image_architecture(resolve("t2.micro").unwrap(), "x86_64").is_ok());
        assert!(check_image_architecture(resolve("t2.micro").unwrap(), "i386").is_ok());
    }

    #[test]
    fn filters() {
        let t = resolve("t3.micro").unwrap();
        assert_eq!(t.field("current-generation").unwrap(), ["true"]);
        assert_eq!(t.field("processor-info.supported-architecture").unwrap(), ["x86_64"]);
        assert!(t.field("no-such-filter").is_none());
    }
}
