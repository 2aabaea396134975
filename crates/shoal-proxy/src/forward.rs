//! The request path: match a rule, then forward, redirect or answer; add AWS's
//! forwarding headers; retry refused connects; count and log.
//!
//! Errors become HTTP here and only here: connect refused/reset → 502, no response
//! → 502, connect timeout or idle timeout → 504, no registered targets → 503, a
//! request ALB refuses or whose body's framing broke → 400 and close.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use rand::Rng;
use shoal_model::elbv2::actions::{pick_weighted, RedirectSource};
use shoal_model::elbv2::conditions::{matches, HeaderValues, RequestView};
use shoal_model::elbv2::load_balancer::XffMode;
use shoal_model::elbv2::target_group::StickinessType;
use shoal_model::elbv2::RulePriority;

use crate::access_log::Record;
use crate::body::{elb_error, elb_response, ProxyBody};
use crate::head;
use crate::state::{Env, Forward, ListenerRt, RouteAction, RouteRule, Routes, TargetGroupRt};
use crate::upstream::{send, SendError};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// A hyper request's headers, for rule matching.
struct Headers<'a>(&'a HeaderMap);

impl HeaderValues for Headers<'_> {
    fn any_value(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0.get_all(name).iter().any(|v| v.to_str().is_ok_and(&mut *f))
    }
}

/// The first rule, in priority order, that `req` satisfies.
fn rule_for<'r>(
    routes: &'r Routes,
    req: &Request<Incoming>,
    client: IpAddr,
) -> Option<&'r RouteRule> {
    let view = RequestView {
        method: req.method().as_str(),
        host: host_of(req),
        path: req.uri().path(),
        query: req.uri().query(),
        source_ip: client,
        headers: &Headers(req.headers()),
    };
    routes.rules.iter().find(|r| matches(&r.conditions, &view))
}

fn host_of(req: &Request<Incoming>) -> Option<&str> {
    let raw = match req.headers().get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(h) => h,
        None => req.uri().host()?,
    };
    crate::headers::host_name(raw)
}

/// Whether ALB refuses the request ([`crate::head`]): beyond its size limits, or
/// without exactly one `Host` (HTTP/1.1; at most one on HTTP/1.0).
fn refused(req: &Request<Incoming>) -> bool {
    let uri = req.uri();
    let target_len = uri.path_and_query().map_or(1, |pq| pq.as_str().len())
        + uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len());
    let http11 = req.version() == Version::HTTP_11;
    let lines = req.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
    if head::check_lines(req.method().as_str(), target_len, http11, lines).is_err() {
        return true;
    }
    let head: usize = req.headers().iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    req.method().as_str().len() + target_len + 12 + head > head::MAX_REQUEST_HEAD
}

/// ALB's answer to a request it refuses, or whose framing broke: 400, and the
/// connection closes.
fn refusal() -> Response<ProxyBody> {
    let mut res = elb_error(StatusCode::BAD_REQUEST);
    res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// What the access log needs from the request, captured before it moves on.
pub(crate) struct LogInfo {
    method: String,
    url: String,
    version: &'static str,
    user_agent: String,
    received_bytes: u64,
    created: SystemTime,
}

impl LogInfo {
    fn new(req: &Request<Incoming>, port: u16, created: SystemTime) -> Self {
        let version = match req.version() {
            Version::HTTP_10 => "HTTP/1.0",
            Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        };
        let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let header_bytes: usize =
            req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
        let content_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        let user_agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok());
        LogInfo::from_head(
            req.method().as_str(),
            host_of(req),
            pq,
            version,
            header_bytes as u64 + content_length,
            user_agent,
            port,
            created,
        )
    }

    /// From a request head's parts: `extra_bytes` is the headers' size (name, value
    /// and 4 bytes of framing each) plus the body's length.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_head(
        method: &str,
        host: Option<&str>,
        pq: &str,
        version: &'static str,
        extra_bytes: u64,
        user_agent: Option<&str>,
        port: u16,
        created: SystemTime,
    ) -> Self {
        let host = host.unwrap_or("-");
        LogInfo {
            method: method.to_string(),
            url: format!("http://{host}:{port}{pq}"),
            version,
            user_agent: user_agent.unwrap_or("-").to_string(),
            received_bytes: (method.len() + pq.len() + version.len() + 4) as u64 + extra_bytes,
            created,
        }
    }
}

