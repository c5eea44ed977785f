//! The scan stream: a cursor that finds its next key under the lock on every poll.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use backend_api::{Bytes, Partition, Result, ScanRange, Stream};

use crate::store::{Partitions, lock};

/// A lazy scan: remembers the last key it yielded and finds the next one per poll.
pub(crate) struct Cursor {
    partitions: Arc<Mutex<Partitions>>,
    partition: Partition,
    part_id: u64,
    range: ScanRange,
    last: Option<Bytes>,
    left: usize,
}

impl Cursor {
    /// A scan of `range` over the partition created as `part_id`.
    pub(crate) fn new(
        partitions: Arc<Mutex<Partitions>>,
        partition: Partition,
        part_id: u64,
        range: ScanRange,
    ) -> Self {
        Cursor {
            partitions,
            partition,
            part_id,
            last: None,
            left: if range.is_empty() {
                0
            } else {
                range.limit.unwrap_or(usize::MAX)
            },
            range,
        }
    }

    fn advance(&mut self) -> Option<(Bytes, Bytes)> {
        let partitions = lock(&self.partitions);
        // A partition dropped mid-scan (even if created again since) ends the scan.
        let pairs = &partitions
            .get(&self.partition)
            .filter(|part| part.id == self.part_id)?
            .pairs;
        let position = |key: &[u8]| pairs.partition_point(|(k, _)| &k[..] < key);
        let index = if self.range.reverse {
            let end = match (&self.last, self.range.upper()) {
                (Some(last), _) => position(last),
                (None, Some(upper)) => position(&upper),
                (None, None) => pairs.len(),
            };
            end.checked_sub(1)?
        } else {
            match (&self.last, self.range.lower()) {
                (Some(last), _) => pairs.partition_point(|(k, _)| k <= last),
                (None, Some(lower)) => position(&lower),
                (None, None) => 0,
            }
        };
        let (key, value) = pairs.get(index)?;
        if !self.range.contains(key) {
            return None;
        }
        let value = if self.range.keys_only {
            Bytes::new()
        } else {
            value.clone()
        };
        Some((key.clone(), value))
    }
}

impl Stream for Cursor {
    type Item = Result<(Bytes, Bytes)>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let next = self.advance();
        match next {
            Some((key, value)) => {
                self.left -= 1;
                self.last = Some(key.clone());
                Poll::Ready(Some(Ok((key, value))))
            }
            None => {
                self.left = 0;
                Poll::Ready(None)
            }
        }
    }
}
