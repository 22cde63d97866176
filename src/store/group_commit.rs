//! Group commit for captures, on both backends.
//!
//! A commit waits for the disk (SQLite's write-ahead log, PostgreSQL's WAL flush), so loops
//! captured at the same moment are written in one transaction: one task per instance writes
//! whatever gathered while the last commit ran. On PostgreSQL this also keeps concurrent captures
//! from queueing one by one on the lock of the organisation's dashboard row of the day, which
//! every loop written adds one to (migration 0050): a batch takes it once.
//!
//! Nobody is answered before the commit that holds their loop. If a batch fails, each of its
//! loops is written again alone, so that one bad loop fails only its own capture.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};

use sqlx::pool::PoolConnection;
use sqlx::Pool;

use super::loops::NewLoop;
use super::{StoreError, StoreResult};

/// How a backend writes the loops the queue hands it, on a connection of its pool.
pub(super) trait BatchWriter: Send + Sync + 'static {
    type Db: sqlx::Database;

    /// Writes `loops` in one transaction, all or nothing.
    fn write_together<'a>(
        connection: &'a mut PoolConnection<Self::Db>,
        loops: &'a [&'a NewLoop],
    ) -> impl Future<Output = StoreResult<()>> + Send + 'a;

    /// Writes one loop in a transaction of its own (after its batch failed).
    fn write_alone<'a>(
        connection: &'a mut PoolConnection<Self::Db>,
        new: &'a NewLoop,
    ) -> impl Future<Output = StoreResult<()>> + Send + 'a;
}

type Waiting = (NewLoop, tokio::sync::oneshot::Sender<StoreResult<()>>);

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// A task is writing batches; new loops join the queue and wait for it.
    writing: bool,
}

/// The most loops one commit writes.
const BATCH_MAX: usize = 64;

/// Batches a held connection writes before other writes get their turn (SQLite has one writer
/// connection; PostgreSQL's pool is shared with every other use case).
const HOLD_BATCHES: usize = 8;

/// Captured loops waiting for the next commit, and the pool their backend `W` writes them with.
pub(super) struct GroupCommit<W: BatchWriter> {
    pool: Pool<W::Db>,
    queue: Arc<Mutex<Queue>>,
    backend: PhantomData<fn() -> W>,
}

impl<W: BatchWriter> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            queue: self.queue.clone(),
            backend: PhantomData,
        }
    }
}

impl<W: BatchWriter> GroupCommit<W> {
    pub(super) fn new(pool: Pool<W::Db>) -> Self {
        Self {
            pool,
            queue: Default::default(),
            backend: PhantomData,
        }
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, Queue>> {
        self.queue
            .lock()
            .map_err(|_| StoreError::Corrupt("the capture batch lock is poisoned".to_owned()))
    }

    /// Writes `new` with the loops captured at the same moment; returns once it is committed.
    pub(super) async fn write(&self, new: &NewLoop) -> StoreResult<()> {
        let (sender, outcome) = tokio::sync::oneshot::channel();
        let lead = {
            let mut queue = self.lock()?;
            queue.waiting.push((new.clone(), sender));
            !std::mem::replace(&mut queue.writing, true)
        };
        if lead {
            // A task of its own, so that a cancelled request cannot leave the others waiting.
            tokio::spawn(self.clone().write_all());
        }
        outcome
            .await
            .map_err(|_| StoreError::Corrupt("a batched capture was dropped".to_owned()))?
    }

    /// Writes batches until nobody is waiting, on one connection held from batch to batch: a
    /// connection returned to the pool goes back through a task of its own, and under load
    /// the next batch waited for that task longer than its INSERTs took.
    async fn write_all(self) {
        let mut held: Option<PoolConnection<W::Db>> = None;
        let mut written = 0_usize;
        loop {
            let taken: Vec<Waiting> = match self.lock() {
                Ok(mut queue) => {
                    if queue.waiting.is_empty() {
                        queue.writing = false;
                        return;
                    }
                    let n = queue.waiting.len().min(BATCH_MAX);
                    queue.waiting.drain(..n).collect()
                }
                // Poisoned: the waiting captures see their senders dropped.
                Err(_) => return,
            };
            if written % HOLD_BATCHES == 0 {
                held = None;
            }
            written += 1;
            self.write_batch(&mut held, taken).await;
        }
    }

    /// Answers each capture of `batch`. After a failure `held` is let go: the connection may be
    /// what failed (PostgreSQL restarted), so the loops are written again on a fresh one.
    async fn write_batch(&self, held: &mut Option<PoolConnection<W::Db>>, batch: Vec<Waiting>) {
        let together = match self.connection(held).await {
            Ok(connection) => {
                let loops: Vec<&NewLoop> = batch.iter().map(|(new, _)| new).collect();
                W::write_together(connection, &loops).await
            }
            Err(error) => Err(error),
        };
        let error = match together {
            Ok(()) => {
                for (_, sender) in batch {
                    // The capture may have gone (its request was cancelled); its loop is written.
                    let _ = sender.send(Ok(()));
                }
                return;
            }
            Err(error) => error,
        };
        *held = None;
        if batch.len() == 1 {
            if let Some((_, sender)) = batch.into_iter().next() {
                let _ = sender.send(Err(error));
            }
            return;
        }
        for (new, sender) in batch {
            let alone = match self.connection(held).await {
                Ok(connection) => W::write_alone(connection, &new).await,
                Err(error) => Err(error),
            };
            if alone.is_err() {
                *held = None;
            }
            let _ = sender.send(alone);
        }
    }

    async fn connection<'h>(
        &self,
        held: &'h mut Option<PoolConnection<W::Db>>,
    ) -> StoreResult<&'h mut PoolConnection<W::Db>> {
        if held.is_none() {
            let connection = self.pool.acquire().await.map_err(|error| {
                StoreError::Io(std::io::Error::other(format!(
                    "no connection to write with: {error}"
                )))
            })?;
            *held = Some(connection);
        }
        held.as_mut()
            .ok_or_else(|| StoreError::Corrupt("the held connection vanished".to_owned()))
    }
}
