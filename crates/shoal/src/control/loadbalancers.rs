//! The load balancer controller: makes the data plane match the ELBv2 records.
//!
//! On every commit (and every resync) it rebuilds the whole [`DataPlane`] from state
//! and hands it to [`shoal_proxy::Proxy::apply`], which is idempotent and diff-based.
//! Then it records what follows from the world: a `provisioning` load balancer whose
//! listeners were attempted becomes `active`; a deregistered target whose delay has
//! run out leaves its group; a terminated instance is deregistered, as AWS does.
//! Every `metric_period` a second controller publishes the proxy's counters as
//! `AWS/ApplicationELB`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use shoal_model::cloudwatch::Datapoint;
use shoal_model::cloudwatch::MetricId;
use shoal_model::ec2::{InstanceState, SecurityGroup};
use shoal_model::elbv2::{LoadBalancerState, RegisteredTarget, RulePriority, TargetType};
use shoal_proxy::{
    DataPlane, ListenerSpec, LoadBalancerSpec, MetricsSnapshot, TargetGroupSpec, TargetSpec,
};
use tokio::sync::watch;

use crate::control::runner::{self, Action, BoxFuture, ControlError, Controller, Settings};
use crate::service::elbv2::{listener_of_rule, resolve_target, target_group_load_balancers};
use crate::service::{Service, State};

use shoal_model::cloudwatch::ELB_NAMESPACE as NAMESPACE;

/// The data plane controller: one key, on every commit and every resync, and again
/// when the next draining target is due to leave.
pub struct LoadBalancerController {
    /// Bind failures already logged (once per change, not at every pass).
    reported: std::sync::Mutex<BTreeSet<(String, u16, String)>>,
}

impl Controller for LoadBalancerController {
    type Key = ();
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "load balancers"
    }

    fn keys(&self, _: &Service) -> Vec<()> {
        vec![()]
    }

    fn reconcile<'a>(
        &'a self,
        _: &'a (),
        svc: &'a Service,
    ) -> BoxFuture<'a, Result<Action, ControlError>> {
        Box::pin(async move {
            // Each VPC has its network (router, the host's route to it) while Shoal
            // runs; then the interfaces' addresses go on them: connections to targets
            // are bound to them. Commands run only on a change, off the workers.
            let vpcs = svc.read(|s| s.vpcs.values().map(|v| (v.id.clone(), v.cidr)).collect());
            let addresses = svc.read(load_balancer_addresses);
            let driver = svc.driver.clone();
            let region = svc.region().to_string();
            // Not made or placed (logged; tried again next pass), the data plane still
            // applies: the kernel then picks the router's address.
            let _ = tokio::task::spawn_blocking(move || {
                let _ = driver.vpc_networks(&region, &vpcs);
                driver.load_balancer_addresses(&region, &addresses)
            })
            .await;
            let mut next = reconcile(svc);
            // A VPC's router namespace comes (and is made anew) with its instances, out
            // of the records' sight: look again for listeners to bind there.
            if svc.driver.vpc_network() && svc.read(|s| !s.load_balancers.is_empty()) {
                next = Some(next.map_or(VPC_LISTENER_POLL, |n| n.min(VPC_LISTENER_POLL)));
            }
            report_listeners(svc, &mut self.reported.lock().unwrap_or_else(|e| e.into_inner()));
            Ok(next.map_or(Action::await_change(), Action::requeue))
        })
    }
}

/// Publishes the proxy's counters as `AWS/ApplicationELB` metrics: one key, every
/// metric period (the first a period after start).
pub struct LoadBalancerMetricsController;

impl Controller for LoadBalancerMetricsController {
    type Key = ();
    type Ctx = Service;

    fn name(&self) -> &'static str {
        "load balancer metrics"
    }

    fn keys(&self, _: &Service) -> Vec<()> {
        vec![()]
    }

    fn reconcile<'a>(
        &'a self,
        _: &'a (),
        svc: &'a Service,
    ) -> BoxFuture<'a, Result<Action, ControlError>> {
        Box::pin(async move {
            publish_metrics(svc, &svc.proxy.take_metrics());
            Ok(Action::await_change())
        })
    }
}

