//! The ELBv2 API (protocol `query`, version 2015-12-01): parameters in, XML out.
//!
//! Lists are `Name.member.N`; responses are `<XResponse xmlns=…><XResult>…</XResult>
//! <ResponseMetadata><RequestId/></ResponseMetadata></XResponse>` with `<member>` items.

use shoal_model::ec2::format_time;
use shoal_model::elbv2::actions::Redirect;
use shoal_model::elbv2::conditions::Cidr;
use shoal_model::elbv2::target_group::HealthCheckUpdate;
use shoal_model::elbv2::{
    Action, Condition, FixedResponse, ForwardConfig, Listener, LoadBalancer, ResourceTags, Rule,
    RulePriority, TargetDescription, TargetGroup, WeightedTargetGroup,
};
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::query::Params;
use super::xml::{escape, Xml};
use crate::service::elbv2::{CreateLoadBalancer, CreateTargetGroup, TargetHealthDescription};
use crate::service::Service;
use shoal_model::elbv2::load_balancer;

pub const NAMESPACE: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

/// Runs one action: its Result element's content (api::query_response renders the
/// envelope, as for every Query service). Classic ELB's API version is refused.
pub fn handle_versioned(svc: &Service, action: &str, p: &Params) -> AwsResult<Option<Xml>> {
    if p.get("Version") == Some("2012-06-01") {
        return Err(AwsError::new(
            ErrorCode::InvalidAction,
            "Classic Load Balancers (API version 2012-06-01) are not supported by Shoal; use elbv2",
        ));
    }
    handle(svc, action, p).map(Some)
}

fn num<T: std::str::FromStr>(p: &Params, key: &str) -> AwsResult<Option<T>> {
    p.get(key)
        .map(|v| {
            v.parse::<T>().map_err(|_| {
                AwsError::validation(format!("Value '{v}' at '{key}' is not a valid number"))
            })
        })
        .transpose()
}

fn boolean(p: &Params, key: &str) -> AwsResult<Option<bool>> {
    p.get(key)
        .map(|v| match v.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => {
                Err(AwsError::validation(format!("Value '{v}' at '{key}' is not a valid boolean")))
            }
        })
        .transpose()
}

fn required<'a>(p: &'a Params, key: &str) -> AwsResult<&'a str> {
    p.required_query(key)
}

// ------------------------------------------------------------------ decoding

fn actions(p: &Params, key: &str) -> AwsResult<Vec<Action>> {
    let mut out: Vec<(u32, Action)> = Vec::new();
    for (i, a) in p.structs(key).into_iter().enumerate() {
        let order = num::<u32>(&a, "Order")?.unwrap_or(i as u32 + 1);
        let action = match a.get("Type").unwrap_or_default() {
            "forward" => {
                let cfg = a.sub("ForwardConfig");
                let groups = cfg.structs("TargetGroups");
                let forward = if !groups.is_empty() {
                    let mut tgs = Vec::new();
                    for g in groups {
                        tgs.push(WeightedTargetGroup {
                            target_group_arn: required(&g, "TargetGroupArn")?.to_string(),
                            weight: num::<u32>(&g, "Weight")?.unwrap_or(1),
                        });
                    }
                    let sticky = cfg.sub("TargetGroupStickinessConfig");
                    let stickiness_seconds = if boolean(&sticky, "Enabled")?.unwrap_or(false) {
                        Some(num::<u32>(&sticky, "DurationSeconds")?.unwrap_or(3600))
                    } else {
                        None
                    };
                    if let Some(single) = a.get("TargetGroupArn") {
                        if tgs.len() != 1 || tgs[0].target_group_arn != single {
                            return Err(AwsError::validation(
                                "You cannot specify both a target group ARN and a forward config with different target groups",
                            ));
                        }
                    }
                    ForwardConfig { target_groups: tgs, stickiness_seconds }
                } else {
                    let arn = a.get("TargetGroupArn").ok_or_else(|| {
                        AwsError::validation(
                            "A forward action must specify a target group ARN or a forward config",
                        )
                    })?;
                    ForwardConfig::single(arn)
                };
                Action::Forward(forward)
            }
            "fixed-response" => {
                let c = a.sub("FixedResponseConfig");
                let code = required(&c, "StatusCode")?;
                Action::FixedResponse(FixedResponse {
                    status_code: code.parse().map_err(|_| {
                        AwsError::validation(format!(
                            "Fixed response status code '{code}' must be 2XX, 4XX or 5XX"
                        ))
                    })?,
                    content_type: c.string("ContentType"),
                    message_body: c.string("MessageBody"),
                })
            }
            "redirect" => {
                let c = a.sub("RedirectConfig");
                let d = Redirect::default();
                Action::Redirect(Redirect {
                    protocol: c.string("Protocol").unwrap_or(d.protocol),
                    host: c.string("Host").unwrap_or(d.host),
                    port: c.string("Port").unwrap_or(d.port),
                    path: c.string("Path").unwrap_or(d.path),
                    query: c.string("Query").unwrap_or(d.query),
                    status_code: Redirect::parse_status(required(&c, "StatusCode")?)?,
                })
            }
            "" => return Err(AwsError::validation("An action must specify a type")),
            t @ ("authenticate-oidc" | "authenticate-cognito" | "jwt-validation") => {
                return Err(AwsError::new(
                    ErrorCode::InvalidLoadBalancerAction,
                    format!("Action type '{t}' is not supported by Shoal"),
                ))
            }
            t => {
                return Err(AwsError::validation(format!(
                "'{t}' is not a valid action type; valid values: forward, redirect, fixed-response"
            )))
            }
        };
        out.push((order, action));
    }
    out.sort_by_key(|(o, _)| *o);
    Ok(out.into_iter().map(|(_, a)| a).collect())
}

