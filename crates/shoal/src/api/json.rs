//! The JSON front: admin routes, the API Shoal's CLI and console use, and the AWS JSON
//! protocol services (SSM's parameter lookups).

use shoal_model::ErrorCode;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use shoal_model::ec2::{format_time, Instance};
use shoal_model::AwsError;

use super::error::{error_response, Protocol};
use crate::regions::Regions;
use crate::service::page::{ErrorStyle, Paging};
use crate::service::Service;

/// SSM GetParametersByPath's `MaxResults`: 1–10, 10 when absent.
const SSM_PARAMETERS_BY_PATH: Paging = Paging {
    bounds: (1, 10),
    default: Some(10),
    parameter: "maxResults",
    style: ErrorStyle::Modeled,
};

pub fn routes() -> Router<Arc<Regions>> {
    Router::new()
        .route("/_shoal/health", get(health))
        .route("/_shoal/reset", post(reset))
        .route("/_shoal/shutdown", post(shutdown))
        .route("/_shoal/api/instances", get(list_instances))
        .route("/_shoal/api/instances/{id}", get(get_instance))
        .route("/_shoal/api/instances/{id}/console", get(console))
        .route("/_shoal/api/images/import", post(import_image))
        .route("/_shoal/api/images/usage", get(image_usage))
        .route("/_shoal/api/groups", get(list_groups))
        .route("/_shoal/api/groups/{name}/activities", get(group_activities))
        .route("/_shoal/api/lab", post(lab))
        .route("/_shoal/api/deployments", get(list_deployments).post(start_deployment))
        .route("/_shoal/api/deployments/{id}", get(get_deployment))
        .route("/_shoal/api/deployments/{id}/rollback", post(rollback_deployment))
}

/// The header naming the region a JSON API request is for (`shoal --region`).
pub const REGION_HEADER: &str = "x-shoal-region";

/// The service of the region a JSON API request names in [`REGION_HEADER`], or the
/// default region's; an unknown region is refused as AWS refuses its credential scope.
pub struct Regional(pub Arc<Service>);

impl axum::extract::FromRequestParts<Arc<Regions>> for Regional {
    type Rejection = JsonError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        regions: &Arc<Regions>,
    ) -> Result<Self, JsonError> {
        match parts.headers.get(REGION_HEADER).and_then(|v| v.to_str().ok()) {
            None | Some("") => Ok(Regional(regions.home().clone())),
            Some(region) => Ok(Regional(regions.get(region)?)),
        }
    }
}

/// A JSON error in the same AWS shape the CLI prints.
pub struct JsonError(AwsError);

impl From<AwsError> for JsonError {
    fn from(e: AwsError) -> Self {
        JsonError(e)
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(json!({ "code": self.0.code, "message": self.0.message }))).into_response()
    }
}

type JsonResult = Result<Json<Value>, JsonError>;

async fn health(State(regions): State<Arc<Regions>>) -> Json<Value> {
    let svc = regions.home();
    let opened: Vec<String> = regions.opened().iter().map(|s| s.region().to_string()).collect();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "data_dir": svc.config.data_dir,
        "isolation": svc.driver.isolation(),
        "isolation_mode": svc.isolation_mode().name(),
        "isolation_fallback": svc.config.isolation_fallback,
        "network_mode": if svc.driver.vpc_network() { "vpc" } else { "host" },
        "network_fallback": svc.config.network_fallback,
        "region": svc.region(),
        "regions": opened,
    }))
}

/// The admin reset (`shoal reset`), of every region opened: answers how many records of
/// each kind it removed.
async fn reset(State(regions): State<Arc<Regions>>) -> JsonResult {
    let mut removed = serde_json::Map::new();
    for svc in regions.opened() {
        for (kind, n) in svc.reset().await? {
            let total = removed.get(kind).and_then(Value::as_u64).unwrap_or(0) + n as u64;
            removed.insert(kind.to_string(), json!(total));
        }
    }
    Ok(Json(json!({ "reset": true, "removed": removed })))
}

