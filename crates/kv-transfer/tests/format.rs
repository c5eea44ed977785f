//! The dump format on its own: whatever is written reads back the same, block by block.

use kv_transfer::{Block, Compression, DumpReader, DumpWriter, Record};
use proptest::prelude::*;

type Partitions = Vec<(String, Vec<(Vec<u8>, Vec<u8>, u64)>)>;

fn partitions() -> impl Strategy<Value = Partitions> {
    let pairs = prop::collection::btree_map(
        prop::collection::vec(any::<u8>(), 1..40),
        (
            prop::collection::vec(any::<u8>(), 0..3000),
            prop_oneof![Just(0u64), any::<u64>()],
        ),
        0..60,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(k, (v, d))| (k, v, d))
            .collect::<Vec<_>>()
    });
    prop::collection::btree_map("[A-Za-z0-9_]{1,12}", pairs, 0..4)
        .prop_map(|m| m.into_iter().collect())
}

fn write(parts: &Partitions, compression: Compression) -> Vec<u8> {
    let mut w = DumpWriter::new(Vec::new(), compression, 42)
        .unwrap()
        .block_bytes(4096);
    for (name, pairs) in parts {
        w.begin_partition(name).unwrap();
        for (k, v, d) in pairs {
            w.record(k, v, *d).unwrap();
        }
        w.end_partition().unwrap();
    }
    w.finish().unwrap().0
}

fn read(bytes: &[u8]) -> Partitions {
    let mut r = DumpReader::new(bytes).unwrap();
    assert_eq!(r.header().created_ms, 42);
    let mut out: Partitions = Vec::new();
    while let Some(block) = r.next_block().unwrap() {
        match block {
            Block::PartitionBegin(name) => out.push((name, Vec::new())),
            Block::Records(records) => {
                let last = out.last_mut().unwrap();
                last.1.extend(records.into_iter().map(
                    |Record {
                         key,
                         value,
                         deadline_ms,
                     }| (key.to_vec(), value.to_vec(), deadline_ms),
                ));
            }
            Block::PartitionEnd(d) => assert_eq!(d.keys as usize, out.last().unwrap().1.len()),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn what_is_written_reads_back(parts in partitions(), zstd in any::<bool>()) {
        let compression = if zstd { Compression::Zstd(1) } else { Compression::None };
        let bytes = write(&parts, compression);
        prop_assert_eq!(read(&bytes), parts);
    }

    #[test]
    fn any_single_flipped_bit_is_refused(parts in partitions(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bytes = write(&parts, Compression::None);
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let result = DumpReader::new(&bytes[..]).and_then(|mut r| { while r.next_block()?.is_some() {} Ok(()) });
        prop_assert!(result.is_err(), "flip at {} accepted", i);
    }
}
