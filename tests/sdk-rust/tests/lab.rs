//! The lab with the AWS SDK for Rust (pinned in Cargo.toml) against a real Shoal daemon:
//! EC2 (default VPC, key pair, security group, an instance and the SDK's waiter, a launch
//! template), ELBv2 (target group, load balancer, listener, waiters), Auto Scaling (a group
//! whose instance turns InService and healthy behind the load balancer, a paginator),
//! CloudWatch over the protocol the SDK speaks (rpc-v2-cbor), and AWS's error shapes as
//! the SDK parses them.

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_autoscaling as asg;
use aws_sdk_cloudwatch as cw;
use aws_sdk_ec2 as ec2;
use aws_sdk_ec2::client::Waiters as _;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2 as elb;
use aws_sdk_elasticloadbalancingv2::client::Waiters as _;
use tokio::time::Instant;

const POOL_LOCKS: &str = "shoal-console-pools"; // shared with tests/console/daemon.js

/// A Shoal daemon on 127.0.0.1:0 with a fresh data dir and a loopback /24 of its own (the
/// lock scheme of tests/console/daemon.js, so the node and Rust suites never share one).
/// Dropping it (also when the test panics) resets it, stops it by PID and kills by PID
/// every instance process it left.
struct Daemon {
    child: Option<Child>,
    endpoint: String,
    data_dir: PathBuf,
    lock: PathBuf,
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn claim_pool() -> (String, PathBuf) {
    let dir = std::env::temp_dir().join(POOL_LOCKS);
    std::fs::create_dir_all(&dir).unwrap();
    for a in 200..250 {
        for b in 0..256 {
            let lock = dir.join(format!("{a}.{b}.lock"));
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
                Ok(mut f) => {
                    write!(f, "{}", std::process::id()).unwrap();
                    return (format!("127.{a}.{b}.0/24"), lock);
                }
                Err(_) => {
                    // A lock whose owner is gone is stale: free it for a later claim.
                    let owner =
                        std::fs::read_to_string(&lock).ok().and_then(|s| s.trim().parse().ok());
                    if owner.is_some_and(|pid| !alive(pid)) {
                        let _ = std::fs::remove_file(&lock);
                    }
                }
            }
        }
    }
    panic!("no free loopback pool");
}

impl Daemon {
    fn start(shoal: &str) -> Daemon {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos();
        let data_dir =
            std::env::temp_dir().join(format!("shoal-sdk-rust-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&data_dir).unwrap();
        let (pool, lock) = claim_pool();
        let log = std::fs::File::create(data_dir.join("daemon.log")).unwrap();
        let mut child = Command::new(shoal)
            .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .args(["--address-pool", &pool, "--cpu-sample-interval", "1", "--stop-grace", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start shoal");
        // Its first line names the endpoint; the rest is drained so the pipe never fills.
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut d = Daemon { child: Some(child), endpoint: String::new(), data_dir, lock };
        let deadline = Instant::now() + Duration::from_secs(30);
        while d.endpoint.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(at) = line.find("http://") {
                        let rest = &line[at + 7..];
                        let end =
                            rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'));
                        d.endpoint = format!("http://{}", &rest[..end.unwrap_or(rest.len())]);
                    }
                }
                Err(_) => panic!("shoal did not start; log: {}", d.log()),
            }
        }
        d
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.data_dir.join("daemon.log")).unwrap_or_default();
        let mut from = text.len().saturating_sub(4000);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        text[from..].to_string()
    }

    /// host:port of the endpoint.
    fn addr(&self) -> &str {
        self.endpoint.trim_start_matches("http://")
    }

