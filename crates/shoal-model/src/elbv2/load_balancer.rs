//! Application Load Balancers: names, ARNs, DNS names, states and attributes.

use crate::ErrorCode;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{parse_bool, parse_range, unknown_attribute, validate_resource_name};
use crate::{AwsError, AwsResult, ACCOUNT_ID};

/// `internet-facing` (default) or `internal`; AWS prefixes internal DNS names with
/// `internal-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Scheme {
    #[default]
    InternetFacing,
    Internal,
}

impl Scheme {
    /// AWS's wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
        }
    }

    /// Parses AWS's wire value (`InvalidScheme`-free: the API reports a ValidationError).
    pub fn parse(s: &str) -> AwsResult<Scheme> {
        match s {
            "internet-facing" => Ok(Scheme::InternetFacing),
            "internal" => Ok(Scheme::Internal),
            _ => Err(AwsError::validation(format!(
                "'{s}' is not a valid scheme; valid values: internet-facing, internal"
            ))),
        }
    }
}

/// `LoadBalancerStateEnum`: a new ALB is `provisioning`, then `active` once its
/// listeners can take traffic (the CLI waiter `load-balancer-available` waits for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadBalancerState {
    Provisioning,
    Active,
    ActiveImpaired,
    Failed,
}

impl LoadBalancerState {
    /// AWS's wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadBalancerState::Provisioning => "provisioning",
            LoadBalancerState::Active => "active",
            LoadBalancerState::ActiveImpaired => "active_impaired",
            LoadBalancerState::Failed => "failed",
        }
    }
}

/// An Application Load Balancer as DescribeLoadBalancers shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    pub dns_name: String,
    pub scheme: Scheme,
    pub state: LoadBalancerState,
    pub vpc_id: String,
    pub subnets: Vec<String>,
    pub availability_zones: Vec<String>,
    pub security_groups: Vec<String>,
    pub created_time: DateTime<Utc>,
    pub attributes: LoadBalancerAttributes,
    /// The loopback address its listeners bind (AWS's `LoadBalancerAddresses`): each
    /// load balancer has its own, so many can listen on :80.
    pub loopback_ip: Ipv4Addr,
    /// Its network interfaces, one per subnet (zone) as AWS gives an ALB; absent in
    /// stores written before Shoal kept them.
    #[serde(default)]
    pub interfaces: Vec<LoadBalancerInterface>,
}

/// A load balancer's network interface in one of its subnets: AWS makes one per zone,
/// requester-managed by `amazon-elb`, holding a private address of that subnet (so
/// instances and load balancers never share one) and the load balancer's groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancerInterface {
    pub id: String,
    pub subnet_id: String,
    pub availability_zone: String,
    pub private_ip: Ipv4Addr,
}

impl LoadBalancer {
    /// AWS's description of its interfaces: `ELB app/<name>/<id>`.
    pub fn interface_description(&self) -> String {
        format!("ELB {}", self.dimension())
    }

    /// The CloudWatch `LoadBalancer` dimension and access-log `elb` field:
    /// `app/<name>/<id>`.
    pub fn dimension(&self) -> &str {
        load_balancer_dimension(&self.arn).unwrap_or(&self.arn)
    }
}

/// AWS's load balancer name rule: ≤32 letters, digits and hyphens, no hyphen at
/// either end, and not starting with `internal-` (reserved for internal DNS names).
pub fn validate_load_balancer_name(name: &str) -> AwsResult<()> {
    validate_resource_name("Load balancer", name)?;
    if name.starts_with("internal-") {
        return Err(AwsError::validation(format!(
            "Load balancer name '{name}' cannot begin with 'internal-'"
        )));
    }
    Ok(())
}

/// CreateLoadBalancer against existing names: names are unique per region and
/// account (`DuplicateLoadBalancerName`). AWS returns the existing LB when every
/// setting matches; the service decides that before calling this.
pub fn check_new_load_balancer<'a>(
    existing_names: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> AwsResult<()> {
    validate_load_balancer_name(name)?;
    if existing_names.into_iter().any(|n| n == name) {
        return Err(AwsError::new(
            ErrorCode::DuplicateLoadBalancerName,
            "A load balancer with the same name already exists",
        ));
    }
    Ok(())
}

