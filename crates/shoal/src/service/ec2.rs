//! EC2 operations: network, key pairs, security groups, images, launch templates and
//! instances.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use base64::Engine;
use shoal_model::ec2::image::{self, ImageState, BASE_IMAGE_NAME};
use shoal_model::ec2::instance::{
    self, InstanceMetadataOptions, InstanceProfileRef, InstanceState, InstanceSwitches,
    LaunchTemplateRef, StateReason, Transition,
};
use shoal_model::ec2::launch_template::{
    self as lt, LaunchOptions, LaunchTemplateData, NetworkInterfaceSpec, TagSpecification,
    VersionSelector,
};
use shoal_model::ec2::network::{self, Cidr};
use shoal_model::ec2::security_group::{self, Permission};
use shoal_model::ec2::{
    instance_type, is_well_formed_id, key_pair, Image, Instance, KeyPair, LaunchTemplate,
    LaunchTemplateVersion, SecurityGroup, Subnet, Vpc,
};
use shoal_model::filter::{self, Filter, Filterable};
use shoal_model::quotas;
use shoal_model::tags::{self, Tag};
use shoal_model::{AwsError, AwsResult, ACCOUNT_ID};

use super::page::{Page, Paging};
use super::{Changes, Service, State, Table};
use crate::ids;

/// How long a terminated instance stays visible, as in AWS (about an hour).
pub const TERMINATED_RETENTION_SECS: i64 = 3600;

mod images;
mod interfaces;
mod routes;
mod snapshots;
pub use interfaces::{InstanceAttributeChange, NetworkInterface};
pub use routes::{InternetGateway, RouteTable};

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

/// A template named by id or name, with an optional version (`$Default` if absent).
#[derive(Debug, Clone, Default)]
pub struct LaunchTemplateSpec {
    pub id: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
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

/// DeleteLaunchTemplateVersions' answer: the template, the deleted version numbers and
/// each refused one as (version, code, message).
pub type DeletedVersions = (LaunchTemplate, Vec<u64>, Vec<(String, String, String)>);

fn not_found_ids(code: &str, noun: &str, missing: &[String]) -> AwsError {
    let list = missing.join(", ");
    if missing.len() == 1 {
        AwsError::new(code, format!("The {noun} ID '{list}' does not exist"))
    } else {
        AwsError::new(code, format!("The {noun} IDs '{list}' do not exist"))
    }
}

fn check_ids_well_formed(prefix: &str, code: &str, ids: &[String]) -> AwsResult<()> {
    match ids.iter().find(|id| !is_well_formed_id(prefix, id)) {
        Some(bad) => Err(AwsError::new(code, format!("Invalid id: \"{bad}\""))),
        None => Ok(()),
    }
}

/// Selects resources by ids (all must exist) and filters, in id order.
/// The Describe* shape of resources addressed by name as well as id (key pairs,
/// security groups): every name must exist (`missing_name`), then ids and filters
/// select as [`select`] does, and names narrow the result.
fn select_named<T: Table + Filterable + Clone>(
    state: &State,
    (names, ids, filters): (&[String], &[String], &[Filter]),
    name_of: impl Fn(&T) -> &String,
    missing_name: impl Fn(&str) -> AwsError,
    missing_ids: impl Fn(&[String]) -> AwsError,
) -> AwsResult<Vec<T>> {
    let map = T::map(state);
    if let Some(missing) = names.iter().find(|n| !map.values().any(|v| name_of(v) == *n)) {
        return Err(missing_name(missing));
    }
    Ok(select::<T>(state, ids, filters, missing_ids)?
        .into_iter()
        .filter(|v| names.is_empty() || names.contains(name_of(v)))
        .cloned()
        .collect())
}

pub fn select<'a, T: Table + Filterable>(
    state: &'a State,
    ids: &[String],
    filters: &[Filter],
    not_found: impl Fn(&[String]) -> AwsError,
) -> AwsResult<Vec<&'a T>> {
    let map = T::map(state);
    let missing: Vec<String> = ids.iter().filter(|id| !map.contains_key(*id)).cloned().collect();
    if !missing.is_empty() {
        return Err(not_found(&missing));
    }
    let wanted: BTreeSet<&String> = ids.iter().collect();
    let mut out = Vec::new();
    for item in map.values() {
        if !wanted.is_empty() && !wanted.contains(&item.id().to_string()) {
            continue;
        }
        match filter::matches(item, filters) {
            Ok(true) => out.push(item),
            Ok(false) => {}
            Err(name) => {
                return Err(AwsError::invalid_parameter_value(format!(
                    "The filter '{name}' is invalid"
                )))
            }
        }
    }
    Ok(out)
}

impl Service {
    // ------------------------------------------------------------------ bootstrap

