//! EC2 pages: instances (list and detail), images, launch templates (list and detail).
//!
//! Each page reads through the same service methods the EC2 API's Describe* actions
//! call, copies what it needs, and renders outside the service lock.

use shoal_model::ec2::image::ImageState;
use std::fmt::Write;

use shoal_model::ec2::instance_type;
use shoal_model::ec2::{Image, Instance, LaunchTemplate, LaunchTemplateVersion};
use shoal_model::tags;
use shoal_model::AwsResult;

use super::charts;
use super::html::{
    badge, checks, confirm_button, esc, fields, form, hidden, input, instance_link, page, select,
    short_time, table, time, Flash, Nav,
};
use crate::service::Service;
use shoal_model::ec2::launch_template::LaunchTemplateSpec;

/// Buckets in a table-row sparkline and in a detail chart.
const SPARK_BUCKETS: usize = 30;
const CHART_BUCKETS: usize = 120;
/// Minutes a sparkline covers, and a detail chart.
const SPARK_MINUTES: i64 = 5;
const CHART_MINUTES: i64 = 15;

/// The group an instance belongs to (the tag Auto Scaling puts on its instances).
fn group_of(i: &Instance) -> Option<&str> {
    tags::get(&i.tags, "aws:autoscaling:groupName")
}

fn name_of(i: &Instance) -> Option<&str> {
    tags::get(&i.tags, "Name")
}

/// Options for image selects: every available image, the base image first, then the
/// user's own newest first, then Amazon's other public images by name (an arm64 one
/// says so: it needs a Graviton type).
pub fn image_options(svc: &Service) -> AwsResult<Vec<(String, String)>> {
    let mut images = svc.describe_images(&[], &[], &[])?;
    images.retain(|i| i.state == ImageState::Available);
    images.sort_by_key(|i| {
        let rank = match i.owner_alias.as_deref() {
            Some("amazon") if i.name == shoal_model::ec2::image::BASE_IMAGE_NAME => 0,
            None => 1,
            _ => 2,
        };
        let newest = if rank == 1 { -i.creation_date.timestamp_millis() } else { 0 };
        (rank, newest, i.name.clone())
    });
    Ok(images
        .iter()
        .map(|i| {
            let label = match i.architecture.as_str() {
                "x86_64" => format!("{} ({})", i.name, i.id),
                arch => format!("{} ({}, {arch})", i.name, i.id),
            };
            (i.id.clone(), label)
        })
        .collect())
}

fn type_options() -> Vec<(String, String)> {
    ["t2.nano", "t2.micro", "t2.small", "t2.medium", "t3.micro", "t3.small", "t3.medium"]
        .iter()
        .filter(|t| instance_type::lookup(t).is_some())
        .map(|t| (t.to_string(), t.to_string()))
        .collect()
}

fn key_options(svc: &Service) -> AwsResult<Vec<(String, String)>> {
    let mut out = vec![(String::new(), "(no key pair)".to_string())];
    out.extend(
        svc.describe_key_pairs(&[], &[], &[])?.into_iter().map(|k| (k.name.clone(), k.name)),
    );
    Ok(out)
}

/// Security groups as checkboxes (by id; the label shows the name).
pub fn security_group_boxes(svc: &Service, name: &str, checked: &[String]) -> AwsResult<String> {
    let options: Vec<(String, String, bool)> = svc
        .describe_security_groups(&[], &[], &[])?
        .into_iter()
        .map(|g| {
            let label = format!("{} <small>{}</small>", esc(&g.name), esc(&g.id));
            let on = checked.contains(&g.id);
            (g.id, label, on)
        })
        .collect();
    Ok(checks("Security groups", name, &options))
}

