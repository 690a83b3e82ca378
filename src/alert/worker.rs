//! The outbox worker: one task per sink takes its due deliveries from the store, sends
//! them, and records each outcome (with retries, a failing sink's rest and probe, and the
//! outcomes the store could not write kept until it can). [`OutboxSignal`] wakes it when a
//! poll wrote outbox rows.

use super::*;
impl Alerter {
    /// Prepares every configured sink. Fails on a sink that cannot work at all (an email
    /// address the SMTP library rejects).
    pub fn new(
        config: &Config,
        fetcher: &Fetcher,
        store: SharedStore,
        write_health: WriteHealth,
        metrics: Arc<Metrics>,
    ) -> Result<Alerter, String> {
        Ok(Alerter {
            sinks: Arc::new(RwLock::new(Arc::new(Sinks::new(config, fetcher)?))),
            store,
            wake: OutboxSignal::default(),
            write_health,
            metrics,
        })
    }

    /// Builds the sinks of a new config without using them yet (a reload checks that
    /// every part of a config works before it changes anything).
    pub fn prepare(config: &Config, fetcher: &Fetcher) -> Result<PreparedSinks, String> {
        Ok(PreparedSinks(Arc::new(Sinks::new(config, fetcher)?)))
    }

    /// Swaps in prepared sinks; a send in progress finishes with the old one.
    pub fn install(&self, sinks: PreparedSinks) {
        *self.sinks.write().unwrap_or_else(|p| p.into_inner()) = sinks.0;
        self.wake.notify();
    }

    /// Whether any sink is configured.
    pub fn is_empty(&self) -> bool {
        self.current().list.is_empty()
    }

    /// A handle that wakes the workers (the pipeline pokes it after writing outbox rows).
    pub fn waker(&self) -> OutboxSignal {
        self.wake.clone()
    }

    /// The daemon's delivery: one worker per configured sink, so a sink that hangs or fails
    /// delays only its own rows. Workers start and stop as reloads add and remove sinks;
    /// returns at shutdown, once every worker has recorded what it sent.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut workers: HashMap<String, AbortOnDropHandle<()>> = HashMap::new();
        let mut changes = self.wake.subscribe();
        loop {
            workers.retain(|_, worker| !worker.is_finished());
            for name in self.current().names() {
                if let std::collections::hash_map::Entry::Vacant(slot) = workers.entry(name) {
                    let (alerter, shutdown) = (self.clone(), shutdown.clone());
                    let name = slot.key().clone();
                    slot.insert(AbortOnDropHandle::new(tokio::spawn(async move {
                        alerter.work(&name, &shutdown).await;
                    })));
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = changes.changed() => {}
            }
        }
        for (name, worker) in workers {
            if let Err(error) = worker.await {
                warn!(sink = %name, error = %error, "alert worker failed");
            }
        }
    }

