//! The Lua scripts behind every write. Each runs atomically on the server, so a value
//! key and its index entry never disagree, and each publishes its change event from
//! inside the same atomic step, so watchers see commit order.
//!
//! User data travels only in `KEYS` and `ARGV`; the script texts are constants, loaded
//! once per server and then run by SHA: [`evalsha`] starts the command, and the caller
//! (`Inner::eval`) loads the script and retries once when the server answers `NOSCRIPT`
//! (e.g. after a restart).
//!
//! The write scripts start with `#!lua` (Redis 7 function flags syntax, no flags), so the
//! server checks `maxmemory` before running them rather than failing half way: a script
//! that runs, runs to the end.
//!
//! Change messages (binary safe; decoded by `event`), published on the partition's
//! channel: one or more records back to back, `P<key len>:<value len>:<key><value>` for
//! a put, `D<key len>:<key>` for a delete, `X` when the partition is dropped. A batch
//! publishes one message per partition holding all its records in commit order.

use redis::{Cmd, Script};

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
redis.call('PUBLISH', ARGV[4], 'P' .. #ARGV[1] .. ':' .. #ARGV[2] .. ':' .. ARGV[1] .. ARGV[2])
return 1
"#;

/// `KEYS`: marker, value key, index. `ARGV`: key, channel. Returns 0 when the partition
/// is missing, else 1. Publishes the delete whether or not a value was there (as every
/// backend does).
const DELETE: &str = r#"#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], 'D' .. #ARGV[1] .. ':' .. ARGV[1])
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
  redis.call('PUBLISH', ARGV[6], 'P' .. #ARGV[1] .. ':' .. #ARGV[5] .. ':' .. ARGV[1] .. ARGV[5])
else
  if redis.call('DEL', KEYS[2]) > 0 then
    redis.call('PUBLISH', ARGV[6], 'D' .. #ARGV[1] .. ':' .. ARGV[1])
  end
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return {1}
"#;

/// The batch, grouped by partition on the client (operations keep their order within
/// a partition; operations on different partitions touch different keys, so their
/// relative order is not observable).
///
/// `KEYS`: per partition its marker and index; then one value key per operation marked
/// final (below), in operation order. `ARGV[1]`: the number of partitions; then per
/// partition its channel and its number of operations; then per operation three
/// arguments: a flag, the key, the value (empty for a delete). Flags of an operation
/// that is the last one on its key in the batch (it decides the key's final state and
/// has a value key in `KEYS`): `P` put, `D` delete, or the decimal TTL in ms of a put
/// with a TTL; `p` and `d` when a later operation on the same key follows (the
/// operation is then only published).
///
/// Checks every partition marker first and returns the 1-based number of the first
/// missing partition (nothing written). Else, per partition: one `MSET` of the final
/// plain puts, one `SET .. PX` per final TTL put, one `ZADD` of every put key, one `DEL`
/// and one `ZREM` of the deleted keys (commands over 1024 arguments are split, below
/// Lua's `unpack` limit), and, when the channel has a subscriber, one `PUBLISH` of all
/// the partition's records in order; returns 0.
///
/// `PUBSUB NUMSUB` counts this server's subscribers, which on a standalone server are
/// all of them, and a subscription is never processed during a script: a watcher whose
/// `watch` returned before the batch began is always counted.
const BATCH: &str = r#"#!lua
local np = tonumber(ARGV[1])
for j = 1, np do
  if redis.call('EXISTS', KEYS[j * 2 - 1]) == 0 then return j end
end
local function chunked(cmd, head, args)
  local n, s = #args, 1
  while s <= n do
    local e = math.min(s + 1023, n)
    if head then
      redis.call(cmd, head, unpack(args, s, e))
    else
      redis.call(cmd, unpack(args, s, e))
    end
    s = e + 1
  end
end
local a, k = np * 2 + 2, np * 2 + 1
for j = 1, np do
  local channel = ARGV[j * 2]
  local watched = redis.call('PUBSUB', 'NUMSUB', channel)[2] > 0
  local plain, zadd, del, zrem, ev = {}, {}, {}, {}, {}
  for _ = 1, tonumber(ARGV[j * 2 + 1]) do
    local flag, key = ARGV[a], ARGV[a + 1]
    if flag == 'D' or flag == 'd' then
      if watched then
        ev[#ev + 1] = 'D' .. #key .. ':'
        ev[#ev + 1] = key
      end
      if flag == 'D' then
        del[#del + 1] = KEYS[k]
        zrem[#zrem + 1] = key
        k = k + 1
      end
    else
      local value = ARGV[a + 2]
      if watched then
        ev[#ev + 1] = 'P' .. #key .. ':' .. #value .. ':'
        ev[#ev + 1] = key
        ev[#ev + 1] = value
      end
      if flag ~= 'p' then
        if flag == 'P' then
          plain[#plain + 1] = KEYS[k]
          plain[#plain + 1] = value
        else
          redis.call('SET', KEYS[k], value, 'PX', flag)
        end
        zadd[#zadd + 1] = '0'
        zadd[#zadd + 1] = key
        k = k + 1
      end
    end
    a = a + 3
  end
  chunked('MSET', nil, plain)
  chunked('ZADD', KEYS[j * 2], zadd)
  chunked('DEL', nil, del)
  chunked('ZREM', KEYS[j * 2], zrem)
  if watched then redis.call('PUBLISH', channel, table.concat(ev)) end
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

/// `EVALSHA <sha of script> <keys>`: append the `keys` key names, then the arguments.
/// (Built directly as one command, rather than through `redis::ScriptInvocation`, which
/// copies every argument twice.)
pub(crate) fn evalsha(script: &Script, keys: usize) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(keys);
    cmd
}

/// [`evalsha`] with room for `args` arguments in all (`EVALSHA` included) of `data`
/// bytes in all, so building a large call does not reallocate.
pub(crate) fn evalsha_with_capacity(script: &Script, keys: usize, args: usize, data: usize) -> Cmd {
    let mut cmd = Cmd::with_capacity(args, data + 64);
    cmd.arg("EVALSHA").arg(script.get_hash()).arg(keys);
    cmd
}
