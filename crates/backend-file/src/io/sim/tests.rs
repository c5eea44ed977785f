//! The simulated disk's own tests: what a power cut keeps, what a failure does.

use std::path::Path;

use super::{CallKind, CrashOptions, Fault, SimDisk, Tear};
use crate::io::{OpenMode, Vfs, VfsFile};

const DIR: &str = "/d";

fn disk(seed: u64, opts: CrashOptions) -> (SimDisk, std::sync::Arc<dyn Vfs>) {
    let d = SimDisk::new(seed);
    d.set_crash_options(opts);
    let fs = d.vfs();
    fs.create_dir_all(Path::new(DIR)).unwrap();
    (d, fs)
}

fn p(name: &str) -> std::path::PathBuf {
    Path::new(DIR).join(name)
}

/// A file created and its name synced.
fn durable_file(fs: &dyn Vfs, name: &str) -> Box<dyn VfsFile> {
    let f = fs.open(&p(name), OpenMode::CreateTruncate).unwrap();
    fs.sync_dir(Path::new(DIR)).unwrap();
    f
}

const STRICT: CrashOptions = CrashOptions {
    tear: Tear::Byte,
    reorder: true,
    dir_prefix: false,
    zeroed_loss: false,
};

/// [`disk`] crashing as [`STRICT`] changed by `change`.
fn strict_disk(
    seed: u64,
    change: impl FnOnce(&mut CrashOptions),
) -> (SimDisk, std::sync::Arc<dyn Vfs>) {
    let mut opts = STRICT;
    change(&mut opts);
    disk(seed, opts)
}

#[test]
fn synced_bytes_survive_and_unsynced_ones_leave_a_prefix() {
    let mut kept_all = 0;
    let mut kept_none = 0;
    for seed in 0..200 {
        let (d, fs) = disk(seed, STRICT);
        let f = durable_file(&*fs, "a");
        f.write_all_at(b"0123456789", 0).unwrap();
        f.sync_data().unwrap();
        f.write_all_at(b"abcdef", 10).unwrap();
        f.write_all_at(b"ghij", 16).unwrap();
        assert_eq!(f.len().unwrap(), 20);
        d.restart();
        let got = d.file(&p("a")).unwrap();
        let full = b"0123456789abcdefghij";
        assert!(
            got.len() >= 10 && full.starts_with(&got),
            "seed {seed}: {got:?}"
        );
        kept_all += usize::from(got.len() == 20);
        kept_none += usize::from(got.len() == 10);
    }
    assert!(kept_all > 20 && kept_none > 20, "{kept_all} {kept_none}");
}

#[test]
fn the_same_seed_keeps_the_same_bytes() {
    let run = |seed| {
        let (d, fs) = disk(seed, CrashOptions::default());
        let f = durable_file(&*fs, "a");
        for i in 0..20u8 {
            f.write_all_at(&[i; 37], u64::from(i) * 37).unwrap();
        }
        d.restart();
        d.file(&p("a"))
    };
    for seed in 0..20 {
        assert_eq!(run(seed), run(seed));
    }
    assert!(
        (0..20)
            .map(run)
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 5
    );
}

#[test]
fn sector_tears_end_on_a_sector_boundary() {
    for seed in 0..200 {
        let (d, fs) = strict_disk(seed, |o| o.tear = Tear::Sector(512));
        let f = durable_file(&*fs, "a");
        f.write_all_at(&[1; 100], 0).unwrap();
        f.sync_data().unwrap();
        f.write_all_at(&[2; 3000], 100).unwrap();
        d.restart();
        let len = d.file(&p("a")).unwrap().len();
        assert!(
            len == 100 || len == 3100 || len.is_multiple_of(512),
            "seed {seed}: {len}"
        );
    }
}

#[test]
fn whole_tears_keep_writes_whole() {
    for seed in 0..100 {
        let (d, fs) = strict_disk(seed, |o| o.tear = Tear::Whole);
        let f = durable_file(&*fs, "a");
        f.write_all_at(&[1; 50], 0).unwrap();
        f.write_all_at(&[2; 50], 50).unwrap();
        d.restart();
        let len = d.file(&p("a")).unwrap().len();
        assert!([0, 50, 100].contains(&len), "seed {seed}: {len}");
    }
}

