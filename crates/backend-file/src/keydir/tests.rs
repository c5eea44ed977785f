//! [`KeyDir`] against a `BTreeMap` model: random inserts, removes, range retains and
//! range reads (both directions), with keys from a small alphabet so they collide and
//! leaves split and empty.

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;

use super::{Entry, KeyDir};

#[derive(Clone, Debug)]
enum Cmd {
    Insert(Vec<u8>, u64),
    /// A batch through `insert_sorted` (sorted first; repeats kept).
    InsertSorted(Vec<(Vec<u8>, u64)>),
    /// Inserts unless the key holds a higher seq.
    InsertNewer(Vec<u8>, u64),
    Remove(Vec<u8>),
    /// Removes the keys of the range whose seq is below the given one.
    RetainRange(Bound<Vec<u8>>, Bound<Vec<u8>>, u64),
    Range(Bound<Vec<u8>>, Bound<Vec<u8>>, bool),
    Get(Vec<u8>),
}

fn entry(n: u64) -> Entry {
    Entry {
        file_id: n % 7,
        offset: n.wrapping_mul(0x9e37_79b9),
        len: (n % 5000) as u32,
        seq: n,
        expiry: if n.is_multiple_of(3) { n << 20 } else { 0 },
    }
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b"abc\x00\xff".to_vec()), 0..6)
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        Just(Bound::Unbounded),
        key().prop_map(Bound::Included),
        key().prop_map(Bound::Excluded),
    ]
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        6 => (key(), any::<u64>()).prop_map(|(k, n)| Cmd::Insert(k, n)),
        2 => (key(), any::<u64>()).prop_map(|(k, n)| Cmd::InsertNewer(k, n)),
        2 => key().prop_map(Cmd::Remove),
        1 => prop::collection::vec((key(), any::<u64>()), 0..300).prop_map(Cmd::InsertSorted),
        1 => (bound(), bound(), any::<u64>()).prop_map(|(a, b, s)| Cmd::RetainRange(a, b, s)),
        1 => (bound(), bound(), any::<bool>()).prop_map(|(a, b, r)| Cmd::Range(a, b, r)),
        2 => key().prop_map(Cmd::Get),
    ]
}

fn slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    b.as_ref().map(|v| &v[..])
}

/// The model's range, empty (not a panic) when the bounds are inverted.
fn model_range<'m>(
    m: &'m BTreeMap<Vec<u8>, Entry>,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
) -> Vec<(&'m Vec<u8>, &'m Entry)> {
    m.iter()
        .filter(|(k, _)| {
            let above = match lo {
                Bound::Unbounded => true,
                Bound::Included(a) => *k >= a,
                Bound::Excluded(a) => *k > a,
            };
            let below = match hi {
                Bound::Unbounded => true,
                Bound::Included(b) => *k <= b,
                Bound::Excluded(b) => *k < b,
            };
            above && below
        })
        .collect()
}

fn check(cmds: Vec<Cmd>) {
    let mut kd = KeyDir::default();
    let mut model: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
    for c in cmds {
        match c {
            Cmd::Insert(k, n) => assert_eq!(kd.insert(&k, entry(n)), model.insert(k, entry(n))),
            Cmd::InsertNewer(k, n) => {
                let want = match model.get(&k) {
                    Some(old) if old.seq >= n => None,
                    _ => model.insert(k.clone(), entry(n)),
                };
                assert_eq!(kd.insert_unless(&k, entry(n), |old| old.seq >= n), want);
            }
            Cmd::Remove(k) => assert_eq!(kd.remove(&k), model.remove(&k)),
            Cmd::InsertSorted(mut batch) => {
                batch.sort_by(|a, b| a.0.cmp(&b.0));
                for (k, n) in &batch {
                    match model.get(k) {
                        Some(old) if old.seq >= *n => {}
                        _ => {
                            model.insert(k.clone(), entry(*n));
                        }
                    }
                }
                kd.insert_sorted(
                    batch.iter().map(|(k, n)| (&k[..], entry(*n))),
                    |old, new| old.seq >= new.seq,
                );
            }
            Cmd::Get(k) => assert_eq!(kd.get(&k), model.get(&k).copied()),
            Cmd::RetainRange(lo, hi, s) => {
                let mut seen = Vec::new();
                kd.retain_range(slice(&lo), slice(&hi), |k, e| {
                    seen.push(k.to_vec());
                    e.seq >= s
                });
                let want: Vec<Vec<u8>> = model_range(&model, &lo, &hi)
                    .into_iter()
                    .map(|(k, _)| k.clone())
                    .collect();
                assert_eq!(seen, want, "retain_range visits each key once, in order");
                for k in want {
                    if model[&k].seq < s {
                        model.remove(&k);
                    }
                }
            }
            Cmd::Range(lo, hi, rev) => {
                let it = kd.range(slice(&lo), slice(&hi));
                let got: Vec<(Vec<u8>, Entry)> = if rev {
                    it.rev().map(|(k, e)| (k.to_vec(), e)).collect()
                } else {
                    it.map(|(k, e)| (k.to_vec(), e)).collect()
                };
                let mut want: Vec<(Vec<u8>, Entry)> = model_range(&model, &lo, &hi)
                    .into_iter()
                    .map(|(k, e)| (k.clone(), *e))
                    .collect();
                if rev {
                    want.reverse();
                }
                assert_eq!(got, want);
            }
        }
        assert_eq!(kd.len(), model.len());
    }
    let all: Vec<(Vec<u8>, Entry)> = kd.iter().map(|(k, e)| (k.to_vec(), e)).collect();
    let want: Vec<(Vec<u8>, Entry)> = model.into_iter().collect();
    assert_eq!(all, want);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn keydir_matches_a_btreemap(cmds in prop::collection::vec(cmd(), 0..600)) {
        check(cmds);
    }
}

#[test]
fn many_keys_split_into_leaves_and_empty_again() {
    let mut kd = KeyDir::default();
    let mut model = BTreeMap::new();
    // In order (the append split), reversed, then scattered.
    let keys: Vec<Vec<u8>> = (0..3000u64)
        .map(|i| (i * 7919 % 3000).to_be_bytes().to_vec())
        .chain((0..2000u64).map(|i| (1_000_000 + i).to_be_bytes().to_vec()))
        .chain(
            (0..2000u64)
                .rev()
                .map(|i| (2_000_000 + i).to_be_bytes().to_vec()),
        )
        .collect();
    for (n, k) in keys.iter().enumerate() {
        assert_eq!(kd.insert(k, entry(n as u64)), None);
        model.insert(k.clone(), entry(n as u64));
    }
    assert_eq!(kd.len(), keys.len());
    let got: Vec<Entry> = kd.values().collect();
    assert_eq!(got, model.values().copied().collect::<Vec<_>>());
    // Well under a BTreeMap<Bytes, Entry>'s ~140 bytes per key.
    assert!(
        kd.heap_bytes() / kd.len() < 48,
        "{} bytes per key",
        kd.heap_bytes() / kd.len()
    );
    let lo = 500u64.to_be_bytes();
    let hi = 1_000_500u64.to_be_bytes();
    kd.retain_range(
        Bound::Included(&lo[..]),
        Bound::Excluded(&hi[..]),
        |_, _| false,
    );
    model.retain(|k, _| k.as_slice() < &lo[..] || k.as_slice() >= &hi[..]);
    assert!(kd.iter().map(|(k, _)| k.to_vec()).eq(model.keys().cloned()));
    for k in &keys {
        assert_eq!(kd.remove(k), model.remove(k));
    }
    assert!(kd.is_empty());
    assert_eq!(kd.iter().count(), 0);
}