/// An Application Load Balancer needs subnets in at least two Availability Zones
/// (CreateLoadBalancer, SetSubnets), one subnet per zone.
pub fn check_subnet_zones(zones: &[String]) -> AwsResult<()> {
    for (i, z) in zones.iter().enumerate() {
        if zones[..i].contains(z) {
            return Err(AwsError::new(
                ErrorCode::InvalidConfigurationRequest,
                "A load balancer cannot be attached to multiple subnets in the same Availability Zone",
            ));
        }
    }
    if zones.len() < 2 {
        return Err(AwsError::validation(
            "At least two subnets in two different Availability Zones must be specified",
        ));
    }
    Ok(())
}

/// Route 53's hosted zone ids of Application Load Balancers by region, as AWS publishes
/// them ("Elastic Load Balancing endpoints and quotas", the ALB column), for every
/// region of [`crate::region::REGIONS`].
const ALB_HOSTED_ZONE_IDS: &[(&str, &str)] = &[
    ("af-south-1", "Z268VQBMOI5EKX"),
    ("ap-east-1", "Z3DQVH9N71FHZ0"),
    ("ap-east-2", "Z02789141MW7T1WBU19PO"),
    ("ap-northeast-1", "Z14GRHDCWA56QT"),
    ("ap-northeast-2", "ZWKZPGTI48KDX"),
    ("ap-northeast-3", "Z5LXEXXYW11ES"),
    ("ap-south-1", "ZP97RAFLXTNZK"),
    ("ap-south-2", "Z0173938T07WNTVAEPZN"),
    ("ap-southeast-1", "Z1LMS91P8CMLE5"),
    ("ap-southeast-2", "Z1GM3OXH4ZPM65"),
    ("ap-southeast-3", "Z08888821HLRG5A9ZRTER"),
    ("ap-southeast-4", "Z09517862IB2WZLPXG76F"),
    ("ap-southeast-5", "Z06010284QMVVW7WO5J"),
    ("ap-southeast-6", "Z023301818UFJ50CIO0MV"),
    ("ap-southeast-7", "Z0390008CMBRTHFGWBCB"),
    ("ca-central-1", "ZQSVJUPU6J1EY"),
    ("ca-west-1", "Z06473681N0SF6OS049SD"),
    ("eu-central-1", "Z215JYRZR1TBD5"),
    ("eu-central-2", "Z06391101F2ZOEP8P5EB3"),
    ("eu-north-1", "Z23TAZ6LKFMNIO"),
    ("eu-south-1", "Z3ULH7SSC9OV64"),
    ("eu-south-2", "Z0956581394HF5D5LXGAP"),
    ("eu-west-1", "Z32O12XQLNTSW2"),
    ("eu-west-2", "ZHURV8PSTC4K8"),
    ("eu-west-3", "Z3Q77PNBQS71R4"),
    ("il-central-1", "Z09170902867EHPV2DABU"),
    ("me-central-1", "Z08230872XQRWHG2XF6I"),
    ("me-south-1", "ZS929ML54UICD"),
    ("mx-central-1", "Z023552324OKD1BB28BH5"),
    ("sa-east-1", "Z2P70J7HTTTPLU"),
    ("us-east-1", "Z35SXDOTRQ7X7K"),
    ("us-east-2", "Z3AADJGX6KTTL2"),
    ("us-west-1", "Z368ELLRRE2KJ0"),
    ("us-west-2", "Z1H1FL5HABSF5"),
];

/// The Route 53 hosted zone id of Application Load Balancers in `region`
/// (DescribeLoadBalancers' `CanonicalHostedZoneId`); `None` for a region AWS lacks.
pub fn alb_hosted_zone_id(region: &str) -> Option<&'static str> {
    ALB_HOSTED_ZONE_IDS.iter().find(|(r, _)| *r == region).map(|(_, id)| *id)
}

/// The region of an ELBv2 ARN (`arn:aws:elasticloadbalancing:<region>:…`).
pub fn arn_region(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or(crate::DEFAULT_REGION)
}

/// `arn:aws:elasticloadbalancing:<region>:123456789012:loadbalancer/app/<name>/<16hex>`.
pub fn load_balancer_arn(region: &str, name: &str, id: &str) -> String {
    format!("arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:loadbalancer/app/{name}/{id}")
}

/// `app/<name>/<id>` from a load balancer ARN (CloudWatch dimension, log `elb` field).
pub fn load_balancer_dimension(arn: &str) -> Option<&str> {
    arn.split_once(":loadbalancer/").map(|(_, rest)| rest)
}

/// AWS names ALBs `<name>-<digits>.<region>.elb.amazonaws.com` (`internal-` first for
/// internal ones); Shoal serves the same shape under `elb.localhost`, which resolves to
/// loopback without any DNS setup.
pub fn load_balancer_dns_name(name: &str, scheme: Scheme, digits: u64, region: &str) -> String {
    let prefix = match scheme {
        Scheme::Internal => "internal-",
        Scheme::InternetFacing => "",
    };
    format!("{prefix}{name}-{digits}.{region}.elb.localhost")
}

