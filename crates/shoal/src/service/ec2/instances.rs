//! Instances: RunInstances (merging a launch template, quotas, addresses), the state
//! changes (Start/Stop/Terminate/Reboot), DescribeInstances, monitoring, the
//! controller's writes and console output.

use shoal_model::ErrorCode;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use shoal_model::ec2::instance::{
    self, InstanceMetadataOptions, InstanceProfileRef, InstanceState, InstanceSwitches,
    LaunchTemplateRef, StateReason, Transition,
};
use shoal_model::ec2::launch_template::{
    self as lt, LaunchOptions, LaunchTemplateData, NetworkInterfaceSpec, TagSpecification,
};
use shoal_model::ec2::network;
use shoal_model::ec2::{instance_type, key_pair, Instance, Subnet};
use shoal_model::filter::Filter;
use shoal_model::quotas;
use shoal_model::tags::{self, Tag};
use shoal_model::{AwsError, AwsResult, ACCOUNT_ID};

use super::images::resolve_image;
use super::launch_templates::resolve_version_in;
use super::security_groups::resolve_groups;
use super::{
    check_ids_well_formed, decode_user_data, not_found_ids, require, select, tags_for,
    TERMINATED_RETENTION_SECS,
};
use crate::ids;
use crate::service::page::{Page, Paging};
use crate::service::{Changes, Service, State};
use shoal_model::ec2::launch_template::LaunchTemplateSpec;

/// RunInstances' parameters (after merging nothing: the template is merged here).
#[derive(Debug, Clone, Default)]
pub struct RunInstances {
    pub image_id: Option<String>,
    pub instance_type: Option<String>,
    pub min_count: u32,
    pub max_count: u32,
    pub key_name: Option<String>,
    pub subnet_id: Option<String>,
    pub availability_zone: Option<String>,
    pub security_group_ids: Vec<String>,
    pub security_groups: Vec<String>,
    pub user_data: Option<String>,
    pub tag_specifications: Vec<TagSpecification>,
    pub launch_template: Option<LaunchTemplateSpec>,
    pub client_token: Option<String>,
    /// Tags only AWS sets (`aws:autoscaling:groupName`); they win over the template's.
    pub system_tags: Vec<Tag>,
    /// `Monitoring.Enabled`: detailed monitoring; overrides the template's. Auto
    /// Scaling sets it from a launch configuration's `InstanceMonitoring.Enabled`.
    pub monitoring_enabled: Option<bool>,
    /// `NetworkInterface.1.*`: its subnet is `subnet_id`; its groups replace
    /// instance-level ones; its `PrivateIpAddress` is the instance's address.
    pub network_interface: Option<NetworkInterfaceSpec>,
    /// `PrivateIpAddress`: the instance's address in its subnet.
    pub private_ip: Option<String>,
    /// InstanceInitiatedShutdownBehavior, DisableApiTermination, DisableApiStop,
    /// CreditSpecification, MetadataOptions…: each overrides the template's.
    pub options: LaunchOptions,
}

/// What a launch's merged options make of the instance's protections and shutdown
/// behaviour (EC2's defaults where none is given).
fn launch_switches(o: &LaunchOptions) -> AwsResult<InstanceSwitches> {
    Ok(InstanceSwitches {
        shutdown_terminates: match &o.shutdown_behavior {
            Some(v) => InstanceSwitches::parse_shutdown_behavior(v)?,
            None => false,
        },
        disable_api_termination: o.disable_api_termination.unwrap_or(false),
        disable_api_stop: o.disable_api_stop.unwrap_or(false),
        cpu_credits: o
            .cpu_credits
            .as_deref()
            .map(InstanceSwitches::parse_cpu_credits)
            .transpose()?,
    })
}

/// One reservation: the instances one RunInstances call made.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub id: String,
    pub instances: Vec<Instance>,
}

/// A state change reported by Start/Stop/TerminateInstances.
#[derive(Debug, Clone)]
pub struct StateChange {
    pub instance_id: String,
    pub previous: InstanceState,
    pub current: InstanceState,
}

impl Service {
    /// RunInstances: validates everything, then records the instances `pending`; the
    /// instance controller boots them.
    pub fn run_instances(&self, req: RunInstances) -> AwsResult<Reservation> {
        if req.min_count == 0 {
            return Err(AwsError::invalid_parameter_value(
                "Value (0) for parameter minCount is invalid. Expected a value greater than 0.",
            ));
        }
        if req.max_count < req.min_count {
            return Err(AwsError::new(
                ErrorCode::InvalidParameterValue,
                format!("Value ({}) for parameter maxCount is invalid. Expected a value greater than or equal to minCount ({}).", req.max_count, req.min_count),
            ));
        }
        if let Some(data) = &req.user_data {
            decode_user_data(data)?;
        }
        self.mutate(|state, changes| self.run_instances_in(state, changes, &req))
    }

