//! Load balancing pages: load balancers (with listeners) and target groups (with their
//! health check, its editor, and each target's health as the data plane sees it).
//!
//! Target health changes in the data plane, not by commits, so the target tables are
//! `data-metrics` regions: they refresh every sample interval as well as on commits.

use shoal_model::elbv2::health::TargetHealthState;
use std::fmt::Write;

use shoal_model::elbv2::actions::Action;
use shoal_model::elbv2::conditions::{Condition, Rule, RulePriority};
use shoal_model::elbv2::target_group::{
    target_group_dimension, HealthCheck, HealthCheckPort, TargetGroup,
};
use shoal_model::AwsResult;

use super::autoscaling::subnet_boxes;
use super::charts;
use super::ec2::security_group_boxes;
use super::html::{
    badge, confirm_button, dns_name, esc, fields, form, group_link, hidden, input, instance_link,
    page, select, short_time, table, time, url_segment, Flash, Nav,
};
use crate::service::Service;

/// Minutes and buckets of the load balancing charts.
const CHART_MINUTES: i64 = 15;
const CHART_BUCKETS: usize = 90;

/// Every target group by ARN → name, for action texts.
fn tg_name(svc: &Service, arn: &str) -> String {
    svc.target_group_names(&[arn.to_string()]).remove(0).unwrap_or_else(|| arn.to_string())
}

/// An action as the AWS console words it; a weighted forward lists each target group
/// with its weight and share of the traffic.
fn action_text(svc: &Service, a: &Action) -> String {
    match a {
        Action::Forward(f) => {
            let total: u32 = f.target_groups.iter().map(|w| w.weight).sum();
            let tgs: Vec<String> = f
                .target_groups
                .iter()
                .map(|w| {
                    let name = tg_name(svc, &w.target_group_arn);
                    let link = format!(
                        "<a href=\"/console/target-groups/{}\">{}</a>",
                        url_segment(&name),
                        esc(&name)
                    );
                    if f.target_groups.len() > 1 {
                        let share = if total > 0 {
                            100.0 * f64::from(w.weight) / f64::from(total)
                        } else {
                            0.0
                        };
                        format!(
                            "<span class=\"weight\">{link} weight {} ({share:.0} %)</span>",
                            w.weight
                        )
                    } else {
                        link
                    }
                })
                .collect();
            let sticky = f
                .stickiness_seconds
                .map(|s| format!(" <span class=\"sub\">(group stickiness {s} s)</span>"))
                .unwrap_or_default();
            format!("forward to {}{sticky}", tgs.join(", "))
        }
        Action::FixedResponse(r) => format!(
            "fixed response {}{}{}",
            r.status_code,
            r.content_type.as_deref().map(|t| format!(" ({})", esc(t))).unwrap_or_default(),
            r.message_body
                .as_deref()
                .map(|b| format!(": <code>{}</code>", esc(b)))
                .unwrap_or_default()
        ),
        Action::Redirect(r) => format!(
            "redirect ({}) to <code>{}://{}:{}{}?{}</code>",
            r.status_code,
            esc(&r.protocol),
            esc(&r.host),
            esc(&r.port),
            esc(&r.path),
            esc(&r.query)
        ),
    }
}

/// A rule condition as the AWS console words it (values ORed).
fn condition_text(c: &Condition) -> String {
    let or = |v: Vec<String>| {
        v.iter().map(|x| format!("<code>{}</code>", esc(x))).collect::<Vec<_>>().join(" or ")
    };
    match c {
        Condition::PathPattern(v) => format!("Path is {}", or(v.clone())),
        Condition::HostHeader(v) => format!("Host is {}", or(v.clone())),
        Condition::HttpHeader { name, values } => {
            format!("Header <code>{}</code> is {}", esc(name), or(values.clone()))
        }
        Condition::HttpRequestMethod(v) => format!("Method is {}", or(v.clone())),
        Condition::QueryString(pairs) => format!(
            "Query string is {}",
            or(pairs
                .iter()
                .map(|(k, v)| k.as_ref().map_or(v.clone(), |k| format!("{k}={v}")))
                .collect())
        ),
        Condition::SourceIp(cidrs) => format!(
            "Source IP is {}",
            or(cidrs.iter().map(|c| format!("{}/{}", c.addr, c.prefix)).collect())
        ),
    }
}

