//! A map keyed by partition name with a fast, non-randomised hash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use backend_api::Partition;

/// A `HashMap` from partition to `V` hashed with FNV-1a. Partition names are short
/// (at most 64 ASCII bytes) and validated, so a flood-resistant hash (SipHash, the
/// default) buys nothing for a backend's partition registry and costs a visible share
/// of a point get.
pub type PartitionMap<V> = HashMap<Partition, V, BuildHasherDefault<NameHasher>>;

/// FNV-1a, 64-bit: the hasher of [`PartitionMap`] and of the stripes of
/// [`KeyLocks`](crate::KeyLocks) (the workspace's one copy). Successive `write`s hash
/// like one `write` of the bytes joined.
#[derive(Debug)]
pub struct NameHasher(u64);

impl Default for NameHasher {
    /// FNV-1a's offset basis.
    fn default() -> Self {
        NameHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        let hash = |bytes: &[u8]| {
            let mut h = NameHasher::default();
            h.write(bytes);
            h.finish()
        };
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
        let mut split = NameHasher::default();
        split.write(b"foo");
        split.write(b"bar");
        assert_eq!(split.finish(), hash(b"foobar"));
    }

    #[test]
    fn partitions_are_found_by_name() {
        let mut map = PartitionMap::default();
        for name in ["a", "b", "users", "users2"] {
            map.insert(Partition::new(name).unwrap(), name.len());
        }
        assert_eq!(map.get(&Partition::new("users").unwrap()), Some(&5));
        assert_eq!(map.get(&Partition::new("c").unwrap()), None);
        assert_eq!(map.len(), 4);
    }
}