    /// Makes sure the region has what every AWS account has: a default VPC with a
    /// default subnet per zone and a `default` security group, plus the base image.
    /// Idempotent; runs at every start and after a reset.
    pub fn bootstrap(&self) -> AwsResult<()> {
        let base_id = self.mutate(|state, changes| {
            if !state.vpcs.values().any(|v| v.is_default) {
                let vpc = Vpc {
                    id: ids::ec2("vpc"),
                    cidr: Cidr::parse(network::DEFAULT_VPC_CIDR, "cidrBlock")?,
                    is_default: true,
                    tags: vec![],
                    attributes: None,
                };
                for (zone, cidr) in self
                    .config
                    .zones
                    .iter()
                    .zip(network::default_subnet_cidrs(self.config.zones.len()))
                {
                    changes.put(Subnet {
                        id: ids::ec2("subnet"),
                        vpc_id: vpc.id.clone(),
                        cidr,
                        availability_zone: zone.clone(),
                        default_for_az: true,
                        map_public_ip_on_launch: true,
                        tags: vec![],
                    });
                }
                changes.put(default_security_group(&vpc.id));
                changes.put(vpc);
            }
            if let Some(base) = base_image(state) {
                return Ok(base.id.clone());
            }
            let base = Image {
                id: ids::ec2("ami"),
                name: BASE_IMAGE_NAME.into(),
                description: Some(
                    "Shoal base image: an empty Linux-like root (stands in for Amazon Linux 2023)"
                        .into(),
                ),
                owner_id: "137112412989".into(),
                owner_alias: Some("amazon".into()),
                state: ImageState::Available,
                creation_date: self.clock.now(),
                source_instance_id: None,
                public: true,
                tags: vec![],
                architecture: "x86_64".into(),
            };
            let id = base.id.clone();
            changes.put(base);
            Ok(id)
        })?;
        self.driver
            .ensure_base_image(&base_id)
            .map_err(|e| AwsError::internal(format!("cannot create the base image: {e}")))?;
        self.seed_public_images()
    }

    // ------------------------------------------------------------------ SSM

    /// SSM public parameters Shoal serves: the Amazon Linux "latest" aliases.
    pub fn ssm_parameter(&self, name: &str) -> Option<String> {
        self.read(|s| super::catalog::image_for_parameter(s, name).map(|i| i.id.clone()))
    }

    // ------------------------------------------------------------------ VPC and subnets

    pub fn create_vpc(&self, cidr_block: &str, tag_specs: &[TagSpecification]) -> AwsResult<Vpc> {
        let cidr = network::validate_vpc_cidr(cidr_block)?;
        let tags = tags_for(tag_specs, "vpc")?;
        self.mutate(|_, changes| {
            let vpc = Vpc { id: ids::ec2("vpc"), cidr, is_default: false, tags, attributes: None };
            changes.put(default_security_group(&vpc.id));
            changes.put(vpc.clone());
            Ok(vpc)
        })
    }

    pub fn describe_vpcs(&self, ids: &[String], filters: &[Filter]) -> AwsResult<Vec<Vpc>> {
        self.read(|s| {
            select::<Vpc>(s, ids, filters, |m| not_found_ids("InvalidVpcID.NotFound", "vpc", m))
                .map(|v| v.into_iter().cloned().collect())
        })
    }

    pub fn delete_vpc(&self, vpc_id: &str) -> AwsResult<()> {
        self.mutate(|state, changes| {
            require::<Vpc>(state, vpc_id, || {
                not_found_ids("InvalidVpcID.NotFound", "vpc", &[vpc_id.into()])
            })?;
            if state.subnets.values().any(|s| s.vpc_id == vpc_id)
                || state.security_groups.values().any(|g| g.vpc_id == vpc_id && g.name != "default")
            {
                return Err(AwsError::new(
                    "DependencyViolation",
                    format!("The vpc '{vpc_id}' has dependencies and cannot be deleted."),
                ));
            }
            for g in state.security_groups.values().filter(|g| g.vpc_id == vpc_id) {
                changes.delete::<SecurityGroup>(&g.id);
            }
            changes.delete::<Vpc>(vpc_id);
            Ok(())
        })
    }

    pub fn create_subnet(
        &self,
        vpc_id: &str,
        cidr_block: &str,
        zone: Option<&str>,
        tag_specs: &[TagSpecification],
    ) -> AwsResult<Subnet> {
        let tags = tags_for(tag_specs, "subnet")?;
        self.mutate(|state, changes| {
            let vpc = require::<Vpc>(state, vpc_id, || not_found_ids("InvalidVpcID.NotFound", "vpc", &[vpc_id.into()]))?;
            let siblings: Vec<&Subnet> = state.subnets.values().filter(|s| s.vpc_id == vpc_id).collect();
            let cidr = network::validate_subnet_cidr(cidr_block, vpc, &siblings)?;
            let zone = match zone {
                Some(z) if self.config.zones.iter().any(|k| k == z) => z.to_string(),
                Some(z) => {
                    return Err(AwsError::invalid_parameter_value(format!(
                        "Value ({z}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: {}.",
                        self.config.zones.join(", ")
                    )))
                }
                None => self.config.zones[siblings.len() % self.config.zones.len()].clone(),
            };
            let subnet = Subnet {
                id: ids::ec2("subnet"),
                vpc_id: vpc_id.into(),
                cidr,
                availability_zone: zone,
                default_for_az: false,
                map_public_ip_on_launch: false,
                tags,
            };
            changes.put(subnet.clone());
            Ok(subnet)
        })
    }

    pub fn describe_subnets(&self, ids: &[String], filters: &[Filter]) -> AwsResult<Vec<Subnet>> {
        self.read(|s| {
            select::<Subnet>(s, ids, filters, |m| {
                not_found_ids("InvalidSubnetID.NotFound", "subnet", m)
            })
            .map(|v| v.into_iter().cloned().collect())
        })
    }

    pub fn delete_subnet(&self, subnet_id: &str) -> AwsResult<()> {
        self.mutate(|state, changes| {
            require::<Subnet>(state, subnet_id, || {
                not_found_ids("InvalidSubnetID.NotFound", "subnet", &[subnet_id.into()])
            })?;
            if state
                .instances
                .values()
                .any(|i| i.subnet_id == subnet_id && i.state != InstanceState::Terminated)
            {
                return Err(AwsError::new(
                    "DependencyViolation",
                    format!("The subnet '{subnet_id}' has dependencies and cannot be deleted."),
                ));
            }
            changes.delete::<Subnet>(subnet_id);
            Ok(())
        })
    }

