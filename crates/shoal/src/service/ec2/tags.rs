//! Tags on any taggable EC2 resource: CreateTags/DeleteTags (all or nothing) and
//! DescribeTags. TagSpecifications at creation are `tags_for` in `ec2.rs`.

use shoal_model::filter::{self, Filter};
use shoal_model::quotas;
use shoal_model::tags::{self, Tag};
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use crate::service::Service;

impl Service {
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
        "i" => ErrorCode::InvalidInstanceIDNotFound,
        "ami" => ErrorCode::InvalidAMIIDNotFound,
        "vpc" => ErrorCode::InvalidVpcIDNotFound,
        "subnet" => ErrorCode::InvalidSubnetIDNotFound,
        "sg" => ErrorCode::InvalidGroupNotFound,
        "lt" => ErrorCode::InvalidLaunchTemplateIdNotFound,
        _ => ErrorCode::InvalidID,
    };
    AwsError::new(kind, format!("The ID '{id}' is not valid"))
}