    /// RunInstances inside a caller's change set (Auto Scaling launches an instance and
    /// records it in its group in one commit).
    pub fn run_instances_in(
        &self,
        state: &State,
        changes: &mut Changes,
        req: &RunInstances,
    ) -> AwsResult<Reservation> {
        // Merge: the template's data, overridden by the request's own parameters.
        let (template_ref, base) = match &req.launch_template {
            Some(spec) => {
                let (t, v) = resolve_version_in(state, spec)?;
                (Some(LaunchTemplateRef { id: t.id.clone(), version: v.number }), v.data.clone())
            }
            None => (None, LaunchTemplateData::default()),
        };
        let merged = lt::overlay(
            &base,
            &LaunchTemplateData {
                image_id: req.image_id.clone(),
                instance_type: req.instance_type.clone(),
                key_name: req.key_name.clone(),
                security_group_ids: req.security_group_ids.clone(),
                security_groups: req.security_groups.clone(),
                user_data: req.user_data.clone(),
                tag_specifications: req.tag_specifications.clone(),
                subnet_id: req.subnet_id.clone(),
                availability_zone: req.availability_zone.clone(),
                monitoring_enabled: req.monitoring_enabled,
                network_interface: req.network_interface.clone(),
                options: req.options.clone(),
            },
        );
        let interface_groups =
            merged.network_interface.as_ref().map(|n| n.groups.clone()).unwrap_or_default();
        let instance_groups =
            !merged.security_group_ids.is_empty() || !merged.security_groups.is_empty();
        if !interface_groups.is_empty() && instance_groups {
            return Err(AwsError::new(
                ErrorCode::InvalidParameterCombination,
                "Network interfaces and an instance-level security groups may not be specified on the same request",
            ));
        }
        let switches = launch_switches(&merged.options)?;
        let metadata_options = match &merged.options.metadata_options {
            Some(m) => {
                m.check()?;
                InstanceMetadataOptions::default().with(m)
            }
            None => InstanceMetadataOptions::default(),
        };
        let image_id =
            merged.image_id.clone().ok_or_else(|| AwsError::missing_parameter("ImageId"))?;
        let image = resolve_image(state, &image_id)?;
        let type_name =
            merged.instance_type.clone().unwrap_or_else(|| instance_type::DEFAULT.into());
        instance_type::check_image_architecture(
            instance_type::resolve(&type_name)?,
            &image.architecture,
        )?;
        if let Some(key) = &merged.key_name {
            if state.key_pair_named(key).is_none() {
                return Err(key_pair::not_found(key));
            }
        }
        let subnet =
            pick_subnet(state, merged.subnet_id.as_deref(), merged.availability_zone.as_deref())?;
        let groups = if interface_groups.is_empty() {
            resolve_groups(
                state,
                &subnet.vpc_id,
                &merged.security_group_ids,
                &merged.security_groups,
            )?
        } else {
            resolve_groups(state, &subnet.vpc_id, &interface_groups, &[])?
        };
        let mut tags = tags_for(&merged.tag_specifications, "instance")?;
        if let Some(t) = &template_ref {
            tags::upsert(
                &mut tags,
                &[
                    Tag::new("aws:ec2launchtemplate:id", &t.id),
                    Tag::new("aws:ec2launchtemplate:version", t.version.to_string()),
                ],
            );
        }
        tags::upsert(&mut tags, &req.system_tags);
        if let Some(token) = &req.client_token {
            // Idempotency: the same token returns the first call's reservation.
            let earlier: Vec<Instance> = state
                .instances
                .values()
                .filter(|i| i.client_token.as_ref() == Some(token))
                .cloned()
                .collect();
            if let Some(first) = earlier.first() {
                return Ok(Reservation { id: first.reservation_id.clone(), instances: earlier });
            }
        }
        let (running, running_vcpus) = crate::service::quotas::instance_usage(state, changes);
        let q = &self.config.quotas;
        quotas::check_instance_count(q.max_instances, running, req.min_count, req.max_count)?;
        let vcpus_each = instance_type::resolve(&type_name)?.vcpus;
        let fits = quotas::fit_vcpus(
            q.on_demand_vcpus,
            running_vcpus,
            vcpus_each,
            req.min_count,
            req.max_count.min(q.max_instances - running),
        )?;
        let (loopback_used, private_used) = changes.addresses.in_use(state, &subnet.id);
        let free = network::usable_addresses(subnet.cidr).saturating_sub(private_used.len() as u64);
        if free < req.min_count as u64 {
            return Err(AwsError::new(
                ErrorCode::InsufficientFreeAddressesInSubnet,
                format!("There are not enough free addresses in subnet '{}' to satisfy the requested number of instances.", subnet.id),
            ));
        }
        let wanted_ip = req.private_ip.clone().or_else(|| {
            merged.network_interface.as_ref().and_then(|n| n.private_ip_address.clone())
        });
        if wanted_ip.is_some() && req.min_count > 1 {
            return Err(AwsError::new(
                ErrorCode::InvalidParameterCombination,
                "A private IP address can be given only for a single instance (MinCount 1).",
            ));
        }
        let count = if wanted_ip.is_some() { 1 } else { fits.min(free as u32) };
        let profile = merged.options.iam_instance_profile.as_ref().and_then(|p| {
            let arn = p.arn.clone().or_else(|| {
                p.name.as_ref().map(|n| format!("arn:aws:iam::{ACCOUNT_ID}:instance-profile/{n}"))
            })?;
            Some(InstanceProfileRef { id: ids::instance_profile_id(&arn), arn })
        });
        let has_public_ip = network::public_ip_on_launch(
            merged.network_interface.as_ref().and_then(|n| n.associate_public_ip_address),
            subnet,
        );
        changes.launched.instances += count;
        changes.launched.vcpus += count * vcpus_each;
        let reservation_id = ids::ec2("r");
        let now = self.clock.now();
        let mut instances = Vec::new();
        for index in 0..count {
            let private_ip = match &wanted_ip {
                Some(ip) => network::claim_private_ip(subnet, private_used, ip)?,
                None => network::allocate_private_ip(subnet, private_used)?,
            };
            private_used.insert(private_ip);
            let loopback_ip = self.allocate_loopback(loopback_used)?;
            loopback_used.insert(loopback_ip);
            let inst = Instance {
                id: ids::ec2("i"),
                reservation_id: reservation_id.clone(),
                image_id: image.id.clone(),
                instance_type: type_name.clone(),
                key_name: merged.key_name.clone(),
                vpc_id: subnet.vpc_id.clone(),
                subnet_id: subnet.id.clone(),
                availability_zone: subnet.availability_zone.clone(),
                private_ip,
                loopback_ip,
                security_group_ids: groups.clone(),
                state: InstanceState::Pending,
                state_transition_reason: String::new(),
                state_reason: Some(StateReason {
                    code: "pending".into(),
                    message: "pending".into(),
                }),
                launch_time: now,
                ami_launch_index: index,
                user_data: merged.user_data.clone(),
                launch_template: template_ref.clone(),
                client_token: req.client_token.clone(),
                tags: tags.clone(),
                boot_count: 0,
                process: None,
                terminated_at: None,
                monitoring: merged.monitoring_enabled.unwrap_or(false),
                switches: switches.clone(),
                metadata_options: metadata_options.clone(),
                iam_instance_profile: profile.clone(),
                reboot_requested: false,
                has_public_ip,
            };
            instances.push(inst);
        }
        for inst in &instances {
            changes.put(inst.clone());
        }
        Ok(Reservation { id: reservation_id, instances })
    }

