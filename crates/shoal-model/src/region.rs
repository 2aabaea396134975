//! AWS's commercial regions (the `aws` partition) and their availability zones, as
//! DescribeRegions and DescribeAvailabilityZones answer them.
//!
//! Zone names are the region and a letter (`us-west-2a`); zone ids are the region's
//! short code and a number (`usw2-az1`). On AWS the letter-to-id mapping differs per
//! account; Shoal's one account uses the mapping below, which keeps AWS's published
//! ids (so `usw1-az2` and `apne1-az3`, which new accounts do not get, are absent).
//!
//! Regions launched after 2019 are opt-in on AWS. Shoal's account has opted in to all
//! of them: each is listed with `OptInStatus` `opted-in`, the others with
//! `opt-in-not-required`, exactly as DescribeRegions shows an account that enabled them.

use crate::ErrorCode;

/// One region: its name, short code for zone ids, and zones as (letter, id number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub name: &'static str,
    /// The prefix of its zone ids (`usw2` in `usw2-az1`).
    pub code: &'static str,
    /// Whether AWS makes an account opt in before using it (regions since 2019).
    pub opt_in: bool,
    zones: &'static [(char, u8)],
}

/// One availability zone of a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// `us-west-2a`
    pub name: String,
    /// `usw2-az1`
    pub id: String,
}

// Zones as (letter, zone id number).
const ABC: &[(char, u8)] = &[('a', 1), ('b', 2), ('c', 3)];
const ABCD: &[(char, u8)] = &[('a', 1), ('b', 2), ('c', 3), ('d', 4)];
const ABCDEF: &[(char, u8)] = &[('a', 1), ('b', 2), ('c', 3), ('d', 4), ('e', 5), ('f', 6)];
const OPT_IN: bool = true;
const DEFAULT: bool = false;

const fn region(
    name: &'static str,
    code: &'static str,
    opt_in: bool,
    zones: &'static [(char, u8)],
) -> Region {
    Region { name, code, opt_in, zones }
}

/// Every commercial region, in DescribeRegions' order (by name).
pub const REGIONS: &[Region] = &[
    region("af-south-1", "afs1", OPT_IN, ABC),
    region("ap-east-1", "ape1", OPT_IN, ABC),
    region("ap-east-2", "ape2", OPT_IN, ABC),
    region("ap-northeast-1", "apne1", DEFAULT, &[('a', 4), ('c', 1), ('d', 2)]),
    region("ap-northeast-2", "apne2", DEFAULT, ABCD),
    region("ap-northeast-3", "apne3", DEFAULT, ABC),
    region("ap-south-1", "aps1", DEFAULT, ABC),
    region("ap-south-2", "aps2", OPT_IN, ABC),
    region("ap-southeast-1", "apse1", DEFAULT, ABC),
    region("ap-southeast-2", "apse2", DEFAULT, ABC),
    region("ap-southeast-3", "apse3", OPT_IN, ABC),
    region("ap-southeast-4", "apse4", OPT_IN, ABC),
    region("ap-southeast-5", "apse5", OPT_IN, ABC),
    region("ap-southeast-6", "apse6", OPT_IN, ABC),
    region("ap-southeast-7", "apse7", OPT_IN, ABC),
    region("ca-central-1", "cac1", DEFAULT, &[('a', 1), ('b', 2), ('d', 4)]),
    region("ca-west-1", "caw1", OPT_IN, ABC),
    region("eu-central-1", "euc1", DEFAULT, ABC),
    region("eu-central-2", "euc2", OPT_IN, ABC),
    region("eu-north-1", "eun1", DEFAULT, ABC),
    region("eu-south-1", "eus1", OPT_IN, ABC),
    region("eu-south-2", "eus2", OPT_IN, ABC),
    region("eu-west-1", "euw1", DEFAULT, ABC),
    region("eu-west-2", "euw2", DEFAULT, ABC),
    region("eu-west-3", "euw3", DEFAULT, ABC),
    region("il-central-1", "ilc1", OPT_IN, ABC),
    region("me-central-1", "mec1", OPT_IN, ABC),
    region("me-south-1", "mes1", OPT_IN, ABC),
    region("mx-central-1", "mxc1", OPT_IN, ABC),
    region("sa-east-1", "sae1", DEFAULT, ABC),
    region("us-east-1", "use1", DEFAULT, ABCDEF),
    region("us-east-2", "use2", DEFAULT, ABC),
    region("us-west-1", "usw1", DEFAULT, &[('a', 1), ('b', 3)]),
    region("us-west-2", "usw2", DEFAULT, ABCD),
];

