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

/// Connects to a target as the installed dialer says, else directly.
pub(crate) async fn connect(addr: SocketAddr, from: &[IpAddr]) -> io::Result<TcpStream> {
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
        let stream = connect(claimed, &[]).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), real_addr);
        // Unclaimed addresses connect directly.
        let direct = connect(real_addr, &[]).await.unwrap();
        assert_eq!(direct.peer_addr().unwrap(), real_addr);
        set_dialer(None);
        assert!(connect(claimed, &[]).await.is_err());
    }

    /// An unconnected socket, as a dialer makes one (here in this namespace).
    fn socket_for(_addr: SocketAddr) -> io::Result<std::net::TcpStream> {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        Ok(socket.into())
    }
}
