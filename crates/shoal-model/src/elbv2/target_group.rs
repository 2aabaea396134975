//! Target groups: names, health-check settings and the matcher, attributes, and the
//! rules for registering targets.

use crate::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{parse_bool, parse_range, unknown_attribute, validate_resource_name};
use crate::{AwsError, AwsResult, ACCOUNT_ID};

/// Most targets one target group may hold (AWS quota: 1000 per ALB target group).
pub const MAX_TARGETS_PER_TARGET_GROUP: usize = 1000;

/// `TargetTypeEnum`, restricted to what Shoal serves: `instance` (default; targets are
/// instance ids, traffic goes to the instance's private IP) or `ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TargetType {
    #[default]
    Instance,
    Ip,
}

impl TargetType {
    /// AWS's wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::Instance => "instance",
            TargetType::Ip => "ip",
        }
    }

    /// Parses the wire value; `lambda` and `alb` exist in AWS but Shoal does not serve them.
    pub fn parse(s: &str) -> AwsResult<TargetType> {
        match s {
            "instance" => Ok(TargetType::Instance),
            "ip" => Ok(TargetType::Ip),
            "lambda" | "alb" => {
                Err(AwsError::validation(format!("Target type '{s}' is not supported by Shoal")))
            }
            _ => Err(AwsError::validation(format!(
                "'{s}' is not a valid target type; valid values: instance, ip"
            ))),
        }
    }
}

/// Validates a target group name (same rules as load balancer names, without the
/// `internal-` restriction).
pub fn validate_target_group_name(name: &str) -> AwsResult<()> {
    validate_resource_name("Target group", name)
}

/// CreateTargetGroup against existing names (`DuplicateTargetGroupName`; AWS returns
/// the existing group instead when every setting is identical: the service decides).
pub fn check_new_target_group<'a>(
    existing_names: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> AwsResult<()> {
    validate_target_group_name(name)?;
    if existing_names.into_iter().any(|n| n == name) {
        return Err(AwsError::new(
            ErrorCode::DuplicateTargetGroupName,
            "A target group with the same name exists, but with different settings",
        ));
    }
    Ok(())
}

/// Protocols an ALB target group accepts; Shoal serves `HTTP` only.
pub fn validate_protocol(protocol: &str) -> AwsResult<()> {
    match protocol {
        "HTTP" => Ok(()),
        "HTTPS" => Err(AwsError::new(
            ErrorCode::UnsupportedProtocol,
            "Protocol 'HTTPS' is not supported by Shoal",
        )),
        p => Err(AwsError::validation(format!(
            "'{p}' is not a valid protocol for an Application Load Balancer target group"
        ))),
    }
}

/// `arn:aws:elasticloadbalancing:<region>:123456789012:targetgroup/<name>/<16hex>`.
pub fn target_group_arn(region: &str, name: &str, id: &str) -> String {
    format!("arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:targetgroup/{name}/{id}")
}

/// `targetgroup/<name>/<id>` from a target group ARN (the CloudWatch dimension).
pub fn target_group_dimension(arn: &str) -> Option<&str> {
    arn.rfind(":targetgroup/").map(|i| &arn[i + 1..])
}

/// The health-check `Matcher.HttpCode`: `200`, `200,202` or `200-299`, codes 200–499.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    /// Inclusive ranges; a single code is a range of one.
    pub ranges: Vec<(u16, u16)>,
    /// The text as given, which Describe calls echo back.
    pub text: String,
}

impl Default for Matcher {
    fn default() -> Self {
        Matcher { ranges: vec![(200, 200)], text: "200".into() }
    }
}

