//! The EC2 API (protocol `ec2`, version 2016-11-15): parameters in, XML out, one
//! function per action in `ACTIONS`.

use base64::Engine;
use shoal_model::ec2::format_time;
use shoal_model::ec2::instance::{Instance, InstanceSwitches, Transition};
use shoal_model::ec2::launch_template::{
    IamInstanceProfile, LaunchOptions, LaunchTemplateData, MetadataOptionsRequest,
    NetworkInterfaceSpec, TemplateBlockDevice, TemplateEbs,
};
use shoal_model::ec2::security_group::Permission;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult, ACCOUNT_ID};

use super::query::Params;
use super::xml::Xml;
use crate::service::ec2::RunInstances;
use crate::service::Service;
use shoal_model::ec2::launch_template::LaunchTemplateSpec;

use super::ec2_xml::*;
pub use super::ec2_xml::{image_block_device_xml, metadata_options_xml, tags_xml};

pub const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// One action: decode `p`, call the service, encode into `x`. `action` tells apart the
/// pairs that share a function (Start/Stop/TerminateInstances, …).
type Handler = fn(&Service, &str, &Params, &mut Xml) -> AwsResult<()>;

/// Every EC2 action served here, by its wire name (CreateImage, the one that awaits,
/// is in `handle`); `ec2_network` has the rest.
const ACTIONS: &[(&str, Handler)] = &[
    ("DescribeAvailabilityZones", describe_availability_zones),
    ("DescribeRegions", describe_regions),
    ("DescribeAccountAttributes", describe_account_attributes),
    ("DescribeInstanceTypes", instance_catalog),
    ("DescribeInstanceTypeOfferings", instance_catalog),
    ("CreateVpc", create_vpc),
    ("DescribeVpcs", describe_vpcs),
    ("DeleteVpc", delete_vpc),
    ("CreateSubnet", create_subnet),
    ("DescribeSubnets", describe_subnets),
    ("DeleteSubnet", delete_subnet),
    ("CreateKeyPair", create_key_pair),
    ("ImportKeyPair", import_key_pair),
    ("DescribeKeyPairs", describe_key_pairs),
    ("DeleteKeyPair", delete_key_pair),
    ("CreateSecurityGroup", create_security_group),
    ("DescribeSecurityGroups", describe_security_groups),
    ("DeleteSecurityGroup", delete_security_group),
    ("AuthorizeSecurityGroupIngress", change_security_group_rules),
    ("AuthorizeSecurityGroupEgress", change_security_group_rules),
    ("RevokeSecurityGroupIngress", change_security_group_rules),
    ("RevokeSecurityGroupEgress", change_security_group_rules),
    ("DescribeImages", describe_images),
    ("DeregisterImage", deregister_image),
    ("CreateLaunchTemplate", create_launch_template),
    ("CreateLaunchTemplateVersion", create_launch_template_version),
    ("DescribeLaunchTemplates", describe_launch_templates),
    ("DescribeLaunchTemplateVersions", describe_launch_template_versions),
    ("ModifyLaunchTemplate", modify_launch_template),
    ("DeleteLaunchTemplate", delete_launch_template),
    ("DeleteLaunchTemplateVersions", delete_launch_template_versions),
    ("RunInstances", run_instances),
    ("DescribeInstances", describe_instances),
    ("StartInstances", change_instance_states),
    ("StopInstances", change_instance_states),
    ("TerminateInstances", change_instance_states),
    ("MonitorInstances", set_monitoring),
    ("UnmonitorInstances", set_monitoring),
    ("RebootInstances", reboot_instances),
    ("DescribeInstanceStatus", describe_instance_status),
    ("DescribeInstanceAttribute", describe_instance_attribute),
    ("GetConsoleOutput", get_console_output),
    ("CreateTags", change_tags),
    ("DeleteTags", change_tags),
    ("DescribeTags", describe_tags),
];

/// Runs one EC2 action; the caller wraps the body in `<ActionResponse>`. An action not
/// in `ACTIONS` goes to `ec2_network`, which answers InvalidAction if it does not know it.
pub async fn handle(svc: &Service, action: &str, p: &Params) -> AwsResult<Xml> {
    if action == "CreateImage" {
        return create_image(svc, p).await;
    }
    let Some((_, handler)) = ACTIONS.iter().find(|(name, _)| *name == action) else {
        return super::ec2_network::handle(svc, action, p);
    };
    let mut x = Xml::new();
    handler(svc, action, p, &mut x)?;
    Ok(x)
}

