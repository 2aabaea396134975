//! The EC2 network surface infrastructure tools read: VPC attributes, security-group
//! rules by id, and network interfaces (each instance's primary interface, a view of
//! the instance: it exists exactly as long as the instance does).

use shoal_model::ec2::instance::InstanceState;
use shoal_model::ec2::network::VpcAttributes;
use shoal_model::ec2::security_group::SecurityGroupRule;
use shoal_model::ec2::{Instance, SecurityGroup, Vpc};
use shoal_model::filter::{self, Filter, Filterable};
use shoal_model::tags::Tag;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::{not_found_ids, require};
use crate::service::Service;

/// An instance's primary network interface as DescribeNetworkInterfaces shows it.
#[derive(Debug, Clone)]
pub struct NetworkInterface {
    pub id: String,
    pub attachment_id: String,
    pub instance: Instance,
    /// `(group id, group name)` of each of the instance's security groups.
    pub groups: Vec<(String, String)>,
}

impl NetworkInterface {
    fn of(instance: &Instance, group_name: impl Fn(&str) -> String) -> Self {
        // Derived from the instance id, so the view is stable without being stored.
        let suffix = instance.id.trim_start_matches("i-");
        NetworkInterface {
            id: format!("eni-{suffix}"),
            attachment_id: format!("eni-attach-{suffix}"),
            groups: instance
                .security_group_ids
                .iter()
                .map(|g| (g.clone(), group_name(g)))
                .collect(),
            instance: instance.clone(),
        }
    }

    /// `in-use` while attached; an instance's primary interface goes with it.
    pub fn status(&self) -> &'static str {
        "in-use"
    }

    /// The attachment's status follows the instance's.
    pub fn attachment_status(&self) -> &'static str {
        match self.instance.state {
            InstanceState::ShuttingDown => "detaching",
            _ => "attached",
        }
    }
}

