//! The HTTP/1.1 fast path of listener connections.
//!
//! One task per client connection parses each request head with `httparse`, forwards
//! the request on a keep-alive connection to the chosen target *from the same task*,
//! and copies the response back. There is no hyper dispatcher, no channel and no task
//! hop between the client connection and the target connection, no header map and no
//! per-request allocation on the common path: a request costs one read and one write
//! on each side. Rules, target selection, connect retries, AWS's forwarding headers,
//! stickiness, counters and access-log records are exactly the hyper path's
//! ([`crate::forward`] — the functions are shared).
//!
//! It handles the common case: HTTP/1.1 requests in origin form, without a body or
//! with a `Content-Length` body of at most [`MAX_BODY`] (read whole before it is
//! sent, so it can be sent again); fixed-response and redirect rules are answered
//! here too (through the same functions as hyper's path). What ALB refuses
//! ([`crate::head`]: heads beyond its limits, malformed ones, a missing or second
//! `Host`, broken chunked framing) gets 400 and the connection closes. Anything else
//! — HTTP/1.0, larger, chunked or `Expect` bodies (hyper streams those both ways at
//! once), upgrades, absolute-form targets — hands the connection with the bytes
//! already read to hyper ([`Served::Fallback`]), which serves it to the end.
//!
//! Target connections live in [`TargetRt::idle`] between requests, always at a
//! message boundary. One taken from there that turns out closed before any byte of
//! the response arrived is replaced by a fresh connection and the request is sent
//! again, for idempotent requests.
//!
//! `wire` holds the byte-level pieces: header values and lengths, the response head
//! rewritten for the client, responses the load balancer writes itself, and where a
//! chunked body ends.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::header::HeaderValue;
use http::StatusCode;
use httparse::Status;
use shoal_model::elbv2::actions::RedirectSource;
use shoal_model::elbv2::conditions::{matches, HeaderValues, RequestView};
use shoal_model::elbv2::load_balancer::XffMode;
use shoal_model::elbv2::target_group::StickinessType;
use shoal_model::elbv2::RulePriority;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::access_log::LogSink;
use crate::body::{elb_error, ProxyBody};
use crate::forward::{
    choose_group, cookie_in, finish_elb, finish_forward_error, fixed, record, redirect,
    sets_cookies, sticky_cookies, trace_header, trace_str, Done, LogInfo,
};
use crate::head::{Chunks, StreamCheck};
use crate::state::{
    Env, Forward, ListenerRt, RouteAction, Routes, TargetGroupRt, TargetRt, TgSettings,
};

mod wire;
use wire::*;

/// Longest request or response head: ALB's limit for a request's, which it refuses
/// beyond (and the fast path with it).
const MAX_HEAD: usize = crate::head::MAX_REQUEST_HEAD;
/// Most header lines in a head (more: hyper takes over, or 502 for a response).
const MAX_HEADERS: usize = 100;
/// Largest request body the fast path forwards (read whole first); hyper streams
/// larger ones.
const MAX_BODY: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;

/// What became of a client connection.
pub(crate) enum Served {
    /// Closed, by either side or after an error.
    Closed,
    /// A request the fast path does not handle: serve the rest of the connection,
    /// starting with the bytes already read, with hyper.
    Fallback(Rewind),
}

/// A client socket with bytes already read from it in front.
pub(crate) struct Rewind {
    pre: Bytes,
    io: TcpStream,
    /// The request stream, followed from the head of the request handed over, so that
    /// a chunk size hyper would wait for (it takes any 64-bit size), in this request or
    /// a later one, gets its 400 at once: hyper sees a read error, and the request's
    /// failed body answers 400 ([`crate::forward`]).
    framing: StreamCheck,
}

