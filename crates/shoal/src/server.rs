//! Startup: configuration → bind the port → the regions (each region's store, service
//! and controllers; see `regions`) → the HTTP server. `Daemon::start` takes an
//! already-bound listener's address choice from the config (port 0 works), so tests run
//! many daemons side by side.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::regions::Regions;
use crate::runtime::process::ProcessDriver;
use crate::runtime::Driver;
use crate::service::Service;

/// The instance driver `--isolation` asks for. Where containers are asked for and the
/// host cannot run them, `container` refuses to start and `auto` runs process instances
/// and answers why, for the log, `shoal instances`, the console and health to say; the
/// same for VPC networks asked for and not made.
fn make_driver(config: &Config, exe: std::path::PathBuf) -> anyhow::Result<MadeDriver> {
    use crate::config::Isolation;
    use crate::runtime::oci::{host_support, ContainerDriver};
    let mut fallback = None;
    let kept_processes =
        config.isolation == Isolation::Auto && has_process_instances(&config.data_dir);
    if kept_processes {
        // A driver never adopts the other's instances: `auto` keeps what the data dir has.
        let why = "this data dir's instances are host processes, so `auto` keeps process \
                   isolation; a new data dir (or `shoal reset`) runs containers";
        tracing::warn!(reason = why, "instances run as host processes, not containers");
        fallback = Some(why.to_string());
    } else if config.isolation != Isolation::Process {
        let container = host_support(None).and_then(|(runc, base)| {
            Ok(ContainerDriver::new(&config.data_dir, exe.clone(), runc, base)?)
        });
        match (container, config.isolation) {
            (Ok(driver), _) => {
                let (driver, network_fallback) = with_network(config, driver);
                return Ok(MadeDriver {
                    driver: Arc::new(driver),
                    isolation_fallback: None,
                    network_fallback,
                });
            }
            (Err(why), Isolation::Container) => {
                anyhow::bail!("--isolation container: this host cannot isolate instances: {why}")
            }
            (Err(why), _) => {
                tracing::warn!(
                    reason = %why,
                    "this host cannot isolate instances: they run as host processes, not containers"
                );
                fallback = Some(why.to_string());
            }
        }
    }
    // `auto` with process instances is the host's network by their nature: only an explicit
    // `vpc` is refused (a fallback to process isolation is said as such).
    let network_fallback = (config.network == crate::config::Network::Vpc).then(|| {
        let why = "VPC networks need container isolation".to_string();
        tracing::warn!(
            reason = %why,
            "no VPC networks: instances share the host's network, each at its loopback address"
        );
        why
    });
    let driver = ProcessDriver::new(&config.data_dir, exe, config.use_cgroups)?;
    Ok(MadeDriver { driver: Arc::new(driver), isolation_fallback: fallback, network_fallback })
}

/// The driver, and why it is not what was asked for, if it is not.
struct MadeDriver {
    driver: Arc<dyn Driver>,
    isolation_fallback: Option<String>,
    network_fallback: Option<String>,
}

/// Whether the data dir holds instances the process driver made (and only those).
fn has_process_instances(data_dir: &std::path::Path) -> bool {
    let any = |dir: std::path::PathBuf| {
        std::fs::read_dir(dir).map(|mut entries| entries.next().is_some()).unwrap_or(false)
    };
    any(data_dir.join("instances")) && !any(data_dir.join("container").join("instances"))
}

