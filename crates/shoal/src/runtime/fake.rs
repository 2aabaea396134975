//! An in-memory driver: no processes, CPU and network traffic from a script. For
//! control-loop tests and the simulator.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use shoal_model::ec2::instance::ProcessRecord;

use super::{BootSpec, BoxFuture, Driver, Liveness, NetCounters};

/// Instances that "run" as entries in a map.
#[derive(Default)]
pub struct FakeDriver {
    next_pid: AtomicU32,
    running: Mutex<HashMap<u32, String>>,
    /// CPU seconds each instance reports, set by the test.
    cpu: Mutex<HashMap<String, f64>>,
    /// Network counters each instance reports, set by the test.
    network: Mutex<HashMap<String, NetCounters>>,
    pub boots: AtomicU32,
    /// Inits whose observation fails (as /proc reads do out of file descriptors).
    unobservable: Mutex<HashSet<u32>>,
    /// Instances get "VPC networks" (`Driver::vpc_network`), set by the test.
    vpc: AtomicBool,
    /// The packet filter each instance's network holds, as loaded.
    filters: Mutex<HashMap<String, serde_json::Value>>,
    /// How many times a packet filter was loaded.
    pub filter_loads: AtomicU32,
    /// Where each instance's metadata listener was made (on loopback, in place of its
    /// own network).
    metadata: Mutex<HashMap<String, std::net::SocketAddr>>,
    /// Run once by the next shutdown, before it stops anything (a test's way to act
    /// in the middle of an operation).
    on_next_shutdown: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl FakeDriver {
    pub fn set_cpu_seconds(&self, instance_id: &str, seconds: f64) {
        self.cpu.lock().expect("fake lock").insert(instance_id.to_string(), seconds);
    }

    /// The instance's cumulative traffic from now on (as its BPF counters would read).
    pub fn set_network(&self, instance_id: &str, counters: NetCounters) {
        self.network.lock().expect("fake lock").insert(instance_id.to_string(), counters);
    }

    /// Simulates a crash: the instance's init disappears.
    pub fn crash(&self, instance_id: &str) {
        self.running.lock().expect("fake lock").retain(|_, id| id != instance_id);
    }

    /// From now on, looking at the instance's current init fails (`Liveness::Unknown`)
    /// or, with `false`, works again.
    pub fn set_unobservable(&self, instance_id: &str, unobservable: bool) {
        let pids = self.pids(instance_id, None);
        let mut set = self.unobservable.lock().expect("fake lock");
        for pid in pids {
            if unobservable {
                set.insert(pid);
            } else {
                set.remove(&pid);
            }
        }
    }

    /// The live inits of the instance (a correct controller keeps this at most one).
    pub fn inits(&self, instance_id: &str) -> usize {
        self.pids(instance_id, None).len()
    }

    pub fn set_vpc_network(&self, on: bool) {
        self.vpc.store(on, Ordering::SeqCst);
    }

    /// Where the instance's latest metadata listener was made.
    pub fn metadata_address(&self, instance_id: &str) -> Option<std::net::SocketAddr> {
        self.metadata.lock().expect("fake lock").get(instance_id).copied()
    }

    /// The packet filter the instance's network holds.
    pub fn filter(&self, instance_id: &str) -> Option<serde_json::Value> {
        self.filters.lock().expect("fake lock").get(instance_id).cloned()
    }

    /// `f` runs once, at the start of the next shutdown.
    pub fn on_next_shutdown(&self, f: impl FnOnce() + Send + 'static) {
        *self.on_next_shutdown.lock().expect("fake lock") = Some(Box::new(f));
    }

    pub fn running_count(&self) -> usize {
        self.running.lock().expect("fake lock").len()
    }
}

impl Driver for FakeDriver {
    fn ensure_base_image(&self, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn import_image(&self, _: &str, _: &Path) -> io::Result<()> {
        Ok(())
    }
    fn snapshot_disk(&self, _: &str, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn delete_image(&self, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn prepare_disk(&self, _: &str, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn delete_disk(&self, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn boot(&self, spec: &BootSpec) -> io::Result<ProcessRecord> {
        let pid = 1_000_000 + self.next_pid.fetch_add(1, Ordering::SeqCst);
        self.running.lock().expect("fake lock").insert(pid, spec.instance_id.clone());
        self.boots.fetch_add(1, Ordering::SeqCst);
        if let Some(rules) = &spec.packet_filter {
            self.packet_filter(&spec.instance_id, rules)?;
        }
        Ok(ProcessRecord { pid, start_ticks: 0 })
    }
    fn is_alive(&self, record: &ProcessRecord) -> bool {
        // As the process driver's: a failed look reads as "not alive".
        self.liveness(record) == Liveness::Alive
    }
    fn liveness(&self, record: &ProcessRecord) -> Liveness {
        if self.unobservable.lock().expect("fake lock").contains(&record.pid) {
            return Liveness::Unknown("Too many open files (os error 24)".into());
        }
        if self.running.lock().expect("fake lock").contains_key(&record.pid) {
            Liveness::Alive
        } else {
            Liveness::Gone
        }
    }
    fn shutdown<'a>(
        &'a self,
        instance_id: &'a str,
        _: Option<&'a ProcessRecord>,
        _: Duration,
    ) -> BoxFuture<'a, ()> {
        // An init that cannot be observed cannot be signalled either (as with the
        // process driver out of descriptors): it survives.
        let hook = self.on_next_shutdown.lock().expect("fake lock").take();
        Box::pin(async move {
            if let Some(hook) = hook {
                hook();
            }
            let unobservable = self.unobservable.lock().expect("fake lock").clone();
            self.running
                .lock()
                .expect("fake lock")
                .retain(|pid, id| id != instance_id || unobservable.contains(pid));
            // Its network goes with it, filter and all.
            self.filters.lock().expect("fake lock").remove(instance_id);
        })
    }
    fn cpu_seconds(&self, instance_id: &str, _: &ProcessRecord) -> Option<f64> {
        Some(self.cpu.lock().expect("fake lock").get(instance_id).copied().unwrap_or(0.0))
    }
    fn network(&self, instance_id: &str) -> Option<NetCounters> {
        Some(self.network.lock().expect("fake lock").get(instance_id).copied().unwrap_or_default())
    }
    fn pids(&self, instance_id: &str, _: Option<&ProcessRecord>) -> Vec<u32> {
        self.running
            .lock()
            .expect("fake lock")
            .iter()
            .filter(|(_, id)| *id == instance_id)
            .map(|(p, _)| *p)
            .collect()
    }
    fn console_output(&self, _: &str) -> Vec<u8> {
        Vec::new()
    }
    fn control_socket(&self, instance_id: &str) -> PathBuf {
        PathBuf::from("/nonexistent").join(instance_id)
    }
    fn disk_path(&self, instance_id: &str) -> PathBuf {
        PathBuf::from("/nonexistent").join(instance_id)
    }
    fn isolation(&self) -> String {
        "fake driver".into()
    }
    fn vpc_network(&self) -> bool {
        self.vpc.load(Ordering::SeqCst)
    }
    fn packet_filter(&self, instance_id: &str, ruleset: &serde_json::Value) -> io::Result<bool> {
        let mut filters = self.filters.lock().expect("fake lock");
        if filters.get(instance_id) == Some(ruleset) {
            return Ok(false);
        }
        filters.insert(instance_id.to_string(), ruleset.clone());
        self.filter_loads.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
    /// While it runs with a "VPC network": one per boot (its init's pid).
    fn network_identity(&self, instance_id: &str) -> Option<(u64, u64)> {
        if !self.vpc_network() {
            return None;
        }
        self.pids(instance_id, None).first().map(|pid| (0, u64::from(*pid)))
    }
    fn listen_for_metadata(&self, instance_id: &str) -> io::Result<std::net::TcpListener> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        self.metadata.lock().expect("fake lock").insert(instance_id.to_string(), addr);
        Ok(listener)
    }
}