/// DescribeAvailabilityZones: the zones of the request's region.
fn describe_availability_zones(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    let zones =
        svc.describe_availability_zones(&p.list("ZoneName"), &p.list("ZoneId"), &p.filters());
    x.list("availabilityZoneInfo", "item", zones, |x, (zone, zone_id)| {
        x.text("zoneName", zone)
            .text("zoneId", zone_id)
            .text("zoneState", "available")
            .text("regionName", svc.region())
            .text("zoneType", "availability-zone")
            .text("optInStatus", "opt-in-not-required")
            .text("groupName", svc.region())
            .text("networkBorderGroup", svc.region())
            .el("messageSet", |_| {});
    });
    Ok(())
}

/// DescribeRegions: every commercial region (each its own world in Shoal).
fn describe_regions(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let regions = svc.describe_regions(&p.list("RegionName"), &p.filters())?;
    x.list("regionInfo", "item", regions, |x, r| {
        x.text("regionName", r.name)
            .text("regionEndpoint", r.endpoint())
            .text("optInStatus", r.opt_in_status());
    });
    Ok(())
}

/// DescribeAccountAttributes.
fn describe_account_attributes(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    let q = &svc.config.quotas;
    let default_vpc = svc.default_vpc_id().unwrap_or_else(|| "none".into());
    // AWS's attributes; the instance figure is the configured quota.
    let all = [
        ("supported-platforms", "VPC".to_string()),
        ("default-vpc", default_vpc),
        ("max-instances", q.max_instances.to_string()),
        ("vpc-max-security-groups-per-interface", "5".into()),
        ("max-elastic-ips", "5".into()),
        ("vpc-max-elastic-ips", "5".into()),
    ];
    let wanted = p.list("AttributeName");
    let attrs = all.iter().filter(|(n, _)| wanted.is_empty() || wanted.iter().any(|w| w == n));
    x.list("accountAttributeSet", "item", attrs, |x, (n, v)| {
        x.text("attributeName", n).list("attributeValueSet", "item", [v], |x, v| {
            x.text("attributeValue", v);
        });
    });
    Ok(())
}

/// DescribeInstanceTypes/DescribeInstanceTypeOfferings (`ec2_catalog.rs`).
fn instance_catalog(svc: &Service, action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    *x = super::ec2_catalog::handle(svc, action, p)?;
    Ok(())
}

/// CreateVpc.
fn create_vpc(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let vpc =
        svc.create_vpc(p.required("CidrBlock")?, &p.tag_specifications("TagSpecification"))?;
    x.el("vpc", |x| vpc_xml(x, &vpc));
    Ok(())
}

/// DescribeVpcs.
fn describe_vpcs(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let vpcs = svc.describe_vpcs(&p.list("VpcId"), &p.filters())?;
    x.list("vpcSet", "item", &vpcs, vpc_xml);
    Ok(())
}

/// DeleteVpc.
fn delete_vpc(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    svc.delete_vpc(p.required("VpcId")?)?;
    x.text("return", "true");
    Ok(())
}

/// CreateSubnet.
fn create_subnet(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let s = svc.create_subnet(
        p.required("VpcId")?,
        p.required("CidrBlock")?,
        p.get("AvailabilityZone"),
        &p.tag_specifications("TagSpecification"),
    )?;
    x.el("subnet", |x| subnet_xml(x, &s));
    Ok(())
}

/// DescribeSubnets.
fn describe_subnets(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let subnets = svc.describe_subnets(&p.list("SubnetId"), &p.filters())?;
    x.list("subnetSet", "item", &subnets, subnet_xml);
    Ok(())
}

/// DeleteSubnet.
fn delete_subnet(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    svc.delete_subnet(p.required("SubnetId")?)?;
    x.text("return", "true");
    Ok(())
}

/// CreateKeyPair.
fn create_key_pair(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let (k, material) = svc.create_key_pair(
        p.required("KeyName")?,
        p.get("KeyType"),
        &p.tag_specifications("TagSpecification"),
    )?;
    x.text("keyName", &k.name)
        .text("keyFingerprint", &k.fingerprint)
        .text("keyMaterial", material)
        .text("keyPairId", &k.id);
    tags_xml(x, &k.tags);
    Ok(())
}

