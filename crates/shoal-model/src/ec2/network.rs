//! VPCs, subnets and the CIDR rules EC2 applies to them.

use crate::ErrorCode;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::filter::Filterable;
use crate::tags::Tag;
use crate::{AwsError, AwsResult};

/// An IPv4 CIDR block with its host bits clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`. EC2 refuses anything else, including host bits set
    /// (`10.0.0.1/16`), with `InvalidParameterValue`.
    pub fn parse(text: &str, parameter: &str) -> AwsResult<Cidr> {
        let invalid = || {
            AwsError::invalid_parameter_value(format!(
                "Value ({text}) for parameter {parameter} is invalid. This is not a valid CIDR block."
            ))
        };
        let (addr, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let base: Ipv4Addr = addr.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        if prefix > 32 || addr.split('.').count() != 4 {
            return Err(invalid());
        }
        let cidr = Cidr { base, prefix };
        if u32::from(base) & !cidr.mask() != 0 {
            return Err(invalid());
        }
        Ok(cidr)
    }

    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    /// Number of addresses in the block.
    pub fn size(self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.base)
    }

    /// True when `inner` lies wholly inside this block.
    pub fn covers(self, inner: Cidr) -> bool {
        inner.prefix >= self.prefix && self.contains(inner.base)
    }

    pub fn overlaps(self, other: Cidr) -> bool {
        self.covers(other) || other.covers(self)
    }

    /// The `n`-th address of the block.
    pub fn nth(self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base).wrapping_add(n))
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// A VPC. AWS allows IPv4 blocks from /16 to /28 (`InvalidVpc.Range` otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vpc {
    pub id: String,
    pub cidr: Cidr,
    pub is_default: bool,
    pub tags: Vec<Tag>,
    /// Set by ModifyVpcAttribute; absent (records older than it, or never modified)
    /// means AWS's defaults for the kind of VPC (`VpcAttributes::defaults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<VpcAttributes>,
    /// The default VPC: how many of the region's zones its default subnets were laid
    /// out for. Absent on records from before Shoal served every zone (us-east-1 had
    /// three of its six), whose missing default subnets are added once; never again
    /// after, so a default subnet the user deletes stays deleted, as on AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_subnet_zones: Option<usize>,
}

/// A VPC's DNS and usage-metrics switches (DescribeVpcAttribute/ModifyVpcAttribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcAttributes {
    pub enable_dns_support: bool,
    pub enable_dns_hostnames: bool,
    pub enable_network_address_usage_metrics: bool,
}

impl VpcAttributes {
    /// AWS's: DNS resolution on; DNS hostnames on only in the default VPC; usage
    /// metrics off.
    pub fn defaults(is_default: bool) -> Self {
        VpcAttributes {
            enable_dns_support: true,
            enable_dns_hostnames: is_default,
            enable_network_address_usage_metrics: false,
        }
    }

    /// The attribute's value by its API name (`enableDnsSupport`, …).
    pub fn get(&self, name: &str) -> AwsResult<bool> {
        Ok(match name {
            "enableDnsSupport" => self.enable_dns_support,
            "enableDnsHostnames" => self.enable_dns_hostnames,
            "enableNetworkAddressUsageMetrics" => self.enable_network_address_usage_metrics,
            other => return Err(unknown_vpc_attribute(other)),
        })
    }

    /// Sets one attribute. AWS refuses DNS hostnames without DNS resolution.
    pub fn set(&mut self, name: &str, value: bool) -> AwsResult<()> {
        match name {
            "enableDnsSupport" => self.enable_dns_support = value,
            "enableDnsHostnames" => self.enable_dns_hostnames = value,
            "enableNetworkAddressUsageMetrics" => self.enable_network_address_usage_metrics = value,
            other => return Err(unknown_vpc_attribute(other)),
        }
        if self.enable_dns_hostnames && !self.enable_dns_support {
            return Err(AwsError::invalid_parameter_value(
                "enableDnsHostnames can only be enabled when enableDnsSupport is enabled.",
            ));
        }
        Ok(())
    }
}

fn unknown_vpc_attribute(name: &str) -> AwsError {
    AwsError::invalid_parameter_value(format!(
        "Value ({name}) for parameter attribute is invalid. Unknown attribute."
    ))
}

impl Vpc {
    pub fn attributes(&self) -> VpcAttributes {
        self.attributes.unwrap_or_else(|| VpcAttributes::defaults(self.is_default))
    }
}

/// Checks a CreateVpc block.
pub fn validate_vpc_cidr(text: &str) -> AwsResult<Cidr> {
    let cidr = Cidr::parse(text, "cidrBlock")?;
    if !(16..=28).contains(&cidr.prefix) {
        return Err(AwsError::new(
            ErrorCode::InvalidVpcRange,
            format!("The CIDR '{text}' is invalid."),
        ));
    }
    Ok(cidr)
}

/// A subnet of a VPC in one availability zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub cidr: Cidr,
    pub availability_zone: String,
    pub default_for_az: bool,
    pub map_public_ip_on_launch: bool,
    pub tags: Vec<Tag>,
}

