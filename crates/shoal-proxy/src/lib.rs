//! # shoal-proxy
//!
//! The load balancer's data plane: listener sockets, routing rules, target selection,
//! connection pools, health checking and access logs. It knows model types and never
//! the store or the API: the control plane publishes an immutable routing table that
//! the request path loads without locks.
//!
//! # Layout
//! - [`config`]: [`DataPlane`] and [`ProxyConfig`], what the control plane hands over.
//! - `state`: run-time load balancers, listeners (compiled routes in an `ArcSwap`),
//!   target groups, targets (health flags, pools, counters) and target selection.
//! - `server`: binding listener sockets and serving client connections.
//! - `h1`: the fast path of listener connections — HTTP/1.1 parsed with `httparse`,
//!   the target connection driven from the client connection's own task, plain
//!   sockets pooled per target. Hands anything else to hyper, mid-connection.
//! - [`head`]: what ALB refuses before any rule (size limits, `Host`, chunked
//!   framing), shared by both paths.
//! - [`chunked`]: the one chunked-body decoder, behind `head`'s checks and the fast
//!   path's copy of a target's chunked response.
//! - `forward`: the request path over hyper — rule matching, actions, forwarding
//!   headers, connect retries, and the one place errors become 502/503/504 (the
//!   fast path shares its functions for all of these).
//! - `headers`: the one header policy of both paths — hop-by-hop headers, the ones
//!   ALB sets itself, and the host a `Host` names.
//! - `upstream`: hyper's keep-alive pools, one send attempt to a target, and the one
//!   upstream error type both paths map to 502/504.
//! - `health`: active health checks, one task per target.
//! - [`dial`]: connecting to targets, directly or through an installed dialer (Shoal's
//!   VPC network makes the socket inside the target's VPC namespace).
//! - `access_log`: AWS-format access log lines and their writer task.
//! - `body`: [`ProxyBody`] and AWS's error pages.
//!
//! # Invariants
//! - The request path never holds a lock across `.await`; configuration is read from
//!   `ArcSwap`s, counters are relaxed atomics.
//! - [`Proxy::apply`] is idempotent and diff-based: targets, pools, health state and
//!   bound sockets survive an apply that keeps them; established client connections
//!   survive any apply that keeps their listener.
//! - Health state follows active checks only; retried connects never mark a target.

pub mod config;

mod access_log;
mod body;
pub mod chunked;
pub mod dial;
mod forward;
mod h1;
pub mod head;
mod headers;
mod health;
mod server;
mod state;
mod upstream;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use shoal_model::elbv2::{Action, RulePriority, TargetHealth, TargetHealthState};
use tokio::task::AbortHandle;

pub use body::{error_page, ProxyBody};
pub use config::{
    DataPlane, ListenerSpec, LoadBalancerSpec, ProxyConfig, TargetGroupSpec, TargetSpec,
};
pub use server::BindError;

use state::{
    Env, Forward, LbSettings, ListenerRt, LoadBalancerRt, RouteAction, RouteRule, Routes,
    TargetGroupRt, TargetRt, TgSettings,
};

/// Shoal's load balancer data plane. Cheap to clone; every clone is the same proxy.
/// Must be used from within a tokio runtime (it spawns tasks and binds sockets).
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    env: Arc<Env>,
    control: Mutex<Control>,
    /// Edge routing ([`Proxy::edge_route`]): a DNS name, lowercased → its listeners.
    index: ArcSwap<HashMap<String, Arc<Vec<Arc<ListenerRt>>>>>,
    conns: Arc<server::Connections>,
}

#[derive(Default)]
struct Control {
    lbs: HashMap<String, LbEntry>,
    tgs: HashMap<String, Arc<TargetGroupRt>>,
}

struct LbEntry {
    rt: Arc<LoadBalancerRt>,
    dimension: String,
    log: Option<(PathBuf, access_log::LogSink)>,
    listeners: HashMap<u16, BoundListener>,
    /// Its listeners on its VPC addresses, by address and port.
    vpc_listeners: HashMap<SocketAddr, VpcListener>,
}

