//! The host's way into its VPCs. While Shoal runs, each VPC's router namespace has a
//! link to the host's namespace, and the VPC's CIDR is routed over it, so a packet the
//! host sends to a VPC address reaches the VPC's bridge and never leaves the machine.
//!
//! ```text
//!  host namespace                              <data>/vpcnet/<vpc>/router
//!    sv<vpc id's last 13>  169.254.224.n/30 ───── host0  169.254.224.n+1/30
//!    <VPC CIDR> via 169.254.224.n+1 dev sv…         (nft table inet shoal_router:
//!                                                   only replies go out to host0)
//! ```
//!
//! The host reaches instances at their private addresses (their security groups
//! decide, the host being the internet); nothing in a VPC can open a connection to the
//! host: the router passes only established and related packets out to `host0`, and
//! has no route beyond the link's own /30. Without `nft` no link is made (nothing
//! could stop that), and a VPC CIDR that overlaps a route the host already has (a real
//! network of the user's) is not routed: Shoal never takes over a network it did not
//! make. Both are said in the log; the public addresses keep working either way.
//!
//! Look at it as an operator: `ip route`, `ip -br link | grep ^sv`,
//! `nsenter --net=<data>/vpcnet/<vpc>/router nft list ruleset`.

use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use shoal_model::ec2::Cidr;

use super::{feed, nsenter, VpcNet};

/// What the host's end of every VPC link is named after.
pub const LINK_PREFIX: &str = "sv";
/// The router's end of the link, inside the router namespace.
pub const HOST_LINK: &str = "host0";
/// The link-local block the links' /30s come from (2048 of them).
const LINK_BLOCK: Cidr = Cidr { base: Ipv4Addr::new(169, 254, 224, 0), prefix: 19 };

/// What a VPC's link to the host is, once made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HostLink {
    pub cidr: Cidr,
    /// The router namespace it was made into (device, inode): made anew, it has none.
    pub router: (u64, u64),
    /// The VPC's CIDR is routed over it (false: it overlaps a route of the host's).
    pub routed: bool,
}

/// The host's end of a VPC's link: `sv` and the VPC id's last 13 characters
/// (interface names are at most 15), random hex in EC2's ids.
pub fn host_link_name(vpc_id: &str) -> String {
    format!("{LINK_PREFIX}{}", &vpc_id[vpc_id.len().saturating_sub(13)..])
}

impl VpcNet {
    /// Links the VPC's router to the host and routes `cidr` there, unless that is
    /// already so. Called with `changes` held and the router namespace present.
    pub(super) fn link_host(&self, vpc_id: &str, cidr: Cidr) -> io::Result<()> {
        if !self.nft {
            return Ok(());
        }
        let router = self.router_ns(vpc_id);
        let identity = super::namespace_identity(&router)
            .ok_or_else(|| io::Error::other(format!("{vpc_id} has no router namespace")))?;
        let name = host_link_name(vpc_id);
        let present = host_has_link(&name);
        if present {
            let linked = self.host_links.lock().unwrap().get(vpc_id).cloned();
            if linked.is_some_and(|l| l.cidr == cidr && l.router == identity) {
                return Ok(());
            }
        }
        // Made by an earlier daemon into this same router (a restart after kill -9):
        // kept, its route set again. Into an older router, or half made: made anew.
        let existing = if present { host_end(&name) } else { None };
        let adoptable = existing.is_some()
            && nsenter(&router)
                .args(["ip", "link", "show", HOST_LINK])
                .output()
                .is_ok_and(|o| o.status.success());
        let host_ip = match existing {
            Some(ip) if adoptable => ip,
            _ => {
                if present {
                    let _ = super::run(Command::new("ip").args(["link", "del", &name]));
                }
                self.make_host_link(&router, &name)?
            }
        };
        let router_ip = Ipv4Addr::from(u32::from(host_ip) + 1);
        let routed = match overlapping_host_route(cidr, &name)? {
            Some(route) => {
                tracing::warn!(vpc = vpc_id, %cidr, host_route = %route, "the VPC's CIDR overlaps a route of the host's: not routed to the VPC (its instances stay reachable at their public addresses)");
                false
            }
            None => {
                super::run(Command::new("ip").args([
                    "route",
                    "replace",
                    &cidr.to_string(),
                    "via",
                    &router_ip.to_string(),
                    "dev",
                    &name,
                ]))?;
                true
            }
        };
        tracing::info!(vpc = vpc_id, %cidr, link = %name, via = %router_ip, routed, "the VPC's router is linked to the host");
        self.host_links
            .lock()
            .unwrap()
            .insert(vpc_id.to_string(), HostLink { cidr, router: identity, routed });
        Ok(())
    }

