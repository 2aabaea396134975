//! EC2 actions of the surface tools such as Terraform and Ansible read: VPC attributes,
//! security-group rules by id, network interfaces, image attributes. `ec2::handle`
//! hands over every action it does not know.

use shoal_model::ec2::format_time;
use shoal_model::ec2::security_group::SecurityGroupRule;
use shoal_model::ec2::{Image, Instance};
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult, ACCOUNT_ID};

use super::ec2::tags_xml;
use super::query::Params;
use super::xml::Xml;
use crate::service::ec2::{InstanceAttributeChange, NetworkInterface};
use crate::service::Service;

const VPC_ATTRIBUTES: [(&str, &str); 3] = [
    ("EnableDnsSupport", "enableDnsSupport"),
    ("EnableDnsHostnames", "enableDnsHostnames"),
    ("EnableNetworkAddressUsageMetrics", "enableNetworkAddressUsageMetrics"),
];

/// One action: decode `p`, call the service, encode into `x`.
type Handler = fn(&Service, &Params, &mut Xml) -> AwsResult<()>;

/// The EC2 actions served here, by their wire name.
const ACTIONS: &[(&str, Handler)] = &[
    ("DescribeVpcAttribute", describe_vpc_attribute),
    ("ModifyVpcAttribute", modify_vpc_attribute),
    ("ModifySubnetAttribute", modify_subnet_attribute),
    ("DescribeSecurityGroupRules", describe_security_group_rules),
    ("DescribeNetworkInterfaces", describe_network_interfaces),
    ("DeleteNetworkInterface", delete_network_interface),
    ("DescribeInstanceCreditSpecifications", describe_instance_credit_specifications),
    ("ModifyInstanceAttribute", modify_instance_attribute),
    ("ModifyInstanceMetadataOptions", modify_instance_metadata_options),
    ("DescribeRouteTables", describe_route_tables),
    ("DescribeInternetGateways", describe_internet_gateways),
    ("DescribeNetworkAcls", describe_network_acls),
    ("GetInstanceUefiData", get_instance_uefi_data),
    ("DescribeSnapshots", describe_snapshots),
    ("DescribeImageAttribute", describe_image_attribute),
    ("ModifyImageAttribute", modify_image_attribute),
    ("DeleteSnapshot", delete_snapshot),
    ("UpdateSecurityGroupRuleDescriptionsIngress", update_rule_descriptions_ingress),
    ("UpdateSecurityGroupRuleDescriptionsEgress", update_rule_descriptions_egress),
];

/// Runs one of the actions `ec2::handle` does not know; any other is InvalidAction.
pub fn handle(svc: &Service, action: &str, p: &Params) -> AwsResult<Xml> {
    let handler = super::handler_for(ACTIONS, action)?;
    let mut x = Xml::new();
    handler(svc, p, &mut x)?;
    Ok(x)
}

/// DescribeVpcAttribute.
fn describe_vpc_attribute(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let vpc_id = p.required("VpcId")?;
    let attribute = p.required("Attribute")?;
    let value = svc.describe_vpc_attribute(vpc_id, attribute)?;
    x.text("vpcId", vpc_id).el(attribute, |x| {
        x.text("value", value);
    });
    Ok(())
}

/// ModifyVpcAttribute.
fn modify_vpc_attribute(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let mut changes = vec![];
    for (param, attribute) in VPC_ATTRIBUTES {
        if let Some(value) = p.bool(&format!("{param}.Value"))? {
            changes.push((attribute, value));
        }
    }
    svc.modify_vpc_attribute(p.required("VpcId")?, &changes)?;
    x.text("return", "true");
    Ok(())
}

/// ModifySubnetAttribute.
fn modify_subnet_attribute(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    svc.modify_subnet_attribute(p.required("SubnetId")?, p.bool("MapPublicIpOnLaunch.Value")?)?;
    x.text("return", "true");
    Ok(())
}

/// UpdateSecurityGroupRuleDescriptionsIngress.
fn update_rule_descriptions_ingress(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    update_rule_descriptions(svc, true, p, x)
}

/// UpdateSecurityGroupRuleDescriptionsEgress.
fn update_rule_descriptions_egress(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    update_rule_descriptions(svc, false, p, x)
}