    /// Every process of this daemon's instances: those carrying its endpoint marker in one
    /// of its network namespaces (another daemon, in a namespace of its own, can have the
    /// same 127.0.0.1 port and so the same marker), and each instance's init, whose
    /// command line names a directory under its data dir.
    fn marked_pids(&self) -> Vec<u32> {
        let needle = format!("SHOAL_ENDPOINT={}", self.endpoint);
        let instances = self.data_dir.join("instances");
        let instances = instances.to_string_lossy();
        let namespaces: Vec<(u64, u64)> = std::iter::once("/proc/self/ns/net".into())
            .chain(self.mounts_under_data_dir(Some("nsfs")))
            .filter_map(|p| namespace_id(Path::new(&p)))
            .collect();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let (Ok(env), Ok(cmd)) = (
                std::fs::read(entry.path().join("environ")),
                std::fs::read(entry.path().join("cmdline")),
            ) else {
                continue;
            };
            let marked = env.split(|&b| b == 0).any(|v| v == needle.as_bytes())
                && namespace_id(&entry.path().join("ns/net")).is_some_and(|n| namespaces.contains(&n));
            let args: Vec<String> =
                cmd.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            let init = args.iter().any(|a| a == "instance-init")
                && args.iter().any(|a| a.starts_with(&*instances));
            if marked || init {
                pids.push(pid);
            }
        }
        pids
    }

    /// Mount points under the data dir (of type `fstype` if given), deepest first.
    fn mounts_under_data_dir(&self, fstype: Option<&str>) -> Vec<String> {
        let Ok(dir) = std::fs::canonicalize(&self.data_dir) else { return Vec::new() };
        let prefix = format!("{}/", dir.display());
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<String> = info
            .lines()
            .filter_map(|line| {
                let (mine, theirs) = line.split_once(" - ")?;
                let point = mine.split(' ').nth(4)?.replace("\\040", " ");
                let kind = theirs.split(' ').next()?;
                (point.starts_with(&prefix) && fstype.is_none_or(|t| t == kind)).then_some(point)
            })
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        points
    }
}

/// Device and inode of the namespace a `/proc/<pid>/ns/*` link or an nsfs mount names.
fn namespace_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn kill(pid: u32, signal: &str) {
    let _ = Command::new("kill").args([signal, &pid.to_string()]).stderr(Stdio::null()).status();
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let mut child = self.child.take().expect("a started daemon");
        if let Ok(None) = child.try_wait() {
            if !self.endpoint.is_empty() {
                let _ = http(self.addr(), "POST", "/_shoal/reset", None, Duration::from_secs(60));
            }
            let pid = child.id();
            kill(pid, "-TERM");
            // Reaped on a thread so the wait is bounded: SIGKILL after 10 s (still unreaped,
            // so the PID is still this daemon's).
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let _ = child.wait();
                let _ = tx.send(());
            });
            if rx.recv_timeout(Duration::from_secs(10)).is_err() {
                kill(pid, "-KILL");
                let _ = rx.recv_timeout(Duration::from_secs(10));
            }
        }
        if !self.endpoint.is_empty() {
            for pid in self.marked_pids() {
                kill(pid, "-KILL");
            }
        }
        // What the daemon should have released and did not: said aloud, then unmounted
        // lazily, so that the data dir can go.
        let left = self.mounts_under_data_dir(None);
        for point in &left {
            let _ = Command::new("umount").args(["-l", point]).status();
        }
        if !left.is_empty() {
            eprintln!("shoal left {} mount(s) under its data dir: {}", left.len(), left.join(" "));
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        let _ = std::fs::remove_file(&self.lock);
    }
}

/// One HTTP/1.1 request to `addr` (loopback only) with `Host: host`: (status, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    host: Option<&str>,
    timeout: Duration,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let host = host.unwrap_or(addr);
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// Polls `check` until it returns Some; panics after `timeout`.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, interval: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(interval).await;
    }
}