fn refusal(why: crate::head::Refusal) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{why:?}"))
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(why) = this.framing.refused() {
            return Poll::Ready(Err(refusal(why)));
        }
        if !this.pre.is_empty() {
            let n = this.pre.len().min(buf.remaining());
            let fresh = this.pre.split_to(n);
            let sound = match this.framing.feed(&fresh) {
                Ok(()) => fresh.len(),
                Err((0, why)) => return Poll::Ready(Err(refusal(why))),
                // The requests before the refused one are still served.
                Err((ok, _)) => ok,
            };
            buf.put_slice(&fresh[..sound]);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            match this.framing.feed(&buf.filled()[before..]) {
                Ok(()) => {}
                Err((0, why)) => {
                    buf.set_filled(before);
                    return Poll::Ready(Err(refusal(why)));
                }
                Err((ok, _)) => buf.set_filled(before + ok),
            }
        }
        res
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// One client connection's state and buffers, reused across its requests.
struct Conn {
    client: TcpStream,
    peer: SocketAddr,
    /// Bytes read from the client and not consumed yet.
    buf: BytesMut,
    /// The request for the target: head and body.
    req: Vec<u8>,
    /// Bytes read from the target.
    ubuf: BytesMut,
    /// What goes to the client next: response head and the first body bytes.
    res: Vec<u8>,
    /// Sticky cookies of the current response.
    cookies: Vec<HeaderValue>,
    /// The client's address as `X-Forwarded-For` adds it: `ip`, and `ip:port`.
    xff_ip: Vec<u8>,
    xff_ip_port: Vec<u8>,
}

/// Serves requests on a client connection until it closes or needs hyper.
pub(crate) async fn serve(client: TcpStream, peer: SocketAddr, l: &ListenerRt) -> Served {
    let env = &*l.env;
    let mut c = Conn {
        client,
        peer,
        buf: BytesMut::with_capacity(READ_CHUNK),
        req: Vec::with_capacity(1024),
        ubuf: BytesMut::with_capacity(READ_CHUNK),
        res: Vec::with_capacity(1024),
        cookies: Vec::new(),
        xff_ip: peer.ip().to_string().into_bytes(),
        xff_ip_port: peer.to_string().into_bytes(),
    };
    let mut timer = Timer::new();
    loop {
        let routes = l.routes.load_full();
        let port = l.port.load(Relaxed);
        let idle = routes.settings.idle_timeout;
        let deadline = tokio::time::Instant::now() + idle;
        // 1. A complete request head, planned into `c.req`.
        let plan = loop {
            if !c.buf.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut r = httparse::Request::new(&mut headers);
                match r.parse(&c.buf) {
                    Ok(Status::Complete(n)) => {
                        let xff = match routes.settings.attributes.xff_client_port {
                            true => &c.xff_ip_port,
                            false => &c.xff_ip,
                        };
                        match plan(env, &routes, port, c.peer, xff, &r, n, &c.buf, &mut c.req) {
                            Ok(p) => break Some(p),
                            Err(Step::HandOver) => break None,
                            Err(Step::ReadBody) => {}
                            Err(Step::Refuse) => break Some(refuse(env, &routes, c.peer)),
                        }
                    }
                    Ok(Status::Partial) if c.buf.len() < MAX_HEAD => {}
                    // More header lines than the fast path has room for: hyper's
                    // limit is the same and it answers 431.
                    Err(httparse::Error::TooManyHeaders) => break None,
                    _ => break Some(refuse(env, &routes, c.peer)),
                }
            }
            // hyper's header-read timeout does the same on its connections.
            match timer.run(deadline, read_more(&mut c.client, &mut c.buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Served::Closed,
                Ok(Ok(_)) => {}
            }
        };
        let plan = match plan {
            Some(Planned::Forward(plan)) => plan,
            Some(Planned::Respond { head_len, body_len, close, is_head, res }) => {
                c.buf.advance(head_len + body_len);
                c.res.clear();
                serialize(&mut c.res, &res, close, is_head);
                if c.client.write_all(&c.res).await.is_err() {
                    return Served::Closed;
                }
                if close {
                    let _ = c.client.shutdown().await;
                    linger(&mut c.client).await;
                    return Served::Closed;
                }
                continue;
            }
            None => {
                let framing = StreamCheck::default();
                return Served::Fallback(Rewind { pre: c.buf.freeze(), io: c.client, framing });
            }
        };
        // The request (head and body) is in `c.req` now.
        c.buf.advance(plan.head_len + plan.body_len);
        match c.forward(env, &routes, &plan, idle, &mut timer).await {
            Ok(true) => {}
            _ => return Served::Closed,
        }
    }
}

