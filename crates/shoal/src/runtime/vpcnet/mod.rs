//! VPC networks (`--network vpc`, container instances only): each VPC is a bridge in a
//! router network namespace of its own, each instance a network namespace whose `eth0`
//! is a veth on that bridge holding its private address.
//!
//! ```text
//!  <data>/vpcnet/<vpc-id>/router          the VPC's router namespace (nsfs bind mount)
//!      lo, br0 (each subnet's .1/prefix, the VPC's .2/32: its DNS resolver,
//!      each load balancer interface's private address/32), v<instance…> (bridge
//!      ports); ip_forward=1
//!  <data>/vpcnet/<vpc-id>/load-balancers.addrs   the load balancer addresses it holds
//!  <data>/vpcnet/<vpc-id>/<instance-id>   the instance's namespace (runc joins it)
//!      lo (and 169.254.169.254, the metadata service), eth0 (private ip/prefix),
//!      default via the subnet's .1
//!  <data>/vpcnet/<vpc-id>/<instance-id>.json   what was made, to re-adopt after a restart
//! ```
//!
//! In the host's own namespace Shoal adds only, per VPC while it runs, a link to the
//! VPC's router and a route of the VPC's CIDR over it ([`hostlink`]), and one table
//! mapping public addresses ([`public`]). A router namespace has no interface but its
//! bridge, ports and that link, and passes out to the host only replies, so no packet
//! of a VPC can leave the machine. One namespace per VPC keeps VPCs apart (no route
//! between them) and lets their CIDRs overlap.
//!
//! The load balancer reaches an instance by its loopback (public) address, as before:
//! [`VpcNet::dial`] claims those addresses for `shoal_proxy::dial` and makes the socket
//! inside the instance's VPC router namespace, bound to the load balancer's interface
//! address there ([`lb`]) and connected to the instance's private address. The
//! host's other clients reach the same address through the kernel's mapping, or
//! [`public::mirror`] where the host does not route the VPC.
//!
//! Made with iproute2 (`ip -batch`) and util-linux (`unshare --net=<file>`, `nsenter`):
//! a few commands per boot, never on a request path, and each one is what an operator
//! types to look (`nsenter --net=<data>/vpcnet/<vpc>/router ip addr`).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use shoal_model::ec2::Cidr;

pub mod dns;
mod filter;
pub mod hostlink;
pub mod imds;
pub mod lb;
pub mod public;

/// The bridge of a VPC, inside its router namespace.
pub const BRIDGE: &str = "br0";

