//! Console forms → the service methods the AWS API calls, with the same typed requests.
//!
//! Each form posts to `/console/actions/<AwsActionName>`; fields carry AWS's parameter
//! names. A refused request answers AWS's error code and message: as JSON for the
//! console script (`{"code","message"}`, the error's HTTP status), or, without script,
//! as a redirect back with a flash message.

use std::collections::BTreeMap;

use serde_json::Value;
use shoal_model::autoscaling::group::{CreateGroupRequest, GroupTag, UpdateGroupRequest};
use shoal_model::autoscaling::policy::PutPolicyRequest;
use shoal_model::ec2::instance::Transition;
use shoal_model::ec2::launch_template::{self as lt, LaunchTemplateData, TagSpecification};
use shoal_model::elbv2::actions::{Action, ForwardConfig};
use shoal_model::elbv2::target_group::HealthCheckUpdate;
use shoal_model::tags::Tag;
use shoal_model::{AwsError, AwsResult};

use super::html::url_segment;
use crate::api::query::parse_number;
use crate::service::autoscaling::Placement;
use crate::service::deploy::StartDeployment;
use crate::service::ec2::RunInstances;
use crate::service::elbv2::{CreateLoadBalancer, CreateTargetGroup};
use crate::service::Service;
use shoal_model::ec2::launch_template::LaunchTemplateSpec;

/// A decoded form: every value of every field, in order (checkboxes repeat a name).
#[derive(Debug, Default)]
pub struct Form {
    fields: BTreeMap<String, Vec<String>>,
}

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            fields.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Form { fields }
    }

    /// The field's first value, if given and not blank (a blank field is "not set").
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key)?.first().map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_string)
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.fields
            .get(key)
            .map(|v| v.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    /// A number as the Query API decodes one (`InvalidParameterValue` when malformed).
    pub fn number<T: std::str::FromStr>(&self, key: &str) -> AwsResult<Option<T>> {
        self.get(key).map(|v| parse_number(key, v)).transpose()
    }

    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v == "true" || v == "on")
    }

    /// A required field, refused with the Query API's own message when missing.
    pub fn required(&self, key: &str) -> AwsResult<&str> {
        self.get(key).ok_or_else(|| AwsError::null_member(key))
    }
}

/// What a successful action tells the person, and where to go next (if anywhere).
#[derive(Debug)]
pub struct Done {
    pub message: String,
    pub redirect: Option<String>,
}

impl Done {
    fn stay(message: impl Into<String>) -> Done {
        Done { message: message.into(), redirect: None }
    }
    fn go(message: impl Into<String>, to: String) -> Done {
        Done { message: message.into(), redirect: Some(to) }
    }
}

