//! Tracing: one span per call through the `tracing` crate; scans and watches keep
//! theirs open until the stream ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use backend_api::{Result, StorageBackend, Stream, WatchStream};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::around::{Around, Layered, Run};
use crate::layer::Layer;
use crate::op::{BoxFut, Call, Reply, ScanItem, ScanStream, error_kind};

/// Opens one `DEBUG` span named `kv` per call, with fields `backend`, `operation`,
/// `partition`, `key_len` and, once the call ends, `outcome` (`ok` or the error's kind,
/// [`error_kind`](crate::error_kind)). The key itself is never recorded.
///
/// A scan's or a watch's span stays open while its stream is read: each poll runs inside
/// it, and when the stream ends (or is dropped) the span records `items` (pairs or
/// events yielded) and `outcome` (`ok`, the error's kind, or `dropped` when the caller
/// stopped early), then closes. With no subscriber, or one that does not want `DEBUG`
/// spans of this crate, a call costs a few ns. Applied twice, calls get two nested spans.
#[derive(Clone, Debug, Default)]
pub struct TracingLayer {
    _private: (),
}

impl TracingLayer {
    /// Spans for every call.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Layer for TracingLayer {
    fn layer(&self, inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
        Arc::new(Layered::new(inner, Arc::new(Tracer)))
    }
}

struct Tracer;

fn span(call: &Call<'_>) -> Span {
    let span = tracing::debug_span!(
        "kv",
        backend = call.backend,
        operation = call.op.name(),
        partition = Empty,
        key_len = call.key_len,
        items = Empty,
        outcome = Empty,
    );
    if let Some(p) = call.partition
        && !span.is_disabled()
    {
        span.record("partition", p.name());
    }
    span
}

fn record_outcome<T>(span: &Span, result: &Result<T>) {
    if !span.is_disabled() {
        let outcome = match result {
            Ok(_) => "ok",
            Err(error) => error_kind(error),
        };
        span.record("outcome", outcome);
    }
}

async fn traced<'a, T, R: Run<'a, T>>(span: Span, run: R) -> Result<T> {
    let result = run.run().instrument(span.clone()).await;
    record_outcome(&span, &result);
    result
}

impl Around for Tracer {
    fn call<'a, T: Reply, R: Run<'a, T>>(&'a self, call: Call<'a>, run: R) -> BoxFut<'a, T> {
        let span = span(&call);
        if span.is_disabled() {
            // Nobody listens: hand back the inner call's future, no wrapper at all.
            return run.run();
        }
        Box::pin(traced(span, run))
    }

    fn scan<'a, I: ScanItem, R: Run<'a, ScanStream<I>>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, ScanStream<I>> {
        let span = span(&call);
        if span.is_disabled() {
            return run.run();
        }
        Box::pin(async move {
            let stream = traced(span.clone(), run).await?;
            Ok(Box::pin(Traced::new(stream, span)) as ScanStream<I>)
        })
    }

    fn watch<'a, R: Run<'a, WatchStream>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, WatchStream> {
        let span = span(&call);
        if span.is_disabled() {
            return run.run();
        }
        Box::pin(async move {
            let stream = traced(span.clone(), run).await?;
            Ok(Box::pin(Traced::new(stream, span)) as WatchStream)
        })
    }
}

/// A stream polled inside its call's span, which it closes when it ends or is dropped.
struct Traced<S> {
    inner: S,
    span: Span,
    items: u64,
    done: bool,
}

impl<S> Traced<S> {
    fn new(inner: S, span: Span) -> Self {
        Traced {
            inner,
            span,
            items: 0,
            done: false,
        }
    }

    fn finish(&mut self, outcome: &'static str) {
        self.done = true;
        if !self.span.is_disabled() {
            self.span.record("items", self.items);
            self.span.record("outcome", outcome);
        }
    }
}

impl<S, T> Stream for Traced<S>
where
    S: Stream<Item = Result<T>> + Unpin,
{
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let poll = {
            let _entered = this.span.enter();
            Pin::new(&mut this.inner).poll_next(cx)
        };
        match &poll {
            Poll::Ready(Some(Ok(_))) => this.items += 1,
            Poll::Ready(Some(Err(error))) => this.finish(error_kind(error)),
            Poll::Ready(None) if !this.done => this.finish("ok"),
            _ => {}
        }
        poll
    }
}

impl<S> Drop for Traced<S> {
    fn drop(&mut self) {
        if !self.done {
            self.finish("dropped");
        }
    }
}
