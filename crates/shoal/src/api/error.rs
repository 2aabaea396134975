//! The one place an [`AwsError`] becomes an HTTP response, in each protocol's shape.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use shoal_model::AwsError;

use super::xml::escape;

/// The wire protocol a request came in on, which decides the error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// EC2: `<Response><Errors><Error>…</Error></Errors><RequestID/></Response>`.
    Ec2,
    /// Query (Auto Scaling, ELBv2, CloudWatch query): `<ErrorResponse>`.
    Query,
    /// AWS JSON 1.0/1.1: `{"__type": …, "message": …}` + `x-amzn-query-error`.
    Json,
    /// smithy rpc-v2-cbor: the JSON error's fields as a CBOR map, same headers.
    Cbor,
}

pub fn error_response(err: &AwsError, protocol: Protocol, request_id: &str) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
    let fault = if err.sender_fault { "Sender" } else { "Receiver" };
    let mut resp = match protocol {
        Protocol::Ec2 => xml_body(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
            escape(err.code.as_str()),
            escape(&err.message)
        )),
        Protocol::Query => xml_body(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            escape(err.code.as_str()),
            escape(&err.message)
        )),
        Protocol::Json => {
            let body = serde_json::json!({ "__type": format!("com.amazonaws.shoal#{}", err.code), "message": err.message });
            let mut r = (
                [(axum::http::header::CONTENT_TYPE, "application/x-amz-json-1.0")],
                body.to_string(),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", err.code)) {
                r.headers_mut().insert("x-amzn-query-error", v);
            }
            r
        }
        Protocol::Cbor => {
            let body = ciborium::Value::Map(vec![
                (
                    "__type".into(),
                    format!("com.amazonaws.shoal#{}", err.code).into(),
                ),
                ("message".into(), err.message.clone().into()),
            ]);
            let mut buf = Vec::new();
            let _ = ciborium::into_writer(&body, &mut buf);
            let mut r = ([(axum::http::header::CONTENT_TYPE, "application/cbor")], buf).into_response();
            r.headers_mut().insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
            if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", err.code)) {
                r.headers_mut().insert("x-amzn-query-error", v);
            }
            r
        }
    };
    *resp.status_mut() = status;
    resp.extensions_mut().insert(err.code);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

/// The protocol of a request refused before any front has read it (too large, too
/// slow, a foreign origin, an unknown path or method), guessed from its head: CBOR on
/// the rpc-v2-cbor path, JSON with `X-Amz-Target` or a JSON content type, EC2's shape
/// when it is signed for `ec2` or names EC2's `Version`, Query's otherwise.
pub fn protocol_of(uri: &Uri, headers: &HeaderMap) -> Protocol {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let query = uri.query().unwrap_or("");
    if uri.path().starts_with("/service/") {
        Protocol::Cbor
    } else if headers.contains_key("x-amz-target") || header("content-type").contains("json") {
        Protocol::Json
    } else if header("authorization").contains("/ec2/aws4_request")
        || query.contains("%2Fec2%2Faws4_request")
        || query.split('&').any(|p| p == "Version=2016-11-15")
    {
        Protocol::Ec2
    } else {
        Protocol::Query
    }
}

/// An error for a request no front has read, in the shape its client expects
/// ([`protocol_of`]); Shoal's own JSON API (`/_shoal/…`) answers `{"code","message"}`.
pub fn refusal(uri: &Uri, headers: &HeaderMap, err: &AwsError) -> Response {
    if uri.path().starts_with("/_shoal/") {
        let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::json!({ "code": err.code, "message": err.message });
        return (status, axum::Json(body)).into_response();
    }
    error_response(err, protocol_of(uri, headers), &crate::ids::uuid())
}

