//! Decoding AWS Query and EC2 form parameters into typed values.
//!
//! EC2 lists are `Name.N` (`InstanceId.1`), Query lists `Name.member.N`
//! (`TargetGroupARNs.member.1`); structures nest with dots
//! (`TagSpecification.1.Tag.1.Key`). [`Params`] reads both shapes.

use std::collections::BTreeMap;

use shoal_model::ec2::launch_template::TagSpecification;
use shoal_model::filter::Filter;
use shoal_model::tags::Tag;
use shoal_model::{AwsError, AwsResult};

/// Request parameters by name.
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    /// Parses an `application/x-www-form-urlencoded` body (or query string).
    pub fn parse(body: &[u8]) -> Params {
        Params { map: form_urlencoded::parse(body).into_owned().collect() }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Params {
        Params { map: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    pub fn string(&self, key: &str) -> Option<String> {
        self.map.get(key).cloned()
    }

    /// A required parameter (`MissingParameter` otherwise).
    pub fn required(&self, key: &str) -> AwsResult<&str> {
        self.get(key).ok_or_else(|| AwsError::missing_parameter(key))
    }

    /// Query services call a missing parameter a `ValidationError`.
    pub fn required_query(&self, key: &str) -> AwsResult<&str> {
        self.get(key).ok_or_else(|| {
            AwsError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(key)
            ))
        })
    }

    pub fn number<T: std::str::FromStr>(&self, key: &str) -> AwsResult<Option<T>> {
        self.get(key)
            .map(|v| {
                v.parse::<T>().map_err(|_| {
                    AwsError::invalid_parameter_value(format!("Invalid value '{v}' for {key}"))
                })
            })
            .transpose()
    }

    pub fn bool(&self, key: &str) -> AwsResult<Option<bool>> {
        self.get(key)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => {
                    Err(AwsError::invalid_parameter_value(format!("Invalid value '{v}' for {key}")))
                }
            })
            .transpose()
    }

    /// `prefix.N` and `prefix.member.N` values, in N order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let mut items: Vec<(u32, String)> = self
            .map
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix(prefix)?.strip_prefix('.')?;
                let rest = rest.strip_prefix("member.").unwrap_or(rest);
                Some((rest.parse::<u32>().ok()?, v.clone()))
            })
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// The structures `prefix.N.*` (or `prefix.member.N.*`), each as its own Params.
    pub fn structs(&self, prefix: &str) -> Vec<Params> {
        let mut groups: BTreeMap<u32, Params> = BTreeMap::new();
        for (k, v) in &self.map {
            let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let rest = rest.strip_prefix("member.").unwrap_or(rest);
            let Some((n, field)) = rest.split_once('.') else { continue };
            let Ok(n) = n.parse::<u32>() else { continue };
            groups.entry(n).or_default().map.insert(field.to_string(), v.clone());
        }
        groups.into_values().collect()
    }

    /// The parameters under `prefix.`, with the prefix removed.
    pub fn sub(&self, prefix: &str) -> Params {
        let p = format!("{prefix}.");
        Params {
            map: self
                .map
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(&p)?.to_string(), v.clone())))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every parameter, in name order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// EC2's `Filter.N.Name` / `Filter.N.Value.M`.
    pub fn filters(&self) -> Vec<Filter> {
        self.structs("Filter")
            .into_iter()
            .filter_map(|f| {
                Some(Filter { name: f.get("Name")?.to_string(), values: f.list("Value") })
            })
            .collect()
    }

    /// `TagSpecification.N.ResourceType` with `TagSpecification.N.Tag.M.Key/Value`.
    pub fn tag_specifications(&self, prefix: &str) -> Vec<TagSpecification> {
        self.structs(prefix)
            .into_iter()
            .map(|s| TagSpecification {
                resource_type: s.get("ResourceType").unwrap_or("instance").to_string(),
                tags: s.tags("Tag"),
            })
            .collect()
    }

    /// `prefix.N.Key` / `prefix.N.Value` tags.
    pub fn tags(&self, prefix: &str) -> Vec<Tag> {
        self.structs(prefix)
            .into_iter()
            .filter_map(|t| Some(Tag::new(t.get("Key")?, t.get("Value").unwrap_or(""))))
            .collect()
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_in_both_shapes() {
        let p = Params::parse(
            b"InstanceId.2=i-b&InstanceId.1=i-a&TargetGroupARNs.member.1=arn1&InstanceId.10=i-c",
        );
        assert_eq!(p.list("InstanceId"), vec!["i-a", "i-b", "i-c"]);
        assert_eq!(p.list("TargetGroupARNs"), vec!["arn1"]);
    }

    #[test]
    fn nested_structures() {
        let p = Params::parse(
            b"TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=web\
              &Filter.1.Name=instance-state-name&Filter.1.Value.1=running&Filter.1.Value.2=pending",
        );
        let specs = p.tag_specifications("TagSpecification");
        assert_eq!(specs[0].tags, vec![Tag::new("Name", "web")]);
        let filters = p.filters();
        assert_eq!(filters[0].values, vec!["running", "pending"]);
    }
}