/// Reads and drops what the client still sends after the last response (for a
/// while, and not without end), so that closing with unread bytes does not reset
/// the connection before the client has read the answer (nginx's lingering close).
async fn linger(s: &mut TcpStream) {
    let mut sink = [0u8; 4096];
    let drain = async {
        let mut left = 1usize << 20;
        while left > 0 {
            match s.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// Reads what the peer sent into `buf`. Ok(0): end of stream.
async fn read_more(s: &mut TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(READ_CHUNK);
    }
    s.read_buf(buf).await
}

/// A request the fast path forwards.
struct Plan<'r> {
    head_len: usize,
    /// `Content-Length` of the request body (copied into `Conn::req`).
    body_len: usize,
    /// The client asked to close after this response.
    close: bool,
    idempotent: bool,
    is_head: bool,
    fwd: &'r Forward,
    priority: RulePriority,
    tg: &'r Arc<TargetGroupRt>,
    settings: Arc<TgSettings>,
    lb_sticky: bool,
    /// `AWSALB` cookie's target.
    sticky: Option<u64>,
    trace: HeaderValue,
    log: Option<LogInfo>,
    started: tokio::time::Instant,
}

/// A parsed head's headers, for rule matching.
struct Headers<'a>(&'a [httparse::Header<'a>]);

impl HeaderValues for Headers<'_> {
    fn any_value(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.0
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .any(|h| visible(h.value).is_some_and(&mut *f))
    }
}

/// What to do with a complete request.
enum Planned<'r> {
    Forward(Plan<'r>),
    /// The load balancer answers itself: fixed response, redirect, or 503.
    Respond {
        head_len: usize,
        body_len: usize,
        close: bool,
        is_head: bool,
        res: http::Response<ProxyBody>,
    },
}

/// Why a complete head is not planned yet.
enum Step {
    /// Its body has not arrived whole yet: read more and plan again.
    ReadBody,
    /// The fast path does not handle it: hand the connection to hyper.
    HandOver,
    /// ALB refuses it ([`crate::head`]): 400, and the connection closes.
    Refuse,
}

/// The answer to a request ALB refuses: 400, counted, and the connection closes.
fn refuse<'r>(env: &Env, routes: &Routes, peer: SocketAddr) -> Planned<'r> {
    let started = tokio::time::Instant::now();
    let res = elb_error(StatusCode::BAD_REQUEST);
    let res = finish_elb(env, routes, peer, None, started, "", RulePriority::Default, "-", res);
    Planned::Respond { head_len: 0, body_len: 0, close: true, is_head: false, res }
}

/// Decides what to do with a request whose head is complete, and writes the request
/// for the target into `out`.
#[allow(clippy::too_many_arguments)]
fn plan<'r>(
    env: &Env,
    routes: &'r Routes,
    port: u16,
    peer: SocketAddr,
    client_xff: &[u8],
    r: &httparse::Request<'_, '_>,
    head_len: usize,
    buf: &[u8],
    out: &mut Vec<u8>,
) -> Result<Planned<'r>, Step> {
    use Step::HandOver;
    let started = tokio::time::Instant::now();
    if r.version != Some(1) {
        return Err(HandOver);
    }
    let method = r.method.ok_or(HandOver)?;
    let target = r.path.ok_or(HandOver)?;
    if !target.starts_with('/') || !target.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(HandOver);
    }
    let headers: &[httparse::Header<'_>] = r.headers;
    let lines = headers.iter().map(|h| (h.name, h.value));
    if crate::head::check_lines(method, target.len(), true, lines).is_err() {
        return Err(Step::Refuse);
    }
    let mut body_len = None;
    let mut transfer_encoding = None;
    let mut close = false;
    let (mut host, mut trace_in, mut xff, mut ua) = (None, None, None, None);
    let mut header_bytes = 0u64;
    for h in headers {
        header_bytes += (h.name.len() + h.value.len() + 4) as u64;
        let n = h.name;
        if n.eq_ignore_ascii_case("host") {
            host = host.or(Some(h.value));
        } else if n.eq_ignore_ascii_case("content-length") {
            if body_len.is_some() {
                return Err(HandOver);
            }
            body_len = Some(parse_len(h.value).ok_or(HandOver)?);
        } else if n.eq_ignore_ascii_case("connection") {
            for token in visible(h.value).ok_or(HandOver)?.split(',') {
                let token = token.trim();
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if !token.is_empty() && !token.eq_ignore_ascii_case("keep-alive") {
                    // Names more hop-by-hop headers (or asks for an upgrade).
                    return Err(HandOver);
                }
            }
        } else if n.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = Some(h.value);
        } else if n.eq_ignore_ascii_case("expect") || n.eq_ignore_ascii_case("upgrade") {
            return Err(HandOver);
        } else if n.eq_ignore_ascii_case("x-amzn-trace-id") {
            trace_in = trace_in.or(Some(h.value));
        } else if n.eq_ignore_ascii_case("x-forwarded-for") {
            xff = xff.or(Some(h.value));
        } else if n.eq_ignore_ascii_case("user-agent") {
            ua = ua.or(Some(h.value));
        }
    }
    if let Some(te) = transfer_encoding {
        // Hyper streams chunked bodies; the framing that has arrived is checked
        // first (and the first chunk-size line waited for), so that a broken or
        // impossible chunk size gets its 400 at once.
        if crate::head::is_chunked(te) {
            match crate::head::check_chunks(&buf[head_len..]) {
                Err(_) => return Err(Step::Refuse),
                Ok(Chunks::Partial { first_size_line: false }) => return Err(Step::ReadBody),
                Ok(Chunks::Partial { .. }) | Ok(Chunks::Complete(_)) => {}
            }
        }
        return Err(HandOver);
    }
    let body_len = body_len.unwrap_or(0);
    if body_len > MAX_BODY as u64 {
        return Err(HandOver);
    }
    let body_len = body_len as usize;
    if buf.len() - head_len < body_len {
        return Err(Step::ReadBody);
    }
    let host_raw = host.and_then(visible);
    let host = host_raw.and_then(crate::headers::host_name);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    // The request is the fast path's from here on: no more hand-overs.
    let log = routes.settings.log.is_some().then(|| {
        LogInfo::from_head(
            method,
            host,
            target,
            "HTTP/1.1",
            header_bytes + body_len as u64,
            ua.and_then(visible),
            port,
            env.wall(),
        )
    });
    let is_head = method == "HEAD";
    let respond = |res| Ok(Planned::Respond { head_len, body_len, close, is_head, res });
    let view =
        RequestView { method, host, path, query, source_ip: peer.ip(), headers: &Headers(headers) };
    let Some(rule) = routes.rules.iter().find(|r| matches(&r.conditions, &view)) else {
        let res = elb_error(StatusCode::SERVICE_UNAVAILABLE);
        return respond(finish_elb(
            env,
            routes,
            peer,
            log.as_ref(),
            started,
            "",
            RulePriority::Default,
            "-",
            res,
        ));
    };
    let trace = trace_header(env, trace_in);
    let priority = rule.priority;
    let fwd = match &rule.action {
        RouteAction::Forward(fwd) => fwd,
        RouteAction::Fixed { status, content_type, body } => {
            let log = (log.as_ref(), started, trace_str(&trace), priority);
            return respond(fixed(env, routes, peer, (*status, content_type, body), log));
        }
        RouteAction::Redirect(r) => {
            let source = RedirectSource {
                protocol: "HTTP",
                host: host.unwrap_or(""),
                port,
                path,
                query: query.unwrap_or(""),
            };
            let log = (log.as_ref(), started, trace_str(&trace), priority);
            return respond(redirect(env, routes, peer, r, source, log));
        }
    };
    let cookies =
        || headers.iter().filter(|h| h.name.eq_ignore_ascii_case("cookie")).map(|h| h.value);
    let tg_cookie = match fwd.stickiness_seconds {
        Some(_) if fwd.groups.len() > 1 => cookie_in(cookies(), "AWSALBTG"),
        _ => None,
    };
    let Some(tg) = choose_group(fwd, tg_cookie) else {
        let res = elb_error(StatusCode::SERVICE_UNAVAILABLE);
        let trace = trace_str(&trace);
        return respond(finish_elb(
            env,
            routes,
            peer,
            log.as_ref(),
            started,
            trace,
            priority,
            "forward",
            res,
        ));
    };
    let settings = tg.settings.load_full();
    let attrs = &settings.attributes;
    let lb_sticky = attrs.stickiness_enabled && attrs.stickiness_type == StickinessType::LbCookie;
    let sticky = if lb_sticky {
        cookie_in(cookies(), "AWSALB").and_then(|v| u64::from_str_radix(v, 16).ok())
    } else {
        None
    };

    // The request for the target: AWS's forwarding headers, hop-by-hop ones out.
    let xff_mode = routes.settings.attributes.xff_mode;
    out.clear();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for h in headers {
        if !crate::headers::dropped_from_request(h.name, xff_mode) {
            put_header(out, h.name.as_bytes(), h.value);
        }
    }
    if xff_mode == XffMode::Append {
        out.extend_from_slice(b"x-forwarded-for: ");
        if let Some(old) = xff.filter(|v| !v.is_empty()) {
            out.extend_from_slice(old);
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(client_xff);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"x-forwarded-proto: http\r\nx-forwarded-port: ");
    put_decimal(out, u64::from(port));
    out.extend_from_slice(b"\r\n");
    put_header(out, b"x-amzn-trace-id", trace.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&buf[head_len..head_len + body_len]);
    Ok(Planned::Forward(Plan {
        head_len,
        body_len,
        close,
        idempotent: matches!(method, "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" | "TRACE"),
        is_head,
        fwd,
        priority,
        tg,
        settings,
        lb_sticky,
        sticky,
        trace,
        log,
        started,
    }))
}

