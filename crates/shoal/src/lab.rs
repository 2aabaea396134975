//! The seed lab: its web app (`shoal app`) and `shoal up`'s preparation of the lab's
//! starting point (key pair, security groups, `exercise-image`, `exercise-image-beta`),
//! made through the same service calls the AWS API uses.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use serde_json::{json, Value};
use shoal_model::ec2::instance::Transition;
use shoal_model::ec2::launch_template::LaunchTemplateSpec;
use shoal_model::ec2::security_group::Permission;
use shoal_model::ec2::InstanceState;
use shoal_model::tags::Tag;
use shoal_model::{AwsError, AwsResult};

use crate::service::ec2::{base_image, RunInstances};
use crate::service::Service;

/// The lab's user data: installs the app and starts it at every boot.
pub const SETUP_SCRIPT: &str = include_str!("../../../examples/lab/setup.sh");
/// The same for a container of the base image, which has the app already: starts it.
pub const BASE_IMAGE_SETUP_SCRIPT: &str = include_str!("../../../examples/lab/base-image-setup.sh");

pub const KEY_NAME: &str = "exercise-key";
pub const IMAGE: &str = "exercise-image";
pub const IMAGE_BETA: &str = "exercise-image-beta";
pub const BETA_MESSAGE: &str = "Welcome to the A project beta";

/// Prepares the lab's starting point; idempotent. Returns what exists, by name. With
/// `with_stack`, also builds Parts 1 and 2 (template, target group, load balancer,
/// group); without, only step 1 (key pair, security groups, images), for people and
/// tests that build the rest by hand.
pub async fn prepare(svc: &Arc<Service>, with_stack: bool) -> AwsResult<Value> {
    let mut key_file = None;
    if svc.describe_key_pairs(&[], &[], &[])?.iter().all(|k| k.name != KEY_NAME) {
        let (_, material) = svc.create_key_pair(KEY_NAME, Some("rsa"), &[])?;
        let path = svc.config.data_dir.join(format!("{KEY_NAME}.pem"));
        std::fs::write(&path, material).map_err(|e| AwsError::internal(e.to_string()))?;
        key_file = Some(path);
    }
    let groups = svc.describe_security_groups(&[], &[], &[])?;
    let mut group_ids = Vec::new();
    for (name, description, ports) in [("web", "HTTP", vec![80, 3000]), ("ssh", "SSH", vec![22])] {
        let id = match groups.iter().find(|g| g.name == name) {
            Some(g) => g.id.clone(),
            None => {
                let g = svc.create_security_group(name, description, None, &[])?;
                let perms = ports
                    .into_iter()
                    .map(|port| Permission {
                        protocol: "tcp".into(),
                        from_port: Some(port),
                        to_port: Some(port),
                        cidrs: vec!["0.0.0.0/0".into()],
                        group_ids: vec![],
                        descriptions: Default::default(),
                    })
                    .collect();
                svc.change_security_group_rules(Some(&g.id), None, true, true, perms)?;
                g.id
            }
        };
        group_ids.push(id);
    }
    let images = svc.describe_images(&[], &["self".into()], &[])?;
    let find = |name: &str| images.iter().find(|i| i.name == name).map(|i| i.id.clone());
    let (image, image_beta) = match (find(IMAGE), find(IMAGE_BETA)) {
        (Some(a), Some(b)) => (a, b),
        _ => build_images(svc, &group_ids).await?,
    };
    if !with_stack {
        return Ok(json!({
            "key_pair": KEY_NAME,
            "key_file": key_file,
            "security_groups": { "web": group_ids[0], "ssh": group_ids[1] },
            "images": { IMAGE: image, IMAGE_BETA: image_beta },
        }));
    }
    let stack = build_stack(svc, &image, &group_ids)?;
    Ok(json!({
        "key_pair": KEY_NAME,
        "key_file": key_file,
        "security_groups": { "web": group_ids[0], "ssh": group_ids[1] },
        "images": { IMAGE: image, IMAGE_BETA: image_beta },
        "launch_template": TEMPLATE,
        "target_group": stack.0,
        "load_balancer": { "name": LOAD_BALANCER, "dns_name": stack.1 },
        "group": GROUP,
        "metric_period_seconds": svc.config.metric_period.as_secs(),
    }))
}

pub const TEMPLATE: &str = "exercise-launch-template";
pub const TARGET_GROUP: &str = "exercise-target-group";
pub const LOAD_BALANCER: &str = "exercise-lb";
pub const GROUP: &str = "EXERCISE-GROUP";