/// Whether AWS gives a launched instance a public IPv4 address: what its primary
/// network interface says (`AssociatePublicIpAddress`, of RunInstances, a launch
/// template or a launch configuration) when it says anything, else its subnet's
/// `MapPublicIpOnLaunch` (true in default subnets, false in the others unless
/// ModifySubnetAttribute set it).
pub fn public_ip_on_launch(associate_public_ip_address: Option<bool>, subnet: &Subnet) -> bool {
    associate_public_ip_address.unwrap_or(subnet.map_public_ip_on_launch)
}

/// Checks a CreateSubnet block against its VPC and sibling subnets: /16–/28, inside
/// the VPC (`InvalidSubnet.Range`), overlapping none (`InvalidSubnet.Conflict`).
pub fn validate_subnet_cidr(text: &str, vpc: &Vpc, siblings: &[&Subnet]) -> AwsResult<Cidr> {
    let cidr = Cidr::parse(text, "cidrBlock")?;
    if !(16..=28).contains(&cidr.prefix) || !vpc.cidr.covers(cidr) {
        return Err(AwsError::new(
            ErrorCode::InvalidSubnetRange,
            format!("The CIDR '{text}' is invalid."),
        ));
    }
    if siblings.iter().any(|s| s.cidr.overlaps(cidr)) {
        return Err(AwsError::new(
            ErrorCode::InvalidSubnetConflict,
            format!("The CIDR '{text}' conflicts with another subnet"),
        ));
    }
    Ok(cidr)
}

/// AWS reserves the first four addresses and the last one of every subnet.
pub fn usable_addresses(cidr: Cidr) -> u64 {
    cidr.size().saturating_sub(5)
}

/// Picks the lowest free address of a subnet for a new interface, skipping AWS's
/// reserved ones; `InsufficientFreeAddressesInSubnet` when full.
pub fn allocate_private_ip(
    subnet: &Subnet,
    in_use: &std::collections::BTreeSet<Ipv4Addr>,
) -> AwsResult<Ipv4Addr> {
    let last = subnet.cidr.size().saturating_sub(1) as u32;
    (4..last).map(|n| subnet.cidr.nth(n)).find(|ip| !in_use.contains(ip)).ok_or_else(|| {
        AwsError::new(
            ErrorCode::InsufficientFreeAddressesInSubnet,
            format!("There are not enough free addresses in subnet '{}' to satisfy the requested number of instances.", subnet.id),
        )
    })
}

/// RunInstances' `PrivateIpAddress` (or its first interface's): the address must be a
/// usable one of the subnet (not its first four nor its last, which AWS reserves) and
/// free, as EC2 checks it.
pub fn claim_private_ip(
    subnet: &Subnet,
    in_use: &std::collections::BTreeSet<Ipv4Addr>,
    wanted: &str,
) -> AwsResult<Ipv4Addr> {
    let ip: Ipv4Addr = wanted.parse().map_err(|_| {
        AwsError::invalid_parameter_value(format!("Invalid private IP address: {wanted}"))
    })?;
    if !subnet.cidr.contains(ip) {
        return Err(AwsError::invalid_parameter_value(format!(
            "Address {ip} does not fall within the subnet's address range"
        )));
    }
    let offset = u32::from(ip) - u32::from(subnet.cidr.base);
    if offset < 4 || u64::from(offset) == subnet.cidr.size() - 1 {
        return Err(AwsError::invalid_parameter_value(format!(
            "Address {ip} is in subnet's reserved address range"
        )));
    }
    if in_use.contains(&ip) {
        return Err(AwsError::new(
            ErrorCode::InvalidIPAddressInUse,
            format!("Address {ip} is in use."),
        ));
    }
    Ok(ip)
}

/// The default VPC's block, as in every AWS region.
pub const DEFAULT_VPC_CIDR: &str = "172.31.0.0/16";

/// The default subnets: one /20 per availability zone, in AZ order.
pub fn default_subnet_cidrs(zones: usize) -> Vec<Cidr> {
    (0..zones as u32)
        .map(|i| Cidr { base: Ipv4Addr::new(172, 31, (i * 16) as u8, 0), prefix: 20 })
        .collect()
}

