//! Security groups decided per TCP connection, for a load balancer: AWS enforces an
//! ALB's groups on its network interfaces (ingress: which clients reach a listener port;
//! egress: which targets and ports it may connect to). Shoal's load balancer listens in
//! the host's network namespace (and, for instances, in VPC routers' namespaces), where
//! no instance's packet filter sees it, so the proxy asks this filter at accept and
//! before each connect instead.
//!
//! As AWS's groups are: allow-only (a connection passes if any rule of any group admits
//! its peer address and port) and stateful (only the opening direction is checked). A
//! rule naming a group admits its members by their private addresses. Only TCP rules
//! (and all-protocol `-1` rules) apply: the load balancer speaks nothing else.
//!
//! **Host clients are the user's internet.** A client on the host connects from a
//! loopback address (127.x.y.z); it is matched like any internet address: `0.0.0.0/0`
//! (and any CIDR that contains it) admits it, a group reference never does (no
//! instance holds a loopback address). An IPv6 client is admitted only by an IPv4
//! `0.0.0.0/0` rule when it is a mapped IPv4 address; Shoal's VPCs are IPv4 only.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use super::security_group::{Permission, SecurityGroup};
use super::Cidr;

/// The connections one direction of a set of groups admits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionFilter {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// Inclusive port range.
    ports: (u16, u16),
    peers: Vec<Cidr>,
}

impl ConnectionFilter {
    /// What the groups' ingress rules admit: clients of the listeners. `members` maps
    /// a group id to its members' private addresses (a group missing has none).
    pub fn ingress(groups: &[&SecurityGroup], members: &BTreeMap<String, Vec<Ipv4Addr>>) -> Self {
        Self::of(groups.iter().flat_map(|g| &g.ingress), members)
    }

    /// What the groups' egress rules admit: targets, by their private addresses.
    pub fn egress(groups: &[&SecurityGroup], members: &BTreeMap<String, Vec<Ipv4Addr>>) -> Self {
        Self::of(groups.iter().flat_map(|g| &g.egress), members)
    }

    fn of<'a>(
        permissions: impl Iterator<Item = &'a Permission>,
        members: &BTreeMap<String, Vec<Ipv4Addr>>,
    ) -> Self {
        let mut rules = Vec::new();
        for p in permissions {
            let Some(ports) = tcp_ports(p) else { continue };
            let mut peers: Vec<Cidr> =
                p.cidrs.iter().filter_map(|c| Cidr::parse(c, "cidrIp").ok()).collect();
            for g in &p.group_ids {
                peers.extend(
                    members.get(g).into_iter().flatten().map(|a| Cidr { base: *a, prefix: 32 }),
                );
            }
            if !peers.is_empty() {
                rules.push(Rule { ports, peers });
            }
        }
        ConnectionFilter { rules }
    }

    /// True when some rule admits a connection with `peer` (the client for ingress,
    /// the target for egress) on `port` (the listener's port, or the target's).
    pub fn admits(&self, peer: IpAddr, port: u16) -> bool {
        let v4 = match peer {
            IpAddr::V4(a) => a,
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(a) => a,
                None => return false,
            },
        };
        self.rules.iter().any(|r| {
            (r.ports.0..=r.ports.1).contains(&port) && r.peers.iter().any(|c| c.contains(v4))
        })
    }
}

