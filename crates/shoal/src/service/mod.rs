//! The one service layer: every operation of every front (AWS Query/EC2 XML, JSON,
//! console, CLI) is a method here taking a typed request and returning a typed result or
//! an [`AwsError`]. Fronts parse and render; they never touch the store, the
//! controllers or [`State`] (display lookups such as names for ids are in `lookups`).
//! Whole-daemon operations (reset, stop-all) are in `admin`; every listing pages
//! through `page`.
//!
//! Concurrency: one `std::sync::Mutex` guards the in-memory [`State`] and the store.
//! It is never held across an `.await`; a commit is a short synchronous SQLite
//! transaction, run (like any wait for the lock behind one) in a blocking section
//! (`off_worker`) so its fsync never stalls the tokio worker's other tasks. Work that
//! takes time (copying a root directory, stopping processes) happens outside the lock,
//! in controllers or blocking tasks.

pub mod admin;
pub mod autoscaling;
pub mod catalog;
pub mod cloudwatch;
pub mod deploy;
pub mod ec2;
pub mod elbv2;
pub mod group_metrics;
pub mod launch_configs;
mod links;
pub mod lookups;
pub mod membership;
pub mod page;
pub mod policy_runs;
pub mod quotas;
pub mod refresh;
pub mod state;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};

use shoal_model::{AwsError, AwsResult};
use shoal_store::Store;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::runtime::Driver;
pub use state::{Changes, State, Table};

/// Shared handle to the service.
pub type SharedService = Arc<Service>;

/// How long a write waits for the data plane to apply it before answering.
const DATA_PLANE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Service {
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub driver: Arc<dyn Driver>,
    inner: Mutex<Inner>,
    /// Bumped after every commit; controllers wake on it.
    changed: watch::Sender<u64>,
    /// The load balancers' data plane. `control::loadbalancers` makes it match the
    /// ELBv2 records; the service reads what it observes (target health, listener
    /// binds) and the main port routes DNS-name requests into it.
    pub proxy: shoal_proxy::Proxy,
    /// The commit count the data plane last applied (`None` before its controller's
    /// first pass and after it stopped): a write answers once the proxy routes by it.
    data_plane_applied: watch::Sender<Option<u64>>,
    /// The commit count after the last commit that wrote a record the data plane is
    /// built from (`elbv2::DATA_PLANE_KINDS`), or wiped them all.
    routing_generation: std::sync::atomic::AtomicU64,
    /// Set by `POST /_shoal/shutdown` (`shoal down`): the daemon's main task stops it.
    shutdown_requested: tokio::sync::Notify,
    /// While set, Auto Scaling's controller leaves every group alone, so instances a
    /// `shoal down --stop-instances` stops are not replaced before the daemon stops.
    quiesced: std::sync::atomic::AtomicBool,
    /// Instance controller steps hold it shared, a reset alone: no instance boots,
    /// stops or is relaunched between the reset's kills and its wipe of the records
    /// (an instance booted there would outlive its record, disk mounted).
    instance_steps: tokio::sync::RwLock<()>,
    /// Counters for `GET /metrics`.
    pub telemetry: crate::telemetry::Telemetry,
    /// The loopback addresses every region's service holds (one machine, one pool).
    loopback: Arc<LoopbackClaims>,
}

/// Loopback addresses belong to the machine, not to a region: every region's instances
/// and load balancers take theirs from the same pool, so each region's service records
/// here what it holds (after every commit) and skips what the others hold. A leaf lock:
/// taken while a service's own lock is held, never the other way round.
#[derive(Default)]
pub struct LoopbackClaims(Mutex<std::collections::BTreeMap<String, BTreeSet<Ipv4Addr>>>);

impl LoopbackClaims {
    fn lock(&self) -> MutexGuard<'_, std::collections::BTreeMap<String, BTreeSet<Ipv4Addr>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether another region than `region` holds `ip`.
    pub fn held_elsewhere(&self, region: &str, ip: Ipv4Addr) -> bool {
        self.lock().iter().any(|(r, held)| r != region && held.contains(&ip))
    }

    /// Records that `region` is handing out `ip` (before its commit).
    pub fn claim(&self, region: &str, ip: Ipv4Addr) {
        self.lock().entry(region.to_string()).or_default().insert(ip);
    }