impl Filterable for NetworkInterface {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let i = &self.instance;
        let one = |v: &str| Some(vec![v.to_string()]);
        match name {
            "network-interface-id" => one(&self.id),
            "attachment.attachment-id" => one(&self.attachment_id),
            "attachment.instance-id" => one(&i.id),
            "attachment.device-index" => one("0"),
            "attachment.status" => one(self.attachment_status()),
            "attachment.delete-on-termination" => one("true"),
            "availability-zone" => one(&i.availability_zone),
            "group-id" => Some(self.groups.iter().map(|(id, _)| id.clone()).collect()),
            "group-name" => Some(self.groups.iter().map(|(_, n)| n.clone()).collect()),
            "interface-type" => one("interface"),
            "private-ip-address" | "addresses.private-ip-address" => one(&i.private_ip.to_string()),
            "requester-managed" => one("false"),
            "source-dest-check" => one("true"),
            "status" => one(self.status()),
            "subnet-id" => one(&i.subnet_id),
            "vpc-id" => one(&i.vpc_id),
            "owner-id" => one(shoal_model::ACCOUNT_ID),
            "description" => one(""),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

/// One ModifyInstanceAttribute change (EC2 takes one attribute per call).
#[derive(Debug, Clone)]
pub enum InstanceAttributeChange {
    ShutdownBehavior(String),
    DisableApiTermination(bool),
    DisableApiStop(bool),
    Groups(Vec<String>),
    InstanceType(String),
    UserData(String),
    /// ModifyInstanceMetadataOptions: the options given replace the instance's.
    MetadataOptions(shoal_model::ec2::launch_template::MetadataOptionsRequest),
}

impl Service {
    /// ModifyInstanceAttribute. Type and user data change only while the instance is
    /// stopped, as in EC2; groups must exist in the instance's VPC.
    pub fn modify_instance_attribute(
        &self,
        id: &str,
        change: InstanceAttributeChange,
    ) -> AwsResult<()> {
        self.mutate(|state, changes| {
            let mut inst = state
                .instances
                .get(id)
                .cloned()
                .ok_or_else(|| not_found_ids(ErrorCode::InvalidInstanceIDNotFound, "instance", &[id.into()]))?;
            if inst.state == InstanceState::Terminated {
                return Err(AwsError::new(
                    ErrorCode::IncorrectInstanceState,
                    format!("The instance '{id}' is not in a state from which it can be modified."),
                ));
            }
            let must_be_stopped = |attribute: &str| {
                if inst.state == InstanceState::Stopped {
                    Ok(())
                } else {
                    Err(AwsError::new(
                        ErrorCode::IncorrectInstanceState,
                        format!("The instance '{id}' is not in the 'stopped' state. ({attribute} can only be modified while it is stopped)"),
                    ))
                }
            };
            match change {
                InstanceAttributeChange::ShutdownBehavior(v) => {
                    inst.switches.shutdown_terminates =
                        shoal_model::ec2::instance::InstanceSwitches::parse_shutdown_behavior(&v)?
                }
                InstanceAttributeChange::DisableApiTermination(v) => {
                    inst.switches.disable_api_termination = v
                }
                InstanceAttributeChange::DisableApiStop(v) => inst.switches.disable_api_stop = v,
                InstanceAttributeChange::Groups(ids) => {
                    if ids.is_empty() {
                        return Err(AwsError::missing_parameter("GroupId"));
                    }
                    inst.security_group_ids = super::security_groups::resolve_groups(state, &inst.vpc_id, &ids, &[])?;
                }
                InstanceAttributeChange::InstanceType(t) => {
                    must_be_stopped("instanceType")?;
                    inst.instance_type = shoal_model::ec2::instance_type::resolve(&t)?.name.to_string();
                }
                InstanceAttributeChange::MetadataOptions(m) => {
                    m.check()?;
                    inst.metadata_options = inst.metadata_options.with(&m);
                }
                InstanceAttributeChange::UserData(data) => {
                    must_be_stopped("userData")?;
                    super::decode_user_data(&data)?;
                    inst.user_data = Some(data);
                }
            }
            changes.put(inst);
            Ok(())
        })
    }

    /// The named instances (all but terminated ones when none is named).
    pub fn instances_with_ids(&self, ids: &[String]) -> AwsResult<Vec<Instance>> {
        self.read(|state| {
            let missing: Vec<String> =
                ids.iter().filter(|id| !state.instances.contains_key(*id)).cloned().collect();
            if !missing.is_empty() {
                return Err(not_found_ids(
                    ErrorCode::InvalidInstanceIDNotFound,
                    "instance",
                    &missing,
                ));
            }
            Ok(state
                .instances
                .values()
                .filter(|i| {
                    if ids.is_empty() {
                        i.state != InstanceState::Terminated
                    } else {
                        ids.contains(&i.id)
                    }
                })
                .cloned()
                .collect())
        })
    }

    pub fn describe_vpc_attribute(&self, vpc_id: &str, attribute: &str) -> AwsResult<bool> {
        self.read(|state| {
            let vpc = require::<Vpc>(state, vpc_id, || {
                not_found_ids(ErrorCode::InvalidVpcIDNotFound, "vpc", &[vpc_id.into()])
            })?;
            vpc.attributes().get(attribute)
        })
    }

    /// ModifyVpcAttribute: exactly one attribute per call, as AWS requires.
    pub fn modify_vpc_attribute(&self, vpc_id: &str, changes: &[(&str, bool)]) -> AwsResult<()> {
        let [(attribute, value)] = changes else {
            return Err(AwsError::new(
                ErrorCode::InvalidParameterCombination,
                "Fields for multiple attribute types specified: only one attribute can be modified at a time.",
            ));
        };
        self.mutate(|state, staged| {
            let mut vpc = require::<Vpc>(state, vpc_id, || {
                not_found_ids(ErrorCode::InvalidVpcIDNotFound, "vpc", &[vpc_id.into()])
            })?
            .clone();
            let mut attributes: VpcAttributes = vpc.attributes();
            attributes.set(attribute, *value)?;
            vpc.attributes = Some(attributes);
            staged.put(vpc);
            Ok(())
        })
    }

    /// DescribeSecurityGroupRules: by rule id, or filtered (`group-id`,
    /// `security-group-rule-id`).
    pub fn describe_security_group_rules(
        &self,
        rule_ids: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<SecurityGroupRule>> {
        self.read(|state| {
            let all: Vec<SecurityGroupRule> =
                state.security_groups.values().flat_map(SecurityGroup::rules).collect();
            let missing: Vec<String> =
                rule_ids.iter().filter(|id| !all.iter().any(|r| &r.id == *id)).cloned().collect();
            if !missing.is_empty() {
                return Err(AwsError::new(
                    ErrorCode::InvalidSecurityGroupRuleIdNotFound,
                    format!("The security group rule ID '{}' does not exist", missing.join(", ")),
                ));
            }
            if let Some(f) = filters
                .iter()
                .find(|f| !matches!(f.name.as_str(), "group-id" | "security-group-rule-id"))
            {
                return Err(AwsError::invalid_parameter_value(format!(
                    "The filter '{}' is invalid",
                    f.name
                )));
            }
            let out = all
                .into_iter()
                .filter(|r| rule_ids.is_empty() || rule_ids.contains(&r.id))
                .filter(|r| {
                    filters.iter().all(|f| {
                        let value = if f.name == "group-id" { &r.group_id } else { &r.id };
                        f.values.iter().any(|v| filter::wildcard_match(v, value))
                    })
                })
                .collect();
            Ok(out)
        })
    }

    /// Revoke…(SecurityGroupRuleIds): removes the named rules of one group, all or none.
    pub fn revoke_security_group_rules(
        &self,
        group_id: &str,
        is_egress: bool,
        rule_ids: &[String],
    ) -> AwsResult<Vec<SecurityGroupRule>> {
        self.mutate(|state, changes| {
            let mut group = require::<SecurityGroup>(state, group_id, || {
                AwsError::new(
                    ErrorCode::InvalidGroupNotFound,
                    format!("The security group '{group_id}' does not exist"),
                )
            })?
            .clone();
            let rules = group.rules();
            let mut revoked = vec![];
            for id in rule_ids {
                let Some(rule) = rules.iter().find(|r| &r.id == id && r.is_egress == is_egress)
                else {
                    return Err(AwsError::new(
                        ErrorCode::InvalidSecurityGroupRuleIdNotFound,
                        format!("The security group rule ID '{id}' does not exist"),
                    ));
                };
                group.remove_rule(rule);
                revoked.push(rule.clone());
            }
            changes.put(group);
            Ok(revoked)
        })
    }

    /// The rules of `group_id` that `permissions` name (what Authorize… just added).
    pub fn rules_for(
        &self,
        group_id: &str,
        is_egress: bool,
        permissions: &[shoal_model::ec2::security_group::Permission],
    ) -> Vec<SecurityGroupRule> {
        self.read(|state| {
            let Some(group) = state.security_groups.get(group_id) else { return vec![] };
            group
                .rules()
                .into_iter()
                .filter(|r| {
                    r.is_egress == is_egress
                        && permissions.iter().any(|p| {
                            p.protocol == r.protocol
                                && p.from_port == r.from_port
                                && p.to_port == r.to_port
                                && (r.cidr.as_ref().is_some_and(|c| p.cidrs.contains(c))
                                    || r.referenced_group_id
                                        .as_ref()
                                        .is_some_and(|g| p.group_ids.contains(g)))
                        })
                })
                .collect()
        })
    }

    /// DescribeNetworkInterfaces: every instance's primary interface (terminated
    /// instances have none).
    pub fn describe_network_interfaces(
        &self,
        ids: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<NetworkInterface>> {
        self.read(|state| {
            let group_name = |id: &str| {
                state.security_groups.get(id).map(|g| g.name.clone()).unwrap_or_default()
            };
            let all: Vec<NetworkInterface> = state
                .instances
                .values()
                .filter(|i| i.state != InstanceState::Terminated)
                .map(|i| NetworkInterface::of(i, group_name))
                .collect();
            let missing: Vec<String> =
                ids.iter().filter(|id| !all.iter().any(|n| &n.id == *id)).cloned().collect();
            if !missing.is_empty() {
                return Err(AwsError::new(
                    ErrorCode::InvalidNetworkInterfaceIDNotFound,
                    format!("The networkInterface ID '{}' does not exist", missing.join(", ")),
                ));
            }
            let mut out = vec![];
            for n in all {
                if !ids.is_empty() && !ids.contains(&n.id) {
                    continue;
                }
                match filter::matches(&n, filters) {
                    Ok(true) => out.push(n),
                    Ok(false) => {}
                    Err(name) => {
                        return Err(AwsError::invalid_parameter_value(format!(
                            "The filter '{name}' is invalid"
                        )))
                    }
                }
            }
            Ok(out)
        })
    }
}
