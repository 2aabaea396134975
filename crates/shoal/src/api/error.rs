//! The one place an [`AwsError`] becomes an HTTP response, in each protocol's shape.

use axum::http::{HeaderValue, StatusCode};
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
            escape(&err.code),
            escape(&err.message)
        )),
        Protocol::Query => xml_body(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            escape(&err.code),
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
    resp.extensions_mut().insert(super::metrics::ErrorCode(err.code.clone()));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

pub fn xml_body(body: String) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/xml;charset=UTF-8")], body).into_response()
}
