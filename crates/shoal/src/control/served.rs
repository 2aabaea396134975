//! What the metadata and DNS controllers keep per key: the tasks answering on sockets
//! made inside one network namespace, and that namespace's identity (device, inode).
//! Sockets stay in the namespace they were made in, so a new namespace (a reboot, a
//! VPC's router made again) means making them again.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::Mutex;

use tokio::task::JoinHandle;

pub struct Served<K> {
    what: &'static str,
    by_key: Mutex<BTreeMap<K, Serving>>,
}

/// The network a key's sockets were made in, and the tasks answering on them.
type Serving = (Network, Vec<JoinHandle<()>>);

/// A network namespace's identity, as `Driver::network_identity` gives it.
pub type Network = (u64, u64);

impl<K: Ord + Clone + Display> Served<K> {
    /// `what` names the service in the log ("metadata service", "DNS resolver").
    pub fn new(what: &'static str) -> Served<K> {
        Served { what, by_key: Mutex::default() }
    }

    /// True when `key` is served in `network` and none of its tasks ended.
    pub fn current(&self, key: &K, network: Network) -> bool {
        self.by_key
            .lock()
            .unwrap()
            .get(key)
            .is_some_and(|(n, tasks)| *n == network && tasks.iter().all(|t| !t.is_finished()))
    }

    /// Records `key` served in `network` by `tasks` (after [`Served::stop`]).
    pub fn insert(&self, key: K, network: Network, tasks: Vec<JoinHandle<()>>) {
        tracing::info!(key = %key, "{} started", self.what);
        self.by_key.lock().unwrap().insert(key, (network, tasks));
    }

    pub fn stop(&self, key: &K) {
        if let Some((_, tasks)) = self.by_key.lock().unwrap().remove(key) {
            tasks.iter().for_each(JoinHandle::abort);
            tracing::info!(key = %key, "{} stopped", self.what);
        }
    }

    pub fn stop_all(&self) {
        for (_, (_, tasks)) in std::mem::take(&mut *self.by_key.lock().unwrap()) {
            tasks.iter().for_each(JoinHandle::abort);
        }
    }

    pub fn keys(&self) -> Vec<K> {
        self.by_key.lock().unwrap().keys().cloned().collect()
    }
}