impl Matcher {
    /// Parses AWS's syntax: comma-separated codes or one `low-high` range per item.
    pub fn parse(text: &str) -> AwsResult<Matcher> {
        let bad = || {
            AwsError::validation(format!(
                "Health check matcher HTTP code '{text}' must be within '200-499' and in the form '200', '200,202' or '200-299'"
            ))
        };
        let code = |s: &str| -> AwsResult<u16> {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            match s.parse::<u16>() {
                Ok(c) if (200..=499).contains(&c) => Ok(c),
                _ => Err(bad()),
            }
        };
        let mut ranges = Vec::new();
        for item in text.split(',') {
            let range = match item.split_once('-') {
                Some((lo, hi)) => (code(lo)?, code(hi)?),
                None => {
                    let c = code(item)?;
                    (c, c)
                }
            };
            if range.0 > range.1 {
                return Err(bad());
            }
            ranges.push(range);
        }
        Ok(Matcher { ranges, text: text.to_string() })
    }

    /// Whether a health-check response status passes.
    pub fn matches(&self, status: u16) -> bool {
        self.ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&status))
    }
}

/// The health-check port: the target's own traffic port (default) or a fixed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum HealthCheckPort {
    #[default]
    TrafficPort,
    Port(u16),
}

impl HealthCheckPort {
    /// Parses `traffic-port` or 1–65535.
    pub fn parse(s: &str) -> AwsResult<HealthCheckPort> {
        if s == "traffic-port" {
            return Ok(HealthCheckPort::TrafficPort);
        }
        match s.parse::<u16>() {
            Ok(p) if p >= 1 => Ok(HealthCheckPort::Port(p)),
            _ => Err(AwsError::validation(format!(
                "Health check port '{s}' must be 'traffic-port' or an integer from 1 to 65535"
            ))),
        }
    }

    /// The wire form.
    pub fn to_wire(self) -> String {
        match self {
            HealthCheckPort::TrafficPort => "traffic-port".into(),
            HealthCheckPort::Port(p) => p.to_string(),
        }
    }

    /// The port to check for a target serving traffic on `traffic_port`.
    pub fn resolve(self, traffic_port: u16) -> u16 {
        match self {
            HealthCheckPort::TrafficPort => traffic_port,
            HealthCheckPort::Port(p) => p,
        }
    }
}

/// A target group's health-check settings with ALB defaults (§3.3): HTTP on the
/// traffic port, path `/`, every 30 s, timeout 5 s, healthy 5 / unhealthy 2, matcher 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub enabled: bool,
    pub protocol: String,
    pub port: HealthCheckPort,
    pub path: String,
    /// 5–300 s.
    pub interval_seconds: u32,
    /// 2–120 s, and less than the interval.
    pub timeout_seconds: u32,
    /// 2–10.
    pub healthy_threshold: u32,
    /// 2–10.
    pub unhealthy_threshold: u32,
    pub matcher: Matcher,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            enabled: true,
            protocol: "HTTP".into(),
            port: HealthCheckPort::TrafficPort,
            path: "/".into(),
            interval_seconds: 30,
            timeout_seconds: 5,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            matcher: Matcher::default(),
        }
    }
}

/// The health-check parameters of CreateTargetGroup / ModifyTargetGroup; `None`
/// keeps the current (or default) value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthCheckUpdate {
    pub enabled: Option<bool>,
    pub protocol: Option<String>,
    pub port: Option<String>,
    pub path: Option<String>,
    pub interval_seconds: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub healthy_threshold: Option<u32>,
    pub unhealthy_threshold: Option<u32>,
    pub matcher: Option<String>,
}

