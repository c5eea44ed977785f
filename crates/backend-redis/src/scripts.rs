//! The Lua scripts behind every write. Each runs atomically on the server, so a value
//! key and its index entry never disagree, and each publishes its change event from
//! inside the same atomic step, so watchers see commit order.
//!
//! User data travels only in `KEYS` and `ARGV`, and every key a script touches is named
//! in its `KEYS` (no key name is built inside Lua), all in one partition's hash slot (or
//! the namespace's, co-located), so each runs unchanged on one Redis Cluster node. The
//! script texts are constants, loaded
//! once per server and then run by SHA: [`evalsha`] starts the command, and the caller
//! (`Inner::eval`) loads the script and retries once when the server answers `NOSCRIPT`
//! (e.g. after a restart).
//!
//! The write scripts start with `#!lua` (Redis 7 function flags syntax, no flags), so the
//! server checks `maxmemory` before running them rather than failing half way: a script
//! that runs, runs to the end.
//!
//! Change messages (binary safe; decoded by `event`), published on the partition's
//! channel with the command the caller names (`PUBLISH` on one server, `SPUBLISH` on a
//! cluster: sharded pub/sub, the channel in the partition's slot): one or more records back to back, `P<key len>:<value len>:<key><value>` for
//! a put, `D<key len>:<key>` for a delete, `R<min len>:<max len>:<min><max>` for a range
//! delete that removed something (`min`/`max` as given to `ZRANGEBYLEX`), `X` when the
//! partition is dropped. A batch publishes one message per partition holding all its
//! records in commit order.

use redis::{Cmd, Script};

