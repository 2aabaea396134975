//! The main port's HTTP server, with edge routing in front of the router.
//!
//! A request whose Host header is a load balancer's DNS name goes to that load
//! balancer, exactly as if it had reached one of its listeners — so
//! `curl http://<dns-name>:4566/` works without binding privileged ports, and a
//! listener the OS refused to bind is still reachable. Every other request goes to the
//! axum [`Router`] (AWS endpoint, JSON API, console).
//!
//! This is `axum::serve` with one extra branch: hyper serves each connection and
//! hands the edge branch the untouched `Request<Incoming>` the proxy forwards.
//!
//! What a careless or hostile client can hold is bounded here: HTTP/1.1 only, a
//! request head must arrive within `header_read_timeout` (also the keep-alive idle
//! time), a body within `body_read_timeout` of its head ([`read_body`]), at most
//! `max_connections` connections are served at once (the rest wait in the backlog),
//! heads over [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`] get 431, and failed accepts
//! (out of descriptors) back off exponentially. Every refusal is in AWS's error shape.

use shoal_model::ErrorCode;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::Router;
use http_body_util::{BodyExt, Either};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use shoal_model::{AwsError, AwsResult};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower_service::Service as _;

use super::document::{body_too_large, MAX_BODY_BYTES};
use crate::regions::Regions;
use crate::service::Service;

type EdgeBody = Either<shoal_proxy::ProxyBody, axum::body::Body>;

/// Most header fields a request to the router may carry (hyper's own default).
pub const MAX_HEADERS: usize = 100;
/// Largest request head (request line and header fields) the router accepts, as ALB.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// hyper's own field limit, above [`MAX_HEADERS`] so that the router's limit answers
/// (in AWS's shape) first; past this one, or past hyper's read buffer, hyper answers a
/// bare 431 itself.
const HYPER_MAX_HEADERS: usize = 512;

/// Serves `router` on `listener` until `shutdown` turns true, then lets open
/// connections finish their request (bounded) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    regions: Arc<Regions>,
    mut shutdown: watch::Receiver<bool>,
) {
    let svc = regions.home().clone();
    let max_connections = svc.config.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut backoff = AcceptBackoff::default();
    let mut cap_warned: Option<tokio::time::Instant> = None;
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if cap_warned.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(
                        max_connections,
                        "the API port serves its most connections; new ones wait until one closes"
                    );
                    cap_warned = Some(tokio::time::Instant::now());
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    _ = shutdown.changed() => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => {
                    backoff.succeeded();
                    c
                }
                Err(e) => {
                    let delay = backoff.failed(&e);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => continue,
                        _ = shutdown.changed() => break,
                    }
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let (router, regions, mut stop) = (router.clone(), regions.clone(), shutdown.clone());
        let header_read_timeout = svc.config.header_read_timeout;
        conns.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (router, regions) = (router.clone(), regions.clone());
                async move { Ok::<_, Infallible>(route(&regions, router, req, peer).await) }
            });
            let mut builder = http1::Builder::new();
            // hyper's header-read timeout runs from when the connection is ready for
            // a request (accepted, or done with the last one) to the end of the head.
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .max_headers(HYPER_MAX_HEADERS)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
        });
        while conns.try_join_next().is_some() {}
    }
    // Close the port at once: a client waiting for the daemon to stop (`shoal down`)
    // sees it refuse connections while open ones finish.
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
}

/// The pause after a failed accept (out of descriptors, mostly): 10 ms, doubling to
/// 1 s while failures last, so a full descriptor table costs a few wake-ups a second
/// and one log line, not a spinning core and thousands of lines.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    fn failed(&mut self, error: &std::io::Error) -> Duration {
        if self.failures == 0 {
            tracing::warn!(%error, "accept failed; backing off until connections can be accepted");
        }
        self.failures = self.failures.saturating_add(1);
        let doublings = (self.failures - 1).min(10);
        Self::FIRST.saturating_mul(1 << doublings).min(Self::MAX)
    }

    fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::info!(failed_accepts = self.failures, "accepting connections again");
            self.failures = 0;
        }
    }
}

/// The Host of a request (header, else the URI authority).
fn host_of<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