/// The router bridge's MAC address: fixed, locally administered, from the VPC's id. A
/// bridge left to itself takes the lowest MAC among its ports, so an instance joining or
/// leaving could change the gateway's MAC under every other instance, whose ARP entry
/// for it then points nowhere until it goes stale (about 30 s without replies: DNS,
/// health checks, the public path). One set at creation never changes.
fn bridge_mac(vpc_id: &str) -> String {
    let [a, b, c, d] = crate::runtime::process::fnv1a(vpc_id.as_bytes()).to_be_bytes();
    format!("02:00:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

/// The instance's interface, inside its namespace.
pub const ETH0: &str = "eth0";
/// Sockets a VPC's dialer keeps made ahead, so a connect rarely waits for one.
const SOCKETS_AHEAD: usize = 16;

/// An instance's place in its VPC, as the controller knows it at boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceNet {
    pub vpc_id: String,
    pub subnet: Cidr,
    pub private_ip: Ipv4Addr,
    /// The loopback address the load balancer knows it by, and the host too when it
    /// has a public address.
    pub public_ip: Ipv4Addr,
    /// It has a public address (`Instance::has_public_ip`): the host reaches it at
    /// `public_ip`. Records from before had one.
    #[serde(default = "has_public_ip_by_default")]
    pub has_public_ip: bool,
}

fn has_public_ip_by_default() -> bool {
    true
}

impl InstanceNet {
    /// The VPC router's address in the subnet: its `.1`, as on AWS.
    pub fn router_ip(&self) -> Ipv4Addr {
        self.subnet.nth(1)
    }
}

/// Sockets made inside one VPC's router namespace, as its dialer thread hands them over.
type Sockets = Arc<Mutex<Receiver<io::Result<OwnedFd>>>>;

/// Shoal's VPC networks under one data dir.
pub struct VpcNet {
    root: PathBuf,
    /// Instance id → its network, for every instance whose namespace exists.
    attached: Mutex<BTreeMap<String, InstanceNet>>,
    /// VPC id → the thread that makes sockets inside its router namespace.
    dialers: Mutex<HashMap<String, Sockets>>,
    /// Held through each attach, detach and release: instances boot and stop
    /// concurrently, and two of them must never both make (or remove) their VPC's router.
    changes: Mutex<()>,
    /// `nft` is installed: security groups are enforced (`filter`).
    nft: bool,
    /// Instance id → the ruleset last loaded into its namespace (its JSON text).
    filters: Mutex<HashMap<String, String>>,
    /// Region → the load balancer addresses its control plane last asked for (none
    /// before its first ask, or after one failed to be placed).
    lb_wanted: Mutex<BTreeMap<String, lb::LbAddresses>>,
    /// VPC id → the load balancer addresses its router holds, for `dial`.
    lb_held: Mutex<HashMap<String, std::collections::BTreeSet<Ipv4Addr>>>,
    /// Region → its VPCs (id → CIDR), as each region's control plane last said
    /// (`set_vpc_networks`): each has its router and link to the host while Shoal runs.
    vpcs_wanted: Mutex<BTreeMap<String, BTreeMap<String, Cidr>>>,
    /// VPC id → its link to the host, as made.
    host_links: Mutex<HashMap<String, hostlink::HostLink>>,
    /// The host table mapping public addresses, as last loaded (`None`: unknown).
    public_nat: Mutex<Option<String>>,
    /// Set by `release`: the daemon is stopping, and a control-plane pass still in
    /// flight must not make a VPC's router or host link again behind it.
    released: std::sync::atomic::AtomicBool,
}

/// Why this host cannot have VPC networks (said in the log, health and the console).
#[derive(Debug, thiserror::Error)]
pub enum Unsupported {
    #[error("the daemon is not root: it cannot make network namespaces")]
    NotRoot,
    #[error("the kernel has no network namespaces")]
    NoNetworkNamespaces,
    #[error("`{0}` is not installed (iproute2, util-linux)")]
    MissingTool(&'static str),
    #[error("{}: {source}", .dir.display())]
    DataDir { dir: PathBuf, source: io::Error },
    #[error("cannot make a network namespace: {0}")]
    Namespace(io::Error),
    #[error("cannot make a bridge: {0}")]
    Bridge(io::Error),
}

impl VpcNet {
    /// VPC networks under `data_dir/vpcnet`, or why this host cannot have them. Probes by
    /// making (and removing) a namespace, and re-adopts what a previous daemon made.
    pub fn detect(data_dir: &Path) -> Result<VpcNet, Unsupported> {
        if !nix::unistd::geteuid().is_root() {
            return Err(Unsupported::NotRoot);
        }
        if !Path::new("/proc/self/ns/net").exists() {
            return Err(Unsupported::NoNetworkNamespaces);
        }
        for tool in ["ip", "nsenter", "unshare"] {
            if which(tool).is_none() {
                return Err(Unsupported::MissingTool(tool));
            }
        }
        let root = data_dir.join("vpcnet");
        fs::create_dir_all(&root)
            .map_err(|source| Unsupported::DataDir { dir: root.clone(), source })?;
        let probe = root.join(".probe");
        make_namespace(&probe).map_err(Unsupported::Namespace)?;
        let bridged = in_ns(&probe, &["ip", "link", "add", BRIDGE, "type", "bridge"]);
        remove_namespace(&probe);
        bridged.map_err(Unsupported::Bridge)?;
        let net = VpcNet {
            root,
            attached: Mutex::default(),
            dialers: Mutex::default(),
            changes: Mutex::default(),
            nft: can_filter_packets(),
            filters: Mutex::default(),
            lb_wanted: Mutex::default(),
            lb_held: Mutex::default(),
            vpcs_wanted: Mutex::default(),
            released: Default::default(),
            host_links: Mutex::default(),
            public_nat: Mutex::default(),
        };
        if !net.nft {
            tracing::warn!("`nft` is not installed (nftables): security groups are not enforced");
        }
        net.adopt();
        Ok(net)
    }

    /// For humans (`isolation()`).
    pub fn describe(&self) -> String {
        format!(
            "VPC network namespaces under {} ({} instance(s), {} VPC(s) routed from the host), security groups {}",
            self.root.display(),
            self.attached.lock().unwrap().len(),
            self.routed_vpcs(),
            if self.nft { "enforced (nftables)" } else { "not enforced (no nft)" }
        )
    }

    fn vpc_dir(&self, vpc_id: &str) -> PathBuf {
        self.root.join(vpc_id)
    }

    fn router_ns(&self, vpc_id: &str) -> PathBuf {
        self.vpc_dir(vpc_id).join("router")
    }

    /// The instance's network namespace, for runc to join.
    pub fn instance_ns(&self, vpc_id: &str, instance_id: &str) -> PathBuf {
        self.vpc_dir(vpc_id).join(instance_id)
    }

    fn record_path(&self, vpc_id: &str, instance_id: &str) -> PathBuf {
        self.vpc_dir(vpc_id).join(format!("{instance_id}.json"))
    }

    /// Namespaces a previous daemon made and left for running instances.
    fn adopt(&self) {
        let Ok(vpcs) = fs::read_dir(&self.root) else { return };
        let mut attached = self.attached.lock().unwrap();
        for vpc in vpcs.flatten().filter(|e| e.path().is_dir()) {
            for entry in fs::read_dir(vpc.path()).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let Some(id) = path.file_stem().and_then(|s| s.to_str()).map(String::from) else {
                    continue;
                };
                let net: Option<InstanceNet> =
                    fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
                match net {
                    Some(net) if is_namespace(&self.instance_ns(&net.vpc_id, &id)) => {
                        tracing::info!(instance = %id, vpc = %net.vpc_id, ip = %net.private_ip, "re-adopted the instance's network namespace");
                        attached.insert(id, net);
                    }
                    // Its namespace is gone (a host reboot): the next boot makes it anew.
                    _ => {
                        let _ = fs::remove_file(&path);
                    }
                }
            }
        }
    }

    /// Gives the instance its namespace, fresh: `eth0` on its VPC's bridge with its
    /// private address, `lo`, the default route via the subnet's `.1`. Makes the VPC's
    /// router namespace and bridge first if they are missing. Returns the namespace's path.
    pub fn attach(&self, instance_id: &str, net: &InstanceNet) -> io::Result<PathBuf> {
        let _changing = self.changes.lock().unwrap();
        self.detach_locked(instance_id);
        // A fresh namespace has no table yet.
        self.filters.lock().unwrap().remove(instance_id);
        let router = self.ensure_router(&net.vpc_id)?;
        let prefix = net.subnet.prefix;
        let router_ip = net.router_ip();
        ip_batch(&router, &[format!("address replace {router_ip}/{prefix} dev {BRIDGE}")])?;
        let ns = self.instance_ns(&net.vpc_id, instance_id);
        let port = port_name(instance_id);
        if is_namespace(&ns) {
            // Left by a daemon that crashed mid-boot: its port too.
            let _ = in_ns(&router, &["ip", "link", "del", &port]);
        }
        // A private address is reused once its instance is gone; the router (where the load
        // balancer dials from) may still hold the old port's MAC for it, and would send there
        // until the entry went stale: forget it (best effort: usually there is none).
        let ip = net.private_ip.to_string();
        let _ = in_ns(&router, &["ip", "neigh", "flush", "to", &ip, "dev", BRIDGE]);
        make_namespace(&ns)?;
        let made = ip_batch(
            &router,
            &[
                format!("link add {port} type veth peer name {ETH0} netns {}", ns.display()),
                format!("link set {port} master {BRIDGE} up"),
            ],
        )
        .and_then(|()| {
            ip_batch(
                &ns,
                &[
                    "link set lo up".into(),
                    // The metadata service's address; root inside cannot remove it.
                    format!("address add {}/32 dev lo", imds::ADDRESS),
                    format!("address add {}/{prefix} dev {ETH0}", net.private_ip),
                    format!("link set {ETH0} up"),
                    format!("route add default via {router_ip} dev {ETH0}"),
                ],
            )
        })
        .and_then(|()| {
            // Root inside is root of a user namespace that does not own this network
            // namespace: without these, it could bind no port below 1024 and not ping.
            in_ns(
                &ns,
                &[
                    "sysctl",
                    "-qw",
                    "net.ipv4.ip_unprivileged_port_start=0",
                    "net.ipv4.ping_group_range=0 2147483647",
                ],
            )
        })
        .and_then(|()| {
            fs::write(self.record_path(&net.vpc_id, instance_id), serde_json::to_vec(net)?)
        });
        if let Err(e) = made {
            let _ = in_ns(&router, &["ip", "link", "del", &port]);
            remove_namespace(&ns);
            return Err(e);
        }
        tracing::info!(instance = instance_id, vpc = %net.vpc_id, ip = %net.private_ip, ns = %ns.display(), "instance network made");
        self.attached.lock().unwrap().insert(instance_id.to_string(), net.clone());
        self.sync_public_nat();
        Ok(ns)
    }

    /// The VPC's router namespace, made (with its bridge, its load balancer addresses
    /// and, when its CIDR is known, its link to the host) if it is missing. Called with
    /// `changes` held.
    fn ensure_router(&self, vpc_id: &str) -> io::Result<PathBuf> {
        fs::create_dir_all(self.vpc_dir(vpc_id))?;
        let router = self.router_ns(vpc_id);
        if !is_namespace(&router) {
            // What was made into a lost router (unmounted by hand, a host reboot) goes too.
            self.unlink_host(vpc_id);
            self.dialers.lock().unwrap().remove(vpc_id);
            make_namespace(&router)?;
            ip_batch(
                &router,
                &[
                    "link set lo up".into(),
                    format!("link add {BRIDGE} address {} type bridge", bridge_mac(vpc_id)),
                    format!("link set {BRIDGE} up"),
                ],
            )?;
            // Routing between the VPC's subnets and back to the host's link; there is
            // nowhere else to route to.
            in_ns(&router, &["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
            self.forget_lb_addresses(vpc_id);
            self.sync_lb_addresses(vpc_id)?;
            tracing::info!(vpc = vpc_id, ns = %router.display(), "the VPC's router made");
        }
        if let Some(cidr) = self.wanted_cidr(vpc_id) {
            if let Err(e) = self.link_host(vpc_id, cidr) {
                // The instances stay reachable at their public addresses.
                tracing::warn!(vpc = vpc_id, error = %e, "cannot link the VPC's router to the host");
            }
        }
        Ok(router)
    }

    fn wanted_cidr(&self, vpc_id: &str) -> Option<Cidr> {
        self.vpcs_wanted.lock().unwrap().values().find_map(|vpcs| vpcs.get(vpc_id).copied())
    }

    /// The VPCs of `region`, as its control plane sees them: each gets its router
    /// namespace and link to the host now (AWS's VPC router exists with the VPC), and
    /// a VPC no region has any more loses them once no instance is left in it. Runs
    /// commands only for what changed.
    pub fn set_vpc_networks(&self, region: &str, vpcs: BTreeMap<String, Cidr>) -> io::Result<()> {
        let _changing = self.changes.lock().unwrap();
        if self.released.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        self.vpcs_wanted.lock().unwrap().insert(region.to_string(), vpcs);
        let wanted: BTreeMap<String, Cidr> = self
            .vpcs_wanted
            .lock()
            .unwrap()
            .values()
            .flatten()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let mut failed = None;
        for vpc_id in wanted.keys() {
            if let Err(e) = self.ensure_router(vpc_id) {
                tracing::warn!(vpc = %vpc_id, error = %e, "cannot make the VPC's router");
                failed = Some(e);
            }
        }
        for entry in fs::read_dir(&self.root).into_iter().flatten().flatten() {
            let Some(vpc_id) = entry.file_name().to_str().map(String::from) else { continue };
            if entry.path().is_dir() && vpc_id.starts_with("vpc-") && !wanted.contains_key(&vpc_id)
            {
                self.remove_vpc_if_unused(&vpc_id);
            }
        }
        self.sync_public_nat();
        failed.map_or(Ok(()), Err)
    }

    /// Removes the instance's namespace and its bridge port; the VPC's router namespace
    /// goes with its last instance when the VPC is no longer wanted. Idempotent.
    pub fn detach(&self, instance_id: &str) {
        let _changing = self.changes.lock().unwrap();
        self.detach_locked(instance_id);
    }

    fn detach_locked(&self, instance_id: &str) {
        self.filters.lock().unwrap().remove(instance_id);
        let Some(net) = self.attached.lock().unwrap().remove(instance_id) else { return };
        let router = self.router_ns(&net.vpc_id);
        if is_namespace(&router) {
            let _ = in_ns(&router, &["ip", "link", "del", &port_name(instance_id)]);
        }
        remove_namespace(&self.instance_ns(&net.vpc_id, instance_id));
        let _ = fs::remove_file(self.record_path(&net.vpc_id, instance_id));
        self.remove_vpc_if_unused(&net.vpc_id);
        self.sync_public_nat();
        tracing::info!(instance = instance_id, vpc = %net.vpc_id, "instance network removed");
    }

    fn remove_vpc_if_unused(&self, vpc_id: &str) {
        if self.attached.lock().unwrap().values().any(|n| n.vpc_id == vpc_id)
            || self.wanted_cidr(vpc_id).is_some()
        {
            return;
        }
        self.unlink_host(vpc_id);
        self.dialers.lock().unwrap().remove(vpc_id);
        self.forget_lb_addresses(vpc_id);
        remove_namespace(&self.router_ns(vpc_id));
        let _ = fs::remove_dir(self.vpc_dir(vpc_id));
    }

    /// The daemon is stopping: the host's links and routes to VPCs go, and VPCs with
    /// no instance left lose their router namespace. Running instances keep theirs (and
    /// their VPC's), to be re-adopted. A VPC pass that comes after (a reconcile the stop
    /// left in flight) makes nothing.
    pub fn release(&self) {
        let _changing = self.changes.lock().unwrap();
        self.released.store(true, std::sync::atomic::Ordering::SeqCst);
        self.vpcs_wanted.lock().unwrap().clear();
        self.drop_public_nat();
        let Ok(vpcs) = fs::read_dir(&self.root) else { return };
        for vpc in vpcs.flatten().filter(|e| e.path().is_dir()) {
            if let Some(id) = vpc.file_name().to_str() {
                self.unlink_host(id);
                self.remove_vpc_if_unused(id);
            }
        }
    }

    /// For the load balancer (`shoal_proxy::dial`): a target at an instance's public
    /// (loopback) address is reached at its private address, by a socket made in its
    /// VPC's router namespace and bound to the load balancer's address there (of
    /// `from`, its interface addresses: `VpcNet::lb_source`); with none of them
    /// held, the kernel picks the router's. Any other address is not claimed.
    pub fn dial(
        &self,
        addr: SocketAddr,
        from: &[IpAddr],
    ) -> Option<io::Result<(std::net::TcpStream, SocketAddr)>> {
        let SocketAddr::V4(v4) = addr else { return None };
        let (vpc_id, private_ip, subnet) = self
            .attached
            .lock()
            .unwrap()
            .values()
            .find(|n| n.public_ip == *v4.ip())
            .map(|n| (n.vpc_id.clone(), n.private_ip, n.subnet))?;
        let source = self.lb_source(&vpc_id, subnet, from);
        Some(self.socket_in(&vpc_id).and_then(|fd| {
            if let Some(source) = source {
                let at = nix::sys::socket::SockaddrIn::from(std::net::SocketAddrV4::new(source, 0));
                nix::sys::socket::bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &at)?;
            }
            Ok((std::net::TcpStream::from(fd), SocketAddr::from((private_ip, v4.port()))))
        }))
    }

    /// A TCP socket made inside the VPC's router namespace, by the VPC's dialer thread.
    fn socket_in(&self, vpc_id: &str) -> io::Result<OwnedFd> {
        let rx = {
            let mut dialers = self.dialers.lock().unwrap();
            match dialers.get(vpc_id) {
                Some(rx) => rx.clone(),
                None => {
                    let rx = Arc::new(Mutex::new(spawn_dialer(vpc_id, &self.router_ns(vpc_id))?));
                    dialers.insert(vpc_id.to_string(), rx.clone());
                    rx
                }
            }
        };
        let made = rx.lock().unwrap().recv();
        made.unwrap_or_else(|_| {
            // The thread ended (it could not enter the namespace): try afresh next time.
            self.dialers.lock().unwrap().remove(vpc_id);
            Err(io::Error::other(format!("no socket maker for {vpc_id}")))
        })
    }
}

/// A thread that enters the namespace at `ns` and makes TCP sockets there, a few
/// ahead: a socket stays in the namespace it was made in wherever it is used.
fn spawn_dialer(vpc_id: &str, ns: &Path) -> io::Result<Receiver<io::Result<OwnedFd>>> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let file = fs::File::open(ns)?;
    let (tx, rx) = sync_channel(SOCKETS_AHEAD);
    std::thread::Builder::new().name(format!("netns-{vpc_id}")).spawn(move || {
        if let Err(e) = nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET) {
            let _ = tx.send(Err(io::Error::from(e)));
            return;
        }
        drop(file);
        loop {
            let made = socket(
                AddressFamily::Inet,
                SockType::Stream,
                SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
                None,
            )
            .map_err(io::Error::from);
            // The receiver is gone with its VPC.
            if tx.send(made).is_err() {
                return;
            }
        }
    })?;
    Ok(rx)
}