/// Outcome details for counters and the log.
pub(crate) struct Done<'a> {
    pub status: u16,
    pub target: Option<&'a str>,
    pub target_status: Option<u16>,
    pub target_time: Option<Duration>,
    pub tg: Option<&'a TargetGroupRt>,
    pub priority: RulePriority,
    pub action: &'static str,
    pub redirect: Option<&'a str>,
    pub tried: &'a [&'a str],
    pub sent_bytes: u64,
    pub dispatched: bool,
}

/// Serves one request as `listener` would.
pub(crate) async fn serve(
    env: &Env,
    listener: &ListenerRt,
    req: Request<Incoming>,
    client: SocketAddr,
) -> Response<ProxyBody> {
    let routes = listener.routes.load_full();
    let port = listener.port.load(Relaxed);
    let mut res = serve_with(env, &routes, port, req, client).await;
    if !routes.server_header && res.headers().get(header::SERVER) == Some(&ELB_SERVER) {
        // Only the load balancer's own header goes; a target's passes through.
        res.headers_mut().remove(header::SERVER);
    }
    for (name, value) in &routes.response_headers {
        res.headers_mut().insert(name.clone(), value.clone());
    }
    res
}

const ELB_SERVER: HeaderValue = HeaderValue::from_static("awselb/2.0");

async fn serve_with(
    env: &Env,
    routes: &Routes,
    port: u16,
    mut req: Request<Incoming>,
    client: SocketAddr,
) -> Response<ProxyBody> {
    let started = tokio::time::Instant::now();
    let logging = routes.settings.log.is_some();
    let wall = if logging { env.wall() } else { SystemTime::UNIX_EPOCH };
    let log_info = logging.then(|| LogInfo::new(&req, port, wall));
    if refused(&req) {
        let res = refusal();
        let log = log_info.as_ref();
        return finish_elb(env, routes, client, log, started, "", RulePriority::Default, "-", res);
    }

    let Some(rule) = rule_for(routes, &req, client.ip()) else {
        return finish_elb(
            env,
            routes,
            client,
            log_info.as_ref(),
            started,
            "",
            RulePriority::Default,
            "-",
            elb_error(StatusCode::SERVICE_UNAVAILABLE),
        );
    };
    let trace = trace_header(env, req.headers().get(&X_AMZN_TRACE_ID).map(|v| v.as_bytes()));
    let priority = rule.priority;
    match &rule.action {
        RouteAction::Fixed { status, content_type, body } => {
            let log = (log_info.as_ref(), started, trace_str(&trace), priority);
            fixed(env, routes, client, (*status, content_type, body), log)
        }
        RouteAction::Redirect(r) => {
            let source = RedirectSource {
                protocol: "HTTP",
                host: host_of(&req).unwrap_or(""),
                port,
                path: req.uri().path(),
                query: req.uri().query().unwrap_or(""),
            };
            let log = (log_info.as_ref(), started, trace_str(&trace), priority);
            redirect(env, routes, client, r, source, log)
        }
        RouteAction::Forward(fwd) => {
            prepare_upstream(&mut req, routes, client, port, &trace);
            forward(env, routes, fwd, req, client, log_info, started, trace_str(&trace), priority)
                .await
        }
    }
}

