//! Several daemons on one PostgreSQL database: this daemon's name among them, its
//! heartbeat, and which feeds' hosts are its own to poll (see `store::nodes`).

use super::*;

/// How often a node writes its heartbeat and reads who else is alive.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(2);
use store::NODE_ALIVE as ALIVE;

/// How long a node's leases and claims last: four times a request's deadline, longer than a
/// poll takes at worst (the feed, the page it was found on, its articles' budget of twice
/// the deadline) and than a send, so that a live node keeps what it works on and a dead
/// node's work is taken up soon. (A send renews its row's claim just before it goes.)
pub(super) fn lease(daemon: &crate::config::DaemonConfig) -> Duration {
    (daemon.timeout * 4).max(Duration::from_secs(4))
}

/// This process's name among the nodes: the machine's host name, the process id and a
/// random tag.
pub(super) fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "localhost".into()
    } else {
        host
    };
    // The pid alone is not unique: containers run as pid 1, several on one host name.
    format!("{host}:{}:{:04x}", std::process::id(), fastrand::u16(..))
}

/// How a process takes part on a PostgreSQL database: its node's name, and whether it
/// polls a feed only when the database says it is due (a daemon) or every feed no other
/// node holds (`once`, which polls everything now).
pub(super) struct Role {
    pub(super) name: String,
    pub(super) only_when_due: bool,
}

/// This daemon among the others on its database.
#[derive(Debug)]
pub(super) struct Membership {
    /// This node's name: the machine's host name and the process id.
    pub(super) me: String,
    pub(super) started: DateTime<Utc>,
    /// The live nodes' names, by name; empty until the first heartbeat is written.
    live: std::sync::RwLock<Vec<String>>,
}

impl Membership {
    pub(super) fn new() -> Membership {
        Membership {
            me: node_name(),
            started: Utc::now(),
            live: std::sync::RwLock::new(Vec::new()),
        }
    }

    /// Whether this node polls `feed`: the live node its host falls to (rendezvous hashing:
    /// a host moves only when its node leaves or another joins), so that two nodes do not
    /// both poll one site, and `per_host` holds across nodes. Every feed while no list was
    /// read yet (the leases still keep two nodes off one feed).
    pub(super) fn owns(&self, feed: &FeedConfig) -> bool {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        if live.is_empty() {
            return true;
        }
        let host = feed.source.host().unwrap_or_default().to_ascii_lowercase();
        store::host_owner(&host, &live).is_none_or(|owner| owner == self.me)
    }

    /// Records the live nodes; whether the list changed.
    fn set_live(&self, names: Vec<String>) -> bool {
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        if *live == names {
            return false;
        }
        *live = names;
        true
    }
}

/// Writes this node's heartbeat every [`HEARTBEAT`] until `shutdown`, and sends on `changed`
/// when the live nodes change (the daemon's loop then takes up the hosts it gained).
pub(super) async fn beat(
    store: SharedStore,
    membership: Arc<Membership>,
    changed: mpsc::UnboundedSender<()>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let started = membership.started;
        let read = store::with(&store, move |store| {
            store.heartbeat(Utc::now(), started, ALIVE)
        })
        .await;
        match read {
            Ok(nodes) => {
                let names: Vec<String> = nodes.into_iter().map(|node| node.name).collect();
                if membership.set_live(names.clone()) {
                    info!(nodes = ?names, "live nodes on the database");
                    let _ = changed.send(());
                }
            }
            Err(error) => warn!(error = %error, "cannot write this node's heartbeat"),
        }
    }
}