#[derive(Deserialize, Default)]
struct ShutdownRequest {
    /// Stop every instance first (StopInstances), instead of leaving them running.
    #[serde(default)]
    stop_instances: bool,
}

/// `shoal down`: stops the daemon. Only for the person at this machine: the daemon must
/// listen on a loopback address, the request be addressed to a loopback name (no DNS
/// rebinding), carry a JSON body (a cross-site form cannot) and no foreign `Origin`.
/// With `stop_instances`, every instance is stopped (bounded wait) before the answer;
/// otherwise instances keep running and the next start re-adopts them. The answer is
/// sent, then the daemon stops serving.
async fn shutdown(
    State(regions): State<Arc<Regions>>,
    headers: HeaderMap,
    body: Bytes,
) -> JsonResult {
    let svc = regions.home();
    let refuse =
        |why: &str| JsonError(AwsError::new(ErrorCode::AccessDenied, why).with_status(403));
    if !svc.config.listen.ip().is_loopback() {
        return Err(refuse("Shoal accepts a shutdown only when it listens on a loopback address."));
    }
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let host = header(axum::http::header::HOST);
    if !crate::console::is_loopback_host(host) {
        return Err(refuse(
            "Shoal accepts a shutdown only addressed to a loopback address or localhost.",
        ));
    }
    if !header(axum::http::header::CONTENT_TYPE).starts_with("application/json") {
        return Err(refuse(
            "A shutdown request carries a JSON body (Content-Type: application/json).",
        ));
    }
    let origin = header(axum::http::header::ORIGIN);
    if !origin.is_empty() && origin != format!("http://{host}") {
        return Err(refuse("Shoal accepts a shutdown only from this machine's own clients."));
    }
    let req: ShutdownRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ShutdownRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AwsError::validation(format!("Malformed shutdown request: {e}")))?
    };
    let mut answer = json!({ "shutting_down": true, "pid": std::process::id() });
    if req.stop_instances {
        // Each instance gets its stop grace; they stop in parallel.
        let wait = svc.config.stop_grace + std::time::Duration::from_secs(30);
        let mut done = crate::service::admin::StopAll::default();
        for svc in regions.opened() {
            let region = svc.stop_all_instances(wait).await?;
            done.stopped.extend(region.stopped);
            done.still_stopping.extend(region.still_stopping);
            done.in_groups.extend(region.in_groups);
        }
        answer["stopped"] = json!(done.stopped);
        answer["still_stopping"] = json!(done.still_stopping);
        answer["stopped_in_groups"] = json!(done.in_groups);
    }
    let running: Vec<_> =
        regions.opened().iter().flat_map(|svc| svc.instances_with_processes()).collect();
    answer["running"] = json!(running);
    tracing::info!(stop_instances = req.stop_instances, "shutdown requested over the JSON API");
    svc.request_shutdown();
    Ok(Json(answer))
}

/// The JSON view of an instance: what `shoal instances` and the console show.
pub fn instance_json(svc: &Service, i: &Instance) -> Value {
    let cpu = svc.latest_cpu(&i.id);
    json!({
        "id": i.id,
        "state": i.state.name(),
        "state_code": i.state.code(),
        "state_reason": i.state_reason.as_ref().map(|r| r.message.clone()),
        "type": i.instance_type,
        "image_id": i.image_id,
        "availability_zone": i.availability_zone,
        "subnet_id": i.subnet_id,
        "private_ip": i.private_ip.to_string(),
        // The loopback address the load balancer reaches it at; its public address
        // only when it has one (`PublicIpAddress`).
        "address": i.loopback_ip.to_string(),
        "public_ip": i.has_public_ip.then(|| i.loopback_ip.to_string()),
        "launch_time": format_time(i.launch_time),
        "name": shoal_model::tags::get(&i.tags, "Name"),
        "tags": i.tags.iter().map(|t| json!({"key": t.key, "value": t.value})).collect::<Vec<_>>(),
        "pid": i.process.as_ref().map(|p| p.pid),
        "cpu_utilization": cpu,
    })
}