/// One listener's rules (DescribeRules), lowest priority first, the default rule last.
fn rules_table(svc: &Service, rules: &[Rule]) -> String {
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|r| {
            let conditions = if r.priority == RulePriority::Default {
                "<span class=\"sub\">If no other rule applies</span>".to_string()
            } else {
                r.conditions.iter().map(|c| format!("<div>{}</div>", condition_text(c))).collect()
            };
            vec![
                esc(&r.priority.to_wire()),
                conditions,
                r.actions.iter().map(|a| format!("<div>{}</div>", action_text(svc, a))).collect(),
            ]
        })
        .collect();
    table("rules", &["Priority", "Conditions (all must match)", "Actions"], &rows, "No rules.")
}

/// Target groups the listeners forward to (default actions and rules).
fn forwarded_groups(rules: &[Rule]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in rules.iter().flat_map(|r| &r.actions) {
        if let Action::Forward(f) = a {
            for g in &f.target_groups {
                if !out.contains(&g.target_group_arn) {
                    out.push(g.target_group_arn.clone());
                }
            }
        }
    }
    out
}

fn healthy_count(svc: &Service, tg: &TargetGroup) -> (usize, usize) {
    let targets = svc.elb().describe_target_health(&tg.arn, &[]).unwrap_or_default();
    let healthy = targets.iter().filter(|t| t.health.state == TargetHealthState::Healthy).count();
    (healthy, targets.len())
}

pub fn load_balancers(svc: &Service, flash: &Flash) -> AwsResult<String> {
    let list = svc.elb().describe_load_balancers(&[], &[], None, Some(400))?.items;
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|lb| {
            vec![
                format!(
                    "<a href=\"/console/load-balancers/{}\">{}</a>",
                    url_segment(&lb.name),
                    esc(&lb.name)
                ),
                dns_name(&lb.dns_name),
                badge(lb.state.as_str()),
                esc(lb.scheme.as_str()),
                esc(&lb.availability_zones.join(", ")),
                format!("<code>{}</code>", lb.loopback_ip),
                short_time(lb.created_time),
            ]
        })
        .collect();
    let mut body = format!(
        "<div class=\"head\"><h1>Load balancers <small>({})</small></h1></div>",
        list.len()
    );
    body.push_str("<section data-live=\"load-balancers\">");
    body.push_str(&table(
        "load-balancers",
        &[
            "Name",
            "DNS name",
            "State",
            "Scheme",
            "Availability zones",
            "Address (loopback)",
            "Created",
        ],
        &rows,
        "No load balancers yet.",
    ));
    body.push_str("</section>");
    let schemes = [("internet-facing", "Internet-facing"), ("internal", "Internal")]
        .map(|(v, t)| (v.to_string(), t.to_string()));
    let inner = format!(
        "<div class=\"grid\">{}{}</div>{}{}\
<p class=\"hint\">Then add a listener on the load balancer's page.</p>\
<div class=\"buttons\"><button class=\"primary\">Create load balancer</button></div>",
        input("Name", "Name", "", "required placeholder=\"exercise-lb\""),
        select("Scheme", "Scheme", &schemes, "internet-facing"),
        subnet_boxes(svc, "Subnets")?,
        security_group_boxes(svc, "SecurityGroups", &[])?,
    );
    let _ = write!(
        body,
        "<details class=\"panel\" id=\"create-load-balancer\"><summary>Create Application Load Balancer</summary>{}</details>",
        form("CreateLoadBalancer", "stack", &inner)
    );
    Ok(page("Load balancers", Nav::LoadBalancers, flash, &body))
}

