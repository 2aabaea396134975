//! Where a VPC's DNS resolver listens: the VPC's base address + 2 (`172.31.0.2` in
//! `172.31.0.0/16`), on port 53, UDP and TCP, inside the VPC's router namespace. The
//! address is put on the router's bridge (a /32: it need not be in any subnet; an
//! instance in another subnet reaches it through its default route, the router). The
//! resolver controller (`control::dns`) makes the sockets here and the front (`api::dns`)
//! answers from the service's state; no query is forwarded anywhere, and no packet
//! leaves the router namespace.
//!
//! Look at it as an operator: `nsenter --net=<data>/vpcnet/<vpc>/router ss -lun`.

use std::io;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

use shoal_model::ec2::Cidr;

use super::{ip_batch, VpcNet, BRIDGE};

/// DNS's port.
pub const PORT: u16 = 53;

/// The Amazon-provided DNS server's address in a VPC: its CIDR's base + 2.
pub fn resolver_ip(vpc_cidr: Cidr) -> Ipv4Addr {
    vpc_cidr.nth(2)
}

/// What an instance's `/etc/resolv.conf` says in a VPC network, as EC2's DHCP options
/// (`AmazonProvidedDNS`) give it: the VPC's resolver and the region's private domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameserver: Ipv4Addr,
    pub search: String,
}

impl ResolvConf {
    pub fn render(&self) -> String {
        format!(
            "# Written by Shoal at boot: the VPC's DNS resolver (AmazonProvidedDNS).\n\
             search {}\noptions timeout:2 attempts:5\nnameserver {}\n",
            self.search, self.nameserver
        )
    }
}

/// A VPC's router namespace, for the resolver to listen in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterNs {
    pub ns: PathBuf,
    /// The namespace's device and inode: a VPC whose last instance went and came back
    /// has a new router namespace, and sockets in the old one serve nobody.
    pub identity: (u64, u64),
}

impl VpcNet {
    /// The VPC's router namespace, while it exists (made with the VPC while Shoal
    /// runs, or with its first instance).
    pub fn router_namespace(&self, vpc_id: &str) -> Option<RouterNs> {
        let ns = self.router_ns(vpc_id);
        let identity = super::namespace_identity(&ns)?;
        Some(RouterNs { ns, identity })
    }
}

/// Puts `addr` on the bridge of the router namespace at `ns` and makes a UDP socket and
/// a TCP listener bound to `addr:53` there (by a short-lived thread that entered it: a
/// socket stays in the namespace it was made in). Non-blocking, for tokio.
pub fn listen(ns: &Path, addr: Ipv4Addr) -> io::Result<(UdpSocket, TcpListener)> {
    ip_batch(ns, &[format!("address replace {addr}/32 dev {BRIDGE}")])?;
    let file = std::fs::File::open(ns)?;
    std::thread::spawn(move || -> io::Result<(UdpSocket, TcpListener)> {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)?;
        let udp = UdpSocket::bind((addr, PORT))?;
        udp.set_nonblocking(true)?;
        let tcp = TcpListener::bind((addr, PORT))?;
        tcp.set_nonblocking(true)?;
        Ok((udp, tcp))
    })
    .join()
    .map_err(|_| io::Error::other("the resolver's listener thread panicked"))?
}

/// Shell lines that write `conf` to `/etc/resolv.conf`, run inside the instance at boot
/// (so a link or mount the instance made there is its own, never the host's). A link
/// (systemd-resolved's stub) is replaced by the file.
pub fn resolv_conf_script(conf: &ResolvConf) -> String {
    // The domain is a region's (letters, digits, dashes, dots); nothing to quote.
    format!(
        "rm -f /etc/resolv.conf 2>/dev/null\ncat > /etc/resolv.conf <<'SHOAL_RESOLV'\n{}SHOAL_RESOLV\n",
        conf.render()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resolver_is_the_vpcs_base_plus_two_and_resolv_conf_names_it() {
        let cidr = Cidr { base: Ipv4Addr::new(10, 0, 0, 0), prefix: 16 };
        assert_eq!(resolver_ip(cidr), Ipv4Addr::new(10, 0, 0, 2));
        let conf = ResolvConf { nameserver: resolver_ip(cidr), search: "ec2.internal".into() };
        let script = resolv_conf_script(&conf);
        assert!(script.contains("\nnameserver 10.0.0.2\n"), "{script}");
        assert!(script.contains("\nsearch ec2.internal\n"), "{script}");
    }
}