/// Container instances in VPC networks when `--network` asks (`vpc`, or `auto` where
/// nothing below keeps the host's) and the host can make network namespaces (else the
/// host's network, said in the log). The load balancer then reaches instances through
/// `VpcNet::dial`.
fn with_network(
    config: &Config,
    driver: crate::runtime::oci::ContainerDriver,
) -> (crate::runtime::oci::ContainerDriver, Option<String>) {
    use crate::config::Network;
    use crate::runtime::vpcnet::VpcNet;
    match config.network {
        Network::Host => return (driver, None),
        Network::Vpc => {}
        Network::Auto => {
            if let Some(why) = why_auto_keeps_the_host_network(&config.data_dir) {
                tracing::warn!(
                    reason = why,
                    "no VPC networks: instances share the host's network, each at its loopback address"
                );
                return (driver, Some(why.to_string()));
            }
        }
    }
    match VpcNet::detect(&config.data_dir) {
        Ok(vpcnet) => {
            let vpcnet = Arc::new(vpcnet);
            let dialer = vpcnet.clone();
            shoal_proxy::dial::set_dialer(Some(Box::new(
                move |addr, from: &[std::net::IpAddr]| dialer.dial(addr, from),
            )));
            let binder = vpcnet.clone();
            shoal_proxy::dial::set_binder(Some(Box::new(move |addr| binder.listen(addr))));
            // make_driver runs inside Daemon::start, on the runtime; the task ends with
            // the VpcNet (the driver that holds it).
            tokio::spawn(crate::runtime::vpcnet::public::mirror(Arc::downgrade(&vpcnet)));
            (driver.with_vpc_network(vpcnet), None)
        }
        Err(why) => {
            tracing::warn!(
                reason = %why,
                "no VPC networks on this host: instances share the host's network, each at its loopback address"
            );
            (driver, Some(why.to_string()))
        }
    }
}

/// Why `--network auto` keeps instances on the host's network where namespaces could be
/// made: a VPC network without its packet filter would admit what security groups refuse,
/// and a driver never moves running instances between networks.
fn why_auto_keeps_the_host_network(data_dir: &std::path::Path) -> Option<&'static str> {
    if crate::runtime::oci::has_host_network_instances(data_dir) {
        return Some(
            "this data dir's instances share the host's network, so `auto` keeps it; a new \
             data dir (or `shoal reset`) makes VPC networks",
        );
    }
    if !crate::runtime::vpcnet::can_filter_packets() {
        return Some("`nft` (nftables) is not installed: security groups could not be enforced");
    }
    None
}

/// A running daemon.
pub struct Daemon {
    pub addr: SocketAddr,
    /// The access key issued at this start (the data dir's first), to show the user.
    pub issued_key: Option<crate::credentials::AccessKey>,
    /// The default region's service (us-east-1).
    pub service: Arc<Service>,
    /// Every region's service, opened on first use.
    pub regions: Arc<Regions>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Daemon {
    /// Binds the port, opens the regions (stores, services, controllers), starts the server.
    pub async fn start(mut config: Config) -> anyhow::Result<Daemon> {
        let open_files = raise_open_files_limit();
        // Half the descriptors for API clients at most: the rest keep the store,
        // listeners and instances working while clients crowd the port.
        let fd_share = usize::try_from(open_files / 2).unwrap_or(usize::MAX).max(16);
        config.max_connections = config.max_connections.min(fd_share);
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        config.listen = addr;
        let (credentials, issued) =
            crate::credentials::load_or_issue(&config.data_dir, config.configured_key.clone())?;
        let issued_key = issued.then(|| credentials.keys[0].clone());
        config.credentials = credentials;
        let exe = std::env::current_exe().context("cannot find the shoal executable")?;
        let MadeDriver { driver, isolation_fallback, network_fallback } =
            make_driver(&config, shoal_exe(exe))?;
        config.isolation_fallback = isolation_fallback;
        config.network_fallback = network_fallback;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (shutdown, rx) = watch::channel(false);
        let regions = Regions::start(config.clone(), clock, driver, rx.clone())?;
        let service = regions.home().clone();
        tracing::info!(
            listen = %addr,
            data_dir = %config.data_dir.display(),
            pool = %config.address_pool,
            isolation = %service.driver.isolation(),
            metric_period = ?config.metric_period,
            signatures_required = config.signatures_required(),
            open_files,
            max_connections = config.max_connections,
            header_read_timeout = ?config.header_read_timeout,
            body_read_timeout = ?config.body_read_timeout,
            "shoal is up"
        );
        let (cores, memory_mib) = crate::config::host_resources();
        let q = &config.quotas;
        tracing::info!(
            host_cores = cores,
            host_memory_mib = memory_mib,
            vcpus = q.on_demand_vcpus,
            instances = q.max_instances,
            launch_templates = q.launch_templates,
            auto_scaling_groups = q.auto_scaling_groups,
            launch_configurations = q.launch_configurations,
            load_balancers = q.load_balancers,
            target_groups = q.target_groups,
            listeners_per_load_balancer = q.listeners_per_load_balancer,
            rules_per_load_balancer = q.rules_per_load_balancer,
            alarms = q.alarms,
            "quotas"
        );
        let app = crate::api::router(regions.clone(), rx.clone());
        let tasks =
            vec![tokio::spawn(crate::api::edge::serve(listener, app, regions.clone(), rx.clone()))];
        Ok(Daemon { addr, issued_key, service, regions, shutdown, tasks })
    }

    /// Resolves on SIGINT, SIGTERM or a shutdown asked over the JSON API (`shoal down`).
    pub async fn wait_for_shutdown(&self) {
        tokio::select! {
            _ = wait_for_signal() => {}
            _ = self.service.shutdown_requested() => {}
        }
    }

    /// Stops serving and the controllers. Instances keep running, as VMs would; the next
    /// start re-adopts them.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.into_iter().chain(self.regions.take_tasks()) {
            let _ = t.await;
        }
        self.service.driver.release();
    }
}

