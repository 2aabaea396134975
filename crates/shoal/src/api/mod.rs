//! The fronts: one axum router on the main port.
//!
//! - `POST /` (and `GET /?Action=…` for read-only actions): the AWS endpoint. The
//!   service is chosen by the SigV4 credential scope, else `X-Amz-Target`, else the
//!   `Version` parameter; the action runs against the one service layer and renders in
//!   its protocol's shape. When signatures are required ([`sigv4`]), they are checked first.
//! - `POST /service/<Service>/operation/<Op>`: smithy rpc-v2-cbor (CloudWatch).
//! - `/_shoal/…`: admin routes and the JSON API Shoal's CLI and console use (only from
//!   this machine when the daemon listens beyond loopback).
//! - Edge routing ([`edge`]): a request whose Host is a load balancer's DNS name never
//!   reaches the router; the load balancer serves it (`curl http://<dns-name>:4566/`).
//!
//! Architecture invariant: fronts parse and render; every rule lives in `service` and
//! the model. Every response carries a request id.

pub mod autoscaling;
mod autoscaling_wire;
pub mod cloudwatch;
pub mod dns;
pub mod document;
pub mod ec2;
pub mod ec2_catalog;
pub mod ec2_network;
mod ec2_xml;
pub mod edge;
pub mod elbv2;
pub mod error;
pub mod iam;
pub mod imds;
pub mod json;
pub mod metrics;
pub mod query;
pub mod sigv4;
pub mod sts;
pub mod xml;

/// The handler a front's action table holds for `action`, or AWS's `InvalidAction`.
fn handler_for<H: Copy>(table: &[(&str, H)], action: &str) -> shoal_model::AwsResult<H> {
    table
        .iter()
        .find(|(name, _)| *name == action)
        .map(|(_, h)| *h)
        .ok_or_else(|| shoal_model::AwsError::invalid_action(action))
}

use shoal_model::ErrorCode;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use shoal_model::AwsError;

use crate::regions::Regions;
use crate::service::Service;
use error::{error_response, xml_body, Protocol};
use query::Params;

/// The router for the main port. `shutdown` ends the console's event streams so a
/// graceful shutdown never waits on an open browser tab. AWS requests go to the service
/// of their SigV4 scope's region; the JSON API to the one `X-Shoal-Region` names (the
/// default region without it); the console and `/metrics` show the default region.
pub fn router(regions: Arc<Regions>, shutdown: tokio::sync::watch::Receiver<bool>) -> Router {
    let home = regions.home().clone();
    let admin = json::routes()
        .with_state(regions.clone())
        .merge(metrics::routes().with_state(regions.clone()))
        .layer(axum::middleware::from_fn_with_state(home.clone(), local_only));
    Router::new()
        .route("/", post(aws_post).get(aws_get))
        .route("/service/{service}/operation/{operation}", post(rpc_v2_cbor))
        .layer(axum::middleware::from_fn_with_state(home.clone(), metrics::count_requests))
        .with_state(regions.clone())
        .merge(admin)
        .merge(crate::console::routes(regions.clone(), shutdown))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(regions, answer_once_routed))
}

/// Every write on this port, through any front, is answered once the data plane routes
/// by it ([`crate::service::answered_once_routed`]); reads (GET, HEAD) are never held.
async fn answer_once_routed(
    State(regions): State<Arc<Regions>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    crate::service::answered_once_routed(regions.opened(), next.run(req)).await
}

async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    let err = AwsError::new(
        ErrorCode::NotFound,
        format!("Shoal serves nothing at {}; the AWS endpoint is POST /.", uri.path()),
    );
    error::refusal(&uri, &headers, &err.with_status(404))
}

async fn method_not_allowed(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let err = AwsError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} does not accept {method}; the AWS endpoint is POST /.", uri.path()),
    );
    error::refusal(&uri, &headers, &err.with_status(405))
}

/// The JSON API under `/_shoal` carries no SigV4 signature: when the daemon listens
/// beyond loopback (where AWS requests must be signed), it answers only clients on this
/// machine (a loopback peer) that address it by a loopback name (no DNS rebinding).
async fn local_only(
    State(svc): State<Arc<Service>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(refused) = local_only_refusal(&svc, &req) {
        return refused;
    }
    next.run(req).await
}

