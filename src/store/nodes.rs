//! Several daemons on one PostgreSQL database: the nodes' heartbeats, the feeds' leases and
//! the outbox's claims. (An SQLite database has one daemon, which its lock file keeps so:
//! none of this applies there, and these calls do nothing on it.)
//!
//! A node polls a feed only while it holds the feed's lease (`feeds.lease_node`,
//! `lease_until`), taken when the feed is due (`SELECT … FOR UPDATE SKIP LOCKED` inside one
//! update) and given back by the commit of the poll; a node that dies mid-poll leaves its leases to expire, and the
//! next node to find the feed due takes it. An outbox row is sent by the node that claimed
//! it (`deliveries.claimed_by`, `claimed_until`), claimed with `FOR UPDATE SKIP LOCKED` so
//! that two nodes never wait on, or take, the same rows.

use super::*;

/// A node whose heartbeat is older than this is taken for dead, and its hosts shared out.
pub const NODE_ALIVE: Duration = Duration::from_secs(10);

/// What [`Store::claim_feed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This node holds the feed's lease now: poll it.
    Claimed,
    /// Another node holds the lease, or polled the feed since this node scheduled it: look
    /// again at this time.
    Busy { until: DateTime<Utc> },
}

/// A live node, as `/status` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    pub name: String,
    pub started: DateTime<Utc>,
    pub heartbeat: DateTime<Utc>,
}

impl Store {
    /// Names this store's node (the daemon's), whose leases and claims its writes give
    /// back, and how long they last (about twice a request's deadline: longer than a poll or
    /// a send takes). A daemon's node takes a feed only when the database says it is due;
    /// `once` (`only_when_due` false) polls every feed no other node holds.
    pub fn set_node(&mut self, name: &str, lease: Duration, only_when_due: bool) {
        self.node = Some(name.to_string());
        self.lease = lease;
        self.only_when_due = only_when_due;
    }

    /// Writes this node's heartbeat at `now` and reads the nodes whose heartbeat is at most
    /// `alive` old (this one among them), by name. Nothing on SQLite.
    pub fn heartbeat(
        &self,
        now: DateTime<Utc>,
        started: DateTime<Utc>,
        alive: Duration,
    ) -> Result<Vec<Node>, StoreError> {
        let (Backend::Postgres(_), Some(node)) = (&self.backend, &self.node) else {
            return Ok(Vec::new());
        };
        let oldest = now.timestamp() - alive.as_secs() as i64;
        self.read(|sql| {
            sql.execute(
                "INSERT INTO nodes (name, started, heartbeat) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET heartbeat = excluded.heartbeat",
                &db_params![node, started.timestamp(), now.timestamp()],
            )?;
            nodes_since(sql, oldest)
        })
    }

    /// The nodes whose heartbeat is at most `alive` old at `now`, by name (none on SQLite).
    pub fn live_nodes(&self, now: DateTime<Utc>, alive: Duration) -> Result<Vec<Node>, StoreError> {
        if self.dialect() == Dialect::Sqlite {
            return Ok(Vec::new());
        }
        let oldest = now.timestamp() - alive.as_secs() as i64;
        self.read(|sql| nodes_since(sql, oldest))
    }

    /// Says this node is leaving (a clean shutdown): its row goes, its leases and claims
    /// are given back, so the others take its hosts at once.
    pub fn leave(&self) -> Result<(), StoreError> {
        let (Backend::Postgres(_), Some(node)) = (&self.backend, &self.node) else {
            return Ok(());
        };
        self.write(|sql| {
            sql.execute("DELETE FROM nodes WHERE name = ?1", &db_params![node])?;
            sql.execute(
                "UPDATE feeds SET lease_node = NULL, lease_until = NULL WHERE lease_node = ?1",
                &db_params![node],
            )?;
            sql.execute(
                "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL
                 WHERE claimed_by = ?1",
                &db_params![node],
            )?;
            Ok(())
        })
    }

