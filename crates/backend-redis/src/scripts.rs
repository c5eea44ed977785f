//! The Lua scripts behind every write. Each runs atomically on the server, so a value
//! key and its index entry never disagree, and each publishes its change event from
//! inside the same atomic step, so watchers see commit order.
//!
//! User data travels only in `KEYS` and `ARGV`; the script texts are constants, loaded
//! once per server and then run by SHA (`redis::Script` falls back to `SCRIPT LOAD` when
//! the server answers `NOSCRIPT`, e.g. after a restart).
//!
//! The write scripts start with `#!lua` (Redis 7 function flags syntax, no flags), so the
//! server checks `maxmemory` before running them rather than failing half way: a script
//! that runs, runs to the end.
//!
//! Event encoding (binary safe), published on the partition's channel:
//! `P<decimal key length>:<key><value>` for a put, `D<key>` for a delete, `X` when the
//! partition is dropped.

use redis::Script;

/// `KEYS`: marker, value key, index. `ARGV`: key, value, TTL in ms (`0`: none),
/// channel. Returns 0 when the partition is missing, else 1.
const PUT: &str = r#"#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] ~= '0' then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[2], ARGV[2])
end
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('PUBLISH', ARGV[4], 'P' .. #ARGV[1] .. ':' .. ARGV[1] .. ARGV[2])
return 1
"#;

/// `KEYS`: marker, value key, index. `ARGV`: key, channel. Returns 0 when the partition
/// is missing, else 1. Publishes only when a live value was removed.
const DELETE: &str = r#"#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local removed = redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
if removed > 0 then redis.call('PUBLISH', ARGV[2], 'D' .. ARGV[1]) end
return 1
"#;

/// `KEYS`: marker, value key, index. `ARGV`: key, `1` if an expected value follows
/// (else `0`: the key must be absent), expected, `1` if a new value follows (else `0`:
/// delete), new, channel. Returns `{0}` for a missing partition, `{1}` when swapped,
/// `{2, current}` on mismatch (`current` absent when the key is absent).
const CAS: &str = r#"#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local cur = redis.call('GET', KEYS[2])
if ARGV[2] == '1' then
  if cur == false or cur ~= ARGV[3] then return {2, cur} end
elseif cur ~= false then
  return {2, cur}
end
if ARGV[4] == '1' then
  redis.call('SET', KEYS[2], ARGV[5])
  redis.call('ZADD', KEYS[3], 0, ARGV[1])
  redis.call('PUBLISH', ARGV[6], 'P' .. #ARGV[1] .. ':' .. ARGV[1] .. ARGV[5])
else
  if redis.call('DEL', KEYS[2]) > 0 then redis.call('PUBLISH', ARGV[6], 'D' .. ARGV[1]) end
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return {1}
"#;

/// `KEYS`: per operation marker, value key, index. `ARGV`: per operation `P` or `D`,
/// key, value, TTL in ms (`0`: none), channel. Checks every partition first; returns
/// the 1-based number of the first operation whose partition is missing (nothing
/// written), else 0 after applying every operation in order.
const BATCH: &str = r#"#!lua
local n = #KEYS / 3
for i = 0, n - 1 do
  if redis.call('EXISTS', KEYS[i * 3 + 1]) == 0 then return i + 1 end
end
for i = 0, n - 1 do
  local k, a = i * 3, i * 5
  local key = ARGV[a + 2]
  if ARGV[a + 1] == 'P' then
    if ARGV[a + 4] ~= '0' then
      redis.call('SET', KEYS[k + 2], ARGV[a + 3], 'PX', ARGV[a + 4])
    else
      redis.call('SET', KEYS[k + 2], ARGV[a + 3])
    end
    redis.call('ZADD', KEYS[k + 3], 0, key)
    redis.call('PUBLISH', ARGV[a + 5], 'P' .. #key .. ':' .. key .. ARGV[a + 3])
  else
    if redis.call('DEL', KEYS[k + 2]) > 0 then redis.call('PUBLISH', ARGV[a + 5], 'D' .. key) end
    redis.call('ZREM', KEYS[k + 3], key)
  end
end
return 0
"#;

/// `KEYS`: marker, registry. `ARGV`: partition name. Idempotent.
const CREATE: &str = r#"#!lua
redis.call('SET', KEYS[1], '1')
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"#;

/// `KEYS`: marker, index, registry. `ARGV`: partition name, value key prefix, channel.
/// Returns 0 when the partition is missing. Removes the value keys named by the index a
/// thousand at a time (the value keys are derived from the prefix, so this script is
/// for standalone servers; see the docs).
const DROP: &str = r#"#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
while true do
  local members = redis.call('ZRANGE', KEYS[2], 0, 999)
  if #members == 0 then break end
  local names = {}
  for i = 1, #members do names[i] = ARGV[2] .. members[i] end
  redis.call('UNLINK', unpack(names))
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, #members - 1)
end
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[3], 'X')
return 1
"#;

/// `KEYS`: index, then one value key per member. `ARGV`: the index members. Removes
/// the index entries whose value key is gone (expired); returns how many.
const RECLAIM: &str = r#"#!lua
local n = 0
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then
    n = n + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return n
"#;

/// Every script, hashed once at open.
pub(crate) struct Scripts {
    pub put: Script,
    pub delete: Script,
    pub cas: Script,
    pub batch: Script,
    pub create: Script,
    pub drop: Script,
    pub reclaim: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Scripts {
            put: Script::new(PUT),
            delete: Script::new(DELETE),
            cas: Script::new(CAS),
            batch: Script::new(BATCH),
            create: Script::new(CREATE),
            drop: Script::new(DROP),
            reclaim: Script::new(RECLAIM),
        }
    }

    /// Every script, for `SCRIPT LOAD` at open.
    pub fn all(&self) -> [&Script; 7] {
        [
            &self.put,
            &self.delete,
            &self.cas,
            &self.batch,
            &self.create,
            &self.drop,
            &self.reclaim,
        ]
    }
}
