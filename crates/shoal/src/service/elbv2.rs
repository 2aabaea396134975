//! ELBv2 (Application Load Balancer) operations: load balancers, listeners, rules,
//! target groups, target registration and health, tags.
//!
//! Intent lives in the records (`State::load_balancers`, `listeners`, `rules`,
//! `target_groups`, `registered_targets`, `elb_tags`); what the data plane observes
//! (target health, listener binds) is read from [`Service::proxy`], never stored.
//! `control::loadbalancers` turns the records into the proxy's `DataPlane`.

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
    AwsError::new("LoadBalancerNotFound", "One or more load balancers not found")
}

fn tg_not_found() -> AwsError {
    AwsError::new("TargetGroupNotFound", "One or more target groups not found")
}

fn listener_not_found() -> AwsError {
    AwsError::new("ListenerNotFound", "One or more listeners not found")
}

fn rule_not_found() -> AwsError {
    AwsError::new("RuleNotFound", "One or more rules not found")
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
}

/// Resolves a registration: an `instance` target goes to the instance's loopback
/// address; an `ip` target that is an instance's private IP in the group's VPC goes to
/// that instance's loopback address (the VPC address is reachable as in AWS), any
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
    };
    match tg.target_type {
        TargetType::Instance => match state.instances.get(&reg.target.id) {
            Some(i) => from_instance(i),
            None => ResolvedTarget {
                addr: None,
                availability_zone: default_zone.to_string(),
                instance_stopped: false,
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
            match (owner, ip) {
                (Some(i), _) => from_instance(i),
                (None, ip) => ResolvedTarget {
                    addr: ip.map(|ip| SocketAddr::new(IpAddr::V4(ip), port)),
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

/// `ip` targets: private ranges (where VPC addresses live) and loopback (where Shoal's
/// instances and local servers listen).
fn check_ip_target(id: &str) -> AwsResult<()> {
    let ip: Ipv4Addr = id.parse().map_err(|_| {
        AwsError::new("InvalidTarget", format!("The IP address '{id}' is not a valid IPv4 address"))
    })?;
    let o = ip.octets();
    let ok = ip.is_private() || ip.is_loopback() || (o[0] == 100 && (64..128).contains(&o[1]));
    if ok {
        Ok(())
    } else {
        Err(AwsError::new(
            "InvalidTarget",
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

    // -------------------------------------------------------------- load balancers

    /// Subnets of one VPC in distinct zones, and security groups of that VPC (its
    /// `default` group when none is given).
    fn resolve_placement(
        &self,
        state: &State,
        subnets: &[String],
        groups: &[String],
        vpc_of_lb: Option<&str>,
    ) -> AwsResult<Placement> {
        let mut found = Vec::new();
        for id in subnets {
            let s = state.subnets.get(id).ok_or_else(|| {
                AwsError::new("SubnetNotFound", format!("The subnet ID '{id}' is not valid"))
            })?;
            if !found.iter().any(|f: &&shoal_model::ec2::Subnet| f.id == s.id) {
                found.push(s);
            }
        }
        let Some(first) = found.first() else {
            return Err(AwsError::validation(
                "At least two subnets in two different Availability Zones must be specified",
            ));
        };
        let vpc = vpc_of_lb.unwrap_or(&first.vpc_id).to_string();
        if found.iter().any(|s| s.vpc_id != vpc) {
            return Err(AwsError::new(
                "InvalidConfigurationRequest",
                "The subnets must all be in the load balancer's VPC",
            ));
        }
        let zones: Vec<String> = found.iter().map(|s| s.availability_zone.clone()).collect();
        check_subnet_zones(&zones)?;
        let mut sgs = Vec::new();
        for g in groups {
            let sg = state.security_groups.get(g).ok_or_else(|| {
                AwsError::new(
                    "InvalidSecurityGroup",
                    format!("Security group '{g}' does not exist"),
                )
            })?;
            // A group of another VPC exists: ELBv2 names the mismatch (observed text).
            if sg.vpc_id != vpc {
                return Err(AwsError::new(
                    "InvalidConfigurationRequest",
                    format!("Security group '{g}' does not belong to VPC '{vpc}'"),
                ));
            }
            if !sgs.contains(&sg.id) {
                sgs.push(sg.id.clone());
            }
        }
        if sgs.is_empty() {
            if let Some(d) =
                state.security_groups.values().find(|g| g.vpc_id == vpc && g.name == "default")
            {
                sgs.push(d.id.clone());
            }
        }
        let subnets = found.iter().map(|s| s.id.clone()).collect();
        Ok(Placement { vpc, subnets, zones, security_groups: sgs })
    }

    pub fn create_load_balancer(&self, req: CreateLoadBalancer) -> AwsResult<LoadBalancer> {
        validate_load_balancer_name(&req.name)?;
        match req.lb_type.as_deref() {
            None | Some("application") => {}
            Some(t @ ("network" | "gateway")) => {
                return Err(AwsError::validation(format!(
                    "Load balancer type '{t}' is not supported by Shoal; use 'application'"
                )))
            }
            Some(t) => {
                return Err(AwsError::validation(format!(
                    "'{t}' is not a valid load balancer type; valid values: application, network, gateway"
                )))
            }
        }
        match req.ip_address_type.as_deref() {
            None | Some("ipv4") => {}
            Some(t) => {
                return Err(AwsError::validation(format!(
                    "IP address type '{t}' is not supported by Shoal; use 'ipv4'"
                )))
            }
        }
        let scheme = req.scheme.as_deref().map(Scheme::parse).transpose()?.unwrap_or_default();
        self.svc.mutate(|state, changes| {
            let Placement { vpc, subnets, zones, security_groups: sgs } =
                self.resolve_placement(state, &req.subnets, &req.security_groups, None)?;
            if let Some(existing) = state.load_balancers.values().find(|l| l.name == req.name) {
                // AWS: the same request again returns the existing load balancer.
                let same = |a: &[String], b: &[String]| {
                    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
                };
                if same(&existing.subnets, &subnets)
                    && same(&existing.security_groups, &sgs)
                    && existing.scheme == scheme
                {
                    return Ok(existing.clone());
                }
            }
            check_new_load_balancer(
                state.load_balancers.values().map(|l| l.name.as_str()),
                &req.name,
            )?;
            quotas::check_load_balancers(
                state.load_balancers.len(),
                self.svc.config.quotas.load_balancers,
            )?;
            let mut tags = ResourceTags { arn: String::new(), tags: Vec::new() };
            tags.add(&req.tags)?;
            let arn = load_balancer_arn(self.svc.region(), &req.name, &ids::hex16());
            let digits: u64 = rand::thread_rng().gen_range(1_000_000_000..10_000_000_000);
            let lb = LoadBalancer {
                arn: arn.clone(),
                name: req.name.clone(),
                dns_name: load_balancer_dns_name(&req.name, scheme, digits, self.svc.region()),
                scheme,
                state: LoadBalancerState::Provisioning,
                vpc_id: vpc,
                subnets,
                availability_zones: zones,
                security_groups: sgs,
                created_time: self.svc.clock.now(),
                attributes: LoadBalancerAttributes::default(),
                loopback_ip: {
                    let used = changes.addresses.loopback(state);
                    let ip = self.svc.allocate_loopback(used)?;
                    used.insert(ip);
                    ip
                },
            };
            if !tags.tags.is_empty() {
                tags.arn = arn;
                changes.put(tags);
            }
            changes.put(lb.clone());
            Ok(lb)
        })
    }

    pub fn describe_load_balancers(
        &self,
        arns: &[String],
        names: &[String],
        marker: Option<&str>,
        page_size: Option<u32>,
    ) -> AwsResult<Page<LoadBalancer>> {
        if !arns.is_empty() && !names.is_empty() {
            return Err(AwsError::validation(
                "Load balancer names and load balancer ARNs cannot be specified at the same time",
            ));
        }
        let items = self.svc.read(|state| {
            if let Some(missing) =
                names.iter().find(|n| !state.load_balancers.values().any(|l| &l.name == *n))
            {
                return Err(AwsError::new(
                    "LoadBalancerNotFound",
                    format!("Load balancers '[{missing}]' not found"),
                ));
            }
            if arns.iter().any(|a| !state.load_balancers.contains_key(a)) {
                return Err(lb_not_found());
            }
            let mut items: Vec<LoadBalancer> = state
                .load_balancers
                .values()
                .filter(|l| arns.is_empty() || arns.contains(&l.arn))
                .filter(|l| names.is_empty() || names.contains(&l.name))
                .cloned()
                .collect();
            items.sort_by(|a, b| (a.created_time, &a.arn).cmp(&(b.created_time, &b.arn)));
            Ok(items)
        })?;
        Paging::ELBV2.page(items, page_size, marker)
    }

    /// Why a load balancer is not fully serving, for `State.Reason`: listeners the OS
    /// would not bind (they still answer through Shoal's own port by DNS name).
    pub fn load_balancer_state_reason(&self, lb: &LoadBalancer) -> Option<String> {
        let failures: Vec<String> = self
            .svc
            .proxy
            .listener_status()
            .into_iter()
            .filter(|s| s.load_balancer_arn == lb.arn)
            .filter_map(|s| s.bound.err().map(|e| format!("listener on port {}: {e}", s.port)))
            .collect();
        if failures.is_empty() {
            return None;
        }
        Some(format!(
            "{}. It is still served through Shoal's endpoint: http://{}:{}/",
            failures.join("; "),
            lb.dns_name,
            self.svc.config.listen.port()
        ))
    }

    pub fn delete_load_balancer(&self, arn: &str) -> AwsResult<()> {
        self.svc.mutate(|state, changes| {
            // AWS: deleting a load balancer that does not exist succeeds.
            let Some(lb) = state.load_balancers.get(arn) else { return Ok(()) };
            if lb.attributes.deletion_protection {
                return Err(AwsError::new(
                    "OperationNotPermitted",
                    format!("Load balancer '{arn}' cannot be deleted because deletion protection is enabled"),
                ));
            }
            for l in state.listeners.values().filter(|l| l.load_balancer_arn == arn) {
                delete_listener_records(state, changes, &l.arn);
            }
            if state.elb_tags.contains_key(arn) {
                changes.delete::<ResourceTags>(arn);
            }
            changes.delete::<LoadBalancer>(arn);
            Ok(())
        })
    }

    pub fn load_balancer_attributes(&self, arn: &str) -> AwsResult<Vec<(String, String)>> {
        self.svc
            .read(|s| s.load_balancers.get(arn).map(|l| l.attributes.to_pairs()))
            .ok_or_else(lb_not_found)
    }

    pub fn modify_load_balancer_attributes(
        &self,
        arn: &str,
        pairs: &[(String, String)],
    ) -> AwsResult<Vec<(String, String)>> {
        self.svc.mutate(|state, changes| {
            let mut lb = state.load_balancers.get(arn).cloned().ok_or_else(lb_not_found)?;
            lb.attributes.apply(pairs)?;
            let out = lb.attributes.to_pairs();
            changes.put(lb);
            Ok(out)
        })
    }

    pub fn listener_attributes(&self, arn: &str) -> AwsResult<Vec<(String, String)>> {
        self.svc.read(|state| {
            state.listeners.get(arn).map(Listener::attribute_pairs).ok_or_else(listener_not_found)
        })
    }

    pub fn modify_listener_attributes(
        &self,
        arn: &str,
        pairs: &[(String, String)],
    ) -> AwsResult<Vec<(String, String)>> {
        self.svc.mutate(|state, changes| {
            let mut listener = state.listeners.get(arn).cloned().ok_or_else(listener_not_found)?;
            listener.set_attributes(pairs)?;
            let out = listener.attribute_pairs();
            changes.put(listener);
            Ok(out)
        })
    }

    pub fn set_subnets(&self, arn: &str, subnets: &[String]) -> AwsResult<LoadBalancer> {
        self.svc.mutate(|state, changes| {
            let mut lb = state.load_balancers.get(arn).cloned().ok_or_else(lb_not_found)?;
            let placed =
                self.resolve_placement(state, subnets, &lb.security_groups, Some(&lb.vpc_id))?;
            lb.subnets = placed.subnets;
            lb.availability_zones = placed.zones;
            changes.put(lb.clone());
            Ok(lb)
        })
    }

    pub fn set_security_groups(&self, arn: &str, groups: &[String]) -> AwsResult<Vec<String>> {
        self.svc.mutate(|state, changes| {
            let mut lb = state.load_balancers.get(arn).cloned().ok_or_else(lb_not_found)?;
            if groups.is_empty() {
                return Err(AwsError::validation("At least one security group must be specified"));
            }
            let sgs = self
                .resolve_placement(state, &lb.subnets, groups, Some(&lb.vpc_id))?
                .security_groups;
            lb.security_groups = sgs.clone();
            changes.put(lb);
            Ok(sgs)
        })
    }

    // -------------------------------------------------------------- listeners & rules

    /// Actions must name existing target groups in the load balancer's VPC, each used
    /// by no other load balancer (ALB quota: one load balancer per target group).
    fn check_actions(&self, state: &State, lb: &LoadBalancer, actions: &[Action]) -> AwsResult<()> {
        validate_actions(actions)?;
        for arn in forward_groups(actions) {
            let tg = state.target_groups.get(arn).ok_or_else(tg_not_found)?;
            if tg.vpc_id != lb.vpc_id {
                return Err(AwsError::new(
                    "InvalidConfigurationRequest",
                    format!("Target group '{arn}' is not in the VPC of load balancer '{}'", lb.arn),
                ));
            }
            if target_group_load_balancers(state, arn).iter().any(|o| o != &lb.arn) {
                return Err(AwsError::new(
                    "TargetGroupAssociationLimit",
                    format!("The following target groups cannot be associated with more than one load balancer: {arn}"),
                ));
            }
        }
        Ok(())
    }

    pub fn create_listener(
        &self,
        lb_arn: &str,
        protocol: Option<&str>,
        port: Option<u32>,
        default_actions: Vec<Action>,
        tags: &[Tag],
    ) -> AwsResult<Listener> {
        self.svc.mutate(|state, changes| {
            let lb = state.load_balancers.get(lb_arn).ok_or_else(lb_not_found)?;
            let protocol = protocol.unwrap_or("HTTP");
            let port = port.ok_or_else(|| {
                AwsError::validation(
                    "A listener port must be specified for an Application Load Balancer",
                )
            })?;
            let siblings: Vec<&Listener> =
                state.listeners.values().filter(|l| l.load_balancer_arn == lb_arn).collect();
            // AWS: CreateListener is idempotent for identical settings.
            if let Some(same) = siblings.iter().find(|l| {
                u32::from(l.port) == port
                    && l.protocol == protocol
                    && l.default_actions == default_actions
            }) {
                return Ok((*same).clone());
            }
            check_new_listener(siblings.iter().map(|l| l.port), protocol, port, &default_actions)?;
            quotas::check_listeners(
                siblings.len(),
                self.svc.config.quotas.listeners_per_load_balancer,
            )?;
            self.check_actions(state, lb, &default_actions)?;
            let mut t = ResourceTags { arn: String::new(), tags: Vec::new() };
            t.add(tags)?;
            let arn = listener_arn(lb_arn, &ids::hex16());
            let listener = Listener {
                arn: arn.clone(),
                load_balancer_arn: lb_arn.to_string(),
                port: port as u16,
                protocol: protocol.to_string(),
                default_actions: default_actions.clone(),
                attributes: Default::default(),
            };
            changes.put(Rule {
                arn: rule_arn(&arn, &ids::hex16()),
                priority: RulePriority::Default,
                conditions: Vec::new(),
                actions: default_actions,
            });
            if !t.tags.is_empty() {
                t.arn = arn;
                changes.put(t);
            }
            changes.put(listener.clone());
            Ok(listener)
        })
    }

    pub fn describe_listeners(
        &self,
        lb_arn: Option<&str>,
        arns: &[String],
        marker: Option<&str>,
        page_size: Option<u32>,
    ) -> AwsResult<Page<Listener>> {
        let items = self.svc.read(|state| {
            if lb_arn.is_none() && arns.is_empty() {
                return Err(AwsError::validation(
                    "You must specify either listener ARNs or a load balancer ARN",
                ));
            }
            if let Some(lb) = lb_arn {
                if !state.load_balancers.contains_key(lb) {
                    return Err(lb_not_found());
                }
            }
            if arns.iter().any(|a| !state.listeners.contains_key(a)) {
                return Err(listener_not_found());
            }
            let mut items: Vec<Listener> = state
                .listeners
                .values()
                .filter(|l| lb_arn.is_none_or(|lb| l.load_balancer_arn == lb))
                .filter(|l| arns.is_empty() || arns.contains(&l.arn))
                .cloned()
                .collect();
            items.sort_by(|a, b| {
                (&a.load_balancer_arn, a.port).cmp(&(&b.load_balancer_arn, b.port))
            });
            Ok(items)
        })?;
        Paging::ELBV2.page(items, page_size, marker)
    }

    pub fn modify_listener(
        &self,
        arn: &str,
        port: Option<u32>,
        protocol: Option<&str>,
        default_actions: Option<Vec<Action>>,
    ) -> AwsResult<Listener> {
        self.svc.mutate(|state, changes| {
            let mut l = state.listeners.get(arn).cloned().ok_or_else(listener_not_found)?;
            let lb = state.load_balancers.get(&l.load_balancer_arn).ok_or_else(lb_not_found)?;
            let new_port = port.unwrap_or(u32::from(l.port));
            let new_protocol = protocol.unwrap_or(&l.protocol).to_string();
            let actions = default_actions.unwrap_or_else(|| l.default_actions.clone());
            let others = state
                .listeners
                .values()
                .filter(|o| o.load_balancer_arn == l.load_balancer_arn && o.arn != l.arn)
                .map(|o| o.port);
            check_new_listener(others, &new_protocol, new_port, &actions)?;
            self.check_actions(state, lb, &actions)?;
            l.port = new_port as u16;
            l.protocol = new_protocol;
            l.default_actions = actions.clone();
            if let Some(default) =
                listener_rules(state, arn).into_iter().find(|r| r.priority == RulePriority::Default)
            {
                let mut d = default.clone();
                d.actions = actions;
                changes.put(d);
            }
            changes.put(l.clone());
            Ok(l)
        })
    }

    pub fn delete_listener(&self, arn: &str) -> AwsResult<()> {
        self.svc.mutate(|state, changes| {
            if !state.listeners.contains_key(arn) {
                return Err(listener_not_found());
            }
            delete_listener_records(state, changes, arn);
            Ok(())
        })
    }

    pub fn create_rule(
        &self,
        listener_arn: &str,
        priority: Option<u32>,
        conditions: Vec<Condition>,
        actions: Vec<Action>,
        tags: &[Tag],
    ) -> AwsResult<Rule> {
        self.svc.mutate(|state, changes| {
            let l = state.listeners.get(listener_arn).ok_or_else(listener_not_found)?;
            let lb = state.load_balancers.get(&l.load_balancer_arn).ok_or_else(lb_not_found)?;
            let priority = priority.ok_or_else(|| {
                AwsError::validation(
                    "1 validation error detected: Value null at 'priority' failed to satisfy constraint: Member must not be null",
                )
            })?;
            let rules = listener_rules(state, listener_arn);
            let used = rules.iter().filter_map(|r| match r.priority {
                RulePriority::Number(n) => Some(n),
                RulePriority::Default => None,
            });
            check_new_rule(used, priority, &conditions, &actions)?;
            if rules.len() > MAX_RULES_PER_LISTENER {
                return Err(AwsError::new(
                    "TooManyRules",
                    format!("A listener can have at most {MAX_RULES_PER_LISTENER} rules"),
                ));
            }
            // AWS counts rules per load balancer, default rules not included.
            let lb_rules = state
                .listeners
                .values()
                .filter(|other| other.load_balancer_arn == l.load_balancer_arn)
                .flat_map(|other| listener_rules(state, &other.arn))
                .filter(|r| r.priority != RulePriority::Default)
                .count();
            quotas::check_rules(lb_rules, self.svc.config.quotas.rules_per_load_balancer)?;
            self.check_actions(state, lb, &actions)?;
            let mut t = ResourceTags { arn: String::new(), tags: Vec::new() };
            t.add(tags)?;
            let rule = Rule {
                arn: rule_arn(listener_arn, &ids::hex16()),
                priority: RulePriority::Number(priority),
                conditions,
                actions,
            };
            if !t.tags.is_empty() {
                t.arn = rule.arn.clone();
                changes.put(t);
            }
            changes.put(rule.clone());
            Ok(rule)
        })
    }

    pub fn describe_rules(
        &self,
        listener_arn: Option<&str>,
        arns: &[String],
        marker: Option<&str>,
        page_size: Option<u32>,
    ) -> AwsResult<Page<Rule>> {
        let items = self.svc.read(|state| {
            if listener_arn.is_none() && arns.is_empty() {
                return Err(AwsError::validation("You must specify either listener or rule ARNs"));
            }
            if listener_arn.is_some_and(|l| !state.listeners.contains_key(l)) {
                return Err(listener_not_found());
            }
            if arns.iter().any(|a| !state.rules.contains_key(a)) {
                return Err(rule_not_found());
            }
            let mut items: Vec<Rule> = state
                .rules
                .values()
                .filter(|r| listener_arn.is_none_or(|l| listener_of_rule(&r.arn) == l))
                .filter(|r| arns.is_empty() || arns.contains(&r.arn))
                .cloned()
                .collect();
            items.sort_by(|a, b| {
                (listener_of_rule(&a.arn), a.priority).cmp(&(listener_of_rule(&b.arn), b.priority))
            });
            Ok(items)
        })?;
        Paging::ELBV2.page(items, page_size, marker)
    }

    pub fn modify_rule(
        &self,
        arn: &str,
        conditions: Option<Vec<Condition>>,
        actions: Option<Vec<Action>>,
    ) -> AwsResult<Rule> {
        self.svc.mutate(|state, changes| {
            let mut rule = state.rules.get(arn).cloned().ok_or_else(rule_not_found)?;
            let listener = state
                .listeners
                .get(&listener_of_rule(arn))
                .cloned()
                .ok_or_else(listener_not_found)?;
            let lb =
                state.load_balancers.get(&listener.load_balancer_arn).ok_or_else(lb_not_found)?;
            if let Some(c) = conditions {
                if rule.priority == RulePriority::Default {
                    return Err(AwsError::new(
                        "OperationNotPermitted",
                        "The conditions of a default rule cannot be modified",
                    ));
                }
                validate_conditions(&c)?;
                rule.conditions = c;
            }
            if let Some(a) = actions {
                self.check_actions(state, lb, &a)?;
                rule.actions = a;
            }
            if rule.priority == RulePriority::Default {
                let mut l = listener;
                l.default_actions = rule.actions.clone();
                changes.put(l);
            }
            changes.put(rule.clone());
            Ok(rule)
        })
    }

    pub fn delete_rule(&self, arn: &str) -> AwsResult<()> {
        self.svc.mutate(|state, changes| {
            let rule = state.rules.get(arn).ok_or_else(rule_not_found)?;
            if rule.priority == RulePriority::Default {
                return Err(AwsError::new(
                    "OperationNotPermitted",
                    "A default rule cannot be deleted",
                ));
            }
            changes.delete::<Rule>(arn);
            if state.elb_tags.contains_key(arn) {
                changes.delete::<ResourceTags>(arn);
            }
            Ok(())
        })
    }

    /// SetRulePriorities: every rule exists and is not a default rule; afterwards no
    /// two rules of a listener share a priority. All or nothing.
    pub fn set_rule_priorities(&self, pairs: &[(String, u32)]) -> AwsResult<Vec<Rule>> {
        self.svc.mutate(|state, changes| {
            let mut updated: Vec<Rule> = Vec::new();
            for (arn, priority) in pairs {
                let mut rule = state.rules.get(arn).cloned().ok_or_else(rule_not_found)?;
                if rule.priority == RulePriority::Default {
                    return Err(AwsError::new(
                        "OperationNotPermitted",
                        "The priority of a default rule cannot be modified",
                    ));
                }
                check_rule_priority([], *priority)?;
                if updated.iter().any(|u| u.arn == *arn) {
                    return Err(AwsError::validation(format!(
                        "Rule '{arn}' is specified more than once"
                    )));
                }
                rule.priority = RulePriority::Number(*priority);
                updated.push(rule);
            }
            for u in &updated {
                let listener = listener_of_rule(&u.arn);
                let clash = listener_rules(state, &listener).into_iter().any(|r| {
                    let now =
                        updated.iter().find(|x| x.arn == r.arn).map_or(r.priority, |x| x.priority);
                    r.arn != u.arn && now == u.priority
                }) || updated.iter().any(|o| {
                    o.arn != u.arn
                        && listener_of_rule(&o.arn) == listener
                        && o.priority == u.priority
                });
                if clash {
                    return Err(AwsError::new(
                        "PriorityInUse",
                        format!("Priority '{}' is currently in use", u.priority.to_wire()),
                    ));
                }
            }
            for u in &updated {
                changes.put(u.clone());
            }
            Ok(updated)
        })
    }

    // -------------------------------------------------------------- target groups

    pub fn create_target_group(&self, req: CreateTargetGroup) -> AwsResult<TargetGroup> {
        let target_type =
            req.target_type.as_deref().map(TargetType::parse).transpose()?.unwrap_or_default();
        let protocol = req
            .protocol
            .clone()
            .ok_or_else(|| AwsError::validation("A protocol must be specified"))?;
        validate_protocol(&protocol)?;
        let port = req.port.ok_or_else(|| AwsError::validation("A port must be specified"))?;
        validate_port(port)?;
        match req.protocol_version.as_deref() {
            None | Some("HTTP1") => {}
            Some(v) => {
                return Err(AwsError::validation(format!(
                    "Protocol version '{v}' is not supported by Shoal; use 'HTTP1'"
                )))
            }
        }
        if !matches!(req.ip_address_type.as_deref(), None | Some("ipv4")) {
            return Err(AwsError::validation("Shoal target groups use IP address type 'ipv4'"));
        }
        let mut health_check = HealthCheck::default();
        health_check.apply(&req.health_check)?;
        let vpc_id =
            req.vpc_id.clone().ok_or_else(|| AwsError::validation("A VPC ID must be specified"))?;
        self.svc.mutate(|state, changes| {
            if !state.vpcs.contains_key(&vpc_id) {
                return Err(AwsError::validation(format!("The VPC ID '{vpc_id}' is not found")));
            }
            if let Some(existing) = state.target_groups.values().find(|t| t.name == req.name) {
                if existing.protocol == protocol
                    && u32::from(existing.port) == port
                    && existing.vpc_id == vpc_id
                    && existing.target_type == target_type
                    && existing.health_check == health_check
                {
                    return Ok(existing.clone());
                }
            }
            check_new_target_group(
                state.target_groups.values().map(|t| t.name.as_str()),
                &req.name,
            )?;
            quotas::check_target_groups(
                state.target_groups.len(),
                self.svc.config.quotas.target_groups,
            )?;
            let mut t = ResourceTags { arn: String::new(), tags: Vec::new() };
            t.add(&req.tags)?;
            let tg = TargetGroup {
                arn: target_group_arn(self.svc.region(), &req.name, &ids::hex16()),
                name: req.name.clone(),
                protocol: protocol.clone(),
                port: port as u16,
                vpc_id: vpc_id.clone(),
                target_type,
                health_check: health_check.clone(),
                attributes: TargetGroupAttributes::default(),
                load_balancer_arns: Vec::new(),
            };
            if !t.tags.is_empty() {
                t.arn = tg.arn.clone();
                changes.put(t);
            }
            changes.put(tg.clone());
            Ok(tg)
        })
    }

    pub fn describe_target_groups(
        &self,
        lb_arn: Option<&str>,
        arns: &[String],
        names: &[String],
        marker: Option<&str>,
        page_size: Option<u32>,
    ) -> AwsResult<Page<TargetGroup>> {
        let given = usize::from(lb_arn.is_some())
            + usize::from(!arns.is_empty())
            + usize::from(!names.is_empty());
        if given > 1 {
            return Err(AwsError::validation(
                "Only one of load balancer ARN, target group ARNs or names can be specified",
            ));
        }
        let items = self.svc.read(|state| {
            if lb_arn.is_some_and(|l| !state.load_balancers.contains_key(l)) {
                return Err(lb_not_found());
            }
            if arns.iter().any(|a| !state.target_groups.contains_key(a)) {
                return Err(tg_not_found());
            }
            if let Some(n) =
                names.iter().find(|n| !state.target_groups.values().any(|t| &t.name == *n))
            {
                return Err(AwsError::new(
                    "TargetGroupNotFound",
                    format!("Target groups '[{n}]' not found"),
                ));
            }
            let mut items: Vec<TargetGroup> = state
                .target_groups
                .values()
                .filter(|t| arns.is_empty() || arns.contains(&t.arn))
                .filter(|t| names.is_empty() || names.contains(&t.name))
                .map(|t| {
                    let mut t = t.clone();
                    t.load_balancer_arns = target_group_load_balancers(state, &t.arn);
                    t
                })
                .filter(|t| lb_arn.is_none_or(|l| t.load_balancer_arns.iter().any(|a| a == l)))
                .collect();
            items.sort_by(|a, b| (&a.name, &a.arn).cmp(&(&b.name, &b.arn)));
            Ok(items)
        })?;
        Paging::ELBV2.page(items, page_size, marker)
    }

    pub fn modify_target_group(
        &self,
        arn: &str,
        update: &HealthCheckUpdate,
    ) -> AwsResult<TargetGroup> {
        self.svc.mutate(|state, changes| {
            let mut tg = state.target_groups.get(arn).cloned().ok_or_else(tg_not_found)?;
            tg.health_check.apply(update)?;
            changes.put(tg.clone());
            tg.load_balancer_arns = target_group_load_balancers(state, arn);
            Ok(tg)
        })
    }

    pub fn delete_target_group(&self, arn: &str) -> AwsResult<()> {
        self.svc.mutate(|state, changes| {
            // Like DeleteLoadBalancer, deleting what is already gone succeeds.
            if !state.target_groups.contains_key(arn) {
                return Ok(());
            }
            if !target_group_load_balancers(state, arn).is_empty() {
                return Err(AwsError::new(
                    "ResourceInUse",
                    format!("Target group '{arn}' is currently in use by a listener or a rule"),
                ));
            }
            for r in state.registered_targets.values().filter(|r| r.target_group_arn == arn) {
                changes.delete::<RegisteredTarget>(&r.key);
            }
            if state.elb_tags.contains_key(arn) {
                changes.delete::<ResourceTags>(arn);
            }
            changes.delete::<TargetGroup>(arn);
            Ok(())
        })
    }

    pub fn target_group_attributes(&self, arn: &str) -> AwsResult<Vec<(String, String)>> {
        self.svc
            .read(|s| s.target_groups.get(arn).map(|t| t.attributes.to_pairs()))
            .ok_or_else(tg_not_found)
    }

    pub fn modify_target_group_attributes(
        &self,
        arn: &str,
        pairs: &[(String, String)],
    ) -> AwsResult<Vec<(String, String)>> {
        self.svc.mutate(|state, changes| {
            let mut tg = state.target_groups.get(arn).cloned().ok_or_else(tg_not_found)?;
            tg.attributes.apply(pairs)?;
            let out = tg.attributes.to_pairs();
            changes.put(tg);
            Ok(out)
        })
    }

    // -------------------------------------------------------------- targets

    /// RegisterTargets: instance targets must be instances of the group's VPC that are
    /// pending or running; ip targets private or loopback IPv4 addresses. Registering a
    /// registered target is a no-op; registering a draining one takes it back.
    pub fn register_targets(&self, tg_arn: &str, targets: &[TargetDescription]) -> AwsResult<()> {
        if targets.is_empty() {
            return Err(AwsError::validation("At least one target must be specified"));
        }
        self.svc.mutate(|state, changes| {
            let tg = state.target_groups.get(tg_arn).ok_or_else(tg_not_found)?;
            let registered: Vec<TargetDescription> = state
                .registered_targets
                .values()
                .filter(|r| r.target_group_arn == tg_arn && r.deregistered_at.is_none())
                .map(|r| r.target.clone())
                .collect();
            check_register_targets(tg.target_type, tg.port, &registered, targets)?;
            for t in targets {
                match tg.target_type {
                    TargetType::Instance => {
                        let inst = state
                            .instances
                            .get(&t.id)
                            .filter(|i| i.vpc_id == tg.vpc_id && i.state != InstanceState::Terminated)
                            .ok_or_else(|| {
                                AwsError::new(
                                    "InvalidTarget",
                                    format!("The following targets are not valid instances: '{}'", t.id),
                                )
                            })?;
                        if !matches!(inst.state, InstanceState::Pending | InstanceState::Running) {
                            return Err(AwsError::new(
                                "InvalidTarget",
                                format!(
                                    "The following targets are not in a running state and cannot be registered: '{}'",
                                    t.id
                                ),
                            ));
                        }
                    }
                    TargetType::Ip => check_ip_target(&t.id)?,
                }
            }
            let now = self.svc.clock.now();
            let mut seen = BTreeSet::new();
            for t in targets {
                let port = t.effective_port(tg.port);
                let key = registration_key(tg_arn, &t.id, port);
                if !seen.insert(key.clone()) {
                    continue;
                }
                let active = state
                    .registered_targets
                    .get(&key)
                    .is_some_and(|r| r.deregistered_at.is_none());
                if active {
                    continue;
                }
                changes.put(RegisteredTarget {
                    key,
                    target_group_arn: tg_arn.to_string(),
                    target: TargetDescription {
                        id: t.id.clone(),
                        port: Some(port),
                        availability_zone: t.availability_zone.clone(),
                    },
                    registered_at: now,
                    deregistered_at: None,
                });
            }
            Ok(())
        })
    }

    /// DeregisterTargets: each target stops getting new requests at once and drains
    /// for the group's deregistration delay (recorded, so a restart keeps the clock).
    pub fn deregister_targets(&self, tg_arn: &str, targets: &[TargetDescription]) -> AwsResult<()> {
        if targets.is_empty() {
            return Err(AwsError::validation("At least one target must be specified"));
        }
        self.svc.mutate(|state, changes| {
            let tg = state.target_groups.get(tg_arn).ok_or_else(tg_not_found)?;
            let now = self.svc.clock.now();
            let mut marked: Vec<RegisteredTarget> = Vec::new();
            for t in targets {
                let matching: Vec<&RegisteredTarget> = state
                    .registered_targets
                    .values()
                    .filter(|r| r.target_group_arn == tg_arn && r.target.id == t.id)
                    .filter(|r| t.port.is_none_or(|p| r.target.effective_port(tg.port) == p))
                    .collect();
                if matching.is_empty() {
                    return Err(AwsError::new(
                        "InvalidTarget",
                        format!("The following targets are not registered with target group '{tg_arn}': '{}'", t.id),
                    ));
                }
                for r in matching {
                    if r.deregistered_at.is_some() || marked.iter().any(|m| m.key == r.key) {
                        continue;
                    }
                    let mut r = r.clone();
                    r.deregistered_at = Some(now);
                    marked.push(r);
                }
            }
            for r in marked {
                if tg.attributes.deregistration_delay_seconds == 0 {
                    changes.delete::<RegisteredTarget>(&r.key);
                } else {
                    changes.put(r);
                }
            }
            Ok(())
        })
    }

    /// DescribeTargetHealth: every registered (or draining) target, or the ones asked
    /// for; health as the data plane observes it.
    pub fn describe_target_health(
        &self,
        tg_arn: &str,
        targets: &[TargetDescription],
    ) -> AwsResult<Vec<TargetHealthDescription>> {
        let snapshot = self.svc.proxy.target_health();
        self.svc.read(|state| {
            let tg = state.target_groups.get(tg_arn).ok_or_else(tg_not_found)?;
            let regs: Vec<&RegisteredTarget> = state
                .registered_targets
                .values()
                .filter(|r| r.target_group_arn == tg_arn)
                .collect();
            let describe = |r: &RegisteredTarget| -> TargetHealthDescription {
                let port = r.target.effective_port(tg.port);
                let resolved = resolve_target(state, tg, r, self.default_zone());
                let observed = resolved.addr.and_then(|addr| {
                    snapshot
                        .group(tg_arn)?
                        .targets
                        .iter()
                        .find(|t| t.id == r.target.id && t.addr == addr)
                        .map(|t| t.health.clone())
                });
                let health = match observed {
                    Some(h) => h,
                    None if r.deregistered_at.is_some() => TargetHealth {
                        state: TargetHealthState::Draining,
                        reason: Some(TargetHealthReason::DeregistrationInProgress),
                        description: Some("Target deregistration is in progress".into()),
                    },
                    None if resolved.addr.is_none() => TargetHealth {
                        state: TargetHealthState::Unused,
                        reason: Some(TargetHealthReason::InvalidState),
                        description: Some("Target is in the terminated state".into()),
                    },
                    None => TargetHealth {
                        state: TargetHealthState::Initial,
                        reason: Some(TargetHealthReason::RegistrationInProgress),
                        description: Some("Target registration is in progress".into()),
                    },
                };
                TargetHealthDescription {
                    target: TargetDescription {
                        id: r.target.id.clone(),
                        port: Some(port),
                        availability_zone: r.target.availability_zone.clone(),
                    },
                    health_check_port: Some(tg.health_check.port.resolve(port).to_string()),
                    health,
                }
            };
            if targets.is_empty() {
                return Ok(regs.iter().map(|r| describe(r)).collect());
            }
            let mut out = Vec::new();
            for t in targets {
                let found: Vec<&&RegisteredTarget> = regs
                    .iter()
                    .filter(|r| r.target.id == t.id)
                    .filter(|r| t.port.is_none_or(|p| r.target.effective_port(tg.port) == p))
                    .collect();
                if found.is_empty() {
                    out.push(TargetHealthDescription {
                        target: TargetDescription {
                            id: t.id.clone(),
                            port: Some(t.effective_port(tg.port)),
                            availability_zone: t.availability_zone.clone(),
                        },
                        health_check_port: None,
                        health: TargetHealth::not_registered(),
                    });
                }
                out.extend(found.into_iter().map(|r| describe(r)));
            }
            Ok(out)
        })
    }

    /// Requests the data plane has sent to each target of a target group since it was
    /// registered, as (target id, port, count). Shoal's own figure (AWS publishes no
    /// per-target count); the console shows it beside DescribeTargetHealth.
    pub fn target_request_counts(&self, tg_arn: &str) -> Vec<(String, u16, u64)> {
        let snapshot = self.svc.proxy.target_health();
        snapshot
            .group(tg_arn)
            .map(|g| g.targets.iter().map(|t| (t.id.clone(), t.addr.port(), t.requests)).collect())
            .unwrap_or_default()
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

fn delete_listener_records(state: &State, changes: &mut Changes, listener_arn: &str) {
    for r in listener_rules(state, listener_arn) {
        changes.delete::<Rule>(&r.arn);
        if state.elb_tags.contains_key(&r.arn) {
            changes.delete::<ResourceTags>(&r.arn);
        }
    }
    if state.elb_tags.contains_key(listener_arn) {
        changes.delete::<ResourceTags>(listener_arn);
    }
    changes.delete::<Listener>(listener_arn);
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
            assert!(check_ip_target(ok).is_ok(), "{ok}");
        }
        for bad in ["8.8.8.8", "nope", "i-123"] {
            assert!(check_ip_target(bad).is_err_and(|e| e.code == "InvalidTarget"), "{bad}");
        }
    }
}