/// Either form: IpPermissions with descriptions, or SecurityGroupRuleDescriptions by id.
fn update_rule_descriptions(
    svc: &Service,
    ingress: bool,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    let perms = p.structs("IpPermissions").iter().map(super::ec2::permission_from).collect();
    let by_id: Vec<(String, Option<String>)> = p
        .structs("SecurityGroupRuleDescription")
        .iter()
        .filter_map(|r| Some((r.string("SecurityGroupRuleId")?, r.string("Description"))))
        .collect();
    svc.update_security_group_rule_descriptions(
        p.get("GroupId"),
        p.get("GroupName"),
        ingress,
        perms,
        &by_id,
    )?;
    x.text("return", "true");
    Ok(())
}

/// DescribeSecurityGroupRules.
fn describe_security_group_rules(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let rules = svc.describe_security_group_rules(&p.list("SecurityGroupRuleId"), &p.filters())?;
    x.list("securityGroupRuleSet", "item", &rules, |x, r| rule_xml(x, r, svc.region()));
    Ok(())
}

/// DescribeNetworkInterfaces.
fn describe_network_interfaces(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let interfaces =
        svc.describe_network_interfaces(&p.list("NetworkInterfaceId"), &p.filters())?;
    x.list("networkInterfaceSet", "item", &interfaces, interface_xml);
    Ok(())
}

/// DeleteNetworkInterface.
fn delete_network_interface(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    svc.delete_network_interface(p.required("NetworkInterfaceId")?)?;
    x.text("return", true);
    Ok(())
}

/// DescribeInstanceCreditSpecifications.
fn describe_instance_credit_specifications(
    svc: &Service,
    p: &Params,
    x: &mut Xml,
) -> AwsResult<()> {
    let instances = svc.instances_with_ids(&p.list("InstanceId"))?;
    let specs: Vec<(String, String)> = instances
        .iter()
        .filter_map(|i| Some((i.id.clone(), i.switches.cpu_credits(&i.instance_type)?)))
        .collect();
    x.list("instanceCreditSpecificationSet", "item", &specs, |x, (id, credits)| {
        x.text("instanceId", id).text("cpuCredits", credits);
    });
    Ok(())
}

/// ModifyInstanceAttribute.
fn modify_instance_attribute(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    svc.modify_instance_attribute(p.required("InstanceId")?, instance_change(p)?)?;
    x.text("return", "true");
    Ok(())
}

/// ModifyInstanceMetadataOptions.
fn modify_instance_metadata_options(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let id = p.required("InstanceId")?;
    let change = super::ec2::metadata_options(p)?;
    svc.modify_instance_attribute(id, InstanceAttributeChange::MetadataOptions(change))?;
    let inst = svc.instance(id)?;
    x.text("instanceId", id).el("instanceMetadataOptions", |x| {
        super::ec2::metadata_options_xml(x, &inst.metadata_options)
    });
    Ok(())
}

/// DescribeRouteTables.
fn describe_route_tables(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let tables = svc.describe_route_tables(&p.list("RouteTableId"), &p.filters())?;
    x.list("routeTableSet", "item", &tables, |x, t| {
        x.text("routeTableId", &t.id)
            .text("vpcId", &t.vpc_id)
            .text("ownerId", ACCOUNT_ID)
            .list("routeSet", "item", &t.routes, |x, (dest, gateway, origin)| {
                x.text("destinationCidrBlock", dest)
                    .text("gatewayId", gateway)
                    .text("state", "active")
                    .text("origin", origin);
            })
            .list("associationSet", "item", [()], |x, _| {
                x.text("main", true)
                    .text("routeTableAssociationId", &t.main_association_id)
                    .text("routeTableId", &t.id)
                    .el("associationState", |x| {
                        x.text("state", "associated");
                    });
            })
            .el("propagatingVgwSet", |_| {});
        tags_xml(x, &[]);
    });
    Ok(())
}

/// DescribeInternetGateways.
fn describe_internet_gateways(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let gateways = svc.describe_internet_gateways(&p.list("InternetGatewayId"), &p.filters())?;
    x.list("internetGatewaySet", "item", &gateways, |x, g| {
        x.text("internetGatewayId", &g.id).text("ownerId", ACCOUNT_ID).list(
            "attachmentSet",
            "item",
            [()],
            |x, _| {
                x.text("vpcId", &g.vpc_id).text("state", "available");
            },
        );
        tags_xml(x, &[]);
    });
    Ok(())
}