/// Runs one console action.
pub async fn run(svc: &Service, action: &str, f: &Form) -> AwsResult<Done> {
    match action {
        "InstanceStates" => {
            let which = f.get("Action").unwrap_or_default();
            let ids = f.all("InstanceId");
            if ids.is_empty() {
                return Err(AwsError::missing_parameter("InstanceId").with_status(400));
            }
            let transition = match which {
                "StartInstances" => Transition::Start,
                "StopInstances" => Transition::Stop,
                "RebootInstances" => Transition::Reboot,
                "TerminateInstances" => Transition::Terminate,
                other => return Err(AwsError::invalid_action(other)),
            };
            let changes = svc.change_instance_states_by_user(&ids, transition)?;
            if transition == Transition::Reboot {
                return Ok(Done::stay(format!("Rebooting {}", ids.join(", "))));
            }
            let text = changes
                .iter()
                .map(|c| format!("{}: {} → {}", c.instance_id, c.previous.name(), c.current.name()))
                .collect::<Vec<_>>()
                .join("; ");
            Ok(Done::stay(text))
        }
        "RunInstances" => {
            let count: u32 = f.number("Count")?.unwrap_or(1);
            let mut tag_specifications = Vec::new();
            if let Some(name) = f.get("Name") {
                tag_specifications.push(TagSpecification {
                    resource_type: "instance".into(),
                    tags: vec![Tag::new("Name", name)],
                });
            }
            let req = RunInstances {
                image_id: f.string("ImageId"),
                instance_type: f.string("InstanceType"),
                min_count: count,
                max_count: count,
                key_name: f.string("KeyName"),
                security_group_ids: f.all("SecurityGroupId"),
                tag_specifications,
                launch_template: f.string("LaunchTemplateName").map(|n| LaunchTemplateSpec {
                    id: None,
                    name: Some(n),
                    version: None,
                }),
                ..Default::default()
            };
            let r = svc.run_instances(req)?;
            let ids: Vec<String> = r.instances.iter().map(|i| i.id.clone()).collect();
            Ok(match ids.as_slice() {
                [one] => Done::go(format!("Launched {one}"), format!("/console/instances/{one}")),
                _ => Done::stay(format!("Launched {}", ids.join(", "))),
            })
        }
        "CreateImage" => {
            let id = f.required("InstanceId")?;
            let name = f.required("Name")?;
            let img = svc
                .create_image(id, name, f.string("Description"), &[], f.flag("NoReboot"))
                .await?;
            Ok(Done::go(
                format!("Created image {} ({})", img.name, img.id),
                "/console/images".into(),
            ))
        }
        "DeregisterImage" => {
            let id = f.required("ImageId")?;
            svc.deregister_image(id)?;
            Ok(Done::stay(format!("Deregistered {id}")))
        }
        "CreateLaunchTemplate" => {
            let name = f.required("LaunchTemplateName")?;
            let overrides = template_data(f);
            // "From a source template" is the AWS console's own feature (the API has
            // none): start from the source's default version, change what was set.
            let data = match f.get("SourceTemplateName") {
                Some(source) => {
                    let (_, v) = svc.resolve_launch_template(&LaunchTemplateSpec {
                        id: None,
                        name: Some(source.to_string()),
                        version: None,
                    })?;
                    lt::overlay(&v.data, &overrides)
                }
                None => overrides,
            };
            let (t, _) =
                svc.create_launch_template(name, f.string("VersionDescription"), data, &[])?;
            Ok(Done::go(
                format!("Created launch template {} ({})", t.name, t.id),
                format!("/console/launch-templates/{}", t.id),
            ))
        }
        "CreateLaunchTemplateVersion" => {
            let spec = LaunchTemplateSpec {
                id: f.string("LaunchTemplateId"),
                name: f.string("LaunchTemplateName"),
                version: None,
            };
            let v = svc.create_launch_template_version(
                &spec,
                f.get("SourceVersion"),
                f.string("VersionDescription"),
                template_data(f),
            )?;
            Ok(Done::stay(format!("Created version {} of {}", v.number, v.template_name)))
        }
        "ModifyLaunchTemplate" => {
            let spec = LaunchTemplateSpec {
                id: f.string("LaunchTemplateId"),
                name: f.string("LaunchTemplateName"),
                version: None,
            };
            let t = svc.modify_launch_template(&spec, f.get("DefaultVersion"))?;
            Ok(Done::stay(format!("Default version of {} is now {}", t.name, t.default_version)))
        }
        "CreateAutoScalingGroup" => {
            let name = f.required("AutoScalingGroupName")?.to_string();
            let mut tags = Vec::new();
            if let Some(v) = f.get("NameTag") {
                tags.push(GroupTag {
                    key: "Name".into(),
                    value: v.into(),
                    propagate_at_launch: f.flag("PropagateName"),
                });
            }
            let req = CreateGroupRequest {
                name: name.clone(),
                launch_template: f.string("LaunchTemplateName").map(|n| LaunchTemplateSpec {
                    id: None,
                    name: Some(n),
                    version: f.string("Version"),
                }),
                min_size: f.number("MinSize")?,
                max_size: f.number("MaxSize")?,
                desired_capacity: f.number("DesiredCapacity")?,
                default_instance_warmup: f.number("DefaultInstanceWarmup")?,
                tags,
                target_group_arns: f.all("TargetGroupARNs"),
                ..Default::default()
            };
            let placement = Placement { subnet_ids: f.all("Subnet"), availability_zones: vec![] };
            let policy = if f.flag("TargetTracking") {
                Some(cpu_policy("Target Tracking Policy", f)?)
            } else {
                None
            };
            svc.create_auto_scaling_group(req, placement)?;
            let mut message = format!("Created Auto Scaling group {name}");
            if let Some(p) = policy {
                // The group exists now; a refused policy is reported, the group stays
                // (as in the AWS console, which makes the same two calls).
                match svc.put_scaling_policy(&name, p) {
                    Ok(p) => message.push_str(&format!(" with policy {}", p.policy_name)),
                    Err(e) => message
                        .push_str(&format!("; the policy was refused: {}: {}", e.code, e.message)),
                }
            }
            Ok(Done::go(message, format!("/console/groups/{}", url_segment(&name))))
        }
        "UpdateAutoScalingGroup" => {
            let name = f.required("AutoScalingGroupName")?;
            let req = UpdateGroupRequest {
                min_size: f.number("MinSize")?,
                max_size: f.number("MaxSize")?,
                desired_capacity: f.number("DesiredCapacity")?,
                ..Default::default()
            };
            svc.update_auto_scaling_group(name, req, None)?;
            Ok(Done::stay(format!("Updated {name}")))
        }
        "DeleteAutoScalingGroup" => {
            let name = f.required("AutoScalingGroupName")?;
            svc.delete_auto_scaling_group(name, f.flag("ForceDelete"))?;
            Ok(Done::go(format!("Deleting {name}"), "/console/groups".into()))
        }
        "TerminateInstanceInAutoScalingGroup" => {
            let id = f.required("InstanceId")?;
            let a =
                svc.terminate_instance_in_group(id, f.flag("ShouldDecrementDesiredCapacity"))?;
            Ok(Done::stay(a.description))
        }
        "PutScalingPolicy" => {
            let group = f.required("AutoScalingGroupName")?;
            let name = f.required("PolicyName")?;
            let p = svc.put_scaling_policy(group, cpu_policy(name, f)?)?;
            Ok(Done::stay(format!("Policy {} saved", p.policy_name)))
        }
        "DeletePolicy" => {
            let name = f.required("PolicyName")?;
            svc.delete_policy(f.get("AutoScalingGroupName"), name)?;
            Ok(Done::stay(format!("Deleted policy {name}")))
        }
        "AttachLoadBalancerTargetGroups" | "DetachLoadBalancerTargetGroups" => {
            let name = f.required("AutoScalingGroupName")?;
            f.required("TargetGroupARNs")?;
            let arns = f.all("TargetGroupARNs");
            let attach = action.starts_with("Attach");
            if attach {
                svc.attach_target_groups(name, &arns)?;
            } else {
                svc.detach_target_groups(name, &arns)?;
            }
            let names = target_group_names(svc, &arns);
            Ok(Done::stay(if attach {
                format!("Attached {name} to {names}")
            } else {
                format!("Detaching {name} from {names}")
            }))
        }
        other => match elbv2(svc, other, f)? {
            Some(done) => Ok(done),
            None => deployments(svc, other, f),
        },
    }
}