/// Parts 1 and 2 of the lab, as the lab builds them: the launch template, the target
/// group (HTTP 3000, `GET /health`, 5 s interval, thresholds 2/2), `exercise-lb` in two
/// zones with an HTTP listener, and `EXERCISE-GROUP` (min 1, max 2, CPU target 80 %)
/// attached to the target group with ELB health checks. Each piece is made only if
/// missing. Returns the target group's ARN and the load balancer's DNS name.
fn build_stack(
    svc: &Arc<Service>,
    image: &str,
    group_ids: &[String],
) -> AwsResult<(String, String)> {
    use crate::service::elbv2::{CreateLoadBalancer, CreateTargetGroup};
    use shoal_model::autoscaling::group::CreateGroupRequest;
    use shoal_model::autoscaling::policy::PutPolicyRequest;
    use shoal_model::elbv2::actions::{Action, ForwardConfig, WeightedTargetGroup};
    use shoal_model::elbv2::target_group::HealthCheckUpdate;

    if svc.describe_launch_templates(&[], &[], &[])?.iter().all(|t| t.name != TEMPLATE) {
        let data = shoal_model::ec2::launch_template::LaunchTemplateData {
            image_id: Some(image.to_string()),
            instance_type: Some("t2.micro".into()),
            key_name: Some(KEY_NAME.into()),
            security_group_ids: group_ids.to_vec(),
            ..Default::default()
        };
        svc.create_launch_template(TEMPLATE, Some("The lab's web server".into()), data, &[])?;
    }
    let (vpc, subnets) = svc.read(|s| {
        let vpc = s.vpcs.values().find(|v| v.is_default).map(|v| v.id.clone()).unwrap_or_default();
        let mut subnets: Vec<_> =
            s.subnets.values().filter(|n| n.default_for_az && n.vpc_id == vpc).collect();
        subnets.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
        (vpc.clone(), subnets.iter().take(2).map(|n| n.id.clone()).collect::<Vec<_>>())
    });
    let elb = svc.elb();
    let tg = match svc
        .read(|s| s.target_groups.values().find(|t| t.name == TARGET_GROUP).map(|t| t.arn.clone()))
    {
        Some(arn) => arn,
        None => {
            let tg = elb.create_target_group(CreateTargetGroup {
                name: TARGET_GROUP.into(),
                protocol: Some("HTTP".into()),
                port: Some(3000),
                vpc_id: Some(vpc),
                health_check: HealthCheckUpdate {
                    path: Some("/health".into()),
                    interval_seconds: Some(5),
                    timeout_seconds: Some(4),
                    healthy_threshold: Some(2),
                    unhealthy_threshold: Some(2),
                    ..Default::default()
                },
                ..Default::default()
            })?;
            // A lab-sized drain (AWS: 300 s), so scale-ins finish while you watch.
            elb.modify_target_group_attributes(
                &tg.arn,
                &[("deregistration_delay.timeout_seconds".into(), "10".into())],
            )?;
            tg.arn
        }
    };
    let dns = match svc.read(|s| {
        s.load_balancers.values().find(|l| l.name == LOAD_BALANCER).map(|l| l.dns_name.clone())
    }) {
        Some(dns) => dns,
        None => {
            let default_group = svc
                .describe_security_groups(&[], &["default".into()], &[])?
                .into_iter()
                .map(|g| g.id);
            let lb = elb.create_load_balancer(CreateLoadBalancer {
                name: LOAD_BALANCER.into(),
                subnets: subnets.clone(),
                security_groups: default_group
                    .chain(std::iter::once(group_ids[0].clone()))
                    .collect(),
                ..Default::default()
            })?;
            let forward = Action::Forward(ForwardConfig {
                target_groups: vec![WeightedTargetGroup {
                    target_group_arn: tg.clone(),
                    weight: 1,
                }],
                stickiness_seconds: None,
            });
            elb.create_listener(&lb.arn, Some("HTTP"), Some(80), vec![forward], &[])?;
            lb.dns_name
        }
    };
    if !svc.read(|s| s.groups.contains_key(GROUP)) {
        svc.create_auto_scaling_group(
            CreateGroupRequest {
                name: GROUP.into(),
                launch_template: Some(LaunchTemplateSpec {
                    id: None,
                    name: Some(TEMPLATE.into()),
                    version: Some("$Default".into()),
                }),
                min_size: Some(1),
                max_size: Some(2),
                desired_capacity: Some(1),
                target_group_arns: vec![tg.clone()],
                health_check_type: Some("ELB".into()),
                health_check_grace_period: Some(30),
                default_instance_warmup: Some(30),
                ..Default::default()
            },
            crate::service::autoscaling::Placement {
                subnet_ids: subnets,
                availability_zones: vec![],
            },
        )?;
        svc.put_scaling_policy(GROUP, PutPolicyRequest::cpu_target_tracking("cpu80", 80.0))?;
    }
    Ok((tg, dns))
}