    /// One sink's worker: sends its due rows, then sleeps until the next is due, something is
    /// written to the outbox, or [`RECHECK`] passes. Returns when the sink leaves the config
    /// or at shutdown, never between a send and recording it.
    async fn work(&self, name: &str, shutdown: &CancellationToken) {
        let mut wake = self.wake.subscribe();
        let mut health = SinkHealth::default();
        loop {
            let Some(sink) = self.current().find(name) else {
                return;
            };
            let wait = match self.sink_round(&sink, &mut health, false, shutdown).await {
                Ok(()) => match self.next_due(&sink).await {
                    Ok(Some(due)) => (due - Utc::now()).to_std().unwrap_or(Duration::ZERO),
                    Ok(None) => RECHECK,
                    Err(error) => {
                        warn!(sink = %name, error = %error, "alert outbox: cannot read; trying again");
                        ERROR_PAUSE
                    }
                },
                Err(error) => {
                    warn!(sink = %name, error = %error, "alert outbox: a round failed; trying again");
                    // After a failure (a store that cannot write, a panicking sink), never spin.
                    ERROR_PAUSE
                }
            };
            if shutdown.is_cancelled() {
                return;
            }
            let wait = wait.max(health.paused_for());
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = wake.changed(), if !health.is_paused() => {}
                () = tokio::time::sleep(wait.min(RECHECK)) => {}
            }
        }
    }

    /// For `once`: delivers and retries until nothing is pending or `wait` has passed, each
    /// sink on its own (a sink that hangs cannot hold up another). A digest sink sends what
    /// this run logged without waiting for its window. Returns the outbox counts for the
    /// configured sinks, with `delivered` counting this call's deliveries only.
    pub async fn drain(&self, wait: Duration) -> Result<OutboxCounts, StoreError> {
        let deadline = tokio::time::Instant::now() + wait;
        let before = self.counts().await?;
        let mut drains = JoinSet::new();
        for sink in self.current().list.clone() {
            let alerter = self.clone();
            drains.spawn(async move {
                // An abandoned send stays pending for the next run.
                let _ =
                    tokio::time::timeout_at(deadline, alerter.drain_sink(&sink, deadline)).await;
            });
        }
        while let Some(joined) = drains.join_next().await {
            if let Err(error) = joined {
                warn!(error = %error, "alert task failed");
            }
        }
        let after = self.counts().await?;
        Ok(OutboxCounts {
            delivered: after.delivered.saturating_sub(before.delivered),
            ..after
        })
    }

    async fn drain_sink(&self, sink: &Sink, deadline: tokio::time::Instant) {
        let never = CancellationToken::new();
        let mut health = SinkHealth::default();
        loop {
            let due = match self.sink_round(sink, &mut health, true, &never).await {
                Ok(()) => match self.next_due(sink).await {
                    Ok(Some(due)) => due,
                    Ok(None) => return,
                    Err(error) => {
                        warn!(sink = %sink.config.name, error = %error, "alert outbox: cannot read");
                        return;
                    }
                },
                Err(error) => {
                    warn!(sink = %sink.config.name, error = %error, "alert outbox: a round failed");
                    crate::scheduler::later(Utc::now(), ERROR_PAUSE)
                }
            };
            let until_due = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            let wake_at = tokio::time::Instant::now() + until_due.max(health.paused_for());
            if wake_at > deadline {
                return;
            }
            tokio::time::sleep_until(wake_at).await;
        }
    }

    /// Outbox counts for the configured sinks.
    pub async fn counts(&self) -> Result<OutboxCounts, StoreError> {
        let names = self.current().names();
        store::with(&self.store, move |store| store.outbox_counts(&refs(&names))).await
    }

    fn current(&self) -> Arc<Sinks> {
        self.sinks.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// One pass over a sink's due rows.
    ///
    /// - What was sent but could not be recorded (the store could not write) is recorded
    ///   first, and nothing is sent until it is: a row is never sent again because its
    ///   bookkeeping failed.
    /// - After a failed send the sink rests for the backoff of its failure streak; then one
    ///   row goes as a probe, and when it is taken, the sink's rows waiting for a retry are
    ///   released (due now).
    async fn sink_round(
        &self,
        sink: &Sink,
        health: &mut SinkHealth,
        flush_digests: bool,
        shutdown: &CancellationToken,
    ) -> Result<(), StoreError> {
        while let Some(outcome) = health.unrecorded.first().cloned() {
            self.write_outcome(outcome).await?;
            health.unrecorded.remove(0);
            info!(sink = %sink.config.name, "alert outbox: recorded a delivery the store could not write before");
        }
        if health.is_paused() {
            return Ok(());
        }
        let (name, max_retry) = (sink.config.name.clone(), sink.longest_wait());
        let now = Utc::now();
        let mut due = store::with(&self.store, move |store| {
            store.due_deliveries(&[name.as_str()], now, max_retry, BATCH)
        })
        .await?;
        let is_digest = sink.config.digest.is_some();
        if due.is_empty() && !(is_digest && flush_digests) {
            return Ok(());
        }
        if health.streak > 0 {
            due.truncate(1);
        }
        let sent = if is_digest {
            self.send_digest(sink, health, due, now, flush_digests)
                .await?
        } else {
            self.send_each(sink, health, due, shutdown).await?
        };
        match sent {
            Sent::Nothing => {}
            Sent::Taken => {
                if health.may_have_waiting_rows {
                    let (name, now) = (sink.config.name.clone(), Utc::now());
                    let released =
                        store::with(&self.store, move |store| store.release_backoff(&name, now))
                            .await?;
                    if released > 0 {
                        info!(
                            sink = %sink.config.name,
                            released,
                            "alert sink takes messages again; sending its rows in backoff now"
                        );
                    }
                    health.may_have_waiting_rows = false;
                }
                health.streak = 0;
            }
            Sent::Failed(retry) => {
                health.streak += 1;
                health.may_have_waiting_rows = true;
                // The receiver's Retry-After, else the backoff of the streak.
                let rest = match retry {
                    Retry::After(wait) => wait.clamp(FIRST_RETRY, MAX_RETRY),
                    _ => retry_delay(health.streak, fastrand::f64() * 2.0 - 1.0),
                };
                health.paused_until = Some(tokio::time::Instant::now() + rest);
            }
        }
        Ok(())
    }

    /// Sends rows one message each, recording each outcome before the next send; stops at
    /// the first failure (the sink rests, see [`Alerter::sink_round`]).
    async fn send_each(
        &self,
        sink: &Sink,
        health: &mut SinkHealth,
        due: Vec<Delivery>,
        shutdown: &CancellationToken,
    ) -> Result<Sent, StoreError> {
        let due = self.drop_unwanted(sink, due).await?;
        let mut sent = Sent::Nothing;
        for delivery in due {
            if shutdown.is_cancelled() {
                break;
            }
            // With several daemons on one PostgreSQL database, a claim taken for the batch can
            // run out during a long run of slow sends: the row is sent only while still held.
            let (id, now) = (delivery.id, Utc::now());
            if !store::with(&self.store, move |store| store.hold_delivery(id, now)).await? {
                continue;
            }
            let outcome = match &delivery.payload {
                Payload::Match(m) => sink.send(&Content::Matches(std::slice::from_ref(m))).await,
                Payload::Notice(notice) => sink.send(&Content::Notice(notice)).await,
            };
            sent = self.record(sink, health, &[delivery], outcome).await?;
            if matches!(sent, Sent::Failed(_)) {
                break;
            }
        }
        Ok(sent)
    }

    /// Sends every pending match of a digest sink as one message, when one of them is due
    /// (or when flushing, every row not waiting for a retry). Notices go one by one.
    async fn send_digest(
        &self,
        sink: &Sink,
        health: &mut SinkHealth,
        due: Vec<Delivery>,
        now: DateTime<Utc>,
        flush: bool,
    ) -> Result<Sent, StoreError> {
        let name = sink.config.name.clone();
        let pending = store::with(&self.store, move |store| {
            store.pending_deliveries(&name, BATCH)
        })
        .await?;
        let batch: Vec<Delivery> = if due.is_empty() {
            // Flushing: rows in their first window go now, rows in backoff wait for it.
            debug_assert!(flush);
            pending
                .into_iter()
                .filter(|d| d.attempts == 0 || d.next_attempt <= now)
                .collect()
        } else {
            pending
        };
        let batch = self.drop_unwanted(sink, batch).await?;
        let (notices, matches): (Vec<Delivery>, Vec<Delivery>) = batch
            .into_iter()
            .partition(|d| matches!(d.payload, Payload::Notice(_)));
        let mut sent = Sent::Nothing;
        for delivery in notices {
            if let Payload::Notice(notice) = &delivery.payload {
                let outcome = sink.send(&Content::Notice(notice)).await;
                sent = self.record(sink, health, &[delivery], outcome).await?;
                if matches!(sent, Sent::Failed(_)) {
                    return Ok(sent);
                }
            }
        }
        let digest: Vec<Match> = matches
            .iter()
            .filter_map(|d| match &d.payload {
                Payload::Match(m) => Some(m.clone()),
                Payload::Notice(_) => None,
            })
            .collect();
        if digest.is_empty() {
            return Ok(sent);
        }
        let outcome = sink.send(&Content::Matches(&digest)).await;
        self.record(sink, health, &matches, outcome).await
    }

    /// Stores the outcome of one send for its rows. After a failure each row gets its own
    /// decision from its own count of attempts (a digest mixes rows tried different times).
    /// An outcome the store cannot write stays in `health` to be written before any other
    /// send.
    async fn record(
        &self,
        sink: &Sink,
        health: &mut SinkHealth,
        rows: &[Delivery],
        outcome: Result<(), SendError>,
    ) -> Result<Sent, StoreError> {
        let now = Utc::now();
        let max_attempts = self.current().max_attempts;
        let (outcome, sent) = match outcome {
            Ok(()) => {
                let ids: Vec<DeliveryId> = rows.iter().map(|d| d.id).collect();
                info!(sink = %sink.config.name, deliveries = ids.len(), "alert delivered");
                (Outcome::Delivered { ids, at: now }, Sent::Taken)
            }
            Err(error) => {
                let decisions = retry_decisions(rows, error.retry, max_attempts, now);
                log_failure(&sink.config.name, &error.message, &decisions);
                self.metrics
                    .delivery_failed(&sink.config.name, decisions.len());
                // A refusal of one message (a 4xx) says nothing about the sink's health.
                let sent = if error.retry == Retry::Never {
                    Sent::Taken
                } else {
                    Sent::Failed(error.retry)
                };
                let failed = Outcome::Failed {
                    decisions,
                    message: error.message,
                };
                (failed, sent)
            }
        };
        if let Err(error) = self.write_outcome(outcome.clone()).await {
            health.unrecorded.push(outcome);
            return Err(error);
        }
        Ok(sent)
    }

    async fn write_outcome(&self, outcome: Outcome) -> Result<(), StoreError> {
        let written = store::with(&self.store, move |store| match &outcome {
            Outcome::Delivered { ids, at } => store.mark_delivered(ids, *at),
            Outcome::Failed { decisions, message } => {
                store.mark_attempts_failed(decisions, message)
            }
        })
        .await;
        self.write_health.record(&written);
        written
    }

    /// Fails the rows a sink no longer takes (its `topics` changed since they were written),
    /// and returns the others.
    async fn drop_unwanted(
        &self,
        sink: &Sink,
        rows: Vec<Delivery>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (wanted, unwanted): (Vec<Delivery>, Vec<Delivery>) =
            rows.into_iter().partition(|d| match &d.payload {
                Payload::Match(m) => sink
                    .config
                    .topics
                    .as_ref()
                    .is_none_or(|t| t.contains(&m.topic)),
                Payload::Notice(_) => sink.config.topics.is_none(),
            });
        if !unwanted.is_empty() {
            let ids: Vec<DeliveryId> = unwanted.iter().map(|d| d.id).collect();
            let message = format!("sink {} no longer takes this topic", sink.config.name);
            warn!(sink = %sink.config.name, deliveries = ids.len(), "{message}; marked failed");
            store::with(&self.store, move |store| {
                store.mark_attempt_failed(&ids, &message, None)
            })
            .await?;
        }
        Ok(wanted)
    }

    async fn next_due(&self, sink: &Sink) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (name, max_retry) = (sink.config.name.clone(), sink.longest_wait());
        store::with(&self.store, move |store| {
            store.next_delivery_due(&[name.as_str()], Utc::now(), max_retry)
        })
        .await
    }
}

