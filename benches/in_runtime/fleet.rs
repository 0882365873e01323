//! What the fleet-wide rows (feature `redis`) need: one fleet per runtime, started on it
//! by the first such row that runs (so that no sync runs unless one does), and the
//! driver of the leased limiter's row.
//!
//! A fleet limiter's call spends a permit of the lease its instance holds (one atomic
//! subtraction, no clock read). Each sync grants at most the limiter's burst (at most
//! 1,000,000 permits, the size of the fleet's bucket in Redis), about 13 ms of calls
//! here, so however high the rate, a long measurement runs the lease out: then the
//! driver stops the clock, waits for the next sync and goes on.

use std::cell::OnceCell;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use seawall::AsRejected;
use seawall::fleet::Fleet;
use tokio::runtime::Runtime;
use tower::{BoxError, Service, ServiceExt};

/// How often the fleets sync with Redis.
const SYNC_INTERVAL: Duration = Duration::from_millis(100);
/// Where a fleet syncs when no Redis could be found or started: nothing listens there,
/// so the fleet runs with Redis away (a breaker still counts its calls).
const NO_REDIS: &str = "redis://127.0.0.1:1/";
/// How long to wait for a sync before giving up on Redis.
const SYNC_WAIT: Duration = Duration::from_secs(10);

/// The fleet of one runtime's rows.
pub struct Fleets<'a> {
    rt: &'a Runtime,
    runtime: &'a str,
    redis: Option<&'a str>,
    fleet: OnceCell<Fleet>,
}

impl<'a> Fleets<'a> {
    /// A fleet on `rt` (named `runtime` in its namespace) syncing with the Redis at
    /// `redis`, or with none.
    pub fn new(rt: &'a Runtime, runtime: &'a str, redis: Option<&'a str>) -> Self {
        Fleets {
            rt,
            runtime,
            redis,
            fleet: OnceCell::new(),
        }
    }

    /// Whether there is a Redis to sync with (the leased row needs one).
    pub fn has_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// The fleet, started on the runtime at the first call.
    pub fn fleet(&self) -> &Fleet {
        self.fleet.get_or_init(|| {
            let _in_runtime = self.rt.enter();
            Fleet::builder(self.redis.unwrap_or(NO_REDIS))
                .namespace(format!("bench-{}-{}", std::process::id(), self.runtime))
                .sync_interval(SYNC_INTERVAL)
                .start()
                .expect("valid fleet settings")
        })
    }

    /// Drives the runtime until the fleet has made `more` more syncs with Redis.
    pub fn sync(&self, more: u32) {
        let fleet = self.fleet();
        self.rt.block_on(synced(fleet, fleet.syncs() + more));
    }
}

/// Waits until `fleet` has made `syncs` syncs in all and its last round trip succeeded.
async fn synced(fleet: &Fleet, syncs: u32) {
    let deadline = Instant::now() + SYNC_WAIT;
    while fleet.syncs() < syncs || !fleet.redis_up() {
        assert!(
            Instant::now() < deadline,
            "the fleet did not sync with Redis within {SYNC_WAIT:?} ({} syncs)",
            fleet.syncs()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// What the leased row's driver saw, for a line at the row's end.
#[derive(Debug, Default)]
pub struct LeaseStats {
    /// Timed stretches of calls, each ended by the lease running out or by the sample.
    stretches: AtomicU64,
    /// Stretches ended by a refused call (the lease ran out).
    ran_out: AtomicU64,
    /// Stretches after which Redis was away: their calls may have used the local
    /// limiter instead of the lease (none expected).
    away: AtomicU64,
}

impl LeaseStats {
    pub fn report(&self, row: &str) {
        eprintln!(
            "{row}: {} timed stretches, {} ended by the lease running out (then an untimed \
             wait for a sync), {} with Redis away after them",
            self.stretches.load(Relaxed),
            self.ran_out.load(Relaxed),
            self.away.load(Relaxed),
        );
    }
}

/// Times `iters` admitted calls through one service made by `make`, whose limiter
/// spends `fleet`'s lease, in a task on `rt`. A refused call (the lease ran out) ends
/// a timed stretch: the task waits, untimed, for the next sync and goes on. A stretch
/// starts only while the last sync succeeded (with Redis away, calls would use the
/// local limiter instead of the lease).
pub fn leased_calls<S, F>(
    rt: &Runtime,
    iters: u64,
    fleet: Fleet,
    stats: Arc<LeaseStats>,
    make: F,
) -> Duration
where
    F: FnOnce() -> S + Send + 'static,
    S: Service<u64, Response = u64, Error = BoxError> + Send + 'static,
    S::Future: Send,
{
    rt.block_on(async move {
        tokio::spawn(async move {
            let mut svc = make();
            let mut timed = Duration::ZERO;
            let mut i = 0;
            let mut wait_for = 0;
            while i < iters {
                synced(&fleet, wait_for).await;
                let start = Instant::now();
                let ran_out = loop {
                    if i == iters {
                        break false;
                    }
                    match svc.ready().await.unwrap().call(black_box(i)).await {
                        Ok(out) => {
                            black_box(out);
                            i += 1;
                        }
                        Err(e) => {
                            assert!(e.as_rejected().is_some(), "not a rejection: {e}");
                            break true;
                        }
                    }
                };
                timed += start.elapsed();
                stats.stretches.fetch_add(1, Relaxed);
                if !fleet.redis_up() {
                    stats.away.fetch_add(1, Relaxed);
                }
                if ran_out {
                    stats.ran_out.fetch_add(1, Relaxed);
                    wait_for = fleet.syncs() + 1;
                }
            }
            timed
        })
        .await
        .unwrap()
    })
}