impl HealthCheck {
    /// Applies an update after validating it whole against AWS's ranges; on error
    /// nothing changes.
    pub fn apply(&mut self, u: &HealthCheckUpdate) -> AwsResult<()> {
        let mut next = self.clone();
        if let Some(e) = u.enabled {
            next.enabled = e;
        }
        if let Some(p) = &u.protocol {
            validate_protocol(p)?;
            next.protocol = p.clone();
        }
        if let Some(p) = &u.port {
            next.port = HealthCheckPort::parse(p)?;
        }
        if let Some(p) = &u.path {
            if !p.starts_with('/') || p.len() > 1024 {
                return Err(AwsError::validation(
                    "Health check path must begin with a '/' character and be at most 1024 characters",
                ));
            }
            next.path = p.clone();
        }
        let in_range = |name: &str, v: u32, lo: u32, hi: u32| -> AwsResult<u32> {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(AwsError::validation(format!(
                    "Health check {name} '{v}' must be between '{lo}' and '{hi}'"
                )))
            }
        };
        if let Some(v) = u.interval_seconds {
            next.interval_seconds = in_range("interval", v, 5, 300)?;
        }
        if let Some(v) = u.timeout_seconds {
            next.timeout_seconds = in_range("timeout", v, 2, 120)?;
        }
        if let Some(v) = u.healthy_threshold {
            next.healthy_threshold = in_range("healthy threshold", v, 2, 10)?;
        }
        if let Some(v) = u.unhealthy_threshold {
            next.unhealthy_threshold = in_range("unhealthy threshold", v, 2, 10)?;
        }
        if let Some(m) = &u.matcher {
            next.matcher = Matcher::parse(m)?;
        }
        if next.timeout_seconds >= next.interval_seconds {
            return Err(AwsError::validation(format!(
                "Health check timeout '{}' must be smaller than the interval '{}'",
                next.timeout_seconds, next.interval_seconds
            )));
        }
        *self = next;
        Ok(())
    }
}

/// `load_balancing.algorithm.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Algorithm {
    #[default]
    RoundRobin,
    LeastOutstandingRequests,
    WeightedRandom,
}

impl Algorithm {
    /// AWS's wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RoundRobin => "round_robin",
            Algorithm::LeastOutstandingRequests => "least_outstanding_requests",
            Algorithm::WeightedRandom => "weighted_random",
        }
    }
}

/// `stickiness.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum StickinessType {
    /// Load-balancer-generated cookie `AWSALB` (+ `AWSALBCORS`).
    #[default]
    LbCookie,
    /// Application cookie; the ALB adds `AWSALBAPP-<n>`.
    AppCookie,
}

/// Shoal's own attribute: retry a refused or reset connect on another healthy target
/// so a crashed target costs clients nothing. Default `true`; `false` gives AWS's 502s.
pub const RETRY_ON_CONNECT_FAILURE: &str = "shoal.retry_on_connect_failure.enabled";

/// Target group attributes with AWS's defaults (§3.3) plus Shoal's retry switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroupAttributes {
    /// `deregistration_delay.timeout_seconds`, 300 (0–3600).
    pub deregistration_delay_seconds: u32,
    /// `slow_start.duration_seconds`, 0 = off (30–900; not with least outstanding requests).
    pub slow_start_seconds: u32,
    /// `load_balancing.algorithm.type`, `round_robin`.
    pub algorithm: Algorithm,
    /// `stickiness.enabled`, false.
    pub stickiness_enabled: bool,
    /// `stickiness.type`, `lb_cookie`.
    pub stickiness_type: StickinessType,
    /// `stickiness.lb_cookie.duration_seconds`, 86400 (1–604800).
    pub lb_cookie_duration_seconds: u32,
    /// `stickiness.app_cookie.cookie_name`, empty.
    pub app_cookie_name: String,
    /// `stickiness.app_cookie.duration_seconds`, 86400 (1–604800).
    pub app_cookie_duration_seconds: u32,
    /// `load_balancing.cross_zone.enabled`, `use_load_balancer_configuration`.
    pub cross_zone: String,
    /// `shoal.retry_on_connect_failure.enabled`, true.
    pub retry_on_connect_failure: bool,
}

impl Default for TargetGroupAttributes {
    fn default() -> Self {
        TargetGroupAttributes {
            deregistration_delay_seconds: 300,
            slow_start_seconds: 0,
            algorithm: Algorithm::RoundRobin,
            stickiness_enabled: false,
            stickiness_type: StickinessType::LbCookie,
            lb_cookie_duration_seconds: 86_400,
            app_cookie_name: String::new(),
            app_cookie_duration_seconds: 86_400,
            cross_zone: "use_load_balancer_configuration".into(),
            retry_on_connect_failure: true,
        }
    }
}

