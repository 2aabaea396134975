//! Launch configurations: the immutable, single-version launch recipe Auto Scaling had
//! before launch templates (`CreateLaunchConfiguration`, `DescribeLaunchConfigurations`,
//! `DeleteLaunchConfiguration`), with AWS's defaults and texts.
//!
//! The model checks what it can alone (names, the ImageId/InstanceType/InstanceId rule,
//! metadata options, block devices, duplicates); EC2 owns images, instance types, key pairs
//! and security groups, so the service resolves those and reports them with
//! [`invalid_image`] and friends.

use crate::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::group::validate_name;
use crate::{AwsError, AwsResult};

/// `arn:aws:autoscaling:<region>:123456789012:launchConfiguration:<uuid>:launchConfigurationName/<name>`.
pub fn launch_configuration_arn(region: &str, uuid: &str, name: &str) -> String {
    format!(
        "arn:aws:autoscaling:{region}:{}:launchConfiguration:{uuid}:launchConfigurationName/{name}",
        crate::ACCOUNT_ID
    )
}

/// `Ebs` of a block device mapping, as given (Shoal's instances have one root disk; the
/// mapping is stored and described, not enacted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ebs {
    pub snapshot_id: Option<String>,
    pub volume_size: Option<i64>,
    pub volume_type: Option<String>,
    pub delete_on_termination: Option<bool>,
    pub iops: Option<i64>,
    pub encrypted: Option<bool>,
    pub throughput: Option<i64>,
}

/// One `BlockDeviceMappings` entry: a device name and an EBS volume, an instance store
/// (`VirtualName`) or `NoDevice`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDeviceMapping {
    pub device_name: String,
    pub virtual_name: Option<String>,
    pub ebs: Option<Ebs>,
    pub no_device: Option<bool>,
}

/// `MetadataOptions` (IMDS settings), stored as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataOptions {
    pub http_tokens: Option<String>,
    pub http_put_response_hop_limit: Option<i64>,
    pub http_endpoint: Option<String>,
}

/// A launch configuration as stored (and as DescribeLaunchConfigurations shows it).
/// Immutable: AWS has no update; a group moves to a new one instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchConfiguration {
    pub name: String,
    pub arn: String,
    pub image_id: String,
    pub instance_type: String,
    pub key_name: Option<String>,
    /// Security group ids (or, EC2-Classic style, names), as given.
    pub security_groups: Vec<String>,
    /// Base64, as the API received it (the CLI and boto3 encode it).
    pub user_data: Option<String>,
    /// `InstanceMonitoring.Enabled`: detailed (1-minute) monitoring, true unless the
    /// request says otherwise (AWS's API default; the console's is basic).
    pub instance_monitoring: bool,
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    pub iam_instance_profile: Option<String>,
    pub associate_public_ip_address: Option<bool>,
    pub ebs_optimized: bool,
    pub metadata_options: Option<MetadataOptions>,
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
    pub spot_price: Option<String>,
    pub placement_tenancy: Option<String>,
    pub created_time: DateTime<Utc>,
}

/// CreateLaunchConfiguration's parameters after wire decoding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateLaunchConfigurationRequest {
    pub name: String,
    pub image_id: Option<String>,
    pub instance_type: Option<String>,
    pub instance_id: Option<String>,
    pub key_name: Option<String>,
    pub security_groups: Vec<String>,
    pub user_data: Option<String>,
    pub instance_monitoring: Option<bool>,
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    pub iam_instance_profile: Option<String>,
    pub associate_public_ip_address: Option<bool>,
    pub ebs_optimized: Option<bool>,
    pub metadata_options: Option<MetadataOptions>,
    pub kernel_id: Option<String>,
    pub ramdisk_id: Option<String>,
    pub spot_price: Option<String>,
    pub placement_tenancy: Option<String>,
}

/// What a launch configuration created with `InstanceId` takes from that instance (AWS
/// derives every attribute but the block device mapping; the request's own parameters
/// win). The caller reads it from EC2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceAttributes {
    pub image_id: String,
    pub instance_type: String,
    pub key_name: Option<String>,
    pub security_group_ids: Vec<String>,
    pub user_data: Option<String>,
}

/// The `AlreadyExists` error of a duplicate name (AWS's text).
pub fn already_exists(name: &str) -> AwsError {
    AwsError::new(
        ErrorCode::AlreadyExists,
        format!("Launch Configuration by this name already exists - A launch configuration already exists with the name {name}"),
    )
}

/// The `ValidationError` of an unknown launch configuration name (DeleteLaunchConfiguration,
/// and a group naming one).
pub fn not_found(name: &str) -> AwsError {
    AwsError::validation(format!(
        "Launch configuration name not found - Launch configuration {name} not found"
    ))
}

/// DeleteLaunchConfiguration of a configuration a group still names: `ResourceInUse`.
pub fn in_use(name: &str, group: &str) -> AwsError {
    AwsError::new(
        ErrorCode::ResourceInUse,
        format!("Cannot delete launch configuration {name} because it is attached to AutoScalingGroup {group}"),
    )
}