/// The instance's bridge port in the router namespace: `v` and the id's last 14
/// characters (interface names are at most 15), random hex in EC2's ids.
fn port_name(instance_id: &str) -> String {
    let tail = &instance_id[instance_id.len().saturating_sub(14)..];
    format!("v{tail}")
}

/// Whether security groups can be enforced here: the filter is nftables, loaded with `nft`.
pub fn can_filter_packets() -> bool {
    which("nft").is_some()
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    path.split(':').map(|d| Path::new(d).join(tool)).find(|p| p.is_file())
}

/// The namespace at `path`'s identity (device, inode), while one is mounted there.
fn namespace_identity(path: &Path) -> Option<(u64, u64)> {
    if !is_namespace(path) {
        return None;
    }
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// True when `path` is a namespace bind mount (its device is not its directory's).
fn is_namespace(path: &Path) -> bool {
    let (Ok(me), Some(parent)) = (fs::metadata(path), path.parent()) else { return false };
    fs::metadata(parent).map(|p| p.dev() != me.dev()).unwrap_or(false)
}

/// A new, empty network namespace kept alive by a bind mount at `path` (as `ip netns
/// add` does under /run/netns): replaces whatever namespace was there.
fn make_namespace(path: &Path) -> io::Result<()> {
    remove_namespace(path);
    fs::write(path, "")?;
    let mut arg = std::ffi::OsString::from("--net=");
    arg.push(path);
    run(Command::new("unshare").arg(arg).arg("true"))
}

fn remove_namespace(path: &Path) {
    // More than one mount may be stacked there (a crash mid-make): each goes.
    for _ in 0..8 {
        if !is_namespace(path) {
            break;
        }
        if let Err(e) = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH) {
            tracing::warn!(ns = %path.display(), error = %e, "cannot unmount a network namespace");
            break;
        }
    }
    let _ = fs::remove_file(path);
}

