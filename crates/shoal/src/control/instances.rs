//! The instance controller: makes processes match each instance's state.
//!
//! `pending` → prepare the disk, boot init, record it → `running`.
//! `running` with a dead init → `stopped` with a state reason (never silently re-run),
//! or `shutting-down` → `terminated` when its shutdown behaviour is `terminate`.
//! An init that cannot be observed (out of descriptors, permission) is not a dead one:
//! the instance is left as it is and looked at again later. An instance has exactly one
//! init: booting adopts a live recorded init instead of starting another, and a stop
//! is recorded only once its init is seen gone.
//! `stopping` → TERM/grace/KILL → `stopped`. `shutting-down` → the same, then the disk
//! is deleted → `terminated`.

use std::sync::Arc;

use base64::Engine;
use shoal_model::ec2::instance::StateReason;
use shoal_model::ec2::{instance_type, Instance, InstanceState};
use tokio::sync::watch;

use crate::control::runner::{self, Action, BoxFuture, ControlError, Controller, Settings};
use crate::runtime::vpcnet::dns::{resolver_ip, ResolvConf};
use crate::runtime::vpcnet::InstanceNet;
use crate::runtime::{BootSpec, Liveness};
use crate::service::Service;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Boot,
    Died,
    Stop,
    Terminate,
    Reboot,
}

/// The instance controller, keyed by instance id (plus one key for forgetting old
/// terminated instances). Instances reconcile in parallel, each one step at a time.
pub struct InstanceController;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceKey {
    /// Forget instances terminated over an hour ago.
    ForgetTerminated,
    Instance(String),
}

impl Controller for InstanceController {
    type Key = InstanceKey;
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "instances"
    }

    /// Every instance with something possibly left to do (not stopped or terminated).
    fn keys(&self, svc: &Service) -> Vec<InstanceKey> {
        let ids = svc.read(|s| {
            s.instances
                .values()
                .filter(|i| !matches!(i.state, InstanceState::Terminated | InstanceState::Stopped))
                .map(|i| InstanceKey::Instance(i.id.clone()))
                .collect::<Vec<_>>()
        });
        std::iter::once(InstanceKey::ForgetTerminated).chain(ids).collect()
    }

    fn reconcile<'a>(
        &'a self,
        key: &'a InstanceKey,
        svc: &'a Service,
    ) -> BoxFuture<'a, Result<Action, ControlError>> {
        Box::pin(async move {
            let id = match key {
                InstanceKey::ForgetTerminated => {
                    forget_terminated(svc)?;
                    return Ok(Action::await_change());
                }
                InstanceKey::Instance(id) => id,
            };
            let _step = svc.instance_step().await;
            let Some(inst) = svc.read(|s| s.instances.get(id).cloned()) else {
                return Ok(Action::await_change());
            };
            let Some(step) = next_step(svc, &inst) else { return Ok(Action::await_change()) };
            let done = execute(svc, inst, step).await;
            // Wake the other controllers even when the step committed nothing.
            svc.poke();
            done?;
            Ok(Action::await_change())
        })
    }
}

/// Runs until shutdown.
pub async fn run(svc: Arc<Service>, shutdown: watch::Receiver<bool>) {
    let settings = Settings::watching(svc.config.resync_interval, usize::MAX);
    let commits = Some(svc.subscribe());
    runner::run(Arc::new(InstanceController), svc, settings, commits, shutdown).await;
}

fn next_step(svc: &Service, inst: &Instance) -> Option<Step> {
    match inst.state {
        InstanceState::Pending => Some(Step::Boot),
        InstanceState::Running => {
            let liveness = inst.process.as_ref().map_or(Liveness::Gone, |p| svc.driver.liveness(p));
            if let Liveness::Unknown(error) = liveness {
                tracing::warn!(instance = %inst.id, %error, "cannot observe the instance's init; leaving it as it is");
                None
            } else if liveness == Liveness::Gone {
                Some(Step::Died)
            } else if inst.reboot_requested {
                Some(Step::Reboot)
            } else {
                None
            }
        }
        InstanceState::Stopping => Some(Step::Stop),
        InstanceState::ShuttingDown => Some(Step::Terminate),
        InstanceState::Stopped | InstanceState::Terminated => None,
    }
}

