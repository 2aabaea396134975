//! Runtime state the request path reads: compiled routes per listener, target groups
//! and targets with their health flags, pools and counters.
//!
//! Architecture invariant: the request path takes no lock that is held across an
//! `.await`, and reads configuration through `ArcSwap`s the control plane replaces
//! whole. Targets and target groups keep their identity (and pools, health and
//! counters) across applies; only what changed is swapped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{
    AtomicBool, AtomicU16, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use shoal_model::elbv2::health::{CheckVerdict, HealthCounter, TargetContext};
use shoal_model::elbv2::{
    Algorithm, Condition, HealthCheck, LoadBalancerAttributes, Redirect, RulePriority,
    TargetGroupAttributes, TargetHealth,
};
use tokio::task::AbortHandle;

use crate::access_log::LogSink;
use crate::config::{ProxyConfig, TargetSpec};

/// Process-wide environment shared by every task: configuration and the clock base.
pub(crate) struct Env {
    pub cfg: ProxyConfig,
    /// Base of the millisecond timestamps kept in atomics (tokio clock, pausable).
    pub epoch: tokio::time::Instant,
}

impl Env {
    pub fn now_ms(&self) -> u64 {
        tokio::time::Instant::now().duration_since(self.epoch).as_millis() as u64
    }

    pub fn wall(&self) -> SystemTime {
        (self.cfg.wall_clock)()
    }
}

/// Request counters, reset by each `take`. Plain relaxed atomics: they are
/// statistics, not synchronisation.
#[derive(Default)]
pub(crate) struct Counters {
    pub request_count: AtomicU64,
    pub target_xx: [AtomicU64; 4],
    pub elb_3xx: AtomicU64,
    pub elb_4xx: AtomicU64,
    pub elb_5xx: AtomicU64,
    pub elb_500: AtomicU64,
    pub elb_502: AtomicU64,
    pub elb_503: AtomicU64,
    pub elb_504: AtomicU64,
    pub trt_sum_us: AtomicU64,
    pub trt_count: AtomicU64,
    pub trt_max_us: AtomicU64,
    pub retried_connects: AtomicU64,
}

impl Counters {
    /// A target answered with `status` after `elapsed` (TargetResponseTime).
    pub fn target_response(&self, status: u16, elapsed: Duration) {
        if (200..600).contains(&status) {
            self.target_xx[(status / 100 - 2) as usize].fetch_add(1, Relaxed);
        }
        let us = elapsed.as_micros() as u64;
        self.trt_sum_us.fetch_add(us, Relaxed);
        self.trt_count.fetch_add(1, Relaxed);
        self.trt_max_us.fetch_max(us, Relaxed);
    }

    /// The load balancer itself answered with `status`.
    pub fn elb_response(&self, status: u16) {
        match status / 100 {
            3 => self.elb_3xx.fetch_add(1, Relaxed),
            4 => self.elb_4xx.fetch_add(1, Relaxed),
            5 => self.elb_5xx.fetch_add(1, Relaxed),
            _ => 0,
        };
        match status {
            500 => self.elb_500.fetch_add(1, Relaxed),
            502 => self.elb_502.fetch_add(1, Relaxed),
            503 => self.elb_503.fetch_add(1, Relaxed),
            504 => self.elb_504.fetch_add(1, Relaxed),
            _ => 0,
        };
    }

    pub fn take(&self) -> crate::Counts {
        let t = |a: &AtomicU64| a.swap(0, Relaxed);
        crate::Counts {
            request_count: t(&self.request_count),
            httpcode_target_2xx: t(&self.target_xx[0]),
            httpcode_target_3xx: t(&self.target_xx[1]),
            httpcode_target_4xx: t(&self.target_xx[2]),
            httpcode_target_5xx: t(&self.target_xx[3]),
            httpcode_elb_3xx: t(&self.elb_3xx),
            httpcode_elb_4xx: t(&self.elb_4xx),
            httpcode_elb_5xx: t(&self.elb_5xx),
            httpcode_elb_500: t(&self.elb_500),
            httpcode_elb_502: t(&self.elb_502),
            httpcode_elb_503: t(&self.elb_503),
            httpcode_elb_504: t(&self.elb_504),
            target_response_time_sum: Duration::from_micros(t(&self.trt_sum_us)),
            target_response_count: t(&self.trt_count),
            target_response_time_max: Duration::from_micros(t(&self.trt_max_us)),
            retried_connects: t(&self.retried_connects),
        }
    }
}

/// Health verdict flags kept in an atomic for the request path.
pub(crate) const V_INITIAL: u8 = 0;
pub(crate) const V_HEALTHY: u8 = 1;
pub(crate) const V_UNHEALTHY: u8 = 2;