/// `nsenter --net=<ns>`: what follows runs inside the network namespace at `ns`.
fn nsenter(ns: &Path) -> Command {
    let mut arg = std::ffi::OsString::from("--net=");
    arg.push(ns);
    let mut cmd = Command::new("nsenter");
    cmd.arg(arg);
    cmd
}

/// Runs `argv` inside the network namespace at `ns`.
fn in_ns(ns: &Path, argv: &[&str]) -> io::Result<()> {
    run(nsenter(ns).args(argv))
}

/// `ip -batch -` inside `ns`: one process for several changes.
fn ip_batch(ns: &Path, lines: &[String]) -> io::Result<()> {
    let mut ip = nsenter(ns);
    ip.arg("ip");
    ip_batch_in(ip, lines)
}

/// `ip -batch -` run by `ip` (a command that is `ip`, perhaps behind `nsenter`).
fn ip_batch_in(mut ip: Command, lines: &[String]) -> io::Result<()> {
    let mut script = lines.join("\n");
    script.push('\n');
    feed(ip.args(["-batch", "-"]), &script, &format!("ip -batch ({})", lines.join("; ")))
}

/// Runs `cmd` with `input` on its stdin; `what` names it in the error.
fn feed(cmd: &mut Command, input: &str, what: &str) -> io::Result<()> {
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
    child.stdin.take().expect("piped").write_all(input.as_bytes())?;
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{what}: {}", String::from_utf8_lossy(&out.stderr).trim())))
    }
}