/// Part 1 step 1 of the lab, for real: an `exercise-instance` with the lab's app
/// started at boot; once the app answers, stop it and image it. Then Part 3 step 2: start
/// it again, update the code inside it, stop it and make the beta image. In a container
/// of the base image the app is the image's own git repository and the update is the
/// lab's `git checkout beta`, run as ec2-user; as a host process tree the app is
/// `examples/lab/setup.sh`'s, whose message file the update rewrites.
async fn build_images(svc: &Arc<Service>, group_ids: &[String]) -> AwsResult<(String, String)> {
    let containers = svc.isolation_mode() == crate::config::Isolation::Container;
    let (setup, update) = if containers {
        (BASE_IMAGE_SETUP_SCRIPT, "cd /var/www/aws-exercise-a && git checkout -q beta".to_string())
    } else {
        (SETUP_SCRIPT, format!("echo '{BETA_MESSAGE}' > app/message"))
    };
    let base = svc
        .read(|s| base_image(s).map(|i| i.id.clone()))
        .ok_or_else(|| AwsError::internal("no base image"))?;
    let reservation = svc.run_instances(RunInstances {
        image_id: Some(base),
        instance_type: Some("t2.micro".into()),
        min_count: 1,
        max_count: 1,
        key_name: Some(KEY_NAME.into()),
        security_group_ids: group_ids.to_vec(),
        user_data: Some(base64::engine::general_purpose::STANDARD.encode(setup)),
        tag_specifications: vec![shoal_model::ec2::launch_template::TagSpecification {
            resource_type: "instance".into(),
            tags: vec![Tag::new("Name", "exercise-instance")],
        }],
        ..Default::default()
    })?;
    let id = reservation.instances[0].id.clone();
    wait_app(svc, &id).await?;
    let image = stop_and_image(svc, &id, IMAGE, "The lab app, version A").await?;

    svc.change_instance_states(std::slice::from_ref(&id), Transition::Start)?;
    let app = wait_app(svc, &id).await?;
    let argv = if containers {
        ["sudo", "-u", "ec2-user", "-i", "sh", "-c", &update].map(String::from).to_vec()
    } else {
        ["sh", "-c", &update].map(String::from).to_vec()
    };
    run_inside(svc, &id, argv).await?;
    let answer = app.get_text("/").await.map_err(|e| AwsError::internal(e.to_string()))?;
    if !answer.starts_with(BETA_MESSAGE) {
        return Err(AwsError::internal(format!("after the update, the app answers {answer:?}")));
    }
    let beta = stop_and_image(svc, &id, IMAGE_BETA, "The lab app, version beta").await?;
    Ok((image, beta))
}

/// Waits for the instance to run and its app to answer on :3000; returns a client of it.
async fn wait_app(svc: &Service, id: &str) -> AwsResult<crate::cli::client::Client> {
    wait_state(svc, id, InstanceState::Running).await?;
    let ip = svc.instance(id)?.loopback_ip;
    wait_http(&format!("http://{ip}:3000/health")).await?;
    Ok(crate::cli::client::Client::new(&format!("http://{ip}:3000")))
}

async fn stop_and_image(
    svc: &Service,
    id: &str,
    name: &str,
    description: &str,
) -> AwsResult<String> {
    svc.change_instance_states(&[id.to_string()], Transition::Stop)?;
    wait_state(svc, id, InstanceState::Stopped).await?;
    Ok(svc.create_image(id, name, Some(description.into()), &[], false).await?.id)
}

