//! The service's own rules, driven as the fronts drive it, on an in-memory (or
//! file) store, the fake driver and a manual clock: an operation that fails changes
//! nothing, what was acknowledged survives reopening the store, and the cross-resource
//! checks that live here rather than in the model.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use shoal_model::autoscaling::group::CreateGroupRequest;
use shoal_model::ec2::instance::Transition;
use shoal_model::ec2::launch_template::LaunchTemplateSpec;
use shoal_model::ec2::security_group::Permission;
use shoal_model::ec2::LaunchTemplateData;
use shoal_model::{AwsResult, ErrorCode};

use super::autoscaling::Placement;
use super::ec2::RunInstances;
use super::Service;
use crate::clock::ManualClock;
use crate::config::Config;
use crate::runtime::fake::FakeDriver;

/// A bootstrapped service (default VPC, subnets, base image) over `store`.
pub(crate) fn service_over(store: shoal_store::Store) -> (Arc<Service>, ManualClock) {
    let clock = ManualClock::starting_at(Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap());
    let config = Config::new(std::env::temp_dir().join("shoal-service-unit"));
    let svc = Service::new(config, Arc::new(clock.clone()), Arc::new(FakeDriver::default()), store)
        .unwrap();
    svc.bootstrap().unwrap();
    (Arc::new(svc), clock)
}

pub(crate) fn service() -> (Arc<Service>, ManualClock) {
    service_over(shoal_store::Store::in_memory().unwrap())
}

fn tcp(port: i32, cidr: &str) -> Permission {
    Permission {
        protocol: "tcp".into(),
        from_port: Some(port),
        to_port: Some(port),
        cidrs: vec![cidr.into()],
        ..Permission::allow_all_egress()
    }
}

fn base_image(svc: &Service) -> String {
    svc.read(|s| super::ec2::base_image(s).unwrap().id.clone())
}

fn launch(svc: &Service, count: u32, subnet: Option<&str>) -> Vec<shoal_model::ec2::Instance> {
    svc.run_instances(RunInstances {
        image_id: Some(base_image(svc)),
        min_count: count,
        max_count: count,
        subnet_id: subnet.map(String::from),
        ..Default::default()
    })
    .unwrap()
    .instances
}

#[test]
fn a_new_security_group_has_aws_default_egress_rule_and_no_ingress() {
    let (svc, _) = service();
    let g = svc.create_security_group("web", "web servers", None, &[]).unwrap();
    assert!(g.ingress.is_empty());
    assert_eq!(g.egress, vec![Permission::allow_all_egress()]);
    let default_vpc = svc.describe_vpcs(&[], &[]).unwrap().into_iter().find(|v| v.is_default);
    assert_eq!(Some(g.vpc_id), default_vpc.map(|v| v.id));
}

#[test]
fn an_authorize_with_one_duplicate_rule_adds_none_of_its_rules() {
    let (svc, _) = service();
    let g = svc.create_security_group("web", "web servers", None, &[]).unwrap();
    svc.change_security_group_rules(Some(&g.id), None, true, true, vec![tcp(80, "0.0.0.0/0")])
        .unwrap();
    let err = svc
        .change_security_group_rules(
            Some(&g.id),
            None,
            true,
            true,
            vec![tcp(3000, "0.0.0.0/0"), tcp(80, "0.0.0.0/0")],
        )
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidPermissionDuplicate);
    let after = svc.describe_security_groups(std::slice::from_ref(&g.id), &[], &[]).unwrap();
    assert_eq!(after[0].ingress, vec![tcp(80, "0.0.0.0/0")], "port 3000 was not added");
}

#[test]
fn revoking_a_rule_that_is_not_there_is_refused() {
    let (svc, _) = service();
    let g = svc.create_security_group("ssh", "ssh", None, &[]).unwrap();
    let err = svc
        .change_security_group_rules(Some(&g.id), None, true, false, vec![tcp(22, "10.0.0.0/8")])
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidPermissionNotFound);
}

#[test]
fn a_group_an_instance_uses_cannot_be_deleted() {
    let (svc, _) = service();
    let g = svc.create_security_group("web", "web servers", None, &[]).unwrap();
    let instance = svc
        .run_instances(RunInstances {
            image_id: Some(base_image(&svc)),
            min_count: 1,
            max_count: 1,
            security_group_ids: vec![g.id.clone()],
            ..Default::default()
        })
        .unwrap()
        .instances
        .remove(0);
    let err = svc.delete_security_group(Some(&g.id), None).unwrap_err();
    assert_eq!(err.code, ErrorCode::DependencyViolation);
    assert_eq!(
        svc.describe_security_groups(std::slice::from_ref(&g.id), &[], &[]).unwrap().len(),
        1
    );
    svc.change_instance_states(std::slice::from_ref(&instance.id), Transition::Terminate).unwrap();
    svc.mutate(|s, c| {
        let mut i = s.instances[&instance.id].clone();
        i.state = shoal_model::ec2::InstanceState::Terminated;
        c.put(i);
        Ok(())
    })
    .unwrap();
    svc.delete_security_group(Some(&g.id), None).unwrap();
}

