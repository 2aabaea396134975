//! Connections to targets: a keep-alive pool per target and one send attempt.
//!
//! The pool is a `Vec` of idle HTTP/1.1 senders behind a std `Mutex` held only to
//! push or pop (never across an `.await`). A connection returns to the pool when its
//! response body has been read to the end ([`PoolReturn`]), so a pooled sender is
//! always idle.

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use crate::state::TargetRt;

/// Why one attempt to get a response from a target failed, on either request path:
/// `R` is what a refused connect hands back so another target can take the request,
/// `E` the error once the request went out.
pub(crate) enum UpstreamError<R, E> {
    /// The connect was refused, reset or unreachable: the request was never sent,
    /// so it can go to another target. AWS answers 502.
    Connect(io::Error, R),
    /// No connection within the connect timeout: 504.
    ConnectTimeout,
    /// The request was (or may have been) sent and no valid response came: 502.
    NoResponse(E),
}

impl<R, E> UpstreamError<R, E> {
    /// The status ALB answers the client with when no retry is left.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::ConnectTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Connect(..) | Self::NoResponse(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

/// The hyper path's failure: a refused connect gives the request back.
pub(crate) type SendError = UpstreamError<Box<Request<Incoming>>, hyper::Error>;

/// Counts a request outstanding on a target and gives its connection back when the
/// response is complete.
pub(crate) struct PoolReturn {
    target: Arc<TargetRt>,
    sender: SendRequest<Incoming>,
    max_idle: usize,
}

impl PoolReturn {
    /// `reusable`: the response was read to the end, so the connection is idle.
    pub fn release(self, reusable: bool) {
        self.target.outstanding.fetch_sub(1, Relaxed);
        if reusable && !self.sender.is_closed() && self.target.in_service() {
            let mut pool = self.target.pool.lock().unwrap();
            if pool.len() < self.max_idle {
                pool.push(self.sender);
            }
        }
    }
}

/// Sends `req` to `target`: on a pooled connection when one is idle (retrying on a
/// fresh one if the pooled one turns out closed before the request left), else on a
/// new connection. The caller has incremented `target.outstanding`; on error the
/// caller decrements it, on success [`PoolReturn`] does.
pub(crate) async fn send(
    target: &Arc<TargetRt>,
    mut req: Request<Incoming>,
    connect_timeout: Duration,
    max_idle: usize,
) -> Result<(Response<Incoming>, PoolReturn), SendError> {
    loop {
        let pooled = target.pool.lock().unwrap().pop();
        let Some(mut sender) = pooled else { break };
        if sender.ready().await.is_err() {
            continue;
        }
        match sender.try_send_request(req).await {
            Ok(res) => return Ok((res, PoolReturn { target: target.clone(), sender, max_idle })),
            Err(mut e) => match e.take_message() {
                // Closed before the request left: try the next one.
                Some(r) => req = r,
                None => return Err(SendError::NoResponse(e.into_error())),
            },
        }
    }
    let stream = match tokio::time::timeout(
        connect_timeout,
        crate::dial::connect(target.addr, &target.dial.load_full()),
    )
    .await
    {
        Err(_) => return Err(SendError::ConnectTimeout),
        Ok(Err(e)) => return Err(SendError::Connect(e, Box::new(req))),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = match http1::Builder::new().handshake(TokioIo::new(stream)).await {
        Ok(x) => x,
        Err(e) => return Err(SendError::Connect(io::Error::other(e), Box::new(req))),
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });
    match sender.try_send_request(req).await {
        Ok(res) => Ok((res, PoolReturn { target: target.clone(), sender, max_idle })),
        Err(mut e) => match e.take_message() {
            Some(r) => Err(SendError::Connect(io::Error::other(e.into_error()), Box::new(r))),
            None => Err(SendError::NoResponse(e.into_error())),
        },
    }
}
