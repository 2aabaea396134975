//! ELBv2 (Application Load Balancer) operations: load balancers, listeners, rules,
//! target groups, target registration and health, tags.
//!
//! Intent lives in the records (`State::load_balancers`, `listeners`, `rules`,
//! `target_groups`, `registered_targets`, `elb_tags`); what the data plane observes
//! (target health, listener binds) is read from [`Service::proxy`], never stored.
//! `control::loadbalancers` turns the records into the proxy's `DataPlane`.
//!
//! Here: the shared lookups, requests and tags; `load_balancers`, `listeners` (and
//! rules), `target_groups` and `targets` (registration and health) hold the operations
//! on each resource.

use shoal_model::ErrorCode;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use rand::Rng;
use shoal_model::ec2::{Instance, InstanceState};
use shoal_model::elbv2::actions::validate_actions;
use shoal_model::elbv2::conditions::{check_new_rule, check_rule_priority, validate_conditions};
use shoal_model::elbv2::health::TargetHealthReason;
use shoal_model::elbv2::listener::{check_new_listener, listener_arn, rule_arn, validate_port};
use shoal_model::elbv2::load_balancer::{
    check_new_load_balancer, check_subnet_zones, load_balancer_arn, load_balancer_dns_name,
    validate_load_balancer_name,
};
use shoal_model::elbv2::target_group::{
    check_new_target_group, check_register_targets, registration_key, target_group_arn,
    validate_protocol, HealthCheckUpdate,
};
use shoal_model::elbv2::{
    Action, Condition, HealthCheck, Listener, LoadBalancer, LoadBalancerAttributes,
    LoadBalancerState, RegisteredTarget, ResourceTags, Rule, RulePriority, Scheme,
    TargetDescription, TargetGroup, TargetGroupAttributes, TargetHealth, TargetHealthState,
    TargetType,
};
use shoal_model::quotas;
use shoal_model::tags::Tag;
use shoal_model::{AwsError, AwsResult};
use shoal_proxy::{Proxy, ProxyConfig};

use super::page::{Page, Paging};
use super::{Changes, Service, State};
use crate::clock::Clock;
use crate::config::Config;
use crate::ids;

mod listeners;
mod load_balancers;
mod target_groups;
mod targets;

use listeners::delete_listener_records;

/// Most rules one listener may hold besides its default rule (AWS quota: 100).
pub const MAX_RULES_PER_LISTENER: usize = 100;

/// Where access logs go: one file per load balancer, `<data>/logs/elb/app.<name>.<id>.log`.
pub fn access_log_dir(config: &Config) -> PathBuf {
    config.logs_dir().join("elb")
}

/// The data plane, with access logs under the data dir and the service's wall clock.
pub fn new_proxy(config: &Config, clock: Arc<dyn Clock>) -> Proxy {
    Proxy::new(ProxyConfig {
        access_log_dir: Some(access_log_dir(config)),
        wall_clock: Arc::new(move || clock.now().into()),
        ..ProxyConfig::default()
    })
}

// ------------------------------------------------------------------------ errors

fn lb_not_found() -> AwsError {
    AwsError::new(ErrorCode::LoadBalancerNotFound, "One or more load balancers not found")
}

fn tg_not_found() -> AwsError {
    AwsError::new(ErrorCode::TargetGroupNotFound, "One or more target groups not found")
}

fn listener_not_found() -> AwsError {
    AwsError::new(ErrorCode::ListenerNotFound, "One or more listeners not found")
}

fn rule_not_found() -> AwsError {
    AwsError::new(ErrorCode::RuleNotFound, "One or more rules not found")
}

/// The listener a rule belongs to: `…:listener-rule/app/<lb>/<id>/<lid>/<rid>` →
/// `…:listener/app/<lb>/<id>/<lid>`.
pub fn listener_of_rule(rule_arn: &str) -> String {
    let base = rule_arn.rsplit_once('/').map_or(rule_arn, |(b, _)| b);
    base.replacen(":listener-rule/", ":listener/", 1)
}

