//! Load balancers: create (placement in subnets and security groups), describe, delete, attributes,
//! subnets and security groups.

use super::*;
use shoal_model::ec2::network;
use shoal_model::elbv2::LoadBalancerInterface;
use shoal_model::ErrorCode;

/// Free addresses ELB requires in each of a load balancer's subnets (AWS: "at least 8
/// free IP addresses"), so it can scale its interfaces.
const FREE_ADDRESSES_PER_SUBNET: u64 = 8;

/// Gives `lb` AWS's network interfaces: those in subnets it keeps stay as they are, and
/// each new subnet gets one holding the lowest free address of that subnet (from the
/// same pool as instances' addresses). `InvalidSubnet` when a subnet has fewer than
/// eight free addresses, as ELB refuses it.
fn place_interfaces(state: &State, changes: &mut Changes, lb: &mut LoadBalancer) -> AwsResult<()> {
    let mut placed: Vec<LoadBalancerInterface> =
        lb.interfaces.iter().filter(|n| lb.subnets.contains(&n.subnet_id)).cloned().collect();
    for subnet_id in &lb.subnets {
        if placed.iter().any(|n| &n.subnet_id == subnet_id) {
            continue;
        }
        let Some(subnet) = state.subnets.get(subnet_id) else { continue };
        let (_, used) = changes.addresses.in_use(state, subnet_id);
        let free = network::usable_addresses(subnet.cidr).saturating_sub(used.len() as u64);
        if free < FREE_ADDRESSES_PER_SUBNET {
            return Err(AwsError::new(
                ErrorCode::InvalidSubnet,
                format!("Not enough IP space available in {subnet_id}. ELB requires at least {FREE_ADDRESSES_PER_SUBNET} free IP addresses in each subnet."),
            ));
        }
        let private_ip = network::allocate_private_ip(subnet, used)?;
        used.insert(private_ip);
        placed.push(LoadBalancerInterface {
            id: ids::ec2("eni"),
            subnet_id: subnet_id.clone(),
            availability_zone: subnet.availability_zone.clone(),
            private_ip,
        });
    }
    lb.interfaces = placed;
    Ok(())
}

impl Elb<'_> {
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
                AwsError::new(
                    ErrorCode::SubnetNotFound,
                    format!("The subnet ID '{id}' is not valid"),
                )
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
                ErrorCode::InvalidConfigurationRequest,
                "The subnets must all be in the load balancer's VPC",
            ));
        }
        let zones: Vec<String> = found.iter().map(|s| s.availability_zone.clone()).collect();
        check_subnet_zones(&zones)?;
        let mut sgs = Vec::new();
        for g in groups {
            let sg = state.security_groups.get(g).ok_or_else(|| {
                AwsError::new(
                    ErrorCode::InvalidSecurityGroup,
                    format!("Security group '{g}' does not exist"),
                )
            })?;
            // A group of another VPC exists: ELBv2 names the mismatch (observed text).
            if sg.vpc_id != vpc {
                return Err(AwsError::new(
                    ErrorCode::InvalidConfigurationRequest,
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
            let mut lb = LoadBalancer {
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
                interfaces: Vec::new(),
            };
            place_interfaces(state, changes, &mut lb)?;
            if !tags.tags.is_empty() {
                tags.arn = arn;
                changes.put(tags);
            }
            changes.put(lb.clone());
            Ok(lb)
        })
    }

    /// Gives each load balancer stored before Shoal kept its interfaces one per subnet
    /// (at every start); one whose subnet is full keeps none, and the log says why.
    pub fn place_missing_interfaces(&self) -> AwsResult<()> {
        self.svc.mutate(|state, changes| {
            for lb in state.load_balancers.values().filter(|l| l.interfaces.is_empty()) {
                let mut lb = lb.clone();
                match place_interfaces(state, changes, &mut lb) {
                    Ok(()) => changes.put(lb),
                    Err(e) => tracing::warn!(load_balancer = %lb.arn, "no network interfaces: {e}"),
                }
            }
            Ok(())
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
                    ErrorCode::LoadBalancerNotFound,
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
                    ErrorCode::OperationNotPermitted,
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

    /// DescribeCapacityReservation: Shoal reserves no capacity units (ModifyCapacityReservation
    /// is not offered), so a known load balancer has no reservation to describe, and AWS
    /// answers such a one with no minimum capacity and no zonal states.
    pub fn check_load_balancer(&self, arn: &str) -> AwsResult<()> {
        self.svc.read(|s| s.load_balancers.contains_key(arn).then_some(())).ok_or_else(lb_not_found)
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
            place_interfaces(state, changes, &mut lb)?;
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
}