    /// Replaces what `region` holds with what its state holds.
    fn set(&self, region: &str, state: &State) {
        let held = state
            .instances
            .values()
            .map(|i| i.loopback_ip)
            .chain(state.load_balancers.values().map(|l| l.loopback_ip))
            .collect();
        self.lock().insert(region.to_string(), held);
    }
}

struct Inner {
    state: State,
    store: Store,
}

impl Service {
    /// Opens the service over a store, loading every resource into memory.
    pub fn new(
        config: Config,
        clock: Arc<dyn Clock>,
        driver: Arc<dyn Driver>,
        store: Store,
    ) -> Result<Service, shoal_store::StoreError> {
        let state = State::load(&store)?;
        let (changed, _) = watch::channel(0);
        let proxy = elbv2::new_proxy(&config, clock.clone());
        Ok(Service {
            config,
            clock,
            driver,
            inner: Mutex::new(Inner { state, store }),
            changed,
            proxy,
            data_plane_applied: watch::channel(None).0,
            routing_generation: std::sync::atomic::AtomicU64::new(0),
            shutdown_requested: tokio::sync::Notify::new(),
            quiesced: std::sync::atomic::AtomicBool::new(false),
            instance_steps: tokio::sync::RwLock::new(()),
            telemetry: Default::default(),
            loopback: Default::default(),
        })
    }

    /// Makes this service take its loopback addresses from the pool `claims` shares with
    /// the other regions' services (and records there what it holds now).
    pub fn share_loopback(mut self, claims: Arc<LoopbackClaims>) -> Service {
        claims.set(&self.config.region, &self.lock().state);
        self.loopback = claims;
        self
    }

    /// The machine-wide loopback claims this service takes part in.
    pub fn loopback_claims(&self) -> &LoopbackClaims {
        &self.loopback
    }

    /// Asks the daemon to stop (answered by [`Service::shutdown_requested`]).
    pub fn request_shutdown(&self) {
        self.shutdown_requested.notify_one();
    }

    /// Resolves once a shutdown has been asked for (also if it was asked before).
    pub async fn shutdown_requested(&self) {
        self.shutdown_requested.notified().await
    }

