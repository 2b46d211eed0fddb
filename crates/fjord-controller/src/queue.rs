//! A de-duplicating work queue shared by the controllers: a key already
//! queued is not queued twice, and a key that is being worked on is never
//! worked on twice at once — it runs once more when the current run ends.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};

pub struct WorkQueue {
    tx: mpsc::UnboundedSender<String>,
    rx: Arc<Mutex<mpsc::UnboundedReceiver<String>>>,
    queued: StdMutex<HashSet<String>>,
    /// Keys being worked on → whether they were queued again meanwhile.
    running: StdMutex<HashMap<String, bool>>,
}

impl WorkQueue {
    pub fn new() -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        Arc::new(WorkQueue {
            tx,
            rx: Arc::new(Mutex::new(rx)),
            queued: Default::default(),
            running: Default::default(),
        })
    }

    pub fn enqueue(&self, key: &str) {
        if let Ok(mut running) = self.running.lock()
            && let Some(again) = running.get_mut(key)
        {
            *again = true;
            return;
        }
        let fresh = self.queued.lock().map(|mut q| q.insert(key.to_string())).unwrap_or(true);
        if fresh {
            let _ = self.tx.send(key.to_string());
        }
    }

    pub fn enqueue_after(self: &Arc<Self>, key: &str, after: Duration) {
        let queue = self.clone();
        let key = key.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            queue.enqueue(&key);
        });
    }

    /// Starts `workers` tasks that call `handle` for each key.
    pub fn spawn_workers<F, Fut>(self: &Arc<Self>, workers: usize, handle: F)
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = Arc::new(handle);
        for _ in 0..workers.max(1) {
            let queue = self.clone();
            let handle = handle.clone();
            tokio::spawn(async move {
                while let Some(key) = queue.next().await {
                    handle(key.clone()).await;
                    queue.finish(&key);
                }
            });
        }
    }

    /// The next key nobody is working on, marked as running.
    async fn next(&self) -> Option<String> {
        loop {
            let key = self.rx.lock().await.recv().await?;
            if let Ok(mut q) = self.queued.lock() {
                q.remove(&key);
            }
            let Ok(mut running) = self.running.lock() else { continue };
            match running.get_mut(&key) {
                Some(again) => *again = true,
                None => {
                    running.insert(key.clone(), false);
                    return Some(key);
                }
            }
        }
    }

    fn finish(&self, key: &str) {
        let again = self.running.lock().ok().and_then(|mut r| r.remove(key)).unwrap_or(false);
        if again {
            self.enqueue(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_key_queued_while_running_runs_once_more_and_never_concurrently() {
        let queue = WorkQueue::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let active = Arc::new(AtomicUsize::new(0));
        let overlap = Arc::new(AtomicUsize::new(0));
        let (r, a, o) = (runs.clone(), active.clone(), overlap.clone());
        queue.spawn_workers(4, move |_key| {
            let (r, a, o) = (r.clone(), a.clone(), o.clone());
            async move {
                if a.fetch_add(1, Ordering::SeqCst) > 0 {
                    o.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                a.fetch_sub(1, Ordering::SeqCst);
                r.fetch_add(1, Ordering::SeqCst);
            }
        });
        queue.enqueue("a");
        tokio::time::sleep(Duration::from_millis(10)).await;
        for _ in 0..5 {
            queue.enqueue("a");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(overlap.load(Ordering::SeqCst), 0);
    }
}