    /// The availability zones of the region, with AWS's zone ids (`use1-az1`…).
    pub fn availability_zones(&self) -> Vec<(String, String)> {
        let prefix: String = {
            let mut parts = self.config.region.split('-');
            let (a, b) = (parts.next().unwrap_or("us"), parts.next().unwrap_or("east"));
            let n = parts.next().unwrap_or("1");
            format!("{a}{}{n}", b.chars().next().unwrap_or('e'))
        };
        self.config
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.clone(), format!("{prefix}-az{}", i + 1)))
            .collect()
    }

    // ------------------------------------------------------------------ key pairs

    /// CreateKeyPair: returns the pair and its private key (shown once, never stored).
    pub fn create_key_pair(
        &self,
        name: &str,
        key_type: Option<&str>,
        tag_specs: &[TagSpecification],
    ) -> AwsResult<(KeyPair, String)> {
        let key_type = key_type.unwrap_or("rsa");
        key_pair::validate_key_type(key_type)?;
        let tags = tags_for(tag_specs, "key-pair")?;
        let generated = crate::keys::generate(key_type)
            .map_err(|e| AwsError::internal(format!("key generation failed: {e}")))?;
        self.mutate(|state, changes| {
            key_pair::validate_new_name(name, state.key_pairs.values())?;
            let pair = KeyPair {
                id: ids::ec2("key"),
                name: name.into(),
                fingerprint: generated.fingerprint.clone(),
                key_type: key_type.into(),
                public_key: generated.public_openssh.clone(),
                create_time: self.clock.now(),
                tags,
            };
            changes.put(pair.clone());
            Ok((pair, generated.private_pem.clone()))
        })
    }

    /// ImportKeyPair: stores a user's public key (OpenSSH format, as the aws CLI sends it).
    pub fn import_key_pair(
        &self,
        name: &str,
        public_key: &str,
        tag_specs: &[TagSpecification],
    ) -> AwsResult<KeyPair> {
        let tags = tags_for(tag_specs, "key-pair")?;
        let parsed = crate::keys::parse_public(public_key).ok_or_else(|| {
            AwsError::invalid_parameter_value("Value for parameter PublicKeyMaterial is invalid. Key is not in valid OpenSSH public key format")
        })?;
        self.mutate(|state, changes| {
            key_pair::validate_new_name(name, state.key_pairs.values())?;
            let pair = KeyPair {
                id: ids::ec2("key"),
                name: name.into(),
                fingerprint: parsed.fingerprint.clone(),
                key_type: parsed.key_type.clone(),
                public_key: public_key.trim().into(),
                create_time: self.clock.now(),
                tags,
            };
            changes.put(pair.clone());
            Ok(pair)
        })
    }

    pub fn describe_key_pairs(
        &self,
        names: &[String],
        ids: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<KeyPair>> {
        self.read(|state| {
            select_named::<KeyPair>(
                state,
                (names, ids, filters),
                |k| &k.name,
                key_pair::not_found,
                |m| {
                    AwsError::new(
                        "InvalidKeyPair.NotFound",
                        format!("The key pair '{}' does not exist", m.join(", ")),
                    )
                },
            )
        })
    }

    /// DeleteKeyPair succeeds even when the key does not exist, as AWS does.
    pub fn delete_key_pair(&self, name: Option<&str>, id: Option<&str>) -> AwsResult<()> {
        if name.is_none() && id.is_none() {
            return Err(AwsError::missing_parameter("KeyName"));
        }
        self.mutate(|state, changes| {
            for key in state
                .key_pairs
                .values()
                .filter(|k| Some(k.name.as_str()) == name || Some(k.id.as_str()) == id)
            {
                changes.delete::<KeyPair>(&key.id);
            }
            Ok(())
        })
    }

    // ------------------------------------------------------------------ security groups

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
                    not_found_ids("InvalidVpcID.NotFound", "vpc", &[id.into()])
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
                    "InvalidGroup.NotFound",
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
                        "InvalidGroup.NotFound",
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
                    "CannotDelete",
                    format!(
                        "the specified group: \"{}\" name: \"default\" cannot be deleted by a user",
                        group.id
                    ),
                ));
            }
            if state.instances.values().any(|i| {
                i.state != InstanceState::Terminated && i.security_group_ids.contains(&group.id)
            }) {
                return Err(AwsError::new(
                    "DependencyViolation",
                    format!("resource {} has a dependent object", group.id),
                ));
            }
            changes.delete::<SecurityGroup>(&group.id);
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
                let exists = rules.contains(&p);
                match (add, exists) {
                    (true, true) => {
                        return Err(AwsError::new(
                            "InvalidPermission.Duplicate",
                            format!(
                                "the specified rule \"peer: {}, {}, ALLOW\" already exists",
                                p.cidrs.join(","),
                                p.protocol.to_uppercase()
                            ),
                        ))
                    }
                    (true, false) => rules.push(p),
                    (false, true) => rules.retain(|r| r != &p),
                    (false, false) => {
                        return Err(AwsError::new(
                            "InvalidPermission.NotFound",
                            "The specified rule does not exist in this security group.",
                        ))
                    }
                }
            }
            changes.put(group.clone());
            Ok(group)
        })
    }

    // ------------------------------------------------------------------ images

    pub fn describe_images(
        &self,
        ids: &[String],
        owners: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<Image>> {
        check_ids_well_formed("ami", "InvalidAMIID.Malformed", ids)?;
        self.read(|state| {
            let images = select::<Image>(state, ids, filters, |m| {
                AwsError::new(
                    "InvalidAMIID.NotFound",
                    format!("The image id '[{}]' does not exist", m.join(", ")),
                )
            })?;
            Ok(images
                .into_iter()
                .filter(|i| {
                    owners.is_empty()
                        || owners.iter().any(|o| match o.as_str() {
                            "self" => i.owner_id == ACCOUNT_ID,
                            "amazon" => i.owner_alias.as_deref() == Some("amazon"),
                            other => i.owner_id == other,
                        })
                })
                .cloned()
                .collect())
        })
    }

    /// CreateImage: snapshots the instance's disk (running or stopped) into a new AMI.
    /// Shoal's snapshot is a directory copy, finished before the call returns, so the
    /// image is `available` at once (AWS: `pending` for minutes).
    pub async fn create_image(
        &self,
        instance_id: &str,
        name: &str,
        description: Option<String>,
        tag_specs: &[TagSpecification],
    ) -> AwsResult<Image> {
        image::validate_name(name)?;
        check_ids_well_formed("i", "InvalidInstanceID.Malformed", &[instance_id.to_string()])?;
        let tags = tags_for(tag_specs, "image")?;
        let image_id = ids::ec2("ami");
        let pending = self.mutate(|state, changes| {
            let inst = require_instance(state, instance_id)?;
            if !matches!(
                inst.state,
                InstanceState::Running | InstanceState::Stopped | InstanceState::Pending
            ) {
                return Err(AwsError::new(
                    "IncorrectInstanceState",
                    format!(
                        "The instance '{instance_id}' is not in the 'running' or 'stopped' states."
                    ),
                ));
            }
            image::check_name_free(name, ACCOUNT_ID, state.images.values())?;
            let img = Image {
                id: image_id.clone(),
                name: name.into(),
                description,
                owner_id: ACCOUNT_ID.into(),
                owner_alias: None,
                state: ImageState::Pending,
                creation_date: self.clock.now(),
                source_instance_id: Some(instance_id.into()),
                public: false,
                tags,
                architecture: instance_type::lookup(&inst.instance_type)
                    .map_or("x86_64", |t| t.arch.image_architecture())
                    .into(),
            };
            changes.put(img.snapshot());
            changes.put(img.clone());
            Ok(img)
        })?;
        let driver = self.driver.clone();
        let (iid, aid) = (instance_id.to_string(), image_id.clone());
        let copied = tokio::task::spawn_blocking(move || driver.snapshot_disk(&iid, &aid)).await;
        let ok = matches!(copied, Ok(Ok(())));
        if !ok {
            tracing::error!(?copied, instance_id, "snapshot failed");
        }
        self.mutate(|state, changes| {
            let Some(img) = state.images.get(&image_id) else { return Ok(pending.clone()) };
            let mut img = img.clone();
            img.state = if ok { ImageState::Available } else { ImageState::Failed };
            changes.put(img.clone());
            Ok(img)
        })
    }

    /// `shoal image import SOURCE --name NAME`: an AMI from a local directory, a root
    /// filesystem tarball, or an image archive (`docker save`, `podman save`, an OCI
    /// archive), whose layers are applied in order.
    pub async fn import_image(
        &self,
        source: std::path::PathBuf,
        name: &str,
        description: Option<String>,
    ) -> AwsResult<Image> {
        image::validate_name(name)?;
        if !source.exists() {
            return Err(AwsError::invalid_parameter_value(format!(
                "{} does not exist",
                source.display()
            )));
        }
        self.read(|s| image::check_name_free(name, ACCOUNT_ID, s.images.values()))?;
        let image_id = ids::ec2("ami");
        let driver = self.driver.clone();
        let aid = image_id.clone();
        let work = self.config.data_dir.join("tmp").join(format!("import-{image_id}"));
        tokio::task::spawn_blocking(move || {
            if source.is_dir() {
                return driver.import_image(&aid, &source);
            }
            let rootfs = work.join("rootfs");
            let unpacked = crate::runtime::unpack::unpack(&source, &rootfs, &work)
                .and_then(|_| driver.import_image(&aid, &rootfs));
            let _ = crate::runtime::disk::remove_tree(&work);
            unpacked
        })
        .await
        .map_err(|e| AwsError::internal(e.to_string()))?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => AwsError::invalid_parameter_value(e.to_string()),
            _ => AwsError::internal(format!("cannot import the image: {e}")),
        })?;
        self.mutate(|state, changes| {
            image::check_name_free(name, ACCOUNT_ID, state.images.values())?;
            let img = Image {
                id: image_id.clone(),
                name: name.into(),
                description,
                owner_id: ACCOUNT_ID.into(),
                owner_alias: None,
                state: ImageState::Available,
                creation_date: self.clock.now(),
                source_instance_id: None,
                public: false,
                tags: vec![],
                architecture: "x86_64".into(),
            };
            changes.put(img.snapshot());
            changes.put(img.clone());
            Ok(img)
        })
    }

    pub fn deregister_image(&self, image_id: &str) -> AwsResult<()> {
        check_ids_well_formed("ami", "InvalidAMIID.Malformed", &[image_id.to_string()])?;
        self.mutate(|state, changes| {
            let img = state.images.get(image_id).ok_or_else(|| {
                AwsError::new(
                    "InvalidAMIID.NotFound",
                    format!("The image id '[{image_id}]' does not exist"),
                )
            })?;
            if img.owner_id != ACCOUNT_ID {
                return Err(AwsError::new(
                    "AuthFailure",
                    format!("Not authorized for image:{image_id}"),
                ));
            }
            changes.delete::<Image>(image_id);
            Ok(())
        })?;
        if let Err(e) = self.driver.delete_image(image_id) {
            tracing::warn!(image_id, error = %e, "could not remove the image's disk");
        }
        Ok(())
    }

    // ------------------------------------------------------------------ launch templates

    pub fn create_launch_template(
        &self,
        name: &str,
        description: Option<String>,
        data: LaunchTemplateData,
        tag_specs: &[TagSpecification],
    ) -> AwsResult<(LaunchTemplate, LaunchTemplateVersion)> {
        lt::validate_name(name)?;
        let tags = tags_for(tag_specs, "launch-template")?;
        self.mutate(|state, changes| {
            lt::check_name_free(name, state.launch_templates.values())?;
            quotas::check_launch_templates(
                state.launch_templates.len(),
                self.config.quotas.launch_templates,
            )?;
            validate_template_data(state, &data)?;
            let now = self.clock.now();
            let template = LaunchTemplate {
                id: ids::ec2("lt"),
                name: name.into(),
                create_time: now,
                created_by: format!("arn:aws:iam::{ACCOUNT_ID}:root"),
                default_version: 1,
                latest_version: 1,
                tags,
            };
            let version = new_version(&template, 1, description, data, now);
            changes.put(template.clone());
            changes.put(version.clone());
            Ok((template, version))
        })
    }

    pub fn create_launch_template_version(
        &self,
        spec: &LaunchTemplateSpec,
        source_version: Option<&str>,
        description: Option<String>,
        data: LaunchTemplateData,
    ) -> AwsResult<LaunchTemplateVersion> {
        self.mutate(|state, changes| {
            self.create_launch_template_version_in(
                state,
                changes,
                spec,
                source_version,
                description,
                data,
            )
        })
    }

    /// CreateLaunchTemplateVersion inside another operation's change set (a deployment
    /// makes green's version in the same commit as the rest of the deployment).
    pub(crate) fn create_launch_template_version_in(
        &self,
        state: &State,
        changes: &mut Changes,
        spec: &LaunchTemplateSpec,
        source_version: Option<&str>,
        description: Option<String>,
        data: LaunchTemplateData,
    ) -> AwsResult<LaunchTemplateVersion> {
        let template = resolve_template(state, spec)?;
        let data = match source_version {
            Some(v) => {
                let n = VersionSelector::parse(v, &template.id)?.resolve(template)?;
                let source = state
                    .launch_template_versions
                    .get(&lt::version_key(&template.id, n))
                    .ok_or_else(|| lt::version_not_found(template, n))?;
                lt::overlay(&source.data, &data)
            }
            None => data,
        };
        validate_template_data(state, &data)?;
        let mut template = template.clone();
        template.latest_version += 1;
        let version =
            new_version(&template, template.latest_version, description, data, self.clock.now());
        changes.put(template);
        changes.put(version.clone());
        Ok(version)
    }

    pub fn describe_launch_templates(
        &self,
        ids: &[String],
        names: &[String],
        filters: &[Filter],
    ) -> AwsResult<Vec<LaunchTemplate>> {
        self.read(|state| {
            if let Some(missing) = names.iter().find(|n| !state.launch_templates.values().any(|t| &t.name == *n)) {
                return Err(AwsError::new(
                    "InvalidLaunchTemplateName.NotFoundException",
                    format!("At least one of the launch templates specified in the request does not exist. ({missing})"),
                ));
            }
            let all = select::<LaunchTemplate>(state, ids, filters, |m| lt::not_found_by_id(&m.join(", ")))?;
            Ok(all.into_iter().filter(|t| names.is_empty() || names.contains(&t.name)).cloned().collect())
        })
    }

    /// DescribeLaunchTemplateVersions: by template, selected versions or all.
    pub fn describe_launch_template_versions(
        &self,
        spec: &LaunchTemplateSpec,
        versions: &[String],
        min: Option<u64>,
        max: Option<u64>,
    ) -> AwsResult<Vec<(LaunchTemplate, LaunchTemplateVersion)>> {
        self.read(|state| {
            let template = resolve_template(state, spec)?;
            let numbers: Vec<u64> = if versions.is_empty() {
                (1..=template.latest_version)
                    .filter(|n| min.is_none_or(|m| *n >= m) && max.is_none_or(|m| *n <= m))
                    .collect()
            } else {
                versions
                    .iter()
                    .map(|v| {
                        VersionSelector::parse(v, &template.id).and_then(|s| s.resolve(template))
                    })
                    .collect::<AwsResult<_>>()?
            };
            let mut out = Vec::new();
            for n in numbers {
                match state.launch_template_versions.get(&lt::version_key(&template.id, n)) {
                    Some(v) => out.push((template.clone(), v.clone())),
                    None if !versions.is_empty() => return Err(lt::version_not_found(template, n)),
                    None => {}
                }
            }
            Ok(out)
        })
    }

    /// ModifyLaunchTemplate: sets the default version.
    pub fn modify_launch_template(
        &self,
        spec: &LaunchTemplateSpec,
        default_version: Option<&str>,
    ) -> AwsResult<LaunchTemplate> {
        self.mutate(|state, changes| {
            let mut template = resolve_template(state, spec)?.clone();
            if let Some(v) = default_version {
                let n = VersionSelector::parse(v, &template.id)?.resolve(&template)?;
                if !state.launch_template_versions.contains_key(&lt::version_key(&template.id, n)) {
                    return Err(lt::version_not_found(&template, n));
                }
                template.default_version = n;
                changes.put(template.clone());
            }
            Ok(template)
        })
    }

    pub fn delete_launch_template(&self, spec: &LaunchTemplateSpec) -> AwsResult<LaunchTemplate> {
        self.mutate(|state, changes| {
            let template = resolve_template(state, spec)?.clone();
            for n in 1..=template.latest_version {
                changes.delete::<LaunchTemplateVersion>(&lt::version_key(&template.id, n));
            }
            changes.delete::<LaunchTemplate>(&template.id);
            Ok(template)
        })
    }

    /// DeleteLaunchTemplateVersions: the default version cannot be deleted. Returns the
    /// deleted numbers and the (number, code, message) of each refused one.
    pub fn delete_launch_template_versions(
        &self,
        spec: &LaunchTemplateSpec,
        versions: &[String],
    ) -> AwsResult<DeletedVersions> {
        self.mutate(|state, changes| {
            let template = resolve_template(state, spec)?.clone();
            let (mut deleted, mut refused) = (Vec::new(), Vec::new());
            for v in versions {
                match v.parse::<u64>() {
                    Ok(n) if n == template.default_version => refused.push((
                        v.clone(),
                        "launchTemplateVersionIsDefault".into(),
                        "Cannot delete the default version.".into(),
                    )),
                    Ok(n)
                        if state
                            .launch_template_versions
                            .contains_key(&lt::version_key(&template.id, n)) =>
                    {
                        changes.delete::<LaunchTemplateVersion>(&lt::version_key(&template.id, n));
                        deleted.push(n);
                    }
                    _ => refused.push((
                        v.clone(),
                        "launchTemplateVersionDoesNotExist".into(),
                        "The specified launch template version does not exist.".into(),
                    )),
                }
            }
            Ok((template, deleted, refused))
        })
    }

    /// The launch data a template spec resolves to, with its concrete version.
    pub fn resolve_launch_template(
        &self,
        spec: &LaunchTemplateSpec,
    ) -> AwsResult<(LaunchTemplate, LaunchTemplateVersion)> {
        self.read(|state| resolve_version_in(state, spec).map(|(t, v)| (t.clone(), v.clone())))
    }

    // ------------------------------------------------------------------ instances

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
                "InvalidParameterValue",
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
                "InvalidParameterCombination",
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
            if !state.key_pairs.values().any(|k| &k.name == key) {
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
        let (running, running_vcpus) = super::quotas::instance_usage(state, changes);
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
                "InsufficientFreeAddressesInSubnet",
                format!("There are not enough free addresses in subnet '{}' to satisfy the requested number of instances.", subnet.id),
            ));
        }
        let wanted_ip = req.private_ip.clone().or_else(|| {
            merged.network_interface.as_ref().and_then(|n| n.private_ip_address.clone())
        });
        if wanted_ip.is_some() && req.min_count > 1 {
            return Err(AwsError::new(
                "InvalidParameterCombination",
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
            };
            instances.push(inst);
        }
        for inst in &instances {
            changes.put(inst.clone());
        }
        Ok(Reservation { id: reservation_id, instances })
    }

    /// The lowest free address of the pool, skipping `.0`, `.1` and `.255` of each /24.
    pub fn allocate_loopback(&self, used: &BTreeSet<Ipv4Addr>) -> AwsResult<Ipv4Addr> {
        let pool = self.config.address_pool;
        (0..pool.size() as u32)
            .map(|n| pool.nth(n))
            .filter(|ip| !matches!(ip.octets()[3], 0 | 1 | 255))
            .find(|ip| !used.contains(ip))
            .ok_or_else(|| {
                AwsError::new(
                    "InsufficientInstanceCapacity",
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
        check_ids_well_formed("i", "InvalidInstanceID.Malformed", ids)?;
        if max_results.is_some() && !ids.is_empty() {
            return Err(AwsError::new(
                "InvalidParameterCombination",
                "The parameter instancesSet cannot be used with the parameter maxResults",
            ));
        }
        let now = self.clock.now();
        let mut items = self.read(|state| {
            select::<Instance>(state, ids, filters, |m| {
                not_found_ids("InvalidInstanceID.NotFound", "instance", m)
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

    /// Start/Stop/Terminate/RebootInstances: every id must exist and allow the
    /// transition, or nothing changes.
    pub fn change_instance_states(
        &self,
        ids: &[String],
        action: Transition,
    ) -> AwsResult<Vec<StateChange>> {
        if ids.is_empty() {
            return Err(AwsError::missing_parameter("InstanceId"));
        }
        check_ids_well_formed("i", "InvalidInstanceID.Malformed", ids)?;
        self.mutate(|state, changes| self.change_instance_states_in(state, changes, ids, action))
    }

    /// A user's Start/Stop/Terminate: refused whole when an instance's
    /// `disableApiStop`/`disableApiTermination` forbids it.
    pub fn change_instance_states_by_user(
        &self,
        ids: &[String],
        action: Transition,
    ) -> AwsResult<Vec<StateChange>> {
        if ids.is_empty() {
            return Err(AwsError::missing_parameter("InstanceId"));
        }
        check_ids_well_formed("i", "InvalidInstanceID.Malformed", ids)?;
        self.mutate(|state, changes| {
            for id in ids {
                if let Some(inst) = state.instances.get(id) {
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
            return Err(not_found_ids("InvalidInstanceID.NotFound", "instance", &missing));
        }
        for id in ids {
            let inst = &state.instances[id];
            let next = instance::transition(id, inst.state, action)?;
            if let Some(next) = next {
                if next.wants_processes() && !inst.state.wants_processes() {
                    // Starting a stopped instance runs it again: the quotas apply, as in EC2.
                    let (running, running_vcpus) = super::quotas::instance_usage(state, changes);
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
        check_ids_well_formed("i", "InvalidInstanceID.Malformed", ids)?;
        self.mutate(|state, changes| {
            let missing: Vec<String> =
                ids.iter().filter(|id| !state.instances.contains_key(*id)).cloned().collect();
            if !missing.is_empty() {
                return Err(not_found_ids("InvalidInstanceID.NotFound", "instance", &missing));
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
        check_ids_well_formed("i", "InvalidInstanceID.Malformed", &[id.to_string()])?;
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

    // ------------------------------------------------------------------ tags

    /// CreateTags / DeleteTags on any taggable EC2 resource, all or nothing.
    pub fn change_tags(
        &self,
        resource_ids: &[String],
        add: &[Tag],
        remove: &[(String, Option<String>)],
    ) -> AwsResult<()> {
        if resource_ids.is_empty() {
            return Err(AwsError::missing_parameter("ResourceId"));
        }
        tags::validate_user_tags(add)?;
        self.mutate(|state, changes| {
            for id in resource_ids {
                let edit = |tags: &mut Vec<Tag>| {
                    tags::upsert(tags, add);
                    for (k, v) in remove {
                        tags::remove(tags, k, v.as_deref());
                    }
                    quotas::check_ec2_tag_count(tags.len())
                };
                macro_rules! retag {
                    ($map:ident) => {{
                        let mut r =
                            state.$map.get(id).cloned().ok_or_else(|| tag_target_missing(id))?;
                        edit(&mut r.tags)?;
                        changes.put(r);
                    }};
                }
                match id.split('-').next().unwrap_or("") {
                    "i" => retag!(instances),
                    "ami" => retag!(images),
                    "vpc" => retag!(vpcs),
                    "subnet" => retag!(subnets),
                    "sg" => retag!(security_groups),
                    "key" => retag!(key_pairs),
                    "lt" => retag!(launch_templates),
                    _ => return Err(tag_target_missing(id)),
                }
            }
            Ok(())
        })
    }

    /// DescribeTags: (resource id, resource type, tag) triples matching the filters.
    pub fn describe_tags(&self, filters: &[Filter]) -> AwsResult<Vec<(String, &'static str, Tag)>> {
        let mut out = Vec::new();
        self.read(|state| {
            let mut push = |id: &str, kind: &'static str, tags: &[Tag]| {
                for t in tags {
                    out.push((id.to_string(), kind, t.clone()));
                }
            };
            state.instances.values().for_each(|r| push(&r.id, "instance", &r.tags));
            state.images.values().for_each(|r| push(&r.id, "image", &r.tags));
            state.vpcs.values().for_each(|r| push(&r.id, "vpc", &r.tags));
            state.subnets.values().for_each(|r| push(&r.id, "subnet", &r.tags));
            state.security_groups.values().for_each(|r| push(&r.id, "security-group", &r.tags));
            state.key_pairs.values().for_each(|r| push(&r.id, "key-pair", &r.tags));
            state.launch_templates.values().for_each(|r| push(&r.id, "launch-template", &r.tags));
        });
        for f in filters {
            if !matches!(f.name.as_str(), "resource-id" | "resource-type" | "key" | "value") {
                return Err(AwsError::invalid_parameter_value(format!(
                    "The filter '{}' is invalid",
                    f.name
                )));
            }
        }
        out.retain(|(id, kind, tag)| {
            filters.iter().all(|f| {
                let v = match f.name.as_str() {
                    "resource-id" => id.as_str(),
                    "resource-type" => kind,
                    "key" => tag.key.as_str(),
                    _ => tag.value.as_str(),
                };
                f.values.iter().any(|p| filter::wildcard_match(p, v))
            })
        });
        Ok(out)
    }
}

fn tag_target_missing(id: &str) -> AwsError {
    let kind = match id.split('-').next().unwrap_or("") {
        "i" => "InvalidInstanceID.NotFound",
        "ami" => "InvalidAMIID.NotFound",
        "vpc" => "InvalidVpcID.NotFound",
        "subnet" => "InvalidSubnetID.NotFound",
        "sg" => "InvalidGroup.NotFound",
        "lt" => "InvalidLaunchTemplateId.NotFound",
        _ => "InvalidID",
    };
    AwsError::new(kind, format!("The ID '{id}' is not valid"))
}

fn expired(inst: &Instance, now: chrono::DateTime<chrono::Utc>) -> bool {
    inst.terminated_at.is_some_and(|t| (now - t).num_seconds() > TERMINATED_RETENTION_SECS)
}

/// Decodes RunInstances' base64 user data (`InvalidUserData.Malformed` otherwise).
pub fn decode_user_data(data: &str) -> AwsResult<Vec<u8>> {
    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    let decoded = base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| {
        AwsError::new("InvalidUserData.Malformed", "Invalid BASE64 encoding of user data.")
    })?;
    quotas::check_user_data_size(decoded.len())?;
    Ok(decoded)
}

/// A VPC's `default` group with AWS's default rules: all traffic in from members of
/// the group itself, all traffic out.
fn default_security_group(vpc_id: &str) -> SecurityGroup {
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
        }],
        egress: vec![Permission::allow_all_egress()],
        tags: vec![],
    }
}

pub fn base_image(state: &State) -> Option<&Image> {
    state
        .images
        .values()
        .find(|i| i.owner_alias.as_deref() == Some("amazon") && i.name == BASE_IMAGE_NAME)
}

fn default_vpc(state: &State) -> AwsResult<&Vpc> {
    state
        .vpcs
        .values()
        .find(|v| v.is_default)
        .ok_or_else(|| AwsError::new("VPCIdNotSpecified", "No default VPC for this user."))
}

fn require<'a, T: Table>(
    state: &'a State,
    id: &str,
    err: impl FnOnce() -> AwsError,
) -> AwsResult<&'a T> {
    T::map(state).get(id).ok_or_else(err)
}

fn require_instance<'a>(state: &'a State, id: &str) -> AwsResult<&'a Instance> {
    require(state, id, || not_found_ids("InvalidInstanceID.NotFound", "instance", &[id.into()]))
}

fn resolve_group<'a>(
    state: &'a State,
    id: Option<&str>,
    name: Option<&str>,
) -> AwsResult<&'a SecurityGroup> {
    match (id, name) {
        (Some(id), _) => require(state, id, || {
            AwsError::new(
                "InvalidGroup.NotFound",
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
                        "InvalidGroup.NotFound",
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
fn resolve_groups(
    state: &State,
    vpc_id: &str,
    ids: &[String],
    names: &[String],
) -> AwsResult<Vec<String>> {
    let mut out = Vec::new();
    for id in ids {
        let g = state.security_groups.get(id).ok_or_else(|| {
            AwsError::new(
                "InvalidGroup.NotFound",
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
                    "InvalidGroup.NotFound",
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

/// The subnet to launch into: the given one; else the default subnet of the given zone;
/// else the default subnet whose zone has the fewest live instances.
fn pick_subnet<'a>(
    state: &'a State,
    subnet_id: Option<&str>,
    zone: Option<&str>,
) -> AwsResult<&'a Subnet> {
    if let Some(id) = subnet_id {
        return require(state, id, || {
            not_found_ids("InvalidSubnetID.NotFound", "subnet", &[id.into()])
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
            "MissingInput",
            "No subnets found for the default VPC. Please specify a subnet.",
        )
    })
}

pub(crate) fn resolve_image<'a>(state: &'a State, image_id: &str) -> AwsResult<&'a Image> {
    let id = match image_id.strip_prefix("resolve:ssm:") {
        Some(param) => match super::catalog::image_for_parameter(state, param) {
            Some(image) => image.id.clone(),
            None => {
                return Err(AwsError::invalid_parameter_value(format!(
                    "Invalid parameter name {param}: only public AMI aliases are supported"
                )))
            }
        },
        None => image_id.to_string(),
    };
    if !is_well_formed_id("ami", &id) {
        return Err(AwsError::new(
            "InvalidAMIID.Malformed",
            format!("Invalid id: \"{id}\" (expecting \"ami-...\")"),
        ));
    }
    let img = state.images.get(&id).ok_or_else(|| {
        AwsError::new("InvalidAMIID.NotFound", format!("The image id '[{id}]' does not exist"))
    })?;
    if img.state != ImageState::Available {
        return Err(AwsError::new(
            "InvalidAMIID.Unavailable",
            format!("The image id '[{id}]' is not available"),
        ));
    }
    Ok(img)
}

fn resolve_template<'a>(
    state: &'a State,
    spec: &LaunchTemplateSpec,
) -> AwsResult<&'a LaunchTemplate> {
    match (&spec.id, &spec.name) {
        (Some(id), _) => state.launch_templates.get(id).ok_or_else(|| lt::not_found_by_id(id)),
        (None, Some(name)) => state
            .launch_templates
            .values()
            .find(|t| &t.name == name)
            .ok_or_else(|| lt::not_found_by_name(name)),
        (None, None) => Err(AwsError::missing_parameter("LaunchTemplateId or LaunchTemplateName")),
    }
}

/// A template spec resolved to its template and concrete version.
pub(crate) fn resolve_version_in<'a>(
    state: &'a State,
    spec: &LaunchTemplateSpec,
) -> AwsResult<(&'a LaunchTemplate, &'a LaunchTemplateVersion)> {
    let template = resolve_template(state, spec)?;
    let n = VersionSelector::parse(spec.version.as_deref().unwrap_or("$Default"), &template.id)?
        .resolve(template)?;
    let version = state
        .launch_template_versions
        .get(&lt::version_key(&template.id, n))
        .ok_or_else(|| lt::version_not_found(template, n))?;
    Ok((template, version))
}

fn new_version(
    template: &LaunchTemplate,
    number: u64,
    description: Option<String>,
    data: LaunchTemplateData,
    now: chrono::DateTime<chrono::Utc>,
) -> LaunchTemplateVersion {
    LaunchTemplateVersion {
        key: lt::version_key(&template.id, number),
        template_id: template.id.clone(),
        template_name: template.name.clone(),
        number,
        description,
        create_time: now,
        created_by: template.created_by.clone(),
        data,
    }
}

/// What AWS checks when a template version is created: a known instance type and
/// decodable user data. (Images and groups are checked at launch, as in AWS.)
fn validate_template_data(_state: &State, data: &LaunchTemplateData) -> AwsResult<()> {
    if let Some(t) = &data.instance_type {
        instance_type::resolve(t)?;
    }
    if let Some(u) = &data.user_data {
        decode_user_data(u)?;
    }
    for spec in &data.tag_specifications {
        tags::validate_user_tags(&spec.tags)?;
    }
    Ok(())
}

/// The tags of the TagSpecifications for one resource type.
pub fn tags_for(specs: &[TagSpecification], resource_type: &str) -> AwsResult<Vec<Tag>> {
    let tags: Vec<Tag> = specs
        .iter()
        .filter(|s| s.resource_type == resource_type)
        .flat_map(|s| s.tags.clone())
        .collect();
    tags::validate_user_tags(&tags)?;
    quotas::check_ec2_tag_count(tags.len())?;
    Ok(tags)
}
