//! The memory cap against a model: oldest-written entries go first, across
//! partitions, and the store never stays over the cap after a write returns.

use std::collections::BTreeMap;

use backend_api::{Error, Operation, Partition, ScanRange, StorageBackend};
use backend_mem::{ENTRY_OVERHEAD, MemBackend, MemConfig};
use futures_util::TryStreamExt;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Put { part: usize, key: u8, len: usize },
    Delete { part: usize, key: u8 },
    Cas { part: usize, key: u8, len: usize },
    Batch(Vec<(usize, u8, usize)>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..2usize, 0..6u8, 0..260usize).prop_map(|(part, key, len)| Op::Put { part, key, len }),
        1 => (0..2usize, 0..6u8).prop_map(|(part, key)| Op::Delete { part, key }),
        1 => (0..2usize, 0..6u8, 0..260usize).prop_map(|(part, key, len)| Op::Cas { part, key, len }),
        1 => prop::collection::vec((0..2usize, 0..6u8, 0..260usize), 1..4).prop_map(Op::Batch),
    ]
}

fn cost(len: usize) -> u64 {
    1 + len as u64 + ENTRY_OVERHEAD
}

/// The reference: values with their write sequence, evicting by lowest sequence.
#[derive(Default)]
struct Model {
    seq: u64,
    entries: BTreeMap<(usize, u8), (usize, u64)>,
    evictions: u64,
}

impl Model {
    fn bytes(&self) -> u64 {
        self.entries.values().map(|(len, _)| cost(*len)).sum()
    }

    fn put(&mut self, part: usize, key: u8, len: usize) {
        self.seq += 1;
        self.entries.insert((part, key), (len, self.seq));
    }

    fn evict(&mut self, cap: u64) {
        while self.bytes() > cap {
            let oldest = *self
                .entries
                .iter()
                .min_by_key(|(_, (_, seq))| *seq)
                .expect("over the cap means non-empty")
                .0;
            self.entries.remove(&oldest);
            self.evictions += 1;
        }
    }
}

/// Every value is its length repeated as one byte, so a read tells which write it was.
fn value(len: usize) -> Vec<u8> {
    vec![(len % 251) as u8; len]
}

async fn check(db: &MemBackend, parts: &[Partition], model: &Model, cap: u64) {
    assert!(
        db.used_memory() <= cap,
        "{} over the cap {cap}",
        db.used_memory()
    );
    assert_eq!(db.used_memory(), model.bytes());
    for (i, p) in parts.iter().enumerate() {
        let got: Vec<_> = db
            .scan(p, ScanRange::all())
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let want: Vec<_> = model
            .entries
            .iter()
            .filter(|((part, _), _)| *part == i)
            .map(|((_, key), (len, _))| (vec![*key], value(*len)))
            .collect();
        let got: Vec<_> = got
            .into_iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(got, want, "partition {i}");
        let size: u64 = want.iter().map(|(_, v)| cost(v.len())).sum();
        assert_eq!(db.partition_size(p).await.unwrap(), size);
        assert_eq!(db.len(p).await.unwrap(), want.len() as u64);
    }
    let status = db.status().await.unwrap();
    assert_eq!(status["evictions"], model.evictions.to_string());
    assert_eq!(status["bytes"], model.bytes().to_string());
}

fn run(cap: u64, ops: Vec<Op>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = MemBackend::open(MemConfig::new().max_memory(cap))
            .await
            .unwrap();
        let parts = [Partition::new("a").unwrap(), Partition::new("b").unwrap()];
        for p in &parts {
            db.create_partition(p).await.unwrap();
        }
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Put { part, key, len } => {
                    let result = db.put(&parts[part], &[key], &value(len)).await;
                    if cost(len) > cap {
                        assert!(
                            matches!(result, Err(Error::InvalidValue { .. })),
                            "{result:?}"
                        );
                    } else {
                        result.unwrap();
                        model.put(part, key, len);
                    }
                }
                Op::Delete { part, key } => {
                    db.delete(&parts[part], &[key]).await.unwrap();
                    model.entries.remove(&(part, key));
                }
                Op::Cas { part, key, len } => {
                    // Replace whatever is there (create-only when absent).
                    let current = model.entries.get(&(part, key)).map(|(l, _)| value(*l));
                    let result = db
                        .compare_and_swap(
                            &parts[part],
                            &[key],
                            current.as_deref(),
                            Some(&value(len)),
                        )
                        .await;
                    if cost(len) > cap {
                        assert!(
                            matches!(result, Err(Error::InvalidValue { .. })),
                            "{result:?}"
                        );
                    } else {
                        assert!(result.unwrap().is_swapped());
                        model.put(part, key, len);
                    }
                }
                Op::Batch(puts) => {
                    let ops: Vec<_> = puts
                        .iter()
                        .map(|&(part, key, len)| {
                            Operation::put(&parts[part], vec![key], value(len))
                        })
                        .collect();
                    let result = db.batch(ops).await;
                    if puts.iter().any(|&(_, _, len)| cost(len) > cap) {
                        assert!(
                            matches!(result, Err(Error::InvalidValue { .. })),
                            "{result:?}"
                        );
                    } else {
                        result.unwrap();
                        for (part, key, len) in puts {
                            model.put(part, key, len);
                        }
                    }
                }
            }
            model.evict(cap);
            check(&db, &parts, &model, cap).await;
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn cap_evicts_oldest_written_first(cap in 300u64..1500, ops in prop::collection::vec(op(), 1..60)) {
        run(cap, ops);
    }
}

#[test]
fn overwrite_makes_an_entry_young_again() {
    // Room for exactly three 100-byte entries.
    let cap = 3 * cost(100);
    run(
        cap,
        vec![
            Op::Put {
                part: 0,
                key: 1,
                len: 100,
            },
            Op::Put {
                part: 1,
                key: 2,
                len: 100,
            },
            Op::Put {
                part: 0,
                key: 3,
                len: 100,
            },
            // Rewriting key 1 makes key 2 (other partition) the oldest.
            Op::Put {
                part: 0,
                key: 1,
                len: 100,
            },
            Op::Put {
                part: 0,
                key: 4,
                len: 100,
            },
        ],
    );
}

#[tokio::test]
async fn an_entry_larger_than_the_cap_is_refused_and_nothing_is_evicted() {
    let cap = 2 * cost(10);
    let db = MemBackend::open(MemConfig::new().max_memory(cap))
        .await
        .unwrap();
    let p = Partition::new("p").unwrap();
    db.create_partition(&p).await.unwrap();
    db.put(&p, b"k", &[0; 10]).await.unwrap();
    let err = db.put(&p, b"big", &[0; 200]).await.unwrap_err();
    assert!(matches!(err, Error::InvalidValue { .. }), "{err}");
    assert_eq!(
        db.get(&p, b"k").await.unwrap().as_deref(),
        Some(&[0u8; 10][..])
    );
    assert_eq!(db.status().await.unwrap()["evictions"], "0");
}

#[tokio::test]
async fn a_cap_too_small_for_any_entry_is_a_config_error() {
    let err = MemBackend::open(MemConfig::new().max_memory(ENTRY_OVERHEAD))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
}
