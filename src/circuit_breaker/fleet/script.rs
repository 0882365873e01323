//! The one Lua script a fleet-wide breaker runs at every sync, and its reply.

/// One breaker's exchange with the fleet, atomic on the server and timed by its clock.
///
/// `KEYS[1]`: the breaker's hash (`until`: the end of the fleet's open period;
/// `trips`: the trips in a row of the instance that opened it; `wanted`: when another
/// instance last asked for the token and was refused; `prober`, `prober_until`: the instance that holds the probe token and when its token
/// expires; `closed`: when the last prober's probes closed its breaker).
/// `KEYS[2]`: the list of call batches, newest first, each `"at calls failures slow"`.
/// `KEYS[3]`: the fleet's members, to free the token of a prober that left.
///
/// `ARGV`: 1 instance, 2 ms left of an open period to publish (0: none), 3 ends this
/// close are one period, 4–6 calls, failures and slow calls since the last sync,
/// 7 calls the window holds (0: any), 8 the oldest batch's age (ms), 9 wants the probe
/// token, 10 gives the token back (1: its breaker closed, 2: it gave up), 11 the token's
/// lifetime (ms), 12 how long the `closed` mark is kept (ms), 13 the publisher's trips in
/// a row (with a period to publish).
///
/// Returns `{until, now, calls, failures, slow, run, granted, closed, trips, wanted}`.
pub(super) const EXCHANGE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me = ARGV[1]
local h = redis.call('HMGET', KEYS[1], 'until', 'prober', 'prober_until', 'closed', 'trips', 'wanted')
local fleet = tonumber(h[1] or '0') or 0
local prober = h[2] or ''
local prober_until = tonumber(h[3] or '0') or 0
local closed = tonumber(h[4] or '0') or 0
local trips = tonumber(h[5] or '0') or 0
local wanted = tonumber(h[6] or '0') or 0
if prober ~= '' then
  -- A prober that left the fleet (or crashed: its entry expired) holds nothing.
  local expires = tonumber(redis.call('ZSCORE', KEYS[3], prober) or '0')
  if expires <= now then prober, prober_until = '', 0 end
end
local left = tonumber(ARGV[2])
if left > 0 and now + left > fleet + tonumber(ARGV[3]) then
  -- A new open period: the calls before it were judged, its probes are to be chosen.
  fleet = now + left
  trips = math.max(0, math.min(math.floor(tonumber(ARGV[13]) or 0), 1024))
  redis.call('HSET', KEYS[1], 'until', fleet, 'trips', string.format('%d', trips))
  redis.call('HDEL', KEYS[1], 'prober', 'prober_until')
  redis.call('DEL', KEYS[2])
  prober, prober_until = '', 0
end
if ARGV[10] ~= '0' and prober == me then
  redis.call('HDEL', KEYS[1], 'prober', 'prober_until')
  prober, prober_until = '', 0
  if ARGV[10] == '1' then
    closed = now
    redis.call('HSET', KEYS[1], 'closed', closed)
  end
end
-- After a prober's close no token is given: the askers close instead.
local recovered = closed > 0 and closed >= fleet
local granted = 0
if ARGV[9] == '1' and not recovered and (prober == '' or prober == me or prober_until <= now) then
  prober_until = now + tonumber(ARGV[11])
  redis.call('HSET', KEYS[1], 'prober', me, 'prober_until', prober_until)
  granted = 1
elseif ARGV[9] == '1' and not recovered then
  -- Refused: the holder learns that another instance wants the token.
  wanted = now
  redis.call('HSET', KEYS[1], 'wanted', wanted)
end
local last = math.max(fleet, prober_until, closed + tonumber(ARGV[12]))
if last > now then
  redis.call('PEXPIRE', KEYS[1], last - now + 1000)