/// ImportKeyPair.
fn import_key_pair(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let raw = p.required("PublicKeyMaterial")?;
    // The aws CLI base64-encodes fileb:// contents; accept plain text too.
    let text = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| raw.to_string());
    let k = svc.import_key_pair(
        p.required("KeyName")?,
        &text,
        &p.tag_specifications("TagSpecification"),
    )?;
    x.text("keyFingerprint", &k.fingerprint).text("keyName", &k.name).text("keyPairId", &k.id);
    tags_xml(x, &k.tags);
    Ok(())
}

/// DescribeKeyPairs.
fn describe_key_pairs(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let keys = svc.describe_key_pairs(&p.list("KeyName"), &p.list("KeyPairId"), &p.filters())?;
    let with_public = p.bool("IncludePublicKey")?.unwrap_or(false);
    x.list("keySet", "item", &keys, |x, k| {
        x.text("keyPairId", &k.id)
            .text("keyName", &k.name)
            .text("keyFingerprint", &k.fingerprint)
            .text("keyType", &k.key_type)
            .text("createTime", format_time(k.create_time));
        if with_public {
            x.text("publicKey", &k.public_key);
        }
        tags_xml(x, &k.tags);
    });
    Ok(())
}

/// DeleteKeyPair.
fn delete_key_pair(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    svc.delete_key_pair(p.get("KeyName"), p.get("KeyPairId"))?;
    x.text("return", "true");
    Ok(())
}

/// CreateSecurityGroup.
fn create_security_group(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let g = svc.create_security_group(
        p.required("GroupName")?,
        p.required("GroupDescription")?,
        p.get("VpcId"),
        &p.tag_specifications("TagSpecification"),
    )?;
    x.text("return", "true").text("groupId", &g.id);
    tags_xml(x, &g.tags);
    Ok(())
}

/// DescribeSecurityGroups.
fn describe_security_groups(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    let groups =
        svc.describe_security_groups(&p.list("GroupId"), &p.list("GroupName"), &p.filters())?;
    x.list("securityGroupInfo", "item", &groups, security_group_xml);
    Ok(())
}

/// DeleteSecurityGroup.
fn delete_security_group(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    svc.delete_security_group(p.get("GroupId"), p.get("GroupName"))?;
    x.text("return", "true");
    Ok(())
}

/// Authorize/RevokeSecurityGroupIngress/Egress; a Revoke by rule id is `ec2_network`'s.
fn change_security_group_rules(
    svc: &Service,
    action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    if action.starts_with("Revoke") && !p.list("SecurityGroupRuleId").is_empty() {
        *x = super::ec2_network::revoke_rules(svc, action, p)?;
        return Ok(());
    }
    let ingress = action.ends_with("Ingress");
    let add = action.starts_with("Authorize");
    let mut perms: Vec<Permission> =
        p.structs("IpPermissions").iter().map(permission_from).collect();
    if perms.is_empty() {
        // The flat form: --protocol tcp --port 80 --cidr 0.0.0.0/0.
        if let Some(proto) = p.get("IpProtocol") {
            perms.push(Permission {
                protocol: proto.to_string(),
                from_port: p.number("FromPort")?,
                to_port: p.number("ToPort")?,
                cidrs: p.string("CidrIp").into_iter().collect(),
                group_ids: p.string("SourceSecurityGroupId").into_iter().collect(),
                descriptions: Default::default(),
            });
        }
    }
    if perms.is_empty() {
        return Err(AwsError::missing_parameter("IpPermissions"));
    }
    let perms: Vec<Permission> = perms.into_iter().map(Permission::normalized).collect();
    if !p.tag_specifications("TagSpecification").is_empty() {
        // Rule ids are derived from the rules, which keep no tags: refused
        // rather than accepted and dropped.
        return Err(AwsError::new(
            ErrorCode::UnsupportedOperation,
            "Shoal does not keep tags on security group rules.",
        ));
    }
    let group = svc.change_security_group_rules(
        p.get("GroupId"),
        p.get("GroupName"),
        ingress,
        add,
        perms.clone(),
    )?;
    x.text("return", "true");
    if add {
        let rules = svc.rules_for(&group.id, !ingress, &perms);
        x.list("securityGroupRuleSet", "item", &rules, |x, r| {
            super::ec2_network::rule_xml(x, r, svc.region())
        });
    }
    Ok(())
}

/// DescribeImages.
fn describe_images(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let images = svc.describe_images(&p.list("ImageId"), &p.list("Owner"), &p.filters())?;
    x.list("imagesSet", "item", &images, image_xml);
    Ok(())
}

