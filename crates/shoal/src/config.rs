//! The daemon's effective configuration: command-line flags with environment fallbacks,
//! AWS's own defaults, and the knobs tests use to run time-driven behaviour fast.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use shoal_model::ec2::Cidr;
use shoal_model::quotas::Quotas;

use crate::credentials::{AccessKey, Credentials};

/// Everything `shoal server` needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The one port that serves the AWS endpoint, the JSON API, the console and admin routes.
    pub listen: SocketAddr,
    /// Where everything Shoal keeps lives: the database, image and instance roots, logs.
    pub data_dir: PathBuf,
    /// Loopback block instances and load balancers get their addresses from.
    pub address_pool: Cidr,
    /// Availability zones of the region (each gets a default subnet).
    pub zones: Vec<String>,
    /// The region this configuration serves: the daemon's is the default region
    /// (us-east-1); each other region's service gets [`Config::for_region`]'s copy.
    pub region: String,
    /// How often each instance's CPU is sampled into `CPUUtilization`.
    pub cpu_sample_interval: Duration,
    /// CloudWatch's period for every metric and alarm (AWS: 60 s).
    pub metric_period: Duration,
    /// Time a stopping instance's processes get between TERM and KILL.
    pub stop_grace: Duration,
    /// How often controllers re-check everything even without a trigger.
    pub resync_interval: Duration,
    /// Put instances in cgroups (CPU quota by vCPUs, memory limit) where the OS allows.
    pub use_cgroups: bool,
    /// Verify SigV4 signatures even on loopback (beyond loopback they always are).
    pub require_signatures: bool,
    /// An access key the user configured instead of the one Shoal issues.
    pub configured_key: Option<AccessKey>,
    /// The access keys requests may be signed with (filled in at start).
    pub credentials: Credentials,
    /// How long the API port waits for a request's head: on a new connection, and
    /// between requests on a kept-alive one (then it closes the connection).
    pub header_read_timeout: Duration,
    /// How long the API port waits for a request's whole body after its head.
    pub body_read_timeout: Duration,
    /// Most connections the API port serves at once; more wait in the listen backlog.
    /// At start it is lowered to half the open-files limit, so descriptors remain for
    /// listeners, instances and the store.
    pub max_connections: usize,
    /// How instances are isolated from the host and each other.
    pub isolation: Isolation,
    /// Set at start when containers were asked for (`auto`) and the host cannot run
    /// them: why, so the log, `shoal instances`, the console and health say it.
    pub isolation_fallback: Option<String>,
    /// Where instances' networks are: the host's (loopback addresses), or VPC networks
    /// of their own (container isolation only).
    pub network: Network,
    /// Set at start when VPC networks were asked for and cannot be made: why, so the
    /// log, `shoal instances`, the console and health say it.
    pub network_fallback: Option<String>,
    /// Service quotas: by default what this host can run (`Quotas::for_host`).
    pub quotas: Quotas,
}

/// `--isolation`: process trees on the host, containers (runc; each instance its own
/// namespaces and root filesystem), or containers where the host can (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolation {
    Process,
    Container,
    Auto,
}

impl Isolation {
    /// As the flag spells it (`process`, `container`, `auto`).
    pub fn name(self) -> &'static str {
        match self {
            Isolation::Process => "process",
            Isolation::Container => "container",
            Isolation::Auto => "auto",
        }
    }
}

/// `--network`: where instances' networks are. `vpc`: a network namespace per instance
/// at its private address, on a bridge per VPC, security groups enforced
/// (`runtime::vpcnet`; container isolation only), as on AWS. `host`: each instance binds
/// its own loopback address on the host's network, nothing filtered. `auto` (the
/// default): `vpc` where the host can make it and enforce security groups, `host`
/// otherwise, said at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Network {
    Auto,
    Host,
    Vpc,
}

/// Every availability zone of a region, in letter order (us-east-1a–f).
fn region_zones(region: &str) -> Vec<String> {
    shoal_model::region::find(region)
        .map(|r| r.zones().into_iter().map(|z| z.name).collect())
        .unwrap_or_default()
}

impl Config {
    /// Defaults for a data directory: AWS's periods, `127.0.0.1:4566`, pool `127.1.0.0/16`.
    pub fn new(data_dir: PathBuf) -> Config {
        Config {
            listen: "127.0.0.1:4566".parse().expect("static address"),
            data_dir,
            address_pool: Cidr { base: [127, 1, 0, 0].into(), prefix: 16 },
            zones: region_zones(shoal_model::DEFAULT_REGION),
            region: shoal_model::DEFAULT_REGION.to_string(),
            cpu_sample_interval: Duration::from_secs(5),
            metric_period: Duration::from_secs(60),
            stop_grace: Duration::from_secs(10),
            resync_interval: Duration::from_secs(5),
            use_cgroups: true,
            require_signatures: false,
            configured_key: None,
            credentials: Credentials { keys: Vec::new(), created: chrono::Utc::now() },
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(60),
            max_connections: 1024,
            // The `shoal` command defaults to `auto`; a library user (the Rust tests) says.
            isolation: Isolation::Process,
            isolation_fallback: None,
            network: Network::Auto,
            network_fallback: None,
            quotas: host_quotas(),
        }
    }

