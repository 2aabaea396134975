//! Launch templates and their numbered versions.

use crate::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::filter::Filterable;
use crate::tags::Tag;
use crate::{AwsError, AwsResult};

/// A reference to a launch template, as RunInstances, CreateAutoScalingGroup and the
/// launch template actions take one: an id or a name (a group needs exactly one) and a
/// version (`$Default` when absent, `$Latest`, or a number). Stored in groups under
/// the names it always had.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplateSpec {
    #[serde(rename = "launch_template_id")]
    pub id: Option<String>,
    #[serde(rename = "launch_template_name")]
    pub name: Option<String>,
    pub version: Option<String>,
}

impl LaunchTemplateSpec {
    /// The requested version, `$Default` when none was given (AWS's default).
    pub fn version_or_default(&self) -> &str {
        self.version.as_deref().unwrap_or("$Default")
    }
}

/// A launch template: an immutable name and a list of versions 1, 2, 3…, one of them
/// the default (`DefaultVersionNumber`), the highest the latest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchTemplate {
    pub id: String,
    pub name: String,
    pub create_time: DateTime<Utc>,
    pub created_by: String,
    pub default_version: u64,
    pub latest_version: u64,
    pub tags: Vec<Tag>,
}

/// One version's launch parameters (`LaunchTemplateData`). Every field is optional:
/// RunInstances' own parameters fill or override them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchTemplateData {
    pub image_id: Option<String>,
    pub instance_type: Option<String>,
    pub key_name: Option<String>,
    pub security_group_ids: Vec<String>,
    /// Group names (EC2-Classic style `SecurityGroup.N`), resolved in the default VPC.
    pub security_groups: Vec<String>,
    pub user_data: Option<String>,
    pub tag_specifications: Vec<TagSpecification>,
    pub subnet_id: Option<String>,
    pub availability_zone: Option<String>,
    pub monitoring_enabled: Option<bool>,
    /// `NetworkInterfaces.1` beyond what `subnet_id` holds, as given (records from
    /// before it have only `subnet_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface: Option<NetworkInterfaceSpec>,
    /// Protections, shutdown behaviour, IMDS, block devices, instance profile and CPU
    /// credits, as given.
    #[serde(default)]
    pub options: LaunchOptions,
}

/// A launch's first network interface (`NetworkInterface.1.*` of RunInstances and of
/// `LaunchTemplateData`), kept as given so DescribeLaunchTemplateVersions echoes it.
/// Its `Groups` replace instance-level security groups; EC2 refuses both at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInterfaceSpec {
    pub device_index: Option<i64>,
    pub subnet_id: Option<String>,
    pub groups: Vec<String>,
    pub associate_public_ip_address: Option<bool>,
    pub private_ip_address: Option<String>,
    pub delete_on_termination: Option<bool>,
    pub description: Option<String>,
}

/// What a launch (RunInstances' parameters or a template version's data) says about
/// the instance beyond image, type and network. A template keeps each as given;
/// RunInstances' own parameters override the template's one by one.
/// `disable_api_*` and `shutdown_behavior` act on the instance; `cpu_credits`,
/// `metadata_options` and the instance profile become its described settings (Shoal
/// meters no credits, serves no IMDS and has no IAM); block devices stay in the
/// template (an instance's disk is a directory).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchOptions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_device_mappings: Vec<TemplateBlockDevice>,
    /// `CreditSpecification.CpuCredits`: `standard` or `unlimited`.
    pub cpu_credits: Option<String>,
    pub disable_api_termination: Option<bool>,
    pub disable_api_stop: Option<bool>,
    pub iam_instance_profile: Option<IamInstanceProfile>,
    /// `InstanceInitiatedShutdownBehavior`: `stop` or `terminate`.
    pub shutdown_behavior: Option<String>,
    pub metadata_options: Option<MetadataOptionsRequest>,
}

