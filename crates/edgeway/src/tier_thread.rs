//! A tier's own event loop: a current-thread runtime driven by a thread of its own.
//!
//! With one worker, the load balancer runs on one of these (thread `edgeway-alb`) while the
//! edge, DNS and admin run on the main thread. The kernel then schedules the two tiers as it
//! would two processes (an nginx in front of an HAProxy): each sleeps when it has nothing to do,
//! so a busy edge does not keep the balancer's loop awake, and the targets, woken by the
//! balancer, answer in batches instead of preempting a process that never sleeps one request at
//! a time (docs/performance.md, batch 9). The tiers talk over sockets only, so nothing else
//! changes.

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// A running tier thread; [`TierThread::stop`] ends it.
pub struct TierThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    join: Option<std::thread::JoinHandle<()>>,
}

impl TierThread {
    /// Starts a thread named `name` that drives a new current-thread runtime until stopped.
    pub fn start(name: &str) -> Result<Self, String> {
        let rt = Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the {name} runtime: {e}"))?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let (up, is_up) = std::sync::mpsc::sync_channel::<()>(1);
        let join = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                // The thread carries its name by now: say so, so that the caller returns only
                // once the tier's thread exists as the operator will see it (`ps -L`, /proc).
                let _ = up.send(());
                // Runs every task spawned on `handle` until told to stop (or the sender is
                // dropped); the runtime is dropped here, off any async context.
                rt.block_on(async move {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
        if is_up.recv().is_err() {
            let _ = join.join();
            return Err(format!("the {name} thread ended as it started"));
        }
        Ok(Self {
            handle,
            stop: Some(stop),
            join: Some(join),
        })
    }

    /// Where to spawn the tier's tasks (and register its sockets).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Stops the runtime (cancelling what still runs on it) and waits for the thread.
    pub fn stop(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

impl Drop for TierThread {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::TierThread;

    #[test]
    fn tasks_run_on_the_named_thread_and_stop_ends_it() {
        let t = TierThread::start("edgeway-test").unwrap();
        // The thread is up and named by the time `start` returns.
        #[cfg(target_os = "linux")]
        {
            let names: Vec<String> = std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
                .map(|n| n.trim().to_string())
                .collect();
            assert!(names.iter().any(|n| n == "edgeway-test"), "{names:?}");
        }
        let (tx, rx) = std::sync::mpsc::channel();
        t.handle().spawn(async move {
            tokio::task::yield_now().await;
            let _ = tx.send(std::thread::current().name().map(str::to_string));
        });
        let name = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(name.as_deref(), Some("edgeway-test"));
        // A task that never ends does not keep the thread alive past `stop`.
        t.handle().spawn(std::future::pending::<()>());
        t.stop();
    }
}