/// A listener served on one of the load balancer's VPC addresses (by the same accept
/// loop and routes as its port's loopback listener), bound in one VPC epoch.
struct VpcListener {
    epoch: u64,
    accept: AbortHandle,
}

impl Drop for VpcListener {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

struct BoundListener {
    rt: Arc<ListenerRt>,
    addr: SocketAddr,
    bound: Result<SocketAddr, BindError>,
    accept: Option<AbortHandle>,
}

impl Drop for BoundListener {
    fn drop(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
        }
    }
}

/// A listener chosen for a request by its Host header ([`Proxy::edge_route`]).
pub struct EdgeRoute {
    listener: Arc<ListenerRt>,
}

impl EdgeRoute {
    /// The listener's port.
    pub fn port(&self) -> u16 {
        self.listener.port.load(Relaxed)
    }
}

/// Where one listener stands: bound (with the actual address) or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerStatus {
    pub load_balancer_arn: String,
    /// The configured port.
    pub port: u16,
    /// The bound address (the real port when 0 was configured), or the bind error,
    /// e.g. `cannot bind 127.0.10.1:80: ports below 1024 need root or CAP_NET_BIND_SERVICE`.
    pub bound: Result<SocketAddr, BindError>,
}

/// DescribeTargetHealth for every registered target.
#[derive(Debug, Clone, Default)]
pub struct HealthSnapshot {
    pub target_groups: Vec<TargetGroupHealth>,
}

/// One target group's targets and host counts.
#[derive(Debug, Clone)]
pub struct TargetGroupHealth {
    pub arn: String,
    pub targets: Vec<TargetHealthEntry>,
    /// `HealthyHostCount`: healthy targets not draining.
    pub healthy_host_count: u32,
    /// `UnHealthyHostCount`: unhealthy targets not draining (draining ones leave
    /// HealthyHostCount without raising this, as in AWS).
    pub unhealthy_host_count: u32,
}

/// One target's health.
#[derive(Debug, Clone)]
pub struct TargetHealthEntry {
    pub id: String,
    pub addr: SocketAddr,
    pub availability_zone: String,
    pub health: TargetHealth,
    /// Requests sent to the target since it was registered (Shoal's own figure: AWS
    /// publishes no per-target count).
    pub requests: u64,
}

impl HealthSnapshot {
    /// The health of target `id` (any port) in group `tg_arn`.
    pub fn get(&self, tg_arn: &str, id: &str) -> Option<&TargetHealthEntry> {
        self.group(tg_arn)?.targets.iter().find(|t| t.id == id)
    }

    /// One group's entry.
    pub fn group(&self, tg_arn: &str) -> Option<&TargetGroupHealth> {
        self.target_groups.iter().find(|g| g.arn == tg_arn)
    }
}

/// CloudWatch `AWS/ApplicationELB` counters since the last [`Proxy::take_metrics`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// `RequestCount`: requests for which a target was chosen.
    pub request_count: u64,
    pub httpcode_target_2xx: u64,
    pub httpcode_target_3xx: u64,
    pub httpcode_target_4xx: u64,
    pub httpcode_target_5xx: u64,
    pub httpcode_elb_3xx: u64,
    pub httpcode_elb_4xx: u64,
    pub httpcode_elb_5xx: u64,
    pub httpcode_elb_500: u64,
    pub httpcode_elb_502: u64,
    pub httpcode_elb_503: u64,
    pub httpcode_elb_504: u64,
    /// `TargetResponseTime` (time to response headers): sum, count, max.
    pub target_response_time_sum: Duration,
    pub target_response_count: u64,
    pub target_response_time_max: Duration,
    /// Shoal only: connects refused and retried on another target.
    pub retried_connects: u64,
}