/// CreateImage: not a `Handler`, as it awaits the disk copy.
async fn create_image(svc: &Service, p: &Params) -> AwsResult<Xml> {
    let mut x = Xml::new();
    let img = svc
        .create_image(
            p.required("InstanceId")?,
            p.required("Name")?,
            p.string("Description"),
            &p.tag_specifications("TagSpecification"),
            p.bool("NoReboot")?.unwrap_or(false),
        )
        .await?;
    x.text("imageId", &img.id);
    Ok(x)
}

/// DeregisterImage.
fn deregister_image(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    svc.deregister_image(p.required("ImageId")?)?;
    x.text("return", "true");
    Ok(())
}

/// CreateLaunchTemplate.
fn create_launch_template(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let (t, _) = svc.create_launch_template(
        p.required("LaunchTemplateName")?,
        p.string("VersionDescription"),
        template_data(&p.sub("LaunchTemplateData"))?,
        &p.tag_specifications("TagSpecification"),
    )?;
    x.el("launchTemplate", |x| launch_template_xml(x, &t));
    Ok(())
}

/// CreateLaunchTemplateVersion.
fn create_launch_template_version(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    let v = svc.create_launch_template_version(
        &template_spec(p),
        p.get("SourceVersion"),
        p.string("VersionDescription"),
        template_data(&p.sub("LaunchTemplateData"))?,
    )?;
    x.el("launchTemplateVersion", |x| version_xml(x, &v, None));
    Ok(())
}

/// DescribeLaunchTemplates.
fn describe_launch_templates(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    let page = svc.describe_launch_templates_page(
        &p.list("LaunchTemplateId"),
        &p.list("LaunchTemplateName"),
        &p.filters(),
        p.number("MaxResults")?,
        p.get("NextToken"),
    )?;
    x.list("launchTemplates", "item", &page.items, launch_template_xml);
    x.opt("nextToken", page.next_token);
    Ok(())
}

/// DescribeLaunchTemplateVersions.
fn describe_launch_template_versions(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    let page = svc.describe_launch_template_versions_page(
        &template_spec(p),
        &p.list("LaunchTemplateVersion"),
        (p.number("MinVersion")?, p.number("MaxVersion")?),
        p.number("MaxResults")?,
        p.get("NextToken"),
    )?;
    x.list("launchTemplateVersionSet", "item", &page.items, |x, (t, v)| version_xml(x, v, Some(t)));
    x.opt("nextToken", page.next_token);
    Ok(())
}

/// ModifyLaunchTemplate.
fn modify_launch_template(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let t = svc.modify_launch_template(
        &template_spec(p),
        p.get("SetDefaultVersion").or(p.get("DefaultVersion")),
    )?;
    x.el("launchTemplate", |x| launch_template_xml(x, &t));
    Ok(())
}

/// DeleteLaunchTemplate.
fn delete_launch_template(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let t = svc.delete_launch_template(&template_spec(p))?;
    x.el("launchTemplate", |x| launch_template_xml(x, &t));
    Ok(())
}

/// DeleteLaunchTemplateVersions.
fn delete_launch_template_versions(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    let (t, deleted, refused) =
        svc.delete_launch_template_versions(&template_spec(p), &p.list("LaunchTemplateVersion"))?;
    x.list("successfullyDeletedLaunchTemplateVersionSet", "item", deleted, |x, n| {
        x.text("launchTemplateId", &t.id)
            .text("launchTemplateName", &t.name)
            .text("versionNumber", n);
    });
    x.list(
        "unsuccessfullyDeletedLaunchTemplateVersionSet",
        "item",
        refused,
        |x, (n, code, msg)| {
            x.text("launchTemplateId", &t.id)
                .text("launchTemplateName", &t.name)
                .text("versionNumber", n)
                .el("responseError", |x| {
                    x.text("code", code).text("message", msg);
                });
        },
    );
    Ok(())
}

