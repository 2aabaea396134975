//! A service for controller unit tests: in-memory store, fake driver, manual clock.

use std::sync::Arc;

use chrono::TimeZone;

use crate::clock::ManualClock;
use crate::config::Config;
use crate::runtime::fake::FakeDriver;
use crate::service::ec2::RunInstances;
use crate::service::Service;

pub struct Fixture {
    pub svc: Arc<Service>,
    pub clock: ManualClock,
    pub driver: Arc<FakeDriver>,
}

impl Fixture {
    pub fn new() -> Fixture {
        let clock =
            ManualClock::starting_at(chrono::Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap());
        let driver = Arc::new(FakeDriver::default());
        let mut config = Config::new(std::env::temp_dir().join("shoal-control-unit"));
        config.stop_grace = std::time::Duration::ZERO;
        let store = shoal_store::Store::in_memory().unwrap();
        let svc = Service::new(config, Arc::new(clock.clone()), driver.clone(), store).unwrap();
        let svc = Arc::new(svc);
        svc.bootstrap().unwrap();
        Fixture { svc, clock, driver }
    }

    /// RunInstances of `count` base-image instances; their ids.
    pub fn run(&self, count: u32) -> Vec<String> {
        let image = self.svc.read(|s| crate::service::ec2::base_image(s).unwrap().id.clone());
        let req = RunInstances {
            image_id: Some(image),
            min_count: count,
            max_count: count,
            ..Default::default()
        };
        self.svc.run_instances(req).unwrap().instances.into_iter().map(|i| i.id).collect()
    }

    /// A group of the base image (a launch template) over two zones' default subnets.
    pub fn group(&self, name: &str, min: i64, max: i64) {
        let image = self.svc.read(|s| crate::service::ec2::base_image(s).unwrap().id.clone());
        let data = shoal_model::ec2::launch_template::LaunchTemplateData {
            image_id: Some(image),
            instance_type: Some("t2.micro".into()),
            ..Default::default()
        };
        let template = format!("{name}-template");
        let (t, _) = self.svc.create_launch_template(&template, None, data, &[]).unwrap();
        let subnet_ids = self.svc.read(|s| {
            let mut subnets: Vec<_> = s.subnets.values().filter(|s| s.default_for_az).collect();
            subnets.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
            subnets.iter().take(2).map(|s| s.id.clone()).collect()
        });
        let req = shoal_model::autoscaling::group::CreateGroupRequest {
            name: name.into(),
            launch_template: Some(shoal_model::ec2::launch_template::LaunchTemplateSpec {
                id: Some(t.id),
                name: None,
                version: None,
            }),
            min_size: Some(min),
            max_size: Some(max),
            ..Default::default()
        };
        let placement =
            crate::service::autoscaling::Placement { subnet_ids, availability_zones: vec![] };
        self.svc.create_auto_scaling_group(req, placement).unwrap();
    }

    pub fn state(&self, id: &str) -> shoal_model::ec2::InstanceState {
        self.svc.instance(id).unwrap().state
    }
}
