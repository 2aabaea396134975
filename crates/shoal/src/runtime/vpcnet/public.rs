//! Public addresses: the host reaches an instance in a VPC network at its loopback
//! address (its `PublicIpAddress`), as it does on the host's network.
//!
//! Where the host routes the instance's VPC to its router (`hostlink`), the kernel maps
//! the address 1:1, as AWS's internet gateway maps a public address to the private one:
//! the daemon's own table in the host's namespace, `ip shoal_<hash of the data dir>`,
//! has one `dnat` per instance (every protocol and port) in its `output` chain, and
//! masquerades what leaves from a loopback source over a VPC link (the kernel routes a
//! loopback source out of a link only with `route_localnet`, set on it), so replies come
//! back. No process is on the path: public addresses keep answering while the daemon
//! is down after a crash; a clean stop deletes the table.
//!
//! Elsewhere (a VPC whose CIDR overlaps the host's routes, no `nft`) each port the
//! instance listens on (on all addresses or its private one) is mirrored on the
//! loopback address by a listener in the daemon that forwards each connection to the
//! private address, through a socket made in the VPC's router namespace
//! ([`VpcNet::dial`]).
//!
//! This is the path for the host's own clients (`curl <PublicIpAddress>:3000`, the
//! lab's scripts); the load balancer does not take it: it dials into the VPC directly.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;

use super::{feed, VpcNet};

/// How often listening ports are looked for.
const POLL: Duration = Duration::from_millis(500);

/// Mirrors listening ports of every attached instance on its public address, until the
/// `VpcNet` is dropped (the daemon that made it is gone).
pub async fn mirror(vpcnet: Weak<VpcNet>) {
    let mut mirrored: HashMap<SocketAddrV4, JoinHandle<()>> = HashMap::new();
    loop {
        let Some(net) = vpcnet.upgrade() else { break };
        let wanted = {
            let net = net.clone();
            tokio::task::spawn_blocking(move || wanted_addresses(&net)).await.unwrap_or_default()
        };
        mirrored.retain(|addr, task| {
            let keep = wanted.contains(addr) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for addr in wanted {
            if mirrored.contains_key(&addr) {
                continue;
            }
            match TcpListener::bind(addr).await {
                Ok(listener) => {
                    tracing::info!(%addr, "public address forwards to the instance's private address");
                    mirrored.insert(addr, tokio::spawn(forward(listener, Arc::downgrade(&net))));
                }
                Err(e) => tracing::debug!(%addr, error = %e, "cannot mirror a port"),
            }
        }
        drop(net);
        tokio::time::sleep(POLL).await;
    }
    for task in mirrored.into_values() {
        task.abort();
    }
}

/// Every `public ip:port` to mirror: the listening ports of instances the kernel does
/// not map.
fn wanted_addresses(net: &VpcNet) -> BTreeSet<SocketAddrV4> {
    let mapped = net.nat_mapped();
    let attached: Vec<(String, super::InstanceNet)> = net
        .attached
        .lock()
        .unwrap()
        .iter()
        .filter(|(id, n)| n.has_public_ip && !mapped.contains(*id))
        .map(|(id, n)| (id.clone(), n.clone()))
        .collect();
    let mut wanted = BTreeSet::new();
    for (id, n) in attached {
        let ns = net.instance_ns(&n.vpc_id, &id);
        match listening_ports(&ns, n.private_ip) {
            Ok(ports) => {
                wanted.extend(ports.into_iter().map(|p| SocketAddrV4::new(n.public_ip, p)))
            }
            Err(e) => tracing::debug!(instance = %id, error = %e, "cannot read listening ports"),
        }
    }
    wanted
}

impl VpcNet {
    /// The daemon's table in the host's namespace: one per data dir, so daemons of
    /// other data dirs keep theirs.
    pub(super) fn public_table(&self) -> String {
        // FNV-1a: stable across builds, unlike std's hasher.
        let hash = self
            .root
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193));
        format!("shoal_{hash:08x}")
    }

    /// The instances whose public address the kernel maps: those with one, in VPCs the
    /// host routes.
    fn nat_mapped(&self) -> BTreeSet<String> {
        let links = self.host_links.lock().unwrap();
        self.attached
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, n)| n.has_public_ip && links.get(&n.vpc_id).is_some_and(|l| l.routed))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Loads the host table that maps public addresses, if it changed; without any
    /// mapped instance the table goes. Called with `changes` held.
    pub(super) fn sync_public_nat(&self) {
        if !self.nft {
            return;
        }
        let mapped: Vec<(Ipv4Addr, Ipv4Addr)> = {
            let ids = self.nat_mapped();
            let attached = self.attached.lock().unwrap();
            ids.iter()
                .filter_map(|id| attached.get(id))
                .map(|n| (n.public_ip, n.private_ip))
                .collect()
        };
        let table = self.public_table();
        let text =
            if mapped.is_empty() { String::new() } else { public_nat_ruleset(&table, &mapped) };
        let mut loaded = self.public_nat.lock().unwrap();
        if loaded.as_deref() == Some(text.as_str()) {
            return;
        }
        let script = if text.is_empty() { delete_table(&table) } else { text.clone() };
        match nft_script(&script) {
            Ok(()) => {
                tracing::info!(table = %table, instances = mapped.len(), "public addresses mapped by the kernel");
                *loaded = Some(text);
            }
            Err(e) => {
                tracing::warn!(table = %table, error = %e, "cannot map public addresses");
                *loaded = None;
            }
        }
    }

    /// The daemon stops cleanly: its public addresses go with it.
    pub(super) fn drop_public_nat(&self) {
        if !self.nft {
            return;
        }
        let _ = nft_script(&delete_table(&self.public_table()));
        *self.public_nat.lock().unwrap() = None;
    }
}