/// RunInstances.
fn run_instances(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let req = RunInstances {
        image_id: p.string("ImageId"),
        instance_type: p.string("InstanceType"),
        min_count: p.number("MinCount")?.ok_or_else(|| AwsError::missing_parameter("MinCount"))?,
        max_count: p.number("MaxCount")?.ok_or_else(|| AwsError::missing_parameter("MaxCount"))?,
        key_name: p.string("KeyName"),
        subnet_id: p.string("SubnetId").or_else(|| p.string("NetworkInterface.1.SubnetId")),
        network_interface: instance_interface(p)?,
        private_ip: p.string("PrivateIpAddress"),
        availability_zone: non_empty(p, "Placement.AvailabilityZone"),
        security_group_ids: p.list("SecurityGroupId"),
        security_groups: p.list("SecurityGroup"),
        user_data: non_empty(p, "UserData"),
        tag_specifications: p.tag_specifications("TagSpecification"),
        launch_template: (!p.sub("LaunchTemplate").is_empty()).then(|| {
            let lt = p.sub("LaunchTemplate");
            LaunchTemplateSpec {
                id: lt.string("LaunchTemplateId"),
                name: lt.string("LaunchTemplateName"),
                version: lt.string("Version"),
            }
        }),
        client_token: p.string("ClientToken"),
        system_tags: vec![],
        monitoring_enabled: p.bool("Monitoring.Enabled")?,
        options: launch_options(p)?,
    };
    let r = svc.run_instances(req)?;
    let groups = group_names(svc, r.instances.first());
    x.text("reservationId", &r.id).text("ownerId", ACCOUNT_ID);
    x.list("groupSet", "item", &groups, |x, (id, name)| {
        x.text("groupId", id).text("groupName", name);
    });
    x.list("instancesSet", "item", &r.instances, |x, i| instance_xml(x, i, &groups));
    Ok(())
}

/// DescribeInstances.
fn describe_instances(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let page = svc.describe_instances(
        &p.list("InstanceId"),
        &p.filters(),
        p.number("MaxResults")?,
        p.get("NextToken"),
    )?;
    // Group consecutive instances by reservation, in launch order.
    let mut reservations: Vec<(String, Vec<&Instance>)> = Vec::new();
    for inst in &page.items {
        match reservations.iter_mut().find(|(r, _)| *r == inst.reservation_id) {
            Some((_, list)) => list.push(inst),
            None => reservations.push((inst.reservation_id.clone(), vec![inst])),
        }
    }
    x.list("reservationSet", "item", &reservations, |x, (rid, insts)| {
        let groups = group_names(svc, insts.first().copied());
        x.text("reservationId", rid).text("ownerId", ACCOUNT_ID);
        x.list("groupSet", "item", &groups, |x, (id, name)| {
            x.text("groupId", id).text("groupName", name);
        });
        x.list("instancesSet", "item", insts, |x, i| instance_xml(x, i, &groups));
    });
    x.opt("nextToken", page.next_token);
    Ok(())
}

/// StartInstances, StopInstances, TerminateInstances.
fn change_instance_states(svc: &Service, action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let (transition, tag) = match action {
        "StartInstances" => (Transition::Start, "instancesSet"),
        "StopInstances" => (Transition::Stop, "instancesSet"),
        _ => (Transition::Terminate, "instancesSet"),
    };
    let changes = svc.change_instance_states_by_user(&p.list("InstanceId"), transition)?;
    x.list(tag, "item", &changes, state_change_xml);
    Ok(())
}

/// MonitorInstances/UnmonitorInstances.
fn set_monitoring(svc: &Service, action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let states = svc.set_monitoring(&p.list("InstanceId"), action == "MonitorInstances")?;
    x.list("instancesSet", "item", &states, |x, (id, state)| {
        x.text("instanceId", id).el("monitoring", |x| {
            x.text("state", *state);
        });
    });
    Ok(())
}

/// RebootInstances.
fn reboot_instances(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let ids = p.list("InstanceId");
    svc.change_instance_states(&ids, Transition::Reboot)?;
    x.text("return", "true");
    Ok(())
}

/// DescribeInstanceStatus.
fn describe_instance_status(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    let include_all = p.bool("IncludeAllInstances")?.unwrap_or(false);
    let page = svc.describe_instances(
        &p.list("InstanceId"),
        &p.filters(),
        p.number("MaxResults")?,
        p.get("NextToken"),
    )?;
    let items = page
        .items
        .iter()
        .filter(|i| include_all || i.state == shoal_model::ec2::InstanceState::Running);
    x.list("instanceStatusSet", "item", items, |x, i| {
        let status = if i.state == shoal_model::ec2::InstanceState::Running {
            "ok"
        } else {
            "not-applicable"
        };
        x.text("instanceId", &i.id)
            .text("availabilityZone", &i.availability_zone)
            .el("instanceState", |x| {
                x.text("code", i.state.code()).text("name", i.state.name());
            })
            .el("systemStatus", |x| {
                x.text("status", status).list("details", "item", [()], |x, _| {
                    x.text("name", "reachability")
                        .text("status", if status == "ok" { "passed" } else { status });
                });
            })
            .el("instanceStatus", |x| {
                x.text("status", status).list("details", "item", [()], |x, _| {
                    x.text("name", "reachability")
                        .text("status", if status == "ok" { "passed" } else { status });
                });
            });
    });
    x.opt("nextToken", page.next_token);
    Ok(())
}

