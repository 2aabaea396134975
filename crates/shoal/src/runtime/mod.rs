//! Instances as runc containers ([`oci`], images as stacks of layers in [`layers`], an
//! init that boots in any image through [`initkit`], VPC networks in [`vpcnet`]) or as
//! host process trees ([`process`]): their disks, their init process, CPU and network
//! accounting.
//!
//! Controllers see the [`Driver`] trait only, so their tests and the simulator can use
//! [`fake::FakeDriver`] while the daemon uses [`oci::ContainerDriver`] or
//! [`process::ProcessDriver`], as `--isolation` chooses.
//! Architecture invariant: processes are tracked and signalled by recorded PID (checked
//! against its start time) or cgroup membership — never by name.

pub mod cgroup;
pub mod cloudinit;
pub mod disk;
pub mod fake;
pub mod init;
pub mod initkit;
pub mod layers;
pub mod netacct;
pub mod oci;
pub mod process;
pub mod procfs;
pub mod sshd;
pub mod stress;
pub mod unpack;
pub mod vpcnet;

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use shoal_model::ec2::instance::ProcessRecord;

/// What booting an instance needs.
#[derive(Debug, Clone)]
pub struct BootSpec {
    pub instance_id: String,
    pub env: Vec<(String, String)>,
    /// Decoded user data, given on the first boot only.
    pub user_data: Option<Vec<u8>>,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub stop_grace: Duration,
    /// Its place in its VPC, for a driver that gives instances VPC networks
    /// ([`Driver::vpc_network`]); others ignore it.
    pub network: Option<vpcnet::InstanceNet>,
    /// Its security groups as an nftables ruleset (`ec2::packet_filter`), loaded into
    /// its network before it starts, with `network`.
    pub packet_filter: Option<serde_json::Value>,
    /// Its VPC's resolver, written to its `/etc/resolv.conf` at boot, with `network`.
    pub resolv_conf: Option<vpcnet::dns::ResolvConf>,
    /// Its first boot (cloud-init's per-instance steps run, as [`sshd`]'s key install).
    pub first_boot: bool,
    /// The launch's key pair (OpenSSH public key), for the image's default user.
    pub authorized_key: Option<String>,
}

/// An instance's network traffic since counting began (its boot, or the daemon's
/// adoption of it after a restart): what EC2 reports as `NetworkIn`/`NetworkOut`
/// (bytes on all interfaces) and `NetworkPacketsIn`/`NetworkPacketsOut`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetCounters {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub packets_out: u64,
}

impl NetCounters {
    /// The traffic since `earlier`. Counters that went backwards were restarted (a
    /// reboot, a re-attach), so everything counted is new.
    pub fn since(self, earlier: NetCounters) -> NetCounters {
        let fresh = self.bytes_in < earlier.bytes_in
            || self.bytes_out < earlier.bytes_out
            || self.packets_in < earlier.packets_in
            || self.packets_out < earlier.packets_out;
        if fresh {
            return self;
        }
        NetCounters {
            bytes_in: self.bytes_in - earlier.bytes_in,
            bytes_out: self.bytes_out - earlier.bytes_out,
            packets_in: self.packets_in - earlier.packets_in,
            packets_out: self.packets_out - earlier.packets_out,
        }
    }
}

