//! Security groups: stored with their rules. Shoal does not enforce them yet.

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
}

impl Permission {
    /// The rule AWS puts on every new group: all traffic out to anywhere.
    pub fn allow_all_egress() -> Self {
        Permission {
            protocol: "-1".into(),
            from_port: None,
            to_port: None,
            cidrs: vec!["0.0.0.0/0".into()],
            group_ids: vec![],
        }
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
                    "InvalidParameterValue",
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
            "InvalidGroup.Duplicate",
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

    #[test]
    fn permissions() {
        let http = Permission {
            protocol: "tcp".into(),
            from_port: Some(80),
            to_port: Some(80),
            cidrs: vec!["0.0.0.0/0".into()],
            group_ids: vec![],
        };
        assert!(http.validate().is_ok());
        assert!(Permission { from_port: Some(90), ..http.clone() }.validate().is_err());
        assert!(Permission { protocol: "gre2".into(), ..http.clone() }.validate().is_err());
        assert!(Permission { cidrs: vec!["1.2.3/4".into()], ..http }.validate().is_err());
    }
}
