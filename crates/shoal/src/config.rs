//! The daemon's effective configuration: command-line flags with environment fallbacks,
//! AWS's own defaults, and the knobs tests use to run time-driven behaviour fast.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use shoal_model::ec2::Cidr;

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
}

/// `--isolation`: process trees on the host (today's default), containers (runc; each
/// instance its own namespaces and root filesystem), or containers where the host can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolation {
    Process,
    Container,
    Auto,
}

impl Config {
    /// Defaults for a data directory: AWS's periods, `127.0.0.1:4566`, pool `127.1.0.0/16`.
    pub fn new(data_dir: PathBuf) -> Config {
        Config {
            listen: "127.0.0.1:4566".parse().expect("static address"),
            data_dir,
            address_pool: Cidr { base: [127, 1, 0, 0].into(), prefix: 16 },
            zones: ["us-east-1a", "us-east-1b", "us-east-1c"].map(String::from).to_vec(),
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
            isolation: Isolation::Process,
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

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("state.db")
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