fn conditions(p: &Params) -> AwsResult<Vec<Condition>> {
    let mut out = Vec::new();
    for c in p.structs("Conditions") {
        let field = required(&c, "Field")?;
        let config_or_values = |config: &str| -> Vec<String> {
            let v = c.sub(config).list("Values");
            if v.is_empty() {
                c.list("Values")
            } else {
                v
            }
        };
        out.push(match field {
            "path-pattern" => Condition::PathPattern(config_or_values("PathPatternConfig")),
            "host-header" => Condition::HostHeader(config_or_values("HostHeaderConfig")),
            "http-request-method" => {
                Condition::HttpRequestMethod(config_or_values("HttpRequestMethodConfig"))
            }
            "http-header" => {
                let h = c.sub("HttpHeaderConfig");
                Condition::HttpHeader {
                    name: required(&h, "HttpHeaderName")?.to_string(),
                    values: h.list("Values"),
                }
            }
            "query-string" => Condition::QueryString(
                c.sub("QueryStringConfig")
                    .structs("Values")
                    .into_iter()
                    .map(|kv| (kv.string("Key"), kv.string("Value").unwrap_or_default()))
                    .collect(),
            ),
            "source-ip" => Condition::SourceIp(
                config_or_values("SourceIpConfig")
                    .iter()
                    .map(|v| Cidr::parse(v))
                    .collect::<AwsResult<Vec<_>>>()?,
            ),
            f => {
                return Err(AwsError::validation(format!(
                    "Condition field '{f}' is not valid; valid values: path-pattern, host-header, http-header, http-request-method, query-string, source-ip"
                )))
            }
        });
    }
    Ok(out)
}

fn targets(p: &Params) -> AwsResult<Vec<TargetDescription>> {
    p.structs("Targets")
        .into_iter()
        .map(|t| {
            Ok(TargetDescription {
                id: required(&t, "Id")?.to_string(),
                port: num::<u16>(&t, "Port")?,
                availability_zone: t.string("AvailabilityZone"),
            })
        })
        .collect()
}

fn attributes(p: &Params) -> AwsResult<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = p
        .structs("Attributes")
        .into_iter()
        .map(|a| Ok((required(&a, "Key")?.to_string(), a.string("Value").unwrap_or_default())))
        .collect::<AwsResult<_>>()?;
    if pairs.is_empty() {
        return Err(AwsError::validation("At least one attribute must be specified"));
    }
    Ok(pairs)
}

