//! Polls waiting for the store are written together (with their new items, or only the
//! feed's new state after a 304 or a failure). Each poll that is ready puts its commit
//! in a queue, then takes the store's lock; the first to get it writes every commit queued
//! by then in one transaction ([`Store::commit_polls`]) and leaves each poll its result, so
//! the polls behind it find theirs written when their turn comes. One transaction for
//! several polls writes their shared pages (the indexes' last leaves, the feeds table) once;
//! what is stored is the same as their commits one after the other in the queue's order.
//!
//! A poll that commits from async code ([`CommitQueue::commit_async`], the polls that stored
//! no items: a 304, a failure) waits for its turn without a thread; only the poll whose turn
//! comes with its commit still queued hands the queue to a blocking thread. So a thousand
//! 304s cost a few transactions and a few thread hand-offs, not a thousand of each.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{CommitSummary, PollCommit, SharedStore, Store, StoreError, lock};
use crate::model::{AlertRoute, FeedId, FeedState, MatchedItem, Notice, StoryPolicy};

/// A poll's commit, owned, so that another poll's thread can write it.
#[derive(Debug)]
pub struct OwnedCommit {
    pub feed_id: FeedId,
    pub items: Vec<MatchedItem>,
    pub state: FeedState,
    pub now: DateTime<Utc>,
    pub routes: Arc<Vec<AlertRoute>>,
    pub notice: Option<Notice>,
    pub policy: StoryPolicy,
    pub baseline: bool,
    pub body: bool,
}

impl OwnedCommit {
    fn borrowed(&self) -> PollCommit<'_> {
        PollCommit {
            feed_id: self.feed_id,
            items: &self.items,
            state: &self.state,
            now: self.now,
            routes: &self.routes,
            notice: self.notice.as_ref(),
            policy: &self.policy,
            baseline: self.baseline,
            body: self.body,
        }
    }
}

/// What became of a commit: given back with its result.
#[derive(Debug)]
pub struct Committed {
    pub commit: OwnedCommit,
    pub result: Result<CommitSummary, StoreError>,
    /// How long this caller spent writing (its poll and those queued with it); zero when
    /// another poll wrote it.
    pub writing: Duration,
}

/// The commits waiting for the store. One per store, shared by every poll.
#[derive(Debug, Default)]
pub struct CommitQueue {
    waiting: Mutex<Vec<Arc<Slot>>>,
    /// Async committers take turns here, so that one at a time writes the queue.
    turn: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Slot {
    commit: Mutex<Option<OwnedCommit>>,
    done: Mutex<Option<(OwnedCommit, Result<CommitSummary, StoreError>)>>,
}

impl Slot {
    /// The commit and its result, once another poll wrote it.
    fn written(&self) -> Option<Committed> {
        take(&self.done).map(|(commit, result)| Committed {
            commit,
            result,
            writing: Duration::ZERO,
        })
    }
}

fn take<T>(mutex: &Mutex<Option<T>>) -> Option<T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner()).take()
}

impl CommitQueue {
    /// Writes `commit` to `store`, with any others waiting. Blocks.
    pub fn commit(&self, store: &SharedStore, commit: OwnedCommit) -> Committed {
        let slot = self.enqueue(commit);
        let mut store = lock(store);
        if let Some(committed) = slot.written() {
            return committed;
        }
        // Not written yet, so still queued: whoever takes the queue fills every result in
        // it before letting go of the store.
        self.write_queue(&mut store, &slot)
    }

    /// Writes `commit` to `store`, with any others waiting, from async code: it waits for
    /// its turn without holding a thread, and takes a blocking thread only if its commit
    /// is still queued when its turn comes (then it writes every commit queued by then).
    pub async fn commit_async(
        self: &Arc<Self>,
        store: &SharedStore,
        commit: OwnedCommit,
    ) -> Committed {
        let slot = self.enqueue(commit);
        let _turn = self.turn.lock().await;
        if let Some(committed) = slot.written() {
            return committed;
        }
        let queue = self.clone();
        let store = store.clone();
        super::blocking(move || {
            let mut store = lock(&store);
            match slot.written() {
                // A blocking committer wrote it while this one waited for the store.
                Some(committed) => committed,
                None => queue.write_queue(&mut store, &slot),
            }
        })
        .await
    }

    fn enqueue(&self, commit: OwnedCommit) -> Arc<Slot> {
        let slot = Arc::new(Slot {
            commit: Mutex::new(Some(commit)),
            done: Mutex::new(None),
        });
        self.queue().push(slot.clone());
        slot
    }

    /// Writes every queued commit (`slot`'s among them) in one transaction and leaves each
    /// its result; gives back `slot`'s. The caller holds the store.
    fn write_queue(&self, store: &mut Store, slot: &Slot) -> Committed {
        let started = Instant::now();
        let batch = std::mem::take(&mut *self.queue());
        let commits: Vec<OwnedCommit> = batch
            .iter()
            .map(|slot| take(&slot.commit).expect("a queued slot holds its commit"))
            .collect();
        let polls: Vec<PollCommit<'_>> = commits.iter().map(OwnedCommit::borrowed).collect();
        // A panic (a bug) while writing must not leave the polls behind without a result.
        let written =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.commit_polls(&polls)));
        drop(polls);
        let results: Vec<Result<CommitSummary, StoreError>> = match written {
            Ok(results) => results,
            Err(panic) => {
                // Whatever the transaction added to the story index was rolled back.
                store.forget_story_index();
                let message = crate::parse::panic_message(&*panic);
                commits
                    .iter()
                    .map(|_| Err(StoreError::Task(format!("internal error: {message}"))))
                    .collect()
            }
        };
        for ((queued, commit), result) in batch.iter().zip(commits).zip(results) {
            *queued.done.lock().unwrap_or_else(|p| p.into_inner()) = Some((commit, result));
        }
        let (commit, result) = take(&slot.done).expect("the batch held this poll's slot");
        Committed {
            commit,
            result,
            writing: started.elapsed(),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Slot>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}