/// ELBv2's actions: target groups, load balancers, listeners.
fn elbv2(svc: &Service, action: &str, f: &Form) -> AwsResult<Option<Done>> {
    let elb = svc.elb();
    let list = |kind: &str| format!("/console/{kind}");
    let done = match action {
        "CreateTargetGroup" => {
            let tg = elb.create_target_group(CreateTargetGroup {
                name: f.required("Name")?.to_string(),
                protocol: f.string("Protocol"),
                port: f.number("Port")?,
                vpc_id: f.string("VpcId"),
                target_type: f.string("TargetType"),
                health_check: health_check(f)?,
                ..Default::default()
            })?;
            let to = format!("/console/target-groups/{}", url_segment(&tg.name));
            Done::go(format!("Created target group {}", tg.name), to)
        }
        "ModifyTargetGroup" => {
            let tg = elb.modify_target_group(f.required("TargetGroupArn")?, &health_check(f)?)?;
            Done::stay(format!("Health check of {} saved", tg.name))
        }
        "ModifyTargetGroupAttributes" => {
            let arn = f.required("TargetGroupArn")?;
            let pairs: Vec<(String, String)> = f
                .fields
                .keys()
                .filter_map(|k| {
                    let key = k.strip_prefix("Attributes.")?;
                    Some((key.to_string(), f.get(k)?.to_string()))
                })
                .collect();
            elb.modify_target_group_attributes(arn, &pairs)?;
            Done::stay(format!("Attributes of {} saved", target_group_names(svc, &[arn.into()])))
        }
        "DeleteTargetGroup" => {
            let arn = f.required("TargetGroupArn")?;
            let name = target_group_names(svc, &[arn.into()]);
            elb.delete_target_group(arn)?;
            Done::go(format!("Deleted target group {name}"), list("target-groups"))
        }
        "CreateLoadBalancer" => {
            let lb = elb.create_load_balancer(CreateLoadBalancer {
                name: f.required("Name")?.to_string(),
                subnets: f.all("Subnets"),
                security_groups: f.all("SecurityGroups"),
                scheme: f.string("Scheme"),
                ..Default::default()
            })?;
            let to = format!("/console/load-balancers/{}", url_segment(&lb.name));
            Done::go(format!("Created load balancer {}", lb.name), to)
        }
        "DeleteLoadBalancer" => {
            elb.delete_load_balancer(f.required("LoadBalancerArn")?)?;
            Done::go("Deleted the load balancer", list("load-balancers"))
        }
        "CreateListener" => {
            // The console's one default action: forward to a target group.
            let actions: Vec<Action> = f
                .get("TargetGroupArn")
                .map(ForwardConfig::single)
                .map(Action::Forward)
                .into_iter()
                .collect();
            let l = elb.create_listener(
                f.required("LoadBalancerArn")?,
                f.get("Protocol"),
                f.number("Port")?,
                actions,
                &[],
            )?;
            Done::stay(format!("Created listener {}:{}", l.protocol, l.port))
        }
        "DeleteListener" => {
            elb.delete_listener(f.required("ListenerArn")?)?;
            Done::stay("Deleted the listener")
        }
        _ => return Ok(None),
    };
    Ok(Some(done))
}