/// One pass done inline, key by key: for tests and simulations on the fake driver,
/// where nothing takes time and determinism matters more than parallelism.
pub async fn reconcile_inline(svc: &Service) -> Result<(), ControlError> {
    runner::reconcile_all_inline(&InstanceController, svc).await
}

/// AWS keeps a terminated instance visible for about an hour, then forgets it; so does
/// Shoal (its loopback address is reusable from then on).
pub fn forget_terminated(svc: &Service) -> shoal_model::AwsResult<()> {
    let now = svc.clock.now();
    let horizon = chrono::Duration::seconds(crate::service::ec2::TERMINATED_RETENTION_SECS);
    let old: Vec<String> = svc.read(|s| {
        s.instances
            .values()
            .filter(|i| i.terminated_at.is_some_and(|t| now - t > horizon))
            .map(|i| i.id.clone())
            .collect()
    });
    if old.is_empty() {
        return Ok(());
    }
    svc.mutate(|_, changes| {
        for id in &old {
            changes.delete::<Instance>(id);
        }
        Ok(())
    })
}

async fn execute(svc: &Service, inst: Instance, step: Step) -> Result<(), ControlError> {
    let grace = svc.config.stop_grace;
    match step {
        Step::Boot => boot(svc, inst).await?,
        Step::Reboot => {
            svc.driver.shutdown(&inst.id, inst.process.as_ref(), grace).await;
            svc.freeze_images_awaiting_reboot(&inst.id).await?;
            boot(svc, inst).await?;
        }
        Step::Died if inst.switches.shutdown_terminates => {
            // InstanceInitiatedShutdownBehavior=terminate: a shutdown from inside ends
            // the instance (shutting-down, then the Terminate step), as in EC2.
            tracing::info!(instance = %inst.id, "instance init exited; terminating it (shutdown behaviour terminate)");
            svc.update_instance(&inst.id, |i| {
                if i.state == InstanceState::Running {
                    i.state = InstanceState::ShuttingDown;
                    i.reboot_requested = false;
                    i.state_reason = Some(StateReason::instance_initiated_shutdown());
                    i.state_transition_reason = format!(
                        "Client.InstanceInitiatedShutdown ({})",
                        svc.clock.now().format("%Y-%m-%d %H:%M:%S GMT")
                    );
                }
            })?;
        }
        Step::Died => {
            tracing::warn!(instance = %inst.id, "instance init is gone; marking it stopped");
            svc.driver.shutdown(&inst.id, inst.process.as_ref(), grace).await;
            svc.freeze_images_awaiting_reboot(&inst.id).await?;
            svc.update_instance(&inst.id, |i| {
                if i.state == InstanceState::Running {
                    i.state = InstanceState::Stopped;
                    i.process = None;
                    i.reboot_requested = false;
                    i.state_reason = Some(StateReason::internal_error());
                    i.state_transition_reason = format!(
                        "Server.InternalError ({})",
                        svc.clock.now().format("%Y-%m-%d %H:%M:%S GMT")
                    );
                }
            })?;
        }
        Step::Stop => {
            svc.driver.shutdown(&inst.id, inst.process.as_ref(), grace).await;
            ensure_gone(svc, &inst)?;
            svc.freeze_images_awaiting_reboot(&inst.id).await?;
            svc.update_instance(&inst.id, |i| {
                if i.state == InstanceState::Stopping {
                    i.state = InstanceState::Stopped;
                    i.process = None;
                    i.reboot_requested = false;
                }
            })?;
        }
        Step::Terminate => {
            svc.driver.shutdown(&inst.id, inst.process.as_ref(), grace).await;
            ensure_gone(svc, &inst)?;
            // A CreateImage that asked for a reboot still gets the disk as it was.
            svc.freeze_images_awaiting_reboot(&inst.id).await?;
            let (driver, id) = (svc.driver.clone(), inst.id.clone());
            tokio::task::spawn_blocking(move || driver.delete_disk(&id)).await??;
            let now = svc.clock.now();
            svc.update_instance(&inst.id, |i| {
                i.state = InstanceState::Terminated;
                i.process = None;
                i.terminated_at = Some(now);
            })?;
        }
    }
    Ok(())
}