/// DescribeInstanceAttribute.
fn describe_instance_attribute(
    svc: &Service,
    _action: &str,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    let inst = svc.instance(p.required("InstanceId")?)?;
    let attr = p.required("Attribute")?;
    x.text("instanceId", &inst.id);
    match attr {
        "userData" => {
            x.el("userData", |x| {
                x.opt("value", inst.user_data.as_deref());
            });
        }
        "instanceType" => {
            x.el("instanceType", |x| {
                x.text("value", &inst.instance_type);
            });
        }
        "groupSet" => {
            x.list("groupSet", "item", &inst.security_group_ids, |x, g| {
                x.text("groupId", g);
            });
        }
        other => {
            *x = super::ec2_network::instance_attribute(std::mem::take(x), &inst, other)?;
        }
    }
    Ok(())
}

/// GetConsoleOutput.
fn get_console_output(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let (inst, out) = svc.console_output(p.required("InstanceId")?)?;
    x.text("instanceId", &inst.id)
        .text("timestamp", format_time(svc.clock.now()))
        .text("output", base64::engine::general_purpose::STANDARD.encode(out));
    Ok(())
}

/// CreateTags/DeleteTags.
fn change_tags(svc: &Service, action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let tags = p.tags("Tag");
    if action == "CreateTags" {
        svc.change_tags(&p.list("ResourceId"), &tags, &[])?;
    } else {
        let remove: Vec<(String, Option<String>)> = p
            .structs("Tag")
            .into_iter()
            .filter_map(|t| Some((t.string("Key")?, t.string("Value"))))
            .collect();
        svc.change_tags(&p.list("ResourceId"), &[], &remove)?;
    }
    x.text("return", "true");
    Ok(())
}

/// DescribeTags.
fn describe_tags(svc: &Service, _action: &str, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let tags = svc.describe_tags(&p.filters())?;
    x.list("tagSet", "item", &tags, |x, (id, kind, t)| {
        x.text("resourceId", id)
            .text("resourceType", kind)
            .text("key", &t.key)
            .text("value", &t.value);
    });
    Ok(())
}

fn template_spec(p: &Params) -> LaunchTemplateSpec {
    LaunchTemplateSpec {
        id: p.string("LaunchTemplateId"),
        name: p.string("LaunchTemplateName"),
        version: None,
    }
}

fn template_data(d: &Params) -> AwsResult<LaunchTemplateData> {
    Ok(LaunchTemplateData {
        image_id: d.string("ImageId"),
        instance_type: d.string("InstanceType"),
        key_name: d.string("KeyName"),
        security_group_ids: d.list("SecurityGroupId"),
        security_groups: d.list("SecurityGroup"),
        user_data: non_empty(d, "UserData"),
        tag_specifications: d.tag_specifications("TagSpecification"),
        subnet_id: d.string("NetworkInterface.1.SubnetId"),
        availability_zone: non_empty(d, "Placement.AvailabilityZone"),
        monitoring_enabled: d.bool("Monitoring.Enabled")?,
        network_interface: network_interface(d)?,
        options: launch_options(d)?,
    })
}

/// A parameter Terraform's provider may send empty for an unset argument (a template's
/// `UserData`, an instance's `Placement.AvailabilityZone`): EC2 keeps none.
fn non_empty(p: &Params, key: &str) -> Option<String> {
    p.string(key).filter(|v| !v.is_empty())
}

/// RunInstances' `NetworkInterface.1`, refused beside the instance-level subnet or
/// private address it replaces, with EC2's texts.
fn instance_interface(p: &Params) -> AwsResult<Option<NetworkInterfaceSpec>> {
    let interface = network_interface(p)?;
    if interface.is_some() {
        for (param, what) in [("SubnetId", "subnet ID"), ("PrivateIpAddress", "private IP address")]
        {
            if p.get(param).is_some() {
                return Err(AwsError::new(
                    ErrorCode::InvalidParameterCombination,
                    format!("Network interfaces and an instance-level {what} may not be specified on the same request"),
                ));
            }
        }
    }
    Ok(interface)
}