/// What looking at an instance's recorded init found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// The recorded init is alive and is the same process.
    Alive,
    /// The recorded init is dead (or its pid now belongs to another process).
    Gone,
    /// The observation failed (out of file descriptors, permission, …): the init may
    /// well be alive, so nothing may be concluded from it. Carries the error, for logs.
    Unknown(String),
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Starts, stops and watches instances, and keeps their disks.
pub trait Driver: Send + Sync + 'static {
    /// Creates the built-in base image's root if missing.
    fn ensure_base_image(&self, image_id: &str) -> io::Result<()>;
    /// Makes an image from a local directory (`shoal image import`).
    fn import_image(&self, image_id: &str, source: &std::path::Path) -> io::Result<()>;
    /// Copies an instance's disk into a new image (CreateImage).
    fn snapshot_disk(&self, instance_id: &str, image_id: &str) -> io::Result<()>;
    fn delete_image(&self, image_id: &str) -> io::Result<()>;
    /// Gives an instance its disk: a copy of its image (first launch only).
    fn prepare_disk(&self, instance_id: &str, image_id: &str) -> io::Result<()>;
    fn delete_disk(&self, instance_id: &str) -> io::Result<()>;
    /// The bytes images and instance disks take, and which layers they share.
    fn disk_usage(&self) -> io::Result<layers::DiskUsage> {
        Ok(layers::DiskUsage::default())
    }
    /// Starts the instance's init; returns it for re-adoption after a daemon restart.
    fn boot(&self, spec: &BootSpec) -> io::Result<ProcessRecord>;
    /// True while the recorded init is alive (and is the same process).
    fn is_alive(&self, record: &ProcessRecord) -> bool;
    /// Like [`Driver::is_alive`], but tells a dead init from one that could not be
    /// observed. Controllers decide on this; the default suits drivers whose
    /// observation cannot fail.
    fn liveness(&self, record: &ProcessRecord) -> Liveness {
        if self.is_alive(record) {
            Liveness::Alive
        } else {
            Liveness::Gone
        }
    }
    /// Stops every process of the instance: TERM, the grace period, then KILL.
    fn shutdown<'a>(
        &'a self,
        instance_id: &'a str,
        record: Option<&'a ProcessRecord>,
        grace: Duration,
    ) -> BoxFuture<'a, ()>;
    /// CPU seconds used by the instance since it booted, if it can be measured.
    fn cpu_seconds(&self, instance_id: &str, record: &ProcessRecord) -> Option<f64>;
    /// Network traffic of the instance since counting began, if it can be measured.
    fn network(&self, _instance_id: &str) -> Option<NetCounters> {
        None
    }
    /// Every live process of the instance.
    fn pids(&self, instance_id: &str, record: Option<&ProcessRecord>) -> Vec<u32>;
    /// The console output captured so far (GetConsoleOutput).
    fn console_output(&self, instance_id: &str) -> Vec<u8>;
    /// The socket `shoal ssh` connects to, and the disk path users see.
    fn control_socket(&self, instance_id: &str) -> PathBuf;
    fn disk_path(&self, instance_id: &str) -> PathBuf;
    /// How limits are enforced, for humans.
    fn isolation(&self) -> String;
    /// The daemon is stopping: release what the driver holds for itself (its empty
    /// cgroup scope). Instances still running are left alone.
    fn release(&self) {}
    /// True when instances get VPC networks (`--network vpc`): each in its own network
    /// namespace at its private address, which its processes bind.
    fn vpc_network(&self) -> bool {
        false
    }
    /// Loads the instance's security groups (an nftables ruleset) into its own network
    /// unless it is what was loaded last; true when loaded. Drivers without VPC
    /// networks have nothing to filter.
    fn packet_filter(&self, _instance_id: &str, _ruleset: &serde_json::Value) -> io::Result<bool> {
        Ok(false)
    }
    /// The identity of the instance's own network (its namespace's device and inode),
    /// while it has one: a reboot makes a new one, where a listener must be made again.
    fn network_identity(&self, _instance_id: &str) -> Option<(u64, u64)> {
        None
    }
    /// A listener on the Instance Metadata Service's address (169.254.169.254:80) inside
    /// the instance's own network, non-blocking. Drivers without VPC networks have none.
    fn listen_for_metadata(&self, _instance_id: &str) -> io::Result<std::net::TcpListener> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "instances have no network of their own"))
    }
    /// The VPCs of `region` (id → CIDR): each gets its network (router and the host's
    /// route to it) while Shoal runs; a VPC left out loses it once it has no instance.
    /// Drivers without VPC networks have none to make.
    fn vpc_networks(
        &self,
        _region: &str,
        _vpcs: &std::collections::BTreeMap<String, shoal_model::ec2::Cidr>,
    ) -> io::Result<()> {
        Ok(())
    }
    /// The identity of the VPC's own network (its router), while it has one.
    fn vpc_network_identity(&self, _vpc_id: &str) -> Option<(u64, u64)> {
        None
    }
    /// Puts each load balancer interface's private address of `region` (by VPC) on
    /// its VPC's network, where the load balancer's connections to targets come from.
    /// Drivers without VPC networks have nowhere to put them.
    fn load_balancer_addresses(
        &self,
        _region: &str,
        _by_vpc: &std::collections::BTreeMap<
            String,
            std::collections::BTreeSet<std::net::Ipv4Addr>,
        >,
    ) -> io::Result<()> {
        Ok(())
    }
    /// A UDP socket and a TCP listener on `addr:53` inside the VPC's network (the
    /// VPC's DNS resolver), non-blocking.
    fn listen_for_dns(
        &self,
        _vpc_id: &str,
        _addr: std::net::Ipv4Addr,
    ) -> io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "instances have no network of their own"))
    }
}

#[cfg(test)]
mod tests {
    use super::NetCounters;

    fn c(bytes_in: u64, bytes_out: u64, packets_in: u64, packets_out: u64) -> NetCounters {
        NetCounters { bytes_in, bytes_out, packets_in, packets_out }
    }

    #[test]
    fn traffic_since_an_earlier_reading() {
        for (now, earlier, want) in [
            (c(500, 900, 5, 9), c(100, 300, 1, 3), c(400, 600, 4, 6)),
            (c(500, 900, 5, 9), c(500, 900, 5, 9), c(0, 0, 0, 0)),
            // Restarted counters: all of it is new.
            (c(40, 900, 2, 9), c(100, 300, 1, 3), c(40, 900, 2, 9)),
            (c(40, 90, 2, 3), NetCounters::default(), c(40, 90, 2, 3)),
        ] {
            assert_eq!(now.since(earlier), want, "{now:?} since {earlier:?}");
        }
    }
}