    /// The lowest free address of the pool, skipping `.0`, `.1` and `.255` of each /24
    /// and those another region's instances or load balancers hold (one machine's pool).
    pub fn allocate_loopback(&self, used: &BTreeSet<Ipv4Addr>) -> AwsResult<Ipv4Addr> {
        let pool = self.config.address_pool;
        let claims = self.loopback_claims();
        let region = &self.config.region;
        (0..pool.size() as u32)
            .map(|n| pool.nth(n))
            .filter(|ip| !matches!(ip.octets()[3], 0 | 1 | 255))
            .find(|ip| !used.contains(ip) && !claims.held_elsewhere(region, *ip))
            .inspect(|ip| claims.claim(region, *ip))
            .ok_or_else(|| {
                AwsError::new(
                    ErrorCode::InsufficientInstanceCapacity,
                    format!("The loopback address pool {pool} is exhausted."),
                )
            })
    }

    pub fn describe_instances(
        &self,
        ids: &[String],
        filters: &[Filter],
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> AwsResult<Page<Instance>> {
        check_ids_well_formed("i", ErrorCode::InvalidInstanceIDMalformed, ids)?;
        if max_results.is_some() && !ids.is_empty() {
            return Err(AwsError::new(
                ErrorCode::InvalidParameterCombination,
                "The parameter instancesSet cannot be used with the parameter maxResults",
            ));
        }
        let now = self.clock.now();
        let mut items = self.read(|state| {
            select::<Instance>(state, ids, filters, |m| {
                not_found_ids(ErrorCode::InvalidInstanceIDNotFound, "instance", m)
            })
            .map(|v| {
                v.into_iter()
                    .filter(|i| ids.contains(&i.id) || !expired(i, now))
                    .cloned()
                    .collect::<Vec<_>>()
            })
        })?;
        items.sort_by(|a, b| {
            (a.launch_time, &a.reservation_id, a.ami_launch_index).cmp(&(
                b.launch_time,
                &b.reservation_id,
                b.ami_launch_index,
            ))
        });
        Paging::ec2(5, 1000).page(items, max_results, next_token)
    }

    /// Start/Stop/Terminate/RebootInstances by Shoal itself (Auto Scaling, the console's
    /// lab, the admin API): every id must exist and allow the transition, or nothing
    /// changes.
    pub fn change_instance_states(
        &self,
        ids: &[String],
        action: Transition,
    ) -> AwsResult<Vec<StateChange>> {
        self.change_states(ids, action, false)
    }

    /// A user's Start/Stop/Terminate: as [`Service::change_instance_states`], and refused
    /// whole when an instance's `disableApiStop`/`disableApiTermination` forbids it.
    pub fn change_instance_states_by_user(
        &self,
        ids: &[String],
        action: Transition,
    ) -> AwsResult<Vec<StateChange>> {
        self.change_states(ids, action, true)
    }

    fn change_states(
        &self,
        ids: &[String],
        action: Transition,
        check_protections: bool,
    ) -> AwsResult<Vec<StateChange>> {
        if ids.is_empty() {
            return Err(AwsError::missing_parameter("InstanceId"));
        }
        check_ids_well_formed("i", ErrorCode::InvalidInstanceIDMalformed, ids)?;
        self.mutate(|state, changes| {
            if check_protections {
                for (id, inst) in ids.iter().filter_map(|id| Some((id, state.instances.get(id)?))) {
                    inst.switches.check_user_transition(id, action)?;
                }
            }
            self.change_instance_states_in(state, changes, ids, action)
        })
    }

    /// Start/Stop/Terminate inside a caller's change set (Auto Scaling terminates an
    /// instance and updates its group in one commit).
    pub fn change_instance_states_in(
        &self,
        state: &State,
        changes: &mut Changes,
        ids: &[String],
        action: Transition,
    ) -> AwsResult<Vec<StateChange>> {
        let now = self.clock.now();
        let mut out = Vec::new();
        let missing: Vec<String> =
            ids.iter().filter(|id| !state.instances.contains_key(*id)).cloned().collect();
        if !missing.is_empty() {
            return Err(not_found_ids(ErrorCode::InvalidInstanceIDNotFound, "instance", &missing));
        }
        for id in ids {
            let inst = &state.instances[id];
            let next = instance::transition(id, inst.state, action)?;
            if let Some(next) = next {
                if next.wants_processes() && !inst.state.wants_processes() {
                    // Starting a stopped instance runs it again: the quotas apply, as in EC2.
                    let (running, running_vcpus) =
                        crate::service::quotas::instance_usage(state, changes);
                    let q = &self.config.quotas;
                    quotas::check_instance_count(q.max_instances, running, 1, 1)?;
                    let vcpus = instance_type::lookup(&inst.instance_type).map_or(1, |t| t.vcpus);
                    quotas::fit_vcpus(q.on_demand_vcpus, running_vcpus, vcpus, 1, 1)?;
                    changes.launched.instances += 1;
                    changes.launched.vcpus += vcpus;
                }
                let mut updated = inst.clone();
                updated.state = next;
                updated.state_transition_reason = instance::user_initiated_reason(now);
                updated.state_reason = match next {
                    InstanceState::Pending => {
                        Some(StateReason { code: "pending".into(), message: "pending".into() })
                    }
                    _ => Some(StateReason::user_initiated_shutdown()),
                };
                changes.put(updated);
            } else if action == Transition::Reboot && !inst.reboot_requested {
                // RebootInstances: recorded with the request, so a daemon restart before
                // the instance controller acts still reboots it.
                let mut updated = inst.clone();
                updated.reboot_requested = true;
                changes.put(updated);
            }
            out.push(StateChange {
                instance_id: id.clone(),
                previous: inst.state,
                current: next.unwrap_or(inst.state),
            });
        }
        Ok(out)
    }

    /// MonitorInstances (`detailed`) / UnmonitorInstances: turns detailed monitoring on
    /// or off for every instance named, or — if any id is unknown —
    /// `InvalidInstanceID.NotFound` and nothing changes. Answers each instance's
    /// `Monitoring.State` as EC2 does (`pending`/`disabling` while it changes).
    pub fn set_monitoring(
        &self,
        ids: &[String],
        detailed: bool,
    ) -> AwsResult<Vec<(String, &'static str)>> {
        if ids.is_empty() {
            return Err(AwsError::missing_parameter("InstanceId"));
        }
        check_ids_well_formed("i", ErrorCode::InvalidInstanceIDMalformed, ids)?;
        self.mutate(|state, changes| {
            let missing: Vec<String> =
                ids.iter().filter(|id| !state.instances.contains_key(*id)).cloned().collect();
            if !missing.is_empty() {
                return Err(not_found_ids(
                    ErrorCode::InvalidInstanceIDNotFound,
                    "instance",
                    &missing,
                ));
            }
            let mut out = Vec::new();
            for id in ids {
                let inst = &state.instances[id];
                out.push((
                    id.clone(),
                    instance::monitoring_transition_state(inst.monitoring, detailed),
                ));
                if inst.monitoring != detailed {
                    let mut updated = inst.clone();
                    updated.monitoring = detailed;
                    changes.put(updated);
                }
            }
            Ok(out)
        })
    }

    /// The controller's write: record what the runtime did to an instance.
    pub fn update_instance(
        &self,
        id: &str,
        f: impl FnOnce(&mut Instance),
    ) -> AwsResult<Option<Instance>> {
        self.mutate(|state, changes| {
            let Some(inst) = state.instances.get(id) else { return Ok(None) };
            let mut updated = inst.clone();
            f(&mut updated);
            if &updated != inst {
                changes.put(updated.clone());
            }
            Ok(Some(updated))
        })
    }

    pub fn instance(&self, id: &str) -> AwsResult<Instance> {
        check_ids_well_formed("i", ErrorCode::InvalidInstanceIDMalformed, &[id.to_string()])?;
        self.read(|state| require_instance(state, id).cloned())
    }

    /// GetConsoleOutput: the instance's captured stdout/stderr (last 64 KiB, as AWS).
    pub fn console_output(&self, id: &str) -> AwsResult<(Instance, Vec<u8>)> {
        let inst = self.instance(id)?;
        let mut out = self.driver.console_output(id);
        if out.len() > 64 * 1024 {
            out.drain(..out.len() - 64 * 1024);
        }
        Ok((inst, out))
    }
}

fn expired(inst: &Instance, now: chrono::DateTime<chrono::Utc>) -> bool {
    inst.terminated_at.is_some_and(|t| (now - t).num_seconds() > TERMINATED_RETENTION_SECS)
}

pub(super) fn require_instance<'a>(state: &'a State, id: &str) -> AwsResult<&'a Instance> {
    require(state, id, || {
        not_found_ids(ErrorCode::InvalidInstanceIDNotFound, "instance", &[id.into()])
    })
}

