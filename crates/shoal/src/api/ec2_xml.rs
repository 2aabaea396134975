//! EC2's XML encoders: instances, VPCs, subnets, security groups, images, launch
//! templates and their versions, as the EC2 API (2016-11-15) renders them.

use shoal_model::ec2::format_time;
use shoal_model::ec2::image::Image;
use shoal_model::ec2::instance::{Instance, InstanceMetadataOptions};
use shoal_model::ec2::launch_template::{
    LaunchOptions, LaunchTemplateVersion, NetworkInterfaceSpec,
};
use shoal_model::ec2::security_group::Permission;
use shoal_model::ec2::{instance_type, LaunchTemplate, SecurityGroup, Subnet, Vpc};
use shoal_model::tags::Tag;
use shoal_model::ACCOUNT_ID;

use super::xml::Xml;
use crate::service::ec2::StateChange;
use crate::service::Service;

pub(super) fn group_names(svc: &Service, inst: Option<&Instance>) -> Vec<(String, String)> {
    let Some(inst) = inst else { return vec![] };
    let names = svc.security_group_names(&inst.security_group_ids);
    inst.security_group_ids
        .iter()
        .cloned()
        .zip(names.into_iter().map(Option::unwrap_or_default))
        .collect()
}

pub fn tags_xml(x: &mut Xml, tags: &[Tag]) {
    if !tags.is_empty() {
        x.list("tagSet", "item", tags, |x, t| {
            x.text("key", &t.key).text("value", &t.value);
        });
    }
}

/// `ip-172-31-0-5.ec2.internal` in us-east-1, `….<region>.compute.internal` elsewhere.
pub(super) fn private_dns(inst: &Instance) -> String {
    let region = shoal_model::region::of_zone(&inst.availability_zone);
    shoal_model::region::private_dns_name(region, inst.private_ip)
}

pub(super) fn instance_xml(x: &mut Xml, i: &Instance, groups: &[(String, String)]) {
    let vcpus = instance_type::lookup(&i.instance_type).map(|t| t.vcpus).unwrap_or(1);
    x.text("instanceId", &i.id)
        .text("imageId", &i.image_id)
        .el("instanceState", |x| {
            x.text("code", i.state.code()).text("name", i.state.name());
        })
        .text("privateDnsName", private_dns(i))
        .text("dnsName", "")
        .text("reason", &i.state_transition_reason)
        .opt("keyName", i.key_name.as_deref())
        .text("amiLaunchIndex", i.ami_launch_index)
        .el("productCodes", |_| {})
        .text("instanceType", &i.instance_type)
        .text("launchTime", format_time(i.launch_time))
        .el("placement", |x| {
            x.text("availabilityZone", &i.availability_zone)
                .text("groupName", "")
                .text("tenancy", "default");
        })
        .el("monitoring", |x| {
            x.text("state", i.monitoring_state());
        });
    if let Some(p) = &i.iam_instance_profile {
        x.el("iamInstanceProfile", |x| {
            x.text("arn", &p.arn).text("id", &p.id);
        });
    }
    x.text("subnetId", &i.subnet_id)
        .text("vpcId", &i.vpc_id)
        .text("privateIpAddress", i.private_ip);
    // The loopback address is how this machine reaches the instance: its public address.
    if i.state.wants_processes() && i.has_public_ip {
        x.text("ipAddress", i.loopback_ip);
    }
    x.text("sourceDestCheck", "true").list("groupSet", "item", groups, |x, (id, name)| {
        x.text("groupId", id).text("groupName", name);
    });
    if let Some(r) = &i.state_reason {
        x.el("stateReason", |x| {
            x.text("code", &r.code).text("message", &r.message);
        });
    }
    let arch =
        instance_type::lookup(&i.instance_type).map_or("x86_64", |t| t.arch.image_architecture());
    x.text("architecture", arch)
        .text("rootDeviceType", "ebs")
        .text("rootDeviceName", "/dev/xvda")
        .el("blockDeviceMapping", |_| {})
        .text("virtualizationType", "hvm")
        .opt("clientToken", i.client_token.as_deref());
    tags_xml(x, &i.tags);
    x.text("hypervisor", "xen")
        .list("networkInterfaceSet", "item", [()], |x, _| {
            x.text("networkInterfaceId", format!("eni-{}", &i.id[2..]))
                .text("subnetId", &i.subnet_id)
                .text("vpcId", &i.vpc_id)
                .text("ownerId", ACCOUNT_ID)
                .text("status", "in-use")
                .text("privateIpAddress", i.private_ip)
                .text("privateDnsName", private_dns(i))
                .text("sourceDestCheck", "true")
                .list("groupSet", "item", groups, |x, (id, name)| {
                    x.text("groupId", id).text("groupName", name);
                })
                .el("attachment", |x| {
                    x.text("attachmentId", format!("eni-attach-{}", &i.id[2..]))
                        .text("deviceIndex", 0)
                        .text("status", "attached")
                        .text("attachTime", format_time(i.launch_time))
                        .text("deleteOnTermination", "true");
                })
                .list("privateIpAddressesSet", "item", [()], |x, _| {
                    x.text("privateIpAddress", i.private_ip)
                        .text("privateDnsName", private_dns(i))
                        .text("primary", "true");
                });
            if i.state.wants_processes() && i.has_public_ip {
                x.el("association", |x| {
                    x.text("publicIp", i.loopback_ip)
                        .text("publicDnsName", "")
                        .text("ipOwnerId", "amazon");
                });
            }
        })
        .text("ebsOptimized", "false")
        .text("enaSupport", "true")
        .el("cpuOptions", |x| {
            x.text("coreCount", vcpus.div_ceil(2).max(1))
                .text("threadsPerCore", if vcpus > 1 { 2 } else { 1 });
        })
        .el("metadataOptions", |x| metadata_options_xml(x, &i.metadata_options))
        .text("platformDetails", "Linux/UNIX")
        .text("usageOperation", "RunInstances")
        .text("bootMode", "uefi-preferred")
        .text("currentInstanceBootMode", "legacy-bios");
}

