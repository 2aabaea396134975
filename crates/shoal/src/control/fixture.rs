//! A service for controller unit tests: in-memory store, fake driver, manual clock.

use std::sync::Arc;

use chrono::TimeZone;

use crate::clock::ManualClock;
use crate::config::Config;
use crate::runtime::fake::FakeDriver;
use crate::service::ec2::RunInstances;
use crate::service::Service;

#[allow(dead_code)] // `clock`: for the tests that move time
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

    pub fn state(&self, id: &str) -> shoal_model::ec2::InstanceState {
        self.svc.instance(id).unwrap().state
    }
}
