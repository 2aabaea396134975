//! Blue/green deployments (`shoal deploy`): start one, roll one back by hand, read
//! them; and the controller's pass ([`Service::deployment_pass`]), which observes the
//! world, runs the model's [`deploy::advance`] and carries out its effects in the same
//! commit as the new record.
//!
//! A deployment is made in **one commit**: green's launch template version (when an
//! image is given), green's target group (a copy of blue's), green's Auto Scaling group
//! (blue's shape, green's template), the listener's weighted forward (blue 100, green 0,
//! so green's targets are health-checked before they get traffic) and the record. A
//! refused request therefore changes nothing.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use shoal_model::autoscaling::group::{
    self, AttachmentState, AutoScalingGroup, CreateGroupRequest, GroupTag, HealthStatus,
    LifecycleState, TargetGroupAttachment, UpdateGroupRequest,
};
use shoal_model::cloudwatch::{Dimension, MetricId};
use shoal_model::deploy::{
    self, BlueAfter, Deployment, Effect, Gates, Observed, Side, Status, Strategy,
    TargetObservation, Timing, Window,
};
use shoal_model::ec2::image::ImageState;
use shoal_model::ec2::LaunchTemplateData;
use shoal_model::elbv2::health::TargetHealthState;
use shoal_model::elbv2::target_group::target_group_arn;
use shoal_model::elbv2::{
    Action, ForwardConfig, RegisteredTarget, ResourceTags, RulePriority, TargetGroup,
    WeightedTargetGroup,
};
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::ec2::resolve_version_in;
use super::elbv2::{listener_rules, target_group_load_balancers};
use super::{Changes, Service, State};
use crate::ids;
use shoal_model::cloudwatch::ELB_NAMESPACE as NAMESPACE;
use shoal_model::ec2::launch_template::LaunchTemplateSpec;

/// `shoal deploy`'s request: the JSON body of `POST /_shoal/api/deployments`, which the
/// CLI builds from its flags. Absent fields take the defaults named on each.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StartDeployment {
    /// The listener whose traffic moves (or `load_balancer` + `port`).
    pub listener_arn: Option<String>,
    /// A load balancer name or ARN.
    pub load_balancer: Option<String>,
    /// The listener's port (default: the load balancer's only listener, else 80).
    pub port: Option<u16>,
    /// The blue group (default: the one group attached to the listener's target group).
    pub group: Option<String>,
    /// A new image: green runs a new version of blue's template with only this changed.
    pub image_id: Option<String>,
    /// Or a launch template (name or id) and version (default `$Default`) green runs.
    pub launch_template: Option<String>,
    pub launch_template_version: Option<String>,
    /// `all-at-once` (default), `canary`, `linear`, `weights` or `swap`.
    pub strategy: Option<String>,
    /// Canary/linear step percentage.
    pub percent: Option<u32>,
    /// The weights strategy's green percentages, e.g. `[10, 50, 100]`.
    pub weights: Vec<u32>,
    /// Seconds each step is held and watched (default 60).
    pub step_seconds: Option<u64>,
    /// Seconds green may take to become healthy (default 300).
    pub health_timeout_seconds: Option<u64>,
    /// Seconds blue drains once green has everything (default: the deregistration
    /// delay of blue's target group).
    pub drain_seconds: Option<u64>,
    /// Gates (defaults: 5%, 1 request, 0 unhealthy, 2000 ms; 0 ms turns the response
    /// time gate off).
    pub max_error_rate_percent: Option<f64>,
    pub min_requests: Option<u64>,
    pub max_unhealthy_targets: Option<u32>,
    pub max_response_time_ms: Option<u64>,
    /// Keep blue running (weight 0) after success, for a fast rollback.
    pub keep_blue: bool,
    /// Delete blue after success instead of scaling it to 0.
    pub delete_blue: bool,
    /// Green's group name (default: blue's with BLUE → GREEN, or `<blue>-green`).
    pub green_group: Option<String>,
}

impl StartDeployment {
    /// Decodes the API's JSON body (the console's form becomes the same JSON); refused
    /// with the API's message when a field has the wrong type.
    pub fn from_json(body: serde_json::Value) -> AwsResult<StartDeployment> {
        serde_json::from_value(body)
            .map_err(|e| AwsError::validation(format!("Malformed deployment request: {e}")))
    }
}