fn local_only_refusal<B>(svc: &Service, req: &axum::http::Request<B>) -> Option<Response> {
    if svc.config.listen.ip().is_loopback() {
        return None;
    }
    let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
    let host = req.headers().get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
    if peer.is_some_and(|p| p.0.ip().is_loopback())
        && host.is_some_and(crate::console::is_loopback_host)
    {
        return None;
    }
    let mut e = AwsError::new(
        ErrorCode::AccessDenied,
        "Shoal listens beyond loopback: its JSON API answers only on this machine, at a loopback address or localhost.",
    );
    e.status = 403;
    Some(json::JsonError::from(e).into_response())
}

/// Which AWS service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AwsService {
    Ec2,
    Ssm,
    AutoScaling,
    Elbv2,
    CloudWatch,
    Sts,
    Iam,
}

impl AwsService {
    /// The wire protocol, which decides the error shape.
    fn protocol(self, headers: &HeaderMap) -> Protocol {
        match self {
            AwsService::Ec2 => Protocol::Ec2,
            AwsService::Ssm => Protocol::Json,
            AwsService::CloudWatch if cloudwatch::json_operation(headers).is_some() => {
                Protocol::Json
            }
            _ => Protocol::Query,
        }
    }
}

/// A request's SigV4 credential (`AKID/date/region/service/aws4_request`): the
/// Authorization header's, else a presigned URL's `X-Amz-Credential`.
fn credential(headers: &HeaderMap, params: &Params) -> Option<String> {
    let cred = match headers.get("authorization").and_then(|a| a.to_str().ok()) {
        Some(auth) => auth.split("Credential=").nth(1)?.split([',', ' ']).next()?,
        None => params.get("X-Amz-Credential")?,
    };
    Some(cred.to_string())
}

/// The service a request's SigV4 scope names.
fn credential_scope_service(headers: &HeaderMap, params: &Params) -> Option<String> {
    credential(headers, params)?.split('/').nth(3).map(str::to_string)
}

/// The region a request's SigV4 scope names (none for an unsigned request).
fn credential_scope_region(headers: &HeaderMap, params: &Params) -> Option<String> {
    credential(headers, params)?.split('/').nth(2).map(str::to_string)
}

/// The region an endpoint host names in AWS's style: `ec2.eu-west-1.<anything>` and
/// `<service>.<region>.amazonaws.com` (the region second), or `<region>.<anything>`
/// (first). Only AWS's regions count, so a name like `my-app-1.localhost` is none.
fn host_region(host: &str) -> Option<&'static str> {
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    let mut labels = name.split('.');
    let (first, second) = (labels.next()?, labels.next()?);
    [first, second]
        .into_iter()
        .find_map(|l| shoal_model::region::find(&l.to_ascii_lowercase()))
        .map(|r| r.name)
}

/// The region a request names: its SigV4 scope's, else its Host's; none for the default.
fn request_region(headers: &HeaderMap, params: &Params) -> Option<String> {
    credential_scope_region(headers, params).filter(|r| !r.is_empty()).or_else(|| {
        let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
        host_region(host).map(str::to_string)
    })
}

/// The service of the request's region: the one its SigV4 scope names, else (unsigned,
/// or a scope without one) the one its Host names ([`host_region`]), else the
/// default region's. A region AWS does not have is refused as AWS's signature check
/// refuses its scope (see `shoal_model::region::invalid_region_scope`), in the
/// protocol's own code: `AuthFailure` on EC2, `InvalidSignatureException` on JSON.
fn regional(
    regions: &Regions,
    headers: &HeaderMap,
    params: &Params,
    protocol: Protocol,
) -> Result<Arc<Service>, AwsError> {
    let Some(region) = request_region(headers, params) else {
        return Ok(regions.home().clone());
    };
    regions.get(&region).map_err(|mut e| {
        if e.code == ErrorCode::SignatureDoesNotMatch {
            match protocol {
                Protocol::Ec2 => e.code = ErrorCode::AuthFailure,
                Protocol::Json | Protocol::Cbor => e.code = ErrorCode::InvalidSignatureException,
                Protocol::Query => {}
            }
        }
        e
    })
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
    match credential_scope_service(headers, params).as_deref() {
        Some("ec2") => return Some(AwsService::Ec2),
        Some("sts") => return Some(AwsService::Sts),
        Some("iam") => return Some(AwsService::Iam),
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
        Some(sts::VERSION) => Some(AwsService::Sts),
        Some(iam::VERSION) => Some(AwsService::Iam),
        _ => None,
    }
}