/// A connection's one timer for its idle and response timeouts. It is re-armed
/// lazily: a deadline that moves later costs nothing until the timer fires at the old
/// one, so steady traffic touches the timer wheel about once per timeout period
/// rather than twice per request.
struct Timer {
    sleep: Pin<Box<tokio::time::Sleep>>,
}

/// The deadline passed.
struct Elapsed;

impl Timer {
    fn new() -> Timer {
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        Timer { sleep: Box::pin(tokio::time::sleep_until(far)) }
    }

    /// Runs `f` until it completes or `deadline` passes.
    async fn run<F: Future>(
        &mut self,
        deadline: tokio::time::Instant,
        f: F,
    ) -> Result<F::Output, Elapsed> {
        if self.sleep.deadline() > deadline {
            self.sleep.as_mut().reset(deadline);
        }
        let mut f = std::pin::pin!(f);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = f.as_mut().poll(cx) {
                return Poll::Ready(Ok(v));
            }
            while self.sleep.as_mut().poll(cx).is_ready() {
                if self.sleep.deadline() >= deadline {
                    return Poll::Ready(Err(Elapsed));
                }
                self.sleep.as_mut().reset(deadline);
            }
            Poll::Pending
        })
        .await
    }
}

/// A response head received from a target and rewritten into `Conn::res`.
struct Got {
    stream: TcpStream,
    head_len: usize,
    status: u16,
    framing: Framing,
    /// The target may take another request on this connection afterwards.
    reusable: bool,
    /// The client connection closes after this response.
    close: bool,
    content_length: u64,
}