/// One registered target. Its identity is (id, addr); it survives applies.
pub(crate) struct TargetRt {
    pub id: String,
    pub addr: SocketAddr,
    /// `ip:port`, preformatted for access logs.
    pub addr_str: String,
    pub az: Mutex<String>,
    pub draining: AtomicBool,
    pub stopped: AtomicBool,
    pub counter: Mutex<HealthCounter>,
    pub verdict: AtomicU8,
    /// `Env::now_ms` when the target last became healthy (slow start).
    pub healthy_since_ms: AtomicU64,
    /// Requests sent and not yet answered in full (least outstanding requests).
    pub outstanding: AtomicUsize,
    /// Requests sent to this target since it was registered (never reset).
    pub requests: AtomicU64,
    /// The part of `requests` [`crate::Proxy::take_metrics`] has already reported.
    pub reported: AtomicU64,
    /// Idle keep-alive connections of the hyper path. The lock is only held to push
    /// or pop.
    pub pool: Mutex<Vec<SendRequest<Incoming>>>,
    /// Idle keep-alive connections of the fast path (`h1`): plain sockets, each at a
    /// message boundary. The lock is only held to push or pop.
    pub idle: Mutex<Vec<tokio::net::TcpStream>>,
    /// Identifies the target in `AWSALB` stickiness cookies.
    pub sticky_id: u64,
    /// How to reach it: its group's source addresses and egress rules, its VPC
    /// address; set on every apply.
    pub dial: ArcSwap<crate::dial::Dial>,
}

impl TargetRt {
    pub fn new(tg_arn: &str, spec: &TargetSpec) -> Self {
        TargetRt {
            id: spec.id.clone(),
            addr: spec.addr,
            addr_str: spec.addr.to_string(),
            az: Mutex::new(spec.availability_zone.clone()),
            draining: AtomicBool::new(spec.draining),
            stopped: AtomicBool::new(spec.instance_stopped),
            counter: Mutex::new(HealthCounter::new()),
            verdict: AtomicU8::new(V_INITIAL),
            healthy_since_ms: AtomicU64::new(0),
            outstanding: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            reported: AtomicU64::new(0),
            pool: Mutex::new(Vec::new()),
            idle: Mutex::new(Vec::new()),
            sticky_id: fnv1a(&[
                tg_arn.as_bytes(),
                spec.id.as_bytes(),
                spec.addr.to_string().as_bytes(),
            ]),
            dial: ArcSwap::from_pointee(crate::dial::Dial::default()),
        }
    }

    pub fn update(&self, spec: &TargetSpec) {
        self.draining.store(spec.draining, Relaxed);
        self.stopped.store(spec.instance_stopped, Relaxed);
        *self.az.lock().unwrap() = spec.availability_zone.clone();
        if spec.draining {
            // No new requests: idle connections are not needed any more.
            self.clear_pools();
        }
    }

    /// Closes every idle connection to this target.
    pub fn clear_pools(&self) {
        self.pool.lock().unwrap().clear();
        self.idle.lock().unwrap().clear();
    }

    /// Takes new requests at all (registered, not draining, instance running).
    #[inline]
    pub fn in_service(&self) -> bool {
        !self.draining.load(Relaxed) && !self.stopped.load(Relaxed)
    }

    #[inline]
    pub fn healthy(&self) -> bool {
        self.verdict.load(Relaxed) == V_HEALTHY
    }

    pub fn report(&self, in_use: bool, checks_disabled: bool) -> TargetHealth {
        let counter = *self.counter.lock().unwrap();
        TargetHealth::report(
            &counter,
            TargetContext {
                draining: self.draining.load(Relaxed),
                in_use,
                instance_stopped: self.stopped.load(Relaxed),
                health_checks_disabled: checks_disabled,
            },
        )
    }

    /// Records a health verdict in the atomic the request path reads.
    pub fn set_counter(&self, c: HealthCounter, now_ms: u64) {
        let v = match c.verdict {
            CheckVerdict::Initial => V_INITIAL,
            CheckVerdict::Healthy => V_HEALTHY,
            CheckVerdict::Unhealthy => V_UNHEALTHY,
        };
        *self.counter.lock().unwrap() = c;
        let before = self.verdict.swap(v, Relaxed);
        if v == V_HEALTHY && before != V_HEALTHY {
            self.healthy_since_ms.store(now_ms, Relaxed);
        }
        if v == V_UNHEALTHY {
            self.clear_pools();
        }
    }
}

/// Target group settings, replaced whole on apply.
pub(crate) struct TgSettings {
    pub health_check: HealthCheck,
    pub attributes: TargetGroupAttributes,
    pub interval: Duration,
    pub timeout: Duration,
}

/// One target group at run time.
pub(crate) struct TargetGroupRt {
    pub arn: String,
    pub dimension: String,
    /// Identifies the group in `AWSALBTG` cookies.
    pub sticky_id: u64,
    pub settings: ArcSwap<TgSettings>,
    pub targets: ArcSwap<Vec<Arc<TargetRt>>>,
    pub rr: AtomicUsize,
    pub counters: Counters,
    /// Some listener action forwards here (else targets are `unused`/`Target.NotInUse`).
    pub in_use: AtomicBool,
    /// Load balancers whose listeners forward here (metrics dimensions).
    pub load_balancers: Mutex<Vec<String>>,
    /// One health-check task per target, keyed like the targets.
    pub health_tasks: Mutex<HashMap<(String, SocketAddr), AbortHandle>>,
}

