//! `status()`: a few `INFO` fields of the server (of every node on a cluster), the
//! namespace, and the index size of each partition.

use backend_api::{Error, Partition, Result, Status};
use redis::{FromRedisValue, Value};

use crate::calls::Calls;
use crate::error::NAME;
use crate::layout::Layout;

/// The `INFO` fields reported, as `server.<field>` (`server.<node>.<field>` on a
/// cluster); `db<n>` lines too.
const FIELDS: [&str; 8] = [
    "redis_version",
    "redis_mode",
    "uptime_in_seconds",
    "used_memory",
    "used_memory_human",
    "used_memory_peak",
    "maxmemory",
    "maxmemory_policy",
];

/// The status of `namespace` holding `partitions`.
pub(crate) async fn collect(
    calls: &Calls,
    layout: &Layout,
    namespace: &str,
    partitions: &[Partition],
) -> Result<Status> {
    let mut info = redis::cmd("INFO");
    info.arg("server").arg("memory").arg("keyspace");
    let info: Value = calls.query("status", &info).await?;
    let mut status = Status::new();
    for (node, text) in info_texts(info)? {
        for (name, value) in fields(&text) {
            status.insert(format!("server.{node}{name}"), value.to_owned());
        }
    }
    status.insert("namespace".into(), namespace.to_owned());
    status.insert("partitions".into(), partitions.len().to_string());
    let mut total = 0u64;
    for partition in partitions {
        let mut zcard = redis::cmd("ZCARD");
        zcard.arg(layout.partition(partition).index);
        let count: u64 = calls.query("status", &zcard).await?;
        total += count;
        status.insert(
            format!("partition.{partition}.index_entries"),
            count.to_string(),
        );
    }
    status.insert("index_entries".into(), total.to_string());
    Ok(status)
}

/// The `INFO` answer as (key prefix, text) pairs: a standalone server answers one text
/// (prefix empty); a cluster client asks every node and answers a map of node address
/// to text (prefix `<node>.`).
fn info_texts(info: Value) -> Result<Vec<(String, String)>> {
    match info {
        Value::Map(nodes) => Ok(nodes
            .into_iter()
            .filter_map(|(node, text)| {
                Some((
                    format!("{}.", String::from_redis_value(node).ok()?),
                    String::from_redis_value(text).ok()?,
                ))
            })
            .collect()),
        other => Ok(vec![(
            String::new(),
            String::from_redis_value(other).map_err(|e| Error::backend(NAME, e))?,
        )]),
    }
}

/// The reported `name:value` lines of one `INFO` text.
fn fields(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|line| {
        let (name, value) = line.trim().split_once(':')?;
        (FIELDS.contains(&name) || name.starts_with("db")).then_some((name, value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_listed_fields_and_the_keyspace() {
        let text = "# Server\r\nredis_version:7.2.4\r\nos:Linux\r\n# Keyspace\r\ndb0:keys=3\r\n";
        let kept: Vec<_> = fields(text).collect();
        assert_eq!(kept, vec![("redis_version", "7.2.4"), ("db0", "keys=3")]);
        let nodes = info_texts(Value::Map(vec![(
            Value::SimpleString("n1:7000".into()),
            Value::BulkString(b"redis_mode:cluster".to_vec()),
        )]))
        .unwrap();
        assert_eq!(
            nodes,
            vec![("n1:7000.".to_owned(), "redis_mode:cluster".to_owned())]
        );
    }
}