/// Blue/green deployments: the same request and service calls as
/// `/_shoal/api/deployments` (and `shoal deploy`).
fn deployments(svc: &Service, action: &str, f: &Form) -> AwsResult<Done> {
    match action {
        "StartDeployment" => {
            let d = svc.start_deployment(deployment_request(f)?)?;
            Ok(Done::go(
                format!("Started deployment {}: {} → {}", d.id, d.blue_group, d.green_group),
                format!("/console/deployments/{}", d.id),
            ))
        }
        "RollbackDeployment" => {
            let d = svc.rollback_deployment(f.required("DeploymentId")?)?;
            Ok(Done::stay(format!(
                "Rollback of {} requested: traffic returns to {}",
                d.id, d.blue_group
            )))
        }
        other => Err(AwsError::invalid_action(other).with_status(404)),
    }
}

/// The deployment form's fields are the JSON API's (`StartDeployment`'s) names: they
/// become the same JSON body and are decoded, and refused, as the API decodes it.
fn deployment_request(f: &Form) -> AwsResult<StartDeployment> {
    const TEXT: &[&str] = &[
        "listener_arn",
        "load_balancer",
        "group",
        "image_id",
        "launch_template",
        "launch_template_version",
        "strategy",
        "green_group",
    ];
    const NUMBERS: &[&str] = &[
        "port",
        "percent",
        "step_seconds",
        "health_timeout_seconds",
        "drain_seconds",
        "max_error_rate_percent",
        "min_requests",
        "max_unhealthy_targets",
        "max_response_time_ms",
    ];
    // A number as JSON's number when it reads as one; else the text, which the API's
    // decoder refuses with its own message.
    let number = |v: &str| match v.parse::<serde_json::Number>() {
        Ok(n) => Value::Number(n),
        Err(_) => Value::String(v.to_string()),
    };
    let mut body = serde_json::Map::new();
    for key in TEXT {
        if let Some(v) = f.get(key) {
            body.insert(key.to_string(), Value::String(v.to_string()));
        }
    }
    for key in NUMBERS {
        if let Some(v) = f.get(key) {
            body.insert(key.to_string(), number(v));
        }
    }
    if let Some(w) = f.get("weights") {
        let steps = w.split(',').map(str::trim).filter(|s| !s.is_empty()).map(number).collect();
        body.insert("weights".into(), Value::Array(steps));
    }
    match f.get("blue_after") {
        Some("keep") => body.insert("keep_blue".into(), Value::Bool(true)),
        Some("delete") => body.insert("delete_blue".into(), Value::Bool(true)),
        _ => None,
    };
    StartDeployment::from_json(Value::Object(body))
}

