//! The EC2 network surface infrastructure tools read: VPC attributes, security-group
//! rules by id, and network interfaces (each instance's primary interface, a view of
//! the instance: it exists exactly as long as the instance does; and each load
//! balancer's, one per subnet, stored with the load balancer).

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use shoal_model::ec2::instance::InstanceState;
use shoal_model::ec2::network::VpcAttributes;
use shoal_model::ec2::security_group::SecurityGroupRule;
use shoal_model::ec2::{Instance, SecurityGroup, Vpc};
use shoal_model::elbv2::{LoadBalancer, LoadBalancerInterface};
use shoal_model::filter::{self, Filter, Filterable};
use shoal_model::tags::Tag;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::{not_found_ids, require};
use crate::service::Service;

/// A network interface as DescribeNetworkInterfaces shows it: an instance's primary
/// interface (a view of the instance: it exists exactly as long as the instance does)
/// or one of a load balancer's, which ELB manages (`amazon-elb` requests and owns the
/// attachment, and the interface goes with the load balancer).
#[derive(Debug, Clone)]
pub struct NetworkInterface {
    pub id: String,
    pub attachment_id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub private_ip: Ipv4Addr,
    /// `(group id, group name)` of each of its security groups.
    pub groups: Vec<(String, String)>,
    pub owner: InterfaceOwner,
}

/// What a network interface is attached to.
#[derive(Debug, Clone)]
pub enum InterfaceOwner {
    Instance {
        id: String,
        state: InstanceState,
        launch_time: DateTime<Utc>,
    },
    /// `description` is AWS's `ELB app/<name>/<id>`.
    LoadBalancer {
        description: String,
        created_time: DateTime<Utc>,
    },
}

/// The requester and attachment owner of ELB's interfaces.
pub const ELB_REQUESTER: &str = "amazon-elb";

impl NetworkInterface {
    fn of_instance(instance: &Instance, group_name: impl Fn(&str) -> String) -> Self {
        // Derived from the instance id, so the view is stable without being stored.
        let suffix = instance.id.trim_start_matches("i-");
        NetworkInterface {
            id: format!("eni-{suffix}"),
            attachment_id: format!("eni-attach-{suffix}"),
            subnet_id: instance.subnet_id.clone(),
            vpc_id: instance.vpc_id.clone(),
            availability_zone: instance.availability_zone.clone(),
            private_ip: instance.private_ip,
            groups: instance
                .security_group_ids
                .iter()
                .map(|g| (g.clone(), group_name(g)))
                .collect(),
            owner: InterfaceOwner::Instance {
                id: instance.id.clone(),
                state: instance.state,
                launch_time: instance.launch_time,
            },
        }
    }

    fn of_load_balancer(
        lb: &LoadBalancer,
        n: &LoadBalancerInterface,
        group_name: impl Fn(&str) -> String,
    ) -> Self {
        let suffix = n.id.trim_start_matches("eni-");
        NetworkInterface {
            id: n.id.clone(),
            // ELB's attachments are `ela-attach-…`, which only ELB may manage.
            attachment_id: format!("ela-attach-{suffix}"),
            subnet_id: n.subnet_id.clone(),
            vpc_id: lb.vpc_id.clone(),
            availability_zone: n.availability_zone.clone(),
            private_ip: n.private_ip,
            groups: lb.security_groups.iter().map(|g| (g.clone(), group_name(g))).collect(),
            owner: InterfaceOwner::LoadBalancer {
                description: lb.interface_description(),
                created_time: lb.created_time,
            },
        }
    }

    /// `in-use` while attached; every interface Shoal has is attached.
    pub fn status(&self) -> &'static str {
        "in-use"
    }

    /// The attachment's status follows the instance's.
    pub fn attachment_status(&self) -> &'static str {
        match self.owner {
            InterfaceOwner::Instance { state: InstanceState::ShuttingDown, .. } => "detaching",
            _ => "attached",
        }
    }

    pub fn instance_id(&self) -> Option<&str> {
        match &self.owner {
            InterfaceOwner::Instance { id, .. } => Some(id),
            InterfaceOwner::LoadBalancer { .. } => None,
        }
    }

    /// Who requested it: ELB for a load balancer's, nobody (the account) for an
    /// instance's.
    pub fn requester_id(&self) -> Option<&'static str> {
        self.instance_id().is_none().then_some(ELB_REQUESTER)
    }

    pub fn requester_managed(&self) -> bool {
        self.requester_id().is_some()
    }

    /// The attachment's owner: the account for an instance, `amazon-elb` for ELB's.
    pub fn instance_owner_id(&self) -> &'static str {
        self.requester_id().unwrap_or(shoal_model::ACCOUNT_ID)
    }

    pub fn description(&self) -> &str {
        match &self.owner {
            InterfaceOwner::Instance { .. } => "",
            InterfaceOwner::LoadBalancer { description, .. } => description,
        }
    }

    /// An instance's primary interface is device 0; ELB attaches its own at 1.
    pub fn device_index(&self) -> u32 {
        if self.requester_managed() {
            1
        } else {
            0
        }
    }

    /// Only an instance's primary interface goes with what it is attached to on
    /// termination; ELB deletes its own.
    pub fn delete_on_termination(&self) -> bool {
        !self.requester_managed()
    }

    pub fn attach_time(&self) -> DateTime<Utc> {
        match self.owner {
            InterfaceOwner::Instance { launch_time, .. } => launch_time,
            InterfaceOwner::LoadBalancer { created_time, .. } => created_time,
        }
    }
}