/// `NetworkInterface.1.*` of RunInstances or `LaunchTemplateData`; only the first
/// interface is Shoal's (an instance has one address).
fn network_interface(p: &Params) -> AwsResult<Option<NetworkInterfaceSpec>> {
    let n = p.sub("NetworkInterface.1");
    if n.is_empty() {
        return Ok(None);
    }
    if !p.sub("NetworkInterface.2").is_empty() {
        return Err(AwsError::new(
            ErrorCode::UnsupportedOperation,
            "Shoal gives an instance one network interface: NetworkInterface.2 and beyond are not supported.",
        ));
    }
    let device_index: Option<i64> = n.number("DeviceIndex")?;
    if device_index.unwrap_or(0) != 0 && n.get("AssociatePublicIpAddress").is_some() {
        return Err(AwsError::new(
            ErrorCode::InvalidParameterCombination,
            "The associatePublicIPAddress parameter can only be specified for the network interface with DeviceIndex 0.",
        ));
    }
    Ok(Some(NetworkInterfaceSpec {
        device_index,
        subnet_id: n.string("SubnetId"),
        groups: n.list("SecurityGroupId"),
        associate_public_ip_address: n.bool("AssociatePublicIpAddress")?,
        private_ip_address: n.string("PrivateIpAddress"),
        delete_on_termination: n.bool("DeleteOnTermination")?,
        description: n.string("Description"),
    }))
}

/// IMDS settings as a launch's `MetadataOptions.*` or ModifyInstanceMetadataOptions
/// name them.
pub fn metadata_options(m: &Params) -> AwsResult<MetadataOptionsRequest> {
    Ok(MetadataOptionsRequest {
        http_tokens: m.string("HttpTokens"),
        http_put_response_hop_limit: m.number("HttpPutResponseHopLimit")?,
        http_endpoint: m.string("HttpEndpoint"),
        http_protocol_ipv6: m.string("HttpProtocolIpv6"),
        instance_metadata_tags: m.string("InstanceMetadataTags"),
    })
}

/// The launch options RunInstances and `LaunchTemplateData` share, checked as EC2
/// checks them.
fn launch_options(p: &Params) -> AwsResult<LaunchOptions> {
    let m = p.sub("MetadataOptions");
    let metadata_options = if m.is_empty() {
        None
    } else {
        let m = metadata_options(&m)?;
        m.check()?;
        Some(m)
    };
    let shutdown_behavior = p.string("InstanceInitiatedShutdownBehavior");
    if let Some(v) = &shutdown_behavior {
        InstanceSwitches::parse_shutdown_behavior(v)?;
    }
    let profile = p.sub("IamInstanceProfile");
    Ok(LaunchOptions {
        block_device_mappings: p
            .structs("BlockDeviceMapping")
            .iter()
            .map(|b| {
                let e = b.sub("Ebs");
                Ok(TemplateBlockDevice {
                    device_name: b.string("DeviceName"),
                    virtual_name: b.string("VirtualName"),
                    no_device: b.string("NoDevice"),
                    ebs: if e.is_empty() {
                        None
                    } else {
                        Some(TemplateEbs {
                            encrypted: e.bool("Encrypted")?,
                            delete_on_termination: e.bool("DeleteOnTermination")?,
                            iops: e.number("Iops")?,
                            kms_key_id: e.string("KmsKeyId"),
                            snapshot_id: e.string("SnapshotId"),
                            volume_size: e.number("VolumeSize")?,
                            volume_type: e.string("VolumeType"),
                            throughput: e.number("Throughput")?,
                        })
                    },
                })
            })
            .collect::<AwsResult<_>>()?,
        cpu_credits: p
            .get("CreditSpecification.CpuCredits")
            .map(InstanceSwitches::parse_cpu_credits)
            .transpose()?,
        disable_api_termination: p.bool("DisableApiTermination")?,
        disable_api_stop: p.bool("DisableApiStop")?,
        iam_instance_profile: (!profile.is_empty()).then(|| IamInstanceProfile {
            arn: profile.string("Arn"),
            name: profile.string("Name"),
        }),
        shutdown_behavior,
        metadata_options,
    })
}

