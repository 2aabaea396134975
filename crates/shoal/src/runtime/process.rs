//! The real driver: each instance is a tree of host processes under its own init,
//! in its own directory and cgroup, bound to its own loopback address, its traffic
//! counted by BPF programs on its cgroup (`netacct`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use shoal_model::ec2::instance::ProcessRecord;

use super::cgroup::Cgroups;
use super::init::BootFile;
use super::netacct::NetAccounting;
use super::{disk, procfs, BootSpec, BoxFuture, Driver, NetCounters};

/// Runs instances as processes under `data_dir`.
pub struct ProcessDriver {
    images: PathBuf,
    instances: PathBuf,
    cgroups: Cgroups,
    net: NetAccounting,
    exe: PathBuf,
}

impl ProcessDriver {
    /// `exe` is the `shoal` binary that serves as every instance's init.
    pub fn new(data_dir: &Path, exe: PathBuf, use_cgroups: bool) -> io::Result<ProcessDriver> {
        let images = data_dir.join("images");
        let instances = data_dir.join("instances");
        fs::create_dir_all(&images)?;
        fs::create_dir_all(&instances)?;
        let cgroups = if use_cgroups {
            // One scope per data dir, so several daemons (test suites) never share cgroups.
            let scope = format!("shoal-{:08x}", fnv1a(data_dir.to_string_lossy().as_bytes()));
            Cgroups::detect(&scope)
        } else {
            Cgroups::Unavailable("disabled by --no-cgroups".into())
        };
        let net = NetAccounting::detect(cgroups.v2_scope().map(drop));
        Ok(ProcessDriver { images, instances, cgroups, net, exe })
    }

    /// Where instances' cgroups live.
    pub fn cgroups(&self) -> &Cgroups {
        &self.cgroups
    }

    /// Whether instances' network traffic is counted, or why not.
    pub fn network_accounting(&self) -> Result<(), &str> {
        self.net.status()
    }

    fn image_root(&self, image_id: &str) -> PathBuf {
        self.images.join(image_id).join("root")
    }

    fn instance_dir(&self, instance_id: &str) -> PathBuf {
        self.instances.join(instance_id)
    }
}

pub(crate) fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c9dc5u32, |h, b| (h ^ *b as u32).wrapping_mul(0x01000193))
}

impl Driver for ProcessDriver {
    fn ensure_base_image(&self, image_id: &str) -> io::Result<()> {
        let root = self.image_root(image_id);
        if root.join("etc/os-release").exists() {
            return Ok(());
        }
        disk::write_base_image(&root)
    }

    fn import_image(&self, image_id: &str, source: &Path) -> io::Result<()> {
        disk::copy_tree(source, &self.image_root(image_id))
    }

    fn snapshot_disk(&self, instance_id: &str, image_id: &str) -> io::Result<()> {
        let target = self.image_root(image_id);
        disk::remove_tree(&target)?;
        disk::copy_tree(&self.disk_path(instance_id), &target)
    }

    fn delete_image(&self, image_id: &str) -> io::Result<()> {
        disk::remove_tree(&self.images.join(image_id))
    }

    /// Process instances share nothing: each image is one full copy, each disk another.
    fn disk_usage(&self) -> io::Result<super::layers::DiskUsage> {
        use super::layers::{tree_bytes, DiskUsage, ImageUsage, InstanceUsage, LayerUsage};
        let mut usage = DiskUsage::default();
        for entry in fs::read_dir(&self.images)? {
            let image_id = entry?.file_name().to_string_lossy().into_owned();
            let bytes = tree_bytes(&self.image_root(&image_id))?;
            usage.layers.push(LayerUsage {
                id: image_id.clone(),
                bytes,
                images: vec![image_id.clone()],
                instances: 0,
            });
            usage.images.push(ImageUsage {
                layers: vec![image_id.clone()],
                image_id,
                unique_bytes: bytes,
            });
        }
        for entry in fs::read_dir(&self.instances)? {
            let instance_id = entry?.file_name().to_string_lossy().into_owned();
            let bytes = tree_bytes(&self.disk_path(&instance_id))?;
            usage.instances.push(InstanceUsage { instance_id, bytes, layers: vec![] });
        }
        Ok(usage)
    }

