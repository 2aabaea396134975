//! Security groups: create, describe, delete and their rules (Authorize/Revoke
//! Ingress/Egress); a VPC's `default` group; the groups an instance launches with.
//! Rules addressed by rule id are in `interfaces.rs`.

use shoal_model::ec2::instance::InstanceState;
use shoal_model::ec2::launch_template::TagSpecification;
use shoal_model::ec2::security_group::{self, Permission};
use shoal_model::ec2::{SecurityGroup, Vpc};
use shoal_model::filter::Filter;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::vpcs::default_vpc;
use super::{not_found_ids, require, select_named, tags_for};
use crate::ids;
use crate::service::{Service, State};

impl Service {
    pub fn create_security_group(
        &self,
        name: &str,
        description: &str,
        vpc_id: Option<&str>,
        tag_specs: &[TagSpecification],
    ) -> AwsResult<SecurityGroup> {
        let tags = tags_for(tag_specs, "security-group")?;
        self.mutate(|state, changes| {
            let vpc_id = match vpc_id {
                Some(id) => require::<Vpc>(state, id, || {
                    not_found_ids(ErrorCode::InvalidVpcIDNotFound, "vpc", &[id.into()])
                })?
                .id
                .clone(),
                None => default_vpc(state)?.id.clone(),
            };
            if description.is_empty() {
                return Err(AwsError::missing_parameter("GroupDescription"));
            }
            security_group::validate_new_group(name, &vpc_id, state.security_groups.values())?;
            let group = SecurityGroup {
                id: ids::ec2("sg"),
                name: name.into(),
                description: description.into(),
                vpc_id,
                ingress: vec![],
                egress: vec![Permission::allow_all_egress()],
                tags,
            };
            changes.put(group.clone());
            Ok(group)
        })
    }

    pub fn describe_security_groups(
        &self,
        ids: &[String],
        names: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<SecurityGroup>> {
        self.read(|state| {
            let missing_name = |name: &str| {
                AwsError::new(
                    ErrorCode::InvalidGroupNotFound,
                    format!(
                        "The security group '{name}' does not exist in default VPC '{}'",
                        default_vpc(state).map(|v| v.id.as_str()).unwrap_or("none")
                    ),
                )
            };
            select_named::<SecurityGroup>(
                state,
                (names, ids, filters),
                |g| &g.name,
                missing_name,
                |m| {
                    AwsError::new(
                        ErrorCode::InvalidGroupNotFound,
                        format!("The security group '{}' does not exist", m.join(", ")),
                    )
                },
            )
        })
    }

    pub fn delete_security_group(&self, id: Option<&str>, name: Option<&str>) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let group = resolve_group(state, id, name)?;
            if group.name == "default" {
                return Err(AwsError::new(
                    ErrorCode::CannotDelete,
                    format!(
                        "the specified group: \"{}\" name: \"default\" cannot be deleted by a user",
                        group.id
                    ),
                ));
            }
            // A load balancer's interfaces hold its groups too (Terraform deletes a
            // group only after the load balancers using it).
            if state.instances.values().any(|i| {
                i.state != InstanceState::Terminated && i.security_group_ids.contains(&group.id)
            }) || state.load_balancers.values().any(|l| l.security_groups.contains(&group.id))
            {
                return Err(AwsError::new(
                    ErrorCode::DependencyViolation,
                    format!("resource {} has a dependent object", group.id),
                ));
            }
            changes.delete::<SecurityGroup>(&group.id);
            Ok(())
        })
    }

    /// UpdateSecurityGroupRuleDescriptionsIngress/Egress, by permission or by rule id.
    pub fn update_security_group_rule_descriptions(
        &self,
        id: Option<&str>,
        name: Option<&str>,
        ingress: bool,
        mut permissions: Vec<Permission>,
        by_rule_id: &[(String, Option<String>)],
    ) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let mut group = resolve_group(state, id, name)?.clone();
            let rules = group.rules();
            for (rule_id, description) in by_rule_id {
                let Some(rule) = rules.iter().find(|r| &r.id == rule_id && r.is_egress != ingress)
                else {
                    return Err(AwsError::new(
                        ErrorCode::InvalidSecurityGroupRuleIdNotFound,
                        format!("The security group rule ID '{rule_id}' does not exist"),
                    ));
                };
                let mut p = rule.permission();
                p.descriptions = p
                    .cidrs
                    .iter()
                    .chain(&p.group_ids)
                    .zip(description)
                    .map(|(s, d)| (s.clone(), d.clone()))
                    .collect();
                permissions.push(p);
            }
            if permissions.is_empty() {
                return Err(AwsError::missing_parameter("IpPermissions"));
            }
            let permissions: Vec<Permission> =
                permissions.into_iter().map(Permission::normalized).collect();
            group.update_descriptions(!ingress, &permissions)?;
            changes.put(group);
            Ok(())
        })
    }

    /// Authorize/RevokeSecurityGroupIngress/Egress.
    pub fn change_security_group_rules(
        &self,
        id: Option<&str>,
        name: Option<&str>,
        ingress: bool,
        add: bool,
        permissions: Vec<Permission>,
    ) -> AwsResult<SecurityGroup> {
        for p in &permissions {
            p.validate()?;
        }
        self.mutate(|state, changes| {
            let mut group = resolve_group(state, id, name)?.clone();
            let rules = if ingress { &mut group.ingress } else { &mut group.egress };
            for p in permissions {
                let exists = rules.iter().any(|r| r.same_rule(&p));
                match (add, exists) {
                    (true, true) => {
                        return Err(AwsError::new(
                            ErrorCode::InvalidPermissionDuplicate,
                            format!(
                                "the specified rule \"peer: {}, {}, ALLOW\" already exists",
                                p.cidrs.join(","),
                                p.protocol.to_uppercase()
                            ),
                        ))
                    }
                    (true, false) => rules.push(p),
                    (false, true) => rules.retain(|r| !r.same_rule(&p)),
                    (false, false) => {
                        return Err(AwsError::new(
                            ErrorCode::InvalidPermissionNotFound,
                            "The specified rule does not exist in this security group.",
                        ))
                    }
                }
            }
            changes.put(group.clone());
            Ok(group)
        })
    }
}