/// A fixed-response rule's answer (status, content type, body), counted and logged;
/// `log` as for [`redirect`].
pub(crate) fn fixed(
    env: &Env,
    routes: &Routes,
    client: SocketAddr,
    (status, content_type, body): (StatusCode, &'static str, &Bytes),
    log: (Option<&LogInfo>, tokio::time::Instant, &str, RulePriority),
) -> Response<ProxyBody> {
    let (log_info, started, trace, priority) = log;
    let res = elb_response(status, content_type, body.clone());
    finish_elb(env, routes, client, log_info, started, trace, priority, "fixed-response", res)
}

/// A redirect rule's answer, counted and logged. `log`: the request's log info, when
/// logs are on, with its start, trace id and the rule's priority.
pub(crate) fn redirect(
    env: &Env,
    routes: &Routes,
    client: SocketAddr,
    r: &shoal_model::elbv2::Redirect,
    source: RedirectSource<'_>,
    log: (Option<&LogInfo>, tokio::time::Instant, &str, RulePriority),
) -> Response<ProxyBody> {
    let (log_info, started, trace, priority) = log;
    let location = r.location(source);
    let mut res = elb_response(
        StatusCode::from_u16(r.status_code).unwrap_or(StatusCode::MOVED_PERMANENTLY),
        "text/html",
        Bytes::new(),
    );
    let status = res.status().as_u16();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    routes.lb.counters.elb_response(status);
    if let (Some(sink), Some(info)) = (&routes.settings.log, log_info) {
        let done = Done {
            status,
            target: None,
            target_status: None,
            target_time: None,
            tg: None,
            priority,
            action: "redirect",
            redirect: Some(&location),
            tried: &[],
            sent_bytes: 0,
            dispatched: false,
        };
        sink.send(record(env, routes, client, info, started, trace, &done));
    }
    res
}

pub(crate) fn trace_str(h: &HeaderValue) -> &str {
    h.to_str().unwrap_or("-")
}

/// `X-Amzn-Trace-Id`: a new `Root=1-<epoch hex>-<96 random bits>`; when the client
/// sent a Root, AWS keeps it and adds (or replaces) `Self=` in front instead.
pub(crate) fn trace_header(env: &Env, incoming: Option<&[u8]>) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let epoch = env.wall().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as u32;
    let mut rng = rand::thread_rng();
    let (r1, r2) = (rng.gen::<u32>(), rng.gen::<u64>());
    // "Root=1-" + 8 hex + "-" + 24 hex, built on the stack: this runs on every request.
    let mut buf = *b"Root=1-00000000-000000000000000000000000";
    for i in 0..8 {
        buf[7 + i] = HEX[((epoch >> (28 - 4 * i)) & 0xf) as usize];
        buf[16 + i] = HEX[((r1 >> (28 - 4 * i)) & 0xf) as usize];
    }
    for i in 0..16 {
        buf[24 + i] = HEX[((r2 >> (60 - 4 * i)) & 0xf) as usize];
    }
    let root = std::str::from_utf8(&buf).unwrap_or("Root=1-00000000-000000000000000000000000");
    let id = &root[5..];
    let value = match incoming.and_then(|v| std::str::from_utf8(v).ok()) {
        Some(old) if old.contains("Root=") => {
            let rest: Vec<&str> =
                old.split(';').filter(|f| !f.trim_start().starts_with("Self=")).collect();
            format!("Self={id};{}", rest.join(";"))
        }
        Some(old) if !old.is_empty() => format!("{root};{old}"),
        _ => {
            return HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static("-"))
        }
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Formats `x` into `buf` without allocating; returns the written bytes.
pub(crate) fn fmt_into(buf: &mut [u8], x: impl std::fmt::Display) -> &[u8] {
    use std::io::Write;
    let len = buf.len();
    let mut cur = &mut buf[..];
    let _ = write!(cur, "{x}");
    let left = cur.len();
    &buf[..len - left]
}

/// Rewrites a client request for the target: hop-by-hop headers out, AWS's
/// forwarding headers in, HTTP/1.1 origin-form. Host stays as the client sent it.
fn prepare_upstream(
    req: &mut Request<Incoming>,
    routes: &Routes,
    client: SocketAddr,
    port: u16,
    trace: &HeaderValue,
) {
    let attrs = &routes.settings.attributes;
    if req.uri().scheme().is_some() {
        // Absolute-form from a client that thinks we are a proxy: keep path and query.
        let pq = req.uri().path_and_query().cloned();
        if let Some(pq) = pq {
            *req.uri_mut() = http::Uri::from(pq);
        }
    }
    *req.version_mut() = Version::HTTP_11;
    let h = req.headers_mut();
    strip_hop_by_hop(h);
    match attrs.xff_mode {
        XffMode::Append => {
            let mut buf = [0u8; 64];
            let new = if attrs.xff_client_port {
                fmt_into(&mut buf, client)
            } else {
                fmt_into(&mut buf, client.ip())
            };
            let value = match h.get(&X_FORWARDED_FOR) {
                Some(old) if !old.is_empty() => {
                    let mut v = Vec::with_capacity(old.len() + 2 + new.len());
                    v.extend_from_slice(old.as_bytes());
                    v.extend_from_slice(b", ");
                    v.extend_from_slice(new);
                    HeaderValue::from_bytes(&v)
                }
                _ => HeaderValue::from_bytes(new),
            };
            if let Ok(v) = value {
                h.insert(X_FORWARDED_FOR.clone(), v);
            }
        }
        XffMode::Preserve => {}
        XffMode::Remove => {
            h.remove(&X_FORWARDED_FOR);
        }
    }
    h.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    h.insert(X_FORWARDED_PORT.clone(), HeaderValue::from(port));
    h.insert(X_AMZN_TRACE_ID.clone(), trace.clone());
}

fn strip_hop_by_hop(h: &mut HeaderMap) {
    if let Some(conn) = h.remove(header::CONNECTION) {
        if let Ok(list) = conn.to_str() {
            for name in list.split(',') {
                let name = name.trim();
                if !name.is_empty()
                    && !name.eq_ignore_ascii_case("close")
                    && !name.eq_ignore_ascii_case("keep-alive")
                {
                    h.remove(name);
                }
            }
        }
    }
    for name in crate::headers::HOP_BY_HOP {
        h.remove(name);
    }
}

fn cookie<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_in(h.get_all(header::COOKIE).iter().map(|v| v.as_bytes()), name)
}