    fn prepare_disk(&self, instance_id: &str, image_id: &str) -> io::Result<()> {
        let root = self.disk_path(instance_id);
        if root.exists() {
            return Ok(()); // a restart of a stopped instance keeps its disk
        }
        let image = self.image_root(image_id);
        if !image.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("image {image_id} has no disk"),
            ));
        }
        disk::copy_tree(&image, &root)
    }

    fn delete_disk(&self, instance_id: &str) -> io::Result<()> {
        self.net.forget(instance_id);
        self.cgroups.remove(instance_id);
        disk::remove_tree(&self.instance_dir(instance_id))
    }

    fn boot(&self, spec: &BootSpec) -> io::Result<ProcessRecord> {
        let dir = self.instance_dir(&spec.instance_id);
        let root = self.disk_path(&spec.instance_id);
        // /run is a tmpfs on Linux: empty at every boot, so no stale pid file survives a
        // stop, a reboot or an image.
        let run = root.join("run");
        disk::remove_tree(&run)?;
        fs::create_dir_all(&run)?;
        let user_data = match &spec.user_data {
            Some(bytes) => {
                let path = root.join("var/lib/cloud/instance/user-data.txt");
                fs::create_dir_all(path.parent().expect("has parent"))?;
                fs::write(&path, bytes)?;
                Some(path)
            }
            None => None,
        };
        let mut env = spec.env.clone();
        env.push(("INSTANCE_ROOT".into(), root.to_string_lossy().into()));
        env.push(("SHOAL_BIN".into(), self.exe.to_string_lossy().into()));
        env.push(("HOME".into(), root.to_string_lossy().into()));
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        env.push(("PATH".into(), format!("{}:{path}", root.join("bin").display())));
        let cgroup_procs = self.cgroups.create(&spec.instance_id, spec.vcpus, spec.memory_mib);
        // Counting starts before init joins the cgroup, so every packet is counted.
        if let Ok(dir) = self.cgroups.v2_dir(&spec.instance_id) {
            self.net.start(&spec.instance_id, &dir);
        }
        let boot = BootFile {
            instance_id: spec.instance_id.clone(),
            root,
            env,
            user_data,
            // Host processes share the host's sshd and port 22: no sshd of their own.
            instance_setup: None,
            cgroup_procs,
            stop_grace_ms: spec.stop_grace.as_millis() as u64,
            control_socket: self.control_socket(&spec.instance_id),
        };
        fs::write(dir.join("boot.json"), serde_json::to_vec_pretty(&boot)?)?;
        let console =
            fs::OpenOptions::new().create(true).append(true).open(dir.join("console.log"))?;
        let mut child = Command::new(&self.exe)
            .arg("instance-init")
            .arg(&dir)
            .env("SHOAL_INSTANCE_ID", &spec.instance_id)
            .stdin(Stdio::null())
            .stdout(console.try_clone()?)
            .stderr(console)
            .spawn()?;
        let pid = child.id();
        // The daemon must reap its own child; after a daemon restart the init is
        // adopted by pid and nobody here waits on it.
        std::thread::Builder::new().name(format!("reap-{pid}")).spawn(move || child.wait())?;
        let start_ticks = procfs::stat(pid).map(|s| s.start_ticks).unwrap_or(0);
        Ok(ProcessRecord { pid, start_ticks })
    }

    fn is_alive(&self, record: &ProcessRecord) -> bool {
        procfs::is_same_process(record.pid, record.start_ticks)
    }

    fn liveness(&self, record: &ProcessRecord) -> super::Liveness {
        procfs::observe(record.pid, record.start_ticks)
    }

    fn shutdown<'a>(
        &'a self,
        instance_id: &'a str,
        record: Option<&'a ProcessRecord>,
        grace: Duration,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(rec) = record.filter(|r| self.is_alive(r)) {
                let _ = kill(Pid::from_raw(rec.pid as i32), Signal::SIGTERM);
                // init forwards TERM to the instance and KILLs after the grace period.
                let deadline = tokio::time::Instant::now() + grace + Duration::from_secs(2);
                while self.is_alive(rec) && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            // Whatever is left (init killed, daemon restarted, escaped processes): KILL
            // by pid until none remain.
            for _ in 0..50 {
                let pids = self.pids(instance_id, record);
                if pids.is_empty() {
                    break;
                }
                for pid in pids {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // A stopped instance holds no cgroup (the next boot makes a fresh one), so a
            // daemon stopped with only stopped instances leaves no scope behind.
            self.net.forget(instance_id);
            self.cgroups.remove(instance_id);
        })
    }

    fn cpu_seconds(&self, instance_id: &str, record: &ProcessRecord) -> Option<f64> {
        if let Some(seconds) = self.cgroups.cpu_seconds(instance_id) {
            return Some(seconds);
        }
        // Without a cgroup: own + reaped-children time over the live tree. init reaps
        // every orphan, so exited processes' time stays counted in its children_ticks.
        let tree = procfs::tree(record.pid, &procfs::all());
        let ticks: u64 = tree.iter().map(|p| p.own_ticks + p.children_ticks).sum();
        Some(ticks as f64 / procfs::ticks_per_second())
    }

    fn network(&self, instance_id: &str) -> Option<NetCounters> {
        self.net.read(instance_id, self.cgroups.v2_dir(instance_id).ok().as_deref())
    }

    fn pids(&self, instance_id: &str, record: Option<&ProcessRecord>) -> Vec<u32> {
        let mut pids = self.cgroups.pids(instance_id);
        if let Some(rec) = record.filter(|r| self.is_alive(r)) {
            pids.extend(
                procfs::tree(rec.pid, &procfs::all()).iter().filter(|p| !p.zombie).map(|p| p.pid),
            );
        }
        pids.extend(procfs::with_instance_marker(instance_id));
        pids.retain(|p| *p != std::process::id());
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    fn console_output(&self, instance_id: &str) -> Vec<u8> {
        fs::read(self.instance_dir(instance_id).join("console.log")).unwrap_or_default()
    }

    fn control_socket(&self, instance_id: &str) -> PathBuf {
        self.instance_dir(instance_id).join("control.sock")
    }

    fn disk_path(&self, instance_id: &str) -> PathBuf {
        self.instance_dir(instance_id).join("root")
    }

    fn isolation(&self) -> String {
        format!("{}; {}", self.cgroups.describe(), self.net.describe())
    }

    fn release(&self) {
        self.cgroups.remove_scope();
    }
}