/// A VPC's `default` group with AWS's default rules: all traffic in from members of
/// the group itself, all traffic out.
pub(super) fn default_security_group(vpc_id: &str) -> SecurityGroup {
    let id = ids::ec2("sg");
    SecurityGroup {
        id: id.clone(),
        name: "default".into(),
        description: "default VPC security group".into(),
        vpc_id: vpc_id.into(),
        ingress: vec![Permission {
            protocol: "-1".into(),
            from_port: None,
            to_port: None,
            cidrs: vec![],
            group_ids: vec![id],
            descriptions: Default::default(),
        }],
        egress: vec![Permission::allow_all_egress()],
        tags: vec![],
    }
}

fn resolve_group<'a>(
    state: &'a State,
    id: Option<&str>,
    name: Option<&str>,
) -> AwsResult<&'a SecurityGroup> {
    match (id, name) {
        (Some(id), _) => require(state, id, || {
            AwsError::new(
                ErrorCode::InvalidGroupNotFound,
                format!("The security group '{id}' does not exist"),
            )
        }),
        (None, Some(name)) => {
            let vpc = default_vpc(state)?;
            state
                .security_groups
                .values()
                .find(|g| g.name == name && g.vpc_id == vpc.id)
                .ok_or_else(|| {
                    AwsError::new(
                        ErrorCode::InvalidGroupNotFound,
                        format!(
                            "The security group '{name}' does not exist in default VPC '{}'",
                            vpc.id
                        ),
                    )
                })
        }
        (None, None) => Err(AwsError::missing_parameter("GroupId")),
    }
}

/// Security groups for an instance: ids must exist in the subnet's VPC, names are
/// looked up there; with neither, the VPC's `default` group.
pub(super) fn resolve_groups(
    state: &State,
    vpc_id: &str,
    ids: &[String],
    names: &[String],
) -> AwsResult<Vec<String>> {
    let mut out = Vec::new();
    for id in ids {
        let g = state.security_groups.get(id).ok_or_else(|| {
            AwsError::new(
                ErrorCode::InvalidGroupNotFound,
                format!("The security group '{id}' does not exist"),
            )
        })?;
        if g.vpc_id != vpc_id {
            return Err(AwsError::invalid_parameter_value(format!(
                "Security group {id} and subnet belong to different networks."
            )));
        }
        out.push(id.clone());
    }
    for name in names {
        let g = state
            .security_groups
            .values()
            .find(|g| &g.name == name && g.vpc_id == vpc_id)
            .ok_or_else(|| {
                AwsError::new(
                    ErrorCode::InvalidGroupNotFound,
                    format!("The security group '{name}' does not exist in VPC '{vpc_id}'"),
                )
            })?;
        out.push(g.id.clone());
    }
    if out.is_empty() {
        if let Some(g) =
            state.security_groups.values().find(|g| g.name == "default" && g.vpc_id == vpc_id)
        {
            out.push(g.id.clone());
        }
    }
    out.dedup();
    Ok(out)
}