impl Filterable for NetworkInterface {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let one = |v: &str| Some(vec![v.to_string()]);
        match name {
            "network-interface-id" => one(&self.id),
            "attachment.attachment-id" => one(&self.attachment_id),
            "attachment.instance-id" => {
                Some(self.instance_id().map(String::from).into_iter().collect())
            }
            "attachment.instance-owner-id" => one(self.instance_owner_id()),
            "attachment.device-index" => one(&self.device_index().to_string()),
            "attachment.status" => one(self.attachment_status()),
            "attachment.delete-on-termination" => one(&self.delete_on_termination().to_string()),
            "availability-zone" => one(&self.availability_zone),
            "group-id" => Some(self.groups.iter().map(|(id, _)| id.clone()).collect()),
            "group-name" => Some(self.groups.iter().map(|(_, n)| n.clone()).collect()),
            "interface-type" => one("interface"),
            "private-ip-address" | "addresses.private-ip-address" => {
                one(&self.private_ip.to_string())
            }
            "requester-id" => Some(self.requester_id().map(String::from).into_iter().collect()),
            "requester-managed" => one(&self.requester_managed().to_string()),
            "source-dest-check" => one("true"),
            "status" => one(self.status()),
            "subnet-id" => one(&self.subnet_id),
            "vpc-id" => one(&self.vpc_id),
            "owner-id" => one(shoal_model::ACCOUNT_ID),
            "description" => one(self.description()),
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
    /// instances have none) and every load balancer's.
    pub fn describe_network_interfaces(
        &self,
        ids: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<NetworkInterface>> {
        self.read(|state| {
            let all = all_interfaces(state);
            let missing: Vec<String> =
                ids.iter().filter(|id| !all.iter().any(|n| &n.id == *id)).cloned().collect();
            if !missing.is_empty() {
                return Err(interface_not_found(&missing));
            }
            let mut out = vec![];
            for n in all {
                if !ids.is_empty() && !ids.contains(&n.id) {
                    continue;
                }
                if filter::matches(&n, filters)? {
                    out.push(n);
                }
            }
            Ok(out)
        })
    }
}

impl Service {
    /// DeleteNetworkInterface. Every interface Shoal has is attached (an instance's
    /// primary one, or a load balancer's, which only ELB may remove), so EC2 refuses
    /// each with `InvalidNetworkInterface.InUse`.
    pub fn delete_network_interface(&self, id: &str) -> AwsResult<()> {
        self.read(|state| {
            let all = all_interfaces(state);
            let Some(n) = all.iter().find(|n| n.id == id) else {
                return Err(interface_not_found(&[id.to_string()]));
            };
            Err(AwsError::new(
                ErrorCode::InvalidNetworkInterfaceInUse,
                format!("Network interface '{}' is currently in use.", n.id),
            ))
        })
    }
}

fn interface_not_found(ids: &[String]) -> AwsError {
    AwsError::new(
        ErrorCode::InvalidNetworkInterfaceIDNotFound,
        format!("The networkInterface ID '{}' does not exist", ids.join(", ")),
    )
}

/// Every interface: the live instances' and the load balancers'.
fn all_interfaces(state: &crate::service::State) -> Vec<NetworkInterface> {
    let group_name =
        |id: &str| state.security_groups.get(id).map(|g| g.name.clone()).unwrap_or_default();
    let instances = state
        .instances
        .values()
        .filter(|i| i.state != InstanceState::Terminated)
        .map(|i| NetworkInterface::of_instance(i, group_name));
    let load_balancers = state.load_balancers.values().flat_map(|lb| {
        lb.interfaces.iter().map(move |n| NetworkInterface::of_load_balancer(lb, n, group_name))
    });
    instances.chain(load_balancers).collect()
}
