//! Security groups as a packet filter: an instance's groups become one nftables ruleset
//! in its JSON form (`nft -j -f -`), to load inside the instance's network namespace.
//!
//! As AWS's groups are: stateful (replies to allowed traffic, and ICMP errors about it,
//! pass as `ct state established,related`), allow-only (a packet passes if any rule of
//! any group admits it; the chains' policy drops the rest), and a rule naming another
//! group admits that group's members by their private addresses. Loopback inside the
//! instance is never filtered. IPv4 only, as Shoal's VPCs are: IPv6 other than loopback
//! is dropped.
//!
//! Pure: the caller resolves referenced groups to member addresses.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{json, Value};

use super::security_group::{Permission, SecurityGroup};
use super::Cidr;

/// The nftables table Shoal owns inside an instance's namespace.
pub const TABLE: &str = "shoal";

/// The ruleset for an instance whose groups are `groups`; `members` maps a group id to
/// its members' private addresses (a referenced group missing from it has none).
///
/// Loading it replaces the table atomically (`nft -f` is one transaction: the table is
/// added if missing, flushed, and filled again), so re-applying after an
/// Authorize/Revoke never opens a window with no rules.
pub fn ruleset(groups: &[&SecurityGroup], members: &BTreeMap<String, Vec<Ipv4Addr>>) -> Value {
    let table = json!({"family": "inet", "name": TABLE});
    let mut commands = vec![
        json!({"metainfo": {"json_schema_version": 1}}),
        json!({"add": {"table": table}}),
        json!({"flush": {"table": table}}),
    ];
    for (chain, hook) in [(Direction::Ingress, "input"), (Direction::Egress, "output")] {
        commands.push(json!({"add": {"chain": {
            "family": "inet", "table": TABLE, "name": chain.name(),
            "type": "filter", "hook": hook, "prio": 0, "policy": "drop",
        }}}));
        let mut rules = vec![
            vec![
                json!({"match": {"op": "in", "left": {"ct": {"key": "state"}},
                                 "right": ["established", "related"]}}),
                json!({"accept": null}),
            ],
            vec![
                json!({"match": {"op": "==", "left": {"meta": {"key": chain.loopback_key()}},
                                 "right": "lo"}}),
                json!({"accept": null}),
            ],
        ];
        for group in groups {
            let permissions = match chain {
                Direction::Ingress => &group.ingress,
                Direction::Egress => &group.egress,
            };
            for p in permissions {
                rules.extend(permission_rules(p, chain, members));
            }
        }
        for expr in rules {
            commands.push(json!({"add": {"rule": {
                "family": "inet", "table": TABLE, "chain": chain.name(), "expr": expr,
            }}}));
        }
    }
    json!({"nftables": commands})
}

/// Admits queries to the VPC's DNS resolver (`resolver`, the VPC's base + 2, port 53,
/// UDP and TCP) whatever the groups say: as on AWS, where traffic to the
/// Amazon-provided DNS server is not subject to security groups. Its answers pass as
/// replies.
pub fn admit_resolver(set: &mut Value, resolver: Ipv4Addr) {
    let Some(commands) = set.get_mut("nftables").and_then(Value::as_array_mut) else { return };
    for proto in ["udp", "tcp"] {
        commands.push(json!({"add": {"rule": {
            "family": "inet", "table": TABLE, "chain": Direction::Egress.name(), "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                           "right": resolver.to_string()}},
                {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": proto}},
                {"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": "dport"}},
                           "right": 53}},
                {"accept": null},
            ],
        }}}));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn name(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    /// The peer's address: the source of what comes in, the destination of what goes out.
    fn peer_field(self) -> &'static str {
        match self {
            Direction::Ingress => "saddr",
            Direction::Egress => "daddr",
        }
    }

    fn loopback_key(self) -> &'static str {
        match self {
            Direction::Ingress => "iifname",
            Direction::Egress => "oifname",
        }
    }
}