/// The TCP port range a permission covers, `None` when it covers no TCP.
fn tcp_ports(p: &Permission) -> Option<(u16, u16)> {
    match p.protocol.to_ascii_lowercase().as_str() {
        "-1" | "all" => Some((0, u16::MAX)),
        "tcp" | "6" => {
            let clamp = |v: i32| v.clamp(0, i32::from(u16::MAX)) as u16;
            Some((clamp(p.from_port.unwrap_or(0)), clamp(p.to_port.unwrap_or(65535))))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(
        protocol: &str,
        ports: Option<(i32, i32)>,
        cidrs: &[&str],
        groups: &[&str],
    ) -> Permission {
        let mut p = Permission::allow_all_egress();
        p.protocol = protocol.into();
        (p.from_port, p.to_port) = (ports.map(|p| p.0), ports.map(|p| p.1));
        p.cidrs = cidrs.iter().map(|c| c.to_string()).collect();
        p.group_ids = groups.iter().map(|g| g.to_string()).collect();
        p
    }

    fn group(id: &str, ingress: Vec<Permission>, egress: Vec<Permission>) -> SecurityGroup {
        SecurityGroup {
            id: id.into(),
            name: id.into(),
            description: id.into(),
            vpc_id: "vpc-1".into(),
            ingress,
            egress,
            tags: Vec::new(),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn cidr_rules_admit_their_addresses_on_their_ports_and_the_host_is_the_internet() {
        let web = group("sg-web", vec![perm("tcp", Some((80, 80)), &["0.0.0.0/0"], &[])], vec![]);
        let office = group(
            "sg-office",
            vec![perm("tcp", Some((8000, 8080)), &["203.0.113.0/24"], &[])],
            vec![],
        );
        let f = ConnectionFilter::ingress(&[&web, &office], &BTreeMap::new());
        // A host client (loopback) is an internet address: 0.0.0.0/0 admits it.
        assert!(f.admits(ip("127.0.0.1"), 80));
        assert!(f.admits(ip("172.31.5.6"), 80));
        assert!(!f.admits(ip("127.0.0.1"), 81), "no rule for 81");
        assert!(f.admits(ip("203.0.113.9"), 8080));
        assert!(f.admits(ip("203.0.113.9"), 8000));
        assert!(!f.admits(ip("203.0.114.9"), 8080));
        assert!(!f.admits(ip("127.0.0.1"), 8080), "the office CIDR does not hold the host");
        assert!(f.admits(ip("::ffff:127.0.0.1"), 80), "a mapped IPv4 client");
        assert!(!f.admits(ip("::1"), 80), "IPv4 rules only");
    }

    #[test]
    fn group_references_admit_members_only_and_other_protocols_do_not_count() {
        let members = BTreeMap::from([("sg-app".to_string(), vec![Ipv4Addr::new(172, 31, 0, 9)])]);
        let lb = group(
            "sg-lb",
            vec![
                perm("tcp", Some((80, 80)), &[], &["sg-app", "sg-empty"]),
                perm("udp", Some((0, 65535)), &["0.0.0.0/0"], &[]),
                perm("icmp", Some((-1, -1)), &["0.0.0.0/0"], &[]),
            ],
            vec![perm("tcp", Some((3000, 3000)), &[], &["sg-app"])],
        );
        let ingress = ConnectionFilter::ingress(&[&lb], &members);
        assert!(ingress.admits(ip("172.31.0.9"), 80));
        assert!(!ingress.admits(ip("172.31.0.10"), 80), "not a member");
        assert!(!ingress.admits(ip("127.0.0.1"), 80), "a group never holds the host");
        assert!(!ingress.admits(ip("172.31.0.9"), 443));
        let egress = ConnectionFilter::egress(&[&lb], &members);
        assert!(egress.admits(ip("172.31.0.9"), 3000));
        assert!(!egress.admits(ip("172.31.0.9"), 3001));
        assert!(!egress.admits(ip("172.31.0.10"), 3000));
    }

    #[test]
    fn all_traffic_rules_cover_every_port_and_no_groups_admit_nothing() {
        let out = group("sg-out", vec![], vec![Permission::allow_all_egress()]);
        let f = ConnectionFilter::egress(&[&out], &BTreeMap::new());
        assert!(f.admits(ip("172.31.40.1"), 1) && f.admits(ip("10.0.0.1"), 65535));
        assert!(!ConnectionFilter::ingress(&[&out], &BTreeMap::new()).admits(ip("127.0.0.1"), 80));
        assert!(!ConnectionFilter::default().admits(ip("127.0.0.1"), 80));
        // A TCP rule without ports (as stored for "all ports") covers them all.
        let any = group("sg-any", vec![perm("6", None, &["127.0.0.0/8"], &[])], vec![]);
        assert!(ConnectionFilter::ingress(&[&any], &BTreeMap::new()).admits(ip("127.9.9.9"), 9));
    }
}