/// Metrics of one load balancer (dimension `LoadBalancer=app/<name>/<id>`).
#[derive(Debug, Clone)]
pub struct LoadBalancerMetrics {
    pub arn: String,
    pub dimension: String,
    pub counts: Counts,
}

/// Metrics of one target group (dimension `TargetGroup=targetgroup/<name>/<id>`,
/// with each `LoadBalancer` that forwards to it).
#[derive(Debug, Clone)]
pub struct TargetGroupMetrics {
    pub arn: String,
    pub dimension: String,
    pub load_balancer_dimensions: Vec<String>,
    pub counts: Counts,
    pub healthy_host_count: u32,
    pub unhealthy_host_count: u32,
    /// Requests each target served (for `RequestCountPerTarget`).
    pub targets: Vec<(String, SocketAddr, u64)>,
}

/// Everything [`Proxy::take_metrics`] returns.
#[derive(Debug, Clone, Default)]
pub struct MetricsSnapshot {
    pub load_balancers: Vec<LoadBalancerMetrics>,
    pub target_groups: Vec<TargetGroupMetrics>,
}

impl MetricsSnapshot {
    /// One load balancer's metrics by ARN.
    pub fn load_balancer(&self, arn: &str) -> Option<&LoadBalancerMetrics> {
        self.load_balancers.iter().find(|l| l.arn == arn)
    }

    /// One target group's metrics by ARN.
    pub fn target_group(&self, arn: &str) -> Option<&TargetGroupMetrics> {
        self.target_groups.iter().find(|t| t.arn == arn)
    }
}

/// CloudWatch dimension of an ARN: `app/<name>/<id>` for a load balancer (the text
/// after `:loadbalancer/`), `targetgroup/<name>/<id>` for a target group.
fn dimension_of(arn: &str, marker: &str) -> String {
    let skip = if marker == ":loadbalancer/" { marker.len() } else { 1 };
    match arn.find(marker) {
        Some(i) => arn[i + skip..].to_string(),
        None => arn.to_string(),
    }
}

impl Proxy {
    /// A proxy with nothing configured.
    pub fn new(cfg: ProxyConfig) -> Proxy {
        Proxy {
            inner: Arc::new(Inner {
                env: Arc::new(Env { cfg, epoch: tokio::time::Instant::now() }),
                control: Mutex::new(Control::default()),
                index: ArcSwap::from_pointee(HashMap::new()),
                conns: Arc::new(server::Connections::default()),
            }),
        }
    }