/// The subnet to launch into: the given one; else the default subnet of the given zone;
/// else the default subnet whose zone has the fewest live instances.
fn pick_subnet<'a>(
    state: &'a State,
    subnet_id: Option<&str>,
    zone: Option<&str>,
) -> AwsResult<&'a Subnet> {
    if let Some(id) = subnet_id {
        return require(state, id, || {
            not_found_ids(ErrorCode::InvalidSubnetIDNotFound, "subnet", &[id.into()])
        });
    }
    let defaults: Vec<&Subnet> = state.subnets.values().filter(|s| s.default_for_az).collect();
    if let Some(zone) = zone {
        return defaults.into_iter().find(|s| s.availability_zone == zone).ok_or_else(|| {
            AwsError::invalid_parameter_value(format!("Invalid availability zone: [{zone}]"))
        });
    }
    let live = |s: &Subnet| {
        state
            .instances
            .values()
            .filter(|i| i.subnet_id == s.id && i.state != InstanceState::Terminated)
            .count()
    };
    let mut ordered = defaults;
    ordered.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
    ordered.into_iter().min_by_key(|s| live(s)).ok_or_else(|| {
        AwsError::new(
            ErrorCode::MissingInput,
            "No subnets found for the default VPC. Please specify a subnet.",
        )
    })
}
