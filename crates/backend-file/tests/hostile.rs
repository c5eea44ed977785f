//! Random, truncated and crafted files in the store directory: open never panics and
//! never makes an allocation larger than the configured maximum record size (measured
//! with a counting global allocator).
//!
//! This file is its own test binary with a single test, so the allocator sees only it.

mod common;

use std::path::Path;

use backend_api::{Operation, Partition, StorageBackend};
use backend_file::FileBackend;
use backend_file::format::{FILE_KIND_DATA, FileHeader, Kind, RecordHeader};
use common::counting::{Counting, largest_during};
use common::{data_files, dump, quiet, restore, runtime, snapshot};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[global_allocator]
static GLOBAL: Counting = Counting;

const MAX_RECORD: u64 = 1 << 20;

/// Opens `dir`, reads what it can, closes; returns whether open succeeded.
fn try_open(rt: &tokio::runtime::Runtime, dir: &Path, what: &str) -> bool {
    let (ok, largest) = largest_during(|| {
        rt.block_on(async {
            match FileBackend::open(quiet(dir).max_record_size(MAX_RECORD)).await {
                Ok(store) => {
                    for p in store.list_partitions().await.unwrap() {
                        let _ = dump(&store, &p).await;
                    }
                    store.close().await.unwrap();
                    true
                }
                Err(_) => false,
            }
        })
    });
    assert!(
        largest as u64 <= MAX_RECORD,
        "{what}: an allocation of {largest} bytes"
    );
    ok
}

fn crafted_record(key_len: u32, value_len: u32, body: &[u8]) -> Vec<u8> {
    // A record header with a valid header checksum but lying lengths.
    let h = RecordHeader {
        kind: Kind::Put,
        flags: 0,
        partition: 1,
        seq: 9,
        expiry: 0,
        key_len: 1,
        value_len: 0,
    };
    let mut rec = Vec::new();
    h.encode_into(b"k", b"", &mut rec);
    rec[32..36].copy_from_slice(&key_len.to_le_bytes());
    rec[36..40].copy_from_slice(&value_len.to_le_bytes());
    let hcrc = crc(&rec[8..40]);
    rec[4..8].copy_from_slice(&hcrc.to_le_bytes());
    rec.truncate(40);
    rec.extend_from_slice(body);
    rec
}

fn crc(b: &[u8]) -> u32 {
    // CRC-32C, bitwise (test-only, tiny inputs).
    let mut c = !0u32;
    for &byte in b {
        c ^= byte as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn hostile_directories_never_panic_or_overallocate() {
    let rt = runtime();
    let mut rng = StdRng::seed_from_u64(7);
    let dir = tempfile::tempdir().unwrap();
    let p = Partition::new("p").unwrap();
    rt.block_on(async {
        let store = FileBackend::open(quiet(dir.path()).max_record_size(MAX_RECORD))
            .await
            .unwrap();
        store.create_partition(&p).await.unwrap();
        for i in 0..200u32 {
            store
                .put(
                    &p,
                    format!("k{i}").as_bytes(),
                    &vec![i as u8; (i as usize * 37) % 900],
                )
                .await
                .unwrap();
        }
        store
            .batch(vec![
                Operation::put(&p, "x", "y"),
                Operation::delete(&p, "k3"),
            ])
            .await
            .unwrap();
        store.merge().await.unwrap();
        store.put(&p, b"after", b"merge").await.unwrap();
        store.close().await.unwrap();
    });
    let good = snapshot(dir.path());
    assert!(try_open(&rt, dir.path(), "the intact store"));
    let names: Vec<String> = good
        .keys()
        .filter(|n| n.ends_with(".data") || n.ends_with(".hint"))
        .cloned()
        .collect();
    let mut opened = 0;
    let mut refused = 0;
    let mut tally = |ok: bool| if ok { opened += 1 } else { refused += 1 };

    // Every real file truncated at random lengths, or replaced by random bytes.
    for name in &names {
        let len = good[name].len();
        for _ in 0..40 {
            restore(dir.path(), &good);
            let cut = rng.random_range(0..=len);
            std::fs::write(dir.path().join(name), &good[name][..cut]).unwrap();
            tally(try_open(&rt, dir.path(), &format!("{name} cut to {cut}")));
        }
        for _ in 0..20 {
            restore(dir.path(), &good);
            let junk: Vec<u8> = (0..rng.random_range(0..4096))
                .map(|_| rng.random())
                .collect();
            std::fs::write(dir.path().join(name), &junk).unwrap();
            tally(try_open(
                &rt,
                dir.path(),
                &format!("{name} replaced by junk"),
            ));
        }
    }
    // Extra random files with our names, and a junk manifest.
    for i in 0..30u64 {
        restore(dir.path(), &good);
        let junk: Vec<u8> = (0..rng.random_range(0..8192))
            .map(|_| rng.random())
            .collect();
        let name = match i % 4 {
            0 => format!("{:016x}.data", 1000 + i),
            1 => format!("{:016x}.hint", 1),
            2 => "MERGE".to_string(),
            _ => format!("{:016x}.data.tmp", 5),
        };
        std::fs::write(dir.path().join(&name), &junk).unwrap();
        tally(try_open(&rt, dir.path(), &format!("junk {name}")));
    }
    // A data file whose header is valid and whose records lie about their lengths.
    for (key_len, value_len) in [
        (u32::MAX, 0),
        (1, u32::MAX),
        (1, 900_000),
        (1024, (MAX_RECORD as u32) * 4),
        (5, 10),
    ] {
        restore(dir.path(), &good);
        let id = 0x7000;
        let mut bytes = FileHeader {
            version: backend_file::format::VERSION,
            kind: FILE_KIND_DATA,
            flags: 0,
            file_id: id,
            seq_floor: 0,
        }
        .encode()
        .to_vec();
        bytes.extend_from_slice(&crafted_record(key_len, value_len, &[0xAB; 64]));
        std::fs::write(dir.path().join(format!("{id:016x}.data")), &bytes).unwrap();
        tally(try_open(
            &rt,
            dir.path(),
            &format!("crafted lengths {key_len}/{value_len}"),
        ));
    }
    restore(dir.path(), &good);
    assert!(try_open(&rt, dir.path(), "restored"));
    eprintln!(
        "hostile files: {opened} opened, {refused} refused; largest allowed allocation {MAX_RECORD}"
    );
    assert!(refused > 0 && opened > 0);
    let _ = data_files(dir.path());
}