/// Rules of a listener (the default rule included), lowest priority first.
pub fn listener_rules<'a>(state: &'a State, listener_arn: &str) -> Vec<&'a Rule> {
    let mut rules: Vec<&Rule> =
        state.rules.values().filter(|r| listener_of_rule(&r.arn) == listener_arn).collect();
    rules.sort_by_key(|r| r.priority);
    rules
}

fn forward_groups(actions: &[Action]) -> impl Iterator<Item = &str> {
    actions.iter().flat_map(|a| match a {
        Action::Forward(f) => f.target_groups.iter().map(|g| g.target_group_arn.as_str()).collect(),
        _ => Vec::new(),
    })
}

/// The kinds of record the data plane is built from (`control::loadbalancers::data_plane`,
/// its security groups and VPC addresses, with the helpers here): a commit that writes
/// one of them is answered once the proxy has it ([`crate::service::answered_once_routed`]);
/// one that writes none (tags of an Auto Scaling group, an alarm, a key pair) is not held.
/// A kind those functions come to read belongs here. VPCs are read only for their CIDR,
/// which never changes; creating or deleting one writes its default security group.
pub const DATA_PLANE_KINDS: &[&str] = {
    use shoal_model::ec2::SecurityGroup;
    use shoal_model::elbv2::{Listener, LoadBalancer, RegisteredTarget, Rule, TargetGroup};
    use shoal_store::Record;
    &[
        LoadBalancer::KIND,
        Listener::KIND,
        Rule::KIND,
        TargetGroup::KIND,
        RegisteredTarget::KIND,
        Instance::KIND,
        SecurityGroup::KIND,
    ]
};

/// Load balancers whose listeners (default actions or rules) forward to a target group.
pub fn target_group_load_balancers(state: &State, tg_arn: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |lb: &str| {
        if !out.iter().any(|o| o == lb) {
            out.push(lb.to_string());
        }
    };
    for l in state.listeners.values() {
        if forward_groups(&l.default_actions).any(|g| g == tg_arn) {
            add(&l.load_balancer_arn);
        }
    }
    for r in state.rules.values() {
        if forward_groups(&r.actions).any(|g| g == tg_arn) {
            if let Some(l) = state.listeners.get(&listener_of_rule(&r.arn)) {
                add(&l.load_balancer_arn);
            }
        }
    }
    out.sort();
    out
}

/// Where a registered target's traffic goes, as the control plane resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTarget {
    /// `None`: not routed (the instance is terminated or does not exist).
    pub addr: Option<SocketAddr>,
    pub availability_zone: String,
    /// The instance is stopped or stopping: `unused` / `Target.InvalidState`.
    pub instance_stopped: bool,
    /// An `ip` target at an address of the group's VPC that no live instance holds:
    /// nothing answers there, so its checks time out (`unhealthy` / `Target.Timeout`).
    /// It is never dialled: a VPC address is reached only inside Shoal's namespaces.
    pub vpc_address_unheld: bool,
}