/// Wakes the alert workers: the pipeline after writing outbox rows, a reload after swapping
/// the sinks. Unlike a `Notify`, every worker sees a signal sent while it was busy sending.
#[derive(Debug, Clone)]
pub struct OutboxSignal(Arc<watch::Sender<u64>>);

impl Default for OutboxSignal {
    fn default() -> Self {
        OutboxSignal(Arc::new(watch::Sender::new(0)))
    }
}

impl OutboxSignal {
    pub fn notify(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// What a worker knows about its sink between rounds.
#[derive(Debug)]
struct SinkHealth {
    /// Failed sends in a row.
    streak: u32,
    /// Rows of this sink may be waiting for a retry: at start (an earlier run may have left
    /// some) and after a failure. The next message taken releases them.
    may_have_waiting_rows: bool,
    /// No send before this (the backoff of the streak).
    paused_until: Option<tokio::time::Instant>,
    /// Outcomes of sends the store could not record yet.
    unrecorded: Vec<Outcome>,
}

impl Default for SinkHealth {
    fn default() -> Self {
        SinkHealth {
            streak: 0,
            may_have_waiting_rows: true,
            paused_until: None,
            unrecorded: Vec::new(),
        }
    }
}

impl SinkHealth {
    fn paused_for(&self) -> Duration {
        self.paused_until.map_or(Duration::ZERO, |until| {
            until.saturating_duration_since(tokio::time::Instant::now())
        })
    }

    fn is_paused(&self) -> bool {
        !self.paused_for().is_zero()
    }
}

/// How a round's sends went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Nothing,
    /// The sink took the last message (or refused it for good, which a retry would not change).
    Taken,
    /// The last send failed and will be retried; the sink rests as `Retry` says.
    Failed(Retry),
}

/// The result of one send, as the store records it.
#[derive(Debug, Clone)]
enum Outcome {
    Delivered {
        ids: Vec<DeliveryId>,
        at: DateTime<Utc>,
    },
    Failed {
        /// Each row and when it is tried again (`None`: failed for good).
        decisions: Vec<(DeliveryId, Option<DateTime<Utc>>)>,
        message: String,
    },
}

/// When each row of a failed send is tried again, by its own count of attempts.
fn retry_decisions(
    rows: &[Delivery],
    retry: Retry,
    max_attempts: u32,
    now: DateTime<Utc>,
) -> Vec<(DeliveryId, Option<DateTime<Utc>>)> {
    rows.iter()
        .map(|row| {
            let attempts = row.attempts + 1;
            let wait = match retry {
                Retry::Never => None,
                _ if attempts >= max_attempts => None,
                Retry::Backoff => Some(retry_delay(attempts, fastrand::f64() * 2.0 - 1.0)),
                Retry::After(wait) => Some(wait.clamp(FIRST_RETRY, MAX_RETRY)),
            };
            let at = wait.map(|wait| crate::scheduler::later(now, wait));
            (row.id, at)
        })
        .collect()
}

fn log_failure(sink: &str, error: &str, decisions: &[(DeliveryId, Option<DateTime<Utc>>)]) {
    let retrying = decisions.iter().filter(|(_, at)| at.is_some()).count();
    if retrying > 0 {
        warn!(
            sink,
            error,
            deliveries = retrying,
            "alert delivery failed; will retry"
        );
    }
    if retrying < decisions.len() {
        warn!(
            sink,
            error,
            deliveries = decisions.len() - retrying,
            "alert delivery failed for good; `watchword alerts retry` requeues it"
        );
    }
}