    /// Makes `desired` the data plane. Idempotent and diff-based: binds new listener
    /// sockets and closes removed ones (retrying failed binds), swaps routing tables
    /// atomically, adds and removes targets and their health-check tasks, and keeps
    /// pools, health state and established connections of everything that stays.
    pub fn apply(&self, desired: DataPlane) {
        let env = &self.inner.env;
        let mut control = self.inner.control.lock().unwrap();
        let control = &mut *control;

        // Which target groups listeners forward to, and from which LBs.
        let mut users: HashMap<&str, Vec<String>> = HashMap::new();
        for lb in &desired.load_balancers {
            let dim = dimension_of(&lb.arn, ":loadbalancer/");
            for l in &lb.listeners {
                let actions =
                    l.default_actions.iter().chain(l.rules.iter().flat_map(|r| r.actions.iter()));
                for a in actions {
                    if let Action::Forward(f) = a {
                        for g in &f.target_groups {
                            let v = users.entry(g.target_group_arn.as_str()).or_default();
                            if !v.contains(&dim) {
                                v.push(dim.clone());
                            }
                        }
                    }
                }
            }
        }

        // Target groups and targets.
        let wanted: HashSet<&str> = desired.target_groups.iter().map(|t| t.arn.as_str()).collect();
        control.tgs.retain(|arn, tg| {
            let keep = wanted.contains(arn.as_str());
            if !keep {
                for (_, h) in tg.health_tasks.lock().unwrap().drain() {
                    h.abort();
                }
            }
            keep
        });
        for spec in &desired.target_groups {
            let settings = Arc::new(TgSettings {
                health_check: spec.health_check.clone(),
                attributes: spec.attributes.clone(),
                interval: spec.interval(),
                timeout: spec.timeout(),
            });
            let tg = control
                .tgs
                .entry(spec.arn.clone())
                .or_insert_with(|| {
                    Arc::new(TargetGroupRt {
                        arn: spec.arn.clone(),
                        dimension: dimension_of(&spec.arn, ":targetgroup/"),
                        sticky_id: state::fnv1a(&[spec.arn.as_bytes()]),
                        settings: ArcSwap::new(settings.clone()),
                        targets: ArcSwap::from_pointee(Vec::new()),
                        rr: Default::default(),
                        counters: Default::default(),
                        in_use: Default::default(),
                        load_balancers: Default::default(),
                        health_tasks: Default::default(),
                    })
                })
                .clone();
            tg.settings.store(settings);
            let lbs = users.get(spec.arn.as_str()).cloned().unwrap_or_default();
            tg.in_use.store(!lbs.is_empty(), Relaxed);
            *tg.load_balancers.lock().unwrap() = lbs;

            let old = tg.targets.load_full();
            let mut next: Vec<Arc<TargetRt>> = Vec::with_capacity(spec.targets.len());
            let mut tasks = tg.health_tasks.lock().unwrap();
            for t in &spec.targets {
                let key = (t.id.clone(), t.addr);
                if next.iter().any(|n| n.id == t.id && n.addr == t.addr) {
                    continue;
                }
                let rt = match old.iter().find(|o| o.id == t.id && o.addr == t.addr) {
                    Some(o) => {
                        o.update(t);
                        o.clone()
                    }
                    None => Arc::new(TargetRt::new(&spec.arn, t)),
                };
                let dial = rt.dial.load();
                let changed = dial.source_ips != spec.source_ips
                    || dial.egress != spec.egress
                    || dial.peer != t.vpc_ip;
                drop(dial);
                if changed {
                    rt.dial.store(Arc::new(dial::Dial {
                        source_ips: spec.source_ips.clone(),
                        egress: spec.egress.clone(),
                        peer: t.vpc_ip,
                    }));
                }
                tasks.entry(key).or_insert_with(|| {
                    tokio::spawn(health::run(env.clone(), tg.clone(), rt.clone())).abort_handle()
                });
                next.push(rt);
            }
            tasks.retain(|(id, addr), h| {
                let keep = next.iter().any(|n| &n.id == id && n.addr == *addr);
                if !keep {
                    h.abort();
                }
                keep
            });
            drop(tasks);
            tg.targets.store(Arc::new(next));
        }

        // Load balancers and listeners.
        let wanted: HashSet<&str> = desired.load_balancers.iter().map(|l| l.arn.as_str()).collect();
        control.lbs.retain(|arn, _| wanted.contains(arn.as_str()));
        let mut index: HashMap<String, Arc<Vec<Arc<ListenerRt>>>> = HashMap::new();
        for spec in &desired.load_balancers {
            let dimension = dimension_of(&spec.arn, ":loadbalancer/");
            let entry = control.lbs.entry(spec.arn.clone()).or_insert_with(|| LbEntry {
                rt: Arc::new(LoadBalancerRt { counters: Default::default() }),
                dimension: dimension.clone(),
                log: None,
                listeners: HashMap::new(),
                vpc_listeners: HashMap::new(),
            });
            let want_log = match (&env.cfg.access_log_dir, spec.attributes.access_logs_enabled) {
                (Some(dir), true) => Some(access_log::log_path(dir, &dimension)),
                _ => None,
            };
            if entry.log.as_ref().map(|(p, _)| p) != want_log.as_ref() {
                entry.log = want_log.and_then(|p| match access_log::LogSink::open(&p) {
                    Ok(s) => Some((p, s)),
                    Err(e) => {
                        tracing::warn!(path = %p.display(), error = %e, "cannot open access log");
                        None
                    }
                });
            }
            let settings = Arc::new(LbSettings {
                dimension: dimension.clone(),
                attributes: spec.attributes.clone(),
                idle_timeout: Duration::from_secs(u64::from(
                    spec.attributes.idle_timeout_seconds.max(1),
                )),
                log: entry.log.as_ref().map(|(_, s)| s.clone()),
                ingress: spec.ingress.clone(),
            });
            let ports: HashSet<u16> = spec.listeners.iter().map(|l| l.port).collect();
            entry.listeners.retain(|p, b| ports.contains(p) && b.addr.ip() == spec.ip);
            entry.vpc_listeners.retain(|a, v| {
                ports.contains(&a.port())
                    && spec.vpc_ips.contains(&a.ip())
                    && v.epoch == spec.vpc_epoch
            });
            let mut rts = Vec::new();
            for l in &spec.listeners {
                let routes = Arc::new(compile(&entry.rt, &settings, l, &control.tgs));
                let b = entry.listeners.entry(l.port).or_insert_with(|| BoundListener {
                    rt: Arc::new(ListenerRt {
                        env: env.clone(),
                        port: l.port.into(),
                        routes: ArcSwap::new(routes.clone()),
                    }),
                    addr: SocketAddr::new(spec.ip, l.port),
                    bound: Err(BindError::NotYet),
                    accept: None,
                });
                b.rt.routes.store(routes);
                if b.bound.is_err() {
                    match server::bind(b.addr) {
                        Ok(tcp) => {
                            let local = tcp.local_addr().unwrap_or(b.addr);
                            b.rt.port.store(local.port(), Relaxed);
                            let task = tokio::spawn(server::accept_loop(
                                tcp,
                                b.rt.clone(),
                                self.inner.conns.clone(),
                            ));
                            b.accept = Some(task.abort_handle());
                            b.bound = Ok(local);
                            tracing::info!(load_balancer = %spec.name, %local, "listener bound");
                        }
                        Err(e) => {
                            tracing::warn!(load_balancer = %spec.name, error = %e, "listener not bound");
                            b.bound = Err(e);
                        }
                    }
                }
                for ip in &spec.vpc_ips {
                    let addr = SocketAddr::new(*ip, l.port);
                    if entry.vpc_listeners.contains_key(&addr) {
                        continue;
                    }
                    // Not bound (the VPC's network not made yet): tried again next apply.
                    let made = dial::bind_in_vpc(addr).and_then(|tcp| {
                        tcp.set_nonblocking(true)?;
                        tokio::net::TcpListener::from_std(tcp)
                    });
                    match made {
                        Ok(tcp) => {
                            let task = tokio::spawn(server::accept_loop(
                                tcp,
                                b.rt.clone(),
                                self.inner.conns.clone(),
                            ));
                            let accept = task.abort_handle();
                            entry
                                .vpc_listeners
                                .insert(addr, VpcListener { epoch: spec.vpc_epoch, accept });
                            tracing::info!(load_balancer = %spec.name, %addr, "VPC listener bound");
                        }
                        Err(e) => {
                            tracing::debug!(load_balancer = %spec.name, %addr, error = %e, "VPC listener not bound");
                        }
                    }
                }
                rts.push(b.rt.clone());
            }
            let rts = Arc::new(rts);
            if !spec.dns_name.is_empty() {
                index.insert(spec.dns_name.to_ascii_lowercase(), rts);
            }
        }
        self.inner.index.store(Arc::new(index));
    }

