//! Per-instance cgroups: a CPU quota of the instance type's vCPUs, a memory limit, and
//! exact CPU accounting. Works with cgroup v2, or v1's `cpu`, `cpuacct` and `memory`
//! controllers; where the OS refuses, limits are recorded but not enforced and CPU is
//! accounted from the process tree instead.
//!
//! Network accounting (`netacct`) needs a cgroup v2 directory per instance: on pure v2
//! it is the instance's cgroup; on a hybrid host (v1 controllers, cgroup2 at
//! `/sys/fs/cgroup/unified`) the instance also gets a controller-less v2 cgroup there,
//! under the same scope name, which its init joins alongside the v1 ones.

use std::fs;
use std::path::{Path, PathBuf};

/// Why instances have no cgroup v2 directory (so no network accounting).
#[derive(Debug, Clone, thiserror::Error)]
pub enum NoCgroup2 {
    /// cgroup v1 without a writable unified (v2) hierarchy beside it.
    #[error("no writable cgroup2 hierarchy")]
    NoUnified,
    /// No cgroups at all (`--no-cgroups`, or none mounted), and why.
    #[error("no cgroups: {0}")]
    NoCgroups(String),
}

const PERIOD_US: u64 = 100_000;

/// Where the daemon may create cgroups, found once at start.
#[derive(Debug, Clone)]
pub enum Cgroups {
    V2 {
        base: PathBuf,
    },
    V1 {
        cpu: Option<PathBuf>,
        cpuacct: Option<PathBuf>,
        memory: Option<PathBuf>,
        /// The scope in the hybrid host's cgroup2 hierarchy, for network accounting.
        unified: Option<PathBuf>,
    },
    Unavailable(String),
}