/// Security group names for ids (the id itself when the group is gone).
pub(super) fn sg_names(svc: &Service, ids: &[String]) -> String {
    let names = svc.security_group_names(ids);
    ids.iter().zip(names).map(|(id, n)| n.unwrap_or(id.clone())).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------- instances

pub fn instances(svc: &Service, flash: &Flash) -> AwsResult<String> {
    let list = svc.describe_instances(&[], &[], None, None)?.items;
    let mut rows = Vec::with_capacity(list.len());
    for i in &list {
        let cpu = charts::cpu(svc, &[i.id.as_str()], SPARK_MINUTES, SPARK_BUCKETS);
        let check = format!(
            "<input type=\"checkbox\" form=\"instance-actions\" name=\"InstanceId\" value=\"{0}\" aria-label=\"select {0}\">",
            esc(&i.id)
        );
        let id = match name_of(i) {
            Some(n) => format!("{}<div class=\"sub\">{}</div>", instance_link(&i.id), esc(n)),
            None => instance_link(&i.id),
        };
        rows.push(vec![
            check,
            id,
            badge(i.state.name()),
            format!(
                "{}<div class=\"sub\">{}</div>",
                esc(&i.instance_type),
                esc(&i.availability_zone)
            ),
            format!(
                "<code>{}</code><div class=\"sub\"><code>{}</code> loopback</div>",
                i.private_ip, i.loopback_ip
            ),
            charts::sparkline(&cpu),
            group_of(i).map(super::html::group_link).unwrap_or_default(),
            short_time(i.launch_time),
        ]);
    }
    let mut body = String::new();
    let _ = write!(
        body,
        "<div class=\"head\"><h1>Instances <small data-live=\"instance-count\">({})</small></h1></div>",
        list.len()
    );
    if let Some(why) = &svc.config.isolation_fallback {
        let _ = write!(
            body,
            "<div class=\"flash warn\" role=\"alert\" id=\"isolation-fallback\">Instances are not isolated: they run as host processes, not containers, because {}.</div>",
            esc(why)
        );
    }
    if let Some(why) = &svc.config.network_fallback {
        let _ = write!(
            body,
            "<div class=\"flash warn\" role=\"alert\" id=\"network-fallback\">Instances share the host's network, not VPC networks of their own, because {}.</div>",
            esc(why)
        );
    }
    let actions = form(
        "InstanceStates",
        "toolbar",
        "<span>Selected instances:</span>\
<button name=\"Action\" value=\"StartInstances\">Start</button>\
<button name=\"Action\" value=\"StopInstances\">Stop</button>\
<button name=\"Action\" value=\"RebootInstances\">Reboot</button>\
<button name=\"Action\" value=\"TerminateInstances\" class=\"danger\" data-confirm=\"Terminate the selected instances? Their disks are deleted.\">Terminate</button>",
    )
    .replacen("<form ", "<form id=\"instance-actions\" ", 1);
    body.push_str(&actions);
    body.push_str("<section data-live=\"instances\" data-metrics>");
    body.push_str(&table(
        "instances",
        &[
            "",
            "Instance",
            "State",
            "Type / zone",
            "Private IP / address",
            "CPU (5 min)",
            "Auto Scaling group",
            "Launched",
        ],
        &rows,
        "No instances. Launch one below, or create an Auto Scaling group.",
    ));
    body.push_str("</section>");
    body.push_str(&launch_form(svc)?);
    Ok(page("Instances", Nav::Instances, flash, &body))
}

/// RunInstances from an image or a launch template.
fn launch_form(svc: &Service) -> AwsResult<String> {
    let mut templates = vec![(String::new(), "(none: choose an image)".to_string())];
    templates.extend(
        svc.describe_launch_templates(&[], &[], &[])?.into_iter().map(|t| (t.name.clone(), t.name)),
    );
    let mut images = vec![(String::new(), "(from the template)".to_string())];
    images.extend(image_options(svc)?);
    let mut types = vec![(String::new(), "(from the template, else t2.micro)".to_string())];
    types.extend(type_options());
    let inner = format!(
        "<div class=\"grid\">{}{}{}{}{}{}</div>{}<div class=\"buttons\"><button class=\"primary\">Launch</button></div>",
        input("Name tag", "Name", "", "placeholder=\"exercise-instance\""),
        select("Launch template", "LaunchTemplateName", &templates, ""),
        select("Image (AMI)", "ImageId", &images, ""),
        select("Instance type", "InstanceType", &types, ""),
        select("Key pair", "KeyName", &key_options(svc)?, ""),
        input("Count", "Count", "1", "type=\"number\" min=\"1\""),
        security_group_boxes(svc, "SecurityGroupId", &[])?,
    );
    Ok(format!(
        "<details class=\"panel\" id=\"launch\"><summary>Launch instances</summary>{}</details>",
        form("RunInstances", "stack", &inner)
    ))
}

pub fn instance(svc: &Service, id: &str, flash: &Flash) -> AwsResult<String> {
    let i = svc.instance(id)?;
    let (_, console) = svc.console_output(id)?;
    let cpu = charts::cpu(svc, &[id], CHART_MINUTES, CHART_BUCKETS);
    let tag_list = i
        .tags
        .iter()
        .map(|t| format!("<code>{}={}</code>", esc(&t.key), esc(&t.value)))
        .collect::<Vec<_>>()
        .join(" ");
    let mut body = String::new();
    let _ = write!(
        body,
        "<p class=\"crumbs\"><a href=\"/console/instances\">Instances</a> /</p>\
<div class=\"head\"><h1>{}{}</h1></div>",
        esc(id),
        name_of(&i).map(|n| format!(" <small>{}</small>", esc(n))).unwrap_or_default()
    );
    let buttons = format!(
        "{}<button name=\"Action\" value=\"StartInstances\">Start</button>\
<button name=\"Action\" value=\"StopInstances\">Stop</button>\
<button name=\"Action\" value=\"RebootInstances\">Reboot</button>\
<button name=\"Action\" value=\"TerminateInstances\" class=\"danger\" data-confirm=\"Terminate {id}? Its disk is deleted.\">Terminate</button>",
        hidden("InstanceId", id),
        id = esc(id)
    );
    body.push_str(&form("InstanceStates", "toolbar", &buttons));
    let _ = write!(body, "<section data-live=\"instance\">");
    body.push_str(&fields(&[
        ("State", badge(i.state.name())),
        (
            "State reason",
            esc(i.state_reason.as_ref().map(|r| r.message.as_str()).unwrap_or("")),
        ),
        ("Instance type", esc(&i.instance_type)),
        ("Availability zone", esc(&i.availability_zone)),
        ("Private IP address", format!("<code>{}</code>", i.private_ip)),
        (
            "Address (loopback)",
            if i.has_public_ip {
                format!(
                    "<code>{}</code> <a href=\"http://{0}:3000/\" target=\"_blank\" rel=\"noopener\">:3000</a>",
                    i.loopback_ip
                )
            } else {
                // AWS gave it no public address: the host reaches it at its private one.
                format!("<code>{}</code> (no public address: the load balancer's only)", i.loopback_ip)
            },
        ),
        ("Image", format!("<a href=\"/console/images\">{}</a>", esc(&i.image_id))),
        ("Key pair", esc(i.key_name.as_deref().unwrap_or("–"))),
        ("Subnet", esc(&i.subnet_id)),
        ("Security groups", esc(&sg_names(svc, &i.security_group_ids))),
        (
            "Launch template",
            i.launch_template
                .as_ref()
                .map(|t| {
                    format!(
                        "<a href=\"/console/launch-templates/{}\">{}</a> v{}",
                        esc(&t.id),
                        esc(&t.id),
                        t.version
                    )
                })
                .unwrap_or_else(|| "–".into()),
        ),
        (
            "Auto Scaling group",
            group_of(&i).map(super::html::group_link).unwrap_or_else(|| "–".into()),
        ),
        ("Launched", time(i.launch_time)),
        ("Process", i.process.as_ref().map(|p| format!("init pid {}", p.pid)).unwrap_or_else(|| "–".into())),
        ("Tags", if tag_list.is_empty() { "–".into() } else { tag_list }),
    ]));
    body.push_str("</section>");
    let _ = write!(
        body,
        "<section data-live=\"cpu\" data-metrics>{}</section>",
        charts::percent_chart("CPU utilization (AWS/EC2 CPUUtilization)", &cpu, None)
    );
    let image_form = format!(
        "{}<div class=\"grid\">{}{}<label class=\"check\"><input type=\"checkbox\" name=\"NoReboot\" value=\"true\"> no reboot (a running instance is otherwise rebooted so its disk is consistent)</label></div><div class=\"buttons\"><button class=\"primary\">Create image</button></div>",
        hidden("InstanceId", id),
        input("Image name", "Name", "", "required placeholder=\"exercise-image\""),
        input("Description", "Description", "", ""),
    );
    let _ = write!(
        body,
        "<details class=\"panel\" id=\"create-image\"><summary>Create image</summary>{}</details>",
        form("CreateImage", "stack", &image_form)
    );
    let text = String::from_utf8_lossy(&console);
    let _ = write!(
        body,
        "<h2>Console output</h2><section data-live=\"console\" data-metrics><pre class=\"console\">{}</pre></section>",
        if text.is_empty() { "(no output yet)".to_string() } else { esc(&text) }
    );
    Ok(page(id, Nav::Instances, flash, &body))
}

// ---------------------------------------------------------------------- images

pub fn images(svc: &Service, flash: &Flash) -> AwsResult<String> {
    let list: Vec<Image> = svc.describe_images(&[], &[], &[])?;
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            let own = i.owner_alias.is_none();
            vec![
                format!("<code>{}</code>", esc(&i.id)),
                match i.description.as_deref().filter(|d| !d.is_empty()) {
                    Some(d) => format!("{}<div class=\"sub\">{}</div>", esc(&i.name), esc(d)),
                    None => esc(&i.name),
                },
                badge(i.state.name()),
                esc(i.owner_alias.as_deref().unwrap_or(&i.owner_id)),
                i.source_instance_id.as_deref().map(instance_link).unwrap_or_else(|| "–".into()),
                short_time(i.creation_date),
                if own {
                    confirm_button(
                        "DeregisterImage",
                        &[("ImageId", &i.id)],
                        "small danger",
                        &format!("Deregister {}?", i.name),
                        "Deregister",
                    )
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    let mut body = String::from("<div class=\"head\"><h1>Images (AMIs)</h1></div>");
    body.push_str("<section data-live=\"images\">");
    body.push_str(&table(
        "images",
        &["Image ID", "Name / description", "State", "Owner", "Source instance", "Created", ""],
        &rows,
        "No images.",
    ));
    body.push_str(
        "</section><p class=\"hint\">Make an image from an instance on its page (“Create image”).</p>",
    );
    Ok(page("Images", Nav::Images, flash, &body))
}

// ---------------------------------------------------------------------- launch templates

pub fn launch_templates(svc: &Service, flash: &Flash) -> AwsResult<String> {
    let list: Vec<LaunchTemplate> = svc.describe_launch_templates(&[], &[], &[])?;
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                format!(
                    "<a href=\"/console/launch-templates/{}\">{}</a>",
                    esc(&t.id),
                    esc(&t.name)
                ),
                format!("<code>{}</code>", esc(&t.id)),
                t.default_version.to_string(),
                t.latest_version.to_string(),
                short_time(t.create_time),
            ]
        })
        .collect();
    let mut body = String::from("<div class=\"head\"><h1>Launch templates</h1></div>");
    body.push_str("<section data-live=\"templates\">");
    body.push_str(&table(
        "templates",
        &["Name", "ID", "Default version", "Latest version", "Created"],
        &rows,
        "No launch templates yet.",
    ));
    body.push_str("</section>");
    let mut sources = vec![(String::new(), "(none)".to_string())];
    sources.extend(list.iter().map(|t| (t.name.clone(), format!("{} (default version)", t.name))));
    let mut images = vec![(String::new(), "(from the source template)".to_string())];
    images.extend(image_options(svc)?);
    let mut types = vec![(String::new(), "(from the source template)".to_string())];
    types.extend(type_options());
    let inner = format!(
        "<div class=\"grid\">{}{}{}{}{}{}</div>{}<div class=\"buttons\"><button class=\"primary\">Create launch template</button></div>",
        input("Name", "LaunchTemplateName", "", "required placeholder=\"exercise-launch-template\""),
        input("Description", "VersionDescription", "", ""),
        select("Source template", "SourceTemplateName", &sources, ""),
        select("Image (AMI)", "ImageId", &images, ""),
        select("Instance type", "InstanceType", &types, "t2.micro"),
        select("Key pair", "KeyName", &key_options(svc)?, ""),
        security_group_boxes(svc, "SecurityGroupId", &[])?,
    );
    let _ = write!(
        body,
        "<details class=\"panel\" id=\"create-template\"><summary>Create launch template</summary>{}\
<p class=\"hint\">With a source template, the new template starts from its default version and \
only the fields you set change (AWS console: “Source template”).</p></details>",
        form("CreateLaunchTemplate", "stack", &inner)
    );
    Ok(page("Launch templates", Nav::LaunchTemplates, flash, &body))
}

