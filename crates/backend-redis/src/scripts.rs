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
//! a put, `D<key len>:<key>` for a delete, `R<min len>:<max len>:<min><max>` for a range
//! delete that removed something (`min`/`max` as given to `ZRANGEBYLEX`), `X` when the
//! partition is dropped. A batch publishes one message per partition holding all its
//! records in commit order.

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
/// is missing, else 1. A key that was absent (or expired) writes nothing and publishes
/// nothing.
const DELETE: &str = r#"#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('DEL', KEYS[2]) > 0 then
  redis.call('PUBLISH', ARGV[2], 'D' .. #ARGV[1] .. ':' .. ARGV[1])
end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"#;

/// The conditional batch (a plain batch has no checks; a CAS is one check and one
/// operation), built by `batch::plan`.
///
/// `KEYS`: per partition its marker and index (partitions numbered from 1 in order of
/// first appearance, checks then operations); then one value key per check; then one
/// value key per put or delete (none for a range delete), in order.
///
/// `ARGV`: `[1]` partitions, `[2]` checks, `[3]` operations, `[4]` the publish command
/// (`PUBLISH` or `SPUBLISH`), `[5]` the `PUBSUB` subcommand counting subscribers
/// (`NUMSUB`; empty: always publish); then per partition its channel and value-key
/// prefix; then per check: partition number, `1` (must equal the next argument) or `0`
/// (must be absent), the expected value; then per operation: partition number, flag,
/// two arguments. Flags: `P` put (key, value), the decimal TTL in ms of a put with a TTL
/// (key, value), `D` delete (key, empty), `R` range delete (min and max in
/// `ZRANGEBYLEX` syntax: `-` / `[start`, `+` / `(end`).
///
/// Returns `{1, j}` when partition `j` is missing (checked first, for every partition;
/// nothing written), `{2, i, current}` when check `i` fails (`current` nil when absent;
/// nothing written), else `{0}` after applying every operation in order.
///
/// Writes are buffered per value key (`pending`: the last operation on each key decides
/// it) and flushed as one `MSET`, `SET .. PX` per TTL put, one `ZADD`, one `DEL` and one
/// `ZREM` per partition (split at 1024 arguments, below Lua's `unpack` limit) at the end
/// and before every range delete, so a range delete sees every earlier operation and
/// none of the later ones. `live` tracks whether each touched key holds a value, so a
/// delete of an absent key writes nothing and publishes nothing (an untouched key is
/// deleted at once: `DEL` says whether it was there). A range delete walks the index a
/// thousand entries at a time (`ZRANGEBYLEX .. LIMIT 0 1000`, then `DEL` of those value
/// keys and `ZREM` of those entries), so its memory is bounded whatever the range; it
/// publishes one `R` record only when `DEL` removed a live value. Events are published
/// once per partition at the end, all records in operation order, when the channel has a
/// subscriber (`PUBSUB NUMSUB` counts all of a standalone server's subscribers, and a
/// subscription is never processed during a script).
const WRITE: &str = r#"#!lua
local np, nc, no = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for j = 1, np do
  if redis.call('EXISTS', KEYS[j * 2 - 1]) == 0 then return {1, j} end
end
local a, k = 6 + np * 2, np * 2 + 1
for i = 1, nc do
  local cur = redis.call('GET', KEYS[k])
  if ARGV[a + 1] == '1' then
    if cur ~= ARGV[a + 2] then return {2, i, cur} end
  elseif cur then
    return {2, i, cur}
  end
  a, k = a + 3, k + 1
end
local watched, ev = {}, {}
for j = 1, np do
  watched[j] = ARGV[5] == '' or redis.call('PUBSUB', ARGV[5], ARGV[4 + j * 2])[2] > 0
  ev[j] = {}
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
local live, pending = {}, {}
local function flush()
  local groups = {}
  for name, op in pairs(pending) do
    local g = groups[op[1]]
    if not g then
      g = {{}, {}, {}, {}}
      groups[op[1]] = g
    end
    local flag = op[2]
    if flag == 'D' or flag == 'd' then
      if flag == 'D' then g[3][#g[3] + 1] = name end
      g[4][#g[4] + 1] = op[3]
    else
      if flag == 'P' then
        g[1][#g[1] + 1] = name
        g[1][#g[1] + 1] = op[4]
      else
        redis.call('SET', name, op[4], 'PX', flag)
      end
      g[2][#g[2] + 1] = '0'
      g[2][#g[2] + 1] = op[3]
    end
  end
  for j, g in pairs(groups) do
    chunked('MSET', nil, g[1])
    chunked('ZADD', KEYS[j * 2], g[2])
    chunked('DEL', nil, g[3])
    chunked('ZREM', KEYS[j * 2], g[4])
  end
  live, pending = {}, {}
end
for _ = 1, no do
  local j, flag, x, y = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  a = a + 4
  local e = ev[j]
  if flag == 'R' then
    flush()
    local index, prefix, removed = KEYS[j * 2], ARGV[5 + j * 2], 0
    while true do
      local members = redis.call('ZRANGEBYLEX', index, x, y, 'LIMIT', 0, 1000)
      if #members == 0 then break end
      local names = {}
      for i = 1, #members do names[i] = prefix .. members[i] end
      removed = removed + redis.call('DEL', unpack(names))
      redis.call('ZREM', index, unpack(members))
    end
    if removed > 0 and watched[j] then
      e[#e + 1] = 'R' .. #x .. ':' .. #y .. ':'
      e[#e + 1] = x
      e[#e + 1] = y
    end
  else
    local name = KEYS[k]
    k = k + 1
    if flag == 'D' then
      local was = live[name]
      if was == nil then
        was = redis.call('DEL', name) > 0
        pending[name] = {j, 'd', x}
      elseif was then
        pending[name] = {j, 'D', x}
      end
      live[name] = false
      if was and watched[j] then
        e[#e + 1] = 'D' .. #x .. ':'
        e[#e + 1] = x
      end
    else
      pending[name] = {j, flag, x, y}
      live[name] = true
      if watched[j] then
        e[#e + 1] = 'P' .. #x .. ':' .. #y .. ':'
        e[#e + 1] = x
        e[#e + 1] = y
      end
    end
  end
end
flush()
for j = 1, np do
  if #ev[j] > 0 then redis.call(ARGV[4], ARGV[4 + j * 2], table.concat(ev[j])) end
end
return {0}
"#;

/// `KEYS`: marker, registry. `ARGV`: partition name, a token unique to this creation
/// (the marker's value: a scan notices that its partition was dropped and created
/// again). Idempotent: an existing marker keeps its token.
const CREATE: &str = r#"#!lua
redis.call('SET', KEYS[1], ARGV[2], 'NX')
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

/// One scan page, read atomically with the partition marker. `KEYS`: marker, then the
/// page's value keys. `ARGV`: `1` keys-only (each value answered as `EXISTS`), else
/// `0`. Returns `{marker value, value or 0/1 per key}` (nil for a missing value); a
/// read-only script, so it runs the same on a standalone server and a cluster slot.
const PAGE: &str = r#"#!lua flags=no-writes
local out = {redis.call('GET', KEYS[1])}
for i = 2, #KEYS do
  if ARGV[1] == '1' then
    out[i] = redis.call('EXISTS', KEYS[i])
  else
    out[i] = redis.call('GET', KEYS[i])
  end
end
return out
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
    pub write: Script,
    pub create: Script,
    pub drop: Script,
    pub reclaim: Script,
    pub page: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Scripts {
            put: Script::new(PUT),
            delete: Script::new(DELETE),
            write: Script::new(WRITE),
            create: Script::new(CREATE),
            drop: Script::new(DROP),
            reclaim: Script::new(RECLAIM),
            page: Script::new(PAGE),
        }
    }

    /// Every script, for `SCRIPT LOAD` at open.
    pub fn all(&self) -> [&Script; 7] {
        [
            &self.put,
            &self.delete,
            &self.write,
            &self.create,
            &self.drop,
            &self.reclaim,
            &self.page,
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
