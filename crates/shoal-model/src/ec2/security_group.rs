//! Security groups: stored with their rules. `packet_filter` translates an instance's
//! groups into an nftables ruleset; Shoal does not load it yet.

use crate::ErrorCode;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::filter::Filterable;
use crate::tags::Tag;
use crate::{AwsError, AwsResult};

/// A security group of a VPC. Every VPC has one named `default`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub ingress: Vec<Permission>,
    pub egress: Vec<Permission>,
    pub tags: Vec<Tag>,
}

/// One `IpPermission`: protocol (`tcp`, `udp`, `icmp`, `-1`), port range, sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub cidrs: Vec<String>,
    pub group_ids: Vec<String>,
    /// Each source's description (`IpRanges[].Description`,
    /// `UserIdGroupPairs[].Description`), by CIDR or group id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub descriptions: BTreeMap<String, String>,
}

impl Permission {
    /// The same rule, whatever its descriptions say: what Authorize finds a duplicate
    /// of and Revoke removes.
    pub fn same_rule(&self, other: &Permission) -> bool {
        self.protocol == other.protocol
            && self.from_port == other.from_port
            && self.to_port == other.to_port
            && self.cidrs == other.cidrs
            && self.group_ids == other.group_ids
    }

    /// Every source: CIDRs, then referenced groups.
    fn sources(&self) -> impl Iterator<Item = &String> {
        self.cidrs.iter().chain(&self.group_ids)
    }

    /// The rule AWS puts on every new group: all traffic out to anywhere.
    pub fn allow_all_egress() -> Self {
        Permission {
            protocol: "-1".into(),
            from_port: None,
            to_port: None,
            cidrs: vec!["0.0.0.0/0".into()],
            group_ids: vec![],
            descriptions: BTreeMap::new(),
        }
    }

    /// All-traffic rules (`-1`) cover every port: whatever ports a request names
    /// (Terraform sends 0–0), the rule is stored, shown and matched without ports.
    pub fn normalized(mut self) -> Self {
        if self.protocol == "-1" || self.protocol.eq_ignore_ascii_case("all") {
            self.protocol = "-1".into();
            self.from_port = None;
            self.to_port = None;
        }
        self
    }

    /// Checks protocol and ports as EC2 does.
    pub fn validate(&self) -> AwsResult<()> {
        let proto = self.protocol.to_ascii_lowercase();
        if !matches!(proto.as_str(), "tcp" | "udp" | "icmp" | "-1" | "all" | "6" | "17" | "1") {
            return Err(AwsError::invalid_parameter_value(format!(
                "Invalid value '{}' for IP protocol. Unknown protocol.",
                self.protocol
            )));
        }
        if matches!(proto.as_str(), "tcp" | "udp" | "6" | "17") {
            let (from, to) = (self.from_port.unwrap_or(-1), self.to_port.unwrap_or(-1));
            if !(0..=65535).contains(&from) || !(0..=65535).contains(&to) || from > to {
                return Err(AwsError::new(
                    ErrorCode::InvalidParameterValue,
                    format!("Invalid port range {from}-{to}"),
                ));
            }
        }
        for cidr in &self.cidrs {
            crate::ec2::Cidr::parse(cidr, "cidrIp")?;
        }
        Ok(())
    }
}

/// One rule as DescribeSecurityGroupRules lists it: a permission has one rule per
/// source (CIDR or referenced group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupRule {
    pub id: String,
    pub group_id: String,
    pub is_egress: bool,
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub cidr: Option<String>,
    pub referenced_group_id: Option<String>,
    pub description: Option<String>,
}

impl SecurityGroupRule {
    /// The permission holding only this rule's source.
    pub fn permission(&self) -> Permission {
        let source = self.cidr.iter().chain(&self.referenced_group_id);
        Permission {
            protocol: self.protocol.clone(),
            from_port: self.from_port,
            to_port: self.to_port,
            cidrs: self.cidr.iter().cloned().collect(),
            group_ids: self.referenced_group_id.iter().cloned().collect(),
            descriptions: source
                .zip(&self.description)
                .map(|(s, d)| (s.clone(), d.clone()))
                .collect(),
        }
    }
}