/// Runs `argv` inside the running instance, as `shoal ssh ID -- argv` does; fails, with
/// its output, unless it exits 0.
async fn run_inside(svc: &Service, id: &str, argv: Vec<String>) -> AwsResult<()> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let socket = svc.driver.control_socket(id).to_string_lossy().into_owned();
    let shown = argv.join(" ");
    let outcome = tokio::task::spawn_blocking(move || -> anyhow::Result<(i32, String)> {
        let null = std::fs::File::open("/dev/null")?;
        let (mut reader, writer) = std::io::pipe()?;
        // Read while the command runs: output past the pipe's buffer would block it.
        let output = std::thread::spawn(move || {
            let mut output = String::new();
            let _ = reader.read_to_string(&mut output);
            output
        });
        let fds = [null.as_raw_fd(), writer.as_raw_fd(), writer.as_raw_fd()];
        let code = crate::cli::ssh::exec_with(&socket, argv, fds);
        drop(writer);
        let output = output.join().unwrap_or_default();
        Ok((code?, output))
    })
    .await
    .map_err(|e| AwsError::internal(e.to_string()))?;
    match outcome {
        Ok((0, _)) => Ok(()),
        Ok((code, output)) => {
            Err(AwsError::internal(format!("`{shown}` in {id} exited {code}: {}", output.trim())))
        }
        Err(e) => Err(AwsError::internal(format!("`{shown}` in {id}: {e}"))),
    }
}

async fn wait_state(svc: &Service, id: &str, want: InstanceState) -> AwsResult<()> {
    for _ in 0..600 {
        if svc.instance(id)?.state == want {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(AwsError::internal(format!("{id} did not reach {}", want.name())))
}

async fn wait_http(url: &str) -> AwsResult<()> {
    let client = crate::cli::client::Client::new(url.trim_end_matches("/health"));
    for _ in 0..600 {
        if client.get_text("/health").await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(AwsError::internal(format!("{url} never answered")))
}

// ------------------------------------------------------------------ the lab app

/// `shoal app`: the lab's web app. `GET /` answers the text in `<dir>/message` (read on
/// each request, so a deploy that changes it shows at once), `GET /health` answers 200
/// with an empty body. Request bodies are read to the end and discarded, so an upload
/// of any size completes. Binds `$PRIVATE_IP:<port>`; logs each request in the combined
/// log format, as nginx would.
pub async fn serve_app(dir: PathBuf, port: u16, log: Option<PathBuf>) -> anyhow::Result<()> {
    let ip = std::env::var("PRIVATE_IP").unwrap_or_else(|_| "127.0.0.1".into());
    let addr: SocketAddr = format!("{ip}:{port}").parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("lab app listening on http://{addr}/");
    let ctx = Arc::new(AppCtx {
        dir,
        log,
        instance: std::env::var("INSTANCE_ID").unwrap_or_else(|_| "local".into()),
        zone: std::env::var("AVAILABILITY_ZONE").unwrap_or_default(),
    });
    loop {
        let (stream, peer) = listener.accept().await?;
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let ctx = ctx.clone();
                async move {
                    use http_body_util::BodyExt;
                    let (parts, mut body) = req.into_parts();
                    while let Some(Ok(_)) = body.frame().await {}
                    Ok::<_, Infallible>(ctx.answer(&parts, peer))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

struct AppCtx {
    dir: PathBuf,
    log: Option<PathBuf>,
    instance: String,
    zone: String,
}

impl AppCtx {
    fn answer(&self, req: &hyper::http::request::Parts, peer: SocketAddr) -> Response<Full<Bytes>> {
        let (status, body) = match req.uri.path() {
            "/health" => (200, String::new()),
            "/" => {
                let message = std::fs::read_to_string(self.dir.join("message"))
                    .unwrap_or_else(|_| "Welcome to the A project".into());
                (200, format!("{} (instance {} in {})\n", message.trim(), self.instance, self.zone))
            }
            _ => (404, "Not Found\n".into()),
        };
        if let Some(log) = &self.log {
            log_request(log, req, peer, status, body.len());
        }
        Response::builder()
            .status(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(body)))
            .expect("static response")
    }
}

fn log_request(
    path: &Path,
    req: &hyper::http::request::Parts,
    peer: SocketAddr,
    status: u16,
    bytes: usize,
) {
    use std::io::Write;
    let header =
        |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
    let line = format!(
        "{} - - [{}] \"{} {} {:?}\" {status} {bytes} \"{}\" \"{}\"\n",
        peer.ip(),
        chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S %z"),
        req.method,
        req.uri,
        req.version,
        header("referer"),
        header("user-agent"),
    );
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = f.write_all(line.as_bytes());
    }
}