/// Raises the soft open-files limit to the hard one and returns the limit in force.
/// Every client connection, listener and instance pipe takes a descriptor, and the
/// usual soft limit (1024) is what a few hundred idle clients would exhaust.
fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    // Linux refuses a soft limit above fs.nr_open (1 Mi by default), even when the hard
    // limit is unlimited.
    const NR_OPEN: u64 = 1 << 20;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else { return 1024 };
    let target = hard.min(NR_OPEN.max(soft));
    if soft >= target {
        return soft;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, target, hard) {
        Ok(()) => {
            tracing::info!(from = soft, to = target, "raised the open-files limit (RLIMIT_NOFILE)");
            target
        }
        Err(e) => {
            tracing::warn!(soft, hard, error = %e, "could not raise the open-files limit");
            soft
        }
    }
}

/// Test binaries are not `shoal`: find the real binary beside them.
fn shoal_exe(current: std::path::PathBuf) -> std::path::PathBuf {
    if current.file_stem().is_some_and(|s| s == "shoal") {
        return current;
    }
    if let Ok(p) = std::env::var("SHOAL_BIN") {
        return p.into();
    }
    current
}

/// `shoal server`: runs until SIGINT, SIGTERM or `shoal down`.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let daemon = Daemon::start(config).await?;
    println!("Shoal is listening on http://{} (AWS endpoint, JSON API and console)", daemon.addr);
    print_access_key(&daemon);
    daemon.wait_for_shutdown().await;
    tracing::info!("shutting down; instances keep running and are re-adopted at the next start");
    daemon.stop().await;
    Ok(())
}

/// Says which credentials clients sign with: the key issued now is shown once, in full.
pub fn print_access_key(daemon: &Daemon) {
    let config = &daemon.service.config;
    let file = crate::credentials::path(&config.data_dir);
    if let Some(key) = &daemon.issued_key {
        println!(
            "Issued access key {} with secret {} (saved in {}, profile `shoal`)",
            key.id,
            key.secret,
            file.display()
        );
    }
    if config.signatures_required() {
        println!("Requests must be signed (SigV4) with Shoal's access key.");
    } else {
        println!("Listening on loopback: any credentials are accepted (--require-signatures to verify them).");
    }
}

pub async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
