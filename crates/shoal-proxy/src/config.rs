//! What the control plane hands the proxy: the desired data plane, as plain data.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use shoal_model::ec2::connection_filter::ConnectionFilter;
use shoal_model::elbv2::{
    Action, HealthCheck, LoadBalancerAttributes, Rule, TargetGroupAttributes,
};

/// A wall clock: access-log timestamps, trace-id epochs and cookie expiry read it.
/// Durations and timers use `tokio::time`, so paused-time tests also work.
pub type WallClock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Process-wide proxy settings.
#[derive(Clone)]
pub struct ProxyConfig {
    /// Where access logs go, one file per load balancer (when the LB's
    /// `access_logs.s3.enabled` attribute is true). `None` disables them.
    pub access_log_dir: Option<PathBuf>,
    /// Wall clock for timestamps.
    pub wall_clock: WallClock,
    /// How long a connect to a target may take before the client gets a 504 (AWS: 10 s).
    pub connect_timeout: Duration,
    /// Most idle keep-alive connections kept per target.
    pub max_idle_per_target: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            access_log_dir: None,
            wall_clock: Arc::new(SystemTime::now),
            connect_timeout: Duration::from_secs(10),
            max_idle_per_target: 256,
        }
    }
}

/// The whole desired data plane. [`crate::Proxy::apply`] makes it so, idempotently.
#[derive(Debug, Clone, Default)]
pub struct DataPlane {
    pub load_balancers: Vec<LoadBalancerSpec>,
    pub target_groups: Vec<TargetGroupSpec>,
}

/// One load balancer: its own loopback IP, so many LBs can each listen on :80.
#[derive(Debug, Clone)]
pub struct LoadBalancerSpec {
    /// The LB's ARN: its identity across applies.
    pub arn: String,
    pub name: String,
    /// DNS name, for Host-header edge routing ([`crate::Proxy::edge_route`]).
    pub dns_name: String,
    /// The loopback address its listeners bind (e.g. `127.0.10.1`).
    pub ip: IpAddr,
    /// Its security groups' ingress rules: a client connection is accepted only when
    /// they admit its address and the listener's port (else it is reset). `None`: not
    /// filtered (instances share the host's network, whose groups nothing enforces).
    pub ingress: Option<ConnectionFilter>,
    /// Its interfaces' addresses in its VPC: each listener is served on each of them too,
    /// through the installed [`crate::dial::Binder`], as AWS's load balancer is reached
    /// inside its VPC. Empty without VPC networks.
    pub vpc_ips: Vec<IpAddr>,
    /// Changes when the VPC's network is made anew: its listeners there are bound again.
    pub vpc_epoch: u64,
    pub attributes: LoadBalancerAttributes,
    pub listeners: Vec<ListenerSpec>,
}

/// One HTTP listener. Port 0 binds an ephemeral port (tests); see
/// [`crate::Proxy::listener_status`] for the bound address.
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    pub port: u16,
    /// The default rule's actions.
    pub default_actions: Vec<Action>,
    /// Non-default rules in any order; the proxy sorts them by priority.
    pub rules: Vec<Rule>,
    /// The listener's `routing.http.response.server.enabled`: whether the responses
    /// the load balancer itself makes carry `Server: awselb/2.0` (AWS's default).
    pub server_header: bool,
    /// Headers the listener adds to every response, replacing a target's
    /// (`routing.http.response.<header>.header_value`), as `(name, value)`.
    pub response_headers: Vec<(String, String)>,
}

/// One target group with its registered targets.
#[derive(Debug, Clone)]
pub struct TargetGroupSpec {
    /// The group's ARN: its identity across applies.
    pub arn: String,
    pub name: String,
    pub health_check: HealthCheck,
    pub attributes: TargetGroupAttributes,
    pub targets: Vec<TargetSpec>,
    /// Overrides `health_check.interval_seconds` (tests use e.g. 200 ms).
    pub health_check_interval: Option<Duration>,
    /// Overrides `health_check.timeout_seconds`.
    pub health_check_timeout: Option<Duration>,
    /// The addresses its load balancers connect to targets from (their network
    /// interfaces' private addresses): the dialer binds one (`crate::dial`). Empty:
    /// the kernel picks, as for loopback targets.
    pub source_ips: Vec<IpAddr>,
    /// Its load balancers' security groups' egress rules: a connection to a target
    /// (traffic or health check) is made only when they admit the target's
    /// [`TargetSpec::vpc_ip`] and port; else it never completes (as a dropped SYN:
    /// health checks time out). `None`: not filtered.
    pub egress: Option<ConnectionFilter>,
}

/// One registered target: where traffic goes and what the control plane knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// Instance id or IP, as registered.
    pub id: String,
    /// Address traffic and health checks go to (instance private IP + port).
    pub addr: SocketAddr,
    pub availability_zone: String,
    /// Deregistered, within the deregistration delay: no new requests, in-flight
    /// ones finish. The control plane removes the target when the delay ends.
    pub draining: bool,
    /// The instance is stopped: `unused` / `Target.InvalidState`, no traffic.
    pub instance_stopped: bool,
    /// Its address inside its VPC (an instance's private address), which the load
    /// balancer's egress rules see; `None`: `addr`'s.
    pub vpc_ip: Option<IpAddr>,
}

impl TargetSpec {
    /// A healthy-to-be target at `addr`.
    pub fn new(id: impl Into<String>, addr: SocketAddr) -> Self {
        TargetSpec {
            id: id.into(),
            addr,
            availability_zone: String::new(),
            draining: false,
            instance_stopped: false,
            vpc_ip: None,
        }
    }
}

impl TargetGroupSpec {
    pub(crate) fn interval(&self) -> Duration {
        self.health_check_interval
            .unwrap_or(Duration::from_secs(u64::from(self.health_check.interval_seconds)))
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.health_check_timeout
            .unwrap_or(Duration::from_secs(u64::from(self.health_check.timeout_seconds)))
    }
}
