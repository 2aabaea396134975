//! Container instances: each instance is an OCI bundle run by `runc` — its own user,
//! PID, mount, UTS, IPC and cgroup namespaces (the host's network namespace, or
//! with `--network vpc` one that `vpcnet` made in the instance's VPC), its own root filesystem (an overlay of its
//! image, read-only, under its disk, copy-on-write), Shoal's init as PID 1, and its
//! type's CPU and memory limits.
//!
//! Root inside is host uid [`HOST_ID_BASE`] outside: images are stored with their owners
//! shifted into that range, so root inside owns its files and host root's files (the
//! daemon's, other instances') are nobody's to it. Why runc and not crun or youki's
//! `libcontainer`: ARCHITECTURE.md, "Instances: isolation".
//!
//! # Layout
//! - this file: host support, [`ContainerDriver`] and its [`Driver`] impl (runc,
//!   overlay mounts, liveness).
//! - `bundle`: the instance's `config.json` ([`bundle_spec`]).
//! - `rootfs`: copying trees, removing whiteouts, shifting owners into the id range.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use shoal_model::ec2::instance::ProcessRecord;

mod bundle;
mod rootfs;

pub use bundle::{bundle_spec, BundleParams};
use rootfs::{copy_preserving, is_mount_point, remove_whiteouts, shift_ids, shifted_base};

use super::cgroup::Cgroups;
use super::init::BootFile;
use super::initkit::InitKit;
use super::layers::{self, LayerStore, Stack};
use super::netacct::NetAccounting;
use super::vpcnet::VpcNet;
use super::{disk, procfs, BootSpec, BoxFuture, Driver, Liveness, NetCounters};

/// Host uid and gid of root inside every container; the 65536 ids above it are the rest.
pub const HOST_ID_BASE: u32 = 100_000;
pub const ID_COUNT: u32 = 65_536;
/// Where an instance's Shoal files (boot.json, control socket, init binary) appear inside.
const SHOAL_DIR_INSIDE: &str = "/run/shoal";
const CPU_PERIOD_US: u64 = 100_000;

/// Runs instances as runc containers under `data_dir/container`.
pub struct ContainerDriver {
    runc: PathBuf,
    /// runc's state directory (`runc --root`): one per data dir, so daemons never share ids.
    runc_root: PathBuf,
    layers: LayerStore,
    instances: PathBuf,
    /// The base image's root filesystem (scripts/build-base-image.sh), ids not yet shifted.
    base_rootfs: PathBuf,
    cgroups: Cgroups,
    /// The cgroup scope name; runc resolves `<scope>/<instance>` against its own cgroup,
    /// which is the daemon's, so its directories are exactly `Cgroups`' ones.
    scope: String,
    net: NetAccounting,
    exe: PathBuf,
    /// The init's loader and libraries, so it starts in images without the host's libc.
    kit: InitKit,
    /// The scope directories runc made in cgroup hierarchies Shoal does not manage (on
    /// v1, every controller's and `name=systemd`'s), removed with the rest on release.
    runc_scopes: std::sync::Mutex<std::collections::BTreeSet<PathBuf>>,
    /// VPC networks (`--network auto` or `vpc`); without them instances share the host's.
    vpcnet: Option<std::sync::Arc<VpcNet>>,
}

/// Whether the data dir holds container instances made on the host's network: their
/// bundles join no network namespace (`--network auto` keeps such a data dir there).
pub fn has_host_network_instances(data_dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(data_dir.join("container").join("instances")) else {
        return false;
    };
    entries.flatten().any(|entry| {
        fs::read_to_string(entry.path().join("config.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .is_some_and(|bundle| {
                !bundle["linux"]["namespaces"]
                    .as_array()
                    .is_some_and(|all| all.iter().any(|ns| ns["type"] == "network"))
            })
    })
}

/// Why this host cannot run container instances, if it cannot.
pub fn host_support(base_rootfs: Option<&Path>) -> Result<(PathBuf, PathBuf), Unsupported> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Unsupported::NotRoot);
    }
    if !Path::new("/proc/self/ns/user").exists() {
        return Err(Unsupported::NoUserNamespaces);
    }
    let max = fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap_or_default();
    if max.trim() == "0" {
        return Err(Unsupported::UserNamespacesDisabled);
    }
    let runc = find_runc()?;
    let base = base_rootfs
        .map(Path::to_path_buf)
        .or_else(find_base_rootfs)
        .ok_or(Unsupported::NoBaseImage)?;
    if !base.join("bin/sh").exists() {
        return Err(Unsupported::NotARootFilesystem(base));
    }
    Ok((runc, base))
}

