//! The merge manifest: the single commit point of a merge.
//!
//! Layout: magic `KVMERGE1`, `u32` output count, `u32` input count, the output file ids
//! (`u64` each), the input file ids, then a CRC-32C of every byte before it. It is
//! written as `MERGE.tmp`, fsynced, renamed to `MERGE` and the directory fsynced: once
//! `MERGE` exists the merge is committed and open finishes it; before, open discards
//! the merge's temporary files.

use backend_api::Result;

use crate::files::{Dir, MANIFEST_NAME, data_name, hint_name, tmp_name};
use crate::format::{u32_at, u64_at};
use crate::io::OpenMode;

const MAGIC: &[u8; 8] = b"KVMERGE1";
const MAX_MANIFEST_LEN: u64 = 8 << 20;

/// Which files a committed merge replaces with which.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The merge's new data files (each with a hint).
    pub outputs: Vec<u64>,
    /// The data files they replace.
    pub inputs: Vec<u64>,
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(20 + 8 * (self.outputs.len() + self.inputs.len()));
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&(self.outputs.len() as u32).to_le_bytes());
        b.extend_from_slice(&(self.inputs.len() as u32).to_le_bytes());
        for id in self.outputs.iter().chain(&self.inputs) {
            b.extend_from_slice(&id.to_le_bytes());
        }
        let crc = crc32c::crc32c(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Commits: writes `MERGE` durably (temp name, fsync, rename, directory fsync).
    pub fn commit(&self, dir: &Dir) -> Result<()> {
        dir.create_durably(MANIFEST_NAME, |f| f.write_all_at(&self.encode(), 0))
            .map(drop)
    }

    /// Reads `MERGE`; `Ok(None)` if absent, `Err(why)` if damaged.
    pub fn read(dir: &Dir) -> Result<Option<Result<Manifest, String>>> {
        if !dir.exists(MANIFEST_NAME)? {
            return Ok(None);
        }
        let file = dir.open(MANIFEST_NAME, OpenMode::Read)?;
        let len = file.len()?;
        if !(20..=MAX_MANIFEST_LEN).contains(&len) {
            return Ok(Some(Err(format!("manifest is {len} bytes"))));
        }
        let mut b = vec![0u8; len as usize];
        file.read_exact_at(&mut b, 0)?;
        if &b[0..8] != MAGIC {
            return Ok(Some(Err("bad manifest magic".into())));
        }
        let n_out = u32_at(&b, 8) as u64;
        let n_in = u32_at(&b, 12) as u64;
        if b.len() as u64 != 20 + 8 * (n_out + n_in) {
            return Ok(Some(
                Err("manifest length does not match its counts".into()),
            ));
        }
        let body = b.len() - 4;
        if crc32c::crc32c(&b[..body]) != u32_at(&b, body) {
            return Ok(Some(Err("manifest checksum mismatch".into())));
        }
        let ids: Vec<u64> = (0..(n_out + n_in) as usize)
            .map(|i| u64_at(&b, 16 + 8 * i))
            .collect();
        let (outputs, inputs) = ids.split_at(n_out as usize);
        Ok(Some(Ok(Manifest {
            outputs: outputs.to_vec(),
            inputs: inputs.to_vec(),
        })))
    }

    /// Finishes a committed merge: renames the outputs into place, deletes the inputs,
    /// removes the manifest. Idempotent, so a crash at any step is finished next time.
    /// `Err(why)` inside: an output is missing (the directory is not what the manifest
    /// promised).
    pub fn finish(&self, dir: &Dir) -> Result<Result<(), String>> {
        for &id in &self.outputs {
            for name in [data_name(id), hint_name(id)] {
                let tmp = tmp_name(&name);
                if dir.exists(&tmp)? {
                    dir.rename(&tmp, &name)?;
                }
            }
            if !dir.exists(&data_name(id))? {
                return Ok(Err(format!("merge output {} is missing", data_name(id))));
            }
        }
        dir.sync()?;
        for &id in &self.inputs {
            dir.remove_if_exists(&data_name(id))?;
            dir.remove_if_exists(&hint_name(id))?;
        }
        dir.sync()?;
        dir.remove_if_exists(MANIFEST_NAME)?;
        dir.sync()?;
        Ok(Ok(()))
    }
}
