//! Listener rules: priorities, conditions with AWS's wildcard semantics, and matching.

use crate::ErrorCode;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::actions::{validate_actions, Action};
use crate::{AwsError, AwsResult};

/// Most condition values one rule may hold in total (AWS: five match evaluations).
pub const MAX_CONDITION_VALUES: usize = 5;

/// A rule's priority: 1–50000 (lowest first) or the listener's `default` rule, which
/// has no conditions and is evaluated last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RulePriority {
    Number(u32),
    Default,
}

impl RulePriority {
    /// AWS's wire value: the number, or `default`.
    pub fn to_wire(self) -> String {
        match self {
            RulePriority::Number(n) => n.to_string(),
            RulePriority::Default => "default".into(),
        }
    }

    /// The access log's `matched_rule_priority`: 0 for the default rule.
    pub fn log_value(self) -> u32 {
        match self {
            RulePriority::Number(n) => n,
            RulePriority::Default => 0,
        }
    }
}

/// A listener rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub arn: String,
    pub priority: RulePriority,
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
}

/// One rule condition. Values within a condition are ORed, conditions are ANDed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    /// Path only (no query), case-sensitive, `*`/`?` wildcards.
    PathPattern(Vec<String>),
    /// Host header without port, case-insensitive, wildcards.
    HostHeader(Vec<String>),
    /// A header by name; values case-insensitive with wildcards.
    HttpHeader { name: String, values: Vec<String> },
    /// Exact, case-sensitive method names.
    HttpRequestMethod(Vec<String>),
    /// `key=value` pairs (key optional), case-insensitive, wildcards.
    QueryString(Vec<(Option<String>, String)>),
    /// Client address in any of these CIDR blocks.
    SourceIp(Vec<Cidr>),
}

impl Condition {
    /// AWS's `Field` name.
    pub fn field(&self) -> &'static str {
        match self {
            Condition::PathPattern(_) => "path-pattern",
            Condition::HostHeader(_) => "host-header",
            Condition::HttpHeader { .. } => "http-header",
            Condition::HttpRequestMethod(_) => "http-request-method",
            Condition::QueryString(_) => "query-string",
            Condition::SourceIp(_) => "source-ip",
        }
    }

    fn value_count(&self) -> usize {
        match self {
            Condition::PathPattern(v)
            | Condition::HostHeader(v)
            | Condition::HttpRequestMethod(v) => v.len(),
            Condition::HttpHeader { values, .. } => values.len(),
            Condition::QueryString(v) => v.len(),
            Condition::SourceIp(v) => v.len(),
        }
    }
}

/// An IPv4 or IPv6 CIDR block for `source-ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n` or an IPv6 block.
    pub fn parse(s: &str) -> AwsResult<Cidr> {
        let bad = || AwsError::validation(format!("The source IP '{s}' is not a valid CIDR block"));
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` lies in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask =
                    if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask =
                    if self.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(self.prefix)) };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Validates a rule priority number (1–50000) and that no other rule of the listener
/// holds it (`PriorityInUse`).
pub fn check_rule_priority(
    existing: impl IntoIterator<Item = u32>,
    priority: u32,
) -> AwsResult<()> {
    if !(1..=50_000).contains(&priority) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{priority}' at 'priority' failed to satisfy constraint: Member must have value between 1 and 50000"
        )));
    }
    if existing.into_iter().any(|p| p == priority) {
        return Err(AwsError::new(
            ErrorCode::PriorityInUse,
            format!("Priority '{priority}' is currently in use"),
        ));
    }
    Ok(())
}

/// CreateRule: a valid priority not in use, 1+ valid conditions, valid actions.
pub fn check_new_rule(
    existing_priorities: impl IntoIterator<Item = u32>,
    priority: u32,
    conditions: &[Condition],
    actions: &[Action],
) -> AwsResult<()> {
    check_rule_priority(existing_priorities, priority)?;
    validate_conditions(conditions)?;
    validate_actions(actions)
}

/// Validates conditions as AWS does: at least one; each value 1–128 characters
/// with the field's allowed characters; at most [`MAX_CONDITION_VALUES`] values per
/// rule; one `host-header`, `path-pattern`, `http-request-method` condition each.
pub fn validate_conditions(conditions: &[Condition]) -> AwsResult<()> {
    if conditions.is_empty() {
        return Err(AwsError::validation("A rule must have at least one condition"));
    }
    let total: usize = conditions.iter().map(Condition::value_count).sum();
    if total > MAX_CONDITION_VALUES {
        return Err(AwsError::new(
            ErrorCode::TooManyConditionValues,
            format!("A rule can only have '{MAX_CONDITION_VALUES}' condition values"),
        ));
    }
    for (i, c) in conditions.iter().enumerate() {
        if c.value_count() == 0 {
            return Err(AwsError::validation(format!(
                "A '{}' condition must have at least one value",
                c.field()
            )));
        }
        let repeats = conditions[..i].iter().any(|o| o.field() == c.field());
        if repeats && !matches!(c, Condition::HttpHeader { .. } | Condition::QueryString(_)) {
            return Err(AwsError::validation(format!(
                "A rule can only have one '{}' condition",
                c.field()
            )));
        }
        let check = |v: &str, allowed: &dyn Fn(char) -> bool| -> AwsResult<()> {
            if v.is_empty() || v.chars().count() > 128 || !v.chars().all(allowed) {
                return Err(AwsError::validation(format!(
                    "Condition value '{v}' for '{}' must be 1-128 characters and use only allowed characters",
                    c.field()
                )));
            }
            Ok(())
        };
        match c {
            Condition::PathPattern(vs) => {
                for v in vs {
                    check(v, &|ch| {
                        ch.is_ascii_alphanumeric() || "_-.$/~\"'@:+&*?;=%,()!".contains(ch)
                    })?;
                }
            }
            Condition::HostHeader(vs) => {
                for v in vs {
                    check(v, &|ch| ch.is_ascii_alphanumeric() || "-.*?".contains(ch))?;
                }
            }
            Condition::HttpHeader { name, values } => {
                check(name, &|ch| ch.is_ascii_alphanumeric() || "-_!#$%&'+.^`|~".contains(ch))?;
                for v in values {
                    check(v, &|ch| !ch.is_control())?;
                }
            }
            Condition::HttpRequestMethod(vs) => {
                for v in vs {
                    check(v, &|ch| ch.is_ascii_uppercase() || ch == '-' || ch == '_')?;
                }
            }
            Condition::QueryString(vs) => {
                for (k, v) in vs {
                    if let Some(k) = k {
                        check(k, &|ch| !ch.is_control())?;
                    }
                    check(v, &|ch| !ch.is_control())?;
                }
            }
            Condition::SourceIp(_) => {}
        }
    }
    Ok(())
}

