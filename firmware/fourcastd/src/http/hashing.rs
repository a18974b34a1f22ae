//! Password hashing off the async runtime, on two threads of its own.
//!
//! Argon2id takes 19 MiB per hash. Run on tokio's blocking pool, a burst of logins gets a
//! thread each, every thread its own allocator arena, and the freed blocks stay mapped:
//! 500 parallel logins took the daemon to 2.5 GiB, for good. Here at most [`THREADS`]
//! hashes run at once, always on the same threads (their arenas reuse the same blocks), and
//! at most [`QUEUE`] wait; more are turned away at once with "busy".

use std::sync::mpsc;

/// Hashes computed at once.
pub(crate) const THREADS: usize = 2;
/// Hashes waiting for a thread.
const QUEUE: usize = 16;

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct Hashing {
    jobs: mpsc::SyncSender<Job>,
}

/// The pool is full; try again in a moment.
#[derive(Debug)]
pub(crate) struct Busy;

impl Hashing {
    pub(crate) fn start() -> Hashing {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE);
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for n in 0..THREADS {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            // A panicking job must not take the thread with it.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a password hashing thread: {e}");
            }
        }
        Hashing { jobs }
    }

    /// Runs `work` on a hashing thread; [`Busy`] at once if the queue is full.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        self.jobs.try_send(job).map_err(|_| Busy)?;
        rx.await.map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_two_run_at_once_and_a_full_queue_is_busy_at_once() {
        let pool = Arc::new(Hashing::start());
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        let mut busy = 0;
        for t in tasks {
            busy += usize::from(t.await.unwrap().is_err());
        }
        assert!(most.load(Ordering::SeqCst) <= THREADS, "{most:?} at once");
        assert!(busy > 0, "40 at once should overflow a queue of {QUEUE}");
        assert!(busy <= 40 - QUEUE, "{busy} turned away");
        // A job that panics leaves the pool working.
        assert!(pool.run(|| panic!("boom")).await.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}