/// `xff_header_processing.mode`: what the ALB does with an incoming X-Forwarded-For.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum XffMode {
    /// Append the client IP (default).
    #[default]
    Append,
    /// Pass the header through unchanged.
    Preserve,
    /// Remove the header.
    Remove,
}

/// Load balancer attributes with AWS's defaults (DescribeLoadBalancerAttributes lists
/// every key, set or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancerAttributes {
    /// `idle_timeout.timeout_seconds`, 60 (1–4000): idle client connections close, and
    /// a target that sends nothing for this long gets a 504.
    pub idle_timeout_seconds: u32,
    /// `client_keep_alive.seconds`, 3600 (60–604800).
    pub client_keep_alive_seconds: u32,
    /// `deletion_protection.enabled`, false.
    pub deletion_protection: bool,
    /// `routing.http2.enabled`, true.
    pub http2_enabled: bool,
    /// `routing.http.xff_header_processing.mode`, `append`.
    pub xff_mode: XffMode,
    /// `routing.http.xff_client_port.enabled`, false.
    pub xff_client_port: bool,
    /// `routing.http.preserve_host_header.enabled`, false.
    pub preserve_host_header: bool,
    /// `routing.http.drop_invalid_header_fields.enabled`, false.
    pub drop_invalid_header_fields: bool,
    /// `routing.http.desync_mitigation_mode`, `defensive` (`monitor|defensive|strictest`).
    pub desync_mitigation_mode: String,
    /// `access_logs.s3.enabled`, false. In Shoal the log goes to a local file.
    pub access_logs_enabled: bool,
    /// `access_logs.s3.bucket`, empty.
    pub access_logs_bucket: String,
    /// `access_logs.s3.prefix`, empty.
    pub access_logs_prefix: String,
    /// `waf.fail_open.enabled`, false (accepted, no effect).
    pub waf_fail_open: bool,
    /// The other ALB attributes AWS accepts ([`STORED_ONLY_ATTRIBUTES`]), by key, as
    /// set: stored and described, with no effect on Shoal's data plane.
    #[serde(default)]
    pub stored_only: BTreeMap<String, String>,
}

/// ALB attributes AWS accepts whose effect is outside Shoal (S3, TLS headers of an
/// HTTPS listener, zonal shift, IPv6): `(key, AWS's default, whether it is a boolean)`.
pub const STORED_ONLY_ATTRIBUTES: [(&str, &str, bool); 6] = [
    ("connection_logs.s3.enabled", "false", true),
    ("connection_logs.s3.bucket", "", false),
    ("connection_logs.s3.prefix", "", false),
    ("routing.http.x_amzn_tls_version_and_cipher_suite.enabled", "false", true),
    ("zonal_shift.config.enabled", "false", true),
    ("ipv6.deny_all_igw_traffic", "false", true),
];

impl Default for LoadBalancerAttributes {
    fn default() -> Self {
        LoadBalancerAttributes {
            idle_timeout_seconds: 60,
            client_keep_alive_seconds: 3600,
            deletion_protection: false,
            http2_enabled: true,
            xff_mode: XffMode::Append,
            xff_client_port: false,
            preserve_host_header: false,
            drop_invalid_header_fields: false,
            desync_mitigation_mode: "defensive".into(),
            access_logs_enabled: false,
            access_logs_bucket: String::new(),
            access_logs_prefix: String::new(),
            waf_fail_open: false,
            stored_only: BTreeMap::new(),
        }
    }
}