/// Fails unless the instance's recorded init is seen gone: a stop or a termination is
/// recorded only then (an unobservable or surviving init is retried later).
fn ensure_gone(svc: &Service, inst: &Instance) -> Result<(), ControlError> {
    let Some(record) = &inst.process else { return Ok(()) };
    match svc.driver.liveness(record) {
        Liveness::Gone => Ok(()),
        Liveness::Alive => Err(ControlError::InitSurvived { pid: record.pid }),
        Liveness::Unknown(e) => {
            Err(ControlError::InitUnobservable { pid: record.pid, reason: e.to_string() })
        }
    }
}

/// The environment every process of an instance sees.
pub fn instance_env(svc: &Service, inst: &Instance) -> Vec<(String, String)> {
    let endpoint = format!("http://{}", svc.config.listen);
    // The address its processes bind: its own private one in a VPC network.
    let ip = if svc.driver.vpc_network() { inst.private_ip } else { inst.loopback_ip }.to_string();
    [
        ("INSTANCE_ID", inst.id.as_str()),
        ("SHOAL_INSTANCE_ID", inst.id.as_str()),
        ("PRIVATE_IP", &ip),
        ("HOST", &ip),
        ("VPC_PRIVATE_IP", &inst.private_ip.to_string()),
        ("AVAILABILITY_ZONE", &inst.availability_zone),
        ("INSTANCE_TYPE", &inst.instance_type),
        ("AWS_REGION", svc.region()),
        ("AWS_DEFAULT_REGION", svc.region()),
        ("AWS_ENDPOINT_URL", &endpoint),
        ("SHOAL_ENDPOINT", &endpoint),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The instance's place in its VPC, for a driver that makes VPC networks.
fn instance_net(svc: &Service, inst: &Instance) -> Option<InstanceNet> {
    if !svc.driver.vpc_network() {
        return None;
    }
    svc.read(|s| {
        s.subnets.get(&inst.subnet_id).map(|subnet| InstanceNet {
            vpc_id: inst.vpc_id.clone(),
            subnet: subnet.cidr,
            private_ip: inst.private_ip,
            public_ip: inst.loopback_ip,
            has_public_ip: inst.has_public_ip,
        })
    })
}

async fn boot(svc: &Service, inst: Instance) -> Result<(), ControlError> {
    if let Some(record) = &inst.process {
        match svc.driver.liveness(record) {
            Liveness::Gone => {}
            Liveness::Alive => {
                // Its init still runs: adopt it rather than start a second one.
                tracing::warn!(instance = %inst.id, pid = record.pid, "adopting the live recorded init");
                svc.update_instance(&inst.id, |i| {
                    if i.state == InstanceState::Pending {
                        i.state = InstanceState::Running;
                        i.state_reason = None;
                    }
                })?;
                return Ok(());
            }
            Liveness::Unknown(e) => {
                return Err(ControlError::InitUnobservable {
                    pid: record.pid,
                    reason: e.to_string(),
                })
            }
        }
    }
    let (driver, id, image) = (svc.driver.clone(), inst.id.clone(), inst.image_id.clone());
    let prepared = tokio::task::spawn_blocking(move || driver.prepare_disk(&id, &image)).await?;
    if let Err(e) = prepared {
        // AWS: an instance that cannot launch goes pending → terminated with a reason.
        svc.update_instance(&inst.id, |i| {
            i.state = InstanceState::Terminated;
            i.terminated_at = Some(svc.clock.now());
            i.state_reason = Some(StateReason {
                code: "Server.InternalError".into(),
                message: format!("Server.InternalError: Internal error on launch ({e})"),
            });
        })?;
        return Ok(());
    }
    let itype = instance_type::lookup(&inst.instance_type);
    let user_data = match (&inst.user_data, inst.boot_count) {
        (Some(data), 0) => base64::engine::general_purpose::STANDARD.decode(data.trim()).ok(),
        _ => None,
    };
    let network = instance_net(svc, &inst);
    let spec = BootSpec {
        instance_id: inst.id.clone(),
        env: instance_env(svc, &inst),
        user_data,
        vcpus: itype.map(|t| t.vcpus).unwrap_or(1),
        memory_mib: itype.map(|t| t.memory_mib).unwrap_or(1024),
        stop_grace: svc.config.stop_grace,
        packet_filter: network
            .is_some()
            .then(|| svc.read(|s| crate::control::filters::instance_ruleset(s, &inst))),
        resolv_conf: network.as_ref().and_then(|_| {
            let dns = svc.vpc_dns(&inst.vpc_id)?;
            Some(ResolvConf { nameserver: resolver_ip(dns.cidr), search: dns.domain })
        }),
        network,
        first_boot: inst.boot_count == 0,
        authorized_key: svc.read(|s| {
            let name = inst.key_name.as_ref()?;
            s.key_pair_named(name).map(|k| k.public_key.clone())
        }),
    };
    let record = svc.driver.boot(&spec)?;
    let updated = svc.update_instance(&inst.id, |i| {
        i.process = Some(record.clone());
        i.boot_count += 1;
        i.reboot_requested = false;
        if i.state == InstanceState::Pending {
            i.state = InstanceState::Running;
            i.state_reason = None;
        }
    })?;
    if updated.is_none() {
        // Wiped (reset) while booting: nothing may outlive its record.
        svc.driver.shutdown(&inst.id, Some(&record), std::time::Duration::ZERO).await;
        let _ = svc.driver.delete_disk(&inst.id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use shoal_model::ec2::instance::Transition;
    use shoal_model::ec2::InstanceState;

    use super::reconcile_inline;
    use crate::control::fixture::Fixture;

    #[tokio::test]
    async fn an_unobservable_init_is_not_a_stopped_one() {
        let f = Fixture::new();
        let ids = f.run(2);
        reconcile_inline(&f.svc).await.unwrap();
        assert!(ids.iter().all(|id| f.state(id) == InstanceState::Running));
        // Out of descriptors: nothing can be seen, so nothing changes.
        for id in &ids {
            f.driver.set_unobservable(id, true);
        }
        for _ in 0..3 {
            reconcile_inline(&f.svc).await.unwrap();
        }
        assert!(ids.iter().all(|id| f.state(id) == InstanceState::Running));
        // Observable again: still running, one init each.
        for id in &ids {
            f.driver.set_unobservable(id, false);
        }
        reconcile_inline(&f.svc).await.unwrap();
        for id in &ids {
            assert_eq!(f.state(id), InstanceState::Running);
            assert_eq!(f.driver.inits(id), 1, "{id}");
        }
        // A really dead init is still taken for what it is.
        f.driver.crash(&ids[0]);
        reconcile_inline(&f.svc).await.unwrap();
        assert_eq!(f.state(&ids[0]), InstanceState::Stopped);
    }

    #[tokio::test]
    async fn a_stop_waits_for_the_init_to_be_seen_gone_and_a_start_never_makes_two() {
        let f = Fixture::new();
        let id = f.run(1).remove(0);
        reconcile_inline(&f.svc).await.unwrap();
        f.driver.set_unobservable(&id, true);
        f.svc.change_instance_states(std::slice::from_ref(&id), Transition::Stop).unwrap();
        assert!(reconcile_inline(&f.svc).await.is_err(), "the stop cannot be confirmed");
        assert_eq!(f.state(&id), InstanceState::Stopping);
        assert!(f.svc.instance(&id).unwrap().process.is_some(), "the record keeps its init");
        f.driver.set_unobservable(&id, false);
        reconcile_inline(&f.svc).await.unwrap();
        assert_eq!(f.state(&id), InstanceState::Stopped);
        assert_eq!(f.driver.inits(&id), 0);
        f.svc.change_instance_states(std::slice::from_ref(&id), Transition::Start).unwrap();
        reconcile_inline(&f.svc).await.unwrap();
        assert_eq!(f.state(&id), InstanceState::Running);
        assert_eq!(f.driver.inits(&id), 1);
    }

    #[tokio::test]
    async fn a_reboot_request_is_kept_in_the_record_until_done() {
        let f = Fixture::new();
        let id = f.run(1).remove(0);
        reconcile_inline(&f.svc).await.unwrap();
        let before = f.svc.instance(&id).unwrap();
        f.svc.change_instance_states(std::slice::from_ref(&id), Transition::Reboot).unwrap();
        let asked = f.svc.instance(&id).unwrap();
        assert!(asked.reboot_requested, "recorded, so a daemon restart still reboots");
        let stored = serde_json::to_string(&asked).unwrap();
        assert!(
            serde_json::from_str::<shoal_model::ec2::Instance>(&stored).unwrap().reboot_requested
        );
        reconcile_inline(&f.svc).await.unwrap();
        let after = f.svc.instance(&id).unwrap();
        assert!(!after.reboot_requested);
        assert_eq!(after.boot_count, before.boot_count + 1);
        assert_ne!(after.process, before.process);
        assert_eq!(f.driver.inits(&id), 1);
        // Nothing more to do: no second reboot.
        reconcile_inline(&f.svc).await.unwrap();
        assert_eq!(f.svc.instance(&id).unwrap().boot_count, after.boot_count);
    }

    #[tokio::test]
    async fn booting_adopts_a_live_recorded_init() {
        let f = Fixture::new();
        let id = f.run(1).remove(0);
        reconcile_inline(&f.svc).await.unwrap();
        // A record back in `pending` with its init alive (as a reboot whose stop did not
        // take): the init is adopted, not doubled.
        f.svc.update_instance(&id, |i| i.state = InstanceState::Pending).unwrap();
        reconcile_inline(&f.svc).await.unwrap();
        assert_eq!(f.state(&id), InstanceState::Running);
        assert_eq!(f.driver.inits(&id), 1);
    }

    #[tokio::test]
    async fn a_reset_leaves_nothing_running_when_an_instance_is_launched_meanwhile() {
        let f = Fixture::new();
        f.run(2);
        reconcile_inline(&f.svc).await.unwrap();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let controller = tokio::spawn(super::run(f.svc.clone(), stopped));
        // While the reset kills the first instance, another is launched (as a group
        // replacing it would); the controller is free to boot it.
        let svc = std::sync::Arc::downgrade(&f.svc);
        let image = f.svc.read(|s| crate::service::ec2::base_image(s).unwrap().id.clone());
        f.driver.on_next_shutdown(move || {
            let req = crate::service::ec2::RunInstances {
                image_id: Some(image),
                min_count: 1,
                max_count: 1,
                ..Default::default()
            };
            svc.upgrade().unwrap().run_instances(req).unwrap();
        });
        f.svc.reset().await.unwrap();
        for _ in 0..20 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(f.driver.running_count(), 0, "no instance outlives the reset's wipe");
        assert!(f.svc.read(|s| s.instances.is_empty()));
        stop.send(true).unwrap();
        controller.await.unwrap();
    }
}