impl LaunchOptions {
    /// Each option `over` gives replaces `base`'s.
    pub fn overlay(base: &LaunchOptions, over: &LaunchOptions) -> LaunchOptions {
        LaunchOptions {
            block_device_mappings: pick_vec(
                &over.block_device_mappings,
                &base.block_device_mappings,
            ),
            cpu_credits: pick(&over.cpu_credits, &base.cpu_credits),
            disable_api_termination: pick(
                &over.disable_api_termination,
                &base.disable_api_termination,
            ),
            disable_api_stop: pick(&over.disable_api_stop, &base.disable_api_stop),
            iam_instance_profile: pick(&over.iam_instance_profile, &base.iam_instance_profile),
            shutdown_behavior: pick(&over.shutdown_behavior, &base.shutdown_behavior),
            metadata_options: pick(&over.metadata_options, &base.metadata_options),
        }
    }
}

/// One `BlockDeviceMappings` entry of a launch template, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateBlockDevice {
    pub device_name: Option<String>,
    pub virtual_name: Option<String>,
    pub no_device: Option<String>,
    pub ebs: Option<TemplateEbs>,
}

/// A block device's EBS volume (`LaunchTemplateEbsBlockDevice`), as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateEbs {
    pub encrypted: Option<bool>,
    pub delete_on_termination: Option<bool>,
    pub iops: Option<i64>,
    pub kms_key_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub volume_size: Option<i64>,
    pub volume_type: Option<String>,
    pub throughput: Option<i64>,
}

/// `IamInstanceProfile` by ARN or name, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamInstanceProfile {
    pub arn: Option<String>,
    pub name: Option<String>,
}

/// `MetadataOptions` as a launch or ModifyInstanceMetadataOptions gives them (IMDS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataOptionsRequest {
    pub http_tokens: Option<String>,
    pub http_put_response_hop_limit: Option<i64>,
    pub http_endpoint: Option<String>,
    pub http_protocol_ipv6: Option<String>,
    pub instance_metadata_tags: Option<String>,
}

impl MetadataOptionsRequest {
    /// EC2's enums and hop-limit range (1–64), refused with InvalidParameterValue.
    pub fn check(&self) -> AwsResult<()> {
        let one_of = |name: &str, v: &Option<String>, allowed: [&str; 2]| match v {
            Some(v) if !allowed.contains(&v.as_str()) => {
                Err(AwsError::invalid_parameter_value(format!(
                    "Value ({v}) for parameter {name} is invalid. Valid values are '{}' and '{}'.",
                    allowed[0], allowed[1]
                )))
            }
            _ => Ok(()),
        };
        one_of("HttpTokens", &self.http_tokens, ["optional", "required"])?;
        one_of("HttpEndpoint", &self.http_endpoint, ["enabled", "disabled"])?;
        one_of("HttpProtocolIpv6", &self.http_protocol_ipv6, ["enabled", "disabled"])?;
        one_of("InstanceMetadataTags", &self.instance_metadata_tags, ["enabled", "disabled"])?;
        if let Some(h) = self.http_put_response_hop_limit.filter(|h| !(1..=64).contains(h)) {
            return Err(AwsError::invalid_parameter_value(format!(
                "Value ({h}) for parameter HttpPutResponseHopLimit is invalid. Valid values are between 1 and 64."
            )));
        }
        Ok(())
    }
}

/// Tags to apply to resources of one type at launch (`instance`, `volume`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSpecification {
    pub resource_type: String,
    pub tags: Vec<Tag>,
}

/// A stored version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchTemplateVersion {
    /// `<template id>:<number>`: one key per version for storage and lookups.
    pub key: String,
    pub template_id: String,
    pub template_name: String,
    pub number: u64,
    pub description: Option<String>,
    pub create_time: DateTime<Utc>,
    pub created_by: String,
    pub data: LaunchTemplateData,
}

/// The storage key of a template's version.
pub fn version_key(template_id: &str, number: u64) -> String {
    format!("{template_id}:{number}")
}

/// A version selector as AWS accepts it: a number, `$Latest` or `$Default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    Number(u64),
    Latest,
    Default,
}

