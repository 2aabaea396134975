//! A Shoal without processes or sockets: the real service, store (in memory) and
//! controllers over `FakeDriver` and a `ManualClock`.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use shoal::clock::ManualClock;
use shoal::config::Config;
use shoal::runtime::fake::FakeDriver;
use shoal::service::Service;
use shoal_model::autoscaling::group::CreateGroupRequest;
use shoal_model::autoscaling::policy::{
    PredefinedMetric, PredefinedMetricType, PutPolicyRequest, TargetTrackingConfiguration,
};
use shoal_model::ec2::launch_template::LaunchTemplateData;
use shoal_model::ec2::launch_template::LaunchTemplateSpec;
use shoal_model::ec2::InstanceState;

pub struct World {
    pub svc: Arc<Service>,
    pub clock: ManualClock,
    pub driver: Arc<FakeDriver>,
}

impl World {
    pub fn new() -> World {
        let clock =
            ManualClock::starting_at(chrono::Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap());
        let driver = Arc::new(FakeDriver::default());
        let mut config = Config::new(std::env::temp_dir().join("shoal-it-unused"));
        config.stop_grace = Duration::ZERO;
        // The fake driver starts no process, so the host-derived quotas do not apply:
        // the simulations run a thousand instances.
        config.quotas.on_demand_vcpus = 1_000_000;
        config.quotas.max_instances = 1_000_000;
        let svc = Service::new(
            config,
            Arc::new(clock.clone()),
            driver.clone(),
            shoal_store::Store::in_memory().unwrap(),
        )
        .unwrap();
        let svc = Arc::new(svc);
        svc.bootstrap().unwrap();
        World { svc, clock, driver }
    }

    /// A launch template of the base image, as the lab's `exercise-launch-template`
    /// (made once; later groups reuse it).
    pub fn template(&self) -> LaunchTemplateSpec {
        let name = "exercise-launch-template";
        let existing = self
            .svc
            .read(|s| s.launch_templates.values().find(|t| t.name == name).map(|t| t.id.clone()));
        if let Some(id) = existing {
            return LaunchTemplateSpec { id: Some(id), name: None, version: None };
        }
        let base = self.svc.read(|s| shoal::service::ec2::base_image(s).unwrap().id.clone());
        let data = LaunchTemplateData {
            image_id: Some(base),
            instance_type: Some("t2.micro".into()),
            ..Default::default()
        };
        let (t, _) = self.svc.create_launch_template(name, None, data, &[]).unwrap();
        LaunchTemplateSpec { id: Some(t.id), name: None, version: None }
    }

    /// The default subnets of two zones, as `VPCZoneIdentifier` would list them.
    pub fn two_zones(&self) -> Vec<String> {
        self.svc.read(|s| {
            let mut subnets: Vec<_> = s.subnets.values().filter(|s| s.default_for_az).collect();
            subnets.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
            subnets.iter().take(2).map(|s| s.id.clone()).collect()
        })
    }

    /// A group of the lab's template over two zones.
    pub fn create_group(&self, name: &str, min: i64, max: i64, warmup: Option<i64>) {
        let t = self.template();
        let req = CreateGroupRequest {
            name: name.into(),
            launch_template: Some(shoal_model::ec2::launch_template::LaunchTemplateSpec {
                id: t.id,
                name: None,
                version: None,
            }),
            min_size: Some(min),
            max_size: Some(max),
            default_instance_warmup: warmup,
            ..Default::default()
        };
        let placement = shoal::service::autoscaling::Placement {
            subnet_ids: self.two_zones(),
            availability_zones: vec![],
        };
        self.svc.create_auto_scaling_group(req, placement).unwrap();
    }

    /// A target-tracking policy on a predefined metric, scale-in enabled.
    pub fn target_tracking(
        &self,
        group: &str,
        policy: &str,
        metric: PredefinedMetricType,
        target: f64,
    ) {
        let tracking = TargetTrackingConfiguration {
            predefined: Some(PredefinedMetric { metric_type: metric, resource_label: None }),
            customized: None,
            target_value: target,
            disable_scale_in: false,
        };
        let req = PutPolicyRequest {
            policy_name: policy.into(),
            policy_type: Some("TargetTrackingScaling".into()),
            target_tracking: Some(tracking),
            ..Default::default()
        };
        self.svc.put_scaling_policy(group, req).unwrap();
    }

    /// Ids of the running instances.
    pub fn running(&self) -> Vec<String> {
        self.svc.read(|s| {
            s.instances
                .values()
                .filter(|i| i.state == InstanceState::Running)
                .map(|i| i.id.clone())
                .collect()
        })
    }

    /// Runs every controller once, as one tick of the daemon would.
    pub async fn tick(&self) {
        shoal::control::instances::reconcile_inline(&self.svc).await.unwrap();
        for name in self.svc.read(|s| s.groups.keys().cloned().collect::<Vec<_>>()) {
            shoal::control::groups::reconcile(&self.svc, &name).unwrap();
        }
        shoal::control::instances::reconcile_inline(&self.svc).await.unwrap();
    }

    /// Ticks until `done` holds (bounded).
    pub async fn settle(&self, what: &str, done: impl Fn(&World) -> bool) {
        for _ in 0..50 {
            if done(self) {
                return;
            }
            self.clock.advance(Duration::from_secs(1));
            self.tick().await;
        }
        panic!("did not settle: {what}");
    }
}
