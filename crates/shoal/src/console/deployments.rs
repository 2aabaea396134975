//! Blue/green deployment pages: the list (with the form that starts one) and a
//! deployment's page: where it stands in its steps, green's share of traffic over time,
//! its events, and the rollback button.
//!
//! Both read the stored records (`Service::deployments`, `Service::deployment`), as the
//! JSON API does; the forms post `StartDeployment` and `RollbackDeployment`, which run
//! the same service calls as `POST /_shoal/api/deployments` and `…/{id}/rollback`.

use std::fmt::Write;

use shoal_model::deploy::{self, Deployment, Status, Strategy};
use shoal_model::AwsResult;

use super::charts;
use super::html::{
    badge, confirm_button, esc, fields, form, group_link, input, link, page, select, table, time,
    url_segment, Flash, Nav,
};
use crate::service::Service;

const CHART_BUCKETS: usize = 120;

fn deployment_link(id: &str) -> String {
    link("deployments", id)
}

/// `exercise-lb:80`, linked to the load balancer.
fn traffic(d: &Deployment) -> String {
    format!("{}:{}", link("load-balancers", &d.load_balancer_name), d.port)
}

/// The strategy and its schedule: `canary: 30% → 100%`.
fn strategy_text(d: &Deployment) -> String {
    let schedule = match d.strategy {
        Strategy::Swap => "green joins blue's target group".to_string(),
        _ => d.schedule.iter().map(|p| format!("{p}%")).collect::<Vec<_>>().join(" → "),
    };
    format!("{}: {}", d.strategy.name(), esc(&schedule))
}

/// How far the deployment got, as an index into [`stages`]: green starting (0), each
/// traffic step (1..=n), blue draining (n + 1), done (n + 2), and past every stage
/// once it succeeded. A rollback or failure keeps the stage it was stopped at.
fn reached(d: &Deployment) -> usize {
    let n = d.schedule.len();
    let was = |s: Status| d.status == s || d.events.iter().any(|e| e.status == s);
    match d.status {
        Status::Succeeded => n + 3,
        _ if was(Status::Draining) => n + 1,
        _ if was(Status::Shifting) => 1 + d.step.min(n.saturating_sub(1)),
        _ => 0,
    }
}

/// The stages a deployment walks, in order.
fn stages(d: &Deployment) -> Vec<String> {
    let mut out = vec!["Green launches and its targets turn healthy".to_string()];
    for (i, p) in d.schedule.iter().enumerate() {
        let step = format!("Step {} of {}: ", i + 1, d.schedule.len());
        out.push(match d.strategy {
            Strategy::Swap => format!("{step}green joins blue's target group"),
            _ => format!("{step}{p}% to green, {}% to blue", 100 - p.min(&100)),
        });
    }
    out.push(format!("Blue drains ({} s)", d.timing.drain_seconds));
    out.push(format!("Done: blue is {}", d.blue_after.as_str()));
    out
}

/// One line for the list: where it stands (green's share while it moves).
fn progress_text(d: &Deployment) -> String {
    let stage = stages(d).get(reached(d)).map(|s| esc(s)).unwrap_or_default();
    match d.status {
        Status::Succeeded => "done".into(),
        Status::Provisioning => stage,
        Status::Shifting | Status::Draining => {
            format!("{stage} <small>({}% to green now)</small>", d.green_percent)
        }
        s => format!("{} at: {stage}", s.as_str()),
    }
}

pub fn deployments(svc: &Service, flash: &Flash) -> AwsResult<String> {
    let list = svc.deployments();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            vec![
                deployment_link(&d.id),
                badge(d.status.as_str()),
                traffic(d),
                format!("{} → {}", group_link(&d.blue_group), group_link(&d.green_group)),
                strategy_text(d),
                progress_text(d),
                time(d.created_at),
            ]
        })
        .collect();
    let mut body = format!(
        "<div class=\"head\"><h1>Blue/green deployments <small data-live=\"deployment-count\">({})</small></h1></div>",
        list.len()
    );
    body.push_str("<section data-live=\"deployments\">");
    body.push_str(&table(
        "deployments",
        &["ID", "Status", "Traffic", "Blue → green", "Strategy", "Progress", "Created"],
        &rows,
        "No deployments yet. Start one below, or with `shoal deploy`.",
    ));
    body.push_str("</section>");
    body.push_str(&start_form(svc)?);
    Ok(page("Deployments", Nav::Deployments, flash, &body))
}