impl Filterable for Vpc {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "vpc-id" => Some(vec![self.id.clone()]),
            "cidr" | "cidr-block" | "cidr-block-association.cidr-block" => {
                Some(vec![self.cidr.to_string()])
            }
            "is-default" | "isDefault" => Some(vec![self.is_default.to_string()]),
            "state" => Some(vec!["available".into()]),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

impl Filterable for Subnet {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "subnet-id" => Some(vec![self.id.clone()]),
            "vpc-id" => Some(vec![self.vpc_id.clone()]),
            "cidr" | "cidr-block" | "cidrBlock" => Some(vec![self.cidr.to_string()]),
            "availability-zone" | "availabilityZone" => Some(vec![self.availability_zone.clone()]),
            "default-for-az" | "defaultForAz" => Some(vec![self.default_for_az.to_string()]),
            "state" => Some(vec!["available".into()]),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// The MAC address of a network interface: EC2 gives each interface its own; Shoal's is
/// a locally administered unicast one derived from the interface id, so
/// DescribeNetworkInterfaces and the metadata service agree without storing it.
pub fn interface_mac(interface_id: &str) -> String {
    let hex: Vec<u8> = interface_id.bytes().rev().take(5).collect();
    let mut octets = vec![0x02u8];
    octets.extend(hex.iter().map(|b| b.wrapping_mul(31)));
    octets.iter().map(|o| format!("{o:02x}")).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vpc(cidr: &str) -> Vpc {
        Vpc {
            default_subnet_zones: None,
            id: "vpc-1".into(),
            cidr: validate_vpc_cidr(cidr).unwrap(),
            is_default: false,
            tags: vec![],
            attributes: None,
        }
    }

    #[test]
    fn vpc_attributes_default_as_aws_and_keep_dns_hostnames_behind_dns_support() {
        let default = Vpc { is_default: true, ..vpc("172.31.0.0/16") };
        assert!(default.attributes().get("enableDnsHostnames").unwrap());
        let mut a = vpc("10.0.0.0/16").attributes();
        assert!(a.get("enableDnsSupport").unwrap() && !a.get("enableDnsHostnames").unwrap());
        assert!(a.get("enableNetworkAddressUsageMetrics").is_ok_and(|v| !v));
        a.set("enableDnsHostnames", true).unwrap();
        assert!(a.set("enableDnsSupport", false).is_err());
        assert!(a.set("bogus", true).is_err());
    }

    fn subnet(cidr: &str) -> Subnet {
        Subnet {
            id: "subnet-1".into(),
            vpc_id: "vpc-1".into(),
            cidr: Cidr::parse(cidr, "cidrBlock").unwrap(),
            availability_zone: "us-east-1a".into(),
            default_for_az: false,
            map_public_ip_on_launch: false,
            tags: vec![],
        }
    }

    #[test]
    fn cidr_parsing() {
        let cases = [
            ("10.0.0.0/16", Ok(())),
            ("10.0.0/16", Err("InvalidParameterValue")),
            ("10.0.0.1/16", Err("InvalidParameterValue")),
            ("10.0.0.0/33", Err("InvalidParameterValue")),
            ("banana", Err("InvalidParameterValue")),
            ("10.0.0.0/8", Err("InvalidVpc.Range")),
            ("10.0.0.0/29", Err("InvalidVpc.Range")),
            ("10.0.0.0/28", Ok(())),
        ];
        for (text, want) in cases {
            let got = validate_vpc_cidr(text).map(|_| ()).map_err(|e| e.code);
            assert_eq!(
                got.as_ref().map_err(|c| c.as_str()),
                want.as_ref().map_err(|c| *c),
                "{text}"
            );
        }
    }

    #[test]
    fn subnet_rules() {
        let v = vpc("10.0.0.0/16");
        let a = subnet("10.0.1.0/24");
        assert!(validate_subnet_cidr("10.0.2.0/24", &v, &[&a]).is_ok());
        assert_eq!(
            validate_subnet_cidr("10.1.0.0/24", &v, &[]).unwrap_err().code,
            "InvalidSubnet.Range"
        );
        assert_eq!(
            validate_subnet_cidr("10.0.1.128/25", &v, &[&a]).unwrap_err().code,
            "InvalidSubnet.Conflict"
        );
        assert_eq!(
            validate_subnet_cidr("10.0.0.0/16", &v, &[&a]).unwrap_err().code,
            "InvalidSubnet.Conflict"
        );
    }

    #[test]
    fn private_ips_skip_reserved() {
        let s = subnet("10.0.1.0/28");
        let first = allocate_private_ip(&s, &Default::default()).unwrap();
        assert_eq!(first, Ipv4Addr::new(10, 0, 1, 4));
        let used: std::collections::BTreeSet<_> = (4..15).map(|n| s.cidr.nth(n)).collect();
        assert_eq!(
            allocate_private_ip(&s, &used).unwrap_err().code,
            "InsufficientFreeAddressesInSubnet"
        );
        assert_eq!(usable_addresses(s.cidr), 11);
    }

    #[test]
    fn a_requested_private_ip_is_usable_and_free() {
        let s = subnet("10.0.1.0/28");
        let used = [Ipv4Addr::new(10, 0, 1, 5)].into_iter().collect();
        let refused = |ip: &str| claim_private_ip(&s, &used, ip).unwrap_err().code;
        assert_eq!(claim_private_ip(&s, &used, "10.0.1.4").unwrap(), Ipv4Addr::new(10, 0, 1, 4));
        assert_eq!(refused("10.0.1.5"), "InvalidIPAddress.InUse");
        for reserved_or_outside in ["10.0.1.3", "10.0.1.15", "10.0.2.4", "ten"] {
            assert_eq!(refused(reserved_or_outside), "InvalidParameterValue");
        }
    }

    #[test]
    fn default_layout() {
        let cidrs = default_subnet_cidrs(3);
        assert_eq!(cidrs[1].to_string(), "172.31.16.0/20");
        let v = vpc(DEFAULT_VPC_CIDR);
        assert!(cidrs.iter().all(|c| v.cidr.covers(*c)));
    }
}