    /// A new veth pair `name` (host) ↔ `host0` (router) on a free /30 of the block,
    /// with the router's filter. Returns the host's end address.
    fn make_host_link(&self, router: &Path, name: &str) -> io::Result<Ipv4Addr> {
        let used = host_addresses_in(LINK_BLOCK)?;
        let slot = (0..LINK_BLOCK.size() as u32 / 4)
            .map(|n| LINK_BLOCK.nth(4 * n + 1))
            .find(|ip| !used.contains(ip))
            .ok_or_else(|| io::Error::other(format!("no free /30 left in {LINK_BLOCK}")))?;
        let router_ip = Ipv4Addr::from(u32::from(slot) + 1);
        let made = super::ip_batch_in(
            Command::new("ip"),
            &[
                format!(
                    "link add {name} type veth peer name {HOST_LINK} netns {}",
                    router.display()
                ),
                format!("address add {slot}/30 dev {name}"),
                format!("link set {name} up"),
            ],
        )
        .and_then(|()| {
            // Public addresses are mapped to private ones on the way out (`public`):
            // a loopback source may then leave, and replies to it come back, here only.
            super::run(
                Command::new("sysctl")
                    .args(["-qw", &format!("net.ipv4.conf.{name}.route_localnet=1")]),
            )
        })
        .and_then(|()| {
            // Packets to the VPC come from the host's own addresses; none go the
            // other way but replies.
            feed(nsenter(router).args(["nft", "-f", "-"]), &router_filter(), "nft -f -")
        })
        .and_then(|()| {
            super::ip_batch(
                router,
                &[
                    format!("address add {router_ip}/30 dev {HOST_LINK}"),
                    format!("link set {HOST_LINK} up"),
                ],
            )
        });
        if let Err(e) = made {
            let _ = super::run(Command::new("ip").args(["link", "del", name]));
            return Err(e);
        }
        Ok(slot)
    }

    /// Removes the VPC's link (its route goes with it). Idempotent. The pair is
    /// deleted from the host's side: a router namespace kept alive by a lingering
    /// socket after its unmount would otherwise keep the link and route too.
    pub(super) fn unlink_host(&self, vpc_id: &str) {
        self.host_links.lock().unwrap().remove(vpc_id);
        let name = host_link_name(vpc_id);
        if host_has_link(&name) {
            match super::run(Command::new("ip").args(["link", "del", &name])) {
                Ok(()) => {
                    tracing::info!(vpc = vpc_id, link = %name, "the VPC's link to the host removed")
                }
                Err(e) => {
                    tracing::warn!(vpc = vpc_id, error = %e, "cannot remove the VPC's link to the host")
                }
            }
        }
    }

    /// True when the host routes the VPC's CIDR to its router (for `describe`).
    pub(super) fn routed_vpcs(&self) -> usize {
        self.host_links.lock().unwrap().values().filter(|l| l.routed).count()
    }
}

/// Whether this process's network namespace has a link `name`. Read from
/// `/proc/self/net/dev`, which is always this namespace's: `/sys/class/net` shows the
/// namespace of whoever mounted `/sys` (a daemon started with `unshare --net` sees the
/// host's links there).
fn host_has_link(name: &str) -> bool {
    fs::read_to_string("/proc/self/net/dev").is_ok_and(|dev| has_link(&dev, name))
}

/// Whether `/proc/net/dev`'s text lists interface `name` (lines `  name: counters`).
fn has_link(dev: &str, name: &str) -> bool {
    dev.lines().filter_map(|l| l.split_once(':')).any(|(iface, _)| iface.trim() == name)
}

/// The router's table: out to the host, only replies.
fn router_filter() -> String {
    format!(
        "table inet shoal_router\n\
         delete table inet shoal_router\n\
         table inet shoal_router {{\n\
         \tchain forward {{\n\
         \t\ttype filter hook forward priority filter; policy accept;\n\
         \t\toifname \"{HOST_LINK}\" ct state established,related accept\n\
         \t\toifname \"{HOST_LINK}\" drop\n\
         \t}}\n\
         \tchain output {{\n\
         \t\ttype filter hook output priority filter; policy accept;\n\
         \t\toifname \"{HOST_LINK}\" ct state established,related accept\n\
         \t\toifname \"{HOST_LINK}\" drop\n\
         \t}}\n\
         }}\n"
    )
}