pub(super) fn permission_from(s: &Params) -> Permission {
    let ranges = s.structs("IpRanges");
    let groups = s.structs("Groups");
    let described = |list: &[Params], key: &str| -> Vec<(String, String)> {
        list.iter().filter_map(|r| Some((r.string(key)?, r.string("Description")?))).collect()
    };
    Permission {
        protocol: s.get("IpProtocol").unwrap_or("-1").to_string(),
        from_port: s.number("FromPort").ok().flatten(),
        to_port: s.number("ToPort").ok().flatten(),
        cidrs: ranges.iter().filter_map(|r| r.string("CidrIp")).collect(),
        group_ids: groups.iter().filter_map(|g| g.string("GroupId")).collect(),
        descriptions: described(&ranges, "CidrIp")
            .into_iter()
            .chain(described(&groups, "GroupId"))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interface_beside_an_instance_level_subnet_or_address_is_refused_in_ec2s_words() {
        let interface = [("NetworkInterface.1.DeviceIndex", "0")];
        assert!(instance_interface(&Params::of(&interface)).unwrap().is_some());
        for (param, what) in [("SubnetId", "subnet ID"), ("PrivateIpAddress", "private IP address")]
        {
            let p = Params::of(&[interface[0], (param, "x")]);
            let err = instance_interface(&p).unwrap_err();
            assert_eq!(err.code, "InvalidParameterCombination");
            assert_eq!(
                err.message,
                format!("Network interfaces and an instance-level {what} may not be specified on the same request")
            );
        }
        assert!(instance_interface(&Params::of(&[("SubnetId", "subnet-1")])).unwrap().is_none());
    }

    #[test]
    fn a_malformed_number_or_boolean_names_the_parameter() {
        let err = network_interface(&Params::of(&[("NetworkInterface.1.DeviceIndex", "first")]))
            .unwrap_err();
        assert_eq!(err.code, "InvalidParameterValue");
        assert_eq!(err.message, "Invalid value 'first' for DeviceIndex");
        let err = template_data(&Params::of(&[("Monitoring.Enabled", "maybe")])).unwrap_err();
        assert_eq!(err.message, "Invalid value 'maybe' for Monitoring.Enabled");
        let err = template_data(&Params::of(&[("MetadataOptions.HttpPutResponseHopLimit", "two")]))
            .unwrap_err();
        assert_eq!(err.message, "Invalid value 'two' for HttpPutResponseHopLimit");
    }

    #[test]
    fn template_data_keeps_list_order_and_drops_empty_values_terraform_sends() {
        let d = template_data(&Params::of(&[
            ("ImageId", "ami-1"),
            ("SecurityGroupId.2", "sg-b"),
            ("SecurityGroupId.1", "sg-a"),
            ("SecurityGroupId.11", "sg-c"),
            ("UserData", ""),
            ("Placement.AvailabilityZone", ""),
            ("BlockDeviceMapping.1.DeviceName", "/dev/xvda"),
            ("BlockDeviceMapping.1.Ebs.VolumeSize", "16"),
        ]))
        .unwrap();
        assert_eq!(d.image_id.as_deref(), Some("ami-1"));
        assert_eq!(d.security_group_ids, ["sg-a", "sg-b", "sg-c"]);
        assert_eq!((d.user_data, d.availability_zone), (None, None));
        let disks = &d.options.block_device_mappings;
        assert_eq!(disks.len(), 1);
        assert_eq!(disks[0].device_name.as_deref(), Some("/dev/xvda"));
        assert_eq!(disks[0].ebs.as_ref().unwrap().volume_size, Some(16));
    }

    #[test]
    fn a_permission_defaults_to_all_protocols_and_keeps_each_sources_description() {
        let p = Params::of(&[
            ("FromPort", "22"),
            ("ToPort", "22"),
            ("IpRanges.1.CidrIp", "10.0.0.0/8"),
            ("IpRanges.1.Description", "office"),
            ("IpRanges.2.CidrIp", "192.168.0.0/16"),
            ("Groups.1.GroupId", "sg-1"),
            ("Groups.1.Description", "peers"),
        ]);
        let perm = permission_from(&p);
        assert_eq!(perm.protocol, "-1");
        assert_eq!((perm.from_port, perm.to_port), (Some(22), Some(22)));
        assert_eq!(perm.cidrs, ["10.0.0.0/8", "192.168.0.0/16"]);
        assert_eq!(perm.group_ids, ["sg-1"]);
        let described: Vec<(&str, &str)> =
            perm.descriptions.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(described, [("10.0.0.0/8", "office"), ("sg-1", "peers")]);
    }
}