fn health_check_update(p: &Params) -> AwsResult<HealthCheckUpdate> {
    Ok(HealthCheckUpdate {
        enabled: boolean(p, "HealthCheckEnabled")?,
        protocol: p.string("HealthCheckProtocol"),
        port: p.string("HealthCheckPort"),
        path: p.string("HealthCheckPath"),
        interval_seconds: num(p, "HealthCheckIntervalSeconds")?,
        timeout_seconds: num(p, "HealthCheckTimeoutSeconds")?,
        healthy_threshold: num(p, "HealthyThresholdCount")?,
        unhealthy_threshold: num(p, "UnhealthyThresholdCount")?,
        matcher: p.string("Matcher.HttpCode"),
    })
}

fn subnets(p: &Params) -> Vec<String> {
    let mut s = p.list("Subnets");
    for m in p.structs("SubnetMappings") {
        if let Some(id) = m.get("SubnetId") {
            s.push(id.to_string());
        }
    }
    s
}

// ------------------------------------------------------------------ actions

/// One action: decode `p`, call the service, encode the `<XResult>` body into `x`.
type Handler = fn(&Service, &Params, &mut Xml) -> AwsResult<()>;

/// Every ELBv2 action Shoal serves, by its wire name.
const ACTIONS: &[(&str, Handler)] = &[
    ("DescribeAccountLimits", describe_account_limits),
    ("CreateLoadBalancer", create_load_balancer),
    ("DescribeLoadBalancers", describe_load_balancers),
    ("DeleteLoadBalancer", delete_load_balancer),
    ("DescribeLoadBalancerAttributes", describe_load_balancer_attributes),
    ("ModifyLoadBalancerAttributes", modify_load_balancer_attributes),
    ("DescribeCapacityReservation", describe_capacity_reservation),
    ("DescribeListenerAttributes", describe_listener_attributes),
    ("ModifyListenerAttributes", modify_listener_attributes),
    ("SetSubnets", set_subnets),
    ("SetSecurityGroups", set_security_groups),
    ("CreateListener", create_listener),
    ("DescribeListeners", describe_listeners),
    ("ModifyListener", modify_listener),
    ("DeleteListener", delete_listener),
    ("CreateRule", create_rule),
    ("DescribeRules", describe_rules),
    ("ModifyRule", modify_rule),
    ("DeleteRule", delete_rule),
    ("SetRulePriorities", set_rule_priorities),
    ("CreateTargetGroup", create_target_group),
    ("DescribeTargetGroups", describe_target_groups),
    ("ModifyTargetGroup", modify_target_group),
    ("DeleteTargetGroup", delete_target_group),
    ("DescribeTargetGroupAttributes", describe_target_group_attributes),
    ("ModifyTargetGroupAttributes", modify_target_group_attributes),
    ("RegisterTargets", register_targets),
    ("DeregisterTargets", deregister_targets),
    ("DescribeTargetHealth", describe_target_health),
    ("AddTags", add_tags),
    ("RemoveTags", remove_tags),
    ("DescribeTags", describe_tags),
];

fn handle(svc: &Service, action: &str, p: &Params) -> AwsResult<Xml> {
    if action.is_empty() {
        return Err(AwsError::new(ErrorCode::MissingAction, "The request must contain an Action"));
    }
    let handler = super::handler_for(ACTIONS, action)?;
    let mut x = Xml::new();
    handler(svc, p, &mut x)?;
    Ok(x)
}

/// DescribeAccountLimits.
fn describe_account_limits(svc: &Service, _p: &Params, x: &mut Xml) -> AwsResult<()> {
    let q = &svc.config.quotas;
    // AWS's names; the first four are the quotas Shoal enforces, the rest AWS's
    // figures for limits it does not count.
    let limits = [
        ("application-load-balancers", q.load_balancers),
        ("target-groups", q.target_groups),
        ("listeners-per-application-load-balancer", q.listeners_per_load_balancer),
        ("rules-per-application-load-balancer", q.rules_per_load_balancer),
        ("targets-per-application-load-balancer", 1000),
        ("target-groups-per-application-load-balancer", 100),
        ("target-groups-per-action-on-application-load-balancer", 5),
        ("condition-values-per-alb-rule", 5),
        ("condition-wildcards-per-alb-rule", 5),
    ];
    x.list("Limits", "member", limits, |x, (name, max)| {
        x.text("Name", name).text("Max", max);
    });
    Ok(())
}

