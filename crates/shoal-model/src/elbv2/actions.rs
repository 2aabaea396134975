//! Listener and rule actions: forward (single or weighted), fixed-response, redirect.

use crate::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::{AwsError, AwsResult};

/// Most target groups in one forward action (AWS quota).
pub const MAX_TARGET_GROUPS_PER_FORWARD: usize = 5;

/// A terminal action. AWS also has authenticate actions; Shoal serves these three.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Forward(ForwardConfig),
    FixedResponse(FixedResponse),
    Redirect(Redirect),
}

impl Action {
    /// AWS's `Type` value.
    pub fn type_str(&self) -> &'static str {
        match self {
            Action::Forward(_) => "forward",
            Action::FixedResponse(_) => "fixed-response",
            Action::Redirect(_) => "redirect",
        }
    }
}

/// One target group of a forward action with its weight (0–999).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightedTargetGroup {
    pub target_group_arn: String,
    pub weight: u32,
}

/// `ForwardConfig`: traffic split across target groups by weight, optionally sticky
/// to one group (`AWSALBTG` cookie). A plain `TargetGroupArn` forward is one group
/// of weight 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardConfig {
    pub target_groups: Vec<WeightedTargetGroup>,
    /// `TargetGroupStickinessConfig.DurationSeconds` when enabled (1–604800).
    pub stickiness_seconds: Option<u32>,
}

impl ForwardConfig {
    /// A forward to one target group.
    pub fn single(target_group_arn: impl Into<String>) -> Self {
        ForwardConfig {
            target_groups: vec![WeightedTargetGroup {
                target_group_arn: target_group_arn.into(),
                weight: 1,
            }],
            stickiness_seconds: None,
        }
    }

    /// The lone target group ARN when there is exactly one (Describe shows it as
    /// the action's `TargetGroupArn` too).
    pub fn single_arn(&self) -> Option<&str> {
        match self.target_groups.as_slice() {
            [one] => Some(&one.target_group_arn),
            _ => None,
        }
    }
}

/// Content types a fixed-response action may declare.
pub const FIXED_RESPONSE_CONTENT_TYPES: [&str; 5] =
    ["text/plain", "text/css", "text/html", "application/javascript", "application/json"];

/// `FixedResponseConfig`: status `2XX|4XX|5XX`, optional content type, body ≤1024.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedResponse {
    pub status_code: u16,
    pub content_type: Option<String>,
    pub message_body: Option<String>,
}

/// `RedirectConfig`. Each component may reuse the request's with `#{protocol}`,
/// `#{host}`, `#{port}`, `#{path}` (without its leading `/`) and `#{query}`;
/// AWS's defaults keep every component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub protocol: String,
    pub host: String,
    pub port: String,
    pub path: String,
    pub query: String,
    /// 301 (`HTTP_301`) or 302 (`HTTP_302`).
    pub status_code: u16,
}

impl Default for Redirect {
    fn default() -> Self {
        Redirect {
            protocol: "#{protocol}".into(),
            host: "#{host}".into(),
            port: "#{port}".into(),
            path: "/#{path}".into(),
            query: "#{query}".into(),
            status_code: 301,
        }
    }
}

/// The parts of a request a redirect can reuse.
#[derive(Debug, Clone, Copy)]
pub struct RedirectSource<'a> {
    /// `HTTP` or `HTTPS`.
    pub protocol: &'a str,
    /// Host header without the port.
    pub host: &'a str,
    pub port: u16,
    /// The path with its leading `/`.
    pub path: &'a str,
    /// The query without `?`, possibly empty.
    pub query: &'a str,
}

impl Redirect {
    /// Parses `HTTP_301`/`HTTP_302`.
    pub fn parse_status(s: &str) -> AwsResult<u16> {
        match s {
            "HTTP_301" => Ok(301),
            "HTTP_302" => Ok(302),
            _ => Err(AwsError::validation(format!(
                "'{s}' is not a valid redirect status code; valid values: HTTP_301, HTTP_302"
            ))),
        }
    }