pub fn load_balancer(svc: &Service, name: &str, flash: &Flash) -> AwsResult<String> {
    let lb =
        svc.elb().describe_load_balancers(&[], &[name.to_string()], None, None)?.items.remove(0);
    let listeners = svc.elb().describe_listeners(Some(&lb.arn), &[], None, Some(400))?.items;
    let sgs = super::ec2::sg_names(svc, &lb.security_groups);
    let delete = confirm_button(
        "DeleteLoadBalancer",
        &[("LoadBalancerArn", &lb.arn)],
        "danger",
        &format!("Delete load balancer {name} and its listeners?"),
        "Delete load balancer",
    );
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/console/load-balancers\">Load balancers</a> /</p>\
<div class=\"head\"><h1>{}</h1>{delete}</div><section data-live=\"lb\">",
        esc(name)
    );
    body.push_str(&fields(&[
        ("State", badge(lb.state.as_str())),
        ("State reason", esc(svc.elb().load_balancer_state_reason(&lb).as_deref().unwrap_or(""))),
        ("DNS name", format!("<code class=\"wrap\">{}</code>", esc(&lb.dns_name))),
        ("Address (loopback)", format!("<code>{}</code>", lb.loopback_ip)),
        ("Scheme", esc(lb.scheme.as_str())),
        ("Availability zones", esc(&lb.availability_zones.join(", "))),
        ("Security groups", esc(&sgs)),
        ("Created", time(lb.created_time)),
        ("ARN", format!("<code class=\"wrap\">{}</code>", esc(&lb.arn))),
    ]));
    let rows: Vec<Vec<String>> = listeners
        .iter()
        .map(|l| {
            vec![
                format!("{}:{}", esc(&l.protocol), l.port),
                l.default_actions.iter().map(|a| action_text(svc, a)).collect::<Vec<_>>().join("; "),
                format!(
                    "<a href=\"http://{ip}:{port}/\" target=\"_blank\" rel=\"noopener\">http://{ip}:{port}/</a>",
                    ip = lb.loopback_ip,
                    port = l.port
                ),
                confirm_button(
                    "DeleteListener",
                    &[("ListenerArn", &l.arn)],
                    "small danger",
                    &format!("Delete the listener on port {}?", l.port),
                    "Delete",
                ),
            ]
        })
        .collect();
    body.push_str("<h2>Listeners</h2>");
    body.push_str(&table(
        "listeners",
        &["Listener", "Default action", "Open", ""],
        &rows,
        "No listeners.",
    ));
    let mut all_rules = Vec::new();
    for l in &listeners {
        let rules = svc.elb().describe_rules(Some(&l.arn), &[], None, Some(400))?.items;
        let _ = write!(
            body,
            "<h3 class=\"rules-of\">Rules of {}:{}</h3>{}",
            esc(&l.protocol),
            l.port,
            rules_table(svc, &rules)
        );
        all_rules.extend(rules);
    }
    body.push_str("</section>");
    let tg_arns = forwarded_groups(&all_rules);
    let tgs: Vec<&str> = tg_arns.iter().filter_map(|a| target_group_dimension(a)).collect();
    let series = charts::load_balancer(svc, lb.dimension(), &tgs, CHART_MINUTES, CHART_BUCKETS);
    let _ = write!(
        body,
        "<section data-live=\"lb-metrics\" data-metrics>{}</section>",
        charts::load_balancer_chart(&series)
    );
    body.push_str(&listener_form(svc, &lb.arn, &lb.vpc_id, listeners.is_empty())?);
    Ok(page(name, Nav::LoadBalancers, flash, &body))
}

/// CreateListener: HTTP on a port, forwarding to a target group of the load
/// balancer's VPC (open by default while the load balancer has no listener).
fn listener_form(svc: &Service, lb_arn: &str, vpc: &str, open: bool) -> AwsResult<String> {
    let tgs: Vec<(String, String)> = svc
        .elb()
        .describe_target_groups(None, &[], &[], None, Some(400))?
        .items
        .into_iter()
        .filter(|t| t.vpc_id == vpc)
        .map(|t| (t.arn, t.name))
        .collect();
    if tgs.is_empty() {
        return Ok("<p class=\"hint\">A listener forwards to a target group: create one on the \
<a href=\"/console/target-groups\">target groups</a> page first.</p>"
            .into());
    }
    let protocols = [("HTTP".to_string(), "HTTP".to_string())];
    let inner = format!(
        "{}<div class=\"grid\">{}{}{}</div><div class=\"buttons\"><button class=\"primary\">Add listener</button></div>",
        hidden("LoadBalancerArn", lb_arn),
        select("Protocol", "Protocol", &protocols, "HTTP"),
        input("Port", "Port", "80", "type=\"number\""),
        select("Default action: forward to", "TargetGroupArn", &tgs, &tgs[0].0),
    );
    Ok(format!(
        "<details class=\"panel\" id=\"add-listener\"{}><summary>Add listener</summary>{}</details>",
        if open { " open" } else { "" },
        form("CreateListener", "stack", &inner)
    ))
}

