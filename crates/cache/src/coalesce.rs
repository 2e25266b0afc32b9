//! Request coalescing: one fetch per key at a time. The first caller for a key becomes the
//! leader and fetches; callers that arrive while it does become followers and wait for its
//! result. If the leader is dropped (cancelled) before it completes, its followers wake up and
//! one of them leads; a follower that waits longer than the bound fetches on its own.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::metrics::CoalesceMetrics;

type Slot<V> = Arc<watch::Sender<Option<V>>>;

struct Inner<V> {
    inflight: Mutex<HashMap<String, Slot<V>>>,
    wait_limit: Duration,
    metrics: CoalesceMetrics,
}

impl<V> Inner<V> {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot<V>>> {
        self.inflight.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One fetch per key at a time. Cheap to clone; clones share the in-flight map.
pub struct Coalescer<V> {
    inner: Arc<Inner<V>>,
}

impl<V> Clone for Coalescer<V> {
    fn clone(&self) -> Self {
        Coalescer {
            inner: self.inner.clone(),
        }
    }
}

/// The role a caller got for a key.
pub enum Role<V> {
    /// Fetch, then [`LeaderGuard::complete`]. Dropping the guard without completing lets a
    /// follower take over.
    Leader(LeaderGuard<V>),
    /// Wait with [`Follower::wait`].
    Follower(Follower<V>),
}

/// The right and duty to fetch a key.
pub struct LeaderGuard<V> {
    inner: Arc<Inner<V>>,
    key: String,
    slot: Slot<V>,
}

/// A caller waiting for a leader.
pub struct Follower<V> {
    rx: watch::Receiver<Option<V>>,
    wait_limit: Duration,
}

/// What a follower's wait ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Waited<V> {
    /// The leader's result.
    Value(V),
    /// The leader was dropped before completing: try again (and perhaps lead).
    LeaderGone,
    /// The wait exceeded the bound.
    TimedOut,
}

/// How a [`Coalescer::run`] caller got its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It fetched, for itself and its followers.
    Leader,
    /// It shared a leader's fetch.
    Follower,
    /// It stopped waiting for a slow leader and fetched on its own.
    TimedOut,
}

impl<V: Clone + Send + Sync + 'static> Coalescer<V> {
    /// A coalescer whose followers wait at most `wait_limit` for a leader.
    pub fn new(wait_limit: Duration) -> Coalescer<V> {
        Self::with_metrics(wait_limit, CoalesceMetrics::default())
    }

    /// Like [`Self::new`], counting leaders, followers and timeouts.
    pub fn with_metrics(wait_limit: Duration, metrics: CoalesceMetrics) -> Coalescer<V> {
        Coalescer {
            inner: Arc::new(Inner {
                inflight: Mutex::new(HashMap::new()),
                wait_limit,
                metrics,
            }),
        }
    }

    /// Becomes the leader for `key`, or a follower of the current leader.
    pub fn acquire(&self, key: &str) -> Role<V> {
        let mut map = self.inner.lock();
        if let Some(slot) = map.get(key) {
            self.inner.metrics.followers.inc();
            return Role::Follower(Follower {
                rx: slot.subscribe(),
                wait_limit: self.inner.wait_limit,
            });
        }
        let slot: Slot<V> = Arc::new(watch::channel(None).0);
        map.insert(key.to_string(), slot.clone());
        self.inner.metrics.leaders.inc();
        Role::Leader(LeaderGuard {
            inner: self.inner.clone(),
            key: key.to_string(),
            slot,
        })
    }

    /// Runs `fetch` for `key` unless another caller is already fetching it, in which case this
    /// waits for that caller's value. Every caller's `fetch` is run at most once, and only
    /// when it leads (or when its wait timed out).
    pub async fn run<F, Fut>(&self, key: &str, fetch: F) -> (V, Outcome)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        loop {
            match self.acquire(key) {
                Role::Leader(guard) => {
                    let v = fetch().await;
                    guard.complete(v.clone());
                    return (v, Outcome::Leader);
                }
                Role::Follower(f) => match f.wait().await {
                    Waited::Value(v) => return (v, Outcome::Follower),
                    Waited::LeaderGone => continue,
                    Waited::TimedOut => {
                        self.inner.metrics.timeouts.inc();
                        return (fetch().await, Outcome::TimedOut);
                    }
                },
            }
        }
    }

    /// Keys being fetched now.
    pub fn in_flight(&self) -> usize {
        self.inner.lock().len()
    }

    /// Followers waiting on `key` now (for tests and the dashboard).
    pub fn followers(&self, key: &str) -> usize {
        self.inner.lock().get(key).map_or(0, |s| s.receiver_count())
    }
}

impl<V> LeaderGuard<V> {
    /// The key this guard leads.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Hands `value` to every follower and releases the key.
    pub fn complete(self, value: V) {
        self.slot.send_replace(Some(value));
        // Drop removes the key.
    }
}

impl<V> Drop for LeaderGuard<V> {
    fn drop(&mut self) {
        let mut map = self.inner.lock();
        if map
            .get(&self.key)
            .is_some_and(|s| Arc::ptr_eq(s, &self.slot))
        {
            map.remove(&self.key);
        }
        // When this guard held the last sender and no value was sent, followers see the
        // channel close and retry.
    }
}

