//! The raw `redis` crate on one multiplexed connection, laid out like backend-redis
//! keeps a partition (a string per value, a lex-ordered sorted set of keys) but with no
//! partition marker, no TTL, no watch events: the least work the same layout needs.
//! Writes are pipelined (`MULTI`/`EXEC` for a batch), gets of many keys are one `MGET`,
//! a scan is one `ZRANGEBYLEX` then one `MGET`, CAS is one Lua script.
//!
//! The plain calls ([`get`], [`mget`], [`set`], [`set_each`], [`indexed_put`]) are also
//! the raw sides of the redis bench targets, on one server or a cluster alike.

use bytes::Bytes;
use redis::aio::{ConnectionLike, MultiplexedConnection};

use crate::subject::{Spec, Subject, consume};

const INDEX: &[u8] = b"raw:i";
const VALUE_PREFIX: &[u8] = b"raw:v:";

const CAS_SCRIPT: &str = r"
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= false then return 0 end
elseif cur ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[4])
return 1
";

/// A conditional batch. KEYS: the checked value keys, the written value keys, then the
/// index. ARGV: the number of checks `n`, the `n` expected values, the written values,
/// then the written keys (for the index). Writes nothing unless every check holds.
const TXN_SCRIPT: &str = r"
local n = tonumber(ARGV[1])
for i = 1, n do
  if redis.call('GET', KEYS[i]) ~= ARGV[1 + i] then return 0 end
end
local index = KEYS[#KEYS]
local w = (#KEYS - 1 - n)
for i = 1, w do
  redis.call('SET', KEYS[n + i], ARGV[1 + n + i])
  redis.call('ZADD', index, 0, ARGV[1 + n + w + i])
end
return 1
";

/// Removes every indexed key in the lex range `ARGV[1]..ARGV[2]` and its value, in
/// chunks of 1,000 (`KEYS[1]` the index; `ARGV[3]` the value-key prefix).
const RANGE_SCRIPT: &str = r"
while true do
  local keys = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, 1000)
  if #keys == 0 then return 1 end
  local names = {}
  for i, k in ipairs(keys) do names[i] = ARGV[3] .. k end
  redis.call('DEL', unpack(names))
  redis.call('ZREM', KEYS[1], unpack(keys))
end
";

/// `GET key`.
pub async fn get(conn: &mut impl ConnectionLike, key: &[u8]) -> Option<Bytes> {
    redis::cmd("GET")
        .arg(key)
        .query_async(conn)
        .await
        .expect("GET")
}

/// `MGET keys` (at least one key).
pub async fn mget(conn: &mut impl ConnectionLike, keys: &[Vec<u8>]) -> Vec<Option<Bytes>> {
    redis::cmd("MGET")
        .arg(keys)
        .query_async(conn)
        .await
        .expect("MGET")
}

/// `SET key value`.
pub async fn set(conn: &mut impl ConnectionLike, key: &[u8], value: &[u8]) {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query_async::<()>(conn)
        .await
        .expect("SET")
}

/// `SET key value` for each key, as one pipeline (not a transaction).
pub async fn set_each(
    conn: &mut impl ConnectionLike,
    keys: impl IntoIterator<Item = Vec<u8>>,
    value: &[u8],
) {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.set(key, value).ignore();
    }
    pipe.query_async::<()>(conn).await.expect("pipeline of SET");
}

/// The work a put must do, as one plain pipeline (no script): `EXISTS` of the partition
/// marker `{names}marker`, `SET`, `ZADD` to the index `{names}index`, then the event
/// (key and value) published on `{names}events`, with `SPUBLISH` when `sharded` (a
/// cluster: `names` then carries a hash tag, so all of it is in one slot). Returns
/// whether the marker exists.
pub async fn indexed_put(
    conn: &mut impl ConnectionLike,
    names: &str,
    sharded: bool,
    key: &[u8],
    value: &[u8],
) -> bool {
    let mut pipe = redis::pipe();
    pipe.exists(format!("{names}marker"))
        .set(key, value)
        .ignore()
        .zadd(format!("{names}index"), key, 0)
        .ignore()
        .cmd(if sharded { "SPUBLISH" } else { "PUBLISH" })
        .arg(format!("{names}events"))
        .arg([key, value].concat())
        .ignore();
    let (exists,) = pipe
        .query_async::<(bool,)>(conn)
        .await
        .expect("indexed put pipeline");
    exists
}

/// A connection to the server named by [`Spec::redis_url`].
pub struct RawRedis {
    conn: MultiplexedConnection,
    cas: redis::Script,
    txn: redis::Script,
    range: redis::Script,
}