pub fn target_groups(svc: &Service, flash: &Flash) -> AwsResult<String> {
    let list = svc.elb().describe_target_groups(None, &[], &[], None, Some(400))?.items;
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|tg| {
            let (healthy, total) = healthy_count(svc, tg);
            let lbs: Vec<String> =
                svc.load_balancer_names(&tg.load_balancer_arns).into_iter().flatten().collect();
            vec![
                format!(
                    "<a href=\"/console/target-groups/{}\">{}</a>",
                    url_segment(&tg.name),
                    esc(&tg.name)
                ),
                format!("{}:{}", esc(&tg.protocol), tg.port),
                esc(&lbs.join(", ")),
                format!("{} {}", esc(&tg.health_check.protocol), esc(&tg.health_check.path)),
                format!("{healthy} of {total} healthy"),
            ]
        })
        .collect();
    let mut body =
        format!("<div class=\"head\"><h1>Target groups <small>({})</small></h1></div>", list.len());
    body.push_str("<section data-live=\"target-groups\" data-metrics>");
    body.push_str(&table(
        "target-groups",
        &["Name", "Protocol:port", "Load balancers", "Health check", "Targets"],
        &rows,
        "No target groups yet.",
    ));
    body.push_str("</section>");
    body.push_str(&create_target_group_form(svc)?);
    Ok(page("Target groups", Nav::TargetGroups, flash, &body))
}

/// CreateTargetGroup with its health check (AWS's defaults filled in).
fn create_target_group_form(svc: &Service) -> AwsResult<String> {
    let mut vpcs = svc.describe_vpcs(&[], &[])?;
    vpcs.sort_by_key(|v| (!v.is_default, v.id.clone()));
    let vpcs: Vec<(String, String)> = vpcs
        .into_iter()
        .map(|v| {
            let default = if v.is_default { " (default)" } else { "" };
            let text = format!("{} · {}{default}", v.id, v.cidr);
            (v.id, text)
        })
        .collect();
    let types = [("instance", "Instances"), ("ip", "IP addresses")]
        .map(|(v, t)| (v.to_string(), t.to_string()));
    let protocols = [("HTTP".to_string(), "HTTP".to_string())];
    let hc = HealthCheck::default();
    let num =
        |label: &str, name: &str, v: u32| input(label, name, &v.to_string(), "type=\"number\"");
    let inner = format!(
        "<div class=\"grid\">{}{}{}</div><div class=\"grid\">{}{}</div>\
<fieldset class=\"checks\"><legend>Health check</legend><div class=\"grid narrow\">{}{}{}{}{}{}</div></fieldset>\
<div class=\"buttons\"><button class=\"primary\">Create target group</button></div>",
        input("Name", "Name", "", "required placeholder=\"exercise-target-group\""),
        select("Protocol", "Protocol", &protocols, "HTTP"),
        input("Port", "Port", "80", "type=\"number\""),
        select("VPC", "VpcId", &vpcs, vpcs.first().map(|v| v.0.as_str()).unwrap_or("")),
        select("Target type", "TargetType", &types, "instance"),
        input("Path", "HealthCheckPath", &hc.path, ""),
        num("Interval (s)", "HealthCheckIntervalSeconds", hc.interval_seconds),
        num("Timeout (s)", "HealthCheckTimeoutSeconds", hc.timeout_seconds),
        num("Healthy threshold", "HealthyThresholdCount", hc.healthy_threshold),
        num("Unhealthy threshold", "UnhealthyThresholdCount", hc.unhealthy_threshold),
        input("Success codes", "Matcher.HttpCode", &hc.matcher.text, ""),
    );
    Ok(format!(
        "<details class=\"panel\" id=\"create-target-group\"><summary>Create target group</summary>{}</details>",
        form("CreateTargetGroup", "stack", &inner)
    ))
}

