//! The Lua scripts of the Redis queue: each runs atomically in Redis, so a
//! check and the writes that depend on it cannot interleave with another
//! node's. KEYS and ARGV are documented on each.

/// KEYS: stream, ids set. ARGV: group, capacity (0 = no check), now, ids…
/// Adds an entry for each id not already in the set; -1 when they do not fit.
pub(super) const ENQUEUE: &str = r#"
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])[1]
local waiting = redis.call('XLEN', KEYS[1]) - pending
local n = #ARGV - 3
local cap = tonumber(ARGV[2])
if cap > 0 and waiting + n > cap then return -1 end
local added = 0
for i = 4, #ARGV do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('XADD', KEYS[1], '*', 'id', ARGV[i], 'enqueued_at_ms', ARGV[3], 'prior', '0')
    added = added + 1
  end
end
return added
"#;

/// KEYS: stream. ARGV: group. Entries not yet delivered to the group.
pub(super) const DEPTH: &str = r#"
local pending = redis.call('XPENDING', KEYS[1], ARGV[1])[1]
return redis.call('XLEN', KEYS[1]) - pending
"#;

/// Whether the delivery (entry ARGV[2], consumer ARGV[3], delivery count
/// ARGV[4]) still holds its entry. Shared head of [`ACK`] and [`REQUEUE`].
pub(super) const OWNS: &str = r#"
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] or tonumber(p[1][4]) ~= tonumber(ARGV[4]) then return 0 end
"#;

/// KEYS: stream, ids set. ARGV: group, entry, consumer, deliveries, submission id.
pub(super) const ACK_TAIL: &str = r#"
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('SREM', KEYS[2], ARGV[5])
return 1
"#;

/// Heartbeat: the holder claims its own entry again with `JUSTID`, which
/// resets the entry's idle time without counting a delivery (so the
/// delivery's token stays valid). KEYS, ARGV as [`ACK_TAIL`].
pub(super) const RENEW_TAIL: &str = r#"
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"#;

/// KEYS: stream. ARGV: group, entry, consumer, deliveries, submission id,
/// enqueued_at_ms, attempts to count before it. A fresh entry replaces the held one.
pub(super) const REQUEUE_TAIL: &str = r#"
redis.call('XADD', KEYS[1], '*', 'id', ARGV[5], 'enqueued_at_ms', ARGV[6], 'prior', ARGV[7])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
"#;