/// The host's address on the link `name` (the /30's first host address).
fn host_end(name: &str) -> Option<Ipv4Addr> {
    let out = Command::new("ip").args(["-4", "-o", "addr", "show", "dev", name]).output().ok()?;
    inet_addresses(&String::from_utf8_lossy(&out.stdout)).into_iter().next()
}

/// Every IPv4 address of the host's namespace inside `block`.
fn host_addresses_in(block: Cidr) -> io::Result<Vec<Ipv4Addr>> {
    let out = Command::new("ip").args(["-4", "-o", "addr", "show"]).output()?;
    Ok(inet_addresses(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .filter(|ip| block.contains(*ip))
        .collect())
}

/// The addresses of `ip -o addr` lines (`… inet 10.0.0.1/24 …`).
fn inet_addresses(text: &str) -> Vec<Ipv4Addr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == "inet")?;
            words.next()?.split('/').next()?.parse().ok()
        })
        .collect()
}

/// A route of the host's main table, other than the default and other than over the
/// VPC's own link `ours`, that overlaps `cidr`.
pub(super) fn overlapping_host_route(cidr: Cidr, ours: &str) -> io::Result<Option<String>> {
    let out = Command::new("ip").args(["-4", "-o", "route", "show", "table", "main"]).output()?;
    Ok(overlapping_route(&String::from_utf8_lossy(&out.stdout), cidr, ours))
}