impl TargetGroupAttributes {
    /// ModifyTargetGroupAttributes: validates the whole request, then applies it.
    pub fn apply(&mut self, pairs: &[(String, String)]) -> AwsResult<()> {
        let mut next = self.clone();
        for (key, value) in pairs {
            let (k, v) = (key.as_str(), value.as_str());
            match k {
                "deregistration_delay.timeout_seconds" => {
                    next.deregistration_delay_seconds = parse_range(k, v, 0, 3600)? as u32
                }
                "slow_start.duration_seconds" => {
                    let s = parse_range(k, v, 0, 900)? as u32;
                    if s != 0 && s < 30 {
                        return Err(AwsError::validation(format!(
                            "'{v}' is not a valid value for attribute '{k}': it must be 0 or from 30 to 900"
                        )));
                    }
                    next.slow_start_seconds = s;
                }
                "load_balancing.algorithm.type" => {
                    next.algorithm = match v {
                        "round_robin" => Algorithm::RoundRobin,
                        "least_outstanding_requests" => Algorithm::LeastOutstandingRequests,
                        "weighted_random" => Algorithm::WeightedRandom,
                        _ => {
                            return Err(AwsError::validation(format!(
                                "'{v}' is not a valid value for attribute '{k}'; valid values: round_robin, least_outstanding_requests, weighted_random"
                            )))
                        }
                    }
                }
                "load_balancing.algorithm.anomaly_mitigation" => {
                    if v != "off" && v != "on" {
                        return Err(AwsError::validation(format!(
                            "'{v}' is not a valid value for attribute '{k}'"
                        )));
                    }
                }
                "stickiness.enabled" => next.stickiness_enabled = parse_bool(k, v)?,
                "stickiness.type" => {
                    next.stickiness_type = match v {
                        "lb_cookie" => StickinessType::LbCookie,
                        "app_cookie" => StickinessType::AppCookie,
                        _ => {
                            return Err(AwsError::validation(format!(
                                "'{v}' is not a valid value for attribute '{k}'; valid values: lb_cookie, app_cookie"
                            )))
                        }
                    }
                }
                "stickiness.lb_cookie.duration_seconds" => {
                    next.lb_cookie_duration_seconds = parse_range(k, v, 1, 604_800)? as u32
                }
                "stickiness.app_cookie.cookie_name" => {
                    if v.starts_with("AWSALB") {
                        return Err(AwsError::validation(
                            "Cookie names starting with 'AWSALB', 'AWSALBAPP' or 'AWSALBTG' are reserved",
                        ));
                    }
                    next.app_cookie_name = v.to_string();
                }
                "stickiness.app_cookie.duration_seconds" => {
                    next.app_cookie_duration_seconds = parse_range(k, v, 1, 604_800)? as u32
                }
                "load_balancing.cross_zone.enabled" => {
                    if !matches!(v, "true" | "false" | "use_load_balancer_configuration") {
                        return Err(AwsError::validation(format!(
                            "'{v}' is not a valid value for attribute '{k}'"
                        )));
                    }
                    next.cross_zone = v.to_string();
                }
                RETRY_ON_CONNECT_FAILURE => next.retry_on_connect_failure = parse_bool(k, v)?,
                _ => return Err(unknown_attribute(k)),
            }
        }
        if next.slow_start_seconds != 0 && next.algorithm == Algorithm::LeastOutstandingRequests {
            return Err(AwsError::new(
                ErrorCode::InvalidConfigurationRequest,
                "Slow start mode cannot be enabled with the least outstanding requests algorithm",
            ));
        }
        *self = next;
        Ok(())
    }

