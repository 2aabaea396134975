//! Integration tests: real tiny hyper backends on 127.0.0.1:0, the real proxy, a real
//! HTTP client. Every wait is bounded; every task started is stopped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use shoal_model::elbv2::conditions::Cidr;
use shoal_model::elbv2::{
    Action, Condition, FixedResponse, ForwardConfig, HealthCheck, LoadBalancerAttributes, Redirect,
    Rule, RulePriority, TargetGroupAttributes, WeightedTargetGroup,
};
use shoal_proxy::{
    DataPlane, ListenerSpec, LoadBalancerSpec, Proxy, ProxyConfig, TargetGroupSpec, TargetSpec,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const LB_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/exercise-lb/0000000000000001";
const TG_A: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/exercise-target-group/000000000000000a";
const TG_B: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/000000000000000b";

// ---------------------------------------------------------------- backends

/// A tiny app like the lab's: `GET /` names the backend, `/health` is 200,
/// `/headers` echoes the request headers one per line, `/echo` the request body.
struct Backend {
    name: String,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Backend {
    async fn start(name: &str) -> Backend {
        Self::start_at(name, "127.0.0.1:0".parse().unwrap()).await
    }

    async fn start_at(name: &str, addr: SocketAddr) -> Backend {
        let tcp = TcpListener::bind(addr).await.expect("bind backend");
        let addr = tcp.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (n, c) = (name.to_string(), conns.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = tcp.accept().await else { continue };
                let n = n.clone();
                let svc = service_fn(move |req: Request<Incoming>| {
                    let n = n.clone();
                    async move {
                        let body = match req.uri().path() {
                            "/echo" => {
                                let b = req.into_body().collect().await.unwrap().to_bytes();
                                return Ok::<_, Infallible>(Response::new(Full::new(b)));
                            }
                            "/health" => String::new(),
                            "/headers" => req
                                .headers()
                                .iter()
                                .map(|(k, v)| format!("{}: {}\n", k, v.to_str().unwrap_or("?")))
                                .collect(),
                            "/slow" => {
                                tokio::time::sleep(Duration::from_secs(30)).await;
                                "slow".into()
                            }
                            _ => format!("ok {n}"),
                        };
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                    }
                });
                let h = tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                c.lock().unwrap().push(h);
            }
        });
        Backend { name: name.to_string(), addr, accept: Some(accept), conns }
    }

    /// Stops like `service nginx stop`: the port refuses and open connections close.
    fn stop(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    async fn restart(&mut self) {
        self.stop();
        let mut last = None;
        for _ in 0..50 {
            match TcpListener::bind(self.addr).await {
                Ok(l) => {
                    drop(l);
                    *self = Backend::start_at(&self.name, self.addr).await;
                    return;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("could not rebind {}: {last:?}", self.addr);
    }

    fn target(&self) -> TargetSpec {
        TargetSpec::new(format!("i-{}", self.name), self.addr)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------- fixtures

fn tg(arn: &str, targets: Vec<TargetSpec>) -> TargetGroupSpec {
    let health_check = HealthCheck {
        path: "/health".into(),
        healthy_threshold: 2,
        unhealthy_threshold: 2,
        ..Default::default()
    };
    TargetGroupSpec {
        arn: arn.into(),
        name: arn.rsplit('/').nth(1).unwrap().into(),
        health_check,
        attributes: TargetGroupAttributes::default(),
        targets,
        health_check_interval: Some(Duration::from_millis(200)),
        health_check_timeout: Some(Duration::from_millis(150)),
        source_ips: Vec::new(),
        egress: None,
    }
}

fn lb(default_actions: Vec<Action>, rules: Vec<Rule>) -> LoadBalancerSpec {
    LoadBalancerSpec {
        arn: LB_ARN.into(),
        name: "exercise-lb".into(),
        dns_name: "exercise-lb-1.us-east-1.elb.localhost".into(),
        ip: "127.0.0.1".parse().unwrap(),
        ingress: None,
        vpc_ips: Vec::new(),
        vpc_epoch: 0,
        attributes: LoadBalancerAttributes::default(),
        listeners: vec![ListenerSpec {
            port: 0,
            default_actions,
            rules,
            server_header: true,
            response_headers: vec![],
        }],
    }
}

fn forward(arn: &str) -> Vec<Action> {
    vec![Action::Forward(ForwardConfig::single(arn))]
}

/// Applies the plane and returns the listener's bound address.
fn apply(proxy: &Proxy, plane: DataPlane) -> SocketAddr {
    proxy.apply(plane);
    let status = proxy.listener_status();
    assert_eq!(status.len(), 1, "{status:?}");
    status[0].bound.clone().expect("listener bound")
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..250 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn wait_state(proxy: &Proxy, tg: &str, id: &str, state: &str) {
    wait_for(&format!("{id} {state}"), || {
        proxy.target_health().get(tg, id).is_some_and(|t| t.health.state.as_str() == state)
    })
    .await;
}

/// A keep-alive HTTP/1.1 client connection.
struct Client {
    tx: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    task: JoinHandle<()>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        Client { tx, task }
    }

    async fn get(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, http::HeaderMap, String) {
        let mut b = Request::get(path);
        if !headers.iter().any(|(k, _)| *k == "host") {
            b = b.header("host", "exercise-lb-1.us-east-1.elb.localhost");
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.tx.ready().await.unwrap();
        let res = tokio::time::timeout(
            Duration::from_secs(10),
            self.tx.send_request(b.body(Empty::new()).unwrap()),
        )
        .await
        .expect("response in time")
        .expect("response");
        let (parts, body) = res.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, String::from_utf8_lossy(&body).into_owned())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request on a fresh connection.
async fn get(addr: SocketAddr, path: &str) -> (StatusCode, String) {
    let (s, _, b) = Client::connect(addr).await.get(path, &[]).await;
    (s, b)
}

async fn two_backends(retry: bool) -> (Proxy, SocketAddr, Backend, Backend) {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let proxy = Proxy::new(ProxyConfig::default());
    let mut group = tg(TG_A, vec![a.target(), b.target()]);
    group.attributes.retry_on_connect_failure = retry;
    let addr = apply(
        &proxy,
        DataPlane { load_balancers: vec![lb(forward(TG_A), vec![])], target_groups: vec![group] },
    );
    wait_state(&proxy, TG_A, "i-a", "healthy").await;
    wait_state(&proxy, TG_A, "i-b", "healthy").await;
    (proxy, addr, a, b)
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn round_robin_alternates_over_healthy_targets() {
    let (proxy, addr, _a, _b) = two_backends(true).await;
    let mut c = Client::connect(addr).await;
    let mut bodies = Vec::new();
    for _ in 0..6 {
        let (s, _, body) = c.get("/", &[]).await;
        assert_eq!(s, 200);
        bodies.push(body);
    }
    for w in bodies.windows(2) {
        assert_ne!(w[0], w[1], "round robin alternates: {bodies:?}");
    }
    let h = proxy.target_health();
    assert_eq!(h.group(TG_A).unwrap().healthy_host_count, 2);
    assert!(h.get(TG_A, "i-a").unwrap().health.reason.is_none());
    proxy.shutdown().await;
}

#[tokio::test]
async fn stopped_target_with_retry_costs_clients_nothing() {
    let (proxy, addr, mut a, _b) = two_backends(true).await;
    a.stop();
    for _ in 0..20 {
        let (s, body) = get(addr, "/").await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, "ok b"));
    }
    // Health still follows the active checks exactly.
    wait_state(&proxy, TG_A, "i-a", "unhealthy").await;
    let h = proxy.target_health();
    let t = h.get(TG_A, "i-a").unwrap();
    assert_eq!(t.health.reason.unwrap().code(), "Target.FailedHealthChecks");
    assert_eq!(t.health.description.as_deref(), Some("Health checks failed"));
    let m = proxy.take_metrics();
    let lbm = m.load_balancer(LB_ARN).unwrap();
    assert_eq!(lbm.counts.httpcode_elb_502, 0);
    assert!(lbm.counts.retried_connects >= 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn without_retry_502_until_unhealthy_then_recovers() {
    let (proxy, addr, mut a, _b) = two_backends(false).await;
    a.stop();
    let mut saw_502 = false;
    for _ in 0..4 {
        let (s, headers, body) = Client::connect(addr).await.get("/", &[]).await;
        if s == StatusCode::BAD_GATEWAY {
            saw_502 = true;
            assert_eq!(headers["server"], "awselb/2.0");
            assert_eq!(headers["content-type"], "text/html");
            assert_eq!(body, shoal_proxy::error_page(StatusCode::BAD_GATEWAY));
            assert!(body.contains("<title>502 Bad Gateway</title>"));
        } else {
            assert_eq!(body, "ok b");
        }
    }
    assert!(saw_502, "AWS answers 502 on the stopped target's share");
    wait_state(&proxy, TG_A, "i-a", "unhealthy").await;
    for _ in 0..10 {
        assert_eq!(get(addr, "/").await, (StatusCode::OK, "ok b".to_string()));
    }
    assert!(proxy.take_metrics().load_balancer(LB_ARN).unwrap().counts.httpcode_elb_502 >= 1);
    // Back after HealthyThreshold (2) passes.
    a.restart().await;
    wait_state(&proxy, TG_A, "i-a", "healthy").await;
    let mut seen = HashMap::new();
    for _ in 0..6 {
        *seen.entry(get(addr, "/").await.1).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "both serve again: {seen:?}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn weighted_forward_splits_in_proportion() {
    let (a, b) = (Backend::start("blue").await, Backend::start("green").await);
    let proxy = Proxy::new(ProxyConfig::default());
    let fwd = Action::Forward(ForwardConfig {
        target_groups: vec![
            WeightedTargetGroup { target_group_arn: TG_A.into(), weight: 1 },
            WeightedTargetGroup { target_group_arn: TG_B.into(), weight: 3 },
        ],
        stickiness_seconds: None,
    });
    let addr = apply(
        &proxy,
        DataPlane {
            load_balancers: vec![lb(vec![fwd], vec![])],
            target_groups: vec![tg(TG_A, vec![a.target()]), tg(TG_B, vec![b.target()])],
        },
    );
    wait_state(&proxy, TG_A, "i-blue", "healthy").await;
    wait_state(&proxy, TG_B, "i-green", "healthy").await;
    let mut c = Client::connect(addr).await;
    let mut green = 0;
    for _ in 0..400 {
        if c.get("/", &[]).await.2 == "ok green" {
            green += 1;
        }
    }
    // Expected 300; binomial sd ≈ 8.7, so this band is > 8 sd wide on each side.
    assert!((230..=370).contains(&green), "green got {green}/400");
    proxy.shutdown().await;
}

#[tokio::test]
async fn rules_route_by_path_host_and_answer_fixed_and_redirect() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let proxy = Proxy::new(ProxyConfig::default());
    let rule = |p: u32, conditions: Vec<Condition>, actions: Vec<Action>| Rule {
        arn: format!("rule-{p}"),
        priority: RulePriority::Number(p),
        conditions,
        actions,
    };
    let rules = vec![
        rule(20, vec![Condition::PathPattern(vec!["/api/*".into()])], forward(TG_B)),
        rule(
            10,
            vec![Condition::HostHeader(vec!["*.example.com".into()])],
            vec![Action::FixedResponse(FixedResponse {
                status_code: 418,
                content_type: Some("application/json".into()),
                message_body: Some("{\"teapot\":true}".into()),
            })],
        ),
        rule(
            30,
            vec![Condition::PathPattern(vec!["/old/*".into()])],
            vec![Action::Redirect(Redirect {
                path: "/new/#{path}".into(),
                status_code: 302,
                ..Default::default()
            })],
        ),
        rule(
            40,
            vec![Condition::SourceIp(vec![Cidr::parse("10.0.0.0/8").unwrap()])],
            forward(TG_B),
        ),
    ];
    let addr = apply(
        &proxy,
        DataPlane {
            load_balancers: vec![lb(forward(TG_A), rules)],
            target_groups: vec![tg(TG_A, vec![a.target()]), tg(TG_B, vec![b.target()])],
        },
    );
    wait_state(&proxy, TG_A, "i-a", "healthy").await;
    wait_state(&proxy, TG_B, "i-b", "healthy").await;
    let mut c = Client::connect(addr).await;
    assert_eq!(c.get("/api/users", &[]).await.2, "ok b");
    assert_eq!(c.get("/", &[]).await.2, "ok a");
    assert_eq!(c.get("/apix", &[]).await.2, "ok a");
    let (s, h, body) = c.get("/api/x", &[("host", "www.example.com")]).await;
    // Host rule (priority 10) wins over the path rule (20).
    assert_eq!((s.as_u16(), body.as_str()), (418, "{\"teapot\":true}"));
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["server"], "awselb/2.0");
    let (s, h, _) = c.get("/old/page?x=1", &[]).await;
    assert_eq!(s, StatusCode::FOUND);
    let port = addr.port();
    assert_eq!(
        h["location"],
        format!("http://exercise-lb-1.us-east-1.elb.localhost:{port}/new/old/page?x=1")
    );
    // HEAD to a fixed response: its headers, no body, and the connection goes on.
    let req = Request::head("/").header("host", "a.example.com").body(Empty::new()).unwrap();
    c.tx.ready().await.unwrap();
    let res = c.tx.send_request(req).await.unwrap();
    assert_eq!(
        (res.status().as_u16(), res.headers()["content-length"].to_str().unwrap()),
        (418, "15")
    );
    assert!(res.into_body().collect().await.unwrap().to_bytes().is_empty());
    assert_eq!(c.get("/", &[]).await.2, "ok a");
    let m = proxy.take_metrics();
    let lbm = m.load_balancer(LB_ARN).unwrap();
    assert_eq!(lbm.counts.request_count, 4);
    assert_eq!(lbm.counts.httpcode_elb_4xx, 2);
    assert_eq!(lbm.counts.httpcode_elb_3xx, 1);
    assert_eq!(m.target_group(TG_B).unwrap().counts.request_count, 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn no_registered_targets_is_503_and_unused_groups_say_so() {
    let proxy = Proxy::new(ProxyConfig::default());
    let idle = Backend::start("idle").await;
    let addr = apply(
        &proxy,
        DataPlane {
            load_balancers: vec![lb(forward(TG_A), vec![])],
            target_groups: vec![tg(TG_A, vec![]), tg(TG_B, vec![idle.target()])],
        },
    );
    let (s, h, body) = Client::connect(addr).await.get("/", &[]).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h["server"], "awselb/2.0");
    assert!(body.contains("503 Service Temporarily Unavailable"));
    let health = proxy.target_health();
    let t = health.get(TG_B, "i-idle").unwrap();
    assert_eq!(
        (t.health.state.as_str(), t.health.reason.unwrap().code()),
        ("unused", "Target.NotInUse")
    );
    assert_eq!(proxy.take_metrics().load_balancer(LB_ARN).unwrap().counts.httpcode_elb_503, 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn forwarding_headers_follow_aws() {
    let (proxy, addr, _a, _b) = two_backends(true).await;
    let mut c = Client::connect(addr).await;
    let (_, _, body) = c
        .get("/headers", &[("x-forwarded-for", "203.0.113.7"), ("connection", "keep-alive")])
        .await;
    let headers: HashMap<&str, &str> = body.lines().filter_map(|l| l.split_once(": ")).collect();
    assert_eq!(headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-port"], addr.port().to_string());
    assert_eq!(headers["host"], "exercise-lb-1.us-east-1.elb.localhost");
    let trace = headers["x-amzn-trace-id"];
    let root = trace.strip_prefix("Root=1-").expect("Root=1-");
    let (epoch, rand) = root.split_once('-').unwrap();
    assert_eq!((epoch.len(), rand.len()), (8, 24), "{trace}");
    assert!(!headers.contains_key("keep-alive"));
    // A client Root is kept and a Self field added in front.
    let (_, _, body) =
        c.get("/headers", &[("x-amzn-trace-id", "Root=1-67891233-abcdef012345678912345678")]).await;
    let line = body.lines().find(|l| l.starts_with("x-amzn-trace-id")).unwrap();
    assert!(line.starts_with("x-amzn-trace-id: Self=1-"), "{line}");
    assert!(line.ends_with(";Root=1-67891233-abcdef012345678912345678"), "{line}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn lb_cookie_stickiness_pins_a_client() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let proxy = Proxy::new(ProxyConfig::default());
    let mut group = tg(TG_A, vec![a.target(), b.target()]);
    group.attributes.stickiness_enabled = true;
    let addr = apply(
        &proxy,
        DataPlane { load_balancers: vec![lb(forward(TG_A), vec![])], target_groups: vec![group] },
    );
    wait_state(&proxy, TG_A, "i-a", "healthy").await;
    wait_state(&proxy, TG_A, "i-b", "healthy").await;
    let mut c = Client::connect(addr).await;
    let (_, h, first) = c.get("/", &[]).await;
    let cookies: Vec<&str> = h.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    let awsalb = cookies.iter().find(|c| c.starts_with("AWSALB=")).expect("AWSALB cookie");
    assert!(cookies.iter().any(|c| c.starts_with("AWSALBCORS=") && c.contains("SameSite=None")));
    assert!(awsalb.contains("Expires=") && awsalb.contains("Path=/"));
    let value = awsalb.split(';').next().unwrap();
    for _ in 0..6 {
        assert_eq!(c.get("/", &[("cookie", value)]).await.2, first);
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn access_log_and_metrics_match_requests() {
    let dir = std::env::temp_dir().join(format!("shoal-proxy-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let a = Backend::start("a").await;
    let proxy = Proxy::new(ProxyConfig { access_log_dir: Some(dir.clone()), ..Default::default() });
    let mut spec = lb(forward(TG_A), vec![]);
    spec.attributes.access_logs_enabled = true;
    let addr = apply(
        &proxy,
        DataPlane { load_balancers: vec![spec], target_groups: vec![tg(TG_A, vec![a.target()])] },
    );
    wait_state(&proxy, TG_A, "i-a", "healthy").await;
    let _ = proxy.take_metrics();
    let mut c = Client::connect(addr).await;
    for i in 0..5 {
        assert_eq!(c.get(&format!("/page/{i}?q=1"), &[("user-agent", "curl/8.0")]).await.0, 200);
    }
    let path = proxy.access_log_path(LB_ARN).expect("log on");
    assert!(path.ends_with("app.exercise-lb.0000000000000001.log"));
    let mut lines = Vec::new();
    wait_for("5 log lines", || {
        lines =
            std::fs::read_to_string(&path).unwrap_or_default().lines().map(String::from).collect();
        lines.len() == 5
    })
    .await;
    let port = addr.port();
    for (i, line) in lines.iter().enumerate() {
        assert!(line.starts_with("http 20"), "{line}");
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f[2], "app/exercise-lb/0000000000000001");
        assert!(f[3].starts_with("127.0.0.1:"));
        assert_eq!(f[4], a.addr.to_string());
        assert_eq!((f[8], f[9]), ("200", "200"));
        assert!(line.contains(&format!("\"GET http://exercise-lb-1.us-east-1.elb.localhost:{port}/page/{i}?q=1 HTTP/1.1\" \"curl/8.0\" - - {TG_A} \"Root=1-")));
        assert!(
            line.ends_with(&format!(" \"forward\" \"-\" \"-\" \"{}\" \"200\" \"-\" \"-\"", a.addr)),
            "{line}"
        );
        assert!(line.contains("\"-\" \"-\" 0 20"), "default rule priority 0: {line}");
    }
    let m = proxy.take_metrics();
    let lbm = &m.load_balancer(LB_ARN).unwrap().counts;
    assert_eq!((lbm.request_count, lbm.httpcode_target_2xx, lbm.target_response_count), (5, 5, 5));
    let tgm = m.target_group(TG_A).unwrap();
    assert_eq!(tgm.counts.request_count, 5);
    assert_eq!(tgm.targets[0].2, 5);
    assert_eq!((tgm.healthy_host_count, tgm.unhealthy_host_count), (1, 0));
    assert_eq!(tgm.load_balancer_dimensions, vec!["app/exercise-lb/0000000000000001".to_string()]);
    // Counters reset on take.
    assert_eq!(proxy.take_metrics().load_balancer(LB_ARN).unwrap().counts.request_count, 0);
    proxy.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn config_changes_keep_established_connections() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let proxy = Proxy::new(ProxyConfig::default());
    let addr = apply(
        &proxy,
        DataPlane {
            load_balancers: vec![lb(forward(TG_A), vec![])],
            target_groups: vec![tg(TG_A, vec![a.target()])],
        },
    );
    wait_state(&proxy, TG_A, "i-a", "healthy").await;
    let mut c = Client::connect(addr).await;
    assert_eq!(c.get("/", &[]).await.2, "ok a");
    // Blue/green by hand: register green, then drain blue, on the same connection.
    let plane = |targets: Vec<TargetSpec>| DataPlane {
        load_balancers: vec![lb(forward(TG_A), vec![])],
        target_groups: vec![tg(TG_A, targets)],
    };
    assert_eq!(apply(&proxy, plane(vec![a.target(), b.target()])), addr);
    wait_state(&proxy, TG_A, "i-b", "healthy").await;
    let mut draining = a.target();
    draining.draining = true;
    apply(&proxy, plane(vec![draining, b.target()]));
    let h = proxy.target_health();
    let t = h.get(TG_A, "i-a").unwrap();
    assert_eq!(
        (t.health.state.as_str(), t.health.reason.unwrap().code()),
        ("draining", "Target.DeregistrationInProgress")
    );
    for _ in 0..4 {
        assert_eq!(c.get("/", &[]).await.2, "ok b", "draining targets get no new requests");
    }
    apply(&proxy, plane(vec![b.target()]));
    assert!(proxy.target_health().get(TG_A, "i-a").is_none());
    assert_eq!(c.get("/", &[]).await.2, "ok b");
    assert!(!c.tx.is_closed());
    proxy.shutdown().await;
}

#[tokio::test]
async fn listener_bind_errors_are_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let proxy = Proxy::new(ProxyConfig::default());
    let mut spec = lb(forward(TG_A), vec![]);
    spec.listeners[0].port = port;
    proxy.apply(DataPlane {
        load_balancers: vec![spec.clone()],
        target_groups: vec![tg(TG_A, vec![])],
    });
    let status = proxy.listener_status();
    let err = status[0].bound.clone().unwrap_err().to_string();
    assert!(err.contains("address already in use"), "{err}");
    // A later apply retries the bind.
    drop(taken);
    proxy.apply(DataPlane { load_balancers: vec![spec], target_groups: vec![tg(TG_A, vec![])] });
    assert_eq!(proxy.listener_status()[0].bound.clone().unwrap().port(), port);
    proxy.shutdown().await;
}

#[tokio::test]
async fn edge_route_serves_by_dns_name() {
    let (proxy, _addr, _a, _b) = two_backends(true).await;
    let port = proxy.listener_status()[0].bound.clone().unwrap().port();
    let route = proxy.edge_route("Exercise-LB-1.us-east-1.elb.localhost:4566").unwrap();
    assert_eq!(route.port(), port, "a port the load balancer lacks falls back to its lowest");
    let host = format!("EXERCISE-LB-1.us-east-1.elb.localhost:{port}");
    assert_eq!(proxy.edge_route(&host).map(|r| r.port()), Some(port));
    assert!(proxy.edge_route("nope.elb.localhost").is_none());
    // Serve through `serve_edge` from our own accept loop, as the daemon's port would.
    let edge = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let edge_addr = edge.local_addr().unwrap();
    let p = proxy.clone();
    let server = tokio::spawn(async move {
        let (stream, peer) = edge.accept().await.unwrap();
        let svc = service_fn(move |req: Request<Incoming>| {
            let p = p.clone();
            async move {
                let host = req.headers()["host"].to_str().unwrap().to_string();
                let route = p.edge_route(&host).unwrap();
                Ok::<_, Infallible>(p.serve_edge(route, req, peer).await)
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), svc)
            .await;
    });
    let (s, body) = get(edge_addr, "/").await;
    assert_eq!(s, 200);
    assert!(body.starts_with("ok "));
    server.abort();
    proxy.shutdown().await;
}

// ---------------------------------------------------------------- the fast path's connection model

/// A backend speaking raw HTTP/1.1, so tests can misbehave on purpose: `answer` maps
/// a request path to the bytes to send and whether to close the connection after.
/// Requests must not have bodies.
struct RawBackend {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RawBackend {
    async fn start(answer: fn(&str) -> (Vec<u8>, bool)) -> RawBackend {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut s, _)) = tcp.accept().await else { continue };
                conns.spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            let mut chunk = [0u8; 4096];
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end);
                        let path = head.split(' ').nth(1).unwrap_or("/");
                        let (bytes, close) = answer(path);
                        if s.write_all(&bytes).await.is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        RawBackend { addr, task }
    }

    fn target(&self) -> TargetSpec {
        TargetSpec::new("i-raw", self.addr)
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn health_or(path: &str, other: (&[u8], bool)) -> (Vec<u8>, bool) {
    match path {
        "/health" => (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(), false),
        _ => (other.0.to_vec(), other.1),
    }
}

async fn one_target(t: TargetSpec) -> (Proxy, SocketAddr) {
    let proxy = Proxy::new(ProxyConfig::default());
    let addr = apply(
        &proxy,
        DataPlane {
            load_balancers: vec![lb(forward(TG_A), vec![])],
            target_groups: vec![tg(TG_A, vec![t.clone()])],
        },
    );
    wait_state(&proxy, TG_A, &t.id, "healthy").await;
    (proxy, addr)
}

/// Writes `req` on a fresh connection and reads until `done` says the bytes so far
/// are complete (or the connection closes).
async fn raw_exchange(addr: SocketAddr, req: &[u8], done: impl Fn(&str) -> bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(req).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 4096];
        while !done(&String::from_utf8_lossy(&got)) {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .expect("answer in time");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn a_target_closing_keep_alive_connections_costs_nothing() {
    // Answers one request per connection, then closes without saying so.
    let raw = RawBackend::start(|p| {
        health_or(p, (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", true))
    })
    .await;
    let (proxy, addr) = one_target(raw.target()).await;
    let mut c = Client::connect(addr).await;
    for i in 0..40 {
        let (s, _, body) = c.get("/", &[]).await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, "ok"), "request {i}");
        if i % 4 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let counts = proxy.take_metrics().load_balancer(LB_ARN).unwrap().counts.clone();
    assert_eq!((counts.request_count, counts.httpcode_elb_502), (40, 0));
    proxy.shutdown().await;
}

#[tokio::test]
async fn target_failures_before_and_during_the_response() {
    let raw = RawBackend::start(|p| match p {
        "/cut-head" => (b"HTTP/1.1 200 OK\r\ncontent-le".to_vec(), true),
        "/garbage" => (b"SPDY/9 nonsense\r\n\r\n".to_vec(), true),
        "/cut-body" => (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789".to_vec(), true),
        _ => health_or(p, (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", false)),
    })
    .await;
    let (proxy, addr) = one_target(raw.target()).await;
    let mut c = Client::connect(addr).await;
    for path in ["/cut-head", "/garbage"] {
        let (s, h, body) = c.get(path, &[]).await;
        assert_eq!(s, StatusCode::BAD_GATEWAY, "{path}");
        assert_eq!(h["server"], "awselb/2.0");
        assert_eq!(body, shoal_proxy::error_page(StatusCode::BAD_GATEWAY));
        // The client connection stays usable after a 502.
        assert_eq!(c.get("/", &[]).await.2, "ok");
    }
    // Cut mid-body: the head has gone out, so the client sees its body end early.
    let req = Request::get("/cut-body").header("host", "x").body(Empty::new()).unwrap();
    c.tx.ready().await.unwrap();
    let res = c.tx.send_request(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.into_body().collect().await.is_err(), "a truncated body is an error");
    // A new connection works.
    assert_eq!(get(addr, "/").await, (StatusCode::OK, "ok".into()));
    let counts = proxy.take_metrics().load_balancer(LB_ARN).unwrap().counts.clone();
    assert_eq!(counts.httpcode_elb_502, 2);
    proxy.shutdown().await;
}

#[tokio::test]
async fn response_framings_pass_through() {
    let raw = RawBackend::start(|p| match p {
        "/chunked" => (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n1;x=y\r\n \r\n5\r\nworld\r\n0\r\ntrailer: 1\r\n\r\n"
                .to_vec(),
            false,
        ),
        "/until-close" => (b"HTTP/1.1 200 OK\r\n\r\nuntil close".to_vec(), true),
        "/interim" => (
            b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nfinal"
                .to_vec(),
            false,
        ),
        "/no-content" => (b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(), false),
        _ => health_or(p, (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok", false)),
    })
    .await;
    let (proxy, addr) = one_target(raw.target()).await;
    let mut c = Client::connect(addr).await;
    let (s, h, body) = c.get("/chunked", &[]).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, "hello world"));
    assert!(h.contains_key("date"), "a date is added when the target sends none");
    assert!(!h.contains_key("connection"));
    let (s, _, body) = c.get("/interim", &[]).await;
    assert_eq!((s, body.as_str()), (StatusCode::CREATED, "final"));
    let (s, _, body) = c.get("/no-content", &[]).await;
    assert_eq!((s, body.as_str()), (StatusCode::NO_CONTENT, ""));
    // HEAD: the length is announced, no body follows; the connection goes on.
    let req = Request::head("/").header("host", "x").body(Empty::new()).unwrap();
    c.tx.ready().await.unwrap();
    let res = c.tx.send_request(req).await.unwrap();
    assert_eq!(res.headers()["content-length"], "2");
    assert!(res.into_body().collect().await.unwrap().to_bytes().is_empty());
    assert_eq!(c.get("/", &[]).await.2, "ok");
    // A body that ends with the target's connection ends the client's too.
    let (s, h, body) = c.get("/until-close", &[]).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, "until close"));
    assert_eq!(h["connection"], "close");
    proxy.shutdown().await;
}

#[tokio::test]
async fn request_bodies_pipelining_and_what_goes_to_hyper() {
    let a = Backend::start("a").await;
    let (proxy, addr) = one_target(a.target()).await;
    // A small body, then large ones (over 64 KiB: hyper takes the connection over).
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    for body in [b"small".to_vec(), big.clone(), b"small".to_vec(), big] {
        let req = Request::post("/echo")
            .header("host", "x")
            .body(Full::new(Bytes::from(body.clone())))
            .unwrap();
        tx.ready().await.unwrap();
        let res = tx.send_request(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), body);
    }
    conn.abort();

    // A body that arrives in pieces, after its head.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head =
            format!("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n", body.len());
        s.write_all(head.as_bytes()).await.unwrap();
        for part in body.chunks(15_000) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            s.write_all(part).await.unwrap();
        }
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut chunk = [0u8; 65536];
            while !got.ends_with(&body[body.len() - 100..]) {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await
        .expect("echo in time");
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(got.ends_with(&body), "the whole body comes back");
    }

    // Two pipelined requests in one write: two answers, in order.
    let pipelined = b"GET /?1 HTTP/1.1\r\nhost: x\r\n\r\nGET /?2 HTTP/1.1\r\nhost: x\r\n\r\n";
    let got = raw_exchange(addr, pipelined, |s| s.matches("ok a").count() == 2).await;
    assert_eq!(got.matches("HTTP/1.1 200 OK").count(), 2, "{got}");

    // HTTP/1.0 and chunked request bodies go to hyper, which serves them the same.
    let got = raw_exchange(addr, b"GET / HTTP/1.0\r\nhost: x\r\n\r\n", |_| false).await;
    assert!(got.starts_with("HTTP/1.0 200 OK") && got.ends_with("ok a"), "{got}");
    let chunked = b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\n\r\n";
    let got = raw_exchange(addr, chunked, |s| s.ends_with("ok a")).await;
    assert!(got.contains("\r\n\r\nhello"), "{got}");
    assert_eq!(got.matches(" 200 OK").count(), 2, "{got}");
    let m = proxy.take_metrics();
    assert_eq!(m.load_balancer(LB_ARN).unwrap().counts.request_count, 10);
    proxy.shutdown().await;
}

#[tokio::test]
async fn idle_timeout_answers_504_then_closes_idle_connections() {
    let a = Backend::start("a").await;
    let proxy = Proxy::new(ProxyConfig::default());
    let mut spec = lb(forward(TG_A), vec![]);
    spec.attributes.idle_timeout_seconds = 1;
    let addr = apply(
        &proxy,
        DataPlane { load_balancers: vec![spec], target_groups: vec![tg(TG_A, vec![a.target()])] },
    );
    wait_state(&proxy, TG_A, "i-a", "healthy").await;
    let mut c = Client::connect(addr).await;
    assert_eq!(c.get("/", &[]).await.2, "ok a");
    let started = tokio::time::Instant::now();
    let (s, h, _) = c.get("/slow", &[]).await;
    assert_eq!((s, &h["server"]), (StatusCode::GATEWAY_TIMEOUT, &"awselb/2.0".parse().unwrap()));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // The connection goes on after the 504, and closes once idle for the timeout.
    assert_eq!(c.get("/", &[]).await.2, "ok a");
    wait_for("the idle connection to close", || c.tx.is_closed()).await;
    assert_eq!(proxy.take_metrics().load_balancer(LB_ARN).unwrap().counts.httpcode_elb_504, 1);
    proxy.shutdown().await;
}

// ---------------------------------------------------------------- what ALB refuses

/// Sends `req` on a fresh connection and reads until the proxy closes it: ALB's 400,
/// and nothing else. Then the proxy still serves other clients.
async fn refused(addr: SocketAddr, req: &[u8]) {
    let got = raw_exchange(addr, req, |_| false).await;
    let status_line = got.split("\r\n").next().unwrap_or("");
    assert!(
        matches!(status_line, "HTTP/1.1 400 Bad Request" | "HTTP/1.0 400 Bad Request"),
        "{got}"
    );
    assert!(got.contains("400 Bad Request</h1>"), "ALB's page: {got}");
    assert_eq!(got.matches("HTTP/1.").count(), 1, "one answer, then close: {got}");
    assert_eq!(get(addr, "/").await.0, StatusCode::OK);
}

/// A proxy with one healthy target, the first request of a connection on the fast
/// path, and a prefix that hands the connection to hyper before the request under
/// test comes (a chunked request, which goes to hyper).
async fn refusing_proxy() -> (Proxy, SocketAddr, Backend) {
    let a = Backend::start("a").await;
    let (proxy, addr) = one_target(a.target()).await;
    (proxy, addr, a)
}

const TO_HYPER: &[u8] =
    b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";

/// `req` on the fast path, then after a request that hands the connection to hyper.
async fn refused_on_both_paths(addr: SocketAddr, req: &[u8]) {
    refused(addr, req).await;
    let got = raw_exchange(addr, &[TO_HYPER, req].concat(), |_| false).await;
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n") && got.contains("\r\n\r\nhi"), "{got}");
    let second = &got[got.find("hi").unwrap()..];
    assert!(second.contains("HTTP/1.1 400 Bad Request\r\n"), "{got}");
    assert_eq!(got.matches("HTTP/1.").count(), 2, "{got}");
}

#[tokio::test]
async fn two_host_headers_are_refused() {
    let (proxy, addr, _a) = refusing_proxy().await;
    refused_on_both_paths(addr, b"GET / HTTP/1.1\r\nhost: x\r\nHost: y\r\n\r\n").await;
    refused(addr, b"GET / HTTP/1.0\r\nhost: x\r\nhost: x\r\n\r\n").await;
    let m = proxy.take_metrics();
    assert_eq!(m.load_balancer(LB_ARN).unwrap().counts.httpcode_elb_4xx, 3);
    proxy.shutdown().await;
}

#[tokio::test]
async fn http11_without_host_is_refused() {
    let (proxy, addr, _a) = refusing_proxy().await;
    refused_on_both_paths(addr, b"GET / HTTP/1.1\r\nuser-agent: t\r\n\r\n").await;
    // HTTP/1.0 needs no Host.
    let got = raw_exchange(addr, b"GET / HTTP/1.0\r\n\r\n", |_| false).await;
    assert!(got.starts_with("HTTP/1.0 200 OK"), "{got}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn request_line_beyond_16k_is_refused() {
    let (proxy, addr, _a) = refusing_proxy().await;
    let path = "a".repeat(16 * 1024);
    refused_on_both_paths(addr, format!("GET /{path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await;
    // Just within: served.
    let path = &path[..16 * 1024 - 20];
    let got = raw_exchange(
        addr,
        format!("GET /{path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
        |_| false,
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn header_line_beyond_16k_is_refused() {
    let (proxy, addr, _a) = refusing_proxy().await;
    let value = "v".repeat(16 * 1024);
    refused_on_both_paths(
        addr,
        format!("GET / HTTP/1.1\r\nhost: x\r\nx-big: {value}\r\n\r\n").as_bytes(),
    )
    .await;
    // The 70 KB header line.
    let value = "v".repeat(70 * 1024);
    refused(addr, format!("GET / HTTP/1.1\r\nhost: x\r\nx-big: {value}\r\n\r\n").as_bytes()).await;
    proxy.shutdown().await;
}

#[tokio::test]
async fn head_beyond_64k_is_refused() {
    let (proxy, addr, _a) = refusing_proxy().await;
    let value = "v".repeat(15 * 1024);
    let lines: String = (0..5).map(|i| format!("x-{i}: {value}\r\n")).collect();
    refused_on_both_paths(addr, format!("GET / HTTP/1.1\r\nhost: x\r\n{lines}\r\n").as_bytes())
        .await;
    // 60 KB of headers: served.
    let lines: String = (0..4).map(|i| format!("x-{i}: {value}\r\n")).collect();
    let req = format!("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{lines}\r\n");
    let got = raw_exchange(addr, req.as_bytes(), |_| false).await;
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn malformed_chunk_sizes_are_refused() {
    let (proxy, addr, _a) = refusing_proxy().await;
    let head = "POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n";
    for body in [
        "zz\r\nhi\r\n0\r\n\r\n",
        "2\r\nhiXX0\r\n\r\n",
        "-2\r\nhi\r\n0\r\n\r\n",
        "2\nhi\r\n0\r\n\r\n",
    ] {
        refused_on_both_paths(addr, format!("{head}{body}").as_bytes()).await;
    }
    // Broken further on, after a chunk too big for the fast path to look past: hyper
    // finds it, and the answer is still 400, not 502.
    let mut req = format!("{head}20000\r\n").into_bytes();
    req.extend(std::iter::repeat_n(b'a', 0x20000));
    req.extend_from_slice(b"\r\nzz\r\n\r\n");
    refused(addr, &req).await;
    let m = proxy.take_metrics();
    assert_eq!(m.load_balancer(LB_ARN).unwrap().counts.httpcode_elb_5xx, 0);
    proxy.shutdown().await;
}

#[tokio::test]
async fn chunk_sizes_that_overflow_are_refused_at_once() {
    let (proxy, addr, _a) = refusing_proxy().await;
    let head = "POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n";
    let started = tokio::time::Instant::now();
    for size in
        ["ffffffffffffffff", "8000000000000000", "1ffffffffffffffff", "f".repeat(40).as_str()]
    {
        refused(addr, format!("{head}{size}\r\nhi\r\n0\r\n\r\n").as_bytes()).await;
    }
    // On a connection hyper serves: sizes that overflow 64 bits (hyper's own check).
    let req = format!("{head}1ffffffffffffffff\r\nhi\r\n0\r\n\r\n");
    refused_on_both_paths(addr, req.as_bytes()).await;
    // ... and sizes hyper would take and wait for (up to 2^64-1): the stream handed to
    // hyper is followed request after request.
    for size in ["ffffffffffffffff", "8000000000000000"] {
        let req = format!("{head}{size}\r\nhi\r\n0\r\n\r\n");
        tokio::time::timeout(Duration::from_secs(10), refused_on_both_paths(addr, req.as_bytes()))
            .await
            .expect("a 400 at once, not the idle timeout");
    }
    // Behind a first chunk too big for the fast path to wait for: the body is checked
    // as hyper reads it.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("{head}20000\r\n").as_bytes()).await.unwrap();
        s.write_all(&vec![b'a'; 0x20000]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        s.write_all(b"\r\nffffffffffffffff\r\nhi").await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
            .await
            .expect("an answer, not the idle timeout")
            .unwrap();
        assert!(
            got.starts_with(b"HTTP/1.1 400 Bad Request\r\n"),
            "{}",
            String::from_utf8_lossy(&got)
        );
    }
    // The head first, the chunk size after it, as a streaming client sends them.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        s.write_all(b"ffffffffffffffff\r\nhi").await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
            .await
            .expect("an answer, not the idle timeout")
            .unwrap();
        assert!(got.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    }
    // Far below the idle timeout (60 s): nothing waited for the impossible chunk.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    proxy.shutdown().await;
}

#[tokio::test]
async fn edge_routing_refuses_what_the_listener_refuses() {
    let (proxy, _addr, _a, _b) = two_backends(true).await;
    let edge = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let edge_addr = edge.local_addr().unwrap();
    let p = proxy.clone();
    let server = tokio::spawn(async move {
        loop {
            let (stream, peer) = edge.accept().await.unwrap();
            let p = p.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let p = p.clone();
                    async move {
                        let route = p.edge_route("exercise-lb-1.us-east-1.elb.localhost").unwrap();
                        Ok::<_, Infallible>(p.serve_edge(route, req, peer).await)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let value = "v".repeat(16 * 1024);
    for req in [
        "GET / HTTP/1.1\r\nhost: x\r\nhost: y\r\n\r\n".to_string(),
        format!("GET / HTTP/1.1\r\nhost: x\r\nx-big: {value}\r\n\r\n"),
        "POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n\r\n"
            .to_string(),
    ] {
        refused_edge(edge_addr, req.as_bytes()).await;
    }
    server.abort();
    proxy.shutdown().await;
}

async fn refused_edge(addr: SocketAddr, req: &[u8]) {
    let got = raw_exchange(addr, req, |_| false).await;
    assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
    assert!(got.to_ascii_lowercase().contains("connection: close"), "{got}");
}
