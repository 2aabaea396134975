//! A wire-neutral document: what one request or response of a multi-protocol service
//! (CloudWatch serves AWS JSON 1.0, Query and smithy rpc-v2-cbor) looks like once
//! decoded, so one handler serves every protocol.
//!
//! - Decoding: [`Doc::from_params`] (Query, over `query::Params::tree`: `A.member.1.B=…`
//!   becomes lists and structures; every scalar is a string until an accessor reads it
//!   as a number, boolean or time), [`Doc::from_json`], [`Doc::from_cbor`] (tag 1 =
//!   epoch time).
//! - Accessors convert leniently between those shapes (`"60"`, `60` and `60.0` are all
//!   the integer 60; a time may be epoch seconds, a CBOR tag 1 or ISO 8601).
//! - Encoding: [`Doc::to_json`] (times as epoch seconds), [`Doc::to_cbor`] (tag 1),
//!   [`Doc::write_xml`] (Query: lists as `<member>`, maps as `<entry><key/><value/>`,
//!   ISO 8601 times).

use chrono::{DateTime, NaiveDateTime, Utc};
use shoal_model::error::member_name;
use shoal_model::ErrorCode;
use shoal_model::{AwsError, AwsResult};

use super::query::{parse_bool, too_deep, Node, Params, MAX_DEPTH};
use super::xml::Xml;

/// The largest request body the AWS endpoint reads, before and after decompression.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The answer to a body over [`MAX_BODY_BYTES`] (413).
pub fn body_too_large() -> AwsError {
    AwsError::new(
        ErrorCode::RequestEntityTooLarge,
        format!("The request body is larger than {MAX_BODY_BYTES} bytes (after decompression)."),
    )
    .with_status(413)
}

/// The request body with its `Content-Encoding` undone: SDKs gzip large bodies
/// (botocore's request compression, e.g. PutMetricData over 10 KB). Inflation stops
/// one byte past [`MAX_BODY_BYTES`], so a small body that inflates to gigabytes costs
/// no more than the limit.
pub fn decoded_body(
    headers: &axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> AwsResult<axum::body::Bytes> {
    use std::io::Read;
    let encoding = headers.get("content-encoding").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !encoding.split(',').any(|e| e.trim().eq_ignore_ascii_case("gzip")) {
        return Ok(body);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
        AwsError::new(
            ErrorCode::SerializationException,
            format!("Malformed gzip request body: {e}"),
        )
    })?;
    if out.len() > MAX_BODY_BYTES {
        return Err(body_too_large());
    }
    Ok(out.into())
}