/// DescribeNetworkAcls.
fn describe_network_acls(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let page = svc.describe_network_acls(
        &p.list("NetworkAclId"),
        &p.filters(),
        p.number("MaxResults")?,
        p.get("NextToken"),
    )?;
    x.list("networkAclSet", "item", &page.items, |x, a| {
        x.text("networkAclId", &a.id)
            .text("vpcId", &a.vpc_id)
            .text("default", true)
            .list("entrySet", "item", &a.entries, |x, e| {
                x.text("ruleNumber", e.rule_number)
                    .text("protocol", e.protocol)
                    .text("ruleAction", e.rule_action)
                    .text("egress", e.egress)
                    .text("cidrBlock", e.cidr_block);
            })
            .list("associationSet", "item", &a.associations, |x, (assoc, subnet)| {
                x.text("networkAclAssociationId", assoc)
                    .text("networkAclId", &a.id)
                    .text("subnetId", subnet);
            })
            .text("ownerId", ACCOUNT_ID);
        tags_xml(x, &[]);
    });
    x.opt("nextToken", page.next_token);
    Ok(())
}

/// GetInstanceUefiData: Shoal's instances boot in legacy-bios mode (DescribeInstances'
/// `currentInstanceBootMode`), so they have no UEFI variable store, and AWS answers such an
/// instance with its id and no `uefiData`.
fn get_instance_uefi_data(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let inst = svc.instance(p.required("InstanceId")?)?;
    x.text("instanceId", &inst.id);
    Ok(())
}

/// DescribeSnapshots.
fn describe_snapshots(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let snapshots =
        svc.describe_snapshots(&p.list("SnapshotId"), &p.list("Owner"), &p.filters())?;
    x.list("snapshotSet", "item", &snapshots, |x, (s, alias)| {
        x.text("snapshotId", &s.id)
            .text("volumeId", "vol-ffffffff")
            .text("status", "completed")
            .text("startTime", format_time(s.start_time))
            .text("progress", "100%")
            .text("ownerId", &s.owner_id)
            .opt("ownerAlias", *alias)
            .text("volumeSize", s.volume_size_gib)
            .text("description", &s.description)
            .text("encrypted", false)
            .text("storageTier", "standard");
        tags_xml(x, &s.tags);
    });
    Ok(())
}

/// DescribeImageAttribute.
fn describe_image_attribute(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let (image, last_launch) = svc.image_with_last_launch(p.required("ImageId")?)?;
    x.text("imageId", &image.id);
    image_attribute(x, &image, last_launch, p.required("Attribute")?)?;
    Ok(())
}

/// ModifyImageAttribute.
fn modify_image_attribute(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let id = p.required("ImageId")?;
    // Launch permissions, product codes, IMDS support: refused, not accepted
    // and dropped.
    const UNKEPT: [&str; 7] = [
        "LaunchPermission",
        "ProductCode",
        "UserId",
        "UserGroup",
        "ImdsSupport",
        "OrganizationArn",
        "OrganizationalUnitArn",
    ];
    let unkept = UNKEPT.into_iter().find(|name| !p.sub(name).is_empty() || p.get(name).is_some());
    if let Some(name) = unkept {
        return Err(AwsError::new(
            ErrorCode::UnsupportedOperation,
            format!("Shoal does not change an image's {name}."),
        ));
    }
    let description = match (p.get("Attribute"), p.get("Description.Value")) {
        (None | Some("description"), Some(d)) => d,
        (Some("description"), None) => p.required("Value")?,
        (None, None) => return Err(AwsError::missing_parameter("Attribute")),
        (Some(other), _) => {
            return Err(AwsError::new(
                ErrorCode::UnsupportedOperation,
                format!("Shoal does not change the image attribute '{other}'."),
            ))
        }
    };
    svc.modify_image_description(id, description)?;
    x.text("return", "true");
    Ok(())
}

/// DeleteSnapshot.
fn delete_snapshot(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    svc.delete_snapshot(p.required("SnapshotId")?)?;
    x.text("return", "true");
    Ok(())
}