/// CreateLoadBalancer.
fn create_load_balancer(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let lb = svc.elb().create_load_balancer(CreateLoadBalancer {
        name: required(p, "Name")?.to_string(),
        subnets: subnets(p),
        security_groups: p.list("SecurityGroups"),
        scheme: p.string("Scheme"),
        lb_type: p.string("Type"),
        ip_address_type: p.string("IpAddressType"),
        tags: p.tags("Tags"),
    })?;
    x.list("LoadBalancers", "member", [&lb], |x, lb| load_balancer_xml(svc, x, lb));
    Ok(())
}

/// DescribeLoadBalancers.
fn describe_load_balancers(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let page = svc.elb().describe_load_balancers(
        &p.list("LoadBalancerArns"),
        &p.list("Names"),
        p.get("Marker"),
        num(p, "PageSize")?,
    )?;
    x.list("LoadBalancers", "member", &page.items, |x, lb| load_balancer_xml(svc, x, lb));
    x.opt("NextMarker", page.next_token);
    Ok(())
}

/// DeleteLoadBalancer.
fn delete_load_balancer(svc: &Service, p: &Params, _x: &mut Xml) -> AwsResult<()> {
    svc.elb().delete_load_balancer(required(p, "LoadBalancerArn")?)?;
    Ok(())
}

/// DescribeLoadBalancerAttributes.
fn describe_load_balancer_attributes(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let attrs = svc.elb().load_balancer_attributes(required(p, "LoadBalancerArn")?)?;
    attributes_xml(x, &attrs);
    Ok(())
}

/// DescribeCapacityReservation: an empty result, as for any load balancer without a
/// reservation (see `check_load_balancer`).
fn describe_capacity_reservation(svc: &Service, p: &Params, _x: &mut Xml) -> AwsResult<()> {
    svc.elb().check_load_balancer(required(p, "LoadBalancerArn")?)
}

/// ModifyLoadBalancerAttributes.
fn modify_load_balancer_attributes(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let attrs = svc
        .elb()
        .modify_load_balancer_attributes(required(p, "LoadBalancerArn")?, &attributes(p)?)?;
    attributes_xml(x, &attrs);
    Ok(())
}

/// DescribeListenerAttributes.
fn describe_listener_attributes(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let attrs = svc.elb().listener_attributes(required(p, "ListenerArn")?)?;
    attributes_xml(x, &attrs);
    Ok(())
}

/// ModifyListenerAttributes.
fn modify_listener_attributes(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let attrs =
        svc.elb().modify_listener_attributes(required(p, "ListenerArn")?, &attributes(p)?)?;
    attributes_xml(x, &attrs);
    Ok(())
}

/// SetSubnets.
fn set_subnets(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let lb = svc.elb().set_subnets(required(p, "LoadBalancerArn")?, &subnets(p))?;
    availability_zones_xml(x, &lb);
    x.text("IpAddressType", "ipv4");
    Ok(())
}

/// SetSecurityGroups.
fn set_security_groups(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let groups = svc
        .elb()
        .set_security_groups(required(p, "LoadBalancerArn")?, &p.list("SecurityGroups"))?;
    x.list("SecurityGroupIds", "member", &groups, |x, g| {
        x.raw(&escape(g));
    });
    Ok(())
}

/// CreateListener.
fn create_listener(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let l = svc.elb().create_listener(
        required(p, "LoadBalancerArn")?,
        p.get("Protocol"),
        num(p, "Port")?,
        actions(p, "DefaultActions")?,
        &p.tags("Tags"),
    )?;
    x.list("Listeners", "member", [&l], listener_xml);
    Ok(())
}

/// DescribeListeners.
fn describe_listeners(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let page = svc.elb().describe_listeners(
        p.get("LoadBalancerArn"),
        &p.list("ListenerArns"),
        p.get("Marker"),
        num(p, "PageSize")?,
    )?;
    x.list("Listeners", "member", &page.items, listener_xml);
    x.opt("NextMarker", page.next_token);
    Ok(())
}