/// A rule's id, derived from what the rule is: the same rule always has the same id,
/// so ids survive restarts without being stored, and a revoked rule's id is gone.
fn rule_id(group_id: &str, is_egress: bool, p: &Permission, source: &str) -> String {
    let key =
        format!("{group_id}|{is_egress}|{}|{:?}|{:?}|{source}", p.protocol, p.from_port, p.to_port);
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("sgr-{:017x}", u128::from(hash) & 0x1_ffff_ffff_ffff_ffff)
}

impl SecurityGroup {
    /// Every rule of the group, ingress first, one per source.
    pub fn rules(&self) -> Vec<SecurityGroupRule> {
        let mut out = vec![];
        for (is_egress, perms) in [(false, &self.ingress), (true, &self.egress)] {
            for p in perms {
                let sources = p.cidrs.iter().map(|c| (Some(c.clone()), None));
                let groups = p.group_ids.iter().map(|g| (None, Some(g.clone())));
                for (cidr, group) in sources.chain(groups) {
                    let source = cidr.as_deref().or(group.as_deref()).unwrap_or_default();
                    out.push(SecurityGroupRule {
                        id: rule_id(&self.id, is_egress, p, source),
                        group_id: self.id.clone(),
                        is_egress,
                        protocol: p.protocol.clone(),
                        from_port: p.from_port,
                        to_port: p.to_port,
                        description: p.descriptions.get(source).cloned(),
                        cidr,
                        referenced_group_id: group,
                    });
                }
            }
        }
        out
    }

    /// Removes one rule's source from its permission (and the permission once empty).
    pub fn remove_rule(&mut self, rule: &SecurityGroupRule) {
        let perms = if rule.is_egress { &mut self.egress } else { &mut self.ingress };
        for p in perms.iter_mut() {
            if p.protocol == rule.protocol
                && p.from_port == rule.from_port
                && p.to_port == rule.to_port
            {
                p.cidrs.retain(|c| Some(c) != rule.cidr.as_ref());
                p.group_ids.retain(|g| Some(g) != rule.referenced_group_id.as_ref());
                for source in rule.cidr.iter().chain(&rule.referenced_group_id) {
                    p.descriptions.remove(source);
                }
            }
        }
        perms.retain(|p| !p.cidrs.is_empty() || !p.group_ids.is_empty());
    }

