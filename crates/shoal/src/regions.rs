//! Every region is its own world, as on AWS: one [`Service`] per region, each with its
//! own store (`state.db` for us-east-1, `regions/<region>/state.db` for the others),
//! default VPC, ids, names and controllers. The API picks the service by the region of
//! a request's SigV4 credential scope ([`Regions::get`]).
//!
//! What the regions share is the machine: the instance driver (processes, disks,
//! images), the clock, the data dir, the access keys, and the loopback pool
//! ([`crate::service::LoopbackClaims`], so two regions never hand out one address).
//! A region's service opens on its first request and its controllers start then; the
//! regions a data dir has opened before are opened again at daemon start, so their
//! instances and load balancers come back after a restart (or a `kill -9`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context;
use shoal_model::{AwsError, AwsResult};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::Config;
use crate::runtime::Driver;
use crate::service::{LoopbackClaims, Service};

/// The regions this daemon serves: the default region's service, opened at start, and
/// every other region's, opened on first use.
pub struct Regions {
    home: Arc<Service>,
    config: Config,
    clock: Arc<dyn Clock>,
    driver: Arc<dyn Driver>,
    claims: Arc<LoopbackClaims>,
    opened: RwLock<BTreeMap<String, Arc<Service>>>,
    /// Held while a region opens, so two first requests open it once.
    opening: Mutex<()>,
    shutdown: watch::Receiver<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Regions {
    /// Opens the default region's service (bootstrapped, controllers running) and every
    /// region whose database the data dir already holds.
    pub fn start(
        config: Config,
        clock: Arc<dyn Clock>,
        driver: Arc<dyn Driver>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Arc<Regions>> {
        let claims = Arc::new(LoopbackClaims::default());
        let home = open_service(&config, &clock, &driver, &claims)?;
        let tasks = crate::control::spawn_all(&home, &shutdown);
        let regions = Arc::new(Regions {
            opened: RwLock::new(BTreeMap::from([(config.region.clone(), home.clone())])),
            home,
            config,
            clock,
            driver,
            claims,
            opening: Mutex::new(()),
            shutdown,
            tasks: Mutex::new(tasks),
        });
        for name in regions.known_on_disk() {
            regions.open(&name).map_err(|e| anyhow::anyhow!("cannot open {name}: {e}"))?;
        }
        Ok(regions)
    }

    /// The default region's service (us-east-1): admin routes, the console, metrics.
    pub fn home(&self) -> &Arc<Service> {
        &self.home
    }

    /// The service of `region`, opened now if this is its first use; a name that is not
    /// an AWS region gets AWS's refusal of the credential scope.
    pub fn get(&self, region: &str) -> AwsResult<Arc<Service>> {
        if let Some(svc) = self.read().get(region) {
            return Ok(svc.clone());
        }
        // Opening reads and writes the region's database: off the async workers.
        crate::service::off_worker(|| self.open(region))
    }

    /// The services opened so far, by region name.
    pub fn opened(&self) -> Vec<Arc<Service>> {
        self.read().values().cloned().collect()
    }

    /// The region's service and the listener a request whose Host is a load balancer's
    /// DNS name reaches (lock-free: the proxies' own tables).
    pub fn load_balancer_for_host(
        &self,
        host: &str,
    ) -> Option<(Arc<Service>, shoal_proxy::EdgeRoute)> {
        self.read().values().find_map(|svc| svc.proxy.edge_route(host).map(|r| (svc.clone(), r)))
    }

    /// Takes the controllers' tasks (every region's), for the daemon to await at stop.
    pub fn take_tasks(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Service>>> {
        self.opened.read().unwrap_or_else(|e| e.into_inner())
    }

    fn open(&self, region: &str) -> AwsResult<Arc<Service>> {
        let Some(known) = shoal_model::region::find(region) else {
            return Err(shoal_model::region::invalid_region_scope(region));
        };
        let _one_at_a_time = self.opening.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(svc) = self.read().get(region) {
            return Ok(svc.clone());
        }
        let config = self.config.for_region(known);
        let svc = open_service(&config, &self.clock, &self.driver, &self.claims).map_err(|e| {
            tracing::error!(region, error = %e, "cannot open the region");
            AwsError::internal(format!("Shoal could not open the region {region}: {e}"))
        })?;
        let tasks = crate::control::spawn_all(&svc, &self.shutdown);
        self.tasks.lock().unwrap_or_else(|e| e.into_inner()).extend(tasks);
        self.opened
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(region.to_string(), svc.clone());
        tracing::info!(region, db = %config.db_path().display(), "region opened");
        Ok(svc)
    }

    /// The regions other than the default one that have a database in the data dir.
    fn known_on_disk(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.config.regions_dir()) else { return Vec::new() };
        let mut names: Vec<String> = dir
            .flatten()
            .filter(|e| e.path().join("state.db").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| shoal_model::region::find(n).is_some())
            .collect();
        names.sort();
        names
    }
}

/// One region's service over its store, bootstrapped (default VPC and subnets, images).
fn open_service(
    config: &Config,
    clock: &Arc<dyn Clock>,
    driver: &Arc<dyn Driver>,
    claims: &Arc<LoopbackClaims>,
) -> anyhow::Result<Arc<Service>> {
    let path = config.db_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let store = shoal_store::Store::open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let svc = Service::new(config.clone(), clock.clone(), driver.clone(), store)?
        .share_loopback(claims.clone());
    let svc = Arc::new(svc);
    svc.bootstrap().map_err(|e| anyhow::anyhow!("{e}"))?;
    // The data plane as the store has it, before the API port answers: after a restart a
    // load balancer answers by its DNS name from the first request on.
    crate::control::loadbalancers::reconcile(&svc);
    Ok(svc)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use crate::clock::SystemClock;
    use crate::config::Config;
    use crate::runtime::fake::FakeDriver;
    use crate::service::{LoopbackClaims, Service};

    fn region_service(region: &str, claims: &Arc<LoopbackClaims>) -> Service {
        let home = Config::new(std::env::temp_dir().join("shoal-regions-unit"));
        let config = home.for_region(shoal_model::region::find(region).unwrap());
        let store = shoal_store::Store::in_memory().unwrap();
        Service::new(config, Arc::new(SystemClock), Arc::new(FakeDriver::default()), store)
            .unwrap()
            .share_loopback(claims.clone())
    }

    #[test]
    fn each_region_has_its_zones_and_its_own_database() {
        let home = Config::new("/data".into());
        assert_eq!(home.db_path(), std::path::Path::new("/data/state.db"));
        let eu = home.for_region(shoal_model::region::find("eu-west-1").unwrap());
        assert_eq!(eu.db_path(), std::path::Path::new("/data/regions/eu-west-1/state.db"));
        assert_eq!(eu.zones, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
        let us = home.for_region(shoal_model::region::find("us-east-1").unwrap());
        let six =
            ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"];
        assert_eq!(us.zones, six);
        assert_eq!(home.zones, six);
        assert_eq!(us.db_path(), home.db_path());
    }

    #[test]
    fn two_regions_never_hand_out_one_loopback_address() {
        let claims = Arc::new(LoopbackClaims::default());
        let (us, eu) = (region_service("us-east-1", &claims), region_service("eu-west-1", &claims));
        let none = BTreeSet::new();
        let a = us.allocate_loopback(&none).unwrap();
        let b = eu.allocate_loopback(&none).unwrap();
        assert_ne!(a, b);
        assert!(claims.held_elsewhere("eu-west-1", a) && claims.held_elsewhere("us-east-1", b));
        // A region's own earlier claim does not block it (its change set tracks its own).
        assert!(!claims.held_elsewhere("us-east-1", a));
    }
}