/// ModifyInstanceAttribute's one change: `<Name>.Value`, `GroupId.N`, or the
/// `Attribute`/`Value` pair.
fn instance_change(p: &Params) -> AwsResult<InstanceAttributeChange> {
    use InstanceAttributeChange as C;
    let flag = |name: &str, v: &str| {
        super::query::parse_bool(v).ok_or_else(|| {
            AwsError::invalid_parameter_value(format!("Invalid value '{v}' for {name}"))
        })
    };
    let mut found = vec![];
    for (param, attribute) in [
        ("InstanceInitiatedShutdownBehavior", "instanceInitiatedShutdownBehavior"),
        ("DisableApiTermination", "disableApiTermination"),
        ("DisableApiStop", "disableApiStop"),
        ("InstanceType", "instanceType"),
        ("UserData", "userData"),
    ] {
        if let Some(v) = p.get(&format!("{param}.Value")) {
            found.push((attribute.to_string(), v.to_string()));
        }
    }
    let groups = p.list("GroupId");
    if !groups.is_empty() {
        found.push(("groupSet".into(), String::new()));
    }
    if let (Some(a), Some(v)) = (p.get("Attribute"), p.get("Value")) {
        found.push((a.to_string(), v.to_string()));
    }
    let [(attribute, value)] = found.as_slice() else {
        return Err(if found.is_empty() {
            AwsError::missing_parameter("Attribute")
        } else {
            AwsError::new(
                ErrorCode::InvalidParameterCombination,
                "Fields for multiple attribute types specified: only one attribute can be modified at a time.",
            )
        });
    };
    Ok(match attribute.as_str() {
        "instanceInitiatedShutdownBehavior" => C::ShutdownBehavior(value.clone()),
        "disableApiTermination" => C::DisableApiTermination(flag(attribute, value)?),
        "disableApiStop" => C::DisableApiStop(flag(attribute, value)?),
        "instanceType" => C::InstanceType(value.clone()),
        "userData" => C::UserData(value.clone()),
        "groupSet" => C::Groups(groups),
        other => {
            return Err(AwsError::invalid_parameter_value(format!(
                "Value ({other}) for parameter attribute is invalid. Unknown attribute."
            )))
        }
    })
}

/// Revoke…(GroupId, SecurityGroupRuleId.N), as Terraform's rule resources delete.
pub fn revoke_rules(svc: &Service, action: &str, p: &Params) -> AwsResult<Xml> {
    let revoked = svc.revoke_security_group_rules(
        p.required("GroupId")?,
        action.ends_with("Egress"),
        &p.list("SecurityGroupRuleId"),
    )?;
    let mut x = Xml::new();
    x.text("return", "true").list("revokedSecurityGroupRuleSet", "item", &revoked, |x, r| {
        x.text("securityGroupRuleId", &r.id)
            .text("groupId", &r.group_id)
            .text("isEgress", r.is_egress)
            .text("ipProtocol", &r.protocol)
            .text("fromPort", r.from_port.unwrap_or(-1))
            .text("toPort", r.to_port.unwrap_or(-1))
            .opt("cidrIpv4", r.cidr.as_deref())
            .opt("referencedGroupId", r.referenced_group_id.as_deref());
    });
    Ok(x)
}

pub fn rule_xml(x: &mut Xml, r: &SecurityGroupRule, region: &str) {
    x.text("securityGroupRuleId", &r.id)
        .text("groupId", &r.group_id)
        .text("groupOwnerId", ACCOUNT_ID)
        .text("isEgress", r.is_egress)
        .text("ipProtocol", &r.protocol)
        .text("fromPort", r.from_port.unwrap_or(-1))
        .text("toPort", r.to_port.unwrap_or(-1))
        .opt("cidrIpv4", r.cidr.as_deref())
        .opt("description", r.description.as_deref());
    if let Some(g) = &r.referenced_group_id {
        x.el("referencedGroupInfo", |x| {
            x.text("groupId", g).text("userId", ACCOUNT_ID);
        });
    }
    x.el("tagSet", |_| {}).text(
        "securityGroupRuleArn",
        format!("arn:aws:ec2:{region}:{ACCOUNT_ID}:security-group-rule/{}", r.id),
    );
}

fn interface_xml(x: &mut Xml, n: &NetworkInterface) {
    let private_dns = shoal_model::region::private_dns_name(
        shoal_model::region::of_zone(&n.availability_zone),
        n.private_ip,
    );
    x.text("networkInterfaceId", &n.id)
        .text("subnetId", &n.subnet_id)
        .text("vpcId", &n.vpc_id)
        .text("availabilityZone", &n.availability_zone)
        .text("description", n.description())
        .text("ownerId", ACCOUNT_ID)
        .opt("requesterId", n.requester_id())
        .text("requesterManaged", n.requester_managed())
        .text("status", n.status())
        .text("macAddress", shoal_model::ec2::network::interface_mac(&n.id))
        .text("privateIpAddress", n.private_ip)
        .text("privateDnsName", &private_dns)
        .text("sourceDestCheck", true)
        .list("groupSet", "item", &n.groups, |x, (id, name)| {
            x.text("groupId", id).text("groupName", name);
        })
        .el("attachment", |x| {
            x.text("attachmentId", &n.attachment_id)
                .opt("instanceId", n.instance_id())
                .text("instanceOwnerId", n.instance_owner_id())
                .text("deviceIndex", n.device_index())
                .text("networkCardIndex", 0)
                .text("status", n.attachment_status())
                .text("attachTime", format_time(n.attach_time()))
                .text("deleteOnTermination", n.delete_on_termination());
        })
        .list("privateIpAddressesSet", "item", [()], |x, _| {
            x.text("privateIpAddress", n.private_ip)
                .text("privateDnsName", &private_dns)
                .text("primary", true);
        })
        .el("ipv6AddressesSet", |_| {})
        .text("interfaceType", "interface");
    tags_xml(x, &[]);
}

