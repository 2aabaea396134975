//! Every instance type in EC2's model: the table `data/instance_types.tsv` (written by
//! scripts/gen_instance_types.py from botocore's EC2 model and AWS's published
//! specifications), compiled in and parsed once on first use.

use std::sync::LazyLock;

use super::instance_type::{Arch, Hypervisor, InstanceType};

const TABLE: &str = include_str!("../../data/instance_types.tsv");

/// Every instance type in EC2's model, sorted by name.
pub static CATALOG: LazyLock<Vec<InstanceType>> = LazyLock::new(|| {
    TABLE
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(i, line)| {
            // The table is compiled in and checked by the tests below: a bad row is a
            // build mistake, not input.
            parse_row(line).unwrap_or_else(|| panic!("instance_types.tsv:{}: {line:?}", i + 1))
        })
        .collect()
});

/// One row: name, vCPUs, MiB, network performance, architecture, then current
/// generation, burstable, free tier, hypervisor and paravirtual.
fn parse_row(line: &'static str) -> Option<InstanceType> {
    let f: Vec<&'static str> = line.split('\t').collect();
    let [name, vcpus, memory_mib, network_performance, arch, current, burstable, free, hypervisor, pv] =
        f[..]
    else {
        return None;
    };
    let flag = |s: &str| s.parse::<bool>().ok();
    Some(InstanceType {
        name,
        vcpus: vcpus.parse().ok()?,
        memory_mib: memory_mib.parse().ok()?,
        network_performance,
        arch: match arch {
            "X86" => Arch::X86,
            "I386X86" => Arch::I386X86,
            "Arm64" => Arch::Arm64,
            "X86Mac" => Arch::X86Mac,
            "ArmMac" => Arch::ArmMac,
            _ => return None,
        },
        current_generation: flag(current)?,
        burstable: flag(burstable)?,
        free_tier_eligible: flag(free)?,
        hypervisor: match hypervisor {
            "Xen" => Hypervisor::Xen,
            "Nitro" => Hypervisor::Nitro,
            "None" => Hypervisor::None,
            _ => return None,
        },
        paravirtual: flag(pv)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses_in_name_order() {
        let rows = TABLE.lines().filter(|l| !l.is_empty() && !l.starts_with('#'));
        for line in rows.clone() {
            assert!(parse_row(line).is_some(), "{line:?}");
        }
        assert_eq!(CATALOG.len(), rows.count());
        assert!(CATALOG.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(parse_row("t2.micro\t1\t1024\tLow\tX86\ttrue\ttrue\tyes\tXen\tfalse"), None);
        assert_eq!(
            parse_row("t2.micro\t1\t1024\tLow\tPowerPC\ttrue\ttrue\ttrue\tXen\tfalse"),
            None
        );
        assert_eq!(parse_row("t2.micro\t1\t1024"), None);
    }

    #[test]
    fn published_figures_of_known_types() {
        let get = |n: &str| CATALOG.iter().find(|t| t.name == n).unwrap();
        let t2 = get("t2.micro");
        assert_eq!((t2.vcpus, t2.memory_mib), (1, 1024));
        assert_eq!((t2.arch, t2.hypervisor), (Arch::I386X86, Hypervisor::Xen));
        assert!(t2.burstable && t2.free_tier_eligible && t2.current_generation);
        assert_eq!(t2.network_performance, "Low to Moderate");
        let m5 = get("m5.large");
        assert_eq!((m5.vcpus, m5.memory_mib, m5.hypervisor), (2, 8 * 1024, Hypervisor::Nitro));
        assert!(!m5.burstable && !m5.free_tier_eligible);
        let c5 = get("c5.metal");
        assert_eq!((c5.vcpus, c5.memory_mib, c5.hypervisor), (96, 192 * 1024, Hypervisor::None));
        assert_eq!(get("a1.medium").arch, Arch::Arm64);
        assert!(!get("c1.medium").current_generation && get("c1.medium").paravirtual);
    }
}