/// The fast path's failure: nothing to give back on a refused connect (the planned
/// request stays in the connection's buffer).
type Fail = crate::upstream::UpstreamError<(), io::Error>;

fn bad(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Conn {
    /// Forwards the planned request, retrying refused connects on another target, and
    /// copies the response (or an error page) to the client. Ok(true): the connection
    /// can take the next request.
    async fn forward(
        &mut self,
        env: &Env,
        routes: &Routes,
        p: &Plan<'_>,
        idle: Duration,
        timer: &mut Timer,
    ) -> Result<bool, ()> {
        let tg = p.tg;
        let targets = tg.targets.load_full();
        let attrs = &p.settings.attributes;
        let logging = p.log.is_some();
        let trace = trace_str(&p.trace);
        let mut tried_mask = 0u64;
        let mut tried: Vec<&str> = Vec::new();
        let now_ms = if attrs.slow_start_seconds > 0 { env.now_ms() } else { 0 };
        let mut counted = false;
        let failure = loop {
            let Some(i) = tg.pick(&targets, &p.settings, tried_mask, p.sticky, now_ms) else {
                // Nothing registered and in service: 503. Every candidate refused: 502.
                break if tried.is_empty() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::BAD_GATEWAY
                };
            };
            let target = &targets[i];
            if !counted {
                counted = true;
                routes.lb.counters.request_count.fetch_add(1, Relaxed);
                tg.counters.request_count.fetch_add(1, Relaxed);
            }
            if logging {
                tried.push(&target.addr_str);
            }
            self.cookies.clear();
            if sets_cookies(p.fwd, p.lb_sticky) {
                let cookies = &mut self.cookies;
                sticky_cookies(env, p.fwd, attrs, p.lb_sticky, tg, target.sticky_id, |v| {
                    cookies.push(v)
                });
            }
            target.outstanding.fetch_add(1, Relaxed);
            let sent_at = tokio::time::Instant::now();
            let result =
                timer.run(sent_at + idle, self.exchange(target, p, env.cfg.connect_timeout)).await;
            let err = match result {
                Ok(Ok(got)) => {
                    let target_time = sent_at.elapsed();
                    target.requests.fetch_add(1, Relaxed);
                    routes.lb.counters.target_response(got.status, target_time);
                    tg.counters.target_response(got.status, target_time);
                    if let (Some(sink), Some(info)) = (&routes.settings.log, &p.log) {
                        let done = Done {
                            status: got.status,
                            target: Some(&target.addr_str),
                            target_status: Some(got.status),
                            target_time: Some(target_time),
                            tg: Some(tg),
                            priority: p.priority,
                            action: "forward",
                            redirect: None,
                            tried: &tried,
                            sent_bytes: got.content_length,
                            dispatched: true,
                        };
                        log(sink, env, routes, self.peer, info, p.started, trace, &done);
                    }
                    let result = self.copy_response(got, target, env.cfg.max_idle_per_target).await;
                    target.outstanding.fetch_sub(1, Relaxed);
                    return result;
                }
                Ok(Err(e)) => e,
                Err(_elapsed) => {
                    target.outstanding.fetch_sub(1, Relaxed);
                    break StatusCode::GATEWAY_TIMEOUT;
                }
            };
            target.outstanding.fetch_sub(1, Relaxed);
            match err {
                Fail::Connect(e, ()) if attrs.retry_on_connect_failure && i < 64 => {
                    tracing::debug!(target = %target.addr, error = %e, "connect failed; retrying on another target");
                    routes.lb.counters.retried_connects.fetch_add(1, Relaxed);
                    tried_mask |= 1 << i;
                }
                Fail::Connect(ref e, ()) | Fail::NoResponse(ref e) => {
                    tracing::debug!(target = %target.addr, error = %e, "no response");
                    break err.status();
                }
                Fail::ConnectTimeout => break err.status(),
            }
        };
        let res = finish_forward_error(
            env,
            routes,
            tg,
            self.peer,
            p.log.as_ref(),
            p.started,
            trace,
            p.priority,
            failure,
            &tried,
        );
        let close = p.close;
        self.res.clear();
        serialize(&mut self.res, &res, close, p.is_head);
        self.client.write_all(&self.res).await.map_err(|_| ())?;
        Ok(!close)
    }

    /// One attempt on `target`: a connection, the request, the response head.
    async fn exchange(
        &mut self,
        target: &Arc<TargetRt>,
        p: &Plan<'_>,
        connect_timeout: Duration,
    ) -> Result<Got, Fail> {
        let mut fresh_only = false;
        loop {
            let pooled = if fresh_only { None } else { take_idle(target) };
            let from_pool = pooled.is_some();
            let mut up = match pooled {
                Some(s) => s,
                None => {
                    match tokio::time::timeout(
                        connect_timeout,
                        crate::dial::connect(target.addr, &target.dial.load_full()),
                    )
                    .await
                    {
                        Err(_) => return Err(Fail::ConnectTimeout),
                        Ok(Err(e)) => return Err(Fail::Connect(e, ())),
                        Ok(Ok(s)) => {
                            let _ = s.set_nodelay(true);
                            s
                        }
                    }
                }
            };
            // Head and body in one write.
            if let Err(e) = up.write_all(&self.req).await {
                if from_pool {
                    fresh_only = true;
                    continue;
                }
                return Err(Fail::Connect(e, ()));
            }
            self.ubuf.clear();
            loop {
                if !self.ubuf.is_empty() {
                    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let mut r = httparse::Response::new(&mut headers);
                    match r.parse(&self.ubuf) {
                        Ok(Status::Complete(n)) => {
                            let code = r.code.unwrap_or(0);
                            if code == 101 {
                                return Err(Fail::NoResponse(bad("unexpected 101 response")));
                            }
                            if (100..200).contains(&code) {
                                // Interim response (100 Continue, 103 Early Hints): skip.
                                self.ubuf.advance(n);
                                continue;
                            }
                            let (framing, reusable, close, content_length) =
                                response_head(&r, p, &self.cookies, &mut self.res).ok_or_else(
                                    || Fail::NoResponse(bad("invalid response framing")),
                                )?;
                            return Ok(Got {
                                stream: up,
                                head_len: n,
                                status: code,
                                framing,
                                reusable,
                                close,
                                content_length,
                            });
                        }
                        Ok(Status::Partial) if self.ubuf.len() < MAX_HEAD => {}
                        Ok(Status::Partial) => {
                            return Err(Fail::NoResponse(bad("response head too large")))
                        }
                        Err(_) => return Err(Fail::NoResponse(bad("invalid response head"))),
                    }
                }
                let retry_fresh = from_pool && p.idempotent;
                match read_more(&mut up, &mut self.ubuf).await {
                    Ok(0) | Err(_) if self.ubuf.is_empty() && retry_fresh => {
                        // Closed while idle: send it again on a fresh connection.
                        break;
                    }
                    Ok(0) => {
                        return Err(Fail::NoResponse(bad("connection closed before a response")))
                    }
                    Err(e) => return Err(Fail::NoResponse(e)),
                    Ok(_) => {}
                }
            }
            fresh_only = true;
        }
    }

    /// Writes the response head and body to the client, then gives the target
    /// connection back to the pool when it is at a message boundary.
    async fn copy_response(
        &mut self,
        got: Got,
        target: &Arc<TargetRt>,
        max_idle: usize,
    ) -> Result<bool, ()> {
        let Got { stream: mut up, head_len, framing, mut reusable, close, .. } = got;
        let mut left = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        let mut chunked = crate::chunked::Decoder::default();
        let mut first = true;
        let mut done = framing == Framing::Empty || framing == Framing::Length(0);
        let mut start = head_len;
        loop {
            let avail = &self.ubuf[start..];
            let take = match framing {
                Framing::Empty => 0,
                Framing::Length(_) => {
                    let t = (avail.len() as u64).min(left) as usize;
                    left -= t as u64;
                    done = left == 0;
                    t
                }
                Framing::Chunked => match chunked.feed(avail).map_err(drop)? {
                    Some(end) => {
                        done = true;
                        end
                    }
                    None => avail.len(),
                },
                Framing::Close => avail.len(),
            };
            if done && take < avail.len() {
                // More than the message: the connection is out of step.
                reusable = false;
            }
            if first {
                self.res.extend_from_slice(&avail[..take]);
                first = false;
                if self.client.write_all(&self.res).await.is_err() {
                    return Err(());
                }
            } else if take > 0 && self.client.write_all(&avail[..take]).await.is_err() {
                return Err(());
            }
            if done {
                break;
            }
            self.ubuf.clear();
            start = 0;
            match read_more(&mut up, &mut self.ubuf).await {
                Ok(0) if framing == Framing::Close => break,
                // Cut short: the client sees its connection close mid-body.
                Ok(0) | Err(_) => return Err(()),
                Ok(_) => {}
            }
        }
        if reusable && framing != Framing::Close && target.in_service() {
            let mut idle = target.idle.lock().unwrap();
            if idle.len() < max_idle {
                idle.push(up);
            }
        }
        if close {
            let _ = self.client.shutdown().await;
        }
        Ok(!close)
    }
}

#[allow(clippy::too_many_arguments)]
fn log(
    sink: &LogSink,
    env: &Env,
    routes: &Routes,
    client: SocketAddr,
    info: &LogInfo,
    started: tokio::time::Instant,
    trace: &str,
    done: &Done<'_>,
) {
    sink.send(record(env, routes, client, info, started, trace, done));
}

/// An idle connection to `target` that has not been closed by the target meanwhile.
fn take_idle(target: &TargetRt) -> Option<TcpStream> {
    loop {
        let s = target.idle.lock().unwrap().pop()?;
        if still_open(&s) {
            return Some(s);
        }
    }
}

/// Whether an idle connection looks open: nothing (no close, no stray bytes) has
/// arrived on it. Uses the readiness the runtime already knows, so no system call
/// unless something did arrive.
fn still_open(s: &TcpStream) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    match s.poll_read_ready(&mut cx) {
        Poll::Pending => true,
        Poll::Ready(Err(_)) => false,
        Poll::Ready(Ok(())) => {
            let mut b = [0u8; 1];
            matches!(s.try_read(&mut b), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
        }
    }
}