/// The region of that name, if AWS has it.
pub fn find(name: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.name == name)
}

impl Region {
    /// Its availability zones, in letter order.
    pub fn zones(&self) -> Vec<Zone> {
        self.zones
            .iter()
            .map(|(letter, n)| Zone {
                name: format!("{}{letter}", self.name),
                id: format!("{}-az{n}", self.code),
            })
            .collect()
    }

    /// The zone of that name in this region.
    pub fn zone(&self, name: &str) -> Option<Zone> {
        self.zones().into_iter().find(|z| z.name == name)
    }

    /// EC2's endpoint host, as DescribeRegions lists it.
    pub fn endpoint(&self) -> String {
        format!("ec2.{}.amazonaws.com", self.name)
    }

    /// DescribeRegions' `OptInStatus` for Shoal's account (opted in everywhere).
    pub fn opt_in_status(&self) -> &'static str {
        if self.opt_in {
            "opted-in"
        } else {
            "opt-in-not-required"
        }
    }

    /// The domain of instances' private DNS names: `ec2.internal` in us-east-1 (AWS
    /// kept it from before regions had their own), `<region>.compute.internal` elsewhere.
    pub fn private_dns_domain(&self) -> String {
        private_dns_domain(self.name)
    }
}

impl crate::filter::Filterable for Region {
    /// DescribeRegions' filters.
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "region-name" => Some(vec![self.name.to_string()]),
            "endpoint" => Some(vec![self.endpoint()]),
            "opt-in-status" => Some(vec![self.opt_in_status().to_string()]),
            _ => None,
        }
    }
    fn tags(&self) -> &[crate::tags::Tag] {
        &[]
    }
}

/// The region of an availability zone's name (`eu-west-1a` → `eu-west-1`).
pub fn of_zone(zone: &str) -> &str {
    zone.strip_suffix(|c: char| c.is_ascii_lowercase()).unwrap_or(zone)
}

/// The id of an availability zone by its name (`eu-west-1b` → `euw1-az2`), as
/// subnets' `AvailabilityZoneId` and DescribeAvailabilityZones' `ZoneId` give it;
/// `None` for a name AWS does not have.
pub fn zone_id(zone: &str) -> Option<String> {
    find(of_zone(zone)).and_then(|r| r.zone(zone)).map(|z| z.id)
}

/// See [`Region::private_dns_domain`].
pub fn private_dns_domain(region: &str) -> String {
    if region == "us-east-1" {
        "ec2.internal".to_string()
    } else {
        format!("{region}.compute.internal")
    }
}

/// An instance's private DNS name: `ip-10-0-1-5.ec2.internal`,
/// `ip-172-31-0-4.eu-west-1.compute.internal`.
pub fn private_dns_name(region: &str, ip: std::net::Ipv4Addr) -> String {
    format!("ip-{}.{}", ip.to_string().replace('.', "-"), private_dns_domain(region))
}