impl<V: Clone> Follower<V> {
    /// Waits for the leader's value, at most the coalescer's wait limit.
    pub async fn wait(mut self) -> Waited<V> {
        let waited = tokio::time::timeout(self.wait_limit, self.rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(v)) => match v.as_ref() {
                Some(v) => Waited::Value(v.clone()),
                None => Waited::LeaderGone,
            },
            Ok(Err(_closed)) => Waited::LeaderGone,
            Err(_elapsed) => Waited::TimedOut,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Notify;

    /// Polls `cond` until it holds, yielding to other tasks; fails after a deadline.
    async fn eventually(what: &str, cond: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn n_concurrent_callers_one_fetch() {
        const N: usize = 50;
        let c: Coalescer<Arc<String>> = Coalescer::new(Duration::from_secs(60));
        let fetches = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..N {
            let (c, fetches, gate) = (c.clone(), fetches.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                c.run("/k", || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    Arc::new("body".to_string())
                })
                .await
            }));
        }
        eventually("every follower to wait", || c.followers("/k") == N - 1).await;
        gate.notify_one();
        let mut leaders = 0;
        for t in tasks {
            let (v, outcome) = t.await.unwrap();
            assert_eq!(v.as_str(), "body");
            leaders += usize::from(outcome == Outcome::Leader);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(leaders, 1);
        assert_eq!(c.in_flight(), 0, "the key is released");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn different_keys_fetch_independently() {
        let c: Coalescer<u32> = Coalescer::new(Duration::from_secs(60));
        let (a, b) = tokio::join!(c.run("/a", || async { 1 }), c.run("/b", || async { 2 }));
        assert_eq!((a, b), ((1, Outcome::Leader), (2, Outcome::Leader)));
        // sequential calls each lead
        assert_eq!(c.run("/a", || async { 3 }).await, (3, Outcome::Leader));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelled_leader_hands_over_to_a_follower() {
        let m = edgeway_http::metrics::Metrics::new();
        let c: Coalescer<u32> =
            Coalescer::with_metrics(Duration::from_secs(60), CoalesceMetrics::new(&m));
        let fetches = Arc::new(AtomicUsize::new(0));
        // the leader never finishes; it is aborted
        let leader = {
            let (c, fetches) = (c.clone(), fetches.clone());
            tokio::spawn(async move {
                c.run("/k", || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<u32>().await
                })
                .await
            })
        };
        eventually("the leader to start", || {
            fetches.load(Ordering::SeqCst) == 1
        })
        .await;
        let gate = Arc::new(Notify::new());
        let mut followers = Vec::new();
        for i in 0..5u32 {
            let (c, fetches, gate) = (c.clone(), fetches.clone(), gate.clone());
            followers.push(tokio::spawn(async move {
                c.run("/k", || async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    gate.notified().await;
                    100 + i
                })
                .await
            }));
        }
        eventually("five followers", || c.followers("/k") == 5).await;
        leader.abort();
        assert!(leader.await.unwrap_err().is_cancelled());
        // one follower leads now and the other four follow it
        eventually("a new leader and four followers", || {
            fetches.load(Ordering::SeqCst) == 2 && c.followers("/k") == 4
        })
        .await;
        gate.notify_one();
        let mut values = Vec::new();
        for f in followers {
            values.push(f.await.unwrap());
        }
        // exactly one follower took over and fetched; the others shared its value
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        let new_leaders: Vec<_> = values
            .iter()
            .filter(|(_, o)| *o == Outcome::Leader)
            .collect();
        assert_eq!(new_leaders.len(), 1);
        assert!(values.iter().all(|(v, _)| *v == new_leaders[0].0));
        assert_eq!(c.in_flight(), 0);
        assert_eq!(m.value("edgeway_cache_coalesce_leaders_total", &[]), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_follower_stops_waiting_after_the_bound() {
        let c: Coalescer<u32> = Coalescer::new(Duration::from_secs(5));
        let Role::Leader(guard) = c.acquire("/k") else {
            panic!("first caller leads")
        };
        let started = tokio::time::Instant::now();
        // the paused clock advances to the timeout as soon as every task is idle
        let (v, outcome) = c.run("/k", || async { 7 }).await;
        assert_eq!((v, outcome), (7, Outcome::TimedOut));
        assert!(started.elapsed() >= Duration::from_secs(5));
        // the slow leader still completes normally
        guard.complete(1);
        assert_eq!(c.in_flight(), 0);
    }

    #[tokio::test]
    async fn guard_api_and_late_joiners() {
        let c: Coalescer<&'static str> = Coalescer::new(Duration::from_secs(60));
        let Role::Leader(guard) = c.acquire("/k") else {
            panic!("leads")
        };
        assert_eq!(guard.key(), "/k");
        let Role::Follower(f) = c.acquire("/k") else {
            panic!("follows")
        };
        guard.complete("done");
        assert_eq!(f.wait().await, Waited::Value("done"));
        // after completion the next caller leads again
        assert!(matches!(c.acquire("/k"), Role::Leader(_)));
        // a dropped guard wakes followers with LeaderGone
        let Role::Leader(guard) = c.acquire("/k") else {
            panic!("leads")
        };
        let Role::Follower(f) = c.acquire("/k") else {
            panic!("follows")
        };
        drop(guard);
        assert_eq!(f.wait().await, Waited::LeaderGone);
    }
}