/// An image EC2 does not know (or cannot launch), as Auto Scaling words it:
/// `AMI ami-… is invalid: <EC2's message>`.
pub fn invalid_image(image_id: &str, ec2_message: &str) -> AwsError {
    AwsError::validation(format!("AMI {image_id} is invalid: {ec2_message}"))
}

/// An instance type Auto Scaling cannot launch (observed text).
pub fn invalid_instance_type(instance_type: &str) -> AwsError {
    AwsError::validation(format!("The specified instance type {instance_type} is not valid"))
}

/// The missing-source rule's text: neither `InstanceId` nor both `ImageId` and
/// `InstanceType`.
pub const MISSING_IMAGE_OR_TYPE: &str =
    "Valid requests must contain either the InstanceID parameter or both the ImageId and InstanceType parameters.";

fn check_metadata(m: &MetadataOptions) -> AwsResult<()> {
    if let Some(t) = &m.http_tokens {
        if !matches!(t.as_str(), "optional" | "required") {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{t}' at 'metadataOptions.httpTokens' failed to satisfy constraint: Member must satisfy enum value set: [optional, required]"
            )));
        }
    }
    if let Some(e) = &m.http_endpoint {
        if !matches!(e.as_str(), "disabled" | "enabled") {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{e}' at 'metadataOptions.httpEndpoint' failed to satisfy constraint: Member must satisfy enum value set: [disabled, enabled]"
            )));
        }
    }
    if let Some(h) = m.http_put_response_hop_limit {
        if !(1..=64).contains(&h) {
            let (op, bound) = if h < 1 { ("greater", 1) } else { ("less", 64) };
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{h}' at 'metadataOptions.httpPutResponseHopLimit' failed to satisfy constraint: Member must have value {op} than or equal to {bound}"
            )));
        }
    }
    Ok(())
}

fn check_block_devices(mappings: &[BlockDeviceMapping]) -> AwsResult<()> {
    for (n, m) in mappings.iter().enumerate() {
        if m.device_name.is_empty() {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value null at 'blockDeviceMappings.{}.member.deviceName' failed to satisfy constraint: Member must not be null",
                n + 1
            )));
        }
        if let Some(size) = m.ebs.as_ref().and_then(|e| e.volume_size) {
            if !(1..=16384).contains(&size) {
                let (op, bound) = if size < 1 { ("greater", 1) } else { ("less", 16384) };
                return Err(AwsError::validation(format!(
                    "1 validation error detected: Value '{size}' at 'blockDeviceMappings.{}.member.ebs.volumeSize' failed to satisfy constraint: Member must have value {op} than or equal to {bound}",
                    n + 1
                )));
            }
        }
    }
    Ok(())
}

/// CreateLaunchConfiguration's rules: a valid name; either `InstanceId` or both `ImageId`
/// and `InstanceType` (AWS's text); a known instance type; metadata options and block
/// devices within AWS's constraints; no configuration of that name yet (`exists` →
/// `AlreadyExists`). With `InstanceId`, `from_instance` carries what the instance was
/// launched with and fills every parameter the request leaves out (block devices
/// excepted, as in AWS). InstanceMonitoring defaults to enabled, EbsOptimized to false.
pub fn create_launch_configuration(
    req: &CreateLaunchConfigurationRequest,
    from_instance: Option<&InstanceAttributes>,
    exists: bool,
    region: &str,
    uuid: &str,
    now: DateTime<Utc>,
) -> AwsResult<LaunchConfiguration> {
    validate_name("launchConfigurationName", &req.name)?;
    let base = from_instance.cloned().unwrap_or_default();
    let image_id = req.image_id.clone().or(from_instance.map(|_| base.image_id.clone()));
    let instance_type =
        req.instance_type.clone().or(from_instance.map(|_| base.instance_type.clone()));
    let (Some(image_id), Some(instance_type)) = (image_id, instance_type) else {
        return Err(AwsError::validation(MISSING_IMAGE_OR_TYPE));
    };
    if crate::ec2::instance_type::lookup(&instance_type).is_none() {
        return Err(invalid_instance_type(&instance_type));
    }
    if let Some(m) = &req.metadata_options {
        check_metadata(m)?;
    }
    check_block_devices(&req.block_device_mappings)?;
    if req.user_data.as_ref().is_some_and(|u| u.chars().count() > 21847) {
        return Err(AwsError::validation(
            "1 validation error detected: Value at 'userData' failed to satisfy constraint: Member must have length less than or equal to 21847",
        ));
    }
    if exists {
        return Err(already_exists(&req.name));
    }
    let security_groups = if req.security_groups.is_empty() {
        base.security_group_ids.clone()
    } else {
        req.security_groups.clone()
    };
    Ok(LaunchConfiguration {
        name: req.name.clone(),
        arn: launch_configuration_arn(region, uuid, &req.name),
        image_id,
        instance_type,
        key_name: req.key_name.clone().or(base.key_name),
        security_groups,
        user_data: req.user_data.clone().or(base.user_data),
        instance_monitoring: req.instance_monitoring.unwrap_or(true),
        block_device_mappings: req.block_device_mappings.clone(),
        iam_instance_profile: req.iam_instance_profile.clone(),
        associate_public_ip_address: req.associate_public_ip_address,
        ebs_optimized: req.ebs_optimized.unwrap_or(false),
        metadata_options: req.metadata_options.clone(),
        kernel_id: req.kernel_id.clone(),
        ramdisk_id: req.ramdisk_id.clone(),
        spot_price: req.spot_price.clone(),
        placement_tenancy: req.placement_tenancy.clone(),
        created_time: now,
    })
}