pub fn xml_body(body: String) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/xml;charset=UTF-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_model::ErrorCode;

    fn render(err: &AwsError, protocol: Protocol) -> (Response, Vec<u8>) {
        let resp = error_response(err, protocol, "req-1");
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = rt.block_on(axum::body::to_bytes(body, usize::MAX)).unwrap();
        (Response::from_parts(parts, axum::body::Body::empty()), bytes.to_vec())
    }

    fn header<'r>(r: &'r Response, name: &str) -> &'r str {
        r.headers().get(name).map_or("", |v| v.to_str().unwrap())
    }

    #[test]
    fn ec2_errors_are_a_response_with_errors_and_a_request_id() {
        let err = AwsError::invalid_parameter_value("a < b & c");
        let (r, body) = render(&err, Protocol::Ec2);
        assert_eq!(r.status(), 400);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>InvalidParameterValue</Code>\
<Message>a &lt; b &amp; c</Message></Error></Errors><RequestID>req-1</RequestID></Response>"
        );
        assert_eq!(header(&r, "x-amzn-requestid"), "req-1");
        assert_eq!(r.extensions().get::<ErrorCode>(), Some(&ErrorCode::InvalidParameterValue));
    }

    #[test]
    fn query_errors_say_whose_fault_it_was() {
        let (r, body) = render(&AwsError::validation("bad"), Protocol::Query);
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains("<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>bad</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"), "{body}");
        assert_eq!(header(&r, "content-type"), "text/xml;charset=UTF-8");
        let (r, body) = render(&AwsError::internal("disk full"), Protocol::Query);
        assert_eq!(r.status(), 500);
        assert!(String::from_utf8(body)
            .unwrap()
            .contains("<Type>Receiver</Type><Code>InternalFailure</Code>"));
    }

    #[test]
    fn json_and_cbor_errors_carry_the_type_and_the_query_error_header() {
        let err = AwsError::new(ErrorCode::ResourceNotFound, "no such alarm").with_status(404);
        let (r, body) = render(&err, Protocol::Json);
        assert_eq!(r.status(), 404);
        assert_eq!(header(&r, "content-type"), "application/x-amz-json-1.0");
        assert_eq!(header(&r, "x-amzn-query-error"), "ResourceNotFound;Sender");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["__type"], "com.amazonaws.shoal#ResourceNotFound");
        assert_eq!(json["message"], "no such alarm");
        let (r, body) = render(&err, Protocol::Cbor);
        assert_eq!(header(&r, "smithy-protocol"), "rpc-v2-cbor");
        assert_eq!(header(&r, "x-amzn-query-error"), "ResourceNotFound;Sender");
        let cbor: ciborium::Value = ciborium::from_reader(&body[..]).unwrap();
        let map = cbor.as_map().unwrap();
        let field = |k: &str| map.iter().find(|(n, _)| n.as_text() == Some(k)).unwrap().1.clone();
        assert_eq!(field("__type").as_text(), Some("com.amazonaws.shoal#ResourceNotFound"));
        assert_eq!(field("message").as_text(), Some("no such alarm"));
    }

    #[test]
    fn a_refused_requests_protocol_is_guessed_from_its_head() {
        let guess = |uri: &str, headers: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in headers {
                map.insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            protocol_of(&uri.parse().unwrap(), &map)
        };
        assert_eq!(
            guess("/service/GraniteServiceVersion20100801/operation/X", &[]),
            Protocol::Cbor
        );
        assert_eq!(
            guess("/", &[("x-amz-target", "GraniteServiceVersion20100801.X")]),
            Protocol::Json
        );
        assert_eq!(guess("/", &[("content-type", "application/x-amz-json-1.0")]), Protocol::Json);
        assert_eq!(
            guess(
                "/",
                &[(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/ec2/aws4_request"
                )]
            ),
            Protocol::Ec2
        );
        assert_eq!(guess("/?Action=DescribeVpcs&Version=2016-11-15", &[]), Protocol::Ec2);
        assert_eq!(guess("/?Action=DescribeAlarms&Version=2010-08-01", &[]), Protocol::Query);
    }
}
