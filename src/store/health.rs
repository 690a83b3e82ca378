//! Whether the store can write, as the daemon's writers last found it (a full disk, a file
//! system gone read-only). No SQL: the poll pipeline, the alert workers and retention report
//! each write's result here, and the daemon shows it (`feeds`, `/status`, `/metrics`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tracing::{error, info};

use super::StoreError;

/// Shared by every writer of one process; cheap to clone.
#[derive(Debug, Clone)]
pub struct WriteHealth {
    state: Arc<watch::Sender<Option<WriteFailure>>>,
    /// Whether any write failed since the process started (`once` then leaves the
    /// database for the next one to check).
    ever_failed: Arc<AtomicBool>,
}

/// The store has failed to write since `since`; `error` is the latest failure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WriteFailure {
    pub error: String,
    pub since: DateTime<Utc>,
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "store cannot write since {}: {}",
            self.since.format("%Y-%m-%d %H:%M:%S UTC"),
            self.error
        )
    }
}

impl Default for WriteHealth {
    fn default() -> Self {
        WriteHealth {
            state: Arc::new(watch::Sender::new(None)),
            ever_failed: Arc::default(),
        }
    }
}

impl WriteHealth {
    /// Notes how a write went; logs when the store stops or starts writing again.
    pub fn record<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Ok(_) => {
                self.state.send_if_modified(|state| {
                    let Some(failure) = state.take() else {
                        return false;
                    };
                    info!(since = %failure.since, "store writes again");
                    true
                });
            }
            Err(cause) => {
                self.ever_failed.store(true, Ordering::Relaxed);
                let error = cause.to_string();
                self.state.send_if_modified(|state| match state {
                    Some(failure) if failure.error == error => false,
                    Some(failure) => {
                        failure.error = error;
                        true
                    }
                    None => {
                        error!(
                            error = %error,
                            "store cannot write: polls go on but store nothing, and alerts wait \
                             until it can"
                        );
                        *state = Some(WriteFailure {
                            error,
                            since: Utc::now(),
                        });
                        true
                    }
                });
            }
        }
    }

    /// The current failure, if the last write failed.
    pub fn failure(&self) -> Option<WriteFailure> {
        self.state.borrow().clone()
    }

    /// Whether any write has failed since the process started.
    pub fn ever_failed(&self) -> bool {
        self.ever_failed.load(Ordering::Relaxed)
    }

    /// Changes of the state, for the daemon to show.
    pub fn subscribe(&self) -> watch::Receiver<Option<WriteFailure>> {
        self.state.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_kept_with_its_start_until_a_write_succeeds() {
        let health = WriteHealth::default();
        assert_eq!(health.failure(), None);
        let full = || -> Result<(), StoreError> { Err(StoreError::Task("disk full".into())) };
        health.record(&full());
        let first = health.failure().expect("failing");
        assert!(first.to_string().starts_with("store cannot write since "));
        assert!(first.error.contains("disk full"));
        health.record(&full());
        assert_eq!(health.failure().unwrap().since, first.since);
        health.record(&Ok::<(), StoreError>(()));
        assert_eq!(health.failure(), None);
    }
}