pub fn target_group(svc: &Service, name: &str, flash: &Flash) -> AwsResult<String> {
    let tg = svc
        .elb()
        .describe_target_groups(None, &[], &[name.to_string()], None, None)?
        .items
        .remove(0);
    let targets = svc.elb().describe_target_health(&tg.arn, &[])?;
    let requests = svc.elb().target_request_counts(&tg.arn);
    let groups = svc.groups_using_target_group(&tg.arn);
    let hc = &tg.health_check;
    let hc_port = match hc.port {
        HealthCheckPort::TrafficPort => "traffic-port".to_string(),
        HealthCheckPort::Port(p) => p.to_string(),
    };
    let delete = confirm_button(
        "DeleteTargetGroup",
        &[("TargetGroupArn", &tg.arn)],
        "danger",
        &format!("Delete target group {name}?"),
        "Delete target group",
    );
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/console/target-groups\">Target groups</a> /</p>\
<div class=\"head\"><h1>{}</h1>{delete}</div><section data-live=\"tg\">",
        esc(name)
    );
    body.push_str(&fields(&[
        ("Protocol:port", format!("{}:{}", esc(&tg.protocol), tg.port)),
        ("Target type", esc(tg.target_type.as_str())),
        (
            "Auto Scaling groups",
            if groups.is_empty() {
                "–".into()
            } else {
                groups.iter().map(|g| group_link(g)).collect::<Vec<_>>().join(", ")
            },
        ),
        (
            "Health check",
            format!("{} {} (port {})", esc(&hc.protocol), esc(&hc.path), esc(&hc_port)),
        ),
        ("Interval", format!("<b data-hc=\"interval\">{}</b> s", hc.interval_seconds)),
        ("Timeout", format!("{} s", hc.timeout_seconds)),
        ("Healthy threshold", hc.healthy_threshold.to_string()),
        ("Unhealthy threshold", hc.unhealthy_threshold.to_string()),
        ("Success codes", esc(&hc.matcher.text)),
        (
            "Deregistration delay",
            format!(
                "<b data-attr=\"deregistration-delay\">{}</b> s",
                tg.attributes.deregistration_delay_seconds
            ),
        ),
        ("ARN", format!("<code class=\"wrap\">{}</code>", esc(&tg.arn))),
    ]));
    body.push_str("</section>");
    let hc_form = format!(
        "{}<div class=\"grid narrow\">{}{}{}{}{}</div><div class=\"buttons\"><button class=\"primary\">Save</button></div>",
        hidden("TargetGroupArn", &tg.arn),
        input("Path", "HealthCheckPath", &hc.path, ""),
        input("Interval (s)", "HealthCheckIntervalSeconds", &hc.interval_seconds.to_string(), "type=\"number\""),
        input("Timeout (s)", "HealthCheckTimeoutSeconds", &hc.timeout_seconds.to_string(), "type=\"number\""),
        input("Healthy threshold", "HealthyThresholdCount", &hc.healthy_threshold.to_string(), "type=\"number\""),
        input("Unhealthy threshold", "UnhealthyThresholdCount", &hc.unhealthy_threshold.to_string(), "type=\"number\""),
    );
    let _ = write!(
        body,
        "<details class=\"panel\" id=\"edit-health-check\"><summary>Edit health check</summary>{}</details>",
        form("ModifyTargetGroup", "stack", &hc_form)
    );
    let attr_form = format!(
        "{}<div class=\"grid narrow\">{}</div><div class=\"buttons\"><button class=\"primary\">Save</button></div>",
        hidden("TargetGroupArn", &tg.arn),
        input(
            "Deregistration delay (s)",
            "Attributes.deregistration_delay.timeout_seconds",
            &tg.attributes.deregistration_delay_seconds.to_string(),
            "type=\"number\""
        ),
    );
    let _ = write!(
        body,
        "<details class=\"panel\" id=\"edit-attributes\"><summary>Edit attributes</summary>{}</details>",
        form("ModifyTargetGroupAttributes", "stack", &attr_form)
    );
    let rows: Vec<Vec<String>> = targets
        .iter()
        .map(|t| {
            let id = &t.target.id;
            let port = t.target.effective_port(tg.port);
            let served = requests.iter().find(|(i, p, _)| i == id && *p == port);
            vec![
                if id.starts_with("i-") { instance_link(id) } else { esc(id) },
                port.to_string(),
                esc(t.target.availability_zone.as_deref().unwrap_or("")),
                badge(t.health.state.as_str()),
                esc(t.health.reason.map(|r| r.code()).unwrap_or("")),
                esc(t.health.description.as_deref().unwrap_or("")),
                served
                    .map(|(_, _, n)| format!("<span class=\"count\">{n}</span>"))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    body.push_str("<h2>Targets</h2><section data-live=\"targets\" data-metrics>");
    body.push_str(&table(
        "targets",
        &["Target", "Port", "Zone", "Health", "Reason", "Description", "Requests"],
        &rows,
        "No targets registered.",
    ));
    body.push_str(
        "<p class=\"hint\">Requests: sent to the target since it was registered.</p></section>",
    );
    let series = charts::target_group(svc, &tg, CHART_MINUTES, CHART_BUCKETS);
    let _ = write!(
        body,
        "<h2>Monitoring</h2><section data-live=\"tg-metrics\" data-metrics>{}</section>",
        charts::target_group_charts(&series)
    );
    Ok(page(name, Nav::TargetGroups, flash, &body))
}
