//! The concurrency limits of polls: one global semaphore, one per host, and each host's next
//! free slot for `host_interval`; kept across reloads.

use super::*;

/// Concurrency limits: one global semaphore and one per host; and the spacing of requests
/// to one host (`host_interval`).
#[derive(Debug)]
pub(super) struct Limits {
    pub(super) global: Arc<Semaphore>,
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
    per_host_limit: usize,
    host_interval: Duration,
    /// When the next request to each host may start.
    next_slot: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Limits {
    /// The limits of `config`, keeping the hosts' reserved slots of `before` (a reload).
    pub(super) fn after(config: &Config, before: &Limits) -> Limits {
        Limits {
            next_slot: before.next_slot.clone(),
            ..Limits::new(config)
        }
    }

    pub(super) fn new(config: &Config) -> Limits {
        Limits {
            global: Arc::new(Semaphore::new(config.daemon.max_concurrent)),
            per_host: Mutex::new(HashMap::new()),
            per_host_limit: config.daemon.per_host,
            host_interval: config.daemon.host_interval,
            next_slot: Arc::default(),
        }
    }

    /// A function that reserves the next start time for a request to `host`:
    /// `host_interval` after the one reserved before it (`None` without spacing).
    pub(super) fn spacing(
        &self,
        host: Option<&str>,
    ) -> Option<impl FnOnce() -> Instant + Send + use<>> {
        if self.host_interval.is_zero() {
            return None;
        }
        let (host, slots, interval) = (
            host?.to_ascii_lowercase(),
            self.next_slot.clone(),
            self.host_interval,
        );
        Some(move || {
            let mut slots = slots.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = slots
                .get(&host)
                .copied()
                .filter(|s| *s > now)
                .unwrap_or(now);
            slots.insert(host, slot + interval);
            slot
        })
    }

    pub(super) fn host(&self, host: Option<&str>) -> Option<Arc<Semaphore>> {
        let host = host?;
        let mut map = self
            .per_host
            .lock()
            .expect("the host map is never poisoned");
        Some(
            map.entry(host.to_ascii_lowercase())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host_limit)))
                .clone(),
        )
    }
}