/// The value of cookie `name` in any of the `Cookie` header values `values`.
pub(crate) fn cookie_in<'a>(values: impl Iterator<Item = &'a [u8]>, name: &str) -> Option<&'a str> {
    for v in values {
        let Ok(s) = std::str::from_utf8(v) else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k == name {
                    return Some(v);
                }
            }
        }
    }
    None
}

fn http_date(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn set_cookie(name: &str, value: u64, expires: &str, cors: bool) -> Option<HeaderValue> {
    let extra = if cors { "; SameSite=None" } else { "" };
    HeaderValue::from_str(&format!("{name}={value:016x}; Expires={expires}; Path=/{extra}")).ok()
}

/// The target group of a forward action: the one named by a valid `AWSALBTG` cookie
/// (`tg_cookie`) when group stickiness is on, else one picked by weight. `None`
/// when every weight is 0 (503).
pub(crate) fn choose_group<'a>(
    fwd: &'a Forward,
    tg_cookie: Option<&str>,
) -> Option<&'a Arc<TargetGroupRt>> {
    if fwd.groups.len() == 1 {
        return Some(&fwd.groups[0].0);
    }
    let sticky = fwd
        .stickiness_seconds
        .and(tg_cookie)
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .and_then(|id| fwd.groups.iter().find(|(g, w)| g.sticky_id == id && *w > 0));
    if let Some((g, _)) = sticky {
        return Some(g);
    }
    let total: u32 = fwd.groups.iter().map(|(_, w)| *w).sum();
    let r = if total == 0 { 0 } else { rand::thread_rng().gen_range(0..total) };
    pick_weighted(fwd.groups.iter().map(|(_, w)| *w), r).map(|i| &fwd.groups[i].0)
}

/// Whether responses through `tg` set stickiness cookies at all.
pub(crate) fn sets_cookies(fwd: &Forward, lb_sticky: bool) -> bool {
    lb_sticky || (fwd.stickiness_seconds.is_some() && fwd.groups.len() > 1)
}

/// The `Set-Cookie` values of a response from `target` in `tg`: `AWSALB`/`AWSALBCORS`
/// for load-balancer stickiness, `AWSALBTG`/`AWSALBTGCORS` for group stickiness.
pub(crate) fn sticky_cookies(
    env: &Env,
    fwd: &Forward,
    attrs: &shoal_model::elbv2::TargetGroupAttributes,
    lb_sticky: bool,
    tg: &TargetGroupRt,
    target_sticky_id: u64,
    mut push: impl FnMut(HeaderValue),
) {
    let now = env.wall();
    if lb_sticky {
        let exp = http_date(now + Duration::from_secs(u64::from(attrs.lb_cookie_duration_seconds)));
        push_some(&mut push, set_cookie("AWSALB", target_sticky_id, &exp, false));
        push_some(&mut push, set_cookie("AWSALBCORS", target_sticky_id, &exp, true));
    }
    if let (Some(secs), true) = (fwd.stickiness_seconds, fwd.groups.len() > 1) {
        let exp = http_date(now + Duration::from_secs(u64::from(secs)));
        push_some(&mut push, set_cookie("AWSALBTG", tg.sticky_id, &exp, false));
        push_some(&mut push, set_cookie("AWSALBTGCORS", tg.sticky_id, &exp, true));
    }
}