fn not_found(id: &str) -> AwsError {
    AwsError::new(
        ErrorCode::DeploymentDoesNotExistException,
        format!("The deployment {id} could not be found."),
    )
    .with_status(404)
}

/// `d-` and nine characters from CodeDeploy's alphabet.
fn deployment_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..9).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("d-{tail}")
}

/// The target group a listener's default action sends all its traffic to.
fn sole_target_group(state: &State, listener_arn: &str) -> AwsResult<String> {
    let l = state.listeners.get(listener_arn).ok_or_else(|| {
        AwsError::new(ErrorCode::ListenerNotFound, "One or more listeners not found")
    })?;
    let live: Vec<&WeightedTargetGroup> = match l.default_actions.as_slice() {
        [Action::Forward(f)] => f.target_groups.iter().filter(|t| t.weight > 0).collect(),
        _ => Vec::new(),
    };
    match live.as_slice() {
        [one] => Ok(one.target_group_arn.clone()),
        _ => Err(AwsError::validation(format!(
            "The listener on port {} does not forward all its traffic to one target group; shoal deploy moves traffic from one target group to another",
            l.port
        ))),
    }
}

fn attached(g: &AutoScalingGroup, tg: &str) -> bool {
    g.target_groups.iter().any(|t| {
        t.target_group_arn == tg
            && !matches!(t.state, AttachmentState::Removing | AttachmentState::Removed)
    })
}