/// Standard base64 (the launch template's user data), without another dependency.
fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ABC[(n >> (18 - 6 * i)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    out
}

/// The SDK's shared configuration, as a developer writes it for a local endpoint: plain
/// http (hyper 1 without TLS), static test credentials, us-east-1.
async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(ec2::config::Credentials::new("test", "test", None, None, "static"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}

/// Records the Content-Type and smithy-protocol header of each CloudWatch request the SDK
/// sends, so the test states which of CloudWatch's protocols it exercised.
#[derive(Debug, Clone, Default)]
struct SeenProtocols(Arc<Mutex<Vec<String>>>);

impl cw::config::Intercept for SeenProtocols {
    fn name(&self) -> &'static str {
        "SeenProtocols"
    }

    fn read_before_transmit(
        &self,
        context: &cw::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &cw::config::RuntimeComponents,
        _cfg: &mut cw::config::ConfigBag,
    ) -> Result<(), cw::error::BoxError> {
        let headers = context.request().headers();
        let seen = format!(
            "{} {}",
            headers.get("content-type").unwrap_or("-"),
            headers.get("smithy-protocol").unwrap_or("-")
        );
        self.0.lock().unwrap().push(seen);
        Ok(())
    }
}

fn filter(name: &str, value: &str) -> ec2::types::Filter {
    ec2::types::Filter::builder().name(name).values(value).build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_with_the_aws_sdk_for_rust() {
    let Ok(shoal) = std::env::var("SHOAL_BIN") else {
        eprintln!(
            "skipped: SHOAL_BIN is not set (the shoal binary to start; scripts/test.sh sets it)"
        );
        return;
    };
    let d = Daemon::start(&shoal);
    let lab = tokio::time::timeout(Duration::from_secs(300), lab(&d)).await;
    lab.unwrap_or_else(|_| panic!("the lab took over 300 s; log: {}", d.log()));
    check_tool_calls(d.addr());
}

/// Codes AWS answers for an action or service the endpoint does not know (as
/// tests/aws/tool_calls.py lists them).
const UNKNOWN: &[&str] = &[
    "InvalidAction",
    "UnknownOperationException",
    "UnknownOperation",
    "UnknownService",
    "InvalidService",
    "NotImplemented",
];

/// Every call this test made, as the daemon's /metrics counts them, is in
/// tests/tool-calls.txt, and none was answered as unknown.
fn check_tool_calls(addr: &str) {
    let mut s =
        TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(10)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // HTTP/1.0: the body comes whole, never chunked.
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo test");
    let list = std::fs::read_to_string(Path::new(&manifest_dir).join("../tool-calls.txt")).unwrap();
    let listed: std::collections::BTreeSet<&str> = list
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .collect();
    let label = |labels: &str, name: &str| {
        let start = labels.find(&format!("{name}=\"")).map(|i| i + name.len() + 2)?;
        labels[start..].split('"').next().map(str::to_string)
    };
    let (mut missing, mut unknown) = (Vec::new(), Vec::new());
    for line in raw.lines() {
        let Some((series, rest)) = line.split_once('{') else { continue };
        let Some((labels, value)) = rest.rsplit_once("} ") else { continue };
        if value.trim() == "0" {
            continue;
        }
        let (Some(service), Some(action)) = (label(labels, "service"), label(labels, "action"))
        else {
            continue;
        };
        let call = format!("{service} {action}");
        if series == "shoal_api_requests_total" && !listed.contains(call.as_str()) {
            missing.push(call.clone());
        }
        if series == "shoal_api_errors_total"
            && label(labels, "code").is_some_and(|c| UNKNOWN.contains(&c.as_str()))
        {
            unknown.push(call);
        }
    }
    assert!(unknown.is_empty(), "calls Shoal answered as unknown: {unknown:?}");
    assert!(missing.is_empty(), "add each to tests/tool-calls.txt: {missing:?}");
}

async fn lab(d: &Daemon) {
    let config = sdk_config(&d.endpoint).await;
    let ec2 = ec2::Client::new(&config);
    let elb = elb::Client::new(&config);
    let asg = asg::Client::new(&config);
    let seen = SeenProtocols::default();
    let cw =
        cw::Client::from_conf(cw::config::Builder::from(&config).interceptor(seen.clone()).build());

    // The default VPC, and its default subnets with a paginator.
    let vpcs = ec2.describe_vpcs().filters(filter("is-default", "true")).send().await.unwrap();
    assert_eq!(vpcs.vpcs().len(), 1);
    let vpc_id = vpcs.vpcs()[0].vpc_id().unwrap().to_string();
    let mut subnets: Vec<ec2::types::Subnet> = ec2
        .describe_subnets()
        .filters(filter("vpc-id", &vpc_id))
        .filters(filter("default-for-az", "true"))
        .into_paginator()
        .page_size(5)
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .unwrap();
    assert!(subnets.len() >= 2, "a default subnet per zone: {subnets:?}");
    subnets.sort_by(|a, b| a.availability_zone().cmp(&b.availability_zone()));
    let subnet_ids: Vec<String> =
        subnets[..2].iter().map(|s| s.subnet_id().unwrap().to_string()).collect();

    // A key pair and a security group with ingress.
    let key = ec2.create_key_pair().key_name("sdk-rust-key").send().await.unwrap();
    assert!(key.key_material().unwrap().contains("PRIVATE KEY"));
    let sg = ec2
        .create_security_group()
        .group_name("sdk-rust-web")
        .description("the app")
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    // The app's port and the load balancer's listener's, from anywhere (the host is the
    // internet to a VPC).
    let rule = |port: i32, description: &str| {
        ec2::types::IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .ip_ranges(
                ec2::types::IpRange::builder()
                    .cidr_ip("0.0.0.0/0")
                    .description(description)
                    .build(),
            )
            .build()
    };
    ec2.authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(rule(3000, "the app"))
        .ip_permissions(rule(8080, "the load balancer"))
        .send()
        .await
        .unwrap();
    let groups = ec2.describe_security_groups().group_ids(&sg).send().await.unwrap();
    let perms: Vec<_> = groups.security_groups()[0]
        .ip_permissions()
        .iter()
        .map(|p| (p.from_port(), p.ip_ranges()[0].cidr_ip(), p.ip_ranges()[0].description()))
        .collect();
    assert_eq!(
        perms,
        [
            (Some(3000), Some("0.0.0.0/0"), Some("the app")),
            (Some(8080), Some("0.0.0.0/0"), Some("the load balancer"))
        ]
    );

    // An instance, and the SDK's waiter.
    let images = ec2
        .describe_images()
        .owners("amazon")
        .filters(filter("name", "al2023-ami-shoal-base-kernel-default-x86_64"))
        .send()
        .await
        .unwrap();
    let image_id = images.images()[0].image_id().unwrap().to_string();
    let tags = ec2::types::TagSpecification::builder()
        .resource_type(ec2::types::ResourceType::Instance)
        .tags(ec2::types::Tag::builder().key("Name").value("sdk-rust-instance").build())
        .build();
    let run = ec2
        .run_instances()
        .image_id(&image_id)
        .instance_type(ec2::types::InstanceType::T2Micro)
        .min_count(1)
        .max_count(1)
        .key_name("sdk-rust-key")
        .security_group_ids(&sg)
        .subnet_id(&subnet_ids[0])
        .tag_specifications(tags)
        .send()
        .await
        .unwrap();
    let instance_id = run.instances()[0].instance_id().unwrap().to_string();
    ec2.wait_until_instance_running()
        .instance_ids(&instance_id)
        .wait(Duration::from_secs(90))
        .await
        .unwrap();
    let described = ec2.describe_instances().instance_ids(&instance_id).send().await.unwrap();
    let instance = &described.reservations()[0].instances()[0];
    assert_eq!(instance.state().unwrap().name(), Some(&ec2::types::InstanceStateName::Running));
    let instance_groups: Vec<_> =
        instance.security_groups().iter().map(|g| g.group_id().unwrap()).collect();
    assert_eq!(instance_groups, [sg.as_str()]);
    assert!(instance.public_ip_address().unwrap().starts_with("127."), "{instance:?}");

    // A launch template that installs and starts the lab's app.
    // The checkout's path as cargo runs the test, not as it was compiled: the build is
    // cached outside the checkout and shared by every clone.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo test");
    let setup =
        std::fs::read(Path::new(&manifest_dir).join("../../examples/lab/setup.sh")).unwrap();
    let template = ec2::types::RequestLaunchTemplateData::builder()
        .image_id(&image_id)
        .instance_type(ec2::types::InstanceType::T2Micro)
        .key_name("sdk-rust-key")
        .security_group_ids(&sg)
        .user_data(base64(&setup))
        .metadata_options(
            ec2::types::LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(ec2::types::LaunchTemplateHttpTokensState::Required)
                .http_put_response_hop_limit(2)
                .build(),
        )
        .build();
    let lt = ec2
        .create_launch_template()
        .launch_template_name("sdk-rust-template")
        .launch_template_data(template)
        .send()
        .await
        .unwrap();
    assert_eq!(lt.launch_template().unwrap().latest_version_number(), Some(1));

    // A target group, a load balancer and a listener; the SDK's waiter.
    let tg = elb
        .create_target_group()
        .name("sdk-rust-tg")
        .protocol(elb::types::ProtocolEnum::Http)
        .port(3000)
        .vpc_id(&vpc_id)
        .health_check_path("/health")
        .health_check_interval_seconds(5)
        .health_check_timeout_seconds(2)
        .healthy_threshold_count(2)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    let attribute = elb::types::TargetGroupAttribute::builder()
        .key("deregistration_delay.timeout_seconds")
        .value("0")
        .build();
    elb.modify_target_group_attributes()
        .target_group_arn(&tg)
        .attributes(attribute)
        .send()
        .await
        .unwrap();
    let created = elb
        .create_load_balancer()
        .name("sdk-rust-lb")
        .set_subnets(Some(subnet_ids.clone()))
        .security_groups(&sg)
        .send()
        .await
        .unwrap();
    let lb = &created.load_balancers()[0];
    let (lb_arn, dns) =
        (lb.load_balancer_arn().unwrap().to_string(), lb.dns_name().unwrap().to_string());
    assert!(dns.starts_with("sdk-rust-lb-") && dns.ends_with(".us-east-1.elb.localhost"), "{dns}");
    let forward = elb::types::Action::builder()
        .r#type(elb::types::ActionTypeEnum::Forward)
        .target_group_arn(&tg)
        .build();
    elb.create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(elb::types::ProtocolEnum::Http)
        .port(8080)
        .default_actions(forward)
        .send()
        .await
        .unwrap();
    elb.wait_until_load_balancer_available()
        .load_balancer_arns(&lb_arn)
        .wait(Duration::from_secs(60))
        .await
        .unwrap();

    // An Auto Scaling group from the template, attached to the target group; its instance
    // turns InService (a paginator over DescribeAutoScalingInstances) and healthy.
    asg.create_auto_scaling_group()
        .auto_scaling_group_name("sdk-rust-asg")
        .launch_template(
            asg::types::LaunchTemplateSpecification::builder()
                .launch_template_name("sdk-rust-template")
                .build(),
        )
        .min_size(1)
        .max_size(2)
        .desired_capacity(1)
        .vpc_zone_identifier(subnet_ids.join(","))
        .target_group_arns(&tg)
        .health_check_type("ELB")
        .health_check_grace_period(60)
        .send()
        .await
        .unwrap();
    let member = wait_for(
        "the group's instance InService",
        Duration::from_secs(90),
        Duration::from_secs(1),
        || async {
            let all: Vec<asg::types::AutoScalingInstanceDetails> = asg
                .describe_auto_scaling_instances()
                .into_paginator()
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .ok()?;
            let mine: Vec<_> = all
                .into_iter()
                .filter(|i| i.auto_scaling_group_name() == Some("sdk-rust-asg"))
                .collect();
            (mine.len() == 1 && mine[0].lifecycle_state() == Some("InService"))
                .then(|| mine[0].clone())
        },
    )
    .await;
    assert_eq!(member.launch_template().unwrap().launch_template_name(), Some("sdk-rust-template"));
    let member_id = member.instance_id().unwrap().to_string();
    // Polled at 1 s (the SDK's waiter waits 15 s between its polls), then the waiter agrees.
    let target = elb::types::TargetDescription::builder().id(&member_id).build();
    wait_for("the target healthy", Duration::from_secs(90), Duration::from_secs(1), || async {
        let health = elb
            .describe_target_health()
            .target_group_arn(&tg)
            .targets(target.clone())
            .send()
            .await
            .ok()?;
        let state = health.target_health_descriptions().first()?.target_health()?.state()?.clone();
        (state == elb::types::TargetHealthStateEnum::Healthy).then_some(())
    })
    .await;
    elb.wait_until_target_in_service()
        .target_group_arn(&tg)
        .targets(target.clone())
        .wait(Duration::from_secs(30))
        .await
        .unwrap();

    // The load balancer serves the app: its DNS name as Host on Shoal's own port.
    let body = wait_for(
        "the load balancer to answer",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || async {
            match http(d.addr(), "GET", "/", Some(&dns), Duration::from_secs(3)) {
                Ok((200, body)) => Some(body),
                _ => None,
            }
        },
    )
    .await;
    assert!(body.contains(&format!("Welcome to the A project (instance {member_id}")), "{body}");

    // CloudWatch: a custom metric, its statistics, an alarm on it.
    let dimension =
        cw::types::Dimension::builder().name("AutoScalingGroupName").value("sdk-rust-asg").build();
    let now = SystemTime::now();
    let datum = cw::types::MetricDatum::builder()
        .metric_name("QueueDepth")
        .dimensions(dimension.clone())
        .value(42.0)
        .unit(cw::types::StandardUnit::Count)
        .timestamp(now.into())
        .build();
    cw.put_metric_data().namespace("Lab").metric_data(datum).send().await.unwrap();
    let listed = cw.list_metrics().namespace("Lab").send().await.unwrap();
    let names: Vec<_> = listed.metrics().iter().map(|m| m.metric_name().unwrap()).collect();
    assert_eq!(names, ["QueueDepth"]);
    let stats = cw
        .get_metric_statistics()
        .namespace("Lab")
        .metric_name("QueueDepth")
        .dimensions(dimension.clone())
        .start_time((now - Duration::from_secs(600)).into())
        .end_time((now + Duration::from_secs(60)).into())
        .period(60)
        .statistics(cw::types::Statistic::Maximum)
        .statistics(cw::types::Statistic::SampleCount)
        .send()
        .await
        .unwrap();
    let points: Vec<_> =
        stats.datapoints().iter().map(|p| (p.maximum(), p.sample_count())).collect();
    assert_eq!(points, [(Some(42.0), Some(1.0))]);
    cw.put_metric_alarm()
        .alarm_name("sdk-rust-queue")
        .namespace("Lab")
        .metric_name("QueueDepth")
        .dimensions(dimension)
        .statistic(cw::types::Statistic::Maximum)
        .period(60)
        .evaluation_periods(1)
        .threshold(10.0)
        .comparison_operator(cw::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    let alarms = cw.describe_alarms().alarm_names("sdk-rust-queue").send().await.unwrap();
    let alarm = &alarms.metric_alarms()[0];
    assert_eq!((alarm.alarm_name(), alarm.threshold()), (Some("sdk-rust-queue"), Some(10.0)));
    cw.delete_alarms().alarm_names("sdk-rust-queue").send().await.unwrap();
    assert!(cw
        .describe_alarms()
        .alarm_names("sdk-rust-queue")
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .is_empty());
    // The current SDK speaks CloudWatch's rpc-v2-cbor (not awsQuery), to every call above.
    let protocols = seen.0.lock().unwrap().clone();
    assert_eq!(protocols.len(), 7, "{protocols:?}");
    assert!(protocols.iter().all(|p| p == "application/cbor rpc-v2-cbor"), "{protocols:?}");

    // AWS's error shapes, as the SDK parses them.
    let err = ec2.describe_instances().instance_ids("not-an-id").send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    let service = err.as_service_error().expect("a service error");
    assert_eq!(service.code(), Some("InvalidInstanceID.Malformed"), "{service:?}");
    assert!(service.message().unwrap_or_default().contains("not-an-id"), "{service:?}");
    let err = ec2
        .run_instances()
        .image_id("ami-00000000000000000")
        .instance_type(ec2::types::InstanceType::T2Micro)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.as_service_error().and_then(|e| e.code()), Some("InvalidAMIID.NotFound"));
    let err = elb.describe_load_balancers().names("no-such-lb").send().await.unwrap_err();
    assert!(err.into_service_error().is_load_balancer_not_found_exception());
    let err = asg
        .create_auto_scaling_group()
        .auto_scaling_group_name("sdk-rust-asg")
        .launch_template(
            asg::types::LaunchTemplateSpecification::builder()
                .launch_template_name("sdk-rust-template")
                .build(),
        )
        .min_size(1)
        .max_size(1)
        .vpc_zone_identifier(&subnet_ids[0])
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_already_exists_fault());
    // CloudWatch's error in CBOR: a state outside the enum (the SDK sends unknown values).
    let err = cw
        .describe_alarms()
        .state_value(cw::types::StateValue::from("BOGUS"))
        .send()
        .await
        .unwrap_err();
    let service = err.as_service_error().expect("a service error");
    assert_eq!(service.code(), Some("ValidationError"), "{service:?}");
    assert!(service.message().unwrap_or_default().contains("BOGUS"), "{service:?}");

    // Clean up, in dependency order, with the SDK's waiters.
    asg.delete_auto_scaling_group()
        .auto_scaling_group_name("sdk-rust-asg")
        .force_delete(true)
        .send()
        .await
        .unwrap();
    wait_for("the group gone", Duration::from_secs(60), Duration::from_millis(500), || async {
        let groups = asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("sdk-rust-asg")
            .send()
            .await
            .ok()?;
        groups.auto_scaling_groups().is_empty().then_some(())
    })
    .await;
    elb.delete_load_balancer().load_balancer_arn(&lb_arn).send().await.unwrap();
    elb.wait_until_load_balancers_deleted()
        .load_balancer_arns(&lb_arn)
        .wait(Duration::from_secs(30))
        .await
        .unwrap();
    elb.delete_target_group().target_group_arn(&tg).send().await.unwrap();
    ec2.delete_launch_template().launch_template_name("sdk-rust-template").send().await.unwrap();
    ec2.terminate_instances().instance_ids(&instance_id).send().await.unwrap();
    ec2.wait_until_instance_terminated()
        .instance_ids(&instance_id)
        .wait(Duration::from_secs(90))
        .await
        .unwrap();
    ec2.delete_security_group().group_id(&sg).send().await.unwrap();
    ec2.delete_key_pair().key_name("sdk-rust-key").send().await.unwrap();

    let left = ec2
        .describe_instances()
        .filters(
            ec2::types::Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .values("stopping")
                .values("stopped")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        left.reservations().iter().all(|r| r.instances().is_empty()),
        "no instance left: {left:?}"
    );
    assert!(elb.describe_target_groups().send().await.unwrap().target_groups().is_empty());
    let named = ec2
        .describe_security_groups()
        .filters(filter("group-name", "sdk-rust-web"))
        .send()
        .await
        .unwrap();
    assert!(named.security_groups().is_empty());
}