/// AWS's answer to a request signed for a region that does not exist (or that the
/// endpoint does not serve): its SigV4 check refuses the credential scope with 403 and
/// this text (`SignatureDoesNotMatch` on Query services, `AuthFailure` on EC2). A client
/// configured with a made-up region never gets further on AWS either (its endpoint
/// `ec2.<region>.amazonaws.com` does not resolve), so Shoal answers as the signature
/// check would rather than inventing an empty region.
pub fn invalid_region_scope(region: &str) -> crate::AwsError {
    crate::AwsError::new(
        ErrorCode::SignatureDoesNotMatch,
        format!("Credential should be scoped to a valid region, not '{region}'."),
    )
    .with_status(403)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_commercial_region_with_its_zones() {
        assert!(REGIONS.len() >= 33, "{}", REGIONS.len());
        let names: Vec<_> = REGIONS.iter().map(|r| r.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted, "listed once each, by name");
        for r in ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1"] {
            assert!(find(r).is_some_and(|r| !r.opt_in), "{r}");
        }
        assert!(find("ap-southeast-1").is_some());
        assert!(find("af-south-1").is_some_and(|r| r.opt_in));
        assert!(find("us-east-7").is_none());
        assert!(find("moon-base-1").is_none());
        for r in REGIONS {
            let zones = r.zones();
            assert!(zones.len() >= 2, "{}", r.name);
            for z in &zones {
                assert!(z.name.starts_with(r.name), "{}", z.name);
                assert_eq!(z.name.len(), r.name.len() + 1, "{}", z.name);
                assert!(z.id.starts_with(&format!("{}-az", r.code)), "{}", z.id);
            }
        }
    }

    #[test]
    fn zones_and_ids_as_aws_names_them() {
        let west2 = find("us-west-2").unwrap();
        let names: Vec<_> = west2.zones().into_iter().map(|z| z.name).collect();
        assert_eq!(names, ["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"]);
        assert_eq!(west2.zone("us-west-2a").unwrap().id, "usw2-az1");
        assert_eq!(find("us-west-1").unwrap().zone("us-west-1b").unwrap().id, "usw1-az3");
        assert_eq!(find("eu-west-1").unwrap().zone("eu-west-1c").unwrap().id, "euw1-az3");
        assert_eq!(
            find("ap-northeast-1").unwrap().zone("ap-northeast-1a").unwrap().id,
            "apne1-az4"
        );
        assert!(find("eu-west-1").unwrap().zone("us-east-1a").is_none());
        assert_eq!(find("us-east-1").unwrap().zones().len(), 6);
        assert_eq!(find("eu-west-1").unwrap().endpoint(), "ec2.eu-west-1.amazonaws.com");
        assert_eq!(find("eu-west-1").unwrap().opt_in_status(), "opt-in-not-required");
        assert_eq!(find("eu-south-2").unwrap().opt_in_status(), "opted-in");
    }

    #[test]
    fn an_unknown_region_is_refused_as_aws_signature_check_does() {
        let e = invalid_region_scope("moon-base-1");
        assert_eq!((e.code.as_str(), e.status), ("SignatureDoesNotMatch", 403));
        assert_eq!(e.message, "Credential should be scoped to a valid region, not 'moon-base-1'.");
    }

    #[test]
    fn a_zone_names_its_region() {
        assert_eq!(of_zone("eu-west-1a"), "eu-west-1");
        assert_eq!(of_zone("us-east-1f"), "us-east-1");
        for r in REGIONS {
            assert!(r.zones().iter().all(|z| of_zone(&z.name) == r.name), "{}", r.name);
            assert!(r.zones().iter().all(|z| zone_id(&z.name) == Some(z.id.clone())), "{}", r.name);
        }
        assert_eq!(zone_id("eu-west-1b").as_deref(), Some("euw1-az2"));
        assert_eq!(zone_id("us-west-1b").as_deref(), Some("usw1-az3"));
        assert_eq!(zone_id("eu-west-1z"), None);
        assert_eq!(zone_id("moon-base-1a"), None);
    }

    #[test]
    fn private_dns_names_carry_the_region() {
        let ip = std::net::Ipv4Addr::new(172, 31, 16, 5);
        assert_eq!(private_dns_name("us-east-1", ip), "ip-172-31-16-5.ec2.internal");
        assert_eq!(private_dns_name("eu-west-1", ip), "ip-172-31-16-5.eu-west-1.compute.internal");
    }
}