impl Service {
    /// Starts a deployment: validates everything, then makes green and the record in
    /// one commit. The deployment controller takes it from there.
    pub fn start_deployment(&self, req: StartDeployment) -> AwsResult<Deployment> {
        let now = self.clock.now();
        let strategy = Strategy::parse(
            req.strategy.as_deref().unwrap_or("all-at-once"),
            req.percent,
            &req.weights,
        )?;
        let schedule = strategy.schedule()?;
        if req.keep_blue && req.delete_blue {
            return Err(AwsError::validation("Choose one of --keep-blue and --delete-blue"));
        }
        if let Some(r) = req.max_error_rate_percent {
            if !(0.0..=100.0).contains(&r) {
                return Err(AwsError::validation(format!(
                    "The error rate gate is a percentage from 0 to 100; got {r}"
                )));
            }
        }
        let defaults = Gates::default();
        let gates = Gates {
            max_error_rate_percent: req
                .max_error_rate_percent
                .unwrap_or(defaults.max_error_rate_percent),
            min_requests: req.min_requests.unwrap_or(defaults.min_requests),
            max_unhealthy_targets: req
                .max_unhealthy_targets
                .unwrap_or(defaults.max_unhealthy_targets),
            max_response_time_ms: match req.max_response_time_ms {
                Some(0) => None,
                Some(ms) => Some(ms),
                None => defaults.max_response_time_ms,
            },
        };
        self.mutate(|state, changes| {
            // The listener.
            let listener_arn = match (&req.listener_arn, &req.load_balancer) {
                (Some(arn), _) => arn.clone(),
                (None, Some(lb)) => {
                    let lb = state
                        .load_balancers
                        .values()
                        .find(|l| &l.arn == lb || &l.name == lb)
                        .ok_or_else(|| {
                            AwsError::new(
                                ErrorCode::LoadBalancerNotFound,
                                format!("Load balancer '{lb}' not found"),
                            )
                        })?;
                    let mine: Vec<_> = state
                        .listeners
                        .values()
                        .filter(|l| l.load_balancer_arn == lb.arn)
                        .collect();
                    let port = req.port.or(if mine.len() == 1 { Some(mine[0].port) } else { None });
                    let port = port.unwrap_or(80);
                    mine.iter().find(|l| l.port == port).map(|l| l.arn.clone()).ok_or_else(|| {
                        AwsError::new(
                            ErrorCode::ListenerNotFound,
                            format!("Load balancer '{}' has no listener on port {port}", lb.name),
                        )
                    })?
                }
                (None, None) => {
                    return Err(AwsError::validation(
                        "Name the traffic to move: a listener ARN, or a load balancer (and port)",
                    ))
                }
            };
            let listener = state
                .listeners
                .get(&listener_arn)
                .cloned()
                .ok_or_else(|| AwsError::new(ErrorCode::ListenerNotFound, "One or more listeners not found"))?;
            let lb = state.load_balancers.get(&listener.load_balancer_arn).cloned().ok_or_else(
                || AwsError::new(ErrorCode::LoadBalancerNotFound, "One or more load balancers not found"),
            )?;
            if let Some(other) =
                state.deployments.values().find(|d| d.status.is_active() && d.listener_arn == listener_arn)
            {
                return Err(AwsError::new(
                    ErrorCode::DeploymentAlreadyStartedException,
                    format!(
                        "Deployment {} is already in progress on {} port {} ({}); wait for it or roll it back",
                        other.id, lb.name, listener.port, other.status.as_str()
                    ),
                ));
            }
            let blue_tg_arn = sole_target_group(state, &listener_arn)?;
            let blue_tg = state
                .target_groups
                .get(&blue_tg_arn)
                .cloned()
                .ok_or_else(|| AwsError::new(ErrorCode::TargetGroupNotFound, "One or more target groups not found"))?;

            // Blue.
            let blue = match &req.group {
                Some(name) => {
                    let g = super::autoscaling::find_group(state, name)?;
                    if !attached(g, &blue_tg_arn) {
                        return Err(AwsError::validation(format!(
                            "Auto Scaling group {name} is not attached to target group {}, where the listener sends its traffic",
                            blue_tg.name
                        )));
                    }
                    g.clone()
                }
                None => {
                    let found: Vec<&AutoScalingGroup> =
                        state.groups.values().filter(|g| attached(g, &blue_tg_arn)).collect();
                    match found.as_slice() {
                        [one] => (*one).clone(),
                        [] => {
                            return Err(AwsError::validation(format!(
                                "No Auto Scaling group is attached to target group {}; name the blue group",
                                blue_tg.name
                            )))
                        }
                        many => {
                            return Err(AwsError::validation(format!(
                                "Several groups are attached to target group {} ({}); name the blue group",
                                blue_tg.name,
                                many.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")
                            )))
                        }
                    }
                }
            };
            if blue.status.is_some() {
                return Err(AwsError::validation(format!("Auto Scaling group {} is being deleted", blue.name)));
            }
            if let Some(other) = state.deployments.values().find(|d| {
                d.status.is_active() && (d.blue_group == blue.name || d.green_group == blue.name)
            }) {
                return Err(AwsError::new(
                    ErrorCode::DeploymentAlreadyStartedException,
                    format!("Deployment {} is already in progress for group {}", other.id, blue.name),
                ));
            }
            if blue.desired_capacity == 0 {
                return Err(AwsError::validation(format!(
                    "Auto Scaling group {} has no capacity (desired 0): there is nothing to replace",
                    blue.name
                )));
            }
            let blue_template = blue.launch_template.clone().ok_or_else(|| {
                let from = match (&blue.launch_configuration_name, &blue.mixed_instances_policy) {
                    (Some(lc), _) => format!("launches from launch configuration {lc}"),
                    (None, Some(_)) => "launches from a mixed instances policy".to_string(),
                    (None, None) => "does not launch from a launch template".to_string(),
                };
                AwsError::validation(format!(
                    "Auto Scaling group {} {from}: shoal deploy needs a group on a launch template (an instance refresh with a DesiredConfiguration moves a group to one)",
                    blue.name
                ))
            })?;
            let (blue_lt, blue_version) = resolve_version_in(state, &blue_template)
                .map(|(t, v)| (t.clone(), v.clone()))?;

            // Green's template version.
            let (lt_id, lt_name, lt_version) = match (&req.image_id, &req.launch_template) {
                (Some(_), Some(_)) => {
                    return Err(AwsError::validation(
                        "Give either a new image or a launch template, not both",
                    ))
                }
                (None, None) => {
                    return Err(AwsError::validation(
                        "Give what green runs: a new image (--image) or a launch template (--launch-template)",
                    ))
                }
                (Some(image), None) => {
                    let img = state.images.get(image).ok_or_else(|| {
                        AwsError::new(
                            ErrorCode::InvalidAMIIDNotFound,
                            format!("The image id '[{image}]' does not exist"),
                        )
                    })?;
                    if img.state != ImageState::Available {
                        return Err(AwsError::new(
                            ErrorCode::InvalidAMIIDUnavailable,
                            format!("The image '{image}' is not available (it is {})", img.state.name()),
                        ));
                    }
                    if blue_version.data.image_id.as_deref() == Some(image) {
                        return Err(AwsError::validation(format!(
                            "Blue ({}) already runs {image}: there is nothing to deploy",
                            blue.name
                        )));
                    }
                    let v = self.create_launch_template_version_in(
                        state,
                        changes,
                        &LaunchTemplateSpec { id: Some(blue_lt.id.clone()), name: None, version: None },
                        Some(&blue_version.number.to_string()),
                        Some(format!("shoal deploy: version {} with image {image}", blue_version.number)),
                        LaunchTemplateData { image_id: Some(image.clone()), ..Default::default() },
                    )?;
                    (blue_lt.id.clone(), blue_lt.name.clone(), v.number)
                }
                (None, Some(t)) => {
                    let by_id = t.starts_with("lt-");
                    let spec = LaunchTemplateSpec {
                        id: by_id.then(|| t.clone()),
                        name: (!by_id).then(|| t.clone()),
                        version: Some(req.launch_template_version.clone().unwrap_or_else(|| "$Default".into())),
                    };
                    let (lt, v) = resolve_version_in(state, &spec)?;
                    if lt.id == blue_lt.id && v.number == blue_version.number {
                        return Err(AwsError::validation(format!(
                            "Blue ({}) already runs {} version {}: there is nothing to deploy",
                            blue.name, lt.name, v.number
                        )));
                    }
                    (lt.id.clone(), lt.name.clone(), v.number)
                }
            };

            // Green's target group: a copy of blue's (a swap shares blue's).
            let weighted = strategy.weighted();
            let green_tg_arn = if weighted {
                let name = deploy::green_name(&blue_tg.name, 32, |n| {
                    state.target_groups.values().any(|t| t.name == n)
                });
                let tg = TargetGroup {
                    arn: target_group_arn(self.region(), &name, &ids::hex16()),
                    name,
                    load_balancer_arns: Vec::new(),
                    ..blue_tg.clone()
                };
                let arn = tg.arn.clone();
                changes.put(tg);
                arn
            } else {
                blue_tg_arn.clone()
            };

            // Green's group: blue's shape, green's template.
            let green_name = match &req.green_group {
                Some(n) => n.clone(),
                None => deploy::green_name(&blue.name, 255, |n| state.groups.contains_key(n)),
            };
            let tags = blue
                .tags
                .iter()
                .map(|t| GroupTag {
                    value: if t.key == "Name" {
                        deploy::green_name(&t.value, 255, |_| false)
                    } else {
                        t.value.clone()
                    },
                    ..t.clone()
                })
                .collect();
            let create = CreateGroupRequest {
                name: green_name.clone(),
                launch_template: Some(LaunchTemplateSpec {
                    id: Some(lt_id.clone()),
                    name: None,
                    version: Some(lt_version.to_string()),
                }),
                min_size: Some(i64::from(blue.min_size)),
                max_size: Some(i64::from(blue.max_size)),
                desired_capacity: Some(i64::from(blue.desired_capacity)),
                default_cooldown: Some(i64::from(blue.default_cooldown)),
                zones: blue.zones.clone(),
                health_check_type: Some(blue.health_check_type.as_str().to_string()),
                health_check_grace_period: Some(i64::from(blue.health_check_grace_period)),
                target_group_arns: vec![green_tg_arn.clone()],
                tags,
                termination_policies: blue.termination_policies.iter().map(|p| p.as_str().to_string()).collect(),
                default_instance_warmup: blue.default_instance_warmup.map(i64::from),
                new_instances_protected_from_scale_in: Some(blue.new_instances_protected_from_scale_in),
                max_instance_lifetime: blue.max_instance_lifetime.map(i64::from),
                capacity_rebalance: Some(blue.capacity_rebalance),
                ..Default::default()
            };
            let green = group::create_group(
                &create,
                state.groups.contains_key(&green_name),
                self.region(),
                &ids::uuid(),
                now,
            )?;
            changes.put(green);

            // Green's targets are health-checked only while a listener uses their group.
            if weighted {
                stage_forward(state, changes, &listener_arn, &[(&blue_tg_arn, 100), (&green_tg_arn, 0)])?;
            }

            let drain_seconds = req
                .drain_seconds
                .unwrap_or(u64::from(blue_tg.attributes.deregistration_delay_seconds));
            let blue_after = if req.keep_blue {
                BlueAfter::Keep
            } else if req.delete_blue {
                BlueAfter::Delete
            } else {
                BlueAfter::ScaleToZero
            };
            let how = match &strategy {
                Strategy::Canary { percent } => format!("canary {percent}%"),
                Strategy::Linear { percent } => format!("linear {percent}%"),
                Strategy::Weights { steps } => format!(
                    "weights {}",
                    steps.iter().map(|s| format!("{s}%")).collect::<Vec<_>>().join(" → ")
                ),
                s => s.name().to_string(),
            };
            let message = format!(
                "created {green_name} (desired {}) from {lt_name} version {lt_version}{}; {how}, steps held {}s",
                blue.desired_capacity,
                if weighted {
                    format!(" behind new target group {}", short_name(&green_tg_arn))
                } else {
                    format!(" in {}'s target group {}", blue.name, blue_tg.name)
                },
                req.step_seconds.unwrap_or(60),
            );
            let d = deploy::new_deployment(
                Deployment {
                    id: deployment_id(),
                    load_balancer_arn: lb.arn.clone(),
                    load_balancer_name: lb.name.clone(),
                    listener_arn: listener_arn.clone(),
                    port: listener.port,
                    blue_group: blue.name.clone(),
                    green_group: green_name,
                    blue_target_group: blue_tg_arn.clone(),
                    green_target_group: green_tg_arn,
                    launch_template_id: lt_id,
                    launch_template_name: lt_name,
                    launch_template_version: lt_version,
                    image_id: req.image_id.clone(),
                    strategy,
                    schedule,
                    timing: Timing {
                        step_seconds: req.step_seconds.unwrap_or(60),
                        health_timeout_seconds: req.health_timeout_seconds.unwrap_or(300),
                        drain_seconds,
                    },
                    gates,
                    blue_after,
                    status: Status::Provisioning,
                    step: 0,
                    green_percent: 0,
                    phase_started_at: now,
                    created_at: now,
                    updated_at: now,
                    ended_at: None,
                    reason: None,
                    rollback_requested: None,
                    events: Vec::new(),
                    weights: Vec::new(),
                },
                message,
            );
            changes.put(d.clone());
            Ok(d)
        })
    }