impl LoadBalancerAttributes {
    /// ModifyLoadBalancerAttributes: validates every pair first and changes nothing
    /// when one is invalid (AWS applies a request whole or not at all).
    pub fn apply(&mut self, pairs: &[(String, String)]) -> AwsResult<()> {
        let mut next = self.clone();
        for (key, value) in pairs {
            let (k, v) = (key.as_str(), value.as_str());
            match k {
                "idle_timeout.timeout_seconds" => {
                    next.idle_timeout_seconds = parse_range(k, v, 1, 4000)? as u32
                }
                "client_keep_alive.seconds" => {
                    next.client_keep_alive_seconds = parse_range(k, v, 60, 604_800)? as u32
                }
                "deletion_protection.enabled" => next.deletion_protection = parse_bool(k, v)?,
                "load_balancing.cross_zone.enabled" => {
                    // Always on for ALBs; AWS refuses to turn it off.
                    if !parse_bool(k, v)? {
                        return Err(AwsError::validation(
                            "Cross-zone load balancing cannot be disabled for Application Load Balancers",
                        ));
                    }
                }
                "routing.http2.enabled" => next.http2_enabled = parse_bool(k, v)?,
                "routing.http.xff_header_processing.mode" => {
                    next.xff_mode = match v {
                        "append" => XffMode::Append,
                        "preserve" => XffMode::Preserve,
                        "remove" => XffMode::Remove,
                        _ => {
                            return Err(AwsError::validation(format!(
                                "'{v}' is not a valid value for attribute '{k}'; valid values: append, preserve, remove"
                            )))
                        }
                    }
                }
                "routing.http.xff_client_port.enabled" => next.xff_client_port = parse_bool(k, v)?,
                "routing.http.preserve_host_header.enabled" => {
                    next.preserve_host_header = parse_bool(k, v)?
                }
                "routing.http.drop_invalid_header_fields.enabled" => {
                    next.drop_invalid_header_fields = parse_bool(k, v)?
                }
                "routing.http.desync_mitigation_mode" => {
                    if !matches!(v, "monitor" | "defensive" | "strictest") {
                        return Err(AwsError::validation(format!(
                            "'{v}' is not a valid value for attribute '{k}'; valid values: monitor, defensive, strictest"
                        )));
                    }
                    next.desync_mitigation_mode = v.to_string();
                }
                "access_logs.s3.enabled" => next.access_logs_enabled = parse_bool(k, v)?,
                "access_logs.s3.bucket" => next.access_logs_bucket = v.to_string(),
                "access_logs.s3.prefix" => next.access_logs_prefix = v.to_string(),
                "waf.fail_open.enabled" => next.waf_fail_open = parse_bool(k, v)?,
                _ => {
                    let Some((_, _, boolean)) =
                        STORED_ONLY_ATTRIBUTES.iter().find(|(name, _, _)| *name == k)
                    else {
                        return Err(unknown_attribute(k));
                    };
                    let v = if *boolean { parse_bool(k, v)?.to_string() } else { v.to_string() };
                    next.stored_only.insert(k.to_string(), v);
                }
            }
        }
        *self = next;
        Ok(())
    }