impl VersionSelector {
    /// Parses a version string; anything else is `InvalidLaunchTemplateId.VersionNotFound`
    /// for a malformed number, as EC2 answers.
    pub fn parse(text: &str, template_id: &str) -> AwsResult<Self> {
        match text {
            "$Latest" => Ok(VersionSelector::Latest),
            "$Default" => Ok(VersionSelector::Default),
            n => n.parse::<u64>().ok().filter(|n| *n > 0).map(VersionSelector::Number).ok_or_else(
                || {
                    AwsError::new(
                        ErrorCode::InvalidLaunchTemplateIdVersionNotFound,
                        format!(
                            "Could not find launch template version {n} for template {template_id}"
                        ),
                    )
                },
            ),
        }
    }

    /// The concrete version number this selector names for `template`.
    pub fn resolve(self, template: &LaunchTemplate) -> AwsResult<u64> {
        let n = match self {
            VersionSelector::Latest => template.latest_version,
            VersionSelector::Default => template.default_version,
            VersionSelector::Number(n) => n,
        };
        if n == 0 || n > template.latest_version {
            return Err(version_not_found(template, n));
        }
        Ok(n)
    }
}

/// `InvalidLaunchTemplateId.VersionNotFound` for a version that does not exist (or was
/// deleted).
pub fn version_not_found(template: &LaunchTemplate, n: u64) -> AwsError {
    AwsError::new(
        ErrorCode::InvalidLaunchTemplateIdVersionNotFound,
        format!("Could not find launch template version {n} for template {}", template.id),
    )
}

/// Names: 3–128 characters of `[a-zA-Z0-9().\-/_]`
/// (`InvalidLaunchTemplateName.MalformedException`).
pub fn validate_name(name: &str) -> AwsResult<()> {
    let ok = (3..=128).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "().-/_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AwsError::new(
            ErrorCode::InvalidLaunchTemplateNameMalformedException,
            "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.'",
        ))
    }
}

/// `InvalidLaunchTemplateName.AlreadyExistsException` for a name in use.
pub fn check_name_free<'a>(
    name: &str,
    existing: impl IntoIterator<Item = &'a LaunchTemplate>,
) -> AwsResult<()> {
    if existing.into_iter().any(|t| t.name == name) {
        return Err(AwsError::new(
            ErrorCode::InvalidLaunchTemplateNameAlreadyExistsException,
            "Launch template name already in use.",
        ));
    }
    Ok(())
}

/// The errors for a template that is not there, by name or by id.
pub fn not_found_by_name(name: &str) -> AwsError {
    AwsError::new(
        ErrorCode::InvalidLaunchTemplateNameNotFoundException,
        format!("The specified launch template, with template name {name}, does not exist."),
    )
}

pub fn not_found_by_id(id: &str) -> AwsError {
    AwsError::new(
        ErrorCode::InvalidLaunchTemplateIdNotFound,
        format!("The specified launch template, with template ID {id}, does not exist."),
    )
}

/// CreateLaunchTemplateVersion with `SourceVersion`: the source's data, with each
/// field the request gives replacing the source's (AWS's "source template").
pub fn overlay(source: &LaunchTemplateData, overrides: &LaunchTemplateData) -> LaunchTemplateData {
    LaunchTemplateData {
        image_id: pick(&overrides.image_id, &source.image_id),
        instance_type: pick(&overrides.instance_type, &source.instance_type),
        key_name: pick(&overrides.key_name, &source.key_name),
        security_group_ids: pick_vec(&overrides.security_group_ids, &source.security_group_ids),
        security_groups: pick_vec(&overrides.security_groups, &source.security_groups),
        user_data: pick(&overrides.user_data, &source.user_data),
        tag_specifications: pick_vec(&overrides.tag_specifications, &source.tag_specifications),
        subnet_id: pick(&overrides.subnet_id, &source.subnet_id),
        availability_zone: pick(&overrides.availability_zone, &source.availability_zone),
        monitoring_enabled: pick(&overrides.monitoring_enabled, &source.monitoring_enabled),
        network_interface: pick(&overrides.network_interface, &source.network_interface),
        options: LaunchOptions::overlay(&source.options, &overrides.options),
    }
}