/// Checks a request's SigV4 signature when the daemon requires signatures (else any
/// credentials, or none, are accepted). The body is the bytes as sent: the signature
/// covers them before any `Content-Encoding` is undone.
fn authenticate(
    svc: &Service,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AwsError> {
    if !svc.config.signatures_required() {
        return Ok(());
    }
    let req = sigv4::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers,
        authority: uri.authority().map(|a| a.as_str()),
        body,
    };
    let Some(sig) = sigv4::parse(&req)? else {
        let mut e = AwsError::new(
            ErrorCode::MissingAuthenticationToken,
            "Request is missing Authentication Token",
        );
        e.status = 403;
        return Err(e);
    };
    let secret = svc.config.credentials.secret_of(&sig.access_key_id);
    sigv4::verify(&req, &sig, secret, svc.clock.now())
}

/// Actions a GET may run: only those that read. A GET is what a link, an image or a
/// script on any web page makes a browser send, so nothing that changes state may be
/// reachable by one (AWS names its read-only actions so).
fn reads_only(action: &str) -> bool {
    ["Describe", "List", "Get"].iter().any(|verb| action.starts_with(verb))
}

/// The error shape of a Query or EC2 request.
fn params_protocol(headers: &HeaderMap, params: &Params) -> Protocol {
    match pick_service(headers, params) {
        Some(AwsService::Ec2) => Protocol::Ec2,
        _ => Protocol::Query,
    }
}

async fn aws_get(
    State(regions): State<Arc<Regions>>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if q.is_empty() {
        // A browser opening the endpoint: the console (AWS requests carry an Action).
        return axum::response::Redirect::to("/console").into_response();
    }
    let params = Params::from_pairs(q);
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    let action = match target {
        Some(t) => t.rsplit('.').next().unwrap_or_default(),
        None => params.get("Action").unwrap_or_default(),
    };
    let refused = if !reads_only(action) {
        Some(AwsError::new(
            ErrorCode::UnsupportedOperation,
            format!(
                "{action} changes state, so Shoal runs it only on POST; a GET may only \
                 describe, list or get."
            ),
        ))
    } else {
        params.check_depth().err()
    };
    if let Some(e) = refused {
        let protocol =
            if target.is_some() { Protocol::Json } else { params_protocol(&headers, &params) };
        return error_response(&e, protocol, &crate::ids::uuid());
    }
    let auth = authenticate(regions.home(), &Method::GET, &uri, &headers, b"");
    dispatch(&regions, auth, headers, params, Bytes::new()).await
}

async fn aws_post(
    State(regions): State<Arc<Regions>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The signature covers the bytes as sent, before any Content-Encoding is undone.
    let raw = match edge::read_body(&headers, body).await {
        Ok(b) => b,
        Err(e) => return error::refusal(&uri, &headers, &e),
    };
    let auth = authenticate(regions.home(), &Method::POST, &uri, &headers, &raw);
    let body = match document::decoded_body(&headers, raw) {
        Ok(b) => b,
        Err(e) => return error::refusal(&uri, &headers, &e),
    };
    let params = if headers.get("x-amz-target").is_some() {
        Params::default()
    } else {
        let params = Params::parse(&body);
        if let Err(e) = params.check_depth() {
            return error_response(&e, params_protocol(&headers, &params), &crate::ids::uuid());
        }
        params
    };
    dispatch(&regions, auth, headers, params, body).await
}