fn push_some(push: &mut impl FnMut(HeaderValue), v: Option<HeaderValue>) {
    if let Some(v) = v {
        push(v);
    }
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    env: &Env,
    routes: &Routes,
    fwd: &Forward,
    mut req: Request<Incoming>,
    client: SocketAddr,
    log_info: Option<LogInfo>,
    started: tokio::time::Instant,
    trace: &str,
    priority: RulePriority,
) -> Response<ProxyBody> {
    // 1. The target group: sticky (AWSALBTG) or by weight.
    let tg_cookie = match fwd.stickiness_seconds {
        Some(_) if fwd.groups.len() > 1 => cookie(req.headers(), "AWSALBTG"),
        _ => None,
    };
    let Some(tg) = choose_group(fwd, tg_cookie) else {
        return finish_elb(
            env,
            routes,
            client,
            log_info.as_ref(),
            started,
            trace,
            priority,
            "forward",
            elb_error(StatusCode::SERVICE_UNAVAILABLE),
        );
    };
    let settings = tg.settings.load_full();
    let targets = tg.targets.load_full();
    let attrs = &settings.attributes;
    let lb_sticky = attrs.stickiness_enabled && attrs.stickiness_type == StickinessType::LbCookie;
    let sticky = if lb_sticky {
        cookie(req.headers(), "AWSALB").and_then(|v| u64::from_str_radix(v, 16).ok())
    } else {
        None
    };

    // 2. A target, retrying refused connects on another one when allowed.
    let mut tried_mask = 0u64;
    let mut tried: Vec<&str> = Vec::new();
    let now_ms = if attrs.slow_start_seconds > 0 { env.now_ms() } else { 0 };
    let idle = routes.settings.idle_timeout;
    let mut counted = false;
    loop {
        let Some(i) = tg.pick(&targets, &settings, tried_mask, sticky, now_ms) else {
            // Nothing registered and in service: 503. Every candidate refused: 502.
            let status = if tried.is_empty() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::BAD_GATEWAY
            };
            return finish_forward_error(
                env,
                routes,
                tg,
                client,
                log_info.as_ref(),
                started,
                trace,
                priority,
                status,
                &tried,
            );
        };
        let target = &targets[i];
        if !counted {
            counted = true;
            routes.lb.counters.request_count.fetch_add(1, Relaxed);
            tg.counters.request_count.fetch_add(1, Relaxed);
        }
        if log_info.is_some() {
            tried.push(&target.addr_str);
        }
        target.outstanding.fetch_add(1, Relaxed);
        let sent_at = tokio::time::Instant::now();
        let result = tokio::time::timeout(
            idle,
            send(target, req, env.cfg.connect_timeout, env.cfg.max_idle_per_target),
        )
        .await;
        let err = match result {
            Ok(Ok((res, ret))) => {
                target.requests.fetch_add(1, Relaxed);
                let target_time = sent_at.elapsed();
                let (mut parts, body) = res.into_parts();
                let status = parts.status.as_u16();
                routes.lb.counters.target_response(status, target_time);
                tg.counters.target_response(status, target_time);
                strip_hop_by_hop(&mut parts.headers);
                let sent_bytes = match log_info {
                    Some(_) => parts
                        .headers
                        .get(header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                        .unwrap_or(0),
                    None => 0,
                };
                let mut res = Response::from_parts(parts, ProxyBody::upstream(body, ret));
                if sets_cookies(fwd, lb_sticky) {
                    let h = res.headers_mut();
                    sticky_cookies(env, fwd, attrs, lb_sticky, tg, target.sticky_id, |v| {
                        h.append(header::SET_COOKIE, v);
                    });
                }
                if let (Some(sink), Some(info)) = (&routes.settings.log, log_info) {
                    let done = Done {
                        status,
                        target: Some(&target.addr_str),
                        target_status: Some(status),
                        target_time: Some(target_time),
                        tg: Some(tg),
                        priority,
                        action: "forward",
                        redirect: None,
                        tried: &tried,
                        sent_bytes,
                        dispatched: true,
                    };
                    sink.send(record(env, routes, client, &info, started, trace, &done));
                }
                return res;
            }
            Ok(Err(e)) => e,
            Err(_elapsed) => {
                target.outstanding.fetch_sub(1, Relaxed);
                return finish_forward_error(
                    env,
                    routes,
                    tg,
                    client,
                    log_info.as_ref(),
                    started,
                    trace,
                    priority,
                    StatusCode::GATEWAY_TIMEOUT,
                    &tried,
                );
            }
        };
        target.outstanding.fetch_sub(1, Relaxed);
        let status = match err {
            SendError::Connect(e, back) if attrs.retry_on_connect_failure && i < 64 => {
                tracing::debug!(target = %target.addr, error = %e, "connect failed; retrying on another target");
                routes.lb.counters.retried_connects.fetch_add(1, Relaxed);
                tried_mask |= 1 << i;
                req = *back;
                continue;
            }
            SendError::Connect(ref e, _) => {
                tracing::debug!(target = %target.addr, error = %e, "connect failed");
                err.status()
            }
            // The client's request body failed (broken chunked framing, or the
            // client left mid-body): the client's fault, as ALB counts it.
            SendError::NoResponse(ref e) if e.is_user() => {
                tracing::debug!(target = %target.addr, error = %e, "request body failed");
                let res = refusal();
                let log = log_info.as_ref();
                return finish_elb(
                    env, routes, client, log, started, trace, priority, "forward", res,
                );
            }
            SendError::NoResponse(ref e) => {
                tracing::debug!(target = %target.addr, error = %e, "no valid response");
                err.status()
            }
            SendError::ConnectTimeout => err.status(),
        };
        return finish_forward_error(
            env,
            routes,
            tg,
            client,
            log_info.as_ref(),
            started,
            trace,
            priority,
            status,
            &tried,
        );
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn finish_forward_error(
    env: &Env,
    routes: &Routes,
    tg: &TargetGroupRt,
    client: SocketAddr,
    log_info: Option<&LogInfo>,
    started: tokio::time::Instant,
    trace: &str,
    priority: RulePriority,
    status: StatusCode,
    tried: &[&str],
) -> Response<ProxyBody> {
    let code = status.as_u16();
    routes.lb.counters.elb_response(code);
    tg.counters.elb_response(code);
    if let (Some(sink), Some(info)) = (&routes.settings.log, log_info) {
        let done = Done {
            status: code,
            target: tried.last().copied(),
            target_status: None,
            target_time: None,
            tg: Some(tg),
            priority,
            action: "forward",
            redirect: None,
            tried,
            sent_bytes: error_len(status),
            dispatched: !tried.is_empty(),
        };
        sink.send(record(env, routes, client, info, started, trace, &done));
    }
    elb_error(status)
}

fn error_len(status: StatusCode) -> u64 {
    crate::body::error_page(status).len() as u64
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn finish_elb(
    env: &Env,
    routes: &Routes,
    client: SocketAddr,
    log_info: Option<&LogInfo>,
    started: tokio::time::Instant,
    trace: &str,
    priority: RulePriority,
    action: &'static str,
    res: Response<ProxyBody>,
) -> Response<ProxyBody> {
    let status = res.status().as_u16();
    routes.lb.counters.elb_response(status);
    if let (Some(sink), Some(info)) = (&routes.settings.log, log_info) {
        let sent = hyper::body::Body::size_hint(res.body()).exact().unwrap_or(0);
        let done = Done {
            status,
            target: None,
            target_status: None,
            target_time: None,
            tg: None,
            priority,
            action,
            redirect: None,
            tried: &[],
            sent_bytes: sent,
            dispatched: false,
        };
        sink.send(record(env, routes, client, info, started, trace, &done));
    }
    res
}

pub(crate) fn record(
    env: &Env,
    routes: &Routes,
    client: SocketAddr,
    info: &LogInfo,
    started: tokio::time::Instant,
    trace: &str,
    d: &Done<'_>,
) -> String {
    let total = started.elapsed();
    let (req_t, tgt_t, resp_t) = match (d.dispatched, d.target_time) {
        (true, Some(t)) => {
            let rest = total.saturating_sub(t);
            (Some(rest), Some(t), Some(Duration::ZERO))
        }
        (true, None) => (Some(total), None, None),
        (false, _) => (Some(total), Some(Duration::ZERO), Some(Duration::ZERO)),
    };
    Record {
        time: env.wall(),
        elb: &routes.settings.dimension,
        client,
        target: d.target,
        request_processing: if d.dispatched || d.target.is_none() { req_t } else { None },
        target_processing: tgt_t,
        response_processing: resp_t,
        elb_status: d.status,
        target_status: d.target_status,
        received_bytes: info.received_bytes,
        sent_bytes: d.sent_bytes,
        method: &info.method,
        url: &info.url,
        version: info.version,
        user_agent: &info.user_agent,
        target_group_arn: d.tg.map(|t| t.arn.as_str()),
        trace_id: trace,
        matched_rule_priority: d.priority.log_value(),
        request_creation_time: info.created,
        actions_executed: d.action,
        redirect_url: d.redirect,
        error_reason: None,
        targets_tried: d.tried,
        target_status_list: d.target_status,
    }
    .line()
}