/// DescribeInstanceAttribute's attributes beyond userData, instanceType and groupSet
/// (`ec2::handle` answers those): the instance's stored switches and what EC2 shows
/// for Shoal's instances (no block devices of their own, ENA, no EBS optimization).
pub fn instance_attribute(mut x: Xml, inst: &Instance, attribute: &str) -> AwsResult<Xml> {
    let value = |x: &mut Xml, tag: &str, v: &dyn std::fmt::Display| {
        x.el(tag, |x| {
            x.text("value", v);
        });
    };
    let s = &inst.switches;
    match attribute {
        "instanceInitiatedShutdownBehavior" => {
            value(&mut x, "instanceInitiatedShutdownBehavior", &s.shutdown_behavior())
        }
        "disableApiTermination" => {
            value(&mut x, "disableApiTermination", &s.disable_api_termination)
        }
        "disableApiStop" => value(&mut x, "disableApiStop", &s.disable_api_stop),
        "rootDeviceName" => value(&mut x, "rootDeviceName", &"/dev/xvda"),
        "sourceDestCheck" => value(&mut x, "sourceDestCheck", &true),
        "ebsOptimized" => value(&mut x, "ebsOptimized", &false),
        "enaSupport" => value(&mut x, "enaSupport", &true),
        "sriovNetSupport" => {
            x.el("sriovNetSupport", |_| {});
        }
        "blockDeviceMapping" => {
            x.el("blockDeviceMapping", |_| {});
        }
        "productCodes" => {
            x.el("productCodes", |_| {});
        }
        "enclaveOptions" => {
            x.el("enclaveOptions", |x| {
                x.text("enabled", false);
            });
        }
        other => {
            return Err(AwsError::invalid_parameter_value(format!(
                "Value ({other}) for parameter attribute is invalid. Unknown attribute."
            )))
        }
    }
    Ok(x)
}

/// DescribeImageAttribute's one attribute, as EC2 answers it for Shoal's images (an EBS
/// root, UEFI-preferred, no kernel/ramdisk/product codes, no deregistration protection);
/// an attribute with no value is an empty element.
fn image_attribute(
    x: &mut Xml,
    image: &Image,
    last_launch: Option<chrono::DateTime<chrono::Utc>>,
    attribute: &str,
) -> AwsResult<()> {
    let value = |x: &mut Xml, tag: &str, v: Option<&str>| {
        x.el(tag, |x| {
            x.opt("value", v);
        });
    };
    match attribute {
        "description" => value(x, "description", image.description.as_deref()),
        "kernel" | "ramdisk" | "tpmSupport" | "uefiData" | "imdsSupport" => {
            value(x, attribute, None)
        }
        "sriovNetSupport" => value(x, attribute, Some("simple")),
        "bootMode" => value(x, attribute, Some("uefi-preferred")),
        "deregistrationProtection" => value(x, attribute, Some("disabled")),
        "lastLaunchedTime" => {
            value(x, attribute, last_launch.map(format_time).as_deref());
        }
        "launchPermission" => {
            // A public image is launchable by group `all`; a private one only by its owner.
            x.list("launchPermission", "item", image.public.then_some(()), |x, _| {
                x.text("group", "all");
            });
        }
        "productCodes" => {
            x.el("productCodes", |_| {});
        }
        "blockDeviceMapping" => {
            x.list("blockDeviceMapping", "item", [image], super::ec2::image_block_device_xml);
        }
        other => {
            return Err(AwsError::invalid_parameter_value(format!(
                "Value ({other}) for parameter attribute is invalid. Unknown attribute."
            )))
        }
    }
    Ok(())
}