    /// Takes feed `feed_id`'s lease for this node until `now + lease`, if no other node
    /// holds it and (for a daemon's node) the feed is due by the database (`next_due` at
    /// most `now`): another node may have polled it since this one scheduled it. Always
    /// [`Claim::Claimed`] on SQLite, or without a node.
    pub fn claim_feed(&self, feed_id: FeedId, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        let lease = self.lease;
        let (Backend::Postgres(_), Some(node)) = (&self.backend, &self.node) else {
            return Ok(Claim::Claimed);
        };
        let now_s = now.timestamp();
        let until = now_s + lease.as_secs().max(1) as i64;
        self.read(|sql| {
            // A row another node is claiming this moment is skipped, not waited for.
            let claimed = sql.execute(
                "UPDATE feeds SET lease_node = ?2, lease_until = ?4
                 WHERE id = (
                     SELECT id FROM feeds
                     WHERE id = ?1
                       AND (lease_until IS NULL OR lease_until <= ?3 OR lease_node = ?2)
                       AND (NOT ?5 OR next_due IS NULL OR next_due <= ?3)
                     FOR UPDATE SKIP LOCKED)",
                &db_params![feed_id.0, node, now_s, until, self.only_when_due],
            )?;
            if claimed == 1 {
                return Ok(Claim::Claimed);
            }
            let (next_due, lease_until) = sql
                .query_row(
                    "SELECT next_due, lease_until FROM feeds WHERE id = ?1",
                    &db_params![feed_id.0],
                    |row| Ok((row.get::<Option<i64>>(0)?, row.get::<Option<i64>>(1)?)),
                )?
                .unwrap_or_default();
            // The lease ends, or the other node's poll set the next due time: whichever is
            // later (a lease given back early leaves `next_due`).
            let at = next_due
                .unwrap_or(now_s)
                .max(lease_until.unwrap_or(now_s))
                .max(now_s + 1);
            Ok(Claim::Busy {
                until: from_epoch(at),
            })
        })
    }

    /// Renews this node's claim on outbox row `id` until `now + lease`, just before sending
    /// it: `false` when the claim ran out meanwhile (a long batch of slow sends) and another
    /// node holds the row now, so this one must not send it. Always `true` on SQLite.
    pub fn hold_delivery(&self, id: DeliveryId, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let (Backend::Postgres(_), Some(node)) = (&self.backend, &self.node) else {
            return Ok(true);
        };
        let now_f = epoch_f64(now);
        let held = self.read(|sql| {
            sql.execute(
                "UPDATE deliveries SET claimed_by = ?2, claimed_until = CAST(?4 AS DOUBLE PRECISION)
                 WHERE id = ?1 AND state = 'pending'
                   AND (claimed_by = ?2 OR claimed_until IS NULL
                        OR claimed_until <= CAST(?3 AS DOUBLE PRECISION))",
                &db_params![id.0, node, now_f, now_f + self.lease.as_secs_f64()],
            )
        })?;
        Ok(held == 1)
    }

    /// Claims for this node, until `now + lease`, the outbox rows of `ids` that no other
    /// node holds (skipping rows another is claiming this moment); returns those it claimed.
    /// All of them on SQLite, or without a node.
    pub(super) fn claim_deliveries(
        &self,
        ids: Vec<i64>,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let lease = self.lease;
        let (Backend::Postgres(_), Some(node)) = (&self.backend, &self.node) else {
            return Ok(ids);
        };
        if ids.is_empty() {
            return Ok(ids);
        }
        let now_f = epoch_f64(now);
        self.write(|sql| {
            sql.query_map(
                "UPDATE deliveries SET claimed_by = ?2, claimed_until = CAST(?4 AS DOUBLE PRECISION)
                 WHERE id IN (
                     SELECT id FROM deliveries
                     WHERE id IN (SELECT CAST(value AS BIGINT) FROM
                                  json_array_elements_text(CAST(CAST(?1 AS TEXT) AS JSON)))
                       AND state = 'pending'
                       AND (claimed_until IS NULL
                            OR claimed_until <= CAST(?3 AS DOUBLE PRECISION)
                            OR claimed_by = ?2)
                     ORDER BY id
                     FOR UPDATE SKIP LOCKED)
                 RETURNING id",
                &db_params![to_json(&ids), node, now_f, now_f + lease.as_secs_f64()],
                |row| row.get(0),
            )
        })
        .map(|mut claimed: Vec<i64>| {
            claimed.sort_unstable();
            claimed
        })
    }
}

/// The nodes whose heartbeat is at `oldest` or later, by name.
fn nodes_since(sql: &Sql<'_>, oldest: i64) -> Result<Vec<Node>, DbError> {
    sql.query_map(
        "SELECT name, started, heartbeat FROM nodes WHERE heartbeat >= ?1 ORDER BY name",
        &db_params![oldest],
        |row| {
            Ok(Node {
                name: row.get(0)?,
                started: from_epoch(row.get(1)?),
                heartbeat: from_epoch(row.get(2)?),
            })
        },
    )
}

/// Which live node polls the feeds of `host`: the one whose hash with the host is highest
/// (rendezvous hashing), so that a node joining or leaving moves only the hosts it gains or
/// had. Every node computes the same answer from the same list.
pub fn host_owner<'a>(host: &str, nodes: &'a [String]) -> Option<&'a str> {
    nodes
        .iter()
        .max_by_key(|node| poll::hash64(&[node.as_bytes(), host.as_bytes()]))
        .map(String::as_str)
}
