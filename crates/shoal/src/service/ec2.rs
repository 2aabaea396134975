//! EC2. This file holds what every resource shares (selection by ids and filters, the
//! not-found and malformed-id texts, TagSpecifications, user data) and the bootstrap;
//! each resource lives in `ec2/`: `vpcs.rs` (VPCs, subnets, zones), `security_groups.rs`,
//! `key_pairs.rs`, `images.rs` (images and their attributes), `snapshots.rs`,
//! `launch_templates.rs`, `instances.rs` (and `metadata.rs`, what IMDS serves), `tags.rs`, `interfaces.rs` (VPC attributes,
//! rules by id, network interfaces, ModifyInstanceAttribute) and `routes.rs` (route
//! tables and internet gateways as views of the VPCs).

use shoal_model::ErrorCode;
use std::collections::BTreeSet;

use base64::Engine;
use shoal_model::ec2::image::BASE_IMAGE_NAME;
use shoal_model::ec2::launch_template::TagSpecification;
use shoal_model::ec2::network::{self, Cidr};
use shoal_model::ec2::{is_well_formed_id, Image, Subnet, Vpc};
use shoal_model::filter::{self, Filter, Filterable};
use shoal_model::quotas;
use shoal_model::tags::Tag;
use shoal_model::{AwsError, AwsResult};

use self::security_groups::default_security_group;
use super::{Service, State, Table};
use crate::ids;

/// How long a terminated instance stays visible, as in AWS (about an hour).
pub const TERMINATED_RETENTION_SECS: i64 = 3600;

mod dns;
mod images;
mod instances;
mod interfaces;
mod key_pairs;
mod launch_templates;
mod metadata;
mod routes;
mod security_groups;
mod snapshots;
mod tags;
mod vpcs;
pub use dns::VpcDns;
pub(crate) use images::resolve_image;
pub use instances::{Reservation, RunInstances, StateChange};
pub use interfaces::{InstanceAttributeChange, NetworkInterface};
pub(crate) use launch_templates::resolve_version_in;
pub use launch_templates::DeletedVersions;
pub use metadata::InstanceMetadata;
pub use routes::{InternetGateway, RouteTable};

fn not_found_ids(code: ErrorCode, noun: &str, missing: &[String]) -> AwsError {
    let list = missing.join(", ");
    if missing.len() == 1 {
        AwsError::new(code, format!("The {noun} ID '{list}' does not exist"))
    } else {
        AwsError::new(code, format!("The {noun} IDs '{list}' do not exist"))
    }
}

fn check_ids_well_formed(prefix: &str, code: ErrorCode, ids: &[String]) -> AwsResult<()> {
    match ids.iter().find(|id| !is_well_formed_id(prefix, id)) {
        Some(bad) => Err(AwsError::new(code, format!("Invalid id: \"{bad}\""))),
        None => Ok(()),
    }
}

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

/// Selects resources by ids (all must exist) and filters, in id order.
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
        if filter::matches(item, filters)? {
            out.push(item);
        }
    }
    Ok(out)
}

impl Service {
    /// Makes sure the region has what every AWS account has: a default VPC with a
    /// default subnet in every zone and a `default` security group, plus the base image;
    /// and load balancers their network interfaces. Idempotent; runs at every start and
    /// after a reset.
    pub fn bootstrap(&self) -> AwsResult<()> {
        let base_id = self.mutate(|state, changes| {
            let zones = self.config.zones.len();
            let mut vpc = match state.vpcs.values().find(|v| v.is_default) {
                Some(vpc) if vpc.default_subnet_zones.is_some_and(|n| n >= zones) => None,
                Some(vpc) => Some(vpc.clone()),
                None => {
                    let vpc = Vpc {
                        id: ids::ec2("vpc"),
                        cidr: Cidr::parse(network::DEFAULT_VPC_CIDR, "cidrBlock")?,
                        is_default: true,
                        tags: vec![],
                        attributes: None,
                        default_subnet_zones: None,
                    };
                    changes.put(default_security_group(&vpc.id));
                    Some(vpc)
                }
            };
            // A default subnet in every zone, /20s laid out in zone order as AWS does; a
            // default VPC made when Shoal served fewer zones gets the missing ones once.
            if let Some(vpc) = vpc.as_mut() {
                let existing: Vec<&Subnet> =
                    state.subnets.values().filter(|s| s.vpc_id == vpc.id).collect();
                for (zone, cidr) in
                    self.config.zones.iter().zip(network::default_subnet_cidrs(zones))
                {
                    let has_default =
                        existing.iter().any(|s| s.default_for_az && &s.availability_zone == zone);
                    if has_default || existing.iter().any(|s| s.cidr.overlaps(cidr)) {
                        continue;
                    }
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
                vpc.default_subnet_zones = Some(zones);
                changes.put(vpc.clone());
            }
            if let Some(base) = base_image(state) {
                return Ok(base.id.clone());
            }
            let base = Image::amazon(
                ids::ec2("ami"),
                BASE_IMAGE_NAME,
                "Shoal base image: an empty Linux-like root (stands in for Amazon Linux 2023)"
                    .into(),
                "137112412989",
                self.clock.now(),
                "x86_64",
            );
            let id = base.id.clone();
            changes.put(base);
            Ok(id)
        })?;
        self.driver
            .ensure_base_image(&base_id)
            .map_err(|e| AwsError::internal(format!("cannot create the base image: {e}")))?;
        self.elb().place_missing_interfaces()?;
        self.seed_public_images()
    }

    // ------------------------------------------------------------------ SSM

    /// SSM public parameters Shoal serves: the Amazon Linux "latest" aliases.
    pub fn ssm_parameter(&self, name: &str) -> Option<String> {
        self.read(|s| super::catalog::image_for_parameter(s, name).map(|i| i.id.clone()))
    }
}

/// Decodes RunInstances' base64 user data (`InvalidUserData.Malformed` otherwise).
pub fn decode_user_data(data: &str) -> AwsResult<Vec<u8>> {
    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    let decoded = base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| {
        AwsError::new(ErrorCode::InvalidUserDataMalformed, "Invalid BASE64 encoding of user data.")
    })?;
    quotas::check_user_data_size(decoded.len())?;
    Ok(decoded)
}

pub fn base_image(state: &State) -> Option<&Image> {
    state
        .images
        .values()
        .find(|i| i.owner_alias.as_deref() == Some("amazon") && i.name == BASE_IMAGE_NAME)
}

fn require<'a, T: Table>(
    state: &'a State,
    id: &str,
    err: impl FnOnce() -> AwsError,
) -> AwsResult<&'a T> {
    T::map(state).get(id).ok_or_else(err)
}

/// The tags of the TagSpecifications for one resource type.
pub fn tags_for(specs: &[TagSpecification], resource_type: &str) -> AwsResult<Vec<Tag>> {
    let tags: Vec<Tag> = specs
        .iter()
        .filter(|s| s.resource_type == resource_type)
        .flat_map(|s| s.tags.clone())
        .collect();
    shoal_model::tags::validate_user_tags(&tags)?;
    quotas::check_ec2_tag_count(tags.len())?;
    Ok(tags)
}
