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

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use http_body_util::Either;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_service::Service as _;

use crate::service::Service;

type EdgeBody = Either<shoal_proxy::ProxyBody, axum::body::Body>;

/// Serves `router` on `listener` until `shutdown` turns true, then lets open
/// connections finish their request (bounded) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    svc: Arc<Service>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let (router, svc, mut stop) = (router.clone(), svc.clone(), shutdown.clone());
        conns.spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (router, svc) = (router.clone(), svc.clone());
                async move { Ok::<_, Infallible>(route(&svc, router, req, peer).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
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

/// The Host of a request (header, else the URI authority).
fn host_of<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

async fn route(
    svc: &Service,
    mut router: Router,
    mut req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<EdgeBody> {
    let lb = host_of(&req).and_then(|host| {
        let arn = svc.proxy.lb_for_host(host)?;
        let asked = host.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok());
        Some((arn, asked))
    });
    if let Some((arn, asked)) = lb {
        let port = listener_port(svc, &arn, asked);
        return svc.proxy.handle(&arn, port, req, peer).await.map(Either::Left);
    }
    if let Some(why) = browser_refusal(svc, &req) {
        return refuse(why);
    }
    // Who is asking, for the routes only this machine may use (api::local_only).
    req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    match router.call(req).await {
        Ok(resp) => resp.map(Either::Right),
        Err(never) => match never {},
    }
}

/// Why a request a browser may have been tricked into sending is refused, if it is.
/// The AWS endpoint, the JSON API and the console change things on a plain POST, so a
/// page on another site could otherwise drive them through the user's browser:
/// - while Shoal listens on loopback, only loopback names are served (a DNS-rebinding
///   page reaches it under its own name);
/// - a state-changing request a browser marks as coming from another origin (`Origin`,
///   which browsers add to every cross-origin POST) is refused.
///
/// The aws CLI, the SDKs and `shoal` send no `Origin`; the console's own forms send
/// their own origin.
fn browser_refusal<B>(svc: &Service, req: &Request<B>) -> Option<&'static str> {
    let host = host_of(req).unwrap_or("");
    if svc.config.listen.ip().is_loopback() && !crate::console::is_loopback_host(host) {
        return Some("Shoal listens on loopback and serves only loopback addresses and localhost.");
    }
    let safe =
        matches!(*req.method(), http::Method::GET | http::Method::HEAD | http::Method::OPTIONS);
    let origin = req.headers().get(http::header::ORIGIN)?.to_str().unwrap_or("");
    let own = origin.split_once("://").is_some_and(|(_, authority)| authority == host);
    (!safe && !own).then_some("Shoal refuses requests a browser sends on behalf of another site.")
}

fn refuse(why: &'static str) -> Response<EdgeBody> {
    let body = axum::body::Body::from(format!("{why}\n"));
    let mut resp = Response::new(Either::Right(body));
    *resp.status_mut() = http::StatusCode::FORBIDDEN;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Which listener serves an edge request: the one on the port the client named, if
/// the load balancer has it, else its lowest port.
fn listener_port(svc: &Service, lb_arn: &str, asked: Option<u16>) -> u16 {
    let ports: Vec<u16> = svc.read(|s| {
        let mut p: Vec<u16> = s
            .listeners
            .values()
            .filter(|l| l.load_balancer_arn == lb_arn)
            .map(|l| l.port)
            .collect();
        p.sort_unstable();
        p
    });
    match asked {
        Some(a) if ports.contains(&a) => a,
        _ => ports.first().copied().unwrap_or(0),
    }
}
