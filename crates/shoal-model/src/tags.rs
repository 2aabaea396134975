//! Resource tags, shared by EC2, Auto Scaling and ELBv2.

use serde::{Deserialize, Serialize};

use crate::{AwsError, AwsResult};

/// A key/value tag. AWS keys are 1–128 characters, values 0–256, and keys starting
/// with `aws:` are reserved for AWS itself (Auto Scaling's `aws:autoscaling:groupName`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag { key: key.into(), value: value.into() }
    }
}

/// Validates tags a user supplies: AWS rejects empty or over-long keys and values,
/// and `aws:`-prefixed keys (`InvalidParameterValue` in EC2).
pub fn validate_user_tags(tags: &[Tag]) -> AwsResult<()> {
    for tag in tags {
        if tag.key.is_empty() || tag.key.chars().count() > 128 {
            return Err(AwsError::invalid_parameter_value(format!(
                "Tag key must be between 1 and 128 characters: '{}'",
                tag.key
            )));
        }
        if tag.value.chars().count() > 256 {
            return Err(AwsError::invalid_parameter_value(format!(
                "Tag value for key '{}' exceeds 256 characters",
                tag.key
            )));
        }
        // EC2 allows any Unicode in tags, but only what XML 1.0 can carry can ever be
        // described again (a stored NUL would make every DescribeTags unparseable).
        if !crate::text::is_xml_text(&tag.key) || !crate::text::is_xml_text(&tag.value) {
            return Err(AwsError::invalid_parameter_value(format!(
                "Tag for key '{}' contains characters that are not allowed",
                tag.key.escape_debug()
            )));
        }
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(AwsError::invalid_parameter_value(
                "Tag keys starting with 'aws:' are reserved for internal use",
            ));
        }
    }
    Ok(())
}

/// Sets each tag in `updates` on `tags`, replacing the value of a key already present
/// (CreateTags overwrites, it never duplicates a key).
pub fn upsert(tags: &mut Vec<Tag>, updates: &[Tag]) {
    for update in updates {
        match tags.iter_mut().find(|t| t.key == update.key) {
            Some(existing) => existing.value = update.value.clone(),
            None => tags.push(update.clone()),
        }
    }
}

/// DeleteTags: removes a key; when a value is given, only if the value matches.
pub fn remove(tags: &mut Vec<Tag>, key: &str, value: Option<&str>) {
    tags.retain(|t| !(t.key == key && value.is_none_or(|v| v == t.value)));
}

/// The value of tag `key`, if set.
pub fn get<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_replaces_and_appends() {
        let mut tags = vec![Tag::new("Name", "a")];
        upsert(&mut tags, &[Tag::new("Name", "b"), Tag::new("env", "lab")]);
        assert_eq!(tags, vec![Tag::new("Name", "b"), Tag::new("env", "lab")]);
    }

    #[test]
    fn remove_honours_value() {
        let mut tags = vec![Tag::new("Name", "a"), Tag::new("env", "lab")];
        remove(&mut tags, "Name", Some("other"));
        assert_eq!(tags.len(), 2);
        remove(&mut tags, "Name", None);
        assert_eq!(tags, vec![Tag::new("env", "lab")]);
    }

    #[test]
    fn reserved_and_long_keys_are_rejected() {
        assert!(validate_user_tags(&[Tag::new("aws:x", "1")]).is_err());
        assert!(validate_user_tags(&[Tag::new("", "1")]).is_err());
        assert!(validate_user_tags(&[Tag::new("k".repeat(129), "1")]).is_err());
        assert!(validate_user_tags(&[Tag::new("Name", "v".repeat(256))]).is_ok());
        assert!(validate_user_tags(&[Tag::new("Name", "v".repeat(257))]).is_err());
        assert!(validate_user_tags(&[Tag::new("Name", "a\0b")]).is_err());
        assert!(validate_user_tags(&[Tag::new("a\u{1}", "b")]).is_err());
        assert!(validate_user_tags(&[Tag::new("Näme ✓", "ünï 😀")]).is_ok());
        assert!(validate_user_tags(&[Tag::new("Name", "")]).is_ok());
    }
}