fn overlapping_route(routes: &str, cidr: Cidr, ours: &str) -> Option<String> {
    routes
        .lines()
        .find(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some(dst) = words.first() else { return false };
            let dev = words.iter().position(|w| *w == "dev").and_then(|i| words.get(i + 1));
            if *dst == "default" || dev == Some(&ours) {
                return false;
            }
            let dst = if dst.contains('/') { dst.to_string() } else { format!("{dst}/32") };
            Cidr::parse(&dst, "route").is_ok_and(|route| route.overlaps(cidr))
        })
        .map(|line| line.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_read_from_this_namespaces_device_table() {
        let dev =
            "Inter-|   Receive\n face |bytes    packets\n    lo: 1 2 3\nsv456789abcdef0:    0 0\n";
        assert!(has_link(dev, "lo") && has_link(dev, "sv456789abcdef0"));
        assert!(!has_link(dev, "sv456789abcdef") && !has_link(dev, "face"));
        assert!(host_has_link("lo"), "this namespace has a loopback");
    }

    #[test]
    fn link_names_fit_and_overlapping_routes_are_found() {
        let name = host_link_name("vpc-0123456789abcdef0");
        assert_eq!(name, "sv456789abcdef0");
        assert!(name.len() <= 15);
        let routes = "default via 192.0.2.1 dev eth0\n\
                      192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2\n\
                      172.31.0.0/16 via 169.254.224.2 dev sv456789abcdef0\n\
                      10.1.2.3 dev tun0 scope link\n";
        let cidr = |t| Cidr::parse(t, "t").unwrap();
        assert_eq!(overlapping_route(routes, cidr("172.31.0.0/16"), "sv456789abcdef0"), None);
        assert!(overlapping_route(routes, cidr("172.31.0.0/16"), "svother").is_some());
        assert!(overlapping_route(routes, cidr("192.0.0.0/16"), "sv1")
            .unwrap()
            .starts_with("192.0.2.0/24"));
        assert!(overlapping_route(routes, cidr("10.1.0.0/16"), "sv1")
            .unwrap()
            .starts_with("10.1.2.3"));
        assert_eq!(overlapping_route(routes, cidr("10.2.0.0/16"), "sv1"), None);
        let addrs = "5: sv1    inet 169.254.224.1/30 scope global sv1\\       valid_lft forever\n\
                     1: lo    inet 127.0.0.1/8 scope host lo\n";
        assert_eq!(
            inet_addresses(addrs),
            vec![Ipv4Addr::new(169, 254, 224, 1), Ipv4Addr::new(127, 0, 0, 1)]
        );
    }

    /// Needs root, `ip`, `nft` and network namespaces. Makes a VPC (10.213.0.0/16, a
    /// block the host does not route) with one instance under a temporary dir, links it
    /// to the host, and checks the host reaches the instance (a listener inside it) over
    /// the link and that the instance cannot open a connection to the host.
    #[test]
    fn the_host_reaches_a_wanted_vpc_over_its_link_and_the_vpc_cannot_reach_the_host() {
        let dir = std::env::temp_dir().join(format!("shoal-hostlink-{}", std::process::id()));
        let vpcnet = match VpcNet::detect(&dir) {
            Ok(n) if n.nft => n,
            Ok(_) => return eprintln!("skipped: no nft"),
            Err(why) => {
                let _ = std::fs::remove_dir_all(&dir);
                return eprintln!("skipped: {why}");
            }
        };
        let cidr = Cidr::parse("10.213.0.0/16", "t").unwrap();
        if overlapping_host_route(cidr, "none").unwrap().is_some() {
            let _ = std::fs::remove_dir_all(&dir);
            return eprintln!("skipped: this host routes {cidr}");
        }
        let vpc = "vpc-0hostlinktest01";
        let wanted = std::collections::BTreeMap::from([(vpc.to_string(), cidr)]);
        vpcnet.set_vpc_networks("test-region", wanted).unwrap();
        struct Cleanup<'a>(&'a VpcNet, &'a Path);
        impl Drop for Cleanup<'_> {
            fn drop(&mut self) {
                self.0.detach("i-0hostlink0000001");
                let _ = self.0.set_vpc_networks("test-region", Default::default());
                let _ = std::fs::remove_dir_all(self.1);
            }
        }
        let _cleanup = Cleanup(&vpcnet, &dir);
        let net = super::super::InstanceNet {
            vpc_id: vpc.into(),
            subnet: Cidr::parse("10.213.0.0/20", "t").unwrap(),
            private_ip: Ipv4Addr::new(10, 213, 0, 10),
            public_ip: Ipv4Addr::new(127, 251, 0, 10),
            has_public_ip: true,
        };
        let ns = vpcnet.attach("i-0hostlink0000001", &net).unwrap();
        // The host routes the VPC's block over the link, and only that link.
        let route = Command::new("ip").args(["route", "get", "10.213.0.10"]).output().unwrap();
        let route = String::from_utf8_lossy(&route.stdout).into_owned();
        assert!(route.contains(&format!("dev {}", host_link_name(vpc))), "{route}");
        // A listener inside the instance, reached from the host.
        let listener = super::super::tests::listen_in(&ns, "10.213.0.10:8080".parse().unwrap());
        let to = std::net::SocketAddr::from(([10, 213, 0, 10], 8080));
        let _conn = std::net::TcpStream::connect_timeout(&to, std::time::Duration::from_secs(5))
            .expect("the host reaches the instance over the VPC's link");
        let (_accepted, peer) = listener.accept().unwrap();
        let host_ip = host_end(&host_link_name(vpc)).unwrap();
        assert_eq!(peer.ip(), std::net::IpAddr::V4(host_ip));
        // The public (loopback) address is the kernel's 1:1 map of the private one.
        let public = std::net::SocketAddr::from(([127, 251, 0, 10], 8080));
        let _conn =
            std::net::TcpStream::connect_timeout(&public, std::time::Duration::from_secs(5))
                .expect("the host reaches the instance at its public address");
        let (_accepted, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), std::net::IpAddr::V4(host_ip), "masqueraded behind the host's end");
        // The instance cannot open a connection to the host (its end of the link).
        let timed = Command::new("timeout")
            .args(["3", "nsenter", &format!("--net={}", ns.display()), "bash", "-c"])
            .arg(format!("exec 3<>/dev/tcp/{host_ip}/1"))
            .status()
            .unwrap();
        // 124: timed out (dropped). A refusal (1) would mean the host answered.
        assert_eq!(timed.code(), Some(124), "the instance reached the host");
        // No longer wanted, with its instance gone: link, route and router go.
        vpcnet.detach("i-0hostlink0000001");
        vpcnet.set_vpc_networks("test-region", Default::default()).unwrap();
        assert!(!host_has_link(&host_link_name(vpc)));
        assert!(!vpcnet.router_ns(vpc).exists());
        let route =
            Command::new("ip").args(["-4", "route", "show", "10.213.0.0/16"]).output().unwrap();
        assert!(route.stdout.is_empty(), "{}", String::from_utf8_lossy(&route.stdout));
    }
}