#[test]
fn names_are_durable_only_after_a_directory_sync() {
    for seed in 0..50 {
        let (d, fs) = disk(seed, STRICT);
        let f = fs.open(&p("new"), OpenMode::CreateTruncate).unwrap();
        f.write_all_at(b"x", 0).unwrap();
        f.sync_data().unwrap();
        let old = durable_file(&*fs, "old"); // syncs "new" too: one directory
        old.write_all_at(b"o", 0).unwrap();
        old.sync_data().unwrap();
        let tmp = fs.open(&p("tmp"), OpenMode::CreateTruncate).unwrap();
        tmp.sync_data().unwrap();
        fs.rename(&p("new"), &p("renamed")).unwrap();
        fs.remove_file(&p("old")).unwrap();
        assert_eq!(fs.read_dir(Path::new(DIR)).unwrap().len(), 2);
        d.restart();
        assert_eq!(d.list(Path::new(DIR)), ["new", "old"], "seed {seed}");
        assert_eq!(d.file(&p("old")).unwrap(), b"o");
    }
    let (d, fs) = disk(1, STRICT);
    durable_file(&*fs, "a");
    fs.rename(&p("a"), &p("b")).unwrap();
    fs.sync_dir(Path::new(DIR)).unwrap();
    d.restart();
    assert_eq!(d.list(Path::new(DIR)), ["b"]);
}

#[test]
fn a_prefix_of_unsynced_directory_operations_may_survive_in_order() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..100 {
        let (d, fs) = strict_disk(seed, |o| o.dir_prefix = true);
        fs.open(&p("a"), OpenMode::CreateTruncate).unwrap();
        fs.rename(&p("a"), &p("b")).unwrap();
        fs.remove_file(&p("b")).unwrap();
        d.restart();
        let names = d.list(Path::new(DIR));
        assert!(
            [vec![], vec!["a".to_string()], vec!["b".to_string()]].contains(&names),
            "seed {seed}: {names:?}"
        );
        seen.insert(names);
    }
    assert_eq!(seen.len(), 3);
}

#[test]
fn without_reordering_a_later_write_survives_only_with_every_earlier_one() {
    for seed in 0..200 {
        let (d, fs) = strict_disk(seed, |o| {
            o.reorder = false;
            o.tear = Tear::Whole;
        });
        let a = durable_file(&*fs, "a");
        let b = durable_file(&*fs, "b");
        a.write_all_at(b"1", 0).unwrap();
        b.write_all_at(b"2", 0).unwrap();
        a.write_all_at(b"3", 1).unwrap();
        d.restart();
        let (a, b) = (d.file(&p("a")).unwrap(), d.file(&p("b")).unwrap());
        let ok = matches!((a.len(), b.len()), (0, 0) | (1, 0) | (1, 1) | (2, 1));
        assert!(ok, "seed {seed}: {a:?} {b:?}");
    }
}

#[test]
fn zeroed_loss_reads_as_zeros_never_as_other_bytes() {
    let mut zeros = 0;
    for seed in 0..200 {
        let (d, fs) = strict_disk(seed, |o| {
            o.zeroed_loss = true;
            o.tear = Tear::Whole;
        });
        let f = durable_file(&*fs, "a");
        f.write_all_at(&[7; 10], 0).unwrap();
        d.restart();
        let got = d.file(&p("a")).unwrap();
        assert!(got == [7; 10] || got.iter().all(|&b| b == 0), "{got:?}");
        zeros += usize::from(!got.is_empty() && got[0] == 0);
    }
    assert!(zeros > 0);
}

#[test]
fn injected_failures_answer_eio_or_enospc_and_are_recorded() {
    let (d, fs) = disk(3, STRICT);
    let f = durable_file(&*fs, "a");
    let next = d.calls();
    d.fail_call(next, Fault::Eio);
    assert_eq!(f.len().unwrap_err().raw_os_error(), Some(5));
    assert_eq!(f.len().unwrap(), 0);
    d.fail_nth(CallKind::Rename, 0, Fault::Enospc);
    let e = fs.rename(&p("a"), &p("b")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(28));
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
    assert_eq!(
        d.list(Path::new(DIR)),
        ["a"],
        "a failed rename changes nothing"
    );
    d.fail_every(CallKind::SyncDir, Fault::Eio);
    assert!(fs.sync_dir(Path::new(DIR)).is_err());
    assert!(fs.sync_dir(Path::new(DIR)).is_err());
    d.clear_faults();
    fs.sync_dir(Path::new(DIR)).unwrap();
    let injected = d.injected();
    assert_eq!(injected.len(), 4);
    assert_eq!(injected[0].index, next);
    assert_eq!(injected[1].kind, CallKind::Rename);
}

#[test]
fn a_failed_write_may_leave_a_prefix_of_its_bytes() {
    let mut lens = std::collections::BTreeSet::new();
    for seed in 0..50 {
        let (d, fs) = disk(seed, STRICT);
        let f = durable_file(&*fs, "a");
        d.fail_nth(CallKind::Write, 0, Fault::Enospc);
        assert!(f.write_all_at(&[9; 100], 0).is_err());
        let len = f.len().unwrap();
        assert!(len <= 100);
        lens.insert(len);
    }
    assert!(lens.len() > 10);
    let (d, fs) = disk(0, STRICT);
    d.set_short_writes(false);
    let f = durable_file(&*fs, "a");
    d.fail_nth(CallKind::Write, 0, Fault::Eio);
    assert!(f.write_all_at(&[9; 100], 0).is_err());
    assert_eq!(f.len().unwrap(), 0);
}