    /// `shoal deploy rollback ID`: recorded now, carried out by the controller.
    pub fn rollback_deployment(&self, id: &str) -> AwsResult<Deployment> {
        let now = self.clock.now();
        self.mutate(|state, changes| {
            let d = state.deployments.get(id).ok_or_else(|| not_found(id))?;
            let d = deploy::request_rollback(d, now)?;
            changes.put(d.clone());
            Ok(d)
        })
    }

    pub fn deployment(&self, id: &str) -> AwsResult<Deployment> {
        self.read(|s| s.deployments.get(id).cloned()).ok_or_else(|| not_found(id))
    }

    /// Every deployment, newest first.
    pub fn deployments(&self) -> Vec<Deployment> {
        let mut all: Vec<Deployment> = self.read(|s| s.deployments.values().cloned().collect());
        all.sort_by_key(|d| std::cmp::Reverse(d.created_at));
        all
    }

    /// One controller pass over one deployment: observe, advance, and commit the new
    /// record with its effects. Commits nothing when nothing changed.
    pub fn deployment_pass(&self, id: &str) -> AwsResult<()> {
        let now = self.clock.now();
        let Some(d) = self.read(|s| s.deployments.get(id).cloned()) else { return Ok(()) };
        if !d.status.is_active() && d.rollback_requested.is_none() {
            return Ok(());
        }
        let metrics = match d.status {
            Status::Shifting | Status::Draining if d.strategy.weighted() => {
                self.green_metrics(&d, now)
            }
            _ => Window::default(),
        };
        let snapshot = self.proxy.target_health();
        self.mutate(|state, changes| {
            let Some(d) = state.deployments.get(id) else { return Ok(()) };
            let obs = observe(state, d, &snapshot, metrics);
            let (next, effects) = deploy::advance(d, &obs, now);
            if &next == d {
                return Ok(());
            }
            for e in &effects {
                apply(self, state, changes, &next, e, now)?;
            }
            changes.put(next);
            Ok(())
        })
    }