/// ModifyListener.
fn modify_listener(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let defaults = actions(p, "DefaultActions")?;
    let l = svc.elb().modify_listener(
        required(p, "ListenerArn")?,
        num(p, "Port")?,
        p.get("Protocol"),
        (!defaults.is_empty()).then_some(defaults),
    )?;
    x.list("Listeners", "member", [&l], listener_xml);
    Ok(())
}

/// DeleteListener.
fn delete_listener(svc: &Service, p: &Params, _x: &mut Xml) -> AwsResult<()> {
    svc.elb().delete_listener(required(p, "ListenerArn")?)?;
    Ok(())
}

/// CreateRule.
fn create_rule(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let r = svc.elb().create_rule(
        required(p, "ListenerArn")?,
        num(p, "Priority")?,
        conditions(p)?,
        actions(p, "Actions")?,
        &p.tags("Tags"),
    )?;
    x.list("Rules", "member", [&r], rule_xml);
    Ok(())
}

/// DescribeRules.
fn describe_rules(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let page = svc.elb().describe_rules(
        p.get("ListenerArn"),
        &p.list("RuleArns"),
        p.get("Marker"),
        num(p, "PageSize")?,
    )?;
    x.list("Rules", "member", &page.items, rule_xml);
    x.opt("NextMarker", page.next_token);
    Ok(())
}

/// ModifyRule.
fn modify_rule(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let c = conditions(p)?;
    let a = actions(p, "Actions")?;
    let r = svc.elb().modify_rule(
        required(p, "RuleArn")?,
        (!c.is_empty()).then_some(c),
        (!a.is_empty()).then_some(a),
    )?;
    x.list("Rules", "member", [&r], rule_xml);
    Ok(())
}

/// DeleteRule.
fn delete_rule(svc: &Service, p: &Params, _x: &mut Xml) -> AwsResult<()> {
    svc.elb().delete_rule(required(p, "RuleArn")?)?;
    Ok(())
}

/// SetRulePriorities.
fn set_rule_priorities(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let pairs = p
        .structs("RulePriorities")
        .into_iter()
        .map(|r| {
            let priority = num::<u32>(&r, "Priority")?
                .ok_or_else(|| AwsError::validation("A rule priority must be specified"))?;
            Ok((required(&r, "RuleArn")?.to_string(), priority))
        })
        .collect::<AwsResult<Vec<_>>>()?;
    let rules = svc.elb().set_rule_priorities(&pairs)?;
    x.list("Rules", "member", &rules, rule_xml);
    Ok(())
}

/// CreateTargetGroup.
fn create_target_group(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let tg = svc.elb().create_target_group(CreateTargetGroup {
        name: required(p, "Name")?.to_string(),
        protocol: p.string("Protocol"),
        // The Terraform provider sends an empty ProtocolVersion: AWS reads it as absent.
        protocol_version: p.string("ProtocolVersion").filter(|v| !v.is_empty()),
        port: num(p, "Port")?,
        vpc_id: p.string("VpcId"),
        target_type: p.string("TargetType"),
        ip_address_type: p.string("IpAddressType"),
        health_check: health_check_update(p)?,
        tags: p.tags("Tags"),
    })?;
    x.list("TargetGroups", "member", [&tg], target_group_xml);
    Ok(())
}

/// DescribeTargetGroups.
fn describe_target_groups(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let page = svc.elb().describe_target_groups(
        p.get("LoadBalancerArn"),
        &p.list("TargetGroupArns"),
        &p.list("Names"),
        p.get("Marker"),
        num(p, "PageSize")?,
    )?;
    x.list("TargetGroups", "member", &page.items, target_group_xml);
    x.opt("NextMarker", page.next_token);
    Ok(())
}

/// ModifyTargetGroup.
fn modify_target_group(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let tg =
        svc.elb().modify_target_group(required(p, "TargetGroupArn")?, &health_check_update(p)?)?;
    x.list("TargetGroups", "member", [&tg], target_group_xml);
    Ok(())
}

