//! The resolver controller: each VPC with a running (or booting) instance in a VPC network
//! has its DNS resolver (`api::dns`) at the VPC's base + 2, port 53, inside the VPC's
//! own network, and no other VPC has one. Keyed by VPC.
//!
//! The VPC's network (its router namespace) is made with its first instance and removed
//! with its last; one made again is another namespace (another identity), where the
//! sockets are made again. A VPC whose network is not made yet is looked at again
//! shortly.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::control::runner::{self, Action, BoxFuture, ControlError, Controller, Settings};
use crate::control::served::Served;
use crate::runtime::vpcnet::dns::resolver_ip;
use crate::service::Service;

/// How soon a VPC whose network is not made yet is looked at again.
const NETWORK_PENDING: Duration = Duration::from_millis(250);

pub struct DnsController {
    service: Weak<Service>,
    serving: Served<String>,
}

impl DnsController {
    pub fn new(service: &Arc<Service>) -> DnsController {
        DnsController { service: Arc::downgrade(service), serving: Served::new("DNS resolver") }
    }
}

impl Controller for DnsController {
    type Key = String;
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "dns"
    }

    /// The VPCs of every instance with a network, and every one still served.
    fn keys(&self, svc: &Service) -> Vec<String> {
        let ids = crate::control::instances_with_networks(svc);
        let mut vpcs: Vec<String> = svc.read(|s| {
            ids.iter().filter_map(|id| s.instances.get(id)).map(|i| i.vpc_id.clone()).collect()
        });
        vpcs.extend(self.serving.keys());
        vpcs.sort();
        vpcs.dedup();
        vpcs
    }

    fn reconcile<'a>(
        &'a self,
        vpc_id: &'a String,
        svc: &'a Service,
    ) -> BoxFuture<'a, Result<Action, ControlError>> {
        Box::pin(async move {
            let wanted = svc.driver.vpc_network()
                && svc.read(|s| {
                    s.instances.values().any(|i| &i.vpc_id == vpc_id && i.state.wants_processes())
                });
            let network = wanted.then(|| svc.driver.vpc_network_identity(vpc_id)).flatten();
            let zone = svc.vpc_dns(vpc_id);
            let (Some(network), Some(zone)) = (network, zone) else {
                self.serving.stop(vpc_id);
                return Ok(if wanted {
                    Action::requeue(NETWORK_PENDING)
                } else {
                    Action::await_change()
                });
            };
            if self.serving.current(vpc_id, network) {
                return Ok(Action::await_change());
            }
            self.serving.stop(vpc_id);
            let addr = resolver_ip(zone.cidr);
            let (driver, vpc) = (svc.driver.clone(), vpc_id.clone());
            // Entering the namespace blocks a thread: off the async workers.
            let (udp, tcp) =
                tokio::task::spawn_blocking(move || driver.listen_for_dns(&vpc, addr)).await??;
            let tasks = crate::api::dns::serve(udp, tcp, vpc_id, self.service.clone())?;
            self.serving.insert(vpc_id.clone(), network, tasks);
            Ok(Action::await_change())
        })
    }
}

/// Runs until shutdown; the resolvers go with it.
pub async fn run(svc: Arc<Service>, shutdown: watch::Receiver<bool>) {
    let controller = Arc::new(DnsController::new(&svc));
    let settings = Settings::watching(svc.config.resync_interval, 2);
    let commits = Some(svc.subscribe());
    runner::run(controller.clone(), svc, settings, commits, shutdown).await;
    controller.serving.stop_all();
}
