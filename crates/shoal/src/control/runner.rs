//! The one reconcile runner, in the manner of kube-runtime's `Controller`.
//!
//! A controller says which keys exist ([`Controller::keys`]) and how to reconcile one
//! ([`Controller::reconcile`]), which returns an [`Action`]: when to look at that key
//! again at the latest. The runner owns everything else:
//! - the triggers: every commit (when the controller watches them) and a periodic
//!   resync schedule every key now, so a missed trigger only delays work;
//! - a queue with one entry per key (triggers coalesce; the earliest due time wins);
//! - "never twice at once": a key being reconciled is not started again until it is
//!   done (a trigger meanwhile runs it once more afterwards);
//! - `Action::requeue(after)`, and on error [`Controller::error_policy`], whose default
//!   backs off exponentially per key (reset by a success).
//!
//! Time is tokio's (`tokio::time`), so tests run the runner on paused time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// What to do with a key after reconciling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    requeue_after: Option<Duration>,
}

impl Action {
    /// Reconcile the key again after `after` (or sooner, on a trigger).
    pub fn requeue(after: Duration) -> Action {
        Action { requeue_after: Some(after) }
    }

    /// Nothing more to do until a trigger (a commit or the resync).
    pub fn await_change() -> Action {
        Action { requeue_after: None }
    }

    pub fn requeue_after(&self) -> Option<Duration> {
        self.requeue_after
    }
}

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A service operation refused or failed to commit.
    #[error("{0}")]
    Service(#[from] shoal_model::AwsError),
    /// The runtime (processes, disks, namespaces, sockets) failed.
    #[error("{0}")]
    Runtime(#[from] std::io::Error),
    /// A blocking task the reconcile waited for panicked or was cancelled.
    #[error("blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// An instance's init is still alive after its shutdown: not yet stopped.
    #[error("init {pid} still alive after shutdown")]
    InitSurvived { pid: u32 },
    /// An instance's init cannot be observed, so its state cannot be decided.
    #[error("cannot observe init {pid}: {reason}")]
    InitUnobservable { pid: u32, reason: String },
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A reconciler: each key is brought towards its intent, one at a time.
pub trait Controller: Send + Sync + 'static {
    type Key: Clone + Ord + Debug + Send + Sync + 'static;
    /// What reconciling reads and acts through (the service, for the daemon's
    /// controllers).
    type Ctx: Observed + Send + Sync + 'static;

    /// The controller's name, for logs.
    fn name(&self) -> &'static str;

    /// Every key to look at, at a trigger.
    fn keys(&self, ctx: &Self::Ctx) -> Vec<Self::Key>;

    /// Brings one key towards its intent. Idempotent: it may run again at any time.
    fn reconcile<'a>(
        &'a self,
        key: &'a Self::Key,
        ctx: &'a Self::Ctx,
    ) -> BoxFuture<'a, Result<Action, ControlError>>;

    /// What to do after a failed reconcile; `failures` counts this key's failures in a
    /// row (1 for the first). Default: log, and retry after [`backoff`].
    fn error_policy(&self, key: &Self::Key, error: &ControlError, failures: u32) -> Action {
        tracing::warn!(controller = self.name(), ?key, %error, failures, "reconcile failed");
        Action::requeue(backoff(failures))
    }
}

/// Where the runner reports each reconcile pass (the daemon's `/metrics`).
pub trait Observed {
    fn reconcile_pass(&self, _controller: &'static str) {}
}

impl Observed for () {}

impl Observed for crate::service::Service {
    fn reconcile_pass(&self, controller: &'static str) {
        self.telemetry.reconcile_pass(controller);
    }
}

/// The default retry delay after `failures` failures in a row: 250 ms doubling up to
/// a minute.
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(8);
    (Duration::from_millis(250) * 2u32.pow(doublings)).min(Duration::from_secs(60))
}

/// How the runner triggers a controller.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Schedule every key at this interval (the first time at once). `None`: only at
    /// start; the keys then run again by their own requeues or on commits.
    pub resync: Option<Duration>,
    /// Schedule every key on each commit.
    pub on_commit: bool,
    /// How many keys may be reconciled at the same time.
    pub concurrency: usize,
    /// The first reconcile waits this long (a sampler's first aligned moment).
    pub first_after: Duration,
}

impl Settings {
    /// Triggered by commits and every `resync`; `concurrency` keys at a time.
    pub fn watching(resync: Duration, concurrency: usize) -> Settings {
        Settings { resync: Some(resync), on_commit: true, concurrency, first_after: Duration::ZERO }
    }

    /// Triggered only by time: every key every `period`, one at a time.
    pub fn every(period: Duration) -> Settings {
        Settings {
            resync: Some(period),
            on_commit: false,
            concurrency: 1,
            first_after: Duration::ZERO,
        }
    }
}

/// The queue: one due time per key, which keys are being reconciled, and each key's
/// failures in a row.
struct Queue<K> {
    due: BTreeMap<K, Instant>,
    running: BTreeSet<K>,
    failures: HashMap<K, u32>,
}