    /// The `Location` for a request, AWS-style: placeholders substituted, the port
    /// left out when it is the protocol's default, `?query` only when non-empty.
    pub fn location(&self, src: RedirectSource<'_>) -> String {
        let port_s = src.port.to_string();
        let path_no_slash = src.path.strip_prefix('/').unwrap_or(src.path);
        let subst = |template: &str| -> String {
            template
                .replace("#{protocol}", src.protocol)
                .replace("#{host}", src.host)
                .replace("#{port}", &port_s)
                .replace("#{path}", path_no_slash)
                .replace("#{query}", src.query)
        };
        let protocol = subst(&self.protocol).to_ascii_uppercase();
        let host = subst(&self.host);
        let port = subst(&self.port);
        let path = subst(&self.path);
        let query = subst(&self.query);
        let scheme = protocol.to_ascii_lowercase();
        let default_port =
            matches!((protocol.as_str(), port.as_str()), ("HTTP", "80") | ("HTTPS", "443"));
        let mut url = format!("{scheme}://{host}");
        if !default_port {
            url.push(':');
            url.push_str(&port);
        }
        if !path.starts_with('/') {
            url.push('/');
        }
        url.push_str(&path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        url
    }
}

/// Validates an action list: exactly one terminal action (Shoal has no authenticate
/// actions), and each action's own rules.
pub fn validate_actions(actions: &[Action]) -> AwsResult<()> {
    match actions {
        [] => Err(AwsError::validation("At least one action must be specified")),
        [one] => validate_action(one),
        _ => Err(AwsError::new(
            ErrorCode::InvalidLoadBalancerAction,
            "You can specify only one terminal action: forward, redirect or fixed-response",
        )),
    }
}

fn validate_action(action: &Action) -> AwsResult<()> {
    match action {
        Action::Forward(f) => {
            if f.target_groups.is_empty() {
                return Err(AwsError::validation(
                    "A forward action must specify a target group ARN or a forward config",
                ));
            }
            if f.target_groups.len() > MAX_TARGET_GROUPS_PER_FORWARD {
                return Err(AwsError::new(
                    ErrorCode::TooManyTargetGroups,
                    "A forward action can have at most 5 target groups",
                ));
            }
            for (i, tg) in f.target_groups.iter().enumerate() {
                if tg.weight > 999 {
                    return Err(AwsError::validation(format!(
                        "Target group weight '{}' must be between 0 and 999",
                        tg.weight
                    )));
                }
                if f.target_groups[..i].iter().any(|o| o.target_group_arn == tg.target_group_arn) {
                    return Err(AwsError::validation(format!(
                        "Target group '{}' is specified more than once in the forward config",
                        tg.target_group_arn
                    )));
                }
            }
            if let Some(d) = f.stickiness_seconds {
                if !(1..=604_800).contains(&d) {
                    return Err(AwsError::validation(format!(
                        "Target group stickiness duration '{d}' must be between 1 and 604800 seconds"
                    )));
                }
            }
            Ok(())
        }
        Action::FixedResponse(fr) => {
            if !matches!(fr.status_code / 100, 2 | 4 | 5) || fr.status_code > 599 {
                return Err(AwsError::validation(format!(
                    "Fixed response status code '{}' must be 2XX, 4XX or 5XX",
                    fr.status_code
                )));
            }
            if let Some(ct) = &fr.content_type {
                if !FIXED_RESPONSE_CONTENT_TYPES.contains(&ct.as_str()) {
                    return Err(AwsError::validation(format!(
                        "Content type '{ct}' is not valid; valid values: {}",
                        FIXED_RESPONSE_CONTENT_TYPES.join(", ")
                    )));
                }
            }
            if fr.message_body.as_ref().is_some_and(|b| b.len() > 1024) {
                return Err(AwsError::validation(
                    "Fixed response message body cannot exceed 1024 characters",
                ));
            }
            Ok(())
        }
        Action::Redirect(r) => {
            if !matches!(r.status_code, 301 | 302) {
                return Err(AwsError::validation(
                    "Redirect status code must be HTTP_301 or HTTP_302",
                ));
            }
            if !matches!(r.protocol.as_str(), "HTTP" | "HTTPS" | "#{protocol}") {
                return Err(AwsError::validation(format!(
                    "Redirect protocol '{}' must be HTTP, HTTPS or #{{protocol}}",
                    r.protocol
                )));
            }
            if r.port != "#{port}" && !r.port.parse::<u16>().is_ok_and(|p| p >= 1) {
                return Err(AwsError::validation(format!(
                    "Redirect port '{}' must be between 1 and 65535 or #{{port}}",
                    r.port
                )));
            }
            if !r.path.starts_with('/') {
                return Err(AwsError::validation("Redirect path must start with a '/'"));
            }
            if r.query.starts_with('?') {
                return Err(AwsError::validation("Redirect query must not start with a '?'"));
            }
            for part in [&r.host, &r.path, &r.query] {
                if part.len() > 128 {
                    return Err(AwsError::validation(
                        "Redirect components cannot exceed 128 characters",
                    ));
                }
            }
            let unchanged = r.protocol == "#{protocol}"
                && r.host == "#{host}"
                && r.port == "#{port}"
                && r.path == "/#{path}";
            if unchanged {
                return Err(AwsError::new(
                    ErrorCode::InvalidLoadBalancerAction,
                    "The redirect configuration is not valid because it creates a loop: change at least one of protocol, host, port or path",
                ));
            }
            Ok(())
        }
    }
}

/// Weighted pick: the index whose cumulative weight range holds `r`, where `r` is
/// uniform in `0..total` (the caller draws it). `None` when every weight is 0.
/// AWS splits weighted forwards in proportion to the weights this way.
pub fn pick_weighted(weights: impl IntoIterator<Item = u32> + Clone, r: u32) -> Option<usize> {
    let total: u32 = weights.clone().into_iter().sum();
    if total == 0 {
        return None;
    }
    let mut r = r % total;
    for (i, w) in weights.into_iter().enumerate() {
        if r < w {
            return Some(i);
        }
        r -= w;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fr(code: u16, ct: Option<&str>, body: Option<String>) -> Action {
        Action::FixedResponse(FixedResponse {
            status_code: code,
            content_type: ct.map(str::to_string),
            message_body: body,
        })
    }

    #[test]
    fn validation() {
        let weighted = |w: &[u32]| {
            Action::Forward(ForwardConfig {
                target_groups: w
                    .iter()
                    .enumerate()
                    .map(|(i, w)| WeightedTargetGroup {
                        target_group_arn: format!("tg{i}"),
                        weight: *w,
                    })
                    .collect(),
                stickiness_seconds: None,
            })
        };
        let redirect = |f: fn(&mut Redirect)| {
            let mut r = Redirect::default();
            f(&mut r);
            Action::Redirect(r)
        };
        let cases: Vec<(Action, bool)> = vec![
            (Action::Forward(ForwardConfig::single("tg")), true),
            (weighted(&[1, 0]), true),
            (weighted(&[999, 999]), true),
            (weighted(&[1000]), false),
            (weighted(&[]), false),
            (weighted(&[1, 1, 1, 1, 1, 1]), false),
            (
                Action::Forward(ForwardConfig {
                    stickiness_seconds: Some(0),
                    ..ForwardConfig::single("tg")
                }),
                false,
            ),
            (fr(200, Some("text/plain"), Some("ok".into())), true),
            (fr(404, None, None), true),
            (fr(503, Some("application/json"), None), true),
            (fr(302, None, None), false),
            (fr(600, None, None), false),
            (fr(200, Some("image/png"), None), false),
            (fr(200, None, Some("x".repeat(1024))), true),
            (fr(200, None, Some("x".repeat(1025))), false),
            (redirect(|_| {}), false),
            (redirect(|r| r.protocol = "HTTPS".into()), true),
            (redirect(|r| r.port = "8080".into()), true),
            (redirect(|r| r.port = "0".into()), false),
            (redirect(|r| r.path = "/new/#{path}".into()), true),
            (redirect(|r| r.path = "new".into()), false),
            (redirect(|r| r.query = "?a=1".into()), false),
            (redirect(|r| r.protocol = "FTP".into()), false),
            (
                redirect(|r| {
                    r.host = "example.com".into();
                    r.status_code = 307
                }),
                false,
            ),
        ];
        for (a, ok) in cases {
            assert_eq!(validate_actions(std::slice::from_ref(&a)).is_ok(), ok, "{a:?}");
        }
        let two = [fr(200, None, None), fr(200, None, None)];
        assert!(validate_actions(&two).is_err());
        assert!(validate_actions(&[]).is_err());
    }

    #[test]
    fn redirect_location() {
        let src = RedirectSource {
            protocol: "HTTP",
            host: "example.com",
            port: 80,
            path: "/a/b",
            query: "x=1",
        };
        type Case = (fn(&mut Redirect), &'static str);
        let cases: &[Case] = &[
            (|r| r.protocol = "HTTPS".into(), "https://example.com:80/a/b?x=1"),
            (
                |r| {
                    r.protocol = "HTTPS".into();
                    r.port = "443".into()
                },
                "https://example.com/a/b?x=1",
            ),
            (|r| r.host = "new.#{host}".into(), "http://new.example.com/a/b?x=1"),
            (
                |r| {
                    r.path = "/v2/#{path}".into();
                    r.query = "".into()
                },
                "http://example.com/v2/a/b",
            ),
            (|r| r.port = "8080".into(), "http://example.com:8080/a/b?x=1"),
        ];
        for (f, want) in cases {
            let mut r = Redirect::default();
            f(&mut r);
            assert_eq!(r.location(src), *want);
        }
    }

    #[test]
    fn weighted() {
        assert_eq!(pick_weighted([0u32, 0], 0), None);
        let w = [1u32, 3];
        let picks: Vec<_> = (0..4).map(|r| pick_weighted(w, r).unwrap()).collect();
        assert_eq!(picks, vec![0, 1, 1, 1]);
        assert_eq!(pick_weighted([0u32, 5], 3), Some(1));
        assert_eq!(pick_weighted([5u32, 0], 4), Some(0));
    }
}
