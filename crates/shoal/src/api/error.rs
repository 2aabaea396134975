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