    /// Every attribute as AWS's key/value pairs, in a stable order.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let stickiness_type = match self.stickiness_type {
            StickinessType::LbCookie => "lb_cookie",
            StickinessType::AppCookie => "app_cookie",
        };
        [
            ("deregistration_delay.timeout_seconds", self.deregistration_delay_seconds.to_string()),
            ("load_balancing.algorithm.anomaly_mitigation", "off".to_string()),
            ("load_balancing.algorithm.type", self.algorithm.as_str().to_string()),
            ("load_balancing.cross_zone.enabled", self.cross_zone.clone()),
            (RETRY_ON_CONNECT_FAILURE, self.retry_on_connect_failure.to_string()),
            ("slow_start.duration_seconds", self.slow_start_seconds.to_string()),
            ("stickiness.app_cookie.cookie_name", self.app_cookie_name.clone()),
            (
                "stickiness.app_cookie.duration_seconds",
                self.app_cookie_duration_seconds.to_string(),
            ),
            ("stickiness.enabled", self.stickiness_enabled.to_string()),
            ("stickiness.lb_cookie.duration_seconds", self.lb_cookie_duration_seconds.to_string()),
            ("stickiness.type", stickiness_type.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// A target group as DescribeTargetGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    pub protocol: String,
    pub port: u16,
    pub vpc_id: String,
    pub target_type: TargetType,
    pub health_check: HealthCheck,
    pub attributes: TargetGroupAttributes,
    /// Load balancers whose listeners forward here (AWS's `LoadBalancerArns`).
    pub load_balancer_arns: Vec<String>,
}

impl TargetGroup {
    /// The CloudWatch `TargetGroup` dimension `targetgroup/<name>/<id>`.
    pub fn dimension(&self) -> &str {
        target_group_dimension(&self.arn).unwrap_or(&self.arn)
    }
}

/// RegisterTargets' `TargetDescription`: an instance id or IP, an optional port
/// (the group's port when absent) and an optional AZ.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TargetDescription {
    pub id: String,
    pub port: Option<u16>,
    pub availability_zone: Option<String>,
}

impl TargetDescription {
    /// The port traffic goes to: the target's own, else the group's.
    pub fn effective_port(&self, group_port: u16) -> u16 {
        self.port.unwrap_or(group_port)
    }
}

/// One target registered with one target group: what RegisterTargets records and
/// DeregisterTargets marks. A deregistered target keeps draining for the group's
/// `deregistration_delay.timeout_seconds` after `deregistered_at`, then is removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredTarget {
    /// [`registration_key`]: target group, id and port.
    pub key: String,
    pub target_group_arn: String,
    pub target: TargetDescription,
    pub registered_at: DateTime<Utc>,
    pub deregistered_at: Option<DateTime<Utc>>,
}

impl RegisteredTarget {
    /// When a draining target leaves the group: `deregistered_at` + the delay.
    pub fn drained_at(&self, delay_seconds: u32) -> Option<DateTime<Utc>> {
        self.deregistered_at.map(|t| t + chrono::Duration::seconds(i64::from(delay_seconds)))
    }
}

/// The identity of a registration: a target is one (id, port) pair in one group.
pub fn registration_key(target_group_arn: &str, id: &str, port: u16) -> String {
    format!("{target_group_arn}|{id}|{port}")
}

