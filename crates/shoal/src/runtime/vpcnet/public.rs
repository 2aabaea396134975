//! Public addresses: the host reaches an instance in a VPC network at its loopback
//! address (its `PublicIpAddress`), as it does on the host's network. Each port the
//! instance listens on (on all addresses or its private one) is mirrored on the loopback
//! address by a listener in the daemon that forwards each connection to the private
//! address, through a socket made in the VPC's router namespace ([`VpcNet::dial`]).
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

use super::VpcNet;

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

/// Every `public ip:port` to mirror: the instances' listening ports.
fn wanted_addresses(net: &VpcNet) -> BTreeSet<SocketAddrV4> {
    let attached: Vec<(String, super::InstanceNet)> =
        net.attached.lock().unwrap().iter().map(|(id, n)| (id.clone(), n.clone())).collect();
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
}
