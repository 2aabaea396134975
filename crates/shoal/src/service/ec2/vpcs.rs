//! VPCs and subnets (CreateVpc/Subnet, Describe…, Delete…), the region's availability
//! zones, and the default VPC other resources fall back to.

use shoal_model::ec2::instance::InstanceState;
use shoal_model::ec2::launch_template::TagSpecification;
use shoal_model::ec2::network;
use shoal_model::ec2::{SecurityGroup, Subnet, Vpc};
use shoal_model::filter::Filter;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::security_groups::default_security_group;
use super::{not_found_ids, require, select, tags_for};
use crate::ids;
use crate::service::{Service, State};

impl Service {
    pub fn create_vpc(&self, cidr_block: &str, tag_specs: &[TagSpecification]) -> AwsResult<Vpc> {
        let cidr = network::validate_vpc_cidr(cidr_block)?;
        let tags = tags_for(tag_specs, "vpc")?;
        self.mutate(|_, changes| {
            let vpc = Vpc {
                id: ids::ec2("vpc"),
                cidr,
                is_default: false,
                tags,
                attributes: None,
                default_subnet_zones: None,
            };
            changes.put(default_security_group(&vpc.id));
            changes.put(vpc.clone());
            Ok(vpc)
        })
    }

    pub fn describe_vpcs(&self, ids: &[String], filters: &[Filter]) -> AwsResult<Vec<Vpc>> {
        self.read(|s| {
            select::<Vpc>(s, ids, filters, |m| {
                not_found_ids(ErrorCode::InvalidVpcIDNotFound, "vpc", m)
            })
            .map(|v| v.into_iter().cloned().collect())
        })
    }

    pub fn delete_vpc(&self, vpc_id: &str) -> AwsResult<()> {
        self.mutate(|state, changes| {
            require::<Vpc>(state, vpc_id, || {
                not_found_ids(ErrorCode::InvalidVpcIDNotFound, "vpc", &[vpc_id.into()])
            })?;
            if state.subnets.values().any(|s| s.vpc_id == vpc_id)
                || state.security_groups.values().any(|g| g.vpc_id == vpc_id && g.name != "default")
            {
                return Err(AwsError::new(
                    ErrorCode::DependencyViolation,
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
            let vpc = require::<Vpc>(state, vpc_id, || not_found_ids(ErrorCode::InvalidVpcIDNotFound, "vpc", &[vpc_id.into()]))?;
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
                not_found_ids(ErrorCode::InvalidSubnetIDNotFound, "subnet", m)
            })
            .map(|v| v.into_iter().cloned().collect())
        })
    }

    pub fn delete_subnet(&self, subnet_id: &str) -> AwsResult<()> {
        self.mutate(|state, changes| {
            require::<Subnet>(state, subnet_id, || {
                not_found_ids(ErrorCode::InvalidSubnetIDNotFound, "subnet", &[subnet_id.into()])
            })?;
            if state
                .instances
                .values()
                .any(|i| i.subnet_id == subnet_id && i.state != InstanceState::Terminated)
                || state.load_balancers.values().any(|l| l.subnets.iter().any(|s| s == subnet_id))
            {
                return Err(AwsError::new(
                    ErrorCode::DependencyViolation,
                    format!("The subnet '{subnet_id}' has dependencies and cannot be deleted."),
                ));
            }
            changes.delete::<Subnet>(subnet_id);
            Ok(())
        })
    }

    /// ModifySubnetAttribute, of the attributes Shoal acts on: `MapPublicIpOnLaunch`
    /// (whether instances launched there get a public address unless their interface
    /// says otherwise). Instances already running keep theirs, as on AWS.
    pub fn modify_subnet_attribute(
        &self,
        subnet_id: &str,
        map_public_ip_on_launch: Option<bool>,
    ) -> AwsResult<()> {
        let value = map_public_ip_on_launch
            .ok_or_else(|| AwsError::missing_parameter("MapPublicIpOnLaunch"))?;
        self.mutate(|state, changes| {
            let mut subnet = require::<Subnet>(state, subnet_id, || {
                not_found_ids(ErrorCode::InvalidSubnetIDNotFound, "subnet", &[subnet_id.into()])
            })?
            .clone();
            subnet.map_public_ip_on_launch = value;
            changes.put(subnet);
            Ok(())
        })
    }

    /// DescribeRegions: AWS's commercial regions (Shoal's account has opted in to every
    /// opt-in region, so `AllRegions` lists the same), by `RegionName` and filters.
    pub fn describe_regions(
        &self,
        names: &[String],
        filters: &[shoal_model::filter::Filter],
    ) -> AwsResult<Vec<shoal_model::region::Region>> {
        super::routes::pick(
            shoal_model::region::REGIONS.to_vec(),
            |r| r.name,
            names,
            filters,
            // AWS's text names the refused names in brackets.
            |bad| AwsError::invalid_parameter_value(format!("Invalid region: [{bad}]")),
        )
    }

    /// DescribeAvailabilityZones: the region's zones by `ZoneName`/`ZoneId` and filters
    /// (every zone is `available`, of type `availability-zone`).
    pub fn describe_availability_zones(
        &self,
        names: &[String],
        ids: &[String],
        filters: &[shoal_model::filter::Filter],
    ) -> Vec<(String, String)> {
        let region = self.region();
        let has = |values: &[String], v: &str| values.iter().any(|x| x == v);
        self.availability_zones()
            .into_iter()
            .filter(|(zone, id)| {
                (names.is_empty() && ids.is_empty()) || has(names, zone) || has(ids, id)
            })
            .filter(|(zone, id)| {
                filters.iter().all(|f| match f.name.as_str() {
                    "zone-name" => has(&f.values, zone),
                    "zone-id" => has(&f.values, id),
                    "region-name" | "group-name" | "network-border-group" => has(&f.values, region),
                    "state" => has(&f.values, "available"),
                    "zone-type" => has(&f.values, "availability-zone"),
                    "opt-in-status" => has(&f.values, "opt-in-not-required"),
                    _ => true,
                })
            })
            .collect()
    }

    /// The availability zones of the region, with AWS's zone ids (`use1-az1`…) from the
    /// model's region catalog.
    pub fn availability_zones(&self) -> Vec<(String, String)> {
        let region = shoal_model::region::find(&self.config.region);
        self.config
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| {
                let id = region.and_then(|r| r.zone(z)).map(|z| z.id);
                (z.clone(), id.unwrap_or_else(|| format!("{}-az{}", self.config.region, i + 1)))
            })
            .collect()
    }
}

pub(super) fn default_vpc(state: &State) -> AwsResult<&Vpc> {
    state
        .vpcs
        .values()
        .find(|v| v.is_default)
        .ok_or_else(|| AwsError::new(ErrorCode::VPCIdNotSpecified, "No default VPC for this user."))
}
