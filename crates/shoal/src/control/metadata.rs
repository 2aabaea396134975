//! The metadata controller: each instance of a VPC network has its Instance Metadata
//! Service (`api::imds`) listening at 169.254.169.254:80 inside its own network while it
//! runs and its `HttpEndpoint` is `enabled`, and nowhere else. Keyed by instance.
//!
//! A listener lives in one network namespace; a reboot makes a new one (another
//! identity), so the listener is made again there. An instance whose network is not made
//! yet (its boot is under way) is looked at again shortly. After a daemon restart the
//! first pass makes every adopted instance's listener.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::control::instances_with_networks;
use crate::control::runner::{self, Action, BoxFuture, ControlError, Controller, Settings};
use crate::control::served::Served;
use crate::service::Service;

/// How soon an instance whose network is not made yet is looked at again.
const NETWORK_PENDING: Duration = Duration::from_millis(250);

pub struct MetadataController {
    service: Weak<Service>,
    serving: Served<String>,
}

impl MetadataController {
    pub fn new(service: &Arc<Service>) -> MetadataController {
        MetadataController {
            service: Arc::downgrade(service),
            serving: Served::new("metadata service"),
        }
    }
}

impl Controller for MetadataController {
    type Key = String;
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "metadata"
    }

    /// Every instance that runs or boots, and every one still served (to stop it).
    fn keys(&self, svc: &Service) -> Vec<String> {
        let mut keys = instances_with_networks(svc);
        keys.extend(self.serving.keys());
        keys.sort();
        keys.dedup();
        keys
    }

    fn reconcile<'a>(
        &'a self,
        id: &'a String,
        svc: &'a Service,
    ) -> BoxFuture<'a, Result<Action, ControlError>> {
        Box::pin(async move {
            let wanted = svc.read(|s| {
                s.instances.get(id).is_some_and(|i| {
                    i.state.wants_processes() && i.metadata_options.http_endpoint == "enabled"
                })
            });
            let network = wanted.then(|| svc.driver.network_identity(id)).flatten();
            let Some(network) = network else {
                self.serving.stop(id);
                return Ok(if wanted {
                    Action::requeue(NETWORK_PENDING)
                } else {
                    Action::await_change()
                });
            };
            if self.serving.current(id, network) {
                return Ok(Action::await_change());
            }
            self.serving.stop(id);
            let (driver, instance) = (svc.driver.clone(), id.clone());
            // Entering the namespace blocks a thread: off the async workers.
            let listener =
                tokio::task::spawn_blocking(move || driver.listen_for_metadata(&instance))
                    .await??;
            let task = crate::api::imds::serve(listener, self.service.clone(), id)?;
            self.serving.insert(id.clone(), network, vec![task]);
            Ok(Action::await_change())
        })
    }
}

/// Runs until shutdown; the listeners go with it.
pub async fn run(svc: Arc<Service>, shutdown: watch::Receiver<bool>) {
    let controller = Arc::new(MetadataController::new(&svc));
    let settings = Settings::watching(svc.config.resync_interval, 4);
    let commits = Some(svc.subscribe());
    runner::run(controller.clone(), svc, settings, commits, shutdown).await;
    controller.serving.stop_all();
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use shoal_model::ec2::instance::Transition;
    use shoal_model::ec2::launch_template::MetadataOptionsRequest;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::control::fixture::Fixture;
    use crate::control::instances;
    use crate::service::ec2::InstanceAttributeChange;

    async fn pass(f: &Fixture, controller: &MetadataController) {
        instances::reconcile_inline(&f.svc).await.unwrap();
        runner::reconcile_all_inline(controller, &*f.svc).await.unwrap();
    }

    /// One HTTP/1.1 exchange with the listener; `None` when nothing listens.
    async fn ask(addr: SocketAddr, request: &str) -> Option<String> {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
            .await
            .ok()?
            .ok()?;
        Some(answer)
    }

    /// The body of an answer.
    fn body(answer: &str) -> String {
        answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
    }

    async fn instance_id_via_v2(addr: SocketAddr) -> Option<String> {
        let put = "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n\
                   X-aws-ec2-metadata-token-ttl-seconds: 60\r\nConnection: close\r\n\r\n";
        let token = body(&ask(addr, put).await?);
        let get = format!(
            "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\
             X-aws-ec2-metadata-token: {token}\r\nConnection: close\r\n\r\n"
        );
        Some(body(&ask(addr, &get).await?))
    }

    fn endpoint(f: &Fixture, id: &str, state: &str) {
        let change =
            MetadataOptionsRequest { http_endpoint: Some(state.into()), ..Default::default() };
        f.svc
            .modify_instance_attribute(id, InstanceAttributeChange::MetadataOptions(change))
            .unwrap();
    }

    #[tokio::test]
    async fn each_running_instance_is_served_in_its_network_while_its_endpoint_is_enabled() {
        let f = Fixture::new();
        f.driver.set_vpc_network(true);
        let controller = MetadataController::new(&f.svc);
        let a = f.run(1).remove(0);
        pass(&f, &controller).await;
        let first = f.driver.metadata_address(&a).expect("a listener in a's network");
        assert_eq!(instance_id_via_v2(first).await.as_deref(), Some(a.as_str()));

        // Nothing changed: the same listener keeps serving.
        pass(&f, &controller).await;
        assert_eq!(f.driver.metadata_address(&a), Some(first));

        // HttpEndpoint=disabled: nothing answers any more.
        endpoint(&f, &a, "disabled");
        pass(&f, &controller).await;
        tokio::task::yield_now().await;
        assert_eq!(ask(first, "GET / HTTP/1.1\r\n\r\n").await, None);

        // Enabled again, after a reboot (a new network): a new listener there.
        endpoint(&f, &a, "enabled");
        let pid = f.svc.instance(&a).unwrap().process.unwrap().pid;
        f.svc.change_instance_states(std::slice::from_ref(&a), Transition::Reboot).unwrap();
        for _ in 0..3 {
            pass(&f, &controller).await;
        }
        assert_ne!(f.svc.instance(&a).unwrap().process.unwrap().pid, pid, "rebooted");
        let second = f.driver.metadata_address(&a).expect("made again");
        assert_ne!(second, first);
        assert_eq!(instance_id_via_v2(second).await.as_deref(), Some(a.as_str()));
        controller.serving.stop_all();
    }

    #[tokio::test]
    async fn without_vpc_networks_there_is_nothing_to_serve() {
        let f = Fixture::new();
        let controller = MetadataController::new(&f.svc);
        let a = f.run(1).remove(0);
        pass(&f, &controller).await;
        assert_eq!(f.driver.metadata_address(&a), None);
    }
}