/// Resolves a registration: an `instance` target goes to the instance's loopback
/// address; an `ip` target that is an instance's private IP in the group's VPC goes to
/// that instance's loopback address (with `--network vpc` the dialer reaches it at its
/// VPC address from inside the VPC), another address of the VPC is not routed, and any
/// other IP (e.g. a loopback address) is used as given.
pub fn resolve_target(
    state: &State,
    tg: &TargetGroup,
    reg: &RegisteredTarget,
    default_zone: &str,
) -> ResolvedTarget {
    let port = reg.target.effective_port(tg.port);
    let alive =
        |i: &Instance| !matches!(i.state, InstanceState::Terminated | InstanceState::ShuttingDown);
    let from_instance = |i: &Instance| ResolvedTarget {
        addr: alive(i).then(|| SocketAddr::new(IpAddr::V4(i.loopback_ip), port)),
        availability_zone: reg
            .target
            .availability_zone
            .clone()
            .unwrap_or_else(|| i.availability_zone.clone()),
        instance_stopped: matches!(i.state, InstanceState::Stopped | InstanceState::Stopping),
        vpc_address_unheld: false,
    };
    match tg.target_type {
        TargetType::Instance => match state.instances.get(&reg.target.id) {
            Some(i) => from_instance(i),
            None => ResolvedTarget {
                addr: None,
                availability_zone: default_zone.to_string(),
                instance_stopped: false,
                vpc_address_unheld: false,
            },
        },
        TargetType::Ip => {
            let ip: Option<Ipv4Addr> = reg.target.id.parse().ok();
            let owner = ip.and_then(|ip| {
                state
                    .instances
                    .values()
                    .find(|i| i.private_ip == ip && i.vpc_id == tg.vpc_id && alive(i))
            });
            let in_vpc =
                |ip: Ipv4Addr| state.vpcs.get(&tg.vpc_id).is_some_and(|v| v.cidr.contains(ip));
            match (owner, ip) {
                (Some(i), _) => from_instance(i),
                (None, ip) => ResolvedTarget {
                    addr: ip
                        .filter(|ip| !in_vpc(*ip))
                        .map(|ip| SocketAddr::new(IpAddr::V4(ip), port)),
                    vpc_address_unheld: ip.is_some_and(in_vpc),
                    availability_zone: reg
                        .target
                        .availability_zone
                        .clone()
                        .unwrap_or_else(|| default_zone.to_string()),
                    instance_stopped: false,
                },
            }
        }
    }
}

/// `ip` targets: the group's VPC's block, as AWS requires, the private ranges AWS
/// also takes (peered VPCs, on-premises) and loopback (where Shoal's instances and
/// local servers listen).
fn check_ip_target(id: &str, vpc_cidr: Option<shoal_model::ec2::network::Cidr>) -> AwsResult<()> {
    let ip: Ipv4Addr = id.parse().map_err(|_| {
        AwsError::new(
            ErrorCode::InvalidTarget,
            format!("The IP address '{id}' is not a valid IPv4 address"),
        )
    })?;
    let o = ip.octets();
    let ok = vpc_cidr.is_some_and(|c| c.contains(ip))
        || ip.is_private()
        || ip.is_loopback()
        || (o[0] == 100 && (64..128).contains(&o[1]));
    if ok {
        Ok(())
    } else {
        Err(AwsError::new(
            ErrorCode::InvalidTarget,
            format!(
                "The IP address '{id}' is not within a private address range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10) or loopback"
            ),
        ))
    }
}

// ------------------------------------------------------------------------ requests

/// CreateLoadBalancer's parameters.
#[derive(Debug, Clone, Default)]
pub struct CreateLoadBalancer {
    pub name: String,
    /// `Subnets` and `SubnetMappings[].SubnetId` together.
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub scheme: Option<String>,
    pub lb_type: Option<String>,
    pub ip_address_type: Option<String>,
    pub tags: Vec<Tag>,
}

/// CreateTargetGroup's parameters.
#[derive(Debug, Clone, Default)]
pub struct CreateTargetGroup {
    pub name: String,
    pub protocol: Option<String>,
    pub protocol_version: Option<String>,
    pub port: Option<u32>,
    pub vpc_id: Option<String>,
    pub target_type: Option<String>,
    pub ip_address_type: Option<String>,
    pub health_check: HealthCheckUpdate,
    pub tags: Vec<Tag>,
}

/// Where a load balancer sits: its VPC, subnets, their zones and its security groups.
struct Placement {
    vpc: String,
    subnets: Vec<String>,
    zones: Vec<String>,
    security_groups: Vec<String>,
}

/// One entry of DescribeTargetHealth.
#[derive(Debug, Clone)]
pub struct TargetHealthDescription {
    pub target: TargetDescription,
    pub health_check_port: Option<String>,
    pub health: TargetHealth,
}