/// fsyncgate: after a failed `fdatasync` the bytes it should have synced stay readable
/// but never become durable, even after a later successful sync.
#[test]
fn a_failed_sync_is_never_made_good_by_a_later_one() {
    for seed in 0..50 {
        let (d, fs) = disk(seed, STRICT);
        let f = durable_file(&*fs, "a");
        f.write_all_at(b"lost", 0).unwrap();
        d.fail_nth(CallKind::SyncData, 0, Fault::Eio);
        assert!(f.sync_data().is_err());
        let mut buf = [0; 4];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"lost", "still readable until the power goes");
        f.write_all_at(b"kept", 4).unwrap();
        f.sync_data().unwrap();
        d.restart();
        assert_eq!(d.file(&p("a")).unwrap(), b"\0\0\0\0kept", "seed {seed}");
    }
}

#[test]
fn after_a_cut_old_handles_fail_and_change_nothing() {
    let (d, fs) = disk(5, STRICT);
    let f = durable_file(&*fs, "a");
    f.write_all_at(b"x", 0).unwrap();
    f.sync_data().unwrap();
    let at = d.calls() + 2;
    d.cut_at_call(at);
    f.write_all_at(b"y", 1).unwrap();
    f.write_all_at(b"z", 2).unwrap();
    assert!(d.is_off());
    assert!(f.write_all_at(b"w", 3).is_err());
    assert!(fs.remove_file(&p("a")).is_err());
    d.restart();
    assert!(
        f.write_all_at(b"w", 3).is_err(),
        "a handle from before the cut"
    );
    assert!(fs.open(&p("a"), OpenMode::Read).is_err());
    let fs = d.vfs();
    let got = d.file(&p("a")).unwrap();
    assert!([&b"x"[..], b"xy"].contains(&&got[..]), "{got:?}");
    let again = fs.open(&p("a"), OpenMode::ReadWrite).unwrap();
    assert_eq!(again.len().unwrap(), got.len() as u64);
    assert_eq!(d.cuts(), 1);
}

#[test]
fn locks_are_exclusive_and_released_by_drop_or_a_cut() {
    let (d, fs) = disk(0, STRICT);
    let lock = p("LOCK");
    let held = fs.lock(&lock).unwrap();
    assert_eq!(
        fs.lock(&lock).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    drop(held);
    let held = fs.lock(&lock).unwrap();
    d.restart();
    let fs2 = d.vfs();
    let again = fs2.lock(&lock).unwrap();
    drop(held); // from before the cut: releases nothing
    assert!(fs2.lock(&lock).is_err());
    drop(again);
    fs2.lock(&lock).unwrap();
}

#[test]
fn reads_past_the_end_and_missing_files_are_errors() {
    let (_d, fs) = disk(0, STRICT);
    assert_eq!(
        fs.open(&p("none"), OpenMode::Read).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    assert_eq!(
        fs.remove_file(&p("none")).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    let f = durable_file(&*fs, "a");
    f.write_all_at(b"abc", 0).unwrap();
    let mut buf = [0; 4];
    assert_eq!(
        f.read_exact_at(&mut buf, 0).unwrap_err().kind(),
        std::io::ErrorKind::UnexpectedEof
    );
    let ro = fs.open(&p("a"), OpenMode::Read).unwrap();
    assert!(ro.write_all_at(b"x", 0).is_err());
    f.set_len(1).unwrap();
    assert_eq!(ro.len().unwrap(), 1);
    assert!(fs.exists(Path::new(DIR)).unwrap());
    assert!(!fs.exists(&p("none")).unwrap());
}

#[test]
fn without_reordering_the_write_at_the_cut_may_be_torn() {
    let mut lens = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let (d, fs) = strict_disk(seed, |o| o.reorder = false);
        let a = durable_file(&*fs, "a");
        a.write_all_at(&[1; 100], 0).unwrap();
        d.restart();
        lens.insert(d.file(&p("a")).unwrap().len());
    }
    assert!(lens.len() > 20, "{lens:?}");
}

#[test]
fn without_reordering_only_the_write_at_the_cut_is_torn() {
    for seed in 0..300 {
        let (d, fs) = strict_disk(seed, |o| o.reorder = false);
        let a = durable_file(&*fs, "a");
        let b = durable_file(&*fs, "b");
        a.write_all_at(&[1; 10], 0).unwrap();
        b.write_all_at(&[2; 10], 0).unwrap();
        a.write_all_at(&[3; 10], 10).unwrap();
        d.restart();
        let (a, b) = (d.file(&p("a")).unwrap(), d.file(&p("b")).unwrap());
        // b's write is whole or absent unless the cut is at it; a later write is never
        // kept (even in part) while an earlier one is lost.
        let ok = matches!(
            (a.len(), b.len()),
            (0..10, 0) | (10, 0..=10) | (10..=20, 10)
        );
        assert!(ok, "seed {seed}: a {} b {}", a.len(), b.len());
    }
}