fn run(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{:?}: {}",
            cmd.get_args().collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A blocking TCP listener at `addr` inside the namespace at `ns` (root tests).
    pub(in crate::runtime::vpcnet) fn listen_in(
        ns: &Path,
        addr: std::net::SocketAddrV4,
    ) -> std::net::TcpListener {
        use nix::sys::socket::{bind, listen, Backlog, SockaddrIn};
        let fd = spawn_dialer("probe", ns).unwrap().recv().unwrap().unwrap();
        bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(addr)).unwrap();
        listen(&fd, Backlog::new(8).unwrap()).unwrap();
        let listener = std::net::TcpListener::from(fd);
        listener.set_nonblocking(false).unwrap();
        listener
    }

    fn net(vpc: &str, ip: [u8; 4], public: [u8; 4]) -> InstanceNet {
        InstanceNet {
            vpc_id: vpc.into(),
            subnet: Cidr { base: Ipv4Addr::new(ip[0], ip[1], ip[2] & 0xf0, 0), prefix: 20 },
            private_ip: ip.into(),
            public_ip: public.into(),
            has_public_ip: true,
        }
    }

    #[test]
    fn the_router_is_the_subnets_first_address_and_ports_fit_interface_names() {
        assert_eq!(
            net("vpc-1", [172, 31, 17, 9], [127, 1, 0, 2]).router_ip(),
            Ipv4Addr::new(172, 31, 16, 1)
        );
        let port = port_name("i-0123456789abcdef0");
        assert_eq!(port, "v3456789abcdef0");
        assert!(port.len() <= 15);
        assert_eq!(port_name("i-1"), "vi-1");
    }

    /// Needs root, `ip` and network namespaces; makes two instances' namespaces in a
    /// VPC under a temporary dir, checks addresses, routes and reachability from inside
    /// the namespaces only, and removes everything.
    #[test]
    fn two_instances_on_one_bridge_reach_each_other_and_nothing_else() {
        let Some((vpcnet, dir)) = vpcnet_or_skip("shoal-vpcnet") else { return };
        let a = net("vpc-test", [172, 31, 0, 10], [127, 250, 0, 10]);
        let b = net("vpc-test", [172, 31, 0, 11], [127, 250, 0, 11]);
        let ns_a = vpcnet.attach("i-aaaaaaaaaaaaaaaaa", &a).unwrap();
        let ns_b = vpcnet.attach("i-bbbbbbbbbbbbbbbbb", &b).unwrap();
        let out = |ns: &Path, argv: &[&str]| {
            let o = nsenter(ns).args(argv).output().unwrap();
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let addr = out(&ns_a, &["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
        assert!(addr.contains("172.31.0.10/20"), "{addr}");
        let routes = out(&ns_a, &["ip", "-4", "route"]);
        let lines: Vec<&str> = routes.lines().collect();
        assert_eq!(lines.len(), 2, "{routes}");
        assert!(lines.iter().any(|l| l.starts_with("default via 172.31.0.1 dev eth0")), "{routes}");
        assert!(lines.iter().any(|l| l.starts_with("172.31.0.0/20 dev eth0")), "{routes}");
        // b is on a's link, through the bridge.
        let via = out(&ns_a, &["ip", "route", "get", "172.31.0.11"]);
        assert!(via.contains("dev eth0") && !via.contains("via"), "{via}");
        // A listener in b, reached from the router namespace the way the proxy does.
        let listener = listen_in(&ns_b, "172.31.0.11:8080".parse().unwrap());
        let (socket, to) = vpcnet.dial("127.250.0.11:8080".parse().unwrap(), &[]).unwrap().unwrap();
        assert_eq!(to, "172.31.0.11:8080".parse().unwrap());
        socket.set_nonblocking(false).unwrap();
        let to_v4 = nix::sys::socket::SockaddrIn::new(172, 31, 0, 11, 8080);
        nix::sys::socket::connect(std::os::fd::AsRawFd::as_raw_fd(&socket), &to_v4).unwrap();
        let (_conn, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), std::net::IpAddr::V4(Ipv4Addr::new(172, 31, 0, 1)));
        // A load balancer's address on the router: its connections come from it.
        let lb_ip = Ipv4Addr::new(172, 31, 0, 20);
        let wanted = lb::LbAddresses::from([("vpc-test".to_string(), [lb_ip].into())]);
        vpcnet.set_load_balancer_addresses("test-region", wanted).unwrap();
        let bridge =
            out(&vpcnet.router_ns("vpc-test"), &["ip", "-4", "-o", "addr", "show", "dev", BRIDGE]);
        assert!(bridge.contains("172.31.0.20/32"), "{bridge}");
        // Another region's control plane has its own load balancers: these stay.
        vpcnet.set_load_balancer_addresses("other-region", lb::LbAddresses::new()).unwrap();
        let bridge =
            out(&vpcnet.router_ns("vpc-test"), &["ip", "-4", "-o", "addr", "show", "dev", BRIDGE]);
        assert!(bridge.contains("172.31.0.20/32"), "another region took it away: {bridge}");
        let (socket, _) =
            vpcnet.dial("127.250.0.11:8080".parse().unwrap(), &[lb_ip.into()]).unwrap().unwrap();
        socket.set_nonblocking(false).unwrap();
        nix::sys::socket::connect(std::os::fd::AsRawFd::as_raw_fd(&socket), &to_v4).unwrap();
        let (_conn, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), std::net::IpAddr::V4(lb_ip));
        vpcnet.set_load_balancer_addresses("test-region", lb::LbAddresses::new()).unwrap();
        let bridge =
            out(&vpcnet.router_ns("vpc-test"), &["ip", "-4", "-o", "addr", "show", "dev", BRIDGE]);
        assert!(!bridge.contains("172.31.0.20"), "{bridge}");
        assert!(vpcnet.dial("127.250.0.99:80".parse().unwrap(), &[]).is_none());
        // Re-adoption: a second driver over the same dir knows both instances.
        let again = VpcNet::detect(&dir).unwrap();
        assert_eq!(again.attached.lock().unwrap().len(), 2);
        drop(again);
        vpcnet.detach("i-aaaaaaaaaaaaaaaaa");
        assert!(!ns_a.exists());
        assert!(is_namespace(&vpcnet.router_ns("vpc-test")));
        vpcnet.detach("i-bbbbbbbbbbbbbbbbb");
        assert!(!vpcnet.vpc_dir("vpc-test").exists(), "the last instance takes its VPC along");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A VPC network driver over a fresh dir named after `name` and this process, or
    /// `None` (said on stderr) where namespaces cannot be made.
    fn vpcnet_or_skip(name: &str) -> Option<(VpcNet, PathBuf)> {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        match VpcNet::detect(&dir) {
            Ok(n) => Some((n, dir)),
            Err(why) => {
                eprintln!("skipped: {why}");
                let _ = fs::remove_dir_all(&dir);
                None
            }
        }
    }

    /// Once released (the daemon stopping), a VPC pass still in flight makes no router
    /// (nor host link) that nothing would remove.
    #[test]
    fn a_vpc_pass_after_release_makes_nothing() {
        let Some((vpcnet, dir)) = vpcnet_or_skip("shoal-vpcnet-rel") else { return };
        let cidr = Cidr::parse("10.214.0.0/16", "t").unwrap();
        if hostlink::overlapping_host_route(cidr, "none").unwrap().is_some() {
            let _ = fs::remove_dir_all(&dir);
            return eprintln!("skipped: this host routes {cidr}");
        }
        vpcnet.release();
        let late = BTreeMap::from([("vpc-0releasetest001".to_string(), cidr)]);
        vpcnet.set_vpc_networks("test-region", late).unwrap();
        let made = is_namespace(&vpcnet.router_ns("vpc-0releasetest001"));
        if made {
            vpcnet.vpcs_wanted.lock().unwrap().clear();
            vpcnet.remove_vpc_if_unused("vpc-0releasetest001");
        }
        fs::remove_dir_all(&dir).unwrap();
        assert!(!made, "a router was made after release");
    }

    /// The gateway's MAC (the router bridge's) stays what it was made with while
    /// instances come and go, whatever their ports' MACs: their neighbours' ARP entries
    /// for it stay right. Namespaces only, removed at the end.
    #[test]
    fn the_routers_mac_never_changes_as_instances_come_and_go() {
        let Some((vpcnet, dir)) = vpcnet_or_skip("shoal-vpcnet-mac") else { return };
        let router = vpcnet.router_ns("vpc-mac");
        let mac = |port: &str| {
            let o =
                nsenter(&router).args(["ip", "-o", "link", "show", "dev", port]).output().unwrap();
            let line = String::from_utf8_lossy(&o.stdout).into_owned();
            let after = line.split("link/ether ").nth(1).unwrap_or_default().to_string();
            after.split_whitespace().next().unwrap_or_default().to_string()
        };
        vpcnet
            .attach("i-aaaaaaaaaaaaaaaaa", &net("vpc-mac", [172, 31, 0, 10], [127, 250, 0, 12]))
            .unwrap();
        let gateway = mac(BRIDGE);
        assert_eq!(gateway, bridge_mac("vpc-mac"));
        // A port with a MAC below every other: a bridge left to itself would take it.
        let port = port_name("i-aaaaaaaaaaaaaaaaa");
        let lowest = nsenter(&router)
            .args(["ip", "link", "set", &port, "address", "02:00:00:00:00:01"])
            .status()
            .unwrap();
        assert!(lowest.success());
        assert_eq!(mac(BRIDGE), gateway, "a port's MAC became the gateway's");
        vpcnet
            .attach("i-bbbbbbbbbbbbbbbbb", &net("vpc-mac", [172, 31, 0, 11], [127, 250, 0, 13]))
            .unwrap();
        vpcnet.detach("i-aaaaaaaaaaaaaaaaa");
        assert_eq!(mac(BRIDGE), gateway, "the gateway's MAC moved when a port left");
        vpcnet.detach("i-bbbbbbbbbbbbbbbbb");
        fs::remove_dir_all(&dir).unwrap();
    }
}
