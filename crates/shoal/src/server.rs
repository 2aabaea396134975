//! Startup: configuration → open the store, bind the port → service → controllers and
//! the HTTP server. `Daemon::start` takes an already-bound listener's address choice
//! from the config (port 0 works), so tests run many daemons side by side.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::runtime::process::ProcessDriver;
use crate::runtime::Driver;
use crate::service::Service;

/// A running daemon.
pub struct Daemon {
    pub addr: SocketAddr,
    pub service: Arc<Service>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Daemon {
    /// Opens the store, binds the port, starts the controllers and the server.
    pub async fn start(mut config: Config) -> anyhow::Result<Daemon> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        config.listen = addr;
        let exe = std::env::current_exe().context("cannot find the shoal executable")?;
        let driver: Arc<dyn Driver> =
            Arc::new(ProcessDriver::new(&config.data_dir, shoal_exe(exe), config.use_cgroups)?);
        let store = shoal_store::Store::open(&config.db_path())
            .with_context(|| format!("cannot open {}", config.db_path().display()))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let service = Arc::new(Service::new(config.clone(), clock, driver, store)?);
        service.bootstrap().map_err(|e| anyhow::anyhow!("{e}"))?;
        tracing::info!(
            listen = %addr,
            data_dir = %config.data_dir.display(),
            pool = %config.address_pool,
            isolation = %service.driver.isolation(),
            metric_period = ?config.metric_period,
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
        let (shutdown, rx) = watch::channel(false);
        let mut tasks = crate::control::spawn_all(&service, &rx);
        let app = crate::api::router(service.clone(), rx.clone());
        tasks.push(tokio::spawn(crate::api::edge::serve(
            listener,
            app,
            service.clone(),
            rx.clone(),
        )));
        Ok(Daemon { addr, service, shutdown, tasks })
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
        for t in self.tasks {
            let _ = t.await;
        }
        self.service.driver.release();
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
    daemon.wait_for_shutdown().await;
    tracing::info!("shutting down; instances keep running and are re-adopted at the next start");
    daemon.stop().await;
    Ok(())
}

pub async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