/// The ELBv2 operations of a [`Service`]: `svc.elb().create_load_balancer(…)`. A
/// namespace of their own keeps them apart from Auto Scaling's operations of the
/// same names (`DescribeLoadBalancers`, tags).
#[derive(Clone, Copy)]
pub struct Elb<'a> {
    svc: &'a Service,
}

impl Service {
    /// The ELBv2 operations.
    pub fn elb(&self) -> Elb<'_> {
        Elb { svc: self }
    }
}

impl Elb<'_> {
    fn default_zone(&self) -> &str {
        self.svc.config.zones.first().map(String::as_str).unwrap_or("us-east-1a")
    }

    // -------------------------------------------------------------- tags

    fn check_taggable(state: &State, arn: &str) -> AwsResult<()> {
        let exists = if arn.contains(":loadbalancer/") {
            state.load_balancers.contains_key(arn).then_some(()).ok_or_else(lb_not_found)
        } else if arn.contains(":targetgroup/") {
            state.target_groups.contains_key(arn).then_some(()).ok_or_else(tg_not_found)
        } else if arn.contains(":listener-rule/") {
            state.rules.contains_key(arn).then_some(()).ok_or_else(rule_not_found)
        } else if arn.contains(":listener/") {
            state.listeners.contains_key(arn).then_some(()).ok_or_else(listener_not_found)
        } else {
            Err(AwsError::validation(format!("'{arn}' is not a valid resource ARN")))
        };
        exists
    }

    pub fn add_tags(&self, arns: &[String], tags: &[Tag]) -> AwsResult<()> {
        if tags.is_empty() {
            return Err(AwsError::validation("At least one tag must be specified"));
        }
        self.svc.mutate(|state, changes| {
            for arn in arns {
                Self::check_taggable(state, arn)?;
                let mut t = state
                    .elb_tags
                    .get(arn)
                    .cloned()
                    .unwrap_or_else(|| ResourceTags { arn: arn.clone(), tags: Vec::new() });
                t.add(tags)?;
                changes.put(t);
            }
            Ok(())
        })
    }

    pub fn remove_tags(&self, arns: &[String], keys: &[String]) -> AwsResult<()> {
        self.svc.mutate(|state, changes| {
            for arn in arns {
                Self::check_taggable(state, arn)?;
                if let Some(t) = state.elb_tags.get(arn) {
                    let mut t = t.clone();
                    t.remove(keys);
                    changes.put(t);
                }
            }
            Ok(())
        })
    }

    pub fn describe_tags(&self, arns: &[String]) -> AwsResult<Vec<ResourceTags>> {
        if arns.len() > 20 {
            return Err(AwsError::validation("At most 20 resource ARNs can be specified"));
        }
        self.svc.read(|state| {
            arns.iter()
                .map(|arn| {
                    Self::check_taggable(state, arn)?;
                    Ok(state
                        .elb_tags
                        .get(arn)
                        .cloned()
                        .unwrap_or_else(|| ResourceTags { arn: arn.clone(), tags: Vec::new() }))
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_listener() {
        let r = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/0000000000000001/0000000000000002/0000000000000003";
        assert_eq!(
            listener_of_rule(r),
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/0000000000000001/0000000000000002"
        );
    }

    #[test]
    fn ip_targets() {
        for ok in ["127.100.0.5", "10.0.0.1", "172.31.5.6", "192.168.1.1", "100.64.0.1"] {
            assert!(check_ip_target(ok, None).is_ok(), "{ok}");
        }
        for bad in ["8.8.8.8", "nope", "i-123"] {
            assert!(check_ip_target(bad, None).is_err_and(|e| e.code == "InvalidTarget"), "{bad}");
        }
        // A VPC may use a public block (AWS allows it): its addresses are targets.
        let public_vpc = shoal_model::ec2::network::Cidr::parse("8.8.0.0/16", "cidrBlock").unwrap();
        assert!(check_ip_target("8.8.8.8", Some(public_vpc)).is_ok());
        assert!(check_ip_target("8.9.0.1", Some(public_vpc)).is_err());
    }
}