async fn route(
    regions: &Regions,
    mut router: Router,
    mut req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<EdgeBody> {
    // Each region's load balancers are in its own data plane; their DNS names carry the
    // region (`<name>-<digits>.<region>.elb.localhost`), so a name is in one at most.
    let edge = host_of(&req).and_then(|host| regions.load_balancer_for_host(host));
    if let Some((svc, route)) = edge {
        return svc.proxy.serve_edge(route, req, peer).await.map(Either::Left);
    }
    let svc = regions.home();
    if let Some(err) = oversized_head(&req) {
        return refuse(&req, err);
    }
    // Who is asking, for the routes only this machine may use (api::local_only).
    req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    if let Some(why) = browser_refusal(svc, &req) {
        return refuse(&req, AwsError::new(ErrorCode::AccessDenied, why).with_status(403));
    }
    let timeout = svc.config.body_read_timeout;
    let req = req.map(|body| {
        if body.is_end_stream() {
            axum::body::Body::new(body)
        } else {
            axum::body::Body::new(TimedBody::new(body, timeout))
        }
    });
    match router.call(req).await {
        Ok(resp) => resp.map(Either::Right),
        Err(never) => match never {},
    }
}

/// A 431 for a head past the router's limits ([`MAX_HEADERS`], [`MAX_HEAD_BYTES`]).
fn oversized_head<B>(req: &Request<B>) -> Option<AwsError> {
    let fields = req.headers().len();
    let bytes = req.uri().to_string().len()
        + req.headers().iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum::<usize>();
    (fields > MAX_HEADERS || bytes > MAX_HEAD_BYTES).then(|| {
        AwsError::new(
            ErrorCode::RequestHeaderFieldsTooLarge,
            format!(
                "The request head has {fields} header fields and {bytes} bytes; at most \
                 {MAX_HEADERS} fields and {MAX_HEAD_BYTES} bytes are accepted."
            ),
        )
        .with_status(431)
    })
}

/// Why a request a browser may have been tricked into sending is refused, if it is.
/// The AWS endpoint, the JSON API and the console change things on a plain POST (and
/// answer GETs), so a page on another site could otherwise drive them through the
/// user's browser:
/// - while Shoal listens on loopback, only loopback names are served (a DNS-rebinding
///   page reaches it under its own name);
/// - a request with a foreign `Origin` (browsers add it to every cross-origin POST and
///   script request; an opaque origin is `null`) is refused, whatever its method;
/// - a request a browser marks `Sec-Fetch-Site: cross-site` or `same-site` (a page on
///   another site or port: forms, links, images, scripts) is refused, except a GET of
///   the console's pages (a link to the console); every GET of the AWS endpoint is
///   refused, and GETs may only run read-only actions anyway (`api::aws_get`).
///
/// The aws CLI, the SDKs and `shoal` send neither header; the console's own pages send
/// their own origin and `same-origin`.
fn browser_refusal<B>(svc: &Service, req: &Request<B>) -> Option<&'static str> {
    const CROSS_SITE: &str = "Shoal refuses requests a browser sends on behalf of another site.";
    let host = host_of(req).unwrap_or("");
    if svc.config.listen.ip().is_loopback() && !crate::console::is_loopback_host(host) {
        return Some("Shoal listens on loopback and serves only loopback addresses and localhost.");
    }
    if let Some(origin) = req.headers().get(http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let own = origin.split_once("://").is_some_and(|(_, authority)| authority == host);
        if !own {
            return Some(CROSS_SITE);
        }
    }
    let site = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let foreign = matches!(site, Some("cross-site" | "same-site"));
    let path = req.uri().path();
    let console_page = matches!(*req.method(), http::Method::GET | http::Method::HEAD)
        && (path == "/console"
            || path.starts_with("/console/")
            || (path == "/" && req.uri().query().is_none()));
    (foreign && !console_page).then_some(CROSS_SITE)
}

fn refuse<B>(req: &Request<B>, err: AwsError) -> Response<EdgeBody> {
    super::error::refusal(req.uri(), req.headers(), &err).map(Either::Right)
}

/// A request body that fails once its deadline (set when its head arrived) passes, so
/// a client that sends less than its `Content-Length` cannot hold a task forever.
struct TimedBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

impl TimedBody {
    fn new(inner: Incoming, timeout: Duration) -> TimedBody {
        TimedBody { inner, deadline: Box::pin(tokio::time::sleep(timeout)), timeout }
    }
}

/// The error of a `TimedBody` past its deadline.
#[derive(Debug)]
pub struct BodyTimedOut(Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request body did not arrive within {:?}", self.0)
    }
}

impl std::error::Error for BodyTimedOut {}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(this.timeout))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Reads an AWS request's body: at most [`MAX_BODY_BYTES`] (413 beyond, the rest read
/// and dropped so the client sees the answer), within the body read timeout
/// (`RequestTimeout`).
pub async fn read_body(headers: &http::HeaderMap, mut body: axum::body::Body) -> AwsResult<Bytes> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        discard(body).await;
        return Err(body_too_large());
    }
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| body_error(&e))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_BODY_BYTES {
                discard(body).await;
                return Err(body_too_large());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.into())
}

/// Reads and drops what is left of a refused body (up to 16 MiB, within its deadline):
/// a client still sending when the connection closes would see a reset, not the answer.
async fn discard(mut body: axum::body::Body) {
    let mut left: usize = 16 << 20;
    while let Some(Ok(frame)) = body.frame().await {
        let n = frame.data_ref().map_or(0, |d| d.len());
        match left.checked_sub(n) {
            Some(l) => left = l,
            None => return,
        }
    }
}

fn body_error(e: &axum::Error) -> AwsError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<BodyTimedOut>().is_some() {
            return AwsError::new(
                ErrorCode::RequestTimeout,
                "Your socket connection to the server was not read from or written to within \
                 the timeout period. The request body did not arrive in time.",
            );
        }
        source = err.source();
    }
    AwsError::new(ErrorCode::IncompleteBody, format!("The request body could not be read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accepts_back_off_exponentially_up_to_a_second() {
        let mut backoff = AcceptBackoff::default();
        let e = std::io::Error::from_raw_os_error(24); // EMFILE
        let delays: Vec<u128> = (0..10).map(|_| backoff.failed(&e).as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.failed(&e), AcceptBackoff::FIRST);
    }
}