/// smithy rpc-v2-cbor: `POST /service/<ServiceShape>/operation/<Op>` (CloudWatch's
/// `GraniteServiceVersion20100801` is the only service Shoal serves this way).
async fn rpc_v2_cbor(
    State(regions): State<Arc<Regions>>,
    axum::extract::Path((service, operation)): axum::extract::Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = crate::ids::uuid();
    let raw = match edge::read_body(&headers, body).await {
        Ok(b) => b,
        Err(e) => return error_response(&e, Protocol::Cbor, &request_id),
    };
    if let Err(e) = authenticate(regions.home(), &Method::POST, &uri, &headers, &raw) {
        return error_response(&e, Protocol::Cbor, &request_id);
    }
    let svc = match regional(&regions, &headers, &Params::default(), Protocol::Cbor) {
        Ok(svc) => svc,
        Err(e) => return error_response(&e, Protocol::Cbor, &request_id),
    };
    if service != cloudwatch::TARGET_PREFIX {
        return error_response(
            &AwsError::new(
                ErrorCode::UnknownService,
                format!("Shoal does not serve {service} over rpc-v2-cbor."),
            ),
            Protocol::Cbor,
            &request_id,
        );
    }
    let input = document::decoded_body(&headers, raw).and_then(|b| cloudwatch::decode_cbor(&b));
    cloudwatch::serve(&svc, cloudwatch::Wire::Cbor, &operation, input, &request_id)
}