    /// What green's target group did since the current step began, from the load
    /// balancer's `AWS/ApplicationELB` metrics.
    fn green_metrics(&self, d: &Deployment, now: DateTime<Utc>) -> Window {
        let lb_dim =
            shoal_model::elbv2::load_balancer::load_balancer_dimension(&d.load_balancer_arn)
                .unwrap_or(&d.load_balancer_arn)
                .to_string();
        let tg_dim =
            shoal_model::elbv2::target_group::target_group_dimension(&d.green_target_group)
                .unwrap_or(&d.green_target_group)
                .to_string();
        let end = now + chrono::Duration::seconds(1);
        let points = |name: &str| {
            let metric = MetricId::new(
                NAMESPACE.to_string(),
                name.to_string(),
                vec![
                    Dimension::new("LoadBalancer", lb_dim.clone()),
                    Dimension::new("TargetGroup", tg_dim.clone()),
                ],
            );
            self.metric_points(&metric, d.phase_started_at, end).unwrap_or_default()
        };
        let sum = |name: &str| points(name).iter().map(total).sum::<f64>().round() as u64;
        let times = points("TargetResponseTime");
        Window {
            seconds: (now - d.phase_started_at).num_milliseconds() as f64 / 1000.0,
            requests: sum("RequestCount"),
            errors: sum("HTTPCode_Target_5XX_Count") + sum("HTTPCode_ELB_5XX_Count"),
            avg_response_time: (!times.is_empty())
                .then(|| times.iter().map(total).sum::<f64>() / times.len() as f64),
            targets: Vec::new(),
        }
    }
}

