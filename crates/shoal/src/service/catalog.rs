//! AWS's catalogs: instance types and their offerings, Amazon's public images and the
//! SSM public parameters that name them.

use shoal_model::ec2::image::{Image, BASE_IMAGE_PARAMETER};
use shoal_model::ec2::instance_type::{self, InstanceType, CATALOG};
use shoal_model::ec2::public_image::{self, PARAMETER_PATH};
use shoal_model::filter::{self, Filter};
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::ec2::base_image;
use super::page::{Page, Paging};
use super::{Service, State};
use crate::ids;

/// Amazon's account, the owner of its public images.
pub const AMAZON_OWNER_ID: &str = "137112412989";

/// One DescribeInstanceTypeOfferings answer row: (type, location type, location).
pub type Offering = (&'static str, &'static str, String);

impl Service {
    /// DescribeInstanceTypes: the named types (each must exist), filtered, in name
    /// order, a page at a time (AWS's default page is 100).
    pub fn describe_instance_types(
        &self,
        names: &[String],
        filters: &[Filter],
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> AwsResult<Page<&'static InstanceType>> {
        let unknown: Vec<&str> = names
            .iter()
            .filter(|n| instance_type::lookup(n).is_none())
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(AwsError::new(
                ErrorCode::InvalidInstanceType,
                format!(
                    "The following supplied instance types do not exist: [{}]",
                    unknown.join(", ")
                ),
            ));
        }
        let mut selected = Vec::new();
        for t in CATALOG.iter().filter(|t| names.is_empty() || names.iter().any(|n| n == t.name)) {
            if filter::matches(t, filters)? {
                selected.push(t);
            }
        }
        Paging { default: Some(100), ..Paging::ec2(5, 100) }.page(selected, max_results, next_token)
    }

    /// DescribeInstanceTypeOfferings: every type is offered in the region and in each
    /// of its zones (AWS leaves some types out of some zones; Shoal runs them all).
    pub fn describe_instance_type_offerings(
        &self,
        location_type: Option<&str>,
        filters: &[Filter],
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> AwsResult<Page<Offering>> {
        let zones = self.availability_zones();
        let (kind, locations): (&'static str, Vec<String>) = match location_type {
            None | Some("region") => ("region", vec![self.region().to_string()]),
            Some("availability-zone") => {
                ("availability-zone", zones.iter().map(|(z, _)| z.clone()).collect())
            }
            Some("availability-zone-id") => {
                ("availability-zone-id", zones.iter().map(|(_, id)| id.clone()).collect())
            }
            Some(other) => {
                return Err(AwsError::invalid_parameter_value(format!(
                    "Value ({other}) for parameter locationType is invalid. Valid values are region, availability-zone, availability-zone-id, outpost."
                )))
            }
        };
        for f in filters {
            if !matches!(f.name.as_str(), "location" | "instance-type") {
                return Err(filter::invalid_filter(&f.name));
            }
        }
        let passes = |name: &str, value: &str| {
            filters
                .iter()
                .filter(|f| f.name == name)
                .all(|f| f.values.iter().any(|p| filter::wildcard_match(p, value)))
        };
        let mut rows = Vec::new();
        for t in CATALOG.iter().filter(|t| passes("instance-type", t.name)) {
            for loc in locations.iter().filter(|l| passes("location", l)) {
                rows.push((t.name, kind, loc.clone()));
            }
        }
        Paging { default: Some(1000), ..Paging::ec2(5, 1000) }.page(rows, max_results, next_token)
    }

    /// Records Amazon's public images that are missing (at bootstrap, after the base
    /// image) and gives each the base image's root.
    pub(crate) fn seed_public_images(&self) -> AwsResult<()> {
        let ids = self.mutate(|state, changes| {
            let mut ids = Vec::new();
            for p in public_image::catalog() {
                if let Some(existing) = amazon_image(state, &p.name) {
                    ids.push(existing.id.clone());
                    continue;
                }
                let img = Image::amazon(
                    ids::ec2("ami"),
                    &p.name,
                    p.description,
                    AMAZON_OWNER_ID,
                    self.clock.now(),
                    p.architecture,
                );
                ids.push(img.id.clone());
                changes.put(img);
            }
            Ok(ids)
        })?;
        for id in ids {
            self.driver
                .ensure_base_image(&id)
                .map_err(|e| AwsError::internal(format!("cannot create image {id}: {e}")))?;
        }
        Ok(())
    }

    /// Every SSM public parameter Shoal serves, by full name, with the image id it
    /// holds, in name order.
    pub fn ssm_public_parameters(&self) -> Vec<(String, String)> {
        self.read(|state| {
            let mut out: Vec<(String, String)> = public_image::catalog()
                .into_iter()
                .flat_map(|p| {
                    let id = amazon_image(state, &p.name).map(|i| i.id.clone());
                    p.parameters.into_iter().filter_map(move |short| {
                        Some((public_image::parameter_name(&short), id.clone()?))
                    })
                })
                .collect();
            if let Some(base) = base_image(state) {
                out.push((BASE_IMAGE_PARAMETER.to_string(), base.id.clone()));
            }
            out.sort();
            out
        })
    }
}

fn amazon_image<'a>(state: &'a State, name: &str) -> Option<&'a Image> {
    state.images.values().find(|i| i.owner_alias.as_deref() == Some("amazon") && i.name == name)
}

/// The image an SSM public parameter resolves to (`resolve:ssm:` image ids).
pub fn image_for_parameter<'a>(state: &'a State, parameter: &str) -> Option<&'a Image> {
    if parameter == BASE_IMAGE_PARAMETER {
        return base_image(state);
    }
    let short = parameter.strip_prefix(PARAMETER_PATH)?.strip_prefix('/')?;
    let image =
        public_image::catalog().into_iter().find(|p| p.parameters.iter().any(|q| q == short))?;
    amazon_image(state, &image.name)
}