/// `over` when given, else `base`: how an override replaces a field.
fn pick<T: Clone>(over: &Option<T>, base: &Option<T>) -> Option<T> {
    over.clone().or_else(|| base.clone())
}

/// A list override replaces the whole list; an empty one leaves `base`.
fn pick_vec<T: Clone>(over: &[T], base: &[T]) -> Vec<T> {
    if over.is_empty() {
        base.to_vec()
    } else {
        over.to_vec()
    }
}

impl Filterable for LaunchTemplate {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "launch-template-name" => Some(vec![self.name.clone()]),
            "launch-template-id" => Some(vec![self.id.clone()]),
            "create-time" => Some(vec![crate::ec2::format_time(self.create_time)]),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(default_version: u64, latest_version: u64) -> LaunchTemplate {
        LaunchTemplate {
            id: "lt-1".into(),
            name: "exercise-launch-template".into(),
            create_time: DateTime::UNIX_EPOCH,
            created_by: "arn:aws:iam::123456789012:root".into(),
            default_version,
            latest_version,
            tags: vec![],
        }
    }

    #[test]
    fn selectors() {
        let t = template(1, 3);
        let resolve = |s: &str| {
            VersionSelector::parse(s, "lt-1").and_then(|v| v.resolve(&t)).map_err(|e| e.code)
        };
        assert_eq!(resolve("$Latest"), Ok(3));
        assert_eq!(resolve("$Default"), Ok(1));
        assert_eq!(resolve("2"), Ok(2));
        assert_eq!(resolve("4").unwrap_err(), "InvalidLaunchTemplateId.VersionNotFound");
        assert_eq!(resolve("0").unwrap_err(), "InvalidLaunchTemplateId.VersionNotFound");
        assert_eq!(resolve("x").unwrap_err(), "InvalidLaunchTemplateId.VersionNotFound");
    }

    #[test]
    fn overlay_changes_only_given_fields() {
        let source = LaunchTemplateData {
            image_id: Some("ami-a".into()),
            instance_type: Some("t2.micro".into()),
            key_name: Some("exercise-key".into()),
            security_group_ids: vec!["sg-web".into(), "sg-ssh".into()],
            ..Default::default()
        };
        let beta = overlay(
            &source,
            &LaunchTemplateData { image_id: Some("ami-b".into()), ..Default::default() },
        );
        assert_eq!(beta.image_id.as_deref(), Some("ami-b"));
        assert_eq!(beta.instance_type.as_deref(), Some("t2.micro"));
        assert_eq!(beta.security_group_ids, source.security_group_ids);
    }

    #[test]
    fn launch_options_override_one_by_one() {
        let template = LaunchOptions {
            disable_api_termination: Some(true),
            shutdown_behavior: Some("terminate".into()),
            metadata_options: Some(MetadataOptionsRequest {
                http_tokens: Some("optional".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let request = LaunchOptions { disable_api_termination: Some(false), ..Default::default() };
        let merged = LaunchOptions::overlay(&template, &request);
        assert_eq!(merged.disable_api_termination, Some(false));
        assert_eq!(merged.shutdown_behavior.as_deref(), Some("terminate"));
        assert_eq!(merged.metadata_options, template.metadata_options);
    }

    #[test]
    fn metadata_options_are_checked() {
        let bad = |m: MetadataOptionsRequest| m.check().unwrap_err().code;
        let hops = |h| MetadataOptionsRequest {
            http_put_response_hop_limit: Some(h),
            ..Default::default()
        };
        assert_eq!(bad(hops(0)), "InvalidParameterValue");
        assert_eq!(bad(hops(65)), "InvalidParameterValue");
        assert!(hops(64).check().is_ok());
        let tokens =
            MetadataOptionsRequest { http_tokens: Some("maybe".into()), ..Default::default() };
        assert_eq!(bad(tokens), "InvalidParameterValue");
    }

    #[test]
    fn names() {
        assert!(validate_name("exercise-launch-template-beta").is_ok());
        assert!(validate_name("no").is_err());
        assert!(validate_name("has space").is_err());
    }
}