/// DeleteTargetGroup.
fn delete_target_group(svc: &Service, p: &Params, _x: &mut Xml) -> AwsResult<()> {
    svc.elb().delete_target_group(required(p, "TargetGroupArn")?)?;
    Ok(())
}

/// DescribeTargetGroupAttributes.
fn describe_target_group_attributes(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let attrs = svc.elb().target_group_attributes(required(p, "TargetGroupArn")?)?;
    attributes_xml(x, &attrs);
    Ok(())
}

/// ModifyTargetGroupAttributes.
fn modify_target_group_attributes(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let attrs = svc
        .elb()
        .modify_target_group_attributes(required(p, "TargetGroupArn")?, &attributes(p)?)?;
    attributes_xml(x, &attrs);
    Ok(())
}

/// RegisterTargets.
fn register_targets(svc: &Service, p: &Params, _x: &mut Xml) -> AwsResult<()> {
    svc.elb().register_targets(required(p, "TargetGroupArn")?, &targets(p)?)?;
    Ok(())
}

/// DeregisterTargets.
fn deregister_targets(svc: &Service, p: &Params, _x: &mut Xml) -> AwsResult<()> {
    svc.elb().deregister_targets(required(p, "TargetGroupArn")?, &targets(p)?)?;
    Ok(())
}

/// DescribeTargetHealth.
fn describe_target_health(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let health = svc.elb().describe_target_health(required(p, "TargetGroupArn")?, &targets(p)?)?;
    x.list("TargetHealthDescriptions", "member", &health, target_health_xml);
    Ok(())
}

/// AddTags.
fn add_tags(svc: &Service, p: &Params, _x: &mut Xml) -> AwsResult<()> {
    svc.elb().add_tags(&p.list("ResourceArns"), &p.tags("Tags"))?;
    Ok(())
}

/// RemoveTags.
fn remove_tags(svc: &Service, p: &Params, _x: &mut Xml) -> AwsResult<()> {
    svc.elb().remove_tags(&p.list("ResourceArns"), &p.list("TagKeys"))?;
    Ok(())
}

/// DescribeTags.
fn describe_tags(svc: &Service, p: &Params, x: &mut Xml) -> AwsResult<()> {
    let tags = svc.elb().describe_tags(&p.list("ResourceArns"))?;
    x.list("TagDescriptions", "member", &tags, tags_xml);
    Ok(())
}

// ------------------------------------------------------------------ rendering

fn strings<'a>(x: &mut Xml, tag: &str, items: impl IntoIterator<Item = &'a String>) {
    x.list(tag, "member", items, |x, v| {
        x.raw(&escape(v));
    });
}

fn availability_zones_xml(x: &mut Xml, lb: &LoadBalancer) {
    x.list(
        "AvailabilityZones",
        "member",
        lb.availability_zones.iter().zip(&lb.subnets),
        |x, (zone, subnet)| {
            x.text("ZoneName", zone).text("SubnetId", subnet).list(
                "LoadBalancerAddresses",
                "member",
                [lb.loopback_ip],
                |x, ip| {
                    x.text("IpAddress", ip);
                },
            );
        },
    );
}

fn load_balancer_xml(svc: &Service, x: &mut Xml, lb: &LoadBalancer) {
    x.text("LoadBalancerArn", &lb.arn)
        .text("DNSName", &lb.dns_name)
        .opt(
            "CanonicalHostedZoneId",
            load_balancer::alb_hosted_zone_id(load_balancer::arn_region(&lb.arn)),
        )
        .text("CreatedTime", format_time(lb.created_time))
        .text("LoadBalancerName", &lb.name)
        .text("Scheme", lb.scheme.as_str())
        .text("VpcId", &lb.vpc_id)
        .el("State", |x| {
            x.text("Code", lb.state.as_str())
                .opt("Reason", svc.elb().load_balancer_state_reason(lb));
        })
        .text("Type", "application");
    availability_zones_xml(x, lb);
    strings(x, "SecurityGroups", &lb.security_groups);
    x.text("IpAddressType", "ipv4");
}

fn attributes_xml(x: &mut Xml, attrs: &[(String, String)]) {
    x.list("Attributes", "member", attrs, |x, (k, v)| {
        x.text("Key", k).text("Value", v);
    });
}