/// An instance's IMDS settings (DescribeInstances, ModifyInstanceMetadataOptions).
pub fn metadata_options_xml(x: &mut Xml, m: &InstanceMetadataOptions) {
    x.text("state", "applied")
        .text("httpTokens", &m.http_tokens)
        .text("httpPutResponseHopLimit", m.http_put_response_hop_limit)
        .text("httpEndpoint", &m.http_endpoint)
        .text("httpProtocolIpv6", &m.http_protocol_ipv6)
        .text("instanceMetadataTags", &m.instance_metadata_tags);
}

pub(super) fn state_change_xml(x: &mut Xml, c: &StateChange) {
    x.text("instanceId", &c.instance_id)
        .el("currentState", |x| {
            x.text("code", c.current.code()).text("name", c.current.name());
        })
        .el("previousState", |x| {
            x.text("code", c.previous.code()).text("name", c.previous.name());
        });
}

pub(super) fn vpc_xml(x: &mut Xml, v: &Vpc) {
    x.text("vpcId", &v.id)
        .text("ownerId", ACCOUNT_ID)
        .text("state", "available")
        .text("cidrBlock", v.cidr)
        .list("cidrBlockAssociationSet", "item", [()], |x, _| {
            x.text("cidrBlock", v.cidr)
                .text("associationId", format!("vpc-cidr-assoc-{}", &v.id[4..]))
                .el("cidrBlockState", |x| {
                    x.text("state", "associated");
                });
        })
        .text("dhcpOptionsId", "dopt-00000000")
        .text("instanceTenancy", "default")
        .text("isDefault", v.is_default);
    tags_xml(x, &v.tags);
}

pub(super) fn subnet_xml(x: &mut Xml, s: &Subnet) {
    x.text("subnetId", &s.id)
        .text(
            "subnetArn",
            format!(
                "arn:aws:ec2:{}:{ACCOUNT_ID}:subnet/{}",
                shoal_model::region::of_zone(&s.availability_zone),
                s.id
            ),
        )
        .text("state", "available")
        .text("ownerId", ACCOUNT_ID)
        .text("vpcId", &s.vpc_id)
        .text("cidrBlock", s.cidr)
        .text("availableIpAddressCount", shoal_model::ec2::network::usable_addresses(s.cidr))
        .text("availabilityZone", &s.availability_zone)
        .opt("availabilityZoneId", shoal_model::region::zone_id(&s.availability_zone))
        .text("defaultForAz", s.default_for_az)
        .text("mapPublicIpOnLaunch", s.map_public_ip_on_launch)
        .text("assignIpv6AddressOnCreation", "false");
    tags_xml(x, &s.tags);
}

