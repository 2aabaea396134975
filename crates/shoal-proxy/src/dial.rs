//! Connecting to targets: plain `connect(2)` to the target's address, unless a dialer
//! is installed that claims the address.
//!
//! A dialer hands back a socket made elsewhere and the address to connect it to: Shoal's
//! VPC network (`runtime::vpcnet` in the `shoal` crate) makes the socket inside the
//! target's VPC router namespace, where its private address is routed, so the load
//! balancer reaches an instance over the VPC's bridge with no forwarder in between. A
//! socket keeps the namespace it was made in, so the connection is then an ordinary
//! tokio stream. The target group's source addresses (its load balancer's interface
//! addresses, [`crate::TargetGroupSpec::source_ips`]) go to the dialer, which binds the
//! socket to one of them: the target sees the load balancer's own address, as on AWS.
//! One dialer per process: the daemon's.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use shoal_model::ec2::connection_filter::ConnectionFilter;
use tokio::net::{TcpSocket, TcpStream};

/// Given a target's address and the addresses the load balancer connects from: `None`
/// if the dialer does not claim it (plain connect), else an unconnected non-blocking
/// TCP socket (bound to its source, if any) and the address to connect it to.
pub type Dialer = dyn Fn(SocketAddr, &[IpAddr]) -> Option<io::Result<(std::net::TcpStream, SocketAddr)>>
    + Send
    + Sync;

static DIALER: ArcSwapOption<Box<Dialer>> = ArcSwapOption::const_empty();

/// Installs (or, with `None`, removes) the process's dialer.
pub fn set_dialer(dialer: Option<Box<Dialer>>) {
    DIALER.store(dialer.map(Arc::new));
}

/// Given one of a load balancer's VPC addresses and a listener's port: a listening,
/// non-blocking socket there (Shoal's: made inside the VPC's router namespace), or
/// `None` when no binder claims the address.
pub type Binder = dyn Fn(SocketAddr) -> Option<io::Result<std::net::TcpListener>> + Send + Sync;

static BINDER: ArcSwapOption<Box<Binder>> = ArcSwapOption::const_empty();

/// Installs (or, with `None`, removes) the process's binder of VPC listeners.
pub fn set_binder(binder: Option<Box<Binder>>) {
    BINDER.store(binder.map(Arc::new));
}

/// A listening socket at `addr` from the installed binder (see [`Binder`]).
pub(crate) fn bind_in_vpc(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    match BINDER.load().as_ref() {
        Some(bind) => bind(addr)
            .unwrap_or_else(|| Err(io::Error::new(io::ErrorKind::AddrNotAvailable, "in no VPC"))),
        None => Err(io::Error::new(io::ErrorKind::Unsupported, "no VPC networks")),
    }
}

/// How the load balancer reaches one target: from which addresses, and whether its
/// security groups let it (see [`crate::TargetGroupSpec::egress`]).
#[derive(Debug, Default)]
pub(crate) struct Dial {
    pub source_ips: Vec<IpAddr>,
    pub egress: Option<ConnectionFilter>,
    /// The target's address as the egress rules see it.
    pub peer: Option<IpAddr>,
}

/// Connects to a target as the installed dialer says, else directly. A connection
/// the egress rules refuse never completes, as when a security group drops the SYN:
/// the caller's connect timeout ends it.
pub(crate) async fn connect(addr: SocketAddr, how: &Dial) -> io::Result<TcpStream> {
    if let Some(egress) = &how.egress {
        if !egress.admits(how.peer.unwrap_or(addr.ip()), addr.port()) {
            return std::future::pending().await;
        }
    }
    let from = how.source_ips.as_slice();
    let claimed = DIALER.load().as_ref().and_then(|dial| dial(addr, from));
    match claimed {
        None => TcpStream::connect(addr).await,
        Some(made) => {
            let (socket, to) = made?;
            socket.set_nonblocking(true)?;
            TcpSocket::from_std_stream(socket).connect(to).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dialer_redirects_the_addresses_it_claims() {
        let real = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let real_addr = real.local_addr().unwrap();
        // A port nothing listens on, claimed by the dialer and redirected to `real`.
        let claimed: SocketAddr = "127.0.0.1:1".parse().unwrap();
        set_dialer(Some(Box::new(move |addr, _from: &[IpAddr]| {
            (addr == claimed).then(|| {
                let socket = socket_for(real_addr)?;
                Ok((socket, real_addr))
            })
        })));
        let stream = connect(claimed, &Dial::default()).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), real_addr);
        // Unclaimed addresses connect directly.
        let direct = connect(real_addr, &Dial::default()).await.unwrap();
        assert_eq!(direct.peer_addr().unwrap(), real_addr);
        set_dialer(None);
        assert!(connect(claimed, &Dial::default()).await.is_err());
    }

    #[tokio::test]
    async fn egress_rules_that_do_not_admit_the_target_leave_the_connect_hanging() {
        let real = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = real.local_addr().unwrap();
        let how = Dial { egress: Some(ConnectionFilter::default()), ..Dial::default() };
        let wait = std::time::Duration::from_millis(200);
        assert!(tokio::time::timeout(wait, connect(addr, &how)).await.is_err(), "dropped");
        assert!(connect(addr, &Dial::default()).await.is_ok());
    }

    /// An unconnected socket, as a dialer makes one (here in this namespace).
    fn socket_for(_addr: SocketAddr) -> io::Result<std::net::TcpStream> {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        Ok(socket.into())
    }
}