/// Why this host cannot run container instances (said in the log, `shoal instances`,
/// health and the console; the Python tests match some of these words).
#[derive(Debug, thiserror::Error)]
pub enum Unsupported {
    #[error("the daemon is not root (rootless containers are not supported yet)")]
    NotRoot,
    #[error("the kernel has no user namespaces")]
    NoUserNamespaces,
    #[error("user namespaces are disabled (user.max_user_namespaces = 0)")]
    UserNamespacesDisabled,
    /// `SHOAL_RUNC` names no file.
    #[error("runc is not at {} (SHOAL_RUNC)", .0.display())]
    RuncNotAt(PathBuf),
    #[error("runc is not installed (scripts/setup-runtime.sh)")]
    NoRunc,
    #[error("no base image was built (scripts/build-base-image.sh)")]
    NoBaseImage,
    #[error("{} is not a root filesystem", .0.display())]
    NotARootFilesystem(PathBuf),
    /// The driver could not set itself up (its directories, the shifted image).
    #[error(transparent)]
    Driver(#[from] io::Error),
}

/// `SHOAL_RUNC` if set (a runc of one's own, or a missing one to try the fallback),
/// else the first `runc` on `PATH`.
fn find_runc() -> Result<PathBuf, Unsupported> {
    if let Some(runc) = std::env::var_os("SHOAL_RUNC").filter(|v| !v.is_empty()) {
        let runc = PathBuf::from(runc);
        return if runc.is_file() { Ok(runc) } else { Err(Unsupported::RuncNotAt(runc)) };
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    path.split(':')
        .map(|d| Path::new(d).join("runc"))
        .find(|p| p.is_file())
        .ok_or(Unsupported::NoRunc)
}

/// The newest complete build in scripts/build-base-image.sh's cache.
fn find_base_rootfs() -> Option<PathBuf> {
    let cache = match std::env::var_os("SHOAL_IMAGE_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => dirs::cache_dir()?.join("shoal/images"),
    };
    let mut builds: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(cache)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("complete").exists())
        .filter_map(|p| Some((fs::metadata(p.join("complete")).ok()?.modified().ok()?, p)))
        .collect();
    builds.sort();
    builds.pop().map(|(_, p)| p.join("rootfs"))
}

impl ContainerDriver {
    pub fn new(
        data_dir: &Path,
        exe: PathBuf,
        runc: PathBuf,
        base_rootfs: PathBuf,
    ) -> io::Result<ContainerDriver> {
        let root = data_dir.join("container");
        let (images, instances, runc_root) =
            (root.join("images"), root.join("instances"), root.join("runc"));
        for dir in [&images, &instances, &runc_root] {
            fs::create_dir_all(dir)?;
        }
        // Container root (an unprivileged host uid) must reach its bundle's rootfs and
        // the init binary: runc resolves bind sources inside the user namespace.
        for dir in [data_dir, &root, &instances] {
            let mode = fs::metadata(dir)?.permissions().mode();
            fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o711))?;
        }
        for path in [data_dir.parent(), exe.parent()].into_iter().flatten() {
            if let Some(closed) = path.ancestors().find(|d| {
                fs::metadata(d).map(|m| m.permissions().mode() & 0o001 == 0).unwrap_or(true)
            }) {
                return Err(io::Error::other(format!(
                    "{} is not searchable by others (o+x), so containers cannot reach {}",
                    closed.display(),
                    path.display()
                )));
            }
        }
        let scope =
            format!("shoal-{:08x}", super::process::fnv1a(data_dir.to_string_lossy().as_bytes()));
        let cgroups = Cgroups::detect(&scope);
        let net = NetAccounting::detect(cgroups.v2_scope().map(drop));
        let kit = InitKit::prepare(&exe, &root.join("init-lib"))?;
        let layers = LayerStore::new(&root)?;
        // Containers a previous daemon left running: their scopes are this one's too.
        let runc_scopes = fs::read_dir(&runc_root)?
            .flatten()
            .flat_map(|entry| runc_scope_dirs(&entry.path().join("state.json")))
            .collect();
        Ok(ContainerDriver {
            runc,
            runc_root,
            layers,
            instances,
            base_rootfs,
            cgroups,
            scope,
            net,
            exe,
            kit,
            runc_scopes: std::sync::Mutex::new(runc_scopes),
            vpcnet: None,
        })
    }

    /// Instances get network namespaces of their own in their VPCs.
    pub fn with_vpc_network(mut self, vpcnet: std::sync::Arc<VpcNet>) -> ContainerDriver {
        self.vpcnet = Some(vpcnet);
        self
    }

    fn detach_network(&self, instance_id: &str) {
        if let Some(vpcnet) = &self.vpcnet {
            vpcnet.detach(instance_id);
        }
    }

    fn instance_dir(&self, instance_id: &str) -> PathBuf {
        self.instances.join(instance_id)
    }

    /// The instance's Shoal files, bind-mounted at [`SHOAL_DIR_INSIDE`].
    fn shoal_dir(&self, instance_id: &str) -> PathBuf {
        self.instance_dir(instance_id).join("shoal")
    }

    fn runc(&self) -> Command {
        let mut cmd = Command::new(&self.runc);
        cmd.arg("--root").arg(&self.runc_root).stdin(Stdio::null());
        cmd
    }

    /// Mounts the instance's root: its image under its disk. Where overlayfs is refused,
    /// the disk is a full copy of the image, made once.
    fn mount_root(&self, instance_id: &str) -> io::Result<()> {
        let dir = self.instance_dir(instance_id);
        let merged = dir.join("root");
        if is_mount_point(&merged) || dir.join("copied").exists() {
            return Ok(());
        }
        let lower = self
            .layers
            .instance_lower_dirs(&dir)?
            .iter()
            .map(fs::canonicalize)
            .collect::<io::Result<Vec<_>>>()?;
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        let lowerdir: Vec<String> = lower.iter().map(|p| p.display().to_string()).collect();
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowerdir.join(":"),
            upper.display(),
            work.display()
        );
        match nix::mount::mount(
            Some("overlay"),
            &merged,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(options.as_str()),
        ) {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(instance_id, error = %e, "overlayfs refused: the disk is a full copy of its image");
                // Lowest layer first; overlayfs's whiteouts (deleted files) go with it.
                for layer in lower.iter().rev() {
                    copy_preserving(layer, &merged)?;
                }
                remove_whiteouts(&merged)?;
                fs::write(dir.join("copied"), "")
            }
        }
    }

    fn unmount_root(&self, instance_id: &str) {
        let merged = self.instance_dir(instance_id).join("root");
        if is_mount_point(&merged) {
            if let Err(e) = nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH) {
                tracing::warn!(instance_id, error = %e, "cannot unmount the instance's root");
            }
        }
    }

    /// Forgets a container runc still knows (stopped, or left by a killed daemon).
    fn runc_delete(&self, instance_id: &str) {
        // runc keeps a state directory per container: none, nothing to delete (and one
        // exec of runc saved on every first boot).
        if !self.runc_root.join(instance_id).exists() {
            return;
        }
        let _ = self
            .runc()
            .args(["delete", "--force", instance_id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// The pid runc recorded for the container's init, if runc knows it as running.
    pub fn runc_state_pid(&self, instance_id: &str) -> Option<u32> {
        match self.runc_state(instance_id) {
            RuncState::Running(pid) => Some(pid),
            _ => None,
        }
    }

    /// What `runc state` says of the container.
    fn runc_state(&self, instance_id: &str) -> RuncState {
        let out = match self.runc().args(["state", instance_id]).output() {
            Ok(out) => out,
            Err(e) => return RuncState::Failed(format!("runc state: {e}")),
        };
        parse_runc_state(out.status.success(), &out.stdout, &out.stderr)
    }

    /// Asks runc whether the recorded init is its container's running init.
    fn liveness_by_runc(&self, record: &ProcessRecord) -> Liveness {
        let id = match container_of(&self.runc_root, record.pid) {
            Ok(Some(id)) => id,
            Ok(None) => return Liveness::Gone,
            Err(e) => return Liveness::Unknown(format!("runc state dir: {e}")),
        };
        match self.runc_state(&id) {
            RuncState::Running(pid) if pid == record.pid => Liveness::Alive,
            RuncState::Running(_) | RuncState::Stopped | RuncState::Missing => Liveness::Gone,
            RuncState::Failed(e) => Liveness::Unknown(e),
        }
    }
}

/// [`ContainerDriver::liveness`]'s decision, apart from its two ways of looking.
fn observe_container(
    record: &ProcessRecord,
    by_proc: impl FnOnce() -> Liveness,
    by_runc: impl FnOnce() -> Liveness,
) -> Liveness {
    if record.start_ticks == 0 {
        return by_runc();
    }
    match by_proc() {
        Liveness::Unknown(proc_error) => match by_runc() {
            Liveness::Unknown(runc_error) => {
                Liveness::Unknown(format!("{proc_error}; {runc_error}"))
            }
            seen => seen,
        },
        seen => seen,
    }
}

/// A container as `runc state` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RuncState {
    /// Running, created or paused: its init (this host pid) exists.
    Running(u32),
    Stopped,
    /// runc knows no container of that id.
    Missing,
    /// runc could not be run or answered something else: nothing may be concluded.
    Failed(String),
}

/// The container whose init runc recorded as `pid` (`<runc root>/<id>/state.json`):
/// `Ok(None)` when runc knows no such container.
fn container_of(runc_root: &Path, pid: u32) -> io::Result<Option<String>> {
    for entry in fs::read_dir(runc_root)? {
        let entry = entry?;
        let state = match fs::read(entry.path().join("state.json")) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let state: serde_json::Value = serde_json::from_slice(&state).unwrap_or_default();
        if state["init_process_pid"].as_u64() == Some(pid as u64) {
            return Ok(entry.file_name().to_str().map(str::to_string));
        }
    }
    Ok(None)
}

fn parse_runc_state(success: bool, stdout: &[u8], stderr: &[u8]) -> RuncState {
    if !success {
        let why = String::from_utf8_lossy(stderr);
        if why.contains("does not exist") {
            return RuncState::Missing;
        }
        return RuncState::Failed(format!("runc state: {}", why.trim()));
    }
    let state: serde_json::Value = match serde_json::from_slice(stdout) {
        Ok(v) => v,
        Err(e) => return RuncState::Failed(format!("runc state: {e}")),
    };
    match (state["status"].as_str(), state["pid"].as_u64()) {
        (Some("running" | "created" | "paused"), Some(pid)) if pid > 0 => {
            RuncState::Running(pid as u32)
        }
        (Some("stopped"), _) => RuncState::Stopped,
        (status, _) => RuncState::Failed(format!("runc state: status {status:?}")),
    }
}

impl Driver for ContainerDriver {
    fn ensure_base_image(&self, image_id: &str) -> io::Result<()> {
        let built = match self.layers.image_stack(image_id) {
            Ok(Stack::Layers(ids)) => ids
                .last()
                .is_some_and(|base| self.layers.layer_path(base).join("etc/os-release").exists()),
            Ok(Stack::Legacy(root)) => root.join("etc/os-release").exists(),
            Err(_) => false,
        };
        if built {
            return Ok(());
        }
        // The shifted build is shared by every data dir; instances only ever read it.
        let shifted = shifted_base(&self.base_rootfs)?;
        let layer =
            format!("base-{:08x}", super::process::fnv1a(shifted.to_string_lossy().as_bytes()));
        self.layers.link_image(image_id, &layer, &shifted)
    }

    fn import_image(&self, image_id: &str, source: &Path) -> io::Result<()> {
        self.layers.create_image(image_id, &[], |layer| {
            copy_preserving(source, layer)?;
            shift_ids(layer, HOST_ID_BASE)
        })
    }

    /// Freezes a copy of the instance's own changes (its upper layer) on top of the
    /// stack it runs over; a disk without layers, or a stack grown too deep, is
    /// flattened into one layer instead.
    fn snapshot_disk(&self, instance_id: &str, image_id: &str) -> io::Result<()> {
        let dir = self.instance_dir(instance_id);
        match self.layers.instance_stack(&dir)? {
            Some(stack)
                if stack.len() < layers::MAX_STACK_DEPTH && !dir.join("copied").exists() =>
            {
                self.layers.create_image(image_id, &stack, |layer| {
                    copy_preserving(&dir.join("upper"), layer)
                })
            }
            _ => {
                self.mount_root(instance_id)?;
                let merged = self.disk_path(instance_id);
                self.layers.create_image(image_id, &[], |layer| copy_preserving(&merged, layer))
            }
        }
    }

    fn delete_image(&self, image_id: &str) -> io::Result<()> {
        self.layers.delete_image(image_id)
    }

    fn disk_usage(&self) -> io::Result<layers::DiskUsage> {
        self.layers.usage(|instance_dir| {
            if instance_dir.join("copied").exists() {
                instance_dir.join("root")
            } else {
                instance_dir.join("upper")
            }
        })
    }

    fn prepare_disk(&self, instance_id: &str, image_id: &str) -> io::Result<()> {
        let dir = self.instance_dir(instance_id);
        if dir.join("image").exists() {
            return Ok(()); // a restart of a stopped instance keeps its disk
        }
        self.layers.image_stack(image_id)?;
        for sub in ["root", "upper", "work"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        // The merged root's owner and mode are the upper dir's: root's own `/`.
        let upper = dir.join("upper");
        std::os::unix::fs::chown(&upper, Some(HOST_ID_BASE), Some(HOST_ID_BASE))?;
        fs::set_permissions(&upper, fs::Permissions::from_mode(0o755))?;
        self.layers.attach_instance(&dir, image_id)?;
        fs::write(dir.join("image"), image_id)
    }

    fn delete_disk(&self, instance_id: &str) -> io::Result<()> {
        self.runc_delete(instance_id);
        self.unmount_root(instance_id);
        self.net.forget(instance_id);
        self.cgroups.remove(instance_id);
        self.detach_network(instance_id);
        disk::remove_tree(&self.instance_dir(instance_id))?;
        // Layers only this instance still stood on (its image deregistered) go now.
        self.layers.collect_garbage()
    }

    fn boot(&self, spec: &BootSpec) -> io::Result<ProcessRecord> {
        let id = &spec.instance_id;
        let dir = self.instance_dir(id);
        self.runc_delete(id);
        self.mount_root(id)?;
        // The Shoal dir is fresh every boot (like /run): no stale socket or pid file.
        let shoal = self.shoal_dir(id);
        disk::remove_tree(&shoal)?;
        fs::create_dir_all(&shoal)?;
        std::os::unix::fs::chown(&shoal, Some(HOST_ID_BASE), Some(HOST_ID_BASE))?;
        let inside = Path::new(SHOAL_DIR_INSIDE);
        let user_data = match &spec.user_data {
            Some(bytes) => {
                let path = shoal.join("user-data.txt");
                fs::write(&path, bytes)?;
                std::os::unix::fs::chown(&path, Some(HOST_ID_BASE), Some(HOST_ID_BASE))?;
                Some(inside.join("user-data.txt"))
            }
            None => None,
        };
        let mut env = spec.env.clone();
        env.push(("INSTANCE_ROOT".into(), "/".into()));
        env.push(("SHOAL_BIN".into(), inside.join("shoal").to_string_lossy().into()));
        env.push(("HOME".into(), "/root".into()));
        env.push(("USER".into(), "root".into()));
        env.push((
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ));
        // Debian's `service` runs init scripts with an empty environment (`env -i`); a
        // script that needs the instance's (PRIVATE_IP, SHOAL_BIN) sources this file.
        let exports: String = env
            .iter()
            .map(|(k, v)| format!("export {k}='{}'\n", v.replace('\'', r"'\''")))
            .collect();
        fs::write(shoal.join("env"), exports)?;
        // sshd gets the instance's own port 22 only in its own network namespace.
        let instance_setup = match (&self.vpcnet, &spec.network) {
            (Some(_), Some(_)) => {
                let mut script =
                    super::sshd::setup_script(spec.first_boot, spec.authorized_key.as_deref());
                if let Some(conf) = &spec.resolv_conf {
                    script.push_str(&super::vpcnet::dns::resolv_conf_script(conf));
                }
                let path = shoal.join("instance-setup.sh");
                fs::write(&path, script)?;
                std::os::unix::fs::chown(&path, Some(HOST_ID_BASE), Some(HOST_ID_BASE))?;
                Some(inside.join("instance-setup.sh"))
            }
            _ => None,
        };
        let boot = BootFile {
            instance_id: id.clone(),
            root: "/".into(),
            env,
            user_data,
            instance_setup,
            // runc puts the container in its cgroups before init runs.
            cgroup_procs: Vec::new(),
            stop_grace_ms: spec.stop_grace.as_millis() as u64,
            control_socket: inside.join("control.sock"),
        };
        fs::write(shoal.join("boot.json"), serde_json::to_vec_pretty(&boot)?)?;
        // The init binary is the daemon's own, bind-mounted read-only over this file.
        fs::write(shoal.join("shoal"), "")?;
        fs::create_dir_all(shoal.join("lib"))?;
        let hostname = spec
            .env
            .iter()
            .find(|(k, _)| k == "VPC_PRIVATE_IP")
            .map(|(_, ip)| format!("ip-{}", ip.replace('.', "-")))
            .unwrap_or_else(|| id.clone());
        let netns = match (&self.vpcnet, &spec.network) {
            (Some(vpcnet), Some(net)) => {
                let ns = vpcnet.attach(id, net)?;
                if let Some(rules) = &spec.packet_filter {
                    vpcnet.filter(id, rules)?;
                }
                Some(ns)
            }
            _ => None,
        };
        let config = bundle_spec(&BundleParams {
            instance_id: id,
            hostname: &hostname,
            exe: &self.exe,
            kit: &self.kit,
            shoal_dir: &shoal,
            cgroups_path: &format!("{}/{id}", self.scope),
            vcpus: spec.vcpus,
            memory_mib: spec.memory_mib,
            netns: netns.as_deref(),
        })
        .map_err(io::Error::other)?;
        config.save(dir.join("config.json")).map_err(io::Error::other)?;
        // The v2 accounting dir exists (and counts) before runc puts init in it.
        self.cgroups.create(id, spec.vcpus, spec.memory_mib);
        if let Ok(cg) = self.cgroups.v2_dir(id) {
            self.net.start(id, &cg);
        }
        let console =
            fs::OpenOptions::new().create(true).append(true).open(dir.join("console.log"))?;
        let pid_file = dir.join("init.pid");
        let _ = fs::remove_file(&pid_file);
        // Detached: runc exits once init runs, and init inherits runc's stdout and
        // stderr, the console; runc's own errors go to runc.log.
        let runc_log = dir.join("runc.log");
        let _ = fs::remove_file(&runc_log);
        let status = self
            .runc()
            .arg("--log")
            .arg(&runc_log)
            .arg("run")
            .arg("--detach")
            .arg("--bundle")
            .arg(&dir)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(id)
            .stdout(console.try_clone()?)
            .stderr(console.try_clone()?)
            .status()?;
        if !status.success() {
            let why = fs::read_to_string(&runc_log).unwrap_or_default();
            let why = why.lines().last().unwrap_or("no log").to_string();
            let _ = (&console).write_all(
                format!("[shoal] runc could not start the instance: {why}\n").as_bytes(),
            );
            self.runc_delete(id);
            self.detach_network(id);
            return Err(io::Error::other(format!("runc run: {why}")));
        }
        let scopes = runc_scope_dirs(&self.runc_root.join(id).join("state.json"));
        self.runc_scopes.lock().unwrap_or_else(|e| e.into_inner()).extend(scopes);
        let pid: u32 = fs::read_to_string(&pid_file)?
            .trim()
            .parse()
            .map_err(|_| io::Error::other("runc wrote no pid"))?;
        // 0 if /proc could not be read now (a loaded host): liveness then asks runc.
        let start_ticks = procfs::stat(pid).map(|s| s.start_ticks).unwrap_or(0);
        Ok(ProcessRecord { pid, start_ticks })
    }

    fn is_alive(&self, record: &ProcessRecord) -> bool {
        self.liveness(record) == Liveness::Alive
    }

    /// `/proc` first (cheap, no fork); where it cannot tell (EMFILE on a loaded host,
    /// or a start time boot could not read), runc's own record of its container. Only a
    /// definite "gone" from either may stop the instance.
    fn liveness(&self, record: &ProcessRecord) -> Liveness {
        observe_container(
            record,
            || procfs::observe(record.pid, record.start_ticks),
            || self.liveness_by_runc(record),
        )
    }

    fn shutdown<'a>(
        &'a self,
        instance_id: &'a str,
        record: Option<&'a ProcessRecord>,
        grace: Duration,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // The recorded init, or the one runc knows (a record lost with a crash).
            let init = record.filter(|r| self.is_alive(r)).cloned().or_else(|| {
                let pid = self.runc_state_pid(instance_id)?;
                Some(ProcessRecord { pid, start_ticks: procfs::stat(pid)?.start_ticks })
            });
            if let Some(rec) = &init {
                // init forwards TERM to the instance and KILLs after the grace period.
                let _ = kill(Pid::from_raw(rec.pid as i32), Signal::SIGTERM);
                let deadline = tokio::time::Instant::now() + grace + Duration::from_secs(2);
                while self.is_alive(rec) && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            // Whatever is left: KILL init (its PID namespace dies with it), then by pid.
            let _ = self
                .runc()
                .args(["kill", instance_id, "KILL"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
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
            self.runc_delete(instance_id);
            self.unmount_root(instance_id);
            self.net.forget(instance_id);
            self.cgroups.remove(instance_id);
            self.detach_network(instance_id);
        })
    }

    fn cpu_seconds(&self, instance_id: &str, record: &ProcessRecord) -> Option<f64> {
        if let Some(seconds) = self.cgroups.cpu_seconds(instance_id) {
            return Some(seconds);
        }
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
        pids.retain(|p| *p != std::process::id());
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    fn console_output(&self, instance_id: &str) -> Vec<u8> {
        fs::read(self.instance_dir(instance_id).join("console.log")).unwrap_or_default()
    }

    fn control_socket(&self, instance_id: &str) -> PathBuf {
        self.shoal_dir(instance_id).join("control.sock")
    }

    fn disk_path(&self, instance_id: &str) -> PathBuf {
        self.instance_dir(instance_id).join("root")
    }

    fn isolation(&self) -> String {
        let network = match &self.vpcnet {
            Some(vpcnet) => vpcnet.describe(),
            None => "host network".into(),
        };
        format!(
            "containers ({}; user/pid/mount/uts/ipc/cgroup namespaces, root inside = uid {HOST_ID_BASE} outside, {network}); {}; {}",
            self.runc.display(),
            self.cgroups.describe(),
            self.net.describe()
        )
    }

    fn release(&self) {
        self.cgroups.remove_scope();
        let scopes = self.runc_scopes.lock().unwrap_or_else(|e| e.into_inner());
        for dir in scopes.iter() {
            // Fails while an instance still runs in it: that one keeps its cgroups.
            let _ = fs::remove_dir(dir);
        }
        if let Some(vpcnet) = &self.vpcnet {
            vpcnet.release();
        }
    }

    fn vpc_network(&self) -> bool {
        self.vpcnet.is_some()
    }

    fn packet_filter(&self, instance_id: &str, ruleset: &serde_json::Value) -> io::Result<bool> {
        match &self.vpcnet {
            Some(vpcnet) => vpcnet.filter(instance_id, ruleset),
            None => Ok(false),
        }
    }

    fn network_identity(&self, instance_id: &str) -> Option<(u64, u64)> {
        self.vpcnet.as_ref()?.metadata_endpoint(instance_id).map(|e| e.identity)
    }

    fn vpc_networks(
        &self,
        region: &str,
        vpcs: &std::collections::BTreeMap<String, shoal_model::ec2::Cidr>,
    ) -> io::Result<()> {
        match &self.vpcnet {
            Some(vpcnet) => vpcnet.set_vpc_networks(region, vpcs.clone()),
            None => Ok(()),
        }
    }

    fn vpc_network_identity(&self, vpc_id: &str) -> Option<(u64, u64)> {
        self.vpcnet.as_ref()?.router_namespace(vpc_id).map(|r| r.identity)
    }

    fn load_balancer_addresses(
        &self,
        region: &str,
        by_vpc: &std::collections::BTreeMap<String, std::collections::BTreeSet<std::net::Ipv4Addr>>,
    ) -> io::Result<()> {
        match &self.vpcnet {
            Some(vpcnet) => vpcnet.set_load_balancer_addresses(region, by_vpc.clone()),
            None => Ok(()),
        }
    }

    fn listen_for_dns(
        &self,
        vpc_id: &str,
        addr: std::net::Ipv4Addr,
    ) -> io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
        match self.vpcnet.as_ref().and_then(|v| v.router_namespace(vpc_id)) {
            Some(router) => super::vpcnet::dns::listen(&router.ns, addr),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "the VPC has no network yet")),
        }
    }

    fn listen_for_metadata(&self, instance_id: &str) -> io::Result<std::net::TcpListener> {
        let endpoint = self.vpcnet.as_ref().and_then(|v| v.metadata_endpoint(instance_id));
        match endpoint {
            Some(e) => super::vpcnet::imds::listen(&e.ns),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "the instance has no network yet")),
        }
    }
}