fn action_xml(x: &mut Xml, (i, a): (usize, &Action)) {
    x.text("Type", a.type_str()).text("Order", i + 1);
    match a {
        Action::Forward(f) => {
            x.opt("TargetGroupArn", f.single_arn());
            x.el("ForwardConfig", |x| {
                x.list("TargetGroups", "member", &f.target_groups, |x, g| {
                    x.text("TargetGroupArn", &g.target_group_arn).text("Weight", g.weight);
                });
                x.el("TargetGroupStickinessConfig", |x| {
                    x.text("Enabled", f.stickiness_seconds.is_some())
                        .opt("DurationSeconds", f.stickiness_seconds);
                });
            });
        }
        Action::FixedResponse(fr) => {
            x.el("FixedResponseConfig", |x| {
                x.opt("MessageBody", fr.message_body.as_ref())
                    .text("StatusCode", fr.status_code)
                    .opt("ContentType", fr.content_type.as_ref());
            });
        }
        Action::Redirect(r) => {
            x.el("RedirectConfig", |x| {
                x.text("Protocol", &r.protocol)
                    .text("Port", &r.port)
                    .text("Host", &r.host)
                    .text("Path", &r.path)
                    .text("Query", &r.query)
                    .text("StatusCode", format!("HTTP_{}", r.status_code));
            });
        }
    }
}

fn actions_xml(x: &mut Xml, tag: &str, actions: &[Action]) {
    x.list(tag, "member", actions.iter().enumerate(), action_xml);
}

fn listener_xml(x: &mut Xml, l: &Listener) {
    x.text("ListenerArn", &l.arn)
        .text("LoadBalancerArn", &l.load_balancer_arn)
        .text("Port", l.port)
        .text("Protocol", &l.protocol);
    actions_xml(x, "DefaultActions", &l.default_actions);
}

fn condition_xml(x: &mut Xml, c: &Condition) {
    x.text("Field", c.field());
    match c {
        Condition::PathPattern(v) => {
            strings(x, "Values", v);
            x.el("PathPatternConfig", |x| strings(x, "Values", v));
        }
        Condition::HostHeader(v) => {
            strings(x, "Values", v);
            x.el("HostHeaderConfig", |x| strings(x, "Values", v));
        }
        Condition::HttpRequestMethod(v) => {
            x.el("HttpRequestMethodConfig", |x| strings(x, "Values", v));
        }
        Condition::HttpHeader { name, values } => {
            x.el("HttpHeaderConfig", |x| {
                x.text("HttpHeaderName", name);
                strings(x, "Values", values);
            });
        }
        Condition::QueryString(kvs) => {
            x.el("QueryStringConfig", |x| {
                x.list("Values", "member", kvs, |x, (k, v)| {
                    x.opt("Key", k.as_ref()).text("Value", v);
                });
            });
        }
        Condition::SourceIp(cidrs) => {
            let v: Vec<String> = cidrs.iter().map(|c| format!("{}/{}", c.addr, c.prefix)).collect();
            x.el("SourceIpConfig", |x| strings(x, "Values", &v));
        }
    }
}

fn rule_xml(x: &mut Xml, r: &Rule) {
    x.text("RuleArn", &r.arn).text("Priority", r.priority.to_wire());
    x.list("Conditions", "member", &r.conditions, condition_xml);
    actions_xml(x, "Actions", &r.actions);
    x.text("IsDefault", r.priority == RulePriority::Default);
}

fn target_group_xml(x: &mut Xml, tg: &TargetGroup) {
    let hc = &tg.health_check;
    x.text("TargetGroupArn", &tg.arn)
        .text("TargetGroupName", &tg.name)
        .text("Protocol", &tg.protocol)
        .text("Port", tg.port)
        .text("VpcId", &tg.vpc_id)
        .text("HealthCheckProtocol", &hc.protocol)
        .text("HealthCheckPort", hc.port.to_wire())
        .text("HealthCheckEnabled", hc.enabled)
        .text("HealthCheckIntervalSeconds", hc.interval_seconds)
        .text("HealthCheckTimeoutSeconds", hc.timeout_seconds)
        .text("HealthyThresholdCount", hc.healthy_threshold)
        .text("UnhealthyThresholdCount", hc.unhealthy_threshold)
        .text("HealthCheckPath", &hc.path)
        .el("Matcher", |x| {
            x.text("HttpCode", &hc.matcher.text);
        });
    strings(x, "LoadBalancerArns", &tg.load_balancer_arns);
    x.text("TargetType", tg.target_type.as_str())
        .text("ProtocolVersion", "HTTP1")
        .text("IpAddressType", "ipv4");
}

