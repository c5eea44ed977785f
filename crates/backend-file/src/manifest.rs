//! The merge manifest: the single commit point of a merge.
//!
//! Layout: magic `KVMERGE1`, `u32` output count, `u32` input count, the output file ids
//! (`u64` each), the input file ids, then a CRC-32C of every byte before it. It is
//! written as `MERGE.tmp`, fsynced, renamed to `MERGE` and the directory fsynced: once
//! `MERGE` exists the merge is committed and open finishes it; before, open discards
//! the merge's temporary files.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::files::{
    MANIFEST_NAME, data_name, hint_name, path, remove_if_exists, sync_dir, tmp_name,
};
use crate::format::{u32_at, u64_at};

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
    pub fn commit(&self, dir: &Path) -> io::Result<()> {
        let tmp = path(dir, &tmp_name(MANIFEST_NAME));
        let mut f = crate::files::create_rw(&tmp)?;
        f.write_all(&self.encode())?;
        f.sync_all()?;
        fs::rename(&tmp, path(dir, MANIFEST_NAME))?;
        sync_dir(dir)
    }

    /// Reads `MERGE`; `Ok(None)` if absent, `Err(why)` if damaged.
    pub fn read(dir: &Path) -> io::Result<Option<Result<Manifest, String>>> {
        let p = path(dir, MANIFEST_NAME);
        let len = match fs::metadata(&p) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !(20..=MAX_MANIFEST_LEN).contains(&len) {
            return Ok(Some(Err(format!("manifest is {len} bytes"))));
        }
        let b = fs::read(&p)?;
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
    pub fn finish(&self, dir: &Path) -> io::Result<Result<(), String>> {
        for &id in &self.outputs {
            for name in [data_name(id), hint_name(id)] {
                let tmp = path(dir, &tmp_name(&name));
                if tmp.exists() {
                    fs::rename(&tmp, path(dir, &name))?;
                }
            }
            if !path(dir, &data_name(id)).exists() {
                return Ok(Err(format!("merge output {} is missing", data_name(id))));
            }
        }
        sync_dir(dir)?;
        for &id in &self.inputs {
            remove_if_exists(&path(dir, &data_name(id)))?;
            remove_if_exists(&path(dir, &hint_name(id)))?;
        }
        sync_dir(dir)?;
        remove_if_exists(&path(dir, MANIFEST_NAME))?;
        sync_dir(dir)?;
        Ok(Ok(()))
    }
}