async fn list_instances(Regional(svc): Regional) -> JsonResult {
    let page = svc.describe_instances(&[], &[], None, None)?;
    Ok(Json(json!({
        "instances": page.items.iter().map(|i| instance_json(&svc, i)).collect::<Vec<_>>(),
        "isolation_mode": svc.isolation_mode().name(),
        "isolation_fallback": svc.config.isolation_fallback,
        "network_fallback": svc.config.network_fallback,
    })))
}

async fn get_instance(Regional(svc): Regional, Path(id): Path<String>) -> JsonResult {
    let inst = svc.instance(&id)?;
    let mut v = instance_json(&svc, &inst);
    v["disk"] = json!(svc.driver.disk_path(&id));
    v["control_socket"] = json!(svc.driver.control_socket(&id));
    v["pids"] = json!(svc.driver.pids(&id, inst.process.as_ref()));
    Ok(Json(v))
}

async fn console(Regional(svc): Regional, Path(id): Path<String>) -> Result<Response, JsonError> {
    let (_, out) = svc.console_output(&id)?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response())
}

#[derive(Deserialize)]
struct ImportRequest {
    /// A directory, a root-filesystem tarball or an image archive on this machine.
    #[serde(alias = "dir")]
    source: std::path::PathBuf,
    name: String,
    description: Option<String>,
}

async fn import_image(Regional(svc): Regional, Json(req): Json<ImportRequest>) -> JsonResult {
    let img = svc.import_image(req.source, &req.name, req.description).await?;
    Ok(Json(json!({ "image_id": img.id, "name": img.name, "state": img.state.name() })))
}

async fn image_usage(Regional(svc): Regional) -> JsonResult {
    Ok(Json(json!(svc.disk_usage().await?)))
}

#[derive(Deserialize)]
struct LabQuery {
    /// `false` prepares only the lab's first step (key pair, groups, images).
    stack: Option<bool>,
}

async fn lab(
    Regional(svc): Regional,
    axum::extract::Query(q): axum::extract::Query<LabQuery>,
) -> JsonResult {
    // Its load balancer's listener is bound when this answers, as after every write
    // (api::answer_once_routed).
    Ok(Json(crate::lab::prepare(&svc, q.stack.unwrap_or(true)).await?))
}

/// SSM (AWS JSON 1.1): GetParameter, GetParameters and GetParametersByPath for the
/// public AMI aliases.
pub fn ssm(svc: &Service, headers: &HeaderMap, body: &Bytes, request_id: &str) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let action = target.strip_prefix("AmazonSSM.").unwrap_or_default();
    if let Err(e) = super::document::check_json_depth(body) {
        return error_response(&e, Protocol::Json, request_id);
    }
    let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let param = |name: &str| {
        svc.ssm_parameter(name).map(|value| {
            json!({
                "Name": name, "Type": "String", "Value": value, "Version": 1, "DataType": "aws:ec2:image",
                "ARN": format!("arn:aws:ssm:{}::parameter{name}", svc.region()),
                "LastModifiedDate": svc.clock.now().timestamp(),
            })
        })
    };
    let result = match action {
        "GetParameter" => {
            let name = req["Name"].as_str().unwrap_or_default();
            param(name).map(|p| json!({ "Parameter": p })).ok_or_else(|| {
                AwsError::new(ErrorCode::ParameterNotFound, format!("Parameter {name} not found."))
            })
        }
        "GetParameters" => {
            let names: Vec<String> = req["Names"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            let (found, missing): (Vec<_>, Vec<_>) = names.iter().partition(|n| param(n).is_some());
            Ok(json!({
                "Parameters": found.iter().filter_map(|n| param(n)).collect::<Vec<_>>(),
                "InvalidParameters": missing,
            }))
        }
        "GetParametersByPath" => {
            let path = req["Path"].as_str().unwrap_or_default().trim_end_matches('/');
            let recursive = req["Recursive"].as_bool().unwrap_or(false);
            let under: Vec<String> = svc
                .ssm_public_parameters()
                .into_iter()
                .map(|(name, _)| name)
                .filter(|name| {
                    name.strip_prefix(path)
                        .and_then(|rest| rest.strip_prefix('/'))
                        .is_some_and(|rest| recursive || !rest.contains('/'))
                })
                .collect();
            let max = req["MaxResults"].as_u64().map(|n| n.min(u32::MAX as u64) as u32);
            SSM_PARAMETERS_BY_PATH.page(under, max, req["NextToken"].as_str())
                .map(|page| {
                    let mut out = json!({
                        "Parameters": page.items.iter().filter_map(|n| param(n)).collect::<Vec<_>>(),
                    });
                    if let Some(token) = page.next_token {
                        out["NextToken"] = json!(token);
                    }
                    out
                })
        }
        other => Err(AwsError::new(
            ErrorCode::InvalidAction,
            format!("Shoal's SSM serves GetParameter, GetParameters and GetParametersByPath only, not {other}"),
        )),
    };
    match result {
        Ok(v) => {
            let mut r =
                ([(axum::http::header::CONTENT_TYPE, "application/x-amz-json-1.1")], v.to_string())
                    .into_response();
            if let Ok(h) = request_id.parse() {
                r.headers_mut().insert("x-amzn-requestid", h);
            }
            r
        }
        Err(e) => error_response(&e, Protocol::Json, request_id),
    }
}