/// RegisterTargets against the group's type and current size: instance targets are
/// `i-…` ids, ip targets IPv4 addresses, ports 1–65535, and the group holds at most
/// [`MAX_TARGETS_PER_TARGET_GROUP`] distinct (id, port) pairs (`TooManyTargets`).
/// Registering a target already registered is a no-op in AWS, so it is not counted.
pub fn check_register_targets(
    target_type: TargetType,
    group_port: u16,
    registered: &[TargetDescription],
    new: &[TargetDescription],
) -> AwsResult<()> {
    let mut added = 0usize;
    for t in new {
        match target_type {
            TargetType::Instance if !t.id.starts_with("i-") => {
                return Err(AwsError::new(
                    ErrorCode::InvalidTarget,
                    format!("The following targets are not valid instances: '{}'", t.id),
                ))
            }
            TargetType::Ip if t.id.parse::<std::net::Ipv4Addr>().is_err() => {
                return Err(AwsError::new(
                    ErrorCode::InvalidTarget,
                    format!("The IP address '{}' is not a valid IPv4 address", t.id),
                ))
            }
            _ => {}
        }
        if t.port == Some(0) {
            return Err(AwsError::validation("Target port must be between 1 and 65535"));
        }
        let port = t.effective_port(group_port);
        let known = registered
            .iter()
            .chain(new.iter().take_while(|n| !std::ptr::eq(*n, t)))
            .any(|r| r.id == t.id && r.effective_port(group_port) == port);
        if !known {
            added += 1;
        }
    }
    if registered.len() + added > MAX_TARGETS_PER_TARGET_GROUP {
        return Err(AwsError::new(
            ErrorCode::TooManyTargets,
            format!(
                "You've reached the limit on the number of targets registered to a target group ({MAX_TARGETS_PER_TARGET_GROUP})"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher() {
        // (text, ok, code, matches)
        let cases: &[(&str, bool, u16, bool)] = &[
            ("200", true, 200, true),
            ("200", true, 201, false),
            ("200,202", true, 202, true),
            ("200,202", true, 201, false),
            ("200-299", true, 250, true),
            ("200-299", true, 300, false),
            ("200-399,404", true, 404, true),
            ("499", true, 499, true),
            ("500", false, 0, false),
            ("199", false, 0, false),
            ("299-200", false, 0, false),
            ("", false, 0, false),
            ("abc", false, 0, false),
            ("200,", false, 0, false),
        ];
        for (text, ok, code, m) in cases {
            let parsed = Matcher::parse(text);
            assert_eq!(parsed.is_ok(), *ok, "{text}");
            if let Ok(p) = parsed {
                assert_eq!(p.matches(*code), *m, "{text} {code}");
            }
        }
    }

    #[test]
    fn health_check_ranges() {
        let defaults = HealthCheck::default();
        assert_eq!(
            (
                defaults.interval_seconds,
                defaults.timeout_seconds,
                defaults.healthy_threshold,
                defaults.unhealthy_threshold
            ),
            (30, 5, 5, 2)
        );
        let cases: &[(HealthCheckUpdate, bool)] = &[
            // The lab's settings: interval 5, timeout 2, thresholds 2/2.
            (
                HealthCheckUpdate {
                    interval_seconds: Some(5),
                    timeout_seconds: Some(2),
                    healthy_threshold: Some(2),
                    unhealthy_threshold: Some(2),
                    path: Some("/health".into()),
                    ..Default::default()
                },
                true,
            ),
            // Timeout 5 is not smaller than interval 5.
            (HealthCheckUpdate { interval_seconds: Some(5), ..Default::default() }, false),
            (HealthCheckUpdate { interval_seconds: Some(4), ..Default::default() }, false),
            (HealthCheckUpdate { interval_seconds: Some(301), ..Default::default() }, false),
            (HealthCheckUpdate { timeout_seconds: Some(1), ..Default::default() }, false),
            (HealthCheckUpdate { healthy_threshold: Some(11), ..Default::default() }, false),
            (HealthCheckUpdate { unhealthy_threshold: Some(1), ..Default::default() }, false),
            (HealthCheckUpdate { path: Some("health".into()), ..Default::default() }, false),
            (HealthCheckUpdate { port: Some("traffic-port".into()), ..Default::default() }, true),
            (HealthCheckUpdate { port: Some("0".into()), ..Default::default() }, false),
            (HealthCheckUpdate { matcher: Some("200-299".into()), ..Default::default() }, true),
            (HealthCheckUpdate { protocol: Some("TCP".into()), ..Default::default() }, false),
        ];
        for (u, ok) in cases {
            let mut hc = HealthCheck::default();
            let before = hc.clone();
            let r = hc.apply(u);
            assert_eq!(r.is_ok(), *ok, "{u:?}");
            if !ok {
                assert_eq!(hc, before, "a rejected update changed nothing");
            }
        }
    }

    #[test]
    fn attributes() {
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        let mut a = TargetGroupAttributes::default();
        assert!(a.retry_on_connect_failure);
        let cases: &[(&str, &str, bool)] = &[
            ("deregistration_delay.timeout_seconds", "0", true),
            ("deregistration_delay.timeout_seconds", "3601", false),
            ("slow_start.duration_seconds", "29", false),
            ("slow_start.duration_seconds", "30", true),
            ("slow_start.duration_seconds", "901", false),
            ("load_balancing.algorithm.type", "least_outstanding_requests", false), // slow start is on
            ("slow_start.duration_seconds", "0", true),
            ("load_balancing.algorithm.type", "least_outstanding_requests", true),
            ("load_balancing.algorithm.type", "random", false),
            ("stickiness.enabled", "true", true),
            ("stickiness.lb_cookie.duration_seconds", "0", false),
            ("stickiness.lb_cookie.duration_seconds", "604800", true),
            ("stickiness.app_cookie.cookie_name", "AWSALBAPP-1", false),
            (RETRY_ON_CONNECT_FAILURE, "false", true),
            ("bogus", "1", false),
        ];
        for (k, v, ok) in cases {
            assert_eq!(a.apply(&p(k, v)).is_ok(), *ok, "{k}={v}");
        }
        assert!(!a.retry_on_connect_failure);
        assert_eq!(a.algorithm, Algorithm::LeastOutstandingRequests);
        let err = {
            let mut b = a.clone();
            b.apply(&p("slow_start.duration_seconds", "60")).unwrap_err()
        };
        assert_eq!(err.code, "InvalidConfigurationRequest");
    }

    #[test]
    fn draining_deadline() {
        let t0 = DateTime::from_timestamp(1_000, 0).unwrap();
        let mut r = RegisteredTarget {
            key: registration_key("tg", "i-1", 80),
            target_group_arn: "tg".into(),
            target: TargetDescription { id: "i-1".into(), port: None, availability_zone: None },
            registered_at: t0,
            deregistered_at: None,
        };
        assert_eq!(r.drained_at(300), None);
        r.deregistered_at = Some(t0);
        assert_eq!(r.drained_at(300), DateTime::from_timestamp(1_300, 0));
        assert_eq!(r.key, "tg|i-1|80");
    }

    #[test]
    fn names_and_targets() {
        assert!(check_new_target_group(["exercise-target-group"], "exercise-target-group")
            .is_err_and(|e| e.code == "DuplicateTargetGroupName"));
        assert!(check_new_target_group([], "exercise-target-group").is_ok());
        assert!(validate_target_group_name("bad_name").is_err());
        assert_eq!(
            target_group_dimension(&target_group_arn("us-east-1", "tg", "00000000000000ab")),
            Some("targetgroup/tg/00000000000000ab")
        );

        let t = |id: &str, port: Option<u16>| TargetDescription {
            id: id.into(),
            port,
            availability_zone: None,
        };
        assert!(check_register_targets(TargetType::Instance, 3000, &[], &[t("i-1", None)]).is_ok());
        assert!(check_register_targets(TargetType::Instance, 3000, &[], &[t("10.0.0.1", None)])
            .is_err_and(|e| e.code == "InvalidTarget"));
        assert!(
            check_register_targets(TargetType::Ip, 3000, &[], &[t("127.0.0.9", Some(80))]).is_ok()
        );
        assert!(check_register_targets(TargetType::Ip, 3000, &[], &[t("i-1", None)]).is_err());
        let full: Vec<_> =
            (0..MAX_TARGETS_PER_TARGET_GROUP).map(|i| t(&format!("i-{i}"), None)).collect();
        assert!(check_register_targets(TargetType::Instance, 80, &full, &[t("i-new", None)])
            .is_err_and(|e| e.code == "TooManyTargets"));
        // Re-registering an existing target is a no-op, not a new slot.
        assert!(check_register_targets(TargetType::Instance, 80, &full, &[t("i-0", None)]).is_ok());
    }
}
