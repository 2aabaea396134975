//! The `shoal` binary: the daemon, the CLI, and the small programs that run inside
//! instances (their init, the lab app, stress).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use shoal::cli::client::Client;
use shoal::config::Config;

#[derive(Parser)]
#[command(
    name = "shoal",
    version,
    about = "AWS EC2 Auto Scaling, load balancing and blue/green deployments, for real, on your machine"
)]
struct Cli {
    /// The daemon to talk to.
    #[arg(long, global = true, env = "SHOAL_ENDPOINT", default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    /// The region the CLI's commands act in (each region is its own world, as on AWS):
    /// `--region`, else AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.
    #[arg(long, global = true, env = "AWS_REGION")]
    region: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the daemon (if none runs) and prepare the seed lab.
    Up(ServerArgs),
    /// Run the daemon in the foreground.
    Server(ServerArgs),
    /// Stop the running daemon cleanly. Instances keep running, as VMs do across a
    /// control-plane restart, and the next start re-adopts them.
    Down {
        /// Stop every instance first (StopInstances): they show `stopped` and start
        /// again with `aws ec2 start-instances`.
        #[arg(long)]
        stop_instances: bool,
        /// How long to wait for the daemon to stop (`60` or `60s`).
        #[arg(long, default_value = "120", value_parser = parse_seconds)]
        timeout: Duration,
    },
    /// Terminate every instance, delete every resource and recreate the defaults.
    Reset {
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
    /// Run a command (or a shell) inside an instance; exits with the command's code.
    Ssh {
        instance: String,
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Show an instance's console output.
    Logs {
        instance: String,
        #[arg(short, long)]
        follow: bool,
    },
    /// Images.
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// List instances in a table.
    Instances {
        /// Refresh every 2 seconds.
        #[arg(short, long)]
        watch: bool,
    },
    /// Auto Scaling groups with their instances, health and CPU.
    Groups {
        #[arg(short, long)]
        watch: bool,
    },
    /// A group's scaling activities with their causes, newest first.
    Activities {
        group: String,
        #[arg(short, long)]
        watch: bool,
    },
    /// Blue/green deployments: `shoal deploy --lb exercise-lb --image ami-… --strategy canary --percent 10`,
    /// `shoal deploy status ID`, `shoal deploy list`, `shoal deploy rollback ID`.
    Deploy(Box<shoal::cli::deploy::DeployCli>),
    /// Burn CPU like stress(1): `shoal stress --cpu 1 --timeout 60`.
    Stress {
        #[arg(long, default_value_t = 1)]
        cpu: u32,
        /// Seconds (`60` or `60s`); 0 runs until killed.
        #[arg(long, short, default_value = "0", value_parser = parse_seconds)]
        timeout: Duration,
    },
    /// The lab's web app (runs inside instances).
    #[command(hide = true)]
    App {
        #[arg(long, default_value = "app")]
        dir: PathBuf,
        #[arg(long, default_value_t = 3000)]
        port: u16,
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// An instance's init process (started by the daemon).
    #[command(hide = true)]
    InstanceInit { dir: PathBuf },
    /// Runs `#cloud-config` user data inside an instance (started by its init).
    #[command(hide = true)]
    CloudInit { file: PathBuf },
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Make an image from a local directory, a root-filesystem tarball, or an image
    /// archive (`docker save`, `podman save`, `skopeo copy … oci-archive:`).
    Import {
        source: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Disk used by image layers and instance disks, and which layers images share.
    Usage,
}

#[derive(Args, Clone)]
struct ServerArgs {
    /// Address of the AWS endpoint, JSON API and console.
    #[arg(long, env = "SHOAL_LISTEN", default_value = "127.0.0.1:4566")]
    listen: std::net::SocketAddr,
    /// Where Shoal keeps everything (default: the per-user data directory).
    #[arg(long, env = "SHOAL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Loopback block instance and load balancer addresses come from.
    #[arg(long, env = "SHOAL_ADDRESS_POOL", default_value = "127.1.0.0/16")]
    address_pool: String,
    /// Seconds between CPU samples of each instance.
    #[arg(long, default_value = "5", value_parser = parse_seconds)]
    cpu_sample_interval: Duration,
    /// CloudWatch's period for every metric and alarm (AWS: 60; `shoal up`: 10, so the
    /// lab's scaling shows in seconds).
    #[arg(long, value_parser = parse_seconds)]
    metric_period: Option<Duration>,
    /// Seconds a stopping instance gets between TERM and KILL.
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    stop_grace: Duration,
    /// Do not put instances in cgroups.
    #[arg(long)]
    no_cgroups: bool,
    /// Verify SigV4 signatures on loopback too (beyond loopback they always are).
    #[arg(long, env = "SHOAL_REQUIRE_SIGNATURES")]
    require_signatures: bool,
    /// The access key clients sign with, instead of the one Shoal issues at first start.
    #[arg(long, env = "SHOAL_ACCESS_KEY_ID", requires = "secret_access_key")]
    access_key_id: Option<String>,
    /// The secret of --access-key-id.
    #[arg(
        long,
        env = "SHOAL_SECRET_ACCESS_KEY",
        requires = "access_key_id",
        hide_env_values = true
    )]
    secret_access_key: Option<String>,
    /// Seconds the API port waits for a request's head (also the keep-alive idle time).
    #[arg(long, default_value = "30", value_parser = parse_seconds)]
    header_read_timeout: Duration,
    /// Seconds the API port waits for a request's body after its head.
    #[arg(long, default_value = "60", value_parser = parse_seconds)]
    body_read_timeout: Duration,
    /// Most connections the API port serves at once (at most half the open-files limit).
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// How instances are isolated: `auto` (the default: containers where the host can,
    /// process trees otherwise, said at start), `container` (runc: own namespaces and
    /// root filesystem; refuses to start where the host cannot), `process` (host process
    /// trees).
    #[arg(long, env = "SHOAL_ISOLATION", value_enum, default_value = "auto")]
    isolation: shoal::config::Isolation,
    /// Where instances' networks are: `auto` (the default: `vpc` where the host can,
    /// `host` otherwise, said at start), `vpc` (container instances only: a network
    /// namespace each at its private address, on a bridge per VPC, security groups
    /// enforced; where namespaces cannot be made, `host`, said in the log) or `host` (each
    /// instance binds its own loopback address on the host's network).
    #[arg(long, env = "SHOAL_NETWORK", value_enum, default_value = "auto")]
    network: shoal::config::Network,
    #[command(flatten)]
    quotas: shoal::config::QuotaArgs,
}

/// `shoal up`'s CloudWatch period: short, so a scale-out shows within a minute.
const LAB_METRIC_PERIOD: Duration = Duration::from_secs(10);

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let t = s.trim_end_matches('s');
    t.parse::<f64>()
        .map(Duration::from_secs_f64)
        .map_err(|_| format!("not a number of seconds: {s}"))
}

impl ServerArgs {
    fn config(&self, default_metric_period: Duration) -> anyhow::Result<Config> {
        let mut c = Config::new(self.data_dir.clone().unwrap_or_else(Config::default_data_dir));
        c.listen = self.listen;
        c.address_pool = shoal_model::ec2::Cidr::parse(&self.address_pool, "address-pool")
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        c.cpu_sample_interval = self.cpu_sample_interval;
        c.metric_period = self.metric_period.unwrap_or(default_metric_period);
        c.stop_grace = self.stop_grace;
        c.use_cgroups = !self.no_cgroups;
        c.require_signatures = self.require_signatures;
        if let (Some(id), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            c.configured_key =
                Some(shoal::credentials::AccessKey { id: id.clone(), secret: secret.clone() });
        }
        c.header_read_timeout = self.header_read_timeout;
        c.body_read_timeout = self.body_read_timeout;
        c.max_connections = self.max_connections.max(1);
        c.isolation = self.isolation;
        c.network = self.network;
        c.quotas = self.quotas.apply(c.quotas);
        Ok(c)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // Inside instances: small synchronous programs, no tokio.
        Command::InstanceInit { dir } => report(shoal::runtime::init::run(&dir).map(|_| 0)),
        Command::CloudInit { file } => report(shoal::runtime::cloudinit::run(&file)),
        Command::Stress { cpu, timeout } => {
            shoal::runtime::stress::run(cpu, timeout);
            ExitCode::SUCCESS
        }
        command => {
            if !matches!(command, Command::Server(_) | Command::Up(_) | Command::App { .. }) {
                exit_quietly_when_stdout_closes();
            }
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => return report(Err(e.into())),
            };
            let region = cli
                .region
                .filter(|r| !r.is_empty())
                .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok().filter(|r| !r.is_empty()))
                .unwrap_or_else(|| shoal_model::DEFAULT_REGION.to_string());
            report(runtime.block_on(run(cli.endpoint, region, command)))
        }
    }
}

