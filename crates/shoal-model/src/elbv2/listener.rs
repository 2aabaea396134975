//! Listeners: one per (load balancer, port), each with default actions and rules.

use crate::ErrorCode;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::actions::{validate_actions, Action};
use crate::{AwsError, AwsResult, ACCOUNT_ID};

/// An HTTP listener as DescribeListeners shows it. Its default actions are the rule
/// evaluated last, with no conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    pub arn: String,
    pub load_balancer_arn: String,
    pub port: u16,
    pub protocol: String,
    pub default_actions: Vec<Action>,
    /// ModifyListenerAttributes' values, by key (only those set; the rest are AWS's
    /// defaults, [`LISTENER_ATTRIBUTES`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// An ALB listener's attributes with AWS's defaults: whether responses carry the
/// `Server` header, and the response headers the load balancer adds (empty: none).
pub const LISTENER_ATTRIBUTES: [(&str, &str); 11] = [
    ("routing.http.response.server.enabled", "true"),
    ("routing.http.response.strict_transport_security.header_value", ""),
    ("routing.http.response.access_control_allow_origin.header_value", ""),
    ("routing.http.response.access_control_allow_methods.header_value", ""),
    ("routing.http.response.access_control_allow_headers.header_value", ""),
    ("routing.http.response.access_control_allow_credentials.header_value", ""),
    ("routing.http.response.access_control_expose_headers.header_value", ""),
    ("routing.http.response.access_control_max_age.header_value", ""),
    ("routing.http.response.content_security_policy.header_value", ""),
    ("routing.http.response.x_content_type_options.header_value", ""),
    ("routing.http.response.x_frame_options.header_value", ""),
];

impl Listener {
    /// Every attribute, as DescribeListenerAttributes lists them.
    pub fn attribute_pairs(&self) -> Vec<(String, String)> {
        LISTENER_ATTRIBUTES
            .iter()
            .map(|(k, default)| {
                (k.to_string(), self.attributes.get(*k).map_or(*default, String::as_str).into())
            })
            .collect()
    }

    /// `routing.http.response.server.enabled`: whether the load balancer's own
    /// responses carry its `Server` header.
    pub fn server_header(&self) -> bool {
        self.attributes.get("routing.http.response.server.enabled").is_none_or(|v| v == "true")
    }

    /// The response headers set by `routing.http.response.<header>.header_value`
    /// attributes (non-empty ones), as `(header name, value)`.
    pub fn response_headers(&self) -> Vec<(String, String)> {
        self.attributes
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .filter_map(|(k, v)| {
                let header =
                    k.strip_prefix("routing.http.response.")?.strip_suffix(".header_value")?;
                Some((header.replace('_', "-"), v.clone()))
            })
            .collect()
    }

    /// ModifyListenerAttributes: every pair checked first; all applied or none.
    pub fn set_attributes(&mut self, pairs: &[(String, String)]) -> AwsResult<()> {
        let mut next = self.attributes.clone();
        for (k, v) in pairs {
            if !LISTENER_ATTRIBUTES.iter().any(|(name, _)| name == k) {
                return Err(AwsError::validation(format!(
                    "The attribute '{k}' is not supported for a listener with protocol '{}'",
                    self.protocol
                )));
            }
            if k == "routing.http.response.server.enabled"
                && !matches!(v.as_str(), "true" | "false")
            {
                return Err(AwsError::validation(format!(
                    "Attribute '{k}' must be 'true' or 'false'; got '{v}'"
                )));
            }
            next.insert(k.clone(), v.clone());
        }
        self.attributes = next;
        Ok(())
    }
}

/// `arn:…:listener/app/<lb-name>/<lb-id>/<16hex>`, built from the LB's ARN.
pub fn listener_arn(load_balancer_arn: &str, id: &str) -> String {
    format!("{}/{id}", load_balancer_arn.replacen(":loadbalancer/", ":listener/", 1))
}

/// `arn:…:listener-rule/app/<lb-name>/<lb-id>/<listener-id>/<16hex>`.
pub fn rule_arn(listener_arn: &str, id: &str) -> String {
    format!("{}/{id}", listener_arn.replacen(":listener/", ":listener-rule/", 1))
}

