//! The fronts: one axum router on the main port.
//!
//! - `POST /` (and `GET /?Action=…`): the AWS endpoint. The service is chosen by the
//!   SigV4 credential scope, else `X-Amz-Target`, else the `Version` parameter; the
//!   action runs against the one service layer and renders in its protocol's shape.
//! - `POST /service/<Service>/operation/<Op>`: smithy rpc-v2-cbor (CloudWatch).
//! - `/_shoal/…`: admin routes and the JSON API Shoal's CLI and console use.
//! - Edge routing ([`edge`]): a request whose Host is a load balancer's DNS name never
//!   reaches the router; the load balancer serves it (`curl http://<dns-name>:4566/`).
//!
//! Architecture invariant: fronts parse and render; every rule lives in `service` and
//! the model. Every response carries a request id.

pub mod autoscaling;
pub mod cloudwatch;
pub mod document;
pub mod ec2;
pub mod ec2_network;
pub mod edge;
pub mod elbv2;
pub mod error;
pub mod json;
pub mod query;
pub mod xml;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use shoal_model::AwsError;

use crate::service::Service;
use error::{error_response, xml_body, Protocol};
use query::Params;

/// The router for the main port. `shutdown` ends the console's event streams so a
/// graceful shutdown never waits on an open browser tab.
pub fn router(svc: Arc<Service>, shutdown: tokio::sync::watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/", post(aws_post).get(aws_get))
        .route("/service/{service}/operation/{operation}", post(rpc_v2_cbor))
        .merge(json::routes())
        .with_state(svc.clone())
        .merge(crate::console::routes(svc, shutdown))
}

/// Which AWS service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AwsService {
    Ec2,
    Ssm,
    AutoScaling,
    Elbv2,
    CloudWatch,
}

fn credential_scope_service(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?;
    let scope: Vec<&str> = cred.split([',', ' ']).next()?.split('/').collect();
    scope.get(3).map(|s| s.to_string())
}

fn pick_service(headers: &HeaderMap, params: &Params) -> Option<AwsService> {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        if target.starts_with("AmazonSSM.") {
            return Some(AwsService::Ssm);
        }
        if target.starts_with(cloudwatch::TARGET_PREFIX) {
            return Some(AwsService::CloudWatch);
        }
    }
    match credential_scope_service(headers).as_deref() {
        Some("ec2") => return Some(AwsService::Ec2),
        Some("ssm") => return Some(AwsService::Ssm),
        Some("autoscaling") => return Some(AwsService::AutoScaling),
        Some("elasticloadbalancing") => return Some(AwsService::Elbv2),
        Some("monitoring") => return Some(AwsService::CloudWatch),
        _ => {}
    }
    match params.get("Version") {
        Some("2016-11-15") => Some(AwsService::Ec2),
        Some("2011-01-01") => Some(AwsService::AutoScaling),
        Some("2015-12-01") => Some(AwsService::Elbv2),
        Some(cloudwatch::VERSION) => Some(AwsService::CloudWatch),
        _ => None,
    }
}

async fn aws_get(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if q.is_empty() {
        // A browser opening the endpoint: the console (AWS requests carry an Action).
        return axum::response::Redirect::to("/console").into_response();
    }
    dispatch(svc, Method::GET, headers, Params::from_pairs(q), Bytes::new()).await
}

async fn aws_post(State(svc): State<Arc<Service>>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match document::decoded_body(&headers, body) {
        Ok(b) => b,
        Err(e) => return error_response(&e, Protocol::Query, &crate::ids::uuid()),
    };
    let params = if headers.get("x-amz-target").is_some() {
        Params::default()
    } else {
        Params::parse(&body)
    };
    dispatch(svc, Method::POST, headers, params, body).await
}

/// smithy rpc-v2-cbor: `POST /service/<ServiceShape>/operation/<Op>` (CloudWatch's
/// `GraniteServiceVersion20100801` is the only service Shoal serves this way).
async fn rpc_v2_cbor(
    State(svc): State<Arc<Service>>,
    axum::extract::Path((service, operation)): axum::extract::Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = crate::ids::uuid();
    if service != cloudwatch::TARGET_PREFIX {
        return error_response(
            &AwsError::new(
                "UnknownService",
                format!("Shoal does not serve {service} over rpc-v2-cbor."),
            ),
            Protocol::Cbor,
            &request_id,
        );
    }
    let input = document::decoded_body(&headers, body).and_then(|b| cloudwatch::decode_cbor(&b));
    cloudwatch::serve(&svc, cloudwatch::Wire::Cbor, &operation, input, &request_id)
}

async fn dispatch(
    svc: Arc<Service>,
    _method: Method,
    headers: HeaderMap,
    params: Params,
    body: Bytes,
) -> Response {
    let request_id = crate::ids::uuid();
    match pick_service(&headers, &params) {
        Some(AwsService::Ec2) => {
            let action = params.get("Action").unwrap_or_default().to_string();
            match ec2::handle(&svc, &action, &params).await {
                Ok(inner) => xml_body(format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{}\"><requestId>{request_id}</requestId>{}</{action}Response>",
                    ec2::NAMESPACE,
                    inner.into_string()
                )),
                Err(e) => {
                    tracing::debug!(action, code = %e.code, message = %e.message, "ec2 request refused");
                    error_response(&e, Protocol::Ec2, &request_id)
                }
            }
        }
        Some(AwsService::AutoScaling) => {
            let action = params.get("Action").unwrap_or_default().to_string();
            let result = autoscaling::handle(&svc, &action, &params).await;
            query_response(&action, autoscaling::NAMESPACE, result, &request_id)
        }
        Some(AwsService::Ssm) => json::ssm(&svc, &headers, &body, &request_id),
        Some(AwsService::Elbv2) => {
            elbv2::respond(&svc, params.get("Action").unwrap_or_default(), &params, &request_id)
        }
        Some(AwsService::CloudWatch) => match cloudwatch::json_operation(&headers) {
            Some(op) => {
                let input = cloudwatch::decode_json(&body);
                cloudwatch::serve(&svc, cloudwatch::Wire::Json, &op, input, &request_id)
            }
            None => {
                let op = params.get("Action").unwrap_or_default().to_string();
                let input = Ok(document::Doc::from_params(&params));
                cloudwatch::serve(&svc, cloudwatch::Wire::Query, &op, input, &request_id)
            }
        },
        None => error_response(
            &AwsError::new("UnknownService", "Shoal could not tell which AWS service this request is for (no SigV4 scope, X-Amz-Target or known Version)."),
            Protocol::Query,
            &request_id,
        ),
    }
}

/// Renders a Query-protocol answer: `<XResponse><XResult>…</XResult><ResponseMetadata>`
/// (the Result element is omitted for actions whose result is empty), or the error.
fn query_response(
    action: &str,
    namespace: &str,
    result: shoal_model::AwsResult<Option<xml::Xml>>,
    request_id: &str,
) -> Response {
    match result {
        Ok(body) => {
            let inner = match body {
                Some(x) => format!("<{action}Result>{}</{action}Result>", x.into_string()),
                None => String::new(),
            };
            xml_body(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{namespace}\">{inner}<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
            ))
        }
        Err(e) => {
            tracing::debug!(action, code = %e.code, message = %e.message, "query request refused");
            error_response(&e, Protocol::Query, request_id)
        }
    }
}