/// A datapoint's sum (the load balancer stores one plain value per period).
fn total(p: &shoal_model::cloudwatch::Datapoint) -> f64 {
    use shoal_model::cloudwatch::Samples;
    match &p.samples {
        Samples::Value(v) => *v,
        Samples::Values(vs) => vs.iter().map(|(v, c)| v * c).sum(),
        Samples::Set(s) => s.sum,
    }
}

/// `…:targetgroup/<name>/<id>` → `<name>`.
fn short_name(arn: &str) -> &str {
    arn.rsplit_once(":targetgroup/").and_then(|(_, rest)| rest.split('/').next()).unwrap_or(arn)
}

/// The world as the deployment's state machine needs it.
fn observe(
    state: &State,
    d: &Deployment,
    snapshot: &shoal_proxy::HealthSnapshot,
    mut window: Window,
) -> Observed {
    let green = state.groups.get(&d.green_group);
    let green_ids: Vec<&str> = green
        .map(|g| g.instances.iter().map(|i| i.instance_id.as_str()).collect())
        .unwrap_or_default();
    window.targets = state
        .registered_targets
        .values()
        .filter(|r| r.target_group_arn == d.green_target_group && r.deregistered_at.is_none())
        .filter(|r| green_ids.contains(&r.target.id.as_str()))
        .map(|r| match snapshot.get(&d.green_target_group, &r.target.id) {
            Some(e) => TargetObservation {
                id: r.target.id.clone(),
                state: e.health.state,
                description: e.health.description.clone(),
            },
            None => TargetObservation {
                id: r.target.id.clone(),
                state: TargetHealthState::Initial,
                description: None,
            },
        })
        .collect();
    Observed {
        listener_exists: state.listeners.contains_key(&d.listener_arn),
        blue_group_exists: state.groups.contains_key(&d.blue_group),
        green_group_exists: green.is_some(),
        green_desired: green.map_or(0, |g| g.desired_capacity),
        green_ready: green.map_or(0, |g| {
            g.instances
                .iter()
                .filter(|i| {
                    i.lifecycle_state == LifecycleState::InService
                        && i.health_status == HealthStatus::Healthy
                })
                .count() as u32
        }),
        green_instances: green.map_or(0, |g| g.instances.len() as u32),
        window,
    }
}

