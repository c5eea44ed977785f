//! Key names: where a namespace's data lives on the server (see docs/backend-redis.md).
//!
//! | key | type | holds |
//! |---|---|---|
//! | `kvb:{<ns>}:parts` | set | partition names (the registry) |
//! | `kvb:{<ns>:<p>}:m` | string | partition marker: the partition exists |
//! | `kvb:{<ns>:<p>}:i` | sorted set | every key of the partition, score 0 (lex order) |
//! | `kvb:{<ns>:<p>}:v:<key>` | string | the value of `<key>` (raw bytes), native TTL |
//! | `kvb:{<ns>:<p>}:w` | pub/sub channel | change events |
//!
//! The `{...}` hash tag puts every key of one partition in one cluster slot. With
//! `colocate_partitions` the tag is the namespace's (`kvb:{<ns>}:p:<p>:m` and so on), so
//! the whole namespace, registry included, is one slot.

use backend_api::Partition;

/// Key names of one namespace.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    namespace: String,
    /// Every partition under the namespace's hash tag (one cluster slot).
    colocate: bool,
}

/// Key names of one partition.
#[derive(Clone, Debug)]
pub(crate) struct PartitionKeys {
    /// Partition marker.
    pub marker: Vec<u8>,
    /// The lex index.
    pub index: Vec<u8>,
    /// Prefix of value keys; append the user key.
    pub value_prefix: Vec<u8>,
    /// Change-event channel.
    pub channel: Vec<u8>,
}

impl PartitionKeys {
    /// The value key of `key`.
    pub fn value(&self, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.value_prefix.len() + key.len());
        out.extend_from_slice(&self.value_prefix);
        out.extend_from_slice(key);
        out
    }
}

impl Layout {
    /// The layout of `namespace`; with `colocate`, every partition's keys carry the
    /// namespace's hash tag: `kvb:{<ns>}:p:<p>:...` (one slot for the whole namespace).
    pub fn with_colocation(namespace: &str, colocate: bool) -> Self {
        Layout {
            namespace: namespace.to_owned(),
            colocate,
        }
    }

    /// The partition registry set.
    pub fn registry(&self) -> String {
        format!("kvb:{{{}}}:parts", self.namespace)
    }

    /// The keys of `partition`.
    pub fn partition(&self, partition: &Partition) -> PartitionKeys {
        let base = if self.colocate {
            format!("kvb:{{{}}}:p:{}:", self.namespace, partition.name())
        } else {
            format!("kvb:{{{}:{}}}:", self.namespace, partition.name())
        };
        PartitionKeys {
            marker: format!("{base}m").into_bytes(),
            index: format!("{base}i").into_bytes(),
            value_prefix: format!("{base}v:").into_bytes(),
            channel: format!("{base}w").into_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_and_namespaces_never_share_a_key() {
        let a = Layout::with_colocation("ns", false).partition(&Partition::new("p").unwrap());
        let b = Layout::with_colocation("ns", false).partition(&Partition::new("p_").unwrap());
        let c = Layout::with_colocation("ns_", false).partition(&Partition::new("p").unwrap());
        assert_ne!(a.value(b"k"), b.value(b"k"));
        assert_ne!(a.value(b"k"), c.value(b"k"));
        assert_eq!(a.value(b"\x00\xff"), b"kvb:{ns:p}:v:\x00\xff");
        assert_eq!(a.index, b"kvb:{ns:p}:i");
        let co = Layout::with_colocation("ns", true);
        assert_eq!(
            co.partition(&Partition::new("p").unwrap()).index,
            b"kvb:{ns}:p:p:i"
        );
        assert_ne!(
            co.partition(&Partition::new("p").unwrap()).value(b"_:v:k"),
            co.partition(&Partition::new("p_").unwrap()).value(b"v:k")
        );
    }
}