fn target_health_xml(x: &mut Xml, d: &TargetHealthDescription) {
    x.el("Target", |x| {
        x.text("Id", &d.target.id)
            .opt("Port", d.target.port)
            .opt("AvailabilityZone", d.target.availability_zone.as_ref());
    });
    x.opt("HealthCheckPort", d.health_check_port.as_ref());
    x.el("TargetHealth", |x| {
        x.text("State", d.health.state.as_str())
            .opt("Reason", d.health.reason.map(|r| r.code()))
            .opt("Description", d.health.description.as_ref());
    });
}

fn tags_xml(x: &mut Xml, t: &ResourceTags) {
    x.text("ResourceArn", &t.arn);
    x.list("Tags", "member", &t.tags, |x, tag| {
        x.text("Key", &tag.key).text("Value", &tag.value);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_decode_in_member_order_and_refuse_a_bad_port_as_elbv2_does() {
        let p = Params::of(&[
            ("Targets.member.2.Id", "i-b"),
            ("Targets.member.1.Id", "i-a"),
            ("Targets.member.1.Port", "8080"),
        ]);
        let t = targets(&p).unwrap();
        assert_eq!(
            t.iter().map(|t| (t.id.as_str(), t.port)).collect::<Vec<_>>(),
            [("i-a", Some(8080)), ("i-b", None)]
        );
        let err = targets(&Params::of(&[
            ("Targets.member.1.Id", "i-a"),
            ("Targets.member.1.Port", "70000"),
        ]))
        .unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert_eq!(err.message, "Value '70000' at 'Port' is not a valid number");
        let err = targets(&Params::of(&[("Targets.member.1.Port", "80")])).unwrap_err();
        assert!(err.message.contains("Value null at 'id'"), "{err}");
    }

    #[test]
    fn attributes_need_at_least_one_and_each_a_key() {
        let err = attributes(&Params::of(&[])).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.message.as_str()),
            ("ValidationError", "At least one attribute must be specified")
        );
        let p = Params::of(&[
            ("Attributes.member.1.Key", "idle_timeout.timeout_seconds"),
            ("Attributes.member.1.Value", "30"),
            ("Attributes.member.2.Key", "deletion_protection.enabled"),
        ]);
        assert_eq!(
            attributes(&p).unwrap(),
            [
                ("idle_timeout.timeout_seconds".to_string(), "30".to_string()),
                ("deletion_protection.enabled".to_string(), String::new())
            ]
        );
        let err = attributes(&Params::of(&[("Attributes.member.1.Value", "30")])).unwrap_err();
        assert!(err.message.contains("Value null at 'key'"), "{err}");
    }

    #[test]
    fn health_check_settings_take_booleans_in_any_case_and_refuse_others() {
        let p = Params::of(&[
            ("HealthCheckEnabled", "False"),
            ("HealthyThresholdCount", "3"),
            ("Matcher.HttpCode", "200-299"),
        ]);
        let h = health_check_update(&p).unwrap();
        assert_eq!(
            (h.enabled, h.healthy_threshold, h.matcher.as_deref()),
            (Some(false), Some(3), Some("200-299"))
        );
        let err = health_check_update(&Params::of(&[("HealthCheckEnabled", "on")])).unwrap_err();
        assert_eq!(err.message, "Value 'on' at 'HealthCheckEnabled' is not a valid boolean");
    }

    #[test]
    fn subnets_come_from_both_lists() {
        let p = Params::of(&[
            ("Subnets.member.1", "subnet-a"),
            ("SubnetMappings.member.1.SubnetId", "subnet-b"),
        ]);
        assert_eq!(subnets(&p), ["subnet-a", "subnet-b"]);
    }
}