/// `KEYS`: marker, value key, index. `ARGV`: key, value, TTL in ms (`0`: none),
/// channel, publish command, the `PUBSUB` subcommand counting the channel's
/// subscribers (empty: always publish). Returns 0 when the partition is missing, else 1.
const PUT: &str = r#"#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] ~= '0' then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[2], ARGV[2])
end
redis.call('ZADD', KEYS[3], 0, ARGV[1])
if ARGV[6] ~= '' and redis.call('PUBSUB', ARGV[6], ARGV[4])[2] == 0 then return 1 end
redis.call(ARGV[5], ARGV[4], 'P' .. #ARGV[1] .. ':' .. #ARGV[2] .. ':' .. ARGV[1] .. ARGV[2])
return 1
"#;

/// `KEYS`: marker, value key, index. `ARGV`: key, channel, publish command, subscriber
/// count subcommand (as for `PUT`). Returns 0 when the partition is missing, else 1. A key that was absent (or expired) writes nothing and publishes
/// nothing.
const DELETE: &str = r#"#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('DEL', KEYS[2]) > 0 then
  if ARGV[4] == '' or redis.call('PUBSUB', ARGV[4], ARGV[2])[2] > 0 then
    redis.call(ARGV[3], ARGV[2], 'D' .. #ARGV[1] .. ':' .. ARGV[1])
  end
end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"#;

/// The conditional batch (a plain batch has no checks; a CAS is one check and one
/// operation), built by `batch::plan`.
///
/// `KEYS`: per partition its marker and index (partitions numbered from 1 in order of
/// first appearance, checks then operations); then one value key per check; then one
/// value key per put or delete (none for a range delete), in order; then, per range
/// delete in order, the value key of every index entry the caller read in its range.
///
/// `ARGV`: `[1]` partitions, `[2]` checks, `[3]` operations, `[4]` the publish command
/// (`PUBLISH` or `SPUBLISH`), `[5]` the `PUBSUB` subcommand counting subscribers
/// (`NUMSUB`; empty: always publish); then per partition its channel; then per check:
/// partition number, `1` (must equal the next argument) or `0` (must be absent), the
/// expected value; then per operation: partition number, flag, two arguments; then per
/// range delete: how many index entries the caller read, and those entries. Flags: `P`
/// put (key, value), the decimal TTL in ms of a put with a TTL (key, value), `D` delete
/// (key, empty), `R` range delete (min and max in `ZRANGEBYLEX` syntax: `-` / `[start`,
/// `+` / `(end`).
///
/// Returns `{1, j}` when partition `j` is missing (checked first, for every partition;
/// nothing written), `{2, i, current}` when check `i` fails (`current` nil when absent;
/// nothing written), `{3}` when a range's index holds an entry the caller did not
/// declare (written since it read the range: nothing written, read again and retry),
/// else `{0}` after applying every operation in order.
///
/// Writes are buffered per value key (`pending`: the last operation on each key decides
/// it) and flushed as one `MSET`, `SET .. PX` per TTL put, one `ZADD`, one `DEL` and one
/// `ZREM` per partition (split at 1024 arguments, below Lua's `unpack` limit) at the end
/// and before every range delete, so a range delete sees every earlier operation and
/// none of the later ones. `live` tracks whether each touched key holds a value, so a
/// delete of an absent key writes nothing and publishes nothing (an untouched key is
/// deleted at once: `DEL` says whether it was there). A range delete walks the index a
/// thousand entries at a time (`ZRANGEBYLEX .. LIMIT 0 1000`, then `DEL` of those value
/// keys, each found among the declared ones, and `ZREM` of those entries); an entry the
/// range holds when it runs was either declared by the caller (the range was checked
/// before anything was written) or put by an earlier operation of this batch. It
/// publishes one `R` record only when `DEL` removed a live value. Events are published
/// once per partition at the end, all records in operation order, when the channel has a
/// subscriber (`PUBSUB NUMSUB` counts all of a standalone server's subscribers, and a
/// subscription is never processed during a script) or always (`ARGV[5]` empty).
const WRITE: &str = r#"#!lua
local np, nc, no = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for j = 1, np do
  if redis.call('EXISTS', KEYS[j * 2 - 1]) == 0 then return {1, j} end
end
local a, k = 6 + np, np * 2 + 1
for i = 1, nc do
  local cur = redis.call('GET', KEYS[k])
  if ARGV[a + 1] == '1' then
    if cur ~= ARGV[a + 2] then return {2, i, cur} end
  elseif cur then
    return {2, i, cur}
  end
  a, k = a + 3, k + 1
end
local declared = {}
do
  local ra, rk = a + no * 4, k
  for o = 0, no - 1 do
    if ARGV[a + o * 4 + 1] ~= 'R' then rk = rk + 1 end
  end
  for o = 0, no - 1 do
    local b = a + o * 4
    if ARGV[b + 1] == 'R' then
      local names, n = {}, tonumber(ARGV[ra])
      for i = 1, n do names[ARGV[ra + i]] = KEYS[rk + i - 1] end
      ra, rk = ra + n + 1, rk + n
      local index, min = KEYS[tonumber(ARGV[b]) * 2], ARGV[b + 2]
      while true do
        local members = redis.call('ZRANGEBYLEX', index, min, ARGV[b + 3], 'LIMIT', 0, 1000)
        for i = 1, #members do
          if not names[members[i]] then return {3} end
        end
        if #members < 1000 then break end
        min = '(' .. members[#members]
      end
      declared[o + 1] = names
    end
  end
end
local watched, ev, own = {}, {}, {}
for j = 1, np do
  watched[j] = ARGV[5] == '' or redis.call('PUBSUB', ARGV[5], ARGV[5 + j])[2] > 0
  ev[j], own[j] = {}, {}
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
for o = 1, no do
  local j, flag, x, y = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  a = a + 4
  local e = ev[j]
  if flag == 'R' then
    flush()
    local index, names, mine, removed = KEYS[j * 2], declared[o], own[j], 0
    while true do
      local members = redis.call('ZRANGEBYLEX', index, x, y, 'LIMIT', 0, 1000)
      if #members == 0 then break end
      local doomed = {}
      for i = 1, #members do
        local name = names[members[i]] or mine[members[i]]
        if name then doomed[#doomed + 1] = name end
      end
      if #doomed > 0 then removed = removed + redis.call('DEL', unpack(doomed)) end
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
    own[j][x] = name
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
  if #ev[j] > 0 then redis.call(ARGV[4], ARGV[5 + j], table.concat(ev[j])) end
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

/// One step of a partition drop, repeated by the caller until it answers 1. `KEYS`:
/// marker, index, the value keys of the index entries the caller read (at most a
/// thousand), then the registry when it shares the partition's slot. `ARGV`: partition
/// name, channel, publish command, `1` when the registry is the last key (else `0`),
/// then those index entries. Returns 0 when the partition is missing; else removes the
/// named values and entries and answers 2 while the index holds more, or removes the
/// marker, the index and the registry entry, publishes `X` and answers 1. A partition
/// of up to a thousand keys goes in one atomic step.
const DROP: &str = r#"#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = #ARGV - 4
local s = 1
while s <= n do
  local e = math.min(s + 999, n)
  redis.call('UNLINK', unpack(KEYS, s + 2, e + 2))
  redis.call('ZREM', KEYS[2], unpack(ARGV, s + 4, e + 4))
  s = e + 1
end
if redis.call('ZCARD', KEYS[2]) > 0 then return 2 end
redis.call('DEL', KEYS[1], KEYS[2])
if ARGV[4] == '1' then redis.call('SREM', KEYS[#KEYS], ARGV[1]) end
redis.call(ARGV[3], ARGV[2], 'X')
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
