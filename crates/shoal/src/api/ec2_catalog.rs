//! EC2's catalog actions: DescribeInstanceTypes and DescribeInstanceTypeOfferings.

use shoal_model::ec2::instance_type::InstanceType;
use shoal_model::AwsResult;

use super::query::Params;
use super::xml::Xml;
use crate::service::Service;

pub fn handle(svc: &Service, action: &str, p: &Params) -> AwsResult<Xml> {
    let mut x = Xml::new();
    match action {
        "DescribeInstanceTypes" => {
            let page = svc.describe_instance_types(
                &p.list("InstanceType"),
                &p.filters(),
                p.number("MaxResults")?,
                p.get("NextToken"),
            )?;
            x.list("instanceTypeSet", "item", page.items, instance_type_xml);
            x.opt("nextToken", page.next_token);
        }
        _ => {
            let page = svc.describe_instance_type_offerings(
                p.get("LocationType"),
                &p.filters(),
                p.number("MaxResults")?,
                p.get("NextToken"),
            )?;
            x.list("instanceTypeOfferingSet", "item", page.items, |x, (name, kind, location)| {
                x.text("instanceType", name).text("locationType", kind).text("location", location);
            });
            x.opt("nextToken", page.next_token);
        }
    }
    Ok(x)
}

fn items<'a>(x: &mut Xml, tag: &str, values: impl IntoIterator<Item = &'a str>) {
    x.list(tag, "item", values, |x, v| {
        x.raw(&super::xml::escape(v));
    });
}

fn instance_type_xml(x: &mut Xml, t: &InstanceType) {
    x.text("instanceType", t.name)
        .text("currentGeneration", t.current_generation)
        .text("freeTierEligible", t.free_tier_eligible);
    items(x, "supportedUsageClasses", ["on-demand", "spot"]);
    items(x, "supportedRootDeviceTypes", ["ebs"]);
    items(x, "supportedVirtualizationTypes", t.virtualization_types().iter().copied());
    x.text("bareMetal", t.is_bare_metal()).opt("hypervisor", t.hypervisor_name());
    x.el("processorInfo", |x| {
        items(x, "supportedArchitectures", t.arch.names().iter().copied());
    })
    .el("vCpuInfo", |x| {
        x.text("defaultVCpus", t.vcpus)
            .text("defaultCores", t.cores())
            .text("defaultThreadsPerCore", t.threads_per_core());
    })
    .el("memoryInfo", |x| {
        x.text("sizeInMiB", t.memory_mib);
    })
    .el("networkInfo", |x| {
        x.text("networkPerformance", t.network_performance);
    })
    .text("burstablePerformanceSupported", t.burstable);
    // Graviton boots UEFI only, Xen types legacy BIOS only, Nitro x86 either.
    let boot_modes: &[&str] = match (t.arch.image_architecture(), t.hypervisor_name()) {
        ("arm64" | "arm64_mac", _) => &["uefi"],
        (_, Some("xen")) => &["legacy-bios"],
        _ => &["legacy-bios", "uefi"],
    };
    items(x, "supportedBootModes", boot_modes.iter().copied());
}
