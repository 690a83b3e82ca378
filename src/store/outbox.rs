//! The alert outbox: deliveries due, their attempts and outcomes, requeueing, counts.

use super::*;

/// A delivery from the [`MATCH_COLUMNS`] (null for a notice) followed by the
/// [`DELIVERY_COLUMNS`].
pub(super) fn delivery_from_row(row: &Row<'_>) -> Result<Delivery, DbError> {
    const FIRST: usize = 15;
    let state: String = row.get(FIRST + 2)?;
    Ok(Delivery {
        id: DeliveryId(row.get(FIRST)?),
        sink: row.get(FIRST + 1)?,
        // The schema's CHECK allows only the three states.
        state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Failed),
        attempts: row.get(FIRST + 3)?,
        next_attempt: from_epoch_f64(row.get(FIRST + 4)?),
        last_error: row.get(FIRST + 5)?,
        created: from_epoch(row.get(FIRST + 6)?),
        delivered_at: row.get::<Option<i64>>(FIRST + 7)?.map(from_epoch),
        payload: match row.get::<Option<String>>(FIRST + 8)? {
            Some(notice) => Payload::Notice(stored::notice_from_json(&notice, FIRST + 8)?),
            None => Payload::Match(match_from_row(row, 0)?),
        },
    })
}

impl Store {
    /// Pending outbox rows of `sinks` due at `now`, oldest first, at most `limit`.
    ///
    /// The wall clock can be stepped back after a row was scheduled (an NTP correction, a
    /// resumed VM): a row written in the future, or waiting for a retry further ahead than
    /// `max_retry`, was scheduled while the clock was ahead and is due now.
    pub fn due_deliveries(
        &self,
        sinks: &[&str],
        now: DateTime<Utc>,
        max_retry: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let due = self.read_deliveries(
            &format!(
                "d.state = 'pending' AND d.sink IN ({})
                 AND (d.next_attempt <= CAST(?1 AS DOUBLE PRECISION)
                      OR d.created > CAST(?1 AS DOUBLE PRECISION)
                      OR (d.attempts > 0 AND d.next_attempt >
                          CAST(?1 AS DOUBLE PRECISION) + CAST(?3 AS DOUBLE PRECISION)))
                 ORDER BY d.id LIMIT ?4",
                json_list(self.dialect(), 2)
            ),
            &db_params![
                epoch_f64(now),
                to_json(sinks),
                max_retry.as_secs_f64(),
                sql_limit(Some(limit))
            ],
        )?;
        self.claimed(due, now)
    }