fn version_row(svc: &Service, t: &LaunchTemplate, v: &LaunchTemplateVersion) -> Vec<String> {
    let d = &v.data;
    let mut sgs = sg_names(svc, &d.security_group_ids);
    for name in &d.security_groups {
        if !sgs.is_empty() {
            sgs.push_str(", ");
        }
        sgs.push_str(name);
    }
    let is_default = v.number == t.default_version;
    vec![
        format!(
            "{}{}",
            v.number,
            if is_default { " <span class=\"badge ok\">default</span>" } else { "" }
        ),
        esc(v.description.as_deref().unwrap_or("")),
        esc(d.image_id.as_deref().unwrap_or("–")),
        esc(d.instance_type.as_deref().unwrap_or("–")),
        esc(d.key_name.as_deref().unwrap_or("–")),
        esc(&sgs),
        time(v.create_time),
        if is_default {
            String::new()
        } else {
            form(
                "ModifyLaunchTemplate",
                "inline",
                &format!(
                    "{}{}<button class=\"small\">Set default</button>",
                    hidden("LaunchTemplateId", &t.id),
                    hidden("DefaultVersion", &v.number.to_string())
                ),
            )
        },
    ]
}

pub fn launch_template(svc: &Service, id: &str, flash: &Flash) -> AwsResult<String> {
    let spec = LaunchTemplateSpec { id: Some(id.to_string()), name: None, version: None };
    let versions = svc.describe_launch_template_versions(&spec, &[], None, None)?;
    let t = svc.describe_launch_templates(&[id.to_string()], &[], &[])?.remove(0);
    let rows: Vec<Vec<String>> =
        versions.iter().rev().map(|(t, v)| version_row(svc, t, v)).collect();
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/console/launch-templates\">Launch templates</a> /</p>\
<div class=\"head\"><h1>{} <small>{}</small></h1></div>",
        esc(&t.name),
        esc(&t.id)
    );
    body.push_str("<section data-live=\"versions\">");
    body.push_str(&fields(&[
        ("Default version", t.default_version.to_string()),
        ("Latest version", t.latest_version.to_string()),
        ("Created", time(t.create_time)),
        ("Created by", esc(&t.created_by)),
    ]));
    body.push_str("<h2>Versions</h2>");
    body.push_str(&table(
        "versions",
        &["Version", "Description", "Image", "Type", "Key pair", "Security groups", "Created", ""],
        &rows,
        "No versions.",
    ));
    body.push_str("</section>");
    let sources: Vec<(String, String)> = versions
        .iter()
        .rev()
        .map(|(_, v)| (v.number.to_string(), format!("Version {}", v.number)))
        .collect();
    let mut images = vec![(String::new(), "(unchanged)".to_string())];
    images.extend(image_options(svc)?);
    let mut types = vec![(String::new(), "(unchanged)".to_string())];
    types.extend(type_options());
    let mut keys = key_options(svc)?;
    keys[0].1 = "(unchanged)".into();
    let inner = format!(
        "{}<div class=\"grid\">{}{}{}{}{}</div><div class=\"buttons\"><button class=\"primary\">Create version</button></div>",
        hidden("LaunchTemplateId", &t.id),
        select("Source version", "SourceVersion", &sources, &t.default_version.to_string()),
        input("Description", "VersionDescription", "", ""),
        select("Image (AMI)", "ImageId", &images, ""),
        select("Instance type", "InstanceType", &types, ""),
        select("Key pair", "KeyName", &keys, ""),
    );
    let _ = write!(
        body,
        "<details class=\"panel\" id=\"create-version\" open><summary>Create a version from a source version</summary>{}\
<p class=\"hint\">The new version copies the source version; only the fields you change differ.</p></details>",
        form("CreateLaunchTemplateVersion", "stack", &inner)
    );
    Ok(page(&t.name, Nav::LaunchTemplates, flash, &body))
}