end
-- Calls made while the fleet is open are of the period it already judged.
-- Counts are integers written out as such, capped (a bad argument cannot break the list).
local c = math.min(math.floor(tonumber(ARGV[4]) or 0), 1e12)
local f = math.min(math.floor(tonumber(ARGV[5]) or 0), c)
local s = math.min(math.floor(tonumber(ARGV[6]) or 0), c)
if fleet <= now and c > 0 then
  redis.call('LPUSH', KEYS[2], string.format('%d %d %d %d', now, c, f, s))
end
local most, age = tonumber(ARGV[7]), tonumber(ARGV[8])
local calls, failures, slow, run, kept, in_run = 0, 0, 0, 0, 0, true
for i, batch in ipairs(redis.call('LRANGE', KEYS[2], 0, 1023)) do
  local at, bc, bf, bs = string.match(batch, '^(%d+) (%d+) (%d+) (%d+)$')
  at, bc, bf, bs = tonumber(at), tonumber(bc), tonumber(bf), tonumber(bs)
  if at == nil or now - at > age or (most > 0 and calls >= most) then
    break
  end
  kept = i
  calls, failures, slow = calls + bc, failures + bf, slow + bs
  if in_run and bf == bc then run = run + bf else in_run = false end
end
if kept == 0 then
  redis.call('DEL', KEYS[2])
else
  redis.call('LTRIM', KEYS[2], 0, kept - 1)
  redis.call('PEXPIRE', KEYS[2], age)
end
return {fleet, now, calls, failures, slow, run, granted, closed, trips, wanted}
";

/// The script's reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Reply {
    /// The end of the fleet's last open period (server ms; 0 if none).
    pub(super) until: i64,
    /// The server's clock.
    pub(super) now: i64,
    pub(super) calls: u64,
    pub(super) failures: u64,
    pub(super) slow: u64,
    /// Failures in a row at the newest end, in whole batches.
    pub(super) run: u64,
    /// Whether this instance holds the probe token.
    pub(super) granted: bool,
    /// When the last prober's probes closed its breaker (server ms; 0 if never).
    pub(super) closed: i64,
    /// The trips in a row of the instance that opened the fleet's period (at most 1024).
    pub(super) trips: u32,
    /// When another instance was last refused the token (server ms; 0 if never).
    pub(super) wanted: i64,
}

impl Reply {
    /// Parses a reply defensively: anything but ten integers, the counts not
    /// negative, is `None`; the trips are clamped to 0–1024.
    pub(super) fn parse(value: redis::Value) -> Option<Reply> {
        let v: Vec<i64> = redis::from_redis_value(value).ok()?;
        let [
            until,
            now,
            calls,
            failures,
            slow,
            run,
            granted,
            closed,
            trips,
            wanted,
        ] = v[..]
        else {
            return None;
        };
        let count = |n: i64| u64::try_from(n).ok();
        let calls = count(calls)?;
        Some(Reply {
            until,
            now,
            calls,
            failures: count(failures)?.min(calls),
            slow: count(slow)?.min(calls),
            run: count(run)?.min(calls),
            granted: granted == 1,
            closed,
            trips: u32::try_from(trips.clamp(0, 1024)).unwrap_or(0),
            wanted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Reply;
    use redis::Value::{Int, Nil};

    #[test]
    fn replies_of_the_wrong_shape_or_sign_are_refused_and_counts_are_clamped() {
        let ints = |v: &[i64]| redis::Value::Array(v.iter().map(|&n| Int(n)).collect());
        assert_eq!(Reply::parse(Nil), None);
        assert_eq!(Reply::parse(ints(&[1, 2, 3])), None);
        assert_eq!(Reply::parse(ints(&[1, 2, -3, 0, 0, 0, 0, 0, 0, 0])), None);
        let reply = Reply::parse(ints(&[5, 4, 10, 99, 3, 12, 1, 0, 1 << 40, 0])).unwrap();
        assert_eq!((reply.failures, reply.run, reply.slow), (10, 10, 3));
        assert_eq!(reply.trips, 1024);
        assert_eq!(
            Reply::parse(ints(&[5, 4, 1, 0, 0, 0, 0, 0, -7, 0]))
                .unwrap()
                .trips,
            0
        );
        assert!(reply.granted);
    }
}
