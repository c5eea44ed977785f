//! Timeout: a deadline per call and per scan item, answered as `Error::Timeout`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use backend_api::{Error, Result, StorageBackend, Stream, WatchStream};
use tokio::time::{Instant, Sleep};

use crate::around::{Around, Layered, Run};
use crate::layer::Layer;
use crate::op::{BoxFut, Call, Op, Reply, ScanItem, ScanStream};

/// Gives every call a deadline; a call that misses it is dropped (cancelled) and answers
/// [`Error::Timeout`] `{ operation, after }`, whose effect is unknown.
///
/// The deadline is per attempt and starts when the call reaches this layer, so inside a
/// [`RetryLayer`](crate::RetryLayer) each attempt gets its own (the default order). A scan
/// gets the per-call deadline to open and then `scan_item` (default: the same duration)
/// between consecutive items: a stream that stalls longer yields one
/// `Err(Timeout { operation: "scan", .. })` and ends. A watch gets a deadline to open
/// only; waiting for events is what a watch is for. The timer exists only while a call or
/// an item is awaited, never for a stream's lifetime.
///
/// Applied twice, both deadlines apply: the shorter wins.
#[derive(Clone, Debug)]
pub struct TimeoutLayer {
    inner: Arc<Timeouts>,
}

#[derive(Clone, Debug)]
struct Timeouts {
    per_op: [Duration; Op::COUNT],
    scan_item: Duration,
}

impl TimeoutLayer {
    /// `after` for every call and every scan item.
    pub fn new(after: Duration) -> Self {
        TimeoutLayer {
            inner: Arc::new(Timeouts {
                per_op: [after; Op::COUNT],
                scan_item: after,
            }),
        }
    }

    /// `after` for calls of `op` (e.g. a longer one for `Op::Compact` or `Op::Flush`).
    pub fn for_op(mut self, op: Op, after: Duration) -> Self {
        Arc::make_mut(&mut self.inner).per_op[op.index()] = after;
        self
    }

    /// `after` between two items of a scan.
    pub fn scan_item(mut self, after: Duration) -> Self {
        Arc::make_mut(&mut self.inner).scan_item = after;
        self
    }

    /// The deadline of `op`.
    pub fn duration(&self, op: Op) -> Duration {
        self.inner.per_op[op.index()]
    }
}

impl Layer for TimeoutLayer {
    fn layer(&self, inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
        Arc::new(Layered::new(inner, self.inner.clone()))
    }
}

/// Awaits `fut` for at most `after`.
async fn within<T>(op: Op, after: Duration, fut: BoxFut<'_, T>) -> Result<T> {
    match tokio::time::timeout(after, fut).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            operation: op.name(),
            after,
        }),
    }
}

impl Around for Timeouts {
    fn call<'a, T: Reply, R: Run<'a, T>>(&'a self, call: Call<'a>, run: R) -> BoxFut<'a, T> {
        let after = self.per_op[call.op.index()];
        Box::pin(within(call.op, after, run.run()))
    }

    fn scan<'a, I: ScanItem, R: Run<'a, ScanStream<I>>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, ScanStream<I>> {
        let after = self.per_op[call.op.index()];
        let item = self.scan_item;
        Box::pin(async move {
            let stream = within(call.op, after, run.run()).await?;
            Ok(Box::pin(ItemTimeout::new(stream, call.op, item)) as ScanStream<I>)
        })
    }

    fn watch<'a, R: Run<'a, WatchStream>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, WatchStream> {
        let after = self.per_op[call.op.index()];
        Box::pin(within(call.op, after, run.run()))
    }
}

/// A scan whose every item must arrive within `after` of asking for it.
struct ItemTimeout<I> {
    inner: ScanStream<I>,
    /// `Scan` or `ScanEntries`, for the error.
    op: Op,
    after: Duration,
    /// Armed while an item is awaited; `None` between items.
    timer: Option<Pin<Box<Sleep>>>,
    done: bool,
}

impl<I> ItemTimeout<I> {
    fn new(inner: ScanStream<I>, op: Op, after: Duration) -> Self {
        ItemTimeout {
            inner,
            op,
            after,
            timer: None,
            done: false,
        }
    }
}

impl<I> Stream for ItemTimeout<I> {
    type Item = Result<I>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = this.inner.as_mut().poll_next(cx) {
            this.timer = None;
            this.done = item.is_none();
            return Poll::Ready(item);
        }
        let after = this.after;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + after)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.timer = None;
                this.done = true;
                Poll::Ready(Some(Err(Error::Timeout {
                    operation: this.op.name(),
                    after,
                })))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