/// `shoal groups`: each group with its policies and their alarms' states, and each
/// instance with its CPU and its health in the group's target groups.
async fn list_groups(Regional(svc): Regional) -> JsonResult {
    let page = svc.describe_auto_scaling_groups(&[], &[], Some(100), None)?;
    let groups: Vec<Value> = page
        .items
        .iter()
        .map(|g| {
            let policies = svc.describe_policies(Some(&g.name), &[], &[]);
            let alarms = svc.policy_alarms(&policies)?;
            let tg_arns: Vec<String> =
                g.target_groups.iter().map(|t| t.target_group_arn.clone()).collect();
            let tg_name = |arn: &str| arn.split('/').nth(1).unwrap_or(arn).to_string();
            Ok(json!({
                "name": g.name,
                "min": g.min_size, "desired": g.desired_capacity, "max": g.max_size,
                "zones": g.availability_zones(),
                "health_check_type": g.health_check_type.as_str(),
                "launch": g.launch_source_text(),
                "status": g.status,
                "target_groups": g.target_groups.iter().map(|t| json!({"arn": t.target_group_arn, "state": t.state.as_str()})).collect::<Vec<_>>(),
                "policies": policies.iter().map(|p| json!({
                    "name": p.policy_name,
                    "type": p.policy_type(),
                    "alarms": p.alarms.iter().map(|a| json!({
                        "name": a.alarm_name,
                        "state": alarms.iter().find(|m| m.alarm_name == a.alarm_name).map(|m| m.state_value.as_str()),
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "instances": g.instances.iter().map(|i| json!({
                    "id": i.instance_id, "zone": i.availability_zone, "lifecycle": i.lifecycle_state.as_str(),
                    "health": i.health_status.as_str(), "protected": i.protected_from_scale_in,
                    "cpu_utilization": svc.latest_cpu(&i.instance_id),
                    "targets": svc.instance_target_states(&tg_arns, &i.instance_id).into_iter()
                        .map(|(arn, state)| json!({"target_group": tg_name(&arn), "state": state.as_str()}))
                        .collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            }))
        })
        .collect::<Result<_, AwsError>>()?;
    Ok(Json(json!({ "groups": groups })))
}

async fn group_activities(Regional(svc): Regional, Path(name): Path<String>) -> JsonResult {
    let page = svc.describe_scaling_activities(Some(&name), &[], Some(100), None)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|a| json!({
            "id": a.activity_id, "description": a.description, "cause": a.cause, "status": a.status_code.as_str(),
            "start": shoal_model::autoscaling::activity::aws_time(a.start_time),
            "end": a.end_time.map(shoal_model::autoscaling::activity::aws_time),
            "details": a.details, "status_message": a.status_message,
        }))
        .collect();
    Ok(Json(json!({ "activities": items })))
}

// ------------------------------------------------------------------ deployments

/// The JSON view of a deployment: what `shoal deploy status` and the console show.
/// `detail` adds its history: events, green's share over time and each step.
pub fn deployment_json(d: &shoal_model::deploy::Deployment, detail: bool) -> Value {
    let t = |at: chrono::DateTime<chrono::Utc>| format_time(at);
    let mut v = json!({
        "id": d.id,
        "status": d.status.as_str(),
        "reason": d.reason,
        "load_balancer": d.load_balancer_name,
        "load_balancer_arn": d.load_balancer_arn,
        "listener_arn": d.listener_arn,
        "port": d.port,
        "blue": { "group": d.blue_group, "target_group_arn": d.blue_target_group },
        "green": {
            "group": d.green_group, "target_group_arn": d.green_target_group,
            "launch_template_id": d.launch_template_id,
            "launch_template_name": d.launch_template_name,
            "launch_template_version": d.launch_template_version,
            "image_id": d.image_id,
        },
        "strategy": d.strategy.name(),
        "schedule": d.schedule,
        "step": d.step + 1,
        "steps": d.schedule.len(),
        "green_percent": d.green_percent,
        "step_seconds": d.timing.step_seconds,
        "health_timeout_seconds": d.timing.health_timeout_seconds,
        "drain_seconds": d.timing.drain_seconds,
        "blue_after": d.blue_after.as_str(),
        "gates": {
            "max_error_rate_percent": d.gates.max_error_rate_percent,
            "min_requests": d.gates.min_requests,
            "max_unhealthy_targets": d.gates.max_unhealthy_targets,
            "max_response_time_ms": d.gates.max_response_time_ms,
        },
        "created": t(d.created_at),
        "updated": t(d.updated_at),
        "ended": d.ended_at.map(t),
        "rollback_requested": d.rollback_requested.is_some(),
    });
    if detail {
        v["events"] = d
            .events
            .iter()
            .map(|e| json!({"at": t(e.at), "status": e.status.as_str(), "green_percent": e.green_percent, "message": e.message}))
            .collect();
        v["weights"] = d
            .weights
            .iter()
            .map(|w| json!({"at": t(w.at), "at_ms": w.at.timestamp_millis(), "green_percent": w.green_percent, "blue_percent": 100 - w.green_percent.min(100)}))
            .collect();
        // Each traffic step: its share and when it began and ended.
        let steps: Vec<Value> = d
            .weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let end = d.weights.get(i + 1).map(|n| n.at).or(d.ended_at);
                json!({"green_percent": w.green_percent, "start": t(w.at), "end": end.map(t),
                       "start_ms": w.at.timestamp_millis(), "end_ms": end.map(|e| e.timestamp_millis())})
            })
            .collect();
        v["history"] = json!(steps);
    }
    v
}

async fn list_deployments(Regional(svc): Regional) -> JsonResult {
    let all: Vec<Value> = svc.deployments().iter().map(|d| deployment_json(d, false)).collect();
    Ok(Json(json!({ "deployments": all })))
}

async fn get_deployment(Regional(svc): Regional, Path(id): Path<String>) -> JsonResult {
    Ok(Json(deployment_json(&svc.deployment(&id)?, true)))
}

async fn start_deployment(Regional(svc): Regional, body: Bytes) -> JsonResult {
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| AwsError::validation(format!("Malformed deployment request: {e}")))?;
    let d = svc.start_deployment(crate::service::deploy::StartDeployment::from_json(body)?)?;
    Ok(Json(deployment_json(&d, true)))
}

async fn rollback_deployment(Regional(svc): Regional, Path(id): Path<String>) -> JsonResult {
    Ok(Json(deployment_json(&svc.rollback_deployment(&id)?, true)))
}