/// Refuses a JSON text whose arrays and objects nest deeper than [`MAX_DEPTH`], in one
/// pass without recursion, so no recursive decoder ever sees such a body.
pub fn check_json_depth(body: &[u8]) -> AwsResult<()> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(too_deep("The JSON body"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Decodes a CBOR body into a value, refusing one nested deeper than [`MAX_DEPTH`]
/// (arrays, maps and tags each count a level).
pub fn cbor_value(body: &[u8]) -> AwsResult<ciborium::Value> {
    ciborium::de::from_reader_with_recursion_limit(body, MAX_DEPTH).map_err(|e| match e {
        ciborium::de::Error::RecursionLimitExceeded => too_deep("The CBOR body"),
        e => AwsError::new(ErrorCode::SerializationException, format!("Malformed CBOR body: {e}")),
    })
}

/// A decoded request or a response to encode.
#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Time(DateTime<Utc>),
    List(Vec<Doc>),
    /// A structure: members in order.
    Struct(Vec<(String, Doc)>),
    /// A map-typed member (`ExtendedStatistics`): an object in JSON/CBOR, `entry`
    /// elements in XML.
    Map(Vec<(String, Doc)>),
}

static EMPTY: Vec<Doc> = Vec::new();

/// Builds a structure from `(name, value)` pairs, leaving out `Null` members.
pub fn obj(members: Vec<(&str, Doc)>) -> Doc {
    Doc::Struct(
        members
            .into_iter()
            .filter(|(_, v)| *v != Doc::Null)
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

impl From<&str> for Doc {
    fn from(s: &str) -> Doc {
        Doc::Str(s.to_string())
    }
}
impl From<String> for Doc {
    fn from(s: String) -> Doc {
        Doc::Str(s)
    }
}
impl From<&String> for Doc {
    fn from(s: &String) -> Doc {
        Doc::Str(s.clone())
    }
}
impl From<f64> for Doc {
    fn from(v: f64) -> Doc {
        Doc::Float(v)
    }
}
impl From<bool> for Doc {
    fn from(v: bool) -> Doc {
        Doc::Bool(v)
    }
}
impl From<DateTime<Utc>> for Doc {
    fn from(t: DateTime<Utc>) -> Doc {
        Doc::Time(t)
    }
}
impl<T: Into<Doc>> From<Option<T>> for Doc {
    fn from(v: Option<T>) -> Doc {
        v.map(Into::into).unwrap_or(Doc::Null)
    }
}

/// A list of documents.
pub fn list<T>(items: impl IntoIterator<Item = T>, f: impl Fn(T) -> Doc) -> Doc {
    Doc::List(items.into_iter().map(f).collect())
}

fn bad(name: &str, v: &Doc) -> AwsError {
    AwsError::validation(format!("Invalid value {} for parameter {name}.", v.display()))
}

/// Parses `2026-11-25T10:00:00Z`, with fractions or offsets, a bare
/// `2026-11-25T10:00:00` (UTC), or epoch seconds.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    s.parse::<f64>().ok().and_then(epoch)
}

fn epoch(secs: f64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
}

fn epoch_secs(t: &DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// How a float is written in XML: `95.0`, `0.5` (what AWS's Java services print).
pub fn fmt_float(v: f64) -> String {
    format!("{v:?}")
}

impl Doc {
    fn display(&self) -> String {
        match self {
            Doc::Str(s) => s.clone(),
            Doc::Int(i) => i.to_string(),
            Doc::Float(f) => fmt_float(*f),
            Doc::Bool(b) => b.to_string(),
            Doc::Time(t) => t.to_rfc3339(),
            other => format!("{other:?}"),
        }
    }

    /// A member of a structure.
    pub fn get(&self, key: &str) -> Option<&Doc> {
        match self {
            Doc::Struct(m) | Doc::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
        .filter(|v| **v != Doc::Null)
    }

    /// A string member (numbers are written out).
    pub fn str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Doc::Str(s) => Some(s.clone()),
            Doc::Int(_) | Doc::Float(_) | Doc::Bool(_) => Some(self.get(key)?.display()),
            _ => None,
        }
    }

    /// A required string member; AWS's "must not be null" validation error otherwise.
    pub fn required(&self, key: &str) -> AwsResult<String> {
        self.str(key).ok_or_else(|| AwsError::null_member(key))
    }

    pub fn f64(&self, key: &str) -> AwsResult<Option<f64>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        v.as_f64().map(Some).ok_or_else(|| bad(key, v))
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Doc::Int(i) => Some(*i as f64),
            Doc::Float(f) => Some(*f),
            Doc::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn i64(&self, key: &str) -> AwsResult<Option<i64>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        match v {
            Doc::Int(i) => Some(*i),
            Doc::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            Doc::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
        .map(Some)
        .ok_or_else(|| bad(key, v))
    }

    /// An integer member that must fit `u32` (periods, counts).
    pub fn u32(&self, key: &str) -> AwsResult<Option<u32>> {
        match self.i64(key)? {
            None => Ok(None),
            Some(v) => u32::try_from(v).map(Some).map_err(|_| {
                AwsError::validation(format!(
                    "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must have value greater than or equal to 0",
                    member_name(key)
                ))
            }),
        }
    }

    pub fn bool(&self, key: &str) -> AwsResult<Option<bool>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        match v {
            Doc::Bool(b) => Some(*b),
            Doc::Str(s) => parse_bool(s),
            _ => None,
        }
        .map(Some)
        .ok_or_else(|| bad(key, v))
    }

    pub fn time(&self, key: &str) -> AwsResult<Option<DateTime<Utc>>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        match v {
            Doc::Time(t) => Some(*t),
            Doc::Int(i) => epoch(*i as f64),
            Doc::Float(f) => epoch(*f),
            Doc::Str(s) => parse_time(s),
            _ => None,
        }
        .map(Some)
        .ok_or_else(|| {
            AwsError::invalid_parameter_value(format!(
                "The parameter {key} must be a valid ISO 8601 timestamp: {}",
                v.display()
            ))
        })
    }

    /// A list member (absent, or Query's empty `Name=`, is an empty list).
    pub fn list(&self, key: &str) -> &[Doc] {
        match self.get(key) {
            Some(Doc::List(items)) => items,
            _ => &EMPTY,
        }
    }

    /// A list of strings.
    pub fn strings(&self, key: &str) -> Vec<String> {
        self.list(key)
            .iter()
            .filter_map(|d| match d {
                Doc::Str(s) => Some(s.clone()),
                Doc::Null => None,
                other => Some(other.display()),
            })
            .collect()
    }

    /// A list of numbers.
    pub fn floats(&self, key: &str) -> AwsResult<Vec<f64>> {
        self.list(key).iter().map(|d| d.as_f64().ok_or_else(|| bad(key, d))).collect()
    }

    // -------------------------------------------------------------------- decoding

    /// Query parameters (`Action`, `Version` and the operation's members), from their
    /// [`Params::tree`]: `Name.member.N` and `Name.N` become lists, `Name.entry.N.key`/
    /// `.value` a map, other names structures.
    /// Names deeper than [`MAX_DEPTH`] are refused before the (recursive) build.
    pub fn from_params(params: &Params) -> AwsResult<Doc> {
        params.check_depth()?;
        fn build(node: Node) -> Doc {
            if node.children.is_empty() {
                return Doc::Str(node.value.unwrap_or_default());
            }
            let items = |items: Vec<Node>| items.into_iter().map(build);
            let node = match node.into_wrapped_items("member") {
                Ok(members) => return Doc::List(items(members).collect()),
                Err(node) => node,
            };
            let node = match node.into_wrapped_items("entry") {
                Ok(entries) => {
                    return Doc::Map(
                        items(entries)
                            .filter_map(|en| Some((en.str("key")?, en.get("value")?.clone())))
                            .collect(),
                    )
                }
                Err(node) => node,
            };
            if node.is_list() {
                return Doc::List(items(node.into_items()).collect());
            }
            Doc::Struct(node.children.into_iter().map(|(k, c)| (k, build(c))).collect())
        }
        Ok(match build(params.tree()) {
            Doc::Str(_) => Doc::Struct(vec![]),
            d => d,
        })
    }

    /// An AWS JSON body.
    pub fn from_json(v: &serde_json::Value) -> Doc {
        use serde_json::Value as V;
        match v {
            V::Null => Doc::Null,
            V::Bool(b) => Doc::Bool(*b),
            V::Number(n) => match n.as_i64() {
                Some(i) => Doc::Int(i),
                None => Doc::Float(n.as_f64().unwrap_or(0.0)),
            },
            V::String(s) => Doc::Str(s.clone()),
            V::Array(a) => Doc::List(a.iter().map(Doc::from_json).collect()),
            V::Object(o) => {
                Doc::Struct(o.iter().map(|(k, v)| (k.clone(), Doc::from_json(v))).collect())
            }
        }
    }

    /// A CBOR body (smithy rpc-v2-cbor).
    pub fn from_cbor(v: &ciborium::Value) -> Doc {
        use ciborium::Value as V;
        match v {
            V::Null => Doc::Null,
            V::Bool(b) => Doc::Bool(*b),
            V::Integer(i) => Doc::Int(i64::try_from(i128::from(*i)).unwrap_or(i64::MAX)),
            V::Float(f) => Doc::Float(*f),
            V::Text(s) => Doc::Str(s.clone()),
            V::Bytes(b) => Doc::Str(String::from_utf8_lossy(b).into_owned()),
            V::Tag(1, inner) => match Doc::from_cbor(inner) {
                Doc::Int(i) => epoch(i as f64).map(Doc::Time).unwrap_or(Doc::Null),
                Doc::Float(f) => epoch(f).map(Doc::Time).unwrap_or(Doc::Null),
                other => other,
            },
            V::Tag(_, inner) => Doc::from_cbor(inner),
            V::Array(a) => Doc::List(a.iter().map(Doc::from_cbor).collect()),
            V::Map(m) => Doc::Struct(
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_text()?.to_string(), Doc::from_cbor(v))))
                    .collect(),
            ),
            _ => Doc::Null,
        }
    }

    // -------------------------------------------------------------------- encoding

    /// AWS JSON: times as epoch seconds.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as V;
        match self {
            Doc::Null => V::Null,
            Doc::Bool(b) => V::Bool(*b),
            Doc::Int(i) => V::from(*i),
            Doc::Float(f) => serde_json::Number::from_f64(*f).map(V::Number).unwrap_or(V::Null),
            Doc::Str(s) => V::String(s.clone()),
            Doc::Time(t) => V::from(epoch_secs(t)),
            Doc::List(items) => V::Array(items.iter().map(Doc::to_json).collect()),
            Doc::Struct(m) | Doc::Map(m) => {
                V::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// CBOR: times as tag 1 over epoch seconds.
    pub fn to_cbor(&self) -> ciborium::Value {
        use ciborium::Value as V;
        match self {
            Doc::Null => V::Null,
            Doc::Bool(b) => V::Bool(*b),
            Doc::Int(i) => V::Integer((*i).into()),
            Doc::Float(f) => V::Float(*f),
            Doc::Str(s) => V::Text(s.clone()),
            Doc::Time(t) => V::Tag(1, Box::new(V::Float(epoch_secs(t)))),
            Doc::List(items) => V::Array(items.iter().map(Doc::to_cbor).collect()),
            Doc::Struct(m) | Doc::Map(m) => {
                V::Map(m.iter().map(|(k, v)| (V::Text(k.clone()), v.to_cbor())).collect())
            }
        }
    }

    /// Query XML: a structure's members as elements.
    pub fn write_xml(&self, x: &mut Xml) {
        match self {
            Doc::Struct(members) => {
                for (k, v) in members {
                    write_member(x, k, v);
                }
            }
            other => {
                x.raw(&super::xml::escape(&other.scalar_text()));
            }
        }
    }

    fn scalar_text(&self) -> String {
        match self {
            Doc::Time(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            other => other.display(),
        }
    }
}

fn write_member(x: &mut Xml, name: &str, v: &Doc) {
    match v {
        Doc::Null => {}
        Doc::List(items) => {
            x.list(name, "member", items, |x, item| item.write_xml(x));
        }
        Doc::Map(entries) => {
            x.list(name, "entry", entries, |x, (k, v)| {
                x.text("key", k);
                write_member(x, "value", v);
            });
        }
        Doc::Struct(_) => {
            x.el(name, |x| v.write_xml(x));
        }
        scalar => {
            x.text(name, scalar.scalar_text());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn query_params_become_lists_and_structures() {
        let d = Doc::from_params(&Params::from_pairs([
            ("Namespace", "App"),
            ("MetricData.member.2.MetricName", "B"),
            ("MetricData.member.1.MetricName", "A"),
            ("MetricData.member.1.Dimensions.member.1.Name", "Host"),
            ("MetricData.member.1.Dimensions.member.1.Value", "h1"),
            ("MetricData.member.1.Values.member.1", "1.5"),
            ("MetricData.member.1.Values.member.2", "2"),
            ("MetricData.member.1.Timestamp", "2026-11-25T10:00:00Z"),
            ("AlarmNames", ""),
        ]))
        .unwrap();
        let data = d.list("MetricData");
        assert_eq!(data.len(), 2);
        assert_eq!(data[0].str("MetricName").as_deref(), Some("A"));
        assert_eq!(data[1].str("MetricName").as_deref(), Some("B"));
        assert_eq!(data[0].list("Dimensions")[0].str("Value").as_deref(), Some("h1"));
        assert_eq!(data[0].floats("Values").unwrap(), vec![1.5, 2.0]);
        assert_eq!(
            data[0].time("Timestamp").unwrap(),
            Some(Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap())
        );
        assert!(d.list("AlarmNames").is_empty());
    }

    #[test]
    fn query_maps_and_bare_index_lists() {
        let d = Doc::from_params(&Params::from_pairs([
            ("Tags.entry.2.key", "b"),
            ("Tags.entry.2.value", "2"),
            ("Tags.entry.1.key", "a"),
            ("Tags.entry.1.value", "1"),
            ("Ids.10", "z"),
            ("Ids.2", "y"),
            ("Flag", "TRUE"),
        ]))
        .unwrap();
        assert_eq!(
            d.get("Tags"),
            Some(&Doc::Map(vec![("a".into(), "1".into()), ("b".into(), "2".into())]))
        );
        assert_eq!(d.strings("Ids"), vec!["y", "z"]);
        assert_eq!(d.bool("Flag").unwrap(), Some(true));
        assert_eq!(d.required("Missing").unwrap_err().message, "1 validation error detected: Value null at 'missing' failed to satisfy constraint: Member must not be null");
    }

    #[test]
    fn times_from_every_protocol() {
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
        let j = Doc::from_json(&serde_json::json!({"T": 1795600800, "F": 1795600800.0}));
        assert_eq!(j.time("T").unwrap(), Some(t));
        assert_eq!(j.time("F").unwrap(), Some(t));
        let c = Doc::from_cbor(&ciborium::Value::Map(vec![(
            ciborium::Value::Text("T".into()),
            ciborium::Value::Tag(1, Box::new(ciborium::Value::Integer(1795600800.into()))),
        )]));
        assert_eq!(c.time("T").unwrap(), Some(t));
        assert_eq!(Doc::Time(t).to_json(), serde_json::json!(1795600800.0));
    }

    #[test]
    fn xml_lists_maps_and_times() {
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
        let d = obj(vec![
            ("Label", "CPU".into()),
            ("Skipped", Doc::Null),
            (
                "Datapoints",
                list([1.0, 2.5], |v| {
                    obj(vec![
                        ("Timestamp", t.into()),
                        ("Average", v.into()),
                        ("ExtendedStatistics", Doc::Map(vec![("p99".into(), v.into())])),
                    ])
                }),
            ),
        ]);
        let mut x = Xml::new();
        d.write_xml(&mut x);
        assert_eq!(
            x.into_string(),
            "<Label>CPU</Label><Datapoints><member><Timestamp>2026-11-25T10:00:00.000Z</Timestamp><Average>1.0</Average><ExtendedStatistics><entry><key>p99</key><value>1.0</value></entry></ExtendedStatistics></member><member><Timestamp>2026-11-25T10:00:00.000Z</Timestamp><Average>2.5</Average><ExtendedStatistics><entry><key>p99</key><value>2.5</value></entry></ExtendedStatistics></member></Datapoints>"
        );
    }

    #[test]
    fn too_deep_query_names_are_refused_not_recursed() {
        let key = format!("Namespace{}", ".a".repeat(2400));
        let params = Params::from_pairs([
            ("Action".to_string(), "ListMetrics".to_string()),
            (key, "x".into()),
        ]);
        assert_eq!(Doc::from_params(&params).unwrap_err().code, "ValidationError");
        let ok = format!("A{}", ".member.1".repeat(10));
        assert!(Doc::from_params(&Params::from_pairs([(ok, "x")])).is_ok());
    }

    #[test]
    fn too_deep_json_is_refused() {
        let deep = format!("{}{}", "[".repeat(2400), "]".repeat(2400));
        assert_eq!(check_json_depth(deep.as_bytes()).unwrap_err().code, "ValidationError");
        let object = format!("{}1{}", r#"{"a":"#.repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
        assert!(check_json_depth(object.as_bytes()).is_err());
        let limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(check_json_depth(limit.as_bytes()).is_ok());
        // Brackets inside strings (escaped quotes too) are text, not nesting.
        let text = format!(r#"{{"a":"\"{}"}}"#, "[".repeat(2400));
        assert!(check_json_depth(text.as_bytes()).is_ok());
    }

    #[test]
    fn too_deep_cbor_is_refused() {
        // 2,400 nested one-element arrays, then 2,400 nested tag-1s, each around 0.
        for head in [0x81u8, 0xc1] {
            let mut body = vec![head; 2400];
            body.push(0x00);
            assert_eq!(cbor_value(&body).unwrap_err().code, "ValidationError");
        }
        let mut shallow = vec![0x81u8; 8];
        shallow.push(0x00);
        assert!(cbor_value(&shallow).is_ok());
        assert_eq!(cbor_value(&[0xff]).unwrap_err().code, "SerializationException");
    }

    #[test]
    fn gzip_bodies_are_inflated_only_up_to_the_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            gz.write_all(&zeros).unwrap();
        }
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 1 << 20, "64 MiB of zeros compress to well under 1 MiB");
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("content-encoding", "gzip".parse().unwrap());
        let err = decoded_body(&headers, bomb.into()).unwrap_err();
        assert_eq!((err.code.as_str(), err.status), ("RequestEntityTooLarge", 413));
    }
}
