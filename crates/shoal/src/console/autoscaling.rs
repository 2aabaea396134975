//! Auto Scaling pages: the groups list (with the create form) and a group's page:
//! details, capacity editor, instances with lifecycle and health, activity history,
//! scaling policies and the group's CPU chart.

use shoal_model::autoscaling::group::LifecycleState;
use std::fmt::Write;

use shoal_model::autoscaling::group::AutoScalingGroup;
use shoal_model::autoscaling::policy::{PolicyConfig, PredefinedMetricType, ScalingPolicy};
use shoal_model::AwsResult;

use super::charts::{self, Threshold};
use super::html::{
    badge, checks, confirm_button, esc, fields, form, group_link, hidden, input, instance_link,
    link, page, select, table, time, Flash, Nav,
};
use crate::service::Service;

const CHART_BUCKETS: usize = 120;
const CHART_MINUTES: i64 = 15;

/// Every group, following DescribeAutoScalingGroups' pages.
fn all_groups(svc: &Service) -> AwsResult<Vec<AutoScalingGroup>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = svc.describe_auto_scaling_groups(&[], &[], Some(100), token.as_deref())?;
        out.extend(page.items);
        match page.next_token {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

fn template_text(g: &AutoScalingGroup) -> String {
    match g.launch_template_spec() {
        Some(t) => format!(
            "{} <small>{}</small>",
            esc(t.name.as_deref().or(t.id.as_deref()).unwrap_or("")),
            esc(t.version_or_default())
        ),
        None => esc(g.launch_configuration_name.as_deref().unwrap_or("–")),
    }
}

fn status_text(g: &AutoScalingGroup) -> String {
    match &g.status {
        Some(s) => badge(s),
        None => {
            let in_service =
                g.instances.iter().filter(|i| i.lifecycle_state.counts_toward_capacity()).count()
                    as u32;
            if in_service == g.desired_capacity
                && g.instances.iter().all(|i| i.lifecycle_state == LifecycleState::InService)
            {
                badge("active")
            } else {
                "<span class=\"badge busy\">updating capacity</span>".into()
            }
        }
    }
}

pub fn groups(svc: &Service, flash: &Flash) -> AwsResult<String> {
    let list = all_groups(svc)?;
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|g| {
            vec![
                group_link(&g.name),
                template_text(g),
                g.instances.len().to_string(),
                status_text(g),
                g.desired_capacity.to_string(),
                g.min_size.to_string(),
                g.max_size.to_string(),
                esc(&g.availability_zones().join(", ")),
            ]
        })
        .collect();
    let mut body = format!(
        "<div class=\"head\"><h1>Auto Scaling groups <small data-live=\"group-count\">({})</small></h1></div>",
        list.len()
    );
    body.push_str("<section data-live=\"groups\">");
    body.push_str(&table(
        "groups",
        &[
            "Name",
            "Launch template / version",
            "Instances",
            "Status",
            "Desired",
            "Min",
            "Max",
            "Availability zones",
        ],
        &rows,
        "No Auto Scaling groups yet.",
    ));
    body.push_str("</section>");
    body.push_str(&create_form(svc)?);
    Ok(page("Auto Scaling groups", Nav::Groups, flash, &body))
}

