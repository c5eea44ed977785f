//! Raw sled 0.34 with backend-sled's default settings (256 MiB cache, flush every
//! 500 ms), one tree, plain values (no TTL header),
//! values handed out without a copy (a `Bytes` owning sled's `IVec`, as backend-sled does).

use bytes::Bytes;

use crate::subject::{Spec, Subject, consume};

/// A sled tree; durable mode calls `flush()` after every write.
pub struct RawSled {
    db: sled::Db,
    tree: sled::Tree,
    durable: bool,
}

impl RawSled {
    fn after_write(&self) {
        if self.durable {
            self.tree.flush().expect("flush");
        }
    }
}

impl Subject for RawSled {
    async fn open(spec: &Spec) -> Self {
        let dir = spec.dir.as_deref().expect("raw_sled needs Spec::dir");
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(256 << 20)
            .flush_every_ms(Some(500))
            .open()
            .expect("open raw sled");
        let tree = db.open_tree("bench").expect("tree");
        RawSled {
            db,
            tree,
            durable: spec.durable,
        }
    }

    fn name(&self) -> &'static str {
        "raw_sled"
    }

    async fn get(&self, key: &[u8]) -> Option<Bytes> {
        // Zero-copy, as backend-sled hands values out: the `Bytes` owns sled's `IVec`.
        self.tree.get(key).expect("get").map(Bytes::from_owner)
    }

    async fn put(&self, key: &[u8], value: &[u8]) {
        self.tree.insert(key, value).expect("insert");
        self.after_write();
    }

    async fn get_many(&self, keys: &[Bytes]) -> usize {
        consume(
            keys.iter()
                .filter_map(|k| self.tree.get(k).expect("get"))
                .map(Bytes::from_owner),
        )
    }

    async fn scan(&self, start: &[u8], end: &[u8], limit: usize, reverse: bool) -> usize {
        let range = self.tree.range(start..end);
        let visit = |item: sled::Result<(sled::IVec, sled::IVec)>| {
            let (k, v) = item.expect("scan item");
            (Bytes::from_owner(k), Bytes::from_owner(v))
        };
        if reverse {
            consume(range.rev().take(limit).map(visit))
        } else {
            consume(range.take(limit).map(visit))
        }
    }

    async fn batch(&self, pairs: &[(Bytes, Bytes)]) {
        let mut batch = sled::Batch::default();
        for (k, v) in pairs {
            batch.insert(&k[..], &v[..]);
        }
        self.tree.apply_batch(batch).expect("apply_batch");
        self.after_write();
    }

    async fn cas(&self, key: &[u8], expected: Option<&[u8]>, new: &[u8]) -> bool {
        let swapped = self
            .tree
            .compare_and_swap(key, expected, Some(new))
            .expect("compare_and_swap")
            .is_ok();
        if swapped {
            self.after_write();
        }
        swapped
    }

    async fn conditional_batch(
        &self,
        checks: &[(Bytes, Bytes)],
        writes: &[(Bytes, Bytes)],
    ) -> bool {
        use sled::transaction::{ConflictableTransactionError, TransactionError};
        let applied = self.tree.transaction(|tx| {
            for (k, v) in checks {
                if tx.get(&k[..])?.as_deref() != Some(&v[..]) {
                    return Err(ConflictableTransactionError::Abort(()));
                }
            }
            for (k, v) in writes {
                tx.insert(&k[..], &v[..])?;
            }
            Ok(())
        });
        match applied {
            Ok(()) => {
                self.after_write();
                true
            }
            Err(TransactionError::Abort(())) => false,
            Err(TransactionError::Storage(e)) => panic!("sled transaction: {e}"),
        }
    }

    async fn delete_range(&self, start: &[u8], end: &[u8]) {
        let mut batch = sled::Batch::default();
        for item in self.tree.range(start..end) {
            let (k, _) = item.expect("range item");
            batch.remove(k);
        }
        self.tree.apply_batch(batch).expect("apply_batch");
        self.after_write();
    }

    async fn close(&self) {
        self.db.flush().expect("flush");
    }
}