async fn dispatch(
    regions: &Regions,
    auth: Result<(), AwsError>,
    headers: HeaderMap,
    params: Params,
    body: Bytes,
) -> Response {
    let request_id = crate::ids::uuid();
    let service = pick_service(&headers, &params);
    let protocol = service.map_or(Protocol::Query, |s| s.protocol(&headers));
    if let Err(e) = auth {
        tracing::debug!(code = %e.code, message = %e.message, "request not authenticated");
        return error_response(&e, protocol, &request_id);
    }
    let svc = match regional(regions, &headers, &params, protocol) {
        Ok(svc) => svc,
        Err(e) => return error_response(&e, protocol, &request_id),
    };
    match service {
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
            let action = params.get("Action").unwrap_or_default().to_string();
            let result = elbv2::handle_versioned(&svc, &action, &params);
            query_response(&action, elbv2::NAMESPACE, result, &request_id)
        }
        Some(AwsService::CloudWatch) => match cloudwatch::json_operation(&headers) {
            Some(op) => {
                let input = cloudwatch::decode_json(&body);
                cloudwatch::serve(&svc, cloudwatch::Wire::Json, &op, input, &request_id)
            }
            None => {
                let op = params.get("Action").unwrap_or_default().to_string();
                let input = document::Doc::from_params(&params);
                cloudwatch::serve(&svc, cloudwatch::Wire::Query, &op, input, &request_id)
            }
        },
        Some(AwsService::Sts) => {
            let action = params.get("Action").unwrap_or_default().to_string();
            query_response(&action, sts::NAMESPACE, sts::handle(&action, &params), &request_id)
        }
        Some(AwsService::Iam) => {
            let action = params.get("Action").unwrap_or_default().to_string();
            let result = iam::handle(&svc.config.credentials, &action, &params);
            query_response(&action, iam::NAMESPACE, result, &request_id)
        }
        None => {
            let message = match credential_scope_service(&headers, &params) {
                Some(scope) => format!("Shoal does not serve the service '{scope}' that the request's SigV4 scope names (it serves ec2, autoscaling, elasticloadbalancing, monitoring, ssm, sts and iam)."),
                None => "Shoal could not tell which AWS service this request is for (no SigV4 scope, X-Amz-Target or known Version).".to_string(),
            };
            error_response(
                &AwsError::new(ErrorCode::UnknownService, message),
                Protocol::Query,
                &request_id,
            )
        }
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    #[test]
    fn an_endpoint_host_names_its_region_in_aws_style() {
        use super::host_region;
        assert_eq!(host_region("ec2.eu-west-1.localhost:4566"), Some("eu-west-1"));
        assert_eq!(host_region("ec2.eu-west-1.amazonaws.com"), Some("eu-west-1"));
        assert_eq!(
            host_region("elasticloadbalancing.ap-south-1.amazonaws.com"),
            Some("ap-south-1")
        );
        assert_eq!(host_region("us-west-2.shoal.internal"), Some("us-west-2"));
        assert_eq!(host_region("EC2.EU-WEST-1.LOCALHOST"), Some("eu-west-1"));
        // Not a region, or not where AWS's names put it: none (the default region).
        for host in [
            "localhost:4566",
            "127.0.0.1:4566",
            "[::1]:4566",
            "ec2.amazonaws.com",
            "ec2.moon-base-1.localhost",
            "my-app-1.localhost",
            "a.b.eu-west-1.example",
            "eu-west-1",
            "",
        ] {
            assert_eq!(host_region(host), None, "{host}");
        }
    }

    #[test]
    fn a_signed_scope_wins_over_the_host_and_an_empty_scope_does_not() {
        let headers = |auth: Option<&str>| {
            let mut h = axum::http::HeaderMap::new();
            h.insert("host", "ec2.eu-west-1.localhost".parse().unwrap());
            if let Some(a) = auth {
                h.insert("authorization", a.parse().unwrap());
            }
            h
        };
        let params = super::Params::default();
        let scoped = "AWS4-HMAC-SHA256 Credential=AK/20260101/us-west-2/ec2/aws4_request, SignedHeaders=host";
        let empty = "AWS4-HMAC-SHA256 Credential=AK/20260101//ec2/aws4_request, SignedHeaders=host";
        let pick = |auth| super::request_region(&headers(auth), &params);
        assert_eq!(pick(Some(scoped)).as_deref(), Some("us-west-2"));
        assert_eq!(pick(Some(empty)).as_deref(), Some("eu-west-1"));
        assert_eq!(pick(None).as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn an_action_missing_from_a_table_is_aws_invalid_action() {
        let table: &[(&str, u8)] = &[("DescribeVpcs", 1), ("RunInstances", 2)];
        assert_eq!(super::handler_for(table, "RunInstances").unwrap(), 2);
        let e = super::handler_for(table, "LaunchRockets").unwrap_err();
        assert_eq!(e.code, "InvalidAction");
        assert_eq!(e.message, "The action LaunchRockets is not valid for this web service.");
    }
    use std::sync::Arc;

    use axum::extract::ConnectInfo;
    use axum::http::{Request, StatusCode};

    use super::local_only_refusal;
    use crate::clock::SystemClock;
    use crate::config::Config;
    use crate::runtime::fake::FakeDriver;
    use crate::service::Service;

    fn service(listen: &str, require: bool) -> Service {
        let mut config = Config::new(std::env::temp_dir().join("shoal-api-unit"));
        config.listen = listen.parse().unwrap();
        config.require_signatures = require;
        let store = shoal_store::Store::in_memory().unwrap();
        Service::new(config, Arc::new(SystemClock), Arc::new(FakeDriver::default()), store).unwrap()
    }

    fn request(peer: &str, host: &str) -> Request<()> {
        let mut req =
            Request::builder().uri("/_shoal/reset").header("host", host).body(()).unwrap();
        req.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        req
    }

    #[test]
    fn signatures_are_required_beyond_loopback_or_when_asked() {
        assert!(!service("127.0.0.1:4566", false).config.signatures_required());
        assert!(service("127.0.0.1:4566", true).config.signatures_required());
        for listen in ["0.0.0.0:4566", "192.168.1.20:4566", "[::]:4566"] {
            assert!(service(listen, false).config.signatures_required(), "{listen}");
        }
    }

    #[test]
    fn the_json_api_answers_only_this_machine_when_exposed() {
        let exposed = service("0.0.0.0:4566", false);
        assert!(
            local_only_refusal(&exposed, &request("127.0.0.1:5000", "127.0.0.1:4566")).is_none()
        );
        assert!(local_only_refusal(&exposed, &request("[::1]:5000", "localhost:4566")).is_none());
        for (peer, host) in [
            ("192.168.1.7:5000", "192.168.1.20:4566"),
            ("192.168.1.7:5000", "127.0.0.1:4566"),
            ("127.0.0.1:5000", "rebound.evil.example:4566"),
        ] {
            let refused = local_only_refusal(&exposed, &request(peer, host)).expect(peer);
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{peer} {host}");
        }
        let unknown_peer = Request::builder().header("host", "127.0.0.1").body(()).unwrap();
        assert!(local_only_refusal(&exposed, &unknown_peer).is_some());
        // On loopback the JSON API stays as it is (the edge's browser guard applies).
        let local = service("127.0.0.1:4566", true);
        assert!(local_only_refusal(&local, &request("127.0.0.1:5000", "127.0.0.1:4566")).is_none());
    }
}