    /// UpdateSecurityGroupRuleDescriptionsIngress/Egress: each source of each of
    /// `permissions` gets the description the permission gives it (none removes it).
    /// A source the group has no rule for is InvalidPermission.NotFound, as in EC2.
    pub fn update_descriptions(
        &mut self,
        is_egress: bool,
        permissions: &[Permission],
    ) -> AwsResult<()> {
        let perms = if is_egress { &mut self.egress } else { &mut self.ingress };
        for wanted in permissions {
            for source in wanted.sources() {
                let Some(rule) = perms.iter_mut().find(|p| {
                    p.protocol == wanted.protocol
                        && p.from_port == wanted.from_port
                        && p.to_port == wanted.to_port
                        && p.sources().any(|s| s == source)
                }) else {
                    return Err(AwsError::new(
                        ErrorCode::InvalidPermissionNotFound,
                        "The specified rule does not exist in this security group.",
                    ));
                };
                match wanted.descriptions.get(source) {
                    Some(d) if !d.is_empty() => {
                        rule.descriptions.insert(source.clone(), d.clone());
                    }
                    _ => {
                        rule.descriptions.remove(source);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Group names are 1–255 characters, unique per VPC, and may not start with `sg-`.
pub fn validate_new_group<'a>(
    name: &str,
    vpc_id: &str,
    existing: impl IntoIterator<Item = &'a SecurityGroup>,
) -> AwsResult<()> {
    if name.is_empty() || name.len() > 255 {
        return Err(AwsError::invalid_parameter_value("Group name must be 1-255 characters"));
    }
    if name.starts_with("sg-") {
        return Err(AwsError::invalid_parameter_value("Group names may not be in the format sg-*"));
    }
    if existing.into_iter().any(|g| g.name == name && g.vpc_id == vpc_id) {
        return Err(AwsError::new(
            ErrorCode::InvalidGroupDuplicate,
            format!("The security group '{name}' already exists for VPC '{vpc_id}'"),
        ));
    }
    Ok(())
}

impl Filterable for SecurityGroup {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "group-id" => Some(vec![self.id.clone()]),
            "group-name" => Some(vec![self.name.clone()]),
            "vpc-id" => Some(vec![self.vpc_id.clone()]),
            "description" => Some(vec![self.description.clone()]),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Group `web` whose one ingress permission opens `port` to two CIDRs.
    fn web(
        port: i32,
        descriptions: BTreeMap<String, String>,
        egress: Vec<Permission>,
    ) -> SecurityGroup {
        SecurityGroup {
            id: "sg-1".into(),
            name: "web".into(),
            description: "d".into(),
            vpc_id: "vpc-1".into(),
            ingress: vec![Permission {
                protocol: "tcp".into(),
                from_port: Some(port),
                to_port: Some(port),
                cidrs: vec!["0.0.0.0/0".into(), "10.0.0.0/8".into()],
                group_ids: vec![],
                descriptions,
            }],
            egress,
            tags: vec![],
        }
    }

    #[test]
    fn rules_have_one_stable_id_per_source_and_can_be_removed_one_by_one() {
        let mut g = web(80, BTreeMap::new(), vec![Permission::allow_all_egress()]);
        let rules = g.rules();
        assert_eq!(rules.len(), 3);
        assert!(rules.iter().all(|r| r.id.len() == 21 && r.id.starts_with("sgr-")));
        assert_ne!(rules[0].id, rules[1].id);
        assert_eq!(g.rules(), rules, "ids are stable");
        g.remove_rule(&rules[0]);
        assert_eq!(g.ingress[0].cidrs, ["10.0.0.0/8"]);
        assert_eq!(g.rules()[0].id, rules[1].id);
        g.remove_rule(&rules[2]);
        assert!(g.egress.is_empty());
    }

    #[test]
    fn all_traffic_rules_ignore_the_ports_a_request_names() {
        let terraform = Permission {
            protocol: "-1".into(),
            from_port: Some(0),
            to_port: Some(0),
            cidrs: vec!["0.0.0.0/0".into()],
            group_ids: vec![],
            descriptions: BTreeMap::new(),
        };
        assert_eq!(terraform.normalized(), Permission::allow_all_egress());
        let http = Permission {
            protocol: "tcp".into(),
            from_port: Some(80),
            to_port: Some(80),
            ..Permission::allow_all_egress()
        };
        assert_eq!(http.clone().normalized(), http);
    }

    #[test]
    fn permissions() {
        let http = Permission {
            protocol: "tcp".into(),
            from_port: Some(80),
            to_port: Some(80),
            cidrs: vec!["0.0.0.0/0".into()],
            group_ids: vec![],
            descriptions: BTreeMap::new(),
        };
        assert!(http.validate().is_ok());
        assert!(Permission { from_port: Some(90), ..http.clone() }.validate().is_err());
        assert!(Permission { protocol: "gre2".into(), ..http.clone() }.validate().is_err());
        assert!(Permission { cidrs: vec!["1.2.3/4".into()], ..http }.validate().is_err());
    }

    #[test]
    fn descriptions_are_kept_per_source_and_updated_in_place() {
        let described = [("0.0.0.0/0".to_string(), "the app".to_string())].into();
        let mut g = web(3000, described, vec![]);
        let rules = g.rules();
        assert_eq!(rules[0].description.as_deref(), Some("the app"));
        assert_eq!(rules[1].description, None);
        let mut plain = g.ingress[0].clone();
        plain.descriptions.clear();
        assert!(plain.same_rule(&g.ingress[0]), "descriptions do not make another rule");

        let update = Permission {
            cidrs: vec!["10.0.0.0/8".into()],
            descriptions: [("10.0.0.0/8".to_string(), "inside".to_string())].into(),
            ..plain.clone()
        };
        g.update_descriptions(false, &[update]).unwrap();
        assert_eq!(g.rules()[1].description.as_deref(), Some("inside"));
        assert_eq!(g.rules()[1].id, rules[1].id, "the rule keeps its id");
        let unknown = Permission { cidrs: vec!["1.2.3.4/32".into()], ..plain.clone() };
        assert_eq!(
            g.update_descriptions(false, &[unknown]).unwrap_err().code,
            "InvalidPermission.NotFound"
        );
        g.update_descriptions(false, &[plain]).unwrap();
        assert!(g.ingress[0].descriptions.is_empty(), "no description removes it");
    }
}