impl TargetGroupRt {
    /// Picks a target for a new request, as an index into `targets`.
    ///
    /// Eligible: in service and healthy, or — when no in-service target is healthy —
    /// every in-service target (AWS fails open). `tried` is a bitmask of indices
    /// already refused (connect retries). `sticky` prefers that target if eligible.
    pub fn pick(
        &self,
        targets: &[Arc<TargetRt>],
        settings: &TgSettings,
        tried: u64,
        sticky: Option<u64>,
        now_ms: u64,
    ) -> Option<usize> {
        let excluded = |i: usize| i < 64 && tried & (1 << i) != 0;
        let any_healthy = targets.iter().any(|t| t.in_service() && t.healthy());
        let eligible = |i: usize, t: &TargetRt| {
            !excluded(i) && t.in_service() && (!any_healthy || t.healthy())
        };
        if let Some(s) = sticky {
            if let Some(i) =
                targets.iter().enumerate().position(|(i, t)| t.sticky_id == s && eligible(i, t))
            {
                return Some(i);
            }
        }
        let count = targets.iter().enumerate().filter(|(i, t)| eligible(*i, t)).count();
        if count == 0 {
            return None;
        }
        let nth = |k: usize| {
            targets
                .iter()
                .enumerate()
                .filter(|(i, t)| eligible(*i, t))
                .nth(k % count)
                .map(|(i, _)| i)
        };
        match settings.attributes.algorithm {
            Algorithm::LeastOutstandingRequests => {
                let start = self.rr.fetch_add(1, Relaxed);
                let mut best: Option<(usize, usize)> = None;
                for k in 0..count {
                    let i = nth(start + k)?;
                    let o = targets[i].outstanding.load(Relaxed);
                    if best.is_none_or(|(_, b)| o < b) {
                        best = Some((i, o));
                    }
                }
                best.map(|(i, _)| i)
            }
            Algorithm::WeightedRandom => nth(rand::random::<u32>() as usize),
            Algorithm::RoundRobin => {
                let slow = u64::from(settings.attributes.slow_start_seconds) * 1000;
                let start = self.rr.fetch_add(1, Relaxed);
                if slow == 0 || count == 1 {
                    return nth(start);
                }
                // Slow start: a target that became healthy `e` ms ago takes a request
                // offered to it with probability e/slow, ramping linearly to its share.
                for k in 0..count {
                    let i = nth(start + k)?;
                    let since = targets[i].healthy_since_ms.load(Relaxed);
                    let e = now_ms.saturating_sub(since);
                    if since == 0 || e >= slow || rand::random::<u64>() % slow < e {
                        return Some(i);
                    }
                }
                nth(start)
            }
        }
    }
}

/// Load-balancer settings the request path needs, replaced whole on apply.
pub(crate) struct LbSettings {
    pub dimension: String,
    pub attributes: LoadBalancerAttributes,
    pub idle_timeout: Duration,
    pub log: Option<LogSink>,
    /// See [`crate::LoadBalancerSpec::ingress`].
    pub ingress: Option<shoal_model::ec2::connection_filter::ConnectionFilter>,
}

/// One load balancer at run time.
pub(crate) struct LoadBalancerRt {
    pub counters: Counters,
}

/// A compiled action.
pub(crate) enum RouteAction {
    Forward(Forward),
    Fixed { status: http::StatusCode, content_type: &'static str, body: Bytes },
    Redirect(Redirect),
}

pub(crate) struct Forward {
    pub groups: Vec<(Arc<TargetGroupRt>, u32)>,
    /// `AWSALBTG` group stickiness duration, when enabled.
    pub stickiness_seconds: Option<u32>,
}

pub(crate) struct RouteRule {
    pub priority: RulePriority,
    pub conditions: Vec<Condition>,
    pub action: RouteAction,
}

/// Everything one listener needs per request, swapped whole on apply.
pub(crate) struct Routes {
    pub lb: Arc<LoadBalancerRt>,
    pub settings: Arc<LbSettings>,
    /// Sorted by priority; the default rule is last.
    pub rules: Vec<RouteRule>,
    /// See [`crate::ListenerSpec::server_header`].
    pub server_header: bool,
    /// See [`crate::ListenerSpec::response_headers`] (invalid ones left out).
    pub response_headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

/// A bound listener: the socket task reads `routes` per request.
pub(crate) struct ListenerRt {
    pub env: Arc<Env>,
    /// The bound port (differs from the configured one only for port 0).
    pub port: AtomicU16,
    pub routes: ArcSwap<Routes>,
}

impl ListenerRt {
    /// The load balancer's ingress rules admit a client at `peer` on this listener.
    pub fn admits(&self, peer: SocketAddr) -> bool {
        let routes = self.routes.load();
        let port = self.port.load(Relaxed);
        routes.settings.ingress.as_ref().is_none_or(|f| f.admits(peer.ip(), port))
    }
}

/// FNV-1a over byte strings: stable ids for cookies (no randomness needed).
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