pub(super) fn permission_xml(x: &mut Xml, p: &Permission) {
    x.text("ipProtocol", &p.protocol)
        .opt("fromPort", p.from_port)
        .opt("toPort", p.to_port)
        .list("groups", "item", &p.group_ids, |x, g| {
            x.text("groupId", g)
                .text("userId", ACCOUNT_ID)
                .opt("description", p.descriptions.get(g));
        })
        .list("ipRanges", "item", &p.cidrs, |x, c| {
            x.text("cidrIp", c).opt("description", p.descriptions.get(c));
        })
        .el("ipv6Ranges", |_| {})
        .el("prefixListIds", |_| {});
}

pub(super) fn security_group_xml(x: &mut Xml, g: &SecurityGroup) {
    x.text("ownerId", ACCOUNT_ID)
        .text("groupId", &g.id)
        .text("groupName", &g.name)
        .text("groupDescription", &g.description)
        .text("vpcId", &g.vpc_id)
        .list("ipPermissions", "item", &g.ingress, permission_xml)
        .list("ipPermissionsEgress", "item", &g.egress, permission_xml);
    tags_xml(x, &g.tags);
}

pub(super) fn image_xml(x: &mut Xml, i: &Image) {
    x.text("imageId", &i.id)
        .text(
            "imageLocation",
            format!("{}/{}", i.owner_alias.as_deref().unwrap_or(&i.owner_id), i.name),
        )
        .text("imageState", i.state.name())
        .text("imageOwnerId", &i.owner_id)
        .text("creationDate", format_time(i.creation_date))
        .text("isPublic", i.public)
        .text("architecture", &i.architecture)
        .text("imageType", "machine")
        .opt("imageOwnerAlias", i.owner_alias.as_deref())
        .text("name", &i.name)
        .opt("description", i.description.as_deref())
        .text("rootDeviceType", "ebs")
        .text("rootDeviceName", "/dev/xvda")
        .list("blockDeviceMapping", "item", [i], image_block_device_xml)
        .text("virtualizationType", "hvm")
        .text("hypervisor", "xen")
        .text("enaSupport", "true")
        .text("platformDetails", "Linux/UNIX")
        .text("usageOperation", "RunInstances")
        .text("bootMode", "uefi-preferred");
    if let Some(src) = &i.source_instance_id {
        x.text("sourceInstanceId", src);
    }
    tags_xml(x, &i.tags);
}

/// An image's one root device, as DescribeImages and DescribeImageAttribute list it.
pub fn image_block_device_xml(x: &mut Xml, i: &Image) {
    x.text("deviceName", "/dev/xvda").el("ebs", |x| {
        x.text("snapshotId", i.snapshot_id())
            .text("volumeSize", 8)
            .text("deleteOnTermination", "true")
            .text("volumeType", "gp3")
            .text("encrypted", "false");
    });
}

pub(super) fn launch_template_xml(x: &mut Xml, t: &LaunchTemplate) {
    x.text("launchTemplateId", &t.id)
        .text("launchTemplateName", &t.name)
        .text("createTime", format_time(t.create_time))
        .text("createdBy", &t.created_by)
        .text("defaultVersionNumber", t.default_version)
        .text("latestVersionNumber", t.latest_version);
    tags_xml(x, &t.tags);
}