impl<K: Clone + Ord + std::hash::Hash> Queue<K> {
    fn new() -> Self {
        Queue { due: BTreeMap::new(), running: BTreeSet::new(), failures: HashMap::new() }
    }

    /// Due at `at` unless due earlier already.
    fn schedule(&mut self, key: K, at: Instant) {
        let slot = self.due.entry(key).or_insert(at);
        *slot = (*slot).min(at);
    }

    /// The next key due by `now` and not running, marked running; earliest first.
    fn pop_due(&mut self, now: Instant) -> Option<K> {
        let key = self
            .due
            .iter()
            .filter(|(k, at)| **at <= now && !self.running.contains(*k))
            .min_by_key(|(_, at)| **at)
            .map(|(k, _)| k.clone())?;
        self.due.remove(&key);
        self.running.insert(key.clone());
        Some(key)
    }

    /// When the next key that could start is due.
    fn next_due(&self) -> Option<Instant> {
        self.due.iter().filter(|(k, _)| !self.running.contains(*k)).map(|(_, at)| *at).min()
    }
}

/// Runs `ctrl` until `shutdown` turns true. Reconciles in flight then are left to
/// finish on their own (an instance half-booted must still be recorded).
pub async fn run<C: Controller>(
    ctrl: Arc<C>,
    ctx: Arc<C::Ctx>,
    settings: Settings,
    mut commits: Option<watch::Receiver<u64>>,
    mut shutdown: watch::Receiver<bool>,
) where
    C::Key: std::hash::Hash,
{
    if !settings.on_commit {
        commits = None;
    }
    let mut queue = Queue::new();
    let mut tasks: JoinSet<(C::Key, Result<Action, ControlError>)> = JoinSet::new();
    let start = Instant::now() + settings.first_after;
    let mut next_resync = Some(start);
    let concurrency = settings.concurrency.max(1);
    loop {
        let now = Instant::now();
        if next_resync.is_some_and(|t| t <= now) {
            for key in ctrl.keys(&ctx) {
                queue.schedule(key, now);
            }
            next_resync = settings.resync.map(|r| now + r);
        }
        while tasks.len() < concurrency {
            let Some(key) = queue.pop_due(now) else { break };
            let (ctrl, ctx) = (ctrl.clone(), ctx.clone());
            tasks.spawn(async move {
                let result = ctrl.reconcile(&key, &ctx).await;
                ctx.reconcile_pass(ctrl.name());
                (key, result)
            });
        }
        let wake = match (queue.next_due(), next_resync) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let commit = async {
            match commits.as_mut() {
                Some(rx) => rx.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            open = commit => {
                if open {
                    let now = Instant::now();
                    for key in ctrl.keys(&ctx) {
                        queue.schedule(key, now);
                    }
                } else {
                    commits = None;
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let now = Instant::now();
                match done {
                    Ok((key, result)) => finish(&*ctrl, &mut queue, key, result, now),
                    Err(e) => tracing::error!(controller = ctrl.name(), error = %e, "reconcile task failed"),
                }
            }
            _ = sleep => {}
            _ = shutdown.changed() => break,
        }
    }
    tasks.detach_all();
}

/// Records a finished reconcile and schedules its key's next one.
fn finish<C: Controller>(
    ctrl: &C,
    queue: &mut Queue<C::Key>,
    key: C::Key,
    result: Result<Action, ControlError>,
    now: Instant,
) where
    C::Key: std::hash::Hash,
{
    queue.running.remove(&key);
    let action = match result {
        Ok(action) => {
            queue.failures.remove(&key);
            action
        }
        Err(error) => {
            let failures = queue.failures.entry(key.clone()).or_default();
            *failures += 1;
            ctrl.error_policy(&key, &error, *failures)
        }
    };
    if let Some(after) = action.requeue_after() {
        queue.schedule(key, now + after);
    }
}

/// Reconciles every key once, in order, inline: for tests and simulations, where
/// determinism matters more than parallelism. Stops at the first error.
pub async fn reconcile_all_inline<C: Controller>(
    ctrl: &C,
    ctx: &C::Ctx,
) -> Result<(), ControlError> {
    for key in ctrl.keys(ctx) {
        ctrl.reconcile(&key, ctx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A controller over keys "a", "b", … that records when each reconcile ran, and
    /// answers from a script.
    #[derive(Default)]
    struct Probe {
        keys: Mutex<Vec<&'static str>>,
        /// (key, start offset in ms from the test's start) of every reconcile.
        runs: Mutex<Vec<(&'static str, u64)>>,
        /// How long each reconcile takes.
        takes: Duration,
        /// Per key: the actions to answer, in turn (then `await_change`); `None` fails.
        script: Mutex<HashMap<&'static str, Vec<Option<Action>>>>,
        /// Reconciles of one key running at the same time, at most.
        concurrent: Mutex<HashMap<&'static str, (u32, u32)>>,
        started: Mutex<Option<Instant>>,
    }

    impl Controller for Probe {
        type Key = &'static str;
        type Ctx = ();

        fn name(&self) -> &'static str {
            "probe"
        }

        fn keys(&self, _: &()) -> Vec<&'static str> {
            self.keys.lock().unwrap().clone()
        }

        fn reconcile<'a>(
            &'a self,
            key: &'a &'static str,
            _: &'a (),
        ) -> BoxFuture<'a, Result<Action, ControlError>> {
            Box::pin(async move {
                let t0 = self.started.lock().unwrap().expect("started");
                let at = (Instant::now() - t0).as_millis() as u64;
                self.runs.lock().unwrap().push((*key, at));
                {
                    let mut c = self.concurrent.lock().unwrap();
                    let e = c.entry(*key).or_default();
                    e.0 += 1;
                    e.1 = e.1.max(e.0);
                }
                tokio::time::sleep(self.takes).await;
                self.concurrent.lock().unwrap().get_mut(*key).unwrap().0 -= 1;
                let next = {
                    let mut script = self.script.lock().unwrap();
                    let answers = script.entry(*key).or_default();
                    if answers.is_empty() {
                        Some(Action::await_change())
                    } else {
                        answers.remove(0)
                    }
                };
                next.ok_or_else(|| ControlError::Runtime(std::io::Error::other("scripted failure")))
            })
        }
    }

    struct Running {
        probe: Arc<Probe>,
        commits: watch::Sender<u64>,
        stop: watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
    }

    fn start(probe: Probe, settings: Settings) -> Running {
        let probe = Arc::new(probe);
        *probe.started.lock().unwrap() = Some(Instant::now());
        let (commits, commits_rx) = watch::channel(0);
        let (stop, stop_rx) = watch::channel(false);
        let task =
            tokio::spawn(run(probe.clone(), Arc::new(()), settings, Some(commits_rx), stop_rx));
        Running { probe, commits, stop, task }
    }

    impl Running {
        fn runs(&self, key: &str) -> Vec<u64> {
            let runs = self.probe.runs.lock().unwrap();
            runs.iter().filter(|(k, _)| *k == key).map(|(_, at)| *at).collect()
        }

        async fn stop(self) {
            self.stop.send(true).unwrap();
            self.task.await.unwrap();
        }
    }

    /// Paused time moves on by itself whenever every task waits, to the next timer: all
    /// that is due at an instant runs before the clock moves again.
    async fn advance(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_requeue_runs_the_key_again_after_its_delay() {
        let probe = Probe { keys: Mutex::new(vec!["a", "b"]), ..Default::default() };
        probe.script.lock().unwrap().insert(
            "a",
            vec![Some(Action::requeue(Duration::from_millis(300))), Some(Action::await_change())],
        );
        let r = start(probe, Settings::watching(Duration::from_secs(3600), 4));
        advance(1000).await;
        assert_eq!(r.runs("a"), [0, 300], "once at start, once at its requeue, then no more");
        assert_eq!(r.runs("b"), [0], "await_change: only the start");
        r.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially_and_a_success_resets_it() {
        let probe = Probe { keys: Mutex::new(vec!["a"]), ..Default::default() };
        let fail_then_requeue =
            vec![None, None, None, Some(Action::requeue(Duration::from_millis(100))), None];
        probe.script.lock().unwrap().insert("a", fail_then_requeue);
        let r = start(probe, Settings::watching(Duration::from_secs(3600), 1));
        advance(3000).await;
        // Fails at 0, retried after 250, 500, 1000 ms: 250, 750, 1750; succeeds and
        // requeues 100 ms later (1850), fails again: back to 250 ms (2100).
        assert_eq!(r.runs("a"), [0, 250, 750, 1750, 1850, 2100]);
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(30), Duration::from_secs(60));
        r.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn triggers_coalesce_and_a_key_never_runs_twice_at_once() {
        let probe = Probe {
            keys: Mutex::new(vec!["a"]),
            takes: Duration::from_millis(100),
            ..Default::default()
        };
        let r = start(probe, Settings::watching(Duration::from_secs(3600), 8));
        tokio::task::yield_now().await;
        // Five commits while the first reconcile runs: one more run after it, not five,
        // and never two at once.
        for n in 1..=5 {
            r.commits.send(n).unwrap();
            advance(10).await;
        }
        advance(1000).await;
        assert_eq!(r.runs("a"), [0, 100]);
        assert_eq!(r.probe.concurrent.lock().unwrap()["a"].1, 1);
        r.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn the_resync_schedules_every_key_and_time_only_controllers_ignore_commits() {
        let probe = Probe { keys: Mutex::new(vec!["a"]), ..Default::default() };
        let r = start(probe, Settings::every(Duration::from_millis(400)));
        r.commits.send(1).unwrap();
        advance(1000).await;
        assert_eq!(r.runs("a"), [0, 400, 800]);
        r.stop().await;
    }
}