/// One rule per source of the permission (each CIDR; each referenced group with
/// members), all with the permission's protocol and ports.
fn permission_rules(
    p: &Permission,
    dir: Direction,
    members: &BTreeMap<String, Vec<Ipv4Addr>>,
) -> Vec<Vec<Value>> {
    let Some(proto) = protocol_matches(p) else { return Vec::new() };
    let peer = |right: Value| {
        json!({"match": {"op": "==",
            "left": {"payload": {"protocol": "ip", "field": dir.peer_field()}}, "right": right}})
    };
    let mut peers: Vec<Value> = Vec::new();
    for text in &p.cidrs {
        let Ok(cidr) = Cidr::parse(text, "cidrIp") else { continue };
        peers.push(if cidr.prefix == 0 {
            // Anywhere (IPv4): no address to match, only the family.
            json!({"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}})
        } else if cidr.prefix == 32 {
            peer(json!(cidr.base.to_string()))
        } else {
            peer(json!({"prefix": {"addr": cidr.base.to_string(), "len": cidr.prefix}}))
        });
    }
    for group in &p.group_ids {
        let mut addrs: Vec<String> =
            members.get(group).into_iter().flatten().map(|a| a.to_string()).collect();
        addrs.sort();
        addrs.dedup();
        // A group with no members admits no one (an empty set is no valid nft match).
        if !addrs.is_empty() {
            peers.push(peer(json!({"set": addrs})));
        }
    }
    peers
        .into_iter()
        .map(|peer| {
            let mut expr = vec![peer];
            expr.extend(proto.iter().cloned());
            expr.push(json!({"accept": null}));
            expr
        })
        .collect()
}

/// The matches a permission's protocol and ports make; `None` for a protocol the
/// filter cannot express (validation refuses those before they are stored).
fn protocol_matches(p: &Permission) -> Option<Vec<Value>> {
    let l4 = |name: &str| json!({"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": name}});
    let field = |proto: &str, field: &str, right: Value| {
        json!({"match": {"op": "==",
            "left": {"payload": {"protocol": proto, "field": field}}, "right": right}})
    };
    match p.protocol.to_ascii_lowercase().as_str() {
        "-1" | "all" => Some(Vec::new()),
        proto @ ("tcp" | "udp" | "6" | "17") => {
            let name = if matches!(proto, "tcp" | "6") { "tcp" } else { "udp" };
            let mut out = vec![l4(name)];
            let (from, to) = (p.from_port.unwrap_or(0), p.to_port.unwrap_or(65535));
            if !(from <= 0 && to >= 65535) {
                let ports = if from == to { json!(from) } else { json!({"range": [from, to]}) };
                out.push(field(name, "dport", ports));
            }
            Some(out)
        }
        "icmp" | "1" => {
            // EC2's ICMP rules: FromPort is the type, ToPort the code; -1 is any.
            let mut out = vec![l4("icmp")];
            if let Some(t) = p.from_port.filter(|t| *t >= 0) {
                out.push(field("icmp", "type", json!(t)));
                if let Some(c) = p.to_port.filter(|c| *c >= 0) {
                    out.push(field("icmp", "code", json!(c)));
                }
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, ingress: Vec<Permission>, egress: Vec<Permission>) -> SecurityGroup {
        SecurityGroup {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            vpc_id: "vpc-1".into(),
            ingress,
            egress,
            tags: vec![],
        }
    }

    /// A permission (made from the default one, so fields the filter ignores keep their
    /// defaults).
    fn perm(protocol: &str, from: i32, to: i32, cidrs: &[&str], groups: &[&str]) -> Permission {
        let mut p = Permission::allow_all_egress();
        p.protocol = protocol.into();
        p.from_port = Some(from);
        p.to_port = Some(to);
        p.cidrs = cidrs.iter().map(|s| s.to_string()).collect();
        p.group_ids = groups.iter().map(|s| s.to_string()).collect();
        p
    }

    fn tcp(from: i32, to: i32, cidrs: &[&str], groups: &[&str]) -> Permission {
        perm("tcp", from, to, cidrs, groups)
    }

    /// The rules of one chain, each as its expressions.
    fn rules(set: &Value, chain: &str) -> Vec<Vec<Value>> {
        set["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["add"]["rule"].as_object())
            .filter(|r| r["chain"] == chain)
            .map(|r| r["expr"].as_array().unwrap().clone())
            .collect()
    }

    fn dport(rule: &[Value]) -> Option<&Value> {
        rule.iter()
            .find(|e| e["match"]["left"]["payload"]["field"] == "dport")
            .map(|e| &e["match"]["right"])
    }

    fn peer<'a>(rule: &'a [Value], field: &str) -> Option<&'a Value> {
        rule.iter()
            .find(|e| e["match"]["left"]["payload"]["field"] == field)
            .map(|e| &e["match"]["right"])
    }

    #[test]
    fn the_vpc_resolver_is_admitted_whatever_the_groups_say() {
        let mut set = ruleset(&[], &BTreeMap::new());
        admit_resolver(&mut set, Ipv4Addr::new(172, 31, 0, 2));
        let egress: Vec<&Value> = set["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["add"]["rule"].as_object())
            .filter(|r| r["chain"] == "egress")
            .map(|r| &r["expr"])
            .collect();
        let to_resolver: Vec<_> =
            egress.iter().filter(|e| e[0]["match"]["right"] == "172.31.0.2").collect();
        assert_eq!(to_resolver.len(), 2);
        assert_eq!(to_resolver[0][1]["match"]["right"], "udp");
        assert_eq!(to_resolver[1][2]["match"]["right"], 53);
    }

    #[test]
    fn a_table_of_two_dropping_chains_that_admit_replies_and_loopback() {
        let set = ruleset(&[], &BTreeMap::new());
        let commands = set["nftables"].as_array().unwrap();
        assert_eq!(commands[1], json!({"add": {"table": {"family": "inet", "name": "shoal"}}}));
        assert_eq!(commands[2], json!({"flush": {"table": {"family": "inet", "name": "shoal"}}}));
        let chains: Vec<&Value> = commands.iter().filter_map(|c| c["add"].get("chain")).collect();
        assert_eq!(chains.len(), 2);
        assert_eq!(chains[0]["hook"], "input");
        assert_eq!(chains[1]["hook"], "output");
        assert!(chains.iter().all(|c| c["policy"] == "drop" && c["type"] == "filter"));
        for chain in ["ingress", "egress"] {
            let rules = rules(&set, chain);
            // No group: only replies and loopback pass.
            assert_eq!(rules.len(), 2, "{chain}");
            assert_eq!(rules[0][0]["match"]["left"], json!({"ct": {"key": "state"}}));
            assert_eq!(rules[0][0]["match"]["right"], json!(["established", "related"]));
            assert_eq!(rules[1][0]["match"]["right"], "lo");
            assert!(rules.iter().all(|r| r.last() == Some(&json!({"accept": null}))));
        }
    }

    #[test]
    fn the_seed_groups_admit_exactly_their_ports_and_new_groups_send_anywhere() {
        let web = group(
            "sg-web",
            vec![tcp(80, 80, &["0.0.0.0/0"], &[]), tcp(3000, 3000, &["0.0.0.0/0"], &[])],
            vec![Permission::allow_all_egress()],
        );
        let ssh = group("sg-ssh", vec![tcp(22, 22, &["203.0.113.0/24"], &[])], vec![]);
        let set = ruleset(&[&web, &ssh], &BTreeMap::new());
        let ingress = rules(&set, "ingress");
        let own: Vec<_> = ingress[2..].to_vec();
        assert_eq!(own.len(), 3);
        assert_eq!(dport(&own[0]), Some(&json!(80)));
        assert_eq!(dport(&own[1]), Some(&json!(3000)));
        assert_eq!(dport(&own[2]), Some(&json!(22)));
        // 0.0.0.0/0 matches the family, not an address; a block matches its prefix.
        assert_eq!(own[0][0]["match"]["left"], json!({"meta": {"key": "nfproto"}}));
        assert_eq!(peer(&own[0], "saddr"), None);
        assert_eq!(
            peer(&own[2], "saddr"),
            Some(&json!({"prefix": {"addr": "203.0.113.0", "len": 24}}))
        );
        assert!(own.iter().all(|r| r.contains(&json!({"match": {"op": "==",
            "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}))));
        // AWS's default egress rule: everything, anywhere, no protocol or port match.
        let egress = rules(&set, "egress");
        assert_eq!(egress.len(), 3);
        assert_eq!(
            egress[2],
            vec![
                json!({"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}}),
                json!({"accept": null})
            ]
        );
    }

    #[test]
    fn a_group_without_egress_rules_sends_only_replies() {
        let closed = group("sg-closed", vec![], vec![]);
        let set = ruleset(&[&closed], &BTreeMap::new());
        assert_eq!(rules(&set, "egress").len(), 2);
        assert_eq!(rules(&set, "ingress").len(), 2);
    }

    #[test]
    fn a_referenced_group_admits_its_members_by_private_address() {
        let app = group("sg-app", vec![tcp(3000, 3010, &[], &["sg-lb", "sg-empty"])], vec![]);
        let members = BTreeMap::from([
            ("sg-lb".to_string(), vec![Ipv4Addr::new(172, 31, 0, 9), Ipv4Addr::new(172, 31, 0, 7)]),
            ("sg-empty".to_string(), vec![]),
        ]);
        let set = ruleset(&[&app], &members);
        let own = rules(&set, "ingress")[2..].to_vec();
        // The empty group adds no rule: an empty set would admit no one anyway.
        assert_eq!(own.len(), 1);
        assert_eq!(peer(&own[0], "saddr"), Some(&json!({"set": ["172.31.0.7", "172.31.0.9"]})));
        assert_eq!(dport(&own[0]), Some(&json!({"range": [3000, 3010]})));
    }

    #[test]
    fn egress_rules_match_destinations_and_protocol_numbers_are_names() {
        let dns = perm("17", 53, 53, &["10.0.0.2/32"], &[]);
        let all_tcp = tcp(0, 65535, &["10.0.0.0/16"], &[]);
        let g = group("sg-out", vec![], vec![dns, all_tcp]);
        let set = ruleset(&[&g], &BTreeMap::new());
        let own = rules(&set, "egress")[2..].to_vec();
        assert_eq!(peer(&own[0], "daddr"), Some(&json!("10.0.0.2")));
        assert_eq!(peer(&own[0], "saddr"), None);
        assert!(own[0].contains(&json!({"match": {"op": "==",
            "left": {"meta": {"key": "l4proto"}}, "right": "udp"}})));
        assert_eq!(dport(&own[0]), Some(&json!(53)));
        // Every port: no port match at all.
        assert_eq!(dport(&own[1]), None);
    }

    #[test]
    fn icmp_rules_take_type_and_code_from_the_ports() {
        let icmp = |from, to| perm("icmp", from, to, &["0.0.0.0/0"], &[]);
        let g = group("sg-ping", vec![icmp(8, -1), icmp(-1, -1), icmp(3, 4)], vec![]);
        let set = ruleset(&[&g], &BTreeMap::new());
        let own = rules(&set, "ingress")[2..].to_vec();
        let fields = |r: &[Value]| -> Vec<(String, Value)> {
            r.iter()
                .filter(|e| e["match"]["left"]["payload"]["protocol"] == "icmp")
                .map(|e| {
                    let f = e["match"]["left"]["payload"]["field"].as_str().unwrap().to_string();
                    (f, e["match"]["right"].clone())
                })
                .collect()
        };
        assert_eq!(fields(&own[0]), vec![("type".into(), json!(8))]);
        assert_eq!(fields(&own[1]), vec![]);
        assert_eq!(fields(&own[2]), vec![("type".into(), json!(3)), ("code".into(), json!(4))]);
    }
}