    /// Pauses Auto Scaling's controller for the rest of this daemon's life.
    pub fn quiesce(&self) {
        self.quiesced.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether [`Service::quiesce`] was called.
    pub fn is_quiesced(&self) -> bool {
        self.quiesced.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Held by an instance controller step for its whole length (boot, stop,
    /// termination); waits while a reset runs.
    pub async fn instance_step(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.instance_steps.read().await
    }

    /// Held by a reset: waits for the instance steps in flight, and holds off new ones.
    pub(crate) async fn exclude_instance_steps(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.instance_steps.write().await
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves state consistent (commits are
        // all-or-nothing), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a read-only closure over the current state.
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        // Uncontended, the lock is taken at once; behind a commit, wait off the worker.
        let inner = match self.inner.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => off_worker(|| self.lock()),
        };
        f(&inner.state)
    }

    /// Runs an operation: it reads state and records changes; the changes are committed
    /// durably and applied only if it succeeds.
    pub fn mutate<T>(&self, f: impl FnOnce(&State, &mut Changes) -> AwsResult<T>) -> AwsResult<T> {
        off_worker(|| self.mutate_here(f))
    }

    fn mutate_here<T>(&self, f: impl FnOnce(&State, &mut Changes) -> AwsResult<T>) -> AwsResult<T> {
        let mut inner = self.lock();
        let Inner { state, store } = &mut *inner;
        let mut changes = Changes::default();
        let value = f(state, &mut changes)?;
        let touched = !changes.is_empty();
        let routing = changes.touches(elbv2::DATA_PLANE_KINDS);
        let started = tokio::time::Instant::now();
        changes.commit(store, state).map_err(|e| {
            tracing::error!(error = %e, "store commit failed");
            AwsError::internal(format!("Shoal could not save the change: {e}"))
        })?;
        if touched {
            self.telemetry.store_commit(started.elapsed());
            self.loopback.set(&self.config.region, state);
        }
        drop(inner);
        if touched {
            self.committed(routing);
        }
        Ok(value)
    }

    /// Runs `f` with the store (metric reads and writes).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        off_worker(|| f(&mut self.lock().store))
    }

    /// A receiver that changes after every commit.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// How many commits (and pokes) there have been: state read after this includes
    /// every one of them (the count moves after the state does).
    pub fn generation(&self) -> u64 {
        *self.changed.borrow()
    }

    /// Records that the proxy now routes by the state of `generation`.
    pub fn data_plane_applied(&self, generation: u64) {
        self.data_plane_applied.send_if_modified(|applied| {
            let newer = applied.is_none_or(|a| a < generation);
            if newer {
                *applied = Some(generation);
            }
            newer
        });
    }

    /// The data plane's controller has stopped: nothing will apply a commit any more,
    /// so no write waits for it.
    pub fn data_plane_stopped(&self) {
        self.data_plane_applied.send_replace(None);
    }

    /// Waits (at most `DATA_PLANE_WAIT`) until the data plane has applied every commit
    /// made so far, so a request sent after a write is routed by it. AWS leaves this
    /// eventually consistent; Shoal can read its own writes. Without a running data
    /// plane controller there is nothing to wait for.
    pub async fn data_plane_caught_up(&self) {
        let target = self.generation();
        let mut applied = self.data_plane_applied.subscribe();
        if applied.borrow().is_none() {
            return;
        }
        let caught_up = applied.wait_for(|a| a.is_none_or(|a| a >= target));
        if tokio::time::timeout(DATA_PLANE_WAIT, caught_up).await.is_err() {
            tracing::warn!(target, "the data plane has not applied a write yet; answering anyway");
        }
    }

    /// Wakes controllers without a state change (e.g. a process exited).
    pub fn poke(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// The region this service is (each region's resources live in its own service).
    pub fn region(&self) -> &str {
        &self.config.region
    }

    /// What instances are: `Container` or `Process` (asked for, or fallen back to);
    /// never `Auto`.
    pub fn isolation_mode(&self) -> crate::config::Isolation {
        use crate::config::Isolation;
        match (self.config.isolation, &self.config.isolation_fallback) {
            (Isolation::Process, _) | (_, Some(_)) => Isolation::Process,
            (Isolation::Container | Isolation::Auto, None) => Isolation::Container,
        }
    }

    /// Removes every resource (admin reset). The caller stops processes first.
    pub fn wipe(&self) -> AwsResult<()> {
        off_worker(|| self.wipe_here())
    }

    fn wipe_here(&self) -> AwsResult<()> {
        let mut inner = self.lock();
        inner
            .store
            .write(|w| w.wipe())
            .map_err(|e| AwsError::internal(format!("reset failed: {e}")))?;
        inner.state = State::default();
        self.loopback.set(&self.config.region, &inner.state);
        drop(inner);
        self.committed(true);
        Ok(())
    }

    /// Moves the commit count (waking the controllers), and the routing one with it when
    /// the commit wrote what the data plane is built from.
    fn committed(&self, routing: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        self.changed.send_modify(|v| {
            *v += 1;
            if routing {
                self.routing_generation.fetch_max(*v, SeqCst);
            }
        });
    }

    /// The commit count after the last commit that wrote a record the data plane is built
    /// from (see [`Service::committed`]).
    pub fn routing_generation(&self) -> u64 {
        self.routing_generation.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Runs `request` and answers once every service in `services` whose routing records it
/// changed (`elbv2::DATA_PLANE_KINDS`) routes by the change: whatever front a write came
/// through (the AWS endpoint, the console, the JSON API), a request sent after its
/// answer meets a data plane that has it (a new listener bound, a rule or security
/// group applied, a target registered, an instance's state). A request that writes none
/// of them is not held, unless another such commit lands meanwhile (then it waits for
/// one pass of the data plane at most).
pub async fn answered_once_routed<T>(
    services: Vec<Arc<Service>>,
    request: impl std::future::Future<Output = T>,
) -> T {
    let marks: Vec<u64> = services.iter().map(|s| s.routing_generation()).collect();
    let answer = request.await;
    for (svc, mark) in services.iter().zip(marks) {
        if svc.routing_generation() != mark {
            svc.data_plane_caught_up().await;
        }
    }
    answer
}

/// Runs `f`, which blocks on the disk (a commit's fsync) or on the lock of a commit in
/// progress, so that a tokio worker running it first hands its queued tasks to another
/// worker: one fsync never stalls the requests and load balancer traffic behind it.
/// Elsewhere (a current-thread runtime in tests, a plain thread) `f` just runs.
pub(crate) fn off_worker<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}