#[test]
fn instances_of_one_subnet_get_distinct_addresses_inside_it() {
    let (svc, _) = service();
    let subnet = svc.describe_subnets(&[], &[]).unwrap().remove(0);
    let cidr = subnet.cidr;
    let instances = launch(&svc, 5, Some(&subnet.id));
    let mut addresses: Vec<_> = instances.iter().map(|i| i.private_ip).collect();
    assert!(addresses.iter().all(|a| cidr.contains(*a)), "{addresses:?} in {cidr}");
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 5);
    // AWS reserves the first four addresses of every subnet and the last.
    assert!(addresses.iter().all(|a| *a >= cidr.nth(4)), "{addresses:?}");
}

#[test]
fn an_unknown_image_launches_nothing() {
    let (svc, _) = service();
    let before = svc.describe_instances(&[], &[], None, None).unwrap().items.len();
    let err = svc
        .run_instances(RunInstances {
            image_id: Some("ami-0123456789abcdef0".into()),
            min_count: 1,
            max_count: 1,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidAMIIDNotFound);
    assert_eq!(svc.describe_instances(&[], &[], None, None).unwrap().items.len(), before);
}

fn template(svc: &Service, name: &str) -> LaunchTemplateSpec {
    let data = LaunchTemplateData {
        image_id: Some(base_image(svc)),
        instance_type: Some("t3.micro".into()),
        ..Default::default()
    };
    let (lt, _) = svc.create_launch_template(name, None, data, &[]).unwrap();
    LaunchTemplateSpec { id: Some(lt.id), ..Default::default() }
}

/// CreateAutoScalingGroup `web` from a new template `app`, in every zone.
fn create_group(svc: &Service, min: i64, max: i64, desired: Option<i64>) -> AwsResult<()> {
    let req = CreateGroupRequest {
        name: "web".into(),
        launch_template: Some(template(svc, "app")),
        min_size: Some(min),
        max_size: Some(max),
        desired_capacity: desired,
        ..Default::default()
    };
    svc.create_auto_scaling_group(req, zones(svc))
}

fn zones(svc: &Service) -> Placement {
    Placement {
        subnet_ids: vec![],
        availability_zones: svc.availability_zones().into_iter().map(|(zone, _)| zone).collect(),
    }
}

#[test]
fn a_group_with_min_above_max_is_not_created() {
    let (svc, _) = service();
    let err = create_group(&svc, 3, 1, None).unwrap_err();
    assert_eq!(err.code, ErrorCode::ValidationError);
    assert!(svc.describe_auto_scaling_groups(&[], &[], None, None).unwrap().items.is_empty());
}

#[test]
fn a_desired_capacity_outside_the_group_bounds_is_refused_and_kept() {
    let (svc, _) = service();
    create_group(&svc, 1, 2, Some(1)).unwrap();
    let err = svc.set_desired_capacity("web", 3, false).unwrap_err();
    assert_eq!(err.code, ErrorCode::ValidationError);
    let g = svc.describe_auto_scaling_groups(&["web".into()], &[], None, None).unwrap();
    assert_eq!(g.items[0].desired_capacity, 1);
    let err = svc.set_desired_capacity("nope", 1, false).unwrap_err();
    assert_eq!(err.code, ErrorCode::ValidationError);
}

#[test]
fn a_group_names_its_template_without_echoing_a_version_it_was_not_given() {
    let (svc, _) = service();
    create_group(&svc, 0, 1, None).unwrap();
    let g = svc.describe_auto_scaling_groups(&["web".into()], &[], None, None).unwrap();
    let spec = g.items[0].launch_template.clone().unwrap();
    let template_id = svc.read(|s| s.launch_templates.values().next().map(|t| t.id.clone()));
    assert_eq!((spec.id, spec.version), (template_id, None));
}

#[test]
fn what_was_acknowledged_survives_reopening_the_store() {
    let dir = std::env::temp_dir().join(format!("shoal-service-reopen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.db");
    let (group_id, instance_id) = {
        let (svc, _) = service_over(shoal_store::Store::open(&path).unwrap());
        let g = svc.create_security_group("web", "web servers", None, &[]).unwrap();
        svc.change_security_group_rules(Some(&g.id), None, true, true, vec![tcp(80, "0.0.0.0/0")])
            .unwrap();
        let instance = launch(&svc, 1, None).remove(0);
        (g.id, instance.id)
    };
    let (svc, _) = service_over(shoal_store::Store::open(&path).unwrap());
    let g = svc.describe_security_groups(&[group_id], &[], &[]).unwrap();
    assert_eq!(g[0].ingress, vec![tcp(80, "0.0.0.0/0")]);
    let found =
        svc.describe_instances(std::slice::from_ref(&instance_id), &[], None, None).unwrap();
    assert_eq!(found.items[0].id, instance_id);
    assert_eq!(svc.describe_vpcs(&[], &[]).unwrap().len(), 1, "bootstrap is not repeated");
    drop(svc);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The default subnets as (zone, block), by zone.
fn default_subnets(svc: &Service) -> Vec<(String, String)> {
    let mut out: Vec<_> = svc.read(|s| {
        s.subnets
            .values()
            .filter(|n| n.default_for_az)
            .map(|n| (n.availability_zone.clone(), n.cidr.to_string()))
            .collect()
    });
    out.sort();
    out
}

#[test]
fn the_default_vpc_has_a_default_subnet_in_every_zone_and_older_ones_get_the_missing_once() {
    let (svc, _) = service();
    let six: Vec<(String, String)> = "abcdef"
        .chars()
        .enumerate()
        .map(|(i, z)| (format!("us-east-1{z}"), format!("172.31.{}.0/20", i * 16)))
        .collect();
    assert_eq!(default_subnets(&svc), six);
    // A default VPC as Shoal made it when us-east-1 had three zones.
    svc.mutate(|state, changes| {
        let mut vpc = state.vpcs.values().find(|v| v.is_default).unwrap().clone();
        vpc.default_subnet_zones = None;
        changes.put(vpc);
        for s in state.subnets.values().filter(|s| s.availability_zone.as_str() > "us-east-1c") {
            changes.delete::<shoal_model::ec2::Subnet>(&s.id);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(default_subnets(&svc).len(), 3);
    svc.bootstrap().unwrap();
    assert_eq!(default_subnets(&svc), six);
    // After that, a default subnet the user deletes stays deleted (AWS makes it again
    // only on CreateDefaultSubnet).
    let e = svc.read(|s| {
        s.subnets.values().find(|n| n.availability_zone == "us-east-1e").unwrap().id.clone()
    });
    svc.delete_subnet(&e).unwrap();
    svc.bootstrap().unwrap();
    assert_eq!(default_subnets(&svc).len(), 5);
}

#[test]
fn a_public_address_comes_from_the_interface_else_the_subnets_map_public_ip_on_launch() {
    let (svc, _) = service();
    let default_vpc = svc.describe_vpcs(&[], &[]).unwrap().into_iter().find(|v| v.is_default);
    let vpc = default_vpc.unwrap().id;
    // A default subnet maps public addresses; a new one does not.
    assert!(launch(&svc, 1, None)[0].has_public_ip);
    let private = svc.create_subnet(&vpc, "172.31.96.0/20", None, &[]).unwrap();
    assert!(!private.map_public_ip_on_launch);
    assert!(!launch(&svc, 1, Some(&private.id))[0].has_public_ip);
    // The launch's interface says otherwise, and wins either way.
    let with_interface = |subnet: &str, associate: bool| {
        svc.run_instances(RunInstances {
            image_id: Some(base_image(&svc)),
            min_count: 1,
            max_count: 1,
            subnet_id: Some(subnet.into()),
            network_interface: Some(shoal_model::ec2::launch_template::NetworkInterfaceSpec {
                device_index: Some(0),
                associate_public_ip_address: Some(associate),
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap()
        .instances
        .remove(0)
    };
    assert!(with_interface(&private.id, true).has_public_ip);
    let default_subnet = launch(&svc, 1, None)[0].subnet_id.clone();
    assert!(!with_interface(&default_subnet, false).has_public_ip);
    // ModifySubnetAttribute: later launches there get one; an unknown subnet or no
    // attribute changes nothing.
    svc.modify_subnet_attribute(&private.id, Some(true)).unwrap();
    assert!(launch(&svc, 1, Some(&private.id))[0].has_public_ip);
    let err = svc.modify_subnet_attribute("subnet-0123456789abcdef0", Some(false)).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidSubnetIDNotFound);
    assert_eq!(
        svc.modify_subnet_attribute(&private.id, None).unwrap_err().code,
        ErrorCode::MissingParameter
    );
    let subnet = svc.describe_subnets(std::slice::from_ref(&private.id), &[]).unwrap().remove(0);
    assert!(subnet.map_public_ip_on_launch);
}
