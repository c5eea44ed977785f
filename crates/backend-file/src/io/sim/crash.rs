//! What a power cut leaves on a simulated disk, chosen by a seeded generator.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use super::disk::{Fs, Inode, Pending, write_at};

/// How an unsynced write that was in flight at the power cut is torn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tear {
    /// Never torn: every unsynced write is kept whole or lost whole.
    Whole,
    /// Torn after any byte.
    Byte,
    /// Torn at a boundary of this many bytes (a disk sector, e.g. 512 or 4096),
    /// counted from the start of the file.
    Sector(u64),
}

/// What a power cut may keep beyond the synced state.
///
/// Whatever the options, a power cut keeps every byte synced by a successful
/// `sync_data` and every name made durable by a `sync_dir`, and never invents data:
/// each file holds its synced bytes plus a prefix, in issue order, of its unsynced
/// writes and length changes, the last one possibly torn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashOptions {
    /// How the last kept unsynced write of a file may be torn.
    pub tear: Tear,
    /// `true`: each file keeps its own prefix of unsynced writes, so a later write to
    /// one file may survive an earlier write to another. `false`: one global prefix
    /// of all unsynced writes, in issue order, is kept.
    pub reorder: bool,
    /// `true`: a prefix (in issue order) of the directory operations not yet synced is
    /// kept too, as a journaling filesystem may commit them early. `false`: only
    /// synced directory operations survive.
    pub dir_prefix: bool,
    /// `true`: a file may keep the length its lost writes gave it, their bytes
    /// reading as zeros (size metadata persisted, data not: ext4 `data=writeback`,
    /// XFS).
    pub zeroed_loss: bool,
}

impl Default for CrashOptions {
    /// Byte tears, reordering across files, a prefix of unsynced directory operations,
    /// no zero-filled loss.
    fn default() -> Self {
        CrashOptions {
            tear: Tear::Byte,
            reorder: true,
            dir_prefix: true,
            zeroed_loss: false,
        }
    }
}

impl CrashOptions {
    /// Options drawn from `rng`: every combination is possible.
    pub fn random(rng: &mut Rng) -> Self {
        let tear = match rng.below(4) {
            0 => Tear::Whole,
            1 => Tear::Sector(512),
            2 => Tear::Sector(4096),
            _ => Tear::Byte,
        };
        CrashOptions {
            tear,
            reorder: rng.below(4) != 0,
            dir_prefix: rng.below(2) == 0,
            zeroed_loss: rng.below(4) == 0,
        }
    }
}

/// A small deterministic generator (SplitMix64): the same seed, the same choices.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// How many of `n` queued operations to keep: none, all, or any count between, each
    /// a third of the time (so both extremes are common).
    fn keep(&mut self, n: usize) -> usize {
        match self.below(3) {
            0 => 0,
            1 => n,
            _ => self.below(n as u64 + 1) as usize,
        }
    }
}

/// The files a power cut leaves: durable names and each named inode's bytes.
#[derive(Clone, Debug, Default)]
pub(super) struct Image {
    pub names: BTreeMap<PathBuf, u64>,
    pub inodes: HashMap<u64, Vec<u8>>,
}

/// What `fs` looks like after a power cut now, choices drawn from `rng`.
pub(super) fn image(fs: &Fs, opts: &CrashOptions, rng: &mut Rng) -> Image {
    let mut names = fs.durable_names.clone();
    if opts.dir_prefix {
        let keep = rng.keep(fs.dir_log.len());
        for op in &fs.dir_log[..keep] {
            op.apply(&mut names);
        }
    }
    let mut ids: Vec<u64> = names.values().copied().collect();
    ids.sort_unstable();
    ids.dedup();
    // A global cut: the order of the first operation not kept whole.
    let global_cut = (!opts.reorder).then(|| {
        let mut orders: Vec<u64> = ids
            .iter()
            .filter_map(|id| fs.inodes.get(id))
            .flat_map(|n| n.pending.iter().map(|p| p.0))
            .collect();
        orders.sort_unstable();
        let k = rng.keep(orders.len());
        orders.get(k).copied().unwrap_or(u64::MAX)
    });
    let empty = Inode::default();
    let inodes = ids
        .into_iter()
        .map(|id| {
            let node = fs.inodes.get(&id).unwrap_or(&empty);
            let (keep, tear) = match global_cut {
                Some(cut) => {
                    let keep = node.pending.iter().take_while(|p| p.0 < cut).count();
                    // Only the write at the cut itself may be torn.
                    (keep, node.pending.get(keep).is_some_and(|p| p.0 == cut))
                }
                None => (rng.keep(node.pending.len()), true),
            };
            (id, survivor(node, keep, tear, opts, rng))
        })
        .collect();
    Image { names, inodes }
}

/// One file after the cut: durable bytes, the first `keep` queued operations, then
/// (`tear`) the next write torn as `opts.tear` says, then possibly zeros up to the
/// length the lost operations gave it.
fn survivor(node: &Inode, keep: usize, tear: bool, opts: &CrashOptions, rng: &mut Rng) -> Vec<u8> {
    let mut data = node.durable.clone();
    for (_, op) in &node.pending[..keep] {
        op.apply(&mut data);
    }
    if let Some((_, Pending::Write { offset, bytes })) = node.pending.get(keep).filter(|_| tear) {
        let torn = torn_len(*offset, bytes.len() as u64, opts.tear, rng);
        write_at(&mut data, *offset, &bytes[..torn as usize]);
    }
    if opts.zeroed_loss && keep < node.pending.len() && rng.below(2) == 0 {
        let full = node.live.len();
        if full > data.len() {
            let len = data.len() + rng.below((full - data.len()) as u64 + 1) as usize;
            data.resize(len, 0);
        }
    }
    data
}

/// How many bytes of a write of `len` bytes at `offset` a tear keeps (less than `len`).
fn torn_len(offset: u64, len: u64, tear: Tear, rng: &mut Rng) -> u64 {
    match tear {
        Tear::Whole => 0,
        Tear::Byte => rng.below(len),
        Tear::Sector(size) => {
            // The sector boundaries strictly inside the write.
            let first = (offset / size + 1) * size;
            let inside = if first >= offset + len {
                0
            } else {
                (offset + len - 1 - first) / size + 1
            };
            let pick = rng.below(inside + 1);
            if pick == 0 {
                0
            } else {
                first + (pick - 1) * size - offset
            }
        }
    }
}