/// The region and account of every ARN built here is the caller's; this checks an ARN
/// names a load balancer of this account.
pub fn is_load_balancer_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws:elasticloadbalancing:")
        && arn.contains(&format!(":{ACCOUNT_ID}:loadbalancer/app/"))
}

/// CreateListener: protocol HTTP (Shoal has no certificates), port 1–65535, not
/// already taken on this load balancer (`DuplicateListener`), and valid default actions.
pub fn check_new_listener(
    existing_ports: impl IntoIterator<Item = u16>,
    protocol: &str,
    port: u32,
    default_actions: &[Action],
) -> AwsResult<()> {
    match protocol {
        "HTTP" => {}
        "HTTPS" => {
            return Err(AwsError::new(
                ErrorCode::UnsupportedProtocol,
                "Protocol 'HTTPS' is not supported by Shoal; use HTTP",
            ))
        }
        p => {
            return Err(AwsError::validation(format!(
                "Protocol '{p}' is not valid for an Application Load Balancer listener"
            )))
        }
    }
    validate_port(port)?;
    if existing_ports.into_iter().any(|p| u32::from(p) == port) {
        return Err(AwsError::new(
            ErrorCode::DuplicateListener,
            "A listener already exists on this port for this load balancer",
        ));
    }
    validate_actions(default_actions)
}

/// Listener and target ports: 1–65535.
pub fn validate_port(port: u32) -> AwsResult<()> {
    if (1..=65535).contains(&port) {
        Ok(())
    } else {
        Err(AwsError::validation(format!(
            "1 validation error detected: Value '{port}' at 'port' failed to satisfy constraint: Member must have value between 1 and 65535"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_attributes_default_as_aws_and_change_whole_or_not_at_all() {
        let mut l = Listener {
            arn: "arn".into(),
            load_balancer_arn: "lb".into(),
            port: 80,
            protocol: "HTTP".into(),
            default_actions: vec![],
            attributes: Default::default(),
        };
        let get = |l: &Listener, k: &str| {
            l.attribute_pairs().into_iter().find(|(key, _)| key == k).map(|(_, v)| v)
        };
        assert_eq!(get(&l, "routing.http.response.server.enabled").as_deref(), Some("true"));
        let before = l.clone();
        let bad = [
            ("routing.http.response.x_frame_options.header_value".to_string(), "DENY".to_string()),
            ("routing.http.response.server.enabled".to_string(), "no".to_string()),
        ];
        assert!(l.set_attributes(&bad).is_err());
        assert!(l.set_attributes(&[("tcp.idle_timeout.seconds".into(), "350".into())]).is_err());
        assert_eq!(l, before);
        l.set_attributes(&bad[..1]).unwrap();
        assert_eq!(
            get(&l, "routing.http.response.x_frame_options.header_value").as_deref(),
            Some("DENY")
        );
    }
    use crate::elbv2::actions::ForwardConfig;

    #[test]
    fn new_listener() {
        let fwd = vec![Action::Forward(ForwardConfig::single("arn:tg"))];
        assert!(check_new_listener([], "HTTP", 80, &fwd).is_ok());
        assert!(check_new_listener([80], "HTTP", 80, &fwd)
            .is_err_and(|e| e.code == "DuplicateListener"));
        assert!(check_new_listener([80], "HTTP", 8080, &fwd).is_ok());
        assert!(check_new_listener([], "HTTP", 0, &fwd).is_err_and(|e| e.code == "ValidationError"));
        assert!(check_new_listener([], "HTTP", 65536, &fwd).is_err());
        assert!(check_new_listener([], "TCP", 80, &fwd).is_err());
        assert!(check_new_listener([], "HTTP", 80, &[]).is_err());
    }

    #[test]
    fn arns() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lb/0000000000000001";
        assert!(is_load_balancer_arn(lb));
        let l = listener_arn(lb, "0000000000000002");
        assert_eq!(l, "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/0000000000000001/0000000000000002");
        assert_eq!(
            rule_arn(&l, "0000000000000003"),
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/0000000000000001/0000000000000002/0000000000000003"
        );
    }
}
