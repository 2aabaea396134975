//! The Instance Metadata Service: `http://169.254.169.254/` inside each instance of a VPC
//! network, as EC2 serves it (IMDSv2 session tokens; IMDSv1 when the instance's
//! `HttpTokens` is `optional`).
//!
//! One listener per instance, made in its network namespace by the metadata controller
//! (`control::metadata`) and served here ([`serve`]); the listener that accepted a
//! connection is the instance asking, so an instance only ever sees its own data.
//! Answers come from `Service::instance_metadata` on every request: this module only
//! translates paths into that data. `HttpEndpoint=disabled` removes the listener (a
//! connection is refused, as on EC2, where nothing answers).
//!
//! Without VPC networks (process isolation, `--network host`) there is no metadata
//! service: instances share the host's network, and 169.254.169.254 there is the host's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use shoal_model::autoscaling::group::LifecycleState;
use shoal_model::ec2::instance_type;
use shoal_model::ec2::network::interface_mac;

use crate::service::ec2::InstanceMetadata;
use crate::service::Service;

/// The token request's TTL header, and the token header of later requests.
pub const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// A token lives 1 s to 6 h, as the caller asks.
const MAX_TTL_SECS: i64 = 21_600;
/// Live tokens kept per instance.
const MAX_TOKENS: usize = 4096;
/// The metadata versions EC2 lists at `/`; each serves the same (current) tree here.
const VERSIONS: &[&str] = &[
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
    "2011-01-01",
    "2011-05-01",
    "2012-01-12",
    "2014-02-25",
    "2014-11-05",
    "2015-10-20",
    "2016-04-19",
    "2016-06-30",
    "2016-09-02",
    "2018-03-28",
    "2018-08-17",
    "2018-09-24",
    "2019-10-01",
    "2020-10-27",
    "2021-01-03",
    "2021-03-23",
    "2021-07-15",
    "2022-09-24",
    "2024-04-11",
    "latest",
];

/// The session tokens one instance's metadata service issued, with their expiry.
#[derive(Debug, Default)]
pub struct Tokens {
    issued: HashMap<String, DateTime<Utc>>,
}

impl Tokens {
    /// A new token valid for `ttl_secs` from `now`.
    pub fn issue(&mut self, now: DateTime<Utc>, ttl_secs: i64) -> String {
        self.issued.retain(|_, expiry| *expiry > now);
        // An instance asking in a loop must not grow the daemon without bound: past the
        // cap, the token nearest its expiry goes first.
        if self.issued.len() >= MAX_TOKENS {
            let soonest = self.issued.iter().min_by_key(|(_, e)| **e).map(|(t, _)| t.clone());
            if let Some(t) = soonest {
                self.issued.remove(&t);
            }
        }
        let mut raw = [0u8; 42];
        rand::Rng::fill(&mut rand::thread_rng(), &mut raw[..]);
        let token = base64::engine::general_purpose::URL_SAFE.encode(raw);
        self.issued.insert(token.clone(), now + chrono::Duration::seconds(ttl_secs));
        token
    }

    /// Whether `token` was issued here and has not expired at `now`.
    pub fn valid(&self, token: &str, now: DateTime<Utc>) -> bool {
        self.issued.get(token).is_some_and(|expiry| *expiry > now)
    }
}

/// What the service answers one request with; `None` is no answer at all.
#[derive(Debug, PartialEq)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub ttl_header: Option<i64>,
}

impl Answer {
    fn text(body: impl Into<Vec<u8>>) -> Answer {
        Answer {
            status: StatusCode::OK,
            content_type: "text/plain",
            body: body.into(),
            ttl_header: None,
        }
    }

    /// EC2's error page: a small XHTML document naming the status.
    fn error(status: StatusCode) -> Answer {
        let title = format!("{} - {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n\
             <!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\
             \t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
             <html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n \
             <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n </body>\n</html>\n"
        );
        Answer { status, content_type: "text/html", body: body.into_bytes(), ttl_header: None }
    }
}

