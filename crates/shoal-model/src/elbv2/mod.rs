//! Elastic Load Balancing v2 (Application Load Balancer): load balancers, listeners,
//! rules, target groups and the target-health state machine.
//!
//! # Layout
//! - [`load_balancer`]: names, ARNs, DNS names, states and the LB attributes.
//! - [`listener`]: listeners and the duplicate-port rule.
//! - [`actions`]: forward (weighted), fixed-response and redirect actions, their
//!   validation, weighted selection and redirect URL building.
//! - [`conditions`]: rule conditions, AWS wildcard matching and rule priorities.
//! - [`target_group`]: target groups, health-check settings, the matcher, target
//!   group attributes and target registration rules.
//! - [`health`]: the target health state machine and AWS's reason codes.
//!
//! Everything here is pure: the proxy (data plane) and the API front both call it, so
//! what the API accepts is exactly what the proxy can serve.

pub mod actions;
pub mod conditions;
pub mod health;
pub mod listener;
pub mod load_balancer;
pub mod target_group;

pub use actions::{Action, FixedResponse, ForwardConfig, Redirect, WeightedTargetGroup};
pub use conditions::{Condition, HeaderValues, RequestView, Rule, RulePriority};
pub use health::{
    CheckOutcome, HealthCounter, TargetHealth, TargetHealthReason, TargetHealthState,
};
pub use listener::Listener;
pub use load_balancer::{
    LoadBalancer, LoadBalancerAttributes, LoadBalancerInterface, LoadBalancerState, Scheme,
};
pub use target_group::{
    Algorithm, HealthCheck, Matcher, RegisteredTarget, TargetDescription, TargetGroup,
    TargetGroupAttributes, TargetType,
};

use crate::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::tags::Tag;
use crate::{AwsError, AwsResult};

/// Most tags one ELBv2 resource may carry (`TooManyTags`).
pub const MAX_TAGS: usize = 50;

/// ELBv2's pattern for tag keys and values (its service model's `TagKey`/`TagValue`).
pub const TAG_PATTERN: &str = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$";

/// A character [`TAG_PATTERN`] allows: a letter, a space separator, a number, or one
/// of `_.:/=+-@`.
fn tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || "_.:/=+-@".contains(c)
}

/// The tags of one ELBv2 resource (load balancer, target group, listener or rule),
/// keyed by its ARN: AddTags/RemoveTags/DescribeTags work on ARNs of any kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceTags {
    pub arn: String,
    pub tags: Vec<Tag>,
}

impl ResourceTags {
    /// AddTags: sets each key (replacing its value), validated whole first. AWS
    /// refuses a request repeating a key (`DuplicateTagKeys`) and more than
    /// [`MAX_TAGS`] tags in all (`TooManyTags`).
    pub fn add(&mut self, tags: &[Tag]) -> AwsResult<()> {
        for (i, t) in tags.iter().enumerate() {
            if tags[..i].iter().any(|o| o.key == t.key) {
                return Err(AwsError::new(
                    ErrorCode::DuplicateTagKeys,
                    format!("Tag key '{}' is specified more than once", t.key),
                ));
            }
            if t.key.is_empty() || t.key.chars().count() > 128 || t.value.chars().count() > 256 {
                return Err(AwsError::validation(format!(
                    "Tag key '{}' must be 1-128 characters and its value at most 256",
                    t.key.escape_debug()
                )));
            }
            for (field, text) in [("key", &t.key), ("value", &t.value)] {
                if !text.chars().all(tag_char) {
                    return Err(AwsError::validation(format!(
                        "1 validation error detected: Value '{}' at 'tags.{}.member.{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {TAG_PATTERN}",
                        text.escape_debug(),
                        i + 1
                    )));
                }
            }
        }
        let mut next = self.tags.clone();
        for t in tags {
            match next.iter_mut().find(|o| o.key == t.key) {
                Some(o) => o.value = t.value.clone(),
                None => next.push(t.clone()),
            }
        }
        if next.len() > MAX_TAGS {
            return Err(AwsError::new(
                ErrorCode::TooManyTags,
                format!("A resource can have at most {MAX_TAGS} tags"),
            ));
        }
        self.tags = next;
        Ok(())
    }

    /// RemoveTags: keys not present are ignored, as in AWS.
    pub fn remove(&mut self, keys: &[String]) {
        self.tags.retain(|t| !keys.contains(&t.key));
    }
}

/// The 16 lowercase hex digits ending every ELBv2 ARN (`.../app/my-lb/50dc6c495c0c9188`).
/// The caller supplies the randomness: the model does none.
pub fn resource_id(random: u64) -> String {
    format!("{random:016x}")
}

/// Validates a load balancer or target group name as AWS does: 1–32 characters,
/// ASCII letters, digits and hyphens, not beginning or ending with a hyphen.
/// `kind` is AWS's word for the resource in messages ("Load balancer", "Target group").
fn validate_resource_name(kind: &str, name: &str) -> AwsResult<()> {
    if name.is_empty() {
        return Err(AwsError::validation(format!("{kind} name cannot be empty")));
    }
    if name.len() > 32 {
        return Err(AwsError::validation(format!(
            "{kind} name '{name}' cannot be longer than '32' characters"
        )));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(AwsError::validation(format!(
            "{kind} name '{name}' can only contain characters that are alphanumeric characters or hyphens(-)"
        )));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(AwsError::validation(format!(
            "{kind} name '{name}' cannot begin or end with '-' character"
        )));
    }
    Ok(())
}

fn parse_bool(key: &str, value: &str) -> AwsResult<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(AwsError::validation(format!(
            "Attribute '{key}' must be 'true' or 'false'; got '{value}'"
        ))),
    }
}

fn parse_range(key: &str, value: &str, min: u64, max: u64) -> AwsResult<u64> {
    match value.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(AwsError::validation(format!(
            "'{value}' is not a valid value for attribute '{key}': it must be an integer from {min} to {max}"
        ))),
    }
}

fn unknown_attribute(key: &str) -> AwsError {
    AwsError::validation(format!("Attribute key '{key}' is not recognized"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        let mut r = ResourceTags { arn: "arn".into(), tags: vec![Tag::new("a", "1")] };
        r.add(&[Tag::new("a", "2"), Tag::new("b", "3")]).unwrap();
        assert_eq!(r.tags, vec![Tag::new("a", "2"), Tag::new("b", "3")]);
        let err = r.add(&[Tag::new("c", ""), Tag::new("c", "x")]).unwrap_err();
        assert_eq!(err.code, "DuplicateTagKeys");
        let many: Vec<Tag> = (0..49).map(|i| Tag::new(format!("k{i}"), "")).collect();
        assert_eq!(r.add(&many).unwrap_err().code, "TooManyTags");
        r.add(&[Tag::new("Näme 1", "a_b.c:d/e=f+g-h@i ü")]).unwrap();
        r.remove(&["Näme 1".into()]);
        for bad in [
            Tag::new("k", "a\0b"),
            Tag::new("\u{1}", "v"),
            Tag::new("", "v"),
            Tag::new("k", "a,b"),
            Tag::new("k!", "v"),
            Tag::new("k", "tab\there"),
        ] {
            assert_eq!(r.add(&[bad]).unwrap_err().code, "ValidationError");
        }
        assert_eq!(r.tags.len(), 2, "a refused AddTags changes nothing");
        r.remove(&["a".into(), "zz".into()]);
        assert_eq!(r.tags, vec![Tag::new("b", "3")]);
    }
}