    /// Whether requests must carry a valid SigV4 signature: always when the daemon
    /// listens beyond loopback; on loopback (a local AWS) only when asked.
    pub fn signatures_required(&self) -> bool {
        self.require_signatures || !self.listen.ip().is_loopback()
    }

    /// The per-user default data directory (`~/.local/share/shoal` on Linux).
    pub fn default_data_dir() -> PathBuf {
        dirs::data_local_dir().unwrap_or_else(std::env::temp_dir).join("shoal")
    }

    /// The region's database: `state.db` for the default region (where every data dir
    /// made before regions keeps its state), `regions/<region>/state.db` for the others.
    pub fn db_path(&self) -> PathBuf {
        if self.region == shoal_model::DEFAULT_REGION {
            self.data_dir.join("state.db")
        } else {
            self.regions_dir().join(&self.region).join("state.db")
        }
    }

    /// Where the regions other than the default one keep their databases.
    pub fn regions_dir(&self) -> PathBuf {
        self.data_dir.join("regions")
    }

    /// This configuration for another region: the same daemon (port, data dir, pools,
    /// periods, quotas) serving all of that region's zones, as AWS has them.
    pub fn for_region(&self, region: &shoal_model::region::Region) -> Config {
        let mut c = self.clone();
        c.region = region.name.to_string();
        c.zones = region_zones(region.name);
        c
    }

    pub fn images_dir(&self) -> PathBuf {
        self.data_dir.join("images")
    }

    pub fn instances_dir(&self) -> PathBuf {
        self.data_dir.join("instances")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

/// The host's CPUs and memory (MiB), read once per process: the quotas' defaults.
pub fn host_resources() -> (u32, u64) {
    static HOST: std::sync::OnceLock<(u32, u64)> = std::sync::OnceLock::new();
    *HOST.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(4096, |kib| kib / 1024);
        (cores, memory_mib)
    })
}

fn host_quotas() -> Quotas {
    let (cores, memory_mib) = host_resources();
    Quotas::for_host(cores, memory_mib)
}

/// `shoal server`'s quota options; each overrides the host-derived default.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct QuotaArgs {
    /// vCPUs of running On-Demand instances (default: 16 per host core).
    #[arg(long, env = "SHOAL_QUOTA_VCPUS")]
    pub quota_vcpus: Option<u32>,
    /// Running instances, and the most one RunInstances may ask for (default: one per 256 MiB of host memory).
    #[arg(long, env = "SHOAL_QUOTA_INSTANCES")]
    pub quota_instances: Option<u32>,
    /// Launch templates (AWS: 5000).
    #[arg(long, env = "SHOAL_QUOTA_LAUNCH_TEMPLATES")]
    pub quota_launch_templates: Option<u32>,
    /// Auto Scaling groups (AWS: 500).
    #[arg(long, env = "SHOAL_QUOTA_AUTO_SCALING_GROUPS")]
    pub quota_auto_scaling_groups: Option<u32>,
    /// Launch configurations (AWS: 200).
    #[arg(long, env = "SHOAL_QUOTA_LAUNCH_CONFIGURATIONS")]
    pub quota_launch_configurations: Option<u32>,
    /// Application load balancers (AWS: 50).
    #[arg(long, env = "SHOAL_QUOTA_LOAD_BALANCERS")]
    pub quota_load_balancers: Option<u32>,
    /// Target groups (AWS: 3000).
    #[arg(long, env = "SHOAL_QUOTA_TARGET_GROUPS")]
    pub quota_target_groups: Option<u32>,
    /// Listeners per load balancer (AWS: 50).
    #[arg(long, env = "SHOAL_QUOTA_LISTENERS")]
    pub quota_listeners: Option<u32>,
    /// Rules per load balancer, default rules not counted (AWS: 100).
    #[arg(long, env = "SHOAL_QUOTA_RULES")]
    pub quota_rules: Option<u32>,
    /// CloudWatch metric alarms (10000).
    #[arg(long, env = "SHOAL_QUOTA_ALARMS")]
    pub quota_alarms: Option<u32>,
}

impl QuotaArgs {
    /// `defaults` with every option given replacing its figure.
    pub fn apply(&self, mut q: Quotas) -> Quotas {
        let set = |field: &mut u32, v: Option<u32>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut q.on_demand_vcpus, self.quota_vcpus);
        set(&mut q.max_instances, self.quota_instances);
        set(&mut q.launch_templates, self.quota_launch_templates);
        set(&mut q.auto_scaling_groups, self.quota_auto_scaling_groups);
        set(&mut q.launch_configurations, self.quota_launch_configurations);
        set(&mut q.load_balancers, self.quota_load_balancers);
        set(&mut q.target_groups, self.quota_target_groups);
        set(&mut q.listeners_per_load_balancer, self.quota_listeners);
        set(&mut q.rules_per_load_balancer, self.quota_rules);
        set(&mut q.alarms, self.quota_alarms);
        q
    }
}
