//! Listener sockets and client connections.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::AbortHandle;

use crate::state::ListenerRt;
use crate::{forward, h1};

/// Open client connections, so shutdown can stop them. Touched once per connection.
#[derive(Default)]
pub(crate) struct Connections {
    next: AtomicU64,
    open: Mutex<HashMap<u64, AbortHandle>>,
}

impl Connections {
    pub fn abort_all(&self) {
        for (_, h) in self.open.lock().unwrap().drain() {
            h.abort();
        }
    }
}

/// Binds `addr` with a deep backlog. Ports below 1024 need privileges: say so.
pub(crate) fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
    let result = socket.and_then(|s| {
        s.set_reuseaddr(true)?;
        s.bind(addr)?;
        s.listen(4096)
    });
    result.map_err(|e| {
        let cause = e.to_string();
        match e.kind() {
            io::ErrorKind::PermissionDenied if addr.port() < 1024 => {
                BindError::Privileged { addr, cause }
            }
            io::ErrorKind::AddrInUse => BindError::InUse { addr },
            io::ErrorKind::AddrNotAvailable => BindError::NotAvailable { addr, cause },
            _ => BindError::Other { addr, cause },
        }
    })
}

/// Why a listener has no socket: its text is the load balancer's `State.Reason` and
/// the log's. The OS error is kept as text so a status can be cloned and compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// Configured, its bind not tried yet.
    #[error("not bound yet")]
    NotYet,
    #[error("cannot bind {addr}: ports below 1024 need root or CAP_NET_BIND_SERVICE ({cause})")]
    Privileged { addr: SocketAddr, cause: String },
    #[error("cannot bind {addr}: address already in use")]
    InUse { addr: SocketAddr },
    #[error("cannot bind {addr}: address not available on this host ({cause})")]
    NotAvailable { addr: SocketAddr, cause: String },
    #[error("cannot bind {addr}: {cause}")]
    Other { addr: SocketAddr, cause: String },
}

/// Accepts connections until aborted; each is served on its own task and survives
/// configuration changes (it reads the listener's routes per request).
pub(crate) async fn accept_loop(
    tcp: TcpListener,
    listener: Arc<ListenerRt>,
    conns: Arc<Connections>,
) {
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if !listener.admits(peer) {
            // Refused by the load balancer's security groups: reset, not served.
            let _ = stream.set_zero_linger();
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let idle = listener.routes.load().settings.idle_timeout;
        let l = listener.clone();
        let id = conns.next.fetch_add(1, Relaxed);
        let registry = conns.clone();
        // Insert under the lock the task needs to remove itself, so it cannot
        // remove its entry before it exists.
        let mut open = conns.open.lock().unwrap();
        let task = tokio::spawn(async move {
            serve_connection(stream, peer, l, idle).await;
            registry.open.lock().unwrap().remove(&id);
        });
        open.insert(id, task.abort_handle());
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    l: Arc<ListenerRt>,
    idle: Duration,
) {
    // The fast path serves what it can; the rest of a connection it hands over goes
    // to hyper, with the bytes already read.
    let io = match h1::serve(stream, peer, &l).await {
        h1::Served::Closed => return,
        h1::Served::Fallback(io) => io,
    };
    let svc = service_fn(move |req| {
        let l = l.clone();
        async move { Ok::<_, Infallible>(forward::serve(&l.env, &l, req, peer).await) }
    });
    let mut builder = http1::Builder::new();
    // hyper's header-read timeout runs from the end of one response to the end of the
    // next request's head, so it is the idle timeout of a keep-alive connection.
    builder.timer(TokioTimer::new()).header_read_timeout(idle).keep_alive(true);
    let _ = builder.serve_connection(TokioIo::new(io), svc).await;
}
