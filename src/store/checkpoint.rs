//! Checkpoints off the writer's path. In WAL mode SQLite appends each commit to the
//! write-ahead log, and by default the commit that takes the log past 1,000 pages copies the
//! log into the database file and syncs it — a fifth of the writer's time in a cold poll, on
//! the one thread every poll's store waits for. The daemon's (and `once`'s) writer instead
//! asks a thread of its own, with its own connection, to do it (`PASSIVE`: it never waits for
//! a reader or the writer, and copies what it can), and goes on writing.
//!
//! If that thread falls behind, the log keeps growing; past [`WRITER_CHECKPOINTS_AT`] pages
//! the writer checkpoints itself, as SQLite would have. When the last connection closes,
//! SQLite checkpoints what is left and removes the log, as before.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use tracing::debug;

use super::{Backend, Store, StoreError};

/// The log's size (pages) at which the writer asks for a checkpoint: SQLite's own default.
const ASK_AT: i32 = 1000;
/// The log's size (pages, 4 KiB each) at which the writer checkpoints itself.
const WRITER_CHECKPOINTS_AT: i32 = 16 * ASK_AT;

/// The thread that checkpoints; dropping it stops the thread and closes its connection.
pub(super) struct Checkpointer {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Signal {
    state: Mutex<Wanted>,
    changed: Condvar,
}

#[derive(Default)]
struct Wanted {
    checkpoint: bool,
    stop: bool,
}

impl Store {
    /// Moves this connection's checkpoints to a thread of their own (see the module). For
    /// the one connection that writes polls; others keep SQLite's automatic checkpoints.
    /// PostgreSQL checkpoints on its own: nothing to do there.
    pub fn checkpoint_in_background(&mut self) -> Result<(), StoreError> {
        if self.sqlite().is_none() {
            return Ok(());
        }
        let conn = Connection::open(&self.path).map_err(|source| self.error(source))?;
        // As the writer: no sync beyond what a checkpoint needs, and no long wait for a lock
        // (a `PASSIVE` checkpoint never waits; opening may read the schema).
        conn.busy_timeout(Duration::from_secs(1))
            .and_then(|()| conn.execute_batch("PRAGMA synchronous = NORMAL"))
            .map_err(|source| self.error(source))?;
        let signal = Arc::new(Signal::default());
        let thread = std::thread::Builder::new()
            .name("checkpoint".to_string())
            .spawn({
                let signal = signal.clone();
                move || checkpoint_when_asked(&conn, &signal)
            })
            .map_err(|cause| {
                StoreError::Task(format!("cannot start the checkpoint thread: {cause}"))
            })?;
        // Owned from here: if the hook cannot be registered, dropping it stops the thread.
        let checkpointer = Checkpointer {
            signal: signal.clone(),
            thread: Some(thread),
        };
        let Backend::Sqlite(writer) = &mut self.backend else {
            unreachable!("checked above")
        };
        writer
            .wal_hook(Some(move |wal: &mut Wal, pages: i32| {
                if pages >= WRITER_CHECKPOINTS_AT {
                    // An error returned from here would make the commit that ran the hook
                    // report one, though it committed: a checkpoint that cannot run now
                    // (the thread is checkpointing: busy) is left for the next commit.
                    if let Err(error) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                        debug!(%error, "the writer's own checkpoint failed");
                    }
                } else if pages >= ASK_AT {
                    signal.ask(|wanted| wanted.checkpoint = true);
                }
                Ok(())
            }))
            .map_err(|source| StoreError::Sqlite {
                path: self.path.clone(),
                cause: source,
            })?;
        self.checkpointer = Some(checkpointer);
        Ok(())
    }
}

impl Signal {
    fn ask(&self, change: impl FnOnce(&mut Wanted)) {
        change(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_one();
    }
}

/// The checkpoint thread: one `PASSIVE` checkpoint each time the writer asks, until told to
/// stop.
fn checkpoint_when_asked(conn: &Connection, signal: &Signal) {
    loop {
        {
            let mut wanted = signal.state.lock().unwrap_or_else(PoisonError::into_inner);
            while !wanted.checkpoint && !wanted.stop {
                wanted = signal
                    .changed
                    .wait(wanted)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if wanted.stop {
                return;
            }
            wanted.checkpoint = false;
        }
        // A failure (a reader holding an old snapshot, a full disk) leaves the log as it
        // is: the next request tries again, and the writer's own backstop bounds the log.
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            debug!(%error, "background checkpoint failed");
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.signal.ask(|wanted| wanted.stop = true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checkpointer")
    }
}