/// The listener's default action (and its default rule) becomes a forward to these
/// target groups with these weights, keeping its group stickiness.
fn stage_forward(
    state: &State,
    changes: &mut Changes,
    listener_arn: &str,
    groups: &[(&str, u32)],
) -> AwsResult<()> {
    let Some(l) = state.listeners.get(listener_arn) else { return Ok(()) };
    let stickiness_seconds = match l.default_actions.as_slice() {
        [Action::Forward(f)] => f.stickiness_seconds,
        _ => None,
    };
    let actions = vec![Action::Forward(ForwardConfig {
        target_groups: groups
            .iter()
            .map(|(arn, weight)| WeightedTargetGroup {
                target_group_arn: arn.to_string(),
                weight: *weight,
            })
            .collect(),
        stickiness_seconds,
    })];
    shoal_model::elbv2::actions::validate_actions(&actions)?;
    let mut l = l.clone();
    l.default_actions = actions.clone();
    if let Some(rule) = listener_rules(state, listener_arn)
        .into_iter()
        .find(|r| r.priority == RulePriority::Default)
    {
        let mut rule = rule.clone();
        rule.actions = actions;
        changes.put(rule);
    }
    changes.put(l);
    Ok(())
}

/// Carries out one effect of a deployment step in the step's change set.
fn apply(
    svc: &Service,
    state: &State,
    changes: &mut Changes,
    d: &Deployment,
    effect: &Effect,
    now: DateTime<Utc>,
) -> AwsResult<()> {
    let group_of = |side: Side| match side {
        Side::Blue => &d.blue_group,
        Side::Green => &d.green_group,
    };
    let tg_of = |side: Side| match side {
        Side::Blue => &d.blue_target_group,
        Side::Green => &d.green_target_group,
    };
    match effect {
        Effect::Route { blue, green } => stage_forward(
            state,
            changes,
            &d.listener_arn,
            &[(&d.blue_target_group, *blue), (&d.green_target_group, *green)],
        )?,
        Effect::RouteOnly(side) => {
            stage_forward(state, changes, &d.listener_arn, &[(tg_of(*side), 1)])?
        }
        Effect::ScaleToZero(side) => {
            if let Some(g) = state.groups.get(group_of(*side)) {
                let mut g = g.clone();
                let zero = UpdateGroupRequest {
                    min_size: Some(0),
                    max_size: Some(0),
                    desired_capacity: Some(0),
                    ..Default::default()
                };
                if group::update_group(&mut g, &zero, now).is_ok() {
                    changes.put(g);
                }
            }
        }
        Effect::DeleteGroup(side) => {
            // ForceDelete, as a user would; a group already gone needs nothing.
            if state.groups.contains_key(group_of(*side)) {
                svc.stage_delete_auto_scaling_group(state, changes, group_of(*side), true)?;
            }
        }
        Effect::Detach(side) => {
            if let Some(g) = state.groups.get(group_of(*side)) {
                let mut g = g.clone();
                for t in
                    g.target_groups.iter_mut().filter(|t| t.target_group_arn == d.blue_target_group)
                {
                    t.state = AttachmentState::Removing;
                }
                changes.put(g);
            }
        }
        Effect::Attach(side) => {
            if let Some(g) = state.groups.get(group_of(*side)) {
                let mut g = g.clone();
                g.target_groups.retain(|t| t.target_group_arn != d.blue_target_group);
                g.target_groups.push(TargetGroupAttachment {
                    target_group_arn: d.blue_target_group.clone(),
                    state: AttachmentState::Adding,
                });
                changes.put(g);
            }
        }
        Effect::DeleteGreenTargetGroup => {
            let arn = &d.green_target_group;
            if arn != &d.blue_target_group
                && state.target_groups.contains_key(arn)
                && target_group_load_balancers(state, arn).is_empty()
            {
                for r in state.registered_targets.values().filter(|r| &r.target_group_arn == arn) {
                    changes.delete::<RegisteredTarget>(&r.key);
                }
                if state.elb_tags.contains_key(arn) {
                    changes.delete::<ResourceTags>(arn);
                }
                changes.delete::<TargetGroup>(arn);
            }
        }
    }
    Ok(())
}