/// `nft -f -` in the host's namespace.
fn nft_script(script: &str) -> io::Result<()> {
    feed(std::process::Command::new("nft").args(["-f", "-"]), script, "nft -f -")
}

/// Deletes the table if it exists (declaring it first makes the delete never fail).
fn delete_table(table: &str) -> String {
    format!("table ip {table}\ndelete table ip {table}\n")
}

/// The table mapping each `(public, private)` pair, replacing any earlier one.
fn public_nat_ruleset(table: &str, mapped: &[(Ipv4Addr, Ipv4Addr)]) -> String {
    let mut text = delete_table(table);
    text.push_str(&format!(
        "table ip {table} {{\n\tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n"
    ));
    for (public, private) in mapped {
        text.push_str(&format!("\t\tip daddr {public} dnat to {private}\n"));
    }
    text.push_str(&format!(
        "\t}}\n\tchain postrouting {{\n\t\ttype nat hook postrouting priority 100; policy accept;\n\
         \t\tip saddr 127.0.0.0/8 oifname \"{}*\" masquerade\n\t}}\n}}\n",
        super::hostlink::LINK_PREFIX
    ));
    text
}

/// Accepts on the public address; each connection goes to the private one.
async fn forward(listener: TcpListener, vpcnet: Weak<VpcNet>) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some(net) = vpcnet.upgrade() else { return };
        let Ok(public) = listener.local_addr() else { return };
        // The host's clients come from the router's address, never a load balancer's.
        let made = net.dial(public, &[]);
        drop(net);
        tokio::spawn(async move {
            let Some(Ok((socket, private))) = made else { return };
            if socket.set_nonblocking(true).is_err() {
                return;
            }
            let Ok(mut upstream) = TcpSocket::from_std_stream(socket).connect(private).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        });
    }
}

/// The TCP ports listening in the network namespace at `ns` on all addresses or on
/// `private` (read from `/proc/thread-self/net/tcp{,6}` by a short-lived thread that
/// entered the namespace; the caller's thread keeps its own).
fn listening_ports(ns: &Path, private: Ipv4Addr) -> io::Result<BTreeSet<u16>> {
    let file = std::fs::File::open(ns)?;
    std::thread::spawn(move || -> io::Result<BTreeSet<u16>> {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)?;
        let mut ports = BTreeSet::new();
        for table in ["tcp", "tcp6"] {
            if let Ok(text) = std::fs::read_to_string(format!("/proc/thread-self/net/{table}")) {
                ports.extend(parse_listening(&text, private));
            }
        }
        Ok(ports)
    })
    .join()
    .map_err(|_| io::Error::other("the port reader panicked"))?
}

/// Listening sockets (`st` 0A) of a `/proc/net/tcp` or `tcp6` table bound to any address
/// or to `private`.
fn parse_listening(table: &str, private: Ipv4Addr) -> Vec<u16> {
    // The kernel writes each address as the hex of its bytes in host (little-endian) order.
    let private_hex = format!("{:08X}", u32::from_le_bytes(private.octets()));
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1)?;
            let state = fields.nth(1)?;
            let (ip, port) = local.split_once(':')?;
            let any = ip.bytes().all(|b| b == b'0');
            (state == "0A" && (any || ip == private_hex))
                .then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_listeners_on_any_address_or_the_private_one() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 05001FAC:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
   3: 05001FAC:0BB8 0B001FAC:C350 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 100 0 0 10 0
";
        // 172.31.0.5 is 05001FAC; 127.0.0.1 (instance-local only) is not mirrored, nor is
        // an established connection.
        assert_eq!(parse_listening(tcp, Ipv4Addr::new(172, 31, 0, 5)), vec![80, 3000]);
        let tcp6 = "  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1
";
        assert_eq!(parse_listening(tcp6, Ipv4Addr::new(172, 31, 0, 5)), vec![22]);
    }

    #[test]
    fn the_nat_table_maps_each_public_address_and_masquerades_over_vpc_links() {
        let text = public_nat_ruleset(
            "shoal_0000abcd",
            &[(Ipv4Addr::new(127, 1, 0, 2), Ipv4Addr::new(172, 31, 0, 5))],
        );
        assert!(
            text.starts_with("table ip shoal_0000abcd\ndelete table ip shoal_0000abcd\n"),
            "{text}"
        );
        assert!(text.contains("ip daddr 127.1.0.2 dnat to 172.31.0.5"), "{text}");
        assert!(text.contains("ip saddr 127.0.0.0/8 oifname \"sv*\" masquerade"), "{text}");
    }
}