/// Target group names for ARNs (the ARN when it is gone), joined.
fn target_group_names(svc: &Service, arns: &[String]) -> String {
    let names = svc.target_group_names(arns);
    arns.iter().zip(names).map(|(a, n)| n.unwrap_or(a.clone())).collect::<Vec<_>>().join(", ")
}

/// A health check's fields, by the API's parameter names (blank fields stay unset).
fn health_check(f: &Form) -> AwsResult<HealthCheckUpdate> {
    Ok(HealthCheckUpdate {
        protocol: f.string("HealthCheckProtocol"),
        port: f.string("HealthCheckPort"),
        path: f.string("HealthCheckPath"),
        interval_seconds: f.number("HealthCheckIntervalSeconds")?,
        timeout_seconds: f.number("HealthCheckTimeoutSeconds")?,
        healthy_threshold: f.number("HealthyThresholdCount")?,
        unhealthy_threshold: f.number("UnhealthyThresholdCount")?,
        matcher: f.string("Matcher.HttpCode"),
        ..Default::default()
    })
}

/// Launch template fields a form sets (blank fields stay unset).
fn template_data(f: &Form) -> LaunchTemplateData {
    LaunchTemplateData {
        image_id: f.string("ImageId"),
        instance_type: f.string("InstanceType"),
        key_name: f.string("KeyName"),
        security_group_ids: f.all("SecurityGroupId"),
        ..Default::default()
    }
}

/// Target tracking on the group's average CPU, as the lab's policy.
fn cpu_policy(name: &str, f: &Form) -> AwsResult<PutPolicyRequest> {
    let target: f64 =
        f.number("TargetValue")?.ok_or_else(|| AwsError::validation("TargetValue is required"))?;
    Ok(PutPolicyRequest::cpu_target_tracking(name, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_keep_repeated_fields_and_drop_blanks() {
        let f = Form::parse(b"Subnet=subnet-a&Subnet=subnet-b&MinSize=&Name=+x+&Count=two");
        assert_eq!(f.all("Subnet"), vec!["subnet-a", "subnet-b"]);
        assert_eq!(f.number::<i64>("MinSize").unwrap(), None);
        assert_eq!(f.get("Name"), Some("x"));
        let e = f.number::<u32>("Count").unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        assert_eq!(f.required("AutoScalingGroupName").unwrap_err().code, "ValidationError");
    }

    #[test]
    fn the_deployment_form_is_the_api_request() {
        let f = Form::parse(
            b"load_balancer=exercise-lb&image_id=ami-1&strategy=weights&weights=10%2C+50%2C100\
&step_seconds=30&port=&blue_after=keep&max_error_rate_percent=2.5",
        );
        let r = deployment_request(&f).unwrap();
        assert_eq!(r.load_balancer.as_deref(), Some("exercise-lb"));
        assert_eq!(r.weights, vec![10, 50, 100]);
        assert_eq!((r.step_seconds, r.port), (Some(30), None));
        assert_eq!(r.max_error_rate_percent, Some(2.5));
        assert!(r.keep_blue && !r.delete_blue);
        // A field of the wrong type: refused with the API's own message.
        let e = deployment_request(&Form::parse(b"step_seconds=soon")).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(
            e.message.starts_with("Malformed deployment request: invalid type: string \"soon\""),
            "{}",
            e.message
        );
    }
}