impl Cgroups {
    /// Finds a writable place named `scope` under this process's own cgroups.
    pub fn detect(scope: &str) -> Cgroups {
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let path_of = |controller: &str| {
            own.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                ctrls
                    .split(',')
                    .any(|c| c == controller)
                    .then(|| path.trim_start_matches('/').to_string())
            })
        };
        let try_dir = |dir: PathBuf| fs::create_dir_all(&dir).ok().map(|_| dir);
        if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            let own_path = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("/");
            let base =
                Path::new("/sys/fs/cgroup").join(own_path.trim_start_matches('/')).join(scope);
            return match try_dir(base) {
                Some(base) => {
                    // Enable controllers for the instance cgroups below.
                    let _ = fs::write(base.join("cgroup.subtree_control"), "+cpu +memory");
                    Cgroups::V2 { base }
                }
                None => Cgroups::Unavailable("cgroup v2 is not writable".into()),
            };
        }
        let v1 = |controller: &str| {
            let mount = Path::new("/sys/fs/cgroup").join(controller);
            if !mount.join("tasks").exists() {
                return None;
            }
            try_dir(mount.join(path_of(controller).unwrap_or_default()).join(scope))
        };
        let (cpu, cpuacct, memory) = (v1("cpu"), v1("cpuacct"), v1("memory"));
        // Hybrid: cgroup2 mounted beside the v1 controllers (systemd's layout).
        let hybrid = Path::new("/sys/fs/cgroup/unified");
        let unified = hybrid.join("cgroup.controllers").exists().then(|| {
            let own_path = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("/");
            try_dir(hybrid.join(own_path.trim_start_matches('/')).join(scope))
        });
        let unified = unified.flatten();
        if cpu.is_none() && cpuacct.is_none() && memory.is_none() && unified.is_none() {
            return Cgroups::Unavailable("no writable cgroup controllers".into());
        }
        Cgroups::V1 { cpu, cpuacct, memory, unified }
    }

    /// A human description for the startup log and `shoal instances`.
    pub fn describe(&self) -> String {
        match self {
            Cgroups::V2 { base } => format!("cgroup v2 at {}", base.display()),
            Cgroups::V1 { cpu, cpuacct, memory, unified } => format!(
                "cgroup v1 (cpu: {}, cpuacct: {}, memory: {}; cgroup2: {})",
                cpu.is_some(),
                cpuacct.is_some(),
                memory.is_some(),
                unified.is_some()
            ),
            Cgroups::Unavailable(why) => {
                format!("no cgroups ({why}): limits recorded, not enforced")
            }
        }
    }

    /// Creates the instance's cgroup(s) with its limits; returns the `cgroup.procs`
    /// files its init must join.
    pub fn create(&self, instance_id: &str, vcpus: u32, memory_mib: u64) -> Vec<PathBuf> {
        let quota = format!("{} {PERIOD_US}", vcpus as u64 * PERIOD_US);
        let bytes = (memory_mib * 1024 * 1024).to_string();
        let mut procs = Vec::new();
        let mut make = |dir: PathBuf, settings: &[(&str, &str)]| {
            if fs::create_dir_all(&dir).is_ok() {
                for (file, value) in settings {
                    if let Err(e) = fs::write(dir.join(file), value) {
                        tracing::debug!(file, error = %e, "cgroup setting refused");
                    }
                }
                procs.push(dir.join("cgroup.procs"));
            }
        };
        match self {
            Cgroups::V2 { base } => {
                make(base.join(instance_id), &[("cpu.max", &quota), ("memory.max", &bytes)])
            }
            Cgroups::V1 { cpu, cpuacct, memory, unified } => {
                let v1_quota = (vcpus as u64 * PERIOD_US).to_string();
                if let Some(cpu) = cpu {
                    make(
                        cpu.join(instance_id),
                        &[
                            ("cpu.cfs_period_us", &PERIOD_US.to_string()),
                            ("cpu.cfs_quota_us", &v1_quota),
                        ],
                    );
                }
                if let Some(acct) = cpuacct {
                    make(acct.join(instance_id), &[]);
                }
                if let Some(mem) = memory {
                    make(mem.join(instance_id), &[("memory.limit_in_bytes", &bytes)]);
                }
                if let Some(unified) = unified {
                    make(unified.join(instance_id), &[]);
                }
            }
            Cgroups::Unavailable(_) => {}
        }
        procs
    }

    /// Total CPU time of the instance's cgroup in seconds, if accounted by a cgroup.
    pub fn cpu_seconds(&self, instance_id: &str) -> Option<f64> {
        match self {
            Cgroups::V2 { base } => {
                let stat = fs::read_to_string(base.join(instance_id).join("cpu.stat")).ok()?;
                let usec: u64 = stat
                    .lines()
                    .find_map(|l| l.strip_prefix("usage_usec "))?
                    .trim()
                    .parse()
                    .ok()?;
                Some(usec as f64 / 1e6)
            }
            Cgroups::V1 { cpuacct: Some(acct), .. } => {
                let ns: u64 = fs::read_to_string(acct.join(instance_id).join("cpuacct.usage"))
                    .ok()?
                    .trim()
                    .parse()
                    .ok()?;
                Some(ns as f64 / 1e9)
            }
            _ => None,
        }
    }

    /// Where the instance lives in a cgroup v2 hierarchy (for network accounting), or
    /// why it has no such place.
    pub fn v2_dir(&self, instance_id: &str) -> Result<PathBuf, NoCgroup2> {
        self.v2_scope().map(|scope| scope.join(instance_id))
    }

    /// The daemon's scope in a cgroup v2 hierarchy, or why there is none.
    pub fn v2_scope(&self) -> Result<&Path, NoCgroup2> {
        match self {
            Cgroups::V2 { base } => Ok(base),
            Cgroups::V1 { unified: Some(unified), .. } => Ok(unified),
            Cgroups::V1 { unified: None, .. } => Err(NoCgroup2::NoUnified),
            Cgroups::Unavailable(why) => Err(NoCgroup2::NoCgroups(why.clone())),
        }
    }

    /// Every pid in the instance's cgroup(s).
    pub fn pids(&self, instance_id: &str) -> Vec<u32> {
        let mut out = Vec::new();
        for dir in self.dirs(instance_id) {
            if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
                out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Removes the instance's (empty) cgroups.
    pub fn remove(&self, instance_id: &str) {
        for dir in self.dirs(instance_id) {
            let _ = fs::remove_dir(dir);
        }
    }

    /// Removes the daemon's scope directories if they are empty (no instance left in
    /// them); an instance still running keeps its cgroup, and the scope with it.
    pub fn remove_scope(&self) {
        let scopes: Vec<&PathBuf> = match self {
            Cgroups::V2 { base } => vec![base],
            Cgroups::V1 { cpu, cpuacct, memory, unified } => {
                [cpu, cpuacct, memory, unified].into_iter().flatten().collect()
            }
            Cgroups::Unavailable(_) => vec![],
        };
        for dir in scopes {
            let _ = fs::remove_dir(dir);
        }
    }

    fn dirs(&self, instance_id: &str) -> Vec<PathBuf> {
        match self {
            Cgroups::V2 { base } => vec![base.join(instance_id)],
            Cgroups::V1 { cpu, cpuacct, memory, unified } => [cpu, cpuacct, memory, unified]
                .into_iter()
                .flatten()
                .map(|d| d.join(instance_id))
                .collect(),
            Cgroups::Unavailable(_) => vec![],
        }
    }
}