/// The form of `shoal deploy`: its fields are the JSON API's names; blank fields take
/// the API's defaults (named in the placeholders).
fn start_form(svc: &Service) -> AwsResult<String> {
    let lbs: Vec<(String, String)> = svc
        .elb()
        .describe_load_balancers(&[], &[], None, Some(400))?
        .items
        .into_iter()
        .map(|l| (l.name.clone(), l.name))
        .collect();
    if lbs.is_empty() {
        return Ok("<p class=\"hint\">A deployment moves a load balancer's traffic from one \
Auto Scaling group to another: create a <a href=\"/console/load-balancers\">load balancer</a> \
whose listener forwards to a group's target group first.</p>"
            .into());
    }
    let none = |text: &str| vec![(String::new(), text.to_string())];
    let mut groups = none("(the group attached to its target group)");
    groups.extend(
        svc.describe_auto_scaling_groups(&[], &[], Some(100), None)?
            .items
            .into_iter()
            .map(|g| (g.name.clone(), g.name)),
    );
    let mut images = none("(keep blue's image)");
    images.extend(super::ec2::image_options(svc)?);
    let mut templates = none("(blue's template, new image)");
    templates.extend(
        svc.describe_launch_templates(&[], &[], &[])?.into_iter().map(|t| (t.name.clone(), t.name)),
    );
    let strategies = ["all-at-once", "canary", "linear", "weights", "swap"]
        .map(|s| (s.to_string(), s.to_string()));
    let afters = [
        ("", "scale to 0 (default)"),
        ("keep", "keep (weight 0), for a fast rollback"),
        ("delete", "delete"),
    ]
    .map(|(v, t)| (v.to_string(), t.to_string()));
    let number = |label: &str, name: &str, placeholder: &str| {
        input(label, name, "", &format!("type=\"number\" min=\"0\" placeholder=\"{placeholder}\""))
    };
    let inner = format!(
        "<div class=\"grid\">{}{}{}</div>\
<div class=\"grid\">{}{}{}</div>\
<div class=\"grid\">{}{}{}</div>\
<div class=\"grid narrow\">{}{}{}</div>\
<fieldset class=\"checks\"><legend>Health gates (a failed gate rolls back)</legend><div class=\"grid narrow\">{}{}{}</div></fieldset>\
<div class=\"grid\">{}{}</div>\
<div class=\"buttons\"><button class=\"primary\">Start deployment</button></div>",
        select("Load balancer", "load_balancer", &lbs, &lbs[0].0),
        number("Listener port", "port", "its only listener"),
        select("Blue group", "group", &groups, ""),
        select("Green runs: new image", "image_id", &images, ""),
        select("or launch template", "launch_template", &templates, ""),
        input("Version", "launch_template_version", "", "placeholder=\"$Default\""),
        select("Strategy", "strategy", &strategies, "all-at-once"),
        number("Step (%)", "percent", "canary, linear"),
        input("Weights (%)", "weights", "", "placeholder=\"10, 50, 100\""),
        number("Hold each step (s)", "step_seconds", "60"),
        number("Health timeout (s)", "health_timeout_seconds", "300"),
        number("Drain (s)", "drain_seconds", "blue's delay"),
        number("Max 5xx (%)", "max_error_rate_percent", "5"),
        number("Max unhealthy", "max_unhealthy_targets", "0"),
        number("Max response (ms)", "max_response_time_ms", "2000"),
        select("Blue afterwards", "blue_after", &afters, ""),
        input("Green group name", "green_group", "", "placeholder=\"blue's, BLUE → GREEN\""),
    );
    Ok(format!(
        "<details class=\"panel\" id=\"start-deployment\"><summary>Start a deployment</summary>{}</details>",
        form("StartDeployment", "stack", &inner)
    ))
}

