//! Shoal's real proxy as a standalone load balancer, for benchmarks:
//! one ALB with one HTTP listener, round robin over `ip` targets, health checks on.
//!
//! ```text
//! standalone --backends 127.0.0.1:18101,127.0.0.1:18102 --listen 127.0.0.1:8080 [--threads 1]
//! ```
//! Targets may come up after the proxy: they start `initial`, and while no target is
//! healthy the proxy fails open (as AWS does), so traffic flows from the first moment.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use shoal_model::elbv2::{
    Action, ForwardConfig, HealthCheck, LoadBalancerAttributes, TargetGroupAttributes,
};
use shoal_proxy::{
    DataPlane, ListenerSpec, LoadBalancerSpec, Proxy, ProxyConfig, TargetGroupSpec, TargetSpec,
};

const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/bench-lb/0000000000000001";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/bench-tg/0000000000000002";

fn usage() -> ExitCode {
    eprintln!("usage: standalone --backends IP:PORT[,IP:PORT...] --listen IP:PORT [--threads N]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut backends: Vec<SocketAddr> = Vec::new();
    let mut listen: Option<SocketAddr> = None;
    let mut threads = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next();
        match (a.as_str(), v) {
            ("--backends", Some(v)) => {
                for b in v.split(',') {
                    match b.parse() {
                        Ok(addr) => backends.push(addr),
                        Err(_) => return usage(),
                    }
                }
            }
            ("--listen", Some(v)) => listen = v.parse().ok(),
            ("--threads", Some(v)) => threads = v.parse().unwrap_or(1).max(1),
            _ => return usage(),
        }
    }
    let Some(listen) = listen else { return usage() };
    if backends.is_empty() {
        return usage();
    }
    let mut rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    let rt = rt.enable_all().build().expect("tokio runtime");
    rt.block_on(run(listen, backends))
}

async fn run(listen: SocketAddr, backends: Vec<SocketAddr>) -> ExitCode {
    let proxy = Proxy::new(ProxyConfig::default());
    let targets = backends.iter().map(|a| TargetSpec::new(a.ip().to_string(), *a)).collect();
    // haproxy in the benchmark checks every 1 s with fall 2 / rise 2; do the same.
    let health_check =
        HealthCheck { healthy_threshold: 2, unhealthy_threshold: 2, ..Default::default() };
    proxy.apply(DataPlane {
        load_balancers: vec![LoadBalancerSpec {
            arn: LB.into(),
            name: "bench-lb".into(),
            dns_name: "bench-lb-1.us-east-1.elb.localhost".into(),
            ip: listen.ip(),
            ingress: None,
            vpc_ips: Vec::new(),
            vpc_epoch: 0,
            attributes: LoadBalancerAttributes::default(),
            listeners: vec![ListenerSpec {
                port: listen.port(),
                default_actions: vec![Action::Forward(ForwardConfig::single(TG))],
                rules: vec![],
                server_header: true,
                response_headers: vec![],
            }],
        }],
        target_groups: vec![TargetGroupSpec {
            arn: TG.into(),
            name: "bench-tg".into(),
            health_check,
            attributes: TargetGroupAttributes::default(),
            targets,
            health_check_interval: Some(Duration::from_secs(1)),
            health_check_timeout: Some(Duration::from_millis(500)),
            source_ips: Vec::new(),
            egress: None,
        }],
    });
    for s in proxy.listener_status() {
        match s.bound {
            Ok(addr) => eprintln!("shoal standalone: listening on {addr}"),
            Err(e) => {
                eprintln!("shoal standalone: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    proxy.shutdown().await;
    ExitCode::SUCCESS
}
