//! Decoding AWS Query and EC2 form parameters into typed values.
//!
//! EC2 lists are `Name.N` (`InstanceId.1`), Query lists `Name.member.N`
//! (`TargetGroupARNs.member.1`); structures nest with dots
//! (`TagSpecification.1.Tag.1.Key`). [`Params`] reads both shapes: by name, for
//! fronts that know their operation's members (EC2, Auto Scaling, ELBv2), or as a
//! [`Node`] tree ([`Params::tree`]) for CloudWatch's schema-less `document::Doc`.
//! Numbers and booleans are read here too ([`parse_number`], [`parse_bool`]).

use std::collections::BTreeMap;

use shoal_model::ec2::launch_template::TagSpecification;
use shoal_model::filter::Filter;
use shoal_model::tags::Tag;
use shoal_model::{AwsError, AwsResult};

/// How deep a parameter name (dot-separated segments) or a decoded document (nested
/// lists, objects, tags) may nest. AWS's deepest members nest about ten levels; deeper
/// input is refused before any recursive decoder sees it.
pub const MAX_DEPTH: usize = 32;

/// The `ValidationError` for input nested deeper than [`MAX_DEPTH`].
pub fn too_deep(what: &str) -> AwsError {
    AwsError::validation(format!(
        "{what} nests deeper than {MAX_DEPTH} levels, which no AWS operation accepts."
    ))
}

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

    /// Refuses a parameter name of more than [`MAX_DEPTH`] segments (`ValidationError`).
    pub fn check_depth(&self) -> AwsResult<()> {
        let too_deep_key =
            self.map.keys().find(|k| k.bytes().filter(|b| *b == b'.').count() >= MAX_DEPTH);
        match too_deep_key {
            Some(key) => {
                let shown: String = key.chars().take(40).collect();
                Err(too_deep(&format!("The parameter name {shown}…")))
            }
            None => Ok(()),
        }
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
        self.get(key).ok_or_else(|| AwsError::null_member(key))
    }

    pub fn number<T: std::str::FromStr>(&self, key: &str) -> AwsResult<Option<T>> {
        self.get(key).map(|v| parse_number(key, v)).transpose()
    }

    pub fn bool(&self, key: &str) -> AwsResult<Option<bool>> {
        self.get(key).map(|v| parse_bool(v).ok_or_else(|| invalid_value(key, v))).transpose()
    }

    /// `prefix.N` and `prefix.member.N` values, in N order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let mut items: Vec<(u32, String)> = self
            .map
            .iter()
            .filter_map(|(k, v)| match list_item(k, prefix)? {
                (n, None) => Some((n, v.clone())),
                (_, Some(_)) => None,
            })
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// The structures `prefix.N.*` (or `prefix.member.N.*`), each as its own Params.
    pub fn structs(&self, prefix: &str) -> Vec<Params> {
        let mut groups: BTreeMap<u32, Params> = BTreeMap::new();
        for (k, v) in &self.map {
            if let Some((n, Some(field))) = list_item(k, prefix) {
                groups.entry(n).or_default().map.insert(field.to_string(), v.clone());
            }
        }
        groups.into_values().collect()
    }

    /// Every parameter as a tree of its name's segments, for readers without a schema
    /// (`A.member.1.B=v` is `A` → `member` → `1` → `B`, holding `v`).
    pub fn tree(&self) -> Node {
        let mut root = Node::default();
        for (key, value) in &self.map {
            let mut node = &mut root;
            for seg in key.split('.') {
                node = node.children.entry(seg.to_string()).or_default();
            }
            node.value = Some(value.clone());
        }
        root
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

/// `prefix.N[.field]` or `prefix.member.N[.field]`: the item's N and the field after it.
fn list_item<'k>(key: &'k str, prefix: &str) -> Option<(u32, Option<&'k str>)> {
    let rest = key.strip_prefix(prefix)?.strip_prefix('.')?;
    let rest = rest.strip_prefix("member.").unwrap_or(rest);
    match rest.split_once('.') {
        Some((n, field)) => Some((n.parse().ok()?, Some(field))),
        None => Some((rest.parse().ok()?, None)),
    }
}

/// One segment of a parameter name and what lies under it ([`Params::tree`]).
#[derive(Debug, Default)]
pub struct Node {
    /// The value of the name that ends here, if one does.
    pub value: Option<String>,
    pub children: BTreeMap<String, Node>,
}

impl Node {
    /// Whether this node is a list in EC2's shape: children `1`, `2`, … only.
    pub fn is_list(&self) -> bool {
        !self.children.is_empty() && self.children.keys().all(|k| k.parse::<u32>().is_ok())
    }

    /// A list's items in N order (see [`Node::is_list`]).
    pub fn into_items(self) -> Vec<Node> {
        let mut items: Vec<(u32, Node)> =
            self.children.into_iter().filter_map(|(k, c)| Some((k.parse().ok()?, c))).collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, c)| c).collect()
    }

    /// The items of a list wrapped in one `wrapper` child (Query's `Name.member.N`;
    /// `Name.entry.N` for maps), or the node back when it is not one.
    pub fn into_wrapped_items(mut self, wrapper: &str) -> Result<Vec<Node>, Node> {
        if self.children.len() == 1 && self.children.get(wrapper).is_some_and(Node::is_list) {
            let inner = self.children.remove(wrapper).unwrap_or_default();
            return Ok(inner.into_items());
        }
        Err(self)
    }
}

/// A number parameter (`InvalidParameterValue` when malformed).
pub fn parse_number<T: std::str::FromStr>(key: &str, v: &str) -> AwsResult<T> {
    v.parse::<T>().map_err(|_| invalid_value(key, v))
}

/// `true` or `false`, in any case.
pub fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn invalid_value(key: &str, v: &str) -> AwsError {
    AwsError::invalid_parameter_value(format!("Invalid value '{v}' for {key}"))
}

#[cfg(test)]
impl Params {
    /// A request's parameters as the fronts' unit tests write them.
    pub fn of(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied())
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

    #[test]
    fn names_deeper_than_the_limit_are_refused() {
        let deepest = format!("Namespace{}", ".a".repeat(MAX_DEPTH - 1));
        assert!(Params::from_pairs([(deepest.clone(), "x")]).check_depth().is_ok());
        let deeper = format!("{deepest}.a");
        let err = Params::from_pairs([(deeper, "x")]).check_depth().unwrap_err();
        assert_eq!(err.code, "ValidationError");
        let hostile = format!("Namespace{}", ".a".repeat(2400));
        assert!(Params::from_pairs([(hostile.clone(), "x")]).check_depth().is_err());
        let dotted_value = Params::from_pairs([("Namespace", hostile)]);
        assert!(dotted_value.check_depth().is_ok(), "values may hold dots");
    }
}
