//! Instances as real processes: their disks, their init process, CPU accounting.
//!
//! Controllers see the [`Driver`] trait only, so their tests and the simulator can use
//! [`fake::FakeDriver`] while the daemon uses [`process::ProcessDriver`].
//! Architecture invariant: processes are tracked and signalled by recorded PID (checked
//! against its start time) or cgroup membership — never by name.

pub mod cgroup;
pub mod disk;
pub mod fake;
pub mod init;
pub mod process;
pub mod procfs;
pub mod stress;

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
    /// Starts the instance's init; returns it for re-adoption after a daemon restart.
    fn boot(&self, spec: &BootSpec) -> io::Result<ProcessRecord>;
    /// True while the recorded init is alive (and is the same process).
    fn is_alive(&self, record: &ProcessRecord) -> bool;
    /// Stops every process of the instance: TERM, the grace period, then KILL.
    fn shutdown<'a>(
        &'a self,
        instance_id: &'a str,
        record: Option<&'a ProcessRecord>,
        grace: Duration,
    ) -> BoxFuture<'a, ()>;
    /// CPU seconds used by the instance since it booted, if it can be measured.
    fn cpu_seconds(&self, instance_id: &str, record: &ProcessRecord) -> Option<f64>;
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
}
