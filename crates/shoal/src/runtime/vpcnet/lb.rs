//! Load balancers in the VPC: each load balancer interface's private address is a
//! secondary address (`/32`) on the bridge of its VPC's router namespace, and the
//! load balancer's connections to targets leave from it ([`VpcNet::dial`] binds it), so
//! a target's security group sees the load balancer's own address, never the router's
//! `.1` (which is where the host's own clients come from, through `public::mirror`).
//!
//! The addresses a router holds are recorded in `<data>/vpcnet/<vpc>/load-balancers.addrs`,
//! so a restarted daemon knows which of them to remove. `/32` keeps each one its own
//! primary: removing it never takes a subnet's `.1` along (the kernel drops secondary
//! addresses with their primary).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use super::{in_ns, ip_batch, is_namespace, VpcNet, BRIDGE};

/// VPC id → the load balancer interface addresses its router holds.
pub type LbAddresses = BTreeMap<String, BTreeSet<Ipv4Addr>>;

impl VpcNet {
    fn lb_record(&self, vpc_id: &str) -> PathBuf {
        self.vpc_dir(vpc_id).join("load-balancers.addrs")
    }

    /// The load balancers' interface addresses of `region`, by VPC, as its control
    /// plane wants them: each VPC whose router namespace exists gets exactly its
    /// regions' addresses on its bridge (the others get theirs when their router is
    /// made). Runs `ip` only on a change.
    pub fn set_load_balancer_addresses(&self, region: &str, wanted: LbAddresses) -> io::Result<()> {
        if self.lb_wanted.lock().unwrap().get(region) == Some(&wanted) {
            return Ok(());
        }
        let _changing = self.changes.lock().unwrap();
        self.lb_wanted.lock().unwrap().insert(region.to_string(), wanted);
        let vpcs: Vec<String> = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| is_namespace(&e.path().join("router")))
            .filter_map(|e| e.file_name().to_str().map(String::from))
            .collect();
        let mut failed = None;
        for vpc in vpcs {
            if let Err(e) = self.sync_lb_addresses(&vpc) {
                tracing::warn!(vpc = %vpc, error = %e, "cannot place load balancer addresses");
                failed = Some(e);
            }
        }
        if failed.is_some() {
            // Try again at the next pass.
            self.lb_wanted.lock().unwrap().remove(region);
        }
        failed.map_or(Ok(()), Err)
    }

    /// Makes the VPC's router hold exactly its wanted load balancer addresses. Called
    /// with `changes` held, with the router namespace present.
    pub(super) fn sync_lb_addresses(&self, vpc_id: &str) -> io::Result<()> {
        let want: BTreeSet<Ipv4Addr> = self
            .lb_wanted
            .lock()
            .unwrap()
            .values()
            .filter_map(|by_vpc| by_vpc.get(vpc_id))
            .flatten()
            .copied()
            .collect();
        let record = self.lb_record(vpc_id);
        let held: BTreeSet<Ipv4Addr> = fs::read(&record)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let router = self.router_ns(vpc_id);
        for gone in held.difference(&want) {
            // Already gone (a router made anew) is fine.
            let _ = in_ns(&router, &["ip", "address", "del", &format!("{gone}/32"), "dev", BRIDGE]);
        }
        let lines: Vec<String> =
            want.iter().map(|a| format!("address replace {a}/32 dev {BRIDGE}")).collect();
        if !lines.is_empty() {
            ip_batch(&router, &lines)?;
        }
        fs::write(&record, serde_json::to_vec(&want)?)?;
        if held != want {
            tracing::info!(vpc = vpc_id, addresses = ?want, "load balancer addresses on the VPC's router");
        }
        self.lb_held.lock().unwrap().insert(vpc_id.to_string(), want);
        Ok(())
    }

    /// A listening socket at `addr`, one of the load balancers' interface addresses,
    /// made inside the router namespace of the VPC whose router holds it (by the VPC's
    /// thread, as `dial`'s sockets are); `None` when no router holds the address.
    pub fn listen(&self, addr: SocketAddr) -> Option<io::Result<std::net::TcpListener>> {
        use nix::sys::socket::{bind, listen, setsockopt, sockopt, Backlog, SockaddrIn};
        let SocketAddr::V4(v4) = addr else { return None };
        let vpc_id = self
            .lb_held
            .lock()
            .unwrap()
            .iter()
            .find(|(_, held)| held.contains(v4.ip()))
            .map(|(vpc, _)| vpc.clone())?;
        Some(self.socket_in(&vpc_id).and_then(|fd| {
            // A listener re-bound while its old connections linger in TIME_WAIT.
            setsockopt(&fd, sockopt::ReuseAddr, &true)?;
            bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(v4))?;
            listen(&fd, Backlog::new(1024)?)?;
            Ok(std::net::TcpListener::from(fd))
        }))
    }

    /// The VPC's router namespace was made anew: it holds none of them yet.
    pub(super) fn forget_lb_addresses(&self, vpc_id: &str) {
        let _ = fs::remove_file(self.lb_record(vpc_id));
        self.lb_held.lock().unwrap().remove(vpc_id);
    }

    /// Of `from`, the address the load balancer connects to `target` from: one its
    /// VPC's router holds, in the target's subnet if one is, else any.
    pub(super) fn lb_source(
        &self,
        vpc_id: &str,
        subnet: shoal_model::ec2::Cidr,
        from: &[std::net::IpAddr],
    ) -> Option<Ipv4Addr> {
        let held = self.lb_held.lock().unwrap();
        let held = held.get(vpc_id)?;
        let mut candidates = from.iter().filter_map(|a| match a {
            std::net::IpAddr::V4(v4) if held.contains(v4) => Some(*v4),
            _ => None,
        });
        let first = candidates.next()?;
        if subnet.contains(first) {
            return Some(first);
        }
        Some(candidates.find(|a| subnet.contains(*a)).unwrap_or(first))
    }
}