    /// Of `deliveries`, those this node could claim (see `nodes`): all of them on SQLite.
    fn claimed(
        &self,
        mut deliveries: Vec<Delivery>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, StoreError> {
        if self.node.is_none() {
            return Ok(deliveries);
        }
        let ids = deliveries.iter().map(|delivery| delivery.id.0).collect();
        let claimed = self.claim_deliveries(ids, now)?;
        deliveries.retain(|delivery| claimed.binary_search(&delivery.id.0).is_ok());
        Ok(deliveries)
    }

    /// Every pending outbox row of one sink, oldest first, at most `limit` (a digest sends
    /// them together).
    pub fn pending_deliveries(
        &self,
        sink: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let pending = self.read_deliveries(
            "d.state = 'pending' AND d.sink = ?1 ORDER BY d.id LIMIT ?2",
            &db_params![sink, sql_limit(Some(limit))],
        )?;
        self.claimed(pending, Utc::now())
    }

    /// The outbox for `alerts`: oldest first (the most recent `limit` when a limit is given).
    pub fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>, StoreError> {
        let mut rows = self.read_deliveries(
            "(CAST(?1 AS TEXT) IS NULL OR d.state = ?1) ORDER BY d.id DESC LIMIT ?2",
            &db_params![
                filter.state.map(DeliveryState::as_str),
                sql_limit(filter.limit)
            ],
        )?;
        rows.reverse();
        Ok(rows)
    }

    /// When the next pending row of `sinks` is due, if any is pending (a row scheduled while
    /// the clock was ahead is due `now`, as in [`Store::due_deliveries`]).
    pub fn next_delivery_due(
        &self,
        sinks: &[&str],
        now: DateTime<Utc>,
        max_retry: Duration,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let dialect = self.dialect();
        let due = "CASE WHEN created > CAST(?2 AS DOUBLE PRECISION)
                             OR (attempts > 0 AND next_attempt >
                                 CAST(?2 AS DOUBLE PRECISION) + CAST(?3 AS DOUBLE PRECISION))
                        THEN CAST(?2 AS DOUBLE PRECISION)
                        ELSE CAST(next_attempt AS DOUBLE PRECISION) END";
        // On PostgreSQL a row another node has claimed is due to this one when the claim
        // ends: the worker must not take it for due now and spin on it meanwhile.
        let due = match (dialect, &self.node) {
            (Dialect::Postgres, Some(_)) => format!(
                "CASE WHEN claimed_until > CAST(?2 AS DOUBLE PRECISION) AND claimed_by <> ?4
                      THEN GREATEST({due}, claimed_until) ELSE {due} END"
            ),
            _ => due.to_string(),
        };
        let (sinks, now, max_retry) = (to_json(sinks), epoch_f64(now), max_retry.as_secs_f64());
        let params = db_params![sinks, now, max_retry, self.node];
        // `?4`, the node, only in the statement that names it.
        let params = if due.contains("?4") {
            &params[..]
        } else {
            &params[..3]
        };
        let due = self.read(|sql| {
            sql.value::<Option<f64>>(
                &format!(
                    "SELECT MIN({due}) FROM deliveries WHERE state = 'pending' AND sink IN ({})",
                    json_list(dialect, 1)
                ),
                params,
            )
        })?;
        Ok(due.map(from_epoch_f64))
    }

    /// A sink took a message again after failing: its rows waiting for a retry are due at
    /// `now` instead of at the end of their backoff. Returns how many were released.
    pub fn release_backoff(&mut self, sink: &str, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let released = self.read(|sql| {
            sql.execute(
                "UPDATE deliveries SET next_attempt = CAST(?2 AS DOUBLE PRECISION)
                 WHERE state = 'pending' AND sink = ?1 AND attempts > 0
                       AND next_attempt > CAST(?2 AS DOUBLE PRECISION)",
                &db_params![sink, epoch_f64(now)],
            )
        })?;
        Ok(released as usize)
    }

    /// How many outbox rows of each of `sinks` are in each state, in the order given.
    pub fn outbox_counts_by_sink(
        &self,
        sinks: &[&str],
    ) -> Result<Vec<(String, OutboxCounts)>, StoreError> {
        sinks
            .iter()
            .map(|sink| Ok((sink.to_string(), self.outbox_counts(&[sink])?)))
            .collect()
    }

    /// How many outbox rows of `sinks` are in each state.
    pub fn outbox_counts(&self, sinks: &[&str]) -> Result<OutboxCounts, StoreError> {
        let dialect = self.dialect();
        let rows = self.read(|sql| {
            sql.query_map(
                &format!(
                    "SELECT state, COUNT(*) FROM deliveries WHERE sink IN ({}) GROUP BY state",
                    json_list(dialect, 1)
                ),
                &db_params![to_json(sinks)],
                |row| Ok((row.get::<String>(0)?, row.get::<usize>(1)?)),
            )
        })?;
        let mut counts = OutboxCounts::default();
        for (state, n) in rows {
            match DeliveryState::parse(&state) {
                Some(DeliveryState::Pending) => counts.pending = n,
                Some(DeliveryState::Delivered) => counts.delivered = n,
                Some(DeliveryState::Failed) => counts.failed = n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// Records that a sink accepted these rows.
    pub fn mark_delivered(
        &mut self,
        ids: &[DeliveryId],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(|sql| {
            for id in ids {
                sql.execute(
                    "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,
                            delivered_at = ?2, last_error = NULL
                     WHERE id = ?1",
                    &db_params![id.0, now.timestamp()],
                )?;
            }
            Ok(())
        })
    }

    /// Records a failed attempt: the rows are tried again at `retry_at` (kept to the
    /// millisecond: a one-second backoff is not rounded down to nothing), or marked failed
    /// when there is no retry.
    pub fn mark_attempt_failed(
        &mut self,
        ids: &[DeliveryId],
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let decisions: Vec<(DeliveryId, Option<DateTime<Utc>>)> =
            ids.iter().map(|id| (*id, retry_at)).collect();
        self.mark_attempts_failed(&decisions, error)
    }

    /// Records one failed send for several rows, each with its own retry time (or `None`:
    /// failed for good), in one transaction: written whole or not at all, so writing it
    /// again after a failure counts each attempt once.
    pub fn mark_attempts_failed(
        &mut self,
        decisions: &[(DeliveryId, Option<DateTime<Utc>>)],
        error: &str,
    ) -> Result<(), StoreError> {
        let claims = self.node.is_some() && self.dialect() == Dialect::Postgres;
        self.write(|sql| {
            for (id, retry_at) in decisions {
                if claims {
                    // Any node may take the retry when it is due.
                    sql.execute(
                        "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL
                         WHERE id = ?1",
                        &db_params![id.0],
                    )?;
                }
                let state = if retry_at.is_some() {
                    "pending"
                } else {
                    "failed"
                };
                sql.execute(
                    "UPDATE deliveries SET state = ?2, attempts = attempts + 1, last_error = ?3,
                            next_attempt = COALESCE(CAST(?4 AS DOUBLE PRECISION), next_attempt)
                     WHERE id = ?1",
                    &db_params![id.0, state, error, retry_at.map(epoch_f64)],
                )?;
            }
            Ok(())
        })
    }

    /// Requeues failed rows (`id`, or every failed row when `id` is `None`): pending again,
    /// due at `now`, with a fresh count of attempts. Returns how many were requeued.
    pub fn requeue_failed(
        &mut self,
        id: Option<DeliveryId>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let requeued = self.read(|sql| {
            sql.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt = ?2
                 WHERE state = 'failed' AND (CAST(?1 AS BIGINT) IS NULL OR id = ?1)",
                &db_params![id.map(|id| id.0), now.timestamp()],
            )
        })?;
        Ok(requeued as usize)
    }

    /// The outbox row `id`, if it exists.
    pub fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StoreError> {
        Ok(self
            .read_deliveries("d.id = ?1", &db_params![id.0])?
            .into_iter()
            .next())
    }

    /// `condition` is SQL written in this module, never data; values go in `params`.
    pub(super) fn read_deliveries(
        &self,
        condition: &str,
        params: &[db::Param<'_>],
    ) -> Result<Vec<Delivery>, StoreError> {
        self.read(|sql| {
            let mut deliveries = sql.query_map(
                &format!(
                    "SELECT {MATCH_COLUMNS}, {DELIVERY_COLUMNS}
                     FROM deliveries d
                     LEFT JOIN matches m ON m.id = d.match_id
                     LEFT JOIN items i ON i.id = m.item_id
                     LEFT JOIN feeds f ON f.id = i.feed_id
                     WHERE {condition}"
                ),
                params,
                delivery_from_row,
            )?;
            for delivery in &mut deliveries {
                if let Payload::Match(m) = &mut delivery.payload {
                    fill_sources(sql, std::slice::from_mut(m))?;
                }
            }
            Ok(deliveries)
        })
    }
}
