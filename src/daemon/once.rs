//! `watchword once`: every configured feed polled once, under the daemon's limits, then the
//! alerts sent (by this process when it may: see `lock`) and retention run.

use super::*;

/// What `once` did: a report per feed in config order, and what became of the alerts.
#[derive(Debug, Clone)]
pub struct OnceReport {
    pub polls: Vec<PollReport>,
    pub alerts: OnceAlerts,
    /// Every write of the run succeeded and no daemon had the database open at the end: the
    /// file is as this run leaves it (see [`store::verified`]).
    pub store_sound: bool,
}

/// The alerts of a `once`.
#[derive(Debug, Clone)]
pub enum OnceAlerts {
    /// No alert sinks are configured.
    NoSinks,
    /// Delivered by this run: the outbox afterwards.
    Sent(OutboxCounts),
    /// Another process (a running daemon) holds the database's lock, so it alone sends: this
    /// run only logged the matches and queued their alerts.
    LeftToDaemon { lock: String },
}

/// Polls every configured feed once, under the configured concurrency limits, then delivers
/// alerts (retrying) for at most `[daemon] alert_wait`.
pub async fn poll_once(config: Config) -> anyhow::Result<OnceReport> {
    // On PostgreSQL, a node of its own for as long as it runs: it takes the leases of the
    // feeds it polls and claims the alerts it sends, beside any daemons.
    let node = config.daemon.postgres.as_ref().map(|_| nodes::Role {
        name: nodes::node_name(),
        only_when_due: false,
    });
    let (context, feed_ids, alerter) = start(config, StartCheck::UnlessUnchanged, node).await?;
    let limits = Limits::new(&context.config);
    let never = CancellationToken::new();
    let polls: Vec<_> = feed_ids
        .iter()
        .zip(&context.config.feeds)
        .map(|(&feed_id, feed)| {
            tokio::spawn(permitted_poll(
                &context,
                &limits,
                &never,
                feed.clone(),
                feed_id,
            ))
        })
        .collect();
    let mut reports = Vec::with_capacity(polls.len());
    for (poll, feed) in polls.into_iter().zip(&context.config.feeds) {
        let report = match poll.await {
            Ok(report) => report.expect("polls are not cancelled in once"),
            Err(error) => PollReport {
                feed: feed.name.clone(),
                status: PollStatus::Failed {
                    message: format!("internal error: {error}"),
                },
                next_due: Some(Utc::now()),
            },
        };
        reports.push(report);
    }
    // One sender per outbox: only the holder of the database's lock delivers, so a `once`
    // beside a running daemon never sends what the daemon sends.
    let daemon = &context.config.daemon;
    let (locked, lock) = match &daemon.postgres {
        None => (
            try_lock_database(&daemon.database)?.is_some(),
            lock_path(&daemon.database).display().to_string(),
        ),
        // Outbox rows are claimed before they are sent (`store::nodes`): any process on
        // the database may send.
        Some(_) => (true, String::new()),
    };
    let alerts = if alerter.is_empty() {
        OnceAlerts::NoSinks
    } else if locked {
        OnceAlerts::Sent(alerter.drain(context.config.daemon.alert_wait).await?)
    } else {
        OnceAlerts::LeftToDaemon { lock }
    };
    if let Some(keep) = context.config.daemon.keep_items {
        purge_old(&context.store, keep, &never).await;
    }
    let stages: Vec<String> = context
        .metrics
        .stage_seconds()
        .iter()
        .map(|(stage, seconds)| format!("{} {seconds:.3}", stage.label()))
        .collect();
    debug!("seconds by stage, summed over polls: {}", stages.join(", "));
    Ok(OnceReport {
        polls: reports,
        alerts,
        store_sound: locked && !context.write_health.ever_failed(),
    })
}