    /// Every listener's bind state.
    pub fn listener_status(&self) -> Vec<ListenerStatus> {
        let control = self.inner.control.lock().unwrap();
        let mut out: Vec<ListenerStatus> = control
            .lbs
            .iter()
            .flat_map(|(arn, e)| {
                e.listeners.iter().map(move |(port, b)| ListenerStatus {
                    load_balancer_arn: arn.clone(),
                    port: *port,
                    bound: b.bound.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.load_balancer_arn, a.port).cmp(&(&b.load_balancer_arn, b.port)));
        out
    }

    /// DescribeTargetHealth for every registered target, as AWS would report it.
    pub fn target_health(&self) -> HealthSnapshot {
        let control = self.inner.control.lock().unwrap();
        let mut groups: Vec<TargetGroupHealth> =
            control.tgs.values().map(|tg| group_health(tg)).collect();
        groups.sort_by(|a, b| a.arn.cmp(&b.arn));
        HealthSnapshot { target_groups: groups }
    }

    /// Counters since the previous call, per load balancer, target group and target,
    /// with current healthy/unhealthy host counts.
    pub fn take_metrics(&self) -> MetricsSnapshot {
        let control = self.inner.control.lock().unwrap();
        let mut snap = MetricsSnapshot::default();
        for (arn, e) in &control.lbs {
            snap.load_balancers.push(LoadBalancerMetrics {
                arn: arn.clone(),
                dimension: e.dimension.clone(),
                counts: e.rt.counters.take(),
            });
        }
        for tg in control.tgs.values() {
            let h = group_health(tg);
            snap.target_groups.push(TargetGroupMetrics {
                arn: tg.arn.clone(),
                dimension: tg.dimension.clone(),
                load_balancer_dimensions: tg.load_balancers.lock().unwrap().clone(),
                counts: tg.counters.take(),
                healthy_host_count: h.healthy_host_count,
                unhealthy_host_count: h.unhealthy_host_count,
                targets: tg
                    .targets
                    .load()
                    .iter()
                    .map(|t| {
                        let total = t.requests.load(Relaxed);
                        let before = t.reported.swap(total, Relaxed);
                        (t.id.clone(), t.addr, total.saturating_sub(before))
                    })
                    .collect(),
            });
        }
        snap.load_balancers.sort_by(|a, b| a.arn.cmp(&b.arn));
        snap.target_groups.sort_by(|a, b| a.arn.cmp(&b.arn));
        snap
    }

    /// The access-log file of a load balancer, when its logs are on.
    pub fn access_log_path(&self, lb_arn: &str) -> Option<PathBuf> {
        let control = self.inner.control.lock().unwrap();
        control.lbs.get(lb_arn)?.log.as_ref().map(|(p, _)| p.clone())
    }

    /// The listener a request whose Host header is a load balancer's DNS name reaches on
    /// the daemon's own port (edge routing): the one on the Host's port when that load
    /// balancer has it, else its lowest port. Read from the lock-free index only, so
    /// the edge path never waits on an apply or on the control plane's state.
    pub fn edge_route(&self, host: &str) -> Option<EdgeRoute> {
        let (name, asked) = match host.rsplit_once(':') {
            Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                (h, p.parse::<u16>().ok())
            }
            _ => (host, None),
        };
        let index = self.inner.index.load();
        let listeners = index.get(&name.to_ascii_lowercase())?;
        let port_of = |l: &&Arc<ListenerRt>| l.port.load(Relaxed);
        let chosen = asked
            .and_then(|a| listeners.iter().find(|l| port_of(l) == a))
            .or_else(|| listeners.iter().min_by_key(port_of))?;
        Some(EdgeRoute { listener: chosen.clone() })
    }

    /// Serves one request on the listener [`Proxy::edge_route`] chose, as if it had
    /// reached that listener's own socket.
    pub async fn serve_edge(
        &self,
        route: EdgeRoute,
        req: Request<Incoming>,
        client: SocketAddr,
    ) -> Response<ProxyBody> {
        if !route.listener.admits(client) {
            // Its groups do not admit the client (the connection, already made to
            // Shoal's port, cannot be refused as the listener's would be).
            return body::elb_error(StatusCode::FORBIDDEN);
        }
        forward::serve(&self.inner.env, &route.listener, req, client).await
    }

    /// Stops every listener, health check and client connection this proxy started.
    pub async fn shutdown(&self) {
        {
            let mut control = self.inner.control.lock().unwrap();
            for tg in control.tgs.values() {
                for (_, h) in tg.health_tasks.lock().unwrap().drain() {
                    h.abort();
                }
                for t in tg.targets.load().iter() {
                    t.clear_pools();
                }
            }
            control.lbs.clear();
            control.tgs.clear();
        }
        self.inner.index.store(Arc::new(HashMap::new()));
        self.inner.conns.abort_all();
        tokio::task::yield_now().await;
    }
}

fn group_health(tg: &TargetGroupRt) -> TargetGroupHealth {
    let in_use = tg.in_use.load(Relaxed);
    let disabled = !tg.settings.load().health_check.enabled;
    let mut g = TargetGroupHealth {
        arn: tg.arn.clone(),
        targets: Vec::new(),
        healthy_host_count: 0,
        unhealthy_host_count: 0,
    };
    for t in tg.targets.load().iter() {
        let health = t.report(in_use, disabled);
        match health.state {
            TargetHealthState::Healthy => g.healthy_host_count += 1,
            TargetHealthState::Unhealthy => g.unhealthy_host_count += 1,
            _ => {}
        }
        g.targets.push(TargetHealthEntry {
            id: t.id.clone(),
            addr: t.addr,
            availability_zone: t.az.lock().unwrap().clone(),
            health,
            requests: t.requests.load(Relaxed),
        });
    }
    g
}

/// Compiles a listener's rules: sorted by priority, the default rule last, each
/// with one terminal action and its target groups resolved.
fn compile(
    lb: &Arc<LoadBalancerRt>,
    settings: &Arc<LbSettings>,
    spec: &ListenerSpec,
    tgs: &HashMap<String, Arc<TargetGroupRt>>,
) -> Routes {
    let action = |actions: &[Action]| -> RouteAction {
        match actions.last() {
            Some(Action::Forward(f)) => RouteAction::Forward(Forward {
                groups: f
                    .target_groups
                    .iter()
                    .filter_map(|g| tgs.get(&g.target_group_arn).map(|t| (t.clone(), g.weight)))
                    .collect(),
                stickiness_seconds: f.stickiness_seconds,
            }),
            Some(Action::FixedResponse(fr)) => RouteAction::Fixed {
                status: StatusCode::from_u16(fr.status_code).unwrap_or(StatusCode::OK),
                content_type: match fr.content_type.as_deref() {
                    Some("text/css") => "text/css",
                    Some("text/html") => "text/html",
                    Some("application/javascript") => "application/javascript",
                    Some("application/json") => "application/json",
                    _ => "text/plain; charset=utf-8",
                },
                body: Bytes::from(fr.message_body.clone().unwrap_or_default()),
            },
            Some(Action::Redirect(r)) => RouteAction::Redirect(r.clone()),
            None => RouteAction::Forward(Forward { groups: Vec::new(), stickiness_seconds: None }),
        }
    };
    let mut rules: Vec<RouteRule> = spec
        .rules
        .iter()
        .filter(|r| r.priority != RulePriority::Default)
        .map(|r| RouteRule {
            priority: r.priority,
            conditions: r.conditions.clone(),
            action: action(&r.actions),
        })
        .collect();
    rules.sort_by_key(|r| r.priority);
    rules.push(RouteRule {
        priority: RulePriority::Default,
        conditions: Vec::new(),
        action: action(&spec.default_actions),
    });
    let response_headers = spec
        .response_headers
        .iter()
        .filter_map(|(name, value)| {
            Some((
                http::HeaderName::from_bytes(name.as_bytes()).ok()?,
                http::HeaderValue::from_str(value).ok()?,
            ))
        })
        .collect();
    Routes {
        lb: lb.clone(),
        settings: settings.clone(),
        rules,
        server_header: spec.server_header,
        response_headers,
    }
}