    /// Every attribute as AWS's key/value pairs, in a stable order.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let xff = match self.xff_mode {
            XffMode::Append => "append",
            XffMode::Preserve => "preserve",
            XffMode::Remove => "remove",
        };
        [
            ("access_logs.s3.enabled", self.access_logs_enabled.to_string()),
            ("access_logs.s3.bucket", self.access_logs_bucket.clone()),
            ("access_logs.s3.prefix", self.access_logs_prefix.clone()),
            ("client_keep_alive.seconds", self.client_keep_alive_seconds.to_string()),
            ("deletion_protection.enabled", self.deletion_protection.to_string()),
            ("idle_timeout.timeout_seconds", self.idle_timeout_seconds.to_string()),
            ("load_balancing.cross_zone.enabled", "true".to_string()),
            ("routing.http.desync_mitigation_mode", self.desync_mitigation_mode.clone()),
            (
                "routing.http.drop_invalid_header_fields.enabled",
                self.drop_invalid_header_fields.to_string(),
            ),
            ("routing.http.preserve_host_header.enabled", self.preserve_host_header.to_string()),
            ("routing.http.xff_client_port.enabled", self.xff_client_port.to_string()),
            ("routing.http.xff_header_processing.mode", xff.to_string()),
            ("routing.http2.enabled", self.http2_enabled.to_string()),
            ("waf.fail_open.enabled", self.waf_fail_open.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(STORED_ONLY_ATTRIBUTES.iter().map(|(k, default, _)| {
            let value = self.stored_only.get(*k).map_or(*default, String::as_str);
            (k.to_string(), value.to_string())
        }))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let cases: &[(&str, bool)] = &[
            ("exercise-lb", true),
            ("a", true),
            (&"a".repeat(32), true),
            (&"a".repeat(33), false),
            ("", false),
            ("-lb", false),
            ("lb-", false),
            ("my_lb", false),
            ("internal-lb", false),
            ("internalx", true),
        ];
        for (name, ok) in cases {
            assert_eq!(validate_load_balancer_name(name).is_ok(), *ok, "{name}");
        }
    }

    #[test]
    fn subnet_zones() {
        let z = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_subnet_zones(&z(&["us-east-1a", "us-east-1b"])).is_ok());
        assert!(check_subnet_zones(&z(&["us-east-1a"])).is_err_and(|e| e.code == "ValidationError"));
        assert!(check_subnet_zones(&z(&["us-east-1a", "us-east-1a"]))
            .is_err_and(|e| e.code == "InvalidConfigurationRequest"));
    }

    #[test]
    fn duplicate_name() {
        let err = check_new_load_balancer(["exercise-lb"], "exercise-lb").unwrap_err();
        assert_eq!(err.code, "DuplicateLoadBalancerName");
        assert!(check_new_load_balancer(["other"], "exercise-lb").is_ok());
    }

    #[test]
    fn every_region_has_its_published_alb_hosted_zone_id() {
        for r in crate::region::REGIONS {
            assert!(alb_hosted_zone_id(r.name).is_some(), "{} has no ALB hosted zone id", r.name);
        }
        assert_eq!(ALB_HOSTED_ZONE_IDS.len(), crate::region::REGIONS.len(), "one entry per region");
        assert_eq!(alb_hosted_zone_id("us-east-1"), Some("Z35SXDOTRQ7X7K"));
        assert_eq!(alb_hosted_zone_id("eu-west-1"), Some("Z32O12XQLNTSW2"));
        assert_eq!(alb_hosted_zone_id("mx-central-1"), Some("Z023552324OKD1BB28BH5"));
        assert_eq!(alb_hosted_zone_id("moon-base-1"), None);
    }

    #[test]
    fn arn_dns_dimension() {
        let arn = load_balancer_arn("us-east-1", "exercise-lb", &super::super::resource_id(0xabc));
        assert_eq!(
            arn,
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/exercise-lb/0000000000000abc"
        );
        assert_eq!(load_balancer_dimension(&arn), Some("app/exercise-lb/0000000000000abc"));
        assert_eq!(
            load_balancer_dns_name("exercise-lb", Scheme::InternetFacing, 123, "us-east-1"),
            "exercise-lb-123.us-east-1.elb.localhost"
        );
        assert_eq!(
            load_balancer_dns_name("lb", Scheme::Internal, 7, "eu-west-1"),
            "internal-lb-7.eu-west-1.elb.localhost"
        );
    }

    #[test]
    fn attributes_aws_accepts_without_effect_are_stored_and_described() {
        let mut a = LoadBalancerAttributes::default();
        let pairs = a.to_pairs();
        assert!(pairs.contains(&("zonal_shift.config.enabled".into(), "false".into())));
        assert!(pairs.contains(&("connection_logs.s3.bucket".into(), "".into())));
        a.apply(&[
            ("connection_logs.s3.enabled".to_string(), "true".to_string()),
            ("connection_logs.s3.bucket".to_string(), "logs".to_string()),
        ])
        .unwrap();
        let pairs = a.to_pairs();
        assert!(pairs.contains(&("connection_logs.s3.enabled".into(), "true".into())));
        assert!(pairs.contains(&("connection_logs.s3.bucket".into(), "logs".into())));
        let before = a.clone();
        assert!(a.apply(&[("zonal_shift.config.enabled".into(), "maybe".into())]).is_err());
        assert!(a.apply(&[("no.such.key".into(), "1".into())]).is_err());
        assert_eq!(a, before);
    }

    #[test]
    fn attributes() {
        let mut a = LoadBalancerAttributes::default();
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(a.apply(&p("idle_timeout.timeout_seconds", "0")).is_err());
        assert!(a.apply(&p("idle_timeout.timeout_seconds", "4001")).is_err());
        assert!(a.apply(&p("nope", "1")).is_err());
        assert!(a.apply(&p("routing.http.xff_header_processing.mode", "x")).is_err());
        // A bad pair leaves the good ones unapplied.
        let mixed = vec![
            ("idle_timeout.timeout_seconds".to_string(), "5".to_string()),
            ("deletion_protection.enabled".to_string(), "yes".to_string()),
        ];
        assert!(a.apply(&mixed).is_err());
        assert_eq!(a.idle_timeout_seconds, 60);
        a.apply(&p("idle_timeout.timeout_seconds", "5")).unwrap();
        a.apply(&p("access_logs.s3.enabled", "true")).unwrap();
        assert_eq!(a.idle_timeout_seconds, 5);
        assert!(a.access_logs_enabled);
        let pairs = a.to_pairs();
        assert!(pairs.contains(&("idle_timeout.timeout_seconds".into(), "5".into())));
        assert!(pairs.contains(&("routing.http2.enabled".into(), "true".into())));
    }
}