fn value_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(VALUE_PREFIX.len() + key.len());
    out.extend_from_slice(VALUE_PREFIX);
    out.extend_from_slice(key);
    out
}

/// `[key` (inclusive) in ZRANGEBYLEX syntax.
fn lex(open: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(open);
    out.extend_from_slice(key);
    out
}

impl Subject for RawRedis {
    async fn open(spec: &Spec) -> Self {
        let url = spec
            .redis_url
            .as_deref()
            .expect("raw_redis needs Spec::redis_url");
        let client = redis::Client::open(url).expect("redis url");
        // The crate's default response timeout is too short for loading the data sets
        // (pipelines of megabytes of 64 KiB values); backend-redis is given the same.
        let config = redis::AsyncConnectionConfig::new()
            .set_response_timeout(Some(crate::REDIS_RESPONSE_TIMEOUT));
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .expect("redis connection");
        RawRedis {
            conn,
            cas: redis::Script::new(CAS_SCRIPT),
            txn: redis::Script::new(TXN_SCRIPT),
            range: redis::Script::new(RANGE_SCRIPT),
        }
    }

    fn name(&self) -> &'static str {
        "raw_redis"
    }

    async fn get(&self, key: &[u8]) -> Option<Bytes> {
        let mut conn = self.conn.clone();
        get(&mut conn, &value_key(key)).await
    }

    async fn put(&self, key: &[u8], value: &[u8]) {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.set(value_key(key), value).ignore();
        pipe.zadd(INDEX, key, 0).ignore();
        pipe.query_async::<()>(&mut conn).await.expect("SET+ZADD");
    }

    async fn get_many(&self, keys: &[Bytes]) -> usize {
        let mut conn = self.conn.clone();
        let names: Vec<Vec<u8>> = keys.iter().map(|k| value_key(k)).collect();
        let values = mget(&mut conn, &names).await;
        values.iter().filter(|v| v.is_some()).count()
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: usize, reverse: bool) -> usize {
        let mut conn = self.conn.clone();
        let (lo, hi) = (lex(b'[', start), lex(b'(', end));
        let mut cmd = if reverse {
            let mut c = redis::cmd("ZREVRANGEBYLEX");
            c.arg(INDEX).arg(hi).arg(lo);
            c
        } else {
            let mut c = redis::cmd("ZRANGEBYLEX");
            c.arg(INDEX).arg(lo).arg(hi);
            c
        };
        cmd.arg("LIMIT").arg(0).arg(limit);
        let keys: Vec<Bytes> = cmd.query_async(&mut conn).await.expect("ZRANGEBYLEX");
        if keys.is_empty() {
            return 0;
        }
        let names: Vec<Vec<u8>> = keys.iter().map(|k| value_key(k)).collect();
        let values = mget(&mut conn, &names).await;
        consume(keys.into_iter().zip(values))
    }

    async fn batch(&self, pairs: &[(Bytes, Bytes)]) {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (k, v) in pairs {
            pipe.set(value_key(k), &v[..]).ignore();
            pipe.zadd(INDEX, &k[..], 0).ignore();
        }
        pipe.query_async::<()>(&mut conn)
            .await
            .expect("MULTI batch");
    }

    async fn cas(&self, key: &[u8], expected: Option<&[u8]>, new: &[u8]) -> bool {
        let mut conn = self.conn.clone();
        let mut call = self.cas.key(value_key(key));
        call.key(INDEX)
            .arg(if expected.is_none() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(new)
            .arg(key);
        let swapped: i64 = call.invoke_async(&mut conn).await.expect("CAS script");
        swapped == 1
    }

    async fn conditional_batch(
        &self,
        checks: &[(Bytes, Bytes)],
        writes: &[(Bytes, Bytes)],
    ) -> bool {
        let mut conn = self.conn.clone();
        let mut call = self.txn.prepare_invoke();
        call.arg(checks.len());
        for (k, v) in checks {
            call.key(value_key(k)).arg(&v[..]);
        }
        for (k, v) in writes {
            call.key(value_key(k)).arg(&v[..]);
        }
        for (k, _) in writes {
            call.arg(&k[..]);
        }
        call.key(INDEX);
        let applied: i64 = call.invoke_async(&mut conn).await.expect("txn script");
        applied == 1
    }

    async fn delete_range(&self, start: &[u8], end: &[u8]) {
        let mut conn = self.conn.clone();
        let mut call = self.range.key(INDEX);
        call.arg(lex(b'[', start))
            .arg(lex(b'(', end))
            .arg(VALUE_PREFIX);
        let _: i64 = call.invoke_async(&mut conn).await.expect("range script");
    }

    async fn close(&self) {}
}