/// Answers one request of the instance `meta` describes, at `now`.
pub fn answer(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    meta: &InstanceMetadata,
    tokens: &mut Tokens,
    now: DateTime<Utc>,
) -> Answer {
    let path = path.split('?').next().unwrap_or("");
    if path == "/latest/api/token" {
        if method != Method::PUT {
            return Answer::error(StatusCode::METHOD_NOT_ALLOWED);
        }
        // EC2 refuses a token to anything that looks like a proxy forwarding for another.
        if headers.contains_key("x-forwarded-for") {
            return Answer::error(StatusCode::FORBIDDEN);
        }
        let ttl = headers
            .get(TTL_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|t| (1..=MAX_TTL_SECS).contains(t));
        let Some(ttl) = ttl else { return Answer::error(StatusCode::BAD_REQUEST) };
        let mut a = Answer::text(tokens.issue(now, ttl));
        a.ttl_header = Some(ttl);
        return a;
    }
    if method != Method::GET && method != Method::HEAD {
        return Answer::error(StatusCode::METHOD_NOT_ALLOWED);
    }
    // A v2 request's token must be good, whatever HttpTokens says; v1 needs `optional`.
    let authorized = match headers.get(TOKEN_HEADER) {
        Some(token) => token.to_str().is_ok_and(|t| tokens.valid(t, now)),
        None => meta.instance.metadata_options.http_tokens == "optional",
    };
    if !authorized {
        return Answer::error(StatusCode::UNAUTHORIZED);
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some((version, rest)) = segments.split_first() else {
        return Answer::text(VERSIONS.join("\n"));
    };
    if !VERSIONS.contains(version) {
        return Answer::error(StatusCode::NOT_FOUND);
    }
    match tree(meta).find(rest) {
        Some(Node::Leaf(body, content_type)) => {
            Answer { content_type, ..Answer::text(body.clone()) }
        }
        Some(Node::Dir(entries)) => Answer::text(
            entries.iter().map(|(_, label, _)| label.as_str()).collect::<Vec<_>>().join("\n"),
        ),
        None => Answer::error(StatusCode::NOT_FOUND),
    }
}

/// A metadata path: a value, or a listing of `(name, label, node)`. A listing shows each
/// label: the name, with `/` after a directory's (and `0=<key name>` for a public key).
enum Node {
    Leaf(Vec<u8>, &'static str),
    Dir(Vec<(String, String, Node)>),
}

impl Node {
    fn find(&self, path: &[&str]) -> Option<&Node> {
        let Some((first, rest)) = path.split_first() else { return Some(self) };
        match self {
            Node::Dir(entries) => {
                entries.iter().find(|(name, _, _)| name == first).and_then(|(_, _, n)| n.find(rest))
            }
            Node::Leaf(..) => None,
        }
    }
}

fn leaf(v: impl ToString) -> Node {
    Node::Leaf(v.to_string().into_bytes(), "text/plain")
}

/// A listing whose labels are the names (directories with a `/`).
fn dir(entries: Vec<(&str, Node)>) -> Node {
    Node::Dir(
        entries
            .into_iter()
            .map(|(name, node)| {
                let label =
                    if matches!(node, Node::Dir(_)) { format!("{name}/") } else { name.into() };
                (name.to_string(), label, node)
            })
            .collect(),
    )
}

/// Where an Auto Scaling instance is headed, as `autoscaling/target-lifecycle-state`
/// says it: `InService` while launching or serving, `Standby`, `Detached`, `Terminated`.
fn target_lifecycle_state(state: LifecycleState) -> &'static str {
    use LifecycleState::*;
    match state {
        Pending | PendingWait | PendingProceed | InService => "InService",
        EnteringStandby | Standby => "Standby",
        Detaching | Detached => "Detached",
        Terminating | TerminatingWait | TerminatingProceed | Terminated => "Terminated",
    }
}

/// A key pair's public key as IMDS gives it: type, key, and the key pair's name.
fn openssh_key(key: &str, name: &str) -> String {
    let words: Vec<&str> = key.split_whitespace().take(2).collect();
    format!("{} {name}", words.join(" "))
}

/// The instance's whole tree, from `/latest/`.
fn tree(m: &InstanceMetadata) -> Node {
    let i = &m.instance;
    let hostname = shoal_model::region::private_dns_name(&m.region, i.private_ip);
    let eni = format!("eni-{}", i.id.trim_start_matches("i-"));
    let mac = interface_mac(&eni);
    let group_names = m.groups.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>().join("\n");
    let group_ids = m.groups.iter().map(|(g, _)| g.as_str()).collect::<Vec<_>>().join("\n");
    let zone_id = shoal_model::region::find(&m.region)
        .and_then(|r| r.zone(&i.availability_zone))
        .map(|z| z.id);
    let cidr = |c: Option<shoal_model::ec2::network::Cidr>| c.map(|c| c.to_string());

    let mut interface = vec![
        ("device-number", leaf(0)),
        ("interface-id", leaf(&eni)),
        ("local-hostname", leaf(&hostname)),
        ("local-ipv4s", leaf(i.private_ip)),
        ("mac", leaf(&mac)),
        ("owner-id", leaf(shoal_model::ACCOUNT_ID)),
    ];
    if let Some(ip) = m.public_ip {
        interface.push(("public-ipv4s", leaf(ip)));
    }
    interface.extend([
        ("security-group-ids", leaf(&group_ids)),
        ("security-groups", leaf(&group_names)),
        ("subnet-id", leaf(&i.subnet_id)),
    ]);
    if let Some(c) = cidr(m.subnet_cidr) {
        interface.push(("subnet-ipv4-cidr-block", leaf(c)));
    }
    interface.push(("vpc-id", leaf(&i.vpc_id)));
    if let Some(c) = cidr(m.vpc_cidr) {
        interface.push(("vpc-ipv4-cidr-block", leaf(&c)));
        interface.push(("vpc-ipv4-cidr-blocks", leaf(c)));
    }

    let mut placement = vec![("availability-zone", leaf(&i.availability_zone))];
    if let Some(id) = zone_id {
        placement.push(("availability-zone-id", leaf(id)));
    }
    placement.push(("region", leaf(&m.region)));

    let mut meta = vec![
        ("ami-id", leaf(&i.image_id)),
        ("ami-launch-index", leaf(i.ami_launch_index)),
        ("ami-manifest-path", leaf("(unknown)")),
    ];
    if let Some(state) = m.lifecycle_state {
        meta.push((
            "autoscaling",
            dir(vec![("target-lifecycle-state", leaf(target_lifecycle_state(state)))]),
        ));
    }
    meta.extend([
        (
            "block-device-mapping",
            dir(vec![("ami", leaf("/dev/xvda")), ("root", leaf("/dev/xvda"))]),
        ),
        ("hostname", leaf(&hostname)),
        ("instance-action", leaf("none")),
        ("instance-id", leaf(&i.id)),
        ("instance-life-cycle", leaf("on-demand")),
        ("instance-type", leaf(&i.instance_type)),
        ("local-hostname", leaf(&hostname)),
        ("local-ipv4", leaf(i.private_ip)),
        ("mac", leaf(&mac)),
        (
            "network",
            dir(vec![(
                "interfaces",
                dir(vec![("macs", dir(vec![(mac.as_str(), dir(interface))]))]),
            )]),
        ),
        ("placement", dir(placement)),
        ("profile", leaf("default-hvm")),
    ]);
    if let Some(ip) = m.public_ip {
        meta.push(("public-ipv4", leaf(ip)));
    }
    let mut entries: Vec<(String, String, Node)> = Vec::new();
    if let Some((name, key)) = &m.key {
        // Listed as `0=<name>`; its one format under `public-keys/0/`.
        let key = Node::Dir(vec![(
            "0".into(),
            format!("0={name}"),
            dir(vec![("openssh-key", leaf(openssh_key(key, name)))]),
        )]);
        entries.push(("public-keys".into(), "public-keys/".into(), key));
    }
    meta.extend([
        ("reservation-id", leaf(&i.reservation_id)),
        ("security-groups", leaf(&group_names)),
        ("services", dir(vec![("domain", leaf("amazonaws.com")), ("partition", leaf("aws"))])),
    ]);
    if i.metadata_options.instance_metadata_tags == "enabled" {
        // Keys with a `/` cannot be paths; EC2 leaves them out too.
        let tags = i
            .tags
            .iter()
            .filter(|t| !t.key.contains('/'))
            .map(|t| (t.key.as_str(), leaf(&t.value)))
            .collect();
        meta.push(("tags", dir(vec![("instance", dir(tags))])));
    }
    let Node::Dir(mut meta) = dir(meta) else { unreachable!("dir makes a Dir") };
    meta.extend(entries);
    meta.sort_by(|a, b| a.0.cmp(&b.0));

    let arch =
        instance_type::lookup(&i.instance_type).map_or("x86_64", |t| t.arch.image_architecture());
    let document = serde_json::json!({
        "accountId": shoal_model::ACCOUNT_ID,
        "architecture": arch,
        "availabilityZone": i.availability_zone,
        "billingProducts": null,
        "devpayProductCodes": null,
        "marketplaceProductCodes": null,
        "imageId": i.image_id,
        "instanceId": i.id,
        "instanceType": i.instance_type,
        "kernelId": null,
        "pendingTime": i.launch_time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "privateIp": i.private_ip.to_string(),
        "ramdiskId": null,
        "region": m.region,
        "version": "2017-09-30",
    });
    let document = serde_json::to_string_pretty(&document).unwrap_or_default();
    // Shoal cannot sign as AWS does: no `pkcs7`, `signature` or `rsa2048` beside it.
    let dynamic = dir(vec![("instance-identity", dir(vec![("document", leaf(document))]))]);

    let mut top = vec![("dynamic", dynamic), ("meta-data", Node::Dir(meta))];
    if let Some(data) = &i.user_data {
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(data.trim()).unwrap_or_default();
        top.push(("user-data", Node::Leaf(bytes, "application/octet-stream")));
    }
    dir(top)
}

/// One instance's metadata service: what it is asked, answered for that instance.
struct InstanceServer {
    instance_id: String,
    service: Weak<Service>,
    tokens: Mutex<Tokens>,
}

impl InstanceServer {
    /// The instance's region's service and its metadata; `None` once it is gone.
    fn lookup(&self) -> Option<(Arc<Service>, InstanceMetadata)> {
        let svc = self.service.upgrade()?;
        let meta = svc.instance_metadata(&self.instance_id).ok()?;
        Some((svc, meta))
    }

    /// `Err` drops the connection unanswered: the endpoint was disabled (or the instance
    /// went) since the listener was made.
    fn handle(&self, req: &Request<Incoming>) -> Result<Response<Full<Bytes>>, std::io::Error> {
        let gone = || std::io::Error::other("no metadata service for this instance");
        let (svc, meta) = self.lookup().ok_or_else(gone)?;
        if meta.instance.metadata_options.http_endpoint != "enabled" {
            return Err(gone());
        }
        let now = svc.clock.now();
        let a = {
            let mut tokens = self.tokens.lock().unwrap();
            answer(req.method(), req.uri().path(), req.headers(), &meta, &mut tokens, now)
        };
        let body = if req.method() == Method::HEAD { Vec::new() } else { a.body };
        let mut resp = Response::builder()
            .status(a.status)
            .header("content-type", a.content_type)
            .header("server", "EC2ws");
        if let Some(ttl) = a.ttl_header {
            resp = resp.header(TTL_HEADER, ttl);
        }
        resp.body(Full::new(Bytes::from(body))).map_err(std::io::Error::other)
    }
}

/// Serves instance `instance_id`'s metadata on `listener` (made in its network) until
/// the returned task is aborted; its session tokens live as long as the task.
pub fn serve(
    listener: std::net::TcpListener,
    service: Weak<Service>,
    instance_id: &str,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let server = Arc::new(InstanceServer {
        instance_id: instance_id.into(),
        service,
        tokens: Mutex::default(),
    });
    Ok(tokio::spawn(accept(listener, server)))
}

async fn accept(listener: tokio::net::TcpListener, server: Arc<InstanceServer>) {
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // EC2 sends its answers with the IP TTL set to the hop limit, so a token cannot
        // travel further than the instance meant (containers, proxies).
        if let Some((svc, meta)) = server.lookup() {
            let hops = meta.instance.metadata_options.http_put_response_hop_limit;
            let _ = stream.set_ttl(hops.clamp(1, 64) as u32);
            drop(svc);
        }
        let server = server.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let answered = server.handle(&req);
                async move { answered }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::HeaderValue;
    use shoal_model::tags::Tag;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::config::Config;
    use crate::runtime::fake::FakeDriver;
    use crate::service::ec2::RunInstances;

    /// A service with one instance launched, its id, and the clock it runs on.
    fn launched() -> (Arc<Service>, String, ManualClock) {
        let clock = ManualClock::starting_at("2026-12-07T00:00:00Z".parse().unwrap());
        let config = Config::new(std::env::temp_dir().join("shoal-imds-unit"));
        let store = shoal_store::Store::in_memory().unwrap();
        let svc =
            Service::new(config, Arc::new(clock.clone()), Arc::new(FakeDriver::default()), store)
                .unwrap();
        svc.bootstrap().unwrap();
        let image = svc.read(|s| crate::service::ec2::base_image(s).unwrap().id.clone());
        let id = svc
            .run_instances(RunInstances {
                image_id: Some(image),
                min_count: 1,
                max_count: 1,
                user_data: Some("IyEvYmluL3NoCg==".into()),
                ..Default::default()
            })
            .unwrap()
            .instances
            .remove(0)
            .id;
        (Arc::new(svc), id, clock)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn body(a: &Answer) -> &str {
        std::str::from_utf8(&a.body).unwrap()
    }

    #[test]
    fn tokens_expire_after_their_ttl_on_the_injected_clock() {
        let (svc, id, clock) = launched();
        let meta = svc.instance_metadata(&id).unwrap();
        let mut tokens = Tokens::default();
        let put = |tokens: &mut Tokens, h: &[(&'static str, &str)], now| {
            answer(&Method::PUT, "/latest/api/token", &headers(h), &meta, tokens, now)
        };
        let t0 = clock.now();
        let issued = put(&mut tokens, &[(TTL_HEADER, "60")], t0);
        assert_eq!((issued.status, issued.ttl_header), (StatusCode::OK, Some(60)));
        let token = body(&issued).to_string();
        let get = |tokens: &mut Tokens, now| {
            let h = headers(&[(TOKEN_HEADER, &token)]);
            answer(&Method::GET, "/latest/meta-data/instance-id", &h, &meta, tokens, now)
        };
        assert_eq!(body(&get(&mut tokens, t0 + chrono::Duration::seconds(59))), id);
        clock.set(t0 + chrono::Duration::seconds(60));
        assert_eq!(get(&mut tokens, clock.now()).status, StatusCode::UNAUTHORIZED);
        // The TTL's bounds, a missing TTL, a forwarded request, the wrong method.
        for ttl in ["0", "21601", "-1", "sixty"] {
            assert_eq!(put(&mut tokens, &[(TTL_HEADER, ttl)], t0).status, StatusCode::BAD_REQUEST);
        }
        assert_eq!(put(&mut tokens, &[(TTL_HEADER, "21600")], t0).status, StatusCode::OK);
        let mut many = Tokens::default();
        for _ in 0..MAX_TOKENS + 10 {
            many.issue(t0, 60);
        }
        assert_eq!(many.issued.len(), MAX_TOKENS);
        assert_eq!(put(&mut tokens, &[], t0).status, StatusCode::BAD_REQUEST);
        let forwarded = [(TTL_HEADER, "60"), ("x-forwarded-for", "10.0.0.9")];
        assert_eq!(put(&mut tokens, &forwarded, t0).status, StatusCode::FORBIDDEN);
        let h = headers(&[(TTL_HEADER, "60")]);
        let got = answer(&Method::GET, "/latest/api/token", &h, &meta, &mut tokens, t0);
        assert_eq!(got.status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn v1_needs_http_tokens_optional_and_a_bad_token_is_refused_anyway() {
        let (svc, id, clock) = launched();
        let mut meta = svc.instance_metadata(&id).unwrap();
        let mut tokens = Tokens::default();
        let now = clock.now();
        let mut get = |meta: &InstanceMetadata, h: HeaderMap| {
            answer(&Method::GET, "/latest/meta-data/instance-id", &h, meta, &mut tokens, now)
        };
        let refused = get(&meta, HeaderMap::new());
        assert_eq!((refused.status, refused.content_type), (StatusCode::UNAUTHORIZED, "text/html"));
        assert!(body(&refused).contains("<title>401 - Unauthorized</title>"));
        meta.instance.metadata_options.http_tokens = "optional".into();
        assert_eq!(body(&get(&meta, HeaderMap::new())), id);
        let forged = get(&meta, headers(&[(TOKEN_HEADER, "forged")]));
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn paths_listings_and_values() {
        let (svc, id, clock) = launched();
        let mut meta = svc.instance_metadata(&id).unwrap();
        meta.instance.metadata_options.http_tokens = "optional".into();
        let ask = |meta: &InstanceMetadata, path: &str| {
            let mut tokens = Tokens::default();
            answer(&Method::GET, path, &HeaderMap::new(), meta, &mut tokens, clock.now())
        };
        let ok = |meta: &InstanceMetadata, path: &str| {
            let a = ask(meta, path);
            assert_eq!((a.status, a.content_type), (StatusCode::OK, "text/plain"), "{path}");
            body(&a).to_string()
        };
        let versions = ok(&meta, "/");
        assert!(versions.starts_with("1.0\n") && versions.ends_with("\nlatest"), "{versions}");
        assert_eq!(ok(&meta, "/latest/"), "dynamic/\nmeta-data/\nuser-data");
        assert_eq!(ok(&meta, "/latest"), ok(&meta, "/latest/"));
        assert_eq!(ok(&meta, "/2021-07-15/meta-data/instance-id"), id);
        let listing = ok(&meta, "/latest/meta-data/");
        let names: Vec<&str> = listing.split('\n').collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for name in ["ami-id", "instance-id", "mac", "network/", "placement/", "services/"] {
            assert!(names.contains(&name), "{name} in {listing}");
        }
        assert!(!names.contains(&"tags/") && !names.contains(&"autoscaling/"));
        assert_eq!(
            ok(&meta, "/latest/meta-data/placement"),
            ok(&meta, "/latest/meta-data/placement/")
        );
        assert_eq!(ok(&meta, "/latest/meta-data/placement/region"), "us-east-1");
        let mac = ok(&meta, "/latest/meta-data/mac");
        assert_eq!(ok(&meta, "/latest/meta-data/network/interfaces/macs/"), format!("{mac}/"));
        let ip = meta.instance.private_ip.to_string();
        assert_eq!(
            ok(&meta, &format!("/latest/meta-data/network/interfaces/macs/{mac}/local-ipv4s")),
            ip
        );
        let doc: serde_json::Value =
            serde_json::from_str(&ok(&meta, "/latest/dynamic/instance-identity/document")).unwrap();
        assert_eq!(
            (doc["instanceId"].as_str(), doc["region"].as_str()),
            (Some(&*id), Some("us-east-1"))
        );
        let data = ask(&meta, "/latest/user-data");
        assert_eq!((body(&data), data.content_type), ("#!/bin/sh\n", "application/octet-stream"));
        for missing in
            ["/latest/meta-data/nope", "/2009-13-45/meta-data/", "/latest/meta-data/instance-id/x"]
        {
            assert_eq!(ask(&meta, missing).status, StatusCode::NOT_FOUND, "{missing}");
        }
        // Tags, when InstanceMetadataTags is enabled; a key with a `/` is not a path.
        meta.instance.tags = vec![
            Tag { key: "Name".into(), value: "web".into() },
            Tag { key: "a/b".into(), value: "x".into() },
        ];
        assert_eq!(ask(&meta, "/latest/meta-data/tags/instance/").status, StatusCode::NOT_FOUND);
        meta.instance.metadata_options.instance_metadata_tags = "enabled".into();
        assert_eq!(ok(&meta, "/latest/meta-data/tags/instance"), "Name");
        assert_eq!(ok(&meta, "/latest/meta-data/tags/instance/Name"), "web");
        // The key pair, listed as `0=<name>`.
        meta.key = Some(("k".into(), "ssh-ed25519 AAAAC3Nz me@host".into()));
        assert_eq!(ok(&meta, "/latest/meta-data/public-keys/"), "0=k");
        assert_eq!(
            ok(&meta, "/latest/meta-data/public-keys/0/openssh-key"),
            "ssh-ed25519 AAAAC3Nz k"
        );
        meta.lifecycle_state = Some(LifecycleState::PendingWait);
        assert_eq!(ok(&meta, "/latest/meta-data/autoscaling/target-lifecycle-state"), "InService");
        meta.lifecycle_state = Some(LifecycleState::TerminatingWait);
        assert_eq!(ok(&meta, "/latest/meta-data/autoscaling/target-lifecycle-state"), "Terminated");
        let post = answer(
            &Method::POST,
            "/latest/meta-data/",
            &HeaderMap::new(),
            &meta,
            &mut Tokens::default(),
            clock.now(),
        );
        assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    }
}