/// What rule matching needs from a request: parts borrowed from the proxy's own
/// request type (the model stays free of HTTP crates), built once per request.
#[derive(Clone, Copy)]
pub struct RequestView<'a> {
    pub method: &'a str,
    /// The Host header without the port (or the URI authority's host).
    pub host: Option<&'a str>,
    pub path: &'a str,
    /// The raw query string without `?`.
    pub query: Option<&'a str>,
    pub source_ip: IpAddr,
    pub headers: &'a dyn HeaderValues,
}

/// A request's headers as the proxy holds them (read only by `http-header`
/// conditions, so they are looked up, never copied).
pub trait HeaderValues {
    /// Calls `f` on each value of header `name` until it returns true; returns whether it did.
    fn any_value(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool;
}

/// Whether a request satisfies every condition of a rule (an empty list matches:
/// that is the default rule).
pub fn matches(conditions: &[Condition], req: &RequestView<'_>) -> bool {
    conditions.iter().all(|c| condition_matches(c, req))
}

fn condition_matches(c: &Condition, req: &RequestView<'_>) -> bool {
    match c {
        Condition::PathPattern(vs) => vs.iter().any(|p| wildcard_match(p, req.path, false)),
        Condition::HostHeader(vs) => {
            req.host.is_some_and(|h| vs.iter().any(|p| wildcard_match(p, h, true)))
        }
        Condition::HttpHeader { name, values } => {
            req.headers.any_value(name, &mut |v| values.iter().any(|p| wildcard_match(p, v, true)))
        }
        Condition::HttpRequestMethod(vs) => vs.iter().any(|m| m == req.method),
        Condition::QueryString(vs) => {
            let Some(q) = req.query else { return false };
            vs.iter().any(|(k, v)| {
                q.split('&').any(|pair| {
                    let (pk, pv) = pair.split_once('=').unwrap_or((pair, ""));
                    match k {
                        Some(k) => wildcard_match(k, pk, true) && wildcard_match(v, pv, true),
                        // A value-only condition matches any key's value.
                        None => wildcard_match(v, pv, true),
                    }
                })
            })
        }
        Condition::SourceIp(cidrs) => cidrs.iter().any(|c| c.contains(req.source_ip)),
    }
}

/// AWS's wildcard match: `*` matches any run of characters (including none), `?`
/// exactly one; everything else literally. `*.example.com` does not match
/// `example.com`. Linear-time greedy matching with one backtrack point, no allocation.
pub fn wildcard_match(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let eq = |a: u8, b: u8| if case_insensitive { a.eq_ignore_ascii_case(&b) } else { a == b };
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == b'?' || eq(p[pi], t[ti])) {
            // `?` matches one byte; good enough for the ASCII AWS allows in patterns,
            // and a non-ASCII text char only ever matches `*` runs consistently.
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Headers(&'static [(&'static str, &'static str)]);

    impl HeaderValues for Headers {
        fn any_value(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
            self.0.iter().any(|(n, v)| n.eq_ignore_ascii_case(name) && f(v))
        }
    }

    static HEADERS: Headers = Headers(&[("User-Agent", "Mozilla/5.0 Chrome"), ("X-Env", "beta")]);

    fn req() -> RequestView<'static> {
        RequestView {
            method: "GET",
            host: Some("www.Example.com"),
            path: "/api/v1/users",
            query: Some("version=v1&debug"),
            source_ip: "127.0.0.1".parse().unwrap(),
            headers: &HEADERS,
        }
    }

    #[test]
    fn wildcards() {
        let cases: &[(&str, &str, bool, bool)] = &[
            ("/api/*", "/api/v1/users", false, true),
            ("/api/*", "/api", false, false),
            ("/API/*", "/api/x", false, false),
            ("/API/*", "/api/x", true, true),
            ("*.example.com", "www.example.com", true, true),
            ("*.example.com", "example.com", true, false),
            ("/img/?.png", "/img/a.png", false, true),
            ("/img/?.png", "/img/ab.png", false, false),
            ("*", "", false, true),
            ("a*b*c", "aXXbYYc", false, true),
            ("a*b*c", "aXXbYY", false, false),
            ("*a", "aaaa", false, true),
            ("/health", "/health", false, true),
            ("/health", "/healthz", false, false),
        ];
        for (p, t, ci, want) in cases {
            assert_eq!(wildcard_match(p, t, *ci), *want, "{p} vs {t}");
        }
    }

    #[test]
    fn matching() {
        let r = req();
        let cases: Vec<(Vec<Condition>, bool)> = vec![
            (vec![], true),
            (vec![Condition::PathPattern(vec!["/api/*".into()])], true),
            (vec![Condition::PathPattern(vec!["/img/*".into(), "/api/v1/*".into()])], true),
            (vec![Condition::PathPattern(vec!["/img/*".into()])], false),
            (vec![Condition::HostHeader(vec!["*.example.com".into()])], true),
            (vec![Condition::HostHeader(vec!["example.com".into()])], false),
            (
                vec![
                    Condition::HostHeader(vec!["www.example.com".into()]),
                    Condition::PathPattern(vec!["/img/*".into()]),
                ],
                false,
            ),
            (
                vec![Condition::HttpHeader {
                    name: "user-agent".into(),
                    values: vec!["*chrome*".into()],
                }],
                true,
            ),
            (
                vec![Condition::HttpHeader { name: "X-Env".into(), values: vec!["prod".into()] }],
                false,
            ),
            (
                vec![Condition::HttpHeader { name: "X-Missing".into(), values: vec!["*".into()] }],
                false,
            ),
            (vec![Condition::HttpRequestMethod(vec!["GET".into(), "HEAD".into()])], true),
            (vec![Condition::HttpRequestMethod(vec!["get".into()])], false),
            (vec![Condition::QueryString(vec![(Some("version".into()), "v1".into())])], true),
            (vec![Condition::QueryString(vec![(Some("VERSION".into()), "V*".into())])], true),
            (vec![Condition::QueryString(vec![(None, "v1".into())])], true),
            (vec![Condition::QueryString(vec![(Some("version".into()), "v2".into())])], false),
            (vec![Condition::SourceIp(vec![Cidr::parse("127.0.0.0/8").unwrap()])], true),
            (vec![Condition::SourceIp(vec![Cidr::parse("10.0.0.0/8").unwrap()])], false),
            (vec![Condition::SourceIp(vec![Cidr::parse("::/0").unwrap()])], false),
        ];
        for (conds, want) in cases {
            assert_eq!(matches(&conds, &r), want, "{conds:?}");
        }
    }

    #[test]
    fn validation() {
        let cases: Vec<(Vec<Condition>, bool)> = vec![
            (vec![], false),
            (vec![Condition::PathPattern(vec!["/api/*".into()])], true),
            (vec![Condition::PathPattern(vec![])], false),
            (vec![Condition::PathPattern(vec!["x".repeat(129)])], false),
            (vec![Condition::PathPattern(vec!["/a b".into()])], false),
            (vec![Condition::HostHeader(vec!["*.example.com".into()])], true),
            (vec![Condition::HostHeader(vec!["ex_ample.com".into()])], false),
            (vec![Condition::HttpRequestMethod(vec!["get".into()])], false),
            (vec![Condition::PathPattern(vec!["/a".into(); 6])], false),
            (
                vec![
                    Condition::PathPattern(vec!["/a".into()]),
                    Condition::PathPattern(vec!["/b".into()]),
                ],
                false,
            ),
        ];
        for (conds, ok) in cases {
            assert_eq!(validate_conditions(&conds).is_ok(), ok, "{conds:?}");
        }
        assert!(check_rule_priority([10], 10).is_err_and(|e| e.code == "PriorityInUse"));
        assert!(check_rule_priority([10], 0).is_err_and(|e| e.code == "ValidationError"));
        assert!(check_rule_priority([10], 50_001).is_err());
        assert!(check_rule_priority([10], 50_000).is_ok());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0.0").is_err());
        assert_eq!(RulePriority::Default.log_value(), 0);
        assert!(RulePriority::Number(50_000) < RulePriority::Default);
    }
}