/// CreateAutoScalingGroup, with the lab's optional target-tracking policy and Name tag.
fn create_form(svc: &Service) -> AwsResult<String> {
    let templates: Vec<(String, String)> = svc
        .describe_launch_templates(&[], &[], &[])?
        .into_iter()
        .map(|t| (t.name.clone(), t.name))
        .collect();
    if templates.is_empty() {
        return Ok(
            "<p class=\"hint\">Create a <a href=\"/console/launch-templates\">launch template</a> \
first: a group launches its instances from one.</p>"
                .into(),
        );
    }
    let versions = [("$Default", "Default ($Default)"), ("$Latest", "Latest ($Latest)")]
        .map(|(v, t)| (v.to_string(), t.to_string()));
    let subnets = subnet_boxes(svc, "Subnet")?;
    let mut tgs = vec![(String::new(), "(none)".to_string())];
    tgs.extend(target_group_options(svc)?);
    let inner = format!(
        "<div class=\"grid\">{}{}{}</div>{subnets}\
<div class=\"grid narrow\">{}{}{}</div>\
<div class=\"grid\">{}<label class=\"check\"><input type=\"checkbox\" name=\"PropagateName\" value=\"true\" checked> propagate the Name tag to instances</label>{}</div>\
<fieldset class=\"checks\"><legend>Scaling policy</legend>\
<label><input type=\"checkbox\" name=\"TargetTracking\" value=\"true\"> Target tracking: average CPU utilization</label>\
<div class=\"grid\">{}{}</div></fieldset>\
<div class=\"buttons\"><button class=\"primary\">Create Auto Scaling group</button></div>",
        input("Name", "AutoScalingGroupName", "", "required placeholder=\"EXERCISE-GROUP\""),
        select("Launch template", "LaunchTemplateName", &templates, &templates[0].0),
        select("Version", "Version", &versions, "$Default"),
        input("Minimum", "MinSize", "1", "type=\"number\" min=\"0\""),
        input("Desired", "DesiredCapacity", "1", "type=\"number\" min=\"0\""),
        input("Maximum", "MaxSize", "2", "type=\"number\" min=\"0\""),
        input("Name tag (optional)", "NameTag", "", "placeholder=\"exercise-group-blue\""),
        select("Load balancing: attach to target group", "TargetGroupARNs", &tgs, ""),
        input("Target value (%)", "TargetValue", "80", "type=\"number\" min=\"1\" max=\"100\" step=\"any\""),
        input(
            "Default instance warmup (s)",
            "DefaultInstanceWarmup",
            "",
            "type=\"number\" min=\"0\" placeholder=\"default cooldown (300)\""
        ),
    );
    Ok(format!(
        "<details class=\"panel\" id=\"create-group\"><summary>Create Auto Scaling group</summary>{}</details>",
        form("CreateAutoScalingGroup", "stack", &inner)
    ))
}

/// Every target group as (ARN, name), for selects.
fn target_group_options(svc: &Service) -> AwsResult<Vec<(String, String)>> {
    Ok(svc
        .elb()
        .describe_target_groups(None, &[], &[], None, Some(400))?
        .items
        .into_iter()
        .map(|t| (t.arn, t.name))
        .collect())
}

/// Subnets as checkboxes, by zone (by id; the label shows the zone and CIDR).
pub fn subnet_boxes(svc: &Service, name: &str) -> AwsResult<String> {
    let mut list = svc.describe_subnets(&[], &[])?;
    list.sort_by(|a, b| (&a.availability_zone, &a.id).cmp(&(&b.availability_zone, &b.id)));
    let options: Vec<(String, String, bool)> = list
        .into_iter()
        .map(|s| {
            let label =
                format!("{} <small>{} · {}</small>", esc(&s.availability_zone), esc(&s.id), s.cidr);
            (s.id, label, false)
        })
        .collect();
    Ok(checks("Subnets (availability zones)", name, &options))
}

fn policy_text(p: &ScalingPolicy) -> (String, Option<f64>) {
    match &p.config {
        PolicyConfig::TargetTracking(tt) => {
            let metric = match (&tt.predefined, &tt.customized) {
                (Some(pre), _) => pre.metric_type.as_str().to_string(),
                (None, Some(c)) if !c.metrics.is_empty() => "metric math".to_string(),
                (None, Some(c)) => format!("{}/{} ({})", c.namespace, c.metric_name, c.statistic),
                _ => "?".into(),
            };
            let cpu = tt
                .predefined
                .as_ref()
                .is_some_and(|p| p.metric_type == PredefinedMetricType::AsgAverageCpuUtilization);
            (
                format!(
                    "{} target {}{}",
                    esc(&metric),
                    tt.target_value,
                    if tt.disable_scale_in { " (scale-in disabled)" } else { "" }
                ),
                cpu.then_some(tt.target_value),
            )
        }
        PolicyConfig::StepScaling { adjustment_type, step_adjustments, .. } => {
            (format!("{} steps ({})", step_adjustments.len(), adjustment_type.as_str()), None)
        }
        PolicyConfig::SimpleScaling { adjustment_type, scaling_adjustment, .. } => {
            (format!("{scaling_adjustment:+} ({})", adjustment_type.as_str()), None)
        }
    }
}