pub fn deployment(svc: &Service, id: &str, flash: &Flash) -> AwsResult<String> {
    let d = svc.deployment(id)?;
    let now = svc.clock.now();
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/console/deployments\">Deployments</a> /</p>\
<div class=\"head\"><h1>Deployment {}</h1><div data-live=\"rollback\">",
        esc(id)
    );
    // The button is there while the model would take a rollback.
    if deploy::request_rollback(&d, now).is_ok() {
        body.push_str(&confirm_button(
            "RollbackDeployment",
            &[("DeploymentId", &d.id)],
            "danger",
            &format!("Roll back {}? Traffic returns to {}.", d.id, d.blue_group),
            "Roll back",
        ));
    }
    body.push_str("</div></div><section data-live=\"deployment\">");
    let gates = &d.gates;
    body.push_str(&fields(&[
        ("Status", badge(d.status.as_str())),
        ("Reason", esc(d.reason.as_deref().unwrap_or("–"))),
        ("Traffic", traffic(&d)),
        ("To green", format!("<b class=\"cap\" data-green>{}%</b>", d.green_percent)),
        (
            "Blue",
            format!(
                "{} <small>{}</small>",
                group_link(&d.blue_group),
                target_group_link(svc, &d.blue_target_group)
            ),
        ),
        (
            "Green",
            format!(
                "{} <small>{}</small>",
                group_link(&d.green_group),
                target_group_link(svc, &d.green_target_group)
            ),
        ),
        (
            "Green runs",
            format!(
                "<a href=\"/console/launch-templates/{}\">{}</a> version {}{}",
                url_segment(&d.launch_template_id),
                esc(&d.launch_template_name),
                d.launch_template_version,
                d.image_id
                    .as_deref()
                    .map(|i| format!(" <small>{}</small>", esc(i)))
                    .unwrap_or_default()
            ),
        ),
        ("Strategy", strategy_text(&d)),
        ("Each step held", format!("{} s", d.timing.step_seconds)),
        ("Health timeout", format!("{} s", d.timing.health_timeout_seconds)),
        (
            "Gates",
            format!(
                "5xx ≤ {}% (from {} requests), unhealthy ≤ {}, response ≤ {}",
                gates.max_error_rate_percent,
                gates.min_requests,
                gates.max_unhealthy_targets,
                gates.max_response_time_ms.map(|ms| format!("{ms} ms")).unwrap_or("–".into())
            ),
        ),
        ("Created", time(d.created_at)),
        ("Ended", d.ended_at.map(time).unwrap_or("–".into())),
    ]));
    body.push_str("</section>");

    let at = reached(&d);
    let stopped = matches!(d.status, Status::RollingBack | Status::RolledBack | Status::Failed);
    body.push_str("<h2>Steps</h2><section data-live=\"steps\"><ol class=\"steps\">");
    for (i, stage) in stages(&d).iter().enumerate() {
        let class = match i.cmp(&at) {
            std::cmp::Ordering::Less => "done",
            std::cmp::Ordering::Equal if stopped => "stopped",
            std::cmp::Ordering::Equal => "current",
            std::cmp::Ordering::Greater => "todo",
        };
        let _ = write!(body, "<li class=\"{class}\">{}</li>", esc(stage));
    }
    if stopped {
        let _ = write!(
            body,
            "<li class=\"stopped\">{}{}</li>",
            esc(d.status.as_str()),
            d.reason.as_deref().map(|r| format!(": {}", esc(r))).unwrap_or_default()
        );
    }
    body.push_str("</ol></section>");

    // Green's share over time: a step line from the record's weight points; while the
    // deployment runs, the chart's right edge follows the clock.
    let from = d.created_at.timestamp_millis();
    let to = d.ended_at.unwrap_or(now).timestamp_millis().max(from + 10_000) + 1;
    let points: Vec<(i64, f64)> =
        d.weights.iter().map(|w| (w.at.timestamp_millis(), f64::from(w.green_percent))).collect();
    let series = charts::steps(&points, from, to, CHART_BUCKETS);
    let _ = write!(
        body,
        "<section data-live=\"weights\"{}>{}</section>",
        if d.status.is_active() { " data-metrics" } else { "" },
        charts::percent_chart("Traffic to green over time (blue gets the rest)", &series, None)
    );

    let rows: Vec<Vec<String>> = d
        .events
        .iter()
        .map(|e| {
            vec![
                time(e.at),
                badge(e.status.as_str()),
                format!("{}%", e.green_percent),
                format!("<span class=\"cause\">{}</span>", esc(&e.message)),
            ]
        })
        .collect();
    body.push_str("<h2>Events</h2><section data-live=\"events\">");
    body.push_str(&table("events", &["Time", "Status", "To green", "Event"], &rows, "No events."));
    body.push_str("</section>");
    Ok(page(&format!("Deployment {id}"), Nav::Deployments, flash, &body))
}

/// A target group's link by ARN (its name; the ARN's name part once it is deleted).
fn target_group_link(svc: &Service, arn: &str) -> String {
    match svc.target_group_names(&[arn.to_string()]).remove(0) {
        Some(name) => link("target-groups", &name),
        None => esc(arn
            .rsplit_once(":targetgroup/")
            .map_or(arn, |(_, r)| r.split('/').next().unwrap_or(r))),
    }
}