pub(super) fn version_xml(
    x: &mut Xml,
    v: &LaunchTemplateVersion,
    template: Option<&LaunchTemplate>,
) {
    x.text("launchTemplateId", &v.template_id)
        .text("launchTemplateName", &v.template_name)
        .text("versionNumber", v.number)
        .opt("versionDescription", v.description.as_deref())
        .text("createTime", format_time(v.create_time))
        .text("createdBy", &v.created_by);
    if let Some(t) = template {
        x.text("defaultVersion", t.default_version == v.number);
    }
    let d = &v.data;
    x.el("launchTemplateData", |x| {
        x.opt("imageId", d.image_id.as_deref())
            .opt("instanceType", d.instance_type.as_deref())
            .opt("keyName", d.key_name.as_deref());
        if !d.security_group_ids.is_empty() {
            x.list("securityGroupIdSet", "item", &d.security_group_ids, |x, g| {
                x.raw(&super::xml::escape(g));
            });
        }
        if !d.security_groups.is_empty() {
            x.list("securityGroupSet", "item", &d.security_groups, |x, g| {
                x.raw(&super::xml::escape(g));
            });
        }
        x.opt("userData", d.user_data.as_deref());
        if !d.tag_specifications.is_empty() {
            x.list("tagSpecificationSet", "item", &d.tag_specifications, |x, s| {
                x.text("resourceType", &s.resource_type).list("tagSet", "item", &s.tags, |x, t| {
                    x.text("key", &t.key).text("value", &t.value);
                });
            });
        }
        if let Some(z) = &d.availability_zone {
            x.el("placement", |x| {
                x.text("availabilityZone", z);
            });
        }
        if let Some(m) = d.monitoring_enabled {
            x.el("monitoring", |x| {
                x.text("enabled", m);
            });
        }
        match (&d.network_interface, &d.subnet_id) {
            (Some(n), _) => {
                x.list("networkInterfaceSet", "item", [n], interface_spec_xml);
            }
            // A version stored before interfaces were kept whole: its subnet.
            (None, Some(s)) => {
                x.list("networkInterfaceSet", "item", [s], |x, s| {
                    x.text("deviceIndex", 0).text("subnetId", s);
                });
            }
            (None, None) => {}
        }
        launch_options_xml(x, &d.options);
    });
}

pub(super) fn interface_spec_xml(x: &mut Xml, n: &NetworkInterfaceSpec) {
    x.opt("associatePublicIpAddress", n.associate_public_ip_address)
        .opt("deleteOnTermination", n.delete_on_termination)
        .opt("description", n.description.as_deref())
        .opt("deviceIndex", n.device_index);
    if !n.groups.is_empty() {
        x.list("groupSet", "groupId", &n.groups, |x, g| {
            x.raw(&super::xml::escape(g));
        });
    }
    x.opt("privateIpAddress", n.private_ip_address.as_deref())
        .opt("subnetId", n.subnet_id.as_deref());
}

/// A version's launch options exactly as given: what Terraform and Ansible compare.
pub(super) fn launch_options_xml(x: &mut Xml, o: &LaunchOptions) {
    if let Some(p) = &o.iam_instance_profile {
        x.el("iamInstanceProfile", |x| {
            x.opt("arn", p.arn.as_deref()).opt("name", p.name.as_deref());
        });
    }
    if !o.block_device_mappings.is_empty() {
        x.list("blockDeviceMappingSet", "item", &o.block_device_mappings, |x, b| {
            x.opt("deviceName", b.device_name.as_deref())
                .opt("virtualName", b.virtual_name.as_deref());
            if let Some(e) = &b.ebs {
                x.el("ebs", |x| {
                    x.opt("encrypted", e.encrypted)
                        .opt("deleteOnTermination", e.delete_on_termination)
                        .opt("iops", e.iops)
                        .opt("kmsKeyId", e.kms_key_id.as_deref())
                        .opt("snapshotId", e.snapshot_id.as_deref())
                        .opt("volumeSize", e.volume_size)
                        .opt("volumeType", e.volume_type.as_deref())
                        .opt("throughput", e.throughput);
                });
            }
            x.opt("noDevice", b.no_device.as_deref());
        });
    }
    x.opt("disableApiTermination", o.disable_api_termination)
        .opt("disableApiStop", o.disable_api_stop)
        .opt("instanceInitiatedShutdownBehavior", o.shutdown_behavior.as_deref());
    if let Some(c) = &o.cpu_credits {
        x.el("creditSpecification", |x| {
            x.text("cpuCredits", c);
        });
    }
    if let Some(m) = &o.metadata_options {
        x.el("metadataOptions", |x| {
            x.opt("httpTokens", m.http_tokens.as_deref())
                .opt("httpPutResponseHopLimit", m.http_put_response_hop_limit)
                .opt("httpEndpoint", m.http_endpoint.as_deref())
                .opt("httpProtocolIpv6", m.http_protocol_ipv6.as_deref())
                .opt("instanceMetadataTags", m.instance_metadata_tags.as_deref());
        });
    }
}