pub fn group(svc: &Service, name: &str, flash: &Flash) -> AwsResult<String> {
    let g = svc
        .describe_auto_scaling_groups(&[name.to_string()], &[], None, None)?
        .items
        .into_iter()
        .next()
        .ok_or_else(|| shoal_model::autoscaling::group::group_not_found(name))?;
    let activities = svc.describe_scaling_activities(Some(name), &[], Some(100), None)?.items;
    let policies = svc.describe_policies(Some(name), &[], &[]);
    // Every instance the group launched that EC2 still shows (terminated ones for an
    // hour): the group's CPU is their average while they ran.
    let members = svc.instances_launched_by_group(name);
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    let cpu = charts::cpu(svc, &members, CHART_MINUTES, CHART_BUCKETS);
    let alarms = svc.policy_alarms(&policies)?;
    let threshold = policies.iter().find_map(|p| {
        let target = policy_text(p).1?;
        let high = p
            .alarms
            .iter()
            .filter_map(|a| alarms.iter().find(|m| m.alarm_name == a.alarm_name))
            .find(|m| m.alarm_name.contains("AlarmHigh"));
        Some(Threshold {
            value: target,
            label: match high {
                Some(a) => format!("target {target}% · AlarmHigh {}", a.state_value.as_str()),
                None => format!("target {target}%"),
            },
            state: high.map(|a| a.state_value),
        })
    });

    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/console/groups\">Auto Scaling groups</a> /</p>\
<div class=\"head\"><h1>{}</h1>{}</div>",
        esc(name),
        confirm_button(
            "DeleteAutoScalingGroup",
            &[("AutoScalingGroupName", name), ("ForceDelete", "true")],
            "danger",
            &format!("Delete {name} and terminate its instances?"),
            "Delete group"
        )
    );
    body.push_str("<section data-live=\"details\">");
    body.push_str(&fields(&[
        (
            "Desired capacity",
            format!("<b class=\"cap\" data-cap=\"desired\">{}</b>", g.desired_capacity),
        ),
        ("Minimum", format!("<b class=\"cap\" data-cap=\"min\">{}</b>", g.min_size)),
        ("Maximum", format!("<b class=\"cap\" data-cap=\"max\">{}</b>", g.max_size)),
        ("Status", status_text(&g)),
        ("Launch template", template_text(&g)),
        ("Availability zones", esc(&g.availability_zones().join(", "))),
        ("Subnets", esc(&g.vpc_zone_identifier().replace(',', ", "))),
        (
            "Health check",
            format!("{}, grace {} s", g.health_check_type.as_str(), g.health_check_grace_period),
        ),
        ("Default cooldown", format!("{} s", g.default_cooldown)),
        (
            "Default instance warmup",
            g.default_instance_warmup.map(|w| format!("{w} s")).unwrap_or_default(),
        ),
        (
            "Tags",
            g.tags
                .iter()
                .map(|t| {
                    format!(
                        "<code>{}={}</code>{}",
                        esc(&t.key),
                        esc(&t.value),
                        if t.propagate_at_launch { " (propagated)" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("Created", time(g.created_time)),
        ("ARN", format!("<code class=\"wrap\">{}</code>", esc(&g.arn))),
    ]));
    body.push_str("</section>");

    let cap_form = format!(
        "{}<div class=\"grid narrow\">{}{}{}</div><div class=\"buttons\"><button class=\"primary\">Update</button></div>",
        hidden("AutoScalingGroupName", name),
        input("Desired", "DesiredCapacity", &g.desired_capacity.to_string(), "type=\"number\""),
        input("Minimum", "MinSize", &g.min_size.to_string(), "type=\"number\""),
        input("Maximum", "MaxSize", &g.max_size.to_string(), "type=\"number\""),
    );
    let _ = write!(
        body,
        "<details class=\"panel\" id=\"edit-capacity\"><summary>Edit capacity</summary>{}</details>",
        form("UpdateAutoScalingGroup", "stack", &cap_form)
    );

    let _ = write!(
        body,
        "<section data-live=\"cpu\" data-metrics>{}</section>",
        charts::percent_chart("Average CPU utilization of the group's instances", &cpu, threshold)
    );

    let inst_rows: Vec<Vec<String>> = g
        .instances
        .iter()
        .map(|i| {
            vec![
                instance_link(&i.instance_id),
                badge(i.lifecycle_state.as_str()),
                badge(i.health_status.as_str()),
                esc(&i.availability_zone),
                esc(&i.instance_type),
                i.launch_template
                    .as_ref()
                    .map(|t| format!("{} v{}", esc(&t.launch_template_name), esc(&t.version)))
                    .unwrap_or_default(),
                if i.protected_from_scale_in { "yes".into() } else { "no".into() },
                if i.lifecycle_state.is_terminating() {
                    String::new()
                } else {
                    confirm_button(
                        "TerminateInstanceInAutoScalingGroup",
                        &[
                            ("InstanceId", &i.instance_id),
                            ("ShouldDecrementDesiredCapacity", "false"),
                        ],
                        "small danger",
                        &format!("Terminate {}? The group replaces it.", i.instance_id),
                        "Terminate",
                    )
                },
            ]
        })
        .collect();
    let _ = write!(body, "<h2>Instances</h2><section data-live=\"group-instances\">");
    body.push_str(&table(
        "group-instances",
        &[
            "Instance",
            "Lifecycle",
            "Health",
            "Zone",
            "Type",
            "Launch template",
            "Scale-in protection",
            "",
        ],
        &inst_rows,
        "No instances.",
    ));
    body.push_str("</section>");

    body.push_str(&load_balancing(svc, &g)?);

    let act_rows: Vec<Vec<String>> = activities
        .iter()
        .map(|a| {
            vec![
                badge(a.status_code.as_str()),
                format!(
                    "{}{}",
                    esc(&a.description),
                    a.status_message
                        .as_deref()
                        .map(|m| format!("<div class=\"sub\">{}</div>", esc(m)))
                        .unwrap_or_default()
                ),
                format!("<span class=\"cause\">{}</span>", esc(&a.cause)),
                time(a.start_time),
                a.end_time.map(time).unwrap_or_default(),
            ]
        })
        .collect();
    let _ = write!(body, "<h2>Activity history</h2><section data-live=\"activities\">");
    body.push_str(&table(
        "activities",
        &["Status", "Description", "Cause", "Start time", "End time"],
        &act_rows,
        "No activities yet.",
    ));
    body.push_str("</section>");

    let pol_rows: Vec<Vec<String>> = policies
        .iter()
        .map(|p| {
            vec![
                esc(&p.policy_name),
                esc(p.policy_type()),
                policy_text(p).0,
                if p.enabled { "yes".into() } else { "no".into() },
                p.alarms
                    .iter()
                    .map(|a| {
                        let state = alarms
                            .iter()
                            .find(|m| m.alarm_name == a.alarm_name)
                            .map_or("INSUFFICIENT_DATA", |m| m.state_value.as_str());
                        format!(
                            "<div class=\"alarm\">{} <span class=\"sub\">{}</span></div>",
                            badge(state),
                            esc(&a.alarm_name)
                        )
                    })
                    .collect::<String>(),
                confirm_button(
                    "DeletePolicy",
                    &[("AutoScalingGroupName", name), ("PolicyName", &p.policy_name)],
                    "small danger",
                    &format!("Delete policy {}?", p.policy_name),
                    "Delete",
                ),
            ]
        })
        .collect();
    let _ = write!(body, "<h2>Scaling policies</h2><section data-live=\"policies\">");
    body.push_str(&table(
        "policies",
        &["Name", "Type", "Settings", "Enabled", "Alarms", ""],
        &pol_rows,
        "No scaling policies.",
    ));
    body.push_str("</section>");
    let pol_form = format!(
        "{}<div class=\"grid\">{}{}</div><div class=\"buttons\"><button class=\"primary\">Add policy</button></div>",
        hidden("AutoScalingGroupName", name),
        input("Policy name", "PolicyName", "Target Tracking Policy", "required"),
        input("Target average CPU (%)", "TargetValue", "80", "type=\"number\" step=\"any\""),
    );
    body.push_str(&extras(svc, name)?);
    let _ = write!(
        body,
        "<details class=\"panel\" id=\"add-policy\"><summary>Add a target tracking policy (average CPU)</summary>{}</details>",
        form("PutScalingPolicy", "stack", &pol_form)
    );
    Ok(page(name, Nav::Groups, flash, &body))
}

/// The group's target groups (AttachLoadBalancerTargetGroups' attachments, with their
/// state) with a Detach button each, and a form to attach another.
fn load_balancing(svc: &Service, g: &AutoScalingGroup) -> AwsResult<String> {
    let all = target_group_options(svc)?;
    let name_of = |arn: &str| {
        all.iter().find(|(a, _)| a == arn).map(|(_, n)| n.clone()).unwrap_or(arn.to_string())
    };
    let rows: Vec<Vec<String>> = g
        .target_groups
        .iter()
        .map(|t| {
            let name = name_of(&t.target_group_arn);
            let detach = if matches!(t.state.as_str(), "Removing" | "Removed") {
                String::new()
            } else {
                confirm_button(
                    "DetachLoadBalancerTargetGroups",
                    &[("AutoScalingGroupName", &g.name), ("TargetGroupARNs", &t.target_group_arn)],
                    "small danger",
                    &format!("Detach {} from {name}? Its instances are deregistered.", g.name),
                    "Detach",
                )
            };
            vec![link("target-groups", &name), badge(t.state.as_str()), detach]
        })
        .collect();
    let mut out = String::from("<h2>Load balancing</h2><section data-live=\"load-balancing\">");
    out.push_str(&table(
        "attachments",
        &["Target group", "State", ""],
        &rows,
        "Not attached to any target group.",
    ));
    // The form stays outside the live region: a refresh must not fold it away.
    out.push_str("</section>");
    let free: Vec<(String, String)> = all
        .into_iter()
        .filter(|(arn, _)| !g.target_groups.iter().any(|t| &t.target_group_arn == arn))
        .collect();
    if !free.is_empty() {
        let inner = format!(
            "{}<div class=\"grid\">{}</div><div class=\"buttons\"><button class=\"primary\">Attach</button></div>",
            hidden("AutoScalingGroupName", &g.name),
            select("Target group", "TargetGroupARNs", &free, &free[0].0),
        );
        let _ = write!(
            out,
            "<details class=\"panel\" id=\"attach-target-group\"><summary>Attach to a target group</summary>{}</details>",
            form("AttachLoadBalancerTargetGroups", "stack", &inner)
        );
    }
    Ok(out)
}

/// Instance refreshes, lifecycle hooks and scheduled actions: shown when a group has any
/// (they are set up with the aws CLI or `shoal`).
fn extras(svc: &Service, name: &str) -> AwsResult<String> {
    let mut out = String::from("<section data-live=\"extras\">");
    let refreshes = svc.describe_instance_refreshes(name, &[]);
    if !refreshes.is_empty() {
        let rows: Vec<Vec<String>> = refreshes
            .iter()
            .map(|r| {
                vec![
                    format!("<code>{}</code>", esc(&r.instance_refresh_id)),
                    badge(r.status.as_str()),
                    format!("{} %", r.percentage_complete),
                    r.instances_to_update.to_string(),
                    esc(r.status_reason.as_deref().unwrap_or("")),
                    time(r.start_time),
                    r.end_time.map(time).unwrap_or_default(),
                ]
            })
            .collect();
        out.push_str("<h2>Instance refreshes</h2>");
        out.push_str(&table(
            "refreshes",
            &["ID", "Status", "Complete", "To update", "Reason", "Start time", "End time"],
            &rows,
            "",
        ));
    }
    let hooks = svc.describe_lifecycle_hooks(name, &[])?;
    if !hooks.is_empty() {
        let rows: Vec<Vec<String>> = hooks
            .iter()
            .map(|h| {
                vec![
                    esc(&h.name),
                    esc(h.transition.as_str()),
                    format!("{} s", h.heartbeat_timeout),
                    esc(&h.default_result),
                ]
            })
            .collect();
        out.push_str("<h2>Lifecycle hooks</h2>");
        out.push_str(&table(
            "hooks",
            &["Name", "Transition", "Heartbeat timeout", "Default result"],
            &rows,
            "",
        ));
    }
    let scheduled = svc.describe_scheduled_actions(Some(name), &[]);
    if !scheduled.is_empty() {
        let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "–".into());
        let now = svc.clock.now();
        let rows: Vec<Vec<String>> = scheduled
            .iter()
            .map(|a| {
                vec![
                    esc(&a.name),
                    esc(a.recurrence.as_deref().unwrap_or("once")),
                    a.next_run(now).map(time).unwrap_or_else(|| "–".into()),
                    esc(a.time_zone.as_deref().unwrap_or("UTC")),
                    n(a.desired_capacity),
                    n(a.min_size),
                    n(a.max_size),
                ]
            })
            .collect();
        out.push_str("<h2>Scheduled actions</h2>");
        out.push_str(&table(
            "scheduled",
            &["Name", "Recurrence", "Next run", "Time zone", "Desired", "Min", "Max"],
            &rows,
            "",
        ));
    }
    out.push_str("</section>");
    Ok(out)
}