/// A client command whose reader goes away (`shoal activities G | head`) ends as Unix
/// tools do, by SIGPIPE, instead of panicking on a failed print. Rust ignores SIGPIPE
/// by default, which the daemon keeps: a client hanging up must not stop it.
#[allow(unsafe_code)]
fn exit_quietly_when_stdout_closes() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: runs before any other thread exists, and SIG_DFL installs no handler code.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

fn report(result: anyhow::Result<i32>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("shoal: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("SHOAL_LOG").unwrap_or_else(|_| "info".into());
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

async fn run(endpoint: String, region: String, command: Command) -> anyhow::Result<i32> {
    let client = Client::new(&endpoint).in_region(&region);
    match command {
        Command::Server(args) => {
            init_logging();
            shoal::server::run(args.config(Duration::from_secs(60))?).await?;
        }
        Command::Up(args) => {
            init_logging();
            let existing = Client::new(&format!("http://{}", args.listen));
            if existing.get("/_shoal/health").await.is_ok() {
                println!("Shoal already runs at http://{}; preparing the lab.", args.listen);
                let report = existing.post("/_shoal/api/lab", serde_json::json!({})).await?;
                shoal::cli::print_lab(&format!("http://{}", args.listen), &report);
                return Ok(0);
            }
            let daemon = shoal::server::Daemon::start(args.config(LAB_METRIC_PERIOD)?).await?;
            let endpoint = format!("http://{}", daemon.addr);
            println!("Shoal is listening on {endpoint}; preparing the lab (a real instance boots, is imaged, and stops)...");
            shoal::server::print_access_key(&daemon);
            let report = shoal::lab::prepare(&daemon.service, true)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            shoal::cli::print_lab(&endpoint, &report);
            println!("\nPress Ctrl-C or run `shoal down` to stop Shoal (instances keep running and are re-adopted next time).");
            daemon.wait_for_shutdown().await;
            daemon.stop().await;
        }
        Command::Down { stop_instances, timeout } => {
            return shoal::cli::admin::down(&client, &endpoint, stop_instances, timeout).await
        }
        Command::Reset { yes } => return shoal::cli::admin::reset(&client, &endpoint, yes).await,
        Command::Ssh { instance, command } => {
            return shoal::cli::ssh::run(&client, &instance, command).await
        }
        Command::Logs { instance, follow } => shoal::cli::logs(&client, &instance, follow).await?,
        Command::Image { command: ImageCommand::Import { source, name, description } } => {
            shoal::cli::image_import(&client, &source, &name, description).await?
        }
        Command::Image { command: ImageCommand::Usage } => shoal::cli::image_usage(&client).await?,
        Command::Instances { watch } => view(watch, || shoal::cli::instances(&client)).await?,
        Command::Groups { watch } => view(watch, || shoal::cli::groups(&client)).await?,
        Command::Activities { group, watch } => {
            view(watch, || shoal::cli::activities(&client, &group)).await?
        }
        Command::Deploy(cli) => return shoal::cli::deploy::run(&client, *cli).await,
        Command::App { dir, port, log } => shoal::lab::serve_app(dir, port, log).await?,
        Command::InstanceInit { .. } | Command::CloudInit { .. } | Command::Stress { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
    Ok(0)
}

async fn view<F, Fut>(watch: bool, mut show: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    if watch {
        shoal::cli::watch(Duration::from_secs(2), show).await
    } else {
        show().await
    }
}