/// DeleteLaunchConfiguration's precondition: refused (`ResourceInUse`, AWS's text) while
/// a group names it; `using` is the first such group.
pub fn check_delete(name: &str, using: Option<&str>) -> AwsResult<()> {
    match using {
        Some(group) => Err(in_use(name, group)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
    }

    fn request() -> CreateLaunchConfigurationRequest {
        CreateLaunchConfigurationRequest {
            name: "web-lc".into(),
            image_id: Some("ami-1".into()),
            instance_type: Some("t2.micro".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_and_arn() {
        let lc =
            create_launch_configuration(&request(), None, false, "us-east-1", "u-1", t0()).unwrap();
        assert_eq!(lc.arn, "arn:aws:autoscaling:us-east-1:123456789012:launchConfiguration:u-1:launchConfigurationName/web-lc");
        assert!(lc.instance_monitoring, "detailed monitoring unless told otherwise");
        assert!(!lc.ebs_optimized);
        assert_eq!(lc.created_time, t0());
    }

    #[test]
    fn validation_texts() {
        fn check(
            edit: impl Fn(&mut CreateLaunchConfigurationRequest),
            exists: bool,
            want: (&str, &str),
        ) {
            let mut r = request();
            edit(&mut r);
            let e =
                create_launch_configuration(&r, None, exists, "us-east-1", "u", t0()).unwrap_err();
            assert_eq!((e.code.as_str(), e.message.as_str()), want);
        }
        check(|_| {}, true, ("AlreadyExists", "Launch Configuration by this name already exists - A launch configuration already exists with the name web-lc"));
        check(|r| r.image_id = None, false, ("ValidationError", MISSING_IMAGE_OR_TYPE));
        check(|r| r.instance_type = None, false, ("ValidationError", MISSING_IMAGE_OR_TYPE));
        check(|r| r.name = String::new(), false, ("ValidationError", "1 validation error detected: Value '' at 'launchConfigurationName' failed to satisfy constraint: Member must have length greater than or equal to 1"));
        check(
            |r| r.instance_type = Some("t9.huge".into()),
            false,
            ("ValidationError", "The specified instance type t9.huge is not valid"),
        );
        check(
            |r| r.metadata_options = Some(MetadataOptions { http_put_response_hop_limit: Some(65), ..Default::default() }),
            false,
            ("ValidationError", "1 validation error detected: Value '65' at 'metadataOptions.httpPutResponseHopLimit' failed to satisfy constraint: Member must have value less than or equal to 64"),
        );
        check(
            |r| r.metadata_options = Some(MetadataOptions { http_tokens: Some("maybe".into()), ..Default::default() }),
            false,
            ("ValidationError", "1 validation error detected: Value 'maybe' at 'metadataOptions.httpTokens' failed to satisfy constraint: Member must satisfy enum value set: [optional, required]"),
        );
        check(
            |r| r.block_device_mappings = vec![BlockDeviceMapping { device_name: "/dev/xvda".into(), ebs: Some(Ebs { volume_size: Some(0), ..Default::default() }), ..Default::default() }],
            false,
            ("ValidationError", "1 validation error detected: Value '0' at 'blockDeviceMappings.1.member.ebs.volumeSize' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        );
    }

    #[test]
    fn from_an_instance_the_request_wins() {
        let inst = InstanceAttributes {
            image_id: "ami-from".into(),
            instance_type: "t3.micro".into(),
            key_name: Some("k".into()),
            security_group_ids: vec!["sg-1".into()],
            user_data: Some("ZWNobw==".into()),
        };
        let r = CreateLaunchConfigurationRequest {
            name: "copy".into(),
            instance_id: Some("i-1".into()),
            instance_type: Some("t2.micro".into()),
            ..Default::default()
        };
        let lc =
            create_launch_configuration(&r, Some(&inst), false, "us-east-1", "u", t0()).unwrap();
        assert_eq!((lc.image_id.as_str(), lc.instance_type.as_str()), ("ami-from", "t2.micro"));
        assert_eq!(lc.key_name.as_deref(), Some("k"));
        assert_eq!(lc.security_groups, vec!["sg-1"]);
        assert_eq!(lc.user_data.as_deref(), Some("ZWNobw=="));
    }

    #[test]
    fn delete_refused_while_in_use() {
        let e = check_delete("web-lc", Some("web")).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("ResourceInUse", "Cannot delete launch configuration web-lc because it is attached to AutoScalingGroup web")
        );
        assert!(check_delete("web-lc", None).is_ok());
        assert_eq!(
            not_found("x").message,
            "Launch configuration name not found - Launch configuration x not found"
        );
    }
}
