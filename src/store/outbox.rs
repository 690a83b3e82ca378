//! The alert outbox: deliveries due, their attempts and outcomes, requeueing, counts.

use super::*;

/// A delivery from the [`MATCH_COLUMNS`] (null for a notice) followed by the
/// [`DELIVERY_COLUMNS`].
pub(super) fn delivery_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    const FIRST: usize = 15;
    let state: String = row.get(FIRST + 2)?;
    Ok(Delivery {
        id: DeliveryId(row.get(FIRST)?),
        sink: row.get(FIRST + 1)?,
        // The schema's CHECK allows only the three states.
        state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Failed),
        attempts: row.get(FIRST + 3)?,
        next_attempt: from_epoch(row.get(FIRST + 4)?),
        last_error: row.get(FIRST + 5)?,
        created: from_epoch(row.get(FIRST + 6)?),
        delivered_at: row.get::<_, Option<i64>>(FIRST + 7)?.map(from_epoch),
        payload: match row.get::<_, Option<String>>(FIRST + 8)? {
            Some(notice) => Payload::Notice(stored::notice_from_json(&notice, FIRST + 8)?),
            None => Payload::Match(match_from_row(row, 0)?),
        },
    })
}

impl Store {
    /// Pending outbox rows of `sinks` due at `now`, oldest first, at most `limit`.
    pub fn due_deliveries(
        &self,
        sinks: &[&str],
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.read_deliveries(
            "d.state = 'pending' AND d.next_attempt <= ?1 AND d.sink IN (SELECT value FROM json_each(?2))
             ORDER BY d.id LIMIT ?3",
            params![now.timestamp(), to_json(sinks), sql_limit(Some(limit))],
        )
    }

    /// Every pending outbox row of one sink, oldest first, at most `limit` (a digest sends
    /// them together).
    pub fn pending_deliveries(
        &self,
        sink: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.read_deliveries(
            "d.state = 'pending' AND d.sink = ?1 ORDER BY d.id LIMIT ?2",
            params![sink, sql_limit(Some(limit))],
        )
    }

    /// The outbox for `alerts`: oldest first (the most recent `limit` when a limit is given).
    pub fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>, StoreError> {
        let mut rows = self.read_deliveries(
            "(?1 IS NULL OR d.state = ?1) ORDER BY d.id DESC LIMIT ?2",
            params![
                filter.state.map(DeliveryState::as_str),
                sql_limit(filter.limit)
            ],
        )?;
        rows.reverse();
        Ok(rows)
    }

    /// When the next pending row of `sinks` is due, if any is pending.
    pub fn next_delivery_due(&self, sinks: &[&str]) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.conn
            .query_row(
                "SELECT MIN(next_attempt) FROM deliveries
                 WHERE state = 'pending' AND sink IN (SELECT value FROM json_each(?1))",
                [to_json(sinks)],
                |row| row.get::<_, Option<i64>>(0),
            )
            .map(|due| due.map(from_epoch))
            .map_err(|source| self.error(source))
    }

    /// How many outbox rows of `sinks` are in each state.
    pub fn outbox_counts(&self, sinks: &[&str]) -> Result<OutboxCounts, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT state, COUNT(*) FROM deliveries
                 WHERE sink IN (SELECT value FROM json_each(?1)) GROUP BY state",
            )
            .map_err(|source| self.error(source))?;
        let rows = statement
            .query_map([to_json(sinks)], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(|source| self.error(source))?;
        let mut counts = OutboxCounts::default();
        for row in rows {
            let (state, n) = row.map_err(|source| self.error(source))?;
            let n = usize::try_from(n).unwrap_or(0);
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
        let wrap = sqlite_error(&self.path);
        let tx = write_transaction(&mut self.conn).map_err(wrap)?;
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,
                            delivered_at = ?2, last_error = NULL
                     WHERE id = ?1",
                )
                .map_err(wrap)?;
            for id in ids {
                update
                    .execute(params![id.0, now.timestamp()])
                    .map_err(wrap)?;
            }
        }
        tx.commit().map_err(wrap)
    }

    /// Records a failed attempt: the rows are tried again at `retry_at`, or marked failed
    /// when there is no retry.
    pub fn mark_attempt_failed(
        &mut self,
        ids: &[DeliveryId],
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let wrap = sqlite_error(&self.path);
        let state = if retry_at.is_some() {
            "pending"
        } else {
            "failed"
        };
        let next = retry_at.map(|time| time.timestamp());
        let tx = write_transaction(&mut self.conn).map_err(wrap)?;
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE deliveries SET state = ?2, attempts = attempts + 1, last_error = ?3,
                            next_attempt = COALESCE(?4, next_attempt)
                     WHERE id = ?1",
                )
                .map_err(wrap)?;
            for id in ids {
                update
                    .execute(params![id.0, state, error, next])
                    .map_err(wrap)?;
            }
        }
        tx.commit().map_err(wrap)
    }

    /// Requeues failed rows (`id`, or every failed row when `id` is `None`): pending again,
    /// due at `now`, with a fresh count of attempts. Returns how many were requeued.
    pub fn requeue_failed(
        &mut self,
        id: Option<DeliveryId>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt = ?2
                 WHERE state = 'failed' AND (?1 IS NULL OR id = ?1)",
                params![id.map(|id| id.0), now.timestamp()],
            )
            .map_err(|source| self.error(source))
    }

    /// The outbox row `id`, if it exists.
    pub fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StoreError> {
        Ok(self
            .read_deliveries("d.id = ?1", params![id.0])?
            .into_iter()
            .next())
    }

    /// `condition` is SQL written in this module (a literal: `'static`), never data; values
    /// go in `params`.
    pub(super) fn read_deliveries(
        &self,
        condition: &'static str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT {MATCH_COLUMNS}, {DELIVERY_COLUMNS}
                 FROM deliveries d
                 LEFT JOIN matches m ON m.id = d.match_id
                 LEFT JOIN items i ON i.id = m.item_id
                 LEFT JOIN feeds f ON f.id = i.feed_id
                 WHERE {condition}"
            ))
            .map_err(|source| self.error(source))?;
        let rows = statement
            .query_map(params, delivery_from_row)
            .map_err(|source| self.error(source))?;
        let mut deliveries = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| self.error(source))?;
        for delivery in &mut deliveries {
            if let Payload::Match(m) = &mut delivery.payload {
                self.fill_sources(std::slice::from_mut(m))?;
            }
        }
        Ok(deliveries)
    }
}