/// Runs both until shutdown, then closes every listener.
pub async fn run(svc: Arc<Service>, shutdown: watch::Receiver<bool>) {
    let plane = LoadBalancerController { reported: std::sync::Mutex::default() };
    let plane_settings = Settings::watching(svc.config.resync_interval, 1);
    let metrics_settings = Settings {
        first_after: svc.config.metric_period,
        ..Settings::every(svc.config.metric_period)
    };
    tokio::join!(
        runner::run(
            Arc::new(plane),
            svc.clone(),
            plane_settings,
            Some(svc.subscribe()),
            shutdown.clone()
        ),
        runner::run(
            Arc::new(LoadBalancerMetricsController),
            svc.clone(),
            metrics_settings,
            None,
            shutdown
        ),
    );
    svc.data_plane_stopped();
    svc.proxy.shutdown().await;
}

/// One pass: apply the data plane, then record what follows. Returns how long until
/// the next draining target is due to leave, if any.
pub fn reconcile(svc: &Service) -> Option<Duration> {
    // Read before the state: what is applied includes at least this many commits.
    let generation = svc.generation();
    let vpc = svc.driver.vpc_network();
    let (mut plane, vpc_of) = svc.read(|s| {
        let mut plane = data_plane(s, default_zone(svc));
        if vpc {
            enforce_security_groups(s, &mut plane);
        }
        let vpc_of: BTreeMap<String, String> =
            s.load_balancers.values().map(|lb| (lb.arn.clone(), lb.vpc_id.clone())).collect();
        (plane, vpc_of)
    });
    if vpc {
        serve_in_vpcs(svc, &mut plane, &vpc_of);
    }
    svc.proxy.apply(plane);
    svc.data_plane_applied(generation);

    let now = svc.clock.now();
    let (activate, expired, orphaned, next) = svc.read(|s| {
        let activate: Vec<String> = s
            .load_balancers
            .values()
            .filter(|l| l.state == LoadBalancerState::Provisioning)
            .map(|l| l.arn.clone())
            .collect();
        let mut expired = Vec::new();
        let mut orphaned = Vec::new();
        let mut next: Option<chrono::Duration> = None;
        for r in s.registered_targets.values() {
            let Some(tg) = s.target_groups.get(&r.target_group_arn) else { continue };
            match r.drained_at(tg.attributes.deregistration_delay_seconds) {
                Some(at) if at <= now => expired.push(r.key.clone()),
                Some(at) => {
                    let left = at - now;
                    next = Some(next.map_or(left, |n| n.min(left)));
                }
                None if tg.target_type == TargetType::Instance => {
                    let gone = s.instances.get(&r.target.id).is_none_or(|i| {
                        matches!(i.state, InstanceState::Terminated | InstanceState::ShuttingDown)
                    });
                    if gone {
                        orphaned.push(r.key.clone());
                    }
                }
                None => {}
            }
        }
        (activate, expired, orphaned, next)
    });
    if !(activate.is_empty() && expired.is_empty() && orphaned.is_empty()) {
        let result = svc.mutate(|s, changes| {
            for arn in &activate {
                if let Some(lb) = s.load_balancers.get(arn) {
                    let mut lb = lb.clone();
                    lb.state = LoadBalancerState::Active;
                    changes.put(lb);
                }
            }
            for key in &expired {
                if s.registered_targets.contains_key(key) {
                    changes.delete::<RegisteredTarget>(key);
                }
            }
            for key in &orphaned {
                if let Some(r) = s.registered_targets.get(key) {
                    let mut r = r.clone();
                    r.deregistered_at = Some(now);
                    changes.put(r);
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            tracing::warn!(error = %e.message, "could not record load balancer changes");
        }
    }
    next.map(|d| d.to_std().unwrap_or_default() + Duration::from_millis(10))
}

fn default_zone(svc: &Service) -> &str {
    svc.config.zones.first().map(String::as_str).unwrap_or("us-east-1a")
}

/// With VPC networks, each load balancer's listeners are also served on its interfaces'
/// addresses inside its VPC (AWS's load balancer is reached there by its DNS name,
/// which the VPC's resolver answers with them), bound anew when the VPC's router
/// namespace is made anew (a different identity).
fn serve_in_vpcs(svc: &Service, plane: &mut DataPlane, vpc_of: &BTreeMap<String, String>) {
    use std::hash::{Hash, Hasher};
    for spec in &mut plane.load_balancers {
        let Some(vpc_id) = vpc_of.get(&spec.arn) else { continue };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        svc.driver.vpc_network_identity(vpc_id).hash(&mut h);
        spec.vpc_epoch = h.finish();
        spec.vpc_ips = svc.read(|s| {
            s.load_balancers
                .get(&spec.arn)
                .map(|lb| lb.interfaces.iter().map(|i| IpAddr::V4(i.private_ip)).collect())
                .unwrap_or_default()
        });
    }
}

/// How often listeners in VPCs are looked after while load balancers exist.
const VPC_LISTENER_POLL: Duration = Duration::from_secs(2);

/// Each VPC's load balancer interface addresses.
fn load_balancer_addresses(state: &State) -> BTreeMap<String, BTreeSet<std::net::Ipv4Addr>> {
    let mut out: BTreeMap<String, BTreeSet<_>> = BTreeMap::new();
    for lb in state.load_balancers.values() {
        out.entry(lb.vpc_id.clone())
            .or_default()
            .extend(lb.interfaces.iter().map(|i| i.private_ip));
    }
    out
}

/// The whole desired data plane from the records. Pure: tests call it directly.
pub fn data_plane(state: &State, default_zone: &str) -> DataPlane {
    let mut rules_by_listener: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for r in state.rules.values().filter(|r| r.priority != RulePriority::Default) {
        rules_by_listener.entry(listener_of_rule(&r.arn)).or_default().push(r.clone());
    }
    let load_balancers = state
        .load_balancers
        .values()
        .map(|lb| LoadBalancerSpec {
            arn: lb.arn.clone(),
            name: lb.name.clone(),
            dns_name: lb.dns_name.clone(),
            ip: IpAddr::V4(lb.loopback_ip),
            ingress: None,
            vpc_ips: Vec::new(),
            vpc_epoch: 0,
            attributes: lb.attributes.clone(),
            listeners: state
                .listeners
                .values()
                .filter(|l| l.load_balancer_arn == lb.arn)
                .map(|l| ListenerSpec {
                    port: l.port,
                    default_actions: l.default_actions.clone(),
                    rules: rules_by_listener.get(&l.arn).cloned().unwrap_or_default(),
                    server_header: l.server_header(),
                    response_headers: l.response_headers(),
                })
                .collect(),
        })
        .collect();
    let target_groups = state
        .target_groups
        .values()
        .map(|tg| TargetGroupSpec {
            arn: tg.arn.clone(),
            name: tg.name.clone(),
            health_check: tg.health_check.clone(),
            attributes: tg.attributes.clone(),
            targets: state
                .registered_targets
                .values()
                .filter(|r| r.target_group_arn == tg.arn)
                .filter_map(|r| {
                    let resolved = resolve_target(state, tg, r, default_zone);
                    Some(TargetSpec {
                        id: r.target.id.clone(),
                        addr: resolved.addr?,
                        availability_zone: resolved.availability_zone,
                        draining: r.deregistered_at.is_some(),
                        instance_stopped: resolved.instance_stopped,
                        vpc_ip: match tg.target_type {
                            TargetType::Instance => {
                                state.instances.get(&r.target.id).map(|i| IpAddr::V4(i.private_ip))
                            }
                            _ => r.target.id.parse().ok(),
                        },
                    })
                })
                .collect(),
            health_check_interval: None,
            health_check_timeout: None,
            // Its load balancers' interface addresses: the targets see those.
            source_ips: target_group_load_balancers(state, &tg.arn)
                .iter()
                .filter_map(|arn| state.load_balancers.get(arn))
                .flat_map(|lb| lb.interfaces.iter().map(|i| IpAddr::V4(i.private_ip)))
                .collect(),
            egress: None,
        })
        .collect();
    DataPlane { load_balancers, target_groups }
}

/// The load balancers' security groups, for the proxy to enforce (with VPC networks,
/// where instances' groups are enforced too): each load balancer's ingress rules on
/// its listeners' clients, and each target group's load balancers' egress rules on the
/// connections to its targets, by the targets' VPC addresses. Userspace, in the proxy:
/// its listeners are in the host's namespace, where no instance's packet filter is.
pub fn enforce_security_groups(state: &State, plane: &mut DataPlane) {
    use shoal_model::ec2::connection_filter::ConnectionFilter;
    let groups_of = |arns: &mut dyn Iterator<Item = &String>| -> Vec<&SecurityGroup> {
        let mut ids: Vec<&String> = arns
            .filter_map(|arn| state.load_balancers.get(arn))
            .flat_map(|lb| &lb.security_groups)
            .collect();
        ids.sort();
        ids.dedup();
        ids.into_iter().filter_map(|g| state.security_groups.get(g)).collect()
    };
    let members_of = |groups: &[&SecurityGroup], egress: bool| {
        let referenced: BTreeSet<&String> = groups
            .iter()
            .flat_map(|g| if egress { &g.egress } else { &g.ingress })
            .flat_map(|p| &p.group_ids)
            .collect();
        crate::control::filters::members(state, &referenced)
    };
    for lb in &mut plane.load_balancers {
        let groups = groups_of(&mut std::iter::once(&lb.arn));
        lb.ingress = Some(ConnectionFilter::ingress(&groups, &members_of(&groups, false)));
    }
    for tg in &mut plane.target_groups {
        let lbs = target_group_load_balancers(state, &tg.arn);
        let groups = groups_of(&mut lbs.iter());
        tg.egress = Some(ConnectionFilter::egress(&groups, &members_of(&groups, true)));
    }
}

/// Logs each listener bind failure once (DescribeLoadBalancers states it too).
fn report_listeners(svc: &Service, reported: &mut BTreeSet<(String, u16, String)>) {
    let now: BTreeSet<(String, u16, String)> = svc
        .proxy
        .listener_status()
        .into_iter()
        .filter_map(|s| Some((s.load_balancer_arn, s.port, s.bound.err()?.to_string())))
        .collect();
    for (arn, port, error) in now.difference(reported) {
        tracing::warn!(
            load_balancer = %arn,
            port,
            %error,
            "listener not bound; the load balancer still answers on Shoal's port by its DNS name"
        );
    }
    *reported = now;
}

/// Publishes one period of counters as `AWS/ApplicationELB` datapoints. As in AWS,
/// request counts appear only while requests flow; host counts every period.
pub fn publish_metrics(svc: &Service, snap: &MetricsSnapshot) {
    for lb in &snap.load_balancers {
        svc.telemetry.add_load_balancer_period(&lb.dimension, &lb.counts);
    }
    svc.telemetry.retain_load_balancers(&|d| snap.load_balancers.iter().any(|l| l.dimension == d));
    let now = svc.clock.now();
    let mut points: Vec<(MetricId, Datapoint)> = Vec::new();
    let mut put = |name: &str, dims: &[(&str, &str)], value: f64, unit: &str| {
        points.push((MetricId::of(NAMESPACE, name, dims), Datapoint::measured(now, value, unit)));
    };
    let counts = |c: &shoal_proxy::Counts| {
        [
            ("RequestCount", c.request_count),
            ("HTTPCode_Target_2XX_Count", c.httpcode_target_2xx),
            ("HTTPCode_Target_3XX_Count", c.httpcode_target_3xx),
            ("HTTPCode_Target_4XX_Count", c.httpcode_target_4xx),
            ("HTTPCode_Target_5XX_Count", c.httpcode_target_5xx),
            ("HTTPCode_ELB_3XX_Count", c.httpcode_elb_3xx),
            ("HTTPCode_ELB_4XX_Count", c.httpcode_elb_4xx),
            ("HTTPCode_ELB_5XX_Count", c.httpcode_elb_5xx),
            ("HTTPCode_ELB_500_Count", c.httpcode_elb_500),
            ("HTTPCode_ELB_502_Count", c.httpcode_elb_502),
            ("HTTPCode_ELB_503_Count", c.httpcode_elb_503),
            ("HTTPCode_ELB_504_Count", c.httpcode_elb_504),
        ]
    };
    let response_time = |c: &shoal_proxy::Counts| {
        (c.target_response_count > 0)
            .then(|| c.target_response_time_sum.as_secs_f64() / c.target_response_count as f64)
    };
    for lb in &snap.load_balancers {
        let dims = [("LoadBalancer", lb.dimension.as_str())];
        for (name, v) in counts(&lb.counts) {
            if v > 0 {
                put(name, &dims, v as f64, "Count");
            }
        }
        if let Some(t) = response_time(&lb.counts) {
            put("TargetResponseTime", &dims, t, "Seconds");
        }
    }
    for tg in &snap.target_groups {
        let per_target = (tg.counts.request_count > 0)
            .then(|| tg.counts.request_count as f64 / f64::from(tg.healthy_host_count.max(1)));
        if let Some(v) = per_target {
            put("RequestCountPerTarget", &[("TargetGroup", tg.dimension.as_str())], v, "Count");
        }
        for lb in &tg.load_balancer_dimensions {
            let dims = [("LoadBalancer", lb.as_str()), ("TargetGroup", tg.dimension.as_str())];
            put("HealthyHostCount", &dims, f64::from(tg.healthy_host_count), "Count");
            put("UnHealthyHostCount", &dims, f64::from(tg.unhealthy_host_count), "Count");
            for (name, v) in counts(&tg.counts) {
                if v > 0 {
                    put(name, &dims, v as f64, "Count");
                }
            }
            if let Some(t) = response_time(&tg.counts) {
                put("TargetResponseTime", &dims, t, "Seconds");
            }
            if let Some(v) = per_target {
                put("RequestCountPerTarget", &dims, v, "Count");
            }
        }
    }
    if points.is_empty() {
        return;
    }
    if let Err(e) = svc.with_store(|s| s.write(|w| w.put_metric_points(&points))) {
        tracing::error!(error = %e, "could not store load balancer metrics");
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use shoal_model::ec2::{Instance, InstanceState};
    use shoal_model::elbv2::target_group::HealthCheckUpdate;
    use shoal_model::elbv2::TargetDescription;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::config::Config;
    use crate::runtime::fake::FakeDriver;
    use crate::service::ec2::RunInstances;
    use crate::service::elbv2::CreateTargetGroup;

    fn service(clock: &ManualClock) -> Arc<Service> {
        let config = Config::new(std::env::temp_dir().join("shoal-lb-unit"));
        let store = shoal_store::Store::in_memory().unwrap();
        let svc =
            Service::new(config, Arc::new(clock.clone()), Arc::new(FakeDriver::default()), store)
                .unwrap();
        svc.bootstrap().unwrap();
        Arc::new(svc)
    }

    fn launch(svc: &Service, state: InstanceState) -> Instance {
        let image = svc.read(|s| crate::service::ec2::base_image(s).unwrap().id.clone());
        let mut i = svc
            .run_instances(RunInstances {
                image_id: Some(image),
                min_count: 1,
                max_count: 1,
                ..Default::default()
            })
            .unwrap()
            .instances
            .remove(0);
        i.state = state;
        svc.mutate(|_, c| {
            c.put(i.clone());
            Ok(())
        })
        .unwrap();
        i
    }

    fn group(svc: &Service, name: &str, target_type: &str) -> String {
        let vpc = svc.read(|s| s.vpcs.values().next().unwrap().id.clone());
        svc.elb()
            .create_target_group(CreateTargetGroup {
                name: name.into(),
                protocol: Some("HTTP".into()),
                port: Some(3000),
                vpc_id: Some(vpc),
                target_type: Some(target_type.into()),
                health_check: HealthCheckUpdate::default(),
                ..Default::default()
            })
            .unwrap()
            .arn
    }

    fn target(id: &str) -> TargetDescription {
        TargetDescription { id: id.into(), port: None, availability_zone: None }
    }

    #[test]
    fn targets_resolve_to_loopback_addresses() {
        let clock = ManualClock::starting_at(chrono::Utc::now());
        let svc = service(&clock);
        let running = launch(&svc, InstanceState::Running);
        let stopped = launch(&svc, InstanceState::Running);
        let gone = launch(&svc, InstanceState::Running);
        let by_id = group(&svc, "by-id", "instance");
        let by_ip = group(&svc, "by-ip", "ip");
        let ids = [target(&running.id), target(&stopped.id), target(&gone.id)];
        svc.elb().register_targets(&by_id, &ids).unwrap();
        // 172.31.15.250: in the default VPC, held by no instance.
        let ips =
            [target(&running.private_ip.to_string()), target("127.0.0.9"), target("172.31.15.250")];
        svc.elb().register_targets(&by_ip, &ips).unwrap();
        for (i, state) in [(&stopped, InstanceState::Stopped), (&gone, InstanceState::Terminated)] {
            let mut i = i.clone();
            i.state = state;
            svc.mutate(|_, c| {
                c.put(i);
                Ok(())
            })
            .unwrap();
        }

        let plane = svc.read(|s| data_plane(s, "us-east-1a"));
        let tg = |arn: &str| plane.target_groups.iter().find(|t| t.arn == arn).unwrap().clone();
        let t = tg(&by_id).targets;
        assert_eq!(t.len(), 2, "a terminated instance is not routed");
        let r = t.iter().find(|t| t.id == running.id).unwrap();
        assert_eq!(r.addr, SocketAddr::new(IpAddr::V4(running.loopback_ip), 3000));
        assert!(!r.instance_stopped && !r.draining);
        assert!(t.iter().find(|t| t.id == stopped.id).unwrap().instance_stopped);
        let t = tg(&by_ip).targets;
        let ip = |id: &str| t.iter().find(|t| t.id == id).unwrap().clone();
        // A VPC address reaches its instance's loopback address; a loopback IP is used as is.
        let vpc = ip(&running.private_ip.to_string());
        assert_eq!(vpc.addr, SocketAddr::new(IpAddr::V4(running.loopback_ip), 3000));
        assert_eq!(vpc.availability_zone, running.availability_zone);
        assert_eq!(ip("127.0.0.9").addr, "127.0.0.9:3000".parse().unwrap());
        // A VPC address nobody holds is never dialled (it would leave the host's namespace).
        assert!(!t.iter().any(|t| t.id == "172.31.15.250"), "{t:?}");
    }

    #[test]
    fn the_load_balancers_groups_become_its_listeners_and_targets_filters() {
        use shoal_model::ec2::security_group::Permission;
        use shoal_model::elbv2::ForwardConfig;
        let clock = ManualClock::starting_at(chrono::Utc::now());
        let svc = service(&clock);
        let vpc = svc.read(|s| s.vpcs.values().next().unwrap().id.clone());
        let app = launch(&svc, InstanceState::Running);
        let app_group = app.security_group_ids[0].clone();
        let lb_group = svc.create_security_group("lb", "lb", Some(&vpc), &[]).unwrap().id;
        let mut http = Permission::allow_all_egress();
        (http.protocol, http.from_port, http.to_port) = ("tcp".into(), Some(80), Some(80));
        svc.change_security_group_rules(Some(&lb_group), None, true, true, vec![http]).unwrap();
        let subnets: Vec<String> = svc.read(|s| {
            s.subnets.values().filter(|n| n.vpc_id == vpc).take(2).map(|n| n.id.clone()).collect()
        });
        let lb = svc
            .elb()
            .create_load_balancer(crate::service::elbv2::CreateLoadBalancer {
                name: "filtered".into(),
                subnets,
                security_groups: vec![lb_group.clone()],
                ..Default::default()
            })
            .unwrap();
        let tg = group(&svc, "filtered-tg", "instance");
        let forward = shoal_model::elbv2::Action::Forward(ForwardConfig::single(&tg));
        svc.elb().create_listener(&lb.arn, None, Some(80), vec![forward], &[]).unwrap();
        svc.elb().register_targets(&tg, &[target(&app.id)]).unwrap();
        let plane = || {
            svc.read(|s| {
                let mut plane = data_plane(s, "us-east-1a");
                enforce_security_groups(s, &mut plane);
                plane
            })
        };
        let p = plane();
        let ingress = p.load_balancers[0].ingress.clone().expect("filtered");
        assert!(ingress.admits("127.0.0.1".parse().unwrap(), 80), "the host is the internet");
        assert!(!ingress.admits("127.0.0.1".parse().unwrap(), 81));
        let spec = &p.target_groups[0];
        let app_ip = IpAddr::V4(app.private_ip);
        assert_eq!(spec.targets[0].vpc_ip, Some(app_ip));
        let interfaces: Vec<IpAddr> =
            lb.interfaces.iter().map(|i| IpAddr::V4(i.private_ip)).collect();
        assert_eq!(spec.source_ips, interfaces);
        // A new group's default egress rule: anywhere.
        assert!(spec.egress.as_ref().unwrap().admits(app_ip, 3000));
        // Without it, nowhere; then only the target group's members on 3000.
        let all = Permission::allow_all_egress();
        svc.change_security_group_rules(Some(&lb_group), None, false, false, vec![all]).unwrap();
        assert!(!plane().target_groups[0].egress.as_ref().unwrap().admits(app_ip, 3000));
        let mut to_app = Permission::allow_all_egress();
        (to_app.protocol, to_app.from_port, to_app.to_port) =
            ("tcp".into(), Some(3000), Some(3000));
        (to_app.cidrs, to_app.group_ids) = (Vec::new(), vec![app_group]);
        svc.change_security_group_rules(Some(&lb_group), None, false, true, vec![to_app]).unwrap();
        let egress = plane().target_groups[0].egress.clone().unwrap();
        assert!(egress.admits(app_ip, 3000) && !egress.admits(app_ip, 3001));
        // Without VPC networks nothing is filtered (no `enforce_security_groups`).
        let p = svc.read(|s| data_plane(s, "us-east-1a"));
        assert!(p.load_balancers[0].ingress.is_none() && p.target_groups[0].egress.is_none());
    }

    #[test]
    fn load_balancers_stored_without_interfaces_get_them_at_start() {
        let clock = ManualClock::starting_at(chrono::Utc::now());
        let svc = service(&clock);
        let subnets: Vec<String> = svc.read(|s| s.subnets.keys().take(2).cloned().collect());
        let lb = svc
            .elb()
            .create_load_balancer(crate::service::elbv2::CreateLoadBalancer {
                name: "old".into(),
                subnets: subnets.clone(),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(lb.interfaces.len(), 2);
        // As a store written before Shoal kept them holds it.
        let mut old = lb.clone();
        old.interfaces.clear();
        svc.mutate(|_, c| {
            c.put(old);
            Ok(())
        })
        .unwrap();
        svc.bootstrap().unwrap();
        let now = svc.read(|s| s.load_balancers[&lb.arn].interfaces.clone());
        let placed: Vec<&String> = now.iter().map(|n| &n.subnet_id).collect();
        assert_eq!(placed, subnets.iter().collect::<Vec<_>>());
        // Started again, they stay as they are.
        svc.bootstrap().unwrap();
        assert_eq!(svc.read(|s| s.load_balancers[&lb.arn].interfaces.clone()), now);
    }

    #[tokio::test]
    async fn deregistered_targets_drain_for_the_recorded_delay() {
        let clock = ManualClock::starting_at(chrono::Utc::now());
        let svc = service(&clock);
        let a = launch(&svc, InstanceState::Running);
        let b = launch(&svc, InstanceState::Running);
        let tg = group(&svc, "drain", "instance");
        svc.elb().register_targets(&tg, &[target(&a.id), target(&b.id)]).unwrap();
        let delay = [("deregistration_delay.timeout_seconds".to_string(), "30".to_string())];
        svc.elb().modify_target_group_attributes(&tg, &delay).unwrap();
        svc.elb().deregister_targets(&tg, &[target(&a.id)]).unwrap();

        let next = reconcile(&svc).expect("a deadline");
        assert!(next <= Duration::from_secs(31));
        let draining = |svc: &Service| {
            svc.read(|s| data_plane(s, "us-east-1a")).target_groups[0]
                .targets
                .iter()
                .map(|t| (t.id.clone(), t.draining))
                .collect::<Vec<_>>()
        };
        assert!(draining(&svc).contains(&(a.id.clone(), true)));
        clock.advance(Duration::from_secs(29));
        reconcile(&svc);
        assert_eq!(draining(&svc).len(), 2, "still draining before the delay ends");
        clock.advance(Duration::from_secs(2));
        assert_eq!(reconcile(&svc), None);
        assert_eq!(draining(&svc), vec![(b.id.clone(), false)]);

        // A terminated instance is deregistered by itself and drains too.
        let mut gone = b.clone();
        gone.state = InstanceState::Terminated;
        svc.mutate(|_, c| {
            c.put(gone);
            Ok(())
        })
        .unwrap();
        reconcile(&svc);
        let regs = svc.read(|s| s.registered_targets.values().cloned().collect::<Vec<_>>());
        assert_eq!(regs.len(), 1);
        assert_eq!(regs[0].deregistered_at, Some(clock.now()));
        svc.proxy.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_is_answered_once_the_data_plane_has_applied_it() {
        let clock = ManualClock::starting_at(chrono::Utc::now());
        let svc = service(&clock);
        // No data plane controller yet: nothing to wait for.
        tokio::time::timeout(Duration::from_millis(1), svc.data_plane_caught_up())
            .await
            .expect("no wait without a data plane");
        reconcile(&svc);
        svc.data_plane_caught_up().await;

        let arn = group(&svc, "after", "instance");
        let waiting = tokio::spawn({
            let svc = svc.clone();
            async move { svc.data_plane_caught_up().await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiting.is_finished(), "the commit is not applied yet");
        reconcile(&svc);
        tokio::time::timeout(Duration::from_millis(1), waiting)
            .await
            .expect("answered once applied")
            .unwrap();
        assert!(svc.proxy.target_health().group(&arn).is_some(), "the proxy has the new group");
        svc.proxy.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_is_answered_once_the_data_plane_has_applied_what_it_wrote() {
        let clock = ManualClock::starting_at(chrono::Utc::now());
        let svc = service(&clock);
        reconcile(&svc);
        // One that writes nothing is not held, data plane or not.
        let read = crate::service::answered_once_routed(vec![svc.clone()], async { "read" });
        assert_eq!(tokio::time::timeout(Duration::from_millis(1), read).await, Ok("read"));
        // Nor one that writes only what the data plane is not built from (a launch
        // template), though the proxy has not seen that commit.
        let template = crate::service::answered_once_routed(vec![svc.clone()], async {
            let data = shoal_model::ec2::launch_template::LaunchTemplateData::default();
            svc.create_launch_template("not-routed", None, data, &[]).map(|_| "created")
        });
        let answered = tokio::time::timeout(Duration::from_millis(1), template).await;
        assert_eq!(answered.expect("not held").unwrap(), "created");
        // A console form's write is held until the proxy has it.
        let vpc = svc.read(|s| s.vpcs.values().next().unwrap().id.clone());
        let form = crate::console::actions::Form::parse(
            format!("Name=console-tg&Protocol=HTTP&Port=3000&VpcId={vpc}").as_bytes(),
        );
        let waiting = tokio::spawn({
            let svc = svc.clone();
            async move {
                let write = crate::console::actions::run(&svc, "CreateTargetGroup", &form);
                crate::service::answered_once_routed(vec![svc.clone()], write).await
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!waiting.is_finished(), "the new group is not in the data plane yet");
        reconcile(&svc);
        let done = tokio::time::timeout(Duration::from_millis(1), waiting)
            .await
            .expect("answered once applied")
            .unwrap()
            .unwrap();
        assert_eq!(done.message, "Created target group console-tg");
        // Once the data plane's controller has stopped, nothing holds a write.
        svc.data_plane_stopped();
        let arn = group(&svc, "unrouted", "instance");
        tokio::time::timeout(Duration::from_millis(1), svc.data_plane_caught_up())
            .await
            .expect("no data plane to wait for");
        assert!(svc.proxy.target_health().group(&arn).is_none());
        svc.proxy.shutdown().await;
    }
}
