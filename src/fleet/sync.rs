//! The background sync: one atomic round trip to Redis per interval, off every call's
//! path, with its own timeout and a back-off while Redis is away.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Notify;

use super::Shared;

/// Registers this instance until `now + ttl` (server time), forgets expired ones, keeps
/// the key alive as long as instances sync, and returns how many are live.
const MEMBERSHIP: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return redis.call('ZCARD', KEYS[1])
";

#[derive(Clone, Copy, Debug)]
pub(super) struct Settings {
    pub(super) interval: Duration,
    pub(super) timeout: Duration,
}

/// An instance's entry lives three intervals past its last sync.
const MISSED_SYNCS: u32 = 3;

/// The most the wait between attempts grows to while Redis is away: 8 intervals.
const MAX_BACKOFF_SHIFT: u32 = 3;

/// Syncs until every [`Fleet`](super::Fleet) of this instance is dropped, then leaves.
pub(super) async fn run(fleet: Weak<Shared>, client: redis::Client, settings: Settings) {
    crate::telemetry::describe_metrics();
    let ttl_ms = u64::try_from((settings.interval * MISSED_SYNCS).as_millis()).unwrap_or(u64::MAX);
    let Some((key, instance)) = fleet.upgrade().map(|shared| {
        (
            super::members_key(&shared.namespace),
            shared.instance.clone(),
        )
    }) else {
        return;
    };
    let mut connection: Option<ConnectionManager> = None;
    let mut failures = 0_u32;
    while let Some(shared) = fleet.upgrade() {
        let participants: Vec<_> = {
            let list = shared
                .participants
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            list.iter().filter_map(Weak::upgrade).collect()
        };
        let mut pipe = redis::pipe();
        // One part's error (a script error, a key of the wrong type) fails that part
        // only: its participant decides on local state, the others go on.
        pipe.ignore_errors();
        pipe.cmd("EVAL")
            .arg(MEMBERSHIP)
            .arg(1)
            .arg(&key)
            .arg(&instance)
            .arg(ttl_ms);
        let sent: Vec<bool> = participants
            .iter()
            .map(|participant| match participant.command(&shared.namespace) {
                Some(command) => {
                    pipe.add_command(command);
                    true
                }
                None => false,
            })
            .collect();
        let expected = 1 + sent.iter().filter(|sent| **sent).count();
        let round_trip = async {
            let manager = match &mut connection {
                Some(manager) => manager,
                None => connection.insert(connect(&client, settings).await?),
            };
            pipe.query_async::<Vec<redis::Value>>(manager).await
        };
        match tokio::time::timeout(settings.timeout, round_trip).await {
            Ok(Ok(replies))
                if replies.len() == expected
                    && matches!(replies.first(), Some(redis::Value::Int(_))) =>
            {
                let mut replies = replies.into_iter();
                let live = replies
                    .next()
                    .and_then(|v| redis::from_redis_value::<u32>(v).ok())
                    .unwrap_or(1)
                    .max(1);
                shared.live.store(live, Relaxed);
                for (participant, sent) in participants.iter().zip(&sent) {
                    match sent.then(|| replies.next()).flatten() {
                        Some(redis::Value::ServerError(_)) => participant.away(live),
                        reply => participant.reply(reply.unwrap_or(redis::Value::Nil), live),
                    }
                }
                shared.syncs.fetch_add(1, Relaxed);
                report(&shared.namespace, live, true);
                if !shared.up.swap(true, Relaxed) && failures > 0 {
                    crate::telemetry::event!(
                        info,
                        "fleet",
                        &*shared.namespace,
                        "redis_back",
                        live,
                        "redis is back; the fleet is synced again"
                    );
                }
                failures = 0;
            }
            failed => {
                let live = shared.live.load(Relaxed).max(1);
                for participant in &participants {
                    participant.away(live);
                }
                if shared.up.swap(false, Relaxed) {
                    let why = match failed {
                        Ok(Err(err)) => err.to_string(),
                        Ok(Ok(_)) => "a reply of the wrong shape".to_owned(),
                        Err(_) => format!("no answer within {:?}", settings.timeout),
                    };
                    crate::telemetry::event!(
                        warn,
                        "fleet",
                        &*shared.namespace,
                        "redis_away",
                        live,
                        seawall.reason = why,
                        "redis is away; deciding on the last known fleet state"
                    );
                }
                report(&shared.namespace, live, false);
                failures = failures.saturating_add(1);
            }
        }
        // Nothing is kept alive across the wait: a dropped fleet or layer goes at once.
        let nudges = Arc::clone(&shared.nudge);
        drop((shared, participants));
        // The first retry after a failure comes one interval later, so that a single
        // lost round trip leaves the entry two intervals before it expires.
        let backoff = failures.saturating_sub(1).min(MAX_BACKOFF_SHIFT);
        let wait = settings.interval * (1 << backoff);
        if failures > 0 {
            tokio::time::sleep(wait).await;
        } else {
            wait_or_nudge(&nudges, wait).await;
        }
    }
    // The last `Fleet` is gone: leave at once rather than when the entry expires.
    if let Some(mut manager) = connection {
        let mut remove = redis::cmd("ZREM");
        remove.arg(&key).arg(&instance);
        let _ = tokio::time::timeout(settings.timeout, remove.exec_async(&mut manager)).await;
    }
}

/// Waits `wait`, or less if a layer nudges the fleet; a nudge never brings two round
/// trips closer than a tenth of the interval, so a busy layer cannot flood Redis. A
/// nudge sent while no one waits is kept for the next wait.
async fn wait_or_nudge(nudges: &Notify, wait: Duration) {
    let start = tokio::time::Instant::now();
    tokio::time::sleep(wait / 10).await;
    let _ = tokio::time::timeout_at(start + wait, nudges.notified()).await;
}

/// A connection that reconnects by itself, each attempt and each command bounded by
/// the round-trip timeout.
async fn connect(
    client: &redis::Client,
    settings: Settings,
) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.timeout))
        .set_response_timeout(Some(settings.timeout))
        .set_number_of_retries(1);
    ConnectionManager::new_with_config(client.clone(), config).await
}

/// The fleet's metrics after one round (feature `metrics`; nothing without it).
fn report(namespace: &str, live: u32, ok: bool) {
    #[cfg(feature = "metrics")]
    {
        use crate::telemetry::names;
        let ns = namespace.to_owned();
        metrics::gauge!(names::FLEET_INSTANCES, "namespace" => ns.clone()).set(f64::from(live));
        metrics::gauge!(names::FLEET_REDIS_UP, "namespace" => ns.clone())
            .set(f64::from(u8::from(ok)));
        let outcome = if ok { "ok" } else { "failed" };
        metrics::counter!(names::FLEET_SYNCS, "namespace" => ns, "outcome" => outcome).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (namespace, live, ok);
}
