//! Describe-call filters: `Filter.N.Name` with `Filter.N.Value.M`.
//!
//! AWS semantics: values within one filter are ORed, filters are ANDed, values may use
//! `*` (any run) and `?` (one character) wildcards, and `tag:<key>` / `tag-key` filter
//! on tags. Each resource says which names it knows through a [`Filterable`] impl.

use crate::error::{AwsError, AwsResult};
use crate::tags::Tag;

/// One filter of a Describe request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

/// A resource that Describe filters can select. `field` returns the resource's values
/// for a filter name (several for list-valued fields), or `None` for a name it does not
/// support — which AWS answers with `InvalidParameterValue`.
pub trait Filterable {
    fn field(&self, name: &str) -> Option<Vec<String>>;
    fn tags(&self) -> &[Tag];
}

/// True when `resource` passes every filter. An unknown filter name is EC2's
/// `InvalidParameterValue`, `The filter '<name>' is invalid`.
pub fn matches<R: Filterable>(resource: &R, filters: &[Filter]) -> AwsResult<bool> {
    for filter in filters {
        let values: Vec<String> = if let Some(key) = filter.name.strip_prefix("tag:") {
            resource.tags().iter().filter(|t| t.key == key).map(|t| t.value.clone()).collect()
        } else if filter.name == "tag-key" {
            resource.tags().iter().map(|t| t.key.clone()).collect()
        } else if filter.name == "tag-value" {
            resource.tags().iter().map(|t| t.value.clone()).collect()
        } else {
            match resource.field(&filter.name) {
                Some(v) => v,
                None => return Err(invalid_filter(&filter.name)),
            }
        };
        let hit =
            filter.values.iter().any(|pattern| values.iter().any(|v| wildcard_match(pattern, v)));
        if !hit {
            return Ok(false);
        }
    }
    Ok(true)
}

/// EC2's answer to a filter name the resource does not know.
pub fn invalid_filter(name: &str) -> AwsError {
    AwsError::invalid_parameter_value(format!("The filter '{name}' is invalid"))
}

/// AWS filter wildcards: `*` matches any run of characters, `?` exactly one; `\`
/// escapes either.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last star: linear in practice.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let (token, width, literal) = match p.get(pi) {
            Some('\\') if pi + 1 < p.len() => (Some(p[pi + 1]), 2, true),
            Some(c) => (Some(*c), 1, false),
            None => (None, 0, false),
        };
        match token {
            Some('*') if !literal => {
                star = Some((pi + 1, ti));
                pi += 1;
            }
            Some('?') if !literal => {
                pi += 1;
                ti += 1;
            }
            Some(c) if c == t[ti] => {
                pi += width;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    while p.get(pi) == Some(&'*') {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let cases = [
            ("abc", "abc", true),
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*", "", true),
            ("exercise-*", "exercise-image-beta", true),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(wildcard_match(pattern, text), want, "{pattern} ~ {text}");
        }
    }

    struct Thing(Vec<Tag>);
    impl Filterable for Thing {
        fn field(&self, name: &str) -> Option<Vec<String>> {
            (name == "state").then(|| vec!["running".to_string()])
        }
        fn tags(&self) -> &[Tag] {
            &self.0
        }
    }

    #[test]
    fn filters_and_across_or_within() {
        let thing = Thing(vec![Tag::new("Name", "web")]);
        let f = |name: &str, values: &[&str]| Filter {
            name: name.into(),
            values: values.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(matches(&thing, &[f("state", &["stopped", "running"])]), Ok(true));
        assert_eq!(matches(&thing, &[f("state", &["running"]), f("tag:Name", &["db"])]), Ok(false));
        assert_eq!(matches(&thing, &[f("tag-key", &["Na*"])]), Ok(true));
        let err = matches(&thing, &[f("bogus", &["x"])]).unwrap_err();
        assert_eq!(err.code, crate::error::ErrorCode::InvalidParameterValue);
        assert_eq!(err.message, "The filter 'bogus' is invalid");
    }
}