/// The parents of the cgroups runc recorded for a container (`cgroup_paths` in its
/// `state.json`): this daemon's scope in each hierarchy.
fn runc_scope_dirs(state_json: &Path) -> Vec<PathBuf> {
    let state: serde_json::Value =
        fs::read(state_json).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let Some(paths) = state["cgroup_paths"].as_object() else { return Vec::new() };
    paths
        .values()
        .filter_map(|p| Some(Path::new(p.as_str()?).parent()?.to_path_buf()))
        .filter(|p| p.starts_with("/sys/fs/cgroup"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(dir: &Path, id: &str, namespaces: &[&str]) {
        let instance = dir.join("container").join("instances").join(id);
        fs::create_dir_all(&instance).unwrap();
        let namespaces: Vec<_> =
            namespaces.iter().map(|t| serde_json::json!({ "type": t })).collect();
        let config = serde_json::json!({ "linux": { "namespaces": namespaces } });
        fs::write(instance.join("config.json"), config.to_string()).unwrap();
    }

    #[test]
    fn a_data_dir_with_a_host_network_container_keeps_the_host_network() {
        let dir = std::env::temp_dir().join(format!("shoal-network-kept-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert!(!has_host_network_instances(&dir), "no instances: nothing to keep");
        bundle(&dir, "i-0000000000000001", &["pid", "mount", "network"]);
        assert!(!has_host_network_instances(&dir), "an instance in its own network");
        bundle(&dir, "i-0000000000000002", &["pid", "mount"]);
        assert!(has_host_network_instances(&dir), "an instance on the host's network");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn runc_scopes_are_the_parents_of_the_cgroups_it_recorded() {
        let dir = std::env::temp_dir().join(format!("shoal-runc-state-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let state = dir.join("state.json");
        fs::write(
            &state,
            r#"{"cgroup_paths": {
                "cpu": "/sys/fs/cgroup/cpu,cpuacct/shoal-1234abcd/i-1",
                "name=systemd": "/sys/fs/cgroup/systemd/user.slice/shoal-1234abcd/i-1",
                "bogus": "/etc/i-1"
            }}"#,
        )
        .unwrap();
        let mut scopes = runc_scope_dirs(&state);
        scopes.sort();
        assert_eq!(
            scopes,
            [
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/shoal-1234abcd"),
                PathBuf::from("/sys/fs/cgroup/systemd/user.slice/shoal-1234abcd")
            ]
        );
        assert!(runc_scope_dirs(&dir.join("missing.json")).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_runc_state_without_guessing() {
        let ok = |json: &str| parse_runc_state(true, json.as_bytes(), b"");
        assert_eq!(ok(r#"{"id":"i-1","pid":4242,"status":"running"}"#), RuncState::Running(4242));
        assert_eq!(ok(r#"{"id":"i-1","pid":4242,"status":"paused"}"#), RuncState::Running(4242));
        assert_eq!(ok(r#"{"id":"i-1","pid":0,"status":"stopped"}"#), RuncState::Stopped);
        assert!(matches!(ok("garbage"), RuncState::Failed(_)));
        let missing = parse_runc_state(false, b"", b"container does not exist\n");
        assert_eq!(missing, RuncState::Missing);
        let failed = parse_runc_state(false, b"", b"open /run: too many open files\n");
        assert!(matches!(failed, RuncState::Failed(_)));
    }

    #[test]
    fn finds_the_container_runc_recorded_for_a_pid() {
        let root = std::env::temp_dir().join(format!("shoal-runc-root-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for (id, pid) in [("i-aaa", 41), ("i-bbb", 42)] {
            fs::create_dir_all(root.join(id)).unwrap();
            let state = serde_json::json!({"id": id, "init_process_pid": pid});
            fs::write(root.join(id).join("state.json"), state.to_string()).unwrap();
        }
        fs::create_dir_all(root.join("half-made")).unwrap();
        assert_eq!(container_of(&root, 42).unwrap().as_deref(), Some("i-bbb"));
        assert_eq!(container_of(&root, 43).unwrap(), None);
        fs::remove_dir_all(&root).unwrap();
        assert!(container_of(&root, 42).is_err(), "an unreadable root is no answer");
    }

    #[test]
    fn a_failed_look_at_proc_asks_runc_and_only_a_definite_answer_counts() {
        use Liveness::*;
        let rec = |start_ticks| ProcessRecord { pid: 4242, start_ticks };
        let unknown = || Unknown("Too many open files (os error 24)".into());
        let not_asked = || -> Liveness { panic!("runc is not asked when /proc answers") };
        assert_eq!(observe_container(&rec(9), || Alive, not_asked), Alive);
        assert_eq!(observe_container(&rec(9), || Gone, not_asked), Gone);
        assert_eq!(observe_container(&rec(9), unknown, || Alive), Alive);
        assert_eq!(observe_container(&rec(9), unknown, || Gone), Gone);
        let both = observe_container(&rec(9), unknown, || Unknown("runc state: EAGAIN".into()));
        assert!(matches!(&both, Unknown(e) if e.contains("open files") && e.contains("EAGAIN")));
        // No start time recorded: /proc cannot tell the init from a reused pid; runc can.
        let proc_not_asked = || -> Liveness { panic!("no start time to compare") };
        assert_eq!(observe_container(&rec(0), proc_not_asked, || Alive), Alive);
    }
}
